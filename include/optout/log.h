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

/* Exit codes shared by every command (130: interrupted by SIGINT, 128 + the signal as shells say). */
enum { OPTOUT_EXIT_OK = 0, OPTOUT_EXIT_FAILURE = 1, OPTOUT_EXIT_USAGE = 2, OPTOUT_EXIT_INTERRUPTED = 130 };

#endif
