/* test_journal.c — the run journal (include/optout/journal.h).
 *
 * Each test works in a private directory under /tmp (removed at the end). Journal files that the
 * tests damage are built byte by byte here ([u32 len LE][u32 crc32 LE][payload]), independently of
 * the writer under test, and the writer's output is checked against the same layout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "optout/journal.h"

#include "../support/testdir.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static char jpath[128];

static int setup_dir(void **state) {
    (void)state;
    if (testdir_create("test_journal") != 0) return -1;
    snprintf(jpath, sizeof jpath, "%s/journal", tmpdir);
    return 0;
}

static int remove_dir(void **state) {
    (void)state;
    return testdir_remove();
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* A deterministic payload for record i: 1 + (i * 37 % 300) bytes, or a larger one now and then. */
static size_t payload_of(unsigned i, unsigned char *buf, size_t cap) {
    size_t len = 1 + (i * 37u) % 300u;
    if (i % 97 == 5) len = 70000 + i;
    assert_true(len <= cap);
    for (size_t k = 0; k < len; k++) buf[k] = (unsigned char)(i * 131u + k * 7u + (k >> 8));
    return len;
}

#define PAYLOAD_CAP 200000

/* Replayed records, kept for checking. */
typedef struct {
    size_t count;
    unsigned char *data[4096];
    size_t len[4096];
    uint64_t offset[4096];
    size_t stop_at; /* return nonzero on this record (SIZE_MAX: never) */
} replayed;

static int collect(const void *payload, size_t len, uint64_t offset, void *arg) {
    replayed *r = arg;
    if (r->count == r->stop_at) return 1;
    assert_true(r->count < 4096);
    r->data[r->count] = malloc(len);
    memcpy(r->data[r->count], payload, len);
    r->len[r->count] = len;
    r->offset[r->count] = offset;
    r->count++;
    return 0;
}

static void replayed_init(replayed *r) {
    memset(r, 0, sizeof *r);
    r->stop_at = SIZE_MAX;
}

static void replayed_free(replayed *r) {
    for (size_t i = 0; i < r->count; i++) free(r->data[i]);
    r->count = 0;
}

/* Records 0..n-1 were replayed, in order, at contiguous offsets. */
static void check_replayed(const replayed *r, unsigned n) {
    static unsigned char want[PAYLOAD_CAP];
    assert_int_equal(r->count, n);
    uint64_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t len = payload_of(i, want, sizeof want);
        assert_int_equal(r->len[i], len);
        assert_memory_equal(r->data[i], want, len);
        assert_int_equal(r->offset[i], off);
        off += 8 + len;
    }
}

/* Size on disk of records 0..n-1. */
static uint64_t records_size(unsigned n) {
    static unsigned char buf[PAYLOAD_CAP];
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++) s += 8 + payload_of(i, buf, sizeof buf);
    return s;
}

/* The journal's open, reporting the cut as offset and byte count (what most tests check). */
static optout_journal *open_at(const char *path, optout_journal_replay_fn fn, void *arg, uint64_t *at,
                               uint64_t *bytes, char *err) {
    optout_journal_cut cut;
    optout_journal *j = optout_journal_open(path, fn, arg, &cut, err, OPTOUT_JOURNAL_ERR_LEN);
    if (at) *at = cut.offset;
    if (bytes) *bytes = cut.bytes;
    return j;
}

