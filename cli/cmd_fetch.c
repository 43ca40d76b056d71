/* cmd_fetch.c — `optout fetch`: robots.txt for a list of hosts, on this machine, into a robots
 * archive (include/optout/fetch.h, include/optout/archive.h).
 *
 * optout fetch --hosts FILE --out DIR [--concurrency N] [--connect-to HOST:PORT]
 *              [--scheme auto|https|http] [--user-agent S] [--timeout SECONDS]
 *              [--connect-timeout SECONDS] [--retries N] [--allow-private] [--quiet]
 *
 * - FILE: one host key per line (as `optout filter` keys hosts: lower case, punycode, no default
 *   port); blank lines and '#' lines are skipped, a line that is not a canonical host key is a
 *   usage error naming FILE:LINE, a key listed twice is fetched once.
 * - The archive is DIR/robots/; each invocation that has something to fetch writes one new pack
 *   (fetch-0001, fetch-0002, ...), flushed to the kernel every 1000 records and every second
 *   (checked as results arrive), fsynced at the end. Resumable: hosts already in any pack of
 *   DIR/robots are not fetched again, so a rerun after a crash or a kill fetches only the rest, and
 *   a rerun of a complete fetch fetches nothing.
 * - SIGINT/SIGTERM: the transfers in flight are abandoned, the pack is closed cleanly, exit 1 with
 *   "interrupted: N of M hosts fetched; rerun to resume".
 * - stdout at the end: one line per outcome over every host of FILE ("ok 812", "unavailable 40",
 *   "unreachable 7", "no_such_host 3"), previous runs included. Progress on stderr (a \r line on a
 *   terminal, a line every 5 s otherwise; none with --quiet).
 * Exit status: 0 every host recorded, 1 runtime failure or interrupted, 2 usage error.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/archive.h"
#include "optout/fetch.h"
#include "optout/hostkey.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/strmap.h"
#include "optout/util.h"

#define FETCH_FLUSH_RECORDS 1000
#define FETCH_FLUSH_MS 1000
#define FETCH_PROGRESS_TTY_MS 500
#define FETCH_PROGRESS_LOG_MS 5000

static volatile sig_atomic_t fetch_stop;

static void fetch_on_signal(int sig) {
    (void)sig;
    fetch_stop = 1;
}

static const optout_program_spec FETCH_SPEC = {
    .program = OPTOUT_PROG_FETCH,
    .section = "fetch",
    .usage = "usage: optout fetch --hosts FILE --out DIR [options]\n",
    .about = "Fetches SCHEME://HOST/robots.txt for every host key of FILE (one per line, '#' comments)\n"
             "into the robots archive DIR/robots/. A rerun fetches only the hosts not yet recorded.\n"
             "Prints one line per outcome (ok, unavailable, unreachable, no_such_host) at the end.\n"
             "--connect-to H:P sends every request to H:P, Host header kept (tests; allows loopback);\n"
             "--scheme auto tries https, falling back to http; --retries N are extra attempts for 5xx,\n"
             "429, timeouts and resets; --allow-private allows loopback, private and other non-public\n"
             "addresses.\n",
};

typedef struct {
    optout_archive_writer *w;
    size_t total;        /* hosts of the file */
    size_t done;         /* recorded, previous runs included */
    size_t this_run;
    size_t since_flush;
    int64_t last_flush_ms, last_progress_ms, start_ms;
    size_t counts[OPTOUT_OUTCOME_COUNT];
    int quiet, tty, progress_shown;
} fetch_state;

static void fetch_progress(fetch_state *st, int64_t now, int final) {
    if (st->quiet) return;
    if (!final && now - st->last_progress_ms < (st->tty ? FETCH_PROGRESS_TTY_MS : FETCH_PROGRESS_LOG_MS)) return;
    if (final && !st->progress_shown) return;
    st->last_progress_ms = now;
    double secs = (double)(now - st->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)st->this_run / secs : 0;
    char line[256];
    snprintf(line, sizeof line, "fetch: %zu of %zu hosts, %.0f/s (ok %zu, unavailable %zu, unreachable %zu, no_such_host %zu)",
             st->done, st->total, rate, st->counts[OPTOUT_OUTCOME_OK], st->counts[OPTOUT_OUTCOME_UNAVAILABLE],
             st->counts[OPTOUT_OUTCOME_UNREACHABLE], st->counts[OPTOUT_OUTCOME_NO_SUCH_HOST]);
    if (st->tty) fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else if (!final) optout_log(LOG_INFO, "%s", line + strlen("fetch: "));
    st->progress_shown = 1;
}

