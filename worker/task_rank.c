/* task_rank.c — RANK_MAP and RANK_REDUCE tasks on a worker (worker/task.h, include/optout/rank.h):
 * a shard counted per host key into STAGING/<name>.bin + .idx (and, for a run deciding by
 * robots.txt as it was, its survey per host and crawl into STAGING/<name>.survey.tsv, survey.h);
 * one partition of every map output summed into STAGING/<name>. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/log.h"
#include "optout/memory.h"
#include "optout/history.h"
#include "optout/rank.h"
#include "optout/survey.h"
#include "task.h"

int task_rank_map(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen) {
    const optout_run_config *cfg = job->cfg;
    char bin_name[OPTOUT_MSG_PATH_MAX], idx_name[OPTOUT_MSG_PATH_MAX], bin[TASK_PATH_MAX], idx[TASK_PATH_MAX];
    char survey_name[OPTOUT_MSG_PATH_MAX], survey_path[TASK_PATH_MAX];
    if (task_fmt(bin_name, sizeof bin_name, "%s.bin", job->msg->output_name) != 0 ||
        task_fmt(idx_name, sizeof idx_name, "%s.idx", job->msg->output_name) != 0 ||
        task_fmt(survey_name, sizeof survey_name, "%s.survey.tsv", job->msg->output_name) != 0) {
        task_fmt(err, errlen, "output name '%s' is too long", job->msg->output_name);
        return -1;
    }
    /* a run deciding by robots.txt as it was (or keeping the survey's hosts) surveys as it ranks */
    int surveying = cfg->survey;
    if (task_staged_path(job, bin_name, bin, sizeof bin, err, errlen) != 0 ||
        task_staged_path(job, idx_name, idx, sizeof idx, err, errlen) != 0 ||
        (surveying && task_staged_path(job, survey_name, survey_path, sizeof survey_path, err, errlen) != 0))
        return -1;
    if (cfg->rank_partitions < 1 || cfg->rank_partitions > OPTOUT_RANK_PARTITIONS_MAX) {
        task_fmt(err, errlen, "bad partition count %u in the run configuration", cfg->rank_partitions);
        return -1;
    }
    optout_rank_map_config mc = {
        .host_key = cfg->host_key,
        .url_field = task_field(cfg->url_field),
        .language_field = task_field(cfg->language_field),
        .tokens_field = task_field(cfg->tokens_field),
        .text_field = task_field(cfg->text_field),
        .max_line = (size_t)cfg->max_line,
        .partitions = cfg->rank_partitions,
        .count_bytes = cfg->rank_metric == OPTOUT_RANK_BYTES,
        /* the slot may still hold compiled sets of filter tasks: what they leave (memory.h) */
        .max_memory = optout_memory_parquet_share(job->env->slot_memory,
                                                  OPTOUT_MEM_SLOT_FIXED + job->env->max_cached * OPTOUT_MEM_COMPILED),
        .dump_field = task_field(cfg->dump_field),
    };
    if (surveying && !(mc.survey = optout_survey_new())) {
        task_fmt(err, errlen, "out of memory");
        return -1;
    }
    optout_rank_map_stats st = {0};
    int rc = optout_rank_map(&mc, job->input, bin, idx, &st, err, errlen);
    if (rc == 0 && surveying) rc = optout_survey_write(mc.survey, survey_path, err, errlen);
    optout_survey_free(mc.survey);
    if (rc != 0) return -1;
    if (task_add_file(job, res, bin_name, err, errlen) != 0 || task_add_file(job, res, idx_name, err, errlen) != 0 ||
        (surveying && task_add_file(job, res, survey_name, err, errlen) != 0))
        return -1;
    uint64_t counters[OPTOUT_RANK_MAP_COUNTERS] = {
        [OPTOUT_RANK_MAP_DOCS] = st.docs,
        [OPTOUT_RANK_MAP_HOSTS] = st.hosts,
        [OPTOUT_RANK_MAP_BAD_JSON] = st.bad_json,
        [OPTOUT_RANK_MAP_NO_URL] = st.no_url,
        [OPTOUT_RANK_MAP_BAD_URL] = st.bad_url,
        [OPTOUT_RANK_MAP_NO_HOST] = st.no_host,
        [OPTOUT_RANK_MAP_LINE_TOO_LONG] = st.line_too_long,
    };
    optout_log(LOG_INFO, "%s: %llu documents, %llu hosts", job->ctx, (unsigned long long)st.docs,
               (unsigned long long)st.hosts);
    return task_stats_counters(counters, OPTOUT_RANK_MAP_COUNTERS, res, stats_buf);
}

int task_rank_reduce(const task_job *job, optout_msg *res, void **stats_buf, char *err, size_t errlen) {
    const optout_run_config *cfg = job->cfg;
    const optout_msg *t = job->msg;
    if (t->span_count == 0 || t->span_count > ((size_t)1 << 24) || t->span_start >= OPTOUT_RANK_PARTITIONS_MAX ||
        t->span_start >= cfg->rank_partitions) {
        task_fmt(err, errlen, "bad reduce task: partition %llu of %u over %llu map outputs",
                 (unsigned long long)t->span_start, cfg->rank_partitions, (unsigned long long)t->span_count);
        return -1;
    }
    size_t count = (size_t)t->span_count;
    char out[TASK_PATH_MAX];
    if (task_staged_path(job, t->output_name, out, sizeof out, err, errlen) != 0) return -1;
    char **names = calloc(2 * count, sizeof *names);
    long hosts = -1;
    if (!names) {
        task_fmt(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        size_t cap = strlen(job->input) + 32;
        names[i] = malloc(cap);
        names[count + i] = malloc(cap);
        if (!names[i] || !names[count + i]) {
            task_fmt(err, errlen, "out of memory");
            goto done;
        }
        snprintf(names[i], cap, "%s/%06zu.bin", job->input, i);
        snprintf(names[count + i], cap, "%s/%06zu.idx", job->input, i);
    }
    optout_rank_reduce_config rc = {.metric = (optout_rank_metric)cfg->rank_metric, .top_en = cfg->top_en,
                                    .top_non_en = cfg->top_non_en, .all_hosts = cfg->all_hosts};
    hosts = optout_rank_reduce(&rc, (const char *const *)names, (const char *const *)names + count, count,
                               (unsigned)t->span_start, out, err, errlen);
    if (hosts < 0 || task_add_file(job, res, t->output_name, err, errlen) != 0) {
        hosts = -1;
        goto done;
    }
    uint64_t counters[OPTOUT_RANK_REDUCE_COUNTERS] = {(uint64_t)hosts};
    if (task_stats_counters(counters, OPTOUT_RANK_REDUCE_COUNTERS, res, stats_buf) != 0) hosts = -1;
done:
    for (size_t i = 0; i < 2 * count; i++) free(names[i]);
    free(names);
    return hosts < 0 ? -1 : 0;
}
