/* shard.h — streaming JSON Lines shards in and out: plain, gzip and zstd.
 *
 * Reader contract
 * - optout_shard_open() detects the format from the content's magic bytes (gzip 1f 8b, zstd
 *   28 b5 2f fd or a skippable frame 5? 2a 4d 18; anything else is plain text), not from the name.
 *   Multi-member gzip and multi-frame zstd (skippable frames included) are read to the end; bytes
 *   after the last member/frame that do not start another one are corrupt data (an error).
 *   Frames whose window exceeds libzstd's default limit (128 MiB, e.g. zstd --long=31) are refused
 *   with an error rather than decoded with unbounded memory.
 * - optout_shard_next() yields one line at a time, without its '\n' (a '\r' before it is kept:
 *   lines pass through byte-identical). A last line without '\n' is still a line; the reader
 *   remembers whether it had one (optout_shard_line.newline) so output can reproduce it.
 * - Memory is bounded: a line longer than `max_line` bytes is not buffered whole; it is returned in
 *   pieces of at most `max_line` bytes, each flagged `oversized`, the last one with `last_piece`.
 *   Every piece but the last is exactly `max_line` bytes; only the last carries `newline`. A line
 *   of exactly `max_line` bytes is an ordinary line. max_line 0 means the default (64 MiB). The
 *   reader holds at most max_line + 1 MiB of text plus 1 MiB of input and the decoder's state.
 * - Errors (truncated or corrupt compressed data, read errors) are reported with the file name and
 *   the byte offset in the compressed input (and in the decompressed stream) in `err`; after an
 *   error the reader yields nothing more (next() keeps returning -1 with the same message). A
 *   truncated compressed stream is an error, never a silently shorter shard. Lines returned before
 *   a corruption is detected may be garbage: gzip's CRC and zstd's content checksum are checked only
 *   at the end of a member/frame, so a caller must discard everything it wrote from a shard that
 *   ended in error (optout_shard_abort()). Lines before a truncation point are genuine.
 * - Line data stays valid until the next call to optout_shard_next() or optout_shard_close().
 *
 * Writer contract
 * - optout_shard_create(path, format, level) writes to "PATH.tmp.<pid>" in the same directory
 *   (created with O_EXCL; a stale file of that name is replaced); optout_shard_commit() flushes,
 *   fsyncs the file, renames it to PATH (replacing any old PATH) and fsyncs the directory, so PATH
 *   appears only complete. optout_shard_abort() removes the temporary file. An empty shard is a
 *   valid file (empty, an empty gzip member, or an empty zstd frame). zstd output is one frame with
 *   a content checksum, as the zstd tool writes.
 * - optout_shard_write_line() writes bytes plus '\n' when `newline` is set. Output is buffered and
 *   compressed in 1 MiB blocks; write errors (ENOSPC, EIO, ...) may therefore surface on a later
 *   call or at commit.
 * - Every function returns 0 or -1 with a message naming the file in `err`. After a write_line
 *   error the writer only fails: call optout_shard_abort(). commit() always frees the writer; when
 *   it fails before the rename the temporary file is removed and PATH is untouched; when only the
 *   directory fsync fails, PATH is complete but -1 says its durability is not known.
 */
#ifndef OPTOUT_SHARD_H
#define OPTOUT_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_SHARD_MAX_LINE_DEFAULT ((size_t)64 << 20)
#define OPTOUT_SHARD_ERR_LEN 512

typedef enum { OPTOUT_FORMAT_PLAIN = 0, OPTOUT_FORMAT_GZIP, OPTOUT_FORMAT_ZSTD } optout_shard_format;

typedef struct optout_shard_reader optout_shard_reader;

typedef struct {
    const char *data;
    size_t len;
    uint64_t offset;     /* byte offset of the line (or piece) in the decompressed stream */
    int newline;         /* the line ended with '\n' (always 1 except maybe the last line) */
    int oversized;       /* a piece of a line longer than max_line */
    int last_piece;      /* with oversized: the final piece of that line */
} optout_shard_line;

/* Returns NULL with err filled when the file cannot be opened or read. `err` may be NULL in every
 * function of this module. */
optout_shard_reader *optout_shard_open(const char *path, size_t max_line, char *err, size_t errlen);
/* 1: a line in *line; 0: end of input; -1: error in err. */
int optout_shard_next(optout_shard_reader *r, optout_shard_line *line, char *err, size_t errlen);
optout_shard_format optout_shard_reader_format(const optout_shard_reader *r);
/* Compressed bytes consumed (plain: bytes read), for progress; the file size once next() has
 * returned 0. */
uint64_t optout_shard_bytes_read(const optout_shard_reader *r);
void optout_shard_close(optout_shard_reader *r);

typedef struct optout_shard_writer optout_shard_writer;

/* level: zstd 1..19 (default 3) or gzip 1..9 (default 6); 0 means the default. */
optout_shard_writer *optout_shard_create(const char *path, optout_shard_format format, int level,
                                         char *err, size_t errlen);
int optout_shard_write_line(optout_shard_writer *w, const char *data, size_t len, int newline,
                            char *err, size_t errlen);
int optout_shard_commit(optout_shard_writer *w, char *err, size_t errlen); /* frees w */
void optout_shard_abort(optout_shard_writer *w);                                  /* frees w */
uint64_t optout_shard_bytes_written(const optout_shard_writer *w); /* uncompressed bytes so far */

/* Format implied by a file name: ".gz" gzip, ".zst" zstd, else plain. */
optout_shard_format optout_shard_format_of_name(const char *path);

#endif
