/* stats_msgpack.c — optout_stats as msgpack, for RESULT messages (include/optout/stats.h;
 * docs/fleet-protocol.md "Statistics").
 *
 * Form: one map holding only what is nonzero:
 *   "t"   total bucket
 *   "c"   {class index: bucket}          0 en, 1 non_en, 2 unknown
 *   "y"   {year slot: bucket}            slot = year - OPTOUT_YEAR_MIN; OPTOUT_YEARS - 1 is "unknown"
 *   "a"   {agent index: bucket}          index in the run's agent list (< agent_count)
 *   "any" bucket of any agent
 *   "o"   [docs per outcome]             exactly OPTOUT_OUTCOME_COUNT uints, in optout_outcome order
 *   "n"   {counter name: uint}           bad_json no_url bad_url no_host bad_idna line_too_long
 *                                        tokens_estimated_docs docs_kept_by_override
 *                                        tokens_kept_by_override docs_removed_by_override
 *                                        tokens_removed_by_override sample_ppm docs_not_sampled
 *                                        sq_CLASS_in_hi/_lo, sq_CLASS_removed_hi/_lo (CLASS en,
 *                                        non_en, unknown: 128-bit sums of squared tokens)
 *   "yc"  {year slot: [3 buckets]}       by year and class (en, non_en, unknown)
 *   "d"   {dump name: bucket}            names 1..31 bytes of [A-Za-z0-9._-], distinct, at most
 *                                        OPTOUT_DUMPS_MAX
 *   "do"  bucket of the other dumps (and documents without one)
 *   "h"   [[host, docs_removed, tokens_removed], ...]   top hosts, strictly increasing host keys
 *                                        (1..299 bytes), at most OPTOUT_TOP_HOSTS
 * A bucket is an array of 8 uints: docs_in, docs_removed, bytes_in, bytes_removed, chars_in,
 * chars_removed, tokens_in, tokens_removed. Empty stats encode as an empty map.
 *
 * The schema is closed: an unknown key or counter name, a duplicate key or index, a count that is
 * not an unsigned integer, an index out of range, a bucket of another length or trailing bytes
 * reject the whole buffer; so does "bp" where the reader expects none, or whose "cfg" is not the
 * reader's (shards of one run share one configuration). (Unlike messages, whose unknown keys are skipped: a statistic a reader
 * does not know would be silently lost from the run's totals.) decode_add decodes into a zeroed
 * temporary and merges it only when all of it is valid.
 */
#include "optout/stats.h"
#include "optout/stats_policy.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "optout/msg.h"
#include "optout/msgpack_bounded.h"

#define COUNTERS 25
static const char *const COUNTER_NAMES[COUNTERS] = {
    "bad_json", "no_url", "bad_url", "no_host", "bad_idna", "line_too_long", "tokens_estimated_docs",
    "docs_kept_by_override", "tokens_kept_by_override", "docs_removed_by_override", "tokens_removed_by_override",
    "sample_ppm", "docs_not_sampled",
    "sq_en_in_hi", "sq_en_in_lo", "sq_en_removed_hi", "sq_en_removed_lo",
    "sq_non_en_in_hi", "sq_non_en_in_lo", "sq_non_en_removed_hi", "sq_non_en_removed_lo",
    "sq_unknown_in_hi", "sq_unknown_in_lo", "sq_unknown_removed_hi", "sq_unknown_removed_lo",
};

static uint64_t *counter(optout_stats *s, int i) {
    uint64_t *plain[13] = {&s->bad_json, &s->no_url, &s->bad_url, &s->no_host, &s->bad_idna, &s->line_too_long,
                           &s->tokens_estimated_docs, &s->docs_kept_by_override, &s->tokens_kept_by_override,
                           &s->docs_removed_by_override, &s->tokens_removed_by_override, &s->sample_ppm,
                           &s->docs_not_sampled};
    if (i < 13) return plain[i];
    return &s->sample_sq[(i - 13) / 4][((i - 13) / 2) % 2][(i - 13) % 2];
}

