/* test_archive.c — the robots archive (include/optout/archive.h).
 *
 * Each test works in a private directory under /tmp (removed at the end). Packs are written with
 * records of every outcome, read back and compared field by field; then damaged by hand (index cut
 * mid-line, bodies file cut, a malformed line, a flipped body byte) to check the torn-tail and
 * corruption rules; the bodies file is also checked against the zstd tool (`zstd -dc`, skipped
 * when it is not installed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/archive.h"
#include "optout/rundir.h"

#include "../support/testdir.h"

/* ---- records ------------------------------------------------------------------------------- */

static char big_body[300000];

/* The fixture's records: every outcome, bodies for ok (one large and truncated, one empty, one
 * binary), control characters in final_url and error. A NULL body with a length is big_body. */
static const struct {
    const char *host;
    optout_outcome outcome;
    long status;
    int truncated;
    const char *final_url, *error, *body;
    size_t body_len;
} FIX[] = {
    {"news.example", OPTOUT_OUTCOME_OK, 200, 0, "https://news.example/robots.txt", "",
     "User-agent: GPTBot\nDisallow: /\n", 0},
    {"big.example:8080", OPTOUT_OUTCOME_OK, 200, 1, "https://www.big.example/robots.txt", "", NULL, sizeof big_body},
    {"empty.example", OPTOUT_OUTCOME_OK, 204, 0, "http://empty.example/robots.txt", "", "", 0},
    {"gone.example", OPTOUT_OUTCOME_UNAVAILABLE, 404, 0, "https://gone.example/robots.txt\tjunk\nmore", "HTTP 404",
     NULL, 0},
    {"down.example", OPTOUT_OUTCOME_UNREACHABLE, 0, 0, "", "Connection reset\tby peer\r\n\x01\x7f end", NULL, 0},
    {"nx.invalid", OPTOUT_OUTCOME_NO_SUCH_HOST, 0, 0, "", "Could not resolve host: nx.invalid", NULL, 0},
    {"bin.example", OPTOUT_OUTCOME_OK, 200, 0, "", "", "User-agent: *\r\nDisallow: /a\0b\n\xff\xfe", 33},
};

/* Record i of the fixture as a fetch result. */
static optout_fetch_result fixture(int i) {
    optout_fetch_result r;
    memset(&r, 0, sizeof r);
    r.host = FIX[i].host;
    r.outcome = FIX[i].outcome;
    r.status = FIX[i].status;
    r.truncated = FIX[i].truncated;
    r.final_url = FIX[i].final_url;
    r.error = FIX[i].error;
    r.fetched_at = i == 5 ? 0 : 1700000000 + i * 3601;
    r.time_ms = (uint32_t)(10 * i + 1);
    r.attempts = (uint32_t)(1 + i % 3);
    if (r.outcome == OPTOUT_OUTCOME_OK) {
        r.body = FIX[i].body ? FIX[i].body : big_body;
        r.body_len = FIX[i].body_len ? FIX[i].body_len : strlen(r.body);
        optout_sha256_hex(r.body, r.body_len, r.sha256);
    }
    return r;
}
#define FIXTURES 7

