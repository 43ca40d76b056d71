/* report_fixture.c — hand-built statistics for the report tests (tests/report/test_report.py).
 *   report_fixture write DIR a|b|empty   writes DIR/report.{msgpack,json,md} and loss-by-year.svg
 *   report_fixture roundtrip              encode -> decode -> encode gives the same bytes; bad input
 *                                         is refused; a missing report.msgpack is ENOENT
 * Exit 0 on success, 1 with a message otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/report.h"

static optout_bucket B(uint64_t di, uint64_t dr, uint64_t bi, uint64_t br, uint64_t ci, uint64_t cr, uint64_t ti,
                       uint64_t tr) {
    optout_bucket b = {di, dr, bi, br, ci, cr, ti, tr};
    return b;
}

static optout_bucket sum(optout_bucket a, optout_bucket b) {
    return B(a.docs_in + b.docs_in, a.docs_removed + b.docs_removed, a.bytes_in + b.bytes_in,
             a.bytes_removed + b.bytes_removed, a.chars_in + b.chars_in, a.chars_removed + b.chars_removed,
             a.tokens_in + b.tokens_in, a.tokens_removed + b.tokens_removed);
}

static const char *const FAILED_IN[] = {"shards/x.jsonl.gz"};
static const char *const FAILED_ERR[] = {"corrupt \"gzip\" data at byte 12\n| next"};
static const uint64_t HOSTS[OPTOUT_OUTCOME_COUNT] = {5, 3, 1, 0, 2, 0};
static const uint64_t NAMED[3] = {4, 0, 0}; /* GPTBot named by 4 files, CCBot/2.0 by none, `*` by none */

/* Variant a: English, non-English, two years, three agents, a failed task, a ranking, fetch counts. */
static void variant_a(optout_stats *s, optout_agents *ag, optout_report_info *info) {
    optout_agents_add(ag, "GPTBot", 6);
    optout_agents_add(ag, "CCBot/2.0", 9);
    optout_agents_add(ag, "*", 1);
    s->by_class[OPTOUT_CLASS_EN] = B(1000, 80, 400000, 32000, 390000, 31000, 100000, 8000);
    s->by_class[OPTOUT_CLASS_NON_EN] = B(500, 20, 200000, 8000, 150000, 6000, 50000, 2000);
    s->total = sum(s->by_class[0], s->by_class[1]);
    s->by_year[optout_stats_year_slot(2015)] = B(700, 40, 280000, 16000, 250000, 15000, 70000, 3500);
    s->by_year[optout_stats_year_slot(2019)] = B(800, 60, 320000, 24000, 290000, 22000, 80000, 6500);
    s->by_year_class[optout_stats_year_slot(2015)][OPTOUT_CLASS_EN] = B(500, 30, 200000, 12000, 180000, 11000, 50000, 3000);
    s->by_year_class[optout_stats_year_slot(2015)][OPTOUT_CLASS_NON_EN] = B(200, 10, 80000, 4000, 70000, 4000, 20000, 500);
    s->by_year_class[optout_stats_year_slot(2019)][OPTOUT_CLASS_EN] = B(500, 50, 200000, 20000, 210000, 20000, 50000, 5000);
    s->by_year_class[optout_stats_year_slot(2019)][OPTOUT_CLASS_NON_EN] = B(300, 10, 120000, 4000, 80000, 2000, 30000, 1500);
    s->dump_count = 2;
    strcpy(s->by_dump[0].name, "CC-MAIN-2019-35"); /* name order differs from insertion order */
    s->by_dump[0].b = s->by_year[optout_stats_year_slot(2019)];
    strcpy(s->by_dump[1].name, "CC-MAIN-2015-14");
    s->by_dump[1].b = s->by_year[optout_stats_year_slot(2015)];
    optout_host_loss top[2] = {{.host = "a.example", .docs_removed = 60, .tokens_removed = 4000},
                               {.host = "b.example", .docs_removed = 30, .tokens_removed = 6000}};
    optout_stats_add_host_losses(s, top, 2);
    s->by_agent[0] = B(1500, 90, 600000, 36000, 540000, 33000, 150000, 9000);
    s->by_agent[1] = B(1500, 50, 600000, 22000, 540000, 20000, 150000, 5000);
    s->by_agent[2] = B(1500, 10, 600000, 4400, 540000, 4000, 150000, 1000);
    s->any_agent = B(1500, 100, 600000, 40000, 540000, 37000, 150000, 10000);
    s->docs_by_outcome[OPTOUT_OUTCOME_OK] = 900;
    s->docs_by_outcome[OPTOUT_OUTCOME_NO_ROBOTS] = 600;
    s->bad_json = 3;
    s->line_too_long = 1;
    s->tokens_estimated_docs = 5;
    *info = (optout_report_info){
        .mode = "rfc9309", .tasks = 4, .failed = 1, .failed_inputs = FAILED_IN, .failed_errors = FAILED_ERR,
        .agents_name = "test-agents.txt",
        .agents_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .host_key = "canonical", .unreachable = "keep", .robots_source = "fetched",
        .robots_from = "2025-01-01T00:00:00Z", .robots_to = "2025-01-02T12:00:00Z", .top_en = 1000000,
        .top_non_en = 1000000, .metric = "tokens", .hosts_by_outcome = HOSTS, .hosts_planned = 11, .complete = 0,
        .settings = {[OPTOUT_SET_GRANULARITY] = "url", [OPTOUT_SET_ROBOTS_TIME] = "current",
                     [OPTOUT_SET_KEEP_HOSTS] = "/lists/keep.txt", [OPTOUT_SET_KEEP_HOSTS_SHA256] = "ab12",
                     [OPTOUT_SET_REMOVE_HOSTS] = "none", [OPTOUT_SET_SAMPLE] = "none", [OPTOUT_SET_OUTPUT] = "shards",
                     [OPTOUT_SET_REMOVED] = "yes", [OPTOUT_SET_OUTPUT_FORMAT] = "same", [OPTOUT_SET_MISSING_URL] = "fail"},
        .agent_named = NAMED, .robots_parsed = 5,
    };
}

