/* rundir.c — a run directory's lock, inputs and plan (include/optout/rundir.h).
 *
 * Input patterns are matched one path component at a time: a component without wildcards is
 * taken literally (no directory listing), "**" walks the tree below (not following symbolic links
 * to directories, so a link cycle cannot loop), and any other component is matched against a
 * directory listing with fnmatch(3) (FNM_PERIOD, as glob(3) does). A directory that exists but
 * cannot be listed is an error rather than a silent hole in the input list.
 *
 * The plan is read line by line with getline(): comparing options stops before the input lines.
 */
#include "optout/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "optout/log.h"
#include "optout/util.h"

#define PLAN_HEADER "optout-plan 1"

/* "a" + "b" -> "a/b"; "" + "b" -> "b"; "a/" + "b" -> "a/b". Malloc'd. */
static char *join(const char *dir, const char *name) {
    size_t d = strlen(dir), n = strlen(name);
    char *p = optout_malloc(d + n + 2);
    memcpy(p, dir, d);
    if (d > 0 && dir[d - 1] != '/') p[d++] = '/';
    memcpy(p + d, name, n + 1);
    return p;
}

/* ---- lock -------------------------------------------------------------------------------------- */

/* The pid written in the lock file, or 0 when there is none (yet). */
static long read_holder(int fd) {
    char buf[32];
    for (int attempt = 0; attempt < 5; attempt++) {
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            char *end;
            long pid = strtol(buf, &end, 10);
            if (end != buf && pid > 0 && (*end == '\n' || *end == '\0')) return pid;
        }
        /* The holder may be between flock() and writing its pid. */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int optout_rundir_lock(const char *dir, int *lock_fd, char *err, size_t errlen) {
    *lock_fd = -1;
    char *path = join(dir, "broker.lock");
    if (optout_make_parent_dirs(path) != 0) {
        optout_set_err(err, errlen, "cannot create run directory %s: %s", dir, strerror(errno));
        free(path);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        optout_set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int rc;
    do rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        if (errno == EWOULDBLOCK) {
            long pid = read_holder(fd);
            if (pid > 0)
                optout_set_err(err, errlen, "run directory %s is in use by another broker (pid %ld holds %s)", dir,
                        pid, path);
            else
                optout_set_err(err, errlen, "run directory %s is in use by another broker (pid unknown; %s is locked)",
                        dir, path);
        } else {
            optout_set_err(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        }
        close(fd);
        free(path);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        optout_set_err(err, errlen, "cannot write the pid into %s: %s", path, strerror(errno ? errno : EIO));
        close(fd);
        free(path);
        return -1;
    }
    free(path);
    *lock_fd = fd;
    return 0;
}

/* ---- inputs ------------------------------------------------------------------------------------ */

typedef struct {
    char *path, *output_name;
    uint64_t size;
    int64_t mtime_ns;
    size_t pattern; /* index of the pattern that found it */
} match;

typedef struct {
    match *v;
    size_t n, cap;
    const char *pattern; /* being expanded */
    size_t pattern_index;
    char *err;
    size_t errlen;
    int failed;
} expander;

static int has_magic(const char *comp) {
    for (const char *p = comp; *p; p++) {
        if (*p == '\\') {
            if (p[1]) p++;
            continue;
        }
        if (*p == '*' || *p == '?' || *p == '[') return 1;
    }
    return 0;
}

/* Removes backslash quoting (glob(3)): "\*" -> "*". In place. */
static void unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) r++;
        *w++ = *r;
    }
    *w = '\0';
}

int optout_input_changed(const optout_input *in, char *why, size_t cap) {
    struct stat st;
    char now_text[64], then_text[64];
    if (stat(in->path, &st) != 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return 1;
    }
    if ((uint64_t)st.st_size != in->size) {
        snprintf(why, cap, "size %llu, planned %llu", (unsigned long long)st.st_size, (unsigned long long)in->size);
        return 1;
    }
    if (optout_mtime_ns(&st) != in->mtime_ns) {
        snprintf(why, cap, "mtime %s, planned %s",
                 optout_format_time_ns(optout_mtime_ns(&st), now_text, sizeof now_text),
                 optout_format_time_ns(in->mtime_ns, then_text, sizeof then_text));
        return 1;
    }
    return 0;
}