static int fetch_record(const optout_fetch_result *r, void *arg, char *reason, size_t reason_len) {
    fetch_state *st = arg;
    if (optout_archive_append(st->w, r, reason, reason_len) != 0) return 1;
    st->done++;
    st->this_run++;
    st->since_flush++;
    if ((unsigned)r->outcome < OPTOUT_OUTCOME_COUNT) st->counts[r->outcome]++;
    int64_t now = optout_now_ms();
    if (st->since_flush >= FETCH_FLUSH_RECORDS || now - st->last_flush_ms >= FETCH_FLUSH_MS) {
        if (optout_archive_flush(st->w, reason, reason_len) != 0) return 1;
        st->since_flush = 0;
        st->last_flush_ms = now;
    }
    fetch_progress(st, now, 0);
    return 0;
}

/* The archive's hosts: key -> outcome + 1. */
static int fetch_visit(const optout_archive_record *rec, void *arg) {
    optout_strmap *done = arg;
    const char *h = rec->r.host;
    return optout_strmap_put(done, h, strlen(h), (void *)(uintptr_t)(rec->r.outcome + 1), NULL) != 0;
}

/* The next pack number in dir: one more than the largest fetch-NNNN.tsv (1 when none). */
static int fetch_next_pack(const char *dir, unsigned *next) {
    *next = 1;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned n;
        int used = 0;
        if (sscanf(e->d_name, "fetch-%u.tsv%n", &n, &used) == 1 && used > 0 && e->d_name[used] == '\0' &&
            n >= *next)
            *next = n + 1;
    }
    closedir(d);
    return 0;
}

static void fetch_print_summary(const size_t counts[OPTOUT_OUTCOME_COUNT]) {
    static const optout_outcome order[] = {OPTOUT_OUTCOME_OK, OPTOUT_OUTCOME_UNAVAILABLE, OPTOUT_OUTCOME_UNREACHABLE,
                                           OPTOUT_OUTCOME_NO_SUCH_HOST};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        printf("%s %zu\n", optout_outcome_name(order[i]), counts[order[i]]);
    fflush(stdout);
}

/* What the command line asks. */
typedef struct {
    optout_fetch_options fo;
    const char *hosts_path, *out;
    int quiet;
} fetch_args;

