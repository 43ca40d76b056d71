/* worker.h — optout-worker: runs the tasks a broker leases to it (docs/fleet.md).
 *
 * Contract
 * - worker_run() connects one DEALER socket to the broker and serves until SIGTERM or SIGINT:
 *   a network thread (the caller's) owns the socket and does no task work; `slots` task threads
 *   run tasks and hand their results back over inproc PUSH/PULL.
 * - Credit: READY carries the free slots; each RESULT is followed by CREDIT c=1.
 * - Heartbeats: a HEARTBEAT every second when nothing else was sent; a broker silent for 5 s is
 *   dead: the socket is closed and reopened after an exponential backoff (0.1 s .. 5 s), then READY
 *   again. A message from a newer epoch is adopted: tasks of older epochs that have not started
 *   are dropped (the broker re-queued them) and READY is sent again, except when that message is
 *   a TASK: the broker leases only to workers it registered, and a second READY would replace the
 *   credit while more tasks may be on their way; the dropped tasks' slots go back as CREDIT.
 *   Running tasks of an older epoch finish; their RESULT carries their own epoch (the broker
 *   discards it) and the CREDIT after it the current one.
 * - DONE (the broker's run is complete): with exit_when_done, a stop as on SIGTERM (BYE, return 0);
 *   without, the worker logs once that it waits for the next run and goes on reconnecting (the
 *   broker's silence after DONE is logged at debug level, not as a warning).
 * - SIGTERM/SIGINT: tasks not started go back as HANDBACK, running tasks finish and their results
 *   are sent, then BYE; worker_run() returns 0.
 * - systemd: READY=1 once serving, STATUS= on every change, WATCHDOG=1 from the network loop,
 *   STOPPING=1 on shutdown (sd_notify: a no-op without NOTIFY_SOCKET).
 * - Returns 0 after a clean shutdown, -1 when the sockets or threads could not be set up.
 */
#ifndef OPTOUT_WORKER_H
#define OPTOUT_WORKER_H

#include <stddef.h>

#include "optout/curve.h"
#include "optout/msg.h"

#define WORKER_MAX_ROOTS 64
#define WORKER_SLOTS_MAX 1024

/* A root name mapped to a local directory (--root NAME=PATH). */
typedef struct {
    char name[OPTOUT_MSG_NAME_MAX];
    char path[OPTOUT_MSG_PATH_MAX];
} worker_root;

/* What every task needs from the worker's configuration; read-only once the threads run. */
typedef struct {
    const worker_root *roots;
    size_t root_count;
    const char *redis_password; /* NULL: no AUTH */
    const char *redis_user;     /* an ACL user (AUTH user password), NULL: the default user */
    /* --max-memory (optout/memory.h): each slot's budget (0: no limit) and its compiled-set cache (0: the
     * verdict sources' default) */
    uint64_t slot_memory;
    size_t max_cached;
    /* --download-dir, --download-slots: HISTORY tasks take one of the node's download slots
     * (optout/dlslots.h) before reading a capture file over HTTP(S); NULL: no bound across workers */
    const char *download_dir;
    unsigned download_slots;
} worker_env;

typedef struct {
    const char *endpoint;  /* the broker's ROUTER: "tcp://host:port", "ipc:///path" */
    unsigned slots;        /* task threads, 1..WORKER_SLOTS_MAX */
    const char *name;      /* the worker id sent in READY (at most OPTOUT_MSG_NAME_MAX - 1 bytes) */
    const optout_curve_client *curve; /* CURVE keys (curve.h); NULL: plain text */
    int exit_when_done;    /* --exit-when-done: return 0 when the broker says its run is complete */
    worker_env env;
} worker_options;

int worker_run(const worker_options *opts);

#endif