/* Writes records 0..n-1 through the journal and syncs. */
static void write_records(const char *path, unsigned n) {
    static unsigned char buf[PAYLOAD_CAP];
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = open_at(path, NULL, NULL, NULL, NULL, err);
    assert_non_null(j);
    for (unsigned i = 0; i < n; i++) {
        size_t len = payload_of(i, buf, sizeof buf);
        assert_int_equal(optout_journal_append(j, buf, len, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    }
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    optout_journal_close(j);
}

/* Appends raw bytes to a file (for hand-made records). */
static void append_raw(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

/* Appends a hand-made record: header (len, crc) followed by `n` payload bytes. */
static void append_record_raw(const char *path, uint32_t len, uint32_t crc, const void *p, size_t n) {
    unsigned char h[8];
    le32(h, len);
    le32(h + 4, crc);
    append_raw(path, h, 8);
    if (n) append_raw(path, p, n);
}

/* Opens, replaying into r; returns the journal (or NULL) and the truncation report. */
static optout_journal *reopen(replayed *r, uint64_t *at, uint64_t *bytes, char *err) {
    replayed_init(r);
    return open_at(jpath, collect, r, at, bytes, err);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* A new journal is created (with its parent directory), empty, and replays nothing. */
static void test_create_empty(void **state) {
    (void)state;
    char path[192], err[OPTOUT_JOURNAL_ERR_LEN];
    snprintf(path, sizeof path, "%s/sub/dir/journal", tmpdir);
    replayed r;
    replayed_init(&r);
    uint64_t at = 99, bytes = 99;
    optout_journal *j = open_at(path, collect, &r, &at, &bytes, err);
    assert_non_null(j);
    assert_int_equal(r.count, 0);
    assert_int_equal(at, 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(optout_journal_size(j), 0);
    assert_int_equal(optout_journal_pending(j), 0);
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0); /* nothing to do */
    optout_journal_close(j);
    assert_int_equal(file_size(path), 0);
    optout_journal_close(NULL);
}

/* Many records of many sizes come back byte for byte, in order, at their offsets; the file holds
 * exactly the documented layout. */
static void test_round_trip(void **state) {
    (void)state;
    const unsigned n = 1500;
    write_records(jpath, n);
    assert_int_equal(file_size(jpath), records_size(n));

    /* The layout, checked independently. */
    size_t len;
    int fd = open(jpath, O_RDONLY);
    assert_true(fd >= 0);
    unsigned char h[8];
    static unsigned char want[PAYLOAD_CAP], got[PAYLOAD_CAP];
    for (unsigned i = 0; i < 3; i++) {
        len = payload_of(i, want, sizeof want);
        assert_int_equal(read(fd, h, 8), 8);
        assert_int_equal(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24, len);
        uint32_t crc = (uint32_t)crc32(0, want, (uInt)len);
        assert_int_equal(h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24, crc);
        assert_int_equal(read(fd, got, len), (ssize_t)len);
        assert_memory_equal(got, want, len);
    }
    close(fd);

    replayed r;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, n);
    assert_int_equal(bytes, 0);
    assert_int_equal(optout_journal_size(j), records_size(n));
    optout_journal_close(j);
    replayed_free(&r);
}

/* Records appended over several opens and syncs replay in append order. */
static void test_replay_order_across_opens(void **state) {
    (void)state;
    static unsigned char buf[PAYLOAD_CAP];
    char err[OPTOUT_JOURNAL_ERR_LEN];
    unsigned next = 0;
    for (int round = 0; round < 5; round++) {
        replayed r;
        uint64_t at, bytes;
        optout_journal *j = reopen(&r, &at, &bytes, err);
        assert_non_null(j);
        check_replayed(&r, next);
        replayed_free(&r);
        assert_int_equal(optout_journal_size(j), records_size(next));
        for (int k = 0; k < 3 + round; k++) {
            for (int m = 0; m <= k; m++) {
                size_t len = payload_of(next++, buf, sizeof buf);
                assert_int_equal(optout_journal_append(j, buf, len, err, OPTOUT_JOURNAL_ERR_LEN), 0);
            }
            assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
            assert_int_equal(optout_journal_size(j), records_size(next));
            assert_int_equal(file_size(jpath), records_size(next));
        }
        optout_journal_close(j);
    }
}

/* Journal of records 0..n-1, its last record cut at every byte offset from its start to its end
 * (in the payload, beyond the first and last 64 bytes, only every `stride`-th offset): exactly the
 * complete records replay, the cut is reported, and the file is truncated back to the last good
 * boundary. */
static void torn_tail(unsigned n, uint64_t stride) {
    write_records(jpath, n);
    uint64_t good = records_size(n - 1), full = records_size(n);
    assert_int_equal(file_size(jpath), full);
    unsigned char *orig = malloc((size_t)full);
    int fd = open(jpath, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, orig, (size_t)full), (ssize_t)full);
    close(fd);

    for (uint64_t cut = good; cut <= full; cut++) {
        if (cut > good + 64 && cut + 64 < full && (cut - good) % stride != 0) continue;
        unlink(jpath);
        append_raw(jpath, orig, (size_t)cut);
        replayed r;
        uint64_t at = 7, bytes = 7;
        char err[OPTOUT_JOURNAL_ERR_LEN];
        optout_journal *j = reopen(&r, &at, &bytes, err);
        assert_non_null(j);
        if (cut == full) {
            check_replayed(&r, n);
        } else {
            check_replayed(&r, n - 1);
        }
        if (cut == full || cut == good) {
            assert_int_equal(at, 0);
            assert_int_equal(bytes, 0);
        } else {
            assert_int_equal(at, good);
            assert_int_equal(bytes, cut - good);
        }
        uint64_t expect = cut == full ? full : good;
        assert_int_equal(optout_journal_size(j), expect);
        assert_int_equal(file_size(jpath), expect);
        optout_journal_close(j);
        replayed_free(&r);
    }
    free(orig);
}

/* Last record of 149 bytes: every offset. */
static void test_torn_tail_every_offset(void **state) {
    (void)state;
    torn_tail(5, 1);
}

/* Last record of 70005 bytes (the reader's window refills mid-record): header bytes and the edges
 * exactly, the payload in strides. */
static void test_torn_tail_large_record(void **state) {
    (void)state;
    torn_tail(6, 997);
}

/* A record whose checksum fails in the middle: it and everything after it are dropped. */
static void test_corrupt_middle(void **state) {
    (void)state;
    const unsigned n = 20;
    write_records(jpath, n);
    uint64_t at10 = records_size(10);
    /* Flip one payload byte of record 10. */
    int fd = open(jpath, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)at10 + 8 + 3), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)at10 + 8 + 3), 1);
    close(fd);

    replayed r;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 10);
    assert_int_equal(at, at10);
    assert_int_equal(bytes, records_size(n) - at10);
    assert_int_equal(file_size(jpath), at10);
    optout_journal_close(j);
    replayed_free(&r);

    /* A damaged checksum field does the same. */
    fd = open(jpath, O_RDWR);
    uint64_t at4 = records_size(4);
    assert_int_equal(pread(fd, &c, 1, (off_t)at4 + 5), 1);
    c ^= 1;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)at4 + 5), 1);
    close(fd);
    j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 4);
    assert_int_equal(at, at4);
    assert_int_equal(file_size(jpath), at4);
    optout_journal_close(j);
    replayed_free(&r);
}

