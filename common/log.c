/* log.c — stderr messages with sd-daemon priority prefixes under systemd, escaping of peer text and
 * rate limiting (include/optout/log.h). */
#include "optout/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

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

const char *optout_log_escape(const void *s, size_t n, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char one[5];
        size_t len = 0;
        unsigned char c = p[i];
        if (c == '\\') one[len++] = '\\', one[len++] = '\\';
        else if (c == '\n') one[len++] = '\\', one[len++] = 'n';
        else if (c == '\r') one[len++] = '\\', one[len++] = 'r';
        else if (c == '\t') one[len++] = '\\', one[len++] = 't';
        else if (c >= 0x20 && c < 0x7f) one[len++] = (char)c;
        else one[len++] = '\\', one[len++] = 'x', one[len++] = hex[c >> 4], one[len++] = hex[c & 15];
        if (o + len > cap - 1) { /* cut short: "..." in the last three places before the NUL */
            o = o < cap - 4 ? o : cap - 4;
            memcpy(out + o, "...", 3);
            out[o + 3] = '\0';
            return out;
        }
        memcpy(out + o, one, len);
        o += len;
    }
    out[o] = '\0';
    return out;
}

const char *optout_log_escape_str(const char *s, char *out, size_t cap) {
    return optout_log_escape(s, strlen(s), out, cap);
}

int optout_log_allow(optout_log_limiter *l, const char *what, unsigned long *suppressed) {
    int64_t now = optout_now_ms();
    size_t slot = OPTOUT_LOG_LIMIT_SLOTS, oldest = 0;
    for (size_t i = 0; i < OPTOUT_LOG_LIMIT_SLOTS; i++) {
        if (strcmp(l->slots[i].what, what) == 0) {
            slot = i;
            break;
        }
        if (l->slots[i].last < l->slots[oldest].last) oldest = i;
    }
    if (slot < OPTOUT_LOG_LIMIT_SLOTS && l->slots[slot].last && now - l->slots[slot].last < l->every_ms) {
        l->slots[slot].suppressed++;
        return 0;
    }
    if (slot == OPTOUT_LOG_LIMIT_SLOTS) {
        slot = oldest;
        snprintf(l->slots[slot].what, sizeof l->slots[slot].what, "%s", what);
        l->slots[slot].suppressed = 0;
    }
    *suppressed = l->slots[slot].suppressed;
    l->slots[slot].suppressed = 0;
    l->slots[slot].last = now ? now : 1;
    return 1;
}
