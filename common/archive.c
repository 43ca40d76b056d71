/* archive.c — the robots archive (include/optout/archive.h: layout and contract there).
 *
 * Writer. The index NAME.tsv is written with stdio (one fprintf per line, pushed to the kernel by
 * flush/close); the bodies file NAME.bodies.zst with write(2) straight from the compression
 * buffer, one ZSTD_compressCCtx() frame per body (the frame carries its content size). Because the
 * bodies file is unbuffered, a body's frame reaches the kernel before its index line does, whatever
 * stdio decides to flush when: a crash of the process leaves at worst a torn last line or a last
 * line whose frame is incomplete, never a complete line pointing at nothing earlier in the file.
 * A write that fails half-way leaves the writer failed (later appends refuse): the offsets it
 * would record could not be trusted. The SHA-256 is computed here from the body (a result that
 * carries a different one is refused). Text columns are sanitised (control characters -> space);
 * empty text is written "-", so a final_url or error that is exactly "-" reads back empty.
 *
 * Reader. Packs are the *.tsv names of the directory, sorted bytewise (scandir with strcmp, not
 * the locale). Lines are read with getline (no length limit), split in place on tabs into exactly
 * 13 columns and checked strictly: numbers in range, fetched_at in the one format written, sha256
 * 64 lower-case hex digits, `ok` with a body (sha, length > 0) and every other outcome without.
 * Torn tail: a last line without its '\n', or a complete last line whose frame extends past the
 * end of the bodies file, is skipped and counted; the same defect elsewhere is an error. A body is
 * read alone by pread of its frame, which must be exactly one zstd frame decompressing to `size`
 * bytes with the recorded SHA-256. The record handed to the visitor is the first member of a
 * larger struct that also carries the frame's location (archive_internal.h), so modules that read
 * bodies later (the archive verdict source) get it without a second parse.
 */
#include "optout/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "archive_internal.h"
#include "optout/rundir.h"
#include "optout/util.h"

#define ARCHIVE_COLUMNS 13

static const char HEADER[] = "#host\toutcome\tstatus\tfetched_at\tsha256\tsize\ttruncated\ttime_ms\tattempts\t"
                             "final_url\toffset\tlength\terror\n";


int archive_bodies_path(const char *dir, const char *pack, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s/%s.bodies.zst", dir, pack);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int archive_hex_to_sha(const char *hex, unsigned char sha[32]) {
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        sha[i] = (unsigned char)(hi << 4 | lo);
    }
    return hex[64] == '\0' ? 0 : -1;
}

/* ---- writer ---------------------------------------------------------------------------------- */

struct optout_archive_writer {
    char *tsv_path, *bodies_path, *dir;
    FILE *idx;
    int bfd;
    uint64_t boff; /* size of the bodies file */
    archive_compressor comp;
    int failed;
};

static void writer_free(optout_archive_writer *w) {
    if (!w) return;
    if (w->idx) fclose(w->idx);
    if (w->bfd >= 0) close(w->bfd);
    archive_compressor_free(&w->comp);
    free(w->tsv_path);
    free(w->bodies_path);
    free(w->dir);
    free(w);
}

optout_archive_writer *optout_archive_create(const char *dir, const char *name, int level, char *err,
                                             size_t errlen) {
    if (!name || !*name || strchr(name, '/') || name[0] == '.') {
        optout_set_err(err, errlen, "archive %s: bad pack name '%s'", dir, name ? name : "");
        return NULL;
    }
    optout_archive_writer *w = calloc(1, sizeof *w);
    if (!w) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    w->bfd = -1;
    w->comp.level = level;
    if (asprintf(&w->tsv_path, "%s/%s.tsv", dir, name) < 0) w->tsv_path = NULL;
    if (asprintf(&w->bodies_path, "%s/%s.bodies.zst", dir, name) < 0) w->bodies_path = NULL;
    if (!w->tsv_path || !w->bodies_path || !(w->dir = strdup(dir))) {
        optout_set_err(err, errlen, "out of memory");
        writer_free(w);
        return NULL;
    }
    if (optout_make_parent_dirs(w->tsv_path) != 0) {
        optout_set_err(err, errlen, "archive %s: cannot create the directory: %s", dir, strerror(errno));
        writer_free(w);
        return NULL;
    }
    w->bfd = open(w->bodies_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->bfd < 0) {
        optout_set_err(err, errlen, "%s: %s", w->bodies_path, strerror(errno));
        writer_free(w);
        return NULL;
    }
    w->idx = fopen(w->tsv_path, "we");
    if (!w->idx) {
        optout_set_err(err, errlen, "%s: %s", w->tsv_path, strerror(errno));
        writer_free(w);
        return NULL;
    }
    if (fputs(HEADER, w->idx) == EOF) {
        optout_set_err(err, errlen, "%s: %s", w->tsv_path, strerror(errno));
        writer_free(w);
        return NULL;
    }
    return w;
}