/* The bucket's fields in wire order. */
static uint64_t *bucket_field(optout_bucket *b, int i) {
    uint64_t *f[8] = {&b->docs_in,  &b->docs_removed,  &b->bytes_in,  &b->bytes_removed,
                      &b->chars_in, &b->chars_removed, &b->tokens_in, &b->tokens_removed};
    return f[i];
}

static int bucket_zero(const optout_bucket *b) {
    static const optout_bucket zero;
    return memcmp(b, &zero, sizeof zero) == 0;
}

/* ---- encoding ---------------------------------------------------------------------------------- */

typedef struct {
    msgpack_packer pk;
    int failed;
} enc;

static void p_key(enc *e, const char *k) {
    size_t n = strlen(k);
    e->failed |= msgpack_pack_str(&e->pk, n) != 0;
    e->failed |= msgpack_pack_str_body(&e->pk, k, n) != 0;
}

static void p_bucket(enc *e, const optout_bucket *b) {
    optout_bucket c = *b;
    e->failed |= msgpack_pack_array(&e->pk, 8) != 0;
    for (int i = 0; i < 8; i++) e->failed |= msgpack_pack_uint64(&e->pk, *bucket_field(&c, i)) != 0;
}

/* {index: bucket} of the nonzero buckets of b[0..n); nothing when all are zero. */
static void p_bucket_map(enc *e, const char *key, const optout_bucket *b, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += !bucket_zero(&b[i]);
    if (!count) return;
    p_key(e, key);
    e->failed |= msgpack_pack_map(&e->pk, count) != 0;
    for (size_t i = 0; i < n; i++) {
        if (bucket_zero(&b[i])) continue;
        e->failed |= msgpack_pack_uint64(&e->pk, i) != 0;
        p_bucket(e, &b[i]);
    }
}

static size_t nonzero_buckets(const optout_bucket *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!bucket_zero(&b[i])) return 1;
    return 0;
}

static void p_stats(enc *e, const optout_stats *s, size_t agent_count, const optout_stats_policy *bp);

/* "bp": the policies' statistics (see the form above). */
static void p_policy(enc *e, const optout_stats_policy *bp, size_t agent_count) {
    p_key(e, "bp");
    e->failed |= msgpack_pack_map(&e->pk, 7) != 0;
    p_key(e, "v");
    e->failed |= msgpack_pack_uint64(&e->pk, OPTOUT_STATS_POLICY_FORM) != 0;
    p_key(e, "cfg");
    e->failed |= msgpack_pack_array(&e->pk, 4) != 0;
    e->failed |= msgpack_pack_uint64(&e->pk, (uint64_t)bp->chosen) != 0;
    e->failed |= msgpack_pack_int64(&e->pk, bp->cutoff) != 0;
    e->failed |= msgpack_pack_uint64(&e->pk, (uint64_t)bp->missing) != 0;
    e->failed |= msgpack_pack_int64(&e->pk, bp->max_age) != 0;
    p_key(e, "p");
    e->failed |= msgpack_pack_array(&e->pk, OPTOUT_ROBOTS_TIME_COUNT) != 0;
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) p_stats(e, &bp->policy[p], agent_count, NULL);
    p_key(e, "cov");
    e->failed |= msgpack_pack_array(&e->pk, 2 * OPTOUT_COVERAGE_COUNT) != 0; /* every step, then its Wayback part */
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) p_bucket(e, &bp->coverage[c]);
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) p_bucket(e, &bp->coverage_wayback[c]);
    p_key(e, "tfc");
    e->failed |= msgpack_pack_uint64(&e->pk, bp->docs_time_from_crawl) != 0;
    p_key(e, "cc");
    e->failed |= msgpack_pack_array(&e->pk, 2) != 0;
    e->failed |= msgpack_pack_uint64(&e->pk, bp->ccbot_docs) != 0;
    e->failed |= msgpack_pack_uint64(&e->pk, bp->ccbot_tokens) != 0;
    p_key(e, "cr");
    e->failed |= msgpack_pack_array(&e->pk, bp->crawl_count) != 0;
    for (size_t i = 0; i < bp->crawl_count; i++) {
        const optout_policy_crawl *c = &bp->crawls[i];
        size_t agents = 0;
        for (size_t a = 0; a < agent_count; a++) agents += c->tokens_disallowed[a] != 0;
        e->failed |= msgpack_pack_array(&e->pk, 6) != 0;
        p_key(e, c->name);
        e->failed |= msgpack_pack_uint64(&e->pk, c->docs) != 0;
        e->failed |= msgpack_pack_uint64(&e->pk, c->tokens) != 0;
        e->failed |= msgpack_pack_uint64(&e->pk, c->tokens_same_crawl) != 0;
        e->failed |= msgpack_pack_uint64(&e->pk, c->tokens_disallowed_any) != 0;
        e->failed |= msgpack_pack_map(&e->pk, agents) != 0;
        for (size_t a = 0; a < agent_count; a++) {
            if (!c->tokens_disallowed[a]) continue;
            e->failed |= msgpack_pack_uint64(&e->pk, a) != 0;
            e->failed |= msgpack_pack_uint64(&e->pk, c->tokens_disallowed[a]) != 0;
        }
    }
}

