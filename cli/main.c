/* main.c — the `optout` command: dispatches to subcommands (one file each, cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "optout/log.h"
#include "optout/version.h"

static void usage(FILE *f) {
    fputs("usage: optout COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  robots check   decide URLs against one robots.txt for a list of agents\n"
          "  rank           rank the hosts of a corpus (top N English / non-English)\n"
          "  fetch          fetch robots.txt for a list of hosts into a robots archive\n"
          "  filter         filter one shard with a robots directory or archive\n"
          "  run            the whole pipeline on this machine: rank, fetch, filter, report\n"
          "  status         ask a running broker for its progress\n"
          "  report         render a run's report again, or compare two runs (--diff)\n"
          "  why            why a run kept or removed a URL or document (from the run directory)\n"
          "  config check   validate a configuration file and print the effective configuration\n"
          "  keygen         write a CURVE key pair for a broker, worker or status client\n"
          "  verify         check a run directory against its manifest.json (outputs, plan, --inputs)\n"
          "  apply-tags     apply the tags of a tag-mode run (--output tags) to its shards\n"
          "  history        build a history archive from Common Crawl's robots.txt captures\n"
          "\n"
          "Options of run, fetch, filter and rank may also come from a configuration file (--config FILE,\n"
          "default /etc/optout/optout.conf; see optout config check).\n"
          "optout --version | optout help COMMAND | optout COMMAND --help\n",
          f);
}

static int run_command(int argc, char **argv) {
    if (strcmp(argv[0], "robots") == 0) return cmd_robots(argc, argv);
    if (strcmp(argv[0], "filter") == 0) return cmd_filter(argc, argv);
    if (strcmp(argv[0], "run") == 0) return cmd_run(argc, argv);
    if (strcmp(argv[0], "status") == 0) return cmd_status(argc, argv);
    if (strcmp(argv[0], "report") == 0) return cmd_report(argc, argv);
    if (strcmp(argv[0], "fetch") == 0) return cmd_fetch(argc, argv);
    if (strcmp(argv[0], "rank") == 0) return cmd_rank(argc, argv);
    if (strcmp(argv[0], "config") == 0) return cmd_config(argc, argv);
    if (strcmp(argv[0], "keygen") == 0) return cmd_keygen(argc, argv);
    if (strcmp(argv[0], "why") == 0) return cmd_why(argc, argv);
    if (strcmp(argv[0], "verify") == 0) return cmd_verify(argc, argv);
    if (strcmp(argv[0], "apply-tags") == 0) return cmd_apply_tags(argc, argv);
    if (strcmp(argv[0], "history") == 0) return cmd_history(argc, argv);
    optout_log(LOG_ERR, "unknown command '%s' (see optout --help)", argv[0]);
    return OPTOUT_EXIT_USAGE;
}

int main(int argc, char **argv) {
    optout_log_init("optout");
    if (argc < 2) {
        usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("optout %s\n", OPTOUT_VERSION);
        return OPTOUT_EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return OPTOUT_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 && argc == 2) {
        usage(stdout);
        return OPTOUT_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) { /* "optout help robots" == "optout robots --help" */
        char *args[] = {argv[2], "--help", NULL};
        return run_command(2, args);
    }
    return run_command(argc - 1, argv + 1);
}
