/* cmd_run.c — `optout run`: the whole pipeline on one machine, with the fleet's own programs.
 *
 * Starts one optout-broker and N optout-worker processes (the programs a fleet runs, found next to
 * this executable), restarts a worker that dies, shows progress (asking the broker for its status
 * once a second), and stops everything it started when the broker finishes, dies, or the user
 * interrupts. Running it again on the same directory resumes; on a complete run it changes nothing
 * and exits 0. The exit status is the broker's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "progress.h"
#include "optout/config.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/memory.h"
#include "optout/msg.h"
#include "optout/rundir.h"
#include "optout/util.h"

#define MAX_WORKERS 256

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static const optout_program_spec RUN_SPEC = {
    .program = OPTOUT_PROG_RUN,
    .section = "run",
    .usage = "usage: optout run --corpus PATH|GLOB... --out DIR [--robots-dir DIR | fetch options] [options]\n",
    .about =
        "Runs every stage with a broker and N workers (default: one per core): rank the hosts (with\n"
        "--top-en/--top-intl; without them and without --hosts every host of the corpus is listed),\n"
        "fetch their robots.txt into DIR/robots/ (unless --robots-dir gives a snapshot), with\n"
        "--cc-robots or --cc-crawls keep Common Crawl's captures of their past robots.txt in\n"
        "DIR/history/ (docs/history.md), filter every input into DIR/shards/ (DIR/removed/ with\n"
        "--removed), and write DIR/report.json and report.md. A glob the shell expanded is several\n"
        "paths after one --corpus; quoted, optout expands it itself ('**' included, and no limit on\n"
        "the command line's length). Rerunning resumes; a complete run is left as it is.\n"
        "--stop-after rank|fetch|history|wayback is a dry run: it prints how many hosts would be fetched\n"
        "(and, after fetch, which agents they block and what history would read) and stops before\n"
        "any shard is written; the same command without it goes on from there. --output tags decides\n"
        "and counts as usual (same report) but rewrites no shard: DIR/tags/<name> lists the removed\n"
        "documents' ids and agents, for optout apply-tags.\n"
        "Robots.txt as it was (docs/history.md): --cc-robots / --cc-crawls add a history stage that\n"
        "builds DIR/history/ (or --history DIR gives an archive; capture files over HTTP(S) are\n"
        "downloaded --download-slots at a time by all the workers together, through the slot files of\n"
        "DIR/download-slots/); the filter then judges every document under current, crawl,\n"
        "cutoff:YYYY-MM-DD and strictest, --robots-time chooses the one that decides, and the report\n"
        "gains by_policy and DIR/policy-by-crawl.svg. A historical policy first\n"
        "surveys the corpus (DIR/survey.tsv: documents and tokens per host and crawl; --stop-after\n"
        "survey stops there and says what history would read; --cc-crawls auto reads its crawls).\n"
        "One run at a time on a directory: a second optout run (or broker) on it is refused before it\n"
        "changes anything. Exit status: the broker's (0 complete, 1 some task failed or runtime error),\n"
        "2 usage error, 130 interrupted by SIGINT (rerun the same command to resume).\n",
};

/* The broker's arguments as collected: [0] is the program's path (not allocated), the rest strdup'd. */
static void free_args(char **args, size_t n) {
    for (size_t i = 1; i < n; i++) free(args[i]);
    free(args);
}

static pid_t spawn(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_IGN); /* the run forwards interrupts itself, in order */
        execvp(argv[0], argv);
        fprintf(stderr, "optout: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return OPTOUT_EXIT_FAILURE;
}

/* Stops processes: SIGTERM, then SIGKILL after `grace_ms`. */
static void stop_all(pid_t *pids, size_t n, long grace_ms) {
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 0) kill(pids[i], SIGTERM);
    for (long waited = 0; waited <= grace_ms; waited += 10) {
        int left = 0;
        for (size_t i = 0; i < n; i++) {
            if (pids[i] <= 0) continue;
            if (waitpid(pids[i], NULL, WNOHANG) == pids[i]) pids[i] = 0;
            else left = 1;
        }
        if (!left) return;
        optout_sleep_ms(10);
    }
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
}

