/* fetch.h — fetching robots.txt for many hosts at once (outcomes: docs/robots.md).
 *
 * Contract
 * - optout_fetch_hosts() fetches SCHEME://HOST/robots.txt for every host key given (a key may carry
 *   ":port"; IPv6 keys are "[addr]") with libcurl's multi interface driven by epoll
 *   (curl_multi_socket_action), at most `concurrency` transfers in flight, DNS off the loop
 *   (libcurl's threaded resolver). It calls back once per host, in completion order, from the
 *   calling thread.
 * - Scheme: AUTO tries https first and falls back to http when https fails to connect or its TLS
 *   handshake or certificate check fails; HTTPS / HTTP try only that one.
 * - Redirects: up to 5 hops are followed, across hosts too (the record still belongs to the
 *   original host); more than 5 is `unavailable`. Only http and https, for the first request and
 *   for redirects.
 * - Outcomes: 2xx -> OK; 4xx (429 excepted) or too many redirects -> UNAVAILABLE;
 *   5xx, 429, timeout, connection refused or reset, TLS failure, a refused address ->
 *   UNREACHABLE; NXDOMAIN -> NO_SUCH_HOST. Names under the reserved TLD ".invalid" (RFC 6761
 *   §6.4) are NO_SUCH_HOST without any lookup or connection (tests rely on this).
 *   Transient failures (5xx, 429, timeout, reset) are retried up to `retries` more times after a
 *   backoff (retry_backoff_ms, doubled each time, waited on the event loop, never by sleeping;
 *   a 429 or 503 with a longer Retry-After waits that long, up to 60 s); the last attempt decides. In AUTO mode an https try that got no response at all and followed
 *   no redirect falls back to http immediately, except when the name does not resolve or its
 *   address was refused (http would fail alike), or when the TLS handshake completed and only
 *   the response timed out (retried on https); an error after a fallback names both schemes
 *   ("https: SSL connect error; http: HTTP 404").
 * - Bodies: content encodings gzip/deflate/br accepted (decoded). At most OPTOUT_FETCH_BODY_MAX
 *   (500 KiB) is kept: when more arrives the transfer stops, the body is cut after its last '\n'
 *   (or '\r': RFC 9309 ends lines with either) within the limit, kept whole when it has none, and
 *   `truncated` is set (still OK). A 2xx without a body is OK with an empty body. Memory stays
 *   bounded: one buffer of at most OPTOUT_FETCH_BODY_MAX per transfer in flight.
 * - Timeouts: connect_timeout_ms, timeout_ms for the whole transfer, and a low-speed limit (below
 *   low_speed_limit bytes/s for low_speed_time s aborts), so a server dripping a byte a second
 *   cannot hold a slot.
 * - Safety: unless allow_private (or connect_to) is set, every socket libcurl opens
 *   (CURLOPT_OPENSOCKETFUNCTION: first request, redirects, DNS rebinding alike) is refused when its
 *   address is not public: loopback, private (RFC 1918, fc00::/7), link-local, multicast,
 *   unspecified, broadcast, CGNAT 100.64/10, 0/8, 192.0.0/24, documentation and benchmarking
 *   ranges, 240/4, IPv4-mapped/compatible forms of these. Refused -> UNREACHABLE with an error
 *   that says so.
 * - connect_to "HOST:PORT" (tests): every request, of any host, scheme and port, redirects
 *   included, connects to HOST:PORT (CURLOPT_CONNECT_TO "::HOST:PORT"); the Host header and URL
 *   stay those of the original request; implies allow_private.
 * - *stop (optional): once nonzero, no new transfer or retry starts and the transfers in flight
 *   are abandoned; hosts not reported get no callback and the function returns 1.
 * - The result's pointers are valid during the callback only. The callback returning nonzero
 *   aborts the run (-1, err "stopped: " + the callback's reason if it set one, else "callback
 *   failed").
 * - Thread-safe as long as curl_global_init() was called once before threads started; several
 *   calls may run in parallel in different threads.
 */
#ifndef OPTOUT_FETCH_H
#define OPTOUT_FETCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "optout/stats.h"

#define OPTOUT_FETCH_BODY_MAX ((size_t)500 * 1024)
#define OPTOUT_FETCH_MAX_REDIRECTS 5
#define OPTOUT_FETCH_DEFAULT_CONCURRENCY 256

typedef enum { OPTOUT_FETCH_AUTO = 0, OPTOUT_FETCH_HTTPS, OPTOUT_FETCH_HTTP } optout_fetch_scheme;

/* Zero means "the default" for every numeric field. */
typedef struct {
    const char *user_agent;   /* NULL: "optout/<version> (+https://github.com/optout-project/optout)" */
    unsigned concurrency;     /* transfers in flight (default 256) */
    optout_fetch_scheme scheme;
    long connect_timeout_ms;  /* default 10000 */
    long timeout_ms;          /* the whole transfer, default 30000 */
    long low_speed_limit;     /* bytes per second, default 100 */
    long low_speed_time;      /* seconds, default 10 */
    int retries;              /* extra attempts for transient failures; < 0: the default, 2 */
    long retry_backoff_ms;    /* first backoff, doubled each retry, default 1000 */
    const char *connect_to;   /* "HOST:PORT" or NULL */
    int allow_private;
    volatile sig_atomic_t *stop;
} optout_fetch_options;

/* One host's outcome: what the robots archive records (archive.h). */
typedef struct {
    const char *host;         /* the host key, as given */
    optout_outcome outcome;   /* OK, UNAVAILABLE, UNREACHABLE or NO_SUCH_HOST */
    long status;              /* last HTTP status, 0 when no response */
    const char *final_url;    /* the last URL requested ("" when none) */
    int64_t fetched_at;       /* Unix time (seconds) when the last attempt started */
    uint32_t time_ms;         /* time over all requests (a fallen-back https try included), backoffs
                                 excluded */
    uint32_t attempts;        /* 1 + the retries made (an AUTO fallback from https to http is not
                                 one); 0 when nothing was requested (".invalid") */
    int truncated;
    const char *body;         /* OK: the body kept (decoded, cut when truncated); else NULL */
    size_t body_len;
    char sha256[65];          /* of the body kept, lower-case hex; "" when no body */
    const char *error;        /* why, for outcomes other than OK (e.g. "HTTP 503", libcurl's text);
                                 "" for OK */
} optout_fetch_result;

/* Returns 0 to go on; nonzero (optionally after writing a reason into reason, reason_len bytes)
 * aborts the run. */
typedef int (*optout_fetch_callback)(const optout_fetch_result *r, void *arg, char *reason, size_t reason_len);

/* 0: every host reported; 1: stopped by *stop; -1: setup failure or aborted, with err. */
int optout_fetch_hosts(const optout_fetch_options *o, const char *const *hosts, size_t count,
                       optout_fetch_callback cb, void *arg, char *err, size_t errlen);

/* Where a robots.txt body longer than OPTOUT_FETCH_BODY_MAX is cut: the length of body[0..len)
 * up to and including its last line end ('\n' or '\r'), len when it has none. A half line kept
 * could read as a different rule ("Disallow: /private" cut to "Disallow: /"). */
size_t optout_fetch_body_cut(const char *body, size_t len);

/* "auto" / "https" / "http" -> scheme; -1 when unknown. */
int optout_fetch_scheme_parse(const char *name, optout_fetch_scheme *scheme);

/* 1 when a fetcher may connect to this address (struct sockaddr_in / sockaddr_in6), 0 when it is
 * not public (the list above). Exposed for tests. */
struct sockaddr;
int optout_fetch_address_public(const struct sockaddr *addr);

#endif
