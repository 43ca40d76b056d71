/* broker_internal.h — the broker's state and the functions its files share (nothing outside
 * broker/ includes this; broker/main.c sees only broker.h).
 *
 * The files, split the way Redis splits server.c / networking.c / aof.c:
 *   broker.c     the event loop: the worker table, credit, heartbeats, messages, dispatch
 *   commit.c     results, the journal and publication: acceptance, group commit, replay, recovery
 *   result.c     what a result must hold before it is accepted (the table of outputs, checked on disk)
 *   plan.c       the plan, the run configuration sent to workers, stage progression, Redis loading
 *   stages.c     the stages and their tasks: layout, TASK messages, output names, statistics
 *   artefacts.c  what the run leaves besides outputs: report, manifest, dry run, domains
 *   status.c     progress: the status answer and the metrics snapshot
 *   records.c    journal records as msgpack maps
 * docs/fleet.md is the design; include/optout/msg.h the wire contract.
 */
#ifndef OPTOUT_BROKER_INTERNAL_H
#define OPTOUT_BROKER_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "optout/agents.h"
#include "optout/blocked.h"
#include "optout/journal.h"
#include "optout/log.h"
#include "optout/msg.h"
#include "optout/rank.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/stats_policy.h"
#include "optout/survey.h"
#include "records.h"
#include "result.h"

/* The group commit: accepted records wait at most this long for the fsync they share. */
#define GROUP_COMMIT_MS 5

enum task_state { TASK_PENDING, TASK_LEASED, TASK_ACCEPTED, TASK_DONE, TASK_FAILED };

/* A published output as its task's journal record describes it (path relative to DIR). */
struct published_file {
    char *path;
    uint64_t size;
    char sha256[65];
};

/* Where the history tasks' archive parts are published (DIR/history-parts/NNNNNN/history/), and the
 * Wayback tasks' (DIR/history-parts/wayback-NNNNNN/history/). */
#define STAGES_HISTORY_PARTS "history-parts"
#define STAGES_WAYBACK_PART "wayback-"
/* A later pass of the history stage (redirect targets outside its host list): pass P's (2..)
 * parts are DIR/history-parts/passP-NNNNNN/history/, its hosts DIR/history-passP-hosts.txt, written
 * by the broker when the pass before has settled. */
#define STAGES_HISTORY_PASS_PART "pass"
#define STAGES_HISTORY_PASS_HOSTS "history-pass%zu-hosts.txt"
/* With --robots-dir the history stage keeps every host of the corpus: the survey's hosts, written
 * by the broker when the survey merges. */
#define STAGES_SURVEY_HOSTS "survey-hosts.txt"
/* The hosts the Wayback stage asks for, written by the broker when the stage starts. */
#define STAGES_WAYBACK_HOSTS "wayback-hosts.txt"

/* The stages of a run, in order; each starts when the previous one has finished (stages.c). */
enum stage { STAGE_RANK_MAP, STAGE_RANK_REDUCE, STAGE_FETCH, STAGE_HISTORY, STAGE_WAYBACK, STAGE_FILTER, STAGE_COUNT };

struct task {
    optout_task_kind kind;
    const optout_input *input; /* the shard (RANK_MAP, FILTER), the WARC file (HISTORY), else NULL */
    uint32_t part;             /* RANK_REDUCE: the partition; FETCH: the part of the host list */
    char *output_name;
    enum task_state state;
    uint64_t attempt; /* current attempt's sequence number */
    uint64_t epoch;   /* epoch of the current attempt */
    unsigned tries;
    long worker; /* leased to, or -1 */
    int64_t leased_at; /* monotonic ms of the current attempt's lease */
    char *error; /* why it failed permanently */
    char *earlier_error; /* why it failed in an earlier invocation (the journal's `failed`), or NULL */
    /* the accepted attempt (from a result or the journal), kept as its compact journal record
     * (files and stats) until it is published and merged: a planned task costs a few dozen bytes */
    void *accepted;
    size_t accepted_len;
};

/* A worker whose last BENCH_AFTER results, for as many different tasks, all failed within
 * FAST_FAIL_MS of their lease is failing because of itself (its configuration: a missing --root, an
 * unreadable mount), not because of its tasks: it gets no task for BENCH_MS (doubling at each bench
 * up to BENCH_MAX_MS), so that it cannot burn every task's retries in a second. */
#define FAST_FAIL_MS 2000
#define BENCH_AFTER 3
#define BENCH_MS 60000
#define BENCH_MAX_MS 3600000

