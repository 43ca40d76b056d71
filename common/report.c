/* report.c — report.md from the merged statistics (include/optout/report.h). */
#include "optout/report.h"

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

static void bucket_row(FILE *f, const char *name, const optout_bucket *b) {
    fprintf(f, "| %s | %llu | %llu | %.2f%% | %llu | %llu | %.2f%% | %llu | %llu | %.2f%% |\n", name,
            (unsigned long long)b->docs_in, (unsigned long long)b->docs_removed, pct(b->docs_removed, b->docs_in),
            (unsigned long long)b->bytes_in, (unsigned long long)b->bytes_removed, pct(b->bytes_removed, b->bytes_in),
            (unsigned long long)b->tokens_in, (unsigned long long)b->tokens_removed,
            pct(b->tokens_removed, b->tokens_in));
}

static void bucket_header(FILE *f, const char *first) {
    fprintf(f, "| %s | docs in | docs removed | %% | bytes in | bytes removed | %% | tokens in | tokens removed | %% |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            first);
}

int optout_report_write_md(FILE *f, const optout_stats *s, const optout_agents *agents, const optout_report_info *info) {
    const optout_bucket *t = &s->total, *en = &s->by_class[OPTOUT_CLASS_EN], *non = &s->by_class[OPTOUT_CLASS_NON_EN];
    fprintf(f, "# optout report\n\n");
    fprintf(f, "**%.2f%% of tokens removed** (%llu of %llu documents, %.2f%%): English %.2f%% of tokens, "
               "non-English %.2f%%.%s\n\n",
            pct(t->tokens_removed, t->tokens_in), (unsigned long long)t->docs_removed, (unsigned long long)t->docs_in,
            pct(t->docs_removed, t->docs_in), pct(en->tokens_removed, en->tokens_in),
            pct(non->tokens_removed, non->tokens_in),
            info->failed ? " **Incomplete: some tasks failed (below).**" : "");
    fprintf(f, "## Totals and classes\n\n");
    bucket_header(f, "");
    bucket_row(f, "all", t);
    static const char *const CLASS[OPTOUT_CLASS_COUNT] = {"English", "non-English", "unknown language"};
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++)
        if (s->by_class[c].docs_in) bucket_row(f, CLASS[c], &s->by_class[c]);
    fprintf(f, "\nTokens: `token_count` where present, else bytes/4 (%llu documents estimated).\n\n",
            (unsigned long long)s->tokens_estimated_docs);
    fprintf(f, "## Loss per year\n\n");
    bucket_header(f, "year");
    for (int y = 0; y < OPTOUT_YEARS; y++) {
        if (!s->by_year[y].docs_in) continue;
        char name[16];
        if (y == OPTOUT_YEARS - 1) snprintf(name, sizeof name, "unknown");
        else snprintf(name, sizeof name, "%d", OPTOUT_YEAR_MIN + y);
        bucket_row(f, name, &s->by_year[y]);
    }
    fprintf(f, "\n## Per agent (as Table A.1 of the Apertus tech report)\n\n"
               "| agent | documents removed | %% | characters removed | %% |\n|---|---:|---:|---:|---:|\n");
    for (size_t a = 0; a <= optout_agents_count(agents); a++) {
        const optout_bucket *b = a < optout_agents_count(agents) ? &s->by_agent[a] : &s->any_agent;
        fprintf(f, "| %s%s%s | %llu | %.2f%% | %llu | %.2f%% |\n", a < optout_agents_count(agents) ? "`" : "**",
                a < optout_agents_count(agents) ? optout_agents_name(agents, a) : "any",
                a < optout_agents_count(agents) ? "`" : "**", (unsigned long long)b->docs_removed,
                pct(b->docs_removed, b->docs_in), (unsigned long long)b->chars_removed, pct(b->chars_removed, b->chars_in));
    }
    fprintf(f, "\n## Documents by robots.txt outcome of their host\n\n| outcome | documents |\n|---|---:|\n");
    for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++)
        fprintf(f, "| %s | %llu |\n", optout_outcome_name((optout_outcome)o), (unsigned long long)s->docs_by_outcome[o]);
    fprintf(f, "\n## Bad input (kept, counted)\n\n| counter | lines |\n|---|---:|\n"
               "| not JSON | %llu |\n| no URL | %llu |\n| unparsable URL | %llu |\n| URL without host | %llu |\n"
               "| IDNA failure (raw host used) | %llu |\n| line too long | %llu |\n",
            (unsigned long long)s->bad_json, (unsigned long long)s->no_url, (unsigned long long)s->bad_url,
            (unsigned long long)s->no_host, (unsigned long long)s->bad_idna, (unsigned long long)s->line_too_long);
    if (info->failed) {
        fprintf(f, "\n## Failed tasks\n\n");
        for (size_t i = 0; i < info->failed; i++)
            fprintf(f, "- `%s`: %s\n", info->failed_inputs[i], info->failed_errors[i]);
    }
    fprintf(f, "\n## Configuration\n\n- matching: %s\n- agents (%zu): ", info->mode, optout_agents_count(agents));
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        fprintf(f, "%s`%s`", a ? ", " : "", optout_agents_name(agents, a));
    fprintf(f, "\n- robots.txt snapshot: `%s`\n- tasks: %zu (%zu failed)\n", info->robots_dir, info->tasks, info->failed);
    return ferror(f) ? -1 : 0;
}
