/* test_history_redis.c — the history archive in Redis (include/optout/history_redis.h).
 *
 * Usage: test_history_redis [ARCHIVE_DIR]
 *   ARCHIVE_DIR: a history archive (DIR/history/) to load and compare as well (the test script
 *   builds one with tools/gen-ccrobots and `optout history`); `--measure ARCHIVE_DIR` loads it into
 *   a private Redis and prints the memory it takes (docs/history.md's figures).
 *
 * The yardstick is the archive's own source (history_archive.h): for every document of a generated
 * set (every host, both schemes, each version's first and last capture time and the seconds
 * around them, a time between, after the last by a month and by more than --history-max-age, under
 * each of the host's crawls, a crawl it does not have, and none), the selection through the Redis
 * source must equal the archive's (coverage, the capture, where its redirects led, hops, outcome)
 * and the judge must give the same verdict for every agent. The record codec is checked on its own
 * (round trip, and every cut or damaged record refused), and the store against tampering, a reload
 * of another archive, and a load killed half-way (SIGKILL from its progress callback) and resumed.
 * The Redis tests start private redis-servers (tests/support/redis_server.h) and skip (77 when
 * nothing else ran) without one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "optout/agents.h"
#include "optout/filter.h"
#include "optout/history.h"
#include "optout/history_archive.h"
#include "optout/history_record.h"
#include "optout/history_redis.h"
#include "optout/rundir.h"
#include "optout/stats_policy.h"
#include "optout/verdicts.h"
#include "optout/util.h"

#include "../support/cmocka_check.h"
#include "../support/redis_server.h"
#include "../support/testdir.h"


#define PREFIX "optout:test:0123abcd:"
#define DAY 86400
#define MAX_AGE (365 * (int64_t)DAY)

static struct test_server srv;
static optout_agents *agents;
static const char *given_archive; /* ARCHIVE_DIR, or NULL */

/* ---- a hand-built archive ------------------------------------------------------------------ */

static const char *BODIES[] = {
    "User-agent: GPTBot\nDisallow: /\n",
    "User-agent: *\nDisallow: /private\n",
    "User-agent: CCBot\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /news\n",
    "",
    "User-agent: *\nAllow: /\n",
    /* long enough to be stored compressed */
    "# a long robots.txt\nUser-agent: *\nDisallow: /a\nDisallow: /b\nDisallow: /c\nDisallow: /d\n"
    "Disallow: /e\nDisallow: /f\nDisallow: /g\n\nUser-agent: ClaudeBot\nUser-agent: GPTBot\nDisallow: /\n",
};
static const char *CRAWLS[] = {"CC-MAIN-2019-35", "CC-MAIN-2020-05", "CC-MAIN-2021-04", "CC-MAIN-2022-21"};

