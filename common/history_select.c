/* history_select.c — which capture judges a document, and the judge that turns it into a verdict
 * (include/optout/history.h has the rules, step by step; docs/history.md the user's view). */
#include "optout/history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "optout/strmap.h"
#include "optout/util.h"

optout_outcome optout_history_status_outcome(int status) {
    if (status >= 200 && status < 300) return OPTOUT_OUTCOME_OK;
    if (status >= 300 && status < 500 && status != 429) return OPTOUT_OUTCOME_UNAVAILABLE;
    return OPTOUT_OUTCOME_UNREACHABLE;
}

optout_history_scheme optout_history_url_scheme(const char *url, size_t len) {
    return len > 8 && optout_lower(url[0]) == 'h' && optout_lower(url[1]) == 't' && optout_lower(url[2]) == 't' &&
                   optout_lower(url[3]) == 'p' && optout_lower(url[4]) == 's' && url[5] == ':'
               ? OPTOUT_HISTORY_HTTPS
               : OPTOUT_HISTORY_HTTP;
}

static int cmp_str(const char *a, const char *b) {
    if (!a || !b) return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

/* > 0 when a is preferred to b among versions whose deciding times are equal: the later last, Common
 * Crawl, the greater crawl id, the greater SHA-256, then status, outcome and redirect target, so that
 * the choice never depends on the order of the list. */
static int tiebreak(const optout_history_version *a, const optout_history_version *b) {
    int c;
    if (a->last != b->last) return a->last > b->last ? 1 : -1;
    if (a->origin != b->origin) return a->origin == OPTOUT_HISTORY_CC ? 1 : -1;
    if ((c = strcmp(a->crawl, b->crawl)) != 0) return c;
    if ((c = strcmp(a->sha256, b->sha256)) != 0) return c;
    if (a->status != b->status) return a->status > b->status ? 1 : -1;
    if (a->outcome != b->outcome) return a->outcome > b->outcome ? 1 : -1;
    return cmp_str(a->redirect, b->redirect);
}

struct resolved {
    int ok; /* 0: an unresolved redirect (no capture) */
    const optout_history_version *final;
    const char *host;
    size_t host_len;
    unsigned hops;
    optout_outcome outcome;
};

/* Follows v's redirects (step 0): into the target's version of the same origin and crawl, of the
 * target's scheme, holding its first capture at or after the redirect's time. 0 (r->ok says
 * whether it resolved), or -1 when the source failed. */
static int resolve(const optout_history_source *src, const char *host, size_t len, const optout_history_version *v,
                   struct resolved *r, char *err, size_t errlen) {
    const optout_history_version *cur = v;
    int64_t at = v->first;
    *r = (struct resolved){.ok = 1, .final = v, .host = host, .host_len = len, .outcome = v->outcome};
    while (cur->redirect) {
        if (r->hops == OPTOUT_HISTORY_MAX_HOPS) { /* a longer chain or a loop: as a fetch's */
            r->outcome = OPTOUT_OUTCOME_UNAVAILABLE;
            return 0;
        }
        optout_history_host th;
        int rc = src->lookup(src->arg, cur->redirect, strlen(cur->redirect), &th, err, errlen);
        if (rc < 0) return -1;
        const optout_history_version *best = NULL;
        int64_t best_at = 0;
        for (size_t i = 0; rc == 1 && i < th.count; i++) {
            const optout_history_version *tv = &th.versions[i];
            if (tv->origin != cur->origin || tv->scheme != cur->redirect_scheme || tv->last < at ||
                strcmp(tv->crawl, cur->crawl) != 0)
                continue;
            int64_t tat = tv->first > at ? tv->first : at;
            if (!best || tat < best_at || (tat == best_at && tiebreak(tv, best) > 0)) {
                best = tv;
                best_at = tat;
            }
        }
        if (!best) {
            r->ok = 0;
            return 0;
        }
        cur = best;
        at = best_at;
        r->final = cur;
        r->host = th.host;
        r->host_len = th.host_len;
        r->outcome = cur->outcome;
        r->hops++;
    }
    return 0;
}

/* Step 1's candidates: resolved captures of the crawl, the unreachable ones set aside when the
 * crawl has another (reachable: it has). */
static int in_crawl(const optout_history_version *v, const struct resolved *r, const char *crawl, int reachable) {
    return r->ok && strcmp(v->crawl, crawl) == 0 && !(reachable && r->outcome == OPTOUT_OUTCOME_UNREACHABLE);
}

/* Step 1 for one scheme: the latest capture at or before t, else the first in the crawl. */
static size_t pick_in_crawl(const optout_history_version *v, const struct resolved *res, size_t n, const char *crawl,
                            int reachable, optout_history_scheme scheme, int64_t t) {
    size_t before = n, after = n;
    for (size_t i = 0; i < n; i++) {
        if (v[i].scheme != scheme || !in_crawl(&v[i], &res[i], crawl, reachable)) continue;
        if (v[i].first <= t) {
            if (before == n || v[i].first > v[before].first ||
                (v[i].first == v[before].first && tiebreak(&v[i], &v[before]) > 0))
                before = i;
        } else if (after == n || v[i].first < v[after].first ||
                   (v[i].first == v[after].first && tiebreak(&v[i], &v[after]) > 0)) {
            after = i;
        }
    }
    return before != n ? before : after;
}

/* Ages beyond this are "any age" (about 31,700 years): keeps t - max_age within range. */
#define MAX_AGE_LIMIT ((int64_t)1000000000000)

static int64_t clamp_age(int64_t max_age) { return max_age < 0 ? 0 : max_age > MAX_AGE_LIMIT ? MAX_AGE_LIMIT : max_age; }

/* Step 2 for one scheme: the latest capture at or before t not older than max_age. */
static size_t pick_earlier(const optout_history_version *v, const struct resolved *res, size_t n,
                           optout_history_scheme scheme, int64_t t, int64_t max_age) {
    size_t best = n;
    int64_t best_at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!res[i].ok || v[i].scheme != scheme || v[i].first > t || v[i].last < t - max_age) continue;
        int64_t at = v[i].last < t ? v[i].last : t;
        if (best == n || at > best_at || (at == best_at && tiebreak(&v[i], &v[best]) > 0)) {
            best = i;
            best_at = at;
        }
    }
    return best;
}