/* One statistics map (with "bp" when bp is not NULL). */
static void p_stats(enc *e, const optout_stats *s, size_t agent_count, const optout_stats_policy *bp) {
    optout_stats *c = (optout_stats *)s; /* counter() takes a non-const pointer; nothing is written */
    size_t counters = 0, outcomes = 0, year_class = 0;
    for (int i = 0; i < COUNTERS; i++) counters += *counter(c, i) != 0;
    for (int y = 0; y < OPTOUT_YEARS; y++) year_class += nonzero_buckets(s->by_year_class[y], OPTOUT_CLASS_COUNT);
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) outcomes |= s->docs_by_outcome[i] != 0;
    size_t keys = !bucket_zero(&s->total) + nonzero_buckets(s->by_class, OPTOUT_CLASS_COUNT) +
                  nonzero_buckets(s->by_year, OPTOUT_YEARS) + nonzero_buckets(s->by_agent, agent_count) +
                  !bucket_zero(&s->any_agent) + outcomes + (counters != 0) + (year_class != 0) +
                  (s->dump_count != 0) + !bucket_zero(&s->dump_other) + (s->top_host_count != 0) + (bp != NULL);
    e->failed |= msgpack_pack_map(&e->pk, keys) != 0;
    if (!bucket_zero(&s->total)) {
        p_key(e, "t");
        p_bucket(e, &s->total);
    }
    p_bucket_map(e, "c", s->by_class, OPTOUT_CLASS_COUNT);
    p_bucket_map(e, "y", s->by_year, OPTOUT_YEARS);
    p_bucket_map(e, "a", s->by_agent, agent_count);
    if (!bucket_zero(&s->any_agent)) {
        p_key(e, "any");
        p_bucket(e, &s->any_agent);
    }
    if (outcomes) {
        p_key(e, "o");
        e->failed |= msgpack_pack_array(&e->pk, OPTOUT_OUTCOME_COUNT) != 0;
        for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) e->failed |= msgpack_pack_uint64(&e->pk, s->docs_by_outcome[i]) != 0;
    }
    if (counters) {
        p_key(e, "n");
        e->failed |= msgpack_pack_map(&e->pk, counters) != 0;
        for (int i = 0; i < COUNTERS; i++) {
            if (!*counter(c, i)) continue;
            p_key(e, COUNTER_NAMES[i]);
            e->failed |= msgpack_pack_uint64(&e->pk, *counter(c, i)) != 0;
        }
    }
    if (year_class) {
        p_key(e, "yc");
        e->failed |= msgpack_pack_map(&e->pk, year_class) != 0;
        for (int y = 0; y < OPTOUT_YEARS; y++) {
            if (!nonzero_buckets(s->by_year_class[y], OPTOUT_CLASS_COUNT)) continue;
            e->failed |= msgpack_pack_uint64(&e->pk, (uint64_t)y) != 0;
            e->failed |= msgpack_pack_array(&e->pk, OPTOUT_CLASS_COUNT) != 0;
            for (int k = 0; k < OPTOUT_CLASS_COUNT; k++) p_bucket(e, &s->by_year_class[y][k]);
        }
    }
    if (s->dump_count) {
        p_key(e, "d");
        e->failed |= msgpack_pack_map(&e->pk, s->dump_count) != 0;
        for (size_t i = 0; i < s->dump_count; i++) {
            p_key(e, s->by_dump[i].name);
            p_bucket(e, &s->by_dump[i].b);
        }
    }
    if (!bucket_zero(&s->dump_other)) {
        p_key(e, "do");
        p_bucket(e, &s->dump_other);
    }
    if (s->top_host_count) {
        p_key(e, "h");
        e->failed |= msgpack_pack_array(&e->pk, s->top_host_count) != 0;
        for (size_t i = 0; i < s->top_host_count; i++) {
            e->failed |= msgpack_pack_array(&e->pk, 3) != 0;
            p_key(e, s->top_hosts[i].host);
            e->failed |= msgpack_pack_uint64(&e->pk, s->top_hosts[i].docs_removed) != 0;
            e->failed |= msgpack_pack_uint64(&e->pk, s->top_hosts[i].tokens_removed) != 0;
        }
    }
    if (bp) p_policy(e, bp, agent_count);
}

