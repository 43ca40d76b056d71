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
 */
#ifndef OPTOUT_ARCHIVE_INTERNAL_H
#define OPTOUT_ARCHIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "optout/archive.h"

#define ARCHIVE_BODY_MAX ((uint64_t)64 << 20) /* largest body size an index line may claim */

void archive_record_location(const optout_archive_record *rec, uint64_t *offset, uint64_t *length);
int archive_read_body(int fd, const char *where, uint64_t offset, uint64_t length, uint64_t size,
                      const unsigned char sha[32], char **body, char *err, size_t errlen);
int archive_bodies_path(const char *dir, const char *pack, char *buf, size_t cap);
int archive_hex_to_sha(const char *hex, unsigned char sha[32]);

#endif
