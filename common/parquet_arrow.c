/* parquet_arrow.c — the `ARROW:schema` key-value entry pyarrow writes (base64 of an Arrow IPC
 * Schema message, a FlatBuffer), with one more last field appended: a nullable List of non-null
 * Utf8 named as the new Parquet column, so that Arrow readers see the column the writer added.
 *
 * A FlatBuffer's offsets only point forward, and the old buffer's tables are kept as they are: the
 * new buffer is a new Message, a new Schema, a new fields vector and the new Field, followed by the
 * old buffer unchanged (at an offset that keeps its 8-byte alignment). The new fields vector points
 * at the old Field tables and at the new one; the new Message and Schema copy the old ones' scalars
 * and point at their old vectors (custom metadata, features). Nothing in the old buffer needs to be
 * understood beyond those two tables, and every read is bounds-checked: input that does not parse
 * is reported, and the caller leaves the entry out. */
#include "parquet_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- base64 (standard alphabet, padded) ------------------------------------------------------ */

void pq_base64_encode(pq_buf *b, const uint8_t *p, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pq_buf_reserve(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        b->data[b->len++] = (uint8_t)tbl[v >> 18];
        b->data[b->len++] = (uint8_t)tbl[(v >> 12) & 63];
        b->data[b->len++] = i + 1 < n ? (uint8_t)tbl[(v >> 6) & 63] : '=';
        b->data[b->len++] = i + 2 < n ? (uint8_t)tbl[v & 63] : '=';
    }
}

int pq_base64_decode(pq_buf *b, const uint8_t *p, size_t n) {
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=') break;
        else return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            pq_buf_byte(b, (uint8_t)(acc >> bits));
        }
    }
    return 0;
}

/* ---- reading the old buffer ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len;
} fb;

static int rd32(const fb *f, size_t at, uint32_t *v) {
    if (at > f->len || f->len - at < 4) return -1;
    *v = (uint32_t)f->p[at] | (uint32_t)f->p[at + 1] << 8 | (uint32_t)f->p[at + 2] << 16 | (uint32_t)f->p[at + 3] << 24;
    return 0;
}

static int rd16(const fb *f, size_t at, uint16_t *v) {
    if (at > f->len || f->len - at < 2) return -1;
    *v = (uint16_t)(f->p[at] | f->p[at + 1] << 8);
    return 0;
}

/* Position of field `slot` of the table at `t` (0 when absent), -1 when the table is malformed. */
static int64_t field_pos(const fb *f, size_t t, int slot) {
    uint32_t so;
    uint16_t vsize, off;
    if (rd32(f, t, &so) < 0) return -1;
    int64_t vt = (int64_t)t - (int32_t)so;
    if (vt < 0 || rd16(f, (size_t)vt, &vsize) < 0) return -1;
    if ((size_t)(4 + 2 * slot) + 2 > vsize) return 0;
    if (rd16(f, (size_t)vt + 4 + 2 * (size_t)slot, &off) < 0) return -1;
    return off ? (int64_t)t + off : 0;
}

/* The target of the uoffset field `slot` of table t: 0 absent, -1 malformed. */
static int64_t field_ref(const fb *f, size_t t, int slot) {
    int64_t at = field_pos(f, t, slot);
    uint32_t u;
    if (at <= 0) return at;
    if (rd32(f, (size_t)at, &u) < 0 || (uint64_t)at + u >= f->len) return -1;
    return at + u;
}

static int field_scalar(const fb *f, size_t t, int slot, void *out, size_t size) {
    int64_t at = field_pos(f, t, slot);
    if (at < 0) return -1;
    if (at == 0) return 0; /* the default (the caller's zero) */
    if ((uint64_t)at + size > f->len) return -1;
    memcpy(out, f->p + at, size);
    return 0;
}

/* ---- building the prefix ----------------------------------------------------------------------- */