static uint64_t rng_state;
static unsigned rnd(unsigned n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

/* hosts h0..h(n-1).example, seeded: versions over the crawls and the Wayback Machine, both schemes,
 * ok bodies shared between hosts, unavailable and unreachable answers, redirects (to hosts of the
 * list, some to a host without captures). */
static int unique_bodies; /* build_archive: each ok version a body of its own instead of one of BODIES */

static void build_archive(const char *dir, unsigned seed, unsigned nhosts) {
    char err[512] = "";
    rng_state = seed;
    optout_history_writer *w = optout_history_writer_new(dir, 0, err, sizeof err);
    CHECK(w, "%s", err);
    for (unsigned h = 0; h < nhosts; h++) {
        char host[64];
        snprintf(host, sizeof host, "h%u.example", h);
        unsigned nv = 1 + rnd(8);
        for (unsigned k = 0; k < nv; k++) {
            optout_history_version v = {0};
            unsigned c = rnd(5);
            int64_t base = 1546300800 + (int64_t)c * 200 * DAY; /* 2019-01-01 + */
            if (c < 4) {
                v.origin = OPTOUT_HISTORY_CC;
                snprintf(v.crawl, sizeof v.crawl, "%s", CRAWLS[c]);
            } else {
                v.origin = OPTOUT_HISTORY_WAYBACK;
                base -= 1500 * DAY;
            }
            v.scheme = rnd(2) ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
            v.first = base + rnd(20) * DAY + rnd(86400);
            v.last = v.first + (rnd(3) ? 0 : rnd(10) * DAY);
            unsigned kind = rnd(10);
            const char *body = NULL;
            char target[64], own[128];
            if (kind < 6) {
                v.status = 200;
                v.outcome = OPTOUT_OUTCOME_OK;
                body = BODIES[rnd(sizeof BODIES / sizeof *BODIES)];
                if (unique_bodies) {
                    snprintf(own, sizeof own, "User-agent: GPTBot\nDisallow: /p0\n# %s %u\n", host, k);
                    body = own;
                }
                v.truncated = rnd(7) == 0;
            } else if (kind == 6) {
                v.status = 404;
                v.outcome = OPTOUT_OUTCOME_UNAVAILABLE;
            } else if (kind == 7) {
                v.status = rnd(2) ? 503 : 429;
                v.outcome = OPTOUT_OUTCOME_UNREACHABLE;
            } else {
                v.status = 301;
                v.outcome = OPTOUT_OUTCOME_UNAVAILABLE;
                snprintf(target, sizeof target, kind == 9 ? "nowhere%u.example" : "h%u.example", rnd(nhosts));
                v.redirect = target;
                v.redirect_scheme = rnd(2) ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
            }
            CHECK(optout_history_writer_add(w, host, &v, 1 + rnd(3), body, body ? strlen(body) : 0, err,
                                            sizeof err) == 0,
                  "%s", err);
        }
    }
    CHECK(optout_history_writer_commit(w, NULL, NULL, err, sizeof err) == 0, "%s", err);
}

/* ---- comparing ----------------------------------------------------------------------------- */

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void assert_version_eq(const char *host, const optout_history_version *a, const optout_history_version *b) {
    CHECK(a->origin == b->origin && a->scheme == b->scheme && strcmp(a->crawl, b->crawl) == 0 &&
              a->first == b->first && a->last == b->last && a->status == b->status && a->outcome == b->outcome &&
              str_eq(a->redirect, b->redirect) && (!a->redirect || a->redirect_scheme == b->redirect_scheme) &&
              strcmp(a->sha256, b->sha256) == 0 && a->size == b->size && a->truncated == b->truncated,
          "%s: versions differ (first %" PRId64 "/%" PRId64 ", crawl %s/%s, status %d/%d, sha %s/%s)", host, a->first,
          b->first, a->crawl, b->crawl, a->status, b->status, a->sha256, b->sha256);
}

static void assert_pick_eq(const char *what, const optout_history_pick *a, const optout_history_pick *b) {
    CHECK(a->coverage == b->coverage, "%s: coverage %d vs %d", what, a->coverage, b->coverage);
    CHECK(!a->capture == !b->capture, "%s: a capture on one side only", what);
    if (!a->capture) return;
    assert_version_eq(what, a->capture, b->capture);
    assert_version_eq(what, a->final, b->final);
    CHECK(a->final_host_len == b->final_host_len && memcmp(a->final_host, b->final_host, a->final_host_len) == 0,
          "%s: final host %.*s vs %.*s", what, (int)a->final_host_len, a->final_host, (int)b->final_host_len,
          b->final_host);
    CHECK(a->hops == b->hops && a->outcome == b->outcome, "%s: hops %u/%u outcome %d/%d", what, a->hops, b->hops,
          a->outcome, b->outcome);
}

struct tally {
    size_t docs, with_capture, coverage[OPTOUT_COVERAGE_COUNT], disallowing;
};

/* One document through both sources: selection and judge. */
static void compare_doc(const optout_history_source *as, const optout_history_source *rs, optout_history_judge *aj,
                        optout_history_judge *rj, const char *host, const char *crawl, int has_time, int64_t t,
                        optout_history_scheme scheme, struct tally *n) {
    optout_doc_time dt = {0};
    snprintf(dt.crawl, sizeof dt.crawl, "%s", crawl);
    dt.has_time = has_time;
    dt.time = t;
    char what[256], err[1024] = "";
    snprintf(what, sizeof what, "%s %s crawl '%s' time %" PRId64, host, scheme ? "https" : "http", crawl, t);
    optout_history_pick pa, pr;
    CHECK(optout_history_select(as, host, strlen(host), scheme, &dt, MAX_AGE, &pa, err, sizeof err) == 0, "%s: %s",
          what, err);
    CHECK(optout_history_select(rs, host, strlen(host), scheme, &dt, MAX_AGE, &pr, err, sizeof err) == 0, "%s: %s",
          what, err);
    assert_pick_eq(what, &pa, &pr);
    char url[300];
    snprintf(url, sizeof url, "%s://%s/news/x", scheme ? "https" : "http", host);
    optout_agentset sa, sr;
    int ja = optout_history_judge_doc(aj, host, strlen(host), url, strlen(url), &dt, &pa, &sa, err, sizeof err);
    CHECK(ja >= 0, "%s: %s", what, err);
    int jr = optout_history_judge_doc(rj, host, strlen(host), url, strlen(url), &dt, &pr, &sr, err, sizeof err);
    CHECK(jr >= 0, "%s: %s", what, err);
    CHECK(ja == jr && memcmp(&sa, &sr, sizeof sa) == 0, "%s: the judges disagree", what);
    assert_pick_eq(what, &pa, &pr);
    n->docs++;
    n->coverage[pa.coverage]++;
    if (ja == 1) n->with_capture++;
    for (size_t i = 0; i < optout_agents_count(agents); i++)
        if (optout_agentset_has(&sa, i)) {
            n->disallowing++;
            break;
        }
}

/* Every host of the archive at dir: its versions through both sources, then the documents. */
static struct tally compare_archive(const char *dir, const char *prefix) {
    char err[1024] = "";
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    CHECK(a, "%s", err);
    optout_history_redis *r = optout_history_redis_open(srv.endpoint, NULL, NULL, prefix, err, sizeof err);
    CHECK(r, "%s", err);
    optout_history_source as = optout_history_archive_source(a), rs = optout_history_redis_source(r);
    optout_history_judge *aj = optout_history_judge_new(&as, agents, OPTOUT_MODE_RFC9309, 1, MAX_AGE, 0);
    optout_history_judge *rj = optout_history_judge_new(&rs, agents, OPTOUT_MODE_RFC9309, 1, MAX_AGE, 0);
    assert_non_null(aj);
    assert_non_null(rj);
    struct tally n = {0};
    size_t hosts = optout_history_archive_hosts(a);
    for (size_t i = 0; i < hosts; i++) {
        optout_history_host h = optout_history_archive_host(a, i), g;
        CHECK(rs.lookup(rs.arg, h.host, h.host_len, &g, err, sizeof err) == 1, "%s: %s", h.host, err);
        CHECK(g.count == h.count, "%s: %zu versions in Redis, %zu in the archive", h.host, g.count, h.count);
        /* Redis holds them by first time, the archive by scheme, origin, crawl, first: match them up */
        for (size_t k = 0; k < h.count; k++) {
            size_t m = 0;
            for (; m < g.count; m++) {
                const optout_history_version *x = &g.versions[m], *y = &h.versions[k];
                if (x->first == y->first && x->scheme == y->scheme && x->origin == y->origin &&
                    strcmp(x->crawl, y->crawl) == 0 && x->last == y->last && x->status == y->status &&
                    strcmp(x->sha256, y->sha256) == 0)
                    break;
            }
            CHECK(m < g.count, "%s: version %zu of the archive not in Redis", h.host, k);
            assert_version_eq(h.host, &g.versions[m], &h.versions[k]);
            if (k > 0) CHECK(g.versions[k].first >= g.versions[k - 1].first, "%s: not in time order", h.host);
            if (h.versions[k].outcome == OPTOUT_OUTCOME_OK) {
                char *b1 = NULL, *b2 = NULL;
                size_t l1 = 0, l2 = 0;
                CHECK(as.body(as.arg, &h.versions[k], &b1, &l1, err, sizeof err) == 0, "%s", err);
                CHECK(rs.body(rs.arg, &g.versions[m], &b2, &l2, err, sizeof err) == 0, "%s", err);
                CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0, "%s: bodies differ", h.host);
                free(b1);
                free(b2);
            }
        }
        /* the documents of this host */
        const char *crawls[64];
        size_t nc = 0;
        crawls[nc++] = "";
        crawls[nc++] = "CC-MAIN-2015-14"; /* a crawl no capture has */
        for (size_t k = 0; k < h.count && nc < 64; k++) {
            size_t c = 0;
            while (c < nc && strcmp(crawls[c], h.versions[k].crawl) != 0) c++;
            if (c == nc) crawls[nc++] = h.versions[k].crawl;
        }
        for (size_t k = 0; k < h.count; k++) {
            const optout_history_version *v = &h.versions[k];
            int64_t times[] = {v->first - 1,          v->first, v->first + 1,         (v->first + v->last) / 2,
                               v->last,               v->last + 1, v->last + 30 * DAY, v->last + MAX_AGE,
                               v->last + MAX_AGE + 1};
            for (size_t t = 0; t < sizeof times / sizeof *times; t++)
                for (size_t c = 0; c < nc; c++)
                    for (int s = 0; s < 2; s++)
                        compare_doc(&as, &rs, aj, rj, h.host, crawls[c], 1, times[t], (optout_history_scheme)s, &n);
        }
        compare_doc(&as, &rs, aj, rj, h.host, "", 0, 0, OPTOUT_HISTORY_HTTPS, &n); /* no time */
    }
    /* a host the archive does not have: no versions on either side */
    optout_history_host none;
    CHECK(rs.lookup(rs.arg, "absent.example", 14, &none, err, sizeof err) == 0, "%s", err);
    CHECK(optout_history_redis_cached_bytes(r) > 0, "nothing cached");
    optout_history_judge_free(aj);
    optout_history_judge_free(rj);
    optout_history_redis_close(r);
    optout_history_archive_close(a);
    return n;
}

