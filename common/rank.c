/* rank.c — counting hosts and keeping the top N per class: map, reduce, merge (optout/rank.h).
 *
 * Design
 * - One host table serves map and reduce: records (the key's hash and length, a class mask, three
 *   uint64 counters per class the host has documents of, the key bytes inline) live in an arena of
 *   blocks that never move (block sizes double from 64 KiB to 8 MiB, so a small shard costs little
 *   and a large table does not copy), and an open-addressing table of record pointers (linear
 *   probing, at most half full) finds them. A typical host (one class, 20-byte key) costs 56 bytes
 *   of record plus 8 to 16 bytes of table. common/strmap.c was not used: it costs two mallocs per
 *   host (key and value: nine counters) and a 32-byte slot at 50% load, about three times this for
 *   the tens of millions of hosts a reducer may see.
 * - map (one shard): reads documents with the filter's own field rules (doc_fields.h, shared with
 *   filter.c, so a document counts here as it counts in report.json), sums per host key and
 *   class, then sorts the hosts by (partition, key) and writes partition p as one zstd frame of
 *   text rows; an empty partition is an empty byte range (off[p] == off[p+1]), which the reducer
 *   reads as no rows. Memory: the hosts of one shard.
 * - reduce (one partition): streams frame p of every map output through one decompression
 *   context (never a whole frame in memory), sums into the table, sorts the pointers of each
 *   class's hosts and writes the first N. Memory: the hosts of one partition (1/P of all hosts).
 * - merge: each reducer's rows of a class come in rank order, so the merge keeps a bounded heap of
 *   the best N rows per class and stops reading a reducer's class as soon as its row cannot enter
 *   the heap. Memory: N rows per class (plus every unknown row with all_hosts), never P x N.
 * - Every output is published whole (files.h: a temporary fsync'd and renamed; map: frames before
 *   the index, so an index always describes a complete frames file). No global state: calls may
 *   run concurrently in threads of one process.
 * - A host key with a control character (possible with --host-key netloc and an escaped tab in a
 *   URL) cannot be a TSV field: such documents count as bad_url here.
 */
#include "optout/rank.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "doc_fields.h"
#include "optout/docsource.h"
#include "optout/files.h"
#include "optout/history.h"
#include "optout/jsonl.h"
#include "optout/shard.h"
#include "optout/strmap.h"
#include "optout/survey.h"
#include "optout/util.h"

#define NCOUNT 9 /* docs, bytes, tokens for en, non_en, unknown */

/* ---- metric and partition ------------------------------------------------------------------ */

int optout_rank_metric_parse(const char *name, optout_rank_metric *metric) {
    if (strcmp(name, "tokens") == 0) *metric = OPTOUT_RANK_TOKENS;
    else if (strcmp(name, "bytes") == 0) *metric = OPTOUT_RANK_BYTES;
    else if (strcmp(name, "docs") == 0) *metric = OPTOUT_RANK_DOCS;
    else return -1;
    return 0;
}

const char *optout_rank_metric_name(optout_rank_metric metric) {
    switch (metric) {
    case OPTOUT_RANK_TOKENS: return "tokens";
    case OPTOUT_RANK_BYTES: return "bytes";
    case OPTOUT_RANK_DOCS: return "docs";
    }
    return "?";
}

unsigned optout_rank_partition(const char *host, size_t len, unsigned partitions) {
    if (partitions <= 1) return 0;
    return (unsigned)(optout_hash_bytes(host, len) % partitions);
}

/* ---- host table ---------------------------------------------------------------------------- */

/* A host's record: the counters of the classes it has documents of (docs, bytes, tokens per class,
 * in class order: mask bit k = class k), then the key. Most hosts have one class, so a record is
 * usually 8 + 24 bytes + key; a host that gains a class is copied into a larger record (the old
 * one is left in the arena: rare, and the arena is freed as a whole). */
struct rec {
    uint32_t hash;
    uint16_t len;
    uint8_t mask;
    uint8_t pad;
    uint64_t c[];
};

static int rec_classes(unsigned mask) { return (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1); }
static const char *rec_key(const struct rec *r) { return (const char *)(r->c + 3 * rec_classes(r->mask)); }

/* Counter k (0 docs, 1 bytes, 2 tokens) of class cls; 0 when the host has no document of it. */
static uint64_t rec_get(const struct rec *r, int cls, int k) {
    if (!(r->mask & (1u << cls))) return 0;
    return r->c[3 * rec_classes(r->mask & ((1u << cls) - 1)) + k];
}

struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(8) char data[];
};

struct table {
    struct rec **slots;
    size_t cap, count; /* cap: power of two */
    struct block *blocks;
    size_t next_block;
};

