/* log.c — stderr messages with sd-daemon priority prefixes under systemd (include/optout/log.h). */
#include "optout/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "optout";
static int journal = -1;
static int max_priority = LOG_INFO;

void optout_log_init(const char *name) {
    program = name;
    journal = getenv("JOURNAL_STREAM") != NULL;
    /* OPTOUT_LOG_LEVEL=err|warning|info|debug: how much to say (optout run quiets its children) */
    const char *level = getenv("OPTOUT_LOG_LEVEL");
    if (!level) return;
    if (strcmp(level, "err") == 0) max_priority = LOG_ERR;
    else if (strcmp(level, "warning") == 0) max_priority = LOG_WARNING;
    else if (strcmp(level, "info") == 0) max_priority = LOG_INFO;
    else if (strcmp(level, "debug") == 0) max_priority = LOG_DEBUG;
}

void optout_log_verbose(int on) { max_priority = on ? LOG_DEBUG : LOG_INFO; }

static char context[128]; /* "KEY=VALUE ... " with its trailing space, or "" */

void optout_log_set_context(const char *c) {
    snprintf(context, sizeof context, "%s%s", c ? c : "", c && *c ? " " : "");
}

static const char *(*where_fn)(void);

void optout_log_set_where(const char *(*where)(void)) { where_fn = where; }

void optout_log(int priority, const char *fmt, ...) {
    if (priority > max_priority) return;
    if (journal < 0) journal = getenv("JOURNAL_STREAM") != NULL;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    const char *where = where_fn ? where_fn() : NULL; /* "FILE:LINE" of a configuration entry (config.h) */
    int at = where ? snprintf(msg, sizeof msg, "%s: ", where) : 0;
    if (at < 0 || (size_t)at >= sizeof msg) at = 0;
    vsnprintf(msg + at, sizeof msg - (size_t)at, fmt, ap);
    va_end(ap);
    /* One fprintf per message, so lines from several threads do not interleave. */
    if (journal) fprintf(stderr, "<%d>%s%s\n", priority, context, msg);
    else fprintf(stderr, "%s: %s%s\n", program, context, msg);
}
