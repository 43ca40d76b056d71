/* wayback.c — robots.txt captures from the Wayback Machine (include/optout/wayback.h: contract).
 *
 * Every transfer goes through optout_cc_stream (ccsource.h): its retries, backoff, Retry-After and
 * same-origin redirects are the ones of Common Crawl's files; this module adds the pacing hook
 * that spaces every request, the CDX answer's parser, and the resumable blocks. A block's
 * captures and queries are written only once all its bodies are on disk, so a block file means
 * "nothing left to ask for these hosts".
 */
#include "optout/wayback.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "optout/ccsource.h"
#include "optout/fetch.h"
#include "optout/files.h"
#include "optout/hostkey.h"
#include "optout/jsonl.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/version.h"
#include "optout/warc.h"

#define WB_PAGE_ROWS 5000                      /* CDX rows asked per page */
#define WB_PAGES_MAX 1000                      /* a host with more pages is cut (warned) */
#define WB_ANSWER_MAX ((size_t)64 << 20)       /* one CDX page */
#define WB_BODY_MAX (OPTOUT_FETCH_BODY_MAX * 4) /* a replayed robots.txt larger than this is dropped */
#define WB_DIGEST_MAX 64
#define WB_TIME_MAX INT64_C(253402300799)      /* 9999-12-31T23:59:59Z: the last time of 14 digits */
#define WB_BLOCK_HOSTS_DEFAULT 100
#define WB_PROGRESS_MS 10000

int optout_wayback_rate_parse(const char *text, double *rate) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || !(v <= 1000) || optout_is_space(text[0])) return -1;
    *rate = v;
    return 0;
}

/* ---- pacing ----------------------------------------------------------------------------------- */

typedef struct {
    int64_t interval_ms, next_ms;
    int run429;
    long pause_ms;
    uint64_t *requests;
    volatile sig_atomic_t *stop;
} pacer;

/* The hook of every request: one token per interval, never saved up beyond one. */
static int pace(void *arg, long prev_status) {
    pacer *p = arg;
    if (prev_status == 429) p->run429++;
    else if (prev_status != 0) p->run429 = 0;
    if (p->run429 >= OPTOUT_WAYBACK_PAUSE_AFTER_429) {
        optout_log(LOG_WARNING, "wayback: %d answers 429 in a row: pausing every request for %ld s", p->run429,
                   p->pause_ms / 1000);
        p->run429 = 0;
        if (optout_nap_ms(p->pause_ms, p->stop)) return 1;
    }
    int64_t now = optout_now_ms();
    if (p->next_ms > now && optout_nap_ms(p->next_ms - now, p->stop)) return 1;
    now = optout_now_ms();
    p->next_ms = now + p->interval_ms;
    (*p->requests)++;
    return 0;
}

/* ---- memory sink ------------------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap, max;
    int over;
} wbuf;

static int to_wbuf(const void *data, size_t len, void *arg) {
    wbuf *b = arg;
    if (len > b->max - b->len) {
        b->over = 1;
        return 1;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) optout_oom("wayback answer");
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

/* ---- the CDX answer --------------------------------------------------------------------------- */

typedef struct {
    char host[OPTOUT_HOSTKEY_MAX];
    int https;
    int64_t time;
    int status;
    char digest[WB_DIGEST_MAX + 1];
    char *original;
} wb_capture;

typedef struct {
    wb_capture *items;
    size_t count, cap;
} wb_captures;

static void captures_push(wb_captures *c, const wb_capture *x) {
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        void *q = realloc(c->items, c->cap * sizeof *c->items);
        if (!q) optout_oom("wayback captures");
        c->items = q;
    }
    c->items[c->count++] = *x;
}

static void captures_free(wb_captures *c) {
    for (size_t i = 0; i < c->count; i++) free(c->items[i].original);
    free(c->items);
    *c = (wb_captures){0};
}

static void skip_ws(const char **p, const char *end) {
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) (*p)++;
}

/* A JSON string at *p: its decoded bytes into out (at most cap-1, NUL-terminated; longer: -1). */
static int json_str(const char **p, const char *end, char *out, size_t cap) {
    if (*p >= end || **p != '"') return -1;
    const char *s = ++(*p);
    while (*p < end && **p != '"') {
        if ((unsigned char)**p < 0x20) return -1;
        if (**p == '\\') (*p)++;
        (*p)++;
    }
    if (*p >= end) return -1;
    size_t raw = (size_t)(*p - s);
    (*p)++;
    if (raw >= cap) return -1;
    size_t n = optout_json_unescape(s, raw, out);
    out[n] = '\0';
    return 0;
}

/* After a list item: 1 and past a ',', 0 and past the closing ']', -1 for anything else. */
static int list_next(const char **p, const char *end) {
    skip_ws(p, end);
    if (*p < end && (**p == ',' || **p == ']')) return *(*p)++ == ',';
    return -1;
}

#define WB_FIELD_MAX 4096
#define WB_FIELDS 5

