/* why_history.c — the historical part of an `optout why` answer (why_history.h). */
#include "why_history.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/history_archive.h"
#include "optout/json.h"
#include "optout/log.h"

struct why_history {
    optout_history_archive *archive;
    optout_history_judge *judge;
    optout_robots_time_spec spec;
    optout_history_missing missing;
    int64_t cutoff; /* the cutoff column's day */
    const optout_agents *agents;
};

why_history *why_history_open(const char *dir, const optout_robots_time_spec *spec, int64_t max_age_days,
                              optout_history_missing missing, int64_t report_cutoff, const optout_why_config *cfg) {
    char err[1024];
    why_history *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->spec = *spec;
    h->missing = missing;
    h->cutoff = optout_robots_time_cutoff_day(spec, report_cutoff);
    h->agents = cfg->agents;
    if (!(h->archive = optout_history_archive_open(dir, err, sizeof err))) {
        optout_log(LOG_ERR, "why: --history %s: %s", dir, err);
        free(h);
        return NULL;
    }
    optout_history_source src = optout_history_archive_source(h->archive);
    if (!(h->judge = optout_history_judge_new(&src, cfg->agents, cfg->mode, cfg->unreachable_disallows,
                                              max_age_days * 86400, 0))) {
        optout_log(LOG_ERR, "why: out of memory");
        why_history_close(h);
        return NULL;
    }
    return h;
}

void why_history_close(why_history *h) {
    if (!h) return;
    optout_history_judge_free(h->judge);
    optout_history_archive_close(h->archive);
    free(h);
}

static void put_time(FILE *out, int64_t t, int json) {
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[40];
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(buf, sizeof buf, "?");
    fprintf(out, json ? "\"%s\"" : "%s", buf);
}

/* "GPTBot, CCBot" or `none` (JSON: an array of names). */
static void put_agents(FILE *out, const optout_agents *agents, const optout_agentset *s, int json) {
    int first = 1;
    if (json) fputc('[', out);
    for (size_t k = 0; k < optout_agents_count(agents); k++) {
        if (!optout_agentset_has(s, k)) continue;
        fputs(first ? "" : ", ", out);
        first = 0;
        if (json) optout_json_put_string(out, optout_agents_name(agents, k));
        else fputs(optout_agents_name(agents, k), out);
    }
    if (json) fputc(']', out);
    else if (first) fputs("no agent", out);
}

static const char *origin_name(optout_history_origin o) { return o == OPTOUT_HISTORY_WAYBACK ? "wayback" : "cc"; }
static const char *scheme_name(optout_history_scheme s) { return s == OPTOUT_HISTORY_HTTPS ? "https" : "http"; }

static void capture_json(FILE *out, const optout_history_pick *p) {
    const optout_history_version *c = p->capture, *f = p->final;
    fprintf(out, "{\"origin\": \"%s\", \"crawl\": ", origin_name(c->origin));
    if (c->crawl[0]) optout_json_put_string(out, c->crawl);
    else fputs("null", out);
    fprintf(out, ", \"scheme\": \"%s\", \"first\": ", scheme_name(c->scheme));
    put_time(out, c->first, 1);
    fputs(", \"last\": ", out);
    put_time(out, c->last, 1);
    fprintf(out, ", \"status\": %d, \"redirects\": %u, \"host\": ", c->status, p->hops);
    optout_json_put_stringn(out, p->final_host, p->final_host_len);
    fprintf(out, ", \"final_status\": %d, \"outcome\": \"%s\", \"sha256\": ", f->status, optout_outcome_name(p->outcome));
    if (f->sha256[0] && !f->redirect) optout_json_put_string(out, f->sha256);
    else fputs("null", out);
    fprintf(out, ", \"truncated\": %s}", f->truncated ? "true" : "false");
}

static void capture_text(FILE *out, const optout_history_pick *p, int width) {
    const optout_history_version *c = p->capture, *f = p->final;
    fprintf(out, "  %-*s  %s: %s %s%s%s, captured ", width, "capture", optout_history_coverage_name(p->coverage),
            origin_name(c->origin), c->crawl[0] ? c->crawl : "", c->crawl[0] ? " " : "", scheme_name(c->scheme));
    put_time(out, c->first, 0);
    if (c->last != c->first) {
        fputs(" to ", out);
        put_time(out, c->last, 0);
    }
    fprintf(out, ", HTTP %d", c->status);
    if (p->hops)
        fprintf(out, ", %u redirect%s to %.*s (%s), HTTP %d", p->hops, p->hops == 1 ? "" : "s", (int)p->final_host_len,
                p->final_host, scheme_name(f->scheme), f->status);
    fprintf(out, ": %s", optout_outcome_name(p->outcome));
    if (p->outcome == OPTOUT_OUTCOME_UNAVAILABLE && f->redirect) fputs(" (more than 5 redirects)", out);
    if (f->sha256[0] && !f->redirect) fprintf(out, ", SHA-256 %s", f->sha256);
    if (f->truncated) fputs(", truncated", out);
    fputc('\n', out);
}

