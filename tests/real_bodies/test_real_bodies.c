/* test_real_bodies.c — every real robots.txt body of ../shared/data/robots-top10k through the
 * engine, in both modes, for the 14 default agents, checking the engine's internal consistency.
 *
 * usage: test_real_bodies DIR [K/N]     (exit 77 when DIR is absent: ctest SKIP_RETURN_CODE)
 *   K/N: only the files whose index in name order is K modulo N (0 <= K < N), so that ctest runs
 *   the N parts side by side (tests/CMakeLists.txt); every file is in exactly one part.
 *
 * Per file: compile (rfc9309 must succeed; protego may return NULL/ENOSYS while it is not written),
 * then for a fixed set of URLs plus URLs derived from the file's own Allow/Disallow values:
 * - optout_robots_check's set equals the verdicts of optout_robots_explain for every agent, and
 *   its count equals the set's popcount (no bit beyond the agent count);
 * - an explanation is self-consistent: a RULE verdict carries its line, group line and pattern;
 *   any other reason means allowed;
 * - optout_robots_allows_everything implies nothing is ever disallowed;
 * - rfc9309 only: the deciding rule's pattern really matches the URL's normalised path+query
 *   (checked by an independent wildcard matcher); only path+params+query count
 *   ("http://example.com" + path, path + "#fragment" decide alike); /robots.txt is always
 *   allowed; truncated iff the body exceeds OPTOUT_ROBOTS_MAX_BYTES (protego mode may parse
 *   everything, as Apertus did, but never claims a cut of a shorter body).
 * It never crashes (CI runs it under ASan/UBSan). Prints counts: files, truncated, allow
 * everything, and per agent how many files disallow it everything / the root.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "optout/agents.h"
#include "optout/robots.h"
#include "optout/util.h"

#include "../support/refmatch.h"

#define MAX_FAILURES_SHOWN 25
#define MAX_DERIVED 48
#define BODY_MAX ((size_t)64 << 20)

static size_t failures;
static size_t why_count[5]; /* explanations by reason (4: the protego-only ones), over everything checked */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (failures++ < MAX_FAILURES_SHOWN) {                                                     \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* ---- the path the deciding rule must match (tests/support/refmatch.c checks it) ----------- */

/* The URL's path+params+query, normalised as the engine says it matches it (malloc'd). */
static char *normalised_path(const char *url, size_t len, size_t *out_len) {
    const char *start;
    int slash;
    size_t n = optout_url_path_query(url, len, &start, &slash);
    char *out = malloc(3 * n + 2);
    if (!out) abort();
    size_t o = 0;
    if (slash) out[o++] = '/';
    o += optout_robots_normalize(start, n, out + o);
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- one URL -------------------------------------------------------------------------------- */

struct verdict {
    optout_agentset set;
    size_t count;
};

static void check_url(const char *file, const optout_robots *r, optout_robots_mode mode, const char *url,
                      size_t len, struct verdict *v) {
    size_t agents = optout_robots_agent_count(r);
    size_t count = optout_robots_check(r, url, len, &v->set);
    v->count = count;
    size_t pop = 0;
    for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) pop += (size_t)__builtin_popcountll(v->set.words[w]);
    if (pop != count) FAIL("%s: %.*s: check returned %zu but the set has %zu agents", file, (int)len, url, count, pop);
    for (size_t a = agents; a < OPTOUT_AGENTS_MAX; a++)
        if (optout_agentset_has(&v->set, a)) {
            FAIL("%s: %.*s: agent index %zu set beyond the %zu agents", file, (int)len, url, a, agents);
            break;
        }
    if (optout_robots_allows_everything(r) && count != 0)
        FAIL("%s: %.*s: allows_everything but %zu agents disallowed", file, (int)len, url, count);

    /* the path as the rfc9309 matcher sees it (protego mode normalises URLs its own way) */
    int rfc = mode == OPTOUT_MODE_RFC9309;
    size_t plen;
    char *path = normalised_path(url, len, &plen);
    int robots_txt = refmatch_is_robots_txt(path, plen);
    if (rfc && robots_txt && count != 0)
        FAIL("%s: %.*s: /robots.txt disallowed for %zu agents", file, (int)len, url, count);

    for (size_t a = 0; a < agents; a++) {
        optout_robots_explanation e;
        memset(&e, 0xA5, sizeof e);
        if (optout_robots_explain(r, a, url, len, &e) != 0) {
            FAIL("%s: %.*s: explain(%zu) failed: %s", file, (int)len, url, a, strerror(errno));
            continue;
        }
        int disallowed = optout_agentset_has(&v->set, a);
        if (e.allowed != !disallowed)
            FAIL("%s: %.*s: agent %zu: check says %s, explain says %s", file, (int)len, url, a,
                 disallowed ? "disallowed" : "allowed", e.allowed ? "allowed" : "disallowed");
        why_count[(unsigned)e.why < 4 ? e.why : 4]++;
        switch (e.why) {
        case OPTOUT_WHY_RULE:
            if (e.rule_line == 0 || e.group_line == 0 || e.group_line > e.rule_line || !e.rule_pattern ||
                e.allowed != e.rule_allow)
                FAIL("%s: %.*s: agent %zu: inconsistent RULE explanation (lines %u/%u, allow %d/%d)", file,
                     (int)len, url, a, e.group_line, e.rule_line, e.allowed, e.rule_allow);
            else if (rfc && !refmatch_rule_url(e.rule_pattern, e.rule_pattern_len, path, plen))
                FAIL("%s: %.*s: agent %zu: deciding rule (line %u) '%.*s' does not match path '%s'", file,
                     (int)len, url, a, e.rule_line, (int)e.rule_pattern_len, e.rule_pattern, path);
            break;
        case OPTOUT_WHY_ROBOTS_TXT:
            if (!rfc || !robots_txt || !e.allowed)
                FAIL("%s: %.*s: agent %zu: ROBOTS_TXT explanation for path '%s'", file, (int)len, url, a, path);
            break;
        case OPTOUT_WHY_NO_GROUP:
            if (e.via_star) FAIL("%s: %.*s: agent %zu: NO_GROUP but via_star", file, (int)len, url, a);
            /* fall through */
        case OPTOUT_WHY_NO_MATCH:
            if (!e.allowed || e.rule_line != 0)
                FAIL("%s: %.*s: agent %zu: no rule decided, yet allowed=%d rule_line=%u", file, (int)len, url, a,
                     e.allowed, e.rule_line);
            break;
        default: /* protego: the body or the URL is one Python's parser raises on: allowed */
            if (rfc || !e.allowed || e.rule_line != 0)
                FAIL("%s: %.*s: agent %zu: reason %d (allowed=%d) in %s mode", file, (int)len, url, a, (int)e.why,
                     e.allowed, optout_robots_mode_name(mode));
            break;
        }
    }
    optout_robots_explanation e;
    errno = 0;
    if (optout_robots_explain(r, agents, url, len, &e) != -1 || errno != EINVAL)
        FAIL("%s: explain with index %zu (out of range) did not fail with EINVAL", file, agents);
    free(path);
}

static int same_verdict(const struct verdict *a, const struct verdict *b) {
    return a->count == b->count && memcmp(&a->set, &b->set, sizeof a->set) == 0;
}

/* ---- the URL list of one file ------------------------------------------------------------- */

struct urls {
    char **items;
    size_t count, cap;
};

static void urls_add(struct urls *u, const char *s, size_t n) {
    if (u->count == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 64;
        u->items = realloc(u->items, u->cap * sizeof *u->items);
        if (!u->items) abort();
    }
    char *c = malloc(n + 1);
    if (!c) abort();
    memcpy(c, s, n);
    c[n] = '\0';
    u->items[u->count++] = c;
}

static void urls_clear(struct urls *u) {
    for (size_t i = 0; i < u->count; i++) free(u->items[i]);
    u->count = 0;
}

/* Probes that are not specific to one file. The first PROBE_EVERYTHING decide "disallows
 * everything" (none of them is /robots.txt). */
static const char *const FIXED_URLS[] = {
    "/", "/index.html", "/a/b/c.html?x=1&y=2", "/zz-optout-probe-0f3a",
    "", "http://example.com", "https://www.example.com/", "http://example.com/search?q=ai#top",
    "//example.com/path", "example.com/a/b", "/robots.txt", "/robots.txt?x=1", "/%72obots.txt",
    "/ROBOTS.TXT", "/%7Euser/", "/~user/", "/caf%c3%a9", "/café", "/a%2Fb", "/a/%2A/b", "/a/$/b",
    "/admin", "/admin/", "/wp-admin/admin-ajax.php", "/search", "/api/v1/", "/cgi-bin/x", "/*", "/$",
    "/?", "/;jsessionid=1", "/a;b?c#d", "/\xff\xfe", "/%", "/%4", "/%zz",
};
#define PROBE_EVERYTHING 4

/* Rule values of the body (Allow/Disallow lines, roughly), turned into URLs that hit them. */
static void derive_urls(const char *body, size_t len, struct urls *u) {
    struct {
        const char *v;
        size_t n;
    } vals[4096];
    size_t nv = 0;
    for (const char *p = body, *end = body + len; p < end;) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t kl = colon ? (size_t)(colon - p) : 0;
        const char *k = p;
        while (kl > 0 && optout_is_space(*k)) k++, kl--;
        if (colon && (optout_starts_nocase(k, kl, "allow", 5) || optout_starts_nocase(k, kl, "disallow", 8))) {
            const char *v = colon + 1, *ve = eol;
            const char *hash = memchr(v, '#', (size_t)(ve - v));
            if (hash) ve = hash;
            while (v < ve && optout_is_space(*v)) v++;
            while (ve > v && optout_is_space(ve[-1])) ve--;
            if (ve > v && (size_t)(ve - v) < 2000 && nv < sizeof vals / sizeof *vals) {
                vals[nv].v = v;
                vals[nv].n = (size_t)(ve - v);
                nv++;
            }
        }
        p = eol < end ? eol + 1 : end;
    }
    size_t step = nv > MAX_DERIVED ? nv / MAX_DERIVED : 1;
    char buf[4200];
    for (size_t i = 0, taken = 0; i < nv && taken < MAX_DERIVED; i += step, taken++) {
        const char *v = vals[i].v;
        size_t n = vals[i].n, o = 0;
        if (v[0] != '/') buf[o++] = '/';
        for (size_t j = 0; j < n; j++) {
            if (v[j] == '*') buf[o++] = 'x';
            else if (!(v[j] == '$' && j == n - 1)) buf[o++] = v[j];
        }
        urls_add(u, buf, o);                   /* the rule's own path */
        memcpy(buf + o, "zz?q=1", 6);          /* something longer */
        urls_add(u, buf, o + 6);
        if (o > 1) urls_add(u, buf, o - 1);    /* one octet shorter */
    }
}