static int table_init(struct table *t) {
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->next_block = 64 << 10;
    t->slots = calloc(t->cap, sizeof *t->slots);
    return t->slots ? 0 : -1;
}

static void table_free(struct table *t) {
    free(t->slots);
    for (struct block *b = t->blocks, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    memset(t, 0, sizeof *t);
}

static int table_grow(struct table *t) {
    size_t cap = t->cap * 2;
    struct rec **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < t->cap; i++) {
        struct rec *r = t->slots[i];
        if (!r) continue;
        size_t j = r->hash & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = r;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static struct rec *arena_rec(struct table *t, unsigned mask, size_t keylen) {
    size_t need = (sizeof(struct rec) + 24 * (size_t)rec_classes(mask) + keylen + 1 + 7) & ~(size_t)7;
    struct block *b = t->blocks;
    if (!b || b->cap - b->used < need) {
        size_t cap = t->next_block;
        if (t->next_block < ((size_t)8 << 20)) t->next_block *= 2;
        if (cap < need) cap = need;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = t->blocks;
        t->blocks = b;
    }
    struct rec *r = (struct rec *)(void *)(b->data + b->used);
    b->used += need;
    return r;
}

/* Adds (docs, bytes, tokens) of class cls to the host's record, creating or enlarging it. 0, or
 * -1 when out of memory. */
static int table_add(struct table *t, const char *key, size_t len, int cls, uint64_t docs, uint64_t bytes,
                     uint64_t tokens) {
    uint32_t h = (uint32_t)optout_hash_bytes(key, len);
    size_t i = h & (t->cap - 1);
    struct rec *r;
    for (; (r = t->slots[i]); i = (i + 1) & (t->cap - 1))
        if (r->hash == h && r->len == len && memcmp(rec_key(r), key, len) == 0) break;
    if (r && (r->mask & (1u << cls))) {
        uint64_t *c = r->c + 3 * rec_classes(r->mask & ((1u << cls) - 1));
        c[0] += docs;
        c[1] += bytes;
        c[2] += tokens;
        return 0;
    }
    if (!r && (t->count + 1) * 2 > t->cap) {
        if (table_grow(t) != 0) return -1;
        i = h & (t->cap - 1);
        while (t->slots[i]) i = (i + 1) & (t->cap - 1);
    }
    unsigned mask = (r ? r->mask : 0) | (1u << cls);
    struct rec *n = arena_rec(t, mask, len);
    if (!n) return -1;
    n->hash = h;
    n->len = (uint16_t)len;
    n->mask = (uint8_t)mask;
    n->pad = 0;
    size_t j = 0;
    for (int k = 0; k < OPTOUT_CLASS_COUNT; k++) {
        if (!(mask & (1u << k))) continue;
        if (k == cls) {
            n->c[j] = docs;
            n->c[j + 1] = bytes;
            n->c[j + 2] = tokens;
        } else {
            for (int m = 0; m < 3; m++) n->c[j + m] = rec_get(r, k, m);
        }
        j += 3;
    }
    memcpy((char *)(n->c + j), key, len);
    ((char *)(n->c + j))[len] = '\0';
    if (!r) t->count++;
    t->slots[i] = n;
    return 0;
}

/* The records, in table order (malloc'd). */
static struct rec **table_list(const struct table *t) {
    struct rec **v = malloc((t->count ? t->count : 1) * sizeof *v);
    if (!v) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) v[n++] = t->slots[i];
    return v;
}

/* ---- small helpers ------------------------------------------------------------------------- */

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static size_t put_u64(char *o, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) o[i] = tmp[n - 1 - i];
    return n;
}

