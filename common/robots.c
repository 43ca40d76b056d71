/* robots.c — robots.txt parsing (RFC 9309 mode) and matching (both modes).
 *
 * Design
 * - One pass over the body, line by line, with the leniency of Google's reference parser
 *   (github.com/google/robotstxt): CR, LF and CRLF line ends; a (partial) UTF-8 BOM skipped;
 *   '#' comments; lines longer than Google's limit cut; a missing ':' accepted when exactly two
 *   white-space separated words remain; keys recognised by prefix, with the misspellings the
 *   reference accepts ("useragent", "user agent", "dissallow", "disalow", ...).
 * - Only rules that belong to a group of a configured agent, or to a `*` group, are kept: a file
 *   with hundreds of groups for agents we do not ask about costs a scan, not an allocation per
 *   rule. Each kept rule carries the set of agents whose groups it belongs to.
 * - A group starts at the first User-agent line that follows a rule (Allow/Disallow) line;
 *   Sitemap and unknown lines do not end a group; rules before any User-agent line are ignored.
 * - robots_build() turns the kept rules into one sorted list per distinct agent view, with fast
 *   paths (no disallow: allowed without matching; only "disallow everything": disallowed without
 *   matching). The matcher walks a sorted list and stops at the first rule that matches.
 *
 * Why not a library: Debian 12 has no C robots.txt library; Google's is C++ with Abseil and
 * decides one agent per parse, where we need many agents decided from one compiled body.
 */
#include "optout/robots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"
#include "robots_internal.h"

/* Google's parser keeps at most this many bytes of a line (kMaxLineLen - 1). */
#define GOOGLE_MAX_LINE 16663

int optout_robots_mode_parse(const char *name, optout_robots_mode *mode) {
    if (strcmp(name, "rfc9309") == 0) *mode = OPTOUT_MODE_RFC9309;
    else if (strcmp(name, "protego") == 0) *mode = OPTOUT_MODE_PROTEGO;
    else return -1;
    return 0;
}

const char *optout_robots_mode_name(optout_robots_mode mode) {
    return mode == OPTOUT_MODE_PROTEGO ? "protego" : "rfc9309";
}

/* ---- normalisation ------------------------------------------------------------------------ */

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static const char HEX_UPPER[] = "0123456789ABCDEF";

size_t optout_robots_normalize(const char *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%' && i + 2 < len && hex_value((unsigned char)in[i + 1]) >= 0 &&
            hex_value((unsigned char)in[i + 2]) >= 0) {
            unsigned char v = (unsigned char)(hex_value((unsigned char)in[i + 1]) * 16 +
                                              hex_value((unsigned char)in[i + 2]));
            if (is_unreserved(v)) {
                out[o++] = (char)v;
            } else {
                out[o++] = '%';
                out[o++] = HEX_UPPER[v >> 4];
                out[o++] = HEX_UPPER[v & 15];
            }
            i += 2;
        } else if (c >= 0x80) {
            out[o++] = '%';
            out[o++] = HEX_UPPER[c >> 4];
            out[o++] = HEX_UPPER[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* 1 when URL normalisation would change nothing: no '%', '*', '$' or octet >= 0x80. */
static int is_normal_url(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' || c == '*' || c == '$' || c >= 0x80) return 0;
    }
    return 1;
}

/* A URL's path+query normalised: as a pattern, and a literal '*' or '$' (never special in a URL)
 * percent-encoded, so that the pattern "%2A" matches the URL "/a*b" (RFC 9309 §2.2.3). */
static size_t normalize_url_octets(const char *in, size_t len, char *out) {
    size_t o = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != '*' && in[i] != '$') continue;
        o += optout_robots_normalize(in + start, i - start, out + o);
        if (i < len) {
            memcpy(out + o, in[i] == '*' ? "%2A" : "%24", 3);
            o += 3;
        }
        start = i + 1;
    }
    return o;
}

/* ---- URLs --------------------------------------------------------------------------------- */

static const char *find_first_of(const char *s, const char *end, const char *set) {
    for (; s < end; s++)
        if (strchr(set, *s) && *s) return s;
    return NULL;
}

