/* verdicts.h — where the filter gets a host's robots.txt outcome and compiled rules.
 *
 * Contract
 * - A verdict source answers "rules for this host key?" with the fetch outcome and, for `ok`, the
 *   compiled rule set (for the source's agent list and mode). The rule set stays valid until the
 *   next lookup or prefetch on the same source (sources cache a bounded number of compiled sets).
 *   A source is used by one thread at a time (one source per worker thread).
 * - optout_verdicts_lookup() distinguishes "no robots.txt" (a record whose outcome says so) from
 *   "no record" (return 0): in the fleet a planned host without a record is an error, never a
 *   silent keep.
 * - Implementations: a robots directory, a robots archive (archive.h) and Redis (the fleet).
 *
 * Robots directory (`--robots-dir`; the tests' real robots.txt collection is one): one file per host key
 * holding the body; a port is written "host_port" ("_80" and "_443" are dropped on load); names are
 * lower-cased; two files for one key are an error. An optional index.tsv (host, outcome, status,
 * fetched_at, sha256; '#' lines are comments) gives outcomes; without it a file means `ok` and no
 * file means `no_robots`. A directory source has a record for every host.
 */
#ifndef OPTOUT_VERDICTS_H
#define OPTOUT_VERDICTS_H

#include <stddef.h>

#include "optout/agents.h"
#include "optout/robots.h"
#include "optout/stats.h"

typedef struct {
    optout_outcome outcome;
    const optout_robots *rules; /* compiled rules when outcome is OPTOUT_OUTCOME_OK, else NULL */
} optout_verdict;

typedef struct optout_verdicts optout_verdicts;

/* 1: *out filled; 0: no record for this host; -1: error described in err. */
int optout_verdicts_lookup(optout_verdicts *v, const char *host, size_t len, optout_verdict *out, char *err,
                           size_t errlen);
void optout_verdicts_free(optout_verdicts *v);

/* Opens a robots directory. max_cached bounds the compiled sets kept (0: a default of 65536).
 * agents must outlive the source. NULL with err filled on error. */
optout_verdicts *optout_verdicts_open_dir(const char *dir, const optout_agents *agents, optout_robots_mode mode,
                                          size_t max_cached, char *err, size_t errlen);
/* Number of host keys with a file in the directory. */
size_t optout_verdicts_dir_hosts(const optout_verdicts *v);

/* Robots archive (archive.h: a directory of packs, the durable record of a fetch). Opening reads
 * every pack's index (no body) into a compact table (about 100 bytes a host: 2 million hosts take
 * a few hundred MB); a host recorded twice (in one pack or two) is an error naming both packs, as
 * is a malformed index line (torn tails are ignored, as the archive reader does). Every record
 * answers with its outcome; an `ok` host's body is read by offset on first lookup, checked (size,
 * SHA-256: a mismatch is a lookup error naming the bodies file and host), compiled and cached
 * (max_cached compiled sets, 0: 65536, the least recently visited evicted first, as the directory
 * source). The archive holds every planned host, so a host without a record answers
 * OPTOUT_OUTCOME_NOT_RANKED (return 1). A missing directory is an error (a mistyped path must not
 * read as "nothing was ranked"); an empty one has no records. agents must outlive the source. NULL
 * with err on error. */
optout_verdicts *optout_verdicts_open_archive(const char *dir, const optout_agents *agents, optout_robots_mode mode,
                                              size_t max_cached, char *err, size_t errlen);
/* Number of hosts with a record in an archive source (0 for other sources). */
size_t optout_verdicts_archive_hosts(const optout_verdicts *v);

