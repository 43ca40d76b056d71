/* history_scan.c — one robotstxt WARC file into a history archive writer (history_scan.h). */
#include "optout/history_scan.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "optout/hostkey.h"
#include "optout/log.h"
#include "optout/util.h"

int optout_history_scan_put(optout_strmap *m, const char *h, size_t len) {
    return optout_strmap_get(m, h, len) ? 0 : optout_strmap_put(m, h, len, (void *)1, NULL);
}

/* The redirect target of a 3xx: Location resolved against the captured URL; its host key and
 * scheme. 0, or -1 when it is no http(s) URL with a host. */
static int redirect_target(const char *base, const char *location, char key[OPTOUT_HOSTKEY_MAX], size_t *key_len,
                           optout_history_scheme *scheme) {
    if (!*location) return -1;
    CURLU *u = curl_url();
    char *full = NULL, *sch = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &sch, 0) == CURLUE_OK &&
        (!strcmp(sch, "http") || !strcmp(sch, "https"))) {
        int bad_idna = 0;
        if (optout_hostkey(full, strlen(full), OPTOUT_HOSTKEY_CANONICAL, key, key_len, &bad_idna) == OPTOUT_HOSTKEY_OK &&
            !bad_idna) {
            *scheme = !strcmp(sch, "https") ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
            rc = 0;
        }
    }
    curl_free(full);
    curl_free(sch);
    curl_url_cleanup(u);
    return rc;
}

static int history_record(const optout_warc_record *rec, void *arg) {
    optout_history_scan *st = arg;
    if (st->first_pass) {
        st->records++;
        st->responses += rec->http != 0;
        if (rec->crawl[0]) snprintf(st->file_crawl, sizeof st->file_crawl, "%s", rec->crawl);
    }
    if (!rec->http) return 0;
    char host[OPTOUT_HOSTKEY_MAX];
    size_t hlen;
    int bad_idna = 0;
    if (optout_hostkey(rec->target_uri, strlen(rec->target_uri), OPTOUT_HOSTKEY_CANONICAL, host, &hlen, &bad_idna) !=
        OPTOUT_HOSTKEY_OK) {
        if (st->first_pass) st->no_host++;
        return 0;
    }
    if (!optout_strmap_get(st->wanted, host, hlen)) return 0;
    optout_history_version v = {0};
    v.origin = OPTOUT_HISTORY_CC;
    v.scheme = optout_history_url_scheme(rec->target_uri, strlen(rec->target_uri));
    if (!rec->crawl[0]) st->no_crawl++;
    snprintf(v.crawl, sizeof v.crawl, "%s", rec->crawl);
    v.first = v.last = rec->date;
    v.status = rec->status;
    v.outcome = optout_history_status_outcome(rec->status);
    char target[OPTOUT_HOSTKEY_MAX];
    size_t tlen;
    if (rec->status >= 300 && rec->status < 400 &&
        redirect_target(rec->target_uri, rec->location, target, &tlen, &v.redirect_scheme) == 0) {
        v.redirect = target;
        if (st->next && !(st->seen && optout_strmap_get(st->seen, target, tlen)) &&
            optout_history_scan_put(st->next, target, tlen) != 0)
            goto oom;
    }
    v.truncated = rec->warc_truncated || rec->body_cut;
    if (optout_history_writer_add(st->w, host, &v, 1, rec->body, rec->body_len, st->err, sizeof st->err) != 0) {
        st->failed = 1;
        return 1;
    }
    st->captures++;
    return 0;
oom:
    snprintf(st->err, sizeof st->err, "out of memory");
    st->failed = 1;
    return 1;
}

static void history_bad(const optout_warc_bad *b, void *arg) {
    optout_history_scan *st = arg;
    if (!st->first_pass) return;
    st->bad[b->kind]++;
    if (st->shown++ < OPTOUT_HISTORY_SCAN_BAD_SHOWN)
        optout_log(LOG_WARNING, "%s: offset %" PRIu64 ", record %" PRIu64 ": %s: %s", st->location, b->offset,
                   b->number, optout_warc_bad_name(b->kind), b->message);
    else if (st->shown == OPTOUT_HISTORY_SCAN_BAD_SHOWN + 1)
        optout_log(LOG_WARNING, "%s: more bad records (counted, not named)", st->location);
}

typedef struct {
    optout_warc_reader *r;
    char *err;
    size_t errlen;
    int rc;
} feed_state;

static int history_feed(const void *data, size_t len, void *arg) {
    feed_state *f = arg;
    f->rc = optout_warc_feed(f->r, data, len, f->err, f->errlen);
    return f->rc != 0;
}

int optout_history_scan_file(optout_history_scan *st, const char *location, const optout_cc_stream_options *so, char *err,
                        size_t errlen) {
    st->location = location;
    st->shown = 0;
    st->file_crawl[0] = '\0';
    optout_warc_reader *r = optout_warc_new(location, history_record, history_bad, st);
    if (!r) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    feed_state f = {r, err, errlen, 0};
    int rc = optout_cc_stream(location, so, history_feed, &f, err, errlen);
    if (rc == 1 && f.rc != 0) rc = f.rc; /* the reader stopped the stream */
    if (rc == 0) rc = optout_warc_finish(r, err, errlen);
    if (rc == 1 && st->failed) {
        optout_set_err(err, errlen, "%s: %s", location, st->err);
        rc = -1;
    }
    if (st->first_pass && rc == 0) {
        const optout_warc_counts *c = optout_warc_counts_of(r);
        st->files++;
        st->bytes += c->bytes_in;
        if (optout_history_writer_source(st->w, location, st->file_crawl, c->bytes_in, c->records, c->responses, c->bad,
                                         OPTOUT_WARC_BAD_COUNT, err, errlen) != 0)
            rc = -1;
    }
    optout_warc_free(r);
    return rc;
}

