/* history_archive.h — the history archive: the robots.txt captures kept for a set of hosts, on disk
 * in DIR/history/ (rules for users: docs/history.md, "Archive").
 *
 * Layout: DIR/history/ holds two files.
 *   index.tsv     line 1: "#optout-history 1\tbodies=<bytes of bodies.zst>\tversions=<N>\thosts=<H>";
 *                 line 2: the column names after '#'; then one line per version (history.h),
 *                 '\n'-terminated, 16 tab-separated columns:
 *                   host scheme origin crawl first last captures status outcome redirect
 *                   redirect_scheme sha256 size truncated offset length
 *                 scheme, redirect_scheme: http/https ("-" without redirect); origin: cc/wayback;
 *                 crawl: "-" when none; first, last: UTC "YYYY-MM-DDTHH:MM:SSZ"; captures: how
 *                 many captures the version merges; outcome: optout_outcome_name(); redirect: the
 *                 target's host key or "-"; sha256: of the body, "-" when none; offset, length:
 *                 the body's zstd frame in bodies.zst (0 0 when none). Lines are sorted by host
 *                 (bytewise), scheme, origin, crawl, first.
 *   bodies.zst    the distinct bodies of `ok` versions (an empty body too), one zstd frame each,
 *                 concatenated: one frame per SHA-256, shared by every version with that body.
 *   sources.tsv   what the build read (provenance): a '#' line of column names, then one line per
 *                 file in the order read: location crawl bytes records responses and the bad
 *                 records by kind (optout_warc_bad_name() order); crawl "-" when unknown;
 *                 control characters and tabs in the location written as spaces.
 *
 * Contract
 * - Writer: versions are added in any order, one capture at a time or already merged; a body is
 *   written once per SHA-256 (computed here; a version claiming another is refused).
 *   optout_history_writer_commit() sorts, merges consecutive versions of one host, scheme, origin
 *   and crawl whose answer (status, outcome, redirect and its scheme, body, truncated) is the same
 *   into one (first of the first, last of the last, captures added), writes the index, fsyncs
 *   both files and the staging directory, and publishes: the staging directory
 *   DIR/.history.staging.<pid> replaces DIR/history in one rename (an existing archive is swapped
 *   out atomically, then removed), then DIR is fsynced. Readers see the old archive or the new
 *   one, never a mix; a crash leaves at worst a staging directory, which the next writer removes.
 *   DIR/history that is a symbolic link, or not a directory, is refused.
 * - Reader: DIR/history and its two files are opened without following links and must be a
 *   directory and regular files; bodies.zst must have the size that index.tsv records (a bodies
 *   file of another build is refused). Every line is checked strictly (columns, names, numbers,
 *   first <= last, a frame inside bodies.zst, `ok` with a body and nothing else with one, the sort
 *   order); a defect is an error naming index.tsv:LINE. The versions of a host are one contiguous
 *   array (optout_history_host), found by hash.
 * - The reader is a history source (history.h): lookup answers from memory; body reads the
 *   version's frame and checks its size and SHA-256.
 * - Cursor: the same archive read host by host in index order, one host's versions in memory at a
 *   time (for loaders whose archive does not fit in memory: history_redis.h). It opens the files
 *   as the reader does and checks every line as the reader does, as it comes (a defect is an error
 *   naming index.tsv:LINE when the cursor reaches it; line 1's counts are checked at the end). The
 *   files stay open: an archive published meanwhile (a rename) is not seen.
 */
#ifndef OPTOUT_HISTORY_ARCHIVE_H
#define OPTOUT_HISTORY_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "optout/history.h"

#define OPTOUT_HISTORY_DIR "history"
#define OPTOUT_HISTORY_INDEX "index.tsv" /* in DIR/history/: what identifies an archive (its SHA-256) */

typedef struct optout_history_writer optout_history_writer;

/* Starts a build for DIR (created when missing): removes stale staging directories of this name
 * pattern left by dead writers, creates DIR/.history.staging.<pid>. level: zstd level (0: 3).
 * NULL with err. */
optout_history_writer *optout_history_writer_new(const char *dir, int level, char *err, size_t errlen);
/* A part of a build (one file of many, read by a fleet's task): commit sorts but does not merge,
 * so that merging the parts later (optout_history_writer_merge) gives what one build of every
 * file would, whatever the order of the captures across files. */
