/* task.c — a task on a worker: decode, map paths, check the input, run the kind, describe the
 * staged files (worker/task.h). */
#include "task.h"

#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "optout/ccsource.h"
#include "optout/history_archive.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/util.h"

int task_fmt(char *dst, size_t cap, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(dst, cap, format, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
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

/* Symbolic links must not lead out of a root either: the deepest existing part of `path`, resolved,
 * must be the root's real path or under it (parts that do not exist yet are plain names: no '..',
 * no links). A dangling link is refused as well. This checks the tree as it is when the task starts;
 * whoever can write into a root while tasks run can still race it (docs/fleet.md, "Security"). */
static int confined(const worker_root *root, const optout_msg_path *p, const char *path, char *err, size_t errlen) {
    char root_real[PATH_MAX], real[PATH_MAX], probe[TASK_PATH_MAX];
    if (!realpath(root->path, root_real)) {
        task_fmt(err, errlen, "root %s (%s): %s", root->name, root->path, strerror(errno));
        return -1;
    }
    if (task_fmt(probe, sizeof probe, "%s", path) != 0) {
        task_fmt(err, errlen, "path %s:%s is too long", p->root, p->rel);
        return -1;
    }
    while (!realpath(probe, real)) {
        struct stat st;
        char *slash = strrchr(probe, '/');
        if (errno != ENOENT && errno != ENOTDIR) {
            task_fmt(err, errlen, "path %s:%s: %s: %s", p->root, p->rel, probe, strerror(errno));
            return -1;
        }
        if (lstat(probe, &st) == 0 && S_ISLNK(st.st_mode)) {
            task_fmt(err, errlen, "path %s:%s: %s is a dangling symbolic link", p->root, p->rel, probe);
            return -1;
        }
        if (!slash || slash == probe) {
            snprintf(real, sizeof real, "/");
            break;
        }
        *slash = '\0';
    }
    size_t n = strlen(root_real);
    if (strcmp(root_real, "/") == 0 || (strncmp(real, root_real, n) == 0 && (real[n] == '\0' || real[n] == '/')))
        return 0;
    task_fmt(err, errlen, "path %s:%s resolves to %s, outside its root %s (%s): a symbolic link leaves the root",
             p->root, p->rel, real, root->name, root_real);
    return -1;
}

int worker_map_path(const worker_env *env, const optout_msg_path *path, char *out, size_t outlen, char *err,
                    size_t errlen) {
    const worker_root *root = NULL;
    for (size_t i = 0; i < env->root_count && !root; i++)
        if (strcmp(env->roots[i].name, path->root) == 0) root = &env->roots[i];
    if (!root) {
        task_fmt(err, errlen, "unknown root '%s' for %s (give it with --root %s=PATH)", path->root, path->rel,
                 path->root);
        return -1;
    }
    if (!worker_rel_path_ok(path->rel)) {
        task_fmt(err, errlen, "path %s:%s leaves its root (absolute or with a '..' component)", path->root,
                 path->rel);
        return -1;
    }
    const char *rel = path->rel;
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    if (strcmp(rel, ".") == 0) rel = "";
    size_t rootlen = strlen(root->path);
    while (rootlen > 1 && root->path[rootlen - 1] == '/') rootlen--;
    if ((rel[0] ? task_fmt(out, outlen, "%.*s/%s", (int)rootlen, root->path, rel)
                : task_fmt(out, outlen, "%.*s", (int)rootlen, root->path)) != 0) {
        task_fmt(err, errlen, "path %s:%s is too long", path->root, path->rel);
        return -1;
    }
    return confined(root, path, out, err, errlen);
}

const char *task_field(const char *f) { return f[0] ? f : NULL; }

int task_staged_path(const task_job *job, const char *name, char *out, size_t cap, char *err, size_t errlen) {
    if (task_fmt(out, cap, "%s/%s", job->staging, name) != 0) {
        task_fmt(err, errlen, "%s/%s: path too long", job->staging, name);
        return -1;
    }
    if (optout_make_parent_dirs(out) != 0) {
        task_fmt(err, errlen, "cannot create the directories of %s: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

int task_add_file(const task_job *job, optout_msg *res, const char *name, char *err, size_t errlen) {
    char path[TASK_PATH_MAX];
    if (res->file_count >= OPTOUT_MSG_MAX_FILES) {
        task_fmt(err, errlen, "too many output files");
        return -1;
    }
    optout_msg_file *f = &res->files[res->file_count];
    if (task_fmt(path, sizeof path, "%s/%s", job->staging, name) != 0) {
        task_fmt(err, errlen, "%s/%s: path too long", job->staging, name);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || optout_sha256_file(path, f->sha256) != 0) {
        task_fmt(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    task_fmt(f->name, sizeof f->name, "%s", name);
    f->size = (uint64_t)st.st_size;
    res->file_count++;
    return 0;
}

int task_add_history_part(const task_job *job, optout_msg *res, char *err, size_t errlen) {
    static const char *const files[] = {"index.tsv", "bodies.zst", "sources.tsv"};
    char name[OPTOUT_MSG_PATH_MAX + 32];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (task_fmt(name, sizeof name, "%s/" OPTOUT_HISTORY_DIR "/%s", job->msg->output_name, files[i]) != 0) {
            task_fmt(err, errlen, "output name '%s' is too long", job->msg->output_name);
            return -1;
        }
        if (task_add_file(job, res, name, err, errlen) != 0) return -1;
    }
    return 0;
}

int task_stats_counters(const uint64_t *values, size_t n, optout_msg *res, void **stats_buf) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) msgpack_pack_uint64(&pk, values[i]);
    if (!sb.data) return -1;
    *stats_buf = sb.data; /* msgpack_sbuffer memory is malloc'd: the caller frees it */
    res->stats = sb.data;
    res->stats_len = sb.size;
    return 0;
}

/* A shard must be what the broker planned: same size and mtime. */
static int check_input(const char *input, const optout_msg *t, char *err, size_t errlen) {
    struct stat st;
    if (stat(input, &st) != 0) {
        task_fmt(err, errlen, "%s: cannot stat: %s", input, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        task_fmt(err, errlen, "%s: is a directory", input);
        return -1;
    }
    if ((uint64_t)st.st_size != t->input_size || optout_mtime_ns(&st) != t->input_mtime_ns) {
        task_fmt(err, errlen,
                 "%s: input changed since planning (size %llu, mtime_ns %lld; planned size %llu, mtime_ns %lld)",
                 input, (unsigned long long)st.st_size, (long long)optout_mtime_ns(&st), (unsigned long long)t->input_size,
                 (long long)t->input_mtime_ns);
        return -1;
    }
    return 0;
}

static const char *kind_verb(optout_task_kind kind) {
    switch (kind) {
    case OPTOUT_TASK_FILTER: return "filtering";
    case OPTOUT_TASK_RANK_MAP: return "counting hosts";
    case OPTOUT_TASK_RANK_REDUCE: return "ranking a partition";
    case OPTOUT_TASK_FETCH: return "fetching robots.txt";
    case OPTOUT_TASK_HISTORY: return "reading robots.txt captures";
    case OPTOUT_TASK_WAYBACK: return "asking the Wayback Machine";
    }
    return "?";
}

static int run_kind(const worker_env *env, task_cache **cache, const optout_msg *t, optout_msg *res,
                    void **stats_buf, const char *ctx, char *err, size_t errlen) {
    struct {
        char input[TASK_PATH_MAX], staging[TASK_PATH_MAX];
        optout_run_config cfg;
    } *p = malloc(sizeof *p);
    int rc = -1;
    if (!p) {
        task_fmt(err, errlen, "out of memory");
        return -1;
    }
    /* a HISTORY task's input without a root is an http(s) URL (msg.h), read over the network */
    int url_input = t->kind == OPTOUT_TASK_HISTORY && !t->input.root[0];
    if (url_input && !optout_cc_is_url(t->input.rel)) {
        task_fmt(err, errlen, "a history input without a root must be an http(s) URL, not '%s'", t->input.rel);
        goto done;
    }
    if ((url_input ? task_fmt(p->input, sizeof p->input, "%s", t->input.rel)
                   : worker_map_path(env, &t->input, p->input, sizeof p->input, err, errlen)) != 0 ||
        worker_map_path(env, &t->staging, p->staging, sizeof p->staging, err, errlen) != 0)
        goto done;
    if (!t->output_name[0] || !worker_rel_path_ok(t->output_name) ||
        t->output_name[strlen(t->output_name) - 1] == '/') {
        task_fmt(err, errlen, "bad output name '%s' (empty, absolute or with a '..' component)", t->output_name);
        goto done;
    }
    /* Fault injection for the fleet tests: a worker that dies on one particular task every time
     * (the broker must make it a poison task, not retry it forever). */
    const char *crash_on = getenv("OPTOUT_FAULT_CRASH_ON");
    if (crash_on && *crash_on && strstr(p->input, crash_on)) abort();
    /* ... and a worker slow on every task, so that a test that kills workers mid-run always finds
     * one at work, however fast the machine (a small corpus otherwise ends before the first kill). */
    const char *delay = getenv("OPTOUT_FAULT_TASK_DELAY_MS");
    uint64_t delay_ms = 0;
    if (delay && *delay && optout_parse_u64(delay, strlen(delay), 60000, &delay_ms) == 0 && delay_ms > 0) {
        struct timespec ts = {.tv_sec = (time_t)(delay_ms / 1000), .tv_nsec = (long)(delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if ((t->kind == OPTOUT_TASK_FILTER || t->kind == OPTOUT_TASK_RANK_MAP || (t->kind == OPTOUT_TASK_HISTORY && !url_input)) &&
        check_input(p->input, t, err, errlen) != 0)
        goto done;
    char derr[OPTOUT_MSG_ERR_LEN];
    if (optout_run_config_decode(t->config, t->config_len, &p->cfg, derr) != 0) {
        task_fmt(err, errlen, "bad run configuration: %s", derr);
        goto done;
    }
    task_job job = {.env = env, .msg = t, .cfg = &p->cfg, .input = p->input, .staging = p->staging, .ctx = ctx};
    res->file_count = 0;
    switch (t->kind) {
    case OPTOUT_TASK_FILTER: rc = task_filter(&job, cache, res, stats_buf, err, errlen); break;
    case OPTOUT_TASK_RANK_MAP: rc = task_rank_map(&job, res, stats_buf, err, errlen); break;
    case OPTOUT_TASK_RANK_REDUCE: rc = task_rank_reduce(&job, res, stats_buf, err, errlen); break;
    case OPTOUT_TASK_FETCH: rc = task_fetch(&job, res, stats_buf, err, errlen); break;
    case OPTOUT_TASK_HISTORY: rc = task_history(&job, res, stats_buf, err, errlen); break;
    case OPTOUT_TASK_WAYBACK: rc = task_wayback(&job, res, stats_buf, err, errlen); break;
    default: task_fmt(err, errlen, "unknown task kind %d", (int)t->kind);
    }
done:
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
    /* log fields (include/optout/log.h); the run is the broker's (its log lines carry run=) */
    int shard = task->kind == OPTOUT_TASK_FILTER || task->kind == OPTOUT_TASK_RANK_MAP;
    task_fmt(ctx, sizeof ctx, "task=%llu attempt=%llu.%llu %s=%s:%s", (unsigned long long)task->task,
             (unsigned long long)task->epoch, (unsigned long long)task->attempt, shard ? "shard" : "input",
             task->input.root, task->input.rel);
    char err[OPTOUT_MSG_ERROR_MAX];
    optout_log(LOG_INFO, "%s: %s into %s:%s", ctx, kind_verb(task->kind), task->staging.root, task->staging.rel);
    if (run_kind(env, cache, task, result, stats_buf, ctx, err, sizeof err) == 0) {
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
    task_fmt(result->error, sizeof result->error, "%s", err);
    /* A failed task may mean a broken source (Redis gone, a store being reloaded): rebuild it. */
    task_cache_free(*cache);
    *cache = NULL;
}
