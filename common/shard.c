/* shard.c — streaming JSON Lines shards in and out: plain, gzip, zstd (include/optout/shard.h).
 *
 * Reader. One data buffer holds decompressed text (for plain files, read(2) fills it directly).
 * next() looks for '\n' with memchr from where the previous search stopped and returns a pointer
 * into the buffer, so a line that lies inside the buffer is never copied. When the buffer holds
 * only the start of a line, the partial line is moved to the front and the decoder writes after
 * it: the only copy is of lines that straddle a refill. The buffer grows (doubling) only while a
 * partial line fills it, up to max_line + one block, so memory stays bounded by max_line plus a
 * few MiB of decoder state: a partial line of more than max_line bytes is given out as a piece.
 * Compressed input is read in 1 MiB blocks and fed to ZSTD_decompressStream (multi-frame and
 * skippable frames handled by libzstd) or to inflate (windowBits 15+32; at Z_STREAM_END with more
 * input, inflateReset starts the next member). End of file inside a frame or member is an error.
 *
 * Writer. Lines are copied into a 1 MiB staging buffer; a full buffer goes to
 * ZSTD_compressStream2(ZSTD_e_continue) / deflate(Z_NO_FLUSH) into a 1 MiB output buffer that is
 * written with write(2) when full (a line larger than the staging buffer is compressed straight
 * from the caller's memory). zstd frames carry a content checksum, as the zstd tool writes them,
 * so corruption is detected when the shard is read back. commit() finishes the stream, fsyncs,
 * closes, renames the temporary file into place and fsyncs the directory.
 */
#include "optout/shard.h"
#include "optout/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define BLOCK ((size_t)1 << 20)  /* read(2) size, staging and output buffer sizes */
#define MIN_FREE (BLOCK / 4)     /* the data buffer grows when less than this is free */

optout_shard_format optout_shard_format_of_name(const char *path) {
    size_t n = strlen(path);
    if (n >= 3 && strcmp(path + n - 3, ".gz") == 0) return OPTOUT_FORMAT_GZIP;
    if (n >= 4 && strcmp(path + n - 4, ".zst") == 0) return OPTOUT_FORMAT_ZSTD;
    return OPTOUT_FORMAT_PLAIN;
}

static const char *format_name(optout_shard_format f) {
    return f == OPTOUT_FORMAT_GZIP ? "gzip" : f == OPTOUT_FORMAT_ZSTD ? "zstd" : "plain";
}

/* read(2) that retries EINTR. Returns bytes read, 0 at end of file, -1 with errno. */
static ssize_t read_some(int fd, void *buf, size_t len) {
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR) return n;
    }
}

/* ================================================================================== reader == */

struct optout_shard_reader {
    int fd;
    char *path;
    optout_shard_format format;
    size_t max_line;

    /* Decompressed text: buf[pos, end) not yet returned; buf[pos, pos+scan) holds no '\n'. */
    char *buf;
    size_t cap, cap_max, pos, end, scan;
    uint64_t buf_off;  /* offset of buf[0] in the decompressed stream */
    int src_eof;       /* the decoder has nothing more: what is in buf is all there is */
    int in_oversized;  /* pieces of an oversized line have been returned, more follow */

    /* Compressed input (gzip, zstd): in[in_pos, in_end) not yet consumed. */
    unsigned char *in;
    size_t in_pos, in_end;
    uint64_t in_off;   /* offset of in[0] in the file */
    int file_eof;
    int frame_done;    /* the decoder is between frames / members (not inside one) */
    ZSTD_DCtx *zd;
    z_stream zs;
    int zs_init;

    uint64_t file_read; /* bytes read from the file (plain) */
    int failed;
    char errmsg[OPTOUT_SHARD_ERR_LEN];
};

__attribute__((format(printf, 2, 3))) static int reader_fail(optout_shard_reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return -1;
}

/* Offset in the compressed input of the next byte the decoder would consume. */
static uint64_t in_consumed(const optout_shard_reader *r) { return r->in_off + r->in_pos; }

/* Offset in the decompressed stream of the next byte the decoder will produce. */
static uint64_t out_produced(const optout_shard_reader *r) { return r->buf_off + r->end; }