/* Takes ownership of path and name. */
static int add_match(expander *x, char *path, char *name, const struct stat *st) {
    if (strpbrk(path, "\t\n")) {
        optout_set_err(x->err, x->errlen, "input file name with a tab or newline is not supported: \"%s\" (matched by '%s')",
                path, x->pattern);
        free(path);
        free(name);
        x->failed = 1;
        return -1;
    }
    x->v = optout_grow(x->v, x->n, &x->cap, sizeof *x->v, 64, "the input list");
    x->v[x->n++] = (match){path, name, (uint64_t)st->st_size, optout_mtime_ns(st), x->pattern_index};
    return 0;
}

/* `path`: a regular file (following links) -> added. Missing or other types: nothing. */
static int consider_file(expander *x, const char *path, const char *rel) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    return add_match(x, optout_strdup(path), optout_strdup(rel), &st);
}

static int hidden_ok(const char *comp) {
    return comp[0] == '.' || (comp[0] == '\\' && comp[1] == '.');
}

typedef struct {
    char **comps;
    size_t n;
} comp_list;

static int walk(expander *x, const comp_list *c, size_t i, const char *path, const char *rel);

/* Lists `path` ("" is the working directory) into a malloc'd array of names, "." and ".."
 * excluded. A missing directory or a non-directory lists nothing; other failures are errors. */
static int list_dir(expander *x, const char *path, char ***names, size_t *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(*path ? path : ".");
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        optout_set_err(x->err, x->errlen, "cannot list directory %s (for '%s'): %s", *path ? path : ".", x->pattern,
                strerror(errno));
        x->failed = 1;
        return -1;
    }
    size_t cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno != 0) {
                optout_set_err(x->err, x->errlen, "cannot list directory %s (for '%s'): %s", *path ? path : ".",
                        x->pattern, strerror(errno));
                x->failed = 1;
                closedir(d);
                for (size_t k = 0; k < *count; k++) free((*names)[k]);
                free(*names);
                *names = NULL;
                *count = 0;
                return -1;
            }
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        *names = optout_grow(*names, *count, &cap, sizeof **names, 32, "a directory listing");
        (*names)[(*count)++] = optout_strdup(e->d_name);
    }
    closedir(d);
    return 0;
}

static void free_names(char **names, size_t count) {
    for (size_t k = 0; k < count; k++) free(names[k]);
    free(names);
}

/* A real directory (not a link to one): "**" descends into these only. */
static int is_real_dir(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "**" as the last component: every regular file below, at any depth. */
static int walk_all(expander *x, const char *path, const char *rel) {
    char **names;
    size_t count;
    if (list_dir(x, path, &names, &count) != 0) return -1;
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++) {
        if (names[k][0] == '.') continue;
        char *p = join(path, names[k]), *r = join(rel, names[k]);
        if (is_real_dir(p)) rc = walk_all(x, p, r);
        else rc = consider_file(x, p, r);
        free(p);
        free(r);
    }
    free_names(names, count);
    return rc;
}

/* Matches components i.. of the pattern below directory `path` (its output-relative name: rel). */
static int walk(expander *x, const comp_list *c, size_t i, const char *path, const char *rel) {
    const char *comp = c->comps[i];
    int last = i + 1 == c->n;
    if (strcmp(comp, "**") == 0) {
        if (last) return walk_all(x, path, rel);
        if (walk(x, c, i + 1, path, rel) != 0) return -1; /* zero directories */
        char **names;
        size_t count;
        if (list_dir(x, path, &names, &count) != 0) return -1;
        int rc = 0;
        for (size_t k = 0; k < count && rc == 0; k++) {
            if (names[k][0] == '.') continue;
            char *p = join(path, names[k]);
            if (is_real_dir(p)) {
                char *r = join(rel, names[k]);
                rc = walk(x, c, i, p, r);
                free(r);
            }
            free(p);
        }
        free_names(names, count);
        return rc;
    }
    if (!has_magic(comp)) {
        char *lit = optout_strdup(comp);
        unescape(lit);
        char *p = join(path, lit), *r = join(rel, lit);
        free(lit);
        int rc = last ? consider_file(x, p, r) : walk(x, c, i + 1, p, r);
        free(p);
        free(r);
        return rc;
    }
    char **names;
    size_t count;
    if (list_dir(x, path, &names, &count) != 0) return -1;
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++) {
        if (names[k][0] == '.' && !hidden_ok(comp)) continue;
        if (fnmatch(comp, names[k], FNM_PERIOD) != 0) continue;
        char *p = join(path, names[k]), *r = join(rel, names[k]);
        if (last) {
            rc = consider_file(x, p, r);
        } else {
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) rc = walk(x, c, i + 1, p, r);
        }
        free(p);
        free(r);
    }
    free_names(names, count);
    return rc;
}

