/* fuzz_robots.c — libFuzzer target for the robots.txt engine (both modes).
 *
 * Input layout (deterministic, mutation friendly):
 *   byte 0      control: bits 0-1 how many built-in URLs to add (0-3), bit 2 use the default agent
 *               list instead of the pool, bit 3 compare each agent against a list of its own,
 *               bits 6+7 both set: rfc9309 also parses the body padded past
 *               OPTOUT_ROBOTS_MAX_BYTES (the cut at the last complete line falls inside it)
 *   byte 1      which agents of the pool below form the list (bit i: POOL[i]), unless bit 2
 *   the rest    split on NUL bytes: [0] the robots.txt body; [1..4] URLs; [5] extra agent names,
 *               one a line (names the list refuses are skipped)
 * URLs are also derived from the body's first Allow/Disallow values, so real robots.txt seeds
 * (no NUL) exercise matching too.
 *
 * Invariants (abort on violation):
 * - compile: rfc9309 returns a set (NULL only with ENOMEM); protego returns a set or NULL with
 *   ENOSYS (while not written) or ENOMEM; rfc9309: truncated iff the body exceeds
 *   OPTOUT_ROBOTS_MAX_BYTES (protego: never for a shorter body)
 * - check's count equals the popcount of its set, no index beyond the agent count, and the set
 *   equals the verdicts of explain for every agent; explain(out of range) fails with EINVAL
 * - an explanation is self-consistent; reasons other than a rule mean allowed
 * - allows_everything implies nothing is disallowed
 * - an agent's verdict does not depend on the other agents of the list (bit 3)
 * - rfc9309 only: a deciding rule's pattern matches the URL's normalised path+query (independent
 *   wildcard matcher); only path+params+query count ("http://h" + path and path + "#frag" decide
 *   alike); /robots.txt is always allowed
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "optout/agents.h"
#include "optout/robots.h"
#include "optout/util.h"

#include "../support/refmatch.h"

/* CHECK (fuzz_target.h) with a printf-style account of the values involved. */
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_robots: invariant violated: %s\n  ", #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const POOL[8] = {"*", "GPTBot", "CCBot/2.0", "CCBot", "FooBot", "a", "Google-Extended", "bar baz"};
static const char *const BUILTIN_URLS[3] = {"/", "/robots.txt", "http://example.com/a/b?c=d#e"};

#define MAX_URLS 16
#define MAX_EXTRA_AGENTS 8

/* ---- the path the deciding rule must match (tests/support/refmatch.c checks it) ----------- */

