/* wayback.h — robots.txt captures from the Internet Archive's Wayback Machine (CDX API and raw
 * replay) into a history archive build (rules for users: docs/history.md, "Wayback").
 *
 * Contract
 * - Hosts are grouped by their key without a leading "www.": one CDX query per group
 *   (BASE/cdx/search/cdx?url=GROUP/robots.txt&output=json&fl=timestamp,original,statuscode,digest,
 *   length&from=FROM&to=TO&showResumeKey=true&limit=..., then again with resumeKey while the answer
 *   names one), since the CDX matches both schemes and "www.". A row is kept for the listed host
 *   whose key is the host key of its `original` (other rows are counted, not kept); every capture
 *   keeps its own time (no collapse).
 * - Rows: timestamp 14 digits (UTC), original an http(s) URL of printable ASCII, statuscode 3
 *   digits, digest [A-Z0-9] (at most 64). A row that is not so is counted bad and skipped; an
 *   answer that is not a JSON array of arrays of strings fails its host (counted, warned, no
 *   captures: the archive would not know what it missed) and the run goes on.
 * - Which captures get a body: those with a 2xx status, once per digest over the whole run
 *   (BASE/web/<timestamp>id_/<original>): any 2xx capture can be the latest before some document's
 *   time, and a robots.txt changes rarely, so digests bound the cost. 3xx captures are skipped (the
 *   CDX gives no Location: an unresolved redirect counts as no capture anyway); 4xx, 429 and 5xx
 *   captures join without a body (unavailable / unreachable).
 * - A body whose replay answers 4xx, or that arrives cut after every retry, drops the captures of
 *   its digest (counted, warned). 429 and 5xx after every retry, or a transport failure, fail the
 *   run: what was done is kept for the next run.
 * - Politeness: one transfer at a time, on one connection kept open (a libcurl share of the
 *   connection cache across transfers); requests paced to at most `rate` per second (a token bucket
 *   of one token: never two requests closer than 1/rate s, retries and pages included); 429 and
 *   5xx retried with exponential backoff and Retry-After (ccsource.h); after
 *   OPTOUT_WAYBACK_PAUSE_AFTER_429 answers 429 in a row, every request waits pause_ms more once.
 * - Resumption: hosts are done in blocks; a finished block is STATE/block-NNNNNN.tsv (written to a
 *   temporary name, fsynced, renamed) with its queries (group, time, SHA-256 of the answers, rows)
 *   and captures; bodies are STATE/bodies/<digest>. A block file whose header names another base,
 *   years or host list is done again. A killed run asks again only for the unfinished block, and
 *   for the groups of finished blocks whose answer was not CDX JSON (their Q line says failed): the
 *   block file is rewritten with their new lines, the others kept as they were.
 * - Test hook (tests only, documented with the other test-only variables in docs/cli.md): the
 *   environment's OPTOUT_WAYBACK_TEST_TIMING="BACKOFF_MS,PAUSE_MS" replaces the defaults of
 *   backoff_ms and pause_ms (minutes of waiting otherwise); a malformed value is refused (-1).
 *   It is read here only, so `optout history` and the fleet's workers see the same.
 * - optout_wayback_collect() adds every capture to w (origin wayback, crawl "") and fills st,
 *   answers_sha256 being the SHA-256 of the per-query lines "group\tsha256\n" in order.
 *   Returns 0, 1 stopped (*o->stop), -1 with err.
 */
#ifndef OPTOUT_WAYBACK_H
#define OPTOUT_WAYBACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "optout/history_archive.h"

#define OPTOUT_WAYBACK_BASE_DEFAULT "https://web.archive.org"
#define OPTOUT_WAYBACK_STATE_DIR ".wayback" /* under the output directory */
#define OPTOUT_WAYBACK_PAUSE_AFTER_429 3
#define OPTOUT_WAYBACK_TEST_TIMING_ENV "OPTOUT_WAYBACK_TEST_TIMING"