/* Variant b: another mode and agent list, complete, no ranking, no host counts, no bad input. */
static void variant_b(optout_stats *s, optout_agents *ag, optout_report_info *info) {
    optout_agents_add(ag, "GPTBot", 6);
    optout_agents_add(ag, "ClaudeBot", 9);
    s->by_class[OPTOUT_CLASS_EN] = B(1000, 70, 400000, 28000, 390000, 27000, 100000, 7000);
    s->by_class[OPTOUT_CLASS_NON_EN] = B(500, 25, 200000, 10000, 150000, 7500, 50000, 2500);
    s->by_class[OPTOUT_CLASS_UNKNOWN] = B(10, 0, 1000, 0, 1000, 0, 250, 0);
    s->total = sum(sum(s->by_class[0], s->by_class[1]), s->by_class[2]);
    s->by_year[optout_stats_year_slot(2024)] = B(1500, 95, 600000, 38000, 540000, 34500, 150000, 9500);
    s->by_year[OPTOUT_YEARS - 1] = B(10, 0, 1000, 0, 1000, 0, 250, 0);
    s->by_year_class[optout_stats_year_slot(2024)][OPTOUT_CLASS_EN] = B(1000, 70, 400000, 28000, 390000, 27000, 100000, 7000);
    s->by_year_class[OPTOUT_YEARS - 1][OPTOUT_CLASS_UNKNOWN] = B(10, 0, 1000, 0, 1000, 0, 250, 0);
    s->by_agent[0] = B(1510, 60, 601000, 24000, 541000, 23000, 150250, 6000);
    s->by_agent[1] = B(1510, 80, 601000, 32000, 541000, 30000, 150250, 8000);
    s->any_agent = B(1510, 95, 601000, 38000, 541000, 34500, 150250, 9500);
    s->docs_by_outcome[OPTOUT_OUTCOME_OK] = 1510;
    *info = (optout_report_info){.mode = "protego", .tasks = 4, .agents_name = "apertus-paper (built in)",
                                 .host_key = "netloc", .unreachable = "disallow", .robots_dir = "/data/robots",
                                 .complete = 1,
                                 .settings = {[OPTOUT_SET_GRANULARITY] = "domain", [OPTOUT_SET_ROBOTS_TIME] = "current",
                                              [OPTOUT_SET_KEEP_HOSTS] = "none", [OPTOUT_SET_REMOVE_HOSTS] = "none",
                                              [OPTOUT_SET_SAMPLE] = "0.1", [OPTOUT_SET_OUTPUT] = "tags",
                                              [OPTOUT_SET_REMOVED] = "no", [OPTOUT_SET_OUTPUT_FORMAT] = "same",
                                              [OPTOUT_SET_MISSING_URL] = "fail"}};
}

