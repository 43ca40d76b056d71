/* worker.c — the worker's network thread and task threads (worker/worker.h, docs/fleet.md).
 *
 * Threads
 * - The network thread (the caller of worker_run) owns the DEALER socket, an inproc PULL socket on
 *   which results arrive, and a signalfd for SIGTERM/SIGINT; it polls the three and never runs a
 *   task, so heartbeats flow while a long shard is being filtered.
 * - Task threads pop tasks from a queue (mutex + condition variable), run them, and push each
 *   encoded RESULT on their own inproc PUSH socket (ZeroMQ sockets are not shared between threads).
 *
 * Bookkeeping lives in the network thread: `in_flight` counts tasks received and not yet answered
 * (RESULT received from a task thread, HANDBACK sent, or dropped for an older epoch); free credit
 * is slots - in_flight. While the socket is closed (reconnect backoff) results stay in the inproc
 * pipe and are forwarded after the next READY.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "optout/log.h"
#include "optout/util.h"
#include "task.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_MS 1000
#define BYE_LINGER_MS 100 /* enough for a live broker; a dead one would hold the exit */
#define RESULTS_ENDPOINT "inproc://optout-worker-results"

struct task_item {
    struct task_item *next;
    void *frame; /* the TASK frame; msg's byte fields point into it */
    size_t len;
    optout_msg msg;
};

struct worker {
    const worker_options *opts;
    void *ctx;
    /* shared with the task threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task_item *head, *tail;
    size_t queued;
    unsigned running;
    int closing; /* task threads exit once the queue is empty */
    /* network thread only */
    void *dealer; /* NULL while waiting to reconnect */
    void *pull;
    int sigfd;
    uint64_t epoch;
    unsigned in_flight;
    unsigned long long done, failed, handed_back;
    int stopping;
    int64_t last_sent, last_recv, reconnect_at, last_watchdog;
    int send_failing; /* the last send failed (logged once until one succeeds) */
    long backoff;
    unsigned conn_seq;
    uint32_t nonce;
    char status[256];
    optout_msg in; /* scratch for decoding */
};

/* A task path the broker sent, as "root:relative path" escaped for a log line (the broker is a
 * peer: its text goes into logs escaped, as the broker does with the workers'). */
static const char *path_text(const optout_msg_path *p, char *out, size_t cap) {
    char joined[OPTOUT_MSG_NAME_MAX + OPTOUT_MSG_PATH_MAX + 1];
    int n = snprintf(joined, sizeof joined, "%s:%s", p->root, p->rel);
    return optout_log_escape(joined, n < 0 ? 0 : (size_t)n < sizeof joined ? (size_t)n : sizeof joined - 1, out, cap);
}

static void free_item(struct task_item *it) {
    if (!it) return;
    free(it->frame);
    free(it);
}

/* ---- task threads -------------------------------------------------------------------------- */

/* Encodes the result; when that fails, a failure result without files; as a last resort an empty
 * frame, which the network thread counts as a lost result (so its bookkeeping stays right). */
static void push_result(void *push, optout_msg *res) {
    void *buf = NULL;
    size_t len = 0;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(res, &buf, &len, err) != 0) {
        optout_log(LOG_ERR, "task %llu: cannot encode its result: %s", (unsigned long long)res->task, err);
        res->ok = 0;
        res->file_count = 0;
        res->stats = NULL;
        res->stats_len = 0;
        snprintf(res->error, sizeof res->error, "the worker could not encode the result: %s", err);
        if (optout_msg_encode(res, &buf, &len, err) != 0) {
            buf = NULL;
            len = 0;
        }
    }
    if (zmq_send(push, buf ? buf : "", len, 0) < 0)
        optout_log(LOG_ERR, "task %llu: cannot pass its result on: %s", (unsigned long long)res->task,
                   zmq_strerror(zmq_errno()));
    free(buf);
}

