/* test_shard.c — streaming JSON Lines shards in and out (include/optout/shard.h).
 *
 * Fixtures are made in a private directory under /tmp (removed at the end): compressed files are
 * produced with libzstd / zlib directly (not with the writer under test) where the test is about
 * reading, and the writer's output is checked by decompressing it independently.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "optout/shard.h"

#include "../support/testdir.h"

/* ---- helpers ------------------------------------------------------------------------------- */


static int setup_dir(void **state) {
    (void)state;
    return testdir_create("test_shard");
}

static int remove_dir(void **state) {
    (void)state;
    return testdir_remove();
}


typedef struct {
    char *p;
    size_t len, cap;
} bytes;

static void b_add(bytes *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void b_str(bytes *b, const char *s) { b_add(b, s, strlen(s)); }

static void b_free(bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static bytes read_file(const char *path) {
    bytes b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) b_add(&b, tmp, n);
    fclose(f);
    return b;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int dir_entries(void) {
    int n = testdir_entries(tmpdir);
    assert_true(n >= 0);
    return n;
}

/* One zstd frame (with checksum) holding p[0, n). */
static void zstd_frame(bytes *out, const void *p, size_t n, int level) {
    ZSTD_CCtx *c = ZSTD_createCCtx();
    assert_non_null(c);
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t bound = ZSTD_compressBound(n);
    char *dst = malloc(bound);
    assert_non_null(dst);
    size_t k = ZSTD_compress2(c, dst, bound, p, n);
    assert_false(ZSTD_isError(k));
    b_add(out, dst, k);
    free(dst);
    ZSTD_freeCCtx(c);
}

/* A skippable frame (magic 0x184D2A5x) with `n` payload bytes. */
static void zstd_skippable(bytes *out, unsigned nibble, size_t n) {
    unsigned char h[8] = {(unsigned char)(0x50 | nibble), 0x2a, 0x4d, 0x18,
                          (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
    b_add(out, h, 8);
    for (size_t i = 0; i < n; i++) b_add(out, "\x28", 1); /* payload that looks like a magic */
}

/* One gzip member holding p[0, n). */
static void gzip_member(bytes *out, const void *p, size_t n, int level) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t bound = deflateBound(&zs, n);
    unsigned char *dst = malloc(bound);
    assert_non_null(dst);
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)bound;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    b_add(out, dst, bound - zs.avail_out);
    deflateEnd(&zs);
    free(dst);
}

/* Independent decoders for the writer's output. */
static bytes unzstd(const bytes *in) {
    bytes out = {0};
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in->p, in->len, 0};
    char tmp[1 << 16];
    size_t ret = 1;
    while (ib.pos < ib.size || ret != 0) {
        ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
        size_t before = ib.pos;
        ret = ZSTD_decompressStream(d, &ob, &ib);
        assert_false(ZSTD_isError(ret));
        b_add(&out, tmp, ob.pos);
        if (ob.pos == 0 && ib.pos == before) break; /* no progress: truncated */
    }
    assert_int_equal(ret, 0);
    ZSTD_freeDCtx(d);
    return out;
}

static bytes gunzip(const bytes *in) {
    bytes out = {0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 31), Z_OK);
    zs.next_in = (Bytef *)in->p;
    zs.avail_in = (uInt)in->len;
    unsigned char tmp[1 << 16];
    for (;;) {
        zs.next_out = tmp;
        zs.avail_out = sizeof tmp;
        int ret = inflate(&zs, Z_NO_FLUSH);
        b_add(&out, tmp, sizeof tmp - zs.avail_out);
        if (ret == Z_STREAM_END) {
            if (zs.avail_in == 0) break;
            inflateReset(&zs);
            continue;
        }
        assert_int_equal(ret, Z_OK);
    }
    inflateEnd(&zs);
    return out;
}

static bytes decode_any(const bytes *file, optout_shard_format f) {
    if (f == OPTOUT_FORMAT_ZSTD) return unzstd(file);
    if (f == OPTOUT_FORMAT_GZIP) return gunzip(file);
    bytes copy = {0};
    b_add(&copy, file->p, file->len);
    return copy;
}

/* Deterministic JSON-Lines-like text of about `size` bytes: lines of varied length (a few long
 * ones, some empty, some with CRLF), with or without a final newline. */
static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static bytes gen_content(size_t size, uint64_t seed, int final_newline, int with_huge) {
    static const char *words[] = {"the", "robots", "crawler", "data", "opt-out", "Zürich", "κόσμε",
                                  "training", "document", "\\\"quoted\\\"", "url", "example", "42"};
    bytes b = {0};
    rng_state = seed * 2654435761u + 1;
    uint64_t n = 0;
    while (b.len < size) {
        uint64_t r = rng() % 1000;
        size_t len = r < 5 ? 0 : r < 900 ? 50 + rng() % 3000 : r < 995 ? 5000 + rng() % 60000
                                                                        : 200000 + rng() % 400000;
        if (with_huge && n % 5000 == 4999) len = (1u << 20) + rng() % (3u << 20); /* > writer block */
        char head[96];
        snprintf(head, sizeof head, "{\"id\":%llu,\"url\":\"https://h%llu.example/p\",\"text\":\"",
                 (unsigned long long)n, (unsigned long long)(rng() % 100000));
        b_str(&b, head);
        size_t start = b.len;
        while (b.len - start < len) {
            b_str(&b, words[rng() % (sizeof words / sizeof *words)]);
            b_add(&b, " ", 1);
        }
        b_str(&b, "\"}");
        if (rng() % 50 == 0) b_add(&b, "\r", 1);
        b_add(&b, "\n", 1);
        n++;
    }
    if (!final_newline) b_str(&b, "{\"id\":\"last\",\"text\":\"no newline\"}");
    return b;
}

