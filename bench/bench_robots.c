/* bench_robots.c — throughput benchmark of the robots.txt engine (a benchmark, not a test).
 *
 * Usage: bench_robots [--passes N] [--urls-per-file N] [--urls-out FILE] [--only parse|match|e2e]
 *                     [--mode rfc9309|protego] DIR
 *
 * Loads every regular file of DIR (a robots.txt body per file, named by host) into memory, builds
 * a deterministic URL set per file, then measures on one thread, with CLOCK_MONOTONIC:
 *   parse    compile every body (RFC 9309 mode, then Protego mode when the engine has it) and free
 *            it; MB/s over the input bytes (1 MB = 10^6 bytes); median of N passes.
 *   match    URL x agent checks per second on the compiled sets, all preloaded (one
 *            optout_robots_check call decides all agents of the list for one URL, so it counts as
 *            `agents` checks); median of N passes over all files ("aggregate"), and the median
 *            over files of each file's own median rate ("typical file").
 *   e2e      end to end: per file compile, check its URLs for every agent, free; median of N.
 * One warm-up pass precedes each measurement. Results are printed as "key value" lines (for
 * bench/run.sh) mixed with '#'-prefixed human text.
 * The engine is measured in both modes (Protego mode only when the engine has it: it is skipped,
 * "protego: not available", while compile returns ENOSYS); "key value" lines of Protego mode
 * start with "pmode_". --only and --mode restrict the run to one phase / one mode (profiling:
 * perf record bench_robots --only match --mode rfc9309 DIR). cpu_share (thread CPU time / wall
 * time over the whole run) below ~0.9 means other processes took the CPU away: figures too low.
 *
 * --urls-out FILE writes the URL list and the agent list used, so that bench/baseline_python.py
 * checks exactly the same (file, URL, agent) triples:
 *   #agent<TAB>NAME          one line per agent, in list order
 *   FILENAME<TAB>URL         one line per URL (URLs never contain TAB, CR, LF or invalid UTF-8)
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "optout/agents.h"
#include "optout/robots.h"
#include "optout/util.h"

#define DEFAULT_PASSES 21
#define DEFAULT_URLS 32
#define MAX_FILE_BYTES (64u * 1024u * 1024u)
#define MAX_URL_PATH 2048

struct url {
    char *s;
    size_t len;
};

struct file {
    char *name;
    char *body;
    size_t len;
    struct url *urls;
    size_t nurls;
};

static volatile size_t g_sink; /* keeps results observable */

static void die(const char *what) {
    fprintf(stderr, "bench_robots: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("malloc");
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place and returns its median. */
static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    if (n == 0) return 0;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- deterministic pseudo-random numbers (splitmix64, seeded by the file name) -------------- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* ---- loading ---------------------------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

static struct file *load_dir(const char *dir, size_t *count, size_t *total) {
    DIR *d = opendir(dir);
    if (!d) die(dir);
    size_t n = 0, cap = 1024;
    struct file *files = xmalloc(cap * sizeof *files);
    *total = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0) die(path);
        if (!S_ISREG(st.st_mode)) continue;
        if (n == cap) {
            cap *= 2;
            files = realloc(files, cap * sizeof *files);
            if (!files) die("realloc");
        }
        struct file *f = &files[n];
        memset(f, 0, sizeof *f);
        f->name = strdup(de->d_name);
        if (!f->name) die("strdup");
        f->body = optout_read_file(path, MAX_FILE_BYTES, &f->len);
        if (!f->body) die(path);
        *total += f->len;
        n++;
    }
    closedir(d);
    qsort(files, n, sizeof *files, cmp_name);
    *count = n;
    return files;
}

/* ---- URL sets --------------------------------------------------------------------------------- */

