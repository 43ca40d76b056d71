/* Unit tests of the Parquet format code: the Thrift compact protocol (round trips, hand-encoded
 * bytes, corrupt input), every encoding's decoder on byte vectors worked out by hand from the
 * format's specification, bit-packing at every width 0..64 against a bit-by-bit reference, the
 * codecs, and Apache's parquet-testing files (argv[1]; skipped with a message when absent)
 * compared with their *_expect.csv files and README descriptions, refused when corrupt or
 * encrypted, and filtered by the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <brotli/encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "optout/parquet.h"
#include "parquet_internal.h"

static const char *data_dir;
static char tmpdir[256];

static char *data_path(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", data_dir, name);
    return buf;
}

static int have_data(void) {
    struct stat st;
    if (data_dir && stat(data_dir, &st) == 0) return 1;
    print_message("SKIP: parquet-testing data not found at %s\n", data_dir ? data_dir : "(none)");
    return 0;
}

/* ---- Thrift ---------------------------------------------------------------------------------- */

static void test_thrift_round_trip(void **state) {
    (void)state;
    pq_buf b = {0};
    pq_tw w;
    pq_tw_init(&w, &b);
    pq_tw_i32(&w, 1, -5);
    pq_tw_i64(&w, 3, INT64_MIN);
    pq_tw_binary(&w, 4, "hello", 5);
    pq_tw_bool(&w, 5, 1);
    pq_tw_struct_begin(&w, 40); /* a delta above 15: long field header */
    pq_tw_i32(&w, 1, 7);
    pq_tw_struct_end(&w);
    pq_tw_list_begin(&w, 41, PQ_T_I32, 20); /* a long list header */
    for (int i = 0; i < 20; i++) pq_tw_elem_i32(&w, i * 1000);
    pq_tw_stop(&w);

    pq_tr t;
    pq_tr_init(&t, b.data, b.len);
    int16_t last = 0, id;
    int ft, seen = 0;
    while (pq_tr_field(&t, &last, &id, &ft) > 0) {
        int64_t v;
        const uint8_t *p;
        uint32_t n;
        int bv, et;
        switch (id) {
        case 1:
            assert_int_equal(pq_tr_int(&t, ft, &v), 0);
            assert_int_equal(v, -5);
            break;
        case 3:
            assert_int_equal(pq_tr_int(&t, ft, &v), 0);
            assert_true(v == INT64_MIN);
            break;
        case 4:
            assert_int_equal(pq_tr_binary(&t, ft, &p, &n), 0);
            assert_int_equal(n, 5);
            assert_memory_equal(p, "hello", 5);
            break;
        case 5:
            assert_int_equal(pq_tr_bool(&t, ft, &bv), 0);
            assert_int_equal(bv, 1);
            break;
        case 40: assert_int_equal(pq_tr_skip(&t, ft), 0); break; /* skipping a struct */
        case 41:
            assert_int_equal(pq_tr_list(&t, ft, &et, &n), 0);
            assert_int_equal(n, 20);
            for (uint32_t i = 0; i < n; i++) {
                assert_int_equal(pq_tr_elem_int(&t, et, &v), 0);
                assert_int_equal(v, (int64_t)i * 1000);
            }
            break;
        default: fail_msg("unexpected field %d", id);
        }
        seen++;
    }
    assert_false(t.failed);
    assert_int_equal(seen, 6);
    assert_true(t.p == t.end);
    pq_buf_free(&b);
}

static void test_thrift_hand_bytes(void **state) {
    (void)state;
    /* field 1 (delta 1) i32 (type 5) = 5 -> zigzag 10; field 2 binary "ab"; STOP */
    static const uint8_t in[] = {0x15, 0x0a, 0x18, 0x02, 'a', 'b', 0x00};
    pq_buf b = {0};
    pq_tw w;
    pq_tw_init(&w, &b);
    pq_tw_i32(&w, 1, 5);
    pq_tw_binary(&w, 2, "ab", 2);
    pq_tw_stop(&w);
    assert_int_equal(b.len, sizeof in);
    assert_memory_equal(b.data, in, sizeof in);
    pq_buf_free(&b);
}

static void test_thrift_corrupt(void **state) {
    (void)state;
    static const uint8_t truncated_varint[] = {0x15, 0xff, 0xff};
    static const uint8_t binary_past_end[] = {0x18, 0x7f, 'a'};
    static const uint8_t bad_type[] = {0x1d, 0x00};
    static const uint8_t list_lie[] = {0x19, 0xf5, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t no_stop[] = {0x15, 0x02};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{truncated_varint, sizeof truncated_varint},
                 {binary_past_end, sizeof binary_past_end},
                 {bad_type, sizeof bad_type},
                 {list_lie, sizeof list_lie},
                 {no_stop, sizeof no_stop}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pq_tr t;
        pq_tr_init(&t, cases[i].p, cases[i].n);
        assert_int_equal(pq_tr_skip(&t, PQ_T_STRUCT), -1);
        assert_true(t.failed);
        assert_non_null(strstr(t.msg, "corrupt Thrift"));
    }
    /* nesting deeper than the limit is refused, not recursed into */
    uint8_t deep[400];
    memset(deep, 0x1c, sizeof deep); /* field +1, struct, forever */
    pq_tr t;
    pq_tr_init(&t, deep, sizeof deep);
    assert_int_equal(pq_tr_skip(&t, PQ_T_STRUCT), -1);
    assert_non_null(strstr(t.msg, "nesting"));
}

static void test_page_header_round_trip(void **state) {
    (void)state;
    pq_page_header h = {.type = PQ_PAGE_DATA,
                        .uncompressed_size = 1000,
                        .compressed_size = 300,
                        .num_values = 77,
                        .encoding = PQ_ENC_RLE_DICT,
                        .has_crc = 1,
                        .crc = 0xdeadbeef};
    pq_buf b = {0};
    pq_page_header_encode(&b, &h);
    pq_page_header g;
    size_t hl;
    char err[200];
    assert_int_equal(pq_page_header_decode(&g, b.data, b.len, &hl, err, sizeof err), 0);
    assert_int_equal(hl, b.len);
    assert_int_equal(g.type, PQ_PAGE_DATA);
    assert_int_equal(g.uncompressed_size, 1000);
    assert_int_equal(g.compressed_size, 300);
    assert_int_equal(g.num_values, 77);
    assert_int_equal(g.encoding, PQ_ENC_RLE_DICT);
    assert_int_equal(g.def_encoding, PQ_ENC_RLE);
    assert_true(g.has_crc && g.crc == 0xdeadbeef);
    /* every shorter prefix asks for more bytes; none is taken for a header */
    for (size_t n = 0; n < b.len; n++) assert_int_equal(pq_page_header_decode(&g, b.data, n, &hl, err, sizeof err), 1);
    pq_buf_free(&b);
}

