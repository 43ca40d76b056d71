/* msg.h — the broker <-> worker protocol (version 1): every message is one ZeroMQ frame holding
 * one msgpack map. docs/fleet-protocol.md lists the keys and the conversation (the reference for
 * other implementations); docs/fleet.md explains the design; this header is the wire contract.
 *
 * Contract
 * - Every map has "v" (OPTOUT_PROTOCOL_VERSION), "t" (the type, a short string: "ready", "credit",
 *   "hb", "task", "result", "handback", "ack", "bye", "status?", "status", "done") and "e" (the broker's
 *   epoch; 0 from a worker that has not seen one). Other keys depend on the type
 *   (docs/fleet-protocol.md); all are required except RESULT's "err".
 * - Decoding treats every frame as hostile: frames over OPTOUT_MSG_MAX_BYTES, a version other than 1,
 *   an unknown type, a missing required key, a key of the wrong msgpack type or out of range, a
 *   string longer than its field or holding a NUL, an empty worker id or agent name, a count over
 *   its array, a root name holding '/', a relative path that is absolute or has a ".." component,
 *   a sha256 that is not 64 lower-case hex digits, a protocol key present twice, nesting deeper
 *   than 16 containers or more than 65536 msgpack objects, a truncated frame or trailing bytes
 *   reject the whole frame (-1, err says why);
 *   unknown keys (and keys of other types) are skipped. A rejected frame changes nothing; an
 *   accepted one fills all of *m (fields the type does not carry are zero).
 * - Decoded byte fields (config, stats, text) point into the frame (msgpack-c's str and bin objects
 *   reference the input buffer): valid while it is. text is not NUL-terminated.
 * - Encoding applies the same rules (what encodes decodes) and fails when the frame would exceed
 *   OPTOUT_MSG_MAX_BYTES; it returns a malloc'd buffer the caller frees (zmq_msg_init_data can
 *   take it). err may be NULL in every function.
 *
 * Why msgpack-c: it gives a compact, typed, self-describing encoding that any
 * language's tooling can read when debugging a fleet.
 */
#ifndef OPTOUT_MSG_H
#define OPTOUT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/hostkey.h"
#include "optout/robots.h"
#include "optout/stats.h"

#define OPTOUT_PROTOCOL_VERSION 1
#define OPTOUT_MSG_MAX_BYTES ((size_t)16 << 20)
#define OPTOUT_MSG_NAME_MAX 128   /* worker ids, root names (NUL included) */
#define OPTOUT_MSG_PATH_MAX 4096  /* relative paths (NUL included) */
#define OPTOUT_MSG_ERROR_MAX 1024 /* error messages (NUL included) */
#define OPTOUT_MSG_MAX_FILES 8
#define OPTOUT_MSG_MAX_CREDIT 1024 /* a worker's free slots at most (optout-worker --slots); larger is malformed */
#define OPTOUT_MSG_ERR_LEN 256

/* Liveness (docs/fleet-protocol.md "The conversation"): each side sends a HEARTBEAT when it has
 * sent nothing else for OPTOUT_HEARTBEAT_MS; a peer silent for OPTOUT_LIVENESS_MS is dead. */
#define OPTOUT_HEARTBEAT_MS 1000
#define OPTOUT_LIVENESS_MS 5000

/* The statistics "s" of RANK_MAP, RANK_REDUCE and FETCH results: arrays of uint64 counters, in
 * this order (docs/fleet-protocol.md "Tasks"); a FILTER result's are optout_stats (stats.h). */
enum {
    OPTOUT_RANK_MAP_DOCS,
    OPTOUT_RANK_MAP_HOSTS,
    OPTOUT_RANK_MAP_BAD_JSON,
    OPTOUT_RANK_MAP_NO_URL,
    OPTOUT_RANK_MAP_BAD_URL,
    OPTOUT_RANK_MAP_NO_HOST,
    OPTOUT_RANK_MAP_LINE_TOO_LONG,
    OPTOUT_RANK_MAP_COUNTERS
};
#define OPTOUT_RANK_REDUCE_COUNTERS 1 /* hosts in the partition */
/* hosts per outcome (optout_outcome order), then the first and last fetch time (Unix seconds) */
#define OPTOUT_FETCH_FIRST_TIME OPTOUT_OUTCOME_COUNT
#define OPTOUT_FETCH_LAST_TIME (OPTOUT_OUTCOME_COUNT + 1)
#define OPTOUT_FETCH_COUNTERS (OPTOUT_OUTCOME_COUNT + 2)
/* HISTORY: records, responses, captures kept, bad records (all kinds) of its WARC file */
enum { OPTOUT_HISTORY_RECORDS, OPTOUT_HISTORY_RESPONSES, OPTOUT_HISTORY_CAPTURES, OPTOUT_HISTORY_BAD, OPTOUT_HISTORY_COUNTERS };
/* WAYBACK: of its block, the hosts, CDX pages, requests, CDX rows, captures kept, host groups whose
 * answer was not CDX JSON, bodies fetched, and the Unix seconds of its first and last query (0: none) */
