/* log.h — messages on stderr, one convention for every binary.
 *
 * Contract: optout_log(LOG_ERR, "...") prints "PROGRAM: message\n" on stderr. Under systemd
 * (JOURNAL_STREAM set) the line instead starts with the sd-daemon priority prefix ("<3>") so the
 * journal records the right priority. Priorities are syslog's (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG); LOG_DEBUG lines are printed only when optout_log_verbose(1) was called or
 * OPTOUT_LOG_LEVEL=debug; OPTOUT_LOG_LEVEL=warning (or err) hides the lower priorities.
 */
#ifndef OPTOUT_LOG_H
#define OPTOUT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

void optout_log_init(const char *program);
void optout_log_verbose(int on);
void optout_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A function whose answer, when not NULL, starts the message: "PROGRAM: FILE:LINE: message"
 * (config.h names the configuration entry whose value is being parsed). NULL: none. */
void optout_log_set_where(const char *(*where)(void));
/* A context prepended to every later message, e.g. "run=3f2a9c0d1e4b" (the broker's run id):
 * "PROGRAM: run=3f2a9c0d1e4b task=17 shard=/data/x.jsonl.zst: published". Event lines follow one
 * convention: space-separated key=value fields (run=, task=, shard=, partition=, fetch-part=,
 * worker=, host=) first, then ": " and the words. Set it before starting threads that log; NULL
 * or "" clears it. */
void optout_log_set_context(const char *context);

/* Peer-supplied bytes (a worker's name or error, a ZeroMQ identity, a file name in a message) as
 * text safe in one log line: printable ASCII as is, except '\\' written "\\\\"; newline, carriage
 * return and tab as "\\n", "\\r", "\\t"; every other byte (control characters, ESC, DEL,
 * non-ASCII) as "\\xHH". So no peer can start a forged line or send a terminal escape sequence.
 * Writes at most cap bytes, NUL included (cap >= 4); a text cut short ends in "...". Returns out. */
const char *optout_log_escape(const void *s, size_t n, char *out, size_t cap);
/* optout_log_escape of a NUL-terminated string. */
const char *optout_log_escape_str(const char *s, char *out, size_t cap);

/* Rate limiting for messages a peer can trigger at will (refused handshakes, malformed frames):
 * at most one line per key per every_ms. optout_log_allow() answers 1 when the message keyed
 * `what` may be logged now, with *suppressed = how many of it were not since the last one; 0 when
 * it must not (counted). A limiter serves one thread; keys beyond its slots evict the oldest. */
#define OPTOUT_LOG_LIMIT_SLOTS 64
typedef struct {
    int64_t every_ms;
    struct {
        char what[96];
        int64_t last;
        unsigned long suppressed;
    } slots[OPTOUT_LOG_LIMIT_SLOTS];
} optout_log_limiter;
int optout_log_allow(optout_log_limiter *l, const char *what, unsigned long *suppressed);

/* Exit codes shared by every command (130: interrupted by SIGINT, 128 + the signal as shells say). */
enum { OPTOUT_EXIT_OK = 0, OPTOUT_EXIT_FAILURE = 1, OPTOUT_EXIT_USAGE = 2, OPTOUT_EXIT_INTERRUPTED = 130 };

#endif