int optout_stats_encode_policy(const optout_stats *s, const optout_stats_policy *bp, size_t agent_count, void **out,
                               size_t *len) {
    if (agent_count > OPTOUT_AGENTS_MAX) {
        errno = EINVAL;
        return -1;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    enc e = {.failed = 0};
    msgpack_packer_init(&e.pk, &sb, msgpack_sbuffer_write);
    p_stats(&e, s, agent_count, bp);
    if (e.failed) {
        msgpack_sbuffer_destroy(&sb);
        errno = ENOMEM;
        return -1;
    }
    *len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

int optout_stats_encode(const optout_stats *s, size_t agent_count, void **out, size_t *len) {
    return optout_stats_encode_policy(s, NULL, agent_count, out, len);
}

/* ---- decoding ---------------------------------------------------------------------------------- */

static int key_is(const msgpack_object *k, const char *name) {
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* The index of key in keys[0..n), or -1 (a key the schema does not have). */
static int key_index(const msgpack_object *key, const char *const *keys, int n) {
    for (int i = 0; i < n; i++)
        if (key_is(key, keys[i])) return i;
    return -1;
}

static int dec_bucket(const msgpack_object *o, optout_bucket *b) {
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 8) return -1;
    for (int i = 0; i < 8; i++) {
        if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
        *bucket_field(b, i) = o->via.array.ptr[i].via.u64;
    }
    return 0;
}

/* {index: bucket} with every index < n and none twice, into b[]. */
static int dec_bucket_map(const msgpack_object *o, optout_bucket *b, size_t n) {
    if (o->type != MSGPACK_OBJECT_MAP) return -1;
    unsigned char seen[OPTOUT_AGENTS_MAX + OPTOUT_YEARS] = {0}; /* n is at most one of them */
    int rc = 0;
    for (uint32_t k = 0; k < o->via.map.size && rc == 0; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key;
        if (key->type != MSGPACK_OBJECT_POSITIVE_INTEGER || key->via.u64 >= n || seen[key->via.u64]) {
            rc = -1;
            break;
        }
        seen[key->via.u64] = 1;
        rc = dec_bucket(&o->via.map.ptr[k].val, &b[key->via.u64]);
    }
    return rc;
}

static int dec_year_class(const msgpack_object *o, optout_stats *s) {
    if (o->type != MSGPACK_OBJECT_MAP) return -1;
    unsigned char seen[OPTOUT_YEARS] = {0};
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key, *val = &o->via.map.ptr[k].val;
        if (key->type != MSGPACK_OBJECT_POSITIVE_INTEGER || key->via.u64 >= OPTOUT_YEARS || seen[key->via.u64]++)
            return -1;
        if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != OPTOUT_CLASS_COUNT) return -1;
        for (int c = 0; c < OPTOUT_CLASS_COUNT; c++)
            if (dec_bucket(&val->via.array.ptr[c], &s->by_year_class[key->via.u64][c]) != 0) return -1;
    }
    return 0;
}

