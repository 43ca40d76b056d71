/* test_verdicts.c — verdict sources (include/optout/verdicts.h): the robots directory and Redis.
 *
 * Usage: test_verdicts [dir|redis [ROBOTS_DIR]]   (no argument: both groups)
 *   ROBOTS_DIR (or $OPTOUT_TEST_ROBOTS_DIR): a real robots directory loaded into Redis and compared
 *   host by host with the directory source; skipped when absent.
 *
 * The Redis tests start a private redis-server per test (unix socket in a temporary directory,
 * `--port 0 --save '' --appendonly no --maxmemory-policy noeviction`) and kill it afterwards; the
 * server is also killed if this process dies (PR_SET_PDEATHSIG). The binary is $OPTOUT_REDIS_SERVER,
 * else the first redis-server on PATH, /usr/bin or /usr/sbin; without one the Redis group is skipped
 * with a message (exit 77 when only that group was asked for).
 *
 * The yardstick of the Redis source is the directory source: a directory loaded into Redis must
 * give, host by host, the same outcome and the same verdicts for a set of URLs (both matching
 * modes). A few verdicts are also checked absolutely, so that two empty answers cannot agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <zstd.h>

#include "optout/agents.h"
#include "optout/archive.h"
#include "optout/util.h"
#include "optout/robots.h"
#include "optout/verdicts.h"

#include "../support/cmocka_check.h"
#include "../support/redis_server.h"
#include "../support/testdir.h"

/* ---- helpers ------------------------------------------------------------------------------- */


static optout_agents *agents;
static int gptbot, ccbot, star; /* agent indices in the default list */