/* ---- encodings (vectors from the format specification, worked by hand) ------------------------ */

static void test_rle_spec_vectors(void **state) {
    (void)state;
    char err[200];
    uint32_t out[16];
    /* bit-packed run: one group of 8, values 0..7 at width 3 (the spec's example bytes) */
    static const uint8_t bp[] = {0x03, 0x88, 0xc6, 0xfa};
    assert_int_equal(pq_rle_decode(bp, sizeof bp, 3, 8, out, -1, err, sizeof err), 0);
    for (uint32_t i = 0; i < 8; i++) assert_int_equal(out[i], i);
    /* RLE run: 4 times the value 5 (header 4<<1, one value byte), then 2 times 300 at width 9 */
    static const uint8_t rle[] = {0x08, 0x05};
    assert_int_equal(pq_rle_decode(rle, sizeof rle, 3, 4, out, -1, err, sizeof err), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(out[i], 5);
    static const uint8_t rle9[] = {0x04, 0x2c, 0x01};
    assert_int_equal(pq_rle_decode(rle9, sizeof rle9, 9, 2, out, -1, err, sizeof err), 0);
    assert_int_equal(out[0], 300);
    assert_int_equal(out[1], 300);
    /* a value above the maximum (a dictionary index out of range) */
    assert_int_equal(pq_rle_decode(rle, sizeof rle, 3, 4, out, 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    /* truncated: the run header promises more values than the bytes hold */
    assert_int_equal(pq_rle_decode(bp, 2, 3, 8, out, -1, err, sizeof err), -1);
    /* legacy BIT_PACKED levels, MSB first: 0..7 at width 3 */
    static const uint8_t msb[] = {0x05, 0x39, 0x77};
    size_t used;
    assert_int_equal(pq_bitpacked_msb_decode(msb, sizeof msb, 3, 8, out, &used, err, sizeof err), 0);
    assert_int_equal(used, 3);
    for (uint32_t i = 0; i < 8; i++) assert_int_equal(out[i], i);
}

static void test_rle_encode_round_trip(void **state) {
    (void)state;
    char err[200];
    uint32_t v[1000], out[1000];
    for (int width = 0; width <= 32; width++) {
        uint64_t mask = width == 32 ? 0xffffffffu : ((uint64_t)1 << width) - 1;
        srand((unsigned)width);
        for (uint32_t n = 0; n < 1000; n += 37) {
            for (uint32_t i = 0; i < n; i++) {
                /* runs and noise mixed */
                v[i] = (i / 13) % 3 == 0 ? (uint32_t)(i / 13 & mask) : (uint32_t)((uint64_t)rand() & mask);
            }
            pq_buf b = {0};
            pq_rle_encode(&b, v, n, width);
            assert_int_equal(pq_rle_decode(b.data, b.len, width, n, out, -1, err, sizeof err), 0);
            if (n) assert_memory_equal(v, out, n * sizeof *v);
            pq_buf_free(&b);
        }
    }
}

static void test_unpack_every_width(void **state) {
    (void)state;
    uint64_t vals[64], out[64];
    uint8_t packed[64 * 8 + 8];
    for (int width = 0; width <= 64; width++) {
        uint64_t mask = width == 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
        for (int i = 0; i < 64; i++)
            vals[i] = (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ ((uint64_t)width << 32)) & mask;
        if (width) vals[0] = mask; /* the all-ones edge */
        /* reference packer: bit by bit, LSB first */
        memset(packed, 0, sizeof packed);
        size_t bit = 0;
        for (int i = 0; i < 64; i++)
            for (int k = 0; k < width; k++, bit++)
                if ((vals[i] >> k) & 1) packed[bit / 8] |= (uint8_t)(1u << (bit % 8));
        pq_unpack_bits(packed, 64, width, out);
        assert_memory_equal(vals, out, sizeof vals);
    }
}

static void test_plain(void **state) {
    (void)state;
    char err[200];
    uint8_t b[8];
    static const uint8_t bools[] = {0x05};
    assert_int_equal(pq_decode_plain_fixed(bools, 1, PQ_BOOLEAN, 1, 4, b, err, sizeof err), 0);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0);
    assert_int_equal(b[2], 1);
    assert_int_equal(b[3], 0);
    assert_int_equal(pq_decode_plain_fixed(bools, 1, PQ_BOOLEAN, 1, 9, b, err, sizeof err), -1);
    static const uint8_t ba[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0, 3, 0, 0, 0, 'x'};
    pq_bytes v[3];
    assert_int_equal(pq_decode_plain_ba(ba, 14, 2, v, err, sizeof err), 0);
    assert_int_equal(v[0].len, 2);
    assert_memory_equal(v[0].p, "hi", 2);
    assert_int_equal(v[1].len, 0);
    assert_int_equal(pq_decode_plain_ba(ba, sizeof ba, 3, v, err, sizeof err), -1); /* 3 bytes announced, 1 present */
    pq_buf out = {0};
    pq_encode_plain_ba(&out, v, 2);
    assert_int_equal(out.len, 10);
    assert_memory_equal(out.data, ba, 10);
    pq_buf_free(&out);
}

static void test_delta_binary_spec(void **state) {
    (void)state;
    char err[200];
    int32_t out32[8];
    size_t used;
    /* 1 2 3 4 5: block 128, 4 miniblocks, 5 values, first 1; min delta 1; widths 0 */
    static const uint8_t e1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(pq_decode_delta_binary(e1, sizeof e1, PQ_INT32, 5, (uint8_t *)out32, &used, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(out32[i], i + 1);
    assert_int_equal(used, sizeof e1);
    /* 7 5 3 1 2 3 4 5: min delta -2, relative deltas 0 0 0 3 3 3 3 at width 2 */
    static const uint8_t e2[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0x00, 0x00,
                                 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    static const int32_t want2[] = {7, 5, 3, 1, 2, 3, 4, 5};
    assert_int_equal(pq_decode_delta_binary(e2, sizeof e2, PQ_INT32, 8, (uint8_t *)out32, &used, err, sizeof err), 0);
    assert_memory_equal(out32, want2, sizeof want2);
    /* truncated miniblock */
    assert_int_equal(pq_decode_delta_binary(e2, sizeof e2 - 3, PQ_INT32, 8, (uint8_t *)out32, &used, err, sizeof err),
                     -1);
    /* our encoder, through the decoder, with wrapping extremes */
    int64_t v[300], back[300];
    for (int i = 0; i < 300; i++) v[i] = i % 5 == 0 ? INT64_MIN + i : i % 7 == 0 ? INT64_MAX - i : (int64_t)i * i;
    pq_buf b = {0};
    pq_encode_delta_binary(&b, v, 300);
    assert_int_equal(pq_decode_delta_binary(b.data, b.len, PQ_INT64, 300, (uint8_t *)back, &used, err, sizeof err), 0);
    assert_memory_equal(v, back, sizeof v);
    pq_buf_free(&b);
}

static void test_delta_byte_arrays_spec(void **state) {
    (void)state;
    char err[200];
    pq_bytes v[4];
    /* DELTA_LENGTH_BYTE_ARRAY: Hello World Foobar ABCDEF (lengths 5 5 6 6) */
    static const uint8_t dl[] = {0x80, 0x01, 0x04, 0x04, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
                                 0x00, 0x00, 'H',  'e',  'l',  'l',  'o',  'W',  'o',  'r',  'l',  'd',
                                 'F',  'o',  'o',  'b',  'a',  'r',  'A',  'B',  'C',  'D',  'E',  'F'};
    assert_int_equal(pq_decode_delta_length(dl, sizeof dl, 4, v, err, sizeof err), 0);
    const char *w1[] = {"Hello", "World", "Foobar", "ABCDEF"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(v[i].len, strlen(w1[i]));
        assert_memory_equal(v[i].p, w1[i], v[i].len);
    }
    assert_int_equal(pq_decode_delta_length(dl, sizeof dl - 1, 4, v, err, sizeof err), -1);
    /* DELTA_BYTE_ARRAY: axis axle babble babyhood (prefixes 0 2 0 3, suffixes axis le babble yhood) */
    static const uint8_t db[] = {
        0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x44, 0x01, 0,    0,   0,   0,   0,   0,   0,  0, 0,
        0,    0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 0x03, 0x00, 0x00, 0x00, 0x70, 0x00, 0,   0,   0,   0,   0,   0,  0, 0,
        0,    0,    'a',  'x',  'i',  's',  'l',  'e',  'b',  'a',  'b',  'b',  'l',  'e', 'y', 'h', 'o', 'o', 'd'};
    uint8_t *arena = NULL;
    assert_int_equal(pq_decode_delta_byte_array(db, sizeof db, 4, v, &arena, err, sizeof err), 0);
    const char *w2[] = {"axis", "axle", "babble", "babyhood"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(v[i].len, strlen(w2[i]));
        assert_memory_equal(v[i].p, w2[i], v[i].len);
    }
    free(arena);
    /* a prefix longer than the previous value is corrupt */
    uint8_t bad[sizeof db];
    memcpy(bad, db, sizeof db);
    bad[10] = 0x47; /* first relative prefix delta 7: prefix 5 on the second value after "axis" */
    assert_int_equal(pq_decode_delta_byte_array(bad, sizeof bad, 4, v, &arena, err, sizeof err), -1);
    free(arena);
}

static void test_byte_stream_split(void **state) {
    (void)state;
    char err[200];
    /* 1.0f = 00 00 80 3f, 2.0f = 00 00 00 40: stream k holds byte k of every value */
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x3f, 0x40};
    float out[2];
    assert_int_equal(pq_decode_byte_stream_split(in, sizeof in, 4, 2, (uint8_t *)out, err, sizeof err), 0);
    assert_true(out[0] == 1.0f && out[1] == 2.0f);
    assert_int_equal(pq_decode_byte_stream_split(in, 7, 4, 2, (uint8_t *)out, err, sizeof err), -1);
}

/* ---- codecs -------------------------------------------------------------------------------- */

static void test_codecs(void **state) {
    (void)state;
    char err[200];
    uint8_t src[5000], back[5000];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)("parquet pages "[i % 14] + (i % 97 == 0));
    const int codecs[] = {PQ_CODEC_NONE, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP, PQ_CODEC_ZSTD, PQ_CODEC_LZ4_RAW};
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        pq_buf b = {0};
        assert_int_equal(
            pq_compress(codecs[c], codecs[c] == PQ_CODEC_GZIP ? 6 : 3, src, sizeof src, &b, err, sizeof err), 0);
        assert_int_equal(pq_decompress(codecs[c], b.data, b.len, back, sizeof back, err, sizeof err), 0);
        assert_memory_equal(src, back, sizeof src);
        /* a wrong announced size, and damaged data, are errors */
        assert_int_equal(pq_decompress(codecs[c], b.data, b.len, back, sizeof back - 1, err, sizeof err), -1);
        if (codecs[c] != PQ_CODEC_NONE) {
            for (size_t i = 0; i < b.len; i += 7) b.data[i] ^= 0x5a;
            assert_int_equal(pq_decompress(codecs[c], b.data, b.len, back, sizeof back, err, sizeof err), -1);
        }
        pq_buf_free(&b);
    }
    /* GZIP: two concatenated members inflate as one page */
    pq_buf g1 = {0}, g2 = {0};
    assert_int_equal(pq_compress(PQ_CODEC_GZIP, 6, src, 2000, &g1, err, sizeof err), 0);
    assert_int_equal(pq_compress(PQ_CODEC_GZIP, 6, src + 2000, 3000, &g2, err, sizeof err), 0);
    pq_buf_put(&g1, g2.data, g2.len);
    assert_int_equal(pq_decompress(PQ_CODEC_GZIP, g1.data, g1.len, back, sizeof back, err, sizeof err), 0);
    assert_memory_equal(src, back, sizeof src);
    pq_buf_free(&g1);
    pq_buf_free(&g2);
    /* BROTLI (read only): libbrotlienc makes the input */
    uint8_t br[6000];
    size_t brn = sizeof br;
    assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, sizeof src, src, &brn, br));
    assert_int_equal(pq_decompress(PQ_CODEC_BROTLI, br, brn, back, sizeof back, err, sizeof err), 0);
    assert_memory_equal(src, back, sizeof src);
    /* LZ4 (deprecated codec): the Hadoop framing */
    pq_buf raw = {0};
    assert_int_equal(pq_compress(PQ_CODEC_LZ4_RAW, 0, src, sizeof src, &raw, err, sizeof err), 0);
    uint8_t hd[8] = {0,
                     0,
                     (uint8_t)(sizeof src >> 8),
                     (uint8_t)(sizeof src & 0xff),
                     (uint8_t)(raw.len >> 24),
                     (uint8_t)(raw.len >> 16),
                     (uint8_t)(raw.len >> 8),
                     (uint8_t)raw.len};
    pq_buf hadoop = {0};
    pq_buf_put(&hadoop, hd, 8);
    pq_buf_put(&hadoop, raw.data, raw.len);
    assert_int_equal(pq_decompress(PQ_CODEC_LZ4, hadoop.data, hadoop.len, back, sizeof back, err, sizeof err), 0);
    assert_memory_equal(src, back, sizeof src);
    pq_buf_free(&raw);
    pq_buf_free(&hadoop);
    assert_int_equal(pq_decompress(PQ_CODEC_LZO, src, 10, back, 10, err, sizeof err), -1);
    assert_non_null(strstr(err, "LZO"));
    /* levels per codec */
    int level, req = 23;
    assert_int_equal(optout_pq_codec_level(OPTOUT_PQ_CODEC_ZSTD, NULL, &level, err, sizeof err), 0);
    assert_int_equal(level, 3);
    assert_int_equal(optout_pq_codec_level(OPTOUT_PQ_CODEC_ZSTD, &req, &level, err, sizeof err), -1);
    req = 9;
    assert_int_equal(optout_pq_codec_level(OPTOUT_PQ_CODEC_GZIP, &req, &level, err, sizeof err), 0);
    assert_int_equal(optout_pq_codec_level(OPTOUT_PQ_CODEC_SNAPPY, &req, &level, err, sizeof err), -1);
    assert_non_null(strstr(err, "no compression level"));
}

