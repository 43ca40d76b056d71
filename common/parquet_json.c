/* parquet_json.c — the rows of a row group as JSON objects, streamed: every leaf column's chunk is
 * read page by page side by side, one row at a time: a row's entries of each leaf (from one
 * repetition level 0 to the next) are taken from its current page, their values rendered to JSON
 * text, then the row is assembled from the levels (record assembly): optional fields and groups
 * become null, repeated fields and LIST groups (standard three-level and the legacy two-level
 * forms) arrays, MAP groups objects, other groups objects. So what is held is one page per column
 * (and its dictionary) and one row, never a row group (pyarrow writes a million rows per group).
 * The rendering of one value is the project's JSON rendering of a Parquet value. */
#include "parquet_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/json.h"
#include "optout/parquet.h"
#include "optout/util.h"

/* One leaf's entries of the current row. */
typedef struct {
    uint32_t n, cap;
    uint32_t *rep, *def;
    size_t *off; /* n + 1 offsets into text: entry k's rendering is [off[k], off[k+1]) */
    pq_buf text;
} leaf_data;

static void put_str(pq_buf *b, const char *s) { pq_buf_put(b, s, strlen(s)); }

static void put_i128(pq_buf *b, __int128 v) {
    char tmp[48];
    int i = 0, neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[i++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg) pq_buf_byte(b, '-');
    while (i) pq_buf_byte(b, (uint8_t)tmp[--i]);
}