/* The options (options.h). Returns -1 to go on, else the exit status. */
static int fetch_parse(int argc, char **argv, fetch_args *a, optout_option_values *v) {
    int rc = optout_options_parse(&FETCH_SPEC, argc, argv, v);
    if (rc >= 0) return rc;
    a->fo.retries = (int)v->num[OPTOUT_OPT_FETCH_RETRIES_CLI];
    if (!v->given[OPTOUT_OPT_FETCH_RETRIES_CLI]) a->fo.retries = -1; /* the fetcher's default */
    if (v->given[OPTOUT_OPT_FETCH_CONCURRENCY]) a->fo.concurrency = (unsigned)v->num[OPTOUT_OPT_FETCH_CONCURRENCY];
    a->fo.connect_to = v->text[OPTOUT_OPT_CONNECT_TO];
    if (v->given[OPTOUT_OPT_SCHEME]) (void)optout_fetch_scheme_parse(v->text[OPTOUT_OPT_SCHEME], &a->fo.scheme);
    a->fo.user_agent = v->text[OPTOUT_OPT_USER_AGENT];
    char err[300];
    if ((v->given[OPTOUT_OPT_FETCH_TIMEOUT] &&
         optout_option_seconds_ms(v->text[OPTOUT_OPT_FETCH_TIMEOUT], &a->fo.timeout_ms, err, sizeof err) != 0) ||
        (v->given[OPTOUT_OPT_FETCH_CONNECT_TIMEOUT] &&
         optout_option_seconds_ms(v->text[OPTOUT_OPT_FETCH_CONNECT_TIMEOUT], &a->fo.connect_timeout_ms, err,
                                  sizeof err) != 0))
        return OPTOUT_EXIT_USAGE; /* checked by the table already */
    a->fo.allow_private = v->given[OPTOUT_OPT_ALLOW_PRIVATE];
    a->quiet = v->given[OPTOUT_OPT_QUIET];
    a->hosts_path = v->text[OPTOUT_OPT_HOSTS];
    a->out = v->text[OPTOUT_OPT_RUN_OUT];
    if (!a->hosts_path || !a->out) {
        optout_log(LOG_ERR, "fetch: --hosts and --out are required");
        optout_options_usage(&FETCH_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

int cmd_fetch(int argc, char **argv) {
    fetch_args args = {0};
    optout_option_values v;
    optout_fetch_options fo;
    optout_hostlist *list = NULL;
    optout_strmap *done = NULL;
    const char **todo = NULL;
    optout_archive_writer *w = NULL;
    char *robots_dir = NULL;
    int rc = fetch_parse(argc, argv, &args, &v);
    if (rc >= 0) {
        optout_options_free(&v);
        return rc;
    }
    rc = OPTOUT_EXIT_OK;
    fo = args.fo;
    const char *out = args.out;
    int quiet = args.quiet;
    char err[1024];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(list = optout_hostlist_read(args.hosts_path, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err))) {
        rc = errno == EINVAL ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
        optout_log(LOG_ERR, "%s%s", rc == OPTOUT_EXIT_USAGE ? "" : "cannot read the hosts file ", err);
        goto done;
    }
    const char *const *hosts = optout_hostlist_hosts(list);
    size_t count = optout_hostlist_count(list);
    if (asprintf(&robots_dir, "%s/robots", out) < 0) {
        robots_dir = NULL;
        optout_log(LOG_ERR, "out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    /* what earlier runs recorded */
    if (!(done = optout_strmap_new())) {
        optout_log(LOG_ERR, "out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    size_t torn = 0;
    if (optout_archive_scan(robots_dir, 0, fetch_visit, done, &torn, err, sizeof err) < 0) {
        optout_log(LOG_ERR, "reading the robots archive %s: %s", robots_dir, err);
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    if (torn) optout_log(LOG_WARNING, "%s: %zu torn record(s) of an interrupted run ignored; those hosts are fetched again", robots_dir, torn);

    fetch_state st = {0};
    st.total = count;
    st.quiet = quiet;
    st.tty = isatty(STDERR_FILENO);
    if (!(todo = malloc((count ? count : 1) * sizeof *todo))) {
        optout_log(LOG_ERR, "out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    size_t ntodo = 0;
    for (size_t i = 0; i < count; i++) {
        void *prev = optout_strmap_get(done, hosts[i], strlen(hosts[i]));
        if (prev) {
            st.done++;
            st.counts[(uintptr_t)prev - 1]++;
        } else {
            todo[ntodo++] = hosts[i];
        }
    }
    if (ntodo == 0) {
        if (!quiet) optout_log(LOG_INFO, "all %zu hosts are already in %s: nothing to fetch", count, robots_dir);
        fetch_print_summary(st.counts);
        goto done;
    }
    unsigned pack;
    if (fetch_next_pack(robots_dir, &pack) != 0) {
        optout_log(LOG_ERR, "cannot list %s: %s", robots_dir, strerror(errno));
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    char pack_name[32];
    snprintf(pack_name, sizeof pack_name, "fetch-%04u", pack);
    if (!(w = optout_archive_create(robots_dir, pack_name, 0, err, sizeof err))) {
        optout_log(LOG_ERR, "creating the archive pack %s/%s: %s", robots_dir, pack_name, err);
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    st.w = w;

    struct sigaction sa = {0};
    sa.sa_handler = fetch_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fo.stop = &fetch_stop;

    if (!quiet && st.done)
        optout_log(LOG_INFO, "%zu of %zu hosts already recorded in %s; fetching the other %zu", st.done, st.total,
                   robots_dir, ntodo);
    st.start_ms = st.last_flush_ms = optout_now_ms();
    st.last_progress_ms = st.start_ms;
    int frc = optout_fetch_hosts(&fo, todo, ntodo, fetch_record, &st, err, sizeof err);
    fetch_progress(&st, optout_now_ms(), 1);
    char cerr[1024];
    int crc = optout_archive_close(w, 1, cerr, sizeof cerr);
    w = NULL;
    if (frc < 0) {
        optout_log(LOG_ERR, "fetch: %s", err);
        rc = OPTOUT_EXIT_FAILURE;
    }
    if (crc != 0) {
        optout_log(LOG_ERR, "closing the archive pack %s/%s: %s", robots_dir, pack_name, cerr);
        rc = OPTOUT_EXIT_FAILURE;
    }
    if (rc == OPTOUT_EXIT_OK && frc == 1) {
        optout_log(LOG_ERR, "interrupted: %zu of %zu hosts fetched; rerun to resume", st.done, st.total);
        rc = OPTOUT_EXIT_FAILURE;
    }
    if (rc == OPTOUT_EXIT_OK) fetch_print_summary(st.counts);
done:
    if (w) optout_archive_close(w, 0, err, sizeof err);
    free(todo);
    free(robots_dir);
    optout_strmap_free(done, NULL);
    optout_hostlist_free(list);
    optout_options_free(&v);
    return rc;
}
