/* fetch.c — robots.txt for many hosts at once: libcurl's multi interface on an epoll loop
 * (include/optout/fetch.h is the contract).
 *
 * Design
 * - One loop per optout_fetch_hosts() call, no globals: a CURLM with CURLMOPT_SOCKETFUNCTION
 *   (sockets go in and out of one epoll set) and CURLMOPT_TIMERFUNCTION (curl's next deadline),
 *   driven by curl_multi_socket_action(). DNS runs in libcurl's threaded resolver, off the loop.
 * - Two kinds of state. A *job* is one host from its first request to its callback (scheme now
 *   tried, attempts, time spent, the https error when it fell back to http): small, on a free
 *   list. A *slot* is what one transfer in flight needs (an easy handle with the options common to
 *   every request already set, an error buffer, the body buffer): at most `concurrency` exist,
 *   made on demand and reused, so the handles and their buffers are not rebuilt per host. A job
 *   waiting for a retry holds no slot.
 * - Retries wait on the loop: a binary min-heap of jobs by due time (the backoff, or a 429/503's
 *   Retry-After when longer, at most FETCH_RETRY_AFTER_MAX_MS); epoll_wait() sleeps until the
 *   earlier of curl's deadline and the heap's top (and at most 250 ms, so that *stop is seen even
 *   when a signal arrives just before the wait). Due retries start before new hosts.
 * - Bodies: the write callback stores 2xx bodies in a buffer that grows geometrically up to
 *   OPTOUT_FETCH_BODY_MAX; once more than that arrives it keeps the first OPTOUT_FETCH_BODY_MAX
 *   bytes, marks the slot truncated and returns 0, which libcurl reports as CURLE_WRITE_ERROR: that
 *   error on a marked slot is our "truncated", not a failure. Bodies of 3xx responses (followed)
 *   are skipped; for any other status the transfer is stopped at its first body byte, because the
 *   status alone decides. A buffer larger than SLOT_KEEP_BYTES is freed when its transfer ends, so
 *   that the pool does not keep the worst case for every slot.
 * - Safety: CURLOPT_OPENSOCKETFUNCTION sees every address libcurl connects to (first request,
 *   redirects, each address of happy eyeballs) and refuses non-public ones unless allow_private or
 *   connect_to; the refused address is remembered in the slot for the error text.
 * - Scheme AUTO: an https attempt that got no HTTP response and followed no redirect falls back to
 *   http at once (neither a retry nor an attempt: `attempts` is 1 + the retries made; the time
 *   counts, and the error of a failure names both schemes), except when the name does not resolve
 *   or its address was refused (http would fail alike), or when the TLS handshake completed and
 *   the response then timed out (a slow https server: retried on https).
 * - Connections are neither reused nor looked up (FORBID_REUSE, FRESH_CONNECT): every host is
 *   fetched once, and libcurl 7.88's cache walks cost O(connections) per transfer.
 * - CA certificates: the bundle file only (no CA directory), so that libcurl keeps the parsed
 *   store across handshakes.
 * - File descriptors: each transfer may hold two sockets (happy eyeballs) and the resolver's
 *   socket pair; RLIMIT_NOFILE's soft limit is raised towards the hard limit when `concurrency`
 *   needs it, and the concurrency is lowered (with a warning) when even the hard limit is short.
 */
#include "optout/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "optout/log.h"
#include "optout/robots.h"
#include "optout/version.h"
#include "optout/util.h"

#define FETCH_DEFAULT_UA "optout/" OPTOUT_VERSION " (+https://github.com/optout-project/optout)"
#define FETCH_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define FETCH_DEFAULT_TIMEOUT_MS 30000L
#define FETCH_DEFAULT_LOW_SPEED_LIMIT 100L
#define FETCH_DEFAULT_LOW_SPEED_TIME 10L
#define FETCH_DEFAULT_RETRIES 2
#define FETCH_DEFAULT_BACKOFF_MS 1000L
#define FETCH_RETRY_AFTER_MAX_MS 60000L /* the longest Retry-After obeyed */
#define FETCH_MAX_WAIT_MS 250
#define FETCH_EPOLL_EVENTS 256
#define FETCH_BODY_FIRST 16384            /* first body allocation */
#define SLOT_KEEP_BYTES ((size_t)65536)   /* larger body buffers are freed after their transfer */
#define FETCH_FDS_PER_TRANSFER 4          /* two sockets (happy eyeballs) + the resolver's pair */
#define FETCH_FDS_RESERVE 64

typedef struct fetch_slot fetch_slot;
typedef struct fetch_job fetch_job;
typedef struct fetch_loop fetch_loop;

