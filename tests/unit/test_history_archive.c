/* test_history_archive.c — the history archive (include/optout/history_archive.h).
 *
 * Captures are added out of order (several hosts, schemes, crawls; repeated answers that must merge,
 * a changed answer between two equal ones that must not, equal bodies that must share one frame),
 * committed, and read back through the history source: versions field by field, bodies checked.
 * Then the publication rules: a second build replaces the first whole; a failed or abandoned build
 * leaves the old archive; a link in place of DIR/history is refused by writer and reader. Then
 * damage: a bodies file of another build, a malformed line, lines out of order, a corrupt frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/history_archive.h"
#include "optout/rundir.h"
#include "optout/util.h"

#include "../support/testdir.h"

static optout_history_version ver(optout_history_scheme scheme, const char *crawl, int64_t t, int status,
                                  optout_outcome outcome, const char *redirect) {
    optout_history_version v = {0};
    v.origin = OPTOUT_HISTORY_CC;
    v.scheme = scheme;
    snprintf(v.crawl, sizeof v.crawl, "%s", crawl);
    v.first = v.last = t;
    v.status = status;
    v.outcome = outcome;
    v.redirect = redirect;
    v.redirect_scheme = OPTOUT_HISTORY_HTTPS;
    return v;
}

static const char A1[] = "User-agent: *\nDisallow: /a\n";
static const char A2[] = "User-agent: GPTBot\nDisallow: /\n";

static void add(optout_history_writer *w, const char *host, optout_history_version v, const char *body) {
    char err[256];
    assert_int_equal(optout_history_writer_add(w, host, &v, 1, body, body ? strlen(body) : 0, err, sizeof err), 0);
}

/* The fixture: a.example https in one crawl A1, A1, 404, A1, A1 (three versions), http once A2;
 * a.example in another crawl A1 (a separate version: versions never span crawls); b.example a
 * redirect twice (one version) and a 503; c.example an empty body. */
