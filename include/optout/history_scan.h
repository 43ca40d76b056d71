/* history_scan.h — one robotstxt WARC file read into a history archive writer: the captures of a
 * set of hosts, and the redirect targets they name (rules for users: docs/history.md, "Archive").
 * `optout history` reads every file in one process; the fleet's history tasks read one file each.
 *
 * Contract
 * - A response of a host of `wanted` becomes a capture (history_archive.h's writer): host key and
 *   scheme of WARC-Target-URI, the crawl the reader gives it, WARC-Date, status, outcome (2xx ok;
 *   3xx and other 4xx unavailable; 429, 5xx and anything that is no HTTP status unreachable), the
 *   redirect target of a 3xx (Location resolved against the URL; a Location that is no http(s)
 *   URL with a host makes a plain unavailable), truncated (WARC-Truncated or cut), the body.
 * - A redirect target absent from `seen` is put into `next` (when `next` is not NULL): the hosts a
 *   later pass must keep.
 * - On the first pass (first_pass set) the file is counted (files, bytes, records, responses, bad
 *   records by kind, responses without a host) and recorded as a source of the writer; the first
 *   HISTORY_SCAN_BAD_SHOWN bad records of a file are named in the log with file, offset, number.
 * - optout_history_scan_file(): 0, 1 stopped (stream options' stop), -1 with err naming the file.
 */
#ifndef OPTOUT_HISTORY_SCAN_H
#define OPTOUT_HISTORY_SCAN_H

#include <stdint.h>

#include "optout/ccsource.h"
#include "optout/history_archive.h"
#include "optout/strmap.h"
#include "optout/warc.h"

#define OPTOUT_HISTORY_SCAN_BAD_SHOWN 10 /* bad records named per file; the rest are counted */

typedef struct {
    optout_history_writer *w;
    optout_strmap *wanted;   /* this pass keeps these hosts' captures */
    optout_strmap *seen;     /* every host kept or asked for so far (NULL: none) */
    optout_strmap *next;     /* redirect targets for the next pass (NULL: not collected) */
    int first_pass;
    /* counts (first pass only, but for captures) */
    uint64_t files, bytes, records, responses, captures, no_host, no_crawl;
    uint64_t bad[OPTOUT_WARC_BAD_COUNT];
    /* internal: the file being read */
    const char *location;
    char file_crawl[OPTOUT_HISTORY_CRAWL_MAX];
    size_t shown;
    char err[1024];
    int failed;
} optout_history_scan;

/* Adds key to the set m unless it is there (values are (void *)1). 0, or -1 out of memory. */
int optout_history_scan_put(optout_strmap *m, const char *key, size_t len);

/* Reads one file (local path or URL) through the WARC reader into st->w. */
int optout_history_scan_file(optout_history_scan *st, const char *location, const optout_cc_stream_options *so,
                             char *err, size_t errlen);

#endif
