/* msg.c — broker <-> worker messages and the run configuration as msgpack maps
 * (include/optout/msg.h; docs/fleet-protocol.md is the reference for the keys).
 *
 * Decoding is two steps: optout_msgpack_unpack (declared in optout/msgpack_bounded.h, defined
 * here next to the codec it serves first) pre-scans the frame's structure without allocating and
 * only then lets msgpack-c build the object tree; then the field tables below check the values.
 *
 * Byte fields point into the frame: msgpack-c's unpack callbacks for str and bin store a pointer
 * to the payload inside the input buffer (src/unpack.c, template_callback_str/bin; the zone holds
 * only the container arrays), so config, stats and text reference the caller's frame and stay
 * valid exactly as long as it does (tests/unit/test_msg.c checks this).
 *
 * Values are validated against one field table per map (kind, limit, offset in the struct), used
 * by both the encoder and the decoder, so whatever encodes also decodes and vice versa. A key of
 * the table may appear at most once in a map (a duplicate rejects the frame: first-wins and
 * last-wins readers would otherwise disagree about what it says); other keys are skipped.
 * Decoding fills a zeroed temporary and copies it out only on success.
 */
#include "optout/msg.h"
#include "optout/history.h"
#include "optout/msgpack_bounded.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- errors ---------------------------------------------------------------------------------- */

static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}
#define FAIL(...) fail(err, OPTOUT_MSG_ERR_LEN, __VA_ARGS__)

/* A hostile string, shown safely in an error: at most 32 bytes, non-printables as '?'. */
static const char *shown(const char *s, size_t n, char out[40]) {
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    if (n > 32) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = '\0';
    return out;
}

/* ---- structural pre-scan --------------------------------------------------------------------- */

static uint64_t be(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Checks that buf holds exactly one well-formed msgpack object of at most `max_objects` objects
 * nested at most OPTOUT_MSGPACK_MAX_DEPTH containers deep (msgpack-c's own limit is 32, reported
 * as "out of memory"). */
static int prescan(const unsigned char *p, size_t len, size_t max_objects, char *err, size_t err_len) {
    size_t off = 0, pending = 1, objects = 0;
    uint64_t open[OPTOUT_MSGPACK_MAX_DEPTH]; /* elements still due in each open container */
    size_t depth = 0;
    while (pending) {
        if (off >= len) return fail(err, err_len, "truncated frame (%zu bytes)", len);
        if (++objects > max_objects)
            return fail(err, err_len, "too many msgpack objects (more than %zu)", max_objects);
        pending--;
        if (depth) open[depth - 1]--;
        unsigned b = p[off++];
        size_t lenbytes = 0, fixed = 0; /* size of a length field / of a fixed payload */
        int container = 0;              /* 1 array, 2 map: the length field counts elements */
        uint64_t count = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, false, true */
        } else if (b <= 0x8f) {
            container = 2, count = b & 0x0f;
        } else if (b <= 0x9f) {
            container = 1, count = b & 0x0f;
        } else if (b <= 0xbf) {
            fixed = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break; /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; break; /* bin16, str16 */
            case 0xc6: case 0xdb: lenbytes = 4; break; /* bin32, str32 */
            case 0xc7: lenbytes = 1, fixed = 1; break; /* ext8: length, then type byte */
            case 0xc8: lenbytes = 2, fixed = 1; break;
            case 0xc9: lenbytes = 4, fixed = 1; break;
            case 0xca: fixed = 4; break;
            case 0xcb: fixed = 8; break;
            case 0xcc: case 0xd0: fixed = 1; break;
            case 0xcd: case 0xd1: fixed = 2; break;
            case 0xce: case 0xd2: fixed = 4; break;
            case 0xcf: case 0xd3: fixed = 8; break;
            case 0xd4: fixed = 2; break; /* fixext: type byte + 1, 2, 4, 8, 16 */
            case 0xd5: fixed = 3; break;
            case 0xd6: fixed = 5; break;
            case 0xd7: fixed = 9; break;
            case 0xd8: fixed = 17; break;
            case 0xdc: container = 1, lenbytes = 2; break;
            case 0xdd: container = 1, lenbytes = 4; break;
            case 0xde: container = 2, lenbytes = 2; break;
            case 0xdf: container = 2, lenbytes = 4; break;
            default: return fail(err, err_len, "invalid msgpack byte 0x%02x at offset %zu", b, off - 1);
            }
        }
        if (lenbytes) {
            if (len - off < lenbytes) return fail(err, err_len, "truncated frame (%zu bytes)", len);
            uint64_t n = be(p + off, lenbytes);
            off += lenbytes;
            if (container) count = n;
            else fixed += n;
        }
        if (len - off < fixed) return fail(err, err_len, "truncated frame (%zu bytes)", len);
        off += fixed;
        if (container) {
            uint64_t add = container == 2 ? 2 * count : count;
            /* every pending object needs at least one more byte */
            if (add > len - off || pending + add > len - off)
                return fail(err, err_len, "truncated frame (%zu bytes)", len);
            if (add) {
                if (depth == OPTOUT_MSGPACK_MAX_DEPTH)
                    return fail(err, err_len, "nested deeper than %d containers", OPTOUT_MSGPACK_MAX_DEPTH);
                open[depth++] = add;
                pending += add;
            }
        }
        while (depth && open[depth - 1] == 0) depth--;
    }
    if (off != len) return fail(err, err_len, "%zu trailing bytes after the message", len - off);
    return 0;
}