/* 14 digits YYYYMMDDhhmmss (UTC) to Unix seconds: 0, or -1. */
static int cdx_time(const char *s, int64_t *t) {
    if (strlen(s) != 14) return -1;
    for (int i = 0; i < 14; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    char d[11];
    snprintf(d, sizeof d, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
    int64_t day;
    if (optout_history_parse_time(d, 10, &day) != 0) return -1;
    int hh = (s[8] - '0') * 10 + (s[9] - '0'), mm = (s[10] - '0') * 10 + (s[11] - '0'),
        ss = (s[12] - '0') * 10 + (s[13] - '0');
    if (hh > 23 || mm > 59 || ss > 60) return -1;
    *t = day + hh * 3600 + mm * 60 + ss;
    return *t < 0 || *t > WB_TIME_MAX ? -1 : 0; /* no capture predates 1970 (the archive began in 1996) */
}

static int digest_ok(const char *d) {
    size_t n = strlen(d);
    if (n == 0 || n > WB_DIGEST_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((d[i] >= 'A' && d[i] <= 'Z') || (d[i] >= '0' && d[i] <= '9'))) return 0;
    return 1;
}

static int original_ok(const char *o) {
    if (strncmp(o, "http://", 7) != 0 && strncmp(o, "https://", 8) != 0) return 0;
    for (const char *p = o; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#') return 0;
    return 1;
}

typedef struct {
    const optout_strmap *group; /* listed host keys of this group */
    wb_captures *out;
    uint64_t rows, kept, other, bad;
} cdx_sink;

/* One data row (fields as named by fl=). */
static void cdx_row(cdx_sink *k, char f[WB_FIELDS][WB_FIELD_MAX], size_t nf) {
    k->rows++;
    wb_capture c = {0};
    uint64_t status;
    if (nf != WB_FIELDS || cdx_time(f[0], &c.time) != 0 || !original_ok(f[1]) ||
        optout_parse_u64(f[2], strlen(f[2]), 599, &status) != 0 || strlen(f[2]) != 3 || status < 100) {
        k->bad++;
        return;
    }
    c.status = (int)status;
    int is2xx = status >= 200 && status < 300;
    if (is2xx && !digest_ok(f[3])) {
        k->bad++;
        return;
    }
    snprintf(c.digest, sizeof c.digest, "%s", digest_ok(f[3]) ? f[3] : "-");
    size_t hlen;
    int bad_idna = 0;
    if (optout_hostkey(f[1], strlen(f[1]), OPTOUT_HOSTKEY_CANONICAL, c.host, &hlen, &bad_idna) != OPTOUT_HOSTKEY_OK ||
        bad_idna) {
        k->bad++;
        return;
    }
    if (!optout_strmap_get(k->group, c.host, hlen)) {
        k->other++;
        return;
    }
    c.https = strncmp(f[1], "https://", 8) == 0;
    if (!(c.original = strdup(f[1]))) optout_oom("wayback captures");
    captures_push(k->out, &c);
    k->kept++;
}

/* Parses one page: [["timestamp",...header], [row], ..., [] , ["resumeKey"]]. The resume key (when
 * the page ends with one) goes into resume (cap bytes). 0, or -1 with err. */
static int cdx_parse(const char *text, size_t len, cdx_sink *k, char *resume, size_t cap, char *err, size_t errlen) {
    char f[WB_FIELDS][WB_FIELD_MAX]; /* 20 KiB: one row's fields */
    const char *p = text, *end = text + len;
    resume[0] = '\0';
    skip_ws(&p, end);
    if (p == end) return 0; /* an empty answer: no capture (the CDX's plain-text form) */
    if (*p != '[') goto bad;
    p++;
    int row_no = 0, after_empty = 0;
    for (;;) {
        skip_ws(&p, end);
        if (p < end && *p == ']' && row_no == 0) {
            p++;
            break;
        }
        if (p >= end || *p != '[') goto bad;
        p++;
        size_t nf = 0;
        skip_ws(&p, end);
        if (p < end && *p == ']') {
            p++;
        } else {
            for (;;) {
                skip_ws(&p, end);
                char tmp[WB_FIELD_MAX];
                if (json_str(&p, end, nf < WB_FIELDS ? f[nf] : tmp, WB_FIELD_MAX) != 0) goto bad;
                nf++;
                int more = list_next(&p, end);
                if (more < 0) goto bad;
                if (!more) break;
            }
        }
        if (row_no == 0) {
            if (nf != WB_FIELDS || strcmp(f[0], "timestamp") || strcmp(f[1], "original") || strcmp(f[2], "statuscode") ||
                strcmp(f[3], "digest") || strcmp(f[4], "length"))
                goto bad;
        } else if (nf == 0) {
            after_empty = 1;
        } else if (after_empty) {
            if (nf != 1 || strlen(f[0]) >= cap) goto bad;
            snprintf(resume, cap, "%s", f[0]);
        } else {
            cdx_row(k, f, nf);
        }
        row_no++;
        int more = list_next(&p, end);
        if (more < 0) goto bad;
        if (!more) break;
    }
    skip_ws(&p, end);
    if (p != end) goto bad;
    return 0;
bad:
    optout_set_err(err, errlen, "not a CDX JSON answer (at byte %zu of %zu)", (size_t)(p - text), len);
    return -1;
}

/* ---- files ------------------------------------------------------------------------------------ */

static int make_dir(const char *path, char *err, size_t errlen) {
    struct stat sb;
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        optout_set_err(err, errlen, "%s: not a directory (a link is refused)", path);
        return -1;
    }
    return 0;
}

/* ---- a run ------------------------------------------------------------------------------------ */

typedef struct {
    const optout_wayback_options *o;
    optout_wayback_stats *st;
    pacer pace;
    optout_cc_stream_options so;
    long last_status;
    char ua[160];
    char bodies_dir[4096];
    optout_strmap *tried; /* digests asked for in this run */
} wb_run;

static const char *base_of(const char *host) { return strncmp(host, "www.", 4) == 0 && host[4] ? host + 4 : host; }

/* The CDX pages of one group into c. 0; -1 with err for a failure of the transfer (the run
 * stops); 2 for an answer that is not CDX JSON (the group fails alone). */
static int query_group(wb_run *r, const char *group, const optout_strmap *listed, wb_captures *c, char sha[65],
                       uint64_t *rows, char *err, size_t errlen) {
    wbuf all = {.max = SIZE_MAX};
    char resume[2048] = "";
    cdx_sink k = {.group = listed, .out = c};
    int rc = 0;
    CURL *esc = curl_easy_init();
    if (!esc) optout_oom("curl");
    for (int page = 0; page < WB_PAGES_MAX; page++) {
        char *eg = curl_easy_escape(esc, group, 0), *er = resume[0] ? curl_easy_escape(esc, resume, 0) : NULL;
        char *url;
        if (!eg || asprintf(&url,
                            "%s/cdx/search/cdx?url=%s/robots.txt&output=json&fl=timestamp,original,statuscode,digest,"
                            "length&from=%d&to=%d&showResumeKey=true&limit=%d%s%s",
                            r->o->base, eg, r->o->from_year, r->o->to_year, WB_PAGE_ROWS, er ? "&resumeKey=" : "",
                            er ? er : "") < 0)
            optout_oom("url");
        curl_free(eg);
        curl_free(er);
        wbuf b = {.max = WB_ANSWER_MAX};
        r->st->queries++;
        int s = optout_cc_stream(url, &r->so, to_wbuf, &b, err, errlen);
        if (s == 1 && b.over) {
            optout_set_err(err, errlen, "%s: answer larger than %zu bytes", url, WB_ANSWER_MAX);
            s = 2;
        } else if (s == 1) {
            optout_set_err(err, errlen, "%s: interrupted", url);
            rc = 1;
        } else if (s == 0) {
            to_wbuf(b.p ? b.p : "", b.len, &all);
            char perr[200];
            if (cdx_parse(b.p ? b.p : "", b.len, &k, resume, sizeof resume, perr, sizeof perr) != 0) {
                optout_set_err(err, errlen, "%s: %s", url, perr);
                s = 2;
            }
        } else {
            rc = -1;
        }
        free(url);
        free(b.p);
        if (s == 2) rc = 2;
        if (rc != 0 || !resume[0]) break;
        if (page == WB_PAGES_MAX - 1) optout_log(LOG_WARNING, "wayback: %s: more than %d pages, cut", group, WB_PAGES_MAX);
    }
    curl_easy_cleanup(esc);
    optout_sha256_hex(all.p ? all.p : "", all.len, sha);
    free(all.p);
    *rows = k.rows;
    r->st->rows += k.rows;
    r->st->rows_kept += k.kept;
    r->st->rows_other_host += k.other;
    r->st->rows_bad += k.bad;
    return rc;
}

/* The body of a 2xx capture's digest into STATE/bodies/DIGEST unless there. 0 (there now, or
 * dropped: warned), 1 stopped, -1 with err. */
static int fetch_body(wb_run *r, const wb_capture *c, char *err, size_t errlen) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->bodies_dir, c->digest);
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        r->st->bodies_reused++;
        return 0;
    }
    if (optout_strmap_get(r->tried, c->digest, strlen(c->digest))) return 0;
    if (optout_strmap_put(r->tried, c->digest, strlen(c->digest), (void *)1, NULL) != 0) optout_oom("digests");
    char ts[16];
    struct tm tm;
    time_t t = (time_t)c->time;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y%m%d%H%M%S", &tm);
    char *url;
    if (asprintf(&url, "%s/web/%sid_/%s", r->o->base, ts, c->original) < 0) optout_oom("url");
    wbuf b = {.max = WB_BODY_MAX};
    int s = optout_cc_stream(url, &r->so, to_wbuf, &b, err, errlen);
    int rc = 0;
    if (s == 0) {
        rc = optout_publish_bytes(path, b.p ? b.p : "", b.len, 0644, err, errlen);
        if (rc == 0) r->st->bodies_fetched++;
    } else if (s == 1 && !b.over) {
        rc = 1;
    } else if (b.over || (r->last_status >= 400 && r->last_status < 500 && r->last_status != 429) ||
               r->last_status == 200 || r->last_status == 206) {
        /* the archive does not have it, or cannot send it whole: not worth failing a run for */
        optout_log(LOG_WARNING, "wayback: %s: %s: the captures of digest %s are dropped", c->host,
                   b.over ? "body too large" : err, c->digest);
        r->st->bodies_dropped++;
    } else {
        rc = -1;
    }
    free(url);
    free(b.p);
    return rc;
}