/* Reads the next block of compressed input into r->in. 0, or -1 with the reader failed. */
static int read_input(optout_shard_reader *r) {
    r->in_off += r->in_end;
    r->in_pos = r->in_end = 0;
    ssize_t n = read_some(r->fd, r->in, BLOCK);
    if (n < 0)
        return reader_fail(r, "%s: read error at byte %llu: %s", r->path,
                           (unsigned long long)r->in_off, strerror(errno));
    if (n == 0) r->file_eof = 1;
    r->in_end = (size_t)n;
    return 0;
}

static int fill_plain(optout_shard_reader *r) {
    ssize_t n = read_some(r->fd, r->buf + r->end, r->cap - r->end);
    if (n < 0)
        return reader_fail(r, "%s: read error at byte %llu: %s", r->path,
                           (unsigned long long)r->file_read, strerror(errno));
    if (n == 0) r->src_eof = 1;
    r->end += (size_t)n;
    r->file_read += (uint64_t)n;
    return 0;
}

static int fill_zstd(optout_shard_reader *r) {
    ZSTD_outBuffer out = {r->buf, r->cap, r->end};
    while (out.pos < out.size) {
        if (r->in_pos == r->in_end) {
            if (r->file_eof) {
                if (!r->frame_done) {
                    r->end = out.pos;
                    return reader_fail(r,
                                       "%s: truncated zstd data: the file ends at byte %llu inside a frame "
                                       "(decompressed offset %llu)",
                                       r->path, (unsigned long long)in_consumed(r),
                                       (unsigned long long)out_produced(r));
                }
                r->src_eof = 1;
                break;
            }
            if (read_input(r) < 0) break;
            continue;
        }
        ZSTD_inBuffer inb = {r->in, r->in_end, r->in_pos};
        size_t ret = ZSTD_decompressStream(r->zd, &out, &inb);
        r->in_pos = inb.pos;
        if (ZSTD_isError(ret)) {
            r->end = out.pos;
            return reader_fail(r,
                               "%s: corrupt zstd data near byte %llu of the file (decompressed offset %llu): %s",
                               r->path, (unsigned long long)in_consumed(r),
                               (unsigned long long)out_produced(r), ZSTD_getErrorName(ret));
        }
        r->frame_done = ret == 0;
    }
    r->end = out.pos;
    return r->failed ? -1 : 0;
}

static int fill_gzip(optout_shard_reader *r) {
    z_stream *zs = &r->zs;
    while (r->end < r->cap) {
        if (r->in_pos == r->in_end) {
            if (r->file_eof) {
                if (!r->frame_done)
                    return reader_fail(r,
                                       "%s: truncated gzip data: the file ends at byte %llu inside a member "
                                       "(decompressed offset %llu)",
                                       r->path, (unsigned long long)in_consumed(r),
                                       (unsigned long long)out_produced(r));
                r->src_eof = 1;
                break;
            }
            if (read_input(r) < 0) return -1;
            continue;
        }
        if (r->frame_done) { /* more input after a complete member: the next member */
            if (inflateReset(zs) != Z_OK) return reader_fail(r, "%s: inflateReset failed", r->path);
            r->frame_done = 0;
        }
        size_t out_room = r->cap - r->end;
        if (out_room > UINT_MAX) out_room = UINT_MAX;
        zs->next_in = r->in + r->in_pos;
        zs->avail_in = (uInt)(r->in_end - r->in_pos);
        zs->next_out = (Bytef *)r->buf + r->end;
        zs->avail_out = (uInt)out_room;
        int ret = inflate(zs, Z_NO_FLUSH);
        r->in_pos = (size_t)(zs->next_in - r->in);
        r->end = (size_t)((char *)zs->next_out - r->buf);
        if (ret == Z_STREAM_END) {
            r->frame_done = 1;
        } else if (ret != Z_OK) {
            /* Z_BUF_ERROR cannot happen with input and output room: treat it as corruption too. */
            return reader_fail(r,
                               "%s: corrupt gzip data near byte %llu of the file (decompressed offset %llu): %s",
                               r->path, (unsigned long long)in_consumed(r),
                               (unsigned long long)out_produced(r),
                               zs->msg ? zs->msg : ret == Z_MEM_ERROR ? "out of memory" : "inflate failed");
        }
    }
    return 0;
}

