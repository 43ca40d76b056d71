/* stats.c — statistics buckets and their JSON form (include/optout/stats.h). */
#include "optout/stats.h"

#include <string.h>

static const char *const OUTCOME_NAMES[OPTOUT_OUTCOME_COUNT] = {
    "ok", "no_robots", "unavailable", "unreachable", "no_such_host", "not_ranked",
};

const char *optout_outcome_name(optout_outcome o) {
    return (unsigned)o < OPTOUT_OUTCOME_COUNT ? OUTCOME_NAMES[o] : "invalid";
}

int optout_outcome_parse(const char *name, optout_outcome *o) {
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++)
        if (strcmp(name, OUTCOME_NAMES[i]) == 0) {
            *o = (optout_outcome)i;
            return 0;
        }
    return -1;
}

void optout_stats_init(optout_stats *s) { memset(s, 0, sizeof *s); }

size_t optout_stats_year_slot(int year) {
    if (year < OPTOUT_YEAR_MIN || year > OPTOUT_YEAR_MAX) return OPTOUT_YEARS - 1;
    return (size_t)(year - OPTOUT_YEAR_MIN);
}

static void bucket_add(optout_bucket *b, const optout_doc_facts *d, int removed) {
    b->docs_in++;
    b->bytes_in += d->bytes;
    b->chars_in += d->chars;
    b->tokens_in += d->tokens;
    if (removed) {
        b->docs_removed++;
        b->bytes_removed += d->bytes;
        b->chars_removed += d->chars;
        b->tokens_removed += d->tokens;
    }
}

static void bucket_merge(optout_bucket *a, const optout_bucket *b) {
    a->docs_in += b->docs_in;
    a->docs_removed += b->docs_removed;
    a->bytes_in += b->bytes_in;
    a->bytes_removed += b->bytes_removed;
    a->chars_in += b->chars_in;
    a->chars_removed += b->chars_removed;
    a->tokens_in += b->tokens_in;
    a->tokens_removed += b->tokens_removed;
}

void optout_stats_add_doc(optout_stats *s, size_t agent_count, const optout_doc_facts *d) {
    bucket_add(&s->total, d, d->removed);
    bucket_add(&s->by_class[d->cls], d, d->removed);
    bucket_add(&s->by_year[optout_stats_year_slot(d->year)], d, d->removed);
    bucket_add(&s->any_agent, d, d->removed);
    for (size_t a = 0; a < agent_count; a++)
        bucket_add(&s->by_agent[a], d, d->disallowed && optout_agentset_has(d->disallowed, a));
}

void optout_stats_merge(optout_stats *into, const optout_stats *from) {
    bucket_merge(&into->total, &from->total);
    for (int i = 0; i < OPTOUT_CLASS_COUNT; i++) bucket_merge(&into->by_class[i], &from->by_class[i]);
    for (int i = 0; i < OPTOUT_YEARS; i++) bucket_merge(&into->by_year[i], &from->by_year[i]);
    for (int i = 0; i < OPTOUT_AGENTS_MAX; i++) bucket_merge(&into->by_agent[i], &from->by_agent[i]);
    bucket_merge(&into->any_agent, &from->any_agent);
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) into->docs_by_outcome[i] += from->docs_by_outcome[i];
    into->bad_json += from->bad_json;
    into->no_url += from->no_url;
    into->bad_url += from->bad_url;
    into->no_host += from->no_host;
    into->bad_idna += from->bad_idna;
    into->line_too_long += from->line_too_long;
    into->tokens_estimated_docs += from->tokens_estimated_docs;
}

static void write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void write_bucket_fields(FILE *f, const optout_bucket *b) {
    fprintf(f,
            "\"docs_in\": %lu, \"docs_removed\": %lu, \"bytes_in\": %lu, \"bytes_removed\": %lu, "
            "\"chars_in\": %lu, \"chars_removed\": %lu, \"tokens_in\": %lu, \"tokens_removed\": %lu",
            (unsigned long)b->docs_in, (unsigned long)b->docs_removed, (unsigned long)b->bytes_in,
            (unsigned long)b->bytes_removed, (unsigned long)b->chars_in, (unsigned long)b->chars_removed,
            (unsigned long)b->tokens_in, (unsigned long)b->tokens_removed);
}

static void write_bucket(FILE *f, const char *indent, const char *key, const optout_bucket *b, int comma) {
    fputs(indent, f);
    write_string(f, key);
    fputs(": {", f);
    write_bucket_fields(f, b);
    fprintf(f, "}%s\n", comma ? "," : "");
}

int optout_stats_write_json(FILE *f, const optout_stats *s, const optout_agents *agents, const char *extra) {
    static const char *const CLASS_NAMES[OPTOUT_CLASS_COUNT] = {"en", "non_en", "unknown"};
    fputs("{\n  ", f);
    write_bucket_fields(f, &s->total);
    fprintf(f,
            ",\n  \"tokens_estimated_docs\": %lu,\n  \"bad_json\": %lu, \"no_url\": %lu, \"bad_url\": %lu, "
            "\"no_host\": %lu, \"bad_idna\": %lu, \"line_too_long\": %lu,\n",
            (unsigned long)s->tokens_estimated_docs, (unsigned long)s->bad_json, (unsigned long)s->no_url,
            (unsigned long)s->bad_url, (unsigned long)s->no_host, (unsigned long)s->bad_idna,
            (unsigned long)s->line_too_long);
    fputs("  \"docs_by_outcome\": {", f);
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++)
        fprintf(f, "%s\"%s\": %lu", i ? ", " : "", OUTCOME_NAMES[i], (unsigned long)s->docs_by_outcome[i]);
    fputs("},\n  \"by_class\": {\n", f);
    for (int i = 0; i < OPTOUT_CLASS_COUNT; i++)
        write_bucket(f, "    ", CLASS_NAMES[i], &s->by_class[i], i + 1 < OPTOUT_CLASS_COUNT);
    fputs("  },\n  \"by_year\": {\n", f);
    int first = 1;
    for (int i = 0; i < OPTOUT_YEARS; i++) {
        if (s->by_year[i].docs_in == 0) continue;
        char key[16];
        if (i == OPTOUT_YEARS - 1) strcpy(key, "unknown");
        else snprintf(key, sizeof key, "%d", OPTOUT_YEAR_MIN + i);
        if (!first) fputs(",\n", f);
        first = 0;
        fputs("    ", f);
        write_string(f, key);
        fputs(": {", f);
        write_bucket_fields(f, &s->by_year[i]);
        fputc('}', f);
    }
    fputs(first ? "  },\n" : "\n  },\n", f);
    fputs("  \"by_agent\": {\n", f);
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        write_bucket(f, "    ", optout_agents_name(agents, a), &s->by_agent[a], 1);
    write_bucket(f, "    ", "any", &s->any_agent, 0);
    fputs(extra ? "  },\n  " : "  }\n", f);
    if (extra) fprintf(f, "%s\n", extra);
    fputs("}\n", f);
    return ferror(f) ? -1 : 0;
}
