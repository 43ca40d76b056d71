/* docsource.c — the JSON Lines and Parquet readers and writers behind docsource.h.
 *
 * JSON Lines: shard.c reads lines, jsonl.c extracts the fields; lines are copied into a batch only
 * when the caller asks for more than one per batch (prefetching verdict sources). Parquet: the
 * format library (parquet.h) reads the projected columns of one row group; values are rendered in
 * jsonl.h's raw convention so that every consumer reads both formats with the same code.
 */
#include "optout/docsource.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "doc_fields.h"
#include "optout/parquet.h"
#include "optout/tags.h"
#include "optout/util.h"

_Static_assert(F_COUNT == OPTOUT_DOC_FIELDS, "docsource.h's field count is doc_fields.h's");

#define JSONL_BATCH_BYTES ((size_t)4 << 20)

struct optout_docsource {
    optout_doc_format format;
    char *path;
    optout_docsource_opts opts;
    /* JSON Lines */
    optout_shard_reader *r;
    optout_json_fields *fields;
    char *buf; /* copied lines of a batch */
    size_t buf_cap;
    int pending; /* a line read but not yet yielded (its data still in the reader) */
    optout_shard_line pending_line;
    int seen_record; /* a non-blank record has been read: the first-record check is done */
    int done;
    /* Parquet */
    optout_pq_file *pq;
    int rg;
    const char *paths[F_COUNT];
    optout_pq_column cols[F_COUNT];
    int col_of[F_COUNT]; /* index into cols of the field's values (fields sharing a path share one); -1 */
    char *render;        /* numbers and dates rendered as text */
    size_t render_cap;
    optout_pq_size *sizes; /* the text column's sizes */
    size_t sizes_cap;
    int have_sizes;
    int text_unread;              /* opts.text_if_no_tokens: this row group's text is not read */
    int keep_pages;               /* a sink writes this source: keep the text's pages for its writer */
    int json_rows;                /* a sink writes this source's rows as JSON Lines (optout_pq_rows) */
    uint64_t json_limit;          /* what those rows may hold (0: no limit), set with the row group */
    int loaded;                   /* row group rg's columns are loaded */
    size_t group_rows, group_pos; /* its rows, and the next row to yield */
    uint64_t first_row;           /* its first row in the file */
    /* both */
    optout_doc *docs;
    size_t docs_cap;
};

int optout_docsource_is_parquet(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    unsigned char head[4], tail[4];
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    } else if (S_ISREG(st.st_mode) && st.st_size >= 12 && pread(fd, head, 4, 0) == 4 &&
               pread(fd, tail, 4, st.st_size - 4) == 4) {
        rc = memcmp(head, "PAR1", 4) == 0 && memcmp(tail, "PAR1", 4) == 0;
    }
    close(fd);
    return rc;
}

static int reserve_docs(optout_docsource *s, size_t n) {
    if (n <= s->docs_cap) return 0;
    optout_doc *d = realloc(s->docs, n * sizeof *d);
    if (!d) return -1;
    s->docs = d;
    s->docs_cap = n;
    return 0;
}

optout_docsource *optout_docsource_open(const char *path, const optout_docsource_opts *opts, char *err, size_t errlen) {
    int pq = optout_docsource_is_parquet(path, err, errlen);
    if (pq < 0) return NULL;
    optout_docsource *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    s->rg = 0;
    optout_doc_field_paths(opts->url_field, opts->language_field, opts->tokens_field, opts->dump_field,
                           opts->date_field, opts->text_field, s->paths);
    if (pq) {
        s->format = OPTOUT_DOC_PARQUET;
        if (!(s->pq = optout_pq_open(path, err, errlen))) goto fail;
        return s;
    }
    s->format = OPTOUT_DOC_JSONL;
    if (!(s->fields = optout_json_fields_new(s->paths, F_COUNT))) {
        optout_set_err(err, errlen, "bad field path");
        goto fail;
    }
    size_t max_line = opts->max_line ? opts->max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT;
    if (!(s->r = optout_shard_open(path, max_line, err, errlen))) goto fail;
    if (reserve_docs(s, opts->batch_docs > 1 ? opts->batch_docs : 1) != 0) {
        optout_set_err(err, errlen, "out of memory");
        goto fail;
    }
    return s;
fail:
    optout_docsource_close(s);
    return NULL;
}

void optout_docsource_close(optout_docsource *s) {
    if (!s) return;
    optout_shard_close(s->r);
    optout_json_fields_free(s->fields);
    free(s->buf);
    for (int i = 0; i < F_COUNT; i++) optout_pq_column_free(&s->cols[i]);
    optout_pq_close(s->pq);
    free(s->render);
    free(s->sizes);
    free(s->docs);
    free(s->path);
    free(s);
}

optout_doc_format optout_docsource_format(const optout_docsource *s) { return s->format; }
const char *optout_docsource_path(const optout_docsource *s) { return s->path; }

uint64_t optout_docsource_bytes_read(const optout_docsource *s) {
    return s->format == OPTOUT_DOC_PARQUET ? optout_pq_bytes_read(s->pq) : optout_shard_bytes_read(s->r);
}

/* ---- JSON Lines ---------------------------------------------------------------------------- */

