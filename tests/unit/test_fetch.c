/* test_fetch.c — the robots.txt fetcher (include/optout/fetch.h): the address check over a table,
 * scheme names, and real fetches against a small HTTP server running in a thread of this test on
 * 127.0.0.1. The server answers by Host header (requests reach it through connect_to with their
 * Host kept): every outcome class, redirect chains, retries, a big body, gzip, a TLS ClientHello
 * answered with plain-HTTP garbage (AUTO falls back to http). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "optout/fetch.h"

/* ---- the address table ------------------------------------------------------------------------ */

static int public4(const char *s) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, s, &a.sin_addr) != 1) fail_msg("bad test address %s", s);
    return optout_fetch_address_public((const struct sockaddr *)&a);
}
static int public6(const char *s) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET6, s, &a.sin6_addr) != 1) fail_msg("bad test address %s", s);
    return optout_fetch_address_public((const struct sockaddr *)&a);
}

static void address_table(void **state) {
    (void)state;
    static const struct {
        const char *addr;
        int public;
    } table[] = {
        {"8.8.8.8", 1},          {"1.1.1.1", 1},           {"93.184.216.34", 1},  {"172.32.0.1", 1},
        {"100.128.0.1", 1},      {"100.63.255.255", 1},    {"223.255.255.255", 1}, {"192.0.1.1", 1},
        {"127.0.0.1", 0},        {"127.255.255.254", 0},   {"10.1.2.3", 0},       {"172.16.0.1", 0},
        {"172.31.255.255", 0},   {"192.168.1.1", 0},       {"169.254.169.254", 0}, {"100.64.0.1", 0},
        {"100.127.255.255", 0},  {"0.0.0.0", 0},           {"0.1.2.3", 0},        {"224.0.0.1", 0},
        {"239.255.255.250", 0},  {"240.0.0.1", 0},         {"255.255.255.255", 0}, {"192.0.0.8", 0},
        {"192.0.2.1", 0},        {"198.18.0.1", 0},        {"198.19.255.255", 0}, {"198.51.100.7", 0},
        {"203.0.113.9", 0},      {"2606:4700:4700::1111", 1}, {"2a00:1450:4001::200e", 1},
        {"::ffff:8.8.8.8", 1},   {"2002:808:808::1", 1},   {"::1", 0},            {"::", 0},
        {"fe80::1", 0},          {"fc00::1", 0},           {"fd12:3456::1", 0},   {"ff02::1", 0},
        {"fec0::1", 0},          {"2001:db8::1", 0},       {"::ffff:127.0.0.1", 0}, {"::ffff:10.0.0.1", 0},
        {"::ffff:192.168.0.1", 0}, {"::ffff:169.254.1.1", 0}, {"::127.0.0.1", 0}, {"::10.0.0.1", 0},
        {"64:ff9b::7f00:1", 0},  {"64:ff9b::808:808", 1},  {"2002:7f00:1::1", 0}, {"2002:c0a8:1::1", 0},
        {"100::1", 0},           {"2001::1", 0},           {"4000::1", 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int got = strchr(table[i].addr, ':') ? public6(table[i].addr) : public4(table[i].addr);
        if (got != table[i].public) fail_msg("%s: public %d, want %d", table[i].addr, got, table[i].public);
    }
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(optout_fetch_address_public(&un), 0);
    assert_int_equal(optout_fetch_address_public(NULL), 0);
}

static void scheme_names(void **state) {
    (void)state;
    optout_fetch_scheme s = OPTOUT_FETCH_HTTP;
    assert_int_equal(optout_fetch_scheme_parse("auto", &s), 0);
    assert_int_equal(s, OPTOUT_FETCH_AUTO);
    assert_int_equal(optout_fetch_scheme_parse("https", &s), 0);
    assert_int_equal(s, OPTOUT_FETCH_HTTPS);
    assert_int_equal(optout_fetch_scheme_parse("http", &s), 0);
    assert_int_equal(s, OPTOUT_FETCH_HTTP);
    assert_int_equal(optout_fetch_scheme_parse("HTTP", &s), -1);
    assert_int_equal(optout_fetch_scheme_parse("ftp", &s), -1);
    assert_int_equal(optout_fetch_scheme_parse("", &s), -1);
    assert_int_equal(optout_fetch_scheme_parse(NULL, &s), -1);
}

/* ---- the test server --------------------------------------------------------------------------- */

#define BIG_LINE "Disallow: /a-rather-long-path-to-make-lines/of-some-length/\n"
#define BIG_BYTES (600 * 1024)

static int srv_fd = -1, srv_port;
static pthread_t srv_thread;
static volatile int srv_stop;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int hits_503, hits_tls, hits_total, hits_slow;
static char last_ua[256];
static char *big_body, *gzip_plain;
static unsigned char *gzip_body;
static size_t big_len, gzip_plain_len, gzip_len;

static void srv_send(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static void srv_reply(int fd, const char *status, const char *headers, const void *body, size_t len) {
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
                     len, headers ? headers : "");
    srv_send(fd, head, (size_t)n);
    if (len) srv_send(fd, body, len);
}

/* The value of header `name` in req (NUL-terminated), copied into out; "" when absent. */
static void srv_header(const char *req, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ') h++;
            size_t n = strcspn(h, "\r\n");
            if (n >= cap) n = cap - 1;
            memcpy(out, h, n);
            out[n] = '\0';
            return;
        }
    }
}

