/* artefacts.c — what a run leaves besides its outputs: report.json / report.md / the chart /
 * report.msgpack (common/report.c), manifest.json (common/manifest.c), dry-run.json
 * (--stop-after), blocked_hosts.tsv and blocked_domains.tsv (policy.h).
 *
 * They are derived from the merged statistics and the journal's records (the manifest takes the
 * published files' sizes and SHA-256 from them instead of reading the outputs again). A run found
 * complete is left exactly as it is: the final artefacts are written only when this start changed
 * something (or the report is missing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_internal.h"
#include "optout/files.h"
#include "optout/history.h"
#include "optout/json.h"
#include "optout/log.h"
#include "optout/manifest.h"
#include "optout/options.h"
#include "optout/policy.h"
#include "optout/report.h"
#include "optout/util.h"

/* The agent list's name and SHA-256 for the report: the file's, else the names' (one per line). */
static void agents_identity(const struct broker *b, char *name, size_t cap, char sha[65]) {
    const struct broker_config *c = b->cfg;
    size_t len = 0;
    char *text = NULL;
    if (c->agents_file && (text = optout_read_file(c->agents_file, (size_t)1 << 20, &len)) != NULL) {
        const char *slash = strrchr(c->agents_file, '/');
        snprintf(name, cap, "%s%s", slash ? slash + 1 : c->agents_file, c->agent_count ? " + --agent" : "");
    } else {
        snprintf(name, cap, "%s", c->agent_count ? "--agent list" : "apertus-paper (built in)");
    }
    if (!text) {
        size_t cap2 = 1;
        for (size_t i = 0; i < optout_agents_count(b->agents); i++) cap2 += strlen(optout_agents_name(b->agents, i)) + 1;
        text = optout_malloc(cap2);
        for (size_t i = 0; i < optout_agents_count(b->agents); i++)
            len += (size_t)sprintf(text + len, "%s\n", optout_agents_name(b->agents, i));
    }
    optout_sha256_hex(text, len, sha);
    free(text);
}

