/* stats.c — statistics buckets and their JSON form (include/optout/stats.h). */
#include "optout/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optout/json.h"

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

/* 1 for a dump name worth a bucket: 1..31 bytes of [A-Za-z0-9._-] (CC-MAIN-2019-35), so that it
 * is a JSON key and a table cell as it is. */
static int dump_name_ok(const char *name, size_t len) {
    if (!name || len == 0 || len >= OPTOUT_DUMP_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* The bucket of a dump name: found, else a new one while there is room, else dump_other. */
static optout_bucket *dump_bucket(optout_stats *s, const char *name, size_t len) {
    if (!dump_name_ok(name, len)) return &s->dump_other;
    for (size_t i = 0; i < s->dump_count; i++)
        if (memcmp(s->by_dump[i].name, name, len) == 0 && s->by_dump[i].name[len] == '\0') return &s->by_dump[i].b;
    if (s->dump_count == OPTOUT_DUMPS_MAX) return &s->dump_other;
    optout_dump_bucket *d = &s->by_dump[s->dump_count++];
    memset(d->name, 0, sizeof d->name);
    memcpy(d->name, name, len);
    return &d->b;
}

/* 128-bit (hi, lo) accumulators of squared tokens */
static void add128(uint64_t acc[2], uint64_t hi, uint64_t lo) {
    uint64_t l = acc[1] + lo;
    acc[0] += hi + (l < lo);
    acc[1] = l;
}

static void add_square(uint64_t acc[2], uint64_t x) {
    uint64_t xh = x >> 32, xl = x & 0xffffffffu;
    /* x^2 = xh^2 2^64 + 2 xh xl 2^32 + xl^2 */
    uint64_t mid = xh * xl, hi = xh * xh, lo = xl * xl;
    add128(acc, hi, lo);
    add128(acc, mid >> 31, mid << 33);
}

static double as_double(const uint64_t v[2]) { return ldexp((double)v[0], 64) + (double)v[1]; }

void optout_stats_add_doc(optout_stats *s, size_t agent_count, const optout_doc_facts *d) {
    size_t year = optout_stats_year_slot(d->year);
    if (d->override == 1) {
        s->docs_kept_by_override++;
        s->tokens_kept_by_override += d->tokens;
    } else if (d->override == 2) {
        s->docs_removed_by_override++;
        s->tokens_removed_by_override += d->tokens;
    }
    if (s->sample_ppm) {
        add_square(s->sample_sq[d->cls][0], d->tokens);
        if (d->removed) add_square(s->sample_sq[d->cls][1], d->tokens);
    }
    bucket_add(&s->total, d, d->removed);
    bucket_add(&s->by_class[d->cls], d, d->removed);
    bucket_add(&s->by_year[year], d, d->removed);
    bucket_add(&s->by_year_class[year][d->cls], d, d->removed);
    bucket_add(dump_bucket(s, d->dump, d->dump_len), d, d->removed);
    bucket_add(&s->any_agent, d, d->removed);
    for (size_t a = 0; a < agent_count; a++)
        bucket_add(&s->by_agent[a], d, d->disallowed && optout_agentset_has(d->disallowed, a));
}

void optout_stats_merge(optout_stats *into, const optout_stats *from) {
    bucket_merge(&into->total, &from->total);
    for (int i = 0; i < OPTOUT_CLASS_COUNT; i++) bucket_merge(&into->by_class[i], &from->by_class[i]);
    for (int i = 0; i < OPTOUT_YEARS; i++) {
        bucket_merge(&into->by_year[i], &from->by_year[i]);
        for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) bucket_merge(&into->by_year_class[i][c], &from->by_year_class[i][c]);
    }
    for (size_t i = 0; i < from->dump_count; i++)
        bucket_merge(dump_bucket(into, from->by_dump[i].name, strlen(from->by_dump[i].name)), &from->by_dump[i].b);
    bucket_merge(&into->dump_other, &from->dump_other);
    optout_stats_add_host_losses(into, from->top_hosts, from->top_host_count);
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
    into->docs_kept_by_override += from->docs_kept_by_override;
    into->tokens_kept_by_override += from->tokens_kept_by_override;
    into->docs_removed_by_override += from->docs_removed_by_override;
    into->tokens_removed_by_override += from->tokens_removed_by_override;
    if (!into->sample_ppm) into->sample_ppm = from->sample_ppm;
    into->docs_not_sampled += from->docs_not_sampled;
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++)
        for (int k = 0; k < 2; k++) add128(into->sample_sq[c][k], from->sample_sq[c][k][0], from->sample_sq[c][k][1]);
}

