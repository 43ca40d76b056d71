/* robots_protego.c — the decisions of Protego 0.4 as the Apertus filter made them.
 *
 * docs/protego-mode.md is the specification (section numbers below refer to it). In short: the
 * body is decoded as UTF-8 with replacement (CPython's "maximal subpart" rule), split like
 * str.splitlines(), trimmed with Python's white space; groups are named by lower-cased agent
 * names; an agent uses the one group whose name is the longest substring of its whole lower-cased
 * name (`*` scores 1, the first registered wins ties); patterns and URLs are normalised the way
 * Protego drives urllib.parse; rules are then matched by the shared matcher (robots.c), longest
 * normalised pattern first, Allow first on ties.
 *
 * All processing is on UTF-8 bytes after the replacement step: every delimiter involved is ASCII,
 * and the few non-ASCII line breaks and spaces are recognised by their encodings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"
#include "robots_internal.h"

/* ---- text: UTF-8 with replacement, Python line breaks and white space --------------------- */

/* Length of a valid UTF-8 sequence at s, or 0 with *bad set to how many bytes form the maximal
 * invalid subpart to replace with one U+FFFD (CPython's decoder, Unicode §3.9 D93b). */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0];
    *bad = 1;
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char d = s[i];
        if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
    }
    if (i == need) return need;
    *bad = i;
    return 0;
}

/* Copies `in` to a new buffer where every ill-formed subpart is U+FFFD (EF BF BD). ASCII runs,
 * the bulk of any robots.txt, are copied eight bytes at a time. */
static char *utf8_replace(const char *in, size_t len, size_t *out_len) {
    char *out = optout_malloc(3 * len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t run = i;
        while (run + 8 <= len) {
            uint64_t w;
            memcpy(&w, in + run, 8);
            if (w & 0x8080808080808080ull) break;
            run += 8;
        }
        while (run < len && (unsigned char)in[run] < 0x80) run++;
        memcpy(out + o, in + i, run - i);
        o += run - i;
        i = run;
        if (i == len) break;
        size_t bad, ok = utf8_sequence((const unsigned char *)in + i, len - i, &bad);
        if (ok) {
            memcpy(out + o, in + i, ok);
            o += ok;
            i += ok;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    *out_len = o;
    return out;
}

/* Length of a line break at s (str.splitlines), or 0. */
static size_t line_break(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    if (c == '\r') return n > 1 && s[1] == '\n' ? 2 : 1;
    if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) return 1;
    if (c == 0xC2 && n > 1 && (unsigned char)s[1] == 0x85) return 2;
    if (c == 0xE2 && n > 2 && (unsigned char)s[1] == 0x80 && ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9))
        return 3;
    return 0;
}

/* Bytes that can start a line break: \n \v \f \r, 0x1c-0x1e, and the lead bytes of U+0085, U+2028/9. */
static const uint8_t BREAK_START[256] = {['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [0x1c] = 1, [0x1d] = 1,
                                         [0x1e] = 1, [0xC2] = 1, [0xE2] = 1};

/* Length of a white space character (str.isspace) at s, or 0. */
static size_t py_space(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == ' ' || (u[0] >= 0x09 && u[0] <= 0x0D) || (u[0] >= 0x1C && u[0] <= 0x1F)) return 1;
    if (u[0] == 0xC2 && n > 1 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) return 3;
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] <= 0x8A || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF)) return 3;
    if (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) return 3;
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;
    return 0;
}

/* Trims Python white space from both ends of [*s, *s + *n). */
static void py_strip(const char **s, size_t *n) {
    size_t k;
    while (*n > 0 && (k = py_space(*s, *n)) > 0) *s += k, *n -= k;
    for (;;) {
        size_t cut = 0;
        for (size_t w = 1; w <= 3 && w <= *n; w++) /* a white space character ending the text */
            if (py_space(*s + *n - w, w) == w) {
                cut = w;
                break;
            }
        if (!cut) break;
        *n -= cut;
    }
}

