/* task_filter.h — one FILTER task on a worker: paths mapped through the node's roots, the input
 * checked against the plan, the shard filtered into the attempt's staging directory.
 *
 * Contract
 * - Paths are (root name, relative path). A relative path must not be absolute nor hold a ".."
 *   component; an unknown root or such a path fails the task (a path never leaves its root).
 * - The input's size and mtime must equal the planned ones, else the task fails with "input
 *   changed since planning".
 * - Outputs go to STAGING/shards/<output_name> and, with with_removed, STAGING/removed/<output_name>
 *   (directories created; format from the output name's suffix). Files appear only complete.
 * - The result is a RESULT for the task's attempt (its own epoch): ok with the staged files (names
 *   relative to the staging directory, size, SHA-256) and the encoded stats, or ok = 0 with an
 *   error naming the file (and byte offset when the input is corrupt).
 * - A task_cache (one per task thread, never shared) keeps the agent list and verdict source of
 *   the last run configuration, so consecutive tasks of one run do not reopen them; it is dropped
 *   after a failed task.
 */
#ifndef OPTOUT_WORKER_TASK_FILTER_H
#define OPTOUT_WORKER_TASK_FILTER_H

#include <stddef.h>

#include "optout/msg.h"
#include "worker.h"

typedef struct task_cache task_cache;

void task_cache_free(task_cache *cache);

/* Runs `task` (any kind: unknown kinds fail) and fills *result. result->stats, when set, points to
 * a malloc'd buffer stored in *stats_buf that the caller frees after encoding the result. */
void task_run(const worker_env *env, task_cache **cache, const optout_msg *task, optout_msg *result,
              void **stats_buf);

/* Maps (root, rel) to a local path in out. 0, or -1 with err. */
int worker_map_path(const worker_env *env, const optout_msg_path *path, char *out, size_t outlen, char *err,
                    size_t errlen);

/* 1 when `rel` is a relative path without ".." components (empty and "." are allowed), else 0. */
int worker_rel_path_ok(const char *rel);

#endif