/* Reads `path` to the end (or error) and rebuilds the text from lines and pieces, checking the
 * reader's invariants on the way. Returns next()'s final value (0 or -1). */
static int read_back(const char *path, size_t max_line, bytes *text, size_t *nlines, char *err,
                     optout_shard_format *fmt) {
    optout_shard_reader *r = optout_shard_open(path, max_line, err, OPTOUT_SHARD_ERR_LEN);
    assert_non_null(r);
    if (fmt) *fmt = optout_shard_reader_format(r);
    size_t lim = max_line ? max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT;
    optout_shard_line l;
    int rc, in_piece = 0;
    size_t n = 0;
    while ((rc = optout_shard_next(r, &l, err, OPTOUT_SHARD_ERR_LEN)) == 1) {
        assert_int_equal(l.offset, text->len);
        assert_true(l.len <= lim);
        assert_null(memchr(l.data, '\n', l.len));
        if (l.oversized) {
            if (!l.last_piece) {
                assert_int_equal(l.len, lim); /* every piece but the last is full */
                assert_int_equal(l.newline, 0);
            } else {
                assert_true(l.len >= 1);
            }
        } else {
            assert_false(in_piece);
            assert_int_equal(l.last_piece, 0);
        }
        in_piece = l.oversized && !l.last_piece;
        b_add(text, l.data, l.len);
        if (l.newline) b_add(text, "\n", 1);
        if (!l.oversized || l.last_piece) n++;
    }
    if (rc == 0) assert_false(in_piece);
    if (rc == -1) { /* after an error, nothing more */
        char err2[OPTOUT_SHARD_ERR_LEN];
        assert_int_equal(optout_shard_next(r, &l, err2, sizeof err2), -1);
        assert_string_equal(err, err2);
    }
    if (rc == 0) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(optout_shard_bytes_read(r), (uint64_t)st.st_size);
    }
    optout_shard_close(r);
    if (nlines) *nlines = n;
    return rc;
}

static size_t count_lines(const bytes *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++) n += b->p[i] == '\n';
    return n + (b->len > 0 && b->p[b->len - 1] != '\n');
}

/* Writes `content` line by line with the writer (in `format`), commits. */
static void write_shard(const char *path, optout_shard_format format, int level, const bytes *content) {
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_writer *w = optout_shard_create(path, format, level, err, sizeof err);
    assert_non_null(w);
    size_t i = 0;
    while (i < content->len) {
        const char *nl = memchr(content->p + i, '\n', content->len - i);
        size_t len = nl ? (size_t)(nl - (content->p + i)) : content->len - i;
        assert_int_equal(optout_shard_write_line(w, content->p + i, len, nl != NULL, err, sizeof err), 0);
        i += len + (nl != NULL);
    }
    assert_int_equal(optout_shard_bytes_written(w), content->len);
    assert_int_equal(optout_shard_commit(w, err, sizeof err), 0);
}

/* Writer round trip: the file decodes (independently) to `content`, and the reader gives it back. */
static void round_trip(const bytes *content, optout_shard_format format, size_t max_line, const char *name) {
    const char *path = tpath("%s", name);
    write_shard(path, format, 0, content);
    bytes file = read_file(path);
    bytes dec = decode_any(&file, format);
    assert_int_equal(dec.len, content->len);
    assert_memory_equal(dec.p, content->p, content->len);

    bytes text = {0};
    size_t nlines;
    char err[OPTOUT_SHARD_ERR_LEN] = "";
    optout_shard_format got;
    assert_int_equal(read_back(path, max_line, &text, &nlines, err, &got), 0);
    assert_int_equal(got, format);
    assert_int_equal(text.len, content->len);
    assert_memory_equal(text.p, content->p, content->len);
    if (max_line == 0) assert_int_equal(nlines, count_lines(content));
    b_free(&file);
    b_free(&dec);
    b_free(&text);
    unlink(path);
}

static const optout_shard_format all_formats[] = {OPTOUT_FORMAT_PLAIN, OPTOUT_FORMAT_GZIP, OPTOUT_FORMAT_ZSTD};
static const char *const ext[] = {"", ".gz", ".zst"};

/* Reading a fixture file must give back `expect` exactly. */
static void expect_reads_as(const char *path, const bytes *expect, optout_shard_format format) {
    bytes text = {0};
    char err[OPTOUT_SHARD_ERR_LEN] = "";
    optout_shard_format got;
    int rc = read_back(path, 0, &text, NULL, err, &got);
    if (rc != 0) fail_msg("%s", err);
    assert_int_equal(got, format);
    assert_int_equal(text.len, expect->len);
    if (expect->len) assert_memory_equal(text.p, expect->p, expect->len);
    b_free(&text);
}

