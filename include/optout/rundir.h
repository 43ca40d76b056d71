/* rundir.h — a run directory: its lock, its inputs and its plan (docs/fleet.md).
 *
 * Contract
 * - optout_rundir_lock() creates DIR (and parents) when missing and takes an exclusive, non-blocking
 *   flock() on DIR/broker.lock, writing the holder's pid into it. A second broker on the same
 *   directory gets -1 and a message naming the pid that holds it. The lock dies with the process;
 *   *lock_fd (O_CLOEXEC, -1 on failure) must stay open while the run goes on: closing it unlocks.
 * - optout_inputs_expand() turns --corpus arguments (plain paths or glob patterns, "**" matching any
 *   number of directories, "*", "?" and "[...]" as in glob(7), hidden files excluded) into a sorted,
 *   de-duplicated list of regular files. Each input's output name is its path relative to its
 *   pattern's non-wildcard prefix directory (for a plain path: its base name). A pattern that
 *   matches nothing, or two inputs with one output name, is an error (usage: exit 2).
 *   Details: patterns are matched per '/'-separated component; a backslash quotes the next
 *   character; "**" is special only as a whole component (as the last one it matches every file
 *   below, at any depth) and does not descend into symbolic links to directories (other components
 *   follow links); a name starting with '.' is matched only by a component starting with '.';
 *   paths keep the pattern's spelling (relative stays relative, "./" stays; a pattern's repeated
 *   '/' are collapsed, a plain path is kept as given). Also usage errors: a plain path that is a directory, a pattern ending in
 *   '/', "." or ".." after a wildcard, a file name with a tab or newline, one file matched under two
 *   output names (by two patterns); a directory that exists but cannot be listed is an error too
 *   (never a silent hole). No patterns: an empty list.
 * - The plan (DIR/plan) is a text file: a header line "optout-plan 1", one "option NAME VALUE"
 *   line per option that changes results (sorted by name), "config SHA256" (over the option lines),
 *   then one "input SIZE MTIME_NS OUTPUT_NAME PATH" line per input (tab-separated). It is written
 *   atomically (temporary name, fsync, rename, fsync of DIR).
 *   Exactly: option lines are "option" SP NAME SP VALUE LF (VALUE runs to the end of the line and
 *   may be empty); the config hash is the lower-case hex SHA-256 of the option lines as they appear,
 *   LFs included (no options: the hash of nothing); input lines are "input" TAB SIZE TAB MTIME_NS TAB
 *   OUTPUT_NAME TAB PATH LF, in the order of `inputs`. Nothing is escaped: a NAME with blanks, a
 *   VALUE with a line break, a name given twice, a PATH or OUTPUT_NAME with a tab or newline is
 *   refused. Readers check the header, the config hash and every line's shape (a damaged plan is
 *   an error naming file and line, never half-read).
 * - optout_plan_compare(): when DIR/plan exists, its options must equal the new ones; otherwise the
 *   first option that differs is named in err ("--mode was rfc9309, now protego"; one missing on a
 *   side reads "--level was not given, now 3" / "--level was 3, now not given"; an empty value is
 *   shown as "", an option the user did not type by its label, e.g. "--allow-private (implied by
 *   --connect-to) was no, now yes"), then what to do ("resume with the options it was planned
 *   with ..., or choose a new run directory ..."), and the caller exits 2. Options are compared by name, in any order given, and the
 *   first difference in name order is reported. Inputs are checked per task (size and mtime as
 *   planned, else the task fails).
 * - Errors: -1 with a message naming the path in err (err, errlen: optout_set_err's convention).
 */
#ifndef OPTOUT_RUNDIR_H
#define OPTOUT_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

/* A sufficient size for the err buffers of this module (paths are in its messages). */
#define OPTOUT_RUNDIR_ERR_LEN 1024

int optout_rundir_lock(const char *dir, int *lock_fd, char *err, size_t errlen);