static void *task_thread(void *arg) {
    struct worker *w = arg;
    void *push = zmq_socket(w->ctx, ZMQ_PUSH);
    if (!push || zmq_connect(push, RESULTS_ENDPOINT) != 0) {
        /* Cannot happen short of running out of file descriptors; without a way to answer, the
         * process cannot keep its promises. */
        optout_log(LOG_CRIT, "task thread: cannot connect to the network thread: %s", zmq_strerror(zmq_errno()));
        abort();
    }
    task_cache *cache = NULL;
    optout_msg *res = malloc(sizeof *res);
    if (!res) {
        optout_log(LOG_CRIT, "out of memory");
        abort();
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->closing) pthread_cond_wait(&w->cv, &w->mu);
        struct task_item *it = w->head;
        if (it) {
            w->head = it->next;
            if (!w->head) w->tail = NULL;
            w->queued--;
            w->running++;
        }
        pthread_mutex_unlock(&w->mu);
        if (!it) break;
        void *stats = NULL;
        task_run(&w->opts->env, &cache, &it->msg, res, &stats);
        push_result(push, res);
        free(stats);
        free_item(it);
        pthread_mutex_lock(&w->mu);
        w->running--;
        pthread_mutex_unlock(&w->mu);
    }
    free(res);
    task_cache_free(cache);
    zmq_close(push);
    return NULL;
}

/* ---- network thread ------------------------------------------------------------------------ */

static unsigned free_slots(const struct worker *w) {
    return w->stopping || w->in_flight >= w->opts->slots ? 0 : w->opts->slots - w->in_flight;
}

static void update_status(struct worker *w) {
    pthread_mutex_lock(&w->mu);
    unsigned running = w->running, queued = (unsigned)w->queued;
    pthread_mutex_unlock(&w->mu);
    char s[sizeof w->status];
    snprintf(s, sizeof s, "running %u tasks, %llu done, %llu failed, %u queued%s%s", running, w->done, w->failed,
             queued, w->stopping ? "; stopping" : "", w->dealer ? "" : "; reconnecting");
    if (strcmp(s, w->status) == 0) return;
    memcpy(w->status, s, sizeof s);
    char line[sizeof s + 8];
    snprintf(line, sizeof line, "STATUS=%s", s);
    sd_notify(0, line);
}

/* Sends one frame on the DEALER socket (never blocks). 0, or -1 (logged). */
static int send_frame(struct worker *w, const void *buf, size_t len, const char *what) {
    if (!w->dealer) {
        optout_log(LOG_WARNING, "not connected: %s not sent", what);
        return -1;
    }
    if (zmq_send(w->dealer, buf, len, ZMQ_DONTWAIT) < 0) {
        /* No connection to send on (e.g. a CURVE handshake the broker refused): say so once, and
         * count it as sent so that the heartbeat is tried again in a second, not in a busy loop. */
        optout_log(w->send_failing ? LOG_DEBUG : LOG_WARNING, "cannot send %s: %s%s", what,
                   zmq_strerror(zmq_errno()), w->opts->curve ? " (is this worker's key in the broker's allow-list?)" : "");
        w->send_failing = 1;
        w->last_sent = optout_now_ms();
        return -1;
    }
    w->send_failing = 0;
    w->last_sent = optout_now_ms();
    return 0;
}

static int send_msg(struct worker *w, optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(m, &buf, &len, err) != 0) {
        optout_log(LOG_ERR, "cannot encode %s: %s", optout_msg_type_name(m->type), err);
        return -1;
    }
    int rc = send_frame(w, buf, len, optout_msg_type_name(m->type));
    free(buf);
    return rc;
}

/* A message of `type` with the worker's id and current epoch; the rest zero. */
static optout_msg *prepare(struct worker *w, optout_msg *m, optout_msg_type type) {
    memset(m, 0, sizeof *m);
    m->type = type;
    m->epoch = w->epoch;
    snprintf(m->worker, sizeof m->worker, "%s", w->opts->name);
    return m;
}

static void send_simple(struct worker *w, optout_msg_type type, uint32_t credit) {
    optout_msg *m = malloc(sizeof *m);
    if (!m) {
        optout_log(LOG_ERR, "out of memory: %s not sent", optout_msg_type_name(type));
        return;
    }
    prepare(w, m, type)->credit = credit;
    send_msg(w, m);
    free(m);
}

