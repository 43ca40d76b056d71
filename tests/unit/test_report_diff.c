/* test_report_diff.c — the documents two runs removed, compared (include/optout/report_diff.h):
 * keys (id, metadata.id, else URL; ids and URLs apart), duplicates, lines without a key, hidden and
 * temporary files skipped, subdirectories walked, and unreadable input named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "optout/report_diff.h"

#include "../support/testdir.h"

/* Writes a small shard (or any file) with the given text. */
static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_true(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static void test_compare(void **state) {
    (void)state;
    assert_int_equal(mkdir(tpath("a"), 0755), 0);
    assert_int_equal(mkdir(tpath("a/sub"), 0755), 0);
    assert_int_equal(mkdir(tpath("b"), 0755), 0);
    /* A: ids 1, 2, 3 (as metadata.id), URL http://x/, URL "5" (not id 5), a line that is not JSON */
    put(tpath("a/s1.jsonl"), "{\"id\": \"1\"}\n{\"id\": \"2\"}\n\n{\"metadata\": {\"id\": \"3\"}}\nnot json\n");
    put(tpath("a/sub/s2.jsonl"), "{\"url\": \"http://x/\"}\n{\"url\": \"5\", \"text\": \"t\"}\n");
    /* B: ids 2, 3, 4, 2 again, 5, a line without a key; hidden and temporary files are skipped */
    put(tpath("b/s.jsonl"), "{\"id\": \"2\"}\n{\"id\": \"3\"}\n{\"id\": \"4\"}\n{\"id\": \"2\"}\n{\"x\": 1}\n{\"id\": \"5\"}\n");
    put(tpath("b/.hidden.jsonl"), "{\"id\": \"9\"}\n");
    put(tpath("b/s.jsonl.tmp.123"), "{\"id\": \"8\"}\n");

    optout_removed_diff d;
    char err[512] = "";
    assert_int_equal(optout_removed_compare(tpath("a"), tpath("b"), &d, err, sizeof err), 0);
    assert_int_equal(d.both, 2);   /* ids 2 and 3 */
    assert_int_equal(d.only_a, 3); /* id 1, URL http://x/, URL 5 */
    assert_int_equal(d.only_b, 2); /* ids 4 and 5 */
    assert_int_equal(d.lines[0], 6);
    assert_int_equal(d.lines[1], 6);
    assert_int_equal(d.by_url[0], 2);
    assert_int_equal(d.by_url[1], 0);
    assert_int_equal(d.unkeyed[0], 1);
    assert_int_equal(d.unkeyed[1], 1);

    /* the same directory on both sides: everything in both */
    assert_int_equal(optout_removed_compare(tpath("b"), tpath("b"), &d, err, sizeof err), 0);
    assert_int_equal(d.both, 4);
    assert_int_equal(d.only_a + d.only_b, 0);
}

static void test_errors(void **state) {
    (void)state;
    optout_removed_diff d;
    char err[512] = "";
    assert_int_equal(mkdir(tpath("ok"), 0755), 0);
    assert_int_equal(optout_removed_compare(tpath("ok"), tpath("missing"), &d, err, sizeof err), -1);
    if (!strstr(err, tpath("missing"))) fail_msg("%s", err);
    assert_int_equal(mkdir(tpath("bad"), 0755), 0);
    put(tpath("bad/x.jsonl.zst"), "\x28\xb5\x2f\xfd then not a zstd frame"); /* zstd's magic, then garbage */
    err[0] = '\0';
    assert_int_equal(optout_removed_compare(tpath("bad"), tpath("ok"), &d, err, sizeof err), -1);
    if (!strstr(err, "x.jsonl.zst")) fail_msg("%s", err);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_compare), cmocka_unit_test(test_errors)};
    /* one directory for both tests: they use different names in it */
    if (testdir_create("test_report_diff") != 0) return 1;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    testdir_remove();
    return failed;
}