static int has_control(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

/* ---- map ----------------------------------------------------------------------------------- */

struct part_rec {
    unsigned part;
    struct rec *r;
};

static int part_rec_cmp(const void *a, const void *b) {
    const struct part_rec *x = a, *y = b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    return key_cmp(rec_key(x->r), x->r->len, rec_key(y->r), y->r->len);
}

/* Counts the shard into t. It is read through docsource.h: only the fields ranking needs (a Parquet
 * shard's other columns are never read, its text only where a token count is missing unless the
 * metric is bytes). */
static int map_count(const optout_rank_map_config *c, const char *in, struct table *t, optout_rank_map_stats *st,
                     char *err, size_t errlen) {
    int rc = -1;
    optout_docsource *src = NULL;
    char *url_buf = NULL;
    size_t url_cap = 0;
    struct optout_hostkey_entry *cache = calloc(OPTOUT_HOSTKEY_CACHE, sizeof *cache);
    struct optout_hostkey_entry *scratch = malloc(sizeof *scratch);
    if (!cache || !scratch) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    optout_docsource_opts so = {.url_field = c->url_field,
                                .language_field = c->language_field,
                                .tokens_field = c->tokens_field,
                                .text_field = c->text_field,
                                .dump_field = c->dump_field,
                                .max_line = c->max_line,
                                .need = 1u << F_URL | 1u << F_META_URL | 1u << F_LANG | 1u << F_META_LANG |
                                        1u << F_TOKENS | 1u << F_META_TOKENS | 1u << F_TEXT |
                                        (c->survey ? 1u << F_DUMP | 1u << F_META_DUMP : 0),
                                .text_if_no_tokens = !c->count_bytes,
                                .max_memory = c->max_memory};
    if (!(src = optout_docsource_open(in, &so, err, errlen))) goto done;
    optout_doc_batch b;
    int got;
    while ((got = optout_docsource_next(src, &b, err, errlen)) == 1) {
        for (size_t i = 0; i < b.count; i++) {
            const optout_doc *d = &b.docs[i];
            if (d->kind == OPTOUT_DOC_PIECE) {
                if (d->last_piece) st->line_too_long++;
                continue;
            }
            if (d->kind == OPTOUT_DOC_BLANK) continue; /* blank: not a document */
            if (d->kind == OPTOUT_DOC_BAD) {
                st->bad_json++;
                continue;
            }
            const char *u;
            size_t ulen;
            if (!optout_doc_url(d->v, &u, &ulen, &url_buf, &url_cap)) {
                st->no_url++;
                continue;
            }
            const struct optout_hostkey_entry *hk = optout_hostkey_cached(cache, c->host_key, u, ulen, scratch);
            if (hk->status == OPTOUT_HOSTKEY_BAD_URL ||
                (hk->status == OPTOUT_HOSTKEY_OK && has_control(hk->key, hk->key_len))) {
                st->bad_url++;
                continue;
            }
            if (hk->status == OPTOUT_HOSTKEY_NO_HOST) {
                st->no_host++;
                continue;
            }
            optout_doc_facts f = {.cls = OPTOUT_CLASS_UNKNOWN};
            optout_doc_facts_of_doc(d, &f);
            st->bytes_unread += d->text_unread;
            if (table_add(t, hk->key, hk->key_len, (int)f.cls, 1, f.bytes, f.tokens) != 0) {
                optout_set_err(err, errlen, "out of memory counting hosts of %s", in);
                goto done;
            }
            if (c->survey) { /* the crawl as the filter finds it (history.h) */
                const optout_json_value *dump = d->v[F_DUMP].present ? &d->v[F_DUMP] : &d->v[F_META_DUMP];
                char crawl[OPTOUT_HISTORY_CRAWL_MAX] = "";
                if (dump->present && dump->is_string) optout_history_find_crawl(dump->s, dump->len, crawl);
                if (optout_survey_add(c->survey, hk->key, hk->key_len, crawl, 1, f.tokens) != 0) {
                    optout_set_err(err, errlen, "out of memory surveying the hosts of %s", in);
                    goto done;
                }
            }
            st->docs++;
        }
    }
    if (got < 0) goto done;
    st->bytes_read += optout_docsource_bytes_read(src);
    rc = 0;
done:
    optout_docsource_close(src);
    free(cache);
    free(scratch);
    free(url_buf);
    return rc;
}

static int frame_write(ZSTD_CCtx *z, FILE *f, const char *data, size_t len, int end, char *obuf, size_t ocap,
                       uint64_t *written) {
    ZSTD_inBuffer ib = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {obuf, ocap, 0};
        size_t left = ZSTD_compressStream2(z, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) return -1;
        if (ob.pos && fwrite(obuf, 1, ob.pos, f) != ob.pos) return -1;
        *written += ob.pos;
        if (end ? left == 0 : ib.pos == ib.size) return 0;
    }
}

