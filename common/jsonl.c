/* jsonl.c — field extraction from one JSON Lines document (include/optout/jsonl.h).
 *
 * A single forward scan. Objects are entered only when a wanted path continues below the key;
 * every other value is skipped with a bracket counter that steps over strings, so a 100 KB `text`
 * value costs one memchr-driven pass to find its closing quote.
 */
#include "optout/jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct path {
    char *text; /* "metadata.url" */
    size_t len;
};

struct optout_json_fields {
    struct path paths[OPTOUT_JSON_MAX_FIELDS];
    size_t count;
};

optout_json_fields *optout_json_fields_new(const char *const *paths, size_t count) {
    if (count > OPTOUT_JSON_MAX_FIELDS) {
        errno = EINVAL;
        return NULL;
    }
    optout_json_fields *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(paths[i]);
        if (n == 0 || paths[i][0] == '.' || paths[i][n - 1] == '.' || strstr(paths[i], "..")) {
            optout_json_fields_free(f);
            errno = EINVAL;
            return NULL;
        }
        f->paths[i].text = strdup(paths[i]);
        if (!f->paths[i].text) {
            optout_json_fields_free(f);
            return NULL;
        }
        f->paths[i].len = n;
        f->count++;
    }
    return f;
}

void optout_json_fields_free(optout_json_fields *f) {
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) free(f->paths[i].text);
    free(f);
}

struct scan {
    const char *p, *end;
    const optout_json_fields *fields;
    optout_json_value *out;
};

static void skip_ws(struct scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

/* At an opening quote: moves past the closing one. Returns the content slice or -1. */
static int scan_string(struct scan *s, const char **str, size_t *len, int *escapes) {
    const char *start = ++s->p;
    *escapes = 0;
    for (;;) {
        const char *q = memchr(s->p, '"', (size_t)(s->end - s->p));
        if (!q) return -1;
        size_t backslashes = 0;
        for (const char *b = q; b > start && b[-1] == '\\'; b--) backslashes++;
        s->p = q + 1;
        if (backslashes % 2 == 0) {
            *str = start;
            *len = (size_t)(q - start);
            if (!*escapes) *escapes = memchr(start, '\\', *len) != NULL;
            return 0;
        }
        *escapes = 1;
    }
}

/* Skips one value of any kind; `depth` counts the enclosing containers. */
static int skip_value(struct scan *s, int depth) {
    if (s->p >= s->end) return -1;
    char c = *s->p;
    if (c == '"') {
        const char *str;
        size_t len;
        int esc;
        return scan_string(s, &str, &len, &esc);
    }
    if (c == '{' || c == '[') {
        int level = 0;
        while (s->p < s->end) {
            c = *s->p;
            if (c == '"') {
                const char *str;
                size_t len;
                int esc;
                if (scan_string(s, &str, &len, &esc) != 0) return -1;
                continue;
            }
            if (c == '{' || c == '[') {
                if (++level + depth > OPTOUT_JSON_MAX_DEPTH) return -1;
            } else if (c == '}' || c == ']') {
                if (--level == 0) {
                    s->p++;
                    return 0;
                }
            }
            s->p++;
        }
        return -1;
    }
    /* number, true, false, null: up to the next delimiter */
    const char *start = s->p;
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' && *s->p != '\t' &&
           *s->p != '\r' && *s->p != '\n' && *s->p != '"' && *s->p != '{' && *s->p != '[')
        s->p++;
    return s->p > start ? 0 : -1;
}

/* The wanted paths continuing below `prefix` (a dotted path of the object being scanned). */
static int wants_below(const struct scan *s, const char *prefix, size_t plen) {
    for (size_t i = 0; i < s->fields->count; i++) {
        const struct path *p = &s->fields->paths[i];
        if (p->len > plen && memcmp(p->text, prefix, plen) == 0 && p->text[plen] == '.') return 1;
    }
    return 0;
}