/* A zero length on disk ends the journal there; appending an empty record is refused. */
static void test_zero_length(void **state) {
    (void)state;
    write_records(jpath, 3);
    uint64_t good = records_size(3);
    append_record_raw(jpath, 0, 0, NULL, 0); /* crc32 of nothing is 0: only the length is wrong */
    static unsigned char buf[PAYLOAD_CAP];
    for (unsigned i = 0; i < 2; i++) { /* valid records after it are dropped too */
        size_t len = payload_of(i, buf, sizeof buf);
        append_record_raw(jpath, (uint32_t)len, (uint32_t)crc32(0, buf, (uInt)len), buf, len);
    }

    replayed r;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 3);
    assert_int_equal(at, good);
    assert_int_equal(bytes, 8 + records_size(2));
    assert_int_equal(file_size(jpath), good);

    assert_int_equal(optout_journal_append(j, "x", 0, err, OPTOUT_JOURNAL_ERR_LEN), -1);
    assert_non_null(strstr(err, jpath));
    assert_int_equal(optout_journal_pending(j), 0);
    /* A refused append does not poison the journal. */
    assert_int_equal(optout_journal_append(j, "x", 1, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    optout_journal_close(j);
    replayed_free(&r);
}

/* A length above OPTOUT_JOURNAL_MAX_RECORD on disk ends the journal there (before any attempt to
 * read that much); appending one is refused; exactly the maximum is accepted. */
static void test_oversized_length(void **state) {
    (void)state;
    write_records(jpath, 2);
    uint64_t good = records_size(2);
    unsigned char pad[64] = {0};
    append_record_raw(jpath, (uint32_t)OPTOUT_JOURNAL_MAX_RECORD + 1, 0, pad, sizeof pad);

    replayed r;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 2);
    assert_int_equal(at, good);
    assert_int_equal(bytes, 8 + sizeof pad);
    assert_int_equal(file_size(jpath), good);

    size_t max = OPTOUT_JOURNAL_MAX_RECORD;
    unsigned char *big = malloc(max + 1);
    for (size_t k = 0; k < max + 1; k++) big[k] = (unsigned char)(k * 13 + (k >> 12));
    assert_int_equal(optout_journal_append(j, big, max + 1, err, OPTOUT_JOURNAL_ERR_LEN), -1);
    assert_non_null(strstr(err, jpath));
    assert_int_equal(optout_journal_append(j, big, max, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_size(j), good + 8 + max);
    optout_journal_close(j);
    replayed_free(&r);

    j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.len[2], max);
    assert_memory_equal(r.data[2], big, max);
    assert_int_equal(bytes, 0);
    optout_journal_close(j);
    replayed_free(&r);
    free(big);
}

