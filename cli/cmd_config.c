/* cmd_config.c — `optout config check [FILE]`: validates a configuration file (include/optout/config.h)
 * and prints the effective configuration of every program.
 *
 * Every section is validated by the program it configures, with that program's own option
 * parsing (no second validator): optout-broker, optout-worker and `optout run|fetch|filter|rank`
 * are run with `--config FILE --check-config`, each prints its section (every option with value
 * and origin) or fails with "FILE:LINE: message". [run] hands most of its options to
 * optout-broker, so the broker also checks [run]'s values (--config-section run). Keys of
 * [common] must be an option of at least one program (the option table, options.h).
 * Exit status: 0 valid, 2 invalid, 1 when a program could not be run.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/log.h"
#include "optout/options.h"

static void config_usage(FILE *f) {
    fputs("usage: optout config check [FILE]\n"
          "\n"
          "Validates FILE (default " OPTOUT_CONFIG_DEFAULT ") against the options of every program and\n"
          "prints the effective configuration, section by section: each option with its value and where\n"
          "it comes from (FILE:LINE, or the default). Exit status: 0 valid, 2 invalid (the messages\n"
          "name FILE:LINE), 1 when a program could not be run. The format: deploy/optout.conf.example.\n"
          "\n"
          "arguments:\n"
          "  FILE         the configuration file (default: $OPTOUT_CONFIG, else " OPTOUT_CONFIG_DEFAULT ")\n"
          "  -h, --help   this text\n",
          f);
}

static const struct program {
    const char *section, *binary, *command; /* binary next to this one; command: an optout subcommand */
} PROGRAMS[] = {
    {"broker", "optout-broker", NULL}, {"worker", "optout-worker", NULL}, {"run", "optout", "run"},
    {"fetch", "optout", "fetch"},      {"filter", "optout", "filter"},    {"rank", "optout", "rank"},
    {"history", "optout", "history"},
};
#define PROGRAM_COUNT (sizeof PROGRAMS / sizeof *PROGRAMS)

/* Runs argv; its exit status, or -1. */
static int run_child(char *const argv[]) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        fprintf(stderr, "optout: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int config_check(const char *path) {
    char err[4400];
    optout_config *c = optout_config_load(path, err, sizeof err);
    if (!c) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_USAGE;
    }
    char dir[PATH_MAX], bins[PROGRAM_COUNT][PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        optout_log(LOG_ERR, "cannot find my own executable: %s", strerror(errno));
        optout_config_free(c);
        return OPTOUT_EXIT_FAILURE;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    int rc = OPTOUT_EXIT_OK;

    /* [common]: every key must be some program's option (the option table knows them all) */
    for (size_t e = 0; e < optout_config_count(c); e++) {
        const optout_config_entry *en = optout_config_at(c, e);
        if (strcmp(en->section, "common") != 0) continue;
        const optout_option *o = optout_option_find(en->key, ~0u);
        if (!o || o->hidden || !optout_config_settable(en->key)) {
            optout_log(LOG_ERR, "%s:%u: unknown key '%s' in [common] (no program has --%s)%s", path, en->line,
                       en->key, en->key,
                       strcmp(en->key, "redis-password") == 0 ? ": secrets are never in the configuration, give "
                                                                "redis-password-file = FILE"
                                                              : "");
            rc = OPTOUT_EXIT_USAGE;
            break;
        }
    }
    for (size_t i = 0; i < PROGRAM_COUNT; i++) snprintf(bins[i], sizeof bins[i], "%s/%s", dir, PROGRAMS[i].binary);

    /* every section, by its program */
    for (size_t i = 0; rc != OPTOUT_EXIT_FAILURE && i < PROGRAM_COUNT; i++) {
        char *argv[8];
        int a = 0;
        argv[a++] = bins[i];
        if (PROGRAMS[i].command) argv[a++] = (char *)PROGRAMS[i].command;
        argv[a++] = "--config";
        argv[a++] = (char *)path;
        argv[a++] = "--check-config";
        argv[a] = NULL;
        if (i > 0) putchar('\n');
        int status = run_child(argv);
        if (status == 0 && strcmp(PROGRAMS[i].section, "run") == 0) {
            /* the values optout run hands to the broker, checked by the broker */
            char *bargv[] = {bins[0], "--config", (char *)path, "--config-section", "run", "--check-config", NULL};
            status = run_child(bargv);
        }
        if (status < 0 || status == 127) rc = OPTOUT_EXIT_FAILURE;
        else if (status != 0) rc = OPTOUT_EXIT_USAGE;
    }
    fflush(stdout);
    optout_config_free(c);
    return rc;
}

int cmd_config(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        config_usage(stdout);
        return OPTOUT_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 3) {
        config_usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    return config_check(argc == 3 ? argv[2] : OPTOUT_CONFIG_DEFAULT);
}
