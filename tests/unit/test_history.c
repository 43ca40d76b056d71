/* test_history.c — the document's time, which capture judges a document, the policies and their
 * one-pass combination (include/optout/history.h).
 *
 * Expected times are computed by hand (and checked against Python's datetime.fromisocalendar when
 * written); captures are built by hand in the in-memory source, and every selection is also made on
 * the list reversed and rotated, which must not change the choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/history.h"
#include "optout/rundir.h"
#include "optout/stats_policy.h"

#define DAY 86400

/* ---- the document's time -------------------------------------------------------------------- */

static int64_t T(const char *s) {
    int64_t t = -1;
    assert_int_equal(optout_history_parse_time(s, strlen(s), &t), 0);
    return t;
}

static void test_parse_time(void **state) {
    (void)state;
    assert_true(T("1970-01-01") == 0);
    assert_true(T("2019-08-26") == 1566777600);
    assert_true(T("2019-08-26T00:00:01Z") == 1566777601);
    assert_true(T("2019-08-26T10:20:30Z") == 1566777600 + 10 * 3600 + 20 * 60 + 30);
    assert_true(T("2019-08-26 10:20:30") == 1566777600 + 37230); /* no zone: UTC */
    assert_true(T("2019-08-26t10:20:30z") == 1566777600 + 37230);
    assert_true(T("2019-08-26T10:20") == 1566777600 + 37200);
    assert_true(T("2019-08-26T10:20:30.123456Z") == 1566777600 + 37230);
    assert_true(T("2019-08-26T12:20:30+02:00") == 1566777600 + 37230);
    assert_true(T("2019-08-26T12:20:30+0200") == 1566777600 + 37230);
    assert_true(T("2019-08-26T08:20:30-02") == 1566777600 + 37230);
    assert_true(T("2019-08-26T00:30:00+01:00") == 1566777600 - 1800); /* the day before in UTC */
    assert_true(T("2020-02-29") == 1582934400);                        /* leap day */
    assert_true(T("2000-02-29") == 951782400);                         /* a leap century */
    assert_true(T("1969-12-31T23:59:59Z") == -1);
    const char *bad[] = {"", "2019", "2019-08", "2019-8-26", "2019-08-26T", "2019-08-26T1:00", "2019-13-01",
                         "2019-00-10", "2019-02-29", "1900-02-29", "2019-04-31", "2019-08-00", "2019-08-26T24:00",
                         "2019-08-26T10:60", "2019-08-26T10:20:61", "2019-08-26T10:20:30.", "2019-08-26T10:20:30+2",
                         "2019-08-26T10:20:30+25:00", "2019-08-26T10:20:30+02:60", "2019-08-26Z",
                         "2019-08-26T10:20:30Zjunk", "2019-08-26 ", "x019-08-26", "2019/08/26",
                         "2019-08-26T10:20:30 UTC"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 7;
        if (optout_history_parse_time(bad[i], strlen(bad[i]), &t) != -1) fail_msg("accepted '%s'", bad[i]);
        assert_true(t == 7);
    }
    /* the length bounds the text: a longer buffer is not read past it */
    int64_t t;
    assert_int_equal(optout_history_parse_time("2019-08-26T10:20:30Z", 10, &t), 0);
    assert_true(t == 1566777600);
}

static void test_crawl_monday(void **state) {
    (void)state;
    struct {
        const char *crawl;
        int64_t t;
    } ok[] = {{"CC-MAIN-2019-35", 1566777600}, {"CC-MAIN-2020-53", 1609113600}, {"CC-MAIN-2013-20", 1368403200},
              {"CC-MAIN-2016-36", 1473033600}, {"CC-MAIN-2024-01", 1704067200}, {"CC-MAIN-2021-01", 1609718400}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t t = 0;
        assert_int_equal(optout_history_crawl_monday(ok[i].crawl, &t), 0);
        assert_true(t == ok[i].t);
    }
    const char *bad[] = {"CC-MAIN-2019-53", "CC-MAIN-2019-00", "CC-MAIN-2019-54", "CC-MAIN-2019-5", "CC-MAIN-2019-350",
                         "CC-MAIN-20x9-35", "CC-NEWS-2019-35", "cc-main-2019-35", "", "CC-MAIN-2019_35"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (optout_history_crawl_monday(bad[i], &t) != -1) fail_msg("accepted '%s'", bad[i]);
    }
}

static void check_find(const char *s, const char *want) {
    char c[OPTOUT_HISTORY_CRAWL_MAX] = "junk";
    int got = optout_history_find_crawl(s, strlen(s), c);
    if (got != (want != NULL) || strcmp(c, want ? want : "") != 0)
        fail_msg("'%s': got %d '%s', want '%s'", s, got, c, want ? want : "(none)");
}

static void test_find_crawl(void **state) {
    (void)state;
    check_find("CC-MAIN-2019-35", "CC-MAIN-2019-35");
    check_find("crawl-data/CC-MAIN-2019-35/segments/1566027313259.30/warc/x.warc.gz", "CC-MAIN-2019-35");
    check_find("s3://commoncrawl/crawl-data/CC-MAIN-2016-36/segments/a", "CC-MAIN-2016-36");
    check_find("CC-MAIN-2019-35x", "CC-MAIN-2019-35");
    check_find("CC-MAIN-2019-350", NULL);              /* not followed by a digit */
    check_find("CC-MAIN-2008-2009", NULL);             /* the first crawls' names are no week */
    check_find("CC-MAIN-2019-53/CC-MAIN-2020-05", "CC-MAIN-2020-05"); /* the first valid one */
    check_find("CC-MAIN-2019-35 CC-MAIN-2020-05", "CC-MAIN-2019-35");
    check_find("CC-MAIN-CC-MAIN-2019-35", "CC-MAIN-2019-35");
    check_find("CC-MAIN-2019-3", NULL);
    check_find("", NULL);
    check_find("2019-35", NULL);
}

