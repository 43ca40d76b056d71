/* policy.c — granularity, host overrides and the document sample (include/optout/policy.h). */
#include "optout/policy.h"

#include <errno.h>
#include <libpsl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/blocked.h"
#include "optout/files.h"
#include "optout/strmap.h"
#include "optout/util.h"

/* ---- granularity --------------------------------------------------------------------------- */

static const char *const GRANULARITY_NAMES[] = {"url", "host", "domain"};

int optout_granularity_parse(const char *name, optout_granularity *g) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, GRANULARITY_NAMES[i]) == 0) {
            *g = (optout_granularity)i;
            return 0;
        }
    return -1;
}

const char *optout_granularity_name(optout_granularity g) {
    return (unsigned)g < 3 ? GRANULARITY_NAMES[g] : "invalid";
}

/* ---- registrable domains ------------------------------------------------------------------- */

static const psl_ctx_t *psl_ctx;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_init(void) {
    psl_ctx = psl_builtin();
    if (!psl_ctx) psl_ctx = psl_latest(NULL);
}

static const psl_ctx_t *psl(void) {
    pthread_once(&psl_once, psl_init);
    return psl_ctx;
}

size_t optout_registrable_domain(const char *host, size_t len, char out[OPTOUT_HOSTKEY_MAX]) {
    const char *h = host, *end = host + len;
    const char *at = memchr(h, '@', len); /* netloc keys may hold userinfo */
    if (at) h = at + 1;
    if (h < end && *h == '[') { /* IPv6: its own domain */
        const char *close = memchr(h, ']', (size_t)(end - h));
        size_t n = close ? (size_t)(close + 1 - h) : (size_t)(end - h);
        if (n >= OPTOUT_HOSTKEY_MAX) n = OPTOUT_HOSTKEY_MAX - 1;
        memcpy(out, h, n);
        out[n] = '\0';
        return n;
    }
    const char *colon = memchr(h, ':', (size_t)(end - h));
    size_t n = (size_t)((colon ? colon : end) - h);
    if (n >= OPTOUT_HOSTKEY_MAX) n = OPTOUT_HOSTKEY_MAX - 1;
    for (size_t i = 0; i < n; i++) out[i] = optout_lower(h[i]);
    while (n > 0 && out[n - 1] == '.') n--;
    out[n] = '\0';
    int ip = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!((out[i] >= '0' && out[i] <= '9') || out[i] == '.')) ip = 0;
    if (ip || n == 0 || !psl()) return n;
    const char *r = psl_registrable_domain(psl(), out);
    if (!r || r == out) return n;
    size_t rn = strlen(r);
    memmove(out, r, rn + 1);
    return rn;
}

/* ---- domain -> agents ---------------------------------------------------------------------- */

struct domain_entry {
    optout_agentset agents;
    uint64_t hosts;
};

struct optout_domains {
    optout_strmap *map; /* domain -> struct domain_entry */
    size_t bytes;
};

static optout_domains *domains_new(void) {
    optout_domains *d = calloc(1, sizeof *d);
    if (d && !(d->map = optout_strmap_new())) {
        free(d);
        return NULL;
    }
    return d;
}

void optout_domains_free(optout_domains *d) {
    if (!d) return;
    optout_strmap_free(d->map, free);
    free(d);
}

size_t optout_domains_count(const optout_domains *d) { return d ? optout_strmap_count(d->map) : 0; }
size_t optout_domains_bytes(const optout_domains *d) { return d ? d->bytes : 0; }

const optout_agentset *optout_domains_get(const optout_domains *d, const char *domain, size_t len) {
    if (!d) return NULL;
    const struct domain_entry *e = optout_strmap_get(d->map, domain, len);
    return e ? &e->agents : NULL;
}

static int domains_add(optout_domains *d, const char *domain, size_t len, const optout_agentset *agents,
                       uint64_t hosts) {
    struct domain_entry *e = optout_strmap_get(d->map, domain, len);
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) return -1;
        if (optout_strmap_put(d->map, domain, len, e, NULL) != 0) {
            free(e);
            return -1;
        }
        d->bytes += sizeof *e + len + 64; /* entry, key, the map's slot and node (estimate) */
    }
    for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) e->agents.words[w] |= agents->words[w];
    e->hosts += hosts;
    return 0;
}