/* Classifies and extracts one line into d (data not copied). -1 when the shard is not JSON Lines. */
static int jsonl_doc(optout_docsource *s, const optout_shard_line *line, optout_doc *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->raw = line->data;
    d->raw_len = line->len;
    d->offset = line->offset;
    d->newline = (uint8_t)line->newline;
    d->last_piece = (uint8_t)line->last_piece;
    const char *nul = memchr(line->data, 0, line->len);
    if (nul) {
        optout_set_err(err, errlen, "%s: byte %" PRIu64 ": a NUL byte: not a JSON Lines shard", s->path,
                       line->offset + (uint64_t)(nul - line->data));
        return -1;
    }
    if (line->oversized) {
        d->kind = OPTOUT_DOC_PIECE;
        s->seen_record = 1;
        return 0;
    }
    if (line->len == 0 || (line->len == 1 && line->data[0] == '\r')) {
        d->kind = OPTOUT_DOC_BLANK;
        return 0;
    }
    if (s->opts.prefilter_count) {
        int hit = 0;
        for (size_t i = 0; i < s->opts.prefilter_count && !hit; i++)
            hit = s->opts.prefilter[i] &&
                  memmem(line->data, line->len, s->opts.prefilter[i], s->opts.prefilter_lens[i]) != NULL;
        if (!hit) {
            d->kind = OPTOUT_DOC_SKIPPED;
            s->seen_record = 1; /* unparsed: the first-record check is for whole reads */
            return 0;
        }
    }
    d->kind = optout_json_extract(s->fields, line->data, line->len, d->v) == 0 ? OPTOUT_DOC_OK : OPTOUT_DOC_BAD;
    if (d->kind == OPTOUT_DOC_BAD && !s->seen_record) {
        optout_set_err(err, errlen,
                       "%s: byte %" PRIu64 ": the first record is not a JSON object: not a JSON Lines shard", s->path,
                       line->offset);
        return -1;
    }
    s->seen_record = 1;
    return 0;
}

static int jsonl_next(optout_docsource *s, optout_doc_batch *b, char *err, size_t errlen) {
    b->docs = s->docs;
    b->count = 0;
    b->row_group = -1;
    size_t max = s->opts.batch_docs > 1 ? s->opts.batch_docs : 1;
    if (s->pending) { /* a piece held back by the previous batch: alone, uncopied */
        s->pending = 0;
        if (jsonl_doc(s, &s->pending_line, &s->docs[0], err, errlen) != 0) return -1;
        b->count = 1;
        return 1;
    }
    if (s->done) return 0;
    size_t used = 0;
    optout_shard_line line;
    int got = 0;
    while (b->count < max && (got = optout_shard_next(s->r, &line, err, errlen)) == 1) {
        if (max == 1) {
            if (jsonl_doc(s, &line, &s->docs[0], err, errlen) != 0) return -1;
            b->count = 1;
            return 1;
        }
        if (line.oversized) { /* never copied: yielded alone */
            if (b->count == 0) {
                if (jsonl_doc(s, &line, &s->docs[0], err, errlen) != 0) return -1;
                b->count = 1;
                return 1;
            }
            s->pending = 1;
            s->pending_line = line;
            break;
        }
        if (used + line.len > s->buf_cap) {
            size_t cap = s->buf_cap ? s->buf_cap : JSONL_BATCH_BYTES;
            while (cap < used + line.len) cap *= 2;
            char *nb = realloc(s->buf, cap);
            if (!nb) {
                optout_set_err(err, errlen, "out of memory batching lines of %s", s->path);
                return -1;
            }
            /* earlier documents of this batch point into the old buffer */
            for (size_t i = 0; i < b->count; i++) {
                optout_doc *d = &s->docs[i];
                ptrdiff_t delta = nb - s->buf;
                if (d->raw) d->raw += delta;
                for (int f = 0; f < F_COUNT; f++)
                    if (d->v[f].present && d->v[f].s) d->v[f].s += delta;
            }
            s->buf = nb;
            s->buf_cap = cap;
        }
        memcpy(s->buf + used, line.data, line.len);
        line.data = s->buf + used;
        used += line.len;
        if (jsonl_doc(s, &line, &s->docs[b->count], err, errlen) != 0) return -1;
        b->count++;
        if (used >= JSONL_BATCH_BYTES) break;
    }
    if (b->count > 0) return 1;
    if (got < 0) return -1;
    s->done = 1;
    return 0;
}

/* ---- Parquet ------------------------------------------------------------------------------- */

static int is_token_field(int f) { return f == F_TOKENS || f == F_META_TOKENS; }

