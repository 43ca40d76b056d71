/* stats_policy.c — the four policies' statistics side by side, as JSON and Markdown
 * (include/optout/stats_policy.h; docs/report.md "by_policy"). */
#include "optout/stats_policy.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/json.h"
#include "optout/report.h"

void optout_stats_policy_init(optout_stats_policy *s, optout_robots_time chosen, int64_t cutoff,
                              optout_history_missing missing, int64_t max_age) {
    memset(s, 0, sizeof *s);
    s->chosen = chosen;
    s->cutoff = cutoff;
    s->missing = missing;
    s->max_age = max_age;
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
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) optout_bucket_merge(&into->coverage[c], &from->coverage[c]);
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

static void put_day(FILE *f, int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm;
    char day[32];
    if (gmtime_r(&tt, &tm) && strftime(day, sizeof day, "%Y-%m-%d", &tm)) fprintf(f, "\"%s\"", day);
    else fputs("null", f);
}

/* Tokens removed under current minus under p: what p gives back (negative when it removes more). */
static int64_t recovered(const optout_stats_policy *s, int p) {
    return (int64_t)s->policy[OPTOUT_ROBOTS_TIME_CURRENT].total.tokens_removed - (int64_t)s->policy[p].total.tokens_removed;
}

int optout_stats_policy_write_json(FILE *f, const optout_stats_policy *s, const optout_agents *agents) {
    fprintf(f, "\"by_policy\": {\n  \"chosen\": \"%s\", \"cutoff\": ", optout_robots_time_name(s->chosen));
    put_day(f, s->cutoff);
    fprintf(f, ", \"history_missing\": \"%s\", \"history_max_age_days\": %" PRId64 ",\n  \"policies\": {",
            optout_history_missing_name(s->missing), s->max_age / 86400);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        fprintf(f, "%s\n  \"%s\": ", p ? "," : "", optout_robots_time_name(p));
        if (optout_stats_write_json(f, &s->policy[p], agents, NULL) != 0) return -1;
    }
    fputs("  },\n  \"tokens_recovered\": {", f);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++)
        fprintf(f, "%s\"%s\": %" PRId64, p ? ", " : "", optout_robots_time_name(p), recovered(s, p));
    fputs("},\n  \"coverage\": {", f);
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) {
        fprintf(f, "%s\n    \"%s\": {", c ? "," : "", optout_history_coverage_name(c));
        optout_bucket_write_json(f, &s->coverage[c]);
        fputc('}', f);
    }
    fprintf(f, "\n  },\n  \"docs_time_from_crawl\": %" PRIu64 ",\n  \"by_crawl\": {", s->docs_time_from_crawl);
    size_t na = optout_agents_count(agents);
    for (size_t i = 0; i < s->crawl_count; i++) {
        const optout_policy_crawl *c = &s->crawls[i];
        fprintf(f, "%s\n    \"%s\": {\"docs\": %" PRIu64 ", \"tokens\": %" PRIu64 ", \"tokens_same_crawl\": %" PRIu64
                   ", \"tokens_disallowed\": {",
                i ? "," : "", c->name, c->docs, c->tokens, c->tokens_same_crawl);
        for (size_t a = 0; a < na; a++) {
            if (a) fputs(", ", f);
            optout_json_put_string(f, optout_agents_name(agents, a));
            fprintf(f, ": %" PRIu64, c->tokens_disallowed[a]);
        }
        fprintf(f, "%s\"any\": %" PRIu64 "}}", na ? ", " : "", c->tokens_disallowed_any);
    }
    fprintf(f, "%s},\n  \"ccbot_same_crawl\": {\"docs\": %" PRIu64 ", \"tokens\": %" PRIu64 "}\n}",
            s->crawl_count ? "\n  " : "", s->ccbot_docs, s->ccbot_tokens);
    return ferror(f) ? -1 : 0;
}

