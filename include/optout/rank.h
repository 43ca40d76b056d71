/* rank.h — which hosts matter: counting documents, bytes and tokens per host key and class, and
 * keeping the top N per class (the run's first stage, docs/fleet.md).
 *
 * Three steps, so that memory stays bounded however many hosts a corpus has:
 * - map (one per input shard): counts per host key, split by class (en / non_en / unknown, as the
 *   filter classifies), and writes them hash-partitioned: one file of P zstd frames (frame p holds
 *   the hosts with optout_rank_partition(host) == p, as text rows sorted bytewise by host) plus an
 *   index file of P+1 decimal byte offsets, one per line (frame p is [off[p], off[p+1]); an empty
 *   partition is an empty range, no frame).
 *   Row: host \t docs_en \t bytes_en \t tokens_en \t docs_non_en \t bytes_non_en \t tokens_non_en
 *        \t docs_unknown \t bytes_unknown \t tokens_unknown \n
 *   Documents are counted exactly as the filter counts them: bytes are UTF-8 bytes of the text
 *   field, tokens `token_count` or ceil(bytes/4) (a Parquet shard's text is read only where the
 *   estimate needs it, unless count_bytes: see optout_rank_map_config). Lines that are bad JSON, without URL, with a bad
 *   URL or no host are counted in the map stats and otherwise skipped (a host key holding a control
 *   character, possible with netloc keys, cannot be a TSV field: it counts as bad_url); blank
 *   lines are not documents; lines longer than max_line count as line_too_long.
 * - reduce (one per partition): sums partition p of every map output and writes the top N per
 *   class to a TSV file: "class \t host \t docs \t bytes \t tokens \n", class "en" then "non_en"
 *   rows, each in rank order; with all_hosts, also an "unknown" row for every host that has
 *   neither English nor non-English documents (so the union covers every host). Ranking within a
 *   class uses that class's counts only; a host with no document of the class is not in its list.
 *   Order: metric descending, then documents descending, then host key bytewise ascending.
 * - merge (the broker): reads every reducer's output (at most partitions x N rows per class) and
 *   writes DIR/en.tsv and DIR/non_en.tsv ("host \t docs \t bytes \t tokens \t rank", a '#' header
 *   line, rank from 1) keeping the top N overall, and DIR/hosts.txt: the union of both lists (and
 *   of the unknown rows with all_hosts), each host once, sorted bytewise, one per line: the fetch
 *   plan. Files appear complete (written to a temporary name, fsync'd, renamed).
 * Outputs of map and reduce are written to the paths given (the caller's staging directory).
 * Every error names the file (and byte offset for input shards).
 * Memory: a map holds the hosts of its shard, a reduce the hosts of its partition (about 120 bytes
 * each), the merge at most top_en + top_non_en rows (plus the unknown rows with all_hosts).
 * Thread-safe: map, reduce and merge may run concurrently in one process (outputs must differ);
 * canonical host keys use libcurl, so call curl_global_init() once before starting threads.
 */
#ifndef OPTOUT_RANK_H
#define OPTOUT_RANK_H

#include <stddef.h>
#include <stdint.h>

#include "optout/hostkey.h"

#define OPTOUT_RANK_PARTITIONS_MAX 4096
/* N of the top N hosts per class when a plan is ranked without --top-en/--top-intl for that class. */
#define OPTOUT_RANK_DEFAULT_TOP 1000000

typedef enum { OPTOUT_RANK_TOKENS = 0, OPTOUT_RANK_BYTES, OPTOUT_RANK_DOCS } optout_rank_metric;

/* "tokens" / "bytes" / "docs" -> metric; -1 when unknown. */
int optout_rank_metric_parse(const char *name, optout_rank_metric *metric);
const char *optout_rank_metric_name(optout_rank_metric metric);

/* Stable across machines and versions: FNV-1a 64 of the host key bytes, modulo partitions. */
unsigned optout_rank_partition(const char *host, size_t len, unsigned partitions);

typedef struct {
    optout_hostkey_mode host_key;
    /* Field paths; NULL means the filter's defaults (top level, then under "metadata"). */
    const char *url_field, *language_field, *tokens_field, *text_field;
    size_t max_line;     /* 0: the shard reader's default */
    unsigned partitions; /* 1..OPTOUT_RANK_PARTITIONS_MAX */
    /* 1 (the metric is bytes): every document's text is measured. 0: a Parquet shard's text column
     * is read only for row groups holding a document without a usable token count (the estimate
     * needs it); the documents of the other row groups add tokens but no bytes (bytes_unread). */
    int count_bytes;
    uint64_t max_memory; /* Parquet: what one row group may hold (docsource.h; 0: no limit) */
    /* The survey of a historical run (survey.h; NULL: none): every counted document is also added
     * to it under its host key and the crawl its dump field names (dump_field NULL: the default). */
    struct optout_survey *survey;
    const char *dump_field;
} optout_rank_map_config;

typedef struct {
    uint64_t docs, hosts; /* documents counted, distinct host keys in this shard */
    uint64_t bad_json, no_url, bad_url, no_host, line_too_long;
    uint64_t bytes_unread; /* documents counted whose text was not read (count_bytes 0, Parquet) */
    uint64_t bytes_read;   /* bytes read from the shard's file (docsource.h) */
} optout_rank_map_stats;

/* Counts shard `in` into `out` (frames) and `out_index`. Stats are added to *st. 0 or -1 with err. */
int optout_rank_map(const optout_rank_map_config *c, const char *in, const char *out, const char *out_index,
                    optout_rank_map_stats *st, char *err, size_t errlen);

typedef struct {
    optout_rank_metric metric;
    uint64_t top_en, top_non_en; /* N per class; UINT64_MAX: every host of the class */
    int all_hosts;               /* also list hosts with only unknown-language documents */
} optout_rank_reduce_config;

/* Sums partition `partition` of the `count` map outputs (maps[i] with indexes[i]) into `out`.
 * Returns the number of distinct hosts in the partition, or -1 with err. */
long optout_rank_reduce(const optout_rank_reduce_config *c, const char *const *maps, const char *const *indexes,
                        size_t count, unsigned partition, const char *out, char *err, size_t errlen);

/* Merges `count` reducer outputs into dir/en.tsv, dir/non_en.tsv and dir/hosts.txt. Returns the
 * number of hosts in hosts.txt, or -1 with err. */
long optout_rank_merge(const optout_rank_reduce_config *c, const char *const *tops, size_t count, const char *dir,
                       char *err, size_t errlen);

/* Reads dir/en.tsv and dir/non_en.tsv (the merge's files) and calls each(host, tokens, arg) for
 * every row (a host of both lists is called twice: its tokens of each class). A line that is not
 * "host \t docs \t bytes \t tokens \t rank" is an error naming file and line. 0, -1 with err, or
 * what a non-zero each returned. */
int optout_rank_read_tokens(const char *dir, int (*each)(const char *host, uint64_t tokens, void *arg), void *arg,
                            char *err, size_t errlen);

#endif
