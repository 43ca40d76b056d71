/* test_msg.c — the fleet's wire contract (include/optout/msg.h) and the stats' msgpack form
 * (include/optout/stats.h, common/stats_msgpack.c).
 *
 * Round trips of every message type and of the run configuration with every field at its limits;
 * one test per rejection rule of the contract (each also checks that a rejected frame leaves the
 * output untouched); stats round trips against optout_stats_merge and malformed stats.
 * Bad frames are made by editing good ones (drop, replace or duplicate one key) with msgpack-c
 * directly, so every rule is exercised on an otherwise valid frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/msg.h"
#include "optout/stats.h"

/* ---- helpers: messages --------------------------------------------------------------------- */

static const char SHA_A[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char SHA_B[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/* A byte pattern that is not any decoded value: a rejected decode must leave it in place. */
#define POISON 0xa5

/* s[0..n) filled with varied printable bytes (and a multi-byte UTF-8 character), NUL-terminated. */
static void fill(char *s, size_t n, char seed) {
    for (size_t i = 0; i < n; i++) s[i] = (char)('a' + (seed + i) % 26);
    if (n >= 2) s[0] = '\xc3', s[1] = '\xa9';
    s[n] = '\0';
}

/* A small valid message of each type (what the rejection tests edit). */
static void sample(optout_msg_type t, optout_msg *m) {
    static const unsigned char cfg[] = {0x80}, stats[] = {0x80};
    memset(m, 0, sizeof *m);
    m->type = t;
    m->epoch = 7;
    switch (t) {
    case OPTOUT_MSG_READY:
        strcpy(m->worker, "node1/3");
        m->credit = 2;
        break;
    case OPTOUT_MSG_CREDIT: m->credit = 1; break;
    case OPTOUT_MSG_TASK:
        m->task = 12, m->attempt = 3, m->kind = OPTOUT_TASK_FETCH;
        m->span_start = 5, m->span_count = 64;
        strcpy(m->input.root, "data");
        strcpy(m->input.rel, "CC-MAIN-2024-10/000_00000.jsonl.zst");
        m->input_size = 123456, m->input_mtime_ns = 1700000000123456789;
        strcpy(m->staging.root, "run");
        strcpy(m->staging.rel, ".staging/12.7.3");
        strcpy(m->output_name, "CC-MAIN-2024-10/000_00000.jsonl.zst");
        m->with_removed = 1;
        m->config = cfg, m->config_len = sizeof cfg;
        break;
    case OPTOUT_MSG_RESULT:
        m->task = 12, m->attempt = 3, m->ok = 0;
        strcpy(m->error, "input changed");
        m->file_count = 1;
        strcpy(m->files[0].name, "shards/x.jsonl.zst");
        m->files[0].size = 99;
        strcpy(m->files[0].sha256, SHA_A);
        m->stats = stats, m->stats_len = sizeof stats;
        break;
    case OPTOUT_MSG_HANDBACK:
    case OPTOUT_MSG_ACK: m->task = 12, m->attempt = 3; break;
    case OPTOUT_MSG_STATUS: m->text = "{\"tasks\": 3}", m->text_len = 12; break;
    default: break;
    }
}

static void *enc_ok(const optout_msg *m, size_t *len) {
    void *out = NULL;
    char err[OPTOUT_MSG_ERR_LEN] = "";
    int rc = optout_msg_encode(m, &out, len, err);
    if (rc != 0) fail_msg("encode failed: %s", err);
    assert_non_null(out);
    return out;
}

static void dec_ok(const void *frame, size_t len, optout_msg *m) {
    char err[OPTOUT_MSG_ERR_LEN] = "";
    int rc = optout_msg_decode(frame, len, m, err);
    if (rc != 0) fail_msg("decode failed: %s", err);
}

/* Decoding fails, the error contains `needle`, and *m is untouched. */
static void dec_fails(const void *frame, size_t len, const char *needle) {
    optout_msg *m = malloc(sizeof *m), *before = malloc(sizeof *m);
    assert_non_null(m);
    assert_non_null(before);
    memset(m, POISON, sizeof *m);
    memcpy(before, m, sizeof *m);
    char err[OPTOUT_MSG_ERR_LEN] = "";
    assert_int_equal(optout_msg_decode(frame, len, m, err), -1);
    if (needle && !strstr(err, needle)) fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    assert_true(err[0] != '\0');
    assert_memory_equal(m, before, sizeof *m);
    free(m);
    free(before);
}

static void enc_fails(const optout_msg *m, const char *needle) {
    void *out = (void *)&out;
    size_t len = 0;
    char err[OPTOUT_MSG_ERR_LEN] = "";
    assert_int_equal(optout_msg_encode(m, &out, &len, err), -1);
    if (needle && !strstr(err, needle)) fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* Decoded equals original, field by field (strings as strings, byte fields by content). */
static void assert_path_equal(const optout_msg_path *a, const optout_msg_path *b) {
    assert_string_equal(a->root, b->root);
    assert_string_equal(a->rel, b->rel);
}
static void assert_msg_equal(const optout_msg *a, const optout_msg *b) {
    assert_int_equal(a->type, b->type);
    assert_true(a->epoch == b->epoch);
    assert_string_equal(a->worker, b->worker);
    assert_int_equal(a->credit, b->credit);
    assert_true(a->task == b->task);
    assert_true(a->attempt == b->attempt);
    assert_int_equal(a->kind, b->kind);
    assert_path_equal(&a->input, &b->input);
    assert_true(a->input_size == b->input_size);
    assert_true(a->input_mtime_ns == b->input_mtime_ns);
    assert_path_equal(&a->staging, &b->staging);
    assert_string_equal(a->output_name, b->output_name);
    assert_int_equal(a->with_removed, b->with_removed);
    assert_true(a->span_start == b->span_start && a->span_count == b->span_count);
    assert_int_equal(a->config_len, b->config_len);
    if (a->config_len) assert_memory_equal(a->config, b->config, a->config_len);
    assert_int_equal(a->ok, b->ok);
    assert_string_equal(a->error, b->error);
    assert_int_equal(a->file_count, b->file_count);
    for (size_t i = 0; i < a->file_count; i++) {
        assert_string_equal(a->files[i].name, b->files[i].name);
        assert_true(a->files[i].size == b->files[i].size);
        assert_string_equal(a->files[i].sha256, b->files[i].sha256);
    }
    assert_int_equal(a->stats_len, b->stats_len);
    if (a->stats_len) assert_memory_equal(a->stats, b->stats, a->stats_len);
    assert_int_equal(a->text_len, b->text_len);
    if (a->text_len) assert_memory_equal(a->text, b->text, a->text_len);
}

/* Encode, check the frame's byte fields point into it, decode, compare. Returns the frame size. */
static size_t round_trip(const optout_msg *m) {
    size_t len;
    unsigned char *frame = enc_ok(m, &len);
    optout_msg *d = malloc(sizeof *d);
    assert_non_null(d);
    memset(d, POISON, sizeof *d);
    dec_ok(frame, len, d);
    assert_msg_equal(m, d);
    const void *ptrs[3] = {d->config, d->stats, d->text};
    size_t lens[3] = {d->config_len, d->stats_len, d->text_len};
    for (int i = 0; i < 3; i++)
        if (lens[i]) {
            assert_true((const unsigned char *)ptrs[i] >= frame);
            assert_true((const unsigned char *)ptrs[i] + lens[i] <= frame + len);
        }
    free(d);
    free(frame);
    return len;
}

/* ---- helpers: editing frames ----------------------------------------------------------------- */

/* The value that replaces a key's value (set before calling edit()). */
typedef void (*packfn)(msgpack_packer *pk);

typedef struct {
    const char *drop;    /* leave this key out */
    const char *replace; /* give this key the value `with` packs */
    packfn with;
    const char *dup;     /* write this key twice */
    int add_unknown;     /* add unknown keys (a string one and an integer one) */
} edit;

static int key_is(const msgpack_object *k, const char *name) {
    return name && k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
           memcmp(k->via.str.ptr, name, strlen(name)) == 0;
}

/* A copy of the map in `frame` with one edit applied; *out_len gets its size. */
static unsigned char *edited(const void *frame, size_t len, edit e, size_t *out_len) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, frame, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    const msgpack_object_map *map = &u.data.via.map;
    int found = 0;
    size_t n = map->size;
    for (uint32_t i = 0; i < map->size; i++) {
        if (key_is(&map->ptr[i].key, e.drop)) n--, found = 1;
        if (key_is(&map->ptr[i].key, e.dup)) n++, found = 1;
        if (key_is(&map->ptr[i].key, e.replace)) found = 1;
    }
    if ((e.drop || e.dup || e.replace) && !found) fail_msg("edit: key not in frame");
    if (e.add_unknown) n += 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    if (e.add_unknown) {
        msgpack_pack_str_with_body(&pk, "zz", 2);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_nil(&pk);
        msgpack_pack_double(&pk, 1.5);
        msgpack_pack_bin_with_body(&pk, "\0\1", 2);
        msgpack_pack_int(&pk, 5);
        msgpack_pack_str_with_body(&pk, "five", 4);
    }
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        if (key_is(k, e.drop)) continue;
        msgpack_pack_object(&pk, *k);
        if (key_is(k, e.replace)) e.with(&pk);
        else msgpack_pack_object(&pk, *v);
        if (key_is(k, e.dup)) {
            msgpack_pack_object(&pk, *k);
            msgpack_pack_object(&pk, *v);
        }
    }
    msgpack_unpacked_destroy(&u);
    *out_len = sb.size;
    return (unsigned char *)msgpack_sbuffer_release(&sb);
}

/* Encodes `m`, applies the edit, expects the decode to fail mentioning `needle`. */
static void edited_fails(const optout_msg *m, edit e, const char *needle) {
    size_t len, elen;
    void *frame = enc_ok(m, &len);
    unsigned char *bad = edited(frame, len, e, &elen);
    dec_fails(bad, elen, needle);
    free(bad);
    free(frame);
}

/* Values for `with` (parameters in globals: edit() takes no closure). */
static size_t g_len;
static const char *g_str;
static uint64_t g_u;
static int64_t g_i;
static void with_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void with_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void with_uint(msgpack_packer *pk) { msgpack_pack_uint64(pk, g_u); }
static void with_int(msgpack_packer *pk) { msgpack_pack_int64(pk, g_i); }
static void with_str(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, g_str, strlen(g_str)); }
/* A string of g_len bytes. */
static void with_long_str(msgpack_packer *pk) {
    char *s = malloc(g_len + 1);
    fill(s, g_len, 1);
    msgpack_pack_str_with_body(pk, s, g_len);
    free(s);
}
static void with_str_nul(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "ab\0c", 4); }
/* A path [g_str, "x"]. */
static void with_root(msgpack_packer *pk) {
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, g_str, strlen(g_str));
    msgpack_pack_str_with_body(pk, "x", 1);
}
/* A path ["data", g_str]. */
static void with_rel(msgpack_packer *pk) {
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "data", 4);
    msgpack_pack_str_with_body(pk, g_str, strlen(g_str));
}
/* A path ["data", g_len bytes]. */
static void with_long_rel(msgpack_packer *pk) {
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "data", 4);
    with_long_str(pk);
}
/* A path ["g_len bytes", "x"]. */
static void with_long_root(msgpack_packer *pk) {
    msgpack_pack_array(pk, 2);
    with_long_str(pk);
    msgpack_pack_str_with_body(pk, "x", 1);
}
/* g_u files [name, 1, sha]: name g_str, or g_len bytes when g_str is NULL; sha SHA_A or the
 * global sha override. */