void optout_stats_sample_estimate(const optout_stats *s, int cls, optout_sample_estimate *e) {
    memset(e, 0, sizeof *e);
    e->fraction = (double)s->sample_ppm / 1e6;
    const optout_bucket *b = cls < 0 ? &s->total : &s->by_class[cls];
    double sq_in = 0, sq_removed = 0;
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        if (cls >= 0 && c != cls) continue;
        sq_in += as_double(s->sample_sq[c][0]);
        sq_removed += as_double(s->sample_sq[c][1]);
    }
    e->docs = b->docs_in;
    e->docs_removed = b->docs_removed;
    e->tokens_in = b->tokens_in;
    e->tokens_removed = b->tokens_removed;
    double n = (double)b->docs_in, X = (double)b->tokens_in;
    e->tokens_loss = X > 0 ? (double)b->tokens_removed / X : 0;
    e->tokens_low = 0, e->tokens_high = 1;
    e->docs_loss = n > 0 ? (double)b->docs_removed / n : 0;
    e->docs_low = 0, e->docs_high = 1;
    const double z = 1.959963984540054;
    if (n >= 2 && X > 0) {
        double R = e->tokens_loss;
        double q = (1 - R) * (1 - R) * sq_removed + R * R * (sq_in - sq_removed); /* sum (y - R x)^2 */
        if (q < 0) q = 0;
        double fpc = 1 - e->fraction;
        if (fpc < 0) fpc = 0;
        double se = sqrt(fpc * n / (n - 1) * q) / X;
        e->tokens_low = R - z * se < 0 ? 0 : R - z * se;
        e->tokens_high = R + z * se > 1 ? 1 : R + z * se;
    }
    if (n >= 1) {
        double p = e->docs_loss, z2n = z * z / n;
        double center = (p + z2n / 2) / (1 + z2n);
        double half = z / (1 + z2n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n));
        e->docs_low = center - half < 0 ? 0 : center - half;
        e->docs_high = center + half > 1 ? 1 : center + half;
    }
}

static int by_host(const void *a, const void *b) {
    return strcmp(((const optout_host_loss *)a)->host, ((const optout_host_loss *)b)->host);
}

int optout_host_loss_cmp(const void *a, const void *b) {
    const optout_host_loss *x = a, *y = b;
    if (x->tokens_removed != y->tokens_removed) return x->tokens_removed > y->tokens_removed ? -1 : 1;
    if (x->docs_removed != y->docs_removed) return x->docs_removed > y->docs_removed ? -1 : 1;
    return strcmp(x->host, y->host);
}