/* The normalised path+query of a URL; checks optout_url_path_query's bounds on the way. */
static char *normalised_path(const char *url, size_t len, size_t *out_len) {
    const char *start;
    int slash;
    size_t n = optout_url_path_query(url, len, &start, &slash);
    int in_url = start >= url && start + n <= url + len;
    CHECKF(in_url || (n == 1 && start[0] == '/'), "path slice outside the URL (len %zu)", n);
    CHECKF(slash == 0 || slash == 1, "prefix_slash %d", slash);
    char *out = malloc(3 * n + 2);
    if (!out) abort();
    size_t o = 0;
    if (slash) out[o++] = '/';
    /* exactly 3n bytes for the normaliser: ASan catches any overrun */
    char *norm = malloc(3 * n + 1);
    if (!norm) abort();
    size_t m = optout_robots_normalize(start, n, norm);
    CHECKF(m <= 3 * n, "normalize wrote %zu bytes for %zu", m, n);
    memcpy(out + o, norm, m);
    free(norm);
    o += m;
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- checks --------------------------------------------------------------------------------- */

struct verdict {
    optout_agentset set;
    size_t count;
    optout_robots_explanation why[OPTOUT_AGENTS_MAX];
};

static struct verdict scratch[3];

static void check_url(const optout_robots *r, optout_robots_mode mode, const char *url, size_t len,
                      struct verdict *v) {
    size_t agents = optout_robots_agent_count(r);
    size_t count = optout_robots_check(r, url, len, &v->set);
    v->count = count;
    size_t pop = 0;
    for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) pop += (size_t)__builtin_popcountll(v->set.words[w]);
    CHECKF(pop == count, "check returned %zu, set holds %zu", count, pop);
    for (size_t a = agents; a < OPTOUT_AGENTS_MAX; a++)
        CHECKF(!optout_agentset_has(&v->set, a), "index %zu beyond %zu agents", a, agents);
    CHECKF(!optout_robots_allows_everything(r) || count == 0, "allows_everything but %zu disallowed", count);

    /* the path as the rfc9309 matcher sees it (protego mode normalises URLs its own way) */
    int rfc = mode == OPTOUT_MODE_RFC9309;
    size_t plen;
    char *path = normalised_path(url, len, &plen);
    int robots_txt = refmatch_is_robots_txt(path, plen);
    CHECKF(!rfc || !robots_txt || count == 0, "/robots.txt disallowed (%zu)", count);
    for (size_t a = 0; a < agents; a++) {
        optout_robots_explanation *e = &v->why[a];
        memset(e, 0xA5, sizeof *e);
        CHECKF(optout_robots_explain(r, a, url, len, e) == 0, "explain(%zu) failed", a);
        int disallowed = optout_agentset_has(&v->set, a);
        CHECKF(e->allowed == !disallowed, "agent %zu: check %d, explain allowed %d", a, disallowed, e->allowed);
        switch (e->why) {
        case OPTOUT_WHY_RULE:
            CHECKF(e->rule_line > 0 && e->group_line > 0 && e->group_line <= e->rule_line && e->rule_pattern &&
                      e->allowed == e->rule_allow,
                  "agent %zu: RULE lines %u/%u allow %d/%d", a, e->group_line, e->rule_line, e->allowed,
                  e->rule_allow);
            CHECKF(!rfc || refmatch_rule_url(e->rule_pattern, e->rule_pattern_len, path, plen),
                  "agent %zu: deciding rule '%.*s' (line %u) does not match '%s'", a, (int)e->rule_pattern_len,
                  e->rule_pattern, e->rule_line, path);
            break;
        case OPTOUT_WHY_ROBOTS_TXT:
            CHECKF(rfc && robots_txt && e->allowed, "agent %zu: ROBOTS_TXT for '%s'", a, path);
            break;
        case OPTOUT_WHY_NO_GROUP:
            CHECKF(!e->via_star, "agent %zu: NO_GROUP via_star", a);
            /* fall through */
        case OPTOUT_WHY_NO_MATCH:
            CHECKF(e->allowed && e->rule_line == 0, "agent %zu: why %d allowed %d line %u", a, (int)e->why,
                  e->allowed, e->rule_line);
            break;
        default: /* protego: the body or the URL is one Python's parser raises on: allowed */
            CHECKF(!rfc && e->allowed && e->rule_line == 0, "agent %zu: reason %d allowed %d in %s mode", a,
                  (int)e->why, e->allowed, optout_robots_mode_name(mode));
        }
    }
    optout_robots_explanation bad;
    errno = 0;
    CHECKF(optout_robots_explain(r, agents, url, len, &bad) == -1 && errno == EINVAL, "explain(out of range)");
    free(path);
}

static void same_verdict(const struct verdict *a, const struct verdict *b, size_t agents, const char *what) {
    CHECKF(a->count == b->count && memcmp(&a->set, &b->set, sizeof a->set) == 0, "%s: verdicts differ", what);
    for (size_t i = 0; i < agents; i++)
        CHECKF(a->why[i].why == b->why[i].why && a->why[i].rule_line == b->why[i].rule_line,
              "%s: agent %zu explained differently (%d line %u vs %d line %u)", what, i, (int)a->why[i].why,
              a->why[i].rule_line, (int)b->why[i].why, b->why[i].rule_line);
}

static optout_robots *compile(const char *body, size_t len, const optout_agents *agents, optout_robots_mode mode) {
    errno = 0;
    optout_robots *r = optout_robots_compile(body, len, agents, mode);
    if (!r) {
        CHECKF(errno == ENOMEM || (mode == OPTOUT_MODE_PROTEGO && errno == ENOSYS), "compile (%s) NULL, errno %d",
              optout_robots_mode_name(mode), errno);
        return NULL;
    }
    CHECKF(optout_robots_agent_count(r) == optout_agents_count(agents), "agent count");
    /* rfc9309 parses the first OPTOUT_ROBOTS_MAX_BYTES; protego mode may parse everything, as
     * Apertus did (docs/protego-mode.md), but never claims a cut of a short body */
    int t = optout_robots_truncated(r);
    CHECKF(mode == OPTOUT_MODE_RFC9309 ? t == (len > OPTOUT_ROBOTS_MAX_BYTES) : !t || len > OPTOUT_ROBOTS_MAX_BYTES,
          "%s: truncated=%d for %zu bytes", optout_robots_mode_name(mode), t, len);
    return r;
}

