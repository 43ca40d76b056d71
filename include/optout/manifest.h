/* manifest.h — DIR/manifest.json: what a run was made of and what it produced, so that anyone can
 * later prove that a run directory (or a rerun) holds exactly these results (`optout verify DIR`).
 * docs/manifest.md documents the format field by field.
 *
 * Contract
 * - optout_manifest_write() is called once a run is complete (after the report). It reads DIR/plan
 *   (options, config hash, inputs) and lists:
 *     software   "optout" and OPTOUT_VERSION;
 *     config     the plan's config hash and every option line, in the plan's (name) order;
 *     agents     the agent list's name and SHA-256 as the caller gives them (the report's);
 *     robots     the snapshot: its source (the robots directory, or "fetched") and time range;
 *     inputs     every corpus input of the plan (path, output name, size, mtime in ns, as planned),
 *                the --hosts file and the agents file when there is one, the robots directory
 *                (files, total size, latest mtime, a listing digest); each with a content SHA-256
 *                only when its size (a directory: its total size) is at most input_hash_limit
 *                bytes, else null;
 *     outputs    every output file of DIR, path relative to DIR, size, SHA-256, sorted by path
 *                bytewise: everything under shards/, removed/ and tags/, ranking/NAME.tsv and
 *                ranking/hosts.txt, the files of robots/ (the archive packs), of history/ (the history
 *                archive, whose sources.tsv lists the crawls and files read), report.json, report.md,
 *                report.msgpack, loss-by-year.svg, blocked_hosts.tsv, blocked_domains.tsv (those that exist). Names
 *                starting with '.' (staging, temporary files) are never listed; neither are the
 *                ranking's intermediate files (ranking/map/, ranking/top/) nor the journal, plan,
 *                locks and logs (the plan is covered by the config hash).
 *   A corpus input whose size or mtime differs from the plan is an error (the manifest would
 *   certify content the run did not read). Files are hashed by `jobs` threads. The output depends
 *   only on the files and the arguments (no clock), so rewriting it for an unchanged directory gives
 *   identical bytes. Written atomically (DIR/.manifest.json.tmp.<pid>, fsync, rename, fsync of DIR).
 *   Paths must be valid UTF-8 without control characters (else an error naming them).
 * - optout_manifest_verify() reads DIR/manifest.json and checks, calling `problem` once per finding:
 *   every listed output exists with its size and SHA-256; no output file (by the rule above) is
 *   unlisted; DIR/plan still has the recorded config hash; with check_inputs, every input still has
 *   its size and mtime (a directory: its file count, total size, latest mtime and listing digest)
 *   and, when a SHA-256 was recorded, its content hash.
 * - Errors: -1 with a message in err (no or malformed manifest, unreadable plan when writing).
 */
#ifndef OPTOUT_MANIFEST_H
#define OPTOUT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define OPTOUT_MANIFEST_FILE "manifest.json"
#define OPTOUT_MANIFEST_FORMAT "optout-manifest"
#define OPTOUT_MANIFEST_VERSION 1
/* inputs up to this size get a content hash by default: every robots.txt, hosts and agents file,
 * small shards; not the multi-GB shards of a real corpus (reading them again would double the
 * run's I/O) */
#define OPTOUT_MANIFEST_HASH_LIMIT_DEFAULT ((int64_t)64 << 20)

/* An output whose SHA-256 the caller already knows (the broker: from its journal, where every
 * published file is recorded with its size and SHA-256). */
typedef struct {
    const char *path; /* relative to DIR */
    uint64_t size;
    const char *sha256;
} optout_manifest_known;

typedef struct {
    const char *agents_name;   /* the agent list, as the report names it; NULL: null */
    const char *agents_sha256; /* its SHA-256 (hex); NULL: null */
    const char *agents_file;   /* the agents file, listed as an input (role "agents"); NULL: none */
    int64_t robots_from, robots_to; /* snapshot time range, Unix seconds; 0: unknown (null) */
    int64_t input_hash_limit;  /* < 0: hash no input; 0: OPTOUT_MANIFEST_HASH_LIMIT_DEFAULT;
                                  INT64_MAX: every input */
    unsigned jobs;             /* hashing threads; 0: the online CPUs, at most 8 */
    /* Outputs not read again: a listed output with this path and size takes this SHA-256 (a run's
     * shards may be tens of TB; their hashes are in the journal already). NULL/0: hash them all. */
    const optout_manifest_known *known;
    size_t known_count;
} optout_manifest_info;

typedef struct {
    size_t inputs, outputs;
    uint64_t output_bytes; /* total size of the outputs */
    uint64_t hashed_bytes; /* bytes read to hash (outputs and inputs) */
} optout_manifest_summary;

/* Writes DIR/manifest.json (see above). summary may be NULL. 0, or -1 with err. */
int optout_manifest_write(const char *dir, const optout_manifest_info *info, optout_manifest_summary *summary,
                          char *err, size_t errlen);

/* One finding of verify: kind "output", "input" or "plan"; path as listed (relative to DIR for
 * outputs); problem a sentence ("missing", "SHA-256 differs", "size 12, manifest says 13", ...). */
typedef void (*optout_manifest_problem)(const char *kind, const char *path, const char *problem, void *arg);

typedef struct {
    size_t outputs, inputs;  /* entries checked */
    size_t problems;
    uint64_t hashed_bytes;
    char version[64];        /* the software version that wrote the manifest */
    char config_sha256[65];
} optout_verify_summary;

/* 0: everything matches; 1: problems were found (each reported); -1 with err: no usable manifest. */
int optout_manifest_verify(const char *dir, int check_inputs, unsigned jobs, optout_manifest_problem problem,
                           void *arg, optout_verify_summary *summary, char *err, size_t errlen);

#endif
