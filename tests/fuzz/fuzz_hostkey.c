/* fuzz_hostkey.c — libFuzzer target for URL -> host key (common/hostkey.c, libcurl + libidn2).
 * Invariants: the key is NUL-terminated, its length is what is reported, it fits the buffer, it
 * has no upper-case ASCII, and computing it twice gives the same answer. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "optout/hostkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        init = 1;
    }
    const char *url = (const char *)data;
    for (int mode = 0; mode < 2; mode++) {
        char a[OPTOUT_HOSTKEY_MAX], b[OPTOUT_HOSTKEY_MAX];
        size_t la, lb;
        int bad_a, bad_b;
        optout_hostkey_status sa = optout_hostkey(url, size, (optout_hostkey_mode)mode, a, &la, &bad_a);
        optout_hostkey_status sb = optout_hostkey(url, size, (optout_hostkey_mode)mode, b, &lb, &bad_b);
        if (sa != sb || la != lb || bad_a != bad_b || memcmp(a, b, la) != 0) abort();
        if (sa != OPTOUT_HOSTKEY_OK) continue;
        if (la == 0 || la >= OPTOUT_HOSTKEY_MAX || strlen(a) != la) abort();
        if (mode == OPTOUT_HOSTKEY_CANONICAL)
            for (size_t i = 0; i < la; i++)
                if (a[i] >= 'A' && a[i] <= 'Z') abort();
    }
    return 0;
}