/* Writes s, control characters as spaces, "-" when empty. */
static void put_text(FILE *f, const char *s) {
    if (!s || !*s) {
        fputc('-', f);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int archive_append_frame(archive_compressor *c, int fd, const void *body, size_t len, uint64_t *length,
                         const char *where, char *err, size_t errlen) {
    if (!c->cctx && !(c->cctx = ZSTD_createCCtx())) {
        optout_set_err(err, errlen, "%s: out of memory", where);
        return -1;
    }
    size_t bound = ZSTD_compressBound(len);
    if (bound > c->cap) {
        void *nb = realloc(c->buf, bound);
        if (!nb) {
            optout_set_err(err, errlen, "%s: out of memory (%zu bytes)", where, bound);
            return -1;
        }
        c->buf = nb;
        c->cap = bound;
    }
    size_t clen = ZSTD_compressCCtx(c->cctx, c->buf, c->cap, body ? body : "", len, c->level ? c->level : 3);
    if (ZSTD_isError(clen)) {
        optout_set_err(err, errlen, "%s: compressing a body: %s", where, ZSTD_getErrorName(clen));
        return -1;
    }
    if (write_all(fd, c->buf, clen) != 0) {
        optout_set_err(err, errlen, "%s: %s", where, strerror(errno));
        return -1;
    }
    *length = clen;
    return 0;
}

void archive_compressor_free(archive_compressor *c) {
    ZSTD_freeCCtx(c->cctx);
    free(c->buf);
    c->cctx = NULL;
    c->buf = NULL;
    c->cap = 0;
}

int optout_archive_append(optout_archive_writer *w, const optout_fetch_result *r, char *err, size_t errlen) {
    if (w->failed) {
        optout_set_err(err, errlen, "%s: an earlier write failed", w->tsv_path);
        return -1;
    }
    const char *host = r->host ? r->host : "";
    if (!*host || host[0] == '#') {
        optout_set_err(err, errlen, "%s: bad host key '%s'", w->tsv_path, host);
        return -1;
    }
    for (const char *p = host; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
            optout_set_err(err, errlen, "%s: host key '%s' holds a space or control character", w->tsv_path, host);
            return -1;
        }
    if ((unsigned)r->outcome >= OPTOUT_OUTCOME_COUNT || r->status < 0 || r->status > 999) {
        optout_set_err(err, errlen, "%s: record of %s: bad outcome %d or status %ld", w->tsv_path, host, (int)r->outcome,
                r->status);
        return -1;
    }
    struct tm tm;
    time_t t = (time_t)r->fetched_at;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        optout_set_err(err, errlen, "%s: record of %s: fetched_at %" PRId64 " out of range", w->tsv_path, host,
                r->fetched_at);
        return -1;
    }
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);

    int ok = r->outcome == OPTOUT_OUTCOME_OK;
    size_t blen = ok ? r->body_len : 0;
    char sha[65] = "-";
    uint64_t offset = 0, length = 0;
    if (ok) {
        if ((uint64_t)blen > ARCHIVE_BODY_MAX || (!r->body && blen)) {
            optout_set_err(err, errlen, "%s: record of %s: body of %zu bytes %s", w->tsv_path, host, blen,
                    r->body ? "too large" : "missing");
            return -1;
        }
        const char *body = r->body ? r->body : "";
        optout_sha256_hex(body, blen, sha);
        if (r->sha256[0] && strcmp(r->sha256, sha) != 0) {
            optout_set_err(err, errlen, "%s: record of %s: its sha256 %.64s is not that of its body (%s)", w->tsv_path, host,
                    r->sha256, sha);
            return -1;
        }
        if (archive_append_frame(&w->comp, w->bfd, body, blen, &length, w->bodies_path, err, errlen) != 0) {
            w->failed = 1;
            return -1;
        }
        offset = w->boff;
        w->boff += length;
    }
    fprintf(w->idx, "%s\t%s\t%ld\t%s\t%s\t%zu\t%d\t%" PRIu32 "\t%" PRIu32 "\t", host,
            optout_outcome_name(r->outcome), r->status, when, sha, blen, r->truncated ? 1 : 0, r->time_ms,
            r->attempts);
    put_text(w->idx, r->final_url);
    fprintf(w->idx, "\t%" PRIu64 "\t%" PRIu64 "\t", offset, length);
    put_text(w->idx, ok ? NULL : r->error);
    if (fputc('\n', w->idx) == EOF || ferror(w->idx)) {
        optout_set_err(err, errlen, "%s: %s", w->tsv_path, strerror(errno));
        w->failed = 1;
        return -1;
    }
    return 0;
}

