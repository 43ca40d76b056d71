/* history.h — robots.txt as it was: the captures of a host's robots.txt over time, the time of a
 * document, which capture judges a document, and the four policies (docs/history.md is the user's
 * view of every rule below).
 *
 * Contract
 * - A *version* is a run of consecutive captures of one host key, scheme, source and crawl whose
 *   answer is the same (outcome, status, redirect target, body): one record with the time of its
 *   first and last capture. Versions never span two crawls (the choice of a capture starts with the
 *   document's crawl), and two versions of one host, scheme, source and crawl never overlap in time.
 * - Capture outcomes are the fetch outcomes (fetch.h): 2xx ok, 4xx unavailable, 429 and 5xx
 *   unreachable. A redirect (3xx with a usable Location) has `redirect` set to the target's host key
 *   and `redirect_scheme` to its scheme; its own outcome is not used (the target's decides). A 3xx
 *   without a usable Location is unavailable, redirect NULL.
 * - A *history source* answers "the versions of this host key" (any order); its arrays and strings
 *   stay valid as long as the source is open, and it reads a version's body by SHA-256. The history
 *   archive (history_archive.h) is one; optout_history_mem (below) is the in-memory one.
 * - Which capture judges a document (optout_history_select):
 *   (0) redirects are resolved first, per version and independently of any document: a redirect
 *       of host H (source S, crawl C, first capture time T) follows to the target's version of the
 *       same source and crawl, of the target's scheme, holding the target's first capture at or
 *       after T (the version with last >= T whose max(first, T) is smallest); up to
 *       OPTOUT_HISTORY_MAX_HOPS hops; a longer chain or a loop is `unavailable` (as a fetch's);
 *       a target without such a capture leaves the redirect unresolved, and an unresolved redirect
 *       counts as no capture: it is set aside before the steps below.
 *   (1) the document has a crawl and the host has captures in it: among them, unreachable ones are
 *       set aside when another is not; then the latest capture of the URL's scheme at or before
 *       the document's time (the version with the greatest first <= time), else that scheme's
 *       first capture in the crawl, else the other scheme's likewise (a document with a crawl
 *       always has a time: the crawl's week gives one).
 *   (2) else, the document has a time: among captures of any source and crawl at or before the
 *       time (first <= time) and not older than max_age (time - last <= max_age), the latest
 *       (greatest min(last, time)) of the URL's scheme, else of the other scheme.
 *   (3) else no capture: --history-missing decides.
 *   Ties (equal times) go to the later `last`, then Common Crawl before Wayback, then the greater
 *   crawl id, then the greater SHA-256: the choice never depends on the order of the list.
 *   The URL's scheme is https for "https" (any case), else http.
 * - Policies (optout_robots_time): current (today's robots.txt), crawl (the capture above),
 *   cutoff:YYYY-MM-DD (time on or after that day's 00:00 UTC: current, else crawl), strictest
 *   (removed when current or crawl removes; the agents are the union). A document without a time,
 *   or with no capture, takes --history-missing for its `crawl` side: current (today's verdict),
 *   keep, or remove (removed for no agent: "disallowed_user_agents": []). Every policy is computed
 *   for every document in one pass (optout_history_combine).
 * - Thread-safety: parsing and combining are pure; a source and a judge are used by one thread at a
 *   time.
 */
#ifndef OPTOUT_HISTORY_H
#define OPTOUT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/robots.h"
#include "optout/stats.h"

#define OPTOUT_HISTORY_CRAWL_MAX 16 /* "CC-MAIN-2019-35" and its NUL */
#define OPTOUT_HISTORY_MAX_HOPS 5   /* = OPTOUT_FETCH_MAX_REDIRECTS */
#define OPTOUT_HISTORY_MAX_AGE_DEFAULT_DAYS 365
#define OPTOUT_HISTORY_REPORT_CUTOFF_DEFAULT "2023-08-07" /* OpenAI announced GPTBot */

typedef enum { OPTOUT_HISTORY_HTTP = 0, OPTOUT_HISTORY_HTTPS = 1 } optout_history_scheme;
typedef enum { OPTOUT_HISTORY_CC = 0, OPTOUT_HISTORY_WAYBACK = 1 } optout_history_origin;

/* One version of a host's robots.txt (see "version" above). */
typedef struct {
    optout_history_origin origin;           /* where the capture comes from */
    optout_history_scheme scheme;           /* of the captured robots.txt URL */
    char crawl[OPTOUT_HISTORY_CRAWL_MAX];   /* "CC-MAIN-YYYY-WW"; "" for Wayback */
    int64_t first, last;                    /* capture times, Unix seconds UTC, first <= last */
    int status;                             /* HTTP status, 0 when no response */
    optout_outcome outcome;                 /* OK, UNAVAILABLE or UNREACHABLE (fetch outcomes) */
    const char *redirect;                   /* target host key of a redirect, else NULL */
    optout_history_scheme redirect_scheme;  /* the target's scheme (redirect only) */
    char sha256[65];                        /* of the body, lower-case hex; "" when no body */
    uint64_t size;                          /* body bytes */
    int truncated;                          /* the capture's body was cut (WARC-Truncated) */
} optout_history_version;

