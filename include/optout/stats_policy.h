/* stats_policy.h — the statistics of the four robots.txt policies side by side (report.json
 * "by_policy", docs/report.md; the policies are history.h's).
 *
 * Contract
 * - Every document the filter counts is counted once under each policy, removed or not by that
 *   policy, in a full statistics set of the stats.h schema (buckets per class, year, dump and agent,
 *   top hosts): `policy[p]`. The chosen policy's set equals the run's own statistics.
 * - coverage: the documents judged by robots.txt (neither an override nor a host outside the plan,
 *   not bad input) by the step that found their capture (history.h: same_crawl, earlier, none,
 *   no_time); "removed" there is removed under `crawl`. coverage_wayback: the part of each whose
 *   deciding capture came from the Wayback Machine (the source of the rest is Common Crawl). docs_time_from_crawl: documents whose time
 *   is their crawl week's Monday (no usable date).
 * - by_crawl: per crawl id named by the documents (the first OPTOUT_POLICY_CRAWLS_MAX; the rest are
 *   not charted), over the judged documents: their tokens, the tokens with a same-crawl capture, and
 *   per agent (and any agent) the tokens that capture disallowed: the share of a crawl's tokens whose
 *   robots.txt at crawl time disallowed an agent is tokens_disallowed / tokens_same_crawl.
 * - ccbot_same_crawl: documents (and tokens) whose same-crawl capture disallows CCBot for their URL
 *   (counted when the agent list holds CCBot): Common Crawl did crawl them, so such a capture likely
 *   belongs to another host or was fetched after the page.
 * - Merging adds everything (shards of one run: same agents, same configuration).
 */
#ifndef OPTOUT_STATS_POLICY_H
#define OPTOUT_STATS_POLICY_H

#include <stdint.h>
#include <stdio.h>

#include "optout/agents.h"
#include "optout/history.h"
#include "optout/stats.h"

#define OPTOUT_POLICY_CRAWLS_MAX 128

typedef struct {
    char name[OPTOUT_HISTORY_CRAWL_MAX];
    uint64_t docs, tokens, tokens_same_crawl, tokens_disallowed_any;
    uint64_t tokens_disallowed[OPTOUT_AGENTS_MAX];
} optout_policy_crawl;

typedef struct {
    /* the configuration, for the reader */
    optout_robots_time chosen;
    int64_t cutoff;                 /* the cutoff column's day (00:00 UTC) */
    optout_history_missing missing;
    int64_t max_age;                /* seconds */
    optout_stats policy[OPTOUT_ROBOTS_TIME_COUNT];
    optout_bucket coverage[OPTOUT_COVERAGE_COUNT];
    /* of each, the documents whose deciding capture is the Wayback Machine's (the rest: Common
     * Crawl's; only `earlier` can have any: a Wayback capture belongs to no crawl) */
    optout_bucket coverage_wayback[OPTOUT_COVERAGE_COUNT];
    uint64_t docs_time_from_crawl;
    optout_policy_crawl crawls[OPTOUT_POLICY_CRAWLS_MAX];
    size_t crawl_count;
    uint64_t ccbot_docs, ccbot_tokens;
} optout_stats_policy;

/* Zeroes *s and records the configuration. */
void optout_stats_policy_init(optout_stats_policy *s, optout_robots_time chosen, int64_t cutoff,
                              optout_history_missing missing, int64_t max_age);
/* The same for a run's policy: the cutoff column's day by optout_robots_time_cutoff_day(). */
void optout_stats_policy_init_run(optout_stats_policy *s, const optout_robots_time_spec *time, int64_t report_cutoff,
                                  optout_history_missing missing, int64_t max_age);

/* One judged document's history facts (after optout_stats_add_doc of each policy's facts). */
typedef struct {
    optout_history_coverage coverage;
    int removed_crawl;               /* removed under `crawl` */
    const optout_doc_time *time;
    const optout_agentset *same_crawl; /* the same-crawl capture's disallowed agents, else NULL */
    int ccbot;                       /* same_crawl holds CCBot */
    int wayback;                     /* the deciding capture is the Wayback Machine's */
} optout_policy_doc;
void optout_stats_policy_add_judged(optout_stats_policy *s, size_t agent_count, const optout_doc_facts *facts,
                                    const optout_policy_doc *d);
void optout_stats_policy_merge(optout_stats_policy *into, const optout_stats_policy *from, size_t agent_count);

/* The statistics with the policies' on the wire (stats_msgpack.c's form, key "bp", version
 * OPTOUT_STATS_POLICY_FORM): encode as optout_stats_encode with bp (NULL: without). decode_add as
 * optout_stats_decode_add, and with policy (not NULL) "bp" is required, must carry policy's
 * configuration, and is merged into *policy; with NULL a "bp" is refused. Nothing is added unless
 * the whole buffer is valid. */
#define OPTOUT_STATS_POLICY_FORM 2
int optout_stats_encode_policy(const optout_stats *stats, const optout_stats_policy *bp, size_t agent_count, void **out,
                               size_t *len);
int optout_stats_decode_add_policy(const void *buf, size_t len, size_t agent_count, optout_stats *stats,
                                   optout_stats_policy *policy);

/* The member `"by_policy": {...}` (no comma around it). 0, or -1 when writing failed. */
int optout_stats_policy_write_json(FILE *f, const optout_stats_policy *s, const optout_agents *agents);
/* The same member as a string (malloc'd; NULL when out of memory): optout_stats_write_json()'s
 * `extra`, so that by_policy joins the statistics' own object. */
char *optout_stats_policy_json(const optout_stats_policy *s, const optout_agents *agents);
/* The Markdown section "Robots.txt as it was": the policies side by side (documents, characters,
 * tokens removed, per class and per year), tokens recovered against current, coverage, the hosts
 * whose tokens removed differ most between current and crawl (from the two policies' top hosts),
 * the crawl chart as a table, the CCBot count. 0, or -1 when writing failed. */
int optout_stats_policy_write_md(FILE *f, const optout_stats_policy *s, const optout_agents *agents);

/* The crawl chart as hand-written SVG 1.1 (no script, no external resource): per crawl with
 * same-crawl captures (x, in crawl order), the share of its tokens whose robots.txt at crawl time
 * disallowed each agent (one <g class="series" data-agent="NAME"> with a polyline and a circle per
 * crawl carrying data-share="PERCENT", for every agent some crawl disallowed), and "any agent".
 * 0, or -1 when writing failed. */
int optout_stats_policy_write_svg(FILE *f, const optout_stats_policy *s, const optout_agents *agents);

#endif