/* Reading must fail with a message naming the file and a byte offset. With `exact_prefix` (a cut
 * file), the lines given before are complete lines of `original`; with corrupt data they may be
 * garbage (gzip's CRC and zstd's checksum are checked at the end of a member or frame), which is
 * why callers abort their output on error. */
static void expect_read_error_ex(const char *path, const bytes *original, const char *what, int exact_prefix) {
    bytes text = {0};
    char err[OPTOUT_SHARD_ERR_LEN] = "";
    assert_int_equal(read_back(path, 0, &text, NULL, err, NULL), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "byte "));
    if (what) {
        if (!strstr(err, what)) fail_msg("expected \"%s\" in: %s", what, err);
    }
    /* What was given is a prefix of the original made of whole lines. */
    if (exact_prefix && text.len) {
        assert_true(text.len <= original->len);
        assert_memory_equal(text.p, original->p, text.len);
        assert_int_equal(text.p[text.len - 1], '\n');
    }
    b_free(&text);
}

static void expect_read_error(const char *path, const bytes *original, const char *what) {
    expect_read_error_ex(path, original, what, 1);
}

static void expect_corrupt(const char *path, const bytes *original, const char *what) {
    expect_read_error_ex(path, original, what, 0);
}

/* ---- reading and writing: round trips --------------------------------------------------------- */

static void test_round_trip_small(void **state) {
    (void)state;
    for (int f = 0; f < 3; f++) {
        for (int nl = 0; nl < 2; nl++) {
            bytes c = {0};
            b_str(&c, "{\"url\":\"https://a.example/\",\"text\":\"one\"}\n{\"text\":\"two\"}\n\n");
            b_str(&c, nl ? "{\"text\":\"three\"}\n" : "{\"text\":\"three\"}");
            round_trip(&c, all_formats[f], 0, ext[f][0] ? (ext[f][1] == 'g' ? "s.jsonl.gz" : "s.jsonl.zst") : "s.jsonl");
            b_free(&c);
        }
        bytes one = {0};
        b_str(&one, "x");
        round_trip(&one, all_formats[f], 0, "one");
        b_free(&one);
        bytes nl = {0};
        b_str(&nl, "\n");
        round_trip(&nl, all_formats[f], 0, "newline");
        b_free(&nl);
    }
}

static void test_round_trip_large(void **state) {
    (void)state;
    for (int nl = 0; nl < 2; nl++) {
        bytes c = gen_content(24u << 20, 7 + (uint64_t)nl, nl, 1);
        for (int f = 0; f < 3; f++) round_trip(&c, all_formats[f], 0, nl ? "large" : "large_nonl");
        b_free(&c);
    }
}

static void test_crlf_kept(void **state) {
    (void)state;
    static const char text[] = "{\"a\":1}\r\n\r\n{\"b\":2}\r\n\r{\"c\":3}\r";
    bytes c = {0};
    b_add(&c, text, sizeof text - 1);
    for (int f = 0; f < 3; f++) round_trip(&c, all_formats[f], 0, "crlf");

    write_file(tpath("crlf.jsonl"), text, sizeof text - 1);
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_reader *r = optout_shard_open(tpath("crlf.jsonl"), 0, err, sizeof err);
    assert_non_null(r);
    optout_shard_line l;
    static const char *const want[] = {"{\"a\":1}\r", "\r", "{\"b\":2}\r", "\r{\"c\":3}\r"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 1);
        assert_int_equal(l.len, strlen(want[i]));
        assert_memory_equal(l.data, want[i], l.len);
        assert_int_equal(l.newline, i < 3);
        assert_int_equal(l.oversized, 0);
    }
    assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
    assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
    optout_shard_close(r);
    b_free(&c);
}

/* ---- reading: multi-frame, multi-member, skippable frames, empty files -------------------------- */

static void test_multi_frame_zstd(void **state) {
    (void)state;
    bytes c = gen_content(3u << 20, 11, 1, 0);
    size_t cut = c.len / 3 + 17; /* frame boundaries in the middle of lines */
    bytes file = {0};
    zstd_frame(&file, c.p, cut, 3);
    zstd_frame(&file, c.p, 0, 3); /* an empty frame between */
    zstd_frame(&file, c.p + cut, c.len - cut - 5, 1);
    zstd_frame(&file, c.p + c.len - 5, 5, 19);
    write_file(tpath("multi.zst"), file.p, file.len);
    expect_reads_as(tpath("multi.zst"), &c, OPTOUT_FORMAT_ZSTD);

    /* Two files concatenated, as `cat a.zst b.zst`. */
    const char *a = tpath("a.jsonl.zst"), *b = tpath("b.jsonl.zst");
    bytes ca = {0}, cb = {0};
    b_add(&ca, c.p, cut);
    b_add(&cb, c.p + cut, c.len - cut);
    write_shard(a, OPTOUT_FORMAT_ZSTD, 0, &ca);
    write_shard(b, OPTOUT_FORMAT_ZSTD, 5, &cb);
    bytes fa = read_file(a), fb = read_file(b);
    b_add(&fa, fb.p, fb.len);
    write_file(tpath("ab.zst"), fa.p, fa.len);
    expect_reads_as(tpath("ab.zst"), &c, OPTOUT_FORMAT_ZSTD);
    b_free(&fa), b_free(&fb), b_free(&ca), b_free(&cb), b_free(&file), b_free(&c);
}

