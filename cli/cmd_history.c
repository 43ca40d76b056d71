/* cmd_history.c — `optout history`: Common Crawl's robots.txt captures of a list of hosts into a
 * history archive (include/optout/history_archive.h; rules: docs/history.md).
 *
 * optout history (--cc-robots PATH|GLOB|URL... | --cc-crawls CC-MAIN-YYYY-WW,... [--cc-base URL|DIR])
 *                --hosts FILE --out DIR [--retries N] [--quiet]
 *
 * - Every WARC file named (local paths and globs, http(s) URLs; or listed by each crawl's
 *   robotstxt.paths.gz under --cc-base, relative entries only) is streamed once through the WARC
 *   reader. A response of a host of FILE becomes a capture: its host key and scheme from
 *   WARC-Target-URI, its crawl, time, status, outcome, redirect target, body.
 * - Redirect targets outside FILE are kept too: when captures of FILE's hosts redirect to such
 *   hosts, the files are read again for those hosts alone (a second pass, and more for chains, at
 *   most OPTOUT_HISTORY_MAX_HOPS passes in all after the first).
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
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static volatile sig_atomic_t history_stop;

static void history_on_signal(int sig) {
    (void)sig;
    history_stop = 1;
}

static const optout_program_spec HISTORY_SPEC = {
    .program = OPTOUT_PROG_HISTORY,
    .section = "history",
    .usage = "usage: optout history (--cc-robots PATH|GLOB|URL... | --cc-crawls CC-MAIN-YYYY-WW,...) --hosts FILE "
             "--out DIR [options]\n",
    .about = "Reads Common Crawl's robots.txt captures (robotstxt WARC files) and keeps those of the hosts of\n"
             "FILE, and of the hosts they redirect to, in the history archive DIR/history/ (replaced whole).\n"
             "--cc-crawls reads each crawl's crawl-data/CRAWL/robotstxt.paths.gz under --cc-base and the files\n"
             "it lists. Prints a summary on stderr: records, responses, captures kept, versions, hosts, bad\n"
             "records by kind.\n",
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
    a->retries = v->given[OPTOUT_OPT_FETCH_RETRIES_CLI] ? (int)v->num[OPTOUT_OPT_FETCH_RETRIES_CLI] : -1;
    const char *missing = !a->hosts_path ? "--hosts" : !a->out ? "--out" : NULL;
    if (missing || (!a->n_cc_robots && !a->cc_crawls)) {
        optout_log(LOG_ERR, "history: %s is required", missing ? missing : "--cc-robots or --cc-crawls");
        optout_options_usage(&HISTORY_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (v->given[OPTOUT_OPT_CC_BASE] && !a->cc_crawls) {
        optout_log(LOG_ERR, "history: --cc-base is read with --cc-crawls only");
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

static void list_add(optout_cc_list *l, size_t *cap, const char *s) {
    if (l->count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        void *q = realloc(l->items, *cap * sizeof *l->items);
        if (!q) optout_oom("file list");
        l->items = q;
    }
    if (!(l->items[l->count] = strdup(s))) optout_oom("file list");
    l->count++;
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
        for (size_t i = 0; i < files.count && rc == OPTOUT_EXIT_OK; i++) {
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
