/* cmd_history.c — `optout history`: Common Crawl's robots.txt captures of a list of hosts into a
 * history archive (include/optout/history_archive.h; rules: docs/history.md).
 *
 * optout history (--cc-robots PATH|GLOB|URL... | --cc-crawls CC-MAIN-YYYY-WW,... [--cc-base URL|DIR] |
 *                 --wayback [--wayback-* options])... --hosts FILE --out DIR [--retries N] [--quiet]
 *
 * - Every WARC file named (local paths and globs, http(s) URLs; or listed by each crawl's
 *   robotstxt.paths.gz under --cc-base, relative entries only) is streamed once through the WARC
 *   reader. A response of a host of FILE becomes a capture: its host key and scheme from
 *   WARC-Target-URI, its crawl, time, status, outcome, redirect target, body.
 * - Redirect targets outside FILE are kept too: when captures of FILE's hosts redirect to such
 *   hosts, the files are read again for those hosts alone (a second pass, and more for chains, at
 *   most OPTOUT_HISTORY_MAX_HOPS passes in all after the first).
 * - --jobs N reads N files of a pass at a time, one thread each, every file into a part of its own
 *   (history_archive.h's parts, as the fleet's history tasks write them, under
 *   DIR/.history-parts.XXXXXX), then merges the parts into the build in file order: the archive
 *   and sources.tsv are what one thread builds.
 * - --wayback adds the Wayback Machine's captures of the hosts (wayback.h), with one sources.tsv
 *   line for its queries (time, hash of the answers).
 * - DIR/history/sources.tsv lists the files read, each with its crawl, bytes, records, responses
 *   and bad records by kind.
 * - The archive DIR/history/ is published once at the end (replacing an earlier one whole); a
 *   file that cannot be read (after retries), or SIGINT/SIGTERM, publishes nothing.
 * - stderr: bad records as met (the first ten of each file, with file, byte offset and record
 *   number), then a summary: files, bytes, records, responses, captures kept, versions, hosts,
 *   distinct bodies, bad records by kind, refused paths-list entries.
 * Exit status: 0 published, 1 runtime failure (nothing published), 2 usage error, 130 interrupted.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "optout/ccsource.h"
#include "optout/history_archive.h"
#include "optout/history_scan.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/warc.h"
#include "optout/wayback.h"

static volatile sig_atomic_t history_stop;

static void history_on_signal(int sig) {
    (void)sig;
    history_stop = 1;
}

static const optout_program_spec HISTORY_SPEC = {
    .program = OPTOUT_PROG_HISTORY,
    .section = "history",
    .usage = "usage: optout history (--cc-robots PATH|GLOB|URL... | --cc-crawls CC-MAIN-YYYY-WW,... | --wayback) --hosts FILE "
             "--out DIR [options]\n",
    .about = "Reads Common Crawl's robots.txt captures (robotstxt WARC files) and keeps those of the hosts of\n"
             "FILE, and of the hosts they redirect to, in the history archive DIR/history/ (replaced whole).\n"
             "--cc-crawls reads each crawl's crawl-data/CRAWL/robotstxt.paths.gz under --cc-base and the files\n"
             "it lists. --wayback adds the Wayback Machine's captures of the hosts (one request at a time,\n"
             "--wayback-rate a second; resumable from DIR/.wayback/). --jobs N reads N files at a time. Prints\n"
             "a summary on stderr: records, responses, captures kept, versions, hosts, bad records by kind.\n",
};

typedef struct {
    optout_history_scan scan;
    optout_strmap *listed; /* FILE's hosts */
} history_state;

static int add_seen(const char *key, size_t len, void *value, void *arg) {
    (void)value;
    return optout_history_scan_put(arg, key, len);
}

typedef struct {
    const char *hosts_path, *out, *cc_crawls, *cc_base;
    const char **cc_robots;
    size_t n_cc_robots;
    int quiet, retries;
    unsigned jobs; /* --jobs: files read at a time */
    int wayback; /* --wayback: the Wayback Machine's captures too (wayback.h) */
} history_args;