static const char *g_sha;
static void with_files(msgpack_packer *pk) {
    msgpack_pack_array(pk, g_u);
    for (uint64_t i = 0; i < g_u; i++) {
        msgpack_pack_array(pk, 3);
        if (g_str) msgpack_pack_str_with_body(pk, g_str, strlen(g_str));
        else with_long_str(pk);
        msgpack_pack_uint64(pk, 1);
        const char *sha = g_sha ? g_sha : SHA_A;
        msgpack_pack_str_with_body(pk, sha, strlen(sha));
    }
}

/* The keys each type requires (the contract, written out independently of the decoder's table). */
static const struct {
    optout_msg_type type;
    const char *keys[16];
} REQUIRED[] = {
    {OPTOUT_MSG_READY, {"v", "t", "e", "w", "c"}},
    {OPTOUT_MSG_CREDIT, {"v", "t", "e", "c"}},
    {OPTOUT_MSG_HEARTBEAT, {"v", "t", "e"}},
    {OPTOUT_MSG_TASK, {"v", "t", "e", "id", "a", "k", "in", "isz", "imt", "st", "o", "rm", "cfg"}},
    {OPTOUT_MSG_RESULT, {"v", "t", "e", "id", "a", "ok", "f", "s"}},
    {OPTOUT_MSG_HANDBACK, {"v", "t", "e", "id", "a"}},
    {OPTOUT_MSG_ACK, {"v", "t", "e", "id", "a"}},
    {OPTOUT_MSG_BYE, {"v", "t", "e"}},
    {OPTOUT_MSG_STATUS_REQUEST, {"v", "t", "e"}},
    {OPTOUT_MSG_STATUS, {"v", "t", "e", "x"}},
    {OPTOUT_MSG_DONE, {"v", "t", "e"}},
};
#define NTYPES (sizeof REQUIRED / sizeof *REQUIRED)

/* ---- round trips ----------------------------------------------------------------------------- */

static void test_type_names(void **state) {
    (void)state;
    static const char *const NAMES[] = {"ready", "credit", "hb", "task", "result", "handback", "ack", "bye",
                                        "status?", "status", "done"};
    for (size_t i = 0; i < NTYPES; i++) assert_string_equal(optout_msg_type_name(REQUIRED[i].type), NAMES[i]);
    assert_string_equal(optout_msg_type_name((optout_msg_type)0), "invalid");
    assert_string_equal(optout_msg_type_name((optout_msg_type)99), "invalid");
}

static void test_round_trip_samples(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        round_trip(&m);
        m.epoch = 0; /* a worker that has seen no epoch yet */
        round_trip(&m);
    }
}

static void test_round_trip_ready_credit_limits(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_READY, &m);
    m.epoch = UINT64_MAX;
    fill(m.worker, OPTOUT_MSG_NAME_MAX - 1, 3);
    m.credit = OPTOUT_MSG_MAX_CREDIT;
    round_trip(&m);
    m.credit = 0;
    strcpy(m.worker, "w");
    round_trip(&m);
    sample(OPTOUT_MSG_CREDIT, &m);
    m.epoch = UINT64_MAX, m.credit = OPTOUT_MSG_MAX_CREDIT;
    round_trip(&m);
}

static void test_round_trip_task_limits(void **state) {
    (void)state;
    optout_msg *m = calloc(1, sizeof *m);
    size_t cfg_len = (size_t)1 << 20;
    unsigned char *cfg = malloc(cfg_len);
    for (size_t i = 0; i < cfg_len; i++) cfg[i] = (unsigned char)(i * 131 + 7);
    sample(OPTOUT_MSG_TASK, m);
    m->epoch = UINT64_MAX, m->task = UINT64_MAX, m->attempt = UINT64_MAX;
    fill(m->input.root, OPTOUT_MSG_NAME_MAX - 1, 1);
    fill(m->input.rel, OPTOUT_MSG_PATH_MAX - 1, 2);
    m->input_size = UINT64_MAX;
    m->input_mtime_ns = INT64_MIN;
    fill(m->staging.root, OPTOUT_MSG_NAME_MAX - 1, 3);
    fill(m->staging.rel, OPTOUT_MSG_PATH_MAX - 1, 4);
    fill(m->output_name, OPTOUT_MSG_PATH_MAX - 1, 5);
    m->with_removed = 1;
    m->config = cfg, m->config_len = cfg_len;
    round_trip(m);
    /* the other extremes */
    m->input_mtime_ns = INT64_MAX, m->input_size = 0, m->with_removed = 0, m->task = 0, m->attempt = 0;
    m->input.root[0] = m->input.rel[0] = m->staging.root[0] = m->staging.rel[0] = '\0';
    m->config = NULL, m->config_len = 0;
    round_trip(m);
    m->input_mtime_ns = -1;
    round_trip(m);
    free(cfg);
    free(m);
}

