/* cmd_report.c — `optout report DIR`: renders report.md, report.json and loss-by-year.svg again from
 * DIR/report.msgpack; `optout report --diff A B`: compares two runs in Markdown on stdout
 * (report_diff.h does the comparison). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "optout/log.h"
#include "optout/report.h"
#include "optout/report_diff.h"

static int load(const char *dir, optout_report_loaded *l) {
    char err[PATH_MAX + 256];
    if (optout_report_load(dir, l, err, sizeof err) == 0) return 0;
    if (errno == ENOENT)
        optout_log(LOG_ERR, "%s has no report.msgpack: not a run directory, or written by an optout before "
                   "report.msgpack existed (run `optout run` on it again to write one)", dir);
    else optout_log(LOG_ERR, "%s", err);
    return -1;
}

static int diff(const char *dir_a, const char *dir_b, int json) {
    optout_report_loaded a, b;
    if (load(dir_a, &a) != 0) return OPTOUT_EXIT_FAILURE;
    if (load(dir_b, &b) != 0) {
        optout_report_loaded_free(&a);
        return OPTOUT_EXIT_FAILURE;
    }
    char err[PATH_MAX + 256];
    optout_removed_diff sum;
    errno = 0;
    int rc = json ? optout_report_diff_json(stdout, dir_a, &a, dir_b, &b, &sum, err, sizeof err)
                  : optout_report_diff_write(stdout, dir_a, &a, dir_b, &b, err, sizeof err);
    int missing = rc != 0 && json && errno == ENOENT;
    if (rc != 0) optout_log(LOG_ERR, "%s", err);
    else if (json)
        optout_log(LOG_INFO, "documents removed by A only: %llu, by B only: %llu, by both: %llu (distinct keys)",
                   (unsigned long long)sum.only_a, (unsigned long long)sum.only_b, (unsigned long long)sum.both);
    optout_report_loaded_free(&a);
    optout_report_loaded_free(&b);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        optout_log(LOG_ERR, "writing to standard output: %s", strerror(errno));
        return OPTOUT_EXIT_FAILURE;
    }
    return rc == 0 ? OPTOUT_EXIT_OK : missing ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
}

static int rerender(const char *dir) {
    optout_report_loaded l;
    if (load(dir, &l) != 0) return OPTOUT_EXIT_FAILURE;
    char err[PATH_MAX + 256];
    int rc = optout_report_write(dir, l.stats, l.agents, &l.info, err, sizeof err);
    optout_report_loaded_free(&l);
    if (rc != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    optout_log(LOG_INFO, "%s: report.md, report.json and loss-by-year.svg rendered from report.msgpack", dir);
    return OPTOUT_EXIT_OK;
}

int cmd_report(int argc, char **argv) {
    static const struct option options[] = {
        {"diff", no_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt, do_diff = 0, json = 0;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'd': do_diff = 1; break;
        case 'j': json = 1; break;
        case 'h':
            puts("usage: optout report RUN_DIR\n"
                 "       optout report --diff [--json] RUN_DIR_A RUN_DIR_B\n"
                 "The first renders RUN_DIR/report.md, report.json and loss-by-year.svg again from\n"
                 "RUN_DIR/report.msgpack. The second prints a Markdown comparison of two runs: configuration,\n"
                 "documents and tokens removed per class and per agent, and, when both runs kept removed/\n"
                 "shards, the documents removed by one run and not the other. With --json it lists instead\n"
                 "those documents, one JSON object a line ({\"run\", \"shard\", \"id\", \"url\", \"host\"}), for\n"
                 "`optout why --run DIR --id ID`; both runs need removed/ shards or tags/ (exit 2 without).\n"
                 "\n"
                 "options:\n"
                 "  --diff       compare two run directories (default: off, render one)\n"
                 "  --json       with --diff: the documents removed by one run only, as JSON lines\n"
                 "               (default: off, Markdown)\n"
                 "  -h, --help   this text\n"
                 "\n"
                 "Exit status: 0 done, 1 a run directory lacks what is needed, 2 usage error (and --json\n"
                 "when a run has neither removed/ nor tags/).");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("report", opt, argv);
        }
    }
    int rest = argc - optind;
    if (json && !do_diff) {
        optout_log(LOG_ERR, "report: --json goes with --diff (optout report --diff --json A B)");
        return OPTOUT_EXIT_USAGE;
    }
    if (do_diff ? rest != 2 : rest != 1) {
        optout_log(LOG_ERR, "report: usage: optout report RUN_DIR | optout report --diff RUN_DIR_A RUN_DIR_B");
        return OPTOUT_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        int missing = cli_require_path("report", "", argv[i], 0);
        if (missing) return missing;
    }
    return do_diff ? diff(argv[optind], argv[optind + 1], json) : rerender(argv[optind]);
}
