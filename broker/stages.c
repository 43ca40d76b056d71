/* stages.c — the stages of a run and their tasks (docs/fleet.md "Stages").
 *
 *   rank map     one task per input shard: counts per host key, hash-partitioned
 *   rank reduce  one task per partition: the top N per class of that partition
 *   (merge)      the broker: ranking/en.tsv, non_en.tsv and hosts.txt, the fetch plan
 *   fetch        the host list split by the same hash into fetch_tasks parts: robots/ packs
 *   history      one task per --cc-robots WARC file: the captures of the planned hosts, a history
 *                archive part each (history-parts/), merged by the broker into DIR/history/; when
 *                the captures of a pass redirect to hosts no pass has kept, another pass over every
 *                file for those hosts alone (at most 1 + OPTOUT_HISTORY_MAX_HOPS passes, as optout
 *                history reads)
 *   wayback      one task per block of the Wayback host list (--wayback), leased one at a time
 *                in the whole run: a history archive part each, merged with history's
 *   filter       one task per input shard
 *
 * Which stages run: with --robots-dir only filter; with a host list fetch and filter; otherwise
 * all four (ranking without a limit when no --top-* is given: every host is fetched); history runs
 * when --cc-robots names files, after fetch; wayback with --wayback, after history. A run deciding
 * by robots.txt as it was (--robots-time not current), and one reading captures with --robots-dir,
 * runs the rank maps first, as its survey: each also counts documents and tokens per host and
 * crawl (survey.h), merged into DIR/survey.tsv (with --robots-dir also its hosts, the history
 * stage's host list). Every
 * stage's task count is known when the run is planned (inputs, partitions, fetch parts), so task
 * ids never change and journal records name the same tasks after any restart; a stage's tasks are
 * queued only when the previous stage has finished. Two growths keep that: --cc-crawls auto adds
 * history tasks after the survey, and a history pass adds the next; both record what they add in
 * the run directory (history-files.tsv, history-passP-hosts.txt) before any task of it runs, every
 * later start lays out the same tasks from those files, and only tasks of later stages, none of
 * which has run, change ids.
 */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker_internal.h"
#include "optout/ccsource.h"
#include "optout/history_archive.h"
#include "optout/history_scan.h"
#include "optout/hostlist.h"
#include "optout/log.h"
#include "optout/rank.h"
#include "optout/survey.h"
#include "optout/util.h"
#include "optout/wayback.h"

const char *stage_name(enum stage s) {
    static const char *const names[STAGE_COUNT] = {"rank", "rank-reduce", "fetch", "history", "wayback", "filter"};
    return s < STAGE_COUNT ? names[s] : "done";
}

void stages_rank_config(const struct broker_config *c, optout_rank_reduce_config *rc) {
    int limited = c->top_en || c->top_non_en;
    rc->metric = c->metric;
    rc->top_en = !limited ? UINT64_MAX : c->top_en ? c->top_en : OPTOUT_RANK_DEFAULT_TOP;
    rc->top_non_en = !limited ? UINT64_MAX : c->top_non_en ? c->top_non_en : OPTOUT_RANK_DEFAULT_TOP;
    rc->all_hosts = !limited; /* without a limit every host is fetched, unknown language too */
}

static int ranking(const struct broker_config *c) {
    return !c->robots_dir && !c->hosts_file && !c->synthetic_tasks;
}

/* A historical policy surveys; so does a run reading captures with --robots-dir, whose history
 * stage keeps every host of the corpus: the survey's. */
int stages_surveying(const struct broker_config *c) {
    int historical = c->robots_time.policy != OPTOUT_ROBOTS_TIME_CURRENT;
    /* with --robots-dir the survey is also the captures' host list: every host of the corpus */
    return (historical || (c->robots_dir && (c->cc_robots_count || c->cc_crawls || c->wayback))) && !c->synthetic_tasks;
}

/* The host list of history pass `pass` (0: the first, the plan's hosts). */
static void pass_hosts(const struct broker *b, size_t pass, char *out, size_t cap) {
    if (pass == 0) snprintf(out, cap, "%s", b->hosts_path);
    else {
        char name[64];
        snprintf(name, sizeof name, STAGES_HISTORY_PASS_HOSTS, pass + 1);
        snprintf(out, cap, "%s/%s", b->cfg->dir, name);
    }
}

void stages_history_hosts(const struct broker *b, char *out, size_t cap) {
    pass_hosts(b, b->history_passes ? b->history_passes - 1 : 0, out, cap);
}

/* The pass of a history task (0: the first). */
static size_t history_pass(const struct broker *b, size_t task) {
    size_t files = b->history_files.count;
    return files ? (task - b->stage_first[STAGE_HISTORY]) / files : 0;
}

/* The history stage laid out as `passes` passes over history_files, pass-major (pass p's task of
 * file i is first + p * files + i). The tasks laid out before keep their ids (they are the earlier
 * passes, or a first pass over fewer files: --cc-crawls auto appends files); the later stages'
 * tasks move up (none has run: they come after history), queued and pending ones included. 0 or -1. */
