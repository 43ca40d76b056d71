/* fuzz_shard.c — libFuzzer target for the shard reader and writer (include/optout/shard.h).
 *
 * Input layout:
 *   byte 0      max_line: 1 + (byte0 & 0x7f) bytes, or when bit 7 is set, the default 64 MiB
 *   byte 1      bit 0: copy what was read through a zstd writer (level 1) and check the copy;
 *               bit 1: the same through a gzip writer (when a tmpfs, /dev/shm, is available)
 *   the rest    the shard file: plain, gzip or zstd by its magic bytes, as the reader sees it
 * The file is given to the reader as /proc/self/fd/N of a memfd (no disk I/O).
 *
 * Invariants (abort on violation):
 * - every line or piece: offset = bytes seen so far, length <= max_line, no '\n' inside; pieces
 *   other than the last are exactly max_line long and have no newline; `newline` is 0 only on the
 *   last line (or last piece) of the input
 * - the text rebuilt from lines equals the content decoded independently (libzstd / zlib driven
 *   directly, or the bytes themselves for plain input), and the reader succeeds iff that decoding
 *   does; after an error its message names the file, and next() keeps failing
 * - bytes_read equals the file size after a successful read
 * - copied through the writer, the committed file decodes to the same text
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "fuzz_target.h"
#include "optout/shard.h"

#define REF_CAP ((size_t)8 << 20) /* decoded text compared up to this size */

typedef struct {
    unsigned char *p;
    size_t len;
    int ok;        /* the whole input decoded without error */
    int overflow;  /* more than REF_CAP bytes: not compared */
} decoded;

static void out_add(decoded *d, const void *p, size_t n) {
    if (d->overflow) return;
    if (d->len + n > REF_CAP) {
        d->overflow = 1;
        return;
    }
    memcpy(d->p + d->len, p, n);
    d->len += n;
}

static void ref_zstd(const uint8_t *in, size_t n, decoded *d) {
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    CHECK(dc);
    ZSTD_inBuffer ib = {in, n, 0};
    unsigned char tmp[65536];
    size_t ret = 1;
    d->ok = 0;
    for (;;) {
        ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
        size_t before = ib.pos;
        ret = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(ret)) break;
        out_add(d, tmp, ob.pos);
        if (d->overflow) break;
        if (ib.pos == ib.size && ob.pos < ob.size) { /* all input given, all output flushed */
            d->ok = ret == 0;
            break;
        }
        if (ob.pos == 0 && ib.pos == before) break;
    }
    ZSTD_freeDCtx(dc);
}

static void ref_gzip(const uint8_t *in, size_t n, decoded *d) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    CHECK(inflateInit2(&zs, 15 + 32) == Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    unsigned char tmp[65536];
    d->ok = 0;
    int at_end = 0;
    for (;;) {
        if (zs.avail_in == 0) {
            d->ok = at_end;
            break;
        }
        if (at_end) {
            CHECK(inflateReset(&zs) == Z_OK);
            at_end = 0;
        }
        zs.next_out = tmp;
        zs.avail_out = sizeof tmp;
        int ret = inflate(&zs, Z_NO_FLUSH);
        out_add(d, tmp, sizeof tmp - zs.avail_out);
        if (d->overflow) break;
        if (ret == Z_STREAM_END) at_end = 1;
        else if (ret != Z_OK) break;
    }
    inflateEnd(&zs);
}

static char shm_dir[64];

/* Reads `path`; returns the rebuilt text length (or (size_t)-1 on a read error). */
static size_t read_all(const char *path, size_t max_line, unsigned char *text, size_t cap, int *overflow,
                       uint64_t file_size, int *rc_out) {
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_reader *r = optout_shard_open(path, max_line, err, sizeof err);
    CHECK(r);
    size_t lim = max_line ? max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT, len = 0;
    optout_shard_line l;
    int rc, in_piece = 0, saw_no_newline = 0;
    *overflow = 0;
    while ((rc = optout_shard_next(r, &l, err, sizeof err)) == 1) {
        CHECK(!saw_no_newline);
        CHECK(l.offset == len);
        CHECK(l.len <= lim);
        CHECK(memchr(l.data, '\n', l.len) == NULL);
        if (l.oversized && !l.last_piece) CHECK(l.len == lim && !l.newline);
        if (!l.oversized) CHECK(!in_piece && !l.last_piece);
        in_piece = l.oversized && !l.last_piece;
        if (!in_piece && !l.newline) saw_no_newline = 1;
        if (len + l.len + 1 > cap) {
            *overflow = 1;
            break;
        }
        memcpy(text + len, l.data, l.len);
        len += l.len;
        if (l.newline) text[len++] = '\n';
    }
    if (!*overflow) {
        if (rc == 0) {
            CHECK(!in_piece);
            CHECK(optout_shard_bytes_read(r) == file_size);
        } else {
            CHECK(rc == -1);
            CHECK(strstr(err, path) != NULL);
            CHECK(optout_shard_next(r, &l, err, sizeof err) == -1);
        }
    }
    *rc_out = rc;
    optout_shard_close(r);
    return len;
}

