/* broker.c — optout-broker's event loop: the worker table, credit, heartbeats, messages and
 * dispatch (docs/fleet.md), like Redis's server.c and networking.c. The run's other parts are
 * commit.c (results, journal, publication), plan.c (plan, stages), artefacts.c (report, manifest)
 * and status.c (progress); broker_internal.h lists them.
 *
 * One thread, one ROUTER socket, one zmq_poll loop whose timeout is the nearest deadline
 * (heartbeat, liveness, group commit). Task states: pending (queued) -> leased (to one worker, one
 * attempt) -> accepted (journaled, waiting for the group commit) -> done (published); or failed
 * after `retries` failures or lease expiries. A lease lasts while its worker is alive. Times come
 * from CLOCK_MONOTONIC only.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "broker_internal.h"
#include "metrics.h"
#include "optout/curve.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "zap.h"

volatile sig_atomic_t broker_stop;

enum stage broker_stage_of(const struct broker *b, size_t task) {
    enum stage s = STAGE_RANK_MAP;
    while (s + 1 < STAGE_COUNT && task >= b->stage_first[s + 1]) s++;
    return s;
}

static void on_signal(int sig) {
    (void)sig;
    broker_stop = 1;
}

/* ---- workers ------------------------------------------------------------------------------ */

static long find_worker(struct broker *b, const void *id, size_t len) {
    for (size_t i = 0; i < b->worker_count; i++)
        if (b->workers[i].alive && b->workers[i].id_len == len && memcmp(b->workers[i].id, id, len) == 0)
            return (long)i;
    return -1;
}

/* Sends one message to a peer by its ZeroMQ identity. 0, or -1 (encoding failed or unreachable). */
static int send_to_id(struct broker *b, const void *id, size_t id_len, const optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(m, &buf, &len, err) != 0) {
        optout_log(LOG_ERR, "encoding %s: %s", optout_msg_type_name(m->type), err);
        return -1;
    }
    int rc = zmq_send(b->router, id, id_len, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(b->router, buf, len, 0);
    free(buf);
    return rc < 0 ? -1 : 0;
}

static int send_to(struct broker *b, long w, const optout_msg *m) {
    struct worker *wk = &b->workers[w];
    if (send_to_id(b, wk->id, wk->id_len, m) != 0) {
        optout_log(LOG_WARNING, "worker=%s unreachable: %s", wk->name, zmq_strerror(zmq_errno()));
        return -1;
    }
    wk->last_sent = optout_now_ms();
    return 0;
}

void broker_queue_push(struct broker *b, size_t task) {
    b->queue[(b->queue_head + b->queue_len) % b->task_count] = task;
    b->queue_len++;
    b->tasks[task].state = TASK_PENDING;
    b->tasks[task].worker = -1;
}

static void worker_dead(struct broker *b, long w, const char *why) {
    struct worker *wk = &b->workers[w];
    wk->alive = 0;
    optout_log(LOG_WARNING, "worker=%s: %s", wk->name, why);
    for (size_t i = 0; i < b->task_count; i++)
        if (b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w)
            commit_attempt_failed(b, i, wk->name, "its worker died (lease expired)");
}

int broker_leased_to(const struct broker *b, size_t task, long w) {
    long owner = b->tasks[task].worker;
    /* a worker that reconnected has a new identity (a new entry here) and the same name: the
     * results of tasks it kept running are its own */
    return owner == w || (owner >= 0 && strcmp(b->workers[owner].name, b->workers[w].name) == 0);
}

void broker_send_ack(struct broker *b, long w, size_t task, uint64_t attempt) {
    if (w < 0 || !b->workers[w].alive) return;
    optout_msg ack = {.type = OPTOUT_MSG_ACK, .epoch = b->epoch, .task = task, .attempt = attempt};
    send_to(b, w, &ack);
}

