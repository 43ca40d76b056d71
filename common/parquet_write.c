/* parquet_write.c — the filter's writer: each input row group's kept rows become one output row
 * group, every column chunk streamed page by page (levels and values decoded, removed rows dropped
 * — a row being every entry from one repetition level 0 to the next —, re-encoded, recompressed).
 * The schema elements are copied byte for byte from the input footer, so types, repetition and
 * field ids cannot drift; statistics are recomputed from the kept values. */
#include "parquet_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/parquet.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/version.h"

#define AGENTS_COLUMN "disallowed_user_agents"
#define AGENTS_PAGE_BYTES (1u << 20)
#define PQ_MAX_DEPTH_PATH 64

int optout_pq_codec_parse(const char *name, int *codec) {
    static const struct {
        const char *name;
        int codec;
    } t[] = {{"zstd", PQ_CODEC_ZSTD},
             {"snappy", PQ_CODEC_SNAPPY},
             {"gzip", PQ_CODEC_GZIP},
             {"lz4", PQ_CODEC_LZ4_RAW},
             {"none", PQ_CODEC_NONE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0) {
            *codec = t[i].codec;
            return 0;
        }
    return -1;
}

int optout_pq_codec_level(int codec, const int *requested, int *level, char *err, size_t errlen) {
    int lo = 0, hi = 0, def = 0;
    if (codec == PQ_CODEC_ZSTD) lo = 1, hi = 22, def = 3;
    else if (codec == PQ_CODEC_GZIP) lo = 1, hi = 9, def = 6;
    if (!requested) {
        *level = def;
        return 0;
    }
    if (hi == 0) {
        optout_set_err(err, errlen, "codec %s has no compression level", pq_codec_name(codec));
        return -1;
    }
    if (*requested < lo || *requested > hi) {
        optout_set_err(err, errlen, "level %d out of range for %s (%d..%d)", *requested, pq_codec_name(codec), lo, hi);
        return -1;
    }
    *level = *requested;
    return 0;
}

/* ---- statistics ------------------------------------------------------------------------------ */

enum { ORD_NONE, ORD_SIGNED, ORD_UNSIGNED, ORD_FLOAT, ORD_BYTES, ORD_BOOL };

typedef struct {
    int order;
    int want_minmax, want_nulls;
    int has;
    int64_t nulls;
    pq_buf min, max;
} col_stats;

static int sort_order(const pq_leaf *l) {
    const pq_schema_elem *e = l->e;
    switch (l->type) {
    case PQ_BOOLEAN: return ORD_BOOL;
    case PQ_INT32:
    case PQ_INT64: return e->logical == PQ_LT_INTEGER && !e->int_signed ? ORD_UNSIGNED : ORD_SIGNED;
    case PQ_FLOAT:
    case PQ_DOUBLE: return ORD_FLOAT;
    case PQ_BYTE_ARRAY:
    case PQ_FIXED:
        /* decimals sort signed, FLOAT16 and INTERVAL numerically: omit rather than guess */
        if (e->logical == PQ_LT_DECIMAL || e->logical == PQ_LT_FLOAT16 || e->converted == 21) return ORD_NONE;
        return ORD_BYTES;
    default: return ORD_NONE; /* INT96 */
    }
}

/* <0, 0, >0 as a sorts before b. */
static int stat_cmp(int order, int type, const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    switch (order) {
    case ORD_BOOL: return (int)a[0] - (int)b[0];
    case ORD_SIGNED:
    case ORD_UNSIGNED:
        if (type == PQ_INT32) {
            int32_t x, y;
            memcpy(&x, a, 4);
            memcpy(&y, b, 4);
            if (order == ORD_UNSIGNED) return (uint32_t)x < (uint32_t)y ? -1 : (uint32_t)x > (uint32_t)y;
            return x < y ? -1 : x > y;
        } else {
            int64_t x, y;
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (order == ORD_UNSIGNED) return (uint64_t)x < (uint64_t)y ? -1 : (uint64_t)x > (uint64_t)y;
            return x < y ? -1 : x > y;
        }
    case ORD_FLOAT: {
        double x, y;
        if (type == PQ_FLOAT) {
            float fx, fy;
            memcpy(&fx, a, 4);
            memcpy(&fy, b, 4);
            x = fx;
            y = fy;
        } else {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
        }
        return x < y ? -1 : x > y;
    }
    default: {
        size_t n = al < bl ? al : bl;
        int c = n ? memcmp(a, b, n) : 0;
        return c ? c : (al < bl ? -1 : al > bl);
    }
    }
}

static void stats_bound(col_stats *s, int type, const uint8_t *v, size_t len, int is_max) {
    pq_buf *b = is_max ? &s->max : &s->min;
    int c = s->has ? stat_cmp(s->order, type, v, len, b->data, b->len) : 0;
    if (!s->has || (is_max ? c > 0 : c < 0)) {
        b->len = 0;
        pq_buf_put(b, v, len);
    }
}

static void stats_value(col_stats *s, int type, const uint8_t *v, size_t len) {
    if (!s->want_minmax || s->order == ORD_NONE) return;
    if (s->order == ORD_FLOAT) {
        double d;
        if (type == PQ_FLOAT) {
            float f;
            memcpy(&f, v, 4);
            d = f;
        } else {
            memcpy(&d, v, 8);
        }
        if (isnan(d)) return; /* NaN is not ordered: never a bound */
        if (d == 0) {
            /* zeros: the format wants -0.0 as a minimum and +0.0 as a maximum */
            uint8_t neg[8] = {0}, pos[8] = {0};
            neg[len - 1] = 0x80;
            if (!s->has) {
                pq_buf_put(&s->min, neg, len);
                pq_buf_put(&s->max, pos, len);
                s->has = 1;
                return;
            }
            stats_bound(s, type, neg, len, 0);
            stats_bound(s, type, pos, len, 1);
            return;
        }
    }
    if (!s->has) {
        pq_buf_put(&s->min, v, len);
        pq_buf_put(&s->max, v, len);
        s->has = 1;
        return;
    }
    stats_bound(s, type, v, len, 0);
    stats_bound(s, type, v, len, 1);
}

/* ---- the writer ------------------------------------------------------------------------------ */

struct optout_pq_writer {
    optout_pq_file *in;
    optout_pq_write_opts o;
    char *path;
    FILE *fp;
    uint64_t pos;
    pq_buf rgs; /* encoded RowGroup structs */
    uint32_t nrgs;
    int64_t rows;
    /* scratch for one page */
    pq_buf page, comp, hdr, chunks;
    uint32_t *rep, *def, *idx;
    pq_bytes *ba;
    uint8_t *fixed;
    size_t lcap, vcap;
    int fixed_w;
    /* a generated schema (in == NULL): its elements, root first, encoded; its leaf count */
    pq_buf gen_schema;
    uint32_t gen_nschema;
    int gen_nleaves;
};

static int wfail(optout_pq_writer *w, char *err, size_t errlen, const char *what) {
    optout_set_err(err, errlen, "%s: %s: %s", w->path, what, strerror(errno));
    return -1;
}

static int put_out(optout_pq_writer *w, const void *p, size_t n, char *err, size_t errlen) {
    if (n && fwrite(p, 1, n, w->fp) != n) return wfail(w, err, errlen, "write");
    w->pos += n;
    return 0;
}

/* The writer and its file (PAR1 written); in is NULL for a generated schema. */
static optout_pq_writer *writer_create(const char *path, optout_pq_file *in, const optout_pq_write_opts *opts,
                                       char *err, size_t errlen) {
    if (opts->codec != PQ_CODEC_NONE && opts->codec != PQ_CODEC_SNAPPY && opts->codec != PQ_CODEC_GZIP &&
        opts->codec != PQ_CODEC_ZSTD && opts->codec != PQ_CODEC_LZ4_RAW) {
        optout_set_err(err, errlen, "%s: cannot write codec %s", path, pq_codec_name(opts->codec));
        return NULL;
    }
    optout_pq_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        optout_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    w->in = in;
    w->o = *opts;
    /* never through a link: the caller names a file of its own (its temporary output) */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    w->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!w->fp) {
        if (fd >= 0) close(fd);
        wfail(w, err, errlen, "create");
        free(w->path);
        free(w);
        return NULL;
    }
    setvbuf(w->fp, NULL, _IOFBF, 1 << 20);
    if (put_out(w, "PAR1", 4, err, errlen) < 0) {
        optout_pq_writer_abort(w);
        return NULL;
    }
    return w;
}