/* ---- files ---------------------------------------------------------------------------------- */

struct stats {
    size_t files, truncated, allows_everything, any_disallowed_root;
    size_t everything[OPTOUT_AGENTS_MAX], root[OPTOUT_AGENTS_MAX];
    size_t urls_checked;
};

/* Returns -1 when protego mode is not implemented (NULL, ENOSYS), else 0. */
static int check_body(const char *file, const char *body, size_t len, const optout_agents *agents,
                      optout_robots_mode mode, struct urls *urls, struct stats *st) {
    errno = 0;
    optout_robots *r = optout_robots_compile(body, len, agents, mode);
    if (!r) {
        if (mode == OPTOUT_MODE_PROTEGO && errno == ENOSYS) return -1;
        FAIL("%s: compile (%s) failed: %s", file, optout_robots_mode_name(mode), strerror(errno));
        return 0;
    }
    if (optout_robots_agent_count(r) != optout_agents_count(agents))
        FAIL("%s: agent count %zu, list has %zu", file, optout_robots_agent_count(r), optout_agents_count(agents));
    /* rfc9309 parses the first OPTOUT_ROBOTS_MAX_BYTES; protego mode may parse everything, as
     * Apertus did (docs/protego-mode.md §1.4), but never claims a cut of a short body */
    int truncated = optout_robots_truncated(r);
    if (mode == OPTOUT_MODE_RFC9309 ? truncated != (len > OPTOUT_ROBOTS_MAX_BYTES)
                                    : truncated && len <= OPTOUT_ROBOTS_MAX_BYTES)
        FAIL("%s: %zu bytes but truncated=%d", file, len, truncated);
    st->files++;
    st->truncated += (size_t)truncated;
    st->allows_everything += (size_t)optout_robots_allows_everything(r);

    size_t n_agents = optout_agents_count(agents);
    optout_agentset all_probes;
    memset(&all_probes, 0xFF, sizeof all_probes);
    char *alt = NULL;
    size_t alt_cap = 0;
    for (size_t i = 0; i < urls->count; i++) {
        const char *url = urls->items[i];
        size_t n = strlen(url);
        struct verdict v;
        check_url(file, r, mode, url, n, &v);
        st->urls_checked++;
        if (i < PROBE_EVERYTHING)
            for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) all_probes.words[w] &= v.set.words[w];
        if (i == 0) {
            for (size_t a = 0; a < n_agents; a++) st->root[a] += (size_t)optout_agentset_has(&v.set, a);
            st->any_disallowed_root += v.count > 0;
        }
        /* rfc9309: only path+params+query matter: the same path under an authority, or with a
         * fragment, is decided alike. */
        if (mode == OPTOUT_MODE_RFC9309 && n > 0 && url[0] == '/' && (n < 2 || url[1] != '/')) {
            if (alt_cap < n + 32) {
                alt_cap = 2 * (n + 32);
                alt = realloc(alt, alt_cap);
                if (!alt) abort();
            }
            struct verdict w;
            int m = snprintf(alt, alt_cap, "http://example.com%s", url);
            check_url(file, r, mode, alt, (size_t)m, &w);
            if (!same_verdict(&v, &w)) FAIL("%s: '%s' and '%s' decided differently", file, url, alt);
            if (!memchr(url, '#', n)) {
                m = snprintf(alt, alt_cap, "%s#frag/../x", url);
                check_url(file, r, mode, alt, (size_t)m, &w);
                if (!same_verdict(&v, &w)) FAIL("%s: '%s' and '%s' decided differently", file, url, alt);
            }
        }
    }
    free(alt);
    for (size_t a = 0; a < n_agents; a++) st->everything[a] += (size_t)optout_agentset_has(&all_probes, a);
    optout_robots_free(r);
    return 0;
}

