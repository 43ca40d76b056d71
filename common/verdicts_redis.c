/* verdicts_redis.c — the Redis verdict source and its loader (include/optout/verdicts.h, layout
 * there; docs/fleet.md).
 *
 * The source keeps one synchronous hiredis connection (one source per thread). A miss costs one
 * round trip: the GETs of the hosts asked for (one for a lookup, up to REDIS_BATCH for a prefetch)
 * and an MGET of planned/complete/absent, pipelined together. The completeness keys are enforced
 * only when a host had no record: a record that exists is valid even while the broker reloads the
 * store, but a miss on a store that is not complete (Redis restarted empty, flushed, half loaded)
 * is an error, never "no robots.txt".
 *
 * Cache: host key -> entry (outcome, compiled rules for `ok`). Compiled sets are bounded by
 * max_cached with a clock hand (as the directory source); an evicted `ok` entry is fetched again
 * when asked for. Entries without compiled sets are small but a run meets millions of hosts, so the
 * map is bounded too: past REDIS_ENTRIES_PER_SET * max_cached + 1024 entries it is dropped whole
 * and refilled (hot hosts cost one more GET each then).
 *
 * Failures: an I/O error, a timeout or a "LOADING" reply drops the connection; the round trip is
 * retried on a new connection (at once, then after 0.1, 0.2, 0.4, 0.8, 1.6 s: a Redis restart does
 * not kill a worker), then the lookup fails naming endpoint and host. Error replies other than
 * LOADING (NOAUTH, WRONGTYPE, ...) fail at once. SIGPIPE from writing to a closed socket (hiredis
 * 0.14 uses write(2)) is blocked and discarded around every exchange, so the caller need not
 * ignore it. The credentials (an ACL user and/or a password) are sent with AUTH after every connect;
 * the password is never logged and wiped on free.
 *
 * Loaders. One protocol (load_store) for every kind of source: a struct load_source gives the
 * "absent" value, a membership test (to delete records of hosts the source no longer has) and an
 * iterator that hands records one at a time to load_record(), which pipelines the SETs. The robots
 * directory iterates its host map (bodies read from their files one by one); the archive streams
 * its packs with bodies (optout_archive_scan), after its index (archive_internal.h) has rejected a
 * host recorded twice and serves as the membership test.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <zstd.h>

#include "optout/log.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "archive_internal.h"
#include "robots_dir_scan.h"
#include "redis_internal.h"
#include "verdicts_internal.h"

#define REDIS_ENTRIES_PER_SET 4 /* cached hosts per compiled set (the bound of the host map) */

/* ---- the source ------------------------------------------------------------------------------ */

struct entry {
    struct verdicts_compiled cs; /* ok: compiled set, NULL once evicted (fetched again when asked for) */
    uint8_t outcome;             /* optout_outcome */
};

struct meta {
    struct redis_counts n; /* planned, complete */
    char absent[16];
};

/* Record values: the outcome byte, packed with its body (redis_pack_value: bit REDIS_ZSTD_FLAG set
 * when the body that follows is one zstd frame). */

struct redis_source {
    struct optout_verdicts base; /* first: a redis_source is an optout_verdicts */
    struct redis_link link; /* endpoint, credentials, connection, key buffer */
    char *prefix;
    size_t prefix_len;
    const optout_agents *agents;
    optout_robots_mode mode;
    int absent_is_error; /* "absent" = "error": a host without a record is not an answer */
    optout_outcome absent_outcome; /* else what a host without a record answers */
    optout_strmap *hosts;
    size_t max_entries;
    struct verdicts_clock clock; /* the entries holding compiled rules */
    ZSTD_DCtx *dctx; /* compressed bodies (REDIS_ZSTD_FLAG) */
    char *plain;
    size_t plain_cap;
};

static const struct verdicts_ops REDIS_OPS;

static void entry_free(void *p) {
    struct entry *e = p;
    if (!e) return;
    optout_robots_free(e->cs.rules);
    free(e);
}