/* A host's versions with their redirects resolved (step 0: independent of any document). */
struct resolved_host {
    optout_history_host h;
    struct resolved *res; /* h.count entries */
};

/* Resolves every version of h (res: h->count entries). 0, or -1 when the source failed. */
static int resolve_host(const optout_history_source *src, const optout_history_host *h, struct resolved *res,
                        char *err, size_t errlen) {
    for (size_t i = 0; i < h->count; i++)
        if (resolve(src, h->host, h->host_len, &h->versions[i], &res[i], err, errlen) != 0) return -1;
    return 0;
}

/* Steps 1 to 3 for one document over a resolved host. */
static void choose(const struct resolved_host *rh, optout_history_scheme scheme, const optout_doc_time *t,
                   int64_t max_age, optout_history_pick *out) {
    const optout_history_version *v = rh->h.versions;
    const struct resolved *res = rh->res;
    size_t n = rh->h.count, chosen = n;
    optout_history_scheme other = scheme == OPTOUT_HISTORY_HTTPS ? OPTOUT_HISTORY_HTTP : OPTOUT_HISTORY_HTTPS;
    if (t->crawl[0]) { /* step 1: the document's crawl */
        int reachable = 0;
        for (size_t i = 0; i < n && !reachable; i++)
            reachable = in_crawl(&v[i], &res[i], t->crawl, 0) && res[i].outcome != OPTOUT_OUTCOME_UNREACHABLE;
        chosen = pick_in_crawl(v, res, n, t->crawl, reachable, scheme, t->time);
        if (chosen == n) chosen = pick_in_crawl(v, res, n, t->crawl, reachable, other, t->time);
        if (chosen != n) out->coverage = OPTOUT_COVERAGE_SAME_CRAWL;
    }
    max_age = clamp_age(max_age);
    if (chosen == n) { /* step 2: an earlier capture within max_age */
        chosen = pick_earlier(v, res, n, scheme, t->time, max_age);
        if (chosen == n) chosen = pick_earlier(v, res, n, other, t->time, max_age);
        if (chosen != n) out->coverage = OPTOUT_COVERAGE_EARLIER;
    }
    if (chosen != n) {
        out->capture = &v[chosen];
        out->final = res[chosen].final;
        out->final_host = res[chosen].host;
        out->final_host_len = res[chosen].host_len;
        out->hops = res[chosen].hops;
        out->outcome = res[chosen].outcome;
    }
}

int optout_history_select(const optout_history_source *src, const char *host, size_t len,
                          optout_history_scheme scheme, const optout_doc_time *t, int64_t max_age,
                          optout_history_pick *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->coverage = OPTOUT_COVERAGE_NO_TIME;
    if (!t->has_time) return 0; /* a crawl always gives a time: this document has neither */
    out->coverage = OPTOUT_COVERAGE_NONE;
    struct resolved_host rh;
    int rc = src->lookup(src->arg, host, len, &rh.h, err, errlen);
    if (rc <= 0 || rh.h.count == 0) return rc < 0 ? -1 : 0;
    if (!(rh.res = malloc(rh.h.count * sizeof *rh.res))) optout_oom("choosing a capture");
    rc = resolve_host(src, &rh.h, rh.res, err, errlen);
    if (rc == 0) choose(&rh, scheme, t, max_age, out);
    free(rh.res);
    return rc;
}

