/* task_history.c — a HISTORY task on a worker (worker/task.h): one robotstxt WARC file read
 * (history_scan.h) for the hosts of the run's history host list, into the history archive part
 * STAGING/<output_name>/history/ (history_archive.h). The part keeps every capture apart, so that
 * the broker's merge of all parts is what one `optout history` over every file builds. The part
 * is published by the broker like any output. A later pass (span_start > 0: redirect targets
 * that no earlier pass kept, the list of the run configuration then being that pass's) keeps
 * those hosts' captures only, and neither counts the file nor records it as a source: the first
 * pass did, as in optout history. A file read over HTTP(S) is read while holding one of the
 * node's download slots (dlslots.h), when the worker has a slots directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/ccsource.h"
#include "optout/dlslots.h"
#include "optout/history_archive.h"
#include "optout/history_scan.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "task.h"

int task_history(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen) {
    const optout_run_config *cfg = job->cfg;
    const optout_msg *t = job->msg;
    if (!cfg->history_hosts.root[0]) {
        task_fmt(err, errlen, "a history task in a run without a history host list");
        return -1;
    }
    /* the configuration names the list of the pass running (the passes run one after another) */
    if (t->span_count == 0 || t->span_count > 1 + OPTOUT_HISTORY_MAX_HOPS || t->span_start != t->span_count - 1) {
        task_fmt(err, errlen, "bad history task: pass %llu of %llu", (unsigned long long)t->span_start + 1,
                 (unsigned long long)t->span_count);
        return -1;
    }
    char hosts_path[TASK_PATH_MAX], part[TASK_PATH_MAX];
    if (worker_map_path(job->env, &cfg->history_hosts, hosts_path, sizeof hosts_path, err, errlen) != 0) return -1;
    /* the part's directory STAGING/<o>, created (its history/ is the writer's to make) */
    if (task_staged_path(job, t->output_name, part, sizeof part, err, errlen) != 0) return -1;
    optout_hostlist *list = optout_hostlist_read(hosts_path, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, errlen);
    if (!list) return -1;
    optout_history_scan st = {0};
    int rc = -1, slot = -1;
    if (!(st.wanted = optout_strmap_new())) {
        task_fmt(err, errlen, "out of memory");
        goto done;
    }
    const char *const *hosts = optout_hostlist_hosts(list);
    for (size_t i = 0; i < optout_hostlist_count(list); i++)
        if (optout_history_scan_put(st.wanted, hosts[i], strlen(hosts[i])) != 0) {
            task_fmt(err, errlen, "out of memory");
            goto done;
        }
    if (!(st.w = optout_history_writer_new(part, 0, err, errlen))) goto done;
    optout_history_writer_apart(st.w);
    st.first_pass = t->span_start == 0;
    optout_cc_stream_options so = {.retries = cfg->fetch_retries};
    if (optout_cc_is_url(job->input) && job->env->download_dir) {
        unsigned k = 0;
        if ((slot = optout_dlslots_take(job->env->download_dir, job->env->download_slots, NULL, &k, err, errlen)) < 0)
            goto done;
        optout_log(LOG_DEBUG, "%s: download slot %u of %u", job->ctx, k, job->env->download_slots);
    }
    int r = optout_history_scan_file(&st, job->input, &so, err, errlen);
    optout_dlslots_release(slot); /* the download is over: the rest is local */
    slot = -1;
    if (r != 0) {
        if (r > 0) task_fmt(err, errlen, "%s: reading stopped before the end", job->input);
        goto done;
    }
    int cr = optout_history_writer_commit(st.w, NULL, NULL, err, errlen);
    st.w = NULL;
    if (cr != 0) goto done;
    if (task_add_history_part(job, res, err, errlen) != 0) goto done;
    uint64_t bad = 0, counters[OPTOUT_HISTORY_COUNTERS];
    for (int k = 0; k < OPTOUT_WARC_BAD_COUNT; k++) bad += st.bad[k];
    counters[OPTOUT_HISTORY_RECORDS] = st.records;
    counters[OPTOUT_HISTORY_RESPONSES] = st.responses;
    counters[OPTOUT_HISTORY_CAPTURES] = st.captures;
    counters[OPTOUT_HISTORY_BAD] = bad;
    optout_log(LOG_INFO, "%s: %llu records, %llu captures kept, %llu bad records", job->ctx,
               (unsigned long long)st.records, (unsigned long long)st.captures, (unsigned long long)bad);
    rc = task_stats_counters(counters, OPTOUT_HISTORY_COUNTERS, res, stats_buf);
done:
    optout_dlslots_release(slot);
    if (st.w) optout_history_writer_abort(st.w);
    optout_strmap_free(st.wanted, NULL);
    optout_hostlist_free(list);
    return rc;
}