static void utc_time(uint64_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An override list for the report: its path and its content's SHA-256, or "none". */
static void override_identity(const char *path, const char **name, const char **sha, char hex[65]) {
    *name = path ? path : "none";
    *sha = NULL;
    size_t len = 0;
    char *text = path ? optout_read_file(path, (size_t)1 << 30, &len) : NULL;
    if (text) {
        optout_sha256_hex(text, len, hex);
        *sha = hex;
    } else if (path) {
        optout_log(LOG_WARNING, "%s: %s (the report gives no SHA-256 for it)", path, strerror(errno));
    }
    free(text);
}

/* The report's settings (report.h optout_report_setting), the choices named by their option rows. */
static void report_settings(const struct broker_config *c, optout_report_info *info, char sample[32],
                            char keep_sha[65], char remove_sha[65], char robots_time[48]) {
    const char **v = info->settings;
    v[OPTOUT_SET_GRANULARITY] = optout_granularity_name((optout_granularity)c->granularity);
    plan_robots_time_text(&c->robots_time, robots_time, 48);
    v[OPTOUT_SET_ROBOTS_TIME] = robots_time;
    override_identity(c->keep_hosts, &v[OPTOUT_SET_KEEP_HOSTS], &v[OPTOUT_SET_KEEP_HOSTS_SHA256], keep_sha);
    override_identity(c->remove_hosts, &v[OPTOUT_SET_REMOVE_HOSTS], &v[OPTOUT_SET_REMOVE_HOSTS_SHA256], remove_sha);
    snprintf(sample, 32, "%.6g", (double)c->sample_ppm / 1e6);
    v[OPTOUT_SET_SAMPLE] = c->sample_ppm ? sample : "none";
    v[OPTOUT_SET_SAMPLE_SHARDS] = c->sample_shards ? "yes" : "no";
    v[OPTOUT_SET_OUTPUT] = optout_option_row(OPTOUT_OPT_OUTPUT)->choices[c->output_tags ? 1 : 0];
    v[OPTOUT_SET_REMOVED] = c->with_removed ? "yes" : "no";
    v[OPTOUT_SET_OUTPUT_FORMAT] = optout_option_row(OPTOUT_OPT_OUTPUT_FORMAT)->choices[c->output_format];
    v[OPTOUT_SET_MISSING_URL] = optout_option_row(OPTOUT_OPT_MISSING_URL)->choices[c->missing_url_keep ? 1 : 0];
}

/* Tasks listed in the report, by label, with an error each. */
struct task_list {
    char **labels;
    const char **errors;
    size_t n;
};

/* The tasks that failed (retried = 0: their error), or that failed in an earlier invocation and
 * did not fail again (retried = 1: that invocation's error). 0 or -1 (out of memory). */
static int list_tasks(const struct broker *b, int retried, struct task_list *l) {
    char label[4200];
    l->n = 0;
    l->labels = calloc(b->task_count + 1, sizeof *l->labels);
    l->errors = calloc(b->task_count + 1, sizeof *l->errors);
    if (!l->labels || !l->errors) return -1;
    for (size_t i = 0; i < b->task_count; i++) {
        const struct task *t = &b->tasks[i];
        const char *error = !retried ? (t->state == TASK_FAILED ? (t->error ? t->error : "") : NULL)
                                     : (t->state != TASK_FAILED ? t->earlier_error : NULL);
        if (!error) continue;
        if (!(l->labels[l->n] = strdup(task_label(b, i, label, sizeof label)))) return -1;
        l->errors[l->n++] = error;
    }
    return 0;
}

static void free_task_list(struct task_list *l) {
    for (size_t i = 0; l->labels && i < l->n; i++) free(l->labels[i]);
    free(l->labels);
    free(l->errors);
}

/* report.json, report.md, the chart and report.msgpack (common/report.c), from the merged statistics. */
static int write_report(struct broker *b) {
    const struct broker_config *c = b->cfg;
    struct task_list failed = {0}, retried = {0};
    int rc = -1;
    if (list_tasks(b, 0, &failed) != 0 || list_tasks(b, 1, &retried) != 0) goto out;
    char agents_name[512], agents_sha[65], from[32], to[32], err[1024];
    agents_identity(b, agents_name, sizeof agents_name, agents_sha);
    optout_rank_reduce_config rank;
    stages_rank_config(c, &rank);
    int fetched = b->stage_count[STAGE_FETCH] > 0, ranked = c->top_en || c->top_non_en;
    uint64_t planned = 0;
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) planned += b->hosts_by_outcome[i];
    uint64_t t0 = b->fetched_from, t1 = b->fetched_to;
    if (!t0 && b->blocked && b->blocked->fetched_from > 0) /* a robots directory: its index.tsv's times */
        t0 = (uint64_t)b->blocked->fetched_from, t1 = (uint64_t)b->blocked->fetched_to;
    if (t0) utc_time(t0, from, sizeof from);
    if (t1) utc_time(t1, to, sizeof to);
    optout_report_info info = {
        .mode = optout_robots_mode_name(c->mode),
        .robots_dir = c->robots_dir,
        .robots_source = fetched ? "fetched" : c->robots_dir,
        .tasks = b->task_count,
        .failed = failed.n,
        .failed_inputs = (const char *const *)failed.labels,
        .failed_errors = failed.errors,
        .retried = retried.n,
        .retried_inputs = (const char *const *)retried.labels,
        .retried_errors = retried.errors,
        .agents_name = agents_name,
        .agents_sha256 = agents_sha,
        .host_key = c->host_key == OPTOUT_HOSTKEY_NETLOC ? "netloc" : "canonical",
        .unreachable = c->unreachable_disallows ? "disallow" : "keep",
        .robots_from = t0 ? from : NULL,
        .robots_to = t1 ? to : NULL,
        .top_en = ranked ? rank.top_en : 0,
        .top_non_en = ranked ? rank.top_non_en : 0,
        .metric = ranked ? optout_rank_metric_name(c->metric) : NULL,
        .hosts_by_outcome = fetched ? b->hosts_by_outcome : NULL,
        .hosts_planned = planned,
        .complete = b->failed == 0 && b->stage == STAGE_COUNT,
    };
    char sample[32], keep_sha[65], remove_sha[65], robots_time[48];
    report_settings(c, &info, sample, keep_sha, remove_sha, robots_time);
    info.by_policy = b->by_policy;
    /* which agents the snapshot names (read for blocked_hosts.tsv): a typo is possible only in a
     * list the user wrote, never in the built-in one */
    if (b->blocked && (c->agents_file || c->agent_count)) {
        info.agent_named = b->blocked->agent_named;
        info.robots_parsed = b->blocked->hosts_ok;
    }
    if (optout_report_write(c->dir, b->stats, b->agents, &info, err, sizeof err) != 0)
        optout_log(LOG_ERR, "writing the report: %s", err);
    else rc = 0;
out:
    free_task_list(&failed);
    free_task_list(&retried);
    return rc;
}