static long load(const char *prefix, const char *dir, optout_history_redis_load_stats *st) {
    char err[1024] = "";
    long n = optout_history_redis_load(srv.endpoint, NULL, NULL, prefix, dir, 0, NULL, NULL, st, err, sizeof err);
    CHECK(n >= 0, "load %s: %s", dir, err);
    return n;
}

/* Every key under p1 has the same value under p2, and the two hold as many keys. */
static size_t assert_same_store(const char *p1, const char *p2) {
    redisReply *k1 = test_server_command(&srv, "KEYS %s*", p1), *k2 = test_server_command(&srv, "KEYS %s*", p2);
    CHECK(k1->type == REDIS_REPLY_ARRAY && k2->type == REDIS_REPLY_ARRAY && k1->elements == k2->elements,
          "%zu keys under %s, %zu under %s", k1->elements, p1, k2->elements, p2);
    for (size_t i = 0; i < k1->elements; i++) {
        const char *rest = k1->element[i]->str + strlen(p1);
        redisReply *a = test_server_command(&srv, "GET %s%s", p1, rest), *b = test_server_command(&srv, "GET %s%s", p2, rest);
        CHECK(a->type == REDIS_REPLY_STRING && b->type == REDIS_REPLY_STRING && a->len == b->len &&
                  memcmp(a->str, b->str, a->len) == 0,
              "%s differs between %s and %s", rest, p1, p2);
        freeReplyObject(a);
        freeReplyObject(b);
    }
    size_t n = k1->elements;
    freeReplyObject(k1);
    freeReplyObject(k2);
    return n;
}

/* ---- the record codec ---------------------------------------------------------------------- */

static void sample_versions(optout_history_version v[3]) {
    memset(v, 0, 3 * sizeof *v);
    v[0] = (optout_history_version){.origin = OPTOUT_HISTORY_CC, .scheme = OPTOUT_HISTORY_HTTPS,
                                    .crawl = "CC-MAIN-2021-04", .first = 1611000000, .last = 1611500000,
                                    .status = 200, .outcome = OPTOUT_OUTCOME_OK, .size = 31, .truncated = 1};
    optout_sha256_hex(BODIES[0], strlen(BODIES[0]), v[0].sha256);
    v[1] = (optout_history_version){.origin = OPTOUT_HISTORY_WAYBACK, .scheme = OPTOUT_HISTORY_HTTP,
                                    .first = -86400, .last = -86400, .status = 404,
                                    .outcome = OPTOUT_OUTCOME_UNAVAILABLE};
    v[2] = (optout_history_version){.origin = OPTOUT_HISTORY_CC, .scheme = OPTOUT_HISTORY_HTTP,
                                    .crawl = "CC-MAIN-2019-35", .first = 1566000000, .last = 1566000000,
                                    .status = 301, .outcome = OPTOUT_OUTCOME_UNAVAILABLE,
                                    .redirect = "www.example.com", .redirect_scheme = OPTOUT_HISTORY_HTTPS};
}

static void test_codec_round_trip(void **state) {
    (void)state;
    optout_history_version v[3];
    sample_versions(v);
    uint64_t caps[3] = {7, 1, 300};
    char *rec, why[256];
    size_t len;
    assert_int_equal(optout_history_record_encode(v, caps, 3, &rec, &len, why, sizeof why), 0);
    optout_history_version *d;
    uint64_t *dc;
    size_t n;
    CHECK(optout_history_record_decode(rec, len, &d, &n, &dc, why, sizeof why) == 0, "%s", why);
    assert_int_equal(n, 3);
    /* by first time: the Wayback capture of 1969, the 2019 redirect, then 2021 */
    assert_version_eq("0", &d[0], &v[1]);
    assert_version_eq("1", &d[1], &v[2]);
    assert_version_eq("2", &d[2], &v[0]);
    assert_int_equal(dc[0], 1);
    assert_int_equal(dc[1], 300);
    assert_int_equal(dc[2], 7);
    free(d);
    /* every cut is refused, with where */
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(optout_history_record_decode(rec, cut, &d, &n, NULL, why, sizeof why) == -1, "cut at %zu accepted", cut);
        assert_null(d);
        CHECK(strstr(why, "byte"), "no place in '%s'", why);
    }
    /* a byte after the end */
    char *longer = malloc(len + 1);
    memcpy(longer, rec, len);
    longer[len] = 0;
    assert_int_equal(optout_history_record_decode(longer, len + 1, &d, &n, NULL, why, sizeof why), -1);
    CHECK(strstr(why, "after the last version"), "%s", why);
    free(longer);
    /* damage: each single-byte change is refused or decodes to a valid record that encodes back the same */
    size_t refused = 0;
    for (size_t i = 0; i < len; i++)
        for (unsigned x = 1; x < 256; x <<= 1) {
            rec[i] ^= (char)x;
            if (optout_history_record_decode(rec, len, &d, &n, &dc, why, sizeof why) != 0) {
                refused++;
            } else {
                char *again;
                size_t alen;
                CHECK(optout_history_record_encode(d, dc, n, &again, &alen, why, sizeof why) == 0,
                      "byte %zu ^ %u decodes to what cannot be encoded: %s", i, x, why);
                CHECK(alen == len && memcmp(again, rec, len) == 0, "byte %zu ^ %u: two spellings of one record", i, x);
                free(again);
                free(d);
            }
            rec[i] ^= (char)x;
        }
    CHECK(refused > len * 3, "only %zu of %zu damaged records refused", refused, len * 8);
    free(rec);
}