optout_pq_writer *optout_pq_writer_open(const char *path, optout_pq_file *in, const optout_pq_write_opts *opts,
                                        char *err, size_t errlen) {
    if (opts->agents_column)
        for (uint32_t i = 1; i < in->meta.nschema; i++)
            if (in->nodes[i].parent == 0 && strcmp(in->nodes[i].e->name, AGENTS_COLUMN) == 0) {
                optout_set_err(err, errlen, "%s: already has a column %s", in->path, AGENTS_COLUMN);
                return NULL;
            }
    return writer_create(path, in, opts, err, errlen);
}

optout_pq_writer *pq_writer_open_generated(const char *path, const pq_buf *schema, uint32_t nschema, int nleaves,
                                           const optout_pq_write_opts *opts, char *err, size_t errlen) {
    optout_pq_writer *w = writer_create(path, NULL, opts, err, errlen);
    if (!w) return NULL;
    pq_buf_put(&w->gen_schema, schema->data, schema->len);
    w->gen_nschema = nschema;
    w->gen_nleaves = nleaves;
    return w;
}

void optout_pq_writer_abort(optout_pq_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    pq_buf_free(&w->rgs);
    pq_buf_free(&w->page);
    pq_buf_free(&w->comp);
    pq_buf_free(&w->hdr);
    pq_buf_free(&w->chunks);
    pq_buf_free(&w->gen_schema);
    free(w->rep);
    free(w->def);
    free(w->idx);
    free(w->ba);
    free(w->fixed);
    free(w->path);
    free(w);
}

static int ensure(optout_pq_writer *w, size_t nlev, size_t nval, int width) {
    if (nlev + 1 > w->lcap) {
        size_t cap = nlev + 1 > w->lcap * 2 ? nlev + 1 : w->lcap * 2;
        free(w->rep);
        free(w->def);
        w->rep = malloc(cap * sizeof *w->rep);
        w->def = malloc(cap * sizeof *w->def);
        w->lcap = w->rep && w->def ? cap : 0;
        if (!w->lcap) return -1;
    }
    if (nval + 1 > w->vcap || width > w->fixed_w) {
        size_t cap = nval + 1 > w->vcap * 2 ? nval + 1 : w->vcap * 2;
        w->fixed_w = width > 12 ? width : 12;
        free(w->idx);
        free(w->ba);
        free(w->fixed);
        w->idx = malloc(cap * sizeof *w->idx);
        w->ba = malloc(cap * sizeof *w->ba);
        w->fixed = malloc(cap * (size_t)w->fixed_w);
        w->vcap = w->idx && w->ba && w->fixed ? cap : 0;
        if (!w->vcap) return -1;
    }
    return 0;
}