struct fetch_slot {
    CURL *easy;
    fetch_slot *next_free;
    fetch_slot *next_all; /* every slot made, for the cleanup */
    fetch_job *job;       /* the job in flight on it, NULL when free */
    fetch_loop *loop;
    char *body;
    size_t len, cap;
    int truncated;  /* more than OPTOUT_FETCH_BODY_MAX arrived: stopped by us */
    int discarded;  /* a non-2xx, non-3xx status: stopped by us at the first body byte */
    int body_ok;    /* status checked for the current response (2xx) */
    char refused[INET6_ADDRSTRLEN]; /* the last non-public address refused, "" when none */
    char errbuf[CURL_ERROR_SIZE];
};

struct fetch_job {
    size_t host_index;
    fetch_job *next_free;
    fetch_slot *slot;
    optout_fetch_scheme scheme_now; /* HTTPS or HTTP */
    int fell_back;                  /* AUTO went from https to http */
    CURLcode https_error;           /* why https failed, when fell_back */
    int retries_left;
    long backoff_ms;
    uint32_t attempts;
    uint64_t time_us;      /* over all attempts */
    int64_t fetched_at;    /* start of the last attempt, Unix seconds */
    int64_t started_us;    /* start of the attempt in flight, monotonic */
    int64_t due_ms;        /* retry due time, monotonic */
};

struct fetch_loop {
    const optout_fetch_options *o;
    const char *const *hosts;
    size_t count, next_host, reported;
    optout_fetch_callback cb;
    void *cb_arg;
    CURLM *multi;
    int epfd;
    int64_t curl_deadline_ms; /* -1: none */
    struct curl_slist *connect_to;
    const char *user_agent;
    long connect_timeout_ms, timeout_ms, low_speed_limit, low_speed_time, backoff_ms;
    int retries;
    int check_addresses;
    unsigned concurrency, in_flight, slots_made;
    fetch_slot *free_slots, *all_slots;
    fetch_job *free_jobs;
    fetch_job **heap; /* retries by due_ms */
    size_t heap_len, heap_cap;
    int failed; /* -1 once a fatal error or the callback stopped the run */
    char *err;
    size_t errlen;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static int64_t fetch_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fetch_fail(fetch_loop *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fetch_fail(fetch_loop *L, const char *fmt, ...) {
    if (L->failed) return; /* the first error is the one reported */
    L->failed = -1;
    va_list ap;
    va_start(ap, fmt);
    if (L->err && L->errlen) vsnprintf(L->err, L->errlen, fmt, ap);
    va_end(ap);
}

size_t optout_fetch_body_cut(const char *body, size_t len) {
    size_t cut = len;
    while (cut > 0 && body[cut - 1] != '\n' && body[cut - 1] != '\r') cut--;
    return cut > 0 ? cut : len;
}

int optout_fetch_scheme_parse(const char *name, optout_fetch_scheme *scheme) {
    if (!name) return -1;
    if (strcmp(name, "auto") == 0) *scheme = OPTOUT_FETCH_AUTO;
    else if (strcmp(name, "https") == 0) *scheme = OPTOUT_FETCH_HTTPS;
    else if (strcmp(name, "http") == 0) *scheme = OPTOUT_FETCH_HTTP;
    else return -1;
    return 0;
}

/* ---- which addresses are public -------------------------------------------------------------- */

static int fetch_v4_public(uint32_t a) { /* a in host order */
    uint32_t b1 = a >> 24, b2 = (a >> 16) & 0xff, b3 = (a >> 8) & 0xff;
    if (b1 == 0) return 0;                                   /* 0/8 "this network" */
    if (b1 == 10) return 0;                                  /* RFC 1918 */
    if (b1 == 100 && (b2 & 0xc0) == 64) return 0;            /* 100.64/10 CGNAT */
    if (b1 == 127) return 0;                                 /* loopback */
    if (b1 == 169 && b2 == 254) return 0;                    /* link-local */
    if (b1 == 172 && (b2 & 0xf0) == 16) return 0;            /* RFC 1918 */
    if (b1 == 192 && b2 == 0 && b3 == 0) return 0;           /* 192.0.0/24 IETF assignments */
    if (b1 == 192 && b2 == 0 && b3 == 2) return 0;           /* TEST-NET-1 */
    if (b1 == 192 && b2 == 88 && b3 == 99) return 0;         /* 6to4 relay anycast (deprecated) */
    if (b1 == 192 && b2 == 168) return 0;                    /* RFC 1918 */
    if (b1 == 198 && (b2 & 0xfe) == 18) return 0;            /* 198.18/15 benchmarking */
    if (b1 == 198 && b2 == 51 && b3 == 100) return 0;        /* TEST-NET-2 */
    if (b1 == 203 && b2 == 0 && b3 == 113) return 0;         /* TEST-NET-3 */
    if (b1 >= 224) return 0;                                 /* multicast 224/4, 240/4, broadcast */
    return 1;
}

int optout_fetch_address_public(const struct sockaddr *addr) {
    if (!addr) return 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return fetch_v4_public(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family != AF_INET6) return 0;
    const unsigned char *b = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
    static const unsigned char zero12[12] = {0};
    static const unsigned char mapped12[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    if (memcmp(b, mapped12, 12) == 0) return fetch_v4_public(v4); /* ::ffff:a.b.c.d */
    if (memcmp(b, zero12, 12) == 0) { /* :: unspecified, ::1 loopback, ::a.b.c.d compatible */
        if (v4 <= 1) return 0;
        return fetch_v4_public(v4);
    }
    /* 64:ff9b::/96 NAT64 embeds an IPv4 address: judge that address */
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, nat64, 12) == 0) return fetch_v4_public(v4);
    if ((b[0] & 0xfe) == 0xfc) return 0;                     /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 0;     /* fe80::/10 link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 0;     /* fec0::/10 site-local (deprecated) */
    if (b[0] == 0xff) return 0;                              /* multicast */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return 0; /* 2001:db8::/32 doc */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && (b[3] & 0xfe) == 0x00) return 0; /* 2001::/23 IETF */
    if (b[0] == 0x01 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 &&
        b[7] == 0)
        return 0; /* 100::/64 discard */
    if (b[0] == 0x20 && b[1] == 0x02) { /* 2002::/16 6to4: judge the embedded IPv4 address */
        uint32_t e = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
        return fetch_v4_public(e);
    }
    if ((b[0] & 0xe0) != 0x20) return 0; /* outside 2000::/3, the global unicast space */
    return 1;
}

