/* verdicts_dir.c — the robots-directory verdict source (include/optout/verdicts.h).
 *
 * Opening lists the directory once (names only: a run over a corpus touches a small part of a
 * 2-million-host archive); bodies are read and compiled on first lookup. Compiled sets are kept up
 * to max_cached; beyond that a clock hand frees the oldest-visited ones, which are recompiled if
 * asked for again. The outcome of a host never changes once loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/log.h"
#include "optout/robots.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "robots_dir_scan.h"
#include "verdicts_internal.h"

struct host {
    struct robots_dir_host entry; /* first: file name and outcome, filled by robots_dir_scan() */
    struct verdicts_compiled cs; /* compiled lazily, may be evicted */
    uint8_t warned;       /* its body's encoding was warned about (once, not at every recompilation) */
};

struct dir_source {
    struct optout_verdicts base; /* first: a dir_source is an optout_verdicts */
    char *dir;
    const optout_agents *agents;
    optout_robots_mode mode;
    optout_strmap *hosts;
    struct verdicts_clock clock; /* the hosts holding compiled rules */
    size_t files;
};

static void host_free(void *p) {
    struct host *h = p;
    if (!h) return;
    free(h->entry.file);
    optout_robots_free(h->cs.rules);
    free(h);
}

static const struct verdicts_ops DIR_OPS;

size_t optout_verdicts_dir_hosts(const optout_verdicts *base) {
    return base->ops == &DIR_OPS ? ((const struct dir_source *)base)->files : 0;
}

static void dir_free(optout_verdicts *base) {
    struct dir_source *v = (struct dir_source *)base;
    optout_strmap_free(v->hosts, host_free);
    verdicts_clock_free(&v->clock);
    free(v->dir);
    free(v);
}

optout_verdicts *optout_verdicts_open_dir(const char *dir, const optout_agents *agents, optout_robots_mode mode,
                                          size_t max_cached, char *err, size_t errlen) {
    struct dir_source *v = calloc(1, sizeof *v);
    if (!v) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    v->base.ops = &DIR_OPS;
    if (!(v->dir = strdup(dir)) || !(v->hosts = optout_strmap_new())) {
        optout_set_err(err, errlen, "out of memory");
        dir_free(&v->base);
        return NULL;
    }
    v->agents = agents;
    v->mode = mode;
    if (verdicts_clock_init(&v->clock, max_cached) != 0) {
        optout_set_err(err, errlen, "out of memory");
        dir_free(&v->base);
        return NULL;
    }
    long files = robots_dir_scan(dir, v->hosts, sizeof(struct host), err, errlen);
    if (files < 0) {
        dir_free(&v->base);
        return NULL;
    }
    v->files = (size_t)files;
    return &v->base;
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
    out->outcome = h->entry.outcome;
    if (h->entry.outcome != OPTOUT_OUTCOME_OK || !h->entry.file) return 1;
    if (!h->cs.rules) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", v->dir, h->entry.file);
        size_t blen;
        char *body = optout_read_file(path, ROBOTS_DIR_FILE_MAX, &blen);
        if (!body) {
            optout_set_err(err, errlen, "robots.txt of %.*s: %s: %s", (int)len, host, path, strerror(errno));
            return -1;
        }
        h->cs.rules = optout_robots_compile(body, blen, v->agents, v->mode);
        if (!h->warned && optout_robots_looks_utf16(body, blen)) {
            optout_log(LOG_WARNING, "robots.txt of %.*s (%s) %s", (int)len, host, path, OPTOUT_ROBOTS_UTF16_WARNING);
            h->warned = 1;
        }
        free(body);
        if (!h->cs.rules) {
            optout_set_err(err, errlen, "robots.txt of %.*s: %s", (int)len, host, strerror(errno));
            return -1;
        }
        verdicts_clock_add(&v->clock, &h->cs);
    }
    h->cs.visited = 1;
    out->rules = h->cs.rules;
    return 1;
}

static const struct verdicts_ops DIR_OPS = {.lookup = dir_lookup, .prefetch = NULL, .free = dir_free};
