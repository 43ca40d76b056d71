/* parquet.h — reading and filtering Parquet files (the format FineWeb, FineWeb-2 and FineWeb-Edu
 * are published in), with the project's own format code over libsnappy, zlib, zstd, liblz4 and
 * libbrotli.
 *
 * Contract:
 *  - A file is opened once (footer read and checked: magic at both ends, footer length inside the
 *    file, Thrift well-formed, schema consistent with every row group); encrypted files and
 *    anything else the code does not support are refused at open or at the first page concerned,
 *    with a message; nothing here crashes or reads out of bounds on hostile input.
 *  - Every error message names the file and, where they apply, the row group, the column (dotted
 *    path) and the page (0-based within its column chunk): "f.parquet: row group 2, column
 *    metadata.url, page 7: SNAPPY: ...". Errors use the project's (err, errlen) convention.
 *  - Memory is bounded by pages, not row groups: column chunks are read and written page by page
 *    (one compressed page, its decompressed copy and its decoded values at a time, plus the
 *    chunk's dictionary; plus the pages optout_pq_keep_pages keeps, up to its limit; a page above
 *    optout_pq_page_limit fails). Only optout_pq_read_column (the projected values of one column
 *    of one row group) holds a whole row group, of the column it was asked for; rows rendered as
 *    JSON (optout_pq_rows_*) hold one page of every column and one row.
 *  - The filter writer (optout_pq_writer_*) reproduces the input's schema exactly (columns, order,
 *    physical, logical and converted types, repetition, field ids) and its key-value metadata,
 *    keeps the kept rows' values identical and in order, re-encodes pages (dictionary pages and
 *    dictionary-encoded pages stay so, other pages become PLAIN; levels RLE; data page v1),
 *    recompresses with the chosen codec, and recomputes statistics (min/max/null_count) where the
 *    input had them and the sort order is certain.
 * Not thread-safe per object; distinct objects may be used from distinct threads.
 */
#ifndef OPTOUT_PARQUET_H
#define OPTOUT_PARQUET_H

#include <stddef.h>
#include <stdint.h>

typedef struct optout_pq_file optout_pq_file;

/* Opens and checks a file. NULL with err filled on any failure. */
optout_pq_file *optout_pq_open(const char *path, char *err, size_t errlen);
void optout_pq_close(optout_pq_file *f);

const char *optout_pq_path(const optout_pq_file *f);
int64_t optout_pq_num_rows(const optout_pq_file *f);
int optout_pq_num_row_groups(const optout_pq_file *f);
int64_t optout_pq_row_group_rows(const optout_pq_file *f, int rg);

/* Bytes read from the file so far (magic, footer, page headers and pages), and data pages
 * decompressed: what a projection costs, for tests and the benchmark. */
uint64_t optout_pq_bytes_read(const optout_pq_file *f);
uint64_t optout_pq_pages_decompressed(const optout_pq_file *f);

/* A memory budget for one page: a page whose compressed plus uncompressed size exceed `bytes` (0:
 * no limit) fails, naming it, before anything is allocated for it. */
void optout_pq_page_limit(optout_pq_file *f, uint64_t bytes);

/* The most optout_pq_keep_pages keeps. */
#define OPTOUT_PQ_KEEP_PAGES_MAX ((size_t)32 << 20)
/* Keep the decompressed pages optout_pq_read_sizes reads, up to `bytes` (at most
 * OPTOUT_PQ_KEEP_PAGES_MAX; 0: off), until the writer reads the same column chunk: the filter
 * decompresses the text column once, not twice. Pages past the limit are decompressed again. */
void optout_pq_keep_pages(optout_pq_file *f, size_t bytes);

