/* parquet_encoding.c — Parquet's value and level encodings: PLAIN, the RLE / bit-packed hybrid
 * (levels, dictionary indices, booleans), the legacy MSB-first BIT_PACKED levels,
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT. Decoders
 * write into caller-sized arrays (no allocation per value); byte-array values point into the page. */
#include "parquet_internal.h"

#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

int pq_bit_width(uint64_t max) {
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

void pq_unpack_bits(const uint8_t *p, uint32_t n, int width, uint64_t *out) {
    if (width == 0) {
        memset(out, 0, (size_t)n * sizeof *out);
        return;
    }
    /* a 128-bit accumulator holds a 64-bit value plus up to 7 leftover bits */
    unsigned __int128 acc = 0;
    int bits = 0;
    uint64_t mask = width == 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
    for (uint32_t i = 0; i < n; i++) {
        while (bits < width) {
            acc |= (unsigned __int128)*p++ << bits;
            bits += 8;
        }
        out[i] = (uint64_t)acc & mask;
        acc >>= width;
        bits -= width;
    }
}

static int uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) return -1;
        uint8_t c = *p++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

int pq_rle_decode(const uint8_t *p, size_t len, int width, uint32_t n, uint32_t *out, int64_t max_value, char *err,
                  size_t errlen) {
    const uint8_t *end = p + len;
    if (width < 0 || width > 32) {
        optout_set_err(err, errlen, "RLE: bit width %d out of range", width);
        return -1;
    }
    uint32_t i = 0;
    uint64_t tmp[8];
    while (i < n) {
        uint64_t h;
        if (uvarint(&p, end, &h) < 0) {
            optout_set_err(err, errlen, "RLE: truncated run header after %u of %u values", i, n);
            return -1;
        }
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t groups = h >> 1;
            if (groups == 0) continue;
            uint64_t bytes = groups * (uint64_t)width;
            /* writers may end the last run early (fewer bytes than the groups announce) when the
             * missing values are past n: accept that, but never read past the buffer */
            for (uint64_t g = 0; g < groups && i < n; g++) {
                if ((size_t)(end - p) < (size_t)width) {
                    optout_set_err(err, errlen, "RLE: bit-packed run of %llu bytes past the end",
                                   (unsigned long long)bytes);
                    return -1;
                }
                pq_unpack_bits(p, 8, width, tmp);
                p += width;
                for (int k = 0; k < 8 && i < n; k++) {
                    if (max_value >= 0 && tmp[k] > (uint64_t)max_value) {
                        optout_set_err(err, errlen, "value %llu out of range (max %lld) at %u",
                                       (unsigned long long)tmp[k], (long long)max_value, i);
                        return -1;
                    }
                    out[i++] = (uint32_t)tmp[k];
                }
            }
        } else {
            uint64_t count = h >> 1;
            int nb = (width + 7) / 8;
            if ((size_t)(end - p) < (size_t)nb) {
                optout_set_err(err, errlen, "RLE: truncated run value");
                return -1;
            }
            uint32_t v = 0;
            for (int k = 0; k < nb; k++) v |= (uint32_t)p[k] << (8 * k);
            p += nb;
            if (max_value >= 0 && v > (uint64_t)max_value && count > 0) {
                optout_set_err(err, errlen, "value %u out of range (max %lld) at %u", v, (long long)max_value, i);
                return -1;
            }
            if (count > n - i) count = n - i;
            for (uint64_t k = 0; k < count; k++) out[i++] = v;
        }
    }
    return 0;
}