/* A dump name or host key: a string of 1..cap-1 bytes without NUL, copied NUL-padded. */
static int dec_name(const msgpack_object *o, char *out, size_t cap) {
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size >= cap ||
        memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -1;
    memset(out, 0, cap);
    memcpy(out, o->via.str.ptr, o->via.str.size);
    return 0;
}

static int dec_dumps(const msgpack_object *o, optout_stats *s) {
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > OPTOUT_DUMPS_MAX) return -1;
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        optout_dump_bucket *d = &s->by_dump[k];
        if (dec_name(&o->via.map.ptr[k].key, d->name, sizeof d->name) != 0) return -1;
        for (const char *c = d->name; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                  *c == '_' || *c == '-'))
                return -1;
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(s->by_dump[j].name, d->name) == 0) return -1; /* twice */
        if (dec_bucket(&o->via.map.ptr[k].val, &d->b) != 0) return -1;
    }
    s->dump_count = o->via.map.size;
    return 0;
}

static int dec_top_hosts(const msgpack_object *o, optout_stats *s) {
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > OPTOUT_TOP_HOSTS) return -1;
    for (uint32_t k = 0; k < o->via.array.size; k++) {
        const msgpack_object *e = &o->via.array.ptr[k];
        optout_host_loss *h = &s->top_hosts[k];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
            dec_name(&e->via.array.ptr[0], h->host, sizeof h->host) != 0 ||
            e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            e->via.array.ptr[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return -1;
        if (k > 0 && strcmp(s->top_hosts[k - 1].host, h->host) >= 0) return -1; /* sorted, distinct */
        h->docs_removed = e->via.array.ptr[1].via.u64;
        h->tokens_removed = e->via.array.ptr[2].via.u64;
    }
    s->top_host_count = o->via.array.size;
    return 0;
}

static int dec_policy(const msgpack_object *o, size_t agent_count, optout_stats_policy *bp);

/* 1 when the map holds "bp": a reader expecting the policies refuses statistics without them. */
static int has_policy(const msgpack_object *root) {
    for (uint32_t k = 0; root->type == MSGPACK_OBJECT_MAP && k < root->via.map.size; k++)
        if (key_is(&root->via.map.ptr[k].key, "bp")) return 1;
    return 0;
}

/* One statistics map into *s; "bp" only when bp is not NULL (into *bp, whose configuration it must
 * hold). */
