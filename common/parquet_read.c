/* parquet_read.c — opening a Parquet file (footer checks, the schema tree with each leaf's
 * definition and repetition levels) and reading a column chunk page by page: page headers, CRCs,
 * decompression, levels and values decoded into arrays the caller walks. Also the projected
 * column reader the filter uses (a leaf, or one key of a string-keyed map, per row). */
#include "parquet_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "optout/parquet.h"
#include "optout/util.h"

#define PQ_MAX_FOOTER (256u << 20)
#define PQ_MAX_PAGE (1u << 30)
#define PQ_MAX_PAGE_VALUES (1u << 28)
#define PQ_MAX_SCHEMA_DEPTH 64

static int read_at(int fd, uint64_t off, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;
            return -1;
        }
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

/* read_at on the file, counted (optout_pq_bytes_read: what a projection costs). */
static int file_read(optout_pq_file *f, uint64_t off, void *buf, size_t len) {
    if (read_at(f->fd, off, buf, len) < 0) return -1;
    f->bytes_read += len;
    return 0;
}

static int chunk_fail(pq_chunk *c, char *err, size_t errlen, const char *what);
static int grow(uint8_t **p, size_t *cap, size_t need);
static void kept_free(pq_page_cache *k);

static int type_width(int type, int32_t type_length) {
    switch (type) {
    case PQ_BOOLEAN: return 1;
    case PQ_INT32:
    case PQ_FLOAT: return 4;
    case PQ_INT64:
    case PQ_DOUBLE: return 8;
    case PQ_INT96: return 12;
    case PQ_FIXED: return type_length;
    default: return 0;
    }
}

