/* manifest.c — DIR/manifest.json and its verification (include/optout/manifest.h, docs/manifest.md).
 *
 * Writing: the plan is read by optout_plan_read() (which checks its header, config hash and
 * lines); outputs are found by one walker that verify uses too, so
 * that "what is an output" has a single definition; all files are hashed by a small thread pool
 * (an atomic cursor over the jobs). Reading: a small JSON parser (a tree of the whole document —
 * the manifest is one line per file, megabytes at most), strict about structure and types.
 */
#include "optout/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "optout/blocked.h"
#include "optout/files.h"
#include "optout/history_archive.h"
#include "optout/json.h"
#include "optout/jsonl.h"
#include "optout/policy.h"
#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/version.h"


static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = optout_malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Valid UTF-8 without control characters: what a path or value must be to go into the JSON. */
static int text_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f) return 0;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : 0;
        if (n == 0 || c > 0xf4) return 0;
        for (size_t i = 1; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;               /* overlong */
        if (c == 0xed && p[1] >= 0xa0) return 0;              /* surrogates */
        if (c == 0xf0 && p[1] < 0x90) return 0;               /* overlong */
        if (c == 0xf4 && p[1] >= 0x90) return 0;              /* > U+10FFFF */
        p += n + 1;
    }
    return 1;
}

/* ---- files and hashing ------------------------------------------------------------------------- */

struct file {
    char *rel;  /* outputs: relative to DIR; inputs: the path as listed */
    char *abs;  /* what is opened */
    uint64_t size;
    int64_t mtime_ns;
    int hash;   /* to be hashed */
    int err;    /* errno of hashing, 0 */
    char sha[65];
};

struct files {
    struct file *v;
    size_t n, cap;
};

static struct file *files_add(struct files *l, char *rel, char *abs) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        struct file *nv = realloc(l->v, l->cap * sizeof *nv);
        if (!nv) {
            free(rel);
            free(abs);
            return NULL;
        }
        l->v = nv;
    }
    struct file *f = &l->v[l->n++];
    memset(f, 0, sizeof *f);
    f->rel = rel;
    f->abs = abs;
    return f;
}

static void files_free(struct files *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].rel);
        free(l->v[i].abs);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_file_rel(const void *a, const void *b) {
    return strcmp(((const struct file *)a)->rel, ((const struct file *)b)->rel);
}

struct pool {
    struct file **jobs;
    size_t n;
    atomic_size_t next;
    atomic_uint_fast64_t bytes;
};

static void *hash_worker(void *arg) {
    struct pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) return NULL;
        struct file *f = p->jobs[i];
        f->err = optout_sha256_file(f->abs, f->sha) == 0 ? 0 : (errno ? errno : EIO);
        if (!f->err) atomic_fetch_add(&p->bytes, f->size);
    }
}

