/* docsource.c — the JSON Lines and Parquet readers behind docsource.h's source (the writers are
 * docsource_sink.c's).
 *
 * JSON Lines: shard.c reads lines, jsonl.c extracts the fields; lines are copied into a batch only
 * when the caller asks for more than one per batch (prefetching verdict sources). Parquet: the
 * format library (parquet.h) reads the projected columns of one row group; values are rendered in
 * jsonl.h's raw convention so that every consumer reads both formats with the same code.
 */
#include "optout/docsource.h"

#include "docsource_internal.h"

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
optout_pq_file *optout_docsource_pq(const optout_docsource *s) { return s->pq; }
void optout_docsource_keep_pages(optout_docsource *s) { s->keep_pages = 1; }
void optout_docsource_json_rows(optout_docsource *s) { s->json_rows = 1; }
uint64_t optout_docsource_json_limit(const optout_docsource *s) { return s->json_limit; }

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

static int over_budget(optout_docsource *s, size_t rows, const char *how, uint64_t bytes, char *err, size_t errlen) {
    char a[32], b[32];
    optout_set_err(err, errlen,
                   "%s: row group %d (%zu rows) %s %s to be decided (its projected columns, the text's sizes), more "
                   "than the %s the memory budget leaves a Parquet shard (what a worker's --max-memory leaves a slot): "
                   "write smaller row groups, or give more memory",
                   s->path, s->rg, rows, how, optout_pq_size_text(bytes, a, sizeof a),
                   optout_pq_size_text(s->opts.max_memory, b, sizeof b));
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
