/* task_fetch.c — a FETCH task on a worker (worker/task.h): the hosts of the plan in this task's
 * partition fetched (include/optout/fetch.h) into the archive pack STAGING/<name>.tsv +
 * .bodies.zst (include/optout/archive.h). The pack is published by the broker like any output,
 * so a host's record exists once, from one attempt. */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/archive.h"
#include "optout/fetch.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "optout/rank.h"
#include "optout/memory.h"
#include "task.h"

struct fetch_sink {
    optout_archive_writer *pack;
    uint64_t counters[OPTOUT_FETCH_COUNTERS];
};

static int record(const optout_fetch_result *r, void *arg, char *reason, size_t reason_len) {
    struct fetch_sink *s = arg;
    if (optout_archive_append(s->pack, r, reason, reason_len) != 0) return -1;
    if ((unsigned)r->outcome < OPTOUT_OUTCOME_COUNT) s->counters[r->outcome]++;
    uint64_t at = r->fetched_at > 0 ? (uint64_t)r->fetched_at : 0;
    uint64_t *first = &s->counters[OPTOUT_FETCH_FIRST_TIME], *last = &s->counters[OPTOUT_FETCH_LAST_TIME];
    if (at && (*first == 0 || at < *first)) *first = at;
    if (at > *last) *last = at;
    return 0;
}

/* A fetch task fetches the hosts of its partition of the plan's host list (hostlist.h). */
struct partition {
    unsigned part, parts;
};

static int in_partition(const char *key, size_t len, void *arg) {
    const struct partition *p = arg;
    return optout_rank_partition(key, len, p->parts) == p->part;
}

int task_fetch(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen) {
    const optout_run_config *cfg = job->cfg;
    const optout_msg *t = job->msg;
    if (t->span_count == 0 || t->span_count > UINT32_MAX || t->span_start >= t->span_count) {
        task_fmt(err, errlen, "bad fetch task: part %llu of %llu", (unsigned long long)t->span_start,
                 (unsigned long long)t->span_count);
        return -1;
    }
    char tsv_name[OPTOUT_MSG_PATH_MAX], bodies_name[OPTOUT_MSG_PATH_MAX], tsv[TASK_PATH_MAX];
    if (task_fmt(tsv_name, sizeof tsv_name, "%s.tsv", t->output_name) != 0 ||
        task_fmt(bodies_name, sizeof bodies_name, "%s.bodies.zst", t->output_name) != 0) {
        task_fmt(err, errlen, "output name '%s' is too long", t->output_name);
        return -1;
    }
    if (task_staged_path(job, tsv_name, tsv, sizeof tsv, err, errlen) != 0) return -1;
    struct partition part = {(unsigned)t->span_start, (unsigned)t->span_count};
    optout_hostlist *list = optout_hostlist_read(job->input, cfg->host_key, in_partition, &part, err, errlen);
    if (!list) return -1;
    const char *const *hosts = optout_hostlist_hosts(list);
    size_t count = optout_hostlist_count(list);
    /* the pack: directory and name of STAGING/<output_name> */
    char dir[TASK_PATH_MAX], name[TASK_PATH_MAX];
    task_fmt(dir, sizeof dir, "%s", tsv);
    task_fmt(name, sizeof name, "%s", t->output_name);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    struct fetch_sink sink = {0};
    int rc = -1;
    sink.pack = optout_archive_create(dir, basename(name), 0, err, errlen);
    if (!sink.pack) goto done;
    optout_fetch_options fo = {
        .user_agent = cfg->fetch_user_agent[0] ? cfg->fetch_user_agent : NULL,
        .concurrency = cfg->fetch_concurrency,
        .scheme = (optout_fetch_scheme)cfg->fetch_scheme,
        .connect_timeout_ms = (long)cfg->fetch_connect_timeout_ms,
        .timeout_ms = (long)cfg->fetch_timeout_ms,
        .retries = cfg->fetch_retries,
        .connect_to = cfg->fetch_connect_to[0] ? cfg->fetch_connect_to : NULL,
        .allow_private = cfg->fetch_allow_private,
    };
    if (job->env->slot_memory) { /* memory.h: OPTOUT_MEM_TRANSFER a transfer in flight */
        uint64_t fit = job->env->slot_memory > OPTOUT_MEM_SLOT_FIXED
                           ? (job->env->slot_memory - OPTOUT_MEM_SLOT_FIXED) / OPTOUT_MEM_TRANSFER : 1;
        unsigned want = fo.concurrency ? fo.concurrency : 256;
        if (fit < want) {
            fo.concurrency = fit ? (unsigned)fit : 1;
            optout_log(LOG_INFO, "%s: --max-memory: %u transfers in flight instead of %u", job->ctx, fo.concurrency, want);
        }
    }
    int fr = optout_fetch_hosts(&fo, hosts, count, record, &sink, err, errlen);
    optout_archive_writer *pack = sink.pack;
    sink.pack = NULL;
    char cerr[512];
    if (optout_archive_close(pack, 1, cerr, sizeof cerr) != 0 && fr == 0) {
        task_fmt(err, errlen, "%s", cerr);
        goto done;
    }
    if (fr != 0) {
        if (fr > 0) task_fmt(err, errlen, "fetch stopped before the end");
        goto done;
    }
    if (task_add_file(job, res, tsv_name, err, errlen) != 0 || task_add_file(job, res, bodies_name, err, errlen) != 0)
        goto done;
    optout_log(LOG_INFO, "%s: %zu hosts fetched (%llu ok)", job->ctx, count,
               (unsigned long long)sink.counters[OPTOUT_OUTCOME_OK]);
    rc = task_stats_counters(sink.counters, OPTOUT_FETCH_COUNTERS, res, stats_buf);
done:
    if (sink.pack) optout_archive_close(sink.pack, 0, cerr, sizeof cerr);
    optout_hostlist_free(list);
    return rc;
}
