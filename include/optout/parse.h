/* parse.h — strict parsing of the numbers a user gives: option values (--level 3, --max-memory
 * 4G), with a range and a message. (Digits inside a file's record: optout_parse_u64, util.h.)
 *
 * Contract
 * - A number is decimal digits only: no sign (so "-1" is refused, never wrapped to 2^64-1), no
 *   white space, no "0x", not empty; overflow of 64 bits is an error, never a clamp.
 * - A byte count may end with a binary unit: K, M, G or T (either case), optionally followed by
 *   "i" and/or "B" ("4G", "4GiB", "512MB", "64k"): 1K = 1024. "B" alone is not a unit.
 * - The range [min, max] is checked after the unit is applied.
 * - Errors fill err (optout_set_err) with "expected MIN..MAX, got 'TEXT'" ("expected a positive
 *   number" when there is no upper bound; a byte count: "expected a number of bytes ..."), which
 *   the caller prefixes with the option or the place.
 * Pure functions, thread-safe.
 */
#ifndef OPTOUT_PARSE_H
#define OPTOUT_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated decimal number in [min, max]. 0, or -1 with err. */
int optout_parse_number(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* A byte count with an optional unit (see above) in [min, max]. 0, or -1 with err. */
int optout_parse_bytes(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

#endif