static void pack8(pq_buf *b, const uint32_t *v, int width) {
    /* 8 values of `width` bits, LSB first: exactly `width` bytes */
    pq_buf_reserve(b, (size_t)width);
    uint64_t acc = 0;
    int bits = 0;
    for (int k = 0; k < 8; k++) {
        acc |= (uint64_t)v[k] << bits;
        bits += width;
        while (bits >= 8) {
            b->data[b->len++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
}

void pq_rle_encode(pq_buf *b, const uint32_t *v, uint32_t n, int width) {
    uint32_t i = 0;
    while (i < n) {
        uint32_t run = 1;
        while (i + run < n && v[i + run] == v[i]) run++;
        if (run >= 8 || width == 0) {
            pq_put_uvarint(b, (uint64_t)run << 1);
            for (int k = 0; k < (width + 7) / 8; k++) pq_buf_byte(b, (uint8_t)(v[i] >> (8 * k)));
            i += run;
            continue;
        }
        /* bit-packed groups until a run of 8 equal values starts at a group boundary */
        uint32_t start = i, groups = 0;
        size_t hdr = b->len;
        pq_put_uvarint(b, 0); /* placeholder, rewritten below when the count needs more bytes */
        size_t body = b->len;
        while (i < n) {
            uint32_t r = 1;
            while (i + r < n && r < 8 && v[i + r] == v[i]) r++;
            if (r >= 8 && i > start) break;
            uint32_t grp[8] = {0};
            for (int k = 0; k < 8 && i + (uint32_t)k < n; k++) grp[k] = v[i + (uint32_t)k];
            pack8(b, grp, width);
            i = i + 8 < n ? i + 8 : n;
            groups++;
        }
        pq_buf tmp = {0};
        pq_put_uvarint(&tmp, (uint64_t)groups << 1 | 1);
        if (tmp.len == body - hdr) {
            memcpy(b->data + hdr, tmp.data, tmp.len);
        } else {
            size_t blen = b->len - body;
            pq_buf_reserve(b, tmp.len);
            memmove(b->data + hdr + tmp.len, b->data + body, blen);
            memcpy(b->data + hdr, tmp.data, tmp.len);
            b->len = hdr + tmp.len + blen;
        }
        pq_buf_free(&tmp);
    }
}

int pq_bitpacked_msb_decode(const uint8_t *p, size_t len, int width, uint32_t n, uint32_t *out, size_t *used, char *err,
                            size_t errlen) {
    size_t need = ((size_t)n * (size_t)width + 7) / 8;
    if (width < 0 || width > 32 || need > len) {
        optout_set_err(err, errlen, "BIT_PACKED levels: %zu bytes needed, %zu present", need, len);
        return -1;
    }
    size_t bit = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (int k = 0; k < width; k++, bit++) v = v << 1 | ((p[bit / 8] >> (7 - bit % 8)) & 1);
        out[i] = v;
    }
    *used = need;
    return 0;
}

/* ---- PLAIN ----------------------------------------------------------------------------------- */

int pq_decode_plain_fixed(const uint8_t *p, size_t len, int type, int width, uint32_t n, uint8_t *out, char *err,
                          size_t errlen) {
    if (type == PQ_BOOLEAN) {
        if (((size_t)n + 7) / 8 > len) goto short_;
        for (uint32_t i = 0; i < n; i++) out[i] = (p[i / 8] >> (i % 8)) & 1;
        return 0;
    }
    if ((size_t)n * (size_t)width > len) goto short_;
    memcpy(out, p, (size_t)n * (size_t)width);
    return 0;
short_:
    optout_set_err(err, errlen, "PLAIN: %u values do not fit in %zu bytes", n, len);
    return -1;
}

int pq_decode_plain_ba(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, char *err, size_t errlen) {
    const uint8_t *end = p + len;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 4) goto short_;
        uint32_t l = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        if (l > (size_t)(end - p)) goto short_;
        out[i].p = p;
        out[i].len = l;
        p += l;
    }
    return 0;
short_:
    optout_set_err(err, errlen, "PLAIN: byte array values run past the page (%u values)", n);
    return -1;
}

void pq_encode_plain_bool(pq_buf *b, const uint8_t *v, uint32_t n) {
    size_t nb = ((size_t)n + 7) / 8;
    pq_buf_reserve(b, nb);
    memset(b->data + b->len, 0, nb);
    for (uint32_t i = 0; i < n; i++)
        if (v[i]) b->data[b->len + i / 8] |= (uint8_t)(1u << (i % 8));
    b->len += nb;
}

void pq_encode_plain_ba(pq_buf *b, const pq_bytes *v, uint32_t n) {
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += 4 + (size_t)v[i].len;
    pq_buf_reserve(b, total);
    uint8_t *o = b->data + b->len;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = v[i].len;
        o[0] = (uint8_t)l;
        o[1] = (uint8_t)(l >> 8);
        o[2] = (uint8_t)(l >> 16);
        o[3] = (uint8_t)(l >> 24);
        memcpy(o + 4, v[i].p, l);
        o += 4 + l;
    }
    b->len += total;
}

/* ---- DELTA_BINARY_PACKED ---------------------------------------------------------------------- */

/* Decodes the first n values into out (int64, wrapping arithmetic as the format specifies);
 * *used = the bytes consumed up to the end of the last miniblock read. */
