/* survey.h — what a corpus holds for robots.txt as it was: per host key and crawl named by its
 * documents, the documents and tokens (the survey that runs before a historical run's other
 * stages, docs/history.md "Survey"). The rank map counts it while it counts hosts (rank.h).
 *
 * Contract
 * - A row is (host key, crawl): the crawl is the first CC-MAIN-YYYY-WW of the document's dump
 *   field (history.h's rule), "-" when it names none. Documents and tokens are counted as the
 *   ranking counts them.
 * - File form (a map task's part, and the merged DIR/survey.tsv): a '#' header line, then
 *   "host \t crawl \t docs \t tokens \n" sorted bytewise by host, then crawl; each (host, crawl)
 *   once. Written complete (a temporary name created anew without following a link, fsync,
 *   rename, fsync of the directory): a reader sees the old file or the new one.
 * - optout_survey_merge() sums part files (each read with every line checked: fields, numbers,
 *   crawl ids; a bad line names file and line) into one file, and returns per crawl the documents,
 *   tokens and hosts (crawls in id order, "-" last), the hosts overall.
 * - Memory: a survey holds one entry per (host, crawl), about 100 bytes each.
 * Not thread-safe per object.
 */
#ifndef OPTOUT_SURVEY_H
#define OPTOUT_SURVEY_H

#include <stddef.h>
#include <stdint.h>

#include "optout/history.h"

typedef struct optout_survey optout_survey; /* struct optout_survey in rank.h (no include there) */

optout_survey *optout_survey_new(void);
void optout_survey_free(optout_survey *s);
/* Counts one document of host (len bytes) in crawl ("" or NULL: none). 0, or -1 (out of memory). */
int optout_survey_add(optout_survey *s, const char *host, size_t len, const char *crawl, uint64_t docs,
                      uint64_t tokens);
/* Writes the rows to path (the form above). 0, or -1 with err naming the file. */
int optout_survey_write(const optout_survey *s, const char *path, char *err, size_t errlen);

/* One row of a survey file: host (NUL-terminated, len bytes), crawl ("-": none). Nonzero stops the
 * read (out of memory). */
typedef int (*optout_survey_row_fn)(const char *host, size_t len, const char *crawl, uint64_t docs, uint64_t tokens,
                                    void *arg);
/* Reads a survey file (a part, or DIR/survey.tsv), every line checked (fields, numbers, crawl ids),
 * calling fn for each row in file order. 0, or -1 with err naming file and line. */
int optout_survey_read(const char *path, optout_survey_row_fn fn, void *arg, char *err, size_t errlen);

/* One crawl's totals. */
typedef struct {
    char crawl[OPTOUT_HISTORY_CRAWL_MAX]; /* "-": documents that name no crawl */
    uint64_t docs, tokens, hosts;
} optout_survey_crawl;

typedef struct {
    optout_survey_crawl *crawls; /* malloc'd, crawl id order, "-" last */
    size_t crawl_count;
    uint64_t hosts, docs, tokens;
} optout_survey_summary;

/* Sums the part files parts[0..count) into out (NULL: none written) and summarises them into *sum
 * (free with optout_survey_summary_free); hosts_out (NULL: none written) receives the distinct
 * hosts, one host key a line in byte order (a host list, hostlist.h). 0, or -1 with err. */
int optout_survey_merge(const char *const *parts, size_t count, const char *out, const char *hosts_out,
                        optout_survey_summary *sum, char *err, size_t errlen);
void optout_survey_summary_free(optout_survey_summary *sum);

#endif
