/* stats_policy_write.c — the four policies' statistics side by side, as JSON, Markdown and SVG
 * (include/optout/stats_policy.h; docs/report.md "by_policy"). */
#include "optout/stats_policy.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/json.h"
#include "optout/report.h"

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
        fputs(", \"wayback\": {", f); /* the part decided by a Wayback capture */
        optout_bucket_write_json(f, &s->coverage_wayback[c]);
        fputs("}}", f);
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

/* A table's head: the first column, then one per policy. */
static void policy_columns(FILE *f, const char *first) {
    fprintf(f, "| %s", first);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) fprintf(f, " | %s", optout_robots_time_name(p));
    fputs(" |\n|---", f);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) fputs("|---:", f);
    fputs("|\n", f);
}

/* The per-class and per-year tables: a row per class (per year) that has documents, a cell per
 * policy written by `cell`. */
typedef void (*md_cell)(FILE *f, const optout_bucket *b);

static void loss_cell(FILE *f, const optout_bucket *b) { pct(f, b->tokens_removed, b->tokens_in); }

/* Documents, characters and tokens removed, in one cell: "D / C / T". */
static void removed_cell(FILE *f, const optout_bucket *b) {
    char d[OPTOUT_REPORT_NUM_LEN], c[OPTOUT_REPORT_NUM_LEN], t[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, " | %s / %s / %s", optout_report_num(b->docs_removed, d), optout_report_num(b->chars_removed, c),
            optout_report_num(b->tokens_removed, t));
}

static void class_rows(FILE *f, const optout_stats_policy *s, md_cell cell) {
    static const char *const CLASS_LABEL[OPTOUT_CLASS_COUNT] = {"English", "non-English", "unknown language"};
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        if (s->policy[0].by_class[c].docs_in == 0) continue;
        fprintf(f, "| %s", CLASS_LABEL[c]);
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) cell(f, &s->policy[p].by_class[c]);
        fputs(" |\n", f);
    }
}

static void year_rows(FILE *f, const optout_stats_policy *s, md_cell cell) {
    for (int y = 0; y < OPTOUT_YEARS; y++) {
        if (s->policy[0].by_year[y].docs_in == 0) continue;
        if (y == OPTOUT_YEARS - 1) fputs("| unknown", f);
        else fprintf(f, "| %d", OPTOUT_YEAR_MIN + y);
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) cell(f, &s->policy[p].by_year[y]);
        fputs(" |\n", f);
    }
}

#define CHANGED_HOSTS_SHOWN 20

struct host_change {
    const char *host;
    uint64_t now, then; /* tokens removed under current, under crawl */
};

static int by_change(const void *a, const void *b) {
    const struct host_change *x = a, *y = b;
    uint64_t dx = x->now > x->then ? x->now - x->then : x->then - x->now;
    uint64_t dy = y->now > y->then ? y->now - y->then : y->then - y->now;
    if (dx != dy) return dx > dy ? -1 : 1;
    return strcmp(x->host, y->host);
}

/* The hosts whose tokens removed differ most between current and crawl, from each policy's top
 * hosts (sorted by host: merged in one pass). */