static void test_multi_member_gzip(void **state) {
    (void)state;
    bytes c = gen_content(3u << 20, 12, 0, 0);
    size_t cut = c.len / 2 + 3;
    bytes file = {0};
    gzip_member(&file, c.p, cut, 6);
    gzip_member(&file, c.p, 0, 6); /* an empty member between */
    gzip_member(&file, c.p + cut, c.len - cut, 1);
    write_file(tpath("multi.gz"), file.p, file.len);
    expect_reads_as(tpath("multi.gz"), &c, OPTOUT_FORMAT_GZIP);

    /* Many tiny members, several per read block. */
    bytes many = {0};
    for (size_t i = 0; i < c.len; i += 1000) gzip_member(&many, c.p + i, c.len - i < 1000 ? c.len - i : 1000, 1);
    write_file(tpath("many.gz"), many.p, many.len);
    expect_reads_as(tpath("many.gz"), &c, OPTOUT_FORMAT_GZIP);
    b_free(&many), b_free(&file), b_free(&c);
}

static void test_skippable_zstd_frames(void **state) {
    (void)state;
    bytes c = gen_content(200000, 13, 1, 0);
    bytes file = {0};
    zstd_skippable(&file, 0, 100);  /* first: the file still reads as zstd */
    zstd_frame(&file, c.p, 1000, 3);
    zstd_skippable(&file, 7, 0);
    zstd_skippable(&file, 15, 70000);
    zstd_frame(&file, c.p + 1000, c.len - 1000, 3);
    zstd_skippable(&file, 3, 12); /* last */
    write_file(tpath("skip.zst"), file.p, file.len);
    expect_reads_as(tpath("skip.zst"), &c, OPTOUT_FORMAT_ZSTD);

    bytes only = {0}, none = {0};
    zstd_skippable(&only, 9, 33);
    write_file(tpath("onlyskip.zst"), only.p, only.len);
    expect_reads_as(tpath("onlyskip.zst"), &none, OPTOUT_FORMAT_ZSTD);
    b_free(&only), b_free(&file), b_free(&c);
}

static void test_empty_files(void **state) {
    (void)state;
    bytes none = {0}, z = {0}, g = {0};
    write_file(tpath("empty.jsonl"), "", 0);
    expect_reads_as(tpath("empty.jsonl"), &none, OPTOUT_FORMAT_PLAIN);
    zstd_frame(&z, "", 0, 3);
    write_file(tpath("empty.zst"), z.p, z.len);
    expect_reads_as(tpath("empty.zst"), &none, OPTOUT_FORMAT_ZSTD);
    gzip_member(&g, "", 0, 6);
    write_file(tpath("empty.gz"), g.p, g.len);
    expect_reads_as(tpath("empty.gz"), &none, OPTOUT_FORMAT_GZIP);

    /* The writer's empty shards: an empty file, an empty gzip member, an empty zstd frame. */
    for (int f = 0; f < 3; f++) {
        const char *p = tpath("wempty%s", ext[f]);
        write_shard(p, all_formats[f], 0, &none);
        bytes file = read_file(p);
        if (all_formats[f] == OPTOUT_FORMAT_PLAIN) assert_int_equal(file.len, 0);
        else assert_true(file.len > 0);
        bytes dec = decode_any(&file, all_formats[f]);
        assert_int_equal(dec.len, 0);
        expect_reads_as(p, &none, all_formats[f]);
        b_free(&file), b_free(&dec);
    }
    /* Short plain files shorter than a magic number. */
    write_file(tpath("short.jsonl"), "\x1f", 1);
    bytes s = {0};
    b_add(&s, "\x1f", 1);
    expect_reads_as(tpath("short.jsonl"), &s, OPTOUT_FORMAT_PLAIN);
    write_file(tpath("short2.jsonl"), "(\xb5/", 3);
    b_free(&s);
    b_add(&s, "(\xb5/", 3);
    expect_reads_as(tpath("short2.jsonl"), &s, OPTOUT_FORMAT_PLAIN);
    b_free(&s), b_free(&z), b_free(&g);
}

static void test_format_by_content_not_name(void **state) {
    (void)state;
    bytes c = {0}, z = {0};
    b_str(&c, "{\"a\":1}\n");
    zstd_frame(&z, c.p, c.len, 3);
    write_file(tpath("really_zstd.gz"), z.p, z.len);
    expect_reads_as(tpath("really_zstd.gz"), &c, OPTOUT_FORMAT_ZSTD);
    write_file(tpath("really_plain.zst"), c.p, c.len);
    expect_reads_as(tpath("really_plain.zst"), &c, OPTOUT_FORMAT_PLAIN);
    b_free(&c), b_free(&z);
}