/* ---- parquet-testing files ------------------------------------------------------------------ */

/* One CSV record (RFC 4180 quoting) into fields; returns the count, -1 at end of file. */
static int csv_record(FILE *fp, char fields[][256], int max) {
    int n = 0, c, quoted = 0, len = 0, any = 0;
    while ((c = fgetc(fp)) != EOF) {
        any = 1;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(fp);
                if (d == '"') {
                    if (len < 255) fields[n][len++] = '"';
                    continue;
                }
                quoted = 0;
                if (d == EOF) break;
                ungetc(d, fp);
                continue;
            }
            if (len < 255) fields[n][len++] = (char)c;
            continue;
        }
        if (c == '"') {
            quoted = 1;
        } else if (c == ',' || c == '\n') {
            fields[n][len] = 0;
            if (n < max - 1) n++;
            len = 0;
            if (c == '\n') return n;
        } else if (c != '\r' && len < 255) {
            fields[n][len++] = (char)c;
        }
    }
    if (!any) return -1;
    fields[n][len] = 0;
    return n + 1;
}

static void value_text(const optout_pq_value *v, char *buf, size_t len) {
    switch (v->kind) {
    case OPTOUT_PQ_NULL: buf[0] = 0; break;
    case OPTOUT_PQ_INT:
    case OPTOUT_PQ_BOOL: snprintf(buf, len, "%lld", (long long)v->u.i); break;
    case OPTOUT_PQ_DOUBLE: snprintf(buf, len, "%.17g", v->u.d); break;
    case OPTOUT_PQ_BYTES: snprintf(buf, len, "%.*s", (int)v->len, v->u.s); break;
    default: snprintf(buf, len, "time:%lld", (long long)v->u.i);
    }
}