struct worker {
    unsigned char id[256];
    size_t id_len;
    char name[4 * OPTOUT_MSG_NAME_MAX]; /* as the worker said it, escaped for logs (optout_log_escape) */
    uint32_t credit;
    int64_t last_seen, last_sent;
    int alive;
    size_t fast_failed[BENCH_AFTER]; /* the distinct tasks of the current streak of fast failures */
    unsigned fast_failures;
    unsigned benches;
    int64_t benched_until; /* monotonic ms; 0: not benched */
};

struct broker {
    const struct broker_config *cfg;
    optout_agents *agents;
    optout_inputs inputs;
    optout_inputs history_files; /* --cc-robots expanded (absolute), in order: one HISTORY task each */
    struct task *tasks;
    size_t task_count, done, failed;
    size_t failed_before; /* tasks that failed in an earlier invocation (retried by this one) */
    /* stage s owns tasks [first[s], first[s] + count[s]); `stage` is the one running */
    size_t stage_first[STAGE_COUNT], stage_count[STAGE_COUNT];
    enum stage stage;
    size_t settled[STAGE_COUNT]; /* tasks done or failed, per stage */
    int stage_queued;            /* the running stage's pending tasks are queued */
    char hosts_path[4096];                   /* the fetch plan, and the history stage's first pass */
    size_t history_passes;                   /* passes of the history stage laid out (1 + those added) */
    uint64_t hosts_by_outcome[OPTOUT_OUTCOME_COUNT];
    uint64_t fetched_from, fetched_to;       /* Unix times of the first and last fetch */
    uint64_t history_counts[OPTOUT_HISTORY_COUNTERS]; /* the history tasks' counters (msg.h), summed */
    uint64_t wayback_counts[OPTOUT_WAYBACK_COUNTERS]; /* the Wayback tasks' (msg.h): summed, times min/max */
    uint64_t (*wayback_block_counts)[OPTOUT_WAYBACK_COUNTERS]; /* each Wayback task's, as last settled */
    struct wayback_plan {  /* the stage's plan, once its host list is written (stages_wayback_prepare) */
        int known;
        size_t hosts, queries, blocks, done, left;
        double seconds;    /* the queries left at --wayback-rate: a lower bound of the stage's time */
    } wayback_plan;
    int64_t wayback_started;                          /* monotonic ms when this epoch queued the stage */
    size_t wayback_settled_at_start;                  /* its tasks settled then (the ETA counts this epoch's) */
    optout_blocked_counts *blocked;          /* from blocked_hosts.tsv, once written (NULL before) */
    struct published_file *published;       /* every file published by a done task, from its journal
                                                record: the manifest need not read them again */
    size_t published_count, published_cap;
    size_t *queue; /* ring of pending task indices */
    size_t queue_head, queue_len;
    struct worker *workers;
    size_t worker_count, worker_cap, next_worker;
    optout_journal *journal;
    uint64_t epoch, max_epoch, seq;
    optout_stats *stats;
    optout_stats *pending_stats; /* filter statistics of the accepted results of this group commit */
    /* robots.txt as it was (plan_judges_history): every policy's statistics, the run's and this
     * group commit's; NULL otherwise */
    optout_stats_policy *by_policy, *pending_policy;
    /* a historical run's survey (survey.h), once its rank maps are merged into DIR/survey.tsv */
    optout_survey_summary survey;
    int surveyed;
    int history_deferred; /* --cc-crawls auto before its survey: the history files are not known yet */
    void *config_blob;
    size_t config_len;
    size_t *pending; /* accepted, waiting for the group commit */
    size_t pending_count;
    int64_t commit_deadline;
    int64_t started;          /* monotonic ms when this epoch began serving */
    size_t done_at_start;     /* tasks already done then (rates count this epoch's work) */
    uint64_t docs_at_start;
    void *zctx, *router;
    int recovered; /* this start completed publications or ran tasks */
    int complete;  /* the run is over: every message from a worker is answered with DONE */
    char redis_prefix[256];
    /* observability: the run id in every log line, the metrics endpoint (metrics.h) */
    char run_id[16];         /* 12 hex digits of the run directory's SHA-256 */
    struct metrics *metrics; /* NULL without --metrics-listen */
    uint64_t journal_fsyncs, group_commits, group_commit_tasks;
    size_t settled_counts[STAGE_COUNT][5]; /* tasks by state of the stages not running (they do not */
    int counts_for;                        /* change), counted when b->stage was counts_for - 1 */
    optout_log_limiter malformed_log;      /* malformed frames: one line per peer per interval */
};


/* ---- stages (stages.c) ------------------------------------------------------------------------ */