struct buf {
    char *s;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = realloc(b->s, cap);
        if (!b->s) die("realloc");
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Generic paths every file is checked with: common crawl targets, deep paths, queries,
 * %-escapes (upper and lower case, of reserved and unreserved octets) and raw UTF-8. */
static const char *const GENERIC[] = {
    "/",
    "/index.html",
    "/search?q=x",
    "/wp-admin/x",
    "/wp-admin/admin-ajax.php",
    "/robots.txt",
    "/a/b/c/d/e/f/g/h/i/j/2024/01/01/a-long-article-title-with-many-words.html",
    "/products/shoes/running?color=red&size=42&sort=price_asc&page=3",
    "/%7Euser/profile",
    "/caf%c3%a9/menu?lang=fr",
    "/caf\xc3\xa9/men\xc3\xbc",
    "/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe3\x83\x9a\xe3\x83\xbc\xe3\x82\xb8?q=\xe6\xa4\x9c\xe7\xb4\xa2",
    "/cart/checkout",
    "/api/v1/items/123.json",
    "/static/js/app.min.js?v=3",
    "/tag/%E2%9C%93/page/2",
};
#define GENERIC_COUNT (sizeof GENERIC / sizeof GENERIC[0])

static const char *const WORDS[] = {"news", "2024", "article", "user", "search", "tag", "category", "p",
                                    "img", "en", "de", "products", "login", "cart", "admin", "private",
                                    "feed", "amp", "print", "share", "comments", "wp-content", "media", "x"};
#define WORD_COUNT (sizeof WORDS / sizeof WORDS[0])

static const char *const STAR_FILL[] = {"", "x", "abc/def", "123", "?a=1", "foo.php", "%20"};
#define STAR_FILL_COUNT (sizeof STAR_FILL / sizeof STAR_FILL[0])

struct span {
    const char *s;
    size_t len;
};

/* The values of the Allow / Disallow lines of a body (a light scan, not the engine's parser). */
static struct span *collect_patterns(const char *body, size_t len, size_t *count) {
    size_t n = 0, cap = 0;
    struct span *v = NULL;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *s = p;
        while (s < eol && (*s == ' ' || *s == '\t')) s++;
        size_t klen = 0;
        if (optout_starts_nocase(s, (size_t)(eol - s), "disallow", 8)) klen = 8;
        else if (optout_starts_nocase(s, (size_t)(eol - s), "allow", 5)) klen = 5;
        if (klen) {
            s += klen;
            while (s < eol && (*s == ' ' || *s == '\t')) s++;
            if (s < eol && *s == ':') {
                s++;
                const char *e = memchr(s, '#', (size_t)(eol - s));
                if (!e) e = eol;
                while (s < e && (*s == ' ' || *s == '\t')) s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
                if (e > s) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        v = realloc(v, cap * sizeof *v);
                        if (!v) die("realloc");
                    }
                    v[n].s = s;
                    v[n].len = (size_t)(e - s);
                    n++;
                }
            }
        }
        p = eol < end ? eol + 1 : end;
    }
    *count = n;
    return v;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        if (c < 0x80) k = 0;
        else if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) k = 2;
        else if (c >= 0xF0 && c <= 0xF4) k = 3;
        else return 0;
        if (k && i + k >= n) return 0; /* truncated sequence */
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[i + 1] < 0xA0) return 0;          /* overlong */
        if (c == 0xED && s[i + 1] >= 0xA0) return 0;         /* surrogates */
        if (c == 0xF0 && s[i + 1] < 0x90) return 0;          /* overlong */
        if (c == 0xF4 && s[i + 1] >= 0x90) return 0;         /* > U+10FFFF */
        i += k + 1;
    }
    return 1;
}

/* Appends a path to "https://host": control octets, space, '#', DEL and (unless the path is
 * valid UTF-8) octets >= 0x80 percent-encoded, so that the URL list is clean UTF-8 text. */
static void put_path(struct buf *out, const char *host, const char *p, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n > MAX_URL_PATH) n = MAX_URL_PATH;
    int utf8 = valid_utf8((const unsigned char *)p, n);
    buf_puts(out, "https://");
    buf_puts(out, host);
    if (n == 0 || p[0] != '/') buf_put(out, "/", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7F || c == '#' || (c >= 0x80 && !utf8)) {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_put(out, e, 3);
        } else {
            buf_put(out, (const char *)&c, 1);
        }
    }
}