static const char *physical_name(int t) {
    static const char *const n[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                    "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? n[t] : "GROUP";
}

/* Builds nodes[i] for the element at *idx and its subtree (depth-first, as the schema list is). */
static int build_tree(optout_pq_file *f, uint32_t *idx, int parent, int depth, char *err, size_t errlen) {
    pq_file_meta *m = &f->meta;
    if (*idx >= m->nschema) {
        optout_set_err(err, errlen, "%s: footer: schema has fewer elements than its num_children say", f->path);
        return -1;
    }
    if (depth > PQ_MAX_SCHEMA_DEPTH) {
        optout_set_err(err, errlen, "%s: footer: schema nested deeper than %d", f->path, PQ_MAX_SCHEMA_DEPTH);
        return -1;
    }
    int me = (int)(*idx)++;
    pq_node *n = &f->nodes[me];
    const pq_schema_elem *e = &m->schema[me];
    n->e = e;
    n->parent = parent;
    n->leaf = -1;
    if (parent < 0) {
        n->def_level = n->rep_level = 0;
        n->path = strdup("");
    } else {
        const pq_node *p = &f->nodes[parent];
        n->def_level = p->def_level + (e->repetition == PQ_OPTIONAL || e->repetition == PQ_REPEATED);
        n->rep_level = p->rep_level + (e->repetition == PQ_REPEATED);
        size_t pl = strlen(p->path), nl = strlen(e->name);
        n->path = malloc(pl + nl + 2);
        if (n->path) {
            if (pl) {
                memcpy(n->path, p->path, pl);
                n->path[pl] = '.';
                memcpy(n->path + pl + 1, e->name, nl + 1);
            } else {
                memcpy(n->path, e->name, nl + 1);
            }
        }
    }
    if (!n->path) {
        optout_set_err(err, errlen, "%s: out of memory", f->path);
        return -1;
    }
    if (e->num_children == 0 && parent >= 0) {
        if (e->type < 0) {
            optout_set_err(err, errlen, "%s: footer: schema element %s is a group without children", f->path, n->path);
            return -1;
        }
        int w = type_width(e->type, e->type_length);
        if (e->type == PQ_FIXED && (e->type_length <= 0 || e->type_length > (1 << 20))) {
            optout_set_err(err, errlen, "%s: footer: column %s: FIXED_LEN_BYTE_ARRAY of length %d", f->path, n->path,
                           e->type_length);
            return -1;
        }
        pq_leaf *l = &f->leaves[f->nleaves];
        l->node = me;
        l->type = e->type;
        l->width = w;
        l->max_def = n->def_level;
        l->max_rep = n->rep_level;
        l->e = e;
        l->path = n->path;
        n->leaf = f->nleaves++;
        return 0;
    }
    n->first_child = (int)*idx;
    n->nchildren = e->num_children;
    for (int32_t c = 0; c < e->num_children; c++)
        if (build_tree(f, idx, me, depth + 1, err, errlen) < 0) return -1;
    return 0;
}

optout_pq_file *optout_pq_open(const char *path, char *err, size_t errlen) {
    optout_pq_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        optout_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        optout_set_err(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    f->size = (uint64_t)st.st_size;
    uint8_t head[4], tail[8];
    if (f->size < 12 || file_read(f, 0, head, 4) < 0 || file_read(f, f->size - 8, tail, 8) < 0) {
        optout_set_err(err, errlen, "%s: not a Parquet file (%llu bytes: too short for magic and footer)", path,
                       (unsigned long long)f->size);
        goto fail;
    }
    if (memcmp(tail + 4, "PARE", 4) == 0) {
        optout_set_err(err, errlen, "%s: encrypted Parquet file (encrypted footer): not supported", path);
        goto fail;
    }
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
        optout_set_err(err, errlen, "%s: not a Parquet file (no PAR1 magic at %s)", path,
                       memcmp(head, "PAR1", 4) ? "the start" : "the end");
        goto fail;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if ((uint64_t)flen + 12 > f->size) {
        optout_set_err(err, errlen, "%s: footer length %u past the file (%llu bytes)", path, flen,
                       (unsigned long long)f->size);
        goto fail;
    }
    if (flen > PQ_MAX_FOOTER) {
        optout_set_err(err, errlen, "%s: footer of %u bytes is larger than the %u supported", path, flen,
                       PQ_MAX_FOOTER);
        goto fail;
    }
    uint8_t *fb = malloc(flen ? flen : 1);
    if (!fb || file_read(f, f->size - 8 - flen, fb, flen) < 0) {
        free(fb);
        optout_set_err(err, errlen, "%s: reading the footer: %s", path, strerror(errno));
        goto fail;
    }
    char e2[300];
    if (pq_meta_decode(&f->meta, fb, flen, e2, sizeof e2) < 0) {
        optout_set_err(err, errlen, "%s: %s", path, e2);
        goto fail;
    }
    if (f->meta.encrypted) {
        optout_set_err(err, errlen, "%s: encrypted Parquet file (plaintext footer): not supported", path);
        goto fail;
    }
    f->nodes = calloc(f->meta.nschema, sizeof *f->nodes);
    f->leaves = calloc(f->meta.nschema, sizeof *f->leaves);
    if (!f->nodes || !f->leaves) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    uint32_t idx = 0;
    if (build_tree(f, &idx, -1, 0, err, errlen) < 0) goto fail;
    if (idx != f->meta.nschema) {
        optout_set_err(err, errlen, "%s: footer: schema has %u elements, its tree %u", path, f->meta.nschema, idx);
        goto fail;
    }
    uint64_t data_end = f->size - 8 - flen;
    for (uint32_t g = 0; g < f->meta.nrgs; g++) {
        const pq_row_group *rg = &f->meta.rgs[g];
        if ((int)rg->ncols != f->nleaves) {
            optout_set_err(err, errlen, "%s: row group %u has %u column chunks for %d columns", path, g, rg->ncols,
                           f->nleaves);
            goto fail;
        }
        for (int c = 0; c < f->nleaves; c++) {
            const pq_chunk_meta *cm = &rg->cols[c];
            const char *cp = f->leaves[c].path;
            if (cm->encrypted) {
                optout_set_err(err, errlen, "%s: row group %u, column %s: encrypted column: not supported", path, g,
                               cp);
                goto fail;
            }
            if (cm->has_file_path) {
                optout_set_err(err, errlen, "%s: row group %u, column %s: column data in another file: not supported",
                               path, g, cp);
                goto fail;
            }
            if (cm->type != f->leaves[c].type) {
                optout_set_err(err, errlen, "%s: row group %u, column %s: chunk type %d differs from the schema's %s",
                               path, g, cp, cm->type, physical_name(f->leaves[c].type));
                goto fail;
            }
            int64_t start = cm->data_page_offset;
            if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
                start = cm->dictionary_page_offset;
            /* a chunk without values is never read: some writers leave its offsets at 0 */
            if (cm->num_values > 0 && (start < 4 || cm->total_compressed < 0 || (uint64_t)start > data_end ||
                                       (uint64_t)cm->total_compressed > data_end - (uint64_t)start)) {
                optout_set_err(err, errlen, "%s: row group %u, column %s: column chunk [%lld, +%lld) outside the data",
                               path, g, cp, (long long)start, (long long)cm->total_compressed);
                goto fail;
            }
            if (cm->num_values < 0) {
                optout_set_err(err, errlen, "%s: row group %u, column %s: negative num_values", path, g, cp);
                goto fail;
            }
        }
    }
    return f;
fail:
    optout_pq_close(f);
    return NULL;
}

void optout_pq_close(optout_pq_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    if (f->nodes)
        for (uint32_t i = 0; i < f->meta.nschema; i++) free(f->nodes[i].path);
    free(f->nodes);
    free(f->leaves);
    kept_free(&f->kept);
    pq_meta_free(&f->meta);
    free(f->path);
    free(f);
}

const char *optout_pq_path(const optout_pq_file *f) { return f->path; }
int64_t optout_pq_num_rows(const optout_pq_file *f) { return f->meta.num_rows; }
int optout_pq_num_row_groups(const optout_pq_file *f) { return (int)f->meta.nrgs; }
int64_t optout_pq_row_group_rows(const optout_pq_file *f, int rg) { return f->meta.rgs[rg].num_rows; }
int optout_pq_num_columns(const optout_pq_file *f) { return f->nleaves; }
const char *optout_pq_column_path(const optout_pq_file *f, int i) { return f->leaves[i].path; }
int optout_pq_num_kv(const optout_pq_file *f) { return (int)f->meta.nkv; }
uint64_t optout_pq_bytes_read(const optout_pq_file *f) { return f->bytes_read; }
uint64_t optout_pq_pages_decompressed(const optout_pq_file *f) { return f->pages_decompressed; }
void optout_pq_page_limit(optout_pq_file *f, uint64_t bytes) { f->page_limit = bytes; }

static void kept_clear(pq_page_cache *k) {
    for (size_t i = 0; i < k->n; i++) free(k->pages[i].data);
    k->n = k->bytes = 0;
}

static void kept_free(pq_page_cache *k) {
    kept_clear(k);
    for (size_t i = 0; i < k->nspare; i++) free(k->spare[i].data);
    k->nspare = 0;
    free(k->pages);
}

void optout_pq_keep_pages(optout_pq_file *f, size_t bytes) {
    kept_clear(&f->kept);
    if (bytes == 0) kept_free(&f->kept), memset(&f->kept, 0, sizeof f->kept);
    f->kept.limit = bytes < OPTOUT_PQ_KEEP_PAGES_MAX ? bytes : OPTOUT_PQ_KEEP_PAGES_MAX;
}

/* Hands the chunk's decompressed page (data, len bytes) to the cache when it fits. */
static void kept_put(pq_chunk *c, size_t len) {
    pq_page_cache *k = &c->f->kept;
    if (k->rg != c->rg || k->col != c->col) {
        kept_clear(k);
        k->rg = c->rg;
        k->col = c->col;
    }
    if (k->bytes + c->data_cap > k->limit) return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        pq_kept_page *p = realloc(k->pages, cap * sizeof *p);
        if (!p) return; /* not kept: decompressed again */
        k->pages = p;
        k->cap = cap;
    }
    k->pages[k->n++] = (pq_kept_page){.off = c->page_off, .data = c->data, .len = len, .cap = c->data_cap};
    k->bytes += c->data_cap;
    c->data = NULL;
    c->data_cap = 0;
    if (k->nspare) { /* a buffer the writer gave back: no new allocation (and page faults) per page */
        pq_kept_page *sp = &k->spare[--k->nspare];
        c->data = sp->data;
        c->data_cap = sp->cap;
    }
}

/* Takes the kept page of the chunk's current page into c->data when there is one (len bytes). */
static int kept_take(pq_chunk *c, size_t len) {
    pq_page_cache *k = &c->f->kept;
    if (k->n == 0 || k->rg != c->rg || k->col != c->col) return 0;
    for (size_t i = 0; i < k->n; i++) {
        pq_kept_page *p = &k->pages[i];
        if (p->off != c->page_off || !p->data) continue;
        if (p->len != len) return 0;
        if (c->data && k->nspare < sizeof k->spare / sizeof k->spare[0])
            k->spare[k->nspare++] = (pq_kept_page){.data = c->data, .cap = c->data_cap};
        else free(c->data);
        c->data = p->data;
        c->data_cap = p->cap;
        k->bytes -= p->cap;
        p->data = NULL;
        return 1;
    }
    return 0;
}

/* Decompresses a data page's (values) bytes into c->data (len bytes), or takes them kept. */
static int page_data(pq_chunk *c, int codec, const uint8_t *src, size_t src_len, size_t len, char *err, size_t errlen) {
    if (kept_take(c, len)) return 0;
    if (grow(&c->data, &c->data_cap, len + 1) < 0) return chunk_fail(c, err, errlen, "out of memory");
    char e2[300];
    if (pq_decompress(codec, src, src_len, c->data, len, e2, sizeof e2) < 0) return chunk_fail(c, err, errlen, e2);
    c->f->pages_decompressed++;
    return 0;
}

void optout_pq_kv(const optout_pq_file *f, int i, const char **key, const uint8_t **value, size_t *value_len) {
    const pq_kv *kv = &f->meta.kv[i];
    *key = kv->key;
    *value = kv->has_value ? kv->value : NULL;
    *value_len = kv->value_len;
}

void optout_pq_column_describe(const optout_pq_file *f, int i, char *buf, size_t len) {
    const pq_leaf *l = &f->leaves[i];
    const pq_schema_elem *e = l->e;
    static const char *const units[] = {"?", "MILLIS", "MICROS", "NANOS"};
    static const char *const reps[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
    char lt[64];
    switch (e->logical) {
    case PQ_LT_STRING: snprintf(lt, sizeof lt, "STRING"); break;
    case PQ_LT_ENUM: snprintf(lt, sizeof lt, "ENUM"); break;
    case PQ_LT_JSON: snprintf(lt, sizeof lt, "JSON"); break;
    case PQ_LT_BSON: snprintf(lt, sizeof lt, "BSON"); break;
    case PQ_LT_UUID: snprintf(lt, sizeof lt, "UUID"); break;
    case PQ_LT_DATE: snprintf(lt, sizeof lt, "DATE"); break;
    case PQ_LT_FLOAT16: snprintf(lt, sizeof lt, "FLOAT16"); break;
    case PQ_LT_DECIMAL: snprintf(lt, sizeof lt, "DECIMAL(%d,%d)", e->precision, e->scale); break;
    case PQ_LT_INTEGER:
        snprintf(lt, sizeof lt, "INT(%d,%s)", e->int_bits, e->int_signed ? "signed" : "unsigned");
        break;
    case PQ_LT_TIME:
    case PQ_LT_TIMESTAMP:
        snprintf(lt, sizeof lt, "%s(%s,%s)", e->logical == PQ_LT_TIME ? "TIME" : "TIMESTAMP", units[e->time_unit & 3],
                 e->utc ? "UTC" : "local");
        break;
    case PQ_LT_NONE: snprintf(lt, sizeof lt, "NONE"); break;
    default: snprintf(lt, sizeof lt, "LOGICAL(%d)", e->logical);
    }
    int r = e->repetition >= 0 && e->repetition <= 2 ? e->repetition : 0;
    snprintf(buf, len, "%s\t%s\t%s\t%s", l->path, physical_name(l->type), lt, reps[r]);
}

/* ---- column chunks ------------------------------------------------------------------------- */

void pq_chunk_where(const pq_chunk *c, char *buf, size_t len) {
    snprintf(buf, len, "%s: row group %d, column %s, page %d", c->f->path, c->rg, c->leaf->path, c->page_no);
}

static int chunk_fail(pq_chunk *c, char *err, size_t errlen, const char *what) {
    char w[512];
    pq_chunk_where(c, w, sizeof w);
    optout_set_err(err, errlen, "%s: %s", w, what);
    return -1;
}

int pq_chunk_open(pq_chunk *c, optout_pq_file *f, int rg, int col, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    memset(c, 0, sizeof *c);
    c->f = f;
    c->rg = rg;
    c->col = col;
    c->leaf = &f->leaves[col];
    c->cm = &f->meta.rgs[rg].cols[col];
    int64_t start = c->cm->data_page_offset;
    if (c->cm->dictionary_page_offset > 0 && c->cm->dictionary_page_offset < start)
        start = c->cm->dictionary_page_offset;
    c->pos = (uint64_t)start;
    c->end = (uint64_t)start + (uint64_t)c->cm->total_compressed; /* checked at open */
    c->page_no = -1;
    return 0;
}

void pq_chunk_close(pq_chunk *c) {
    pq_buf_free(&c->hbuf);
    pq_buf_free(&c->raw);
    free(c->data);
    free(c->arena);
    free(c->dict_data);
    free(c->dict_fixed);
    free(c->dict_ba);
    free(c->dict_arena);
    free(c->rep);
    free(c->def);
    free(c->idx);
    free(c->fixed);
    free(c->ba);
    memset(c, 0, sizeof *c);
}

uint64_t pq_chunk_bytes(const pq_chunk *c) {
    uint64_t w = (uint64_t)(c->leaf && c->leaf->width ? c->leaf->width : 1);
    uint64_t n = (uint64_t)c->hbuf.cap + c->raw.cap + c->data_cap + (uint64_t)c->rep_cap * sizeof *c->rep +
                 (uint64_t)c->def_cap * sizeof *c->def + (uint64_t)c->idx_cap * sizeof *c->idx +
                 (uint64_t)c->ba_cap * sizeof *c->ba + (uint64_t)c->fixed_cap * w;
    if (c->has_dict)
        n += c->dict_len + (uint64_t)c->dict_n * (c->dict_ba ? sizeof *c->dict_ba : w);
    return n;
}

/* An array of *cap elements of `size` bytes with room for n + 1: p, or a new one at least twice as
 * large (p freed; its contents are not kept), or NULL when out of memory (p freed, *cap 0). */
static void *array_room(void *p, size_t *cap, uint32_t n, size_t size) {
    if ((size_t)n + 1 <= *cap) return p;
    size_t want = *cap * 2 > (size_t)n + 1 ? *cap * 2 : (size_t)n + 1;
    free(p);
    void *q = malloc(want * (size ? size : 1));
    *cap = q ? want : 0;
    return q;
}

static int grow(uint8_t **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    uint8_t *q = realloc(*p, n);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Reads the next page header at c->pos into c->hdr; *hlen its size. */
static int read_header(pq_chunk *c, size_t *hlen, char *err, size_t errlen) {
    uint64_t left = c->end - c->pos;
    size_t win = left < 4096 ? (size_t)left : 4096;
    for (;;) {
        c->hbuf.len = 0;
        pq_buf_reserve(&c->hbuf, win);
        if (file_read(c->f, c->pos, c->hbuf.data, win) < 0) return chunk_fail(c, err, errlen, strerror(errno));
        char e2[300];
        int r = pq_page_header_decode(&c->hdr, c->hbuf.data, win, hlen, e2, sizeof e2);
        if (r == 0) return 0;
        if (r < 0) return chunk_fail(c, err, errlen, e2);
        if (win == left) return chunk_fail(c, err, errlen, "page header: truncated at the end of the column chunk");
        win = left / 4 < win ? (size_t)left : win * 4;
        if (win > left) win = (size_t)left;
    }
}

static int decode_levels_v1(pq_chunk *c, const uint8_t **pp, const uint8_t *end, int enc, int max, uint32_t *out,
                            char *err, size_t errlen) {
    int width = pq_bit_width((uint64_t)max);
    char e2[300];
    const uint8_t *p = *pp;
    if (enc == PQ_ENC_RLE) {
        if (end - p < 4) return chunk_fail(c, err, errlen, "levels: truncated length");
        uint32_t l = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        if (l > (size_t)(end - p)) return chunk_fail(c, err, errlen, "levels: length past the page");
        if (pq_rle_decode(p, l, width, c->n, out, max, e2, sizeof e2) < 0) return chunk_fail(c, err, errlen, e2);
        *pp = p + l;
        return 0;
    }
    if (enc == PQ_ENC_BIT_PACKED) {
        size_t used;
        if (pq_bitpacked_msb_decode(p, (size_t)(end - p), width, c->n, out, &used, e2, sizeof e2) < 0)
            return chunk_fail(c, err, errlen, e2);
        for (uint32_t i = 0; i < c->n; i++)
            if (out[i] > (uint32_t)max) return chunk_fail(c, err, errlen, "levels: value above the maximum level");
        *pp = p + used;
        return 0;
    }
    char m[80];
    snprintf(m, sizeof m, "unsupported level encoding %d", enc);
    return chunk_fail(c, err, errlen, m);
}

/* Decodes `n` values of encoding enc from [p, end) into fixed/ba (the page's or the dictionary's). */
static int decode_values(pq_chunk *c, const uint8_t *p, size_t len, int enc, uint32_t n, uint8_t *fixed, pq_bytes *ba,
                         uint8_t **arena, char *err, size_t errlen) {
    const pq_leaf *l = c->leaf;
    char e2[300];
    int rc = 0;
    switch (enc) {
    case PQ_ENC_PLAIN:
        rc = l->type == PQ_BYTE_ARRAY ? pq_decode_plain_ba(p, len, n, ba, e2, sizeof e2)
                                      : pq_decode_plain_fixed(p, len, l->type, l->width, n, fixed, e2, sizeof e2);
        break;
    case PQ_ENC_RLE:
        if (l->type != PQ_BOOLEAN) {
            snprintf(e2, sizeof e2, "RLE values on a %s column", physical_name(l->type));
            rc = -1;
            break;
        }
        {
            if (len < 4) {
                snprintf(e2, sizeof e2, "RLE booleans: truncated length");
                rc = -1;
                break;
            }
            uint32_t bl = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            if (bl > len - 4) {
                snprintf(e2, sizeof e2, "RLE booleans: length past the page");
                rc = -1;
                break;
            }
            uint32_t *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
            if (!tmp) return chunk_fail(c, err, errlen, "out of memory");
            rc = pq_rle_decode(p + 4, bl, 1, n, tmp, 1, e2, sizeof e2);
            for (uint32_t i = 0; rc == 0 && i < n; i++) fixed[i] = (uint8_t)tmp[i];
            free(tmp);
        }
        break;
    case PQ_ENC_DELTA_BINARY: rc = pq_decode_delta_binary(p, len, l->type, n, fixed, NULL, e2, sizeof e2); break;
    case PQ_ENC_DELTA_LENGTH:
        if (l->type != PQ_BYTE_ARRAY) {
            snprintf(e2, sizeof e2, "DELTA_LENGTH_BYTE_ARRAY on a %s column", physical_name(l->type));
            rc = -1;
            break;
        }
        rc = pq_decode_delta_length(p, len, n, ba, e2, sizeof e2);
        break;
    case PQ_ENC_DELTA_BYTE_ARRAY:
        if (l->type != PQ_BYTE_ARRAY && l->type != PQ_FIXED) {
            snprintf(e2, sizeof e2, "DELTA_BYTE_ARRAY on a %s column", physical_name(l->type));
            rc = -1;
            break;
        }
        free(*arena);
        *arena = NULL;
        if (l->type == PQ_BYTE_ARRAY) {
            rc = pq_decode_delta_byte_array(p, len, n, ba, arena, e2, sizeof e2);
        } else {
            pq_bytes *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
            if (!tmp) return chunk_fail(c, err, errlen, "out of memory");
            rc = pq_decode_delta_byte_array(p, len, n, tmp, arena, e2, sizeof e2);
            for (uint32_t i = 0; rc == 0 && i < n; i++) {
                if (tmp[i].len != (uint32_t)l->width) {
                    snprintf(e2, sizeof e2, "DELTA_BYTE_ARRAY value of %u bytes in a FIXED_LEN_BYTE_ARRAY(%d)",
                             tmp[i].len, l->width);
                    rc = -1;
                } else {
                    memcpy(fixed + (size_t)i * (size_t)l->width, tmp[i].p, tmp[i].len);
                }
            }
            free(tmp);
        }
        break;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        if (l->type == PQ_BYTE_ARRAY || l->type == PQ_BOOLEAN || l->type == PQ_INT96) {
            snprintf(e2, sizeof e2, "BYTE_STREAM_SPLIT on a %s column", physical_name(l->type));
            rc = -1;
            break;
        }
        rc = pq_decode_byte_stream_split(p, len, l->width, n, fixed, e2, sizeof e2);
        break;
    default: snprintf(e2, sizeof e2, "unsupported encoding %d", enc); rc = -1;
    }
    if (rc < 0) return chunk_fail(c, err, errlen, e2);
    return 0;
}

static int load_dictionary(pq_chunk *c, const uint8_t *page, char *err, size_t errlen) {
    const pq_page_header *h = &c->hdr;
    if (c->has_dict) return chunk_fail(c, err, errlen, "a second dictionary page in one column chunk");
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICT)
        return chunk_fail(c, err, errlen, "dictionary page not PLAIN-encoded");
    if ((uint32_t)h->num_values > PQ_MAX_PAGE_VALUES) return chunk_fail(c, err, errlen, "dictionary too large");
    char e2[300];
    size_t ulen = (size_t)h->uncompressed_size;
    c->dict_data = malloc(ulen ? ulen : 1);
    if (!c->dict_data) return chunk_fail(c, err, errlen, "out of memory");
    if (pq_decompress(c->cm->codec, page, (size_t)h->compressed_size, c->dict_data, ulen, e2, sizeof e2) < 0)
        return chunk_fail(c, err, errlen, e2);
    uint32_t n = (uint32_t)h->num_values;
    if (c->leaf->type == PQ_BYTE_ARRAY) {
        /* each value takes at least its 4-byte length */
        if ((size_t)n > ulen / 4 + 1) return chunk_fail(c, err, errlen, "dictionary: more values than bytes");
        c->dict_ba = malloc(((size_t)n + 1) * sizeof *c->dict_ba);
        if (!c->dict_ba) return chunk_fail(c, err, errlen, "out of memory");
    } else {
        if ((size_t)n * (size_t)c->leaf->width > ulen * 8 + 8)
            return chunk_fail(c, err, errlen, "dictionary: more values than bytes");
        c->dict_fixed = malloc((size_t)n * (size_t)c->leaf->width + 1);
        if (!c->dict_fixed) return chunk_fail(c, err, errlen, "out of memory");
    }
    if (decode_values(c, c->dict_data, ulen, PQ_ENC_PLAIN, n, c->dict_fixed, c->dict_ba, &c->dict_arena, err, errlen) <
        0)
        return -1;
    c->dict_n = n;
    c->dict_len = ulen;
    c->has_dict = 1;
    return 0;
}

static int decode_data_page(pq_chunk *c, const uint8_t *page, char *err, size_t errlen) {
    const pq_page_header *h = &c->hdr;
    const pq_leaf *l = c->leaf;
    char e2[300];
    uint32_t n = (uint32_t)h->num_values;
    int64_t remaining = c->cm->num_values - c->values_seen;
    if (n > PQ_MAX_PAGE_VALUES || (int64_t)n > remaining)
        return chunk_fail(c, err, errlen, "page holds more values than its column chunk");
    c->n = n;
    size_t ulen = (size_t)h->uncompressed_size, clen = (size_t)h->compressed_size;
    /* only the levels the column has (a flat required column: none) */
    if ((l->max_rep > 0 && !(c->rep = array_room(c->rep, &c->rep_cap, n, sizeof *c->rep))) ||
        (l->max_def > 0 && !(c->def = array_room(c->def, &c->def_cap, n, sizeof *c->def))))
        return chunk_fail(c, err, errlen, "out of memory");
    const uint8_t *vals;
    size_t vlen;
    if (h->type == PQ_PAGE_DATA) {
        if (page_data(c, c->cm->codec, page, clen, ulen, err, errlen) < 0) return -1;
        const uint8_t *p = c->data, *end = c->data + ulen;
        if (l->max_rep > 0 && decode_levels_v1(c, &p, end, h->rep_encoding, l->max_rep, c->rep, err, errlen) < 0)
            return -1;
        if (l->max_def > 0 && decode_levels_v1(c, &p, end, h->def_encoding, l->max_def, c->def, err, errlen) < 0)
            return -1;
        vals = p;
        vlen = (size_t)(end - p);
    } else {
        size_t rl = (size_t)h->rep_len, dl = (size_t)h->def_len;
        if (rl + dl > clen || rl + dl > ulen) return chunk_fail(c, err, errlen, "levels longer than the page");
        if (l->max_rep > 0) {
            if (pq_rle_decode(page, rl, pq_bit_width((uint64_t)l->max_rep), n, c->rep, l->max_rep, e2, sizeof e2) < 0)
                return chunk_fail(c, err, errlen, e2);
        }
        if (l->max_def > 0) {
            if (pq_rle_decode(page + rl, dl, pq_bit_width((uint64_t)l->max_def), n, c->def, l->max_def, e2, sizeof e2) <
                0)
                return chunk_fail(c, err, errlen, e2);
        }
        size_t vul = ulen - rl - dl, vcl = clen - rl - dl;
        int codec = h->is_compressed ? c->cm->codec : PQ_CODEC_NONE;
        if (page_data(c, codec, page + rl + dl, vcl, vul, err, errlen) < 0) return -1;
        vals = c->data;
        vlen = vul;
    }
    uint32_t nv = n;
    if (l->max_def > 0) {
        nv = 0;
        for (uint32_t i = 0; i < n; i++) nv += c->def[i] == (uint32_t)l->max_def;
    }
    if (l->max_rep > 0 && n > 0 && c->values_seen == 0 && c->rep[0] != 0)
        return chunk_fail(c, err, errlen, "column chunk does not start at a row (repetition level not 0)");
    c->nvals = nv;
    c->is_dict = h->encoding == PQ_ENC_RLE_DICT || h->encoding == PQ_ENC_PLAIN_DICT;
    /* only the array this page's values land in: indices, byte arrays or fixed-width values (a
     * dictionary-encoded page of 17-bit indices holds half a million values a MiB) */
    int ok = c->is_dict                   ? (c->idx = array_room(c->idx, &c->idx_cap, nv, sizeof *c->idx)) != NULL
             : l->type == PQ_BYTE_ARRAY ? (c->ba = array_room(c->ba, &c->ba_cap, nv, sizeof *c->ba)) != NULL
                                        : (c->fixed = array_room(c->fixed, &c->fixed_cap, nv, (size_t)l->width)) != NULL;
    if (!ok) return chunk_fail(c, err, errlen, "out of memory");
    if (c->is_dict) {
        if (!c->has_dict) return chunk_fail(c, err, errlen, "dictionary-encoded page without a dictionary page");
        if (nv > 0) {
            if (vlen < 1) return chunk_fail(c, err, errlen, "dictionary indices: missing bit width");
            int w = vals[0];
            if (w > 32) return chunk_fail(c, err, errlen, "dictionary indices: bit width above 32");
            if (c->dict_n == 0) return chunk_fail(c, err, errlen, "dictionary index out of range (empty dictionary)");
            if (pq_rle_decode(vals + 1, vlen - 1, w, nv, c->idx, (int64_t)c->dict_n - 1, e2, sizeof e2) < 0) {
                char m[400];
                snprintf(m, sizeof m, "dictionary indices: %s", e2);
                return chunk_fail(c, err, errlen, m);
            }
        }
    } else if (decode_values(c, vals, vlen, h->encoding, nv, c->fixed, c->ba, &c->arena, err, errlen) < 0) {
        return -1;
    }
    c->values_seen += n;
    return 0;
}

int pq_chunk_next(pq_chunk *c, char *err, size_t errlen) {
    if (c->keep_pages && c->page_ready && c->data) /* the previous page's values are no longer used */
        kept_put(c, c->hdr.type == PQ_PAGE_DATA
                        ? (size_t)c->hdr.uncompressed_size
                        : (size_t)c->hdr.uncompressed_size - (size_t)c->hdr.rep_len - (size_t)c->hdr.def_len);
    c->page_ready = 0;
    for (;;) {
        if (c->values_seen >= c->cm->num_values || c->pos >= c->end) {
            if (c->values_seen < c->cm->num_values) {
                c->page_no++;
                return chunk_fail(c, err, errlen, "column chunk ends before all its values");
            }
            return 0;
        }
        c->page_no++;
        c->page_off = c->pos;
        size_t hlen;
        if (read_header(c, &hlen, err, errlen) < 0) return -1;
        c->pos += hlen;
        const pq_page_header *h = &c->hdr;
        if ((uint64_t)h->compressed_size > c->end - c->pos)
            return chunk_fail(c, err, errlen, "page runs past the end of the column chunk");
        if ((uint32_t)h->uncompressed_size > PQ_MAX_PAGE || (uint32_t)h->compressed_size > PQ_MAX_PAGE)
            return chunk_fail(c, err, errlen, "page larger than 1 GiB");
        if (c->f->page_limit &&
            (uint64_t)(uint32_t)h->uncompressed_size + (uint32_t)h->compressed_size > c->f->page_limit) {
            char m[200];
            snprintf(m, sizeof m,
                     "a page of %d bytes (%d compressed) does not fit the %llu bytes the memory budget "
                     "leaves a page",
                     h->uncompressed_size, h->compressed_size, (unsigned long long)c->f->page_limit);
            return chunk_fail(c, err, errlen, m);
        }
        c->raw.len = 0;
        pq_buf_reserve(&c->raw, (size_t)h->compressed_size + 1);
        if (file_read(c->f, c->pos, c->raw.data, (size_t)h->compressed_size) < 0)
            return chunk_fail(c, err, errlen, strerror(errno));
        c->pos += (uint64_t)h->compressed_size;
        if (h->has_crc && (h->type == PQ_PAGE_DATA || h->type == PQ_PAGE_DATA_V2 || h->type == PQ_PAGE_DICT)) {
            uint32_t crc = (uint32_t)crc32(0L, c->raw.data, (uInt)h->compressed_size);
            if (crc != h->crc) {
                char m[120];
                snprintf(m, sizeof m, "page CRC mismatch (header %08x, data %08x)", h->crc, crc);
                return chunk_fail(c, err, errlen, m);
            }
        }
        switch (h->type) {
        case PQ_PAGE_DICT:
            if (load_dictionary(c, c->raw.data, err, errlen) < 0) return -1;
            continue;
        case PQ_PAGE_DATA:
        case PQ_PAGE_DATA_V2:
            if (decode_data_page(c, c->raw.data, err, errlen) < 0) return -1;
            c->page_ready = 1;
            return 1;
        default: continue; /* index pages and unknown page types carry nothing the rows need */
        }
    }
}

/* ---- projected columns --------------------------------------------------------------------- */

static int find_leaf(const optout_pq_file *f, const char *path) {
    for (int i = 0; i < f->nleaves; i++)
        if (strcmp(f->leaves[i].path, path) == 0) return i;
    return -1;
}

/* The value of entry k (a non-null value, index vi among the page's values) as an optout_pq_value;
 * byte arrays are copied into arena (their offset stored in u.i until the column is complete). */
static void to_value(const pq_chunk *c, uint32_t vi, optout_pq_value *v, pq_buf *arena) {
    const pq_leaf *l = c->leaf;
    const pq_schema_elem *e = l->e;
    const uint8_t *fx;
    pq_bytes b;
    pq_chunk_value(c, vi, &fx, &b);
    switch (l->type) {
    case PQ_BOOLEAN:
        v->kind = OPTOUT_PQ_BOOL;
        v->u.i = fx[0] != 0;
        return;
    case PQ_INT32: {
        int32_t x;
        memcpy(&x, fx, 4);
        v->kind = OPTOUT_PQ_INT;
        v->u.i = (e->logical == PQ_LT_INTEGER && !e->int_signed) ? (int64_t)(uint32_t)x : x;
        if (e->logical == PQ_LT_DATE) {
            v->kind = OPTOUT_PQ_TIME_MS;
            v->u.i = (int64_t)x * 86400000;
        }
        return;
    }
    case PQ_INT64: {
        int64_t x;
        memcpy(&x, fx, 8);
        v->kind = OPTOUT_PQ_INT;
        v->u.i = x;
        if (e->logical == PQ_LT_INTEGER && !e->int_signed && x < 0) {
            v->kind = OPTOUT_PQ_DOUBLE;
            v->u.d = (double)(uint64_t)x;
        } else if (e->logical == PQ_LT_TIMESTAMP) {
            int64_t div = e->time_unit == PQ_UNIT_MICROS ? 1000 : e->time_unit == PQ_UNIT_NANOS ? 1000000 : 1;
            v->kind = OPTOUT_PQ_TIME_MS;
            v->u.i = x / div - (x % div < 0); /* floor */
        }
        return;
    }
    case PQ_INT96: {
        int64_t nanos, days = pq_int96_days(fx, &nanos);
        v->kind = OPTOUT_PQ_TIME_MS;
        v->u.i = days * 86400000 + nanos / 1000000 - (nanos % 1000000 < 0);
        return;
    }
    case PQ_FLOAT: {
        float x;
        memcpy(&x, fx, 4);
        v->kind = OPTOUT_PQ_DOUBLE;
        v->u.d = x;
        return;
    }
    case PQ_DOUBLE:
        v->kind = OPTOUT_PQ_DOUBLE;
        memcpy(&v->u.d, fx, 8);
        return;
    default:
        v->kind = OPTOUT_PQ_BYTES;
        v->len = b.len;
        v->u.i = (int64_t)arena->len;
        pq_buf_put(arena, b.p, b.len);
        pq_buf_byte(arena, 0); /* NUL-terminated for callers that want C strings */
    }
}

static void finish_column(optout_pq_column *out, pq_buf *arena) {
    out->arena_ = (char *)arena->data;
    out->bytes = (out->n + 1) * sizeof *out->v + arena->cap;
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].kind == OPTOUT_PQ_BYTES) out->v[i].u.s = out->arena_ + out->v[i].u.i;
}