static int map_write(const optout_rank_map_config *c, struct table *t, const char *out, const char *out_index,
                     char *err, size_t errlen) {
    unsigned P = c->partitions;
    int rc = -1;
    FILE *f = NULL;
    optout_publish pub = {0};
    size_t ocap = ZSTD_CStreamOutSize(), bcap = 1 << 16;
    struct part_rec *v = malloc((t->count ? t->count : 1) * sizeof *v);
    uint64_t *off = malloc((P + 1) * sizeof *off);
    char *obuf = malloc(ocap), *buf = malloc(bcap);
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!v || !off || !obuf || !buf || !z) {
        optout_set_err(err, errlen, "out of memory writing %s", out);
        goto done;
    }
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) {
            v[n].r = t->slots[i];
            v[n].part = optout_rank_partition(rec_key(v[n].r), v[n].r->len, P);
            n++;
        }
    qsort(v, n, sizeof *v, part_rec_cmp);
    /* the table's slots are no longer needed: free them before the output buffers grow */
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
    if (!(f = optout_publish_open(&pub, out, 0644, err, errlen))) goto done;
    uint64_t written = 0;
    size_t i = 0;
    for (unsigned p = 0; p < P; p++) {
        off[p] = written;
        if (i == n || v[i].part != p) continue;
        size_t blen = 0;
        for (; i < n && v[i].part == p; i++) {
            const struct rec *r = v[i].r;
            if (blen + r->len + NCOUNT * 21 + 2 > bcap) {
                if (frame_write(z, f, buf, blen, 0, obuf, ocap, &written) != 0) goto write_error;
                blen = 0;
            }
            memcpy(buf + blen, rec_key(r), r->len);
            blen += r->len;
            for (int k = 0; k < NCOUNT; k++) {
                buf[blen++] = '\t';
                blen += put_u64(buf + blen, rec_get(r, k / 3, k % 3));
            }
            buf[blen++] = '\n';
        }
        if (frame_write(z, f, buf, blen, 1, obuf, ocap, &written) != 0) goto write_error;
    }
    off[P] = written;
    f = NULL;
    if (optout_publish_commit(&pub, err, errlen) != 0) goto done;
    if (!(f = optout_publish_open(&pub, out_index, 0644, err, errlen))) goto done;
    for (unsigned p = 0; p <= P; p++) fprintf(f, "%" PRIu64 "\n", off[p]);
    f = NULL;
    if (optout_publish_commit(&pub, err, errlen) != 0) goto done;
    rc = 0;
    goto done;
write_error:
    optout_set_err(err, errlen, "writing %s: %s", out, errno ? strerror(errno) : "compression failed");
done:
    if (f) optout_publish_abort(&pub);
    ZSTD_freeCCtx(z);
    free(v);
    free(off);
    free(obuf);
    free(buf);
    return rc;
}

int optout_rank_map(const optout_rank_map_config *c, const char *in, const char *out, const char *out_index,
                    optout_rank_map_stats *st, char *err, size_t errlen) {
    if (c->partitions < 1 || c->partitions > OPTOUT_RANK_PARTITIONS_MAX) {
        optout_set_err(err, errlen, "partitions must be 1..%d, not %u", OPTOUT_RANK_PARTITIONS_MAX, c->partitions);
        return -1;
    }
    struct table t;
    if (table_init(&t) != 0) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    optout_rank_map_stats local = {0};
    int rc = map_count(c, in, &t, &local, err, errlen);
    if (rc == 0) {
        local.hosts = t.count;
        rc = map_write(c, &t, out, out_index, err, errlen);
    }
    if (rc == 0) {
        st->docs += local.docs;
        st->hosts += local.hosts;
        st->bad_json += local.bad_json;
        st->no_url += local.no_url;
        st->bad_url += local.bad_url;
        st->no_host += local.no_host;
        st->line_too_long += local.line_too_long;
        st->bytes_unread += local.bytes_unread;
        st->bytes_read += local.bytes_read;
    }
    table_free(&t);
    return rc;
}

/* ---- reduce -------------------------------------------------------------------------------- */