enum {
    OPTOUT_WAYBACK_HOSTS,
    OPTOUT_WAYBACK_PAGES,
    OPTOUT_WAYBACK_REQUESTS,
    OPTOUT_WAYBACK_ROWS,
    OPTOUT_WAYBACK_CAPTURES,
    OPTOUT_WAYBACK_FAILED,
    OPTOUT_WAYBACK_BODIES,
    OPTOUT_WAYBACK_FIRST_QUERY,
    OPTOUT_WAYBACK_LAST_QUERY,
    OPTOUT_WAYBACK_COUNTERS
};

typedef enum {
    OPTOUT_MSG_READY = 1, /* worker -> broker: hello ("w" worker id, "c" credit) */
    OPTOUT_MSG_CREDIT,    /* worker -> broker: "c" more tasks welcome */
    OPTOUT_MSG_HEARTBEAT, /* both ways */
    OPTOUT_MSG_TASK,      /* broker -> worker: a leased attempt of a task */
    OPTOUT_MSG_RESULT,    /* worker -> broker: the attempt finished (ok, or failed with an error) */
    OPTOUT_MSG_HANDBACK,  /* worker -> broker: not done (SIGTERM); not counted against the task */
    OPTOUT_MSG_ACK,       /* broker -> worker: the result was published (or discarded as stale) */
    OPTOUT_MSG_BYE,       /* worker -> broker: leaving; lease nothing more to it */
    OPTOUT_MSG_STATUS_REQUEST, /* client -> broker */
    OPTOUT_MSG_STATUS,         /* broker -> client: "x" JSON text */
    OPTOUT_MSG_DONE,           /* broker -> worker: the run is over, no task will follow in this epoch */
} optout_msg_type;

/* Where a --sample run's filter outputs go when it writes any (run configuration sample_shards):
 * under this directory of the run (sample/shards/, sample/removed/, sample/tags/), never where a
 * full run's outputs go. */
#define OPTOUT_MSG_SAMPLE_PREFIX "sample/"

/* What a task does (docs/fleet-protocol.md "Tasks"):
 * - FILTER: filter the shard `input` into STAGING/shards/<output_name> (and removed/); in tag mode
 *   (run configuration output_tags) only STAGING/tags/<output_name>, the tags file (tags.h). With
 *   a sample (sample_ppm) nothing but the statistics, or with sample_shards the same files under
 *   OPTOUT_MSG_SAMPLE_PREFIX.
 * - RANK_MAP: count the shard `input` per host key into STAGING/<output_name>.bin and .idx (rank.h).
 * - RANK_REDUCE: `input` is the directory of the map outputs (000000.bin/.idx ... span_count of
 *   them); partition span_start of each is summed into STAGING/<output_name> (rank.h).
 * - FETCH: `input` is the host list (one host key per line); the hosts whose rank partition
 *   (optout_rank_partition) modulo span_count equals span_start are fetched into the archive pack
 *   STAGING/<output_name>.tsv + .bodies.zst (archive.h).
 * - HISTORY: `input` is one robotstxt WARC file (a local path; or, with an empty root, `rel` is an
 *   http(s) URL the worker reads over the network, input_size 0 and unchecked); the captures of the hosts of the run
 *   configuration's history_hosts list are kept, unmerged (history_archive.h's parts), in the
 *   history archive STAGING/<output_name>/history/ (index.tsv, bodies.zst, sources.tsv).
 *   span_start is the pass (0 the first; a later one reads the file again for redirect targets
 *   and neither counts it nor records it as a source), span_count the passes laid out: the
 *   passes run one after another, so span_start must be span_count - 1 (history_hosts is then
 *   that pass's list).
 * - WAYBACK: `input` is the run's Wayback host list (one host key per line); its block span_start
 *   (the hosts in the Wayback's group order, span_count groups a block: wayback.h's
 *   optout_wayback_block) is asked of the Wayback Machine named by the run configuration, into a
 *   history archive part STAGING/<output_name>/history/ as for HISTORY (an empty one when the list
 *   has fewer blocks), and the block's file STAGING/<output_name>/wayback-block.tsv (wayback.h).
 *   When the input's directory (the run directory) holds <output_name>/ already, the block's
 *   earlier part, the worker goes on from it: a restarted run asks again only for the host groups
 *   whose answer was not CDX JSON. The broker leases one WAYBACK task at a time in the whole run. */