/* Expands one pattern into x; -1 with x->err set. */
static int expand_one(expander *x, const char *pattern) {
    size_t before = x->n;
    x->pattern = pattern;
    if (!*pattern) {
        optout_set_err(x->err, x->errlen, "empty input pattern");
        return -1;
    }
    size_t plen = strlen(pattern);
    if (!has_magic(pattern)) {
        char *path = optout_strdup(pattern);
        unescape(path);
        struct stat st;
        if (stat(path, &st) != 0) {
            optout_set_err(x->err, x->errlen, "input '%s' matches nothing: %s", pattern, strerror(errno));
            free(path);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            optout_set_err(x->err, x->errlen, "input '%s' is a directory (for the files under it, write '%s/**')", pattern,
                    pattern);
            free(path);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            optout_set_err(x->err, x->errlen, "input '%s' is not a regular file", pattern);
            free(path);
            return -1;
        }
        const char *slash = strrchr(path, '/');
        return add_match(x, path, optout_strdup(slash ? slash + 1 : path), &st);
    }
    if (pattern[plen - 1] == '/') {
        optout_set_err(x->err, x->errlen, "input pattern '%s' ends with '/': it names directories, not files", pattern);
        return -1;
    }

    /* Components; the literal ones before the first wildcard make the prefix directory. */
    char *copy = optout_strdup(pattern);
    comp_list c = {optout_malloc((plen / 2 + 2) * sizeof(char *)), 0};
    for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) c.comps[c.n++] = tok;
    size_t first = 0;
    while (first < c.n && !has_magic(c.comps[first])) first++;
    int rc = 0;
    for (size_t k = first + 1; k < c.n; k++) {
        if (!has_magic(c.comps[k]) && (strcmp(c.comps[k], ".") == 0 || strcmp(c.comps[k], "..") == 0)) {
            optout_set_err(x->err, x->errlen, "input pattern '%s': '%s' after a wildcard is not supported", pattern,
                    c.comps[k]);
            rc = -1;
        }
    }
    char *prefix = optout_strdup(pattern[0] == '/' ? "/" : "");
    for (size_t k = 0; k < first && rc == 0; k++) {
        unescape(c.comps[k]);
        char *p = join(prefix, c.comps[k]);
        free(prefix);
        prefix = p;
    }
    if (rc == 0) {
        /* Walk the literal prefix as one step: its components are not listed. */
        comp_list rest = {c.comps + first, c.n - first};
        if (rest.n > 0) rc = walk(x, &rest, 0, prefix, "");
        else rc = consider_file(x, prefix, prefix); /* not reached: a wildcard is in a component */
        if (rc == 0 && x->n == before) {
            optout_set_err(x->err, x->errlen, "input pattern '%s' matches no file", pattern);
            rc = -1;
        }
    }
    free(prefix);
    free(c.comps);
    free(copy);
    return rc;
}

static int cmp_path(const void *a, const void *b) {
    const match *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c) return c;
    return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

static int cmp_name_index(const void *a, const void *b, void *base) {
    const match *v = base, *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
    int c = strcmp(x->output_name, y->output_name);
    if (c) return c;
    return strcmp(x->path, y->path);
}

static void free_matches(match *v, size_t n) {
    for (size_t k = 0; k < n; k++) {
        free(v[k].path);
        free(v[k].output_name);
    }
    free(v);
}