static void test_codec_refuses(void **state) {
    (void)state;
    char why[256];
    optout_history_version *d;
    size_t n;
    struct {
        const char *rec;
        size_t len;
        const char *want;
    } bad[] = {
        {"X\x01\x01", 3, "not a history record"},
        {"V\x02\x01", 3, "format"},
        {"V\x01\x00", 3, "version count"},
        {"V\x01\x05\x00\x02\x00\x00\x00\x00\x01", 10, "version count"}, /* 5 versions in 7 bytes */
        {"V\x01\x01\x40\x02\x00\x00\x00\x00\x01", 10, "unknown flags"},
        {"V\x01\x01\x00\x07\x00\x00\x00\x00\x01", 10, "bad outcome"},
        {"V\x01\x01\x00\x00\x00\x00\x00\x00\x01", 10, "ok without a body"},
        {"V\x01\x01\x20\x02\x00\x00\x00\x00\x01", 10, "a body without outcome ok"},
        {"V\x01\x01\x08\x02\x00\x00\x00\x00\x01", 10, "redirect scheme without a redirect"},
        {"V\x01\x01\x00\x02\xe8\x07\x00\x00\x00\x01", 11, "bad status"}, /* 1000 */
        {"V\x01\x01\x00\x02\x00\x03\x41\x42\x43\x00\x00\x01", 13, "bad crawl length"},
        {"V\x01\x01\x00\x02\x00\x0f" "CC-MAIN-2019-99" "\x00\x00\x01", 25, "bad crawl id"},
        {"V\x01\x01\x00\x02\x00\x00\x80\x00\x00\x01", 11, "bad times"}, /* not the shortest varint */
        {"V\x01\x01\x00\x02\x00\x00\x00\x00\x00", 10, "bad capture count"},
        {"V\x01\x01\x04\x02\x00\x00\x00\x00\x01\x00", 11, "bad redirect length"},
        {"V\x01\x01\x04\x02\x00\x00\x00\x00\x01\x02\x61\x20", 13, "a redirect target with a byte"},
        {"V\x01\x02\x00\x02\x00\x00\x04\x00\x01\x00\x02\x00\x00\x02\x00\x01", 17, "out of time order"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        CHECK(optout_history_record_decode(bad[i].rec, bad[i].len, &d, &n, NULL, why, sizeof why) == -1,
              "case %zu accepted", i);
        CHECK(strstr(why, bad[i].want), "case %zu: '%s' does not say '%s'", i, why, bad[i].want);
    }
    /* the smallest good record, so that the cases above fail for their own reason */
    CHECK(optout_history_record_decode("V\x01\x01\x00\x02\x00\x00\x00\x00\x01", 10, &d, &n, NULL, why, sizeof why) == 0,
          "%s", why);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].outcome, OPTOUT_OUTCOME_UNAVAILABLE);
    free(d);
    /* what the format cannot hold is refused when encoding */
    optout_history_version v[3];
    sample_versions(v);
    char *rec;
    size_t len;
    v[0].sha256[0] = '\0';
    assert_int_equal(optout_history_record_encode(v, NULL, 1, &rec, &len, why, sizeof why), -1);
    sample_versions(v);
    v[2].redirect = "bad host";
    assert_int_equal(optout_history_record_encode(v, NULL, 3, &rec, &len, why, sizeof why), -1);
    assert_int_equal(optout_history_record_encode(v, NULL, 0, &rec, &len, why, sizeof why), -1);
}

/* ---- Redis --------------------------------------------------------------------------------- */

static int setup_redis(void **state) {
    (void)state;
    return test_server_setup(&srv, NULL, NULL);
}

static int teardown_redis(void **state) {
    (void)state;
    test_server_stop(&srv, SIGTERM);
    return 0;
}

/* A hand-built archive loaded: the same selections and verdicts as the archive; a second load
 * writes nothing; the store equals a load into an empty prefix. */
static void test_same_as_archive(void **state) {
    (void)state;
    const char *dir = tpath("a1");
    build_archive(dir, 1, 60);
    optout_history_redis_load_stats st;
    long n = load(PREFIX, dir, &st);
    assert_int_equal(n, 60);
    assert_int_equal(st.hosts_written, 60);
    assert_false(st.already_loaded);
    CHECK(st.bodies_written == sizeof BODIES / sizeof *BODIES, "%" PRIu64 " bodies written", st.bodies_written);
    struct tally t = compare_archive(dir, PREFIX);
    print_message("%zu documents (%zu same crawl, %zu earlier, %zu none, %zu no time), %zu with a capture, %zu "
                  "disallowing\n",
                  t.docs, t.coverage[0], t.coverage[1], t.coverage[2], t.coverage[3], t.with_capture, t.disallowing);
    /* the documents reach every step of the selection and the judge both ways */
    CHECK(t.coverage[OPTOUT_COVERAGE_SAME_CRAWL] && t.coverage[OPTOUT_COVERAGE_EARLIER] &&
              t.coverage[OPTOUT_COVERAGE_NONE] && t.coverage[OPTOUT_COVERAGE_NO_TIME] && t.disallowing &&
              t.with_capture > t.disallowing,
          "the documents do not cover the selection");
    /* idempotent */
    assert_int_equal(load(PREFIX, dir, &st), 60);
    assert_true(st.already_loaded);
    assert_int_equal(st.hosts_written, 0);
    load("optout:other:0123abcd:", dir, NULL);
    CHECK(assert_same_store(PREFIX, "optout:other:0123abcd:") == 60 + 6 + 4, "keys: records, bodies, 4 meta");
    char err[512];
    assert_int_equal(optout_history_redis_complete(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err), 1);
}

