/* json.h — writing JSON strings: the one string writer of every JSON file and answer optout
 * produces (report.json, `--stats`, manifest.json, `optout why --json`, `optout report --diff`).
 *
 * Contract
 * - The output is always a valid JSON string, whatever the bytes: '"' and '\\' are escaped; \n, \r
 *   and \t as such, other control characters (below 0x20) as \u00XX; valid UTF-8 sequences are
 *   written as they are; a byte that does not start a valid UTF-8 sequence (a stray continuation
 *   byte, an overlong form, a surrogate, past U+10FFFF, a truncated sequence) becomes \ufffd.
 * - optout_json_put_string() writes a NUL-terminated string, or `null` for NULL;
 *   optout_json_put_stringn() writes s[0..n) (NUL bytes included, as \u0000); optout_json_string()
 *   writes the same bytes into memory (the agents array of removed lines and tags).
 * - Write errors stay in the stream (ferror), as with every stdio call: the caller checks once.
 *
 * Reading JSON is elsewhere: jsonl.h scans documents, optout_json_unescape() decodes a string.
 */
#ifndef OPTOUT_JSON_H
#define OPTOUT_JSON_H

#include <stddef.h>
#include <stdio.h>

void optout_json_put_string(FILE *out, const char *s);
void optout_json_put_stringn(FILE *out, const char *s, size_t n);
/* The same bytes into a buffer of at least OPTOUT_JSON_STRING_MAX(n) bytes (no NUL added); returns
 * how many were written. */
#define OPTOUT_JSON_STRING_MAX(n) (6 * (n) + 2)
size_t optout_json_string(char *out, const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when s does not start one. */
size_t optout_utf8_sequence_len(const unsigned char *s, size_t n);

#endif