static void md_changed_hosts(FILE *f, const optout_stats_policy *s) {
    const optout_stats *a = &s->policy[OPTOUT_ROBOTS_TIME_CURRENT], *b = &s->policy[OPTOUT_ROBOTS_TIME_CRAWL];
    struct host_change *c = malloc((a->top_host_count + b->top_host_count + 1) * sizeof *c);
    if (!c) return;
    size_t n = 0, i = 0, k = 0;
    while (i < a->top_host_count || k < b->top_host_count) {
        int cmp = i == a->top_host_count   ? 1
                  : k == b->top_host_count ? -1
                                           : strcmp(a->top_hosts[i].host, b->top_hosts[k].host);
        c[n].host = cmp <= 0 ? a->top_hosts[i].host : b->top_hosts[k].host;
        c[n].now = cmp <= 0 ? a->top_hosts[i++].tokens_removed : 0;
        c[n].then = cmp >= 0 ? b->top_hosts[k++].tokens_removed : 0;
        if (c[n].now != c[n].then) n++;
    }
    qsort(c, n, sizeof *c, by_change);
    if (n) {
        fputs("\nHosts whose robots.txt at crawl time changed the most tokens (from each policy's top hosts: a "
              "host missing from one list counts 0 there, so a figure may be a lower bound):\n\n| host | tokens "
              "removed by current | by crawl | crawl − current |\n|---|---:|---:|---:|\n",
              f);
        for (size_t j = 0; j < n && j < CHANGED_HOSTS_SHOWN; j++) {
            fputs("| ", f);
            optout_report_put_text(f, c[j].host);
            num(f, c[j].now);
            num(f, c[j].then);
            signed_num(f, (int64_t)c[j].then - (int64_t)c[j].now);
            fputs(" |\n", f);
        }
    }
    free(c);
}

static const char *const COVERAGE_LABEL[OPTOUT_COVERAGE_COUNT] = {
    "a capture of the document's crawl", "only an earlier capture (within the maximum age)", "no capture",
    "no time (neither crawl nor date)"};

int optout_stats_policy_write_md(FILE *f, const optout_stats_policy *s, const optout_agents *agents) {
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
    fputs("\nToken loss per language class:\n\n", f);
    policy_columns(f, "class");
    class_rows(f, s, loss_cell);
    fputs("\nToken loss per year:\n\n", f);
    policy_columns(f, "year");
    year_rows(f, s, loss_cell);
    fputs("\nRemoved per language class and per year (documents / characters / tokens):\n\n", f);
    policy_columns(f, "class or year");
    class_rows(f, s, removed_cell);
    year_rows(f, s, removed_cell);
    fputs("\nCoverage of the captures (documents judged by robots.txt), by the source of the deciding capture:\n\n"
          "| capture | source | documents | tokens | tokens removed under crawl |\n|---|---|---:|---:|---:|\n",
          f);
    for (int c = 0; c < OPTOUT_COVERAGE_COUNT; c++) {
        const optout_bucket *all = &s->coverage[c], *wb = &s->coverage_wayback[c];
        int captured = c == OPTOUT_COVERAGE_SAME_CRAWL || c == OPTOUT_COVERAGE_EARLIER;
        /* a row per source that decided some document (Common Crawl's row always, for the total) */
        for (int src = 0; src < (captured ? 2 : 1); src++) {
            if (src == 1 && !wb->docs_in) continue;
            fprintf(f, "| %s | %s", COVERAGE_LABEL[c], !captured ? "-" : src ? "Wayback Machine" : "Common Crawl");
            num(f, src ? wb->docs_in : all->docs_in - wb->docs_in);
            num(f, src ? wb->tokens_in : all->tokens_in - wb->tokens_in);
            num(f, src ? wb->tokens_removed : all->tokens_removed - wb->tokens_removed);
            fputs(" |\n", f);
        }
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
    md_changed_hosts(f, s);
    char n2[OPTOUT_REPORT_NUM_LEN];
    fprintf(f, "\n%s documents (%s tokens) have a capture of their own crawl that disallows CCBot, although "
               "Common Crawl crawled them: a sign of a capture attributed to the wrong host, or fetched after "
               "the page.\n",
            optout_report_num(s->ccbot_docs, n1), optout_report_num(s->ccbot_tokens, n2));
    return ferror(f) ? -1 : 0;
}

/* ---- the chart ------------------------------------------------------------------------------ */

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
        }
    }
}

static int by_crawl_name(const void *a, const void *b) {
    return strcmp((*(const optout_policy_crawl *const *)a)->name, (*(const optout_policy_crawl *const *)b)->name);
}

