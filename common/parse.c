/* parse.c — strict number parsing of option values (include/optout/parse.h), on util.h's digit
 * parser. strtoull is not used: it accepts leading space and a sign, and wraps "-1" to 2^64-1. */
#include "optout/parse.h"

#include <string.h>

#include "optout/util.h"

int optout_parse_number(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen) {
    uint64_t v;
    if (optout_parse_u64(text, strlen(text), UINT64_MAX, &v) != 0 || v < min || v > max) {
        if (max != UINT64_MAX)
            optout_set_err(err, errlen, "expected %llu..%llu, got '%.200s'", (unsigned long long)min,
                           (unsigned long long)max, text);
        else if (min <= 1)
            optout_set_err(err, errlen, "expected a %snumber, got '%.200s'", min ? "positive " : "", text);
        else
            optout_set_err(err, errlen, "expected a number of at least %llu, got '%.200s'", (unsigned long long)min,
                           text);
        return -1;
    }
    *out = v;
    return 0;
}

int optout_parse_bytes(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen) {
    size_t digits = strspn(text, "0123456789");
    const char *u = text + digits;
    unsigned shift = 0;
    switch (*u) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
    }
    if (shift) {
        u++;
        if (*u == 'i') u++;
        if (*u == 'B') u++;
    }
    uint64_t v;
    if (*u || optout_parse_u64(text, digits, UINT64_MAX, &v) != 0 || v > (UINT64_MAX >> shift) || (v << shift) < min ||
        (v << shift) > max) {
        if (max == UINT64_MAX && min <= 1)
            optout_set_err(err, errlen, "expected a %snumber of bytes (K, M, G, T suffixes), got '%.200s'",
                           min ? "positive " : "", text);
        else
            optout_set_err(err, errlen, "expected a number of bytes in %llu..%llu (K, M, G, T suffixes), got '%.200s'",
                           (unsigned long long)min, (unsigned long long)max, text);
        return -1;
    }
    *out = v << shift;
    return 0;
}