static void srv_handle(int fd) {
    char req[8192];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) return;
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0) return;
        len += (size_t)n;
        req[len] = '\0';
        if ((unsigned char)req[0] == 0x16) { /* a TLS ClientHello: answer as a plain HTTP server would */
            pthread_mutex_lock(&srv_lock);
            hits_tls++;
            pthread_mutex_unlock(&srv_lock);
            srv_send(fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", 47);
            return;
        }
        if (strstr(req, "\r\n\r\n")) break;
        if (len == sizeof req - 1) return;
    }
    char host[256], ae[256];
    srv_header(req, "Host", host, sizeof host);
    srv_header(req, "Accept-Encoding", ae, sizeof ae);
    char *colon = strchr(host, ':');
    if (colon) *colon = '\0';
    pthread_mutex_lock(&srv_lock);
    hits_total++;
    srv_header(req, "User-Agent", last_ua, sizeof last_ua);
    pthread_mutex_unlock(&srv_lock);

    char body[512], hdr[512];
    if (strcmp(host, "ok.test") == 0 || strcmp(host, "r0.test") == 0) {
        int n = snprintf(body, sizeof body, "User-agent: *\nDisallow: /private\n# host %s\n", host);
        srv_reply(fd, "200 OK", "Content-Type: text/plain\r\n", body, (size_t)n);
    } else if (strcmp(host, "notfound.test") == 0) {
        srv_reply(fd, "404 Not Found", NULL, "<html>nothing here</html>", 25);
    } else if (strcmp(host, "busy.test") == 0) {
        pthread_mutex_lock(&srv_lock);
        hits_503++;
        pthread_mutex_unlock(&srv_lock);
        srv_reply(fd, "503 Service Unavailable", NULL, "try later", 9);
    } else if (strcmp(host, "slowdown.test") == 0) { /* 429 with Retry-After: 1 once, then the body */
        pthread_mutex_lock(&srv_lock);
        int first = hits_slow++ == 0;
        pthread_mutex_unlock(&srv_lock);
        if (first) srv_reply(fd, "429 Too Many Requests", "Retry-After: 1\r\n", "slow down", 9);
        else srv_reply(fd, "200 OK", NULL, "User-agent: *\nDisallow: /\n", 26);
    } else if (host[0] == 'r' && host[1] >= '1' && host[1] <= '9' && strcmp(host + 2, ".test") == 0) {
        snprintf(hdr, sizeof hdr, "Location: http://r%c.test/robots.txt\r\n", host[1] - 1);
        srv_reply(fd, "301 Moved Permanently", hdr, "moved", 5);
    } else if (strcmp(host, "big.test") == 0) {
        srv_reply(fd, "200 OK", NULL, big_body, big_len);
    } else if (strcmp(host, "gzip.test") == 0) {
        if (strstr(ae, "gzip"))
            srv_reply(fd, "200 OK", "Content-Encoding: gzip\r\n", gzip_body, gzip_len);
        else
            srv_reply(fd, "406 Not Acceptable", NULL, "", 0);
    } else {
        srv_reply(fd, "404 Not Found", NULL, "", 0);
    }
}