/* A path derived from a pattern: each '*' replaced by a short filler, a final '$' dropped, then
 * one mutation (none, longer, with a query, cut short, one octet changed, %-escapes appended). */
static void derive_path(struct buf *tmp, const struct span *pat, uint64_t *rng) {
    tmp->len = 0;
    for (size_t i = 0; i < pat->len; i++) {
        char c = pat->s[i];
        if (c == '*') buf_puts(tmp, STAR_FILL[rng_next(rng) % STAR_FILL_COUNT]);
        else if (c == '$' && i + 1 == pat->len) break;
        else buf_put(tmp, &c, 1);
    }
    switch (rng_next(rng) % 6) {
    case 0: break;
    case 1: buf_puts(tmp, "/more/page.html"); break;
    case 2: buf_puts(tmp, "?utm_source=x&id=42"); break;
    case 3:
        if (tmp->len > 1) tmp->len = 1 + (tmp->len - 1) / 2;
        break;
    case 4:
        if (tmp->len > 1) tmp->s[1 + rng_next(rng) % (tmp->len - 1)] = 'Z';
        break;
    case 5: buf_puts(tmp, "%c3%a9t%C3%A9-%41"); break;
    }
    if (tmp->s) tmp->s[tmp->len] = '\0';
}

/* A random path of 1..6 words, sometimes with a query or a file name. */
static void random_path(struct buf *tmp, uint64_t *rng) {
    tmp->len = 0;
    size_t depth = 1 + rng_next(rng) % 6;
    for (size_t i = 0; i < depth; i++) {
        buf_put(tmp, "/", 1);
        buf_puts(tmp, WORDS[rng_next(rng) % WORD_COUNT]);
    }
    switch (rng_next(rng) % 4) {
    case 0: buf_puts(tmp, "/"); break;
    case 1: buf_puts(tmp, ".html"); break;
    case 2: buf_puts(tmp, "?id=7&ref=home"); break;
    default: break;
    }
}

/* Builds f->urls: the generic paths, then paths derived from up to (n - generic) of the file's
 * own patterns (spread over the file), then random paths to fill up to n URLs. */
static void build_urls(struct file *f, size_t n) {
    uint64_t rng = fnv1a(f->name);
    size_t npat;
    struct span *pats = collect_patterns(f->body, f->len, &npat);
    struct buf tmp = {0};
    struct url *urls = xmalloc(n * sizeof *urls);
    size_t k = 0;
    for (size_t i = 0; i < GENERIC_COUNT && k < n; i++) {
        struct buf out = {0};
        put_path(&out, f->name, GENERIC[i], strlen(GENERIC[i]));
        urls[k++] = (struct url){out.s, out.len};
    }
    size_t want = n - k;
    for (size_t i = 0; i < want && npat > 0; i++) {
        size_t idx = npat <= want ? i : (size_t)(rng_next(&rng) % npat);
        if (idx >= npat) break;
        derive_path(&tmp, &pats[idx], &rng);
        struct buf out = {0};
        put_path(&out, f->name, tmp.s ? tmp.s : "", tmp.len);
        urls[k++] = (struct url){out.s, out.len};
    }
    while (k < n) {
        random_path(&tmp, &rng);
        struct buf out = {0};
        put_path(&out, f->name, tmp.s, tmp.len);
        urls[k++] = (struct url){out.s, out.len};
    }
    free(tmp.s);
    free(pats);
    f->urls = urls;
    f->nurls = k;
}

static void write_urls(const char *path, const struct file *files, size_t nfiles,
                       const optout_agents *agents) {
    FILE *fp = fopen(path, "w");
    if (!fp) die(path);
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        fprintf(fp, "#agent\t%s\n", optout_agents_name(agents, a));
    for (size_t i = 0; i < nfiles; i++)
        for (size_t u = 0; u < files[i].nurls; u++) fprintf(fp, "%s\t%s\n", files[i].name, files[i].urls[u].s);
    if (fclose(fp) != 0) die(path);
}

/* ---- measurements ----------------------------------------------------------------------------- */

