/* redis_internal.h — what every Redis store of the project shares (the verdict store, verdicts.h;
 * the history store, history_redis.h): connecting (endpoint syntax, timeouts, AUTH), SIGPIPE
 * handling, reading pipelined replies, retrying a round trip on a new connection, the completeness
 * counts, deleting keys by prefix, key building and the packed value of a body.
 *
 * Contract
 * - Endpoints are "unix:/path" or "host:port" ("[v6]:port"); credentials as verdicts.h says (a user
 *   is an ACL user, a password alone the default user's); the password is never put in a message.
 * - Functions answering ROUND_* say whether a failure is worth a new connection (ROUND_RETRY: a
 *   dropped connection, a timeout, LOADING/MASTERDOWN) or not (ROUND_FATAL: out of memory, an error
 *   reply, a bad endpoint, refused credentials).
 * - A store under PREFIX is complete when PREFIX "planned" and PREFIX "complete" hold the same count:
 *   loaders delete "complete" first and set it last, so a load that died never reads as complete.
 * - A packed value is a lead byte then a body; bit REDIS_ZSTD_FLAG of the lead byte set: the body is
 *   one zstd frame (bodies of REDIS_ZSTD_MIN bytes or more, when that is smaller). The reader checks
 *   the frame as hostile input (one frame of a known size, at most a given maximum).
 * - Everything here is used by one thread at a time per connection; nothing is global.
 */
#ifndef OPTOUT_REDIS_INTERNAL_H
#define OPTOUT_REDIS_INTERNAL_H

#include <signal.h>
#include <stddef.h>

#include <hiredis/hiredis.h>
#include <zstd.h>

#define REDIS_BATCH 1000                          /* commands per pipelined round trip */
#define REDIS_LOAD_BATCH_BYTES ((size_t)16 << 20) /* ... or this many value bytes (loaders) */
#define REDIS_ATTEMPTS 7                          /* tries of one round trip (1 + 6 reconnects) */
#define REDIS_BACKOFF_MS 100                      /* before the 3rd try; doubles */
#define REDIS_CONNECT_TIMEOUT_MS 5000
#define REDIS_IO_TIMEOUT_MS 10000
#define REDIS_PREFIX_MAX 400 /* bytes of a key prefix */
#define REDIS_ZSTD_FLAG 0x80
#define REDIS_ZSTD_MIN 64
#define REDIS_ZSTD_LEVEL 3

enum { ROUND_OK = 0, ROUND_FATAL = -1, ROUND_RETRY = -2 };

/* Blocks SIGPIPE in this thread around an exchange and discards one raised by it (the recipe of
 * libpq's pq_block_sigpipe): hiredis writes with write(2). */
struct redis_sigpipe_guard {
    sigset_t old;
    int was_pending;
};
void redis_sigpipe_block(struct redis_sigpipe_guard *g);
void redis_sigpipe_restore(struct redis_sigpipe_guard *g);

/* Zeroes a secret in place (NULL: nothing). */
void redis_wipe(char *s);
/* 1 for an error reply that means "try again on a new connection" (LOADING, MASTERDOWN). */
int redis_retryable_reply(const redisReply *r);
/* Connects, sets timeouts and authenticates. ROUND_OK with *out, ROUND_RETRY (cannot connect: try
 * later) or ROUND_FATAL, with err. */
int redis_connect(const char *endpoint, const char *user, const char *password, redisContext **out, char *err,
                  size_t errlen);
/* Describes an error reply ("Redis at ENDPOINT: WHAT: text"); NOAUTH gets a hint. */
void redis_reply_error(const char *endpoint, const redisReply *r, const char *what, char *err, size_t errlen);
/* Reads n replies of commands already appended. ROUND_OK with replies[0..n), or ROUND_RETRY (the
 * connection is unusable: the caller must drop it) / ROUND_FATAL with err and nothing kept. */
int redis_read_replies(redisContext *c, const char *endpoint, redisReply **replies, size_t n, char *err,
                       size_t errlen);
void redis_free_replies(redisReply **replies, size_t n);
/* Checks and frees the reply of one command (r NULL: the connection failed): 0, or -1 with err. */
int redis_reply_ok(redisContext *c, const char *endpoint, const char *what, redisReply *r, char *err, size_t errlen);
/* Reads and checks the replies of *pending pipelined commands (a loader's batch), *pending then 0.
 * 0, or -1 with err. */
