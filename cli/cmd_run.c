/* cmd_run.c — `optout run`: the whole pipeline on one machine, with the fleet's own programs.
 *
 * Starts one optout-broker and N optout-worker processes (the programs a fleet runs, found next to
 * this executable), restarts a worker that dies, shows progress (asking the broker for its status
 * once a second), and stops everything it started when the broker finishes, dies, or the user
 * interrupts. Running it again on the same directory resumes; on a complete run it changes nothing
 * and exits 0. The exit status is the broker's.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/log.h"
#include "optout/memory.h"
#include "optout/msg.h"
#include "optout/util.h"

#define MAX_WORKERS 256

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void run_usage(FILE *f) {
    fputs("usage: optout run --corpus PATH|GLOB... --out DIR [--robots-dir DIR | fetch options]\n"
          "                  [--workers N] [--mode rfc9309|protego] [--agents-file FILE] [--agent NAME]...\n"
          "                  [--removed] [--host-key canonical|netloc] [--unreachable keep|disallow]\n"
          "                  [--level N] [--keep-format] [--retries N] [--output shards|tags]\n"
          "fetch options: [--top-en N] [--top-intl N] [--metric tokens|bytes|docs] [--partitions P]\n"
          "               [--hosts FILE] [--fetch-tasks N] [--scheme auto|https|http] [--user-agent S]\n"
          "               [--concurrency N] [--timeout S] [--connect-timeout S] [--fetch-retries N]\n"
          "               [--connect-to HOST:PORT] [--allow-private] [--stop-after rank|fetch]\n"
          "workers: [--max-memory BYTES] (each worker's budget, docs/policy.md)\n"
          "policy: [--granularity url|host|domain] [--keep-hosts FILE] [--remove-hosts FILE] [--sample P]\n"
          "\n"
          "Runs every stage with a broker and N workers (default: one per core): rank the hosts (with\n"
          "--top-en/--top-intl; without them and without --hosts every host of the corpus is listed),\n"
          "fetch their robots.txt into DIR/robots/ (unless --robots-dir gives a snapshot), filter every\n"
          "input into DIR/shards/ (DIR/removed/ with --removed), and write DIR/report.json and\n"
          "report.md. Quote glob patterns: optout expands them itself ('**' included). Rerunning\n"
          "resumes; a complete run is left as it is. --stop-after rank|fetch is a dry run: it prints\n"
          "how many hosts would be fetched (and, after fetch, which agents they block) and stops before\n"
          "any shard is written; the same command without it goes on from there. --output tags decides\n"
          "and counts as usual (same report) but rewrites no shard: DIR/tags/<name> lists the removed\n"
          "documents' ids and agents, for optout apply-tags.\n",
          f);
}

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

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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
        sleep_ms(10);
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
    for (int i = 0; pid > 0 && i < 100 && stat(sock, &st) != 0; i++) sleep_ms(50);
    if (pid > 0 && stat(sock, &st) != 0) {
        optout_log(LOG_ERR, "redis-server did not start (see %s/redis.log)", dir);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static unsigned long long json_number(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *p = strstr(json, pattern);
    return p ? strtoull(p + strlen(pattern), NULL, 10) : 0;
}

/* One progress line for the running stage: its tasks, and documents once the filter runs. */
static void show_progress(const char *status, int tty, time_t started) {
    unsigned long long total = json_number(status, "total"), done = json_number(status, "done"),
                       failed = json_number(status, "failed"), docs = json_number(status, "docs_in"),
                       removed = json_number(status, "docs_removed"), workers = json_number(status, "workers"),
                       hosts = json_number(status, "hosts_fetched");
    char stage[32] = "filter";
    const char *p = strstr(status, "\"stage\": \"");
    if (p) sscanf(p + 10, "%31[a-z-]", stage);
    static char last_stage[32];
    static time_t stage_started;
    if (strcmp(stage, last_stage) != 0) { /* rates and ETA per stage */
        if (last_stage[0] && tty) fputc('\n', stderr);
        snprintf(last_stage, sizeof last_stage, "%s", stage);
        stage_started = time(NULL);
    }
    (void)started;
    double elapsed = difftime(time(NULL), stage_started);
    double rate = elapsed > 0 ? (double)(done + failed) / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done - failed) / rate : 0;
    int width = 30, filled = total ? (int)((done + failed) * (unsigned long long)width / total) : 0;
    char bar[64], detail[128] = "";
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    if (strcmp(stage, "filter") == 0)
        snprintf(detail, sizeof detail, ", %llu docs, %.1f%% removed", docs,
                 docs ? 100.0 * (double)removed / (double)docs : 0.0);
    else if (strcmp(stage, "fetch") == 0)
        snprintf(detail, sizeof detail, ", %llu hosts fetched", hosts);
    fprintf(stderr, "%s%-11s [%s] %llu/%llu tasks%s%s, %llu workers, %.1f tasks/s, ETA %.0fs%s", tty ? "\r" : "",
            stage, bar, done, total, failed ? " (some failed)" : "", detail, workers, rate, eta, tty ? "   " : "\n");
    fflush(stderr);
}

