/* stats.h — the statistics of a filter: one schema for `optout filter --stats` and report.json.
 *
 * Contract (docs/report.md describes the schema)
 * - A bucket counts docs, bytes (UTF-8 bytes of `text`), chars (code points of `text`) and tokens
 *   (`token_count`, else ceil(bytes / 4)), each "in" and "removed".
 * - optout_stats holds one bucket at the top level, one per class (en, non_en, unknown: they sum
 *   to the top level), one per year (from `dump`, else `date`; "unknown" when neither gives one),
 *   one per year and class (the chart's two series), one per dump name (the first
 *   OPTOUT_DUMPS_MAX names met, at most OPTOUT_DUMP_NAME_MAX - 1 bytes; the rest, and documents
 *   without a dump, in `dump_other`), one per agent (keyed by the agent name verbatim) plus "any",
 *   the bad-input counters, the documents per host outcome, and the hosts that lost the most
 *   tokens. Buckets only ever grow; two stats of the same agent list merge by addition (shards of
 *   one run).
 * - Top hosts: each shard's filter reports its OPTOUT_TOP_HOSTS_PER_SHARD hosts with the most
 *   removed tokens; merging sums them by host and keeps the OPTOUT_TOP_HOSTS largest (kept sorted by
 *   host key). A host's figure is exact when it is among the top of every shard it appears in, and
 *   a lower bound otherwise: report.md says so.
 * - optout_stats_write_json() writes the whole schema as one JSON object; keys are stable.
 */
#ifndef OPTOUT_STATS_H
#define OPTOUT_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "optout/agents.h"

typedef struct {
    uint64_t docs_in, docs_removed;
    uint64_t bytes_in, bytes_removed;
    uint64_t chars_in, chars_removed;
    uint64_t tokens_in, tokens_removed;
} optout_bucket;

typedef enum { OPTOUT_CLASS_EN = 0, OPTOUT_CLASS_NON_EN, OPTOUT_CLASS_UNKNOWN, OPTOUT_CLASS_COUNT } optout_class;

/* Why a document's host had (or had not) rules: the fetch outcome of its robots.txt. */
typedef enum {
    OPTOUT_OUTCOME_OK = 0,       /* robots.txt fetched (2xx): its rules decide */
    OPTOUT_OUTCOME_NO_ROBOTS,    /* robots directory without a file for the host */
    OPTOUT_OUTCOME_UNAVAILABLE,  /* 4xx or too many redirects: everything allowed */
    OPTOUT_OUTCOME_UNREACHABLE,  /* 5xx, 429, timeout, refused, TLS: allowed (opt-out policy) */
    OPTOUT_OUTCOME_NO_SUCH_HOST, /* NXDOMAIN: allowed */
    OPTOUT_OUTCOME_NOT_RANKED,   /* outside the ranked top N: never fetched, kept */
    OPTOUT_OUTCOME_COUNT
} optout_outcome;

const char *optout_outcome_name(optout_outcome outcome);
int optout_outcome_parse(const char *name, optout_outcome *outcome); /* -1 when unknown */

#define OPTOUT_YEAR_MIN 1990
#define OPTOUT_YEAR_MAX 2100
#define OPTOUT_YEARS (OPTOUT_YEAR_MAX - OPTOUT_YEAR_MIN + 2) /* the last slot is "unknown" */

#define OPTOUT_DUMPS_MAX 256
#define OPTOUT_DUMP_NAME_MAX 32
#define OPTOUT_TOP_HOSTS 1000
#define OPTOUT_TOP_HOSTS_PER_SHARD 100
#define OPTOUT_TOP_HOST_MAX 300 /* = OPTOUT_HOSTKEY_MAX: a host key and its NUL */

typedef struct {
    char name[OPTOUT_DUMP_NAME_MAX]; /* NUL-padded */
    optout_bucket b;
} optout_dump_bucket;

typedef struct {
    char host[OPTOUT_TOP_HOST_MAX]; /* NUL-padded */
    uint64_t docs_removed, tokens_removed;
} optout_host_loss;

