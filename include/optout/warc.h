/* warc.h — a streaming reader of WARC files as Common Crawl publishes its robots.txt captures
 * (crawl-data/<crawl>/segments/<seg>/robotstxt/NAME.warc.gz): records out, bounded memory, hostile
 * input counted and skipped (rules: docs/history.md, "WARC").
 *
 * Contract
 * - Push interface: optout_warc_feed() takes the file's bytes in pieces of any size (a read(2)
 *   loop, a libcurl write callback); optout_warc_finish() ends the file. The records reported, and
 *   the bad records counted, do not depend on how the bytes were split.
 * - Compression: input starting with the gzip magic is read as a series of gzip members (one per
 *   record, as Common Crawl writes them; a member holding several records is read as well). Other
 *   input is a plain WARC file.
 * - Every record calls `on_record` once it is complete (its block read to Content-Length and the
 *   two CRLFs after it, which may be missing at the end of a member or of the file). A `warcinfo`
 *   record's `isPartOf` sets the crawl id of the records after it; before any, the crawl id is the
 *   first CC-MAIN-YYYY-WW in the name given to optout_warc_new() (usually the file's path or
 *   URL), else empty (both found by optout_history_find_crawl).
 * - A `response` record whose Content-Type is `application/http; msgtype=response` is parsed as an
 *   HTTP response: status line, header block, `Location`, body. Common Crawl has removed transfer
 *   and content encodings (renaming those headers X-Crawler-*), so the body is the payload as is.
 *   A body longer than OPTOUT_FETCH_BODY_MAX is cut after its last line end within the limit (like
 *   a fetched robots.txt) and flagged `body_cut`; `WARC-Truncated` is reported as found.
 * - Bad input never stops the reader: each defect is reported to `on_bad` with its kind, the
 *   record's byte offset in the file (of its gzip member, for compressed input) and the record's
 *   number, then skipped: a broken gzip member (the reader resynchronises at the next gzip magic),
 *   a record cut short by the end of its member or of the file (Content-Length past the end), a
 *   response without WARC-Target-URI, a response whose payload is not an HTTP response, a WARC or
 *   HTTP header block over OPTOUT_WARC_HEADER_MAX, a malformed WARC header (no WARC/1.x line, no
 *   or bad Content-Length, a bad WARC-Date on a response). A plain file resynchronises at the next
 *   line starting "WARC/1.".
 * - Memory: OPTOUT_WARC_HEADER_MAX + OPTOUT_WARC_BLOCK_MAX + a 256 KiB inflate buffer (about
 *   0.9 MiB) per reader, whatever the input.
 * - The record's pointers are valid during the callback only. A callback returning nonzero stops
 *   the reader: feed/finish return 1 and every later call does nothing.
 */
#ifndef OPTOUT_WARC_H
#define OPTOUT_WARC_H

#include <stddef.h>
#include <stdint.h>

#include "optout/fetch.h"
#include "optout/history.h"

#define OPTOUT_WARC_HEADER_MAX ((size_t)64 * 1024) /* a WARC header block, an HTTP header block */
#define OPTOUT_WARC_BLOCK_MAX (OPTOUT_WARC_HEADER_MAX + OPTOUT_FETCH_BODY_MAX + 1)
#define OPTOUT_WARC_NO_DATE INT64_MIN

typedef enum {
    OPTOUT_WARC_WARCINFO = 0,
    OPTOUT_WARC_RESPONSE,
    OPTOUT_WARC_REQUEST,
    OPTOUT_WARC_METADATA,
    OPTOUT_WARC_OTHER
} optout_warc_type;

