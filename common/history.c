/* history.c — the document's time, the policies and their one-pass combination, and the in-memory
 * history source (include/optout/history.h). Which capture judges is history_select.c. */
#include "optout/history.h"

#include <stdlib.h>
#include <string.h>

#include "optout/rundir.h"
#include "optout/strmap.h"
#include "optout/util.h"

/* ---- calendar (proleptic Gregorian, UTC; no locale, no time zone database) ------------------- */

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Monday = 0 ... Sunday = 6 of a day number (1970-01-01 was a Thursday). */
static int weekday(int64_t days) { return (int)(((days % 7) + 7 + 3) % 7); }

/* n decimal digits at s, or -1. */
static int digits(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ISO weeks in year y: 53 when it starts on a Thursday, or on a Wednesday in a leap year. */
static int iso_weeks(int y) {
    int jan1 = weekday(days_from_civil(y, 1, 1));
    return jan1 == 3 || (jan1 == 2 && leap(y)) ? 53 : 52;
}

int optout_history_parse_time(const char *s, size_t len, int64_t *t) {
    if (len < 10 || s[4] != '-' || s[7] != '-') return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400;
    size_t i = 10;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        if (len < i + 6 || s[i + 3] != ':') return -1;
        int h = digits(s + i + 1, 2), mi = digits(s + i + 4, 2), sec = 0;
        i += 6;
        if (i < len && s[i] == ':') {
            if (len < i + 3 || (sec = digits(s + i + 1, 2)) < 0) return -1;
            i += 3;
            if (i < len && (s[i] == '.' || s[i] == ',')) { /* a fraction: dropped (whole seconds) */
                size_t f = ++i;
                while (i < len && s[i] >= '0' && s[i] <= '9') i++;
                if (i == f) return -1;
            }
        }
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec > 60) return -1; /* 60: a leap second */
        secs += h * 3600 + mi * 60 + sec;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '+' ? 1 : -1, oh, om = 0;
            if (len < i + 3 || (oh = digits(s + i + 1, 2)) < 0 || oh > 23) return -1;
            i += 3;
            if (i < len && s[i] == ':') i++;
            if (i < len) {
                if (len < i + 2 || (om = digits(s + i, 2)) < 0 || om > 59) return -1;
                i += 2;
            }
            secs -= sign * (oh * 3600 + om * 60); /* local time minus its offset is UTC */
        }
    }
    if (i != len) return -1;
    *t = secs;
    return 0;
}

int optout_history_crawl_monday(const char *crawl, int64_t *t) {
    size_t n = strlen(crawl);
    if (n != 15 || memcmp(crawl, "CC-MAIN-", 8) != 0 || crawl[12] != '-') return -1;
    int y = digits(crawl + 8, 4), w = digits(crawl + 13, 2);
    if (y < 1 || w < 1 || w > iso_weeks(y)) return -1;
    int64_t jan4 = days_from_civil(y, 1, 4); /* week 1 holds 4 January */
    int64_t monday1 = jan4 - weekday(jan4);
    *t = (monday1 + 7 * (int64_t)(w - 1)) * 86400;
    return 0;
}

int optout_history_find_crawl(const char *s, size_t len, char crawl[OPTOUT_HISTORY_CRAWL_MAX]) {
    for (const char *p = s, *end = s + len; end - p >= 15;) {
        const char *hit = memmem(p, (size_t)(end - p), "CC-MAIN-", 8);
        if (!hit || end - hit < 15) break;
        int ok = hit[12] == '-' && !(hit + 15 < end && hit[15] >= '0' && hit[15] <= '9');
        if (ok) {
            char c[OPTOUT_HISTORY_CRAWL_MAX];
            memcpy(c, hit, 15);
            c[15] = '\0';
            int64_t t;
            if (optout_history_crawl_monday(c, &t) == 0) {
                memcpy(crawl, c, sizeof c);
                return 1;
            }
        }
        p = hit + 8;
    }
    crawl[0] = '\0';
    return 0;
}

