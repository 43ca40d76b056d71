/* history_redis.c — the history archive in Redis (include/optout/history_redis.h: layout, record
 * format, load protocol, source contract).
 *
 * Records. A host's versions are one value, not one key each: a robots.txt history is read whole
 * (the judge resolves redirects and picks among all of a host's versions), so one GET answers a
 * host, and a key costs Redis about 70 bytes of its own. Varints keep a version at about 20 bytes
 * plus its SHA-256; bodies live once per SHA-256 under their own keys, as in the archive.
 *
 * Load. The archive is opened with its own reader (every line checked), its index hashed before
 * and after opening (the identity of what the keys hold, "source"), and written host by host in index order, bodies
 * before the record that names them and "done" after each round trip, all on one pipelined
 * connection: Redis runs one connection's commands in order, so "done" = N means that the first N
 * hosts and their bodies are in. A rerun of the same archive starts at "done".
 *
 * Source. One connection; a miss costs one round trip (the GETs asked for, then MGET planned
 * complete), retried on a new connection as the verdict store does (redis_internal.h). Decoded
 * hosts stay cached for the life of the source (history.h's lifetime rule), in one block each.
 */
#include "optout/history_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_internal.h"
#include "optout/history_archive.h"
#include "optout/history_record.h"
#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "redis_internal.h"

#define HR_BODY_LEAD 'B'

/* ---- keys -------------------------------------------------------------------------------------- */

/* PREFIX "history:" into a fresh string (NULL when out of memory or too long, with err). */
static char *ns_prefix(const char *prefix, char *err, size_t errlen) {
    if (!*prefix || strlen(prefix) > REDIS_PREFIX_MAX) {
        optout_set_err(err, errlen, "Redis key prefix %s", *prefix ? "too long" : "empty");
        return NULL;
    }
    char *p;
    if (asprintf(&p, "%s%s", prefix, OPTOUT_HISTORY_REDIS_NS) < 0) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    return p;
}

int optout_history_redis_complete(const char *endpoint, const char *user, const char *password, const char *prefix,
                                  char *err, size_t errlen) {
    char *ns = ns_prefix(prefix, err, errlen);
    if (!ns) return -1;
    /* the verdict store's check: the same "planned"/"complete" pair, under the history namespace */
    int rc = optout_verdicts_redis_complete(endpoint, user, password, ns, err, errlen);
    free(ns);
    return rc;
}

/* ---- the loader -------------------------------------------------------------------------------- */

/* Bodies sent lately: a direct-mapped set of SHA-256s (a slot per digest's first bytes, the newest
 * wins), so that a body shared by many versions is sent once while it stays, in a bounded memory
 * whatever the archive's size. A body that fell out is sent again: the same key and value. */
#define SENT_SLOTS ((size_t)1 << 17) /* 4 MiB */

struct sent {
    unsigned char sha[SENT_SLOTS][32]; /* all zero: empty */
};

static unsigned char *sent_slot(struct sent *s, const unsigned char sha[32]) {
    uint64_t h;
    memcpy(&h, sha, sizeof h);
    return s->sha[h % SENT_SLOTS];
}

/* 1 when the body of hex digest `hex` is in the set; else adds it and answers 0. */
static int sent_check_add(struct sent *s, const char *hex) {
    unsigned char sha[32];
    if (archive_hex_to_sha(hex, sha) != 0) return 0; /* the cursor checked it: never here */
    unsigned char *slot = sent_slot(s, sha);
    if (memcmp(slot, sha, 32) == 0) return 1;
    memcpy(slot, sha, 32);
    return 0;
}

struct hload {
    const char *endpoint, *ns, *dir;
    redisContext *c;
    optout_history_cursor *cur;
    uint64_t nhosts; /* line 1's count (the cursor checks it at the end) */
    char id[65];     /* SHA-256 of index.tsv */
    struct sent *sent;
    size_t pending, pending_bytes;
    char *key;
    size_t key_cap;
    ZSTD_CCtx *cctx;
    optout_history_redis_load_stats *st;
    char *err;
    size_t errlen;
};