/* The versions of one host key. */
typedef struct {
    const char *host;
    size_t host_len;
    const optout_history_version *versions;
    size_t count;
} optout_history_host;

/* A history source. lookup: 1 and *out filled, 0 no version for the host, -1 with err. body: the
 * version's body (malloc'd into *body, checked against size and SHA-256), 0 or -1 with err.
 * prefetch and prefetch_bodies (NULL for a local source): ask for many hosts, or many bodies (by
 * SHA-256 hex), at once, so that the lookups or body reads that follow answer without a round trip
 * each; 0 or -1 with err. */
typedef struct {
    void *arg;
    int (*lookup)(void *arg, const char *host, size_t len, optout_history_host *out, char *err, size_t errlen);
    int (*body)(void *arg, const optout_history_version *v, char **body, size_t *len, char *err, size_t errlen);
    int (*prefetch)(void *arg, const char *const *hosts, const size_t *lens, size_t count, char *err, size_t errlen);
    int (*prefetch_bodies)(void *arg, const char *const *sha256, size_t count, char *err, size_t errlen);
} optout_history_source;

/* ---- an in-memory source (tests; small histories) ------------------------------------------ */

typedef struct optout_history_mem optout_history_mem;
optout_history_mem *optout_history_mem_new(void);
/* Adds a version of host (copied, its redirect string too) with its body (copied; NULL when none:
 * sha256 and size are then taken as given). 0 or -1 (out of memory). */
int optout_history_mem_add(optout_history_mem *m, const char *host, const optout_history_version *v,
                           const void *body, size_t body_len);
/* The source view of m (valid while m is; adding versions invalidates earlier lookups). */
optout_history_source optout_history_mem_source(optout_history_mem *m);
void optout_history_mem_free(optout_history_mem *m);

/* ---- the document's time ------------------------------------------------------------------- */

typedef struct {
    char crawl[OPTOUT_HISTORY_CRAWL_MAX]; /* "" when the document names none */
    int has_time;
    int64_t time;                         /* Unix seconds UTC */
    int time_from_crawl;                  /* no usable date: the Monday of the crawl's ISO week */
} optout_doc_time;

/* The first "CC-MAIN-YYYY-WW" in s (WW 01..53, not followed by a digit) into crawl: 1, else 0. */
int optout_history_find_crawl(const char *s, size_t len, char crawl[OPTOUT_HISTORY_CRAWL_MAX]);
/* An ISO 8601 date or date-time ("2019-08-21", "2019-08-21T10:20:30Z", "... 10:20:30.5+02:00";
 * without a zone UTC) to Unix seconds: 0, or -1 when it is not one. */
int optout_history_parse_time(const char *s, size_t len, int64_t *t);
/* 00:00 UTC of the Monday of ISO week WW of year YYYY of a crawl id; -1 when it is not one. */
int optout_history_crawl_monday(const char *crawl, int64_t *t);
/* The document's crawl (from dump, which may be any text holding a crawl id, e.g. a Common Crawl
 * path) and time (from date, else the crawl's Monday). Either may be NULL. */
void optout_history_doc_time(const char *dump, size_t dump_len, const char *date, size_t date_len,
                             optout_doc_time *out);

/* ---- which capture judges ------------------------------------------------------------------ */

typedef enum {
    OPTOUT_COVERAGE_SAME_CRAWL = 0, /* a capture of the document's crawl (step 1) */
    OPTOUT_COVERAGE_EARLIER,        /* an earlier one within max_age (step 2) */
    OPTOUT_COVERAGE_NONE,           /* no capture (step 3) */
    OPTOUT_COVERAGE_NO_TIME,        /* the document has neither crawl nor time (step 3) */
    OPTOUT_COVERAGE_COUNT
} optout_history_coverage;
const char *optout_history_coverage_name(optout_history_coverage c); /* "same_crawl", ... */

typedef struct {
    optout_history_coverage coverage;
    const optout_history_version *capture; /* chosen by the steps; NULL when none */
    const optout_history_version *final;   /* where its redirects led (capture when none) */
    const char *final_host;                /* final's host key (the document's when no redirect) */
    size_t final_host_len;
    unsigned hops;                         /* redirects followed */
    optout_outcome outcome;                /* final's outcome; UNAVAILABLE past the hop limit */
} optout_history_pick;

/* Picks the capture that judges a document of host (scheme: the URL's). max_age in seconds (clamped
 * to 0 .. 10^12). 0, or -1 with err (the source failed). *out->coverage says which step decided. */
int optout_history_select(const optout_history_source *src, const char *host, size_t len,
                          optout_history_scheme scheme, const optout_doc_time *t, int64_t max_age,
                          optout_history_pick *out, char *err, size_t errlen);