void optout_history_writer_apart(optout_history_writer *w);
/* Adds every version of the archive PART/history (a part, or any archive) with its captures and
 * body, and its sources.tsv lines; location, when not NULL, replaces each line's location (the
 * file as the builder named it). 0, or -1 with err naming the part. */
int optout_history_writer_merge(optout_history_writer *w, const char *part, const char *location, char *err,
                                size_t errlen);
/* Adds a version of host (v->first..v->last; `captures` 1 for one capture). body: the version's
 * body when v->outcome is OK (NULL with len 0 for an empty one), else ignored. v->sha256 is
 * filled in by the writer (any value given must be "" or the body's). 0, or -1 with err. */
int optout_history_writer_add(optout_history_writer *w, const char *host, const optout_history_version *v,
                              uint64_t captures, const void *body, size_t len, char *err, size_t errlen);
/* Records a file read (sources.tsv): its location, the crawl id its records carried ("" when
 * none), its bytes, records, responses and bad records by kind (OPTOUT_WARC_BAD_COUNT values).
 * 0, or -1 with err (out of memory). */
int optout_history_writer_source(optout_history_writer *w, const char *location, const char *crawl, uint64_t bytes,
                                 uint64_t records, uint64_t responses, const uint64_t *bad, size_t nbad, char *err,
                                 size_t errlen);
/* What the build holds so far (before merging: versions added; bodies written). */
void optout_history_writer_counts(const optout_history_writer *w, uint64_t *added, uint64_t *bodies,
                                  uint64_t *body_bytes);
/* Merges, writes, publishes, frees w. *versions and *hosts (may be NULL) receive what was
 * written. 0, or -1 with err (the staging directory removed, an existing archive kept). */
int optout_history_writer_commit(optout_history_writer *w, uint64_t *versions, uint64_t *hosts, char *err,
                                 size_t errlen);
/* Abandons the build: removes the staging directory, frees w. */
void optout_history_writer_abort(optout_history_writer *w);

typedef struct optout_history_archive optout_history_archive;

/* Loads DIR/history/index.tsv. NULL with err (a missing archive included). */
optout_history_archive *optout_history_archive_open(const char *dir, char *err, size_t errlen);
/* The source view (valid while a is open). */
optout_history_source optout_history_archive_source(optout_history_archive *a);
size_t optout_history_archive_hosts(const optout_history_archive *a);
size_t optout_history_archive_versions(const optout_history_archive *a);
/* The i-th host in index order (i < hosts), for listings and tests. */
optout_history_host optout_history_archive_host(const optout_history_archive *a, size_t i);
/* How many captures the version merges (v from this archive), 0 when v is not one of its versions. */
uint64_t optout_history_archive_captures(const optout_history_archive *a, const optout_history_version *v);
void optout_history_archive_close(optout_history_archive *a);

typedef struct optout_history_cursor optout_history_cursor;

/* Opens DIR/history/ for reading host by host (lines 1 and 2 checked). NULL with err. */
optout_history_cursor *optout_history_cursor_open(const char *dir, char *err, size_t errlen);
/* The counts line 1 announces (checked when the last host has been read). */
uint64_t optout_history_cursor_hosts(const optout_history_cursor *c);
uint64_t optout_history_cursor_versions(const optout_history_cursor *c);
/* The next host in index order into *h and, when captures is not NULL, how many captures each of
 * its versions merges into *captures (both valid until the next call). 1, 0 after the last host
 * (the counts of line 1 matched), -1 with err. */
int optout_history_cursor_next(optout_history_cursor *c, optout_history_host *h, const uint64_t **captures, char *err,
                               size_t errlen);
/* The body of a version of the current host, checked (size, SHA-256) as the reader's. 0, or -1. */
int optout_history_cursor_body(optout_history_cursor *c, const optout_history_version *v, char **body, size_t *len,
                               char *err, size_t errlen);
/* Back before the first host. 0, or -1 with err. */
int optout_history_cursor_rewind(optout_history_cursor *c, char *err, size_t errlen);
void optout_history_cursor_close(optout_history_cursor *c);

#endif