static void test_doc_time(void **state) {
    (void)state;
    optout_doc_time t;
    const char *dump = "CC-MAIN-2019-35", *date = "2019-08-21T10:00:00Z";
    optout_history_doc_time(dump, strlen(dump), date, strlen(date), &t);
    assert_string_equal(t.crawl, "CC-MAIN-2019-35");
    assert_true(t.has_time && !t.time_from_crawl && t.time == T("2019-08-21T10:00:00Z"));
    optout_history_doc_time(dump, strlen(dump), NULL, 0, &t); /* no date: the crawl's Monday */
    assert_true(t.has_time && t.time_from_crawl && t.time == 1566777600);
    optout_history_doc_time(dump, strlen(dump), "soon", 4, &t); /* a bad date: likewise */
    assert_true(t.has_time && t.time_from_crawl && t.time == 1566777600);
    optout_history_doc_time(NULL, 0, date, strlen(date), &t); /* a date alone: a time, no crawl */
    assert_true(t.has_time && t.crawl[0] == '\0' && t.time == T("2019-08-21T10:00:00Z"));
    optout_history_doc_time("news-2019", 9, "soon", 4, &t); /* neither */
    assert_true(!t.has_time && t.crawl[0] == '\0');
    optout_history_doc_time(NULL, 0, NULL, 0, &t);
    assert_true(!t.has_time && t.crawl[0] == '\0');
}

/* ---- policies ------------------------------------------------------------------------------- */

static void test_policy_names(void **state) {
    (void)state;
    optout_robots_time_spec s;
    const char *names[] = {"current", "crawl", "cutoff", "strictest"};
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) assert_string_equal(optout_robots_time_name(p), names[p]);
    assert_int_equal(optout_robots_time_parse("current", &s), 0);
    assert_int_equal(s.policy, OPTOUT_ROBOTS_TIME_CURRENT);
    assert_int_equal(optout_robots_time_parse("crawl", &s), 0);
    assert_int_equal(s.policy, OPTOUT_ROBOTS_TIME_CRAWL);
    assert_int_equal(optout_robots_time_parse("strictest", &s), 0);
    assert_int_equal(s.policy, OPTOUT_ROBOTS_TIME_STRICTEST);
    assert_int_equal(optout_robots_time_parse("cutoff:2023-08-07", &s), 0);
    assert_int_equal(s.policy, OPTOUT_ROBOTS_TIME_CUTOFF);
    assert_true(s.cutoff == T("2023-08-07"));
    /* the cutoff column: the policy's own day, else the report's */
    assert_true(optout_robots_time_cutoff_day(&s, T("2020-06-01")) == T("2023-08-07"));
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        optout_robots_time_spec other = {.policy = (optout_robots_time)p, .cutoff = T("2019-01-01")};
        assert_true(optout_robots_time_cutoff_day(&other, T("2020-06-01")) ==
                    (p == OPTOUT_ROBOTS_TIME_CUTOFF ? T("2019-01-01") : T("2020-06-01")));
    }
    const char *bad[] = {"cutoff", "cutoff:", "cutoff:2023-8-7", "cutoff:2023-08-07T00:00:00Z", "cutoff:2023-02-30",
                         "Current", "now", "", "crawl ", "cutoff:2023-08-07 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (optout_robots_time_parse(bad[i], &s) != -1) fail_msg("accepted '%s'", bad[i]);
    optout_history_missing m;
    const char *missing[] = {"current", "keep", "remove"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(optout_history_missing_parse(missing[i], &m), 0);
        assert_int_equal(m, i);
        assert_string_equal(optout_history_missing_name(m), missing[i]);
    }
    assert_int_equal(optout_history_missing_parse("drop", &m), -1);
    const char *cov[] = {"same_crawl", "earlier", "none", "no_time"};
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) assert_string_equal(optout_history_coverage_name(c), cov[c]);
}

static optout_agentset set_of(unsigned bits) {
    optout_agentset s;
    optout_agentset_clear(&s);
    for (size_t a = 0; a < 4; a++)
        if (bits & (1u << a)) optout_agentset_add(&s, a);
    return s;
}

static unsigned bits_of(const optout_agentset *s) {
    unsigned b = 0;
    for (size_t a = 0; a < 4; a++)
        if (optout_agentset_has(s, a)) b |= 1u << a;
    return b;
}

/* Every combination of today's agents, the capture's (or none), the document's time against the
 * cutoff and --history-missing, against the definitions written out case by case. */
static void test_combine(void **state) {
    (void)state;
    int64_t cutoff = T("2023-08-07");
    int64_t times[] = {cutoff - 1, cutoff, cutoff + 1};
    for (unsigned now = 0; now < 16; now++)
        for (int has_crawl = 0; has_crawl < 2; has_crawl++)
            for (unsigned then = 0; then < (has_crawl ? 16u : 1u); then++)
                for (int ti = -1; ti < 3; ti++)
                    for (int m = 0; m < 3; m++) {
                        optout_doc_time t = {.has_time = ti >= 0, .time = ti >= 0 ? times[ti] : 0};
                        optout_agentset cur = set_of(now), cap = set_of(then);
                        optout_policy_verdict out[OPTOUT_ROBOTS_TIME_COUNT];
                        optout_history_combine(&cur, has_crawl ? &cap : NULL, &t, cutoff, (optout_history_missing)m,
                                               4, out);
                        /* the crawl side */
                        unsigned cb;
                        int cr;
                        if (has_crawl) {
                            cb = then;
                            cr = then != 0;
                        } else if (m == OPTOUT_MISSING_CURRENT) {
                            cb = now;
                            cr = now != 0;
                        } else {
                            cb = 0;
                            cr = m == OPTOUT_MISSING_REMOVE;
                        }
                        assert_int_equal(out[OPTOUT_ROBOTS_TIME_CURRENT].removed, now != 0);
                        assert_int_equal(bits_of(&out[OPTOUT_ROBOTS_TIME_CURRENT].agents), now);
                        assert_int_equal(out[OPTOUT_ROBOTS_TIME_CRAWL].removed, cr);
                        assert_int_equal(bits_of(&out[OPTOUT_ROBOTS_TIME_CRAWL].agents), cb);
                        int after = ti >= 1; /* on or after the cutoff day */
                        assert_int_equal(out[OPTOUT_ROBOTS_TIME_CUTOFF].removed, after ? now != 0 : cr);
                        assert_int_equal(bits_of(&out[OPTOUT_ROBOTS_TIME_CUTOFF].agents), after ? now : cb);
                        assert_int_equal(out[OPTOUT_ROBOTS_TIME_STRICTEST].removed, now != 0 || cr);
                        assert_int_equal(bits_of(&out[OPTOUT_ROBOTS_TIME_STRICTEST].agents), now | cb);
                    }
}