static void redis_free(optout_verdicts *base) {
    struct redis_source *v = (struct redis_source *)base;
    redis_link_free(&v->link);
    optout_strmap_free(v->hosts, entry_free);
    verdicts_clock_free(&v->clock);
    free(v->prefix);
    ZSTD_freeDCtx(v->dctx);
    free(v->plain);
    free(v);
}

/* The MGET planned complete absent reply -> m. ROUND_OK or ROUND_FATAL with err. */
static const char *const META[] = {"planned", "complete", "absent"};

static int parse_meta(const char *endpoint, const char *prefix, const redisReply *r, struct meta *m, char *err,
                      size_t errlen) {
    memset(m, 0, sizeof *m);
    if (r->type == REDIS_REPLY_ERROR) {
        redis_reply_error(endpoint, r, "reading the store's completeness", err, errlen);
        return ROUND_FATAL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || redis_parse_count(r->element[0], &m->n.have_planned, &m->n.planned) ||
        redis_parse_count(r->element[1], &m->n.have_complete, &m->n.complete)) {
        optout_set_err(err, errlen, "Redis store under %s at %s: 'planned' / 'complete' are not counts", prefix,
                       endpoint);
        return ROUND_FATAL;
    }
    const redisReply *a = r->element[2];
    if (a->type == REDIS_REPLY_STRING && a->len < sizeof m->absent) {
        memcpy(m->absent, a->str, a->len);
        m->absent[a->len] = '\0';
    }
    return ROUND_OK;
}