static int read_leaf(optout_pq_file *f, int rg, int li, optout_pq_column *out, char *err, size_t errlen) {
    int64_t rows = f->meta.rgs[rg].num_rows;
    pq_chunk c;
    pq_chunk_open(&c, f, rg, li, err, errlen);
    pq_buf arena = {0};
    out->v = calloc((size_t)rows + 1, sizeof *out->v);
    if (!out->v) {
        optout_set_err(err, errlen, "%s: row group %d: out of memory", f->path, rg);
        return -1;
    }
    size_t row = 0;
    int r;
    while ((r = pq_chunk_next(&c, err, errlen)) > 0) {
        uint32_t vi = 0;
        for (uint32_t k = 0; k < c.n; k++) {
            if (row >= (size_t)rows) {
                r = chunk_fail(&c, err, errlen, "more values than the row group has rows");
                goto done;
            }
            if (c.leaf->max_def == 0 || c.def[k] == (uint32_t)c.leaf->max_def) to_value(&c, vi++, &out->v[row], &arena);
            row++;
        }
    }
    if (r == 0 && row != (size_t)rows) r = chunk_fail(&c, err, errlen, "fewer values than the row group has rows");
done:
    pq_chunk_close(&c);
    out->n = row;
    finish_column(out, &arena);
    if (r < 0) {
        optout_pq_column_free(out);
        return -1;
    }
    return 0;
}