static int hl_fail(struct hload *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int hl_fail(struct hload *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    optout_set_errv(l->err, l->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int hl_append(struct hload *l, const char *suffix, const char *name, size_t nlen, const char *val,
                     size_t vlen) {
    size_t klen = redis_build_key(&l->key, &l->key_cap, l->ns, strlen(l->ns), suffix, name, nlen);
    if (klen == 0 || redisAppendCommand(l->c, "SET %b %b", l->key, klen, val, vlen) != REDIS_OK)
        return hl_fail(l, "out of memory");
    l->pending++;
    l->pending_bytes += vlen;
    return 0;
}

/* The SET of body v->sha256 (read from the archive and checked there), unless sent lately. */
static int hl_body(struct hload *l, const optout_history_version *v) {
    if (sent_check_add(l->sent, v->sha256)) return 0;
    char *body = NULL, *val = NULL;
    size_t blen = 0, vlen = 0;
    if (optout_history_cursor_body(l->cur, v, &body, &blen, l->err, l->errlen) != 0) return -1;
    int rc = redis_pack_value(&l->cctx, HR_BODY_LEAD, body, blen, &val, &vlen);
    free(body);
    if (rc != 0) return hl_fail(l, "out of memory");
    rc = hl_append(l, "b:", v->sha256, 64, val, vlen);
    free(val);
    if (rc == 0) l->st->bodies_written++;
    return rc;
}

/* The bodies and the record of host h (captures: its versions'). */
static int hl_host(struct hload *l, const optout_history_host *h, const uint64_t *captures) {
    int rc = 0;
    for (size_t i = 0; i < h->count && rc == 0; i++)
        if (h->versions[i].outcome == OPTOUT_OUTCOME_OK) rc = hl_body(l, &h->versions[i]);
    char *rec = NULL, why[256];
    size_t rlen = 0;
    if (rc == 0 && optout_history_record_encode(h->versions, captures, h->count, &rec, &rlen, why, sizeof why) != 0)
        rc = hl_fail(l, "%s/%s: host %s: %s", l->dir, OPTOUT_HISTORY_DIR, h->host, why);
    if (rc == 0) rc = hl_append(l, "h:", h->host, h->host_len, rec, rlen);
    free(rec);
    if (rc == 0) l->st->hosts_written++;
    return rc;
}

/* "done" = n after the commands pending, then every reply read. */
static int hl_flush(struct hload *l, uint64_t n) {
    char count[32];
    int clen = snprintf(count, sizeof count, "%" PRIu64, n);
    if (hl_append(l, "", "done", 4, count, (size_t)clen) != 0) return -1;
    l->pending_bytes = 0;
    return redis_drain(l->c, l->endpoint, "loading the history", &l->pending, l->err, l->errlen);
}

/* The state the store is in: source, done, planned, complete. */
struct hstate {
    char source[65];
    long long done;
    int have_done;
    struct redis_counts n;
};

static int hl_state(struct hload *l, struct hstate *s) {
    memset(s, 0, sizeof *s);
    redisReply *r = redisCommand(l->c, "MGET %ssource %sdone %splanned %scomplete", l->ns, l->ns, l->ns, l->ns);
    if (!r) return hl_fail(l, "Redis at %s: MGET: %s", l->endpoint, l->c->errstr);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        redis_reply_error(l->endpoint, r, "reading the history store's state", l->err, l->errlen);
        rc = -1;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        rc = hl_fail(l, "Redis at %s: unexpected reply to MGET", l->endpoint);
    } else {
        const redisReply *src = r->element[0];
        if (src->type == REDIS_REPLY_STRING && src->len == 64) {
            memcpy(s->source, src->str, 64);
            s->source[64] = '\0';
        }
        /* counts that are not counts read as none: the load rewrites them */
        if (redis_parse_count(r->element[1], &s->have_done, &s->done) != 0) s->have_done = 0;
        if (redis_parse_count(r->element[2], &s->n.have_planned, &s->n.planned) != 0) s->n.have_planned = 0;
        if (redis_parse_count(r->element[3], &s->n.have_complete, &s->n.complete) != 0) s->n.have_complete = 0;
    }
    freeReplyObject(r);
    return rc;
}

static int hl_command(struct hload *l, const char *what, redisReply *r) {
    return redis_reply_ok(l->c, l->endpoint, what, r, l->err, l->errlen);
}

/* Reads the EXISTS replies of a verification batch; *first becomes the smallest host index whose
 * key is missing. */
static int hl_verify_drain(struct hload *l, const uint64_t *host_of, size_t n, uint64_t *first) {
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(l->c, &reply) != REDIS_OK || !reply)
            return hl_fail(l, "Redis at %s: EXISTS: %s", l->endpoint, l->c->errstr);
        redisReply *r = reply;
        int missing = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
        int bad = r->type != REDIS_REPLY_INTEGER;
        if (bad) redis_reply_error(l->endpoint, r, "EXISTS", l->err, l->errlen);
        freeReplyObject(r);
        if (bad) { /* the other replies still read: the connection stays in step */
            for (i++; i < n; i++)
                if (redisGetReply(l->c, &reply) == REDIS_OK && reply) freeReplyObject(reply);
            return -1;
        }
        if (missing && host_of[i] < *first) *first = host_of[i];
    }
    return 0;
}