/* ---- curl callbacks -------------------------------------------------------------------------- */

static size_t fetch_write_cb(char *data, size_t size, size_t nmemb, void *userp) {
    fetch_slot *s = userp;
    size_t n = size * nmemb;
    if (!s->body_ok) {
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 300 && code < 400) return n; /* a redirect's body: skipped */
        if (code < 200 || code >= 300) {
            s->discarded = 1; /* the status decides; the body is not needed */
            return 0;
        }
        s->body_ok = 1;
    }
    size_t take = n;
    if (s->len + n > OPTOUT_FETCH_BODY_MAX) {
        take = OPTOUT_FETCH_BODY_MAX - s->len;
        s->truncated = 1;
    }
    if (s->len + take > s->cap) {
        size_t cap = s->cap ? s->cap : FETCH_BODY_FIRST;
        while (cap < s->len + take) cap *= 2;
        if (cap > OPTOUT_FETCH_BODY_MAX) cap = OPTOUT_FETCH_BODY_MAX;
        char *p = realloc(s->body, cap);
        if (!p) {
            snprintf(s->errbuf, sizeof s->errbuf, "out of memory for a body of %zu bytes", cap);
            s->truncated = 0;
            return 0;
        }
        s->body = p;
        s->cap = cap;
    }
    memcpy(s->body + s->len, data, take);
    s->len += take;
    return s->truncated ? 0 : n;
}

static curl_socket_t fetch_opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
    fetch_slot *s = clientp;
    (void)purpose;
    if (!optout_fetch_address_public(&address->addr)) {
        const void *a = address->family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)&address->addr)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)&address->addr)->sin_addr;
        if (!inet_ntop(address->family, a, s->refused, sizeof s->refused))
            snprintf(s->refused, sizeof s->refused, "?");
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static int fetch_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    fetch_loop *L = userp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        /* the descriptor may already be closed, which removed it from the set */
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(L->epfd, op, fd, &ev);
    if (rc != 0 && errno == EEXIST) rc = epoll_ctl(L->epfd, EPOLL_CTL_MOD, fd, &ev);
    else if (rc != 0 && errno == ENOENT) rc = epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0) {
        fetch_fail(L, "fetch: epoll_ctl on socket %d: %s", (int)fd, strerror(errno));
        return -1;
    }
    if (!socketp) curl_multi_assign(L->multi, fd, L); /* any non-NULL marks "in the set" */
    return 0;
}

static int fetch_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    fetch_loop *L = userp;
    (void)multi;
    L->curl_deadline_ms = timeout_ms < 0 ? -1 : optout_now_ms() + timeout_ms;
    return 0;
}

/* ---- slots and jobs ------------------------------------------------------------------------- */

