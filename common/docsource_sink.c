/* docsource_sink.c — the JSON Lines and Parquet writers behind docsource.h's sink: JSON Lines lines
 * copied (removed ones with their agents, tags.h), Parquet rows through the filter writer with a
 * keep bitmap per row group, and the two conversions (Parquet rows rendered as JSON Lines as their
 * batches come; JSON Lines lines as Parquet rows of a schema inferred from the first lines).
 */
#include "optout/docsource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docsource_internal.h"
#include "optout/parquet.h"
#include "optout/tags.h"
#include "optout/util.h"

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
    int convert;          /* Parquet source, JSON Lines outputs */
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
    optout_shard_reader *r =
        optout_shard_open(path, max_line ? max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT, serr, sizeof serr);
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
    if (optout_docsource_format(src) == OPTOUT_DOC_JSONL && opts->parquet) {
        optout_pq_write_opts po = {.codec = opts->pq_codec, .level = opts->pq_level};
        char perr[1024];
        k->direct = 1;
        if (!(k->out_path = strdup(out)) || (removed && !(k->removed_path = strdup(removed)))) {
            optout_set_err(err, errlen, "out of memory");
            optout_docsink_abort(k);
            return NULL;
        }
        if (!(k->schema = infer_schema(optout_docsource_path(src), opts->max_line, err, errlen))) {
            optout_docsink_abort(k);
            return NULL;
        }
        if (!(k->jw = optout_pq_jwriter_open(out, k->schema, &po, perr, sizeof perr))) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", optout_docsource_path(src), perr);
            optout_docsink_abort(k);
            return NULL;
        }
        po.agents_column = 1;
        if (removed && !(k->jwr = optout_pq_jwriter_open(removed, k->schema, &po, perr, sizeof perr))) {
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", optout_docsource_path(src), perr);
            optout_docsink_abort(k);
            return NULL;
        }
        return k;
    }
    if (optout_docsource_format(src) == OPTOUT_DOC_JSONL || opts->jsonl) {
        k->convert = optout_docsource_format(src) == OPTOUT_DOC_PARQUET;
        if (k->convert) optout_docsource_json_rows(src);
        if (!(k->w = optout_shard_create(out, opts->jsonl_format, opts->level, err, errlen)) ||
            (removed && !(k->wr = optout_shard_create(removed, opts->jsonl_format, opts->level, err, errlen)))) {
            optout_docsink_abort(k);
            return NULL;
        }
        return k;
    }
    optout_docsource_keep_pages(src); /* the text is decompressed once, not twice */
    optout_pq_write_opts po = {.codec = opts->pq_codec, .level = opts->pq_level};
    k->direct = 1;
    if (!(k->out_path = strdup(out)) || (removed && !(k->removed_path = strdup(removed)))) {
        optout_set_err(err, errlen, "out of memory");
        optout_docsink_abort(k);
        return NULL;
    }
    if (!(k->pw = optout_pq_writer_open(out, optout_docsource_pq(src), &po, err, errlen))) {
        optout_docsink_abort(k);
        return NULL;
    }
    po.agents_column = 1;
    if (removed && !(k->pwr = optout_pq_writer_open(removed, optout_docsource_pq(src), &po, err, errlen))) {
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
        if (!(k->rows = optout_pq_rows_open(optout_docsource_pq(src), b->row_group, optout_docsource_json_limit(src),
                                            err, errlen)))
            return -1;
    }
    if (!k->rows) {
        optout_set_err(err, errlen, "%s: row group %d: a batch from row %zu without its first",
                       optout_docsource_path(src), b->row_group, b->first);
        return -1;
    }
    for (size_t i = 0; i < b->count; i++) {
        const char *json;
        size_t len;
        int write = dec[i].written && (!dec[i].removed || k->wr);
        int got = optout_pq_rows_next(k->rows, write, &json, &len, err, errlen);
        if (got == 0)
            optout_set_err(err, errlen, "%s: row group %d: fewer rows than its %zu", optout_docsource_path(src),
                           b->row_group, b->group_rows);
        if (got != 1) return -1;
        int rc = !write           ? 0
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
        optout_set_err(err, errlen, "%s: row group %d: more rows than its %zu", optout_docsource_path(src),
                       b->row_group, b->group_rows);
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
                           optout_docsource_path(k->src), (unsigned long long)k->line_no);
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
            optout_set_err(err, errlen, "%s: --output-format parquet: %s", optout_docsource_path(k->src), perr);
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
        optout_set_err(err, errlen, "%s: row group %d: out of memory", optout_docsource_path(k->src), rg);
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
                optout_set_err(err, errlen, "%s: row group %d: out of memory", optout_docsource_path(k->src),
                               b->row_group);
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
                optout_set_err(err, errlen, "%s: row group %d: out of memory", optout_docsource_path(k->src),
                               b->row_group);
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
    if (optout_docsource_format(k->src) == OPTOUT_DOC_PARQUET) return group_put(k, b, d, err, errlen);
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