/* ---- the judge ----------------------------------------------------------------------------- */

#define JUDGE_CACHE_DEFAULT 4096
#define JUDGE_HOSTS_MAX 65536 /* resolved hosts kept (the cache is emptied when full) */

struct optout_history_judge {
    optout_history_source src;
    const optout_agents *agents;
    optout_robots_mode mode;
    int unreachable_disallows;
    int64_t max_age;
    size_t max_cached;
    optout_strmap *rules; /* sha256 -> optout_robots */
    optout_robots *empty; /* an ok capture without a body */
    optout_strmap *hosts; /* host key -> struct resolved_host (count 0: no versions) */
    const optout_robots *last;
};

static void free_rules(void *p) { optout_robots_free(p); }

static void free_resolved(void *p) {
    struct resolved_host *rh = p;
    free(rh->res);
    free(rh);
}

/* The host's resolved versions, from the cache or the source (cached then). NULL with err when
 * the source failed. */
static const struct resolved_host *judge_host(optout_history_judge *j, const char *host, size_t len, char *err,
                                              size_t errlen) {
    struct resolved_host *rh = optout_strmap_get(j->hosts, host, len);
    if (rh) return rh;
    if (!(rh = calloc(1, sizeof *rh))) optout_oom("the resolved captures cache");
    int rc = j->src.lookup(j->src.arg, host, len, &rh->h, err, errlen);
    if (rc == 1 && rh->h.count) {
        if (!(rh->res = malloc(rh->h.count * sizeof *rh->res))) optout_oom("the resolved captures cache");
        if (resolve_host(&j->src, &rh->h, rh->res, err, errlen) != 0) rc = -1;
    } else if (rc == 0) {
        rh->h = (optout_history_host){0};
    }
    if (rc < 0) {
        free_resolved(rh);
        return NULL;
    }
    if (optout_strmap_count(j->hosts) >= JUDGE_HOSTS_MAX) { /* full: start again */
        optout_strmap_free(j->hosts, free_resolved);
        if (!(j->hosts = optout_strmap_new())) optout_oom("the resolved captures cache");
    }
    if (optout_strmap_put(j->hosts, host, len, rh, NULL) != 0) optout_oom("the resolved captures cache");
    return rh;
}

int optout_history_judge_can_prefetch(const optout_history_judge *j) { return j->src.prefetch != NULL; }

/* What one prefetch of bodies gathers: the hosts visited, the bodies listed. */
struct body_list {
    optout_strmap *hosts, *seen;
    const char **list;
    size_t n, cap;
};

/* The bodies of host's ok versions and of its redirects' targets (depth hops in) that are neither
 * compiled nor listed yet, added to b (each host visited once: redirects may loop). 0, or -1. */
static int judge_bodies(optout_history_judge *j, const char *host, size_t len, unsigned depth, struct body_list *b,
                        char *err, size_t errlen) {
    if (optout_strmap_get(b->hosts, host, len)) return 0;
    if (optout_strmap_put(b->hosts, host, len, b, NULL) != 0) optout_oom("prefetching bodies");
    optout_history_host h;
    int rc = j->src.lookup(j->src.arg, host, len, &h, err, errlen); /* local: prefetched */
    if (rc <= 0) return rc;
    for (size_t k = 0; k < h.count; k++) {
        const optout_history_version *v = &h.versions[k];
        if (v->redirect && depth < OPTOUT_HISTORY_MAX_HOPS &&
            judge_bodies(j, v->redirect, strlen(v->redirect), depth + 1, b, err, errlen) != 0)
            return -1;
        if (v->outcome != OPTOUT_OUTCOME_OK || optout_strmap_get(j->rules, v->sha256, 64) ||
            optout_strmap_get(b->seen, v->sha256, 64))
            continue;
        if (b->n == b->cap) {
            b->cap = b->cap ? 2 * b->cap : 256;
            if (!(b->list = realloc(b->list, b->cap * sizeof *b->list))) optout_oom("prefetching bodies");
        }
        if (optout_strmap_put(b->seen, v->sha256, 64, b, NULL) != 0) optout_oom("prefetching bodies");
        b->list[b->n++] = v->sha256; /* valid while the source is open */
    }
    return 0;
}