#define FETCH_SETOPT(L, easy, opt, val)                                                                     \
    do {                                                                                                    \
        CURLcode c_ = curl_easy_setopt((easy), (opt), (val));                                               \
        if (c_ != CURLE_OK) {                                                                               \
            fetch_fail((L), "fetch: curl_easy_setopt(%s): %s", #opt, curl_easy_strerror(c_));                \
            goto fail;                                                                                      \
        }                                                                                                   \
    } while (0)

static fetch_slot *fetch_slot_new(fetch_loop *L) {
    fetch_slot *s = calloc(1, sizeof *s);
    if (!s) {
        fetch_fail(L, "fetch: out of memory for a transfer slot");
        return NULL;
    }
    s->loop = L;
    CURL *e = s->easy = curl_easy_init();
    if (!e) {
        fetch_fail(L, "fetch: curl_easy_init failed");
        free(s);
        return NULL;
    }
    FETCH_SETOPT(L, e, CURLOPT_PRIVATE, s);
    FETCH_SETOPT(L, e, CURLOPT_NOSIGNAL, 1L);
    FETCH_SETOPT(L, e, CURLOPT_ERRORBUFFER, s->errbuf);
    FETCH_SETOPT(L, e, CURLOPT_WRITEFUNCTION, fetch_write_cb);
    FETCH_SETOPT(L, e, CURLOPT_WRITEDATA, s);
    FETCH_SETOPT(L, e, CURLOPT_FOLLOWLOCATION, 1L);
    FETCH_SETOPT(L, e, CURLOPT_MAXREDIRS, (long)OPTOUT_FETCH_MAX_REDIRECTS);
    FETCH_SETOPT(L, e, CURLOPT_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(L, e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(L, e, CURLOPT_ACCEPT_ENCODING, "");
    FETCH_SETOPT(L, e, CURLOPT_USERAGENT, L->user_agent);
    FETCH_SETOPT(L, e, CURLOPT_CONNECTTIMEOUT_MS, L->connect_timeout_ms);
    FETCH_SETOPT(L, e, CURLOPT_TIMEOUT_MS, L->timeout_ms);
    FETCH_SETOPT(L, e, CURLOPT_LOW_SPEED_LIMIT, L->low_speed_limit);
    FETCH_SETOPT(L, e, CURLOPT_LOW_SPEED_TIME, L->low_speed_time);
    /* libcurl 7.87+ keeps the parsed CA bundle in the multi handle, but only when no CA directory
     * is set; Debian's default sets one, and every handshake then parses the whole bundle again
     * (~15 ms of CPU). The bundle file alone holds the same certificates. */
    FETCH_SETOPT(L, e, CURLOPT_CAPATH, (char *)NULL);
    /* Every host is fetched once: a connection kept for reuse only costs a descriptor, and
     * libcurl 7.88 prunes its connection cache by scanning every connection (O(in flight) per
     * transfer). Closed when done instead; redirect hops each connect anew. */
    FETCH_SETOPT(L, e, CURLOPT_FORBID_REUSE, 1L);
    /* ... and not looked for either: libcurl 7.88 searches its cache by walking the connections of
     * the target host, and under connect_to every connection has the same target. */
    FETCH_SETOPT(L, e, CURLOPT_FRESH_CONNECT, 1L);
    if (L->connect_to) FETCH_SETOPT(L, e, CURLOPT_CONNECT_TO, L->connect_to);
    if (L->check_addresses) {
        FETCH_SETOPT(L, e, CURLOPT_OPENSOCKETFUNCTION, fetch_opensocket_cb);
        FETCH_SETOPT(L, e, CURLOPT_OPENSOCKETDATA, s);
    }
    L->slots_made++;
    s->next_all = L->all_slots;
    L->all_slots = s;
    return s;
fail:
    curl_easy_cleanup(e);
    free(s);
    return NULL;
}

static void fetch_slot_free(fetch_slot *s) {
    if (!s) return;
    curl_easy_cleanup(s->easy);
    free(s->body);
    free(s);
}

static void fetch_heap_swap(fetch_job **h, size_t i, size_t j) {
    fetch_job *t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static int fetch_heap_push(fetch_loop *L, fetch_job *j) {
    if (L->heap_len == L->heap_cap) {
        size_t cap = L->heap_cap ? L->heap_cap * 2 : 64;
        fetch_job **h = realloc(L->heap, cap * sizeof *h);
        if (!h) {
            fetch_fail(L, "fetch: out of memory for the retry queue (%zu entries)", cap);
            return -1;
        }
        L->heap = h;
        L->heap_cap = cap;
    }
    size_t i = L->heap_len++;
    L->heap[i] = j;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (L->heap[p]->due_ms <= L->heap[i]->due_ms) break;
        fetch_heap_swap(L->heap, p, i);
        i = p;
    }
    return 0;
}

static fetch_job *fetch_heap_pop(fetch_loop *L) {
    fetch_job *top = L->heap[0];
    L->heap[0] = L->heap[--L->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < L->heap_len && L->heap[l]->due_ms < L->heap[m]->due_ms) m = l;
        if (r < L->heap_len && L->heap[r]->due_ms < L->heap[m]->due_ms) m = r;
        if (m == i) break;
        fetch_heap_swap(L->heap, i, m);
        i = m;
    }
    return top;
}

/* A slot back to the pool; a big body buffer is freed rather than kept. */
static void fetch_slot_put(fetch_loop *L, fetch_slot *s) {
    if (s->job) s->job->slot = NULL;
    s->job = NULL;
    if (s->cap > SLOT_KEEP_BYTES) {
        free(s->body);
        s->body = NULL;
        s->cap = 0;
    }
    s->next_free = L->free_slots;
    L->free_slots = s;
}

static void fetch_job_release(fetch_loop *L, fetch_job *j) {
    j->next_free = L->free_jobs;
    L->free_jobs = j;
}

/* ".invalid" or "x.invalid" (RFC 6761 §6.4), any case, port and trailing dot allowed. */
static int fetch_host_invalid(const char *host) {
    if (host[0] == '[') return 0;
    size_t n = strcspn(host, ":");
    if (n && host[n - 1] == '.') n--;
    static const char tld[] = "invalid";
    size_t t = sizeof tld - 1;
    if (n < t || strncasecmp(host + n - t, tld, t) != 0) return 0;
    return n == t || host[n - t - 1] == '.';
}

/* Starts the job's next attempt on a free slot. 0, or -1 (fatal, L->failed set). */
static int fetch_start(fetch_loop *L, fetch_job *j) {
    fetch_slot *s = L->free_slots;
    if (s) L->free_slots = s->next_free;
    else if (!(s = fetch_slot_new(L))) return -1;
    s->job = j;
    s->len = 0;
    s->truncated = s->discarded = s->body_ok = 0;
    s->refused[0] = s->errbuf[0] = '\0';
    j->slot = s;
    const char *host = L->hosts[j->host_index];
    char url[400];
    int n = snprintf(url, sizeof url, "%s://%s/robots.txt", j->scheme_now == OPTOUT_FETCH_HTTP ? "http" : "https",
                     host);
    if (n < 0 || (size_t)n >= sizeof url) url[0] = '\0'; /* too long for a host key: fails as malformed */
    CURLcode c = curl_easy_setopt(s->easy, CURLOPT_URL, url);
    if (c != CURLE_OK) {
        fetch_fail(L, "fetch: %s: setting the URL: %s", host, curl_easy_strerror(c));
        fetch_slot_put(L, s);
        return -1;
    }
    j->attempts++;
    j->fetched_at = (int64_t)time(NULL);
    j->started_us = fetch_now_us();
    CURLMcode mc = curl_multi_add_handle(L->multi, s->easy);
    if (mc != CURLM_OK) {
        fetch_fail(L, "fetch: %s: curl_multi_add_handle: %s", host, curl_multi_strerror(mc));
        fetch_slot_put(L, s);
        return -1;
    }
    L->in_flight++;
    return 0;
}

/* Reports a result and frees the job (the slot, if any, stays with the caller). */
static void fetch_report(fetch_loop *L, fetch_job *j, optout_fetch_result *r) {
    if (L->failed) { /* aborted: nobody is told any more */
        fetch_job_release(L, j);
        return;
    }
    r->host = L->hosts[j->host_index];
    r->fetched_at = j->fetched_at;
    r->time_ms = (uint32_t)(j->time_us / 1000 > UINT32_MAX ? UINT32_MAX : j->time_us / 1000);
    r->attempts = j->attempts;
    if (!r->final_url) r->final_url = "";
    if (!r->error) r->error = "";
    r->sha256[0] = '\0';
    if (r->body) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (EVP_Digest(r->body, r->body_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
            fetch_fail(L, "fetch: %s: SHA-256 of the body failed", r->host);
            fetch_job_release(L, j);
            return;
        }
        for (unsigned i = 0; i < 32; i++) snprintf(r->sha256 + 2 * i, 3, "%02x", md[i]);
    }
    char reason[512] = "";
    L->reported++;
    if (L->cb(r, L->cb_arg, reason, sizeof reason) != 0)
        fetch_fail(L, "stopped: %s", reason[0] ? reason : "callback failed");
    fetch_job_release(L, j);
}

static int fetch_transient_code(CURLcode c) {
    return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
           c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

/* One transfer ended: decide, retry, fall back or report. */
static void fetch_done(fetch_loop *L, CURL *easy, CURLcode code) {
    fetch_slot *s = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    fetch_job *j = s->job;
    curl_multi_remove_handle(L->multi, easy);
    L->in_flight--;
    j->time_us += (uint64_t)(fetch_now_us() - j->started_us);
    j->slot = NULL;

    long status = 0, redirects = 0;
    curl_off_t appconnect = 0;
    char *eff = NULL;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &appconnect);
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &eff);

    optout_fetch_result r = {0};
    r.status = status;
    r.final_url = eff ? eff : "";
    char errtext[CURL_ERROR_SIZE + 256], both[sizeof errtext + 128];
    int transient = 0;
    curl_off_t retry_after = 0; /* seconds a 429 or 503 asked us to wait (Retry-After), 0 when none */

    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && (s->truncated || s->discarded))) {
        if (status >= 200 && status < 300) {
            r.outcome = OPTOUT_OUTCOME_OK;
            r.truncated = s->truncated;
            size_t len = s->len;
            if (s->truncated) len = optout_fetch_body_cut(s->body, len); /* after the last line end */
            r.body = s->body ? s->body : "";
            r.body_len = len;
            if (optout_robots_looks_utf16(r.body, r.body_len))
                optout_log(LOG_WARNING, "robots.txt of %s (%s) %s", L->hosts[j->host_index], r.final_url,
                           OPTOUT_ROBOTS_UTF16_WARNING);
        } else if (status == 429 || (status >= 500 && status < 600)) {
            r.outcome = OPTOUT_OUTCOME_UNREACHABLE;
            snprintf(errtext, sizeof errtext, "HTTP %ld", status);
            transient = 1;
            if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK) retry_after = 0;
        } else if (status >= 400 && status < 500) {
            r.outcome = OPTOUT_OUTCOME_UNAVAILABLE;
            snprintf(errtext, sizeof errtext, "HTTP %ld", status);
        } else if (status >= 300 && status < 400) {
            r.outcome = OPTOUT_OUTCOME_UNAVAILABLE;
            snprintf(errtext, sizeof errtext, "HTTP %ld without a usable Location", status);
        } else {
            r.outcome = OPTOUT_OUTCOME_UNREACHABLE;
            snprintf(errtext, sizeof errtext, "HTTP %ld: not a valid final status", status);
        }
    } else {
        const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(code);
        if (code == CURLE_TOO_MANY_REDIRECTS) {
            r.outcome = OPTOUT_OUTCOME_UNAVAILABLE;
            snprintf(errtext, sizeof errtext, "more than %d redirects", OPTOUT_FETCH_MAX_REDIRECTS);
        } else if (code == CURLE_COULDNT_RESOLVE_HOST && redirects == 0) {
            r.outcome = OPTOUT_OUTCOME_NO_SUCH_HOST;
            snprintf(errtext, sizeof errtext, "%s", why);
        } else if (s->refused[0] && code == CURLE_COULDNT_CONNECT) {
            r.outcome = OPTOUT_OUTCOME_UNREACHABLE;
            snprintf(errtext, sizeof errtext, "refused to connect to %s: not a public address", s->refused);
        } else {
            r.outcome = OPTOUT_OUTCOME_UNREACHABLE;
            if (code == CURLE_COULDNT_RESOLVE_HOST)
                snprintf(errtext, sizeof errtext, "redirect target: %s", why);
            else
                snprintf(errtext, sizeof errtext, "%s", why);
            transient = fetch_transient_code(code);
        }
        /* AUTO: https that got no response at all falls back to http */
        if (j->scheme_now == OPTOUT_FETCH_HTTPS && L->o->scheme == OPTOUT_FETCH_AUTO && !j->fell_back &&
            status == 0 && redirects == 0 && code != CURLE_COULDNT_RESOLVE_HOST &&
            !(code == CURLE_COULDNT_CONNECT && s->refused[0]) && /* http would be refused too */
            !(code == CURLE_OPERATION_TIMEDOUT && appconnect > 0)) {
            j->fell_back = 1;
            j->https_error = code;
            j->scheme_now = OPTOUT_FETCH_HTTP;
            j->attempts--; /* the fallback replaces the https try: attempts count 1 + retries */
            fetch_slot_put(L, s);
            if (fetch_start(L, j) != 0) fetch_job_release(L, j);
            return;
        }
    }

    if (transient && j->retries_left > 0 && !(L->o->stop && *L->o->stop)) {
        j->retries_left--;
        /* a server that says how long to wait (Retry-After, seconds or an HTTP date) is obeyed, up to
         * FETCH_RETRY_AFTER_MAX_MS: politeness, without letting one host hold a run for hours */
        long wait = j->backoff_ms;
        if (retry_after > 0)
            wait = retry_after * 1000 > FETCH_RETRY_AFTER_MAX_MS ? FETCH_RETRY_AFTER_MAX_MS
                   : retry_after * 1000 > wait                  ? (long)(retry_after * 1000)
                                                                : wait;
        j->due_ms = optout_now_ms() + wait;
        j->backoff_ms *= 2;
        if (fetch_heap_push(L, j) != 0) fetch_job_release(L, j);
    } else {
        if (r.outcome != OPTOUT_OUTCOME_OK) {
            r.error = errtext;
            if (j->fell_back) {
                snprintf(both, sizeof both, "https: %s; http: %s", curl_easy_strerror(j->https_error), errtext);
                r.error = both;
            }
        }
        fetch_report(L, j, &r);
    }
    s->job = NULL;
    fetch_slot_put(L, s);
}

