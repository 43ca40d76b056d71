/* tags.c — tag lines, removed lines, and applying a tags file to a shard (include/optout/tags.h). */
#include "optout/tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_fields.h"
#include "optout/docsource.h"
#include "optout/filter.h"
#include "optout/json.h"
#include "optout/strmap.h"
#include "optout/util.h"

void optout_tags_name(const char *output_name, char *out, size_t cap) {
    size_t n = strlen(output_name);
    if (n > 4 && strcmp(output_name + n - 4, ".zst") == 0) snprintf(out, cap, "%s", output_name);
    else if (n > 3 && strcmp(output_name + n - 3, ".gz") == 0) snprintf(out, cap, "%.*s.zst", (int)(n - 3), output_name);
    else snprintf(out, cap, "%s.zst", output_name);
}

static void reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    free(*buf);
    *cap = need * 2;
    *buf = optout_malloc(*cap);
}

size_t optout_tags_agents_json(const optout_agents *agents, const optout_agentset *set, char **buf, size_t *cap) {
    size_t need = 3;
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        if (optout_agentset_has(set, a)) need += OPTOUT_JSON_STRING_MAX(strlen(optout_agents_name(agents, a))) + 1;
    reserve(buf, cap, need);
    char *o = *buf;
    size_t n = 0;
    o[n++] = '[';
    for (size_t a = 0; a < optout_agents_count(agents); a++) {
        if (!optout_agentset_has(set, a)) continue;
        if (n > 1) o[n++] = ',';
        const char *name = optout_agents_name(agents, a);
        n += optout_json_string(o + n, name, strlen(name));
    }
    o[n++] = ']';
    return n;
}

size_t optout_tags_removed_line(const char *line, size_t len, const char *array, size_t alen, char **buf,
                                size_t *cap) {
    static const char key[] = "\"disallowed_user_agents\": ";
    size_t end = len;
    while (end > 0 && optout_is_space(line[end - 1])) end--;
    size_t close = end - 1; /* the object's '}' */
    size_t k = close;
    while (k > 0 && optout_is_space(line[k - 1])) k--;
    int empty_object = k > 0 && line[k - 1] == '{';
    reserve(buf, cap, len + alen + sizeof key + 2);
    char *o = *buf;
    size_t n = close;
    memcpy(o, line, close);
    if (!empty_object) o[n++] = ',', o[n++] = ' ';
    memcpy(o + n, key, sizeof key - 1);
    n += sizeof key - 1;
    memcpy(o + n, array, alen);
    n += alen;
    memcpy(o + n, line + close, len - close);
    return n + len - close;
}

size_t optout_tags_line(const optout_json_value *id, uint64_t line_no, const char *array, size_t alen, char **buf,
                        size_t *cap) {
    int by_id = id->present && !(id->len == 4 && !id->is_string && memcmp(id->s, "null", 4) == 0);
    reserve(buf, cap, (by_id ? OPTOUT_JSON_STRING_MAX(id->len) : 20) + alen + 64);
    char *o = *buf;
    size_t n;
    if (by_id) {
        memcpy(o, "{\"id\": ", 7);
        n = 7;
        if (!id->is_string) {
            memcpy(o + n, id->s, id->len);
            n += id->len;
        } else if (!id->has_escapes) { /* Parquet's bytes, or JSON Lines' without escapes */
            n += optout_json_string(o + n, id->s, id->len);
        } else { /* decoded first: one rendering whatever the input's escapes */
            char *d = optout_malloc(id->len);
            n += optout_json_string(o + n, d, optout_json_unescape(id->s, id->len, d));
            free(d);
        }
    } else {
        n = (size_t)sprintf(o, "{\"line\": %llu", (unsigned long long)line_no);
    }
    memcpy(o + n, ", \"disallowed_user_agents\": ", 28);
    n += 28;
    memcpy(o + n, array, alen);
    n += alen;
    o[n++] = '}';
    return n;
}

/* ---- applying ------------------------------------------------------------------------------ */

struct tag {
    uint32_t expected, matched; /* tags written for this key; documents it removed */
    uint64_t first_line;        /* of the tags file, for messages */
    size_t alen;
    char array[];
};

/* The set key of an id value: 's' + the decoded string with every byte that is not part of valid
 * UTF-8 as U+FFFD (a tag's id was written by json.h, which writes such a byte as \ufffd), or 'r' +
 * the token's text; of a line number: 'l' + its decimal digits. */