static void test_format_of_name(void **state) {
    (void)state;
    assert_int_equal(optout_shard_format_of_name("a/b.jsonl.gz"), OPTOUT_FORMAT_GZIP);
    assert_int_equal(optout_shard_format_of_name("a/b.jsonl.zst"), OPTOUT_FORMAT_ZSTD);
    assert_int_equal(optout_shard_format_of_name("a/b.jsonl"), OPTOUT_FORMAT_PLAIN);
    assert_int_equal(optout_shard_format_of_name("b.gzip"), OPTOUT_FORMAT_PLAIN);
    assert_int_equal(optout_shard_format_of_name(".zst"), OPTOUT_FORMAT_ZSTD);
    assert_int_equal(optout_shard_format_of_name(""), OPTOUT_FORMAT_PLAIN);
}

/* ---- reading: lines longer than max_line ------------------------------------------------------- */

/* Expected pieces of one line of `len` bytes with max_line m. */
static void check_pieces(optout_shard_reader *r, const char *line, size_t len, int newline, size_t m) {
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_line l;
    if (len <= m) {
        assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 1);
        assert_int_equal(l.len, len);
        assert_memory_equal(l.data, line, len);
        assert_int_equal(l.newline, newline);
        assert_int_equal(l.oversized, 0);
        assert_int_equal(l.last_piece, 0);
        return;
    }
    size_t done = 0;
    while (done < len) {
        size_t piece = len - done > m ? m : len - done;
        int last = done + piece == len;
        assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 1);
        assert_int_equal(l.len, piece);
        assert_memory_equal(l.data, line + done, piece);
        assert_int_equal(l.oversized, 1);
        assert_int_equal(l.last_piece, last);
        assert_int_equal(l.newline, last && newline);
        done += piece;
    }
}

static void test_oversized_lines(void **state) {
    (void)state;
    const size_t m = 1024;
    static const size_t lens[] = {0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 100000, 5, 1500000, 7, 1024};
    const size_t nl = sizeof lens / sizeof *lens;
    bytes c = {0};
    size_t *starts = calloc(nl, sizeof *starts);
    for (size_t i = 0; i < nl; i++) {
        starts[i] = c.len;
        for (size_t k = 0; k < lens[i]; k++) b_add(&c, &"abcdefghij\r"[(k * 7 + i) % 11], 1);
        if (i + 1 < nl) b_add(&c, "\n", 1); /* the last line has no newline */
    }
    for (int f = 0; f < 3; f++) {
        for (int tail = 0; tail < 2; tail++) {
            /* tail 1: the last line oversized (3000 bytes, no newline; pieces 1024+1024+952) */
            bytes cc = {0};
            b_add(&cc, c.p, c.len);
            if (tail) {
                b_add(&cc, "\n", 1);
                for (int k = 0; k < 3000; k++) b_add(&cc, "z", 1);
            }
            const char *p = tpath("over%d%s", tail, ext[f]);
            write_shard(p, all_formats[f], 0, &cc);
            char err[OPTOUT_SHARD_ERR_LEN];
            optout_shard_reader *r = optout_shard_open(p, m, err, sizeof err);
            assert_non_null(r);
            for (size_t i = 0; i < nl; i++)
                check_pieces(r, c.p + starts[i], lens[i], i + 1 < nl || tail, m);
            if (tail) check_pieces(r, cc.p + c.len + 1, 3000, 0, m);
            optout_shard_line l;
            assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
            optout_shard_close(r);

            /* Pieces concatenate to the original, offsets are consistent. */
            bytes text = {0};
            assert_int_equal(read_back(p, m, &text, NULL, err, NULL), 0);
            assert_int_equal(text.len, cc.len);
            assert_memory_equal(text.p, cc.p, cc.len);
            b_free(&text), b_free(&cc);
        }
    }
    /* An oversized last line whose final piece is exactly max_line, and the whole large corpus
     * with a small max_line. */
    bytes e = {0};
    for (int k = 0; k < 2048; k++) b_add(&e, "q", 1);
    write_file(tpath("exact"), e.p, e.len);
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_reader *r = optout_shard_open(tpath("exact"), m, err, sizeof err);
    assert_non_null(r);
    check_pieces(r, e.p, 2048, 0, m);
    optout_shard_line l;
    assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
    optout_shard_close(r);

    bytes big = gen_content(6u << 20, 21, 0, 0);
    for (int f = 0; f < 3; f++) round_trip(&big, all_formats[f], m, "bigsmall");
    b_free(&big), b_free(&e), b_free(&c);
    free(starts);
}

