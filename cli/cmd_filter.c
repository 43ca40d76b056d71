/* cmd_filter.c — `optout filter`: one shard through the filter, on one machine.
 *
 * optout filter --robots-dir DIR [--mode rfc9309|protego] [--agent NAME]... [--agents-file F]
 *               --in SHARD --out SHARD [--removed SHARD] [--stats FILE|-] [options]
 * The output format follows the output's name (.zst, .gz, else plain); the stats use the schema of
 * report.json (include/optout/stats.h). On any error nothing is published and the exit status is 1.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/filter.h"
#include "optout/blocked.h"
#include "optout/log.h"
#include "optout/policy.h"
#include "optout/util.h"

static void filter_usage(FILE *f) {
    fputs("usage: optout filter (--robots-dir DIR | --archive DIR) --in SHARD --out SHARD [--removed SHARD]\n"
          "                     [--stats FILE|-]\n"
          "                     [--mode rfc9309|protego] [--agent NAME]... [--agents-file FILE]\n"
          "                     [--host-key canonical|netloc] [--unreachable keep|disallow] [--level N]\n"
          "                     [--url-field PATH] [--language-field PATH] [--tokens-field PATH]\n"
          "                     [--dump-field PATH] [--date-field PATH] [--text-field PATH] [--max-line BYTES]\n"
          "                     [--granularity url|host|domain] [--keep-hosts FILE] [--remove-hosts FILE]\n"
          "                     [--sample P]\n"
          "                     [--output shards|tags]\n"
          "\n"
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
          "no id), for optout apply-tags; --removed is not allowed then.\n",
          f);
}

/* Writes the stats to PATH via a temporary name, or to stdout for "-". */
static int write_stats(const char *path, const optout_stats *stats, const optout_agents *agents) {
    if (strcmp(path, "-") == 0) return optout_stats_write_json(stdout, stats, agents, NULL) == 0 && fflush(stdout) == 0 ? 0 : -1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int bad = optout_stats_write_json(f, stats, agents, NULL) != 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0) return -1;
    *out = (size_t)v;
    return 0;
}