void optout_history_doc_time(const char *dump, size_t dump_len, const char *date, size_t date_len,
                             optout_doc_time *out) {
    memset(out, 0, sizeof *out);
    if (dump) optout_history_find_crawl(dump, dump_len, out->crawl);
    if (date && optout_history_parse_time(date, date_len, &out->time) == 0) {
        out->has_time = 1;
    } else if (out->crawl[0] && optout_history_crawl_monday(out->crawl, &out->time) == 0) {
        out->has_time = 1;
        out->time_from_crawl = 1;
    }
}

/* ---- policies ------------------------------------------------------------------------------ */

static const char *const POLICY_NAMES[OPTOUT_ROBOTS_TIME_COUNT] = {"current", "crawl", "cutoff", "strictest"};
static const char *const MISSING_NAMES[] = {"current", "keep", "remove"};
static const char *const COVERAGE_NAMES[OPTOUT_COVERAGE_COUNT] = {"same_crawl", "earlier", "none", "no_time"};

const char *optout_robots_time_name(optout_robots_time p) {
    return (unsigned)p < OPTOUT_ROBOTS_TIME_COUNT ? POLICY_NAMES[p] : "invalid";
}

int64_t optout_robots_time_cutoff_day(const optout_robots_time_spec *spec, int64_t report_cutoff) {
    return spec->policy == OPTOUT_ROBOTS_TIME_CUTOFF ? spec->cutoff : report_cutoff;
}

const char *optout_history_coverage_name(optout_history_coverage c) {
    return (unsigned)c < OPTOUT_COVERAGE_COUNT ? COVERAGE_NAMES[c] : "invalid";
}

int optout_robots_time_parse(const char *text, optout_robots_time_spec *out) {
    memset(out, 0, sizeof *out);
    if (strncmp(text, "cutoff:", 7) == 0) {
        const char *day = text + 7;
        if (strlen(day) != 10 || optout_history_parse_time(day, 10, &out->cutoff) != 0) return -1;
        out->policy = OPTOUT_ROBOTS_TIME_CUTOFF;
        return 0;
    }
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++)
        if (p != OPTOUT_ROBOTS_TIME_CUTOFF && strcmp(text, POLICY_NAMES[p]) == 0) {
            out->policy = (optout_robots_time)p;
            return 0;
        }
    return -1;
}

int optout_history_missing_parse(const char *name, optout_history_missing *out) {
    for (int m = 0; m < 3; m++)
        if (strcmp(name, MISSING_NAMES[m]) == 0) {
            *out = (optout_history_missing)m;
            return 0;
        }
    return -1;
}

const char *optout_history_missing_name(optout_history_missing m) {
    return (unsigned)m < 3 ? MISSING_NAMES[m] : "invalid";
}

static int any_agent(const optout_agentset *s, size_t agent_count) {
    for (size_t a = 0; a < agent_count; a++)
        if (optout_agentset_has(s, a)) return 1;
    return 0;
}

static void verdict_of(const optout_agentset *s, size_t agent_count, optout_policy_verdict *v) {
    v->agents = *s;
    v->removed = any_agent(s, agent_count);
}

void optout_history_combine(const optout_agentset *current, const optout_agentset *crawl, const optout_doc_time *t,
                            int64_t cutoff, optout_history_missing missing, size_t agent_count,
                            optout_policy_verdict out[OPTOUT_ROBOTS_TIME_COUNT]) {
    optout_policy_verdict now, then;
    verdict_of(current, agent_count, &now);
    if (crawl) {
        verdict_of(crawl, agent_count, &then);
    } else if (missing == OPTOUT_MISSING_CURRENT) {
        then = now;
    } else { /* keep, or remove for no agent */
        optout_agentset_clear(&then.agents);
        then.removed = missing == OPTOUT_MISSING_REMOVE;
    }
    out[OPTOUT_ROBOTS_TIME_CURRENT] = now;
    out[OPTOUT_ROBOTS_TIME_CRAWL] = then;
    out[OPTOUT_ROBOTS_TIME_CUTOFF] = t->has_time && t->time >= cutoff ? now : then;
    optout_policy_verdict *s = &out[OPTOUT_ROBOTS_TIME_STRICTEST];
    s->removed = now.removed || then.removed;
    for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) s->agents.words[w] = now.agents.words[w] | then.agents.words[w];
}