typedef struct {
    int64_t num_values, uncompressed, compressed;
    int64_t dict_offset, data_offset, start;
    int enc_seen[10];
    col_stats st;
} chunk_out;

/* Compresses w->page and writes header + page. */
static int write_page(optout_pq_writer *w, chunk_out *co, int type, uint32_t num_values, int encoding, char *err,
                      size_t errlen) {
    w->comp.len = 0;
    if (pq_compress(w->o.codec, w->o.level, w->page.data, w->page.len, &w->comp, err, errlen) < 0) return -1;
    if (w->page.len > INT32_MAX || w->comp.len > INT32_MAX) {
        optout_set_err(err, errlen, "%s: page larger than 2 GiB", w->path);
        return -1;
    }
    pq_page_header h = {0};
    h.type = type;
    h.uncompressed_size = (int32_t)w->page.len;
    h.compressed_size = (int32_t)w->comp.len;
    h.num_values = (int32_t)num_values;
    h.encoding = encoding;
    w->hdr.len = 0;
    pq_page_header_encode(&w->hdr, &h);
    if (type == PQ_PAGE_DICT) co->dict_offset = (int64_t)w->pos;
    else if (co->data_offset < 0) co->data_offset = (int64_t)w->pos;
    if (put_out(w, w->hdr.data, w->hdr.len, err, errlen) < 0 || put_out(w, w->comp.data, w->comp.len, err, errlen) < 0)
        return -1;
    co->uncompressed += (int64_t)(w->hdr.len + w->page.len);
    co->compressed += (int64_t)(w->hdr.len + w->comp.len);
    if (encoding >= 0 && encoding < 10) co->enc_seen[encoding] = 1;
    return 0;
}

/* Levels as the v1 page stores them: RLE hybrid behind a 4-byte length. */
static void put_levels(pq_buf *b, const uint32_t *v, uint32_t n, int max) {
    size_t at = b->len;
    pq_buf_put(b, "\0\0\0\0", 4);
    pq_rle_encode(b, v, n, pq_bit_width((uint64_t)max));
    uint32_t len = (uint32_t)(b->len - at - 4);
    for (int k = 0; k < 4; k++) b->data[at + (size_t)k] = (uint8_t)(len >> (8 * k));
}

/* Appends the ColumnChunk struct of a written chunk to w->chunks. */
static void encode_chunk(optout_pq_writer *w, pq_tw *t, const chunk_out *co, int type, const char *const *path,
                         int depth, int has_stats_in, const pq_stats *in_stats) {
    pq_tw_elem_struct_begin(t);
    pq_tw_i64(t, 2, co->start);
    pq_tw_struct_begin(t, 3);
    pq_tw_i32(t, 1, type);
    int nenc = 0;
    for (int e = 0; e < 10; e++) nenc += co->enc_seen[e] && e != PQ_ENC_RLE;
    pq_tw_list_begin(t, 2, PQ_T_I32, (uint32_t)nenc + 1);
    pq_tw_elem_i32(t, PQ_ENC_RLE); /* levels (and dictionary indices) */
    for (int e = 0; e < 10; e++)
        if (co->enc_seen[e] && e != PQ_ENC_RLE) pq_tw_elem_i32(t, e);
    pq_tw_list_begin(t, 3, PQ_T_BINARY, (uint32_t)depth);
    for (int i = 0; i < depth; i++) pq_tw_elem_binary(t, path[i], strlen(path[i]));
    pq_tw_i32(t, 4, w->o.codec);
    pq_tw_i64(t, 5, co->num_values);
    pq_tw_i64(t, 6, co->uncompressed);
    pq_tw_i64(t, 7, co->compressed);
    pq_tw_i64(t, 9, co->data_offset);
    if (co->dict_offset >= 0) pq_tw_i64(t, 11, co->dict_offset);
    if (has_stats_in && (in_stats->has_nulls || (in_stats->has_min && in_stats->has_max))) {
        pq_tw_struct_begin(t, 12);
        if (in_stats->has_nulls) pq_tw_i64(t, 3, co->st.nulls);
        if (co->st.has && in_stats->has_min && in_stats->has_max && co->st.order != ORD_NONE) {
            pq_tw_binary(t, 5, co->st.max.data, co->st.max.len);
            pq_tw_binary(t, 6, co->st.min.data, co->st.min.len);
        }
        pq_tw_struct_end(t);
    }
    pq_tw_struct_end(t); /* ColumnMetaData */
    pq_tw_struct_end(t); /* ColumnChunk */
}

/* The column path's components from the schema tree (names may contain dots). */
static int node_path(const optout_pq_file *f, int node, const char **out, int max) {
    int d = 0;
    for (int n = node; n > 0; n = f->nodes[n].parent) d++;
    if (d > max) return -1;
    int i = d;
    for (int n = node; n > 0; n = f->nodes[n].parent) out[--i] = f->nodes[n].e->name;
    return d;
}

