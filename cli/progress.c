/* progress.c — `optout run`'s progress display (progress.h).
 *
 * The broker's status answer lists every stage with its task count and how many have settled, so
 * a stage that ends between two answers is still seen to end: the display never depends on
 * having caught a stage while it ran.
 */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "optout/util.h"

#define MAX_STAGES 8

struct stage {
    char name[24];
    unsigned long long tasks, settled;
    long long start_ms, end_ms; /* -1: not yet */
    int final_printed;
    int before_first; /* already settled in the first status answer (a resumed run's earlier stage) */
};

struct progress {
    FILE *out;
    int tty, live; /* live: a redrawn line is on screen (a final line first ends it) */
    uint64_t input_bytes;
    long long start_ms;
    struct stage stages[MAX_STAGES];
    size_t n, answers;
    char running[24];
    unsigned long long done, failed, docs, removed, hosts, workers;
};

progress *progress_new(FILE *out, int tty, uint64_t input_bytes) {
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->out = out, p->tty = tty, p->input_bytes = input_bytes, p->start_ms = optout_now_ms();
    return p;
}

static void duration(double secs, char *buf, size_t cap) {
    if (secs < 60) snprintf(buf, cap, "%.1fs", secs);
    else if (secs < 3600) snprintf(buf, cap, "%dm%02ds", (int)secs / 60, (int)secs % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)secs / 3600, (int)secs % 3600 / 60);
}

static void bar(unsigned long long settled, unsigned long long total, char *buf) {
    int width = 30, filled = total ? (int)(settled * (unsigned long long)width / total) : width;
    for (int i = 0; i < width; i++) buf[i] = i < filled ? '#' : '.';
    buf[width] = '\0';
}

static int reads_inputs(const char *stage) { return strcmp(stage, "rank") == 0 || strcmp(stage, "filter") == 0; }

/* What a stage did, per second: documents and MB of input for the filter, MB for the ranking's
 * map, hosts for the fetch. */
static void rates(const progress *p, const char *stage, double secs, char *buf, size_t cap) {
    double s = secs > 0.05 ? secs : 0.05; /* an instant stage: no division by zero */
    size_t n = 0;
    buf[0] = '\0';
    if (strcmp(stage, "filter") == 0)
        n += (size_t)snprintf(buf + n, cap - n, ", %llu docs, %.0f docs/s, %.1f%% removed", p->docs,
                              (double)p->docs / s, p->docs ? 100.0 * (double)p->removed / (double)p->docs : 0.0);
    else if (strcmp(stage, "fetch") == 0)
        n += (size_t)snprintf(buf + n, cap - n, ", %llu hosts, %.0f hosts/s", p->hosts, (double)p->hosts / s);
    if (reads_inputs(stage) && n < cap) snprintf(buf + n, cap - n, ", %.1f MB/s", (double)p->input_bytes / 1e6 / s);
}

/* A final line replaces the redrawn one in place (carriage return, erase the line). */
static void end_live(progress *p) {
    if (p->live) fputs("\r\033[K", p->out);
    p->live = 0;
}

static void print_final(progress *p, struct stage *s) {
    char b[40], t[16], r[160];
    end_live(p);
    if (s->tasks == 0) {
        fprintf(p->out, "%-11s skipped\n", s->name);
    } else if (s->before_first) { /* no time of ours to give it: no rates */
        bar(s->settled, s->tasks, b);
        fprintf(p->out, "%-11s [%s] %llu/%llu tasks, done before the first status answer\n", s->name, b, s->settled,
                s->tasks);
    } else {
        double secs = (double)(s->end_ms - s->start_ms) / 1000.0;
        bar(s->settled, s->tasks, b);
        duration(secs, t, sizeof t);
        rates(p, s->name, secs, r, sizeof r);
        int failed = strcmp(s->name, p->running) == 0 && p->failed;
        fprintf(p->out, "%-11s [%s] %llu/%llu tasks%s, %s%s\n", s->name, b, s->settled, s->tasks,
                failed ? " (some failed)" : "", t, r);
    }
    fflush(p->out);
    s->final_printed = 1;
}

/* The stage named `name` (added in the broker's order when new). */
static struct stage *stage_of(progress *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->stages[i].name, name) == 0) return &p->stages[i];
    if (p->n == MAX_STAGES) return NULL;
    struct stage *s = &p->stages[p->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->start_ms = s->end_ms = -1;
    return s;
}

