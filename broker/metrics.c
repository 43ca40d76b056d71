/* metrics.c — the broker's Prometheus endpoint over libmicrohttpd (design in metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "optout/log.h"
#include "optout/stats.h"
#include "optout/util.h"
#include "optout/version.h"

struct metrics {
    struct MHD_Daemon *daemon;
    char url[300]; /* http://HOST:PORT/metrics, with the port actually bound */
    pthread_mutex_t lock; /* guards snap and have: held for a memcpy, never while rendering */
    struct metrics_snapshot snap;
    int have;
};

int metrics_parse_listen(const char *text, char *host, size_t host_cap, char *port, size_t port_cap, char *err,
                         size_t errlen) {
    const char *colon = strrchr(text, ':'), *h = text;
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') h++, hlen -= 2; /* [v6]:port */
    const char *p = colon ? colon + 1 : "";
    char *end;
    errno = 0;
    unsigned long n = strtoul(p, &end, 10);
    if (!colon || hlen == 0 || hlen >= host_cap || !*p || *end || errno || n > 65535 || p[0] == '-' ||
        strlen(p) >= port_cap) {
        optout_set_err(err, errlen, "expected HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464), got '%s'", text);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_cap, "%lu", n);
    return 0;
}

/* ---- rendering ---------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap;
    int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = 2 * o->cap + (size_t)n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = 1;
            return;
        }
        o->buf = b, o->cap = cap;
    }
}

/* HELP and TYPE lines: every family is introduced before its samples. */
static void family(struct out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct out *o, const char *name, const char *type, const char *help, uint64_t v) {
    family(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

char *metrics_render(const struct metrics_snapshot *s, size_t *len) {
    static const char *const states[METRICS_TASK_STATES] = {"pending", "leased", "accepted", "done", "failed"};
    struct out o = {.cap = 8192};
    if (!(o.buf = malloc(o.cap))) return NULL;
    /* label values are fixed names, hex and the version: nothing to escape */
    family(&o, "optout_info", "gauge", "The broker's run id (12 hex digits) and version; always 1.");
    put(&o, "optout_info{run=\"%s\",version=\"%s\"} 1\n", s->run, OPTOUT_VERSION);
    sample(&o, "optout_epoch", "gauge", "The broker's epoch (one more at every broker start on the run directory).",
           s->epoch);
    family(&o, "optout_stage", "gauge", "The running stage: 1 for it, 0 for the others (done: every stage finished).");
    for (int st = 0; st <= STAGE_COUNT; st++)
        put(&o, "optout_stage{stage=\"%s\"} %d\n", stage_name((enum stage)st), st == s->stage);
    family(&o, "optout_tasks", "gauge", "Planned tasks by stage and state.");
    for (int st = 0; st < STAGE_COUNT; st++)
        for (int k = 0; k < METRICS_TASK_STATES; k++)
            put(&o, "optout_tasks{stage=\"%s\",state=\"%s\"} %llu\n", stage_name((enum stage)st), states[k],
                (unsigned long long)s->tasks[st][k]);
    sample(&o, "optout_tasks_done_total", "counter", "Tasks published (over every stage, earlier epochs included).",
           s->tasks_done);
    sample(&o, "optout_tasks_failed_total", "counter", "Tasks that failed permanently (over every stage).",
           s->tasks_failed);
    sample(&o, "optout_documents_processed_total", "counter", "Documents read by published filter tasks.", s->docs_in);
    sample(&o, "optout_documents_removed_total", "counter", "Documents removed by published filter tasks.",
           s->docs_removed);
    sample(&o, "optout_bytes_processed_total", "counter", "UTF-8 bytes of text of the documents read.", s->bytes_in);
    sample(&o, "optout_bytes_removed_total", "counter", "UTF-8 bytes of text of the documents removed.",
           s->bytes_removed);
    sample(&o, "optout_tokens_processed_total", "counter", "Tokens of the documents read (token_count, else bytes/4).",
           s->tokens_in);
    sample(&o, "optout_tokens_removed_total", "counter", "Tokens of the documents removed.", s->tokens_removed);
    family(&o, "optout_hosts_fetched_total", "counter", "Hosts whose robots.txt was fetched, by outcome.");
    for (int k = 0; k < OPTOUT_OUTCOME_COUNT; k++)
        put(&o, "optout_hosts_fetched_total{outcome=\"%s\"} %llu\n", optout_outcome_name((optout_outcome)k),
            (unsigned long long)s->hosts_by_outcome[k]);
    sample(&o, "optout_workers_alive", "gauge", "Workers registered and not silent past the liveness window.",
           s->workers_alive);
    sample(&o, "optout_queue_depth", "gauge", "Tasks queued for dispatch (pending, waiting for worker credit).",
           s->queue_depth);
    sample(&o, "optout_journal_fsyncs_total", "counter", "Journal fsyncs by this broker process.", s->journal_fsyncs);
    sample(&o, "optout_group_commits_total", "counter", "Group commits (one journal fsync for every result pending).",
           s->group_commits);
    sample(&o, "optout_group_commit_tasks_total", "counter",
           "Tasks published by group commits (divided by optout_group_commits_total: the mean group size).",
           s->group_commit_tasks);
    family(&o, "optout_start_time_seconds", "gauge", "When this broker process started serving (Unix time).");
    put(&o, "optout_start_time_seconds %.3f\n", s->start_time);
    family(&o, "optout_snapshot_time_seconds", "gauge", "When the broker loop took these values (Unix time).");
    put(&o, "optout_snapshot_time_seconds %.3f\n", s->time);
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

/* ---- serving ------------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version, (void)upload, (void)con_cls;
    struct metrics *m = cls;
    static char not_found[] = "not found: the metrics are at /metrics\n", bad_method[] = "GET or HEAD only\n",
                no_data[] = "no snapshot yet\n";
    const char *text = "text/plain; charset=utf-8";
    if (*upload_size) return MHD_NO; /* no request body expected */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, bad_method, sizeof bad_method - 1, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, text, not_found, sizeof not_found - 1, MHD_RESPMEM_PERSISTENT);
    struct metrics_snapshot *s = malloc(sizeof *s); /* a private copy: rendering happens outside the lock */
    if (!s) return MHD_NO;
    pthread_mutex_lock(&m->lock);
    int have = m->have;
    if (have) memcpy(s, &m->snap, sizeof *s);
    pthread_mutex_unlock(&m->lock);
    size_t len = 0;
    char *body = have ? metrics_render(s, &len) : NULL;
    free(s);
    if (!have)
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, no_data, sizeof no_data - 1, MHD_RESPMEM_PERSISTENT);
    if (!body) return MHD_NO;
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, MHD_RESPMEM_MUST_FREE);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    optout_log(LOG_WARNING, "metrics server: %s", msg);
}