int optout_history_judge_prefetch(optout_history_judge *j, const char *const *hosts, const size_t *lens, size_t count,
                                  char *err, size_t errlen) {
    if (!j->src.prefetch) return 0;
    if (j->src.prefetch(j->src.arg, hosts, lens, count, err, errlen) != 0) return -1;
    if (!j->src.prefetch_bodies) return 0;
    /* a host met before: its bodies were asked for then (a later one missing costs a round trip) */
    struct body_list b = {.hosts = optout_strmap_new(), .seen = optout_strmap_new()};
    if (!b.hosts || !b.seen) optout_oom("prefetching bodies");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        if (!optout_strmap_get(j->hosts, hosts[i], lens[i])) rc = judge_bodies(j, hosts[i], lens[i], 0, &b, err, errlen);
    if (rc == 0) rc = j->src.prefetch_bodies(j->src.arg, b.list, b.n, err, errlen);
    free(b.list);
    optout_strmap_free(b.hosts, NULL);
    optout_strmap_free(b.seen, NULL);
    return rc;
}

optout_history_judge *optout_history_judge_new(const optout_history_source *src, const optout_agents *agents,
                                               optout_robots_mode mode, int unreachable_disallows, int64_t max_age,
                                               size_t max_cached) {
    optout_history_judge *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    *j = (optout_history_judge){.src = *src, .agents = agents, .mode = mode,
                                .unreachable_disallows = unreachable_disallows, .max_age = max_age,
                                .max_cached = max_cached ? max_cached : JUDGE_CACHE_DEFAULT};
    if (!(j->rules = optout_strmap_new()) || !(j->hosts = optout_strmap_new())) {
        optout_strmap_free(j->rules, NULL);
        free(j);
        return NULL;
    }
    return j;
}

void optout_history_judge_free(optout_history_judge *j) {
    if (!j) return;
    optout_strmap_free(j->rules, free_rules);
    optout_strmap_free(j->hosts, free_resolved);
    optout_robots_free(j->empty);
    free(j);
}

const optout_robots *optout_history_judge_rules(const optout_history_judge *j) { return j->last; }

/* The compiled rules of an ok version, from the cache or its body. */
static const optout_robots *rules_of(optout_history_judge *j, const optout_history_version *v, char *err,
                                     size_t errlen) {
    size_t klen = strlen(v->sha256);
    if (klen == 0) {
        if (!j->empty && !(j->empty = optout_robots_compile("", 0, j->agents, j->mode)))
            optout_oom("compiling an empty robots.txt");
        return j->empty;
    }
    optout_robots *r = optout_strmap_get(j->rules, v->sha256, klen);
    if (r) return r;
    char *body = NULL;
    size_t blen = 0;
    if (j->src.body(j->src.arg, v, &body, &blen, err, errlen) != 0) return NULL;
    r = optout_robots_compile(body, blen, j->agents, j->mode);
    free(body);
    if (!r) optout_oom("compiling a captured robots.txt");
    if (optout_strmap_count(j->rules) >= j->max_cached) { /* full: start again */
        optout_strmap_free(j->rules, free_rules);
        if (!(j->rules = optout_strmap_new())) optout_oom("the captured robots.txt cache");
    }
    if (optout_strmap_put(j->rules, v->sha256, klen, r, NULL) != 0) optout_oom("the captured robots.txt cache");
    return r;
}

int optout_history_judge_doc(optout_history_judge *j, const char *host, size_t len, const char *url, size_t url_len,
                             const optout_doc_time *t, optout_history_pick *pick, optout_agentset *set, char *err,
                             size_t errlen) {
    optout_agentset_clear(set);
    j->last = NULL;
    memset(pick, 0, sizeof *pick);
    pick->coverage = OPTOUT_COVERAGE_NO_TIME;
    if (!t->has_time) return 0; /* a crawl always gives a time: this document has neither */
    pick->coverage = OPTOUT_COVERAGE_NONE;
    const struct resolved_host *rh = judge_host(j, host, len, err, errlen);
    if (!rh) return -1;
    if (rh->h.count) choose(rh, optout_history_url_scheme(url, url_len), t, j->max_age, pick);
    if (!pick->capture) return 0;
    if (pick->outcome == OPTOUT_OUTCOME_OK) {
        const optout_robots *r = rules_of(j, pick->final, err, errlen);
        if (!r) return -1;
        j->last = r;
        optout_robots_check(r, url, url_len, set);
    } else if (pick->outcome == OPTOUT_OUTCOME_UNREACHABLE && j->unreachable_disallows) {
        for (size_t a = 0; a < optout_agents_count(j->agents); a++) optout_agentset_add(set, a);
    }
    return 1;
}