/* ---- which capture judges ------------------------------------------------------------------- */

#define HTTP OPTOUT_HISTORY_HTTP
#define HTTPS OPTOUT_HISTORY_HTTPS
#define OK OPTOUT_OUTCOME_OK
#define UNAV OPTOUT_OUTCOME_UNAVAILABLE
#define UNREACH OPTOUT_OUTCOME_UNREACHABLE

/* A version with a distinct body per tag (so that a choice can be told by its SHA-256). */
typedef struct {
    const char *host;
    optout_history_origin origin;
    optout_history_scheme scheme;
    const char *crawl;
    int64_t first, last;
    optout_outcome outcome;
    const char *redirect;
    optout_history_scheme rscheme;
    const char *tag; /* the body: "User-agent: *\nDisallow: /TAG\n"; NULL: no body */
} vspec;

static optout_history_mem *build(const vspec *s, size_t n, int order) {
    optout_history_mem *m = optout_history_mem_new();
    assert_non_null(m);
    for (size_t k = 0; k < n; k++) {
        /* order 0: as given; 1: reversed; 2: rotated by one */
        size_t i = order == 0 ? k : order == 1 ? n - 1 - k : (k + 1) % n;
        optout_history_version v = {.origin = s[i].origin, .scheme = s[i].scheme, .first = s[i].first,
                                     .last = s[i].last, .outcome = s[i].outcome, .redirect = s[i].redirect,
                                     .redirect_scheme = s[i].rscheme,
                                     .status = s[i].redirect ? 301 : s[i].outcome == OK ? 200 : 503};
        snprintf(v.crawl, sizeof v.crawl, "%s", s[i].crawl ? s[i].crawl : "");
        char body[128];
        int bl = s[i].tag ? snprintf(body, sizeof body, "User-agent: *\nDisallow: /%s\n", s[i].tag) : 0;
        assert_int_equal(optout_history_mem_add(m, s[i].host, &v, s[i].tag ? body : NULL, (size_t)bl), 0);
    }
    return m;
}

static const char *tag_of(const optout_history_version *v) {
    static const char *tags[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "t1", "t2"};
    static char found[8];
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char body[128], hex[65];
        int bl = snprintf(body, sizeof body, "User-agent: *\nDisallow: /%s\n", tags[i]);
        optout_sha256_hex(body, (size_t)bl, hex);
        if (strcmp(hex, v->sha256) == 0) {
            snprintf(found, sizeof found, "%s", tags[i]);
            return found;
        }
    }
    return "?";
}

/* Selects for host/scheme at the document's (crawl, time) under each of the three list orders and
 * checks the capture chosen (by tag of the capture, and of the final version after redirects). */