struct metrics *metrics_start(const char *listen_on, char *err, size_t errlen) {
    char host[256], port[16];
    if (metrics_parse_listen(listen_on, host, sizeof host, port, sizeof port, err, errlen) != 0) return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        optout_set_err(err, errlen, "%s: %s", listen_on, gai_strerror(g));
        return NULL;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        optout_set_err(err, errlen, "binding %s: %s", listen_on, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    unsigned actual = 0;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        actual = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                   : ((struct sockaddr_in *)&bound)->sin_port);
    struct metrics *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->url, sizeof m->url, strchr(host, ':') ? "http://[%s]:%u/metrics" : "http://%s:%u/metrics", host,
             actual);
    /* one internal thread polls every connection: scrapes are rare and cheap */
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!m->daemon) {
        optout_set_err(err, errlen, "%s: libmicrohttpd could not start", listen_on);
        close(fd);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

const char *metrics_url(const struct metrics *m) { return m->url; }

void metrics_publish(struct metrics *m, const struct metrics_snapshot *s) {
    pthread_mutex_lock(&m->lock);
    memcpy(&m->snap, s, sizeof *s);
    m->have = 1;
    pthread_mutex_unlock(&m->lock);
}

void metrics_stop(struct metrics *m) {
    if (!m) return;
    MHD_stop_daemon(m->daemon); /* closes the listening socket, joins the thread */
    pthread_mutex_destroy(&m->lock);
    free(m);
}