static int delta_i64(const uint8_t *p, size_t len, uint32_t n, int64_t *out, size_t *used, char *err, size_t errlen) {
    const uint8_t *start = p, *end = p + len;
    uint64_t block, mbs, total, zz;
    if (uvarint(&p, end, &block) < 0 || uvarint(&p, end, &mbs) < 0 || uvarint(&p, end, &total) < 0 ||
        uvarint(&p, end, &zz) < 0) {
        optout_set_err(err, errlen, "DELTA_BINARY_PACKED: truncated header");
        return -1;
    }
    if (block == 0 || block > (1u << 20) || block % 128 || mbs == 0 || block % mbs || (block / mbs) % 32) {
        optout_set_err(err, errlen, "DELTA_BINARY_PACKED: bad block size %llu / %llu miniblocks",
                       (unsigned long long)block, (unsigned long long)mbs);
        return -1;
    }
    if (total < n) {
        optout_set_err(err, errlen, "DELTA_BINARY_PACKED: %llu values, %u expected", (unsigned long long)total, n);
        return -1;
    }
    uint64_t vpm = block / mbs;
    uint64_t cur = (zz >> 1) ^ -(zz & 1);
    uint32_t i = 0;
    if (n > 0) out[i++] = (int64_t)cur;
    uint64_t tmp[32];
    while (i < n) {
        uint64_t mzz;
        if (uvarint(&p, end, &mzz) < 0) goto trunc;
        uint64_t min_delta = (mzz >> 1) ^ -(mzz & 1);
        if ((uint64_t)(end - p) < mbs) goto trunc;
        const uint8_t *widths = p;
        p += mbs;
        for (uint64_t m = 0; m < mbs && i < n; m++) {
            int w = widths[m];
            if (w > 64) {
                optout_set_err(err, errlen, "DELTA_BINARY_PACKED: miniblock bit width %d", w);
                return -1;
            }
            uint64_t bytes = vpm * (uint64_t)w / 8;
            if ((uint64_t)(end - p) < bytes) goto trunc;
            for (uint64_t k = 0; k < vpm && i < n; k += 32) {
                pq_unpack_bits(p + k * (uint64_t)w / 8, 32, w, tmp);
                for (int j = 0; j < 32 && i < n; j++) {
                    cur += min_delta + tmp[j];
                    out[i++] = (int64_t)cur;
                }
            }
            p += bytes;
        }
    }
    *used = (size_t)(p - start);
    return 0;
trunc:
    optout_set_err(err, errlen, "DELTA_BINARY_PACKED: truncated after %u of %u values", i, n);
    return -1;
}

int pq_decode_delta_binary(const uint8_t *p, size_t len, int type, uint32_t n, uint8_t *out, size_t *used, char *err,
                           size_t errlen) {
    if (type != PQ_INT32 && type != PQ_INT64) {
        optout_set_err(err, errlen, "DELTA_BINARY_PACKED on a non-integer column");
        return -1;
    }
    int64_t *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    if (!tmp) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t u = 0;
    int rc = delta_i64(p, len, n, tmp, &u, err, errlen);
    if (rc == 0) {
        for (uint32_t i = 0; i < n; i++) {
            if (type == PQ_INT32) {
                int32_t v = (int32_t)(uint32_t)(uint64_t)tmp[i];
                memcpy(out + 4 * (size_t)i, &v, 4);
            } else {
                memcpy(out + 8 * (size_t)i, &tmp[i], 8);
            }
        }
        if (used) *used = u;
    }
    free(tmp);
    return rc;
}

void pq_encode_delta_binary(pq_buf *b, const int64_t *v, uint32_t n) {
    /* one miniblock of 32 per block of 128 (4 miniblocks), the format's usual shape */
    pq_put_uvarint(b, 128);
    pq_put_uvarint(b, 4);
    pq_put_uvarint(b, n);
    int64_t first = n ? v[0] : 0;
    pq_put_uvarint(b, ((uint64_t)first << 1) ^ (uint64_t)(first >> 63));
    uint32_t i = 1;
    while (i < n) {
        uint32_t cnt = n - i < 128 ? n - i : 128;
        uint64_t deltas[128] = {0};
        int64_t mind = INT64_MAX;
        for (uint32_t k = 0; k < cnt; k++) {
            int64_t d = (int64_t)((uint64_t)v[i + k] - (uint64_t)v[i + k - 1]);
            if (d < mind) mind = d;
        }
        for (uint32_t k = 0; k < cnt; k++) deltas[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1] - (uint64_t)mind;
        pq_put_uvarint(b, ((uint64_t)mind << 1) ^ (uint64_t)(mind >> 63));
        int widths[4];
        for (int m = 0; m < 4; m++) {
            uint64_t mx = 0;
            for (int k = 0; k < 32; k++)
                if ((uint32_t)(m * 32 + k) < cnt && deltas[m * 32 + k] > mx) mx = deltas[m * 32 + k];
            widths[m] = (uint32_t)(m * 32) < cnt ? pq_bit_width(mx) : 0;
            pq_buf_byte(b, (uint8_t)widths[m]);
        }
        for (int m = 0; m < 4 && (uint32_t)(m * 32) < cnt; m++) {
            int w = widths[m];
            unsigned __int128 acc = 0;
            int bits = 0;
            for (int k = 0; k < 32; k++) {
                acc |= (unsigned __int128)deltas[m * 32 + k] << bits;
                bits += w;
                while (bits >= 8) {
                    pq_buf_byte(b, (uint8_t)acc);
                    acc >>= 8;
                    bits -= 8;
                }
            }
        }
        i += cnt;
    }
}

