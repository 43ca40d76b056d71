/* verdicts_archive.c — the verdict source over a robots archive (include/optout/verdicts.h), and
 * the archive's index in memory (archive_internal.h), which the Redis loader shares.
 *
 * Index. Opening scans every pack once without bodies (optout_archive_scan) and keeps, per host, a
 * fixed 72-byte record (frame offset, host position in one arena of host keys, frame length, body
 * size, pack number, cache slot, outcome, clock bit, SHA-256 as 32 bytes) in one array, the host
 * keys back to back in one arena, and an open-addressing table of 32-bit record numbers (linear
 * probing, at most half full). 2 million hosts of 25 bytes cost about 144 + 50 + 32 MB, well under
 * 1 GB even while the arrays double. Pack names are kept once each; a host met twice is an error
 * naming both packs.
 *
 * Source. A host without a record was not ranked (the archive holds every planned host):
 * NOT_RANKED. Other outcomes answer from the index. An `ok` body is read by pread of its frame on
 * first lookup (one bodies file kept open: the last pack read), checked (size, SHA-256), compiled
 * and put in one of max_cached slots; when all are taken a clock hand frees the first set not
 * visited since the hand last passed, and its host is read again if asked for later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_internal.h"
#include "optout/log.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "verdicts_internal.h"

#define NO_SLOT UINT32_MAX

struct arec {
    uint64_t offset;   /* the body's frame in the pack's bodies file */
    uint64_t host_off; /* in the arena */
    uint32_t length, size, pack, slot;
    uint16_t host_len;
    uint8_t outcome, visited;
    unsigned char sha[32];
};

struct archive_index {
    char *dir;
    struct arec *recs;
    size_t count, cap;
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *table; /* record number + 1; 0: empty */
    size_t table_cap; /* power of two */
    char **packs;
    size_t npacks, packs_cap;
    char *err; /* the scan's visitor reports here */
    size_t errlen;
};

static const char *rec_host(const struct archive_index *ix, const struct arec *r) { return ix->arena + r->host_off; }

long archive_index_find(const struct archive_index *ix, const char *host, size_t len) {
    if (!ix->table_cap) return -1;
    size_t mask = ix->table_cap - 1;
    for (size_t i = optout_hash_bytes(host, len) & mask;; i = (i + 1) & mask) {
        uint32_t t = ix->table[i];
        if (!t) return -1;
        const struct arec *r = &ix->recs[t - 1];
        if (r->host_len == len && memcmp(rec_host(ix, r), host, len) == 0) return (long)(t - 1);
    }
}

size_t archive_index_count(const struct archive_index *ix) { return ix->count; }

void archive_index_free(struct archive_index *ix) {
    if (!ix) return;
    for (size_t i = 0; i < ix->npacks; i++) free(ix->packs[i]);
    free(ix->packs);
    free(ix->recs);
    free(ix->arena);
    free(ix->table);
    free(ix->dir);
    free(ix);
}

static void table_put(uint32_t *table, size_t cap, uint64_t hash, uint32_t value) {
    size_t i = hash & (cap - 1);
    while (table[i]) i = (i + 1) & (cap - 1);
    table[i] = value;
}

/* Doubles the table (or makes the first one) and puts every record back. -1 when out of memory. */
static int table_grow(struct archive_index *ix) {
    size_t cap = ix->table_cap ? ix->table_cap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t k = 0; k < ix->count; k++)
        table_put(t, cap, optout_hash_bytes(rec_host(ix, &ix->recs[k]), ix->recs[k].host_len), (uint32_t)(k + 1));
    free(ix->table);
    ix->table = t;
    ix->table_cap = cap;
    return 0;
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *b = realloc(*buf, ncap * elem);
    if (!b) return -1;
    *buf = b;
    *cap = ncap;
    return 0;
}

