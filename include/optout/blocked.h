/* blocked.h — DIR/blocked_hosts.tsv: the host keys whose robots.txt blocks AI agents (a run's
 * artefact; the counterpart of the Apertus lists of blocking domains; docs/blocked-hosts.md).
 *
 * Contract
 * - optout_blocked_write() reads a robots snapshot — a fetch archive (include/optout/archive.h; a
 *   run's DIR/robots) or a robots directory (one file per host key, optional index.tsv:
 *   include/optout/verdicts.h) — compiles every host's robots.txt whose outcome is `ok` for the
 *   agent list and matching mode the filter uses, and writes DIR/blocked_hosts.tsv atomically
 *   (DIR/.blocked_hosts.tsv.tmp.<pid>, fflush, fsync, rename, fsync of DIR). Hosts whose outcome is
 *   not `ok` (no robots.txt, 4xx, unreachable, ...) are never listed, whatever the
 *   --unreachable policy: the file describes what robots.txt files say.
 * - Format: a header line "#host\tagents\twhole_site_agents\twhole_site", then one line per host
 *   key for which at least one agent is "disallowed something", sorted by host key bytewise
 *   (LC_ALL=C sort order), '\n'-terminated, 4 tab-separated columns:
 *     host               the host key (as the filter computes it; a robots directory's file name
 *                        "host_8080" is "host:8080")
 *     agents             the agents disallowed something, comma-separated, names as given, in list
 *                        order
 *     whole_site_agents  the agents disallowed the whole site, same form, "-" when none
 *     whole_site         "yes" when whole_site_agents is not "-", else "no"
 * - Definitions (per agent, on the rules that agent uses: its own groups, or the `*` groups it
 *   falls back to, exactly as optout_robots_check() decides):
 *     disallowed something  the agent's rules hold at least one Disallow whose pattern can match
 *                           a URL: non-empty (an empty "Disallow:" is no rule) and starting with
 *                           '/' or '*' (protego mode: also '?' or '#'; "Disallow: uk/x/" matches
 *                           nothing). A Disallow that an Allow entirely shadows (Disallow: /a +
 *                           Allow: /a), or that matches no real URL for other reasons (Protego
 *                           encodes '=' in paths: "/a=b" never matches there), still counts: this
 *                           is what the file says, decided without enumerating URLs.
 *     whole site            every URL path is disallowed: the agent's rules hold a Disallow whose
 *                           pattern matches every path ("/", "*", "/" then stars, not `$`-anchored) and
 *                           no Allow rule at all. It implies that optout_robots_check() disallows
 *                           "/" (the converse does not hold: "Disallow: /$" blocks the home page
 *                           only; "Disallow: /" + "Allow: /public/" leaves /public/ allowed, so
 *                           neither is whole-site). /robots.txt itself stays allowed (RFC 9309).
 *   A body Protego could not parse (protego mode) disallows nothing.
 * - Memory: bodies are read and compiled one at a time (archive: optout_archive_scan with bodies;
 *   directory: one file at a time); what is kept is one small entry per listed host (its key and
 *   two agent bit sets) for the sort, plus, for a robots directory, its listing (as the directory
 *   verdict source keeps it).
 * - A host key with a control character (possible only as a robots directory file name) is skipped
 *   and counted in bad_hosts; two archive records for one listed host are an error.
 * - Errors: -1 with a message naming the file in err; no partial output is left behind.
 */
#ifndef OPTOUT_BLOCKED_H
#define OPTOUT_BLOCKED_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/robots.h"

#define OPTOUT_BLOCKED_FILE "blocked_hosts.tsv"

typedef enum {
    OPTOUT_ROBOTS_SOURCE_DIR = 0,     /* a robots directory (--robots-dir) */
    OPTOUT_ROBOTS_SOURCE_ARCHIVE = 1, /* a fetch archive (DIR/robots of a fetching run) */
} optout_robots_source_kind;

typedef struct {
    uint64_t hosts;            /* host keys with a record (archive) or a file / index line (directory) */
    uint64_t hosts_ok;         /* of those, with outcome ok: their robots.txt was parsed */
    uint64_t hosts_blocking;   /* lines written: some agent is disallowed something */
    uint64_t hosts_whole_site; /* of those, some agent is disallowed the whole site */
    uint64_t bad_hosts;        /* skipped: host key with a control character */
    uint64_t agent_blocking[OPTOUT_AGENTS_MAX];   /* per agent (list index): hosts disallowing it something */
    uint64_t agent_whole_site[OPTOUT_AGENTS_MAX]; /* per agent: hosts disallowing it the whole site */
    uint64_t agent_named[OPTOUT_AGENTS_MAX];      /* per agent: ok hosts whose robots.txt has a group of
                                                   * its own (optout_robots_names_agent): 0 for a
                                                   * name no robots.txt uses, likely a typo */
    int64_t fetched_from, fetched_to; /* earliest / latest fetched_at (Unix seconds) over all
                                         records of an archive, or the fetched_at column of a robots
                                         directory's index.tsv; 0 when unknown */
} optout_blocked_counts;

/* Writes DIR/blocked_hosts.tsv from `source` (see above). counts may be NULL. 0, or -1 with err. */
int optout_blocked_write(const char *dir, const char *source, optout_robots_source_kind kind,
                         const optout_agents *agents, optout_robots_mode mode, optout_blocked_counts *counts,
                         char *err, size_t errlen);

/* The per-host decision behind each line, for callers with a compiled set of their own (e.g.
 * `optout why`): fills *something and *whole_site (agent indices) by the definitions above and
 * returns 1 when some agent is disallowed something. */
int optout_blocked_decide(const optout_robots *robots, optout_agentset *something, optout_agentset *whole_site);

#endif
