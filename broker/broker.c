/* broker.c — optout-broker's run loop: plan, journal replay, dispatch with credit, heartbeats,
 * liveness, group-committed publication, report (docs/fleet.md).
 *
 * One thread, one ROUTER socket, one zmq_poll loop whose timeout is the nearest deadline. Task
 * states: pending (queued) -> leased (to one worker, one attempt) -> accepted (journaled, waiting
 * for the group commit) -> done (published); or failed after `retries` failures or lease expiries.
 * Times come from CLOCK_MONOTONIC only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "broker.h"
#include "metrics.h"
#include "optout/curve.h"
#include "optout/journal.h"
#include "optout/log.h"
#include "optout/policy.h"
#include "optout/manifest.h"
#include "optout/report.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "zap.h"

static volatile sig_atomic_t stop_requested;

static enum stage stage_of(const struct broker *b, size_t task) {
    enum stage s = STAGE_RANK_MAP;
    while (s + 1 < STAGE_COUNT && task >= b->stage_first[s + 1]) s++;
    return s;
}
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files -------------------------------------------------------------------------------- */

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(child);
        else unlink(child);
    }
    closedir(d);
    rmdir(path);
}

static void staging_path(const struct broker *b, size_t task, uint64_t epoch, uint64_t attempt, char *out,
                         size_t cap) {
    snprintf(out, cap, "%s/.staging/%zu.%llu.%llu", b->cfg->dir, task, (unsigned long long)epoch,
             (unsigned long long)attempt);
}

/* Moves an accepted attempt's files into place. A file already moved (by an earlier broker that
 * died before journaling `published`) is recognised by its size and SHA-256. */