struct run {
    const struct file *files;
    size_t nfiles;
    const optout_agents *agents;
    size_t nagents, passes, nurls, checks, urls_per_file;
    double mb;
    double *t; /* scratch: one timing per pass */
    optout_robots_mode mode;
    const char *pfx;  /* prefix of the "key value" lines: "" (rfc9309) or "pmode_" (protego mode) */
    const char *name; /* the mode's name in human text */
};

static optout_robots *compile_or_die(const struct run *run, const struct file *f) {
    optout_robots *r = optout_robots_compile(f->body, f->len, run->agents, run->mode);
    if (!r) die("optout_robots_compile");
    return r;
}

/* Seconds for one pass compiling and freeing every body. */
static double parse_pass(const struct run *run) {
    double t0 = now_s();
    for (size_t i = 0; i < run->nfiles; i++) {
        optout_robots *r = compile_or_die(run, &run->files[i]);
        g_sink += (size_t)optout_robots_allows_everything(r);
        optout_robots_free(r);
    }
    return now_s() - t0;
}

static size_t check_file(const optout_robots *r, const struct file *f) {
    optout_agentset set;
    size_t disallowed = 0;
    for (size_t u = 0; u < f->nurls; u++) disallowed += optout_robots_check(r, f->urls[u].s, f->urls[u].len, &set);
    return disallowed;
}

static double match_pass(const struct run *run, optout_robots *const *compiled, size_t *disallowed) {
    size_t d = 0;
    double t0 = now_s();
    for (size_t i = 0; i < run->nfiles; i++) d += check_file(compiled[i], &run->files[i]);
    double t = now_s() - t0;
    *disallowed = d;
    return t;
}

static double e2e_pass(const struct run *run) {
    size_t d = 0;
    double t0 = now_s();
    for (size_t i = 0; i < run->nfiles; i++) {
        optout_robots *r = compile_or_die(run, &run->files[i]);
        d += check_file(r, &run->files[i]);
        optout_robots_free(r);
    }
    double t = now_s() - t0;
    g_sink += d;
    return t;
}

/* (a) parse: compile + free every body; MB/s over the input bytes. */
static void run_parse(const struct run *run) {
    double *t = run->t, mb = run->mb;
    size_t passes = run->passes;
    parse_pass(run);
    for (size_t p = 0; p < passes; p++) t[p] = parse_pass(run);
    double med = median(t, passes);
    printf("# parse (%s): %.1f MB/s median (%.1f .. %.1f), %.2f ms per pass over %.2f MB\n", run->name, mb / med,
           mb / t[passes - 1], mb / t[0], med * 1e3, mb);
    printf("%sparse_mb_s %.1f\n%sparse_s %.6f\n%sparse_files_s %.0f\n", run->pfx, mb / med, run->pfx, med, run->pfx,
           (double)run->nfiles / med);
    fflush(stdout);
}

