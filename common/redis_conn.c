/* redis_conn.c — what the project's Redis stores share (common/redis_internal.h): connection,
 * SIGPIPE guard, replies, retries, completeness counts, key deletion by prefix, packed bodies. Moved
 * here from the verdict store when the history store joined it, so that both speak to Redis alike.
 */
#include "redis_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/log.h"
#include "optout/util.h"

void redis_sigpipe_block(struct redis_sigpipe_guard *g) {
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

void redis_sigpipe_restore(struct redis_sigpipe_guard *g) {
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

void redis_wipe(char *s) {
    if (s) explicit_bzero(s, strlen(s));
}

/* 1 for an error reply that means "try again on a new connection". */
int redis_retryable_reply(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR && r->str &&
           (strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0);
}

/* Connects to "unix:/path" or "host:port" ("[v6]:port"), sets timeouts and authenticates.
 * ROUND_OK with *out, ROUND_RETRY (cannot connect: try later) or ROUND_FATAL, with err. */
int redis_connect(const char *endpoint, const char *user, const char *password, redisContext **out, char *err,
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
            optout_set_err(err, errlen, "bad Redis endpoint '%s' (expected unix:/path/to/socket or host:port)", endpoint);
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
        struct redis_sigpipe_guard g;
        redis_sigpipe_block(&g);
        /* an ACL user: AUTH user password (Redis 6); else the default user's AUTH password */
        redisReply *r = user && *user ? redisCommand(c, "AUTH %s %s", user, password ? password : "")
                                      : redisCommand(c, "AUTH %s", password);
        redis_sigpipe_restore(&g);
        int rc = ROUND_OK;
        if (!r) {
            optout_set_err(err, errlen, "Redis at %s: AUTH: %s", endpoint, c->errstr);
            rc = ROUND_RETRY;
        } else if (redis_retryable_reply(r)) {
            optout_set_err(err, errlen, "Redis at %s: AUTH: %s", endpoint, r->str);
            rc = ROUND_RETRY;
        } else if (r->type == REDIS_REPLY_ERROR) {
            /* the server's text ("WRONGPASS ...", "ERR AUTH <password> called without any password
             * configured ...") may quote what was sent: never repeat it */
            if (user && *user)
                optout_set_err(err, errlen, "Redis at %s: authentication of user '%s' failed (wrong user or password)",
                         endpoint, user);
            else
                optout_set_err(err, errlen, "Redis at %s: authentication failed (wrong password, or none is configured)",
                         endpoint);
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
void redis_reply_error(const char *endpoint, const redisReply *r, const char *what, char *err, size_t errlen) {
    if (r->str && strncmp(r->str, "NOAUTH", 6) == 0)
        optout_set_err(err, errlen, "Redis at %s: %s: %s (give the Redis password)", endpoint, what, r->str);
    else
        optout_set_err(err, errlen, "Redis at %s: %s: %s", endpoint, what, r->str ? r->str : "error reply");
}

/* Reads n replies of commands already appended. ROUND_OK with replies[0..n), or ROUND_RETRY (the
 * connection is unusable: the caller must drop it) / ROUND_FATAL with err and nothing kept. */
int redis_read_replies(redisContext *c, const char *endpoint, redisReply **replies, size_t n, char *err,
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

void redis_free_replies(redisReply **replies, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (replies[i]) freeReplyObject(replies[i]);
}


/* PREFIX SUFFIX HOST into a growable buffer: the one place that spells the store's key layout, for
 * the reader and the loader alike. Its length, or 0 when out of memory. */
size_t redis_build_key(char **buf, size_t *cap, const char *prefix, size_t plen, const char *suffix,
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

int redis_parse_count(const redisReply *r, int *have, long long *value) {
    *have = 0;
    if (r->type == REDIS_REPLY_NIL) return 0;
    uint64_t x;
    if (r->type != REDIS_REPLY_STRING || optout_parse_u64(r->str, r->len, INT64_MAX, &x) != 0) return -1;
    *have = 1;
    *value = (long long)x;
    return 0;
}


/* ROUND_OK when complete == planned, else ROUND_FATAL with the message the header promises. */
int redis_check_complete(const char *endpoint, const char *prefix, const struct redis_counts *m, char *err, size_t errlen) {
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

/* SCANs the keys PREFIX SUFFIX* and UNLINKs those keep() does not keep (keep NULL: every one),
 * one pipelined batch per SCAN page (COUNT 1000), so that neither Redis nor this process blocks on
 * a large store. Adds the number unlinked to *unlinked. 0, or -1 with err. */
int redis_scan_unlink(redisContext *c, const char *endpoint, const char *prefix, const char *suffix,
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
            if (r && r->type == REDIS_REPLY_ERROR) redis_reply_error(endpoint, r, "SCAN", err, errlen);
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
                if (rc == 0) redis_reply_error(endpoint, u, "UNLINK", err, errlen);
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


int redis_reply_ok(redisContext *c, const char *endpoint, const char *what, redisReply *r, char *err, size_t errlen) {
    if (!r) {
        optout_set_err(err, errlen, "Redis at %s: %s: %s", endpoint, what, c->errstr);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        redis_reply_error(endpoint, r, what, err, errlen);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int redis_drain(redisContext *c, const char *endpoint, const char *what, size_t *pending, char *err, size_t errlen) {
    for (; *pending > 0; (*pending)--) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || !r) {
            optout_set_err(err, errlen, "Redis at %s: %s: %s", endpoint, what, c->errstr);
            return -1;
        }
        if (redis_reply_ok(c, endpoint, what, r, err, errlen) != 0) return -1;
    }
    return 0;
}

int redis_retry(int (*round)(void *arg, char *err, size_t errlen), void *arg, const char *what, char *err,
                size_t errlen) {
    char last[512] = "";
    for (int attempt = 1;; attempt++) {
        int rc = round(arg, last, sizeof last);
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

int redis_pack_value(ZSTD_CCtx **cctx, unsigned char lead, const char *body, size_t blen, char **val, size_t *vlen) {
    size_t bound = blen >= REDIS_ZSTD_MIN ? ZSTD_compressBound(blen) : 0;
    char *v = malloc((bound > blen ? bound : blen) + 1);
    if (!v || (bound && !*cctx && !(*cctx = ZSTD_createCCtx()))) {
        free(v);
        return -1;
    }
    /* a body worth it is stored as one zstd frame: robots.txt files shrink 3-5x, and a store of
     * millions of hosts must fit in the memory of one Redis */
    size_t n = 0;
    if (bound) {
        size_t z = ZSTD_compressCCtx(*cctx, v + 1, bound, body, blen, REDIS_ZSTD_LEVEL);
        if (!ZSTD_isError(z) && z < blen) {
            v[0] = (char)(lead | REDIS_ZSTD_FLAG);
            n = z + 1;
        }
    }
    if (!n) {
        v[0] = (char)lead;
        if (blen) memcpy(v + 1, body, blen);
        n = blen + 1;
    }
    *val = v;
    *vlen = n;
    return 0;
}

int redis_unpack_frame(ZSTD_DCtx **dctx, const char *frame, size_t n, size_t max, char **plain, size_t *cap,
                       size_t *got, char *why, size_t whylen) {
    unsigned long long size = ZSTD_getFrameContentSize(frame, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max) {
        optout_set_err(why, whylen, "a compressed body that is not one zstd frame of a known size");
        return -1;
    }
    if (!*dctx && !(*dctx = ZSTD_createDCtx())) {
        optout_set_err(why, whylen, "out of memory");
        return -1;
    }
    if (size + 1 > *cap) {
        char *p = realloc(*plain, (size_t)size + 1);
        if (!p) {
            optout_set_err(why, whylen, "out of memory");
            return -1;
        }
        *plain = p;
        *cap = (size_t)size + 1;
    }
    size_t n_out = ZSTD_decompressDCtx(*dctx, *plain, *cap, frame, n);
    if (ZSTD_isError(n_out) || n_out != size) {
        optout_set_err(why, whylen, "a compressed body that does not decompress (%s)",
                 ZSTD_isError(n_out) ? ZSTD_getErrorName(n_out) : "wrong size");
        return -1;
    }
    *got = n_out;
    return 0;
}

int redis_link_init(struct redis_link *l, const char *endpoint, const char *user, const char *password) {
    memset(l, 0, sizeof *l);
    if (!(l->endpoint = strdup(endpoint)) || (user && !(l->user = strdup(user))) ||
        (password && !(l->password = strdup(password))))
        return -1;
    return 0;
}

void redis_link_drop(struct redis_link *l) {
    if (l->c) redisFree(l->c);
    l->c = NULL;
}

void redis_link_free(struct redis_link *l) {
    redis_link_drop(l);
    redis_wipe(l->password);
    free(l->password);
    free(l->user);
    free(l->endpoint);
    free(l->key);
    memset(l, 0, sizeof *l);
}

int redis_link_gets(struct redis_link *l, const char *prefix, const char *suffix, const char *const *names,
                    const size_t *lens, size_t n, const char *const *meta, size_t nmeta, redisReply **replies,
                    redisReply **meta_reply, char *err, size_t errlen) {
    if (!l->c) {
        int rc = redis_connect(l->endpoint, l->user, l->password, &l->c, err, errlen);
        if (rc != ROUND_OK) return rc;
    }
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        size_t klen = redis_build_key(&l->key, &l->key_cap, prefix, plen, suffix, names[i], lens[i]);
        if (klen == 0 || redisAppendCommand(l->c, "GET %b", l->key, klen) != REDIS_OK) {
            optout_set_err(err, errlen, "out of memory");
            redis_link_drop(l); /* commands half appended */
            return ROUND_FATAL;
        }
    }
    /* MGET PREFIX meta[0] PREFIX meta[1] ... */
    const char *argv[8];
    size_t argl[8];
    char keys[7][REDIS_PREFIX_MAX + 32];
    if (nmeta > 7) nmeta = 7;
    argv[0] = "MGET";
    argl[0] = 4;
    for (size_t i = 0; i < nmeta; i++) {
        int k = snprintf(keys[i], sizeof keys[i], "%s%s", prefix, meta[i]);
        argv[i + 1] = keys[i];
        argl[i + 1] = k > 0 && (size_t)k < sizeof keys[i] ? (size_t)k : 0;
    }
    if (redisAppendCommandArgv(l->c, (int)nmeta + 1, argv, argl) != REDIS_OK) {
        optout_set_err(err, errlen, "out of memory");
        redis_link_drop(l);
        return ROUND_FATAL;
    }
    struct redis_sigpipe_guard g;
    redis_sigpipe_block(&g);
    int rc = redis_read_replies(l->c, l->endpoint, replies, n, err, errlen);
    if (rc == ROUND_OK) {
        rc = redis_read_replies(l->c, l->endpoint, meta_reply, 1, err, errlen);
        if (rc != ROUND_OK) redis_free_replies(replies, n);
    }
    redis_sigpipe_restore(&g);
    if (rc != ROUND_OK) {
        redis_link_drop(l);
        return rc;
    }
    /* every reply read: the connection stays in step whatever follows */
    for (size_t i = 0; i <= n; i++) {
        const redisReply *r = i < n ? replies[i] : *meta_reply;
        if (redis_retryable_reply(r)) {
            optout_set_err(err, errlen, "Redis at %s: %s", l->endpoint, r->str);
            redis_free_replies(replies, n);
            freeReplyObject(*meta_reply);
            redis_link_drop(l);
            return ROUND_RETRY;
        }
    }
    return ROUND_OK;
}

struct gets_args {
    struct redis_link *l;
    const char *prefix, *suffix;
    const char *const *names;
    const size_t *lens;
    size_t n;
    const char *const *meta;
    size_t nmeta;
    redisReply **replies, **meta_reply;
};

static int gets_round(void *arg, char *err, size_t errlen) {
    struct gets_args *a = arg;
    return redis_link_gets(a->l, a->prefix, a->suffix, a->names, a->lens, a->n, a->meta, a->nmeta, a->replies,
                           a->meta_reply, err, errlen);
}

int redis_link_fetch(struct redis_link *l, const char *prefix, const char *suffix, const char *const *names,
                     const size_t *lens, size_t n, const char *const *meta, size_t nmeta, redisReply **replies,
                     redisReply **meta_reply, const char *what, char *err, size_t errlen) {
    struct gets_args a = {l, prefix, suffix, names, lens, n, meta, nmeta, replies, meta_reply};
    return redis_retry(gets_round, &a, what, err, errlen);
}