static void test_round_trip_result_limits(void **state) {
    (void)state;
    optout_msg *m = calloc(1, sizeof *m);
    size_t stats_len = (size_t)1 << 20;
    unsigned char *stats = malloc(stats_len);
    for (size_t i = 0; i < stats_len; i++) stats[i] = (unsigned char)(i * 17 + 3);
    sample(OPTOUT_MSG_RESULT, m);
    m->epoch = UINT64_MAX, m->task = UINT64_MAX, m->attempt = UINT64_MAX;
    m->ok = 1;
    fill(m->error, OPTOUT_MSG_ERROR_MAX - 1, 6);
    m->file_count = OPTOUT_MSG_MAX_FILES;
    for (int i = 0; i < OPTOUT_MSG_MAX_FILES; i++) {
        fill(m->files[i].name, OPTOUT_MSG_PATH_MAX - 1, (char)i);
        m->files[i].size = UINT64_MAX - (uint64_t)i;
        strcpy(m->files[i].sha256, i % 2 ? SHA_A : SHA_B);
    }
    m->stats = stats, m->stats_len = stats_len;
    round_trip(m);
    /* the minimum: no error (the key is then left out), no files, empty stats */
    memset(m, 0, sizeof *m);
    m->type = OPTOUT_MSG_RESULT, m->ok = 1;
    size_t len;
    void *frame = enc_ok(m, &len);
    assert_null(memmem(frame, len, "\xa3" "err", 4));
    free(frame);
    round_trip(m);
    free(stats);
    free(m);
}

static void test_round_trip_attempt_messages(void **state) {
    (void)state;
    optout_msg m;
    optout_msg_type types[] = {OPTOUT_MSG_HANDBACK, OPTOUT_MSG_ACK};
    for (int i = 0; i < 2; i++) {
        sample(types[i], &m);
        m.epoch = UINT64_MAX, m.task = UINT64_MAX, m.attempt = UINT64_MAX;
        round_trip(&m);
        m.epoch = 0, m.task = 0, m.attempt = 0;
        round_trip(&m);
    }
    optout_msg_type bare[] = {OPTOUT_MSG_HEARTBEAT, OPTOUT_MSG_BYE, OPTOUT_MSG_STATUS_REQUEST, OPTOUT_MSG_DONE};
    for (int i = 0; i < 4; i++) {
        sample(bare[i], &m);
        m.epoch = UINT64_MAX;
        round_trip(&m);
    }
}

static void test_round_trip_status_limits(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_STATUS, &m);
    size_t n = (size_t)4 << 20;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++) text[i] = (char)(i * 7); /* any bytes, NUL included */
    m.text = text, m.text_len = n;
    round_trip(&m);
    m.text = NULL, m.text_len = 0;
    round_trip(&m);
    free(text);
}

/* Only the type's keys are encoded: fields of other types are not sent. */
static void test_encode_only_type_keys(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_TASK, &m);
    m.type = OPTOUT_MSG_HEARTBEAT;
    size_t len;
    unsigned char *frame = enc_ok(&m, &len);
    assert_int_equal(frame[0], 0x83); /* a map of v, t, e */
    optout_msg d;
    dec_ok(frame, len, &d);
    assert_int_equal(d.type, OPTOUT_MSG_HEARTBEAT);
    assert_int_equal(d.epoch, 7);
    assert_int_equal(d.task, 0);
    assert_null(d.config);
    free(frame);
}

/* The largest frame decodes; one byte more does not encode, and does not decode. */
static void test_frame_size_limit(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_TASK, &m);
    size_t probe_len;
    void *probe = enc_ok(&m, &probe_len);
    free(probe);
    /* the frame grows by the config's growth once its bin32 header is in use (5 bytes) */
    size_t cfg_len = OPTOUT_MSG_MAX_BYTES - (probe_len - m.config_len - 2) - 5;
    unsigned char *cfg = calloc(1, cfg_len + 1);
    m.config = cfg, m.config_len = cfg_len;
    size_t len = round_trip(&m);
    assert_int_equal(len, OPTOUT_MSG_MAX_BYTES);
    m.config_len = cfg_len + 1;
    enc_fails(&m, "too large");
    m.config_len = OPTOUT_MSG_MAX_BYTES + 1;
    enc_fails(&m, "\"cfg\"");
    free(cfg);
}

/* ---- rejections ------------------------------------------------------------------------------ */

static void test_reject_oversize_frame(void **state) {
    (void)state;
    size_t n = OPTOUT_MSG_MAX_BYTES + 1;
    unsigned char *big = malloc(n);
    memset(big, 0xc0, n);
    dec_fails(big, n, "too large");
    free(big);
}

static void test_reject_wrong_version(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_READY, &m);
    uint64_t bad[] = {0, 2, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        g_u = bad[i];
        edited_fails(&m, (edit){.replace = "v", .with = with_uint}, "unsupported protocol version");
    }
    g_i = -1;
    edited_fails(&m, (edit){.replace = "v", .with = with_int}, "\"v\"");
}

static void test_reject_unknown_type(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_HEARTBEAT, &m);
    const char *bad[] = {"nope", "", "HB", "hb ", "status??", "Ready"};
    for (int i = 0; i < 6; i++) {
        g_str = bad[i];
        edited_fails(&m, (edit){.replace = "t", .with = with_str}, "unknown message type");
    }
    m.type = (optout_msg_type)0;
    enc_fails(&m, "type");
    m.type = (optout_msg_type)(OPTOUT_MSG_DONE + 1);
    enc_fails(&m, "type");
}

static void test_reject_missing_required_key(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        for (const char *const *k = REQUIRED[i].keys; *k; k++) {
            char needle[32];
            snprintf(needle, sizeof needle, "missing key \"%s\"", *k);
            edited_fails(&m, (edit){.drop = *k}, needle);
        }
    }
}

/* "err" is optional: a RESULT without it decodes with an empty error. */
static void test_optional_error_key(void **state) {
    (void)state;
    optout_msg m, d;
    sample(OPTOUT_MSG_RESULT, &m);
    size_t len, elen;
    void *frame = enc_ok(&m, &len);
    unsigned char *e = edited(frame, len, (edit){.drop = "err"}, &elen);
    dec_ok(e, elen, &d);
    assert_string_equal(d.error, "");
    free(e);
    free(frame);
}

static void test_reject_wrong_key_type(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        for (const char *const *k = REQUIRED[i].keys; *k; k++) {
            char needle[16];
            snprintf(needle, sizeof needle, "\"%s\"", *k);
            edited_fails(&m, (edit){.replace = *k, .with = with_nil}, needle);
            /* a string where a number is due and a number where a string is due */
            g_u = 1;
            g_str = "1";
            int stringy = !strcmp(*k, "t") || !strcmp(*k, "w") || !strcmp(*k, "o") || !strcmp(*k, "x");
            edited_fails(&m, (edit){.replace = *k, .with = stringy ? with_uint : with_str}, needle);
        }
    }
    sample(OPTOUT_MSG_RESULT, &m);
    edited_fails(&m, (edit){.replace = "err", .with = with_nil}, "\"err\"");
    /* bin where bin is due: a str will not do */
    sample(OPTOUT_MSG_TASK, &m);
    g_str = "\x80";
    edited_fails(&m, (edit){.replace = "cfg", .with = with_str}, "\"cfg\"");
    /* bool: 1 is not true */
    g_u = 1;
    edited_fails(&m, (edit){.replace = "rm", .with = with_uint}, "\"rm\"");
    /* range: credit at most a worker's slots (a sum of credits cannot wrap), imt 64 signed, k only 1 */
    sample(OPTOUT_MSG_CREDIT, &m);
    g_u = (uint64_t)UINT32_MAX + 1;
    edited_fails(&m, (edit){.replace = "c", .with = with_uint}, "\"c\"");
    g_u = OPTOUT_MSG_MAX_CREDIT + 1;
    edited_fails(&m, (edit){.replace = "c", .with = with_uint}, "\"c\"");
    sample(OPTOUT_MSG_READY, &m);
    edited_fails(&m, (edit){.replace = "c", .with = with_uint}, "\"c\"");
    sample(OPTOUT_MSG_TASK, &m);
    g_u = (uint64_t)INT64_MAX + 1;
    edited_fails(&m, (edit){.replace = "imt", .with = with_uint}, "\"imt\"");
    g_u = OPTOUT_TASK_KIND_MAX + 1;
    edited_fails(&m, (edit){.replace = "k", .with = with_uint}, "unknown task kind");
    g_u = 0;
    edited_fails(&m, (edit){.replace = "k", .with = with_uint}, "unknown task kind");
    g_i = -1;
    edited_fails(&m, (edit){.replace = "isz", .with = with_int}, "\"isz\"");
    edited_fails(&m, (edit){.replace = "id", .with = with_int}, "\"id\"");
    /* a path is exactly [str, str] */
    edited_fails(&m, (edit){.replace = "in", .with = with_true}, "\"in\"");
    g_str = "x";
    edited_fails(&m, (edit){.replace = "st", .with = with_str}, "\"st\"");
    /* a file is exactly [str, uint, str] */
    sample(OPTOUT_MSG_RESULT, &m);
    g_u = 1, g_str = "a", g_sha = "0123";
    edited_fails(&m, (edit){.replace = "f", .with = with_files}, "sha256");
    g_sha = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"; /* upper case */
    edited_fails(&m, (edit){.replace = "f", .with = with_files}, "sha256");
    g_sha = NULL;
}