static int has_suffix(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n > k && memcmp(s + n - k, suffix, k) == 0;
}

void optout_shards_name(const char *output_name, int keep_format, int output_format, char *out, size_t cap) {
    size_t n = strlen(output_name);
    int parquet = has_suffix(output_name, n, ".parquet");
    if (output_format == 1 && parquet) {
        snprintf(out, cap, "%.*s.jsonl.zst", (int)(n - 8), output_name);
    } else if (output_format == 2 && !parquet) {
        if (has_suffix(output_name, n, ".zst")) n -= 4;
        else if (has_suffix(output_name, n, ".gz")) n -= 3;
        if (has_suffix(output_name, n, ".jsonl")) n -= 6;
        else if (has_suffix(output_name, n, ".json")) n -= 5;
        snprintf(out, cap, "%.*s.parquet", (int)n, output_name);
    } else if (keep_format || parquet || has_suffix(output_name, n, ".zst")) {
        snprintf(out, cap, "%s", output_name);
    } else if (has_suffix(output_name, n, ".gz")) {
        snprintf(out, cap, "%.*s.zst", (int)(n - 3), output_name);
    } else {
        snprintf(out, cap, "%s.zst", output_name);
    }
}

int optout_inputs_expand(const char *const *patterns, size_t count, optout_inputs *out,
                         char *err, size_t errlen) {
    out->items = NULL;
    out->count = 0;
    expander x = {.err = err, .errlen = errlen};
    for (size_t p = 0; p < count; p++) {
        x.pattern_index = p;
        if (expand_one(&x, patterns[p]) != 0) goto fail;
    }
    if (x.n == 0) return 0;
    qsort(x.v, x.n, sizeof *x.v, cmp_path);

    /* One path found twice (two patterns, or "**" overlapping itself): kept once, if both agree on
     * its output name. */
    size_t w = 0;
    for (size_t k = 0; k < x.n; k++) {
        if (w > 0 && strcmp(x.v[w - 1].path, x.v[k].path) == 0) {
            if (strcmp(x.v[w - 1].output_name, x.v[k].output_name) != 0) {
                optout_set_err(err, errlen, "input %s is matched by '%s' as output name %s and by '%s' as %s",
                        x.v[k].path, patterns[x.v[w - 1].pattern], x.v[w - 1].output_name,
                        patterns[x.v[k].pattern], x.v[k].output_name);
                /* entries w..k-1 were moved down or freed: keep the owned ones contiguous */
                for (size_t m = k; m < x.n; m++) x.v[w + m - k] = x.v[m];
                x.n = w + (x.n - k);
                goto fail;
            }
            free(x.v[k].path);
            free(x.v[k].output_name);
            continue;
        }
        x.v[w++] = x.v[k];
    }
    x.n = w;

    /* Two files for one output name. */
    size_t *idx = optout_malloc(x.n * sizeof *idx);
    for (size_t k = 0; k < x.n; k++) idx[k] = k;
    qsort_r(idx, x.n, sizeof *idx, cmp_name_index, x.v);
    for (size_t k = 1; k < x.n; k++) {
        const match *a = &x.v[idx[k - 1]], *b = &x.v[idx[k]];
        if (strcmp(a->output_name, b->output_name) == 0) {
            optout_set_err(err, errlen, "inputs %s and %s would both be written as output %s", a->path, b->path,
                    a->output_name);
            free(idx);
            goto fail;
        }
    }
    free(idx);

    out->items = optout_malloc(x.n * sizeof *out->items);
    for (size_t k = 0; k < x.n; k++)
        out->items[k] = (optout_input){x.v[k].path, x.v[k].output_name, x.v[k].size, x.v[k].mtime_ns};
    out->count = x.n;
    free(x.v);
    return 0;
fail:
    free_matches(x.v, x.n);
    return -1;
}

void optout_inputs_free(optout_inputs *inputs) {
    if (!inputs) return;
    for (size_t k = 0; k < inputs->count; k++) {
        free(inputs->items[k].path);
        free(inputs->items[k].output_name);
    }
    free(inputs->items);
    inputs->items = NULL;
    inputs->count = 0;
}