int optout_msgpack_unpack(const void *buf, size_t len, size_t max_len, msgpack_unpacked *out, char *err,
                          size_t err_len) {
    msgpack_unpacked_init(out);
    if (len > max_len) return fail(err, err_len, "frame too large (%zu bytes, max %zu)", len, max_len);
    return optout_msgpack_unpack_objects(buf, len, OPTOUT_MSGPACK_MAX_OBJECTS, out, err, err_len);
}

int optout_msgpack_unpack_objects(const void *buf, size_t len, size_t max_objects, msgpack_unpacked *out,
                                  char *err, size_t err_len) {
    msgpack_unpacked_init(out);
    if (len && !buf) return fail(err, err_len, "no frame");
    if (prescan(buf, len, max_objects, err, err_len) != 0) return -1;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(out, buf, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(out);
        msgpack_unpacked_init(out);
        if (r == MSGPACK_UNPACK_NOMEM_ERROR) return fail(err, err_len, "out of memory");
        return fail(err, err_len, "malformed msgpack");
    }
    return 0;
}

/* ---- field tables ---------------------------------------------------------------------------- */

typedef enum {
    K_VERSION, /* "v": positive int, must be OPTOUT_PROTOCOL_VERSION (not stored) */
    K_TYPE,    /* "t": one of the type names -> optout_msg_type */
    K_U64,     /* uint64_t */
    K_U32,     /* uint32_t, at most cap when cap is not 0 */
    K_I64,     /* int64_t */
    K_I32,     /* int32_t */
    K_BOOL,    /* uint8_t, msgpack bool */
    K_STR,     /* char[cap], no NUL inside */
    K_NAME,    /* char[cap], no NUL, not empty */
    K_REL,     /* char[cap], a relative path (see rel_problem) */
    K_PATH,    /* optout_msg_path as [root, rel] */
    K_BIN,     /* const void * at off, size_t at off2: bin, into the frame */
    K_TEXT,    /* const char * at off, size_t at off2: str, into the frame */
    K_FILES,   /* optout_msg_file[OPTOUT_MSG_MAX_FILES] at off, size_t count at off2 */
    K_KIND,    /* optout_task_kind: uint, OPTOUT_TASK_FILTER .. OPTOUT_TASK_KIND_MAX */
    K_MODE,    /* optout_robots_mode: uint 0 (rfc9309) or 1 (protego) */
    K_HOSTKEY, /* optout_hostkey_mode: uint 0 (canonical) or 1 (netloc) */
    K_AGENTS,  /* char[OPTOUT_AGENTS_MAX][OPTOUT_MSG_NAME_MAX] at off, size_t count at off2 */
} kind;

typedef struct {
    const char *key;
    kind kind;
    size_t off, off2, cap;
    int omit_empty; /* optional: encoded only when not empty, "" when absent */
} field;

#define M(member) offsetof(optout_msg, member)
enum { F_V, F_T, F_E, F_W, F_C, F_ID, F_A, F_K, F_IN, F_ISZ, F_IMT, F_ST, F_O, F_RM, F_SS, F_SC, F_CFG, F_OK, F_ERR,
       F_F, F_S, F_X, F_MSG_COUNT };
static const field MSG_FIELDS[F_MSG_COUNT] = {
    [F_V] = {"v", K_VERSION, 0, 0, 0, 0},
    [F_T] = {"t", K_TYPE, M(type), 0, 0, 0},
    [F_E] = {"e", K_U64, M(epoch), 0, 0, 0},
    [F_W] = {"w", K_NAME, M(worker), 0, OPTOUT_MSG_NAME_MAX, 0},
    [F_C] = {"c", K_U32, M(credit), 0, OPTOUT_MSG_MAX_CREDIT, 0},
    [F_ID] = {"id", K_U64, M(task), 0, 0, 0},
    [F_A] = {"a", K_U64, M(attempt), 0, 0, 0},
    [F_K] = {"k", K_KIND, M(kind), 0, 0, 0},
    [F_IN] = {"in", K_PATH, M(input), 0, 0, 0},
    [F_ISZ] = {"isz", K_U64, M(input_size), 0, 0, 0},
    [F_IMT] = {"imt", K_I64, M(input_mtime_ns), 0, 0, 0},
    [F_ST] = {"st", K_PATH, M(staging), 0, 0, 0},
    [F_O] = {"o", K_REL, M(output_name), 0, OPTOUT_MSG_PATH_MAX, 0},
    [F_RM] = {"rm", K_BOOL, M(with_removed), 0, 0, 0},
    [F_SS] = {"ss", K_U64, M(span_start), 0, 0, 0},
    [F_SC] = {"sc", K_U64, M(span_count), 0, 0, 0},
    [F_CFG] = {"cfg", K_BIN, M(config), M(config_len), 0, 0},
    [F_OK] = {"ok", K_BOOL, M(ok), 0, 0, 0},
    [F_ERR] = {"err", K_STR, M(error), 0, OPTOUT_MSG_ERROR_MAX, 1},
    [F_F] = {"f", K_FILES, M(files), M(file_count), 0, 0},
    [F_S] = {"s", K_BIN, M(stats), M(stats_len), 0, 0},
    [F_X] = {"x", K_TEXT, M(text), M(text_len), 0, 0},
};
#undef M

#define B(f) ((uint64_t)1 << (f))
#define HEADER_KEYS (B(F_V) | B(F_T) | B(F_E))
#define ATTEMPT_KEYS (B(F_ID) | B(F_A))

