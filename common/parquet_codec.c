/* parquet_codec.c — page compression: UNCOMPRESSED, SNAPPY (libsnappy), GZIP (zlib, concatenated
 * members too), BROTLI (libbrotli, read only), the deprecated LZ4 (Hadoop framing, or a bare block
 * as some writers emit), ZSTD and LZ4_RAW (liblz4). Decompression must produce exactly the size
 * the page header announces: anything else is a corrupt page. */
#include "parquet_internal.h"

#include <brotli/decode.h>
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "optout/util.h"

const char *pq_codec_name(int codec) {
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? names[codec] : "unknown codec";
}

static int gunzip(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *err, size_t errlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) {
        optout_set_err(err, errlen, "GZIP: inflateInit failed");
        return -1;
    }
    z.next_in = (Bytef *)src;
    z.next_out = dst;
    int ok = 0;
    /* zlib's stream sizes are uInt: the page sizes are int32, so they fit */
    z.avail_in = (uInt)src_len;
    z.avail_out = (uInt)dst_len;
    for (;;) {
        int r = inflate(&z, Z_FINISH);
        if (r == Z_STREAM_END) {
            /* a gzip file may hold several members back to back: go on with the next one */
            if (z.avail_in > 0 && inflateReset(&z) == Z_OK) continue;
            ok = z.avail_in == 0 && z.avail_out == 0;
            break;
        }
        if (r == Z_BUF_ERROR && z.avail_out == 0 && dst_len == 0 && z.avail_in == 0) {
            ok = 1;
            break;
        }
        break;
    }
    inflateEnd(&z);
    if (!ok) optout_set_err(err, errlen, "GZIP: data does not inflate to %zu bytes", dst_len);
    return ok ? 0 : -1;
}

static int lz4_hadoop(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len) {
    /* Hadoop's framing: [u32 BE decompressed size][u32 BE compressed size][block]..., repeated */
    size_t in = 0, out = 0;
    while (in < src_len) {
        if (src_len - in < 8) return -1;
        uint32_t dlen =
            (uint32_t)src[in] << 24 | (uint32_t)src[in + 1] << 16 | (uint32_t)src[in + 2] << 8 | src[in + 3];
        uint32_t clen =
            (uint32_t)src[in + 4] << 24 | (uint32_t)src[in + 5] << 16 | (uint32_t)src[in + 6] << 8 | src[in + 7];
        in += 8;
        if (clen > src_len - in || dlen > dst_len - out || clen > INT32_MAX) return -1;
        int r = LZ4_decompress_safe((const char *)src + in, (char *)dst + out, (int)clen, (int)dlen);
        if (r < 0 || (uint32_t)r != dlen) return -1;
        in += clen;
        out += dlen;
    }
    return out == dst_len ? 0 : -1;
}

