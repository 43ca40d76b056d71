/* parquet_thrift.c — the Thrift compact protocol, as far as Parquet's footer and page headers use
 * it: a bounds-checked reader (any field can be skipped, nesting is limited so hostile input
 * cannot exhaust the stack) and a writer into a growable buffer. */
#include "parquet_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

#define PQ_TR_MAX_DEPTH 64

void pq_buf_reserve(pq_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) cap *= 2;
    uint8_t *n = realloc(b->data, cap);
    if (!n) { /* optout_malloc aborts: out of memory has no sensible answer here */
        n = optout_malloc(cap);
        if (b->len) memcpy(n, b->data, b->len);
        free(b->data);
    }
    b->data = n;
    b->cap = cap;
}

void pq_buf_put(pq_buf *b, const void *p, size_t n) {
    if (!n) return;
    pq_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void pq_buf_free(pq_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- reader ---------------------------------------------------------------------------------- */

void pq_tr_init(pq_tr *t, const void *data, size_t len) {
    t->base = t->p = data;
    t->end = t->p + len;
    t->depth = 0;
    t->failed = 0;
    t->msg[0] = 0;
}

int pq_tr_fail(pq_tr *t, const char *what) {
    if (!t->failed) snprintf(t->msg, sizeof t->msg, "corrupt Thrift at byte %zu: %s", (size_t)(t->p - t->base), what);
    t->failed = 1;
    return -1;
}

static int tr_uvarint(pq_tr *t, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (t->p >= t->end) return pq_tr_fail(t, "truncated varint");
        uint8_t c = *t->p++;
        if (shift == 63 && (c & 0x7e)) return pq_tr_fail(t, "varint overflows 64 bits");
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return pq_tr_fail(t, "varint longer than 10 bytes");
}

static int tr_zigzag(pq_tr *t, int64_t *v) {
    uint64_t u;
    if (tr_uvarint(t, &u) < 0) return -1;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int pq_tr_field(pq_tr *t, int16_t *last, int16_t *id, int *type) {
    if (t->failed) return -1;
    if (t->p >= t->end) return pq_tr_fail(t, "truncated struct (no STOP)");
    uint8_t c = *t->p++;
    if (c == 0) return 0;
    int ty = c & 0x0f, delta = c >> 4;
    if (ty == 0 || ty > PQ_T_STRUCT) return pq_tr_fail(t, "unknown field type");
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v;
        if (tr_zigzag(t, &v) < 0) return -1;
        if (v < INT16_MIN || v > INT16_MAX) return pq_tr_fail(t, "field id out of range");
        *id = (int16_t)v;
    }
    *last = *id;
    *type = ty;
    return 1;
}

int pq_tr_int(pq_tr *t, int type, int64_t *v) {
    if (t->failed) return -1;
    if (type == PQ_T_BYTE) {
        if (t->p >= t->end) return pq_tr_fail(t, "truncated byte");
        *v = (int8_t)*t->p++;
        return 0;
    }
    if (type != PQ_T_I16 && type != PQ_T_I32 && type != PQ_T_I64) return pq_tr_fail(t, "expected an integer field");
    if (tr_zigzag(t, v) < 0) return -1;
    if (type == PQ_T_I16 && (*v < INT16_MIN || *v > INT16_MAX)) return pq_tr_fail(t, "i16 out of range");
    if (type == PQ_T_I32 && (*v < INT32_MIN || *v > INT32_MAX)) return pq_tr_fail(t, "i32 out of range");
    return 0;
}

int pq_tr_bool(pq_tr *t, int type, int *v) {
    if (t->failed) return -1;
    if (type != PQ_T_TRUE && type != PQ_T_FALSE) return pq_tr_fail(t, "expected a bool field");
    *v = type == PQ_T_TRUE;
    return 0;
}

int pq_tr_binary(pq_tr *t, int type, const uint8_t **p, uint32_t *n) {
    if (t->failed) return -1;
    if (type != PQ_T_BINARY) return pq_tr_fail(t, "expected a binary field");
    uint64_t len;
    if (tr_uvarint(t, &len) < 0) return -1;
    if (len > (uint64_t)(t->end - t->p)) return pq_tr_fail(t, "binary longer than the buffer");
    *p = t->p;
    *n = (uint32_t)len;
    t->p += len;
    return 0;
}

int pq_tr_list(pq_tr *t, int type, int *elem_type, uint32_t *n) {
    if (t->failed) return -1;
    if (type != PQ_T_LIST && type != PQ_T_SET) return pq_tr_fail(t, "expected a list field");
    if (t->p >= t->end) return pq_tr_fail(t, "truncated list header");
    uint8_t c = *t->p++;
    uint64_t size = c >> 4;
    if (size == 15 && tr_uvarint(t, &size) < 0) return -1;
    *elem_type = c & 0x0f;
    if (*elem_type == PQ_T_STOP || *elem_type > PQ_T_STRUCT) return pq_tr_fail(t, "unknown list element type");
    /* every element takes at least one byte: a larger count is a lie that would make a caller
     * allocate without bound */
    if (size > (uint64_t)(t->end - t->p)) return pq_tr_fail(t, "list longer than the buffer");
    *n = (uint32_t)size;
    return 0;
}

int pq_tr_struct_begin(pq_tr *t, int type) {
    if (t->failed) return -1;
    if (type != PQ_T_STRUCT) return pq_tr_fail(t, "expected a struct field");
    if (++t->depth > PQ_TR_MAX_DEPTH) return pq_tr_fail(t, "nesting too deep");
    return 0;
}

void pq_tr_struct_end(pq_tr *t) { t->depth--; }

int pq_tr_elem_int(pq_tr *t, int et, int64_t *v) {
    if (et == PQ_T_TRUE || et == PQ_T_FALSE) {
        if (t->p >= t->end) return pq_tr_fail(t, "truncated bool");
        *v = *t->p++ == 1;
        return 0;
    }
    return pq_tr_int(t, et, v);
}

int pq_tr_skip(pq_tr *t, int type) {
    if (t->failed) return -1;
    int64_t v;
    const uint8_t *p;
    uint32_t n;
    switch (type) {
    case PQ_T_TRUE:
    case PQ_T_FALSE: return 0; /* a bool field's value is its type */
    case PQ_T_BYTE:
    case PQ_T_I16:
    case PQ_T_I32:
    case PQ_T_I64: return pq_tr_int(t, type, &v);
    case PQ_T_DOUBLE:
        if (t->end - t->p < 8) return pq_tr_fail(t, "truncated double");
        t->p += 8;
        return 0;
    case PQ_T_BINARY: return pq_tr_binary(t, type, &p, &n);
    case PQ_T_LIST:
    case PQ_T_SET: {
        int et;
        if (pq_tr_list(t, type, &et, &n) < 0) return -1;
        if (++t->depth > PQ_TR_MAX_DEPTH) return pq_tr_fail(t, "nesting too deep");
        for (uint32_t i = 0; i < n; i++) {
            if (et == PQ_T_TRUE || et == PQ_T_FALSE) {
                if (pq_tr_elem_int(t, et, &v) < 0) return -1;
            } else if (pq_tr_skip(t, et) < 0) {
                return -1;
            }
        }
        t->depth--;
        return 0;
    }
    case PQ_T_MAP: {
        uint64_t size;
        if (tr_uvarint(t, &size) < 0) return -1;
        if (size == 0) return 0;
        if (size > (uint64_t)(t->end - t->p)) return pq_tr_fail(t, "map longer than the buffer");
        if (t->p >= t->end) return pq_tr_fail(t, "truncated map header");
        uint8_t kv = *t->p++;
        int kt = kv >> 4, vt = kv & 0x0f;
        if (++t->depth > PQ_TR_MAX_DEPTH) return pq_tr_fail(t, "nesting too deep");
        for (uint64_t i = 0; i < size; i++) {
            for (int k = 0; k < 2; k++) {
                int et = k ? vt : kt;
                if (et == PQ_T_TRUE || et == PQ_T_FALSE) {
                    if (pq_tr_elem_int(t, et, &v) < 0) return -1;
                } else if (et == PQ_T_STOP || et > PQ_T_STRUCT) {
                    return pq_tr_fail(t, "unknown map element type");
                } else if (pq_tr_skip(t, et) < 0) {
                    return -1;
                }
            }
        }
        t->depth--;
        return 0;
    }
    case PQ_T_STRUCT: {
        if (pq_tr_struct_begin(t, type) < 0) return -1;
        int16_t last = 0, id;
        int ft, r;
        while ((r = pq_tr_field(t, &last, &id, &ft)) > 0)
            if (pq_tr_skip(t, ft) < 0) return -1;
        pq_tr_struct_end(t);
        return r;
    }
    default: return pq_tr_fail(t, "unknown type");
    }
}

/* ---- writer ---------------------------------------------------------------------------------- */

void pq_put_uvarint(pq_buf *b, uint64_t v) {
    pq_buf_reserve(b, 10);
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

static void put_zigzag(pq_buf *b, int64_t v) { pq_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void pq_tw_init(pq_tw *w, pq_buf *b) {
    w->b = b;
    w->depth = 0;
    w->last[0] = 0;
}

static void tw_field(pq_tw *w, int16_t id, int type) {
    int16_t delta = (int16_t)(id - w->last[w->depth]);
    if (delta > 0 && delta <= 15) {
        pq_buf_byte(w->b, (uint8_t)(delta << 4 | type));
    } else {
        pq_buf_byte(w->b, (uint8_t)type);
        put_zigzag(w->b, id);
    }
    w->last[w->depth] = id;
}

void pq_tw_i32(pq_tw *w, int16_t id, int32_t v) {
    tw_field(w, id, PQ_T_I32);
    put_zigzag(w->b, v);
}

void pq_tw_i64(pq_tw *w, int16_t id, int64_t v) {
    tw_field(w, id, PQ_T_I64);
    put_zigzag(w->b, v);
}

void pq_tw_bool(pq_tw *w, int16_t id, int v) { tw_field(w, id, v ? PQ_T_TRUE : PQ_T_FALSE); }

void pq_tw_binary(pq_tw *w, int16_t id, const void *p, size_t n) {
    tw_field(w, id, PQ_T_BINARY);
    pq_tw_elem_binary(w, p, n);
}

static void tw_push(pq_tw *w) {
    if (w->depth + 1 >= (int)(sizeof w->last / sizeof w->last[0])) abort(); /* our own structures only */
    w->last[++w->depth] = 0;
}

void pq_tw_struct_begin(pq_tw *w, int16_t id) {
    tw_field(w, id, PQ_T_STRUCT);
    tw_push(w);
}

void pq_tw_struct_end(pq_tw *w) {
    pq_buf_byte(w->b, 0);
    w->depth--;
}

void pq_tw_list_begin(pq_tw *w, int16_t id, int elem_type, uint32_t n) {
    tw_field(w, id, PQ_T_LIST);
    if (n < 15) {
        pq_buf_byte(w->b, (uint8_t)(n << 4 | (uint32_t)elem_type));
    } else {
        pq_buf_byte(w->b, (uint8_t)(0xf0 | elem_type));
        pq_put_uvarint(w->b, n);
    }
}

void pq_tw_elem_struct_begin(pq_tw *w) { tw_push(w); }

void pq_tw_elem_binary(pq_tw *w, const void *p, size_t n) {
    pq_put_uvarint(w->b, n);
    pq_buf_put(w->b, p, n);
}

void pq_tw_elem_i32(pq_tw *w, int32_t v) { put_zigzag(w->b, v); }

void pq_tw_elem_raw(pq_tw *w, const void *p, size_t n) { pq_buf_put(w->b, p, n); }

void pq_tw_stop(pq_tw *w) { pq_buf_byte(w->b, 0); }

void pq_tw_raw_field(pq_tw *w, int16_t id, int type, const void *p, size_t n) {
    tw_field(w, id, type);
    pq_buf_put(w->b, p, n);
}