/* Keys per type after the header; every one is required unless the field says omit_empty. */
static const struct {
    const char *name;
    uint64_t keys;
} TYPES[] = {
    [OPTOUT_MSG_READY] = {"ready", B(F_W) | B(F_C)},
    [OPTOUT_MSG_CREDIT] = {"credit", B(F_C)},
    [OPTOUT_MSG_HEARTBEAT] = {"hb", 0},
    [OPTOUT_MSG_TASK] = {"task", ATTEMPT_KEYS | B(F_K) | B(F_IN) | B(F_ISZ) | B(F_IMT) | B(F_ST) | B(F_O) |
                                     B(F_RM) | B(F_SS) | B(F_SC) | B(F_CFG)},
    [OPTOUT_MSG_RESULT] = {"result", ATTEMPT_KEYS | B(F_OK) | B(F_ERR) | B(F_F) | B(F_S)},
    [OPTOUT_MSG_HANDBACK] = {"handback", ATTEMPT_KEYS},
    [OPTOUT_MSG_ACK] = {"ack", ATTEMPT_KEYS},
    [OPTOUT_MSG_BYE] = {"bye", 0},
    [OPTOUT_MSG_STATUS_REQUEST] = {"status?", 0},
    [OPTOUT_MSG_STATUS] = {"status", B(F_X)},
    [OPTOUT_MSG_DONE] = {"done", 0},
};
#define TYPE_MAX OPTOUT_MSG_DONE

const char *optout_msg_type_name(optout_msg_type t) {
    return (t >= OPTOUT_MSG_READY && t <= TYPE_MAX) ? TYPES[t].name : "invalid";
}

#define C(member) offsetof(optout_run_config, member)
enum { G_M, G_HK, G_U, G_L, G_ML, G_AG, G_FU, G_FL, G_FT, G_FD, G_FDT, G_FX, G_RD, G_R, G_RP, G_RA, G_NP, G_MT, G_NE, G_NN, G_AH,
       G_FS, G_FC, G_FCT, G_FTO, G_FR, G_FAP, G_FUA, G_FCN, G_GR, G_KH, G_RH, G_SP, G_SS, G_OT, G_BD, G_MU, G_PC, G_OF, G_HH, G_SV,
       G_RT, G_RTC, G_RC, G_HMA, G_HM, G_HD, G_WB, G_WF, G_WT, G_WR, G_CFG_COUNT };