/* A length that claims more bytes than the file holds (a torn write of a large record) is a torn
 * tail, not a read error. */
static void test_length_past_end(void **state) {
    (void)state;
    write_records(jpath, 1);
    unsigned char pad[100] = {1};
    append_record_raw(jpath, 5000000, 0, pad, sizeof pad);
    replayed r;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 1);
    assert_int_equal(at, records_size(1));
    assert_int_equal(bytes, 108);
    optout_journal_close(j);
    replayed_free(&r);
}

/* The replay callback stopping makes open fail, naming the file and the record's offset; the file
 * is left as it was (even when its tail is torn). */
static void test_replay_stops(void **state) {
    (void)state;
    write_records(jpath, 10);
    append_raw(jpath, "\x05\x00", 2); /* torn tail after the records */
    uint64_t before = file_size(jpath);
    replayed r;
    replayed_init(&r);
    r.stop_at = 4;
    uint64_t at, bytes;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = open_at(jpath, collect, &r, &at, &bytes, err);
    assert_null(j);
    assert_int_equal(r.count, 4);
    char want[64];
    snprintf(want, sizeof want, "replay stopped at offset %llu", (unsigned long long)records_size(4));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, jpath));
    assert_int_equal(file_size(jpath), before);
    replayed_free(&r);

    /* Without a callback, the same file opens (and loses its torn tail). */
    j = open_at(jpath, NULL, NULL, &at, &bytes, err);
    assert_non_null(j);
    assert_int_equal(at, records_size(10));
    assert_int_equal(bytes, 2);
    optout_journal_close(j);
}