/* (b) matching on preloaded compiled sets: all files (aggregate), then file by file. */
static void run_match(const struct run *run) {
    const struct file *files = run->files;
    size_t nfiles = run->nfiles, passes = run->passes, checks = run->checks;
    double *t = run->t;
    optout_robots **compiled = xmalloc(nfiles * sizeof *compiled);
    size_t with_disallow = 0;
    for (size_t i = 0; i < nfiles; i++) {
        compiled[i] = compile_or_die(run, &files[i]);
        with_disallow += !optout_robots_allows_everything(compiled[i]);
    }
    size_t disallowed = 0;
    match_pass(run, compiled, &disallowed);
    for (size_t p = 0; p < passes; p++) t[p] = match_pass(run, compiled, &disallowed);
    double med = median(t, passes);
    double checks_s = (double)checks / med;
    printf("# match (%s): %.1f M checks/s aggregate (%.1f .. %.1f), %.2f ns per check, %.1f ns per URL "
           "(all %zu agents); %zu of %zu files have a disallow rule for some agent; %zu disallowed "
           "(URL, agent) pairs of %zu\n",
           run->name, checks_s / 1e6, (double)checks / t[passes - 1] / 1e6, (double)checks / t[0] / 1e6,
           med * 1e9 / (double)checks, med * 1e9 / (double)run->nurls, run->nagents, with_disallow, nfiles,
           disallowed, checks);
    printf("%schecks_s %.0f\n%smatch_s %.6f\n%sdisallowed_pairs %zu\n", run->pfx, checks_s, run->pfx, med, run->pfx,
           disallowed);
    fflush(stdout);

    /* per file: each file's median rate over `passes` timed blocks of >= 256 URLs, after one */
    double *rate = xmalloc(nfiles * sizeof *rate);
    double *rate_rules = xmalloc(nfiles * sizeof *rate_rules);
    size_t nrules = 0;
    for (size_t i = 0; i < nfiles; i++) {
        size_t reps = (256 + files[i].nurls - 1) / files[i].nurls;
        for (size_t p = 0; p <= passes; p++) {
            double t0 = now_s();
            for (size_t r = 0; r < reps; r++) g_sink += check_file(compiled[i], &files[i]);
            double dt = now_s() - t0;
            if (p > 0) t[p - 1] = dt; /* the first block warms up */
        }
        rate[i] = (double)(reps * files[i].nurls * run->nagents) / median(t, passes);
        if (!optout_robots_allows_everything(compiled[i])) rate_rules[nrules++] = rate[i];
    }
    qsort(rate, nfiles, sizeof *rate, cmp_double);
    double typical = median(rate, nfiles);
    double typical_rules = nrules ? median(rate_rules, nrules) : 0;
    printf("# match per file (%s; each file's median rate): typical (median file) %.1f M checks/s; "
           "slowest 10%% below %.1f M/s, slowest 1%% below %.1f M/s; median file with a disallow rule %.1f M/s\n",
           run->name, typical / 1e6, rate[nfiles / 10] / 1e6, rate[nfiles / 100] / 1e6, typical_rules / 1e6);
    printf("%schecks_s_typical %.0f\n%schecks_s_file_p10 %.0f\n%schecks_s_file_p1 %.0f\n"
           "%schecks_s_typical_with_rules %.0f\n",
           run->pfx, typical, run->pfx, rate[nfiles / 10], run->pfx, rate[nfiles / 100], run->pfx, typical_rules);
    fflush(stdout);
    for (size_t i = 0; i < nfiles; i++) optout_robots_free(compiled[i]);
    free(compiled);
    free(rate);
    free(rate_rules);
}

/* (c) end to end: per file compile, check every URL for every agent, free. */
static void run_e2e(const struct run *run) {
    double *t = run->t;
    size_t passes = run->passes;
    e2e_pass(run);
    for (size_t p = 0; p < passes; p++) t[p] = e2e_pass(run);
    double med = median(t, passes);
    printf("# end to end (%s; compile + %zu URLs x %zu agents per file + free): %.2f ms per pass "
           "(%.1f .. %.1f), %.0f files/s, %.1f MB/s\n",
           run->name, run->urls_per_file, run->nagents, med * 1e3, t[0] * 1e3, t[passes - 1] * 1e3,
           (double)run->nfiles / med, run->mb / med);
    printf("%se2e_s %.6f\n%se2e_files_s %.0f\n%se2e_mb_s %.1f\n", run->pfx, med, run->pfx,
           (double)run->nfiles / med, run->pfx, run->mb / med);
    fflush(stdout);
}

static void usage(void) {
    fprintf(stderr, "usage: bench_robots [--passes N] [--urls-per-file N] [--urls-out FILE] [--only parse|match|e2e]\n"
                    "                    [--mode rfc9309|protego] DIR\n");
    exit(2);
}

