/* robots.h — the robots.txt engine: parse once, decide many times.
 *
 * Contract
 * - optout_robots_compile() parses a robots.txt body for one agent list and one matching mode into
 *   an immutable rule set. Any byte string is a valid input (HTML, binary, invalid UTF-8, empty):
 *   content never makes compilation fail, only lack of memory does (NULL, errno ENOMEM).
 * - In rfc9309 mode only the first OPTOUT_ROBOTS_MAX_BYTES of a body are parsed, up to the last
 *   complete line within them (RFC 9309 §2.5); optout_robots_truncated() tells whether that
 *   happened. Protego mode parses whole bodies, as the Apertus pipeline did.
 * - optout_robots_check() returns which agents of the list are disallowed for one URL. A compiled
 *   set is never modified after compilation, so any number of threads may check concurrently.
 * - The compiled set keeps no pointer into the body or the agent list: both may be freed.
 *
 * Modes (docs/robots.md describes both rule by rule)
 * - OPTOUT_MODE_RFC9309: RFC 9309 with the leniency of Google's reference parser — groups for one
 *   agent merged; an agent without a group of its own falls back to `*`; longest match wins, Allow
 *   wins ties; `*` and `$`; patterns and URL path+query normalised alike (non-ASCII octets
 *   percent-encoded, hex digits upper-cased, %XX of unreserved characters decoded, %2A/%24 kept);
 *   /robots.txt always allowed.
 * - OPTOUT_MODE_PROTEGO: the decisions of Protego 0.4, as the Apertus pipeline made them
 *   (docs/protego-mode.md).
 */
#ifndef OPTOUT_ROBOTS_H
#define OPTOUT_ROBOTS_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"

#define OPTOUT_ROBOTS_MAX_BYTES (500u * 1024u)

typedef enum { OPTOUT_MODE_RFC9309 = 0, OPTOUT_MODE_PROTEGO = 1 } optout_robots_mode;

/* "rfc9309" / "protego" <-> mode. parse returns -1 for an unknown name. */
int optout_robots_mode_parse(const char *name, optout_robots_mode *mode);
const char *optout_robots_mode_name(optout_robots_mode mode);

typedef struct optout_robots optout_robots;

optout_robots *optout_robots_compile(const void *body, size_t len, const optout_agents *agents,
                                     optout_robots_mode mode);
void optout_robots_free(optout_robots *robots);

/* Writes into *disallowed the agents (indices in the compile-time list) that may not fetch `url`
 * and returns how many there are. `url` is an absolute URL or a path starting with '/'; only its
 * path, params and query are matched (scheme, authority and fragment are ignored). */
size_t optout_robots_check(const optout_robots *robots, const char *url, size_t len,
                           optout_agentset *disallowed);

/* 1 when no agent of the list has any disallow rule: every URL is allowed for every agent. */
int optout_robots_allows_everything(const optout_robots *robots);
/* 1 when the body was longer than OPTOUT_ROBOTS_MAX_BYTES and parsed only in part. */
int optout_robots_truncated(const optout_robots *robots);

/* 1 when a body looks like UTF-16 rather than UTF-8: it starts with a UTF-16 byte order mark
 * (FF FE or FE FF), or its first bytes are ASCII interleaved with NUL bytes. Such a robots.txt
 * (RFC 9309 requires UTF-8) has no line the parser can read, so it allows everything: the places
 * a user reads (robots check, the fetch log, a robots directory's first lookup of the host) warn. */
int optout_robots_looks_utf16(const void *body, size_t len);
#define OPTOUT_ROBOTS_UTF16_WARNING \
    "looks like UTF-16, not UTF-8: no rule of it can be read, so it allows every URL for every agent"
size_t optout_robots_agent_count(const optout_robots *robots);
/* 1 when the body has a group of agent `agent`'s own (a User-agent line naming its token; for
 * `*`, a `*` group), not only the `*` groups the agent falls back to. */
int optout_robots_names_agent(const optout_robots *robots, size_t agent);

/* Why one agent got its verdict for one URL (--explain, `optout why`). */
typedef enum {
    OPTOUT_WHY_RULE = 0,         /* a rule matched: rule_* fields say which */
    OPTOUT_WHY_NO_MATCH,         /* the agent's rules exist but none matches the URL */
    OPTOUT_WHY_NO_GROUP,         /* no group for the agent and no `*` group */
    OPTOUT_WHY_ROBOTS_TXT,       /* /robots.txt itself is always allowed (rfc9309) */
    OPTOUT_WHY_UNPARSABLE,       /* protego: Python's parser raised on this body; all allowed */
    OPTOUT_WHY_BAD_URL,          /* protego: Python's urlparse raised on this URL; allowed */
} optout_robots_why;

typedef struct {
    int allowed;               /* the verdict */
    optout_robots_why why;
    int via_star;              /* the agent had no group of its own: the `*` groups decided */
    unsigned group_line;       /* line of the first User-agent line of the deciding group, or 0 */
    unsigned rule_line;        /* line of the deciding rule (1-based), or 0 */
    int rule_allow;            /* the rule was an Allow (1) or a Disallow (0) */
    const char *rule_pattern;  /* normalised pattern (points into the compiled set) */
    size_t rule_pattern_len;
} optout_robots_explanation;

/* Fills *out for agent `agent` (index in the list). Returns 0, or -1 (EINVAL) for a bad index. */
int optout_robots_explain(const optout_robots *robots, size_t agent, const char *url, size_t len,
                          optout_robots_explanation *out);

/* The path, params and query of a URL as robots.txt matching sees them (Google's
 * GetPathParamsQuery): scheme and authority dropped, fragment dropped, "" becomes "/", a result not
 * starting with '/' gets one. Writes the slice's start into *start and returns its length; when
 * *prefix_slash is set to 1 the caller must prepend '/'. */
size_t optout_url_path_query(const char *url, size_t len, const char **start, int *prefix_slash);

/* RFC 9309 §2.2.2 normalisation shared by patterns and URLs: percent-encodes octets >= 0x80,
 * upper-cases the hex digits of %xx escapes, decodes %xx of unreserved characters (ALPHA / DIGIT /
 * "-" / "." / "_" / "~"). `out` must hold 3 * len bytes. Returns the length written. */
size_t optout_robots_normalize(const char *in, size_t len, char *out);

#endif
