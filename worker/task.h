/* task.h — one task on a worker: paths mapped through the node's roots, the input checked against
 * the plan, the work done into the attempt's staging directory. task.c dispatches by kind and holds
 * what every kind shares; task_filter.c, task_rank.c, task_fetch.c, task_history.c and
 * task_wayback.c do one kind each.
 *
 * Contract
 * - Paths are (root name, relative path). A relative path must not be absolute nor hold a ".."
 *   component, and must not lead out of its root through a symbolic link (the existing part of the
 *   path, resolved, stays under the root's real path); an unknown root or such a path fails the
 *   task (a path never leaves its root).
 * - FILTER and RANK_MAP inputs (shards) and HISTORY inputs (WARC files) must have the planned size and mtime, else the task fails
 *   with "input changed since planning". RANK_REDUCE, FETCH and WAYBACK read files the run itself wrote.
 * - Outputs go under the staging directory only (msg.h says where per kind). Files appear only
 *   complete.
 * - The result is a RESULT for the task's attempt (its own epoch): ok with the staged files (names
 *   relative to the staging directory, size, SHA-256) and the encoded statistics of the kind
 *   (stats.h for FILTER; task_stats_* below for the others), or ok = 0 with an error naming the
 *   file (and byte offset when an input is corrupt).
 * - A task_cache (one per task thread, never shared) keeps the agent list and verdict source of
 *   the last run configuration, so consecutive tasks of one run do not reopen them; it is dropped
 *   after a failed task.
 */
#ifndef OPTOUT_WORKER_TASK_H
#define OPTOUT_WORKER_TASK_H

#include <stddef.h>

#include "optout/msg.h"
#include "optout/stats.h"
#include "worker.h"

typedef struct task_cache task_cache;

void task_cache_free(task_cache *cache);

/* Runs `task` (any kind: unknown kinds fail) and fills *result. result->stats, when set, points to
 * a malloc'd buffer stored in *stats_buf that the caller frees after encoding the result. */
void task_run(const worker_env *env, task_cache **cache, const optout_msg *task, optout_msg *result,
              void **stats_buf);

/* Maps (root, rel) to a local path in out, confined to the root (symbolic links included). 0, or
 * -1 with err. */
int worker_map_path(const worker_env *env, const optout_msg_path *path, char *out, size_t outlen, char *err,
                    size_t errlen);

/* 1 when `rel` is a relative path without ".." components (empty and "." are allowed), else 0. */
int worker_rel_path_ok(const char *rel);

/* ---- shared by the task kinds (task.c) ---------------------------------------------------------- */

/* Local paths: a root's path plus a relative path plus an output name. */
#define TASK_PATH_MAX (3 * OPTOUT_MSG_PATH_MAX)

/* What task_run() prepared for a kind: the decoded configuration and local paths. */
typedef struct {
    const worker_env *env;
    const optout_msg *msg;
    const optout_run_config *cfg;
    const char *input;   /* the task's input, mapped */
    const char *staging; /* the attempt's staging directory, mapped */
    const char *ctx;     /* "task N (attempt E.A) root:rel", for messages */
} task_job;

/* snprintf that reports truncation: 0, or -1 when the text did not fit (it is cut). */
__attribute__((format(printf, 3, 4))) int task_fmt(char *dst, size_t cap, const char *format, ...);

/* Stages STAGING/name's description (name, size, SHA-256) as the result's next file. 0 or -1. */
int task_add_file(const task_job *job, optout_msg *res, const char *name, char *err, size_t errlen);

/* STAGING/name into out, parent directories created. 0 or -1 with err. */
int task_staged_path(const task_job *job, const char *name, char *out, size_t cap, char *err, size_t errlen);

/* Stages the history archive part STAGING/<output_name>/history/ (index.tsv, bodies.zst,
 * sources.tsv: the files of HISTORY and WAYBACK tasks) as the result's files. 0 or -1 with err. */
int task_add_history_part(const task_job *job, optout_msg *res, char *err, size_t errlen);

/* A run configuration's field path, NULL when "" (the default). */
const char *task_field(const char *f);

/* Encodes an array of n counters as the result's statistics (msgpack). 0 or -1. */
int task_stats_counters(const uint64_t *values, size_t n, optout_msg *res, void **stats_buf);

/* The kinds. Each returns 0 with the result's files and stats filled, or -1 with err. */
int task_filter(const task_job *job, task_cache **cache, optout_msg *res, void **stats_buf, char *err,
                size_t errlen);
int task_rank_map(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen);
int task_rank_reduce(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen);
int task_fetch(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen);
int task_history(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen);
int task_wayback(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen);


#endif