int cmd_filter(int argc, char **argv) {
    enum { O_GRANULARITY = 400, O_KEEP_HOSTS, O_REMOVE_HOSTS, O_SAMPLE, O_URL = 256, O_LANG, O_TOKENS, O_DUMP, O_DATE, O_TEXT, O_MAXLINE, O_HOSTKEY, O_UNREACHABLE, O_LEVEL,
           O_ARCHIVE, O_OUTPUT };
    static const struct option options[] = {
        {"robots-dir", required_argument, NULL, 'd'}, {"mode", required_argument, NULL, 'm'},
        {"archive", required_argument, NULL, O_ARCHIVE},
        {"granularity", required_argument, NULL, O_GRANULARITY}, {"keep-hosts", required_argument, NULL, O_KEEP_HOSTS},
        {"remove-hosts", required_argument, NULL, O_REMOVE_HOSTS}, {"sample", required_argument, NULL, O_SAMPLE},
        {"agent", required_argument, NULL, 'a'},      {"agents-file", required_argument, NULL, 'f'},
        {"in", required_argument, NULL, 'i'},         {"out", required_argument, NULL, 'o'},
        {"removed", required_argument, NULL, 'r'},    {"stats", required_argument, NULL, 's'},
        {"url-field", required_argument, NULL, O_URL}, {"language-field", required_argument, NULL, O_LANG},
        {"tokens-field", required_argument, NULL, O_TOKENS}, {"dump-field", required_argument, NULL, O_DUMP},
        {"date-field", required_argument, NULL, O_DATE}, {"text-field", required_argument, NULL, O_TEXT},
        {"max-line", required_argument, NULL, O_MAXLINE}, {"host-key", required_argument, NULL, O_HOSTKEY},
        {"unreachable", required_argument, NULL, O_UNREACHABLE}, {"level", required_argument, NULL, O_LEVEL},
        {"output", required_argument, NULL, O_OUTPUT},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    if (optout_config_args("filter", options, ":h", &argc, &argv) != 0) return OPTOUT_EXIT_USAGE;
    optout_filter_config cfg = {0};
    optout_robots_mode mode = OPTOUT_MODE_RFC9309;
    const char *robots_dir = NULL, *archive = NULL, *in = NULL, *out = NULL, *removed = NULL, *stats_path = NULL;
    optout_agents *agents = NULL;
    optout_verdicts *verdicts = NULL;
    optout_policy policy = {0};
    const char *keep_hosts = NULL, *remove_hosts = NULL;
    int rc = OPTOUT_EXIT_OK, opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'd': robots_dir = optarg; break;
        case O_ARCHIVE: archive = optarg; break;
        case O_GRANULARITY:
            if (optout_granularity_parse(optarg, &policy.granularity) != 0) {
                optout_log(LOG_ERR, "--granularity: expected url, host or domain, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case O_KEEP_HOSTS: keep_hosts = optarg; break;
        case O_REMOVE_HOSTS: remove_hosts = optarg; break;
        case O_SAMPLE:
            if (optout_sample_parse(optarg, &policy.sample_ppm) != 0) {
                optout_log(LOG_ERR, "--sample: expected a fraction P with 0 < P <= 1, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case 'm': rc = cli_parse_mode(optarg, &mode); break;
        case 'a': rc = cli_add_agent(&agents, optarg); break;
        case 'f': rc = cli_add_agents_file(&agents, optarg); break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'r': removed = optarg; break;
        case 's': stats_path = optarg; break;
        case O_URL: cfg.url_field = optarg; break;
        case O_LANG: cfg.language_field = optarg; break;
        case O_TOKENS: cfg.tokens_field = optarg; break;
        case O_DUMP: cfg.dump_field = optarg; break;
        case O_DATE: cfg.date_field = optarg; break;
        case O_TEXT: cfg.text_field = optarg; break;
        case O_MAXLINE:
            if (parse_size(optarg, &cfg.max_line) != 0) {
                optout_log(LOG_ERR, "--max-line: expected a positive number of bytes, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case O_HOSTKEY:
            if (optout_hostkey_mode_parse(optarg, &cfg.host_key) != 0) {
                optout_log(LOG_ERR, "--host-key: expected canonical or netloc, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case O_UNREACHABLE:
            if (strcmp(optarg, "keep") == 0) cfg.unreachable_disallows = 0;
            else if (strcmp(optarg, "disallow") == 0) cfg.unreachable_disallows = 1;
            else {
                optout_log(LOG_ERR, "--unreachable: expected keep or disallow, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case O_LEVEL: {
            char *end;
            long level = strtol(optarg, &end, 10);
            if (*end || end == optarg || level < 1 || level > 19) {
                optout_log(LOG_ERR, "--level: expected 1..19, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            cfg.level = (int)level;
            break;
        }
        case O_OUTPUT:
            if (strcmp(optarg, "shards") == 0 || strcmp(optarg, "tags") == 0) cfg.output_tags = optarg[0] == 't';
            else {
                optout_log(LOG_ERR, "--output: expected shards or tags, got '%s'", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            break;
        case 'h': filter_usage(stdout); goto done;
        default: rc = cli_option_error("filter", opt, argv); break;
        }
        if (rc != OPTOUT_EXIT_OK) goto done;
    }
    optout_config_done();
    if (optind < argc) {
        optout_log(LOG_ERR, "filter: unexpected argument '%s'", argv[optind]);
        rc = OPTOUT_EXIT_USAGE;
        goto done;
    }
    if (!robots_dir == !archive || !in || !out) {
        optout_log(LOG_ERR, "filter: --in, --out and one of --robots-dir and --archive are required");
        filter_usage(stderr);
        rc = OPTOUT_EXIT_USAGE;
        goto done;
    }
    if (strcmp(in, out) == 0 || (removed && (strcmp(removed, out) == 0 || strcmp(removed, in) == 0))) {
        optout_log(LOG_ERR, "filter: --in, --out and --removed must be different files");
        rc = OPTOUT_EXIT_USAGE;
        goto done;
    }
    if (cfg.output_tags && removed) {
        optout_log(LOG_ERR, "filter: --output tags writes no removed shard (the tags say what goes): drop --removed");
        rc = OPTOUT_EXIT_USAGE;
        goto done;
    }
    if (!(agents = cli_agents_or_default(&agents))) {
        rc = OPTOUT_EXIT_FAILURE;
        goto done;
    }
    const char *outputs[] = {out, removed, stats_path && strcmp(stats_path, "-") != 0 ? stats_path : NULL};
    for (size_t i = 0; i < 3; i++)
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
    } else if (stats_path && write_stats(stats_path, stats, agents) != 0) {
        optout_log(LOG_ERR, "writing statistics to %s: %s", stats_path, strerror(errno));
        rc = OPTOUT_EXIT_FAILURE;
    }
    free(stats);
done:
    optout_overrides_free((optout_overrides *)policy.overrides);
    optout_domains_free((optout_domains *)policy.domains);
    optout_verdicts_free(verdicts);
    optout_agents_free(agents);
    return rc;
}