static size_t code_points(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- urllib.parse, as Protego uses it (§3.2, §3.3; Python 3.10) ------------------------- */

static const char *const USES_PARAMS[] = {"",      "ftp",   "hdl",  "prospero", "http", "imap", "https", "shttp",
                                          "rtsp",  "rtspu", "sip",  "sips",     "mms",  "sftp", "tel"};

struct url_parts {
    const char *path, *params, *query, *fragment;
    size_t path_len, params_len, query_len, fragment_len;
};

/* urlparse() of `s` (already stripped of leading C0/space and of TAB/CR/LF). Returns -1 where
 * Python raises ValueError (a netloc with unbalanced brackets). */
static int url_split(const char *s, size_t n, struct url_parts *u) {
    memset(u, 0, sizeof *u);
    const char *end = s + n, *scheme = s;
    size_t scheme_len = 0;
    const char *colon = memchr(s, ':', n);
    if (colon && colon > s) {
        const char *p = s;
        while (p < colon && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             *p == '+' || *p == '-' || *p == '.'))
            p++;
        if (p == colon) {
            scheme_len = (size_t)(colon - s);
            s = colon + 1;
        }
    }
    if (end - s >= 2 && s[0] == '/' && s[1] == '/') {
        const char *net = s + 2, *q = net;
        while (q < end && *q != '/' && *q != '?' && *q != '#') q++;
        int open = memchr(net, '[', (size_t)(q - net)) != NULL, close = memchr(net, ']', (size_t)(q - net)) != NULL;
        if (open != close) return -1;
        s = q;
    }
    const char *hash = memchr(s, '#', (size_t)(end - s));
    if (hash) {
        u->fragment = hash + 1;
        u->fragment_len = (size_t)(end - hash - 1);
        end = hash;
    }
    const char *qm = memchr(s, '?', (size_t)(end - s));
    if (qm) {
        u->query = qm + 1;
        u->query_len = (size_t)(end - qm - 1);
        end = qm;
    }
    u->path = s;
    u->path_len = (size_t)(end - s);
    int params = 0;
    for (size_t i = 0; i < sizeof USES_PARAMS / sizeof *USES_PARAMS; i++)
        if (strlen(USES_PARAMS[i]) == scheme_len && optout_equal_nocase(USES_PARAMS[i], scheme, scheme_len)) params = 1;
    if (params && memchr(s, ';', u->path_len)) {
        const char *semi = NULL, *slash = NULL;
        for (const char *p = s; p < end; p++)
            if (*p == '/') slash = p;
        if (slash) {
            semi = memchr(slash, ';', (size_t)(end - slash));
        } else {
            semi = memchr(s, ';', (size_t)(end - s));
        }
        if (semi) {
            u->params = semi + 1;
            u->params_len = (size_t)(end - semi - 1);
            u->path_len = (size_t)(semi - s);
        }
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static const char HEX[] = "0123456789ABCDEF";

/* Protego's path normalisation: unquote (escapes of the octets in `keep` stay, upper-cased),
 * decode as UTF-8 with replacement, then quote everything but unreserved and `safe`.
 * Writes at most 9 * n bytes (an octet may become U+FFFD, then %EF%BF%BD). */
static size_t normalize_path(const char *s, size_t n, const char *keep, const char *safe, char *out) {
    char *tmp = optout_malloc(n + 1);
    size_t t = 0;
    if (memchr(s, '%', n)) {
        for (size_t i = 0; i < n; i++) {
            int h, l;
            if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0) {
                unsigned char v = (unsigned char)(h * 16 + l);
                if (v && strchr(keep, (char)v)) {
                    tmp[t++] = '%';
                    tmp[t++] = HEX[v >> 4];
                    tmp[t++] = HEX[v & 15];
                } else {
                    tmp[t++] = (char)v;
                }
                i += 2;
            } else {
                tmp[t++] = s[i];
            }
        }
    } else {
        memcpy(tmp, s, n);
        t = n;
    }
    size_t clean_len;
    char *clean = utf8_replace(tmp, t, &clean_len);
    free(tmp);
    size_t o = 0;
    for (size_t i = 0; i < clean_len; i++) {
        unsigned char c = (unsigned char)clean[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
            c == '-' || c == '~' || (c && strchr(safe, (char)c))) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = HEX[c >> 4];
            out[o++] = HEX[c & 15];
        }
    }
    free(clean);
    return o;
}

