/* test_result.c — the table of outputs each task must stage and the link-free path walk
 * (broker/result.h).
 *
 * result_expect_files is checked against the table of docs/fleet-protocol.md ("Outputs"), written
 * out here row by row, and a WAYBACK result's counters against their rules; result_open_parent and
 * result_check_file against a tree built here: a linked directory or file is refused (ELOOP /
 * ENOTDIR), a directory or FIFO in a file's place and a wrong size are refused, a plain file of the
 * right size is accepted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "result.h"

#include "../support/testdir.h"

static int setup(void **state) {
    (void)state;
    return testdir_create("test_result");
}
static int teardown(void **state) {
    (void)state;
    return testdir_remove();
}

static void expect_sample(optout_task_kind kind, const char *o, int removed, int tags, int sample,
                          const char *const *names) {
    struct result_expect x;
    assert_int_equal(result_expect_files(kind, o, removed, tags, sample, 0, 0, 3, &x), 0);
    size_t n = 0;
    while (names[n]) n++;
    assert_int_equal(x.count, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(x.names[i], names[i]);
}

static void expect(optout_task_kind kind, const char *o, int removed, int tags, const char *const *names) {
    expect_sample(kind, o, removed, tags, RESULT_SAMPLE_NONE, names);
}

static void test_table(void **state) {
    (void)state;
    expect(OPTOUT_TASK_FILTER, "a/x.jsonl.zst", 0, 0, (const char *const[]){"shards/a/x.jsonl.zst", NULL});
    expect(OPTOUT_TASK_FILTER, "x.jsonl.zst", 1, 0,
           (const char *const[]){"shards/x.jsonl.zst", "removed/x.jsonl.zst", NULL});
    expect(OPTOUT_TASK_FILTER, "x.jsonl.zst", 0, 1, (const char *const[]){"tags/x.jsonl.zst", NULL});
    expect(OPTOUT_TASK_RANK_MAP, "ranking/map/000004", 0, 0,
           (const char *const[]){"ranking/map/000004.bin", "ranking/map/000004.idx", NULL});
    expect(OPTOUT_TASK_RANK_REDUCE, "ranking/top/0003.tsv", 1, 0, (const char *const[]){"ranking/top/0003.tsv", NULL});
    expect(OPTOUT_TASK_FETCH, "robots/000002", 0, 0,
           (const char *const[]){"robots/000002.tsv", "robots/000002.bodies.zst", NULL});
    /* --sample: estimates only (no file); --sample-shards: the same files under sample/; other
     * kinds as without a sample */
    expect_sample(OPTOUT_TASK_FILTER, "x.jsonl.zst", 0, 0, RESULT_SAMPLE_ESTIMATES, (const char *const[]){NULL});
    expect_sample(OPTOUT_TASK_FILTER, "x.jsonl.zst", 1, 0, RESULT_SAMPLE_SHARDS,
                  (const char *const[]){"sample/shards/x.jsonl.zst", "sample/removed/x.jsonl.zst", NULL});
    expect_sample(OPTOUT_TASK_FILTER, "x.jsonl.zst", 0, 1, RESULT_SAMPLE_SHARDS,
                  (const char *const[]){"sample/tags/x.jsonl.zst", NULL});
    expect_sample(OPTOUT_TASK_RANK_REDUCE, "ranking/top/0003.tsv", 0, 0, RESULT_SAMPLE_ESTIMATES,
                  (const char *const[]){"ranking/top/0003.tsv", NULL});
    expect(OPTOUT_TASK_WAYBACK, "history-parts/wayback-000003", 0, 0,
           (const char *const[]){"history-parts/wayback-000003/history/index.tsv",
                                 "history-parts/wayback-000003/history/bodies.zst",
                                 "history-parts/wayback-000003/history/sources.tsv",
                                 "history-parts/wayback-000003/wayback-block.tsv", NULL});
    struct result_expect x;
    assert_int_equal(result_expect_files(OPTOUT_TASK_FILTER, "x", 1, 0, 0, 0, 1, 3, &x), 0); /* benchmark tasks */
    assert_int_equal(x.count, 0);
    /* a historical run's rank maps also stage their survey; no other kind does */
    assert_int_equal(result_expect_files(OPTOUT_TASK_RANK_MAP, "ranking/map/000001", 0, 0, 0, 1, 0, 3, &x), 0);
    assert_int_equal(x.count, 3);
    assert_string_equal(x.names[2], "ranking/map/000001.survey.tsv");
    assert_int_equal(result_expect_files(OPTOUT_TASK_FILTER, "x", 0, 0, 0, 1, 0, 3, &x), 0);
    assert_int_equal(x.count, 1);
}