/* When a stage began: when it was first seen running, else when the one before it ended. */
static long long begun(progress *p, size_t i) {
    if (p->stages[i].start_ms >= 0) return p->stages[i].start_ms;
    for (size_t k = i; k-- > 0;)
        if (p->stages[k].end_ms >= 0) return p->stages[k].end_ms;
    return p->start_ms;
}

void progress_update(progress *p, const char *status) {
    long long now = optout_now_ms();
    int first = !p->answers++;
    const char *st = strstr(status, "\"stage\": \"");
    if (st) sscanf(st + 10, "%23[a-z-]", p->running);
    p->done = cli_json_u64(status, "done"), p->failed = cli_json_u64(status, "failed");
    p->docs = cli_json_u64(status, "docs_in"), p->removed = cli_json_u64(status, "docs_removed");
    p->hosts = cli_json_u64(status, "hosts_fetched"), p->workers = cli_json_u64(status, "workers");
    /* "stages": {"NAME": {"tasks": N, "settled": M}, ...}: every stage, in order */
    const char *q = strstr(status, "\"stages\": {");
    for (q = q ? q + 11 : NULL; q && *q == '"';) {
        char name[24];
        unsigned long long tasks, settled;
        int used = 0;
        if (sscanf(q, "\"%23[a-z-]\": {\"tasks\": %llu, \"settled\": %llu}%n", name, &tasks, &settled, &used) != 3 ||
            !used)
            break;
        struct stage *s = stage_of(p, name);
        if (s) {
            s->tasks = tasks, s->settled = settled;
            if (strcmp(name, p->running) == 0 && s->start_ms < 0) s->start_ms = begun(p, (size_t)(s - p->stages));
        }
        q += used;
        if (q[0] == ',' && q[1] == ' ') q += 2;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct stage *s = &p->stages[i];
        if (s->final_printed || s->settled < s->tasks) continue;
        s->start_ms = begun(p, i);
        s->end_ms = s->tasks ? now : s->start_ms;
        s->before_first = first && s->tasks;
        print_final(p, s);
    }
    struct stage *run = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->stages[i].name, p->running) == 0 && !p->stages[i].final_printed) run = &p->stages[i];
    if (!run || !p->tty) return;
    double secs = (double)(now - begun(p, (size_t)(run - p->stages))) / 1000.0;
    unsigned long long settled = p->done + p->failed;
    double rate = secs > 0 ? (double)settled / secs : 0;
    char b[40], eta[24] = "ETA -", r[160];
    bar(settled, run->tasks, b);
    if (rate > 0) {
        char t[16];
        duration((double)(run->tasks - settled) / rate, t, sizeof t);
        snprintf(eta, sizeof eta, "ETA %s", t);
    }
    rates(p, run->name, secs, r, sizeof r);
    fprintf(p->out, "\r%-11s [%s] %llu/%llu tasks%s%s, %llu workers, %s   ", run->name, b, settled, run->tasks,
            p->failed ? " (some failed)" : "", r, p->workers, eta);
    fflush(p->out);
    p->live = 1;
}

void progress_finish(progress *p, int complete, const char *last_stage, uint64_t docs, uint64_t removed) {
    long long now = optout_now_ms();
    if (complete && docs) p->docs = docs, p->removed = removed;
    int past_last = 0; /* a dry run: the stages after last_stage did not run */
    for (size_t i = 0; i < p->n; i++) {
        struct stage *s = &p->stages[i];
        if (s->final_printed) {
            past_last |= last_stage && strcmp(s->name, last_stage) == 0;
            continue;
        }
        if (past_last) {
            end_live(p);
            fprintf(p->out, "%-11s not run (--stop-after)\n", s->name);
            s->final_printed = 1;
            continue;
        }
        past_last = last_stage && strcmp(s->name, last_stage) == 0;
        if (!complete && s->start_ms < 0 && s->settled == 0) continue; /* never began */
        if (complete) s->settled = s->tasks;
        s->start_ms = begun(p, i);
        s->end_ms = s->tasks ? now : s->start_ms;
        print_final(p, s);
    }
    end_live(p);
    char t[16];
    duration((double)(now - p->start_ms) / 1000.0, t, sizeof t);
    fprintf(p->out, "optout: total time %s\n", t);
    fflush(p->out);
}

void progress_free(progress *p) { free(p); }
