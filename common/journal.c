/* journal.c — the run journal (include/optout/journal.h).
 *
 * Open reads the file front to back through a window buffer (a record is never larger than
 * 8 + OPTOUT_JOURNAL_MAX_RECORD bytes, and a length is checked against the file size before any
 * buffer grows for it), replays each complete record, and cuts the file at the first bad one.
 * Only a definite defect of the content cuts the file: a read error fails the open and leaves the
 * file alone.
 *
 * Appends go to a memory buffer; sync writes it at the durable end with pwrite (EINTR and short
 * writes retried) and fdatasync()s. When a write or fdatasync fails, what reached the disk is
 * unknown (Linux may even drop the dirty pages and clear the error: "fsyncgate"), so the journal
 * is poisoned: every later call fails with the original error, and the caller must close it and
 * reopen (replay trusts only what checksums prove).
 */
#include "optout/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "optout/util.h"

#define HEADER 8
#define READ_CHUNK ((size_t)1 << 20)

struct optout_journal {
    int fd;
    char *path;
    uint64_t size;      /* durable bytes: the file's length as far as we know it */
    unsigned char *buf; /* appended, not yet written */
    size_t len, cap;
    size_t pending; /* records in buf */
    int poisoned;
    char poison[OPTOUT_JOURNAL_ERR_LEN];
};

static void put_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* zlib's crc32 takes a uInt length: feed large payloads in pieces. */
static uint32_t checksum(const unsigned char *p, size_t len) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)crc;
}

/* ---- reading ----------------------------------------------------------------------------------- */

typedef struct {
    int fd;
    unsigned char *buf;
    size_t cap;
    size_t start, end; /* buf[start..end) holds the file's bytes from `pos` on */
    uint64_t pos;      /* file offset of buf[start] */
    uint64_t read_to;  /* file offset of buf[end] */
} reader;

/* Makes n bytes available at buf[start]; 0, or -1 on a read error (errno) or when the file ends
 * first (errno 0). The caller has checked n against the file size. */
static int reader_need(reader *r, size_t n) {
    if (r->end - r->start >= n) return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (n > r->cap) {
        size_t cap = r->cap;
        while (cap < n) cap *= 2;
        unsigned char *nb = realloc(r->buf, cap);
        if (!nb) return -1;
        r->buf = nb;
        r->cap = cap;
    }
    while (r->end < n) {
        ssize_t got = pread(r->fd, r->buf + r->end, r->cap - r->end, (off_t)r->read_to);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (got == 0) {
            errno = 0;
            return -1;
        }
        r->end += (size_t)got;
        r->read_to += (uint64_t)got;
    }
    return 0;
}

static void reader_skip(reader *r, size_t n) {
    r->start += n;
    r->pos += n;
}