/* A resumed load trusts the hosts under "done" only when their records and bodies are all still
 * there (Redis may have lost keys since: a failover, an eviction): *start becomes the first host
 * with a key missing. One pipelined EXISTS per key (a body once while it stays in the sent set),
 * REDIS_BATCH a round trip, reading the first *start hosts through the cursor. */
static int hl_verify(struct hload *l, uint64_t *start) {
    uint64_t *host_of = malloc(REDIS_BATCH * sizeof *host_of), first = *start;
    size_t n = 0, nslen = strlen(l->ns);
    int rc = host_of ? 0 : hl_fail(l, "out of memory");
    for (uint64_t i = 0; i < *start && rc == 0 && first == *start; i++) {
        optout_history_host h;
        int got = optout_history_cursor_next(l->cur, &h, NULL, l->err, l->errlen);
        if (got <= 0) {
            rc = got < 0 ? -1 : hl_fail(l, "%s/%s: fewer hosts than its line 1 says", l->dir, OPTOUT_HISTORY_DIR);
            break;
        }
        for (size_t k = 0; k <= h.count && rc == 0; k++) { /* the record, then the bodies not asked yet */
            const char *suffix = k == 0 ? "h:" : "b:", *name = h.host;
            size_t nlen = h.host_len;
            if (k > 0) {
                const optout_history_version *v = &h.versions[k - 1];
                if (v->outcome != OPTOUT_OUTCOME_OK || sent_check_add(l->sent, v->sha256)) continue;
                name = v->sha256;
                nlen = 64;
            }
            size_t klen = redis_build_key(&l->key, &l->key_cap, l->ns, nslen, suffix, name, nlen);
            if (klen == 0 || redisAppendCommand(l->c, "EXISTS %b", l->key, klen) != REDIS_OK) {
                rc = hl_fail(l, "out of memory");
                break;
            }
            host_of[n++] = i;
            if (n == REDIS_BATCH) {
                rc = hl_verify_drain(l, host_of, n, &first);
                n = 0;
            }
        }
    }
    if (rc == 0 && n) rc = hl_verify_drain(l, host_of, n, &first);
    free(host_of);
    memset(l->sent, 0, sizeof *l->sent); /* "asked", not "sent": the load starts with none */
    if (rc != 0) return -1;
    if (first < *start) { /* read again up to the first host missing a key */
        if (optout_history_cursor_rewind(l->cur, l->err, l->errlen) != 0) return -1;
        for (uint64_t i = 0; i < first; i++) {
            optout_history_host h;
            int got = optout_history_cursor_next(l->cur, &h, NULL, l->err, l->errlen);
            if (got != 1)
                return got < 0 ? -1 : hl_fail(l, "%s/%s: fewer hosts than its line 1 says", l->dir, OPTOUT_HISTORY_DIR);
        }
    }
    *start = first;
    return 0;
}

/* Every record and body under the namespace deleted, and "source" set to this archive: what a
 * load of another archive (or of one whose "source" was deleted) starts with. Its keys are all
 * rewritten anyway, so deleting them all costs no more than finding the stale ones, and needs no
 * list of the archive's hosts in memory. "done" and "source" go first: a load killed in the middle
 * leaves no "source", and the next one deletes again. */
static int hl_reset(struct hload *l) {
    if (hl_command(l, "DEL done source", redisCommand(l->c, "DEL %sdone %ssource", l->ns, l->ns)) != 0 ||
        redis_scan_unlink(l->c, l->endpoint, l->ns, "h:", NULL, NULL, &l->st->stale_deleted, l->err, l->errlen) != 0 ||
        redis_scan_unlink(l->c, l->endpoint, l->ns, "b:", NULL, NULL, &l->st->stale_deleted, l->err, l->errlen) != 0)
        return -1;
    return hl_command(l, "SET source", redisCommand(l->c, "SET %ssource %s", l->ns, l->id));
}