static int index_visit(const optout_archive_record *rec, void *arg) {
    struct archive_index *ix = arg;
    if (ix->npacks == 0 || strcmp(ix->packs[ix->npacks - 1], rec->pack) != 0) {
        if (grow((void **)&ix->packs, &ix->packs_cap, ix->npacks + 1, sizeof *ix->packs) != 0 ||
            !(ix->packs[ix->npacks] = strdup(rec->pack)))
            goto oom;
        ix->npacks++;
    }
    const char *host = rec->r.host;
    size_t len = strlen(host);
    if (len > UINT16_MAX || ix->count >= UINT32_MAX - 1) {
        optout_set_err(ix->err, ix->errlen, "archive %s: %s:%zu: host key too long, or too many hosts", ix->dir,
                       rec->pack, rec->line);
        return 1;
    }
    long old = archive_index_find(ix, host, len);
    if (old >= 0) {
        optout_set_err(ix->err, ix->errlen,
                       "archive %s: host %s is recorded twice: in pack %s and in pack %s (line %zu)", ix->dir, host,
                       ix->packs[ix->recs[old].pack], rec->pack, rec->line);
        return 1;
    }
    if ((ix->count + 1) * 2 > ix->table_cap && table_grow(ix) != 0) goto oom;
    if (grow((void **)&ix->recs, &ix->cap, ix->count + 1, sizeof *ix->recs) != 0 ||
        grow((void **)&ix->arena, &ix->arena_cap, ix->arena_len + len + 1, 1) != 0)
        goto oom;
    struct arec *r = &ix->recs[ix->count];
    memset(r, 0, sizeof *r);
    uint64_t off, length;
    archive_record_location(rec, &off, &length);
    r->offset = off;
    r->length = (uint32_t)length;
    r->size = (uint32_t)rec->r.body_len;
    r->pack = (uint32_t)(ix->npacks - 1);
    r->slot = NO_SLOT;
    r->outcome = (uint8_t)rec->r.outcome;
    r->host_len = (uint16_t)len;
    r->host_off = ix->arena_len;
    if (rec->r.sha256[0]) archive_hex_to_sha(rec->r.sha256, r->sha);
    memcpy(ix->arena + ix->arena_len, host, len + 1);
    ix->arena_len += len + 1;
    ix->count++;
    table_put(ix->table, ix->table_cap, optout_hash_bytes(host, len), (uint32_t)ix->count);
    return 0;
oom:
    optout_set_err(ix->err, ix->errlen, "out of memory");
    return 1;
}

struct archive_index *archive_index_open(const char *dir, char *err, size_t errlen) {
    struct stat st; /* a mistyped path must not read as "nothing was ranked" */
    int bad = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (bad) {
        optout_set_err(err, errlen, "robots archive %s: %s", dir, strerror(bad));
        return NULL;
    }
    /* nor may a directory that is no archive (a robots directory, an empty one): every host
     * would silently be "not ranked", every document kept */
    long packs = optout_archive_packs(dir, err, errlen);
    if (packs < 0) return NULL;
    if (packs == 0) {
        optout_set_err(err, errlen,
                       "robots archive %s: not a fetch archive (it holds no pack NAME.tsv, which `optout fetch --out` "
                       "and a run's fetch stage write; a directory of robots.txt files is read with --robots-dir)",
                       dir);
        return NULL;
    }
    struct archive_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->dir = strdup(dir))) {
        free(ix);
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    char why[1024] = "";
    ix->err = why;
    ix->errlen = sizeof why;
    size_t torn = 0;
    if (optout_archive_scan(dir, 0, index_visit, ix, &torn, err, errlen) < 0) {
        if (why[0]) optout_set_err(err, errlen, "%s", why); /* the visitor's reason, not "stopped" */
        archive_index_free(ix);
        return NULL;
    }
    ix->err = NULL;
    if (torn) optout_log(LOG_WARNING, "robots archive %s: %zu torn tail record(s) ignored", dir, torn);
    return ix;
}

/* ---- the source ------------------------------------------------------------------------------ */

struct archive_source {
    struct optout_verdicts base; /* first: an archive_source is an optout_verdicts */
    struct archive_index *ix;
    const optout_agents *agents;
    optout_robots_mode mode;
    optout_robots **rules; /* slot -> compiled set */
    uint32_t *owner;       /* slot -> record number */
    size_t used, max_cached, hand;
    int fd;          /* bodies file of pack fd_pack, or -1 */
    uint32_t fd_pack;
};

static void archive_free(optout_verdicts *base) {
    struct archive_source *v = (struct archive_source *)base;
    for (size_t i = 0; i < v->used; i++) optout_robots_free(v->rules[i]);
    free(v->rules);
    free(v->owner);
    if (v->fd >= 0) close(v->fd);
    archive_index_free(v->ix);
    free(v);
}