void broker_worker_outcome(struct broker *b, long w, size_t task, int ok) {
    struct worker *wk = &b->workers[w];
    int64_t now = optout_now_ms();
    if (ok || now - b->tasks[task].leased_at >= FAST_FAIL_MS) {
        wk->fast_failures = 0; /* a success, or a failure that took work: the worker is not the cause */
        return;
    }
    for (unsigned i = 0; i < wk->fast_failures; i++)
        if (wk->fast_failed[i] == task) return; /* one task failing again says nothing of its worker */
    wk->fast_failed[wk->fast_failures++] = task;
    if (wk->fast_failures < BENCH_AFTER) return;
    wk->fast_failures = 0;
    int64_t ms = BENCH_MS;
    for (unsigned i = 0; i < wk->benches && ms < BENCH_MAX_MS; i++) ms *= 2;
    if (ms > BENCH_MAX_MS) ms = BENCH_MAX_MS;
    wk->benched_until = now + ms;
    /* the first bench is the news (a misconfigured worker); later ones only say it goes on */
    optout_log(wk->benches++ ? LOG_INFO : LOG_WARNING,
               "worker=%s: benched for %lld s: its last %d tasks all failed within %d ms of their lease, so it "
               "is probably misconfigured (a missing --root? an unreadable mount?); the tasks go to other workers",
               wk->name, (long long)(ms / 1000), BENCH_AFTER, FAST_FAIL_MS);
}

/* ---- messages ----------------------------------------------------------------------------- */

/* A dead worker's entry that no task still names (a task leased to it was failed or requeued when
 * it died; an accepted one names it until published, for its ACK), for a worker that joins: a
 * fleet whose workers come and go for days keeps a table the size of the fleet, not of every
 * connection it ever saw. -1 when there is none. */
static long reusable_worker_slot(const struct broker *b) {
    for (size_t w = 0; w < b->worker_count; w++) {
        if (b->workers[w].alive) continue;
        int named = 0;
        for (size_t i = 0; i < b->task_count && !named; i++)
            named = (b->tasks[i].state == TASK_LEASED || b->tasks[i].state == TASK_ACCEPTED) &&
                    b->tasks[i].worker == (long)w;
        if (!named) return (long)w;
    }
    return -1;
}

/* READY: registers a new worker, or renews a known one's credit. */
static void on_ready(struct broker *b, long w, const void *id, size_t id_len, const optout_msg *m) {
    int fresh = w < 0;
    if (fresh) {
        w = reusable_worker_slot(b);
        if (w < 0) {
            if (b->worker_count == b->worker_cap) {
                b->worker_cap = b->worker_cap ? 2 * b->worker_cap : 16;
                b->workers = realloc(b->workers, b->worker_cap * sizeof *b->workers);
                if (!b->workers) optout_oom("the worker table");
            }
            w = (long)b->worker_count++;
        }
        memset(&b->workers[w], 0, sizeof b->workers[w]);
        if (id_len > sizeof b->workers[w].id) id_len = sizeof b->workers[w].id;
        memcpy(b->workers[w].id, id, id_len);
        b->workers[w].id_len = id_len;
        b->workers[w].alive = 1;
    }
    /* the name is the peer's text: escaped once here, so that every log line can quote it */
    optout_log_escape_str(m->worker, b->workers[w].name, sizeof b->workers[w].name);
    if (fresh) optout_log(LOG_INFO, "worker=%s: joined with %u slots", b->workers[w].name, m->credit);
    /* A registered worker says READY again when it learns this broker's epoch (it joined with
     * epoch 0). Its free slots were counted before the tasks leased to it since then reached
     * it, so those are taken off: otherwise its credit would stay one task too high for good.
     * (Tasks it did know of are only ever leased by an earlier epoch, never counted here.) */
    uint32_t leased = 0;
    for (size_t i = 0; i < b->task_count; i++) leased += b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w;
    b->workers[w].credit = m->credit > leased ? m->credit - leased : 0;
    b->workers[w].last_seen = optout_now_ms();
}