/* The load protocol (history_redis.h) once the archive is open and connected. */
static int hl_run(struct hload *l, size_t batch_hosts, optout_history_redis_progress progress, void *arg) {
    uint64_t nhosts = l->nhosts;
    struct hstate s;
    if (hl_state(l, &s) != 0) return -1;
    if (strcmp(s.source, l->id) == 0 && s.n.have_planned && s.n.have_complete && s.n.planned == s.n.complete &&
        (uint64_t)s.n.planned == nhosts) {
        l->st->already_loaded = 1;
        return 0;
    }
    /* not complete while records change: a load that dies never looks complete */
    if (hl_command(l, "DEL complete", redisCommand(l->c, "DEL %scomplete", l->ns)) != 0) return -1;
    uint64_t start = 0;
    if (strcmp(s.source, l->id) != 0) {
        if (hl_reset(l) != 0) return -1;
    } else if (s.have_done && s.done > 0 && (unsigned long long)s.done <= nhosts) {
        start = (uint64_t)s.done;
    }
    if (start > 0 && hl_verify(l, &start) != 0) return -1;
    l->st->resumed_at = start;
    size_t in_batch = 0;
    uint64_t i = start;
    for (;;) {
        optout_history_host h;
        const uint64_t *captures;
        int got = optout_history_cursor_next(l->cur, &h, &captures, l->err, l->errlen);
        if (got < 0) return -1;
        if (got == 1) {
            if (hl_host(l, &h, captures) != 0) return -1;
            in_batch++;
            i++;
        }
        int flush = got == 0 ? in_batch > 0 || i == start
                             : l->pending >= REDIS_BATCH || l->pending_bytes >= REDIS_LOAD_BATCH_BYTES ||
                                   (batch_hosts && in_batch >= batch_hosts);
        if (flush) {
            if (hl_flush(l, i) != 0) return -1;
            in_batch = 0;
            if (progress && progress(arg, i, nhosts) != 0)
                return hl_fail(l, "loading %s/%s into Redis at %s: interrupted after %" PRIu64 " of %" PRIu64 " hosts",
                               l->dir, OPTOUT_HISTORY_DIR, l->endpoint, i, nhosts);
        }
        if (got == 0) break;
    }
    char count[32];
    snprintf(count, sizeof count, "%" PRIu64, nhosts);
    if (hl_command(l, "SET planned", redisCommand(l->c, "SET %splanned %s", l->ns, count)) != 0) return -1;
    return hl_command(l, "SET complete", redisCommand(l->c, "SET %scomplete %s", l->ns, count)); /* last */
}

/* The archive's identity: the SHA-256 of its index (every version, body place and the bodies file's
 * size). 0, or -1 with err. */
static int archive_id(const char *dir, char id[65], char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/%s", dir, OPTOUT_HISTORY_DIR, OPTOUT_HISTORY_INDEX);
    if (optout_sha256_file(path, id) == 0) return 0;
    optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
}

