/* report_diff.c — two runs compared in Markdown (include/optout/report_diff.h).
 *
 * The documents comparison keeps one 64-bit hash per removed line (8 bytes a document: a billion
 * removed documents fit in 8 GB), sorts and de-duplicates each side, and merges the two lists. */
#include "optout/report_diff.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doc_fields.h"
#include "optout/docsource.h"
#include "optout/hostkey.h"
#include "optout/json.h"
#include "optout/jsonl.h"
#include "optout/shard.h"
#include "optout/util.h"

/* ---- Markdown bits ---------------------------------------------------------------------------- */

static void put_num(FILE *f, uint64_t v) {
    char out[OPTOUT_REPORT_NUM_LEN];
    fputs(optout_report_num(v, out), f);
}

static void put_delta(FILE *f, uint64_t a, uint64_t b) {
    if (a == b) {
        fputs("0", f);
        return;
    }
    fputs(b > a ? "+" : "-", f);
    put_num(f, b > a ? b - a : a - b);
}

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

/* " | a | b | b-a" */
static void cells3(FILE *f, uint64_t a, uint64_t b) {
    fputs(" | ", f);
    put_num(f, a);
    fputs(" | ", f);
    put_num(f, b);
    fputs(" | ", f);
    put_delta(f, a, b);
}

/* " | a% | b% | +x.xx pp" */
static void cells_pct(FILE *f, const optout_bucket *a, const optout_bucket *b) {
    double pa = pct(a->tokens_removed, a->tokens_in), pb = pct(b->tokens_removed, b->tokens_in);
    fprintf(f, " | %.2f%% | %.2f%% | %+.2f pp", pa, pb, pb - pa);
}

/* ---- configuration ---------------------------------------------------------------------------- */

static int str_differ(const char *a, const char *b) { return (a == NULL) != (b == NULL) || (a && strcmp(a, b)); }

/* Starts a row of the settings table (its header before the first). */
static void table_row(FILE *f, int *rows) {
    if (!(*rows)++) fputs("| setting | A | B |\n|---|---|---|\n", f);
}

static void diff_config(FILE *f, const optout_report_loaded *A, const optout_report_loaded *B) {
    const optout_report_info *a = &A->info, *b = &B->info;
    struct {
        const char *name, *va, *vb;
    } s[] = {
        {"matching mode", a->mode, b->mode},
        {"agent list", a->agents_name, b->agents_name},
        {"agent list SHA-256", a->agents_sha256, b->agents_sha256},
        {"host key", a->host_key, b->host_key},
        {"unreachable robots.txt", a->unreachable, b->unreachable},
        {"robots.txt source", a->robots_source, b->robots_source},
        {"robots.txt fetched from", a->robots_from, b->robots_from},
        {"robots.txt fetched to", a->robots_to, b->robots_to},
        {"ranking metric", a->metric, b->metric},
    };
    struct {
        const char *name;
        uint64_t va, vb;
    } n[] = {
        {"agents", optout_agents_count(A->agents), optout_agents_count(B->agents)},
        {"top N English", a->top_en, b->top_en},
        {"top N non-English", a->top_non_en, b->top_non_en},
        {"hosts planned", a->hosts_planned, b->hosts_planned},
        {"tasks", a->tasks, b->tasks},
        {"failed tasks", a->failed, b->failed},
    };
    fputs("## Configuration\n\n", f);
    int rows = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        if (!str_differ(s[i].va, s[i].vb)) continue;
        table_row(f, &rows);
        fprintf(f, "| %s | ", s[i].name);
        optout_report_put_text(f, s[i].va);
        fputs(" | ", f);
        optout_report_put_text(f, s[i].vb);
        fputs(" |\n", f);
    }
    for (int i = 0; i < OPTOUT_SET_COUNT; i++) { /* granularity, overrides, sample, outputs... */
        if (!str_differ(a->settings[i], b->settings[i])) continue;
        table_row(f, &rows);
        fprintf(f, "| %s | ", optout_report_setting_label((optout_report_setting)i));
        optout_report_put_text(f, a->settings[i]);
        fputs(" | ", f);
        optout_report_put_text(f, b->settings[i]);
        fputs(" |\n", f);
    }
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) {
        if (n[i].va == n[i].vb) continue;
        table_row(f, &rows);
        int none = strncmp(n[i].name, "top N", 5) == 0; /* 0: no ranking ran */
        fprintf(f, "| %s | ", n[i].name);
        if (none && !n[i].va) fputs("none", f);
        else put_num(f, n[i].va);
        fputs(" | ", f);
        if (none && !n[i].vb) fputs("none", f);
        else put_num(f, n[i].vb);
        fputs(" |\n", f);
    }
    if (a->complete != b->complete) {
        table_row(f, &rows);
        fprintf(f, "| complete | %s | %s |\n", a->complete ? "yes" : "no", b->complete ? "yes" : "no");
    }
    if (!rows) fputs("Same configuration.\n", f);
    /* agents in one list only */
    for (int side = 0; side < 2; side++) {
        const optout_agents *x = side ? B->agents : A->agents, *y = side ? A->agents : B->agents;
        int first = 1;
        for (size_t i = 0; i < optout_agents_count(x); i++) {
            int found = 0;
            for (size_t j = 0; j < optout_agents_count(y) && !found; j++)
                found = strcmp(optout_agents_name(x, i), optout_agents_name(y, j)) == 0;
            if (found) continue;
            fputs(first ? (side ? "\nAgents only in B: " : "\nAgents only in A: ") : ", ", f);
            optout_report_put_code(f, optout_agents_name(x, i));
            first = 0;
        }
        if (!first) fputs("\n", f);
    }
    fputs("\n", f);
}