/* The value's raw text for a jsonl.h value (numbers, booleans, dates); its length, 0 for none. */
static size_t render_value(int field, const optout_pq_value *pv, char *out, size_t cap) {
    switch (pv->kind) {
    case OPTOUT_PQ_BOOL: return (size_t)snprintf(out, cap, "%s", pv->u.i ? "true" : "false");
    case OPTOUT_PQ_INT: return (size_t)snprintf(out, cap, "%" PRId64, pv->u.i);
    case OPTOUT_PQ_DOUBLE: {
        double d = pv->u.d;
        if (is_token_field(field)) /* a token count only when integral and not negative */
            return d >= 0 && d < 1e18 && d == (double)(int64_t)d ? (size_t)snprintf(out, cap, "%" PRId64, (int64_t)d)
                                                                 : 0;
        if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) return 0;
        return (size_t)snprintf(out, cap, "%.17g", d);
    }
    case OPTOUT_PQ_TIME_MS: {
        /* Years 0001..9999 only, the range of the YYYY-MM-DD form (and of RFC 3339): a time outside
         * it (an INT96 or TIMESTAMP of year 20000 or -5000; INT96 reaches millions of years) is no
         * date, as a null is, rather than a year misread from its first four digits. */
        int64_t ms = pv->u.i;
        if (ms < -62135596800000LL || ms >= 253402300800000LL) return 0;
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
        struct tm tm;
        if (!gmtime_r(&secs, &tm)) return 0;
        return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    default: return 0;
    }
}

#define RENDER_MAX 32

/* Reads field f's column of row group rg into s->cols (a path already read for another field is
 * shared). 0, or -1 with err. */
static int load_field(optout_docsource *s, int rg, int f, size_t rows, char *err, size_t errlen) {
    for (int g = 0; g < F_COUNT; g++) /* a configured path serves both of its fields: read once */
        if (g != f && s->col_of[g] >= 0 && strcmp(s->paths[g], s->paths[f]) == 0) {
            s->col_of[f] = s->col_of[g];
            return 0;
        }
    int rc = optout_pq_read_column(s->pq, rg, s->paths[f], &s->cols[f], err, errlen);
    if (rc < 0) return -1;
    if (rc == 1) return 0;
    if (s->cols[f].n != rows) {
        optout_set_err(err, errlen, "%s: row group %d, column %s: %zu values for %zu rows", s->path, rg, s->paths[f],
                       s->cols[f].n, rows);
        return -1;
    }
    s->col_of[f] = f;
    return 0;
}

/* Does every row of the loaded row group have a token count that facts() takes as it is (the first
 * non-null token field a non-negative integer)? Conservative: anything else means the estimate
 * may be needed, so the text must be read. */
static int all_rows_have_tokens(const optout_docsource *s, size_t rows) {
    for (size_t r = 0; r < rows; r++) {
        const optout_pq_value *v = NULL;
        for (int f = F_TOKENS; f <= F_META_TOKENS && !v; f++)
            if (s->col_of[f] >= 0 && s->cols[s->col_of[f]].v[r].kind != OPTOUT_PQ_NULL) v = &s->cols[s->col_of[f]].v[r];
        if (!v) return 0;
        if (v->kind == OPTOUT_PQ_INT && v->u.i >= 0) continue;
        if (v->kind == OPTOUT_PQ_DOUBLE && v->u.d >= 0 && v->u.d < 1e18 && v->u.d == (double)(int64_t)v->u.d) continue;
        return 0;
    }
    return 1;
}

/* A row group is decided in chunks of PQ_CHUNK rows, so that the per-document state stays small
 * whatever the row group's size (pyarrow writes up to a million rows per group). */
#define PQ_CHUNK 16384

/* What a row group's rows cost besides the projected columns: the text's sizes, the sink's two
 * row bitmaps, and the batch of documents. */
static uint64_t row_bytes(size_t rows) {
    return (uint64_t)rows * sizeof(optout_pq_size) + (uint64_t)rows / 4 + 2 +
           (uint64_t)(rows < PQ_CHUNK ? rows : PQ_CHUNK) * sizeof(optout_doc);
}

/* "12 MiB" from 16 MiB up, else "345 KiB" (rounded up). */
static const char *size_text(uint64_t bytes, char *buf, size_t len) {
    if (bytes >= ((uint64_t)16 << 20))
        snprintf(buf, len, "%llu MiB", (unsigned long long)((bytes + (1u << 20) - 1) >> 20));
    else snprintf(buf, len, "%llu KiB", (unsigned long long)((bytes + 1023) >> 10));
    return buf;
}

static int over_budget(optout_docsource *s, size_t rows, const char *how, uint64_t bytes, char *err, size_t errlen) {
    char a[32], b[32];
    optout_set_err(err, errlen,
                   "%s: row group %d (%zu rows) %s %s to be decided (its projected columns, the text's sizes), more "
                   "than the %s the memory budget leaves a Parquet shard (what a worker's --max-memory leaves a slot): "
                   "write smaller row groups, or give more memory",
                   s->path, s->rg, rows, how, size_text(bytes, a, sizeof a),
                   size_text(s->opts.max_memory, b, sizeof b));
    return -1;
}

/* The budget's checks before and after reading the projected columns; then what is left goes to
 * kept pages and to pages. */