static unsigned default_jobs(unsigned jobs) {
    if (jobs) return jobs;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/* Hashes every file with hash set, over `jobs` threads. Returns the bytes hashed. */
static uint64_t hash_files(struct files *const *lists, size_t nlists, unsigned jobs) {
    struct pool p = {0};
    size_t total = 0;
    for (size_t k = 0; k < nlists; k++)
        for (size_t i = 0; i < lists[k]->n; i++) total += (size_t)lists[k]->v[i].hash;
    if (total == 0) return 0;
    p.jobs = optout_malloc(total * sizeof *p.jobs);
    for (size_t k = 0; k < nlists; k++)
        for (size_t i = 0; i < lists[k]->n; i++)
            if (lists[k]->v[i].hash) p.jobs[p.n++] = &lists[k]->v[i];
    atomic_init(&p.next, 0);
    atomic_init(&p.bytes, 0);
    unsigned t = default_jobs(jobs);
    if (t > p.n) t = (unsigned)p.n;
    pthread_t *th = optout_malloc(t * sizeof *th);
    unsigned started = 0;
    for (; started + 1 < t; started++)
        if (pthread_create(&th[started], NULL, hash_worker, &p) != 0) break;
    hash_worker(&p); /* this thread works too */
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    free(p.jobs);
    return (uint64_t)atomic_load(&p.bytes);
}

/* ---- what the outputs are ---------------------------------------------------------------------- */

static const char *const TOP_FILES[] = {"report.json", "report.md", "report.msgpack", "loss-by-year.svg",
                                        OPTOUT_BLOCKED_FILE, OPTOUT_DOMAINS_FILE};

static int ranking_name(const char *name) {
    size_t n = strlen(name);
    return strcmp(name, "hosts.txt") == 0 || (n > 4 && strcmp(name + n - 4, ".tsv") == 0);
}

/* Adds the regular files under DIR/rel (recursively or not) accepted by `accept`. A missing
 * directory adds nothing. 0, or -1 with err. */
static int walk(const char *dir, const char *rel, int recursive, int (*accept)(const char *), struct files *out,
                char *err, size_t errlen) {
    char *abs = path_join(dir, rel);
    DIR *d = opendir(abs);
    if (!d) {
        int e = errno;
        free(abs);
        if (e == ENOENT || e == ENOTDIR) return 0;
        optout_set_err(err, errlen, "%s/%s: %s", dir, rel, strerror(e));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *crel = path_join(rel, e->d_name), *cabs = path_join(abs, e->d_name);
        struct stat st;
        if (stat(cabs, &st) != 0) {
            optout_set_err(err, errlen, "%s: %s", cabs, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            if (recursive) rc = walk(dir, crel, 1, accept, out, err, errlen);
        } else if (S_ISREG(st.st_mode) && (!accept || accept(e->d_name))) {
            struct file *f = files_add(out, crel, cabs);
            if (!f) {
                optout_set_err(err, errlen, "out of memory");
                closedir(d);
                free(abs);
                return -1;
            }
            f->size = (uint64_t)st.st_size;
            f->mtime_ns = optout_mtime_ns(&st);
            continue; /* crel, cabs owned by the list */
        }
        free(crel);
        free(cabs);
    }
    closedir(d);
    free(abs);
    return rc;
}

/* Every output file of DIR (manifest.h), sorted by relative path. */
static int list_outputs(const char *dir, struct files *out, char *err, size_t errlen) {
    if (walk(dir, "shards", 1, NULL, out, err, errlen) != 0 || walk(dir, "removed", 1, NULL, out, err, errlen) != 0 ||
        walk(dir, "sample", 1, NULL, out, err, errlen) != 0 ||
        walk(dir, "tags", 1, NULL, out, err, errlen) != 0 || walk(dir, "robots", 0, NULL, out, err, errlen) != 0 ||
        walk(dir, "ranking", 0, ranking_name, out, err, errlen) != 0 ||
        walk(dir, OPTOUT_HISTORY_DIR, 0, NULL, out, err, errlen) != 0) /* sources.tsv: the crawls and files read */
        return -1;
    for (size_t i = 0; i < sizeof TOP_FILES / sizeof *TOP_FILES; i++) {
        char *abs = path_join(dir, TOP_FILES[i]);
        struct stat st;
        if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(abs);
            continue;
        }
        struct file *f = files_add(out, strdup(TOP_FILES[i]), abs);
        if (!f || !f->rel) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        f->size = (uint64_t)st.st_size;
        f->mtime_ns = optout_mtime_ns(&st);
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_file_rel);
    return 0;
}


/* ---- a robots directory as one input ----------------------------------------------------------- */

struct dir_digest {
    uint64_t files, size;
    int64_t mtime_ns;
    char listing[65];
    char content[65]; /* "" when not hashed */
};

/* Lists DIR's regular files (not recursively, names not starting with '.'), sorted bytewise; the
 * listing digest is over "NAME\tSIZE\tMTIME_NS\n", the content digest over "NAME\tSHA256\n". */
static int dir_digest(const char *path, int64_t hash_limit, unsigned jobs, struct dir_digest *d, uint64_t *hashed,
                      char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    struct files l = {0};
    DIR *dh = opendir(path);
    if (!dh) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *abs = path_join(path, e->d_name);
        struct stat st;
        if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(abs);
            continue;
        }
        struct file *f = files_add(&l, strdup(e->d_name), abs);
        if (!f || !f->rel) {
            rc = -1;
            optout_set_err(err, errlen, "out of memory");
            break;
        }
        f->size = (uint64_t)st.st_size;
        f->mtime_ns = optout_mtime_ns(&st);
        d->files++;
        d->size += f->size;
        if (f->mtime_ns > d->mtime_ns) d->mtime_ns = f->mtime_ns;
    }
    closedir(dh);
    if (rc != 0) {
        files_free(&l);
        return -1;
    }
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cmp_file_rel); /* none: v may be NULL, which qsort must not get */
    int do_hash = hash_limit >= 0 && d->size <= (uint64_t)hash_limit;
    if (do_hash) {
        for (size_t i = 0; i < l.n; i++) l.v[i].hash = 1;
        struct files *lists[] = {&l};
        *hashed += hash_files(lists, 1, jobs);
    }
    EVP_MD_CTX *lc = EVP_MD_CTX_new(), *cc = EVP_MD_CTX_new();
    if (!lc || !cc) optout_oom("a SHA-256 context");
    EVP_DigestInit_ex(lc, EVP_sha256(), NULL);
    EVP_DigestInit_ex(cc, EVP_sha256(), NULL);
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        char buf[128];
        int n = snprintf(buf, sizeof buf, "\t%" PRIu64 "\t%" PRId64 "\n", l.v[i].size, l.v[i].mtime_ns);
        EVP_DigestUpdate(lc, l.v[i].rel, strlen(l.v[i].rel));
        EVP_DigestUpdate(lc, buf, (size_t)n);
        if (do_hash) {
            if (l.v[i].err) {
                optout_set_err(err, errlen, "%s: %s", l.v[i].abs, strerror(l.v[i].err));
                rc = -1;
                break;
            }
            EVP_DigestUpdate(cc, l.v[i].rel, strlen(l.v[i].rel));
            EVP_DigestUpdate(cc, "\t", 1);
            EVP_DigestUpdate(cc, l.v[i].sha, 64);
            EVP_DigestUpdate(cc, "\n", 1);
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    static const char hexd[] = "0123456789abcdef";
    EVP_DigestFinal_ex(lc, md, &mdlen);
    for (int k = 0; k < 32; k++) d->listing[2 * k] = hexd[md[k] >> 4], d->listing[2 * k + 1] = hexd[md[k] & 15];
    EVP_DigestFinal_ex(cc, md, &mdlen);
    if (do_hash)
        for (int k = 0; k < 32; k++) d->content[2 * k] = hexd[md[k] >> 4], d->content[2 * k + 1] = hexd[md[k] & 15];
    EVP_MD_CTX_free(lc);
    EVP_MD_CTX_free(cc);
    files_free(&l);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static void put_time(FILE *f, int64_t t) {
    if (t <= 0) {
        fputs("null", f);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    optout_json_put_string(f, buf);
}

/* A file input (hosts, agents): stat now. */
static int add_file_input(struct files *l, const char *role, const char *given, char *err, size_t errlen) {
    char *real = realpath(given, NULL);
    const char *p = real ? real : given;
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
        optout_set_err(err, errlen, "%s input %s: %s", role, given, errno ? strerror(errno) : "not a regular file");
        free(real);
        return -1;
    }
    char *tag = path_join(role, p); /* "role/path": rel carries the role until written */
    struct file *f = files_add(l, tag, strdup(p));
    free(real);
    if (!f || !f->abs) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    f->size = (uint64_t)st.st_size;
    f->mtime_ns = optout_mtime_ns(&st);
    return 0;
}

/* The run's inputs from its plan (refused when one changed since): the corpus as planned (the
 * first *corpus_count), then the hosts and agents files; each marked for hashing within limit. */
static int gather_inputs(const char *dir, const optout_plan *plan, const optout_manifest_info *info, int64_t limit,
                         struct files *inputs, size_t *corpus_count, char *err, size_t errlen) {
    for (size_t i = 0; i < plan->option_count; i++)
        if (!text_ok(plan->options[i].value) || !text_ok(plan->options[i].name)) {
            optout_set_err(err, errlen, "%s/plan: option %s: not valid UTF-8 text", dir, plan->options[i].name);
            return -1;
        }
    for (size_t i = 0; i < plan->inputs.count; i++) {
        const optout_input *in = &plan->inputs.items[i];
        char why[256];
        if (optout_input_changed(in, why, sizeof why)) {
            optout_set_err(err, errlen, "input %s changed since the run was planned (%s; see %s/plan)", in->path, why,
                           dir);
            return -1;
        }
        if (!text_ok(in->path) || !text_ok(in->output_name)) {
            optout_set_err(err, errlen, "input %s: path is not valid UTF-8 text", in->path);
            return -1;
        }
        struct file *fi = files_add(inputs, strdup(in->output_name), strdup(in->path));
        if (!fi || !fi->rel || !fi->abs) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        fi->size = in->size;
        fi->mtime_ns = in->mtime_ns;
        fi->hash = limit >= 0 && in->size <= (uint64_t)limit;
    }
    *corpus_count = inputs->n;
    const char *hosts = optout_plan_get(plan, "hosts");
    if (hosts && *hosts && add_file_input(inputs, "hosts", hosts, err, errlen) != 0) return -1;
    if (info->agents_file && add_file_input(inputs, "agents", info->agents_file, err, errlen) != 0) return -1;
    for (size_t i = *corpus_count; i < inputs->n; i++) {
        inputs->v[i].hash = limit >= 0 && inputs->v[i].size <= (uint64_t)limit;
        if (!text_ok(inputs->v[i].abs)) {
            optout_set_err(err, errlen, "input %s: path is not valid UTF-8 text", inputs->v[i].abs);
            return -1;
        }
    }
    return 0;
}

/* Marks the outputs to hash: all but those the caller recorded when it published them (same size). */
static int mark_outputs(const char *dir, const optout_manifest_info *info, struct files *outputs, char *err,
                        size_t errlen) {
    optout_strmap *known = optout_strmap_new();
    for (size_t i = 0; known && i < info->known_count; i++) {
        const char *path = info->known[i].path;
        if (optout_strmap_put(known, path, strlen(path), (void *)&info->known[i], NULL) != 0) break;
    }
    int rc = 0;
    for (size_t i = 0; i < outputs->n; i++) {
        const optout_manifest_known *k =
            known ? optout_strmap_get(known, outputs->v[i].rel, strlen(outputs->v[i].rel)) : NULL;
        if (k && k->size == outputs->v[i].size && k->sha256 && strlen(k->sha256) == 64) {
            memcpy(outputs->v[i].sha, k->sha256, 65); /* recorded when it was published: not read again */
            outputs->v[i].hash = 0;
        } else {
            outputs->v[i].hash = 1;
        }
        if (!text_ok(outputs->v[i].rel)) {
            optout_set_err(err, errlen, "output %s/%s: name is not valid UTF-8 text", dir, outputs->v[i].rel);
            rc = -1;
            break;
        }
    }
    optout_strmap_free(known, NULL);
    return rc;
}

/* What the manifest says, gathered. */
struct manifest_parts {
    const optout_plan *plan;
    const optout_manifest_info *info;
    const struct files *inputs, *outputs;
    size_t corpus_count;
    const char *robots_path; /* the robots directory the run used (NULL: fetched) */
    const struct dir_digest *dd;
};

/* Writes the manifest's JSON to f; fills the summary's counts. */
static void put_manifest(FILE *f, const struct manifest_parts *m, optout_manifest_summary *summary) {
    const optout_plan *plan = m->plan;
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n", OPTOUT_MANIFEST_FORMAT, OPTOUT_MANIFEST_VERSION);
    fprintf(f, "  \"software\": {\"name\": \"optout\", \"version\": ");
    optout_json_put_string(f, OPTOUT_VERSION);
    fprintf(f, "},\n  \"config\": {\n    \"sha256\": ");
    optout_json_put_string(f, plan->config);
    fprintf(f, ",\n    \"options\": {");
    for (size_t i = 0; i < plan->option_count; i++) {
        fputs(i ? ",\n      " : "\n      ", f);
        optout_json_put_string(f, plan->options[i].name);
        fputs(": ", f);
        optout_json_put_string(f, plan->options[i].value);
    }
    fprintf(f, "%s}\n  },\n  \"agents\": {\"name\": ", plan->option_count ? "\n    " : "");
    optout_json_put_string(f, m->info->agents_name && text_ok(m->info->agents_name) ? m->info->agents_name : NULL);
    fputs(", \"sha256\": ", f);
    optout_json_put_string(f, m->info->agents_sha256);
    fputs("},\n  \"robots\": {\"source\": ", f);
    optout_json_put_string(f, m->robots_path ? m->robots_path : "fetched");
    fputs(", \"from\": ", f);
    put_time(f, m->info->robots_from);
    fputs(", \"to\": ", f);
    put_time(f, m->info->robots_to);
    fputs("},\n  \"inputs\": [", f);
    size_t ni = 0;
    for (size_t i = 0; i < m->inputs->n; i++, ni++) {
        const struct file *x = &m->inputs->v[i];
        fputs(ni ? ",\n    {\"role\": " : "\n    {\"role\": ", f);
        if (i < m->corpus_count) {
            fputs("\"corpus\", \"path\": ", f);
            optout_json_put_string(f, x->abs);
            fputs(", \"output_name\": ", f);
            optout_json_put_string(f, x->rel);
        } else {
            char role[16];
            snprintf(role, sizeof role, "%.*s", (int)(strchr(x->rel, '/') - x->rel), x->rel);
            optout_json_put_string(f, role);
            fputs(", \"path\": ", f);
            optout_json_put_string(f, x->abs);
        }
        fprintf(f, ", \"size\": %" PRIu64 ", \"mtime_ns\": %" PRId64 ", \"sha256\": ", x->size, x->mtime_ns);
        optout_json_put_string(f, x->hash ? x->sha : NULL);
        fputc('}', f);
    }
    if (m->robots_path) {
        const struct dir_digest *dd = m->dd;
        fputs(ni ? ",\n    {\"role\": \"robots-dir\", \"path\": " : "\n    {\"role\": \"robots-dir\", \"path\": ", f);
        optout_json_put_string(f, m->robots_path);
        fprintf(f, ", \"files\": %" PRIu64 ", \"size\": %" PRIu64 ", \"mtime_ns\": %" PRId64 ", \"listing_sha256\": ",
                dd->files, dd->size, dd->mtime_ns);
        optout_json_put_string(f, dd->listing);
        fputs(", \"sha256\": ", f);
        optout_json_put_string(f, dd->content[0] ? dd->content : NULL);
        fputc('}', f);
        ni++;
    }
    fputs(ni ? "\n  ],\n  \"outputs\": [" : "],\n  \"outputs\": [", f);
    for (size_t i = 0; i < m->outputs->n; i++) {
        const struct file *x = &m->outputs->v[i];
        fputs(i ? ",\n    {\"path\": " : "\n    {\"path\": ", f);
        optout_json_put_string(f, x->rel);
        fprintf(f, ", \"size\": %" PRIu64 ", \"sha256\": \"%s\"}", x->size, x->sha);
        summary->output_bytes += x->size;
    }
    fprintf(f, "%s],\n  \"totals\": {\"inputs\": %zu, \"outputs\": %zu, \"output_bytes\": %" PRIu64 "}\n}\n",
            m->outputs->n ? "\n  " : "", ni, m->outputs->n, summary->output_bytes);
    summary->inputs = ni;
    summary->outputs = m->outputs->n;
}

/* Writes the manifest, published whole (files.h). */
static int publish_manifest(const char *dir, const struct manifest_parts *m, optout_manifest_summary *summary,
                            char *err, size_t errlen) {
    char *path = path_join(dir, OPTOUT_MANIFEST_FILE);
    int rc = -1;
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, errlen);
    if (!f) goto out;
    put_manifest(f, m, summary);
    if (optout_publish_commit(&pub, err, errlen) != 0) goto out;
    rc = 0;
out:
    free(path);
    return rc;
}