/* Bytes that are not UTF-8 continuation bytes (10xxxxxx), eight at a time. */
static uint64_t utf8_chars(const uint8_t *p, uint32_t len) {
    uint64_t cont = 0;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        cont += (uint64_t)__builtin_popcountll(w & ~(w << 1) & 0x8080808080808080ull);
    }
    for (; i < len; i++) cont += (p[i] & 0xC0) == 0x80;
    return len - cont;
}

int optout_pq_read_sizes(optout_pq_file *f, int rg, const char *path, optout_pq_size *out, char *err,
                         size_t errlen) {
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) {
        optout_set_err(err, errlen, "%s: no row group %d", f->path, rg);
        return -1;
    }
    int li = find_leaf(f, path);
    if (li < 0) return 1;
    if (f->leaves[li].max_rep > 0) {
        optout_set_err(err, errlen, "%s: column %s is repeated (a list): it cannot be a document field", f->path, path);
        return -1;
    }
    int64_t rows = f->meta.rgs[rg].num_rows;
    memset(out, 0, (size_t)rows * sizeof *out);
    int bytes = f->leaves[li].type == PQ_BYTE_ARRAY || f->leaves[li].type == PQ_FIXED;
    pq_chunk c;
    pq_chunk_open(&c, f, rg, li, err, errlen);
    c.keep_pages = f->kept.limit > 0;
    int64_t row = 0;
    int r;
    while ((r = pq_chunk_next(&c, err, errlen)) > 0) {
        uint32_t vi = 0;
        for (uint32_t k = 0; k < c.n; k++, row++) {
            if (row >= rows) {
                r = chunk_fail(&c, err, errlen, "more values than the row group has rows");
                goto done;
            }
            if (c.leaf->max_def != 0 && c.def[k] != (uint32_t)c.leaf->max_def) continue;
            const uint8_t *fx;
            pq_bytes b;
            pq_chunk_value(&c, vi++, &fx, &b);
            if (!bytes) continue;
            uint64_t chars = utf8_chars(b.p, b.len);
            out[row] = (optout_pq_size){.bytes = b.len, .chars = chars, .present = 1};
        }
    }
    if (r == 0 && row != rows) r = chunk_fail(&c, err, errlen, "fewer values than the row group has rows");