static void test_reject_string_too_long(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_READY, &m);
    g_len = OPTOUT_MSG_NAME_MAX;
    edited_fails(&m, (edit){.replace = "w", .with = with_long_str}, "too long");
    g_len = OPTOUT_MSG_NAME_MAX - 1; /* the limit itself is fine */
    size_t len, elen;
    optout_msg d;
    void *frame = enc_ok(&m, &len);
    unsigned char *e = edited(frame, len, (edit){.replace = "w", .with = with_long_str}, &elen);
    dec_ok(e, elen, &d);
    assert_int_equal(strlen(d.worker), OPTOUT_MSG_NAME_MAX - 1);
    free(e);
    free(frame);

    sample(OPTOUT_MSG_TASK, &m);
    g_len = OPTOUT_MSG_PATH_MAX;
    edited_fails(&m, (edit){.replace = "o", .with = with_long_str}, "too long");
    edited_fails(&m, (edit){.replace = "in", .with = with_long_rel}, "too long");
    edited_fails(&m, (edit){.replace = "st", .with = with_long_rel}, "too long");
    g_len = OPTOUT_MSG_NAME_MAX;
    edited_fails(&m, (edit){.replace = "in", .with = with_long_root}, "too long");
    edited_fails(&m, (edit){.replace = "st", .with = with_long_root}, "too long");

    sample(OPTOUT_MSG_RESULT, &m);
    g_len = OPTOUT_MSG_ERROR_MAX;
    edited_fails(&m, (edit){.replace = "err", .with = with_long_str}, "too long");
    g_len = OPTOUT_MSG_PATH_MAX, g_str = NULL, g_u = 1;
    edited_fails(&m, (edit){.replace = "f", .with = with_files}, "too long");

    /* the encoder refuses what the decoder would */
    sample(OPTOUT_MSG_READY, &m);
    memset(m.worker, 'w', sizeof m.worker); /* no NUL */
    enc_fails(&m, "\"w\"");
    sample(OPTOUT_MSG_RESULT, &m);
    memset(m.files[0].name, 'n', sizeof m.files[0].name);
    enc_fails(&m, "\"f\"[0]");
}

static void test_reject_too_many_files(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_RESULT, &m);
    g_u = OPTOUT_MSG_MAX_FILES + 1, g_str = "a";
    edited_fails(&m, (edit){.replace = "f", .with = with_files}, "too many files");
    g_u = OPTOUT_MSG_MAX_FILES; /* the limit itself is fine */
    size_t len, elen;
    optout_msg d;
    void *frame = enc_ok(&m, &len);
    unsigned char *e = edited(frame, len, (edit){.replace = "f", .with = with_files}, &elen);
    dec_ok(e, elen, &d);
    assert_int_equal(d.file_count, OPTOUT_MSG_MAX_FILES);
    free(e);
    free(frame);
    m.file_count = OPTOUT_MSG_MAX_FILES + 1;
    enc_fails(&m, "too many files");
}

static void test_reject_trailing_bytes(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        size_t len;
        unsigned char *frame = enc_ok(&m, &len);
        unsigned char *longer = malloc(len + 2);
        memcpy(longer, frame, len);
        longer[len] = 0xc0, longer[len + 1] = 0x80;
        dec_fails(longer, len + 1, "trailing");
        dec_fails(longer, len + 2, "trailing");
        memcpy(longer + len, frame, 1); /* the start of a second message */
        dec_fails(longer, len + 1, "trailing");
        free(longer);
        free(frame);
    }
}

static void test_reject_truncated_at_every_prefix(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        size_t len;
        unsigned char *frame = enc_ok(&m, &len);
        for (size_t n = 0; n < len; n++) {
            unsigned char *prefix = malloc(n ? n : 1); /* exactly n bytes: ASan sees any overread */
            memcpy(prefix, frame, n);
            dec_fails(prefix, n, "truncated");
            free(prefix);
        }
        free(frame);
    }
    dec_fails(NULL, 0, "truncated");
}

static void test_reject_duplicate_key(void **state) {
    (void)state;
    optout_msg m;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        for (const char *const *k = REQUIRED[i].keys; *k; k++) {
            char needle[32];
            snprintf(needle, sizeof needle, "duplicate key \"%s\"", *k);
            edited_fails(&m, (edit){.dup = *k}, needle);
        }
    }
}

/* Unknown keys (also non-string ones) are skipped; so are keys of other types, whatever they hold. */
static void test_unknown_keys_skipped(void **state) {
    (void)state;
    optout_msg m, d;
    for (size_t i = 0; i < NTYPES; i++) {
        sample(REQUIRED[i].type, &m);
        size_t len, elen;
        void *frame = enc_ok(&m, &len);
        unsigned char *e = edited(frame, len, (edit){.add_unknown = 1}, &elen);
        memset(&d, 0, sizeof d);
        dec_ok(e, elen, &d);
        assert_msg_equal(&m, &d);
        free(e);
        free(frame);
    }
    /* a READY carrying a (malformed) "id": not a READY key, skipped */
    sample(OPTOUT_MSG_READY, &m);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "v", 1), msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "t", 1), msgpack_pack_str_with_body(&pk, "ready", 5);
    msgpack_pack_str_with_body(&pk, "e", 1), msgpack_pack_uint64(&pk, 7);
    msgpack_pack_str_with_body(&pk, "w", 1), msgpack_pack_str_with_body(&pk, "node1/3", 7);
    msgpack_pack_str_with_body(&pk, "c", 1), msgpack_pack_uint64(&pk, 2);
    msgpack_pack_str_with_body(&pk, "id", 2), msgpack_pack_str_with_body(&pk, "x", 1);
    dec_ok(sb.data, sb.size, &d);
    assert_msg_equal(&m, &d);
    msgpack_sbuffer_destroy(&sb);
}

static void test_reject_not_a_map(void **state) {
    (void)state;
    static const unsigned char nil[] = {0xc0}, arr[] = {0x91, 0x01}, str[] = {0xa2, 'h', 'b'},
                               empty_map[] = {0x80}, bad_byte[] = {0xc1};
    dec_fails(nil, sizeof nil, "not a msgpack map");
    dec_fails(arr, sizeof arr, "not a msgpack map");
    dec_fails(str, sizeof str, "not a msgpack map");
    dec_fails(empty_map, sizeof empty_map, "missing key \"v\"");
    dec_fails(bad_byte, sizeof bad_byte, "invalid msgpack");
}

/* Containers declaring more elements than the frame can hold are refused before any allocation
 * (msgpack-c would allocate for the declared count); so are frames of too many objects. */
static void test_reject_hostile_counts(void **state) {
    (void)state;
    static const unsigned char arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff}, map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff},
                               arr16[] = {0xdc, 0x00, 0x03, 0x01, 0x02},
                               str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, bin8[] = {0xc4, 0x05, 0x01};
    dec_fails(arr32, sizeof arr32, "truncated");
    dec_fails(map32, sizeof map32, "truncated");
    dec_fails(arr16, sizeof arr16, "truncated");
    dec_fails(str32, sizeof str32, "truncated");
    dec_fails(bin8, sizeof bin8, "truncated");
    /* 70,000 nils in an array: well-formed, small, but too many objects */
    size_t n = 70000;
    unsigned char *many = malloc(5 + n);
    many[0] = 0xdd, many[1] = 0, many[2] = (unsigned char)(n >> 16), many[3] = (unsigned char)(n >> 8),
    many[4] = (unsigned char)n;
    memset(many + 5, 0xc0, n);
    dec_fails(many, 5 + n, "too many");
    free(many);
    /* nesting deeper than msgpack-c's stack: an error, not a crash */
    unsigned char deep[200];
    memset(deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = 0xc0;
    dec_fails(deep, sizeof deep, "nested deeper");
    /* 16 levels are fine as far as structure goes (the frame is then refused as not a map) */
    memset(deep, 0x91, 16);
    deep[16] = 0xc0;
    dec_fails(deep, 17, "not a msgpack map");
    deep[16] = 0x91, deep[17] = 0xc0;
    dec_fails(deep, 18, "nested deeper");
    /* empty containers do not count as nesting: [[[...16 deep...[]...]]] is fine */
    memset(deep, 0x91, 16);
    deep[16] = 0x90;
    dec_fails(deep, 17, "not a msgpack map");
}