static int history_layout(struct broker *b, size_t passes) {
    size_t files = b->history_files.count, hist = files * passes, old = b->stage_count[STAGE_HISTORY];
    size_t first = b->stage_first[STAGE_HISTORY], add = hist - old, total = b->task_count + add;
    struct task *tasks = calloc(total ? total : 1, sizeof *tasks);
    size_t *queue = b->queue ? calloc(total ? total : 1, sizeof *queue) : NULL;
    size_t *pending = b->queue ? calloc(total ? total : 1, sizeof *pending) : NULL;
    if (!tasks || (b->queue && (!queue || !pending))) {
        free(tasks), free(queue), free(pending);
        return -1;
    }
    if (b->tasks) {
        memcpy(tasks, b->tasks, (first + old) * sizeof *tasks);
        memcpy(tasks + first + hist, b->tasks + first + old, (b->task_count - first - old) * sizeof *tasks);
    }
    for (size_t i = 0; i < hist; i++) { /* every history task's input: history_files may have moved */
        struct task *t = &tasks[first + i];
        if (i >= old) {
            t->kind = OPTOUT_TASK_HISTORY;
            t->worker = -1;
            t->part = (uint32_t)(i % files);
        }
        t->input = &b->history_files.items[i % files];
    }
    if (b->queue) {
        for (size_t i = 0; i < b->queue_len; i++) { /* queued and pending tasks come before the new ones */
            size_t q = b->queue[(b->queue_head + i) % b->task_count];
            queue[i] = q < first + old ? q : q + add;
        }
        for (size_t i = 0; i < b->pending_count; i++)
            pending[i] = b->pending[i] < first + old ? b->pending[i] : b->pending[i] + add;
        free(b->queue), free(b->pending);
        b->queue = queue, b->pending = pending;
        b->queue_head = 0;
    }
    free(b->tasks);
    b->tasks = tasks;
    b->task_count = total;
    b->stage_count[STAGE_HISTORY] = hist;
    b->stage_first[STAGE_WAYBACK] += add; /* the stages after history move up */
    b->stage_first[STAGE_FILTER] += add;
    b->history_passes = passes;
    b->counts_for = 0; /* status.c counts the stages again */
    return 0;
}

/* After the history stage grew: the stages' table and the run configuration (its history host
 * list is the last pass's) again. 0 or -1. */
static int history_replanned(struct broker *b) {
    free(b->config_blob);
    b->config_blob = NULL;
    return status_write_stages(b) != 0 || plan_config_blob(b) != 0 ? -1 : 0;
}

int stages_plan(struct broker *b) {
    const struct broker_config *c = b->cfg;
    size_t n = b->inputs.count;
    size_t counts[STAGE_COUNT] = {
        [STAGE_RANK_MAP] = ranking(c) || stages_surveying(c) ? n : 0,
        [STAGE_RANK_REDUCE] = ranking(c) ? c->partitions : 0,
        [STAGE_FETCH] = c->robots_dir ? 0 : c->fetch_tasks,
        [STAGE_HISTORY] = 0, /* laid out below, with its passes */
        [STAGE_WAYBACK] = stages_wayback_tasks(c),
        [STAGE_FILTER] = n,
    };
    static const optout_task_kind kinds[STAGE_COUNT] = {OPTOUT_TASK_RANK_MAP, OPTOUT_TASK_RANK_REDUCE,
                                                        OPTOUT_TASK_FETCH, OPTOUT_TASK_HISTORY, OPTOUT_TASK_WAYBACK,
                                                        OPTOUT_TASK_FILTER};
    size_t total = 0;
    for (int s = 0; s < STAGE_COUNT; s++) {
        b->stage_first[s] = total;
        b->stage_count[s] = counts[s];
        total += counts[s];
    }
    b->task_count = total;
    b->tasks = calloc(total ? total : 1, sizeof *b->tasks);
    b->wayback_block_counts = calloc(counts[STAGE_WAYBACK] ? counts[STAGE_WAYBACK] : 1, sizeof *b->wayback_block_counts);
    if (!b->tasks || !b->wayback_block_counts) return -1;
    for (int s = 0; s < STAGE_COUNT; s++)
        for (size_t i = 0; i < counts[s]; i++) {
            struct task *t = &b->tasks[b->stage_first[s] + i];
            t->kind = kinds[s];
            t->worker = -1;
            t->part = (uint32_t)i;
            if (t->kind == OPTOUT_TASK_RANK_MAP || t->kind == OPTOUT_TASK_FILTER) t->input = &b->inputs.items[i];
            if (t->kind == OPTOUT_TASK_HISTORY) t->input = &b->history_files.items[i];
        }
    if (c->hosts_file) snprintf(b->hosts_path, sizeof b->hosts_path, "%s", c->hosts_file);
    else if (c->robots_dir) snprintf(b->hosts_path, sizeof b->hosts_path, "%s/" STAGES_SURVEY_HOSTS, c->dir);
    else snprintf(b->hosts_path, sizeof b->hosts_path, "%s/ranking/hosts.txt", c->dir);
    /* the history passes an earlier start added: each later pass's host list, in order */
    size_t passes = 1;
    while (b->history_files.count && passes <= OPTOUT_HISTORY_MAX_HOPS) {
        char path[4200];
        struct stat st;
        pass_hosts(b, passes, path, sizeof path);
        if (lstat(path, &st) != 0) {
            if (errno == ENOENT) break;
            optout_log(LOG_ERR, "%s: %s", path, strerror(errno));
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            optout_log(LOG_ERR, "%s: not a regular file (a link is refused; written by this run's history stage)", path);
            return -1;
        }
        passes++;
    }
    return history_layout(b, passes);
}

const char *task_label(const struct broker *b, size_t task, char *buf, size_t cap) {
    const struct task *t = &b->tasks[task];
    switch (t->kind) {
    case OPTOUT_TASK_RANK_MAP: snprintf(buf, cap, "rank %s", t->input->path); break;
    case OPTOUT_TASK_RANK_REDUCE:
        snprintf(buf, cap, "rank partition %u of %zu", t->part, b->stage_count[STAGE_RANK_REDUCE]);
        break;
    case OPTOUT_TASK_FETCH: snprintf(buf, cap, "fetch part %u of %zu", t->part, b->stage_count[STAGE_FETCH]); break;
    case OPTOUT_TASK_HISTORY:
        if (history_pass(b, task)) snprintf(buf, cap, "history pass %zu %s", history_pass(b, task) + 1, t->input->path);
        else snprintf(buf, cap, "history %s", t->input->path);
        break;
    case OPTOUT_TASK_WAYBACK:
        snprintf(buf, cap, "wayback block %u of %zu", t->part, b->stage_count[STAGE_WAYBACK]);
        break;
    default: snprintf(buf, cap, "%s", t->input->path);
    }
    return buf;
}

