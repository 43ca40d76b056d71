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
#include "optout/log.h"
#include "optout/util.h"
#include "optout/version.h"

static void usage(FILE *f) {
    fputs("usage: optout-broker --dir DIR --corpus PATH|GLOB... --robots-dir DIR [--bind ENDPOINT]...\n"
          "                     [--mode rfc9309|protego] [--agents-file FILE] [--agent NAME]... [--removed]\n"
          "                     [--host-key canonical|netloc] [--unreachable keep|disallow] [--level N]\n"
          "                     [--keep-format] [--retries N] [--redis ENDPOINT [--redis-password-file F]]\n"
          "\n"
          "Runs (or resumes) the filter stage of the run in DIR: one task per input shard, handed to\n"
          "optout-worker processes that connect to ipc://DIR/broker.sock or to a --bind ENDPOINT\n"
          "(tcp://ADDRESS:PORT; repeat for several).\n"
          "With --redis (unix:/path or host:port) the robots directory is loaded into Redis and\n"
          "workers read verdicts from there.\n"
          "Exit status: 0 complete, 1 some task failed permanently or runtime error, 2 usage error.\n",
          f);
}

int main(int argc, char **argv) {
    optout_log_init("optout-broker");
    enum { O_DIR = 256, O_BIND, O_CORPUS, O_ROBOTS, O_MODE, O_AGENTS_FILE, O_AGENT, O_REMOVED, O_HOSTKEY,
           O_UNREACHABLE, O_LEVEL, O_KEEP, O_RETRIES, O_VERSION, O_CRASH, O_REDIS, O_REDIS_PW, O_SYNTHETIC };
    static const struct option options[] = {
        {"dir", required_argument, NULL, O_DIR},         {"bind", required_argument, NULL, O_BIND},
        {"corpus", required_argument, NULL, O_CORPUS},   {"robots-dir", required_argument, NULL, O_ROBOTS},
        {"mode", required_argument, NULL, O_MODE},       {"agents-file", required_argument, NULL, O_AGENTS_FILE},
        {"agent", required_argument, NULL, O_AGENT},     {"removed", no_argument, NULL, O_REMOVED},
        {"host-key", required_argument, NULL, O_HOSTKEY}, {"unreachable", required_argument, NULL, O_UNREACHABLE},
        {"level", required_argument, NULL, O_LEVEL},     {"keep-format", no_argument, NULL, O_KEEP},
        {"retries", required_argument, NULL, O_RETRIES}, {"version", no_argument, NULL, O_VERSION},
        {"redis", required_argument, NULL, O_REDIS},     {"redis-password-file", required_argument, NULL, O_REDIS_PW},
        {"help", no_argument, NULL, 'h'},
        /* fault injection for the tests: die between journaling `accepted` and publishing */
        {"crash-after-accept", no_argument, NULL, O_CRASH},
        /* benchmarks: N tasks over no files, for simulated workers (bench/broker.sh) */
        {"synthetic-tasks", required_argument, NULL, O_SYNTHETIC},
        {NULL, 0, NULL, 0},
    };
    struct broker_config cfg = {.retries = 3};
    const char **corpus = calloc((size_t)argc, sizeof *corpus);
    const char **agents = calloc((size_t)argc, sizeof *agents);
    const char **binds = calloc((size_t)argc, sizeof *binds);
    char robots_abs[PATH_MAX], dir_abs[PATH_MAX];
    if (!corpus || !agents || !binds) return OPTOUT_EXIT_FAILURE;
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
        case O_REDIS_PW:
            if (!(cfg.redis_password = optout_read_secret_file(optarg))) {
                optout_log(LOG_ERR, "--redis-password-file %s: %s", optarg,
                           errno == EINVAL ? "empty" : strerror(errno));
                return OPTOUT_EXIT_FAILURE;
            }
            break;
        case O_VERSION: printf("optout-broker %s\n", OPTOUT_VERSION); return OPTOUT_EXIT_OK;
        case 'h': usage(stdout); return OPTOUT_EXIT_OK;
        case ':': optout_log(LOG_ERR, "option '%s' needs a value", argv[optind - 1]); return OPTOUT_EXIT_USAGE;
        default: optout_log(LOG_ERR, "unknown option '%s' (see --help)", argv[optind - 1]); return OPTOUT_EXIT_USAGE;
        }
    }
    if (cfg.synthetic_tasks && cfg.corpus_count == 0) corpus[cfg.corpus_count++] = "synthetic";
    if (cfg.synthetic_tasks && !cfg.robots_dir) cfg.robots_dir = "/";
    if (optind < argc || !cfg.dir || cfg.corpus_count == 0) {
        optout_log(LOG_ERR, "--dir and --corpus are required");
        usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (!cfg.robots_dir) {
        optout_log(LOG_ERR, "--robots-dir is required (the fetch stage is not available yet)");
        return OPTOUT_EXIT_USAGE;
    }
    if (!realpath(cfg.robots_dir, robots_abs)) {
        optout_log(LOG_ERR, "--robots-dir %s: %s", cfg.robots_dir, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    cfg.robots_dir = robots_abs;
    if (optout_make_parent_dirs(cfg.dir) != 0 || (mkdir(cfg.dir, 0777) != 0 && errno != EEXIST) ||
        !realpath(cfg.dir, dir_abs)) {
        optout_log(LOG_ERR, "run directory %s: %s", cfg.dir, strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    cfg.dir = dir_abs;
    cfg.corpus = corpus;
    cfg.agents = agents;
    cfg.binds = binds;
    int rc = broker_run(&cfg);
    free(corpus);
    free(agents);
    free(binds);
    return rc;
}
