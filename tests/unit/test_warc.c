/* test_warc.c — the WARC reader (include/optout/warc.h).
 *
 * Files are built in memory: records written as Common Crawl writes them (warcinfo, request,
 * response, metadata), each its own gzip member (zlib's gzip wrapper), or plain. Each file is read
 * three ways — whole, one byte a feed, and in pieces of 7 bytes — and the three readings must agree
 * record for record and count for count, so that no result depends on where a network read ends.
 * Damaged files (a flipped byte inside a member, a Content-Length past the member's end, a member
 * cut short, no target URI, a non-HTTP payload, a header block over the limit, garbage between
 * plain records) must report the defect with the right kind and offset and still yield the records
 * after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "optout/warc.h"

#include "../support/testdir.h"

/* ---- building files ------------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* data as one gzip member appended to b */
static void put_gz(buf *b, const void *data, size_t n) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    put(b, out, cap - z.avail_out);
    deflateEnd(&z);
    free(out);
}

/* A WARC record: header fields (may be NULL), the block. len_delta is added to the true
 * Content-Length (a lying header). */
static void record(buf *b, int gz, const char *type, const char *uri, const char *date, const char *ctype,
                   const char *extra, const char *block, size_t block_len, long len_delta) {
    buf r = {0};
    char h[4096];
    int n = snprintf(h, sizeof h, "WARC/1.0\r\n");
    if (type) n += snprintf(h + n, sizeof h - (size_t)n, "WARC-Type: %s\r\n", type);
    if (uri) n += snprintf(h + n, sizeof h - (size_t)n, "WARC-Target-URI: %s\r\n", uri);
    if (date) n += snprintf(h + n, sizeof h - (size_t)n, "WARC-Date: %s\r\n", date);
    if (ctype) n += snprintf(h + n, sizeof h - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (extra) n += snprintf(h + n, sizeof h - (size_t)n, "%s", extra);
    n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %ld\r\n\r\n", (long)block_len + len_delta);
    put(&r, h, (size_t)n);
    put(&r, block, block_len);
    put(&r, "\r\n\r\n", 4);
    if (gz) put_gz(b, r.p, r.len);
    else put(b, r.p, r.len);
    free(r.p);
}

static const char HTTP_CT[] = "application/http; msgtype=response";

static void response(buf *b, int gz, const char *uri, const char *date, const char *http) {
    record(b, gz, "response", uri, date, HTTP_CT, NULL, http, strlen(http), 0);
}

static void warcinfo(buf *b, int gz, const char *crawl) {
    char block[256];
    snprintf(block, sizeof block, "robots: classic\r\nisPartOf: %s\r\noperator: Common Crawl Admin\r\n", crawl);
    record(b, gz, "warcinfo", NULL, "2019-08-17T10:00:00Z", "application/warc-fields", NULL, block, strlen(block), 0);
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct {
    char text[64][512]; /* one line per record or defect, to compare readings */
    size_t n;
    size_t bad_n;
    optout_warc_bad_kind bad_kind[32];
    uint64_t bad_off[32];
    uint64_t bad_no[32];
    optout_warc_record last; /* the last response's scalars */
    char last_body[600 * 1024];
    char last_location[256];
    int stop_after;
} seen;

static void add_line(seen *s, const char *line) {
    if (s->n < 64) snprintf(s->text[s->n++], sizeof s->text[0], "%s", line);
}

static int on_record(const optout_warc_record *rec, void *arg) {
    seen *s = arg;
    char line[512];
    snprintf(line, sizeof line, "rec %llu @%llu %s %s %lld %s http=%d %d loc=%s body=%zu/%llu cut=%d tr=%d",
             (unsigned long long)rec->number, (unsigned long long)rec->offset, rec->type_name, rec->target_uri,
             (long long)rec->date, rec->crawl, rec->http, rec->status, rec->location, rec->body_len,
             (unsigned long long)rec->body_total, rec->body_cut, rec->warc_truncated);
    add_line(s, line);
    if (rec->type == OPTOUT_WARC_RESPONSE) {
        s->last = *rec;
        assert_true(rec->body_len < sizeof s->last_body);
        memcpy(s->last_body, rec->body, rec->body_len + 1); /* NUL-terminated */
        snprintf(s->last_location, sizeof s->last_location, "%s", rec->location);
    }
    return s->stop_after && s->n >= (size_t)s->stop_after;
}

static void on_bad(const optout_warc_bad *b, void *arg) {
    seen *s = arg;
    char line[512];
    snprintf(line, sizeof line, "bad %s @%llu #%llu %s", optout_warc_bad_name(b->kind), (unsigned long long)b->offset,
             (unsigned long long)b->number, b->message);
    add_line(s, line);
    if (s->bad_n < 32) {
        s->bad_kind[s->bad_n] = b->kind;
        s->bad_off[s->bad_n] = b->offset;
        s->bad_no[s->bad_n] = b->number;
        s->bad_n++;
    }
}

/* Reads b in pieces of `step` bytes (0: whole) into s; returns the counts. */
static optout_warc_counts read_in(const buf *b, size_t step, const char *name, seen *s) {
    memset(s, 0, sizeof *s);
    optout_warc_reader *r = optout_warc_new(name, on_record, on_bad, s);
    assert_non_null(r);
    char err[256];
    if (!step) step = b->len ? b->len : 1;
    for (size_t i = 0; i < b->len; i += step)
        assert_int_equal(optout_warc_feed(r, b->p + i, b->len - i < step ? b->len - i : step, err, sizeof err), 0);
    assert_int_equal(optout_warc_finish(r, err, sizeof err), 0);
    optout_warc_counts c = *optout_warc_counts_of(r);
    optout_warc_free(r);
    return c;
}

/* Reads b whole, byte by byte and 7 bytes at a time: the three must agree. Returns the whole
 * reading in *s. */
static optout_warc_counts read_all_ways(const buf *b, const char *name, seen *s) {
    static seen s1, s7;
    optout_warc_counts c = read_in(b, 0, name, s);
    optout_warc_counts c1 = read_in(b, 1, name, &s1);
    optout_warc_counts c7 = read_in(b, 7, name, &s7);
    assert_int_equal(s->n, s1.n);
    assert_int_equal(s->n, s7.n);
    for (size_t i = 0; i < s->n; i++) {
        assert_string_equal(s->text[i], s1.text[i]);
        assert_string_equal(s->text[i], s7.text[i]);
    }
    assert_memory_equal(&c, &c1, sizeof c);
    assert_memory_equal(&c, &c7, sizeof c);
    return c;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static const char ROBOTS[] = "User-agent: GPTBot\nDisallow: /\n";
static const char OK_HTTP[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Crawler-Content-Encoding: gzip\r\n"
                              "\r\nUser-agent: GPTBot\nDisallow: /\n";

/* WARC-Date as WARC 1.0 and 1.1 write it (a fraction of a second); an unreadable one on a
 * response is a bad header. */
static void test_dates(void **state) {
    (void)state;
    buf b = {0};
    response(&b, 1, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    response(&b, 1, "http://a.example/robots.txt", "2000-02-29T23:59:59.123456Z", OK_HTTP);
    response(&b, 1, "http://a.example/robots.txt", "1900-02-29T00:00:00Z", OK_HTTP);
    response(&b, 1, "http://a.example/robots.txt", "2019-13-01T00:00:00Z", OK_HTTP);
    seen s;
    optout_warc_counts c = read_all_ways(&b, "x", &s);
    assert_int_equal(c.responses, 2);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_HEADER], 2);
    assert_non_null(strstr(s.text[0], " 1566036672 "));
    assert_non_null(strstr(s.text[1], " 951868799 "));
    free(b.p);
}

/* A well-formed file, gzip and plain: every field of every record. */
static void good_file(buf *b, int gz) {
    warcinfo(b, gz, "CC-MAIN-2019-35");
    record(b, gz, "request", "http://a.example/robots.txt", "2019-08-17T10:11:12Z", "application/http; msgtype=request",
           NULL, "GET /robots.txt HTTP/1.1\r\n\r\n", 28, 0);
    response(b, gz, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    response(b, gz, "<https://b.example/robots.txt>", "2019-08-18T00:00:00.5Z",
             "HTTP/1.1 301 Moved Permanently\r\nlocation:   https://www.b.example/robots.txt \r\n\r\n");
    response(b, gz, "http://c.example/robots.txt", "2019-08-19T00:00:00Z", "HTTP/1.0 404\r\n\r\nnot here");
    record(b, gz, "metadata", "http://c.example/robots.txt", "2019-08-19T00:00:00Z", "application/warc-fields", NULL,
           "fetchTimeMs: 12\r\n", 17, 0);
}

static void check_good(int gz) {
    buf b = {0};
    good_file(&b, gz);
    seen s;
    optout_warc_counts c = read_all_ways(&b, "local/other-name.warc", &s);
    for (int k = 0; k < OPTOUT_WARC_BAD_COUNT; k++) assert_int_equal(c.bad[k], 0);
    assert_int_equal(c.records, 6);
    assert_int_equal(c.responses, 3);
    assert_int_equal(c.bytes_in, b.len);
    assert_int_equal(s.n, 6);
    assert_non_null(strstr(s.text[0], " warcinfo "));
    assert_non_null(strstr(s.text[2], " response http://a.example/robots.txt 1566036672 CC-MAIN-2019-35 http=1 200 "
                                      "loc= body=31/31 cut=0 tr=0"));
    assert_non_null(strstr(s.text[3], " https://b.example/robots.txt 1566086400 CC-MAIN-2019-35 http=1 301 "
                                      "loc=https://www.b.example/robots.txt body=0/0"));
    assert_non_null(strstr(s.text[4], " http=1 404 loc= body=8/8"));
    assert_non_null(strstr(s.text[5], " metadata "));
    /* numbers and offsets: records 1..6, increasing offsets; gzip: the members' starts */
    uint64_t prev = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned long long no, off;
        assert_int_equal(sscanf(s.text[i], "rec %llu @%llu", &no, &off), 2);
        assert_int_equal(no, i + 1);
        if (i == 0) assert_int_equal(off, 0);
        else assert_true(off > prev);
        prev = off;
    }
    assert_string_equal(s.last_body, "not here");
    free(b.p);
}

static void test_good_gzip(void **state) {
    (void)state;
    check_good(1);
}

static void test_good_plain(void **state) {
    (void)state;
    check_good(0);
}

/* The crawl id: the path's until a warcinfo names one. */
static void test_crawl_from_path(void **state) {
    (void)state;
    buf b = {0};
    response(&b, 1, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    warcinfo(&b, 1, "CC-MAIN-2020-05");
    response(&b, 1, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    seen s;
    read_all_ways(&b, "crawl-data/CC-MAIN-2019-35/segments/x/robotstxt/y.warc.gz", &s);
    assert_int_equal(s.n, 3);
    assert_non_null(strstr(s.text[0], " CC-MAIN-2019-35 "));
    read_all_ways(&b, "CC-MAIN-2019-355/y.warc.gz", &s); /* not a crawl id */
    assert_non_null(strstr(s.text[0], " 1566036672  http=1"));
    read_all_ways(&b, "crawl-data/CC-MAIN-2019-35/segments/x/robotstxt/y.warc.gz", &s);
    assert_int_equal(s.n, 3);
    assert_non_null(strstr(s.text[0], " CC-MAIN-2019-35 "));
    assert_non_null(strstr(s.text[2], " CC-MAIN-2020-05 "));
    read_all_ways(&b, "no-crawl-here.warc.gz", &s);
    assert_non_null(strstr(s.text[0], " 1566036672  http=1")); /* empty crawl id */
    free(b.p);
}

/* A flipped byte inside the second member: reported at that member's offset; the rest is read. */
static void test_broken_member(void **state) {
    (void)state;
    buf b = {0};
    response(&b, 1, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    size_t second = b.len;
    char big[4000];
    for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + (i * 7919) % 26);
    big[sizeof big - 1] = '\0';
    char http[5000];
    snprintf(http, sizeof http, "HTTP/1.1 200 OK\r\n\r\n%s", big);
    response(&b, 1, "http://b.example/robots.txt", "2019-08-17T10:11:12Z", http);
    size_t third = b.len;
    response(&b, 1, "http://c.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    /* deflate data of the body, past the WARC header (so that only the member fails) */
    for (size_t i = third - 60; i < third - 30; i++) b.p[i] ^= 0x55;
    seen s;
    optout_warc_counts c = read_all_ways(&b, "x.warc.gz", &s);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_GZIP], 1);
    assert_int_equal(c.responses, 2);
    assert_int_equal(s.bad_n, 1);
    assert_int_equal(s.bad_off[0], second);
    assert_non_null(strstr(s.text[s.n - 1], "c.example"));
    char want[64];
    snprintf(want, sizeof want, "@%zu ", third);
    assert_non_null(strstr(s.text[s.n - 1], want));
    free(b.p);
}

/* Content-Length past the end of the member, then of the file; a member cut short. */
static void test_length_past_end(void **state) {
    (void)state;
    buf b = {0};
    response(&b, 1, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    size_t second = b.len;
    record(&b, 1, "response", "http://b.example/robots.txt", "2019-08-17T10:11:12Z", HTTP_CT, NULL, OK_HTTP,
           strlen(OK_HTTP), 1000);
    response(&b, 1, "http://c.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    seen s;
    optout_warc_counts c = read_all_ways(&b, "x.warc.gz", &s);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_LENGTH], 1);
    assert_int_equal(c.responses, 2);
    assert_int_equal(s.bad_off[0], second);
    assert_int_equal(s.bad_no[0], 2);
    assert_non_null(strstr(s.text[s.n - 1], "c.example"));
    /* plain: the lie swallows to the end of the file */
    buf p = {0};
    response(&p, 0, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
    record(&p, 0, "response", "http://b.example/robots.txt", "2019-08-17T10:11:12Z", HTTP_CT, NULL, OK_HTTP,
           strlen(OK_HTTP), 1000);
    c = read_all_ways(&p, "x.warc", &s);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_LENGTH], 1);
    assert_int_equal(c.responses, 1);
    /* a gzip file cut inside its last member */
    b.len -= 30;
    c = read_all_ways(&b, "x.warc.gz", &s);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_GZIP], 1);
    assert_int_equal(c.bad[OPTOUT_WARC_BAD_LENGTH], 1);
    assert_int_equal(c.responses, 1);
    free(b.p);
    free(p.p);
}

/* No URI, not HTTP (by type and by payload), a bad date: counted, skipped, the rest read. */
static void test_bad_records(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        buf b = {0};
        response(&b, gz, NULL, "2019-08-17T10:11:12Z", OK_HTTP);
        record(&b, gz, "response", "http://a.example/robots.txt", "2019-08-17T10:11:12Z", "text/dns", NULL, "x", 1, 0);
        response(&b, gz, "http://a.example/robots.txt", "2019-08-17T10:11:12Z", "SSH-2.0-OpenSSH\r\n\r\n");
        response(&b, gz, "http://a.example/robots.txt", "yesterday", OK_HTTP);
        response(&b, gz, "http://ok.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
        seen s;
        optout_warc_counts c = read_all_ways(&b, "x", &s);
        assert_int_equal(c.bad[OPTOUT_WARC_BAD_NO_URI], 1);
        assert_int_equal(c.bad[OPTOUT_WARC_BAD_NOT_HTTP], 2);
        assert_int_equal(c.bad[OPTOUT_WARC_BAD_HEADER], 1);
        assert_int_equal(c.responses, 1);
        assert_int_equal(s.bad_no[0], 1);
        assert_int_equal(s.bad_no[3], 4);
        assert_non_null(strstr(s.text[s.n - 1], "rec 5 "));
        free(b.p);
    }
}

/* Header blocks over the limit (WARC and HTTP); garbage between plain records; a stopping visitor. */
static void test_oversize_and_garbage(void **state) {
    (void)state;
    size_t big = OPTOUT_WARC_HEADER_MAX + 100;
    char *extra = malloc(big + 64);
    memcpy(extra, "X-Filler: ", 10);
    memset(extra + 10, 'f', big);
    memcpy(extra + 10 + big, "\r\n", 3);
    for (int gz = 0; gz < 2; gz++) {
        buf b = {0};
        /* record() cannot hold a 64 KiB header in its buffer: write this one by hand */
        buf r = {0};
        const char *h = "WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 5\r\n";
        put(&r, h, strlen(h));
        put(&r, extra, strlen(extra));
        put(&r, "\r\nhello\r\n\r\n", 11);
        if (gz) put_gz(&b, r.p, r.len);
        else put(&b, r.p, r.len);
        free(r.p);
        /* an HTTP header over the limit */
        char *http = malloc(big + 64);
        snprintf(http, big + 64, "HTTP/1.1 200 OK\r\n%s\r\nbody", extra);
        response(&b, gz, "http://h.example/robots.txt", "2019-08-17T10:11:12Z", http);
        free(http);
        if (!gz) put(&b, "garbage\r\nmore garbage WARC/1.0\r\n", 32);
        response(&b, gz, "http://ok.example/robots.txt", "2019-08-17T10:11:12Z", OK_HTTP);
        seen s;
        optout_warc_counts c = read_all_ways(&b, "x", &s);
        assert_int_equal(c.bad[OPTOUT_WARC_BAD_OVERSIZE], 2);
        assert_int_equal(c.bad[OPTOUT_WARC_BAD_HEADER], gz ? 0 : 1);
        assert_int_equal(c.responses, 1);
        assert_non_null(strstr(s.text[s.n - 1], "ok.example"));
        free(b.p);
    }
    free(extra);
}

/* A body over OPTOUT_FETCH_BODY_MAX: cut after its last line end, flagged; WARC-Truncated kept. */
static void test_body_cut(void **state) {
    (void)state;
    size_t n = OPTOUT_FETCH_BODY_MAX + 5000;
    char *http = malloc(n + 64);
    int h = snprintf(http, n + 64, "HTTP/1.1 200 OK\r\n\r\n");
    for (size_t i = 0; i < n; i++) http[h + i] = (i % 50 == 49) ? '\n' : 'd';
    http[h + n] = '\0';
    buf b = {0};
    record(&b, 1, "response", "http://a.example/robots.txt", "2019-08-17T10:11:12Z", HTTP_CT,
           "WARC-Truncated: length\r\n", http, strlen(http), 0);
    static seen s;
    read_in(&b, 0, "x", &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.last.body_cut, 1);
    assert_int_equal(s.last.warc_truncated, 1);
    assert_int_equal(s.last.body_total, n);
    assert_true(s.last.body_len <= OPTOUT_FETCH_BODY_MAX);
    assert_true(s.last.body_len > OPTOUT_FETCH_BODY_MAX - 50);
    assert_int_equal(s.last_body[s.last.body_len - 1], '\n');
    free(http);
    free(b.p);
}

static void test_stop(void **state) {
    (void)state;
    buf b = {0};
    good_file(&b, 1);
    seen s;
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    optout_warc_reader *r = optout_warc_new("x", on_record, on_bad, &s);
    char err[128];
    assert_int_equal(optout_warc_feed(r, b.p, b.len, err, sizeof err), 1);
    assert_int_equal(optout_warc_feed(r, b.p, b.len, err, sizeof err), 1);
    assert_int_equal(optout_warc_finish(r, err, sizeof err), 1);
    assert_int_equal(s.n, 2);
    optout_warc_free(r);
    free(b.p);
}

/* optout_warc_read_file on a file on disk, and on a missing one. */
static void test_read_file(void **state) {
    (void)state;
    buf b = {0};
    good_file(&b, 1);
    FILE *f = fopen(tpath("a.warc.gz"), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.len, f), b.len);
    fclose(f);
    seen s;
    memset(&s, 0, sizeof s);
    optout_warc_counts c;
    char err[256];
    assert_int_equal(optout_warc_read_file(tpath("a.warc.gz"), on_record, on_bad, &s, &c, err, sizeof err), 0);
    assert_int_equal(c.records, 6);
    assert_int_equal(c.bytes_in, b.len);
    assert_int_equal(optout_warc_read_file(tpath("missing.warc.gz"), on_record, on_bad, &s, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing.warc.gz"));
    free(b.p);
    (void)ROBOTS;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_good_gzip),
        cmocka_unit_test(test_good_plain),
        cmocka_unit_test(test_crawl_from_path),
        cmocka_unit_test(test_broken_member),
        cmocka_unit_test(test_length_past_end),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_oversize_and_garbage),
        cmocka_unit_test(test_body_cut),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