static void put(const char *dir, const char *name, const void *body, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(body, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void puts_(const char *dir, const char *name, const char *body) { put(dir, name, body, strlen(body)); }

static const char *new_dir(const char *name) {
    const char *p = tpath("%s", name);
    if (mkdir(p, 0700) != 0) assert_int_equal(errno, EEXIST);
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the test robots directories ----------------------------------------------------------- */

struct expect {
    const char *host;
    optout_outcome outcome;
};

/* Keys of the small directory (files and index.tsv) and hosts it has no record of. */
static const struct expect SMALL[] = {
    {"example.com", OPTOUT_OUTCOME_OK},
    {"shop.example:8080", OPTOUT_OUTCOME_OK},
    {"www.site.org", OPTOUT_OUTCOME_OK}, /* www.site.org_443 */
    {"mixed.case.net", OPTOUT_OUTCOME_OK},
    {"bin.example", OPTOUT_OUTCOME_OK},
    {"empty.example", OPTOUT_OUTCOME_OK},
    {"flaky.example", OPTOUT_OUTCOME_UNREACHABLE}, /* a file, but index.tsv says unreachable */
    {"port.example:99", OPTOUT_OUTCOME_OK},
    {"gone.example", OPTOUT_OUTCOME_UNAVAILABLE},
    {"nxdomain.example", OPTOUT_OUTCOME_NO_SUCH_HOST},
    {"notranked.example", OPTOUT_OUTCOME_NOT_RANKED},
    {"norobots.example", OPTOUT_OUTCOME_NO_ROBOTS},
    {"www.upper.example", OPTOUT_OUTCOME_UNAVAILABLE},
    {"absent.example", OPTOUT_OUTCOME_NO_ROBOTS}, /* from here: no record */
    {"example.com:8080", OPTOUT_OUTCOME_NO_ROBOTS},
    {"port.example", OPTOUT_OUTCOME_NO_ROBOTS},
    {"shop.example", OPTOUT_OUTCOME_NO_ROBOTS},
};
#define SMALL_COUNT (sizeof SMALL / sizeof SMALL[0])
#define SMALL_RECORDS 13 /* hosts with a record */
#define SMALL_FILES 8

static const char *const URLS[] = {
    "/",          "/private",        "/private/ok", "/private/x",  "/admin",       "/admin/public/a",
    "/x",         "/x?q=1",          "/doc.pdf",    "/doc.pdf?x",  "/a%00b",       "/%FF%FE",
    "/g",         "/g/h",            "/p",          "/p/q",        "/robots.txt",  "http://example.com/private/x",
    "/Private/x", "/admin/public",   "/a",          "/%7Eadmin",   "/admin%2Fx",   "/anything?private",
    "/search?q=x", "/wp-admin/",     "/api/v1/x",   "/cart",       "/login",       "/tag/a/page/2",
    "/index.html", "/?s=1",          "/cgi-bin/x",  "/en/about",   "/user/1/edit", "/static/a.js",
};
#define URL_COUNT (sizeof URLS / sizeof URLS[0])

static const char BIN_BODY[] = "User-agent: *\r\nDisallow: /a\0b\nDisallow: /\xff\xfe\n\x00\x01\x02junk\n"
                               "User-agent: GPTBot\r\nDisallow: /g\n";

static void build_small(const char *d) {
    puts_(d, "example.com",
          "User-agent: GPTBot\nDisallow: /private\nAllow: /private/ok\n\nUser-agent: *\nDisallow: /admin\n"
          "Allow: /admin/public\n");
    puts_(d, "shop.example_8080", "User-agent: CCBot\nDisallow: /\n");
    puts_(d, "www.site.org_443", "User-agent: *\nDisallow: /x$\nDisallow: /*.pdf$\n");
    puts_(d, "Mixed.Case.NET", "User-agent: ClaudeBot\nUser-agent: Google-Extended\nDisallow: /\n");
    put(d, "bin.example", BIN_BODY, sizeof BIN_BODY - 1);
    puts_(d, "empty.example", "");
    puts_(d, "flaky.example_80", "User-agent: *\nDisallow: /\n");
    puts_(d, "port.example_99", "User-agent: *\nDisallow: /p\n");
    puts_(d, "index.tsv",
          "# host\toutcome\tstatus\tfetched_at\tsha256\n"
          "example.com\tok\t200\t2025-01-01T00:00:00Z\t-\n"
          "flaky.example\tunreachable\t503\t2025-01-01T00:00:00Z\t-\n"
          "\n"
          "gone.example\tunavailable\t404\t2025-01-01T00:00:00Z\t-\n"
          "nxdomain.example\tno_such_host\t0\t2025-01-01T00:00:00Z\t-\n"
          "notranked.example\tnot_ranked\n"
          "norobots.example\tno_robots\t404\r\n"
          "WWW.Upper.Example_443\tunavailable\t410\t2025-01-01T00:00:00Z\t-\n");
}

static const char *small_dir(void) {
    const char *d = tpath("small");
    struct stat st;
    if (stat(d, &st) != 0) {
        new_dir("small");
        build_small(d);
    }
    return d;
}

/* n hosts "e<i>.example", each disallowing "/h<i>/" for every agent. */
static const char *numbered_dir(const char *name, int n) {
    const char *d = tpath("%s", name);
    struct stat st;
    if (stat(d, &st) == 0) return d;
    new_dir(name);
    for (int i = 0; i < n; i++) {
        char fname[64], body[128];
        snprintf(fname, sizeof fname, "e%d.example", i);
        snprintf(body, sizeof body, "User-agent: *\nDisallow: /h%d/\n", i);
        puts_(d, fname, body);
    }
    return d;
}

/* ---- comparing two sources ----------------------------------------------------------------- */

static void same_verdicts(optout_verdicts *a, optout_verdicts *b, const char *host) {
    char err[1024] = "";
    optout_verdict va, vb;
    int ra = optout_verdicts_lookup(a, host, strlen(host), &va, err, sizeof err);
    CHECK(ra == 1, "%s: first source: %d %s", host, ra, err);
    int rb = optout_verdicts_lookup(b, host, strlen(host), &vb, err, sizeof err);
    CHECK(rb == 1, "%s: second source: %d %s", host, rb, err);
    CHECK(va.outcome == vb.outcome, "%s: outcome %s vs %s", host, optout_outcome_name(va.outcome),
          optout_outcome_name(vb.outcome));
    CHECK((va.rules == NULL) == (vb.rules == NULL), "%s: rules present in one source only", host);
    CHECK((va.rules != NULL) == (va.outcome == OPTOUT_OUTCOME_OK), "%s: rules iff ok", host);
    if (!va.rules) return;
    for (size_t i = 0; i < URL_COUNT; i++) {
        optout_agentset sa, sb;
        size_t na = optout_robots_check(va.rules, URLS[i], strlen(URLS[i]), &sa);
        size_t nb = optout_robots_check(vb.rules, URLS[i], strlen(URLS[i]), &sb);
        CHECK(na == nb && memcmp(&sa, &sb, sizeof sa) == 0, "%s %s: %zu vs %zu agents disallowed", host, URLS[i], na,
              nb);
    }
}

/* Outcome of host (lookup must give a record). */
static optout_outcome outcome_of(optout_verdicts *v, const char *host, const optout_robots **rules) {
    char err[1024] = "";
    optout_verdict out;
    int rc = optout_verdicts_lookup(v, host, strlen(host), &out, err, sizeof err);
    CHECK(rc == 1, "%s: lookup gave %d: %s", host, rc, err);
    if (rules) *rules = out.rules;
    return out.outcome;
}

static int disallowed(const optout_robots *r, const char *url, int agent) {
    optout_agentset s;
    optout_robots_check(r, url, strlen(url), &s);
    return optout_agentset_has(&s, (size_t)agent);
}

/* Absolute checks on the small directory, whatever the source. */
static void small_absolute(optout_verdicts *v) {
    const optout_robots *r;
    assert_int_equal(outcome_of(v, "example.com", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/private/x", gptbot));
    assert_false(disallowed(r, "/private/ok", gptbot));
    assert_false(disallowed(r, "/private/x", ccbot));
    assert_true(disallowed(r, "/admin", star));
    assert_false(disallowed(r, "/admin/public/a", star));
    assert_int_equal(outcome_of(v, "shop.example:8080", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/", ccbot));
    assert_false(disallowed(r, "/", gptbot));
    assert_int_equal(outcome_of(v, "bin.example", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/g", gptbot)); /* the group after the NUL bytes */
    assert_false(disallowed(r, "/g", ccbot));
    assert_int_equal(outcome_of(v, "www.site.org", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/doc.pdf", star));
    assert_false(disallowed(r, "/doc.pdf?x", star));
    assert_int_equal(outcome_of(v, "empty.example", &r), OPTOUT_OUTCOME_OK);
    assert_int_equal(optout_robots_allows_everything(r), 1);
    assert_int_equal(outcome_of(v, "flaky.example", &r), OPTOUT_OUTCOME_UNREACHABLE);
    assert_null(r);
}

static void all_same(optout_verdicts *a, optout_verdicts *b) {
    for (size_t i = 0; i < SMALL_COUNT; i++) same_verdicts(a, b, SMALL[i].host);
}

static void expect_outcomes(optout_verdicts *v) {
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        const optout_robots *r;
        optout_outcome o = outcome_of(v, SMALL[i].host, &r);
        CHECK(o == SMALL[i].outcome, "%s: %s, expected %s", SMALL[i].host, optout_outcome_name(o),
              optout_outcome_name(SMALL[i].outcome));
        CHECK((r != NULL) == (o == OPTOUT_OUTCOME_OK), "%s: rules iff ok", SMALL[i].host);
    }
}

static optout_verdicts *open_dir_ok(const char *dir, optout_robots_mode mode, size_t max_cached) {
    char err[1024] = "";
    optout_verdicts *v = optout_verdicts_open_dir(dir, agents, mode, max_cached, err, sizeof err);
    CHECK(v != NULL, "open_dir %s: %s", dir, err);
    return v;
}

/* ---- directory source ---------------------------------------------------------------------- */

static void test_dir_outcomes(void **state) {
    (void)state;
    optout_verdicts *v = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(optout_verdicts_dir_hosts(v), SMALL_FILES);
    expect_outcomes(v);
    small_absolute(v);
    optout_verdicts_free(v);
}

static void test_dir_without_index(void **state) {
    (void)state;
    const char *d = new_dir("noindex");
    puts_(d, "a.example", "User-agent: *\nDisallow: /\n");
    puts_(d, "b.example_443", "");
    optout_verdicts *v = open_dir_ok(d, OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(optout_verdicts_dir_hosts(v), 2);
    const optout_robots *r;
    assert_int_equal(outcome_of(v, "a.example", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/x", star));
    assert_int_equal(outcome_of(v, "b.example", &r), OPTOUT_OUTCOME_OK);
    assert_int_equal(outcome_of(v, "c.example", &r), OPTOUT_OUTCOME_NO_ROBOTS);
    assert_null(r);
    optout_verdicts_free(v);
}

static void test_dir_host_keys(void **state) {
    (void)state;
    const char *d = new_dir("keys");
    puts_(d, "a.example_80", "User-agent: *\nDisallow: /a\n");
    puts_(d, "b.example_443", "User-agent: *\nDisallow: /b\n");
    puts_(d, "c.example_8443", "User-agent: *\nDisallow: /c\n");
    puts_(d, "D.Example", "User-agent: *\nDisallow: /d\n");
    puts_(d, "e.example_123456", "User-agent: *\nDisallow: /e\n"); /* not a port: 6 digits */
    puts_(d, "f_x.example", "User-agent: *\nDisallow: /f\n");
    puts_(d, "[::1]_8080", "User-agent: *\nDisallow: /v6\n");
    puts_(d, ".hidden", "User-agent: *\nDisallow: /\n");
    optout_verdicts *v = open_dir_ok(d, OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(optout_verdicts_dir_hosts(v), 7);
    static const struct {
        const char *host, *url;
    } cases[] = {{"a.example", "/a"},          {"b.example", "/b"}, {"c.example:8443", "/c"},
                 {"d.example", "/d"},          {"e.example_123456", "/e"}, {"f_x.example", "/f"},
                 {"[::1]:8080", "/v6"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const optout_robots *r;
        CHECK(outcome_of(v, cases[i].host, &r) == OPTOUT_OUTCOME_OK, "%s", cases[i].host);
        CHECK(disallowed(r, cases[i].url, star), "%s %s", cases[i].host, cases[i].url);
        CHECK(!disallowed(r, "/zzz", star), "%s", cases[i].host);
    }
    static const char *const none[] = {"a.example:80", "b.example:443", "c.example", "c.example_8443",
                                       "D.Example",    "e.example",     ".hidden",   "[::1]"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        CHECK(outcome_of(v, none[i], NULL) == OPTOUT_OUTCOME_NO_ROBOTS, "%s", none[i]);
    optout_verdicts_free(v);
}

static void test_dir_two_files_one_key(void **state) {
    (void)state;
    static const char *const pairs[][2] = {{"dup.example", "dup.example_443"},
                                           {"dup.example", "DUP.Example"},
                                           {"dup.example_80", "dup.example_443"},
                                           {"dup.example_8080", "Dup.Example_8080"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "dup%zu", i);
        const char *d = new_dir(name);
        puts_(d, pairs[i][0], "");
        puts_(d, pairs[i][1], "");
        char err[1024] = "";
        optout_verdicts *v = optout_verdicts_open_dir(d, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err);
        CHECK(v == NULL, "%s + %s accepted", pairs[i][0], pairs[i][1]);
        CHECK(strstr(err, pairs[i][0]) && strstr(err, pairs[i][1]) && strstr(err, "are both for host dup.example"),
              "%s", err);
    }
}

static void test_dir_index_errors(void **state) {
    (void)state;
    static const struct {
        const char *index, *msg;
    } cases[] = {
        {"a.example\tok\nno tab here\n", "index.tsv:2: expected HOST<TAB>OUTCOME"},
        {"# c\na.example\tbogus\t200\n", "index.tsv:2: expected HOST<TAB>OUTCOME"},
        {"z.example\tok\t200\n", "index.tsv:1: z.example is 'ok' but has no robots.txt file"},
        {"\tunavailable\n", "index.tsv:1: empty or overlong host"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "badindex%zu", i);
        const char *d = new_dir(name);
        puts_(d, "a.example", "");
        puts_(d, "index.tsv", cases[i].index);
        char err[1024] = "";
        optout_verdicts *v = optout_verdicts_open_dir(d, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err);
        CHECK(v == NULL, "case %zu accepted", i);
        CHECK(strstr(err, cases[i].msg) != NULL, "case %zu: %s", i, err);
    }
    char err[1024] = "";
    assert_null(optout_verdicts_open_dir(tpath("no-such-dir"), agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    assert_non_null(strstr(err, "no-such-dir"));
}

static void check_numbered(optout_verdicts *v, int i) {
    char host[32], own[32], other[32];
    snprintf(host, sizeof host, "e%d.example", i);
    snprintf(own, sizeof own, "/h%d/x", i);
    snprintf(other, sizeof other, "/h%d/x", i + 1);
    const optout_robots *r;
    CHECK(outcome_of(v, host, &r) == OPTOUT_OUTCOME_OK, "%s", host);
    CHECK(disallowed(r, own, star), "%s %s", host, own);
    CHECK(!disallowed(r, other, star), "%s %s", host, other);
}

static void passes_over_numbered(optout_verdicts *v, int n) {
    for (int i = 0; i < n; i++) check_numbered(v, i);
    for (int i = n - 1; i >= 0; i--) check_numbered(v, i);
    for (int k = 0; k < 3 * n; k++) check_numbered(v, (k * 3) % n);
    for (int k = 0; k < 2 * n; k++) check_numbered(v, k % 3 == 0 ? 0 : k % n); /* a hot host */
}

static void test_dir_eviction(void **state) {
    (void)state;
    const char *d = numbered_dir("ten", 10);
    optout_verdicts *v = open_dir_ok(d, OPTOUT_MODE_RFC9309, 2);
    passes_over_numbered(v, 10);
    optout_verdicts_free(v);
    v = open_dir_ok(d, OPTOUT_MODE_PROTEGO, 1);
    passes_over_numbered(v, 10);
    optout_verdicts_free(v);
}

static void test_dir_file_vanishes(void **state) {
    (void)state;
    const char *d = new_dir("vanish");
    puts_(d, "gone.example", "User-agent: *\nDisallow: /\n");
    optout_verdicts *v = open_dir_ok(d, OPTOUT_MODE_RFC9309, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/gone.example", d);
    assert_int_equal(unlink(path), 0);
    char err[1024] = "";
    optout_verdict out;
    assert_int_equal(optout_verdicts_lookup(v, "gone.example", 12, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "gone.example"));
    optout_verdicts_free(v);
}

static int lookup_rc(optout_verdicts *v, const char *host, char *err, size_t errlen) {
    optout_verdict out;
    return optout_verdicts_lookup(v, host, strlen(host), &out, err, errlen);
}

/* ---- archive source ------------------------------------------------------------------------ */

/* The small directory's records as a fetch would archive them (file: the body's file there). */
static const struct {
    const char *host, *file;
    optout_outcome outcome;
    long status;
} ARCH[] = {
    {"example.com", "example.com", OPTOUT_OUTCOME_OK, 200},
    {"shop.example:8080", "shop.example_8080", OPTOUT_OUTCOME_OK, 200},
    {"www.site.org", "www.site.org_443", OPTOUT_OUTCOME_OK, 200},
    {"mixed.case.net", "Mixed.Case.NET", OPTOUT_OUTCOME_OK, 200},
    {"bin.example", "bin.example", OPTOUT_OUTCOME_OK, 200},
    {"flaky.example", NULL, OPTOUT_OUTCOME_UNREACHABLE, 503},
    {"empty.example", "empty.example", OPTOUT_OUTCOME_OK, 200},
    {"port.example:99", "port.example_99", OPTOUT_OUTCOME_OK, 200},
    {"gone.example", NULL, OPTOUT_OUTCOME_UNAVAILABLE, 404},
    {"nxdomain.example", NULL, OPTOUT_OUTCOME_NO_SUCH_HOST, 0},
    {"www.upper.example", NULL, OPTOUT_OUTCOME_UNAVAILABLE, 410},
};
#define ARCH_COUNT (sizeof ARCH / sizeof ARCH[0])
#define ARCH_SPLIT 6 /* records [0, 6) in pack "p1", the rest in "p2" */

static int in_archive(const char *host) {
    for (size_t i = 0; i < ARCH_COUNT; i++)
        if (strcmp(ARCH[i].host, host) == 0) return 1;
    return 0;
}

/* Writes records [from, to) of ARCH into pack NAME of archive directory dir. */
static void write_pack(const char *dir, const char *name, size_t from, size_t to) {
    char err[1024] = "";
    optout_archive_writer *w = optout_archive_create(dir, name, 0, err, sizeof err);
    CHECK(w != NULL, "archive_create: %s", err);
    for (size_t i = from; i < to; i++) {
        optout_fetch_result r;
        memset(&r, 0, sizeof r);
        r.host = ARCH[i].host;
        r.outcome = ARCH[i].outcome;
        r.status = ARCH[i].status;
        r.fetched_at = 1735689600;
        r.attempts = 1;
        r.final_url = "";
        r.error = ARCH[i].outcome == OPTOUT_OUTCOME_OK ? "" : "failed";
        char *body = NULL;
        if (ARCH[i].file) {
            body = optout_read_file(tpath("small/%s", ARCH[i].file), 1 << 20, &r.body_len);
            assert_non_null(body);
            r.body = body;
        }
        CHECK(optout_archive_append(w, &r, err, sizeof err) == 0, "archive_append: %s", err);
        free(body);
    }
    CHECK(optout_archive_close(w, 0, err, sizeof err) == 0, "archive_close: %s", err);
}

/* The small directory as an archive of two packs, in tmpdir/NAME. */
static const char *small_archive(const char *name) {
    small_dir();
    const char *d = tpath("%s", name);
    write_pack(d, "p1", 0, ARCH_SPLIT);
    write_pack(d, "p2", ARCH_SPLIT, ARCH_COUNT);
    return d;
}

static optout_verdicts *open_archive_ok(const char *dir, optout_robots_mode mode, size_t max_cached) {
    char err[1024] = "";
    optout_verdicts *v = optout_verdicts_open_archive(dir, agents, mode, max_cached, err, sizeof err);
    CHECK(v != NULL, "open_archive %s: %s", dir, err);
    return v;
}

/* Every small host: in the archive, what the directory says; else not ranked. */
static void archive_like_dir(optout_verdicts *d, optout_verdicts *a) {
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        if (in_archive(SMALL[i].host)) {
            same_verdicts(d, a, SMALL[i].host);
            continue;
        }
        const optout_robots *r = (const optout_robots *)1;
        optout_outcome o = outcome_of(a, SMALL[i].host, &r);
        CHECK(o == OPTOUT_OUTCOME_NOT_RANKED, "%s: %s, expected not_ranked", SMALL[i].host, optout_outcome_name(o));
        assert_null(r);
    }
}

static void test_archive_source(void **state) {
    (void)state;
    const char *ad = small_archive("arch");
    for (int mode = OPTOUT_MODE_RFC9309; mode <= OPTOUT_MODE_PROTEGO; mode++) {
        optout_verdicts *d = open_dir_ok(small_dir(), (optout_robots_mode)mode, 0);
        for (size_t cached = 0; cached <= 2; cached++) { /* 0: the default; 1, 2: eviction at work */
            optout_verdicts *a = open_archive_ok(ad, (optout_robots_mode)mode, cached);
            assert_int_equal(optout_verdicts_archive_hosts(a), ARCH_COUNT);
            assert_int_equal(optout_verdicts_archive_hosts(d), 0);
            archive_like_dir(d, a);
            archive_like_dir(d, a); /* from the cache, or compiled again */
            small_absolute(a);
            assert_int_equal(outcome_of(a, "unknown.example", NULL), OPTOUT_OUTCOME_NOT_RANKED);
            assert_int_equal(outcome_of(a, "gone.example", NULL), OPTOUT_OUTCOME_UNAVAILABLE);
            assert_int_equal(outcome_of(a, "nxdomain.example", NULL), OPTOUT_OUTCOME_NO_SUCH_HOST);
            optout_verdicts_free(a);
        }
        optout_verdicts_free(d);
    }
    /* a missing archive is an error; so is a directory that holds no pack (empty, or a robots
     * directory): it would answer "not ranked" for every host */
    char err[1024] = "";
    assert_null(optout_verdicts_open_archive(tpath("no-archive"), agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, "no-archive") && strstr(err, "No such file"), "%s", err);
    const char *empty = new_dir("empty-archive");
    assert_null(optout_verdicts_open_archive(empty, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, empty) && strstr(err, "not a fetch archive"), "%s", err);
    char robots_txt[4200];
    snprintf(robots_txt, sizeof robots_txt, "%s/example.com", empty);
    FILE *f = fopen(robots_txt, "w");
    assert_non_null(f);
    fputs("User-agent: *\nDisallow: /\n", f);
    fclose(f);
    assert_null(optout_verdicts_open_archive(empty, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, "not a fetch archive"), "%s", err);
    /* a pack without a host (a fetch part that had none) is an archive: not ranked for every host */
    char err2[1024];
    optout_archive_writer *w = optout_archive_create(tpath("hostless"), "part-0", 0, err2, sizeof err2);
    assert_non_null(w);
    assert_int_equal(optout_archive_close(w, 1, err2, sizeof err2), 0);
    optout_verdicts *a = open_archive_ok(tpath("hostless"), OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(optout_verdicts_archive_hosts(a), 0);
    assert_int_equal(outcome_of(a, "example.com", NULL), OPTOUT_OUTCOME_NOT_RANKED);
    optout_verdicts_free(a);
}

static void test_archive_errors(void **state) {
    (void)state;
    char err[1024] = "";
    /* a host in two packs */
    const char *ad = small_archive("arch-dup");
    write_pack(ad, "p3", ARCH_COUNT - 1, ARCH_COUNT);
    assert_null(optout_verdicts_open_archive(ad, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, "www.upper.example") && strstr(err, "pack p2") && strstr(err, "pack p3"), "%s", err);
    /* twice in one pack */
    ad = tpath("arch-dup1");
    write_pack(ad, "only", 0, 2);
    write_pack(ad, "tmp", 1, 2);
    {
        /* append p "tmp"'s line to "only": shop.example:8080 twice in pack "only" */
        size_t a_len, b_len;
        char *a = optout_read_file(tpath("arch-dup1/only.tsv"), 1 << 20, &a_len);
        char *b = optout_read_file(tpath("arch-dup1/tmp.tsv"), 1 << 20, &b_len);
        assert_non_null(a);
        assert_non_null(b);
        const char *line = strchr(b, '\n') + 1;
        FILE *f = fopen(tpath("arch-dup1/only.tsv"), "ab");
        assert_non_null(f);
        fputs(line, f);
        fclose(f);
        free(a);
        free(b);
        assert_int_equal(unlink(tpath("arch-dup1/tmp.tsv")), 0);
    }
    assert_null(optout_verdicts_open_archive(ad, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, "shop.example:8080") && strstr(err, "pack only and in pack only (line 4)"), "%s", err);
    /* a malformed line names pack and line */
    ad = tpath("arch-bad");
    write_pack(ad, "p", 0, 1);
    FILE *f = fopen(tpath("arch-bad/p.tsv"), "ab");
    assert_non_null(f);
    fputs("x.example\tok\n", f);
    fputs("y.example\tok\n", f);
    fclose(f);
    assert_null(optout_verdicts_open_archive(ad, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, "p.tsv:3"), "%s", err);
    /* a corrupt body: the lookup fails naming file and host, other hosts still answer */
    ad = small_archive("arch-corrupt");
    size_t len;
    char *bodies = optout_read_file(tpath("arch-corrupt/p1.bodies.zst"), 1 << 20, &len);
    assert_non_null(bodies);
    bodies[len - 2] ^= 0x01; /* inside the last frame of p1: bin.example's */
    f = fopen(tpath("arch-corrupt/p1.bodies.zst"), "wb");
    fwrite(bodies, 1, len, f);
    fclose(f);
    free(bodies);
    optout_verdicts *a = open_archive_ok(ad, OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(lookup_rc(a, "bin.example", err, sizeof err), -1);
    CHECK(strstr(err, "p1.bodies.zst") && strstr(err, "bin.example"), "%s", err);
    assert_int_equal(outcome_of(a, "example.com", NULL), OPTOUT_OUTCOME_OK);
    assert_int_equal(outcome_of(a, "www.upper.example", NULL), OPTOUT_OUTCOME_UNAVAILABLE);
    optout_verdicts_free(a);
}

/* ---- a private redis-server ---------------------------------------------------------------- */

static struct test_server srv;
#define PREFIX "optout:test:0123abcd:"

static int setup_redis(void **state) {
    (void)state;
    return test_server_setup(&srv, NULL, NULL);
}

static int setup_redis_auth(void **state) {
    (void)state;
    return test_server_setup(&srv, NULL, "s3cret pass");
}

static int setup_redis_acl(void **state) {
    (void)state;
    return test_server_setup(&srv, "optout-reader", "acl-s3cret");
}

static int teardown_redis(void **state) {
    (void)state;
    test_server_stop(&srv, SIGTERM);
    return 0;
}

/* A command on the test's server (for tampering with the store). The reply must be freed. */
static redisReply *cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = test_server_vcommand(&srv, fmt, ap);
    va_end(ap);
    return r;
}

static void cmd_ok(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = test_server_vcommand(&srv, fmt, ap);
    va_end(ap);
    CHECK(r->type != REDIS_REPLY_ERROR, "%s: %s", fmt, r->str);
    freeReplyObject(r);
}

static long load(const char *prefix, const char *dir) {
    char err[1024] = "";
    long n = optout_verdicts_load_redis(srv.endpoint, srv.user, srv.password, prefix, dir, err, sizeof err);
    CHECK(n >= 0, "load %s: %s", dir, err);
    return n;
}

static optout_verdicts *open_redis_ok(const char *prefix, optout_robots_mode mode, size_t max_cached) {
    char err[1024] = "";
    optout_verdicts *v =
        optout_verdicts_open_redis(srv.endpoint, srv.user, srv.password, prefix, agents, mode, max_cached, err,
                                   sizeof err);
    CHECK(v != NULL, "open_redis: %s", err);
    return v;
}

/* Opening must fail with a message holding `expect`; returns nothing. */
static void open_redis_fails_as(const char *user, const char *password, const char *prefix, const char *expect) {
    char err[1024] = "";
    optout_verdicts *v = optout_verdicts_open_redis(srv.endpoint, user, password, prefix, agents, OPTOUT_MODE_RFC9309,
                                                    0, err, sizeof err);
    CHECK(v == NULL, "open_redis succeeded, expected '%s'", expect);
    CHECK(strstr(err, expect) != NULL, "'%s' lacks '%s'", err, expect);
    if (password) CHECK(strstr(err, password) == NULL, "the password is in the message: %s", err);
}

static void open_redis_fails(const char *password, const char *prefix, const char *expect) {
    open_redis_fails_as(NULL, password, prefix, expect);
}

/* Every small host in one prefetch. */
static void prefetch_small(optout_verdicts *v) {
    const char *hosts[SMALL_COUNT];
    size_t lens[SMALL_COUNT];
    for (size_t i = 0; i < SMALL_COUNT; i++) hosts[i] = SMALL[i].host, lens[i] = strlen(SMALL[i].host);
    char err[1024] = "";
    int rc = optout_verdicts_prefetch(v, hosts, lens, SMALL_COUNT, err, sizeof err);
    CHECK(rc == 0, "prefetch: %s", err);
}

/* ---- Redis source -------------------------------------------------------------------------- */

/* An ok record holding exactly `body`: stored as one zstd frame (outcome byte | 0x80), since
 * bodies of 64 bytes or more go in compressed when that is smaller. */
static void assert_redis_body(const redisReply *r, const char *body, size_t len) {
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal((unsigned char)r->str[0], OPTOUT_OUTCOME_OK | 0x80);
    assert_true((size_t)r->len - 1 < len);
    char *plain = malloc(len + 1);
    size_t got = ZSTD_decompress(plain, len + 1, r->str + 1, (size_t)r->len - 1);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, len);
    assert_memory_equal(plain, body, len);
    free(plain);
}

static void test_redis_same_as_dir(void **state) {
    (void)state;
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS); /* idempotent */
    redisReply *r = cmd("GET %s", PREFIX "h:shop.example:8080");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 1 + strlen("User-agent: CCBot\nDisallow: /\n"));
    assert_int_equal(r->str[0], OPTOUT_OUTCOME_OK);
    freeReplyObject(r);
    r = cmd("GET %s", PREFIX "h:bin.example"); /* binary-safe: every byte of the body */
    assert_redis_body(r, BIN_BODY, sizeof BIN_BODY - 1);
    freeReplyObject(r);
    r = cmd("GET %s", PREFIX "h:flaky.example"); /* not ok: no body */
    assert_int_equal(r->len, 1);
    assert_int_equal(r->str[0], OPTOUT_OUTCOME_UNREACHABLE);
    freeReplyObject(r);
    r = cmd("MGET %s %s %s", PREFIX "planned", PREFIX "complete", PREFIX "absent");
    assert_string_equal(r->element[0]->str, "13");
    assert_string_equal(r->element[1]->str, "13");
    assert_string_equal(r->element[2]->str, "no_robots");
    freeReplyObject(r);

    for (int mode = OPTOUT_MODE_RFC9309; mode <= OPTOUT_MODE_PROTEGO; mode++) {
        optout_verdicts *d = open_dir_ok(small_dir(), (optout_robots_mode)mode, 0);
        optout_verdicts *v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 0);
        assert_int_equal(optout_verdicts_dir_hosts(v), 0);
        all_same(d, v); /* from Redis */
        all_same(d, v); /* from the cache */
        expect_outcomes(v);
        small_absolute(v);
        optout_verdicts_free(v);
        /* the same through one prefetch */
        v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 0);
        prefetch_small(v);
        all_same(d, v);
        optout_verdicts_free(v);
        optout_verdicts_free(d);
    }
}

static void test_redis_prefetch_1000(void **state) {
    (void)state;
    const char *d = numbered_dir("fivehundred", 500);
    assert_int_equal(load(PREFIX, d), 500);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    enum { N = 1000 };
    char names[N][32];
    const char *hosts[N + 3];
    size_t lens[N + 3];
    for (int i = 0; i < N; i++) {
        if (i % 2) snprintf(names[i], sizeof names[i], "e%d.example", i / 2); /* in the store */
        else snprintf(names[i], sizeof names[i], "a%d.example", i / 2);      /* no record */
        hosts[i] = names[i];
        lens[i] = strlen(names[i]);
    }
    hosts[N] = hosts[N + 1] = "e7.example", lens[N] = lens[N + 1] = 10; /* duplicates */
    hosts[N + 2] = "e8.example", lens[N + 2] = 10;
    char err[1024] = "";
    check_numbered(v, 8); /* already cached: skipped */
    double t0 = now_s();
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, N + 3, err, sizeof err), 0);
    double t1 = now_s();
    print_message("prefetch of %d hosts: %.1f ms\n", N, (t1 - t0) * 1e3);
    /* Redis gone: what follows must come from the cache */
    test_server_stop(&srv, SIGKILL);
    for (int i = 0; i < N; i++) {
        if (i % 2) check_numbered(v, i / 2);
        else CHECK(outcome_of(v, names[i], NULL) == OPTOUT_OUTCOME_NO_ROBOTS, "%s", names[i]);
    }
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, N, err, sizeof err), 0); /* all cached */
    optout_verdicts_free(v);
}

/* optout_verdicts_redis_complete's answer, with its message containing `want` (NULL: none checked). */
static void complete_is(int expected, const char *want) {
    char err[1024] = "";
    assert_int_equal(optout_verdicts_redis_complete(srv.endpoint, srv.user, srv.password, PREFIX, err, sizeof err),
                     expected);
    if (want) assert_non_null(strstr(err, want));
}

static void test_redis_incomplete(void **state) {
    (void)state;
    open_redis_fails(NULL, PREFIX, "Redis store under " PREFIX " is incomplete (complete none of none)");
    complete_is(0, "is incomplete (complete none of none)");
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    complete_is(1, NULL);
    cmd_ok("DEL %s", PREFIX "complete");
    open_redis_fails(NULL, PREFIX, "Redis store under " PREFIX " is incomplete (complete none of 13)");
    complete_is(0, "is incomplete (complete none of 13)");
    cmd_ok("SET %s 12", PREFIX "complete");
    open_redis_fails(NULL, PREFIX, "is incomplete (complete 12 of 13)");
    complete_is(0, "(complete 12 of 13)");
    cmd_ok("SET %s 13", PREFIX "complete");
    complete_is(1, NULL);
    char unreachable[256] = "";
    assert_int_equal(optout_verdicts_redis_complete("unix:/nonexistent/redis.sock", NULL, NULL, PREFIX, unreachable,
                                                    sizeof unreachable), -1); /* Redis cannot be asked */
    assert_non_null(strstr(unreachable, "cannot connect"));
    open_redis_fails(NULL, "optout:other:", "Redis store under optout:other: is incomplete (complete none of none)");

    /* A store that becomes incomplete under an open source: records still answer, a miss does not. */
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(outcome_of(v, "example.com", NULL), OPTOUT_OUTCOME_OK);
    cmd_ok("DEL %s", PREFIX "complete");
    char err[1024] = "";
    assert_int_equal(outcome_of(v, "example.com", NULL), OPTOUT_OUTCOME_OK);       /* cached */
    assert_int_equal(outcome_of(v, "gone.example", NULL), OPTOUT_OUTCOME_UNAVAILABLE); /* a record */
    assert_int_equal(lookup_rc(v, "absent.example", err, sizeof err), -1);
    assert_non_null(strstr(err, "is incomplete (complete none of 13)"));
    assert_non_null(strstr(err, srv.endpoint));
    assert_non_null(strstr(err, "absent.example"));
    const char *hosts[] = {"absent.example", "port.example:99"};
    size_t lens[] = {14, 15};
    err[0] = '\0';
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "is incomplete"));
    cmd_ok("SET %s 13", PREFIX "complete");
    assert_int_equal(outcome_of(v, "absent.example", NULL), OPTOUT_OUTCOME_NO_ROBOTS);
    /* a reload over an open source: "complete" goes first, so nothing looks complete half-way */
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    assert_int_equal(outcome_of(v, "absent2.example", NULL), OPTOUT_OUTCOME_NO_ROBOTS);
    optout_verdicts_free(v);
}

static void test_redis_absent_error(void **state) {
    (void)state;
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    cmd_ok("SET %s error", PREFIX "absent");
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    char err[1024] = "";
    for (size_t i = 0; i < SMALL_RECORDS; i++) same_verdicts(d, v, SMALL[i].host);
    for (size_t i = SMALL_RECORDS; i < SMALL_COUNT; i++) {
        for (int again = 0; again < 2; again++) {
            int rc = lookup_rc(v, SMALL[i].host, err, sizeof err);
            CHECK(rc == 0, "%s: %d %s", SMALL[i].host, rc, err);
        }
    }
    const char *hosts[] = {"absent.example", "norobots.example", "missing.example"};
    size_t lens[] = {14, 16, 15};
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, 3, err, sizeof err), 0);
    assert_int_equal(lookup_rc(v, "missing.example", err, sizeof err), 0);
    assert_int_equal(outcome_of(v, "norobots.example", NULL), OPTOUT_OUTCOME_NO_ROBOTS);
    cmd_ok("DEL %s", PREFIX "complete");
    assert_int_equal(lookup_rc(v, "missing.example", err, sizeof err), -1);
    assert_non_null(strstr(err, "is incomplete (complete none of 13)"));
    optout_verdicts_free(v);
    optout_verdicts_free(d);

    cmd_ok("SET %s 13", PREFIX "complete");
    cmd_ok("SET %s maybe", PREFIX "absent");
    open_redis_fails(NULL, PREFIX, "'absent' is 'maybe' (expected no_robots, not_ranked or error)");
    cmd_ok("DEL %s", PREFIX "absent");
    open_redis_fails(NULL, PREFIX, "'absent' is missing");
}

static void test_redis_corrupt(void **state) {
    (void)state;
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    cmd_ok("SET %s %b", PREFIX "h:bad.example", "\x09User-agent: *", (size_t)14);
    cmd_ok("SET %s %b", PREFIX "h:empty-value.example", "", (size_t)0);
    cmd_ok("SET %s %b", PREFIX "h:body.example", "\x02<html>404</html>", (size_t)17);
    cmd_ok("SET %s %b", PREFIX "h:ff.example", "\xff", (size_t)1);
    cmd_ok("HSET %s a b", PREFIX "h:hash.example");
    cmd_ok("SET %s %b", PREFIX "h:fine.example", "\x03", (size_t)1);
    cmd_ok("SET %s %b", PREFIX "h:notzstd.example", "\x80User-agent: *", (size_t)14);
    static const char frame[] = "\x80\x28\xb5\x2f\xfd\x20\x05\x29\x00\x00hello"; /* content size 5, cut */
    cmd_ok("SET %s %b", PREFIX "h:cutzstd.example", frame, (size_t)11);
    cmd_ok("SET %s %b", PREFIX "h:zbody.example", "\x82\x28\xb5\x2f\xfd", (size_t)5);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    static const struct {
        const char *host, *msg;
    } cases[] = {
        {"bad.example", "corrupt record for bad.example in Redis at"},
        {"bad.example", "unknown outcome byte 0x09"},
        {"empty-value.example", "(empty value)"},
        {"body.example", "outcome unavailable with a 16-byte body"},
        {"ff.example", "unknown outcome byte 0xff"},
        {"hash.example", "WRONGTYPE"},
        {"notzstd.example", "not one zstd frame of a known size"},
        {"cutzstd.example", "does not decompress"},
        {"zbody.example", "outcome unavailable with a 4-byte body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024] = "";
        int rc = lookup_rc(v, cases[i].host, err, sizeof err);
        CHECK(rc == -1, "%s: %d", cases[i].host, rc);
        CHECK(strstr(err, cases[i].msg) != NULL, "%s: %s", cases[i].host, err);
        /* the connection stays in step: the next answer is the right one */
        assert_int_equal(outcome_of(v, "fine.example", NULL), OPTOUT_OUTCOME_UNREACHABLE);
        assert_int_equal(outcome_of(v, "nxdomain.example", NULL), OPTOUT_OUTCOME_NO_SUCH_HOST);
    }
    const char *hosts[] = {"example.com", "bad.example", "www.site.org"};
    size_t lens[] = {11, 11, 12};
    char err[1024] = "";
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown outcome byte 0x09"));
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    all_same(d, v);
    optout_verdicts_free(d);
    optout_verdicts_free(v);

    /* bad completeness keys */
    cmd_ok("SET %s many", PREFIX "planned");
    open_redis_fails(NULL, PREFIX, "'planned' / 'complete' are not counts");
}

static void test_redis_auth(void **state) {
    (void)state;
    char err[1024] = "";
    assert_int_equal(optout_verdicts_load_redis(srv.endpoint, NULL, NULL, PREFIX, small_dir(), err, sizeof err), -1);
    assert_non_null(strstr(err, "NOAUTH"));
    assert_non_null(strstr(err, srv.endpoint));
    err[0] = '\0';
    assert_int_equal(
        optout_verdicts_load_redis(srv.endpoint, NULL, "wrong horse", PREFIX, small_dir(), err, sizeof err), -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_null(strstr(err, "wrong horse"));
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);

    open_redis_fails(NULL, PREFIX, "NOAUTH");
    open_redis_fails("wrong horse", PREFIX, "authentication failed");
    assert_int_equal(optout_verdicts_redis_complete(srv.endpoint, NULL, NULL, PREFIX, err, sizeof err), -1);
    assert_int_equal(optout_verdicts_redis_complete(srv.endpoint, NULL, "wrong horse", PREFIX, err, sizeof err), -1);
    assert_null(strstr(err, "wrong horse"));
    assert_int_equal(optout_verdicts_redis_complete(srv.endpoint, NULL, srv.password, PREFIX, err, sizeof err), 1);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    same_verdicts(d, v, "example.com");
    /* a restart: the reconnect authenticates again */
    test_server_stop(&srv, SIGKILL);
    test_server_start(&srv, 0);
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    all_same(d, v);
    optout_verdicts_free(v);
    optout_verdicts_free(d);
}

/* An ACL user (Redis 6): AUTH user password, also after a reconnect; the default user is off, so
 * the password alone, no AUTH or another user fail, without the password in the message. */
static void test_redis_acl_user(void **state) {
    (void)state;
    char err[1024] = "";
    assert_int_equal(optout_verdicts_load_redis(srv.endpoint, NULL, srv.password, PREFIX, small_dir(), err, sizeof err),
                     -1);
    CHECK(strstr(err, "authentication failed") && !strstr(err, srv.password), "%s", err);
    assert_int_equal(
        optout_verdicts_load_redis(srv.endpoint, "nobody", srv.password, PREFIX, small_dir(), err, sizeof err), -1);
    CHECK(strstr(err, "authentication of user 'nobody' failed") && !strstr(err, srv.password), "%s", err);
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);

    open_redis_fails(NULL, PREFIX, "NOAUTH");
    open_redis_fails(srv.password, PREFIX, "authentication failed");
    open_redis_fails_as(srv.user, "wrong horse", PREFIX, "authentication of user 'optout-reader' failed");
    open_redis_fails_as("nobody", srv.password, PREFIX, "authentication of user 'nobody' failed");
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    all_same(d, v);
    /* a restart: the reconnect authenticates as the user again */
    test_server_stop(&srv, SIGKILL);
    test_server_start(&srv, 0);
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    optout_verdicts_free(v);
    v = open_redis_ok(PREFIX, OPTOUT_MODE_PROTEGO, 0);
    optout_verdicts_free(d);
    d = open_dir_ok(small_dir(), OPTOUT_MODE_PROTEGO, 0);
    all_same(d, v);
    optout_verdicts_free(v);
    optout_verdicts_free(d);
}

static void test_redis_password_without_server_password(void **state) {
    (void)state;
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    open_redis_fails("s3cret", PREFIX, "authentication failed");
}

static void test_redis_restart(void **state) {
    (void)state;
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    same_verdicts(d, v, "example.com");

    /* restarted empty (no persistence): a miss is an error, never "no robots.txt" */
    test_server_stop(&srv, SIGKILL);
    test_server_start(&srv, 0);
    char err[1024] = "";
    assert_int_equal(lookup_rc(v, "shop.example:8080", err, sizeof err), -1);
    CHECK(strstr(err, "is incomplete (complete none of none)") && strstr(err, "shop.example:8080"), "%s", err);
    assert_int_equal(lookup_rc(v, "absent.example", err, sizeof err), -1);
    same_verdicts(d, v, "example.com"); /* cached */
    /* reloaded: the same source recovers */
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    all_same(d, v);

    /* restarted with its data while a lookup is under way: the lookup waits for it */
    optout_verdicts_free(v);
    v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    same_verdicts(d, v, "example.com");
    cmd_ok("SAVE");
    test_server_stop(&srv, SIGKILL);
    test_server_start(&srv, 400); /* comes up in 0.4 s */
    double t0 = now_s();
    same_verdicts(d, v, "www.site.org");
    double waited = now_s() - t0;
    print_message("lookup across a restart: %.2f s\n", waited);
    assert_true(waited > 0.3);
    all_same(d, v);
    cmd_ok("PING");

    /* down for good: bounded retries, then a clear error; open fails the same way */
    test_server_stop(&srv, SIGTERM);
    t0 = now_s();
    assert_int_equal(lookup_rc(v, "uncached.example", err, sizeof err), -1);
    waited = now_s() - t0;
    print_message("lookup with Redis down: %.2f s: %s\n", waited, err);
    CHECK(strstr(err, srv.endpoint) && strstr(err, "uncached.example") && strstr(err, "gave up after 7 attempts"), "%s",
          err);
    assert_true(waited < 10);
    same_verdicts(d, v, "example.com"); /* cached answers still come */
    err[0] = '\0';
    assert_null(
        optout_verdicts_open_redis(srv.endpoint, NULL, NULL, PREFIX, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
    CHECK(strstr(err, srv.endpoint) && strstr(err, "cannot connect"), "%s", err);
    err[0] = '\0';
    assert_int_equal(optout_verdicts_load_redis(srv.endpoint, NULL, NULL, PREFIX, small_dir(), err, sizeof err), -1);
    CHECK(strstr(err, srv.endpoint) && strstr(err, "cannot connect"), "%s", err);

    /* and back */
    test_server_start(&srv, 0);
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    all_same(d, v);
    optout_verdicts_free(v);
    optout_verdicts_free(d);
}

static void test_redis_eviction(void **state) {
    (void)state;
    const char *d = numbered_dir("ten", 10);
    assert_int_equal(load(PREFIX, d), 10);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 2);
    passes_over_numbered(v, 10);
    /* a prefetch larger than the cache: still right */
    const char *hosts[10];
    size_t lens[10];
    char names[10][32];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof names[i], "e%d.example", i);
        hosts[i] = names[i];
        lens[i] = strlen(names[i]);
    }
    char err[1024] = "";
    assert_int_equal(optout_verdicts_prefetch(v, hosts, lens, 10, err, sizeof err), 0);
    passes_over_numbered(v, 10);
    /* many hosts without a record: the map of entries is bounded and dropped when full */
    for (int i = 0; i < 3000; i++) {
        char host[32];
        snprintf(host, sizeof host, "n%d.example", i);
        CHECK(outcome_of(v, host, NULL) == OPTOUT_OUTCOME_NO_ROBOTS, "%s", host);
        if (i % 97 == 0) check_numbered(v, i % 10);
    }
    passes_over_numbered(v, 10);
    optout_verdicts_free(v);
    v = open_redis_ok(PREFIX, OPTOUT_MODE_PROTEGO, 1);
    passes_over_numbered(v, 10);
    optout_verdicts_free(v);
}

static void test_redis_reload_drops_stale(void **state) {
    (void)state;
    /* prefixes with glob characters: the loader's SCAN must match them literally */
    const char *p1 = "optout:t[1]*:", *p2 = "optout:t1zz:";
    const char *b = new_dir("subset");
    puts_(b, "example.com", "User-agent: *\nDisallow: /\n");
    puts_(b, "new.example", "User-agent: *\nDisallow: /n\n");
    assert_int_equal(load(p2, small_dir()), SMALL_RECORDS);
    assert_int_equal(load(p1, small_dir()), SMALL_RECORDS);
    assert_int_equal(load(p1, b), 2);
    optout_verdicts *v = open_redis_ok(p1, OPTOUT_MODE_RFC9309, 0);
    const optout_robots *r;
    assert_int_equal(outcome_of(v, "example.com", &r), OPTOUT_OUTCOME_OK);
    assert_true(disallowed(r, "/anything", ccbot));
    assert_int_equal(outcome_of(v, "new.example", NULL), OPTOUT_OUTCOME_OK);
    assert_int_equal(outcome_of(v, "gone.example", NULL), OPTOUT_OUTCOME_NO_ROBOTS); /* deleted */
    assert_int_equal(outcome_of(v, "shop.example:8080", NULL), OPTOUT_OUTCOME_NO_ROBOTS);
    optout_verdicts_free(v);
    v = open_redis_ok(p2, OPTOUT_MODE_RFC9309, 0); /* the other store is untouched */
    expect_outcomes(v);
    optout_verdicts_free(v);
    redisReply *rep = cmd("DBSIZE");
    assert_int_equal(rep->integer, SMALL_RECORDS + 3 + 2 + 3);
    freeReplyObject(rep);
}

/* A run's store dropped: every key under its prefix (glob characters matched literally), nothing
 * of another prefix; again: nothing left to delete; an empty prefix (every key) is refused. */
static void test_redis_drop(void **state) {
    (void)state;
    char err[1024] = "";
    const char *p1 = "optout:t[1]*:", *p2 = "optout:t1zz:";
    assert_int_equal(load(p2, small_dir()), SMALL_RECORDS);
    assert_int_equal(load(p1, small_dir()), SMALL_RECORDS);
    long n = optout_verdicts_redis_drop(srv.endpoint, srv.user, srv.password, p1, err, sizeof err);
    assert_int_equal(n, SMALL_RECORDS + 3); /* the host records, absent, planned, complete */
    redisReply *rep = cmd("DBSIZE");
    assert_int_equal(rep->integer, SMALL_RECORDS + 3);
    freeReplyObject(rep);
    optout_verdicts *v = open_redis_ok(p2, OPTOUT_MODE_RFC9309, 0); /* the other store is untouched */
    expect_outcomes(v);
    optout_verdicts_free(v);
    assert_int_equal(optout_verdicts_redis_drop(srv.endpoint, srv.user, srv.password, p1, err, sizeof err), 0);
    assert_int_equal(optout_verdicts_redis_drop(srv.endpoint, srv.user, srv.password, "", err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    rep = cmd("DBSIZE");
    assert_int_equal(rep->integer, SMALL_RECORDS + 3);
    freeReplyObject(rep);
}

static void test_redis_load_errors(void **state) {
    (void)state;
    char err[1024] = "";
    assert_int_equal(optout_verdicts_load_redis(srv.endpoint, NULL, NULL, PREFIX, tpath("nope"), err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
    const char *d = new_dir("dupload");
    puts_(d, "dup.example", "");
    puts_(d, "dup.example_443", "");
    assert_int_equal(optout_verdicts_load_redis(srv.endpoint, NULL, NULL, PREFIX, d, err, sizeof err), -1);
    assert_non_null(strstr(err, "are both for host dup.example"));
    redisReply *rep = cmd("DBSIZE");
    assert_int_equal(rep->integer, 0); /* nothing written */
    freeReplyObject(rep);
    static const char *const bad[] = {"nonsense", "localhost:99999", "localhost:", ":6379", "[::1]:x", "unix:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(
            optout_verdicts_open_redis(bad[i], NULL, NULL, PREFIX, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err));
        CHECK(strstr(err, "bad Redis endpoint") != NULL, "%s: %s", bad[i], err);
        assert_int_equal(optout_verdicts_load_redis(bad[i], NULL, NULL, PREFIX, small_dir(), err, sizeof err), -1);
        CHECK(strstr(err, "bad Redis endpoint") != NULL, "%s: %s", bad[i], err);
    }
}

static long load_archive(const char *prefix, const char *dir) {
    char err[1024] = "";
    long n = optout_verdicts_load_redis_archive(srv.endpoint, srv.user, srv.password, prefix, dir, err, sizeof err);
    CHECK(n >= 0, "load archive %s: %s", dir, err);
    return n;
}

/* Every small host (and one never heard of) answers from Redis as from the archive source. */
static void redis_like_archive(optout_verdicts *a, optout_verdicts *v) {
    for (size_t i = 0; i < SMALL_COUNT; i++) same_verdicts(a, v, SMALL[i].host);
    same_verdicts(a, v, "unknown.example");
    assert_int_equal(outcome_of(v, "unknown.example", NULL), OPTOUT_OUTCOME_NOT_RANKED);
    assert_int_equal(outcome_of(v, "norobots.example", NULL), OPTOUT_OUTCOME_NOT_RANKED);
}

static void test_redis_archive(void **state) {
    (void)state;
    const char *ad = small_archive("arch-redis");
    /* a directory loaded first under the same prefix: the archive load replaces it entirely */
    assert_int_equal(load(PREFIX, small_dir()), SMALL_RECORDS);
    assert_int_equal(load_archive(PREFIX, ad), ARCH_COUNT);
    redisReply *r = cmd("MGET %s %s %s", PREFIX "planned", PREFIX "complete", PREFIX "absent");
    assert_string_equal(r->element[0]->str, "11");
    assert_string_equal(r->element[1]->str, "11");
    assert_string_equal(r->element[2]->str, "not_ranked");
    freeReplyObject(r);
    r = cmd("GET %s", PREFIX "h:bin.example"); /* binary-safe, as from a directory */
    assert_redis_body(r, BIN_BODY, sizeof BIN_BODY - 1);
    freeReplyObject(r);
    r = cmd("EXISTS %s", PREFIX "h:norobots.example"); /* the directory's record is gone */
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    for (int round = 0; round < 2; round++) { /* the second after a reload: idempotent */
        for (int mode = OPTOUT_MODE_RFC9309; mode <= OPTOUT_MODE_PROTEGO; mode++) {
            optout_verdicts *a = open_archive_ok(ad, (optout_robots_mode)mode, 0);
            optout_verdicts *v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 0);
            redis_like_archive(a, v);
            optout_verdicts_free(v);
            v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 1); /* through a prefetch, one set cached */
            prefetch_small(v);
            redis_like_archive(a, v);
            optout_verdicts_free(v);
            optout_verdicts_free(a);
        }
        assert_int_equal(load_archive(PREFIX, ad), ARCH_COUNT);
        r = cmd("DBSIZE");
        assert_int_equal(r->integer, (long long)ARCH_COUNT + 3);
        freeReplyObject(r);
    }
    /* a pack removed: its hosts' records are deleted, they answer not ranked */
    assert_int_equal(unlink(tpath("arch-redis/p2.tsv")), 0);
    assert_int_equal(load_archive(PREFIX, ad), ARCH_SPLIT);
    optout_verdicts *v = open_redis_ok(PREFIX, OPTOUT_MODE_RFC9309, 0);
    assert_int_equal(outcome_of(v, "gone.example", NULL), OPTOUT_OUTCOME_NOT_RANKED);
    assert_int_equal(outcome_of(v, "flaky.example", NULL), OPTOUT_OUTCOME_UNREACHABLE);
    /* "complete" flushed: a host without a record is an error, never not ranked */
    cmd_ok("DEL %s", PREFIX "complete");
    char err[1024] = "";
    assert_int_equal(lookup_rc(v, "other.example", err, sizeof err), -1);
    assert_non_null(strstr(err, "is incomplete"));
    optout_verdicts_free(v);
    open_redis_fails(NULL, PREFIX, "is incomplete (complete none of 6)");
}

static void test_redis_archive_errors(void **state) {
    (void)state;
    char err[1024] = "";
    assert_int_equal(
        optout_verdicts_load_redis_archive(srv.endpoint, NULL, NULL, PREFIX, tpath("nope"), err, sizeof err), -1);
    CHECK(strstr(err, "nope") && strstr(err, "No such file"), "%s", err);
    /* a host twice: nothing written */
    const char *ad = small_archive("arch-redis-dup");
    write_pack(ad, "p0", 0, 1);
    assert_int_equal(optout_verdicts_load_redis_archive(srv.endpoint, NULL, NULL, PREFIX, ad, err, sizeof err), -1);
    CHECK(strstr(err, "example.com") && strstr(err, "pack p0") && strstr(err, "pack p1"), "%s", err);
    redisReply *r = cmd("DBSIZE");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    /* a corrupt body: the load fails naming pack and line, and the store stays incomplete */
    ad = small_archive("arch-redis-corrupt");
    assert_int_equal(load_archive(PREFIX, ad), ARCH_COUNT);
    size_t len;
    char *bodies = optout_read_file(tpath("arch-redis-corrupt/p2.bodies.zst"), 1 << 20, &len);
    assert_non_null(bodies);
    bodies[len - 2] ^= 0x01;
    FILE *f = fopen(tpath("arch-redis-corrupt/p2.bodies.zst"), "wb");
    assert_non_null(f);
    fwrite(bodies, 1, len, f);
    fclose(f);
    free(bodies);
    assert_int_equal(optout_verdicts_load_redis_archive(srv.endpoint, NULL, NULL, PREFIX, ad, err, sizeof err), -1);
    CHECK(strstr(err, "p2.tsv:3") && strstr(err, "SHA-256"), "%s", err); /* port.example:99 */
    open_redis_fails(NULL, PREFIX, "is incomplete");
}

static void test_redis_big_body(void **state) {
    (void)state;
    /* a body larger than the engine parses and larger than hiredis's read buffer */
    const char *d = new_dir("big");
    size_t n = (size_t)3 << 20;
    char *body = malloc(n);
    assert_non_null(body);
    size_t off = (size_t)snprintf(body, n, "User-agent: GPTBot\n");
    while (off + 32 < n) off += (size_t)snprintf(body + off, n - off, "Disallow: /d%zu\n", off);
    put(d, "big.example", body, off);
    free(body);
    puts_(d, "small.example", "User-agent: *\nDisallow: /\n");
    assert_int_equal(load(PREFIX, d), 2);
    for (int mode = OPTOUT_MODE_RFC9309; mode <= OPTOUT_MODE_PROTEGO; mode++) {
        optout_verdicts *dv = open_dir_ok(d, (optout_robots_mode)mode, 0);
        optout_verdicts *v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 0);
        same_verdicts(dv, v, "big.example");
        same_verdicts(dv, v, "small.example");
        optout_verdicts_free(v);
        optout_verdicts_free(dv);
    }
}

/* A real robots directory (../shared/data/robots-top10k: thousands of hosts), when given as the
 * second argument or $OPTOUT_TEST_ROBOTS_DIR: every host gives the same answers from Redis (one
 * prefetch per 1000 hosts) as from the directory, in both modes. */
static const char *real_dir;

static void test_redis_real_dir(void **state) {
    (void)state;
    struct stat st;
    if (!real_dir || stat(real_dir, &st) != 0) {
        print_message("no real robots directory given: skipped\n");
        skip();
    }
    long n = load(PREFIX, real_dir);
    DIR *dh = opendir(real_dir);
    assert_non_null(dh);
    size_t count = 0, cap = 1024;
    char **hosts = malloc(cap * sizeof *hosts);
    assert_non_null(hosts);
    for (struct dirent *e; (e = readdir(dh)) != NULL;) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "index.tsv") == 0) continue;
        char key[1024];
        size_t len = strlen(e->d_name);
        if (len >= sizeof key) continue;
        for (size_t i = 0; i <= len; i++) key[i] = (char)tolower((unsigned char)e->d_name[i]);
        char *us = strrchr(key, '_');
        if (us && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1) && strlen(us + 1) <= 5) {
            if (strcmp(us + 1, "80") == 0 || strcmp(us + 1, "443") == 0) *us = '\0';
            else *us = ':';
        }
        if (count + 2 > cap) hosts = realloc(hosts, (cap *= 2) * sizeof *hosts);
        assert_non_null(hosts);
        hosts[count++] = strdup(key);
    }
    closedir(dh);
    hosts[count++] = strdup("absent.invalid");
    CHECK((long)count - 1 <= n, "%zu files, %ld records", count - 1, n);
    size_t *lens = malloc(count * sizeof *lens);
    assert_non_null(lens);
    for (size_t i = 0; i < count; i++) lens[i] = strlen(hosts[i]);
    for (int mode = OPTOUT_MODE_RFC9309; mode <= OPTOUT_MODE_PROTEGO; mode++) {
        optout_verdicts *d = open_dir_ok(real_dir, (optout_robots_mode)mode, 0);
        optout_verdicts *v = open_redis_ok(PREFIX, (optout_robots_mode)mode, 1000);
        for (size_t i = 0; i < count; i += 1000) {
            size_t k = count - i < 1000 ? count - i : 1000;
            char err[1024] = "";
            CHECK(optout_verdicts_prefetch(v, (const char *const *)hosts + i, lens + i, k, err, sizeof err) == 0, "%s",
                  err);
            for (size_t j = i; j < i + k; j++) same_verdicts(d, v, hosts[j]);
        }
        optout_verdicts_free(v);
        optout_verdicts_free(d);
    }
    print_message("%zu hosts, %ld records: same answers from Redis as from %s\n", count, n, real_dir);
    for (size_t i = 0; i < count; i++) free(hosts[i]);
    free(hosts);
    free(lens);
}

/* A TCP endpoint ("host:port") when $OPTOUT_TEST_REDIS_TCP names one (with
 * $OPTOUT_TEST_REDIS_PASSWORD and $OPTOUT_TEST_REDIS_USER if it needs them): the private servers
 * listen on unix sockets only.
 * Keys go under a prefix of this process's own and are deleted afterwards. */
static void test_redis_tcp(void **state) {
    (void)state;
    const char *ep = getenv("OPTOUT_TEST_REDIS_TCP");
    if (!ep || !*ep) {
        print_message("OPTOUT_TEST_REDIS_TCP is not set: the TCP endpoint is not tested\n");
        skip();
    }
    const char *pw = getenv("OPTOUT_TEST_REDIS_PASSWORD"), *user = getenv("OPTOUT_TEST_REDIS_USER");
    char prefix[64], err[1024] = "";
    snprintf(prefix, sizeof prefix, "optout:test-tcp:%ld:", (long)getpid());
    long n = optout_verdicts_load_redis(ep, user, pw, prefix, small_dir(), err, sizeof err);
    CHECK(n == SMALL_RECORDS, "load over TCP %s: %s", ep, err);
    optout_verdicts *d = open_dir_ok(small_dir(), OPTOUT_MODE_RFC9309, 0);
    optout_verdicts *v =
        optout_verdicts_open_redis(ep, user, pw, prefix, agents, OPTOUT_MODE_RFC9309, 0, err, sizeof err);
    CHECK(v != NULL, "open over TCP %s: %s", ep, err);
    all_same(d, v);
    optout_verdicts_free(v);
    optout_verdicts_free(d);
    /* clean up */
    char host[256];
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    snprintf(host, sizeof host, "%.*s", (int)(colon - ep), ep);
    if (host[0] == '[') memmove(host, host + 1, strlen(host)), host[strlen(host) - 1] = '\0';
    redisContext *c = redisConnect(host, atoi(colon + 1));
    assert_true(c && !c->err);
    if (user && *user) freeReplyObject(redisCommand(c, "AUTH %s %s", user, pw ? pw : ""));
    else if (pw && *pw) freeReplyObject(redisCommand(c, "AUTH %s", pw));
    freeReplyObject(redisCommand(c, "DEL %splanned %scomplete %sabsent", prefix, prefix, prefix));
    for (size_t i = 0; i < SMALL_RECORDS; i++) freeReplyObject(redisCommand(c, "DEL %sh:%s", prefix, SMALL[i].host));
    redisReply *r = redisCommand(c, "KEYS %s*", prefix);
    assert_non_null(r);
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    redisFree(c);
}

/* ---- main ---------------------------------------------------------------------------------- */

#define T(f) cmocka_unit_test(f)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_redis, teardown_redis)

int main(int argc, char **argv) {
    const char *group = argc > 1 ? argv[1] : "all";
    real_dir = argc > 2 ? argv[2] : getenv("OPTOUT_TEST_ROBOTS_DIR");
    int want_dir = strcmp(group, "all") == 0 || strcmp(group, "dir") == 0;
    int want_redis = strcmp(group, "all") == 0 || strcmp(group, "redis") == 0;
    if (!want_dir && !want_redis) {
        fprintf(stderr, "usage: %s [dir|redis [ROBOTS_DIR]]\n", argv[0]);
        return 2;
    }
    if (testdir_create("test_verdicts") != 0) {
        perror("mkdtemp");
        return 1;
    }
    agents = optout_agents_new_default();
    gptbot = optout_agents_find_token(agents, "GPTBot", 6);
    ccbot = optout_agents_find_token(agents, "CCBot", 5);
    star = -1;
    for (size_t i = 0; i < optout_agents_count(agents); i++)
        if (optout_agents_is_star(agents, i)) star = (int)i;
    if (gptbot < 0 || ccbot < 0 || star < 0) {
        fprintf(stderr, "the default agent list lacks GPTBot, CCBot or *\n");
        return 1;
    }
    int have_redis = test_server_find();
    int failed = 0;
    if (want_dir) {
        const struct CMUnitTest dir_tests[] = {
            T(test_dir_outcomes),          T(test_dir_without_index), T(test_dir_host_keys),
            T(test_dir_two_files_one_key), T(test_dir_index_errors),  T(test_dir_eviction),
            T(test_dir_file_vanishes),     T(test_archive_source),    T(test_archive_errors),
        };
        failed += cmocka_run_group_tests_name("verdicts_dir", dir_tests, NULL, NULL);
    }
    int skipped = 0;
    if (want_redis && !have_redis) {
        fprintf(stderr, "redis-server is not installed (nor $OPTOUT_REDIS_SERVER set): skipping the Redis tests\n");
        skipped = 1;
    } else if (want_redis) {
        const struct CMUnitTest redis_tests[] = {
            R(test_redis_same_as_dir),
            R(test_redis_prefetch_1000),
            R(test_redis_incomplete),
            R(test_redis_absent_error),
            R(test_redis_corrupt),
            cmocka_unit_test_setup_teardown(test_redis_auth, setup_redis_auth, teardown_redis),
            cmocka_unit_test_setup_teardown(test_redis_acl_user, setup_redis_acl, teardown_redis),
            R(test_redis_password_without_server_password),
            R(test_redis_restart),
            R(test_redis_eviction),
            R(test_redis_reload_drops_stale),
            R(test_redis_drop),
            R(test_redis_load_errors),
            R(test_redis_big_body),
            R(test_redis_archive),
            R(test_redis_archive_errors),
            R(test_redis_real_dir),
            T(test_redis_tcp),
        };
        failed += cmocka_run_group_tests_name("verdicts_redis", redis_tests, NULL, NULL);
    }
    optout_agents_free(agents);
    testdir_remove();
    if (failed) return 1;
    return skipped && !want_dir ? 77 : 0;
}