long optout_history_redis_load(const char *endpoint, const char *user, const char *password, const char *prefix,
                               const char *dir, size_t batch_hosts, optout_history_redis_progress progress,
                               void *progress_arg, optout_history_redis_load_stats *stats, char *err, size_t errlen) {
    optout_history_redis_load_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    struct hload l = {.endpoint = endpoint, .dir = dir, .st = stats, .err = err, .errlen = errlen};
    long rc = -1;
    char again[65];
    struct redis_sigpipe_guard g;
    int guarded = 0;
    if (!(l.ns = ns_prefix(prefix, err, errlen))) return -1;
    /* hashed before and after the files are opened: equal, the open files are the hashed ones */
    if (archive_id(dir, l.id, err, errlen) != 0 || !(l.cur = optout_history_cursor_open(dir, err, errlen)) ||
        archive_id(dir, again, err, errlen) != 0)
        goto out;
    if (strcmp(l.id, again) != 0) {
        optout_set_err(err, errlen, "%s/%s changed while it was opened (a build published meanwhile): load again",
                       dir, OPTOUT_HISTORY_DIR);
        goto out;
    }
    l.nhosts = optout_history_cursor_hosts(l.cur);
    stats->hosts = l.nhosts;
    stats->versions = optout_history_cursor_versions(l.cur);
    if (!(l.sent = calloc(1, sizeof *l.sent))) {
        optout_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (redis_connect(endpoint, user, password, &l.c, err, errlen) != ROUND_OK) goto out;
    redis_sigpipe_block(&g);
    guarded = 1;
    if (hl_run(&l, batch_hosts, progress, progress_arg) == 0) rc = (long)stats->hosts;
out:
    if (guarded) redis_sigpipe_restore(&g);
    if (l.c) redisFree(l.c);
    optout_history_cursor_close(l.cur);
    free(l.sent);
    ZSTD_freeCCtx(l.cctx);
    free(l.key);
    free((char *)l.ns);
    return rc;
}

/* ---- the source -------------------------------------------------------------------------------- */

/* What to do about a corrupt key: a load of the same archive rewrites only what is missing, so
 * forgetting which archive the keys hold makes it rewrite every key. */
#define REPAIR "delete %ssource and load the archive again"

struct cached_host {
    optout_history_host h; /* versions: the decoded block (NULL when none); host: a copy */
    size_t bytes;
};

struct optout_history_redis {
    struct redis_link link; /* endpoint, credentials, connection, key buffer */
    char *ns;
    optout_strmap *hosts; /* host key -> struct cached_host */
    size_t bytes;
    optout_strmap *bodies; /* the last body prefetch's: SHA-256 hex -> its GET's string reply */
    ZSTD_DCtx *dctx;
    char *plain;
    size_t plain_cap;
};

static void cached_free(void *p) {
    struct cached_host *e = p;
    if (!e) return;
    free((void *)e->h.versions);
    free((void *)e->h.host);
    free(e);
}

static void reply_free(void *p) { freeReplyObject(p); }

void optout_history_redis_close(optout_history_redis *r) {
    if (!r) return;
    redis_link_free(&r->link);
    optout_strmap_free(r->hosts, cached_free);
    optout_strmap_free(r->bodies, reply_free);
    free(r->ns);
    ZSTD_freeDCtx(r->dctx);
    free(r->plain);
    free(r);
}

static const char *const META[] = {"planned", "complete"};

/* One round trip (retried on a new connection, with backoff): GET SUFFIX NAME for names[0..n) under
 * the namespace, then MGET planned complete. The replies (the caller frees them) in replies[0..n),
 * the counts in *m. 0, or -1 with err. */
static int fetch_keys(optout_history_redis *r, const char *suffix, const char *const *names, const size_t *lens,
                      size_t n, redisReply **replies, struct redis_counts *m, const char *what, char *err,
                      size_t errlen) {
    redisReply *meta = NULL;
    if (redis_link_fetch(&r->link, r->ns, suffix, names, lens, n, META, 2, replies, &meta, what, err, errlen) != 0)
        return -1;
    memset(m, 0, sizeof *m);
    int rc = 0;
    if (meta->type == REDIS_REPLY_ERROR) {
        redis_reply_error(r->link.endpoint, meta, "reading the history store's completeness", err, errlen);
        rc = -1;
    } else if (meta->type != REDIS_REPLY_ARRAY || meta->elements != 2 ||
               redis_parse_count(meta->element[0], &m->have_planned, &m->planned) != 0 ||
               redis_parse_count(meta->element[1], &m->have_complete, &m->complete) != 0) {
        optout_set_err(err, errlen, "Redis history store under %s at %s: 'planned' / 'complete' are not counts",
                       r->ns, r->link.endpoint);
        rc = -1;
    }
    freeReplyObject(meta);
    if (rc != 0) redis_free_replies(replies, n);
    return rc;
}

/* One GET reply of a host record into the cache. 1 (versions), 0 (none), -1 with err. */
static int absorb(optout_history_redis *r, const char *host, size_t len, const redisReply *x,
                  const struct redis_counts *m, struct cached_host **out, char *err, size_t errlen) {
    *out = optout_strmap_get(r->hosts, host, len);
    if (*out) return (*out)->h.count ? 1 : 0; /* a host twice in one prefetch */
    optout_history_version *v = NULL;
    size_t count = 0;
    if (x->type == REDIS_REPLY_NIL) {
        if (redis_check_complete(r->link.endpoint, r->ns, m, err, errlen) != ROUND_OK) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (no history record for %.*s)", (int)len, host);
            return -1;
        }
    } else if (x->type == REDIS_REPLY_STRING) {
        char why[160];
        if (optout_history_record_decode(x->str, x->len, &v, &count, NULL, why, sizeof why) != 0) {
            optout_set_err(err, errlen, "corrupt history record %sh:%.*s in Redis at %s: %s: " REPAIR, r->ns, (int)len,
                           host, r->link.endpoint, why, r->ns);
            return -1;
        }
    } else if (x->type == REDIS_REPLY_ERROR) {
        redis_reply_error(r->link.endpoint, x, "GET", err, errlen);
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (history record of %.*s)", (int)len, host);
        return -1;
    } else {
        optout_set_err(err, errlen, "Redis at %s: unexpected reply type %d for the history record of %.*s",
                       r->link.endpoint, x->type, (int)len, host);
        return -1;
    }
    struct cached_host *e = calloc(1, sizeof *e);
    char *copy = malloc(len + 1);
    if (!e || !copy || optout_strmap_put(r->hosts, host, len, e, NULL) != 0) {
        free(e);
        free(copy);
        free(v);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, host, len);
    copy[len] = '\0';
    e->h = (optout_history_host){.host = copy, .host_len = len, .versions = v, .count = count};
    e->bytes = sizeof *e + len + 1 + 48 /* the map's entry */ + (v ? (size_t)x->len + count * (sizeof *v + 8) : 0);
    r->bytes += e->bytes;
    *out = e;
    return count ? 1 : 0;
}

