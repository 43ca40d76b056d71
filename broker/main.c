/* main.c — optout-broker: plans a run's tasks, hands them to workers over ZeroMQ, publishes
 * their results exactly once and writes the report (docs/fleet.md). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker.h"
#include "optout/config.h"
#include "metrics.h"
#include "optout/curve.h"
#include "optout/log.h"
#include "optout/policy.h"
#include "optout/rundir.h"
#include "optout/util.h"
#include "optout/version.h"

/* A decimal option value in [min, max]; 0, or -1 after a message. */
static int parse_number(const char *option, const char *text, unsigned long long min, unsigned long long max,
                        unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        optout_log(LOG_ERR, "%s: expected a number in %llu..%llu, got '%s'", option, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static void usage(FILE *f) {
    fputs("usage: optout-broker --dir DIR --corpus PATH|GLOB... [--robots-dir DIR | fetch options]\n"
          "                     [--bind ENDPOINT]... [--mode rfc9309|protego] [--agents-file FILE]\n"
          "                     [--agent NAME]... [--removed] [--host-key canonical|netloc]\n"
          "                     [--unreachable keep|disallow] [--level N] [--keep-format] [--retries N]\n"
          "                     [--output shards|tags]\n"
          "                     [--redis ENDPOINT [--redis-user NAME] [--redis-password-file F]]\n"
          "                     [--granularity url|host|domain] [--keep-hosts FILE] [--remove-hosts FILE]\n"
          "                     [--sample P]\n"
          "                     [--root NAME=PATH]... [--config FILE] [--check-config]\n"
          "fetch options: [--top-en N] [--top-intl N] [--metric tokens|bytes|docs] [--partitions P]\n"
          "               [--hosts FILE] [--fetch-tasks N] [--scheme auto|https|http] [--user-agent S]\n"
          "               [--concurrency N] [--timeout S] [--connect-timeout S] [--fetch-retries N]\n"
          "               [--connect-to HOST:PORT] [--allow-private] [--stop-after rank|fetch]\n"
          "security: [--curve-secret-file FILE --curve-allow DIR]\n"
          "\n"
          "Runs (or resumes) the run in DIR, stage by stage: rank (when --top-* is given, or to list\n"
          "every host when robots.txt must be fetched without --hosts), fetch (without --robots-dir),\n"
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
          f);
}

/* What main() allocates lives until exit: freed there, so that no usage-error return leaks it. */
static const char **option_lists;
static char *redis_password;
static void free_option_lists(void) {
    free(option_lists);
    if (redis_password) explicit_bzero(redis_password, strlen(redis_password));
    free(redis_password);
}

int main(int argc, char **argv) {
    optout_log_init("optout-broker");
    enum { O_DIR = 256, O_BIND, O_CORPUS, O_ROBOTS, O_MODE, O_AGENTS_FILE, O_AGENT, O_REMOVED, O_HOSTKEY,
           O_UNREACHABLE, O_LEVEL, O_KEEP, O_RETRIES, O_VERSION, O_CRASH, O_REDIS, O_REDIS_PW, O_REDIS_USER,
           O_SYNTHETIC,
           O_TOP_EN, O_TOP_INTL, O_METRIC, O_PARTITIONS, O_HOSTS, O_FETCH_TASKS, O_SCHEME, O_USER_AGENT, O_CONNECT_TO,
           O_ALLOW_PRIVATE, O_CONCURRENCY, O_TIMEOUT, O_CONNECT_TIMEOUT, O_FETCH_RETRIES, O_ROOT, O_STOP_AFTER,
           O_CURVE_SECRET, O_CURVE_ALLOW };
    enum { O_METRICS_LISTEN = 512, O_METRICS_LINGER };
    enum { O_GRANULARITY = 700, O_KEEP_HOSTS, O_REMOVE_HOSTS, O_SAMPLE };
    enum { O_OUTPUT = 600 };
    static const struct option options[] = {
        {"dir", required_argument, NULL, O_DIR},         {"bind", required_argument, NULL, O_BIND},
        {"corpus", required_argument, NULL, O_CORPUS},   {"robots-dir", required_argument, NULL, O_ROBOTS},
        {"mode", required_argument, NULL, O_MODE},       {"agents-file", required_argument, NULL, O_AGENTS_FILE},
        {"agent", required_argument, NULL, O_AGENT},     {"removed", no_argument, NULL, O_REMOVED},
        {"host-key", required_argument, NULL, O_HOSTKEY}, {"unreachable", required_argument, NULL, O_UNREACHABLE},
        {"level", required_argument, NULL, O_LEVEL},     {"keep-format", no_argument, NULL, O_KEEP},
        {"retries", required_argument, NULL, O_RETRIES}, {"version", no_argument, NULL, O_VERSION},
        {"redis", required_argument, NULL, O_REDIS},     {"redis-password-file", required_argument, NULL, O_REDIS_PW},
        {"redis-user", required_argument, NULL, O_REDIS_USER},
        {"top-en", required_argument, NULL, O_TOP_EN},   {"top-intl", required_argument, NULL, O_TOP_INTL},
        {"metric", required_argument, NULL, O_METRIC},   {"partitions", required_argument, NULL, O_PARTITIONS},
        {"hosts", required_argument, NULL, O_HOSTS},     {"fetch-tasks", required_argument, NULL, O_FETCH_TASKS},
        {"scheme", required_argument, NULL, O_SCHEME},   {"user-agent", required_argument, NULL, O_USER_AGENT},
        {"connect-to", required_argument, NULL, O_CONNECT_TO},
        {"allow-private", no_argument, NULL, O_ALLOW_PRIVATE},
        {"concurrency", required_argument, NULL, O_CONCURRENCY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT},
        {"fetch-retries", required_argument, NULL, O_FETCH_RETRIES},
        {"root", required_argument, NULL, O_ROOT},
        {"stop-after", required_argument, NULL, O_STOP_AFTER},
        {"curve-secret-file", required_argument, NULL, O_CURVE_SECRET},
        {"curve-allow", required_argument, NULL, O_CURVE_ALLOW},
        {"help", no_argument, NULL, 'h'},
        /* fault injection for the tests: die between journaling `accepted` and publishing */
        {"crash-after-accept", no_argument, NULL, O_CRASH},
        /* benchmarks: N tasks over no files, for simulated workers (bench/broker.sh) */
        {"synthetic-tasks", required_argument, NULL, O_SYNTHETIC},
        {"metrics-listen", required_argument, NULL, O_METRICS_LISTEN},
        {"metrics-linger", required_argument, NULL, O_METRICS_LINGER},
        {"granularity", required_argument, NULL, O_GRANULARITY}, {"keep-hosts", required_argument, NULL, O_KEEP_HOSTS},
        {"remove-hosts", required_argument, NULL, O_REMOVE_HOSTS}, {"sample", required_argument, NULL, O_SAMPLE},
        {"output", required_argument, NULL, O_OUTPUT},
        {NULL, 0, NULL, 0},
    };
    if (optout_config_args("broker", options, ":h", &argc, &argv) != 0) return OPTOUT_EXIT_USAGE;
    struct broker_config cfg = {.retries = 3, .partitions = BROKER_DEFAULT_PARTITIONS,
                                .fetch_tasks = BROKER_DEFAULT_FETCH_TASKS, .fetch = {.retries = -1}};
    unsigned long long number;
    /* the list options, in one block freed at exit (the many usage-error returns need not) */
    option_lists = calloc(5 * (size_t)argc, sizeof *option_lists);
    atexit(free_option_lists);
    const char **corpus = option_lists, **agents = corpus ? corpus + argc : NULL;
    const char **binds = corpus ? agents + argc : NULL, **root_names = corpus ? binds + argc : NULL;
    const char **root_paths = corpus ? root_names + argc : NULL;
    char robots_abs[PATH_MAX], dir_abs[PATH_MAX], hosts_abs[PATH_MAX];
    static char curve_secret[OPTOUT_CURVE_KEY_LEN + 1], curve_public[OPTOUT_CURVE_KEY_LEN + 1], curve_err[600];
    if (!corpus || !agents || !binds || !root_names || !root_paths) return OPTOUT_EXIT_FAILURE;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case O_DIR: cfg.dir = optarg; break;
        case O_BIND: binds[cfg.bind_count++] = optarg; break;
        case O_CORPUS: corpus[cfg.corpus_count++] = optarg; break;
        case O_ROBOTS: cfg.robots_dir = optarg; break;
        case O_MODE:
            if (optout_robots_mode_parse(optarg, &cfg.mode) != 0) {
                optout_log(LOG_ERR, "--mode: unknown mode '%s' (rfc9309 or protego)", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_AGENTS_FILE: cfg.agents_file = optarg; break;
        case O_AGENT: agents[cfg.agent_count++] = optarg; break;
        case O_REMOVED: cfg.with_removed = 1; break;
        case O_HOSTKEY:
            if (optout_hostkey_mode_parse(optarg, &cfg.host_key) != 0) {
                optout_log(LOG_ERR, "--host-key: expected canonical or netloc, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_UNREACHABLE:
            if (strcmp(optarg, "keep") != 0 && strcmp(optarg, "disallow") != 0) {
                optout_log(LOG_ERR, "--unreachable: expected keep or disallow, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.unreachable_disallows = strcmp(optarg, "disallow") == 0;
            break;
        case O_LEVEL:
            cfg.level = atoi(optarg);
            if (cfg.level < 1 || cfg.level > 19) {
                optout_log(LOG_ERR, "--level: expected 1..19, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_KEEP: cfg.keep_format = 1; break;
        case O_GRANULARITY: {
            optout_granularity g;
            if (optout_granularity_parse(optarg, &g) != 0) {
                optout_log(LOG_ERR, "--granularity: expected url, host or domain, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.granularity = (int)g;
            break;
        }
        case O_KEEP_HOSTS: cfg.keep_hosts = optarg; break;
        case O_REMOVE_HOSTS: cfg.remove_hosts = optarg; break;
        case O_SAMPLE:
            if (optout_sample_parse(optarg, &cfg.sample_ppm) != 0) {
                optout_log(LOG_ERR, "--sample: expected a fraction P with 0 < P <= 1, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_OUTPUT:
            if (strcmp(optarg, "shards") != 0 && strcmp(optarg, "tags") != 0) {
                optout_log(LOG_ERR, "--output: expected shards or tags, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.output_tags = optarg[0] == 't';
            break;
        case O_RETRIES:
            cfg.retries = (unsigned)atoi(optarg);
            if (cfg.retries < 1 || cfg.retries > 100) {
                optout_log(LOG_ERR, "--retries: expected 1..100, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_CRASH: cfg.crash_after_accept = 1; break;
        case O_SYNTHETIC: cfg.synthetic_tasks = (size_t)strtoull(optarg, NULL, 10); break;
        case O_REDIS: cfg.redis = optarg; break;
        case O_REDIS_USER: cfg.redis_user = optarg; break;
        case O_REDIS_PW:
            free(redis_password);
            if (!(cfg.redis_password = redis_password = optout_read_secret_file(optarg))) {
                optout_log(LOG_ERR, "--redis-password-file %s: %s", optarg,
                           errno == EINVAL   ? "empty"
                           : errno == EPERM ? "readable by every user (chmod o-rwx)"
                                            : strerror(errno));
                return OPTOUT_EXIT_FAILURE;
            }
            break;
        case O_TOP_EN:
        case O_TOP_INTL:
            if (parse_number(opt == O_TOP_EN ? "--top-en" : "--top-intl", optarg, 1, UINT64_MAX / 2, &number) != 0)
                return OPTOUT_EXIT_USAGE;
            *(opt == O_TOP_EN ? &cfg.top_en : &cfg.top_non_en) = number;
            break;
        case O_METRIC:
            if (optout_rank_metric_parse(optarg, &cfg.metric) != 0) {
                optout_log(LOG_ERR, "--metric: expected tokens, bytes or docs, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_PARTITIONS:
            if (parse_number("--partitions", optarg, 1, OPTOUT_RANK_PARTITIONS_MAX, &number) != 0)
                return OPTOUT_EXIT_USAGE;
            cfg.partitions = (unsigned)number;
            break;
        case O_HOSTS: cfg.hosts_file = optarg; break;
        case O_FETCH_TASKS:
            if (parse_number("--fetch-tasks", optarg, 1, 100000, &number) != 0) return OPTOUT_EXIT_USAGE;
            cfg.fetch_tasks = (unsigned)number;
            break;
        case O_SCHEME:
            if (optout_fetch_scheme_parse(optarg, &cfg.fetch.scheme) != 0) {
                optout_log(LOG_ERR, "--scheme: expected auto, https or http, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            break;
        case O_USER_AGENT: cfg.fetch.user_agent = optarg; break;
        case O_CONNECT_TO:
            if (!strrchr(optarg, ':') || strlen(optarg) >= OPTOUT_MSG_NAME_MAX) {
                optout_log(LOG_ERR, "--connect-to: expected HOST:PORT, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.fetch.connect_to = optarg;
            cfg.fetch.allow_private = 1;
            break;
        case O_ALLOW_PRIVATE: cfg.fetch.allow_private = 1; break;
        case O_STOP_AFTER:
            if (strcmp(optarg, "rank") != 0 && strcmp(optarg, "fetch") != 0) {
                optout_log(LOG_ERR, "--stop-after: expected rank or fetch, got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.stop_after = optarg;
            break;
        case O_METRICS_LISTEN: {
            char host[256], port[16], err[300];
            if (metrics_parse_listen(optarg, host, sizeof host, port, sizeof port, err, sizeof err) != 0) {
                optout_log(LOG_ERR, "--metrics-listen: %s", err);
                return OPTOUT_EXIT_USAGE;
            }
            cfg.metrics_listen = optarg;
            break;
        }
        case O_METRICS_LINGER:
            if (parse_number("--metrics-linger", optarg, 0, 86400, &number) != 0) return OPTOUT_EXIT_USAGE;
            cfg.metrics_linger = (unsigned)number;
            break;
        case O_ROOT: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || eq[1] != '/' || memchr(optarg, '/', (size_t)(eq - optarg)) ||
                (size_t)(eq - optarg) >= OPTOUT_MSG_NAME_MAX) {
                optout_log(LOG_ERR, "--root: expected NAME=/ABSOLUTE/PATH (NAME without '/'), got '%s'", optarg);
                return OPTOUT_EXIT_USAGE;
            }
            *eq = '\0';
            root_names[cfg.root_count] = optarg;
            root_paths[cfg.root_count++] = eq + 1;
            break;
        }
        case O_CURVE_SECRET:
            if (optout_curve_read_secret(optarg, curve_secret, curve_public, curve_err, sizeof curve_err) != 0) {
                optout_log(LOG_ERR, "--curve-secret-file %s", curve_err);
                return OPTOUT_EXIT_FAILURE;
            }
            cfg.curve_secret = curve_secret;
            break;
        case O_CURVE_ALLOW: cfg.curve_allow_dir = optarg; break;
        case O_CONCURRENCY:
            if (parse_number("--concurrency", optarg, 1, 100000, &number) != 0) return OPTOUT_EXIT_USAGE;
            cfg.fetch.concurrency = (unsigned)number;
            break;
        case O_TIMEOUT:
        case O_CONNECT_TIMEOUT:
            if (parse_number(opt == O_TIMEOUT ? "--timeout" : "--connect-timeout", optarg, 1, 3600, &number) != 0)
                return OPTOUT_EXIT_USAGE;
            *(opt == O_TIMEOUT ? &cfg.fetch.timeout_ms : &cfg.fetch.connect_timeout_ms) = (long)number * 1000;
            break;
        case O_FETCH_RETRIES:
            if (parse_number("--fetch-retries", optarg, 0, 20, &number) != 0) return OPTOUT_EXIT_USAGE;
            cfg.fetch.retries = (int)number;
            break;
        case O_VERSION: printf("optout-broker %s\n", OPTOUT_VERSION); return OPTOUT_EXIT_OK;
        case 'h': usage(stdout); return OPTOUT_EXIT_OK;
        case ':': optout_log(LOG_ERR, "option '%s' needs a value", argv[optind - 1]); return OPTOUT_EXIT_USAGE;
        default: optout_log(LOG_ERR, "unknown option '%s' (see --help)", argv[optind - 1]); return OPTOUT_EXIT_USAGE;
        }
    }
    optout_config_done();
    if (cfg.synthetic_tasks && cfg.corpus_count == 0) corpus[cfg.corpus_count++] = "synthetic";
    if (cfg.synthetic_tasks && !cfg.robots_dir) cfg.robots_dir = "/";
    if (optind < argc || !cfg.dir || cfg.corpus_count == 0) {
        optout_log(LOG_ERR, "--dir and --corpus are required");
        usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg.robots_dir && (cfg.top_en || cfg.top_non_en || cfg.hosts_file)) {
        optout_log(LOG_ERR, "--top-en, --top-intl and --hosts choose the hosts to fetch; with --robots-dir nothing "
                            "is fetched");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg.stop_after && (cfg.robots_dir || (cfg.hosts_file && strcmp(cfg.stop_after, "rank") == 0))) {
        optout_log(LOG_ERR, "--stop-after %s: this run has no %s stage (%s)", cfg.stop_after, cfg.stop_after,
                   cfg.robots_dir ? "--robots-dir gives the robots.txt files" : "--hosts gives the hosts");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg.output_tags && cfg.with_removed) {
        optout_log(LOG_ERR, "--output tags writes no shard and no removed shard (the tags say what goes): drop --removed");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg.hosts_file && (cfg.top_en || cfg.top_non_en)) {
        optout_log(LOG_ERR, "--hosts gives the hosts to fetch: --top-en and --top-intl rank them instead");
        return OPTOUT_EXIT_USAGE;
    }
    if (!cfg.curve_secret != !cfg.curve_allow_dir) {
        optout_log(LOG_ERR, "--curve-secret-file and --curve-allow go together (a CURVE broker admits only the "
                            "allow-list's keys)");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg.curve_secret) {
        struct stat st;
        if (!optout_curve_available()) {
            optout_log(LOG_ERR, "--curve-secret-file: this libzmq has no CURVE support");
            return OPTOUT_EXIT_FAILURE;
        }
        errno = 0;
        int is_dir = stat(cfg.curve_allow_dir, &st) == 0 && S_ISDIR(st.st_mode);
        if (!is_dir) {
            optout_log(LOG_ERR, "--curve-allow %s: %s", cfg.curve_allow_dir, errno ? strerror(errno) : "not a directory");
            return OPTOUT_EXIT_FAILURE;
        }
        optout_log(LOG_INFO, "CURVE: the broker's public key is %s", curve_public);
    }
    if (cfg.robots_dir) {
        if (!realpath(cfg.robots_dir, robots_abs)) {
            optout_log(LOG_ERR, "--robots-dir %s: %s", cfg.robots_dir, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        cfg.robots_dir = robots_abs;
    }
    static char keep_abs[PATH_MAX], remove_abs[PATH_MAX];
    if (cfg.keep_hosts || cfg.remove_hosts) { /* checked here (exit 2), hashed for the plan */
        char perr[1024];
        if ((cfg.keep_hosts && !realpath(cfg.keep_hosts, keep_abs)) ||
            (cfg.remove_hosts && !realpath(cfg.remove_hosts, remove_abs))) {
            optout_log(LOG_ERR, "--%s %s: %s", cfg.keep_hosts && !keep_abs[0] ? "keep-hosts" : "remove-hosts",
                       cfg.keep_hosts && !keep_abs[0] ? cfg.keep_hosts : cfg.remove_hosts, strerror(errno));
            return OPTOUT_EXIT_USAGE;
        }
        if (cfg.keep_hosts) cfg.keep_hosts = keep_abs;
        if (cfg.remove_hosts) cfg.remove_hosts = remove_abs;
        optout_overrides *ov = optout_overrides_load(cfg.keep_hosts, cfg.remove_hosts, cfg.host_key, perr, sizeof perr);
        if (!ov) {
            optout_log(LOG_ERR, "%s", perr);
            return OPTOUT_EXIT_USAGE;
        }
        optout_overrides_free(ov);
        size_t kl = 0, rl = 0;
        char *k = cfg.keep_hosts ? optout_read_file(cfg.keep_hosts, (size_t)1 << 30, &kl) : NULL;
        char *r = cfg.remove_hosts ? optout_read_file(cfg.remove_hosts, (size_t)1 << 30, &rl) : NULL;
        char *both = malloc(kl + rl + 64); /* + "keep N\n" and "remove N\n", N up to 20 digits */
        if ((cfg.keep_hosts && !k) || (cfg.remove_hosts && !r) || !both) {
            optout_log(LOG_ERR, "reading the override lists: %s", strerror(errno));
            free(k), free(r), free(both);
            return OPTOUT_EXIT_FAILURE;
        }
        size_t n = (size_t)sprintf(both, "keep %zu\n", kl);
        if (k) memcpy(both + n, k, kl), n += kl;
        n += (size_t)sprintf(both + n, "remove %zu\n", rl);
        if (r) memcpy(both + n, r, rl), n += rl;
        optout_sha256_hex(both, n, cfg.overrides_sha256);
        free(k), free(r), free(both);
    }
    if (cfg.hosts_file) {
        if (!realpath(cfg.hosts_file, hosts_abs)) {
            optout_log(LOG_ERR, "--hosts %s: %s", cfg.hosts_file, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        cfg.hosts_file = hosts_abs;
    }
    if (optout_make_parent_dirs(cfg.dir) != 0 || (mkdir(cfg.dir, 0777) != 0 && errno != EEXIST) ||
        !realpath(cfg.dir, dir_abs)) {
        optout_log(LOG_ERR, "run directory %s: %s", cfg.dir, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    cfg.dir = dir_abs;
    cfg.corpus = corpus;
    cfg.agents = agents;
    cfg.binds = binds;
    cfg.root_names = root_names;
    cfg.root_paths = root_paths;
    return broker_run(&cfg);
}
