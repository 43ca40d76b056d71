/* test_tags.c — tag mode's lines and optout_apply_tags (include/optout/tags.h, docs/tags.md).
 *
 * Shards and tags files are plain JSON Lines written by hand here (the shard reader and writer take
 * plain files as well as compressed ones); the expected outputs are spelled out byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/tags.h"

#include "../support/testdir.h"

/* ---- names and lines ------------------------------------------------------------------------ */

static void test_tags_name(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"x.jsonl.gz", "x.jsonl.zst"},
        {"x.jsonl", "x.jsonl.zst"},
        {"x.jsonl.zst", "x.jsonl.zst"},
        {"CC-MAIN-2024-10/000_00000.jsonl.gz", "CC-MAIN-2024-10/000_00000.jsonl.zst"},
        {"gz", "gz.zst"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        optout_tags_name(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].out);
    }
}

static optout_agents *agents_of(const char *const *names, size_t n) {
    optout_agents *a = optout_agents_new();
    assert_non_null(a);
    for (size_t i = 0; i < n; i++) assert_int_equal(optout_agents_add(a, names[i], strlen(names[i])), 0);
    return a;
}

static void test_agents_json(void **state) {
    (void)state;
    const char *names[] = {"GPTBot", "Odd\"Bot", "Back\\Bot", "*"};
    optout_agents *a = agents_of(names, 4);
    optout_agentset set;
    optout_agentset_clear(&set);
    char *buf = NULL;
    size_t cap = 0;
    size_t n = optout_tags_agents_json(a, &set, &buf, &cap);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "[]", 2);
    /* list order whatever the order of adding, quotes and backslashes escaped */
    optout_agentset_add(&set, 3);
    optout_agentset_add(&set, 1);
    optout_agentset_add(&set, 2);
    optout_agentset_add(&set, 0);
    n = optout_tags_agents_json(a, &set, &buf, &cap);
    const char *want = "[\"GPTBot\",\"Odd\\\"Bot\",\"Back\\\\Bot\",\"*\"]";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    free(buf);
    optout_agents_free(a);
}

static void test_removed_line(void **state) {
    (void)state;
    char *buf = NULL;
    size_t cap = 0;
    const char *arr = "[\"CCBot\"]";
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{\"a\":1}", "{\"a\":1, \"disallowed_user_agents\": [\"CCBot\"]}"},
        {"{}", "{\"disallowed_user_agents\": [\"CCBot\"]}"},
        {"{ }", "{ \"disallowed_user_agents\": [\"CCBot\"]}"},
        {"{\"t\":\"}\"}", "{\"t\":\"}\", \"disallowed_user_agents\": [\"CCBot\"]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = optout_tags_removed_line(cases[i].in, strlen(cases[i].in), arr, strlen(arr), &buf, &cap);
        if (n != strlen(cases[i].want) || memcmp(buf, cases[i].want, n) != 0)
            fail_msg("removed line of %s: got %.*s, want %s", cases[i].in, (int)n, buf, cases[i].want);
    }
    free(buf);
}

static void test_tag_line(void **state) {
    (void)state;
    char *buf = NULL;
    size_t cap = 0;
    const char *arr = "[\"*\"]";
    /* a string value is decoded and written by json.h: one rendering for every spelling */
    optout_json_value str = {.s = "a\\u0062\\/", .len = 9, .present = 1, .is_string = 1, .has_escapes = 1};
    size_t n = optout_tags_line(&str, 5, arr, strlen(arr), &buf, &cap);
    const char *want = "{\"id\": \"ab/\", \"disallowed_user_agents\": [\"*\"]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    /* a Parquet id: the string's bytes, quotes, control characters and invalid UTF-8 included */
    optout_json_value bytes = {.s = "q\"\t\xff\xc3\xa9", .len = 6, .present = 1, .is_string = 1};
    n = optout_tags_line(&bytes, 5, arr, strlen(arr), &buf, &cap);
    want = "{\"id\": \"q\\\"\\t\\ufffd\xc3\xa9\", \"disallowed_user_agents\": [\"*\"]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    optout_json_value num = {.s = "42", .len = 2, .present = 1};
    n = optout_tags_line(&num, 5, arr, strlen(arr), &buf, &cap);
    want = "{\"id\": 42, \"disallowed_user_agents\": [\"*\"]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    /* absent and null: by line number */
    optout_json_value absent = {0};
    n = optout_tags_line(&absent, 17, arr, strlen(arr), &buf, &cap);
    want = "{\"line\": 17, \"disallowed_user_agents\": [\"*\"]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    optout_json_value null = {.s = "null", .len = 4, .present = 1};
    n = optout_tags_line(&null, 18, arr, strlen(arr), &buf, &cap);
    want = "{\"line\": 18, \"disallowed_user_agents\": [\"*\"]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    free(buf);
}

/* ---- applying ------------------------------------------------------------------------------- */

static const char *SHARD = "{\"id\":\"ab\",\"text\":\"one\"}\n"
                           "\n"
                           "{\"metadata\":{\"id\":7},\"text\":\"two\"}\n"
                           "not json\n"
                           "{\"text\":\"no id\"}\n"
                           "{\"id\":\"keep\"}\n";

static int apply(const char *tags, const char *in, int with_removed, optout_apply_stats *st, char *err,
                 size_t errlen) {
    optout_apply_config cfg = {0};
    memset(st, 0, sizeof *st);
    return optout_apply_tags(&cfg, tags, in, tpath("out.jsonl"), OPTOUT_FORMAT_PLAIN,
                             with_removed ? tpath("removed.jsonl") : NULL, st, err, errlen);
}

