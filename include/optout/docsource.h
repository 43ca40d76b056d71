/* docsource.h — documents in, decisions out: the one interface through which the filter and the
 * ranking see a shard, whatever its format, so that JSON Lines and Parquet differ only in their
 * reader and their writer (as the verdict sources share verdicts.h).
 *
 * Source contract
 * - optout_docsource_open() picks the reader from the content (Parquet's "PAR1" magic at both
 *   ends, else JSON Lines: plain, gzip or zstd, shard.h), never from the name.
 * - optout_docsource_next() yields a batch of documents in input order. A JSON Lines batch is a
 *   block of at most opts.batch_docs lines (1: the line is not copied and stays valid only until the
 *   next call); a Parquet batch is a block of rows of one row group, in order (the row group's
 *   projected columns are read once: the columns of the fields asked for in opts.need); a row
 *   group without rows is one empty batch.
 * - Per document, the fields of doc_fields.h's field set (Parquet: the text only as its size,
 *   read page by page; optout_doc_facts_of_doc() in doc_fields.h reads either) (the paths configured in opts) as raw
 *   values in jsonl.h's convention: a string's bytes (escaped only for JSON Lines, has_escapes says),
 *   a number's or literal's text. A Parquet value is rendered the same way: strings as their bytes,
 *   integers in decimal, a floating token count in decimal only when integral and non-negative (else
 *   absent: the estimate), TIMESTAMP/INT96/DATE as UTC "YYYY-MM-DDTHH:MM:SSZ", null as absent; so an
 *   id is its JSON rendering and both copies of a corpus sample and count identically.
 * - Input that is not JSON Lines fails: a NUL byte in a line, or a first non-blank record that is
 *   not one JSON object ("f: byte N: ..."). Other lines that are not JSON are documents flagged bad.
 * - optout_docsource_has_url() says whether the shard can hold a URL at all (Parquet: a column at
 *   one of the URL paths exists); the caller decides what a shard without URLs means.
 *
 * Sink contract
 * - optout_docsink_open() writes the kept documents to `out` and, when `removed` is not NULL, the
 *   removed ones to `removed`, in the source's format: JSON Lines lines byte-identical (removed ones
 *   with "disallowed_user_agents" added, tags.h builds them; compressed by the output's name); Parquet
 *   through the format library's streaming writer, one output row group per input row group built
 *   from a keep bitmap, removed/ with the disallowed_user_agents list column. With opts.jsonl a
 *   Parquet source is written as JSON Lines instead (row by row as each batch comes, parquet.h's JSON
 *   rendering, every column read page by page; a removed row's object gets "disallowed_user_agents"
 *   as a JSON Lines line does). With opts.parquet
 *   a JSON Lines source is written as Parquet: the schema inferred from its first
 *   OPTOUT_PQ_INFER_LINES lines (read again at open), one row per written document, removed/ with
 *   the disallowed_user_agents list column; a line that cannot be a row (not a JSON object, longer
 *   than max_line, not of the schema) fails naming the file and its line number.
 * - optout_docsink_put() takes every batch as the source yielded it, in order, with one decision
 *   per document (a Parquet row group written as Parquet is written when its last batch arrives):
 *   written or not (a document outside a sample is written nowhere), removed or kept, the
 *   disallowing agents of a removed one. JSON Lines pieces of an over-long line are written kept.
 * - Outputs appear only complete: commit publishes both (removed first), abort removes both.
 * Not thread-safe per object.
 */
#ifndef OPTOUT_DOCSOURCE_H
#define OPTOUT_DOCSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/jsonl.h"
#include "optout/shard.h"

/* The number of fields of doc_fields.h's field set (url, language, tokens, dump, date with their
 * metadata twins, text, id, metadata.id). */
#define OPTOUT_DOC_FIELDS 13

typedef enum { OPTOUT_DOC_JSONL = 0, OPTOUT_DOC_PARQUET } optout_doc_format;

enum {
    OPTOUT_DOC_OK = 0, /* a document: fields in v */
    OPTOUT_DOC_BAD,    /* a line that is not one JSON object (kept, counted bad_json) */
    OPTOUT_DOC_BLANK,  /* an empty line (passed through, not a document) */
    OPTOUT_DOC_PIECE,  /* a piece of a line longer than max_line (passed through) */
    OPTOUT_DOC_SKIPPED /* JSON Lines with opts.prefilter: a line holding none of its strings (no fields) */
};

typedef struct {
    optout_json_value v[OPTOUT_DOC_FIELDS];
    const char *raw; /* JSON Lines: the line's (or piece's) bytes; Parquet: NULL */
    size_t raw_len;
    uint64_t offset; /* JSON Lines: byte offset in the decompressed stream; Parquet: row in the file */
    uint8_t kind;    /* OPTOUT_DOC_* */
    uint8_t newline, last_piece;
    /* Parquet: the text's size instead of its value (v[F_TEXT] absent), so that a row group's text
     * is never held: text_sized set, text_present, UTF-8 bytes and code points. */
    uint8_t text_sized, text_present;
    /* Parquet with opts.text_if_no_tokens: the text was not read (its row group's documents all
     * have a token count): bytes and code points unknown, counted as 0. */
    uint8_t text_unread;
    uint64_t text_bytes, text_chars;
} optout_doc;