static void send_ready(struct worker *w) {
    unsigned credit = free_slots(w);
    optout_log(LOG_INFO, "READY to %s (epoch %llu, credit %u)", w->opts->endpoint, (unsigned long long)w->epoch,
               credit);
    send_simple(w, OPTOUT_MSG_READY, credit);
}

static void send_handback(struct worker *w, const optout_msg *task) {
    optout_msg *m = malloc(sizeof *m);
    if (!m) {
        optout_log(LOG_ERR, "out of memory: HANDBACK of task %llu not sent", (unsigned long long)task->task);
        return;
    }
    prepare(w, m, OPTOUT_MSG_HANDBACK);
    m->epoch = task->epoch;
    m->task = task->task;
    m->attempt = task->attempt;
    char input[256];
    optout_log(LOG_INFO, "task %llu (attempt %llu.%llu) %s: handed back", (unsigned long long)task->task,
               (unsigned long long)task->epoch, (unsigned long long)task->attempt,
               path_text(&task->input, input, sizeof input));
    send_msg(w, m);
    free(m);
    w->handed_back++;
}

static int open_dealer(struct worker *w) {
    void *s = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!s) {
        optout_log(LOG_ERR, "cannot create a socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int linger = 0;
    int64_t maxmsg = (int64_t)OPTOUT_MSG_MAX_BYTES;
    /* A routing id unique per connection: a reconnecting worker never collides with its own
     * previous connection, which the broker may not have noticed is gone. */
    char id[OPTOUT_MSG_NAME_MAX + 32];
    int idlen = snprintf(id, sizeof id, "%s#%08x.%u", w->opts->name, (unsigned)w->nonce, ++w->conn_seq);
    if (idlen > 255) idlen = 255;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(s, ZMQ_ROUTING_ID, id, (size_t)idlen) != 0 ||
        (w->opts->curve && optout_curve_client_setup(s, w->opts->curve) != 0) ||
        zmq_connect(s, w->opts->endpoint) != 0) {
        optout_log(LOG_ERR, "cannot connect to %s: %s", w->opts->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return -1;
    }
    w->dealer = s;
    int64_t now = optout_now_ms();
    w->last_recv = now; /* the liveness window starts now */
    send_ready(w);
    return 0;
}

static void close_dealer(struct worker *w) {
    if (w->dealer) zmq_close(w->dealer);
    w->dealer = NULL;
}

/* Drops queued (not started) tasks of epochs before the current one: the broker re-queued them.
 * Returns how many. */
static unsigned drop_stale_tasks(struct worker *w) {
    unsigned dropped = 0;
    struct task_item *stale = NULL;
    pthread_mutex_lock(&w->mu);
    struct task_item **pp = &w->head;
    w->tail = NULL;
    while (*pp) {
        struct task_item *it = *pp;
        if (it->msg.epoch < w->epoch) {
            *pp = it->next;
            it->next = stale;
            stale = it;
            w->queued--;
        } else {
            w->tail = it;
            pp = &it->next;
        }
    }
    pthread_mutex_unlock(&w->mu);
    while (stale) {
        struct task_item *next = stale->next;
        optout_log(LOG_INFO, "task %llu (attempt %llu.%llu): dropped, the broker's epoch is now %llu",
                   (unsigned long long)stale->msg.task, (unsigned long long)stale->msg.epoch,
                   (unsigned long long)stale->msg.attempt, (unsigned long long)w->epoch);
        w->in_flight--;
        dropped++;
        free_item(stale);
        stale = next;
    }
    return dropped;
}

/* SIGTERM/SIGINT: stop taking work; hand back what has not started. */
static void begin_stop(struct worker *w, const char *why) {
    if (w->stopping) {
        optout_log(LOG_INFO, "%s: already stopping (%u tasks to finish)", why, w->in_flight);
        return;
    }
    w->stopping = 1;
    sd_notify(0, "STOPPING=1");
    /* During a reconnect backoff: connect now (when that fails, the hand-backs below are lost and
     * the broker's lease expiry re-queues those tasks). */
    if (!w->dealer) (void)open_dealer(w);
    pthread_mutex_lock(&w->mu);
    struct task_item *list = w->head;
    unsigned queued = (unsigned)w->queued;
    w->head = w->tail = NULL;
    w->queued = 0;
    w->closing = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    optout_log(LOG_INFO, "%s: stopping; handing back %u queued tasks, finishing %u running", why, queued,
               w->in_flight - queued);
    while (list) {
        struct task_item *next = list->next;
        send_handback(w, &list->msg);
        w->in_flight--;
        free_item(list);
        list = next;
    }
}

/* A task that cannot be queued goes back at once; its slot is free again. */
static void refuse_task(struct worker *w, const optout_msg *m) {
    send_handback(w, m);
    if (!w->stopping) send_simple(w, OPTOUT_MSG_CREDIT, 1);
}

static void handle_task(struct worker *w, zmq_msg_t *frame, const optout_msg *m) {
    if (w->stopping) {
        refuse_task(w, m);
        return;
    }
    struct task_item *it = calloc(1, sizeof *it);
    size_t len = zmq_msg_size(frame);
    char err[OPTOUT_MSG_ERR_LEN];
    if (!it || !(it->frame = malloc(len ? len : 1))) {
        optout_log(LOG_ERR, "out of memory: task %llu handed back", (unsigned long long)m->task);
        free_item(it);
        refuse_task(w, m);
        return;
    }
    memcpy(it->frame, zmq_msg_data(frame), len);
    it->len = len;
    if (optout_msg_decode(it->frame, len, &it->msg, err) != 0) { /* decoded once already: cannot fail */
        optout_log(LOG_ERR, "task %llu: %s", (unsigned long long)m->task, err);
        free_item(it);
        refuse_task(w, m);
        return;
    }
    char input[256];
    optout_log(LOG_DEBUG, "task %llu (attempt %llu.%llu) %s: queued", (unsigned long long)m->task,
               (unsigned long long)m->epoch, (unsigned long long)m->attempt, path_text(&m->input, input, sizeof input));
    w->in_flight++;
    if (w->in_flight > w->opts->slots)
        optout_log(LOG_WARNING, "the broker leased %u tasks for %u slots", w->in_flight, w->opts->slots);
    pthread_mutex_lock(&w->mu);
    if (w->tail) w->tail->next = it;
    else w->head = it;
    w->tail = it;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* One frame from the broker. */
static void handle_broker_frame(struct worker *w, zmq_msg_t *frame) {
    optout_msg *m = &w->in;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_decode(zmq_msg_data(frame), zmq_msg_size(frame), m, err) != 0) {
        optout_log(LOG_WARNING, "ignoring a bad message from the broker: %s", err);
        return;
    }
    w->last_recv = optout_now_ms();
    w->backoff = BACKOFF_MIN_MS;
    if (m->epoch < w->epoch) {
        optout_log(LOG_DEBUG, "ignoring %s of epoch %llu (current %llu)", optout_msg_type_name(m->type),
                   (unsigned long long)m->epoch, (unsigned long long)w->epoch);
        return;
    }
    if (m->epoch > w->epoch) {
        uint64_t old = w->epoch;
        w->epoch = m->epoch;
        unsigned dropped = drop_stale_tasks(w);
        optout_log(LOG_INFO, "broker epoch %llu (was %llu)%s", (unsigned long long)w->epoch, (unsigned long long)old,
                   old ? ": the broker restarted" : "");
        if (m->type == OPTOUT_MSG_TASK) {
            /* A TASK proves the broker registered this worker in its new epoch (it leases only to
             * workers whose READY it holds), with the credit that READY gave. Sending READY again
             * would replace that credit while more tasks may be on their way (over-commit); the
             * dropped tasks' slots are returned as CREDIT instead. */
            if (dropped && !w->stopping) send_simple(w, OPTOUT_MSG_CREDIT, dropped);
        } else {
            /* Possibly the broker's answer to a peer it does not know: register again. */
            send_ready(w);
        }
    }
    switch (m->type) {
    case OPTOUT_MSG_TASK: handle_task(w, frame, m); break;
    case OPTOUT_MSG_HEARTBEAT: break;
    case OPTOUT_MSG_ACK:
        optout_log(LOG_DEBUG, "task %llu (attempt %llu.%llu): acknowledged", (unsigned long long)m->task,
                   (unsigned long long)m->epoch, (unsigned long long)m->attempt);
        break;
    default:
        optout_log(LOG_DEBUG, "ignoring an unexpected %s from the broker", optout_msg_type_name(m->type));
        break;
    }
}

static void read_broker(struct worker *w) {
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, w->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        if (zmq_msg_more(&frame)) { /* the protocol has one frame per message: drop the rest */
            optout_log(LOG_WARNING, "ignoring a multi-frame message from the broker");
            while (zmq_msg_more(&frame)) {
                zmq_msg_close(&frame);
                zmq_msg_init(&frame);
                if (zmq_msg_recv(&frame, w->dealer, 0) < 0) break;
            }
            zmq_msg_close(&frame);
            continue;
        }
        handle_broker_frame(w, &frame);
        zmq_msg_close(&frame);
    }
}

