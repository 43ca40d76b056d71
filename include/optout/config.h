/* config.h — the configuration file of optout-broker, optout-worker and the optout commands.
 *
 * Contract
 * - One file for every program, INI style (deploy/optout.conf.example is a complete example):
 *     # a comment; so is a line starting with ';'
 *     [common]                      # keys here apply to every program that has such an option
 *     mode = protego
 *     [broker]                      # keys here apply to optout-broker only
 *     corpus = /data/a.jsonl.zst    # a list option: one line per value, in order
 *     corpus = "/data/b # c.jsonl"  # quoted: the '#' is part of the value
 *     removed = true                # an option without value: true/false, yes/no, on/off, 1/0
 *   Sections: [common], [broker], [worker], [run], [fetch], [filter], [rank] (the program
 *   optout-broker, optout-worker, or the optout command of that name); a section may appear
 *   several times. A key is exactly the long option name of that program (`corpus` is
 *   --corpus); the value is what the option takes, validated by the program's own option
 *   parsing, so a bad value is the same error as on the command line, with FILE:LINE in front.
 * - Lines: white space around keys, values and section names is ignored; CRLF line ends are
 *   accepted; a UTF-8 BOM at the start is skipped. A value may be quoted: "..." (with \" and \\
 *   escapes) or '...' (literal); an unquoted value ends at a '#' or ';' that follows white
 *   space (an inline comment). Errors ("FILE:LINE: message"): a line longer than
 *   OPTOUT_CONFIG_LINE_MAX bytes, a line without '=', a key before any section, an unknown section,
 *   an empty unquoted value (write "" for an empty string), an unterminated quote, text after a
 *   quoted value or a section header, a NUL byte.
 * - Precedence, lowest first: the program's defaults, [common], the program's section, the
 *   command line. A key given in a higher place replaces every value of that key from the lower
 *   ones, lists included: `--corpus X` on the command line drops every `corpus` of the file, and a
 *   `corpus` in [broker] drops the ones of [common]. A scalar key repeated in one place: the last
 *   wins, as on a command line. An option without value set to false in the program's section
 *   cancels a true of [common]; on the command line it can only be switched on.
 * - Errors: a key of the program's section that is not one of its options (or is --help,
 *   --version, --config), or a bad value, is an error naming FILE:LINE (exit status 2). A key of
 *   [common] that a program does not have is ignored by that program (`optout config check` reports
 *   a [common] key that no program has).
 * - Secrets never go in this file: the Redis password is read from `redis-password-file` (a file
 *   readable by the service only); the file itself holds no secret.
 * - Which file: --config FILE (or --config=FILE) on the command line; else $OPTOUT_CONFIG when set
 *   (empty: no file; `optout run` sets it empty for the broker and workers it starts, since it
 *   passes them everything); else OPTOUT_CONFIG_DEFAULT when it exists; else none.
 * - --check-config (any program): parse the file and the command line as for a run, print the
 *   effective configuration of the program's section (every option: value and origin, FILE:LINE,
 *   "command line" or "default") on stdout and exit 0, or exit 2 with the error.
 *
 * Not thread-safe: optout_config_args() runs in main before any thread, and uses getopt's globals.
 */
#ifndef OPTOUT_CONFIG_H
#define OPTOUT_CONFIG_H

#include <getopt.h>
#include <stddef.h>

#define OPTOUT_CONFIG_DEFAULT "/etc/optout/optout.conf"
#define OPTOUT_CONFIG_LINE_MAX 4096

/* The sections a file may hold, NULL-terminated: "common" then the programs. */
extern const char *const optout_config_sections[];

typedef struct {
    const char *section; /* one of optout_config_sections */
    const char *key;
    const char *value;   /* unquoted, NUL-terminated (may be empty when it was quoted) */
    unsigned line;
} optout_config_entry;

typedef struct optout_config optout_config;

/* Parses a file's text (name is for messages). NULL with "NAME:LINE: message" in err. */
optout_config *optout_config_parse(const char *name, const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses a file. NULL with err ("PATH: strerror" or "PATH:LINE: message"). */
optout_config *optout_config_load(const char *path, char *err, size_t errlen);
/* The file name given to parse/load. */
const char *optout_config_name(const optout_config *c);
/* The entries in file order. */
size_t optout_config_count(const optout_config *c);
const optout_config_entry *optout_config_at(const optout_config *c, size_t i);
void optout_config_free(optout_config *c);
/* 1 when the option named `key` may be set in a file (not help, version, config, ...). */
int optout_config_settable(const char *key);

/* For a program's main, before its getopt_long loop: finds the configuration file (see above),
 * and replaces *argc and *argv by: argv[0], "--KEY=VALUE" (or "--KEY") for every entry of [common] and
 * of `section` that the program has and the command line does not override, then the command line
 * without --config/--check-config. `options` and `shortopts` are the ones the loop uses. While the
 * loop parses an argument that came from the file, optout_log() messages start with "FILE:LINE: ".
 * The new argv lives until the process exits (or the next call). Returns 0, or OPTOUT_EXIT_USAGE
 * after a message. */
int optout_config_args(const char *section, const struct option *options, const char *shortopts, int *argc,
                       char ***argv);
/* Right after the program's getopt_long loop: ends the FILE:LINE prefix; with --check-config prints
 * the effective configuration and exits 0 (the loop has validated every value). */
void optout_config_done(void);

#endif