/* ---- the in-memory source ------------------------------------------------------------------ */

struct mem_host {
    char *key;
    size_t len;
    optout_history_version *v;
    size_t n, cap;
};

struct mem_body {
    char *data;
    size_t len;
};

struct optout_history_mem {
    optout_strmap *hosts;  /* host key -> struct mem_host */
    optout_strmap *bodies; /* sha256 hex -> struct mem_body */
};

static void free_host(void *p) {
    struct mem_host *h = p;
    for (size_t i = 0; i < h->n; i++) free((char *)h->v[i].redirect);
    free(h->v);
    free(h->key);
    free(h);
}

static void free_body(void *p) {
    struct mem_body *b = p;
    free(b->data);
    free(b);
}

optout_history_mem *optout_history_mem_new(void) {
    optout_history_mem *m = calloc(1, sizeof *m);
    if (m && (!(m->hosts = optout_strmap_new()) || !(m->bodies = optout_strmap_new()))) {
        optout_history_mem_free(m);
        return NULL;
    }
    return m;
}

void optout_history_mem_free(optout_history_mem *m) {
    if (!m) return;
    optout_strmap_free(m->hosts, free_host);
    optout_strmap_free(m->bodies, free_body);
    free(m);
}

static int mem_put_body(optout_history_mem *m, optout_history_version *v, const void *body, size_t len) {
    optout_sha256_hex(body, len, v->sha256);
    v->size = len;
    if (optout_strmap_get(m->bodies, v->sha256, 64)) return 0;
    struct mem_body *b = calloc(1, sizeof *b);
    if (!b || !(b->data = malloc(len + 1))) {
        free(b);
        return -1;
    }
    memcpy(b->data, body, len);
    b->len = len;
    if (optout_strmap_put(m->bodies, v->sha256, 64, b, NULL) != 0) {
        free_body(b);
        return -1;
    }
    return 0;
}

int optout_history_mem_add(optout_history_mem *m, const char *host, const optout_history_version *v,
                           const void *body, size_t body_len) {
    size_t len = strlen(host);
    struct mem_host *h = optout_strmap_get(m->hosts, host, len);
    if (!h) {
        if (!(h = calloc(1, sizeof *h)) || !(h->key = malloc(len + 1))) {
            free(h);
            return -1;
        }
        memcpy(h->key, host, len + 1);
        h->len = len;
        if (optout_strmap_put(m->hosts, host, len, h, NULL) != 0) {
            free_host(h);
            return -1;
        }
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4;
        optout_history_version *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) return -1;
        h->v = nv;
        h->cap = cap;
    }
    optout_history_version c = *v;
    c.redirect = NULL;
    if (v->redirect && !(c.redirect = strdup(v->redirect))) return -1;
    if (body && mem_put_body(m, &c, body, body_len) != 0) {
        free((char *)c.redirect);
        return -1;
    }
    h->v[h->n++] = c;
    return 0;
}

static int mem_lookup(void *arg, const char *host, size_t len, optout_history_host *out, char *err, size_t errlen) {
    (void)err, (void)errlen;
    const optout_history_mem *m = arg;
    const struct mem_host *h = optout_strmap_get(m->hosts, host, len);
    if (!h) return 0;
    *out = (optout_history_host){.host = h->key, .host_len = h->len, .versions = h->v, .count = h->n};
    return 1;
}

static int mem_body(void *arg, const optout_history_version *v, char **body, size_t *len, char *err, size_t errlen) {
    const optout_history_mem *m = arg;
    const struct mem_body *b = strlen(v->sha256) == 64 ? optout_strmap_get(m->bodies, v->sha256, 64) : NULL;
    if (!b) {
        optout_set_err(err, errlen, "history: no body with SHA-256 %s", v->sha256[0] ? v->sha256 : "(none)");
        return -1;
    }
    *body = optout_malloc(b->len + 1);
    memcpy(*body, b->data, b->len);
    (*body)[b->len] = '\0';
    *len = b->len;
    return 0;
}

optout_history_source optout_history_mem_source(optout_history_mem *m) {
    return (optout_history_source){.arg = m, .lookup = mem_lookup, .body = mem_body};
}