static int copy_column(optout_pq_writer *w, int rg, int col, const uint8_t *keep, pq_tw *t, char *err, size_t errlen) {
    optout_pq_file *f = w->in;
    pq_chunk c;
    pq_chunk_open(&c, f, rg, col, err, errlen);
    const pq_leaf *l = c.leaf;
    chunk_out co = {.dict_offset = -1, .data_offset = -1, .start = (int64_t)w->pos};
    co.st.order = sort_order(l);
    co.st.want_minmax = c.cm->has_stats && c.cm->stats.has_min && c.cm->stats.has_max;
    int64_t rows = f->meta.rgs[rg].num_rows, row = -1;
    int dict_written = 0, r, rc = 0;
    int width = l->width;
    while ((r = pq_chunk_next(&c, err, errlen)) > 0) {
        if (c.has_dict && !dict_written) {
            w->page.len = 0;
            pq_buf_put(&w->page, c.dict_data, c.dict_len);
            if (write_page(w, &co, PQ_PAGE_DICT, c.dict_n, PQ_ENC_PLAIN, err, errlen) < 0) goto fail;
            dict_written = 1;
        }
        if (ensure(w, c.n, c.nvals, width) < 0) {
            optout_set_err(err, errlen, "%s: out of memory", w->path);
            goto fail;
        }
        uint32_t on = 0, ov = 0, vi = 0;
        int kept = 0;
        for (uint32_t k = 0; k < c.n; k++) {
            uint32_t rep = l->max_rep ? c.rep[k] : 0;
            uint32_t def = l->max_def ? c.def[k] : 0;
            if (rep == 0) {
                row++;
                if (row >= rows) {
                    char m[512];
                    pq_chunk_where(&c, m, sizeof m);
                    optout_set_err(err, errlen, "%s: more rows than the row group's %lld", m, (long long)rows);
                    goto fail;
                }
                kept = (keep[row / 8] >> (row % 8)) & 1;
            }
            int has = def == (uint32_t)l->max_def;
            if (kept) {
                w->rep[on] = rep;
                w->def[on] = def;
                on++;
                if (has) {
                    const uint8_t *fx;
                    pq_bytes v;
                    pq_chunk_value(&c, vi, &fx, &v);
                    if (c.is_dict) w->idx[ov] = c.idx[vi];
                    else if (l->type == PQ_BYTE_ARRAY) w->ba[ov] = v;
                    else memcpy(w->fixed + (size_t)ov * (size_t)width, fx, (size_t)width);
                    stats_value(&co.st, l->type, v.p, v.len);
                    ov++;
                } else {
                    co.st.nulls++;
                }
            }
            if (has) vi++;
        }
        if (on == 0) continue;
        w->page.len = 0;
        if (l->max_rep) put_levels(&w->page, w->rep, on, l->max_rep);
        if (l->max_def) put_levels(&w->page, w->def, on, l->max_def);
        int enc;
        if (c.is_dict) {
            int bw = pq_bit_width(c.dict_n ? c.dict_n - 1 : 0);
            pq_buf_byte(&w->page, (uint8_t)bw);
            pq_rle_encode(&w->page, w->idx, ov, bw);
            enc = PQ_ENC_RLE_DICT;
        } else {
            if (l->type == PQ_BYTE_ARRAY) pq_encode_plain_ba(&w->page, w->ba, ov);
            else if (l->type == PQ_BOOLEAN) pq_encode_plain_bool(&w->page, w->fixed, ov);
            else pq_buf_put(&w->page, w->fixed, (size_t)ov * (size_t)width);
            enc = PQ_ENC_PLAIN;
        }
        if (write_page(w, &co, PQ_PAGE_DATA, on, enc, err, errlen) < 0) goto fail;
        co.num_values += on;
    }
    if (r < 0) goto fail;
    if (row + 1 != rows) {
        optout_set_err(err, errlen, "%s: row group %d, column %s: %lld rows, the row group says %lld", f->path, rg,
                       l->path, (long long)(row + 1), (long long)rows);
        goto fail;
    }
    {
        const char *path[PQ_MAX_DEPTH_PATH];
        int depth = node_path(f, l->node, path, PQ_MAX_DEPTH_PATH);
        encode_chunk(w, t, &co, l->type, path, depth, c.cm->has_stats, &c.cm->stats);
    }
    goto done;
fail:
    rc = -1;
done:
    pq_buf_free(&co.st.min);
    pq_buf_free(&co.st.max);
    pq_chunk_close(&c);
    return rc;
}

/* The disallowed_user_agents column: a LIST (optional group, repeated group "list", required
 * string "element"): max definition level 2, max repetition level 1. */
