/* report.h — what a run cost, for people (report.md, loss-by-year.svg) and programs (report.json),
 * and the run's statistics kept so that all of it can be rendered again (report.msgpack).
 *
 * Contract
 * - optout_report_write() writes, in DIR, report.msgpack (first: the source of every other file),
 *   report.json, report.md, loss-by-year.svg (and with info->by_policy policy-by-crawl.svg), each
 *   atomically (DIR/.NAME.tmp.<pid>, fflush,
 *   fsync, rename, then one fsync of DIR). Output depends only on its arguments (no clock, no
 *   locale): rendering the same inputs twice gives identical bytes, so `optout report DIR` (load,
 *   then write) reproduces the files a run wrote.
 * - report.json is optout_stats_write_json()'s schema plus "complete", "tasks", "failed_tasks"
 *   [{"input", "error"}], "config" {... and every optout_report_setting} and "fetch"
 *   {"hosts_planned", "hosts_by_outcome"}; the
 *   whole schema is documented in docs/report.md. Strings are written by json.h's one writer.
 *   Unknown values (NULL strings, no host counts) are JSON null.
 * - report.md: the headline (token loss English / non-English, what decided it: granularity,
 *   robots.txt time, overrides, sample; the Apertus figures for reference), totals (documents, bytes, characters, tokens in and removed), loss per language
 *   class, per year (2013–2024 and every other year the data has, the chart embedded), per agent
 *   (documents and characters removed, as the Apertus tech report's Table A.1, plus "any"), fetch
 *   outcomes (hosts when known, documents), bad input, failed tasks and the configuration.
 *   Percentages are of the matching "in" counts ("–" when that is 0); empty sections are left out.
 * - loss-by-year.svg: hand-written SVG 1.1 (no scripts, no external resources): token loss per
 *   year as bars (one <rect class="bar"> per year that has documents, all languages: the
 *   statistics do not split years by class), the overall English and non-English loss as
 *   horizontal reference lines, axes with ticks and labels, a legend and a title.
 * - report.msgpack: {"format": "optout-report", "version": 1, "stats": BIN (optout_stats_encode),
 *   "agents": [name...], "info": {...}}. optout_report_load() rejects another format or version,
 *   malformed statistics and wrong types; it ignores info keys it does not know (added later).
 */
#ifndef OPTOUT_REPORT_H
#define OPTOUT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "optout/stats.h"
#include "optout/stats_policy.h"

/* The settings that change which documents a run removes or what it writes, besides the mode,
 * agent list, host key and unreachable policy below: one text each, NULL when the report does not
 * know it (written by an earlier optout). Each has one row of report.c's table (its key in
 * report.json "config" and report.msgpack "info", its label in report.md and `report --diff`,
 * and for robots_time the headline's wording of each value): a new setting is an id here and a
 * row there; a new value of one (e.g. another robots_time) is at most a row of wording. */
typedef enum {
    OPTOUT_SET_GRANULARITY,          /* "url" / "host" / "domain" */
    OPTOUT_SET_ROBOTS_TIME,          /* which robots.txt decides: "current" (the snapshot's) */
    OPTOUT_SET_KEEP_HOSTS,           /* --keep-hosts: the file's path, or "none" */
    OPTOUT_SET_KEEP_HOSTS_SHA256,    /* its content's SHA-256 (hex), NULL when none */
    OPTOUT_SET_REMOVE_HOSTS,         /* --remove-hosts: the file's path, or "none" */
    OPTOUT_SET_REMOVE_HOSTS_SHA256,
    OPTOUT_SET_SAMPLE,               /* --sample: the fraction ("0.1"), or "none" */
    OPTOUT_SET_SAMPLE_SHARDS,        /* --sample-shards: "yes" / "no" (a sample's outputs in sample/) */
    OPTOUT_SET_OUTPUT,               /* "shards" / "tags" */
    OPTOUT_SET_REMOVED,              /* removed documents written: "yes" / "no" */
    OPTOUT_SET_OUTPUT_FORMAT,        /* "same" / "jsonl" / "parquet" */
    OPTOUT_SET_MISSING_URL,          /* "fail" / "keep" */
    OPTOUT_SET_COUNT
} optout_report_setting;

/* The setting's key (report.json, report.msgpack) and label (report.md, --diff). */
const char *optout_report_setting_key(optout_report_setting id);
const char *optout_report_setting_label(optout_report_setting id);

