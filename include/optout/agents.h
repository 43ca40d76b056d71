/* agents.h — the list of crawler user agents a run decides for.
 *
 * Contract: an agent list holds up to OPTOUT_AGENTS_MAX names, each kept exactly as given (reports
 * print it verbatim) together with its *token*: the text up to the first '/' or white space,
 * lower-cased ("CCBot/2.0" -> "ccbot", "Kangaroo Bot" -> "kangaroo", "AI2Bot" -> "ai2bot").
 * "*" is an agent of its own (token "*"): it is decided by the robots.txt `User-agent: *` groups.
 * Agent files hold one name per line; blank lines and lines starting with '#' are ignored.
 * The list is read-only once built and may be shared between threads.
 *
 * This deliberately differs from Google's robotstxt library, which cuts a name at the first
 * character outside [A-Za-z_-] (so "AI2Bot" would become "AI"): see docs/robots.md.
 */
#ifndef OPTOUT_AGENTS_H
#define OPTOUT_AGENTS_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_AGENTS_MAX 256

/* A set of agents by index in their list: what a verdict returns. */
typedef struct {
    uint64_t words[OPTOUT_AGENTS_MAX / 64];
} optout_agentset;

static inline void optout_agentset_clear(optout_agentset *s) {
    for (size_t i = 0; i < OPTOUT_AGENTS_MAX / 64; i++) s->words[i] = 0;
}
static inline void optout_agentset_add(optout_agentset *s, size_t i) {
    s->words[i / 64] |= (uint64_t)1 << (i % 64);
}
static inline int optout_agentset_has(const optout_agentset *s, size_t i) {
    return (int)((s->words[i / 64] >> (i % 64)) & 1u);
}

typedef struct optout_agents optout_agents;

/* The default list: the Apertus tech report's Appendix A (14 entries, "*" included). */
#define OPTOUT_AGENTS_DEFAULT_NAME "apertus-paper"

optout_agents *optout_agents_new(void);          /* empty list; NULL when out of memory */
optout_agents *optout_agents_new_default(void);  /* the built-in Apertus list */
void optout_agents_free(optout_agents *agents);

/* Appends one name (trimmed of surrounding white space). Returns 0, or -1 with errno:
 * EINVAL for an empty name, one whose token is empty or one holding a NUL byte, E2BIG past OPTOUT_AGENTS_MAX, ENOMEM. */
int optout_agents_add(optout_agents *agents, const char *name, size_t len);

/* Adds every agent of an agents-file text / file. Returns 0, or -1 with errno set (from open/read
 * or optout_agents_add); on a bad line *bad_line (when not NULL) receives its 1-based number. */
int optout_agents_parse(optout_agents *agents, const char *text, size_t len, size_t *bad_line);
int optout_agents_load(optout_agents *agents, const char *path, size_t *bad_line);
/* What an errno of the three functions above means for an agent list, for messages: E2BIG names
 * the limit ("... at most 256 agents"), EINVAL says what a name lacks; others are strerror(). */
const char *optout_agents_strerror(int errnum);

size_t optout_agents_count(const optout_agents *agents);
const char *optout_agents_name(const optout_agents *agents, size_t i);  /* as given */
const char *optout_agents_token(const optout_agents *agents, size_t i); /* lower-cased token */
size_t optout_agents_token_len(const optout_agents *agents, size_t i);
int optout_agents_is_star(const optout_agents *agents, size_t i);

/* Index of the agent whose token equals the token of `value` (a User-agent line's value),
 * compared case-insensitively; -1 when none. "*" values are not looked up here. */
int optout_agents_find_token(const optout_agents *agents, const char *token, size_t len);

/* Adds to *set every agent whose token equals `token` (case-insensitively): "CCBot", "CCBot/2.0"
 * and "CCBot/1.0" all share the token "ccbot". Returns how many were added. */
size_t optout_agents_match_token(const optout_agents *agents, const char *token, size_t len,
                                 optout_agentset *set);

/* Agent `i` written in a way that is likely a mistake, for a warning (the agent is still used, by
 * its token): white space inside the name ("Google Extended": only "google" is matched) or a
 * colon ("User-agent: GPTBot": a robots.txt line, not a name). The sentence goes into out (cap
 * bytes) and out is returned; NULL when the name looks right. */
const char *optout_agents_name_warning(const optout_agents *agents, size_t i, char *out, size_t cap);
/* Logs (LOG_WARNING) the warning of every agent from index `from` on that has one. */
void optout_agents_log_warnings(const optout_agents *agents, size_t from);

/* Token of a name or User-agent value: its length up to the first '/' or white space. */
size_t optout_agent_token_len(const char *s, size_t len);

#endif
