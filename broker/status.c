/* status.c — the run's progress as others see it: the STATUS answer (`optout status`, the live
 * display of `optout run`) and the Prometheus snapshot (metrics.h). Both count through count(),
 * so they always agree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_internal.h"
#include "metrics.h"
#include "optout/files.h"
#include "optout/log.h"
#include "optout/util.h"
#include "records.h"

/* What the status answer and the metrics count: tasks by stage and state, workers alive, hosts
 * fetched. Only the running stage's tasks change state, so the others are counted once per stage
 * change and kept; the running stage is counted each time. */
struct counts {
    size_t tasks[STAGE_COUNT][5];
    size_t alive;
    uint64_t fetched;
};

static void count(struct broker *b, struct counts *c) {
    if (b->counts_for != (int)b->stage + 1) {
        memset(b->settled_counts, 0, sizeof b->settled_counts);
        for (int s = 0; s < STAGE_COUNT; s++)
            for (size_t i = b->stage_first[s]; s != (int)b->stage && i < b->stage_first[s] + b->stage_count[s]; i++)
                b->settled_counts[s][b->tasks[i].state]++;
        b->counts_for = (int)b->stage + 1;
    }
    memcpy(c->tasks, b->settled_counts, sizeof c->tasks);
    enum stage st = b->stage; /* STAGE_COUNT once every stage has finished */
    if (st < STAGE_COUNT)
        for (size_t i = b->stage_first[st]; i < b->stage_first[st] + b->stage_count[st]; i++)
            c->tasks[st][b->tasks[i].state]++;
    c->alive = 0;
    for (size_t i = 0; i < b->worker_count; i++) c->alive += b->workers[i].alive;
    c->fetched = 0;
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) c->fetched += b->hosts_by_outcome[i];
}

/* The metrics snapshot (metrics.h), published on the loop's tick. Wall-clock times are for
 * Prometheus only: the run's own timing stays on CLOCK_MONOTONIC. */
void status_publish_metrics(struct broker *b) {
    if (!b->metrics) return;
    struct counts c;
    count(b, &c);
    struct metrics_snapshot s = {.epoch = b->epoch, .stage = (int)b->stage, .tasks_done = b->done,
                                 .tasks_failed = b->failed, .workers_alive = c.alive, .queue_depth = b->queue_len,
                                 .journal_fsyncs = b->journal_fsyncs, .group_commits = b->group_commits,
                                 .group_commit_tasks = b->group_commit_tasks};
    snprintf(s.run, sizeof s.run, "%s", b->run_id);
    for (int st = 0; st < STAGE_COUNT; st++)
        for (int k = 0; k < METRICS_TASK_STATES; k++) s.tasks[st][k] = c.tasks[st][k];
    const optout_bucket *t = &b->stats->total;
    s.docs_in = t->docs_in, s.docs_removed = t->docs_removed, s.bytes_in = t->bytes_in;
    s.bytes_removed = t->bytes_removed, s.tokens_in = t->tokens_in, s.tokens_removed = t->tokens_removed;
    memcpy(s.hosts_by_outcome, b->hosts_by_outcome, sizeof s.hosts_by_outcome);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    s.time = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    s.start_time = s.time - (double)(optout_now_ms() - b->started) / 1000.0;
    metrics_publish(b->metrics, &s);
}

/* The status answer: the running stage's tasks by state first (what `optout run` draws), then
 * every stage's totals (a skipped stage with 0 tasks: `optout run` says it was skipped), workers
 * and rates. */
void status_json(struct broker *b, char *out, size_t cap) {
    struct counts c;
    count(b, &c);
    enum stage st = b->stage < STAGE_COUNT ? b->stage : STAGE_FILTER;
    const size_t *n = c.tasks[st];
    size_t alive = c.alive;
    double secs = (double)(optout_now_ms() - b->started) / 1000.0;
    double tasks_rate = secs > 0 ? (double)(b->done - b->done_at_start) / secs : 0;
    double docs_rate = secs > 0 ? (double)(b->stats->total.docs_in - b->docs_at_start) / secs : 0;
    uint64_t fetched = c.fetched;
    int len = snprintf(out, cap,
                       "{\"epoch\": %llu, \"stage\": \"%s\", \"tasks\": {\"total\": %zu, \"pending\": %zu, "
                       "\"leased\": %zu, \"accepted\": %zu, \"done\": %zu, \"failed\": %zu}, \"stages\": {",
                       (unsigned long long)b->epoch, stage_name(b->stage), b->stage_count[st], n[TASK_PENDING],
                       n[TASK_LEASED], n[TASK_ACCEPTED], n[TASK_DONE], n[TASK_FAILED]);
    for (int s = 0, first = 1; s < STAGE_COUNT && len > 0 && (size_t)len < cap; s++) {
        len += snprintf(out + len, cap - (size_t)len, "%s\"%s\": {\"tasks\": %zu, \"settled\": %zu}", first ? "" : ", ",
                        stage_name((enum stage)s), b->stage_count[s], b->settled[s]);
        first = 0;
    }
    if (len > 0 && (size_t)len < cap)
        snprintf(out + len, cap - (size_t)len,
                 "}, \"failed_before\": %zu, \"workers\": %zu, \"worker_entries\": %zu, \"hosts_fetched\": %llu, "
                 "\"docs_in\": %llu, "
                 "\"docs_removed\": %llu, \"seconds\": %.1f, \"tasks_per_second\": %.2f, \"docs_per_second\": %.0f}",
                 b->failed_before, alive, b->worker_count, (unsigned long long)fetched, (unsigned long long)b->stats->total.docs_in,
                 (unsigned long long)b->stats->total.docs_removed, secs, tasks_rate, docs_rate);
}


int status_write_stages(const struct broker *b) {
    char path[4200], text[1024];
    snprintf(path, sizeof path, "%s/" RECORD_STAGES_FILE, b->cfg->dir);
    size_t n = (size_t)snprintf(text, sizeof text, "{\"tasks\": %zu, \"stages\": [", b->task_count);
    for (int s = 0; s < STAGE_COUNT && n < sizeof text; s++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"name\": \"%s\", \"first\": %zu, \"tasks\": %zu}",
                              s ? ", " : "", stage_name((enum stage)s), b->stage_first[s], b->stage_count[s]);
    if (n < sizeof text) n += (size_t)snprintf(text + n, sizeof text - n, "]}\n");
    if (n >= sizeof text) return -1; /* four stages of numbers: cannot happen */
    /* a restart of the same run lays out the same stages: the file stays untouched (a complete
     * run's directory does not change when it is started again) */
    size_t len = 0;
    char *old = optout_read_file(path, sizeof text, &len);
    int same = old && len == n && memcmp(old, text, n) == 0;
    free(old);
    if (same) return 0;
    char err[4400];
    if (optout_publish_bytes(path, text, n, 0644, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    return 0;
}