static int publish_files(struct broker *b, size_t task, const struct record *r) {
    char staging[4096], from[8192], to[8192];
    staging_path(b, task, r->epoch, r->attempt, staging, sizeof staging);
    for (size_t i = 0; i < r->file_count; i++) {
        snprintf(from, sizeof from, "%s/%s", staging, r->files[i].name);
        snprintf(to, sizeof to, "%s/%s", b->cfg->dir, r->files[i].name);
        if (optout_make_parent_dirs(to) != 0) {
            optout_log(LOG_ERR, "task %zu: cannot create the directory of %s: %s", task, to, strerror(errno));
            return -1;
        }
        if (rename(from, to) != 0) {
            char hex[65];
            struct stat st;
            if (errno == ENOENT && stat(to, &st) == 0 && (uint64_t)st.st_size == r->files[i].size &&
                optout_sha256_file(to, hex) == 0 && strcmp(hex, r->files[i].sha256) == 0)
                continue; /* published before the crash */
            optout_log(LOG_ERR, "task %zu: publishing %s as %s: %s", task, from, to, strerror(errno));
            return -1;
        }
        char *slash = strrchr(to, '/');
        *slash = '\0';
        if (optout_fsync_dir(to) != 0) {
            optout_log(LOG_ERR, "task %zu: fsync of %s: %s", task, to, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- journal ---------------------------------------------------------------------------- */

/* Keeps a copy of an accepted record's journal payload with its task. */
static void keep_accepted(struct task *t, const void *payload, size_t len) {
    free(t->accepted);
    t->accepted = optout_malloc(len);
    memcpy(t->accepted, payload, len);
    t->accepted_len = len;
}

static void drop_accepted(struct task *t) {
    free(t->accepted);
    t->accepted = NULL;
    t->accepted_len = 0;
}

/* Appends a record; with `keep`, the task keeps a copy of the payload (accepted records). */
static int journal_append_keep(struct broker *b, const struct record *r, struct task *keep) {
    msgpack_sbuffer buf;
    record_encode(r, &buf);
    char err[OPTOUT_JOURNAL_ERR_LEN];
    int rc = optout_journal_append(b->journal, buf.data, buf.size, err, sizeof err);
    if (rc == 0 && keep) keep_accepted(keep, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0) optout_log(LOG_ERR, "%s", err);
    return rc;
}

static int journal_append(struct broker *b, const struct record *r) { return journal_append_keep(b, r, NULL); }

static int journal_sync(struct broker *b) {
    char err[OPTOUT_JOURNAL_ERR_LEN];
    if (optout_journal_sync(b->journal, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    b->journal_fsyncs++;
    return 0;
}

static void set_error(struct task *t, const char *why) {
    free(t->error);
    t->error = strdup(why);
}

static int replay_record(const void *data, size_t len, uint64_t offset, void *arg) {
    struct broker *b = arg;
    struct record r;
    msgpack_unpacked keep;
    msgpack_unpacked_init(&keep);
    if (record_decode(data, len, &r, &keep) != 0 ||
        (r.kind != RECORD_EPOCH && r.task >= b->task_count)) {
        optout_log(LOG_ERR, "%s/journal: record at offset %llu does not belong to this plan", b->cfg->dir,
                   (unsigned long long)offset);
        msgpack_unpacked_destroy(&keep);
        return -1;
    }
    struct task *t = r.kind == RECORD_EPOCH ? NULL : &b->tasks[r.task];
    switch (r.kind) {
    case RECORD_EPOCH:
        if (r.epoch > b->max_epoch) b->max_epoch = r.epoch;
        break;
    case RECORD_ACCEPTED: /* the last accepted attempt of a task is the one that counts */
        keep_accepted(t, data, len);
        if (t->state != TASK_DONE) t->state = TASK_ACCEPTED;
        break;
    case RECORD_PUBLISHED: t->state = TASK_DONE; break;
    case RECORD_FAILED:
        if (t->state != TASK_DONE) {
            t->state = TASK_FAILED;
            set_error(t, r.error);
        }
        break;
    }
    msgpack_unpacked_destroy(&keep);
    return 0;
}

static int merge_stats(struct broker *b, size_t task, const void *stats, size_t len) {
    return stages_merge_stats(b, task, stats, len);
}

/* ---- workers ------------------------------------------------------------------------------ */

static long find_worker(struct broker *b, const void *id, size_t len) {
    for (size_t i = 0; i < b->worker_count; i++)
        if (b->workers[i].alive && b->workers[i].id_len == len && memcmp(b->workers[i].id, id, len) == 0)
            return (long)i;
    return -1;
}

static int send_to(struct broker *b, long w, const optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(m, &buf, &len, err) != 0) {
        optout_log(LOG_ERR, "encoding %s: %s", optout_msg_type_name(m->type), err);
        return -1;
    }
    struct worker *wk = &b->workers[w];
    int rc = zmq_send(b->router, wk->id, wk->id_len, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(b->router, buf, len, 0);
    free(buf);
    if (rc < 0) {
        optout_log(LOG_WARNING, "worker %s unreachable: %s", wk->name, zmq_strerror(zmq_errno()));
        return -1;
    }
    wk->last_sent = now_ms();
    return 0;
}

static void queue_push(struct broker *b, size_t task) {
    b->queue[(b->queue_head + b->queue_len) % b->task_count] = task;
    b->queue_len++;
    b->tasks[task].state = TASK_PENDING;
    b->tasks[task].worker = -1;
}

static void fail_task(struct broker *b, size_t task, const char *why) {
    struct task *t = &b->tasks[task];
    t->state = TASK_FAILED;
    t->worker = -1;
    set_error(t, why);
    b->failed++;
    b->settled[stage_of(b, task)]++;
    struct record r = {.kind = RECORD_FAILED, .task = task};
    snprintf(r.error, sizeof r.error, "%.*s", (int)sizeof r.error - 1, why);
    journal_append(b, &r);
    char fields[4200];
    optout_log(LOG_ERR, "%s: failed permanently: %s", task_fields(b, task, fields, sizeof fields), why);
}

/* ---- Redis ---------------------------------------------------------------------------- */

/* Loads the robots directory into Redis (idempotent; completeness is written last). */
static int redis_load(struct broker *b) {
    char err[1024];
    long n;
    if (b->cfg->robots_dir) {
        n = optout_verdicts_load_redis(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password, b->redis_prefix,
                                       b->cfg->robots_dir, err, sizeof err);
    } else { /* the fetch archive is the durable record; Redis a cache rebuilt from it */
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/robots", b->cfg->dir);
        n = optout_verdicts_load_redis_archive(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password,
                                               b->redis_prefix, archive, err, sizeof err);
    }
    if (n < 0) {
        optout_log(LOG_ERR, "loading verdicts into Redis: %s", err);
        return -1;
    }
    optout_log(LOG_INFO, "Redis %s: %ld host records under %s", b->cfg->redis, n, b->redis_prefix);
    return 0;
}

/* 1 when the store is complete, 0 when not (restarted, flushed, evicted), -1 when unreachable. */
static int redis_complete(struct broker *b) {
    char host[1024];
    redisContext *c;
    struct timeval tv = {2, 0};
    if (strncmp(b->cfg->redis, "unix:", 5) == 0) {
        c = redisConnectUnixWithTimeout(b->cfg->redis + 5, tv);
    } else {
        snprintf(host, sizeof host, "%s", b->cfg->redis);
        char *colon = strrchr(host, ':');
        if (!colon) return -1;
        *colon = '\0';
        c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    }
    if (!c || c->err) {
        if (c) redisFree(c);
        return -1;
    }
    int rc = 1;
    if (b->cfg->redis_user || b->cfg->redis_password) { /* as verdicts.h: an ACL user, or the password alone */
        const char *user = b->cfg->redis_user, *pw = b->cfg->redis_password ? b->cfg->redis_password : "";
        redisReply *r = user ? redisCommand(c, "AUTH %s %s", user, pw) : redisCommand(c, "AUTH %s", pw);
        if (!r || r->type == REDIS_REPLY_ERROR) rc = -1;
        if (r) freeReplyObject(r);
    }
    if (rc == 1) {
        redisReply *r = redisCommand(c, "MGET %s%s %s%s", b->redis_prefix, "planned", b->redis_prefix, "complete");
        rc = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
                     r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, r->element[1]->str) == 0
                 ? 1
                 : (r ? 0 : -1);
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    return rc;
}

/* Deletes what an abandoned attempt staged (a late result of it is stale anyway). */
static void discard_attempt(struct broker *b, size_t task) {
    char staging[4096];
    staging_path(b, task, b->tasks[task].epoch, b->tasks[task].attempt, staging, sizeof staging);
    remove_tree(staging);
}

/* A failure or a lease expiry: retry, or give up after `retries` attempts. */
static void attempt_failed(struct broker *b, size_t task, const char *why) {
    discard_attempt(b, task);
    /* a worker that found the shared store incomplete failed for Redis, not for its task: reload it
     * (a missing verdict must never read as "no robots.txt") */
    if (b->cfg->redis && redis_complete(b) == 0) {
        optout_log(LOG_WARNING, "Redis store %s is incomplete (restarted or flushed?): reloading it", b->redis_prefix);
        if (redis_load(b) == 0) { /* the store failed, not the task: no retry counted */
            queue_push(b, task);
            return;
        }
    }
    struct task *t = &b->tasks[task];
    t->tries++;
    if (t->tries >= b->cfg->retries) {
        char msg[OPTOUT_MSG_ERROR_MAX + 64];
        snprintf(msg, sizeof msg, "%s (after %u attempts)", why, t->tries);
        fail_task(b, task, msg);
    } else {
        char fields[4200];
        optout_log(LOG_WARNING, "%s: attempt %u failed: %s; retrying", task_fields(b, task, fields, sizeof fields),
                   t->tries, why);
        queue_push(b, task);
    }
}

static void worker_dead(struct broker *b, long w, const char *why) {
    struct worker *wk = &b->workers[w];
    wk->alive = 0;
    optout_log(LOG_WARNING, "worker=%s: %s", wk->name, why);
    for (size_t i = 0; i < b->task_count; i++)
        if (b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w)
            attempt_failed(b, i, "its worker died (lease expired)");
}

/* ---- messages ----------------------------------------------------------------------------- */

static void send_ack(struct broker *b, long w, size_t task, uint64_t attempt) {
    if (w < 0 || !b->workers[w].alive) return;
    optout_msg ack = {.type = OPTOUT_MSG_ACK, .epoch = b->epoch, .task = task, .attempt = attempt};
    send_to(b, w, &ack);
}

static void on_result(struct broker *b, long w, const optout_msg *m) {
    struct task *t = m->task < b->task_count ? &b->tasks[m->task] : NULL;
    if (m->epoch != b->epoch || !t || t->state != TASK_LEASED || t->attempt != m->attempt) {
        char staging[4096];
        if (t) {
            staging_path(b, m->task, m->epoch, m->attempt, staging, sizeof staging);
            remove_tree(staging);
        }
        send_ack(b, w, m->task, m->attempt); /* stale: discarded */
        return;
    }
    size_t task = m->task;
    if (!m->ok) {
        attempt_failed(b, task, m->error[0] ? m->error : "failed without a message");
        return;
    }
    for (size_t i = 0; i < m->file_count; i++)
        if (!stages_output_allowed(b, task, m->files[i].name)) {
            attempt_failed(b, task, "worker staged a file outside the directories of its task's kind");
            return;
        }
    struct record r = {.kind = RECORD_ACCEPTED, .task = task, .epoch = m->epoch, .attempt = m->attempt,
                       .file_count = m->file_count, .stats = m->stats, .stats_len = m->stats_len};
    memcpy(r.files, m->files, m->file_count * sizeof *m->files);
    if (journal_append_keep(b, &r, t) != 0) {
        stop_requested = 1;
        return;
    }
    t->state = TASK_ACCEPTED;
    if (b->pending_count == 0) b->commit_deadline = now_ms() + GROUP_COMMIT_MS;
    b->pending[b->pending_count++] = task;
}

/* Settles a task's accepted attempt: with `publish`, its files are moved into place and
 * `published` is journaled; then its statistics are merged into the totals (where they live from
 * then on) and the kept record is dropped. */
static int settle_accepted(struct broker *b, size_t task, int publish) {
    struct task *t = &b->tasks[task];
    struct record *r = malloc(sizeof *r); /* tens of KiB: not on the stack */
    msgpack_unpacked keep;
    msgpack_unpacked_init(&keep);
    int rc = -1;
    if (!r || record_decode(t->accepted, t->accepted_len, r, &keep) != 0) {
        optout_log(LOG_ERR, "task %zu: its accepted record cannot be read back", task);
        goto out;
    }
    if (publish) {
        if (publish_files(b, task, r) != 0) goto out;
        char staging[4096];
        staging_path(b, task, r->epoch, r->attempt, staging, sizeof staging);
        remove_tree(staging);
        struct record p = {.kind = RECORD_PUBLISHED, .task = task};
        if (journal_append(b, &p) != 0) goto out;
    }
    if (merge_stats(b, task, r->stats, r->stats_len) != 0) goto out;
    for (size_t i = 0; i < r->file_count; i++) { /* for the manifest: these need not be read again */
        if (b->published_count == b->published_cap) {
            size_t cap = b->published_cap ? 2 * b->published_cap : 256;
            struct published_file *p = realloc(b->published, cap * sizeof *p);
            if (!p) goto out;
            b->published = p;
            b->published_cap = cap;
        }
        struct published_file *p = &b->published[b->published_count];
        if (!(p->path = strdup(r->files[i].name))) goto out;
        p->size = r->files[i].size;
        memcpy(p->sha256, r->files[i].sha256, sizeof p->sha256);
        b->published_count++;
    }
    drop_accepted(t);
    rc = 0;
out:
    msgpack_unpacked_destroy(&keep);
    free(r);
    return rc;
}

/* The group commit: one fsync for every accepted record pending, then publication. */
static int commit_pending(struct broker *b) {
    if (b->pending_count == 0) return 0;
    if (journal_sync(b) != 0) return -1;
    if (b->cfg->crash_after_accept) _exit(99); /* fault injection: accepted, not published */
    b->group_commits++;
    b->group_commit_tasks += b->pending_count;
    for (size_t i = 0; i < b->pending_count; i++) {
        size_t task = b->pending[i];
        struct task *t = &b->tasks[task];
        if (settle_accepted(b, task, 1) != 0) return -1;
        t->state = TASK_DONE;
        b->done++;
        b->settled[stage_of(b, task)]++;
        char fields[4200];
        optout_log(LOG_INFO, "%s: published", task_fields(b, task, fields, sizeof fields));
        send_ack(b, t->worker, task, t->attempt);
        t->worker = -1;
    }
    b->pending_count = 0;
    return 0;
}

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
static void publish_metrics(struct broker *b) {
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
    s.start_time = s.time - (double)(now_ms() - b->started) / 1000.0;
    metrics_publish(b->metrics, &s);
}

/* The status answer: the running stage's tasks by state first (what `optout run` draws), then
 * every stage's totals, workers and rates. */
static void status_json(struct broker *b, char *out, size_t cap) {
    struct counts c;
    count(b, &c);
    enum stage st = b->stage < STAGE_COUNT ? b->stage : STAGE_FILTER;
    const size_t *n = c.tasks[st];
    size_t alive = c.alive;
    double secs = (double)(now_ms() - b->started) / 1000.0;
    double tasks_rate = secs > 0 ? (double)(b->done - b->done_at_start) / secs : 0;
    double docs_rate = secs > 0 ? (double)(b->stats->total.docs_in - b->docs_at_start) / secs : 0;
    uint64_t fetched = c.fetched;
    int len = snprintf(out, cap,
                       "{\"epoch\": %llu, \"stage\": \"%s\", \"tasks\": {\"total\": %zu, \"pending\": %zu, "
                       "\"leased\": %zu, \"accepted\": %zu, \"done\": %zu, \"failed\": %zu}, \"stages\": {",
                       (unsigned long long)b->epoch, stage_name(b->stage), b->stage_count[st], n[TASK_PENDING],
                       n[TASK_LEASED], n[TASK_ACCEPTED], n[TASK_DONE], n[TASK_FAILED]);
    for (int s = 0, first = 1; s < STAGE_COUNT && len > 0 && (size_t)len < cap; s++) {
        if (!b->stage_count[s]) continue;
        len += snprintf(out + len, cap - (size_t)len, "%s\"%s\": {\"tasks\": %zu, \"settled\": %zu}", first ? "" : ", ",
                        stage_name((enum stage)s), b->stage_count[s], b->settled[s]);
        first = 0;
    }
    if (len > 0 && (size_t)len < cap)
        snprintf(out + len, cap - (size_t)len,
                 "}, \"workers\": %zu, \"hosts_fetched\": %llu, \"docs_in\": %llu, \"docs_removed\": %llu, "
                 "\"seconds\": %.1f, \"tasks_per_second\": %.2f, \"docs_per_second\": %.0f}",
                 alive, (unsigned long long)fetched, (unsigned long long)b->stats->total.docs_in,
                 (unsigned long long)b->stats->total.docs_removed, secs, tasks_rate, docs_rate);
}

static void on_message(struct broker *b, const void *id, size_t id_len, const void *frame, size_t len) {
    optout_msg m;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_decode(frame, len, &m, err) != 0) {
        optout_log(LOG_WARNING, "dropped a malformed message (%zu bytes): %s", len, err);
        return;
    }
    long w = find_worker(b, id, id_len);
    if (m.type == OPTOUT_MSG_STATUS_REQUEST) {
        /* clients are not workers: answer on the same identity without registering it */
        char text[2048];
        status_json(b, text, sizeof text);
        optout_msg st = {.type = OPTOUT_MSG_STATUS, .epoch = b->epoch, .text = text, .text_len = strlen(text)};
        void *buf;
        size_t blen;
        if (optout_msg_encode(&st, &buf, &blen, err) == 0) {
            if (zmq_send(b->router, id, id_len, ZMQ_SNDMORE) >= 0) zmq_send(b->router, buf, blen, 0);
            free(buf);
        }
        return;
    }
    if (m.type == OPTOUT_MSG_READY) {
        if (w < 0) {
            if (b->worker_count == b->worker_cap) {
                b->worker_cap = b->worker_cap ? 2 * b->worker_cap : 16;
                b->workers = realloc(b->workers, b->worker_cap * sizeof *b->workers);
                if (!b->workers) optout_malloc(SIZE_MAX);
            }
            w = (long)b->worker_count++;
            memset(&b->workers[w], 0, sizeof b->workers[w]);
            if (id_len > sizeof b->workers[w].id) id_len = sizeof b->workers[w].id;
            memcpy(b->workers[w].id, id, id_len);
            b->workers[w].id_len = id_len;
            b->workers[w].alive = 1;
            optout_log(LOG_INFO, "worker=%s: joined with %u slots", m.worker, m.credit);
        }
        snprintf(b->workers[w].name, sizeof b->workers[w].name, "%s", m.worker);
        /* A registered worker says READY again when it learns this broker's epoch (it joined with
         * epoch 0). Its free slots were counted before the tasks leased to it since then reached
         * it, so those are taken off: otherwise its credit would stay one task too high for good.
         * (Tasks it did know of are only ever leased by an earlier epoch, never counted here.) */
        uint32_t leased = 0;
        for (size_t i = 0; i < b->task_count; i++) leased += b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w;
        b->workers[w].credit = m.credit > leased ? m.credit - leased : 0;
        b->workers[w].last_seen = now_ms();
        return;
    }
    if (w < 0) {
        /* an unknown peer (e.g. a worker of a previous broker): tell it our epoch so it re-registers */
        struct worker tmp = {0};
        if (id_len <= sizeof tmp.id) {
            optout_msg hb = {.type = OPTOUT_MSG_HEARTBEAT, .epoch = b->epoch};
            void *buf;
            size_t blen;
            if (optout_msg_encode(&hb, &buf, &blen, err) == 0) {
                if (zmq_send(b->router, id, id_len, ZMQ_SNDMORE) >= 0) zmq_send(b->router, buf, blen, 0);
                free(buf);
            }
        }
        return;
    }
    b->workers[w].last_seen = now_ms();
    switch (m.type) {
    case OPTOUT_MSG_HEARTBEAT: break;
    case OPTOUT_MSG_CREDIT:
        if (m.epoch == b->epoch) b->workers[w].credit += m.credit;
        break;
    case OPTOUT_MSG_RESULT: on_result(b, w, &m); break;
    case OPTOUT_MSG_HANDBACK:
        if (m.epoch == b->epoch && m.task < b->task_count && b->tasks[m.task].state == TASK_LEASED &&
            b->tasks[m.task].attempt == m.attempt) {
            char fields[4200];
            optout_log(LOG_INFO, "%s worker=%s: handed back", task_fields(b, m.task, fields, sizeof fields),
                       b->workers[w].name);
            discard_attempt(b, m.task);
            queue_push(b, m.task); /* not a failure: no retry counted */
        }
        break;
    case OPTOUT_MSG_BYE:
        b->workers[w].alive = 0;
        for (size_t i = 0; i < b->task_count; i++)
            if (b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w) {
                discard_attempt(b, i);
                queue_push(b, i);
            }
        optout_log(LOG_INFO, "worker=%s: left", b->workers[w].name);
        break;
    default: optout_log(LOG_WARNING, "unexpected %s from %s", optout_msg_type_name(m.type), b->workers[w].name);
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void dispatch(struct broker *b) {
    while (b->queue_len > 0) {
        long w = -1;
        for (size_t k = 0; k < b->worker_count; k++) { /* round robin over workers with credit */
            size_t i = (b->next_worker + k) % b->worker_count;
            if (b->workers[i].alive && b->workers[i].credit > 0) {
                w = (long)i;
                break;
            }
        }
        if (w < 0) return;
        b->next_worker = (size_t)w + 1;
        size_t task = b->queue[b->queue_head];
        b->queue_head = (b->queue_head + 1) % b->task_count;
        b->queue_len--;
        struct task *t = &b->tasks[task];
        t->attempt = ++b->seq;
        t->epoch = b->epoch;
        optout_msg m = {.type = OPTOUT_MSG_TASK, .epoch = b->epoch, .task = task, .attempt = t->attempt,
                        .with_removed = (uint8_t)b->cfg->with_removed, .config = b->config_blob,
                        .config_len = b->config_len};
        /* paths go out as (root, relative path) by the --root mounts */
        stages_task_message(b, task, &m);
        char staging[4096];
        staging_path(b, task, b->epoch, t->attempt, staging, sizeof staging);
        broker_path(b, staging, &m.staging);
        if (send_to(b, w, &m) != 0) {
            queue_push(b, task);
            worker_dead(b, w, "unreachable");
            continue;
        }
        b->workers[w].credit--;
        t->state = TASK_LEASED;
        t->worker = w;
    }
}

/* ---- the run ---------------------------------------------------------------------------------- */

/* x.jsonl -> x.jsonl.zst, x.jsonl.gz -> x.jsonl.zst, x.jsonl.zst unchanged (unless keep_format). */
static void output_name_of(const char *input_name, int keep_format, char *out, size_t cap) {
    size_t n = strlen(input_name);
    if (keep_format || (n > 4 && strcmp(input_name + n - 4, ".zst") == 0)) snprintf(out, cap, "%s", input_name);
    else if (n > 3 && strcmp(input_name + n - 3, ".gz") == 0) snprintf(out, cap, "%.*s.zst", (int)(n - 3), input_name);
    else snprintf(out, cap, "%s.zst", input_name);
}

/* The agent list's name and SHA-256 for the report: the file's, else the names' (one per line). */
static void agents_identity(const struct broker *b, char *name, size_t cap, char sha[65]) {
    const struct broker_config *c = b->cfg;
    size_t len = 0;
    char *text = NULL;
    if (c->agents_file && (text = optout_read_file(c->agents_file, (size_t)1 << 20, &len)) != NULL) {
        const char *slash = strrchr(c->agents_file, '/');
        snprintf(name, cap, "%s%s", slash ? slash + 1 : c->agents_file, c->agent_count ? " + --agent" : "");
    } else {
        snprintf(name, cap, "%s", c->agent_count ? "--agent list" : "apertus-paper (built in)");
    }
    if (!text) {
        size_t cap2 = 1;
        for (size_t i = 0; i < optout_agents_count(b->agents); i++) cap2 += strlen(optout_agents_name(b->agents, i)) + 1;
        text = optout_malloc(cap2);
        for (size_t i = 0; i < optout_agents_count(b->agents); i++)
            len += (size_t)sprintf(text + len, "%s\n", optout_agents_name(b->agents, i));
    }
    optout_sha256_hex(text, len, sha);
    free(text);
}

static void utc_time(uint64_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* report.json, report.md, the chart and report.msgpack (common/report.c), from the merged statistics. */
static int write_report(struct broker *b) {
    const struct broker_config *c = b->cfg;
    const char **inputs = calloc(b->failed + 1, sizeof *inputs), **errors = calloc(b->failed + 1, sizeof *errors);
    char **labels = calloc(b->failed + 1, sizeof *labels);
    size_t n = 0;
    int rc = -1;
    if (!inputs || !errors || !labels) goto out;
    char label[4200];
    for (size_t i = 0; i < b->task_count && n < b->failed; i++)
        if (b->tasks[i].state == TASK_FAILED) {
            if (!(labels[n] = strdup(task_label(b, i, label, sizeof label)))) goto out;
            inputs[n] = labels[n];
            errors[n++] = b->tasks[i].error ? b->tasks[i].error : "";
        }
    char agents_name[512], agents_sha[65], from[32], to[32], err[1024];
    agents_identity(b, agents_name, sizeof agents_name, agents_sha);
    optout_rank_reduce_config rank;
    stages_rank_config(c, &rank);
    int fetched = b->stage_count[STAGE_FETCH] > 0, ranked = c->top_en || c->top_non_en;
    uint64_t planned = 0;
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) planned += b->hosts_by_outcome[i];
    uint64_t t0 = b->fetched_from, t1 = b->fetched_to;
    if (!t0 && b->blocked && b->blocked->fetched_from > 0) /* a robots directory: its index.tsv's times */
        t0 = (uint64_t)b->blocked->fetched_from, t1 = (uint64_t)b->blocked->fetched_to;
    if (t0) utc_time(t0, from, sizeof from);
    if (t1) utc_time(t1, to, sizeof to);
    optout_report_info info = {
        .mode = optout_robots_mode_name(c->mode),
        .robots_dir = c->robots_dir,
        .robots_source = fetched ? "fetched" : c->robots_dir,
        .tasks = b->task_count,
        .failed = n,
        .failed_inputs = inputs,
        .failed_errors = errors,
        .agents_name = agents_name,
        .agents_sha256 = agents_sha,
        .host_key = c->host_key == OPTOUT_HOSTKEY_NETLOC ? "netloc" : "canonical",
        .unreachable = c->unreachable_disallows ? "disallow" : "keep",
        .robots_from = t0 ? from : NULL,
        .robots_to = t1 ? to : NULL,
        .top_en = ranked ? rank.top_en : 0,
        .top_non_en = ranked ? rank.top_non_en : 0,
        .metric = ranked ? optout_rank_metric_name(c->metric) : NULL,
        .hosts_by_outcome = fetched ? b->hosts_by_outcome : NULL,
        .hosts_planned = planned,
        .complete = b->failed == 0 && b->stage == STAGE_COUNT,
    };
    if (optout_report_write(c->dir, b->stats, b->agents, &info, err, sizeof err) != 0)
        optout_log(LOG_ERR, "writing the report: %s", err);
    else rc = 0;
out:
    for (size_t i = 0; labels && i < n; i++) free(labels[i]);
    free(labels);
    free(inputs);
    free(errors);
    return rc;
}

/* DIR/manifest.json: what a later run must reproduce (common/manifest.c). */
static int write_manifest(struct broker *b) {
    char agents_name[512], agents_sha[65], err[1024];
    agents_identity(b, agents_name, sizeof agents_name, agents_sha);
    int64_t from = (int64_t)b->fetched_from, to = (int64_t)b->fetched_to;
    if (!from && b->blocked) /* a robots directory's snapshot: its index.tsv's fetch times */
        from = b->blocked->fetched_from, to = b->blocked->fetched_to;
    optout_manifest_info info = {.agents_name = agents_name, .agents_sha256 = agents_sha,
                                 .agents_file = b->cfg->agents_file, .robots_from = from, .robots_to = to};
    optout_manifest_known *known = calloc(b->published_count + 1, sizeof *known);
    if (!known) return -1;
    for (size_t i = 0; i < b->published_count; i++)
        known[i] = (optout_manifest_known){b->published[i].path, b->published[i].size, b->published[i].sha256};
    info.known = known;
    info.known_count = b->published_count;
    optout_manifest_summary sum;
    int rc = optout_manifest_write(b->cfg->dir, &info, &sum, err, sizeof err);
    free(known);
    if (rc != 0) {
        optout_log(LOG_ERR, "manifest: %s", err);
        return -1;
    }
    optout_log(LOG_INFO, "%s/" OPTOUT_MANIFEST_FILE ": %zu inputs, %zu outputs (%llu bytes)", b->cfg->dir, sum.inputs,
               sum.outputs, (unsigned long long)sum.output_bytes);
    return 0;
}

/* Benchmarks: N inputs that exist only in the plan, for workers that answer without reading them. */
static int plan_synthetic(struct broker *b) {
    size_t n = b->cfg->synthetic_tasks;
    b->inputs.items = calloc(n, sizeof *b->inputs.items);
    if (!b->inputs.items) return OPTOUT_EXIT_FAILURE;
    b->inputs.count = n;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "/synthetic/%zu.jsonl", i);
        b->inputs.items[i].path = strdup(name);
        b->inputs.items[i].output_name = strdup(name + 11);
        if (!b->inputs.items[i].path || !b->inputs.items[i].output_name) return OPTOUT_EXIT_FAILURE;
    }
    snprintf(b->redis_prefix, sizeof b->redis_prefix, "optout:synthetic:");
    return OPTOUT_EXIT_OK;
}

static int plan(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    /* the run id: in every log line from here on, and in the Redis prefix */
    char run_hash[65], context[32];
    optout_sha256_hex(c->dir, strlen(c->dir), run_hash);
    snprintf(b->run_id, sizeof b->run_id, "%.12s", run_hash);
    snprintf(context, sizeof context, "run=%s", b->run_id);
    optout_log_set_context(context);
    if (c->synthetic_tasks) return plan_synthetic(b);
    char corpus[8192] = "", agents[8192] = "", level[16], retries[16], top_en[24], top_non_en[24], parts[16],
         fetch_tasks[16], scheme[8];
    for (size_t i = 0; i < c->corpus_count; i++)
        snprintf(corpus + strlen(corpus), sizeof corpus - strlen(corpus), "%s%s", i ? " " : "", c->corpus[i]);
    for (size_t i = 0; i < optout_agents_count(b->agents); i++)
        snprintf(agents + strlen(agents), sizeof agents - strlen(agents), "%s%s", i ? "," : "",
                 optout_agents_name(b->agents, i));
    snprintf(level, sizeof level, "%d", c->level ? c->level : 3);
    snprintf(retries, sizeof retries, "%u", c->retries);
    snprintf(top_en, sizeof top_en, "%llu", (unsigned long long)c->top_en);
    snprintf(top_non_en, sizeof top_non_en, "%llu", (unsigned long long)c->top_non_en);
    snprintf(parts, sizeof parts, "%u", c->partitions);
    snprintf(fetch_tasks, sizeof fetch_tasks, "%u", c->fetch_tasks);
    static const char *const schemes[] = {"auto", "https", "http"};
    snprintf(scheme, sizeof scheme, "%s", schemes[c->fetch.scheme % 3]);
    char sample[32] = ""; /* the fraction, e.g. "0.01"; "" when every document is filtered */
    if (c->sample_ppm) snprintf(sample, sizeof sample, "%.6g", (double)c->sample_ppm / 1e6);
    int fetching = !c->robots_dir;
    /* options that change the result; the fetch's tuning (timeouts, concurrency) does not */
    const optout_plan_option options[] = {
        {"agents", agents},
        {"allow-private", fetching && c->fetch.allow_private ? "yes" : "no"},
        {"connect-to", fetching && c->fetch.connect_to ? c->fetch.connect_to : ""},
        {"corpus", corpus},
        {"fetch-tasks", fetching ? fetch_tasks : ""},
        {"granularity", optout_granularity_name((optout_granularity)c->granularity)},
        {"hosts", c->hosts_file ? c->hosts_file : ""},
        {"host-key", c->host_key == OPTOUT_HOSTKEY_NETLOC ? "netloc" : "canonical"},
        {"keep-format", c->keep_format ? "yes" : "no"},
        {"output", c->output_tags ? "tags" : "shards"},
        {"keep-hosts", c->keep_hosts ? c->keep_hosts : ""},
        {"level", level},
        {"metric", c->top_en || c->top_non_en ? optout_rank_metric_name(c->metric) : ""},
        {"mode", optout_robots_mode_name(c->mode)},
        {"partitions", fetching && !c->hosts_file ? parts : ""},
        {"overrides-sha256", c->keep_hosts || c->remove_hosts ? c->overrides_sha256 : ""},
        {"remove-hosts", c->remove_hosts ? c->remove_hosts : ""},
        {"removed", c->with_removed ? "yes" : "no"},
        {"robots-dir", c->robots_dir ? c->robots_dir : ""},
        {"sample", sample},
        {"scheme", fetching ? scheme : ""},
        {"top-en", top_en},
        {"top-intl", top_non_en},
        {"unreachable", c->unreachable_disallows ? "disallow" : "keep"},
        {"user-agent", fetching && c->fetch.user_agent ? c->fetch.user_agent : ""},
    };
    size_t count = sizeof options / sizeof *options;
    /* Redis keys: optout:<run>:<config-hash>: (the run is named by its directory) */
    char config_hash[65];
    optout_plan_config_hash(options, count, config_hash);
    snprintf(b->redis_prefix, sizeof b->redis_prefix, "optout:%s:%.16s:", b->run_id, config_hash);
    int exists, differs;
    if (optout_plan_compare(c->dir, options, count, &exists, &differs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s: %s", c->dir, err);
        return differs ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
    }
    if (exists) {
        if (optout_plan_read_inputs(c->dir, &b->inputs, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "%s", err);
            return OPTOUT_EXIT_FAILURE;
        }
        return OPTOUT_EXIT_OK;
    }
    if (optout_inputs_expand(c->corpus, c->corpus_count, &b->inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_USAGE;
    }
    for (size_t i = 0; i < b->inputs.count; i++) /* workers get absolute paths */
        if (b->inputs.items[i].path[0] != '/') {
            char *abs = realpath(b->inputs.items[i].path, NULL);
            if (!abs) {
                optout_log(LOG_ERR, "%s: %s", b->inputs.items[i].path, strerror(errno));
                return OPTOUT_EXIT_FAILURE;
            }
            free(b->inputs.items[i].path);
            b->inputs.items[i].path = abs;
        }
    if (optout_plan_write(c->dir, options, count, &b->inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    return OPTOUT_EXIT_OK;
}

/* Domain granularity (policy.h): DIR/blocked_domains.tsv, from DIR/blocked_hosts.tsv (which a
 * fetching run wrote after its fetch stage; a snapshot's run writes it here first), before any
 * filter task runs, so that every worker applies the same table. Rewritten identically on resume. */
static int write_domains(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char hosts[4200], path[4200], err[1024];
    if (c->robots_dir && stages_write_blocked(b) != 0) return -1;
    snprintf(hosts, sizeof hosts, "%s/" OPTOUT_BLOCKED_FILE, c->dir);
    snprintf(path, sizeof path, "%s/" OPTOUT_DOMAINS_FILE, c->dir);
    optout_domains *d = optout_domains_from_blocked(hosts, b->agents, err, sizeof err);
    if (!d || optout_domains_write(d, path, b->agents, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "domain granularity: %s", err);
        optout_domains_free(d);
        return -1;
    }
    optout_log(LOG_INFO, "%s: %zu registrable domains block an agent", path, optout_domains_count(d));
    optout_domains_free(d);
    return 0;
}

static int build_config_blob(struct broker *b) {
    optout_run_config *rc = calloc(1, sizeof *rc);
    if (!rc) return -1;
    rc->mode = b->cfg->mode;
    rc->host_key = b->cfg->host_key;
    rc->unreachable_disallows = (uint8_t)b->cfg->unreachable_disallows;
    rc->level = b->cfg->level;
    rc->agent_count = optout_agents_count(b->agents);
    for (size_t i = 0; i < rc->agent_count; i++)
        snprintf(rc->agents[i], sizeof rc->agents[i], "%s", optout_agents_name(b->agents, i));
    const struct broker_config *c = b->cfg;
    if (c->redis) {
        snprintf(rc->redis, sizeof rc->redis, "%s", c->redis);
        snprintf(rc->redis_prefix, sizeof rc->redis_prefix, "%s", b->redis_prefix);
    } else if (c->robots_dir) {
        broker_path(b, c->robots_dir, &rc->robots_dir);
    } else { /* workers read the fetch archive itself */
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/robots", c->dir);
        broker_path(b, archive, &rc->robots_dir);
        rc->robots_archive = 1;
    }
    optout_rank_reduce_config rank;
    stages_rank_config(c, &rank);
    rc->rank_partitions = c->partitions;
    rc->rank_metric = (uint32_t)rank.metric;
    rc->top_en = rank.top_en;
    rc->top_non_en = rank.top_non_en;
    rc->all_hosts = (uint8_t)rank.all_hosts;
    rc->fetch_scheme = (uint32_t)c->fetch.scheme;
    rc->fetch_concurrency = c->fetch.concurrency;
    rc->fetch_connect_timeout_ms = c->fetch.connect_timeout_ms;
    rc->fetch_timeout_ms = c->fetch.timeout_ms;
    rc->fetch_retries = c->fetch.retries;
    rc->fetch_allow_private = (uint8_t)c->fetch.allow_private;
    snprintf(rc->fetch_user_agent, sizeof rc->fetch_user_agent, "%s", c->fetch.user_agent ? c->fetch.user_agent : "");
    snprintf(rc->fetch_connect_to, sizeof rc->fetch_connect_to, "%s", c->fetch.connect_to ? c->fetch.connect_to : "");
    rc->granularity = (uint32_t)c->granularity;
    if (c->keep_hosts) broker_path(b, c->keep_hosts, &rc->keep_hosts);
    if (c->remove_hosts) broker_path(b, c->remove_hosts, &rc->remove_hosts);
    rc->sample_ppm = c->sample_ppm;
    if (c->granularity == OPTOUT_GRANULARITY_DOMAIN) {
        char domains[4200];
        snprintf(domains, sizeof domains, "%s/" OPTOUT_DOMAINS_FILE, c->dir);
        broker_path(b, domains, &rc->blocked_domains);
    }
    rc->output_tags = (uint8_t)c->output_tags;
    char err[OPTOUT_MSG_ERR_LEN];
    int r = optout_run_config_encode(rc, &b->config_blob, &b->config_len, err);
    if (r != 0) optout_log(LOG_ERR, "run configuration: %s", err);
    free(rc);
    return r;
}

static int recover(struct broker *b) {
    char path[4096], err[OPTOUT_JOURNAL_ERR_LEN];
    snprintf(path, sizeof path, "%s/journal", b->cfg->dir);
    optout_journal_cut cut;
    b->journal = optout_journal_open(path, replay_record, b, &cut, err, sizeof err);
    if (!b->journal) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    if (cut.damage != OPTOUT_JOURNAL_WHOLE) {
        optout_journal_cut_describe(path, &cut, err, sizeof err);
        optout_log(LOG_WARNING, "%s", err);
    }
    b->epoch = b->max_epoch + 1;
    struct record r = {.kind = RECORD_EPOCH, .epoch = b->epoch};
    if (journal_append(b, &r) != 0 || journal_sync(b) != 0) return -1;
    /* complete what was accepted but not published; re-merge what was published */
    for (size_t i = 0; i < b->task_count; i++) {
        struct task *t = &b->tasks[i];
        if (t->state == TASK_ACCEPTED) {
            if (settle_accepted(b, i, 1) != 0) return -1;
            t->state = TASK_DONE;
            b->recovered = 1;
            char fields[4200];
            optout_log(LOG_INFO, "%s: completed its publication from the journal",
                       task_fields(b, i, fields, sizeof fields));
        } else if (t->state == TASK_DONE && t->accepted && settle_accepted(b, i, 0) != 0) {
            return -1; /* published in an earlier epoch: its statistics count again */
        }
        if (t->state == TASK_DONE) b->done++;
        if (t->state == TASK_FAILED) b->failed++;
        if (t->state == TASK_DONE || t->state == TASK_FAILED) b->settled[stage_of(b, i)]++;
    }
    if (journal_sync(b) != 0) return -1;
    snprintf(path, sizeof path, "%s/.staging", b->cfg->dir);
    remove_tree(path); /* every attempt of an earlier epoch is void */
    return 0;
}

/* Moves to the first stage with unsettled tasks, finishing the stages passed on the way (the
 * ranking merge), and queues that stage's pending tasks (loading Redis before the filter).
 * Returns 0 (b->stage == STAGE_COUNT when every stage has finished), 1 when the run cannot go on
 * because a rank or fetch task failed permanently, -1 on error. */
static int advance(struct broker *b) {
    while (b->stage < STAGE_COUNT) {
        enum stage s = b->stage;
        size_t first = b->stage_first[s], n = b->stage_count[s];
        if (b->settled[s] < n) {
            if (b->stage_queued) return 0;
            if (s == STAGE_FILTER && b->cfg->redis && redis_load(b) != 0) return -1;
            if (s == STAGE_FILTER && b->cfg->granularity == OPTOUT_GRANULARITY_DOMAIN && write_domains(b) != 0) return -1;
            for (size_t i = first; i < first + n; i++)
                if (b->tasks[i].state == TASK_PENDING) queue_push(b, i);
            b->stage_queued = 1;
            b->recovered = 1; /* tasks will run: the report changes */
            optout_log(LOG_INFO, "stage %s: %zu tasks, %zu to run", stage_name(s), n, b->queue_len);
            return 0;
        }
        size_t failed = 0;
        for (size_t i = first; i < first + n; i++) failed += b->tasks[i].state == TASK_FAILED;
        if (failed && s != STAGE_FILTER) {
            optout_log(LOG_ERR, "stage %s: %zu of %zu tasks failed permanently; the later stages cannot run",
                       stage_name(s), failed, n);
            return 1;
        }
        if (n && stages_finish(b, s) != 0) return -1;
        b->stage++;
        b->stage_queued = 0;
        const char *stop = b->cfg->stop_after;
        if (stop && ((strcmp(stop, "rank") == 0 && s == STAGE_RANK_REDUCE) || (strcmp(stop, "fetch") == 0 && s == STAGE_FETCH)))
            return 2; /* a dry run ends here */
    }
    return 0;
}

/* The dry run's answer (--stop-after): DIR/dry-run.json, and the same in the log. */
static int write_dry_run(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char path[4200], tmp[4300], hosts[4200];
    snprintf(path, sizeof path, "%s/dry-run.json", c->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint64_t planned = 0;
    FILE *h = fopen(b->hosts_path, "r");
    for (int ch; h && (ch = getc(h)) != EOF;) planned += ch == '\n';
    if (h) fclose(h);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        optout_log(LOG_ERR, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    int fetched = strcmp(c->stop_after, "fetch") == 0;
    fprintf(f, "{\n  \"stopped_after\": \"%s\",\n  \"hosts_planned\": %llu", fetched ? "fetch" : "rank",
            (unsigned long long)planned);
    snprintf(hosts, sizeof hosts, "%s", b->hosts_path);
    optout_log(LOG_NOTICE, "dry run: %llu hosts to fetch (%s)", (unsigned long long)planned, hosts);
    if (fetched && b->blocked) {
        fputs(",\n  \"hosts_by_outcome\": {", f);
        for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++)
            fprintf(f, "%s\"%s\": %llu", i ? ", " : "", optout_outcome_name((optout_outcome)i),
                    (unsigned long long)b->hosts_by_outcome[i]);
        fprintf(f, "},\n  \"hosts_blocking\": %llu,\n  \"hosts_blocking_whole_site\": %llu,\n  \"by_agent\": {",
                (unsigned long long)b->blocked->hosts_blocking, (unsigned long long)b->blocked->hosts_whole_site);
        for (size_t a = 0; a < optout_agents_count(b->agents); a++) {
            fputs(a ? ",\n    " : "\n    ", f);
            fputc('"', f);
            for (const char *p = optout_agents_name(b->agents, a); *p; p++) {
                if (*p == '"' || *p == '\\') fputc('\\', f);
                fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
            }
            fprintf(f, "\": {\"hosts_blocking\": %llu, \"whole_site\": %llu}",
                    (unsigned long long)b->blocked->agent_blocking[a], (unsigned long long)b->blocked->agent_whole_site[a]);
            optout_log(LOG_NOTICE, "dry run: %s is disallowed something by %llu hosts, the whole site by %llu",
                       optout_agents_name(b->agents, a), (unsigned long long)b->blocked->agent_blocking[a],
                       (unsigned long long)b->blocked->agent_whole_site[a]);
        }
        fputs("\n  }", f);
    }
    fputs("\n}\n", f);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        optout_log(LOG_ERR, "writing %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int loop(struct broker *b) {
    int64_t last_heartbeat = 0;
    b->started = now_ms();
    b->done_at_start = b->done;
    b->docs_at_start = b->stats->total.docs_in;
    publish_metrics(b);
    while (!stop_requested) {
        if (b->pending_count == 0 && b->settled[b->stage] == b->stage_count[b->stage]) {
            int rc = advance(b);
            if (rc != 0) return rc;
            if (b->stage == STAGE_COUNT) break;
        }
        dispatch(b);
        int64_t now = now_ms();
        long timeout = HEARTBEAT_MS / 4;
        if (b->pending_count) timeout = b->commit_deadline > now ? (long)(b->commit_deadline - now) : 0;
        zmq_pollitem_t item = {.socket = b->router, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, timeout);
        if (rc < 0) {
            if (zmq_errno() == EINTR) continue;
            optout_log(LOG_ERR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        while (item.revents & ZMQ_POLLIN) { /* drain what is there */
            zmq_msg_t id, body;
            zmq_msg_init(&id);
            if (zmq_msg_recv(&id, b->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&id);
                break;
            }
            int more = zmq_msg_more(&id);
            zmq_msg_init(&body);
            if (more && zmq_msg_recv(&body, b->router, 0) >= 0) {
                while (zmq_msg_more(&body)) { /* extra frames: drop the message */
                    zmq_msg_close(&body);
                    zmq_msg_init(&body);
                    zmq_msg_recv(&body, b->router, 0);
                    more = 0;
                }
                if (more) on_message(b, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body), zmq_msg_size(&body));
            }
            zmq_msg_close(&body);
            zmq_msg_close(&id);
        }
        now = now_ms();
        if (b->pending_count && now >= b->commit_deadline && commit_pending(b) != 0) return -1;
        if (now - last_heartbeat >= HEARTBEAT_MS / 4) {
            last_heartbeat = now;
            /* systemd: the loop is alive, and what it is doing (harmless without NOTIFY_SOCKET) */
            sd_notifyf(0, "WATCHDOG=1\nSTATUS=%s: %zu of %zu tasks done, %zu failed", stage_name(b->stage),
                       b->settled[b->stage], b->stage_count[b->stage], b->failed);
            publish_metrics(b);
            for (size_t w = 0; w < b->worker_count; w++) {
                struct worker *wk = &b->workers[w];
                if (!wk->alive) continue;
                if (now - wk->last_seen > LIVENESS_MS) {
                    worker_dead(b, (long)w, "silent for more than the liveness window");
                    continue;
                }
                if (now - wk->last_sent >= HEARTBEAT_MS) {
                    optout_msg hb = {.type = OPTOUT_MSG_HEARTBEAT, .epoch = b->epoch};
                    if (send_to(b, (long)w, &hb) != 0) worker_dead(b, (long)w, "unreachable");
                }
            }
        }
    }
    return journal_sync(b);
}

/* After the run: the final metrics stay up for --metrics-linger seconds (SIGTERM ends that early),
 * so that a scraper records how the run ended; the watchdog is kept fed meanwhile. */
static void linger_metrics(struct broker *b) {
    if (!b->metrics) return;
    publish_metrics(b);
    if (!b->cfg->metrics_linger) return;
    sd_notifyf(0, "STATUS=run complete: %zu tasks done, %zu failed; serving the final metrics for %u s", b->done,
               b->failed, b->cfg->metrics_linger);
    for (int64_t until = now_ms() + 1000 * (int64_t)b->cfg->metrics_linger; !stop_requested && now_ms() < until;) {
        sd_notify(0, "WATCHDOG=1");
        struct timespec tick = {0, 250 * 1000000L};
        nanosleep(&tick, NULL);
    }
}

int broker_run(const struct broker_config *cfg) {
    struct broker b = {.cfg = cfg};
    struct broker_zap *zap = NULL; /* with CURVE: the ZAP handler (zap.h) */
    int rc = OPTOUT_EXIT_FAILURE, lock_fd = -1;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (optout_rundir_lock(cfg->dir, &lock_fd, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    b.agents = optout_agents_new();
    b.stats = calloc(1, sizeof *b.stats);
    if (!b.agents || !b.stats) goto out;
    size_t bad_line = 0;
    if (cfg->agents_file && optout_agents_load(b.agents, cfg->agents_file, &bad_line) != 0) {
        optout_log(LOG_ERR, "agents file %s%s: %s", cfg->agents_file, bad_line ? " (bad line)" : "", strerror(errno));
        rc = bad_line ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
        goto out;
    }
    for (size_t i = 0; i < cfg->agent_count; i++)
        if (optout_agents_add(b.agents, cfg->agents[i], strlen(cfg->agents[i])) != 0) {
            optout_log(LOG_ERR, "--agent '%s': %s", cfg->agents[i], strerror(errno));
            rc = OPTOUT_EXIT_USAGE;
            goto out;
        }
    if (optout_agents_count(b.agents) == 0) {
        optout_agents_free(b.agents);
        if (!(b.agents = optout_agents_new_default())) goto out;
    }
    if ((rc = plan(&b)) != OPTOUT_EXIT_OK) goto out;
    rc = OPTOUT_EXIT_FAILURE;
    if (stages_plan(&b) != 0) goto out;
    b.queue = calloc(b.task_count ? b.task_count : 1, sizeof *b.queue);
    b.pending = calloc(b.task_count ? b.task_count : 1, sizeof *b.pending);
    if (!b.queue || !b.pending) goto out;
    for (size_t i = b.stage_first[STAGE_FILTER]; i < b.task_count; i++) {
        char name[OPTOUT_MSG_PATH_MAX];
        /* tag mode: the task's name is the tags file's, tags/<name> (tags.h: always .zst) */
        output_name_of(b.tasks[i].input->output_name, cfg->keep_format && !cfg->output_tags, name, sizeof name);
        if (!(b.tasks[i].output_name = strdup(name))) goto out;
    }
    if (build_config_blob(&b) != 0 || recover(&b) != 0) goto out;
    optout_log(LOG_INFO, "epoch %llu: %zu tasks, %zu done, %zu failed", (unsigned long long)b.epoch, b.task_count,
               b.done, b.failed);
    int halted = advance(&b); /* 1: a rank or fetch task failed; 2: the dry run's last stage is done */
    if (halted < 0) goto out;
    if (cfg->metrics_listen) {
        char merr[512];
        if (!(b.metrics = metrics_start(cfg->metrics_listen, merr, sizeof merr))) {
            optout_log(LOG_ERR, "--metrics-listen %s", merr);
            goto out;
        }
        optout_log(LOG_INFO, "metrics at %s", metrics_url(b.metrics));
    }
    if (!halted && b.stage < STAGE_COUNT) {
        char endpoint[4200];
        b.zctx = zmq_ctx_new();
        b.router = b.zctx ? zmq_socket(b.zctx, ZMQ_ROUTER) : NULL;
        int one = 1, zero = 0;
        if (!b.router || zmq_setsockopt(b.router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
            zmq_setsockopt(b.router, ZMQ_LINGER, &zero, sizeof zero) != 0) {
            optout_log(LOG_ERR, "ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        /* CURVE applies to every endpoint, ipc included; the ZAP handler is bound before any */
        if (cfg->curve_secret && (optout_curve_server_setup(b.router, cfg->curve_secret) != 0 ||
                                  !(zap = broker_zap_start(b.zctx, b.router, cfg->curve_allow_dir)))) {
            optout_log(LOG_ERR, "CURVE: cannot secure the broker's socket: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        /* the run directory's socket (local workers, optout status), then every --bind */
        for (size_t i = 0; i <= cfg->bind_count; i++) {
            if (i == 0) snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", cfg->dir);
            else snprintf(endpoint, sizeof endpoint, "%s", cfg->binds[i - 1]);
            if (zmq_bind(b.router, endpoint) != 0) {
                optout_log(LOG_ERR, "binding %s: %s", endpoint, zmq_strerror(zmq_errno()));
                goto out;
            }
            optout_log(LOG_INFO, "listening on %s%s", endpoint, cfg->curve_secret ? " (CURVE)" : "");
        }
        sd_notifyf(0, "READY=1\nSTATUS=%s: %zu of %zu tasks done", stage_name(b.stage), b.settled[b.stage],
                   b.stage_count[b.stage]);
        if ((halted = loop(&b)) < 0) goto out;
        if (stop_requested) {
            /* a clean stop (systemctl stop, Slurm's time limit): the journal is synced and the run
             * resumes where it was, so this is no failure: exit 0, as a service stopped on request */
            optout_log(LOG_INFO, "stopped before completion: %zu of %zu tasks done; rerun to resume", b.done,
                       b.task_count);
            rc = OPTOUT_EXIT_OK;
            goto out;
        }
    }
    char staging_dir[4200];
    snprintf(staging_dir, sizeof staging_dir, "%s/.staging", cfg->dir);
    remove_tree(staging_dir); /* every task is settled: what is left there belongs to no attempt */
    if (halted == 2) { /* --stop-after: the answer, and the run resumes from here when rerun without it */
        rc = write_dry_run(&b) == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
        goto out;
    }
    if (halted) b.recovered = 1; /* the report lists what failed */
    /* a run found complete is left exactly as it is: the report, blocked hosts and manifest are
     * written only when this epoch changed something (or the report is missing) */
    char report[4200];
    snprintf(report, sizeof report, "%s/report.json", cfg->dir);
    if (b.recovered || access(report, F_OK) != 0) {
        /* a fetching run wrote blocked_hosts.tsv after its fetch stage; a snapshot's is written now */
        if (cfg->robots_dir && !cfg->synthetic_tasks && stages_write_blocked(&b) != 0) goto out;
        char dry[4200];
        snprintf(dry, sizeof dry, "%s/dry-run.json", cfg->dir);
        unlink(dry); /* a dry run's answer is superseded by the run's report */
        if (write_report(&b) != 0 || (!cfg->synthetic_tasks && write_manifest(&b) != 0)) goto out;
    }
    rc = b.failed ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_OK;
    optout_log(LOG_INFO, "run complete: %zu tasks done, %zu failed; %llu of %llu documents removed", b.done, b.failed,
               (unsigned long long)b.stats->total.docs_removed, (unsigned long long)b.stats->total.docs_in);
    linger_metrics(&b);
out:
    metrics_stop(b.metrics);
    sd_notify(0, "STOPPING=1");
    if (b.journal) optout_journal_close(b.journal);
    if (b.router) {
        char sock[4200];
        snprintf(sock, sizeof sock, "%s/broker.sock", cfg->dir);
        unlink(sock);
        zmq_close(b.router);
    }
    broker_zap_stop(zap);
    if (b.zctx) zmq_ctx_term(b.zctx);
    for (size_t i = 0; i < b.task_count && b.tasks; i++) {
        free(b.tasks[i].accepted);
        free(b.tasks[i].output_name);
        free(b.tasks[i].error);
    }
    free(b.tasks);
    free(b.queue);
    free(b.pending);
    free(b.workers);
    free(b.config_blob);
    free(b.stats);
    free(b.blocked);
    for (size_t i = 0; i < b.published_count; i++) free(b.published[i].path);
    free(b.published);
    optout_inputs_free(&b.inputs);
    optout_agents_free(b.agents);
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}
