/* commit.c — results, the journal and publication: how an attempt's output becomes part of the
 * run exactly once (docs/fleet.md "Publication"), like Redis's aof.c beside server.c.
 *
 * A RESULT of the current attempt is checked (result.c: exactly its task's files, regular, not
 * behind a link, of their sizes; statistics that merge), then journaled as `accepted` (files,
 * sizes, SHA-256, statistics) and waits for the group commit: one fsync for everything accepted
 * within GROUP_COMMIT_MS, then each task's files are renamed into place, the directories synced,
 * `published` journaled, the statistics merged (once per group) and the worker acknowledged.
 * After a crash the journal is replayed: `accepted` without `published` is completed, every other
 * staging directory is deleted, and statistics are merged again from the records, so nothing is
 * lost or counted twice; a record that cannot be applied is reported and its task runs again.
 * A failed attempt (a worker's error, a refused result, a lease expiry) is retried until the
 * task's retry cap; then `failed` is journaled, and the next invocation retries it.
 */
#include <errno.h>
#include <fcntl.h>
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

/* The attempt's staging directory, opened without following a link (the run directory is the
 * broker's; everything below it a worker wrote). -1 with errno. */
static int open_staging(const struct broker *b, size_t task, uint64_t epoch, uint64_t attempt) {
    char rel[128];
    const char *base;
    /* result_open_parent opens every directory of a path: name a file inside the attempt's */
    snprintf(rel, sizeof rel, ".staging/%zu.%llu.%llu/-", task, (unsigned long long)epoch, (unsigned long long)attempt);
    int dir = open(b->cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    int fd = result_open_parent(dir, rel, &base);
    int saved = errno;
    close(dir);
    errno = saved;
    return fd;
}

/* 1 when `name` is one of the files the task must produce. */
static int expected(const struct result_expect *x, const char *name) {
    for (size_t i = 0; i < x->count; i++)
        if (strcmp(x->names[i], name) == 0) return 1;
    return 0;
}

/* Moves one staged file into place, through the descriptors result.c reached it by, after checking
 * again that it is still the regular file of the declared size. A file already moved (by an earlier
 * broker that died before journaling `published`) is recognised by its size and SHA-256. 0, 1 when
 * the file is not what the record says (why filled), -1 on an error of the run directory. */
static int publish_file(struct broker *b, size_t task, int staging, const optout_msg_file *f, char *why, size_t cap) {
    char to[8192], esc[256], fields[4200];
    const char *base;
    snprintf(to, sizeof to, "%s/%s", b->cfg->dir, f->name);
    int parent = result_open_parent(staging, f->name, &base);
    int rc = parent < 0 ? -1 : result_check_file(parent, base, f->size, why, cap);
    int missing = errno;
    if (rc != 0 && parent < 0) snprintf(why, cap, "%s", strerror(missing));
    if (rc != 0 && missing == ENOENT) {
        char hex[65];
        struct stat st;
        if (stat(to, &st) == 0 && (uint64_t)st.st_size == f->size && optout_sha256_file(to, hex) == 0 &&
            strcmp(hex, f->sha256) == 0)
            rc = 2; /* published before the crash */
    }
    if (rc == 0 && optout_make_parent_dirs(to) != 0) {
        optout_log(LOG_ERR, "%s: cannot create the directory of %s: %s", task_fields(b, task, fields, sizeof fields),
                   to, strerror(errno));
        rc = -2;
    } else if (rc == 0 && renameat(parent, base, AT_FDCWD, to) != 0) {
        optout_log(LOG_ERR, "%s: publishing staged %s as %s: %s", task_fields(b, task, fields, sizeof fields),
                   optout_log_escape_str(f->name, esc, sizeof esc), to, strerror(errno));
        rc = -2;
    } else if (rc == 0 && optout_fsync_parent_dir(to) != 0) {
        optout_log(LOG_ERR, "%s: fsync of the directory of %s: %s", task_fields(b, task, fields, sizeof fields), to,
                   strerror(errno));
        rc = -2;
    }
    if (parent >= 0) close(parent);
    if (rc == -1) { /* not there, not a regular file, not of its size, or behind a link */
        char what[128];
        snprintf(what, sizeof what, "%s", why);
        optout_set_err(why, cap, "staged %s: %s", optout_log_escape_str(f->name, esc, sizeof esc), what);
        return 1;
    }
    return rc == -2 ? -1 : 0;
}

/* Moves an accepted attempt's files into place. 0; 1 when the record cannot be applied (a file
 * missing, changed, behind a link, or not an output of its task: why says which); -1 on an error of
 * the run directory (logged). */
static int publish_files(struct broker *b, size_t task, const struct record *r, char *why, size_t cap) {
    struct result_expect x;
    char esc[256];
    if (stages_expect(b, task, &x) != 0) {
        optout_set_err(why, cap, "its output names are too long");
        return 1;
    }
    for (size_t i = 0; i < r->file_count; i++)
        if (!expected(&x, r->files[i].name)) {
            optout_set_err(why, cap, "%s is not an output of its task",
                           optout_log_escape_str(r->files[i].name, esc, sizeof esc));
            return 1;
        }
    int staging = open_staging(b, task, r->epoch, r->attempt);
    if (staging < 0 && errno != ENOENT) {
        optout_set_err(why, cap, "its staging directory: %s", strerror(errno));
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < r->file_count && rc == 0; i++) {
        if (staging >= 0) {
            rc = publish_file(b, task, staging, &r->files[i], why, cap);
            continue;
        }
        /* the staging directory is gone: only files published before a crash can be there */
        char to[8192], hex[65];
        struct stat st;
        snprintf(to, sizeof to, "%s/%s", b->cfg->dir, r->files[i].name);
        if (stat(to, &st) != 0 || (uint64_t)st.st_size != r->files[i].size || optout_sha256_file(to, hex) != 0 ||
            strcmp(hex, r->files[i].sha256) != 0) {
            optout_set_err(why, cap, "staged %s: its staging directory is gone and it was not published",
                           optout_log_escape_str(r->files[i].name, esc, sizeof esc));
            rc = 1;
        }
    }
    if (staging >= 0) close(staging);
    return rc;
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
    case RECORD_ACCEPTED: /* the last accepted attempt of a task is the one that counts; after a
                           * `published` too (a Wayback block asked again): until its own `published`,
                           * it is completed on recovery */
        keep_accepted(t, data, len);
        t->state = TASK_ACCEPTED;
        break;
    case RECORD_PUBLISHED: t->state = TASK_DONE; break;
    case RECORD_FAILED: /* kept after a later success too: the report says what failed before */
        free(t->earlier_error);
        t->earlier_error = strdup(r.error);
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
int commit_attempt_failed(struct broker *b, size_t task, const char *worker, const char *why) {
    commit_discard_attempt(b, task);
    /* a worker that found a shared store incomplete (the verdicts, or the captures) failed for Redis,
     * not for its task: reload it (a missing verdict must never read as "no robots.txt", a missing
     * record never as "no capture") */
    char err[1024];
    if (b->cfg->redis && plan_redis_incomplete(b, err, sizeof err)) {
        optout_log(LOG_WARNING, "%s: reloading it", err);
        if (plan_redis_load(b) == 0) { /* the store failed, not the task: no retry counted */
            broker_queue_push(b, task);
            return 0;
        }
    }
    struct task *t = &b->tasks[task];
    t->tries++;
    if (t->tries >= b->cfg->retries) {
        char msg[OPTOUT_MSG_ERROR_MAX + 64];
        snprintf(msg, sizeof msg, "%s (after %u attempts)", why, t->tries);
        fail_task(b, task, msg);
        return 1;
    }
    char fields[4200];
    optout_log(LOG_WARNING, "%s%s%s: attempt %u failed: %s; retrying", task_fields(b, task, fields, sizeof fields),
               worker ? " worker=" : "", worker ? worker : "", t->tries, why);
    broker_queue_push(b, task);
    return 1;
}

/* 0 when a successful result holds what its task must produce (result.h); -1 with why. A filter
 * result's statistics are checked by adding them to b->pending_stats (all or nothing): the
 * statistics of the accepted results waiting for the group commit, merged into the run's once per
 * group (decoding statistics is what a result costs the broker most; this does it once). */
static int check_result(struct broker *b, const optout_msg *m, char *why, size_t cap) {
    struct result_expect x;
    if (stages_expect(b, m->task, &x) != 0) {
        optout_set_err(why, cap, "its output names are too long");
        return -1;
    }
    int staging = open_staging(b, m->task, m->epoch, m->attempt);
    if (staging < 0) {
        optout_set_err(why, cap, "its staging directory cannot be opened without following a link: %s",
                       strerror(errno));
        return x.count == 0 ? result_check(-1, &x, m, b->pending_stats, why, cap) : -1; /* nothing staged may be fine */
    }
    int rc = result_check(staging, &x, m, b->pending_stats, why, cap);
    close(staging);
    return rc;
}

void commit_result(struct broker *b, long w, const optout_msg *m) {
    struct task *t = m->task < b->task_count ? &b->tasks[m->task] : NULL;
    /* only the current attempt, from the worker it is leased to, can be accepted */
    if (m->epoch != b->epoch || !t || t->state != TASK_LEASED || t->attempt != m->attempt ||
        !broker_leased_to(b, m->task, w)) {
        char staging[4096];
        /* a superseded attempt's files go; the current attempt's stay (a RESULT sent twice, or by
         * another worker, must not delete what its own worker staged or had accepted) */
        if (t && !(m->epoch == t->epoch && m->attempt == t->attempt)) {
            commit_staging_path(b, m->task, m->epoch, m->attempt, staging, sizeof staging);
            optout_remove_tree(staging);
        }
        broker_send_ack(b, w, m->task, m->attempt); /* stale: discarded */
        return;
    }
    t->worker = w; /* after a reconnect, the lease (and the ACK) moves to the worker's new entry */
    size_t task = m->task;
    char why[OPTOUT_MSG_ERROR_MAX];
    if (!m->ok) { /* the worker's words go to the log and the journal escaped */
        optout_log_escape_str(m->error[0] ? m->error : "failed without a message", why, sizeof why);
        if (commit_attempt_failed(b, task, b->workers[w].name, why)) broker_worker_outcome(b, w, task, 0);
        return;
    }
    char refused[OPTOUT_MSG_ERROR_MAX - 32];
    if (check_result(b, m, refused, sizeof refused) != 0) {
        snprintf(why, sizeof why, "result refused: %s", refused);
        if (commit_attempt_failed(b, task, b->workers[w].name, why)) broker_worker_outcome(b, w, task, 0);
        return;
    }
    broker_worker_outcome(b, w, task, 1);
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

/* How a task's accepted attempt is settled. */
enum settle {
    SETTLE_REPLAYED,   /* published in an earlier epoch: its statistics count again */
    SETTLE_RECOVERED,  /* accepted in an earlier epoch: publish it, merge its statistics */
    SETTLE_LIVE,       /* accepted by this epoch: publish it; a filter task's statistics are already in
                        * b->pending_stats (commit_pending merges them), the record is kept for that */
};

/* Settles a task's accepted attempt: its files are moved into place and `published` is journaled
 * (unless replayed); then its statistics are merged into the totals (where they live from then
 * on) and the kept record is dropped (not for a live filter task). 0; 1 when the record cannot be
 * applied (why filled: a staged file missing or changed, statistics that do not merge), before
 * anything was merged; -1 on an error of the run directory or the journal (logged). */
static int settle_accepted(struct broker *b, size_t task, enum settle how, char *why, size_t cap) {
    struct task *t = &b->tasks[task];
    struct record *r = malloc(sizeof *r); /* tens of KiB: not on the stack */
    msgpack_unpacked keep;
    msgpack_unpacked_init(&keep);
    int rc = -1;
    if (!r) goto out;
    rc = 1;
    if (record_decode(t->accepted, t->accepted_len, r, &keep) != 0) {
        optout_set_err(why, cap, "its accepted record cannot be read back");
        goto out;
    }
    int deferred = how == SETTLE_LIVE && t->kind == OPTOUT_TASK_FILTER; /* checked when it arrived */
    if (how != SETTLE_LIVE &&
        result_check_stats(t->kind, optout_agents_count(b->agents), r->stats, r->stats_len, NULL, b->by_policy) != 0) {
        optout_set_err(why, cap, "its statistics cannot be merged");
        goto out;
    }
    if (how != SETTLE_REPLAYED) {
        if ((rc = publish_files(b, task, r, why, cap)) != 0) goto out;
        rc = -1;
        char staging[4096];
        commit_staging_path(b, task, r->epoch, r->attempt, staging, sizeof staging);
        optout_remove_tree(staging);
        struct record p = {.kind = RECORD_PUBLISHED, .task = task};
        if (journal_append(b, &p) != 0) goto out;
    }
    rc = -1;
    if (!deferred && stages_merge_stats(b, task, r->stats, r->stats_len) != 0) goto out; /* checked: cannot fail */
    for (size_t i = 0; i < r->file_count; i++) { /* for the manifest: these need not be read again */
        if (b->published_count == b->published_cap) {
            size_t cap2 = b->published_cap ? 2 * b->published_cap : 256;
            struct published_file *p = realloc(b->published, cap2 * sizeof *p);
            if (!p) goto out;
            b->published = p;
            b->published_cap = cap2;
        }
        struct published_file *p = &b->published[b->published_count];
        if (!(p->path = strdup(r->files[i].name))) goto out;
        p->size = r->files[i].size;
        memcpy(p->sha256, r->files[i].sha256, sizeof p->sha256);
        b->published_count++;
    }
    if (!deferred) drop_accepted(t);
    rc = 0;
out:
    msgpack_unpacked_destroy(&keep);
    free(r);
    return rc;
}

/* The live filter tasks of this group are settled: their statistics, in b->pending_stats since
 * they arrived, go into the run's. When one of the group could not be published after all, its
 * statistics must not count: the others' are then merged again from their records. */
static void merge_group(struct broker *b, int refused) {
    for (size_t i = 0; i < b->pending_count; i++) {
        struct task *t = &b->tasks[b->pending[i]];
        if (t->state != TASK_DONE || t->kind != OPTOUT_TASK_FILTER || !t->accepted) continue;
        if (refused) {
            struct record *r = malloc(sizeof *r);
            msgpack_unpacked keep;
            msgpack_unpacked_init(&keep);
            if (!r || record_decode(t->accepted, t->accepted_len, r, &keep) != 0 ||
                stages_merge_stats(b, b->pending[i], r->stats, r->stats_len) != 0)
                optout_oom("merging a group's statistics"); /* its record was read back when it was published */
            msgpack_unpacked_destroy(&keep);
            free(r);
        }
        drop_accepted(t);
    }
    if (!refused) optout_stats_merge(b->stats, b->pending_stats);
    memset(b->pending_stats, 0, sizeof *b->pending_stats);
    if (b->pending_policy) {
        optout_stats_policy *p = b->pending_policy;
        if (!refused) optout_stats_policy_merge(b->by_policy, p, optout_agents_count(b->agents));
        optout_stats_policy_init(p, p->chosen, p->cutoff, p->missing, p->max_age);
    }
}

/* The group commit: one fsync for every accepted record pending, then publication. */
int commit_pending(struct broker *b) {
    if (b->pending_count == 0) return 0;
    if (commit_sync(b) != 0) return -1;
    if (b->cfg->crash_after_accept) _exit(99); /* fault injection: accepted, not published */
    b->group_commits++;
    b->group_commit_tasks += b->pending_count;
    int refused = 0;
    for (size_t i = 0; i < b->pending_count; i++) {
        size_t task = b->pending[i];
        struct task *t = &b->tasks[task];
        char why[OPTOUT_MSG_ERROR_MAX - 64], msg[OPTOUT_MSG_ERROR_MAX];
        int rc = settle_accepted(b, task, SETTLE_LIVE, why, sizeof why);
        if (rc < 0) return -1;
        if (rc > 0) { /* checked when it arrived, changed since: the worker's attempt failed */
            refused = 1;
            drop_accepted(t);
            snprintf(msg, sizeof msg, "result cannot be published: %s", why);
            long w = t->worker;
            if (commit_attempt_failed(b, task, w >= 0 ? b->workers[w].name : NULL, msg) && w >= 0)
                broker_worker_outcome(b, w, task, 0);
            continue;
        }
        t->state = TASK_DONE;
        b->done++;
        b->settled[broker_stage_of(b, task)]++;
        char fields[4200];
        optout_log(LOG_INFO, "%s: published", task_fields(b, task, fields, sizeof fields));
        broker_send_ack(b, t->worker, task, t->attempt);
        t->worker = -1;
    }
    merge_group(b, refused);
    b->pending_count = 0;
    return 0;
}

/* One task after the replay: what was accepted but not published is completed; what was published
 * has its statistics merged again; what failed in an earlier invocation is retried (a new invocation
 * is a new chance: the input may have been restored, the worker's configuration fixed). A journaled
 * result that cannot be applied (its staged files gone or changed, its statistics unmergeable) is
 * reported and its task retried: it must never keep the run from starting. 0, or -1 (logged). */
static int recover_task(struct broker *b, size_t i) {
    struct task *t = &b->tasks[i];
    char fields[4200], why[OPTOUT_MSG_ERROR_MAX];
    int rc = 0;
    if (t->state == TASK_ACCEPTED) {
        rc = settle_accepted(b, i, SETTLE_RECOVERED, why, sizeof why);
        if (rc == 0) {
            t->state = TASK_DONE;
            b->recovered = 1;
            optout_log(LOG_INFO, "%s: completed its publication from the journal",
                       task_fields(b, i, fields, sizeof fields));
        }
    } else if (t->state == TASK_DONE && t->accepted) {
        rc = settle_accepted(b, i, SETTLE_REPLAYED, why, sizeof why);
    } else if (t->state == TASK_FAILED) {
        optout_log(LOG_NOTICE, "%s: failed in an earlier invocation (%s); retrying it",
                   task_fields(b, i, fields, sizeof fields), t->error ? t->error : "");
        free(t->error);
        t->error = NULL;
        t->state = TASK_PENDING;
        b->failed_before++;
    }
    if (rc < 0) return -1;
    if (rc > 0) {
        optout_log(LOG_ERR, "%s: its journaled result cannot be applied (%s); the task runs again",
                   task_fields(b, i, fields, sizeof fields), why);
        drop_accepted(t);
        t->state = TASK_PENDING;
    }
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
    for (size_t i = 0; i < b->task_count; i++) {
        if (recover_task(b, i) != 0) return -1;
        struct task *t = &b->tasks[i];
        if (t->state == TASK_DONE) b->done++;
        if (t->state == TASK_DONE || t->state == TASK_FAILED) b->settled[broker_stage_of(b, i)]++;
    }
    if (commit_sync(b) != 0) return -1;
    snprintf(path, sizeof path, "%s/.staging", b->cfg->dir);
    optout_remove_tree(path); /* every attempt of an earlier epoch is void */
    return 0;
}