static void build(const char *dir) {
    char err[256];
    optout_history_writer *w = optout_history_writer_new(dir, 0, err, sizeof err);
    assert_non_null(w);
    const char *C1 = "CC-MAIN-2019-35", *C2 = "CC-MAIN-2021-04";
    add(w, "b.example", ver(OPTOUT_HISTORY_HTTP, C1, 1500, 301, OPTOUT_OUTCOME_UNAVAILABLE, "www.b.example"), NULL);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1400, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1000, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1200, 404, OPTOUT_OUTCOME_UNAVAILABLE, NULL), NULL);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTP, C1, 1100, 200, OPTOUT_OUTCOME_OK, NULL), A2);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1100, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1300, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C2, 90000, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "b.example", ver(OPTOUT_HISTORY_HTTP, C1, 1600, 301, OPTOUT_OUTCOME_UNAVAILABLE, "www.b.example"), NULL);
    add(w, "b.example", ver(OPTOUT_HISTORY_HTTP, C1, 1700, 503, OPTOUT_OUTCOME_UNREACHABLE, NULL), NULL);
    add(w, "c.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1000, 200, OPTOUT_OUTCOME_OK, NULL), "");
    /* a version claiming a body it does not have is refused */
    optout_history_version bad = ver(OPTOUT_HISTORY_HTTPS, C1, 1, 200, OPTOUT_OUTCOME_OK, NULL);
    strcpy(bad.sha256, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(optout_history_writer_add(w, "d.example", &bad, 1, A1, strlen(A1), err, sizeof err), -1);
    uint64_t nbad[6] = {1, 0, 2, 0, 0, 3};
    assert_int_equal(optout_history_writer_source(w, "crawl-data/x\ty.warc.gz", C1, 1234, 50, 20, nbad, 6, err, sizeof err), 0);
    assert_int_equal(optout_history_writer_source(w, "b.warc", "", 5, 1, 0, nbad, 6, err, sizeof err), 0);
    uint64_t added, bodies, bytes;
    optout_history_writer_counts(w, &added, &bodies, &bytes);
    assert_int_equal(added, 11);
    assert_int_equal(bodies, 3); /* A1, A2 and the empty body, each once */
    assert_int_equal(bytes, strlen(A1) + strlen(A2));
    uint64_t versions, hosts;
    assert_int_equal(optout_history_writer_commit(w, &versions, &hosts, err, sizeof err), 0);
    assert_int_equal(versions, 8);
    assert_int_equal(hosts, 3);
}

static char *body_of(optout_history_source *s, const optout_history_version *v) {
    char *b = NULL, err[256];
    size_t len;
    assert_int_equal(s->body(s->arg, v, &b, &len, err, sizeof err), 0);
    assert_int_equal(len, v->size);
    return b;
}

static void test_round_trip(void **state) {
    (void)state;
    const char *dir = tpath("rt");
    build(dir);
    char err[512];
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    if (!a) fail_msg("%s", err);
    assert_int_equal(optout_history_archive_hosts(a), 3);
    assert_int_equal(optout_history_archive_versions(a), 8);
    assert_true(tfile_is(tpath("rt/history/sources.tsv"),
                         "#location\tcrawl\tbytes\trecords\tresponses\tgzip\tlength\tno_uri\tnot_http\toversize\theader\n"
                         "crawl-data/x y.warc.gz\tCC-MAIN-2019-35\t1234\t50\t20\t1\t0\t2\t0\t0\t3\n"
                         "b.warc\t-\t5\t1\t0\t1\t0\t2\t0\t0\t3\n"));
    optout_history_source s = optout_history_archive_source(a);
    optout_history_host h;
    assert_int_equal(s.lookup(s.arg, "a.example", 9, &h, err, sizeof err), 1);
    assert_int_equal(h.count, 5);
    /* http first, then https: crawl 1 [1000,1100] A1, [1200] 404, [1300,1400] A1, crawl 2 */
    assert_int_equal(h.versions[0].scheme, OPTOUT_HISTORY_HTTP);
    const optout_history_version *v = &h.versions[1];
    assert_int_equal(v->scheme, OPTOUT_HISTORY_HTTPS);
    assert_string_equal(v->crawl, "CC-MAIN-2019-35");
    assert_int_equal(v->first, 1000);
    assert_int_equal(v->last, 1100);
    assert_int_equal(optout_history_archive_captures(a, v), 2);
    char sha[65];
    optout_sha256_hex(A1, strlen(A1), sha);
    assert_string_equal(v->sha256, sha);
    char *b = body_of(&s, v);
    assert_string_equal(b, A1);
    free(b);
    assert_int_equal(h.versions[2].status, 404);
    assert_string_equal(h.versions[2].sha256, "");
    assert_int_equal(h.versions[3].first, 1300);
    assert_int_equal(h.versions[3].last, 1400);
    assert_string_equal(h.versions[4].crawl, "CC-MAIN-2021-04");
    b = body_of(&s, &h.versions[0]);
    assert_string_equal(b, A2);
    free(b);
    assert_int_equal(s.lookup(s.arg, "b.example", 9, &h, err, sizeof err), 1);
    assert_int_equal(h.count, 2);
    assert_string_equal(h.versions[0].redirect, "www.b.example");
    assert_int_equal(h.versions[0].redirect_scheme, OPTOUT_HISTORY_HTTPS);
    assert_int_equal(h.versions[0].first, 1500);
    assert_int_equal(h.versions[0].last, 1600);
    assert_int_equal(h.versions[1].outcome, OPTOUT_OUTCOME_UNREACHABLE);
    assert_null(h.versions[1].redirect);
    char *tmp;
    size_t len;
    assert_int_equal(s.body(s.arg, &h.versions[1], &tmp, &len, err, sizeof err), -1); /* no body */
    assert_int_equal(s.lookup(s.arg, "c.example", 9, &h, err, sizeof err), 1);
    b = body_of(&s, &h.versions[0]);
    assert_string_equal(b, "");
    free(b);
    assert_int_equal(s.lookup(s.arg, "d.example", 9, &h, err, sizeof err), 0);
    assert_int_equal(s.lookup(s.arg, "a.exampl", 8, &h, err, sizeof err), 0);
    optout_history_archive_close(a);
}

/* A second build replaces the first whole; an abandoned or failed one leaves it. */
static void test_publication(void **state) {
    (void)state;
    const char *dir = tpath("pub");
    char err[512];
    build(dir);
    optout_history_writer *w = optout_history_writer_new(dir, 0, err, sizeof err);
    add(w, "z.example", ver(OPTOUT_HISTORY_HTTPS, "CC-MAIN-2019-35", 5, 200, OPTOUT_OUTCOME_OK, NULL), A2);
    optout_history_writer_abort(w);
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(optout_history_archive_hosts(a), 3);
    optout_history_archive_close(a);
    assert_int_equal(testdir_entries(dir), 1); /* no staging left */
    w = optout_history_writer_new(dir, 0, err, sizeof err);
    add(w, "z.example", ver(OPTOUT_HISTORY_HTTPS, "CC-MAIN-2019-35", 5, 200, OPTOUT_OUTCOME_OK, NULL), A2);
    assert_int_equal(optout_history_writer_commit(w, NULL, NULL, err, sizeof err), 0);
    a = optout_history_archive_open(dir, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(optout_history_archive_hosts(a), 1);
    assert_string_equal(optout_history_archive_host(a, 0).host, "z.example");
    optout_history_archive_close(a);
    assert_int_equal(testdir_entries(dir), 1);
    /* a staging directory of a dead writer is removed by the next one */
    assert_int_equal(mkdir(tpath("pub/.history.staging.999999999"), 0755), 0);
    w = optout_history_writer_new(dir, 0, err, sizeof err);
    optout_history_writer_abort(w);
    assert_int_equal(testdir_entries(dir), 1);
}

static void test_links_refused(void **state) {
    (void)state;
    const char *dir = tpath("ln");
    char err[512];
    build(tpath("real"));
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(symlink(tpath("real/history"), tpath("ln/history")), 0);
    assert_null(optout_history_archive_open(dir, err, sizeof err));
    assert_non_null(strstr(err, "symbolic link"));
    assert_null(optout_history_writer_new(dir, 0, err, sizeof err));
    assert_non_null(strstr(err, "symbolic link"));
    /* a link in place of one of the files */
    build(tpath("ln2"));
    assert_int_equal(unlink(tpath("ln2/history/index.tsv")), 0);
    assert_int_equal(symlink(tpath("real/history/index.tsv"), tpath("ln2/history/index.tsv")), 0);
    assert_null(optout_history_archive_open(tpath("ln2"), err, sizeof err));
    assert_non_null(strstr(err, "index.tsv"));
    assert_null(optout_history_archive_open(tpath("missing"), err, sizeof err));
    assert_non_null(strstr(err, "no history archive"));
}

/* Rewrites DIR/history/index.tsv with line `no` (1-based) replaced by `text` (NULL: removed). */
static void edit_line(const char *dir, int no, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/history/index.tsv", dir);
    size_t len;
    char *s = tread(path, &len);
    assert_non_null(s);
    FILE *f = fopen(path, "w");
    int line = 1;
    for (char *p = s; *p; line++) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (line == no) {
            if (text) fputs(text, f);
        } else {
            fwrite(p, 1, n, f);
        }
        p += n;
    }
    fclose(f);
    free(s);
}

/* The cursor read to its end: 0, or -1 with err (the first defect it met). */
static int cursor_read_all(const char *dir, char *err, size_t errlen) {
    optout_history_cursor *c = optout_history_cursor_open(dir, err, errlen);
    if (!c) return -1;
    optout_history_host h;
    int got;
    while ((got = optout_history_cursor_next(c, &h, NULL, err, errlen)) == 1) {
    }
    optout_history_cursor_close(c);
    return got;
}

/* The archive refused by the reader, and by the cursor with the same message. */
static void assert_refused(const char *dir, char *err, size_t errlen) {
    assert_null(optout_history_archive_open(dir, err, errlen));
    char cerr[512] = "";
    assert_int_equal(cursor_read_all(dir, cerr, sizeof cerr), -1);
    if (strcmp(err, cerr) != 0) fail_msg("the reader says '%s', the cursor '%s'", err, cerr);
}

/* The cursor gives the reader's hosts in order, each with its versions, captures and bodies; and
 * again after a rewind. */
static void test_cursor(void **state) {
    (void)state;
    const char *dir = tpath("cur");
    build(dir);
    char err[512];
    optout_history_archive *a = optout_history_archive_open(dir, err, sizeof err);
    optout_history_cursor *c = optout_history_cursor_open(dir, err, sizeof err);
    if (!a || !c) fail_msg("%s", err);
    assert_int_equal(optout_history_cursor_hosts(c), 3);
    assert_int_equal(optout_history_cursor_versions(c), 8);
    optout_history_source s = optout_history_archive_source(a);
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0;
        optout_history_host h;
        const uint64_t *captures;
        int got;
        while ((got = optout_history_cursor_next(c, &h, &captures, err, sizeof err)) == 1) {
            assert_true(i < optout_history_archive_hosts(a));
            optout_history_host want = optout_history_archive_host(a, i++);
            assert_string_equal(h.host, want.host);
            assert_int_equal(h.host_len, want.host_len);
            assert_int_equal(h.count, want.count);
            for (size_t k = 0; k < h.count; k++) {
                const optout_history_version *x = &h.versions[k], *y = &want.versions[k];
                assert_int_equal(x->origin, y->origin);
                assert_int_equal(x->scheme, y->scheme);
                assert_string_equal(x->crawl, y->crawl);
                assert_true(x->first == y->first && x->last == y->last);
                assert_int_equal(x->status, y->status);
                assert_int_equal(x->outcome, y->outcome);
                assert_true((!x->redirect && !y->redirect) ||
                            (x->redirect && y->redirect && strcmp(x->redirect, y->redirect) == 0));
                assert_int_equal(x->redirect_scheme, y->redirect_scheme);
                assert_string_equal(x->sha256, y->sha256);
                assert_true(x->size == y->size && x->truncated == y->truncated);
                assert_int_equal(captures[k], optout_history_archive_captures(a, y));
                if (x->outcome != OPTOUT_OUTCOME_OK) continue;
                char *b1 = body_of(&s, y), *b2 = NULL;
                size_t len = 0;
                assert_int_equal(optout_history_cursor_body(c, x, &b2, &len, err, sizeof err), 0);
                assert_int_equal(len, x->size);
                assert_memory_equal(b1, b2, len);
                free(b1);
                free(b2);
            }
            /* a version of another host is not the cursor's */
            char *b;
            size_t len;
            assert_int_equal(optout_history_cursor_body(c, &want.versions[0], &b, &len, err, sizeof err), -1);
        }
        if (got != 0) fail_msg("%s", err);
        assert_int_equal(i, optout_history_archive_hosts(a));
        assert_int_equal(optout_history_cursor_rewind(c, err, sizeof err), 0);
    }
    optout_history_cursor_close(c);
    optout_history_archive_close(a);
}