static void on_handback(struct broker *b, long w, const optout_msg *m) {
    if (m->epoch != b->epoch || m->task >= b->task_count || b->tasks[m->task].state != TASK_LEASED ||
        b->tasks[m->task].attempt != m->attempt || !broker_leased_to(b, m->task, w))
        return; /* not an attempt leased to this worker */
    char fields[4200];
    optout_log(LOG_INFO, "%s worker=%s: handed back", task_fields(b, m->task, fields, sizeof fields),
               b->workers[w].name);
    commit_discard_attempt(b, m->task);
    broker_queue_push(b, m->task); /* not a failure: no retry counted */
}

static void on_bye(struct broker *b, long w) {
    b->workers[w].alive = 0;
    for (size_t i = 0; i < b->task_count; i++)
        if (b->tasks[i].state == TASK_LEASED && b->tasks[i].worker == w) {
            commit_discard_attempt(b, i);
            broker_queue_push(b, i);
        }
    optout_log(LOG_INFO, "worker=%s: left", b->workers[w].name);
}

/* A peer can send malformed messages at will: one line per peer per interval, its identity escaped. */
static void log_malformed(struct broker *b, const void *id, size_t id_len, size_t len, const char *why) {
    char peer[4 * 64];
    unsigned long suppressed = 0;
    optout_log_escape(id, id_len < 64 ? id_len : 64, peer, sizeof peer);
    if (optout_log_allow(&b->malformed_log, peer, &suppressed))
        optout_log(LOG_WARNING, "peer=%s: dropped a malformed message (%zu bytes): %s%s", peer, len, why,
                   suppressed ? " (and more from it since the last message)" : "");
}

static void on_message(struct broker *b, const void *id, size_t id_len, const void *frame, size_t len) {
    optout_msg m;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_decode(frame, len, &m, err) != 0) {
        log_malformed(b, id, id_len, len, err);
        return;
    }
    long w = find_worker(b, id, id_len);
    if (m.type == OPTOUT_MSG_STATUS_REQUEST) {
        /* clients are not workers: answer on the same identity without registering it */
        char text[2048];
        status_json(b, text, sizeof text);
        optout_msg st = {.type = OPTOUT_MSG_STATUS, .epoch = b->epoch, .text = text, .text_len = strlen(text)};
        send_to_id(b, id, id_len, &st);
        return;
    }
    if (b->complete) {
        /* the run is over: whoever asks (a worker of this run, or one that joins late) hears DONE;
         * a BYE is the answer of a worker leaving on it */
        if (m.type == OPTOUT_MSG_BYE && w >= 0) b->workers[w].alive = 0;
        else if (m.type != OPTOUT_MSG_BYE && id_len <= sizeof b->workers[0].id) {
            optout_msg done = {.type = OPTOUT_MSG_DONE, .epoch = b->epoch};
            send_to_id(b, id, id_len, &done);
        }
        return;
    }
    if (m.type == OPTOUT_MSG_READY) {
        on_ready(b, w, id, id_len, &m);
        return;
    }
    if (w < 0) {
        /* an unknown peer (e.g. a worker of a previous broker): tell it our epoch so it re-registers */
        optout_msg hb = {.type = OPTOUT_MSG_HEARTBEAT, .epoch = b->epoch};
        if (id_len <= sizeof b->workers[0].id) send_to_id(b, id, id_len, &hb);
        return;
    }
    b->workers[w].last_seen = optout_now_ms();
    switch (m.type) {
    case OPTOUT_MSG_HEARTBEAT: break;
    case OPTOUT_MSG_CREDIT:
        /* both are at most OPTOUT_MSG_MAX_CREDIT (the decoder checks): the sum cannot wrap; a buggy
         * worker returning more credit than it has slots is held to the protocol's maximum */
        if (m.epoch == b->epoch) {
            b->workers[w].credit += m.credit;
            if (b->workers[w].credit > OPTOUT_MSG_MAX_CREDIT) b->workers[w].credit = OPTOUT_MSG_MAX_CREDIT;
        }
        break;
    case OPTOUT_MSG_RESULT: commit_result(b, w, &m); break;
    case OPTOUT_MSG_HANDBACK: on_handback(b, w, &m); break;
    case OPTOUT_MSG_BYE: on_bye(b, w); break;
    default: optout_log(LOG_WARNING, "unexpected %s from worker=%s", optout_msg_type_name(m.type), b->workers[w].name);
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void dispatch(struct broker *b) {
    int64_t now = optout_now_ms();
    while (b->queue_len > 0) {
        long w = -1;
        for (size_t k = 0; k < b->worker_count; k++) { /* round robin over workers with credit */
            size_t i = (b->next_worker + k) % b->worker_count;
            if (b->workers[i].alive && b->workers[i].credit > 0 && b->workers[i].benched_until <= now) {
                w = (long)i;
                break;
            }
        }
        if (w < 0) return;
        if (!stages_may_lease(b, b->queue[b->queue_head])) return; /* one Wayback task at a time */
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
        commit_staging_path(b, task, b->epoch, t->attempt, staging, sizeof staging);
        broker_path(b, staging, &m.staging);
        if (send_to(b, w, &m) != 0) {
            broker_queue_push(b, task);
            worker_dead(b, w, "unreachable");
            continue;
        }
        b->workers[w].credit--;
        t->state = TASK_LEASED;
        t->worker = w;
        t->leased_at = now;
    }
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Receives what is waiting on the socket: [identity, body] messages; others are dropped. */
static void drain(struct broker *b) {
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, b->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        int more = zmq_msg_more(&id);
        zmq_msg_init(&body);
        if (more && zmq_msg_recv(&body, b->router, 0) >= 0) {
            size_t frames = 1;
            while (zmq_msg_more(&body)) { /* extra frames: drop the message */
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                zmq_msg_recv(&body, b->router, 0);
                frames++;
            }
            if (frames == 1)
                on_message(b, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body), zmq_msg_size(&body));
            else log_malformed(b, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_size(&body), "more than one frame");
        }
        zmq_msg_close(&body);
        zmq_msg_close(&id);
    }
}

