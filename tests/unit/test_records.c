/* test_records.c — the broker's journal records (broker/records.c, declared in broker/records.h).
 *
 * The records are msgpack maps. Expected bytes are written out by hand here from the msgpack
 * specification (fixmap 0x80|n, fixstr 0xa0|n, fixarray 0x90|n, uint 0xcc/0xcd/0xce/0xcf,
 * bin8 0xc4), not produced by the encoder under test; decoding is checked on hand-made payloads,
 * valid and malformed, and on round trips of every kind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "records.h"

/* Decodes `len` bytes into *r; keeps the unpacked buffer alive in a static for stats pointers. */
static msgpack_unpacked keep;
static int decode(const void *data, size_t len, struct record *r) {
    msgpack_unpacked_destroy(&keep);
    msgpack_unpacked_init(&keep);
    return record_decode(data, len, r, &keep);
}

static int setup(void **state) {
    (void)state;
    msgpack_unpacked_init(&keep);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    msgpack_unpacked_destroy(&keep);
    return 0;
}

/* ---- encoding: exact bytes ------------------------------------------------------------------ */

static void test_encode_bytes(void **state) {
    (void)state;
    static struct record failed = {.kind = RECORD_FAILED, .task = 1};
    strcpy(failed.error, "bad");
    static const struct {
        struct record r;
        size_t len;
        uint8_t want[32];
    } cases[] = {
        /* {"r": "epoch", "e": 300}: 300 needs uint16 (0xcd 01 2c) */
        {{.kind = RECORD_EPOCH, .epoch = 300},
         14,
         {0x82, 0xa1, 'r', 0xa5, 'e', 'p', 'o', 'c', 'h', 0xa1, 'e', 0xcd, 0x01, 0x2c}},
        /* {"r": "published", "id": 7} */
        {{.kind = RECORD_PUBLISHED, .task = 7},
         17,
         {0x82, 0xa1, 'r', 0xa9, 'p', 'u', 'b', 'l', 'i', 's', 'h', 'e', 'd', 0xa2, 'i', 'd', 0x07}},
    };
    msgpack_sbuffer buf;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(record_encode(&cases[i].r, &buf), 0);
        assert_int_equal(buf.size, cases[i].len);
        assert_memory_equal(buf.data, cases[i].want, cases[i].len);
        msgpack_sbuffer_destroy(&buf);
    }
    /* {"r": "failed", "id": 1, "err": "bad"} */
    const uint8_t want[] = {0x83, 0xa1, 'r', 0xa6, 'f', 'a', 'i', 'l', 'e', 'd', 0xa2, 'i', 'd', 0x01,
                            0xa3, 'e', 'r', 'r', 0xa3, 'b', 'a', 'd'};
    assert_int_equal(record_encode(&failed, &buf), 0);
    assert_int_equal(buf.size, sizeof want);
    assert_memory_equal(buf.data, want, sizeof want);
    msgpack_sbuffer_destroy(&buf);
}

/* ---- decoding: hand-made payloads ----------------------------------------------------------- */