/* Makes room after the unreturned bytes and decodes more text into it: on return with 0, either
 * r->end grew or r->src_eof is set. */
static int refill(optout_shard_reader *r) {
    if (r->pos > 0) {
        size_t keep = r->end - r->pos;
        if (keep) memmove(r->buf, r->buf + r->pos, keep);
        r->buf_off += r->pos;
        r->end = keep;
        r->pos = 0;
    }
    if (r->cap - r->end < MIN_FREE && r->cap < r->cap_max) {
        size_t ncap = r->cap;
        while (ncap - r->end < MIN_FREE && ncap < r->cap_max)
            ncap = ncap > r->cap_max / 2 ? r->cap_max : ncap * 2;
        char *nb = realloc(r->buf, ncap);
        if (!nb)
            return reader_fail(r, "%s: out of memory for a %zu-byte line buffer (decompressed offset %llu)",
                               r->path, ncap, (unsigned long long)r->buf_off);
        r->buf = nb;
        r->cap = ncap;
    }
    switch (r->format) {
    case OPTOUT_FORMAT_ZSTD: return fill_zstd(r);
    case OPTOUT_FORMAT_GZIP: return fill_gzip(r);
    default: return fill_plain(r);
    }
}

optout_shard_reader *optout_shard_open(const char *path, size_t max_line, char *err, size_t errlen) {
    if (max_line == 0) max_line = OPTOUT_SHARD_MAX_LINE_DEFAULT;
    optout_shard_reader *r = calloc(1, sizeof *r);
    if (!r) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->fd = -1;
    r->max_line = max_line;
    r->path = strdup(path);
    r->buf = malloc(BLOCK);
    if (!r->path || !r->buf) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    r->cap = BLOCK;
    /* Room for a partial line of max_line + 1 bytes (the +1 proves the line is oversized), plus
     * a block to decode into. */
    r->cap_max = max_line > SIZE_MAX - BLOCK ? SIZE_MAX : max_line + BLOCK;

    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        optout_set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    /* The first block goes into buf; at least 4 bytes (or the whole file) to see the magic. */
    size_t n = 0;
    for (;;) {
        ssize_t got = read_some(r->fd, r->buf + n, BLOCK - n);
        if (got < 0) {
            optout_set_err(err, errlen, "%s: read error at byte %zu: %s", path, n, strerror(errno));
            goto fail;
        }
        n += (size_t)got;
        if (got == 0) {
            r->file_eof = 1;
            break;
        }
        if (n >= 4) break;
    }
    const unsigned char *m = (const unsigned char *)r->buf;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) r->format = OPTOUT_FORMAT_GZIP;
    else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) r->format = OPTOUT_FORMAT_ZSTD;
    else if (n >= 4 && (m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18)
        r->format = OPTOUT_FORMAT_ZSTD; /* a skippable frame first */
    else r->format = OPTOUT_FORMAT_PLAIN;

    if (r->format == OPTOUT_FORMAT_PLAIN) {
        r->end = n;
        r->file_read = n;
        r->src_eof = r->file_eof;
        return r;
    }
    /* Compressed: what was read is input; the text gets a buffer of its own. */
    r->in = (unsigned char *)r->buf;
    r->in_end = n;
    r->buf = malloc(BLOCK);
    if (!r->buf) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (r->format == OPTOUT_FORMAT_ZSTD) {
        r->zd = ZSTD_createDCtx();
        if (!r->zd) {
            optout_set_err(err, errlen, "%s: cannot create a zstd decoder", path);
            goto fail;
        }
    } else {
        if (inflateInit2(&r->zs, 15 + 32) != Z_OK) {
            optout_set_err(err, errlen, "%s: cannot create a gzip decoder", path);
            goto fail;
        }
        r->zs_init = 1;
    }
    return r;
fail:
    optout_shard_close(r);
    return NULL;
}