static const field CFG_FIELDS[G_CFG_COUNT] = {
    [G_M] = {"m", K_MODE, C(mode), 0, 0, 0},
    [G_HK] = {"hk", K_HOSTKEY, C(host_key), 0, 0, 0},
    [G_U] = {"u", K_BOOL, C(unreachable_disallows), 0, 0, 0},
    [G_L] = {"l", K_I32, C(level), 0, 0, 0},
    [G_ML] = {"ml", K_U64, C(max_line), 0, 0, 0},
    [G_AG] = {"ag", K_AGENTS, C(agents), C(agent_count), 0, 0},
    [G_FU] = {"fu", K_STR, C(url_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_FL] = {"fl", K_STR, C(language_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_FT] = {"ft", K_STR, C(tokens_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_FD] = {"fd", K_STR, C(dump_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_FDT] = {"fdt", K_STR, C(date_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_FX] = {"fx", K_STR, C(text_field), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_RD] = {"rd", K_PATH, C(robots_dir), 0, 0, 0},
    [G_R] = {"r", K_STR, C(redis), 0, OPTOUT_MSG_PATH_MAX, 0},
    [G_RP] = {"rp", K_STR, C(redis_prefix), 0, OPTOUT_MSG_PATH_MAX, 0},
    [G_RA] = {"ra", K_BOOL, C(robots_archive), 0, 0, 0},
    [G_NP] = {"np", K_U32, C(rank_partitions), 0, 0, 0},
    [G_MT] = {"mt", K_U32, C(rank_metric), 0, 0, 0},
    [G_NE] = {"ne", K_U64, C(top_en), 0, 0, 0},
    [G_NN] = {"nn", K_U64, C(top_non_en), 0, 0, 0},
    [G_AH] = {"ah", K_BOOL, C(all_hosts), 0, 0, 0},
    [G_FS] = {"fs", K_U32, C(fetch_scheme), 0, 0, 0},
    [G_FC] = {"fc", K_U32, C(fetch_concurrency), 0, 0, 0},
    [G_FCT] = {"fct", K_I64, C(fetch_connect_timeout_ms), 0, 0, 0},
    [G_FTO] = {"fto", K_I64, C(fetch_timeout_ms), 0, 0, 0},
    [G_FR] = {"fr", K_I32, C(fetch_retries), 0, 0, 0},
    [G_FAP] = {"fap", K_BOOL, C(fetch_allow_private), 0, 0, 0},
    [G_FUA] = {"fua", K_STR, C(fetch_user_agent), 0, OPTOUT_MSG_PATH_MAX, 0},
    [G_FCN] = {"fcn", K_STR, C(fetch_connect_to), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_GR] = {"gr", K_U32, C(granularity), 0, 0, 0},
    [G_KH] = {"kh", K_PATH, C(keep_hosts), 0, 0, 0},
    [G_RH] = {"rh", K_PATH, C(remove_hosts), 0, 0, 0},
    [G_SP] = {"sp", K_U32, C(sample_ppm), 0, 0, 0},
    [G_SS] = {"sps", K_BOOL, C(sample_shards), 0, 0, 0},
    [G_OT] = {"ot", K_BOOL, C(output_tags), 0, 0, 0},
    [G_BD] = {"bd", K_PATH, C(blocked_domains), 0, 0, 0},
    [G_MU] = {"mu", K_BOOL, C(missing_url_keep), 0, 0, 0},
    [G_PC] = {"pc", K_STR, C(parquet_compression), 0, OPTOUT_MSG_NAME_MAX, 0},
    [G_OF] = {"of", K_U32, C(output_format), 0, 0, 0},
    [G_HH] = {"hh", K_PATH, C(history_hosts), 0, 0, 0},
    [G_SV] = {"sv", K_BOOL, C(survey), 0, 0, 0},
    [G_RT] = {"rt", K_U32, C(robots_time), 0, OPTOUT_ROBOTS_TIME_COUNT - 1, 0},
    [G_RTC] = {"rtc", K_I64, C(robots_cutoff), 0, 0, 0},
    [G_RC] = {"rc", K_I64, C(report_cutoff), 0, 0, 0},
    [G_HMA] = {"hma", K_I64, C(history_max_age), 0, 0, 0},
    [G_HM] = {"hm", K_U32, C(history_missing), 0, OPTOUT_MISSING_REMOVE, 0},
    [G_HD] = {"hd", K_PATH, C(history), 0, 0, 0},
    [G_WB] = {"wb", K_STR, C(wayback_base), 0, OPTOUT_MSG_PATH_MAX, 0},
    [G_WF] = {"wf", K_U32, C(wayback_from), 0, 9999, 0},
    [G_WT] = {"wt", K_U32, C(wayback_to), 0, 9999, 0},
    [G_WR] = {"wr", K_U32, C(wayback_rate_micro), 0, OPTOUT_WAYBACK_RATE_MICRO_MAX, 0},
};
#undef C
#define CFG_KEYS ((uint64_t)(((uint64_t)1 << G_CFG_COUNT) - 1))
_Static_assert(G_CFG_COUNT < 64 && F_MSG_COUNT < 64, "key sets are 64-bit masks");

/* ---- value rules shared by encoder and decoder ------------------------------------------------- */

/* Why a root name or relative path is refused, or NULL. */
static const char *root_problem(const char *s, size_t n) {
    if (memchr(s, '\0', n)) return "holds a NUL byte";
    if (memchr(s, '/', n)) return "holds '/'";
    return NULL;
}

/* A relative path: no NUL, does not start with '/', no ".." component (so it cannot leave the
 * directory it is resolved against). Empty is allowed here: its consumer decides. */
static const char *rel_problem(const char *s, size_t n) {
    if (memchr(s, '\0', n)) return "holds a NUL byte";
    if (n && s[0] == '/') return "is absolute";
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/') j++;
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') return "has a '..' component";
        i = j + 1;
    }
    return NULL;
}

static int sha256_ok(const char *s, size_t n) {
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* Checks a string value of kind K_STR/K_NAME/K_REL against its field. */
static int check_str(const field *f, const char *what, const char *s, size_t n, char *err) {
    if (n >= f->cap) return FAIL("%s: string too long (%zu bytes, max %zu)", what, n, f->cap - 1);
    if (memchr(s, '\0', n)) return FAIL("%s: string holds a NUL byte", what);
    if (f->kind == K_NAME && n == 0) return FAIL("%s: empty", what);
    const char *why = f->kind == K_REL ? rel_problem(s, n) : NULL;
    if (why) return FAIL("%s: path %s", what, why);
    return 0;
}

static int check_path(const char *what, const char *root, size_t rn, const char *rel, size_t ln, char *err) {
    if (rn >= OPTOUT_MSG_NAME_MAX)
        return FAIL("%s: root name too long (%zu bytes, max %d)", what, rn, OPTOUT_MSG_NAME_MAX - 1);
    if (ln >= OPTOUT_MSG_PATH_MAX)
        return FAIL("%s: path too long (%zu bytes, max %d)", what, ln, OPTOUT_MSG_PATH_MAX - 1);
    const char *why = root_problem(root, rn);
    if (why) return FAIL("%s: root name %s", what, why);
    why = rel_problem(rel, ln);
    if (why) return FAIL("%s: path %s", what, why);
    return 0;
}

static int check_file(const char *what, size_t i, const char *name, size_t nn, const char *sha, size_t sn,
                      char *err) {
    if (nn >= OPTOUT_MSG_PATH_MAX)
        return FAIL("%s[%zu]: name too long (%zu bytes, max %d)", what, i, nn, OPTOUT_MSG_PATH_MAX - 1);
    const char *why = rel_problem(name, nn);
    if (why) return FAIL("%s[%zu]: name %s", what, i, why);
    if (!sha256_ok(sha, sn)) return FAIL("%s[%zu]: sha256 is not 64 lower-case hex digits", what, i);
    return 0;
}

/* ---- encoding ---------------------------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int failed; /* a pack call failed (out of memory) */
} enc;

static void enc_init(enc *e) {
    msgpack_sbuffer_init(&e->sb);
    msgpack_packer_init(&e->pk, &e->sb, msgpack_sbuffer_write);
    e->failed = 0;
}

static void p_str(enc *e, const char *s, size_t n) {
    e->failed |= msgpack_pack_str(&e->pk, n) != 0;
    if (n) e->failed |= msgpack_pack_str_body(&e->pk, s, n) != 0;
}
static void p_key(enc *e, const char *k) { p_str(e, k, strlen(k)); }
static void p_bin(enc *e, const void *b, size_t n) {
    e->failed |= msgpack_pack_bin(&e->pk, n) != 0;
    if (n) e->failed |= msgpack_pack_bin_body(&e->pk, b, n) != 0;
}
static void p_u64(enc *e, uint64_t v) { e->failed |= msgpack_pack_uint64(&e->pk, v) != 0; }
static void p_i64(enc *e, int64_t v) { e->failed |= msgpack_pack_int64(&e->pk, v) != 0; }
static void p_bool(enc *e, int v) { e->failed |= (v ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk)) != 0; }

/* A C string field of the struct: its length, or -1 when it is not NUL-terminated within cap. */
static int cstr_len(const char *s, size_t cap, size_t *n) {
    *n = strnlen(s, cap);
    return *n < cap ? 0 : -1;
}

typedef char agent_name[OPTOUT_MSG_NAME_MAX];
typedef const void *bytes_ptr;
typedef const char *text_ptr;

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define CAT(base, off, type) ((const type *)(const void *)((const char *)(base) + (off)))

/* 1 when an omit_empty field is empty (and so not encoded). */
static int omitted(const field *f, const void *base) {
    return f->omit_empty && CAT(base, f->off, char)[0] == '\0';
}

/* Checks one field of the struct for encoding (the decoder's rules, so the result decodes). */
static int enc_check(const field *f, const void *base, char *err) {
    char what[16];
    snprintf(what, sizeof what, "\"%s\"", f->key);
    size_t n, m;
    switch (f->kind) {
    case K_STR:
    case K_NAME:
    case K_REL: {
        const char *s = CAT(base, f->off, char);
        if (cstr_len(s, f->cap, &n) != 0) return FAIL("%s: string too long (max %zu bytes)", what, f->cap - 1);
        return check_str(f, what, s, n, err);
    }
    case K_PATH: {
        const optout_msg_path *p = CAT(base, f->off, optout_msg_path);
        if (cstr_len(p->root, sizeof p->root, &n) != 0)
            return FAIL("%s: root name too long (max %d bytes)", what, OPTOUT_MSG_NAME_MAX - 1);
        if (cstr_len(p->rel, sizeof p->rel, &m) != 0)
            return FAIL("%s: path too long (max %d bytes)", what, OPTOUT_MSG_PATH_MAX - 1);
        return check_path(what, p->root, n, p->rel, m, err);
    }
    case K_BIN:
    case K_TEXT: {
        const void *p = *CAT(base, f->off, bytes_ptr);
        size_t len = *CAT(base, f->off2, size_t);
        if (len > OPTOUT_MSG_MAX_BYTES) return FAIL("%s: %zu bytes do not fit in a frame", what, len);
        if (len && !p) return FAIL("%s: NULL with length %zu", what, len);
        return 0;
    }
    case K_FILES: {
        const optout_msg_file *fs = CAT(base, f->off, optout_msg_file);
        size_t count = *CAT(base, f->off2, size_t);
        if (count > OPTOUT_MSG_MAX_FILES) return FAIL("%s: too many files (%zu, max %d)", what, count, OPTOUT_MSG_MAX_FILES);
        for (size_t i = 0; i < count; i++) {
            if (cstr_len(fs[i].name, sizeof fs[i].name, &n) != 0)
                return FAIL("%s[%zu]: name too long (max %d bytes)", what, i, OPTOUT_MSG_PATH_MAX - 1);
            if (check_file(what, i, fs[i].name, n, fs[i].sha256, strnlen(fs[i].sha256, sizeof fs[i].sha256), err) != 0)
                return -1;
        }
        return 0;
    }
    case K_U32:
        if (f->cap && *CAT(base, f->off, uint32_t) > f->cap)
            return FAIL("%s: %u is over the maximum %zu", what, *CAT(base, f->off, uint32_t), f->cap);
        return 0;
    case K_KIND:
        if (*CAT(base, f->off, optout_task_kind) < OPTOUT_TASK_FILTER ||
            *CAT(base, f->off, optout_task_kind) > OPTOUT_TASK_KIND_MAX)
            return FAIL("%s: unknown task kind", what);
        return 0;
    case K_MODE: {
        optout_robots_mode v = *CAT(base, f->off, optout_robots_mode);
        if (v != OPTOUT_MODE_RFC9309 && v != OPTOUT_MODE_PROTEGO) return FAIL("%s: unknown robots mode", what);
        return 0;
    }
    case K_HOSTKEY: {
        optout_hostkey_mode v = *CAT(base, f->off, optout_hostkey_mode);
        if (v != OPTOUT_HOSTKEY_CANONICAL && v != OPTOUT_HOSTKEY_NETLOC) return FAIL("%s: unknown host key mode", what);
        return 0;
    }
    case K_AGENTS: {
        size_t count = *CAT(base, f->off2, size_t);
        if (count > OPTOUT_AGENTS_MAX) return FAIL("%s: too many agents (%zu, max %d)", what, count, OPTOUT_AGENTS_MAX);
        const agent_name *names = CAT(base, f->off, agent_name);
        for (size_t i = 0; i < count; i++) {
            if (cstr_len(names[i], OPTOUT_MSG_NAME_MAX, &n) != 0)
                return FAIL("%s[%zu]: name too long (max %d bytes)", what, i, OPTOUT_MSG_NAME_MAX - 1);
            if (n == 0) return FAIL("%s[%zu]: empty name", what, i);
        }
        return 0;
    }
    default:
        return 0;
    }
}

static void enc_value(enc *e, const field *f, const void *base) {
    switch (f->kind) {
    case K_VERSION: p_u64(e, OPTOUT_PROTOCOL_VERSION); break;
    case K_TYPE: p_key(e, TYPES[*CAT(base, f->off, optout_msg_type)].name); break;
    case K_U64: p_u64(e, *CAT(base, f->off, uint64_t)); break;
    case K_U32: p_u64(e, *CAT(base, f->off, uint32_t)); break;
    case K_I64: p_i64(e, *CAT(base, f->off, int64_t)); break;
    case K_I32: p_i64(e, *CAT(base, f->off, int32_t)); break;
    case K_BOOL: p_bool(e, *CAT(base, f->off, uint8_t) != 0); break;
    case K_STR:
    case K_NAME:
    case K_REL: p_key(e, CAT(base, f->off, char)); break;
    case K_PATH: {
        const optout_msg_path *p = CAT(base, f->off, optout_msg_path);
        e->failed |= msgpack_pack_array(&e->pk, 2) != 0;
        p_key(e, p->root);
        p_key(e, p->rel);
        break;
    }
    case K_BIN: p_bin(e, *CAT(base, f->off, bytes_ptr), *CAT(base, f->off2, size_t)); break;
    case K_TEXT: p_str(e, *CAT(base, f->off, text_ptr), *CAT(base, f->off2, size_t)); break;
    case K_FILES: {
        const optout_msg_file *fs = CAT(base, f->off, optout_msg_file);
        size_t count = *CAT(base, f->off2, size_t);
        e->failed |= msgpack_pack_array(&e->pk, count) != 0;
        for (size_t i = 0; i < count; i++) {
            e->failed |= msgpack_pack_array(&e->pk, 3) != 0;
            p_key(e, fs[i].name);
            p_u64(e, fs[i].size);
            p_key(e, fs[i].sha256);
        }
        break;
    }
    case K_KIND: p_u64(e, (uint64_t)*CAT(base, f->off, optout_task_kind)); break;
    case K_MODE: p_u64(e, (uint64_t)*CAT(base, f->off, optout_robots_mode)); break;
    case K_HOSTKEY: p_u64(e, (uint64_t)*CAT(base, f->off, optout_hostkey_mode)); break;
    case K_AGENTS: {
        const agent_name *names = CAT(base, f->off, agent_name);
        size_t count = *CAT(base, f->off2, size_t);
        e->failed |= msgpack_pack_array(&e->pk, count) != 0;
        for (size_t i = 0; i < count; i++) p_key(e, names[i]);
        break;
    }
    }
}

/* Encodes the fields of `keys` (a bit per table index) as one map. */
static int encode_map(const field *table, size_t nfields, uint64_t keys, const void *base, void **out,
                      size_t *len, char *err) {
    size_t count = 0;
    for (size_t i = 0; i < nfields; i++) {
        if (!(keys & B(i)) || omitted(&table[i], base)) continue;
        if (enc_check(&table[i], base, err) != 0) return -1;
        count++;
    }
    enc e;
    enc_init(&e);
    e.failed |= msgpack_pack_map(&e.pk, count) != 0;
    for (size_t i = 0; i < nfields; i++) {
        if (!(keys & B(i)) || omitted(&table[i], base)) continue;
        p_key(&e, table[i].key);
        enc_value(&e, &table[i], base);
    }
    if (e.failed) {
        msgpack_sbuffer_destroy(&e.sb);
        return FAIL("out of memory");
    }
    if (e.sb.size > OPTOUT_MSG_MAX_BYTES) {
        size_t n = e.sb.size;
        msgpack_sbuffer_destroy(&e.sb);
        return FAIL("message too large (%zu bytes, max %zu)", n, OPTOUT_MSG_MAX_BYTES);
    }
    *len = e.sb.size;
    *out = msgpack_sbuffer_release(&e.sb);
    return 0;
}

int optout_msg_encode(const optout_msg *m, void **out, size_t *len, char err[OPTOUT_MSG_ERR_LEN]) {
    char ebuf[OPTOUT_MSG_ERR_LEN];
    if (!err) err = ebuf;
    if (m->type < OPTOUT_MSG_READY || m->type > TYPE_MAX) return FAIL("unknown message type %d", (int)m->type);
    return encode_map(MSG_FIELDS, F_MSG_COUNT, HEADER_KEYS | TYPES[m->type].keys, m, out, len, err);
}

int optout_run_config_encode(const optout_run_config *c, void **out, size_t *len, char err[OPTOUT_MSG_ERR_LEN]) {
    char ebuf[OPTOUT_MSG_ERR_LEN];
    if (!err) err = ebuf;
    return encode_map(CFG_FIELDS, G_CFG_COUNT, CFG_KEYS, c, out, len, err);
}

/* ---- decoding ---------------------------------------------------------------------------------- */

static int str_of(const msgpack_object *o, const char **s, size_t *n) {
    if (o->type != MSGPACK_OBJECT_STR) return -1;
    *s = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

static int dec_uint(const msgpack_object *o, uint64_t max, uint64_t *v) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) return -1;
    *v = o->via.u64;
    return 0;
}

static int dec_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *v) {
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)max) return -1;
        *v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (o->via.i64 < min) return -1;
        *v = o->via.i64;
    } else {
        return -1;
    }
    return 0;
}