int optout_manifest_write(const char *dir, const optout_manifest_info *info, optout_manifest_summary *summary,
                          char *err, size_t errlen) {
    optout_manifest_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    int64_t limit = info->input_hash_limit == 0 ? OPTOUT_MANIFEST_HASH_LIMIT_DEFAULT : info->input_hash_limit;
    optout_plan plan;
    struct files outputs = {0}, inputs = {0};
    struct dir_digest dd = {0};
    char *robots_real = NULL;
    size_t corpus_count = 0;
    int rc = -1;
    if (optout_plan_read(dir, &plan, err, errlen) != 0) return -1;
    if (gather_inputs(dir, &plan, info, limit, &inputs, &corpus_count, err, errlen) != 0) goto out;
    const char *robots_dir = optout_plan_get(&plan, "robots-dir");
    if (robots_dir && *robots_dir) {
        robots_real = realpath(robots_dir, NULL);
        if (dir_digest(robots_real ? robots_real : robots_dir, limit, info->jobs, &dd, &summary->hashed_bytes, err,
                       errlen) != 0)
            goto out;
    }
    if (list_outputs(dir, &outputs, err, errlen) != 0 || mark_outputs(dir, info, &outputs, err, errlen) != 0) goto out;
    struct files *lists[] = {&inputs, &outputs};
    summary->hashed_bytes += hash_files(lists, 2, info->jobs);
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < lists[k]->n; i++)
            if (lists[k]->v[i].hash && lists[k]->v[i].err) {
                optout_set_err(err, errlen, "%s: %s", lists[k]->v[i].abs, strerror(lists[k]->v[i].err));
                goto out;
            }
    const char *robots_path = robots_dir && *robots_dir ? (robots_real ? robots_real : robots_dir) : NULL;
    if (robots_path && !text_ok(robots_path)) {
        optout_set_err(err, errlen, "robots directory %s: path is not valid UTF-8 text", robots_path);
        goto out;
    }
    struct manifest_parts m = {.plan = &plan, .info = info, .inputs = &inputs, .outputs = &outputs,
                               .corpus_count = corpus_count, .robots_path = robots_path, .dd = &dd};
    rc = publish_manifest(dir, &m, summary, err, errlen);
