/* agents.c — agent lists and agent tokens (see include/optout/agents.h).
 *
 * Names are stored verbatim for reports; tokens (lower-cased, cut at the first '/' or white
 * space) are what robots.txt User-agent values are compared with. Lookups are a linear scan with a
 * length check first: lists are short (14 to a few hundred) and User-agent lines are rare next to
 * rule lines, so nothing cleverer pays for itself.
 */
#include "optout/agents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/log.h"
#include "optout/util.h"

struct agent {
    char *name;
    char *token;
    size_t token_len;
};

struct optout_agents {
    struct agent items[OPTOUT_AGENTS_MAX];
    size_t count;
};

/* The Apertus tech report, Appendix A (data/agents/apertus-paper.txt). */
static const char *const default_agents[] = {
    "AI2Bot",          "Applebot-Extended", "Bytespider",  "CCBot",
    "CCBot/2.0",       "CCBot/1.0",         "ClaudeBot",   "cohere-training-data-crawler",
    "Diffbot",         "Meta-ExternalAgent", "Google-Extended", "GPTBot",
    "PanguBot",        "*",
};

optout_agents *optout_agents_new(void) {
    return calloc(1, sizeof(optout_agents));
}

optout_agents *optout_agents_new_default(void) {
    optout_agents *a = optout_agents_new();
    if (!a) return NULL;
    for (size_t i = 0; i < sizeof default_agents / sizeof *default_agents; i++) {
        if (optout_agents_add(a, default_agents[i], strlen(default_agents[i])) != 0) {
            optout_agents_free(a);
            return NULL;
        }
    }
    return a;
}

void optout_agents_free(optout_agents *a) {
    if (!a) return;
    for (size_t i = 0; i < a->count; i++) {
        free(a->items[i].name);
        free(a->items[i].token);
    }
    free(a);
}

size_t optout_agent_token_len(const char *s, size_t len) {
    size_t i = 0;
    while (i < len && s[i] != '/' && !optout_is_space(s[i])) i++;
    return i;
}

int optout_agents_add(optout_agents *a, const char *name, size_t len) {
    while (len > 0 && optout_is_space(name[0])) name++, len--;
    while (len > 0 && optout_is_space(name[len - 1])) len--;
    size_t tlen = optout_agent_token_len(name, len);
    if (tlen == 0 || memchr(name, '\0', len)) {
        errno = EINVAL;
        return -1;
    }
    if (a->count == OPTOUT_AGENTS_MAX) {
        errno = E2BIG;
        return -1;
    }
    struct agent *ag = &a->items[a->count];
    ag->name = strndup(name, len);
    ag->token = strndup(name, tlen);
    if (!ag->name || !ag->token) {
        free(ag->name);
        free(ag->token);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < tlen; i++) ag->token[i] = optout_lower(ag->token[i]);
    ag->token_len = tlen;
    a->count++;
    return 0;
}

int optout_agents_parse(optout_agents *a, const char *text, size_t len, size_t *bad_line) {
    size_t line = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        line++;
        const char *s = p;
        while (s < eol && optout_is_space(*s)) s++;
        if (s < eol && *s != '#' && optout_agents_add(a, s, (size_t)(eol - s)) != 0) {
            if (bad_line) *bad_line = line;
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int optout_agents_load(optout_agents *a, const char *path, size_t *bad_line) {
    size_t len;
    char *text = optout_read_file(path, 1 << 20, &len);
    if (!text) return -1;
    int rc = optout_agents_parse(a, text, len, bad_line);
    int saved = errno;
    free(text);
    errno = saved;
    return rc;
}

const char *optout_agents_strerror(int errnum) {
    /* the limit as text, from the one constant */
#define STR_(x) #x
#define STR(x) STR_(x)
    switch (errnum) {
    case E2BIG: return "more agents than an agent list holds (at most " STR(OPTOUT_AGENTS_MAX) " agents)";
    case EINVAL: return "not an agent name (empty, an empty token, or a NUL byte)";
    default: return strerror(errnum);
    }
#undef STR
#undef STR_
}

size_t optout_agents_count(const optout_agents *a) { return a->count; }
const char *optout_agents_name(const optout_agents *a, size_t i) { return a->items[i].name; }
const char *optout_agents_token(const optout_agents *a, size_t i) { return a->items[i].token; }
size_t optout_agents_token_len(const optout_agents *a, size_t i) { return a->items[i].token_len; }

int optout_agents_is_star(const optout_agents *a, size_t i) {
    return a->items[i].token_len == 1 && a->items[i].token[0] == '*';
}

const char *optout_agents_name_warning(const optout_agents *a, size_t i, char *out, size_t cap) {
    const struct agent *ag = &a->items[i];
    const char *colon = strchr(ag->name, ':');
    size_t n = strlen(ag->name), space = 0;
    while (space < n && !optout_is_space(ag->name[space])) space++;
    if (colon) {
        /* "User-agent: GPTBot" pasted from a robots.txt: the name is what follows the colon */
        const char *rest = colon + 1;
        while (*rest && optout_is_space(*rest)) rest++;
        snprintf(out, cap, "agent \"%s\" has a colon: it looks like a robots.txt line, and robots.txt "
                           "groups are matched against \"%s\" only; write the name alone (\"%s\"?)",
                 ag->name, ag->token, *rest ? rest : "...");
        return out;
    }
    if (space < n) {
        snprintf(out, cap, "agent \"%s\" has white space: robots.txt groups are matched against its first "
                           "word \"%.*s\" only (a product token has no blanks: \"%.*s-%s\"?)",
                 ag->name, (int)space, ag->name, (int)space, ag->name, ag->name + space + 1);
        return out;
    }
    return NULL;
}

void optout_agents_log_warnings(const optout_agents *a, size_t from) {
    char warning[600];
    for (size_t i = from; i < a->count; i++)
        if (optout_agents_name_warning(a, i, warning, sizeof warning)) optout_log(LOG_WARNING, "%s", warning);
}

int optout_agents_find_token(const optout_agents *a, const char *token, size_t len) {
    for (size_t i = 0; i < a->count; i++) {
        const struct agent *ag = &a->items[i];
        if (ag->token_len == len && optout_equal_nocase(ag->token, token, len)) return (int)i;
    }
    return -1;
}

size_t optout_agents_match_token(const optout_agents *a, const char *token, size_t len, optout_agentset *set) {
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const struct agent *ag = &a->items[i];
        if (ag->token_len == len && optout_equal_nocase(ag->token, token, len)) {
            optout_agentset_add(set, i);
            n++;
        }
    }
    return n;
}
