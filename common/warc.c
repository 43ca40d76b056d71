/* warc.c — streaming WARC reader (include/optout/warc.h: contract there; rules: docs/history.md).
 *
 * Two layers, both push-driven so that a read(2) loop and a libcurl write callback drive them
 * alike:
 * - bytes: gzip members inflated one after the other (zlib, gzip wrapper only; inflateReset at each
 *   member end), or plain bytes passed through. A member that fails to inflate is reported and
 *   the bytes are scanned for the next gzip magic (1f 8b 08), which may straddle two feeds: the
 *   matched part of the magic is a constant, so it is replayed from a static array.
 * - records: a small state machine over the decompressed bytes. BETWEEN skips the CR/LF between
 *   records; HEADER gathers the WARC header (at most OPTOUT_WARC_HEADER_MAX) up to its blank line;
 *   BLOCK reads Content-Length bytes, keeping only what the record's type needs (a response's
 *   first OPTOUT_WARC_BLOCK_MAX bytes, a warcinfo's first OPTOUT_WARC_HEADER_MAX, nothing for
 *   the others); SKIP drops the rest of a gzip member after a bad record (the member boundary is
 *   the resynchronisation point); SYNC, for plain input only, drops bytes up to a line starting
 *   "WARC/1.". A record is dispatched as soon as its block is complete; the CRLFs that follow are
 *   skipped by BETWEEN (and may be missing).
 * Why a record ends at its member's end: Common Crawl writes one record per member, so a record
 * still open there has a Content-Length that lies, and trusting it would swallow the next record.
 */
#include "optout/warc.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "optout/util.h"

#define WARC_OUT_CAP ((size_t)256 * 1024) /* inflate output buffer */
#define WARC_LENGTH_MAX ((uint64_t)1 << 40)  /* a Content-Length beyond this is malformed */
#define WARC_READ_CHUNK ((size_t)1 << 20)

static const unsigned char GZ_MAGIC[3] = {0x1f, 0x8b, 0x08};
static const char WARC_MAGIC[] = "WARC/1.";
#define WARC_MAGIC_LEN (sizeof WARC_MAGIC - 1)

enum mode { M_UNKNOWN, M_GZIP, M_PLAIN };
enum gz { GZ_MEMBER, GZ_RESYNC };
enum rstate { R_BETWEEN, R_HEADER, R_BLOCK, R_SKIP, R_SYNC };

struct optout_warc_reader {
    char *name;
    optout_warc_on_record on_record;
    optout_warc_on_bad on_bad;
    void *arg;
    optout_warc_counts counts;
    int stopped, failed, finished;
    char crawl[OPTOUT_HISTORY_CRAWL_MAX];

    enum mode mode;
    /* gzip layer */
    z_stream z;
    int z_ready;
    enum gz gz;
    int in_member;       /* bytes of the current member went into inflate */
    uint64_t member_off; /* file offset of the current member */
    unsigned magic_k;    /* RESYNC: bytes of GZ_MAGIC matched so far */
    unsigned char *out;

    /* record layer */
    enum rstate rs;
    uint64_t out_off;    /* decompressed bytes seen (the file offset, for plain input) */
    uint64_t rec_off, rec_no;
    int in_record;       /* rec_no names a record begun and not yet ended */
    int pending;         /* gzip: a complete record waiting for its member's CRC check */
    char *hdr;
    size_t hdr_len;
    char *blk;
    size_t blk_len, blk_cap;
    uint64_t remaining;  /* BLOCK: bytes of the block still to come */
    unsigned sync_k;     /* SYNC: bytes of WARC_MAGIC matched at a line start */
    int sync_bol;        /* SYNC: at a line start */
    /* the parsed WARC header (pointers into hdr) */
    struct {
        const char *type, *uri, *date, *truncated, *ctype;
        uint64_t length;
        int have_length;
    } h;
};

const char *optout_warc_bad_name(optout_warc_bad_kind kind) {
    static const char *const names[OPTOUT_WARC_BAD_COUNT] = {"gzip", "length", "no_uri", "not_http", "oversize",
                                                              "header"};
    return (unsigned)kind < OPTOUT_WARC_BAD_COUNT ? names[kind] : "?";
}