int optout_stats_policy_write_svg(FILE *f, const optout_stats_policy *s, const optout_agents *agents) {
    static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                         "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
    const double W = 760, H = 380, L = 60, R = 190, T = 50, B = 70;
    const optout_policy_crawl *rows[OPTOUT_POLICY_CRAWLS_MAX];
    size_t n = 0, na = optout_agents_count(agents);
    for (size_t i = 0; i < s->crawl_count; i++)
        if (s->crawls[i].tokens_same_crawl) rows[n++] = &s->crawls[i];
    qsort(rows, n, sizeof *rows, by_crawl_name); /* crawl ids sort by time */
    double top = 0; /* the largest share, in percent */
    for (size_t i = 0; i < n; i++) {
        double any = 100.0 * (double)rows[i]->tokens_disallowed_any / (double)rows[i]->tokens_same_crawl;
        if (any > top) top = any;
    }
    static const double SCALES[] = {5, 10, 25, 50, 75, 100}; /* ticks of 1, 2, 5, 10, 15, 20% */
    double ymax = 100;
    for (size_t k = 0; k < sizeof SCALES / sizeof *SCALES; k++)
        if (top <= SCALES[k]) {
            ymax = SCALES[k];
            break;
        }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n"
               "<title>Share of each crawl's tokens whose robots.txt at crawl time disallowed an agent</title>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%.0f\" y=\"24\" font-size=\"14\">Tokens whose robots.txt at crawl time disallowed each "
               "agent, per crawl</text>\n",
            W, H, W, H, L);
    double pw = W - L - R, ph = H - T - B;
    for (int k = 0; k <= 5; k++) { /* the y axis: six ticks */
        double v = ymax * k / 5, y = T + ph - ph * k / 5;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
                L, y, L + pw, y, L - 6, y + 4, v);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph);
    double step = n > 1 ? pw / (double)(n - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        double x = n > 1 ? L + step * (double)i : L + pw / 2;
        fprintf(f, "<text class=\"crawl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" transform=\"rotate(-40 %.1f %.1f)\">",
                x, T + ph + 14, x, T + ph + 14);
        xml_text(f, rows[i]->name);
        fputs("</text>\n", f);
    }
    if (n == 0)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no document has a capture of its own "
                   "crawl</text>\n",
                L + pw / 2, T + ph / 2);
    size_t series = 0;
    for (size_t a = 0; a <= na && n; a++) { /* each agent some crawl disallowed, then any */
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) total += a < na ? rows[i]->tokens_disallowed[a] : rows[i]->tokens_disallowed_any;
        if (a < na && total == 0) continue;
        const char *name = a < na ? optout_agents_name(agents, a) : "any agent";
        const char *color = a < na ? COLORS[series % (sizeof COLORS / sizeof *COLORS)] : "black";
        fputs("<g class=\"series\" data-agent=\"", f);
        xml_text(f, name);
        fprintf(f, "\"><polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", color, a < na ? "1.5" : "2.5");
        for (size_t i = 0; i < n; i++) {
            uint64_t t = a < na ? rows[i]->tokens_disallowed[a] : rows[i]->tokens_disallowed_any;
            double share = 100.0 * (double)t / (double)rows[i]->tokens_same_crawl;
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", n > 1 ? L + step * (double)i : L + pw / 2, T + ph - ph * share / ymax);
        }
        fputs("\"/>", f);
        for (size_t i = 0; i < n; i++) {
            uint64_t t = a < na ? rows[i]->tokens_disallowed[a] : rows[i]->tokens_disallowed_any;
            double share = 100.0 * (double)t / (double)rows[i]->tokens_same_crawl;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\" data-share=\"%.4f\"><title>",
                    n > 1 ? L + step * (double)i : L + pw / 2, T + ph - ph * share / ymax, color, share);
            xml_text(f, name);
            fprintf(f, ", %s: %.2f%%</title></circle>", rows[i]->name, share);
        }
        double ly = T + 14.0 * (double)series;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">",
                L + pw + 12, ly, L + pw + 30, ly, color, L + pw + 36, ly + 4);
        xml_text(f, name);
        fputs("</text></g>\n", f);
        series++;
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