/* Reads an index file: P+1 non-decreasing offsets. Returns P (>= 1), or -1 with err. */
static long read_index(const char *path, uint64_t **offs, char *err, size_t errlen) {
    size_t len;
    char *text = optout_read_file(path, (size_t)(OPTOUT_RANK_PARTITIONS_MAX + 1) * 22, &len);
    if (!text) {
        optout_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t *o = malloc((OPTOUT_RANK_PARTITIONS_MAX + 1) * sizeof *o);
    if (!o) {
        free(text);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        if (j == len || n > OPTOUT_RANK_PARTITIONS_MAX ||
            optout_parse_u64(text + i, j - i, UINT64_MAX, &o[n]) != 0 ||
            (n > 0 && o[n] < o[n - 1])) {
            optout_set_err(err, errlen, "%s: not a rank index (line %zu)", path, n + 1);
            free(text);
            free(o);
            return -1;
        }
        n++;
        i = j + 1;
    }
    free(text);
    if (n < 2) {
        optout_set_err(err, errlen, "%s: not a rank index (%zu lines)", path, n);
        free(o);
        return -1;
    }
    *offs = o;
    return (long)(n - 1);
}

struct row_sink {
    struct table *t;
    const char *path; /* for messages */
    uint64_t row;
};

/* One map row "host \t 9 counters": added into the table. */
static int reduce_row(struct row_sink *s, const char *line, size_t len, char *err, size_t errlen) {
    s->row++;
    const char *end = line + len, *p = memchr(line, '\t', len);
    if (!p || p == line || (size_t)(p - line) >= OPTOUT_HOSTKEY_MAX) goto bad;
    uint64_t c[NCOUNT];
    const char *q = p + 1;
    for (int k = 0; k < NCOUNT; k++) {
        const char *e = q;
        while (e < end && *e != '\t') e++;
        if (optout_parse_u64(q, (size_t)(e - q), UINT64_MAX, &c[k]) != 0) goto bad;
        if ((k < NCOUNT - 1) != (e < end)) goto bad;
        q = e + 1;
    }
    for (int cls = 0; cls < OPTOUT_CLASS_COUNT; cls++) {
        if (c[3 * cls] == 0) { /* no document of the class: nothing else may be counted */
            if (c[3 * cls + 1] || c[3 * cls + 2]) goto bad;
            continue;
        }
        if (table_add(s->t, line, (size_t)(p - line), cls, c[3 * cls], c[3 * cls + 1], c[3 * cls + 2]) != 0) {
            optout_set_err(err, errlen, "out of memory summing %s", s->path);
            return -1;
        }
    }
    return 0;
bad:
    optout_set_err(err, errlen, "%s: malformed row %" PRIu64 " in its partition", s->path, s->row);
    return -1;
}

/* Streams the frame(s) in [from, to) of path into the table. */
static int reduce_range(ZSTD_DCtx *z, struct row_sink *s, uint64_t from, uint64_t to, char *ibuf, size_t icap,
                        char **lbuf, size_t *lcap, char *err, size_t errlen) {
    if (from == to) return 0;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        optout_set_err(err, errlen, "cannot open %s: %s", s->path, strerror(errno));
        return -1;
    }
    int rc = -1;
    ZSTD_DCtx_reset(z, ZSTD_reset_session_only);
    size_t llen = 0; /* bytes of an incomplete line carried over */
    uint64_t pos = from;
    size_t ret = 1;
    while (pos < to) {
        size_t want = to - pos < icap ? (size_t)(to - pos) : icap;
        ssize_t got = pread(fd, ibuf, want, (off_t)pos);
        if (got <= 0) {
            optout_set_err(err, errlen, "reading %s at byte %" PRIu64 ": %s", s->path, pos,
                           got < 0 ? strerror(errno) : "unexpected end of file");
            goto done;
        }
        ZSTD_inBuffer ib = {ibuf, (size_t)got, 0};
        while (ib.pos < ib.size) {
            if (*lcap - llen < (1 << 16)) {
                size_t ncap = *lcap * 2;
                char *nb = realloc(*lbuf, ncap);
                if (!nb) {
                    optout_set_err(err, errlen, "out of memory reading %s", s->path);
                    goto done;
                }
                *lbuf = nb;
                *lcap = ncap;
            }
            ZSTD_outBuffer ob = {*lbuf + llen, *lcap - llen, 0};
            ret = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(ret)) {
                optout_set_err(err, errlen, "%s: corrupt zstd data near byte %" PRIu64 ": %s", s->path, pos + ib.pos,
                               ZSTD_getErrorName(ret));
                goto done;
            }
            size_t total = llen + ob.pos, start = 0;
            for (;;) {
                char *nl = memchr(*lbuf + start, '\n', total - start);
                if (!nl) break;
                size_t l = (size_t)(nl - (*lbuf + start));
                if (reduce_row(s, *lbuf + start, l, err, errlen) != 0) goto done;
                start += l + 1;
            }
            memmove(*lbuf, *lbuf + start, total - start);
            llen = total - start;
            if (llen > OPTOUT_HOSTKEY_MAX + NCOUNT * 21 + 16) {
                optout_set_err(err, errlen, "%s: malformed row (too long) near byte %" PRIu64, s->path, pos + ib.pos);
                goto done;
            }
        }
        pos += (uint64_t)got;
    }
    if (ret != 0 || llen != 0) {
        optout_set_err(err, errlen, "%s: truncated partition frame ending at byte %" PRIu64, s->path, to);
        goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

struct rank_key {
    uint64_t metric, docs;
    const char *key;
    size_t len;
};

/* Rank order: metric descending, documents descending, host key bytewise ascending. */
static int rank_cmp_keys(const struct rank_key *a, const struct rank_key *b) {
    if (a->metric != b->metric) return a->metric > b->metric ? -1 : 1;
    if (a->docs != b->docs) return a->docs > b->docs ? -1 : 1;
    return key_cmp(a->key, a->len, b->key, b->len);
}

static int metric_index(optout_rank_metric m) {
    return m == OPTOUT_RANK_DOCS ? 0 : m == OPTOUT_RANK_BYTES ? 1 : 2;
}

struct class_sort {
    int cls; /* optout_class */
    int mi;  /* metric: counter index within a class */
};

static int rec_rank_cmp(const void *a, const void *b, void *arg) {
    const struct class_sort *cs = arg;
    const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;
    struct rank_key kx = {rec_get(x, cs->cls, cs->mi), rec_get(x, cs->cls, 0), rec_key(x), x->len};
    struct rank_key ky = {rec_get(y, cs->cls, cs->mi), rec_get(y, cs->cls, 0), rec_key(y), y->len};
    return rank_cmp_keys(&kx, &ky);
}

static int write_class_rows(FILE *f, struct rec **all, size_t n, struct rec **sel, int cls, int mi, uint64_t limit,
                            int only_unknown, const char *name) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rec *r = all[i];
        unsigned known = (1u << OPTOUT_CLASS_EN) | (1u << OPTOUT_CLASS_NON_EN);
        if (only_unknown ? !(r->mask & known) : (r->mask & (1u << cls)) != 0) sel[m++] = all[i];
    }
    struct class_sort cs = {cls, mi};
    qsort_r(sel, m, sizeof *sel, rec_rank_cmp, &cs);
    if (m > limit) m = (size_t)limit;
    for (size_t i = 0; i < m; i++) {
        const struct rec *r = sel[i];
        if (fprintf(f, "%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", name, rec_key(r), rec_get(r, cls, 0),
                    rec_get(r, cls, 1), rec_get(r, cls, 2)) < 0)
            return -1;
    }
    return 0;
}

