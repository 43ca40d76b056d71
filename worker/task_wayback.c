/* task_wayback.c — a WAYBACK task on a worker (worker/task.h): one block of the run's Wayback host
 * list asked of the Wayback Machine (wayback.h) into the history archive part
 * STAGING/<output_name>/history/, published by the broker like a HISTORY task's part and merged
 * with them into DIR/history/. The broker leases one such task at a time in the whole run, so the
 * rate, the backoff and the single connection of wayback.h hold for the fleet as for one command.
 * The block's resumable state (wayback.h's blocks and bodies) lives in the attempt's staging
 * directory: the task is the unit a killed run does again, and its journal record what it keeps.
 * The part also holds the block's file (WAYBACK_PART_BLOCK): when a restarted run asks again for a
 * published block whose host groups answered what is not CDX JSON, the task finds that part where
 * the broker published it (the run directory, which holds the host list too: msg.h) and goes on
 * from it, asking only for those groups, as optout history --wayback does from DIR/.wayback/. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/history_archive.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "optout/util.h"
#include "optout/wayback.h"
#include "task.h"

#define WAYBACK_STATE ".wayback-state" /* under the attempt's staging directory; never published */
#define WAYBACK_PART_BLOCK "wayback-block.tsv" /* in the part, beside history/ (broker/result.c's table) */

int task_wayback(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen) {
    const optout_run_config *cfg = job->cfg;
    const optout_msg *t = job->msg;
    if (!cfg->wayback_base[0] || !cfg->wayback_rate_micro || cfg->wayback_from > cfg->wayback_to) {
        task_fmt(err, errlen, "a Wayback task in a run without the Wayback's settings");
        return -1;
    }
    char part[TASK_PATH_MAX], state[TASK_PATH_MAX + 32];
    if (task_staged_path(job, t->output_name, part, sizeof part, err, errlen) != 0) return -1;
    if (task_fmt(state, sizeof state, "%s/" WAYBACK_STATE, job->staging) != 0) {
        task_fmt(err, errlen, "staging path too long");
        return -1;
    }
    /* the block as an earlier attempt published it, if one did: <run directory>/<output_name>/ */
    char prev[TASK_PATH_MAX], prev_block[TASK_PATH_MAX + 32], own_block[TASK_PATH_MAX + 32];
    const char *slash = strrchr(job->input, '/');
    if (!slash || task_fmt(prev, sizeof prev, "%.*s/%s", (int)(slash - job->input), job->input, t->output_name) != 0 ||
        task_fmt(prev_block, sizeof prev_block, "%s/" WAYBACK_PART_BLOCK, prev) != 0 ||
        task_fmt(own_block, sizeof own_block, "%s/" WAYBACK_PART_BLOCK, part) != 0) {
        task_fmt(err, errlen, "%s: the block's earlier part: path too long", job->input);
        return -1;
    }
    if (optout_wayback_seed(state, 0, prev_block, prev, err, errlen) != 0) return -1;
    optout_hostlist *list = optout_hostlist_read(job->input, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, errlen);
    if (!list) return -1;
    const char **sorted = NULL;
    size_t first = 0, count = 0;
    size_t blocks = optout_wayback_block(optout_hostlist_hosts(list), optout_hostlist_count(list),
                                         (size_t)t->span_count, (size_t)t->span_start, &sorted, &first, &count, NULL);
    optout_wayback_options o = {
        .base = cfg->wayback_base,
        .from_year = (int)cfg->wayback_from,
        .to_year = (int)cfg->wayback_to,
        .rate = (double)cfg->wayback_rate_micro / 1e6,
        .state_dir = state,
        .block_hosts = SIZE_MAX, /* the task is the block */
        .retries = cfg->fetch_retries,
        .quiet = 1, /* the broker prints the estimate and the progress of the stage */
    };
    optout_wayback_stats ws;
    memset(&ws, 0, sizeof ws);
    int rc = -1;
    optout_history_writer *w = optout_history_writer_new(part, 0, err, errlen);
    if (!w) goto done;
    optout_history_writer_apart(w);
    int r = optout_wayback_collect(sorted + first, count, &o, w, &ws, err, errlen);
    if (r != 0) {
        if (r > 0) task_fmt(err, errlen, "the Wayback queries were stopped");
        goto done;
    }
    if (count && optout_wayback_record(w, &o, &ws, err, errlen) != 0) goto done; /* the provenance line */
    int cr = optout_history_writer_commit(w, NULL, NULL, err, errlen);
    w = NULL;
    if (cr != 0 || optout_wayback_copy_block(state, 0, own_block, err, errlen) != 0) goto done;
    optout_remove_tree(state); /* the block is in the part now */
    if (task_add_history_part(job, res, err, errlen) != 0) goto done;
    char name[TASK_PATH_MAX];
    if (task_fmt(name, sizeof name, "%s/" WAYBACK_PART_BLOCK, t->output_name) != 0 ||
        task_add_file(job, res, name, err, errlen) != 0)
        goto done;
    uint64_t c[OPTOUT_WAYBACK_COUNTERS];
    c[OPTOUT_WAYBACK_HOSTS] = count;
    c[OPTOUT_WAYBACK_PAGES] = ws.queries;
    c[OPTOUT_WAYBACK_REQUESTS] = ws.requests;
    c[OPTOUT_WAYBACK_ROWS] = ws.rows_recorded;
    c[OPTOUT_WAYBACK_CAPTURES] = ws.captures;
    c[OPTOUT_WAYBACK_FAILED] = ws.hosts_failed;
    c[OPTOUT_WAYBACK_BODIES] = ws.bodies_fetched;
    c[OPTOUT_WAYBACK_FIRST_QUERY] = ws.query_first > 0 ? (uint64_t)ws.query_first : 0;
    c[OPTOUT_WAYBACK_LAST_QUERY] = ws.query_last > 0 ? (uint64_t)ws.query_last : 0;
    optout_log(LOG_INFO, "%s: block %" PRIu64 " of %zu: %zu hosts, %" PRIu64 " requests, %" PRIu64 " captures kept, %"
               PRIu64 " hosts failed", job->ctx, t->span_start, blocks, count, ws.requests, ws.captures, ws.hosts_failed);
    rc = task_stats_counters(c, OPTOUT_WAYBACK_COUNTERS, res, stats_buf);
done:
    if (w) optout_history_writer_abort(w);
    free(sorted);
    optout_hostlist_free(list);
    return rc;
}
