/* cli.h — subcommands of the `optout` command. Each takes argv starting at its own name and
 * returns an exit code (0 ok, 1 runtime failure, 2 usage error). */
#ifndef OPTOUT_CLI_H
#define OPTOUT_CLI_H

int cmd_robots(int argc, char **argv);

#endif