long optout_rank_reduce(const optout_rank_reduce_config *c, const char *const *maps, const char *const *indexes,
                        size_t count, unsigned partition, const char *out, char *err, size_t errlen) {
    long result = -1;
    struct table t;
    ZSTD_DCtx *z = ZSTD_createDCtx();
    size_t icap = ZSTD_DStreamInSize(), lcap = 1 << 17;
    char *ibuf = malloc(icap), *lbuf = malloc(lcap);
    struct rec **all = NULL, **sel = NULL;
    FILE *f = NULL;
    optout_publish pub = {0};
    long parts = -1;
    int have_table = table_init(&t) == 0;
    if (!z || !ibuf || !lbuf || !have_table) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t *offs = NULL;
        long p = read_index(indexes[i], &offs, err, errlen);
        if (p < 0) goto done;
        if (parts >= 0 && p != parts) {
            optout_set_err(err, errlen, "%s has %ld partitions, %s has %ld", indexes[i], p, indexes[0], parts);
            free(offs);
            goto done;
        }
        parts = p;
        if (partition >= (unsigned long)p) {
            optout_set_err(err, errlen, "partition %u out of range: %s has %ld partitions", partition, indexes[i], p);
            free(offs);
            goto done;
        }
        struct row_sink s = {.t = &t, .path = maps[i]};
        int rc = reduce_range(z, &s, offs[partition], offs[partition + 1], ibuf, icap, &lbuf, &lcap, err, errlen);
        free(offs);
        if (rc != 0) goto done;
    }
    size_t n = t.count;
    if (!(all = table_list(&t)) || !(sel = malloc((n ? n : 1) * sizeof *sel))) {
        optout_set_err(err, errlen, "out of memory ranking partition %u", partition);
        goto done;
    }
    if (!(f = optout_publish_open(&pub, out, 0644, err, errlen))) goto done;
    int mi = metric_index(c->metric);
    if (write_class_rows(f, all, n, sel, OPTOUT_CLASS_EN, mi, c->top_en, 0, "en") != 0 ||
        write_class_rows(f, all, n, sel, OPTOUT_CLASS_NON_EN, mi, c->top_non_en, 0, "non_en") != 0 ||
        (c->all_hosts && write_class_rows(f, all, n, sel, OPTOUT_CLASS_UNKNOWN, mi, UINT64_MAX, 1, "unknown") != 0)) {
        optout_set_err(err, errlen, "writing %s: %s", out, strerror(errno));
        goto done;
    }
    f = NULL;
    if (optout_publish_commit(&pub, err, errlen) != 0) goto done;
    result = (long)n;
done:
    if (f) optout_publish_abort(&pub);
    if (have_table) table_free(&t);
    ZSTD_freeDCtx(z);
    free(ibuf);
    free(lbuf);
    free(all);
    free(sel);
    return result;
}

/* ---- merge --------------------------------------------------------------------------------- */

struct top_row {
    uint64_t docs, bytes, tokens, metric;
    char *host;
    size_t len;
};

/* A bounded heap of the best `limit` rows: the worst row on top, so a better one replaces it. */
struct top {
    struct top_row *v;
    size_t n, cap;
    uint64_t limit;
};