int why_history_explain(why_history *h, const optout_why_answer *a, const optout_doc_time *t, FILE *out, int json,
                        int width, char *err, size_t errlen) {
    size_t n = optout_agents_count(h->agents);
    optout_policy_verdict v[OPTOUT_ROBOTS_TIME_COUNT];
    optout_history_pick pick = {.coverage = OPTOUT_COVERAGE_NONE};
    optout_agentset then;
    int judged = 0, alike = a->override || a->outcome == OPTOUT_OUTCOME_NOT_RANKED;
    if (!alike) {
        judged = optout_history_judge_doc(h->judge, a->host, strlen(a->host), a->url, a->url_len, t, &pick, &then, err,
                                          errlen);
        if (judged < 0) return -1;
        optout_history_combine(&a->disallowed, judged ? &then : NULL, t, h->cutoff, h->missing, n, v);
    } else { /* decided before robots.txt, or outside the plan: alike under every policy */
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) v[p] = (optout_policy_verdict){a->removed, a->disallowed};
    }
    const optout_policy_verdict *chosen = &v[h->spec.policy];
    if (json) {
        fputs(", \"history\": {\"time\": ", out);
        if (t->has_time) put_time(out, t->time, 1);
        else fputs("null", out);
        fputs(", \"crawl\": ", out);
        if (t->crawl[0]) optout_json_put_string(out, t->crawl);
        else fputs("null", out);
        fprintf(out, ", \"time_from_crawl\": %s, \"coverage\": ", t->time_from_crawl ? "true" : "false");
        if (alike) fputs("null", out);
        else fprintf(out, "\"%s\"", optout_history_coverage_name(pick.coverage));
        fputs(", \"capture\": ", out);
        if (pick.capture) capture_json(out, &pick);
        else fputs("null", out);
        fputs(", \"capture_disallows\": ", out);
        if (judged) put_agents(out, h->agents, &then, 1);
        else fputs("null", out);
        fputs(", \"policies\": {", out);
        for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
            fprintf(out, "%s\"%s\": {\"removed\": %s, \"disallowed_user_agents\": ", p ? ", " : "",
                    optout_robots_time_name(p), v[p].removed ? "true" : "false");
            put_agents(out, h->agents, &v[p].agents, 1);
            fputc('}', out);
        }
        fprintf(out, "}, \"chosen\": \"%s\", \"cutoff\": ", optout_robots_time_name(h->spec.policy));
        put_time(out, h->cutoff, 1);
        fprintf(out, ", \"removed\": %s}", chosen->removed ? "true" : "false");
        return 0;
    }
    fprintf(out, "  %-*s  ", width, "time");
    if (t->has_time) {
        put_time(out, t->time, 0);
        if (t->crawl[0]) fprintf(out, " (crawl %s%s)", t->crawl, t->time_from_crawl ? ", its week's Monday: no date" : "");
        fputc('\n', out);
    } else {
        fputs("none (no crawl id, no date)\n", out);
    }
    if (alike) {
        fprintf(out, "  %-*s  not consulted: %s\n", width, "capture",
                a->override ? "an override decides" : "the host is outside the plan (not_ranked)");
    } else if (pick.capture) {
        capture_text(out, &pick, width);
        fprintf(out, "  %-*s  disallowed for ", width, "at crawl");
        put_agents(out, h->agents, &then, 0);
        fputc('\n', out);
    } else {
        fprintf(out, "  %-*s  %s: --history-missing %s decides the crawl side\n", width, "capture",
                pick.coverage == OPTOUT_COVERAGE_NO_TIME ? "the document has no time" : "no capture",
                optout_history_missing_name(h->missing));
    }
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        char label[32];
        snprintf(label, sizeof label, "%s%s", optout_robots_time_name(p), p == (int)h->spec.policy ? " *" : "");
        fprintf(out, "  %-*s  %s", width, label, v[p].removed ? "removed, disallowed for " : "kept");
        if (v[p].removed) put_agents(out, h->agents, &v[p].agents, 0);
        if (p == OPTOUT_ROBOTS_TIME_CUTOFF) {
            fputs(" (today's from ", out);
            put_time(out, h->cutoff, 0);
            fputs(" on)", out);
        }
        fputc('\n', out);
    }
    fprintf(out, "  by %s: %s\n", optout_robots_time_name(h->spec.policy), chosen->removed ? "removed" : "kept");
    return 0;
}