/* The archive given on the command line (gen-ccrobots' through optout history). */
static void test_given_archive(void **state) {
    (void)state;
    if (!given_archive) skip();
    long n = load(PREFIX, given_archive, NULL);
    CHECK(n > 0, "an empty archive");
    struct tally t = compare_archive(given_archive, PREFIX);
    print_message("%ld hosts, %zu documents (%zu same crawl, %zu earlier, %zu none, %zu no time), %zu with a "
                  "capture, %zu disallowing\n",
                  n, t.docs, t.coverage[0], t.coverage[1], t.coverage[2], t.coverage[3], t.with_capture,
                  t.disallowing);
    CHECK(t.coverage[OPTOUT_COVERAGE_SAME_CRAWL] && t.coverage[OPTOUT_COVERAGE_EARLIER] && t.disallowing,
          "the documents do not cover the selection");
}

/* A reload of another archive: records and bodies of the first one gone, the store as a fresh load. */
static void test_reload_other_archive(void **state) {
    (void)state;
    build_archive(tpath("b1"), 2, 40);
    build_archive(tpath("b2"), 3, 25);
    load(PREFIX, tpath("b1"), NULL);
    optout_history_redis_load_stats st;
    assert_int_equal(load(PREFIX, tpath("b2"), &st), 25);
    /* every record (40) and body (6) of the other archive: none of its keys outlives the load */
    CHECK(st.stale_deleted == 40 + 6, "%ld keys of the other archive deleted", st.stale_deleted);
    assert_int_equal(st.resumed_at, 0);
    load("optout:fresh:0123abcd:", tpath("b2"), NULL);
    assert_same_store(PREFIX, "optout:fresh:0123abcd:");
    compare_archive(tpath("b2"), PREFIX);
}

static int kill_at(void *arg, uint64_t done, uint64_t total) {
    (void)total;
    if (done == *(uint64_t *)arg) raise(SIGKILL);
    return 0;
}

static int stop_at(void *arg, uint64_t done, uint64_t total) {
    (void)total;
    return done >= *(uint64_t *)arg;
}

/* A load killed after 7 hosts: incomplete (the source refuses it), then resumed at 7, ending equal
 * to a load into an empty prefix. A load stopped by its callback likewise. */
static void test_kill_and_resume(void **state) {
    (void)state;
    const char *dir = tpath("k1");
    build_archive(dir, 4, 30);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t at = 7;
        char err[512];
        optout_history_redis_load(srv.endpoint, NULL, NULL, PREFIX, dir, 1, kill_at, &at, NULL, err, sizeof err);
        _exit(3); /* not killed: the test fails below */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the load was not killed (status %d)", status);
    char err[1024] = "";
    assert_int_equal(optout_history_redis_complete(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err), 0);
    CHECK(strstr(err, "incomplete"), "%s", err);
    assert_null(optout_history_redis_open(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err));
    CHECK(strstr(err, "incomplete (complete none of none)"), "%s", err);
    redisReply *d = test_server_command(&srv, "GET %shistory:done", PREFIX);
    CHECK(d->type == REDIS_REPLY_STRING && strcmp(d->str, "7") == 0, "done is not 7");
    freeReplyObject(d);
    optout_history_redis_load_stats st;
    assert_int_equal(load(PREFIX, dir, &st), 30);
    assert_int_equal(st.resumed_at, 7);
    assert_int_equal(st.hosts_written, 23);
    load("optout:fresh:0123abcd:", dir, NULL);
    assert_same_store(PREFIX, "optout:fresh:0123abcd:");
    compare_archive(dir, PREFIX);
    /* stopped by its callback: -1 "interrupted", resumed likewise */
    const char *p2 = "optout:stop:0123abcd:";
    uint64_t at = 12;
    assert_int_equal(optout_history_redis_load(srv.endpoint, NULL, NULL, p2, dir, 4, stop_at, &at, &st, err,
                                               sizeof err),
                     -1);
    CHECK(strstr(err, "interrupted after 12 of 30 hosts"), "%s", err);
    /* a record under "done" lost meanwhile (a failover, an eviction): resumed at its host */
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    CHECK(a, "%s", err);
    optout_history_host h4 = optout_history_archive_host(a, 4);
    redisReply *del = test_server_command(&srv, "DEL %shistory:h:%s", p2, h4.host);
    assert_int_equal(del->integer, 1);
    freeReplyObject(del);
    optout_history_archive_close(a);
    assert_int_equal(load(p2, dir, &st), 30);
    assert_int_equal(st.resumed_at, 4);
    assert_int_equal(st.hosts_written, 26);
    assert_same_store(p2, "optout:fresh:0123abcd:");
}

/* AddressSanitizer's quarantine keeps freed memory: peak RSS is then not the program's. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* The load reads the archive host by host: loading an index of over 40 MB grows the loading
 * process by less than 24 MiB (a load that held the whole index grew by about 2.5 times its size).
 * Measured in a child, whose peak RSS starts at what it inherits. */
static void test_load_memory(void **state) {
    (void)state;
    if (UNDER_ASAN) skip();
    const char *dir = tpath("big");
    build_archive(dir, 8, 80000);
    struct stat st;
    CHECK(stat(tpath("big/history/index.tsv"), &st) == 0 && st.st_size > 40000000, "index of %lld bytes",
          (long long)st.st_size);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        char err[512];
        long n = optout_history_redis_load(srv.endpoint, NULL, NULL, PREFIX, dir, 0, NULL, NULL, NULL, err, sizeof err);
        getrusage(RUSAGE_SELF, &after);
        long grew = n == 80000 ? after.ru_maxrss - before.ru_maxrss : -1;
        _exit(write(fds[1], &grew, sizeof grew) == sizeof grew ? 0 : 1);
    }
    close(fds[1]);
    long grew = -2;
    ssize_t got = read(fds[0], &grew, sizeof grew);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    CHECK(got == sizeof grew && grew >= 0, "the load failed in the child");
    print_message("a load of %lld bytes of index grew the process by %ld KiB\n", (long long)st.st_size, grew);
    CHECK(grew < 24 * 1024, "the load grew the process by %ld KiB", grew);
    char err[512];
    assert_int_equal(optout_history_redis_complete(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err), 1);
}

/* ---- the filter's prefetch ---------------------------------------------------------------- */

/* DOCS: per_host documents of every host of the archive in dir (https://HOST/pN, crawl CC-MAIN-2019-35,
 * no date), in index order. The number of documents. */