/* A WAYBACK result's counters: OPTOUT_WAYBACK_COUNTERS uint64s, the first query not after the last. */
static int wayback_stats(const uint64_t *v, size_t n) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) msgpack_pack_uint64(&pk, v[i]);
    int rc = result_check_stats(OPTOUT_TASK_WAYBACK, 3, sb.data, sb.size, NULL, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_wayback_stats(void **state) {
    (void)state;
    uint64_t v[OPTOUT_WAYBACK_COUNTERS] = {2, 3, 5, 10, 4, 0, 2, 1700000000, 1700000005};
    assert_int_equal(wayback_stats(v, OPTOUT_WAYBACK_COUNTERS), 0);
    assert_int_equal(wayback_stats(v, OPTOUT_WAYBACK_COUNTERS - 1), -1); /* a counter missing */
    v[OPTOUT_WAYBACK_FIRST_QUERY] = 1700000006; /* the first query after the last */
    assert_int_equal(wayback_stats(v, OPTOUT_WAYBACK_COUNTERS), -1);
    v[OPTOUT_WAYBACK_FIRST_QUERY] = v[OPTOUT_WAYBACK_LAST_QUERY] = 0; /* a block that asked nothing */
    assert_int_equal(wayback_stats(v, OPTOUT_WAYBACK_COUNTERS), 0);
}

/* Counters whose container headers claim more than the buffer holds are refused before msgpack-c
 * sees them: unchecked, "map of 4 billion" asks its zone for ~200 GB and aborts the broker. */
static void test_hostile_counters(void **state) {
    (void)state;
    static const unsigned char claims[][9] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                   /* array of 4 billion */
        {0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},       /* map of 4 billion */
        {0x93, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02}, /* nested: 2 billion inside 3 */
    };
    static const size_t lens[] = {5, 9, 8};
    uint64_t v[OPTOUT_WAYBACK_COUNTERS];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(result_read_counters(claims[i], lens[i], OPTOUT_WAYBACK_COUNTERS, v), -1);
        assert_int_equal(result_check_stats(OPTOUT_TASK_WAYBACK, 3, claims[i], lens[i], NULL, NULL), -1);
    }
    const unsigned char ok[] = {0x92, 0x01, 0xcc, 0xff}; /* [1, 255] */
    assert_int_equal(result_read_counters(ok, sizeof ok, 2, v), 0);
    assert_true(v[0] == 1 && v[1] == 255);
}

static void put(const char *rel, size_t n) {
    FILE *f = fopen(tpath("%s", rel), "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) fputc('x', f);
    fclose(f);
}

static int check(int dir, const char *name, uint64_t size) {
    const char *base;
    char why[128];
    int parent = result_open_parent(dir, name, &base);
    if (parent < 0) return -errno;
    int rc = result_check_file(parent, base, size, why, sizeof why);
    int saved = errno;
    close(parent);
    return rc == 0 ? 0 : saved ? -saved : -1;
}

static void test_walk(void **state) {
    (void)state;
    assert_int_equal(mkdir(tpath("st"), 0700), 0);
    assert_int_equal(mkdir(tpath("st/shards"), 0700), 0);
    assert_int_equal(mkdir(tpath("st/shards/sub"), 0700), 0);
    assert_int_equal(mkdir(tpath("outside"), 0700), 0);
    put("st/shards/sub/a.zst", 4);
    put("outside/secret", 4);
    assert_int_equal(symlink(tpath("outside"), tpath("st/linked")), 0);
    assert_int_equal(symlink(tpath("outside/secret"), tpath("st/shards/link.zst")), 0);
    assert_int_equal(mkfifo(tpath("st/shards/fifo.zst"), 0600), 0);
    int dir = open(tpath("st"), O_RDONLY | O_DIRECTORY);
    assert_true(dir >= 0);
    assert_int_equal(check(dir, "shards/sub/a.zst", 4), 0);
    assert_int_not_equal(check(dir, "shards/sub/a.zst", 5), 0);
    int linked = check(dir, "linked/secret", 4); /* a linked directory on the way */
    assert_true(linked == -ELOOP || linked == -ENOTDIR);
    assert_int_not_equal(check(dir, "shards/link.zst", 4), 0); /* the file itself a link */
    assert_int_not_equal(check(dir, "shards/fifo.zst", 0), 0);
    assert_int_not_equal(check(dir, "shards/sub", 0), 0);      /* a directory */
    assert_int_equal(check(dir, "shards/none.zst", 1), -ENOENT);
    assert_int_equal(check(dir, "shards/sub/a.zst/x", 1), -ENOTDIR);
    close(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_wayback_stats),
        cmocka_unit_test(test_hostile_counters),
        cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
