/* cmd_verify.c — `optout verify DIR [--inputs] [--jobs N]`: checks a run directory against its
 * DIR/manifest.json (include/optout/manifest.h, docs/manifest.md): every listed output re-hashed,
 * unlisted outputs, the plan's config hash; with --inputs also every input's size and mtime and,
 * where recorded, its content hash. One line per problem on stdout, a summary on stderr.
 * Exit 0 when everything matches, 1 when anything differs (or the manifest is unusable), 2 usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "optout/log.h"
#include "optout/parse.h"
#include "optout/manifest.h"
#include "optout/version.h"

static void print_problem(const char *kind, const char *path, const char *problem, void *arg) {
    (void)arg;
    printf("MISMATCH\t%s\t%s\t%s\n", kind, path, problem);
    fflush(stdout);
}

int cmd_verify(int argc, char **argv) {
    static const struct option options[] = {{"inputs", no_argument, NULL, 'i'},
                                            {"jobs", required_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int opt, inputs = 0;
    unsigned jobs = 0;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hij:", options, NULL)) != -1) {
        switch (opt) {
        case 'i': inputs = 1; break;
        case 'j': {
            char err[300];
            uint64_t n;
            if (optout_parse_number(optarg, 1, 256, &n, err, sizeof err) != 0) {
                optout_log(LOG_ERR, "verify: --jobs: %s", err);
                return OPTOUT_EXIT_USAGE;
            }
            jobs = (unsigned)n;
            break;
        }
        case 'h':
            puts("usage: optout verify RUN_DIR [--inputs] [--jobs N]\n"
                 "Checks RUN_DIR against RUN_DIR/manifest.json: every output listed there is hashed again\n"
                 "(size and SHA-256), an output file the manifest does not list is reported, and the plan\n"
                 "must still have the recorded configuration hash. --inputs also checks every input: size\n"
                 "and mtime, and the content SHA-256 where the manifest recorded one. --jobs N: hashing\n"
                 "threads (default: the CPUs, at most 8). One line per problem on stdout:\n"
                 "MISMATCH<TAB>output|input|plan<TAB>PATH<TAB>PROBLEM. Exit 0 when everything matches,\n"
                 "1 when anything differs or the manifest cannot be read, 2 on usage errors.\n"
                 "\n"
                 "options:\n"
                 "  --inputs     also check every input (default: off)\n"
                 "  --jobs N     hashing threads, 1..256 (default: the CPUs, at most 8)\n"
                 "  -h, --help   this text");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("verify", opt, argv);
        }
    }
    if (argc - optind != 1) {
        optout_log(LOG_ERR, "verify: usage: optout verify RUN_DIR [--inputs] [--jobs N]");
        return OPTOUT_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    int missing = cli_require_path("verify", "", dir, 0);
    if (missing) return missing;
    optout_verify_summary s;
    char err[4096];
    int rc = optout_manifest_verify(dir, inputs, jobs, print_problem, NULL, &s, err, sizeof err);
    if (rc < 0) {
        optout_log(LOG_ERR, "verify: %s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    char inputs_text[64];
    if (inputs) snprintf(inputs_text, sizeof inputs_text, "%zu inputs", s.inputs);
    else snprintf(inputs_text, sizeof inputs_text, "inputs not checked (--inputs)");
    fprintf(stderr, "optout verify: %s: %s: %zu outputs, %s, %.1f MiB hashed; manifest written by optout %s%s, "
            "config %.12s\n",
            dir, rc == 0 ? "OK" : "FAILED", s.outputs, inputs_text, (double)s.hashed_bytes / 1048576.0, s.version,
            strcmp(s.version, OPTOUT_VERSION) ? " (this is " OPTOUT_VERSION ")" : "", s.config_sha256);
    if (rc != 0) fprintf(stderr, "optout verify: %zu problem%s\n", s.problems, s.problems == 1 ? "" : "s");
    return rc == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
}