static void test_reject_escaping_paths(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_TASK, &m);
    const char *bad_rel[] = {"/etc/passwd", "..", "../x", "a/../../b", "a/..", "/"};
    for (size_t i = 0; i < sizeof bad_rel / sizeof *bad_rel; i++) {
        g_str = bad_rel[i];
        edited_fails(&m, (edit){.replace = "in", .with = with_rel}, "\"in\"");
        edited_fails(&m, (edit){.replace = "st", .with = with_rel}, "\"st\"");
        edited_fails(&m, (edit){.replace = "o", .with = with_str}, "\"o\"");
    }
    g_str = "a/b";
    edited_fails(&m, (edit){.replace = "in", .with = with_root}, "root name");
    /* names that merely contain dots are fine */
    strcpy(m.input.rel, "a/..b/...c/.d/./e..");
    strcpy(m.output_name, "x..y");
    round_trip(&m);

    sample(OPTOUT_MSG_RESULT, &m);
    g_u = 1, g_str = "../shards/x";
    edited_fails(&m, (edit){.replace = "f", .with = with_files}, "\"f\"[0]");

    /* the encoder refuses them too */
    sample(OPTOUT_MSG_TASK, &m);
    strcpy(m.staging.rel, "../../etc");
    enc_fails(&m, "\"st\"");
    sample(OPTOUT_MSG_TASK, &m);
    strcpy(m.input.root, "a/b");
    enc_fails(&m, "\"in\"");
    sample(OPTOUT_MSG_RESULT, &m);
    strcpy(m.files[0].name, "/abs");
    enc_fails(&m, "\"f\"[0]");
}

static void test_reject_nul_in_string(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_READY, &m);
    edited_fails(&m, (edit){.replace = "w", .with = with_str_nul}, "NUL");
    sample(OPTOUT_MSG_RESULT, &m);
    edited_fails(&m, (edit){.replace = "err", .with = with_str_nul}, "NUL");
    sample(OPTOUT_MSG_TASK, &m);
    edited_fails(&m, (edit){.replace = "o", .with = with_str_nul}, "NUL");
    /* an empty worker id is refused as well */
    sample(OPTOUT_MSG_READY, &m);
    g_str = "";
    edited_fails(&m, (edit){.replace = "w", .with = with_str}, "empty");
    m.worker[0] = '\0';
    enc_fails(&m, "\"w\"");
}

static void test_encode_rejects_bad_pointers(void **state) {
    (void)state;
    optout_msg m;
    sample(OPTOUT_MSG_STATUS, &m);
    m.text = NULL;
    enc_fails(&m, "\"x\"");
    sample(OPTOUT_MSG_TASK, &m);
    m.kind = (optout_task_kind)(OPTOUT_TASK_KIND_MAX + 1);
    enc_fails(&m, "kind");
    assert_int_equal(optout_msg_encode(&m, &(void *){NULL}, &(size_t){0}, NULL), -1); /* err may be NULL */
}

/* ---- run configuration ------------------------------------------------------------------------ */

static void sample_config(optout_run_config *c) {
    memset(c, 0, sizeof *c);
    c->mode = OPTOUT_MODE_RFC9309;
    c->host_key = OPTOUT_HOSTKEY_CANONICAL;
    c->level = 3;
    c->max_line = 64 << 20;
    c->agent_count = 2;
    strcpy(c->agents[0], "GPTBot");
    strcpy(c->agents[1], "*");
    strcpy(c->robots_dir.root, "run");
    strcpy(c->robots_dir.rel, "robots");
}

static void *cfg_enc_ok(const optout_run_config *c, size_t *len) {
    void *out = NULL;
    char err[OPTOUT_MSG_ERR_LEN] = "";
    if (optout_run_config_encode(c, &out, len, err) != 0) fail_msg("encode failed: %s", err);
    return out;
}

static void cfg_round_trip(const optout_run_config *c) {
    size_t len;
    void *buf = cfg_enc_ok(c, &len);
    optout_run_config *d = malloc(sizeof *d);
    memset(d, POISON, sizeof *d);
    char err[OPTOUT_MSG_ERR_LEN] = "";
    if (optout_run_config_decode(buf, len, d, err) != 0) fail_msg("decode failed: %s", err);
    assert_memory_equal(c, d, sizeof *c);
    free(d);
    free(buf);
}

static void cfg_dec_fails(const void *buf, size_t len, const char *needle) {
    optout_run_config *c = malloc(sizeof *c), *before = malloc(sizeof *c);
    memset(c, POISON, sizeof *c);
    memcpy(before, c, sizeof *c);
    char err[OPTOUT_MSG_ERR_LEN] = "";
    assert_int_equal(optout_run_config_decode(buf, len, c, err), -1);
    if (needle && !strstr(err, needle)) fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    assert_memory_equal(c, before, sizeof *c);
    free(c);
    free(before);
}

static void cfg_edited_fails(const optout_run_config *c, edit e, const char *needle) {
    size_t len, elen;
    void *buf = cfg_enc_ok(c, &len);
    unsigned char *bad = edited(buf, len, e, &elen);
    cfg_dec_fails(bad, elen, needle);
    free(bad);
    free(buf);
}

static const char *const CFG_KEYS[] = {"m", "hk", "u", "l", "ml", "ag", "fu", "fl", "ft", "fd", "fdt", "fx",
                                       "rd", "r", "rp", "ra", "np", "mt", "ne", "nn", "ah",
                                       "fs", "fc", "fct", "fto", "fr", "fap", "fua", "fcn", "gr", "kh", "rh", "sp", "ot", "bd",
                                       "rt", "rtc", "rc", "hma", "hm", "hd", "sv", NULL};

static void test_config_round_trip_limits(void **state) {
    (void)state;
    optout_run_config *c = malloc(sizeof *c);
    sample_config(c);
    cfg_round_trip(c);
    c->mode = OPTOUT_MODE_PROTEGO;
    c->host_key = OPTOUT_HOSTKEY_NETLOC;
    c->unreachable_disallows = 1;
    c->level = INT32_MIN;
    c->max_line = UINT64_MAX;
    c->agent_count = OPTOUT_AGENTS_MAX;
    for (int i = 0; i < OPTOUT_AGENTS_MAX; i++) fill(c->agents[i], OPTOUT_MSG_NAME_MAX - 1, (char)i);
    char *fields[] = {c->url_field, c->language_field, c->tokens_field, c->dump_field, c->date_field, c->text_field};
    for (int i = 0; i < 6; i++) fill(fields[i], OPTOUT_MSG_NAME_MAX - 1, (char)(i + 3));
    fill(c->robots_dir.root, OPTOUT_MSG_NAME_MAX - 1, 9);
    fill(c->robots_dir.rel, OPTOUT_MSG_PATH_MAX - 1, 10);
    fill(c->redis, OPTOUT_MSG_PATH_MAX - 1, 11);
    fill(c->redis_prefix, OPTOUT_MSG_PATH_MAX - 1, 12);
    c->robots_archive = 1, c->rank_partitions = UINT32_MAX, c->rank_metric = 2;
    c->top_en = UINT64_MAX, c->top_non_en = 1, c->all_hosts = 1;
    c->fetch_scheme = 2, c->fetch_concurrency = 2000, c->fetch_connect_timeout_ms = INT64_MAX;
    c->fetch_timeout_ms = INT64_MIN, c->fetch_retries = -1, c->fetch_allow_private = 1;
    fill(c->fetch_user_agent, OPTOUT_MSG_PATH_MAX - 1, 13);
    fill(c->fetch_connect_to, OPTOUT_MSG_NAME_MAX - 1, 14);
    c->granularity = 2, c->sample_ppm = 1000000, c->output_tags = 1;
    fill(c->keep_hosts.root, OPTOUT_MSG_NAME_MAX - 1, 15);
    fill(c->keep_hosts.rel, OPTOUT_MSG_PATH_MAX - 1, 16);
    fill(c->remove_hosts.root, OPTOUT_MSG_NAME_MAX - 1, 17);
    fill(c->remove_hosts.rel, OPTOUT_MSG_PATH_MAX - 1, 18);
    fill(c->blocked_domains.root, OPTOUT_MSG_NAME_MAX - 1, 19);
    fill(c->blocked_domains.rel, OPTOUT_MSG_PATH_MAX - 1, 20);
    c->robots_time = 3, c->history_missing = 2, c->robots_cutoff = INT64_MIN, c->report_cutoff = INT64_MAX;
    c->history_max_age = INT64_MAX;
    fill(c->history.root, OPTOUT_MSG_NAME_MAX - 1, 21);
    fill(c->history.rel, OPTOUT_MSG_PATH_MAX - 1, 22);
    cfg_round_trip(c);
    c->level = INT32_MAX;
    cfg_round_trip(c);
    /* the other extremes: no agents, no robots directory, every string empty */
    memset(c, 0, sizeof *c);
    c->level = -7;
    cfg_round_trip(c);
    free(c);
}

