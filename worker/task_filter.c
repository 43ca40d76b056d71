/* task_filter.c — a FILTER task on a worker (worker/task.h): the shard into STAGING/shards/<name>
 * and, when asked, STAGING/removed/<name>, decided by the run's verdict source; in tag mode only
 * STAGING/tags/<name>, the removed documents' tags (include/optout/tags.h). With a history archive
 * in the run configuration, every document is also judged by robots.txt as it was (filter.h's
 * historical mode) and the statistics carry every policy's (stats_policy.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/agents.h"
#include "optout/filter.h"
#include "optout/history.h"
#include "optout/history_archive.h"
#include "optout/log.h"
#include "optout/policy.h"
#include "optout/stats.h"
#include "optout/verdicts.h"
#include "optout/memory.h"
#include "optout/parquet.h"
#include "task.h"

struct task_cache {
    void *config; /* the encoded run configuration these were built for */
    size_t config_len;
    optout_agents *agents;
    optout_verdicts *verdicts;
    optout_policy policy; /* its overrides and domains are owned here */
    uint64_t parquet_share; /* memory.h: what a Parquet shard's reading may hold (0: no budget) */
    /* robots.txt as it was: the run's history archive, its source view and judge (NULL: none) */
    optout_history_archive *archive;
    optout_history_source source;
    optout_filter_history history;
};

void task_cache_free(task_cache *c) {
    if (!c) return;
    optout_history_judge_free(c->history.judge);
    free(c->history.stats);
    optout_history_archive_close(c->archive);
    optout_verdicts_free(c->verdicts);
    optout_overrides_free((optout_overrides *)c->policy.overrides);
    optout_domains_free((optout_domains *)c->policy.domains);
    optout_agents_free(c->agents);
    free(c->config);
    free(c);
}

/* The run's history archive (its path through the worker's roots), the judge over it and the
 * policies' statistics, checked against the configuration's ranges. 0, or -1 with err. */