typedef enum {
    OPTOUT_TASK_FILTER = 1,
    OPTOUT_TASK_RANK_MAP,
    OPTOUT_TASK_RANK_REDUCE,
    OPTOUT_TASK_FETCH,
    OPTOUT_TASK_HISTORY,
    OPTOUT_TASK_WAYBACK,
} optout_task_kind;
#define OPTOUT_TASK_KIND_MAX OPTOUT_TASK_WAYBACK

/* A path as (root name, relative path): each node maps root names to its own mounts. */
typedef struct {
    char root[OPTOUT_MSG_NAME_MAX];
    char rel[OPTOUT_MSG_PATH_MAX];
} optout_msg_path;

/* A file a worker staged: name relative to the attempt's staging directory, size, SHA-256. */
typedef struct {
    char name[OPTOUT_MSG_PATH_MAX];
    uint64_t size;
    char sha256[65];
} optout_msg_file;

typedef struct {
    optout_msg_type type;
    uint64_t epoch;
    /* READY, CREDIT */
    char worker[OPTOUT_MSG_NAME_MAX];
    uint32_t credit;
    /* TASK, RESULT, HANDBACK, ACK: the attempt (task id, attempt sequence) */
    uint64_t task;
    uint64_t attempt;
    /* TASK */
    optout_task_kind kind;
    optout_msg_path input;      /* the shard */
    uint64_t input_size;        /* as planned: the worker fails the task when it changed */
    int64_t input_mtime_ns;
    optout_msg_path staging;    /* the attempt's directory: DIR/.staging/<task>.<epoch>.<attempt> */
    char output_name[OPTOUT_MSG_PATH_MAX]; /* shards/<name>, and removed/<name> when with_removed */
    uint8_t with_removed;
    uint64_t span_start, span_count; /* RANK_REDUCE and FETCH: which part of the input (see kinds) */
    const void *config;         /* the run's configuration (optout_run_config encoded), into the frame */
    size_t config_len;
    /* RESULT */
    uint8_t ok;
    char error[OPTOUT_MSG_ERROR_MAX];
    optout_msg_file files[OPTOUT_MSG_MAX_FILES];
    size_t file_count;
    const void *stats; /* optout_stats encoded (stats.h), into the frame */
    size_t stats_len;
    /* STATUS */
    const char *text;
    size_t text_len;
} optout_msg;

const char *optout_msg_type_name(optout_msg_type type);

/* 0 with *out (malloc'd) and *len, or -1 (a field breaking a rule, too large, out of memory) with err. */
int optout_msg_encode(const optout_msg *m, void **out, size_t *len, char err[OPTOUT_MSG_ERR_LEN]);
/* 0, or -1 with err: see the contract above. */
int optout_msg_decode(const void *frame, size_t len, optout_msg *m, char err[OPTOUT_MSG_ERR_LEN]);

/* The run's configuration as workers need it: everything that changes a filter's result. Encoded as
 * a msgpack map (docs/fleet-protocol.md "Run configuration"), every key required, with the
 * message rules; agent names are 1..127 bytes. */
