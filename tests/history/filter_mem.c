/* filter_mem.c — a test's driver of the historical filter (filter.h with cfg->history) over captures
 * held in memory (history.h's in-memory source), so that the policies can be checked end to end
 * whatever archive holds the captures.
 *
 * usage: filter_mem CAPTURES.tsv ROBOTS_DIR IN OUT REMOVED STATS POLICY MISSING MAX_AGE_DAYS REPORT_CUTOFF
 *                   [AGENTS_FILE|-] [keep|disallow]
 *        filter_mem --archive CAPTURES.tsv DIR   (the same captures written as a history archive,
 *                                                  DIR/history/, for `optout filter --history DIR`)
 * CAPTURES.tsv, one version a line (no header): host, origin (cc|wayback), scheme (http|https),
 * crawl ("-": none), first, last (Unix seconds), status, outcome (stats.h names), redirect target
 * host ("-": none), its scheme, body file ("-": none; relative to the TSV's directory).
 * STATS receives the statistics with by_policy. Exit 0, 1 on failure, 2 on a bad argument.
 */
#include <curl/curl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/filter.h"
#include "optout/history.h"
#include "optout/history_archive.h"
#include "optout/stats_policy.h"
#include "optout/util.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 65536 > cap && !(buf = realloc(buf, cap = 2 * cap + 65536))) exit(1);
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Where the captures go: the in-memory source, or an archive writer. */
static int add_capture(optout_history_mem *m, optout_history_writer *w, const char *host, const optout_history_version *v,
                       const char *body, size_t len) {
    if (m) return optout_history_mem_add(m, host, v, body, len);
    char err[512];
    if (optout_history_writer_add(w, host, v, 1, body, len, err, sizeof err) == 0) return 0;
    fprintf(stderr, "filter_mem: %s\n", err);
    return -1;
}

static int load_captures(const char *path, optout_history_mem *m, optout_history_writer *w) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *dcopy = strdup(path), *dir = dirname(dcopy);
    char line[8192];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *col[11];
        int n = 0;
        for (char *p = line, *tok; n < 11 && (tok = strsep(&p, "\t"));) col[n++] = tok;
        if (n != 11) {
            fprintf(stderr, "%s: expected 11 columns: %s\n", path, line);
            rc = -1;
            break;
        }
        optout_history_version v = {0};
        v.origin = strcmp(col[1], "wayback") == 0 ? OPTOUT_HISTORY_WAYBACK : OPTOUT_HISTORY_CC;
        v.scheme = strcmp(col[2], "https") == 0 ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
        snprintf(v.crawl, sizeof v.crawl, "%s", strcmp(col[3], "-") ? col[3] : "");
        v.first = strtoll(col[4], NULL, 10);
        v.last = strtoll(col[5], NULL, 10);
        v.status = atoi(col[6]);
        if (optout_outcome_parse(col[7], &v.outcome) != 0) {
            fprintf(stderr, "%s: bad outcome %s\n", path, col[7]);
            rc = -1;
            break;
        }
        v.redirect = strcmp(col[8], "-") ? col[8] : NULL;
        v.redirect_scheme = strcmp(col[9], "https") == 0 ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
        char *body = NULL;
        size_t blen = 0;
        if (strcmp(col[10], "-") != 0) {
            char bp[8192];
            snprintf(bp, sizeof bp, "%s/%s", dir, col[10]);
            if (!(body = slurp(bp, &blen))) {
                fprintf(stderr, "%s: cannot read\n", bp);
                rc = -1;
                break;
            }
        }
        if (add_capture(m, w, col[0], &v, body, blen) != 0) rc = -1;
        free(body);
    }
    free(dcopy);
    fclose(f);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--archive") == 0) {
        char err[1024];
        optout_history_writer *w = optout_history_writer_new(argv[3], 0, err, sizeof err);
        if (!w) {
            fprintf(stderr, "filter_mem: %s\n", err);
            return 1;
        }
        if (load_captures(argv[2], NULL, w) != 0) {
            optout_history_writer_abort(w);
            return 1;
        }
        if (optout_history_writer_commit(w, NULL, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "filter_mem: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (argc < 11) {
        fprintf(stderr, "usage: filter_mem CAPTURES ROBOTS_DIR IN OUT REMOVED STATS POLICY MISSING MAX_AGE_DAYS "
                        "REPORT_CUTOFF [AGENTS_FILE|-] [keep|disallow]\n");
        return 2;
    }
    optout_filter_history h = {0};
    int64_t report_cutoff;
    if (optout_robots_time_parse(argv[7], &h.time) != 0 || optout_history_missing_parse(argv[8], &h.missing) != 0 ||
        optout_history_parse_time(argv[10], strlen(argv[10]), &report_cutoff) != 0) {
        fprintf(stderr, "filter_mem: bad policy, missing or cutoff\n");
        return 2;
    }
    h.report_cutoff = report_cutoff;
    int64_t max_age = strtoll(argv[9], NULL, 10) * 86400;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    optout_agents *agents = optout_agents_new_default();
    if (argc > 11 && strcmp(argv[11], "-") != 0) {
        optout_agents_free(agents);
        agents = optout_agents_new();
        if (optout_agents_load(agents, argv[11], NULL) != 0) {
            fprintf(stderr, "filter_mem: agents %s\n", argv[11]);
            return 2;
        }
    }
    int strict = argc > 12 && strcmp(argv[12], "disallow") == 0;
    optout_history_mem *m = optout_history_mem_new();
    if (load_captures(argv[1], m, NULL) != 0) return 1;
    optout_history_source src = optout_history_mem_source(m);
    char err[1024];
    optout_verdicts *verdicts = optout_verdicts_open_dir(argv[2], agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err);
    if (!verdicts) {
        fprintf(stderr, "filter_mem: %s\n", err);
        return 1;
    }
    h.judge = optout_history_judge_new(&src, agents, OPTOUT_MODE_RFC9309, strict, max_age, 0);
    h.stats = malloc(sizeof *h.stats);
    optout_stats *stats = malloc(sizeof *stats);
    if (!h.judge || !h.stats || !stats) return 1;
    optout_stats_policy_init_run(h.stats, &h.time, report_cutoff, h.missing, max_age);
    optout_stats_init(stats);
    optout_filter_config cfg = {.agents = agents, .verdicts = verdicts, .unreachable_disallows = strict,
                                .history = &h};
    int rc = 0;
    if (optout_filter_shard(&cfg, argv[3], argv[4], optout_shard_format_of_name(argv[4]), argv[5], stats, err,
                            sizeof err) != 0) {
        fprintf(stderr, "filter_mem: %s\n", err);
        rc = 1;
    } else {
        char *extra = optout_stats_policy_json(h.stats, agents);
        FILE *f = fopen(argv[6], "w");
        if (!extra || !f || optout_stats_write_json(f, stats, agents, extra) != 0 || fclose(f) != 0) rc = 1;
        free(extra);
        char md[4096];
        snprintf(md, sizeof md, "%s.md", argv[6]);
        if (!(f = fopen(md, "w")) || optout_stats_policy_write_md(f, h.stats, agents) != 0 || fclose(f) != 0) rc = 1;
    }
    optout_history_judge_free(h.judge);
    optout_history_mem_free(m);
    optout_verdicts_free(verdicts);
    optout_agents_free(agents);
    free(h.stats);
    free(stats);
    return rc;
}