typedef struct {
    optout_doc *docs;
    size_t count;
    int row_group;     /* Parquet: the row group; -1 for JSON Lines */
    size_t first;      /* Parquet: the row of docs[0] within its row group */
    size_t group_rows; /* Parquet: the row group's rows (it is complete when first + count reaches it) */
} optout_doc_batch;

typedef struct {
    /* Field paths; NULL: the defaults (top level, then under "metadata"). */
    const char *url_field, *language_field, *tokens_field, *dump_field, *date_field, *text_field;
    size_t max_line;   /* JSON Lines; 0: OPTOUT_SHARD_MAX_LINE_DEFAULT */
    size_t batch_docs; /* JSON Lines lines per batch; 0 or 1: one line, not copied */
    uint32_t need;     /* bit F_* of doc_fields.h: the fields read (0: all); Parquet reads only those */
    /* Parquet: the text (F_TEXT in need) only where a token count is missing: its column is read
     * only for row groups holding a document whose token count is null or not a non-negative
     * integer (the estimate needs the text's size); the ranking, which needs nothing else of it. */
    int text_if_no_tokens;
    /* Parquet: what one row group may hold (0: no limit; memory.h): its projected columns, the
     * text's sizes and the row bitmaps (checked from the footer before reading, then as read),
     * then pages kept for the writer and one page per column read or written within what is left
     * (a sink writing JSON Lines: a page of every column and one row, parquet.h's optout_pq_rows).
     * A row group, page or row that does not fit fails the shard with the figures. */
    uint64_t max_memory;
    /* A fast path for lookups (optout why --id): JSON Lines lines that contain none of these byte
     * strings are yielded as OPTOUT_DOC_SKIPPED without being parsed. Parquet ignores it. */
    const char *const *prefilter;
    const size_t *prefilter_lens;
    size_t prefilter_count;
} optout_docsource_opts;

typedef struct optout_docsource optout_docsource;

optout_docsource *optout_docsource_open(const char *path, const optout_docsource_opts *opts, char *err, size_t errlen);
/* 1: a batch in *b (valid until the next call); 0: end of input; -1: error in err. */
int optout_docsource_next(optout_docsource *s, optout_doc_batch *b, char *err, size_t errlen);
optout_doc_format optout_docsource_format(const optout_docsource *s);
int optout_docsource_has_url(const optout_docsource *s);
const char *optout_docsource_path(const optout_docsource *s);
/* Bytes read from the file so far: Parquet, the footer and the pages read (a projection reads only
 * its columns' pages); JSON Lines, the compressed bytes consumed. */
uint64_t optout_docsource_bytes_read(const optout_docsource *s);
void optout_docsource_close(optout_docsource *s);

/* Is this file Parquet (magic at both ends)? 1, 0, or -1 when it cannot be read (err filled). */
int optout_docsource_is_parquet(const char *path, char *err, size_t errlen);

typedef struct {
    uint8_t written; /* 0: neither output (outside the sample) */
    uint8_t removed;
    const optout_agentset *agents; /* removed: the disallowing agents (NULL: none) */
    /* removed, instead of agents when not NULL: the agents as a JSON array of strings, in order
     * (apply-tags: a tag's array, written as it is to JSON Lines, decoded for Parquet) */
    const char *agents_json;
    size_t agents_json_len;
} optout_doc_decision;

typedef struct {
    const optout_agents *agents;
    optout_shard_format jsonl_format; /* JSON Lines outputs */
    int level;                        /* JSON Lines: 0 the format's default */
    int pq_codec, pq_level;           /* Parquet: parquet.h's codec and checked level */
    int jsonl;                        /* JSON Lines outputs whatever the source's format: a Parquet row
                                       * becomes one object, columns in order (parquet.h's rendering) */
    int parquet;                      /* Parquet outputs whatever the source's format: a JSON Lines
                                       * source's schema is inferred from its first lines (parquet.h) */
    size_t max_line;                  /* JSON Lines source read for that inference; 0: the default */
} optout_docsink_opts;

typedef struct optout_docsink optout_docsink;

/* The source must outlive the sink. */
optout_docsink *optout_docsink_open(optout_docsource *src, const char *out, const char *removed,
                                    const optout_docsink_opts *opts, char *err, size_t errlen);
int optout_docsink_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *d, char *err,
                       size_t errlen);
int optout_docsink_commit(optout_docsink *k, char *err, size_t errlen); /* frees k */
void optout_docsink_abort(optout_docsink *k);                           /* frees k */

#endif
