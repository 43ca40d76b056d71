/* hostkey.c — URL to host key with libcurl's URL API and libidn2 (include/optout/hostkey.h).
 *
 * libcurl does the URL grammar (schemes, userinfo, IPv6 literals, ports, percent-decoding of the
 * host); libidn2 does IDNA2008. What is left by hand is only the key's final shape: lower case,
 * no trailing dot, ":port" when not the default.
 */
#include "optout/hostkey.h"

#include <curl/curl.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

int optout_hostkey_mode_parse(const char *name, optout_hostkey_mode *mode) {
    if (strcmp(name, "canonical") == 0) *mode = OPTOUT_HOSTKEY_CANONICAL;
    else if (strcmp(name, "netloc") == 0) *mode = OPTOUT_HOSTKEY_NETLOC;
    else return -1;
    return 0;
}

static optout_hostkey_status netloc(const char *url, size_t len, char out[OPTOUT_HOSTKEY_MAX], size_t *out_len) {
    const char *end = url + len;
    const char *p = memmem(url, len, "//", 2);
    if (!p) return OPTOUT_HOSTKEY_BAD_URL;
    p += 2;
    const char *q = p;
    while (q < end && *q != '/' && *q != '?' && *q != '#') q++;
    size_t n = (size_t)(q - p);
    if (n == 0 || n >= OPTOUT_HOSTKEY_MAX) return OPTOUT_HOSTKEY_NO_HOST;
    memcpy(out, p, n);
    out[n] = '\0';
    *out_len = n;
    return OPTOUT_HOSTKEY_OK;
}

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* Lower-cases ASCII, drops one trailing dot, and appends ":port" when given. */
static optout_hostkey_status finish_key(const char *host, const char *port, char out[OPTOUT_HOSTKEY_MAX],
                                        size_t *out_len) {
    size_t n = strlen(host);
    if (n > 1 && host[n - 1] == '.') n--;
    if (n == 0) return OPTOUT_HOSTKEY_NO_HOST;
    size_t plen = port ? strlen(port) + 1 : 0;
    if (n + plen >= OPTOUT_HOSTKEY_MAX) return OPTOUT_HOSTKEY_NO_HOST;
    for (size_t i = 0; i < n; i++) out[i] = optout_lower(host[i]);
    if (port) {
        out[n] = ':';
        memcpy(out + n + 1, port, plen - 1);
    }
    out[n + plen] = '\0';
    *out_len = n + plen;
    return OPTOUT_HOSTKEY_OK;
}

optout_hostkey_status optout_hostkey(const char *url, size_t url_len, optout_hostkey_mode mode,
                                     char out[OPTOUT_HOSTKEY_MAX], size_t *out_len, int *bad_idna) {
    *bad_idna = 0;
    *out_len = 0;
    out[0] = '\0';
    if (memchr(url, '\0', url_len)) return OPTOUT_HOSTKEY_BAD_URL; /* a key must be a C string */
    if (mode == OPTOUT_HOSTKEY_NETLOC) return netloc(url, url_len, out, out_len);
    /* libcurl reads "http:///x" as host "x"; RFC 3986 says the authority is empty. */
    const char *sep = memmem(url, url_len, "://", 3);
    if (sep && (size_t)(sep - url) + 3 < url_len && sep[3] == '/') return OPTOUT_HOSTKEY_NO_HOST;

    char stack[2048];
    char *z = url_len < sizeof stack ? stack : optout_malloc(url_len + 1);
    memcpy(z, url, url_len);
    z[url_len] = '\0';
    optout_hostkey_status st = OPTOUT_HOSTKEY_BAD_URL;
    char *host = NULL, *port = NULL, *idna = NULL;
    CURLU *u = curl_url();
    if (!u) {
        if (z != stack) free(z);
        return OPTOUT_HOSTKEY_BAD_URL;
    }
    if (curl_url_set(u, CURLUPART_URL, z, CURLU_NON_SUPPORT_SCHEME | CURLU_ALLOW_SPACE) != CURLUE_OK) goto done;
    CURLUcode rc = curl_url_get(u, CURLUPART_HOST, &host, CURLU_URLDECODE);
    if (rc == CURLUE_NO_HOST || (rc == CURLUE_OK && host[0] == '\0')) {
        st = OPTOUT_HOSTKEY_NO_HOST;
        goto done;
    }
    if (rc != CURLUE_OK) goto done;
    rc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
    if (rc != CURLUE_OK && rc != CURLUE_NO_PORT) goto done;
    if (rc == CURLUE_NO_PORT) port = NULL;
    if (host[0] == '[' || is_ascii(host)) {
        st = finish_key(host, port, out, out_len);
    } else {
        /* IDNA2008 non-transitional (UTS #46 mapping, NFC input), as browsers resolve hosts. */
        size_t n = strlen(host);
        if (n > 1 && host[n - 1] == '.') host[n - 1] = '\0';
        if (idn2_to_ascii_8z(host, &idna, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) == IDN2_OK) {
            st = finish_key(idna, port, out, out_len);
        } else {
            *bad_idna = 1;
            st = finish_key(host, port, out, out_len);
        }
    }
done:
    idn2_free(idna);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (z != stack) free(z);
    return st;
}