const char *task_fields(const struct broker *b, size_t task, char *buf, size_t cap) {
    const struct task *t = &b->tasks[task];
    if (t->kind == OPTOUT_TASK_HISTORY)
        snprintf(buf, cap, "task=%zu history-pass=%zu warc=%s", task, history_pass(b, task) + 1, t->input->path);
    else if (t->kind == OPTOUT_TASK_WAYBACK)
        snprintf(buf, cap, "task=%zu wayback-block=%u/%zu", task, t->part, b->stage_count[STAGE_WAYBACK]);
    else if (t->input) snprintf(buf, cap, "task=%zu shard=%s", task, t->input->path);
    else snprintf(buf, cap, "task=%zu %s=%u/%zu", task, t->kind == OPTOUT_TASK_FETCH ? "fetch-part" : "partition",
                  t->part, b->stage_count[t->kind == OPTOUT_TASK_FETCH ? STAGE_FETCH : STAGE_RANK_REDUCE]);
    return buf;
}

void broker_path(const struct broker *b, const char *abs, optout_msg_path *out) {
    const struct broker_config *c = b->cfg;
    size_t best = 0, best_len = 0;
    int found = 0;
    for (size_t i = 0; i < c->root_count; i++) {
        size_t n = strlen(c->root_paths[i]);
        while (n > 1 && c->root_paths[i][n - 1] == '/') n--;
        if (strncmp(abs, c->root_paths[i], n) == 0 && (abs[n] == '/' || abs[n] == '\0' || n == 1) &&
            (!found || n > best_len)) {
            best = i, best_len = n, found = 1;
        }
    }
    const char *rel = found ? abs + best_len : abs;
    while (*rel == '/') rel++;
    snprintf(out->root, sizeof out->root, "%s", found ? c->root_names[best] : "fs");
    if (snprintf(out->rel, sizeof out->rel, "%s", rel) >= (int)sizeof out->rel)
        out->rel[0] = '\0'; /* cannot happen: plan paths are checked against the message limits */
}

/* The task's output name, as its TASK message carries it. */
static void output_name(const struct broker *b, size_t task, char *out, size_t cap) {
    const struct task *t = &b->tasks[task];
    switch (t->kind) {
    case OPTOUT_TASK_FILTER: /* the shard's, or in tag mode the tags file's (tags/<name>) */
        snprintf(out, cap, "%s", t->output_name);
        break;
    case OPTOUT_TASK_RANK_MAP: snprintf(out, cap, "ranking/map/%06zu", task - b->stage_first[STAGE_RANK_MAP]); break;
    case OPTOUT_TASK_RANK_REDUCE: snprintf(out, cap, "ranking/top/%04u.tsv", t->part); break;
    case OPTOUT_TASK_FETCH: snprintf(out, cap, "robots/%06u", t->part); break;
    case OPTOUT_TASK_HISTORY: /* the first pass's parts keep their names of runs without later passes */
        if (history_pass(b, task))
            snprintf(out, cap, STAGES_HISTORY_PARTS "/" STAGES_HISTORY_PASS_PART "%zu-%06u", history_pass(b, task) + 1,
                     t->part);
        else snprintf(out, cap, STAGES_HISTORY_PARTS "/%06u", t->part);
        break;
    case OPTOUT_TASK_WAYBACK: snprintf(out, cap, STAGES_HISTORY_PARTS "/" STAGES_WAYBACK_PART "%06u", t->part); break;
    }
}

void stages_task_message(const struct broker *b, size_t task, optout_msg *m) {
    const struct task *t = &b->tasks[task];
    char path[4200];
    m->kind = t->kind;
    output_name(b, task, m->output_name, sizeof m->output_name);
    switch (t->kind) {
    case OPTOUT_TASK_HISTORY:
        m->span_start = history_pass(b, task); /* 0: the first pass, which also counts the file (msg.h) */
        m->span_count = b->history_passes;
        if (optout_cc_is_url(t->input->path)) { /* a URL: no root (msg.h); checked against the limits when planned */
            m->input.root[0] = '\0';
            snprintf(m->input.rel, sizeof m->input.rel, "%s", t->input->path);
            break;
        }
        /* fall through */
    case OPTOUT_TASK_FILTER:
    case OPTOUT_TASK_RANK_MAP:
        broker_path(b, t->input->path, &m->input);
        m->input_size = t->input->size;
        m->input_mtime_ns = t->input->mtime_ns;
        break;
    case OPTOUT_TASK_RANK_REDUCE:
        snprintf(path, sizeof path, "%s/ranking/map", b->cfg->dir);
        broker_path(b, path, &m->input);
        m->span_start = t->part;
        m->span_count = b->stage_count[STAGE_RANK_MAP];
        break;
    case OPTOUT_TASK_FETCH:
        broker_path(b, b->hosts_path, &m->input);
        m->span_start = t->part;
        m->span_count = b->stage_count[STAGE_FETCH];
        break;
    case OPTOUT_TASK_WAYBACK: /* block `part` of the list, block_hosts groups a block (msg.h) */
        snprintf(path, sizeof path, "%s/" STAGES_WAYBACK_HOSTS, b->cfg->dir);
        broker_path(b, path, &m->input);
        m->span_start = t->part;
        m->span_count = b->cfg->wayback_block_hosts;
        break;
    }
}

int stages_expect(const struct broker *b, size_t task, struct result_expect *x) {
    char o[OPTOUT_MSG_PATH_MAX];
    output_name(b, task, o, sizeof o);
    int sample = !b->cfg->sample_ppm ? RESULT_SAMPLE_NONE
                 : b->cfg->sample_shards ? RESULT_SAMPLE_SHARDS
                                         : RESULT_SAMPLE_ESTIMATES;
    int rc = result_expect_files(b->tasks[task].kind, o, b->cfg->with_removed, b->cfg->output_tags, sample,
                                 stages_surveying(b->cfg), b->cfg->synthetic_tasks > 0, optout_agents_count(b->agents), x);
    x->policy = b->pending_policy; /* a filter result's policies go with this group commit's statistics */
    return rc;
}

/* Rank map and reduce counters are checked, not kept: the ranking's files say what the report
 * needs. A fetch's hosts per outcome and fetch times go into the report. */