/* 1 when `program` is an executable on PATH. */
static int on_path(const char *program) {
    const char *path = getenv("PATH");
    char candidate[PATH_MAX];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, p, program);
        if (access(candidate, X_OK) == 0) return 1;
        p += n + (end ? 1 : 0);
    }
    return 0;
}

/* Starts the run's private redis-server on DIR/redis.sock and waits until it listens. */
static pid_t start_redis(const char *dir, const char *sock) {
    char *argv[] = {"redis-server", "--port", "0", "--unixsocket", (char *)sock, "--unixsocketperm", "700",
                    "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", (char *)dir,
                    "--logfile", "redis.log", "--daemonize", "no", NULL};
    unlink(sock);
    pid_t pid = spawn(argv);
    struct stat st;
    for (int i = 0; pid > 0 && i < 100 && stat(sock, &st) != 0; i++) optout_sleep_ms(50);
    if (pid > 0 && stat(sock, &st) != 0) {
        optout_log(LOG_ERR, "redis-server did not start (see %s/redis.log)", dir);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* One invocation: what it was given, what it started. */
struct run {
    char self[PATH_MAX], broker_bin[PATH_MAX + 32], worker_bin[PATH_MAX + 32];
    char dir[PATH_MAX], endpoint[PATH_MAX + 32], redis_sock[PATH_MAX + 32];
    char **bargs; /* the broker's argv: [0] broker_bin, then strdup'd */
    size_t nb;
    long workers;
    const char *max_memory, *stop_after;
    char download_slots[24]; /* --download-slots, handed to every worker */
    pid_t pids[1 + MAX_WORKERS]; /* [0] the broker */
    pid_t redis;
    size_t restarts;
    int workers_started;
    uint64_t input_bytes; /* the inputs' total size: the progress display's MB/s */
    progress *progress;
};

/* The options (options.h): the broker's are handed to it as given, in order; --out, --workers and
 * --max-memory are this command's. Returns -1 to go on, else the exit status. */
static int run_parse(struct run *r, int argc, char **argv, optout_option_values *v) {
    int rc = optout_options_parse(&RUN_SPEC, argc, argv, v);
    if (rc >= 0) return rc;
    if (!v->text[OPTOUT_OPT_RUN_OUT] || !v->given[OPTOUT_OPT_CORPUS]) {
        optout_log(LOG_ERR, "run: --corpus and --out are required");
        optout_options_usage(&RUN_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    /* the inputs are expanded here too, in this command's name, so that a pattern that matches
     * nothing is refused before the run directory or its Redis exist (the broker expands them again:
     * its plan is the one kept) */
    optout_inputs inputs;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    if (optout_inputs_expand(v->list[OPTOUT_OPT_CORPUS], v->count[OPTOUT_OPT_CORPUS], &inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "run: --corpus: %s", err);
        return OPTOUT_EXIT_USAGE;
    }
    for (size_t i = 0; i < inputs.count; i++) r->input_bytes += inputs.items[i].size;
    optout_inputs_free(&inputs);
    r->workers = v->given[OPTOUT_OPT_WORKERS] ? (long)v->num[OPTOUT_OPT_WORKERS] : sysconf(_SC_NPROCESSORS_ONLN);
    if (r->workers < 1) r->workers = 1;
    if (r->workers > MAX_WORKERS) r->workers = MAX_WORKERS;
    r->max_memory = v->text[OPTOUT_OPT_MAX_MEMORY];
    r->stop_after = v->text[OPTOUT_OPT_STOP_AFTER];
    snprintf(r->download_slots, sizeof r->download_slots, "%llu", (unsigned long long)v->num[OPTOUT_OPT_DOWNLOAD_SLOTS]);
    if (!(r->bargs = calloc(2 * v->order_count + 8, sizeof *r->bargs))) return OPTOUT_EXIT_FAILURE;
    r->nb = 1;
    for (size_t i = 0; i < v->order_count; i++) {
        const optout_option *o = optout_option_row(v->order[i].id);
        if (!(o->programs & OPTOUT_PROG_BROKER)) continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        if (!(r->bargs[r->nb++] = strdup(flag)) || (v->order[i].text && !(r->bargs[r->nb++] = strdup(v->order[i].text))))
            return OPTOUT_EXIT_FAILURE;
    }
    return -1;
}

/* The run directory's lock for `optout run`, taken before anything in DIR is touched: a second run
 * on a busy directory (or two started at once) must not remove the first one's sockets. DIR/run.lock
 * holds the run's pid; a broker started alone holds DIR/broker.lock (rundir.h), which is only tried
 * here and released just before our own broker takes it. Returns the run.lock descriptor (kept open
 * until exit), or -1 after a message. */
static int run_lock(const char *dir) {
    char path[PATH_MAX + 32], holder[32] = "";
    snprintf(path, sizeof path, "%s/run.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        optout_log(LOG_ERR, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        optout_log(LOG_ERR, "run directory %s is in use by another optout run (pid %s): nothing was changed", dir,
                   holder[0] ? holder : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        optout_log(LOG_ERR, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(path, sizeof path, "%s/broker.lock", dir);
    int bfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (bfd >= 0) {
        int busy = flock(bfd, LOCK_SH | LOCK_NB) != 0;
        close(bfd); /* a shared lock, let go at once: our broker takes it exclusively */
        if (busy) {
            optout_log(LOG_ERR, "run directory %s is in use by a broker (%s is locked): nothing was changed", dir,
                       path);
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* The broker's own checks of the options together (--stop-after with --robots-dir...), run before
 * the run directory exists: `optout-broker ... --check-only` says what is wrong, and its lines are
 * said again in this command's name. -1 to go on, else the exit status. */
static int run_check(struct run *r, const char *out) {
    char **argv = calloc(r->nb + 4, sizeof *argv);
    int fds[2];
    if (!argv || pipe2(fds, O_CLOEXEC) != 0) {
        free(argv);
        optout_log(LOG_ERR, "run: %s", strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    memcpy(argv, r->bargs, r->nb * sizeof *argv);
    argv[0] = r->broker_bin;
    argv[r->nb] = "--dir", argv[r->nb + 1] = (char *)out, argv[r->nb + 2] = "--check-only";
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        setenv("OPTOUT_CONFIG", "", 1); /* everything is on its command line */
        execv(argv[0], argv);
        fprintf(stderr, "optout-broker: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(OPTOUT_EXIT_FAILURE);
    }
    close(fds[1]);
    free(argv);
    char said[8192];
    size_t n = 0;
    ssize_t got;
    while (pid > 0 && (got = read(fds[0], said + n, sizeof said - 1 - n)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 || (n += (size_t)got) == sizeof said - 1) break;
    }
    close(fds[0]);
    said[n] = '\0';
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        optout_log(LOG_ERR, "run: checking the options with %s: %s", r->broker_bin, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    int rc = exit_code_of(status);
    if (rc == OPTOUT_EXIT_OK) return -1;
    static const char prefix[] = "optout-broker: ";
    for (char *line = strtok(said, "\n"); line; line = strtok(NULL, "\n"))
        optout_log(LOG_ERR, "run: %s", strncmp(line, prefix, sizeof prefix - 1) == 0 ? line + sizeof prefix - 1 : line);
    return rc;
}

/* Finds the programs, checks the options with the broker, creates and locks the run directory,
 * starts the run's Redis. Returns -1 to go on, else the exit status. */
static int run_prepare(struct run *r, const char *out, int *lock_fd) {
    ssize_t n = readlink("/proc/self/exe", r->self, sizeof r->self - 1);
    if (n <= 0) {
        optout_log(LOG_ERR, "cannot find my own executable: %s", strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    r->self[n] = '\0';
    *strrchr(r->self, '/') = '\0';
    snprintf(r->broker_bin, sizeof r->broker_bin, "%s/optout-broker", r->self);
    snprintf(r->worker_bin, sizeof r->worker_bin, "%s/optout-worker", r->self);
    int checked = run_check(r, out);
    if (checked >= 0) return checked;
    if (optout_make_parent_dirs(out) != 0 || (mkdir(out, 0777) != 0 && errno != EEXIST) || !realpath(out, r->dir)) {
        optout_log(LOG_ERR, "run directory %s: %s", out, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    if ((*lock_fd = run_lock(r->dir)) < 0) return OPTOUT_EXIT_FAILURE;
    snprintf(r->endpoint, sizeof r->endpoint, "ipc://%s/broker.sock", r->dir);
    r->bargs[0] = r->broker_bin;
    if (!(r->bargs[r->nb++] = strdup("--dir")) || !(r->bargs[r->nb++] = strdup(r->dir))) return OPTOUT_EXIT_FAILURE;
    /* verdicts go through a private Redis, as in a fleet; without redis-server, straight from the
     * robots directory */
    snprintf(r->redis_sock, sizeof r->redis_sock, "%s/redis.sock", r->dir);
    if (on_path("redis-server")) {
        char redis_endpoint[PATH_MAX + 40];
        snprintf(redis_endpoint, sizeof redis_endpoint, "unix:%s", r->redis_sock);
        if ((r->redis = start_redis(r->dir, r->redis_sock)) < 0) return OPTOUT_EXIT_FAILURE;
        if (!(r->bargs[r->nb++] = strdup("--redis")) || !(r->bargs[r->nb++] = strdup(redis_endpoint)))
            return OPTOUT_EXIT_FAILURE;
    } else {
        optout_log(LOG_WARNING, "redis-server not found (deploy/deps.sh installs it): workers read the robots "
                                "directory directly");
    }
    r->bargs[r->nb] = NULL;
    return -1;
}

/* Starts the broker and the workers, restarts what dies, shows progress, until the broker ends or
 * a signal comes. The broker's exit status, or -1 when interrupted. */
static int run_supervise(struct run *r) {
    char sock_path[PATH_MAX + 32];
    snprintf(sock_path, sizeof sock_path, "%s/broker.sock", r->dir);
    unlink(sock_path); /* a stale socket of a dead broker would look like a live one */
    if ((r->pids[0] = spawn(r->bargs)) < 0) {
        optout_log(LOG_ERR, "fork: %s", strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    char name[64];
    /* --exit-when-done: a worker leaves when the broker says the run is complete */
    /* the workers share one set of download slots: the node's bound holds whatever their number */
    char slots_dir[PATH_MAX + 32];
    snprintf(slots_dir, sizeof slots_dir, "%s/download-slots", r->dir);
    char *wargs[] = {r->worker_bin, "--connect", r->endpoint, "--root", "fs=/", "--name", name, "--exit-when-done",
                     "--download-dir", slots_dir, "--download-slots", r->download_slots, NULL, NULL, NULL};
    if (r->max_memory) wargs[12] = "--max-memory", wargs[13] = (char *)r->max_memory;
    int rc = -1;
    long long last_status = 0;
    void *zctx = zmq_ctx_new(), *status_sock = cli_status_socket(zctx);
    if (status_sock) zmq_connect(status_sock, r->endpoint); /* ZeroMQ connects before the broker binds */
    long long spawned = optout_now_ms();
    while (!interrupted) {
        int status;
        if (waitpid(r->pids[0], &status, WNOHANG) == r->pids[0]) {
            r->pids[0] = 0;
            rc = exit_code_of(status);
            break;
        }
        if (!r->workers_started) {
            /* the workers start once the broker has answered a first status (its stages, none
             * begun): the display then sees every stage, however fast the run (5 s at most) */
            char first[2048];
            int answered = status_sock && cli_broker_status(status_sock, 100, first, sizeof first) == 0;
            if (answered && r->progress) progress_update(r->progress, first);
            if (!answered && status_sock && optout_now_ms() - spawned < 5000) continue;
            for (long w = 1; w <= r->workers; w++) {
                snprintf(name, sizeof name, "%s-%ld", "local", w);
                r->pids[w] = spawn(wargs);
            }
            r->workers_started = 1;
            last_status = optout_now_ms();
        }
        if (r->redis > 0 && waitpid(r->redis, &status, WNOHANG) == r->redis) {
            optout_log(LOG_WARNING, "redis-server died; restarting it (the broker reloads it)");
            if ((r->redis = start_redis(r->dir, r->redis_sock)) < 0) break;
        }
        for (long w = 1; w <= r->workers; w++) {
            if (r->pids[w] > 0 && waitpid(r->pids[w], &status, WNOHANG) == r->pids[w]) {
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0) { /* told the run is complete */
                    r->pids[w] = 0;
                    continue;
                }
                optout_log(LOG_WARNING, "worker %ld (pid %d) %s %d; restarting it", w, (int)r->pids[w],
                           WIFSIGNALED(status) ? "killed by signal" : "exited with",
                           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                snprintf(name, sizeof name, "%s-%ld", "local", w);
                r->pids[w] = spawn(wargs);
                r->restarts++;
            }
        }
        /* four answers a second: a short stage is still seen, and a run of a second shows its lines */
        if (status_sock && optout_now_ms() - last_status >= 250) {
            last_status = optout_now_ms();
            char text[2048];
            if (cli_broker_status(status_sock, 300, text, sizeof text) == 0 && r->progress)
                progress_update(r->progress, text);
        }
        optout_sleep_ms(20);
    }
    if (status_sock) zmq_close(status_sock);
    if (zctx) zmq_ctx_term(zctx);
    return rc;
}

/* The progress name (the broker's status) of the last stage a --stop-after run runs. */
static const char *stopped_stage(const char *stop_after) {
    if (strcmp(stop_after, "survey") == 0) return "rank"; /* the rank maps survey */
    if (strcmp(stop_after, "rank") == 0) return "rank-reduce";
    return stop_after; /* fetch, history, wayback */
}

/* What the run gave: the dry run's answer on stdout, or the report's figures on stderr. */
static void run_summary(const struct run *r, int rc) {
    if (r->stop_after && rc == OPTOUT_EXIT_OK) {
        if (r->progress) progress_finish(r->progress, 1, stopped_stage(r->stop_after), 0, 0);
        char answer[PATH_MAX + 32];
        snprintf(answer, sizeof answer, "%s/dry-run.json", r->dir);
        size_t len;
        char *text = optout_read_file(answer, (size_t)1 << 20, &len);
        if (text) fputs(text, stdout);
        free(text);
        return;
    }
    char report[PATH_MAX + 32];
    snprintf(report, sizeof report, "%s/report.json", r->dir);
    size_t len;
    char *text = (rc == OPTOUT_EXIT_OK || rc == OPTOUT_EXIT_FAILURE) && access(report, R_OK) == 0
                     ? optout_read_file(report, (size_t)64 << 20, &len)
                     : NULL;
    if (r->progress)
        progress_finish(r->progress, rc == OPTOUT_EXIT_OK, NULL, text ? cli_json_u64(text, "docs_in") : 0,
                        text ? cli_json_u64(text, "docs_removed") : 0);
    if (!text) return;
    unsigned long long docs = cli_json_u64(text, "docs_in"), removed = cli_json_u64(text, "docs_removed"),
                       tokens = cli_json_u64(text, "tokens_in"), tremoved = cli_json_u64(text, "tokens_removed");
    const char *sample = strstr(text, "\"sample\": {");
    const char *all = sample ? strstr(sample, "\"all\": {") : NULL;
    if (all) { /* a sample: its estimates, not a corpus's figures */
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s/sample", r->dir);
        int shards = access(where, F_OK) == 0;
        fprintf(stderr,
                "optout: %s: a %.4g%% sample (%llu of %llu documents; %s): estimated token loss %.2f%% "
                "(95%% interval %.2f%%-%.2f%%), documents removed %.2f%% (%.2f%%-%.2f%%); report in %s%s\n",
                rc == OPTOUT_EXIT_OK ? "complete" : "finished with failed tasks",
                100 * cli_json_double(sample, "fraction"), docs, docs + cli_json_u64(sample, "docs_not_sampled"),
                shards ? "the sampled documents in sample/"
                       : "estimates only, no shard written (--sample-shards writes them)",
                100 * cli_json_double(all, "tokens_loss"), 100 * cli_json_double(all, "tokens_loss_low"),
                100 * cli_json_double(all, "tokens_loss_high"), 100 * cli_json_double(all, "docs_loss"),
                100 * cli_json_double(all, "docs_loss_low"), 100 * cli_json_double(all, "docs_loss_high"), report,
                r->restarts ? " (workers were restarted)" : "");
    } else {
        fprintf(stderr,
                "optout: %s: %llu of %llu documents removed (%.2f%%), %llu of %llu tokens (%.2f%%); report in %s%s\n",
                rc == OPTOUT_EXIT_OK ? "complete" : "finished with failed tasks", removed, docs,
                docs ? 100.0 * (double)removed / (double)docs : 0.0, tremoved, tokens,
                tokens ? 100.0 * (double)tremoved / (double)tokens : 0.0, report,
                r->restarts ? " (workers were restarted)" : "");
    }
    /* a fetching run: what its robots.txt fetches gave (report.json's "fetch" member) */
    const char *fetch = strstr(text, "\"fetch\": {");
    unsigned long long planned = fetch ? cli_json_u64(fetch, "hosts_planned") : 0;
    const char *by = fetch ? strstr(fetch, "\"hosts_by_outcome\": {") : NULL;
    if (planned && by)
        fprintf(stderr,
                "optout: robots.txt of %llu hosts: %llu ok, %llu unavailable, %llu unreachable, %llu no such host\n",
                planned, cli_json_u64(by, "ok"), cli_json_u64(by, "unavailable"), cli_json_u64(by, "unreachable"),
                cli_json_u64(by, "no_such_host"));
    /* agents no robots.txt of the snapshot names: likely typos (report.json config "agents_unnamed") */
    const char *unnamed = strstr(text, "\"agents_unnamed\": [");
    if (unnamed) {
        unnamed += strlen("\"agents_unnamed\": ");
        const char *end = strchr(unnamed, ']');
        if (end && end > unnamed + 1)
            fprintf(stderr, "optout: no robots.txt of the snapshot names the agents %.*s: misspelt? (such an agent is "
                            "decided by the * groups alone; report.md lists them)\n",
                    (int)(end - unnamed + 1), unnamed);
    }
    free(text);
}

int cmd_run(int argc, char **argv) {
    static struct run r; /* large (paths, pids): not on the stack */
    optout_option_values v;
    int lock_fd = -1;
    memset(&r, 0, sizeof r);
    int rc = run_parse(&r, argc, argv, &v);
    if (rc < 0) rc = run_prepare(&r, v.text[OPTOUT_OPT_RUN_OUT], &lock_fd);
    if (rc < 0) {
        /* the children say only what matters; the progress line says the rest */
        if (!getenv("OPTOUT_LOG_LEVEL")) setenv("OPTOUT_LOG_LEVEL", "warning", 1);
        setenv("OPTOUT_CONFIG", "", 1); /* they read no configuration file: they get everything from here */
        struct sigaction sa = {.sa_handler = on_signal};
        r.progress = progress_new(stderr, isatty(2), r.input_bytes);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = run_supervise(&r);
        stop_all(r.pids, (size_t)r.workers + 1, 5000);
        if (interrupted && r.progress) progress_finish(r.progress, 0, NULL, 0, 0);
        if (interrupted == SIGINT) {
            rc = OPTOUT_EXIT_INTERRUPTED;
            optout_log(LOG_ERR, "interrupted: rerun the same command to resume (what is done is kept)");
        } else if (interrupted) {
            rc = OPTOUT_EXIT_FAILURE;
            optout_log(LOG_ERR, "stopped by SIGTERM: rerun the same command to resume");
        } else if (rc < 0) {
            rc = OPTOUT_EXIT_FAILURE;
        } else {
            run_summary(&r, rc);
        }
    }
    progress_free(r.progress);
    if (r.redis > 0) stop_all(&r.redis, 1, 5000);
    if (lock_fd >= 0) close(lock_fd);
    if (r.bargs) free_args(r.bargs, r.nb);
    optout_options_free(&v);
    return rc;
}