static void align(pq_buf *b, size_t a) {
    while (b->len % a) pq_buf_byte(b, 0);
}
static void put16(pq_buf *b, uint16_t v) { pq_buf_put(b, &v, 2); }
static void put32(pq_buf *b, uint32_t v) { pq_buf_put(b, &v, 4); }
static void set32(pq_buf *b, size_t at, uint32_t v) { memcpy(b->data + at, &v, 4); }
/* Points the uoffset at `at` to `target` (which lies after it). */
static void link(pq_buf *b, size_t at, size_t target) { set32(b, at, (uint32_t)(target - at)); }

/* An empty table (List, Utf8 carry no fields); returns its position. */
static size_t empty_table(pq_buf *b) {
    align(b, 2);
    size_t vt = b->len;
    put16(b, 4);
    put16(b, 4);
    align(b, 4);
    size_t t = b->len;
    put32(b, (uint32_t)(t - vt));
    return t;
}

/* A Field table: name, nullable, type (an empty table of union member type_type), children (a
 * vector whose n uoffsets the caller links: their positions in *child_slots). Returns its position. */
static size_t field_table(pq_buf *b, const char *name, int nullable, uint8_t type_type, uint32_t nchildren,
                          size_t *child_slots) {
    align(b, 2);
    size_t vt = b->len;
    static const uint16_t offs[] = {4, 16, 17, 8,
                                    0, 12, 0}; /* name nullable type_type type dictionary children metadata */
    put16(b, 4 + 2 * 7);
    put16(b, 20);
    for (int i = 0; i < 7; i++) put16(b, offs[i]);
    align(b, 4);
    size_t t = b->len;
    put32(b, (uint32_t)(t - vt));
    put32(b, 0);
    put32(b, 0);
    put32(b, 0);
    pq_buf_byte(b, nullable ? 1 : 0);
    pq_buf_byte(b, type_type);
    put16(b, 0);
    align(b, 4);
    link(b, t + 4, b->len);
    size_t nl = strlen(name);
    put32(b, (uint32_t)nl);
    pq_buf_put(b, name, nl + 1);
    size_t ty = empty_table(b);
    link(b, t + 8, ty);
    align(b, 4);
    link(b, t + 12, b->len);
    put32(b, nchildren);
    for (uint32_t i = 0; i < nchildren; i++) {
        child_slots[i] = b->len;
        put32(b, 0);
    }
    return t;
}

enum { ARROW_UTF8 = 5, ARROW_LIST = 12, ARROW_HEADER_SCHEMA = 1 };

