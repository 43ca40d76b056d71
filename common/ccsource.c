/* ccsource.c — Common Crawl's capture files: crawl lists, paths lists, streaming a file
 * (include/optout/ccsource.h: contract there).
 *
 * Streaming over HTTP uses libcurl's easy interface, one blocking transfer per attempt: a history
 * build reads one file at a time and spends its time inflating, so a multi-handle event loop would
 * buy nothing here. Redirects are not left to libcurl (CURLOPT_FOLLOWLOCATION has no hook to
 * refuse a hop) but followed by hand after an origin check. A retry that follows delivered bytes
 * asks for the rest with a Range; the write callback looks at the status of each response before
 * its first byte: 206 continues where the last attempt stopped, 200 starts again and the bytes
 * already delivered are skipped, anything else is not body (kept only for the error message).
 */
#include "optout/ccsource.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "optout/fetch.h"
#include "optout/util.h"
#include "optout/version.h"

#define CC_READ_CHUNK ((size_t)1 << 20)
#define CC_PATHS_MAX ((size_t)256 << 20) /* a paths list larger than this is not one */
#define CC_RETRY_AFTER_MAX_S 60

/* ---- crawl lists ------------------------------------------------------------------------------ */

int optout_cc_crawls_parse(const char *text, optout_cc_crawls *out, char *err, size_t errlen) {
    optout_cc_crawls c = {0};
    size_t cap = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        char id[OPTOUT_HISTORY_CRAWL_MAX];
        if (e - s != OPTOUT_HISTORY_CRAWL_MAX - 1 || !optout_history_find_crawl(s, (size_t)(e - s), id)) {
            optout_set_err(err, errlen, "expected CC-MAIN-YYYY-WW[,CC-MAIN-YYYY-WW...], got '%.*s'",
                           (int)(e - s > 60 ? 60 : e - s), s);
            free(c.ids);
            return -1;
        }
        int dup = 0;
        for (size_t i = 0; i < c.count; i++) dup |= strcmp(c.ids[i], id) == 0;
        if (!dup && out) {
            if (c.count == cap) {
                cap = cap ? cap * 2 : 8;
                void *q = realloc(c.ids, cap * sizeof *c.ids);
                if (!q) optout_oom("crawl list");
                c.ids = q;
            }
            memcpy(c.ids[c.count++], id, sizeof id);
        }
        if (!comma) break;
        p = comma + 1;
    }
    if (out) *out = c;
    return 0;
}

void optout_cc_crawls_free(optout_cc_crawls *c) {
    free(c->ids);
    c->ids = NULL;
    c->count = 0;
}

int optout_cc_is_url(const char *location) {
    return strncasecmp(location, "http://", 7) == 0 || strncasecmp(location, "https://", 8) == 0;
}

/* ---- streaming --------------------------------------------------------------------------------- */

typedef struct {
    CURL *easy;
    optout_cc_sink sink;
    void *arg;
    uint64_t delivered; /* bytes handed to the sink, over every attempt */
    uint64_t skip;      /* bytes of this response already delivered by an earlier one */
    int decided;        /* this response's status looked at */
    int body;           /* this response is the file */
    int sink_stopped;
    int range_bad;      /* a 206 that does not start where the last attempt stopped */
    int have_range;     /* this response's Content-Range start, when it has one */
    uint64_t range_start;
    char snippet[160];  /* the start of a response that is not the file */
    size_t snippet_len;
    volatile sig_atomic_t *stop;
} stream_state;

static size_t stream_write(char *data, size_t size, size_t nmemb, void *userp) {
    stream_state *s = userp;
    size_t n = size * nmemb;
    if (!s->decided) {
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        s->decided = 1;
        s->body = code == 200 || code == 206;
        s->skip = code == 200 ? s->delivered : 0; /* 200: the whole file again */
        if (code == 206 && (!s->have_range || s->range_start != s->delivered)) {
            s->range_bad = 1; /* another part than asked: the reader would see bytes twice or never */
            return 0;
        }
    }
    if (!s->body) {
        size_t room = sizeof s->snippet - 1 - s->snippet_len;
        size_t take = n < room ? n : room;
        memcpy(s->snippet + s->snippet_len, data, take);
        s->snippet_len += take;
        return n;
    }
    const char *p = data;
    size_t left = n;
    if (s->skip) {
        size_t k = s->skip < left ? (size_t)s->skip : left;
        s->skip -= k;
        p += k;
        left -= k;
    }
    if (left) {
        if (s->sink(p, left, s->arg) != 0) {
            s->sink_stopped = 1;
            return 0;
        }
        s->delivered += left;
    }
    return n;
}