static int pq_budget(optout_docsource *s, size_t rows, int before, char *err, size_t errlen) {
    uint64_t max = s->opts.max_memory;
    if (before) {
        if (!max) return 0;
        const char *proj[F_COUNT];
        size_t n = 0;
        for (int f = 0; f < F_COUNT; f++)
            if (f != F_TEXT && (!s->opts.need || (s->opts.need & (1u << f)))) {
                int dup = 0;
                for (size_t i = 0; i < n; i++) dup |= strcmp(proj[i], s->paths[f]) == 0;
                if (!dup) proj[n++] = s->paths[f];
            }
        uint64_t need = optout_pq_projection_bytes(s->pq, s->rg, proj, n) + row_bytes(rows);
        return need > max ? over_budget(s, rows, "needs about", need, err, errlen) : 0;
    }
    uint64_t held = row_bytes(rows);
    for (int f = 0; f < F_COUNT; f++)
        if (s->col_of[f] == f) held += s->cols[f].bytes;
    if (max && held > max) return over_budget(s, rows, "holds", held, err, errlen);
    uint64_t room = max ? max - held : 0;
    size_t keep = OPTOUT_PQ_KEEP_PAGES_MAX;
    if (max && room / 2 < keep) keep = (size_t)(room / 2);
    if (s->keep_pages) optout_pq_keep_pages(s->pq, keep);
    /* a page read and one written at a time, each as stored and decoded */
    optout_pq_page_limit(s->pq, max ? (room - (s->keep_pages ? keep : 0)) / 2 + 1 : 0);
    /* rows as JSON Lines: a page of every column and one row, after the text's sizes are read */
    s->json_limit = max ? room + 1 : 0;
    return 0;
}

/* Loads row group s->rg's projected columns, then the text's sizes (page by page) when needed. */
static int pq_load(optout_docsource *s, char *err, size_t errlen) {
    int rg = s->rg;
    int64_t rows64 = optout_pq_row_group_rows(s->pq, rg);
    if (rows64 < 0 || (uint64_t)rows64 > SIZE_MAX / sizeof(optout_pq_size)) {
        optout_set_err(err, errlen, "%s: row group %d: %" PRId64 " rows", s->path, rg, rows64);
        return -1;
    }
    size_t rows = (size_t)rows64;
    s->group_rows = rows;
    s->group_pos = 0;
    s->have_sizes = 0;
    s->text_unread = 0;
    for (int f = 0; f < F_COUNT; f++) {
        optout_pq_column_free(&s->cols[f]);
        s->col_of[f] = -1;
    }
    if (pq_budget(s, rows, 1, err, errlen) != 0) return -1;
    for (int f = 0; f < F_COUNT; f++) {
        if (f == F_TEXT || (s->opts.need && !(s->opts.need & (1u << f)))) continue;
        if (load_field(s, rg, f, rows, err, errlen) != 0) return -1;
    }
    if (pq_budget(s, rows, 0, err, errlen) != 0) return -1;
    if ((s->opts.need && !(s->opts.need & (1u << F_TEXT))) || rows == 0) return 0;
    if (s->opts.text_if_no_tokens && all_rows_have_tokens(s, rows)) {
        s->text_unread = 1;
        return 0;
    }
    if (rows > s->sizes_cap) { /* the text: its size, page by page */
        free(s->sizes);
        s->sizes_cap = (s->sizes = malloc(rows * sizeof *s->sizes)) ? rows : 0;
        if (!s->sizes) {
            optout_set_err(err, errlen, "%s: row group %d: out of memory", s->path, rg);
            return -1;
        }
    }
    int rc = optout_pq_read_sizes(s->pq, rg, s->paths[F_TEXT], s->sizes, err, errlen);
    if (rc < 0) return -1;
    s->have_sizes = rc == 0;
    return s->have_sizes ? 0 : load_field(s, rg, F_TEXT, rows, err, errlen); /* a map key: its values */
}


static int pq_next(optout_docsource *s, optout_doc_batch *b, char *err, size_t errlen) {
    b->count = 0;
    b->docs = s->docs;
    while (!s->loaded || s->group_pos == s->group_rows) {
        if (s->loaded) s->first_row += s->group_rows, s->rg++;
        s->loaded = 0;
        if (s->rg >= optout_pq_num_row_groups(s->pq)) return 0;
        if (pq_load(s, err, errlen) != 0) return -1;
        s->loaded = 1;
        if (s->group_rows == 0) { /* nothing to decide, nothing to write */
            b->row_group = s->rg;
            b->first = 0;
            b->group_rows = 0;
            return 1;
        }
    }
    size_t from = s->group_pos, to = from + PQ_CHUNK < s->group_rows ? from + PQ_CHUNK : s->group_rows;
    size_t rendered = 0;
    for (int f = 0; f < F_COUNT; f++) /* every field renders its own copy, shared columns too */
        if (s->col_of[f] >= 0)
            for (size_t r = from; r < to; r++) {
                int kind = s->cols[s->col_of[f]].v[r].kind;
                rendered += kind != OPTOUT_PQ_NULL && kind != OPTOUT_PQ_BYTES;
            }
    if (rendered * RENDER_MAX > s->render_cap) {
        free(s->render);
        s->render_cap = (s->render = malloc(rendered * RENDER_MAX)) ? rendered * RENDER_MAX : 0;
    }
    if (reserve_docs(s, to - from) != 0 || s->render_cap < rendered * RENDER_MAX) {
        optout_set_err(err, errlen, "%s: row group %d: out of memory", s->path, s->rg);
        return -1;
    }
    b->docs = s->docs;
    b->row_group = s->rg;
    b->first = from;
    b->group_rows = s->group_rows;
    char *out = s->render;
    for (size_t r = from; r < to; r++) {
        optout_doc *d = &s->docs[r - from];
        *d = (optout_doc){.kind = OPTOUT_DOC_OK, .offset = s->first_row + r};
        if (s->text_unread) {
            d->text_sized = 1;
            d->text_unread = 1;
        } else if (s->have_sizes) {
            d->text_sized = 1;
            d->text_present = s->sizes[r].present;
            d->text_bytes = s->sizes[r].bytes;
            d->text_chars = s->sizes[r].chars;
        }
        for (int f = 0; f < F_COUNT; f++) {
            if (s->col_of[f] < 0) continue;
            const optout_pq_value *pv = &s->cols[s->col_of[f]].v[r];
            optout_json_value *v = &d->v[f];
            if (pv->kind == OPTOUT_PQ_NULL) continue;
            if (pv->kind == OPTOUT_PQ_BYTES) {
                *v = (optout_json_value){.s = pv->u.s, .len = pv->len, .present = 1, .is_string = 1};
                continue;
            }
            size_t n = render_value(f, pv, out, RENDER_MAX);
            if (n == 0 || n >= RENDER_MAX) continue;
            *v = (optout_json_value){.s = out, .len = n, .present = 1, .is_string = pv->kind == OPTOUT_PQ_TIME_MS};
            out += RENDER_MAX;
        }
    }
    b->count = to - from;
    s->group_pos = to;
    return 1;
}