/* max_line larger than the reader's block: the line buffer grows, and pieces are still exact. */
static void test_oversized_beyond_block(void **state) {
    (void)state;
    const size_t m = (3u << 20) + 5;
    bytes c = {0};
    b_str(&c, "{\"short\":1}\n");
    size_t start = c.len, len = 10u << 20;
    for (size_t k = 0; k < len; k++) b_add(&c, &"0123456789abcdef"[(k * 13) % 16], 1);
    b_str(&c, "\n{\"after\":2}\n");
    const char *p = tpath("beyond.zst");
    write_shard(p, OPTOUT_FORMAT_ZSTD, 1, &c);
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_reader *r = optout_shard_open(p, m, err, sizeof err);
    assert_non_null(r);
    check_pieces(r, c.p, start - 1, 1, m);
    check_pieces(r, c.p + start, len, 1, m);
    check_pieces(r, c.p + start + len + 1, strlen("{\"after\":2}"), 1, m);
    optout_shard_line l;
    assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
    optout_shard_close(r);
    b_free(&c);
}

/* Lines up to the default max_line (64 MiB) come back whole. */
static void test_line_of_64_mib(void **state) {
    (void)state;
    size_t len = OPTOUT_SHARD_MAX_LINE_DEFAULT;
    bytes c = {0};
    b_add(&c, "{\"a\":1}\n", 8);
    char *line = malloc(len);
    assert_non_null(line);
    for (size_t k = 0; k < len; k++) line[k] = (char)('a' + (k * 31 + k / 4096) % 26);
    b_add(&c, line, len);
    b_add(&c, "\n{\"b\":2}", 8);
    for (int f = 0; f < 3; f += 2) { /* plain and zstd */
        const char *p = tpath("huge%s", ext[f]);
        write_shard(p, all_formats[f], 1, &c);
        char err[OPTOUT_SHARD_ERR_LEN];
        optout_shard_reader *r = optout_shard_open(p, 0, err, sizeof err);
        assert_non_null(r);
        check_pieces(r, "{\"a\":1}", 7, 1, len);
        check_pieces(r, line, len, 1, len);
        check_pieces(r, "{\"b\":2}", 7, 0, len);
        optout_shard_line l;
        assert_int_equal(optout_shard_next(r, &l, err, sizeof err), 0);
        optout_shard_close(r);
        unlink(p);
    }
    free(line);
    b_free(&c);
}

/* ---- reading: truncated and corrupt input ------------------------------------------------------ */

static void cut_file(const char *src, const char *dst, size_t keep) {
    bytes b = read_file(src);
    assert_true(keep <= b.len);
    write_file(dst, b.p, keep);
    b_free(&b);
}

static void test_truncated(void **state) {
    (void)state;
    bytes c = gen_content(4u << 20, 31, 1, 0);
    for (int f = 1; f < 3; f++) {
        const char *what = f == 1 ? "truncated gzip" : "truncated zstd";
        const char *full = tpath("full%s", ext[f]);
        write_shard(full, all_formats[f], 0, &c);
        struct stat st;
        assert_int_equal(stat(full, &st), 0);
        size_t size = (size_t)st.st_size;
        const size_t keeps[] = {size / 2, size - 1, size - 4, size - 9, 5, 12};
        for (size_t i = 0; i < sizeof keeps / sizeof *keeps; i++) {
            const char *cut = tpath("cut%zu%s", i, ext[f]);
            cut_file(full, cut, keeps[i]);
            expect_read_error(cut, &c, what);
        }
    }
    /* A zstd magic number alone; a gzip header alone. */
    write_file(tpath("magic.zst"), "\x28\xb5\x2f\xfd", 4);
    expect_read_error(tpath("magic.zst"), &c, "truncated zstd");
    write_file(tpath("magic.gz"), "\x1f\x8b", 2);
    expect_read_error(tpath("magic.gz"), &c, "truncated gzip");
    /* A truncated skippable frame. */
    bytes s = {0};
    zstd_skippable(&s, 1, 100);
    write_file(tpath("skipcut.zst"), s.p, 50);
    expect_read_error(tpath("skipcut.zst"), &c, "truncated zstd");
    b_free(&s), b_free(&c);
}

static void test_corrupt(void **state) {
    (void)state;
    bytes c = gen_content(4u << 20, 41, 1, 0);
    for (int f = 1; f < 3; f++) {
        const char *full = tpath("good%s", ext[f]);
        write_shard(full, all_formats[f], 0, &c);
        bytes b = read_file(full);
        /* Bytes flipped in the middle. */
        bytes bad = {0};
        b_add(&bad, b.p, b.len);
        for (size_t k = 0; k < 16; k++) bad.p[bad.len / 2 + k] ^= (char)0xa5;
        write_file(tpath("bad%s", ext[f]), bad.p, bad.len);
        expect_corrupt(tpath("bad%s", ext[f]), &c, NULL);
        /* One bit flipped near the end (caught by the checksum / CRC at the latest). */
        b_free(&bad);
        b_add(&bad, b.p, b.len);
        bad.p[bad.len - 30] ^= 0x10;
        write_file(tpath("bit%s", ext[f]), bad.p, bad.len);
        expect_corrupt(tpath("bit%s", ext[f]), &c, NULL);
        /* Garbage after the last frame / member. */
        b_free(&bad);
        b_add(&bad, b.p, b.len);
        b_str(&bad, "garbage\n");
        write_file(tpath("tail%s", ext[f]), bad.p, bad.len);
        expect_read_error(tpath("tail%s", ext[f]), &c, f == 1 ? "corrupt gzip" : "corrupt zstd");
        b_free(&bad), b_free(&b);
    }
    b_free(&c);
}