out:
    free(robots_real);
    files_free(&outputs);
    files_free(&inputs);
    optout_plan_free(&plan);
    return rc;
}

/* ---- reading: a small JSON tree ---------------------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jtype t;
    char *s;        /* J_STR: decoded, NUL-terminated */
    int64_t num;    /* J_NUM (integers only), J_BOOL */
    int num_ok;     /* J_NUM: an integer that fits */
    struct jv *items; /* J_ARR / J_OBJ values */
    char **keys;      /* J_OBJ */
    size_t n;
};

struct jp {
    const char *p, *end;
    const char *err;
    int depth;
};

static void jv_free(struct jv *v) {
    free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

static void skip_ws(struct jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int parse_value(struct jp *j, struct jv *v);

static char *parse_string(struct jp *j) {
    if (j->p >= j->end || *j->p != '"') {
        j->err = "expected a string";
        return NULL;
    }
    const char *s = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20) {
            j->err = "control character in a string";
            return NULL;
        }
        if (*j->p == '\\') j->p++;
        j->p++;
    }
    if (j->p >= j->end) {
        j->err = "unterminated string";
        return NULL;
    }
    size_t len = (size_t)(j->p - s);
    j->p++;
    char *out = optout_malloc(len + 1);
    size_t n = optout_json_unescape(s, len, out);
    out[n] = '\0';
    return out;
}

