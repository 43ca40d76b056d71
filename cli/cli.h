/* cli.h — subcommands of the `optout` command and the option handling they share. Each command
 * takes argv starting at its own name and returns an exit code (0 ok, 1 runtime failure, 2 usage
 * error). */
#ifndef OPTOUT_CLI_H
#define OPTOUT_CLI_H

#include <stddef.h>

#include "optout/agents.h"
#include "optout/robots.h"

int cmd_robots(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_apply_tags(int argc, char **argv);
int cmd_history(int argc, char **argv);

/* --agent NAME: appends to *agents (created on first use). Returns an exit code (0 on success). */
int cli_add_agent(optout_agents **agents, const char *name);
/* --agents-file FILE: appends every agent of the file. Returns an exit code (0 on success). */
int cli_add_agents_file(optout_agents **agents, const char *path);
/* The agent list to use: the one built from options, else the built-in Apertus list. NULL (after a
 * message) when out of memory. Takes ownership of *agents. */
optout_agents *cli_agents_or_default(optout_agents **agents);
/* getopt_long returned ':' (missing value) or '?' (unknown option; opterr must be 0): says so
 * and returns OPTOUT_EXIT_USAGE. */
int cli_option_error(const char *command, int opt, char **argv);
/* A DEALER socket for asking a broker's status: no linger, and frames over the protocol's limit
 * refused by the transport (a status answer is small; a peer is not trusted to keep it so). NULL
 * on failure (errno from ZeroMQ). */
void *cli_status_socket(void *zctx);
/* Asks a broker for its status over a connected DEALER socket: the JSON text into out (the newest
 * answer waiting, when earlier requests are answered too). 0 on an answer within timeout_ms, else
 * -1. */
int cli_broker_status(void *sock, long timeout_ms, char *out, size_t cap);
/* The number after "KEY": in JSON text that optout wrote itself (a status answer, report.json):
 * its first occurrence, 0 when absent or when json is NULL. Not a JSON reader: the keys asked for
 * are unique in those texts. */
unsigned long long cli_json_u64(const char *json, const char *key);
double cli_json_double(const char *json, const char *key);
/* An argument naming a file or directory that must exist (a usage error when it does not: exit
 * 2, as for every command; one of the wrong kind is left to the command, a runtime failure). "-"
 * (standard input) passes when allow_stdin. OPTOUT_EXIT_OK, or OPTOUT_EXIT_USAGE after
 * "COMMAND: WHAT PATH: ...". */
int cli_require_path(const char *command, const char *what, const char *path, int allow_stdin);
/* --mode NAME. Returns an exit code. */
int cli_parse_mode(const char *name, optout_robots_mode *mode);

#endif
