/* broker.h — what optout-broker's main() needs: the run's configuration and broker_run().
 * docs/fleet.md is the design; include/optout/msg.h the wire contract; the broker's own parts
 * share broker_internal.h, which nothing outside broker/ includes. */
#ifndef OPTOUT_BROKER_H
#define OPTOUT_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "optout/fetch.h"
#include "optout/history.h"
#include "optout/hostkey.h"
#include "optout/rank.h"
#include "optout/robots.h"
#include "optout/rundir.h"

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
    int missing_url_keep;            /* --missing-url keep: a shard without any URL is kept whole */
    const char *parquet_compression; /* Parquet outputs' codec name (NULL: zstd) */
    int output_format;               /* 0 the input's, 1 JSON Lines (Parquet converted) */
    int with_removed;
    int keep_format;
    /* Policy (policy.h, docs/policy.md): granularity (0 url, 1 host, 2 domain), override host lists
     * (absolute paths; NULL: none) and their content's SHA-256 (for the plan), sample (ppm, 0: all) */
    int granularity;
    const char *keep_hosts, *remove_hosts;
    char overrides_sha256[65];
    uint32_t sample_ppm;
    int sample_shards;               /* --sample-shards: a sample's outputs under DIR/sample/ (else none) */
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
    int keep_redis_keys;             /* keep the run's Redis keys after it completes (else deleted) */
    const char *stop_after;          /* "rank", "fetch" or "history": a dry run that ends after that stage (NULL) */
    /* History: robotstxt WARC files (local paths and patterns) read for the planned hosts. */
    const char *const *cc_robots;
    size_t cc_robots_count;
    const char *cc_crawls;           /* --cc-crawls: crawls whose robotstxt.paths.gz lists more files (NULL) */
    const char *cc_base;             /* --cc-base: where crawl-data/ is (a local directory in the fleet) */
    /* Robots.txt as it was (history.h): the filter judges by the captures of history_dir (--history,
     * absolute; NULL: the run's own DIR/history/ when the history stage runs) whenever the run has
     * an archive; robots_time decides, report_cutoff is the report's cutoff column. */
    const char *history_dir;
    optout_robots_time_spec robots_time;
    int64_t report_cutoff;           /* 00:00 UTC of --report-cutoff */
    int64_t history_max_age;         /* seconds */
    optout_history_missing history_missing;
    const char *dump_field, *date_field; /* the documents' crawl and date fields (NULL: the defaults) */
    /* Wayback (wayback.h): a stage after history asking the Wayback Machine, one task at a time in
     * the whole run, for the first wayback_hosts hosts of wayback_hosts_file (absolute; NULL: the
     * plan's host list), in blocks of wayback_block_hosts host groups (one task each). */
    int wayback;
    const char *wayback_hosts_file;
    char wayback_hosts_sha256[65];   /* the file's content ("" without one), for the plan */
    uint64_t wayback_hosts;
    int wayback_from, wayback_to;
    const char *wayback_base;
    const char *wayback_rate_text;   /* as given, for the plan */
    double wayback_rate;             /* requests per second */
    size_t wayback_block_hosts;
    int crash_after_accept;          /* fault injection (tests): _exit(99) after journaling accepted */
    size_t synthetic_tasks;          /* benchmarks: N tasks over no files (bench/broker.sh) */
};

#define BROKER_DEFAULT_PARTITIONS 64
#define BROKER_DEFAULT_FETCH_TASKS 64

/* Runs (or resumes) the run. Returns an exit code: 0 complete, 1 failed tasks or runtime error,
 * 2 usage error (e.g. a configuration differing from the plan's). */
int broker_run(const struct broker_config *cfg);

#endif