/* Copies a checked string into char[cap] (zero-filled by the caller's calloc). */
static void put_str(char *dst, const char *s, size_t n) {
    if (n) memcpy(dst, s, n);
    dst[n] = '\0';
}

static int dec_value(const field *f, const msgpack_object *o, void *base, char *err) {
    char what[16];
    snprintf(what, sizeof what, "\"%s\"", f->key);
    uint64_t u;
    int64_t i;
    const char *s, *r;
    size_t n, rn;
    switch (f->kind) {
    case K_VERSION:
        if (dec_uint(o, UINT64_MAX, &u) != 0) return FAIL("%s: expected an unsigned integer", what);
        if (u != OPTOUT_PROTOCOL_VERSION)
            return FAIL("unsupported protocol version %" PRIu64 " (this is %d)", u, OPTOUT_PROTOCOL_VERSION);
        return 0;
    case K_TYPE: {
        if (str_of(o, &s, &n) != 0) return FAIL("%s: expected a string", what);
        for (int t = OPTOUT_MSG_READY; t <= TYPE_MAX; t++)
            if (strlen(TYPES[t].name) == n && memcmp(TYPES[t].name, s, n) == 0) {
                *AT(base, f->off, optout_msg_type) = (optout_msg_type)t;
                return 0;
            }
        char sh[40];
        return FAIL("unknown message type \"%s\"", shown(s, n, sh));
    }
    case K_U64:
        if (dec_uint(o, UINT64_MAX, &u) != 0) return FAIL("%s: expected an unsigned integer", what);
        *AT(base, f->off, uint64_t) = u;
        return 0;
    case K_U32:
        if (dec_uint(o, f->cap ? f->cap : UINT32_MAX, &u) != 0)
            return FAIL("%s: expected an unsigned integer up to %zu", what, f->cap ? f->cap : (size_t)UINT32_MAX);
        *AT(base, f->off, uint32_t) = (uint32_t)u;
        return 0;
    case K_I64:
        if (dec_int(o, INT64_MIN, INT64_MAX, &i) != 0) return FAIL("%s: expected a 64-bit integer", what);
        *AT(base, f->off, int64_t) = i;
        return 0;
    case K_I32:
        if (dec_int(o, INT32_MIN, INT32_MAX, &i) != 0) return FAIL("%s: expected a 32-bit integer", what);
        *AT(base, f->off, int32_t) = (int32_t)i;
        return 0;
    case K_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN) return FAIL("%s: expected a boolean", what);
        *AT(base, f->off, uint8_t) = o->via.boolean ? 1 : 0;
        return 0;
    case K_STR:
    case K_NAME:
    case K_REL:
        if (str_of(o, &s, &n) != 0) return FAIL("%s: expected a string", what);
        if (check_str(f, what, s, n, err) != 0) return -1;
        put_str(AT(base, f->off, char), s, n);
        return 0;
    case K_PATH: {
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 || str_of(&o->via.array.ptr[0], &r, &rn) != 0 ||
            str_of(&o->via.array.ptr[1], &s, &n) != 0)
            return FAIL("%s: expected [root, path] (two strings)", what);
        if (check_path(what, r, rn, s, n, err) != 0) return -1;
        optout_msg_path *p = AT(base, f->off, optout_msg_path);
        put_str(p->root, r, rn);
        put_str(p->rel, s, n);
        return 0;
    }
    case K_BIN:
        if (o->type != MSGPACK_OBJECT_BIN) return FAIL("%s: expected binary data", what);
        *AT(base, f->off, bytes_ptr) = o->via.bin.ptr;
        *AT(base, f->off2, size_t) = o->via.bin.size;
        return 0;
    case K_TEXT:
        if (str_of(o, &s, &n) != 0) return FAIL("%s: expected a string", what);
        *AT(base, f->off, text_ptr) = s;
        *AT(base, f->off2, size_t) = n;
        return 0;
    case K_FILES: {
        if (o->type != MSGPACK_OBJECT_ARRAY) return FAIL("%s: expected an array of files", what);
        if (o->via.array.size > OPTOUT_MSG_MAX_FILES)
            return FAIL("%s: too many files (%" PRIu32 ", max %d)", what, o->via.array.size, OPTOUT_MSG_MAX_FILES);
        optout_msg_file *fs = AT(base, f->off, optout_msg_file);
        for (size_t k = 0; k < o->via.array.size; k++) {
            const msgpack_object *e = &o->via.array.ptr[k];
            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 || str_of(&e->via.array.ptr[0], &s, &n) != 0 ||
                dec_uint(&e->via.array.ptr[1], UINT64_MAX, &u) != 0 || str_of(&e->via.array.ptr[2], &r, &rn) != 0)
                return FAIL("%s[%zu]: expected [name, size, sha256]", what, k);
            if (check_file(what, k, s, n, r, rn, err) != 0) return -1;
            put_str(fs[k].name, s, n);
            fs[k].size = u;
            put_str(fs[k].sha256, r, rn);
        }
        *AT(base, f->off2, size_t) = o->via.array.size;
        return 0;
    }
    case K_KIND:
        if (dec_uint(o, UINT64_MAX, &u) != 0) return FAIL("%s: expected an unsigned integer", what);
        if (u < OPTOUT_TASK_FILTER || u > OPTOUT_TASK_KIND_MAX) return FAIL("%s: unknown task kind %" PRIu64, what, u);
        *AT(base, f->off, optout_task_kind) = (optout_task_kind)u;
        return 0;
    case K_MODE:
        if (dec_uint(o, OPTOUT_MODE_PROTEGO, &u) != 0) return FAIL("%s: expected 0 (rfc9309) or 1 (protego)", what);
        *AT(base, f->off, optout_robots_mode) = (optout_robots_mode)u;
        return 0;
    case K_HOSTKEY:
        if (dec_uint(o, OPTOUT_HOSTKEY_NETLOC, &u) != 0) return FAIL("%s: expected 0 (canonical) or 1 (netloc)", what);
        *AT(base, f->off, optout_hostkey_mode) = (optout_hostkey_mode)u;
        return 0;
    case K_AGENTS: {
        if (o->type != MSGPACK_OBJECT_ARRAY) return FAIL("%s: expected an array of strings", what);
        if (o->via.array.size > OPTOUT_AGENTS_MAX)
            return FAIL("%s: too many agents (%" PRIu32 ", max %d)", what, o->via.array.size, OPTOUT_AGENTS_MAX);
        agent_name *names = AT(base, f->off, agent_name);
        for (size_t k = 0; k < o->via.array.size; k++) {
            if (str_of(&o->via.array.ptr[k], &s, &n) != 0) return FAIL("%s[%zu]: expected a string", what, k);
            if (n >= OPTOUT_MSG_NAME_MAX)
                return FAIL("%s[%zu]: string too long (%zu bytes, max %d)", what, k, n, OPTOUT_MSG_NAME_MAX - 1);
            if (n == 0 || memchr(s, '\0', n)) return FAIL("%s[%zu]: empty or holds a NUL byte", what, k);
            put_str(names[k], s, n);
        }
        *AT(base, f->off2, size_t) = o->via.array.size;
        return 0;
    }
    }
    return FAIL("%s: internal error", what);
}