static const char *sanitised(const char *s) {
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    size_t n = 0;
    for (; *s && n < 255; s++) b[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    b[n] = '\0';
    return b;
}

static void write_pack(const char *name, const int *which, int n) {
    char err[512] = "";
    optout_archive_writer *w = optout_archive_create(tpath("robots"), name, 0, err, sizeof err);
    assert_non_null(w);
    for (int k = 0; k < n; k++) {
        optout_fetch_result r = fixture(which[k]);
        if (optout_archive_append(w, &r, err, sizeof err) != 0) fail_msg("%s", err);
    }
    assert_int_equal(optout_archive_flush(w, err, sizeof err), 0);
    assert_int_equal(optout_archive_close(w, 1, err, sizeof err), 0);
}

struct seen {
    int count;
    int index[64];
    char pack[64][16];
    size_t line[64];
    int with_bodies;
};

static int visit_check(const optout_archive_record *rec, void *arg) {
    struct seen *s = arg;
    int i = 0;
    while (i < FIXTURES && strcmp(fixture(i).host, rec->r.host) != 0) i++;
    if (i == FIXTURES) fail_msg("unexpected record %s at %s:%zu (%s %ld %s)", rec->r.host, rec->pack, rec->line, optout_outcome_name(rec->r.outcome), rec->r.status, rec->r.error);
    optout_fetch_result want = fixture(i);
    const optout_fetch_result *got = &rec->r;
    assert_int_equal(got->outcome, want.outcome);
    assert_int_equal(got->status, want.status);
    assert_int_equal(got->fetched_at, want.fetched_at);
    assert_int_equal(got->time_ms, want.time_ms);
    assert_int_equal(got->attempts, want.attempts);
    assert_int_equal(got->truncated, want.truncated);
    assert_string_equal(got->final_url, sanitised(want.final_url));
    assert_string_equal(got->error, want.outcome == OPTOUT_OUTCOME_OK ? "" : sanitised(want.error));
    assert_string_equal(got->sha256, want.sha256);
    assert_int_equal(got->body_len, want.body_len);
    if (s->with_bodies && want.outcome == OPTOUT_OUTCOME_OK) {
        assert_non_null(got->body);
        if (want.body_len) assert_memory_equal(got->body, want.body, want.body_len);
        assert_int_equal(got->body[want.body_len], '\0');
    } else {
        assert_null(got->body);
    }
    assert_true(s->count < 64);
    s->index[s->count] = i;
    snprintf(s->pack[s->count], sizeof s->pack[0], "%s", rec->pack);
    s->line[s->count++] = rec->line;
    return 0;
}

static long scan(int with_bodies, struct seen *s, size_t *torn, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->with_bodies = with_bodies;
    err[0] = '\0';
    return optout_archive_scan(tpath("robots"), with_bodies, visit_check, s, torn, err, errlen);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void cut(const char *path, uint64_t size) { assert_int_equal(truncate(path, (off_t)size), 0); }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) buf = realloc(buf, cap = cap ? 2 * cap : 65536);
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void spill(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

static int setup(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof big_body; i++) big_body[i] = (i % 61 == 60) ? '\n' : (char)('a' + (i * 7 + i / 61) % 26);
    return testdir_create("test_archive");
}

static int teardown(void **state) {
    (void)state;
    return testdir_remove();
}

static void test_round_trip(void **state) {
    (void)state;
    static const int b[] = {3, 0, 4, 1}, a[] = {5, 2, 6};
    write_pack("pack-b", b, 4);
    write_pack("pack-a", a, 3);
    char err[512];
    struct seen s;
    size_t torn = 99;
    for (int bodies = 0; bodies <= 1; bodies++) {
        long n = scan(bodies, &s, &torn, err, sizeof err);
        if (n < 0) fail_msg("%s", err);
        assert_int_equal(n, 7);
        assert_int_equal(torn, 0);
        /* packs in byte order of their names, records in file order, lines 1-based after the header */
        static const int order[] = {5, 2, 6, 3, 0, 4, 1};
        for (int k = 0; k < 7; k++) {
            assert_int_equal(s.index[k], order[k]);
            assert_string_equal(s.pack[k], k < 3 ? "pack-a" : "pack-b");
            assert_int_equal(s.line[k], (size_t)(k < 3 ? k + 2 : k - 3 + 2));
        }
    }
    /* a missing directory has no records */
    assert_int_equal(optout_archive_scan(tpath("nothing"), 1, visit_check, &s, &torn, err, sizeof err), 0);
}

static void test_bodies_one_stream(void **state) {
    (void)state;
    static const int b[] = {3, 0, 4, 1, 2, 6};
    write_pack("p", b, 6);
    if (access("/usr/bin/zstd", X_OK) != 0 && system("command -v zstd >/dev/null 2>&1") != 0) {
        fprintf(stderr, "zstd tool not installed: skipping the stream check\n");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "zstd -q -dc '%s' > '%s'", tpath("robots/p.bodies.zst"), tpath("all"));
    assert_int_equal(system(cmd), 0);
    size_t len;
    char *all = slurp(tpath("all"), &len);
    size_t off = 0;
    for (int k = 0; k < 6; k++) {
        optout_fetch_result r = fixture(b[k]);
        if (r.outcome != OPTOUT_OUTCOME_OK) continue;
        assert_true(off + r.body_len <= len);
        assert_memory_equal(all + off, r.body ? r.body : "", r.body_len);
        off += r.body_len;
    }
    assert_int_equal(off, len);
    free(all);
}

static void test_torn_index(void **state) {
    (void)state;
    static const int a[] = {0, 3, 1};
    write_pack("p", a, 3);
    const char *tsv = tpath("robots/p.tsv");
    cut(tsv, file_size(tsv) - 5);
    char err[512];
    struct seen s;
    size_t torn = 0;
    assert_int_equal(scan(1, &s, &torn, err, sizeof err), 2);
    assert_int_equal(torn, 1);
    /* no '\n' at all on the last line, the rest intact */
    size_t len;
    char *text = slurp(tsv, &len);
    char *nl = memrchr(text, '\n', len);
    cut(tsv, (uint64_t)(nl - text + 1 + 3));
    free(text);
    assert_int_equal(scan(0, &s, &torn, err, sizeof err), 2);
    assert_int_equal(torn, 1);
    /* a torn header only: an empty pack */
    cut(tsv, 7);
    assert_int_equal(scan(0, &s, &torn, err, sizeof err), 0);
    assert_int_equal(torn, 0);
}

static void test_torn_bodies(void **state) {
    (void)state;
    static const int a[] = {0, 3, 1};
    write_pack("p", a, 3);
    const char *bodies = tpath("robots/p.bodies.zst");
    uint64_t full = file_size(bodies);
    cut(bodies, full - 1); /* the last record (big.example, ok) points past the end */
    char err[512];
    struct seen s;
    size_t torn = 0;
    assert_int_equal(scan(1, &s, &torn, err, sizeof err), 2);
    assert_int_equal(torn, 1);
    assert_int_equal(scan(0, &s, &torn, err, sizeof err), 2);
    assert_int_equal(torn, 1);
    /* the first record's frame gone too: not a tail, an error naming pack and line */
    cut(bodies, 3);
    assert_int_equal(scan(0, &s, &torn, err, sizeof err), -1);
    assert_non_null(strstr(err, "p.tsv:2"));
    assert_non_null(strstr(err, "past the end"));
}

static void expect_malformed(const char *line, const char *why) {
    static const int a[] = {0, 3};
    write_pack("q", a, 2);
    const char *tsv = tpath("robots/q.tsv");
    size_t len;
    char *text = slurp(tsv, &len);
    char *second = memchr(text, '\n', len) + 1; /* after the header */
    second = memchr(second, '\n', len - (size_t)(second - text)) + 1;
    FILE *f = fopen(tsv, "wb");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(second - text), f);
    fputs(line, f);
    fwrite(second, 1, len - (size_t)(second - text), f);
    assert_int_equal(fclose(f), 0);
    free(text);
    char err[512];
    struct seen s;
    assert_int_equal(scan(0, &s, NULL, err, sizeof err), -1);
    if (!strstr(err, "q.tsv:3: ") || !strstr(err, why)) fail_msg("line %s: got '%s'", line, err);
}