static void fetch_drain(fetch_loop *L) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(L->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            CURL *easy = m->easy_handle;
            CURLcode code = m->data.result;
            fetch_done(L, easy, code); /* m is invalid after remove_handle */
        }
}

/* Starts what may start: due retries first, then new hosts. */
static void fetch_fill(fetch_loop *L) {
    int64_t now = -1;
    while (!L->failed && L->in_flight < L->concurrency) {
        fetch_job *j = NULL;
        if (L->heap_len) {
            if (now < 0) now = optout_now_ms();
            if (L->heap[0]->due_ms <= now) j = fetch_heap_pop(L);
        }
        if (!j) {
            if (L->next_host >= L->count) return;
            if (L->free_jobs) {
                j = L->free_jobs;
                L->free_jobs = j->next_free;
            } else if (!(j = malloc(sizeof *j))) {
                fetch_fail(L, "fetch: out of memory for a host's state");
                return;
            }
            memset(j, 0, sizeof *j);
            j->host_index = L->next_host++;
            j->scheme_now = L->o->scheme == OPTOUT_FETCH_HTTP ? OPTOUT_FETCH_HTTP : OPTOUT_FETCH_HTTPS;
            j->retries_left = L->retries;
            j->backoff_ms = L->backoff_ms;
            if (fetch_host_invalid(L->hosts[j->host_index])) {
                optout_fetch_result r = {0};
                r.outcome = OPTOUT_OUTCOME_NO_SUCH_HOST;
                r.error = "reserved name under .invalid (RFC 6761): not looked up";
                j->fetched_at = (int64_t)time(NULL);
                j->attempts = 0;
                fetch_report(L, j, &r);
                if (L->o->stop && *L->o->stop) return;
                continue;
            }
        }
        if (fetch_start(L, j) != 0) {
            fetch_job_release(L, j);
            return;
        }
    }
}