static void *srv_main(void *arg) {
    (void)arg;
    while (!srv_stop) {
        struct pollfd p = {.fd = srv_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) continue;
        srv_handle(c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

static int listen_local(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void make_bodies(void) {
    big_body = malloc(BIG_BYTES + sizeof BIG_LINE);
    big_len = 0;
    while (big_len < BIG_BYTES) {
        memcpy(big_body + big_len, BIG_LINE, sizeof BIG_LINE - 1);
        big_len += sizeof BIG_LINE - 1;
    }
    gzip_plain = malloc(20000);
    gzip_plain_len = 0;
    for (int i = 0; gzip_plain_len < 19000; i++)
        gzip_plain_len += (size_t)sprintf(gzip_plain + gzip_plain_len, "Disallow: /gz/%d\n", i);
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    gzip_body = malloc(deflateBound(&z, gzip_plain_len) + 64);
    z.next_in = (unsigned char *)gzip_plain;
    z.avail_in = (unsigned)gzip_plain_len;
    z.next_out = gzip_body;
    z.avail_out = (unsigned)deflateBound(&z, gzip_plain_len) + 64;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    gzip_len = z.total_out;
    deflateEnd(&z);
}

static int server_up(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    make_bodies();
    if ((srv_fd = listen_local(&srv_port)) < 0) return -1;
    return pthread_create(&srv_thread, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int server_down(void **state) {
    (void)state;
    srv_stop = 1;
    pthread_join(srv_thread, NULL);
    close(srv_fd);
    free(big_body);
    free(gzip_plain);
    free(gzip_body);
    curl_global_cleanup();
    return 0;
}

/* ---- fetching ---------------------------------------------------------------------------------- */

typedef struct {
    char host[128];
    optout_outcome outcome;
    long status;
    char final_url[256];
    uint32_t attempts;
    int truncated;
    char *body;
    size_t body_len;
    char sha256[65];
    char error[512];
    int calls;
} got_result;

typedef struct {
    got_result *res;
    size_t n;
    int abort_after; /* > 0: the callback fails on that call */
} collector;

static int collect(const optout_fetch_result *r, void *arg, char *reason, size_t reason_len) {
    collector *c = arg;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->res[i].host, r->host) == 0) {
            got_result *g = &c->res[i];
            g->calls++;
            g->outcome = r->outcome;
            g->status = r->status;
            snprintf(g->final_url, sizeof g->final_url, "%s", r->final_url);
            g->attempts = r->attempts;
            g->truncated = r->truncated;
            free(g->body);
            g->body = NULL;
            if (r->body) {
                g->body = malloc(r->body_len + 1);
                memcpy(g->body, r->body, r->body_len);
                g->body[r->body_len] = '\0';
            }
            g->body_len = r->body_len;
            memcpy(g->sha256, r->sha256, sizeof g->sha256);
            snprintf(g->error, sizeof g->error, "%s", r->error);
            break;
        }
    if (c->abort_after > 0 && --c->abort_after == 0) {
        snprintf(reason, reason_len, "disk full");
        return 1;
    }
    return 0;
}

static void test_options(optout_fetch_options *o, char *connect_to, size_t cap) {
    memset(o, 0, sizeof *o);
    snprintf(connect_to, cap, "127.0.0.1:%d", srv_port);
    o->connect_to = connect_to;
    o->scheme = OPTOUT_FETCH_HTTP;
    o->connect_timeout_ms = 2000;
    o->timeout_ms = 5000;
    o->retries = 2;
    o->retry_backoff_ms = 50;
    o->concurrency = 8;
}

/* Fetches hosts; the results land in res (indexed like hosts). */
static int run_fetch(const optout_fetch_options *o, const char *const *hosts, size_t n, got_result *res, char *err,
                     size_t errlen) {
    memset(res, 0, n * sizeof *res);
    for (size_t i = 0; i < n; i++) snprintf(res[i].host, sizeof res[i].host, "%s", hosts[i]);
    collector c = {res, n, 0};
    return optout_fetch_hosts(o, hosts, n, collect, &c, err, errlen);
}

static void free_results(got_result *res, size_t n) {
    for (size_t i = 0; i < n; i++) free(res[i].body);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A 429 with Retry-After: 1 is retried after a second, not after the 50 ms backoff. (Only a lower
 * bound on the time is checked: a slow machine cannot make it fail.) */
static void retry_after_obeyed(void **state) {
    (void)state;
    optout_fetch_options o;
    char ct[64], err[512];
    test_options(&o, ct, sizeof ct);
    const char *hosts[] = {"slowdown.test"};
    got_result res[1];
    hits_slow = 0;
    double start = now_s();
    if (run_fetch(&o, hosts, 1, res, err, sizeof err) != 0) fail_msg("%s", err);
    double took = now_s() - start;
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_OK);
    assert_int_equal(res[0].attempts, 2);
    assert_int_equal(hits_slow, 2);
    if (took < 0.95) fail_msg("the retry came after %.3f s, before the Retry-After second", took);
    free_results(res, 1);
}

static void fetch_outcomes(void **state) {
    (void)state;
    optout_fetch_options o;
    char ct[64], err[512];
    test_options(&o, ct, sizeof ct);
    o.user_agent = "optout-test/1 (+https://example.org/contact)";
    const char *hosts[] = {"ok.test", "notfound.test", "busy.test", "r6.test", "r3.test",
                           "big.test", "gzip.test", "nothing.invalid", "WWW.Example.INVALID:8080"};
    enum { N = sizeof hosts / sizeof hosts[0] };
    got_result res[N];
    hits_503 = 0;
    int rc = run_fetch(&o, hosts, N, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    for (size_t i = 0; i < N; i++)
        if (res[i].calls != 1) fail_msg("%s: %d callbacks", hosts[i], res[i].calls);

    /* 200: the body, its hash, the final URL; the Host header was kept through connect_to */
    got_result *g = &res[0];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_OK);
    assert_int_equal(g->status, 200);
    assert_string_equal(g->body, "User-agent: *\nDisallow: /private\n# host ok.test\n");
    assert_string_equal(g->final_url, "http://ok.test/robots.txt");
    assert_string_equal(g->error, "");
    assert_int_equal(g->attempts, 1);
    assert_int_equal(strlen(g->sha256), 64);
    assert_string_equal(last_ua[0] ? "set" : "", "set");
    /* 404 */
    g = &res[1];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_UNAVAILABLE);
    assert_int_equal(g->status, 404);
    assert_null(g->body);
    assert_string_equal(g->sha256, "");
    assert_string_equal(g->error, "HTTP 404");
    /* 503: retried twice, then unreachable */
    g = &res[2];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_UNREACHABLE);
    assert_int_equal(g->status, 503);
    assert_int_equal(g->attempts, 3);
    assert_int_equal(hits_503, 3);
    assert_string_equal(g->error, "HTTP 503");
    /* 6 redirects: too many */
    g = &res[3];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_UNAVAILABLE);
    if (!strstr(g->error, "redirects")) fail_msg("r6: error '%s'", g->error);
    /* 3 redirects: ok, final URL on the last host, the record on the first */
    g = &res[4];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_OK);
    assert_string_equal(g->host, "r3.test");
    assert_string_equal(g->final_url, "http://r0.test/robots.txt");
    assert_string_equal(g->body, "User-agent: *\nDisallow: /private\n# host r0.test\n");
    /* over 500 KiB: cut at the last line end within the limit */
    g = &res[5];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_OK);
    assert_int_equal(g->truncated, 1);
    assert_true(g->body_len <= OPTOUT_FETCH_BODY_MAX);
    assert_true(g->body_len > OPTOUT_FETCH_BODY_MAX - (sizeof BIG_LINE - 1));
    assert_int_equal(g->body_len % (sizeof BIG_LINE - 1), 0);
    assert_int_equal(g->body[g->body_len - 1], '\n');
    assert_memory_equal(g->body, big_body, g->body_len);
    /* gzip: decoded */
    g = &res[6];
    assert_int_equal(g->outcome, OPTOUT_OUTCOME_OK);
    assert_int_equal(g->truncated, 0);
    assert_int_equal(g->body_len, gzip_plain_len);
    assert_memory_equal(g->body, gzip_plain, gzip_plain_len);
    /* .invalid: no lookup, no connection */
    for (int i = 7; i < 9; i++) {
        assert_int_equal(res[i].outcome, OPTOUT_OUTCOME_NO_SUCH_HOST);
        assert_int_equal(res[i].status, 0);
        assert_null(res[i].body);
        assert_string_equal(res[i].final_url, "");
        assert_true(res[i].error[0] != '\0');
    }
    assert_string_equal(last_ua, "optout-test/1 (+https://example.org/contact)");
    free_results(res, N);
}