int main(int argc, char **argv) {
    size_t passes = DEFAULT_PASSES, urls_per_file = DEFAULT_URLS;
    const char *urls_out = NULL, *dir = NULL, *only = NULL, *mode_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc) passes = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--urls-per-file") == 0 && i + 1 < argc) urls_per_file = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--urls-out") == 0 && i + 1 < argc) urls_out = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) mode_name = argv[++i];
        else if (argv[i][0] == '-') usage();
        else if (!dir) dir = argv[i];
        else usage();
    }
    if (!dir || passes == 0 || urls_per_file == 0) usage();
    if (only && strcmp(only, "parse") != 0 && strcmp(only, "match") != 0 && strcmp(only, "e2e") != 0) usage();
    int do_parse = !only || strcmp(only, "parse") == 0, do_match = !only || strcmp(only, "match") == 0,
        do_e2e = !only || strcmp(only, "e2e") == 0;
    optout_robots_mode only_mode = OPTOUT_MODE_RFC9309;
    if (mode_name && optout_robots_mode_parse(mode_name, &only_mode) != 0) usage();

    optout_agents *agents = optout_agents_new_default();
    if (!agents) die("optout_agents_new_default");
    size_t nagents = optout_agents_count(agents);

    size_t nfiles, total;
    struct file *files = load_dir(dir, &nfiles, &total);
    if (nfiles == 0) {
        fprintf(stderr, "bench_robots: no files in %s\n", dir);
        return 2;
    }
    size_t parsed_bytes = 0, truncated = 0, nurls = 0;
    for (size_t i = 0; i < nfiles; i++) {
        build_urls(&files[i], urls_per_file);
        nurls += files[i].nurls;
        parsed_bytes += files[i].len > OPTOUT_ROBOTS_MAX_BYTES ? OPTOUT_ROBOTS_MAX_BYTES : files[i].len;
        truncated += files[i].len > OPTOUT_ROBOTS_MAX_BYTES;
    }
    if (urls_out) write_urls(urls_out, files, nfiles, agents);

    double mb = (double)total / 1e6;
    size_t checks = nurls * nagents;
    printf("# optout robots.txt engine benchmark: one thread, CLOCK_MONOTONIC, median of %zu passes "
           "after one warm-up pass\n", passes);
    printf("files %zu\nbytes %zu\nbytes_parsed_at_most %zu\ntruncated_files %zu\nagents %zu\n"
           "urls %zu\nchecks_per_pass %zu\npasses %zu\n",
           nfiles, total, parsed_bytes, truncated, nagents, nurls, checks, passes);
    fflush(stdout);

    double *t = xmalloc(passes * sizeof *t);
    struct run run = {.files = files, .nfiles = nfiles, .agents = agents, .nagents = nagents, .passes = passes,
                      .nurls = nurls, .checks = checks, .urls_per_file = urls_per_file, .mb = mb, .t = t};
    double wall0 = now_s(), cpu0 = cpu_s();
    for (int m = 0; m < 2; m++) {
        run.mode = m == 0 ? OPTOUT_MODE_RFC9309 : OPTOUT_MODE_PROTEGO;
        if (mode_name && run.mode != only_mode) continue;
        run.pfx = m == 0 ? "" : "pmode_";
        run.name = m == 0 ? "rfc9309 mode" : "protego mode";
        if (run.mode == OPTOUT_MODE_PROTEGO) {
            errno = 0;
            optout_robots *r = optout_robots_compile(files[0].body, files[0].len, agents, run.mode);
            if (!r && errno == ENOSYS) {
                printf("# protego: not available (optout_robots_compile returned NULL, ENOSYS)\n"
                       "pmode_available 0\n");
                break;
            }
            if (!r) die("optout_robots_compile");
            optout_robots_free(r);
            printf("pmode_available 1\n");
        }
        if (do_parse) run_parse(&run);
        if (do_match) run_match(&run);
        if (do_e2e) run_e2e(&run);
    }

    double share = (cpu_s() - cpu0) / (now_s() - wall0);
    printf("# this thread got %.0f%% of a CPU during the measurements%s\ncpu_share %.2f\n", share * 100,
           share < 0.9 ? ": the machine is busy, the figures are too low" : "", share);

    free(t);
    for (size_t i = 0; i < nfiles; i++) {
        for (size_t u = 0; u < files[i].nurls; u++) free(files[i].urls[u].s);
        free(files[i].urls);
        free(files[i].body);
        free(files[i].name);
    }
    free(files);
    optout_agents_free(agents);
    return 0;
}
