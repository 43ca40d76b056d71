/* archive_internal.h — what the robots archive (archive.c, include/optout/archive.h) offers the
 * modules built on it (the archive verdict source and the Redis loader, verdicts_archive.c,
 * verdicts_redis.c): where a record's body lies, and reading one body alone.
 *
 * Contract
 * - archive_record_location(): for a record handed out by optout_archive_scan() (and only such a
 *   record, during its visit), the body's zstd frame in PACK.bodies.zst (0 0 when no body).
 * - archive_read_body(): reads [offset, offset+length) of the open bodies file fd, decompresses it
 *   (exactly one frame of exactly `size` bytes) and checks its SHA-256 (sha: 32 raw bytes). *body
 *   receives a malloc'd, NUL-terminated copy. 0, or -1 with err starting with `where` (e.g.
 *   "archive/pack.tsv:12").
 * - archive_bodies_path(): DIR/PACK.bodies.zst into buf (0, or -1 when it does not fit).
 * - archive_hex_to_sha(): 64 lower-case hex digits -> 32 bytes; 0, or -1 when not such hex.
 * - archive_append_frame(): compresses a body into exactly one zstd frame (content size recorded)
 *   with c's context and buffer (made on first use, reused; level 0 means 3) and appends it to fd
 *   with write(2), unbuffered, so that a frame reaches the kernel before whatever index line
 *   points at it; *length receives the frame's size. 0, or -1 with err starting with `where`.
 *   The one writer of the frames that archive_read_body() reads (the robots archive, the history
 *   archive).
 *
 * The archive's index in memory (verdicts_archive.c), shared by the archive verdict source and the
 * Redis loader so that both see the same hosts:
 * - archive_index_open(): scans every pack (no body is read) into a compact table (host -> outcome,
 *   pack, frame offset and length, size, SHA-256; about 100 bytes a host). A host recorded twice
 *   is an error naming both packs; so is a missing path, and a directory without any pack (not a
 *   fetch archive: it would answer "not ranked" for every host). NULL with err.
 * - archive_index_find(): the record's position, or -1 when the archive has no record for host.
 */
#ifndef OPTOUT_ARCHIVE_INTERNAL_H
#define OPTOUT_ARCHIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "optout/archive.h"

struct ZSTD_CCtx_s;
typedef struct {
    struct ZSTD_CCtx_s *cctx;
    void *buf;
    size_t cap;
    int level;
} archive_compressor;
#define ARCHIVE_BODY_MAX ((uint64_t)64 << 20) /* largest body size an index line may claim */

int archive_append_frame(archive_compressor *c, int fd, const void *body, size_t len, uint64_t *length,
                         const char *where, char *err, size_t errlen);
void archive_compressor_free(archive_compressor *c);
void archive_record_location(const optout_archive_record *rec, uint64_t *offset, uint64_t *length);
int archive_read_body(int fd, const char *where, uint64_t offset, uint64_t length, uint64_t size,
                      const unsigned char sha[32], char **body, char *err, size_t errlen);
int archive_bodies_path(const char *dir, const char *pack, char *buf, size_t cap);
int archive_hex_to_sha(const char *hex, unsigned char sha[32]);

struct archive_index;
struct archive_index *archive_index_open(const char *dir, char *err, size_t errlen);
long archive_index_find(const struct archive_index *ix, const char *host, size_t len);
size_t archive_index_count(const struct archive_index *ix);
void archive_index_free(struct archive_index *ix);

#endif
