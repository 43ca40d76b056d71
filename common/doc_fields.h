/* doc_fields.h — what the filter (filter.c) and the ranking (rank.c) read from one document, one
 * definition for both so that a document counts the same in report.json and in the ranking.
 * Implemented in filter.c; internal to common/.
 *
 * - Field paths: a configured path replaces both defaults (top level, then under "metadata").
 * - Facts: class from `language` (optout_language_class), year from `dump` else `date`, UTF-8
 *   bytes and code points of `text`, tokens from `token_count` (a number or a string of digits)
 *   else ceil(bytes / 4).
 * - URL: the first present of the two url paths, a non-empty string, escapes decoded.
 * - id (`id`, else `metadata.id`; fixed paths): the sample's key (policy.h).
 * - Host keys behind a small cache keyed by the URL's scheme and authority (libcurl's parser is the
 *   most expensive step per line and hosts repeat); the key is always computed on scheme and
 *   authority alone, so it does not depend on whether the entry was cached.
 */
#ifndef OPTOUT_DOC_FIELDS_H
#define OPTOUT_DOC_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "optout/docsource.h"
#include "optout/hostkey.h"
#include "optout/jsonl.h"
#include "optout/stats.h"

/* Index of each path in the compiled field set and in the extracted values. */
enum field { F_URL, F_META_URL, F_LANG, F_META_LANG, F_TOKENS, F_META_TOKENS, F_DUMP, F_META_DUMP,
             F_DATE, F_META_DATE, F_TEXT, F_ID, F_META_ID, F_COUNT };

/* The F_COUNT paths for these configured fields (NULL: the defaults) into paths. */
void optout_doc_field_paths(const char *url_field, const char *language_field, const char *tokens_field,
                            const char *dump_field, const char *date_field, const char *text_field,
                            const char **paths);

/* The field set for these paths (NULL: the defaults). NULL when a path is invalid or no memory. */
optout_json_fields *optout_doc_fields_new(const char *url_field, const char *language_field, const char *tokens_field,
                                          const char *dump_field, const char *date_field, const char *text_field);

/* Fills f->cls, year, bytes, chars, tokens from the extracted values v[F_COUNT]. Returns 1 when
 * the tokens are the ceil(bytes / 4) estimate, else 0. */
int optout_doc_facts_of(const optout_json_value *v, optout_doc_facts *f);
/* The same for a document of docsource.h (its text given as a value or as a size). */
int optout_doc_facts_of_doc(const optout_doc *d, optout_doc_facts *f);

/* The document's URL into *u, *ulen, unescaped into *buf (grown as needed, caller frees) when it
 * has escapes. 0 when it has none (absent, not a string, empty). */
int optout_doc_url(const optout_json_value *v, const char **u, size_t *ulen, char **buf, size_t *cap);

#define OPTOUT_HOSTKEY_CACHE 4096
#define OPTOUT_HOSTKEY_PREFIX_MAX 200

struct optout_hostkey_entry {
    char prefix[OPTOUT_HOSTKEY_PREFIX_MAX];
    size_t prefix_len; /* 0: empty */
    optout_hostkey_status status;
    int bad_idna;
    char key[OPTOUT_HOSTKEY_MAX];
    size_t key_len;
};

/* The host key of url through cache (OPTOUT_HOSTKEY_CACHE zeroed entries); scratch serves URLs
 * whose authority is too long to cache. The result stays valid until the next call. */
const struct optout_hostkey_entry *optout_hostkey_cached(struct optout_hostkey_entry *cache, optout_hostkey_mode mode,
                                                         const char *url, size_t len,
                                                         struct optout_hostkey_entry *scratch);

#endif