int optout_shard_next(optout_shard_reader *r, optout_shard_line *line, char *err, size_t errlen) {
    if (r->failed) {
        optout_set_err(err, errlen, "%s", r->errmsg);
        return -1;
    }
    for (;;) {
        size_t avail = r->end - r->pos;
        char *start = r->buf + r->pos;
        char *nl = r->scan < avail ? memchr(start + r->scan, '\n', avail - r->scan) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - start);
            line->data = start;
            line->offset = r->buf_off + r->pos;
            if (len > r->max_line) { /* a whole oversized line in the buffer: its next piece */
                line->len = r->max_line;
                line->newline = 0;
                line->oversized = 1;
                line->last_piece = 0;
                r->in_oversized = 1;
                r->pos += r->max_line;
                r->scan = len - r->max_line; /* the '\n' already found */
                return 1;
            }
            line->len = len;
            line->newline = 1;
            line->oversized = r->in_oversized;
            line->last_piece = r->in_oversized;
            r->in_oversized = 0;
            r->pos += len + 1;
            r->scan = 0;
            return 1;
        }
        r->scan = avail;
        if (avail > r->max_line) { /* no '\n' in more than max_line bytes: a piece */
            line->data = start;
            line->len = r->max_line;
            line->offset = r->buf_off + r->pos;
            line->newline = 0;
            line->oversized = 1;
            line->last_piece = 0;
            r->in_oversized = 1;
            r->pos += r->max_line;
            r->scan = avail - r->max_line;
            return 1;
        }
        if (r->src_eof) {
            /* A piece is split off only when more than max_line bytes remain, so when an oversized
             * line is under way at least one byte is left here. */
            if (avail == 0) return 0;
            line->data = start;
            line->len = avail;
            line->offset = r->buf_off + r->pos;
            line->newline = 0;
            line->oversized = r->in_oversized;
            line->last_piece = r->in_oversized;
            r->in_oversized = 0;
            r->pos = r->end;
            r->scan = 0;
            return 1;
        }
        if (refill(r) < 0) {
            optout_set_err(err, errlen, "%s", r->errmsg);
            return -1;
        }
    }
}

optout_shard_format optout_shard_reader_format(const optout_shard_reader *r) { return r->format; }

uint64_t optout_shard_bytes_read(const optout_shard_reader *r) {
    return r->format == OPTOUT_FORMAT_PLAIN ? r->file_read : in_consumed(r);
}

void optout_shard_close(optout_shard_reader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    if (r->zd) ZSTD_freeDCtx(r->zd);
    if (r->zs_init) inflateEnd(&r->zs);
    free(r->in);
    free(r->buf);
    free(r->path);
    free(r);
}

/* ================================================================================== writer == */

struct optout_shard_writer {
    int fd;
    char *path;
    char *tmp;
    optout_shard_format format;
    char *stage; /* uncompressed lines not yet encoded (plain: not yet written) */
    size_t stage_len;
    unsigned char *out; /* encoded bytes not yet written */
    size_t out_len;
    ZSTD_CCtx *zc;
    z_stream zs;
    int zs_init;
    uint64_t bytes;     /* uncompressed bytes accepted */
    uint64_t file_len;  /* bytes written to the file */
    int failed;
    char errmsg[OPTOUT_SHARD_ERR_LEN];
};

__attribute__((format(printf, 2, 3))) static int writer_fail(optout_shard_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
    w->failed = 1;
    return -1;
}

/* write(2) all of p[0, n): retries EINTR and short writes; ENOSPC, EIO, ... fail. */
static int write_all(optout_shard_writer *w, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return writer_fail(w, "%s: write error at byte %llu of %s: %s", w->path,
                               (unsigned long long)w->file_len, w->tmp, strerror(errno));
        }
        if (k == 0)
            return writer_fail(w, "%s: write error at byte %llu of %s: no progress", w->path,
                               (unsigned long long)w->file_len, w->tmp);
        c += k;
        n -= (size_t)k;
        w->file_len += (uint64_t)k;
    }
    return 0;
}

static int flush_out(optout_shard_writer *w) {
    if (w->out_len == 0) return 0;
    int rc = write_all(w, w->out, w->out_len);
    w->out_len = 0;
    return rc;
}