typedef struct {
    char *path;        /* as found on disk (absolute or relative to the working directory) */
    char *output_name; /* relative output name: DIR/shards/<output_name> */
    uint64_t size;
    int64_t mtime_ns;
} optout_input;

typedef struct {
    optout_input *items;
    size_t count;
} optout_inputs;

/* Returns 0, or -1 with err (a usage error: nothing matched, two inputs for one output name). */
int optout_inputs_expand(const char *const *patterns, size_t count, optout_inputs *out,
                         char *err, size_t errlen);
void optout_inputs_free(optout_inputs *inputs);
/* The name an input's output gets under DIR/shards/ (and removed/) from its output name: with
 * output_format 1 (jsonl) a `.parquet` input becomes `.jsonl.zst`; with 2 (parquet) a JSON Lines
 * input becomes `.parquet` (`x.jsonl`, `x.jsonl.gz`, `x.jsonl.zst` and `x.json*` alike: `x.parquet`,
 * any other name gets `.parquet` appended); otherwise a `.zst` or `.parquet` name, or any name with
 * keep_format, stays; `.gz` becomes `.zst`; anything else gets `.zst` appended. The broker's plan
 * and `optout apply-tags --run` both name outputs through it. */
void optout_shards_name(const char *output_name, int keep_format, int output_format, char *out, size_t cap);
/* 0 when the input is still as planned (size and mtime), 1 when it changed or is gone, with `why`
 * saying how ("size 120, planned 100", "mtime 2026-12-07T16:42:06Z, planned 2026-12-01T09:00:00Z",
 * "No such file or directory"). */
int optout_input_changed(const optout_input *in, char *why, size_t cap);

typedef struct {
    const char *name;  /* the option as a user types it, without dashes: "mode", "agents-file" */
    const char *value; /* its effective value ("rfc9309"; for a file: "name sha256") */
    /* how a mismatch names it when the user did not type `--NAME` itself: "the agent list
     * (--agents-file, --agent)", "--allow-private (implied by --connect-to)"; NULL: "--NAME".
     * Never written to the plan (nor hashed); NULL in what optout_plan_read() returns. */
    const char *label;
} optout_plan_option;

/* SHA-256 (hex) over the option lines, sorted by name (as written in the plan). */
void optout_plan_config_hash(const optout_plan_option *options, size_t count, char hex[65]);
int optout_plan_write(const char *dir, const optout_plan_option *options, size_t count,
                      const optout_inputs *inputs, char *err, size_t errlen);
/* 0 when DIR/plan is absent (*exists = 0) or has the same options (*exists = 1); -1 with the first
 * differing option named in err (*differs = 1: by the new side's label when it has one, followed
 * by the remedy: the planned value to resume, or a new run directory), or on a read error
 * (*differs = 0). */
int optout_plan_compare(const char *dir, const optout_plan_option *options, size_t count, int *exists,
                        int *differs, char *err, size_t errlen);
/* DIR/plan as read back: the one reader of the format (checked whole: header, config hash, every
 * line's shape). Options in file order (sorted by name), strings owned by the plan. */
typedef struct {
    optout_plan_option *options;
    size_t option_count;
    char config[65]; /* the config line's SHA-256 (hex), equal to the hash of the option lines */
    optout_inputs inputs;
} optout_plan;

/* 0 with *plan filled (free with optout_plan_free), or -1 with err naming file and line; a missing
 * plan is an error here (ENOENT in the message). */
int optout_plan_read(const char *dir, optout_plan *plan, char *err, size_t errlen);
/* The value of option `name` (without dashes), or NULL when the plan does not record it. */
const char *optout_plan_get(const optout_plan *plan, const char *name);
void optout_plan_free(optout_plan *plan);
/* Only DIR/plan's inputs (for a resumed run: the planned list is authoritative). */
int optout_plan_read_inputs(const char *dir, optout_inputs *out, char *err, size_t errlen);

/* SHA-256 of a file, in lower-case hex (OpenSSL's libcrypto). 0, or -1 with errno. */
int optout_sha256_file(const char *path, char hex[65]);
void optout_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