/* Copies `path` line by line through a writer of `format`, then checks the copy reads back equal. */
static void copy_through(const char *path, size_t max_line, optout_shard_format format, const unsigned char *want,
                         size_t want_len) {
    char out[128], err[OPTOUT_SHARD_ERR_LEN];
    snprintf(out, sizeof out, "%s/copy%s", shm_dir, format == OPTOUT_FORMAT_ZSTD ? ".zst" : ".gz");
    optout_shard_reader *r = optout_shard_open(path, max_line, err, sizeof err);
    CHECK(r);
    optout_shard_writer *w = optout_shard_create(out, format, 1, err, sizeof err);
    CHECK(w);
    optout_shard_line l;
    int rc;
    while ((rc = optout_shard_next(r, &l, err, sizeof err)) == 1)
        CHECK(optout_shard_write_line(w, l.data, l.len, l.newline, err, sizeof err) == 0);
    CHECK(rc == 0);
    optout_shard_close(r);
    CHECK(optout_shard_bytes_written(w) == want_len);
    CHECK(optout_shard_commit(w, err, sizeof err) == 0);

    struct stat st;
    CHECK(stat(out, &st) == 0);
    unsigned char *text = malloc(want_len + 2);
    CHECK(text);
    int overflow, rc2;
    size_t len = read_all(out, 0, text, want_len + 2, &overflow, (uint64_t)st.st_size, &rc2);
    CHECK(rc2 == 0 && !overflow);
    CHECK(len == want_len && memcmp(text, want, want_len) == 0);
    free(text);
    unlink(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t max_line = (data[0] & 0x80) ? 0 : (size_t)1 + (data[0] & 0x7f);
    int copy_flags = data[1];
    const uint8_t *file = data + 2;
    size_t n = size - 2;

    int fd = memfd_create("shard", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(write(fd, file, n) == (ssize_t)n);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    decoded ref = {0};
    ref.p = malloc(REF_CAP);
    CHECK(ref.p);
    if (n >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
        ref_gzip(file, n, &ref);
    } else if (n >= 4 && ((file[0] == 0x28 && file[1] == 0xb5 && file[2] == 0x2f && file[3] == 0xfd) ||
                          ((file[0] & 0xf0) == 0x50 && file[1] == 0x2a && file[2] == 0x4d && file[3] == 0x18))) {
        ref_zstd(file, n, &ref);
    } else {
        out_add(&ref, file, n);
        ref.ok = 1;
    }

    unsigned char *text = malloc(REF_CAP + 1);
    CHECK(text);
    int overflow, rc;
    size_t len = read_all(path, max_line, text, REF_CAP + 1, &overflow, n, &rc);
    if (!ref.overflow && !overflow) {
        if (ref.ok) {
            CHECK(rc == 0);
            CHECK(len == ref.len && memcmp(text, ref.p, len) == 0);
        } else {
            CHECK(rc == -1);
            size_t common = len < ref.len ? len : ref.len;
            CHECK(memcmp(text, ref.p, common) == 0);
        }
        if (rc == 0 && shm_dir[0] && len <= ((size_t)1 << 20)) {
            if (copy_flags & 1) copy_through(path, max_line, OPTOUT_FORMAT_ZSTD, text, len);
            if (copy_flags & 2) copy_through(path, max_line, OPTOUT_FORMAT_GZIP, text, len);
        }
    }
    free(text);
    free(ref.p);
    close(fd);
    return 0;
}

/* At exit (which libFuzzer may call in the middle of an input), also removes a writer's leftovers. */
static void remove_shm_dir(void) {
    if (!shm_dir[0]) return;
    DIR *d = opendir(shm_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(shm_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* The writer fsyncs: only on a tmpfs is that cheap enough to do per input. */
    strcpy(shm_dir, "/dev/shm/fuzz_shard.XXXXXX");
    if (!mkdtemp(shm_dir)) shm_dir[0] = 0;
    else atexit(remove_shm_dir);
    return 0;
}
