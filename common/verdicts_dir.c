/* verdicts_dir.c — the robots-directory verdict source (include/optout/verdicts.h).
 *
 * Opening lists the directory once (names only: a run over a corpus touches a small part of a
 * 2-million-host archive); bodies are read and compiled on first lookup. Compiled sets are kept up
 * to max_cached; beyond that a clock hand frees the oldest-visited ones, which are recompiled if
 * asked for again. The outcome of a host never changes once loaded.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "verdicts_internal.h"

#define ROBOTS_FILE_MAX ((size_t)64 << 20)

struct host {
    char *file; /* file name in the directory, or NULL */
    optout_outcome outcome;
    optout_robots *rules; /* compiled lazily, may be evicted */
    uint8_t visited;      /* clock bit */
};

struct dir_source {
    struct optout_verdicts base; /* first: a dir_source is an optout_verdicts */
    char *dir;
    const optout_agents *agents;
    optout_robots_mode mode;
    optout_strmap *hosts;
    struct host **compiled; /* ring of hosts holding compiled rules */
    size_t compiled_count, max_cached, hand;
    size_t files;
};

static void host_free(void *p) {
    struct host *h = p;
    if (!h) return;
    free(h->file);
    optout_robots_free(h->rules);
    free(h);
}

static const struct verdicts_ops DIR_OPS;

size_t optout_verdicts_dir_hosts(const optout_verdicts *base) {
    return base->ops == &DIR_OPS ? ((const struct dir_source *)base)->files : 0;
}

static void dir_free(optout_verdicts *base) {
    struct dir_source *v = (struct dir_source *)base;
    optout_strmap_free(v->hosts, host_free);
    free(v->compiled);
    free(v->dir);
    free(v);
}

/* File name -> host key: lower case, "host_PORT" -> "host:PORT", _80 and _443 dropped. */
static size_t key_of_file(const char *name, char *key, size_t cap) {
    size_t n = strlen(name);
    if (n + 1 > cap) return 0;
    for (size_t i = 0; i < n; i++) key[i] = (char)tolower((unsigned char)name[i]);
    key[n] = '\0';
    char *us = strrchr(key, '_');
    if (us && us[1]) {
        char *p = us + 1;
        while (*p >= '0' && *p <= '9') p++;
        if (*p == '\0' && p - us - 1 <= 5) {
            if (strcmp(us + 1, "80") == 0 || strcmp(us + 1, "443") == 0) *us = '\0';
            else *us = ':';
        }
    }
    return strlen(key);
}

static int load_index(struct dir_source *v, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/index.tsv", v->dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[8192];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        char *outcome = tab ? tab + 1 : NULL;
        char *end = outcome ? strchr(outcome, '\t') : NULL;
        if (end) *end = '\0';
        optout_outcome o;
        if (!tab || optout_outcome_parse(outcome, &o) != 0) {
            snprintf(err, errlen, "%s:%zu: expected HOST<TAB>OUTCOME (ok, unavailable, unreachable, no_such_host, ...)",
                     path, lineno);
            fclose(f);
            return -1;
        }
        *tab = '\0';
        char key[1024];
        size_t klen = key_of_file(line, key, sizeof key);
        struct host *h = optout_strmap_get(v->hosts, key, klen);
        if (!h) {
            if (o == OPTOUT_OUTCOME_OK) {
                snprintf(err, errlen, "%s:%zu: %s is 'ok' but has no robots.txt file in %s", path, lineno, line, v->dir);
                fclose(f);
                return -1;
            }
            h = calloc(1, sizeof *h);
            if (!h || optout_strmap_put(v->hosts, key, klen, h, NULL) != 0) {
                free(h);
                snprintf(err, errlen, "out of memory");
                fclose(f);
                return -1;
            }
        }
        h->outcome = o;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    return 0;
}