/* urlsplit's pre-cleaning: strip leading C0 controls and spaces, delete TAB, CR and LF. */
static size_t url_clean(const char *s, size_t n, char *out) {
    size_t i = 0, o = 0;
    while (i < n && (unsigned char)s[i] <= 0x20) i++;
    for (; i < n; i++)
        if (s[i] != '\t' && s[i] != '\r' && s[i] != '\n') out[o++] = s[i];
    return o;
}

/* Appends sep + part when part is not empty. */
static size_t append_part(char *out, size_t o, char sep, const char *part, size_t len) {
    if (len == 0) return o;
    out[o++] = sep;
    memcpy(out + o, part, len);
    return o + len;
}

/* A pattern as Protego stores it (§3.2). Returns -1 on Python's ValueError, else its length in
 * out (which must hold 9 * n + 8 bytes). */
static long protego_pattern(const char *v, size_t n, char *out) {
    char *buf = optout_malloc(n + 3);
    size_t b = 0;
    if ((n >= 8 && memcmp(v, "https://", 8) == 0) || (n >= 7 && memcmp(v, "http://", 7) == 0)) buf[b++] = '/';
    memcpy(buf + b, v, n);
    b += n;
    if (b >= 2 && buf[0] == '/' && buf[1] == '/') {
        memmove(buf + 2, buf, b);
        b += 2;
    }
    char tail = 0;
    if (b > 0 && (buf[b - 1] == '?' || buf[b - 1] == ';' || buf[b - 1] == '$')) tail = buf[--b];
    char *clean = optout_malloc(b + 1);
    size_t c = url_clean(buf, b, clean);
    free(buf);
    struct url_parts u;
    if (url_split(clean, c, &u) != 0) {
        free(clean);
        return -1;
    }
    size_t o = normalize_path(u.path, u.path_len, "/*$%", "/*%=", out);
    if (tail) out[o++] = tail;
    o = append_part(out, o, ';', u.params, u.params_len);
    o = append_part(out, o, '?', u.query, u.query_len);
    o = append_part(out, o, '#', u.fragment, u.fragment_len);
    free(clean);
    return (long)o;
}

/* ---- the parser (§2) ---------------------------------------------------------------------- */

enum pkey { P_UNKNOWN, P_USER_AGENT, P_ALLOW, P_DISALLOW, P_SITEMAP, P_OTHER_KNOWN };

struct name { const char *text; enum pkey key; int salvage; size_t len; };
static const struct name NAMES[] = {
    {"user-agent", P_USER_AGENT, 1, 10}, {"useragent", P_USER_AGENT, 1, 9},  {"user agent", P_USER_AGENT, 1, 10},
    {"allow", P_ALLOW, 1, 5},           {"disallow", P_DISALLOW, 1, 8},     {"dissallow", P_DISALLOW, 1, 9},
    {"dissalow", P_DISALLOW, 1, 8},     {"disalow", P_DISALLOW, 1, 7},      {"diasllow", P_DISALLOW, 1, 8},
    {"disallaw", P_DISALLOW, 1, 8},     {"sitemap", P_SITEMAP, 1, 7},       {"sitemaps", P_SITEMAP, 1, 8},
    {"site-map", P_SITEMAP, 1, 8},      {"crawl-delay", P_OTHER_KNOWN, 1, 11}, {"crawl delay", P_OTHER_KNOWN, 1, 11},
    {"request-rate", P_OTHER_KNOWN, 1, 12}, {"request rate", P_OTHER_KNOWN, 1, 12}, {"visit-time", P_OTHER_KNOWN, 0, 10},
    {"visit time", P_OTHER_KNOWN, 0, 10}, {"host", P_OTHER_KNOWN, 1, 4},
};

static int find_name(const char *s, size_t n, int salvage_only) {
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if ((!salvage_only || NAMES[i].salvage) && NAMES[i].len == n && memcmp(NAMES[i].text, s, n) == 0)
            return (int)i;
    return -1;
}