/* Every leaf column of `file` (flat files only) read through optout_pq_read_column, compared
 * with the expect CSV, column by column in schema order. */
static void compare_expect(const char *file, const char *csv) {
    char err[1024];
    optout_pq_file *f = optout_pq_open(data_path(file), err, sizeof err);
    assert_non_null(f);
    FILE *fp = fopen(data_path(csv), "r");
    assert_non_null(fp);
    static char fields[80][256];
    int ncols = csv_record(fp, fields, 80);
    assert_int_equal(ncols, optout_pq_num_columns(f));
    optout_pq_column *cols = calloc((size_t)ncols, sizeof *cols);
    int64_t checked = 0;
    for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
        for (int c = 0; c < ncols; c++) {
            int r = optout_pq_read_column(f, g, optout_pq_column_path(f, c), &cols[c], err, sizeof err);
            if (r != 0) fail_msg("%s: %s", file, err);
        }
        for (size_t row = 0; row < cols[0].n; row++) {
            int n = csv_record(fp, fields, 80);
            assert_int_equal(n, ncols);
            for (int c = 0; c < ncols; c++) {
                char got[300];
                value_text(&cols[c].v[row], got, sizeof got);
                if (strcmp(got, fields[c]) != 0)
                    fail_msg("%s row %zu column %s: got '%s', want '%s'", file, row, optout_pq_column_path(f, c), got,
                             fields[c]);
            }
            checked++;
        }
        for (int c = 0; c < ncols; c++) optout_pq_column_free(&cols[c]);
    }
    assert_int_equal(csv_record(fp, fields, 80), -1); /* no rows left over */
    assert_int_equal(checked, optout_pq_num_rows(f));
    free(cols);
    fclose(fp);
    optout_pq_close(f);
}

static void test_expect_csv(void **state) {
    (void)state;
    if (!have_data()) skip();
    compare_expect("delta_binary_packed.parquet", "delta_binary_packed_expect.csv");
    compare_expect("delta_byte_array.parquet", "delta_byte_array_expect.csv");
    compare_expect("delta_encoding_optional_column.parquet", "delta_encoding_optional_column_expect.csv");
    compare_expect("delta_encoding_required_column.parquet", "delta_encoding_required_column_expect.csv");
}

static int collect_json(void *ctx, const char *json, size_t len) {
    pq_buf *b = ctx;
    pq_buf_put(b, json, len);
    pq_buf_byte(b, '\n');
    return 0;
}

static char *file_json(const char *path, char *err, size_t errlen) {
    optout_pq_file *f = optout_pq_open(path, err, errlen);
    if (!f) return NULL;
    pq_buf b = {0};
    for (int g = 0; g < optout_pq_num_row_groups(f); g++)
        if (optout_pq_row_group_json(f, g, collect_json, &b, err, errlen) != 0) {
            pq_buf_free(&b);
            optout_pq_close(f);
            return NULL;
        }
    pq_buf_byte(&b, 0);
    optout_pq_close(f);
    return (char *)b.data;
}