/* Content-Range: bytes START-END/SIZE (of a 206) */
static size_t stream_header(char *data, size_t size, size_t nmemb, void *userp) {
    stream_state *s = userp;
    size_t n = size * nmemb;
    static const char name[] = "content-range:";
    if (n > sizeof name - 1 && optout_equal_nocase(data, name, sizeof name - 1)) {
        const char *p = data + sizeof name - 1, *end = data + n;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (end - p > 6 && optout_equal_nocase(p, "bytes ", 6)) {
            p += 6;
            const char *d = p;
            while (d < end && *d >= '0' && *d <= '9') d++;
            s->have_range = optout_parse_u64(p, (size_t)(d - p), UINT64_MAX, &s->range_start) == 0;
        }
    }
    return n;
}

static int stream_progress(void *userp, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)a, (void)b, (void)c, (void)d;
    stream_state *s = userp;
    return s->stop && *s->stop ? 1 : 0;
}

/* scheme, host and port of url (lower-cased) into buf: 0, or -1 when it does not parse. */
static int origin_of(const char *url, char *buf, size_t cap) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        int n = snprintf(buf, cap, "%s://%s:%s", scheme, host, port);
        if (n > 0 && (size_t)n < cap) {
            for (char *p = buf; *p; p++) *p = optout_lower(*p);
            rc = 0;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static int stream_url(const char *location, const optout_cc_stream_options *o, optout_cc_sink sink, void *arg,
                      char *err, size_t errlen) {
    int retries = o && o->retries >= 0 ? o->retries : 2;
    long backoff = o && o->backoff_ms > 0 ? o->backoff_ms : 1000;
    char origin[1024], target_origin[1024];
    if (origin_of(location, origin, sizeof origin) != 0) {
        optout_set_err(err, errlen, "%s: not a URL libcurl can parse", location);
        return -1;
    }
    CURL *easy = curl_easy_init();
    char *url = strdup(location);
    if (!easy || !url) {
        curl_easy_cleanup(easy);
        free(url);
        optout_set_err(err, errlen, "%s: out of memory", location);
        return -1;
    }
    char ua[128];
    snprintf(ua, sizeof ua, "optout/%s", OPTOUT_VERSION);
    char cerr[CURL_ERROR_SIZE];
    stream_state s = {.easy = easy, .sink = sink, .arg = arg, .stop = o ? o->stop : NULL};
    int rc = -1, attempt = 0, hops = 0;
    long prev_status = 0;
    if (o && o->last_status) *o->last_status = 0;
    for (;;) {
        if (o && o->before_request && o->before_request(o->pace_arg, prev_status) != 0) {
            rc = 1;
            break;
        }
        curl_easy_reset(easy);
        cerr[0] = '\0';
        s.decided = s.body = s.have_range = 0;
        s.snippet_len = 0;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        if (o && o->share) curl_easy_setopt(easy, CURLOPT_SHARE, (CURLSH *)o->share);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, o && o->user_agent ? o->user_agent : ua);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, o && o->connect_timeout_ms ? o->connect_timeout_ms : 30000L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, o && o->low_speed_time ? o->low_speed_time : 60L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, stream_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, stream_progress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &s);
        /* CURLOPT_RANGE, not RESUME_FROM: libcurl fails a resumed transfer that a server answers
         * whole (200), which stream_write handles by skipping what was delivered */
        char range[32];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)s.delivered);
        curl_easy_setopt(easy, CURLOPT_RANGE, s.delivered ? range : NULL);
        CURLcode code = curl_easy_perform(easy);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        prev_status = code == CURLE_OK ? status : -1;
        if (o && o->last_status) *o->last_status = status;
        if (s.sink_stopped || code == CURLE_ABORTED_BY_CALLBACK) {
            rc = 1;
            break;
        }
        int transient = 0;
        char why[400];
        if (s.range_bad) {
            optout_set_err(err, errlen, "%s: HTTP 206 for another part than bytes %llu- (Content-Range %s%llu)", url,
                           (unsigned long long)s.delivered, s.have_range ? "" : "missing, ",
                           (unsigned long long)s.range_start);
            break;
        }
        if (code != CURLE_OK) {
            transient = 1;
            snprintf(why, sizeof why, "%s", cerr[0] ? cerr : curl_easy_strerror(code));
        } else if (status == 200 || status == 206) {
            rc = 0;
            break;
        } else if (status >= 300 && status < 400) {
            char *next = NULL;
            curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &next);
            if (!next || !*next) {
                optout_set_err(err, errlen, "%s: HTTP %ld without a Location", url, status);
                break;
            }
            if (origin_of(next, target_origin, sizeof target_origin) != 0 || strcmp(origin, target_origin) != 0) {
                optout_set_err(err, errlen, "%s: HTTP %ld to %.300s refused: redirects are followed only within %s",
                               url, status, next, origin);
                break;
            }
            if (++hops > OPTOUT_FETCH_MAX_REDIRECTS) {
                optout_set_err(err, errlen, "%s: more than %d redirects", location, OPTOUT_FETCH_MAX_REDIRECTS);
                break;
            }
            char *copy = strdup(next);
            if (!copy) {
                optout_set_err(err, errlen, "out of memory");
                break;
            }
            free(url);
            url = copy;
            continue;
        } else {
            s.snippet[s.snippet_len] = '\0';
            for (char *p = s.snippet; *p; p++)
                if ((unsigned char)*p < 0x20) *p = ' ';
            snprintf(why, sizeof why, "HTTP %ld%s%.100s", status, s.snippet_len ? ": " : "", s.snippet);
            transient = status == 429 || (status >= 500 && status < 600);
        }
        if (!transient || attempt >= retries) {
            optout_set_err(err, errlen, "%s: %s (after %d attempt%s, %llu bytes read)", url, why, attempt + 1,
                           attempt ? "s" : "", (unsigned long long)s.delivered);
            break;
        }
        long wait = backoff;
        curl_off_t after = 0;
        if ((status == 429 || status == 503) && curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
            after > 0)
            wait = (after > CC_RETRY_AFTER_MAX_S ? CC_RETRY_AFTER_MAX_S : (long)after) * 1000L;
        if (wait < backoff) wait = backoff;
        backoff *= 2;
        attempt++;
        if (optout_nap_ms(wait, s.stop)) {
            rc = 1;
            break;
        }
    }
    curl_easy_cleanup(easy);
    free(url);
    return rc;
}