static int grow(struct jv *v, size_t *cap, int obj) {
    if (v->n < *cap) return 0;
    *cap = *cap ? *cap * 2 : 8;
    struct jv *ni = realloc(v->items, *cap * sizeof *ni);
    if (!ni) optout_oom("the manifest's JSON");
    v->items = ni;
    if (obj) {
        char **nk = realloc(v->keys, *cap * sizeof *nk);
        if (!nk) optout_oom("the manifest's JSON");
        v->keys = nk;
    }
    return 0;
}

static int parse_value(struct jp *j, struct jv *v) {
    memset(v, 0, sizeof *v);
    skip_ws(j);
    if (j->p >= j->end) {
        j->err = "unexpected end";
        return -1;
    }
    if (++j->depth > 32) {
        j->err = "nested too deeply";
        return -1;
    }
    char c = *j->p;
    int rc = 0;
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        j->p++;
        size_t cap = 0;
        skip_ws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
        } else {
            for (;;) {
                grow(v, &cap, obj);
                char *key = NULL;
                if (obj) {
                    skip_ws(j);
                    if (!(key = parse_string(j))) return -1;
                    skip_ws(j);
                    if (j->p >= j->end || *j->p != ':') {
                        free(key);
                        j->err = "expected ':'";
                        return -1;
                    }
                    j->p++;
                    v->keys[v->n] = key;
                }
                int r = parse_value(j, &v->items[v->n]);
                v->n++;
                if (r != 0) return -1;
                skip_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
                    j->p++;
                    break;
                }
                j->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
                return -1;
            }
        }
    } else if (c == '"') {
        v->t = J_STR;
        if (!(v->s = parse_string(j))) rc = -1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v->t = J_NUM;
        const char *s = j->p;
        while (j->p < j->end && strchr("+-0123456789.eE", *j->p)) j->p++;
        char buf[64];
        size_t len = (size_t)(j->p - s);
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *endp;
        errno = 0;
        long long x = strtoll(buf, &endp, 10);
        v->num = x;
        v->num_ok = !errno && *endp == '\0';
    } else if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        v->t = J_BOOL, v->num = 1, j->p += 4;
    } else if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        v->t = J_BOOL, j->p += 5;
    } else if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        v->t = J_NULL, j->p += 4;
    } else {
        j->err = "unexpected character";
        rc = -1;
    }
    j->depth--;
    return rc;
}