/* ---- SHA-256 ----------------------------------------------------------------------------------- */

static void to_hex(const unsigned char *md, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int k = 0; k < 32; k++) {
        hex[2 * k] = digits[md[k] >> 4];
        hex[2 * k + 1] = digits[md[k] & 15];
    }
    hex[64] = '\0';
}

void optout_sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        optout_log(LOG_CRIT, "SHA-256 failed in libcrypto");
        abort(); /* no sensible answer: a wrong hash would silently mix configurations */
    }
    to_hex(md, hex);
}

int optout_sha256_file(const char *path, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t cap = (size_t)1 << 20;
    unsigned char *buf = optout_malloc(cap);
    int rc = 0, saved = 0;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0) {
            if (errno == EINTR) continue;
            saved = errno;
            rc = -1;
            break;
        }
        if (n == 0) break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            saved = EIO;
            rc = -1;
            break;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (rc == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)) {
        saved = EIO;
        rc = -1;
    }
    if (rc == 0) to_hex(md, hex);
    free(buf);
    EVP_MD_CTX_free(ctx);
    close(fd);
    errno = saved;
    return rc;
}

/* ---- plan -------------------------------------------------------------------------------------- */

static int cmp_opt_index(const void *a, const void *b, void *base) {
    const optout_plan_option *o = base;
    return strcmp(o[*(const size_t *)a].name, o[*(const size_t *)b].name);
}

/* Indices of options sorted by name (malloc'd). */
static size_t *sorted_options(const optout_plan_option *options, size_t count) {
    size_t *idx = optout_malloc((count ? count : 1) * sizeof *idx);
    for (size_t k = 0; k < count; k++) idx[k] = k;
    qsort_r(idx, count, sizeof *idx, cmp_opt_index, (void *)options);
    return idx;
}

/* The option lines, sorted by name, each ending in '\n' (malloc'd, NUL-terminated). */
static char *option_lines(const optout_plan_option *options, size_t count, size_t *len) {
    size_t *idx = sorted_options(options, count);
    size_t total = 1;
    for (size_t k = 0; k < count; k++)
        total += strlen("option  \n") + strlen(options[k].name) + strlen(options[k].value);
    char *s = optout_malloc(total), *w = s;
    for (size_t k = 0; k < count; k++) {
        const optout_plan_option *o = &options[idx[k]];
        w += sprintf(w, "option %s %s\n", o->name, o->value);
    }
    free(idx);
    *len = (size_t)(w - s);
    return s;
}

void optout_plan_config_hash(const optout_plan_option *options, size_t count, char hex[65]) {
    size_t len;
    char *lines = option_lines(options, count, &len);
    optout_sha256_hex(lines, len, hex);
    free(lines);
}

/* Options the plan format can hold: names without blanks, values without newlines, no name twice. */
static int check_options(const char *plan, const optout_plan_option *options, size_t count, char *err,
                         size_t errlen) {
    for (size_t k = 0; k < count; k++) {
        const char *name = options[k].name, *value = options[k].value;
        if (!name || !*name || strpbrk(name, " \t\r\n")) {
            optout_set_err(err, errlen, "%s: option name \"%s\" is empty or contains blanks", plan, name ? name : "");
            return -1;
        }
        if (!value || strpbrk(value, "\r\n")) {
            optout_set_err(err, errlen, "%s: value of option --%s is missing or contains a line break", plan, name);
            return -1;
        }
    }
    size_t *idx = sorted_options(options, count);
    for (size_t k = 1; k < count; k++)
        if (strcmp(options[idx[k - 1]].name, options[idx[k]].name) == 0) {
            optout_set_err(err, errlen, "%s: option --%s given twice", plan, options[idx[k]].name);
            free(idx);
            return -1;
        }
    free(idx);
    return 0;
}

