/* log.c — stderr messages with sd-daemon priority prefixes under systemd (include/optout/log.h). */
#include "optout/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *program = "optout";
static int journal = -1;
static int verbose;

void optout_log_init(const char *name) {
    program = name;
    journal = getenv("JOURNAL_STREAM") != NULL;
}

void optout_log_verbose(int on) { verbose = on; }

void optout_log(int priority, const char *fmt, ...) {
    if (priority >= LOG_DEBUG && !verbose) return;
    if (journal < 0) journal = getenv("JOURNAL_STREAM") != NULL;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per message, so lines from several threads do not interleave. */
    if (journal) fprintf(stderr, "<%d>%s\n", priority, msg);
    else fprintf(stderr, "%s: %s\n", program, msg);
}