typedef struct {
    const char *mode;        /* "rfc9309" / "protego" */
    const char *robots_dir;  /* alias of robots_source, used when robots_source is NULL */
    size_t tasks, failed;
    const char *const *failed_inputs; /* failed task inputs and their errors (`failed` of each) */
    const char *const *failed_errors;
    /* tasks that failed in an earlier invocation on the run directory and were retried by a later
     * one (with their earlier error): report.json "retried_tasks" and a report.md section, both
     * only when there are any */
    size_t retried;
    const char *const *retried_inputs;
    const char *const *retried_errors;
    const char *agents_name;      /* the agent list: file name, or "apertus-paper (built in)" */
    const char *agents_sha256;    /* SHA-256 hex of the list's text, or NULL */
    const char *host_key;         /* "canonical" / "netloc", or NULL */
    const char *unreachable;      /* "keep" / "disallow", or NULL */
    const char *robots_source;    /* "fetched" or the robots directory path, or NULL */
    const char *robots_from, *robots_to; /* snapshot time range (UTC ISO 8601) or NULL */
    uint64_t top_en, top_non_en;  /* ranking N per class; 0 when no ranking ran */
    const char *metric;           /* ranking metric or NULL */
    const uint64_t *hosts_by_outcome; /* OPTOUT_OUTCOME_COUNT host counts, or NULL when unknown */
    uint64_t hosts_planned;
    int complete;                 /* every task done (report.json "complete") */
    const char *settings[OPTOUT_SET_COUNT]; /* optout_report_setting, above */
    /* Per agent, the robots.txt files of the snapshot that name it in a group of its own
     * (blocked.h agent_named), over robots_parsed files; NULL when not counted. An agent no file
     * names (not `*`) is listed as a likely typo: report.json config "agents_unnamed", report.md. */
    const uint64_t *agent_named;
    uint64_t robots_parsed;
    /* Robots.txt as it was (stats_policy.h): every policy's statistics, NULL when the run judged by
     * today's robots.txt alone. report.json "by_policy", report.md's section "Robots.txt as it
     * was", the chart policy-by-crawl.svg, report.msgpack "policy" (its configuration) and the
     * policies in "stats" ("bp"). */
    const optout_stats_policy *by_policy;
} optout_report_info;

/* Agent i is named by no robots.txt of a snapshot that was counted (a likely typo; never `*`). */
int optout_report_agent_unnamed(const optout_agents *agents, const optout_report_info *info, size_t i);

/* Writes DIR/report.msgpack, report.json, report.md and loss-by-year.svg (see above). 0, or -1
 * with a message naming the file in err (files already renamed stay; none is ever partial). */
int optout_report_write(const char *dir, const optout_stats *stats, const optout_agents *agents,
                        const optout_report_info *info, char *err, size_t errlen);

/* The single renderers, for callers that want one stream. Each returns 0, or -1 when writing
 * failed. write_md() says "Incomplete" when info->failed > 0 (as before `complete` existed);
 * optout_report_write() also when !info->complete. */
/* 1234567 -> "1,234,567" into out (at least OPTOUT_REPORT_NUM_LEN bytes); returns out. The one
 * number format of report.md, the chart and `optout report --diff`. */
#define OPTOUT_REPORT_NUM_LEN 32
const char *optout_report_num(uint64_t v, char *out);
/* Markdown text inside a table cell or list item: '|' escaped, line breaks as spaces; NULL as "–". */
void optout_report_put_text(FILE *f, const char *s);
/* s as inline code, safe in a table cell (double backticks when s holds one). */
void optout_report_put_code(FILE *f, const char *s);

int optout_report_write_md(FILE *out, const optout_stats *stats, const optout_agents *agents,
                           const optout_report_info *info);
int optout_report_write_json(FILE *out, const optout_stats *stats, const optout_agents *agents,
                             const optout_report_info *info);
int optout_report_write_svg(FILE *out, const optout_stats *stats);

/* report.msgpack in memory (malloc'd into *buf), and back. */
int optout_report_encode(const optout_stats *stats, const optout_agents *agents, const optout_report_info *info,
                         void **buf, size_t *len);

/* A report read back: everything optout_report_write() needs. Strings of `info` point into
 * private storage; free it all with optout_report_loaded_free(). */
typedef struct optout_report_keep optout_report_keep;
typedef struct {
    optout_stats *stats;
    optout_agents *agents;
    optout_report_info info;
    optout_stats_policy *by_policy; /* info.by_policy, owned here (NULL when none) */
    optout_report_keep *keep;
} optout_report_loaded;

/* Reads DIR/report.msgpack. 0, or -1 with a message in err; errno ENOENT when the file is missing
 * (e.g. a run directory written before report.msgpack existed), EINVAL when it is malformed. */
int optout_report_load(const char *dir, optout_report_loaded *out, char *err, size_t errlen);
int optout_report_decode(const void *buf, size_t len, optout_report_loaded *out, char *err, size_t errlen);
void optout_report_loaded_free(optout_report_loaded *loaded);

#endif