static void test_config_rejections(void **state) {
    (void)state;
    optout_run_config *c = malloc(sizeof *c);
    sample_config(c);
    for (const char *const *k = CFG_KEYS; *k; k++) {
        char needle[32];
        snprintf(needle, sizeof needle, "missing key \"%s\"", *k);
        cfg_edited_fails(c, (edit){.drop = *k}, needle);
        snprintf(needle, sizeof needle, "\"%s\"", *k);
        cfg_edited_fails(c, (edit){.replace = *k, .with = with_nil}, needle);
        snprintf(needle, sizeof needle, "duplicate key \"%s\"", *k);
        cfg_edited_fails(c, (edit){.dup = *k}, needle);
    }
    g_u = 2;
    cfg_edited_fails(c, (edit){.replace = "m", .with = with_uint}, "\"m\"");
    cfg_edited_fails(c, (edit){.replace = "hk", .with = with_uint}, "\"hk\"");
    /* robots.txt as it was: the policy at most strictest (3), --history-missing at most remove (2) */
    g_u = 4;
    cfg_edited_fails(c, (edit){.replace = "rt", .with = with_uint}, "\"rt\"");
    g_u = 3;
    cfg_edited_fails(c, (edit){.replace = "hm", .with = with_uint}, "\"hm\"");
    g_str = "../x";
    cfg_edited_fails(c, (edit){.replace = "hd", .with = with_rel}, "\"hd\"");
    g_u = (uint64_t)INT32_MAX + 1;
    cfg_edited_fails(c, (edit){.replace = "l", .with = with_uint}, "\"l\"");
    g_i = (int64_t)INT32_MIN - 1;
    cfg_edited_fails(c, (edit){.replace = "l", .with = with_int}, "\"l\"");
    g_len = OPTOUT_MSG_NAME_MAX;
    cfg_edited_fails(c, (edit){.replace = "fu", .with = with_long_str}, "too long");
    g_len = OPTOUT_MSG_PATH_MAX;
    cfg_edited_fails(c, (edit){.replace = "r", .with = with_long_str}, "too long");
    cfg_edited_fails(c, (edit){.replace = "rp", .with = with_long_str}, "too long");
    cfg_edited_fails(c, (edit){.replace = "rd", .with = with_long_rel}, "too long");
    g_str = "../x";
    cfg_edited_fails(c, (edit){.replace = "rd", .with = with_rel}, "\"rd\"");
    /* agents: at most 256, each 1..127 bytes */
    c->agent_count = OPTOUT_AGENTS_MAX + 1;
    char err[OPTOUT_MSG_ERR_LEN];
    void *out;
    size_t len;
    assert_int_equal(optout_run_config_encode(c, &out, &len, err), -1);
    assert_non_null(strstr(err, "too many agents"));
    c->agent_count = OPTOUT_AGENTS_MAX;
    for (int i = 0; i < OPTOUT_AGENTS_MAX; i++) strcpy(c->agents[i], "a");
    void *buf = cfg_enc_ok(c, &len);
    /* 257 agents: patch the array16 header 0xdc 0x01 0x00 and insert one more "a" */
    unsigned char *p = memmem(buf, len, "\xa2" "ag\xdc\x01\x00", 6);
    assert_non_null(p);
    unsigned char *big = malloc(len + 2);
    size_t at = (size_t)(p - (unsigned char *)buf) + 6;
    memcpy(big, buf, at);
    big[at - 1] = 0x01; /* 0x0101 = 257 */
    big[at] = 0xa1, big[at + 1] = 'a';
    memcpy(big + at + 2, (unsigned char *)buf + at, len - at);
    cfg_dec_fails(big, len + 2, "too many agents");
    free(big);
    free(buf);
    /* the encoder refuses a name of 128 bytes, an empty name, an unknown mode */
    sample_config(c);
    c->agent_count = 1;
    memset(c->agents[0], 'a', OPTOUT_MSG_NAME_MAX);
    assert_int_equal(optout_run_config_encode(c, &out, &len, err), -1);
    c->agents[0][0] = '\0';
    assert_int_equal(optout_run_config_encode(c, &out, &len, err), -1);
    c->mode = (optout_robots_mode)5;
    strcpy(c->agents[0], "a");
    assert_int_equal(optout_run_config_encode(c, &out, &len, err), -1);
    /* truncation at every prefix and trailing bytes */
    sample_config(c);
    buf = cfg_enc_ok(c, &len);
    for (size_t n = 0; n < len; n++) {
        unsigned char *prefix = malloc(n ? n : 1);
        memcpy(prefix, buf, n);
        cfg_dec_fails(prefix, n, "truncated");
        free(prefix);
    }
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    cfg_dec_fails(longer, len + 1, "trailing");
    free(longer);
    free(buf);
    free(c);
}

static void with_agent_128(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    g_len = OPTOUT_MSG_NAME_MAX;
    with_long_str(pk);
}
static void with_agent_empty(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    msgpack_pack_str(pk, 0);
}
static void with_agent_nonstr(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, 1);
}

static void test_config_agent_names(void **state) {
    (void)state;
    optout_run_config c;
    sample_config(&c);
    cfg_edited_fails(&c, (edit){.replace = "ag", .with = with_agent_128}, "too long");
    cfg_edited_fails(&c, (edit){.replace = "ag", .with = with_agent_empty}, "empty");
    cfg_edited_fails(&c, (edit){.replace = "ag", .with = with_agent_nonstr}, "\"ag\"[0]");
}

/* ---- stats ------------------------------------------------------------------------------------ */

/* Stats of `n` varied documents over `agents` agents, with every counter and outcome set. */
static void sample_stats(optout_stats *s, size_t agents, int n) {
    optout_stats_init(s);
    s->sample_ppm = 10000; /* the sums of squared tokens too */
    for (int i = 0; i < n; i++) {
        optout_agentset set;
        optout_agentset_clear(&set);
        for (size_t a = 0; a < agents; a++)
            if ((a * 7 + (size_t)i) % 3 == 0) optout_agentset_add(&set, a);
        optout_doc_facts d = {
            .cls = (optout_class)(i % OPTOUT_CLASS_COUNT),
            .year = i % 5 == 0 ? 0 : 1985 + i % 130, /* also out of range: "unknown" */
            .bytes = (uint64_t)i * 1000 + 1,
            .chars = (uint64_t)i * 900 + 1,
            .tokens = (uint64_t)i * 250 + 1,
            .removed = i % 2,
            .disallowed = i % 2 ? &set : NULL,
            .override = i % 4 == 1 ? 2 : i % 8 == 2 ? 1 : 0,
        };
        char dump[40];
        snprintf(dump, sizeof dump, i % 7 == 0 ? "CC-MAIN-%d-%02d-with-a-name-too-long" : "CC-MAIN-%d-%02d",
                 2013 + i % 12, i % 3);
        if (i % 11 != 0) d.dump = dump, d.dump_len = strlen(dump); /* also none, and too long: other */
        optout_stats_add_doc(s, agents, &d);
        s->docs_by_outcome[i % OPTOUT_OUTCOME_COUNT]++;
        if (i % 2) {
            optout_host_loss h = {.docs_removed = 1, .tokens_removed = d.tokens};
            snprintf(h.host, sizeof h.host, "host%d.example", i % 13);
            optout_stats_add_host_losses(s, &h, 1);
        }
    }
    s->bad_json = 1, s->no_url = 2, s->bad_url = 3, s->no_host = 4, s->bad_idna = 5, s->line_too_long = 6;
    s->tokens_estimated_docs = UINT64_MAX;
    s->docs_not_sampled = 77;
    s->sample_sq[0][0][1] = UINT64_MAX; /* the low word's carry into the high word when merged */
}