size_t optout_url_path_query(const char *url, size_t len, const char **start, int *prefix_slash) {
    const char *end = url + len, *search = url;
    *prefix_slash = 0;
    if (len >= 2 && url[0] == '/' && url[1] == '/') search = url + 2; /* "//host/path" */
    const char *early_path = find_first_of(search, end, "/?;");
    const char *proto_end = NULL;
    for (const char *p = search; p + 3 <= end; p++)
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            proto_end = p;
            break;
        }
    if (early_path && proto_end && early_path < proto_end) proto_end = NULL;
    const char *authority = proto_end ? proto_end + 3 : search;
    const char *path = find_first_of(authority, end, "/?;");
    const char *hash = memchr(search, '#', (size_t)(end - search));
    if (!path || (hash && hash < path)) {
        *start = "/";
        return 1;
    }
    const char *path_end = hash ? hash : end;
    *start = path;
    if (*path != '/') *prefix_slash = 1;
    return (size_t)(path_end - path);
}

/* ---- the raw rule collection (shared with robots_protego.c) ---------------------------- */

/* An RFC 9309 pattern normalised: like a URL's path (optout_robots_normalize), and a '$' that is
 * not the last octet is a literal, written %24 as literal '$' in URLs are (normalize_url_octets). */
static size_t normalize_pattern(const char *in, size_t len, char *out) {
    size_t o = 0, start = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (in[i] != '$') continue;
        o += optout_robots_normalize(in + start, i - start, out + o);
        memcpy(out + o, "%24", 3);
        o += 3;
        start = i + 1;
    }
    return o + optout_robots_normalize(in + start, len - start, out + o);
}

