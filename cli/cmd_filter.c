/* cmd_filter.c — `optout filter`: one shard through the filter, on one machine.
 *
 * optout filter --robots-dir DIR [--mode rfc9309|protego] [--agent NAME]... [--agents-file F]
 *               --in SHARD --out SHARD [--removed SHARD] [--stats FILE|-] [options]
 * The output format follows the output's name (.zst, .gz, else plain); the stats use the schema of
 * report.json (include/optout/stats.h). On any error nothing is published and the exit status is 1.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/files.h"
#include "optout/filter.h"
#include "optout/blocked.h"
#include "optout/history.h"
#include "optout/history_archive.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/policy.h"
#include "optout/util.h"

static const optout_program_spec FILTER_SPEC = {
    .program = OPTOUT_PROG_FILTER,
    .section = "filter",
    .usage = "usage: optout filter (--robots-dir DIR | --archive DIR) --in SHARD --out SHARD [--removed SHARD]\n"
             "                     [--stats FILE|-] [options]\n",
    .about =
        "Writes the documents of SHARD that no agent is disallowed from to --out (byte-identical\n"
        "lines; format from the name: .zst, .gz or plain) and, with --removed, the others with\n"
        "\"disallowed_user_agents\" added. --stats writes the statistics as JSON.\n"
        "--robots-dir is a snapshot (a file per host); --archive a fetch archive (a run's robots/ or\n"
        "optout fetch's), where a host without a record is not_ranked.\n"
        "Field paths default to the top level, then \"metadata.\" (datatrove/Dolma).\n"
        "Policy (docs/policy.md): --granularity host|domain removes every document of a host (of a\n"
        "registrable domain) whose robots.txt disallows an agent something, for that agent;\n"
        "--keep-hosts / --remove-hosts FILE (host keys or *.domain, one a line) decide before\n"
        "robots.txt; --sample P (0 < P <= 1) decides, counts and writes only a deterministic sample\n"
        "(by a hash of the document id) and the statistics hold the estimated loss and its interval.\n"
        "--output tags: decide and count as usual but write no shard: --out receives one line\n"
        "{\"id\": ..., \"disallowed_user_agents\": [...]} per removed document (by \"line\" when it has\n"
        "no id), for optout apply-tags; --removed is not allowed then.\n"
        "Robots.txt as it was (docs/history.md): --history DIR (optout history --out DIR) judges every\n"
        "document under current, crawl, cutoff:YYYY-MM-DD and strictest in one pass; --robots-time\n"
        "chooses the one that decides (default current), --stats gains by_policy, --policy-report\n"
        "FILE receives the policies side by side in Markdown and --policy-chart FILE the share of each\n"
        "crawl's tokens whose robots.txt then disallowed each agent (SVG).\n"
        "Outputs must be regular files (or new names), none of them an input: files are compared by\n"
        "identity, so ./in.jsonl, its absolute path or a link to it are the input. --stats - writes\n"
        "to standard output.\n",
};

/* Writes the stats (with `extra` members, may be NULL) to PATH, published whole (files.h), or to
 * stdout for "-". 0, or -1 (logged). */
static int write_stats(const char *path, const optout_stats *stats, const optout_agents *agents, const char *extra) {
    if (strcmp(path, "-") == 0) {
        if (optout_stats_write_json(stdout, stats, agents, extra) == 0 && fflush(stdout) == 0) return 0;
        optout_log(LOG_ERR, "writing statistics to %s: %s", path, strerror(errno));
        return -1;
    }
    char err[PATH_MAX + 256];
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, sizeof err);
    if (f && optout_stats_write_json(f, stats, agents, extra) != 0) {
        optout_log(LOG_ERR, "writing statistics to %s: %s", path, strerror(errno));
        optout_publish_abort(&pub);
        return -1;
    }
    if (!f || optout_publish_commit(&pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "writing statistics: %s", err);
        return -1;
    }
    return 0;
}