/* Results from the task threads: forward each, then return its credit. */
static void read_results(struct worker *w) {
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, w->pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        optout_msg *m = &w->in;
        char err[OPTOUT_MSG_ERR_LEN];
        w->in_flight--;
        if (zmq_msg_size(&frame) == 0 || optout_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), m, err) != 0) {
            optout_log(LOG_ERR, "a task's result was lost (cannot encode it); its lease will expire");
            w->failed++;
        } else {
            if (m->ok) w->done++;
            else w->failed++;
            optout_log(LOG_DEBUG, "task %llu (attempt %llu.%llu): RESULT ok=%d", (unsigned long long)m->task,
                       (unsigned long long)m->epoch, (unsigned long long)m->attempt, (int)m->ok);
            send_frame(w, zmq_msg_data(&frame), zmq_msg_size(&frame), "RESULT");
        }
        zmq_msg_close(&frame);
        if (!w->stopping) send_simple(w, OPTOUT_MSG_CREDIT, 1);
    }
}

static void read_signals(struct worker *w) {
    struct signalfd_siginfo si;
    while (read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
        begin_stop(w, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
}

static int start_threads(struct worker *w, pthread_t *threads, unsigned *started) {
    for (*started = 0; *started < w->opts->slots; (*started)++) {
        int e = pthread_create(&threads[*started], NULL, task_thread, w);
        if (e != 0) {
            optout_log(LOG_ERR, "cannot start a task thread: %s", strerror(e));
            return -1;
        }
    }
    return 0;
}

static void join_threads(struct worker *w, pthread_t *threads, unsigned n) {
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < n; i++) pthread_join(threads[i], NULL);
}

static uint32_t random_nonce(void) {
    uint32_t n;
    if (getrandom(&n, sizeof n, GRND_NONBLOCK) == (ssize_t)sizeof n) return n;
    return (uint32_t)getpid() ^ (uint32_t)optout_now_ms();
}

int worker_run(const worker_options *opts) {
    struct worker *w = calloc(1, sizeof *w);
    pthread_t *threads = calloc(opts->slots ? opts->slots : 1, sizeof *threads);
    unsigned started = 0;
    int rc = -1;
    if (!w || !threads) {
        optout_log(LOG_ERR, "out of memory");
        free(w);
        free(threads);
        return -1;
    }
    w->opts = opts;
    w->sigfd = -1;
    w->backoff = BACKOFF_MIN_MS;
    w->nonce = random_nonce();
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);

    /* Signals are read from a signalfd by the network thread; every other thread (ZeroMQ's too,
     * created by zmq_ctx_new below) inherits the blocked mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
        (w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        optout_log(LOG_ERR, "cannot set up signal handling: %s", strerror(errno));
        goto done;
    }
    if (!(w->ctx = zmq_ctx_new())) {
        optout_log(LOG_ERR, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    w->pull = zmq_socket(w->ctx, ZMQ_PULL);
    if (!w->pull || zmq_bind(w->pull, RESULTS_ENDPOINT) != 0) {
        optout_log(LOG_ERR, "cannot bind %s: %s", RESULTS_ENDPOINT, zmq_strerror(zmq_errno()));
        goto done;
    }
    if (open_dealer(w) != 0) goto done;
    if (start_threads(w, threads, &started) != 0) goto done;
    sd_notify(0, "READY=1");
    optout_log(LOG_INFO, "worker %s serving %s with %u slot%s", opts->name, opts->endpoint, opts->slots,
               opts->slots == 1 ? "" : "s");

    w->last_watchdog = 0;
    for (;;) {
        int64_t now = optout_now_ms();
        if (now - w->last_watchdog >= WATCHDOG_MS) {
            sd_notify(0, "WATCHDOG=1");
            w->last_watchdog = now;
        }
        update_status(w);
        if (w->stopping && w->in_flight == 0 && w->dealer) {
            send_simple(w, OPTOUT_MSG_BYE, 0);
            optout_log(LOG_INFO, "BYE: %llu tasks done, %llu failed, %llu handed back", w->done, w->failed,
                       w->handed_back);
            break;
        }
        /* Liveness and reconnection. */
        if (w->dealer && now - w->last_recv >= OPTOUT_LIVENESS_MS) {
            close_dealer(w);
            long wait = w->stopping ? 0 : w->backoff;
            optout_log(LOG_WARNING, "broker silent for %d s: reconnecting in %.1f s", OPTOUT_LIVENESS_MS / 1000,
                       (double)wait / 1000);
            w->reconnect_at = now + wait;
            w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
            update_status(w);
        }
        if (!w->dealer && now >= w->reconnect_at) {
            if (open_dealer(w) != 0) {
                w->reconnect_at = now + w->backoff;
                w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
            }
            continue;
        }
        if (w->dealer && now - w->last_sent >= OPTOUT_HEARTBEAT_MS) send_simple(w, OPTOUT_MSG_HEARTBEAT, 0);

        /* Sleep until something arrives or the nearest deadline. */
        int64_t deadline = w->last_watchdog + WATCHDOG_MS;
        if (w->dealer) {
            if (w->last_sent + OPTOUT_HEARTBEAT_MS < deadline) deadline = w->last_sent + OPTOUT_HEARTBEAT_MS;
            if (w->last_recv + OPTOUT_LIVENESS_MS < deadline) deadline = w->last_recv + OPTOUT_LIVENESS_MS;
        } else if (w->reconnect_at < deadline) {
            deadline = w->reconnect_at;
        }
        long timeout = deadline > now ? (long)(deadline - now) : 0;
        zmq_pollitem_t items[3] = {
            {.socket = NULL, .fd = w->sigfd, .events = ZMQ_POLLIN},
            {.socket = w->dealer, .events = ZMQ_POLLIN},
            {.socket = w->pull, .events = ZMQ_POLLIN},
        };
        int n = zmq_poll(items, w->dealer ? 3 : 1, timeout);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            optout_log(LOG_ERR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
        if (items[0].revents & ZMQ_POLLIN) read_signals(w);
        if (w->dealer && (items[1].revents & ZMQ_POLLIN)) read_broker(w);
        /* Results are read only while connected: otherwise they wait in the inproc pipe. */
        if (w->dealer && (items[2].revents & ZMQ_POLLIN)) read_results(w);
    }
    rc = 0;
done:
    if (!w->stopping) {
        pthread_mutex_lock(&w->mu);
        while (w->head) { /* only on a setup failure or a poll error: nothing was answered yet */
            struct task_item *it = w->head;
            w->head = it->next;
            free_item(it);
        }
        w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
    }
    join_threads(w, threads, started);
    if (w->dealer) {
        int linger = BYE_LINGER_MS; /* give BYE and the last results time to leave */
        zmq_setsockopt(w->dealer, ZMQ_LINGER, &linger, sizeof linger);
        close_dealer(w);
    }
    if (w->pull) {
        int linger = 0;
        zmq_setsockopt(w->pull, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(w->pull);
    }
    if (w->ctx) zmq_ctx_term(w->ctx);
    if (w->sigfd >= 0) close(w->sigfd);
    sd_notify(0, rc == 0 ? "STATUS=stopped" : "STATUS=failed");
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(threads);
    free(w);
    return rc;
}