int cmd_run(int argc, char **argv) {
    enum { O_CORPUS = 256, O_OUT, O_ROBOTS, O_WORKERS, O_MODE, O_AGENTS_FILE, O_AGENT, O_REMOVED, O_HOSTKEY,
           O_UNREACHABLE, O_LEVEL, O_KEEP, O_RETRIES, O_PASS };
    static const struct option options[] = {
        {"corpus", required_argument, NULL, O_CORPUS},   {"out", required_argument, NULL, O_OUT},
        {"robots-dir", required_argument, NULL, O_ROBOTS}, {"workers", required_argument, NULL, O_WORKERS},
        {"mode", required_argument, NULL, O_MODE},       {"agents-file", required_argument, NULL, O_AGENTS_FILE},
        {"agent", required_argument, NULL, O_AGENT},     {"removed", no_argument, NULL, O_REMOVED},
        {"host-key", required_argument, NULL, O_HOSTKEY}, {"unreachable", required_argument, NULL, O_UNREACHABLE},
        {"level", required_argument, NULL, O_LEVEL},     {"keep-format", no_argument, NULL, O_KEEP},
        {"retries", required_argument, NULL, O_RETRIES}, {"help", no_argument, NULL, 'h'},
        /* ranking and fetching: passed to the broker as given */
        {"top-en", required_argument, NULL, O_PASS},     {"top-intl", required_argument, NULL, O_PASS + 1},
        {"metric", required_argument, NULL, O_PASS + 2}, {"partitions", required_argument, NULL, O_PASS + 3},
        {"hosts", required_argument, NULL, O_PASS + 4},  {"fetch-tasks", required_argument, NULL, O_PASS + 5},
        {"scheme", required_argument, NULL, O_PASS + 6}, {"user-agent", required_argument, NULL, O_PASS + 7},
        {"connect-to", required_argument, NULL, O_PASS + 8}, {"allow-private", no_argument, NULL, O_PASS + 9},
        {"concurrency", required_argument, NULL, O_PASS + 10}, {"timeout", required_argument, NULL, O_PASS + 11},
        {"connect-timeout", required_argument, NULL, O_PASS + 12},
        {"fetch-retries", required_argument, NULL, O_PASS + 13},
        {"metrics-listen", required_argument, NULL, O_PASS + 14}, {"metrics-linger", required_argument, NULL, O_PASS + 15},
        {"stop-after", required_argument, NULL, O_PASS + 16},
        {"max-memory", required_argument, NULL, O_PASS + 24}, /* each worker's (optout/memory.h) */
        /* policy (docs/policy.md): checked by the broker */
        {"granularity", required_argument, NULL, O_PASS + 20}, {"keep-hosts", required_argument, NULL, O_PASS + 21},
        {"remove-hosts", required_argument, NULL, O_PASS + 22}, {"sample", required_argument, NULL, O_PASS + 23},
        {"output", required_argument, NULL, O_PASS + 40}, /* shards|tags, checked by the broker */
        {NULL, 0, NULL, 0},
    };
    if (optout_config_args("run", options, ":h", &argc, &argv) != 0) return OPTOUT_EXIT_USAGE;
    /* the broker's arguments are collected as given; the broker validates them */
    char **bargs = calloc((size_t)argc * 2 + 8, sizeof *bargs);
    size_t nb = 1;
    const char *out = NULL, *stop_after = NULL, *max_memory = NULL;
    long workers = sysconf(_SC_NPROCESSORS_ONLN);
    int has_corpus = 0, opt;
    if (!bargs) return OPTOUT_EXIT_FAILURE;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        int idx = -1;
        for (int i = 0; options[i].name; i++)
            if (options[i].val == opt) idx = i;
        switch (opt) {
        case O_OUT: out = optarg; continue;
        case O_WORKERS:
            workers = atol(optarg);
            if (workers < 1 || workers > MAX_WORKERS) {
                optout_log(LOG_ERR, "--workers: expected 1..%d, got '%s'", MAX_WORKERS, optarg);
                free_args(bargs, nb);
                return OPTOUT_EXIT_USAGE;
            }
            continue;
        case O_CORPUS: has_corpus = 1; break;
        case O_PASS + 16: stop_after = optarg; break;
        case O_PASS + 24: {
            uint64_t bytes, slot;
            size_t cached;
            char merr[512];
            if (optout_memory_parse(optarg, &bytes, merr, sizeof merr) != 0 ||
                optout_memory_plan(bytes, 1, &slot, &cached, merr, sizeof merr) != 0) {
                optout_log(LOG_ERR, "--max-memory: %s", merr);
                free_args(bargs, nb);
                return OPTOUT_EXIT_USAGE;
            }
            max_memory = optarg;
            continue;
        }
        case 'h': run_usage(stdout); free_args(bargs, nb); return OPTOUT_EXIT_OK;
        case ':':
        case '?': free_args(bargs, nb); return cli_option_error("run", opt, argv);
        default: break;
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[idx].name);
        bargs[nb++] = strdup(flag);
        if (options[idx].has_arg) bargs[nb++] = strdup(optarg);
    }
    optout_config_done();
    int rc = OPTOUT_EXIT_USAGE;
    pid_t pids[1 + MAX_WORKERS] = {0}; /* [0] broker */
    pid_t redis = 0;
    void *zctx = NULL, *status_sock = NULL;
    if (optind < argc || !out || !has_corpus) {
        optout_log(LOG_ERR, "run: --corpus and --out are required%s", optind < argc ? " (quote glob patterns)" : "");
        run_usage(stderr);
        goto done;
    }
    rc = OPTOUT_EXIT_FAILURE;
    char self[PATH_MAX], broker_bin[PATH_MAX + 32], worker_bin[PATH_MAX + 32], dir[PATH_MAX], endpoint[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        optout_log(LOG_ERR, "cannot find my own executable: %s", strerror(errno));
        goto done;
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(broker_bin, sizeof broker_bin, "%s/optout-broker", self);
    snprintf(worker_bin, sizeof worker_bin, "%s/optout-worker", self);
    if (optout_make_parent_dirs(out) != 0 || (mkdir(out, 0777) != 0 && errno != EEXIST) || !realpath(out, dir)) {
        optout_log(LOG_ERR, "run directory %s: %s", out, strerror(errno));
        goto done;
    }
    snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", dir);
    bargs[0] = broker_bin;
    bargs[nb++] = strdup("--dir");
    bargs[nb++] = strdup(dir);
    /* verdicts go through a private Redis, as in a fleet; without redis-server, straight from the
     * robots directory */
    char redis_sock[PATH_MAX + 32], redis_endpoint[PATH_MAX + 40];
    snprintf(redis_sock, sizeof redis_sock, "%s/redis.sock", dir);
    snprintf(redis_endpoint, sizeof redis_endpoint, "unix:%s", redis_sock);
    if (on_path("redis-server")) {
        if ((redis = start_redis(dir, redis_sock)) < 0) goto done;
        bargs[nb++] = strdup("--redis");
        bargs[nb++] = strdup(redis_endpoint);
    } else {
        optout_log(LOG_WARNING, "redis-server not found (deploy/deps.sh installs it): workers read the robots "
                                "directory directly");
    }
    bargs[nb] = NULL;

    /* the children say only what matters; the progress line says the rest */
    if (!getenv("OPTOUT_LOG_LEVEL")) setenv("OPTOUT_LOG_LEVEL", "warning", 1);
    setenv("OPTOUT_CONFIG", "", 1); /* they read no configuration file: they get everything from here */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char sock_path[PATH_MAX + 32];
    snprintf(sock_path, sizeof sock_path, "%s/broker.sock", dir);
    unlink(sock_path); /* a stale socket of a dead broker would look like a live one */
    pids[0] = spawn(bargs);
    if (pids[0] < 0) {
        optout_log(LOG_ERR, "fork: %s", strerror(errno));
        goto done;
    }
    char name[64];
    char *wargs[] = {worker_bin, "--connect", endpoint, "--root", "fs=/", "--name", name, NULL, NULL, NULL};
    if (max_memory) wargs[7] = "--max-memory", wargs[8] = (char *)max_memory;
    size_t restarts = 0;
    int tty = isatty(2), workers_started = 0;
    time_t started = time(NULL), last_status = 0;
    zctx = zmq_ctx_new();
    status_sock = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    if (status_sock) zmq_setsockopt(status_sock, ZMQ_LINGER, &zero, sizeof zero);
    for (;;) {
        int status;
        if (waitpid(pids[0], &status, WNOHANG) == pids[0]) {
            pids[0] = 0;
            rc = exit_code_of(status);
            break;
        }
        if (interrupted) {
            optout_log(LOG_INFO, "interrupted: stopping (rerun the same command to resume)");
            break;
        }
        if (!workers_started) { /* ZeroMQ connects before the broker binds: no need to wait for it */
            for (long w = 1; w <= workers; w++) {
                snprintf(name, sizeof name, "%s-%ld", "local", w);
                pids[w] = spawn(wargs);
            }
            workers_started = 1;
            if (status_sock) zmq_connect(status_sock, endpoint);
        }
        if (redis > 0 && waitpid(redis, &status, WNOHANG) == redis) {
            optout_log(LOG_WARNING, "redis-server died; restarting it (the broker reloads it)");
            if ((redis = start_redis(dir, redis_sock)) < 0) break;
        }
        for (long w = 1; workers_started && w <= workers; w++) {
            if (pids[w] > 0 && waitpid(pids[w], &status, WNOHANG) == pids[w]) {
                optout_log(LOG_WARNING, "worker %ld (pid %d) %s %d; restarting it", w, (int)pids[w],
                           WIFSIGNALED(status) ? "killed by signal" : "exited with", WIFSIGNALED(status) ? WTERMSIG(status)
                                                                                         : WEXITSTATUS(status));
                snprintf(name, sizeof name, "%s-%ld", "local", w);
                pids[w] = spawn(wargs);
                restarts++;
            }
        }
        if (workers_started && status_sock && time(NULL) != last_status) {
            last_status = time(NULL);
            char text[2048];
            if (cli_broker_status(status_sock, 300, text, sizeof text) == 0) show_progress(text, tty, started);
        }
        sleep_ms(20);
    }
    if (tty && workers_started) fputc('\n', stderr);
    stop_all(pids, (size_t)workers + 1, 5000);
    if (redis > 0) stop_all(&redis, 1, 5000);
    if (interrupted) rc = OPTOUT_EXIT_FAILURE;
    if (stop_after && rc == OPTOUT_EXIT_OK && !interrupted) { /* a dry run: its answer */
        char answer[PATH_MAX + 32];
        snprintf(answer, sizeof answer, "%s/dry-run.json", dir);
        size_t len;
        char *text = optout_read_file(answer, (size_t)1 << 20, &len);
        if (text) fputs(text, stdout);
        free(text);
    } else if (rc == OPTOUT_EXIT_OK || rc == OPTOUT_EXIT_FAILURE) {
        char report[PATH_MAX + 32];
        snprintf(report, sizeof report, "%s/report.json", dir);
        if (access(report, R_OK) == 0 && !interrupted) {
            size_t len;
            char *text = optout_read_file(report, (size_t)64 << 20, &len);
            if (text) {
                unsigned long long docs = json_number(text, "docs_in"), removed = json_number(text, "docs_removed"),
                                   tokens = json_number(text, "tokens_in"), tremoved = json_number(text, "tokens_removed");
                fprintf(stderr, "optout: %s: %llu of %llu documents removed (%.2f%%), %llu of %llu tokens (%.2f%%); "
                                "report in %s%s\n",
                        rc == OPTOUT_EXIT_OK ? "complete" : "finished with failed tasks", removed, docs,
                        docs ? 100.0 * (double)removed / (double)docs : 0.0, tremoved, tokens,
                        tokens ? 100.0 * (double)tremoved / (double)tokens : 0.0, report,
                        restarts ? " (workers were restarted)" : "");
                /* a fetching run: what its robots.txt fetches gave (report.json's "fetch" member) */
                const char *fetch = strstr(text, "\"fetch\": {");
                unsigned long long planned = fetch ? json_number(fetch, "hosts_planned") : 0;
                const char *by = fetch ? strstr(fetch, "\"hosts_by_outcome\": {") : NULL;
                if (planned && by)
                    fprintf(stderr, "optout: robots.txt of %llu hosts: %llu ok, %llu unavailable, %llu unreachable, "
                                    "%llu no such host\n",
                            planned, json_number(by, "ok"), json_number(by, "unavailable"), json_number(by, "unreachable"),
                            json_number(by, "no_such_host"));
                free(text);
            }
        }
    }
done:
    if (status_sock) zmq_close(status_sock);
    if (zctx) zmq_ctx_term(zctx);
    free_args(bargs, nb);
    return rc;
}
