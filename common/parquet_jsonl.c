/* parquet_jsonl.c — JSON Lines rows written as Parquet (parquet.h "JSON Lines to Parquet"): a schema
 * inferred from lines as pyarrow's and DuckDB's JSON readers infer one, and rows shredded into that
 * schema's leaf columns (Dremel levels) for parquet_write.c to write a row group at a time.
 *
 * Each line is parsed into a small tree (nodes in one array, reused from line to line): kept lines
 * of JSON Lines are never re-serialised, but a Parquet row needs every value, so here, and only
 * here, a document is parsed whole. */
#include "parquet_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/jsonl.h"
#include "optout/parquet.h"
#include "optout/util.h"

#define AGENTS_COLUMN "disallowed_user_agents"

/* ---- a JSON line as a tree ------------------------------------------------------------------- */

enum { JV_NULL, JV_BOOL, JV_INT, JV_DOUBLE, JV_STRING, JV_OBJECT, JV_ARRAY };

typedef struct {
    uint8_t type, escapes;
    uint32_t first, next, count; /* children (node indices; 0: none: the root is node 0) */
    const char *s;               /* a string's raw bytes (escapes not decoded); an object member's key */
    size_t len;
    const char *key; /* as a member: its key, decoded */
    size_t klen;
    int64_t i; /* JV_INT; JV_BOOL 0/1 */
    double d;  /* JV_DOUBLE */
} jnode;

typedef struct {
    jnode *n;
    uint32_t count, cap;
    char *keys; /* decoded keys with escapes (never longer than the line) */
    size_t keys_len, keys_cap;
    const char *p, *end;
    const char *what; /* why the line does not parse */
} jparser;

static void skip_ws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int new_node(jparser *j, uint8_t type) {
    if (j->count == j->cap) {
        uint32_t cap = j->cap ? j->cap * 2 : 256;
        jnode *n = realloc(j->n, cap * sizeof *n);
        if (!n) {
            j->what = "out of memory";
            return -1;
        }
        j->n = n;
        j->cap = cap;
    }
    j->n[j->count] = (jnode){.type = type};
    return (int)j->count++;
}

/* A string at j->p (the opening quote): its raw bytes. */
static int parse_string(jparser *j, const char **s, size_t *len, uint8_t *escapes) {
    const char *p = ++j->p;
    *escapes = 0;
    while (p < j->end && *p != '"') {
        if ((unsigned char)*p < 0x20) {
            j->what = "a control character in a string";
            return -1;
        }
        if (*p == '\\') {
            *escapes = 1;
            if (++p >= j->end || !strchr("\"\\/bfnrtu", *p)) {
                j->what = "a bad escape in a string";
                return -1;
            }
            if (*p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (p + k >= j->end || !strchr("0123456789abcdefABCDEF", p[k]) || !p[k]) {
                        j->what = "a bad \\u escape in a string";
                        return -1;
                    }
                p += 4;
            }
        }
        p++;
    }
    if (p >= j->end) {
        j->what = "an unterminated string";
        return -1;
    }
    *s = j->p;
    *len = (size_t)(p - j->p);
    j->p = p + 1;
    return 0;
}

