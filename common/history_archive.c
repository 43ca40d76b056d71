/* history_archive.c — the history archive (include/optout/history_archive.h: layout and contract).
 *
 * Writer. Bodies go to the staging bodies.zst as they arrive, one frame per new SHA-256 (written by
 * archive_append_frame, the robots archive's frame writer; a map from the hex digest to the frame's
 * place), so memory holds only the versions: one fixed record each (the version, its frame, its
 * capture count) with host and redirect strings interned once. Merging needs every capture of a
 * host, and captures of one host come from many WARC files in any order, so the index is written
 * only at commit: sorted, merged, then published by one rename of the staging directory (renameat2
 * RENAME_EXCHANGE when an archive exists, so that the name never points at nothing).
 *
 * Reader. index.tsv is read whole into one buffer, split in place (strings stay in it), checked
 * line by line into one array of versions in file order — which is host order, so a host's versions
 * are a contiguous slice — plus a parallel array of frame places, and a map from host key to its
 * slice. Bodies are read alone by pread of their frame and checked by the robots archive's reader
 * (archive_internal.h), the one place that decompresses and verifies a stored body.
 */
#include "optout/history_archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_internal.h"
#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/warc.h"

#define HA_INDEX OPTOUT_HISTORY_INDEX
#define HA_BODIES "bodies.zst"
#define HA_SOURCES "sources.tsv"
#define HA_STAGING ".history.staging."
#define HA_COLUMNS 16
#define HA_MAGIC "#optout-history 1"

static const char COLUMNS[] = "#host\tscheme\torigin\tcrawl\tfirst\tlast\tcaptures\tstatus\toutcome\tredirect\t"
                              "redirect_scheme\tsha256\tsize\ttruncated\toffset\tlength\n";

static const char *scheme_name(optout_history_scheme s) { return s == OPTOUT_HISTORY_HTTPS ? "https" : "http"; }
static const char *origin_name(optout_history_origin o) { return o == OPTOUT_HISTORY_WAYBACK ? "wayback" : "cc"; }

/* ---- writer ---------------------------------------------------------------------------------- */

struct wver {
    const char *host;
    optout_history_version v;
    uint64_t captures, offset, length;
};

struct frame {
    uint64_t offset, length;
};

struct optout_history_writer {
    char *dir, *staging, *final;
    int bfd;
    uint64_t boff;
    archive_compressor comp;
    optout_strmap *strings; /* host keys and redirect targets: key -> malloc'd copy */
    optout_strmap *frames;  /* sha256 hex -> struct frame */
    struct wver *v;
    size_t n, cap;
    uint64_t body_bytes;
    char *sources; /* sources.tsv's lines, built as files are read */
    size_t sources_len, sources_cap;
    int apart; /* captures kept apart: a part of a build, merged later (optout_history_writer_merge) */
};

static void free_value(void *p) { free(p); }

static void writer_free(optout_history_writer *w) {
    if (!w) return;
    if (w->bfd >= 0) close(w->bfd);
    archive_compressor_free(&w->comp);
    optout_strmap_free(w->strings, free_value);
    optout_strmap_free(w->frames, free_value);
    free(w->v);
    free(w->sources);
    free(w->dir);
    free(w->staging);
    free(w->final);
    free(w);
}

/* Staging directories of writers that are gone (their pid no longer runs). */
static void remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t plen = strlen(HA_STAGING);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, HA_STAGING, plen) != 0) continue;
        uint64_t pid;
        const char *p = e->d_name + plen;
        if (optout_parse_u64(p, strlen(p), INT32_MAX, &pid) != 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) continue;
        (void)optout_remove_tree(path);
        free(path);
    }
    closedir(d);
}

