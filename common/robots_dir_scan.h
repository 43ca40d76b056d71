/* robots_dir_scan.h — reading a robots directory's names and index (include/optout/verdicts.h
 * describes the layout), shared by the directory verdict source (verdicts_dir.c) and the Redis
 * loader (verdicts_redis.c), so that both see exactly the same hosts and outcomes.
 *
 * Contract
 * - robots_dir_key(): file name (or index.tsv host) -> host key: lower case, "host_PORT" ->
 *   "host:PORT" (at most 5 digits), "_80" and "_443" dropped.
 * - robots_dir_scan(): lists the directory once (names only, no body is read) and applies
 *   index.tsv; fills `hosts` (host key -> an entry of entry_size bytes, calloc'd, starting with
 *   struct robots_dir_host, the rest zero). Two files for one key, an index line that is not
 *   HOST<TAB>OUTCOME, and an `ok` index host without a file are errors. Returns the number of host
 *   keys with a file, or -1 with err; on error `hosts` may hold entries: the caller frees them.
 */
#ifndef OPTOUT_ROBOTS_DIR_SCAN_H
#define OPTOUT_ROBOTS_DIR_SCAN_H

#include <stddef.h>

#include "optout/stats.h"
#include "optout/strmap.h"

#define ROBOTS_DIR_FILE_MAX ((size_t)64 << 20) /* largest body read from a robots directory */
#define ROBOTS_DIR_KEY_MAX 1024                /* longest host key + 1 */

struct robots_dir_host {
    char *file; /* file name in the directory, or NULL (a host only in index.tsv) */
    optout_outcome outcome;
};

/* Writes the host key of `name` into key (NUL-terminated). Returns its length, 0 when it does not
 * fit in cap. */
size_t robots_dir_key(const char *name, char *key, size_t cap);

long robots_dir_scan(const char *dir, optout_strmap *hosts, size_t entry_size, char *err, size_t errlen);

/* Frees one entry of a scan's map (its file name, then the entry): the value free function for
 * optout_strmap_free() when the entry's extra bytes own nothing. */
void robots_dir_host_free(void *entry);

#endif