int raw_pool_append(struct raw_rules *raw, const char *pat, size_t len, int normalize,
                    uint32_t *off, uint32_t *out_len) {
    size_t need = normalize ? 3 * len : len;
    if (raw->pool_len + need > UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    if (raw->pool_len + need > raw->pool_cap) {
        size_t cap = raw->pool_cap ? raw->pool_cap * 2 : 4096;
        while (cap < raw->pool_len + need) cap *= 2;
        char *p = realloc(raw->pool, cap);
        if (!p) return -1;
        raw->pool = p;
        raw->pool_cap = cap;
    }
    size_t n;
    if (normalize) {
        n = normalize_pattern(pat, len, raw->pool + raw->pool_len);
    } else {
        memcpy(raw->pool + raw->pool_len, pat, len);
        n = len;
    }
    *off = (uint32_t)raw->pool_len;
    *out_len = (uint32_t)n;
    raw->pool_len += n;
    return 0;
}

int raw_rules_push(struct raw_rules *raw, const struct raw_rule *r) {
    if (raw->count == raw->cap) {
        size_t cap = raw->cap ? raw->cap * 2 : 32;
        struct raw_rule *items = realloc(raw->items, cap * sizeof *items);
        if (!items) return -1;
        raw->items = items;
        raw->cap = cap;
    }
    raw->items[raw->count++] = *r;
    return 0;
}

void raw_rules_free(struct raw_rules *raw) {
    free(raw->items);
    free(raw->pool);
    memset(raw, 0, sizeof *raw);
}

enum rule_kind robots_rule_kind(const char *pat, size_t len) {
    if (memchr(pat, '*', len)) return RULE_GLOB;
    if (len > 0 && pat[len - 1] == '$') return RULE_EXACT;
    return RULE_PREFIX;
}

size_t robots_parse_limit(const char *body, size_t len, int *truncated) {
    *truncated = 0;
    if (len <= OPTOUT_ROBOTS_MAX_BYTES) return len;
    *truncated = 1;
    size_t n = OPTOUT_ROBOTS_MAX_BYTES;
    while (n > 0 && body[n - 1] != '\n' && body[n - 1] != '\r') n--;
    return n;
}

/* ---- the line parser ---------------------------------------------------------------------- */

enum key { KEY_UNKNOWN, KEY_USER_AGENT, KEY_ALLOW, KEY_DISALLOW, KEY_SITEMAP };

static enum key classify_key(const char *k, size_t n) {
    switch (optout_lower(k[0])) {
    case 'u':
        if (optout_starts_nocase(k, n, "user-agent", 10) || optout_starts_nocase(k, n, "useragent", 9) ||
            optout_starts_nocase(k, n, "user agent", 10))
            return KEY_USER_AGENT;
        break;
    case 'a':
        if (optout_starts_nocase(k, n, "allow", 5)) return KEY_ALLOW;
        break;
    case 'd':
        if (optout_starts_nocase(k, n, "disallow", 8) || optout_starts_nocase(k, n, "dissallow", 9) ||
            optout_starts_nocase(k, n, "dissalow", 8) || optout_starts_nocase(k, n, "disalow", 7) ||
            optout_starts_nocase(k, n, "diasllow", 8) || optout_starts_nocase(k, n, "disallaw", 8))
            return KEY_DISALLOW;
        break;
    case 's':
        if (optout_starts_nocase(k, n, "sitemap", 7) || optout_starts_nocase(k, n, "site-map", 8))
            return KEY_SITEMAP;
        break;
    }
    return KEY_UNKNOWN;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits one line (comment already removed) into key and value as Google's parser does.
 * Returns 0 when the line holds no key/value pair. */
static int split_line(const char *s, size_t n, const char **key, size_t *key_len, const char **val,
                      size_t *val_len) {
    while (n > 0 && optout_is_space(s[0])) s++, n--;
    while (n > 0 && optout_is_space(s[n - 1])) n--;
    if (n == 0) return 0;
    const char *sep = memchr(s, ':', n);
    const char *v;
    if (sep) {
        v = sep + 1;
    } else {
        /* A missing colon: white space separates key and value, if exactly two words remain. */
        sep = s;
        while (sep < s + n && !is_blank(*sep)) sep++;
        if (sep == s + n) return 0;
        v = sep;
        while (v < s + n && is_blank(*v)) v++;
        for (const char *p = v; p < s + n; p++)
            if (is_blank(*p)) return 0;
    }
    size_t kl = (size_t)(sep - s);
    while (kl > 0 && optout_is_space(s[kl - 1])) kl--;
    if (kl == 0) return 0;
    const char *e = s + n;
    while (v < e && optout_is_space(*v)) v++;
    *key = s;
    *key_len = kl;
    *val = v;
    *val_len = (size_t)(e - v);
    return 1;
}

struct parser {
    const optout_agents *agents;
    struct raw_rules raw;
    optout_agentset group;     /* configured agents named by the current group */
    uint8_t group_star;        /* the current group names `*` */
    uint8_t in_group;          /* a User-agent line has been seen */
    uint8_t after_rule;        /* the last key line was a rule: the next User-agent starts a group */
    uint32_t group_line;
    optout_agentset has_group; /* agents named by at least one group */
    uint8_t star_seen;
};

static int handle_user_agent(struct parser *p, const char *v, size_t n, uint32_t line) {
    if (!p->in_group || p->after_rule) {
        optout_agentset_clear(&p->group);
        p->group_star = 0;
        p->group_line = line;
    }
    p->in_group = 1;
    p->after_rule = 0;
    size_t tl = optout_agent_token_len(v, n);
    if (tl == 1 && v[0] == '*') {
        p->group_star = 1;
        p->star_seen = 1;
        return 0;
    }
    optout_agents_match_token(p->agents, v, tl, &p->group);
    optout_agents_match_token(p->agents, v, tl, &p->has_group);
    return 0;
}

static int group_is_relevant(const struct parser *p) {
    if (p->group_star) return 1;
    for (size_t i = 0; i < OPTOUT_AGENTS_MAX / 64; i++)
        if (p->group.words[i]) return 1;
    return 0;
}

static int handle_rule(struct parser *p, int allow, const char *v, size_t n, uint32_t line) {
    if (!p->in_group) return 0; /* rules outside any group are ignored */
    p->after_rule = 1;
    if (n == 0 || !group_is_relevant(p)) return 0; /* an empty pattern never decides */
    struct raw_rule r = {0};
    if (raw_pool_append(&p->raw, v, n, 1, &r.rule.pat_off, &r.rule.pat_len) != 0) return -1;
    const char *pat = p->raw.pool + r.rule.pat_off;
    r.rule.kind = (uint8_t)robots_rule_kind(pat, r.rule.pat_len);
    /* priority is the pattern's length as written (after escaping, as Google counts it): the
     * literal '$' written %24 counts one octet */
    size_t literal_dollars = 0;
    for (size_t i = 0; i + 1 < n; i++) literal_dollars += v[i] == '$';
    r.rule.priority = r.rule.pat_len - 2 * (uint32_t)literal_dollars;
    r.rule.line = line;
    r.rule.group_line = p->group_line;
    r.rule.allow = (uint8_t)allow;
    r.agents = p->group;
    r.star = p->group_star;
    return raw_rules_push(&p->raw, &r);
}

static int handle_line(struct parser *p, const char *s, size_t n, uint32_t line) {
    if (n > GOOGLE_MAX_LINE) n = GOOGLE_MAX_LINE;
    const char *hash = memchr(s, '#', n);
    if (hash) n = (size_t)(hash - s);
    const char *key, *val;
    size_t kl, vl;
    if (!split_line(s, n, &key, &kl, &val, &vl)) return 0;
    switch (classify_key(key, kl)) {
    case KEY_USER_AGENT: return handle_user_agent(p, val, vl, line);
    case KEY_ALLOW: return handle_rule(p, 1, val, vl, line);
    case KEY_DISALLOW: return handle_rule(p, 0, val, vl, line);
    case KEY_SITEMAP:
    case KEY_UNKNOWN: return 0; /* neither ends a group */
    }
    return 0;
}

/* Skips a UTF-8 byte order mark, or the start of one, as the reference does. */
static size_t bom_length(const char *s, size_t len) {
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    size_t i = 0;
    while (i < 3 && i < len && (unsigned char)s[i] == bom[i]) i++;
    return i;
}

static optout_robots *compile_rfc9309(const char *body, size_t len, const optout_agents *agents) {
    int truncated;
    len = robots_parse_limit(body, len, &truncated);
    struct parser p = {.agents = agents};
    const char *s = body + bom_length(body, len), *end = body + len;
    const char *next_lf = NULL; /* cached: a CR-only file must not rescan for LF per line */
    uint32_t line = 0;
    while (s < end) {
        if (!next_lf || next_lf < s) {
            next_lf = memchr(s, '\n', (size_t)(end - s));
            if (!next_lf) next_lf = end;
        }
        const char *eol = memchr(s, '\r', (size_t)(next_lf - s));
        const char *next;
        if (!eol) {
            eol = next_lf;
            next = next_lf + 1;
        } else {
            next = eol + 1;
            if (next < end && *next == '\n') next++;
        }
        line++;
        if (handle_line(&p, s, (size_t)(eol - s), line) != 0) {
            raw_rules_free(&p.raw);
            return NULL;
        }
        s = next;
    }
    optout_agentset use_star;
    optout_agentset_clear(&use_star);
    size_t count = optout_agents_count(agents);
    for (size_t i = 0; i < count; i++) {
        if (optout_agents_is_star(agents, i)) {
            if (p.star_seen) { /* `*` is decided by the `*` groups: they are its own */
                optout_agentset_add(&p.has_group, i);
                optout_agentset_add(&use_star, i);
            }
        } else if (!optout_agentset_has(&p.has_group, i) && p.star_seen) {
            optout_agentset_add(&use_star, i);
        }
    }
    optout_robots *r = robots_build(&p.raw, count, &p.has_group, &use_star, OPTOUT_MODE_RFC9309, truncated);
    raw_rules_free(&p.raw);
    return r;
}

/* ---- building the compiled set -------------------------------------------------------------- */

static int compare_rules(const void *a, const void *b) {
    const struct rule *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    if (x->allow != y->allow) return x->allow ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* 1 when a rule matches every path: "/", "*", "/" followed by stars (after normalisation). In
 * protego mode a matched URL need not start with '/' ("?q" for "https://h?q"): only stars do. */
static int matches_everything(const struct rule *r, const char *pool, optout_robots_mode mode) {
    const char *pat = pool + r->pat_off;
    size_t n = r->pat_len;
    if (r->kind == RULE_EXACT) return 0;
    if (n > 0 && pat[n - 1] == '$') return 0;
    for (size_t i = 0; i < n; i++)
        if (pat[i] != '*' && !(i == 0 && pat[i] == '/' && mode == OPTOUT_MODE_RFC9309)) return 0;
    return 1;
}

static int rule_applies(const struct raw_rule *r, size_t agent, const optout_agentset *use_star) {
    return optout_agentset_has(use_star, agent) ? r->star : optout_agentset_has(&r->agents, agent);
}

/* 1 when agents a and b see exactly the same rules. */
static int same_view(const struct raw_rules *raw, size_t a, size_t b, const optout_agentset *use_star) {
    for (size_t i = 0; i < raw->count; i++)
        if (rule_applies(&raw->items[i], a, use_star) != rule_applies(&raw->items[i], b, use_star)) return 0;
    return 1;
}

static void robots_free_sets(optout_robots *r) {
    for (size_t i = 0; i < r->set_count; i++) free(r->sets[i].rules);
    free(r->sets);
}

optout_robots *robots_build(struct raw_rules *raw, size_t agent_count,
                            const optout_agentset *has_group, const optout_agentset *use_star,
                            optout_robots_mode mode, int truncated) {
    optout_robots *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->mode = mode;
    r->truncated = (uint8_t)truncated;
    r->agent_count = agent_count;
    r->sets = calloc(agent_count ? agent_count : 1, sizeof *r->sets);
    if (!r->sets) goto oom;
    for (size_t a = 0; a < agent_count; a++) {
        r->agent_via_star[a] = (uint8_t)(optout_agentset_has(use_star, a) && !optout_agentset_has(has_group, a));
        r->agent_has_group[a] = (uint8_t)(optout_agentset_has(has_group, a) || r->agent_via_star[a]);
        r->agent_set[a] = AGENT_NO_RULES;
        size_t n = 0;
        for (size_t i = 0; i < raw->count; i++) n += (size_t)rule_applies(&raw->items[i], a, use_star);
        if (n == 0) continue;
        size_t s;
        for (s = 0; s < r->set_count; s++) {
            size_t first = 0;
            while (!optout_agentset_has(&r->sets[s].members, first)) first++;
            if (same_view(raw, a, first, use_star)) break;
        }
        if (s == r->set_count) {
            struct ruleset *set = &r->sets[r->set_count];
            set->rules = malloc(n * sizeof *set->rules);
            if (!set->rules) goto oom;
            r->set_count++;
            for (size_t i = 0; i < raw->count; i++)
                if (rule_applies(&raw->items[i], a, use_star)) set->rules[set->count++] = raw->items[i].rule;
            qsort(set->rules, set->count, sizeof *set->rules, compare_rules);
            int any_allow = 0, everything = 0;
            for (size_t i = 0; i < set->count; i++) {
                if (set->rules[i].allow) any_allow = 1;
                else {
                    set->has_disallow = 1;
                    if (matches_everything(&set->rules[i], raw->pool, mode)) everything = 1;
                }
            }
            set->disallow_all = (uint8_t)(everything && !any_allow);
            if (set->has_disallow) r->has_disallow = 1;
        }
        optout_agentset_add(&r->sets[s].members, a);
        r->agent_set[a] = (uint16_t)s;
    }
    r->pool = raw->pool;
    r->pool_len = raw->pool_len;
    raw->pool = NULL;
    return r;
oom:
    robots_free_sets(r);
    free(r);
    errno = ENOMEM;
    return NULL;
}

optout_robots *optout_robots_compile(const void *body, size_t len, const optout_agents *agents,
                                     optout_robots_mode mode) {
    if (mode == OPTOUT_MODE_PROTEGO) return robots_compile_protego(body, len, agents);
    return compile_rfc9309(body, len, agents);
}

void optout_robots_free(optout_robots *r) {
    if (!r) return;
    robots_free_sets(r);
    free(r->pool);
    free(r);
}

int optout_robots_allows_everything(const optout_robots *r) { return !r->has_disallow; }
int optout_robots_truncated(const optout_robots *r) { return r->truncated; }

/* NUL-interleaved ASCII: over the first pairs of bytes, one byte of (nearly) every pair is NUL and
 * the other is not. UTF-8 text has no NUL bytes at all, so a handful of pairs is evidence enough. */
#define UTF16_PAIRS 256
int optout_robots_looks_utf16(const void *body, size_t len) {
    const unsigned char *p = body;
    if (len >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) return 1;
    size_t pairs = len / 2 < UTF16_PAIRS ? len / 2 : UTF16_PAIRS, nul_even = 0, nul_odd = 0;
    if (pairs < 4) return 0;
    for (size_t i = 0; i < pairs; i++) {
        nul_even += p[2 * i] == 0;
        nul_odd += p[2 * i + 1] == 0;
    }
    /* 90% of one side NUL, at most 10% of the other: little- or big-endian UTF-16 of ASCII */
    return (nul_odd * 10 >= pairs * 9 && nul_even * 10 <= pairs) || (nul_even * 10 >= pairs * 9 && nul_odd * 10 <= pairs);
}
size_t optout_robots_agent_count(const optout_robots *r) { return r->agent_count; }

/* ---- matching ------------------------------------------------------------------------------- */

/* Glob match of a pattern with '*' (any run of octets) and a final '$' (end of path) against a
 * prefix of the path. Greedy leftmost search per '*'-separated segment is exact for this
 * language: a segment found further left never leaves less room for the ones after it. */
static int glob_match(const char *pat, size_t plen, const char *s, size_t slen) {
    int anchored = plen > 0 && pat[plen - 1] == '$';
    if (anchored) plen--;
    const char *star = memchr(pat, '*', plen);
    size_t seg = star ? (size_t)(star - pat) : plen;
    if (seg > slen || memcmp(pat, s, seg) != 0) return 0;
    if (!star) return !anchored || seg == slen;
    size_t pi = seg + 1, si = seg;
    for (;;) {
        while (pi < plen && pat[pi] == '*') pi++;
        if (pi == plen) return 1;
        const char *next_star = memchr(pat + pi, '*', plen - pi);
        size_t seglen = next_star ? (size_t)(next_star - (pat + pi)) : plen - pi;
        if (!next_star && anchored)
            return slen - si >= seglen && memcmp(s + slen - seglen, pat + pi, seglen) == 0;
        const char *found = memmem(s + si, slen - si, pat + pi, seglen);
        if (!found) return 0;
        si = (size_t)(found - s) + seglen;
        if (!next_star) return 1;
        pi += seglen + 1;
    }
}

static int rule_matches(const struct rule *rule, const char *pool, const char *path, size_t len) {
    const char *pat = pool + rule->pat_off;
    switch ((enum rule_kind)rule->kind) {
    case RULE_PREFIX: return rule->pat_len <= len && memcmp(pat, path, rule->pat_len) == 0;
    case RULE_EXACT: return rule->pat_len - 1 == len && memcmp(pat, path, len) == 0;
    case RULE_GLOB: return glob_match(pat, rule->pat_len, path, len);
    }
    return 0;
}

/* The deciding rule of a list for a normalised path, or NULL when none matches. */
static const struct rule *ruleset_decide(const struct ruleset *set, const char *pool, const char *path,
                                         size_t len) {
    for (size_t i = 0; i < set->count; i++)
        if (rule_matches(&set->rules[i], pool, path, len)) return &set->rules[i];
    return NULL;
}

/* The path+query of a URL, normalised: pointing into the URL when it needs no change, else into
 * `buf` (on the caller's stack) or, for paths too long for it, into `heap` (freed by the caller). */
struct norm_path {
    const char *s;
    size_t len;
    int is_robots_txt;
    char *heap;
};

#define PATH_STACK 4096

/* Protego mode: the URL as Protego matches it; returns -1 where Python raises. */
static int normalize_url_protego(const char *url, size_t len, char *buf, struct norm_path *out) {
    char *dst = buf;
    out->heap = NULL;
    out->is_robots_txt = 0;
    if (9 * len + 8 > PATH_STACK) dst = out->heap = optout_malloc(9 * len + 8);
    long n = robots_protego_url(url, len, dst);
    if (n < 0) {
        free(out->heap);
        out->heap = NULL;
        return -1;
    }
    out->s = dst;
    out->len = (size_t)n;
    return 0;
}

static int normalize_url(const optout_robots *r, const char *url, size_t len, char *buf, struct norm_path *out) {
    if (r->mode == OPTOUT_MODE_PROTEGO) return normalize_url_protego(url, len, buf, out);
    const char *start;
    int slash;
    size_t n = optout_url_path_query(url, len, &start, &slash);
    out->heap = NULL;
    if (!slash && is_normal_url(start, n)) {
        out->s = start;
        out->len = n;
    } else {
        char *dst = buf;
        if (3 * n + 1 > PATH_STACK) {
            dst = out->heap = optout_malloc(3 * n + 1);
        }
        size_t o = 0;
        if (slash) dst[o++] = '/';
        o += normalize_url_octets(start, n, dst + o);
        out->s = dst;
        out->len = o;
    }
    size_t path_len = out->len;
    const char *q = memchr(out->s, '?', out->len);
    if (q) path_len = (size_t)(q - out->s);
    out->is_robots_txt = path_len == 11 && memcmp(out->s, "/robots.txt", 11) == 0;
    return 0;
}

size_t optout_robots_check(const optout_robots *r, const char *url, size_t len, optout_agentset *out) {
    optout_agentset_clear(out);
    if (!r->has_disallow) return 0;
    char buf[PATH_STACK];
    struct norm_path path;
    if (normalize_url(r, url, len, buf, &path) != 0) return 0; /* protego: unparsable URL, allowed */
    if (path.is_robots_txt) {
        free(path.heap);
        return 0;
    }
    size_t count = 0;
    for (size_t s = 0; s < r->set_count; s++) {
        const struct ruleset *set = &r->sets[s];
        if (!set->has_disallow) continue;
        int disallowed = set->disallow_all;
        if (!disallowed) {
            const struct rule *rule = ruleset_decide(set, r->pool, path.s, path.len);
            disallowed = rule && !rule->allow;
        }
        if (!disallowed) continue;
        for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) {
            out->words[w] |= set->members.words[w];
            count += (size_t)__builtin_popcountll(set->members.words[w]);
        }
    }
    free(path.heap);
    return count;
}

int optout_robots_names_agent(const optout_robots *r, size_t agent) {
    return agent < r->agent_count && r->agent_has_group[agent] && !r->agent_via_star[agent];
}

int optout_robots_explain(const optout_robots *r, size_t agent, const char *url, size_t len,
                          optout_robots_explanation *out) {
    if (agent >= r->agent_count) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->allowed = 1;
    out->via_star = r->agent_via_star[agent];
    if (r->unparsable) {
        out->why = OPTOUT_WHY_UNPARSABLE;
        return 0;
    }
    char buf[PATH_STACK];
    struct norm_path path;
    if (normalize_url(r, url, len, buf, &path) != 0) {
        out->why = OPTOUT_WHY_BAD_URL;
        return 0;
    }
    if (r->agent_set[agent] == AGENT_NO_RULES) {
        free(path.heap);
        out->why = path.is_robots_txt ? OPTOUT_WHY_ROBOTS_TXT
                   : r->agent_has_group[agent] ? OPTOUT_WHY_NO_MATCH : OPTOUT_WHY_NO_GROUP;
        return 0;
    }
    if (path.is_robots_txt) {
        free(path.heap);
        out->why = OPTOUT_WHY_ROBOTS_TXT;
        return 0;
    }
    const struct rule *rule = ruleset_decide(&r->sets[r->agent_set[agent]], r->pool, path.s, path.len);
    free(path.heap);
    if (!rule) {
        out->why = OPTOUT_WHY_NO_MATCH;
        return 0;
    }
    out->why = OPTOUT_WHY_RULE;
    out->allowed = rule->allow;
    out->group_line = rule->group_line;
    out->rule_line = rule->line;
    out->rule_allow = rule->allow;
    out->rule_pattern = r->pool + rule->pat_off;
    out->rule_pattern_len = rule->pat_len;
    return 0;
}
