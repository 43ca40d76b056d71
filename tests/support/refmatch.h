/* refmatch.h — an independent robots.txt pattern matcher for tests (not used by the engine).
 * refmatch_pattern: does a normalised pattern ('*' any run, final '$' anchors, else a prefix
 * match) match a normalised path? refmatch_rule_url: the same, where a literal '*' or '$' of the
 * path may also be read as its escape %2A / %24. refmatch_is_robots_txt: is a normalised
 * path-and-query the robots.txt file itself ("/robots.txt", any query)? RFC 9309 allows it always. */
#ifndef OPTOUT_TESTS_REFMATCH_H
#define OPTOUT_TESTS_REFMATCH_H

#include <stddef.h>

int refmatch_pattern(const char *pat, size_t pn, const char *path, size_t len);
int refmatch_rule_url(const char *pat, size_t pn, const char *path, size_t len);
int refmatch_is_robots_txt(const char *path, size_t len);

#endif