/* Raises RLIMIT_NOFILE's soft limit for `want` transfers; returns the concurrency it allows. */
static unsigned fetch_fd_budget(unsigned want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    rlim_t need = (rlim_t)want * FETCH_FDS_PER_TRANSFER + FETCH_FDS_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit nr = {cur, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nr) == 0) rl.rlim_cur = cur;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        unsigned fit = rl.rlim_cur > 2 * FETCH_FDS_RESERVE
                           ? (unsigned)((rl.rlim_cur - FETCH_FDS_RESERVE) / FETCH_FDS_PER_TRANSFER)
                           : 1;
        if (fit < want) {
            optout_log(LOG_WARNING,
                       "fetch: %u transfers need about %llu file descriptors, the hard limit is %llu: "
                       "using %u transfers",
                       want, (unsigned long long)need, (unsigned long long)rl.rlim_cur, fit);
            return fit ? fit : 1;
        }
    }
    return want;
}

int optout_fetch_hosts(const optout_fetch_options *o, const char *const *hosts, size_t count,
                       optout_fetch_callback cb, void *arg, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    fetch_loop L_ = {0}, *L = &L_;
    L->o = o;
    L->hosts = hosts;
    L->count = count;
    L->cb = cb;
    L->cb_arg = arg;
    L->err = err;
    L->errlen = errlen;
    L->epfd = -1;
    L->curl_deadline_ms = -1;
    L->user_agent = o->user_agent && o->user_agent[0] ? o->user_agent : FETCH_DEFAULT_UA;
    L->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
    L->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
    L->low_speed_limit = o->low_speed_limit > 0 ? o->low_speed_limit : FETCH_DEFAULT_LOW_SPEED_LIMIT;
    L->low_speed_time = o->low_speed_time > 0 ? o->low_speed_time : FETCH_DEFAULT_LOW_SPEED_TIME;
    L->retries = o->retries < 0 ? FETCH_DEFAULT_RETRIES : o->retries;
    L->backoff_ms = o->retry_backoff_ms > 0 ? o->retry_backoff_ms : FETCH_DEFAULT_BACKOFF_MS;
    L->check_addresses = !o->allow_private && !(o->connect_to && o->connect_to[0]);
    unsigned want = o->concurrency ? o->concurrency : OPTOUT_FETCH_DEFAULT_CONCURRENCY;
    if (count && want > count) want = count > UINT32_MAX ? want : (unsigned)count;
    L->concurrency = fetch_fd_budget(want ? want : 1);
    if (!cb) {
        fetch_fail(L, "fetch: no callback given");
        return -1;
    }
    if (o->scheme != OPTOUT_FETCH_AUTO && o->scheme != OPTOUT_FETCH_HTTPS && o->scheme != OPTOUT_FETCH_HTTP) {
        fetch_fail(L, "fetch: unknown scheme %d", (int)o->scheme);
        return -1;
    }
    int rc = -1;
    if (o->connect_to && o->connect_to[0]) {
        const char *colon = strrchr(o->connect_to, ':');
        if (!colon || colon == o->connect_to || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
            fetch_fail(L, "fetch: connect_to '%s': expected HOST:PORT", o->connect_to);
            return -1;
        }
        char entry[600];
        if ((size_t)snprintf(entry, sizeof entry, "::%s", o->connect_to) >= sizeof entry) {
            fetch_fail(L, "fetch: connect_to '%s': too long", o->connect_to);
            return -1;
        }
        if (!(L->connect_to = curl_slist_append(NULL, entry))) {
            fetch_fail(L, "fetch: out of memory");
            return -1;
        }
    }
    if ((L->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fetch_fail(L, "fetch: epoll_create1: %s", strerror(errno));
        goto out;
    }
    if (!(L->multi = curl_multi_init())) {
        fetch_fail(L, "fetch: curl_multi_init failed");
        goto out;
    }
    /* connections are not reused (CURLOPT_FORBID_REUSE): a small cache suffices */
    long maxconn = L->concurrency < 64 ? (long)L->concurrency : 64;
    if (curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, fetch_socket_cb) != CURLM_OK ||
        curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L) != CURLM_OK ||
        curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, fetch_timer_cb) != CURLM_OK ||
        curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L) != CURLM_OK ||
        curl_multi_setopt(L->multi, CURLMOPT_MAXCONNECTS, maxconn) != CURLM_OK) {
        fetch_fail(L, "fetch: curl_multi_setopt failed");
        goto out;
    }

    struct epoll_event events[FETCH_EPOLL_EVENTS];
    int running = 0;
    for (;;) {
        if (o->stop && *o->stop) break;
        fetch_fill(L);
        if (L->failed) break;
        if (L->in_flight == 0 && L->heap_len == 0 && L->next_host >= count) break;
        int64_t now = optout_now_ms();
        int64_t wait = FETCH_MAX_WAIT_MS;
        if (L->curl_deadline_ms >= 0 && L->curl_deadline_ms - now < wait) wait = L->curl_deadline_ms - now;
        if (L->heap_len && L->in_flight < L->concurrency && L->heap[0]->due_ms - now < wait)
            wait = L->heap[0]->due_ms - now;
        if (wait < 0) wait = 0;
        int n = epoll_wait(L->epfd, events, FETCH_EPOLL_EVENTS, (int)wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            fetch_fail(L, "fetch: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            int flags = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
            if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (events[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
            CURLMcode mc = curl_multi_socket_action(L->multi, events[i].data.fd, flags, &running);
            if (mc != CURLM_OK) {
                fetch_fail(L, "fetch: curl_multi_socket_action: %s", curl_multi_strerror(mc));
                break;
            }
        }
        if (L->failed) break;
        if (L->curl_deadline_ms >= 0 && optout_now_ms() >= L->curl_deadline_ms) {
            L->curl_deadline_ms = -1;
            CURLMcode mc = curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            if (mc != CURLM_OK) {
                fetch_fail(L, "fetch: curl_multi_socket_action(timeout): %s", curl_multi_strerror(mc));
                break;
            }
        }
        fetch_drain(L);
    }
    if (L->failed) rc = -1;
    else if (L->reported == count) rc = 0;
    else rc = 1; /* stopped */
out:
    /* abandon what is in flight, then free everything */
    for (fetch_slot *s = L->all_slots, *next; s; s = next) {
        next = s->next_all;
        if (s->job) {
            curl_multi_remove_handle(L->multi, s->easy);
            free(s->job);
        }
        fetch_slot_free(s);
    }
    for (size_t i = 0; i < L->heap_len; i++) free(L->heap[i]);
    free(L->heap);
    for (fetch_job *j = L->free_jobs, *next; j; j = next) {
        next = j->next_free;
        free(j);
    }
    if (L->multi) curl_multi_cleanup(L->multi);
    if (L->epfd >= 0) close(L->epfd);
    curl_slist_free_all(L->connect_to);
    return rc;
}
