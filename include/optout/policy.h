/* policy.h — the policy knobs on top of the per-URL decision (docs/policy.md): granularity
 * (url / host / domain), host override lists (--keep-hosts / --remove-hosts) and a deterministic
 * document sample (--sample). The filter (filter.c) and `optout why` (why.c) call the same
 * functions, so that an explanation is the filter's decision. docs/policy.md is the user's view.
 *
 * Contract
 * - Order of a document's decision: (1) the sample: a document outside it is neither decided nor
 *   counted (only `docs_not_sampled`); (2) the overrides, before robots.txt and without a verdict
 *   lookup: a kept host's documents are kept, a removed host's removed, whatever robots.txt says;
 *   (3) the per-URL verdict (filter.h); (4) the granularity extends it (optout_policy_extend).
 * - Granularity (OPTOUT_GRANULARITY_*):
 *     url     per URL, as the Apertus filter (the default).
 *     host    every document of a host whose robots.txt (outcome ok) disallows an agent *something*
 *             is removed for that agent: "disallowed something" is optout_blocked_decide()'s (the
 *             definition behind DIR/blocked_hosts.tsv, blocked.h), so the host list of a host-
 *             granularity run is exactly blocked_hosts.tsv.
 *     domain  the same, per registrable domain (libpsl's built-in Public Suffix List, ICANN and
 *             private sections, optout_registrable_domain()): an agent disallowed something by any
 *             host of the domain loses every document of every host of the domain. The table
 *             domain -> agents (optout_domains) is computed once from the robots snapshot.
 *   In both coarse modes the URL's own verdict still applies (its agents are added), and an
 *   `unreachable` host under the RFC-strict policy still disallows every agent for its own
 *   documents; that does not spread to its domain (the table lists what robots.txt files say).
 * - Overrides: files of host keys or `*.DOMAIN` patterns, one per line; '#' starts a comment,
 *   blank lines are skipped, surrounding white space trimmed. An entry is normalised like a URL's
 *   host (optout_hostkey of "http://ENTRY/" in the run's host-key mode: IDNA, lower case, trailing
 *   dot, default port). A host key matches an exact entry when equal; `*.DOMAIN` matches DOMAIN
 *   itself and every subdomain, any port. The most specific entry wins (exact, then the longest
 *   DOMAIN), so `--remove-hosts` with `*.example.com` and `--keep-hosts` with `www.example.com`
 *   keep www and remove the rest; the same entry in both lists is an error at load.
 *   A document removed by an override is removed for no agent: it counts in the removed totals, in
 *   `any` and in docs/tokens_removed_by_override, in no agent's bucket, and its removed line carries
 *   "disallowed_user_agents": []. A kept one counts in docs/tokens_kept_by_override. Neither
 *   counts in docs_by_outcome (no robots.txt record is looked up for it).
 * - Sample: sample_ppm parts per million (1..1000000; 0 = every document). The key is the
 *   document's `id` (top level, else metadata.id): a JSON string's unescaped bytes, another value's
 *   JSON text; without one, the URL (unescaped); without either, the shard's file name up to its
 *   first '.', '\n' and the line (Parquet: row) number from 1; a line that is not JSON: its raw
 *   bytes. h = FNV-1a 64 of the
 *   key, then the murmur3 fmix64 finaliser; sampled iff h % 1000000 < sample_ppm. The same document
 *   is in the sample of every run with the same P, and the sample of P is within that of any P' > P.
 * - Everything here is read-only after construction and may be shared by threads.
 */
#ifndef OPTOUT_POLICY_H
#define OPTOUT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/hostkey.h"
#include "optout/robots.h"

typedef enum {
    OPTOUT_GRANULARITY_URL = 0,
    OPTOUT_GRANULARITY_HOST = 1,
    OPTOUT_GRANULARITY_DOMAIN = 2,
} optout_granularity;

/* "url" / "host" / "domain"; parse returns -1 for another name. */
int optout_granularity_parse(const char *name, optout_granularity *g);
const char *optout_granularity_name(optout_granularity g);

/* ---- registrable domains ------------------------------------------------------------------- */

/* The registrable domain of a host key (its port, userinfo and IPv6 brackets set aside) into out
 * (OPTOUT_HOSTKEY_MAX bytes), returning its length: libpsl's built-in list (psl_builtin(), fixed per
 * libpsl version, so every node of a fleet with the same package agrees; the system's list file when
 * the library has no built-in one). An IP address, a public suffix itself ("co.uk") or a name
 * libpsl cannot place is its own domain. */