/* A slot for a new compiled set: a free one, else the clock hand's first unvisited one. */
static uint32_t take_slot(struct archive_source *v) {
    if (v->used < v->max_cached) return (uint32_t)v->used++;
    for (;; v->hand = (v->hand + 1) % v->max_cached) {
        struct arec *r = &v->ix->recs[v->owner[v->hand]];
        if (r->visited) {
            r->visited = 0;
            continue;
        }
        uint32_t slot = (uint32_t)v->hand;
        optout_robots_free(v->rules[slot]);
        v->rules[slot] = NULL;
        r->slot = NO_SLOT;
        v->hand = (v->hand + 1) % v->max_cached;
        return slot;
    }
}

/* Reads, checks and compiles record k's body into a slot. 0, or -1 with err. */
static int compile_record(struct archive_source *v, uint32_t k, char *err, size_t errlen) {
    struct arec *r = &v->ix->recs[k];
    const char *pack = v->ix->packs[r->pack];
    char path[4096], where[4400];
    if (archive_bodies_path(v->ix->dir, pack, path, sizeof path) != 0) {
        optout_set_err(err, errlen, "archive %s: path too long", v->ix->dir);
        return -1;
    }
    snprintf(where, sizeof where, "%s (robots.txt of %s)", path, rec_host(v->ix, r));
    if (v->fd < 0 || v->fd_pack != r->pack) {
        if (v->fd >= 0) close(v->fd);
        v->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (v->fd < 0) {
            optout_set_err(err, errlen, "%s: %s", where, strerror(errno));
            return -1;
        }
        v->fd_pack = r->pack;
    }
    char *body;
    if (archive_read_body(v->fd, where, r->offset, r->length, r->size, r->sha, &body, err, errlen) != 0) return -1;
    optout_robots *rules = optout_robots_compile(body, r->size, v->agents, v->mode);
    free(body);
    if (!rules) {
        optout_set_err(err, errlen, "%s: %s", where, strerror(errno));
        return -1;
    }
    uint32_t slot = take_slot(v);
    v->rules[slot] = rules;
    v->owner[slot] = k;
    r->slot = slot;
    return 0;
}

static int archive_lookup(optout_verdicts *base, const char *host, size_t len, optout_verdict *out, char *err,
                          size_t errlen) {
    struct archive_source *v = (struct archive_source *)base;
    out->rules = NULL;
    long k = archive_index_find(v->ix, host, len);
    if (k < 0) { /* the archive holds every planned host */
        out->outcome = OPTOUT_OUTCOME_NOT_RANKED;
        return 1;
    }
    struct arec *r = &v->ix->recs[k];
    out->outcome = (optout_outcome)r->outcome;
    if (r->outcome != OPTOUT_OUTCOME_OK) return 1;
    if (r->slot == NO_SLOT && compile_record(v, (uint32_t)k, err, errlen) != 0) return -1;
    r->visited = 1;
    out->rules = v->rules[r->slot];
    return 1;
}

static const struct verdicts_ops ARCHIVE_OPS = {.lookup = archive_lookup, .prefetch = NULL, .free = archive_free};

optout_verdicts *optout_verdicts_open_archive(const char *dir, const optout_agents *agents, optout_robots_mode mode,
                                              size_t max_cached, char *err, size_t errlen) {
    struct archive_source *v = calloc(1, sizeof *v);
    if (!v) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    v->base.ops = &ARCHIVE_OPS;
    v->fd = -1;
    v->agents = agents;
    v->mode = mode;
    v->max_cached = max_cached ? max_cached : 65536;
    if (v->max_cached > UINT32_MAX - 1) v->max_cached = UINT32_MAX - 1;
    if (!(v->rules = calloc(v->max_cached, sizeof *v->rules)) || !(v->owner = calloc(v->max_cached, sizeof *v->owner))) {
        optout_set_err(err, errlen, "out of memory");
        archive_free(&v->base);
        return NULL;
    }
    if (!(v->ix = archive_index_open(dir, err, errlen))) {
        archive_free(&v->base);
        return NULL;
    }
    return &v->base;
}

size_t optout_verdicts_archive_hosts(const optout_verdicts *base) {
    return base->ops == &ARCHIVE_OPS ? ((const struct archive_source *)base)->ix->count : 0;
}