done:
    pq_chunk_close(&c);
    return r < 0 ? -1 : 0;
}

/* "MAP.KEY": a string-keyed map column's value under KEY, per row. */
static int read_map_key(optout_pq_file *f, int rg, int map_node, const char *key, optout_pq_column *out, char *err,
                        size_t errlen) {
    const pq_node *m = &f->nodes[map_node];
    const pq_node *kv = m->nchildren == 1 ? &f->nodes[m->first_child] : NULL;
    if (!kv || kv->e->repetition != PQ_REPEATED || kv->nchildren != 2) return 1;
    const pq_node *kn = &f->nodes[kv->first_child], *vn;
    /* the value node is the key's next sibling in depth-first order */
    vn = &f->nodes[kv->first_child + 1];
    if (kn->leaf < 0 || vn->leaf < 0 || kn->e->type != PQ_BYTE_ARRAY) return 1;
    int64_t rows = f->meta.rgs[rg].num_rows;
    pq_chunk ck, cv;
    pq_chunk_open(&ck, f, rg, kn->leaf, err, errlen);
    pq_chunk_open(&cv, f, rg, vn->leaf, err, errlen);
    pq_buf arena = {0};
    out->v = calloc((size_t)rows + 1, sizeof *out->v);
    if (!out->v) return -1;
    size_t klen = strlen(key);
    int64_t row = -1;
    uint32_t ki = 0, kvi = 0, vi = 0, vvi = 0;
    int rk = 0, rv = 0, rc = 0;
    const pq_leaf *kl = ck.leaf, *vl = cv.leaf;
    for (;;) {
        if (ki == ck.n) {
            rk = pq_chunk_next(&ck, err, errlen);
            if (rk <= 0) break;
            ki = kvi = 0;
        }
        if (vi == cv.n) {
            rv = pq_chunk_next(&cv, err, errlen);
            if (rv < 0) {
                rc = -1;
                goto out;
            }
            if (rv == 0) {
                rc = chunk_fail(&cv, err, errlen, "map values end before its keys");
                goto out;
            }
            vi = vvi = 0;
        }
        uint32_t rep = kl->max_rep ? ck.rep[ki] : 0;
        if (rep == 0) row++;
        if (row >= rows) {
            rc = chunk_fail(&ck, err, errlen, "more map entries than the row group has rows");
            goto out;
        }
        int khas = ck.def[ki] == (uint32_t)kl->max_def;
        int vhas = vl->max_def == 0 || cv.def[vi] == (uint32_t)vl->max_def;
        if (khas) {
            const uint8_t *unused;
            pq_bytes b;
            pq_chunk_value(&ck, kvi, &unused, &b);
            if (b.len == klen && memcmp(b.p, key, klen) == 0 && out->v[row].kind == OPTOUT_PQ_NULL && vhas)
                to_value(&cv, vvi, &out->v[row], &arena);
            kvi++;
        }
        if (vhas) vvi++;
        ki++;
        vi++;
    }
    if (rk < 0) rc = -1;
    else if (row + 1 != rows && rows > 0)
        rc = chunk_fail(&ck, err, errlen, "map column has fewer rows than the row group");
out:
    pq_chunk_close(&ck);
    pq_chunk_close(&cv);
    out->n = (size_t)rows;
    finish_column(out, &arena);
    if (rc < 0) {
        optout_pq_column_free(out);
        return -1;
    }
    return 0;
}

