/* journal.h — a run's append-only journal: the broker's durable memory of what it accepted and
 * published (the publication protocol, docs/fleet.md). Completeness of a run comes from here, never
 * from stat() of output files.
 *
 * Contract
 * - A record on disk is [u32 payload length][u32 CRC-32 (zlib) of the payload][payload], both
 *   integers little-endian; a payload holds 1..OPTOUT_JOURNAL_MAX_RECORD bytes (the broker writes
 *   msgpack maps; the journal only sees bytes).
 * - optout_journal_open() opens or creates the file (creating its parent directories, and fsyncing
 *   the directory of a new file) and replays every complete record, in order, through `replay`
 *   (which may be NULL). It stops at the first record that is torn (runs past the end of the file),
 *   has a zero or oversized length, or fails its checksum, and truncates the file there (ftruncate +
 *   fsync; a crash in the middle of a write leaves exactly such a tail), and later records are not
 *   replayed, even valid ones. What was cut is reported in *cut (may be NULL): a torn tail (an
 *   incomplete last record, or a zero or oversized length with no valid record after it: a write
 *   a crash interrupted, nothing durable lost) or a corrupt record (a complete record failing its
 *   checksum, or any bad record followed by a valid one: the file was damaged after it was written,
 *   and the valid records after it, counted in records_after, are dropped: what they recorded is
 *   redone). The file is then positioned for appends. optout_journal_cut_describe() writes the
 *   one line a log should say about a cut. A read error, or a replay callback's refusal, fails the open and leaves the file as it
 *   was (nothing is truncated).
 * - optout_journal_append() only buffers (a payload of 0 or more than OPTOUT_JOURNAL_MAX_RECORD
 *   bytes is refused; the journal stays usable). Nothing is durable until optout_journal_sync() has
 *   written everything buffered (retrying EINTR and short writes) and fdatasync()ed the file; a
 *   record is durable iff sync returned 0 after its append. The broker groups many appends per sync
 *   (at most 5 ms apart: group commit). Sync with nothing buffered returns 0 at once.
 * - A failed write or fdatasync leaves the disk in an unknown state: the journal is then poisoned,
 *   and every later append or sync fails (repeating the first error) until it is closed. Reopening
 *   replays what checksums prove reached the file, and cuts the rest.
 * - Errors return -1 with a message naming the file (and offset) in err (err, errlen: the
 *   optout_set_err() convention). Not thread-safe.
 */
#ifndef OPTOUT_JOURNAL_H
#define OPTOUT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_JOURNAL_MAX_RECORD ((size_t)16 << 20)
/* A sufficient size for the err buffers of this module. */
#define OPTOUT_JOURNAL_ERR_LEN 512

typedef struct optout_journal optout_journal;

/* Called once per complete record during open; a nonzero return stops the replay and makes open
 * fail (with "replay stopped at offset N"). `offset` is where the record starts in the file. */
typedef int (*optout_journal_replay_fn)(const void *payload, size_t len, uint64_t offset, void *arg);

typedef enum {
    OPTOUT_JOURNAL_WHOLE = 0,   /* nothing cut */
    OPTOUT_JOURNAL_TORN_TAIL,   /* an incomplete last record */
    OPTOUT_JOURNAL_CORRUPT,     /* a damaged record, possibly with valid ones after it */
} optout_journal_damage;

typedef struct {
    optout_journal_damage damage;
    uint64_t offset;        /* where the file was cut (0 when whole) */
    uint64_t bytes;         /* how many bytes were cut */
    uint64_t records_after; /* valid records found after a corrupt one (at least; dropped too) */
} optout_journal_cut;

optout_journal *optout_journal_open(const char *path, optout_journal_replay_fn replay, void *arg,
                                    optout_journal_cut *cut, char *err, size_t errlen);
/* "" when nothing was cut; else "journal PATH: cut a torn tail of N bytes at offset O (...)" or
 * "journal PATH: corrupt record at offset O (...): the tasks recorded after it will be redone
 * (the outputs are the same)". */
void optout_journal_cut_describe(const char *path, const optout_journal_cut *cut, char *buf, size_t len);
int optout_journal_append(optout_journal *j, const void *payload, size_t len, char *err, size_t errlen);
int optout_journal_sync(optout_journal *j, char *err, size_t errlen);
size_t optout_journal_pending(const optout_journal *j); /* records appended since the last sync */
/* Durable bytes: the file's length after open (its cut, if any) plus what syncs have written. */
uint64_t optout_journal_size(const optout_journal *j);
/* Closes without syncing what is pending (a crash looks the same). */
void optout_journal_close(optout_journal *j);

#endif
