/* refmatch.c — an independent matcher for robots.txt patterns, for tests: the engine's deciding
 * rule must match the URL by this simple backtracking reading of RFC 9309 §2.2.3 too. Shared by the
 * real-bodies test and the fuzz target (tests/support/refmatch.h). */
#include "refmatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Full match of `p` against `s`, '*' matching any run of octets (classic two-pointer backtracking). */
static int wild_full(const char *p, size_t pn, const char *s, size_t sn) {
    size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == s[si]) {
            pi++, si++;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < pn && p[pi] == '*') pi++;
    return pi == pn;
}

/* Does the normalised pattern match the normalised path? A final '$' anchors, otherwise the
 * pattern matches a prefix. */
int refmatch_pattern(const char *pat, size_t pn, const char *path, size_t len) {
    if (pn > 0 && pat[pn - 1] == '$') return wild_full(pat, pn - 1, path, len);
    for (size_t i = 0; i < pn; i++)
        if (pat[i] == '*') { /* prefix match of a glob = full match of glob + '*' */
            char *q = malloc(pn + 1);
            if (!q) abort();
            memcpy(q, pat, pn);
            q[pn] = '*';
            int m = wild_full(q, pn + 1, path, len);
            free(q);
            return m;
        }
    return pn <= len && memcmp(pat, path, pn) == 0;
}

/* The deciding rule must match the URL's normalised path+query, where a literal '*' or '$' of the
 * URL is taken either as itself or as its escape %2A / %24 (RFC 9309 §2.2.3: the pattern "%2A"
 * matches a literal '*'); both readings are accepted so the check holds across that choice. */
int refmatch_rule_url(const char *pat, size_t pn, const char *path, size_t len) {
    if (refmatch_pattern(pat, pn, path, len)) return 1;
    if (!memchr(path, '*', len) && !memchr(path, '$', len)) return 0;
    char *esc = malloc(3 * len + 1);
    if (!esc) abort();
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '*' || path[i] == '$') {
            memcpy(esc + o, path[i] == '*' ? "%2A" : "%24", 3);
            o += 3;
        } else {
            esc[o++] = path[i];
        }
    }
    int m = refmatch_pattern(pat, pn, esc, o);
    free(esc);
    return m;
}


int refmatch_is_robots_txt(const char *p, size_t n) {
    const char *q = memchr(p, '?', n);
    size_t path_len = q ? (size_t)(q - p) : n;
    return path_len == 11 && memcmp(p, "/robots.txt", 11) == 0;
}