void optout_stats_add_host_losses(optout_stats *s, const optout_host_loss *losses, size_t count) {
    if (count == 0) return;
    /* both sides sorted by host, merged (summing equal hosts), then cut to the largest */
    optout_host_loss *in = malloc(count * sizeof *in), *all = malloc((s->top_host_count + count) * sizeof *all);
    if (!in || !all) { /* without memory the list stays as it was (a report detail, never a count) */
        free(in);
        free(all);
        return;
    }
    memcpy(in, losses, count * sizeof *in);
    qsort(in, count, sizeof *in, by_host);
    size_t i = 0, j = 0, n = 0;
    while (i < s->top_host_count || j < count) {
        int c = i == s->top_host_count ? 1 : j == count ? -1 : strcmp(s->top_hosts[i].host, in[j].host);
        if (c < 0) all[n++] = s->top_hosts[i++];
        else if (c > 0) all[n++] = in[j++];
        else {
            all[n] = s->top_hosts[i++];
            all[n].docs_removed += in[j].docs_removed;
            all[n++].tokens_removed += in[j++].tokens_removed;
        }
    }
    if (n > OPTOUT_TOP_HOSTS) {
        qsort(all, n, sizeof *all, optout_host_loss_cmp);
        n = OPTOUT_TOP_HOSTS;
        qsort(all, n, sizeof *all, by_host);
    }
    memcpy(s->top_hosts, all, n * sizeof *all);
    s->top_host_count = n;
    free(in);
    free(all);
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
    optout_json_put_string(f, key);
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
    fprintf(f,
            "  \"docs_kept_by_override\": %lu, \"tokens_kept_by_override\": %lu, \"docs_removed_by_override\": %lu, "
            "\"tokens_removed_by_override\": %lu,\n",
            (unsigned long)s->docs_kept_by_override, (unsigned long)s->tokens_kept_by_override,
            (unsigned long)s->docs_removed_by_override, (unsigned long)s->tokens_removed_by_override);
    if (s->sample_ppm) {
        static const char *const NAMES[] = {"all", "en", "non_en", "unknown"};
        fprintf(f, "  \"sample\": {\"fraction\": %.6f, \"ppm\": %lu, \"docs_sampled\": %lu, \"docs_not_sampled\": %lu, "
                   "\"interval\": \"95%%: tokens: ratio estimator, normal approximation over documents; docs: Wilson\"",
                (double)s->sample_ppm / 1e6, (unsigned long)s->sample_ppm, (unsigned long)s->total.docs_in,
                (unsigned long)s->docs_not_sampled);
        for (int c = -1; c < OPTOUT_CLASS_COUNT; c++) {
            optout_sample_estimate e;
            optout_stats_sample_estimate(s, c, &e);
            fprintf(f,
                    ",\n    \"%s\": {\"docs\": %lu, \"docs_removed\": %lu, \"tokens_loss\": %.6f, "
                    "\"tokens_loss_low\": %.6f, \"tokens_loss_high\": %.6f, \"docs_loss\": %.6f, \"docs_loss_low\": %.6f, "
                    "\"docs_loss_high\": %.6f}",
                    NAMES[c + 1], (unsigned long)e.docs, (unsigned long)e.docs_removed, e.tokens_loss, e.tokens_low,
                    e.tokens_high, e.docs_loss, e.docs_low, e.docs_high);
        }
        fputs("},\n", f);
    }
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
        optout_json_put_string(f, key);
        fputs(": {", f);
        write_bucket_fields(f, &s->by_year[i]);
        fputc('}', f);
    }
    fputs(first ? "  },\n" : "\n  },\n", f);
    fputs("  \"by_year_class\": {", f);
    first = 1;
    for (int i = 0; i < OPTOUT_YEARS; i++) {
        if (s->by_year[i].docs_in == 0) continue;
        char key[16];
        if (i == OPTOUT_YEARS - 1) strcpy(key, "unknown");
        else snprintf(key, sizeof key, "%d", OPTOUT_YEAR_MIN + i);
        fputs(first ? "\n    " : ",\n    ", f);
        first = 0;
        optout_json_put_string(f, key);
        fputs(": {", f);
        for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
            fprintf(f, "%s\"%s\": {", c ? ", " : "", CLASS_NAMES[c]);
            write_bucket_fields(f, &s->by_year_class[i][c]);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputs(first ? "},\n" : "\n  },\n", f);
    fputs("  \"by_dump\": {", f);
    for (size_t i = 0; i <= s->dump_count; i++) {
        const optout_bucket *b = i < s->dump_count ? &s->by_dump[i].b : &s->dump_other;
        if (i == s->dump_count && b->docs_in == 0) break;
        fputs(i ? ",\n    " : "\n    ", f);
        optout_json_put_string(f, i < s->dump_count ? s->by_dump[i].name : "other");
        fputs(": {", f);
        write_bucket_fields(f, b);
        fputc('}', f);
    }
    fputs(s->dump_count || s->dump_other.docs_in ? "\n  },\n" : "},\n", f);
    optout_host_loss *top = malloc((s->top_host_count + 1) * sizeof *top);
    size_t ntop = top ? s->top_host_count : 0;
    if (top) memcpy(top, s->top_hosts, ntop * sizeof *top);
    if (top) qsort(top, ntop, sizeof *top, optout_host_loss_cmp);
    fputs("  \"top_hosts\": [", f);
    for (size_t i = 0; i < ntop; i++) {
        fputs(i ? ",\n    {\"host\": " : "\n    {\"host\": ", f);
        optout_json_put_string(f, top[i].host);
        fprintf(f, ", \"docs_removed\": %lu, \"tokens_removed\": %lu}", (unsigned long)top[i].docs_removed,
                (unsigned long)top[i].tokens_removed);
    }
    free(top);
    fputs(ntop ? "\n  ],\n" : "],\n", f);
    fputs("  \"by_agent\": {\n", f);
    for (size_t a = 0; a < optout_agents_count(agents); a++)
        write_bucket(f, "    ", optout_agents_name(agents, a), &s->by_agent[a], 1);
    write_bucket(f, "    ", "any", &s->any_agent, 0);
    fputs(extra ? "  },\n  " : "  }\n", f);
    if (extra) fprintf(f, "%s\n", extra);
    fputs("}\n", f);
    return ferror(f) ? -1 : 0;
}

void optout_bucket_add(optout_bucket *b, const optout_doc_facts *doc, int removed) { bucket_add(b, doc, removed); }
void optout_bucket_merge(optout_bucket *into, const optout_bucket *from) { bucket_merge(into, from); }
void optout_bucket_write_json(FILE *f, const optout_bucket *b) { write_bucket_fields(f, b); }