int stages_merge_stats(struct broker *b, size_t task, const void *stats, size_t len) {
    uint64_t v[OPTOUT_FETCH_COUNTERS + OPTOUT_RANK_MAP_COUNTERS + OPTOUT_HISTORY_COUNTERS + OPTOUT_WAYBACK_COUNTERS];
    int rc = 0;
    switch (b->tasks[task].kind) {
    case OPTOUT_TASK_FILTER:
        rc = optout_stats_decode_add_policy(stats, len, optout_agents_count(b->agents), b->stats, b->by_policy);
        break;
    case OPTOUT_TASK_RANK_MAP: rc = result_read_counters(stats, len, OPTOUT_RANK_MAP_COUNTERS, v); break;
    case OPTOUT_TASK_RANK_REDUCE: rc = result_read_counters(stats, len, OPTOUT_RANK_REDUCE_COUNTERS, v); break;
    case OPTOUT_TASK_FETCH:
        rc = result_read_counters(stats, len, OPTOUT_FETCH_COUNTERS, v);
        if (rc == 0) {
            for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) b->hosts_by_outcome[i] += v[i];
            uint64_t from = v[OPTOUT_FETCH_FIRST_TIME], to = v[OPTOUT_FETCH_LAST_TIME];
            if (from && (!b->fetched_from || from < b->fetched_from)) b->fetched_from = from;
            if (to > b->fetched_to) b->fetched_to = to;
        }
        break;
    case OPTOUT_TASK_HISTORY:
        rc = result_read_counters(stats, len, OPTOUT_HISTORY_COUNTERS, v);
        if (rc == 0)
            for (int i = 0; i < OPTOUT_HISTORY_COUNTERS; i++) b->history_counts[i] += v[i];
        break;
    case OPTOUT_TASK_WAYBACK:
        rc = result_read_counters(stats, len, OPTOUT_WAYBACK_COUNTERS, v);
        if (rc == 0) {
            uint64_t *w = b->wayback_counts, first = v[OPTOUT_WAYBACK_FIRST_QUERY], last = v[OPTOUT_WAYBACK_LAST_QUERY];
            /* a block asked again (stages_wayback_reopen) replaces its numbers: its record holds the whole block */
            uint64_t *mine = b->wayback_block_counts[task - b->stage_first[STAGE_WAYBACK]];
            for (int i = 0; i < OPTOUT_WAYBACK_FIRST_QUERY; i++) w[i] += v[i] - mine[i];
            memcpy(mine, v, sizeof *b->wayback_block_counts);
            if (first && (!w[OPTOUT_WAYBACK_FIRST_QUERY] || first < w[OPTOUT_WAYBACK_FIRST_QUERY]))
                w[OPTOUT_WAYBACK_FIRST_QUERY] = first;
            if (last > w[OPTOUT_WAYBACK_LAST_QUERY]) w[OPTOUT_WAYBACK_LAST_QUERY] = last;
            /* live, not a replay: the progress, in blocks. The stage's tasks are a bound planned before
             * the hosts were grouped; the tasks past the plan's blocks are empty and say nothing. */
            size_t n = b->wayback_plan.known ? b->wayback_plan.blocks : b->stage_count[STAGE_WAYBACK];
            size_t index = task - b->stage_first[STAGE_WAYBACK];
            if (b->stage == STAGE_WAYBACK && b->stage_queued && index < n) {
                size_t settled = b->settled[STAGE_WAYBACK] + 1; /* with this one */
                if (settled > n) settled = n;
                size_t now_done = settled > b->wayback_settled_at_start ? settled - b->wayback_settled_at_start : 0;
                double secs = (double)(optout_now_ms() - b->wayback_started) / 1000.0;
                double eta = now_done ? secs / (double)now_done * (double)(n > settled ? n - settled : 0) : 0;
                optout_log(LOG_INFO, "wayback: %zu/%zu blocks, %llu hosts asked, %llu requests, %llu captures kept, "
                           "ETA %.0f s", settled, n, (unsigned long long)w[OPTOUT_WAYBACK_HOSTS],
                           (unsigned long long)w[OPTOUT_WAYBACK_REQUESTS], (unsigned long long)w[OPTOUT_WAYBACK_CAPTURES],
                           eta);
            }
        }
        break;
    }
    if (rc != 0) {
        char label[4200];
        optout_log(LOG_ERR, "task %zu (%s): malformed statistics", task, task_label(b, task, label, sizeof label));
    }
    return rc;
}

/* The ranking merge: every reducer's top rows into ranking/en.tsv, non_en.tsv and hosts.txt. */
static int merge_ranking(struct broker *b) {
    const struct broker_config *c = b->cfg;
    size_t parts = b->stage_count[STAGE_RANK_REDUCE];
    char **tops = calloc(parts ? parts : 1, sizeof *tops);
    char dir[4200], err[1024];
    long hosts = -1;
    if (!tops) return -1;
    for (size_t p = 0; p < parts; p++)
        if (asprintf(&tops[p], "%s/ranking/top/%04zu.tsv", c->dir, p) < 0) goto out;
    snprintf(dir, sizeof dir, "%s/ranking", c->dir);
    optout_rank_reduce_config rc;
    stages_rank_config(c, &rc);
    hosts = optout_rank_merge(&rc, (const char *const *)tops, parts, dir, err, sizeof err);
    if (hosts < 0) optout_log(LOG_ERR, "ranking merge: %s", err);
    else optout_log(LOG_INFO, "ranking: %ld hosts to fetch (%s/hosts.txt)", hosts, dir);
out:
    for (size_t p = 0; p < parts; p++) free(tops[p]);
    free(tops);
    return hosts < 0 ? -1 : 0;
}