int pq_decompress(int codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *err,
                  size_t errlen) {
    /* an empty page: writers store no bytes at all, or a codec's encoding of nothing */
    if (dst_len == 0 && src_len == 0) return 0;
    switch (codec) {
    case PQ_CODEC_NONE:
        if (src_len != dst_len) {
            optout_set_err(err, errlen, "uncompressed page of %zu bytes announces %zu", src_len, dst_len);
            return -1;
        }
        memcpy(dst, src, src_len);
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t n = dst_len;
        size_t want;
        if (snappy_uncompressed_length((const char *)src, src_len, &want) != SNAPPY_OK || want != dst_len ||
            snappy_uncompress((const char *)src, src_len, (char *)dst, &n) != SNAPPY_OK || n != dst_len) {
            optout_set_err(err, errlen, "SNAPPY: data does not decompress to %zu bytes", dst_len);
            return -1;
        }
        return 0;
    }
    case PQ_CODEC_GZIP: return gunzip(src, src_len, dst, dst_len, err, errlen);
    case PQ_CODEC_ZSTD: {
        /* a zero-length page may still carry a (valid) empty zstd frame */
        size_t r = ZSTD_decompress(dst, dst_len, src, src_len);
        if (ZSTD_isError(r) || r != dst_len) {
            optout_set_err(err, errlen, "ZSTD: %s", ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong decompressed size");
            return -1;
        }
        return 0;
    }
    case PQ_CODEC_LZ4_RAW: {
        if (src_len > INT32_MAX || dst_len > INT32_MAX) break;
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_len, (int)dst_len);
        if (r < 0 || (size_t)r != dst_len) {
            optout_set_err(err, errlen, "LZ4_RAW: data does not decompress to %zu bytes", dst_len);
            return -1;
        }
        return 0;
    }
    case PQ_CODEC_LZ4: {
        if (src_len > INT32_MAX || dst_len > INT32_MAX) break;
        if (lz4_hadoop(src, src_len, dst, dst_len) == 0) return 0;
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_len, (int)dst_len);
        if (r < 0 || (size_t)r != dst_len) {
            optout_set_err(err, errlen, "LZ4: data does not decompress to %zu bytes (Hadoop framing or raw block)",
                           dst_len);
            return -1;
        }
        return 0;
    }
    case PQ_CODEC_BROTLI: {
        size_t n = dst_len;
        if (BrotliDecoderDecompress(src_len, src, &n, dst) != BROTLI_DECODER_RESULT_SUCCESS || n != dst_len) {
            optout_set_err(err, errlen, "BROTLI: data does not decompress to %zu bytes", dst_len);
            return -1;
        }
        return 0;
    }
    default: break;
    }
    optout_set_err(err, errlen, "unsupported compression codec %s (%d)", pq_codec_name(codec), codec);
    return -1;
}

int pq_compress(int codec, int level, const uint8_t *src, size_t src_len, pq_buf *out, char *err, size_t errlen) {
    switch (codec) {
    case PQ_CODEC_NONE: pq_buf_put(out, src, src_len); return 0;
    case PQ_CODEC_SNAPPY: {
        size_t n = snappy_max_compressed_length(src_len);
        pq_buf_reserve(out, n);
        if (snappy_compress((const char *)src, src_len, (char *)out->data + out->len, &n) != SNAPPY_OK) break;
        out->len += n;
        return 0;
    }
    case PQ_CODEC_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) break;
        size_t n = deflateBound(&z, (uLong)src_len) + 32;
        pq_buf_reserve(out, n);
        z.next_in = (Bytef *)src;
        z.avail_in = (uInt)src_len;
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)n;
        int r = deflate(&z, Z_FINISH);
        size_t produced = n - z.avail_out;
        deflateEnd(&z);
        if (r != Z_STREAM_END) break;
        out->len += produced;
        return 0;
    }
    case PQ_CODEC_ZSTD: {
        size_t n = ZSTD_compressBound(src_len);
        pq_buf_reserve(out, n);
        size_t r = ZSTD_compress(out->data + out->len, n, src, src_len, level);
        if (ZSTD_isError(r)) {
            optout_set_err(err, errlen, "ZSTD: %s", ZSTD_getErrorName(r));
            return -1;
        }
        out->len += r;
        return 0;
    }
    case PQ_CODEC_LZ4_RAW: {
        if (src_len > LZ4_MAX_INPUT_SIZE) break;
        int n = LZ4_compressBound((int)src_len);
        pq_buf_reserve(out, (size_t)n);
        int r = LZ4_compress_default((const char *)src, (char *)out->data + out->len, (int)src_len, n);
        if (r <= 0 && src_len > 0) break;
        out->len += (size_t)r;
        return 0;
    }
    default: optout_set_err(err, errlen, "cannot write codec %s", pq_codec_name(codec)); return -1;
    }
    optout_set_err(err, errlen, "%s: compression of %zu bytes failed", pq_codec_name(codec), src_len);
    return -1;
}
