/* ccsource.h — where Common Crawl's robots.txt capture files come from: the crawl list of
 * --cc-crawls, a crawl's robotstxt.paths.gz under --cc-base, and the bytes of one file, local or
 * over HTTP(S), streamed to a consumer (rules for users: docs/history.md, "WARC").
 *
 * Contract
 * - optout_cc_crawls_parse(): "CC-MAIN-2019-35,CC-MAIN-2021-04" (comma-separated, blanks around
 *   items ignored, duplicates dropped, order kept); each item must be exactly a crawl id
 *   (optout_history_find_crawl). out may be NULL (a check only).
 * - A location is an http:// or https:// URL, or a local path.
 * - optout_cc_stream(): hands the location's bytes to `sink` in pieces, in order, each byte once.
 *   Local files are read with read(2). URLs with libcurl: redirects are followed by hand, at most
 *   OPTOUT_FETCH_MAX_REDIRECTS, and only within the origin (scheme, host and port) of the first
 *   URL; 429, 5xx and transport failures are retried up to `retries` more times after a backoff
 *   (backoff_ms, doubled each time; a longer Retry-After is waited, up to 60 s); a retry after
 *   bytes were delivered asks for the rest (Range) and skips what was already delivered when the
 *   server sends the whole file again, so the sink never sees a byte twice (a 206 whose
 *   Content-Range does not start there fails the file). 4xx other than 429 is
 *   final. The address guard of robots.txt fetching does not apply: the server is the user's
 *   explicit choice. *stop (optional) abandons the transfer: return 1.
 *   Returns 0, 1 stopped (by *stop or the sink returning nonzero), -1 with err naming the location.
 * - optout_cc_paths(): reads BASE/crawl-data/CRAWL/robotstxt.paths.gz (gzip or plain) through
 *   optout_cc_stream and returns the locations it lists, BASE joined with each entry. Only relative
 *   entries are followed: an entry with a scheme, a leading '/', a "." or ".." segment, a
 *   backslash or a control character is refused and counted in *refused (the first one named in
 *   refused_example when given). Blank lines are skipped.
 * Thread-safe when curl_global_init() was called before threads started.
 */
#ifndef OPTOUT_CCSOURCE_H
#define OPTOUT_CCSOURCE_H

#include <signal.h>
#include <stddef.h>

#include "optout/history.h"

#define OPTOUT_HISTORY_CC_BASE_DEFAULT "https://data.commoncrawl.org"

typedef struct {
    char (*ids)[OPTOUT_HISTORY_CRAWL_MAX];
    size_t count;
} optout_cc_crawls;

/* 0, or -1 with err ("expected CC-MAIN-YYYY-WW, got 'x'"). out may be NULL. */
int optout_cc_crawls_parse(const char *text, optout_cc_crawls *out, char *err, size_t errlen);
void optout_cc_crawls_free(optout_cc_crawls *c);

/* 1 for an http:// or https:// location. */
int optout_cc_is_url(const char *location);

typedef struct {
    int retries;             /* extra attempts (< 0: 2) */
    long backoff_ms;         /* first backoff (0: 1000) */
    long connect_timeout_ms; /* 0: 30000 */
    long low_speed_time;     /* seconds under 1 KiB/s that abort a transfer (0: 60) */
    const char *user_agent;  /* NULL: optout/<version> */
    volatile sig_atomic_t *stop;
} optout_cc_stream_options;

/* Returns 0 to go on, nonzero to stop. */
typedef int (*optout_cc_sink)(const void *data, size_t len, void *arg);

int optout_cc_stream(const char *location, const optout_cc_stream_options *o, optout_cc_sink sink, void *arg,
                     char *err, size_t errlen);

typedef struct {
    char **items;
    size_t count;
} optout_cc_list;

/* 0, or -1 with err. */
int optout_cc_paths(const char *base, const char *crawl, const optout_cc_stream_options *o, optout_cc_list *out,
                    size_t *refused, char *refused_example, size_t example_len, char *err, size_t errlen);
void optout_cc_list_free(optout_cc_list *l);

#endif