static void *stats_enc_ok(const optout_stats *s, size_t agents, size_t *len) {
    void *out = NULL;
    assert_int_equal(optout_stats_encode(s, agents, &out, len), 0);
    assert_non_null(out);
    return out;
}

static void test_stats_round_trip(void **state) {
    (void)state;
    size_t agent_counts[] = {0, 1, 14, OPTOUT_AGENTS_MAX};
    optout_stats *s = malloc(sizeof *s), *d = malloc(sizeof *d), *expect = malloc(sizeof *s);
    for (int k = 0; k < 4; k++) {
        size_t agents = agent_counts[k];
        sample_stats(s, agents, 400);
        size_t len;
        void *buf = stats_enc_ok(s, agents, &len);
        /* into empty stats: equal to the original */
        optout_stats_init(d);
        assert_int_equal(optout_stats_decode_add(buf, len, agents, d), 0);
        assert_memory_equal(d, s, sizeof *s);
        /* into nonempty stats: equal to optout_stats_merge */
        sample_stats(d, agents, 37);
        memcpy(expect, d, sizeof *d);
        optout_stats_merge(expect, s);
        assert_int_equal(optout_stats_decode_add(buf, len, agents, d), 0);
        assert_memory_equal(d, expect, sizeof *d);
        /* a larger agent_count on the reading side is fine */
        optout_stats_init(d);
        assert_int_equal(optout_stats_decode_add(buf, len, OPTOUT_AGENTS_MAX, d), 0);
        assert_memory_equal(d, s, sizeof *s);
        free(buf);
    }
    /* every bucket and counter at its maximum, every dump and top host slot used */
    memset(s, 0xff, sizeof *s);
    s->dump_count = OPTOUT_DUMPS_MAX;
    for (int i = 0; i < OPTOUT_DUMPS_MAX; i++) {
        memset(s->by_dump[i].name, 0, sizeof s->by_dump[i].name);
        snprintf(s->by_dump[i].name, sizeof s->by_dump[i].name, "dump-%04d-%0*d", i, 20, i);
    }
    s->top_host_count = OPTOUT_TOP_HOSTS;
    for (int i = 0; i < OPTOUT_TOP_HOSTS; i++) {
        memset(&s->top_hosts[i], 0, sizeof s->top_hosts[i]); /* padding too: decoding leaves it zero */
        snprintf(s->top_hosts[i].host, sizeof s->top_hosts[i].host, "h%05d.%0*d", i, OPTOUT_TOP_HOST_MAX - 9, i);
        s->top_hosts[i].docs_removed = s->top_hosts[i].tokens_removed = UINT64_MAX;
    }
    size_t len;
    void *buf = stats_enc_ok(s, OPTOUT_AGENTS_MAX, &len);
    optout_stats_init(d);
    assert_int_equal(optout_stats_decode_add(buf, len, OPTOUT_AGENTS_MAX, d), 0);
    assert_memory_equal(d, s, sizeof *s);
    free(buf);
    /* agents beyond agent_count are not sent */
    buf = stats_enc_ok(s, 3, &len);
    optout_stats_init(d);
    assert_int_equal(optout_stats_decode_add(buf, len, 3, d), 0);
    assert_true(d->by_agent[2].docs_in == UINT64_MAX);
    assert_true(d->by_agent[3].docs_in == 0);
    assert_int_equal(optout_stats_decode_add(buf, len, 2, d), -1); /* agent 2 >= 2 */
    free(buf);
    free(s);
    free(d);
    free(expect);
}

static void test_stats_empty_and_compact(void **state) {
    (void)state;
    optout_stats s, d;
    optout_stats_init(&s);
    size_t len;
    unsigned char *buf = stats_enc_ok(&s, OPTOUT_AGENTS_MAX, &len);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], 0x80);
    sample_stats(&d, 3, 5);
    optout_stats before = d;
    assert_int_equal(optout_stats_decode_add(buf, len, 3, &d), 0);
    assert_memory_equal(&d, &before, sizeof d);
    free(buf);
    /* one document: total, one class, one year, any, per agent: compact */
    sample_stats(&s, 14, 1);
    buf = stats_enc_ok(&s, 14, &len);
    assert_true(len < 700);
    free(buf);
    void *out;
    assert_int_equal(optout_stats_encode(&s, OPTOUT_AGENTS_MAX + 1, &out, &len), -1);
}

/* A bad stats buffer built with a packer. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} builder;
static msgpack_packer *b_init(builder *b) {
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
    return &b->pk;
}
static void b_key(msgpack_packer *pk, const char *k) { msgpack_pack_str_with_body(pk, k, strlen(k)); }
static void b_bucket(msgpack_packer *pk, int n) {
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) msgpack_pack_uint64(pk, (uint64_t)i + 1);
}

/* Decoding fails and *target is unchanged. */
static void stats_fails(builder *b, size_t agents) {
    optout_stats s, before;
    sample_stats(&s, agents > OPTOUT_AGENTS_MAX ? OPTOUT_AGENTS_MAX : agents, 9);
    before = s;
    assert_int_equal(optout_stats_decode_add(b->sb.data, b->sb.size, agents, &s), -1);
    assert_memory_equal(&s, &before, sizeof s);
    msgpack_sbuffer_destroy(&b->sb);
}