int optout_pq_read_column(optout_pq_file *f, int rg, const char *path, optout_pq_column *out, char *err,
                          size_t errlen) {
    memset(out, 0, sizeof *out);
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) {
        optout_set_err(err, errlen, "%s: no row group %d", f->path, rg);
        return -1;
    }
    int li = find_leaf(f, path);
    if (li >= 0) {
        if (f->leaves[li].max_rep > 0) {
            optout_set_err(err, errlen, "%s: column %s is repeated (a list): it cannot be a document field", f->path,
                           path);
            return -1;
        }
        return read_leaf(f, rg, li, out, err, errlen);
    }
    /* a map: the longest node path that is a prefix of `path` and is MAP-annotated */
    for (uint32_t i = 1; i < f->meta.nschema; i++) {
        const pq_node *n = &f->nodes[i];
        size_t pl = strlen(n->path);
        if (n->leaf >= 0 || strncmp(path, n->path, pl) != 0 || path[pl] != '.') continue;
        if (n->e->logical != PQ_LT_MAP && n->e->converted != PQ_CT_MAP && n->e->converted != PQ_CT_MAP_KEY_VALUE)
            continue;
        if (n->rep_level > 0) continue;
        return read_map_key(f, rg, (int)i, path + pl + 1, out, err, errlen);
    }
    return 1;
}

