/* strmap.h — a hash map from byte-string keys to pointers (open addressing, linear probing).
 *
 * Contract: keys are copied; values are the caller's (optout_strmap_free may free them through a
 * callback). Lookups are O(1) expected; the table doubles at 50% load. Not thread-safe for writes.
 * Why by hand: none of the Debian libraries the project depends on offers a hash map, and glibc's
 * hsearch_r has a fixed size and no way to free its keys.
 */
#ifndef OPTOUT_STRMAP_H
#define OPTOUT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct optout_strmap optout_strmap;

optout_strmap *optout_strmap_new(void);
/* Inserts or replaces. Returns 0, or -1 (ENOMEM). *old (when not NULL) receives the replaced value. */
int optout_strmap_put(optout_strmap *m, const char *key, size_t len, void *value, void **old);
void *optout_strmap_get(const optout_strmap *m, const char *key, size_t len);
size_t optout_strmap_count(const optout_strmap *m);
/* Calls fn for every entry, in table order, until fn returns nonzero. */
void optout_strmap_each(const optout_strmap *m, int (*fn)(const char *key, size_t len, void *value, void *arg),
                        void *arg);
void optout_strmap_free(optout_strmap *m, void (*free_value)(void *value));

uint64_t optout_hash_bytes(const char *s, size_t len); /* FNV-1a, 64 bit */

#endif