static void test_open_errors(void **state) {
    (void)state;
    char err[OPTOUT_SHARD_ERR_LEN] = "";
    const char *p = tpath("does-not-exist.jsonl");
    assert_null(optout_shard_open(p, 0, err, sizeof err));
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, strerror(ENOENT)));
    err[0] = 0;
    assert_null(optout_shard_open(tmpdir, 0, err, sizeof err)); /* a directory: read fails */
    assert_non_null(strstr(err, tmpdir));
}

/* ---- writing: publication ------------------------------------------------------------------------ */

static void test_writer_commit_publishes(void **state) {
    (void)state;
    assert_int_equal(dir_entries(), 0);
    char err[OPTOUT_SHARD_ERR_LEN];
    const char *path = tpath("out.jsonl.zst");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    optout_shard_writer *w = optout_shard_create(path, OPTOUT_FORMAT_ZSTD, 0, err, sizeof err);
    assert_non_null(w);
    assert_true(exists(tmp));
    assert_false(exists(path));
    bytes c = gen_content(3u << 20, 51, 1, 0); /* more than one block: data reaches the file */
    assert_int_equal(optout_shard_write_line(w, c.p, c.len - 1, 1, err, sizeof err), 0);
    assert_false(exists(path));
    assert_true(exists(tmp));
    assert_int_equal(dir_entries(), 1);
    assert_int_equal(optout_shard_commit(w, err, sizeof err), 0);
    assert_true(exists(path));
    assert_false(exists(tmp));
    assert_int_equal(dir_entries(), 1);
    bytes f = read_file(path), d = unzstd(&f);
    assert_int_equal(d.len, c.len);
    assert_memory_equal(d.p, c.p, c.len);

    /* Committing over an existing file replaces it whole. */
    bytes small = {0};
    b_str(&small, "{\"new\":1}\n");
    write_shard(path, OPTOUT_FORMAT_ZSTD, 0, &small);
    expect_reads_as(path, &small, OPTOUT_FORMAT_ZSTD);
    assert_int_equal(dir_entries(), 1);
    unlink(path);
    b_free(&small), b_free(&f), b_free(&d), b_free(&c);
}

static void test_writer_abort_removes_tmp(void **state) {
    (void)state;
    assert_int_equal(dir_entries(), 0);
    for (int f = 0; f < 3; f++) {
        char err[OPTOUT_SHARD_ERR_LEN];
        const char *path = tpath("aborted%s", ext[f]);
        optout_shard_writer *w = optout_shard_create(path, all_formats[f], 0, err, sizeof err);
        assert_non_null(w);
        bytes c = gen_content(3u << 20, 61, 1, 0);
        assert_int_equal(optout_shard_write_line(w, c.p, c.len, 0, err, sizeof err), 0);
        assert_int_equal(dir_entries(), 1);
        optout_shard_abort(w);
        assert_false(exists(path));
        assert_int_equal(dir_entries(), 0);
        b_free(&c);
    }
    optout_shard_abort(NULL);
}

/* A stale temporary file of the same name (a crashed process with the same pid) is replaced. */
static void test_writer_replaces_stale_tmp(void **state) {
    (void)state;
    char err[OPTOUT_SHARD_ERR_LEN];
    const char *path = tpath("stale.jsonl");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    write_file(tmp, "old junk that must not survive\n", 31);
    optout_shard_writer *w = optout_shard_create(path, OPTOUT_FORMAT_PLAIN, 0, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(optout_shard_write_line(w, "new", 3, 1, err, sizeof err), 0);
    assert_int_equal(optout_shard_commit(w, err, sizeof err), 0);
    bytes b = read_file(path);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.p, "new\n", 4);
    assert_false(exists(tmp));
    unlink(path);
    b_free(&b);
}

static void test_writer_unwritable(void **state) {
    (void)state;
    char err[OPTOUT_SHARD_ERR_LEN] = "";
    const char *p = tpath("no/such/dir/x.jsonl.zst");
    assert_null(optout_shard_create(p, OPTOUT_FORMAT_ZSTD, 0, err, sizeof err));
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, strerror(ENOENT)));

    write_file(tpath("afile"), "x", 1); /* a parent that is a file */
    p = tpath("afile/x.jsonl");
    err[0] = 0;
    assert_null(optout_shard_create(p, OPTOUT_FORMAT_PLAIN, 0, err, sizeof err));
    assert_non_null(strstr(err, p));
    unlink(tpath("afile"));

    if (geteuid() != 0) { /* root writes anywhere: only meaningful for other users */
        const char *d = tpath("ro");
        assert_int_equal(mkdir(d, 0555), 0);
        p = tpath("ro/x.jsonl.gz");
        err[0] = 0;
        assert_null(optout_shard_create(p, OPTOUT_FORMAT_GZIP, 0, err, sizeof err));
        assert_non_null(strstr(err, p));
        assert_non_null(strstr(err, strerror(EACCES)));
        rmdir(d);
    }
}

