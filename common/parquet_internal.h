/* parquet_internal.h — the pieces the Parquet modules share and tests reach: the Thrift compact
 * protocol (parquet_thrift.c), the footer and page-header structures (parquet_meta.c), the codecs
 * (parquet_codec.c) and the value/level encodings (parquet_encoding.c). Not a public interface:
 * include/optout/parquet.h is the one other modules use.
 *
 * Every decoder here treats its input as hostile: lengths are checked against the buffer, counts
 * against limits the caller states, and a failure is a message in err (never a crash, never a
 * read past the end).
 */
#ifndef OPTOUT_PARQUET_INTERNAL_H
#define OPTOUT_PARQUET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- growable byte buffer ------------------------------------------------------------------ */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} pq_buf;

void pq_buf_reserve(pq_buf *b, size_t extra); /* aborts on out of memory (optout_malloc policy) */
void pq_buf_put(pq_buf *b, const void *p, size_t n);
static inline void pq_buf_byte(pq_buf *b, uint8_t c) {
    if (b->len == b->cap) pq_buf_reserve(b, 1);
    b->data[b->len++] = c;
}
void pq_buf_free(pq_buf *b);

/* ---- Thrift compact protocol ----------------------------------------------------------------- */
enum {
    PQ_T_STOP = 0,
    PQ_T_TRUE = 1,
    PQ_T_FALSE = 2,
    PQ_T_BYTE = 3,
    PQ_T_I16 = 4,
    PQ_T_I32 = 5,
    PQ_T_I64 = 6,
    PQ_T_DOUBLE = 7,
    PQ_T_BINARY = 8,
    PQ_T_LIST = 9,
    PQ_T_SET = 10,
    PQ_T_MAP = 11,
    PQ_T_STRUCT = 12
};

/* A reader over [p, end). After any error `failed` is set, every later call fails too, and msg
 * says what and at which offset (relative to `base`). */
typedef struct {
    const uint8_t *base, *p, *end;
    int depth, failed;
    char msg[160];
} pq_tr;

void pq_tr_init(pq_tr *t, const void *data, size_t len);
/* Next field of the current struct: 1 with *id and *type set, 0 at STOP, -1 on error. *last is
 * the previous field id of this struct (start at 0). A bool field's value is in its type
 * (PQ_T_TRUE / PQ_T_FALSE). */
int pq_tr_field(pq_tr *t, int16_t *last, int16_t *id, int *type);
int pq_tr_skip(pq_tr *t, int type);
/* Typed reads of a field whose wire type is `type`; a mismatching type is an error. */
int pq_tr_int(pq_tr *t, int type, int64_t *v); /* BYTE, I16, I32, I64 */
int pq_tr_bool(pq_tr *t, int type, int *v);
int pq_tr_binary(pq_tr *t, int type, const uint8_t **p, uint32_t *n);
/* List/set header: element type and count (count checked against the bytes left). */
int pq_tr_list(pq_tr *t, int type, int *elem_type, uint32_t *n);
int pq_tr_struct_begin(pq_tr *t, int type);
void pq_tr_struct_end(pq_tr *t);
/* An element of a list whose element type is `et` (bool elements are one byte). */
int pq_tr_elem_int(pq_tr *t, int et, int64_t *v);
int pq_tr_fail(pq_tr *t, const char *what);

/* Writer: fields in increasing id order within each struct (the compact protocol's deltas). */
typedef struct {
    pq_buf *b;
    int16_t last[32];
    int depth;
} pq_tw;

void pq_tw_init(pq_tw *w, pq_buf *b);
void pq_tw_i32(pq_tw *w, int16_t id, int32_t v);
void pq_tw_i64(pq_tw *w, int16_t id, int64_t v);
void pq_tw_bool(pq_tw *w, int16_t id, int v);
void pq_tw_binary(pq_tw *w, int16_t id, const void *p, size_t n);
void pq_tw_struct_begin(pq_tw *w, int16_t id); /* a struct-typed field */
void pq_tw_struct_end(pq_tw *w);               /* writes STOP */
void pq_tw_list_begin(pq_tw *w, int16_t id, int elem_type, uint32_t n);
void pq_tw_elem_struct_begin(pq_tw *w); /* a struct element of a list */
void pq_tw_elem_binary(pq_tw *w, const void *p, size_t n);
void pq_tw_elem_i32(pq_tw *w, int32_t v);
/* A whole struct's bytes, already encoded (STOP included), as a list element. */
void pq_tw_elem_raw(pq_tw *w, const void *p, size_t n);
void pq_tw_stop(pq_tw *w); /* ends the top-level struct */
/* A field whose value bytes (of wire type `type`) were read verbatim from another file. */
void pq_tw_raw_field(pq_tw *w, int16_t id, int type, const void *p, size_t n);