static void test_described_files(void **state) {
    (void)state;
    if (!have_data()) skip();
    char err[1024];
    /* alltypes_plain: 8 rows, ids in file order 4 5 6 7 2 3 0 1 */
    optout_pq_file *f = optout_pq_open(data_path("alltypes_plain.parquet"), err, sizeof err);
    assert_non_null(f);
    optout_pq_column c;
    assert_int_equal(optout_pq_read_column(f, 0, "id", &c, err, sizeof err), 0);
    static const int ids[] = {4, 5, 6, 7, 2, 3, 0, 1};
    assert_int_equal(c.n, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(c.v[i].u.i, ids[i]);
    optout_pq_column_free(&c);
    /* INT96 as UTC milliseconds: 2009-03-01 00:00 is 1235865600000 */
    assert_int_equal(optout_pq_read_column(f, 0, "timestamp_col", &c, err, sizeof err), 0);
    assert_int_equal(c.v[0].kind, OPTOUT_PQ_TIME_MS);
    assert_int_equal(c.v[0].u.i, 1235865600000LL);
    optout_pq_column_free(&c);
    assert_int_equal(optout_pq_read_column(f, 0, "no_such_column", &c, err, sizeof err), 1);
    optout_pq_close(f);
    /* concatenated gzip members: 513 UINT64 values 1..513 */
    f = optout_pq_open(data_path("concatenated_gzip_members.parquet"), err, sizeof err);
    assert_non_null(f);
    int64_t next = 1;
    for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
        assert_int_equal(optout_pq_read_column(f, g, optout_pq_column_path(f, 0), &c, err, sizeof err), 0);
        for (size_t i = 0; i < c.n; i++) assert_int_equal(c.v[i].u.i, next++);
        optout_pq_column_free(&c);
    }
    assert_int_equal(next, 514);
    optout_pq_close(f);
    /* int96_from_spark: 2024-01-01T12:34:56.123456 (session time zone UTC) */
    f = optout_pq_open(data_path("int96_from_spark.parquet"), err, sizeof err);
    assert_non_null(f);
    assert_int_equal(optout_pq_read_column(f, 0, "a", &c, err, sizeof err), 0);
    assert_int_equal(c.n, 6);
    assert_int_equal(c.v[4].kind, OPTOUT_PQ_NULL);
    assert_int_equal(c.v[1].u.i, 1704070800000LL); /* 2024-01-01T01:00:00Z */
    optout_pq_column_free(&c);
    optout_pq_close(f);
    /* a string-keyed map read by dotted path */
    f = optout_pq_open(data_path("incorrect_map_schema.parquet"), err, sizeof err);
    assert_non_null(f);
    assert_int_equal(optout_pq_read_column(f, 0, "my_map.name", &c, err, sizeof err), 0);
    assert_int_equal(c.v[0].kind, OPTOUT_PQ_BYTES);
    assert_string_equal(c.v[0].u.s, "report");
    optout_pq_column_free(&c);
    assert_int_equal(optout_pq_read_column(f, 0, "my_map.absent", &c, err, sizeof err), 0);
    assert_int_equal(c.v[0].kind, OPTOUT_PQ_NULL);
    optout_pq_column_free(&c);
    optout_pq_close(f);
    /* nested lists, the legacy two-level list and an empty list, as JSON */
    char *j = file_json(data_path("old_list_structure.parquet"), err, sizeof err);
    assert_non_null(j);
    assert_string_equal(j, "{\"a\":[[1,2],[3,4]]}\n");
    free(j);
    j = file_json(data_path("null_list.parquet"), err, sizeof err);
    assert_string_equal(j, "{\"emptylist\":[]}\n");
    free(j);
    j = file_json(data_path("nested_lists.snappy.parquet"), err, sizeof err);
    assert_non_null(j);
    assert_non_null(strstr(j, "{\"a\":[[[\"a\",\"b\"],[\"c\"]],[null,[\"d\"]]],\"b\":1}\n"));
    free(j);
    /* maps: string keys as an object, other keys as {key, value} pairs keeping their type */
    j = file_json(data_path("nested_maps.snappy.parquet"), err, sizeof err);
    assert_non_null(j);
    assert_non_null(
        strstr(j, "{\"a\":{\"a\":[{\"key\":1,\"value\":true},{\"key\":2,\"value\":false}]},\"b\":1,\"c\":1}\n"));
    free(j);
    j = file_json(data_path("incorrect_map_schema.parquet"), err, sizeof err);
    assert_string_equal(j, "{\"my_map\":{\"parent\":\"another\",\"name\":\"report\"}}\n");
    free(j);
    j = file_json(data_path("list_columns.parquet"), err, sizeof err);
    assert_string_equal(j, "{\"int64_list\":[1,2,3],\"utf8_list\":[\"abc\",\"efg\",\"hij\"]}\n"
                           "{\"int64_list\":[null,1],\"utf8_list\":null}\n"
                           "{\"int64_list\":[4],\"utf8_list\":[\"efg\",null,\"hij\",\"xyz\"]}\n");
    free(j);
}

static void expect_refused(const char *file, const char *what) {
    char err[1024];
    char *j = file_json(data_path(file), err, sizeof err);
    if (j) fail_msg("%s was read, expected an error with '%s'", file, what);
    if (!strstr(err, what) || !strstr(err, file)) fail_msg("%s: message '%s' lacks '%s'", file, err, what);
}

static void test_refused_files(void **state) {
    (void)state;
    if (!have_data()) skip();
    expect_refused("datapage_v1-corrupt-checksum.parquet", "CRC mismatch");
    expect_refused("datapage_v1-corrupt-checksum.parquet", "row group 0, column a, page 0");
    expect_refused("rle-dict-uncompressed-corrupt-checksum.parquet", "CRC mismatch");
    expect_refused("uniform_encryption.parquet.encrypted", "encrypted");
    expect_refused("encrypt_columns_plaintext_footer.parquet.encrypted", "encrypted");
    expect_refused("nation.dict-malformed.parquet", "column name");
    /* damaged copies of a good file */
    size_t len;
    FILE *fp = fopen(data_path("alltypes_plain.snappy.parquet"), "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 16];
    len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/damaged.parquet", tmpdir);
    struct {
        size_t cut; /* bytes removed from the end before the tail is rewritten */
        int patch;  /* what to break */
        const char *what;
    } cases[] = {
        {0, 1, "no PAR1 magic at the start"}, {0, 2, "footer length"}, {0, 3, "corrupt Thrift"}, {len / 2, 0, "PAR1"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static uint8_t copy[1 << 16];
        memcpy(copy, buf, len);
        size_t n = len - cases[i].cut;
        uint32_t flen = (uint32_t)copy[len - 8] | (uint32_t)copy[len - 7] << 8 | (uint32_t)copy[len - 6] << 16;
        if (cases[i].patch == 1) copy[0] = 'X';
        if (cases[i].patch == 2) copy[len - 6] = 0x7f;
        if (cases[i].patch == 3) memset(copy + len - 8 - flen, 0xff, 12);
        fp = fopen(path, "wb");
        fwrite(copy, 1, n, fp);
        fclose(fp);
        optout_pq_file *f = optout_pq_open(path, err, sizeof err);
        if (f) fail_msg("case %zu opened", i);
        if (!strstr(err, cases[i].what) || !strstr(err, "damaged.parquet"))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].what);
    }
    unlink(path);
}

