/* robots_internal.h — the compiled form shared by the two parsers (robots.c for RFC 9309,
 * robots_protego.c for Protego 0.4) and the one matcher.
 *
 * A compiled set holds, per distinct rule list, the rules sorted so that the first rule that
 * matches a path is the deciding one (highest priority first, Allow before Disallow on ties);
 * agents that end up with the same rule list (typically every agent that falls back to `*`)
 * share one list, so a URL is matched once per distinct list, not once per agent.
 */
#ifndef OPTOUT_ROBOTS_INTERNAL_H
#define OPTOUT_ROBOTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "optout/robots.h"

enum rule_kind {
    RULE_PREFIX = 0, /* pattern is a literal prefix of the path */
    RULE_EXACT,      /* literal pattern then '$': the whole path */
    RULE_GLOB,       /* '*' wildcards, maybe a final '$' */
};

struct rule {
    uint32_t pat_off; /* normalised pattern in the pool, '*' and the final '$' included */
    uint32_t pat_len;
    uint32_t priority; /* higher decides first */
    uint32_t line;
    uint32_t group_line;
    uint8_t allow;
    uint8_t kind;
};

struct ruleset {
    struct rule *rules; /* sorted by priority (see compare_rules in robots.c) */
    size_t count;
    optout_agentset members; /* the agents that use this list */
    uint8_t has_disallow;
    uint8_t disallow_all; /* disallow rules that match every path and no allow rules */
};

#define AGENT_NO_RULES UINT16_MAX

struct optout_robots {
    optout_robots_mode mode;
    char *pool;
    size_t pool_len;
    struct ruleset *sets;
    size_t set_count;
    size_t agent_count;
    uint16_t agent_set[OPTOUT_AGENTS_MAX]; /* index into sets, or AGENT_NO_RULES */
    uint8_t agent_via_star[OPTOUT_AGENTS_MAX];
    uint8_t agent_has_group[OPTOUT_AGENTS_MAX]; /* own group, or `*` groups it fell back to */
    uint8_t truncated;
    uint8_t has_disallow; /* any set has a disallow rule */
    uint8_t unparsable;   /* protego: Python raised while parsing; every URL is allowed */
};

/* A rule gathered while parsing, with the agents it applies to. */
struct raw_rule {
    struct rule rule;
    optout_agentset agents;
    uint8_t star; /* belongs to a `User-agent: *` group */
};

struct raw_rules {
    struct raw_rule *items;
    size_t count, cap;
    char *pool;
    size_t pool_len, pool_cap;
};

/* Appends `len` bytes of pattern to the pool (normalised as an RFC 9309 pattern when `normalize`);
 * returns its offset in *off, or -1 when out of memory. */
int raw_pool_append(struct raw_rules *raw, const char *pat, size_t len, int normalize,
                    uint32_t *off, uint32_t *out_len);
int raw_rules_push(struct raw_rules *raw, const struct raw_rule *r);
void raw_rules_free(struct raw_rules *raw);

/* Builds the compiled set: `agent_rules(agent)` is given by which raw rules carry the agent's bit
 * (or the star flag for agents in `use_star`). Takes ownership of raw->pool. NULL on ENOMEM. */
optout_robots *robots_build(struct raw_rules *raw, size_t agent_count,
                            const optout_agentset *has_group, const optout_agentset *use_star,
                            optout_robots_mode mode, int truncated);

/* Classifies a normalised pattern (prefix / exact / glob). `dollar_anchors`: a final '$'
 * anchors the match. */
enum rule_kind robots_rule_kind(const char *pat, size_t len);

/* Length of the body that is parsed: all of it up to OPTOUT_ROBOTS_MAX_BYTES, else up to the end
 * of the last complete line within the limit. */
size_t robots_parse_limit(const char *body, size_t len, int *truncated);

optout_robots *robots_compile_protego(const char *body, size_t len, const optout_agents *agents);

/* The string Protego matches for a URL (docs/protego-mode.md §3.3) into out, which must hold
 * 9 * len + 8 bytes. Returns its length, or -1 where Python raises (the URL is then allowed). */
long robots_protego_url(const char *url, size_t len, char *out);

#endif