/* ---- byte arrays ----------------------------------------------------------------------------- */

static int delta_length_core(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, size_t *used, char *err,
                             size_t errlen) {
    int64_t *lens = malloc(((size_t)n + 1) * sizeof *lens);
    if (!lens) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t u = 0;
    if (delta_i64(p, len, n, lens, &u, err, errlen) < 0) {
        free(lens);
        return -1;
    }
    const uint8_t *q = p + u, *end = p + len;
    for (uint32_t i = 0; i < n; i++) {
        if (lens[i] < 0 || (uint64_t)lens[i] > (uint64_t)(end - q)) {
            optout_set_err(err, errlen, "DELTA_LENGTH_BYTE_ARRAY: value %u of length %lld past the page", i,
                           (long long)lens[i]);
            free(lens);
            return -1;
        }
        out[i].p = q;
        out[i].len = (uint32_t)lens[i];
        q += lens[i];
    }
    free(lens);
    if (used) *used = (size_t)(q - p);
    return 0;
}

int pq_decode_delta_length(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, char *err, size_t errlen) {
    return delta_length_core(p, len, n, out, NULL, err, errlen);
}

int pq_decode_delta_byte_array(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, uint8_t **arena, char *err,
                               size_t errlen) {
    *arena = NULL;
    int64_t *pre = malloc(((size_t)n + 1) * sizeof *pre);
    if (!pre) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t u = 0;
    if (delta_i64(p, len, n, pre, &u, err, errlen) < 0 ||
        delta_length_core(p + u, len - u, n, out, NULL, err, errlen) < 0) {
        free(pre);
        return -1;
    }
    /* the full values: prefix of the previous value + suffix */
    uint64_t total = 0, prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (pre[i] < 0 || (uint64_t)pre[i] > prev) {
            optout_set_err(err, errlen, "DELTA_BYTE_ARRAY: prefix %lld of value %u longer than the previous value",
                           (long long)pre[i], i);
            free(pre);
            return -1;
        }
        prev = (uint64_t)pre[i] + out[i].len;
        if (prev > UINT32_MAX) {
            optout_set_err(err, errlen, "DELTA_BYTE_ARRAY: value %u longer than 4 GiB", i);
            free(pre);
            return -1;
        }
        total += prev;
    }
    if (total > ((uint64_t)1 << 34)) { /* prefixes can multiply a page's size; refuse absurd sizes */
        optout_set_err(err, errlen, "DELTA_BYTE_ARRAY: %llu bytes of values", (unsigned long long)total);
        free(pre);
        return -1;
    }
    uint8_t *a = malloc(total ? total : 1);
    if (!a) {
        optout_set_err(err, errlen, "out of memory");
        free(pre);
        return -1;
    }
    uint8_t *o = a;
    const uint8_t *last = NULL;
    for (uint32_t i = 0; i < n; i++) {
        size_t pl = (size_t)pre[i];
        if (pl) memcpy(o, last, pl);
        if (out[i].len) memcpy(o + pl, out[i].p, out[i].len);
        out[i].p = o;
        out[i].len = (uint32_t)(pl + out[i].len);
        last = o;
        o += out[i].len;
    }
    free(pre);
    *arena = a;
    return 0;
}

int pq_decode_byte_stream_split(const uint8_t *p, size_t len, int width, uint32_t n, uint8_t *out, char *err,
                                size_t errlen) {
    if ((size_t)n * (size_t)width > len) {
        optout_set_err(err, errlen, "BYTE_STREAM_SPLIT: %u values of %d bytes do not fit in %zu", n, width, len);
        return -1;
    }
    for (int k = 0; k < width; k++) {
        const uint8_t *s = p + (size_t)k * n;
        for (uint32_t i = 0; i < n; i++) out[(size_t)i * (size_t)width + (size_t)k] = s[i];
    }
    return 0;
}