static void test_writer_levels(void **state) {
    (void)state;
    char err[OPTOUT_SHARD_ERR_LEN];
    bytes c = gen_content(1u << 20, 71, 1, 0);
    const int zl[] = {0, 1, 3, 19}, gl[] = {0, 1, 9};
    for (size_t i = 0; i < 4; i++) {
        const char *p = tpath("lvl%zu.zst", i);
        write_shard(p, OPTOUT_FORMAT_ZSTD, zl[i], &c);
        expect_reads_as(p, &c, OPTOUT_FORMAT_ZSTD);
        unlink(p);
    }
    for (size_t i = 0; i < 3; i++) {
        const char *p = tpath("lvl%zu.gz", i);
        write_shard(p, OPTOUT_FORMAT_GZIP, gl[i], &c);
        expect_reads_as(p, &c, OPTOUT_FORMAT_GZIP);
        unlink(p);
    }
    const struct { optout_shard_format f; int level; } bad[] = {
        {OPTOUT_FORMAT_ZSTD, 20}, {OPTOUT_FORMAT_ZSTD, -1}, {OPTOUT_FORMAT_GZIP, 10}, {OPTOUT_FORMAT_GZIP, -3}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        const char *p = tpath("badlevel");
        assert_null(optout_shard_create(p, bad[i].f, bad[i].level, err, sizeof err));
        assert_non_null(strstr(err, p));
        assert_non_null(strstr(err, "level"));
    }
    assert_int_equal(dir_entries(), 0);
    b_free(&c);
}

/* A write error (here EFBIG from RLIMIT_FSIZE, standing in for ENOSPC) surfaces by commit at the
 * latest, names the file, and leaves neither the file nor the temporary file behind. */
static void test_writer_write_error(void **state) {
    (void)state;
    bytes c = gen_content(4u << 20, 91, 1, 0);
    for (int f = 0; f < 3; f++) {
        char err[OPTOUT_SHARD_ERR_LEN] = "";
        const char *path = tpath("full%s", ext[f]);
        struct rlimit old, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = 100000;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        optout_shard_writer *w = optout_shard_create(path, all_formats[f], 1, err, sizeof err);
        assert_non_null(w);
        int rc = 0;
        for (size_t i = 0; i < c.len && rc == 0; i += 4096)
            rc = optout_shard_write_line(w, c.p + i, c.len - i < 4096 ? c.len - i : 4096, 0, err, sizeof err);
        if (rc == 0) rc = optout_shard_commit(w, err, sizeof err);
        else {
            char err2[OPTOUT_SHARD_ERR_LEN];
            assert_int_equal(optout_shard_write_line(w, "x", 1, 1, err2, sizeof err2), -1); /* stays failed */
            optout_shard_abort(w);
        }
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, prev);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, strerror(EFBIG)));
        assert_false(exists(path));
        assert_int_equal(dir_entries(), 0);
    }
    b_free(&c);
}

/* Pass-through: reading any format and writing its pieces and lines as given reproduces the text
 * byte for byte, in the input's format (--keep-format) or in zstd. */
static void test_copy_through(void **state) {
    (void)state;
    bytes c = gen_content(5u << 20, 81, 0, 1);
    for (int f = 0; f < 3; f++) {
        const char *in = tpath("in%s", ext[f]);
        write_shard(in, all_formats[f], 1, &c);
        for (int keep = 0; keep < 2; keep++) {
            char err[OPTOUT_SHARD_ERR_LEN];
            optout_shard_reader *r = optout_shard_open(in, 4096, err, sizeof err);
            assert_non_null(r);
            optout_shard_format of = keep ? optout_shard_reader_format(r) : OPTOUT_FORMAT_ZSTD;
            const char *out = tpath("copy%d%s", keep, ext[of]);
            optout_shard_writer *w = optout_shard_create(out, of, 0, err, sizeof err);
            assert_non_null(w);
            optout_shard_line l;
            int rc;
            while ((rc = optout_shard_next(r, &l, err, sizeof err)) == 1)
                assert_int_equal(optout_shard_write_line(w, l.data, l.len, l.newline, err, sizeof err), 0);
            assert_int_equal(rc, 0);
            optout_shard_close(r);
            assert_int_equal(optout_shard_commit(w, err, sizeof err), 0);
            expect_reads_as(out, &c, of);
            unlink(out);
        }
        unlink(in);
    }
    b_free(&c);
}

/* Every test gets a fresh directory of its own, removed afterwards (also when it fails). */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, remove_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_round_trip_small),
        T(test_round_trip_large),
        T(test_crlf_kept),
        T(test_multi_frame_zstd),
        T(test_multi_member_gzip),
        T(test_skippable_zstd_frames),
        T(test_empty_files),
        T(test_format_by_content_not_name),
        T(test_format_of_name),
        T(test_oversized_lines),
        T(test_oversized_beyond_block),
        T(test_line_of_64_mib),
        T(test_truncated),
        T(test_corrupt),
        T(test_open_errors),
        T(test_writer_commit_publishes),
        T(test_writer_abort_removes_tmp),
        T(test_writer_replaces_stale_tmp),
        T(test_writer_unwritable),
        T(test_writer_levels),
        T(test_writer_write_error),
        T(test_copy_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
