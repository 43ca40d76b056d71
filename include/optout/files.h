/* files.h — the files a command reads and writes, checked before anything is written: the
 * user's files always survive a typo.
 *
 * Contract
 * - Files are compared by identity, never by spelling: an existing file is (st_dev, st_ino) after
 *   following links (so "in.jsonl", "./in.jsonl", "/abs/in.jsonl", a symbolic link to it and a
 *   hard link of it are one file); an output that does not exist yet is its directory's identity
 *   (links followed) plus its last name. No output may be an input or another output.
 * - An output that exists must be a regular file reached without a link: outputs are published
 *   by writing a temporary file and renaming it over the name, which would replace a symbolic
 *   link (not write through it), turn a FIFO or a device (/dev/stdout, /dev/null) into a regular
 *   file, or fail on a directory. Such a target is refused, with the option and the kind of file
 *   named; a command that can write to standard output says so by accepting "-".
 * - "-" (standard input or output) and NULL paths are skipped. A path whose directory does not
 *   exist yet is accepted (the command creates it) and compared by spelling after removing "./"
 *   and repeated slashes: nothing else can be the same file.
 * - A directory may be given whole (OPTOUT_FILE_INPUT_DIR: read by the command, e.g. a robots
 *   directory or a history archive; OPTOUT_FILE_OUTPUT_DIR: where the command publishes outputs,
 *   e.g. a run directory's shards/): no output may be inside an input directory, and no input
 *   inside an output directory, at any depth. "Inside" is by identity too: the file's nearest
 *   existing directory and its parents (links followed, ".." walked) against the directory's
 *   (st_dev, st_ino); a directory that does not exist (yet) holds nothing.
 * - optout_files_writable() checks, before a long job publishes a first output, that a later
 *   output can be created: a probe file "PATH.probe.PID" is created and removed next to it (when
 *   its directory is still to be created: access W_OK|X_OK on the nearest existing ancestor).
 * Errors fill err (optout_set_err) naming the options and paths; the callers exit 2.
 *
 * Publishing (the one writer of "a file written whole, then seen at once")
 * - optout_publish_bytes() writes a buffer, optout_publish_open() + _commit() / _abort() a stream,
 *   to a temporary ".NAME.tmp.PID.TID" beside PATH (hidden and unique per thread: directory scans
 *   skip it, two writers never share it). The temporary is created anew with O_EXCL | O_NOFOLLOW |
 *   O_CLOEXEC and `mode` (before the umask); one left by a dead writer is unlinked first (a link
 *   there is removed, never followed). Commit writes out, fsyncs and closes the file, renames it
 *   over PATH (a link at PATH is replaced, never written through) and fsyncs PATH's directory, so
 *   that a reader, or a crash, sees the old file or the new one, whole.
 * - On any failure the temporary is removed and PATH is left as it was (until the rename), with
 *   err naming the file and strerror. Abort removes the temporary (a handle never opened, or
 *   already committed or aborted, is nothing to do). Thread-safe (no shared state).
 */
#ifndef OPTOUT_FILES_H
#define OPTOUT_FILES_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* What the command does with a path (optout_file_arg.output). */
enum {
    OPTOUT_FILE_INPUT = 0,      /* a file read */
    OPTOUT_FILE_OUTPUT = 1,     /* a file written */
    OPTOUT_FILE_INPUT_DIR = 2,  /* a directory read: no output inside it */
    OPTOUT_FILE_OUTPUT_DIR = 3, /* a directory written into: no input inside it */
};

typedef struct {
    const char *option; /* "--out", for messages */
    const char *path;   /* NULL or "-": not a file */
    int output;         /* OPTOUT_FILE_* (0 and 1 as before: read, written) */
} optout_file_arg;

/* 0, or -1 with err (see the contract). */
int optout_files_check(const optout_file_arg *files, size_t n, char *err, size_t errlen);

/* 0 when a file can be created where `path` names it, or -1 with err ("--stats PATH: ..."). */
int optout_files_writable(const char *option, const char *path, char *err, size_t errlen);

/* A stream being published (optout_publish_open); zero-initialise it (= {0}) before use. */
typedef struct {
    FILE *f;
    char path[PATH_MAX];
    char tmp[PATH_MAX];
} optout_publish;

/* data[0..len) published whole as path. 0, or -1 with err (see the contract). */
int optout_publish_bytes(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen);
/* The stream to write path's new content to (p->f), or NULL with err; then exactly one of commit
 * (0, or -1 with err; the write errors of the stream are reported there) or abort. */
FILE *optout_publish_open(optout_publish *p, const char *path, mode_t mode, char *err, size_t errlen);
int optout_publish_commit(optout_publish *p, char *err, size_t errlen);
void optout_publish_abort(optout_publish *p);

#endif