/* A named rule set: one per distinct lower-cased User-agent name, in registration order. */
struct pset {
    char *name;
    size_t name_len;
    size_t name_cps;
    int relevant; /* "*", or contained in some configured agent's name: it can be chosen */
    uint32_t first_line;
    size_t *rules; /* indices into the parser's raw rules */
    size_t count, cap;
};

struct pparser {
    struct raw_rules raw;
    struct pset *sets;
    size_t set_count, set_cap;
    size_t *current; /* indices into sets */
    size_t current_count, current_cap;
    int prev_known; /* prev is set */
    char prev[64];  /* the previous field (lower-cased), cut: only its class matters */
    size_t prev_len;
    int failed; /* Python raised: the site's URLs are all kept */
    char **agent_names; /* the configured agents, trimmed and lower-cased (§4) */
    size_t *agent_lens;
    size_t agent_count;
};

static int prev_is_user_agent(const struct pparser *p) {
    int i = find_name(p->prev, p->prev_len, 0);
    return i >= 0 && NAMES[i].key == P_USER_AGENT;
}

static void current_add(struct pparser *p, size_t set) {
    for (size_t i = 0; i < p->current_count; i++)
        if (p->current[i] == set) return;
    p->current =
        optout_grow(p->current, p->current_count, &p->current_cap, sizeof *p->current, 8, "a Protego rule table");
    p->current[p->current_count++] = set;
}

static void register_name(struct pparser *p, const char *name, size_t len, uint32_t line) {
    if (len == 0) return;
    for (size_t i = 0; i < p->set_count; i++)
        if (p->sets[i].name_len == len && memcmp(p->sets[i].name, name, len) == 0) {
            current_add(p, i);
            return;
        }
    p->sets = optout_grow(p->sets, p->set_count, &p->set_cap, sizeof *p->sets, 8, "a Protego rule table");
    struct pset *s = &p->sets[p->set_count];
    memset(s, 0, sizeof *s);
    s->name = optout_malloc(len + 1);
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->name_len = len;
    s->name_cps = code_points(name, len);
    s->relevant = len == 1 && name[0] == '*';
    for (size_t a = 0; a < p->agent_count && !s->relevant; a++)
        s->relevant = len <= p->agent_lens[a] && memmem(p->agent_names[a], p->agent_lens[a], name, len) != NULL;
    s->first_line = line;
    current_add(p, p->set_count++);
}

static void handle_user_agent(struct pparser *p, const char *v, size_t n, uint32_t line) {
    if (p->prev_known && p->prev_len > 0 && !prev_is_user_agent(p)) p->current_count = 0;
    char *ua = optout_malloc(n + 1);
    for (size_t i = 0; i < n; i++) ua[i] = optout_lower(v[i]);
    register_name(p, ua, n, line);
    if (!(n == 1 && ua[0] == '*') && memchr(ua, '*', n)) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ua[i] != '*') ua[k++] = ua[i];
        register_name(p, ua, k, line);
    }
    free(ua);
}

