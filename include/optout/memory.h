/* memory.h — the memory budget of optout-worker --max-memory BYTES (also checked by `optout run`,
 * which hands it to its workers): the accounting that keeps a worker's caches and buffers under a
 * budget (docs/policy.md "Memory").
 *
 * Contract
 * - The budget covers what grows with the work, by these figures:
 *     base          OPTOUT_MEM_BASE: the process, its libraries, ZeroMQ queues, the network thread;
 *     per slot      OPTOUT_MEM_SLOT_FIXED: a shard reader's decompression window and two writers'
 *                   compression contexts (zstd level <= 19 windows), the Redis batch (twice
 *                   BATCH_BYTES, filter.c), the filter's host-key cache (4096 entries), buffers;
 *                   plus the longest line the slot may hold: the run's --max-line (default 64 MiB);
 *                   plus the verdict source's tables (an archive: about 100 bytes a host; the
 *                   domain table and the override lists, policy.h) and its compiled rule sets, each
 *                   counted OPTOUT_MEM_COMPILED (a typical compiled robots.txt; the largest, from a
 *                   500 KiB body, take more: an estimate, not a hard limit);
 *                   a fetch task: OPTOUT_MEM_TRANSFER per transfer in flight.
 * - optout_memory_plan(): each slot gets (max - base) / slots; the compiled-set cache (max_cached
 *   of verdicts.h) gets what is left after the fixed part and the default line, at most 65536 sets.
 *   When even OPTOUT_MEM_MIN_CACHED sets do not fit, the configuration is refused (-1, err says
 *   what the minimum is): optout-worker exits 2 at start.
 * - Per task (the run's configuration is known only then): a --max-line or tables that do not fit
 *   the slot fail the task with a message naming the figures; a fetch task's concurrency is lowered
 *   to what the slot holds.
 * - A Parquet shard holds no line: what the slot has left besides its fixed part, tables and
 *   compiled sets (at least the line's share, --max-line or 64 MiB, since that is checked) is what
 *   reading it may hold (optout_memory_parquet_share, docsource.h's max_memory): one row group's
 *   projected columns, the text's sizes and row bitmaps, then decompressed pages kept for the
 *   writer (parquet.h, at most OPTOUT_PQ_KEEP_PAGES_MAX) and one page read and one written at a
 *   time (rows written as JSON Lines: a page of every column and one row instead). A row group, a
 *   page or a row that does not fit fails its shard with the figures; the
 *   compression contexts are in OPTOUT_MEM_SLOT_FIXED.
 */
#ifndef OPTOUT_MEMORY_H
#define OPTOUT_MEMORY_H

#include <stdint.h>
#include <stddef.h>

#include "optout/shard.h"

#define OPTOUT_MEM_MIB ((uint64_t)1 << 20)
#define OPTOUT_MEM_BASE (32 * OPTOUT_MEM_MIB)
#define OPTOUT_MEM_SLOT_FIXED (40 * OPTOUT_MEM_MIB)
#define OPTOUT_MEM_LINE_DEFAULT ((uint64_t)OPTOUT_SHARD_MAX_LINE_DEFAULT)
#define OPTOUT_MEM_COMPILED ((uint64_t)16 << 10)
#define OPTOUT_MEM_MIN_CACHED 256
#define OPTOUT_MEM_MAX_CACHED 65536
#define OPTOUT_MEM_TRANSFER ((uint64_t)40 << 10)
#define OPTOUT_MEM_ARCHIVE_HOST 100

/* The slot's budget (0: no limit) and its compiled-set cache. 0, or -1 with err. */
int optout_memory_plan(uint64_t max, unsigned slots, uint64_t *slot_bytes, size_t *max_cached, char *err,
                       size_t errlen);

/* The bytes a Parquet shard's reading may hold in a slot of slot_bytes whose other holdings are
 * `held` bytes: what is left, at least 1 (0: no budget when slot_bytes is 0). */
uint64_t optout_memory_parquet_share(uint64_t slot_bytes, uint64_t held);

/* --max-memory's value: "4G", "512M", "64K", "1000000" -> bytes (binary units, parse.h's byte
 * counts); 0 is refused (no budget is the option's absence). 0, or -1 with err naming the value. */
int optout_memory_parse(const char *text, uint64_t *bytes, char *err, size_t errlen);

#endif