static int src_lookup(void *arg, const char *host, size_t len, optout_history_host *out, char *err, size_t errlen) {
    optout_history_redis *r = arg;
    struct cached_host *e = optout_strmap_get(r->hosts, host, len);
    if (!e) {
        char what[300];
        snprintf(what, sizeof what, "the history of %.*s", len > 256 ? 256 : (int)len, host);
        redisReply *x = NULL;
        struct redis_counts m;
        if (fetch_keys(r, "h:", &host, &len, 1, &x, &m, what, err, errlen) != 0) return -1;
        int rc = absorb(r, host, len, x, &m, &e, err, errlen);
        freeReplyObject(x);
        if (rc < 0) return -1;
    }
    *out = e->h;
    return e->h.count ? 1 : 0;
}

static int src_body(void *arg, const optout_history_version *v, char **body, size_t *len, char *err,
                    size_t errlen) {
    optout_history_redis *r = arg;
    *body = NULL;
    *len = 0;
    unsigned char sha[32];
    if (v->outcome != OPTOUT_OUTCOME_OK || archive_hex_to_sha(v->sha256, sha) != 0) {
        optout_set_err(err, errlen, "Redis history store under %s: no body for this version", r->ns);
        return -1;
    }
    char what[100];
    snprintf(what, sizeof what, "body %.64s", v->sha256);
    const char *name = v->sha256;
    size_t nlen = 64;
    /* prefetched (a string reply, checked below as any), else one round trip */
    redisReply *pre = r->bodies ? optout_strmap_get(r->bodies, v->sha256, 64) : NULL, *x = pre;
    struct redis_counts m = {0};
    if (!x && fetch_keys(r, "b:", &name, &nlen, 1, &x, &m, what, err, errlen) != 0) return -1;
    char why[160] = "";
    const char *data = NULL;
    size_t dlen = 0;
    if (x->type == REDIS_REPLY_NIL) {
        snprintf(why, sizeof why, "missing%s", redis_check_complete(r->link.endpoint, r->ns, &m, NULL, 0) == ROUND_OK
                                                   ? ""
                                                   : " (the store is incomplete)");
    } else if (x->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof why, "%s", x->str ? x->str : "an error reply");
    } else if (x->type != REDIS_REPLY_STRING || x->len == 0 ||
               ((unsigned char)x->str[0] & (unsigned char)~REDIS_ZSTD_FLAG) != HR_BODY_LEAD) {
        snprintf(why, sizeof why, "not a body value");
    } else if ((unsigned char)x->str[0] & REDIS_ZSTD_FLAG) {
        if (redis_unpack_frame(&r->dctx, x->str + 1, x->len - 1, ARCHIVE_BODY_MAX, &r->plain, &r->plain_cap, &dlen,
                               why, sizeof why) == 0)
            data = r->plain;
    } else {
        data = x->str + 1;
        dlen = x->len - 1;
    }
    char got[65];
    if (data && dlen != v->size) {
        snprintf(why, sizeof why, "%zu bytes where the version says %" PRIu64, dlen, v->size);
        data = NULL;
    } else if (data) {
        optout_sha256_hex(data, dlen, got);
        if (strcmp(got, v->sha256) != 0) {
            snprintf(why, sizeof why, "its SHA-256 is %s", got);
            data = NULL;
        }
    }
    int rc = -1;
    if (!data) {
        optout_set_err(err, errlen, "corrupt history body %sb:%.64s in Redis at %s: %s: " REPAIR, r->ns, v->sha256,
                       r->link.endpoint, why, r->ns);
    } else if (!(*body = malloc(dlen + 1))) {
        optout_set_err(err, errlen, "out of memory");
    } else {
        memcpy(*body, data, dlen);
        (*body)[dlen] = '\0';
        *len = dlen;
        rc = 0;
    }
    if (!pre) freeReplyObject(x);
    return rc;
}