static int fail(const char *what) {
    fprintf(stderr, "report_fixture: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    return 1;
}

static int roundtrip(void) {
    optout_stats *s = calloc(1, sizeof *s);
    optout_agents *ag = optout_agents_new();
    optout_report_info info;
    variant_a(s, ag, &info);
    void *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    char err[512] = "";
    optout_report_loaded l;
    if (optout_report_encode(s, ag, &info, &b1, &l1) != 0) return fail("encode");
    if (optout_report_decode(b1, l1, &l, err, sizeof err) != 0) return fail(err);
    if (memcmp(l.stats, s, sizeof *s) != 0) return fail("decoded stats differ");
    if (strcmp(l.info.failed_errors[0], FAILED_ERR[0]) != 0 || l.info.hosts_by_outcome[4] != 2 ||
        strcmp(l.info.robots_dir, "fetched") != 0 || l.info.complete != 0 || l.info.top_en != 1000000 ||
        strcmp(l.info.settings[OPTOUT_SET_KEEP_HOSTS_SHA256], "ab12") != 0 || l.info.settings[OPTOUT_SET_REMOVE_HOSTS_SHA256] ||
        l.info.robots_parsed != 5 || !l.info.agent_named || l.info.agent_named[0] != 4)
        return fail("decoded info differs");
    if (optout_report_encode(l.stats, l.agents, &l.info, &b2, &l2) != 0) return fail("re-encode");
    if (l1 != l2 || memcmp(b1, b2, l1) != 0) return fail("re-encoded bytes differ");
    optout_report_loaded_free(&l);
    /* every truncation is refused, and so are a wrong format and trailing bytes */
    for (size_t n = 0; n < l1; n++)
        if (optout_report_decode(b1, n, &l, err, sizeof err) == 0) return fail("a truncated report was accepted");
    char *plus = malloc(l1 + 1);
    memcpy(plus, b1, l1);
    plus[l1] = 0;
    if (optout_report_decode(plus, l1 + 1, &l, err, sizeof err) == 0) return fail("trailing bytes were accepted");
    static const unsigned char other[] = {0x81, 0xa6, 'f', 'o', 'r', 'm', 'a', 't', 0xa1, 'x'};
    if (optout_report_decode(other, sizeof other, &l, err, sizeof err) == 0 || !strstr(err, "not an optout report"))
        return fail("another format was accepted");
    errno = 0;
    if (optout_report_load("/nonexistent-optout-dir", &l, err, sizeof err) == 0 || errno != ENOENT)
        return fail("a missing report.msgpack is not ENOENT");
    free(plus);
    free(b1);
    free(b2);
    free(s);
    optout_agents_free(ag);
    puts("roundtrip: ok");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "roundtrip") == 0) return roundtrip();
    if (argc != 4 || strcmp(argv[1], "write") != 0) {
        fputs("usage: report_fixture write DIR a|b|empty | report_fixture roundtrip\n", stderr);
        return 2;
    }
    optout_stats *s = calloc(1, sizeof *s);
    optout_agents *ag = optout_agents_new();
    optout_report_info info = {.mode = "rfc9309", .complete = 1};
    if (strcmp(argv[3], "a") == 0) variant_a(s, ag, &info);
    else if (strcmp(argv[3], "b") == 0) variant_b(s, ag, &info);
    else {
        optout_agents_free(ag);
        ag = optout_agents_new_default();
    }
    char err[1024];
    int rc = optout_report_write(argv[2], s, ag, &info, err, sizeof err);
    if (rc != 0) fprintf(stderr, "report_fixture: %s\n", err);
    free(s);
    optout_agents_free(ag);
    return rc ? 1 : 0;
}
