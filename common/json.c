/* json.c — the JSON string writer (include/optout/json.h). */
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

void optout_json_put_stringn(FILE *out, const char *s, size_t n) {
    fputc('"', out);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", out); break;
            case '\r': fputs("\\r", out); break;
            case '\t': fputs("\\t", out); break;
            default: fprintf(out, "\\u%04x", c);
            }
            i++;
        } else {
            size_t k = optout_utf8_sequence_len(p + i, n - i);
            if (k == 0) {
                fputs("\\ufffd", out);
                i++;
            } else {
                fwrite(p + i, 1, k, out);
                i += k;
            }
        }
    }
    fputc('"', out);
}

void optout_json_put_string(FILE *out, const char *s) {
    if (!s) fputs("null", out);
    else optout_json_put_stringn(out, s, strlen(s));
}