static size_t write_docs(const char *dir, const char *docs, unsigned per_host) {
    char err[512] = "";
    optout_history_cursor *c = optout_history_cursor_open(dir, err, sizeof err);
    CHECK(c, "%s", err);
    FILE *f = fopen(docs, "w");
    assert_non_null(f);
    optout_history_host h;
    size_t n = 0;
    while (optout_history_cursor_next(c, &h, NULL, err, sizeof err) == 1)
        for (unsigned k = 0; k < per_host; k++, n++)
            fprintf(f, "{\"text\":\"a document\",\"url\":\"https://%s/p%u\",\"dump\":\"CC-MAIN-2019-35\"}\n", h.host,
                    k);
    assert_int_equal(fclose(f), 0);
    optout_history_cursor_close(c);
    return n;
}

/* MGET calls Redis has answered: every round trip of the history source ends with one. */
static long long mget_calls(void) {
    redisReply *r = test_server_command(&srv, "INFO commandstats");
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_mget:calls=") : NULL;
    long long n = p ? atoll(p + 19) : 0;
    freeReplyObject(r);
    return n;
}

struct filtered {
    int64_t ms;
    long long trips;
    uint64_t docs, removed;
};

/* The documents filtered by the history store under PREFIX (today's robots.txt: an empty robots
 * directory, no robots.txt for any host), through its source view with its prefetch or without. */
static struct filtered filter_docs(const char *docs, int prefetch) {
    char err[1024] = "";
    CHECK(mkdir(tpath("empty-robots"), 0755) == 0 || errno == EEXIST, "mkdir");
    optout_verdicts *verdicts = optout_verdicts_open_dir(tpath("empty-robots"), agents, OPTOUT_MODE_RFC9309, 0, err,
                                                         sizeof err);
    CHECK(verdicts, "%s", err);
    optout_history_redis *r = optout_history_redis_open(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err);
    CHECK(r, "%s", err);
    optout_history_source src = optout_history_redis_source(r);
    if (!prefetch) src.prefetch = NULL; /* one round trip per host, as before the filter prefetched */
    optout_filter_history fh = {.time = {.policy = OPTOUT_ROBOTS_TIME_CRAWL}, .missing = OPTOUT_MISSING_CURRENT};
    fh.judge = optout_history_judge_new(&src, agents, OPTOUT_MODE_RFC9309, 0, MAX_AGE, 0);
    fh.stats = malloc(sizeof *fh.stats);
    optout_stats *stats = malloc(sizeof *stats);
    assert_true(fh.judge && fh.stats && stats);
    optout_stats_policy_init(fh.stats, fh.time.policy, 0, fh.missing, MAX_AGE);
    optout_stats_init(stats);
    optout_filter_config cfg = {.agents = agents, .verdicts = verdicts, .history = &fh};
    long long before = mget_calls();
    int64_t t0 = optout_now_ms();
    CHECK(optout_filter_shard(&cfg, docs, NULL, OPTOUT_FORMAT_PLAIN, NULL, stats, err, sizeof err) == 0, "%s", err);
    struct filtered out = {.ms = optout_now_ms() - t0, .trips = mget_calls() - before};
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        out.docs += stats->by_class[c].docs_in;
        out.removed += stats->by_class[c].docs_removed;
    }
    optout_history_judge_free(fh.judge);
    optout_history_redis_close(r);
    optout_verdicts_free(verdicts);
    free(fh.stats);
    free(stats);
    return out;
}

/* A filter judging by the Redis history store asks for its documents' hosts a chunk at a time
 * (with the hosts their redirects name, and the bodies they may need: here a body of its own for
 * every ok version), not one round trip per host and body; both ways decide alike. */
static void test_filter_prefetch(void **state) {
    (void)state;
    const char *dir = tpath("fp");
    unique_bodies = 1;
    build_archive(dir, 9, 3000);
    unique_bodies = 0;
    load(PREFIX, dir, NULL);
    size_t n = write_docs(dir, tpath("fp.jsonl"), 1);
    struct filtered with = filter_docs(tpath("fp.jsonl"), 1), without = filter_docs(tpath("fp.jsonl"), 0);
    print_message("%zu documents of as many hosts: %lld round trips prefetched, %lld without\n", n, with.trips,
                  without.trips);
    CHECK(with.docs == n && without.docs == n && with.removed == without.removed && with.removed > 0,
          "%" PRIu64 "/%" PRIu64 " documents, %" PRIu64 "/%" PRIu64 " removed", with.docs, without.docs, with.removed,
          without.removed);
    CHECK(without.trips >= (long long)n + (long long)with.removed, "without prefetch: %lld round trips for %zu hosts",
          without.trips, n);
    CHECK(with.trips < (long long)n / 20, "prefetched: %lld round trips for %zu hosts", with.trips, n);
}

/* A seeded archive of n hosts in tpath(name), loaded under PREFIX, and a source open on it. */
static optout_history_redis *loaded_source(const char *name, unsigned seed, unsigned n) {
    build_archive(tpath("%s", name), seed, n);
    load(PREFIX, tpath("%s", name), NULL);
    char err[1024] = "";
    optout_history_redis *r = optout_history_redis_open(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err);
    CHECK(r, "%s", err);
    return r;
}