/* The identity of a block: base, years and its hosts. */
static void block_key(const wb_run *r, const char *const *hosts, size_t n, char hex[65]) {
    wbuf b = {.max = SIZE_MAX};
    char head[512];
    int len = snprintf(head, sizeof head, "%s\n%d\n%d\n", r->o->base, r->o->from_year, r->o->to_year);
    to_wbuf(head, (size_t)len, &b);
    for (size_t i = 0; i < n; i++) {
        to_wbuf(hosts[i], strlen(hosts[i]), &b);
        to_wbuf("\n", 1, &b);
    }
    optout_sha256_hex(b.p, b.len, hex);
    free(b.p);
}

/* What a finished block file says, for a run that asks again only for its failed groups: its Q
 * lines by group (a failed one absent) and its C lines as they are. */
typedef struct {
    optout_strmap *q; /* group -> its Q line (malloc'd, "\n" included) */
    wbuf c;           /* the C lines */
    size_t failed;    /* groups whose query failed */
} wb_old;

static void old_free(wb_old *o) {
    optout_strmap_free(o->q, free);
    free(o->c.p);
    *o = (wb_old){0};
}

/* Reads the Q and C lines of a finished block file (block_is checked its header). 0, -1 with err. */
static int old_read(const char *path, wb_old *o, char *err, size_t errlen) {
    size_t len;
    char *text = optout_read_file(path, SIZE_MAX, &len);
    *o = (wb_old){.c = {.max = SIZE_MAX}};
    if (!text) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!(o->q = optout_strmap_new())) optout_oom("groups");
    for (char *l = text, *nl; *l; l = nl + 1) {
        if (!(nl = strchr(l, '\n'))) break;
        size_t n = (size_t)(nl - l) + 1;
        if (l[0] == 'C' && l[1] == '\t') {
            to_wbuf(l, n, &o->c);
        } else if (l[0] == 'Q' && l[1] == '\t') {
            char *g = l + 2, *tab = memchr(g, '\t', (size_t)(nl - g));
            if (!tab) continue; /* load_block names a bad line */
            if (nl - l >= 2 && nl[-1] == '1' && nl[-2] == '\t') { /* its query failed: asked again */
                o->failed++;
                continue;
            }
            char *line = strndup(l, n);
            if (!line || optout_strmap_put(o->q, g, (size_t)(tab - g), line, NULL) != 0) optout_oom("groups");
        }
    }
    free(text);
    return 0;
}