static void test_decode_accepted_by_hand(void **state) {
    (void)state;
    /* {"s": bin[3] 01 02 03, "a": 2, "f": [["x.zst", 5, "ab"]], "id": 4294967296, "e": 9,
     *  "r": "accepted"}: keys in another order than the encoder's, a uint64 task id */
    const uint8_t in[] = {0x86,
                          0xa1, 's', 0xc4, 0x03, 0x01, 0x02, 0x03,
                          0xa1, 'a', 0x02,
                          0xa1, 'f', 0x91, 0x93, 0xa5, 'x', '.', 'z', 's', 't', 0x05, 0xa2, 'a', 'b',
                          0xa2, 'i', 'd', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0,
                          0xa1, 'e', 0x09,
                          0xa1, 'r', 0xa8, 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd'};
    struct record r;
    assert_int_equal(decode(in, sizeof in, &r), 0);
    assert_int_equal(r.kind, RECORD_ACCEPTED);
    assert_true(r.task == 4294967296ull);
    assert_int_equal(r.epoch, 9);
    assert_int_equal(r.attempt, 2);
    assert_int_equal(r.file_count, 1);
    assert_string_equal(r.files[0].name, "x.zst");
    assert_int_equal(r.files[0].size, 5);
    assert_string_equal(r.files[0].sha256, "ab");
    assert_int_equal(r.stats_len, 3);
    assert_memory_equal(r.stats, "\x01\x02\x03", 3);
}

static void test_decode_ignores_unknown_keys(void **state) {
    (void)state;
    /* {"r": "published", "id": 3, "zz": [1]}: a later writer's extra key does not stop the replay */
    const uint8_t in[] = {0x83, 0xa1, 'r', 0xa9, 'p', 'u', 'b', 'l', 'i', 's', 'h', 'e', 'd',
                          0xa2, 'i', 'd', 0x03, 0xa2, 'z', 'z', 0x91, 0x01};
    struct record r;
    assert_int_equal(decode(in, sizeof in, &r), 0);
    assert_int_equal(r.kind, RECORD_PUBLISHED);
    assert_int_equal(r.task, 3);
}

/* Each of these is not one well-formed record. */
static void test_decode_rejects(void **state) {
    (void)state;
    static const struct {
        const char *why;
        size_t len;
        uint8_t bytes[40];
    } bad[] = {
        {"empty", 0, {0}},
        {"not a map", 1, {0x90}},
        {"no kind", 3, {0x81, 0xa1, 'e'}},                                  /* truncated too */
        {"map without r", 4, {0x81, 0xa1, 'e', 0x01}},
        {"unknown kind", 8, {0x81, 0xa1, 'r', 0xa4, 'n', 'o', 'p', 'e'}},
        {"kind not a string", 4, {0x81, 0xa1, 'r', 0x01}},
        {"negative epoch", 13, {0x82, 0xa1, 'r', 0xa5, 'e', 'p', 'o', 'c', 'h', 0xa1, 'e', 0xff}},
        {"epoch as string", 14, {0x82, 0xa1, 'r', 0xa5, 'e', 'p', 'o', 'c', 'h', 0xa1, 'e', 0xa1, '1'}},
        {"trailing byte", 14, {0x82, 0xa1, 'r', 0xa5, 'e', 'p', 'o', 'c', 'h', 0xa1, 'e', 0x01, 0xc0}},
        {"truncated", 11, {0x82, 0xa1, 'r', 0xa5, 'e', 'p', 'o', 'c', 'h', 0xa1, 'e'}},
        {"stats not bin", 16, {0x82, 0xa1, 'r', 0xa8, 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd', 0xa1, 's', 0xa1, 'x'}},
        {"files not array", 15, {0x82, 0xa1, 'r', 0xa8, 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd', 0xa1, 'f', 0x01}},
        {"file of 2 fields", 19,
         {0x82, 0xa1, 'r', 0xa8, 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd', 0xa1, 'f', 0x91, 0x92, 0xa0, 0x00}},
        {"file size negative", 20,
         {0x82, 0xa1, 'r', 0xa8, 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd', 0xa1, 'f', 0x91, 0x93, 0xa0, 0xff, 0xa0}},
        {"err not a string", 16, {0x82, 0xa1, 'r', 0xa6, 'f', 'a', 'i', 'l', 'e', 'd', 0xa3, 'e', 'r', 'r', 0x01}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct record r;
        int rc = decode(bad[i].bytes, bad[i].len, &r);
        if (rc != -1) fail_msg("accepted a payload that is %s", bad[i].why);
    }
}

/* The limits of the fixed-size fields: 9 files, a name or digest or error that does not fit. */
static void test_decode_rejects_oversized(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "r", 1);
    msgpack_pack_str_with_body(&pk, "accepted", 8);
    msgpack_pack_str_with_body(&pk, "f", 1);
    msgpack_pack_array(&pk, OPTOUT_MSG_MAX_FILES + 1);
    for (int i = 0; i < OPTOUT_MSG_MAX_FILES + 1; i++) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str_with_body(&pk, "a", 1);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_str_with_body(&pk, "b", 1);
    }
    struct record r;
    assert_int_equal(decode(sb.data, sb.size, &r), -1);
    msgpack_sbuffer_destroy(&sb);

    /* a failure message of exactly OPTOUT_MSG_ERROR_MAX bytes leaves no room for the NUL */
    static char msg[OPTOUT_MSG_ERROR_MAX + 1];
    for (size_t len = OPTOUT_MSG_ERROR_MAX - 1; len <= OPTOUT_MSG_ERROR_MAX; len++) {
        memset(msg, 'e', len);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        msgpack_pack_str_with_body(&pk, "r", 1);
        msgpack_pack_str_with_body(&pk, "failed", 6);
        msgpack_pack_str_with_body(&pk, "id", 2);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_str_with_body(&pk, "err", 3);
        msgpack_pack_str_with_body(&pk, msg, len);
        int rc = decode(sb.data, sb.size, &r);
        if (len < OPTOUT_MSG_ERROR_MAX) {
            assert_int_equal(rc, 0);
            assert_int_equal(strlen(r.error), len);
        } else {
            assert_int_equal(rc, -1);
        }
        msgpack_sbuffer_destroy(&sb);
    }

    /* a digest longer than 64 hex digits */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "r", 1);
    msgpack_pack_str_with_body(&pk, "accepted", 8);
    msgpack_pack_str_with_body(&pk, "f", 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_uint64(&pk, 1);
    memset(msg, 'f', 65);
    msgpack_pack_str_with_body(&pk, msg, 65);
    assert_int_equal(decode(sb.data, sb.size, &r), -1);
    msgpack_sbuffer_destroy(&sb);
}

/* A record read back from disk is as hostile as a frame from the wire: an array header that claims
 * 16 million elements in 5 bytes must be refused before msgpack-c allocates their storage (400 MB
 * here; "dd ff ff ff ff" would ask for ~96 GB). Measured with glibc's mallinfo2 while the unpacked
 * buffer is still held. */
static void test_decode_hostile_count_allocates_nothing(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's allocator does not report to mallinfo2 */
#else
    const uint8_t in[] = {0xdd, 0x01, 0x00, 0x00, 0x00};
    msgpack_unpacked k;
    msgpack_unpacked_init(&k);
    struct record r;
    struct mallinfo2 before = mallinfo2();
    assert_int_equal(record_decode(in, sizeof in, &r, &k), -1);
    struct mallinfo2 after = mallinfo2();
    size_t held = (after.hblkhd + after.uordblks) - (before.hblkhd + before.uordblks);
    msgpack_unpacked_destroy(&k);
    if (after.hblkhd + after.uordblks > before.hblkhd + before.uordblks && held > ((size_t)1 << 20))
        fail_msg("decoding 5 hostile bytes holds %zu bytes", held);
#endif
}

/* ---- round trips ---------------------------------------------------------------------------- */

static void test_round_trip_accepted(void **state) {
    (void)state;
    static struct record in, out;
    memset(&in, 0, sizeof in);
    in.kind = RECORD_ACCEPTED;
    in.task = UINT64_MAX;
    in.epoch = 1;
    in.attempt = 3;
    in.file_count = OPTOUT_MSG_MAX_FILES;
    for (size_t i = 0; i < in.file_count; i++) {
        snprintf(in.files[i].name, sizeof in.files[i].name, "shards/part-%zu.jsonl.zst", i);
        in.files[i].size = (uint64_t)1 << (i * 7);
        memset(in.files[i].sha256, "0123456789abcdef"[i], 64);
    }
    const uint8_t stats[] = {0x80, 0x00, 0xff, 0x10};
    in.stats = stats;
    in.stats_len = sizeof stats;

    msgpack_sbuffer buf;
    assert_int_equal(record_encode(&in, &buf), 0);
    assert_int_equal(decode(buf.data, buf.size, &out), 0);
    assert_int_equal(out.kind, RECORD_ACCEPTED);
    assert_true(out.task == UINT64_MAX);
    assert_int_equal(out.epoch, 1);
    assert_int_equal(out.attempt, 3);
    assert_int_equal(out.file_count, OPTOUT_MSG_MAX_FILES);
    for (size_t i = 0; i < in.file_count; i++) {
        assert_string_equal(out.files[i].name, in.files[i].name);
        assert_true(out.files[i].size == in.files[i].size);
        assert_string_equal(out.files[i].sha256, in.files[i].sha256);
    }
    assert_int_equal(out.stats_len, sizeof stats);
    assert_memory_equal(out.stats, stats, sizeof stats);
    msgpack_sbuffer_destroy(&buf);
}

static void test_round_trip_empty_accepted(void **state) {
    (void)state;
    /* a task whose outputs are all empty: no files, no statistics */
    struct record in = {.kind = RECORD_ACCEPTED, .task = 0, .epoch = 0, .attempt = 1};
    static struct record out;
    msgpack_sbuffer buf;
    assert_int_equal(record_encode(&in, &buf), 0);
    assert_int_equal(decode(buf.data, buf.size, &out), 0);
    assert_int_equal(out.kind, RECORD_ACCEPTED);
    assert_int_equal(out.file_count, 0);
    assert_int_equal(out.stats_len, 0);
    assert_int_equal(out.attempt, 1);
    msgpack_sbuffer_destroy(&buf);
}

static void test_round_trip_failed_and_epoch(void **state) {
    (void)state;
    static struct record in, out;
    memset(&in, 0, sizeof in);
    in.kind = RECORD_FAILED;
    in.task = 12345;
    /* the longest message that fits, with bytes that are not ASCII */
    memset(in.error, 0xc3, sizeof in.error - 1);
    msgpack_sbuffer buf;
    assert_int_equal(record_encode(&in, &buf), 0);
    assert_int_equal(decode(buf.data, buf.size, &out), 0);
    assert_int_equal(out.kind, RECORD_FAILED);
    assert_int_equal(out.task, 12345);
    assert_string_equal(out.error, in.error);
    msgpack_sbuffer_destroy(&buf);

    struct record e = {.kind = RECORD_EPOCH, .epoch = UINT64_MAX};
    assert_int_equal(record_encode(&e, &buf), 0);
    assert_int_equal(decode(buf.data, buf.size, &out), 0);
    assert_int_equal(out.kind, RECORD_EPOCH);
    assert_true(out.epoch == UINT64_MAX);
    msgpack_sbuffer_destroy(&buf);
}

/* Decoding resets the record: nothing of a previous, larger record survives. */
static void test_decode_clears_previous(void **state) {
    (void)state;
    static struct record r;
    memset(&r, 0x55, sizeof r);
    const uint8_t in[] = {0x82, 0xa1, 'r', 0xa9, 'p', 'u', 'b', 'l', 'i', 's', 'h', 'e', 'd', 0xa2, 'i', 'd', 0x02};
    assert_int_equal(decode(in, sizeof in, &r), 0);
    assert_int_equal(r.file_count, 0);
    assert_int_equal(r.stats_len, 0);
    assert_int_equal(r.epoch, 0);
    assert_string_equal(r.error, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_bytes),
        cmocka_unit_test(test_decode_accepted_by_hand),
        cmocka_unit_test(test_decode_ignores_unknown_keys),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_rejects_oversized),
        cmocka_unit_test(test_decode_hostile_count_allocates_nothing),
        cmocka_unit_test(test_round_trip_accepted),
        cmocka_unit_test(test_round_trip_empty_accepted),
        cmocka_unit_test(test_round_trip_failed_and_epoch),
        cmocka_unit_test(test_decode_clears_previous),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
