/* broker.h — optout-broker's parts: configuration, journal records, the run loop.
 * docs/fleet.md is the design; include/optout/msg.h the wire contract. */
#ifndef OPTOUT_BROKER_H
#define OPTOUT_BROKER_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "optout/msg.h"

/* What a broker is asked to run. */
struct broker_config {
    const char *dir;                 /* the run directory */
    const char *const *binds;        /* extra ZeroMQ endpoints (tcp://...); ipc://DIR/broker.sock always */
    size_t bind_count;
    const char *const *corpus;       /* --corpus paths and patterns */
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
    unsigned retries;                /* attempts per task before it fails permanently (default 3) */
    const char *redis;               /* verdicts through Redis at this endpoint (NULL: the robots dir) */
    const char *redis_password;      /* read from a file, never from the command line */
    int crash_after_accept;          /* fault injection (tests): _exit(99) after journaling accepted */
    size_t synthetic_tasks;          /* benchmarks: N tasks over no files (bench/broker.sh) */
};

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
