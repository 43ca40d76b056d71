/* result.h — what a successful RESULT must hold before the broker accepts it, and how its staged
 * files are reached (docs/fleet-protocol.md "Outputs"; docs/fleet.md "Publication").
 *
 * Contract
 * - A result is accepted only when its file list names exactly the files its task must produce
 *   (result_expect: one table, by task kind and output mode), each once, each a regular file
 *   reached from the attempt's staging directory without following any symbolic link, of the
 *   declared size; and when its statistics are what its task kind sends, well formed enough to be
 *   merged. Anything else is a failed attempt of the task, never a reason for the broker to stop.
 * - The SHA-256 of each file stays the worker's claim: it is journaled and `optout verify`
 *   checks it; reading every output again at publication would cost as much as producing it.
 * - These functions use no broker state and no event loop (the fuzz target calls them directly).
 *   err may be NULL; messages quote peer-supplied names escaped (optout_log_escape).
 */
#ifndef OPTOUT_BROKER_RESULT_H
#define OPTOUT_BROKER_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "optout/msg.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/stats_policy.h"

/* The files one task must stage, relative to its staging directory. */
struct result_expect {
    optout_task_kind kind;
    size_t agent_count; /* the run's agents: filter statistics are indexed by them */
    /* robots.txt as it was: a filter result's statistics must carry the policies' (stats_policy.h)
     * of this configuration, merged into *policy alongside merge_into; NULL: they must not
     * (result_expect_files sets NULL) */
    optout_stats_policy *policy;
    size_t count;
    char names[OPTOUT_MSG_MAX_FILES][OPTOUT_MSG_PATH_MAX];
};

/* How a --sample run writes its filter outputs: none (estimates only, the default), or under
 * sample/ (--sample-shards). */
enum result_sample { RESULT_SAMPLE_NONE = 0, RESULT_SAMPLE_ESTIMATES = 1, RESULT_SAMPLE_SHARDS = 2 };

/* Fills x from the table for a task of `kind` whose TASK message carried output_name `o`, in the
 * run's output mode (with_removed: --removed; output_tags: --output tags; sample: enum
 * result_sample; survey: a historical run's rank maps also stage the survey's part); synthetic:
 * benchmark tasks, which stage nothing. 0, or -1 when a name would not fit. */
int result_expect_files(optout_task_kind kind, const char *o, int with_removed, int output_tags, int sample,
                        int survey, int synthetic, size_t agent_count, struct result_expect *x);

/* 0 when the successful result m (its "f" and "s") is what x expects, its files checked under the
 * staging directory staging_fd; -1 with err saying what is wrong. The statistics are checked last,
 * as result_check_stats() does with merge_into: on 0, a filter result's are added into it. */
int result_check(int staging_fd, const struct result_expect *x, const optout_msg *m, optout_stats *merge_into,
                 char *err, size_t errlen);

/* Opens the directory holding the relative path `name` under dir_fd, following no symbolic link on
 * the way (each component O_NOFOLLOW). Returns its descriptor with *base pointing at name's last
 * component, or -1 with errno (ELOOP or ENOTDIR when a component is a link or no directory). */
int result_open_parent(int dir_fd, const char *name, const char **base);

/* 0 when `base` in parent_fd is a regular file (not a link) of `size` bytes; -1 with errno (ENOENT
 * when absent) and why filled. */
int result_check_file(int parent_fd, const char *base, uint64_t size, char *why, size_t cap);

/* 0 when `stats` are statistics a task of this kind sends and the broker can merge; -1. Filter
 * statistics are checked by adding them into merge_into (all at once or not at all: the checks
 * are the merge's own), or into a scratch copy when it is NULL (a 400 KB allocation); with policy
 * (a historical run) they must carry the policies', added into *policy, or with merge_into NULL
 * checked against its configuration in a scratch copy (2 MB). */
int result_check_stats(optout_task_kind kind, size_t agent_count, const void *stats, size_t len,
                       optout_stats *merge_into, optout_stats_policy *policy);

/* An array of exactly n unsigned counters (include/optout/msg.h) into values. 0, or -1. */
int result_read_counters(const void *buf, size_t len, size_t n, uint64_t *values);

/* 0 when no input is inside a directory of the run directory `dir` that the filter publishes in
 * (shards/, removed/, tags/, sample/: the table's), compared by identity (files.h); -1 with err
 * naming the input: its own output would replace it. */
int result_inputs_outside_outputs(const char *dir, const optout_inputs *inputs, char *err, size_t errlen);

#endif