static int row_cmp(const struct top_row *a, const struct top_row *b) {
    struct rank_key ka = {a->metric, a->docs, a->host, a->len}, kb = {b->metric, b->docs, b->host, b->len};
    return rank_cmp_keys(&ka, &kb);
}

/* heap order: parent is worse than (ranks after) its children */
static void sift_down(struct top *h, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && row_cmp(&h->v[l], &h->v[w]) > 0) w = l;
        if (r < h->n && row_cmp(&h->v[r], &h->v[w]) > 0) w = r;
        if (w == i) return;
        struct top_row t = h->v[i];
        h->v[i] = h->v[w];
        h->v[w] = t;
        i = w;
    }
}

static void sift_up(struct top *h, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (row_cmp(&h->v[i], &h->v[p]) <= 0) return;
        struct top_row t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
}

/* 1: taken (row->host now owned by the heap), 0: not good enough, -1: out of memory. */
static int top_offer(struct top *h, struct top_row *row) {
    if (h->limit == 0) return 0;
    if (h->n < h->limit) {
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 1024;
            struct top_row *v = realloc(h->v, cap * sizeof *v);
            if (!v) return -1;
            h->v = v;
            h->cap = cap;
        }
        h->v[h->n] = *row;
        sift_up(h, h->n++);
        return 1;
    }
    if (row_cmp(row, &h->v[0]) >= 0) return 0;
    free(h->v[0].host);
    h->v[0] = *row;
    sift_down(h, 0);
    return 1;
}

static int top_row_sort(const void *a, const void *b) { return row_cmp(a, b); }

static void top_free(struct top *h) {
    for (size_t i = 0; i < h->n; i++) free(h->v[i].host);
    free(h->v);
}

static int write_tsv(const char *dir, const char *name, struct top *h, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, errlen);
    if (!f) return -1;
    if (h->n) qsort(h->v, h->n, sizeof *h->v, top_row_sort); /* heap -> rank order (the heap is not used after) */
    int bad = fputs("#host\tdocs\tbytes\ttokens\trank\n", f) < 0;
    for (size_t i = 0; i < h->n && !bad; i++)
        bad = fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%zu\n", h->v[i].host, h->v[i].docs, h->v[i].bytes,
                      h->v[i].tokens, i + 1) < 0;
    if (bad) {
        optout_set_err(err, errlen, "writing %s: %s", path, strerror(errno));
        optout_publish_abort(&pub);
        return -1;
    }
    return optout_publish_commit(&pub, err, errlen);
}

static int cstr_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b); /* bytewise: strcmp compares as unsigned char */
}