int optout_plan_write(const char *dir, const optout_plan_option *options, size_t count,
                      const optout_inputs *inputs, char *err, size_t errlen) {
    char *plan = join(dir, "plan");
    char *tmp = join(dir, ".plan.XXXXXX");
    int rc = -1, fd = -1, created = 0;
    FILE *f = NULL;
    if (check_options(plan, options, count, err, errlen) != 0) goto out;
    for (size_t k = 0; k < inputs->count; k++) {
        const optout_input *in = &inputs->items[k];
        if (strpbrk(in->path, "\t\n") || strpbrk(in->output_name, "\t\n") || !*in->path ||
            !*in->output_name) {
            optout_set_err(err, errlen, "%s: input \"%s\" (output \"%s\"): empty, or a tab or newline in the name", plan,
                    in->path, in->output_name);
            goto out;
        }
    }
    if (optout_make_parent_dirs(plan) != 0) {
        optout_set_err(err, errlen, "%s: cannot create its directory: %s", plan, strerror(errno));
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        optout_set_err(err, errlen, "%s: cannot create a temporary file: %s", plan, strerror(errno));
        goto out;
    }
    created = 1;
    if (fchmod(fd, 0644) != 0 || !(f = fdopen(fd, "w"))) {
        optout_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1; /* owned by f */

    size_t len;
    char *lines = option_lines(options, count, &len);
    char hex[65];
    optout_sha256_hex(lines, len, hex);
    fprintf(f, "%s\n", PLAN_HEADER);
    fwrite(lines, 1, len, f);
    free(lines);
    fprintf(f, "config %s\n", hex);
    for (size_t k = 0; k < inputs->count; k++) {
        const optout_input *in = &inputs->items[k];
        fprintf(f, "input\t%" PRIu64 "\t%" PRId64 "\t%s\t%s\n", in->size, in->mtime_ns,
                in->output_name, in->path);
    }
    errno = 0;
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        optout_set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno ? errno : EIO));
        goto out;
    }
    FILE *done = f;
    f = NULL;
    if (fclose(done) != 0) {
        optout_set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, plan) != 0) {
        optout_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, plan, strerror(errno));
        goto out;
    }
    created = 0; /* renamed: nothing to remove any more */
    if (optout_fsync_dir(dir) != 0) {
        optout_set_err(err, errlen, "%s: cannot fsync the directory %s: %s", plan, dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    free(tmp);
    free(plan);
    return rc;
}

/* A plan being read: its header, options and config line. */
typedef struct {
    char *path;
    FILE *f;
    char *line;
    size_t cap;
    size_t lineno;
    optout_plan_option *opts; /* name/value strings malloc'd */
    size_t nopts;
    char config[65]; /* the config line's hash, once checked */
} plan_reader;

static void reader_close(plan_reader *r) {
    if (r->f) fclose(r->f);
    free(r->line);
    for (size_t k = 0; k < r->nopts; k++) {
        free((char *)r->opts[k].name);
        free((char *)r->opts[k].value);
    }
    free(r->opts);
    free(r->path);
}

/* Next line without its '\n': 1, 0 at the end, -1 on error (err set). */
static int next_line(plan_reader *r, char *err, size_t errlen) {
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0) {
        if (ferror(r->f)) {
            optout_set_err(err, errlen, "%s: read error: %s", r->path, strerror(errno ? errno : EIO));
            return -1;
        }
        return 0;
    }
    r->lineno++;
    if (n == 0 || r->line[n - 1] != '\n') {
        optout_set_err(err, errlen, "%s:%zu: incomplete last line (the plan is damaged)", r->path, r->lineno);
        return -1;
    }
    r->line[n - 1] = '\0';
    if (memchr(r->line, '\0', (size_t)n - 1)) {
        optout_set_err(err, errlen, "%s:%zu: NUL byte in the plan", r->path, r->lineno);
        return -1;
    }
    return 1;
}

