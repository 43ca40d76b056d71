/* test_filter.c — one shard through the filter (include/optout/filter.h), with a robots directory
 * written here, and the document classifiers (language class, year).
 *
 * The expected outputs are the input lines picked by hand (kept byte for byte, removed with their
 * agents), the expected statistics counted by hand from the shard below.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/filter.h"

#include "../support/testdir.h"

static optout_agents *agents;
static optout_verdicts *verdicts;

/* robots/: a.test disallows GPTBot /private/ and everyone /all-off/; b.test allows everything;
 * c.test has no file (no_robots). Agents: GPTBot, CCBot, *. */
static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (testdir_create("test_filter") != 0) return -1;
    if (mkdir(tpath("robots"), 0755) != 0) return -1;
    FILE *f = fopen(tpath("robots/a.test"), "w");
    if (!f) return -1;
    fputs("User-agent: GPTBot\nDisallow: /private/\n\nUser-agent: *\nDisallow: /all-off/\n", f);
    fclose(f);
    f = fopen(tpath("robots/b.test"), "w");
    if (!f) return -1;
    fputs("User-agent: *\nAllow: /\n", f);
    fclose(f);
    agents = optout_agents_new();
    if (!agents || optout_agents_add(agents, "GPTBot", 6) || optout_agents_add(agents, "CCBot", 5) ||
        optout_agents_add(agents, "*", 1))
        return -1;
    char err[256];
    verdicts = optout_verdicts_open_dir(tpath("robots"), agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err);
    if (!verdicts) {
        fprintf(stderr, "open_dir: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    optout_verdicts_free(verdicts);
    optout_agents_free(agents);
    int rc = testdir_remove();
    curl_global_cleanup();
    return rc;
}

/* ---- classifiers ---------------------------------------------------------------------------- */

static void test_language_class(void **state) {
    (void)state;
    static const struct {
        const char *v;
        int present;
        optout_class want;
    } cases[] = {
        {"en", 1, OPTOUT_CLASS_EN},      {"eng", 1, OPTOUT_CLASS_EN},        {"eng_Latn", 1, OPTOUT_CLASS_EN},
        {"de", 1, OPTOUT_CLASS_NON_EN},  {"english", 1, OPTOUT_CLASS_NON_EN}, {"engl", 1, OPTOUT_CLASS_NON_EN},
        {"eng_", 1, OPTOUT_CLASS_NON_EN}, {"e", 1, OPTOUT_CLASS_NON_EN},     {"", 1, OPTOUT_CLASS_UNKNOWN},
        {"en", 0, OPTOUT_CLASS_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optout_class c = optout_language_class(cases[i].v, strlen(cases[i].v), cases[i].present);
        if (c != cases[i].want) fail_msg("class of \"%s\" (present %d): %d", cases[i].v, cases[i].present, c);
    }
}

static void test_document_year(void **state) {
    (void)state;
    static const struct {
        const char *dump, *date;
        int want;
    } cases[] = {
        {"CC-MAIN-2019-35", NULL, 2019},
        {"CC-MAIN-2019-35", "2021-01-01", 2019}, /* the dump first */
        {NULL, "2021-05-06T00:00:00Z", 2021},
        {"not-a-dump", "2018-01-01", 2018},      /* an unusable dump: the date */
        {"CC-MAIN-20x9", "2017", 2017},
        {"CC-MAIN-", NULL, 0},
        {NULL, "21-05-06", 0},
        {NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *d = cases[i].dump, *t = cases[i].date;
        int y = optout_document_year(d, d ? strlen(d) : 0, t, t ? strlen(t) : 0);
        if (y != cases[i].want) fail_msg("year of (%s, %s): %d, want %d", d ? d : "-", t ? t : "-", y, cases[i].want);
    }
}

/* ---- one shard ------------------------------------------------------------------------------ */

#define L_KEEP_A "{\"url\":\"http://a.test/public\",\"text\":\"abcd\",\"language\":\"en\"}"
#define L_GPT "{\"url\":\"http://a.test/private/x\",\"text\":\"abcdefgh\",\"language\":\"en\",\"dump\":\"CC-MAIN-2020-05\"}"
#define L_ALL "{\"url\":\"http://a.test/all-off/\" , \"text\":\"\xc3\xa9t\xc3\xa9\",\"token_count\":7}"
#define L_B "{\"url\":\"http://b.test/private/x\",\"text\":\"x\",\"language\":\"de\"}"
#define L_C "{\"url\":\"http://c.test/private/\",\"text\":\"xy\"}"
#define L_BAD "not json at all"
#define L_NOURL "{\"text\":\"abc\"}"

static optout_stats *new_stats(void) {
    optout_stats *st = malloc(sizeof *st);
    assert_non_null(st);
    optout_stats_init(st);
    return st;
}

static optout_filter_config config(void) {
    optout_filter_config c = {.agents = agents, .verdicts = verdicts, .host_key = OPTOUT_HOSTKEY_CANONICAL};
    return c;
}

static void test_filter_shard(void **state) {
    (void)state;
    const char *in = twrite("in.jsonl", L_KEEP_A "\n" L_GPT "\n" L_ALL "\n" L_B "\n" L_C "\n" L_BAD "\n"
                                            L_NOURL "\n");
    optout_filter_config c = config();
    optout_stats *st = new_stats();
    char err[512] = "";
    int rc = optout_filter_shard(&c, in, tpath("out.jsonl"), OPTOUT_FORMAT_PLAIN, tpath("removed.jsonl"), st, err,
                                 sizeof err);
    if (rc != 0) fail_msg("filter: %s", err);
    /* kept: byte for byte, bad input included */
    assert_true(tfile_is(tpath("out.jsonl"), L_KEEP_A "\n" L_B "\n" L_C "\n" L_BAD "\n" L_NOURL "\n"));
    /* removed: the agents in list order; /all-off/ is the * group's, which CCBot and * follow
     * (GPTBot has its own group, which does not disallow it) */
    assert_true(tfile_is(tpath("removed.jsonl"),
                "{\"url\":\"http://a.test/private/x\",\"text\":\"abcdefgh\",\"language\":\"en\",\"dump\":\"CC-MAIN-2020-05\", "
                "\"disallowed_user_agents\": [\"GPTBot\"]}\n"
                "{\"url\":\"http://a.test/all-off/\" , \"text\":\"\xc3\xa9t\xc3\xa9\",\"token_count\":7, "
                "\"disallowed_user_agents\": [\"CCBot\",\"*\"]}\n"));
    /* every line is a document, bad ones too (kept, and counted apart as well) */
    assert_int_equal(st->total.docs_in, 7);
    assert_int_equal(st->total.docs_removed, 2);
    /* bytes 4 + 8 + 5 + 1 + 2 + 0 (not JSON: no text) + 3; chars: "été" is 3 code points */
    assert_int_equal(st->total.bytes_in, 23);
    assert_int_equal(st->total.bytes_removed, 13);
    assert_int_equal(st->total.chars_in, 21);
    /* tokens ceil(bytes/4): 1 + 2 + 7 (given) + 1 + 1 + 0 + 1 */
    assert_int_equal(st->total.tokens_in, 13);
    assert_int_equal(st->total.tokens_removed, 9);
    assert_int_equal(st->by_class[OPTOUT_CLASS_EN].docs_in, 2);
    assert_int_equal(st->by_class[OPTOUT_CLASS_NON_EN].docs_in, 1);
    assert_int_equal(st->by_class[OPTOUT_CLASS_UNKNOWN].docs_in, 4);
    assert_int_equal(st->by_agent[0].docs_removed, 1);
    assert_int_equal(st->by_agent[1].docs_removed, 1);
    assert_int_equal(st->by_agent[2].docs_removed, 1);
    assert_int_equal(st->any_agent.docs_removed, 2);
    assert_int_equal(st->bad_json, 1);
    assert_int_equal(st->no_url, 1);
    assert_int_equal(st->docs_by_outcome[OPTOUT_OUTCOME_OK], 4);
    assert_int_equal(st->docs_by_outcome[OPTOUT_OUTCOME_NO_ROBOTS], 1);
    assert_int_equal(st->by_year[optout_stats_year_slot(2020)].docs_in, 1);
    assert_int_equal(st->tokens_estimated_docs, 5);

    /* stats add up: the same shard again doubles every count */
    rc = optout_filter_shard(&c, in, tpath("out2.jsonl"), OPTOUT_FORMAT_PLAIN, NULL, st, err, sizeof err);
    if (rc != 0) fail_msg("filter: %s", err);
    assert_int_equal(st->total.docs_in, 14);
    assert_int_equal(st->bad_json, 2);
    assert_int_equal(access(tpath("out2.jsonl"), F_OK), 0);
    free(st);
}

/* A dump value holding a crawl id inside a Common Crawl path (Dolma's metadata.cc_segment via
 * --dump-field) counts as that crawl in the report's dumps and years, as it judges the document;
 * a plain crawl id and a value holding none are counted as they are. */
static void test_filter_dump_path(void **state) {
    (void)state;
    const char *in = twrite("dumps.jsonl",
                            "{\"url\":\"http://b.test/x\",\"text\":\"abcd\",\"metadata\":{\"cc_segment\":"
                            "\"crawl-data/CC-MAIN-2019-35/segments/1566027313501.0/warc/x.warc.gz\"}}\n"
                            "{\"url\":\"http://b.test/y\",\"text\":\"abcd\",\"metadata\":{\"cc_segment\":\"CC-MAIN-2020-05\"}}\n"
                            "{\"url\":\"http://b.test/z\",\"text\":\"abcd\",\"date\":\"2016-02-03\","
                            "\"metadata\":{\"cc_segment\":\"segments/none/x.warc.gz\"}}\n");
    optout_filter_config c = config();
    c.dump_field = "metadata.cc_segment";
    optout_stats *st = new_stats();
    char err[512] = "";
    if (optout_filter_shard(&c, in, tpath("dumps.out.jsonl"), OPTOUT_FORMAT_PLAIN, NULL, st, err, sizeof err) != 0)
        fail_msg("filter: %s", err);
    assert_int_equal(st->by_year[optout_stats_year_slot(2019)].docs_in, 1);
    assert_int_equal(st->by_year[optout_stats_year_slot(2020)].docs_in, 1);
    assert_int_equal(st->by_year[optout_stats_year_slot(2016)].docs_in, 1); /* no crawl id: the date */
    assert_int_equal(st->dump_count, 2);
    assert_string_equal(st->by_dump[0].name, "CC-MAIN-2019-35");
    assert_string_equal(st->by_dump[1].name, "CC-MAIN-2020-05");
    assert_int_equal(st->dump_other.docs_in, 1);
    free(st);
}

/* Filtering `in` fails with an error naming it, and neither output appears. */
static void assert_shard_fails(const char *in, const char *name) {
    optout_filter_config c = config();
    optout_stats *st = new_stats();
    char err[512] = "";
    assert_int_equal(optout_filter_shard(&c, in, tpath("o.jsonl"), OPTOUT_FORMAT_PLAIN, tpath("r.jsonl"), st, err,
                                         sizeof err),
                     -1);
    if (!strstr(err, name)) fail_msg("the error does not name %s: %s", name, err);
    assert_int_equal(access(tpath("o.jsonl"), F_OK), -1);
    assert_int_equal(access(tpath("r.jsonl"), F_OK), -1);
    free(st);
}

/* A missing input; a truncated gzip input, which fails after some lines were read. */
static void test_filter_bad_inputs(void **state) {
    (void)state;
    assert_shard_fails(tpath("absent.jsonl"), "absent.jsonl");
    char cmd[512];
    twrite("gz.jsonl", L_KEEP_A "\n" L_GPT "\n" L_B "\n");
    snprintf(cmd, sizeof cmd, "gzip -c '%s' | head -c 40 > '%s'", tpath("gz.jsonl"), tpath("cut.jsonl.gz"));
    assert_int_equal(system(cmd), 0);
    assert_shard_fails(tpath("cut.jsonl.gz"), "cut.jsonl.gz");
}

/* Tag mode: the removed documents as tags (by id, else by line number), the full statistics. */
static void test_filter_tags_mode(void **state) {
    (void)state;
    const char *in = twrite("t.jsonl", "{\"id\":\"k\",\"url\":\"http://a.test/\"}\n"
                                           "{\"id\":\"r\",\"url\":\"http://a.test/private/\"}\n"
                                           "{\"url\":\"http://a.test/all-off/\"}\n");
    optout_filter_config c = config();
    c.output_tags = 1;
    optout_stats *st = new_stats();
    char err[512] = "";
    if (optout_filter_shard(&c, in, tpath("t.tags"), OPTOUT_FORMAT_PLAIN, NULL, st, err, sizeof err) != 0)
        fail_msg("filter: %s", err);
    assert_true(tfile_is(tpath("t.tags"), "{\"id\": \"r\", \"disallowed_user_agents\": [\"GPTBot\"]}\n"
                                 "{\"line\": 3, \"disallowed_user_agents\": [\"CCBot\",\"*\"]}\n"));
    /* the statistics are a full run's */
    assert_int_equal(st->total.docs_in, 3);
    assert_int_equal(st->total.docs_removed, 2);
    free(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_language_class),       cmocka_unit_test(test_document_year),
        cmocka_unit_test(test_filter_shard),         cmocka_unit_test(test_filter_bad_inputs),
        cmocka_unit_test(test_filter_tags_mode),      cmocka_unit_test(test_filter_dump_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