/* Parses "class \t host \t docs \t bytes \t tokens". 0 or -1. */
static int parse_top_line(char *line, size_t len, char **cls, struct top_row *row) {
    char *f[5];
    size_t nf = 0;
    char *p = line, *end = line + len;
    while (nf < 5) {
        f[nf++] = p;
        char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    if (nf != 5 || memchr(f[4], '\t', (size_t)(end - f[4]))) return -1;
    *end = '\0';
    *cls = f[0];
    row->host = f[1];
    row->len = strlen(f[1]);
    if (row->len == 0 || row->len >= OPTOUT_HOSTKEY_MAX) return -1;
    if (optout_parse_u64(f[2], strlen(f[2]), UINT64_MAX, &row->docs) ||
        optout_parse_u64(f[3], strlen(f[3]), UINT64_MAX, &row->bytes) ||
        optout_parse_u64(f[4], strlen(f[4]), UINT64_MAX, &row->tokens))
        return -1;
    return 0;
}

long optout_rank_merge(const optout_rank_reduce_config *c, const char *const *tops, size_t count, const char *dir,
                       char *err, size_t errlen) {
    struct top heaps[2] = {{.limit = c->top_en}, {.limit = c->top_non_en}};
    char **unknown = NULL, **all = NULL;
    size_t nunknown = 0, capunknown = 0;
    char *line = NULL;
    size_t lcap = 0;
    long result = -1;
    FILE *f = NULL;
    int mi = metric_index(c->metric);
    for (size_t i = 0; i < count; i++) {
        if (!(f = fopen(tops[i], "re"))) {
            optout_set_err(err, errlen, "cannot open %s: %s", tops[i], strerror(errno));
            goto done;
        }
        int stop[2] = {0, 0}, last = -1; /* a class whose next row cannot enter the heap is skipped */
        uint64_t lineno = 0;
        ssize_t n;
        while ((n = getline(&line, &lcap, f)) > 0) {
            lineno++;
            if (line[n - 1] != '\n') goto bad_line;
            char *cls;
            struct top_row row;
            if (parse_top_line(line, (size_t)n - 1, &cls, &row) != 0) goto bad_line;
            int k = strcmp(cls, "en") == 0 ? 0 : strcmp(cls, "non_en") == 0 ? 1 : strcmp(cls, "unknown") == 0 ? 2 : -1;
            if (k < 0 || k < last) goto bad_line;
            last = k;
            if (k == 2) {
                if (!c->all_hosts) continue;
                if (nunknown == capunknown) {
                    capunknown = capunknown ? capunknown * 2 : 1024;
                    char **nu = realloc(unknown, capunknown * sizeof *nu);
                    if (!nu) goto oom;
                    unknown = nu;
                }
                if (!(unknown[nunknown] = strdup(row.host))) goto oom;
                nunknown++;
                continue;
            }
            if (stop[k]) continue;
            row.metric = mi == 0 ? row.docs : mi == 1 ? row.bytes : row.tokens;
            char *host = row.host;
            if (!(row.host = malloc(row.len + 1))) goto oom;
            memcpy(row.host, host, row.len + 1);
            int taken = top_offer(&heaps[k], &row);
            if (taken < 0) {
                free(row.host);
                goto oom;
            }
            if (!taken) {
                free(row.host);
                stop[k] = 1; /* the rest of this reducer's class ranks after this row */
            }
        }
        if (ferror(f)) {
            optout_set_err(err, errlen, "reading %s: %s", tops[i], strerror(errno));
            goto done;
        }
        fclose(f);
        f = NULL;
        continue;
    bad_line:
        optout_set_err(err, errlen,
                       "%s: line %" PRIu64
                       " is not a rank row (class, host, docs, bytes, tokens; en, non_en, unknown in order)",
                       tops[i], lineno);
        goto done;
    }
    if (write_tsv(dir, "en.tsv", &heaps[0], err, errlen) != 0 || write_tsv(dir, "non_en.tsv", &heaps[1], err, errlen) != 0)
        goto done;
    /* hosts.txt: the union, each host once, bytewise */
    size_t total = heaps[0].n + heaps[1].n + nunknown, m = 0;
    if (!(all = malloc((total ? total : 1) * sizeof *all))) goto oom;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < heaps[k].n; i++) all[m++] = heaps[k].v[i].host;
    for (size_t i = 0; i < nunknown; i++) all[m++] = unknown[i];
    qsort(all, m, sizeof *all, cstr_cmp);
    char path[4096];
    snprintf(path, sizeof path, "%s/hosts.txt", dir);
    optout_publish pub = {0};
    if (!(f = optout_publish_open(&pub, path, 0644, err, errlen))) goto done;
    long hosts = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && strcmp(all[i], all[i - 1]) == 0) continue;
        if (fputs(all[i], f) < 0 || fputc('\n', f) < 0) {
            optout_set_err(err, errlen, "writing %s: %s", path, strerror(errno));
            optout_publish_abort(&pub);
            f = NULL;
            goto done;
        }
        hosts++;
    }
    f = NULL;
    if (optout_publish_commit(&pub, err, errlen) != 0) goto done;
    result = hosts;
    goto done;
oom:
    optout_set_err(err, errlen, "out of memory merging rankings");
done:
    if (f) fclose(f);
    free(line);
    top_free(&heaps[0]);
    top_free(&heaps[1]);
    for (size_t i = 0; i < nunknown; i++) free(unknown[i]);
    free(unknown);
    free(all);
    return result;
}

int optout_rank_read_tokens(const char *dir, int (*each)(const char *host, uint64_t tokens, void *arg), void *arg,
                            char *err, size_t errlen) {
    static const char *const files[] = {"en.tsv", "non_en.tsv"};
    for (size_t k = 0; k < 2; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        size_t len;
        char *text = optout_read_file(path, (size_t)1 << 34, &len);
        if (!text) {
            optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        int rc = 0;
        size_t lineno = 0;
        for (char *l = text, *nl; rc == 0 && l < text + len; l = nl + 1) {
            lineno++;
            if (!(nl = memchr(l, '\n', (size_t)(text + len - l)))) nl = text + len;
            *nl = '\0';
            if (l[0] == '#' || !l[0]) continue;
            char *f[5];
            size_t nf = 0;
            for (char *p = l; nf < 5; p++) {
                f[nf++] = p;
                if (!(p = strchr(p, '\t'))) break;
                *p = '\0';
            }
            uint64_t tokens;
            if (nf != 5 || !f[0][0] || optout_parse_u64(f[3], strlen(f[3]), UINT64_MAX, &tokens) != 0) {
                optout_set_err(err, errlen, "%s:%zu: not a ranking line", path, lineno);
                rc = -1;
            } else {
                rc = each(f[0], tokens, arg);
            }
        }
        free(text);
        if (rc != 0) return rc;
    }
    return 0;
}
