/* commit.c — results, the journal and publication: how an attempt's output becomes part of the
 * run exactly once (docs/fleet.md "Publication"), like Redis's aof.c beside server.c.
 *
 * A RESULT of the current attempt is checked, then journaled as `accepted` (files, sizes,
 * SHA-256, statistics) and waits for the group commit: one fsync for everything accepted within
 * GROUP_COMMIT_MS, then each task's files are renamed into place, the directories synced,
 * `published` journaled, the statistics merged and the worker acknowledged. After a crash the
 * journal is replayed: `accepted` without `published` is completed, every other staging directory
 * is deleted, and statistics are merged again from the records, so nothing is lost or counted
 * twice. A failed attempt (a worker's error, a refused result, a lease expiry) is retried until
 * the task's retry cap; then `failed` is journaled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_internal.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/util.h"
#include "optout/verdicts.h"

void commit_staging_path(const struct broker *b, size_t task, uint64_t epoch, uint64_t attempt, char *out,
                         size_t cap) {
    snprintf(out, cap, "%s/.staging/%zu.%llu.%llu", b->cfg->dir, task, (unsigned long long)epoch,
             (unsigned long long)attempt);
}

/* Moves an accepted attempt's files into place. A file already moved (by an earlier broker that
 * died before journaling `published`) is recognised by its size and SHA-256. */
static int publish_files(struct broker *b, size_t task, const struct record *r) {
    char staging[4096], from[8192], to[8192];
    commit_staging_path(b, task, r->epoch, r->attempt, staging, sizeof staging);
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

int commit_sync(struct broker *b) {
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

static void fail_task(struct broker *b, size_t task, const char *why) {
    struct task *t = &b->tasks[task];
    t->state = TASK_FAILED;
    t->worker = -1;
    set_error(t, why);
    b->failed++;
    b->settled[broker_stage_of(b, task)]++;
    struct record r = {.kind = RECORD_FAILED, .task = task};
    snprintf(r.error, sizeof r.error, "%.*s", (int)sizeof r.error - 1, why);
    journal_append(b, &r);
    char fields[4200];
    optout_log(LOG_ERR, "%s: failed permanently: %s", task_fields(b, task, fields, sizeof fields), why);
}

/* Deletes what an abandoned attempt staged (a late result of it is stale anyway). */
void commit_discard_attempt(struct broker *b, size_t task) {
    char staging[4096];
    commit_staging_path(b, task, b->tasks[task].epoch, b->tasks[task].attempt, staging, sizeof staging);
    optout_remove_tree(staging);
}

/* A failure or a lease expiry: retry, or give up after `retries` attempts. */
void commit_attempt_failed(struct broker *b, size_t task, const char *worker, const char *why) {
    commit_discard_attempt(b, task);
    /* a worker that found the shared store incomplete failed for Redis, not for its task: reload it
     * (a missing verdict must never read as "no robots.txt") */
    char err[1024];
    if (b->cfg->redis && optout_verdicts_redis_complete(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password,
                                                        b->redis_prefix, err, sizeof err) == 0) {
        optout_log(LOG_WARNING, "%s: reloading it", err);
        if (plan_redis_load(b) == 0) { /* the store failed, not the task: no retry counted */
            broker_queue_push(b, task);
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
        optout_log(LOG_WARNING, "%s%s%s: attempt %u failed: %s; retrying", task_fields(b, task, fields, sizeof fields),
                   worker ? " worker=" : "", worker ? worker : "", t->tries, why);
        broker_queue_push(b, task);
    }
}

void commit_result(struct broker *b, long w, const optout_msg *m) {
    struct task *t = m->task < b->task_count ? &b->tasks[m->task] : NULL;
    if (m->epoch != b->epoch || !t || t->state != TASK_LEASED || t->attempt != m->attempt) {
        char staging[4096];
        if (t) {
            commit_staging_path(b, m->task, m->epoch, m->attempt, staging, sizeof staging);
            optout_remove_tree(staging);
        }
        broker_send_ack(b, w, m->task, m->attempt); /* stale: discarded */
        return;
    }
    size_t task = m->task;
    if (!m->ok) {
        commit_attempt_failed(b, task, b->workers[w].name, m->error[0] ? m->error : "failed without a message");
        return;
    }
    for (size_t i = 0; i < m->file_count; i++)
        if (!stages_output_allowed(b, task, m->files[i].name)) {
            commit_attempt_failed(b, task, b->workers[w].name, "worker staged a file outside the directories of its task's kind");
            return;
        }
    struct record r = {.kind = RECORD_ACCEPTED, .task = task, .epoch = m->epoch, .attempt = m->attempt,
                       .file_count = m->file_count, .stats = m->stats, .stats_len = m->stats_len};
    memcpy(r.files, m->files, m->file_count * sizeof *m->files);
    if (journal_append_keep(b, &r, t) != 0) {
        broker_stop = 1;
        return;
    }
    t->state = TASK_ACCEPTED;
    if (b->pending_count == 0) b->commit_deadline = optout_now_ms() + GROUP_COMMIT_MS;
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
        commit_staging_path(b, task, r->epoch, r->attempt, staging, sizeof staging);
        optout_remove_tree(staging);
        struct record p = {.kind = RECORD_PUBLISHED, .task = task};
        if (journal_append(b, &p) != 0) goto out;
    }
    if (stages_merge_stats(b, task, r->stats, r->stats_len) != 0) goto out;
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
int commit_pending(struct broker *b) {
    if (b->pending_count == 0) return 0;
    if (commit_sync(b) != 0) return -1;
    if (b->cfg->crash_after_accept) _exit(99); /* fault injection: accepted, not published */
    b->group_commits++;
    b->group_commit_tasks += b->pending_count;
    for (size_t i = 0; i < b->pending_count; i++) {
        size_t task = b->pending[i];
        struct task *t = &b->tasks[task];
        if (settle_accepted(b, task, 1) != 0) return -1;
        t->state = TASK_DONE;
        b->done++;
        b->settled[broker_stage_of(b, task)]++;
        char fields[4200];
        optout_log(LOG_INFO, "%s: published", task_fields(b, task, fields, sizeof fields));
        broker_send_ack(b, t->worker, task, t->attempt);
        t->worker = -1;
    }
    b->pending_count = 0;
    return 0;
}

int commit_recover(struct broker *b) {
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
    if (journal_append(b, &r) != 0 || commit_sync(b) != 0) return -1;
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
        if (t->state == TASK_DONE || t->state == TASK_FAILED) b->settled[broker_stage_of(b, i)]++;
    }
    if (commit_sync(b) != 0) return -1;
    snprintf(path, sizeof path, "%s/.staging", b->cfg->dir);
    optout_remove_tree(path); /* every attempt of an earlier epoch is void */
    return 0;
}