int optout_verdicts_redis_complete(const char *endpoint, const char *user, const char *password, const char *prefix,
                                   char *err, size_t errlen) {
    redisContext *c;
    if (redis_connect(endpoint, user, password, &c, err, errlen) != ROUND_OK) return -1;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    redisReply *r = redisCommand(c, "MGET %splanned %scomplete %sabsent", prefix, prefix, prefix);
    redis_sigpipe_restore(&g);
    int rc = -1;
    struct meta m;
    if (!r) optout_set_err(err, errlen, "Redis at %s: %s", endpoint, c->err ? c->errstr : "no reply");
    else if (parse_meta(endpoint, prefix, r, &m, err, errlen) == ROUND_OK)
        rc = redis_check_complete(endpoint, prefix, &m.n, err, errlen) == ROUND_OK ? 1 : 0;
    else if (r->type != REDIS_REPLY_ERROR)
        rc = 0; /* counts that are not counts: a reload rewrites them */
    if (r) freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* One pipelined round trip (retried on a new connection, with backoff): GET PREFIX h:HOST for
 * hosts[0..n), then MGET planned complete absent. replies[0..n) receive the GET replies (the caller
 * frees them), *m the completeness. 0, or -1 with err (what: the host(s), for messages). */
static int fetch(struct redis_source *v, const char *const *hosts, const size_t *lens, size_t n, redisReply **replies,
                 struct meta *m, const char *what, char *err, size_t errlen) {
    redisReply *meta_reply = NULL;
    if (redis_link_fetch(&v->link, v->prefix, "h:", hosts, lens, n, META, 3, replies, &meta_reply, what, err,
                         errlen) != 0)
        return -1;
    int rc = parse_meta(v->link.endpoint, v->prefix, meta_reply, m, err, errlen);
    freeReplyObject(meta_reply);
    if (rc == ROUND_OK) return 0;
    redis_free_replies(replies, n);
    size_t used = strlen(err);
    snprintf(err + used, errlen - used, " (looking up %s)", what);
    return -1;
}

/* Drops every entry (the map is full of hosts met once). -1 when out of memory. */
static int reset_cache(struct redis_source *v) {
    optout_strmap *fresh = optout_strmap_new();
    if (!fresh) return -1;
    optout_strmap_free(v->hosts, entry_free);
    v->hosts = fresh;
    verdicts_clock_forget(&v->clock);
    return 0;
}

/* The cached answer for host: the entry when it can answer without Redis, else NULL. */
static struct entry *cached(struct redis_source *v, const char *host, size_t len) {
    struct entry *e = optout_strmap_get(v->hosts, host, len);
    return e && (e->outcome != OPTOUT_OUTCOME_OK || e->cs.rules) ? e : NULL;
}

/* Turns one GET reply (with the store's completeness) into a cached entry.
 * 1 with *out, 0 (no record, absent = error), -1 with err. */
static int absorb(struct redis_source *v, const char *host, size_t len, const redisReply *r, const struct meta *m,
                  struct entry **out, char *err, size_t errlen) {
    *out = NULL;
    optout_outcome outcome;
    const char *body = NULL;
    size_t blen = 0;
    if (r->type == REDIS_REPLY_NIL) {
        if (redis_check_complete(v->link.endpoint, v->prefix, &m->n, err, errlen) != ROUND_OK) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (no record for %.*s)", (int)len, host);
            return -1;
        }
        if (v->absent_is_error) return 0;
        outcome = v->absent_outcome;
    } else if (r->type == REDIS_REPLY_STRING) {
        unsigned char raw = r->len ? (unsigned char)r->str[0] : 0;
        int packed = (raw & REDIS_ZSTD_FLAG) != 0;
        unsigned char byte = raw & (unsigned char)~REDIS_ZSTD_FLAG;
        char why[96] = "";
        if (r->len == 0) snprintf(why, sizeof why, "empty value");
        else if (byte >= OPTOUT_OUTCOME_COUNT) snprintf(why, sizeof why, "unknown outcome byte 0x%02x", raw);
        else if (byte != OPTOUT_OUTCOME_OK && (r->len > 1 || packed))
            snprintf(why, sizeof why, "outcome %s with a %zu-byte body", optout_outcome_name((optout_outcome)byte),
                     (size_t)r->len - 1);
        else if (packed && redis_unpack_frame(&v->dctx, r->str + 1, (size_t)r->len - 1, ROBOTS_DIR_FILE_MAX,
                                              &v->plain, &v->plain_cap, &blen, why, sizeof why) == 0)
            body = v->plain;
        if (why[0]) {
            optout_set_err(err, errlen, "corrupt record for %.*s in Redis at %s under %s (%s): reload the store",
                           (int)len, host, v->link.endpoint, v->prefix, why);
            return -1;
        }
        outcome = (optout_outcome)byte;
        if (!packed) {
            body = r->str + 1;
            blen = r->len - 1;
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        redis_reply_error(v->link.endpoint, r, "GET", err, errlen);
        snprintf(err + strlen(err), errlen - strlen(err), " (record of %.*s)", (int)len, host);
        return -1;
    } else {
        optout_set_err(err, errlen, "Redis at %s: unexpected reply type %d for the record of %.*s", v->link.endpoint,
                       r->type, (int)len, host);
        return -1;
    }

    struct entry *e = optout_strmap_get(v->hosts, host, len);
    if (e && (e->outcome != OPTOUT_OUTCOME_OK || e->cs.rules)) { /* a duplicate within one prefetch */
        *out = e;
        return 1;
    }
    if (!e) {
        if (optout_strmap_count(v->hosts) >= v->max_entries && reset_cache(v) != 0) {
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        e = calloc(1, sizeof *e);
        if (!e || optout_strmap_put(v->hosts, host, len, e, NULL) != 0) {
            free(e);
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
    }
    e->outcome = (uint8_t)outcome;
    if (outcome == OPTOUT_OUTCOME_OK) {
        optout_robots *rules = optout_robots_compile(body, blen, v->agents, v->mode);
        if (!rules) {
            optout_set_err(err, errlen, "robots.txt of %.*s: %s", (int)len, host, strerror(errno));
            return -1;
        }
        e->cs.rules = rules;
        verdicts_clock_add(&v->clock, &e->cs);
    }
    e->cs.visited = 1;
    *out = e;
    return 1;
}

static int redis_lookup(optout_verdicts *base, const char *host, size_t len, optout_verdict *out, char *err,
                        size_t errlen) {
    struct redis_source *v = (struct redis_source *)base;
    out->outcome = OPTOUT_OUTCOME_NO_ROBOTS;
    out->rules = NULL;
    struct entry *e = cached(v, host, len);
    if (!e) {
        char what[300];
        snprintf(what, sizeof what, "host %.*s", len > 256 ? 256 : (int)len, host);
        redisReply *r = NULL;
        struct meta m;
        if (fetch(v, &host, &len, 1, &r, &m, what, err, errlen) != 0) return -1;
        int rc = absorb(v, host, len, r, &m, &e, err, errlen);
        freeReplyObject(r);
        if (rc <= 0) return rc;
    }
    e->cs.visited = 1;
    out->outcome = (optout_outcome)e->outcome;
    out->rules = e->cs.rules;
    return 1;
}

static int redis_prefetch(optout_verdicts *base, const char *const *hosts, const size_t *lens, size_t count,
                          char *err, size_t errlen) {
    struct redis_source *v = (struct redis_source *)base;
    const char *sel[REDIS_BATCH];
    size_t sel_len[REDIS_BATCH];
    redisReply *replies[REDIS_BATCH];
    size_t i = 0;
    while (i < count) {
        size_t n = 0;
        for (; i < count && n < REDIS_BATCH; i++) {
            if (cached(v, hosts[i], lens[i])) continue;
            sel[n] = hosts[i];
            sel_len[n++] = lens[i];
        }
        if (n == 0) break;
        char what[300];
        snprintf(what, sizeof what, "%zu hosts from %.*s", n, sel_len[0] > 200 ? 200 : (int)sel_len[0], sel[0]);
        struct meta m;
        if (fetch(v, sel, sel_len, n, replies, &m, what, err, errlen) != 0) return -1;
        int rc = 0;
        for (size_t j = 0; j < n && rc >= 0; j++) {
            struct entry *e;
            rc = absorb(v, sel[j], sel_len[j], replies[j], &m, &e, err, errlen);
        }
        redis_free_replies(replies, n);
        if (rc < 0) return -1;
    }
    return 0;
}

optout_verdicts *optout_verdicts_open_redis(const char *endpoint, const char *user, const char *password,
                                            const char *prefix, const optout_agents *agents, optout_robots_mode mode,
                                            size_t max_cached, char *err, size_t errlen) {
    struct redis_source *v = calloc(1, sizeof *v);
    if (!v) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    v->base.ops = &REDIS_OPS;
    v->agents = agents;
    v->mode = mode;
    size_t max_sets = max_cached ? max_cached : 65536;
    v->max_entries = max_sets > (SIZE_MAX - 1024) / REDIS_ENTRIES_PER_SET ? SIZE_MAX
                                                                           : max_sets * REDIS_ENTRIES_PER_SET + 1024;
    v->prefix_len = strlen(prefix);
    if (redis_link_init(&v->link, endpoint, user, password) != 0 || !(v->prefix = strdup(prefix)) ||
        !(v->hosts = optout_strmap_new()) ||
        verdicts_clock_init(&v->clock, max_sets) != 0) {
        optout_set_err(err, errlen, "out of memory");
        redis_free(&v->base);
        return NULL;
    }
    if (v->prefix_len > REDIS_PREFIX_MAX) {
        optout_set_err(err, errlen, "Redis key prefix too long (%zu bytes)", v->prefix_len);
        redis_free(&v->base);
        return NULL;
    }
    struct meta m;
    char what[64];
    snprintf(what, sizeof what, "the store's completeness");
    if (fetch(v, NULL, NULL, 0, NULL, &m, what, err, errlen) != 0 || redis_check_complete(v->link.endpoint, v->prefix, &m.n, err, errlen) != ROUND_OK) {
        redis_free(&v->base);
        return NULL;
    }
    if (strcmp(m.absent, "no_robots") == 0) v->absent_outcome = OPTOUT_OUTCOME_NO_ROBOTS;
    else if (strcmp(m.absent, "not_ranked") == 0) v->absent_outcome = OPTOUT_OUTCOME_NOT_RANKED;
    else if (strcmp(m.absent, "error") == 0) v->absent_is_error = 1;
    else {
        optout_set_err(err, errlen,
                       "Redis store under %s at %s: 'absent' is %s%s%s (expected no_robots, not_ranked or error)",
                       prefix, endpoint, m.absent[0] ? "'" : "", m.absent[0] ? m.absent : "missing or invalid",
                       m.absent[0] ? "'" : "");
        redis_free(&v->base);
        return NULL;
    }
    return &v->base;
}

static const struct verdicts_ops REDIS_OPS = {.lookup = redis_lookup, .prefetch = redis_prefetch, .free = redis_free};

/* ---- the loader ------------------------------------------------------------------------------ */

/* What a load writes: the "absent" value, the host set (for deleting stale records) and the
 * records, handed one by one to load_record() by each(). Both loaders (robots directory, archive)
 * are one of these around load_store(). */
struct loader;
struct load_source {
    const char *absent;
    int (*known)(const void *set, const char *host, size_t len); /* 1: the source has a record */
    const void *set;
    int (*each)(struct loader *l, void *arg); /* 0, or -1 with the loader's err */
    void *arg;
};

struct loader {
    const char *endpoint, *prefix;
    const struct load_source *src;
    redisContext *c;
    size_t pending, pending_bytes;
    long written;
    char *key;
    size_t key_cap;
    ZSTD_CCtx *cctx; /* bodies go in compressed (REDIS_ZSTD_FLAG) */
    char *err;
    size_t errlen;
};

static int load_command(struct loader *l, const char *what, redisReply *r) {
    return redis_reply_ok(l->c, l->endpoint, what, r, l->err, l->errlen);
}

/* Reads the replies of the pipelined commands. */
static int load_drain(struct loader *l, const char *what) {
    l->pending_bytes = 0;
    return redis_drain(l->c, l->endpoint, what, &l->pending, l->err, l->errlen);
}

static size_t load_key(struct loader *l, const char *suffix, const char *host, size_t len) {
    return redis_build_key(&l->key, &l->key_cap, l->prefix, strlen(l->prefix), suffix, host, len);
}

/* Appends the SET of one host's record (outcome byte, then the body when ok), sending the
 * pipeline every REDIS_BATCH records or REDIS_LOAD_BATCH_BYTES bytes. 0, or -1 with err. */
static int load_record(struct loader *l, const char *host, size_t len, optout_outcome outcome, const char *body,
                       size_t blen) {
    if (outcome != OPTOUT_OUTCOME_OK) blen = 0;
    char *val = NULL;
    size_t vlen = 0;
    size_t klen = load_key(l, "h:", host, len);
    if (klen == 0 || redis_pack_value(&l->cctx, (unsigned char)outcome, body, blen, &val, &vlen) != 0) {
        optout_set_err(l->err, l->errlen, "out of memory");
        return -1;
    }
    int rc = redisAppendCommand(l->c, "SET %b %b", l->key, klen, val, vlen);
    free(val);
    if (rc != REDIS_OK) {
        optout_set_err(l->err, l->errlen, "out of memory");
        return -1;
    }
    l->pending++;
    l->pending_bytes += vlen;
    l->written++;
    if (l->pending >= REDIS_BATCH || l->pending_bytes >= REDIS_LOAD_BATCH_BYTES) return load_drain(l, "SET");
    return 0;
}

/* Deletes PREFIX "h:" keys of hosts the source no longer has (a rerun after it changed). */
static int load_delete_stale(struct loader *l) {
    long unlinked = 0;
    return redis_scan_unlink(l->c, l->endpoint, l->prefix, "h:", l->src->known, l->src->set, &unlinked, l->err, l->errlen);
}

/* The load protocol (verdicts.h): DEL complete, delete stale records, SET absent, every record
 * (pipelined), SET planned, SET complete last. The number of records written, or -1 with err. */
static long load_store(const char *endpoint, const char *user, const char *password, const char *prefix,
                       const struct load_source *src, char *err, size_t errlen) {
    struct loader l = {.endpoint = endpoint, .prefix = prefix, .src = src, .err = err, .errlen = errlen};
    if (strlen(prefix) > REDIS_PREFIX_MAX) {
        optout_set_err(err, errlen, "Redis key prefix too long (%zu bytes)", strlen(prefix));
        return -1;
    }
    if (redis_connect(endpoint, user, password, &l.c, err, errlen) != ROUND_OK) return -1;
    long rc = -1;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    char meta[512], count[32];
    /* not complete while records change: a crashed load never looks complete */
    snprintf(meta, sizeof meta, "%scomplete", prefix);
    if (load_command(&l, "DEL complete", redisCommand(l.c, "DEL %s", meta)) != 0) goto out;
    if (load_delete_stale(&l) != 0) goto out;
    snprintf(meta, sizeof meta, "%sabsent", prefix);
    if (load_command(&l, "SET absent", redisCommand(l.c, "SET %s %s", meta, src->absent)) != 0) goto out;
    if (src->each(&l, src->arg) != 0 || load_drain(&l, "SET") != 0) goto out;
    snprintf(count, sizeof count, "%ld", l.written);
    snprintf(meta, sizeof meta, "%splanned", prefix);
    if (load_command(&l, "SET planned", redisCommand(l.c, "SET %s %s", meta, count)) != 0) goto out;
    snprintf(meta, sizeof meta, "%scomplete", prefix); /* last: every record is in */
    if (load_command(&l, "SET complete", redisCommand(l.c, "SET %s %s", meta, count)) != 0) goto out;
    rc = l.written;
out:
    redis_sigpipe_restore(&g);
    redisFree(l.c);
    free(l.key);
    ZSTD_freeCCtx(l.cctx);
    return rc;
}

/* ---- loading a robots directory ---- */

struct dir_load {
    const char *dir;
    optout_strmap *hosts; /* host key -> struct robots_dir_host */
    struct loader *l;
    int failed;
};

static int dir_known(const void *set, const char *host, size_t len) { return optout_strmap_get(set, host, len) != NULL; }

/* optout_strmap_each() callback: one host's body (read from its file when ok), then its record. */
static int dir_load_one(const char *host, size_t len, void *value, void *arg) {
    struct dir_load *d = arg;
    const struct robots_dir_host *h = value;
    char *body = NULL;
    size_t blen = 0;
    if (h->outcome == OPTOUT_OUTCOME_OK && h->file) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", d->dir, h->file);
        if (!(body = optout_read_file(path, ROBOTS_DIR_FILE_MAX, &blen))) {
            optout_set_err(d->l->err, d->l->errlen, "robots.txt of %.*s: %s: %s", (int)len, host, path,
                           strerror(errno));
            d->failed = 1;
            return 1;
        }
        if (optout_robots_looks_utf16(body, blen))
            optout_log(LOG_WARNING, "robots.txt of %.*s (%s) %s", (int)len, host, path, OPTOUT_ROBOTS_UTF16_WARNING);
    }
    if (load_record(d->l, host, len, h->outcome, body, blen) != 0) d->failed = 1;
    free(body);
    return d->failed;
}

static int dir_each(struct loader *l, void *arg) {
    struct dir_load *d = arg;
    d->l = l;
    optout_strmap_each(d->hosts, dir_load_one, d);
    return d->failed ? -1 : 0;
}

long optout_verdicts_load_redis(const char *endpoint, const char *user, const char *password, const char *prefix,
                                const char *robots_dir, char *err, size_t errlen) {
    struct dir_load d = {.dir = robots_dir};
    if (!(d.hosts = optout_strmap_new())) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    long rc = -1;
    if (robots_dir_scan(robots_dir, d.hosts, sizeof(struct robots_dir_host), err, errlen) >= 0) {
        struct load_source src = {"no_robots", dir_known, d.hosts, dir_each, &d};
        rc = load_store(endpoint, user, password, prefix, &src, err, errlen);
    }
    optout_strmap_free(d.hosts, robots_dir_host_free);
    return rc;
}

/* ---- loading a robots archive ---- */

struct archive_load {
    const char *dir;
    struct archive_index *ix;
    struct loader *l;
    int failed;
};

static int archive_known(const void *set, const char *host, size_t len) {
    return archive_index_find(set, host, len) >= 0;
}

static int archive_load_one(const optout_archive_record *rec, void *arg) {
    struct archive_load *a = arg;
    const optout_fetch_result *r = &rec->r;
    if (load_record(a->l, r->host, strlen(r->host), r->outcome, r->body, r->body ? r->body_len : 0) != 0)
        a->failed = 1;
    return a->failed;
}

/* Streams the archive (bodies read, checked and sent one at a time). */
static int archive_each(struct loader *l, void *arg) {
    struct archive_load *a = arg;
    a->l = l;
    char why[1024];
    long n = optout_archive_scan(a->dir, 1, archive_load_one, a, NULL, why, sizeof why);
    if (n < 0) {
        if (!a->failed) optout_set_err(l->err, l->errlen, "%s", why);
        return -1;
    }
    if ((size_t)n != archive_index_count(a->ix)) {
        optout_set_err(l->err, l->errlen, "archive %s changed while it was loaded (%ld records, %zu indexed)", a->dir,
                       n, archive_index_count(a->ix));
        return -1;
    }
    return 0;
}

long optout_verdicts_load_redis_archive(const char *endpoint, const char *user, const char *password,
                                        const char *prefix, const char *archive_dir, char *err, size_t errlen) {
    struct archive_load a = {.dir = archive_dir};
    if (!(a.ix = archive_index_open(archive_dir, err, errlen))) return -1; /* a host twice: error */
    struct load_source src = {"not_ranked", archive_known, a.ix, archive_each, &a};
    long rc = load_store(endpoint, user, password, prefix, &src, err, errlen);
    archive_index_free(a.ix);
    return rc;
}

/* ---- dropping a store ---------------------------------------------------------------------- */

long optout_verdicts_redis_drop(const char *endpoint, const char *user, const char *password, const char *prefix,
                                char *err, size_t errlen) {
    redisContext *c = NULL;
    if (!*prefix || strlen(prefix) > REDIS_PREFIX_MAX) { /* an empty prefix would match every key of the server */
        optout_set_err(err, errlen, "Redis key prefix %s", *prefix ? "too long" : "empty");
        return -1;
    }
    if (redis_connect(endpoint, user, password, &c, err, errlen) != ROUND_OK) return -1;
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    long unlinked = 0;
    char meta[512];
    /* "complete" first: a store being dropped never reads as complete to a late reader */
    snprintf(meta, sizeof meta, "%scomplete", prefix);
    redisReply *r = redisCommand(c, "UNLINK %s", meta);
    int rc = -1;
    if (!r) optout_set_err(err, errlen, "Redis at %s: UNLINK: %s", endpoint, c->errstr);
    else if (r->type == REDIS_REPLY_ERROR) redis_reply_error(endpoint, r, "UNLINK", err, errlen);
    else {
        if (r->type == REDIS_REPLY_INTEGER) unlinked += (long)r->integer;
        rc = redis_scan_unlink(c, endpoint, prefix, "", NULL, NULL, &unlinked, err, errlen);
    }
    if (r) freeReplyObject(r);
    redis_sigpipe_restore(&g);
    redisFree(c);
    return rc == 0 ? unlinked : -1;
}