static const struct jv *jget(const struct jv *o, const char *key) {
    if (!o || o->t != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return &o->items[i];
    return NULL;
}

static const char *jstr(const struct jv *o, const char *key) {
    const struct jv *v = jget(o, key);
    return v && v->t == J_STR ? v->s : NULL;
}

/* 1 with *out when the key holds an integer, else 0. */
static int jint(const struct jv *o, const char *key, int64_t *out) {
    const struct jv *v = jget(o, key);
    if (!v || v->t != J_NUM || !v->num_ok) return 0;
    *out = v->num;
    return 1;
}

static int is_hex64(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* ---- verifying --------------------------------------------------------------------------------- */

struct verifier {
    optout_manifest_problem cb;
    void *arg;
    optout_verify_summary *s;
};

__attribute__((format(printf, 4, 5))) static void problem(struct verifier *v, const char *kind, const char *path,
                                                          const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->s->problems++;
    if (v->cb) v->cb(kind, path, msg, v->arg);
}

static int verify_inputs(const struct jv *inputs, unsigned jobs, struct verifier *v, char *err, size_t errlen) {
    struct files files = {0};
    int rc = 0;
    for (size_t i = 0; i < inputs->n; i++) {
        const struct jv *in = &inputs->items[i];
        const char *role = jstr(in, "role"), *path = jstr(in, "path"), *sha = jstr(in, "sha256");
        int64_t size, mtime;
        if (!role || !path || !jint(in, "size", &size) || !jint(in, "mtime_ns", &mtime) ||
            (jget(in, "sha256") && jget(in, "sha256")->t != J_NULL && !is_hex64(sha))) {
            optout_set_err(err, errlen, "manifest: inputs[%zu] is malformed", i);
            rc = -1;
            break;
        }
        v->s->inputs++;
        if (strcmp(role, "robots-dir") == 0) {
            int64_t nfiles;
            const char *listing = jstr(in, "listing_sha256");
            if (!jint(in, "files", &nfiles) || !is_hex64(listing)) {
                optout_set_err(err, errlen, "manifest: inputs[%zu] (robots-dir) is malformed", i);
                rc = -1;
                break;
            }
            struct dir_digest d;
            char derr[1024];
            if (dir_digest(path, sha ? INT64_MAX : -1, jobs, &d, &v->s->hashed_bytes, derr, sizeof derr) != 0) {
                problem(v, "input", path, "%s", derr);
                continue;
            }
            if ((int64_t)d.files != nfiles) problem(v, "input", path, "%" PRIu64 " files, manifest says %" PRId64, d.files, nfiles);
            else if ((int64_t)d.size != size) problem(v, "input", path, "%" PRIu64 " bytes in all, manifest says %" PRId64, d.size, size);
            else if (d.mtime_ns != mtime) {
                char now_text[64], then_text[64];
                problem(v, "input", path, "latest mtime %s, manifest says %s",
                        optout_format_time_ns(d.mtime_ns, now_text, sizeof now_text),
                        optout_format_time_ns(mtime, then_text, sizeof then_text));
            }
            else if (strcmp(d.listing, listing) != 0) problem(v, "input", path, "listing differs (a file renamed, resized or touched)");
            else if (sha && strcmp(d.content, sha) != 0) problem(v, "input", path, "content SHA-256 differs");
            continue;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            problem(v, "input", path, "%s", errno == ENOENT ? "missing" : strerror(errno));
            continue;
        }
        if ((int64_t)st.st_size != size) {
            problem(v, "input", path, "size %lld, manifest says %" PRId64, (long long)st.st_size, size);
            continue;
        }
        if (optout_mtime_ns(&st) != mtime) {
            char now_text[64], then_text[64];
            problem(v, "input", path, "mtime %s, manifest says %s (modified or touched)",
                    optout_format_time_ns(optout_mtime_ns(&st), now_text, sizeof now_text),
                    optout_format_time_ns(mtime, then_text, sizeof then_text));
            continue;
        }
        if (sha) {
            struct file *f = files_add(&files, strdup(sha), strdup(path));
            if (!f) optout_oom("the manifest's file list");
            f->size = (uint64_t)size;
            f->hash = 1;
        }
    }
    if (rc == 0) {
        struct files *lists[] = {&files};
        v->s->hashed_bytes += hash_files(lists, 1, jobs);
        for (size_t k = 0; k < files.n; k++) {
            if (files.v[k].err) problem(v, "input", files.v[k].abs, "%s", strerror(files.v[k].err));
            else if (strcmp(files.v[k].sha, files.v[k].rel) != 0) problem(v, "input", files.v[k].abs, "SHA-256 differs");
        }
    }
    files_free(&files);
    return rc;
}

int optout_manifest_verify(const char *dir, int check_inputs, unsigned jobs, optout_manifest_problem cb, void *arg,
                           optout_verify_summary *summary, char *err, size_t errlen) {
    optout_verify_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    struct verifier v = {.cb = cb, .arg = arg, .s = summary};
    char *path = path_join(dir, OPTOUT_MANIFEST_FILE);
    size_t len;
    char *text = optout_read_file(path, (size_t)1 << 30, &len);
    if (!text) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    struct jp j = {.p = text, .end = text + len};
    struct jv root;
    int rc = -1;
    struct files outputs = {0}, present = {0};
    optout_strmap *listed = NULL;
    if (parse_value(&j, &root) != 0) {
        optout_set_err(err, errlen, "%s: not JSON: %s at byte %zu", path, j.err ? j.err : "?", (size_t)(j.p - text));
        jv_free(&root);
        goto out_text;
    }
    skip_ws(&j);
    const char *format = jstr(&root, "format");
    int64_t version = 0;
    const struct jv *outs = jget(&root, "outputs"), *ins = jget(&root, "inputs");
    const struct jv *config = jget(&root, "config"), *software = jget(&root, "software");
    if (j.p != j.end || !format || strcmp(format, OPTOUT_MANIFEST_FORMAT) != 0) {
        optout_set_err(err, errlen, "%s: not an optout manifest", path);
        goto out;
    }
    if (!jint(&root, "version", &version) || version != OPTOUT_MANIFEST_VERSION) {
        optout_set_err(err, errlen, "%s: unsupported manifest version (this program reads %d)", path, OPTOUT_MANIFEST_VERSION);
        goto out;
    }
    if (!outs || outs->t != J_ARR || !ins || ins->t != J_ARR || !is_hex64(jstr(config, "sha256"))) {
        optout_set_err(err, errlen, "%s: malformed (outputs, inputs or config.sha256)", path);
        goto out;
    }
    snprintf(summary->version, sizeof summary->version, "%s", jstr(software, "version") ? jstr(software, "version") : "?");
    snprintf(summary->config_sha256, sizeof summary->config_sha256, "%s", jstr(config, "sha256"));
    /* outputs as listed */
    if (!(listed = optout_strmap_new())) optout_oom("the manifest's file list");
    for (size_t i = 0; i < outs->n; i++) {
        const struct jv *o = &outs->items[i];
        const char *p = jstr(o, "path"), *sha = jstr(o, "sha256");
        int64_t size;
        if (!p || !*p || !is_hex64(sha) || !jint(o, "size", &size) || size < 0 || p[0] == '/' || strstr(p, "..")) {
            optout_set_err(err, errlen, "%s: outputs[%zu] is malformed", path, i);
            goto out;
        }
        optout_strmap_put(listed, p, strlen(p), (void *)1, NULL);
        summary->outputs++;
        char *abs = path_join(dir, p);
        struct stat st;
        if (stat(abs, &st) != 0) {
            problem(&v, "output", p, "%s", errno == ENOENT ? "missing" : strerror(errno));
            free(abs);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            problem(&v, "output", p, "not a regular file");
            free(abs);
            continue;
        }
        if ((int64_t)st.st_size != size) {
            problem(&v, "output", p, "size %lld, manifest says %" PRId64, (long long)st.st_size, size);
            free(abs);
            continue;
        }
        struct file *f = files_add(&outputs, strdup(p), abs);
        if (!f) optout_oom("the manifest's file list");
        snprintf(f->sha, sizeof f->sha, "%s", sha); /* expected, until hashed below */
        f->size = (uint64_t)size;
        f->hash = 1;
    }
    {
        char (*expected)[65] = optout_malloc((outputs.n + 1) * sizeof *expected);
        for (size_t i = 0; i < outputs.n; i++) memcpy(expected[i], outputs.v[i].sha, 65);
        struct files *lists[] = {&outputs};
        summary->hashed_bytes += hash_files(lists, 1, jobs);
        for (size_t i = 0; i < outputs.n; i++) {
            if (outputs.v[i].err) problem(&v, "output", outputs.v[i].rel, "%s", strerror(outputs.v[i].err));
            else if (strcmp(outputs.v[i].sha, expected[i]) != 0)
                problem(&v, "output", outputs.v[i].rel, "SHA-256 differs (content changed)");
        }
        free(expected);
    }
    /* outputs present but not listed */
    char werr[1024];
    if (list_outputs(dir, &present, werr, sizeof werr) != 0) {
        problem(&v, "output", dir, "%s", werr);
    } else {
        for (size_t i = 0; i < present.n; i++)
            if (!optout_strmap_get(listed, present.v[i].rel, strlen(present.v[i].rel)))
                problem(&v, "output", present.v[i].rel, "not in the manifest");
    }
    /* the plan */
    optout_plan plan;
    char perr[1024];
    if (optout_plan_read(dir, &plan, perr, sizeof perr) != 0) problem(&v, "plan", "plan", "%s", perr);
    else if (strcmp(plan.config, summary->config_sha256) != 0)
        problem(&v, "plan", "plan", "config hash %.12s..., manifest says %.12s... (run with other options)", plan.config,
                summary->config_sha256);
    optout_plan_free(&plan);
    if (check_inputs && verify_inputs(ins, jobs, &v, err, errlen) != 0) goto out;
    rc = summary->problems ? 1 : 0;
out:
    optout_strmap_free(listed, NULL);
    files_free(&outputs);
    files_free(&present);
    jv_free(&root);
out_text:
    free(text);
    free(path);
    return rc;
}