int stages_write_blocked(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char archive[4200], err[1024];
    snprintf(archive, sizeof archive, "%s/robots", c->dir);
    if (!b->blocked && !(b->blocked = calloc(1, sizeof *b->blocked))) return -1;
    if (optout_blocked_write(c->dir, c->robots_dir ? c->robots_dir : archive,
                             c->robots_dir ? OPTOUT_ROBOTS_SOURCE_DIR : OPTOUT_ROBOTS_SOURCE_ARCHIVE, b->agents, c->mode,
                             b->blocked, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "blocked hosts: %s", err);
        return -1;
    }
    optout_log(LOG_INFO, "%s/" OPTOUT_BLOCKED_FILE ": %llu of %llu hosts with a robots.txt block an agent (%llu the "
               "whole site)", c->dir, (unsigned long long)b->blocked->hosts_blocking,
               (unsigned long long)b->blocked->hosts_ok, (unsigned long long)b->blocked->hosts_whole_site);
    return 0;
}

/* Adds every host of the host list at path to the set m. 0, or -1 (logged). */
static int hosts_into(const char *path, optout_strmap *m) {
    char err[1024];
    optout_hostlist *list = optout_hostlist_read(path, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err);
    if (!list) {
        optout_log(LOG_ERR, "history: reading a pass's host list: %s", err);
        return -1;
    }
    const char *const *hosts = optout_hostlist_hosts(list);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < optout_hostlist_count(list); i++)
        rc = optout_history_scan_put(m, hosts[i], strlen(hosts[i]));
    optout_hostlist_free(list);
    if (rc != 0) optout_log(LOG_ERR, "history: out of memory reading %s", path);
    return rc;
}

static int collect_host(const char *key, size_t len, void *value, void *arg) {
    (void)len, (void)value;
    const char ***next = arg;
    *(*next)++ = key;
    return 0;
}

