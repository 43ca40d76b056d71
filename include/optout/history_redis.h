/* history_redis.h — the history archive (history_archive.h) in Redis: a loader that writes
 * DIR/history/ into Redis as time-indexed records, and a history source (history.h) that reads
 * them, so that the fleet's workers judge by the captures without a copy of the archive
 * (docs/history.md, "In Redis", has the memory figures).
 *
 * Layout under PREFIX (the run's key prefix, as for the verdict store, verdicts.h), in the
 * "history:" namespace:
 *   PREFIX "history:h:" HOST   -> the host's record: every version of the host key, sorted by first
 *                                 capture time (below)
 *   PREFIX "history:b:" SHA256 -> a body, stored once per SHA-256 (64 lower-case hex digits) whatever
 *                                 the number of versions and hosts sharing it: lead byte 'B', packed
 *                                 as the verdict store packs bodies (bit 0x80 of the lead byte set:
 *                                 the rest is one zstd frame; else the body itself)
 *   PREFIX "history:source"    -> the SHA-256 of the index.tsv loaded: which archive the keys hold
 *   PREFIX "history:done"      -> how many hosts, in index order, the load of that archive has
 *                                 written with their bodies (so that a killed load resumes there)
 *   PREFIX "history:planned"   -> how many host records the store must hold
 *   PREFIX "history:complete"  -> the same count, set last, once every record and body is in
 *
 * A host record is history_record.h's (its versions by first capture time, their capture counts).
 *
 * Contract
 * - Load (optout_history_redis_load): reads the archive host by host in index order through
 *   history_archive.h's cursor (every line checked as it comes; memory bounded whatever the
 *   archive's size: one host's versions, a round trip's commands and a fixed set of bodies sent
 *   lately), then: if "source" is this archive's and complete == planned, nothing is written
 *   (idempotent). Else DEL complete; when "source" is not this archive's (another, or none), "done"
 *   and "source" are deleted, then every record and body under the namespace (SCAN, UNLINK), then
 *   "source" is set: so no key of another archive outlives a load, and a load killed meanwhile
 *   deletes again. Then host by host from "done" on: the bodies not sent lately (each checked:
 *   size and SHA-256, as the archive's reader does) and the host's record, pipelined (REDIS_BATCH
 *   commands or 16 MiB a round trip), "done" advanced after each round trip; then planned and,
 *   last, complete. A load killed at any point leaves a store that reads as incomplete; the next
 *   load of the same archive resumes at "done" (after checking with EXISTS that the records and
 *   bodies under it are still there: it restarts at the first host missing one), and any load ends
 *   with the same keys and values as one load into an empty Redis. The archive changing while it
 *   is opened is an error (its index.tsv hashed before and after); a defect of the index found
 *   part-way fails the load, leaving an incomplete store. A load trusts the values under "done": a
 *   corrupt value is repaired by deleting PREFIX "history:source", which makes the next load
 *   delete and write all.
 * - Source (optout_history_redis_open): one connection, used by one thread. Opening fails when the
 *   store is incomplete (never loaded, half loaded, Redis restarted or flushed). A lookup that finds
 *   no record asks the completeness again: a host without a record on a complete store has no
 *   versions (0), on an incomplete one it is an error, never "no capture". Everything read is
 *   hostile: a record is decoded strictly (magic, format, counts against the bytes left, flags,
 *   outcome, status, crawl id, times, lengths, characters, body iff ok, sort order, no trailing
 *   byte) and a body is checked against the version's size and SHA-256; a defect is an error naming
 *   the key, the endpoint, what is wrong and the repair (above). Dropped connections, timeouts and
 *   LOADING are retried on a new connection with backoff (redis_internal.h), as the verdict store.
 * - Cache: the decoded versions of every host looked up stay in the source (history.h: a lookup's
 *   arrays stay valid while the source is open, and the judge keeps them); about 200 bytes a
 *   version. A worker that keeps one source across tasks calls optout_history_redis_forget()
 *   between tasks (no pointer from an earlier lookup may be in use then) when
 *   optout_history_redis_cached_bytes() is over its budget. Bodies are not cached here: the judge
 *   caches compiled rules by SHA-256.
 */
#ifndef OPTOUT_HISTORY_REDIS_H
#define OPTOUT_HISTORY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "optout/history.h"
#include "optout/history_record.h"

#define OPTOUT_HISTORY_REDIS_NS "history:" /* the namespace under the run's prefix */

/* What a load did. */
typedef struct {
    uint64_t hosts, versions;                 /* in the archive */
    uint64_t hosts_written, bodies_written;   /* by this call (a body shared by hosts far apart may be
                                                 written more than once: the same key and value) */
    uint64_t resumed_at;                      /* hosts already in from an interrupted load (0: none) */
    long stale_deleted;                       /* keys of another archive (or of none) deleted */
    int already_loaded;                       /* the store held this archive, complete: nothing written */
} optout_history_redis_load_stats;

/* Called after each round trip of a load with the hosts done (in index order) and the total; a
 * nonzero answer stops the load (-1, err "interrupted"), leaving a store that resumes. */
typedef int (*optout_history_redis_progress)(void *arg, uint64_t done, uint64_t total);

/* Loads DIR/history/ into Redis under PREFIX (the protocol above). batch_hosts: hosts per round trip
 * at most (0: as many as fit in REDIS_BATCH commands); progress may be NULL. stats may be NULL.
 * The number of host records in the store (= planned), or -1 with err (naming the archive line, the
 * body or the Redis endpoint). Credentials and endpoint as optout_verdicts_open_redis(). */
long optout_history_redis_load(const char *endpoint, const char *user, const char *password, const char *prefix,
                               const char *dir, size_t batch_hosts, optout_history_redis_progress progress,
                               void *progress_arg, optout_history_redis_load_stats *stats, char *err, size_t errlen);

/* Whether the history store under PREFIX is complete: 1, 0 (with err saying what it holds), -1 when
 * Redis cannot be asked (err). */
int optout_history_redis_complete(const char *endpoint, const char *user, const char *password, const char *prefix,
                                  char *err, size_t errlen);

typedef struct optout_history_redis optout_history_redis;

/* Opens the history store under PREFIX (complete, else NULL with err). */
optout_history_redis *optout_history_redis_open(const char *endpoint, const char *user, const char *password,
                                                const char *prefix, char *err, size_t errlen);
/* The source view (valid while r is open). */
optout_history_source optout_history_redis_source(optout_history_redis *r);
/* Asks Redis for many hosts in pipelined round trips (REDIS_BATCH GETs each) and caches their
 * versions, then likewise the hosts their redirects name (up to OPTOUT_HISTORY_MAX_HOPS rounds, as
 * the judge follows them), so that the lookups that follow are local (hosts already cached are
 * skipped; a host without a record is cached as having none). The source view's prefetch (the
 * filter calls it per chunk of documents, as it prefetches verdicts). 0, or -1 with err (a corrupt
 * record, an incomplete store, Redis unreachable). */
int optout_history_redis_prefetch(optout_history_redis *r, const char *const *hosts, const size_t *lens,
                                  size_t count, char *err, size_t errlen);
/* Bytes held by the cache of decoded hosts. */
size_t optout_history_redis_cached_bytes(const optout_history_redis *r);
/* Drops the cache (every array an earlier lookup gave becomes invalid). */
void optout_history_redis_forget(optout_history_redis *r);
void optout_history_redis_close(optout_history_redis *r);

#endif