/* Finds each table key in the map (index into map.ptr, or -1); a table key twice is an error. */
static int find_keys(const msgpack_object *root, const field *table, size_t nfields, long *at, char *err) {
    if (root->type != MSGPACK_OBJECT_MAP) return FAIL("not a msgpack map");
    for (size_t i = 0; i < nfields; i++) at[i] = -1;
    const msgpack_object_map *map = &root->via.map;
    for (uint32_t k = 0; k < map->size; k++) {
        const char *s;
        size_t n;
        if (str_of(&map->ptr[k].key, &s, &n) != 0) continue; /* not a string: an unknown key */
        for (size_t i = 0; i < nfields; i++)
            if (strlen(table[i].key) == n && memcmp(table[i].key, s, n) == 0) {
                if (at[i] >= 0) return FAIL("duplicate key \"%s\"", table[i].key);
                at[i] = (long)k;
                break;
            }
    }
    return 0;
}

/* Decodes the fields of `keys` in table order; missing keys are errors unless omit_empty. */
static int decode_fields(const msgpack_object *root, const field *table, size_t nfields, const long *at,
                         uint64_t keys, const char *what, void *base, char *err) {
    for (size_t i = 0; i < nfields; i++) {
        if (!(keys & B(i))) continue;
        if (at[i] < 0) {
            if (table[i].omit_empty) continue;
            return FAIL("missing key \"%s\"%s%s", table[i].key, what ? " in " : "", what ? what : "");
        }
        if (dec_value(&table[i], &root->via.map.ptr[at[i]].val, base, err) != 0) return -1;
    }
    return 0;
}