optout_history_writer *optout_history_writer_new(const char *dir, int level, char *err, size_t errlen) {
    optout_history_writer *w = calloc(1, sizeof *w);
    if (!w) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    w->bfd = -1;
    w->comp.level = level;
    if (!(w->dir = strdup(dir)) || asprintf(&w->staging, "%s/%s%ld", dir, HA_STAGING, (long)getpid()) < 0 ||
        asprintf(&w->final, "%s/%s", dir, OPTOUT_HISTORY_DIR) < 0 ||
        !(w->strings = optout_strmap_new()) || !(w->frames = optout_strmap_new())) {
        optout_set_err(err, errlen, "out of memory");
        writer_free(w);
        return NULL;
    }
    struct stat st;
    if (lstat(w->final, &st) == 0 && !S_ISDIR(st.st_mode)) {
        optout_set_err(err, errlen, "%s is %s, not a history archive: refusing to replace it", w->final,
                       S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
        writer_free(w);
        return NULL;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/x", w->staging);
    (void)optout_remove_tree(w->staging); /* a dead writer of our own pid */
    if (optout_make_parent_dirs(probe) != 0) {
        optout_set_err(err, errlen, "%s: cannot create the directory: %s", w->staging, strerror(errno));
        writer_free(w);
        return NULL;
    }
    remove_stale(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", w->staging, HA_BODIES);
    w->bfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (w->bfd < 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        (void)optout_remove_tree(w->staging);
        writer_free(w);
        return NULL;
    }
    return w;
}

/* The interned copy of s (NULL on out of memory). */
static const char *intern(optout_history_writer *w, const char *s) {
    size_t len = strlen(s);
    char *have = optout_strmap_get(w->strings, s, len);
    if (have) return have;
    char *copy = strdup(s);
    if (!copy || optout_strmap_put(w->strings, s, len, copy, NULL) != 0) {
        free(copy);
        return NULL;
    }
    return copy;
}

static int text_ok(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f) return 0;
    return 1;
}

int optout_history_writer_add(optout_history_writer *w, const char *host, const optout_history_version *v,
                              uint64_t captures, const void *body, size_t len, char *err, size_t errlen) {
    if (!text_ok(host) || host[0] == '#') {
        optout_set_err(err, errlen, "history archive: bad host key '%s'", host ? host : "");
        return -1;
    }
    if (v->first > v->last || captures == 0 || (v->redirect && !text_ok(v->redirect)) ||
        (unsigned)v->outcome >= OPTOUT_OUTCOME_COUNT || v->status < 0 || v->status > 999 ||
        (v->crawl[0] && !text_ok(v->crawl))) {
        optout_set_err(err, errlen, "history archive: version of %s: bad times, counts, crawl, status or redirect",
                       host);
        return -1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        struct wver *p = realloc(w->v, cap * sizeof *p);
        if (!p) {
            optout_set_err(err, errlen, "out of memory (%zu versions)", cap);
            return -1;
        }
        w->v = p;
        w->cap = cap;
    }
    struct wver x = {.v = *v, .captures = captures};
    if (!(x.host = intern(w, host)) || (v->redirect && !(x.v.redirect = intern(w, v->redirect)))) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    x.v.sha256[0] = '\0';
    x.v.size = 0;
    if (v->outcome == OPTOUT_OUTCOME_OK) {
        if (!body) len = 0;
        optout_sha256_hex(body ? body : "", len, x.v.sha256);
        if (v->sha256[0] && strcmp(v->sha256, x.v.sha256) != 0) {
            optout_set_err(err, errlen, "history archive: version of %s claims SHA-256 %.64s, its body has %s", host,
                           v->sha256, x.v.sha256);
            return -1;
        }
        x.v.size = len;
        struct frame *f = optout_strmap_get(w->frames, x.v.sha256, 64);
        if (!f) {
            char where[4200];
            uint64_t length;
            snprintf(where, sizeof where, "%s/%s", w->staging, HA_BODIES);
            if (archive_append_frame(&w->comp, w->bfd, body, len, &length, where, err, errlen) != 0) return -1;
            if (!(f = malloc(sizeof *f))) {
                optout_set_err(err, errlen, "out of memory");
                return -1;
            }
            f->offset = w->boff;
            f->length = length;
            w->boff += length;
            w->body_bytes += len;
            if (optout_strmap_put(w->frames, x.v.sha256, 64, f, NULL) != 0) {
                free(f);
                optout_set_err(err, errlen, "out of memory");
                return -1;
            }
        }
        x.offset = f->offset;
        x.length = f->length;
    }
    w->v[w->n++] = x;
    return 0;
}

int optout_history_writer_source(optout_history_writer *w, const char *location, const char *crawl, uint64_t bytes,
                                 uint64_t records, uint64_t responses, const uint64_t *bad, size_t nbad, char *err,
                                 size_t errlen) {
    char nums[512];
    int n = snprintf(nums, sizeof nums, "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64, crawl && *crawl ? crawl : "-", bytes,
                     records, responses);
    for (size_t k = 0; k < nbad && n > 0 && (size_t)n < sizeof nums; k++)
        n += snprintf(nums + n, sizeof nums - (size_t)n, "\t%" PRIu64, bad[k]);
    size_t loc = strlen(location), need = loc + (size_t)n + 2;
    if (w->sources_len + need > w->sources_cap) {
        size_t cap = w->sources_cap ? w->sources_cap : 4096;
        while (cap < w->sources_len + need) cap *= 2;
        char *p = realloc(w->sources, cap);
        if (!p) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        w->sources = p;
        w->sources_cap = cap;
    }
    for (size_t i = 0; i < loc; i++) {
        unsigned char ch = (unsigned char)location[i];
        w->sources[w->sources_len++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    memcpy(w->sources + w->sources_len, nums, (size_t)n);
    w->sources_len += (size_t)n;
    w->sources[w->sources_len++] = '\n';
    return 0;
}

void optout_history_writer_counts(const optout_history_writer *w, uint64_t *added, uint64_t *bodies,
                                  uint64_t *body_bytes) {
    if (added) *added = w->n;
    if (bodies) *bodies = optout_strmap_count(w->frames);
    if (body_bytes) *body_bytes = w->body_bytes;
}

static int cmp_str(const char *a, const char *b) {
    if (a == b) return 0;
    if (!a || !b) return a ? 1 : -1;
    return strcmp(a, b);
}

/* The same answer: what merging requires besides host, scheme, origin and crawl. */
static int same_answer(const optout_history_version *a, const optout_history_version *b) {
    return a->status == b->status && a->outcome == b->outcome && cmp_str(a->redirect, b->redirect) == 0 &&
           (!a->redirect || a->redirect_scheme == b->redirect_scheme) && strcmp(a->sha256, b->sha256) == 0 &&
           a->truncated == b->truncated;
}

/* host, scheme, origin, crawl: one series of captures. */
static int cmp_series(const char *ha, const optout_history_version *a, const char *hb, const optout_history_version *b) {
    int c = strcmp(ha, hb);
    if (c) return c;
    if (a->scheme != b->scheme) return a->scheme < b->scheme ? -1 : 1;
    if (a->origin != b->origin) return a->origin < b->origin ? -1 : 1;
    return strcmp(a->crawl, b->crawl);
}

static int cmp_wver(const void *pa, const void *pb) {
    const struct wver *a = pa, *b = pb;
    int c = cmp_series(a->host, &a->v, b->host, &b->v);
    if (c) return c;
    if (a->v.first != b->v.first) return a->v.first < b->v.first ? -1 : 1;
    if (a->v.last != b->v.last) return a->v.last < b->v.last ? -1 : 1;
    /* equal times: any fixed order, so that the output does not depend on the input's */
    if (a->v.status != b->v.status) return a->v.status < b->v.status ? -1 : 1;
    if ((c = strcmp(a->v.sha256, b->v.sha256))) return c;
    if ((c = cmp_str(a->v.redirect, b->v.redirect))) return c;
    if (a->v.redirect_scheme != b->v.redirect_scheme) return a->v.redirect_scheme < b->v.redirect_scheme ? -1 : 1;
    if (a->v.outcome != b->v.outcome) return a->v.outcome < b->v.outcome ? -1 : 1;
    return a->v.truncated - b->v.truncated;
}

static void put_time(FILE *f, int64_t t) {
    char buf[32];
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, f);
}

/* DIR/history becomes the staging directory. 0, or -1 with errno. */
static int publish(optout_history_writer *w) {
    struct stat st;
    if (lstat(w->final, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
        if (renameat2(AT_FDCWD, w->staging, AT_FDCWD, w->final, RENAME_EXCHANGE) != 0) return -1;
        /* the staging name now holds the old archive */
        if (optout_fsync_dir(w->dir) != 0) return -1;
        (void)optout_remove_tree(w->staging);
        return 0;
    }
    if (errno != ENOENT) return -1;
    if (rename(w->staging, w->final) != 0) return -1;
    return optout_fsync_dir(w->dir);
}

int optout_history_writer_commit(optout_history_writer *w, uint64_t *versions, uint64_t *hosts, char *err,
                                 size_t errlen) {
    int rc = -1;
    FILE *f = NULL;
    char path[4096];
    if (w->n) qsort(w->v, w->n, sizeof *w->v, cmp_wver);
    /* merge in place */
    size_t out = 0, nhosts = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct wver *x = &w->v[i];
        if (out > 0) {
            struct wver *prev = &w->v[out - 1];
            if (!w->apart && cmp_series(prev->host, &prev->v, x->host, &x->v) == 0 && same_answer(&prev->v, &x->v)) {
                if (x->v.last > prev->v.last) prev->v.last = x->v.last;
                prev->captures += x->captures;
                continue;
            }
        }
        if (out == 0 || strcmp(w->v[out - 1].host, x->host) != 0) nhosts++;
        w->v[out++] = *x;
    }
    w->n = out;
    snprintf(path, sizeof path, "%s/%s", w->staging, HA_INDEX);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        goto done;
    }
    fprintf(f, "%s\tbodies=%" PRIu64 "\tversions=%zu\thosts=%zu\n", HA_MAGIC, w->boff, w->n, nhosts);
    fputs(COLUMNS, f);
    for (size_t i = 0; i < w->n; i++) {
        const struct wver *x = &w->v[i];
        const optout_history_version *v = &x->v;
        fprintf(f, "%s\t%s\t%s\t%s\t", x->host, scheme_name(v->scheme), origin_name(v->origin),
                v->crawl[0] ? v->crawl : "-");
        put_time(f, v->first);
        fputc('\t', f);
        put_time(f, v->last);
        fprintf(f, "\t%" PRIu64 "\t%d\t%s\t%s\t%s\t%s\t%" PRIu64 "\t%d\t%" PRIu64 "\t%" PRIu64 "\n", x->captures,
                v->status, optout_outcome_name(v->outcome), v->redirect ? v->redirect : "-",
                v->redirect ? scheme_name(v->redirect_scheme) : "-", v->sha256[0] ? v->sha256 : "-", v->size,
                v->truncated ? 1 : 0, x->offset, x->length);
    }
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    /* sources.tsv */
    {
        char spath[4096];
        snprintf(spath, sizeof spath, "%s/%s", w->staging, HA_SOURCES);
        int sfd = open(spath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        char head[256];
        int hn = snprintf(head, sizeof head, "#location\tcrawl\tbytes\trecords\tresponses");
        for (int k = 0; k < OPTOUT_WARC_BAD_COUNT; k++)
            hn += snprintf(head + hn, sizeof head - (size_t)hn, "\t%s", optout_warc_bad_name((optout_warc_bad_kind)k));
        head[hn++] = '\n';
        int bad = sfd < 0 || write(sfd, head, (size_t)hn) != hn ||
                  (w->sources_len && write(sfd, w->sources, w->sources_len) != (ssize_t)w->sources_len) || fsync(sfd) != 0;
        int e = errno;
        if (sfd >= 0 && close(sfd) != 0 && !bad) bad = 1, e = errno;
        if (bad) {
            optout_set_err(err, errlen, "%s: %s", spath, strerror(e));
            goto done;
        }
    }
    if (fsync(w->bfd) != 0) {
        optout_set_err(err, errlen, "%s/%s: %s", w->staging, HA_BODIES, strerror(errno));
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    f = NULL;
    if (optout_fsync_dir(w->staging) != 0 || publish(w) != 0) {
        optout_set_err(err, errlen, "publishing %s as %s: %s", w->staging, w->final, strerror(errno));
        goto done;
    }
    if (versions) *versions = w->n;
    if (hosts) *hosts = nhosts;
    rc = 0;
done:
    if (f) fclose(f);
    if (rc != 0) (void)optout_remove_tree(w->staging);
    writer_free(w);
    return rc;
}

void optout_history_writer_abort(optout_history_writer *w) {
    if (!w) return;
    (void)optout_remove_tree(w->staging);
    writer_free(w);
}

/* ---- reader ---------------------------------------------------------------------------------- */

struct rloc {
    uint64_t offset, length, captures;
};

struct optout_history_archive {
    char *path;   /* DIR/history, for messages */
    char *buf;    /* index.tsv, split in place */
    int bfd;
    optout_history_version *v;
    struct rloc *loc;
    size_t n;
    optout_history_host *hosts;
    size_t nhosts;
    optout_strmap *by_host; /* host -> index in hosts + 1 */
};

void optout_history_archive_close(optout_history_archive *a) {
    if (!a) return;
    if (a->bfd >= 0) close(a->bfd);
    optout_strmap_free(a->by_host, NULL);
    free(a->hosts);
    free(a->loc);
    free(a->v);
    free(a->buf);
    free(a->path);
    free(a);
}

/* A regular file of the open directory, opened without following a link; its size. */
static int open_regular(int dfd, const char *name, const char *where, uint64_t *size, char *err, size_t errlen) {
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        optout_set_err(err, errlen, "%s/%s: %s", where, name,
                       errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        optout_set_err(err, errlen, "%s/%s: not a regular file", where, name);
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static int parse_scheme(const char *s, optout_history_scheme *out) {
    if (!strcmp(s, "http")) *out = OPTOUT_HISTORY_HTTP;
    else if (!strcmp(s, "https")) *out = OPTOUT_HISTORY_HTTPS;
    else return -1;
    return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) { return optout_parse_u64(s, strlen(s), max, out); }

static int parse_stamp(const char *s, int64_t *t) {
    return strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z' ? optout_history_parse_time(s, 20, t) : -1;
}

/* One line (NUL-terminated, no '\n') into v and loc. NULL, or what is wrong with it. */
static const char *parse_line(char *line, const char **host, optout_history_version *v, struct rloc *loc,
                              uint64_t bodies_size) {
    char *col[HA_COLUMNS];
    size_t n = 0;
    for (char *p = line;;) {
        if (n == HA_COLUMNS) return "too many columns";
        col[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    if (n != HA_COLUMNS) return "too few columns";
    memset(v, 0, sizeof *v);
    *host = col[0];
    if (!text_ok(col[0]) || col[0][0] == '#') return "bad host key";
    if (parse_scheme(col[1], &v->scheme) != 0) return "bad scheme";
    if (!strcmp(col[2], "cc")) v->origin = OPTOUT_HISTORY_CC;
    else if (!strcmp(col[2], "wayback")) v->origin = OPTOUT_HISTORY_WAYBACK;
    else return "bad origin";
    if (strcmp(col[3], "-") != 0) {
        char crawl[OPTOUT_HISTORY_CRAWL_MAX];
        if (!optout_history_find_crawl(col[3], strlen(col[3]), crawl) || strcmp(crawl, col[3]) != 0)
            return "bad crawl id";
        memcpy(v->crawl, crawl, sizeof crawl);
    }
    if (parse_stamp(col[4], &v->first) != 0 || parse_stamp(col[5], &v->last) != 0 || v->first > v->last)
        return "bad first or last time";
    uint64_t captures, status, size, trunc, off, len;
    if (parse_u64(col[6], UINT32_MAX, &captures) != 0 || captures == 0) return "bad capture count";
    if (parse_u64(col[7], 999, &status) != 0) return "bad status";
    v->status = (int)status;
    if (optout_outcome_parse(col[8], &v->outcome) != 0 ||
        (v->outcome != OPTOUT_OUTCOME_OK && v->outcome != OPTOUT_OUTCOME_UNAVAILABLE &&
         v->outcome != OPTOUT_OUTCOME_UNREACHABLE))
        return "bad outcome";
    if (strcmp(col[9], "-") != 0) {
        if (!text_ok(col[9])) return "bad redirect";
        v->redirect = col[9];
        if (parse_scheme(col[10], &v->redirect_scheme) != 0) return "bad redirect scheme";
    } else if (strcmp(col[10], "-") != 0) {
        return "a redirect scheme without a redirect";
    }
    if (parse_u64(col[12], ARCHIVE_BODY_MAX, &size) != 0 || parse_u64(col[13], 1, &trunc) != 0 ||
        parse_u64(col[14], UINT64_MAX, &off) != 0 || parse_u64(col[15], UINT64_MAX, &len) != 0)
        return "bad size, truncated, offset or length";
    v->size = size;
    v->truncated = (int)trunc;
    if (v->outcome == OPTOUT_OUTCOME_OK) {
        unsigned char sha[32];
        if (archive_hex_to_sha(col[11], sha) != 0) return "bad sha256";
        memcpy(v->sha256, col[11], 65);
        if (len == 0 || off > bodies_size || len > bodies_size - off) return "body frame outside bodies.zst";
    } else if (strcmp(col[11], "-") != 0 || size || off || len) {
        return "a body on a version that is not ok";
    }
    loc->offset = off;
    loc->length = len;
    loc->captures = captures;
    return NULL;
}

/* What checking index.tsv carries from line to line (both readers: the whole archive's and the
 * cursor's): line 1's counts, the previous line's series and time for the order, what was counted. */
struct scan {
    const char *path; /* DIR/history, for messages */
    uint64_t bsize, want_versions, want_hosts;
    uint64_t line; /* of the line being checked (1-based) */
    uint64_t versions, hosts;
    char *prev_host; /* a copy: the cursor's lines do not outlive their host */
    size_t prev_cap;
    optout_history_version prev;
};

static void scan_free(struct scan *s) { free(s->prev_host); }

/* DIR/history and its index and bodies opened without following links (the directory's path into
 * *path, the index's descriptor and size, the bodies' descriptor and size). 0, or -1 with err. */
static int open_files(const char *dir, char **path, int *ifd, uint64_t *isize, int *bfd, uint64_t *bsize, char *err,
                      size_t errlen) {
    *ifd = *bfd = -1;
    if (asprintf(path, "%s/%s", dir, OPTOUT_HISTORY_DIR) < 0) {
        *path = NULL;
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    int dfd = open(*path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        struct stat st;
        int link = lstat(*path, &st) == 0 && S_ISLNK(st.st_mode); /* O_DIRECTORY says ENOTDIR for one */
        optout_set_err(err, errlen, "%s: %s", *path,
                       link              ? "a symbolic link (refused)"
                       : e == ENOENT     ? "no history archive (build one with optout history)"
                       : e == ENOTDIR    ? "not a directory"
                                         : strerror(e));
        return -1;
    }
    int rc = -1;
    if ((*ifd = open_regular(dfd, HA_INDEX, *path, isize, err, errlen)) >= 0 &&
        (*bfd = open_regular(dfd, HA_BODIES, *path, bsize, err, errlen)) >= 0)
        rc = 0;
    close(dfd);
    return rc;
}

/* Line 1 (NUL-terminated, NULL when the file has no line end) and line 2 (len2 bytes, its '\n'
 * included; NULL when none) of an index of isize bytes, beside a bodies file of bsize, into s.
 * 0, or -1 with err. */
static int scan_header(struct scan *s, const char *line1, const char *line2, size_t len2, uint64_t isize,
                       uint64_t bsize, char *err, size_t errlen) {
    if (!line1 ||
        sscanf(line1, HA_MAGIC "\tbodies=%" SCNu64 "\tversions=%" SCNu64 "\thosts=%" SCNu64, &s->bsize,
               &s->want_versions, &s->want_hosts) != 3 ||
        strncmp(line1, HA_MAGIC "\t", sizeof HA_MAGIC) != 0) {
        optout_set_err(err, errlen, "%s/%s:1: not a history archive index", s->path, HA_INDEX);
        return -1;
    }
    if (s->bsize != bsize) {
        optout_set_err(err, errlen, "%s/%s has %" PRIu64 " bytes, %s:1 says %" PRIu64 " (not of this index)", s->path,
                       HA_BODIES, bsize, HA_INDEX, s->bsize);
        return -1;
    }
    if (s->want_versions > isize / HA_COLUMNS || s->want_hosts > s->want_versions) {
        optout_set_err(err, errlen, "%s/%s:1: %" PRIu64 " versions cannot fit in the file", s->path, HA_INDEX,
                       s->want_versions);
        return -1;
    }
    if (!line2 || len2 != sizeof COLUMNS - 1 || memcmp(line2, COLUMNS, sizeof COLUMNS - 1) != 0) {
        optout_set_err(err, errlen, "%s/%s:2: not the columns of this version", s->path, HA_INDEX);
        return -1;
    }
    s->line = 2;
    return 0;
}

/* The next line (NUL-terminated, no '\n') checked into v and loc: its columns, its order after the
 * previous line, the counts of line 1. *new_host: it starts a host. 0, or -1 with err naming the line. */
static int scan_line(struct scan *s, char *text, const char **host, optout_history_version *v, struct rloc *loc,
                     int *new_host, char *err, size_t errlen) {
    s->line++;
    if (s->versions == s->want_versions) {
        optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": more versions than the %" PRIu64 " of line 1", s->path,
                       HA_INDEX, s->line, s->want_versions);
        return -1;
    }
    const char *why = parse_line(text, host, v, loc, s->bsize);
    *new_host = !why && (!s->prev_host || strcmp(s->prev_host, *host) != 0);
    if (!why && s->versions > 0) {
        int c = cmp_series(s->prev_host, &s->prev, *host, v);
        if (c > 0 || (c == 0 && s->prev.first > v->first)) why = "out of order";
    }
    if (why) {
        optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": %s", s->path, HA_INDEX, s->line, why);
        return -1;
    }
    if (*new_host) {
        if (s->hosts == s->want_hosts) {
            optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": more hosts than the %" PRIu64 " of line 1", s->path,
                           HA_INDEX, s->line, s->want_hosts);
            return -1;
        }
        size_t n = strlen(*host) + 1;
        if (n > s->prev_cap) {
            char *p = realloc(s->prev_host, n);
            if (!p) {
                optout_set_err(err, errlen, "out of memory");
                return -1;
            }
            s->prev_host = p;
            s->prev_cap = n;
        }
        memcpy(s->prev_host, *host, n);
        s->hosts++;
    }
    s->prev = *v;
    s->prev.redirect = NULL; /* not compared; its line may be gone */
    s->versions++;
    return 0;
}

/* After the last line: the counts of line 1. */
static int scan_end(const struct scan *s, char *err, size_t errlen) {
    if (s->versions == s->want_versions && s->hosts == s->want_hosts) return 0;
    optout_set_err(err, errlen, "%s/%s: %" PRIu64 " versions of %" PRIu64 " hosts, line 1 says %" PRIu64 " of %" PRIu64,
                   s->path, HA_INDEX, s->versions, s->hosts, s->want_versions, s->want_hosts);
    return -1;
}

optout_history_archive *optout_history_archive_open(const char *dir, char *err, size_t errlen) {
    optout_history_archive *a = calloc(1, sizeof *a);
    int ifd = -1;
    struct scan s = {0};
    if (!a) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    a->bfd = -1;
    uint64_t isize, bsize;
    if (open_files(dir, &a->path, &ifd, &isize, &a->bfd, &bsize, err, errlen) != 0) goto fail;
    s.path = a->path;
    if (!(a->by_host = optout_strmap_new())) {
        optout_set_err(err, errlen, "out of memory");
        goto fail;
    }
    size_t len = 0;
    if (!(a->buf = optout_read_fd(ifd, (size_t)isize + 1, &len))) {
        optout_set_err(err, errlen, "%s/%s: %s", a->path, HA_INDEX, strerror(errno));
        goto fail;
    }
    /* header */
    char *p = a->buf, *end = a->buf + len;
    char *nl = memchr(p, '\n', len), *line2 = nl ? nl + 1 : NULL, *nl2 = NULL;
    if (nl) *nl = '\0';
    if (line2) nl2 = memchr(line2, '\n', (size_t)(end - line2));
    if (scan_header(&s, nl ? p : NULL, nl2 ? line2 : NULL, nl2 ? (size_t)(nl2 + 1 - line2) : 0, isize, bsize, err,
                    errlen) != 0)
        goto fail;
    p = nl2 + 1;
    a->v = calloc(s.want_versions ? s.want_versions : 1, sizeof *a->v);
    a->loc = calloc(s.want_versions ? s.want_versions : 1, sizeof *a->loc);
    a->hosts = calloc(s.want_hosts ? s.want_hosts : 1, sizeof *a->hosts);
    if (!a->v || !a->loc || !a->hosts) {
        optout_set_err(err, errlen, "out of memory");
        goto fail;
    }
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": the last line has no end (a torn index)", a->path,
                           HA_INDEX, s.line + 1);
            goto fail;
        }
        *nl = '\0';
        const char *host;
        int new_host;
        optout_history_version *v = &a->v[a->n];
        if (scan_line(&s, p, &host, v, &a->loc[a->n], &new_host, err, errlen) != 0) goto fail;
        if (new_host) {
            optout_history_host *h = &a->hosts[a->nhosts++];
            h->host = host;
            h->host_len = strlen(host);
            h->versions = v;
            h->count = 0;
            if (optout_strmap_put(a->by_host, host, h->host_len, (void *)(uintptr_t)a->nhosts, NULL) != 0) {
                optout_set_err(err, errlen, "out of memory");
                goto fail;
            }
        }
        a->hosts[a->nhosts - 1].count++;
        a->n++;
        p = nl + 1;
    }
    if (scan_end(&s, err, errlen) != 0) goto fail;
    close(ifd);
    scan_free(&s);
    return a;
fail:
    if (ifd >= 0) close(ifd);
    scan_free(&s);
    optout_history_archive_close(a);
    return NULL;
}

static int source_lookup(void *arg, const char *host, size_t len, optout_history_host *out, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    optout_history_archive *a = arg;
    uintptr_t i = (uintptr_t)optout_strmap_get(a->by_host, host, len);
    if (!i) return 0;
    *out = a->hosts[i - 1];
    return 1;
}

/* The body of version `number` (1-based, for the error) of the archive at `path`, read from its
 * bodies file at loc and checked (size, SHA-256): the reader's and the cursor's one way to it. */
static int version_body(int bfd, const char *path, uint64_t number, const struct rloc *loc,
                        const optout_history_version *v, char **body, size_t *len, char *err, size_t errlen) {
    unsigned char sha[32];
    char where[4200];
    snprintf(where, sizeof where, "%s/%s (version %" PRIu64 ")", path, HA_BODIES, number);
    if (archive_hex_to_sha(v->sha256, sha) != 0) {
        optout_set_err(err, errlen, "%s: bad sha256", where);
        return -1;
    }
    if (archive_read_body(bfd, where, loc->offset, loc->length, v->size, sha, body, err, errlen) != 0) return -1;
    *len = (size_t)v->size;
    return 0;
}

/* v's position in the archive, or -1 when v is not one of its versions. */
static long version_index(const optout_history_archive *a, const optout_history_version *v) {
    if (!a->n || v < a->v || v >= a->v + a->n) return -1;
    return (long)(v - a->v);
}

static int source_body(void *arg, const optout_history_version *v, char **body, size_t *len, char *err,
                       size_t errlen) {
    optout_history_archive *a = arg;
    long i = version_index(a, v);
    if (i < 0 || v->outcome != OPTOUT_OUTCOME_OK) {
        optout_set_err(err, errlen, "%s: no body for this version", a->path);
        return -1;
    }
    return version_body(a->bfd, a->path, (uint64_t)i + 1, &a->loc[i], v, body, len, err, errlen);
}

optout_history_source optout_history_archive_source(optout_history_archive *a) {
    optout_history_source s = {.arg = a, .lookup = source_lookup, .body = source_body};
    return s;
}

size_t optout_history_archive_hosts(const optout_history_archive *a) { return a->nhosts; }
size_t optout_history_archive_versions(const optout_history_archive *a) { return a->n; }

optout_history_host optout_history_archive_host(const optout_history_archive *a, size_t i) { return a->hosts[i]; }

uint64_t optout_history_archive_captures(const optout_history_archive *a, const optout_history_version *v) {
    long i = version_index(a, v);
    return i < 0 ? 0 : a->loc[i].captures;
}

/* ---- reading host by host ------------------------------------------------------------------ */

struct optout_history_cursor {
    char *path; /* DIR/history, for messages */
    FILE *f;    /* index.tsv */
    int bfd;
    uint64_t data; /* where line 3 starts */
    struct scan s;
    char *line; /* the line read ahead: the first of the next host */
    size_t line_cap;
    ssize_t line_len; /* -1: none read ahead */
    char *text; /* the current host's lines, each NUL-terminated */
    size_t text_len, text_cap;
    optout_history_version *v;
    struct rloc *loc;
    uint64_t *captures;
    size_t n, cap;
    uint64_t first; /* the index of v[0] among every version of the archive */
};

void optout_history_cursor_close(optout_history_cursor *c) {
    if (!c) return;
    if (c->f) fclose(c->f);
    if (c->bfd >= 0) close(c->bfd);
    scan_free(&c->s);
    free(c->line);
    free(c->text);
    free(c->v);
    free(c->loc);
    free(c->captures);
    free(c->path);
    free(c);
}

/* The next line of the index into c->line (its '\n' removed): 1, 0 at the end, -1 with err (a read
 * error, or a last line without its end). */
static int cursor_read(optout_history_cursor *c, uint64_t number, char *err, size_t errlen) {
    errno = 0;
    c->line_len = getline(&c->line, &c->line_cap, c->f);
    if (c->line_len < 0) {
        if (ferror(c->f)) {
            optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": %s", c->path, HA_INDEX, number,
                           strerror(errno ? errno : EIO));
            return -1;
        }
        return 0;
    }
    if (c->line_len == 0 || c->line[c->line_len - 1] != '\n') {
        optout_set_err(err, errlen, "%s/%s:%" PRIu64 ": the last line has no end (a torn index)", c->path, HA_INDEX,
                       number);
        return -1;
    }
    c->line[--c->line_len] = '\0';
    return 1;
}

optout_history_cursor *optout_history_cursor_open(const char *dir, char *err, size_t errlen) {
    optout_history_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    c->bfd = -1;
    c->line_len = -1;
    int ifd = -1;
    uint64_t isize, bsize;
    if (open_files(dir, &c->path, &ifd, &isize, &c->bfd, &bsize, err, errlen) != 0) goto fail;
    c->s.path = c->path;
    if (!(c->f = fdopen(ifd, "r"))) {
        optout_set_err(err, errlen, "%s/%s: %s", c->path, HA_INDEX, strerror(errno));
        close(ifd);
        goto fail;
    }
    char *line1 = NULL;
    size_t cap1 = 0;
    ssize_t n1 = getline(&line1, &cap1, c->f);
    int have1 = n1 > 0 && line1[n1 - 1] == '\n';
    if (have1) line1[n1 - 1] = '\0';
    ssize_t n2 = have1 ? getline(&c->line, &c->line_cap, c->f) : -1;
    int have2 = n2 > 0 && c->line[n2 - 1] == '\n';
    int rc = scan_header(&c->s, have1 ? line1 : NULL, have2 ? c->line : NULL, have2 ? (size_t)n2 : 0, isize, bsize,
                         err, errlen);
    free(line1);
    if (rc != 0) goto fail;
    long at = ftell(c->f);
    if (at < 0) {
        optout_set_err(err, errlen, "%s/%s: %s", c->path, HA_INDEX, strerror(errno));
        goto fail;
    }
    c->data = (uint64_t)at;
    return c;
fail:
    optout_history_cursor_close(c);
    return NULL;
}

uint64_t optout_history_cursor_hosts(const optout_history_cursor *c) { return c->s.want_hosts; }
uint64_t optout_history_cursor_versions(const optout_history_cursor *c) { return c->s.want_versions; }

/* A line appended to the current host's text. */
static int cursor_keep(optout_history_cursor *c, char *err, size_t errlen) {
    size_t need = c->text_len + (size_t)c->line_len + 1;
    if (need > c->text_cap) {
        size_t cap = c->text_cap ? c->text_cap : 4096;
        while (cap < need) cap *= 2;
        char *t = realloc(c->text, cap);
        if (!t) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        c->text = t;
        c->text_cap = cap;
    }
    memcpy(c->text + c->text_len, c->line, (size_t)c->line_len + 1);
    c->text_len = need;
    c->n++;
    return 0;
}

int optout_history_cursor_next(optout_history_cursor *c, optout_history_host *h, const uint64_t **captures, char *err,
                               size_t errlen) {
    c->first = c->s.versions;
    c->n = c->text_len = 0;
    uint64_t number = c->s.line + 1; /* of the next line read */
    if (c->line_len < 0) {
        int r = cursor_read(c, number, err, errlen);
        if (r <= 0) return r < 0 ? -1 : scan_end(&c->s, err, errlen);
    }
    /* the lines of one host key (its first column), then the next host's first line kept */
    size_t hlen = strcspn(c->line, "\t");
    for (;;) {
        if (cursor_keep(c, err, errlen) != 0) return -1;
        int r = cursor_read(c, ++number, err, errlen);
        if (r < 0) return -1;
        if (r == 0) {
            c->line_len = -1;
            break;
        }
        if (strcspn(c->line, "\t") != hlen || memcmp(c->line, c->text, hlen) != 0) break;
    }
    if (c->n > c->cap) {
        size_t cap = c->n * 2;
        optout_history_version *v = realloc(c->v, cap * sizeof *v);
        if (v) c->v = v;
        struct rloc *loc = v ? realloc(c->loc, cap * sizeof *loc) : NULL;
        if (loc) c->loc = loc;
        uint64_t *cp = loc ? realloc(c->captures, cap * sizeof *cp) : NULL;
        if (cp) c->captures = cp;
        if (!cp) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        c->cap = cap;
    }
    /* checked as the whole archive's reader checks them: one host, so only the first starts one */
    const char *host = NULL;
    char *p = c->text;
    for (size_t i = 0; i < c->n; i++) {
        const char *hi;
        int new_host;
        size_t len = strlen(p);
        if (scan_line(&c->s, p, &hi, &c->v[i], &c->loc[i], &new_host, err, errlen) != 0) return -1;
        if (i == 0) host = hi;
        c->captures[i] = c->loc[i].captures;
        p += len + 1;
    }
    *h = (optout_history_host){.host = host, .host_len = strlen(host), .versions = c->v, .count = c->n};
    if (captures) *captures = c->captures;
    return 1;
}

int optout_history_cursor_body(optout_history_cursor *c, const optout_history_version *v, char **body, size_t *len,
                               char *err, size_t errlen) {
    if (!c->n || v < c->v || v >= c->v + c->n || v->outcome != OPTOUT_OUTCOME_OK) {
        optout_set_err(err, errlen, "%s: no body for this version", c->path);
        return -1;
    }
    size_t i = (size_t)(v - c->v);
    return version_body(c->bfd, c->path, c->first + i + 1, &c->loc[i], v, body, len, err, errlen);
}

int optout_history_cursor_rewind(optout_history_cursor *c, char *err, size_t errlen) {
    if (fseeko(c->f, (off_t)c->data, SEEK_SET) != 0) {
        optout_set_err(err, errlen, "%s/%s: %s", c->path, HA_INDEX, strerror(errno));
        return -1;
    }
    c->s.line = 2;
    c->s.versions = c->s.hosts = 0;
    free(c->s.prev_host);
    c->s.prev_host = NULL;
    c->s.prev_cap = 0;
    c->line_len = -1;
    c->n = 0;
    return 0;
}

/* ---- merging parts ------------------------------------------------------------------------- */

void optout_history_writer_apart(optout_history_writer *w) { w->apart = 1; }

/* PART/history/sources.tsv's lines into w (location replaced when given). */
static int merge_sources(optout_history_writer *w, const char *path, const char *location, char *err, size_t errlen) {
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    uint64_t size;
    int fd = dfd < 0 ? -1 : open_regular(dfd, HA_SOURCES, path, &size, err, errlen);
    if (dfd < 0) optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
    if (dfd >= 0) close(dfd);
    if (fd < 0) return -1;
    size_t len;
    char *buf = optout_read_fd(fd, (size_t)64 << 20, &len);
    close(fd);
    if (!buf) {
        optout_set_err(err, errlen, "%s/%s: %s", path, HA_SOURCES, strerror(errno));
        return -1;
    }
    int rc = 0;
    size_t line = 0;
    for (char *p = buf, *nl; rc == 0 && *p; p = nl + 1) {
        line++;
        if (!(nl = strchr(p, '\n'))) {
            optout_set_err(err, errlen, "%s/%s:%zu: no line end", path, HA_SOURCES, line);
            rc = -1;
            break;
        }
        *nl = '\0';
        if (*p == '#') continue;
        enum { NCOL = 5 + OPTOUT_WARC_BAD_COUNT };
        char *col[NCOL];
        size_t n = 0;
        for (char *q = p; q && n <= NCOL; n++) { /* n > NCOL: too many columns */
            if (n < NCOL) col[n] = q;
            char *tab = strchr(q, '\t');
            if (tab) *tab = '\0';
            q = tab ? tab + 1 : NULL;
        }
        uint64_t num[3 + OPTOUT_WARC_BAD_COUNT];
        for (size_t k = 0; n == NCOL && k < 3 + OPTOUT_WARC_BAD_COUNT; k++)
            if (optout_parse_u64(col[2 + k], strlen(col[2 + k]), UINT64_MAX, &num[k]) != 0) n = 0;
        if (n != NCOL) {
            optout_set_err(err, errlen, "%s/%s:%zu: not a sources line", path, HA_SOURCES, line);
            rc = -1;
            break;
        }
        rc = optout_history_writer_source(w, location ? location : col[0], strcmp(col[1], "-") ? col[1] : "", num[0],
                                          num[1], num[2], num + 3, OPTOUT_WARC_BAD_COUNT, err, errlen);
    }
    free(buf);
    return rc;
}

int optout_history_writer_merge(optout_history_writer *w, const char *part, const char *location, char *err,
                                size_t errlen) {
    optout_history_archive *a = optout_history_archive_open(part, err, errlen);
    if (!a) return -1;
    optout_history_source src = optout_history_archive_source(a);
    int rc = 0;
    for (size_t h = 0; h < a->nhosts && rc == 0; h++) {
        const optout_history_host *host = &a->hosts[h];
        for (size_t i = 0; i < host->count && rc == 0; i++) {
            const optout_history_version *v = &host->versions[i];
            char *body = NULL;
            size_t len = 0;
            if (v->outcome == OPTOUT_OUTCOME_OK && src.body(src.arg, v, &body, &len, err, errlen) != 0) {
                rc = -1;
                break;
            }
            rc = optout_history_writer_add(w, host->host, v, optout_history_archive_captures(a, v), body, len, err,
                                           errlen);
            free(body);
        }
    }
    if (rc == 0) rc = merge_sources(w, a->path, location, err, errlen);
    optout_history_archive_close(a);
    return rc;
}