/* Asks for one block and writes its file. With old (a finished block whose queries partly
 * failed), only the groups without a Q line in it are asked again; the others keep their lines.
 * 0, 1 stopped, -1 with err. */
static int run_block(wb_run *r, const char *path, const char *key, const char *const *hosts, size_t n,
                     const wb_old *old, char *err, size_t errlen) {
    wbuf out = {.max = SIZE_MAX};
    char line[8192];
    int len = snprintf(line, sizeof line, "#optout-wayback 1\t%s\n", key);
    to_wbuf(line, (size_t)len, &out);
    wb_captures c = {0};
    int rc = 0;
    optout_strmap *done = optout_strmap_new();
    if (!done) optout_oom("groups");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *group = base_of(hosts[i]);
        if (optout_strmap_get(done, group, strlen(group))) continue;
        if (optout_strmap_put(done, group, strlen(group), (void *)1, NULL) != 0) optout_oom("groups");
        const char *kept = old ? optout_strmap_get(old->q, group, strlen(group)) : NULL;
        if (kept) {
            to_wbuf(kept, strlen(kept), &out);
            continue;
        }
        if (old) r->st->hosts_retried++;
        /* the listed hosts of this group: the group itself and its www. form, as far as listed */
        optout_strmap *listed = optout_strmap_new();
        if (!listed) optout_oom("groups");
        for (size_t j = i; j < n && !strcmp(base_of(hosts[j]), group); j++) /* a group is contiguous */
            if (optout_strmap_put(listed, hosts[j], strlen(hosts[j]), (void *)1, NULL) != 0) optout_oom("groups");
        char sha[65];
        uint64_t rows = 0;
        size_t before = c.count;
        int64_t now = (int64_t)time(NULL);
        int q = query_group(r, group, listed, &c, sha, &rows, err, errlen);
        optout_strmap_free(listed, NULL);
        if (q == 2) {
            optout_log(LOG_WARNING, "wayback: %s: %s: no captures kept for this host in this run", group, err);
            for (size_t k = before; k < c.count; k++) free(c.items[k].original);
            c.count = before;
        } else if (q != 0) {
            rc = q;
            break;
        }
        len = snprintf(line, sizeof line, "Q\t%s\t%" PRId64 "\t%s\t%" PRIu64 "\t%d\n", group, now, sha, rows, q == 2);
        to_wbuf(line, (size_t)len, &out);
    }
    optout_strmap_free(done, NULL);
    if (old && rc == 0 && old->c.len) to_wbuf(old->c.p, old->c.len, &out);
    for (size_t i = 0; i < c.count && rc == 0; i++) {
        const wb_capture *x = &c.items[i];
        if (x->status >= 200 && x->status < 300) rc = fetch_body(r, x, err, errlen);
        len = snprintf(line, sizeof line, "C\t%s\t%s\t%" PRId64 "\t%d\t%s\n", x->host, x->https ? "https" : "http",
                       x->time, x->status, x->digest);
        to_wbuf(line, (size_t)len, &out);
    }
    if (rc == 0) {
        to_wbuf("E\n", 2, &out);
        rc = optout_publish_bytes(path, out.p, out.len, 0644, err, errlen);
    }
    captures_free(&c);
    free(out.p);
    return rc;
}