/* Leaf columns, in schema order (the order of the column chunks). */
int optout_pq_num_columns(const optout_pq_file *f);
/* The dotted path of leaf i ("metadata.url", "tags.list.element"). */
const char *optout_pq_column_path(const optout_pq_file *f, int i);
/* One line describing leaf i: "path<TAB>PHYSICAL<TAB>LOGICAL<TAB>REPETITION" where LOGICAL is the
 * logical (or converted) type such as STRING, TIMESTAMP(MICROS,UTC), INT(8,signed), DECIMAL(10,2),
 * or NONE, and REPETITION the leaf's own (REQUIRED, OPTIONAL, REPEATED). */
void optout_pq_column_describe(const optout_pq_file *f, int i, char *buf, size_t len);

/* File key-value metadata, in file order. *value is NULL for an entry without a value. */
int optout_pq_num_kv(const optout_pq_file *f);
void optout_pq_kv(const optout_pq_file *f, int i, const char **key, const uint8_t **value, size_t *value_len);

/* ---- projected columns: the filter's view of a row group ---------------------------------- */
enum {
    OPTOUT_PQ_NULL = 0, /* null, or a missing map key */
    OPTOUT_PQ_BOOL,     /* i: 0 or 1 */
    OPTOUT_PQ_INT,      /* i: any integer type (unsigned 64-bit values above INT64_MAX: DOUBLE) */
    OPTOUT_PQ_DOUBLE,   /* d: FLOAT, DOUBLE */
    OPTOUT_PQ_BYTES,    /* s, len: BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY (strings are not checked for UTF-8) */
    OPTOUT_PQ_TIME_MS   /* i: TIMESTAMP (any unit, floored), INT96 or DATE as UTC milliseconds since 1970 */
};

typedef struct {
    int kind;
    uint32_t len;
    union {
        int64_t i;
        double d;
        const char *s;
    } u;
} optout_pq_value;

typedef struct {
    optout_pq_value *v; /* one per row of the row group */
    size_t n;
    size_t bytes; /* what the column holds: its values and the bytes they point into */
    char *arena_; /* the bytes values point into */
} optout_pq_column;

/* What reading the columns at paths[0..n) of row group rg with optout_pq_read_column would hold,
 * estimated from the footer before reading: a value per row of each column found, and for byte
 * arrays the chunk's uncompressed size (a dictionary-encoded chunk's values may expand past it:
 * check optout_pq_column.bytes after reading). */
uint64_t optout_pq_projection_bytes(const optout_pq_file *f, int rg, const char *const *paths, size_t n);

/* The values of the column at `path` for every row of row group rg. The path is a leaf's dotted
 * path (a top-level column, or a field of a struct at any depth), or "MAP.KEY" where MAP is a map
 * column with string keys and primitive values: the value under KEY (null when the row lacks it).
 * A repeated leaf is refused. Returns 0; 1 when no column has that path (out zeroed); -1 on error. */
int optout_pq_read_column(optout_pq_file *f, int rg, const char *path, optout_pq_column *out, char *err, size_t errlen);
void optout_pq_column_free(optout_pq_column *c);

/* The size of a byte-array value: UTF-8 bytes and code points (a byte that is not a continuation
 * byte counts as one). present is 0 for null and for values that are not byte arrays. */
typedef struct {
    uint64_t bytes, chars;
    uint8_t present;
} optout_pq_size;

/* The sizes of the values of the leaf column at `path` for every row of row group rg, into out
 * (rows entries), reading its chunk page by page: what the statistics need of the text column
 * without holding a row group's text. Returns 0; 1 when no leaf has that path (map keys are not
 * handled here: read them with optout_pq_read_column); -1 on error. */
int optout_pq_read_sizes(optout_pq_file *f, int rg, const char *path, optout_pq_size *out, char *err,
                         size_t errlen);