/* DIR/manifest.json: what a later run must reproduce (common/manifest.c). */
static int write_manifest(struct broker *b) {
    char agents_name[512], agents_sha[65], err[1024];
    agents_identity(b, agents_name, sizeof agents_name, agents_sha);
    int64_t from = (int64_t)b->fetched_from, to = (int64_t)b->fetched_to;
    if (!from && b->blocked) /* a robots directory's snapshot: its index.tsv's fetch times */
        from = b->blocked->fetched_from, to = b->blocked->fetched_to;
    optout_manifest_info info = {.agents_name = agents_name, .agents_sha256 = agents_sha,
                                 .agents_file = b->cfg->agents_file, .robots_from = from, .robots_to = to};
    optout_manifest_known *known = calloc(b->published_count + 1, sizeof *known);
    if (!known) return -1;
    for (size_t i = 0; i < b->published_count; i++)
        known[i] = (optout_manifest_known){b->published[i].path, b->published[i].size, b->published[i].sha256};
    info.known = known;
    info.known_count = b->published_count;
    optout_manifest_summary sum;
    int rc = optout_manifest_write(b->cfg->dir, &info, &sum, err, sizeof err);
    free(known);
    if (rc != 0) {
        optout_log(LOG_ERR, "manifest: %s", err);
        return -1;
    }
    optout_log(LOG_INFO, "%s/" OPTOUT_MANIFEST_FILE ": %zu inputs, %zu outputs (%llu bytes)", b->cfg->dir, sum.inputs,
               sum.outputs, (unsigned long long)sum.output_bytes);
    return 0;
}

/* Domain granularity (policy.h): DIR/blocked_domains.tsv, from DIR/blocked_hosts.tsv (which a
 * fetching run wrote after its fetch stage; a snapshot's run writes it here first), before any
 * filter task runs, so that every worker applies the same table. Rewritten identically on resume. */
int artefacts_write_domains(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char hosts[4200], path[4200], err[1024];
    if (c->robots_dir && stages_write_blocked(b) != 0) return -1;
    snprintf(hosts, sizeof hosts, "%s/" OPTOUT_BLOCKED_FILE, c->dir);
    snprintf(path, sizeof path, "%s/" OPTOUT_DOMAINS_FILE, c->dir);
    optout_domains *d = optout_domains_from_blocked(hosts, b->agents, err, sizeof err);
    if (!d || optout_domains_write(d, path, b->agents, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "domain granularity: %s", err);
        optout_domains_free(d);
        return -1;
    }
    optout_log(LOG_INFO, "%s: %zu registrable domains block an agent", path, optout_domains_count(d));
    optout_domains_free(d);
    return 0;
}