static int scan_object(struct scan *s, char *prefix, size_t plen, int depth) {
    if (depth > OPTOUT_JSON_MAX_DEPTH) return -1;
    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') return -1;
        const char *key;
        size_t klen;
        int kesc;
        if (scan_string(s, &key, &klen, &kesc) != 0) return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        skip_ws(s);
        if (s->p >= s->end) return -1;

        /* the dotted path of this value: prefix + "." + key (only built when it can matter) */
        char path[256];
        size_t len = 0;
        int usable = plen + 1 + klen < sizeof path;
        if (usable) {
            memcpy(path, prefix, plen);
            len = plen;
            if (plen) path[len++] = '.';
            memcpy(path + len, key, klen);
            len += klen;
        }
        int matched = 0;
        if (usable) {
            for (size_t i = 0; i < s->fields->count; i++) {
                const struct path *p = &s->fields->paths[i];
                if (p->len != len || memcmp(p->text, path, len) != 0) continue;
                optout_json_value *v = &s->out[i];
                const char *start = s->p;
                if (*s->p == '"') {
                    int esc;
                    if (scan_string(s, &v->s, &v->len, &esc) != 0) return -1;
                    v->is_string = 1;
                    v->has_escapes = (uint8_t)esc;
                } else {
                    if (skip_value(s, depth) != 0) return -1;
                    v->s = start;
                    v->len = (size_t)(s->p - start);
                    v->is_string = 0;
                    v->has_escapes = 0;
                }
                v->present = 1;
                matched = 1;
                /* another path may name the same value: fill it too */
                for (size_t j = i + 1; j < s->fields->count; j++)
                    if (s->fields->paths[j].len == len && memcmp(s->fields->paths[j].text, path, len) == 0)
                        s->out[j] = *v;
                break;
            }
        }
        if (!matched) {
            if (usable && *s->p == '{' && wants_below(s, path, len)) {
                if (scan_object(s, path, len, depth + 1) != 0) return -1;
            } else if (skip_value(s, depth) != 0) {
                return -1;
            }
        }
        skip_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

int optout_json_extract(const optout_json_fields *fields, const char *line, size_t len, optout_json_value *out) {
    memset(out, 0, fields->count * sizeof *out);
    struct scan s = {.p = line, .end = line + len, .fields = fields, .out = out};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return -1;
    char prefix[1] = {0};
    if (scan_object(&s, prefix, 0, 1) != 0) {
        memset(out, 0, fields->count * sizeof *out);
        return -1;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        memset(out, 0, fields->count * sizeof *out);
        return -1;
    }
    return 0;
}

static int hex4(const char *s, size_t avail, unsigned *v) {
    if (avail < 4) return -1;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *v = x;
    return 0;
}

/* Decodes the escape at s[i] ('\\'): sets *cp (a code point, or -1 for a one-byte escape
 * written to *byte) and returns the number of input bytes consumed. */
static size_t decode_escape(const char *s, size_t len, size_t i, long *cp, char *byte) {
    *cp = -1;
    if (i + 1 >= len) {
        *byte = '\\';
        return 1;
    }
    char e = s[i + 1];
    switch (e) {
    case 'n': *byte = '\n'; return 2;
    case 't': *byte = '\t'; return 2;
    case 'r': *byte = '\r'; return 2;
    case 'b': *byte = '\b'; return 2;
    case 'f': *byte = '\f'; return 2;
    case 'u': {
        unsigned hi;
        if (hex4(s + i + 2, len - i - 2, &hi) != 0) {
            *byte = 'u';
            return 2;
        }
        if (hi >= 0xD800 && hi <= 0xDBFF && i + 11 < len && s[i + 6] == '\\' && s[i + 7] == 'u') {
            unsigned lo;
            if (hex4(s + i + 8, len - i - 8, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                *cp = 0x10000 + (((long)hi - 0xD800) << 10) + ((long)lo - 0xDC00);
                return 12;
            }
        }
        *cp = (hi >= 0xD800 && hi <= 0xDFFF) ? 0xFFFD : (long)hi;
        return 6;
    }
    default: *byte = e; return 2; /* \" \\ \/ and anything else: the character itself */
    }
}

static size_t utf8_length(long cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

size_t optout_json_unescape(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        long cp;
        char byte;
        i += decode_escape(s, len, i, &cp, &byte);
        if (cp < 0) {
            out[o++] = byte;
        } else if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (cp >> 18));
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

void optout_json_text_size(const char *s, size_t len, uint64_t *bytes, uint64_t *chars) {
    uint64_t b = 0, c = 0;
    for (size_t i = 0; i < len;) {
        const char *bs = memchr(s + i, '\\', len - i);
        size_t run_end = bs ? (size_t)(bs - s) : len;
        b += run_end - i;
        for (; i < run_end; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (!bs) break;
        long cp;
        char byte;
        i += decode_escape(s, len, i, &cp, &byte);
        b += cp < 0 ? 1 : utf8_length(cp);
        c++;
    }
    *bytes = b;
    *chars = c;
}