char *optout_stats_policy_json(const optout_stats_policy *s, const optout_agents *agents) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return NULL;
    int bad = optout_stats_policy_write_json(m, s, agents) != 0;
    bad |= fclose(m) != 0;
    if (bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- Markdown ------------------------------------------------------------------------------- */

static void pct(FILE *f, uint64_t part, uint64_t whole) {
    if (whole) fprintf(f, " | %.2f%%", 100.0 * (double)part / (double)whole);
    else fputs(" | –", f);
}

static void num(FILE *f, uint64_t v) {
    char out[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, " | %s", optout_report_num(v, out));
}

static void signed_num(FILE *f, int64_t v) {
    char out[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, " | %s%s", v < 0 ? "−" : "", optout_report_num(v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v, out));
}

static const char *const COVERAGE_LABEL[OPTOUT_COVERAGE_COUNT] = {
    "a capture of the document's crawl", "only an earlier capture (within the maximum age)", "no capture",
    "no time (neither crawl nor date)"};

int optout_stats_policy_write_md(FILE *f, const optout_stats_policy *s, const optout_agents *agents) {
    static const char *const CLASS_LABEL[OPTOUT_CLASS_COUNT] = {"English", "non-English", "unknown language"};
    fprintf(f, "## Robots.txt as it was\n\nDecided by **%s**. Every document was judged under the four policies: "
               "`current` (today's robots.txt), `crawl` (the capture in force when it was crawled), `cutoff` "
               "(today's from ",
            optout_robots_time_name(s->chosen));
    char day[32] = "?";
    time_t tt = (time_t)s->cutoff;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(day, sizeof day, "%Y-%m-%d", &tm);
    fprintf(f, "%s on, the capture's before), `strictest` (removed when either removes). Without a capture: %s; "
               "captures up to %" PRId64 " days old count.\n\n",
            day, s->missing == OPTOUT_MISSING_CURRENT ? "today's robots.txt"
                 : s->missing == OPTOUT_MISSING_KEEP  ? "kept"
                                                      : "removed",
            s->max_age / 86400);
    fputs("| policy | documents removed | characters removed | tokens removed | token loss | tokens recovered "
          "against current |\n|---|---:|---:|---:|---:|---:|\n",
          f);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        const optout_bucket *b = &s->policy[p].total;
        fprintf(f, "| %s%s", optout_robots_time_name(p), p == (int)s->chosen ? " (chosen)" : "");
        num(f, b->docs_removed);
        num(f, b->chars_removed);
        num(f, b->tokens_removed);
        pct(f, b->tokens_removed, b->tokens_in);
        signed_num(f, recovered(s, p));
        fputs(" |\n", f);
    }
    fputs("\nToken loss per language class:\n\n| class", f);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) fprintf(f, " | %s", optout_robots_time_name(p));
    fputs(" |\n|---|---:|---:|---:|---:|\n", f);
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        if (s->policy[0].by_class[c].docs_in == 0) continue;
        fprintf(f, "| %s", CLASS_LABEL[c]);
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++)
            pct(f, s->policy[p].by_class[c].tokens_removed, s->policy[p].by_class[c].tokens_in);
        fputs(" |\n", f);
    }
    fputs("\nToken loss per year:\n\n| year", f);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) fprintf(f, " | %s", optout_robots_time_name(p));
    fputs(" |\n|---|---:|---:|---:|---:|\n", f);
    for (int y = 0; y < OPTOUT_YEARS; y++) {
        if (s->policy[0].by_year[y].docs_in == 0) continue;
        if (y == OPTOUT_YEARS - 1) fputs("| unknown", f);
        else fprintf(f, "| %d", OPTOUT_YEAR_MIN + y);
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++)
            pct(f, s->policy[p].by_year[y].tokens_removed, s->policy[p].by_year[y].tokens_in);
        fputs(" |\n", f);
    }
    fputs("\nCoverage of the captures (documents judged by robots.txt):\n\n| capture | documents | tokens | "
          "tokens removed under crawl |\n|---|---:|---:|---:|\n",
          f);
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) {
        fprintf(f, "| %s", COVERAGE_LABEL[c]);
        num(f, s->coverage[c].docs_in);
        num(f, s->coverage[c].tokens_in);
        num(f, s->coverage[c].tokens_removed);
        fputs(" |\n", f);
    }
    char n1[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, "\n%s documents had no usable date and took their crawl week's Monday as their time.\n",
            optout_report_num(s->docs_time_from_crawl, n1));
    size_t na = optout_agents_count(agents);
    if (s->crawl_count) {
        fputs("\nShare of each crawl's tokens (with a capture of that crawl) whose robots.txt at crawl time "
              "disallowed an agent:\n\n| crawl | tokens with a same-crawl capture",
              f);
        size_t shown = 0;
        for (size_t a = 0; a < na; a++) {
            uint64_t t = 0;
            for (size_t i = 0; i < s->crawl_count; i++) t += s->crawls[i].tokens_disallowed[a];
            if (!t) continue;
            fputs(" | ", f);
            optout_report_put_text(f, optout_agents_name(agents, a));
            shown++;
        }
        fputs(" | any |\n|---|---:", f);
        for (size_t i = 0; i <= shown; i++) fputs("|---:", f);
        fputs("|\n", f);
        /* rows in crawl order (the ids sort by time) */
        size_t order[OPTOUT_POLICY_CRAWLS_MAX];
        for (size_t i = 0; i < s->crawl_count; i++) order[i] = i;
        for (size_t i = 1; i < s->crawl_count; i++)
            for (size_t k = i; k > 0 && strcmp(s->crawls[order[k - 1]].name, s->crawls[order[k]].name) > 0; k--) {
                size_t x = order[k];
                order[k] = order[k - 1];
                order[k - 1] = x;
            }
        for (size_t i = 0; i < s->crawl_count; i++) {
            const optout_policy_crawl *c = &s->crawls[order[i]];
            fprintf(f, "| %s", c->name);
            num(f, c->tokens_same_crawl);
            for (size_t a = 0; a < na; a++) {
                uint64_t t = 0;
                for (size_t k = 0; k < s->crawl_count; k++) t += s->crawls[k].tokens_disallowed[a];
                if (t) pct(f, c->tokens_disallowed[a], c->tokens_same_crawl);
            }
            pct(f, c->tokens_disallowed_any, c->tokens_same_crawl);
            fputs(" |\n", f);
        }
    }
    char n2[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, "\n%s documents (%s tokens) have a capture of their own crawl that disallows CCBot, although "
               "Common Crawl crawled them: a sign of a capture attributed to the wrong host, or fetched after "
               "the page.\n",
            optout_report_num(s->ccbot_docs, n1), optout_report_num(s->ccbot_tokens, n2));
    return ferror(f) ? -1 : 0;
}
