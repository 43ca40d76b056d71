/* hostlist.h — a host-list file: the hosts whose robots.txt is fetched (`optout fetch --hosts`,
 * `optout run` / optout-broker --hosts, and the ranking's hosts.txt that a fetch task reads).
 *
 * Contract (the one rule set of every reader)
 * - One host key a line. Lines end in LF; white space around a key is ignored (a CR before the
 *   LF included); blank lines and lines whose first non-blank character is '#' are skipped.
 * - Every other line must be a host key of the given mode (hostkey.h): the key of
 *   "http://LINE/" must be LINE itself, compared ignoring ASCII case (so "Example.COM" is
 *   example.com), and, for canonical keys, with a clean IDNA conversion. A line with '/', '?'
 *   or '#' inside (or '@', for canonical keys), or longer than a key can be, is no host. Such a line is an error naming
 *   FILE:LINE: a list is never used half.
 * - The keys are stored as the mode writes them (canonical: lower case), in file order; a key
 *   listed twice is kept once, at its first place.
 * - `keep` (may be NULL: every key) chooses the keys kept, e.g. one partition's; duplicates are
 *   dropped before it is asked. "-" reads standard input.
 * - optout_hostlist_write() writes such a file: the hosts given, one a line, published whole
 *   (files.h: a reader sees the old list or the new one).
 * Thread-safe (no shared state); needs curl_global_init (hostkey.h).
 */
#ifndef OPTOUT_HOSTLIST_H
#define OPTOUT_HOSTLIST_H

#include <stddef.h>

#include "optout/hostkey.h"

typedef struct optout_hostlist optout_hostlist;

/* Reads PATH. NULL with err and errno: EINVAL "PATH:LINE: 'x' is not a host key" (a usage
 * error), ENOMEM, or the error of opening or reading ("PATH: strerror"). */
optout_hostlist *optout_hostlist_read(const char *path, optout_hostkey_mode mode,
                                      int (*keep)(const char *key, size_t len, void *arg), void *arg, char *err,
                                      size_t errlen);
size_t optout_hostlist_count(const optout_hostlist *l);
/* The keys, NUL-terminated, valid while l is. */
const char *const *optout_hostlist_hosts(const optout_hostlist *l);
void optout_hostlist_free(optout_hostlist *l);

/* hosts[0..n) (each a host key, without LF) written to path, one a line. 0, or -1 with err. */
int optout_hostlist_write(const char *path, const char *const *hosts, size_t n, char *err, size_t errlen);

#endif