/* ---- removed, per class and per agent --------------------------------------------------------- */

static void diff_removed(FILE *f, const optout_report_loaded *A, const optout_report_loaded *B) {
    const optout_stats *a = A->stats, *b = B->stats;
    fputs("## Removed\n\n| | A | B | B - A |\n|---|---:|---:|---:|\n", f);
    const struct {
        const char *name;
        uint64_t va, vb;
    } rows[] = {
        {"documents in", a->total.docs_in, b->total.docs_in},
        {"documents removed", a->total.docs_removed, b->total.docs_removed},
        {"characters removed", a->total.chars_removed, b->total.chars_removed},
        {"tokens in", a->total.tokens_in, b->total.tokens_in},
        {"tokens removed", a->total.tokens_removed, b->total.tokens_removed},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        fprintf(f, "| %s", rows[i].name);
        cells3(f, rows[i].va, rows[i].vb);
        fputs(" |\n", f);
    }
    fputs("| token loss", f);
    cells_pct(f, &a->total, &b->total);
    fputs(" |\n\n", f);

    static const char *const CLASS[OPTOUT_CLASS_COUNT] = {"English", "non-English", "unknown language"};
    fputs("### Per language class\n\n"
          "| class | documents removed A | B | B - A | tokens removed A | B | B - A | token loss A | B | B - A |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          f);
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        const optout_bucket *x = &a->by_class[c], *y = &b->by_class[c];
        if (!x->docs_in && !y->docs_in) continue;
        fprintf(f, "| %s", CLASS[c]);
        cells3(f, x->docs_removed, y->docs_removed);
        cells3(f, x->tokens_removed, y->tokens_removed);
        cells_pct(f, x, y);
        fputs(" |\n", f);
    }
    fputs("\n", f);

    /* agents: A's in order, then B's that A lacks; "any" last */
    fputs("### Per agent\n\n"
          "| agent | documents removed A | B | B - A | characters removed A | B | B - A |\n"
          "|---|---:|---:|---:|---:|---:|---:|\n",
          f);
    size_t na = optout_agents_count(A->agents), nb = optout_agents_count(B->agents);
    for (size_t k = 0; k < na + nb; k++) {
        const char *name = k < na ? optout_agents_name(A->agents, k) : optout_agents_name(B->agents, k - na);
        long ia = -1, ib = -1;
        for (size_t i = 0; i < na; i++)
            if (ia < 0 && strcmp(optout_agents_name(A->agents, i), name) == 0) ia = (long)i;
        for (size_t i = 0; i < nb; i++)
            if (ib < 0 && strcmp(optout_agents_name(B->agents, i), name) == 0) ib = (long)i;
        if (k >= na && ia >= 0) continue; /* listed with A's */
        if (k < na && ia != (long)k) continue; /* a name twice in A */
        fputs("| ", f);
        optout_report_put_code(f, name);
        static const optout_bucket none;
        const optout_bucket *x = ia >= 0 ? &a->by_agent[ia] : &none, *y = ib >= 0 ? &b->by_agent[ib] : &none;
        if (ia >= 0 && ib >= 0) {
            cells3(f, x->docs_removed, y->docs_removed);
            cells3(f, x->chars_removed, y->chars_removed);
        } else {
            for (int m = 0; m < 2; m++) {
                uint64_t v = m ? (ia >= 0 ? x->chars_removed : y->chars_removed)
                               : (ia >= 0 ? x->docs_removed : y->docs_removed);
                fputs(" | ", f);
                if (ia >= 0) put_num(f, v);
                else fputs("–", f);
                fputs(" | ", f);
                if (ib >= 0) put_num(f, v);
                else fputs("–", f);
                fputs(" | –", f);
            }
        }
        fputs(" |\n", f);
    }
    fputs("| **any**", f);
    cells3(f, a->any_agent.docs_removed, b->any_agent.docs_removed);
    cells3(f, a->any_agent.chars_removed, b->any_agent.chars_removed);
    fputs(" |\n\n", f);
}

