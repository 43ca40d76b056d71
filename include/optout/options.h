/* options.h — the option table of optout-broker, optout-worker and `optout run|filter|rank|fetch`: one row per
 * option (name, type, range or choices, default, one-line help, the programs that accept it), from
 * which their getopt_long tables, their --help option lists, the defaults `--check-config` prints
 * and the configuration file's keys (config.h) are all made. docs/options.md describes it.
 *
 * Contract
 * - A row serves every program in its `programs` mask with one meaning. Where two programs give
 *   one name two meanings (`--removed`: a flag of the broker, a file of `optout filter`), each
 *   meaning is its own row and its own id.
 * - optout_options_parse() reads the configuration file (config.h) and the command line, checks
 *   every value by its row (numbers and byte counts by parse.h, choices, the row's own check) and
 *   stores it in an optout_option_values by id. Errors name the option and the bad value
 *   ("--level: expected 1..19, got '30'", with FILE:LINE in front when the file gave it); usage
 *   errors (an unknown option, a missing value, a bad value, an unexpected argument, a file or
 *   directory named by an input option that does not exist) return
 *   OPTOUT_EXIT_USAGE, a secret file that cannot be read OPTOUT_EXIT_FAILURE; --help prints the usage, the generated option list and the program's text
 *   on stdout and returns OPTOUT_EXIT_OK; --check-config exits in config.h's way.
 * - A value not given keeps the row's default: `num` holds a numeric default (NUMBER, BYTES, the
 *   index of a CHOICE's default), `text` stays NULL; `given` says whether the user gave it.
 * - What a program checks across options (required ones, exclusions, files that must exist)
 *   stays in the program: the table checks each value alone.
 * Not thread-safe (getopt's globals): call from main before any thread.
 */
#ifndef OPTOUT_OPTIONS_H
#define OPTOUT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The programs whose options the table holds (a row's mask). */
enum {
    OPTOUT_PROG_BROKER = 1u << 0, /* optout-broker */
    OPTOUT_PROG_RUN = 1u << 1,    /* optout run */
    OPTOUT_PROG_FILTER = 1u << 2, /* optout filter */
    OPTOUT_PROG_RANK = 1u << 3,   /* optout rank */
    OPTOUT_PROG_FETCH = 1u << 4,  /* optout fetch */
    OPTOUT_PROG_WORKER = 1u << 5, /* optout-worker */
    OPTOUT_PROG_HISTORY = 1u << 6, /* optout history */
};

typedef enum {
    OPTOUT_OT_FLAG,   /* no value: on when given */
    OPTOUT_OT_STRING, /* a text (path, endpoint...); the last one given wins */
    OPTOUT_OT_LIST,   /* a text that may be repeated: every value kept, in order */
    OPTOUT_OT_NUMBER, /* decimal in [min, max] */
    OPTOUT_OT_BYTES,  /* a byte count with an optional K, M, G, T unit, in [min, max] */
    OPTOUT_OT_CHOICE, /* one of `choices`; num is its index */
} optout_option_type;