typedef struct {
    optout_robots_mode mode;
    optout_hostkey_mode host_key;
    uint8_t unreachable_disallows;
    int32_t level;
    uint64_t max_line;
    char agents[OPTOUT_AGENTS_MAX][OPTOUT_MSG_NAME_MAX]; /* names as given, in list order */
    size_t agent_count;
    /* Field paths; "" means the default. */
    char url_field[OPTOUT_MSG_NAME_MAX], language_field[OPTOUT_MSG_NAME_MAX], tokens_field[OPTOUT_MSG_NAME_MAX],
        dump_field[OPTOUT_MSG_NAME_MAX], date_field[OPTOUT_MSG_NAME_MAX], text_field[OPTOUT_MSG_NAME_MAX];
    /* Verdict source: a robots directory, or Redis (socket path or host:port, key prefix). */
    optout_msg_path robots_dir;  /* root "" when unused */
    char redis[OPTOUT_MSG_PATH_MAX];
    char redis_prefix[OPTOUT_MSG_PATH_MAX];
    uint8_t robots_archive; /* robots_dir is a fetch archive (archive.h), not a robots directory */
    /* Ranking (rank.h): partitions of the map outputs, metric, N per class, every host. */
    uint32_t rank_partitions;
    uint32_t rank_metric; /* optout_rank_metric */
    uint64_t top_en, top_non_en;
    uint8_t all_hosts;
    /* Fetching (fetch.h): 0 / "" mean the fetcher's defaults. */
    uint32_t fetch_scheme; /* optout_fetch_scheme */
    uint32_t fetch_concurrency;
    int64_t fetch_connect_timeout_ms, fetch_timeout_ms;
    int32_t fetch_retries; /* < 0: default */
    uint8_t fetch_allow_private;
    char fetch_user_agent[OPTOUT_MSG_PATH_MAX];
    char fetch_connect_to[OPTOUT_MSG_NAME_MAX];
    /* Policy (docs/policy.md): granularity 0 url, 1 host, 2 domain; override host lists (root "" when
     * unused); a deterministic sample of documents (parts per million, 0: every document); tag
     * mode (write tags/ instead of rewriting shards). */
    uint32_t granularity;
    optout_msg_path keep_hosts, remove_hosts;
    uint32_t sample_ppm;
    /* With a sample: 0 writes no output (estimates only), 1 writes the outputs under sample/
     * (sample/shards/, sample/removed/, sample/tags/). */
    uint8_t sample_shards;
    uint8_t output_tags;
    /* A shard in which no document has a URL: 0 fails it, 1 keeps it whole. */
    uint8_t missing_url_keep;
    /* Parquet outputs: the codec's name (parquet.h's optout_pq_codec_parse), checked with `l`. */
    char parquet_compression[OPTOUT_MSG_NAME_MAX];
    /* Outputs: 0 in the input's format, 1 JSON Lines (a Parquet input converted). */
    uint32_t output_format;
    /* Domain granularity: the broker's DIR/blocked_domains.tsv (policy.h; registrable domain ->
     * agents some host of it disallows something), computed once before the filter stage so that
     * every worker applies the same table; root "" unless granularity is 2. */
    optout_msg_path blocked_domains;
    /* History tasks: the host list whose captures they keep (the fetch stage's; root "" when the
     * run reads no captures). */
    optout_msg_path history_hosts;
    /* Rank maps also survey their shard per host and crawl (survey.h): a run deciding by robots.txt
     * as it was, or one whose history stage keeps the survey's hosts (--robots-dir). */
    uint8_t survey;
    /* Robots.txt as it was (history.h): the deciding policy (optout_robots_time) and its cutoff day
     * (00:00 UTC, Unix seconds; 0 unless cutoff), the report's cutoff column, how old an earlier
     * capture may be (seconds), --history-missing (optout_history_missing), and the history archive
     * the filter tasks judge by (the directory holding history/: the run's own, or --history DIR;
     * root "" when the policy is current and no archive is given). */
    uint32_t robots_time;
    int64_t robots_cutoff, report_cutoff, history_max_age;
    uint32_t history_missing;
    optout_msg_path history;
    /* Wayback tasks: the service, the years asked (inclusive), the rate in millionths of a request
     * per second (1 .. OPTOUT_WAYBACK_RATE_MICRO_MAX); "" and zeros when the run asks nothing. */
    char wayback_base[OPTOUT_MSG_PATH_MAX];
    uint32_t wayback_from, wayback_to;
    uint32_t wayback_rate_micro;
} optout_run_config;
#define OPTOUT_WAYBACK_RATE_MICRO_MAX 1000000000u /* 1000 requests per second */

int optout_run_config_encode(const optout_run_config *c, void **out, size_t *len, char err[OPTOUT_MSG_ERR_LEN]);
int optout_run_config_decode(const void *buf, size_t len, optout_run_config *c, char err[OPTOUT_MSG_ERR_LEN]);

#endif