/* Every row of row group rg as one JSON object (no newline), top-level columns in schema order:
 * strings (STRING/ENUM/JSON/UTF8) as JSON strings written by json.h (a byte that is not part of
 * valid UTF-8 becomes \ufffd, as everywhere optout writes JSON); other BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY as base64 strings;
 * integers as numbers (TIMESTAMP in its unit, DATE in days, DECIMAL unscaled, INT96 as nanoseconds
 * since 1970); FLOAT/DOUBLE with %.17g ("NaN", "Infinity", "-Infinity" as strings); booleans;
 * null; structs as objects; lists and repeated fields as arrays; maps with string keys as objects,
 * other maps as arrays of {"key":K,"value":V} (the key keeps its type). emit returns 0 to go on,
 * anything else stops with that value. Returns 0, the emit value, or -1 on error (err filled). */
int optout_pq_row_group_json(optout_pq_file *f, int rg, int (*emit)(void *ctx, const char *json, size_t len), void *ctx,
                             char *err, size_t errlen);

/* The same rows one at a time (what optout_pq_row_group_json calls): every column's chunk is read
 * page by page side by side, so what is held is the current page of each column (as stored,
 * decompressed and decoded), its dictionary, and the row being rendered. With max_memory (0: no
 * limit) a page is read only within what that leaves it besides the rest (else it fails, naming
 * it, before it is allocated), and a row that takes more fails naming the row group, the row and
 * both figures. */
typedef struct optout_pq_rows optout_pq_rows;
optout_pq_rows *optout_pq_rows_open(optout_pq_file *f, int rg, uint64_t max_memory, char *err, size_t errlen);
/* The next row: 1 with its object in *json / *len (NUL-terminated, valid until the next call); with
 * render 0 the row is passed over unrendered (*json NULL). 0 after the last row, once every column
 * is checked to end with it; -1 on error. */
int optout_pq_rows_next(optout_pq_rows *r, int render, const char **json, size_t *len, char *err, size_t errlen);
void optout_pq_rows_close(optout_pq_rows *r);

/* A figure of a memory message: "12 MiB" from 16 MiB up, else "345 KiB" (rounded up); buf. */
const char *optout_pq_size_text(uint64_t bytes, char *buf, size_t len);

/* ---- the filter writer -------------------------------------------------------------------- */
enum {
    OPTOUT_PQ_CODEC_NONE = 0,
    OPTOUT_PQ_CODEC_SNAPPY = 1,
    OPTOUT_PQ_CODEC_GZIP = 2,
    OPTOUT_PQ_CODEC_ZSTD = 6,
    OPTOUT_PQ_CODEC_LZ4_RAW = 7
};

/* "zstd", "snappy", "gzip", "lz4" (LZ4_RAW), "none". 0, or -1 for an unknown name. */
int optout_pq_codec_parse(const char *name, int *codec);
/* The level for a codec: *requested checked (zstd 1..22, gzip 1..9; snappy, lz4 and none have no
 * level: any level given is an error that says so), or the codec's default (zstd 3, gzip 6) when
 * requested is NULL. 0 ok, -1 with err. */
int optout_pq_codec_level(int codec, const int *requested, int *level, char *err, size_t errlen);

typedef struct optout_pq_writer optout_pq_writer;

typedef struct {
    int codec; /* OPTOUT_PQ_CODEC_* */
    int level; /* from optout_pq_codec_level */
    /* Appends the last column `disallowed_user_agents` (a standard three-level LIST of non-null
     * strings); the input must not have a top-level column of that name. The `ARROW:schema`
     * key-value entry is rewritten with the new field appended (left out if it does not parse). */
    int agents_column;
} optout_pq_write_opts;

/* One kept row's agents (for agents_column). */
typedef struct {
    const char *const *names;
    size_t n;
} optout_pq_agents;

/* Creates path (truncating) for rows of `in`, which must outlive the writer. */
optout_pq_writer *optout_pq_writer_open(const char *path, optout_pq_file *in, const optout_pq_write_opts *opts,
                                        char *err, size_t errlen);
/* Writes the rows of input row group rg whose bit is set in keep (bit r of byte r/8, LSB first) as
 * one output row group, streaming every column chunk page by page. With agents_column, agents has
 * one entry per kept row, in order. A row group with no kept row writes nothing. */