static int write_agents(optout_pq_writer *w, const optout_pq_agents *ag, size_t nrows, pq_tw *t, char *err,
                        size_t errlen) {
    chunk_out co = {.dict_offset = -1, .data_offset = -1, .start = (int64_t)w->pos};
    co.st.order = ORD_BYTES;
    co.st.want_minmax = 1;
    size_t r = 0;
    int rc = 0;
    while (r < nrows) {
        /* one page: rows until about AGENTS_PAGE_BYTES of values */
        size_t bytes = 0, nlev = 0, nval = 0, r0 = r;
        while (r < nrows && (bytes < AGENTS_PAGE_BYTES || r == r0)) {
            nlev += ag[r].n ? ag[r].n : 1;
            nval += ag[r].n;
            for (size_t i = 0; i < ag[r].n; i++) bytes += 4 + strlen(ag[r].names[i]);
            r++;
        }
        if (ensure(w, nlev, nval, 1) < 0) {
            optout_set_err(err, errlen, "%s: out of memory", w->path);
            rc = -1;
            break;
        }
        uint32_t on = 0, ov = 0;
        for (size_t k = r0; k < r; k++) {
            if (ag[k].n == 0) {
                w->rep[on] = 0;
                w->def[on++] = 1;
                continue;
            }
            for (size_t i = 0; i < ag[k].n; i++) {
                w->rep[on] = i ? 1 : 0;
                w->def[on++] = 2;
                w->ba[ov].p = (const uint8_t *)ag[k].names[i];
                w->ba[ov].len = (uint32_t)strlen(ag[k].names[i]);
                stats_value(&co.st, PQ_BYTE_ARRAY, w->ba[ov].p, w->ba[ov].len);
                ov++;
            }
        }
        w->page.len = 0;
        put_levels(&w->page, w->rep, on, 1);
        put_levels(&w->page, w->def, on, 2);
        pq_encode_plain_ba(&w->page, w->ba, ov);
        if (write_page(w, &co, PQ_PAGE_DATA, on, PQ_ENC_PLAIN, err, errlen) < 0) {
            rc = -1;
            break;
        }
        co.num_values += on;
    }
    if (rc == 0) {
        static const char *const path[] = {AGENTS_COLUMN, "list", "element"};
        pq_stats in = {.has_min = 1, .has_max = 1, .has_nulls = 1};
        encode_chunk(w, t, &co, PQ_BYTE_ARRAY, path, 3, 1, &in);
    }
    pq_buf_free(&co.st.min);
    pq_buf_free(&co.st.max);
    return rc;
}

/* The RowGroup struct of the chunks in w->chunks, kept until the footer. */
static void add_row_group(optout_pq_writer *w, int64_t start, uint32_t ncols, int64_t nrows, const uint8_t *sorting,
                          size_t sorting_len) {
    int64_t size = (int64_t)w->pos - start;
    pq_tw rt;
    pq_tw_init(&rt, &w->rgs);
    pq_tw_elem_struct_begin(&rt);
    pq_tw_list_begin(&rt, 1, PQ_T_STRUCT, ncols);
    pq_tw_elem_raw(&rt, w->chunks.data, w->chunks.len);
    pq_tw_i64(&rt, 2, size);
    pq_tw_i64(&rt, 3, nrows);
    if (sorting) pq_tw_raw_field(&rt, 4, PQ_T_LIST, sorting, sorting_len);
    pq_tw_i64(&rt, 5, start);
    pq_tw_i64(&rt, 6, size);
    pq_tw_stop(&rt);
    w->nrgs++;
    w->rows += nrows;
}

int optout_pq_writer_row_group(optout_pq_writer *w, int rg, const uint8_t *keep, const optout_pq_agents *agents,
                               char *err, size_t errlen) {
    optout_pq_file *f = w->in;
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) {
        optout_set_err(err, errlen, "%s: no row group %d", f->path, rg);
        return -1;
    }
    const pq_row_group *g = &f->meta.rgs[rg];
    size_t nkept = 0;
    for (int64_t r = 0; r < g->num_rows; r++) nkept += (keep[r / 8] >> (r % 8)) & 1;
    if (nkept == 0) return 0;
    int64_t start = (int64_t)w->pos;
    w->chunks.len = 0;
    pq_tw t;
    pq_tw_init(&t, &w->chunks);
    t.depth = 0;
    for (int c = 0; c < f->nleaves; c++)
        if (copy_column(w, rg, c, keep, &t, err, errlen) < 0) return -1;
    if (w->o.agents_column && write_agents(w, agents, nkept, &t, err, errlen) < 0) return -1;
    uint32_t ncols = (uint32_t)f->nleaves + (w->o.agents_column ? 1 : 0);
    add_row_group(w, start, ncols, (int64_t)nkept, g->sorting_raw, g->sorting_len);
    return 0;
}

/* Bounds of byte arrays longer than this are left out of a generated file's statistics (a whole
 * document's text would otherwise sit in the footer; parquet-cpp's limit is the same 4 KiB). */
#define GEN_STATS_MAX 4096
#define GEN_PAGE_BYTES (1u << 20)
/* A string column's dictionary stops growing past this many PLAIN bytes: the page that would take
 * it past is written PLAIN, and so is the rest of the chunk (the fallback parquet-mr and Arrow make
 * at their default dictionary page size, the same 1 MiB). */
#define GEN_DICT_BYTES (1u << 20)

/* One page of a generated chunk: entries [k0, k) of the levels, values [v0, voff) of the PLAIN
 * bytes (nv of them), its first value's index among the chunk's values. */
typedef struct {
    size_t k0, k, v0, voff, vfirst;
    uint32_t nv;
} gen_page;

/* A string column's dictionary: entries are offsets of values (at their 4-byte length) in the
 * column's PLAIN bytes; slots hash them (open addressing, entry + 1, 0 empty); idx gives each
 * dictionary-encoded value its entry. */
typedef struct {
    size_t *entry;
    uint32_t n, entry_cap;
    uint32_t *slot;
    size_t nslots;
    uint64_t bytes; /* the dictionary page's PLAIN size */
    uint32_t *idx;
} gen_dict;

