/* broker.h — optout-broker's parts: configuration, journal records, the run loop.
 * docs/fleet.md is the design; include/optout/msg.h the wire contract. */
#ifndef OPTOUT_BROKER_H
#define OPTOUT_BROKER_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/blocked.h"
#include "optout/fetch.h"
#include "optout/journal.h"
#include "optout/msg.h"
#include "optout/rank.h"
#include "optout/rundir.h"
#include "optout/stats.h"

/* What a broker is asked to run. */
struct broker_config {
    const char *dir;                 /* the run directory */
    const char *const *binds;        /* extra ZeroMQ endpoints (tcp://...); ipc://DIR/broker.sock always */
    size_t bind_count;
    const char *const *corpus;       /* --corpus paths and patterns */
    /* --root NAME=PATH: absolute paths under PATH go to workers as (NAME, relative path); others as
     * ("fs", path without its leading '/'). Longest PATH wins. */
    const char *const *root_names, *const *root_paths;
    size_t root_count;
    size_t corpus_count;
    const char *robots_dir;          /* absolute */
    const char *agents_file;         /* NULL: the built-in Apertus list */
    const char *const *agents;       /* --agent names (after the file's) */
    size_t agent_count;
    optout_robots_mode mode;
    optout_hostkey_mode host_key;
    int unreachable_disallows;
    int level;
    int with_removed;
    int keep_format;
    /* Policy (policy.h, docs/policy.md): granularity (0 url, 1 host, 2 domain), override host lists
     * (absolute paths; NULL: none) and their content's SHA-256 (for the plan), sample (ppm, 0: all) */
    int granularity;
    const char *keep_hosts, *remove_hosts;
    char overrides_sha256[65];
    uint32_t sample_ppm;
    int output_tags;                 /* --output tags: DIR/tags/<name> instead of shards/ (tags.h) */
    unsigned retries;                /* attempts per task before it fails permanently (default 3) */
    const char *redis;               /* verdicts through Redis at this endpoint (NULL: the robots dir) */
    const char *redis_password;      /* read from a file, never from the command line */
    const char *redis_user;          /* an ACL user (AUTH user password), NULL: the default user */
    /* CURVE (docs/fleet.md "Security"): the broker's Z85 secret key and the allow-list directory
     * (one public key file per admitted client); NULL: plain text, as without --curve-* */
    const char *curve_secret, *curve_allow_dir;
    /* Ranking: runs when top_en or top_non_en is set (0: not given; the other class then gets
     * OPTOUT_RANK_DEFAULT_TOP), or, without a limit, when hosts must be fetched and no host list is
     * given. */
    uint64_t top_en, top_non_en;
    optout_rank_metric metric;
    unsigned partitions;             /* reduce tasks (default 64) */
    /* Fetching: when robots_dir is NULL. */
    const char *hosts_file;          /* the hosts to fetch (absolute; NULL: the ranking's hosts.txt) */
    unsigned fetch_tasks;            /* fetch tasks (default 64): hosts split by hash */
    optout_fetch_options fetch;      /* scheme, user agent, timeouts, retries, concurrency, connect_to */
    const char *metrics_listen;      /* Prometheus endpoint HOST:PORT (metrics.h), NULL: none */
    unsigned metrics_linger;         /* seconds to keep serving the final metrics after the run */
    const char *stop_after;          /* "rank" or "fetch": a dry run that ends after that stage (NULL) */
    int crash_after_accept;          /* fault injection (tests): _exit(99) after journaling accepted */
    size_t synthetic_tasks;          /* benchmarks: N tasks over no files (bench/broker.sh) */
};

#define OPTOUT_RANK_DEFAULT_TOP 1000000
#define BROKER_DEFAULT_PARTITIONS 64
#define BROKER_DEFAULT_FETCH_TASKS 64

#define HEARTBEAT_MS 1000
#define LIVENESS_MS 5000
#define GROUP_COMMIT_MS 5

enum task_state { TASK_PENDING, TASK_LEASED, TASK_ACCEPTED, TASK_DONE, TASK_FAILED };

/* A published output as its task's journal record describes it (path relative to DIR). */
struct published_file {
    char *path;
    uint64_t size;
    char sha256[65];
};

/* The stages of a run, in order; each starts when the previous one has finished (stages.c). */
enum stage { STAGE_RANK_MAP, STAGE_RANK_REDUCE, STAGE_FETCH, STAGE_FILTER, STAGE_COUNT };