static int dec_stats(const msgpack_object *root, size_t agent_count, optout_stats *s, optout_stats_policy *bp) {
    static const char *const KEYS[] = {"t", "c", "y", "a", "any", "o", "n", "yc", "d", "do", "h", "bp"};
    enum { NKEYS = sizeof KEYS / sizeof *KEYS };
    if (root->type != MSGPACK_OBJECT_MAP) return -1;
    int seen[NKEYS] = {0};
    for (uint32_t k = 0; k < root->via.map.size; k++) {
        const msgpack_object *val = &root->via.map.ptr[k].val;
        int which = key_index(&root->via.map.ptr[k].key, KEYS, NKEYS);
        if (which < 0 || seen[which]++) return -1; /* unknown or duplicate key */
        int rc = 0;
        switch (which) {
        case 0: rc = dec_bucket(val, &s->total); break;
        case 1: rc = dec_bucket_map(val, s->by_class, OPTOUT_CLASS_COUNT); break;
        case 2: rc = dec_bucket_map(val, s->by_year, OPTOUT_YEARS); break;
        case 3: rc = dec_bucket_map(val, s->by_agent, agent_count); break;
        case 4: rc = dec_bucket(val, &s->any_agent); break;
        case 7: rc = dec_year_class(val, s); break;
        case 8: rc = dec_dumps(val, s); break;
        case 9: rc = dec_bucket(val, &s->dump_other); break;
        case 10: rc = dec_top_hosts(val, s); break;
        case 11: rc = bp ? dec_policy(val, agent_count, bp) : -1; break;
        case 5:
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != OPTOUT_OUTCOME_COUNT) return -1;
            for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) {
                if (val->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
                s->docs_by_outcome[i] = val->via.array.ptr[i].via.u64;
            }
            break;
        case 6: {
            if (val->type != MSGPACK_OBJECT_MAP) return -1;
            int got[COUNTERS] = {0};
            for (uint32_t j = 0; j < val->via.map.size; j++) {
                const msgpack_object *ck = &val->via.map.ptr[j].key, *cv = &val->via.map.ptr[j].val;
                int c = -1;
                for (int i = 0; i < COUNTERS; i++)
                    if (key_is(ck, COUNTER_NAMES[i])) c = i;
                if (c < 0 || got[c]++ || cv->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
                *counter(s, c) = cv->via.u64;
            }
        }
        }
        if (rc != 0) return -1;
    }
    return 0;
}

static int dec_u64(const msgpack_object *o, uint64_t *v) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *v = o->via.u64;
    return 0;
}

/* A msgpack integer of either sign as int64_t. */
static int dec_i64(const msgpack_object *o, int64_t *v) {
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *v = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) *v = (int64_t)o->via.u64;
    else return -1;
    return 0;
}

/* "cr": the chart's crawls, distinct CC-MAIN-YYYY-WW ids. */
static int dec_crawls(const msgpack_object *o, size_t agent_count, optout_stats_policy *bp) {
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > OPTOUT_POLICY_CRAWLS_MAX) return -1;
    for (uint32_t k = 0; k < o->via.array.size; k++) {
        const msgpack_object *e = &o->via.array.ptr[k];
        optout_policy_crawl *c = &bp->crawls[k];
        char found[OPTOUT_HISTORY_CRAWL_MAX];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 6 ||
            dec_name(&e->via.array.ptr[0], c->name, sizeof c->name) != 0 ||
            !optout_history_find_crawl(c->name, strlen(c->name), found) || strcmp(found, c->name) != 0 ||
            dec_u64(&e->via.array.ptr[1], &c->docs) != 0 || dec_u64(&e->via.array.ptr[2], &c->tokens) != 0 ||
            dec_u64(&e->via.array.ptr[3], &c->tokens_same_crawl) != 0 ||
            dec_u64(&e->via.array.ptr[4], &c->tokens_disallowed_any) != 0)
            return -1;
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(bp->crawls[j].name, c->name) == 0) return -1; /* twice */
        const msgpack_object *m = &e->via.array.ptr[5];
        if (m->type != MSGPACK_OBJECT_MAP) return -1;
        unsigned char seen[OPTOUT_AGENTS_MAX] = {0};
        for (uint32_t j = 0; j < m->via.map.size; j++) {
            const msgpack_object *key = &m->via.map.ptr[j].key;
            if (key->type != MSGPACK_OBJECT_POSITIVE_INTEGER || key->via.u64 >= agent_count || seen[key->via.u64]++ ||
                dec_u64(&m->via.map.ptr[j].val, &c->tokens_disallowed[key->via.u64]) != 0)
                return -1;
        }
    }
    bp->crawl_count = o->via.array.size;
    return 0;
}

