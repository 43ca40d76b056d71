/* parquet_json.c — the rows of a row group as JSON objects: every leaf column's levels and values
 * are read (its values rendered to JSON text once), then each row is assembled from the levels
 * (record assembly): optional fields and groups become null, repeated fields and LIST groups
 * (standard three-level and the legacy two-level forms) arrays, MAP groups objects, other groups
 * objects. The rendering of one value is the project's JSON rendering of a Parquet value. */
#include "parquet_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/json.h"
#include "optout/parquet.h"
#include "optout/util.h"

typedef struct {
    uint32_t n;
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

static int load_leaf(optout_pq_file *f, int rg, int li, leaf_data *d, char *err, size_t errlen) {
    pq_chunk c;
    pq_chunk_open(&c, f, rg, li, err, errlen);
    const pq_leaf *l = c.leaf;
    size_t cap = 0;
    int r;
    while ((r = pq_chunk_next(&c, err, errlen)) > 0) {
        if ((size_t)d->n + c.n + 1 > cap) {
            cap = ((size_t)d->n + c.n + 1) * 2;
            uint32_t *rp = realloc(d->rep, cap * sizeof *rp);
            if (rp) d->rep = rp;
            uint32_t *dp = realloc(d->def, cap * sizeof *dp);
            if (dp) d->def = dp;
            size_t *op = realloc(d->off, cap * sizeof *op);
            if (op) d->off = op;
            if (!rp || !dp || !op) {
                r = -1;
                optout_set_err(err, errlen, "%s: row group %d: out of memory", f->path, rg);
                break;
            }
        }
        uint32_t vi = 0;
        for (uint32_t k = 0; k < c.n; k++) {
            uint32_t i = d->n++;
            d->rep[i] = l->max_rep ? c.rep[k] : 0;
            d->def[i] = l->max_def ? c.def[k] : 0;
            d->off[i] = d->text.len;
            if (d->def[i] == (uint32_t)l->max_def) {
                const uint8_t *fx;
                pq_bytes ba;
                pq_chunk_value(&c, vi, &fx, &ba);
                render_value(&d->text, l, fx, ba);
                vi++;
            }
        }
    }
    if (d->off) d->off[d->n] = d->text.len;
    pq_chunk_close(&c);
    return r < 0 ? -1 : 0;
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

int optout_pq_row_group_json(optout_pq_file *f, int rg, int (*emit)(void *ctx, const char *json, size_t len), void *ctx,
                             char *err, size_t errlen) {
    if (rg < 0 || (uint32_t)rg >= f->meta.nrgs) {
        optout_set_err(err, errlen, "%s: no row group %d", f->path, rg);
        return -1;
    }
    int nl = f->nleaves, nn = (int)f->meta.nschema;
    asm_ctx a = {.f = f};
    a.leaves = calloc((size_t)nl + 1, sizeof *a.leaves);
    a.lfirst = malloc(((size_t)nn + 1) * sizeof *a.lfirst);
    a.llast = calloc((size_t)nn + 1, sizeof *a.llast);
    uint32_t *s = calloc((size_t)nl * 2 + 1, sizeof *s);
    int rc = 0;
    if (!a.leaves || !a.lfirst || !a.llast || !s) {
        optout_set_err(err, errlen, "%s: out of memory", f->path);
        rc = -1;
        goto done;
    }
    uint32_t *e = s + nl;
    for (int i = 0; i < nn; i++) a.lfirst[i] = -1;
    subtree_leaves(f, a.lfirst, a.llast);
    for (int l = 0; l < nl && rc == 0; l++) rc = load_leaf(f, rg, l, &a.leaves[l], err, errlen);
    if (rc < 0) goto done;
    int64_t rows = f->meta.rgs[rg].num_rows;
    for (int64_t r = 0; r < rows; r++) {
        for (int l = 0; l < nl; l++) {
            leaf_data *d = &a.leaves[l];
            uint32_t j = s[l] = (r == 0 ? 0 : e[l]);
            if (j >= d->n) {
                optout_set_err(err, errlen, "%s: row group %d, column %s: fewer rows than the row group's %lld",
                               f->path, rg, f->leaves[l].path, (long long)rows);
                rc = -1;
                goto done;
            }
            j++;
            while (j < d->n && d->rep[j] > 0) j++;
            e[l] = j;
        }
        a.out.len = 0;
        pq_buf_byte(&a.out, '{');
        const pq_node *root = &f->nodes[0];
        int child = root->first_child;
        for (int i = 0; i < root->nchildren; i++) {
            if (i) pq_buf_byte(&a.out, ',');
            const pq_node *c = &f->nodes[child];
            put_json_string(&a.out, (const uint8_t *)c->e->name, strlen(c->e->name));
            pq_buf_byte(&a.out, ':');
            field(&a, child, s, e);
            int nx = child + 1;
            while (nx < nn && f->nodes[nx].parent != 0) nx++;
            child = nx;
        }
        pq_buf_byte(&a.out, '}');
        if (a.bad) {
            optout_set_err(err, errlen, "%s: row group %d, row %lld: levels of its columns do not agree", f->path, rg,
                           (long long)r);
            rc = -1;
            goto done;
        }
        pq_buf_byte(&a.out, 0);
        rc = emit(ctx, (const char *)a.out.data, a.out.len - 1);
        if (rc) goto done;
    }
    for (int l = 0; l < nl; l++) {
        if (rows > 0 ? e[l] != a.leaves[l].n : a.leaves[l].n != 0) {
            optout_set_err(err, errlen, "%s: row group %d, column %s: more rows than the row group's %lld", f->path, rg,
                           f->leaves[l].path, (long long)rows);
            rc = -1;
            goto done;
        }
    }
done:
    if (a.leaves)
        for (int l = 0; l < nl; l++) {
            free(a.leaves[l].rep);
            free(a.leaves[l].def);
            free(a.leaves[l].off);
            pq_buf_free(&a.leaves[l].text);
        }
    free(a.leaves);
    free(a.lfirst);
    free(a.llast);
    free(s);
    pq_buf_free(&a.out);
    return rc;
}