/* The filter's configuration from the checked option values. Returns -1 to go on, else the exit status. */
static int filter_configure(const optout_option_values *v, optout_filter_config *cfg, optout_policy *policy,
                            optout_robots_mode *mode, optout_agents **agents) {
    if (v->given[OPTOUT_OPT_MODE]) (void)optout_robots_mode_parse(v->text[OPTOUT_OPT_MODE], mode);
    if (v->given[OPTOUT_OPT_HOST_KEY]) (void)optout_hostkey_mode_parse(v->text[OPTOUT_OPT_HOST_KEY], &cfg->host_key);
    if (v->given[OPTOUT_OPT_SAMPLE]) (void)optout_sample_parse(v->text[OPTOUT_OPT_SAMPLE], &policy->sample_ppm);
    policy->granularity = (optout_granularity)v->num[OPTOUT_OPT_GRANULARITY];
    cfg->unreachable_disallows = v->num[OPTOUT_OPT_UNREACHABLE] == 1;
    cfg->output_tags = v->num[OPTOUT_OPT_OUTPUT] == 1;
    if (v->given[OPTOUT_OPT_LEVEL]) cfg->level = (int)v->num[OPTOUT_OPT_LEVEL];
    cfg->missing_url_keep = v->num[OPTOUT_OPT_MISSING_URL] == 1;
    cfg->parquet_compression = v->text[OPTOUT_OPT_PARQUET_COMPRESSION];
    cfg->parquet_level = cfg->level;
    cfg->output_format = (int)v->num[OPTOUT_OPT_OUTPUT_FORMAT];
    if (v->given[OPTOUT_OPT_MAX_LINE]) cfg->max_line = (size_t)v->num[OPTOUT_OPT_MAX_LINE];
    cfg->url_field = v->text[OPTOUT_OPT_URL_FIELD];
    cfg->language_field = v->text[OPTOUT_OPT_LANGUAGE_FIELD];
    cfg->tokens_field = v->text[OPTOUT_OPT_TOKENS_FIELD];
    cfg->dump_field = v->text[OPTOUT_OPT_DUMP_FIELD];
    cfg->date_field = v->text[OPTOUT_OPT_DATE_FIELD];
    cfg->text_field = v->text[OPTOUT_OPT_TEXT_FIELD];
    /* the agents in command-line order: the files' and the names' as given */
    int rc = OPTOUT_EXIT_OK;
    for (size_t i = 0; i < v->order_count && rc == OPTOUT_EXIT_OK; i++) {
        if (v->order[i].id == OPTOUT_OPT_AGENT) rc = cli_add_agent(agents, v->order[i].text);
        else if (v->order[i].id == OPTOUT_OPT_AGENTS_FILE) rc = cli_add_agents_file(agents, v->order[i].text);
    }
    if (rc != OPTOUT_EXIT_OK) return rc;
    const char *robots_dir = v->text[OPTOUT_OPT_ROBOTS_DIR], *archive = v->text[OPTOUT_OPT_ARCHIVE];
    const char *in = v->text[OPTOUT_OPT_IN], *out = v->text[OPTOUT_OPT_OUT];
    const char *removed = v->text[OPTOUT_OPT_REMOVED_SHARD], *stats = v->text[OPTOUT_OPT_STATS];
    if (!robots_dir == !archive || !in || !out) {
        optout_log(LOG_ERR, "filter: --in, --out and one of --robots-dir and --archive are required");
        optout_options_usage(&FILTER_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    const char *history = v->text[OPTOUT_OPT_HISTORY];
    optout_robots_time_spec spec = {0};
    if (v->given[OPTOUT_OPT_ROBOTS_TIME]) (void)optout_robots_time_parse(v->text[OPTOUT_OPT_ROBOTS_TIME], &spec);
    if (!history && (spec.policy != OPTOUT_ROBOTS_TIME_CURRENT || v->given[OPTOUT_OPT_HISTORY_MAX_AGE] ||
                     v->given[OPTOUT_OPT_HISTORY_MISSING] || v->given[OPTOUT_OPT_REPORT_CUTOFF] ||
                     v->given[OPTOUT_OPT_POLICY_REPORT] || v->given[OPTOUT_OPT_POLICY_CHART])) {
        optout_log(LOG_ERR, "filter: --robots-time other than current, --history-max-age, --history-missing, "
                            "--report-cutoff, --policy-report and --policy-chart need the captures: --history DIR (optout history "
                            "--out DIR)");
        return OPTOUT_EXIT_USAGE;
    }
    if (history && cfg->host_key == OPTOUT_HOSTKEY_NETLOC) {
        optout_log(LOG_ERR, "filter: --host-key netloc with --history: a history archive is keyed by canonical host "
                            "keys");
        return OPTOUT_EXIT_USAGE;
    }
    if (history && policy->granularity != OPTOUT_GRANULARITY_URL) {
        optout_log(LOG_ERR, "filter: --granularity %s combines only with today's robots.txt for now: drop --history "
                            "(robots.txt as it was is judged per URL)",
                   optout_granularity_name(policy->granularity));
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->output_tags && removed) {
        optout_log(LOG_ERR, "filter: --output tags writes no removed shard (the tags say what goes): drop --removed");
        return OPTOUT_EXIT_USAGE;
    }
    int codec, level;
    char cerr[200];
    if (v->given[OPTOUT_OPT_PARQUET_COMPRESSION] && optout_filter_parquet_codec(cfg, &codec, &level, cerr, sizeof cerr) != 0) {
        optout_log(LOG_ERR, "filter: --level: %s", cerr);
        return OPTOUT_EXIT_USAGE;
    }
    /* every file read against every file written, by identity (the directories read whole
     * included); and --stats, --policy-report and --policy-chart, written last, must be writable
     * before --out is published */
    char history_dir[PATH_MAX + 16] = "";
    if (history) snprintf(history_dir, sizeof history_dir, "%s/%s", history, OPTOUT_HISTORY_DIR);
    const optout_file_arg files[] = {
        {"--robots-dir", robots_dir, OPTOUT_FILE_INPUT_DIR},
        {"--archive", archive, OPTOUT_FILE_INPUT_DIR},
        {"--history", history ? history_dir : NULL, OPTOUT_FILE_INPUT_DIR},
        {"--in", in, 0},
        {"--agents-file", v->text[OPTOUT_OPT_AGENTS_FILE], 0},
        {"--keep-hosts", v->text[OPTOUT_OPT_KEEP_HOSTS], 0},
        {"--remove-hosts", v->text[OPTOUT_OPT_REMOVE_HOSTS], 0},
        {"--out", out, 1},
        {"--removed", removed, 1},
        {"--stats", stats, 1},
        {"--policy-report", v->text[OPTOUT_OPT_POLICY_REPORT], 1},
        {"--policy-chart", v->text[OPTOUT_OPT_POLICY_CHART], 1},
    };
    char err[PATH_MAX * 2 + 400];
    int bad = optout_files_check(files, sizeof files / sizeof *files, err, sizeof err) != 0;
    for (size_t i = 0; i < sizeof files / sizeof *files && !bad; i++) /* the last three: written after --out */
        if (i + 3 >= sizeof files / sizeof *files && files[i].path && strcmp(files[i].path, "-") != 0)
            bad = optout_files_writable(files[i].option, files[i].path, err, sizeof err) != 0;
    if (bad) {
        optout_log(LOG_ERR, "filter: %s", err);
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

/* --history DIR: the archive, its judge and the per-policy statistics. 0, or -1 (logged). */
static int open_history(const optout_option_values *v, const optout_agents *agents, optout_robots_mode mode,
                        int unreachable_disallows, optout_history_archive **archive, optout_filter_history *h) {
    char err[1024];
    const char *dir = v->text[OPTOUT_OPT_HISTORY];
    if (v->given[OPTOUT_OPT_ROBOTS_TIME]) (void)optout_robots_time_parse(v->text[OPTOUT_OPT_ROBOTS_TIME], &h->time);
    h->missing = (optout_history_missing)v->num[OPTOUT_OPT_HISTORY_MISSING];
    const char *day = v->text[OPTOUT_OPT_REPORT_CUTOFF] ? v->text[OPTOUT_OPT_REPORT_CUTOFF]
                                                          : OPTOUT_HISTORY_REPORT_CUTOFF_DEFAULT;
    (void)optout_history_parse_time(day, strlen(day), &h->report_cutoff);
    int64_t max_age = (int64_t)v->num[OPTOUT_OPT_HISTORY_MAX_AGE] * 86400;
    if (!(*archive = optout_history_archive_open(dir, err, sizeof err))) {
        optout_log(LOG_ERR, "--history %s: %s", dir, err);
        return -1;
    }
    optout_history_source src = optout_history_archive_source(*archive);
    h->judge = optout_history_judge_new(&src, agents, mode, unreachable_disallows, max_age, 0);
    h->stats = malloc(sizeof *h->stats);
    if (!h->judge || !h->stats) {
        optout_log(LOG_ERR, "out of memory");
        return -1;
    }
    optout_stats_policy_init_run(h->stats, &h->time, h->report_cutoff, h->missing, max_age);
    optout_log(LOG_INFO, "history %s: %zu hosts, %zu versions; deciding by %s", dir,
               optout_history_archive_hosts(*archive), optout_history_archive_versions(*archive),
               optout_robots_time_name(h->time.policy));
    return 0;
}

/* Writes PATH, published whole (files.h), with fn (the Markdown report or the chart). 0, or -1 (logged). */
static int write_rendered(const char *path, int (*fn)(FILE *, const optout_stats_policy *, const optout_agents *),
                          const optout_stats_policy *s, const optout_agents *agents) {
    char err[PATH_MAX + 256];
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, sizeof err);
    if (f && fn(f, s, agents) != 0) {
        optout_log(LOG_ERR, "writing %s: %s", path, strerror(errno));
        optout_publish_abort(&pub);
        return -1;
    }
    if (!f || optout_publish_commit(&pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    return 0;
}

/* --stats (with by_policy in historical mode), --policy-report and --policy-chart. 0, or -1 (logged). */
static int write_outputs(const char *stats_path, const char *md_path, const char *svg_path, const optout_stats *stats,
                         const optout_filter_history *h, const optout_agents *agents) {
    char *extra = h ? optout_stats_policy_json(h->stats, agents) : NULL;
    if (h && !extra) {
        optout_log(LOG_ERR, "out of memory");
        return -1;
    }
    int rc = 0;
    if (stats_path && write_stats(stats_path, stats, agents, extra) != 0) rc = -1;
    free(extra);
    if (rc == 0 && md_path && h) rc = write_rendered(md_path, optout_stats_policy_write_md, h->stats, agents);
    if (rc == 0 && svg_path && h) rc = write_rendered(svg_path, optout_stats_policy_write_svg, h->stats, agents);
    return rc;
}

int cmd_filter(int argc, char **argv) {
    optout_option_values v;
    optout_filter_config cfg = {0};
    optout_robots_mode mode = OPTOUT_MODE_RFC9309;
    optout_agents *agents = NULL;
    optout_verdicts *verdicts = NULL;
    optout_policy policy = {0};
    optout_history_archive *archive_h = NULL;
    optout_filter_history hist = {0};
    int rc = optout_options_parse(&FILTER_SPEC, argc, argv, &v);
    if (rc < 0) rc = filter_configure(&v, &cfg, &policy, &mode, &agents);
    if (rc >= 0) goto done;
    rc = OPTOUT_EXIT_OK;
    const char *robots_dir = v.text[OPTOUT_OPT_ROBOTS_DIR], *archive = v.text[OPTOUT_OPT_ARCHIVE];
    const char *in = v.text[OPTOUT_OPT_IN], *out = v.text[OPTOUT_OPT_OUT], *removed = v.text[OPTOUT_OPT_REMOVED_SHARD];
    const char *stats_path = v.text[OPTOUT_OPT_STATS], *keep_hosts = v.text[OPTOUT_OPT_KEEP_HOSTS];
    const char *remove_hosts = v.text[OPTOUT_OPT_REMOVE_HOSTS];
    if (!(agents = cli_agents_or_default(&agents))) {
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    const char *outputs[] = {out, removed, stats_path && strcmp(stats_path, "-") != 0 ? stats_path : NULL,
                             v.text[OPTOUT_OPT_POLICY_REPORT], v.text[OPTOUT_OPT_POLICY_CHART]};
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs; i++)
        if (outputs[i] && optout_make_parent_dirs(outputs[i]) != 0) {
            optout_log(LOG_ERR, "cannot create the directory of %s: %s", outputs[i], strerror(errno));
            rc = OPTOUT_EXIT_FAILURE;
            goto done;
        }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[1024];
    verdicts = robots_dir ? optout_verdicts_open_dir(robots_dir, agents, mode, 0, err, sizeof err)
                          : optout_verdicts_open_archive(archive, agents, mode, 0, err, sizeof err);
    if (!verdicts) {
        optout_log(LOG_ERR, "%s", err);
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    cfg.agents = agents;
    cfg.verdicts = verdicts;
    if ((keep_hosts || remove_hosts) &&
        !(policy.overrides = optout_overrides_load(keep_hosts, remove_hosts, cfg.host_key, err, sizeof err))) {
        optout_log(LOG_ERR, "%s", err);
        rc = OPTOUT_EXIT_USAGE;
        goto done;
    }
    if (policy.granularity == OPTOUT_GRANULARITY_DOMAIN &&
        !(policy.domains = optout_domains_from_source(robots_dir ? robots_dir : archive,
                                                      robots_dir ? OPTOUT_ROBOTS_SOURCE_DIR : OPTOUT_ROBOTS_SOURCE_ARCHIVE,
                                                      agents, mode, err, sizeof err))) {
        optout_log(LOG_ERR, "domain table: %s", err);
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    cfg.policy = &policy;
    if (v.text[OPTOUT_OPT_HISTORY] && open_history(&v, agents, mode, cfg.unreachable_disallows, &archive_h, &hist) != 0) {
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    if (hist.judge) cfg.history = &hist;
    optout_stats *stats = malloc(sizeof *stats);
    if (!stats) {
        optout_log(LOG_ERR, "out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    optout_stats_init(stats);
    if (optout_filter_shard(&cfg, in, out, optout_shard_format_of_name(out), removed, stats, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        rc = OPTOUT_EXIT_FAILURE;
    } else if (write_outputs(stats_path, v.text[OPTOUT_OPT_POLICY_REPORT], v.text[OPTOUT_OPT_POLICY_CHART], stats,
                             cfg.history, agents) != 0) {
        rc = OPTOUT_EXIT_FAILURE;
    }
    free(stats);
done:
    optout_history_judge_free(hist.judge);
    free(hist.stats);
    optout_history_archive_close(archive_h);
    optout_overrides_free((optout_overrides *)policy.overrides);
    optout_domains_free((optout_domains *)policy.domains);
    optout_verdicts_free(verdicts);
    optout_agents_free(agents);
    optout_options_free(&v);
    return rc;
}