static int parse_number(jparser *j, jnode *n) {
    const char *p = j->p, *start = p;
    int integral = 1;
    if (p < j->end && *p == '-') p++;
    if (p >= j->end || *p < '0' || *p > '9') goto bad;
    if (*p == '0') p++;
    else
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    if (p < j->end && *p == '.') {
        integral = 0;
        if (++p >= j->end || *p < '0' || *p > '9') goto bad;
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        integral = 0;
        if (++p < j->end && (*p == '+' || *p == '-')) p++;
        if (p >= j->end || *p < '0' || *p > '9') goto bad;
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    size_t len = (size_t)(p - start);
    char small[64], *text = len < sizeof small ? small : malloc(len + 1);
    if (!text) {
        j->what = "out of memory";
        return -1;
    }
    memcpy(text, start, len);
    text[len] = 0;
    n->s = start;
    n->len = len;
    errno = 0;
    if (integral) {
        long long v = strtoll(text, NULL, 10);
        if (errno == 0) {
            n->type = JV_INT;
            n->i = v;
        } else { /* beyond 64 bits: a double, as pyarrow and DuckDB read it */
            integral = 0;
        }
    }
    if (!integral) {
        n->type = JV_DOUBLE;
        n->d = strtod(text, NULL);
    }
    if (text != small) free(text);
    j->p = p;
    return 0;
bad:
    j->what = "a malformed number";
    return -1;
}

static int parse_value(jparser *j, int depth);

/* The members or elements of an object or array at j->p. */
static int parse_container(jparser *j, int node, int depth) {
    int object = *j->p == '{';
    char close = object ? '}' : ']';
    j->p++;
    skip_ws(j);
    uint32_t last = 0;
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        uint8_t kesc = 0;
        if (object) {
            if (j->p >= j->end || *j->p != '"' || parse_string(j, &key, &klen, &kesc) != 0) {
                if (!j->what) j->what = "an object member without a key";
                return -1;
            }
            skip_ws(j);
            if (j->p >= j->end || *j->p++ != ':') {
                j->what = "a member without ':'";
                return -1;
            }
        }
        int child = parse_value(j, depth + 1);
        if (child < 0) return -1;
        if (object) {
            if (kesc) { /* decoded into the key arena: never longer than the raw key */
                char *k = j->keys + j->keys_len;
                klen = optout_json_unescape(key, klen, k);
                key = k;
                j->keys_len += klen;
            }
            j->n[child].key = key;
            j->n[child].klen = klen;
        }
        if (last) j->n[last].next = (uint32_t)child;
        else j->n[node].first = (uint32_t)child;
        last = (uint32_t)child;
        j->n[node].count++;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        j->what = object ? "an object without '}'" : "an array without ']'";
        return -1;
    }
}