static void test_damage(void **state) {
    (void)state;
    char err[512];
    /* a bodies file of another build */
    build(tpath("d1"));
    FILE *f = fopen(tpath("d1/history/bodies.zst"), "a");
    fputs("x", f);
    fclose(f);
    assert_refused(tpath("d1"), err, sizeof err);
    assert_non_null(strstr(err, "bodies.zst"));
    /* malformed lines, named by number */
    static const char *const bad[] = {
        "a.example\thttps\tcc\tCC-MAIN-2019-35\t1970-01-01T00:16:40Z\t1970-01-01T00:18:20Z\t2\t200\tok\t-\t-\tzz\t27\t0\t0\t9\n",
        "a.example\tgopher\tcc\tCC-MAIN-2019-35\t1970-01-01T00:16:40Z\t1970-01-01T00:18:20Z\t2\t200\tok\t-\t-\t-\t0\t0\t0\t0\n",
        "a.example\thttps\tcc\tCC-MAIN-2019-35\t1970-01-01T00:18:20Z\t1970-01-01T00:16:40Z\t1\t404\tunavailable\t-\t-\t-\t0\t0\t0\t0\n",
        "a.example\thttps\tcc\tCC-MAIN-2019-35\t1970-01-01T00:16:40Z\t1970-01-01T00:18:20Z\t1\t404\tunavailable\t-\t-\t-\t0\t0\t0\t5\n",
        "a.example\thttps\tcc\tCC-MAIN-2019-35\t1970-01-01T00:16:40Z\t1970-01-01T00:18:20Z\t1\t404\tno_robots\t-\t-\t-\t0\t0\t0\t0\n",
        "a.example\thttps\tcc\n",
        "zzz.example\thttps\tcc\tCC-MAIN-2019-35\t1970-01-01T00:16:40Z\t1970-01-01T00:18:20Z\t1\t404\tunavailable\t-\t-\t-\t0\t0\t0\t0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char d[32];
        snprintf(d, sizeof d, "m%zu", i);
        build(tpath("%s", d));
        edit_line(tpath("%s", d), 5, bad[i]);
        assert_refused(tpath("%s", d), err, sizeof err);
        /* the host out of place is noticed on the line after it */
        const char *want = i == 6 ? "index.tsv:6: out of order" : "index.tsv:5: ";
        if (!strstr(err, want)) fail_msg("%zu: %s", i, err);
    }
    /* a version removed: the header's count no longer matches */
    build(tpath("cnt"));
    edit_line(tpath("cnt"), 5, NULL);
    assert_refused(tpath("cnt"), err, sizeof err);
    /* the last line without its end (a torn index) */
    build(tpath("torn"));
    FILE *t = fopen(tpath("torn/history/index.tsv"), "r+");
    assert_non_null(t);
    fseek(t, -1, SEEK_END);
    long at = ftell(t);
    fclose(t);
    assert_int_equal(truncate(tpath("torn/history/index.tsv"), at), 0);
    assert_refused(tpath("torn"), err, sizeof err);
    assert_non_null(strstr(err, "a torn index"));
    /* a corrupt frame: the archive opens, the body read fails naming the file */
    build(tpath("fr"));
    f = fopen(tpath("fr/history/bodies.zst"), "r+");
    fseek(f, 12, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    optout_history_archive *a = optout_history_archive_open(tpath("fr"), err, sizeof err);
    assert_non_null(a);
    optout_history_source s = optout_history_archive_source(a);
    int failures = 0;
    for (size_t i = 0; i < optout_history_archive_hosts(a); i++) {
        optout_history_host h = optout_history_archive_host(a, i);
        for (size_t k = 0; k < h.count; k++) {
            if (h.versions[k].outcome != OPTOUT_OUTCOME_OK) continue;
            char *b;
            size_t len;
            if (s.body(s.arg, &h.versions[k], &b, &len, err, sizeof err) != 0) {
                failures++;
                assert_non_null(strstr(err, "bodies.zst"));
            } else {
                free(b);
            }
        }
    }
    assert_true(failures >= 1);
    optout_history_archive_close(a);
}

/* Parts merged (optout_history_writer_merge) give what one build of every capture gives: a part
 * keeps its captures apart (optout_history_writer_apart), so that captures of one host split
 * across parts (A1 at 1000 and 1300 in one, A2 at 1100 in the other) still make three versions;
 * sources.tsv lines follow, with the location given. */
static void index_of(const char *dir, char *out, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/history/index.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_merge_parts(void **state) {
    (void)state;
    char err[512];
    const char *C1 = "CC-MAIN-2019-35";
    uint64_t nbad[6] = {0, 1, 0, 0, 0, 0};
    /* one build of all three */
    optout_history_writer *w = optout_history_writer_new(tpath("one"), 0, err, sizeof err);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1000, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1100, 200, OPTOUT_OUTCOME_OK, NULL), A2);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1300, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    assert_int_equal(optout_history_writer_commit(w, NULL, NULL, err, sizeof err), 0);
    /* two parts */
    w = optout_history_writer_new(tpath("p1"), 0, err, sizeof err);
    optout_history_writer_apart(w);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1300, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1000, 200, OPTOUT_OUTCOME_OK, NULL), A1);
    assert_int_equal(optout_history_writer_source(w, "/w/p1.warc.gz", C1, 10, 3, 2, nbad, 6, err, sizeof err), 0);
    assert_int_equal(optout_history_writer_commit(w, NULL, NULL, err, sizeof err), 0);
    w = optout_history_writer_new(tpath("p2"), 0, err, sizeof err);
    optout_history_writer_apart(w);
    add(w, "a.example", ver(OPTOUT_HISTORY_HTTPS, C1, 1100, 200, OPTOUT_OUTCOME_OK, NULL), A2);
    assert_int_equal(optout_history_writer_source(w, "/w/p2.warc.gz", "", 20, 1, 1, nbad, 6, err, sizeof err), 0);
    assert_int_equal(optout_history_writer_commit(w, NULL, NULL, err, sizeof err), 0);
    w = optout_history_writer_new(tpath("merged"), 0, err, sizeof err);
    if (optout_history_writer_merge(w, tpath("p1"), "crawl-data/p1.warc.gz", err, sizeof err) != 0 ||
        optout_history_writer_merge(w, tpath("p2"), NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    uint64_t versions;
    assert_int_equal(optout_history_writer_commit(w, &versions, NULL, err, sizeof err), 0);
    assert_int_equal(versions, 3);
    /* same versions; the bodies' offsets may differ (bodies are written as met) */
    optout_history_archive *a = optout_history_archive_open(tpath("one"), err, sizeof err);
    optout_history_archive *m = optout_history_archive_open(tpath("merged"), err, sizeof err);
    assert_non_null(a);
    assert_non_null(m);
    optout_history_host ha = optout_history_archive_host(a, 0), hm = optout_history_archive_host(m, 0);
    assert_int_equal(ha.count, 3);
    assert_int_equal(hm.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ha.versions[i].first, hm.versions[i].first);
        assert_int_equal(ha.versions[i].last, hm.versions[i].last);
        assert_string_equal(ha.versions[i].sha256, hm.versions[i].sha256);
        assert_int_equal(optout_history_archive_captures(m, &hm.versions[i]), 1);
    }
    optout_history_source src = optout_history_archive_source(m);
    char *b = body_of(&src, &hm.versions[1]);
    assert_memory_equal(b, A2, strlen(A2));
    free(b);
    optout_history_archive_close(a);
    optout_history_archive_close(m);
    char text[4096];
    index_of(tpath("merged"), text, sizeof text);
    assert_non_null(strstr(text, "versions=3\thosts=1"));
    char path[4200];
    snprintf(path, sizeof path, "%s/history/sources.tsv", tpath("merged"));
    size_t len;
    char *srcs = optout_read_file(path, 1 << 20, &len);
    assert_non_null(srcs);
    assert_non_null(strstr(srcs, "\ncrawl-data/p1.warc.gz\tCC-MAIN-2019-35\t10\t3\t2\t0\t1\t0\t0\t0\t0\n"
                                 "/w/p2.warc.gz\t-\t20\t1\t1\t0\t1\t0\t0\t0\t0\n"));
    free(srcs);
    /* a part that is not an archive is an error naming it */
    w = optout_history_writer_new(tpath("merged2"), 0, err, sizeof err);
    assert_int_equal(optout_history_writer_merge(w, tpath("nothing"), NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing"));
    optout_history_writer_abort(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_publication),
        cmocka_unit_test(test_links_refused),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_merge_parts),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