/* "bp" into *bp (zeroed but for its configuration, which the value must repeat). */
static int dec_policy(const msgpack_object *o, size_t agent_count, optout_stats_policy *bp) {
    static const char *const KEYS[] = {"v", "cfg", "p", "cov", "tfc", "cc", "cr"};
    enum { NKEYS = sizeof KEYS / sizeof *KEYS };
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != NKEYS) return -1;
    int seen[NKEYS] = {0};
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *val = &o->via.map.ptr[k].val;
        int which = key_index(&o->via.map.ptr[k].key, KEYS, NKEYS);
        if (which < 0 || seen[which]++) return -1; /* unknown or duplicate key */
        uint64_t u[4];
        int64_t cutoff, max_age;
        switch (which) {
        case 0:
            if (dec_u64(val, u) != 0 || u[0] != OPTOUT_STATS_POLICY_FORM) return -1;
            break;
        case 1:
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != 4 || dec_u64(&val->via.array.ptr[0], &u[0]) ||
                dec_i64(&val->via.array.ptr[1], &cutoff) || dec_u64(&val->via.array.ptr[2], &u[2]) ||
                dec_i64(&val->via.array.ptr[3], &max_age))
                return -1;
            if (u[0] != (uint64_t)bp->chosen || cutoff != bp->cutoff || u[2] != (uint64_t)bp->missing ||
                max_age != bp->max_age)
                return -1; /* another run's configuration */
            break;
        case 2:
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != OPTOUT_ROBOTS_TIME_COUNT) return -1;
            for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++)
                if (dec_stats(&val->via.array.ptr[p], agent_count, &bp->policy[p], NULL) != 0) return -1;
            break;
        case 3:
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != 2 * OPTOUT_COVERAGE_COUNT) return -1;
            for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) {
                const optout_bucket *all = &bp->coverage[c], *wb = &bp->coverage_wayback[c];
                if (dec_bucket(&val->via.array.ptr[c], &bp->coverage[c]) != 0 ||
                    dec_bucket(&val->via.array.ptr[OPTOUT_COVERAGE_COUNT + c], &bp->coverage_wayback[c]) != 0)
                    return -1;
                /* the Wayback part is a part: the report subtracts it from the whole */
                if (wb->docs_in > all->docs_in || wb->tokens_in > all->tokens_in || wb->tokens_removed > all->tokens_removed)
                    return -1;
            }
            break;
        case 4:
            if (dec_u64(val, &bp->docs_time_from_crawl) != 0) return -1;
            break;
        case 5:
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size != 2 ||
                dec_u64(&val->via.array.ptr[0], &bp->ccbot_docs) != 0 ||
                dec_u64(&val->via.array.ptr[1], &bp->ccbot_tokens) != 0)
                return -1;
            break;
        case 6:
            if (dec_crawls(val, agent_count, bp) != 0) return -1;
            break;
        }
    }
    return 0;
}

int optout_stats_decode_add_policy(const void *buf, size_t len, size_t agent_count, optout_stats *stats,
                                   optout_stats_policy *policy) {
    if (agent_count > OPTOUT_AGENTS_MAX) {
        errno = EINVAL;
        return -1;
    }
    msgpack_unpacked u;
    if (optout_msgpack_unpack(buf, len, OPTOUT_MSG_MAX_BYTES, &u, NULL, 0) != 0) {
        errno = EINVAL;
        return -1;
    }
    optout_stats *t = calloc(1, sizeof *t);
    optout_stats_policy *tp = policy ? malloc(sizeof *tp) : NULL;
    int rc = -1;
    if (tp) optout_stats_policy_init(tp, policy->chosen, policy->cutoff, policy->missing, policy->max_age);
    if (!t || (policy && !tp)) {
        errno = ENOMEM;
    } else if (dec_stats(&u.data, agent_count, t, tp) != 0 || (tp && !has_policy(&u.data))) {
        errno = EINVAL;
    } else {
        optout_stats_merge(stats, t);
        if (tp) optout_stats_policy_merge(policy, tp, agent_count);
        rc = 0;
    }
    free(tp);
    free(t);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int optout_stats_decode_add(const void *buf, size_t len, size_t agent_count, optout_stats *stats) {
    return optout_stats_decode_add_policy(buf, len, agent_count, stats, NULL);
}
