/* task_filter.c — a FILTER task on a worker (worker/task_filter.h). */
#include "task_filter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "optout/agents.h"
#include "optout/filter.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/util.h"
#include "optout/verdicts.h"

/* Local paths: a root's path plus a relative path plus "shards/" and an output name. */
#define LOCAL_PATH_MAX (3 * OPTOUT_MSG_PATH_MAX)

/* snprintf that reports truncation: 0, or -1 when the text did not fit (it is cut). Going through
 * vsnprintf also keeps -Wformat-truncation quiet about paths that cannot be that long. */
__attribute__((format(printf, 3, 4))) static int fmt(char *dst, size_t cap, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(dst, cap, format, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

struct task_cache {
    void *config; /* the encoded run configuration these were built for */
    size_t config_len;
    optout_agents *agents;
    optout_verdicts *verdicts;
};

void task_cache_free(task_cache *c) {
    if (!c) return;
    optout_verdicts_free(c->verdicts);
    optout_agents_free(c->agents);
    free(c->config);
    free(c);
}

int worker_rel_path_ok(const char *rel) {
    if (rel[0] == '/') return 0;
    for (const char *p = rel; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 0;
        if (!end) break;
        p = end + 1;
    }
    return 1;
}

int worker_map_path(const worker_env *env, const optout_msg_path *path, char *out, size_t outlen, char *err,
                    size_t errlen) {
    const worker_root *root = NULL;
    for (size_t i = 0; i < env->root_count && !root; i++)
        if (strcmp(env->roots[i].name, path->root) == 0) root = &env->roots[i];
    if (!root) {
        fmt(err, errlen, "unknown root '%s' for %s (give it with --root %s=PATH)", path->root, path->rel,
                 path->root);
        return -1;
    }
    if (!worker_rel_path_ok(path->rel)) {
        fmt(err, errlen, "path %s:%s leaves its root (absolute or with a '..' component)", path->root,
                 path->rel);
        return -1;
    }
    const char *rel = path->rel;
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    if (strcmp(rel, ".") == 0) rel = "";
    size_t rootlen = strlen(root->path);
    while (rootlen > 1 && root->path[rootlen - 1] == '/') rootlen--;
    if ((rel[0] ? fmt(out, outlen, "%.*s/%s", (int)rootlen, root->path, rel)
                : fmt(out, outlen, "%.*s", (int)rootlen, root->path)) != 0) {
        fmt(err, errlen, "path %s:%s is too long", path->root, path->rel);
        return -1;
    }
    return 0;
}

static const char *field(const char *f) { return f[0] ? f : NULL; }

/* The agent list and verdict source for `cfg`, from the cache when the configuration is the same. */
static int prepare(const worker_env *env, task_cache **cachep, const optout_msg *task, const optout_run_config *cfg,
                   char *err, size_t errlen) {
    task_cache *c = *cachep;
    if (c && c->config_len == task->config_len && memcmp(c->config, task->config, task->config_len) == 0) return 0;
    task_cache_free(c);
    *cachep = NULL;
    if (!(c = calloc(1, sizeof *c)) || !(c->config = malloc(task->config_len ? task->config_len : 1))) {
        free(c);
        fmt(err, errlen, "out of memory");
        return -1;
    }
    memcpy(c->config, task->config, task->config_len);
    c->config_len = task->config_len;
    if (cfg->agent_count == 0) {
        fmt(err, errlen, "the run configuration lists no agents");
        goto fail;
    }
    if (!(c->agents = optout_agents_new())) {
        fmt(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->agent_count; i++)
        if (optout_agents_add(c->agents, cfg->agents[i], strlen(cfg->agents[i])) != 0) {
            fmt(err, errlen, "agent '%s' of the run configuration: %s", cfg->agents[i], strerror(errno));
            goto fail;
        }
    char verr[1024];
    if (cfg->robots_dir.root[0]) {
        char dir[LOCAL_PATH_MAX];
        if (worker_map_path(env, &cfg->robots_dir, dir, sizeof dir, err, errlen) != 0) goto fail;
        c->verdicts = optout_verdicts_open_dir(dir, c->agents, cfg->mode, 0, verr, sizeof verr);
    } else if (cfg->redis[0]) {
        c->verdicts = optout_verdicts_open_redis(cfg->redis, env->redis_password, cfg->redis_prefix, c->agents,
                                                 cfg->mode, 0, verr, sizeof verr);
    } else {
        fmt(err, errlen, "the run configuration names no verdict source (robots directory or Redis)");
        goto fail;
    }
    if (!c->verdicts) {
        fmt(err, errlen, "%s", verr);
        goto fail;
    }
    *cachep = c;
    return 0;
fail:
    task_cache_free(c);
    return -1;
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + (int64_t)st->st_mtim.tv_nsec;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills one staged file's entry: name relative to the staging directory, size, SHA-256. */
static int describe(const char *staging, const char *name, optout_msg_file *f, char *err, size_t errlen) {
    char path[LOCAL_PATH_MAX];
    if (fmt(path, sizeof path, "%s/%s", staging, name) != 0) {
        fmt(err, errlen, "%s/%s: path too long", staging, name);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || optout_sha256_file(path, f->sha256) != 0) {
        fmt(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fmt(f->name, sizeof f->name, "%s", name);
    f->size = (uint64_t)st.st_size;
    return 0;
}

/* The work proper; -1 with err on failure. */
static int filter_task(const worker_env *env, task_cache **cachep, const optout_msg *t, optout_msg *res,
                       void **stats_buf, const char *ctx, char *err, size_t errlen) {
    struct paths {
        char input[LOCAL_PATH_MAX], staging[LOCAL_PATH_MAX], out[LOCAL_PATH_MAX], removed[LOCAL_PATH_MAX];
        char out_name[OPTOUT_MSG_PATH_MAX], removed_name[OPTOUT_MSG_PATH_MAX];
    } *p = NULL;
    optout_run_config *cfg = NULL;
    optout_stats *stats = NULL;
    int rc = -1;
    if (!(p = malloc(sizeof *p)) || !(cfg = malloc(sizeof *cfg)) || !(stats = malloc(sizeof *stats))) {
        fmt(err, errlen, "out of memory");
        goto done;
    }
    if (worker_map_path(env, &t->input, p->input, sizeof p->input, err, errlen) != 0 ||
        worker_map_path(env, &t->staging, p->staging, sizeof p->staging, err, errlen) != 0)
        goto done;
    if (!t->output_name[0] || !worker_rel_path_ok(t->output_name) ||
        t->output_name[strlen(t->output_name) - 1] == '/') {
        fmt(err, errlen, "bad output name '%s' (empty, absolute or with a '..' component)", t->output_name);
        goto done;
    }
    if (fmt(p->out_name, sizeof p->out_name, "shards/%s", t->output_name) != 0 ||
        fmt(p->removed_name, sizeof p->removed_name, "removed/%s", t->output_name) != 0 ||
        fmt(p->out, sizeof p->out, "%s/%s", p->staging, p->out_name) != 0 ||
        fmt(p->removed, sizeof p->removed, "%s/%s", p->staging, p->removed_name) != 0) {
        fmt(err, errlen, "output name '%s' is too long", t->output_name);
        goto done;
    }

    /* Fault injection for the fleet tests: a worker that dies on one particular task every time
     * (the broker must make it a poison task, not retry it forever). */
    const char *crash_on = getenv("OPTOUT_FAULT_CRASH_ON");
    if (crash_on && *crash_on && strstr(p->input, crash_on)) abort();

    struct stat st;
    if (stat(p->input, &st) != 0) {
        fmt(err, errlen, "%s: cannot stat: %s", p->input, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        fmt(err, errlen, "%s: is a directory", p->input);
        goto done;
    }
    if ((uint64_t)st.st_size != t->input_size || mtime_ns(&st) != t->input_mtime_ns) {
        fmt(err, errlen,
                 "%s: input changed since planning (size %llu, mtime_ns %lld; planned size %llu, mtime_ns %lld)",
                 p->input, (unsigned long long)st.st_size, (long long)mtime_ns(&st),
                 (unsigned long long)t->input_size, (long long)t->input_mtime_ns);
        goto done;
    }

    char derr[OPTOUT_MSG_ERR_LEN];
    if (optout_run_config_decode(t->config, t->config_len, cfg, derr) != 0) {
        fmt(err, errlen, "bad run configuration: %s", derr);
        goto done;
    }
    if (prepare(env, cachep, t, cfg, err, errlen) != 0) goto done;
    task_cache *c = *cachep;

    if (optout_make_parent_dirs(p->out) != 0 || (t->with_removed && optout_make_parent_dirs(p->removed) != 0)) {
        fmt(err, errlen, "cannot create the directories of %s: %s", p->out, strerror(errno));
        goto done;
    }
    optout_filter_config fc = {
        .agents = c->agents,
        .verdicts = c->verdicts,
        .host_key = cfg->host_key,
        .unreachable_disallows = cfg->unreachable_disallows,
        .url_field = field(cfg->url_field),
        .language_field = field(cfg->language_field),
        .tokens_field = field(cfg->tokens_field),
        .dump_field = field(cfg->dump_field),
        .date_field = field(cfg->date_field),
        .text_field = field(cfg->text_field),
        .max_line = (size_t)cfg->max_line,
        .level = (int)cfg->level,
    };
    optout_stats_init(stats);
    double start = now_s();
    if (optout_filter_shard(&fc, p->input, p->out, optout_shard_format_of_name(t->output_name),
                            t->with_removed ? p->removed : NULL, stats, err, errlen) != 0)
        goto done;
    res->file_count = 0;
    if (describe(p->staging, p->out_name, &res->files[res->file_count++], err, errlen) != 0) goto done;
    if (t->with_removed && describe(p->staging, p->removed_name, &res->files[res->file_count++], err, errlen) != 0)
        goto done;
    size_t agent_count = optout_agents_count(c->agents);
    if (optout_stats_encode(stats, agent_count, stats_buf, &res->stats_len) != 0) {
        fmt(err, errlen, "cannot encode the statistics of %s", p->input);
        goto done;
    }
    res->stats = *stats_buf;
    optout_log(LOG_INFO, "%s: done in %.2f s: %llu documents, %llu removed; %s (%llu bytes)", ctx, now_s() - start,
               (unsigned long long)stats->total.docs_in, (unsigned long long)stats->total.docs_removed,
               res->files[0].name, (unsigned long long)res->files[0].size);
    rc = 0;
done:
    free(stats);
    free(cfg);
    free(p);
    return rc;
}

void task_run(const worker_env *env, task_cache **cache, const optout_msg *task, optout_msg *result,
              void **stats_buf) {
    memset(result, 0, sizeof *result);
    *stats_buf = NULL;
    result->type = OPTOUT_MSG_RESULT;
    result->epoch = task->epoch;
    result->task = task->task;
    result->attempt = task->attempt;
    char ctx[OPTOUT_MSG_NAME_MAX + OPTOUT_MSG_PATH_MAX + 64];
    fmt(ctx, sizeof ctx, "task %llu (attempt %llu.%llu) %s:%s", (unsigned long long)task->task,
             (unsigned long long)task->epoch, (unsigned long long)task->attempt, task->input.root, task->input.rel);
    char err[OPTOUT_MSG_ERROR_MAX];
    int rc;
    if (task->kind != OPTOUT_TASK_FILTER) {
        fmt(err, sizeof err, "unknown task kind %d", (int)task->kind);
        rc = -1;
    } else {
        optout_log(LOG_INFO, "%s: filtering into %s:%s", ctx, task->staging.root, task->staging.rel);
        rc = filter_task(env, cache, task, result, stats_buf, ctx, err, sizeof err);
    }
    if (rc == 0) {
        result->ok = 1;
        return;
    }
    optout_log(LOG_WARNING, "%s: failed: %s", ctx, err);
    free(*stats_buf);
    *stats_buf = NULL;
    result->ok = 0;
    result->file_count = 0;
    result->stats = NULL;
    result->stats_len = 0;
    fmt(result->error, sizeof result->error, "%s", err);
    /* A failed task may mean a broken source (Redis gone, a store being reloaded): rebuild it. */
    task_cache_free(*cache);
    *cache = NULL;
}