typedef enum {
    OPTOUT_OPT_DIR, OPTOUT_OPT_RUN_OUT, OPTOUT_OPT_CORPUS, OPTOUT_OPT_BIND, OPTOUT_OPT_ROBOTS_DIR,
    OPTOUT_OPT_ARCHIVE, OPTOUT_OPT_WORKERS, OPTOUT_OPT_MAX_MEMORY,
    OPTOUT_OPT_MODE, OPTOUT_OPT_AGENTS_FILE, OPTOUT_OPT_AGENT, OPTOUT_OPT_HOST_KEY, OPTOUT_OPT_UNREACHABLE,
    OPTOUT_OPT_REMOVED, OPTOUT_OPT_KEEP_FORMAT, OPTOUT_OPT_LEVEL, OPTOUT_OPT_RETRIES, OPTOUT_OPT_OUTPUT,
    OPTOUT_OPT_GRANULARITY, OPTOUT_OPT_KEEP_HOSTS, OPTOUT_OPT_REMOVE_HOSTS, OPTOUT_OPT_SAMPLE, OPTOUT_OPT_SAMPLE_SHARDS,
    OPTOUT_OPT_ROBOTS_TIME, OPTOUT_OPT_HISTORY, OPTOUT_OPT_HISTORY_MAX_AGE, OPTOUT_OPT_HISTORY_MISSING,
    OPTOUT_OPT_REPORT_CUTOFF, OPTOUT_OPT_POLICY_REPORT, OPTOUT_OPT_POLICY_CHART,
    OPTOUT_OPT_IN, OPTOUT_OPT_OUT, OPTOUT_OPT_REMOVED_SHARD, OPTOUT_OPT_STATS,
    OPTOUT_OPT_URL_FIELD, OPTOUT_OPT_LANGUAGE_FIELD, OPTOUT_OPT_TOKENS_FIELD, OPTOUT_OPT_DUMP_FIELD,
    OPTOUT_OPT_DATE_FIELD, OPTOUT_OPT_TEXT_FIELD, OPTOUT_OPT_MAX_LINE, OPTOUT_OPT_MISSING_URL,
    OPTOUT_OPT_PARQUET_COMPRESSION, OPTOUT_OPT_OUTPUT_FORMAT,
    OPTOUT_OPT_TOP_EN, OPTOUT_OPT_TOP_INTL, OPTOUT_OPT_METRIC, OPTOUT_OPT_PARTITIONS, OPTOUT_OPT_HOSTS,
    OPTOUT_OPT_FETCH_TASKS, OPTOUT_OPT_SCHEME, OPTOUT_OPT_USER_AGENT, OPTOUT_OPT_CONCURRENCY, OPTOUT_OPT_TIMEOUT,
    OPTOUT_OPT_CONNECT_TIMEOUT, OPTOUT_OPT_FETCH_RETRIES, OPTOUT_OPT_CONNECT_TO, OPTOUT_OPT_ALLOW_PRIVATE,
    OPTOUT_OPT_STOP_AFTER,
    OPTOUT_OPT_REDIS, OPTOUT_OPT_REDIS_USER, OPTOUT_OPT_REDIS_PASSWORD_FILE, OPTOUT_OPT_ROOT,
    OPTOUT_OPT_CURVE_SECRET_FILE, OPTOUT_OPT_CURVE_ALLOW, OPTOUT_OPT_METRICS_LISTEN, OPTOUT_OPT_METRICS_LINGER,
    OPTOUT_OPT_RANK_PARTITIONS, OPTOUT_OPT_ALL_HOSTS, OPTOUT_OPT_JOBS, OPTOUT_OPT_MEM_REPORT,
    OPTOUT_OPT_FETCH_CONCURRENCY, OPTOUT_OPT_FETCH_TIMEOUT, OPTOUT_OPT_FETCH_CONNECT_TIMEOUT, OPTOUT_OPT_FETCH_RETRIES_CLI,
    OPTOUT_OPT_QUIET,
    OPTOUT_OPT_CC_ROBOTS, OPTOUT_OPT_CC_CRAWLS, OPTOUT_OPT_CC_BASE, OPTOUT_OPT_HISTORY_JOBS, /* optout history */
    OPTOUT_OPT_WAYBACK, OPTOUT_OPT_WAYBACK_HOSTS_FILE, OPTOUT_OPT_WAYBACK_HOSTS, OPTOUT_OPT_WAYBACK_FROM,
    OPTOUT_OPT_WAYBACK_TO, OPTOUT_OPT_WAYBACK_BASE, OPTOUT_OPT_WAYBACK_RATE, OPTOUT_OPT_WAYBACK_BLOCK_HOSTS,
    OPTOUT_OPT_CONNECT, OPTOUT_OPT_SLOTS, OPTOUT_OPT_DOWNLOAD_SLOTS, OPTOUT_OPT_DOWNLOAD_DIR, OPTOUT_OPT_WORKER_ROOT, OPTOUT_OPT_NAME, OPTOUT_OPT_VERBOSE,
    OPTOUT_OPT_EXIT_WHEN_DONE, OPTOUT_OPT_KEEP_REDIS_KEYS,
    OPTOUT_OPT_CURVE_SERVER_KEY, OPTOUT_OPT_CHECK_MEMORY,
    OPTOUT_OPT_VERSION, OPTOUT_OPT_CRASH_AFTER_ACCEPT, OPTOUT_OPT_SYNTHETIC_TASKS, OPTOUT_OPT_CHECK_ONLY,
    OPTOUT_OPT_COUNT
} optout_option_id;

