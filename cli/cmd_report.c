/* cmd_report.c — `optout report DIR`: renders report.md, report.json and loss-by-year.svg again from
 * DIR/report.msgpack; `optout report --diff A B`: compares two runs in Markdown on stdout
 * (configuration, documents and tokens removed per class and per agent, and, when both kept
 * removed/ shards, the documents removed by one run and not the other). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "optout/jsonl.h"
#include "optout/log.h"
#include "optout/report.h"
#include "optout/shard.h"

static int load(const char *dir, optout_report_loaded *l) {
    char err[PATH_MAX + 256];
    if (optout_report_load(dir, l, err, sizeof err) == 0) return 0;
    if (errno == ENOENT)
        optout_log(LOG_ERR, "%s has no report.msgpack: not a run directory, or written by an optout before "
                   "report.msgpack existed (run `optout run` on it again to write one)", dir);
    else optout_log(LOG_ERR, "%s", err);
    return -1;
}

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
        if (!rows++) fputs("| setting | A | B |\n|---|---|---|\n", f);
        fprintf(f, "| %s | ", s[i].name);
        optout_report_put_text(f, s[i].va);
        fputs(" | ", f);
        optout_report_put_text(f, s[i].vb);
        fputs(" |\n", f);
    }
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) {
        if (n[i].va == n[i].vb) continue;
        if (!rows++) fputs("| setting | A | B |\n|---|---|---|\n", f);
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
        if (!rows++) fputs("| setting | A | B |\n|---|---|---|\n", f);
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
    uint64_t lines, unkeyed, by_url, files;
    optout_json_fields *fields;
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

static int keyset_add(keyset *k, uint64_t h) {
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 4096;
        uint64_t *p = realloc(k->h, cap * sizeof *p);
        if (!p) return -1;
        k->h = p;
        k->cap = cap;
    }
    k->h[k->n++] = h;
    return 0;
}

static int read_shard(keyset *k, const char *path) {
    char err[OPTOUT_SHARD_ERR_LEN];
    optout_shard_reader *r = optout_shard_open(path, 0, err, sizeof err);
    if (!r) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    k->files++;
    optout_shard_line line;
    optout_json_value v[4];
    int rc;
    while ((rc = optout_shard_next(r, &line, err, sizeof err)) == 1) {
        if (line.oversized) { /* a line over 64 MiB: no key without buffering it; counted */
            if (line.last_piece) k->lines++, k->unkeyed++;
            continue;
        }
        if (line.len == 0) continue;
        k->lines++;
        if (optout_json_extract(k->fields, line.data, line.len, v) != 0) {
            k->unkeyed++;
            continue;
        }
        int which = v[0].present ? 0 : v[1].present ? 1 : v[2].present ? 2 : v[3].present ? 3 : -1;
        if (which < 0) {
            k->unkeyed++;
            continue;
        }
        k->by_url += which >= 2;
        if (keyset_add(k, hash64(v[which].s, v[which].len, which >= 2 ? 'u' : 'i')) != 0) {
            optout_log(LOG_ERR, "out of memory");
            rc = -1;
            break;
        }
    }
    if (rc < 0 && err[0]) optout_log(LOG_ERR, "%s", err);
    optout_shard_close(r);
    return rc < 0 ? -1 : 0;
}

static int skip_name(const char *name) { return name[0] == '.' || strstr(name, ".tmp.") != NULL; }

/* Every shard below dir (temporary files skipped). */
static int walk(keyset *k, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        optout_log(LOG_ERR, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (skip_name(e->d_name)) continue;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) rc = walk(k, path);
        else if (S_ISREG(st.st_mode)) rc = read_shard(k, path);
    }
    closedir(d);
    return rc;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void keyset_sort_unique(keyset *k) {
    qsort(k->h, k->n, sizeof *k->h, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < k->n; i++)
        if (!m || k->h[m - 1] != k->h[i]) k->h[m++] = k->h[i];
    k->n = m;
}