/* ---- small parsers --------------------------------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int num(const char *s, int w) {
    int v = 0;
    for (int i = 0; i < w; i++) v = v * 10 + (s[i] - '0');
    return v;
}

/* ---- reporting ------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void bad(optout_warc_reader *r, optout_warc_bad_kind kind,
                                                       const char *fmt, ...) {
    r->counts.bad[kind]++;
    if (!r->on_bad) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    optout_warc_bad b = {.kind = kind,
                         .offset = r->in_record ? r->rec_off : (r->mode == M_GZIP ? r->member_off : r->out_off),
                         .number = r->in_record ? r->rec_no : 0,
                         .message = msg};
    r->on_bad(&b, r->arg);
}

/* ---- records --------------------------------------------------------------------------------- */

static void rec_end(optout_warc_reader *r, enum rstate next) {
    r->in_record = 0;
    r->pending = 0;
    r->hdr_len = 0;
    r->blk_len = 0;
    r->rs = next;
    r->sync_k = 0;
    r->sync_bol = 1;
}

/* After a bad record: drop up to the next member (gzip) or the next "WARC/1." line (plain). */
static void rec_skip(optout_warc_reader *r) { rec_end(r, r->mode == M_GZIP ? R_SKIP : R_SYNC); }

static char *trim(char *s, char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    *end = '\0';
    return s;
}

/* Parses hdr[0..hdr_len) in place. 0, or -1 after reporting. */
static int parse_header(optout_warc_reader *r) {
    memset(&r->h, 0, sizeof r->h);
    char *p = r->hdr, *end = r->hdr + r->hdr_len;
    *end = '\0';
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    char *version = trim(p, nl);
    if (strncmp(version, WARC_MAGIC, WARC_MAGIC_LEN) != 0 || !is_digit(version[WARC_MAGIC_LEN]) ||
        version[WARC_MAGIC_LEN + 1] != '\0') {
        bad(r, OPTOUT_WARC_BAD_HEADER, "no WARC/1.x version line");
        return -1;
    }
    for (p = nl < end ? nl + 1 : end; p < end;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        char *line_end = nl;
        char *next = nl < end ? nl + 1 : end;
        if (*p != ' ' && *p != '\t') { /* continuation lines carry nothing read here */
            char *colon = memchr(p, ':', (size_t)(line_end - p));
            if (colon) {
                char *name = trim(p, colon);
                char *value = trim(colon + 1, line_end);
                if (!strcasecmp(name, "WARC-Type")) r->h.type = value;
                else if (!strcasecmp(name, "WARC-Target-URI")) r->h.uri = value;
                else if (!strcasecmp(name, "WARC-Date")) r->h.date = value;
                else if (!strcasecmp(name, "WARC-Truncated")) r->h.truncated = value;
                else if (!strcasecmp(name, "Content-Type")) r->h.ctype = value;
                else if (!strcasecmp(name, "Content-Length")) {
                    if (r->h.have_length ||
                        optout_parse_u64(value, strlen(value), WARC_LENGTH_MAX, &r->h.length) != 0) {
                        bad(r, OPTOUT_WARC_BAD_HEADER, "bad or repeated Content-Length '%.40s'", value);
                        return -1;
                    }
                    r->h.have_length = 1;
                }
            }
        }
        p = next;
    }
    if (!r->h.have_length) {
        bad(r, OPTOUT_WARC_BAD_HEADER, "no Content-Length");
        return -1;
    }
    if (r->h.uri) { /* WARC 1.0 drafts wrote <uri> */
        size_t n = strlen(r->h.uri);
        if (n >= 2 && r->h.uri[0] == '<' && r->h.uri[n - 1] == '>') {
            ((char *)r->h.uri)[n - 1] = '\0';
            r->h.uri++;
        }
    }
    return 0;
}

static optout_warc_type type_of(const char *t) {
    if (!t) return OPTOUT_WARC_OTHER;
    if (!strcmp(t, "warcinfo")) return OPTOUT_WARC_WARCINFO;
    if (!strcmp(t, "response")) return OPTOUT_WARC_RESPONSE;
    if (!strcmp(t, "request")) return OPTOUT_WARC_REQUEST;
    if (!strcmp(t, "metadata")) return OPTOUT_WARC_METADATA;
    return OPTOUT_WARC_OTHER;
}