static void run_mode(const char *body, size_t len, const optout_agents *agents, optout_robots_mode mode,
                     char *const *urls, const size_t *url_len, size_t n_urls, int per_agent) {
    optout_robots *r = compile(body, len, agents, mode);
    if (!r) return;
    size_t n_agents = optout_agents_count(agents);
    /* per_agent: each of the first agents in a list of its own, compiled once */
    optout_agents *one[8] = {0};
    optout_robots *single[8] = {0};
    size_t n_single = per_agent ? (n_agents < 8 ? n_agents : 8) : 0;
    for (size_t a = 0; a < n_single; a++) {
        one[a] = optout_agents_new();
        if (!one[a]) abort();
        const char *name = optout_agents_name(agents, a);
        CHECKF(optout_agents_add(one[a], name, strlen(name)) == 0, "re-adding agent '%s'", name);
        single[a] = compile(body, len, one[a], mode);
    }
    char alt[4096 + 64];
    for (size_t u = 0; u < n_urls; u++) {
        struct verdict *v = &scratch[0], *w = &scratch[1];
        check_url(r, mode, urls[u], url_len[u], v);
        const char *url = urls[u];
        size_t n = url_len[u];
        /* rfc9309: only path+params+query matter */
        if (mode == OPTOUT_MODE_RFC9309 && n > 0 && n < 4096 && url[0] == '/' && (n < 2 || url[1] != '/') &&
            !memchr(url, '\0', n)) {
            int m = snprintf(alt, sizeof alt, "http://h%.*s", (int)n, url);
            check_url(r, mode, alt, (size_t)m, w);
            same_verdict(v, w, n_agents, "with an authority");
            if (!memchr(url, '#', n)) {
                m = snprintf(alt, sizeof alt, "%.*s#x/../y", (int)n, url);
                check_url(r, mode, alt, (size_t)m, w);
                same_verdict(v, w, n_agents, "with a fragment");
            }
        }
        /* The verdict of one agent does not depend on the other agents of the list. */
        for (size_t a = 0; a < n_single; a++) {
            if (!single[a]) continue;
            struct verdict *x = &scratch[2];
            check_url(single[a], mode, url, n, x);
            CHECKF(optout_agentset_has(&x->set, 0) == optout_agentset_has(&v->set, a) &&
                      x->why[0].why == v->why[a].why && x->why[0].rule_line == v->why[a].rule_line,
                  "agent '%s' alone: %s (why %d line %u), in the list: %s (why %d line %u)",
                  optout_agents_name(agents, a), optout_agentset_has(&x->set, 0) ? "disallowed" : "allowed",
                  (int)x->why[0].why, x->why[0].rule_line,
                  optout_agentset_has(&v->set, a) ? "disallowed" : "allowed", (int)v->why[a].why,
                  v->why[a].rule_line);
        }
    }
    for (size_t a = 0; a < n_single; a++) {
        optout_robots_free(single[a]);
        optout_agents_free(one[a]);
    }
    optout_robots_free(r);
}