/* pending counts appends since the last sync; size counts durable bytes only. */
static void test_pending_and_size(void **state) {
    (void)state;
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = open_at(jpath, NULL, NULL, NULL, NULL, err);
    assert_non_null(j);
    assert_int_equal(optout_journal_append(j, "abc", 3, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_append(j, "defgh", 5, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_pending(j), 2);
    assert_int_equal(optout_journal_size(j), 0);
    assert_int_equal(file_size(jpath), 0); /* only buffered */
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_pending(j), 0);
    assert_int_equal(optout_journal_size(j), 8 + 3 + 8 + 5);
    assert_int_equal(file_size(jpath), 24);
    assert_int_equal(optout_journal_append(j, "i", 1, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_pending(j), 1);
    assert_int_equal(optout_journal_size(j), 24);
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    assert_int_equal(optout_journal_pending(j), 0);
    assert_int_equal(optout_journal_size(j), 33);
    optout_journal_close(j);
}

/* Records appended but not synced are lost when the journal is closed (as in a crash). */
static void test_unsynced_lost(void **state) {
    (void)state;
    static unsigned char buf[PAYLOAD_CAP];
    char err[OPTOUT_JOURNAL_ERR_LEN];
    optout_journal *j = open_at(jpath, NULL, NULL, NULL, NULL, err);
    assert_non_null(j);
    for (unsigned i = 0; i < 7; i++) {
        size_t len = payload_of(i, buf, sizeof buf);
        assert_int_equal(optout_journal_append(j, buf, len, err, OPTOUT_JOURNAL_ERR_LEN), 0);
        if (i == 4) assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    }
    assert_int_equal(optout_journal_pending(j), 2);
    optout_journal_close(j);

    replayed r;
    uint64_t at, bytes;
    j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 5);
    assert_int_equal(bytes, 0);
    assert_int_equal(file_size(jpath), records_size(5));
    optout_journal_close(j);
    replayed_free(&r);
}

/* Appends after a reopen (also after a truncated tail) continue the file. */
static void test_append_after_reopen(void **state) {
    (void)state;
    static unsigned char buf[PAYLOAD_CAP];
    char err[OPTOUT_JOURNAL_ERR_LEN];
    write_records(jpath, 4);
    append_raw(jpath, "\x10\x00\x00\x00garbage", 11); /* torn tail */
    replayed r;
    uint64_t at, bytes;
    optout_journal *j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 4);
    assert_int_equal(bytes, 11);
    replayed_free(&r);
    for (unsigned i = 4; i < 9; i++) {
        size_t len = payload_of(i, buf, sizeof buf);
        assert_int_equal(optout_journal_append(j, buf, len, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    }
    assert_int_equal(optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    optout_journal_close(j);

    j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 9);
    assert_int_equal(bytes, 0);
    assert_int_equal(file_size(jpath), records_size(9));
    optout_journal_close(j);
    replayed_free(&r);
}

/* A failed write (EFBIG from RLIMIT_FSIZE, standing in for ENOSPC or EIO) poisons the journal:
 * that sync and every later call fail naming the file; a reopen cuts the partly written tail. */
static void test_write_error_poisons(void **state) {
    (void)state;
    static unsigned char buf[PAYLOAD_CAP];
    char err[OPTOUT_JOURNAL_ERR_LEN];
    write_records(jpath, 3);
    uint64_t good = records_size(3);
    optout_journal *j = open_at(jpath, NULL, NULL, NULL, NULL, err);
    assert_non_null(j);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = good + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    memset(buf, 'z', 5000);
    assert_int_equal(optout_journal_append(j, buf, 5000, err, OPTOUT_JOURNAL_ERR_LEN), 0);
    int rc = optout_journal_sync(j, err, OPTOUT_JOURNAL_ERR_LEN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, jpath));
    assert_non_null(strstr(err, strerror(EFBIG)));

    /* Poisoned, though the limit is gone. */
    char err2[OPTOUT_JOURNAL_ERR_LEN];
    assert_int_equal(optout_journal_append(j, "a", 1, err2, OPTOUT_JOURNAL_ERR_LEN), -1);
    assert_non_null(strstr(err2, jpath));
    assert_non_null(strstr(err2, strerror(EFBIG)));
    assert_int_equal(optout_journal_sync(j, err2, OPTOUT_JOURNAL_ERR_LEN), -1);
    assert_non_null(strstr(err2, jpath));
    assert_int_equal(optout_journal_size(j), good);
    optout_journal_close(j);
    assert_int_equal(file_size(jpath), good + 100); /* the short write reached the file */

    replayed r;
    uint64_t at, bytes;
    j = reopen(&r, &at, &bytes, err);
    assert_non_null(j);
    check_replayed(&r, 3);
    assert_int_equal(at, good);
    assert_int_equal(bytes, 100);
    optout_journal_close(j);
    replayed_free(&r);
}

/* Errors name the file: an unopenable path, a directory. */
static void test_open_errors(void **state) {
    (void)state;
    char err[OPTOUT_JOURNAL_ERR_LEN] = "";
    assert_null(open_at(tmpdir, NULL, NULL, NULL, NULL, err));
    assert_non_null(strstr(err, tmpdir));
    char path[192];
    snprintf(path, sizeof path, "%s/file/journal", tmpdir);
    char file[192];
    snprintf(file, sizeof file, "%s/file", tmpdir);
    append_raw(file, "x", 1);
    err[0] = '\0';
    assert_null(open_at(path, NULL, NULL, NULL, NULL, err));
    assert_non_null(strstr(err, path));
}

/* Flips one byte of the journal file at `off`. */
static void flip_byte(uint64_t off, unsigned char mask) {
    int fd = open(jpath, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
    c ^= mask;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

/* Opens jpath and checks the kind of damage reported, its offset and the log line. */
static void expect_cut(optout_journal_damage damage, uint64_t offset, uint64_t records_after, const char *needle) {
    optout_journal_cut cut;
    char err[OPTOUT_JOURNAL_ERR_LEN], line[1024];
    optout_journal *j = optout_journal_open(jpath, NULL, NULL, &cut, err, sizeof err);
    assert_non_null(j);
    optout_journal_cut_describe(jpath, &cut, line, sizeof line);
    if (cut.damage != damage) fail_msg("damage %d, want %d: %s", (int)cut.damage, (int)damage, line);
    assert_int_equal(cut.offset, offset);
    assert_int_equal(cut.records_after, records_after);
    if (!strstr(line, needle)) fail_msg("\"%s\" lacks \"%s\"", line, needle);
    if (damage != OPTOUT_JOURNAL_WHOLE) assert_non_null(strstr(line, jpath));
    else assert_string_equal(line, "");
    optout_journal_close(j);
}

/* A torn tail (an incomplete last record) and a corrupt record in the middle are told apart: the
 * latter names its offset and says that what was recorded after it is redone. */
static void test_damage_kind(void **state) {
    (void)state;
    char want[128];
    /* nothing cut: an empty line */
    write_records(jpath, 4);
    expect_cut(OPTOUT_JOURNAL_WHOLE, 0, 0, "");

    /* an incomplete last record: torn */
    append_raw(jpath, "\x40\x00\x00\x00\x01\x02", 6);
    expect_cut(OPTOUT_JOURNAL_TORN_TAIL, records_size(4), 0, "torn tail of 6 bytes");
    /* a zero-filled tail (a crash after the file grew): torn */
    unsigned char zeros[300] = {0};
    append_raw(jpath, zeros, sizeof zeros);
    expect_cut(OPTOUT_JOURNAL_TORN_TAIL, records_size(4), 0, "torn tail");

    /* one flipped payload byte in record 1 of 4: corrupt, the 2 records after it are dropped */
    unlink(jpath);
    write_records(jpath, 4);
    flip_byte(records_size(1) + 8 + 2, 0x10);
    snprintf(want, sizeof want, "corrupt record at offset %llu", (unsigned long long)records_size(1));
    expect_cut(OPTOUT_JOURNAL_CORRUPT, records_size(1), 2, want);
    assert_int_equal(file_size(jpath), records_size(1));

    /* a flipped length byte making record 1 claim more than the file holds: valid records follow,
     * so it is corrupt, not torn */
    unlink(jpath);
    write_records(jpath, 4);
    flip_byte(records_size(1) + 2, 0x01); /* +65536 bytes */
    expect_cut(OPTOUT_JOURNAL_CORRUPT, records_size(1), 2, "will be redone (the outputs are the same)");

    /* a flipped byte in the last complete record: corrupt too, nothing after it */
    unlink(jpath);
    write_records(jpath, 4);
    flip_byte(records_size(3) + 8, 0x80);
    expect_cut(OPTOUT_JOURNAL_CORRUPT, records_size(3), 0, "corrupt record");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, remove_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_create_empty),       T(test_round_trip),          T(test_replay_order_across_opens),
        T(test_torn_tail_every_offset), T(test_torn_tail_large_record), T(test_corrupt_middle),  T(test_zero_length),
        T(test_oversized_length),   T(test_length_past_end),     T(test_replay_stops),
        T(test_pending_and_size),   T(test_unsynced_lost),       T(test_append_after_reopen),
        T(test_write_error_poisons), T(test_open_errors),         T(test_damage_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
