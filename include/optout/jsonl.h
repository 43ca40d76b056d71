/* jsonl.h — the few fields of a JSON Lines document a decision needs, found without building a
 * tree and without re-serialising anything (kept lines are written back byte for byte).
 *
 * Contract
 * - A field set is compiled once from dotted paths ("url", "metadata.url", "language").
 * - optout_json_extract() scans one line: it must be a single JSON object (white space around it
 *   allowed); otherwise it returns -1 (the caller counts `bad_json` and keeps the line). For each
 *   path it reports the raw value: for strings the bytes between the quotes, escapes not decoded
 *   (`has_escapes` tells); for numbers, literals, objects and arrays the token text. When a key
 *   repeats, the last occurrence wins (as Python's json and orjson do).
 * - The scanner validates structure (quotes, brackets, commas, colons) but not the grammar of
 *   numbers and literals; nesting deeper than OPTOUT_JSON_MAX_DEPTH is rejected as bad JSON.
 * - Pure functions over caller memory: thread-safe, no allocation after compilation.
 *
 * Why by hand: the Debian JSON libraries (json-c, jansson) build a DOM of the whole document,
 * text included, which would cost more than the rest of the filter together; we need five fields
 * and the exact input bytes.
 */
#ifndef OPTOUT_JSONL_H
#define OPTOUT_JSONL_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_JSON_MAX_FIELDS 16
#define OPTOUT_JSON_MAX_DEPTH 64

typedef struct {
    const char *s;
    size_t len;
    uint8_t present;
    uint8_t is_string;
    uint8_t has_escapes;
} optout_json_value;

typedef struct optout_json_fields optout_json_fields;

/* NULL with errno EINVAL for an empty path / component or more than OPTOUT_JSON_MAX_FIELDS. */
optout_json_fields *optout_json_fields_new(const char *const *paths, size_t count);
void optout_json_fields_free(optout_json_fields *fields);

/* out[i] receives path i. Returns 0, or -1 when the line is not one JSON object. */
int optout_json_extract(const optout_json_fields *fields, const char *line, size_t len,
                        optout_json_value *out);

/* Decodes the escapes of a raw string value into out (at most len bytes are written; \u escapes
 * become UTF-8, a lone surrogate U+FFFD). Returns the decoded length. */
size_t optout_json_unescape(const char *s, size_t len, char *out);

/* UTF-8 bytes and code points of a raw string value once decoded, without decoding it into memory.
 * Invalid UTF-8 counts each byte that is not a continuation byte as one code point. */
void optout_json_text_size(const char *s, size_t len, uint64_t *bytes, uint64_t *chars);

#endif
