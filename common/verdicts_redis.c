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
#include "verdicts_internal.h"

#define REDIS_BATCH 1000                         /* commands per pipelined round trip */
#define REDIS_LOAD_BATCH_BYTES ((size_t)16 << 20) /* ... or this many value bytes (loader) */
#define REDIS_ATTEMPTS 7                         /* tries of one round trip (1 + 6 reconnects) */
#define REDIS_BACKOFF_MS 100                     /* before the 3rd try; doubles */
#define REDIS_CONNECT_TIMEOUT_MS 5000
#define REDIS_IO_TIMEOUT_MS 10000
#define REDIS_ENTRIES_PER_SET 4

enum { ROUND_OK = 0, ROUND_FATAL = -1, ROUND_RETRY = -2 };

/* ---- connection ------------------------------------------------------------------------------ */

/* Blocks SIGPIPE in this thread around an exchange and discards one raised by it (the recipe of
 * libpq's pq_block_sigpipe). */
struct sigpipe_guard {
    sigset_t old;
    int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g) {
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g) {
    if (!g->was_pending) {
        sigset_t pipe_set, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
            }
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void wipe(char *s) {
    if (s) explicit_bzero(s, strlen(s));
}

/* 1 for an error reply that means "try again on a new connection". */
static int retryable_reply(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR && r->str &&
           (strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0);
}

/* Connects to "unix:/path" or "host:port" ("[v6]:port"), sets timeouts and authenticates.
 * ROUND_OK with *out, ROUND_RETRY (cannot connect: try later) or ROUND_FATAL, with err. */
static int redis_connect(const char *endpoint, const char *user, const char *password, redisContext **out, char *err,
                         size_t errlen) {
    *out = NULL;
    struct timeval ctv = {REDIS_CONNECT_TIMEOUT_MS / 1000, (REDIS_CONNECT_TIMEOUT_MS % 1000) * 1000};
    redisContext *c;
    if (strncmp(endpoint, "unix:", 5) == 0 && endpoint[5]) {
        c = redisConnectUnixWithTimeout(endpoint + 5, ctv);
    } else {
        const char *colon = strrchr(endpoint, ':');
        char hostbuf[256];
        const char *h = endpoint;
        size_t hl = colon ? (size_t)(colon - endpoint) : 0;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || hl == 0 || hl >= sizeof hostbuf || !end || end == colon + 1 || *end || port < 1 || port > 65535) {
            optout_set_err(err, errlen, "bad Redis endpoint '%s' (expected unix:/path/to/socket or host:port)",
                           endpoint);
            return ROUND_FATAL;
        }
        memcpy(hostbuf, h, hl);
        hostbuf[hl] = '\0';
        c = redisConnectWithTimeout(hostbuf, (int)port, ctv);
    }
    if (!c) {
        optout_set_err(err, errlen, "Redis at %s: out of memory", endpoint);
        return ROUND_FATAL;
    }
    if (c->err) {
        optout_set_err(err, errlen, "Redis at %s: cannot connect: %s", endpoint, c->errstr);
        redisFree(c);
        return ROUND_RETRY;
    }
    struct timeval iotv = {REDIS_IO_TIMEOUT_MS / 1000, (REDIS_IO_TIMEOUT_MS % 1000) * 1000};
    if (redisSetTimeout(c, iotv) != REDIS_OK) {
        optout_set_err(err, errlen, "Redis at %s: cannot set timeouts: %s", endpoint, c->errstr);
        redisFree(c);
        return ROUND_RETRY;
    }
    if (c->connection_type == REDIS_CONN_TCP) redisEnableKeepAlive(c); /* a vanished peer is noticed */
    if ((password && *password) || (user && *user)) {
        struct sigpipe_guard g;
        sigpipe_block(&g);
        /* an ACL user: AUTH user password (Redis 6); else the default user's AUTH password */
        redisReply *r = user && *user ? redisCommand(c, "AUTH %s %s", user, password ? password : "")
                                      : redisCommand(c, "AUTH %s", password);
        sigpipe_restore(&g);
        int rc = ROUND_OK;
        if (!r) {
            optout_set_err(err, errlen, "Redis at %s: AUTH: %s", endpoint, c->errstr);
            rc = ROUND_RETRY;
        } else if (retryable_reply(r)) {
            optout_set_err(err, errlen, "Redis at %s: AUTH: %s", endpoint, r->str);
            rc = ROUND_RETRY;
        } else if (r->type == REDIS_REPLY_ERROR) {
            /* the server's text ("WRONGPASS ...", "ERR AUTH <password> called without any password
             * configured ...") may quote what was sent: never repeat it */
            if (user && *user)
                optout_set_err(err, errlen, "Redis at %s: authentication of user '%s' failed (wrong user or password)",
                               endpoint, user);
            else
                optout_set_err(err, errlen,
                               "Redis at %s: authentication failed (wrong password, or none is configured)", endpoint);
            rc = ROUND_FATAL;
        }
        if (r) freeReplyObject(r);
        if (rc != ROUND_OK) {
            redisFree(c);
            return rc;
        }
    }
    *out = c;
    return ROUND_OK;
}

