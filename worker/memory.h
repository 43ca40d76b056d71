/* memory.h — optout-worker --max-memory BYTES: the accounting that keeps a worker's caches and
 * buffers under a budget (docs/policy.md "Memory").
 *
 * Contract
 * - The budget covers what grows with the work, by these figures:
 *     base          WORKER_MEM_BASE: the process, its libraries, ZeroMQ queues, the network thread;
 *     per slot      WORKER_MEM_SLOT_FIXED: a shard reader's decompression window and two writers'
 *                   compression contexts (zstd level <= 19 windows), the Redis batch (twice
 *                   BATCH_BYTES, filter.c), the filter's host-key cache (4096 entries), buffers;
 *                   plus the longest line the slot may hold: the run's --max-line (default 64 MiB);
 *                   plus the verdict source's tables (an archive: about 100 bytes a host; the
 *                   domain table and the override lists, policy.h) and its compiled rule sets, each
 *                   counted WORKER_MEM_COMPILED (a typical compiled robots.txt; the largest, from a
 *                   500 KiB body, take more: an estimate, not a hard limit);
 *                   a fetch task: WORKER_MEM_TRANSFER per transfer in flight.
 * - worker_memory_plan(): each slot gets (max - base) / slots; the compiled-set cache (max_cached
 *   of verdicts.h) gets what is left after the fixed part and the default line, at most 65536 sets.
 *   When even WORKER_MEM_MIN_CACHED sets do not fit, the configuration is refused (-1, err says
 *   what the minimum is): optout-worker exits 2 at start.
 * - Per task (the run's configuration is known only then): a --max-line or tables that do not fit
 *   the slot fail the task with a message naming the figures; a fetch task's concurrency is lowered
 *   to what the slot holds.
 */
#ifndef OPTOUT_WORKER_MEMORY_H
#define OPTOUT_WORKER_MEMORY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "optout/shard.h"

#define WORKER_MEM_MIB ((uint64_t)1 << 20)
#define WORKER_MEM_BASE (32 * WORKER_MEM_MIB)
#define WORKER_MEM_SLOT_FIXED (40 * WORKER_MEM_MIB)
#define WORKER_MEM_LINE_DEFAULT ((uint64_t)OPTOUT_SHARD_MAX_LINE_DEFAULT)
#define WORKER_MEM_COMPILED ((uint64_t)16 << 10)
#define WORKER_MEM_MIN_CACHED 256
#define WORKER_MEM_MAX_CACHED 65536
#define WORKER_MEM_TRANSFER ((uint64_t)40 << 10)
#define WORKER_MEM_ARCHIVE_HOST 100

/* The slot's budget (0: no limit) and its compiled-set cache. 0, or -1 with err. */
static inline int worker_memory_plan(uint64_t max, unsigned slots, uint64_t *slot_bytes, size_t *max_cached,
                                     char *err, size_t errlen) {
    *slot_bytes = 0;
    *max_cached = 0;
    if (max == 0) return 0;
    uint64_t need = WORKER_MEM_SLOT_FIXED + WORKER_MEM_LINE_DEFAULT + WORKER_MEM_MIN_CACHED * WORKER_MEM_COMPILED;
    uint64_t min = WORKER_MEM_BASE + (uint64_t)slots * need;
    if (max < min) {
        snprintf(err, errlen,
                 "--max-memory %llu bytes is below the minimum of %llu MiB for %u slot%s (%llu MiB base + %llu MiB "
                 "a slot: buffers and compression %llu MiB, a 64 MiB line, %d compiled robots.txt sets); give at "
                 "least that, or fewer --slots",
                 (unsigned long long)max, (unsigned long long)((min + WORKER_MEM_MIB - 1) / WORKER_MEM_MIB), slots,
                 slots == 1 ? "" : "s", (unsigned long long)(WORKER_MEM_BASE / WORKER_MEM_MIB),
                 (unsigned long long)(need / WORKER_MEM_MIB), (unsigned long long)(WORKER_MEM_SLOT_FIXED / WORKER_MEM_MIB),
                 WORKER_MEM_MIN_CACHED);
        return -1;
    }
    *slot_bytes = (max - WORKER_MEM_BASE) / slots;
    uint64_t sets = (*slot_bytes - WORKER_MEM_SLOT_FIXED - WORKER_MEM_LINE_DEFAULT) / WORKER_MEM_COMPILED;
    *max_cached = (size_t)(sets > WORKER_MEM_MAX_CACHED ? WORKER_MEM_MAX_CACHED : sets);
    return 0;
}

/* "4G", "512M", "64K", "1000000" -> bytes (binary units); -1 when malformed or 0. */
static inline int worker_memory_parse(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-') return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    else if (*end == 'T' || *end == 't') shift = 40, end++;
    if (*end == 'i' && shift) end++;
    if (*end == 'B' && shift) end++;
    if (*end || v == 0 || (shift && v > (UINT64_MAX >> shift))) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

#endif
