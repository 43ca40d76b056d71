/* archive.h — the robots archive: the durable record of a fetch (Redis is a cache rebuilt from
 * it). A run keeps it in DIR/robots/.
 *
 * Layout: a directory of packs. Pack NAME is two files:
 *   NAME.tsv          the index: a '#' header line, then one line per host, '\n'-terminated,
 *                     13 tab-separated columns:
 *                       host outcome status fetched_at sha256 size truncated time_ms attempts
 *                       final_url offset length error
 *                     host: the host key; outcome: optout_outcome_name(); status: HTTP status (0:
 *                     none); fetched_at: UTC "YYYY-MM-DDTHH:MM:SSZ"; sha256: of the body, "-" when
 *                     none; size: body bytes; truncated: 0/1; time_ms, attempts: as fetched;
 *                     final_url: "-" when none; offset, length: the body's zstd frame in
 *                     NAME.bodies.zst (0 0 when no body); error: "-" when none. Tabs, newlines
 *                     and other control characters in final_url and error are written as spaces.
 *                     The first five columns are those of a robots directory's index.tsv.
 *   NAME.bodies.zst   the bodies of `ok` hosts, each one zstd frame, concatenated (so that the
 *                     file is also one valid multi-frame .zst stream, and any body can be read
 *                     alone by offset).
 *
 * Contract
 * - Writer: a body's frame is written before its index line, so that a crash leaves at worst a
 *   last index line that is torn or points past the end of the bodies file; the reader ignores
 *   such a tail (and counts it). Nothing is durable before optout_archive_close(..., sync=1)
 *   (fsync of both files).
 * - Reader: packs are visited in byte order of their names, records in file order. A malformed
 *   line (wrong column count, unknown outcome, bad numbers, a body that does not decompress to
 *   `size` bytes with the recorded SHA-256) is an error naming pack and line.
 * - Hosts are unique within an archive; the reader does not check this (the loaders do).
 */
#ifndef OPTOUT_ARCHIVE_H
#define OPTOUT_ARCHIVE_H

#include <stddef.h>

#include "optout/fetch.h"

typedef struct optout_archive_writer optout_archive_writer;

/* Creates (truncating) DIR/NAME.tsv and DIR/NAME.bodies.zst, DIR and its parents if needed.
 * level: zstd level of the bodies (0: 3). NULL with err on failure. */
optout_archive_writer *optout_archive_create(const char *dir, const char *name, int level, char *err,
                                             size_t errlen);
/* Appends one host's record (its body when r->outcome is OK). 0, or -1 with err. */
int optout_archive_append(optout_archive_writer *w, const optout_fetch_result *r, char *err, size_t errlen);
/* Pushes what was appended to the kernel (a crash of this process then loses nothing). */
int optout_archive_flush(optout_archive_writer *w, char *err, size_t errlen);
/* Closes (and with sync, fsyncs) both files and frees w; 0 or -1 with err. w is freed either way. */
int optout_archive_close(optout_archive_writer *w, int sync, char *err, size_t errlen);

/* A record as read back: the fields of optout_fetch_result (body loaded only when asked) plus
 * where it came from. */
typedef struct {
    optout_fetch_result r;
    const char *pack; /* NAME */
    size_t line;      /* 1-based line in NAME.tsv */
} optout_archive_record;

/* Returns 0 to go on, nonzero to stop the scan (returned as -1 with err "stopped"). */
typedef int (*optout_archive_visit)(const optout_archive_record *rec, void *arg);

/* Visits every record of every pack in dir. with_bodies: ok bodies are read, decompressed and
 * checked (size and SHA-256) before the visit; else r.body is NULL. *torn (may be NULL) receives
 * the number of torn tail records ignored. Returns the number of records visited, or -1 with err.
 * A directory without packs (or missing) has 0 records. */
long optout_archive_scan(const char *dir, int with_bodies, optout_archive_visit visit, void *arg, size_t *torn,
                         char *err, size_t errlen);

/* The number of packs (NAME.tsv) in dir: what makes a directory a fetch archive (a fetch writes a
 * pack even when it has no host). 0 when it has none, -1 with err when it cannot be listed
 * (a missing dir included). */
long optout_archive_packs(const char *dir, char *err, size_t errlen);

#endif