/* The loop's tick: systemd's watchdog and status, the metrics, liveness and heartbeats. */
static void tick(struct broker *b, int64_t now) {
    /* systemd: the loop is alive, and what it is doing (harmless without NOTIFY_SOCKET) */
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=%s: %zu of %zu tasks done, %zu failed", stage_name(b->stage),
               b->settled[b->stage], b->stage_count[b->stage], b->failed);
    status_publish_metrics(b);
    for (size_t w = 0; w < b->worker_count; w++) {
        struct worker *wk = &b->workers[w];
        if (!wk->alive) continue;
        if (now - wk->last_seen > OPTOUT_LIVENESS_MS) {
            worker_dead(b, (long)w, "silent for more than the liveness window");
            continue;
        }
        if (now - wk->last_sent >= OPTOUT_HEARTBEAT_MS) {
            optout_msg hb = {.type = OPTOUT_MSG_HEARTBEAT, .epoch = b->epoch};
            if (send_to(b, (long)w, &hb) != 0) worker_dead(b, (long)w, "unreachable");
        }
    }
}

/* Serves until every stage has settled (0), a stage cannot go on (1: plan_advance), a dry run's
 * last stage is done (2), a stop was requested (0, broker_stop set) or an error (-1). */
static int loop(struct broker *b) {
    int64_t last_tick = 0;
    b->started = optout_now_ms();
    b->done_at_start = b->done;
    b->docs_at_start = b->stats->total.docs_in;
    status_publish_metrics(b);
    while (!broker_stop) {
        if (b->pending_count == 0 && b->settled[b->stage] == b->stage_count[b->stage]) {
            int rc = plan_advance(b);
            if (rc != 0) return rc;
            if (b->stage == STAGE_COUNT) break;
        }
        dispatch(b);
        int64_t now = optout_now_ms();
        long timeout = OPTOUT_HEARTBEAT_MS / 4;
        if (b->pending_count) timeout = b->commit_deadline > now ? (long)(b->commit_deadline - now) : 0;
        zmq_pollitem_t item = {.socket = b->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, timeout) < 0) {
            if (zmq_errno() == EINTR) continue;
            optout_log(LOG_ERR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (item.revents & ZMQ_POLLIN) drain(b);
        now = optout_now_ms();
        if (b->pending_count && now >= b->commit_deadline && commit_pending(b) != 0) return -1;
        if (now - last_tick >= OPTOUT_HEARTBEAT_MS / 4) {
            last_tick = now;
            tick(b, now);
        }
    }
    return commit_sync(b);
}

/* Waits up to ms for messages and answers them (after the run: DONE); a plain sleep without a socket. */
static void answer_for(struct broker *b, long ms) {
    if (!b->router) {
        struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&t, NULL);
        return;
    }
    zmq_pollitem_t item = {.socket = b->router, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, ms) > 0 && (item.revents & ZMQ_POLLIN)) drain(b);
}