/* URLs that hit the first few Allow/Disallow values of the body ('*' -> "x", final '$' dropped). */
static size_t derive_urls(const char *body, size_t len, char **urls, size_t *url_len, size_t n, size_t max) {
    for (const char *p = body, *end = body + len; p < end && n < max;) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        const char *k = p;
        size_t kl = colon ? (size_t)(colon - p) : 0;
        while (kl > 0 && optout_is_space(*k)) k++, kl--;
        if (colon && (optout_starts_nocase(k, kl, "allow", 5) || optout_starts_nocase(k, kl, "disallow", 8))) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && optout_is_space(*v)) v++;
            while (ve > v && optout_is_space(ve[-1])) ve--;
            if (ve > v && ve - v < 1024) {
                char *u = malloc((size_t)(ve - v) + 4);
                if (!u) abort();
                size_t o = 0;
                if (*v != '/') u[o++] = '/';
                for (const char *c = v; c < ve; c++) {
                    if (*c == '*') u[o++] = 'x';
                    else if (!(*c == '$' && c + 1 == ve)) u[o++] = *c;
                }
                u[o++] = 'z';
                urls[n] = u;
                url_len[n++] = o;
            }
        }
        p = eol < end ? eol + 1 : end;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t ctl = data[0], pool_mask = data[1];
    const char *rest = (const char *)data + 2;
    size_t rest_len = size - 2;

    /* split on NUL: body, up to 4 URLs, extra agents */
    const char *seg[6];
    size_t seg_len[6], nseg = 0;
    const char *p = rest, *end = rest + rest_len;
    while (nseg < 6) {
        const char *nul = nseg < 5 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        seg[nseg] = p;
        seg_len[nseg] = (size_t)((nul ? nul : end) - p);
        nseg++;
        if (!nul) break;
        p = nul + 1;
    }

    optout_agents *agents = (ctl & 4) ? optout_agents_new_default() : optout_agents_new();
    if (!agents) abort();
    if (!(ctl & 4))
        for (size_t i = 0; i < 8; i++)
            if (pool_mask & (1u << i)) CHECKF(optout_agents_add(agents, POOL[i], strlen(POOL[i])) == 0, "pool agent");
    if (nseg == 6) {
        size_t added = 0;
        for (const char *a = seg[5], *ae = seg[5] + seg_len[5]; a < ae && added < MAX_EXTRA_AGENTS;) {
            const char *nl = memchr(a, '\n', (size_t)(ae - a));
            const char *le = nl ? nl : ae;
            if (optout_agents_add(agents, a, (size_t)(le - a)) == 0) added++;
            a = nl ? nl + 1 : ae;
        }
    }

    char *urls[MAX_URLS];
    size_t url_len[MAX_URLS], n_urls = 0;
    for (size_t i = 0; i < (size_t)(ctl & 3); i++) {
        urls[n_urls] = strdup(BUILTIN_URLS[i]);
        if (!urls[n_urls]) abort();
        url_len[n_urls++] = strlen(BUILTIN_URLS[i]);
    }
    for (size_t i = 1; i < nseg && i <= 4; i++) {
        urls[n_urls] = malloc(seg_len[i] + 1); /* exact size: ASan sees any read past the URL */
        if (!urls[n_urls]) abort();
        memcpy(urls[n_urls], seg[i], seg_len[i]);
        url_len[n_urls++] = seg_len[i];
    }
    n_urls = derive_urls(seg[0], seg_len[0], urls, url_len, n_urls, MAX_URLS);

    /* the body in a buffer of its own exact size, padded past the limit when asked */
    const char *body_src = seg[0];
    size_t body_len = seg_len[0];
    char *body = malloc(body_len ? body_len : 1);
    if (!body) abort();
    memcpy(body, body_src, body_len);
    int per_agent = (ctl & 8) != 0;
    run_mode(body, body_len, agents, OPTOUT_MODE_RFC9309, urls, url_len, n_urls, per_agent);
    run_mode(body, body_len, agents, OPTOUT_MODE_PROTEGO, urls, url_len, n_urls, per_agent);
    free(body);

    if ((ctl & 0xC0) == 0xC0 && body_len > 0 && body_len < OPTOUT_ROBOTS_MAX_BYTES) {
        /* a comment line that ends just before the limit minus half the body: the limit falls
         * inside the fuzzed text, which must be cut at its last complete line */
        size_t pad = OPTOUT_ROBOTS_MAX_BYTES - body_len / 2;
        body = malloc(pad + body_len);
        if (!body) abort();
        memset(body, 'a', pad);
        body[0] = '#';
        body[pad - 1] = '\n';
        memcpy(body + pad, body_src, body_len);
        /* rfc9309 only (protego mode has no size limit), and one list: each costs a 500 KiB parse */
        run_mode(body, pad + body_len, agents, OPTOUT_MODE_RFC9309, urls, url_len, n_urls, 0);
        free(body);
    }

    for (size_t i = 0; i < n_urls; i++) free(urls[i]);
    optout_agents_free(agents);
    return 0;
}