size_t optout_registrable_domain(const char *host, size_t len, char out[OPTOUT_HOSTKEY_MAX]);

/* ---- domain -> agents ---------------------------------------------------------------------- */

typedef struct optout_domains optout_domains;

/* From a blocked_hosts.tsv (blocked.h format): every listed host's agents OR-ed into its registrable
 * domain. Agent names are those of `agents` (a name the list does not have is an error). */
optout_domains *optout_domains_from_blocked(const char *blocked_tsv, const optout_agents *agents, char *err,
                                            size_t errlen);
/* From a robots snapshot, through optout_blocked_write() into a private temporary directory (removed
 * afterwards): what `optout filter --granularity domain` does. kind: optout_robots_source_kind. */
optout_domains *optout_domains_from_source(const char *source, int kind, const optout_agents *agents,
                                           optout_robots_mode mode, char *err, size_t errlen);
/* DIR/blocked_domains.tsv: "#domain\tagents\thosts" then one line per domain (sorted bytewise):
 * the domain, its agents (comma-separated, list order), how many blocking hosts it has. Atomic. */
#define OPTOUT_DOMAINS_FILE "blocked_domains.tsv"
int optout_domains_write(const optout_domains *d, const char *path, const optout_agents *agents, char *err,
                         size_t errlen);
/* Reads that file back (what workers do). */
optout_domains *optout_domains_load(const char *path, const optout_agents *agents, char *err, size_t errlen);
/* The agents blocked by some host of the domain, or NULL when none. */
const optout_agentset *optout_domains_get(const optout_domains *d, const char *domain, size_t len);
size_t optout_domains_count(const optout_domains *d);
size_t optout_domains_bytes(const optout_domains *d); /* memory held, for --max-memory accounting */
void optout_domains_free(optout_domains *d);

/* ---- overrides ----------------------------------------------------------------------------- */

typedef enum { OPTOUT_OVERRIDE_NONE = 0, OPTOUT_OVERRIDE_KEEP, OPTOUT_OVERRIDE_REMOVE } optout_override;

typedef struct optout_overrides optout_overrides;

/* Either file may be NULL (not both). Errors name FILE:LINE (an entry that is no host, an entry in
 * both lists). */
optout_overrides *optout_overrides_load(const char *keep_file, const char *remove_file, optout_hostkey_mode mode,
                                        char *err, size_t errlen);
/* The override of a host key; *entry (may be NULL) receives the matching entry as written after
 * normalisation ("www.example.com", "*.example.com"), valid while o is. */
optout_override optout_overrides_match(const optout_overrides *o, const char *host, size_t len, const char **entry);
size_t optout_overrides_bytes(const optout_overrides *o);
void optout_overrides_free(optout_overrides *o);

/* ---- the sample ---------------------------------------------------------------------------- */

/* "0.01", "1", "1e-3" -> parts per million (rounded, at least 1); -1 unless 0 < P <= 1. */
int optout_sample_parse(const char *text, uint32_t *ppm);
uint64_t optout_sample_hash(const char *key, size_t len);
static inline int optout_sample_in(uint64_t hash, uint32_t ppm) { return ppm == 0 || hash % 1000000u < ppm; }

/* ---- the decision -------------------------------------------------------------------------- */

typedef struct {
    optout_granularity granularity;
    const optout_overrides *overrides; /* NULL: none */
    const optout_domains *domains;     /* required for OPTOUT_GRANULARITY_DOMAIN */
    uint32_t sample_ppm;
} optout_policy;

/* What the granularity added to a document of `host` whose robots.txt is `rules` (NULL unless the
 * outcome is ok): the agents the host (host granularity) or its domain (domain granularity)
 * disallows something, OR-ed into *set. Returns how many agents *set holds afterwards (url
 * granularity: unchanged). *domain_out (may be NULL; OPTOUT_HOSTKEY_MAX bytes) receives the
 * registrable domain in domain granularity, "" otherwise. */
size_t optout_policy_extend(const optout_policy *p, const char *host, size_t len, const optout_robots *rules,
                            size_t agent_count, optout_agentset *set, char *domain_out);

#endif
