/* metrics.h — the broker's Prometheus endpoint (--metrics-listen ADDR:PORT).
 *
 * Design: the broker is one thread around zmq_poll and must not take locks in its hot path. So
 * the loop fills a `struct metrics_snapshot` (plain numbers, a few hundred bytes) on its 250 ms
 * tick (status.c, next to status_json: both count through one function) and hands it over with
 * metrics_publish(), which copies it under a mutex held for that copy only. libmicrohttpd serves
 * HTTP from its own internal thread; a scrape copies the latest snapshot under the same mutex and
 * renders the text exposition format (version 0.0.4) from the copy, outside the lock. A scrape
 * therefore never waits for the loop, the loop never waits for a scrape (beyond a memcpy), and
 * values are at most one tick old (optout_snapshot_time_seconds says when they were taken).
 *
 * GET /metrics answers the exposition; anything else is 404 (405 for methods other than GET and
 * HEAD). The endpoint has no authentication and no TLS: bind it to loopback or a management
 * network. The listening socket is bound by metrics_start() itself, so a port in use is an error
 * with its reason, and port 0 picks a free port (the broker logs metrics_url()).
 */
#ifndef OPTOUT_BROKER_METRICS_H
#define OPTOUT_BROKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "broker_internal.h"

enum { METRICS_TASK_STATES = 5 }; /* enum task_state: pending, leased, accepted, done, failed */

struct metrics_snapshot {
    char run[16];         /* the run id (12 hex digits of the run directory's SHA-256) */
    uint64_t epoch;
    int stage;            /* enum stage running; STAGE_COUNT once every stage has finished */
    uint64_t tasks[STAGE_COUNT][METRICS_TASK_STATES]; /* tasks by stage and state */
    uint64_t tasks_done, tasks_failed;                /* over every stage */
    uint64_t docs_in, docs_removed, bytes_in, bytes_removed, tokens_in, tokens_removed;
    uint64_t hosts_by_outcome[OPTOUT_OUTCOME_COUNT];  /* robots.txt fetched, by outcome */
    uint64_t workers_alive, queue_depth;
    uint64_t journal_fsyncs, group_commits, group_commit_tasks;
    double start_time, time; /* Unix seconds: this broker's start, and when the snapshot was taken */
};

struct metrics;

/* Splits "HOST:PORT" ("[v6]:PORT" for IPv6 literals; HOST may be a name) into its parts.
 * 0, or -1 with a message in err. */
int metrics_parse_listen(const char *text, char *host, size_t host_cap, char *port, size_t port_cap, char *err,
                         size_t errlen);
/* Binds ADDR:PORT and starts serving (an empty snapshot until the first publish). NULL with a
 * message in err when the address is bad or cannot be bound. */
struct metrics *metrics_start(const char *listen, char *err, size_t errlen);
/* "http://HOST:PORT/metrics" with the port actually bound (useful with port 0). */
const char *metrics_url(const struct metrics *m);
/* Replaces the snapshot scrapes render from (thread-safe; a memcpy under a mutex). */
void metrics_publish(struct metrics *m, const struct metrics_snapshot *s);
/* Renders a snapshot in the text exposition format into a malloc'd NUL-terminated buffer. */
char *metrics_render(const struct metrics_snapshot *s, size_t *len);
/* Stops the server (waits for its thread) and frees everything. NULL is fine. */
void metrics_stop(struct metrics *m);

#endif