static int open_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0) optout_set_err(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
        return fd;
    }
    if (optout_make_parent_dirs(path) != 0) {
        optout_set_err(err, errlen, "journal %s: cannot create its directory: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        optout_set_err(err, errlen, "journal %s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    /* A new file: its directory entry must be durable before any record in it is. */
    if (optout_fsync_parent_dir(path) != 0) {
        optout_set_err(err, errlen, "journal %s: cannot fsync its directory: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The next valid record at or after `from` (a plausible length, a payload that fits before
 * `file_size`, a matching checksum), scanning at most SCAN_WINDOW bytes and checksumming at most
 * SCAN_BUDGET: its offset, or UINT64_MAX when none is found (or on a read error). */
#define SCAN_WINDOW ((size_t)1 << 20)
#define SCAN_BUDGET ((uint64_t)256 << 20)
static uint64_t find_record(int fd, uint64_t from, uint64_t file_size, uint64_t *budget) {
    if (from >= file_size || file_size - from < HEADER + 1) return UINT64_MAX;
    uint64_t left = file_size - from;
    size_t n = left > SCAN_WINDOW + HEADER ? SCAN_WINDOW + HEADER : (size_t)left;
    unsigned char *w = optout_malloc(n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, w + got, n - got, (off_t)(from + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    uint64_t found = UINT64_MAX;
    for (size_t o = 0; o + HEADER <= got && found == UINT64_MAX; o++) {
        uint32_t len = get_le32(w + o);
        if (len == 0 || len > OPTOUT_JOURNAL_MAX_RECORD || (uint64_t)len > left - o - HEADER) continue;
        if (*budget < len) break;
        *budget -= len;
        if (o + HEADER + len <= got) {
            if (checksum(w + o + HEADER, len) == get_le32(w + o + 4)) found = from + o;
            continue;
        }
        unsigned char *payload = malloc(len); /* a record that runs past the window */
        if (!payload) break;
        ssize_t r = pread(fd, payload, len, (off_t)(from + o + HEADER));
        if (r == (ssize_t)len && checksum(payload, len) == get_le32(w + o + 4)) found = from + o;
        free(payload);
    }
    free(w);
    return found;
}

/* Valid records in sequence from `at` (which holds one): how many follow each other unbroken. */
static uint64_t count_records(int fd, uint64_t at, uint64_t file_size, uint64_t *budget) {
    uint64_t count = 0;
    while (file_size - at >= HEADER + 1) {
        unsigned char h[HEADER];
        if (pread(fd, h, HEADER, (off_t)at) != HEADER) break;
        uint32_t len = get_le32(h);
        if (len == 0 || len > OPTOUT_JOURNAL_MAX_RECORD || (uint64_t)len > file_size - at - HEADER || *budget < len)
            break;
        *budget -= len;
        unsigned char *payload = malloc(len);
        if (!payload) break;
        int ok = pread(fd, payload, len, (off_t)(at + HEADER)) == (ssize_t)len && checksum(payload, len) == get_le32(h + 4);
        free(payload);
        if (!ok) break;
        count++;
        at += HEADER + len;
    }
    return count;
}

/* Tells a torn tail from a corrupt record: the bad record at `at` is corrupt when it is complete
 * (its payload fits in the file) yet fails its checksum, or when a valid record follows it
 * somewhere (then a length was damaged); otherwise it is the incomplete last write of a crash. */
static void classify_cut(int fd, uint64_t at, uint64_t file_size, int complete_but_bad, uint32_t len,
                         optout_journal_cut *cut) {
    uint64_t budget = SCAN_BUDGET, next = UINT64_MAX;
    if (complete_but_bad) {
        /* the usual case, a flipped payload byte: the next record starts where this one ends */
        uint64_t after = at + HEADER + len;
        if (count_records(fd, after, file_size, &budget) > 0) next = after;
    }
    if (next == UINT64_MAX) next = find_record(fd, at + 1, file_size, &budget);
    cut->damage = complete_but_bad || next != UINT64_MAX ? OPTOUT_JOURNAL_CORRUPT : OPTOUT_JOURNAL_TORN_TAIL;
    cut->offset = at;
    cut->bytes = file_size - at;
    cut->records_after = next == UINT64_MAX ? 0 : count_records(fd, next, file_size, &budget);
}

void optout_journal_cut_describe(const char *path, const optout_journal_cut *cut, char *buf, size_t len) {
    switch (cut->damage) {
    case OPTOUT_JOURNAL_WHOLE: optout_set_err(buf, len, "%s", ""); break;
    case OPTOUT_JOURNAL_TORN_TAIL:
        optout_set_err(buf, len,
                       "journal %s: cut a torn tail of %" PRIu64 " bytes at offset %" PRIu64
                       " (an incomplete last record: a write interrupted by a crash; nothing durable was lost)",
                       path, cut->bytes, cut->offset);
        break;
    case OPTOUT_JOURNAL_CORRUPT:
        optout_set_err(buf, len,
                       "journal %s: corrupt record at offset %" PRIu64 "; cut the %" PRIu64
                       " bytes from there on (%" PRIu64 " valid record(s) after it): the tasks recorded "
                       "after it will be redone (the outputs are the same)",
                       path, cut->offset, cut->bytes, cut->records_after);
        break;
    }
}

optout_journal *optout_journal_open(const char *path, optout_journal_replay_fn replay, void *arg,
                                    optout_journal_cut *cut, char *err, size_t errlen) {
    optout_journal_cut local;
    if (!cut) cut = &local;
    memset(cut, 0, sizeof *cut);
    int fd = open_file(path, err, errlen);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        optout_set_err(err, errlen, "journal %s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        optout_set_err(err, errlen, "journal %s: not a regular file", path);
        close(fd);
        return NULL;
    }
    uint64_t file_size = (uint64_t)st.st_size;

    reader r = {.fd = fd, .cap = READ_CHUNK};
    r.buf = optout_malloc(r.cap);
    const char *why = NULL; /* why the tail is cut; NULL: the whole file is good */
    int complete_but_bad = 0;
    uint32_t bad_len = 0;
    for (;;) {
        uint64_t left = file_size - r.pos;
        if (left == 0) break;
        if (left < HEADER) {
            why = "torn record header";
            break;
        }
        if (reader_need(&r, HEADER) != 0) goto read_error;
        const unsigned char *h = r.buf + r.start;
        uint32_t len = get_le32(h), crc = get_le32(h + 4);
        if (len == 0) {
            why = "zero record length";
            break;
        }
        if (len > OPTOUT_JOURNAL_MAX_RECORD) {
            why = "oversized record length";
            break;
        }
        if ((uint64_t)len > left - HEADER) {
            why = "torn record";
            break;
        }
        if (reader_need(&r, HEADER + (size_t)len) != 0) goto read_error;
        const unsigned char *payload = r.buf + r.start + HEADER;
        if (checksum(payload, len) != crc) {
            why = "checksum mismatch";
            complete_but_bad = 1;
            bad_len = len;
            break;
        }
        if (replay && replay(payload, len, r.pos, arg) != 0) {
            optout_set_err(err, errlen, "journal %s: replay stopped at offset %" PRIu64, path, r.pos);
            goto fail;
        }
        reader_skip(&r, HEADER + (size_t)len);
    }
    free(r.buf);
    r.buf = NULL;

    if (why) {
        classify_cut(fd, r.pos, file_size, complete_but_bad, bad_len, cut);
        /* Everything from the first bad record on is dropped: records after a bad one cannot be
         * trusted to follow the last good one. */
        if (ftruncate(fd, (off_t)r.pos) != 0 || fsync(fd) != 0) {
            optout_set_err(err, errlen, "journal %s: cannot truncate at offset %" PRIu64 " (%s): %s", path, r.pos,
                    why, strerror(errno));
            goto fail;
        }
    }

    optout_journal *j = optout_malloc(sizeof *j);
    memset(j, 0, sizeof *j);
    j->fd = fd;
    j->path = strdup(path);
    if (!j->path) {
        free(j);
        optout_set_err(err, errlen, "journal %s: out of memory", path);
        close(fd);
        return NULL;
    }
    j->size = r.pos;
    return j;

read_error:
    if (errno == 0)
        optout_set_err(err, errlen, "journal %s: file shrank while reading it (offset %" PRIu64 ")", path, r.pos);
    else
        optout_set_err(err, errlen, "journal %s: read error at offset %" PRIu64 ": %s", path, r.pos, strerror(errno));
fail:
    free(r.buf);
    close(fd);
    return NULL;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int check_usable(optout_journal *j, char *err, size_t errlen) {
    if (!j->poisoned) return 0;
    optout_set_err(err, errlen, "journal %s: unusable after an earlier failure (reopen it): %s", j->path, j->poison);
    return -1;
}

int optout_journal_append(optout_journal *j, const void *payload, size_t len,
                          char *err, size_t errlen) {
    if (check_usable(j, err, errlen) != 0) return -1;
    if (len == 0 || len > OPTOUT_JOURNAL_MAX_RECORD) {
        optout_set_err(err, errlen, "journal %s: record of %zu bytes refused (1..%zu allowed)", j->path, len,
                OPTOUT_JOURNAL_MAX_RECORD);
        return -1;
    }
    size_t need = HEADER + len;
    if (j->cap - j->len < need) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap - j->len < need) cap *= 2;
        unsigned char *nb = realloc(j->buf, cap);
        if (!nb) {
            optout_set_err(err, errlen, "journal %s: out of memory buffering %zu bytes", j->path, need);
            return -1;
        }
        j->buf = nb;
        j->cap = cap;
    }
    unsigned char *p = j->buf + j->len;
    put_le32(p, (uint32_t)len);
    put_le32(p + 4, checksum(payload, len));
    memcpy(p + HEADER, payload, len);
    j->len += need;
    j->pending++;
    return 0;
}

static int poison(optout_journal *j, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int poison(optout_journal *j, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->poison, sizeof j->poison, fmt, ap);
    va_end(ap);
    j->poisoned = 1;
    optout_set_err(err, errlen, "journal %s: %s", j->path, j->poison);
    return -1;
}

int optout_journal_sync(optout_journal *j, char *err, size_t errlen) {
    if (check_usable(j, err, errlen) != 0) return -1;
    if (j->len == 0) return 0;
    size_t done = 0;
    while (done < j->len) {
        ssize_t w = pwrite(j->fd, j->buf + done, j->len - done, (off_t)(j->size + done));
        if (w < 0) {
            if (errno == EINTR) continue;
            return poison(j, err, errlen, "write at offset %" PRIu64 " failed: %s", j->size + done,
                          strerror(errno));
        }
        if (w == 0)
            return poison(j, err, errlen, "write at offset %" PRIu64 " wrote nothing", j->size + done);
        done += (size_t)w;
    }
    int rc;
    do rc = fdatasync(j->fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return poison(j, err, errlen, "fdatasync after writing up to offset %" PRIu64 " failed: %s",
                      j->size + j->len, strerror(errno));
    j->size += j->len;
    j->len = 0;
    j->pending = 0;
    /* Keep a moderate buffer for the next group; give back a huge one. */
    if (j->cap > ((size_t)64 << 20)) {
        free(j->buf);
        j->buf = NULL;
        j->cap = 0;
    }
    return 0;
}

size_t optout_journal_pending(const optout_journal *j) {
    return j->pending;
}

uint64_t optout_journal_size(const optout_journal *j) {
    return j->size;
}

void optout_journal_close(optout_journal *j) {
    if (!j) return;
    close(j->fd);
    free(j->buf);
    free(j->path);
    free(j);
}