/* After the run: DONE to every worker (optout-worker --exit-when-done leaves on it, a service
 * waits for the next run), then answering for up to FAREWELL_MS, until every worker said BYE, so
 * that the DONEs leave the socket and a worker that was between heartbeats hears it too. */
#define FAREWELL_MS (2 * OPTOUT_HEARTBEAT_MS)
static void farewell(struct broker *b) {
    if (!b->router) return;
    b->complete = 1;
    optout_msg done = {.type = OPTOUT_MSG_DONE, .epoch = b->epoch};
    for (size_t w = 0; w < b->worker_count; w++)
        if (b->workers[w].alive && send_to(b, (long)w, &done) != 0) b->workers[w].alive = 0;
    for (int64_t until = optout_now_ms() + FAREWELL_MS; !broker_stop && optout_now_ms() < until;) {
        size_t alive = 0;
        for (size_t w = 0; w < b->worker_count; w++) alive += b->workers[w].alive;
        if (!alive) break;
        sd_notify(0, "WATCHDOG=1");
        answer_for(b, 100);
    }
}

/* The run's Redis keys (its prefix: run id and configuration hash) are deleted once it is complete,
 * unless --keep-redis-keys: a rerun reloads them. A failure is logged, not the run's. */
static void drop_redis_keys(struct broker *b) {
    if (!b->cfg->redis || !b->redis_prefix[0]) return;
    if (b->cfg->keep_redis_keys) {
        optout_log(LOG_INFO, "Redis %s: keeping the keys under %s (--keep-redis-keys)", b->cfg->redis, b->redis_prefix);
        return;
    }
    char err[512];
    long n = optout_verdicts_redis_drop(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password, b->redis_prefix,
                                        err, sizeof err);
    if (n < 0) optout_log(LOG_WARNING, "cannot delete the run's Redis keys under %s: %s", b->redis_prefix, err);
    else optout_log(LOG_INFO, "Redis %s: deleted %ld keys under %s (--keep-redis-keys keeps them)", b->cfg->redis, n,
                    b->redis_prefix);
}

/* After the run: the final metrics stay up for --metrics-linger seconds (SIGTERM ends that early),
 * so that a scraper records how the run ended; the watchdog is kept fed meanwhile, and workers
 * that ask are told the run is over. */
static void linger_metrics(struct broker *b) {
    if (!b->metrics) return;
    status_publish_metrics(b);
    if (!b->cfg->metrics_linger) return;
    sd_notifyf(0, "STATUS=run complete: %zu tasks done, %zu failed; serving the final metrics for %u s", b->done,
               b->failed, b->cfg->metrics_linger);
    for (int64_t until = optout_now_ms() + 1000 * (int64_t)b->cfg->metrics_linger;
         !broker_stop && optout_now_ms() < until;) {
        sd_notify(0, "WATCHDOG=1");
        answer_for(b, 250);
    }
}

/* ---- the run ---------------------------------------------------------------------------------- */

/* The agent list: the file's, then --agent names; the built-in list when both are empty. Returns
 * an exit code. */
