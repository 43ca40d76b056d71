/* json.c — the JSON string writer (include/optout/json.h).
 *
 * One step function says what the next input byte(s) become; the stream and the buffer writers
 * both loop over it, so that they cannot disagree. */
#include "optout/json.h"

#include <string.h>

size_t optout_utf8_sequence_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned char c = s[0];
    size_t k;
    unsigned min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2, min = 0x80, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, min = 0x800, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* The output for the input at p[*i..n): written into out (at most 6 bytes), its length returned;
 * *i advances past the input consumed. */
static size_t escape_step(const unsigned char *p, size_t n, size_t *i, char out[6]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char c = p[*i];
    if (c == '"' || c == '\\') {
        out[0] = '\\', out[1] = (char)c;
        ++*i;
        return 2;
    }
    if (c < 0x20) {
        ++*i;
        out[0] = '\\';
        switch (c) {
        case '\n': out[1] = 'n'; return 2;
        case '\r': out[1] = 'r'; return 2;
        case '\t': out[1] = 't'; return 2;
        default: memcpy(out + 1, "u00", 3), out[4] = hex[c >> 4], out[5] = hex[c & 15]; return 6;
        }
    }
    size_t k = optout_utf8_sequence_len(p + *i, n - *i);
    if (k == 0) {
        ++*i;
        memcpy(out, "\\ufffd", 6);
        return 6;
    }
    memcpy(out, p + *i, k);
    *i += k;
    return k;
}

void optout_json_put_stringn(FILE *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    char piece[6];
    fputc('"', out);
    for (size_t i = 0; i < n;) fwrite(piece, 1, escape_step(p, n, &i, piece), out);
    fputc('"', out);
}

void optout_json_put_string(FILE *out, const char *s) {
    if (!s) fputs("null", out);
    else optout_json_put_stringn(out, s, strlen(s));
}

size_t optout_json_string(char *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) o += escape_step(p, n, &i, out + o);
    out[o++] = '"';
    return o;
}