/* Encodes p[0, n); with `end`, also finishes the stream. */
static int encode(optout_shard_writer *w, const char *p, size_t n, int end) {
    if (w->format == OPTOUT_FORMAT_PLAIN) return write_all(w, p, n);
    if (w->format == OPTOUT_FORMAT_ZSTD) {
        ZSTD_inBuffer in = {p, n, 0};
        ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
        for (;;) {
            if (w->out_len == BLOCK && flush_out(w) < 0) return -1;
            ZSTD_outBuffer out = {w->out, BLOCK, w->out_len};
            size_t ret = ZSTD_compressStream2(w->zc, &out, &in, mode);
            w->out_len = out.pos;
            if (ZSTD_isError(ret))
                return writer_fail(w, "%s: zstd compression failed: %s", w->path, ZSTD_getErrorName(ret));
            if (end ? ret == 0 : in.pos == in.size) return 0;
        }
    }
    z_stream *zs = &w->zs;
    const size_t max_chunk = (size_t)1 << 30; /* avail_in is 32 bits */
    for (;;) {
        size_t chunk = n > max_chunk ? max_chunk : n;
        int flush = end && chunk == n ? Z_FINISH : Z_NO_FLUSH;
        if (chunk == 0 && flush == Z_NO_FLUSH) return 0;
        zs->next_in = (Bytef *)(uintptr_t)p;
        zs->avail_in = (uInt)chunk;
        int ret;
        do {
            if (w->out_len == BLOCK && flush_out(w) < 0) return -1;
            zs->next_out = w->out + w->out_len;
            zs->avail_out = (uInt)(BLOCK - w->out_len);
            ret = deflate(zs, flush);
            w->out_len = BLOCK - zs->avail_out;
            if (ret == Z_STREAM_ERROR) return writer_fail(w, "%s: gzip compression failed", w->path);
        } while (flush == Z_FINISH ? ret != Z_STREAM_END : zs->avail_in != 0);
        n -= chunk;
        if (n == 0) return 0;
        p += chunk;
    }
}

static int flush_stage(optout_shard_writer *w) {
    if (w->stage_len == 0) return 0;
    int rc = encode(w, w->stage, w->stage_len, 0);
    w->stage_len = 0;
    return rc;
}

static void writer_free(optout_shard_writer *w) {
    if (w->fd >= 0) close(w->fd);
    if (w->zc) ZSTD_freeCCtx(w->zc);
    if (w->zs_init) deflateEnd(&w->zs);
    free(w->stage);
    free(w->out);
    free(w->path);
    free(w->tmp);
    free(w);
}

optout_shard_writer *optout_shard_create(const char *path, optout_shard_format format, int level,
                                         char *err, size_t errlen) {
    if (format == OPTOUT_FORMAT_ZSTD && level == 0) level = 3;
    if (format == OPTOUT_FORMAT_GZIP && level == 0) level = 6;
    if ((format == OPTOUT_FORMAT_ZSTD && (level < 1 || level > 19)) ||
        (format == OPTOUT_FORMAT_GZIP && (level < 1 || level > 9))) {
        optout_set_err(err, errlen, "%s: %s compression level %d is out of range (%s)", path, format_name(format), level,
                format == OPTOUT_FORMAT_ZSTD ? "1..19" : "1..9");
        return NULL;
    }
    if (format != OPTOUT_FORMAT_PLAIN && format != OPTOUT_FORMAT_GZIP && format != OPTOUT_FORMAT_ZSTD) {
        optout_set_err(err, errlen, "%s: unknown shard format %d", path, (int)format);
        return NULL;
    }
    optout_shard_writer *w = calloc(1, sizeof *w);
    if (!w) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    w->fd = -1;
    w->format = format;
    w->path = strdup(path);
    w->stage = malloc(BLOCK);
    w->out = format == OPTOUT_FORMAT_PLAIN ? NULL : malloc(BLOCK);
    if (!w->path || !w->stage || (format != OPTOUT_FORMAT_PLAIN && !w->out) ||
        asprintf(&w->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        w->tmp = NULL;
        optout_set_err(err, errlen, "%s: out of memory", path);
        writer_free(w);
        return NULL;
    }
    if (format == OPTOUT_FORMAT_ZSTD) {
        w->zc = ZSTD_createCCtx();
        if (!w->zc || ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1))) {
            optout_set_err(err, errlen, "%s: cannot create a zstd encoder at level %d", path, level);
            writer_free(w);
            return NULL;
        }
    } else if (format == OPTOUT_FORMAT_GZIP) {
        if (deflateInit2(&w->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            optout_set_err(err, errlen, "%s: cannot create a gzip encoder at level %d", path, level);
            writer_free(w);
            return NULL;
        }
        w->zs_init = 1;
    }
    /* O_EXCL: never write through a planted symlink. A leftover from a crashed process that had
     * the same pid is ours to replace. */
    for (int attempt = 0; attempt < 2; attempt++) {
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd >= 0 || errno != EEXIST || attempt == 1) break;
        if (unlink(w->tmp) != 0) break;
    }
    if (w->fd < 0) {
        optout_set_err(err, errlen, "%s: cannot create %s: %s", path, w->tmp, strerror(errno));
        writer_free(w);
        return NULL;
    }
    return w;
}

