/* report_diff.h — two runs compared (`optout report --diff A B`): the configuration, what each
 * removed per class and per agent, and the documents one run removed and the other did not.
 *
 * Contract
 * - optout_removed_compare() reads every shard below two `removed/` directories (names starting
 *   with '.' and temporary files, "*.tmp.*", skipped; links followed as stat() does) and keys each
 *   line by its `id`, else `metadata.id`, else `url`, else `metadata.url` (ids and URLs hashed apart,
 *   as 64-bit hashes of the raw JSON string bytes); duplicates within a side count once. It says
 *   how many distinct keys only A, only B and both have, and per side the non-empty lines read, the
 *   lines keyed by URL and the lines with no key (not JSON, no such field, or a line over the
 *   reader's limit). 0, or -1 with err naming the directory or shard that could not be read.
 * - optout_report_diff_write() writes the Markdown comparison of two loaded reports to f (the
 *   documents section only when both runs kept `removed/`, else a sentence saying which lacks it).
 *   0, or -1 with err when a removed shard could not be read (the sections before it are written).
 *   Write errors stay in f (ferror). Output depends only on its inputs.
 */
#ifndef OPTOUT_REPORT_DIFF_H
#define OPTOUT_REPORT_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "optout/report.h"

typedef struct {
    uint64_t only_a, only_b, both; /* distinct keys */
    uint64_t lines[2];             /* non-empty lines read, A and B */
    uint64_t by_url[2];            /* lines keyed by URL (no id) */
    uint64_t unkeyed[2];           /* lines without a key: not compared */
} optout_removed_diff;

int optout_removed_compare(const char *removed_a, const char *removed_b, optout_removed_diff *out, char *err,
                           size_t errlen);

int optout_report_diff_write(FILE *f, const char *dir_a, const optout_report_loaded *a, const char *dir_b,
                             const optout_report_loaded *b, char *err, size_t errlen);

/* `optout report --diff --json`: the documents removed by one run only, one JSON object a line
 * (docs/report.md): {"run": "A"|"B", "shard": "removed/NAME" | "tags/NAME", "id": ID or null (or
 * "line": N for a tag without id), "url": URL or null, "host": its host key (the run's host key
 * mode) or null}; A's first, each side in shard name order. A run's documents come from
 * DIR/removed/, else DIR/tags/ (tags carry ids only: no url, no host); keys as
 * optout_removed_compare()'s, plus a tag's line number within its shard. *sum receives the counts.
 * 0; -1 with err, errno ENOENT when a run has neither removed/ nor tags/ (nothing written), else
 * a shard that could not be read. */
int optout_report_diff_json(FILE *f, const char *dir_a, const optout_report_loaded *a, const char *dir_b,
                            const optout_report_loaded *b, optout_removed_diff *sum, char *err, size_t errlen);

#endif