/* Describes an error reply; NOAUTH gets a hint. */
static void reply_error(const char *endpoint, const redisReply *r, const char *what, char *err, size_t errlen) {
    if (r->str && strncmp(r->str, "NOAUTH", 6) == 0)
        optout_set_err(err, errlen, "Redis at %s: %s: %s (give the Redis password)", endpoint, what, r->str);
    else optout_set_err(err, errlen, "Redis at %s: %s: %s", endpoint, what, r->str ? r->str : "error reply");
}

/* Reads n replies of commands already appended. ROUND_OK with replies[0..n), or ROUND_RETRY (the
 * connection is unusable: the caller must drop it) / ROUND_FATAL with err and nothing kept. */
static int read_replies(redisContext *c, const char *endpoint, redisReply **replies, size_t n, char *err,
                        size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || !r) {
            int oom = c->err == REDIS_ERR_OOM;
            optout_set_err(err, errlen, "Redis at %s: %s", endpoint, c->err ? c->errstr : "no reply");
            for (size_t j = 0; j < i; j++) freeReplyObject(replies[j]);
            return oom ? ROUND_FATAL : ROUND_RETRY;
        }
        replies[i] = r;
    }
    return ROUND_OK;
}

static void free_replies(redisReply **replies, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (replies[i]) freeReplyObject(replies[i]);
}

/* ---- the source ------------------------------------------------------------------------------ */

struct entry {
    struct verdicts_compiled cs; /* ok: compiled set, NULL once evicted (fetched again when asked for) */
    uint8_t outcome;             /* optout_outcome */
};

struct meta {
    int have_planned, have_complete;
    long long planned, complete;
    char absent[16];
};

/* Record values: the outcome byte, with this bit set when the body that follows is one zstd
 * frame (bodies of REDIS_ZSTD_MIN bytes or more, when that is smaller). */
#define REDIS_ZSTD_FLAG 0x80
#define REDIS_ZSTD_MIN 64
#define REDIS_ZSTD_LEVEL 3

