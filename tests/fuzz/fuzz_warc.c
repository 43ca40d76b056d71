/* fuzz_warc.c — libFuzzer target for the WARC reader (include/optout/warc.h).
 *
 * Input layout:
 *   byte 0      bits 0-6: the size of the pieces fed after the first reading (1 + value)
 *               bit 7: the rest is split on the two bytes "\0\0" and each part is written as its
 *               own gzip member (so that mutations of plain WARC text reach the gzip path too)
 *   the rest    the file (plain or gzip by its first byte, as the reader sees it)
 *
 * Invariants (abort on violation):
 * - the file fed whole and fed in pieces gives the same records (type, URI, date, crawl, offset,
 *   number, status, Location, body) and the same bad records (kind, offset, number) in the same
 *   order, and the same counts
 * - counts.records equals the records reported, counts.responses the HTTP ones, bytes_in the size
 * - numbers are increasing, offsets never decrease and are below bytes_in
 * - an HTTP record: a response, status 100..999, a non-empty target URI and a date, body
 *   NUL-terminated, body_len <= OPTOUT_FETCH_BODY_MAX and <= body_total, cut only past the limit
 * - a bad record's message is non-empty
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz_target.h"
#include "optout/warc.h"

#define LOG_CAP 4096

typedef struct {
    uint64_t h[LOG_CAP]; /* one hash per event */
    size_t n;
    uint64_t records, responses, last_no, last_off, bytes;
} trace;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static void event(trace *t, uint64_t h) {
    if (t->n < LOG_CAP) t->h[t->n] = h;
    t->n++;
}

static int on_record(const optout_warc_record *r, void *arg) {
    trace *t = arg;
    t->records++;
    CHECK(r->number > t->last_no);
    CHECK(r->offset >= t->last_off);
    t->last_no = r->number;
    t->last_off = r->offset;
    CHECK(r->type_name && r->target_uri && r->crawl && r->location && r->body);
    CHECK(strlen(r->crawl) < OPTOUT_HISTORY_CRAWL_MAX);
    if (r->http) {
        t->responses++;
        CHECK(r->type == OPTOUT_WARC_RESPONSE);
        CHECK(r->status >= 100 && r->status <= 999);
        CHECK(r->target_uri[0] != '\0');
        CHECK(r->date != OPTOUT_WARC_NO_DATE);
        CHECK(r->body[r->body_len] == '\0');
        CHECK(r->body_len <= OPTOUT_FETCH_BODY_MAX);
        CHECK(r->body_len <= r->body_total);
        CHECK(r->body_cut == (r->body_total > OPTOUT_FETCH_BODY_MAX));
        CHECK(r->body_cut || r->body_len == r->body_total);
    }
    uint64_t h = 1469598103934665603ULL;
    h = mix(h, &r->type, sizeof r->type);
    h = mix(h, r->target_uri, strlen(r->target_uri));
    h = mix(h, &r->date, sizeof r->date);
    h = mix(h, r->crawl, strlen(r->crawl));
    h = mix(h, &r->offset, sizeof r->offset);
    h = mix(h, &r->number, sizeof r->number);
    h = mix(h, &r->status, sizeof r->status);
    h = mix(h, r->location, strlen(r->location));
    h = mix(h, r->body, r->body_len);
    h = mix(h, r->headers, r->headers_len);
    event(t, h);
    return 0;
}

static void on_bad(const optout_warc_bad *b, void *arg) {
    trace *t = arg;
    CHECK((unsigned)b->kind < OPTOUT_WARC_BAD_COUNT);
    CHECK(b->message && b->message[0]);
    uint64_t h = 7;
    h = mix(h, &b->kind, sizeof b->kind);
    h = mix(h, &b->offset, sizeof b->offset);
    h = mix(h, &b->number, sizeof b->number);
    event(t, h);
}

static optout_warc_counts run(const uint8_t *p, size_t n, size_t step, trace *t) {
    memset(t, 0, sizeof *t);
    optout_warc_reader *r = optout_warc_new("fuzz/CC-MAIN-2019-35/x.warc.gz", on_record, on_bad, t);
    CHECK(r);
    char err[256];
    for (size_t i = 0; i < n; i += step) CHECK(optout_warc_feed(r, p + i, n - i < step ? n - i : step, err, sizeof err) == 0);
    CHECK(optout_warc_finish(r, err, sizeof err) == 0);
    optout_warc_counts c = *optout_warc_counts_of(r);
    optout_warc_free(r);
    CHECK(c.records == t->records);
    CHECK(c.responses == t->responses);
    CHECK(c.bytes_in == n);
    CHECK(n == 0 || t->last_off < n || t->records == 0);
    return c;
}

/* The parts of in split on "\0\0", each one gzip member. */
static uint8_t *members(const uint8_t *in, size_t n, size_t *out_len) {
    size_t cap = n * 2 + 64 * (n / 2 + 1) + 64;
    uint8_t *out = malloc(cap);
    CHECK(out);
    size_t len = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !(i + 1 < n && in[i] == 0 && in[i + 1] == 0)) continue;
        z_stream z = {0};
        CHECK(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        z.next_in = (Bytef *)(in + start);
        z.avail_in = (uInt)(i - start);
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
        len = cap - z.avail_out;
        deflateEnd(&z);
        start = i + 2;
        i++;
    }
    *out_len = len;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t step = 1 + (data[0] & 0x7f);
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint8_t *wrapped = NULL;
    if (data[0] & 0x80) {
        wrapped = members(p, n, &n);
        p = wrapped;
    }
    static trace a, b;
    optout_warc_counts ca = run(p, n, n ? n : 1, &a);
    optout_warc_counts cb = run(p, n, step, &b);
    CHECK(a.n == b.n);
    for (size_t i = 0; i < a.n && i < LOG_CAP; i++) CHECK(a.h[i] == b.h[i]);
    CHECK(memcmp(&ca, &cb, sizeof ca) == 0);
    free(wrapped);
    return 0;
}
