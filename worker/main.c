/* main.c — optout-worker: runs tasks the broker hands out.
 * The fleet protocol (issue 4) is not built yet: this binary only answers --version/--help so
 * that packaging and units can be written against its final name. */
#include <stdio.h>
#include <string.h>

#include "optout/log.h"
#include "optout/version.h"

int main(int argc, char **argv) {
    optout_log_init("optout-worker");
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("optout-worker %s\n", OPTOUT_VERSION);
        return OPTOUT_EXIT_OK;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: optout-worker --version\n(the worker is not implemented yet: see README)");
        return OPTOUT_EXIT_OK;
    }
    optout_log(LOG_ERR, "the worker is not implemented yet; only --version and --help work");
    return OPTOUT_EXIT_USAGE;
}