/* Tampered records and bodies are refused with the key, the endpoint and what is wrong. */
static void test_corrupt(void **state) {
    (void)state;
    const char *dir = tpath("c1");
    optout_history_redis *r = loaded_source("c1", 5, 20);
    char err[1024] = "";
    optout_history_source s = optout_history_redis_source(r);
    optout_history_host h;
    freeReplyObject(test_server_command(&srv, "SET %shistory:h:h3.example %b", PREFIX, "V\x01\x01\x00", (size_t)4));
    assert_int_equal(s.lookup(s.arg, "h3.example", 10, &h, err, sizeof err), -1);
    CHECK(strstr(err, "corrupt history record " PREFIX "history:h:h3.example") && strstr(err, srv.endpoint) &&
              strstr(err, "version count the record cannot hold") &&
              strstr(err, "delete " PREFIX "history:source and load the archive again"),
          "%s", err);
    freeReplyObject(test_server_command(&srv, "DEL %shistory:h:h4.example", PREFIX));
    freeReplyObject(test_server_command(&srv, "SADD %shistory:h:h4.example x", PREFIX));
    assert_int_equal(s.lookup(s.arg, "h4.example", 10, &h, err, sizeof err), -1);
    CHECK(strstr(err, "WRONGTYPE"), "%s", err);
    /* a body changed, its size kept: the SHA-256 says so; a body of another kind; a body gone */
    const optout_history_version *ok = NULL;
    for (int i = 0; i < 20 && !ok; i++) {
        char host[32];
        snprintf(host, sizeof host, "h%d.example", i);
        if (i == 3 || i == 4 || s.lookup(s.arg, host, strlen(host), &h, err, sizeof err) != 1) continue;
        for (size_t k = 0; k < h.count && !ok; k++)
            if (h.versions[k].outcome == OPTOUT_OUTCOME_OK && h.versions[k].size > 4 && h.versions[k].size < 64)
                ok = &h.versions[k];
    }
    CHECK(ok, "no short ok version in the archive");
    char *body = NULL;
    size_t blen = 0;
    CHECK(s.body(s.arg, ok, &body, &blen, err, sizeof err) == 0, "%s", err);
    body[0] ^= 1;
    char *val = malloc(blen + 1);
    val[0] = 'B';
    memcpy(val + 1, body, blen);
    freeReplyObject(test_server_command(&srv, "SET %shistory:b:%s %b", PREFIX, ok->sha256, val, blen + 1));
    char *again = NULL;
    size_t got = 0;
    assert_int_equal(s.body(s.arg, ok, &again, &got, err, sizeof err), -1);
    CHECK(strstr(err, "corrupt history body") && strstr(err, ok->sha256) && strstr(err, "its SHA-256 is"), "%s", err);
    freeReplyObject(test_server_command(&srv, "SET %shistory:b:%s %b", PREFIX, ok->sha256, val, (size_t)blen));
    assert_int_equal(s.body(s.arg, ok, &again, &got, err, sizeof err), -1);
    CHECK(strstr(err, "bytes where the version says"), "%s", err);
    val[0] = 'X';
    freeReplyObject(test_server_command(&srv, "SET %shistory:b:%s %b", PREFIX, ok->sha256, val, blen + 1));
    assert_int_equal(s.body(s.arg, ok, &again, &got, err, sizeof err), -1);
    CHECK(strstr(err, "not a body value"), "%s", err);
    val[0] = (char)('B' | 0x80);
    freeReplyObject(test_server_command(&srv, "SET %shistory:b:%s %b", PREFIX, ok->sha256, val, blen + 1));
    assert_int_equal(s.body(s.arg, ok, &again, &got, err, sizeof err), -1);
    CHECK(strstr(err, "zstd frame"), "%s", err);
    freeReplyObject(test_server_command(&srv, "DEL %shistory:b:%s", PREFIX, ok->sha256));
    assert_int_equal(s.body(s.arg, ok, &again, &got, err, sizeof err), -1);
    CHECK(strstr(err, "missing"), "%s", err);
    free(val);
    free(body);
    /* a host without a record: none on a complete store, an error once it is not complete */
    freeReplyObject(test_server_command(&srv, "DEL %shistory:h:h5.example", PREFIX));
    assert_int_equal(s.lookup(s.arg, "h5.example", 10, &h, err, sizeof err), 0);
    freeReplyObject(test_server_command(&srv, "DEL %shistory:complete", PREFIX));
    assert_int_equal(s.lookup(s.arg, "h6.example", 10, &h, err, sizeof err) == 1 ? 1 : 0, 1); /* a record: answers */
    assert_int_equal(s.lookup(s.arg, "h7none.example", 14, &h, err, sizeof err), -1);
    CHECK(strstr(err, "incomplete") && strstr(err, "h7none.example"), "%s", err);
    optout_history_redis_close(r);
    /* a load of the same archive trusts the values under "done"; without "source" it rewrites all */
    freeReplyObject(test_server_command(&srv, "DEL %shistory:source", PREFIX));
    load(PREFIX, dir, NULL);
    compare_archive(dir, PREFIX);
}

/* Prefetch: many hosts in a few round trips, then lookups without Redis (stopped meanwhile). */
static void test_prefetch(void **state) {
    (void)state;
    optout_history_redis *r = loaded_source("p1", 6, 50);
    char err[1024] = "";
    char names[60][32];
    const char *hosts[60];
    size_t lens[60];
    for (int i = 0; i < 60; i++) { /* 10 hosts without a record */
        snprintf(names[i], sizeof names[i], "h%d.example", i);
        hosts[i] = names[i];
        lens[i] = strlen(names[i]);
    }
    CHECK(optout_history_redis_prefetch(r, hosts, lens, 60, err, sizeof err) == 0, "%s", err);
    test_server_stop(&srv, SIGKILL);
    optout_history_source s = optout_history_redis_source(r);
    optout_history_host h;
    for (int i = 0; i < 60; i++)
        CHECK(s.lookup(s.arg, hosts[i], lens[i], &h, err, sizeof err) == (i < 50 ? 1 : 0), "%s: %s", hosts[i], err);
    optout_history_redis_forget(r);
    assert_int_equal(optout_history_redis_cached_bytes(r), 0);
    assert_int_equal(s.lookup(s.arg, "h1.example", 10, &h, err, sizeof err), -1); /* Redis is gone */
    CHECK(strstr(err, "h1.example") && strstr(err, "gave up"), "%s", err);
    optout_history_redis_close(r);
    test_server_start(&srv, 0);
}

/* A connection dropped by the server between lookups: the next one reconnects and answers. */
static void test_dropped_connection(void **state) {
    (void)state;
    optout_history_redis *r = loaded_source("d1", 7, 10);
    char err[1024] = "";
    optout_history_source s = optout_history_redis_source(r);
    optout_history_host h;
    CHECK(s.lookup(s.arg, "h1.example", 10, &h, err, sizeof err) == 1, "%s", err);
    redisReply *k = test_server_command(&srv, "CLIENT KILL TYPE normal SKIPME yes");
    CHECK(k->type == REDIS_REPLY_INTEGER && k->integer >= 1, "no connection killed");
    freeReplyObject(k);
    CHECK(s.lookup(s.arg, "h2.example", 10, &h, err, sizeof err) == 1, "%s", err);
    CHECK(h.count > 0 && strcmp(h.host, "h2.example") == 0, "h2.example: %zu versions", h.count);
    optout_history_redis_close(r);
}