int optout_shard_write_line(optout_shard_writer *w, const char *data, size_t len, int newline,
                            char *err, size_t errlen) {
    if (w->failed) {
        optout_set_err(err, errlen, "%s", w->errmsg);
        return -1;
    }
    size_t total = len + (newline ? 1 : 0);
    if (total <= BLOCK - w->stage_len) { /* the common case: into the staging buffer */
        memcpy(w->stage + w->stage_len, data, len);
        w->stage_len += len;
        if (newline) w->stage[w->stage_len++] = '\n';
        w->bytes += total;
        if (w->stage_len == BLOCK && flush_stage(w) < 0) goto fail;
        return 0;
    }
    if (flush_stage(w) < 0) goto fail;
    if (len >= BLOCK / 2) { /* large: encode straight from the caller's memory */
        if (encode(w, data, len, 0) < 0) goto fail;
    } else {
        memcpy(w->stage, data, len);
        w->stage_len = len;
    }
    if (newline) w->stage[w->stage_len++] = '\n';
    w->bytes += total;
    return 0;
fail:
    optout_set_err(err, errlen, "%s", w->errmsg);
    return -1;
}

/* Directory part of `path` ("." when there is none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int optout_shard_commit(optout_shard_writer *w, char *err, size_t errlen) {
    int rc = -1;
    if (w->failed) goto out;
    if (flush_stage(w) < 0) goto out;
    if (w->format != OPTOUT_FORMAT_PLAIN && encode(w, NULL, 0, 1) < 0) goto out;
    if (flush_out(w) < 0) goto out;
    if (fsync(w->fd) != 0) {
        writer_fail(w, "%s: fsync of %s failed: %s", w->path, w->tmp, strerror(errno));
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        writer_fail(w, "%s: close of %s failed: %s", w->path, w->tmp, strerror(errno));
        goto out;
    }
    if (rename(w->tmp, w->path) != 0) {
        writer_fail(w, "%s: cannot rename %s into place: %s", w->path, w->tmp, strerror(errno));
        goto out;
    }
    rc = 0;
    /* The rename is durable only once the directory is synced. If that fails the file is in place
     * and complete, but -1 tells the caller its durability is not known. */
    char *dir = dir_of(w->path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd < 0 || fsync(dfd) != 0) {
        writer_fail(w, "%s: cannot fsync directory %s: %s", w->path, dir ? dir : "?", strerror(errno));
        rc = -1;
    }
    if (dfd >= 0) close(dfd);
    free(dir);
    optout_set_err(err, errlen, "%s", rc == 0 ? "" : w->errmsg);
    writer_free(w);
    return rc;
out:
    optout_set_err(err, errlen, "%s", w->errmsg);
    unlink(w->tmp);
    writer_free(w);
    return rc;
}

void optout_shard_abort(optout_shard_writer *w) {
    if (!w) return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp);
    writer_free(w);
}

uint64_t optout_shard_bytes_written(const optout_shard_writer *w) { return w->bytes; }