static int history_parse(int argc, char **argv, history_args *a, optout_option_values *v) {
    int rc = optout_options_parse(&HISTORY_SPEC, argc, argv, v);
    if (rc >= 0) return rc;
    a->hosts_path = v->text[OPTOUT_OPT_HOSTS];
    a->out = v->text[OPTOUT_OPT_RUN_OUT];
    a->cc_robots = v->list[OPTOUT_OPT_CC_ROBOTS];
    a->n_cc_robots = v->count[OPTOUT_OPT_CC_ROBOTS];
    a->cc_crawls = v->text[OPTOUT_OPT_CC_CRAWLS];
    a->cc_base = v->given[OPTOUT_OPT_CC_BASE] ? v->text[OPTOUT_OPT_CC_BASE] : OPTOUT_HISTORY_CC_BASE_DEFAULT;
    a->quiet = v->given[OPTOUT_OPT_QUIET];
    a->jobs = (unsigned)v->num[OPTOUT_OPT_HISTORY_JOBS];
    a->retries = v->given[OPTOUT_OPT_FETCH_RETRIES_CLI] ? (int)v->num[OPTOUT_OPT_FETCH_RETRIES_CLI] : -1;
    const char *missing = !a->hosts_path ? "--hosts" : !a->out ? "--out" : NULL;
    a->wayback = v->given[OPTOUT_OPT_WAYBACK];
    if (missing || (!a->n_cc_robots && !a->cc_crawls && !a->wayback)) {
        optout_log(LOG_ERR, "history: %s is required", missing ? missing : "--cc-robots, --cc-crawls or --wayback");
        optout_options_usage(&HISTORY_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (!a->wayback && (v->given[OPTOUT_OPT_WAYBACK_HOSTS_FILE] || v->given[OPTOUT_OPT_WAYBACK_HOSTS] ||
                        v->given[OPTOUT_OPT_WAYBACK_FROM] || v->given[OPTOUT_OPT_WAYBACK_TO] ||
                        v->given[OPTOUT_OPT_WAYBACK_BASE] || v->given[OPTOUT_OPT_WAYBACK_RATE] ||
                        v->given[OPTOUT_OPT_WAYBACK_BLOCK_HOSTS])) {
        optout_log(LOG_ERR, "history: the --wayback-* options are read with --wayback only");
        return OPTOUT_EXIT_USAGE;
    }
    if (a->wayback && v->num[OPTOUT_OPT_WAYBACK_FROM] > v->num[OPTOUT_OPT_WAYBACK_TO]) {
        optout_log(LOG_ERR, "history: --wayback-from is after --wayback-to");
        return OPTOUT_EXIT_USAGE;
    }
    if (v->given[OPTOUT_OPT_CC_BASE] && !a->cc_crawls) {
        optout_log(LOG_ERR, "history: --cc-base is read with --cc-crawls only");
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

static void list_add(optout_cc_list *l, size_t *cap, const char *s) {
    l->items = optout_grow(l->items, l->count, cap, sizeof *l->items, 64, "file list");
    l->items[l->count++] = optout_strdup(s);
}

/* The files to read: --cc-robots (URLs as given, local patterns expanded), then each crawl's list. */
static int history_locations(const history_args *a, const optout_cc_stream_options *so, optout_cc_list *out,
                             size_t *refused, char *err, size_t errlen) {
    size_t cap = 0;
    *refused = 0;
    const char **patterns = calloc(a->n_cc_robots + 1, sizeof *patterns);
    size_t np = 0;
    int rc = 0;
    if (!patterns) optout_oom("file list");
    for (size_t i = 0; i < a->n_cc_robots; i++) {
        if (optout_cc_is_url(a->cc_robots[i])) list_add(out, &cap, a->cc_robots[i]);
        else patterns[np++] = a->cc_robots[i];
    }
    if (np) {
        optout_inputs in = {0};
        if (optout_inputs_expand(patterns, np, &in, err, errlen) != 0) {
            free(patterns);
            return OPTOUT_EXIT_USAGE;
        }
        for (size_t i = 0; i < in.count; i++) list_add(out, &cap, in.items[i].path);
        optout_inputs_free(&in);
    }
    free(patterns);
    if (a->cc_crawls) {
        optout_cc_crawls crawls;
        if (optout_cc_crawls_parse(a->cc_crawls, &crawls, err, errlen) != 0) return OPTOUT_EXIT_USAGE;
        for (size_t c = 0; c < crawls.count && rc == 0; c++) {
            optout_cc_list l;
            size_t bad = 0;
            char example[256];
            if (optout_cc_paths(a->cc_base, crawls.ids[c], so, &l, &bad, example, sizeof example, err, errlen) != 0) {
                rc = OPTOUT_EXIT_FAILURE;
                break;
            }
            if (bad)
                optout_log(LOG_WARNING, "%s/crawl-data/%s/robotstxt.paths.gz: %zu entr%s not followed (only relative "
                           "paths are), e.g. '%s'", a->cc_base, crawls.ids[c], bad, bad == 1 ? "y" : "ies", example);
            *refused += bad;
            for (size_t i = 0; i < l.count; i++) list_add(out, &cap, l.items[i]);
            optout_cc_list_free(&l);
        }
        optout_cc_crawls_free(&crawls);
    }
    return rc;
}

/* ---- --jobs: a pass over the files, N at a time ------------------------------------------------- */

typedef struct {
    const optout_cc_list *files;
    const optout_cc_stream_options *so;
    char parts[4200];                /* DIR/.history-parts.XXXXXX: part NNNNNN of file NNNNNN */
    pthread_mutex_t lock;
    size_t next_file;
    int rc;                          /* the first failure's exit status (OK while none) */
    char err[2048];
} jobs_pass;

typedef struct {
    jobs_pass *p;
    optout_history_scan scan; /* this thread's counts and redirect targets */
    pthread_t thread;
} jobs_thread;

static void jobs_fail(jobs_pass *p, int rc, const char *err) {
    pthread_mutex_lock(&p->lock);
    if (p->rc == OPTOUT_EXIT_OK) {
        p->rc = rc;
        snprintf(p->err, sizeof p->err, "%s", err);
    }
    pthread_mutex_unlock(&p->lock);
}

static void *jobs_run(void *arg) {
    jobs_thread *t = arg;
    jobs_pass *p = t->p;
    char err[2048], part[4300];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next_file++;
        int go = i < p->files->count && p->rc == OPTOUT_EXIT_OK;
        pthread_mutex_unlock(&p->lock);
        if (!go) break;
        snprintf(part, sizeof part, "%s/%06zu", p->parts, i);
        if (!(t->scan.w = optout_history_writer_new(part, 0, err, sizeof err))) {
            jobs_fail(p, OPTOUT_EXIT_FAILURE, err);
            break;
        }
        optout_history_writer_apart(t->scan.w); /* merged with the others below */
        int r = optout_history_scan_file(&t->scan, p->files->items[i], p->so, err, sizeof err);
        if (r != 0 || history_stop) {
            optout_history_writer_abort(t->scan.w);
            t->scan.w = NULL;
            if (r == 1 || history_stop) snprintf(err, sizeof err, "interrupted while reading %s", p->files->items[i]);
            jobs_fail(p, r == 1 || history_stop ? OPTOUT_EXIT_INTERRUPTED : OPTOUT_EXIT_FAILURE, err);
            break;
        }
        int cr = optout_history_writer_commit(t->scan.w, NULL, NULL, err, sizeof err);
        t->scan.w = NULL;
        if (cr != 0) {
            jobs_fail(p, OPTOUT_EXIT_FAILURE, err);
            break;
        }
    }
    return NULL;
}

/* One pass over files with `jobs` threads into st's writer: each thread scans files into parts
 * with st's wanted and seen sets (read only meanwhile); then the parts are merged in file order,
 * and the threads' counts and redirect targets added to st's. An exit status (logged). */
static int history_pass_jobs(optout_history_scan *st, const optout_cc_list *files, unsigned jobs,
                             const optout_cc_stream_options *so, const char *out) {
    jobs_pass p = {.files = files, .so = so, .rc = OPTOUT_EXIT_OK};
    char err[2048];
    snprintf(p.parts, sizeof p.parts, "%s/.history-parts.XXXXXX", out);
    if (!mkdtemp(p.parts)) {
        optout_log(LOG_ERR, "history: %s: %s", p.parts, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    pthread_mutex_init(&p.lock, NULL);
    if (jobs > files->count) jobs = (unsigned)files->count;
    jobs_thread *t = calloc(jobs ? jobs : 1, sizeof *t);
    if (!t) optout_oom("history threads");
    unsigned started = 0;
    for (; started < jobs; started++) {
        t[started].p = &p;
        t[started].scan = (optout_history_scan){.wanted = st->wanted, .seen = st->seen, .first_pass = st->first_pass};
        if (!(t[started].scan.next = optout_strmap_new())) optout_oom("host sets");
        int e = pthread_create(&t[started].thread, NULL, jobs_run, &t[started]);
        if (e != 0) {
            optout_strmap_free(t[started].scan.next, NULL);
            jobs_fail(&p, OPTOUT_EXIT_FAILURE, strerror(e));
            break;
        }
    }
    for (unsigned k = 0; k < started; k++) pthread_join(t[k].thread, NULL);
    int rc = p.rc;
    if (rc != OPTOUT_EXIT_OK) optout_log(LOG_ERR, "history: %s: nothing published", p.err);
    /* the parts in file order: sources.tsv lists the files as one thread reads them */
    for (size_t i = 0; rc == OPTOUT_EXIT_OK && i < files->count; i++) {
        char part[4300];
        snprintf(part, sizeof part, "%s/%06zu", p.parts, i);
        if (optout_history_writer_merge(st->w, part, NULL, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "history: %s: nothing published", err);
            rc = OPTOUT_EXIT_FAILURE;
        }
    }
    for (unsigned k = 0; k < started; k++) {
        const optout_history_scan *s = &t[k].scan;
        st->files += s->files, st->bytes += s->bytes, st->records += s->records, st->responses += s->responses;
        st->captures += s->captures, st->no_host += s->no_host, st->no_crawl += s->no_crawl;
        for (int b = 0; b < OPTOUT_WARC_BAD_COUNT; b++) st->bad[b] += s->bad[b];
        if (rc == OPTOUT_EXIT_OK && st->next) optout_strmap_each(t[k].scan.next, add_seen, st->next);
        optout_strmap_free(t[k].scan.next, NULL);
    }
    free(t);
    pthread_mutex_destroy(&p.lock);
    if (optout_remove_tree(p.parts) != 0)
        optout_log(LOG_WARNING, "history: cannot remove %s: %s", p.parts, strerror(errno));
    return rc;
}

/* --wayback: the captures of the Wayback Machine join the build (wayback.h); the state of a
 * killed run stays in DIR/.wayback for the next one. */
static int history_wayback(const history_args *a, const optout_option_values *v, optout_hostlist *list,
                           optout_history_writer *w) {
    char err[2048];
    optout_hostlist *own = NULL;
    const char *file = v->text[OPTOUT_OPT_WAYBACK_HOSTS_FILE];
    if (file && !(own = optout_hostlist_read(file, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err))) {
        optout_log(LOG_ERR, "cannot read the Wayback hosts file %s", err);
        return errno == EINVAL ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
    }
    optout_hostlist *hl = own ? own : list;
    size_t n = optout_hostlist_count(hl);
    if (n > v->num[OPTOUT_OPT_WAYBACK_HOSTS]) n = (size_t)v->num[OPTOUT_OPT_WAYBACK_HOSTS];
    char state[4200];
    snprintf(state, sizeof state, "%s/%s", a->out, OPTOUT_WAYBACK_STATE_DIR);
    optout_wayback_options o = {
        .base = v->text[OPTOUT_OPT_WAYBACK_BASE] ? v->text[OPTOUT_OPT_WAYBACK_BASE] : OPTOUT_WAYBACK_BASE_DEFAULT,
        .from_year = (int)v->num[OPTOUT_OPT_WAYBACK_FROM],
        .to_year = (int)v->num[OPTOUT_OPT_WAYBACK_TO],
        .rate = 1,
        .state_dir = state,
        .block_hosts = (size_t)v->num[OPTOUT_OPT_WAYBACK_BLOCK_HOSTS],
        .retries = a->retries,
        .quiet = a->quiet,
        .stop = &history_stop,
    };
    if (v->text[OPTOUT_OPT_WAYBACK_RATE]) optout_wayback_rate_parse(v->text[OPTOUT_OPT_WAYBACK_RATE], &o.rate);
    optout_wayback_stats ws;
    int r = optout_wayback_collect(optout_hostlist_hosts(hl), n, &o, w, &ws, err, sizeof err);
    optout_hostlist_free(own);
    if (r != 0) {
        if (r == 1)
            optout_log(LOG_ERR, "history: interrupted during the Wayback queries: nothing published (the finished "
                       "blocks are kept for the next run)");
        else
            optout_log(LOG_ERR, "history: wayback: %s: nothing published (the finished blocks are kept for the next "
                       "run)", err);
        return r == 1 ? OPTOUT_EXIT_INTERRUPTED : OPTOUT_EXIT_FAILURE;
    }
    char t1[32], t2[32];
    optout_wayback_times(&ws, t1, t2);
    if (optout_wayback_record(w, &o, &ws, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "history: %s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    fprintf(stderr,
            "history: wayback: %" PRIu64 " hosts in %" PRIu64 " blocks (%" PRIu64 " resumed), %" PRIu64
            " requests (%" PRIu64 " CDX pages) in this run; rows %" PRIu64 ", kept %" PRIu64 ", other hosts %" PRIu64
            ", bad %" PRIu64 "; hosts failed %" PRIu64 ", asked again %" PRIu64 "\n"
            "history: wayback: %" PRIu64 " captures kept, %" PRIu64 " redirects skipped, %" PRIu64
            " dropped without a body; bodies fetched %" PRIu64 ", reused %" PRIu64 ", dropped %" PRIu64 "\n"
            "history: wayback: queries from %s to %s, answers sha256 %s\n",
            ws.hosts, ws.blocks, ws.blocks_resumed, ws.requests, ws.queries, ws.rows, ws.rows_kept, ws.rows_other_host,
            ws.rows_bad, ws.hosts_failed, ws.hosts_retried, ws.captures, ws.redirects_skipped, ws.captures_dropped, ws.bodies_fetched,
            ws.bodies_reused, ws.bodies_dropped, t1, t2, ws.answers_sha256);
    return OPTOUT_EXIT_OK;
}

int cmd_history(int argc, char **argv) {
    history_args args = {0};
    optout_option_values v;
    int rc = history_parse(argc, argv, &args, &v);
    if (rc >= 0) {
        optout_options_free(&v);
        return rc;
    }
    rc = OPTOUT_EXIT_OK;
    char err[2048];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    optout_hostlist *list = NULL;
    optout_cc_list files = {0};
    history_state st = {0};
    struct sigaction sa = {0};
    sa.sa_handler = history_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    optout_cc_stream_options so = {.retries = args.retries, .stop = &history_stop};

    if (!(list = optout_hostlist_read(args.hosts_path, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err))) {
        rc = errno == EINVAL ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
        optout_log(LOG_ERR, "%s%s", rc == OPTOUT_EXIT_USAGE ? "" : "cannot read the hosts file ", err);
        goto done;
    }
    if (!(st.listed = optout_strmap_new()) || !(st.scan.seen = optout_strmap_new()) || !(st.scan.next = optout_strmap_new()))
        optout_oom("host sets");
    const char *const *hosts = optout_hostlist_hosts(list);
    for (size_t i = 0; i < optout_hostlist_count(list); i++)
        if (optout_history_scan_put(st.listed, hosts[i], strlen(hosts[i])) != 0 || optout_history_scan_put(st.scan.seen, hosts[i], strlen(hosts[i])) != 0)
            optout_oom("host sets");
    size_t refused = 0;
    if ((rc = history_locations(&args, &so, &files, &refused, err, sizeof err)) != 0) {
        optout_log(LOG_ERR, "history: %s", err);
        goto done;
    }
    if (!(st.scan.w = optout_history_writer_new(args.out, 0, err, sizeof err))) {
        optout_log(LOG_ERR, "history: %s", err);
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    st.scan.wanted = st.listed;
    st.scan.first_pass = 1;
    uint64_t targets = 0;
    int passes = 0;
    for (;;) {
        passes++;
        if (args.jobs > 1) rc = history_pass_jobs(&st.scan, &files, args.jobs, &so, args.out);
        for (size_t i = 0; args.jobs <= 1 && i < files.count && rc == OPTOUT_EXIT_OK; i++) {
            int r = optout_history_scan_file(&st.scan, files.items[i], &so, err, sizeof err);
            if (r == 1 || history_stop) {
                optout_log(LOG_ERR, "interrupted while reading %s: nothing published", files.items[i]);
                rc = OPTOUT_EXIT_INTERRUPTED;
            } else if (r != 0) {
                optout_log(LOG_ERR, "history: %s: nothing published", err);
                rc = OPTOUT_EXIT_FAILURE;
            }
        }
        if (rc != OPTOUT_EXIT_OK) break;
        size_t n = optout_strmap_count(st.scan.next);
        if (n == 0 || passes > OPTOUT_HISTORY_MAX_HOPS) break;
        /* the redirect targets met in this pass are what the next one keeps; once asked for, a
         * target starts no later pass */
        if (st.scan.wanted != st.listed) optout_strmap_free(st.scan.wanted, NULL);
        st.scan.wanted = st.scan.next;
        if (!(st.scan.next = optout_strmap_new())) optout_oom("host sets");
        optout_strmap_each(st.scan.wanted, add_seen, st.scan.seen);
        targets += n;
        st.scan.first_pass = 0;
        if (!args.quiet)
            optout_log(LOG_INFO, "pass %d: reading the files again for %zu redirect target host%s", passes + 1, n,
                       n == 1 ? "" : "s");
    }
    if (rc != OPTOUT_EXIT_OK) goto done;
    if (args.wayback && (rc = history_wayback(&args, &v, list, st.scan.w)) != OPTOUT_EXIT_OK) goto done;
    {
        uint64_t added, bodies, body_bytes, versions = 0, nhosts = 0;
        optout_history_writer_counts(st.scan.w, &added, &bodies, &body_bytes);
        int crc = optout_history_writer_commit(st.scan.w, &versions, &nhosts, err, sizeof err);
        st.scan.w = NULL;
        if (crc != 0) {
            optout_log(LOG_ERR, "history: %s", err);
            rc = OPTOUT_EXIT_FAILURE;
            goto done;
        }
        char bad[256];
        int n = 0;
        uint64_t nbad = 0;
        for (int k = 0; k < OPTOUT_WARC_BAD_COUNT; k++) {
            nbad += st.scan.bad[k];
            n += snprintf(bad + n, sizeof bad - (size_t)n, "%s %s %" PRIu64, k ? "," : "",
                          optout_warc_bad_name((optout_warc_bad_kind)k), st.scan.bad[k]);
        }
        fprintf(stderr,
                "history: %" PRIu64 " files (%" PRIu64 " bytes), %" PRIu64 " records, %" PRIu64 " responses, %" PRIu64
                " captures kept, %" PRIu64 " versions of %" PRIu64 " hosts, %" PRIu64 " distinct bodies (%" PRIu64
                " bytes), %d pass%s (%" PRIu64 " redirect target hosts)\n"
                "history: bad records %" PRIu64 ":%s; refused paths-list entries %zu; responses without a host %" PRIu64
                "; captures without a crawl id %" PRIu64 "\n"
                "history: published %s/%s\n",
                st.scan.files, st.scan.bytes, st.scan.records, st.scan.responses, st.scan.captures, versions, nhosts, bodies, body_bytes, passes,
                passes == 1 ? "" : "es", targets, nbad, bad, refused, st.scan.no_host, st.scan.no_crawl, args.out, OPTOUT_HISTORY_DIR);
    }
done:
    if (st.scan.w) optout_history_writer_abort(st.scan.w);
    if (st.scan.wanted && st.scan.wanted != st.listed) optout_strmap_free(st.scan.wanted, NULL);
    optout_strmap_free(st.listed, NULL);
    optout_strmap_free(st.scan.seen, NULL);
    optout_strmap_free(st.scan.next, NULL);
    optout_cc_list_free(&files);
    optout_hostlist_free(list);
    optout_options_free(&v);
    return rc;
}
