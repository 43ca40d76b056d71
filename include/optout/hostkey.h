/* hostkey.h — the host key of a document URL: which robots.txt decides it.
 *
 * Contract: the URL is parsed with libcurl's URL API; userinfo is dropped;
 * the host is percent-decoded, converted to punycode with libidn2 (IDNA2008, non-transitional;
 * when that fails the lower-cased raw host is used and *bad_idna set), lower-cased, stripped of a
 * trailing dot; IPv6 addresses keep their brackets; ":port" is kept only when it is not the
 * scheme's default. One key serves http and https alike.
 * OPTOUT_HOSTKEY_NETLOC instead returns the raw netloc (text between "//" and the next '/', '?'
 * or '#', userinfo and port included, case kept), as the Apertus pipeline keyed hosts.
 * Thread-safe; no global state beyond libcurl's (call curl_global_init once before threads).
 */
#ifndef OPTOUT_HOSTKEY_H
#define OPTOUT_HOSTKEY_H

#include <stddef.h>

#define OPTOUT_HOSTKEY_MAX 300 /* 253-octet DNS name, brackets, ":65535", NUL */

typedef enum { OPTOUT_HOSTKEY_CANONICAL = 0, OPTOUT_HOSTKEY_NETLOC } optout_hostkey_mode;

typedef enum {
    OPTOUT_HOSTKEY_OK = 0,
    OPTOUT_HOSTKEY_BAD_URL, /* libcurl cannot parse it (no "scheme://", bad characters, mailto:...) */
    OPTOUT_HOSTKEY_NO_HOST, /* an empty authority (file:///x, http:///x) or a host too long */
} optout_hostkey_status;

/* "canonical" / "netloc" <-> mode; parse returns -1 for an unknown name. */
int optout_hostkey_mode_parse(const char *name, optout_hostkey_mode *mode);

/* Writes the NUL-terminated key into out (OPTOUT_HOSTKEY_MAX bytes) and its length into *len.
 * *bad_idna is set to 1 when IDNA conversion failed and the raw host was used. */
optout_hostkey_status optout_hostkey(const char *url, size_t url_len, optout_hostkey_mode mode,
                                     char out[OPTOUT_HOSTKEY_MAX], size_t *len, int *bad_idna);

#endif
