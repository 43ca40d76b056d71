/* filter.h — filter one shard: decide every document, write the kept ones, count everything.
 *
 * Contract
 * - Kept lines are written byte-identical (never re-serialised). Removed documents go, when a
 *   removed shard is asked for, to that shard with `"disallowed_user_agents": [...]` added.
 * - A document is removed iff at least one agent of the list is disallowed for its URL by the
 *   robots.txt of its host key. Hosts whose robots.txt was not `ok` keep their documents, except
 *   `unreachable` under the RFC-strict policy (unreachable_disallows), which disallows every agent.
 * - With a policy (policy.h, the order and the definitions are there): only the documents of the
 *   sample are decided, counted and written (the others only counted in docs_not_sampled: a
 *   sample run's outputs hold the sample's kept and removed documents, never the whole corpus);
 *   a host of --keep-hosts keeps, of --remove-hosts loses its documents before any verdict lookup
 *   (removed lines then carry "disallowed_user_agents": []); host and domain granularity add to a
 *   document's agents those its host or its registrable domain disallows something.
 * - Bad input is kept and counted, never dropped: a line that is not one JSON object (bad_json),
 *   without URL (no_url), with an unparsable URL (bad_url), a URL without host (no_host), a line
 *   longer than max_line (line_too_long, passed through in pieces).
 * - Outputs appear only complete: on any error (corrupt or truncated input, write failure, missing
 *   verdict) both outputs are abandoned and err names the file and byte offset; *stats then holds
 *   what was counted before the error and must not be published.
 * - The shard is read through docsource.h: JSON Lines or Parquet (by content); a Parquet shard's
 *   outputs are Parquet (out, removed), whatever their names. Input that is not JSON Lines (NUL
 *   bytes, a first record that is not JSON) fails; so does a shard in which no document has a URL
 *   unless missing_url_keep (a wrong --url-field must not pass as "nothing to remove").
 * - Stats are added to *stats (which the caller initialises), so one stats can sum many shards.
 * - Historical mode (cfg->history, history.h): every document whose host today's verdict source
 *   judges (an override or a host outside the plan is decided alike under every policy) is judged
 *   under the four policies in one pass: today's verdict, the capture the judge picks for its
 *   (crawl, time), their combination. The chosen policy decides what is written, removed and
 *   tagged and what *stats counts; history->stats counts every policy and the captures' coverage.
 *   The document's crawl is the first CC-MAIN-YYYY-WW in the dump field's raw text (a path such
 *   as Dolma's metadata.cc_segment works), its time the date field, else the crawl week's Monday.
 *   Only per-URL granularity combines with it (host and domain are an error).
 */
#ifndef OPTOUT_FILTER_H
#define OPTOUT_FILTER_H

#include <stddef.h>

#include "optout/agents.h"
#include "optout/hostkey.h"
#include "optout/policy.h"
#include "optout/shard.h"
#include "optout/stats.h"
#include "optout/stats_policy.h"
#include "optout/verdicts.h"

/* Historical mode: what judges a document's past robots.txt and how the policies combine. */
typedef struct {
    optout_history_judge *judge;    /* the captures (history.h); one per thread */
    optout_robots_time_spec time;   /* the chosen policy */
    int64_t report_cutoff;          /* the cutoff column's day when the chosen policy is not cutoff */
    optout_history_missing missing; /* no capture, or no time */
    optout_stats_policy *stats;     /* every policy's statistics, added to (the caller initialises) */
} optout_filter_history;

typedef struct {
    const optout_agents *agents;
    optout_verdicts *verdicts;
    optout_hostkey_mode host_key;
    int unreachable_disallows; /* RFC-strict: unreachable robots.txt means disallow everything */
    /* Field paths; NULL means the default: top level, then under "metadata" (datatrove/Dolma). */
    const char *url_field, *language_field, *tokens_field, *dump_field, *date_field, *text_field;
    size_t max_line;     /* 0: OPTOUT_SHARD_MAX_LINE_DEFAULT */
    int level;           /* compression level of the outputs; 0: the format's default */
    const optout_policy *policy; /* granularity, overrides, sample (policy.h); NULL: per URL, every document */
    int output_tags;     /* tag mode (tags.h): `out` is the tags file, no shard is written */
    int missing_url_keep; /* a shard in which no document has a URL is kept whole instead of failing */
    /* Parquet outputs: the codec's name for optout_pq_codec_parse (NULL: "zstd") and its level
     * (0: the codec's default), both checked by parquet.h. */
    const char *parquet_compression;
    int parquet_level;
    int output_format; /* 0: the input's format; 1: JSON Lines (a Parquet input converted); 2: Parquet */
    uint64_t max_memory; /* Parquet input: what one row group may hold (docsource.h; 0: no limit) */
    const optout_filter_history *history; /* NULL: today's robots.txt alone */
} optout_filter_config;

/* Filters `in` into `out` (format `out_format`) and, when `removed` is not NULL, the removed
 * documents into `removed` (same format); `out` NULL writes nothing (statistics only: a sample's
 * estimates), `removed` must then be NULL too. Returns 0, or -1 with err filled. With cfg->output_tags
 * `out` receives the tags of the removed documents instead (include/optout/tags.h), kept lines are
 * written nowhere, `removed` must be NULL; the statistics are those of a full run. */
int optout_filter_shard(const optout_filter_config *cfg, const char *in, const char *out,
                        optout_shard_format out_format, const char *removed, optout_stats *stats, char *err,
                        size_t errlen);

/* The Parquet outputs' codec and level of cfg, checked (the level against the codec). 0 or -1. */
int optout_filter_parquet_codec(const optout_filter_config *cfg, int *codec, int *level, char *err, size_t errlen);

/* The class of a `language` value: "en", "eng" and "eng_*" are English; empty or absent unknown. */
optout_class optout_language_class(const char *value, size_t len, int present);
/* The year of a document: from a dump name ("CC-MAIN-2019-35"), else a date ("2019-..."); 0. */
int optout_document_year(const char *dump, size_t dump_len, const char *date, size_t date_len);

#endif