int optout_pq_writer_row_group(optout_pq_writer *w, int rg, const uint8_t *keep, const optout_pq_agents *agents,
                               char *err, size_t errlen);
/* Writes the footer, flushes, fsyncs and closes. 0 or -1; the writer is freed either way. */
int optout_pq_writer_finish(optout_pq_writer *w, char *err, size_t errlen);
/* Closes and frees without a footer (the caller removes the partial file). */
void optout_pq_writer_abort(optout_pq_writer *w);

/* ---- JSON Lines to Parquet (`--output-format parquet` of a JSON Lines shard) ------------------- */
/* The schema is inferred from the first OPTOUT_PQ_INFER_LINES lines of the input (kept and removed
 * documents alike), as pyarrow's and DuckDB's JSON readers infer one: columns in order of first
 * appearance, every column optional; a JSON string is a STRING, an integer an INT64, a number with
 * a fraction or an exponent (or beyond 64 bits) a DOUBLE (integers and doubles in one field:
 * DOUBLE), true/false a BOOLEAN, an object a struct of its fields (the union over the lines), an
 * array of strings, numbers or booleans a standard three-level LIST of optional elements; a field
 * (or list element) seen only as null is a STRING. Refused, naming the line and the field: a line
 * that is not one JSON object, one field with two kinds of value (a string and a number, say), an
 * array of objects or of arrays, an object empty on every line. Later rows must fit the schema: a
 * value of another kind, or a field the first lines did not have, fails with line, field and both
 * kinds. Row groups hold OPTOUT_PQ_GROUP_ROWS rows or OPTOUT_PQ_GROUP_BYTES of buffered values,
 * whichever comes first; pages are PLAIN (levels RLE, data page v1) with statistics (byte-array
 * bounds longer than 4 KiB left out), string columns dictionary-encoded (RLE_DICTIONARY) while
 * their dictionary pays and stays within 1 MiB, PLAIN from there on. Line numbers in messages are
 * the caller's. */
#define OPTOUT_PQ_INFER_LINES 100000
#define OPTOUT_PQ_GROUP_ROWS 100000
#define OPTOUT_PQ_GROUP_BYTES ((size_t)128 << 20)

typedef struct optout_pq_jschema optout_pq_jschema;

optout_pq_jschema *optout_pq_jschema_new(void); /* NULL when out of memory */
/* Merges one line's fields: 0, or -1 with err ("line N: ..."). */
int optout_pq_jschema_add(optout_pq_jschema *s, const char *line, size_t len, uint64_t line_no, char *err,
                          size_t errlen);
/* Fixes the schema (no more lines): 0, or -1 with err (no field at all, an always empty object). */
int optout_pq_jschema_finish(optout_pq_jschema *s, char *err, size_t errlen);
void optout_pq_jschema_free(optout_pq_jschema *s);

typedef struct optout_pq_jwriter optout_pq_jwriter;

/* Creates path (truncating, never through a link) for rows of schema s (finished here if it was
 * not; it must outlive the writer; two writers may share it). With opts->agents_column the file
 * gets `disallowed_user_agents` last, as the Parquet filter's removed/ files (a field of that name
 * in the schema is refused). */
optout_pq_jwriter *optout_pq_jwriter_open(const char *path, optout_pq_jschema *s, const optout_pq_write_opts *opts,
                                          char *err, size_t errlen);
/* One row from one JSON object line (agents: the row's, with agents_column). 0 or -1 with err. */
int optout_pq_jwriter_row(optout_pq_jwriter *w, const char *line, size_t len, uint64_t line_no,
                          const optout_pq_agents *agents, char *err, size_t errlen);
/* The last row group, the footer; flushed, fsynced, closed; freed either way. 0 or -1. */
int optout_pq_jwriter_finish(optout_pq_jwriter *w, char *err, size_t errlen);
void optout_pq_jwriter_abort(optout_pq_jwriter *w); /* the caller removes the partial file */

#endif