/* The dry run's answer (--stop-after): DIR/dry-run.json, and the same in the log. */
int artefacts_write_dry_run(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char path[4200], hosts[4200], err[4400];
    snprintf(path, sizeof path, "%s/dry-run.json", c->dir);
    uint64_t planned = 0;
    FILE *h = fopen(b->hosts_path, "r");
    for (int ch; h && (ch = getc(h)) != EOF;) planned += ch == '\n';
    if (h) fclose(h);
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, sizeof err);
    if (!f) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    int fetched = strcmp(c->stop_after, "rank") != 0 && strcmp(c->stop_after, "survey") != 0;
    fprintf(f, "{\n  \"stopped_after\": \"%s\",\n  \"hosts_planned\": %llu", c->stop_after,
            (unsigned long long)planned);
    if (b->surveyed) { /* the survey: the crawls the documents name (DIR/survey.tsv per host) */
        const optout_survey_summary *s = &b->survey;
        fprintf(f, ",\n  \"survey\": {\"docs\": %llu, \"tokens\": %llu, \"hosts\": %llu, \"crawls\": {",
                (unsigned long long)s->docs, (unsigned long long)s->tokens, (unsigned long long)s->hosts);
        for (size_t i = 0; i < s->crawl_count; i++) {
            const optout_survey_crawl *k = &s->crawls[i];
            fprintf(f, "%s\n    \"%s\": {\"docs\": %llu, \"tokens\": %llu, \"hosts\": %llu}", i ? "," : "",
                    k->crawl, (unsigned long long)k->docs, (unsigned long long)k->tokens, (unsigned long long)k->hosts);
            if (strcmp(k->crawl, "-") != 0)
                optout_log(LOG_NOTICE, "dry run: survey: %s named by %llu documents (%llu tokens) of %llu hosts",
                           k->crawl, (unsigned long long)k->docs, (unsigned long long)k->tokens,
                           (unsigned long long)k->hosts);
        }
        fprintf(f, "%s}}", s->crawl_count ? "\n  " : "");
    }
    if (b->history_files.count) { /* what the history stage reads (or read, after --stop-after history) */
        uint64_t bytes = 0;
        char crawls[4096] = "";
        size_t ncrawls = 0;
        for (size_t i = 0; i < b->history_files.count; i++) {
            bytes += b->history_files.items[i].size;
            char crawl[OPTOUT_HISTORY_CRAWL_MAX], quoted[OPTOUT_HISTORY_CRAWL_MAX + 4];
            const char *p = b->history_files.items[i].path;
            if (!optout_history_find_crawl(p, strlen(p), crawl)) continue;
            snprintf(quoted, sizeof quoted, "\"%s\"", crawl); /* crawl ids need no JSON escape */
            if (!strstr(crawls, quoted) && strlen(crawls) + sizeof quoted + 2 < sizeof crawls) {
                snprintf(crawls + strlen(crawls), sizeof crawls - strlen(crawls), "%s%s", ncrawls ? ", " : "", quoted);
                ncrawls++;
            }
        }
        fprintf(f, ",\n  \"history_files\": %zu,\n  \"history_bytes\": %llu,\n  \"history_crawls\": [%s]",
                b->history_files.count, (unsigned long long)bytes, crawls);
        optout_log(LOG_NOTICE, "dry run: history reads %zu files (%llu bytes) of %zu crawls", b->history_files.count,
                   (unsigned long long)bytes, ncrawls);
        if (strcmp(c->stop_after, "history") == 0)
            fprintf(f, ",\n  \"history_records\": %llu,\n  \"history_captures\": %llu,\n  \"history_bad_records\": %llu",
                    (unsigned long long)b->history_counts[OPTOUT_HISTORY_RECORDS],
                    (unsigned long long)b->history_counts[OPTOUT_HISTORY_CAPTURES],
                    (unsigned long long)b->history_counts[OPTOUT_HISTORY_BAD]);
    }
    if (b->wayback_plan.known) { /* the Wayback's plan (stages.c): its time before anything is asked */
        const struct wayback_plan *w = &b->wayback_plan;
        fprintf(f, ",\n  \"wayback\": {\"hosts\": %zu, \"queries\": %zu, \"blocks\": %zu, \"blocks_done\": %zu, "
                   "\"requests_at_least\": %zu, \"rate\": %.6g, \"seconds_at_least\": %.0f}",
                w->hosts, w->queries, w->blocks, w->done, w->left, c->wayback_rate, w->seconds);
        optout_log(LOG_NOTICE, "dry run: the Wayback asks for %zu hosts in %zu queries (%zu blocks, %zu done): at "
                   "least %zu requests, %.0f s at %.3g request/s", w->hosts, w->queries, w->blocks, w->done, w->left,
                   w->seconds, c->wayback_rate);
    }
    snprintf(hosts, sizeof hosts, "%s", b->hosts_path);
    optout_log(LOG_NOTICE, "dry run: %llu hosts to fetch (%s)", (unsigned long long)planned, hosts);
    if (fetched && b->blocked) {
        fputs(",\n  \"hosts_by_outcome\": {", f);
        for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++)
            fprintf(f, "%s\"%s\": %llu", i ? ", " : "", optout_outcome_name((optout_outcome)i),
                    (unsigned long long)b->hosts_by_outcome[i]);
        fprintf(f, "},\n  \"hosts_blocking\": %llu,\n  \"hosts_blocking_whole_site\": %llu,\n  \"by_agent\": {",
                (unsigned long long)b->blocked->hosts_blocking, (unsigned long long)b->blocked->hosts_whole_site);
        for (size_t a = 0; a < optout_agents_count(b->agents); a++) {
            fputs(a ? ",\n    " : "\n    ", f);
            optout_json_put_string(f, optout_agents_name(b->agents, a));
            fprintf(f, ": {\"hosts_blocking\": %llu, \"whole_site\": %llu}",
                    (unsigned long long)b->blocked->agent_blocking[a], (unsigned long long)b->blocked->agent_whole_site[a]);
            optout_log(LOG_NOTICE, "dry run: %s is disallowed something by %llu hosts, the whole site by %llu",
                       optout_agents_name(b->agents, a), (unsigned long long)b->blocked->agent_blocking[a],
                       (unsigned long long)b->blocked->agent_whole_site[a]);
        }
        fputs("\n  }", f);
    }
    fputs("\n}\n", f);
    if (optout_publish_commit(&pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    return 0;
}

int artefacts_write_final(struct broker *b) {
    const struct broker_config *cfg = b->cfg;
    char report[4200];
    snprintf(report, sizeof report, "%s/report.json", cfg->dir);
    if (!b->recovered && access(report, F_OK) == 0) return 0;
    /* a fetching run wrote blocked_hosts.tsv after its fetch stage; a snapshot's is written now */
    if (cfg->robots_dir && !cfg->synthetic_tasks && stages_write_blocked(b) != 0) return -1;
    char dry[4200];
    snprintf(dry, sizeof dry, "%s/dry-run.json", cfg->dir);
    unlink(dry); /* a dry run's answer is superseded by the run's report */
    if (write_report(b) != 0 || (!cfg->synthetic_tasks && write_manifest(b) != 0)) return -1;
    return 0;
}