/* Opens DIR/plan and reads up to its config line. 1 when read, 0 when there is no plan, -1. */
static int reader_open(plan_reader *r, const char *dir, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->path = join(dir, "plan");
    r->f = fopen(r->path, "re");
    if (!r->f) {
        if (errno == ENOENT) return 0;
        optout_set_err(err, errlen, "%s: cannot open: %s", r->path, strerror(errno));
        return -1;
    }
    int got = next_line(r, err, errlen);
    if (got < 0) return -1;
    if (got == 0 || strcmp(r->line, PLAN_HEADER) != 0) {
        if (got > 0 && strncmp(r->line, "optout-plan ", 12) == 0)
            optout_set_err(err, errlen, "%s:1: unsupported plan version \"%s\" (this program reads \"%s\")", r->path,
                    r->line, PLAN_HEADER);
        else
            optout_set_err(err, errlen, "%s:1: not an optout plan (no \"%s\" line)", r->path, PLAN_HEADER);
        return -1;
    }
    size_t cap = 0;
    /* Hash over the option lines as they are in the file. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        optout_set_err(err, errlen, "%s: SHA-256 unavailable", r->path);
        return -1;
    }
    int rc = -1;
    for (;;) {
        got = next_line(r, err, errlen);
        if (got < 0) break;
        if (got == 0) {
            optout_set_err(err, errlen, "%s: ends before its config line (the plan is damaged)", r->path);
            break;
        }
        if (strncmp(r->line, "option ", 7) == 0) {
            char *name = r->line + 7, *sp = strchr(name, ' ');
            if (!sp || sp == name) {
                optout_set_err(err, errlen, "%s:%zu: malformed option line", r->path, r->lineno);
                break;
            }
            *sp = '\0';
            r->opts = optout_grow(r->opts, r->nopts, &cap, sizeof *r->opts, 16, "the plan's options");
            r->opts[r->nopts++] = (optout_plan_option){optout_strdup(name), optout_strdup(sp + 1), NULL};
            *sp = ' ';
            size_t n = strlen(r->line);
            r->line[n] = '\n';
            EVP_DigestUpdate(ctx, r->line, n + 1);
            r->line[n] = '\0';
            continue;
        }
        if (strncmp(r->line, "config ", 7) == 0) {
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int mdlen = 0;
            char hex[65];
            if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
                optout_set_err(err, errlen, "%s: SHA-256 failed", r->path);
                break;
            }
            to_hex(md, hex);
            if (strcmp(r->line + 7, hex) != 0) {
                optout_set_err(err, errlen, "%s:%zu: config hash does not match the option lines (the plan was edited or damaged)",
                        r->path, r->lineno);
                break;
            }
            memcpy(r->config, hex, sizeof r->config);
            rc = 1;
            break;
        }
        optout_set_err(err, errlen, "%s:%zu: unexpected line before the config line", r->path, r->lineno);
        break;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

static const char *shown(const char *value) {
    return *value ? value : "\"\"";
}

/* How a mismatch names an option: its label when the user did not type it, else "--NAME". */
static void label_of(const optout_plan_option *o, char *buf, size_t cap) {
    if (o->label) snprintf(buf, cap, "%s", o->label);
    else snprintf(buf, cap, "--%s", o->name);
}

/* What to do about a mismatch: the plan is the run's identity, so either the same options again
 * (the planned value: `planned`, NULL when it was not given) or another directory. */
#define PLAN_REMEDY_NEW_DIR \
    "; or keep this run and start the changed one in a new run directory (optout run --out DIR, optout-broker --dir DIR)"

int optout_plan_compare(const char *dir, const optout_plan_option *options, size_t count, int *exists,
                        int *differs, char *err, size_t errlen) {
    *exists = 0;
    *differs = 0;
    plan_reader r;
    int got = reader_open(&r, dir, err, errlen);
    if (got <= 0) {
        reader_close(&r);
        return got;
    }
    *exists = 1;
    size_t *oi = sorted_options(r.opts, r.nopts), *ni = sorted_options(options, count);
    size_t i = 0, j = 0;
    int rc = 0;
    while (i < r.nopts || j < count) {
        const optout_plan_option *o = i < r.nopts ? &r.opts[oi[i]] : NULL;
        const optout_plan_option *n = j < count ? &options[ni[j]] : NULL;
        int c = !o ? 1 : !n ? -1 : strcmp(o->name, n->name);
        char name[300];
        if (c < 0) {
            optout_set_err(err, errlen,
                           "--%s was %s, now not given (planned in %s): to resume this run, give --%s %s again" PLAN_REMEDY_NEW_DIR,
                           o->name, shown(o->value), r.path, o->name, shown(o->value));
        } else if (c > 0) {
            label_of(n, name, sizeof name);
            optout_set_err(err, errlen, "%s was not given, now %s (planned in %s): to resume this run, %s" PLAN_REMEDY_NEW_DIR,
                           name, shown(n->value), r.path,
                           n->label ? "give the options it was planned with" : "leave it out");
        } else if (strcmp(o->value, n->value) != 0) {
            label_of(n, name, sizeof name);
            if (n->label)
                optout_set_err(err, errlen,
                               "%s was %s, now %s (planned in %s): to resume this run, give the options it was "
                               "planned with (%s)" PLAN_REMEDY_NEW_DIR,
                               name, shown(o->value), shown(n->value), r.path, r.path);
            else
                optout_set_err(err, errlen,
                               "%s was %s, now %s (planned in %s): to resume this run, give %s %s as planned" PLAN_REMEDY_NEW_DIR,
                               name, shown(o->value), shown(n->value), r.path, name, shown(o->value));
        } else {
            i++, j++;
            continue;
        }
        *differs = 1;
        rc = -1;
        break;
    }
    free(oi);
    free(ni);
    reader_close(&r);
    return rc;
}

static int parse_i64(const char *s, int64_t *v) {
    if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9'))) return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

int optout_plan_read(const char *dir, optout_plan *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    plan_reader r;
    int got = reader_open(&r, dir, err, errlen);
    if (got == 0) optout_set_err(err, errlen, "%s: no plan: %s", r.path, strerror(ENOENT));
    if (got <= 0) {
        reader_close(&r);
        return -1;
    }
    optout_inputs *inputs = &out->inputs;
    size_t cap = 0;
    int rc = 0;
    while ((got = next_line(&r, err, errlen)) > 0) {
        char *f[5];
        size_t nf = 0;
        char *p = r.line;
        for (; nf < 4; nf++) {
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            f[nf] = p;
            p = tab + 1;
        }
        f[nf++] = p;
        optout_input in = {0};
        if (nf != 5 || strcmp(f[0], "input") != 0 || optout_parse_u64(f[1], strlen(f[1]), UINT64_MAX, &in.size) != 0 ||
            parse_i64(f[2], &in.mtime_ns) != 0 || !*f[3] || !*f[4]) {
            optout_set_err(err, errlen, "%s:%zu: malformed input line", r.path, r.lineno);
            rc = -1;
            break;
        }
        inputs->items = optout_grow(inputs->items, inputs->count, &cap, sizeof *inputs->items, 64,
                                    "the plan's input list");
        in.output_name = optout_strdup(f[3]);
        in.path = optout_strdup(f[4]);
        inputs->items[inputs->count++] = in;
    }
    if (got < 0) rc = -1;
    if (rc == 0) {
        /* the options move from the reader into the plan */
        out->options = r.opts;
        out->option_count = r.nopts;
        memcpy(out->config, r.config, sizeof out->config);
        r.opts = NULL;
        r.nopts = 0;
    } else {
        optout_plan_free(out);
    }
    reader_close(&r);
    return rc;
}

int optout_plan_read_inputs(const char *dir, optout_inputs *out, char *err, size_t errlen) {
    optout_plan plan;
    if (optout_plan_read(dir, &plan, err, errlen) != 0) {
        out->items = NULL;
        out->count = 0;
        return -1;
    }
    *out = plan.inputs;
    plan.inputs = (optout_inputs){0};
    optout_plan_free(&plan);
    return 0;
}

const char *optout_plan_get(const optout_plan *plan, const char *name) {
    for (size_t k = 0; k < plan->option_count; k++)
        if (strcmp(plan->options[k].name, name) == 0) return plan->options[k].value;
    return NULL;
}

void optout_plan_free(optout_plan *plan) {
    for (size_t k = 0; k < plan->option_count; k++) {
        free((char *)plan->options[k].name);
        free((char *)plan->options[k].value);
    }
    free(plan->options);
    optout_inputs_free(&plan->inputs);
    memset(plan, 0, sizeof *plan);
}
