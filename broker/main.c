/* main.c — optout-broker: plans a run's tasks, hands them to workers over ZeroMQ, publishes
 * their results exactly once and writes the report (docs/fleet.md). */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker.h"
#include "optout/ccsource.h"
#include "optout/config.h"
#include "metrics.h"
#include "optout/curve.h"
#include "optout/hostlist.h"
#include "optout/msg.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/parquet.h"
#include "optout/policy.h"
#include "optout/rundir.h"
#include "optout/util.h"
#include "optout/version.h"
#include "optout/wayback.h"

static const optout_program_spec BROKER_SPEC = {
    .program = OPTOUT_PROG_BROKER,
    .section = "broker",
    .version = "optout-broker",
    .usage = "usage: optout-broker --dir DIR --corpus PATH|GLOB... [--robots-dir DIR | fetch options] [options]\n",
    .about =
        "Runs (or resumes) the run in DIR, stage by stage: rank (when --top-* is given, or to list\n"
        "every host when robots.txt must be fetched without --hosts), fetch (without --robots-dir),\n"
        "history (with --cc-robots or --cc-crawls: past robots.txt captures into DIR/history/),\n"
        "filter, report. Tasks go to optout-worker processes that connect to ipc://DIR/broker.sock\n"
        "or to a --bind ENDPOINT (tcp://ADDRESS:PORT; repeat for several). Paths under a --root PATH\n"
        "go to workers as (NAME, relative path): each node maps NAME to its own mount (its\n"
        "--root NAME=PATH); other paths as (fs, absolute path).\n"
        "--metrics-listen HOST:PORT serves Prometheus metrics at http://HOST:PORT/metrics (no TLS, no\n"
        "authentication: bind loopback or a management network); --metrics-linger S keeps them up S\n"
        "seconds after the run ends (SIGTERM ends that early), so a scraper sees the final values.\n"
        "With --redis (unix:/path or host:port) verdicts are loaded into Redis (from the robots\n"
        "directory or the fetch archive DIR/robots) and workers read them from there.\n"
        "With --curve-secret-file (the broker's Z85 secret key, `optout keygen`) every endpoint, the\n"
        "run directory's ipc socket included, speaks CURVE only, and admits only clients whose public\n"
        "key is a file in the --curve-allow directory (read again at each handshake, at most once a s).\n"
        "--output tags decides and counts every document but rewrites no shard: DIR/tags/<name> lists\n"
        "the removed documents (optout apply-tags applies them later); not with --removed.\n"
        "Every option may also be set in the configuration file (--config FILE, default\n"
        "/etc/optout/optout.conf, sections [common] and [broker]); flags win. --check-config prints the\n"
        "effective configuration and exits.\n"
        "Exit status: 0 complete (or stopped by SIGTERM/SIGINT: rerun to resume), 1 some task failed\n"
        "permanently or runtime error, 2 usage error.\n",
};

/* What main() allocates lives until exit: freed there, so that no error return leaks it. */
static optout_option_values values;
static char *redis_password;
static const char **root_names, **root_paths;
static void free_at_exit(void) {
    optout_options_free(&values);
    if (redis_password) explicit_bzero(redis_password, strlen(redis_password));
    free(redis_password);
    free(root_names);
    free(root_paths);
}