const char *stage_name(enum stage s);
/* Lays out every stage's tasks from the plan's inputs and the configuration (deterministic, so
 * journal records name the same tasks after a restart). 0 or -1. */
int stages_plan(struct broker *b);
/* A short name for messages and the report: the shard's path, or "fetch part 3 of 64". */
const char *task_label(const struct broker *b, size_t task, char *buf, size_t cap);
/* The same as log fields (include/optout/log.h): "task=17 shard=/data/x.jsonl.zst",
 * "task=70 fetch-part=3/64", "task=9 partition=3/64". */
const char *task_fields(const struct broker *b, size_t task, char *buf, size_t cap);
/* An absolute path as workers see it: (root name, relative path) by the --root mounts. */
void broker_path(const struct broker *b, const char *abs, optout_msg_path *out);
/* Fills the kind-specific fields of a TASK message (kind, input, span, output name). */
void stages_task_message(const struct broker *b, size_t task, optout_msg *m);
/* The files the task must stage (result.h's table, for the task's output name and the run's mode). 0 or -1. */
int stages_expect(const struct broker *b, size_t task, struct result_expect *x);
/* Adds a settled task's statistics to the run's. 0, or -1 when malformed. */
int stages_merge_stats(struct broker *b, size_t task, const void *stats, size_t len);
/* The ranking's N per class, metric and all_hosts, as workers and the merge apply them. */
void stages_rank_config(const struct broker_config *c, optout_rank_reduce_config *rc);
/* DIR/blocked_hosts.tsv from the run's robots snapshot (the fetch archive or the robots
 * directory); its counts kept in b->blocked. 0 or -1. */
int stages_write_blocked(struct broker *b);
/* What happens when stage s has finished, before the next one starts (the ranking merge; after
 * the fetch, blocked_hosts.tsv; after a history pass, the next pass when its captures redirect to
 * hosts not read yet). 0, 1 when the stage grew (a history pass was added: queue it), or -1. */
int stages_finish(struct broker *b, enum stage s);
/* Before the Wayback stage is queued: DIR/wayback-hosts.txt (the same content on every start: it
 * derives from finished stages) and the estimate of the time. 0 or -1. */
int stages_wayback_prepare(struct broker *b);
/* A dry run (--stop-after) with --wayback: when the stages before the Wayback have run, its host
 * list is written and its plan (b->wayback_plan) computed as the stage's start would. 0 or -1. */
int stages_wayback_dry_run(struct broker *b);
/* At the Wayback stage's start in a restarted run: the blocks published with host groups whose
 * answer was not CDX JSON go back to pending, so that their tasks ask again for those groups (the
 * worker keeps the others' answers from the published part); not once a filter task has settled
 * (it judged with the archive as it is). 0 or -1. */
int stages_wayback_reopen(struct broker *b);
/* 0 when the task must wait: it is a Wayback task and another one is leased (one at a time in the
 * whole run: the service's rate is the run's, not a worker's). */
int stages_may_lease(const struct broker *b, size_t task);
/* The number of Wayback tasks the plan lays out for cfg (upper bound of the blocks: a task past
 * the list's last block asks nothing). */
size_t stages_wayback_tasks(const struct broker_config *c);

/* ---- the event loop (broker.c) ----------------------------------------------------------------- */

/* Set by SIGTERM/SIGINT, or when the journal cannot be written: the loop ends after this turn. */
extern volatile sig_atomic_t broker_stop;

/* The stage a task belongs to. */
enum stage broker_stage_of(const struct broker *b, size_t task);
/* Queues a task (state pending, no worker). */
void broker_queue_push(struct broker *b, size_t task);
/* 1 when the task's current lease belongs to worker w: the same entry, or one with the same name
 * (the worker reconnected, and so has a new ZeroMQ identity). */
int broker_leased_to(const struct broker *b, size_t task, long w);
/* ACK of an attempt to worker w (nothing when w is gone). */
void broker_send_ack(struct broker *b, long w, size_t task, uint64_t attempt);
/* How worker w's attempt of `task` ended (ok: accepted), for benching a worker that fails fast. */
void broker_worker_outcome(struct broker *b, long w, size_t task, int ok);

/* ---- results, journal, publication (commit.c) ------------------------------------------------- */

/* DIR/.staging/<task>.<epoch>.<attempt> */
void commit_staging_path(const struct broker *b, size_t task, uint64_t epoch, uint64_t attempt, char *out,
                         size_t cap);
/* A RESULT from worker w: stale (acknowledged, discarded), failed, refused (a failed attempt) or
 * accepted (journaled, waiting for the group commit). */