/* Prints what the archive takes in Redis: bytes per host record, version and body. */
static int measure(const char *dir) {
    if (testdir_create("test_history_redis") != 0 || test_server_setup(&srv, NULL, NULL) != 0) return 1;
    redisReply *m0 = test_server_command(&srv, "INFO memory");
    long long before = 0, after = 0;
    const char *p = strstr(m0->str, "used_memory:");
    if (p) before = atoll(p + 12);
    freeReplyObject(m0);
    optout_history_redis_load_stats st;
    char err[1024] = "";
    int64_t t0 = optout_now_ms();
    if (optout_history_redis_load(srv.endpoint, NULL, NULL, PREFIX, dir, 0, NULL, NULL, &st, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t ms = optout_now_ms() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this process after the load: %ld KiB (the load reads the archive host by host)\n",
           ru.ru_maxrss);
    redisReply *m1 = test_server_command(&srv, "INFO memory");
    p = strstr(m1->str, "used_memory:");
    if (p) after = atoll(p + 12);
    freeReplyObject(m1);
    /* MEMORY USAGE of every key, by kind */
    unsigned long long rec_bytes = 0, body_bytes = 0, rec_value = 0, body_value = 0;
    redisReply *keys = test_server_command(&srv, "KEYS %shistory:*", PREFIX);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        redisReply *u = test_server_command(&srv, "MEMORY USAGE %s SAMPLES 0", k);
        redisReply *l = test_server_command(&srv, "STRLEN %s", k);
        if (strstr(k, "history:h:")) rec_bytes += (unsigned long long)u->integer, rec_value += (unsigned long long)l->integer;
        else if (strstr(k, "history:b:")) body_bytes += (unsigned long long)u->integer, body_value += (unsigned long long)l->integer;
        freeReplyObject(u);
        freeReplyObject(l);
    }
    freeReplyObject(keys);
    printf("archive %s: %" PRIu64 " hosts, %" PRIu64 " versions, %" PRIu64 " bodies written\n", dir, st.hosts,
           st.versions, st.bodies_written);
    printf("loaded in %" PRId64 " ms (%.0f versions a second, unix socket)\n", ms,
           ms ? (double)st.versions * 1000.0 / (double)ms : 0.0);
    printf("used_memory grew by %lld bytes (%.1f per version)\n", after - before,
           st.versions ? (double)(after - before) / (double)st.versions : 0.0);
    printf("host records: %llu bytes in Redis (MEMORY USAGE), values %llu: %.1f per version, %.1f per host\n",
           rec_bytes, rec_value, st.versions ? (double)rec_bytes / (double)st.versions : 0.0,
           st.hosts ? (double)rec_bytes / (double)st.hosts : 0.0);
    printf("bodies: %llu bytes in Redis (MEMORY USAGE), values %llu: %.1f per body\n", body_bytes, body_value,
           st.bodies_written ? (double)body_bytes / (double)st.bodies_written : 0.0);
    /* reading: every host looked up one round trip each, then all prefetched in batches */
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    optout_history_redis *r = a ? optout_history_redis_open(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err) : NULL;
    if (!r) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    optout_history_source src = optout_history_redis_source(r);
    size_t n = optout_history_archive_hosts(a);
    int64_t t1 = optout_now_ms();
    for (size_t i = 0; i < n; i++) {
        optout_history_host h = optout_history_archive_host(a, i), g;
        if (src.lookup(src.arg, h.host, h.host_len, &g, err, sizeof err) != 1) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    }
    int64_t t2 = optout_now_ms();
    size_t cached = optout_history_redis_cached_bytes(r);
    optout_history_redis_forget(r);
    const char **names = malloc(n * sizeof *names);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; names && lens && i < n; i++) {
        optout_history_host h = optout_history_archive_host(a, i);
        names[i] = h.host;
        lens[i] = h.host_len;
    }
    int64_t t3 = optout_now_ms();
    if (!names || !lens || optout_history_redis_prefetch(r, names, lens, n, err, sizeof err) != 0) {
        fprintf(stderr, "prefetch: %s\n", err);
        return 1;
    }
    int64_t t4 = optout_now_ms();
    printf("reading %zu hosts: %" PRId64 " ms one at a time, %" PRId64 " ms prefetched; the source's cache then "
           "holds %zu bytes (%.0f a version)\n",
           n, t2 - t1, t4 - t3, cached, st.versions ? (double)cached / (double)st.versions : 0.0);
    free(names);
    free(lens);
    optout_history_redis_close(r);
    optout_history_archive_close(a);
    /* a filter over 4 documents of every host, its history source prefetching or not */
    agents = optout_agents_new_default();
    size_t docs = write_docs(dir, tpath("measure.jsonl"), 4);
    struct filtered with = filter_docs(tpath("measure.jsonl"), 1), without = filter_docs(tpath("measure.jsonl"), 0);
    printf("filtering %zu documents of %zu hosts: %" PRId64 " ms in %lld round trips prefetched, %" PRId64
           " ms in %lld without (%" PRIu64 " removed both ways: %s)\n",
           docs, n, with.ms, with.trips, without.ms, without.trips, with.removed,
           with.removed == without.removed ? "the same" : "DIFFERENT");
    optout_agents_free(agents);
    test_server_stop(&srv, SIGTERM);
    testdir_remove();
    return 0;
}

#define R(f) cmocka_unit_test_setup_teardown(f, setup_redis, teardown_redis)

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--measure") == 0) return test_server_find() ? measure(argv[2]) : 77;
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [ARCHIVE_DIR] | --measure ARCHIVE_DIR\n", argv[0]);
        return 2;
    }
    given_archive = argc == 2 ? argv[1] : NULL;
    if (testdir_create("test_history_redis") != 0) {
        perror("mkdtemp");
        return 1;
    }
    agents = optout_agents_new_default();
    const struct CMUnitTest codec[] = {cmocka_unit_test(test_codec_round_trip), cmocka_unit_test(test_codec_refuses)};
    int failed = cmocka_run_group_tests_name("history_redis_codec", codec, NULL, NULL);
    if (!test_server_find()) {
        fprintf(stderr, "redis-server is not installed (nor $OPTOUT_REDIS_SERVER set): skipping the Redis tests\n");
    } else {
        const struct CMUnitTest redis[] = {
            R(test_same_as_archive), R(test_given_archive), R(test_reload_other_archive),
            R(test_kill_and_resume), R(test_corrupt),       R(test_prefetch),
            R(test_dropped_connection), R(test_load_memory), R(test_filter_prefetch),
        };
        failed += cmocka_run_group_tests_name("history_redis", redis, NULL, NULL);
    }
    optout_agents_free(agents);
    testdir_remove();
    return failed ? 1 : 0;
}