int optout_msg_decode(const void *frame, size_t len, optout_msg *m, char err[OPTOUT_MSG_ERR_LEN]) {
    char ebuf[OPTOUT_MSG_ERR_LEN];
    if (!err) err = ebuf;
    msgpack_unpacked u;
    if (optout_msgpack_unpack(frame, len, OPTOUT_MSG_MAX_BYTES, &u, err, OPTOUT_MSG_ERR_LEN) != 0) return -1;
    optout_msg *t = calloc(1, sizeof *t);
    int rc = -1;
    long at[F_MSG_COUNT];
    if (!t) {
        FAIL("out of memory");
    } else if (find_keys(&u.data, MSG_FIELDS, F_MSG_COUNT, at, err) == 0 &&
               decode_fields(&u.data, MSG_FIELDS, F_MSG_COUNT, at, HEADER_KEYS, NULL, t, err) == 0 &&
               decode_fields(&u.data, MSG_FIELDS, F_MSG_COUNT, at, TYPES[t->type].keys, TYPES[t->type].name, t,
                             err) == 0) {
        memcpy(m, t, sizeof *t);
        rc = 0;
    }
    free(t);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int optout_run_config_decode(const void *buf, size_t len, optout_run_config *c, char err[OPTOUT_MSG_ERR_LEN]) {
    char ebuf[OPTOUT_MSG_ERR_LEN];
    if (!err) err = ebuf;
    msgpack_unpacked u;
    if (optout_msgpack_unpack(buf, len, OPTOUT_MSG_MAX_BYTES, &u, err, OPTOUT_MSG_ERR_LEN) != 0) return -1;
    optout_run_config *t = calloc(1, sizeof *t);
    int rc = -1;
    long at[G_CFG_COUNT];
    if (!t) {
        FAIL("out of memory");
    } else if (find_keys(&u.data, CFG_FIELDS, G_CFG_COUNT, at, err) == 0 &&
               decode_fields(&u.data, CFG_FIELDS, G_CFG_COUNT, at, CFG_KEYS, "the run configuration", t, err) == 0) {
        memcpy(c, t, sizeof *t);
        rc = 0;
    }
    free(t);
    msgpack_unpacked_destroy(&u);
    return rc;
}