int optout_docsource_next(optout_docsource *s, optout_doc_batch *b, char *err, size_t errlen) {
    return s->format == OPTOUT_DOC_PARQUET ? pq_next(s, b, err, errlen) : jsonl_next(s, b, err, errlen);
}

/* ---- sinks ------------------------------------------------------------------------------- */

/* A removed row's agents: a set of the sink's agent list, or a JSON array (a tag's). */
struct gone {
    optout_agentset set;
    const char *json;
    size_t json_len;
};

struct optout_docsink {
    optout_docsource *src;
    optout_docsink_opts opts;
    /* JSON Lines */
    optout_shard_writer *w, *wr;
    char *line_buf, *agents_buf;
    size_t line_cap, agents_cap;
    int convert; /* Parquet source, JSON Lines outputs */
    optout_pq_rows *rows; /* convert: the current row group's rows, taken as their batches come */
    /* Parquet */
    optout_pq_writer *pw, *pwr;
    char *out_path, *removed_path;
    uint8_t *keep, *gone;
    size_t bits_cap;
    struct gone *gone_rows; /* the removed rows' agents, in row order */
    size_t ngone, gone_cap;
    optout_pq_agents *row_agents;
    const char **names;
    size_t agents_rows_cap, names_cap;
    char *arena; /* the names' bytes (decoded, NUL-terminated) */
    size_t arena_len, arena_cap;
    size_t *name_off; /* offsets into arena until the names are placed */
    size_t nnames, off_cap;
    /* JSON Lines source written as Parquet */
    optout_pq_jschema *schema;
    optout_pq_jwriter *jw, *jwr;
    uint64_t line_no; /* the source's lines so far */
    int direct;       /* the writers write their paths directly: abort removes them */
};

/* The schema of a JSON Lines source from its first lines, read with a reader of its own. */
static optout_pq_jschema *infer_schema(const char *path, size_t max_line, char *err, size_t errlen) {
    char serr[OPTOUT_SHARD_ERR_LEN], perr[1024];
    optout_pq_jschema *s = optout_pq_jschema_new();
    optout_shard_reader *r = optout_shard_open(path, max_line ? max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT, serr,
                                               sizeof serr);
    if (!s || !r) {
        optout_set_err(err, errlen, "%s", r ? "out of memory" : serr);
        goto fail;
    }
    optout_shard_line line;
    uint64_t line_no = 0;
    int got;
    while (line_no < OPTOUT_PQ_INFER_LINES && (got = optout_shard_next(r, &line, serr, sizeof serr)) == 1) {
        if (line.oversized) { /* reported with its number by the writer; not a row either way */
            if (line.last_piece) line_no++;
            continue;
        }
        line_no++;
        if (line.len == 0 || (line.len == 1 && line.data[0] == '\r')) continue;
        if (optout_pq_jschema_add(s, line.data, line.len, line_no, perr, sizeof perr) != 0) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", path, perr);
            goto fail;
        }
    }
    if (line_no < OPTOUT_PQ_INFER_LINES && got < 0) {
        optout_set_err(err, errlen, "%s", serr);
        goto fail;
    }
    optout_shard_close(r);
    return s;
fail:
    optout_shard_close(r);
    optout_pq_jschema_free(s);
    return NULL;
}