static int load_agents(struct broker *b) {
    const struct broker_config *cfg = b->cfg;
    size_t bad_line = 0;
    if (cfg->agents_file && optout_agents_load(b->agents, cfg->agents_file, &bad_line) != 0) {
        optout_log(LOG_ERR, "agents file %s%s: %s", cfg->agents_file, bad_line ? " (bad line)" : "",
                   optout_agents_strerror(errno));
        return bad_line ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
    }
    for (size_t i = 0; i < cfg->agent_count; i++)
        if (optout_agents_add(b->agents, cfg->agents[i], strlen(cfg->agents[i])) != 0) {
            optout_log(LOG_ERR, "--agent '%s': %s", cfg->agents[i], optout_agents_strerror(errno));
            return OPTOUT_EXIT_USAGE;
        }
    if (optout_agents_count(b->agents) == 0) {
        optout_agents_free(b->agents);
        if (!(b->agents = optout_agents_new_default())) return OPTOUT_EXIT_FAILURE;
    }
    optout_agents_log_warnings(b->agents, 0);
    return OPTOUT_EXIT_OK;
}

/* The ROUTER socket: CURVE when configured (the ZAP handler started before any bind), bound to
 * DIR/broker.sock and every --bind. 0 or -1 (logged). */
static int open_socket(struct broker *b, struct broker_zap **zap) {
    const struct broker_config *cfg = b->cfg;
    char endpoint[4200];
    b->zctx = zmq_ctx_new();
    b->router = b->zctx ? zmq_socket(b->zctx, ZMQ_ROUTER) : NULL;
    int one = 1, zero = 0;
    int64_t max_frame = (int64_t)OPTOUT_MSG_MAX_BYTES; /* larger frames are refused as they arrive */
    if (!b->router || zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame) != 0) {
        optout_log(LOG_ERR, "ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    /* CURVE applies to every endpoint, ipc included; the ZAP handler is bound before any */
    if (cfg->curve_secret && (optout_curve_server_setup(b->router, cfg->curve_secret) != 0 ||
                              !(*zap = broker_zap_start(b->zctx, b->router, cfg->curve_allow_dir)))) {
        optout_log(LOG_ERR, "CURVE: cannot secure the broker's socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    /* the run directory's socket (local workers, optout status), then every --bind */
    for (size_t i = 0; i <= cfg->bind_count; i++) {
        if (i == 0) snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", cfg->dir);
        else snprintf(endpoint, sizeof endpoint, "%s", cfg->binds[i - 1]);
        if (zmq_bind(b->router, endpoint) != 0) {
            optout_log(LOG_ERR, "binding %s: %s", endpoint, zmq_strerror(zmq_errno()));
            return -1;
        }
        optout_log(LOG_INFO, "listening on %s%s", endpoint, cfg->curve_secret ? " (CURVE)" : "");
    }
    return 0;
}

/* Plans the run, replays the journal and settles what it can. Returns an exit code. */
static int prepare(struct broker *b) {
    int rc = load_agents(b);
    if (rc != OPTOUT_EXIT_OK || (rc = plan_run(b)) != OPTOUT_EXIT_OK) return rc;
    if (stages_plan(b) != 0 || status_write_stages(b) != 0) return OPTOUT_EXIT_FAILURE;
    b->queue = calloc(b->task_count ? b->task_count : 1, sizeof *b->queue);
    b->pending = calloc(b->task_count ? b->task_count : 1, sizeof *b->pending);
    if (!b->queue || !b->pending || plan_output_names(b) != 0 || plan_config_blob(b) != 0 || plan_policy_stats(b) != 0 ||
        commit_recover(b) != 0)
        return OPTOUT_EXIT_FAILURE;
    optout_log(LOG_INFO, "epoch %llu: %zu tasks, %zu done, %zu failed", (unsigned long long)b->epoch, b->task_count,
               b->done, b->failed);
    return OPTOUT_EXIT_OK;
}

static void release(struct broker *b, struct broker_zap *zap) {
    metrics_stop(b->metrics);
    sd_notify(0, "STOPPING=1");
    if (b->journal) optout_journal_close(b->journal);
    if (b->router) {
        char sock[4200];
        snprintf(sock, sizeof sock, "%s/broker.sock", b->cfg->dir);
        unlink(sock);
        zmq_close(b->router);
    }
    broker_zap_stop(zap);
    if (b->zctx) zmq_ctx_term(b->zctx);
    for (size_t i = 0; i < b->task_count && b->tasks; i++) {
        free(b->tasks[i].accepted);
        free(b->tasks[i].output_name);
        free(b->tasks[i].error);
        free(b->tasks[i].earlier_error);
    }
    free(b->tasks);
    free(b->wayback_block_counts);
    free(b->queue);
    free(b->pending);
    free(b->workers);
    free(b->config_blob);
    free(b->stats);
    free(b->pending_stats);
    free(b->by_policy);
    free(b->pending_policy);
    optout_survey_summary_free(&b->survey);
    free(b->blocked);
    for (size_t i = 0; i < b->published_count; i++) free(b->published[i].path);
    free(b->published);
    optout_inputs_free(&b->inputs);
    optout_inputs_free(&b->history_files);
    optout_agents_free(b->agents);
}

/* Serves the stages that remain. Returns plan_advance's or loop's code (0, 1, 2), -1 on error. */
static int serve(struct broker *b, struct broker_zap **zap) {
    int halted = plan_advance(b); /* 1: a rank or fetch task failed; 2: the dry run's last stage is done */
    if (halted < 0) return -1;
    if (b->cfg->metrics_listen) {
        char merr[512];
        if (!(b->metrics = metrics_start(b->cfg->metrics_listen, merr, sizeof merr))) {
            optout_log(LOG_ERR, "--metrics-listen %s", merr);
            return -1;
        }
        optout_log(LOG_INFO, "metrics at %s", metrics_url(b->metrics));
    }
    if (halted || b->stage >= STAGE_COUNT) return halted;
    if (open_socket(b, zap) != 0) return -1;
    sd_notifyf(0, "READY=1\nSTATUS=%s: %zu of %zu tasks done", stage_name(b->stage), b->settled[b->stage],
               b->stage_count[b->stage]);
    return loop(b);
}

int broker_run(const struct broker_config *cfg) {
    struct broker b = {.cfg = cfg, .malformed_log = {.every_ms = 10000}};
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
    b.pending_stats = calloc(1, sizeof *b.pending_stats);
    if (!b.agents || !b.stats || !b.pending_stats || (rc = prepare(&b)) != OPTOUT_EXIT_OK) goto out;
    rc = OPTOUT_EXIT_FAILURE;
    int halted = serve(&b, &zap);
    if (halted < 0) goto out;
    if (broker_stop && b.router) {
        /* a clean stop (systemctl stop, Slurm's time limit): the journal is synced and the run
         * resumes where it was, so this is no failure: exit 0, as a service stopped on request */
        optout_log(LOG_INFO, "stopped before completion: %zu of %zu tasks done; rerun to resume", b.done, b.task_count);
        rc = OPTOUT_EXIT_OK;
        goto out;
    }
    char staging_dir[4200];
    snprintf(staging_dir, sizeof staging_dir, "%s/.staging", cfg->dir);
    optout_remove_tree(staging_dir); /* every task is settled: what is left there belongs to no attempt */
    if (halted == 2) { /* --stop-after: the answer, and the run resumes from here when rerun without it */
        rc = artefacts_write_dry_run(&b) == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
        farewell(&b); /* nothing more for this broker's workers either */
        goto out;
    }
    if (halted) b.recovered = 1; /* the report lists what failed */
    if (artefacts_write_final(&b) != 0) goto out;
    rc = b.failed ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_OK;
    optout_log(LOG_INFO, "run complete: %zu tasks done, %zu failed; %llu of %llu documents removed", b.done, b.failed,
               (unsigned long long)b.stats->total.docs_removed, (unsigned long long)b.stats->total.docs_in);
    drop_redis_keys(&b);
    farewell(&b);
    linger_metrics(&b);
out:
    release(&b, zap);
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}