struct task {
    optout_task_kind kind;
    const optout_input *input; /* the shard (RANK_MAP, FILTER), else NULL */
    uint32_t part;             /* RANK_REDUCE: the partition; FETCH: the part of the host list */
    char *output_name;
    enum task_state state;
    uint64_t attempt; /* current attempt's sequence number */
    uint64_t epoch;   /* epoch of the current attempt */
    unsigned tries;
    long worker; /* leased to, or -1 */
    char *error; /* why it failed permanently */
    /* the accepted attempt (from a result or the journal), kept as its compact journal record
     * (files and stats) until it is published and merged: a planned task costs a few dozen bytes */
    void *accepted;
    size_t accepted_len;
};

struct worker {
    unsigned char id[256];
    size_t id_len;
    char name[OPTOUT_MSG_NAME_MAX];
    uint32_t credit;
    int64_t last_seen, last_sent;
    int alive;
};

struct broker {
    const struct broker_config *cfg;
    optout_agents *agents;
    optout_inputs inputs;
    struct task *tasks;
    size_t task_count, done, failed;
    /* stage s owns tasks [first[s], first[s] + count[s]); `stage` is the one running */
    size_t stage_first[STAGE_COUNT], stage_count[STAGE_COUNT];
    enum stage stage;
    size_t settled[STAGE_COUNT]; /* tasks done or failed, per stage */
    int stage_queued;            /* the running stage's pending tasks are queued */
    char hosts_path[4096];                   /* the fetch plan */
    uint64_t rank_counters[8];               /* summed RANK_MAP statistics (worker/task.h order) */
    uint64_t ranked_hosts;                   /* distinct hosts over the reduce partitions */
    uint64_t hosts_by_outcome[OPTOUT_OUTCOME_COUNT];
    uint64_t fetched_from, fetched_to;       /* Unix times of the first and last fetch */
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
    char redis_prefix[256];
    /* observability: the run id in every log line, the metrics endpoint (metrics.h) */
    char run_id[16];         /* 12 hex digits of the run directory's SHA-256 */
    struct metrics *metrics; /* NULL without --metrics-listen */
    uint64_t journal_fsyncs, group_commits, group_commit_tasks;
    size_t settled_counts[STAGE_COUNT][5]; /* tasks by state of the stages not running (they do not */
    int counts_for;                        /* change), counted when b->stage was counts_for - 1 */
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
/* 1 when a published file name belongs to the task's kind (shards/, removed/, ranking/, robots/). */
int stages_output_allowed(const struct broker *b, size_t task, const char *name);
/* Adds a settled task's statistics to the run's. 0, or -1 when malformed. */
int stages_merge_stats(struct broker *b, size_t task, const void *stats, size_t len);
/* The ranking's N per class, metric and all_hosts, as workers and the merge apply them. */
void stages_rank_config(const struct broker_config *c, optout_rank_reduce_config *rc);
/* DIR/blocked_hosts.tsv from the run's robots snapshot (the fetch archive or the robots
 * directory); its counts kept in b->blocked. 0 or -1. */
int stages_write_blocked(struct broker *b);
/* What happens when stage s has finished, before the next one starts (the ranking merge; after
 * the fetch, blocked_hosts.tsv). */
int stages_finish(struct broker *b, enum stage s);

/* Runs (or resumes) the run. Returns an exit code: 0 complete, 1 failed tasks or runtime error,
 * 2 usage error (e.g. a configuration differing from the plan's). */
int broker_run(const struct broker_config *cfg);

/* ---- journal records (records.c) ---------------------------------------------------------- */

enum record_kind { RECORD_EPOCH, RECORD_ACCEPTED, RECORD_PUBLISHED, RECORD_FAILED };

struct record {
    enum record_kind kind;
    uint64_t epoch, task, attempt;
    optout_msg_file files[OPTOUT_MSG_MAX_FILES];
    size_t file_count;
    const void *stats; /* into the decoded buffer */
    size_t stats_len;
    char error[OPTOUT_MSG_ERROR_MAX];
};

/* Encodes into a fresh sbuffer (the caller destroys it). */
int record_encode(const struct record *r, msgpack_sbuffer *buf);
/* Decodes one record; `keep` (initialised by the caller) holds what r points into. -1 when the
 * payload is not exactly one well-formed record. */
int record_decode(const void *data, size_t len, struct record *r, msgpack_unpacked *keep);

#endif