typedef struct {
    const char *name;          /* the long option and the configuration key */
    optout_option_id id;
    optout_option_type type;
    unsigned programs;         /* OPTOUT_PROG_* mask */
    const char *arg;           /* the value's name in --help (NULL: the choices) */
    const char *def;           /* the default, as --help and --check-config print it (NULL: none) */
    uint64_t min, max;         /* NUMBER, BYTES */
    const char *const *choices; /* CHOICE, NULL-terminated */
    /* an extra check of the value (NULL: none): 0; -1 with err ("expected ..., got '...'"), a usage
     * error; -2 with err, a file the value names that cannot be used (a runtime failure, exit 1) */
    int (*check)(const char *value, char *err, size_t errlen);
    const char *help;          /* one line */
    int hidden;                /* not in --help, not settable in a file (a test's or benchmark's hook) */
    char short_name;           /* also -X (0: none) */
    int several;               /* LIST: the words after one flag are values too, up to the next option
                                * (`--corpus /x/part-*.jsonl` left unquoted: the shell's expansion) */
} optout_option;

/* The rows, and the row of an id (never NULL for an id below OPTOUT_OPT_COUNT). */
extern const optout_option optout_option_table[];
const optout_option *optout_option_row(optout_option_id id);
/* The row named `name` that `programs` accepts (NULL: none). */
const optout_option *optout_option_find(const char *name, unsigned programs);
/* The documented default of `name` in configuration section `section` (NULL: not a table
 * program's option, or none). */
const char *optout_option_default(const char *section, const char *name);

/* A program: its mask, its configuration section, how --help starts and what it says after the
 * option list. */
typedef struct {
    unsigned program;
    const char *section;
    const char *usage;  /* "usage: ..." line(s), each ending in '\n' */
    const char *about;  /* paragraphs after the option list, ending in '\n' */
    const char *version; /* non-NULL: --version prints "NAME VERSION" with this name */
} optout_program_spec;

typedef struct {
    int given[OPTOUT_OPT_COUNT];
    const char *text[OPTOUT_OPT_COUNT];   /* the last value given (NULL: not given) */
    uint64_t num[OPTOUT_OPT_COUNT];       /* NUMBER/BYTES value, CHOICE index, FLAG 1; else the default */
    const char **list[OPTOUT_OPT_COUNT];  /* LIST values in order (NULL when none) */
    size_t count[OPTOUT_OPT_COUNT];
    /* every option given, in command-line order (the file's first): what `optout run` hands on */
    struct optout_option_given {
        optout_option_id id;
        const char *text; /* NULL for a flag */
    } *order;
    size_t order_count;
} optout_option_values;

/* A number of seconds with a fraction ("0.5", "30"), 0 < S <= 86400, rounded up to milliseconds:
 * 0, or -1 with err. */
int optout_option_seconds_ms(const char *text, long *ms, char *err, size_t errlen);

/* Parses argc/argv (argv[0] the program or command name) for `spec`; see the contract. Returns -1
 * when the program goes on with *v, else the exit status to return now (0 after --help or
 * --version, OPTOUT_EXIT_USAGE after a message). v lives until optout_options_free(). */
int optout_options_parse(const optout_program_spec *spec, int argc, char **argv, optout_option_values *v);
void optout_options_free(optout_option_values *v);

/* Prints `spec`'s --help text. */
void optout_options_usage(const optout_program_spec *spec, FILE *f);

#endif