static size_t id_key(const optout_json_value *v, char **buf, size_t *cap) {
    if (!v->is_string) {
        reserve(buf, cap, v->len + 2);
        (*buf)[0] = 'r';
        memcpy(*buf + 1, v->s, v->len);
        return 1 + v->len;
    }
    reserve(buf, cap, 4 * v->len + 2);
    char *k = *buf;
    /* decoded behind the room its key may need (an invalid byte grows to 3), then moved forward */
    char *d = k + 3 * v->len + 1;
    size_t n = v->has_escapes ? optout_json_unescape(v->s, v->len, d) : (memcpy(d, v->s, v->len), v->len);
    size_t o = 1;
    k[0] = 's';
    for (size_t i = 0; i < n;) {
        size_t l = optout_utf8_sequence_len((const unsigned char *)d + i, n - i);
        if (l) {
            memmove(k + o, d + i, l);
            o += l, i += l;
        } else {
            memcpy(k + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    return o;
}

static size_t line_key(uint64_t line_no, char *k) {
    return (size_t)sprintf(k, "l%llu", (unsigned long long)line_no);
}

static int is_null(const optout_json_value *v) {
    return v->present && !v->is_string && v->len == 4 && memcmp(v->s, "null", 4) == 0;
}

/* 1 when the token is a JSON array of strings (empty for a document of --remove-hosts). */
static int string_array(const char *s, size_t n) {
    size_t i = 0, items = 0;
    if (n < 2 || s[0] != '[') return 0;
    i = 1;
    for (;;) {
        while (i < n && optout_is_space(s[i])) i++;
        if (i >= n) return 0;
        if (s[i] == ']' && items == 0) return i == n - 1;
        if (s[i] != '"') return 0;
        for (i++; i < n && s[i] != '"'; i++)
            if (s[i] == '\\') i++;
        if (i >= n) return 0;
        i++, items++;
        while (i < n && optout_is_space(s[i])) i++;
        if (i >= n) return 0;
        if (s[i] == ']') return i == n - 1;
        if (s[i] != ',') return 0;
        i++;
    }
}

struct tagset {
    optout_strmap *map;
    uint64_t count, line_tags;
};

static int load_tags(const char *path, size_t max_line, struct tagset *set, char *err, size_t errlen) {
    static const char *const paths[] = {"id", "line", "disallowed_user_agents"};
    char serr[OPTOUT_SHARD_ERR_LEN];
    optout_json_fields *fields = optout_json_fields_new(paths, 3);
    optout_shard_reader *r = optout_shard_open(path, max_line, serr, sizeof serr);
    char *kbuf = NULL;
    size_t kcap = 0;
    uint64_t line_no = 0;
    int rc = -1, got;
    optout_shard_line line;
    if (!fields || !r) {
        optout_set_err(err, errlen, "%s", r ? "out of memory" : serr);
        goto out;
    }
    while ((got = optout_shard_next(r, &line, serr, sizeof serr)) == 1) {
        if (line.oversized) {
            optout_set_err(err, errlen, "%s: line %llu: longer than %zu bytes", path, (unsigned long long)line_no + 1,
                           max_line);
            goto out;
        }
        line_no++;
        if (line.len == 0 || (line.len == 1 && line.data[0] == '\r')) continue;
        optout_json_value v[3];
        const char *problem = NULL;
        if (optout_json_extract(fields, line.data, line.len, v) != 0) problem = "not one JSON object";
        else if (!v[2].present || v[2].is_string || !string_array(v[2].s, v[2].len))
            problem = "\"disallowed_user_agents\" is not an array of strings";
        else if ((v[0].present && !is_null(&v[0])) == (v[1].present && !is_null(&v[1])))
            problem = "a tag needs exactly one of \"id\" (not null) and \"line\"";
        size_t klen = 0;
        if (!problem && v[1].present && !is_null(&v[1])) {
            uint64_t n = 0;
            int ok = !v[1].is_string && v[1].len > 0 && v[1].len < 19;
            for (size_t i = 0; ok && i < v[1].len; i++)
                if (v[1].s[i] < '0' || v[1].s[i] > '9') ok = 0;
                else n = n * 10 + (uint64_t)(v[1].s[i] - '0');
            if (!ok || n == 0) problem = "\"line\" is not a positive integer";
            else {
                reserve(&kbuf, &kcap, 24);
                klen = line_key(n, kbuf);
                set->line_tags++;
            }
        } else if (!problem) {
            klen = id_key(&v[0], &kbuf, &kcap);
        }
        if (problem) {
            optout_set_err(err, errlen, "%s: line %llu: %s", path, (unsigned long long)line_no, problem);
            goto out;
        }
        set->count++;
        struct tag *t = optout_strmap_get(set->map, kbuf, klen);
        if (t) { /* the same id tagged again: that many documents carry it */
            t->expected++;
            continue;
        }
        if (!(t = malloc(sizeof *t + v[2].len))) {
            optout_set_err(err, errlen, "out of memory reading %s", path);
            goto out;
        }
        *t = (struct tag){.expected = 1, .first_line = line_no, .alen = v[2].len};
        memcpy(t->array, v[2].s, v[2].len);
        if (optout_strmap_put(set->map, kbuf, klen, t, NULL) != 0) {
            free(t);
            optout_set_err(err, errlen, "out of memory reading %s", path);
            goto out;
        }
    }
    if (got < 0) {
        optout_set_err(err, errlen, "%s (reading line %llu)", serr, (unsigned long long)line_no + 1);
        goto out;
    }
    rc = 0;
out:
    free(kbuf);
    optout_shard_close(r);
    optout_json_fields_free(fields);
    return rc;
}

struct unmatched {
    uint64_t count, first_line;
};

static int find_unmatched(const char *key, size_t len, void *value, void *arg) {
    (void)key, (void)len;
    const struct tag *t = value;
    struct unmatched *u = arg;
    if (t->matched < t->expected) {
        u->count += t->expected - t->matched;
        if (!u->first_line || t->first_line < u->first_line) u->first_line = t->first_line;
    }
    return 0;
}

/* The tag of document d (line_no: its line or row), or NULL. */
static struct tag *tag_of(struct tagset *set, const optout_json_value *v, uint64_t line_no, char **kbuf,
                          size_t *kcap) {
    struct tag *t = NULL;
    const optout_json_value *id = v[0].present ? &v[0] : &v[1];
    if (id->present && !is_null(id)) t = optout_strmap_get(set->map, *kbuf, id_key(id, kbuf, kcap));
    if (!t && set->line_tags) {
        reserve(kbuf, kcap, 24);
        t = optout_strmap_get(set->map, *kbuf, line_key(line_no, *kbuf));
    }
    return t;
}

static int check_unmatched(struct tagset *set, const char *tags, const char *in, char *err, size_t errlen);

/* Applying through docsource.h: the filter's reader and writers (Parquet, or a conversion). */
static int apply_docs(const optout_apply_config *cfg, struct tagset *set, const char *tags, const char *in,
                      const char *out, optout_shard_format format, const char *removed, optout_apply_stats *st,
                      char *err, size_t errlen) {
    optout_docsource_opts so = {.max_line = cfg->max_line, .need = 1u << F_ID | 1u << F_META_ID};
    optout_docsink_opts ko = {.jsonl_format = format, .level = cfg->level, .jsonl = cfg->output_format == 1,
                              .parquet = cfg->output_format == 2, .max_line = cfg->max_line};
    optout_filter_config fc = {.parquet_compression = cfg->parquet_compression, .parquet_level = cfg->level};
    optout_docsource *src = NULL;
    optout_docsink *sink = NULL;
    optout_doc_decision *dec = NULL;
    size_t dec_cap = 0;
    char *kbuf = NULL;
    size_t kcap = 0;
    int rc = -1, got;
    if (!(src = optout_docsource_open(in, &so, err, errlen))) goto out;
    int pq_out = optout_docsource_format(src) == OPTOUT_DOC_PARQUET ? !ko.jsonl : ko.parquet;
    if (pq_out && optout_filter_parquet_codec(&fc, &ko.pq_codec, &ko.pq_level, err, errlen) != 0) goto out;
    if (!(sink = optout_docsink_open(src, out, removed, &ko, err, errlen))) goto out;
    optout_doc_batch b;
    while ((got = optout_docsource_next(src, &b, err, errlen)) == 1) {
        if (b.count > dec_cap) {
            free(dec);
            dec_cap = (dec = malloc(b.count * sizeof *dec)) ? b.count : 0;
            if (!dec) {
                optout_set_err(err, errlen, "out of memory applying tags to %s", in);
                goto out;
            }
        }
        for (size_t i = 0; i < b.count; i++) {
            const optout_doc *d = &b.docs[i];
            dec[i] = (optout_doc_decision){.written = 1};
            if (d->kind == OPTOUT_DOC_PIECE && !d->last_piece) continue;
            st->lines++;
            if (d->kind == OPTOUT_DOC_BLANK) continue;
            st->docs_in++;
            if (d->kind != OPTOUT_DOC_OK || !set->count) continue;
            const optout_json_value v[2] = {d->v[F_ID], d->v[F_META_ID]};
            struct tag *t = tag_of(set, v, st->lines, &kbuf, &kcap);
            if (!t) continue;
            if (++t->matched > t->expected) st->duplicate_matches++;
            st->docs_removed++;
            dec[i].removed = 1;
            dec[i].agents_json = t->array;
            dec[i].agents_json_len = t->alen;
        }
        if (optout_docsink_put(sink, &b, dec, err, errlen) != 0) goto out;
    }
    if (got < 0 || check_unmatched(set, tags, in, err, errlen) != 0) goto out;
    rc = optout_docsink_commit(sink, err, errlen);
    sink = NULL;
out:
    if (sink) optout_docsink_abort(sink);
    optout_docsource_close(src);
    free(dec);
    free(kbuf);
    return rc;
}

static int check_unmatched(struct tagset *set, const char *tags, const char *in, char *err, size_t errlen) {
    struct unmatched u = {0};
    optout_strmap_each(set->map, find_unmatched, &u);
    if (!u.count) return 0;
    optout_set_err(err, errlen,
                   "%s: %llu tag%s match%s no document of %s (the first at line %llu): not this shard's "
                   "tags, or the shard changed since",
                   tags, (unsigned long long)u.count, u.count == 1 ? "" : "s", u.count == 1 ? "es" : "", in,
                   (unsigned long long)u.first_line);
    return -1;
}

int optout_apply_tags(const optout_apply_config *cfg, const char *tags, const char *in, const char *out,
                      optout_shard_format format, const char *removed, optout_apply_stats *stats, char *err,
                      size_t errlen) {
    static const char *const paths[] = {"id", "metadata.id"};
    char serr[OPTOUT_SHARD_ERR_LEN];
    size_t max_line = cfg->max_line ? cfg->max_line : OPTOUT_SHARD_MAX_LINE_DEFAULT;
    struct tagset set = {.map = optout_strmap_new()};
    optout_json_fields *fields = optout_json_fields_new(paths, 2);
    optout_shard_reader *r = NULL;
    optout_shard_writer *w = NULL, *wr = NULL;
    char *kbuf = NULL, *obuf = NULL;
    size_t kcap = 0, ocap = 0;
    uint64_t line_no = 0;
    optout_apply_stats st = {0};
    int rc = -1, got;
    if (!set.map || !fields) {
        optout_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (load_tags(tags, max_line, &set, err, errlen) != 0) goto out;
    st.tags = set.count;
    int pq = optout_docsource_is_parquet(in, err, errlen);
    if (pq < 0) goto out;
    if (pq || cfg->output_format == 2) {
        if (apply_docs(cfg, &set, tags, in, out, format, removed, &st, err, errlen) != 0) goto out;
        goto counted;
    }
    if (!(r = optout_shard_open(in, max_line, serr, sizeof serr)) || !(w = optout_shard_create(out, format, cfg->level, serr, sizeof serr)) ||
        (removed && !(wr = optout_shard_create(removed, format, cfg->level, serr, sizeof serr)))) {
        optout_set_err(err, errlen, "%s", serr);
        goto out;
    }
    optout_shard_line line;
    while ((got = optout_shard_next(r, &line, serr, sizeof serr)) == 1) {
        int keep = 1;
        struct tag *t = NULL;
        if (line.oversized) { /* never decided, never removed: passed through as the filter does */
            if (line.last_piece) line_no++, st.docs_in++;
        } else {
            line_no++;
            if (!(line.len == 0 || (line.len == 1 && line.data[0] == '\r'))) {
                st.docs_in++;
                optout_json_value v[2];
                if (set.count && optout_json_extract(fields, line.data, line.len, v) == 0)
                    t = tag_of(&set, v, line_no, &kbuf, &kcap);
            }
        }
        if (t) {
            keep = 0;
            if (++t->matched > t->expected) st.duplicate_matches++;
            st.docs_removed++;
            if (wr) {
                size_t n = optout_tags_removed_line(line.data, line.len, t->array, t->alen, &obuf, &ocap);
                if (optout_shard_write_line(wr, obuf, n, line.newline, serr, sizeof serr) != 0) {
                    optout_set_err(err, errlen, "%s", serr);
                    goto out;
                }
            }
        }
        if (keep && optout_shard_write_line(w, line.data, line.len,
                                            line.oversized ? line.last_piece && line.newline : line.newline, serr, sizeof serr) != 0) {
            optout_set_err(err, errlen, "%s", serr);
            goto out;
        }
    }
    if (got < 0) {
        optout_set_err(err, errlen, "%s", serr);
        goto out;
    }
    if (check_unmatched(&set, tags, in, err, errlen) != 0) goto out;
    if (wr) {
        int crc = optout_shard_commit(wr, serr, sizeof serr);
        wr = NULL;
        if (crc != 0) {
            optout_set_err(err, errlen, "%s", serr);
            goto out;
        }
    }
    int crc = optout_shard_commit(w, serr, sizeof serr);
    w = NULL;
    if (crc != 0) {
        optout_set_err(err, errlen, "%s", serr);
        goto out;
    }
    st.lines = line_no;
counted:
    stats->tags += st.tags;
    stats->lines += st.lines;
    stats->docs_in += st.docs_in;
    stats->docs_removed += st.docs_removed;
    stats->duplicate_matches += st.duplicate_matches;
    rc = 0;
out:
    if (w) optout_shard_abort(w);
    if (wr) optout_shard_abort(wr);
    optout_shard_close(r);
    optout_json_fields_free(fields);
    optout_strmap_free(set.map, free);
    free(kbuf);
    free(obuf);
    return rc;
}