/* A capture's outcome from its HTTP status (the fetch outcomes): 2xx ok; 3xx and 4xx but 429
 * unavailable; 429, 5xx and anything that is no HTTP status (1xx, 600 and over) unreachable. */
optout_outcome optout_history_status_outcome(int status);
/* "https" (any case) -> HTTPS, anything else HTTP: the scheme of a URL (its text before "://"). */
optout_history_scheme optout_history_url_scheme(const char *url, size_t len);

/* A judge: the capture's verdict for a document. It selects (as above), reads the deciding
 * version's body through the source, compiles it for agents and mode and caches the compiled set by
 * SHA-256 (max_cached sets, 0: 4096; when full the cache is emptied). A host's versions are looked up
 * and their redirects resolved once (step 0 does not depend on the document), then kept for the
 * documents that follow (65536 hosts; emptied when full): the selection per document is a scan of
 * the host's versions, without allocation. A capture whose outcome is ok
 * is checked against the URL; unreachable disallows every agent when unreachable_disallows (RFC-strict,
 * as for today's robots.txt); any other outcome allows everything. src and agents must outlive it. */
typedef struct optout_history_judge optout_history_judge;
optout_history_judge *optout_history_judge_new(const optout_history_source *src, const optout_agents *agents,
                                               optout_robots_mode mode, int unreachable_disallows, int64_t max_age,
                                               size_t max_cached);
/* 1: a capture judged, *set holds the agents it disallows for url; 0: no capture (pick->coverage says
 * why, *set empty); -1 with err (the source failed, a body could not be read). */
int optout_history_judge_doc(optout_history_judge *j, const char *host, size_t len, const char *url, size_t url_len,
                             const optout_doc_time *t, optout_history_pick *pick, optout_agentset *set, char *err,
                             size_t errlen);
/* 1 when the judge's source prefetches (a remote source): callers then batch their documents' hosts. */
int optout_history_judge_can_prefetch(const optout_history_judge *j);
/* The source's prefetch of hosts[0..count) (nothing for a source without one), then of the bodies
 * their documents may need: for each host the judge has not met yet, those of its ok versions and
 * of the versions its redirects lead to that are not compiled already. 0, or -1 with err. */
int optout_history_judge_prefetch(optout_history_judge *j, const char *const *hosts, const size_t *lens, size_t count,
                                  char *err, size_t errlen);
/* The compiled rules of the last judged capture with outcome ok (valid until the next call), else NULL. */
const optout_robots *optout_history_judge_rules(const optout_history_judge *j);
void optout_history_judge_free(optout_history_judge *j);

/* ---- policies ------------------------------------------------------------------------------ */

typedef enum {
    OPTOUT_ROBOTS_TIME_CURRENT = 0,
    OPTOUT_ROBOTS_TIME_CRAWL,
    OPTOUT_ROBOTS_TIME_CUTOFF,
    OPTOUT_ROBOTS_TIME_STRICTEST,
    OPTOUT_ROBOTS_TIME_COUNT
} optout_robots_time;

typedef struct {
    optout_robots_time policy;
    int64_t cutoff; /* CUTOFF: 00:00 UTC of the day */
} optout_robots_time_spec;

/* "current" / "crawl" / "cutoff:YYYY-MM-DD" / "strictest": 0, or -1. */
int optout_robots_time_parse(const char *text, optout_robots_time_spec *out);
const char *optout_robots_time_name(optout_robots_time p); /* "current", "crawl", "cutoff", "strictest" */
/* The day (00:00 UTC) of the `cutoff` column that every document is also judged under: the chosen
 * policy's own day when it is cutoff:DAY, else report_cutoff (--report-cutoff). The one rule for
 * the filter, the policies' statistics and optout why. */
int64_t optout_robots_time_cutoff_day(const optout_robots_time_spec *spec, int64_t report_cutoff);

typedef enum { OPTOUT_MISSING_CURRENT = 0, OPTOUT_MISSING_KEEP, OPTOUT_MISSING_REMOVE } optout_history_missing;
int optout_history_missing_parse(const char *name, optout_history_missing *out);
const char *optout_history_missing_name(optout_history_missing m);

/* One document's verdict under one policy. */
typedef struct {
    int removed;
    optout_agentset agents; /* may be empty while removed (--history-missing remove) */
} optout_policy_verdict;

/* Every policy's verdict from the two sides: today's (current: its disallowed agents) and the
 * capture's (crawl; NULL when there is no capture or no time: `missing` decides then). cutoff is the
 * column's cutoff day (00:00 UTC). out is indexed by optout_robots_time. */
void optout_history_combine(const optout_agentset *current, const optout_agentset *crawl, const optout_doc_time *t,
                            int64_t cutoff, optout_history_missing missing, size_t agent_count,
                            optout_policy_verdict out[OPTOUT_ROBOTS_TIME_COUNT]);

#endif