/* ---- documents removed by one run only -------------------------------------------------------- */

typedef struct {
    uint64_t *h;
    size_t n, cap;
    uint64_t lines, unkeyed, by_url;
} keyset;

static uint64_t hash64(const char *s, size_t len, unsigned char kind) {
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ kind) * 1099511628211ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    /* splitmix64 finaliser: FNV's low bits mix poorly */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static void keyset_add(keyset *k, uint64_t h) {
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 4096;
        uint64_t *p = realloc(k->h, cap * sizeof *p);
        if (!p) optout_oom("the removed documents' keys");
        k->h = p;
        k->cap = cap;
    }
    k->h[k->n++] = h;
}

/* The key fields, in order of preference: ids, then URLs, then (tags files only) the line number
 * of a document without id. */
static const char *const KEY_PATHS[5] = {"id", "metadata.id", "url", "metadata.url", "line"};
enum { KEY_ID = 0, KEY_URL = 2, KEY_LINE = 4 };

/* Reading one side's shards: pass 1 collects the keys into `k`; pass 2 (`other` set) writes each
 * document whose key `other` lacks to `out` as a JSON line. */
typedef struct {
    keyset *k;
    optout_json_fields *fields;
    int tags;                 /* the shards are tags files (tags.h), not removed documents */
    const char *root;         /* the walked directory, for shard names relative to it */
    const keyset *other, *self; /* pass 2: the other side's keys; this side's (pass 1) */
    uint8_t *done;              /* pass 2: per key of self, already written (a key written once) */
    FILE *out;
    const char *side, *prefix; /* "A"/"B"; "removed/" or "tags/" */
    optout_hostkey_mode host_key;
} walk_ctx;

static int key_present(const optout_json_value *v) {
    return v->present && !(!v->is_string && v->len == 4 && memcmp(v->s, "null", 4) == 0);
}