static void test_stats_malformed(void **state) {
    (void)state;
    builder b;
    msgpack_packer *pk;
    /* not a map */
    pk = b_init(&b), b_bucket(pk, 8), stats_fails(&b, 3);
    /* unknown key */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "zz"), msgpack_pack_uint64(pk, 1), stats_fails(&b, 3);
    /* non-string key */
    pk = b_init(&b), msgpack_pack_map(pk, 1), msgpack_pack_uint64(pk, 1), b_bucket(pk, 8), stats_fails(&b, 3);
    /* duplicate key */
    pk = b_init(&b), msgpack_pack_map(pk, 2), b_key(pk, "t"), b_bucket(pk, 8), b_key(pk, "t"), b_bucket(pk, 8);
    stats_fails(&b, 3);
    /* a bucket of 7 or 9 */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "t"), b_bucket(pk, 7), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "any"), b_bucket(pk, 9), stats_fails(&b, 3);
    /* counts that are not uints: negative, float, string, nil */
    for (int kind = 0; kind < 4; kind++) {
        pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "t"), msgpack_pack_array(pk, 8);
        for (int i = 0; i < 7; i++) msgpack_pack_uint64(pk, 1);
        if (kind == 0) msgpack_pack_int64(pk, -1);
        else if (kind == 1) msgpack_pack_double(pk, 1.0);
        else if (kind == 2) b_key(pk, "1");
        else msgpack_pack_nil(pk);
        stats_fails(&b, 3);
    }
    /* index out of range: class 3, year slot OPTOUT_YEARS, agent == agent_count */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "c"), msgpack_pack_map(pk, 1);
    msgpack_pack_uint64(pk, OPTOUT_CLASS_COUNT), b_bucket(pk, 8), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "y"), msgpack_pack_map(pk, 1);
    msgpack_pack_uint64(pk, OPTOUT_YEARS), b_bucket(pk, 8), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "a"), msgpack_pack_map(pk, 1);
    msgpack_pack_uint64(pk, 3), b_bucket(pk, 8), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "a"), msgpack_pack_map(pk, 1);
    msgpack_pack_int64(pk, -1), b_bucket(pk, 8), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "a"), msgpack_pack_map(pk, 1);
    b_key(pk, "0"), b_bucket(pk, 8), stats_fails(&b, 3);
    /* duplicate index */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "y"), msgpack_pack_map(pk, 2);
    msgpack_pack_uint64(pk, 5), b_bucket(pk, 8), msgpack_pack_uint64(pk, 5), b_bucket(pk, 8), stats_fails(&b, 3);
    /* a bucket map that is not a map */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "c"), b_bucket(pk, 8), stats_fails(&b, 3);
    /* outcomes: wrong length, wrong type */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "o"), b_bucket(pk, OPTOUT_OUTCOME_COUNT - 1);
    stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "o"), b_bucket(pk, OPTOUT_OUTCOME_COUNT + 1);
    stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "o"), msgpack_pack_uint64(pk, 1), stats_fails(&b, 3);
    /* counters: unknown name, duplicate, negative, not a map */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "n"), msgpack_pack_map(pk, 1), b_key(pk, "bad_jsonx");
    msgpack_pack_uint64(pk, 1), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "n"), msgpack_pack_map(pk, 2), b_key(pk, "no_url");
    msgpack_pack_uint64(pk, 1), b_key(pk, "no_url"), msgpack_pack_uint64(pk, 1), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "n"), msgpack_pack_map(pk, 1), b_key(pk, "no_url");
    msgpack_pack_int64(pk, -5), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "n"), b_bucket(pk, 7), stats_fails(&b, 3);
    /* valid parts first, a bad one last: nothing is applied */
    pk = b_init(&b), msgpack_pack_map(pk, 3), b_key(pk, "t"), b_bucket(pk, 8), b_key(pk, "n");
    msgpack_pack_map(pk, 1), b_key(pk, "bad_json"), msgpack_pack_uint64(pk, 9), b_key(pk, "a");
    msgpack_pack_map(pk, 2), msgpack_pack_uint64(pk, 0), b_bucket(pk, 8), msgpack_pack_uint64(pk, 99), b_bucket(pk, 8);
    stats_fails(&b, 3);
    /* year x class: not 3 buckets, year out of range, twice */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "yc"), msgpack_pack_map(pk, 1), msgpack_pack_uint64(pk, 3);
    msgpack_pack_array(pk, 2), b_bucket(pk, 8), b_bucket(pk, 8), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "yc"), msgpack_pack_map(pk, 1);
    msgpack_pack_uint64(pk, OPTOUT_YEARS), msgpack_pack_array(pk, 3);
    for (int i = 0; i < 3; i++) b_bucket(pk, 8);
    stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "yc"), msgpack_pack_map(pk, 2);
    for (int k = 0; k < 2; k++) {
        msgpack_pack_uint64(pk, 4), msgpack_pack_array(pk, 3);
        for (int i = 0; i < 3; i++) b_bucket(pk, 8);
    }
    stats_fails(&b, 3);
    /* dumps: empty name, a name with a space or too long, twice */
    const char *bad_dumps[] = {"", "CC MAIN", "CC-MAIN-2019-35-and-a-name-that-is-too-long"};
    for (int i = 0; i < 3; i++) {
        pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "d"), msgpack_pack_map(pk, 1), b_key(pk, bad_dumps[i]);
        b_bucket(pk, 8), stats_fails(&b, 3);
    }
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "d"), msgpack_pack_map(pk, 2), b_key(pk, "CC-MAIN-2019-35");
    b_bucket(pk, 8), b_key(pk, "CC-MAIN-2019-35"), b_bucket(pk, 8), stats_fails(&b, 3);
    /* top hosts: not sorted, twice, an entry of 2, a negative count */
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "h"), msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, 3), b_key(pk, "b.example"), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1);
    msgpack_pack_array(pk, 3), b_key(pk, "a.example"), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1);
    stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "h"), msgpack_pack_array(pk, 2);
    for (int k = 0; k < 2; k++)
        msgpack_pack_array(pk, 3), b_key(pk, "a.example"), msgpack_pack_uint64(pk, 1), msgpack_pack_uint64(pk, 1);
    stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "h"), msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2), b_key(pk, "a.example"), msgpack_pack_uint64(pk, 1), stats_fails(&b, 3);
    pk = b_init(&b), msgpack_pack_map(pk, 1), b_key(pk, "h"), msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3), b_key(pk, "a.example"), msgpack_pack_int64(pk, -1), msgpack_pack_uint64(pk, 1);
    stats_fails(&b, 3);
    /* agent_count beyond the maximum */
    pk = b_init(&b), msgpack_pack_map(pk, 0), stats_fails(&b, OPTOUT_AGENTS_MAX + 1);
}

/* Top hosts: summed by host across merges, the largest kept, the order of merges irrelevant. */
static void test_stats_top_hosts(void **state) {
    (void)state;
    optout_stats *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    optout_host_loss *h = calloc(OPTOUT_TOP_HOSTS + 10, sizeof *h);
    for (int i = 0; i < OPTOUT_TOP_HOSTS + 10; i++) {
        snprintf(h[i].host, sizeof h[i].host, "host%04d.example", i);
        h[i].docs_removed = 1;
        h[i].tokens_removed = (uint64_t)i + 1;
    }
    /* in two halves, in both orders */
    optout_stats_add_host_losses(a, h, 600);
    optout_stats_add_host_losses(a, h + 600, OPTOUT_TOP_HOSTS + 10 - 600);
    optout_stats_add_host_losses(b, h + 600, OPTOUT_TOP_HOSTS + 10 - 600);
    optout_stats_add_host_losses(b, h, 600);
    assert_int_equal(a->top_host_count, OPTOUT_TOP_HOSTS);
    assert_memory_equal(a->top_hosts, b->top_hosts, sizeof a->top_hosts);
    /* the 10 smallest fell out; hosts are sorted */
    for (size_t i = 0; i < a->top_host_count; i++) {
        assert_true(a->top_hosts[i].tokens_removed > 10);
        if (i) assert_true(strcmp(a->top_hosts[i - 1].host, a->top_hosts[i].host) < 0);
    }
    /* the same host again: summed */
    optout_host_loss again = h[OPTOUT_TOP_HOSTS + 9];
    optout_stats_add_host_losses(a, &again, 1);
    assert_int_equal(a->top_host_count, OPTOUT_TOP_HOSTS);
    assert_true(a->top_hosts[OPTOUT_TOP_HOSTS - 1].tokens_removed == 2 * (OPTOUT_TOP_HOSTS + 10));
    assert_true(a->top_hosts[OPTOUT_TOP_HOSTS - 1].docs_removed == 2);
    free(a);
    free(b);
    free(h);
}

static void test_stats_truncated_and_trailing(void **state) {
    (void)state;
    optout_stats s, d, before;
    sample_stats(&s, 4, 30);
    size_t len;
    unsigned char *buf = stats_enc_ok(&s, 4, &len);
    sample_stats(&d, 4, 3);
    before = d;
    for (size_t n = 0; n < len; n++) {
        unsigned char *prefix = malloc(n ? n : 1);
        memcpy(prefix, buf, n);
        assert_int_equal(optout_stats_decode_add(prefix, n, 4, &d), -1);
        free(prefix);
    }
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0xc0;
    assert_int_equal(optout_stats_decode_add(longer, len + 1, 4, &d), -1);
    assert_memory_equal(&d, &before, sizeof d);
    free(longer);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_round_trip_samples),
        cmocka_unit_test(test_round_trip_ready_credit_limits),
        cmocka_unit_test(test_round_trip_task_limits),
        cmocka_unit_test(test_round_trip_result_limits),
        cmocka_unit_test(test_round_trip_attempt_messages),
        cmocka_unit_test(test_round_trip_status_limits),
        cmocka_unit_test(test_encode_only_type_keys),
        cmocka_unit_test(test_frame_size_limit),
        cmocka_unit_test(test_reject_oversize_frame),
        cmocka_unit_test(test_reject_wrong_version),
        cmocka_unit_test(test_reject_unknown_type),
        cmocka_unit_test(test_reject_missing_required_key),
        cmocka_unit_test(test_optional_error_key),
        cmocka_unit_test(test_reject_wrong_key_type),
        cmocka_unit_test(test_reject_string_too_long),
        cmocka_unit_test(test_reject_too_many_files),
        cmocka_unit_test(test_reject_trailing_bytes),
        cmocka_unit_test(test_reject_truncated_at_every_prefix),
        cmocka_unit_test(test_reject_duplicate_key),
        cmocka_unit_test(test_unknown_keys_skipped),
        cmocka_unit_test(test_reject_not_a_map),
        cmocka_unit_test(test_reject_hostile_counts),
        cmocka_unit_test(test_reject_escaping_paths),
        cmocka_unit_test(test_reject_nul_in_string),
        cmocka_unit_test(test_encode_rejects_bad_pointers),
        cmocka_unit_test(test_config_round_trip_limits),
        cmocka_unit_test(test_config_rejections),
        cmocka_unit_test(test_config_agent_names),
        cmocka_unit_test(test_stats_round_trip),
        cmocka_unit_test(test_stats_empty_and_compact),
        cmocka_unit_test(test_stats_malformed),
        cmocka_unit_test(test_stats_truncated_and_trailing),
        cmocka_unit_test(test_stats_top_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