int optout_archive_flush(optout_archive_writer *w, char *err, size_t errlen) {
    if (fflush(w->idx) != 0) {
        optout_set_err(err, errlen, "%s: %s", w->tsv_path, strerror(errno));
        w->failed = 1;
        return -1;
    }
    return 0;
}

int optout_archive_close(optout_archive_writer *w, int sync, char *err, size_t errlen) {
    if (!w) return 0;
    int rc = 0;
    if (fflush(w->idx) != 0 || (sync && fsync(fileno(w->idx)) != 0)) {
        optout_set_err(err, errlen, "%s: %s", w->tsv_path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && sync && fsync(w->bfd) != 0) {
        optout_set_err(err, errlen, "%s: %s", w->bodies_path, strerror(errno));
        rc = -1;
    }
    int c1 = fclose(w->idx), e1 = errno;
    int c2 = close(w->bfd), e2 = errno;
    w->idx = NULL;
    w->bfd = -1;
    if (rc == 0 && (c1 != 0 || c2 != 0)) {
        optout_set_err(err, errlen, "%s: %s", c1 ? w->tsv_path : w->bodies_path, strerror(c1 ? e1 : e2));
        rc = -1;
    }
    if (rc == 0 && sync && optout_fsync_dir(w->dir) != 0) { /* the names of new packs are durable too */
        optout_set_err(err, errlen, "archive %s: fsync: %s", w->dir, strerror(errno));
        rc = -1;
    }
    writer_free(w);
    return rc;
}

/* ---- reader ---------------------------------------------------------------------------------- */

struct record_ex {
    optout_archive_record pub; /* first: what the visitor sees */
    uint64_t offset, length;
};

void archive_record_location(const optout_archive_record *rec, uint64_t *offset, uint64_t *length) {
    const struct record_ex *x = (const struct record_ex *)rec;
    *offset = x->offset;
    *length = x->length;
}

int archive_read_body(int fd, const char *where, uint64_t offset, uint64_t length, uint64_t size,
                      const unsigned char sha[32], char **body, char *err, size_t errlen) {
    *body = NULL;
    if (size > ARCHIVE_BODY_MAX || length == 0 || length > ZSTD_compressBound((size_t)size)) {
        optout_set_err(err, errlen, "%s: a %" PRIu64 "-byte frame cannot hold a %" PRIu64 "-byte body", where, length,
                size);
        return -1;
    }
    char *frame = malloc((size_t)length);
    char *out = frame ? malloc((size_t)size + 1) : NULL;
    if (!out) {
        free(frame);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got < length) {
        ssize_t n = pread(fd, frame + got, (size_t)length - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            optout_set_err(err, errlen, "%s: reading the body at offset %" PRIu64 ": %s", where, offset,
                    n < 0 ? strerror(errno) : "end of file");
            goto fail;
        }
        got += (size_t)n;
    }
    size_t fsize = ZSTD_findFrameCompressedSize(frame, (size_t)length);
    if (ZSTD_isError(fsize) || fsize != length) {
        optout_set_err(err, errlen, "%s: the body at offset %" PRIu64 " is not one zstd frame of %" PRIu64 " bytes%s%s",
                where, offset, length, ZSTD_isError(fsize) ? ": " : "",
                ZSTD_isError(fsize) ? ZSTD_getErrorName(fsize) : "");
        goto fail;
    }
    size_t dn = ZSTD_decompress(out, (size_t)size + 1, frame, (size_t)length);
    if (ZSTD_isError(dn) || dn != size) {
        optout_set_err(err, errlen, "%s: the body at offset %" PRIu64 " does not decompress to %" PRIu64 " bytes%s%s", where,
                offset, size, ZSTD_isError(dn) ? ": " : "", ZSTD_isError(dn) ? ZSTD_getErrorName(dn) : "");
        goto fail;
    }
    out[size] = '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(out, (size_t)size, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        optout_set_err(err, errlen, "%s: SHA-256 failed in libcrypto", where);
        goto fail;
    }
    if (memcmp(md, sha, 32) != 0) {
        optout_set_err(err, errlen, "%s: the body at offset %" PRIu64 " does not have the recorded SHA-256", where, offset);
        goto fail;
    }
    free(frame);
    *body = out;
    return 0;
fail:
    free(frame);
    free(out);
    return -1;
}