struct redis_source {
    struct optout_verdicts base; /* first: a redis_source is an optout_verdicts */
    char *endpoint, *user, *password, *prefix;
    size_t prefix_len;
    redisContext *c;
    const optout_agents *agents;
    optout_robots_mode mode;
    int absent_is_error; /* "absent" = "error": a host without a record is not an answer */
    optout_outcome absent_outcome; /* else what a host without a record answers */
    optout_strmap *hosts;
    size_t max_entries;
    struct verdicts_clock clock; /* the entries holding compiled rules */
    char *key; /* PREFIX "h:" HOST, grown as needed */
    size_t key_cap;
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

static void drop_connection(struct redis_source *v) {
    if (v->c) redisFree(v->c);
    v->c = NULL;
}

static void redis_free(optout_verdicts *base) {
    struct redis_source *v = (struct redis_source *)base;
    drop_connection(v);
    optout_strmap_free(v->hosts, entry_free);
    verdicts_clock_free(&v->clock);
    wipe(v->password);
    free(v->password);
    free(v->user);
    free(v->endpoint);
    free(v->prefix);
    free(v->key);
    ZSTD_freeDCtx(v->dctx);
    free(v->plain);
    free(v);
}

/* PREFIX SUFFIX HOST into a growable buffer: the one place that spells the store's key layout, for
 * the reader and the loader alike. Its length, or 0 when out of memory. */
static size_t build_key(char **buf, size_t *cap, const char *prefix, size_t plen, const char *suffix,
                        const char *host, size_t len) {
    size_t slen = strlen(suffix), need = plen + slen + len;
    if (need > *cap) {
        size_t ncap = need < 256 ? 256 : need * 2;
        char *k = realloc(*buf, ncap);
        if (!k) return 0;
        *buf = k;
        *cap = ncap;
    }
    memcpy(*buf, prefix, plen);
    memcpy(*buf + plen, suffix, slen);
    memcpy(*buf + plen + slen, host, len);
    return need;
}

/* PREFIX "h:" HOST in v->key; its length, or 0 when out of memory. */
static size_t host_key(struct redis_source *v, const char *host, size_t len) {
    return build_key(&v->key, &v->key_cap, v->prefix, v->prefix_len, "h:", host, len);
}

static int append_meta(struct redis_source *v) {
    char k1[512], k2[512], k3[512];
    int n1 = snprintf(k1, sizeof k1, "%splanned", v->prefix);
    int n2 = snprintf(k2, sizeof k2, "%scomplete", v->prefix);
    int n3 = snprintf(k3, sizeof k3, "%sabsent", v->prefix);
    return redisAppendCommand(v->c, "MGET %b %b %b", k1, (size_t)n1, k2, (size_t)n2, k3, (size_t)n3);
}

static int parse_count(const redisReply *r, int *have, long long *value) {
    *have = 0;
    if (r->type == REDIS_REPLY_NIL) return 0;
    uint64_t x;
    if (r->type != REDIS_REPLY_STRING || optout_parse_u64(r->str, r->len, INT64_MAX, &x) != 0) return -1;
    *have = 1;
    *value = (long long)x;
    return 0;
}

/* The MGET planned complete absent reply -> m. ROUND_OK or ROUND_FATAL with err. */
static int parse_meta(const char *endpoint, const char *prefix, const redisReply *r, struct meta *m, char *err,
                      size_t errlen) {
    memset(m, 0, sizeof *m);
    if (r->type == REDIS_REPLY_ERROR) {
        reply_error(endpoint, r, "reading the store's completeness", err, errlen);
        return ROUND_FATAL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || parse_count(r->element[0], &m->have_planned, &m->planned) ||
        parse_count(r->element[1], &m->have_complete, &m->complete)) {
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

/* ROUND_OK when complete == planned, else ROUND_FATAL with the message the header promises. */
static int check_complete(const char *endpoint, const char *prefix, const struct meta *m, char *err, size_t errlen) {
    if (m->have_planned && m->have_complete && m->planned == m->complete) return ROUND_OK;
    char c[32], p[32];
    if (m->have_complete) snprintf(c, sizeof c, "%lld", m->complete);
    else snprintf(c, sizeof c, "none");
    if (m->have_planned) snprintf(p, sizeof p, "%lld", m->planned);
    else snprintf(p, sizeof p, "none");
    optout_set_err(err, errlen, "Redis store under %s is incomplete (complete %s of %s)%s at %s", prefix, c, p,
                   m->have_planned ? "" : ": never loaded, or Redis was restarted or flushed", endpoint);
    return ROUND_FATAL;
}

int optout_verdicts_redis_complete(const char *endpoint, const char *user, const char *password, const char *prefix,
                                   char *err, size_t errlen) {
    redisContext *c;
    if (redis_connect(endpoint, user, password, &c, err, errlen) != ROUND_OK) return -1;
    struct sigpipe_guard g;
    sigpipe_block(&g);
    redisReply *r = redisCommand(c, "MGET %splanned %scomplete %sabsent", prefix, prefix, prefix);
    sigpipe_restore(&g);
    int rc = -1;
    struct meta m;
    if (!r) optout_set_err(err, errlen, "Redis at %s: %s", endpoint, c->err ? c->errstr : "no reply");
    else if (parse_meta(endpoint, prefix, r, &m, err, errlen) == ROUND_OK)
        rc = check_complete(endpoint, prefix, &m, err, errlen) == ROUND_OK ? 1 : 0;
    else if (r->type != REDIS_REPLY_ERROR)
        rc = 0; /* counts that are not counts: a reload rewrites them */
    if (r) freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* One pipelined round trip: GET PREFIX h:HOST for hosts[0..n), then MGET planned complete absent.
 * replies[0..n) receive the GET replies (the caller frees them), *m the completeness. */
static int round_trip(struct redis_source *v, const char *const *hosts, const size_t *lens, size_t n,
                      redisReply **replies, struct meta *m, char *err, size_t errlen) {
    if (!v->c) {
        int rc = redis_connect(v->endpoint, v->user, v->password, &v->c, err, errlen);
        if (rc != ROUND_OK) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        size_t klen = host_key(v, hosts[i], lens[i]);
        if (klen == 0 || redisAppendCommand(v->c, "GET %b", v->key, klen) != REDIS_OK) {
            optout_set_err(err, errlen, "out of memory");
            drop_connection(v); /* commands half appended */
            return ROUND_FATAL;
        }
    }
    if (append_meta(v) != REDIS_OK) {
        optout_set_err(err, errlen, "out of memory");
        drop_connection(v);
        return ROUND_FATAL;
    }
    redisReply *meta_reply = NULL;
    struct sigpipe_guard g;
    sigpipe_block(&g);
    int rc = read_replies(v->c, v->endpoint, replies, n, err, errlen);
    if (rc == ROUND_OK) {
        rc = read_replies(v->c, v->endpoint, &meta_reply, 1, err, errlen);
        if (rc != ROUND_OK) free_replies(replies, n);
    }
    sigpipe_restore(&g);
    if (rc != ROUND_OK) {
        drop_connection(v);
        return rc;
    }
    /* every reply read: the connection stays in step whatever follows */
    for (size_t i = 0; i <= n; i++) {
        const redisReply *r = i < n ? replies[i] : meta_reply;
        if (retryable_reply(r)) {
            optout_set_err(err, errlen, "Redis at %s: %s", v->endpoint, r->str);
            rc = ROUND_RETRY;
            break;
        }
    }
    if (rc == ROUND_OK) rc = parse_meta(v->endpoint, v->prefix, meta_reply, m, err, errlen);
    freeReplyObject(meta_reply);
    if (rc != ROUND_OK) {
        free_replies(replies, n);
        if (rc == ROUND_RETRY) drop_connection(v);
    }
    return rc;
}

/* round_trip() with reconnects and backoff. 0, or -1 with err (what: the host(s), for messages). */
static int fetch(struct redis_source *v, const char *const *hosts, const size_t *lens, size_t n, redisReply **replies,
                 struct meta *m, const char *what, char *err, size_t errlen) {
    char last[512] = "";
    for (int attempt = 1;; attempt++) {
        int rc = round_trip(v, hosts, lens, n, replies, m, last, sizeof last);
        if (rc == ROUND_OK) return 0;
        if (rc == ROUND_FATAL) {
            optout_set_err(err, errlen, "%s (looking up %s)", last, what);
            return -1;
        }
        if (attempt == REDIS_ATTEMPTS) {
            optout_set_err(err, errlen, "%s (looking up %s; gave up after %d attempts)", last, what, attempt);
            return -1;
        }
        long delay = attempt == 1 ? 0 : REDIS_BACKOFF_MS << (attempt - 2);
        /* a dropped idle connection is routine: only a reconnect that fails too is worth a warning */
        optout_log(attempt == 1 ? LOG_DEBUG : LOG_WARNING, "%s; reconnecting in %ld ms (attempt %d of %d)", last,
                   delay, attempt + 1, REDIS_ATTEMPTS);
        if (delay) optout_sleep_ms(delay);
    }
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
/* A body stored as one zstd frame (REDIS_ZSTD_FLAG): decompressed into v->plain. 0, or -1 with
 * why (a corrupt frame, or one larger than a robots directory file may be). */
static int unpack_body(struct redis_source *v, const char *frame, size_t n, const char **body, size_t *blen, char *why,
                       size_t whylen) {
    unsigned long long size = ZSTD_getFrameContentSize(frame, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > ROBOTS_DIR_FILE_MAX) {
        snprintf(why, whylen, "a compressed body that is not one zstd frame of a known size");
        return -1;
    }
    if (!v->dctx && !(v->dctx = ZSTD_createDCtx())) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (size + 1 > v->plain_cap) {
        char *p = realloc(v->plain, (size_t)size + 1);
        if (!p) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        v->plain = p;
        v->plain_cap = (size_t)size + 1;
    }
    size_t got = ZSTD_decompressDCtx(v->dctx, v->plain, v->plain_cap, frame, n);
    if (ZSTD_isError(got) || got != size) {
        snprintf(why, whylen, "a compressed body that does not decompress (%s)",
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
        return -1;
    }
    *body = v->plain;
    *blen = got;
    return 0;
}

static int absorb(struct redis_source *v, const char *host, size_t len, const redisReply *r, const struct meta *m,
                  struct entry **out, char *err, size_t errlen) {
    *out = NULL;
    optout_outcome outcome;
    const char *body = NULL;
    size_t blen = 0;
    if (r->type == REDIS_REPLY_NIL) {
        if (check_complete(v->endpoint, v->prefix, m, err, errlen) != ROUND_OK) {
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
        else if (packed && unpack_body(v, r->str + 1, (size_t)r->len - 1, &body, &blen, why, sizeof why) != 0) {
            /* why says what is wrong with the frame */
        }
        if (why[0]) {
            optout_set_err(err, errlen, "corrupt record for %.*s in Redis at %s under %s (%s): reload the store",
                           (int)len, host, v->endpoint, v->prefix, why);
            return -1;
        }
        outcome = (optout_outcome)byte;
        if (!packed) {
            body = r->str + 1;
            blen = r->len - 1;
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        reply_error(v->endpoint, r, "GET", err, errlen);
        snprintf(err + strlen(err), errlen - strlen(err), " (record of %.*s)", (int)len, host);
        return -1;
    } else {
        optout_set_err(err, errlen, "Redis at %s: unexpected reply type %d for the record of %.*s", v->endpoint,
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
        free_replies(replies, n);
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
    if (!(v->endpoint = strdup(endpoint)) || !(v->prefix = strdup(prefix)) ||
        (user && !(v->user = strdup(user))) || (password && !(v->password = strdup(password))) ||
        !(v->hosts = optout_strmap_new()) ||
        verdicts_clock_init(&v->clock, max_sets) != 0) {
        optout_set_err(err, errlen, "out of memory");
        redis_free(&v->base);
        return NULL;
    }
    if (v->prefix_len > 400) {
        optout_set_err(err, errlen, "Redis key prefix too long (%zu bytes)", v->prefix_len);
        redis_free(&v->base);
        return NULL;
    }
    struct meta m;
    char what[64];
    snprintf(what, sizeof what, "the store's completeness");
    if (fetch(v, NULL, NULL, 0, NULL, &m, what, err, errlen) != 0 || check_complete(v->endpoint, v->prefix, &m, err, errlen) != ROUND_OK) {
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

/* Runs one command and expects a status/integer/array reply. 0, or -1 with err. */
static int load_command(struct loader *l, const char *what, redisReply *r) {
    if (!r) {
        optout_set_err(l->err, l->errlen, "Redis at %s: %s: %s", l->endpoint, what, l->c->errstr);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        reply_error(l->endpoint, r, what, l->err, l->errlen);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* Reads the replies of the pipelined commands. */
static int load_drain(struct loader *l, const char *what) {
    for (; l->pending > 0; l->pending--) {
        void *r = NULL;
        if (redisGetReply(l->c, &r) != REDIS_OK || !r) {
            optout_set_err(l->err, l->errlen, "Redis at %s: %s: %s", l->endpoint, what, l->c->errstr);
            return -1;
        }
        if (load_command(l, what, r) != 0) return -1;
    }
    l->pending_bytes = 0;
    return 0;
}

static size_t load_key(struct loader *l, const char *suffix, const char *host, size_t len) {
    return build_key(&l->key, &l->key_cap, l->prefix, strlen(l->prefix), suffix, host, len);
}

/* Appends the SET of one host's record (outcome byte, then the body when ok), sending the
 * pipeline every REDIS_BATCH records or REDIS_LOAD_BATCH_BYTES bytes. 0, or -1 with err. */
static int load_record(struct loader *l, const char *host, size_t len, optout_outcome outcome, const char *body,
                       size_t blen) {
    if (outcome != OPTOUT_OUTCOME_OK) blen = 0;
    size_t bound = blen >= REDIS_ZSTD_MIN ? ZSTD_compressBound(blen) : 0;
    char *val = malloc((bound > blen ? bound : blen) + 1);
    size_t klen = val ? load_key(l, "h:", host, len) : 0;
    if (!val || klen == 0 || (bound && !l->cctx && !(l->cctx = ZSTD_createCCtx()))) {
        free(val);
        optout_set_err(l->err, l->errlen, "out of memory");
        return -1;
    }
    /* a body worth it is stored as one zstd frame: robots.txt files shrink 3-5x, and a store of
     * millions of hosts must fit in the memory of one Redis */
    size_t vlen = 0;
    if (bound) {
        size_t z = ZSTD_compressCCtx(l->cctx, val + 1, bound, body, blen, REDIS_ZSTD_LEVEL);
        if (!ZSTD_isError(z) && z < blen) {
            val[0] = (char)(outcome | REDIS_ZSTD_FLAG);
            vlen = z + 1;
        }
    }
    if (!vlen) {
        val[0] = (char)outcome;
        if (blen) memcpy(val + 1, body, blen);
        vlen = blen + 1;
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

/* SCANs the keys PREFIX SUFFIX* and UNLINKs those keep() does not keep (keep NULL: every one),
 * one pipelined batch per SCAN page (COUNT 1000), so that neither Redis nor this process blocks on
 * a large store. Adds the number unlinked to *unlinked. 0, or -1 with err. */
static int scan_unlink(redisContext *c, const char *endpoint, const char *prefix, const char *suffix,
                       int (*keep)(const void *set, const char *rest, size_t len), const void *set,
                       long *unlinked, char *err, size_t errlen) {
    size_t plen = strlen(prefix), slen = strlen(suffix);
    char *pattern = malloc(2 * plen + slen + 2);
    if (!pattern) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < plen; i++) { /* the prefix matched literally: its glob characters escaped */
        if (strchr("*?[]\\", prefix[i])) pattern[n++] = '\\';
        pattern[n++] = prefix[i];
    }
    memcpy(pattern + n, suffix, slen);
    memcpy(pattern + n + slen, "*", 2);
    char cursor[32] = "0";
    int rc = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[0]->len >= sizeof cursor || r->element[1]->type != REDIS_REPLY_ARRAY) {
            if (r && r->type == REDIS_REPLY_ERROR) reply_error(endpoint, r, "SCAN", err, errlen);
            else optout_set_err(err, errlen, "Redis at %s: SCAN: %s", endpoint, r ? "unexpected reply" : c->errstr);
            if (r) freeReplyObject(r);
            rc = -1;
            break;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        const redisReply *keys = r->element[1];
        size_t sent = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            if (k->type != REDIS_REPLY_STRING || (size_t)k->len < plen + slen) continue;
            if (keep && keep(set, k->str + plen + slen, k->len - plen - slen)) continue;
            if (redisAppendCommand(c, "UNLINK %b", k->str, (size_t)k->len) != REDIS_OK) {
                optout_set_err(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            sent++;
        }
        freeReplyObject(r);
        for (; sent > 0; sent--) { /* every reply read, even after an error: the pipeline stays in step */
            void *reply = NULL;
            if (redisGetReply(c, &reply) != REDIS_OK || !reply) {
                optout_set_err(err, errlen, "Redis at %s: UNLINK: %s", endpoint, c->errstr);
                rc = -1;
                break;
            }
            redisReply *u = reply;
            if (u->type == REDIS_REPLY_ERROR) {
                if (rc == 0) reply_error(endpoint, u, "UNLINK", err, errlen);
                rc = -1;
            } else if (u->type == REDIS_REPLY_INTEGER) {
                *unlinked += (long)u->integer;
            }
            freeReplyObject(u);
        }
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    free(pattern);
    return rc;
}

/* Deletes PREFIX "h:" keys of hosts the source no longer has (a rerun after it changed). */
static int load_delete_stale(struct loader *l) {
    long unlinked = 0;
    return scan_unlink(l->c, l->endpoint, l->prefix, "h:", l->src->known, l->src->set, &unlinked, l->err, l->errlen);
}

/* The load protocol (verdicts.h): DEL complete, delete stale records, SET absent, every record
 * (pipelined), SET planned, SET complete last. The number of records written, or -1 with err. */
static long load_store(const char *endpoint, const char *user, const char *password, const char *prefix,
                       const struct load_source *src, char *err, size_t errlen) {
    struct loader l = {.endpoint = endpoint, .prefix = prefix, .src = src, .err = err, .errlen = errlen};
    if (strlen(prefix) > 400) {
        optout_set_err(err, errlen, "Redis key prefix too long (%zu bytes)", strlen(prefix));
        return -1;
    }
    if (redis_connect(endpoint, user, password, &l.c, err, errlen) != ROUND_OK) return -1;
    long rc = -1;
    struct sigpipe_guard g;
    sigpipe_block(&g);
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
    sigpipe_restore(&g);
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
    if (!*prefix || strlen(prefix) > 400) { /* an empty prefix would match every key of the server */
        optout_set_err(err, errlen, "Redis key prefix %s", *prefix ? "too long" : "empty");
        return -1;
    }
    if (redis_connect(endpoint, user, password, &c, err, errlen) != ROUND_OK) return -1;
    struct sigpipe_guard g;
    sigpipe_block(&g);
    long unlinked = 0;
    char meta[512];
    /* "complete" first: a store being dropped never reads as complete to a late reader */
    snprintf(meta, sizeof meta, "%scomplete", prefix);
    redisReply *r = redisCommand(c, "UNLINK %s", meta);
    int rc = -1;
    if (!r) optout_set_err(err, errlen, "Redis at %s: UNLINK: %s", endpoint, c->errstr);
    else if (r->type == REDIS_REPLY_ERROR) reply_error(endpoint, r, "UNLINK", err, errlen);
    else {
        if (r->type == REDIS_REPLY_INTEGER) unlinked += (long)r->integer;
        rc = scan_unlink(c, endpoint, prefix, "", NULL, NULL, &unlinked, err, errlen);
    }
    if (r) freeReplyObject(r);
    sigpipe_restore(&g);
    redisFree(c);
    return rc == 0 ? unlinked : -1;
}