/* A hand-made file: one required INT64 column "x", one row group, whose chunk is a dictionary
 * page of `dict_values` values (42, 43, ...) followed by a data page holding index 0, and with
 * plain_tail a PLAIN data page holding 7 (the fallback pyarrow writes when a dictionary grows too
 * large): one or two rows. */
static void write_dict_file(const char *path, uint32_t dict_values, int plain_tail) {
    pq_buf f = {0}, page = {0};
    pq_buf_put(&f, "PAR1", 4);
    int64_t chunk_start = (int64_t)f.len;
    for (uint32_t i = 0; i < dict_values; i++) {
        int64_t v = 42 + i;
        pq_buf_put(&page, &v, 8);
    }
    pq_page_header h = {.type = PQ_PAGE_DICT,
                        .uncompressed_size = (int32_t)page.len,
                        .compressed_size = (int32_t)page.len,
                        .num_values = (int32_t)dict_values,
                        .encoding = PQ_ENC_PLAIN};
    pq_page_header_encode(&f, &h);
    pq_buf_put(&f, page.data, page.len);
    int64_t data_start = (int64_t)f.len;
    static const uint8_t idx[] = {0x01, 0x02, 0x00}; /* bit width 1, RLE run of 1 zero */
    pq_page_header d = {.type = PQ_PAGE_DATA,
                        .uncompressed_size = 3,
                        .compressed_size = 3,
                        .num_values = 1,
                        .encoding = PQ_ENC_RLE_DICT};
    pq_page_header_encode(&f, &d);
    pq_buf_put(&f, idx, sizeof idx);
    if (plain_tail) {
        int64_t seven = 7;
        pq_page_header p = {.type = PQ_PAGE_DATA,
                            .uncompressed_size = 8,
                            .compressed_size = 8,
                            .num_values = 1,
                            .encoding = PQ_ENC_PLAIN};
        pq_page_header_encode(&f, &p);
        pq_buf_put(&f, &seven, 8);
    }
    int64_t rows = plain_tail ? 2 : 1;
    int64_t chunk_len = (int64_t)f.len - chunk_start;
    size_t footer_at = f.len;
    pq_tw t;
    pq_tw_init(&t, &f);
    pq_tw_i32(&t, 1, 1);
    pq_tw_list_begin(&t, 2, PQ_T_STRUCT, 2);
    pq_tw_elem_struct_begin(&t);
    pq_tw_binary(&t, 4, "schema", 6);
    pq_tw_i32(&t, 5, 1);
    pq_tw_struct_end(&t);
    pq_tw_elem_struct_begin(&t);
    pq_tw_i32(&t, 1, PQ_INT64);
    pq_tw_i32(&t, 3, PQ_REQUIRED);
    pq_tw_binary(&t, 4, "x", 1);
    pq_tw_struct_end(&t);
    pq_tw_i64(&t, 3, rows);
    pq_tw_list_begin(&t, 4, PQ_T_STRUCT, 1);
    pq_tw_elem_struct_begin(&t);
    pq_tw_list_begin(&t, 1, PQ_T_STRUCT, 1);
    pq_tw_elem_struct_begin(&t);
    pq_tw_i64(&t, 2, chunk_start);
    pq_tw_struct_begin(&t, 3);
    pq_tw_i32(&t, 1, PQ_INT64);
    pq_tw_list_begin(&t, 2, PQ_T_I32, 1);
    pq_tw_elem_i32(&t, PQ_ENC_PLAIN);
    pq_tw_list_begin(&t, 3, PQ_T_BINARY, 1);
    pq_tw_elem_binary(&t, "x", 1);
    pq_tw_i32(&t, 4, PQ_CODEC_NONE);
    pq_tw_i64(&t, 5, rows);
    pq_tw_i64(&t, 6, chunk_len);
    pq_tw_i64(&t, 7, chunk_len);
    pq_tw_i64(&t, 9, data_start);
    pq_tw_i64(&t, 11, chunk_start);
    pq_tw_struct_end(&t);
    pq_tw_struct_end(&t);
    pq_tw_i64(&t, 2, chunk_len);
    pq_tw_i64(&t, 3, rows);
    pq_tw_struct_end(&t);
    pq_tw_stop(&t);
    uint32_t flen = (uint32_t)(f.len - footer_at);
    pq_buf_put(&f, &flen, 4);
    pq_buf_put(&f, "PAR1", 4);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(f.data, 1, f.len, fp), f.len);
    fclose(fp);
    pq_buf_free(&f);
    pq_buf_free(&page);
}