void commit_result(struct broker *b, long w, const optout_msg *m);
/* A failure or a lease expiry of the task's current attempt: retry, or fail it permanently after
 * the retry cap. `worker` names who failed it (NULL: nobody in particular). Returns 1 when the
 * attempt counted against the task, 0 when the shared Redis store was found incomplete (reloaded:
 * the store failed, not the task nor its worker). */
int commit_attempt_failed(struct broker *b, size_t task, const char *worker, const char *why);
/* Deletes what the task's current attempt staged. */
void commit_discard_attempt(struct broker *b, size_t task);
/* The group commit: one fsync for every accepted record pending, then publication. 0 or -1. */
int commit_pending(struct broker *b);
/* Syncs the journal. 0 or -1 (logged). */
int commit_sync(struct broker *b);
/* Opens and replays the journal, starts a new epoch, completes accepted-but-unpublished tasks and
 * clears the staging directory. 0 or -1 (logged). */
int commit_recover(struct broker *b);

/* ---- planning (plan.c) ------------------------------------------------------------------------ */

/* The run id, then the plan: written on the first start, compared and read on later ones.
 * Returns an exit code (OPTOUT_EXIT_*). */
int plan_run(struct broker *b);
/* The filter tasks' output names (after stages_plan). 0 or -1. */
int plan_output_names(struct broker *b);
/* The run decides by robots.txt as it was: its rank maps survey the crawls per host first. */
int stages_surveying(const struct broker_config *c);
/* --cc-crawls auto: the history stage reads the crawls the survey finds. */
int plan_cc_auto(const struct broker_config *c);
/* --cc-crawls auto after the survey: the files of the crawls it found appended to history_files
 * and recorded in the run directory (every later start plans them). An exit code. */
int plan_history_auto_resolve(struct broker *b, const optout_survey_summary *survey);
/* The history tasks again after history_files grew (--cc-crawls auto): the filter tasks' ids move
 * up (none has run: the filter stage comes after history), the run configuration is rebuilt. 0 or -1. */
int stages_replan_history(struct broker *b);
/* The host list the history tasks of the last pass laid out keep (the first pass: hosts_path). */
void stages_history_hosts(const struct broker *b, char *out, size_t cap);
/* The run's filter judges by captures (the history stage or --history): 1, else 0. */
int plan_judges_history(const struct broker *b);
/* The --robots-time text of a policy: "crawl", "cutoff:YYYY-MM-DD"... */
void plan_robots_time_text(const optout_robots_time_spec *t, char *out, size_t cap);
/* The policies' statistics (b->by_policy, b->pending_policy) when the run judges by captures,
 * initialised with its configuration. 0 or -1 (out of memory). */
int plan_policy_stats(struct broker *b);
/* The run configuration every TASK carries (b->config_blob). 0 or -1. */
int plan_config_blob(struct broker *b);
/* Moves to the first stage with unsettled tasks, finishing the stages passed on the way, and
 * queues that stage's pending tasks. 0 (b->stage == STAGE_COUNT once every stage has finished),
 * 1 when a rank or fetch task failed permanently, 2 when a dry run's last stage is done, -1. */
int plan_advance(struct broker *b);
/* Loads the verdict store into Redis, and the captures when the run judges by them (idempotent:
 * each loader checks what its store holds). 0 or -1 (logged). */
int plan_redis_load(struct broker *b);
/* 1 when a store the filter reads from Redis is incomplete (the verdicts; the captures when the run
 * judges by them: never loaded, half loaded, flushed, keys lost), with err saying which; 0 when
 * they are complete or Redis cannot be asked. */
int plan_redis_incomplete(struct broker *b, char *err, size_t errlen);

/* ---- artefacts (artefacts.c) ----------------------------------------------------------------- */

/* DIR/dry-run.json (--stop-after). 0 or -1. */
int artefacts_write_dry_run(struct broker *b);
/* DIR/blocked_domains.tsv for domain granularity. 0 or -1. */
int artefacts_write_domains(struct broker *b);
/* After the run: blocked hosts (snapshot runs), report and manifest. 0 or -1. */
int artefacts_write_final(struct broker *b);

/* ---- progress (status.c) ---------------------------------------------------------------------- */

/* The status answer (JSON) into out. */
void status_json(struct broker *b, char *out, size_t cap);
/* The metrics snapshot, when --metrics-listen is on. */
void status_publish_metrics(struct broker *b);
/* DIR/stages.json: which journal task ids belong to which stage (records.h). 0 or -1. */
int status_write_stages(const struct broker *b);

#endif