int pq_arrow_schema_add_list(const uint8_t *b64, size_t b64_len, const char *name, pq_buf *out) {
    pq_buf raw = {0}, n = {0};
    int rc = -1;
    if (pq_base64_decode(&raw, b64, b64_len) < 0 || raw.len < 8) goto done;
    /* IPC framing: [0xFFFFFFFF] int32 metadata length, the FlatBuffer (the pre-0.15 form lacks the marker) */
    fb whole = {raw.data, raw.len};
    uint32_t w0, mlen;
    size_t start = 4;
    rd32(&whole, 0, &w0);
    if (w0 == 0xffffffffu) {
        if (rd32(&whole, 4, &mlen) < 0) goto done;
        start = 8;
    } else {
        mlen = w0;
    }
    if (mlen > raw.len - start || mlen < 8) goto done;
    fb f = {raw.data + start, mlen};
    uint32_t root;
    if (rd32(&f, 0, &root) < 0 || root >= f.len) goto done;
    size_t mt = root;
    int16_t version = 0, endianness = 0;
    uint8_t header_type = 0;
    int64_t body_len = 0;
    if (field_scalar(&f, mt, 0, &version, 2) < 0 || field_scalar(&f, mt, 1, &header_type, 1) < 0 ||
        field_scalar(&f, mt, 3, &body_len, 8) < 0 || header_type != ARROW_HEADER_SCHEMA)
        goto done;
    int64_t st = field_ref(&f, mt, 2), mcm = field_ref(&f, mt, 4);
    if (st <= 0 || mcm < 0) goto done;
    int64_t fv = field_ref(&f, (size_t)st, 1), scm = field_ref(&f, (size_t)st, 2), feat = field_ref(&f, (size_t)st, 3);
    if (fv <= 0 || scm < 0 || feat < 0 || field_scalar(&f, (size_t)st, 0, &endianness, 2) < 0) goto done;
    uint32_t nf;
    if (rd32(&f, (size_t)fv, &nf) < 0 || nf > (f.len - (size_t)fv) / 4) goto done;
    size_t *olds = malloc(((size_t)nf + 1) * sizeof *olds);
    if (!olds) goto done;
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t u;
        size_t at = (size_t)fv + 4 + 4 * (size_t)i;
        if (rd32(&f, at, &u) < 0 || at + u >= f.len) {
            free(olds);
            goto done;
        }
        olds[i] = at + u;
    }

    /* the prefix; old positions are relative to the old buffer, placed at `base` once known */
    put32(&n, 0); /* root */
    align(&n, 2);
    size_t mv = n.len;
    put16(&n, 4 + 2 * 5);
    put16(&n, 24);
    put16(&n, 20);               /* version */
    put16(&n, 22);               /* header_type */
    put16(&n, 4);                /* header */
    put16(&n, 8);                /* bodyLength */
    put16(&n, mcm > 0 ? 16 : 0); /* custom_metadata */
    align(&n, 8);
    size_t mtab = n.len;
    put32(&n, (uint32_t)(mtab - mv));
    put32(&n, 0); /* header */
    pq_buf_put(&n, &body_len, 8);
    put32(&n, 0); /* custom_metadata */
    put16(&n, (uint16_t)version);
    pq_buf_byte(&n, header_type);
    pq_buf_byte(&n, 0);
    link(&n, 0, mtab);
    align(&n, 2);
    size_t sv = n.len;
    put16(&n, 4 + 2 * 4);
    put16(&n, 20);
    put16(&n, 16);                /* endianness */
    put16(&n, 4);                 /* fields */
    put16(&n, scm > 0 ? 8 : 0);   /* custom_metadata */
    put16(&n, feat > 0 ? 12 : 0); /* features */
    align(&n, 4);
    size_t stab = n.len;
    put32(&n, (uint32_t)(stab - sv));
    put32(&n, 0);
    put32(&n, 0);
    put32(&n, 0);
    put16(&n, (uint16_t)endianness);
    put16(&n, 0);
    link(&n, mtab + 4, stab);
    align(&n, 4);
    size_t vec = n.len;
    link(&n, stab + 4, vec);
    put32(&n, nf + 1);
    for (uint32_t i = 0; i <= nf; i++) put32(&n, 0);
    size_t list_child;
    size_t nf_at = field_table(&n, name, 1, ARROW_LIST, 1, &list_child);
    link(&n, vec + 4 + 4 * (size_t)nf, nf_at);
    size_t elem = field_table(&n, "element", 0, ARROW_UTF8, 0, NULL);
    link(&n, list_child, elem);
    align(&n, 8);
    size_t base = n.len;
    /* links into the old buffer */
    for (uint32_t i = 0; i < nf; i++) link(&n, vec + 4 + 4 * (size_t)i, base + olds[i]);
    free(olds);
    if (mcm > 0) link(&n, mtab + 16, base + (size_t)mcm);
    if (scm > 0) link(&n, stab + 8, base + (size_t)scm);
    if (feat > 0) link(&n, stab + 12, base + (size_t)feat);
    pq_buf_put(&n, f.p, f.len);
    align(&n, 8);

    pq_buf msg = {0};
    put32(&msg, 0xffffffffu);
    put32(&msg, (uint32_t)n.len);
    pq_buf_put(&msg, n.data, n.len);
    /* the message's body (a Schema has none), as it was */
    if (raw.len > start + mlen) pq_buf_put(&msg, raw.data + start + mlen, raw.len - start - mlen);
    pq_base64_encode(out, msg.data, msg.len);
    pq_buf_free(&msg);
    rc = 0;
done:
    pq_buf_free(&raw);
    pq_buf_free(&n);
    return rc;
}