static int has_removed_dir(const char *dir, char *path, size_t cap) {
    struct stat st;
    return (size_t)snprintf(path, cap, "%s/removed", dir) < cap && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 0 done (or not comparable: said so), -1 a shard could not be read. */
static int diff_documents(FILE *f, const char *dir_a, const char *dir_b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    int ha = has_removed_dir(dir_a, ra, sizeof ra), hb = has_removed_dir(dir_b, rb, sizeof rb);
    fputs("## Documents removed by one run only\n\n", f);
    if (!ha || !hb) {
        fprintf(f, "Not compared: %s `removed/` shards (`optout run --removed` keeps them).\n",
                !ha && !hb ? "neither run has" : !ha ? "A has no" : "B has no");
        return 0;
    }
    static const char *const PATHS[4] = {"id", "metadata.id", "url", "metadata.url"};
    keyset k[2] = {{0}, {0}};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        k[i].fields = optout_json_fields_new(PATHS, 4);
        if (!k[i].fields) rc = -1;
        else rc = walk(&k[i], i ? rb : ra);
        if (rc == 0) keyset_sort_unique(&k[i]);
    }
    if (rc == 0) {
        uint64_t only_a = 0, only_b = 0, both = 0;
        size_t i = 0, j = 0;
        while (i < k[0].n || j < k[1].n) {
            if (j == k[1].n || (i < k[0].n && k[0].h[i] < k[1].h[j])) only_a++, i++;
            else if (i == k[0].n || k[1].h[j] < k[0].h[i]) only_b++, j++;
            else both++, i++, j++;
        }
        fputs("| | documents |\n|---|---:|\n| removed by A only", f);
        fputs(" | ", f);
        put_num(f, only_a);
        fputs(" |\n| removed by B only | ", f);
        put_num(f, only_b);
        fputs(" |\n| removed by both | ", f);
        put_num(f, both);
        fputs(" |\n\n", f);
        fputs("Distinct documents of the `removed/` shards (", f);
        put_num(f, k[0].lines);
        fputs(k[0].lines == 1 ? " line in A, " : " lines in A, ", f);
        put_num(f, k[1].lines);
        fputs(" in B), keyed by `id` (or `metadata.id`), else by URL", f);
        if (k[0].by_url || k[1].by_url) {
            fputs(" (URL for ", f);
            put_num(f, k[0].by_url + k[1].by_url);
            fputs(" lines)", f);
        }
        fputs(", compared as 64-bit hashes.", f);
        if (k[0].unkeyed || k[1].unkeyed) {
            fputs(" Lines without either key, not compared: ", f);
            put_num(f, k[0].unkeyed);
            fputs(" in A, ", f);
            put_num(f, k[1].unkeyed);
            fputs(" in B.", f);
        }
        fputs("\n", f);
    }
    for (int i = 0; i < 2; i++) {
        free(k[i].h);
        optout_json_fields_free(k[i].fields);
    }
    return rc;
}

static int diff(const char *dir_a, const char *dir_b) {
    optout_report_loaded a, b;
    if (load(dir_a, &a) != 0) return OPTOUT_EXIT_FAILURE;
    if (load(dir_b, &b) != 0) {
        optout_report_loaded_free(&a);
        return OPTOUT_EXIT_FAILURE;
    }
    FILE *f = stdout;
    fputs("# optout runs compared\n\n- A: ", f);
    optout_report_put_code(f, dir_a);
    fputs(a.info.complete ? "\n" : " (incomplete)\n", f);
    fputs("- B: ", f);
    optout_report_put_code(f, dir_b);
    fputs(b.info.complete ? "\n\n" : " (incomplete)\n\n", f);
    diff_config(f, &a, &b);
    diff_removed(f, &a, &b);
    fflush(f);
    int rc = diff_documents(f, dir_a, dir_b);
    optout_report_loaded_free(&a);
    optout_report_loaded_free(&b);
    if (fflush(f) != 0 || ferror(f)) {
        optout_log(LOG_ERR, "writing to standard output: %s", strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    return rc == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
}

static int rerender(const char *dir) {
    optout_report_loaded l;
    if (load(dir, &l) != 0) return OPTOUT_EXIT_FAILURE;
    char err[PATH_MAX + 256];
    int rc = optout_report_write(dir, l.stats, l.agents, &l.info, err, sizeof err);
    optout_report_loaded_free(&l);
    if (rc != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    optout_log(LOG_INFO, "%s: report.md, report.json and loss-by-year.svg rendered from report.msgpack", dir);
    return OPTOUT_EXIT_OK;
}

int cmd_report(int argc, char **argv) {
    static const struct option options[] = {
        {"diff", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt, do_diff = 0;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'd': do_diff = 1; break;
        case 'h':
            puts("usage: optout report RUN_DIR\n"
                 "       optout report --diff RUN_DIR_A RUN_DIR_B\n"
                 "The first renders RUN_DIR/report.md, report.json and loss-by-year.svg again from\n"
                 "RUN_DIR/report.msgpack. The second prints a Markdown comparison of two runs: configuration,\n"
                 "documents and tokens removed per class and per agent, and, when both runs kept removed/\n"
                 "shards, the documents removed by one run and not the other.");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("report", opt, argv);
        }
    }
    int rest = argc - optind;
    if (do_diff ? rest != 2 : rest != 1) {
        optout_log(LOG_ERR, "report: usage: optout report RUN_DIR | optout report --diff RUN_DIR_A RUN_DIR_B");
        return OPTOUT_EXIT_USAGE;
    }
    return do_diff ? diff(argv[optind], argv[optind + 1]) : rerender(argv[optind]);
}