static void add_rule(struct pparser *p, int allow, const char *raw, size_t n, uint32_t line) {
    if (p->failed) return;
    int relevant = 0;
    for (size_t i = 0; i < p->current_count && !relevant; i++) relevant = p->sets[p->current[i]].relevant;
    if (!relevant) {
        /* No configured agent can use this rule: skip it, but a value Python would raise on
         * (brackets in a netloc) still fails the whole parse. */
        if (memchr(raw, '[', n) || memchr(raw, ']', n)) {
            char *pat = optout_malloc(9 * n + 16);
            if (protego_pattern(raw, n, pat) < 0) p->failed = 1;
            free(pat);
        }
        return;
    }
    if (memchr(raw, '$', n)) { /* the twin that reads every '$' literally */
        char *twin = optout_malloc(3 * n + 1);
        size_t t = 0;
        for (size_t i = 0; i < n; i++) {
            if (raw[i] == '$') {
                memcpy(twin + t, "%24", 3);
                t += 3;
            } else {
                twin[t++] = raw[i];
            }
        }
        add_rule(p, allow, twin, t, line);
        free(twin);
    }
    char *pat = optout_malloc(9 * n + 16);
    long len = protego_pattern(raw, n, pat);
    if (len < 0) {
        p->failed = 1;
        free(pat);
        return;
    }
    if (len > 0) {
        struct raw_rule r = {0};
        if (raw_pool_append(&p->raw, pat, (size_t)len, 0, &r.rule.pat_off, &r.rule.pat_len) != 0)
            optout_oom("a Protego rule pattern");
        r.rule.kind = (uint8_t)robots_rule_kind(pat, (size_t)len);
        r.rule.priority = (uint32_t)code_points(pat, (size_t)len);
        r.rule.line = line;
        r.rule.allow = (uint8_t)allow;
        if (raw_rules_push(&p->raw, &r) != 0) optout_oom("a Protego rule");
        size_t idx = p->raw.count - 1;
        for (size_t i = 0; i < p->current_count; i++) {
            struct pset *s = &p->sets[p->current[i]];
            s->rules = optout_grow(s->rules, s->count, &s->cap, sizeof *s->rules, 8, "a Protego rule table");
            s->rules[s->count++] = idx;
        }
        if (allow && len >= 11 && memcmp(pat + len - 11, "/index.html", 11) == 0) {
            char *extra = optout_malloc((size_t)len);
            memcpy(extra, pat, (size_t)len - 10);
            extra[len - 10] = '$';
            add_rule(p, 1, extra, (size_t)len - 9, line);
            free(extra);
        }
    }
    free(pat);
}

static void set_prev(struct pparser *p, const char *field, size_t n) {
    p->prev_known = 1;
    p->prev_len = n < sizeof p->prev ? n : sizeof p->prev; /* longer names are unknown anyway */
    memcpy(p->prev, field, p->prev_len);
    if (n >= sizeof p->prev) p->prev[0] = '\x01';
}

static void handle_line(struct pparser *p, const char *s, size_t n, uint32_t line) {
    const char *hash = memchr(s, '#', n);
    if (hash) n = (size_t)(hash - s);
    py_strip(&s, &n);
    if (n == 0) return;
    char field[64];
    size_t flen;
    const char *val;
    size_t vlen;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        const char *f = s;
        size_t fl = (size_t)(colon - s);
        py_strip(&f, &fl);
        flen = fl < sizeof field ? fl : sizeof field;
        for (size_t i = 0; i < flen; i++) field[i] = optout_lower(f[i]);
        if (fl >= sizeof field) field[0] = '\x01'; /* too long to be a known name */
        val = colon + 1;
        vlen = (size_t)(s + n - val);
        py_strip(&val, &vlen);
    } else {
        /* salvage: words split on single spaces; the first prefix of words that is a name */
        int found = -1;
        const char *sp = s;
        while ((sp = memchr(sp, ' ', (size_t)(s + n - sp))) != NULL) {
            found = find_name(s, (size_t)(sp - s), 1);
            if (found >= 0) break;
            sp++;
        }
        if (found < 0) return;
        flen = (size_t)(sp - s);
        memcpy(field, s, flen);
        val = sp + 1;
        vlen = (size_t)(s + n - val);
        py_strip(&val, &vlen);
    }
    int idx = find_name(field, flen, 0);
    enum pkey key = idx >= 0 ? NAMES[idx].key : P_UNKNOWN;
    if (vlen == 0) {
        set_prev(p, field, flen);
        return;
    }
    if (p->current_count == 0 && key != P_USER_AGENT && key != P_SITEMAP) return;
    if (key == P_USER_AGENT) handle_user_agent(p, val, vlen, line);
    else if (key == P_ALLOW || key == P_DISALLOW) add_rule(p, key == P_ALLOW, val, vlen, line);
    set_prev(p, field, flen);
}

/* An agent's name as can_fetch compares it (§4): trimmed, lower-cased. */
static char *agent_key(const char *agent) {
    const char *a = agent;
    size_t n = strlen(agent);
    py_strip(&a, &n);
    char *lower = optout_malloc(n + 1);
    for (size_t i = 0; i < n; i++) lower[i] = optout_lower(a[i]);
    lower[n] = '\0';
    return lower;
}

