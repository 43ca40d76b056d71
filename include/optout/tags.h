/* tags.h — tag mode: what a filter run would remove, as tags, without rewriting shards;
 * and applying such tags to the shards later (`optout apply-tags`). docs/tags.md has the format.
 *
 * Tags file
 * - One per input shard: a run's `tags/<name>` where <name> is optout_tags_name() of the input's
 *   output name (`x.jsonl.gz` and `x.jsonl` become `x.jsonl.zst`, `x.jsonl.zst` stays, any other
 *   name gets `.zst`: `x.parquet.zst`), whatever the run's output format. zstd JSON Lines, written
 *   atomically like a shard. A Parquet document's line number is its row, from 1.
 * - One line per removed document, in input order, nothing for kept ones:
 *     {"id": ID, "disallowed_user_agents": ["GPTBot","CCBot"]}
 *   ID is the document's `id` (top level, else `metadata.id`) as JSON: a string decoded and written
 *   by json.h (the one string writer: the JSON Lines and the Parquet copy of a corpus give the same
 *   bytes), a number as written. A document without
 *   an id (absent or null) is tagged by its line number instead, 1-based, counting every line of the
 *   decompressed shard (blank ones too):
 *     {"line": 17, "disallowed_user_agents": ["*"]}
 *   The agents are those the filter's removed/ line would carry, in list order, written exactly as
 *   there (no blanks, `"` and `\` escaped; `[]` for a document removed by --remove-hosts), so that
 *   a removed line rebuilt from a tag is the byte string a full run writes to removed/.
 *
 * Applying (optout_apply_tags)
 * - The tags of one shard are held in a hash set (memory: about 100 bytes plus the id and agents
 *   per tag). Every line of the input is read: a document whose id (decoded: "a\u0062" and "ab"
 *   are one id; non-strings by their text) or whose line number is tagged is removed, written to
 *   `removed` (when given) with the tag's "disallowed_user_agents" array added before its closing
 *   brace; every other line (bad JSON, blank, longer than max_line included) is written unchanged.
 *   Ids are compared decoded, a byte that is not valid UTF-8 as U+FFFD (json.h wrote it so).
 * - Every tag must match a document: a tag that matches none (wrong shard, changed input) fails the
 *   shard and nothing is published. A tag that matches more documents than it was written for
 *   (duplicate ids in the shard) removes them all and is counted in duplicate_matches.
 * - Tags files are validated line by line: a line that is not one JSON object, lacks
 *   "disallowed_user_agents" (an array of strings) or has neither a non-null "id" nor a
 *   positive integer "line" is an error naming the file and the line number.
 * - Outputs appear only complete (optout_shard_create/commit); errors return -1 with err.
 */
#ifndef OPTOUT_TAGS_H
#define OPTOUT_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/jsonl.h"
#include "optout/shard.h"

/* The tags name of a shards/ output name (see above). */
void optout_tags_name(const char *output_name, char *out, size_t cap);

/* The JSON array of the agents of `set`, in list order: ["A","B"] (`"` and `\` escaped). Written
 * into *buf (grown as needed; the caller frees). Returns its length. */
size_t optout_tags_agents_json(const optout_agents *agents, const optout_agentset *set, char **buf, size_t *cap);

/* The removed line: `line` (one JSON object) with `"disallowed_user_agents": ARRAY` added before its
 * closing brace (after ", " unless the object is empty). Into *buf; returns its length. */
size_t optout_tags_removed_line(const char *line, size_t len, const char *array, size_t alen, char **buf,
                                size_t *cap);

/* The tag line of a removed document (without newline): by id when `id` is present and not null,
 * else by line number. Into *buf; returns its length. */
size_t optout_tags_line(const optout_json_value *id, uint64_t line_no, const char *array, size_t alen, char **buf,
                        size_t *cap);

typedef struct {
    uint64_t tags;              /* tag lines read */
    uint64_t lines;             /* input lines (blank ones included) */
    uint64_t docs_in;           /* input lines that are not blank */
    uint64_t docs_removed;
    uint64_t duplicate_matches; /* documents removed beyond the number of tags for their id */
} optout_apply_stats;

typedef struct {
    size_t max_line; /* 0: OPTOUT_SHARD_MAX_LINE_DEFAULT */
    int level;       /* compression level of the outputs; 0: the format's default */
    /* As the filter's (filter.h): 0 the input's format, 1 JSON Lines, 2 Parquet; Parquet outputs'
     * codec name (NULL: zstd), its level being `level`. */
    int output_format;
    const char *parquet_compression;
} optout_apply_config;

/* Applies the tags file `tags` to shard `in`: kept lines to `out` (format `format`), removed ones to
 * `removed` (same format) when not NULL. Counts are added to *stats. 0, or -1 with err.
 * A Parquet input (or output_format 2, or 1 with a Parquet input) goes through docsource.h's
 * source and sink, the filter's own writers: its outputs are what a filter run writes (Parquet:
 * the same rows, schema, metadata and codec; removed/ with disallowed_user_agents from the tags);
 * a Parquet document's line number is its row, from 1. */
int optout_apply_tags(const optout_apply_config *cfg, const char *tags, const char *in, const char *out,
                      optout_shard_format format, const char *removed, optout_apply_stats *stats, char *err,
                      size_t errlen);

#endif