void pq_put_uvarint(pq_buf *b, uint64_t v);

/* ---- Parquet enumerations --------------------------------------------------------------------- */
enum {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED = 7
};
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICT = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY = 5,
    PQ_ENC_DELTA_LENGTH = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICT = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9
};
enum {
    PQ_CODEC_NONE = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7
};
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };
/* ConvertedType values the reader interprets. */
enum {
    PQ_CT_UTF8 = 0,
    PQ_CT_MAP = 1,
    PQ_CT_MAP_KEY_VALUE = 2,
    PQ_CT_LIST = 3,
    PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5,
    PQ_CT_DATE = 6,
    PQ_CT_TIME_MILLIS = 7,
    PQ_CT_TIME_MICROS = 8,
    PQ_CT_TIMESTAMP_MILLIS = 9,
    PQ_CT_TIMESTAMP_MICROS = 10,
    PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_64 = 14,
    PQ_CT_INT_8 = 15,
    PQ_CT_INT_64 = 18,
    PQ_CT_JSON = 19,
    PQ_CT_BSON = 20
};
/* LogicalType union members (field ids of the LogicalType struct). */
enum {
    PQ_LT_NONE = 0,
    PQ_LT_STRING = 1,
    PQ_LT_MAP = 2,
    PQ_LT_LIST = 3,
    PQ_LT_ENUM = 4,
    PQ_LT_DECIMAL = 5,
    PQ_LT_DATE = 6,
    PQ_LT_TIME = 7,
    PQ_LT_TIMESTAMP = 8,
    PQ_LT_INTEGER = 10,
    PQ_LT_UNKNOWN = 11,
    PQ_LT_JSON = 12,
    PQ_LT_BSON = 13,
    PQ_LT_UUID = 14,
    PQ_LT_FLOAT16 = 15,
    PQ_LT_VARIANT = 16,
    PQ_LT_GEOMETRY = 17,
    PQ_LT_GEOGRAPHY = 18
};
enum { PQ_UNIT_NONE = 0, PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

/* ---- footer structures ------------------------------------------------------------------------ */
typedef struct {
    const uint8_t *raw; /* the element's encoded bytes inside the footer (copied verbatim on write) */
    size_t raw_len;
    char *name;
    int type; /* physical type, -1 for a group */
    int32_t type_length;
    int repetition; /* -1 when absent (the root) */
    int32_t num_children;
    int converted; /* -1 when absent */
    int32_t scale, precision, field_id;
    int has_field_id;         /* field_id present (any value, -1 included) */
    int logical;              /* PQ_LT_* */
    int time_unit;            /* TIME / TIMESTAMP */
    int utc;                  /* TIMESTAMP isAdjustedToUTC */
    int int_bits, int_signed; /* INTEGER */
} pq_schema_elem;

typedef struct {
    int has_min, has_max, has_nulls;
    const uint8_t *min, *max; /* min_value / max_value (or the legacy min / max) */
    uint32_t min_len, max_len;
    int64_t null_count;
} pq_stats;

typedef struct {
    int type, codec;
    int64_t num_values, total_uncompressed, total_compressed;
    int64_t data_page_offset, dictionary_page_offset; /* dictionary: -1 when absent */
    int has_stats;
    pq_stats stats;
    int encrypted; /* crypto metadata present */
    int has_file_path;
} pq_chunk_meta;

typedef struct {
    pq_chunk_meta *cols;
    uint32_t ncols;
    int64_t num_rows;
    const uint8_t *sorting_raw; /* field 4 (list<SortingColumn>) verbatim, or NULL */
    size_t sorting_len;
} pq_row_group;

typedef struct {
    char *key;
    uint8_t *value;
    uint32_t value_len;
    int has_value;
} pq_kv;

typedef struct {
    uint8_t *buf; /* the footer bytes every raw pointer points into */
    size_t buf_len;
    int32_t version;
    pq_schema_elem *schema;
    uint32_t nschema;
    int64_t num_rows;
    pq_row_group *rgs;
    uint32_t nrgs;
    pq_kv *kv;
    uint32_t nkv;
    char *created_by;
    int encrypted;
} pq_file_meta;

/* Decodes FileMetaData from buf[0..len) (takes ownership of buf, a malloc'd copy). 0, or -1 with
 * the reason in err. */
int pq_meta_decode(pq_file_meta *m, uint8_t *buf, size_t len, char *err, size_t errlen);
void pq_meta_free(pq_file_meta *m);

typedef struct {
    int type;
    int32_t uncompressed_size, compressed_size;
    int has_crc;
    uint32_t crc;
    int32_t num_values; /* data (v1, v2) and dictionary pages */
    int encoding;
    int def_encoding, rep_encoding; /* v1 */
    int32_t num_nulls, num_rows;    /* v2 */
    int32_t def_len, rep_len;       /* v2 */
    int is_compressed;              /* v2, default 1 */
} pq_page_header;

/* 0 with *hlen = the header's size, 1 when the header is longer than len (read more), -1 corrupt. */
int pq_page_header_decode(pq_page_header *h, const uint8_t *p, size_t len, size_t *hlen, char *err, size_t errlen);
/* A v1 data page or dictionary page header (no statistics: they are kept per chunk). */
void pq_page_header_encode(pq_buf *b, const pq_page_header *h);

/* ---- codecs -------------------------------------------------------------------------------- */
const char *pq_codec_name(int codec);
/* Decompresses src into exactly dst_len bytes of dst. 0, or -1 with err. */
int pq_decompress(int codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *err,
                  size_t errlen);
/* Appends the compressed src to out. level: the codec's level (ignored where it has none). */
int pq_compress(int codec, int level, const uint8_t *src, size_t src_len, pq_buf *out, char *err, size_t errlen);

/* ---- encodings ------------------------------------------------------------------------------ */
typedef struct {
    const uint8_t *p;
    uint32_t len;
} pq_bytes;

/* Bit width needed for max (0 for 0). */
int pq_bit_width(uint64_t max);
/* Unpacks n values of `width` bits (0..64), LSB first, from p (at least ceil(n*width/8) bytes). */
void pq_unpack_bits(const uint8_t *p, uint32_t n, int width, uint64_t *out);
/* RLE / bit-packed hybrid: decodes exactly n values of `width` bits (0..32) from [p, p+len). Values
 * above max_value (when max_value >= 0) are an error ("index out of range"). */
int pq_rle_decode(const uint8_t *p, size_t len, int width, uint32_t n, uint32_t *out, int64_t max_value, char *err,
                  size_t errlen);
void pq_rle_encode(pq_buf *b, const uint32_t *v, uint32_t n, int width);
/* Legacy BIT_PACKED levels: MSB first, no length prefix. Consumes ceil(n*width/8) bytes. */
int pq_bitpacked_msb_decode(const uint8_t *p, size_t len, int width, uint32_t n, uint32_t *out, size_t *used, char *err,
                            size_t errlen);

/* Value decoders. `width` is the fixed value size (BOOLEAN decodes into one byte per value, INT96
 * 12, FIXED type_length). Fixed values land in out_fixed (n*width bytes), byte arrays in out_ba
 * (pointing into p, or into *arena for DELTA_BYTE_ARRAY, which the caller frees). */
int pq_decode_plain_fixed(const uint8_t *p, size_t len, int type, int width, uint32_t n, uint8_t *out, char *err,
                          size_t errlen);
int pq_decode_plain_ba(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, char *err, size_t errlen);
int pq_decode_delta_binary(const uint8_t *p, size_t len, int type, uint32_t n, uint8_t *out, size_t *used, char *err,
                           size_t errlen);
int pq_decode_delta_length(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, char *err, size_t errlen);
int pq_decode_delta_byte_array(const uint8_t *p, size_t len, uint32_t n, pq_bytes *out, uint8_t **arena, char *err,
                               size_t errlen);
int pq_decode_byte_stream_split(const uint8_t *p, size_t len, int width, uint32_t n, uint8_t *out, char *err,
                                size_t errlen);
/* Encoders the writer uses. */
void pq_encode_plain_bool(pq_buf *b, const uint8_t *v, uint32_t n);
void pq_encode_plain_ba(pq_buf *b, const pq_bytes *v, uint32_t n);
void pq_encode_delta_binary(pq_buf *b, const int64_t *v, uint32_t n); /* for tests and fuzzing */


/* ---- base64 and the ARROW:schema entry (parquet_arrow.c) -------------------------------------- */
void pq_base64_encode(pq_buf *b, const uint8_t *p, size_t n);
int pq_base64_decode(pq_buf *b, const uint8_t *p, size_t n); /* 0, or -1 on a non-base64 byte */
/* b64: an ARROW:schema value; appends to out that schema with one more last field `name`, a
 * nullable List of non-null Utf8 (base64 again). 0, or -1 when the value does not parse. */
int pq_arrow_schema_add_list(const uint8_t *b64, size_t b64_len, const char *name, pq_buf *out);

/* ---- the open file and its column chunks (parquet_read.c) ----------------------------------- */
typedef struct {
    const pq_schema_elem *e;
    int parent, first_child, nchildren;
    int def_level, rep_level; /* levels at which this node is present / repeats */
    int leaf;                 /* leaf index, or -1 for a group */
    char *path;
} pq_node;

typedef struct {
    int node;
    int type, width; /* physical type; fixed value size (0 for BYTE_ARRAY) */
    int max_def, max_rep;
    const pq_schema_elem *e;
    const char *path;
} pq_leaf;

/* Decompressed pages of one column chunk kept for a second reader of the same chunk (the text's
 * sizes are read to decide a row group, then the writer reads the same pages): each page is
 * decompressed once. A page is kept while the kept bytes stay under `limit`; the second reader
 * takes each page it finds (ownership moves). */
typedef struct {
    uint64_t off;  /* the page header's offset in the file */
    uint8_t *data; /* the chunk's decompressed data buffer for that page (NULL: taken) */
    size_t len, cap;
} pq_kept_page;

typedef struct {
    size_t limit; /* 0: off */
    int rg, col;  /* the chunk the pages belong to */
    pq_kept_page *pages;
    size_t n, cap, bytes;
    pq_kept_page spare[4]; /* buffers the second reader gave back, for the first to reuse */
    size_t nspare;
} pq_page_cache;

struct optout_pq_file {
    char *path;
    int fd;
    uint64_t size;
    uint64_t bytes_read; /* footer, page headers and pages read so far */
    uint64_t pages_decompressed;
    uint64_t page_limit; /* optout_pq_page_limit (0: none) */
    pq_page_cache kept;
    pq_file_meta meta;
    pq_node *nodes;
    pq_leaf *leaves;
    int nleaves;
};

/* One column chunk read page by page. After pq_chunk_next returns 1 the current data page is
 * decoded: n level entries (rep/def unset when the level is always 0: max_rep / max_def 0), nvals non-null values,
 * either dictionary indices (is_dict: idx[nvals] into dict_fixed / dict_ba) or values (fixed:
 * nvals * width bytes; ba: nvals byte arrays). Pointers stay valid until the next call. */
typedef struct {
    struct optout_pq_file *f;
    int rg, col, page_no;
    const pq_leaf *leaf;
    const pq_chunk_meta *cm;
    uint64_t pos, end;
    uint64_t page_off; /* the current page header's offset */
    int keep_pages;    /* hand decompressed pages to f->kept (optout_pq_read_sizes) */
    int page_ready;    /* the last call decoded a data page */
    int64_t values_seen;
    pq_page_header hdr;
    pq_buf hbuf, raw;
    uint8_t *data;
    size_t data_cap;
    uint8_t *arena;
    /* dictionary */
    int has_dict;
    uint8_t *dict_data;
    uint8_t *dict_fixed;
    pq_bytes *dict_ba;
    uint32_t dict_n;
    size_t dict_len; /* dict_data's size: the PLAIN-encoded dictionary */
    uint8_t *dict_arena;
    /* the decoded page */
    uint32_t n, nvals;
    uint32_t *rep, *def;
    int is_dict;
    uint32_t *idx;
    uint8_t *fixed;
    pq_bytes *ba;
    size_t rep_cap, def_cap, idx_cap, ba_cap, fixed_cap; /* elements allocated (only those a page needed) */
} pq_chunk;

int pq_chunk_open(pq_chunk *c, struct optout_pq_file *f, int rg, int col, char *err, size_t errlen);
/* 1: a data page is decoded; 0: the chunk is done; -1: error (message names file, row group,
 * column, page). */
int pq_chunk_next(pq_chunk *c, char *err, size_t errlen);
void pq_chunk_close(pq_chunk *c);
/* What chunk c holds now: its buffers (header, page as stored, decompressed, levels, values or
 * indices) and its dictionary, by their capacities. */
uint64_t pq_chunk_bytes(const pq_chunk *c);
/* Value vi of the current page, the dictionary resolved: a fixed-width value's bytes in *fixed
 * (leaf width bytes), a BYTE_ARRAY's in *ba (FIXED_LEN_BYTE_ARRAY: both). */
static inline void pq_chunk_value(const pq_chunk *c, uint32_t vi, const uint8_t **fixed, pq_bytes *ba) {
    size_t w = (size_t)c->leaf->width;
    uint32_t k = c->is_dict ? c->idx[vi] : vi;
    const uint8_t *fx = c->is_dict ? c->dict_fixed : c->fixed;
    const pq_bytes *b = c->is_dict ? c->dict_ba : c->ba;
    if (c->leaf->type == PQ_BYTE_ARRAY) {
        *fixed = NULL;
        *ba = b[k];
    } else {
        *fixed = fx + (size_t)k * w;
        ba->p = *fixed;
        ba->len = (uint32_t)w;
    }
}

/* An INT96 timestamp (Impala, Spark): nanoseconds of the day, then the Julian day number. Returns
 * the days since 1970-01-01 and sets *nanos to the nanoseconds into that day. */
static inline int64_t pq_int96_days(const uint8_t *p, int64_t *nanos) {
    int32_t jd;
    memcpy(nanos, p, 8);
    memcpy(&jd, p + 8, 4);
    return (int64_t)jd - 2440588;
}

/* "FILE: row group R, column PATH, page P: " prefix for messages about chunk c. */
void pq_chunk_where(const pq_chunk *c, char *buf, size_t len);

/* ---- generated files (parquet_write.c): rows that did not come from a Parquet input ------------ */
#include "optout/parquet.h"

#define PQ_COLBUF_DEPTH 64

/* One leaf column of the rows buffered for a row group: its levels, and its non-null values PLAIN
 * encoded (BYTE_ARRAY: 4-byte length and bytes; INT64 and DOUBLE: 8 bytes; BOOLEAN: one byte each,
 * bit-packed when the page is written). */
typedef struct {
    const char *path[PQ_COLBUF_DEPTH]; /* the path's components (the schema owns the names) */
    int depth;
    int type, max_def, max_rep;
    uint32_t *rep, *def;
    size_t nlev, lcap;
    pq_buf vals;
} pq_colbuf;

/* SchemaElements as list elements of the footer's schema (the caller's writer at that list):
 * the STRING annotation (converted UTF8, logical STRING) of the element being written; the two
 * groups of a standard LIST named `name` (optional group (LIST), repeated group "list"; the caller
 * writes the element after them); the whole `disallowed_user_agents` column (a LIST of required
 * strings). */
void pq_schema_string(pq_tw *t);
void pq_schema_list(pq_tw *t, const char *name);
void pq_schema_agents(pq_tw *t);

/* A writer for a schema of the caller's: `schema` holds the nschema SchemaElement structs, root
 * first, already encoded; nleaves is the number of leaf columns. */
optout_pq_writer *pq_writer_open_generated(const char *path, const pq_buf *schema, uint32_t nschema, int nleaves,
                                           const optout_pq_write_opts *opts, char *err, size_t errlen);
/* The buffered columns (every leaf, in schema order) as one row group of nrows rows. */
int pq_writer_generated_group(optout_pq_writer *w, const pq_colbuf *cols, int ncols, int64_t nrows, char *err,
                              size_t errlen);

#endif