uint64_t optout_pq_projection_bytes(const optout_pq_file *f, int rg, const char *const *paths, size_t n) {
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) return 0;
    const pq_row_group *g = &f->meta.rgs[rg];
    uint64_t per_col = ((uint64_t)g->num_rows + 1) * sizeof(optout_pq_value), total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!paths[i]) continue;
        int li = find_leaf(f, paths[i]);
        if (li >= 0) {
            total += per_col;
            if (f->leaves[li].type == PQ_BYTE_ARRAY || f->leaves[li].type == PQ_FIXED)
                total += (uint64_t)g->cols[li].total_uncompressed + (uint64_t)g->num_rows; /* + a NUL each */
            continue;
        }
        const char *dot = strrchr(paths[i], '.'); /* a map key: the map's chunks bound it */
        size_t pl = dot ? (size_t)(dot - paths[i]) : 0;
        int found = 0;
        for (int c = 0; dot && c < f->nleaves; c++)
            if (strncmp(f->leaves[c].path, paths[i], pl) == 0 && f->leaves[c].path[pl] == '.') {
                total += (uint64_t)g->cols[c].total_uncompressed;
                found = 1;
            }
        if (found) total += per_col;
    }
    return total;
}

void optout_pq_column_free(optout_pq_column *c) {
    free(c->v);
    free(c->arena_);
    memset(c, 0, sizeof *c);
}