int redis_drain(redisContext *c, const char *endpoint, const char *what, size_t *pending, char *err, size_t errlen);
/* PREFIX SUFFIX NAME into a growable buffer: the one place that spells a store's key layout, for the
 * readers and the loaders alike. Its length, or 0 when out of memory. */
size_t redis_build_key(char **buf, size_t *cap, const char *prefix, size_t plen, const char *suffix, const char *name,
                       size_t len);

/* The completeness counts of a store. */
struct redis_counts {
    int have_planned, have_complete;
    long long planned, complete;
};
/* A count's reply (a decimal string, or nil: *have 0). 0, or -1 when it is no count. */
int redis_parse_count(const redisReply *r, int *have, long long *value);
/* ROUND_OK when complete == planned, else ROUND_FATAL with "Redis store under PREFIX is incomplete
 * (complete X of Y) ... at ENDPOINT". */
int redis_check_complete(const char *endpoint, const char *prefix, const struct redis_counts *m, char *err,
                         size_t errlen);

/* Runs round(arg) until it answers ROUND_OK, at once again after a ROUND_RETRY, then with backoff
 * (0.1, 0.2, ... 1.6 s; REDIS_ATTEMPTS tries in all): a Redis restart does not fail the caller. round
 * must drop its connection when it answers ROUND_RETRY. 0, or -1 with err ending "(looking up
 * WHAT...)". */
int redis_retry(int (*round)(void *arg, char *err, size_t errlen), void *arg, const char *what, char *err,
                size_t errlen);
/* SCANs the keys PREFIX SUFFIX* and UNLINKs those keep() does not keep (keep NULL: every one; it is
 * given the key after PREFIX SUFFIX), one pipelined batch per SCAN page (COUNT 1000), so that neither
 * Redis nor this process blocks on a large store. Adds the number unlinked to *unlinked. 0, or -1. */
int redis_scan_unlink(redisContext *c, const char *endpoint, const char *prefix, const char *suffix,
                      int (*keep)(const void *set, const char *rest, size_t len), const void *set, long *unlinked,
                      char *err, size_t errlen);

/* A connection made on demand and dropped on failure, with its endpoint, credentials (copies; the
 * password wiped when freed) and a key buffer: what a Redis source holds. */
struct redis_link {
    char *endpoint, *user, *password;
    redisContext *c; /* NULL: not connected */
    char *key;
    size_t key_cap;
};
/* Copies the endpoint and credentials (user, password may be NULL). 0, or -1 when out of memory. */
int redis_link_init(struct redis_link *l, const char *endpoint, const char *user, const char *password);
void redis_link_drop(struct redis_link *l);
void redis_link_free(struct redis_link *l);
/* One pipelined round trip, connecting first when needed: GET PREFIX SUFFIX NAME for names[0..n),
 * then MGET PREFIX meta[0..nmeta). ROUND_OK with replies[0..n) and *meta_reply (the caller frees
 * them; any may be an error reply, but none that asks for a retry), else ROUND_RETRY (the
 * connection dropped) or ROUND_FATAL, with err and nothing kept. */
int redis_link_gets(struct redis_link *l, const char *prefix, const char *suffix, const char *const *names,
                    const size_t *lens, size_t n, const char *const *meta, size_t nmeta, redisReply **replies,
                    redisReply **meta_reply, char *err, size_t errlen);
/* redis_link_gets() retried as redis_retry() says. 0 with the replies, or -1 with err. */
int redis_link_fetch(struct redis_link *l, const char *prefix, const char *suffix, const char *const *names,
                     const size_t *lens, size_t n, const char *const *meta, size_t nmeta, redisReply **replies,
                     redisReply **meta_reply, const char *what, char *err, size_t errlen);

/* lead then body, packed (above) into *val (malloc'd, *vlen bytes; *cctx created when needed and
 * kept for the next call). 0, or -1 when out of memory. */
int redis_pack_value(ZSTD_CCtx **cctx, unsigned char lead, const char *body, size_t blen, char **val, size_t *vlen);
/* A packed body's zstd frame[0..n) decompressed into *plain (grown as needed, *cap its size; *dctx
 * created when needed): *got bytes. 0, or -1 with why (not one frame of a known size of at most max
 * bytes, or one that does not decompress to that size). */
int redis_unpack_frame(ZSTD_DCtx **dctx, const char *frame, size_t n, size_t max, char **plain, size_t *cap,
                       size_t *got, char *why, size_t whylen);

#endif