/* "a,b,c" (names as given) into *set; -1 naming the unknown name. */
static int parse_agent_names(const char *s, size_t len, const optout_agents *agents, optout_agentset *set,
                             char *err, size_t errlen) {
    optout_agentset_clear(set);
    if (len == 1 && s[0] == '-') return 0;
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        size_t n = (size_t)(e - p), a, count = optout_agents_count(agents);
        for (a = 0; a < count; a++) {
            const char *name = optout_agents_name(agents, a);
            if (strlen(name) == n && memcmp(name, p, n) == 0) break;
        }
        if (a == count) {
            optout_set_err(err, errlen, "agent '%.*s' is not in the run's agent list", (int)(n > 200 ? 200 : n), p);
            return -1;
        }
        optout_agentset_add(set, a);
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

/* Reads a TSV whose first column is a key and second the agents: blocked_hosts.tsv (by_domain:
 * keys are hosts, folded into their domain) or blocked_domains.tsv (third column: host count). */
static optout_domains *read_table(const char *path, const optout_agents *agents, int by_domain, char *err,
                                  size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    optout_domains *d = domains_new();
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    char aerr[512];
    if (!d) {
        optout_set_err(err, errlen, "out of memory");
        goto fail;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0 || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) {
            optout_set_err(err, errlen, "%s:%zu: expected KEY<TAB>AGENTS...", path, lineno);
            goto fail;
        }
        char *agents_col = tab + 1, *tab2 = strchr(agents_col, '\t');
        size_t alen = tab2 ? (size_t)(tab2 - agents_col) : strlen(agents_col);
        optout_agentset set;
        if (parse_agent_names(agents_col, alen, agents, &set, aerr, sizeof aerr) != 0) {
            optout_set_err(err, errlen, "%s:%zu: %s", path, lineno, aerr);
            goto fail;
        }
        char dom[OPTOUT_HOSTKEY_MAX];
        size_t klen = (size_t)(tab - line), dlen;
        uint64_t hosts = 1;
        if (by_domain) {
            dlen = optout_registrable_domain(line, klen, dom);
        } else {
            if (klen >= OPTOUT_HOSTKEY_MAX) {
                optout_set_err(err, errlen, "%s:%zu: domain too long", path, lineno);
                goto fail;
            }
            memcpy(dom, line, klen);
            dom[klen] = '\0';
            dlen = klen;
            hosts = tab2 ? strtoull(tab2 + 1, NULL, 10) : 0;
        }
        if (domains_add(d, dom, dlen, &set, hosts) != 0) {
            optout_set_err(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (ferror(f)) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    free(line);
    fclose(f);
    return d;
fail:
    free(line);
    fclose(f);
    optout_domains_free(d);
    return NULL;
}

optout_domains *optout_domains_from_blocked(const char *blocked_tsv, const optout_agents *agents, char *err,
                                            size_t errlen) {
    return read_table(blocked_tsv, agents, 1, err, errlen);
}

optout_domains *optout_domains_load(const char *path, const optout_agents *agents, char *err, size_t errlen) {
    return read_table(path, agents, 0, err, errlen);
}

optout_domains *optout_domains_from_source(const char *source, int kind, const optout_agents *agents,
                                           optout_robots_mode mode, char *err, size_t errlen) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096], file[4200];
    snprintf(dir, sizeof dir, "%s/optout-domains.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        optout_set_err(err, errlen, "temporary directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(file, sizeof file, "%s/" OPTOUT_BLOCKED_FILE, dir);
    optout_domains *d = NULL;
    if (optout_blocked_write(dir, source, (optout_robots_source_kind)kind, agents, mode, NULL, err, errlen) == 0)
        d = optout_domains_from_blocked(file, agents, err, errlen);
    unlink(file);
    rmdir(dir);
    return d;
}

struct sorted {
    const char **keys;
    size_t *lens;
    const struct domain_entry **entries;
    size_t n;
};

static int collect(const char *key, size_t len, void *value, void *arg) {
    struct sorted *s = arg;
    s->keys[s->n] = key;
    s->lens[s->n] = len;
    s->entries[s->n++] = value;
    return 0;
}

/* qsort_r comparator: indexes into the `struct sorted` passed as arg, bytewise by key. */
static int by_key(const void *a, const void *b, void *arg) {
    const struct sorted *s = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t n = s->lens[i] < s->lens[j] ? s->lens[i] : s->lens[j];
    int c = memcmp(s->keys[i], s->keys[j], n);
    if (c) return c;
    return s->lens[i] < s->lens[j] ? -1 : s->lens[i] > s->lens[j];
}

int optout_domains_write(const optout_domains *d, const char *path, const optout_agents *agents, char *err,
                         size_t errlen) {
    size_t count = optout_domains_count(d);
    struct sorted s = {.keys = malloc((count + 1) * sizeof *s.keys), .lens = malloc((count + 1) * sizeof *s.lens),
                       .entries = malloc((count + 1) * sizeof *s.entries)};
    size_t *order = malloc((count + 1) * sizeof *order);
    optout_publish pub = {0};
    int rc = -1;
    FILE *f = NULL;
    if (!s.keys || !s.lens || !s.entries || !order) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    if (d) optout_strmap_each(d->map, collect, &s);
    for (size_t i = 0; i < s.n; i++) order[i] = i;
    qsort_r(order, s.n, sizeof *order, by_key, &s);
    if (!(f = optout_publish_open(&pub, path, 0644, err, errlen))) goto done;
    fputs("#domain\tagents\thosts\n", f);
    for (size_t k = 0; k < s.n; k++) {
        size_t i = order[k];
        fwrite(s.keys[i], 1, s.lens[i], f);
        fputc('\t', f);
        int first = 1;
        for (size_t a = 0; a < optout_agents_count(agents); a++) {
            if (!optout_agentset_has(&s.entries[i]->agents, a)) continue;
            fprintf(f, "%s%s", first ? "" : ",", optout_agents_name(agents, a));
            first = 0;
        }
        if (first) fputc('-', f);
        fprintf(f, "\t%llu\n", (unsigned long long)s.entries[i]->hosts);
    }
    f = NULL;
    if (optout_publish_commit(&pub, err, errlen) != 0) goto done;
    rc = 0;
done:
    if (f) optout_publish_abort(&pub);
    free(s.keys);
    free(s.lens);
    free(s.entries);
    free(order);
    return rc;
}

/* ---- overrides ----------------------------------------------------------------------------- */

struct override_entry {
    optout_override what;
    char *text; /* as normalised, "*." prefix for patterns */
};

struct optout_overrides {
    optout_strmap *exact, *domains; /* key -> struct override_entry */
    size_t bytes;
};

static void free_entry(void *p) {
    struct override_entry *e = p;
    if (e) free(e->text);
    free(e);
}

void optout_overrides_free(optout_overrides *o) {
    if (!o) return;
    optout_strmap_free(o->exact, free_entry);
    optout_strmap_free(o->domains, free_entry);
    free(o);
}

size_t optout_overrides_bytes(const optout_overrides *o) { return o ? o->bytes : 0; }

static int load_list(optout_overrides *o, const char *path, optout_override what, optout_hostkey_mode mode, char *err,
                     size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = -1;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *hash = memchr(line, '#', (size_t)n);
        if (hash) n = hash - line;
        char *s = line;
        while (n > 0 && optout_is_space(s[n - 1])) n--;
        while (n > 0 && optout_is_space(*s)) s++, n--;
        if (n == 0) continue;
        int pattern = n > 2 && s[0] == '*' && s[1] == '.';
        const char *h = pattern ? s + 2 : s;
        size_t hn = (size_t)n - (pattern ? 2 : 0);
        int bad = 0;
        for (size_t i = 0; i < hn; i++)
            if (optout_is_space(h[i]) || h[i] == '/' || h[i] == '*' || h[i] == '?') bad = 1;
        char url[OPTOUT_HOSTKEY_MAX + 16], key[OPTOUT_HOSTKEY_MAX];
        size_t klen = 0;
        int bad_idna = 0;
        if (!bad && hn < OPTOUT_HOSTKEY_MAX) {
            int ul = snprintf(url, sizeof url, "http://%.*s/", (int)hn, h);
            bad = optout_hostkey(url, (size_t)ul, mode, key, &klen, &bad_idna) != OPTOUT_HOSTKEY_OK;
        } else {
            bad = 1;
        }
        if (!bad && pattern) { /* a domain pattern matches any port: keep the host part only */
            char dom[OPTOUT_HOSTKEY_MAX];
            const char *colon = key[0] == '[' ? NULL : memchr(key, ':', klen);
            if (colon) klen = (size_t)(colon - key);
            memcpy(dom, key, klen);
            memcpy(key, dom, klen);
            key[klen] = '\0';
        }
        if (bad) {
            optout_set_err(err, errlen, "%s:%zu: '%.*s' is neither a host nor a *.domain pattern", path, lineno,
                           (int)(n > 200 ? 200 : n), s);
            goto done;
        }
        optout_strmap *map = pattern ? o->domains : o->exact;
        struct override_entry *old = optout_strmap_get(map, key, klen);
        if (old) {
            if (old->what != what) {
                optout_set_err(err, errlen, "%s:%zu: %s is in both --keep-hosts and --remove-hosts", path, lineno,
                               old->text);
                goto done;
            }
            continue;
        }
        struct override_entry *e = calloc(1, sizeof *e);
        if (!e || !(e->text = malloc(klen + 3))) {
            free(e);
            optout_set_err(err, errlen, "out of memory");
            goto done;
        }
        e->what = what;
        sprintf(e->text, "%s%s", pattern ? "*." : "", key);
        if (optout_strmap_put(map, key, klen, e, NULL) != 0) {
            free_entry(e);
            optout_set_err(err, errlen, "out of memory");
            goto done;
        }
        o->bytes += sizeof *e + 2 * klen + 64;
    }
    rc = ferror(f) ? -1 : 0;
    if (rc) optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
done:
    free(line);
    fclose(f);
    return rc;
}

optout_overrides *optout_overrides_load(const char *keep_file, const char *remove_file, optout_hostkey_mode mode,
                                        char *err, size_t errlen) {
    optout_overrides *o = calloc(1, sizeof *o);
    if (!o || !(o->exact = optout_strmap_new()) || !(o->domains = optout_strmap_new())) {
        optout_overrides_free(o);
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    if ((keep_file && load_list(o, keep_file, OPTOUT_OVERRIDE_KEEP, mode, err, errlen) != 0) ||
        (remove_file && load_list(o, remove_file, OPTOUT_OVERRIDE_REMOVE, mode, err, errlen) != 0)) {
        optout_overrides_free(o);
        return NULL;
    }
    return o;
}

optout_override optout_overrides_match(const optout_overrides *o, const char *host, size_t len, const char **entry) {
    if (entry) *entry = NULL;
    if (!o) return OPTOUT_OVERRIDE_NONE;
    const struct override_entry *e = optout_strmap_get(o->exact, host, len);
    if (!e && optout_strmap_count(o->domains)) {
        /* the host part (no port), then each parent at a dot, longest first */
        size_t n = len;
        if (len && host[0] != '[') {
            const char *colon = memchr(host, ':', len);
            if (colon) n = (size_t)(colon - host);
        }
        const char *p = host;
        while (n > 0 && !(e = optout_strmap_get(o->domains, p, n))) {
            const char *dot = memchr(p, '.', n);
            if (!dot) break;
            n -= (size_t)(dot + 1 - p);
            p = dot + 1;
        }
    }
    if (!e) return OPTOUT_OVERRIDE_NONE;
    if (entry) *entry = e->text;
    return e->what;
}

/* ---- the sample ---------------------------------------------------------------------------- */

int optout_sample_parse(const char *text, uint32_t *ppm) {
    char *end;
    errno = 0;
    double p = strtod(text, &end);
    if (errno || end == text || *end || !(p > 0) || p > 1 || isnan(p)) return -1;
    double v = floor(p * 1e6 + 0.5);
    *ppm = v < 1 ? 1 : (uint32_t)v;
    return 0;
}

uint64_t optout_sample_hash(const char *key, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 (offset basis 14695981039346656037) */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33; /* murmur3's fmix64 */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ---- the decision -------------------------------------------------------------------------- */

static size_t set_count(const optout_agentset *s, size_t agent_count) {
    size_t n = 0;
    for (size_t a = 0; a < agent_count; a++) n += optout_agentset_has(s, a);
    return n;
}

size_t optout_policy_extend(const optout_policy *p, const char *host, size_t len, const optout_robots *rules,
                            size_t agent_count, optout_agentset *set, char *domain_out) {
    if (domain_out) domain_out[0] = '\0';
    if (p && p->granularity == OPTOUT_GRANULARITY_HOST && rules) {
        optout_agentset some, whole;
        optout_blocked_decide(rules, &some, &whole);
        for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) set->words[w] |= some.words[w];
    } else if (p && p->granularity == OPTOUT_GRANULARITY_DOMAIN) {
        char dom[OPTOUT_HOSTKEY_MAX];
        size_t n = optout_registrable_domain(host, len, dom);
        if (domain_out) memcpy(domain_out, dom, n + 1);
        const optout_agentset *d = optout_domains_get(p->domains, dom, n);
        if (d)
            for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) set->words[w] |= d->words[w];
    }
    return set_count(set, agent_count);
}