static void test_apply(void **state) {
    (void)state;
    const char *in = twrite("in.jsonl", SHARD);
    /* an escaped id matches the decoded one; metadata.id by its text; line 5 by number */
    const char *tags = twrite("tags.jsonl", "{\"id\": \"a\\u0062\", \"disallowed_user_agents\": [\"GPTBot\"]}\n"
                                                "{\"id\": 7, \"disallowed_user_agents\": []}\n"
                                                "{\"line\": 5, \"disallowed_user_agents\": [\"*\",\"CCBot\"]}\n");
    optout_apply_stats st;
    char err[512] = "";
    if (apply(tags, in, 1, &st, err, sizeof err) != 0) fail_msg("apply: %s", err);
    assert_true(tfile_is(tpath("out.jsonl"), "\nnot json\n{\"id\":\"keep\"}\n"));
    assert_true(tfile_is(tpath("removed.jsonl"),
                "{\"id\":\"ab\",\"text\":\"one\", \"disallowed_user_agents\": [\"GPTBot\"]}\n"
                "{\"metadata\":{\"id\":7},\"text\":\"two\", \"disallowed_user_agents\": []}\n"
                "{\"text\":\"no id\", \"disallowed_user_agents\": [\"*\",\"CCBot\"]}\n"));
    assert_int_equal(st.tags, 3);
    assert_int_equal(st.lines, 6);
    assert_int_equal(st.docs_in, 5);
    assert_int_equal(st.docs_removed, 3);
    assert_int_equal(st.duplicate_matches, 0);
}

static void test_apply_duplicate_ids(void **state) {
    (void)state;
    const char *in = twrite("dup.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":1}\n");
    const char *tags = twrite("dup.tags", "{\"id\": 1, \"disallowed_user_agents\": [\"X\"]}\n");
    optout_apply_stats st;
    char err[512] = "";
    if (apply(tags, in, 0, &st, err, sizeof err) != 0) fail_msg("apply: %s", err);
    assert_true(tfile_is(tpath("out.jsonl"), "{\"id\":2}\n"));
    assert_int_equal(st.docs_removed, 2);
    assert_int_equal(st.duplicate_matches, 1);
}

/* A tag written by optout_tags_line for an id with a byte that is not UTF-8 (written \ufffd)
 * matches its document: ids are compared as json.h renders them. */
static void test_apply_invalid_utf8_id(void **state) {
    (void)state;
    const char *in = twrite("bad8.jsonl", "{\"id\":\"x\xff\"}\n{\"id\":\"y\"}\n");
    optout_json_value id = {.s = "x\xff", .len = 2, .present = 1, .is_string = 1};
    char *buf = NULL;
    size_t cap = 0;
    size_t n = optout_tags_line(&id, 1, "[]", 2, &buf, &cap);
    char line[128];
    snprintf(line, sizeof line, "%.*s\n", (int)n, buf);
    free(buf);
    const char *tags = twrite("bad8.tags", line);
    optout_apply_stats st;
    char err[512] = "";
    if (apply(tags, in, 0, &st, err, sizeof err) != 0) fail_msg("apply: %s", err);
    assert_true(tfile_is(tpath("out.jsonl"), "{\"id\":\"y\"}\n"));
    assert_int_equal(st.docs_removed, 1);
}

/* A tag that matches no document fails the shard, and nothing is published. */
static void test_apply_unmatched_tag(void **state) {
    (void)state;
    const char *in = twrite("in2.jsonl", SHARD);
    const char *tags = twrite("stray.tags", "{\"id\": \"ab\", \"disallowed_user_agents\": []}\n"
                                                "{\"id\": \"nowhere\", \"disallowed_user_agents\": []}\n");
    unlink(tpath("out.jsonl"));
    unlink(tpath("removed.jsonl"));
    optout_apply_stats st;
    char err[512] = "";
    assert_int_equal(apply(tags, in, 1, &st, err, sizeof err), -1);
    assert_true(err[0] != 0);
    assert_int_equal(access(tpath("out.jsonl"), F_OK), -1);
    assert_int_equal(access(tpath("removed.jsonl"), F_OK), -1);
}

/* Malformed tags files: the error names the file and the line. */
static void test_apply_bad_tags(void **state) {
    (void)state;
    const char *in = twrite("in3.jsonl", SHARD);
    static const char *bad[] = {
        "not json",
        "{\"id\": \"ab\"}",                                      /* no agents */
        "{\"id\": \"ab\", \"disallowed_user_agents\": \"GPTBot\"}", /* not an array */
        "{\"id\": \"ab\", \"disallowed_user_agents\": [1]}",     /* not strings */
        "{\"disallowed_user_agents\": []}",                      /* neither id nor line */
        "{\"id\": null, \"disallowed_user_agents\": []}",        /* a null id */
        "{\"line\": 0, \"disallowed_user_agents\": []}",         /* lines count from 1 */
        "{\"line\": -3, \"disallowed_user_agents\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"id\": \"keep\", \"disallowed_user_agents\": []}\n%s\n", bad[i]);
        const char *tags = twrite("bad.tags", text);
        optout_apply_stats st;
        char err[512] = "";
        if (apply(tags, in, 0, &st, err, sizeof err) != -1) fail_msg("accepted the tag line %s", bad[i]);
        if (!strstr(err, "bad.tags") || !strstr(err, "2")) fail_msg("error for %s: %s", bad[i], err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_name),           cmocka_unit_test(test_agents_json),
        cmocka_unit_test(test_removed_line),        cmocka_unit_test(test_tag_line),
        cmocka_unit_test(test_apply),               cmocka_unit_test(test_apply_duplicate_ids), cmocka_unit_test(test_apply_invalid_utf8_id),
        cmocka_unit_test(test_apply_unmatched_tag), cmocka_unit_test(test_apply_bad_tags),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