static void auto_falls_back_to_http(void **state) {
    (void)state;
    optout_fetch_options o;
    char ct[64], err[512];
    test_options(&o, ct, sizeof ct);
    o.scheme = OPTOUT_FETCH_AUTO;
    const char *hosts[] = {"ok.test", "notfound.test"};
    got_result res[2];
    int tls_before = hits_tls;
    int rc = run_fetch(&o, hosts, 2, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_OK);
    assert_string_equal(res[0].final_url, "http://ok.test/robots.txt");
    assert_int_equal(res[0].attempts, 1); /* the fallback is not a retry */
    assert_int_equal(res[1].outcome, OPTOUT_OUTCOME_UNAVAILABLE);
    assert_int_equal(res[1].status, 404);
    assert_int_equal(hits_tls - tls_before, 2);
    free_results(res, 2);

    /* https only: the handshake failure is the answer, not retried */
    o.scheme = OPTOUT_FETCH_HTTPS;
    rc = run_fetch(&o, hosts, 1, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_UNREACHABLE);
    assert_int_equal(res[0].status, 0);
    assert_int_equal(res[0].attempts, 1);
    assert_true(res[0].error[0] != '\0');
    free_results(res, 1);
}

static void refused_connection_and_private_address(void **state) {
    (void)state;
    int closed_port;
    int fd = listen_local(&closed_port);
    assert_true(fd >= 0);
    close(fd); /* nothing listens there now */
    optout_fetch_options o = {0};
    o.scheme = OPTOUT_FETCH_HTTP;
    o.connect_timeout_ms = 2000;
    o.timeout_ms = 5000;
    o.retry_backoff_ms = 50;
    o.allow_private = 1;
    char refused[64], server[64], err[512];
    snprintf(refused, sizeof refused, "127.0.0.1:%d", closed_port);
    snprintf(server, sizeof server, "127.0.0.1:%d", srv_port);
    const char *hosts[] = {refused};
    got_result res[1];
    int rc = run_fetch(&o, hosts, 1, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_UNREACHABLE);
    assert_int_equal(res[0].status, 0);
    assert_int_equal(res[0].attempts, 1); /* refused is not transient */
    free_results(res, 1);

    /* the server itself, but a loopback address without allow_private or connect_to: refused */
    o.allow_private = 0;
    int before = hits_total;
    hosts[0] = server;
    rc = run_fetch(&o, hosts, 1, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_UNREACHABLE);
    if (!strstr(res[0].error, "refused") || !strstr(res[0].error, "127.0.0.1"))
        fail_msg("error '%s' does not say the address was refused", res[0].error);
    assert_int_equal(hits_total, before);
    free_results(res, 1);

    /* AUTO: a refused address is not retried over http (it would be refused alike) */
    o.scheme = OPTOUT_FETCH_AUTO;
    rc = run_fetch(&o, hosts, 1, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_UNREACHABLE);
    assert_int_equal(res[0].attempts, 1);
    if (!strstr(res[0].error, "refused") || strstr(res[0].error, "http:"))
        fail_msg("AUTO, refused address: error '%s'", res[0].error);
    assert_int_equal(hits_total, before);
    free_results(res, 1);
    o.scheme = OPTOUT_FETCH_HTTP;

    /* allowed, it answers (404: no Host the server knows) */
    o.allow_private = 1;
    rc = run_fetch(&o, hosts, 1, res, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(res[0].outcome, OPTOUT_OUTCOME_UNAVAILABLE);
    assert_int_equal(hits_total, before + 1);
    free_results(res, 1);
}

static void callback_abort_and_stop(void **state) {
    (void)state;
    optout_fetch_options o;
    char ct[64], err[512];
    test_options(&o, ct, sizeof ct);
    o.concurrency = 1;
    const char *hosts[] = {"a.invalid", "ok.test", "r3.test", "notfound.test"};
    got_result res[4];
    memset(res, 0, sizeof res);
    for (size_t i = 0; i < 4; i++) snprintf(res[i].host, sizeof res[i].host, "%s", hosts[i]);
    collector c = {res, 4, 2};
    int rc = optout_fetch_hosts(&o, hosts, 4, collect, &c, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_string_equal(err, "stopped: disk full");
    assert_int_equal(res[2].calls + res[3].calls, 0);
    free_results(res, 4);

    volatile sig_atomic_t stop = 1;
    o.stop = &stop;
    rc = run_fetch(&o, hosts, 4, res, err, sizeof err);
    assert_int_equal(rc, 1);
    for (size_t i = 0; i < 4; i++) assert_int_equal(res[i].calls, 0);
    free_results(res, 4);
}

static int count_outcomes(const optout_fetch_result *r, void *arg, char *reason, size_t reason_len) {
    (void)reason;
    (void)reason_len;
    int *counts = arg;
    counts[r->outcome]++;
    if (r->outcome == OPTOUT_OUTCOME_OK && r->body_len == 0) return 1;
    return 0;
}

/* Many hosts through a few slots: every host reported exactly once. */
static void many_hosts_few_slots(void **state) {
    (void)state;
    optout_fetch_options o;
    char ct[64], err[512];
    test_options(&o, ct, sizeof ct);
    o.concurrency = 3;
    enum { N = 60 };
    const char *hosts[N];
    static const char *kinds[] = {"ok.test", "notfound.test", "r2.test", "x%d.invalid", "gzip.test"};
    char names[N][32];
    for (int i = 0; i < N; i++) {
        if (i % 5 == 3) snprintf(names[i], sizeof names[i], "x%d.invalid", i);
        else snprintf(names[i], sizeof names[i], "%s", kinds[i % 5]);
        hosts[i] = names[i];
    }
    /* the same host key several times is allowed by the library: one callback per entry */
    int counts[OPTOUT_OUTCOME_COUNT] = {0};
    int rc = optout_fetch_hosts(&o, hosts, N, count_outcomes, counts, err, sizeof err);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_int_equal(counts[OPTOUT_OUTCOME_OK], 36);
    assert_int_equal(counts[OPTOUT_OUTCOME_UNAVAILABLE], 12);
    assert_int_equal(counts[OPTOUT_OUTCOME_NO_SUCH_HOST], 12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_table),
        cmocka_unit_test(scheme_names),
        cmocka_unit_test(fetch_outcomes),
        cmocka_unit_test(retry_after_obeyed),
        cmocka_unit_test(auto_falls_back_to_http),
        cmocka_unit_test(refused_connection_and_private_address),
        cmocka_unit_test(callback_abort_and_stop),
        cmocka_unit_test(many_hosts_few_slots),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