static void test_malformed(void **state) {
    (void)state;
    expect_malformed("x.example\tok\n", "fewer than 13");
    expect_malformed("\n", "fewer than 13");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t1\t-\t0\t0\t-\textra\n", "more than 13");
    expect_malformed("x\tbogus\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t1\t-\t0\t0\t-\n", "unknown outcome");
    expect_malformed("x\tunavailable\t40x\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t1\t-\t0\t0\t-\n", "bad status");
    expect_malformed("x\tunavailable\t404\t2024-01-01 00:00:00\t-\t0\t0\t1\t1\t-\t0\t0\t-\n", "fetched_at");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t2\t1\t1\t-\t0\t0\t-\n", "truncated");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t-1\t1\t-\t0\t0\t-\n", "time_ms");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t99999999999\t-\t0\t0\t-\n", "attempts");
    expect_malformed("x\tok\t200\t2024-01-01T00:00:00Z\tABC\t5\t0\t1\t1\t-\t0\t9\t-\n", "sha256");
    expect_malformed("x\tok\t200\t2024-01-01T00:00:00Z\t-\t5\t0\t1\t1\t-\t0\t9\t-\n", "without a body");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t1\t-\t0\t7\t-\n", "not ok");
    expect_malformed("x\tunavailable\t404\t2024-01-01T00:00:00Z\t-\t0\t0\t1\t1\t-\t0\t0x\t-\n", "bad length");
}