optout_docsink *optout_docsink_open(optout_docsource *src, const char *out, const char *removed,
                                    const optout_docsink_opts *opts, char *err, size_t errlen) {
    optout_docsink *k = calloc(1, sizeof *k);
    if (!k) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    k->src = src;
    k->opts = *opts;
    if (src->format == OPTOUT_DOC_JSONL && opts->parquet) {
        optout_pq_write_opts po = {.codec = opts->pq_codec, .level = opts->pq_level};
        char perr[1024];
        k->direct = 1;
        if (!(k->out_path = strdup(out)) || (removed && !(k->removed_path = strdup(removed)))) {
            optout_set_err(err, errlen, "out of memory");
            optout_docsink_abort(k);
            return NULL;
        }
        if (!(k->schema = infer_schema(src->path, opts->max_line, err, errlen))) {
            optout_docsink_abort(k);
            return NULL;
        }
        if (!(k->jw = optout_pq_jwriter_open(out, k->schema, &po, perr, sizeof perr))) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", src->path, perr);
            optout_docsink_abort(k);
            return NULL;
        }
        po.agents_column = 1;
        if (removed && !(k->jwr = optout_pq_jwriter_open(removed, k->schema, &po, perr, sizeof perr))) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", src->path, perr);
            optout_docsink_abort(k);
            return NULL;
        }
        return k;
    }
    if (src->format == OPTOUT_DOC_JSONL || opts->jsonl) {
        k->convert = src->format == OPTOUT_DOC_PARQUET;
        src->json_rows = k->convert;
        if (!(k->w = optout_shard_create(out, opts->jsonl_format, opts->level, err, errlen)) ||
            (removed && !(k->wr = optout_shard_create(removed, opts->jsonl_format, opts->level, err, errlen)))) {
            optout_docsink_abort(k);
            return NULL;
        }
        return k;
    }
    src->keep_pages = 1; /* the text is decompressed once, not twice */
    optout_pq_write_opts po = {.codec = opts->pq_codec, .level = opts->pq_level};
    k->direct = 1;
    if (!(k->out_path = strdup(out)) || (removed && !(k->removed_path = strdup(removed)))) {
        optout_set_err(err, errlen, "out of memory");
        optout_docsink_abort(k);
        return NULL;
    }
    if (!(k->pw = optout_pq_writer_open(out, src->pq, &po, err, errlen))) {
        optout_docsink_abort(k);
        return NULL;
    }
    po.agents_column = 1;
    if (removed && !(k->pwr = optout_pq_writer_open(removed, src->pq, &po, err, errlen))) {
        optout_docsink_abort(k);
        return NULL;
    }
    return k;
}

/* A removed document's line into k->wr: the object with "disallowed_user_agents" added (tags.h). */
static int write_removed(optout_docsink *k, const char *obj, size_t len, int newline, const optout_agentset *agents,
                         const char *json, size_t json_len, char *err, size_t errlen) {
    optout_agentset none;
    optout_agentset_clear(&none);
    const char *array = json;
    size_t alen = json_len;
    if (!array) {
        alen = optout_tags_agents_json(k->opts.agents, agents ? agents : &none, &k->agents_buf, &k->agents_cap);
        array = k->agents_buf;
    }
    size_t n = optout_tags_removed_line(obj, len, array, alen, &k->line_buf, &k->line_cap);
    return optout_shard_write_line(k->wr, k->line_buf, n, newline, err, errlen);
}

/* A Parquet source's batch as JSON Lines, row by row as the batch comes (optout_pq_rows: a page of
 * every column and one row held, never the row group): kept rows into out, removed ones with their
 * agents into removed, rows written nowhere passed over unrendered. */
static int convert_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *dec, char *err,
                       size_t errlen) {
    optout_docsource *src = k->src;
    if (b->first == 0) {
        optout_pq_rows_close(k->rows);
        if (!(k->rows = optout_pq_rows_open(src->pq, b->row_group, src->json_limit, err, errlen))) return -1;
    }
    if (!k->rows) {
        optout_set_err(err, errlen, "%s: row group %d: a batch from row %zu without its first", src->path, b->row_group,
                       b->first);
        return -1;
    }
    for (size_t i = 0; i < b->count; i++) {
        const char *json;
        size_t len;
        int write = dec[i].written && (!dec[i].removed || k->wr);
        if (optout_pq_rows_next(k->rows, write, &json, &len, err, errlen) != 1) {
            if (!err[0])
                optout_set_err(err, errlen, "%s: row group %d: fewer rows than its %zu", src->path, b->row_group,
                               b->group_rows);
            return -1;
        }
        int rc = !write             ? 0
                 : dec[i].removed ? write_removed(k, json, len, 1, dec[i].agents, dec[i].agents_json,
                                                  dec[i].agents_json_len, err, errlen)
                                  : optout_shard_write_line(k->w, json, len, 1, err, errlen);
        if (rc != 0) return -1;
    }
    if (b->first + b->count < b->group_rows) return 0;
    const char *json;
    size_t len;
    int rc = optout_pq_rows_next(k->rows, 0, &json, &len, err, errlen); /* every column ends here */
    optout_pq_rows_close(k->rows);
    k->rows = NULL;
    if (rc == 1)
        optout_set_err(err, errlen, "%s: row group %d: more rows than its %zu", src->path, b->row_group, b->group_rows);
    return rc == 0 ? 0 : -1;
}

static int jsonl_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *dec, char *err,
                     size_t errlen) {
    for (size_t i = 0; i < b->count; i++) {
        const optout_doc *d = &b->docs[i];
        int rc = 0;
        if (d->kind == OPTOUT_DOC_PIECE) {
            rc = optout_shard_write_line(k->w, d->raw, d->raw_len, d->last_piece && d->newline, err, errlen);
        } else if (d->kind == OPTOUT_DOC_BLANK) {
            rc = optout_shard_write_line(k->w, d->raw, d->raw_len, d->newline, err, errlen);
        } else if (!dec[i].written) {
            continue;
        } else if (dec[i].removed) {
            if (!k->wr) continue;
            rc = write_removed(k, d->raw, d->raw_len, d->newline, dec[i].agents, dec[i].agents_json,
                               dec[i].agents_json_len, err, errlen);
        } else {
            rc = optout_shard_write_line(k->w, d->raw, d->raw_len, d->newline, err, errlen);
        }
        if (rc != 0) return -1;
    }
    return 0;
}