static int parse_value(jparser *j, int depth) {
    skip_ws(j);
    if (depth > OPTOUT_JSON_MAX_DEPTH) {
        j->what = "nested too deep";
        return -1;
    }
    if (j->p >= j->end) {
        j->what = "a value is missing";
        return -1;
    }
    int node = new_node(j, JV_NULL);
    if (node < 0) return -1;
    char c = *j->p;
    static const struct {
        const char *word;
        uint8_t type;
        int64_t i;
    } lits[] = {{"null", JV_NULL, 0}, {"true", JV_BOOL, 1}, {"false", JV_BOOL, 0}};
    for (size_t k = 0; k < 3; k++)
        if (c == lits[k].word[0]) {
            size_t n = strlen(lits[k].word);
            if ((size_t)(j->end - j->p) < n || memcmp(j->p, lits[k].word, n) != 0) break;
            j->n[node].type = lits[k].type;
            j->n[node].i = lits[k].i;
            j->p += n;
            return node;
        }
    if (c == '"') {
        jnode *n = &j->n[node];
        n->type = JV_STRING;
        return parse_string(j, &n->s, &n->len, &n->escapes) == 0 ? node : -1;
    }
    if (c == '{' || c == '[') {
        j->n[node].type = c == '{' ? JV_OBJECT : JV_ARRAY;
        return parse_container(j, node, depth) == 0 ? node : -1;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(j, &j->n[node]) == 0 ? node : -1;
    j->what = "not a JSON value";
    return -1;
}

/* Parses a line that must be one JSON object: 0 (the object is node 0), or -1 with j->what. */
static int parse_line(jparser *j, const char *line, size_t len) {
    j->count = 0;
    j->keys_len = 0;
    j->what = NULL;
    if (len > j->keys_cap) {
        free(j->keys);
        j->keys_cap = (j->keys = malloc(len)) ? len : 0;
        if (!j->keys) {
            j->what = "out of memory";
            return -1;
        }
    }
    j->p = line;
    j->end = line + len;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{') {
        j->what = "not one JSON object";
        return -1;
    }
    if (parse_value(j, 0) != 0) return -1;
    skip_ws(j);
    if (j->p != j->end) {
        j->what = "more after the object";
        return -1;
    }
    return 0;
}

static void parser_free(jparser *j) {
    free(j->n);
    free(j->keys);
}

/* ---- the inferred schema --------------------------------------------------------------------- */

/* Field kinds; K_NULL only while inferring (a field seen only as null becomes a string). */
enum { K_NULL, K_BOOL, K_INT, K_DOUBLE, K_STRING, K_STRUCT, K_LIST };

static const char *kind_name(int k) {
    static const char *const names[] = {"null", "boolean", "integer", "double", "string", "object", "array"};
    return names[k];
}

static int kind_of_value(int jv) {
    switch (jv) {
    case JV_BOOL: return K_BOOL;
    case JV_INT: return K_INT;
    case JV_DOUBLE: return K_DOUBLE;
    case JV_STRING: return K_STRING;
    case JV_OBJECT: return K_STRUCT;
    case JV_ARRAY: return K_LIST;
    default: return K_NULL;
    }
}

typedef struct jfield {
    char *name;
    int kind;
    struct jfield **kids; /* a struct's fields in order of first appearance; a list's one element */
    size_t nkids, cap;
    int leaf_first, nleaves; /* the leaf columns below, in schema order */
    char *path;              /* dotted, for messages */
} jfield;

struct optout_pq_jschema {
    jfield root; /* K_STRUCT */
    jparser p;
    int finished;
    int nleaves;
    pq_buf elems; /* the encoded SchemaElements below the root (finished) */
    uint32_t nelems;
    pq_colbuf *leaf_proto; /* per leaf: path, type, levels' maxima */
};

static void field_free(jfield *f) {
    for (size_t i = 0; i < f->nkids; i++) {
        field_free(f->kids[i]);
        free(f->kids[i]);
    }
    free(f->kids);
    free(f->name);
    free(f->path);
}

static jfield *add_kid(jfield *f, const char *name, size_t len) {
    if (f->nkids == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        jfield **k = realloc(f->kids, cap * sizeof *k);
        if (!k) return NULL;
        f->kids = k;
        f->cap = cap;
    }
    jfield *c = calloc(1, sizeof *c);
    if (!c || !(c->name = malloc(len + 1))) {
        free(c);
        return NULL;
    }
    memcpy(c->name, name, len);
    c->name[len] = 0;
    size_t plen = (f->path ? strlen(f->path) + 1 : 0) + len + 1;
    if (!(c->path = malloc(plen))) {
        free(c->name);
        free(c);
        return NULL;
    }
    snprintf(c->path, plen, "%s%s%s", f->path ? f->path : "", f->path ? "." : "", c->name);
    f->kids[f->nkids++] = c;
    return c;
}

static jfield *find_kid(const jfield *f, const char *name, size_t len) {
    for (size_t i = 0; i < f->nkids; i++)
        if (strlen(f->kids[i]->name) == len && memcmp(f->kids[i]->name, name, len) == 0) return f->kids[i];
    return NULL;
}

optout_pq_jschema *optout_pq_jschema_new(void) {
    optout_pq_jschema *s = calloc(1, sizeof *s);
    if (s) s->root.kind = K_STRUCT;
    return s;
}

void optout_pq_jschema_free(optout_pq_jschema *s) {
    if (!s) return;
    field_free(&s->root);
    parser_free(&s->p);
    pq_buf_free(&s->elems);
    free(s->leaf_proto);
    free(s);
}

/* Merges value node v of parser j into field f. */
static int merge(jparser *j, jfield *f, uint32_t v, uint64_t line_no, char *err, size_t errlen) {
    const jnode *n = &j->n[v];
    int k = kind_of_value(n->type);
    if (k == K_NULL) return 0;
    if (f->kind == K_NULL) {
        f->kind = k;
    } else if (f->kind != k) {
        if ((f->kind == K_INT && k == K_DOUBLE) || (f->kind == K_DOUBLE && k == K_INT)) {
            f->kind = K_DOUBLE; /* integers and fractions together: double, as pyarrow and DuckDB infer */
        } else {
            optout_set_err(err, errlen, "line %" PRIu64 ": field %s is %s %s where earlier lines have %s %s", line_no,
                           f->path, k == K_INT || k == K_STRUCT || k == K_LIST ? "an" : "a", kind_name(k),
                           f->kind == K_INT || f->kind == K_STRUCT || f->kind == K_LIST ? "an" : "a",
                           kind_name(f->kind));
            return -1;
        }
    }
    if (k == K_STRUCT) {
        for (uint32_t c = n->first, i = 0; i < n->count; c = j->n[c].next, i++) {
            const jnode *m = &j->n[c];
            jfield *kid = find_kid(f, m->key, m->klen);
            if (!kid && !(kid = add_kid(f, m->key, m->klen))) {
                optout_set_err(err, errlen, "out of memory");
                return -1;
            }
            if (merge(j, kid, c, line_no, err, errlen) != 0) return -1;
        }
    } else if (k == K_LIST) {
        if (!f->nkids && !add_kid(f, "element", 7)) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        for (uint32_t c = n->first, i = 0; i < n->count; c = j->n[c].next, i++) {
            int ek = kind_of_value(j->n[c].type);
            if (ek == K_STRUCT || ek == K_LIST) {
                optout_set_err(err, errlen,
                               "line %" PRIu64 ": field %s is an array of %ss: only arrays of strings, numbers and "
                               "booleans become Parquet lists",
                               line_no, f->path, ek == K_STRUCT ? "object" : "array");
                return -1;
            }
            if (merge(j, f->kids[0], c, line_no, err, errlen) != 0) return -1;
        }
    }
    return 0;
}

int optout_pq_jschema_add(optout_pq_jschema *s, const char *line, size_t len, uint64_t line_no, char *err,
                          size_t errlen) {
    if (parse_line(&s->p, line, len) != 0) {
        optout_set_err(err, errlen, "line %" PRIu64 ": %s: a Parquet row must be one JSON object", line_no, s->p.what);
        return -1;
    }
    return merge(&s->p, &s->root, 0, line_no, err, errlen);
}

/* ---- the schema's elements and leaves ---------------------------------------------------------- */

static int physical(int kind) {
    return kind == K_BOOL ? PQ_BOOLEAN : kind == K_INT ? PQ_INT64 : kind == K_DOUBLE ? PQ_DOUBLE : PQ_BYTE_ARRAY;
}

struct build {
    optout_pq_jschema *s;
    pq_colbuf *leaves;
    int nleaves, cap;
    const char *path[PQ_COLBUF_DEPTH];
    int depth;
};

static int add_leaf(struct build *b, int type, int max_def, int max_rep) {
    if (b->nleaves == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        pq_colbuf *l = realloc(b->leaves, (size_t)cap * sizeof *l);
        if (!l) return -1;
        b->leaves = l;
        b->cap = cap;
    }
    pq_colbuf *l = &b->leaves[b->nleaves++];
    *l = (pq_colbuf){.depth = b->depth, .type = type, .max_def = max_def, .max_rep = max_rep};
    memcpy(l->path, b->path, (size_t)b->depth * sizeof *b->path);
    return 0;
}

/* One field's SchemaElements (and its leaves), every field optional as pyarrow writes them. */
static int build_field(struct build *b, jfield *f, int def, char *err, size_t errlen) {
    pq_tw t;
    pq_tw_init(&t, &b->s->elems);
    if (b->depth + 3 > PQ_COLBUF_DEPTH) {
        optout_set_err(err, errlen, "field %s: nested too deep", f->path);
        return -1;
    }
    b->path[b->depth++] = f->name;
    f->leaf_first = b->nleaves;
    if (f->kind == K_NULL) f->kind = K_STRING; /* never seen with a value: a string, as DuckDB reads it */
    if (f->kind == K_STRUCT && f->nkids == 0) {
        optout_set_err(err, errlen, "field %s is an empty object on every line: Parquet has no empty struct", f->path);
        return -1;
    }
    int rc = 0;
    if (f->kind == K_LIST) { /* optional group f (LIST) { repeated group list { optional T element; } } */
        jfield *e = f->kids[0];
        if (e->kind == K_NULL) e->kind = K_STRING;
        pq_schema_list(&t, f->name);
        pq_tw_elem_struct_begin(&t);
        pq_tw_i32(&t, 1, physical(e->kind));
        pq_tw_i32(&t, 3, PQ_OPTIONAL);
        pq_tw_binary(&t, 4, "element", 7);
        if (e->kind == K_STRING) pq_schema_string(&t);
        pq_tw_struct_end(&t);
        b->s->nelems += 3;
        b->path[b->depth++] = "list";
        b->path[b->depth++] = "element";
        rc = add_leaf(b, physical(e->kind), def + 3, 1);
        b->depth -= 2;
    } else {
        pq_tw_elem_struct_begin(&t);
        if (f->kind != K_STRUCT) pq_tw_i32(&t, 1, physical(f->kind));
        pq_tw_i32(&t, 3, PQ_OPTIONAL);
        pq_tw_binary(&t, 4, f->name, strlen(f->name));
        if (f->kind == K_STRUCT) pq_tw_i32(&t, 5, (int32_t)f->nkids);
        if (f->kind == K_STRING) pq_schema_string(&t);
        pq_tw_struct_end(&t);
        b->s->nelems++;
        if (f->kind != K_STRUCT) rc = add_leaf(b, physical(f->kind), def + 1, 0);
        for (size_t i = 0; f->kind == K_STRUCT && i < f->nkids && rc == 0; i++)
            rc = build_field(b, f->kids[i], def + 1, err, errlen);
    }
    if (rc > 0 || (rc < 0 && !err[0])) optout_set_err(err, errlen, "out of memory");
    b->depth--;
    f->nleaves = b->nleaves - f->leaf_first;
    return rc ? -1 : 0;
}

int optout_pq_jschema_finish(optout_pq_jschema *s, char *err, size_t errlen) {
    if (s->finished) return 0;
    if (s->root.nkids == 0) {
        optout_set_err(err, errlen, "no line has a field: Parquet needs at least one column");
        return -1;
    }
    err[0] = 0;
    struct build b = {.s = s};
    for (size_t i = 0; i < s->root.nkids; i++)
        if (build_field(&b, s->root.kids[i], 0, err, errlen) != 0) {
            free(b.leaves);
            return -1;
        }
    s->leaf_proto = b.leaves;
    s->nleaves = b.nleaves;
    s->root.leaf_first = 0;
    s->root.nleaves = b.nleaves;
    s->finished = 1;
    return 0;
}

/* ---- the writer ------------------------------------------------------------------------------ */

struct optout_pq_jwriter {
    optout_pq_writer *w;
    optout_pq_jschema *s;
    pq_colbuf *cols; /* the schema's leaves, then the agents column when asked for */
    int ncols, agents;
    jparser p;
    int64_t rows;
    size_t bytes; /* buffered values and levels */
};

optout_pq_jwriter *optout_pq_jwriter_open(const char *path, optout_pq_jschema *s, const optout_pq_write_opts *opts,
                                          char *err, size_t errlen) {
    if (optout_pq_jschema_finish(s, err, errlen) != 0) return NULL;
    if (opts->agents_column && find_kid(&s->root, AGENTS_COLUMN, strlen(AGENTS_COLUMN))) {
        optout_set_err(err, errlen, "already has a field %s", AGENTS_COLUMN);
        return NULL;
    }
    optout_pq_jwriter *j = calloc(1, sizeof *j);
    int ncols = s->nleaves + (opts->agents_column ? 1 : 0);
    if (!j || !(j->cols = calloc((size_t)ncols, sizeof *j->cols))) {
        free(j);
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    j->s = s;
    j->ncols = ncols;
    j->agents = opts->agents_column;
    for (int i = 0; i < s->nleaves; i++) j->cols[i] = s->leaf_proto[i];
    /* the root (one more child with the agents column), the fields, the agents column */
    pq_buf schema = {0};
    pq_tw t;
    pq_tw_init(&t, &schema);
    pq_tw_elem_struct_begin(&t);
    pq_tw_binary(&t, 4, "schema", 6);
    pq_tw_i32(&t, 5, (int32_t)s->root.nkids + (j->agents ? 1 : 0));
    pq_tw_struct_end(&t);
    pq_buf_put(&schema, s->elems.data, s->elems.len);
    uint32_t nschema = 1 + s->nelems;
    if (j->agents) { /* as the Parquet filter writes it */
        pq_tw_init(&t, &schema);
        pq_schema_agents(&t);
        nschema += 3;
        pq_colbuf *a = &j->cols[ncols - 1];
        *a = (pq_colbuf){.depth = 3, .type = PQ_BYTE_ARRAY, .max_def = 2, .max_rep = 1};
        a->path[0] = AGENTS_COLUMN;
        a->path[1] = "list";
        a->path[2] = "element";
    }
    j->w = pq_writer_open_generated(path, &schema, nschema, ncols, opts, err, errlen);
    pq_buf_free(&schema);
    if (!j->w) {
        optout_pq_jwriter_abort(j);
        return NULL;
    }
    return j;
}

static int put_level(optout_pq_jwriter *j, pq_colbuf *c, uint32_t rep, uint32_t def) {
    if (c->nlev == c->lcap) {
        size_t cap = c->lcap ? c->lcap * 2 : 1024;
        uint32_t *r = realloc(c->rep, cap * sizeof *r);
        if (!r) return -1;
        c->rep = r;
        uint32_t *d = realloc(c->def, cap * sizeof *d);
        if (!d) return -1;
        c->def = d;
        c->lcap = cap;
    }
    c->rep[c->nlev] = rep;
    c->def[c->nlev++] = def;
    j->bytes += 8;
    return 0;
}

/* Appends a non-null value of the column's type from node v; -1 when its kind does not fit. */
static int put_value(optout_pq_jwriter *j, pq_colbuf *c, const jnode *v) {
    size_t before = c->vals.len;
    switch (c->type) {
    case PQ_BOOLEAN:
        if (v->type != JV_BOOL) return -1;
        pq_buf_byte(&c->vals, (uint8_t)v->i);
        break;
    case PQ_INT64:
        if (v->type != JV_INT) return -1;
        pq_buf_put(&c->vals, &v->i, 8);
        break;
    case PQ_DOUBLE: {
        if (v->type != JV_INT && v->type != JV_DOUBLE) return -1;
        double d = v->type == JV_INT ? (double)v->i : v->d;
        pq_buf_put(&c->vals, &d, 8);
        break;
    }
    default: {
        if (v->type != JV_STRING) return -1;
        pq_buf_reserve(&c->vals, 4 + v->len);
        uint8_t *o = c->vals.data + c->vals.len;
        size_t n = v->escapes ? optout_json_unescape(v->s, v->len, (char *)o + 4) : (memcpy(o + 4, v->s, v->len), v->len);
        for (int k = 0; k < 4; k++) o[k] = (uint8_t)(n >> (8 * k));
        c->vals.len += 4 + n;
    }
    }
    j->bytes += c->vals.len - before;
    return 0;
}

/* Every leaf of f null (or absent) at this level. */
static int put_nulls(optout_pq_jwriter *j, const jfield *f, uint32_t rep, uint32_t def) {
    for (int l = f->leaf_first; l < f->leaf_first + f->nleaves; l++)
        if (put_level(j, &j->cols[l], rep, def) != 0) return -1;
    return 0;
}

static int mismatch(const jfield *f, const jnode *v, uint64_t line_no, char *err, size_t errlen) {
    int k = kind_of_value(v->type);
    optout_set_err(err, errlen, "line %" PRIu64 ": field %s is %s %s where the first lines make it %s %s", line_no,
                   f->path, k == K_INT || k == K_STRUCT || k == K_LIST ? "an" : "a", kind_name(k),
                   f->kind == K_INT || f->kind == K_STRUCT || f->kind == K_LIST ? "an" : "a", kind_name(f->kind));
    return -1;
}

static const char *const oom = "out of memory";

/* Shreds value v (0: absent) of field f into its leaves (Dremel: rep, def at this level). */
static int shred(optout_pq_jwriter *j, const jfield *f, uint32_t v, int present, uint32_t rep, uint32_t def,
                 uint64_t line_no, char *err, size_t errlen);

static int shred_struct(optout_pq_jwriter *j, const jfield *f, uint32_t v, uint32_t rep, uint32_t def,
                        uint64_t line_no, char *err, size_t errlen) {
    const jnode *n = &j->p.n[v];
    for (uint32_t c = n->first, i = 0; i < n->count; c = j->p.n[c].next, i++) /* every key must be known */
        if (!find_kid(f, j->p.n[c].key, j->p.n[c].klen)) {
            const jnode *m = &j->p.n[c];
            optout_set_err(err, errlen,
                           "line %" PRIu64 ": field %s%s%.*s is not in the schema inferred from the first %d lines",
                           line_no, f->path ? f->path : "", f->path ? "." : "", (int)(m->klen > 200 ? 200 : m->klen),
                           m->key, OPTOUT_PQ_INFER_LINES);
            return -1;
        }
    for (size_t k = 0; k < f->nkids; k++) {
        const jfield *kid = f->kids[k];
        uint32_t found = 0;
        int present = 0;
        size_t klen = strlen(kid->name);
        for (uint32_t c = n->first, i = 0; i < n->count; c = j->p.n[c].next, i++) /* the last one wins */
            if (j->p.n[c].klen == klen && memcmp(j->p.n[c].key, kid->name, klen) == 0) found = c, present = 1;
        if (shred(j, kid, found, present, rep, def, line_no, err, errlen) != 0) return -1;
    }
    return 0;
}

static int shred(optout_pq_jwriter *j, const jfield *f, uint32_t v, int present, uint32_t rep, uint32_t def,
                 uint64_t line_no, char *err, size_t errlen) {
    const jnode *n = present ? &j->p.n[v] : NULL;
    if (!n || n->type == JV_NULL) {
        if (put_nulls(j, f, rep, def) != 0) goto oom_fail;
        return 0;
    }
    if (kind_of_value(n->type) != f->kind && !(f->kind == K_DOUBLE && n->type == JV_INT))
        return mismatch(f, n, line_no, err, errlen);
    if (f->kind == K_STRUCT) return shred_struct(j, f, v, rep, def + 1, line_no, err, errlen);
    pq_colbuf *c = &j->cols[f->leaf_first];
    if (f->kind == K_LIST) {
        if (n->count == 0) {
            if (put_level(j, c, rep, def + 1) != 0) goto oom_fail;
            return 0;
        }
        const jfield *e = f->kids[0];
        uint32_t r = rep;
        for (uint32_t x = n->first, i = 0; i < n->count; x = j->p.n[x].next, i++, r = 1) {
            const jnode *el = &j->p.n[x];
            if (el->type == JV_NULL) {
                if (put_level(j, c, r, def + 2) != 0) goto oom_fail;
                continue;
            }
            if (put_value(j, c, el) != 0) return mismatch(e, el, line_no, err, errlen);
            if (put_level(j, c, r, def + 3) != 0) goto oom_fail;
        }
        return 0;
    }
    if (put_value(j, c, n) != 0) return mismatch(f, n, line_no, err, errlen);
    if (put_level(j, c, rep, def + 1) != 0) goto oom_fail;
    return 0;
oom_fail:
    optout_set_err(err, errlen, "%s", oom);
    return -1;
}

static int flush_group(optout_pq_jwriter *j, char *err, size_t errlen) {
    if (j->rows == 0) return 0;
    if (pq_writer_generated_group(j->w, j->cols, j->ncols, j->rows, err, errlen) != 0) return -1;
    for (int c = 0; c < j->ncols; c++) {
        j->cols[c].nlev = 0;
        j->cols[c].vals.len = 0;
    }
    j->rows = 0;
    j->bytes = 0;
    return 0;
}

int optout_pq_jwriter_row(optout_pq_jwriter *j, const char *line, size_t len, uint64_t line_no,
                          const optout_pq_agents *agents, char *err, size_t errlen) {
    if (parse_line(&j->p, line, len) != 0) {
        optout_set_err(err, errlen, "line %" PRIu64 ": %s: a Parquet row must be one JSON object", line_no, j->p.what);
        return -1;
    }
    if (shred_struct(j, &j->s->root, 0, 0, 0, line_no, err, errlen) != 0) return -1;
    if (j->agents) {
        pq_colbuf *a = &j->cols[j->ncols - 1];
        size_t n = agents ? agents->n : 0;
        if (n == 0 && put_level(j, a, 0, 1) != 0) goto oom_fail;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(agents->names[i]);
            uint8_t lb[4] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16), (uint8_t)(l >> 24)};
            pq_buf_put(&a->vals, lb, 4);
            pq_buf_put(&a->vals, agents->names[i], l);
            j->bytes += 4 + l;
            if (put_level(j, a, i ? 1 : 0, 2) != 0) goto oom_fail;
        }
    }
    j->rows++;
    if (j->rows >= OPTOUT_PQ_GROUP_ROWS || j->bytes >= OPTOUT_PQ_GROUP_BYTES) return flush_group(j, err, errlen);
    return 0;
oom_fail:
    optout_set_err(err, errlen, "%s", oom);
    return -1;
}

static void jwriter_free(optout_pq_jwriter *j) {
    for (int c = 0; c < j->ncols; c++) {
        free(j->cols[c].rep);
        free(j->cols[c].def);
        pq_buf_free(&j->cols[c].vals);
    }
    free(j->cols);
    parser_free(&j->p);
    free(j);
}

int optout_pq_jwriter_finish(optout_pq_jwriter *j, char *err, size_t errlen) {
    int rc = flush_group(j, err, errlen);
    if (rc == 0) rc = optout_pq_writer_finish(j->w, err, errlen);
    else optout_pq_writer_abort(j->w);
    j->w = NULL;
    jwriter_free(j);
    return rc;
}

void optout_pq_jwriter_abort(optout_pq_jwriter *j) {
    if (!j) return;
    if (j->w) optout_pq_writer_abort(j->w);
    jwriter_free(j);
}