typedef struct {
    optout_warc_type type;
    const char *type_name;   /* WARC-Type as written ("" when absent) */
    const char *target_uri;  /* WARC-Target-URI ("" when absent); "<uri>" brackets removed */
    int64_t date;            /* WARC-Date (ISO 8601, as optout_history_parse_time reads it) in Unix
                                seconds UTC, OPTOUT_WARC_NO_DATE when absent */
    int warc_truncated;      /* WARC-Truncated present (its value: truncated_reason) */
    const char *truncated_reason;
    const char *crawl;       /* the crawl id in force ("" when unknown) */
    uint64_t offset;         /* where the record starts in the file (its gzip member's start) */
    uint64_t number;         /* 1-based, counting every record begun, bad ones included */
    uint64_t content_length; /* the block's size */
    /* HTTP responses only (http == 1) */
    int http;
    int status;              /* 100..999 */
    const char *location;    /* "" when none */
    const char *headers;     /* the header block after the status line (CRLF lines), not NUL-terminated */
    size_t headers_len;
    const char *body;        /* NUL-terminated copy, body_len bytes */
    size_t body_len;
    uint64_t body_total;     /* the payload's size in the record */
    int body_cut;            /* longer than OPTOUT_FETCH_BODY_MAX: cut by this reader */
} optout_warc_record;

typedef enum {
    OPTOUT_WARC_BAD_GZIP = 0, /* a gzip member that does not inflate */
    OPTOUT_WARC_BAD_LENGTH,   /* Content-Length past the end of the member or file */
    OPTOUT_WARC_BAD_NO_URI,   /* a response without WARC-Target-URI */
    OPTOUT_WARC_BAD_NOT_HTTP, /* a response whose payload is not an HTTP response */
    OPTOUT_WARC_BAD_OVERSIZE, /* a header block over OPTOUT_WARC_HEADER_MAX */
    OPTOUT_WARC_BAD_HEADER,   /* a malformed WARC header */
    OPTOUT_WARC_BAD_COUNT
} optout_warc_bad_kind;

/* "gzip", "length", "no_uri", "not_http", "oversize", "header". */
const char *optout_warc_bad_name(optout_warc_bad_kind kind);

typedef struct {
    optout_warc_bad_kind kind;
    uint64_t offset; /* as optout_warc_record.offset */
    uint64_t number; /* the record's number (0 when no record had begun: garbage between records) */
    const char *message;
} optout_warc_bad;

typedef int (*optout_warc_on_record)(const optout_warc_record *rec, void *arg);
typedef void (*optout_warc_on_bad)(const optout_warc_bad *bad, void *arg);

typedef struct {
    uint64_t records;                        /* records complete (reported to on_record) */
    uint64_t responses;                      /* of which HTTP responses (http == 1) */
    uint64_t bad[OPTOUT_WARC_BAD_COUNT];
    uint64_t bytes_in, bytes_out;            /* file bytes fed, decompressed bytes */
} optout_warc_counts;

typedef struct optout_warc_reader optout_warc_reader;

/* name: the file's path or URL (messages, and the crawl id until a warcinfo names one). on_bad
 * may be NULL. NULL only when out of memory. */
optout_warc_reader *optout_warc_new(const char *name, optout_warc_on_record on_record, optout_warc_on_bad on_bad,
                                    void *arg);
/* 0, 1 when a callback stopped the reader, -1 with err on an internal failure (out of memory). */
int optout_warc_feed(optout_warc_reader *r, const void *data, size_t len, char *err, size_t errlen);
/* The end of the file: a record left open is reported as BAD_LENGTH (or BAD_GZIP when its member
 * was cut short). Same returns as feed. */
int optout_warc_finish(optout_warc_reader *r, char *err, size_t errlen);
const optout_warc_counts *optout_warc_counts_of(const optout_warc_reader *r);
void optout_warc_free(optout_warc_reader *r);

/* Reads a whole file (plain or gzip) through a reader: 0, 1 stopped, -1 with err when the file
 * cannot be read. */
int optout_warc_read_file(const char *path, optout_warc_on_record on_record, optout_warc_on_bad on_bad, void *arg,
                          optout_warc_counts *counts, char *err, size_t errlen);

#endif