static void put_double(pq_buf *b, double d) {
    if (isnan(d)) {
        put_str(b, "\"NaN\"");
    } else if (isinf(d)) {
        put_str(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.17g", d);
        pq_buf_put(b, tmp, (size_t)n);
    }
}

/* A JSON string through json.h, the one string writer: bytes that are not UTF-8 become \ufffd, as
 * in every other JSON optout writes, so that a value renders the same from either copy of a corpus. */
static void put_json_string(pq_buf *b, const uint8_t *p, size_t n) {
    pq_buf_reserve(b, OPTOUT_JSON_STRING_MAX(n));
    b->len += optout_json_string((char *)b->data + b->len, (const char *)p, n);
}

static void put_base64(pq_buf *b, const uint8_t *p, size_t n) {
    pq_buf_byte(b, '"');
    pq_base64_encode(b, p, n);
    pq_buf_byte(b, '"');
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static void render_value(pq_buf *b, const pq_leaf *l, const uint8_t *fx, pq_bytes ba) {
    const pq_schema_elem *e = l->e;
    int is_string = e->logical == PQ_LT_STRING || e->logical == PQ_LT_ENUM || e->logical == PQ_LT_JSON;
    switch (l->type) {
    case PQ_BOOLEAN: put_str(b, fx[0] ? "true" : "false"); return;
    case PQ_INT32: {
        int32_t x;
        memcpy(&x, fx, 4);
        put_i128(b, (e->logical == PQ_LT_INTEGER && !e->int_signed) ? (__int128)(uint32_t)x : (__int128)x);
        return;
    }
    case PQ_INT64: {
        int64_t x;
        memcpy(&x, fx, 8);
        put_i128(b, (e->logical == PQ_LT_INTEGER && !e->int_signed) ? (__int128)(uint64_t)x : (__int128)x);
        return;
    }
    case PQ_INT96: {
        int64_t nanos, days = pq_int96_days(fx, &nanos);
        put_i128(b, (__int128)days * 86400 * 1000000000 + nanos);
        return;
    }
    case PQ_FLOAT: {
        float x;
        memcpy(&x, fx, 4);
        put_double(b, x);
        return;
    }
    case PQ_DOUBLE: {
        double x;
        memcpy(&x, fx, 8);
        put_double(b, x);
        return;
    }
    case PQ_FIXED:
        if (e->logical == PQ_LT_FLOAT16 && ba.len == 2) {
            put_double(b, half_to_double((uint16_t)(ba.p[0] | ba.p[1] << 8)));
            return;
        }
        break;
    default: break;
    }
    if (is_string) {
        put_json_string(b, ba.p, ba.len);
    } else if (e->logical == PQ_LT_DECIMAL && ba.len >= 1 && ba.len <= 16) {
        __int128 v = (int8_t)ba.p[0]; /* big-endian two's complement */
        for (uint32_t i = 1; i < ba.len; i++) v = v * 256 + ba.p[i];
        put_i128(b, v);
    } else {
        put_base64(b, ba.p, ba.len);
    }
}

/* ---- record assembly ------------------------------------------------------------------------ */

typedef struct {
    optout_pq_file *f;
    leaf_data *leaves;
    int *lfirst, *llast; /* per node: its subtree's leaves [first, last) */
    pq_buf out;
    int bad;
} asm_ctx;

static void field(asm_ctx *a, int node, uint32_t *s, uint32_t *e);

static void leaf_value(asm_ctx *a, int node, const uint32_t *s, const uint32_t *e) {
    const pq_node *n = &a->f->nodes[node];
    const pq_leaf *l = &a->f->leaves[n->leaf];
    leaf_data *d = &a->leaves[n->leaf];
    uint32_t k = s[n->leaf];
    if (k >= e[n->leaf]) {
        a->bad = 1;
        put_str(&a->out, "null");
        return;
    }
    if (d->def[k] < (uint32_t)l->max_def) {
        put_str(&a->out, "null");
        return;
    }
    pq_buf_put(&a->out, d->text.data + d->off[k], d->off[k + 1] - d->off[k]);
}

/* Calls `each` for every instance of the repeated node within [s, e). */
static void instances(asm_ctx *a, int node, const uint32_t *s, const uint32_t *e,
                      void (*each)(asm_ctx *, int, uint32_t *, uint32_t *, int), int first_of_list) {
    const pq_node *n = &a->f->nodes[node];
    int lf = a->lfirst[node], ll = a->llast[node];
    (void)first_of_list;
    if (lf >= ll || s[lf] >= e[lf]) {
        a->bad = 1;
        return;
    }
    if (a->leaves[lf].def[s[lf]] < (uint32_t)n->def_level) return; /* empty */
    /* per-instance ranges, indexed by global leaf number like s and e */
    size_t nl = (size_t)a->f->nleaves;
    uint32_t *cur = malloc(nl * 2 * sizeof *cur);
    if (!cur) {
        a->bad = 1;
        return;
    }
    uint32_t *nxt = cur + nl;
    for (int l = lf; l < ll; l++) cur[l] = s[l];
    int idx = 0;
    while (cur[lf] < e[lf]) {
        for (int l = lf; l < ll; l++) {
            uint32_t j = cur[l];
            if (j >= e[l]) {
                a->bad = 1;
                free(cur);
                return;
            }
            j++;
            while (j < e[l] && a->leaves[l].rep[j] > (uint32_t)n->rep_level) j++;
            nxt[l] = j;
        }
        each(a, node, cur, nxt, idx++);
        if (a->bad) break;
        for (int l = lf; l < ll; l++) cur[l] = nxt[l];
    }
    free(cur);
}

static void value(asm_ctx *a, int node, uint32_t *s, uint32_t *e);

static void each_value(asm_ctx *a, int node, uint32_t *s, uint32_t *e, int i) {
    if (i) pq_buf_byte(&a->out, ',');
    value(a, node, s, e);
}

/* LIST element: the three-level form's element, or the legacy forms' repeated node itself. */
static void each_list_elem(asm_ctx *a, int node, uint32_t *s, uint32_t *e, int i) {
    const pq_node *c = &a->f->nodes[node];
    const pq_node *p = &a->f->nodes[c->parent];
    if (i) pq_buf_byte(&a->out, ',');
    size_t pl = strlen(p->e->name);
    int legacy = c->e->type >= 0 || c->nchildren != 1 || strcmp(c->e->name, "array") == 0 ||
                 (strncmp(c->e->name, p->e->name, pl) == 0 && strcmp(c->e->name + pl, "_tuple") == 0);
    if (legacy) value(a, node, s, e);
    else field(a, c->first_child, s, e);
}

/* The value node of a map's key_value group: the key's next sibling (-1 when it has none). */
static int map_value_node(const asm_ctx *a, int kv) {
    const pq_node *c = &a->f->nodes[kv];
    if (c->nchildren < 2) return -1;
    int v = c->first_child + 1;
    while (v < (int)a->f->meta.nschema && a->f->nodes[v].parent != kv) v++;
    return v;
}

/* A string-keyed map's entry: "key":value. */
static void each_map_entry(asm_ctx *a, int node, uint32_t *s, uint32_t *e, int i) {
    if (i) pq_buf_byte(&a->out, ',');
    size_t at = a->out.len;
    field(a, a->f->nodes[node].first_child, s, e);
    if (a->out.len - at == 4 && memcmp(a->out.data + at, "null", 4) == 0) { /* a null key (malformed) */
        a->out.len = at;
        put_str(&a->out, "\"null\"");
    }
    pq_buf_byte(&a->out, ':');
    int val = map_value_node(a, node);
    if (val >= 0) field(a, val, s, e);
    else put_str(&a->out, "null");
}

/* Another map's entry: {"key":key,"value":value}, keeping the key's type. */
static void each_map_pair(asm_ctx *a, int node, uint32_t *s, uint32_t *e, int i) {
    if (i) pq_buf_byte(&a->out, ',');
    put_str(&a->out, "{\"key\":");
    field(a, a->f->nodes[node].first_child, s, e);
    put_str(&a->out, ",\"value\":");
    int val = map_value_node(a, node);
    if (val >= 0) field(a, val, s, e);
    else put_str(&a->out, "null");
    pq_buf_byte(&a->out, '}');
}

static void value(asm_ctx *a, int node, uint32_t *s, uint32_t *e) {
    const pq_node *n = &a->f->nodes[node];
    if (n->leaf >= 0) {
        leaf_value(a, node, s, e);
        return;
    }
    int lf = a->lfirst[node];
    if (a->lfirst[node] >= a->llast[node] || s[lf] >= e[lf]) {
        a->bad = 1;
        return;
    }
    if (a->leaves[lf].def[s[lf]] < (uint32_t)n->def_level) {
        put_str(&a->out, "null");
        return;
    }
    const pq_schema_elem *el = n->e;
    const pq_node *c0 = &a->f->nodes[n->first_child];
    int is_list = el->logical == PQ_LT_LIST || el->converted == PQ_CT_LIST;
    int is_map = el->logical == PQ_LT_MAP || el->converted == PQ_CT_MAP || el->converted == PQ_CT_MAP_KEY_VALUE;
    if ((is_list || is_map) && n->nchildren == 1 && c0->e->repetition == PQ_REPEATED) {
        const pq_node *key = is_map && c0->leaf < 0 && c0->nchildren >= 1 ? &a->f->nodes[c0->first_child] : NULL;
        int string_key = key && key->leaf >= 0 && key->e->type == PQ_BYTE_ARRAY &&
                         (key->e->logical == PQ_LT_STRING || key->e->logical == PQ_LT_ENUM);
        if (key && string_key) {
            pq_buf_byte(&a->out, '{');
            instances(a, n->first_child, s, e, each_map_entry, 0);
            pq_buf_byte(&a->out, '}');
        } else if (key) {
            pq_buf_byte(&a->out, '[');
            instances(a, n->first_child, s, e, each_map_pair, 0);
            pq_buf_byte(&a->out, ']');
        } else {
            pq_buf_byte(&a->out, '[');
            instances(a, n->first_child, s, e, each_list_elem, 0);
            pq_buf_byte(&a->out, ']');
        }
        return;
    }
    pq_buf_byte(&a->out, '{');
    int child = n->first_child;
    for (int i = 0; i < n->nchildren; i++) {
        if (i) pq_buf_byte(&a->out, ',');
        const pq_node *c = &a->f->nodes[child];
        put_json_string(&a->out, (const uint8_t *)c->e->name, strlen(c->e->name));
        pq_buf_byte(&a->out, ':');
        field(a, child, s, e);
        /* next sibling: skip this child's subtree */
        int nx = child + 1;
        while (nx < (int)a->f->meta.nschema && a->f->nodes[nx].parent != node) nx++;
        child = nx;
    }
    pq_buf_byte(&a->out, '}');
}

static void field(asm_ctx *a, int node, uint32_t *s, uint32_t *e) {
    if (a->f->nodes[node].e->repetition == PQ_REPEATED) {
        pq_buf_byte(&a->out, '[');
        instances(a, node, s, e, each_value, 0);
        pq_buf_byte(&a->out, ']');
    } else {
        value(a, node, s, e);
    }
}
static void subtree_leaves(const optout_pq_file *f, int *lfirst, int *llast) {
    int n = (int)f->meta.nschema;
    for (int i = n - 1; i >= 0; i--) {
        const pq_node *nd = &f->nodes[i];
        if (nd->leaf >= 0) {
            lfirst[i] = nd->leaf;
            llast[i] = nd->leaf + 1;
        } else if (lfirst[i] == -1) {
            lfirst[i] = llast[i] = 0; /* no leaves (cannot happen: groups need children) */
        }
        if (nd->parent >= 0) {
            int p = nd->parent;
            if (lfirst[p] == -1 || lfirst[i] < lfirst[p]) lfirst[p] = lfirst[i];
            if (llast[i] > llast[p]) llast[p] = llast[i];
        }
    }
}

/* ---- the row reader ------------------------------------------------------------------------- */

struct optout_pq_rows {
    optout_pq_file *f;
    int rg, nl, nn;
    int64_t rows, row; /* the row group's rows; rows taken so far */
    uint64_t limit;    /* what may be held (0: no limit) */
    pq_chunk *chunks;  /* one per leaf, read side by side */
    uint32_t *pos, *vi; /* per leaf: the next entry and the next value of its current page */
    uint8_t *ended;     /* per leaf: its chunk has no more pages */
    uint32_t *s;        /* 2 * nl: per leaf, the row's entries [s[l], s[nl + l]) (always [0, n)) */
    asm_ctx a;
};

/* What the row being assembled holds: its entries' levels, offsets and renderings, and its object. */
static uint64_t row_bytes(const optout_pq_rows *r) {
    uint64_t n = r->a.out.cap;
    for (int l = 0; l < r->nl; l++) {
        const leaf_data *d = &r->a.leaves[l];
        n += (uint64_t)d->cap * (2 * sizeof *d->rep + sizeof *d->off) + d->text.cap;
    }
    return n;
}

static uint64_t pages_bytes(const optout_pq_rows *r, int except) {
    uint64_t n = 0;
    for (int l = 0; l < r->nl; l++)
        if (l != except) n += pq_chunk_bytes(&r->chunks[l]);
    return n;
}

const char *optout_pq_size_text(uint64_t bytes, char *buf, size_t len) {
    if (bytes >= ((uint64_t)16 << 20))
        snprintf(buf, len, "%llu MiB", (unsigned long long)((bytes + (1u << 20) - 1) >> 20));
    else snprintf(buf, len, "%llu KiB", (unsigned long long)((bytes + 1023) >> 10));
    return buf;
}

static int over_limit(const optout_pq_rows *r, uint64_t held, char *err, size_t errlen) {
    char a[32], b[32];
    optout_set_err(err, errlen,
                   "%s: row group %d, row %lld: rendering rows as JSON holds %s (a page of each of its %d columns, "
                   "their dictionaries and one row), more than the %s the memory budget leaves it",
                   r->f->path, r->rg, (long long)r->row, optout_pq_size_text(held, a, sizeof a), r->nl,
                   optout_pq_size_text(r->limit, b, sizeof b));
    return -1;
}

/* Leaf l's next data page, within what the limit leaves it besides the other columns' pages and
 * the row: 1, 0 at the chunk's end, -1. */
static int next_page(optout_pq_rows *r, int l, char *err, size_t errlen) {
    pq_chunk *c = &r->chunks[l];
    uint64_t saved = r->f->page_limit;
    if (r->limit) {
        uint64_t others = pages_bytes(r, l) + row_bytes(r);
        if (c->has_dict) others += c->dict_len + (uint64_t)c->dict_n * sizeof *c->dict_ba;
        uint64_t room = others < r->limit ? r->limit - others : 1;
        if (!saved || room < saved) r->f->page_limit = room;
    }
    int k = pq_chunk_next(c, err, errlen);
    r->f->page_limit = saved;
    if (k <= 0) return k;
    r->pos[l] = r->vi[l] = 0;
    if (r->limit) {
        uint64_t held = pages_bytes(r, -1) + row_bytes(r);
        if (held > r->limit) return over_limit(r, held, err, errlen);
    }
    return 1;
}

/* Leaf l's entries of the current row (rendered when `render`): from its next entry, whose
 * repetition level is 0, to the next such entry or the chunk's end. */
static int take_row(optout_pq_rows *r, int l, int render, char *err, size_t errlen) {
    leaf_data *d = &r->a.leaves[l];
    pq_chunk *c = &r->chunks[l];
    const pq_leaf *lf = &r->f->leaves[l];
    d->n = 0;
    d->text.len = 0;
    for (;;) {
        if (r->pos[l] == c->n) {
            if (r->ended[l]) break;
            int k = next_page(r, l, err, errlen);
            if (k < 0) return -1;
            if (k == 0) r->ended[l] = 1;
            continue;
        }
        uint32_t k = r->pos[l];
        uint32_t rep = lf->max_rep ? c->rep[k] : 0;
        if (rep == 0 && d->n > 0) break; /* the next row's first entry */
        if (d->n + 2 > d->cap) {
            uint32_t cap = d->cap ? d->cap * 2 : 16;
            uint32_t *rp = realloc(d->rep, cap * sizeof *rp);
            if (rp) d->rep = rp;
            uint32_t *dp = realloc(d->def, cap * sizeof *dp);
            if (dp) d->def = dp;
            size_t *op = realloc(d->off, cap * sizeof *op);
            if (op) d->off = op;
            if (!rp || !dp || !op) {
                optout_set_err(err, errlen, "%s: row group %d, row %lld: out of memory", r->f->path, r->rg,
                               (long long)r->row);
                return -1;
            }
            d->cap = cap;
        }
        uint32_t i = d->n++;
        d->rep[i] = rep;
        d->def[i] = lf->max_def ? c->def[k] : 0;
        d->off[i] = d->text.len;
        if (d->def[i] == (uint32_t)lf->max_def) {
            if (render) {
                const uint8_t *fx;
                pq_bytes ba;
                pq_chunk_value(c, r->vi[l], &fx, &ba);
                render_value(&d->text, lf, fx, ba);
            }
            r->vi[l]++;
        }
        r->pos[l]++;
    }
    if (d->n == 0) {
        optout_set_err(err, errlen, "%s: row group %d, column %s: fewer rows than the row group's %lld", r->f->path,
                       r->rg, lf->path, (long long)r->rows);
        return -1;
    }
    d->off[d->n] = d->text.len;
    return 0;
}

optout_pq_rows *optout_pq_rows_open(optout_pq_file *f, int rg, uint64_t max_memory, char *err, size_t errlen) {
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) {
        optout_set_err(err, errlen, "%s: no row group %d", f->path, rg);
        return NULL;
    }
    optout_pq_rows *r = calloc(1, sizeof *r);
    if (!r) {
        optout_set_err(err, errlen, "%s: out of memory", f->path);
        return NULL;
    }
    int nl = f->nleaves, nn = (int)f->meta.nschema;
    r->f = f;
    r->rg = rg;
    r->nl = nl;
    r->nn = nn;
    r->rows = f->meta.rgs[rg].num_rows;
    r->limit = max_memory;
    r->a.f = f;
    r->a.leaves = calloc((size_t)nl + 1, sizeof *r->a.leaves);
    r->a.lfirst = malloc(((size_t)nn + 1) * sizeof *r->a.lfirst);
    r->a.llast = calloc((size_t)nn + 1, sizeof *r->a.llast);
    r->chunks = calloc((size_t)nl + 1, sizeof *r->chunks);
    r->pos = calloc((size_t)nl * 2 + 1, sizeof *r->pos);
    r->ended = calloc((size_t)nl + 1, 1);
    r->s = calloc((size_t)nl * 2 + 1, sizeof *r->s);
    if (!r->a.leaves || !r->a.lfirst || !r->a.llast || !r->chunks || !r->pos || !r->ended || !r->s) {
        optout_set_err(err, errlen, "%s: out of memory", f->path);
        optout_pq_rows_close(r);
        return NULL;
    }
    r->vi = r->pos + nl;
    for (int i = 0; i < nn; i++) r->a.lfirst[i] = -1;
    subtree_leaves(f, r->a.lfirst, r->a.llast);
    for (int l = 0; l < nl; l++) pq_chunk_open(&r->chunks[l], f, rg, l, err, errlen);
    return r;
}

void optout_pq_rows_close(optout_pq_rows *r) {
    if (!r) return;
    for (int l = 0; r->a.leaves && l < r->nl; l++) {
        free(r->a.leaves[l].rep);
        free(r->a.leaves[l].def);
        free(r->a.leaves[l].off);
        pq_buf_free(&r->a.leaves[l].text);
    }
    for (int l = 0; r->chunks && l < r->nl; l++) pq_chunk_close(&r->chunks[l]);
    free(r->a.leaves);
    free(r->a.lfirst);
    free(r->a.llast);
    free(r->chunks);
    free(r->pos);
    free(r->ended);
    free(r->s);
    pq_buf_free(&r->a.out);
    free(r);
}

/* After the last row: every column must end with it. */
static int check_end(optout_pq_rows *r, char *err, size_t errlen) {
    for (int l = 0; l < r->nl; l++) {
        pq_chunk *c = &r->chunks[l];
        while (r->pos[l] == c->n && !r->ended[l]) {
            int k = next_page(r, l, err, errlen);
            if (k < 0) return -1;
            if (k == 0) r->ended[l] = 1;
        }
        if (r->pos[l] < c->n) {
            optout_set_err(err, errlen, "%s: row group %d, column %s: more rows than the row group's %lld", r->f->path,
                           r->rg, r->f->leaves[l].path, (long long)r->rows);
            return -1;
        }
    }
    return 0;
}

int optout_pq_rows_next(optout_pq_rows *r, int render, const char **json, size_t *len, char *err, size_t errlen) {
    *json = NULL;
    *len = 0;
    if (r->row >= r->rows) return check_end(r, err, errlen) < 0 ? -1 : 0;
    optout_pq_file *f = r->f;
    for (int l = 0; l < r->nl; l++)
        if (take_row(r, l, render, err, errlen) < 0) return -1;
    int64_t row = r->row++;
    if (!render) return 1;
    uint32_t *s = r->s, *e = r->s + r->nl;
    for (int l = 0; l < r->nl; l++) {
        s[l] = 0;
        e[l] = r->a.leaves[l].n;
    }
    asm_ctx *a = &r->a;
    a->out.len = 0;
    a->bad = 0;
    pq_buf_byte(&a->out, '{');
    const pq_node *root = &f->nodes[0];
    int child = root->first_child;
    for (int i = 0; i < root->nchildren; i++) {
        if (i) pq_buf_byte(&a->out, ',');
        const pq_node *c = &f->nodes[child];
        put_json_string(&a->out, (const uint8_t *)c->e->name, strlen(c->e->name));
        pq_buf_byte(&a->out, ':');
        field(a, child, s, e);
        int nx = child + 1;
        while (nx < r->nn && f->nodes[nx].parent != 0) nx++;
        child = nx;
    }
    pq_buf_byte(&a->out, '}');
    if (a->bad) {
        optout_set_err(err, errlen, "%s: row group %d, row %lld: levels of its columns do not agree", f->path, r->rg,
                       (long long)row);
        return -1;
    }
    if (r->limit) {
        uint64_t held = pages_bytes(r, -1) + row_bytes(r);
        if (held > r->limit) return over_limit(r, held, err, errlen);
    }
    pq_buf_byte(&a->out, 0);
    *json = (const char *)a->out.data;
    *len = a->out.len - 1;
    return 1;
}

int optout_pq_row_group_json(optout_pq_file *f, int rg, int (*emit)(void *ctx, const char *json, size_t len), void *ctx,
                             char *err, size_t errlen) {
    optout_pq_rows *r = optout_pq_rows_open(f, rg, 0, err, errlen);
    if (!r) return -1;
    const char *json;
    size_t len;
    int k, rc = 0;
    while ((k = optout_pq_rows_next(r, 1, &json, &len, err, errlen)) == 1)
        if ((rc = emit(ctx, json, len)) != 0) break;
    optout_pq_rows_close(r);
    return rc ? rc : k < 0 ? -1 : 0;
}