static void test_corrupt_body(void **state) {
    (void)state;
    static const int a[] = {0, 3, 6};
    write_pack("p", a, 3);
    const char *bodies = tpath("robots/p.bodies.zst");
    size_t len;
    char *data = slurp(bodies, &len);
    char *copy = malloc(len);
    memcpy(copy, data, len);
    /* the first frame holds news.example's 31 bytes, stored raw at its end: flip one of them */
    size_t first = 0;
    {
        char err[512];
        struct seen s;
        assert_int_equal(scan(1, &s, NULL, err, sizeof err), 3);
    }
    FILE *f = fopen(tpath("robots/p.tsv"), "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    /* column 12 is the frame length of the first record */
    char *p = line;
    for (int c = 0; c < 11; c++) p = strchr(p, '\t') + 1;
    first = (size_t)strtoul(p, NULL, 10);
    assert_true(first > 10 && first <= len);
    data[first - 2] ^= 0x20;
    spill(bodies, data, len);
    char err[512];
    struct seen s;
    assert_int_equal(scan(1, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "p.tsv:2"));
    assert_non_null(strstr(err, "SHA-256"));
    /* without bodies nothing is read: the scan passes */
    assert_int_equal(scan(0, &s, NULL, err, sizeof err), 3);
    /* a damaged frame header: does not decompress */
    memcpy(data, copy, len);
    data[0] ^= 0xff;
    spill(bodies, data, len);
    assert_int_equal(scan(1, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "p.tsv:2"));
    free(data);
    free(copy);
}

static void test_writer_refuses(void **state) {
    (void)state;
    char err[512];
    optout_archive_writer *w = optout_archive_create(tpath("deep/er/robots"), "w", 19, err, sizeof err);
    assert_non_null(w);
    optout_fetch_result r = fixture(0);
    r.sha256[0] ^= 1;
    assert_int_equal(optout_archive_append(w, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "sha256"));
    r = fixture(3);
    r.host = "a\tb";
    assert_int_equal(optout_archive_append(w, &r, err, sizeof err), -1);
    r.host = "";
    assert_int_equal(optout_archive_append(w, &r, err, sizeof err), -1);
    r = fixture(0);
    assert_int_equal(optout_archive_append(w, &r, err, sizeof err), 0);
    assert_int_equal(optout_archive_close(w, 0, err, sizeof err), 0);
    assert_null(optout_archive_create(tpath("robots"), "a/b", 0, err, sizeof err));
    struct seen s;
    memset(&s, 0, sizeof s);
    s.with_bodies = 1;
    assert_int_equal(optout_archive_scan(tpath("deep/er/robots"), 1, visit_check, &s, NULL, err, sizeof err), 1);
}

static int stop_at_second(const optout_archive_record *rec, void *arg) {
    (void)rec;
    return ++*(int *)arg == 2;
}

static void test_visitor_stops(void **state) {
    (void)state;
    static const int a[] = {0, 3, 1};
    write_pack("p", a, 3);
    char err[512];
    int calls = 0;
    assert_int_equal(optout_archive_scan(tpath("robots"), 0, stop_at_second, &calls, NULL, err, sizeof err), -1);
    assert_string_equal(err, "stopped");
    assert_int_equal(calls, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies_one_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visitor_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