static int filter_regular(const struct dirent *d) { return d->d_name[0] != '.'; }

static void print_stats(const char *mode, const struct stats *st, const optout_agents *agents) {
    printf("%s: %zu files compiled, %zu truncated (> %u bytes), %zu allow everything (no disallow for any "
           "agent), %zu disallow '/' for at least one agent; %zu URL checks\n",
           mode, st->files, st->truncated, OPTOUT_ROBOTS_MAX_BYTES, st->allows_everything,
           st->any_disallowed_root, st->urls_checked);
    printf("  %-30s %12s %12s\n", "agent", "disallow '/'", "everything");
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        printf("  %-30s %12zu %12zu\n", optout_agents_name(agents, a), st->root[a], st->everything[a]);
}

int main(int argc, char **argv) {
    unsigned part = 0, parts = 1;
    char tail;
    if ((argc != 2 && argc != 3) ||
        (argc == 3 && (sscanf(argv[2], "%u/%u%c", &part, &parts, &tail) != 2 || parts == 0 || part >= parts))) {
        fprintf(stderr, "usage: test_real_bodies DIR [K/N]\n");
        return 2;
    }
    const char *dir = argv[1];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("real robots.txt bodies not found at %s (../shared absent): skipped\n", dir);
        return 77;
    }
    struct dirent **names;
    int n = scandir(dir, &names, filter_regular, alphasort);
    if (n < 0) {
        fprintf(stderr, "cannot list %s: %s\n", dir, strerror(errno));
        return 1;
    }
    optout_agents *agents = optout_agents_new_default();
    if (!agents || optout_agents_count(agents) != 14) {
        fprintf(stderr, "default agent list: %s\n", agents ? "not 14 agents" : strerror(errno));
        return 1;
    }
    static struct stats rfc, protego;
    int protego_enosys = 0;
    struct urls urls = {0};
    size_t read_errors = 0;
    int mine = 0; /* the files of this part */
    for (int i = 0; i < n; i++) {
        if ((unsigned)i % parts != part) {
            free(names[i]);
            continue;
        }
        mine++;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        const char *file = names[i]->d_name;
        size_t len;
        char *body = optout_read_file(path, BODY_MAX, &len);
        if (!body) {
            FAIL("%s: cannot read: %s", path, strerror(errno));
            read_errors++;
            free(names[i]);
            continue;
        }
        urls_clear(&urls);
        for (size_t u = 0; u < sizeof FIXED_URLS / sizeof *FIXED_URLS; u++)
            urls_add(&urls, FIXED_URLS[u], strlen(FIXED_URLS[u]));
        {
            char longp[6000];
            memset(longp, 'a', sizeof longp);
            longp[0] = '/';
            urls_add(&urls, longp, sizeof longp); /* longer than the matcher's stack buffer */
            for (size_t k = 1; k + 1 < sizeof longp; k += 2) longp[k] = '\xc3', longp[k + 1] = '\xa9';
            urls_add(&urls, longp, sizeof longp - 1); /* same, needing normalisation */
            memcpy(longp, "/robots.txt?q=", 14);
            urls_add(&urls, longp, sizeof longp - 1); /* /robots.txt, long query needing normalisation */
        }
        derive_urls(body, len, &urls);

        check_body(file, body, len, agents, OPTOUT_MODE_RFC9309, &urls, &rfc);

        if (check_body(file, body, len, agents, OPTOUT_MODE_PROTEGO, &urls, &protego) != 0 && !protego_enosys++)
            printf("protego mode: not implemented (compile returns NULL, ENOSYS): skipped\n");
        free(body);
        free(names[i]);
    }
    free(names);
    urls_clear(&urls);
    free(urls.items);

    printf("%d files in %s (part %u of %u: %d files)\n", n, dir, part, parts, mine);
    print_stats("rfc9309", &rfc, agents);
    printf("explanations (both modes): %zu decided by a rule, %zu no rule matched, %zu no group, %zu /robots.txt, "
           "%zu protego unparsable body/URL\n",
           why_count[OPTOUT_WHY_RULE], why_count[OPTOUT_WHY_NO_MATCH], why_count[OPTOUT_WHY_NO_GROUP],
           why_count[OPTOUT_WHY_ROBOTS_TXT], why_count[4]);
    if (protego.files) print_stats("protego", &protego, agents);
    else if (protego_enosys) printf("protego: not implemented (ENOSYS) for all %d files\n", protego_enosys);
    optout_agents_free(agents);
    if (rfc.files != (size_t)mine - read_errors) FAIL("rfc9309 compiled %zu of %d files", rfc.files, mine);
    if (failures) {
        fprintf(stderr, "%zu consistency failures (first %d shown)\n", failures, MAX_FAILURES_SHOWN);
        return 1;
    }
    printf("real bodies: OK\n");
    return 0;
}