/* Redis (the fleet's shared cache; the run directory's robots archive is the durable record).
 *
 * Layout under PREFIX ("optout:<run>:<config-hash>:"):
 *   PREFIX "h:" HOST  -> one string: outcome byte (optout_outcome) followed by the robots.txt body
 *                        (empty unless ok); bit 0x80 of the outcome byte set: the body is one zstd
 *                        frame (the loader compresses bodies of 64 bytes or more when that is
 *                        smaller: a store of millions of hosts shrinks 3-5x). Workers compile it for
 *                        their agent list and mode, which the config hash in PREFIX pins
 *   PREFIX "planned"  -> how many host records the store must hold
 *   PREFIX "complete" -> how many host records were written (set last, after every record)
 *   PREFIX "absent"   -> "no_robots" (robots-directory semantics: a host without a record has no
 *                        robots.txt), "not_ranked" (archive semantics: every planned host has a
 *                        record, so a host without one was not ranked) or "error" (a planned host
 *                        list: a host without a record is an error, never a keep)
 * A lookup first checks complete == planned (once per source, and again after any miss); an
 * incomplete store is an error (the broker reloads it), never a silent "allowed". A record that
 * exists answers even while the store is incomplete (a reload rewrites the same records); a host
 * without one is then an error in every "absent" mode (Redis restarted empty must not read as "no
 * robots.txt"). A record whose outcome byte is unknown, that is empty, or that has a body without
 * being ok is corrupt: -1.
 * A dropped connection, a timeout or a LOADING reply is retried on a new connection (at once, then
 * with backoff, about 3 s in all), so a Redis restart does not fail a worker; past that the lookup
 * fails with a message naming endpoint and host. Other error replies (NOAUTH, WRONGTYPE) fail at
 * once. SIGPIPE raised by a write to a closed connection is blocked and discarded.
 * endpoint: "unix:/path/to/socket" or "host:port" ("[v6addr]:port"). Credentials, sent again on
 * every reconnect: user NULL (or "") and password NULL (or "") send no AUTH; a password alone is
 * "AUTH password" (the default user, requirepass); a user is an ACL user (Redis 6): "AUTH user
 * password" (password "" when NULL, for a nopass user). The password is never taken from a command
 * line and never put in a message; the user name may be. open_redis fails when the store is
 * incomplete ("Redis store under PREFIX is incomplete (complete X of Y)") or "absent" is none of
 * the three values. Lookups are pipelined by
 * optout_verdicts_prefetch() in batches and compiled sets cached (bounded by max_cached,
 * 0 = 65536; the map of hosts met is bounded too, and dropped whole when full). */
optout_verdicts *optout_verdicts_open_redis(const char *endpoint, const char *user, const char *password,
                                            const char *prefix, const optout_agents *agents, optout_robots_mode mode,
                                            size_t max_cached, char *err, size_t errlen);
/* Whether the store under PREFIX is complete ("complete" equals "planned"), asked on a connection
 * of its own (the same endpoint and credential rules): 1 complete; 0 incomplete (never loaded,
 * restarted or flushed: a reload fixes it), with err saying what it holds; -1 when Redis cannot be
 * asked (unreachable, authentication refused, an error reply), with err. */
int optout_verdicts_redis_complete(const char *endpoint, const char *user, const char *password, const char *prefix,
                                   char *err, size_t errlen);
/* Asks Redis for many hosts, one round trip per 1000 (pipelined GETs), and caches the answers, so
 * that the lookups that follow are local. Hosts already cached are skipped. A host without a record
 * is no error here (its lookup answers 0, no_robots or not_ranked, as "absent" says), but an incomplete store or a corrupt record
 * is. 0, or -1 with err. */
/* 1 when prefetching helps (a remote source): callers then batch their lookups. */
int optout_verdicts_can_prefetch(const optout_verdicts *v);
int optout_verdicts_prefetch(optout_verdicts *v, const char *const *hosts, const size_t *lens, size_t count,
                             char *err, size_t errlen);
/* Loads a robots directory into Redis under PREFIX (absent = "no_robots"): every file's host with
 * its outcome (index.tsv) and body, index-only hosts with their outcome, then planned and complete.
 * Idempotent: "complete" is deleted first, records of hosts the directory no longer has are
 * deleted, every record is rewritten (pipelined SETs), then "planned" and last "complete" are set,
 * so a load that dies half-way leaves a store that reads as incomplete. Returns the number of host
 * records written (= planned), or -1 with err. */
long optout_verdicts_load_redis(const char *endpoint, const char *user, const char *password, const char *prefix,
                                const char *robots_dir, char *err, size_t errlen);
/* Loads a robots archive into Redis under PREFIX (absent = "not_ranked"), with the same key layout
 * and the same idempotent protocol as optout_verdicts_load_redis() (the two share one code path):
 * "complete" deleted, records of hosts the archive no longer has deleted, every archive record
 * written (outcome byte, then the body for ok), "absent", "planned" and last "complete" set. Bodies
 * stream: one is read (checked: size and SHA-256) and sent at a time, never all held. A host
 * recorded twice, a missing directory, a malformed index line or a corrupt body is an error (and
 * leaves the store incomplete). Returns the number of host records written (= planned), or -1 with err. */
long optout_verdicts_load_redis_archive(const char *endpoint, const char *user, const char *password,
                                        const char *prefix, const char *archive_dir, char *err, size_t errlen);

#endif