static int stream_file(const char *path, const optout_cc_stream_options *o, optout_cc_sink sink, void *arg,
                       char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CC_READ_CHUNK);
    if (!buf) {
        close(fd);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    uint64_t off = 0;
    int rc = 0;
    for (;;) {
        if (o && o->stop && *o->stop) {
            rc = 1;
            break;
        }
        ssize_t n = read(fd, buf, CC_READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            optout_set_err(err, errlen, "%s: read at offset %llu: %s", path, (unsigned long long)off, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) break;
        if (sink(buf, (size_t)n, arg) != 0) {
            rc = 1;
            break;
        }
        off += (uint64_t)n;
    }
    free(buf);
    close(fd);
    return rc;
}

int optout_cc_stream(const char *location, const optout_cc_stream_options *o, optout_cc_sink sink, void *arg,
                     char *err, size_t errlen) {
    return optout_cc_is_url(location) ? stream_url(location, o, sink, arg, err, errlen)
                                      : stream_file(location, o, sink, arg, err, errlen);
}

/* ---- paths lists ------------------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int over;
} membuf;

static int to_mem(const void *data, size_t len, void *arg) {
    membuf *m = arg;
    if (m->len + len > CC_PATHS_MAX) {
        m->over = 1;
        return 1;
    }
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + len) cap *= 2;
        void *q = realloc(m->p, cap);
        if (!q) optout_oom("paths list");
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, len);
    m->len += len;
    return 0;
}

/* Inflates every gzip member of in into out. 0, or -1 with err. */
static int gunzip_all(const membuf *in, membuf *out, const char *where, char *err, size_t errlen) {
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        optout_set_err(err, errlen, "%s: zlib", where);
        return -1;
    }
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    unsigned char buf[65536];
    int rc = 0;
    while (z.avail_in > 0) {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        int r = inflate(&z, Z_NO_FLUSH);
        if (to_mem(buf, sizeof buf - z.avail_out, out) != 0) {
            optout_set_err(err, errlen, "%s: larger than %zu bytes", where, CC_PATHS_MAX);
            rc = -1;
            break;
        }
        if (r == Z_STREAM_END) {
            inflateReset(&z);
        } else if (r != Z_OK && !(r == Z_BUF_ERROR && z.avail_in == 0)) {
            optout_set_err(err, errlen, "%s: not gzip data (%s)", where, z.msg ? z.msg : "inflate failed");
            rc = -1;
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

/* 1 when entry is a relative path of plain segments. */
static int relative_entry(const char *e, size_t len) {
    if (len == 0 || e[0] == '/') return 0;
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || e[i] == '/') {
            size_t slen = i - seg;
            if (slen == 0 || (slen == 1 && e[seg] == '.') || (slen == 2 && e[seg] == '.' && e[seg + 1] == '.'))
                return 0;
            seg = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)e[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-' || c == '~')) return 0;
    }
    return 1;
}

int optout_cc_paths(const char *base, const char *crawl, const optout_cc_stream_options *o, optout_cc_list *out,
                    size_t *refused, char *refused_example, size_t example_len, char *err, size_t errlen) {
    out->items = NULL;
    out->count = 0;
    *refused = 0;
    if (refused_example && example_len) refused_example[0] = '\0';
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;
    char *where;
    if (asprintf(&where, "%.*s/crawl-data/%s/robotstxt.paths.gz", (int)blen, base, crawl) < 0) optout_oom("path");
    membuf raw = {0}, text = {0};
    int rc = optout_cc_stream(where, o, to_mem, &raw, err, errlen);
    if (rc == 1) {
        if (raw.over) optout_set_err(err, errlen, "%s: larger than %zu bytes", where, CC_PATHS_MAX);
        else optout_set_err(err, errlen, "%s: interrupted", where);
        rc = -1;
    }
    if (rc == 0 && raw.len >= 2 && raw.p[0] == 0x1f && raw.p[1] == 0x8b) {
        rc = gunzip_all(&raw, &text, where, err, errlen);
    } else if (rc == 0) {
        text = raw;
        raw = (membuf){0};
    }
    size_t cap = 0;
    for (size_t i = 0; rc == 0 && i < text.len;) {
        const char *line = (const char *)text.p + i;
        const char *nl = memchr(line, '\n', text.len - i);
        size_t len = nl ? (size_t)(nl - line) : text.len - i;
        i += len + 1;
        size_t l = len;
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) l--;
        if (l == 0) continue;
        if (!relative_entry(line, l)) {
            if (!*refused && refused_example && example_len) {
                snprintf(refused_example, example_len, "%.*s", (int)(l > 200 ? 200 : l), line);
                for (char *p = refused_example; *p; p++)
                    if ((unsigned char)*p < 0x20) *p = ' ';
            }
            (*refused)++;
            continue;
        }
        if (out->count == cap) {
            cap = cap ? cap * 2 : 64;
            void *q = realloc(out->items, cap * sizeof *out->items);
            if (!q) optout_oom("paths list");
            out->items = q;
        }
        if (asprintf(&out->items[out->count], "%.*s/%.*s", (int)blen, base, (int)l, line) < 0) optout_oom("path");
        out->count++;
    }
    if (rc != 0) optout_cc_list_free(out);
    free(raw.p);
    free(text.p);
    free(where);
    return rc == 1 ? -1 : rc;
}

void optout_cc_list_free(optout_cc_list *l) {
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