/* What holds across options. -1 to go on, else the exit status. */
static int check_combinations(const struct broker_config *cfg, int curve_secret_given) {
    if (cfg->robots_dir && (cfg->top_en || cfg->top_non_en || cfg->hosts_file)) {
        optout_log(LOG_ERR, "--top-en, --top-intl and --hosts choose the hosts to fetch; with --robots-dir nothing "
                            "is fetched");
        return OPTOUT_EXIT_USAGE;
    }
    int survey = cfg->stop_after && strcmp(cfg->stop_after, "survey") == 0;
    if (survey && !stages_surveying(cfg)) {
        optout_log(LOG_ERR, "--stop-after survey: only a run deciding by robots.txt as it was (--robots-time crawl, "
                            "cutoff:DAY or strictest), or reading captures with --robots-dir, surveys its corpus");
        return OPTOUT_EXIT_USAGE;
    }
    /* the history and Wayback stages are checked below, whatever gives the robots.txt files */
    int captures = cfg->stop_after && (strcmp(cfg->stop_after, "history") == 0 || strcmp(cfg->stop_after, "wayback") == 0);
    if (cfg->stop_after && !survey && !captures &&
        (cfg->robots_dir || (cfg->hosts_file && strcmp(cfg->stop_after, "rank") == 0))) {
        optout_log(LOG_ERR, "--stop-after %s: this run has no %s stage (%s)", cfg->stop_after, cfg->stop_after,
                   cfg->robots_dir ? "--robots-dir gives the robots.txt files" : "--hosts gives the hosts");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->stop_after && strcmp(cfg->stop_after, "history") == 0 && !cfg->cc_robots_count && !cfg->cc_crawls) {
        optout_log(LOG_ERR, "--stop-after history: this run has no history stage (give --cc-robots or --cc-crawls)");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->stop_after && strcmp(cfg->stop_after, "wayback") == 0 && !cfg->wayback) {
        optout_log(LOG_ERR, "--stop-after wayback: this run has no Wayback stage (give --wayback)");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->sample_shards && !cfg->sample_ppm) {
        optout_log(LOG_ERR, "--sample-shards writes a sample's documents: it goes with --sample P");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->sample_ppm && cfg->with_removed && !cfg->sample_shards) {
        optout_log(LOG_ERR, "--sample writes estimates only, no shard: add --sample-shards to write the sampled "
                            "documents (and with --removed the removed ones) into DIR/sample/");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->output_tags && cfg->with_removed) {
        optout_log(LOG_ERR, "--output tags writes no shard and no removed shard (the tags say what goes): drop --removed");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->hosts_file && (cfg->top_en || cfg->top_non_en)) {
        optout_log(LOG_ERR, "--hosts gives the hosts to fetch: --top-en and --top-intl rank them instead");
        return OPTOUT_EXIT_USAGE;
    }
    if (!curve_secret_given != !cfg->curve_allow_dir) {
        optout_log(LOG_ERR, "--curve-secret-file and --curve-allow go together (a CURVE broker admits only the "
                            "allow-list's keys)");
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

/* The secrets, read from their files (never from the command line). -1 to go on, else the exit status. */
static int read_secrets(const optout_option_values *v, struct broker_config *cfg) {
    static char curve_secret[OPTOUT_CURVE_KEY_LEN + 1], curve_public[OPTOUT_CURVE_KEY_LEN + 1];
    const char *pw = v->text[OPTOUT_OPT_REDIS_PASSWORD_FILE], *curve = v->text[OPTOUT_OPT_CURVE_SECRET_FILE];
    if (pw && !(cfg->redis_password = redis_password = optout_read_secret_file(pw))) {
        optout_log(LOG_ERR, "--redis-password-file %s: %s", pw,
                   errno == EINVAL  ? "empty"
                   : errno == EPERM ? "readable by every user (chmod o-rwx)"
                                    : strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    if (!curve) return -1;
    char curve_err[600];
    if (optout_curve_read_secret(curve, curve_secret, curve_public, curve_err, sizeof curve_err) != 0) {
        optout_log(LOG_ERR, "--curve-secret-file %s", curve_err);
        return OPTOUT_EXIT_FAILURE;
    }
    cfg->curve_secret = curve_secret;
    struct stat st;
    if (!optout_curve_available()) {
        optout_log(LOG_ERR, "--curve-secret-file: this libzmq has no CURVE support");
        return OPTOUT_EXIT_FAILURE;
    }
    errno = 0;
    int is_dir = stat(cfg->curve_allow_dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!is_dir) {
        optout_log(LOG_ERR, "--curve-allow %s: %s", cfg->curve_allow_dir, errno ? strerror(errno) : "not a directory");
        return OPTOUT_EXIT_FAILURE;
    }
    optout_log(LOG_INFO, "CURVE: the broker's public key is %s", curve_public);
    return -1;
}

/* Absolute paths for what the plan records, the override lists checked and hashed, the run
 * directory created. -1 to go on, else the exit status. */
static int resolve_paths(struct broker_config *cfg) {
    static char robots_abs[PATH_MAX], dir_abs[PATH_MAX], hosts_abs[PATH_MAX];
    if (cfg->robots_dir) {
        if (!realpath(cfg->robots_dir, robots_abs)) {
            optout_log(LOG_ERR, "--robots-dir %s: %s", cfg->robots_dir, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        cfg->robots_dir = robots_abs;
    }
    static char keep_abs[PATH_MAX], remove_abs[PATH_MAX], history_abs[PATH_MAX];
    if (cfg->history_dir) { /* workers get it absolute, through their roots */
        if (!realpath(cfg->history_dir, history_abs)) {
            optout_log(LOG_ERR, "--history %s: %s", cfg->history_dir, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        cfg->history_dir = history_abs;
    }
    if (cfg->keep_hosts || cfg->remove_hosts) { /* checked here (exit 2), hashed for the plan */
        char perr[1024];
        if ((cfg->keep_hosts && !realpath(cfg->keep_hosts, keep_abs)) ||
            (cfg->remove_hosts && !realpath(cfg->remove_hosts, remove_abs))) {
            optout_log(LOG_ERR, "--%s %s: %s", cfg->keep_hosts && !keep_abs[0] ? "keep-hosts" : "remove-hosts",
                       cfg->keep_hosts && !keep_abs[0] ? cfg->keep_hosts : cfg->remove_hosts, strerror(errno));
            return OPTOUT_EXIT_USAGE;
        }
        if (cfg->keep_hosts) cfg->keep_hosts = keep_abs;
        if (cfg->remove_hosts) cfg->remove_hosts = remove_abs;
        optout_overrides *ov = optout_overrides_load(cfg->keep_hosts, cfg->remove_hosts, cfg->host_key, perr, sizeof perr);
        if (!ov) {
            optout_log(LOG_ERR, "%s", perr);
            return OPTOUT_EXIT_USAGE;
        }
        optout_overrides_free(ov);
        size_t kl = 0, rl = 0;
        char *k = cfg->keep_hosts ? optout_read_file(cfg->keep_hosts, (size_t)1 << 30, &kl) : NULL;
        char *r = cfg->remove_hosts ? optout_read_file(cfg->remove_hosts, (size_t)1 << 30, &rl) : NULL;
        char *both = malloc(kl + rl + 64); /* + "keep N\n" and "remove N\n", N up to 20 digits */
        if ((cfg->keep_hosts && !k) || (cfg->remove_hosts && !r) || !both) {
            optout_log(LOG_ERR, "reading the override lists: %s", strerror(errno));
            free(k), free(r), free(both);
            return OPTOUT_EXIT_FAILURE;
        }
        size_t n = (size_t)sprintf(both, "keep %zu\n", kl);
        if (k) memcpy(both + n, k, kl), n += kl;
        n += (size_t)sprintf(both + n, "remove %zu\n", rl);
        if (r) memcpy(both + n, r, rl), n += rl;
        optout_sha256_hex(both, n, cfg->overrides_sha256);
        free(k), free(r), free(both);
    }
    if (cfg->hosts_file) {
        if (!realpath(cfg->hosts_file, hosts_abs)) {
            optout_log(LOG_ERR, "--hosts %s: %s", cfg->hosts_file, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        cfg->hosts_file = hosts_abs;
        /* read now by the workers' rules (hostlist.h): a bad line is a usage error at start, not a
         * failure of every fetch task */
        char herr[1024];
        optout_hostlist *hosts = optout_hostlist_read(hosts_abs, cfg->host_key, NULL, NULL, herr, sizeof herr);
        if (!hosts) {
            int usage = errno == EINVAL;
            optout_log(LOG_ERR, "--hosts %s", herr);
            return usage ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
        }
        optout_hostlist_free(hosts);
    }
    if (optout_make_parent_dirs(cfg->dir) != 0 || (mkdir(cfg->dir, 0777) != 0 && errno != EEXIST) ||
        !realpath(cfg->dir, dir_abs)) {
        optout_log(LOG_ERR, "run directory %s: %s", cfg->dir, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    cfg->dir = dir_abs;
    return -1;
}

/* The Wayback options (wayback.h) and what holds between them. -1 to go on, else the exit status. */
static int configure_wayback(const optout_option_values *v, struct broker_config *cfg) {
    cfg->wayback = v->given[OPTOUT_OPT_WAYBACK];
    if (!cfg->wayback) {
        static const optout_option_id only_with[] = {OPTOUT_OPT_WAYBACK_HOSTS_FILE, OPTOUT_OPT_WAYBACK_HOSTS,
                                                     OPTOUT_OPT_WAYBACK_FROM, OPTOUT_OPT_WAYBACK_TO,
                                                     OPTOUT_OPT_WAYBACK_BASE, OPTOUT_OPT_WAYBACK_RATE,
                                                     OPTOUT_OPT_WAYBACK_BLOCK_HOSTS};
        for (size_t i = 0; i < sizeof only_with / sizeof *only_with; i++)
            if (v->given[only_with[i]]) {
                optout_log(LOG_ERR, "--%s is read with --wayback only", optout_option_row(only_with[i])->name);
                return OPTOUT_EXIT_USAGE;
            }
        return -1;
    }
    cfg->wayback_hosts_file = v->text[OPTOUT_OPT_WAYBACK_HOSTS_FILE];
    cfg->wayback_hosts = v->num[OPTOUT_OPT_WAYBACK_HOSTS];
    cfg->wayback_from = (int)v->num[OPTOUT_OPT_WAYBACK_FROM];
    cfg->wayback_to = (int)v->num[OPTOUT_OPT_WAYBACK_TO];
    cfg->wayback_base = v->text[OPTOUT_OPT_WAYBACK_BASE] ? v->text[OPTOUT_OPT_WAYBACK_BASE] : OPTOUT_WAYBACK_BASE_DEFAULT;
    cfg->wayback_rate_text = v->text[OPTOUT_OPT_WAYBACK_RATE] ? v->text[OPTOUT_OPT_WAYBACK_RATE] : "1";
    cfg->wayback_block_hosts = (size_t)v->num[OPTOUT_OPT_WAYBACK_BLOCK_HOSTS];
    if (optout_wayback_rate_parse(cfg->wayback_rate_text, &cfg->wayback_rate) != 0) cfg->wayback_rate = 1;
    if (cfg->wayback_from > cfg->wayback_to) {
        optout_log(LOG_ERR, "--wayback-from is after --wayback-to");
        return OPTOUT_EXIT_USAGE;
    }
    if (v->given[OPTOUT_OPT_HISTORY]) {
        optout_log(LOG_ERR, "--wayback adds captures to the run's own archive, and --history DIR names another: "
                            "build the Wayback's captures into DIR with optout history --wayback");
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

/* --wayback-hosts-file: absolute, read by the workers' rules (a bad line is a usage error now),
 * its content hashed for the plan. -1 to go on, else the exit status. */
static int resolve_wayback(struct broker_config *cfg) {
    static char abs[PATH_MAX];
    if (!cfg->wayback_hosts_file) return -1;
    char herr[1024];
    if (!realpath(cfg->wayback_hosts_file, abs)) {
        optout_log(LOG_ERR, "--wayback-hosts-file %s: %s", cfg->wayback_hosts_file, strerror(errno));
        return OPTOUT_EXIT_USAGE;
    }
    cfg->wayback_hosts_file = abs;
    optout_hostlist *hosts = optout_hostlist_read(abs, OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, herr, sizeof herr);
    if (!hosts) {
        optout_log(LOG_ERR, "--wayback-hosts-file %s", herr);
        return errno == EINVAL ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
    }
    optout_hostlist_free(hosts);
    if (optout_sha256_file(abs, cfg->wayback_hosts_sha256) != 0) {
        optout_log(LOG_ERR, "--wayback-hosts-file %s: %s", abs, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    return -1;
}

/* The broker's configuration from the checked option values (parse.h, options.h): every value
 * was checked alone; what holds across options, and what needs a file, is checked here. Returns
 * -1 to go on, else the exit status. */
static int configure(const optout_option_values *v, struct broker_config *cfg) {
    cfg->dir = v->text[OPTOUT_OPT_DIR];
    cfg->binds = v->list[OPTOUT_OPT_BIND], cfg->bind_count = v->count[OPTOUT_OPT_BIND];
    cfg->corpus = v->list[OPTOUT_OPT_CORPUS], cfg->corpus_count = v->count[OPTOUT_OPT_CORPUS];
    cfg->cc_robots = v->list[OPTOUT_OPT_CC_ROBOTS], cfg->cc_robots_count = v->count[OPTOUT_OPT_CC_ROBOTS];
    cfg->cc_crawls = v->text[OPTOUT_OPT_CC_CRAWLS];
    cfg->cc_base = v->given[OPTOUT_OPT_CC_BASE] ? v->text[OPTOUT_OPT_CC_BASE] : OPTOUT_HISTORY_CC_BASE_DEFAULT;
    if (v->given[OPTOUT_OPT_CC_BASE] && !cfg->cc_crawls) {
        optout_log(LOG_ERR, "--cc-base is read with --cc-crawls only");
        return OPTOUT_EXIT_USAGE;
    }
    int wrc = configure_wayback(v, cfg);
    if (wrc >= 0) return wrc;
    cfg->robots_dir = v->text[OPTOUT_OPT_ROBOTS_DIR];
    cfg->agents_file = v->text[OPTOUT_OPT_AGENTS_FILE];
    cfg->agents = v->list[OPTOUT_OPT_AGENT], cfg->agent_count = v->count[OPTOUT_OPT_AGENT];
    cfg->with_removed = v->given[OPTOUT_OPT_REMOVED];
    cfg->keep_format = v->given[OPTOUT_OPT_KEEP_FORMAT];
    cfg->crash_after_accept = v->given[OPTOUT_OPT_CRASH_AFTER_ACCEPT];
    cfg->unreachable_disallows = v->num[OPTOUT_OPT_UNREACHABLE] == 1;
    cfg->output_tags = v->num[OPTOUT_OPT_OUTPUT] == 1;
    cfg->sample_shards = v->given[OPTOUT_OPT_SAMPLE_SHARDS];
    cfg->missing_url_keep = v->num[OPTOUT_OPT_MISSING_URL] == 1;
    cfg->parquet_compression = v->text[OPTOUT_OPT_PARQUET_COMPRESSION];
    cfg->output_format = (int)v->num[OPTOUT_OPT_OUTPUT_FORMAT];
    cfg->granularity = (int)v->num[OPTOUT_OPT_GRANULARITY];
    if (v->given[OPTOUT_OPT_MODE]) (void)optout_robots_mode_parse(v->text[OPTOUT_OPT_MODE], &cfg->mode);
    if (v->given[OPTOUT_OPT_HOST_KEY]) (void)optout_hostkey_mode_parse(v->text[OPTOUT_OPT_HOST_KEY], &cfg->host_key);
    if (v->given[OPTOUT_OPT_HISTORY] && cfg->host_key == OPTOUT_HOSTKEY_NETLOC) {
        optout_log(LOG_ERR, "--host-key netloc with --history: a history archive is keyed by canonical host keys");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->robots_dir && (cfg->cc_robots_count || cfg->cc_crawls || v->given[OPTOUT_OPT_WAYBACK]) &&
        cfg->host_key == OPTOUT_HOSTKEY_NETLOC) {
        optout_log(LOG_ERR, "--host-key netloc with --robots-dir and --cc-robots / --cc-crawls / --wayback: the "
                            "captures are kept for the survey's hosts, and a history archive is keyed by canonical "
                            "host keys");
        return OPTOUT_EXIT_USAGE;
    }
    if (v->given[OPTOUT_OPT_METRIC]) (void)optout_rank_metric_parse(v->text[OPTOUT_OPT_METRIC], &cfg->metric);
    if (v->given[OPTOUT_OPT_SCHEME]) (void)optout_fetch_scheme_parse(v->text[OPTOUT_OPT_SCHEME], &cfg->fetch.scheme);
    if (v->given[OPTOUT_OPT_SAMPLE]) (void)optout_sample_parse(v->text[OPTOUT_OPT_SAMPLE], &cfg->sample_ppm);
    if (v->given[OPTOUT_OPT_ROBOTS_TIME]) (void)optout_robots_time_parse(v->text[OPTOUT_OPT_ROBOTS_TIME], &cfg->robots_time);
    const char *day = v->text[OPTOUT_OPT_REPORT_CUTOFF] ? v->text[OPTOUT_OPT_REPORT_CUTOFF]
                                                          : OPTOUT_HISTORY_REPORT_CUTOFF_DEFAULT;
    (void)optout_history_parse_time(day, strlen(day), &cfg->report_cutoff); /* checked by the option table */
    cfg->history_max_age = (int64_t)v->num[OPTOUT_OPT_HISTORY_MAX_AGE] * 86400;
    cfg->history_missing = (optout_history_missing)v->num[OPTOUT_OPT_HISTORY_MISSING];
    cfg->history_dir = v->text[OPTOUT_OPT_HISTORY];
    cfg->dump_field = v->text[OPTOUT_OPT_DUMP_FIELD];
    cfg->date_field = v->text[OPTOUT_OPT_DATE_FIELD];
    if ((cfg->dump_field && strlen(cfg->dump_field) >= OPTOUT_MSG_NAME_MAX) ||
        (cfg->date_field && strlen(cfg->date_field) >= OPTOUT_MSG_NAME_MAX)) {
        optout_log(LOG_ERR, "--dump-field and --date-field: at most %d bytes", OPTOUT_MSG_NAME_MAX - 1);
        return OPTOUT_EXIT_USAGE;
    }
    int captures = cfg->history_dir || v->given[OPTOUT_OPT_CC_ROBOTS] || cfg->cc_crawls || cfg->wayback;
    if (!captures && (cfg->robots_time.policy != OPTOUT_ROBOTS_TIME_CURRENT || v->given[OPTOUT_OPT_HISTORY_MAX_AGE] ||
                      v->given[OPTOUT_OPT_HISTORY_MISSING] || v->given[OPTOUT_OPT_REPORT_CUTOFF])) {
        optout_log(LOG_ERR, "--robots-time other than current, --history-max-age, --history-missing and "
                            "--report-cutoff need the captures: --cc-robots / --cc-crawls / --wayback, or --history DIR "
                            "(optout history --out DIR)");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->cc_crawls && strcmp(cfg->cc_crawls, "auto") == 0 && cfg->robots_time.policy == OPTOUT_ROBOTS_TIME_CURRENT) {
        optout_log(LOG_ERR, "--cc-crawls auto reads the crawls the survey finds in the documents: the survey runs for "
                            "--robots-time crawl, cutoff:YYYY-MM-DD or strictest (or name the crawls)");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->history_dir && (v->given[OPTOUT_OPT_CC_ROBOTS] || cfg->cc_crawls)) {
        optout_log(LOG_ERR, "--history DIR gives the captures: --cc-robots and --cc-crawls would read them again");
        return OPTOUT_EXIT_USAGE;
    }
    if (captures && cfg->granularity != OPTOUT_GRANULARITY_URL) {
        optout_log(LOG_ERR, "--granularity %s combines only with today's robots.txt for now: robots.txt as it was "
                            "is judged per URL (drop --history / --cc-robots / --cc-crawls)",
                   optout_granularity_name((optout_granularity)cfg->granularity));
        return OPTOUT_EXIT_USAGE;
    }
    if (v->given[OPTOUT_OPT_LEVEL]) cfg->level = (int)v->num[OPTOUT_OPT_LEVEL];
    if (cfg->parquet_compression) { /* --level checked against the Parquet codec */
        int codec, level;
        char perr[200] = "not a codec";
        if (optout_pq_codec_parse(cfg->parquet_compression, &codec) != 0 ||
            optout_pq_codec_level(codec, cfg->level ? &cfg->level : NULL, &level, perr, sizeof perr) != 0) {
            optout_log(LOG_ERR, "--parquet-compression %s: %s", cfg->parquet_compression, perr);
            return OPTOUT_EXIT_USAGE;
        }
    }
    cfg->retries = (unsigned)v->num[OPTOUT_OPT_RETRIES];
    cfg->keep_hosts = v->text[OPTOUT_OPT_KEEP_HOSTS];
    cfg->remove_hosts = v->text[OPTOUT_OPT_REMOVE_HOSTS];
    cfg->synthetic_tasks = (size_t)v->num[OPTOUT_OPT_SYNTHETIC_TASKS];
    cfg->redis = v->text[OPTOUT_OPT_REDIS];
    cfg->redis_user = v->text[OPTOUT_OPT_REDIS_USER];
    if (v->given[OPTOUT_OPT_TOP_EN]) cfg->top_en = v->num[OPTOUT_OPT_TOP_EN];
    if (v->given[OPTOUT_OPT_TOP_INTL]) cfg->top_non_en = v->num[OPTOUT_OPT_TOP_INTL];
    cfg->partitions = (unsigned)v->num[OPTOUT_OPT_PARTITIONS];
    cfg->hosts_file = v->text[OPTOUT_OPT_HOSTS];
    cfg->fetch_tasks = (unsigned)v->num[OPTOUT_OPT_FETCH_TASKS];
    cfg->fetch.user_agent = v->text[OPTOUT_OPT_USER_AGENT];
    cfg->fetch.connect_to = v->text[OPTOUT_OPT_CONNECT_TO];
    cfg->fetch.allow_private = v->given[OPTOUT_OPT_ALLOW_PRIVATE] || v->given[OPTOUT_OPT_CONNECT_TO];
    if (v->given[OPTOUT_OPT_CONCURRENCY]) cfg->fetch.concurrency = (unsigned)v->num[OPTOUT_OPT_CONCURRENCY];
    if (v->given[OPTOUT_OPT_TIMEOUT]) cfg->fetch.timeout_ms = (long)v->num[OPTOUT_OPT_TIMEOUT] * 1000;
    if (v->given[OPTOUT_OPT_CONNECT_TIMEOUT])
        cfg->fetch.connect_timeout_ms = (long)v->num[OPTOUT_OPT_CONNECT_TIMEOUT] * 1000;
    cfg->fetch.retries = v->given[OPTOUT_OPT_FETCH_RETRIES] ? (int)v->num[OPTOUT_OPT_FETCH_RETRIES] : -1;
    cfg->stop_after = v->text[OPTOUT_OPT_STOP_AFTER];
    cfg->metrics_listen = v->text[OPTOUT_OPT_METRICS_LISTEN];
    cfg->metrics_linger = (unsigned)v->num[OPTOUT_OPT_METRICS_LINGER];
    cfg->keep_redis_keys = v->given[OPTOUT_OPT_KEEP_REDIS_KEYS];
    cfg->curve_allow_dir = v->text[OPTOUT_OPT_CURVE_ALLOW];
    /* --root NAME=PATH (checked by the table): split at the '=' */
    size_t roots = v->count[OPTOUT_OPT_ROOT];
    if (roots && (!(root_names = calloc(roots, sizeof *root_names)) || !(root_paths = calloc(roots, sizeof *root_paths)))) {
        optout_log(LOG_ERR, "out of memory");
        return OPTOUT_EXIT_FAILURE;
    }
    for (size_t i = 0; i < roots; i++) {
        char *arg = (char *)v->list[OPTOUT_OPT_ROOT][i], *eq = strchr(arg, '=');
        *eq = '\0';
        root_names[i] = arg;
        root_paths[i] = eq + 1;
    }
    cfg->root_names = root_names, cfg->root_paths = root_paths, cfg->root_count = roots;
    if (cfg->metrics_listen) {
        char host[256], port[16], err[300];
        if (metrics_parse_listen(cfg->metrics_listen, host, sizeof host, port, sizeof port, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "--metrics-listen: %s", err);
            return OPTOUT_EXIT_USAGE;
        }
    }
    if (cfg->synthetic_tasks && cfg->corpus_count == 0) {
        static const char *synthetic[] = {"synthetic"};
        cfg->corpus = synthetic, cfg->corpus_count = 1;
    }
    if (cfg->synthetic_tasks && !cfg->robots_dir) cfg->robots_dir = "/";
    if (!cfg->dir || cfg->corpus_count == 0) {
        optout_log(LOG_ERR, "--dir and --corpus are required");
        optout_options_usage(&BROKER_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv) {
    optout_log_init("optout-broker");
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: host keys use libcurl's URL API */
    atexit(free_at_exit);
    int rc = optout_options_parse(&BROKER_SPEC, argc, argv, &values);
    if (rc >= 0) return rc;
    struct broker_config cfg = {0};
    if ((rc = configure(&values, &cfg)) >= 0 ||
        (rc = check_combinations(&cfg, values.given[OPTOUT_OPT_CURVE_SECRET_FILE])) >= 0)
        return rc;
    if (values.given[OPTOUT_OPT_CHECK_ONLY]) return OPTOUT_EXIT_OK; /* optout run, before it creates anything */
    if ((rc = read_secrets(&values, &cfg)) >= 0 || (rc = resolve_paths(&cfg)) >= 0 || (rc = resolve_wayback(&cfg)) >= 0)
        return rc;
    return broker_run(&cfg);
}
