/* rundir.h — a run directory: its lock, its inputs and its plan (DESIGN.md "Run directory").
 *
 * Contract
 * - optout_rundir_lock() creates DIR (and parents) when missing and takes an exclusive, non-blocking
 *   flock() on DIR/broker.lock, writing the holder's pid into it. A second broker on the same
 *   directory gets -1 and a message naming the pid that holds it. The lock dies with the process.
 * - optout_inputs_expand() turns --corpus arguments (plain paths or glob patterns, "**" matching any
 *   number of directories, "*", "?" and "[...]" as in glob(7), hidden files excluded) into a sorted,
 *   de-duplicated list of regular files. Each input's output name is its path relative to its
 *   pattern's non-wildcard prefix directory (for a plain path: its base name). A pattern that
 *   matches nothing, or two inputs with one output name, is an error (usage: exit 2).
 * - The plan (DIR/plan) is a text file: a header line "optout-plan 1", one "option NAME VALUE"
 *   line per option that changes results (sorted by name), "config SHA256" (over the option lines),
 *   then one "input SIZE MTIME_NS OUTPUT_NAME PATH" line per input (tab-separated). It is written
 *   atomically (temporary name, fsync, rename, fsync of DIR).
 * - optout_plan_compare(): when DIR/plan exists, its options must equal the new ones; otherwise the
 *   first option that differs is named in err ("--mode was rfc9309, now protego") and the caller
 *   exits 2. Inputs are checked per task (size and mtime as planned, else the task fails).
 * - Errors: -1 with a message naming the path in err.
 */
#ifndef OPTOUT_RUNDIR_H
#define OPTOUT_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_RUNDIR_ERR_LEN 1024

int optout_rundir_lock(const char *dir, int *lock_fd, char err[OPTOUT_RUNDIR_ERR_LEN]);

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
                         char err[OPTOUT_RUNDIR_ERR_LEN]);
void optout_inputs_free(optout_inputs *inputs);

typedef struct {
    const char *name;  /* the option as a user types it, without dashes: "mode", "agents-file" */
    const char *value; /* its effective value ("rfc9309"; for a file: "name sha256") */
} optout_plan_option;

/* SHA-256 (hex) over the option lines. */
void optout_plan_config_hash(const optout_plan_option *options, size_t count, char hex[65]);
int optout_plan_write(const char *dir, const optout_plan_option *options, size_t count,
                      const optout_inputs *inputs, char err[OPTOUT_RUNDIR_ERR_LEN]);
/* 0 when DIR/plan is absent (*exists = 0) or has the same options (*exists = 1); -1 with the first
 * differing option named in err (*differs = 1), or on a read error (*differs = 0). */
int optout_plan_compare(const char *dir, const optout_plan_option *options, size_t count, int *exists,
                        int *differs, char err[OPTOUT_RUNDIR_ERR_LEN]);
/* Reads DIR/plan's inputs back (for a resumed run: the planned list is authoritative). */
int optout_plan_read_inputs(const char *dir, optout_inputs *out, char err[OPTOUT_RUNDIR_ERR_LEN]);

/* SHA-256 of a file, in hex (OpenSSL's libcrypto). 0, or -1 with errno. */
int optout_sha256_file(const char *path, char hex[65]);
void optout_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