/* h's index in the sorted set, or k->n when absent. */
static size_t keyset_find(const keyset *k, uint64_t h) {
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->h[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < k->n && k->h[lo] == h ? lo : k->n;
}

/* A key value as found: a JSON Lines string's raw text between quotes; a Parquet string's bytes
 * (raw_strings: never escaped) through json.h's writer; else its text. */
static void put_raw(FILE *f, const optout_json_value *v, int raw_strings) {
    if (v->is_string && raw_strings) {
        optout_json_put_stringn(f, v->s, v->len);
        return;
    }
    if (v->is_string) fputc('"', f);
    fwrite(v->s, 1, v->len, f);
    if (v->is_string) fputc('"', f);
}

/* One document of one run only: {"run", "shard", "id" | "line", "url", "host"} (docs/report.md).
 * raw_strings: the values are a Parquet row's (bytes, never escaped). */
static void emit(walk_ctx *c, const char *rel, const optout_json_value *v, int which, int raw_strings) {
    FILE *f = c->out;
    fprintf(f, "{\"run\": \"%s\", \"shard\": ", c->side);
    char name[PATH_MAX];
    snprintf(name, sizeof name, "%s%s", c->prefix, rel);
    optout_json_put_string(f, name);
    if (which == KEY_LINE) {
        fputs(", \"line\": ", f);
        put_raw(f, &v[KEY_LINE], raw_strings);
    } else {
        fputs(", \"id\": ", f);
        if (which < KEY_URL) put_raw(f, &v[which], raw_strings);
        else fputs("null", f);
    }
    const optout_json_value *url = key_present(&v[KEY_URL]) ? &v[KEY_URL] : key_present(&v[KEY_URL + 1]) ? &v[KEY_URL + 1] : NULL;
    fputs(", \"url\": ", f);
    if (url && url->is_string) put_raw(f, url, raw_strings);
    else fputs("null", f);
    fputs(", \"host\": ", f);
    char host[OPTOUT_HOSTKEY_MAX];
    size_t hlen = 0;
    int bad_idna = 0;
    char *plain = url && url->is_string ? malloc(url->len + 1) : NULL;
    if (plain) {
        size_t n = raw_strings ? url->len : optout_json_unescape(url->s, url->len, plain);
        if (raw_strings) memcpy(plain, url->s, n);
        plain[n] = '\0';
        if (optout_hostkey(plain, n, c->host_key, host, &hlen, &bad_idna) == OPTOUT_HOSTKEY_OK) optout_json_put_string(f, host);
        else fputs("null", f);
        free(plain);
    } else {
        fputs("null", f);
    }
    fputs("}\n", f);
}

/* The hash of a key value: a string by its decoded bytes (a JSON Lines escape and a Parquet byte
 * give one key, so that the two copies of a corpus compare), else by its text. */
static uint64_t key_hash(const optout_json_value *v, int raw_strings, int tag) {
    if (!v->is_string || raw_strings || !v->has_escapes) return hash64(v->s, v->len, tag);
    char *plain = malloc(v->len + 1);
    if (!plain) optout_oom("a key");
    uint64_t h = hash64(plain, optout_json_unescape(v->s, v->len, plain), tag);
    free(plain);
    return h;
}

/* One document's keys (v: KEY_PATHS' values): pass 1 adds its key, pass 2 writes it when the other
 * side lacks it. */
static void key_doc(walk_ctx *c, const char *rel, const optout_json_value *v, int raw_strings) {
    keyset *k = c->k;
    int which = -1;
    for (int i = 0; i < (c->tags ? 5 : 4) && which < 0; i++)
        if (key_present(&v[i])) which = i;
    if (which < 0) {
        k->unkeyed++;
        return;
    }
    uint64_t h;
    if (which == KEY_LINE) { /* a line number is a key within its shard only */
        char buf[PATH_MAX + 32];
        int n = snprintf(buf, sizeof buf, "%s\n%.*s", rel, (int)v[which].len, v[which].s);
        h = hash64(buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, 'l');
    } else {
        k->by_url += which >= KEY_URL;
        h = key_hash(&v[which], raw_strings, which >= KEY_URL ? 'u' : 'i');
    }
    if (!c->other) keyset_add(k, h);
    else if (keyset_find(c->other, h) == c->other->n) {
        size_t at = keyset_find(c->self, h);
        if (at < c->self->n && !c->done[at]) emit(c, rel, v, which, raw_strings);
        if (at < c->self->n) c->done[at] = 1;
    }
}

/* A Parquet removed/ shard, through the document source (only its id and URL columns are read). */
static int read_parquet_shard(walk_ctx *c, const char *path, const char *rel, char *err, size_t errlen) {
    optout_docsource_opts o = {.need = 1u << F_URL | 1u << F_META_URL | 1u << F_ID | 1u << F_META_ID};
    optout_docsource *src = optout_docsource_open(path, &o, err, errlen);
    if (!src) return -1;
    optout_doc_batch b;
    int rc;
    while ((rc = optout_docsource_next(src, &b, err, errlen)) == 1)
        for (size_t i = 0; i < b.count; i++) {
            const optout_doc *d = &b.docs[i];
            optout_json_value v[5] = {d->v[F_ID], d->v[F_META_ID], d->v[F_URL], d->v[F_META_URL], {0}};
            c->k->lines++;
            key_doc(c, rel, v, 1);
        }
    optout_docsource_close(src);
    return rc < 0 ? -1 : 0;
}

static int read_shard(walk_ctx *c, const char *path, char *err, size_t errlen) {
    const char *rel = path + strlen(c->root) + 1;
    int pq = optout_docsource_is_parquet(path, err, errlen);
    if (pq < 0) return -1;
    if (pq) return read_parquet_shard(c, path, rel, err, errlen);
    optout_shard_reader *r = optout_shard_open(path, 0, err, errlen);
    if (!r) return -1;
    keyset *k = c->k;
    optout_shard_line line;
    optout_json_value v[5];
    int rc;
    while ((rc = optout_shard_next(r, &line, err, errlen)) == 1) {
        if (line.oversized) { /* a line over 64 MiB: no key without buffering it; counted */
            if (line.last_piece) k->lines++, k->unkeyed++;
            continue;
        }
        if (line.len == 0) continue;
        k->lines++;
        if (optout_json_extract(c->fields, line.data, line.len, v) != 0) {
            k->unkeyed++;
            continue;
        }
        key_doc(c, rel, v, 0);
    }
    optout_shard_close(r);
    return rc < 0 ? -1 : 0;
}

static int skip_name(const char *name) { return name[0] == '.' || strstr(name, ".tmp.") != NULL; }

/* Every shard below dir (temporary files skipped), in name order (the JSON list is reproducible). */
static int walk(walk_ctx *c, const char *dir, char *err, size_t errlen) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        optout_set_err(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[PATH_MAX];
        struct stat st;
        if (rc == 0 && !skip_name(name) && (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path &&
            stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) rc = walk(c, path, err, errlen);
            else if (S_ISREG(st.st_mode)) rc = read_shard(c, path, err, errlen);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static void walk_init(walk_ctx *c, keyset *k, const char *root, int tags) {
    *c = (walk_ctx){.k = k, .root = root, .tags = tags, .prefix = tags ? "tags/" : "removed/"};
    c->fields = optout_json_fields_new(KEY_PATHS, 5);
    if (!c->fields) optout_oom("the key fields");
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void keyset_sort_unique(keyset *k) {
    if (k->n) qsort(k->h, k->n, sizeof *k->h, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < k->n; i++)
        if (!m || k->h[m - 1] != k->h[i]) k->h[m++] = k->h[i];
    k->n = m;
}

/* Distinct keys of A only, B only and both (two sorted, de-duplicated sets), and the line counts. */
static void merge_counts(const keyset k[2], optout_removed_diff *out) {
    size_t i = 0, j = 0;
    while (i < k[0].n || j < k[1].n) {
        if (j == k[1].n || (i < k[0].n && k[0].h[i] < k[1].h[j])) out->only_a++, i++;
        else if (i == k[0].n || k[1].h[j] < k[0].h[i]) out->only_b++, j++;
        else out->both++, i++, j++;
    }
    for (int s = 0; s < 2; s++) {
        out->lines[s] = k[s].lines;
        out->by_url[s] = k[s].by_url;
        out->unkeyed[s] = k[s].unkeyed;
    }
}

int optout_removed_compare(const char *removed_a, const char *removed_b, optout_removed_diff *out, char *err,
                           size_t errlen) {
    memset(out, 0, sizeof *out);
    keyset k[2] = {{0}, {0}};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        walk_ctx c;
        walk_init(&c, &k[i], i ? removed_b : removed_a, 0);
        rc = walk(&c, c.root, err, errlen);
        optout_json_fields_free(c.fields);
        if (rc == 0) keyset_sort_unique(&k[i]);
    }
    if (rc == 0) merge_counts(k, out);
    for (int s = 0; s < 2; s++) free(k[s].h);
    return rc;
}

static int has_removed_dir(const char *dir, char *path, size_t cap) {
    struct stat st;
    return (size_t)snprintf(path, cap, "%s/removed", dir) < cap && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 0 done (or not comparable: said so), -1 a shard could not be read. */
static int diff_documents(FILE *f, const char *dir_a, const char *dir_b, char *err, size_t errlen) {
    char ra[PATH_MAX], rb[PATH_MAX];
    int ha = has_removed_dir(dir_a, ra, sizeof ra), hb = has_removed_dir(dir_b, rb, sizeof rb);
    fputs("## Documents removed by one run only\n\n", f);
    if (!ha || !hb) {
        fprintf(f, "Not compared: %s `removed/` shards (`optout run --removed` keeps them).\n",
                !ha && !hb ? "neither run has" : !ha ? "A has no" : "B has no");
        return 0;
    }
    optout_removed_diff d;
    if (optout_removed_compare(ra, rb, &d, err, errlen) != 0) return -1;
    fputs("| | documents |\n|---|---:|\n| removed by A only", f);
    fputs(" | ", f);
    put_num(f, d.only_a);
    fputs(" |\n| removed by B only | ", f);
    put_num(f, d.only_b);
    fputs(" |\n| removed by both | ", f);
    put_num(f, d.both);
    fputs(" |\n\n", f);
    fputs("Distinct documents of the `removed/` shards (", f);
    put_num(f, d.lines[0]);
    fputs(d.lines[0] == 1 ? " line in A, " : " lines in A, ", f);
    put_num(f, d.lines[1]);
    fputs(" in B), keyed by `id` (or `metadata.id`), else by URL", f);
    if (d.by_url[0] || d.by_url[1]) {
        fputs(" (URL for ", f);
        put_num(f, d.by_url[0] + d.by_url[1]);
        fputs(" lines)", f);
    }
    fputs(", compared as 64-bit hashes.", f);
    if (d.unkeyed[0] || d.unkeyed[1]) {
        fputs(" Lines without either key, not compared: ", f);
        put_num(f, d.unkeyed[0]);
        fputs(" in A, ", f);
        put_num(f, d.unkeyed[1]);
        fputs(" in B.", f);
    }
    fputs("\n", f);
    return 0;
}

int optout_report_diff_write(FILE *f, const char *dir_a, const optout_report_loaded *a, const char *dir_b,
                             const optout_report_loaded *b, char *err, size_t errlen) {
    fputs("# optout runs compared\n\n- A: ", f);
    optout_report_put_code(f, dir_a);
    fputs(a->info.complete ? "\n" : " (incomplete)\n", f);
    fputs("- B: ", f);
    optout_report_put_code(f, dir_b);
    fputs(b->info.complete ? "\n\n" : " (incomplete)\n\n", f);
    diff_config(f, a, b);
    diff_removed(f, a, b);
    /* what is known is out before the long read of the removed shards */
    fflush(f);
    return diff_documents(f, dir_a, dir_b, err, errlen);
}

/* What a run kept of its removed documents: DIR/removed/ (0), DIR/tags/ (1), or neither (-1). */
static int removed_source(const char *dir, char *path, size_t cap) {
    struct stat st;
    if (has_removed_dir(dir, path, cap)) return 0;
    if ((size_t)snprintf(path, cap, "%s/tags", dir) < cap && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
    return -1;
}

int optout_report_diff_json(FILE *f, const char *dir_a, const optout_report_loaded *a, const char *dir_b,
                            const optout_report_loaded *b, optout_removed_diff *sum, char *err, size_t errlen) {
    char root[2][PATH_MAX];
    const char *dirs[2] = {dir_a, dir_b};
    const optout_report_loaded *l[2] = {a, b};
    int tags[2];
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < 2; i++)
        if ((tags[i] = removed_source(dirs[i], root[i], sizeof root[i])) < 0) {
            optout_set_err(err, errlen, "%s has neither removed/ shards nor tags/ (run it with --removed or --output "
                                        "tags): the documents cannot be compared", dirs[i]);
            errno = ENOENT;
            return -1;
        }
    keyset k[2] = {{0}, {0}};
    walk_ctx c[2];
    int rc = 0;
    for (int i = 0; i < 2; i++) walk_init(&c[i], &k[i], root[i], tags[i]);
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = walk(&c[i], root[i], err, errlen);
        if (rc == 0) keyset_sort_unique(&k[i]);
    }
    for (int i = 0; i < 2 && rc == 0; i++) { /* pass 2: each side's documents the other lacks */
        keyset counts = {0}; /* pass 2 counts lines again: keep pass 1's */
        c[i].k = &counts;
        c[i].other = &k[1 - i];
        c[i].self = &k[i];
        c[i].done = calloc(k[i].n + 1, 1);
        if (!c[i].done) optout_oom("the removed documents' keys");
        c[i].out = f;
        c[i].side = i ? "B" : "A";
        optout_hostkey_mode_parse(l[i]->info.host_key ? l[i]->info.host_key : "canonical", &c[i].host_key);
        rc = walk(&c[i], root[i], err, errlen);
        free(c[i].done);
    }
    if (rc == 0) {
        merge_counts(k, sum);
    }
    for (int s = 0; s < 2; s++) {
        free(k[s].h);
        optout_json_fields_free(c[s].fields);
    }
    return rc;
}