/* 1 when path is a block file of this key (its header; load_block checks the rest). */
static int block_is(const char *path, const char *key) {
    char head[128], got[128];
    int len = snprintf(head, sizeof head, "#optout-wayback 1\t%s\n", key);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    ssize_t n = read(fd, got, (size_t)len);
    close(fd);
    return n == len && memcmp(got, head, (size_t)len) == 0;
}

/* Reads a block file: its captures into the writer, its queries into the stats. 1 when the file
 * is another block's (or torn: done again), 0 done, -1 with err. */
static int load_block(wb_run *r, const char *path, const char *key, optout_history_writer *w, wbuf *answers,
                      char *err, size_t errlen) {
    size_t len;
    char *text = optout_read_file(path, SIZE_MAX, &len);
    if (!text) return errno == ENOENT ? 1 : (optout_set_err(err, errlen, "%s: %s", path, strerror(errno)), -1);
    char head[128];
    snprintf(head, sizeof head, "#optout-wayback 1\t%s\n", key);
    if (len < strlen(head) + 2 || strncmp(text, head, strlen(head)) != 0 || strcmp(text + len - 2, "E\n") != 0) {
        free(text);
        return 1;
    }
    int rc = 0;
    size_t lineno = 1;
    char *save = NULL;
    for (char *l = strtok_r(text + strlen(head), "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *f[7];
        size_t nf = 0;
        for (char *p = l; nf < 7;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf == 1 && !strcmp(f[0], "E")) break;
        int64_t t;
        uint64_t u;
        if (nf == 6 && !strcmp(f[0], "Q")) {
            uint64_t rows;
            /* a block file is read back from disk: every number checked like any file's */
            if (optout_parse_u64(f[2], strlen(f[2]), WB_TIME_MAX, &u) != 0 ||
                optout_parse_u64(f[4], strlen(f[4]), UINT32_MAX, &rows) != 0) {
                optout_set_err(err, errlen, "%s:%zu: not a block line", path, lineno);
                rc = -1;
                break;
            }
            t = (int64_t)u;
            if (!r->st->query_first || t < r->st->query_first) r->st->query_first = t;
            if (t > r->st->query_last) r->st->query_last = t;
            r->st->hosts_failed += f[5][0] == '1';
            r->st->rows_recorded += rows;
            to_wbuf(f[1], strlen(f[1]), answers);
            to_wbuf("\t", 1, answers);
            to_wbuf(f[3], strlen(f[3]), answers);
            to_wbuf("\n", 1, answers);
            continue;
        }
        uint64_t when;
        if (nf != 6 || strcmp(f[0], "C") || optout_parse_u64(f[4], strlen(f[4]), 599, &u) != 0 ||
            optout_parse_u64(f[3], strlen(f[3]), WB_TIME_MAX, &when) != 0 ||
            (strcmp(f[2], "http") && strcmp(f[2], "https")) || (strcmp(f[5], "-") && !digest_ok(f[5]))) {
            optout_set_err(err, errlen, "%s:%zu: not a block line", path, lineno);
            rc = -1;
            break;
        }
        t = (int64_t)when;
        optout_history_version v = {0};
        v.origin = OPTOUT_HISTORY_WAYBACK;
        v.scheme = !strcmp(f[2], "https") ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP;
        v.first = v.last = t;
        v.status = (int)u;
        if (u >= 300 && u < 400) {
            r->st->redirects_skipped++;
            continue;
        }
        v.outcome = optout_history_status_outcome(v.status);
        char *body = NULL;
        size_t blen = 0;
        if (v.outcome == OPTOUT_OUTCOME_OK) {
            char bpath[4400];
            snprintf(bpath, sizeof bpath, "%s/%s", r->bodies_dir, f[5]);
            if (!(body = optout_read_file(bpath, WB_BODY_MAX, &blen))) {
                r->st->captures_dropped++; /* its body was dropped */
                continue;
            }
        }
        if (optout_history_writer_add(w, f[1], &v, 1, body, blen, err, errlen) != 0) rc = -1;
        else r->st->captures++;
        free(body);
    }
    free(text);
    return rc;
}

typedef struct {
    const char *host;
    size_t at;
} wb_order;

/* By group, then the list's order: a group's hosts are one run, asked for in one query. */
static int by_group(const void *x, const void *y) {
    const wb_order *a = x, *b = y;
    int c = strcmp(base_of(a->host), base_of(b->host));
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

/* Hosts in group order, and blocks of bh groups (0: the default; a group never spans two blocks):
 * block b is sorted[bstart[b] .. bstart[b + 1]) and holds bgroups[b] groups. Returns the number of
 * blocks; the three arrays are malloc'd. */
static size_t plan_blocks(const char *const *hosts, size_t n, size_t bh, const char ***sorted_out, size_t **bstart_out,
                          size_t **bgroups_out) {
    if (!bh) bh = WB_BLOCK_HOSTS_DEFAULT;
    wb_order *ord = calloc(n ? n : 1, sizeof *ord);
    const char **sorted = calloc(n ? n : 1, sizeof *sorted);
    size_t *bstart = calloc(n + 2, sizeof *bstart), *bgroups = calloc(n + 2, sizeof *bgroups);
    if (!ord || !sorted || !bstart || !bgroups) optout_oom("blocks");
    for (size_t i = 0; i < n; i++) ord[i] = (wb_order){hosts[i], i};
    qsort(ord, n, sizeof *ord, by_group);
    size_t blocks = 0, groups_in = 0;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = ord[i].host;
        if (i == 0 || strcmp(base_of(ord[i].host), base_of(ord[i - 1].host)) != 0) {
            if (groups_in == 0 || groups_in == bh) {
                bstart[blocks++] = i;
                groups_in = 0;
            }
            groups_in++;
            bgroups[blocks - 1]++;
        }
    }
    bstart[blocks] = n;
    free(ord);
    *sorted_out = sorted, *bstart_out = bstart, *bgroups_out = bgroups;
    return blocks;
}

size_t optout_wayback_plan(const char *const *hosts, size_t n, size_t block_groups, size_t **groups) {
    size_t *bstart;
    const char **sorted;
    size_t blocks = plan_blocks(hosts, n, block_groups, &sorted, &bstart, groups);
    free(bstart);
    free(sorted);
    return blocks;
}

size_t optout_wayback_block(const char *const *hosts, size_t n, size_t block_groups, size_t index,
                            const char ***sorted, size_t *first, size_t *count, size_t *groups) {
    size_t *bstart, *bgroups;
    size_t blocks = plan_blocks(hosts, n, block_groups, sorted, &bstart, &bgroups);
    *first = index < blocks ? bstart[index] : 0;
    *count = index < blocks ? bstart[index + 1] - bstart[index] : 0;
    if (groups) *groups = index < blocks ? bgroups[index] : 0;
    free(bstart);
    free(bgroups);
    return blocks;
}

/* The test hook (wayback.h): "BACKOFF_MS,PAUSE_MS" into the defaults. 0, or -1 with err. */
static int test_timing(long *backoff_ms, long *pause_ms, char *err, size_t errlen) {
    const char *env = getenv(OPTOUT_WAYBACK_TEST_TIMING_ENV);
    if (!env) return 0;
    uint64_t bo, pa;
    const char *comma = strchr(env, ',');
    if (!comma || optout_parse_u64(env, (size_t)(comma - env), 600000, &bo) != 0 ||
        optout_parse_u64(comma + 1, strlen(comma + 1), 600000, &pa) != 0 || !bo || !pa) {
        optout_set_err(err, errlen, "%s='%s': not BACKOFF_MS,PAUSE_MS (1 to 600000 each)", OPTOUT_WAYBACK_TEST_TIMING_ENV,
                       env);
        return -1;
    }
    *backoff_ms = (long)bo;
    *pause_ms = (long)pa;
    return 0;
}

int optout_wayback_collect(const char *const *hosts, size_t n, const optout_wayback_options *o,
                           optout_history_writer *w, optout_wayback_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    st->hosts = n;
    long backoff_ms = 2000, pause_ms = 300000;
    if (test_timing(&backoff_ms, &pause_ms, err, errlen) != 0) return -1;
    wb_run r = {.o = o, .st = st};
    r.pace = (pacer){.interval_ms = (int64_t)ceil(1000.0 / o->rate), .pause_ms = o->pause_ms > 0 ? o->pause_ms : pause_ms,
                     .requests = &st->requests, .stop = o->stop};
    /* the first request waits an interval too: the run before this one (a fleet's previous block,
     * a restarted command) may have asked a moment ago */
    r.pace.next_ms = optout_now_ms() + r.pace.interval_ms;
    snprintf(r.ua, sizeof r.ua, "optout/%s (robots.txt history; one request at a time)", OPTOUT_VERSION);
    r.so = (optout_cc_stream_options){.retries = o->retries >= 0 ? o->retries : 4,
                                      .backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : backoff_ms,
                                      .user_agent = r.ua,
                                      .stop = o->stop,
                                      .before_request = pace,
                                      .pace_arg = &r.pace,
                                      .last_status = &r.last_status};
    snprintf(r.bodies_dir, sizeof r.bodies_dir, "%s/bodies", o->state_dir);
    if (make_dir(o->state_dir, err, errlen) != 0 || make_dir(r.bodies_dir, err, errlen) != 0) return -1;
    if (!(r.tried = optout_strmap_new())) optout_oom("digests");
    /* one connection for the whole run: the transfers share libcurl's connection cache */
    CURLSH *share = curl_share_init();
    if (!share || curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        optout_oom("curl share");
    r.so.share = share;
    size_t *bstart, *bgroups;
    const char **sorted;
    size_t blocks = plan_blocks(hosts, n, o->block_hosts, &sorted, &bstart, &bgroups);
    hosts = sorted;
    st->blocks = blocks;
    /* which blocks are done already */
    char (*keys)[65] = calloc(blocks ? blocks : 1, sizeof *keys);
    unsigned char *done = calloc(blocks ? blocks : 1, 1);
    wb_old *olds = calloc(blocks ? blocks : 1, sizeof *olds); /* finished blocks with failed groups */
    if (!keys || !done || !olds) optout_oom("blocks");
    size_t todo_hosts = 0, todo_groups = 0, partial = 0;
    int rc = 0;
    for (size_t b = 0; b < blocks && rc == 0; b++) {
        size_t cnt = bstart[b + 1] - bstart[b];
        block_key(&r, hosts + bstart[b], cnt, keys[b]);
        char path[4200];
        snprintf(path, sizeof path, "%s/block-%06zu.tsv", o->state_dir, b);
        done[b] = block_is(path, keys[b]);
        if (done[b] && (rc = old_read(path, &olds[b], err, errlen)) == 0 && olds[b].failed) {
            /* a group whose answer was not CDX JSON is asked again, and only it */
            done[b] = 0;
            partial++;
            todo_hosts += olds[b].failed;
            todo_groups += olds[b].failed;
        } else if (done[b]) {
            old_free(&olds[b]);
            st->blocks_resumed++;
        } else {
            todo_hosts += cnt;
            todo_groups += bgroups[b];
        }
    }
    if (!o->quiet) {
        double s = (double)todo_groups / o->rate;
        optout_log(LOG_INFO,
                   "wayback: %zu hosts in %zu blocks (%" PRIu64 " done already, %zu with failed queries to ask "
                   "again); %zu hosts to ask in %zu queries at %.3g request/s: at least %.0f s (%.1f h) for the "
                   "queries, plus one request per distinct 2xx body and per page of more than %d rows",
                   n, blocks, st->blocks_resumed, partial, todo_hosts, todo_groups, o->rate, s, s / 3600, WB_PAGE_ROWS);
    }
    int64_t started = optout_now_ms(), shown = started;
    size_t asked = 0;
    for (size_t b = 0; b < blocks && rc == 0; b++) {
        if (done[b]) continue;
        size_t cnt = bstart[b + 1] - bstart[b];
        char path[4200];
        snprintf(path, sizeof path, "%s/block-%06zu.tsv", o->state_dir, b);
        rc = run_block(&r, path, keys[b], hosts + bstart[b], cnt, olds[b].q ? &olds[b] : NULL, err, errlen);
        asked += olds[b].q ? olds[b].failed : cnt;
        old_free(&olds[b]);
        int64_t now = optout_now_ms();
        if (rc == 0 && !o->quiet && (now - shown >= WB_PROGRESS_MS || asked == todo_hosts)) {
            shown = now;
            double per = (double)(now - started) / 1000.0 / (double)asked;
            optout_log(LOG_INFO, "wayback: %zu/%zu hosts asked, %" PRIu64 " requests, ETA %.0f s", asked, todo_hosts,
                       st->requests, per * (double)(todo_hosts - asked));
        }
    }
    /* every block done: their captures into the build */
    wbuf answers = {.max = SIZE_MAX};
    for (size_t b = 0; b < blocks && rc == 0; b++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/block-%06zu.tsv", o->state_dir, b);
        int l = load_block(&r, path, keys[b], w, &answers, err, errlen);
        if (l == 1) {
            optout_set_err(err, errlen, "%s: missing or torn after the run", path);
            l = -1;
        }
        rc = l;
    }
    optout_sha256_hex(answers.p ? answers.p : "", answers.len, st->answers_sha256);
    free(answers.p);
    for (size_t b = 0; b < blocks; b++) old_free(&olds[b]);
    free(olds);
    free(keys);
    free(done);
    free(sorted);
    free(bstart);
    free(bgroups);
    curl_share_cleanup(share);
    optout_strmap_free(r.tried, NULL);
    return rc;
}

void optout_wayback_times(const optout_wayback_stats *st, char first[32], char last[32]) {
    const int64_t t[2] = {st->query_first, st->query_last};
    char *out[2] = {first, last};
    for (int i = 0; i < 2; i++) {
        struct tm tm;
        time_t x = (time_t)t[i];
        snprintf(out[i], 32, "-");
        if (t[i] && gmtime_r(&x, &tm)) strftime(out[i], 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

int optout_wayback_record(optout_history_writer *w, const optout_wayback_options *o, const optout_wayback_stats *st,
                          char *err, size_t errlen) {
    char t1[32], t2[32], *where;
    optout_wayback_times(st, t1, t2);
    if (asprintf(&where, "wayback %s/cdx/search/cdx years %d-%d queried %s..%s answers sha256 %s rate %.6g", o->base,
                 o->from_year, o->to_year, t1, t2, st->answers_sha256, o->rate) < 0)
        optout_oom("wayback source");
    uint64_t nobad[OPTOUT_WARC_BAD_COUNT] = {0};
    int rc = optout_history_writer_source(w, where, "", 0, st->rows_recorded, st->captures, nobad, OPTOUT_WARC_BAD_COUNT,
                                          err, errlen);
    free(where);
    return rc;
}

void optout_wayback_block_file(const char *state_dir, size_t index, char *out, size_t cap) {
    snprintf(out, cap, "%s/block-%06zu.tsv", state_dir, index);
}

int optout_wayback_copy_block(const char *state_dir, size_t index, const char *to, char *err, size_t errlen) {
    char from[4200];
    size_t len = 0;
    optout_wayback_block_file(state_dir, index, from, sizeof from);
    char *text = optout_read_file(from, SIZE_MAX, &len);
    if (!text && errno != ENOENT) {
        optout_set_err(err, errlen, "%s: %s", from, strerror(errno));
        return -1;
    }
    int rc = optout_publish_bytes(to, text ? text : "", text ? len : 0, 0644, err, errlen);
    free(text);
    return rc;
}

/* The body of a block file's 2xx capture (host, scheme, time, status) in the archive built from
 * that block, written to path: 1 written, 0 not in the archive (dropped when it was asked), -1
 * with err. */
static int seed_body(const optout_history_source *src, const char *host, int https, int64_t t, int status,
                     const char *path, char *err, size_t errlen) {
    optout_history_host h;
    int rc = src->lookup(src->arg, host, strlen(host), &h, err, errlen);
    if (rc <= 0) return rc;
    for (size_t i = 0; i < h.count; i++) {
        const optout_history_version *v = &h.versions[i];
        if (v->origin != OPTOUT_HISTORY_WAYBACK || v->scheme != (https ? OPTOUT_HISTORY_HTTPS : OPTOUT_HISTORY_HTTP) ||
            v->first > t || v->last < t || v->status != status || v->outcome != OPTOUT_OUTCOME_OK)
            continue;
        char *body = NULL;
        size_t len = 0;
        if (src->body(src->arg, v, &body, &len, err, errlen) != 0) return -1;
        rc = optout_publish_bytes(path, body ? body : "", len, 0644, err, errlen);
        free(body);
        return rc ? -1 : 1;
    }
    return 0;
}

int optout_wayback_seed(const char *state_dir, size_t index, const char *block_file, const char *part, char *err,
                        size_t errlen) {
    size_t len = 0;
    struct stat fs;
    /* a file of the run directory, where a link is never expected */
    int fd = open(block_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) return 0;
    if (fd < 0 || fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
        optout_set_err(err, errlen, "%s: %s", block_file, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) close(fd);
        return -1;
    }
    char *text = optout_read_fd(fd, SIZE_MAX, &len);
    int saved = errno;
    close(fd);
    if (!text) {
        optout_set_err(err, errlen, "%s: %s", block_file, strerror(saved));
        return -1;
    }
    char bodies[4200], path[4400];
    snprintf(bodies, sizeof bodies, "%s/bodies", state_dir);
    optout_history_archive *a = NULL;
    int rc = make_dir(state_dir, err, errlen) != 0 || make_dir(bodies, err, errlen) != 0 ? -1 : 0;
    if (rc == 0 && len && !(a = optout_history_archive_open(part, err, errlen))) rc = -1;
    optout_history_source src;
    if (a) src = optout_history_archive_source(a);
    /* every 2xx capture's body from the archive (C lines: host, scheme, time, status, digest); the
     * lines themselves are checked when the block is loaded */
    for (const char *l = text, *nl; rc == 0 && a && *l && (nl = strchr(l, '\n')); l = nl + 1) {
        char host[OPTOUT_HOSTKEY_MAX], scheme[8], digest[WB_DIGEST_MAX + 1];
        long long t;
        int status;
        if (sscanf(l, "C\t%299[^\t]\t%7[^\t]\t%lld\t%d\t%64s", host, scheme, &t, &status, digest) != 5 || status < 200 ||
            status > 299 || !digest_ok(digest))
            continue;
        snprintf(path, sizeof path, "%s/%s", bodies, digest);
        struct stat sb;
        if (lstat(path, &sb) == 0) continue;
        if (seed_body(&src, host, !strcmp(scheme, "https"), (int64_t)t, status, path, err, errlen) < 0) rc = -1;
    }
    if (rc == 0) {
        char to[4200];
        optout_wayback_block_file(state_dir, index, to, sizeof to);
        rc = optout_publish_bytes(to, text, len, 0644, err, errlen);
    }
    optout_history_archive_close(a);
    free(text);
    return rc;
}