/* The set an agent uses (§4): the longest name contained in its lower-cased name, `*` scoring 1,
 * the first registered winning ties; -1 when none scores. */
static long choose_set(const struct pparser *p, const char *lower) {
    size_t n = strlen(lower);
    long best = -1;
    size_t best_score = 0;
    for (size_t i = 0; i < p->set_count; i++) {
        const struct pset *s = &p->sets[i];
        size_t score = 0;
        if (s->name_len == 1 && s->name[0] == '*') score = 1;
        else if (memmem(lower, n, s->name, s->name_len)) score = s->name_cps;
        if (score > best_score) {
            best_score = score;
            best = (long)i;
        }
    }
    return best;
}

static void pparser_free(struct pparser *p) {
    for (size_t i = 0; i < p->set_count; i++) {
        free(p->sets[i].name);
        free(p->sets[i].rules);
    }
    free(p->sets);
    free(p->current);
    for (size_t a = 0; a < p->agent_count; a++) free(p->agent_names[a]);
    free(p->agent_names);
    free(p->agent_lens);
    raw_rules_free(&p->raw);
}

optout_robots *robots_compile_protego(const char *body, size_t len, const optout_agents *agents) {
    size_t tlen;
    char *text = utf8_replace(body, len, &tlen); /* no size limit: Apertus parsed whole files */
    struct pparser p = {0};
    p.agent_count = optout_agents_count(agents);
    p.agent_names = optout_malloc((p.agent_count ? p.agent_count : 1) * sizeof *p.agent_names);
    p.agent_lens = optout_malloc((p.agent_count ? p.agent_count : 1) * sizeof *p.agent_lens);
    for (size_t a = 0; a < p.agent_count; a++) {
        p.agent_names[a] = agent_key(optout_agents_name(agents, a));
        p.agent_lens[a] = strlen(p.agent_names[a]);
    }
    uint32_t line = 0;
    for (size_t i = 0; i < tlen && !p.failed;) {
        size_t j = i, br = 0;
        while (j < tlen && (!BREAK_START[(unsigned char)text[j]] || (br = line_break(text + j, tlen - j)) == 0)) j++;
        line++;
        handle_line(&p, text + i, j - i, line);
        i = j + br;
    }
    free(text);

    optout_agentset has_group, none;
    optout_agentset_clear(&has_group);
    optout_agentset_clear(&none);
    size_t count = optout_agents_count(agents);
    if (!p.failed) {
        for (size_t a = 0; a < count; a++) {
            long s = choose_set(&p, p.agent_names[a]);
            if (s < 0) continue;
            optout_agentset_add(&has_group, a);
            const struct pset *set = &p.sets[s];
            for (size_t k = 0; k < set->count; k++) {
                struct raw_rule *r = &p.raw.items[set->rules[k]];
                optout_agentset_add(&r->agents, a);
                if (r->rule.group_line == 0) r->rule.group_line = set->first_line;
            }
        }
    }
    /* A rule shared by two sets (consecutive User-agent lines) carries the agents of both; the
     * sets' rule lists are otherwise disjoint, so robots_build's per-agent views are exact. */
    optout_robots *r = robots_build(&p.raw, count, &has_group, &none, OPTOUT_MODE_PROTEGO, 0);
    if (r) r->unparsable = (uint8_t)p.failed;
    pparser_free(&p);
    return r;
}

/* §3.3: the string Protego matches for a URL, into out (9 * len + 8 bytes). -1 where Python
 * raises (Apertus then counts the URL as allowed). */
long robots_protego_url(const char *url, size_t len, char *out) {
    char *clean = optout_malloc(len + 1);
    size_t c = url_clean(url, len, clean);
    struct url_parts u;
    if (url_split(clean, c, &u) != 0) {
        free(clean);
        return -1;
    }
    size_t o = normalize_path(u.path, u.path_len, "/%", "/%", out);
    o = append_part(out, o, ';', u.params, u.params_len);
    o = append_part(out, o, '?', u.query, u.query_len);
    o = append_part(out, o, '#', u.fragment, u.fragment_len);
    free(clean);
    if (o == 0) out[o++] = '/';
    return (long)o;
}
