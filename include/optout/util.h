/* util.h — small helpers every module needs: ASCII character classes that ignore the locale,
 * case-insensitive comparison, the error setter and the out-of-memory policy (with the array
 * growth and strdup that follow it), the strict digit parser, reading a whole file, the monotonic
 * clock, sleeps, a file's mtime in nanoseconds and removing a tree.
 * Contract: each function says its own below; optout_read_file returns a malloc'd, NUL-terminated
 * buffer or NULL with errno set (EFBIG when the file exceeds `max` bytes).
 */
#ifndef OPTOUT_UTIL_H
#define OPTOUT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

static inline int optout_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
static inline char optout_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}
static inline int optout_equal_nocase(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (optout_lower(a[i]) != optout_lower(b[i])) return 0;
    return 1;
}
/* 1 when s[0..len) starts with the lower-case ASCII `prefix`, ignoring case. */
static inline int optout_starts_nocase(const char *s, size_t len, const char *prefix, size_t plen) {
    return len >= plen && optout_equal_nocase(s, prefix, plen);
}

/* The project's error convention: a message into err (errlen bytes, may be NULL/0), like snprintf. */
__attribute__((format(printf, 3, 4))) void optout_set_err(char *err, size_t errlen, const char *fmt, ...);
/* The same from a va_list, for a module's own "set the error and return -1" helper. */
__attribute__((format(printf, 3, 0))) void optout_set_errv(char *err, size_t errlen, const char *fmt, va_list ap);

/* The one out-of-memory policy: where a failed allocation has no sensible answer (a decision must
 * not be guessed), log "out of memory (<what>)" at LOG_CRIT and abort, as Redis's zmalloc does.
 * optout_malloc() is malloc that never returns NULL; optout_oom() is the same end for code that
 * allocates by other means (realloc, a library's constructor). */
_Noreturn void optout_oom(const char *what);
void *optout_malloc(size_t size);
/* The growth of an array that must not fail: room for one more element after the n in v. When n
 * reaches *cap, *cap doubles (from `first`) and v is reallocated; out of memory (or a size that
 * overflows) ends in optout_oom(what). Returns v, moved or not: `v = optout_grow(v, n, &cap, ...)`. */
void *optout_grow(void *v, size_t n, size_t *cap, size_t elem, size_t first, const char *what);

/* The one strict decimal digit parser (files, and parse.h's option values): s[0..len) must be
 * ASCII digits only (no sign, blank or base prefix; leading zeros allowed), at least one, with a
 * value <= max. 0, or -1 (nothing stored). */
int optout_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);


/* mkdir -p of the directory part of `path` (nothing when it has none). 0, or -1 with errno. */
int optout_make_parent_dirs(const char *path);

/* fsync of a directory (after a rename or create in it), and of the directory holding `path`.
 * 0, or -1 with errno (preserved across the close). */
int optout_fsync_dir(const char *dir);
int optout_fsync_parent_dir(const char *path);

/* A secret (e.g. a Redis password) from a file: its first line, malloc'd. NULL with errno set when
 * unreadable, EINVAL when empty, EPERM when every user may read it (mode o+r: chmod o-rwx).
 * Secrets are never taken from command lines (`ps` shows those) nor from the configuration file. */
char *optout_read_secret_file(const char *path);

char *optout_read_file(const char *path, size_t max, size_t *len);
/* Reads all of an open descriptor (e.g. stdin). Same contract as optout_read_file. */
char *optout_read_fd(int fd, size_t max, size_t *len);

/* Milliseconds on CLOCK_MONOTONIC (deadlines, liveness, rates: never the wall clock, which jumps). */
int64_t optout_now_ms(void);
/* Sleeps ms milliseconds, the whole of them (a signal's interruption is resumed). */
void optout_sleep_ms(long ms);
/* Sleeps ms milliseconds in slices of at most 100 ms, waking early once *stop is set (stop may be
 * NULL): the waits of retries and rate limits, which SIGINT must cut short. 1 when stopped. */
int optout_nap_ms(int64_t ms, volatile sig_atomic_t *stop);

/* A file's modification time in nanoseconds since the epoch, from its stat: the one measure the
 * plan records for an input and every later check compares. */
int64_t optout_mtime_ns(const struct stat *st);

/* strdup that never returns NULL (out of memory: optout_oom); NULL gives "". */
char *optout_strdup(const char *s);

/* A file time (nanoseconds since the epoch, as stat gives it) as UTC ISO 8601 for people:
 * "2026-12-07T16:42:06.123456789Z" (the fraction left out when zero). Returns buf. */
const char *optout_format_time_ns(int64_t ns, char *buf, size_t cap);

/* Removes `path` and, when it is a directory, everything under it, like `rm -rf`. It never follows
 * a symbolic link: a link (even one to a directory) is removed, not what it points to, and every
 * step is relative to an open descriptor of the directory being emptied (a directory replaced by a
 * link meanwhile is not followed). A path that does not exist is success. It goes on past errors
 * and returns 0, or -1 with errno of the first error. */
int optout_remove_tree(const char *path);
#endif