typedef struct {
    optout_bucket total;
    optout_bucket by_class[OPTOUT_CLASS_COUNT];
    optout_bucket by_year[OPTOUT_YEARS];
    optout_bucket by_year_class[OPTOUT_YEARS][OPTOUT_CLASS_COUNT];
    optout_dump_bucket by_dump[OPTOUT_DUMPS_MAX];
    size_t dump_count;
    optout_bucket dump_other;
    optout_host_loss top_hosts[OPTOUT_TOP_HOSTS]; /* sorted by host, distinct */
    size_t top_host_count;
    optout_bucket by_agent[OPTOUT_AGENTS_MAX];
    optout_bucket any_agent;
    uint64_t docs_by_outcome[OPTOUT_OUTCOME_COUNT];
    uint64_t bad_json, no_url, bad_url, no_host, bad_idna, line_too_long, tokens_estimated_docs;
    /* Policy (policy.h): documents (and their tokens) kept or removed by --keep-hosts /
     * --remove-hosts before robots.txt; the removed ones are also in the removed totals and `any`. */
    uint64_t docs_kept_by_override, tokens_kept_by_override, docs_removed_by_override, tokens_removed_by_override;
    /* The sample (--sample): its size in parts per million (0: every document; not summed by a
     * merge: every shard of a run has the same, the nonzero one is kept), the documents left out
     * (counted nowhere else), and per class the sums of squared tokens of the sampled documents and
     * of the removed ones, as 128-bit integers (hi, lo), for the ratio estimator's variance. */
    uint64_t sample_ppm, docs_not_sampled;
    uint64_t sample_sq[OPTOUT_CLASS_COUNT][2][2]; /* [class][0 in, 1 removed][0 hi, 1 lo] */
} optout_stats;

/* One document's facts, as the filter found them. */
typedef struct {
    optout_class cls;
    int year; /* 0 when unknown */
    const char *dump; /* the dump name (raw JSON string value), NULL when absent */
    size_t dump_len;
    uint64_t bytes, chars, tokens;
    int removed;
    const optout_agentset *disallowed; /* NULL when nothing disallowed */
    int override; /* optout_override (policy.h): 0 none, 1 kept by --keep-hosts, 2 removed by --remove-hosts */
} optout_doc_facts;

void optout_stats_init(optout_stats *stats);
void optout_stats_add_doc(optout_stats *stats, size_t agent_count, const optout_doc_facts *doc);
void optout_stats_merge(optout_stats *into, const optout_stats *from);
/* Adds hosts' removed documents and tokens (any order, distinct hosts; keys shorter than
 * OPTOUT_TOP_HOST_MAX) to the top hosts: summed by host, the OPTOUT_TOP_HOSTS largest kept. */
void optout_stats_add_host_losses(optout_stats *stats, const optout_host_loss *losses, size_t count);
/* qsort order of host losses: most removed tokens first, then most documents, then host key
 * bytewise (a total order: what is kept and shown never depends on the order of merges). */
int optout_host_loss_cmp(const void *a, const void *b);

/* A bucket of one's own (stats_policy.h keeps some): one document in (removed or not), a bucket
 * added to another, and its eight members as JSON ("docs_in": N, ...; no braces). */
void optout_bucket_add(optout_bucket *b, const optout_doc_facts *doc, int removed);
void optout_bucket_merge(optout_bucket *into, const optout_bucket *from);
void optout_bucket_write_json(FILE *f, const optout_bucket *b);

/* Year index for by_year; years outside [OPTOUT_YEAR_MIN, OPTOUT_YEAR_MAX] count as unknown. */
size_t optout_stats_year_slot(int year);

/* The sample's estimate (stats->sample_ppm != 0) of the token loss over one class (cls < 0: all):
 * the ratio estimator R = tokens_removed / tokens_in over the sampled documents, with a 95%
 * interval from its normal approximation (documents as the sampling units, finite-population
 * correction 1 - P): SE = sqrt((1 - P) n / (n - 1) * sum (y_i - R x_i)^2) / sum x_i, x_i the
 * document's tokens, y_i = x_i when removed else 0; R +- 1.96 SE, clamped to [0, 1]. And the share
 * of documents removed with its 95% Wilson score interval. n < 2: the interval is [0, 1]. */
typedef struct {
    double fraction;         /* P */
    uint64_t docs, docs_removed;
    uint64_t tokens_in, tokens_removed;
    double tokens_loss, tokens_low, tokens_high;
    double docs_loss, docs_low, docs_high;
} optout_sample_estimate;
void optout_stats_sample_estimate(const optout_stats *stats, int cls, optout_sample_estimate *e);

/* msgpack form, for results on the wire: a map of the nonzero counters and buckets (by_year by
 * year, by_agent by index). decode adds into *stats (merging); it rejects (-1) anything malformed:
 * wrong types, an agent index >= agent_count, a year slot out of range, trailing bytes. */
int optout_stats_encode(const optout_stats *stats, size_t agent_count, void **out, size_t *len);
int optout_stats_decode_add(const void *buf, size_t len, size_t agent_count, optout_stats *stats);

/* Writes the schema; `extra` (NULL or JSON object members, e.g. "\"complete\": true") is added at
 * the top level. Returns 0, or -1 when writing failed (errno set). */
int optout_stats_write_json(FILE *out, const optout_stats *stats, const optout_agents *agents, const char *extra);

#endif