static int open_history(const worker_env *env, const optout_run_config *cfg, task_cache *c, char *err, size_t errlen) {
    char dir[TASK_PATH_MAX], herr[1024];
    if (cfg->robots_time >= OPTOUT_ROBOTS_TIME_COUNT || cfg->history_missing > OPTOUT_MISSING_REMOVE ||
        cfg->history_max_age < 0) {
        task_fmt(err, errlen, "the run configuration's robots.txt policy is out of range");
        return -1;
    }
    if (cfg->host_key == OPTOUT_HOSTKEY_NETLOC || cfg->granularity != OPTOUT_GRANULARITY_URL) {
        task_fmt(err, errlen, "the run configuration judges by captures with netloc host keys or host/domain "
                              "granularity, which combine only with today's robots.txt");
        return -1;
    }
    if (worker_map_path(env, &cfg->history, dir, sizeof dir, err, errlen) != 0) return -1;
    if (!(c->archive = optout_history_archive_open(dir, herr, sizeof herr))) {
        task_fmt(err, errlen, "history archive %s: %s", dir, herr);
        return -1;
    }
    c->source = optout_history_archive_source(c->archive);
    c->history.time.policy = (optout_robots_time)cfg->robots_time;
    c->history.time.cutoff = cfg->robots_cutoff;
    c->history.report_cutoff = cfg->report_cutoff;
    c->history.missing = (optout_history_missing)cfg->history_missing;
    c->history.judge = optout_history_judge_new(&c->source, c->agents, cfg->mode, cfg->unreachable_disallows,
                                                cfg->history_max_age, env->max_cached);
    if (!c->history.judge || !(c->history.stats = malloc(sizeof *c->history.stats))) {
        task_fmt(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The agent list and verdict source for `cfg`, from the cache when the configuration is the same. */
static int prepare(const worker_env *env, task_cache **cachep, const optout_msg *task, const optout_run_config *cfg,
                   char *err, size_t errlen) {
    task_cache *c = *cachep;
    if (c && c->config_len == task->config_len && memcmp(c->config, task->config, task->config_len) == 0) return 0;
    task_cache_free(c);
    *cachep = NULL;
    if (!(c = calloc(1, sizeof *c)) || !(c->config = malloc(task->config_len ? task->config_len : 1))) {
        free(c);
        task_fmt(err, errlen, "out of memory");
        return -1;
    }
    memcpy(c->config, task->config, task->config_len);
    c->config_len = task->config_len;
    if (cfg->agent_count == 0) {
        task_fmt(err, errlen, "the run configuration lists no agents");
        goto fail;
    }
    if (!(c->agents = optout_agents_new())) {
        task_fmt(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->agent_count; i++)
        if (optout_agents_add(c->agents, cfg->agents[i], strlen(cfg->agents[i])) != 0) {
            task_fmt(err, errlen, "agent '%s' of the run configuration: %s", cfg->agents[i], strerror(errno));
            goto fail;
        }
    char verr[1024];
    if (cfg->robots_dir.root[0]) {
        char dir[TASK_PATH_MAX];
        if (worker_map_path(env, &cfg->robots_dir, dir, sizeof dir, err, errlen) != 0) goto fail;
        c->verdicts = cfg->robots_archive
                          ? optout_verdicts_open_archive(dir, c->agents, cfg->mode, env->max_cached, verr, sizeof verr)
                          : optout_verdicts_open_dir(dir, c->agents, cfg->mode, env->max_cached, verr, sizeof verr);
    } else if (cfg->redis[0]) {
        c->verdicts = optout_verdicts_open_redis(cfg->redis, env->redis_user, env->redis_password, cfg->redis_prefix,
                                                 c->agents, cfg->mode, env->max_cached, verr, sizeof verr);
    } else {
        task_fmt(err, errlen, "the run configuration names no verdict source (robots directory or Redis)");
        goto fail;
    }
    if (!c->verdicts) {
        task_fmt(err, errlen, "%s", verr);
        goto fail;
    }
    /* policy (policy.h): the override lists and the broker's domain table, read once per configuration */
    c->policy.granularity = (optout_granularity)cfg->granularity;
    c->policy.sample_ppm = cfg->sample_ppm;
    if (cfg->granularity > OPTOUT_GRANULARITY_DOMAIN) {
        task_fmt(err, errlen, "the run configuration has an unknown granularity %u", (unsigned)cfg->granularity);
        goto fail;
    }
    if (cfg->keep_hosts.root[0] || cfg->remove_hosts.root[0]) {
        char keep[TASK_PATH_MAX], remove[TASK_PATH_MAX];
        if ((cfg->keep_hosts.root[0] && worker_map_path(env, &cfg->keep_hosts, keep, sizeof keep, err, errlen) != 0) ||
            (cfg->remove_hosts.root[0] && worker_map_path(env, &cfg->remove_hosts, remove, sizeof remove, err, errlen) != 0))
            goto fail;
        if (!(c->policy.overrides = optout_overrides_load(cfg->keep_hosts.root[0] ? keep : NULL,
                                                          cfg->remove_hosts.root[0] ? remove : NULL, cfg->host_key,
                                                          verr, sizeof verr))) {
            task_fmt(err, errlen, "%s", verr);
            goto fail;
        }
    }
    if (cfg->granularity == OPTOUT_GRANULARITY_DOMAIN) {
        char domains[TASK_PATH_MAX];
        if (!cfg->blocked_domains.root[0]) {
            task_fmt(err, errlen, "domain granularity, but the run configuration names no domain table");
            goto fail;
        }
        if (worker_map_path(env, &cfg->blocked_domains, domains, sizeof domains, err, errlen) != 0) goto fail;
        if (!(c->policy.domains = optout_domains_load(domains, c->agents, verr, sizeof verr))) {
            task_fmt(err, errlen, "%s", verr);
            goto fail;
        }
    }
    if (cfg->history.root[0] && open_history(env, cfg, c, err, errlen) != 0) goto fail;
    if (env->slot_memory) { /* memory.h: what this configuration holds a slot, against its budget */
        uint64_t line = cfg->max_line ? cfg->max_line : OPTOUT_MEM_LINE_DEFAULT;
        uint64_t tables = optout_domains_bytes(c->policy.domains) + optout_overrides_bytes(c->policy.overrides) +
                          ((uint64_t)optout_verdicts_archive_hosts(c->verdicts) +
                           (c->archive ? optout_history_archive_versions(c->archive) : 0)) * OPTOUT_MEM_ARCHIVE_HOST;
        /* JSON Lines written as Parquet: the kept and the removed writer each buffer a row group */
        uint64_t convert = cfg->output_format == 2 ? 2 * (uint64_t)OPTOUT_PQ_GROUP_BYTES : 0;
        /* the history judge keeps compiled sets of its own (the captures'), as many as the verdicts */
        size_t compiled = env->max_cached * (c->archive ? 2 : 1);
        uint64_t need = OPTOUT_MEM_SLOT_FIXED + line + tables + convert + (uint64_t)compiled * OPTOUT_MEM_COMPILED;
        if (need > env->slot_memory) {
            task_fmt(err, errlen,
                     "this run needs about %llu MiB a slot (--max-line %llu MiB, tables %llu MiB, Parquet row groups "
                     "%llu MiB, %zu compiled sets) but --max-memory leaves %llu MiB a slot",
                     (unsigned long long)(need >> 20), (unsigned long long)(line >> 20),
                     (unsigned long long)(tables >> 20), (unsigned long long)(convert >> 20), compiled,
                     (unsigned long long)(env->slot_memory >> 20));
            goto fail;
        }
        c->parquet_share = optout_memory_parquet_share(env->slot_memory, need - line);
    }
    *cachep = c;
    return 0;
fail:
    task_cache_free(c);
    return -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int task_filter(const task_job *job, task_cache **cachep, optout_msg *res, void **stats_buf, char *err,
                size_t errlen) {
    const optout_msg *t = job->msg;
    const optout_run_config *cfg = job->cfg;
    struct paths {
        char out[TASK_PATH_MAX], removed[TASK_PATH_MAX];
        char out_name[OPTOUT_MSG_PATH_MAX], removed_name[OPTOUT_MSG_PATH_MAX];
    } *p = NULL;
    optout_stats *stats = NULL;
    int rc = -1;
    if (!(p = malloc(sizeof *p)) || !(stats = malloc(sizeof *stats))) {
        task_fmt(err, errlen, "out of memory");
        goto done;
    }
    if (cfg->output_tags && t->with_removed) {
        task_fmt(err, errlen, "tag mode writes no removed shard");
        goto done;
    }
    /* a sample writes statistics only, or with sample_shards its outputs under sample/ (msg.h) */
    int outputs = !cfg->sample_ppm || cfg->sample_shards;
    const char *in = cfg->sample_ppm ? OPTOUT_MSG_SAMPLE_PREFIX : "";
    if (task_fmt(p->out_name, sizeof p->out_name, "%s%s/%s", in, cfg->output_tags ? "tags" : "shards", t->output_name) != 0 ||
        task_fmt(p->removed_name, sizeof p->removed_name, "%sremoved/%s", in, t->output_name) != 0) {
        task_fmt(err, errlen, "output name '%s' is too long", t->output_name);
        goto done;
    }
    if (prepare(job->env, cachep, t, cfg, err, errlen) != 0) goto done;
    task_cache *c = *cachep;
    int with_removed = outputs && t->with_removed;
    if ((outputs && task_staged_path(job, p->out_name, p->out, sizeof p->out, err, errlen) != 0) ||
        (with_removed && task_staged_path(job, p->removed_name, p->removed, sizeof p->removed, err, errlen) != 0))
        goto done;
    optout_filter_config fc = {
        .agents = c->agents,
        .verdicts = c->verdicts,
        .host_key = cfg->host_key,
        .unreachable_disallows = cfg->unreachable_disallows,
        .url_field = task_field(cfg->url_field),
        .language_field = task_field(cfg->language_field),
        .tokens_field = task_field(cfg->tokens_field),
        .dump_field = task_field(cfg->dump_field),
        .date_field = task_field(cfg->date_field),
        .text_field = task_field(cfg->text_field),
        .max_line = (size_t)cfg->max_line,
        .level = (int)cfg->level,
        .policy = &c->policy,
        .output_tags = cfg->output_tags,
        .missing_url_keep = cfg->missing_url_keep,
        .parquet_compression = cfg->parquet_compression[0] ? cfg->parquet_compression : NULL,
        .parquet_level = (int)cfg->level,
        .output_format = (int)cfg->output_format,
        .max_memory = c->parquet_share,
        .history = c->history.judge ? &c->history : NULL,
    };
    optout_stats_init(stats);
    if (fc.history)
        optout_stats_policy_init_run(c->history.stats, &c->history.time, c->history.report_cutoff, c->history.missing,
                                     cfg->history_max_age);
    double start = now_s();
    if (optout_filter_shard(&fc, job->input, outputs ? p->out : NULL, optout_shard_format_of_name(t->output_name),
                            with_removed ? p->removed : NULL, stats, err, errlen) != 0)
        goto done;
    if (outputs && task_add_file(job, res, p->out_name, err, errlen) != 0) goto done;
    if (with_removed && task_add_file(job, res, p->removed_name, err, errlen) != 0) goto done;
    size_t agent_count = optout_agents_count(c->agents);
    if (optout_stats_encode_policy(stats, fc.history ? c->history.stats : NULL, agent_count, stats_buf,
                                   &res->stats_len) != 0) {
        task_fmt(err, errlen, "cannot encode the statistics of %s", job->input);
        goto done;
    }
    res->stats = *stats_buf;
    optout_log(LOG_INFO, "%s: done in %.2f s: %llu documents, %llu removed; %s (%llu bytes)", job->ctx,
               now_s() - start, (unsigned long long)stats->total.docs_in, (unsigned long long)stats->total.docs_removed,
               res->files[0].name, (unsigned long long)res->files[0].size);
    rc = 0;
done:
    free(stats);
    free(p);
    return rc;
}