static void gen_dict_free(gen_dict *d) {
    free(d->entry);
    free(d->slot);
    free(d->idx);
}

static uint32_t ba_len(const uint8_t *v) {
    return (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
}

/* The entry of the value at offset off of vals, added when new. -1 when out of memory. */
static int64_t gen_dict_add(gen_dict *d, const pq_buf *vals, size_t off) {
    if ((size_t)d->n * 2 + 2 > d->nslots) { /* at most half full */
        size_t ns = d->nslots ? d->nslots * 2 : 1024;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return -1;
        for (uint32_t e = 0; e < d->n; e++) {
            const uint8_t *v = vals->data + d->entry[e];
            size_t h = (size_t)optout_hash_bytes((const char *)v + 4, ba_len(v)) & (ns - 1);
            while (sl[h]) h = (h + 1) & (ns - 1);
            sl[h] = e + 1;
        }
        free(d->slot);
        d->slot = sl;
        d->nslots = ns;
    }
    const uint8_t *v = vals->data + off;
    uint32_t len = ba_len(v);
    size_t h = (size_t)optout_hash_bytes((const char *)v + 4, len) & (d->nslots - 1);
    for (; d->slot[h]; h = (h + 1) & (d->nslots - 1)) {
        const uint8_t *u = vals->data + d->entry[d->slot[h] - 1];
        if (ba_len(u) == len && memcmp(u + 4, v + 4, len) == 0) return d->slot[h] - 1;
    }
    if (d->n == d->entry_cap) {
        uint32_t cap = d->entry_cap ? d->entry_cap * 2 : 1024;
        size_t *e = realloc(d->entry, cap * sizeof *e);
        if (!e) return -1;
        d->entry = e;
        d->entry_cap = cap;
    }
    d->entry[d->n] = off;
    d->slot[h] = ++d->n;
    d->bytes += 4 + (uint64_t)len;
    return d->n - 1;
}

/* One buffered column as a column chunk: pages of about GEN_PAGE_BYTES of values, cut between rows;
 * a string column dictionary-encoded (RLE_DICTIONARY behind a PLAIN dictionary page) while its
 * dictionary stays within GEN_DICT_BYTES, PLAIN from the page that would take it past; PLAIN
 * throughout when the first page's dictionary and indices are not smaller than its PLAIN values. */
static int gen_column(optout_pq_writer *w, const pq_colbuf *cb, pq_tw *t, char *err, size_t errlen) {
    chunk_out co = {.dict_offset = -1, .data_offset = -1, .start = (int64_t)w->pos};
    co.st.order = cb->type == PQ_BOOLEAN ? ORD_BOOL
                  : cb->type == PQ_DOUBLE ? ORD_FLOAT
                  : cb->type == PQ_BYTE_ARRAY ? ORD_BYTES
                                              : ORD_SIGNED;
    co.st.want_minmax = 1;
    int width = cb->type == PQ_BOOLEAN ? 1 : 8;
    gen_page *pages = NULL;
    size_t npages = 0, pcap = 0, nvals = 0;
    gen_dict d = {0};
    size_t dict_pages = 0; /* pages [0, dict_pages) are dictionary-encoded */
    int use_dict = cb->type == PQ_BYTE_ARRAY, rc = 0;
    /* the pages, the statistics and the dictionary */
    size_t k = 0, voff = 0;
    while (k < cb->nlev && rc == 0) {
        gen_page pg = {.k0 = k, .v0 = voff, .vfirst = nvals};
        uint32_t n0 = d.n;
        uint64_t b0 = d.bytes;
        while (k < cb->nlev && (k == pg.k0 || cb->rep[k] != 0 || voff - pg.v0 < GEN_PAGE_BYTES)) {
            if (cb->def[k] == (uint32_t)cb->max_def) {
                const uint8_t *v = cb->vals.data + voff;
                size_t len = (size_t)width, size = (size_t)width;
                if (cb->type == PQ_BYTE_ARRAY) {
                    len = ba_len(v);
                    size = 4 + len;
                    v += 4;
                }
                stats_value(&co.st, cb->type, v, len);
                if (use_dict) {
                    int64_t e = gen_dict_add(&d, &cb->vals, voff);
                    uint32_t *ix = (nvals & (nvals - 1)) == 0 ? realloc(d.idx, (nvals ? nvals * 2 : 1) * sizeof *ix)
                                                              : d.idx;
                    if (e < 0 || !ix) {
                        rc = -1;
                        break;
                    }
                    d.idx = ix;
                    d.idx[nvals] = (uint32_t)e;
                }
                voff += size;
                nvals++;
                pg.nv++;
            } else {
                co.st.nulls++;
            }
            k++;
        }
        pg.k = k;
        pg.voff = voff;
        if (use_dict && d.bytes > GEN_DICT_BYTES) { /* this page and the rest: PLAIN (no more lookups) */
            d.n = n0;
            d.bytes = b0;
            use_dict = 0;
        }
        /* after the first page, a dictionary that does not make it smaller than PLAIN is dropped
         * (parquet-mr's rule: unique values, ids or URLs, gain nothing from one) */
        uint64_t indices = ((uint64_t)pg.nv * (uint64_t)pq_bit_width(d.n) + 7) / 8;
        if (use_dict && npages == 0 && d.bytes + indices >= voff - pg.v0) {
            d.n = 0;
            use_dict = 0;
        }
        if (use_dict) dict_pages = npages + 1;
        if (npages == pcap) {
            pcap = pcap ? pcap * 2 : 16;
            gen_page *np = realloc(pages, pcap * sizeof *np);
            if (!np) {
                rc = -1;
                break;
            }
            pages = np;
        }
        pages[npages++] = pg;
    }
    if (rc < 0) optout_set_err(err, errlen, "%s: out of memory", w->path);
    if (d.n == 0) dict_pages = 0; /* no value: nothing to look up */
    if (rc == 0 && dict_pages) {
        w->page.len = 0;
        for (uint32_t e = 0; e < d.n; e++) {
            const uint8_t *v = cb->vals.data + d.entry[e];
            pq_buf_put(&w->page, v, 4 + (size_t)ba_len(v));
        }
        rc = write_page(w, &co, PQ_PAGE_DICT, d.n, PQ_ENC_PLAIN, err, errlen);
    }
    int bw = pq_bit_width(d.n > 1 ? d.n - 1 : 1);
    for (size_t i = 0; i < npages && rc == 0; i++) {
        const gen_page *pg = &pages[i];
        w->page.len = 0;
        uint32_t n = (uint32_t)(pg->k - pg->k0);
        if (cb->max_rep) put_levels(&w->page, cb->rep + pg->k0, n, cb->max_rep);
        if (cb->max_def) put_levels(&w->page, cb->def + pg->k0, n, cb->max_def);
        int enc = PQ_ENC_PLAIN;
        if (i < dict_pages) {
            enc = PQ_ENC_RLE_DICT;
            pq_buf_byte(&w->page, (uint8_t)bw);
            pq_rle_encode(&w->page, d.idx + pg->vfirst, pg->nv, bw);
        } else if (pg->nv && cb->type == PQ_BOOLEAN) {
            pq_encode_plain_bool(&w->page, cb->vals.data + pg->v0, pg->nv);
        } else if (pg->nv) {
            pq_buf_put(&w->page, cb->vals.data + pg->v0, pg->voff - pg->v0); /* (a null column has no buffer) */
        }
        rc = write_page(w, &co, PQ_PAGE_DATA, n, enc, err, errlen);
        co.num_values += n;
    }
    if (rc == 0) {
        int bounds = co.st.min.len <= GEN_STATS_MAX && co.st.max.len <= GEN_STATS_MAX;
        pq_stats in = {.has_min = bounds, .has_max = bounds, .has_nulls = 1};
        encode_chunk(w, t, &co, cb->type, cb->path, cb->depth, 1, &in);
    }
    free(pages);
    gen_dict_free(&d);
    pq_buf_free(&co.st.min);
    pq_buf_free(&co.st.max);
    return rc;
}

int pq_writer_generated_group(optout_pq_writer *w, const pq_colbuf *cols, int ncols, int64_t nrows, char *err,
                              size_t errlen) {
    if (nrows == 0) return 0;
    int64_t start = (int64_t)w->pos;
    w->chunks.len = 0;
    pq_tw t;
    pq_tw_init(&t, &w->chunks);
    for (int c = 0; c < ncols; c++)
        if (gen_column(w, &cols[c], &t, err, errlen) < 0) return -1;
    add_row_group(w, start, (uint32_t)ncols, nrows, NULL, 0);
    return 0;
}

void pq_schema_string(pq_tw *t) {
    pq_tw_i32(t, 6, PQ_CT_UTF8);
    pq_tw_struct_begin(t, 10);
    pq_tw_struct_begin(t, PQ_LT_STRING);
    pq_tw_struct_end(t);
    pq_tw_struct_end(t);
}

void pq_schema_list(pq_tw *t, const char *name) {
    pq_tw_elem_struct_begin(t);
    pq_tw_i32(t, 3, PQ_OPTIONAL);
    pq_tw_binary(t, 4, name, strlen(name));
    pq_tw_i32(t, 5, 1);
    pq_tw_i32(t, 6, PQ_CT_LIST);
    pq_tw_struct_begin(t, 10);
    pq_tw_struct_begin(t, PQ_LT_LIST);
    pq_tw_struct_end(t);
    pq_tw_struct_end(t);
    pq_tw_struct_end(t);
    pq_tw_elem_struct_begin(t);
    pq_tw_i32(t, 3, PQ_REPEATED);
    pq_tw_binary(t, 4, "list", 4);
    pq_tw_i32(t, 5, 1);
    pq_tw_struct_end(t);
}

void pq_schema_agents(pq_tw *t) {
    pq_schema_list(t, AGENTS_COLUMN);
    pq_tw_elem_struct_begin(t);
    pq_tw_i32(t, 1, PQ_BYTE_ARRAY);
    pq_tw_i32(t, 3, PQ_REQUIRED);
    pq_tw_binary(t, 4, "element", 7);
    pq_schema_string(t);
    pq_tw_struct_end(t);
}

/* The footer of a file with a generated schema: no key-value metadata of an input to carry. */
static void encode_generated_footer(optout_pq_writer *w, pq_buf *b) {
    pq_tw t;
    pq_tw_init(&t, b);
    pq_tw_i32(&t, 1, 1);
    pq_tw_list_begin(&t, 2, PQ_T_STRUCT, w->gen_nschema);
    pq_tw_elem_raw(&t, w->gen_schema.data, w->gen_schema.len);
    pq_tw_i64(&t, 3, w->rows);
    pq_tw_list_begin(&t, 4, PQ_T_STRUCT, w->nrgs);
    pq_tw_elem_raw(&t, w->rgs.data, w->rgs.len);
    const char *by = "optout version " OPTOUT_VERSION;
    pq_tw_binary(&t, 6, by, strlen(by));
    pq_tw_list_begin(&t, 7, PQ_T_STRUCT, (uint32_t)w->gen_nleaves);
    for (int i = 0; i < w->gen_nleaves; i++) {
        pq_tw_elem_struct_begin(&t);
        pq_tw_struct_begin(&t, 1);
        pq_tw_struct_end(&t);
        pq_tw_struct_end(&t);
    }
    pq_tw_stop(&t);
}

static void encode_footer(optout_pq_writer *w, pq_buf *b) {
    if (!w->in) {
        encode_generated_footer(w, b);
        return;
    }
    const pq_file_meta *m = &w->in->meta;
    int agents = w->o.agents_column;
    pq_tw t;
    pq_tw_init(&t, b);
    pq_tw_i32(&t, 1, m->version ? m->version : 1);
    pq_tw_list_begin(&t, 2, PQ_T_STRUCT, m->nschema + (agents ? 3u : 0u));
    /* the root as the input has it, with one more child for the agents column */
    const pq_schema_elem *root = &m->schema[0];
    pq_tw_elem_struct_begin(&t);
    if (root->repetition >= 0) pq_tw_i32(&t, 3, root->repetition);
    pq_tw_binary(&t, 4, root->name, strlen(root->name));
    pq_tw_i32(&t, 5, root->num_children + (agents ? 1 : 0));
    if (root->has_field_id) pq_tw_i32(&t, 9, root->field_id);
    pq_tw_struct_end(&t);
    for (uint32_t i = 1; i < m->nschema; i++) pq_tw_elem_raw(&t, m->schema[i].raw, m->schema[i].raw_len);
    if (agents) pq_schema_agents(&t);
    pq_tw_i64(&t, 3, w->rows);
    pq_tw_list_begin(&t, 4, PQ_T_STRUCT, w->nrgs);
    pq_tw_elem_raw(&t, w->rgs.data, w->rgs.len);
    /* the Arrow schema gets the agents column too; one that does not parse is left out, as it
     * would describe other columns than the file has */
    pq_buf arrow = {0};
    int arrow_ok = 0;
    uint32_t nkv = 0;
    for (uint32_t i = 0; i < m->nkv; i++) {
        int is_arrow = agents && strcmp(m->kv[i].key, "ARROW:schema") == 0;
        if (is_arrow && !arrow_ok && m->kv[i].has_value)
            arrow_ok = pq_arrow_schema_add_list(m->kv[i].value, m->kv[i].value_len, AGENTS_COLUMN, &arrow) == 0;
        nkv += !is_arrow || arrow_ok;
    }
    if (nkv) {
        pq_tw_list_begin(&t, 5, PQ_T_STRUCT, nkv);
        for (uint32_t i = 0; i < m->nkv; i++) {
            const pq_kv *kv = &m->kv[i];
            int is_arrow = agents && strcmp(kv->key, "ARROW:schema") == 0;
            if (is_arrow && !arrow_ok) continue;
            pq_tw_elem_struct_begin(&t);
            pq_tw_binary(&t, 1, kv->key, strlen(kv->key));
            if (is_arrow) pq_tw_binary(&t, 2, arrow.data, arrow.len);
            else if (kv->has_value) pq_tw_binary(&t, 2, kv->value, kv->value_len);
            pq_tw_struct_end(&t);
        }
    }
    pq_buf_free(&arrow);
    const char *by = "optout version " OPTOUT_VERSION;
    pq_tw_binary(&t, 6, by, strlen(by));
    /* every column's statistics use the type-defined sort order */
    uint32_t ncols = (uint32_t)w->in->nleaves + (agents ? 1u : 0u);
    pq_tw_list_begin(&t, 7, PQ_T_STRUCT, ncols);
    for (uint32_t i = 0; i < ncols; i++) {
        pq_tw_elem_struct_begin(&t);
        pq_tw_struct_begin(&t, 1);
        pq_tw_struct_end(&t);
        pq_tw_struct_end(&t);
    }
    pq_tw_stop(&t);
}

int optout_pq_writer_finish(optout_pq_writer *w, char *err, size_t errlen) {
    pq_buf footer = {0};
    encode_footer(w, &footer);
    uint8_t tail[8];
    uint32_t fl = (uint32_t)footer.len;
    for (int k = 0; k < 4; k++) tail[k] = (uint8_t)(fl >> (8 * k));
    memcpy(tail + 4, "PAR1", 4);
    int rc = 0;
    if (put_out(w, footer.data, footer.len, err, errlen) < 0 || put_out(w, tail, 8, err, errlen) < 0) rc = -1;
    pq_buf_free(&footer);
    if (rc == 0 && fflush(w->fp) != 0) rc = wfail(w, err, errlen, "write");
    if (rc == 0 && fsync(fileno(w->fp)) != 0) rc = wfail(w, err, errlen, "fsync");
    if (fclose(w->fp) != 0 && rc == 0) rc = wfail(w, err, errlen, "close");
    w->fp = NULL;
    optout_pq_writer_abort(w);
    return rc;
}
