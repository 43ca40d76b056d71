/* stats_policy.c — the four policies' statistics: counting and merging (include/optout/stats_policy.h;
 * stats_policy_write.c writes them as JSON, Markdown and SVG). */
#include "optout/stats_policy.h"

#include <stdio.h>
#include <string.h>

void optout_stats_policy_init(optout_stats_policy *s, optout_robots_time chosen, int64_t cutoff,
                              optout_history_missing missing, int64_t max_age) {
    memset(s, 0, sizeof *s);
    s->chosen = chosen;
    s->cutoff = cutoff;
    s->missing = missing;
    s->max_age = max_age;
}

void optout_stats_policy_init_run(optout_stats_policy *s, const optout_robots_time_spec *time, int64_t report_cutoff,
                                  optout_history_missing missing, int64_t max_age) {
    optout_stats_policy_init(s, time->policy, optout_robots_time_cutoff_day(time, report_cutoff), missing, max_age);
}

/* The chart's row of a crawl: found, else a new one while there is room, else NULL. */
static optout_policy_crawl *crawl_row(optout_stats_policy *s, const char *name) {
    for (size_t i = 0; i < s->crawl_count; i++)
        if (strcmp(s->crawls[i].name, name) == 0) return &s->crawls[i];
    if (s->crawl_count == OPTOUT_POLICY_CRAWLS_MAX) return NULL;
    optout_policy_crawl *c = &s->crawls[s->crawl_count++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

void optout_stats_policy_add_judged(optout_stats_policy *s, size_t agent_count, const optout_doc_facts *facts,
                                    const optout_policy_doc *d) {
    optout_bucket_add(&s->coverage[d->coverage], facts, d->removed_crawl);
    if (d->wayback) optout_bucket_add(&s->coverage_wayback[d->coverage], facts, d->removed_crawl);
    s->docs_time_from_crawl += d->time->time_from_crawl;
    if (d->ccbot) {
        s->ccbot_docs++;
        s->ccbot_tokens += facts->tokens;
    }
    optout_policy_crawl *c = d->time->crawl[0] ? crawl_row(s, d->time->crawl) : NULL;
    if (!c) return;
    c->docs++;
    c->tokens += facts->tokens;
    if (!d->same_crawl) return;
    c->tokens_same_crawl += facts->tokens;
    int any = 0;
    for (size_t a = 0; a < agent_count; a++)
        if (optout_agentset_has(d->same_crawl, a)) {
            c->tokens_disallowed[a] += facts->tokens;
            any = 1;
        }
    if (any) c->tokens_disallowed_any += facts->tokens;
}

void optout_stats_policy_merge(optout_stats_policy *into, const optout_stats_policy *from, size_t agent_count) {
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) optout_stats_merge(&into->policy[p], &from->policy[p]);
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) {
        optout_bucket_merge(&into->coverage[c], &from->coverage[c]);
        optout_bucket_merge(&into->coverage_wayback[c], &from->coverage_wayback[c]);
    }
    into->docs_time_from_crawl += from->docs_time_from_crawl;
    into->ccbot_docs += from->ccbot_docs;
    into->ccbot_tokens += from->ccbot_tokens;
    for (size_t i = 0; i < from->crawl_count; i++) {
        const optout_policy_crawl *f = &from->crawls[i];
        optout_policy_crawl *c = crawl_row(into, f->name);
        if (!c) continue;
        c->docs += f->docs;
        c->tokens += f->tokens;
        c->tokens_same_crawl += f->tokens_same_crawl;
        c->tokens_disallowed_any += f->tokens_disallowed_any;
        for (size_t a = 0; a < agent_count; a++) c->tokens_disallowed[a] += f->tokens_disallowed[a];
    }
}