optout_history_redis *optout_history_redis_open(const char *endpoint, const char *user, const char *password,
                                                const char *prefix, char *err, size_t errlen) {
    optout_history_redis *r = calloc(1, sizeof *r);
    if (!r) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!(r->ns = ns_prefix(prefix, err, errlen))) {
        optout_history_redis_close(r);
        return NULL;
    }
    if (redis_link_init(&r->link, endpoint, user, password) != 0 || !(r->hosts = optout_strmap_new())) {
        optout_set_err(err, errlen, "out of memory");
        optout_history_redis_close(r);
        return NULL;
    }
    struct redis_counts m;
    if (fetch_keys(r, "h:", NULL, NULL, 0, NULL, &m, "the history store's completeness", err, errlen) != 0 ||
        redis_check_complete(r->link.endpoint, r->ns, &m, err, errlen) != ROUND_OK) {
        optout_history_redis_close(r);
        return NULL;
    }
    return r;
}

/* A prefetch's hosts of one round: the redirect targets of the hosts fetched in the round before
 * (copies), asked for next, as the judge will follow them. */
struct targets {
    char **names;
    size_t *lens, count, cap;
};

static void targets_free(struct targets *t) {
    for (size_t i = 0; i < t->count; i++) free(t->names[i]);
    free(t->names);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

static int targets_add(struct targets *t, const char *name, size_t len) {
    if (t->count == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        char **names = realloc(t->names, cap * sizeof *names);
        if (names) t->names = names;
        size_t *lens = names ? realloc(t->lens, cap * sizeof *lens) : NULL;
        if (!lens) return -1;
        t->lens = lens;
        t->cap = cap;
    }
    if (!(t->names[t->count] = strndup(name, len))) return -1;
    t->lens[t->count++] = len;
    return 0;
}

struct prefetch_round {
    optout_history_redis *r;
    struct targets next;
};

static int prefetch_cached(void *arg, const char *host, size_t len) {
    const struct prefetch_round *p = arg;
    return optout_strmap_get(p->r->hosts, host, len) != NULL;
}

/* The round trip of a prefetch's batch (redis_prefetch_batches): GET SUFFIX NAME for sel[0..n)
 * into replies (REDIS_BATCH at most), for messages "KIND WHAT". 0, or -1 with err. */
static int batch_fetch(optout_history_redis *r, const char *suffix, const char *kind, const char *const *sel,
                       const size_t *sel_len, size_t n, const char *what, redisReply **replies, struct redis_counts *m,
                       char *err, size_t errlen) {
    char about[340];
    snprintf(about, sizeof about, "%s %s", kind, what);
    return fetch_keys(r, suffix, sel, sel_len, n, replies, m, about, err, errlen);
}

/* One batch of a prefetch: fetched and decoded into the cache; the targets of its redirects kept
 * for the next round. */
static int prefetch_batch(void *arg, const char *const *sel, const size_t *sel_len, size_t n, const char *what,
                          char *err, size_t errlen) {
    struct prefetch_round *p = arg;
    optout_history_redis *r = p->r;
    redisReply *replies[REDIS_BATCH];
    struct redis_counts m;
    if (batch_fetch(r, "h:", "the history of", sel, sel_len, n, what, replies, &m, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t j = 0; j < n && rc >= 0; j++) {
        struct cached_host *e;
        rc = absorb(r, sel[j], sel_len[j], replies[j], &m, &e, err, errlen);
        for (size_t k = 0; rc >= 0 && k < e->h.count; k++) {
            const char *to = e->h.versions[k].redirect;
            if (to && !optout_strmap_get(r->hosts, to, strlen(to)) && targets_add(&p->next, to, strlen(to)) != 0) {
                optout_set_err(err, errlen, "out of memory");
                rc = -1;
            }
        }
    }
    redis_free_replies(replies, n);
    return rc < 0 ? -1 : 0;
}

int optout_history_redis_prefetch(optout_history_redis *r, const char *const *hosts, const size_t *lens,
                                  size_t count, char *err, size_t errlen) {
    struct prefetch_round p = {.r = r};
    struct targets asked = {0};
    int rc = 0;
    /* the hosts, then up to OPTOUT_HISTORY_MAX_HOPS rounds of the targets their redirects name */
    for (int round = 0; rc == 0 && count > 0 && round <= OPTOUT_HISTORY_MAX_HOPS; round++) {
        rc = redis_prefetch_batches(hosts, lens, count, prefetch_cached, prefetch_batch, &p, err, errlen);
        targets_free(&asked);
        asked = p.next;
        memset(&p.next, 0, sizeof p.next);
        hosts = (const char *const *)asked.names;
        lens = asked.lens;
        count = asked.count;
    }
    targets_free(&asked);
    targets_free(&p.next);
    return rc;
}

static int src_prefetch(void *arg, const char *const *hosts, const size_t *lens, size_t count, char *err,
                        size_t errlen) {
    return optout_history_redis_prefetch(arg, hosts, lens, count, err, errlen);
}

static int body_cached(void *arg, const char *sha, size_t len) {
    const optout_history_redis *r = arg;
    return optout_strmap_get(r->bodies, sha, len) != NULL;
}

/* One batch of a body prefetch: the string replies kept for src_body, which checks them; anything
 * else (a body gone, an error reply) is left to src_body's own round trip to report. */
static int body_batch(void *arg, const char *const *sel, const size_t *sel_len, size_t n, const char *what, char *err,
                      size_t errlen) {
    optout_history_redis *r = arg;
    redisReply *replies[REDIS_BATCH];
    struct redis_counts m;
    if (batch_fetch(r, "b:", "the history bodies", sel, sel_len, n, what, replies, &m, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t j = 0; j < n; j++) {
        void *old = NULL;
        if (rc == 0 && replies[j]->type == REDIS_REPLY_STRING) {
            if (optout_strmap_put(r->bodies, sel[j], sel_len[j], replies[j], &old) != 0) {
                optout_set_err(err, errlen, "out of memory");
                rc = -1;
            } else {
                replies[j] = old; /* kept: nothing to free but a reply it replaced */
            }
        }
        if (replies[j]) freeReplyObject(replies[j]);
    }
    return rc;
}

/* The bodies asked for replace those of the prefetch before (read by now, or not needed), so that
 * memory holds one chunk of documents' bodies at most. */
static int src_prefetch_bodies(void *arg, const char *const *sha256, size_t count, char *err, size_t errlen) {
    optout_history_redis *r = arg;
    optout_strmap_free(r->bodies, reply_free);
    size_t *lens = malloc((count ? count : 1) * sizeof *lens);
    if (!(r->bodies = optout_strmap_new()) || !lens) {
        free(lens);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) lens[i] = 64;
    int rc = redis_prefetch_batches(sha256, lens, count, body_cached, body_batch, r, err, errlen);
    free(lens);
    return rc;
}

optout_history_source optout_history_redis_source(optout_history_redis *r) {
    return (optout_history_source){
        .arg = r, .lookup = src_lookup, .body = src_body, .prefetch = src_prefetch, .prefetch_bodies = src_prefetch_bodies};
}

size_t optout_history_redis_cached_bytes(const optout_history_redis *r) { return r->bytes; }

void optout_history_redis_forget(optout_history_redis *r) {
    optout_strmap *fresh = optout_strmap_new();
    if (!fresh) return; /* keep the old cache: still valid */
    optout_strmap_free(r->hosts, cached_free);
    r->hosts = fresh;
    r->bytes = 0;
    optout_strmap_free(r->bodies, reply_free);
    r->bodies = NULL;
}