/* Content-Type "application/http; msgtype=response" (any case, any blanks, other parameters; no
 * msgtype at all is accepted too: the status line then decides). */
static int is_http_response_type(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    if (strncasecmp(ct, "application/http", 16) != 0) return 0;
    const char *p = ct + 16;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ';' && *p != '\0') return 0;
    while (*p) {
        if (*p == ';' || *p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        if (!strncasecmp(p, "msgtype", 7)) {
            const char *q = p + 7;
            while (*q == ' ') q++;
            if (*q == '=') {
                q++;
                while (*q == ' ') q++;
                if (*q == '"') q++;
                if (!strncasecmp(q, "response", 8) && (q[8] == '\0' || q[8] == ';' || q[8] == ' ' || q[8] == '"'))
                    return 1;
                return 0;
            }
        }
        while (*p && *p != ';') p++;
    }
    return 1;
}

/* The end of an HTTP header block in b[0..n): the offset just past its blank line, or 0. */
static size_t header_end(const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *nl = memchr(b + i, '\n', n - i);
        if (!nl) return 0;
        i = (size_t)(nl - b);
        if (i + 1 < n && b[i + 1] == '\n') return i + 2;
        if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* The HTTP response in the stored block into rec. 0, or -1 after reporting. */
static int parse_http(optout_warc_reader *r, optout_warc_record *rec, char *location, size_t location_cap) {
    char *b = r->blk;
    size_t n = r->blk_len;
    size_t hend = header_end(b, n < OPTOUT_WARC_HEADER_MAX ? n : OPTOUT_WARC_HEADER_MAX);
    if (!hend) {
        if (r->h.length > OPTOUT_WARC_HEADER_MAX) {
            bad(r, OPTOUT_WARC_BAD_OVERSIZE, "HTTP header block over %zu bytes", OPTOUT_WARC_HEADER_MAX);
            return -1;
        }
        hend = n; /* a response of headers only, without the blank line */
    }
    /* status line: HTTP/<version> SP <3 digits> [SP reason] */
    char *sl_end = memchr(b, '\n', hend);
    if (!sl_end) sl_end = b + hend;
    size_t sl = (size_t)(sl_end - b);
    size_t i = 5;
    if (sl < 12 || memcmp(b, "HTTP/", 5) != 0) {
        bad(r, OPTOUT_WARC_BAD_NOT_HTTP, "payload is not an HTTP response (no HTTP/ status line)");
        return -1;
    }
    while (i < sl && b[i] != ' ') i++;
    while (i < sl && b[i] == ' ') i++;
    if (i + 3 > sl || !is_digit(b[i]) || !is_digit(b[i + 1]) || !is_digit(b[i + 2]) || b[i] == '0' ||
        (i + 3 < sl && b[i + 3] != ' ' && b[i + 3] != '\r')) {
        bad(r, OPTOUT_WARC_BAD_NOT_HTTP, "payload is not an HTTP response (bad status line)");
        return -1;
    }
    rec->http = 1;
    rec->status = num(b + i, 3);
    size_t hstart = sl < hend ? sl + 1 : hend;
    rec->headers = b + hstart;
    rec->headers_len = hend - hstart;
    /* Location */
    location[0] = '\0';
    for (size_t p = hstart; p < hend;) {
        char *nl = memchr(b + p, '\n', hend - p);
        size_t e = nl ? (size_t)(nl - b) : hend;
        if (e - p > 9 && !strncasecmp(b + p, "location:", 9)) {
            size_t v = p + 9, ve = e;
            while (v < ve && (b[v] == ' ' || b[v] == '\t')) v++;
            while (ve > v && (b[ve - 1] == ' ' || b[ve - 1] == '\t' || b[ve - 1] == '\r')) ve--;
            size_t len = ve - v < location_cap - 1 ? ve - v : location_cap - 1;
            memcpy(location, b + v, len);
            location[len] = '\0';
            break;
        }
        p = e + 1;
    }
    rec->location = location;
    /* body */
    rec->body_total = r->h.length - hend;
    size_t stored = n - hend;
    if (rec->body_total > OPTOUT_FETCH_BODY_MAX) {
        rec->body_cut = 1;
        stored = optout_fetch_body_cut(b + hend, stored < OPTOUT_FETCH_BODY_MAX ? stored : OPTOUT_FETCH_BODY_MAX);
    }
    rec->body = b + hend;
    rec->body_len = stored;
    b[hend + stored] = '\0'; /* blk has a spare byte past OPTOUT_WARC_BLOCK_MAX */
    return 0;
}

/* The block is complete: report the record. 0, or 1 when the callback stops. */
static int rec_dispatch(optout_warc_reader *r) {
    optout_warc_record rec = {0};
    rec.type = type_of(r->h.type);
    rec.type_name = r->h.type ? r->h.type : "";
    rec.target_uri = r->h.uri ? r->h.uri : "";
    rec.date = OPTOUT_WARC_NO_DATE;
    rec.offset = r->rec_off;
    rec.number = r->rec_no;
    rec.content_length = r->h.length;
    rec.warc_truncated = r->h.truncated != NULL;
    rec.truncated_reason = r->h.truncated ? r->h.truncated : "";
    rec.location = "";
    rec.body = "";
    char location[2048];
    if (r->h.date && optout_history_parse_time(r->h.date, strlen(r->h.date), &rec.date) != 0) {
        if (rec.type == OPTOUT_WARC_RESPONSE) {
            bad(r, OPTOUT_WARC_BAD_HEADER, "bad WARC-Date '%.40s'", r->h.date);
            return 0;
        }
        rec.date = OPTOUT_WARC_NO_DATE;
    }
    if (rec.type == OPTOUT_WARC_WARCINFO) {
        /* "isPartOf: CC-MAIN-2019-35" among the block's fields */
        r->blk[r->blk_len] = '\0';
        for (char *p = r->blk; p < r->blk + r->blk_len;) {
            char *nl = memchr(p, '\n', (size_t)(r->blk + r->blk_len - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(r->blk + r->blk_len - p);
            char id[OPTOUT_HISTORY_CRAWL_MAX];
            if (len > 9 && !strncasecmp(p, "isPartOf:", 9) && optout_history_find_crawl(p + 9, len - 9, id))
                memcpy(r->crawl, id, sizeof id);
            p += len + 1;
        }
    } else if (rec.type == OPTOUT_WARC_RESPONSE) {
        if (!r->h.uri || !*r->h.uri) {
            bad(r, OPTOUT_WARC_BAD_NO_URI, "response without WARC-Target-URI");
            return 0;
        }
        if (rec.date == OPTOUT_WARC_NO_DATE) {
            bad(r, OPTOUT_WARC_BAD_HEADER, "response without WARC-Date");
            return 0;
        }
        if (!is_http_response_type(r->h.ctype)) {
            bad(r, OPTOUT_WARC_BAD_NOT_HTTP, "response of Content-Type '%.60s', not application/http",
                r->h.ctype ? r->h.ctype : "");
            return 0;
        }
        if (parse_http(r, &rec, location, sizeof location) != 0) return 0;
        r->counts.responses++;
    }
    rec.crawl = r->crawl;
    r->counts.records++;
    return r->on_record(&rec, r->arg) != 0;
}

/* The block is complete. Plain input: reported now. Gzip: when its member ends (inflate has then
 * checked the member's CRC, so a corrupt member yields no record), or when a next record begins
 * in the same member (a writer putting several records in one member). 0, or 1 when stopped. */
static int rec_complete(optout_warc_reader *r) {
    if (r->mode == M_GZIP) {
        r->pending = 1;
        r->rs = R_BETWEEN;
        return 0;
    }
    int rc = rec_dispatch(r);
    rec_end(r, R_BETWEEN);
    return rc;
}

/* Reports the pending record, if any. 0, or 1 when stopped. */
static int rec_flush(optout_warc_reader *r) {
    if (!r->pending) return 0;
    int rc = rec_dispatch(r);
    rec_end(r, r->rs);
    return rc;
}

/* The header is complete: parse it and prepare for the block. 0, or 1 when stopped. */
static int rec_begin_block(optout_warc_reader *r) {
    if (parse_header(r) != 0) {
        rec_skip(r);
        return 0;
    }
    optout_warc_type t = type_of(r->h.type);
    r->blk_cap = t == OPTOUT_WARC_RESPONSE ? OPTOUT_WARC_BLOCK_MAX : t == OPTOUT_WARC_WARCINFO ? OPTOUT_WARC_HEADER_MAX : 0;
    r->blk_len = 0;
    r->remaining = r->h.length;
    r->rs = R_BLOCK;
    return r->remaining == 0 ? rec_complete(r) : 0;
}

static int rec_start(optout_warc_reader *r, uint64_t off) {
    int rc = rec_flush(r);
    if (rc) return rc;
    r->rs = R_HEADER;
    r->hdr_len = 0;
    r->in_record = 1;
    r->rec_no++;
    r->rec_off = r->mode == M_GZIP ? r->member_off : off;
    return 0;
}

/* Decompressed bytes. 0, or 1 when a callback stopped the reader. */
static int rec_data(optout_warc_reader *r, const char *p, size_t n) {
    while (n > 0) {
        switch (r->rs) {
        case R_SKIP:
            r->out_off += n;
            return 0;
        case R_SYNC: {
            /* a line starting "WARC/1." */
            size_t i = 0;
            while (i < n) {
                if (r->sync_bol || r->sync_k > 0) {
                    if (p[i] == WARC_MAGIC[r->sync_k]) {
                        r->sync_bol = 0;
                        if (++r->sync_k == WARC_MAGIC_LEN) {
                            i++;
                            (void)rec_start(r, r->out_off + i - WARC_MAGIC_LEN); /* plain: none pending */
                            memcpy(r->hdr, WARC_MAGIC, WARC_MAGIC_LEN);
                            r->hdr_len = WARC_MAGIC_LEN;
                            break;
                        }
                        i++;
                        continue;
                    }
                    r->sync_k = 0;
                    r->sync_bol = 0;
                }
                const char *nl = memchr(p + i, '\n', n - i);
                if (!nl) {
                    i = n;
                    break;
                }
                i = (size_t)(nl - p) + 1;
                r->sync_bol = 1;
            }
            r->out_off += i;
            p += i;
            n -= i;
            break;
        }
        case R_BETWEEN: {
            size_t i = 0;
            while (i < n && (p[i] == '\r' || p[i] == '\n')) i++;
            r->out_off += i;
            p += i;
            n -= i;
            if (n > 0) {
                int rc = rec_start(r, r->out_off);
                if (rc) return rc;
            }
            break;
        }
        case R_HEADER: {
            /* garbage rather than a header: said at its first byte, not after 64 KiB, and not
             * consumed, so that a plain file's resynchronisation sees it */
            while (r->hdr_len < WARC_MAGIC_LEN && n > 0 && p[0] == WARC_MAGIC[r->hdr_len]) {
                r->hdr[r->hdr_len++] = p[0];
                r->out_off++;
                p++;
                n--;
            }
            if (n == 0) break;
            if (r->hdr_len < WARC_MAGIC_LEN) {
                bad(r, OPTOUT_WARC_BAD_HEADER, "no WARC/1.x version line");
                rec_skip(r);
                r->sync_bol = 0;
                break;
            }
            size_t room = OPTOUT_WARC_HEADER_MAX - r->hdr_len;
            size_t take = n < room ? n : room;
            size_t from = r->hdr_len > 3 ? r->hdr_len - 3 : 0;
            memcpy(r->hdr + r->hdr_len, p, take);
            r->hdr_len += take;
            /* the blank line: "\r\n\r\n" or "\n\n" */
            size_t end = 0;
            for (size_t i = from; i < r->hdr_len; i++) {
                char *nl = memchr(r->hdr + i, '\n', r->hdr_len - i);
                if (!nl) break;
                i = (size_t)(nl - r->hdr);
                if (i + 1 < r->hdr_len && r->hdr[i + 1] == '\n') {
                    end = i + 2;
                    break;
                }
                if (i + 2 < r->hdr_len && r->hdr[i + 1] == '\r' && r->hdr[i + 2] == '\n') {
                    end = i + 3;
                    break;
                }
            }
            if (end) {
                size_t used = take - (r->hdr_len - end);
                r->hdr_len = end;
                r->out_off += used;
                p += used;
                n -= used;
                int rc = rec_begin_block(r);
                if (rc) return rc;
                break;
            }
            r->out_off += take;
            p += take;
            n -= take;
            if (r->hdr_len == OPTOUT_WARC_HEADER_MAX) {
                bad(r, OPTOUT_WARC_BAD_OVERSIZE, "WARC header block over %zu bytes", OPTOUT_WARC_HEADER_MAX);
                rec_skip(r);
            }
            break;
        }
        case R_BLOCK: {
            size_t take = (uint64_t)n < r->remaining ? n : (size_t)r->remaining;
            if (r->blk_len < r->blk_cap) {
                size_t keep = r->blk_cap - r->blk_len < take ? r->blk_cap - r->blk_len : take;
                memcpy(r->blk + r->blk_len, p, keep);
                r->blk_len += keep;
            }
            r->remaining -= take;
            r->out_off += take;
            p += take;
            n -= take;
            if (r->remaining == 0) {
                int rc = rec_complete(r);
                if (rc) return rc;
            }
            break;
        }
        }
    }
    return 0;
}

/* The end of a gzip member or of the input: a record left open is reported. */
static void rec_cut(optout_warc_reader *r, const char *where) {
    if (r->rs == R_BLOCK) {
        bad(r, OPTOUT_WARC_BAD_LENGTH, "Content-Length %llu past the end of the %s (%llu bytes missing)",
            (unsigned long long)r->h.length, where, (unsigned long long)r->remaining);
    } else if (r->rs == R_HEADER && r->hdr_len > 0) {
        bad(r, OPTOUT_WARC_BAD_LENGTH, "WARC header cut short by the end of the %s", where);
    }
    rec_end(r, R_BETWEEN);
}

/* ---- bytes ----------------------------------------------------------------------------------- */

optout_warc_reader *optout_warc_new(const char *name, optout_warc_on_record on_record, optout_warc_on_bad on_bad,
                                    void *arg) {
    optout_warc_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->name = strdup(name ? name : "");
    r->hdr = malloc(OPTOUT_WARC_HEADER_MAX + 1);
    r->blk = malloc(OPTOUT_WARC_BLOCK_MAX + 1);
    r->out = malloc(WARC_OUT_CAP);
    if (!r->name || !r->hdr || !r->blk || !r->out) {
        optout_warc_free(r);
        return NULL;
    }
    r->on_record = on_record;
    r->on_bad = on_bad;
    r->arg = arg;
    r->sync_bol = 1;
    (void)optout_history_find_crawl(r->name, strlen(r->name), r->crawl);
    return r;
}

void optout_warc_free(optout_warc_reader *r) {
    if (!r) return;
    if (r->z_ready) inflateEnd(&r->z);
    free(r->name);
    free(r->hdr);
    free(r->blk);
    free(r->out);
    free(r);
}

const optout_warc_counts *optout_warc_counts_of(const optout_warc_reader *r) { return &r->counts; }

/* Inflates z's input (avail_in bytes starting at absolute offset `at`) into records. 0, 1 stopped,
 * -1 with err. On a broken member, switches to RESYNC and returns with the rest unconsumed. */
static int gz_inflate(optout_warc_reader *r, uint64_t *at, char *err, size_t errlen) {
    while (r->z.avail_in > 0 && r->gz == GZ_MEMBER) {
        uInt before_in = r->z.avail_in;
        r->z.next_out = r->out;
        r->z.avail_out = (uInt)WARC_OUT_CAP;
        int ret = inflate(&r->z, Z_NO_FLUSH);
        size_t produced = WARC_OUT_CAP - r->z.avail_out;
        uInt consumed = before_in - r->z.avail_in;
        *at += consumed;
        if (consumed) r->in_member = 1;
        r->counts.bytes_out += produced;
        if (produced) {
            int rc = rec_data(r, (const char *)r->out, produced);
            if (rc) return rc;
        }
        if (ret == Z_STREAM_END) {
            int rc = rec_flush(r);
            if (rc) return rc;
            rec_cut(r, "gzip member");
            inflateReset(&r->z);
            r->in_member = 0;
            r->member_off = *at;
        } else if (ret == Z_MEM_ERROR) {
            optout_set_err(err, errlen, "%s: out of memory inflating", r->name);
            return -1;
        } else if ((ret != Z_OK && ret != Z_BUF_ERROR) || (consumed == 0 && produced == 0)) {
            bad(r, OPTOUT_WARC_BAD_GZIP, "broken gzip member at offset %llu: %s", (unsigned long long)r->member_off,
                r->z.msg ? r->z.msg : "inflate failed");
            rec_end(r, R_BETWEEN);
            inflateReset(&r->z);
            r->in_member = 0;
            r->gz = GZ_RESYNC;
            r->magic_k = 0;
        }
    }
    return 0;
}

int optout_warc_feed(optout_warc_reader *r, const void *data, size_t len, char *err, size_t errlen) {
    if (r->stopped) return 1;
    if (r->failed) {
        optout_set_err(err, errlen, "%s: the reader failed earlier", r->name);
        return -1;
    }
    const unsigned char *p = data;
    uint64_t base = r->counts.bytes_in;
    r->counts.bytes_in += len;
    if (len == 0) return 0;
    if (r->mode == M_UNKNOWN) {
        if (p[0] == GZ_MAGIC[0]) {
            if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
                optout_set_err(err, errlen, "%s: cannot initialise zlib", r->name);
                r->failed = 1;
                return -1;
            }
            r->z_ready = 1;
            r->mode = M_GZIP;
            r->gz = GZ_MEMBER;
        } else {
            r->mode = M_PLAIN;
        }
    }
    int rc = 0;
    if (r->mode == M_PLAIN) {
        r->counts.bytes_out += len;
        rc = rec_data(r, (const char *)p, len);
    } else {
        size_t i = 0;
        uint64_t at = base;
        while (i < len && rc == 0) {
            if (r->gz == GZ_RESYNC) {
                /* the next 1f 8b 08, possibly begun in an earlier feed */
                while (i < len && r->magic_k < sizeof GZ_MAGIC) {
                    if (p[i] == GZ_MAGIC[r->magic_k]) r->magic_k++;
                    else r->magic_k = p[i] == GZ_MAGIC[0];
                    i++;
                }
                if (r->magic_k < sizeof GZ_MAGIC) break;
                r->gz = GZ_MEMBER;
                r->magic_k = 0;
                /* the member starts at the magic: replay it (a constant) into inflate */
                at = base + i - sizeof GZ_MAGIC;
                r->member_off = at;
                r->z.next_in = (Bytef *)GZ_MAGIC;
                r->z.avail_in = (uInt)sizeof GZ_MAGIC;
                rc = gz_inflate(r, &at, err, errlen);
                if (rc) break;
                continue;
            }
            size_t chunk = len - i < (size_t)UINT32_MAX ? len - i : (size_t)UINT32_MAX;
            r->z.next_in = (Bytef *)(p + i);
            r->z.avail_in = (uInt)chunk;
            at = base + i;
            rc = gz_inflate(r, &at, err, errlen);
            i = (size_t)(at - base);
        }
        r->z.next_in = NULL;
        r->z.avail_in = 0;
    }
    if (rc == 1) r->stopped = 1;
    if (rc < 0) r->failed = 1;
    return rc;
}

int optout_warc_finish(optout_warc_reader *r, char *err, size_t errlen) {
    if (r->stopped) return 1;
    if (r->failed) {
        optout_set_err(err, errlen, "%s: the reader failed earlier", r->name);
        return -1;
    }
    if (r->finished) return 0;
    r->finished = 1;
    if (r->mode == M_GZIP && r->gz == GZ_MEMBER && r->in_member) {
        bad(r, OPTOUT_WARC_BAD_GZIP, "gzip member at offset %llu cut short by the end of the file",
            (unsigned long long)r->member_off);
        rec_end(r, R_BETWEEN);
    } else {
        rec_cut(r, "file");
    }
    return 0;
}

int optout_warc_read_file(const char *path, optout_warc_on_record on_record, optout_warc_on_bad on_bad, void *arg,
                          optout_warc_counts *counts, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    optout_warc_reader *r = optout_warc_new(path, on_record, on_bad, arg);
    char *buf = malloc(WARC_READ_CHUNK);
    if (!r || !buf) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        optout_warc_free(r);
        free(buf);
        close(fd);
        return -1;
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, WARC_READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            optout_set_err(err, errlen, "%s: read at offset %llu: %s", path,
                           (unsigned long long)r->counts.bytes_in, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) {
            rc = optout_warc_finish(r, err, errlen);
            break;
        }
        if ((rc = optout_warc_feed(r, buf, (size_t)n, err, errlen)) != 0) break;
    }
    if (counts) *counts = r->counts;
    optout_warc_free(r);
    free(buf);
    close(fd);
    return rc;
}