static void expect(const vspec *s, size_t n, const char *host, optout_history_scheme scheme, const char *crawl,
                   int64_t time, int64_t max_age, optout_history_coverage cov, const char *capture_tag,
                   const char *final_tag, optout_outcome outcome, unsigned hops) {
    for (int order = 0; order < 3; order++) {
        optout_history_mem *m = build(s, n, order);
        optout_history_source src = optout_history_mem_source(m);
        optout_doc_time t = {.has_time = 1, .time = time};
        snprintf(t.crawl, sizeof t.crawl, "%s", crawl ? crawl : "");
        optout_history_pick p;
        char err[256] = "";
        assert_int_equal(optout_history_select(&src, host, strlen(host), scheme, &t, max_age, &p, err, sizeof err), 0);
        if (p.coverage != cov) fail_msg("order %d: coverage %s, want %s", order, optout_history_coverage_name(p.coverage),
                                        optout_history_coverage_name(cov));
        if (!capture_tag) {
            assert_null(p.capture);
            assert_null(p.final);
        } else {
            assert_non_null(p.capture);
            if (strcmp(tag_of(p.capture), capture_tag) != 0 && !(p.capture->redirect && capture_tag[0] == '>'))
                fail_msg("order %d: capture %s, want %s", order, tag_of(p.capture), capture_tag);
            if (capture_tag[0] == '>' && strcmp(p.capture->redirect, capture_tag + 1) != 0)
                fail_msg("order %d: redirect to %s, want %s", order, p.capture->redirect, capture_tag + 1);
            if (final_tag && strcmp(tag_of(p.final), final_tag) != 0)
                fail_msg("order %d: final %s, want %s", order, tag_of(p.final), final_tag);
            assert_int_equal(p.outcome, outcome);
            assert_int_equal(p.hops, hops);
        }
        optout_history_mem_free(m);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define C19 "CC-MAIN-2019-35"
#define C20 "CC-MAIN-2020-05"
#define CC OPTOUT_HISTORY_CC
#define WB OPTOUT_HISTORY_WAYBACK
#define YEAR (365 * (int64_t)DAY)

static void test_select_same_crawl(void **state) {
    (void)state;
    int64_t d = 1000 * DAY; /* the document's time */
    vspec s[] = {
        {"h", CC, HTTPS, C19, d - 3 * DAY, d - 2 * DAY, OK, NULL, 0, "a"},
        {"h", CC, HTTPS, C19, d - DAY, d - DAY, OK, NULL, 0, "b"},       /* the latest at or before */
        {"h", CC, HTTPS, C19, d + DAY, d + 2 * DAY, OK, NULL, 0, "c"},   /* after */
        {"h", CC, HTTP, C19, d, d, OK, NULL, 0, "d"},                    /* the other scheme, nearer */
        {"h", CC, HTTPS, C20, d - 100, d - 100, OK, NULL, 0, "e"},       /* another crawl, nearer */
    };
    expect(s, N(s), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "b", "b", OK, 0);
    expect(s, N(s), "h", HTTP, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "d", "d", OK, 0);
    /* a version spanning the time counts as at or before it */
    expect(s, N(s), "h", HTTPS, C19, d - 2 * DAY - 5, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    /* before every capture of the scheme: its first in the crawl */
    expect(s, N(s), "h", HTTPS, C19, d - 10 * DAY, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    /* only the other scheme later than the document: still the crawl (its first) */
    vspec s2[] = {{"h", CC, HTTP, C19, d + DAY, d + 3 * DAY, OK, NULL, 0, "a"},
                  {"h", CC, HTTP, C19, d + 5 * DAY, d + 5 * DAY, OK, NULL, 0, "b"},
                  {"h", CC, HTTPS, C20, d - DAY, d - DAY, OK, NULL, 0, "c"}};
    expect(s2, N(s2), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    /* the other scheme at or before beats its later ones */
    vspec s3[] = {{"h", CC, HTTP, C19, d - 5 * DAY, d - 5 * DAY, OK, NULL, 0, "a"},
                  {"h", CC, HTTP, C19, d - DAY, d - DAY, OK, NULL, 0, "b"},
                  {"h", CC, HTTP, C19, d + DAY, d + DAY, OK, NULL, 0, "c"}};
    expect(s3, N(s3), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "b", "b", OK, 0);
    /* the exact time is "at or before" */
    expect(s3, N(s3), "h", HTTP, C19, d + DAY, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "c", "c", OK, 0);
}

static void test_select_unreachable(void **state) {
    (void)state;
    int64_t d = 1000 * DAY;
    /* an unreachable capture is set aside when the crawl has another: even of the other scheme */
    vspec s[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, UNREACH, NULL, 0, NULL},
                 {"h", CC, HTTPS, C19, d - 3 * DAY, d - 3 * DAY, UNREACH, NULL, 0, NULL},
                 {"h", CC, HTTP, C19, d + DAY, d + DAY, OK, NULL, 0, "a"}};
    expect(s, N(s), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    /* an unavailable (4xx) one is not set aside */
    vspec s2[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, UNAV, NULL, 0, "b"},
                  {"h", CC, HTTPS, C19, d - 3 * DAY, d - 3 * DAY, UNREACH, NULL, 0, "c"},
                  {"h", CC, HTTPS, C19, d - 5 * DAY, d - 5 * DAY, OK, NULL, 0, "a"}};
    expect(s2, N(s2), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "b", "b", UNAV, 0);
    expect(s2, N(s2), "h", HTTPS, C19, d - 2 * DAY, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    /* all unreachable: kept (the latest at or before) */
    vspec s3[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, UNREACH, NULL, 0, "a"},
                  {"h", CC, HTTPS, C19, d - 3 * DAY, d - 3 * DAY, UNREACH, NULL, 0, "b"},
                  {"h", CC, HTTP, C19, d, d, OK, NULL, 0, "c"}, /* another crawl's would not count */
                  {"h", CC, HTTPS, C20, d, d, OK, NULL, 0, "d"}};
    expect(s3, 2, "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", UNREACH, 0);
    vspec s4[] = {s3[0], s3[1], s3[3]};
    expect(s4, N(s4), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", UNREACH, 0);
    /* step 2 does not set unreachable ones aside */
    expect(s4, N(s4), "h", HTTPS, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "d", "d", OK, 0);
    expect(s4, 2, "h", HTTPS, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "a", "a", UNREACH, 0);
}

static void test_select_earlier(void **state) {
    (void)state;
    int64_t d = 2000 * DAY;
    vspec s[] = {
        {"h", CC, HTTPS, C19, d - 400 * DAY, d - 366 * DAY, OK, NULL, 0, "a"}, /* too old by a day */
        {"h", CC, HTTP, C19, d - 300 * DAY, d - 200 * DAY, OK, NULL, 0, "b"},  /* other scheme, newer */
        {"h", WB, HTTPS, "", d - 380 * DAY, d - 365 * DAY, OK, NULL, 0, "c"},  /* exactly max age: in */
        {"h", CC, HTTPS, C20, d + DAY, d + 9 * DAY, OK, NULL, 0, "d"},         /* after the document */
    };
    /* a document of a crawl the host has no capture in */
    expect(s, N(s), "h", HTTPS, "CC-MAIN-2021-04", d, YEAR, OPTOUT_COVERAGE_EARLIER, "c", "c", OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "c", "c", OK, 0);
    expect(s, N(s), "h", HTTP, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "b", "b", OK, 0);
    /* a smaller max age leaves the other scheme's */
    expect(s, N(s), "h", HTTPS, NULL, d, 300 * DAY, OPTOUT_COVERAGE_EARLIER, "b", "b", OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d, 200 * DAY, OPTOUT_COVERAGE_EARLIER, "b", "b", OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d, 200 * DAY - 1, OPTOUT_COVERAGE_NONE, NULL, NULL, OK, 0);
    /* a version spanning the time is "at or before" (age 0), and the latest by min(last, time) */
    expect(s, N(s), "h", HTTPS, NULL, d + 5 * DAY, YEAR, OPTOUT_COVERAGE_EARLIER, "d", "d", OK, 0);
    /* the document's own crawl wins over an earlier, nearer capture */
    expect(s, N(s), "h", HTTPS, C20, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "d", "d", OK, 0);
    /* an age past any range is "any age", a negative one 0 (a version spanning the time only) */
    expect(s, N(s), "h", HTTPS, NULL, d, INT64_MAX, OPTOUT_COVERAGE_EARLIER, "c", "c", OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d + 5 * DAY, -5, OPTOUT_COVERAGE_EARLIER, "d", "d", OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d + 600 * DAY, YEAR, OPTOUT_COVERAGE_NONE, NULL, NULL, OK, 0);
    expect(s, N(s), "h", HTTPS, NULL, d + 600 * DAY, INT64_MAX, OPTOUT_COVERAGE_EARLIER, "d", "d", OK, 0);
    /* before everything */
    expect(s, N(s), "h", HTTPS, NULL, d - 500 * DAY, YEAR, OPTOUT_COVERAGE_NONE, NULL, NULL, OK, 0);
    /* unknown host */
    expect(s, N(s), "x", HTTPS, C20, d, YEAR, OPTOUT_COVERAGE_NONE, NULL, NULL, OK, 0);
    /* ties in time: the later last, then Common Crawl before Wayback */
    vspec t[] = {{"h", WB, HTTPS, "", d - 10 * DAY, d - 2 * DAY, OK, NULL, 0, "a"},
                 {"h", CC, HTTPS, C19, d - 9 * DAY, d - 2 * DAY, OK, NULL, 0, "b"},
                 {"h", CC, HTTPS, C19, d - 20 * DAY, d - 3 * DAY, OK, NULL, 0, "c"}};
    expect(t, N(t), "h", HTTPS, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "b", "b", OK, 0);
    vspec t2[] = {{"h", WB, HTTPS, "", d - 10 * DAY, d - 2 * DAY, OK, NULL, 0, "a"},
                  {"h", CC, HTTPS, C19, d - 9 * DAY, d - 3 * DAY, OK, NULL, 0, "b"}};
    expect(t2, N(t2), "h", HTTPS, NULL, d, YEAR, OPTOUT_COVERAGE_EARLIER, "a", "a", OK, 0);
}

static void test_select_no_time(void **state) {
    (void)state;
    vspec s[] = {{"h", CC, HTTPS, C19, 10, 20, OK, NULL, 0, "a"}};
    optout_history_mem *m = build(s, 1, 0);
    optout_history_source src = optout_history_mem_source(m);
    optout_doc_time t = {0};
    optout_history_pick p;
    char err[128];
    assert_int_equal(optout_history_select(&src, "h", 1, HTTPS, &t, YEAR, &p, err, sizeof err), 0);
    assert_int_equal(p.coverage, OPTOUT_COVERAGE_NO_TIME);
    assert_null(p.capture);
    optout_history_mem_free(m);
}

static void test_select_redirects(void **state) {
    (void)state;
    int64_t d = 1000 * DAY;
    vspec s[] = {
        /* h's https capture redirects to www.h's; the target was captured 2 s later */
        {"h", CC, HTTPS, C19, d - DAY, d - DAY, OK, "www.h", HTTPS, NULL},
        {"www.h", CC, HTTPS, C19, d - 5 * DAY, d - 4 * DAY, OK, NULL, 0, "a"}, /* before the redirect */
        {"www.h", CC, HTTPS, C19, d - DAY + 2, d - DAY + 2, OK, NULL, 0, "b"}, /* nearest after */
        {"www.h", CC, HTTPS, C19, d + 3 * DAY, d + 3 * DAY, OK, NULL, 0, "c"},
        {"www.h", CC, HTTP, C19, d - DAY + 1, d - DAY + 1, OK, NULL, 0, "d"},   /* wrong scheme */
        {"www.h", CC, HTTPS, C20, d - DAY + 1, d - DAY + 1, OK, NULL, 0, "e"},  /* wrong crawl */
        {"www.h", WB, HTTPS, "", d - DAY + 1, d - DAY + 1, OK, NULL, 0, "f"},   /* wrong source */
    };
    expect(s, N(s), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">www.h", "b", OK, 1);
    /* a target version spanning the redirect's time holds the nearest capture after it */
    vspec s2[] = {{"h", CC, HTTP, C19, d - DAY, d - DAY, OK, "h", HTTPS, NULL},
                  {"h", CC, HTTPS, C19, d - 5 * DAY, d + DAY, OK, NULL, 0, "a"},
                  {"h", CC, HTTPS, C19, d + 2 * DAY, d + 2 * DAY, OK, NULL, 0, "b"}};
    expect(s2, N(s2), "h", HTTP, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">h", "a", OK, 1);
    /* unresolved (the target has only earlier captures): no capture; the crawl's other one decides */
    vspec s3[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, OK, "www.h", HTTPS, NULL},
                  {"h", CC, HTTPS, C19, d - 9 * DAY, d - 9 * DAY, UNAV, NULL, 0, "c"},
                  {"www.h", CC, HTTPS, C19, d - 5 * DAY, d - 4 * DAY, OK, NULL, 0, "a"}};
    expect(s3, N(s3), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "c", "c", UNAV, 0);
    /* ... and with nothing else in the crawl, step 2 (another crawl) */
    vspec s4[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, OK, "nowhere", HTTPS, NULL},
                  {"h", CC, HTTPS, C20, d - 9 * DAY, d - 9 * DAY, OK, NULL, 0, "c"}};
    expect(s4, N(s4), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_EARLIER, "c", "c", OK, 0);
    expect(s4, 1, "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_NONE, NULL, NULL, OK, 0);
    /* a redirect to an unreachable target counts as unreachable (set aside) */
    vspec s5[] = {{"h", CC, HTTPS, C19, d - DAY, d - DAY, OK, "www.h", HTTPS, NULL},
                  {"www.h", CC, HTTPS, C19, d - DAY + 5, d - DAY + 5, UNREACH, NULL, 0, NULL},
                  {"h", CC, HTTP, C19, d - 2 * DAY, d - 2 * DAY, OK, NULL, 0, "a"}};
    expect(s5, N(s5), "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, "a", "a", OK, 0);
    expect(s5, 2, "h", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">www.h", NULL, UNREACH, 1);
}

static void test_select_redirect_hops(void **state) {
    (void)state;
    int64_t d = 1000 * DAY;
    /* h0 -> h1 -> ... -> h5 (5 hops) ends at h5's body; h0' -> ... -> h6 (6 hops) is unavailable */
    vspec s[16];
    static char names[8][4];
    size_t n = 0;
    for (int i = 0; i < 7; i++) snprintf(names[i], sizeof names[i], "h%d", i);
    for (int i = 0; i < 6; i++)
        s[n++] = (vspec){names[i], CC, HTTPS, C19, d - DAY + i, d - DAY + i, OK, names[i + 1], HTTPS, NULL};
    s[n++] = (vspec){names[6], CC, HTTPS, C19, d - DAY + 6, d - DAY + 6, OK, NULL, 0, "t2"};
    expect(s, n, "h1", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">h2", "t2", OK, 5);
    expect(s, n, "h0", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">h1", NULL, UNAV, 5);
    /* a loop: unavailable, not a hang */
    vspec loop[] = {{"a", CC, HTTPS, C19, d - DAY, d - 1, OK, "b", HTTPS, NULL},
                    {"b", CC, HTTPS, C19, d - DAY, d - 1, OK, "a", HTTPS, NULL}};
    expect(loop, N(loop), "a", HTTPS, C19, d, YEAR, OPTOUT_COVERAGE_SAME_CRAWL, ">b", NULL, UNAV, 5);
}

/* ---- the judge ------------------------------------------------------------------------------ */

static void test_judge(void **state) {
    (void)state;
    optout_agents *agents = optout_agents_new();
    assert_int_equal(optout_agents_add(agents, "GPTBot", 6), 0);
    assert_int_equal(optout_agents_add(agents, "CCBot", 5), 0);
    optout_history_mem *m = optout_history_mem_new();
    int64_t d = 1000 * DAY;
    const char *b1 = "User-agent: GPTBot\nDisallow: /private\n";
    const char *b2 = "User-agent: *\nDisallow: /\n";
    optout_history_version v = {.origin = CC, .scheme = HTTPS, .crawl = C19, .first = d - DAY, .last = d - DAY,
                                .status = 200, .outcome = OK};
    assert_int_equal(optout_history_mem_add(m, "h", &v, b1, strlen(b1)), 0);
    v.first = v.last = d + DAY;
    assert_int_equal(optout_history_mem_add(m, "h", &v, b2, strlen(b2)), 0);
    optout_history_version u = {.origin = CC, .scheme = HTTPS, .crawl = C19, .first = d, .last = d, .status = 503,
                                .outcome = UNREACH};
    assert_int_equal(optout_history_mem_add(m, "u", &u, NULL, 0), 0);
    optout_history_version e = {.origin = CC, .scheme = HTTPS, .crawl = C19, .first = d, .last = d, .status = 200,
                                .outcome = OK}; /* ok without a body: allows everything */
    assert_int_equal(optout_history_mem_add(m, "e", &e, NULL, 0), 0);
    optout_history_version lost = e;
    snprintf(lost.sha256, sizeof lost.sha256, "%064d", 0); /* a body the source does not have */
    assert_int_equal(optout_history_mem_add(m, "lost", &lost, NULL, 0), 0);
    optout_history_source src = optout_history_mem_source(m);
    char err[256];
    for (int strict = 0; strict < 2; strict++) {
        optout_history_judge *j = optout_history_judge_new(&src, agents, OPTOUT_MODE_RFC9309, strict, YEAR, 1);
        assert_non_null(j);
        optout_doc_time t = {.has_time = 1, .time = d};
        snprintf(t.crawl, sizeof t.crawl, C19);
        optout_history_pick p;
        optout_agentset set;
        const char *u1 = "https://h/private/x", *u2 = "https://h/public";
        for (int round = 0; round < 2; round++) { /* the second from the cache (size 1: evicted and back) */
            assert_int_equal(optout_history_judge_doc(j, "h", 1, u1, strlen(u1), &t, &p, &set, err, sizeof err), 1);
            assert_int_equal(bits_of(&set), 1);
            assert_non_null(optout_history_judge_rules(j));
            assert_int_equal(optout_history_judge_doc(j, "h", 1, u2, strlen(u2), &t, &p, &set, err, sizeof err), 1);
            assert_int_equal(bits_of(&set), 0);
            optout_doc_time later = t;
            later.time = d + 2 * DAY;
            assert_int_equal(optout_history_judge_doc(j, "h", 1, u2, strlen(u2), &later, &p, &set, err, sizeof err), 1);
            assert_int_equal(bits_of(&set), 3);
        }
        assert_int_equal(optout_history_judge_doc(j, "u", 1, "http://u/", 9, &t, &p, &set, err, sizeof err), 1);
        assert_int_equal(bits_of(&set), strict ? 3u : 0u);
        assert_null(optout_history_judge_rules(j));
        assert_int_equal(optout_history_judge_doc(j, "e", 1, "http://e/", 9, &t, &p, &set, err, sizeof err), 1);
        assert_int_equal(bits_of(&set), 0);
        assert_int_equal(optout_history_judge_doc(j, "none", 4, "http://none/", 12, &t, &p, &set, err, sizeof err), 0);
        assert_int_equal(p.coverage, OPTOUT_COVERAGE_NONE);
        assert_int_equal(bits_of(&set), 0);
        assert_int_equal(optout_history_judge_doc(j, "lost", 4, "http://lost/", 12, &t, &p, &set, err, sizeof err), -1);
        assert_non_null(strstr(err, "SHA-256"));
        optout_history_judge_free(j);
    }
    optout_history_mem_free(m);
    optout_agents_free(agents);
}

static void test_url_scheme(void **state) {
    (void)state;
    assert_int_equal(optout_history_url_scheme("https://a/", 10), HTTPS);
    assert_int_equal(optout_history_url_scheme("HTTPS://a/", 10), HTTPS);
    assert_int_equal(optout_history_url_scheme("http://a/", 9), HTTP);
    assert_int_equal(optout_history_url_scheme("ftp://a/", 8), HTTP);
    assert_int_equal(optout_history_url_scheme("https:", 6), HTTP);
    assert_int_equal(optout_history_url_scheme("httpsx://a/", 11), HTTP);
}

/* ---- by_policy statistics ------------------------------------------------------------------- */

/* Adds document i (facts and history facts made up from i) under every policy, as the filter does. */
static void add_doc(optout_stats_policy *s, int i) {
    optout_agentset sets[OPTOUT_ROBOTS_TIME_COUNT];
    optout_doc_facts f = {.cls = (optout_class)(i % 3), .year = 2015 + i % 4, .bytes = 10u * i, .chars = 9u * i,
                          .tokens = 100u + i};
    static const char *const CRAWLS[] = {"CC-MAIN-2019-35", "CC-MAIN-2020-05", ""};
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        sets[p] = set_of((unsigned)(i + p) % 4);
        optout_doc_facts pf = f;
        pf.removed = (i + p) % 4 != 0;
        pf.disallowed = pf.removed ? &sets[p] : NULL;
        optout_stats_add_doc(&s->policy[p], 2, &pf);
    }
    optout_doc_time t = {.has_time = i % 5 != 0, .time_from_crawl = i % 7 == 0};
    snprintf(t.crawl, sizeof t.crawl, "%s", CRAWLS[i % 3]);
    optout_agentset same = set_of((unsigned)i % 3);
    optout_policy_doc d = {.coverage = (optout_history_coverage)(i % OPTOUT_COVERAGE_COUNT),
                           .removed_crawl = (i + 1) % 4 != 0, .time = &t,
                           .same_crawl = i % OPTOUT_COVERAGE_COUNT == 0 ? &same : NULL, .ccbot = i % 6 == 0};
    optout_stats_policy_add_judged(s, 2, &f, &d);
}

static char *json_of(const optout_stats_policy *s, const optout_agents *agents) {
    char *j = optout_stats_policy_json(s, agents);
    assert_non_null(j);
    return j;
}

static void test_stats_policy(void **state) {
    (void)state;
    optout_agents *agents = optout_agents_new();
    assert_int_equal(optout_agents_add(agents, "GPTBot", 6), 0);
    assert_int_equal(optout_agents_add(agents, "CCBot", 5), 0);
    optout_stats_policy *all = malloc(sizeof *all), *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_true(all && a && b);
    int64_t cutoff = T("2023-08-07");
    optout_stats_policy_init(all, OPTOUT_ROBOTS_TIME_CRAWL, cutoff, OPTOUT_MISSING_KEEP, 30 * DAY);
    optout_stats_policy_init(a, OPTOUT_ROBOTS_TIME_CRAWL, cutoff, OPTOUT_MISSING_KEEP, 30 * DAY);
    optout_stats_policy_init(b, OPTOUT_ROBOTS_TIME_CRAWL, cutoff, OPTOUT_MISSING_KEEP, 30 * DAY);
    for (int i = 1; i <= 40; i++) {
        add_doc(all, i);
        add_doc(i % 2 ? a : b, i);
    }
    optout_stats_policy_merge(a, b, 2); /* two shards sum to one */
    char *ja = json_of(a, agents), *jall = json_of(all, agents);
    assert_string_equal(ja, jall);
    /* counted by hand: coverage of i = 1..40 by i % 4; tokens per crawl; CCBot (i % 6 == 0) */
    uint64_t cov_docs[4] = {0}, crawl_tokens = 0, same_tokens = 0, cc_docs = 0, cc_tokens = 0;
    for (int i = 1; i <= 40; i++) {
        cov_docs[i % 4]++;
        if (i % 3 == 0) crawl_tokens += 100u + i; /* CC-MAIN-2019-35 */
        if (i % 3 == 0 && i % 4 == 0) same_tokens += 100u + i;
        if (i % 6 == 0) cc_docs++, cc_tokens += 100u + i;
    }
    for (int c = 0; c < 4; c++) assert_true(all->coverage[c].docs_in == cov_docs[c]);
    assert_true(all->crawl_count == 2);
    assert_string_equal(all->crawls[0].name, "CC-MAIN-2020-05"); /* i = 1 comes first */
    assert_string_equal(all->crawls[1].name, "CC-MAIN-2019-35");
    assert_true(all->crawls[1].tokens == crawl_tokens && all->crawls[1].tokens_same_crawl == same_tokens);
    assert_true(all->ccbot_docs == cc_docs && all->ccbot_tokens == cc_tokens);
    assert_non_null(strstr(jall, "\"chosen\": \"crawl\", \"cutoff\": \"2023-08-07\", \"history_missing\": \"keep\", "
                                 "\"history_max_age_days\": 30"));
    /* tokens recovered: current's removed tokens minus each policy's, signed */
    int64_t rec = (int64_t)all->policy[0].total.tokens_removed - (int64_t)all->policy[2].total.tokens_removed;
    char want[128];
    snprintf(want, sizeof want, "\"cutoff\": %lld,", (long long)rec);
    assert_non_null(strstr(jall, want));
    /* the Markdown: the chosen policy marked, a negative recovery with a minus sign */
    optout_stats_policy_init(b, OPTOUT_ROBOTS_TIME_STRICTEST, cutoff, OPTOUT_MISSING_REMOVE, 365 * DAY);
    optout_doc_facts f = {.cls = OPTOUT_CLASS_EN, .year = 2020, .tokens = 1234};
    optout_stats_add_doc(&b->policy[OPTOUT_ROBOTS_TIME_CURRENT], 2, &f);
    f.removed = 1;
    optout_stats_add_doc(&b->policy[OPTOUT_ROBOTS_TIME_STRICTEST], 2, &f);
    optout_host_loss now[2] = {{.host = "a.example", .docs_removed = 1, .tokens_removed = 100},
                               {.host = "b.example", .docs_removed = 1, .tokens_removed = 50}};
    optout_host_loss then[3] = {{.host = "b.example", .docs_removed = 2, .tokens_removed = 80},
                                {.host = "c.example", .docs_removed = 1, .tokens_removed = 10},
                                {.host = "d.example", .docs_removed = 1, .tokens_removed = 7}};
    optout_stats_add_host_losses(&b->policy[OPTOUT_ROBOTS_TIME_CURRENT], now, 2);
    optout_stats_add_host_losses(&b->policy[OPTOUT_ROBOTS_TIME_CRAWL], then, 3);
    optout_host_loss same = {.host = "d.example", .docs_removed = 1, .tokens_removed = 7};
    optout_stats_add_host_losses(&b->policy[OPTOUT_ROBOTS_TIME_CURRENT], &same, 1);
    char *md = NULL;
    size_t mdlen = 0;
    FILE *m = open_memstream(&md, &mdlen);
    assert_int_equal(optout_stats_policy_write_md(m, b, agents), 0);
    fclose(m);
    assert_non_null(strstr(md, "| strictest (chosen) | 1 | 0 | 1,234 | 100.00% | −1,234 |"));
    assert_non_null(strstr(md, "| current | 0 | 0 | 0 | 0.00% | 0 |"));
    /* the hosts that changed most, largest change first; an unchanged one (d) is not listed */
    const char *rows = "| a.example | 100 | 0 | −100 |\n| b.example | 50 | 80 | 30 |\n| c.example | 0 | 10 | 10 |\n\n";
    assert_non_null(strstr(md, rows));
    assert_null(strstr(md, "d.example"));
    free(md);
    free(ja);
    free(jall);
    free(all);
    free(a);
    free(b);
    optout_agents_free(agents);
}

static void test_policy_chart(void **state) {
    (void)state;
    optout_agents *agents = optout_agents_new();
    assert_int_equal(optout_agents_add(agents, "A&B", 3), 0);
    assert_int_equal(optout_agents_add(agents, "<C>", 3), 0);
    optout_stats_policy *s = calloc(1, sizeof *s);
    assert_non_null(s);
    /* two crawls out of order, one without a same-crawl capture (not charted) */
    s->crawl_count = 3;
    snprintf(s->crawls[0].name, sizeof s->crawls[0].name, "CC-MAIN-2021-04");
    s->crawls[0].tokens_same_crawl = 200, s->crawls[0].tokens_disallowed[0] = 50, s->crawls[0].tokens_disallowed_any = 50;
    snprintf(s->crawls[1].name, sizeof s->crawls[1].name, "CC-MAIN-2019-35");
    s->crawls[1].tokens_same_crawl = 400, s->crawls[1].tokens_disallowed[0] = 4, s->crawls[1].tokens_disallowed_any = 8;
    snprintf(s->crawls[2].name, sizeof s->crawls[2].name, "CC-MAIN-2020-05");
    s->crawls[2].tokens = 99;
    char *svg = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&svg, &len);
    assert_int_equal(optout_stats_policy_write_svg(m, s, agents), 0);
    fclose(m);
    assert_non_null(strstr(svg, "<g class=\"series\" data-agent=\"A&amp;B\">"));
    assert_null(strstr(svg, "<C>"));            /* escaped everywhere, and no series: it disallowed nothing */
    assert_null(strstr(svg, "&lt;C&gt;"));
    assert_null(strstr(svg, "CC-MAIN-2020-05")); /* no same-crawl capture: not a point */
    /* crawl order, then the shares: 1% and 25% for A&B, 2% and 25% for any agent; the scale is 0-25% */
    const char *a1 = strstr(svg, "data-share=\"1.0000\"><title>A&amp;B, CC-MAIN-2019-35: 1.00%</title>");
    const char *a2 = strstr(svg, "data-share=\"25.0000\"><title>A&amp;B, CC-MAIN-2021-04: 25.00%</title>");
    assert_true(a1 && a2 && a1 < a2);
    assert_non_null(strstr(svg, "data-share=\"2.0000\"><title>any agent, CC-MAIN-2019-35: 2.00%</title>"));
    assert_non_null(strstr(svg, ">25%</text>"));
    free(svg);
    free(s);
    optout_agents_free(agents);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),         cmocka_unit_test(test_crawl_monday),
        cmocka_unit_test(test_find_crawl),         cmocka_unit_test(test_doc_time),
        cmocka_unit_test(test_policy_names),       cmocka_unit_test(test_combine),
        cmocka_unit_test(test_select_same_crawl),  cmocka_unit_test(test_select_unreachable),
        cmocka_unit_test(test_select_earlier),     cmocka_unit_test(test_select_no_time),
        cmocka_unit_test(test_select_redirects),   cmocka_unit_test(test_select_redirect_hops),
        cmocka_unit_test(test_judge),              cmocka_unit_test(test_url_scheme),
        cmocka_unit_test(test_stats_policy),       cmocka_unit_test(test_policy_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