typedef struct {
    const char *base;            /* e.g. https://web.archive.org */
    int from_year, to_year;      /* inclusive */
    double rate;                 /* requests per second, > 0 */
    const char *state_dir;       /* created when missing */
    size_t block_hosts;          /* host groups per block (0: 100) */
    int retries;                 /* < 0: 4 */
    long backoff_ms;             /* first backoff (0: 2000, or the test hook's) */
    long pause_ms;               /* the pause after repeated 429s (0: 300000, or the test hook's) */
    int quiet;                   /* no estimate, no progress */
    volatile sig_atomic_t *stop;
} optout_wayback_options;

typedef struct {
    uint64_t hosts, queries, requests, rows, rows_kept, rows_other_host, rows_bad, hosts_failed;
    uint64_t captures, redirects_skipped, bodies_fetched, bodies_reused, bodies_dropped, captures_dropped;
    uint64_t blocks, blocks_resumed;
    uint64_t hosts_retried; /* host groups of finished blocks asked again: their query had failed */
    uint64_t rows_recorded; /* rows of every query of the blocks (resumed ones too) */
    int64_t query_first, query_last; /* Unix seconds of the earliest and latest query (0: none) */
    char answers_sha256[65];
} optout_wayback_stats;

/* "R" a positive decimal number of requests per second (at most 1000): 0, or -1. */
int optout_wayback_rate_parse(const char *text, double *rate);

/* The hosts of block `index` as optout_wayback_collect splits them (group order, block_groups
 * groups a block, 0: the default 100): the block is (*sorted)[*first .. *first + *count), *count 0
 * past the last block; *groups (when not NULL) its host groups, i.e. its CDX queries; *sorted is
 * a malloc'd array of pointers into hosts (free it). Returns the number of blocks. The fleet's
 * Wayback tasks are these blocks, one each. */
size_t optout_wayback_block(const char *const *hosts, size_t n, size_t block_groups, size_t index,
                            const char ***sorted, size_t *first, size_t *count, size_t *groups);

/* How optout_wayback_collect splits hosts into blocks of block_groups groups (0: the default):
 * the number of blocks, and in *groups (malloc'd, one per block) each block's host groups, i.e.
 * its CDX queries. */
size_t optout_wayback_plan(const char *const *hosts, size_t n, size_t block_groups, size_t **groups);

/* The path of block `index`'s file in state_dir (the resumption's STATE/block-NNNNNN.tsv). */
void optout_wayback_block_file(const char *state_dir, size_t index, char *out, size_t cap);
/* Block `index`'s file copied to `to` (written whole; empty when the block has none: no hosts), so
 * that a later run can go on from it (optout_wayback_seed). 0, or -1 with err. */
int optout_wayback_copy_block(const char *state_dir, size_t index, const char *to, char *err, size_t errlen);
/* Resumption from a block published elsewhere (a fleet's part): block_file (a copy of a block's
 * file) becomes block `index` of state_dir, and the bodies of its 2xx captures are taken from the
 * history archive part/history built from it (the captures whose body was dropped stay without
 * one), so that optout_wayback_collect asks again only for the block's groups whose answer was not
 * CDX JSON (or the whole block when the file is another block's). A missing block_file is no
 * earlier block: 0. 0, or -1 with err. */
int optout_wayback_seed(const char *state_dir, size_t index, const char *block_file, const char *part, char *err,
                        size_t errlen);

int optout_wayback_collect(const char *const *hosts, size_t n, const optout_wayback_options *o,
                           optout_history_writer *w, optout_wayback_stats *st, char *err, size_t errlen);

/* The UTC times of st's first and last query as YYYY-MM-DDTHH:MM:SSZ ("-" when none). */
void optout_wayback_times(const optout_wayback_stats *st, char first[32], char last[32]);

/* The provenance of the captures collected as w's sources.tsv line (the archive changes, so when
 * it was asked and what it said): location "wayback BASE/cdx/search/cdx years FROM-TO queried
 * FIRST..LAST answers sha256 HASH rate R" (R: o->rate, the requests per second of the run that
 * wrote the line; a resume may change it), crawl "", bytes 0, records the CDX rows, responses the
 * captures kept. 0, or -1 with err. */
int optout_wayback_record(optout_history_writer *w, const optout_wayback_options *o, const optout_wayback_stats *st,
                          char *err, size_t errlen);

#endif