/* One name into the arena (decoded when escaped), its offset recorded. */
static int add_name(optout_docsink *k, const char *s, size_t len, int escaped) {
    if (k->arena_len + len + 1 > k->arena_cap) {
        size_t cap = (k->arena_len + len + 1) * 2;
        char *a = realloc(k->arena, cap);
        if (!a) return -1;
        k->arena = a;
        k->arena_cap = cap;
    }
    if (k->nnames == k->off_cap) {
        size_t cap = k->off_cap ? k->off_cap * 2 : 64;
        size_t *o = realloc(k->name_off, cap * sizeof *o);
        if (!o) return -1;
        k->name_off = o;
        k->off_cap = cap;
    }
    char *o = k->arena + k->arena_len;
    size_t n = escaped ? optout_json_unescape(s, len, o) : (memcpy(o, s, len), len);
    o[n] = 0;
    k->name_off[k->nnames++] = k->arena_len;
    k->arena_len += n + 1;
    return 0;
}

/* A removed row's agent names appended (set: in the agent list's order; a JSON array, already
 * validated as an array of strings: in its order). */
static int row_names(optout_docsink *k, const optout_agentset *set, const char *json, size_t len) {
    if (!json) {
        for (size_t a = 0; set && a < optout_agents_count(k->opts.agents); a++)
            if (optout_agentset_has(set, a)) {
                const char *name = optout_agents_name(k->opts.agents, a);
                if (add_name(k, name, strlen(name), 0) != 0) return -1;
            }
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (json[i] != '"') continue;
        size_t j = ++i;
        int escaped = 0;
        while (j < len && json[j] != '"') {
            if (json[j] == '\\') escaped = 1, j++;
            j++;
        }
        if (j > len) j = len;
        if (add_name(k, json + i, j - i, escaped) != 0) return -1;
        i = j;
    }
    return 0;
}

/* The collected names as pointers (k->names[0..nnames)). */
static int place_names(optout_docsink *k) {
    if (k->nnames > k->names_cap) {
        free(k->names);
        k->names_cap = (k->names = malloc(k->nnames * sizeof *k->names)) ? k->nnames : 0;
        if (!k->names) return -1;
    }
    for (size_t i = 0; i < k->nnames; i++) k->names[i] = k->arena + k->name_off[i];
    return 0;
}

/* A JSON Lines source's documents as Parquet rows. */
static int jsonl_parquet_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *dec, char *err,
                             size_t errlen) {
    char perr[1024];
    for (size_t i = 0; i < b->count; i++) {
        const optout_doc *d = &b->docs[i];
        if (d->kind == OPTOUT_DOC_PIECE) {
            if (!d->last_piece) continue;
            k->line_no++;
            optout_set_err(err, errlen,
                           "%s: line %llu: longer than --max-line: --output-format parquet cannot make it a row",
                           k->src->path, (unsigned long long)k->line_no);
            return -1;
        }
        k->line_no++;
        if (d->kind == OPTOUT_DOC_BLANK || !dec[i].written || (dec[i].removed && !k->jwr)) continue;
        int rc;
        if (dec[i].removed) {
            k->nnames = k->arena_len = 0;
            if (row_names(k, dec[i].agents, dec[i].agents_json, dec[i].agents_json_len) != 0 || place_names(k) != 0) {
                optout_set_err(err, errlen, "out of memory");
                return -1;
            }
            optout_pq_agents ag = {.names = k->names, .n = k->nnames};
            rc = optout_pq_jwriter_row(k->jwr, d->raw, d->raw_len, k->line_no, &ag, perr, sizeof perr);
        } else {
            rc = optout_pq_jwriter_row(k->jw, d->raw, d->raw_len, k->line_no, NULL, perr, sizeof perr);
        }
        if (rc != 0) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", k->src->path, perr);
            return -1;
        }
    }
    return 0;
}

/* A Parquet row group through the filter writer: kept rows into out, removed ones with their
 * agents into removed. */
static int pq_group(optout_docsink *k, int rg, char *err, size_t errlen) {
    if (k->ngone > k->agents_rows_cap) {
        free(k->row_agents);
        k->agents_rows_cap = (k->row_agents = malloc(k->ngone * sizeof *k->row_agents)) ? k->ngone : 0;
    }
    int oom = k->agents_rows_cap < k->ngone;
    k->nnames = k->arena_len = 0;
    for (size_t g = 0; g < k->ngone && !oom; g++) {
        size_t first = k->nnames;
        oom = row_names(k, &k->gone_rows[g].set, k->gone_rows[g].json, k->gone_rows[g].json_len) != 0;
        k->row_agents[g].n = k->nnames - first;
    }
    if (oom || place_names(k) != 0) {
        optout_set_err(err, errlen, "%s: row group %d: out of memory", k->src->path, rg);
        return -1;
    }
    for (size_t g = 0, first = 0; g < k->ngone; first += k->row_agents[g++].n) /* rows' names, in order */
        k->row_agents[g].names = k->names + first;
    if (optout_pq_writer_row_group(k->pw, rg, k->keep, NULL, err, errlen) != 0) return -1;
    if (k->pwr && optout_pq_writer_row_group(k->pwr, rg, k->gone, k->row_agents, err, errlen) != 0) return -1;
    return 0;
}