static void test_hand_made_files(void **state) {
    (void)state;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/dict.parquet", tmpdir);
    write_dict_file(path, 2, 0);
    char *j = file_json(path, err, sizeof err);
    if (!j) fail_msg("%s", err);
    assert_string_equal(j, "{\"x\":42}\n");
    free(j);
    /* dictionary and PLAIN pages in one chunk, read and filtered (each row kept alone) */
    write_dict_file(path, 2, 1);
    j = file_json(path, err, sizeof err);
    if (!j) fail_msg("%s", err);
    assert_string_equal(j, "{\"x\":42}\n{\"x\":7}\n");
    free(j);
    char out[512];
    snprintf(out, sizeof out, "%s/dict_out.parquet", tmpdir);
    for (uint8_t keep = 1; keep <= 2; keep++) {
        optout_pq_file *f = optout_pq_open(path, err, sizeof err);
        assert_non_null(f);
        optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_NONE};
        optout_pq_writer *w = optout_pq_writer_open(out, f, &o, err, sizeof err);
        assert_int_equal(optout_pq_writer_row_group(w, 0, &keep, NULL, err, sizeof err), 0);
        assert_int_equal(optout_pq_writer_finish(w, err, sizeof err), 0);
        optout_pq_close(f);
        j = file_json(out, err, sizeof err);
        if (!j) fail_msg("%s", err);
        assert_string_equal(j, keep == 1 ? "{\"x\":42}\n" : "{\"x\":7}\n");
        free(j);
    }
    unlink(out);
    /* rows one at a time under a memory limit: a dictionary of 100,000 values (800 KB) does not fit
     * 64 KiB (refused before it is read, naming the page), fits 4 MiB; the end is checked */
    write_dict_file(path, 100000, 1);
    optout_pq_file *f = optout_pq_open(path, err, sizeof err);
    assert_non_null(f);
    const char *row;
    size_t len;
    optout_pq_rows *r = optout_pq_rows_open(f, 0, 64 << 10, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(optout_pq_rows_next(r, 1, &row, &len, err, sizeof err), -1);
    if (!strstr(err, "row group 0, column x, page 0: a page of 800000 bytes") || !strstr(err, "memory budget"))
        fail_msg("%s", err);
    optout_pq_rows_close(r);
    r = optout_pq_rows_open(f, 0, 4 << 20, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(optout_pq_rows_next(r, 1, &row, &len, err, sizeof err), 1);
    assert_string_equal(row, "{\"x\":42}");
    assert_int_equal(optout_pq_rows_next(r, 0, &row, &len, err, sizeof err), 1); /* passed over */
    assert_null(row);
    assert_int_equal(optout_pq_rows_next(r, 1, &row, &len, err, sizeof err), 0);
    optout_pq_rows_close(r);
    optout_pq_close(f);
    /* an index into an empty dictionary (found by fuzzing: read past the dictionary) */
    write_dict_file(path, 0, 0);
    j = file_json(path, err, sizeof err);
    assert_null(j);
    assert_non_null(strstr(err, "row group 0, column x, page 1: dictionary index out of range"));
    unlink(path);
    /* a footer giving its schema twice (found by fuzzing: counts past the second list) */
    pq_buf b = {0};
    pq_tw t;
    pq_tw_init(&t, &b);
    for (int k = 0; k < 2; k++) {
        pq_tw_list_begin(&t, 2, PQ_T_STRUCT, 1);
        pq_tw_elem_struct_begin(&t);
        pq_tw_binary(&t, 4, "s", 1);
        pq_tw_struct_end(&t);
    }
    pq_tw_stop(&t);
    pq_file_meta m;
    assert_int_equal(pq_meta_decode(&m, b.data, b.len, err, sizeof err), -1);
    if (!strstr(err, "schema given twice")) fail_msg("%s", err);
    pq_meta_free(&m);
}

/* ARROW:schema with the agents column appended: the old FlatBuffer is kept verbatim after the new
 * tables, the new names are there, the framing is the IPC continuation form; a value that does
 * not parse is refused (the writer then leaves the entry out). Arrow readers' view of the result
 * is checked by hand (Arrow JS: the old fields, then disallowed_user_agents: List<Utf8>). */
static void test_arrow_schema(void **state) {
    (void)state;
    if (!have_data()) skip();
    char err[1024];
    optout_pq_file *f = optout_pq_open(data_path("list_columns.parquet"), err, sizeof err);
    assert_non_null(f);
    const pq_kv *kv = NULL;
    for (uint32_t i = 0; i < f->meta.nkv; i++)
        if (strcmp(f->meta.kv[i].key, "ARROW:schema") == 0) kv = &f->meta.kv[i];
    assert_non_null(kv);
    pq_buf out = {0}, old = {0}, neu = {0};
    assert_int_equal(pq_arrow_schema_add_list(kv->value, kv->value_len, "disallowed_user_agents", &out), 0);
    assert_int_equal(pq_base64_decode(&old, kv->value, kv->value_len), 0);
    assert_int_equal(pq_base64_decode(&neu, out.data, out.len), 0);
    static const uint8_t cont[] = {0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(neu.data, cont, 4);
    uint32_t mlen;
    memcpy(&mlen, neu.data + 4, 4);
    assert_int_equal(mlen % 8, 0);
    assert_true(8 + (size_t)mlen <= neu.len);
    uint32_t omlen;
    size_t ostart = memcmp(old.data, cont, 4) == 0 ? 8 : 4;
    memcpy(&omlen, old.data + ostart - 4, 4);
    assert_non_null(memmem(neu.data + 8, mlen, old.data + ostart, omlen)); /* the old buffer, unchanged */
    assert_non_null(memmem(neu.data, neu.len, "disallowed_user_agents", 22));
    assert_non_null(memmem(neu.data, neu.len, "element", 7));
    /* the writer puts exactly that value in a removed/ file, other entries unchanged */
    char path[512];
    snprintf(path, sizeof path, "%s/arrow.parquet", tmpdir);
    optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_SNAPPY, .agents_column = 1};
    optout_pq_writer *w = optout_pq_writer_open(path, f, &o, err, sizeof err);
    assert_non_null(w);
    uint8_t keep = 0x01;
    const char *names[] = {"GPTBot"};
    optout_pq_agents ag = {names, 1};
    assert_int_equal(optout_pq_writer_row_group(w, 0, &keep, &ag, err, sizeof err), 0);
    assert_int_equal(optout_pq_writer_finish(w, err, sizeof err), 0);
    optout_pq_file *g = optout_pq_open(path, err, sizeof err);
    assert_non_null(g);
    assert_int_equal(g->meta.nkv, f->meta.nkv);
    for (uint32_t i = 0; i < g->meta.nkv; i++) {
        const pq_kv *a = &f->meta.kv[i], *b = &g->meta.kv[i];
        assert_string_equal(a->key, b->key);
        const pq_buf *want = a == kv ? &out : NULL;
        size_t wl = want ? want->len : a->value_len;
        assert_int_equal(b->value_len, wl);
        assert_memory_equal(b->value, want ? want->data : a->value, wl);
    }
    optout_pq_close(g);
    unlink(path);
    /* truncated or not base64: refused */
    pq_buf bad = {0};
    assert_int_equal(pq_arrow_schema_add_list(kv->value, kv->value_len / 2, "x", &bad), -1);
    assert_int_equal(pq_arrow_schema_add_list((const uint8_t *)"#not base64#", 12, "x", &bad), -1);
    pq_buf_free(&bad);
    pq_buf_free(&out);
    pq_buf_free(&old);
    pq_buf_free(&neu);
    optout_pq_close(f);
}

/* Every readable file through the writer (every 3rd row dropped) reads back as the input's rows
 * minus those; the removed/ form gets the agents column. */
static void test_filter_files(void **state) {
    (void)state;
    if (!have_data()) skip();
    static const char *const files[] = {"overflow_i16_page_cnt.parquet",
                                        "delta_length_byte_array.parquet",
                                        "alltypes_plain.parquet",
                                        "alltypes_dictionary.parquet",
                                        "nested_lists.snappy.parquet",
                                        "nested_maps.snappy.parquet",
                                        "datapage_v2.snappy.parquet",
                                        "delta_byte_array.parquet",
                                        "byte_stream_split.zstd.parquet",
                                        "nulls.snappy.parquet",
                                        "repeated_no_annotation.parquet",
                                        "rle_boolean_encoding.parquet",
                                        "plain-dict-uncompressed-checksum.parquet",
                                        "int32_with_null_pages.parquet",
                                        "fixed_length_decimal.parquet",
                                        "lz4_raw_compressed_larger.parquet"};
    const int codecs[] = {OPTOUT_PQ_CODEC_ZSTD, OPTOUT_PQ_CODEC_SNAPPY, OPTOUT_PQ_CODEC_GZIP, OPTOUT_PQ_CODEC_LZ4_RAW,
                          OPTOUT_PQ_CODEC_NONE};
    char err[1024], out[512];
    snprintf(out, sizeof out, "%s/out.parquet", tmpdir);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *in_json = file_json(data_path(files[i]), err, sizeof err);
        if (!in_json) fail_msg("%s", err);
        optout_pq_file *f = optout_pq_open(data_path(files[i]), err, sizeof err);
        optout_pq_write_opts o = {.codec = codecs[i % 5]};
        optout_pq_codec_level(o.codec, NULL, &o.level, err, sizeof err);
        optout_pq_writer *w = optout_pq_writer_open(out, f, &o, err, sizeof err);
        assert_non_null(w);
        int64_t base = 0;
        for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
            int64_t rows = optout_pq_row_group_rows(f, g);
            uint8_t *keep = calloc((size_t)rows / 8 + 1, 1);
            for (int64_t r = 0; r < rows; r++)
                if ((base + r) % 3 != 0) keep[r / 8] |= (uint8_t)(1u << (r % 8));
            if (optout_pq_writer_row_group(w, g, keep, NULL, err, sizeof err) != 0) fail_msg("%s", err);
            free(keep);
            base += rows;
        }
        assert_int_equal(optout_pq_writer_finish(w, err, sizeof err), 0);
        optout_pq_close(f);
        /* expected: the input's lines minus every third */
        pq_buf want = {0};
        int line = 0;
        for (char *p = in_json; *p;) {
            char *nl = strchr(p, '\n');
            if (line++ % 3 != 0) pq_buf_put(&want, p, (size_t)(nl - p + 1));
            p = nl + 1;
        }
        pq_buf_byte(&want, 0);
        /* the schema as the input has it: every element byte for byte, the root's fields too */
        optout_pq_file *in = optout_pq_open(data_path(files[i]), err, sizeof err),
                       *o2 = optout_pq_open(out, err, sizeof err);
        assert_non_null(in);
        assert_non_null(o2);
        assert_int_equal(in->meta.nschema, o2->meta.nschema);
        assert_int_equal(in->meta.schema[0].repetition, o2->meta.schema[0].repetition);
        assert_int_equal(in->meta.schema[0].has_field_id, o2->meta.schema[0].has_field_id);
        assert_int_equal(in->meta.schema[0].field_id, o2->meta.schema[0].field_id);
        assert_string_equal(in->meta.schema[0].name, o2->meta.schema[0].name);
        for (uint32_t k = 1; k < in->meta.nschema; k++) {
            assert_int_equal(in->meta.schema[k].raw_len, o2->meta.schema[k].raw_len);
            assert_memory_equal(in->meta.schema[k].raw, o2->meta.schema[k].raw, in->meta.schema[k].raw_len);
        }
        assert_int_equal(in->meta.nkv, o2->meta.nkv);
        optout_pq_close(in);
        optout_pq_close(o2);
        char *got = file_json(out, err, sizeof err);
        if (!got) fail_msg("%s: reading the output: %s", files[i], err);
        if (strcmp(got, (char *)want.data) != 0) fail_msg("%s: filtered rows differ", files[i]);
        free(got);
        pq_buf_free(&want);
        free(in_json);
    }
    /* removed/ form: agents column appended, other metadata kept */
    optout_pq_file *f = optout_pq_open(data_path("alltypes_dictionary.parquet"), err, sizeof err);
    assert_non_null(f);
    optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_ZSTD, .level = 3, .agents_column = 1};
    optout_pq_writer *w = optout_pq_writer_open(out, f, &o, err, sizeof err);
    assert_non_null(w);
    uint8_t keep[1] = {0x02};
    const char *names[] = {"GPTBot", "CCBot"};
    optout_pq_agents ag = {names, 2};
    assert_int_equal(optout_pq_writer_row_group(w, 0, keep, &ag, err, sizeof err), 0);
    assert_int_equal(optout_pq_writer_finish(w, err, sizeof err), 0);
    optout_pq_close(f);
    char *got = file_json(out, err, sizeof err);
    assert_non_null(got);
    assert_non_null(strstr(got, "\"id\":1,"));
    assert_non_null(strstr(got, ",\"disallowed_user_agents\":[\"GPTBot\",\"CCBot\"]}\n"));
    free(got);
    /* the writer does not write through a symbolic link */
    char link_path[600];
    snprintf(link_path, sizeof link_path, "%s/link.parquet", tmpdir);
    assert_int_equal(symlink(out, link_path), 0);
    f = optout_pq_open(data_path("alltypes_dictionary.parquet"), err, sizeof err);
    assert_null(optout_pq_writer_open(link_path, f, &o, err, sizeof err));
    assert_non_null(strstr(err, "link.parquet"));
    optout_pq_close(f);
    unlink(link_path);
    /* and an input that already has the column is refused */
    f = optout_pq_open(out, err, sizeof err);
    assert_non_null(f);
    assert_null(optout_pq_writer_open(out, f, &o, err, sizeof err));
    assert_non_null(strstr(err, "disallowed_user_agents"));
    optout_pq_close(f);
    unlink(out);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : NULL;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_parquet.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thrift_round_trip),  cmocka_unit_test(test_thrift_hand_bytes),
        cmocka_unit_test(test_thrift_corrupt),     cmocka_unit_test(test_page_header_round_trip),
        cmocka_unit_test(test_rle_spec_vectors),   cmocka_unit_test(test_rle_encode_round_trip),
        cmocka_unit_test(test_unpack_every_width), cmocka_unit_test(test_plain),
        cmocka_unit_test(test_delta_binary_spec),  cmocka_unit_test(test_delta_byte_arrays_spec),
        cmocka_unit_test(test_byte_stream_split),  cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_expect_csv),         cmocka_unit_test(test_described_files),
        cmocka_unit_test(test_refused_files),      cmocka_unit_test(test_filter_files),
        cmocka_unit_test(test_hand_made_files),    cmocka_unit_test(test_arrow_schema),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmpdir);
    return rc;
}