optout_verdicts *optout_verdicts_open_dir(const char *dir, const optout_agents *agents, optout_robots_mode mode,
                                          size_t max_cached, char *err, size_t errlen) {
    struct dir_source *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->base.ops = &DIR_OPS;
    if (!(v->dir = strdup(dir)) || !(v->hosts = optout_strmap_new())) {
        snprintf(err, errlen, "out of memory");
        dir_free(&v->base);
        return NULL;
    }
    v->agents = agents;
    v->mode = mode;
    v->max_cached = max_cached ? max_cached : 65536;
    v->compiled = calloc(v->max_cached, sizeof *v->compiled);
    DIR *d = opendir(dir);
    if (!v->compiled || !d) {
        snprintf(err, errlen, "robots directory %s: %s", dir, strerror(errno));
        if (d) closedir(d);
        dir_free(&v->base);
        return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "index.tsv") == 0) continue;
        if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
        char key[1024];
        size_t klen = key_of_file(e->d_name, key, sizeof key);
        if (klen == 0) continue;
        struct host *old = optout_strmap_get(v->hosts, key, klen);
        if (old) {
            snprintf(err, errlen, "robots directory %s: files '%s' and '%s' are both for host %s", dir, old->file,
                     e->d_name, key);
            closedir(d);
            dir_free(&v->base);
            return NULL;
        }
        struct host *h = calloc(1, sizeof *h);
        if (!h || !(h->file = strdup(e->d_name)) || optout_strmap_put(v->hosts, key, klen, h, NULL) != 0) {
            host_free(h);
            snprintf(err, errlen, "out of memory");
            closedir(d);
            dir_free(&v->base);
            return NULL;
        }
        h->outcome = OPTOUT_OUTCOME_OK;
        v->files++;
    }
    closedir(d);
    if (load_index(v, err, errlen) != 0) {
        dir_free(&v->base);
        return NULL;
    }
    return &v->base;
}

/* Makes room for one more compiled set: the clock hand skips recently visited ones. */
static void evict_one(struct dir_source *v) {
    for (;;) {
        struct host *h = v->compiled[v->hand];
        if (h->visited) {
            h->visited = 0;
            v->hand = (v->hand + 1) % v->max_cached;
            continue;
        }
        optout_robots_free(h->rules);
        h->rules = NULL;
        v->compiled[v->hand] = v->compiled[--v->compiled_count];
        v->compiled[v->compiled_count] = NULL;
        if (v->hand >= v->compiled_count) v->hand = 0;
        return;
    }
}

static int dir_lookup(optout_verdicts *base, const char *host, size_t len, optout_verdict *out, char *err,
                      size_t errlen) {
    struct dir_source *v = (struct dir_source *)base;
    struct host *h = optout_strmap_get(v->hosts, host, len);
    out->rules = NULL;
    if (!h) { /* a directory has a record for every host: no file means no robots.txt */
        out->outcome = OPTOUT_OUTCOME_NO_ROBOTS;
        return 1;
    }
    out->outcome = h->outcome;
    if (h->outcome != OPTOUT_OUTCOME_OK || !h->file) return 1;
    if (!h->rules) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", v->dir, h->file);
        size_t blen;
        char *body = optout_read_file(path, ROBOTS_FILE_MAX, &blen);
        if (!body) {
            snprintf(err, errlen, "robots.txt of %.*s: %s: %s", (int)len, host, path, strerror(errno));
            return -1;
        }
        h->rules = optout_robots_compile(body, blen, v->agents, v->mode);
        free(body);
        if (!h->rules) {
            snprintf(err, errlen, "robots.txt of %.*s: %s", (int)len, host, strerror(errno));
            return -1;
        }
        if (v->compiled_count == v->max_cached) evict_one(v);
        v->compiled[v->compiled_count++] = h;
    }
    h->visited = 1;
    out->rules = h->rules;
    return 1;
}

static const struct verdicts_ops DIR_OPS = {.lookup = dir_lookup, .prefetch = NULL, .free = dir_free};