static int by_name(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

/* After a history pass: the redirect targets its captures name that no pass has kept (the hosts
 * of every pass's list so far), as optout history collects them while it reads. They are read
 * from the pass's own parts, so the Wayback stage and the merge need not have run. When there are
 * some and the passes allow one more (1 + OPTOUT_HISTORY_MAX_HOPS in all), they are written as the
 * next pass's host list (sorted; the same content on every start: it derives from published
 * parts) and the pass is laid out: 1. Else 0 (what is still unresolved is said), or -1. */
static int history_next_pass(struct broker *b) {
    const struct broker_config *c = b->cfg;
    size_t files = b->history_files.count, pass = b->history_passes - 1;
    optout_strmap *kept = optout_strmap_new(), *next = optout_strmap_new();
    char err[1024], path[4200], part[OPTOUT_MSG_PATH_MAX], example[OPTOUT_HOSTKEY_MAX] = "";
    int rc = kept && next ? 0 : -1;
    if (rc != 0) optout_log(LOG_ERR, "history: out of memory");
    for (size_t p = 0; rc == 0 && p <= pass; p++) {
        pass_hosts(b, p, path, sizeof path);
        rc = hosts_into(path, kept);
    }
    size_t first = b->stage_first[STAGE_HISTORY] + pass * files;
    for (size_t i = 0; rc == 0 && i < files; i++) {
        output_name(b, first + i, part, sizeof part);
        snprintf(path, sizeof path, "%s/%s", c->dir, part);
        optout_history_archive *a = optout_history_archive_open(path, err, sizeof err);
        if (!a) {
            optout_log(LOG_ERR, "history: the redirect targets of pass %zu: %s", pass + 1, err);
            rc = -1;
            break;
        }
        for (size_t h = 0; rc == 0 && h < optout_history_archive_hosts(a); h++) {
            optout_history_host host = optout_history_archive_host(a, h);
            for (size_t v = 0; rc == 0 && v < host.count; v++) {
                const char *t = host.versions[v].redirect;
                if (!t || optout_strmap_get(kept, t, strlen(t))) continue;
                if (!example[0]) snprintf(example, sizeof example, "%s", t);
                rc = optout_history_scan_put(next, t, strlen(t));
                if (rc != 0) optout_log(LOG_ERR, "history: out of memory");
            }
        }
        optout_history_archive_close(a);
    }
    size_t n = next ? optout_strmap_count(next) : 0;
    if (rc == 0 && n && pass >= OPTOUT_HISTORY_MAX_HOPS) {
        optout_log(LOG_WARNING, "history: after %zu passes, captures still redirect to %zu host%s no pass read (e.g. "
                   "%s): those redirects count as no capture", pass + 1, n, n == 1 ? "" : "s", example);
    } else if (rc == 0 && n) {
        const char **hosts = malloc(n * sizeof *hosts), **end = hosts;
        if (!hosts) optout_oom("history pass");
        optout_strmap_each(next, collect_host, &end);
        qsort(hosts, n, sizeof *hosts, by_name);
        pass_hosts(b, pass + 1, path, sizeof path);
        if (optout_hostlist_write(path, hosts, n, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "history: %s", err);
            rc = -1;
        }
        free(hosts);
        if (rc == 0 && (history_layout(b, pass + 2) != 0 || history_replanned(b) != 0)) rc = -1;
        if (rc == 0) {
            optout_log(LOG_INFO, "history: pass %zu reads the %zu files again for %zu redirect target host%s (e.g. %s; "
                       "%s)", pass + 2, files, n, n == 1 ? "" : "s", example, path);
            rc = 1;
        }
    }
    optout_strmap_free(kept, NULL);
    optout_strmap_free(next, NULL);
    return rc;
}

/* The history merge: every task's part (history-parts/NNNNNN/history/, and with_wayback the Wayback
 * tasks' history-parts/wayback-NNNNNN/history/) into DIR/history/, published atomically as optout
 * history publishes (history_archive.h); sources.tsv names each file as the run planned it, and
 * keeps each Wayback block's line (its queries' time and answers' hash). Idempotent: a restart
 * after the stage merges again into the same archive. */
static int merge_history(struct broker *b, int with_wayback) {
    const struct broker_config *c = b->cfg;
    char err[1024], part[4200], name[OPTOUT_MSG_PATH_MAX];
    optout_history_writer *w = optout_history_writer_new(c->dir, 0, err, sizeof err);
    if (!w) {
        optout_log(LOG_ERR, "history merge: %s", err);
        return -1;
    }
    size_t first = b->stage_first[STAGE_HISTORY], n = b->stage_count[STAGE_HISTORY];
    size_t wn = with_wayback ? b->stage_count[STAGE_WAYBACK] : 0;
    for (size_t i = 0; i < n + wn; i++) {
        output_name(b, i < n ? first + i : b->stage_first[STAGE_WAYBACK] + i - n, name, sizeof name);
        snprintf(part, sizeof part, "%s/%s", c->dir, name);
        /* a later pass's part records no file (the first pass's names it) */
        const char *location = i < n && history_pass(b, first + i) == 0 ? b->tasks[first + i].input->path : NULL;
        if (optout_history_writer_merge(w, part, location, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "history merge: %s", err);
            optout_history_writer_abort(w);
            return -1;
        }
    }
    uint64_t versions = 0, hosts = 0;
    if (optout_history_writer_commit(w, &versions, &hosts, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "history merge: %s", err);
        return -1;
    }
    const uint64_t *wc = b->wayback_counts;
    optout_log(LOG_INFO, "history: %zu files in %zu pass%s, %llu records, %llu captures kept, %llu bad records; Wayback: %zu blocks, "
               "%llu hosts, %llu captures kept, %llu hosts failed: %llu versions of %llu hosts in %s/" OPTOUT_HISTORY_DIR,
               b->history_files.count, b->history_passes, b->history_passes == 1 ? "" : "es",
               (unsigned long long)b->history_counts[OPTOUT_HISTORY_RECORDS],
               (unsigned long long)b->history_counts[OPTOUT_HISTORY_CAPTURES],
               (unsigned long long)b->history_counts[OPTOUT_HISTORY_BAD], wn,
               (unsigned long long)wc[OPTOUT_WAYBACK_HOSTS], (unsigned long long)wc[OPTOUT_WAYBACK_CAPTURES],
               (unsigned long long)wc[OPTOUT_WAYBACK_FAILED], (unsigned long long)versions, (unsigned long long)hosts,
               c->dir);
    if (wc[OPTOUT_WAYBACK_FAILED])
        optout_log(LOG_WARNING, "wayback: %llu host group%s answered what is not CDX JSON: no captures of %s in the "
                   "archive (optout history --wayback asks again for such hosts on its next run)",
                   (unsigned long long)wc[OPTOUT_WAYBACK_FAILED], wc[OPTOUT_WAYBACK_FAILED] == 1 ? "" : "s",
                   wc[OPTOUT_WAYBACK_FAILED] == 1 ? "it" : "them");
    return 0;
}

size_t stages_wayback_tasks(const struct broker_config *c) {
    if (!c->wayback) return 0;
    uint64_t n = c->wayback_hosts;
    /* at most the list's hosts when it is known now: --wayback-hosts-file (its content is in the
     * plan), --hosts (as the fetch stage's parts, it is read again on a restart); a ranking's at
     * most its N per class */
    const char *known = c->wayback_hosts_file ? c->wayback_hosts_file : c->hosts_file;
    if (known) {
        char err[1024];
        optout_hostlist *l = optout_hostlist_read(known, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err);
        if (l && optout_hostlist_count(l) < n) n = optout_hostlist_count(l);
        optout_hostlist_free(l);
    } else if (c->top_en || c->top_non_en) {
        optout_rank_reduce_config rc;
        stages_rank_config(c, &rc);
        if (rc.top_en + rc.top_non_en < n) n = rc.top_en + rc.top_non_en;
    }
    size_t bh = c->wayback_block_hosts ? c->wayback_block_hosts : 100;
    return (size_t)((n + bh - 1) / bh);
}

/* A planned host and its tokens, for the Wayback's order. */
struct wb_ranked {
    const char *host;
    uint64_t tokens;
};

static int wb_add_tokens(const char *host, uint64_t tokens, void *arg) {
    struct wb_ranked *r = optout_strmap_get(arg, host, strlen(host));
    if (r) r->tokens += tokens;
    return 0;
}

static int wb_by_tokens(const void *x, const void *y) {
    const struct wb_ranked *a = x, *b = y;
    if (a->tokens != b->tokens) return a->tokens < b->tokens ? 1 : -1;
    return strcmp(a->host, b->host);
}

/* The survey's rows read against the Common Crawl captures (wb_uncovered). */
struct wb_survey {
    optout_strmap *planned;          /* host key -> struct wb_ranked */
    const optout_history_source *cc; /* the history stage's archive; NULL: the run reads no Common Crawl capture */
    int64_t max_age;
    char err[1024];
    int failed;
};

/* One survey row: its tokens count for the host unless a capture of the row's crawl judges its
 * documents (step 1 of "Which capture judges": the filter's own selection, redirects resolved). */
static int wb_survey_row(const char *host, size_t len, const char *crawl, uint64_t docs, uint64_t tokens, void *arg) {
    (void)docs;
    struct wb_survey *w = arg;
    struct wb_ranked *r = optout_strmap_get(w->planned, host, len);
    if (!r || !tokens) return 0;
    if (w->cc && strcmp(crawl, "-") != 0) {
        optout_doc_time t = {.has_time = 1, .time_from_crawl = 1};
        snprintf(t.crawl, sizeof t.crawl, "%s", crawl);
        optout_history_pick pick;
        if (optout_history_crawl_monday(crawl, &t.time) != 0 ||
            optout_history_select(w->cc, host, len, OPTOUT_HISTORY_HTTPS, &t, w->max_age, &pick, w->err,
                                  sizeof w->err) != 0) {
            w->failed = 1;
            return -1;
        }
        if (pick.coverage == OPTOUT_COVERAGE_SAME_CRAWL) return 0;
    }
    r->tokens += tokens;
    return 0;
}

/* A surveyed run's order: the planned hosts by their tokens in documents that no Common Crawl
 * capture of their crawl covers (DIR/survey.tsv against the history stage's DIR/history/), most
 * first, then by host key; hosts without such tokens are left out (*n shrinks). Survey rows carry
 * no document time, so only a same-crawl capture covers: an earlier capture (step 2) judges a
 * document only when no later capture of any source is at or before its time, and a Wayback
 * capture may be that later one. 0, or -1 (logged). */
static int wb_uncovered(const struct broker *b, struct wb_ranked *r, size_t *n) {
    const struct broker_config *c = b->cfg;
    char path[4200], err[1024];
    struct wb_survey w = {.planned = optout_strmap_new(), .max_age = c->history_max_age};
    if (!w.planned) optout_oom("wayback order");
    for (size_t i = 0; i < *n; i++)
        if (optout_strmap_put(w.planned, r[i].host, strlen(r[i].host), &r[i], NULL) != 0) optout_oom("wayback order");
    optout_history_archive *a = NULL;
    optout_history_source src;
    int rc = 0;
    if (c->cc_robots_count || c->cc_crawls) { /* the history stage has merged its parts into DIR/history/ */
        if (!(a = optout_history_archive_open(c->dir, err, sizeof err))) {
            optout_log(LOG_ERR, "wayback: the Common Crawl captures: %s", err);
            rc = -1;
        } else {
            src = optout_history_archive_source(a);
            w.cc = &src;
        }
    }
    snprintf(path, sizeof path, "%s/survey.tsv", c->dir);
    if (rc == 0 && optout_survey_read(path, wb_survey_row, &w, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "wayback: ordering the hosts by their uncovered tokens: %s", w.failed ? w.err : err);
        rc = -1;
    }
    optout_history_archive_close(a);
    optout_strmap_free(w.planned, NULL);
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (r[i].tokens) r[kept++] = r[i];
    *n = kept;
    return rc;
}

/* The Wayback's host list: --wayback-hosts-file as given; else the plan's hosts (the ranking's
 * hosts.txt or --hosts) ordered by wb_uncovered when the run has a survey, else (no survey: a
 * run judged by today's robots.txt only) the ranking's by their tokens over every crawl, --hosts
 * in its order; the first --wayback-hosts. *hosts points into *list (free both). 0, or -1 (logged). */
static int wb_list(const struct broker *b, optout_hostlist **list, const char ***hosts, size_t *n) {
    const struct broker_config *c = b->cfg;
    char err[1024], dir[4200];
    const char *from = c->wayback_hosts_file ? c->wayback_hosts_file : b->hosts_path;
    if (!(*list = optout_hostlist_read(from, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err))) {
        optout_log(LOG_ERR, "wayback: the host list: %s", err);
        return -1;
    }
    *n = optout_hostlist_count(*list);
    if (!(*hosts = malloc((*n ? *n : 1) * sizeof **hosts))) optout_oom("wayback hosts");
    memcpy(*hosts, optout_hostlist_hosts(*list), *n * sizeof **hosts);
    int surveyed = stages_surveying(c), ranked = !c->hosts_file;
    int rc = 0;
    if (!c->wayback_hosts_file && (surveyed || ranked)) {
        struct wb_ranked *r = calloc(*n ? *n : 1, sizeof *r);
        if (!r) optout_oom("wayback order");
        for (size_t i = 0; i < *n; i++) r[i] = (struct wb_ranked){(*hosts)[i], 0};
        if (surveyed) {
            rc = wb_uncovered(b, r, n);
        } else {
            optout_strmap *m = optout_strmap_new();
            if (!m) optout_oom("wayback order");
            for (size_t i = 0; i < *n; i++)
                if (optout_strmap_put(m, r[i].host, strlen(r[i].host), &r[i], NULL) != 0) optout_oom("wayback order");
            snprintf(dir, sizeof dir, "%s/ranking", c->dir);
            if ((rc = optout_rank_read_tokens(dir, wb_add_tokens, m, err, sizeof err)) != 0)
                optout_log(LOG_ERR, "wayback: ordering the hosts by tokens: %s", err);
            optout_strmap_free(m, NULL);
        }
        qsort(r, *n, sizeof *r, wb_by_tokens);
        for (size_t i = 0; i < *n; i++) (*hosts)[i] = r[i].host;
        free(r);
    }
    if (*n > c->wayback_hosts) *n = (size_t)c->wayback_hosts;
    if (rc != 0) {
        free(*hosts);
        optout_hostlist_free(*list);
        *hosts = NULL, *list = NULL;
    }
    return rc ? -1 : 0;
}

/* 1 when every stage the Wayback's host list derives from has finished: the survey and the
 * ranking (the plan's hosts, their tokens), history (Common Crawl's captures); not fetch. */
static int wb_list_known(const struct broker *b) {
    for (int s = 0; s < STAGE_WAYBACK; s++)
        if (s != STAGE_FETCH && (b->settled[s] < b->stage_count[s] || (b->stage_count[s] && b->stage <= (enum stage)s)))
            return 0;
    return 1;
}

int stages_wayback_prepare(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char err[1024], path[4200];
    optout_hostlist *list;
    const char **hosts;
    size_t n;
    if (wb_list(b, &list, &hosts, &n) != 0) return -1;
    snprintf(path, sizeof path, "%s/" STAGES_WAYBACK_HOSTS, c->dir);
    if (optout_hostlist_write(path, hosts, n, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "wayback: %s", err);
        free(hosts);
        optout_hostlist_free(list);
        return -1;
    }
    /* the estimate, before anything is asked: the queries left at the rate, one task at a time */
    size_t *groups = NULL, left = 0, done = 0, queries = 0;
    size_t blocks = optout_wayback_plan(hosts, n, c->wayback_block_hosts, &groups);
    size_t first = b->stage_first[STAGE_WAYBACK], tasks = b->stage_count[STAGE_WAYBACK];
    for (size_t i = 0; i < blocks; i++) {
        queries += groups[i];
        if (i < tasks && b->tasks[first + i].state == TASK_DONE) done++;
        else left += groups[i];
    }
    free(groups);
    free(hosts);
    optout_hostlist_free(list);
    double secs = (double)left / c->wayback_rate;
    b->wayback_plan = (struct wayback_plan){.known = 1, .hosts = n, .queries = queries, .blocks = blocks, .done = done,
                                            .left = left, .seconds = secs};
    optout_log(LOG_WARNING, "wayback: %zu hosts (%zu queries) in %zu blocks, %zu done already; one task at a time at "
               "%.3g request/s: at least %.0f s (%.1f h) for the %zu queries left, plus one request per distinct "
               "robots.txt body and per extra page of a long answer", n, queries, blocks, done, c->wayback_rate, secs,
               secs / 3600, left);
    b->wayback_started = optout_now_ms();
    b->wayback_settled_at_start = b->settled[STAGE_WAYBACK];
    return 0;
}

int stages_wayback_dry_run(struct broker *b) {
    if (!b->cfg->wayback || b->wayback_plan.known) return 0;
    if (!wb_list_known(b)) {
        optout_log(LOG_NOTICE, "dry run: the Wayback's hosts are known once the stages before it have run (--stop-after %s)",
                   b->stage_count[STAGE_HISTORY] || b->history_deferred ? "history" : "rank or fetch");
        return 0;
    }
    return stages_wayback_prepare(b);
}

int stages_wayback_reopen(struct broker *b) {
    size_t first = b->stage_first[STAGE_WAYBACK], n = b->stage_count[STAGE_WAYBACK], reopened = 0, groups = 0;
    for (size_t i = 0; i < n; i++) {
        struct task *t = &b->tasks[first + i];
        uint64_t failed = b->wayback_block_counts[i][OPTOUT_WAYBACK_FAILED];
        if (t->state != TASK_DONE || !failed) continue;
        groups += failed;
        if (b->settled[STAGE_FILTER]) continue;
        t->state = TASK_PENDING;
        t->worker = -1;
        b->done--;
        b->settled[STAGE_WAYBACK]--;
        reopened++;
    }
    if (groups && b->settled[STAGE_FILTER])
        optout_log(LOG_WARNING, "wayback: %zu host group%s answered what is not CDX JSON; not asked again, the filter "
                   "stage has judged with the archive as it is", groups, groups == 1 ? "" : "s");
    else if (reopened)
        optout_log(LOG_WARNING, "wayback: %zu host group%s of %zu published block%s answered what is not CDX JSON: "
                   "asked again (those groups only)", groups, groups == 1 ? "" : "s", reopened, reopened == 1 ? "" : "s");
    if (reopened) b->counts_for = 0; /* status.c counts the stages again */
    return 0;
}

int stages_may_lease(const struct broker *b, size_t task) {
    if (b->tasks[task].kind != OPTOUT_TASK_WAYBACK) return 1;
    size_t first = b->stage_first[STAGE_WAYBACK];
    for (size_t i = first; i < first + b->stage_count[STAGE_WAYBACK]; i++)
        if (b->tasks[i].state == TASK_LEASED) return 0;
    return 1;
}

/* The survey: every rank map's part into DIR/survey.tsv, and its summary for the dry run and the
 * log. Idempotent: a restart merges again. */
static int merge_survey(struct broker *b) {
    const struct broker_config *c = b->cfg;
    size_t n = b->stage_count[STAGE_RANK_MAP];
    char **parts = calloc(n ? n : 1, sizeof *parts), out[4200], err[1024];
    int rc = parts ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (asprintf(&parts[i], "%s/ranking/map/%06zu.survey.tsv", c->dir, i) < 0) parts[i] = NULL, rc = -1;
    snprintf(out, sizeof out, "%s/survey.tsv", c->dir);
    optout_survey_summary_free(&b->survey);
    /* with --robots-dir the history stage's hosts: every host of the corpus (hosts_path) */
    const char *hosts = c->robots_dir && !c->hosts_file ? b->hosts_path : NULL;
    if (rc == 0 && optout_survey_merge((const char *const *)parts, n, out, hosts, &b->survey, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "survey: %s", err);
        rc = -1;
    } else if (rc == 0) {
        b->surveyed = 1;
        size_t named = b->survey.crawl_count - (b->survey.crawl_count && strcmp(b->survey.crawls[b->survey.crawl_count - 1].crawl, "-") == 0);
        optout_log(LOG_INFO, "survey: %llu documents of %llu hosts name %zu crawls (%s%s%s)",
                   (unsigned long long)b->survey.docs, (unsigned long long)b->survey.hosts, named, out,
                   hosts ? "; the hosts in " : "", hosts ? hosts : "");
    }
    for (size_t i = 0; parts && i < n; i++) free(parts[i]);
    free(parts);
    if (rc == 0 && b->history_deferred && (plan_history_auto_resolve(b, &b->survey) != OPTOUT_EXIT_OK ||
                                           stages_replan_history(b) != 0))
        rc = -1;
    return rc;
}

int stages_replan_history(struct broker *b) {
    if (history_layout(b, b->history_passes ? b->history_passes : 1) != 0 || history_replanned(b) != 0) return -1;
    optout_log(LOG_INFO, "history: %zu tasks planned after the survey (%zu tasks in all)", b->stage_count[STAGE_HISTORY],
               b->task_count);
    return 0;
}

int stages_finish(struct broker *b, enum stage s) {
    int grew;
    if (s == STAGE_HISTORY && b->stage_count[s] > 0 && (grew = history_next_pass(b)) != 0) return grew;
    if (s == STAGE_RANK_MAP && b->stage_count[s] > 0 && stages_surveying(b->cfg) && merge_survey(b) != 0) return -1;
    if (s == STAGE_RANK_REDUCE && b->stage_count[s] > 0) return merge_ranking(b);
    if (s == STAGE_FETCH && b->stage_count[s] > 0) return stages_write_blocked(b);
    /* a run reading captures of crawls none of which has a capture list still gets its (empty) archive;
     * with a Wayback stage too, whose host list is read against it (the Wayback's merge replaces it) */
    int cc = b->cfg->cc_robots_count > 0 || b->cfg->cc_crawls != NULL;
    if (s == STAGE_HISTORY && (b->stage_count[s] > 0 || (plan_judges_history(b) && !b->cfg->history_dir)) &&
        (cc || !b->stage_count[STAGE_WAYBACK]))
        return merge_history(b, 0);
    if (s == STAGE_WAYBACK && b->stage_count[s] > 0) return merge_history(b, 1);
    return 0;
}
