/* history_record.h — a host's versions (history.h) as one compact binary record: the value the
 * history store keeps in Redis for each host key (history_redis.h), written by its loader and read
 * back, as hostile input, by its source.
 *
 * Format 1, integers as unsigned LEB128 varints unless said otherwise:
 *   'V' 0x01, count (>= 1), then count versions in order of first capture time (ties in the
 *   archive's order), each:
 *     flags (one byte: 0x01 https, 0x02 wayback, 0x04 redirect, 0x08 redirect to https,
 *            0x10 truncated, 0x20 body; no other bit), outcome (one byte: ok, unavailable or
 *            unreachable as optout_outcome), status (<= 999), crawl length (one byte: 0, or 15 and
 *            then "CC-MAIN-YYYY-WW"), first (zigzag varint, Unix seconds), last - first, captures
 *            (>= 1); with 0x20: the body's SHA-256 (32 bytes) and size (bytes); with 0x04: the
 *            redirect target's length (1..255) and host key (bytes 0x21..0x7e).
 *   A body (0x20) exactly when the outcome is ok; nothing after the last version.
 *
 * Contract
 * - Encoding sorts by first capture time (a stable sort: ties keep the order given) and refuses what
 *   the format cannot hold; decoding checks everything (magic, format, counts against the bytes
 *   left, flags, outcome, status, crawl id, times, lengths, characters, body iff ok, time order,
 *   shortest varints, no trailing byte), so a record that decodes encodes back to the same bytes.
 * - Pure functions; no global state.
 */
#ifndef OPTOUT_HISTORY_RECORD_H
#define OPTOUT_HISTORY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "optout/history.h"

/* Encodes a host's versions (any order; captures[i] for v[i], NULL: 1 each) into a record
 * (malloc'd into *rec, *len bytes). 0, or -1 with why (a version the format cannot hold: bad
 * counts, status, crawl, redirect, or a body on a version that is not ok). */
int optout_history_record_encode(const optout_history_version *v, const uint64_t *captures, size_t count, char **rec,
                                 size_t *len, char *why, size_t whylen);
/* Decodes a record (hostile input) into one malloc'd block: *versions (count of them, sorted by
 * first) followed by their redirect strings and, when captures is not NULL, *captures (count).
 * free(*versions) frees it all. 0, or -1 with why (what is wrong, and at which byte). */
int optout_history_record_decode(const void *rec, size_t len, optout_history_version **versions, size_t *count,
                                 uint64_t **captures, char *why, size_t whylen);

#endif