/* A column's decimal number, at most max. 0 or -1. */
static int field_u64(const char *s, uint64_t max, uint64_t *out) {
    return optout_parse_u64(s, strlen(s), max, out);
}

/* "YYYY-MM-DDTHH:MM:SSZ" -> Unix time. */
static int parse_time(const char *s, int64_t *out) {
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof shape - 1) return -1;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) return -1;
    int v[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, w[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int j = 0; j < w[k]; j++) v[k] = v[k] * 10 + (s[at[k] + j] - '0');
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) return -1;
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2], .tm_hour = v[3], .tm_min = v[4],
                    .tm_sec = v[5]};
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* Splits line (without '\n') into x->pub.r. NULL, or the reason it is malformed. */
static const char *parse_line(char *line, struct record_ex *x, unsigned char sha[32]) {
    char *col[ARCHIVE_COLUMNS];
    size_t n = 0;
    for (char *p = line;;) {
        if (n == ARCHIVE_COLUMNS) return "more than 13 tab-separated columns";
        col[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    if (n != ARCHIVE_COLUMNS) return "fewer than 13 tab-separated columns";
    optout_fetch_result *r = &x->pub.r;
    uint64_t status, size, truncated, time_ms, attempts;
    r->host = col[0];
    if (!*r->host) return "empty host";
    if (optout_outcome_parse(col[1], &r->outcome) != 0) return "unknown outcome";
    if (field_u64(col[2], 999, &status) != 0) return "bad status";
    r->status = (long)status;
    if (parse_time(col[3], &r->fetched_at) != 0) return "bad fetched_at (expected YYYY-MM-DDTHH:MM:SSZ)";
    int has_sha = strcmp(col[4], "-") != 0;
    if (has_sha) {
        if (archive_hex_to_sha(col[4], sha) != 0) return "bad sha256";
        memcpy(r->sha256, col[4], 65);
    } else {
        r->sha256[0] = '\0';
    }
    if (field_u64(col[5], ARCHIVE_BODY_MAX, &size) != 0) return "bad size";
    r->body_len = (size_t)size;
    if (field_u64(col[6], 1, &truncated) != 0) return "bad truncated flag (0 or 1)";
    r->truncated = (int)truncated;
    if (field_u64(col[7], UINT32_MAX, &time_ms) != 0) return "bad time_ms";
    if (field_u64(col[8], UINT32_MAX, &attempts) != 0) return "bad attempts";
    r->time_ms = (uint32_t)time_ms;
    r->attempts = (uint32_t)attempts;
    r->final_url = strcmp(col[9], "-") == 0 ? "" : col[9];
    if (field_u64(col[10], INT64_MAX, &x->offset) != 0) return "bad offset";
    if (field_u64(col[11], INT64_MAX, &x->length) != 0) return "bad length";
    r->error = strcmp(col[12], "-") == 0 ? "" : col[12];
    if (r->outcome == OPTOUT_OUTCOME_OK) {
        if (!has_sha || x->length == 0) return "an ok record without a body (sha256 and length)";
    } else if (has_sha || size || x->offset || x->length) {
        return "a body (sha256, size, offset or length) on a record that is not ok";
    }
    r->body = NULL;
    return NULL;
}

static int pack_filter(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".tsv") == 0;
}

static int pack_compare(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Scans one pack. Records visited, or -1 with err. */
static long scan_pack(const char *dir, char *pack, int with_bodies, optout_archive_visit visit, void *arg,
                      size_t *torn, char *err, size_t errlen) {
    char tsv[4096], bodies[4096];
    if ((size_t)snprintf(tsv, sizeof tsv, "%s/%s.tsv", dir, pack) >= sizeof tsv ||
        archive_bodies_path(dir, pack, bodies, sizeof bodies) != 0) {
        optout_set_err(err, errlen, "archive %s: path too long", dir);
        return -1;
    }
    FILE *f = fopen(tsv, "re");
    if (!f) {
        optout_set_err(err, errlen, "%s: %s", tsv, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        optout_set_err(err, errlen, "%s: %s", tsv, strerror(errno));
        fclose(f);
        return -1;
    }
    uint64_t bsize = 0;
    int bfd = open(bodies, O_RDONLY | O_CLOEXEC);
    struct stat bst;
    if (bfd >= 0 && fstat(bfd, &bst) == 0) bsize = (uint64_t)bst.st_size;
    else if (bfd >= 0 || errno != ENOENT) {
        optout_set_err(err, errlen, "%s: %s", bodies, strerror(errno));
        if (bfd >= 0) close(bfd);
        fclose(f);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    long count = 0;
    ssize_t n;
    char where[4200];
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        off_t pos = ftello(f);
        int last = pos >= st.st_size;
        if (line[n - 1] != '\n') { /* torn: only the last line can lack its '\n' */
            if (line[0] != '#') ++*torn;
            continue;
        }
        line[n - 1] = '\0';
        if (line[0] == '#') continue;
        snprintf(where, sizeof where, "%s:%zu", tsv, lineno);
        struct record_ex x;
        memset(&x, 0, sizeof x);
        x.pub.pack = pack;
        x.pub.line = lineno;
        unsigned char sha[32];
        const char *why = parse_line(line, &x, sha);
        if (why) {
            optout_set_err(err, errlen, "%s: %s", where, why);
            count = -1;
            break;
        }
        if (x.length && (x.offset > bsize || x.length > bsize - x.offset)) {
            if (last) { /* its frame was being written when the writer stopped */
                ++*torn;
                continue;
            }
            optout_set_err(err, errlen, "%s: the body at offset %" PRIu64 " (%" PRIu64 " bytes) lies past the end of %s (%" PRIu64 " bytes)",
                    where, x.offset, x.length, bodies, bsize);
            count = -1;
            break;
        }
        char *body = NULL;
        if (with_bodies && x.pub.r.outcome == OPTOUT_OUTCOME_OK) {
            if (archive_read_body(bfd, where, x.offset, x.length, x.pub.r.body_len, sha, &body, err, errlen) != 0) {
                count = -1;
                break;
            }
            x.pub.r.body = body;
        }
        int stop = visit(&x.pub, arg);
        free(body);
        if (stop) {
            optout_set_err(err, errlen, "stopped");
            count = -1;
            break;
        }
        count++;
    }
    if (count >= 0 && ferror(f)) {
        optout_set_err(err, errlen, "%s: read error", tsv);
        count = -1;
    }
    free(line);
    if (bfd >= 0) close(bfd);
    fclose(f);
    return count;
}

long optout_archive_packs(const char *dir, char *err, size_t errlen) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, pack_filter, NULL);
    if (n < 0) {
        optout_set_err(err, errlen, "archive %s: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    return n;
}

long optout_archive_scan(const char *dir, int with_bodies, optout_archive_visit visit, void *arg, size_t *torn,
                         char *err, size_t errlen) {
    size_t torn_local = 0;
    if (!torn) torn = &torn_local;
    *torn = 0;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, pack_filter, pack_compare);
    if (n < 0) {
        if (errno == ENOENT) return 0;
        optout_set_err(err, errlen, "archive %s: %s", dir, strerror(errno));
        return -1;
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
        if (total >= 0) {
            char *name = list[i]->d_name;
            name[strlen(name) - 4] = '\0'; /* the pack's NAME */
            long c = scan_pack(dir, name, with_bodies, visit, arg, torn, err, errlen);
            total = c < 0 ? -1 : total + c;
        }
        free(list[i]);
    }
    free(list);
    return total;
}
