/* history_record.c — a host's versions as one compact binary record (include/optout/history_record.h
 * has the format): the history store's value in Redis, written by its loader and read, as hostile
 * input, by its source.
 *
 * Varints keep a version at about 20 bytes plus its SHA-256; every value has one spelling (shortest
 * varints, no unknown flag, nothing after the end), so that decoding and encoding again give the
 * same bytes.
 */
#include "optout/history_record.h"

#include <stdlib.h>
#include <string.h>

#include "archive_internal.h"
#include "optout/util.h"

#define HR_MAGIC 'V'
#define HR_FORMAT 1
#define HR_CRAWL_LEN 15 /* "CC-MAIN-YYYY-WW" */
#define HR_VERSION_MIN 7 /* bytes of the smallest version: flags outcome status crawl first last captures */

enum {
    F_HTTPS = 0x01,
    F_WAYBACK = 0x02,
    F_REDIRECT = 0x04,
    F_REDIRECT_HTTPS = 0x08,
    F_TRUNCATED = 0x10,
    F_BODY = 0x20,
    F_ALL = 0x3f
};

struct wbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct wbuf *b, const void *data, size_t len) {
    if (b->oom) return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + len) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void put_byte(struct wbuf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_varint(struct wbuf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    put(b, tmp, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* A redirect target the format holds: 1..255 bytes of 0x21..0x7e. */
static int redirect_ok(const char *s, size_t *len) {
    size_t n = strlen(s);
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return 0;
    *len = n;
    return 1;
}

struct order {
    const optout_history_version *v;
    size_t i;
};

/* By first capture time; ties keep the order given (the archive's). */
static int cmp_order(const void *pa, const void *pb) {
    const struct order *a = pa, *b = pb;
    if (a->v->first != b->v->first) return a->v->first < b->v->first ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int encode_one(struct wbuf *b, const optout_history_version *v, uint64_t captures, char *why, size_t whylen) {
    size_t rlen = 0, clen = strnlen(v->crawl, sizeof v->crawl);
    unsigned char sha[32];
    int ok = v->outcome == OPTOUT_OUTCOME_OK;
    if (v->first > v->last || captures == 0 || v->status < 0 || v->status > 999 ||
        (v->outcome != OPTOUT_OUTCOME_OK && v->outcome != OPTOUT_OUTCOME_UNAVAILABLE &&
         v->outcome != OPTOUT_OUTCOME_UNREACHABLE) ||
        (clen != 0 && clen != HR_CRAWL_LEN) || (v->redirect && !redirect_ok(v->redirect, &rlen)) ||
        (ok && archive_hex_to_sha(v->sha256, sha) != 0) || (!ok && (v->sha256[0] || v->size))) {
        optout_set_err(why, whylen, "a version the record format cannot hold (times, captures, status, outcome, "
                                    "crawl, redirect or body)");
        return -1;
    }
    unsigned flags = (v->scheme == OPTOUT_HISTORY_HTTPS ? F_HTTPS : 0) |
                     (v->origin == OPTOUT_HISTORY_WAYBACK ? F_WAYBACK : 0) | (v->redirect ? F_REDIRECT : 0) |
                     (v->redirect && v->redirect_scheme == OPTOUT_HISTORY_HTTPS ? F_REDIRECT_HTTPS : 0) |
                     (v->truncated ? F_TRUNCATED : 0) | (ok ? F_BODY : 0);
    put_byte(b, flags);
    put_byte(b, (unsigned)v->outcome);
    put_varint(b, (uint64_t)v->status);
    put_byte(b, (unsigned)clen);
    put(b, v->crawl, clen);
    put_varint(b, zigzag(v->first));
    put_varint(b, (uint64_t)v->last - (uint64_t)v->first);
    put_varint(b, captures);
    if (ok) {
        put(b, sha, sizeof sha);
        put_varint(b, v->size);
    }
    if (v->redirect) {
        put_byte(b, (unsigned)rlen);
        put(b, v->redirect, rlen);
    }
    return 0;
}

int optout_history_record_encode(const optout_history_version *v, const uint64_t *captures, size_t count, char **rec,
                                 size_t *len, char *why, size_t whylen) {
    *rec = NULL;
    *len = 0;
    if (count == 0) {
        optout_set_err(why, whylen, "a record without versions");
        return -1;
    }
    struct order *o = malloc(count * sizeof *o);
    if (!o) {
        optout_set_err(why, whylen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) o[i] = (struct order){&v[i], i};
    qsort(o, count, sizeof *o, cmp_order);
    struct wbuf b = {0};
    put_byte(&b, HR_MAGIC);
    put_byte(&b, HR_FORMAT);
    put_varint(&b, count);
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++)
        rc = encode_one(&b, o[k].v, captures ? captures[o[k].i] : 1, why, whylen);
    free(o);
    if (rc == 0 && b.oom) {
        optout_set_err(why, whylen, "out of memory");
        rc = -1;
    }
    if (rc != 0) {
        free(b.p);
        return -1;
    }
    *rec = b.p;
    *len = b.n;
    return 0;
}

struct rbuf {
    const unsigned char *p;
    size_t n, at;
};

static int get_byte(struct rbuf *r, unsigned *v) {
    if (r->at >= r->n) return -1;
    *v = r->p[r->at++];
    return 0;
}

/* An unsigned LEB128 of at most 10 bytes that fits in 64 bits, in its shortest form. */
static int get_varint(struct rbuf *r, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        unsigned c;
        if (get_byte(r, &c) != 0) return -1;
        if (shift == 63 && c > 1) return -1;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift > 0) return -1; /* not the shortest form: one value, one spelling */
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int decode_fail(char *why, size_t whylen, const struct rbuf *r, const char *what) {
    optout_set_err(why, whylen, "%s (byte %zu of %zu)", what, r->at, r->n);
    return -1;
}

/* One version at r into v (its redirect copied to *strings, advanced). 0, or -1 with why. */
static int decode_one(struct rbuf *r, optout_history_version *v, uint64_t *captures, char **strings, char *why,
                      size_t whylen) {
    unsigned flags, outcome, clen;
    uint64_t status, first, span;
    memset(v, 0, sizeof *v);
    if (get_byte(r, &flags) != 0 || get_byte(r, &outcome) != 0) return decode_fail(why, whylen, r, "cut short");
    if (flags & ~(unsigned)F_ALL) return decode_fail(why, whylen, r, "unknown flags");
    if (outcome != OPTOUT_OUTCOME_OK && outcome != OPTOUT_OUTCOME_UNAVAILABLE && outcome != OPTOUT_OUTCOME_UNREACHABLE)
        return decode_fail(why, whylen, r, "bad outcome");
    if (((flags & F_BODY) != 0) != (outcome == OPTOUT_OUTCOME_OK))
        return decode_fail(why, whylen, r, "a body without outcome ok, or ok without a body");
    if ((flags & F_REDIRECT_HTTPS) && !(flags & F_REDIRECT))
        return decode_fail(why, whylen, r, "a redirect scheme without a redirect");
    if (get_varint(r, &status) != 0 || status > 999) return decode_fail(why, whylen, r, "bad status");
    if (get_byte(r, &clen) != 0 || (clen != 0 && clen != HR_CRAWL_LEN) || r->n - r->at < clen)
        return decode_fail(why, whylen, r, "bad crawl length");
    if (clen) {
        char crawl[OPTOUT_HISTORY_CRAWL_MAX];
        if (!optout_history_find_crawl((const char *)r->p + r->at, clen, crawl) ||
            memcmp(crawl, r->p + r->at, clen) != 0)
            return decode_fail(why, whylen, r, "bad crawl id");
        memcpy(v->crawl, crawl, sizeof crawl);
        r->at += clen;
    }
    if (get_varint(r, &first) != 0 || get_varint(r, &span) != 0) return decode_fail(why, whylen, r, "bad times");
    v->first = unzigzag(first);
    /* last = first + span without overflow: times stay within what a version can hold */
    if (span > (uint64_t)INT64_MAX || v->first > INT64_MAX - (int64_t)span)
        return decode_fail(why, whylen, r, "bad times");
    v->last = v->first + (int64_t)span;
    if (get_varint(r, captures) != 0 || *captures == 0 || *captures > UINT32_MAX)
        return decode_fail(why, whylen, r, "bad capture count");
    v->status = (int)status;
    v->outcome = (optout_outcome)outcome;
    v->scheme = flags & F_HTTPS ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
    v->origin = flags & F_WAYBACK ? OPTOUT_HISTORY_WAYBACK : OPTOUT_HISTORY_CC;
    v->truncated = (flags & F_TRUNCATED) != 0;
    if (flags & F_BODY) {
        static const char hex[] = "0123456789abcdef";
        if (r->n - r->at < 32) return decode_fail(why, whylen, r, "cut short in a SHA-256");
        for (int i = 0; i < 32; i++) {
            v->sha256[2 * i] = hex[r->p[r->at + (size_t)i] >> 4];
            v->sha256[2 * i + 1] = hex[r->p[r->at + (size_t)i] & 15];
        }
        v->sha256[64] = '\0';
        r->at += 32;
        if (get_varint(r, &v->size) != 0 || v->size > ARCHIVE_BODY_MAX)
            return decode_fail(why, whylen, r, "bad body size");
    }
    if (flags & F_REDIRECT) {
        unsigned rlen;
        if (get_byte(r, &rlen) != 0 || rlen == 0 || r->n - r->at < rlen)
            return decode_fail(why, whylen, r, "bad redirect length");
        for (unsigned i = 0; i < rlen; i++)
            if (r->p[r->at + i] < 0x21 || r->p[r->at + i] > 0x7e)
                return decode_fail(why, whylen, r, "a redirect target with a byte that no host key has");
        memcpy(*strings, r->p + r->at, rlen);
        (*strings)[rlen] = '\0';
        v->redirect = *strings;
        v->redirect_scheme = flags & F_REDIRECT_HTTPS ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
        *strings += rlen + 1;
        r->at += rlen;
    }
    return 0;
}

int optout_history_record_decode(const void *rec, size_t len, optout_history_version **versions, size_t *count,
                                 uint64_t **captures, char *why, size_t whylen) {
    *versions = NULL;
    *count = 0;
    if (captures) *captures = NULL;
    struct rbuf r = {rec, len, 0};
    unsigned magic, format;
    uint64_t n;
    if (get_byte(&r, &magic) != 0 || get_byte(&r, &format) != 0 || magic != HR_MAGIC)
        return decode_fail(why, whylen, &r, "not a history record");
    if (format != HR_FORMAT) return decode_fail(why, whylen, &r, "a record format this build does not read");
    if (get_varint(&r, &n) != 0 || n == 0 || n > (len - r.at) / HR_VERSION_MIN)
        return decode_fail(why, whylen, &r, "a version count the record cannot hold");
    /* one block: the versions, the capture counts, then the redirect strings (fewer bytes than
     * the record, NULs included: each takes at least two bytes of it) */
    size_t vbytes = (size_t)n * sizeof(optout_history_version), cbytes = (size_t)n * sizeof(uint64_t);
    char *block = malloc(vbytes + cbytes + len + 1);
    if (!block) return decode_fail(why, whylen, &r, "out of memory");
    optout_history_version *v = (optout_history_version *)(void *)block;
    uint64_t *caps = (uint64_t *)(void *)(block + vbytes);
    char *strings = block + vbytes + cbytes;
    for (size_t i = 0; i < n; i++) {
        if (decode_one(&r, &v[i], &caps[i], &strings, why, whylen) != 0 ||
            (i > 0 && v[i].first < v[i - 1].first && decode_fail(why, whylen, &r, "versions out of time order"))) {
            free(block);
            return -1;
        }
    }
    if (r.at != r.n) {
        free(block);
        return decode_fail(why, whylen, &r, "bytes after the last version");
    }
    *versions = v;
    *count = (size_t)n;
    if (captures) *captures = caps;
    return 0;
}