/* A Parquet source's batch: converted to JSON Lines as it comes, or its decisions gathered into the
 * row group's bitmaps, the row group written as Parquet when its last batch has come. */
static int group_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *dec, char *err,
                     size_t errlen) {
    if (k->convert) return convert_put(k, b, dec, err, errlen);
    if (b->first == 0) {
        size_t bytes = b->group_rows / 8 + 1;
        if (bytes > k->bits_cap) {
            free(k->keep);
            free(k->gone);
            k->keep = malloc(bytes);
            k->gone = malloc(bytes);
            k->bits_cap = k->keep && k->gone ? bytes : 0;
            if (!k->bits_cap) {
                optout_set_err(err, errlen, "%s: row group %d: out of memory", k->src->path, b->row_group);
                return -1;
            }
        }
        memset(k->keep, 0, bytes);
        memset(k->gone, 0, bytes);
        k->ngone = 0;
    }
    for (size_t i = 0; i < b->count; i++) {
        size_t r = b->first + i;
        if (!dec[i].written) continue;
        if (!dec[i].removed) {
            k->keep[r / 8] |= (uint8_t)(1u << (r % 8));
            continue;
        }
        k->gone[r / 8] |= (uint8_t)(1u << (r % 8));
        if (k->ngone == k->gone_cap) {
            size_t cap = k->gone_cap ? k->gone_cap * 2 : 1024;
            struct gone *g = realloc(k->gone_rows, cap * sizeof *g);
            if (!g) {
                optout_set_err(err, errlen, "%s: row group %d: out of memory", k->src->path, b->row_group);
                return -1;
            }
            k->gone_rows = g;
            k->gone_cap = cap;
        }
        struct gone *g = &k->gone_rows[k->ngone++];
        if (dec[i].agents) g->set = *dec[i].agents;
        else optout_agentset_clear(&g->set);
        g->json = dec[i].agents_json;
        g->json_len = dec[i].agents_json_len;
    }
    if (b->group_rows == 0 || b->first + b->count < b->group_rows) return 0;
    return pq_group(k, b->row_group, err, errlen);
}

int optout_docsink_put(optout_docsink *k, const optout_doc_batch *b, const optout_doc_decision *d, char *err,
                       size_t errlen) {
    if (k->src->format == OPTOUT_DOC_PARQUET) return group_put(k, b, d, err, errlen);
    return k->jw ? jsonl_parquet_put(k, b, d, err, errlen) : jsonl_put(k, b, d, err, errlen);
}

static void sink_free(optout_docsink *k) {
    optout_pq_rows_close(k->rows);
    free(k->line_buf);
    free(k->agents_buf);
    free(k->out_path);
    free(k->removed_path);
    free(k->keep);
    free(k->gone);
    free(k->row_agents);
    free(k->names);
    free(k->gone_rows);
    free(k->arena);
    free(k->name_off);
    optout_pq_jschema_free(k->schema);
    free(k);
}

int optout_docsink_commit(optout_docsink *k, char *err, size_t errlen) {
    int rc = 0;
    /* removed first: the kept output is the one whose presence says "done" */
    if (k->wr) {
        rc = optout_shard_commit(k->wr, err, errlen);
        k->wr = NULL;
    }
    if (k->pwr) {
        rc = optout_pq_writer_finish(k->pwr, err, errlen);
        k->pwr = NULL;
    }
    if (rc == 0 && k->w) {
        rc = optout_shard_commit(k->w, err, errlen);
        k->w = NULL;
    }
    if (rc == 0 && k->pw) {
        rc = optout_pq_writer_finish(k->pw, err, errlen);
        k->pw = NULL;
    }
    if (rc == 0 && k->jwr) {
        rc = optout_pq_jwriter_finish(k->jwr, err, errlen);
        k->jwr = NULL;
    }
    if (rc == 0 && k->jw) {
        rc = optout_pq_jwriter_finish(k->jw, err, errlen);
        k->jw = NULL;
    }
    if (rc != 0) {
        optout_docsink_abort(k);
        return -1;
    }
    sink_free(k);
    return 0;
}

void optout_docsink_abort(optout_docsink *k) {
    if (!k) return;
    if (k->w) optout_shard_abort(k->w);
    if (k->wr) optout_shard_abort(k->wr);
    if (k->pw) optout_pq_writer_abort(k->pw);
    if (k->pwr) optout_pq_writer_abort(k->pwr);
    if (k->jw) optout_pq_jwriter_abort(k->jw);
    if (k->jwr) optout_pq_jwriter_abort(k->jwr);
    /* a Parquet writer writes its path directly: what it left is partial (or, after a failed
     * commit of the kept file, a removed file whose kept twin is missing) */
    if (k->direct) {
        if (k->out_path) unlink(k->out_path);
        if (k->removed_path) unlink(k->removed_path);
    }
    sink_free(k);
}
