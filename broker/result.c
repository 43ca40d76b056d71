/* result.c — what a successful RESULT must hold before the broker accepts it (result.h).
 *
 * The broker trusts a worker to compute, not to be right: a buggy worker (or a stale binary, or a
 * full disk on its node) may name a file it never staged, another task's output, a symbolic link
 * or a directory link leading out of the run directory, or send statistics the broker cannot
 * merge. Every such result is refused here, before anything is journaled, so that it can only
 * ever cost one attempt of its task. The files are reached with openat() from the staging
 * directory's descriptor, one component at a time with O_NOFOLLOW, and looked at with O_PATH
 * (no FIFO or device is ever opened for reading); publication renames them through the same
 * descriptors (commit.c).
 */
#include "result.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/files.h"
#include "optout/log.h"
#include "optout/msgpack_bounded.h"
#include "optout/stats.h"
#include "optout/util.h"

/* The files each task kind must stage, by output mode: the task's output name (as its TASK message
 * carried it) between a prefix and a suffix. A --sample run's filter task stages none of them
 * (estimates only), or, with --sample-shards, each under OPTOUT_MSG_SAMPLE_PREFIX (msg.h): a sample's partial corpus
 * never lands where a full run's outputs go. docs/fleet-protocol.md "Outputs" is the same table;
 * a new format or mode adds rows here and there. */
enum output_mode {
    OUTPUT_ALWAYS,  /* every mode */
    OUTPUT_SHARDS,  /* rewritten shards (not tag mode) */
    OUTPUT_REMOVED, /* rewritten shards with --removed */
    OUTPUT_TAGS,    /* --output tags */
    OUTPUT_SURVEY,  /* a historical run's rank map: the survey's part (survey.h) */
};
static const struct {
    optout_task_kind kind;
    enum output_mode mode;
    const char *prefix, *suffix;
} OUTPUTS[] = {
    {OPTOUT_TASK_FILTER, OUTPUT_SHARDS, "shards/", ""},
    {OPTOUT_TASK_FILTER, OUTPUT_REMOVED, "removed/", ""},
    {OPTOUT_TASK_FILTER, OUTPUT_TAGS, "tags/", ""},
    {OPTOUT_TASK_RANK_MAP, OUTPUT_ALWAYS, "", ".bin"},
    {OPTOUT_TASK_RANK_MAP, OUTPUT_ALWAYS, "", ".idx"},
    {OPTOUT_TASK_RANK_MAP, OUTPUT_SURVEY, "", ".survey.tsv"},
    {OPTOUT_TASK_RANK_REDUCE, OUTPUT_ALWAYS, "", ""},
    {OPTOUT_TASK_FETCH, OUTPUT_ALWAYS, "", ".tsv"},
    {OPTOUT_TASK_FETCH, OUTPUT_ALWAYS, "", ".bodies.zst"},
    {OPTOUT_TASK_HISTORY, OUTPUT_ALWAYS, "", "/history/index.tsv"},
    {OPTOUT_TASK_HISTORY, OUTPUT_ALWAYS, "", "/history/bodies.zst"},
    {OPTOUT_TASK_HISTORY, OUTPUT_ALWAYS, "", "/history/sources.tsv"},
    {OPTOUT_TASK_WAYBACK, OUTPUT_ALWAYS, "", "/history/index.tsv"},
    {OPTOUT_TASK_WAYBACK, OUTPUT_ALWAYS, "", "/history/bodies.zst"},
    {OPTOUT_TASK_WAYBACK, OUTPUT_ALWAYS, "", "/history/sources.tsv"},
    {OPTOUT_TASK_WAYBACK, OUTPUT_ALWAYS, "", "/wayback-block.tsv"}, /* what a rerun goes on from */
};


int result_expect_files(optout_task_kind kind, const char *o, int with_removed, int output_tags, int sample,
                        int survey, int synthetic, size_t agent_count, struct result_expect *x) {
    x->kind = kind;
    x->agent_count = agent_count;
    x->policy = NULL;
    x->count = 0;
    if (synthetic) return 0; /* benchmark tasks read and write nothing */
    if (kind == OPTOUT_TASK_FILTER && sample == RESULT_SAMPLE_ESTIMATES) return 0; /* statistics only */
    const char *in = kind == OPTOUT_TASK_FILTER && sample == RESULT_SAMPLE_SHARDS ? OPTOUT_MSG_SAMPLE_PREFIX : "";
    for (size_t i = 0; i < sizeof OUTPUTS / sizeof *OUTPUTS; i++) {
        enum output_mode m = OUTPUTS[i].mode;
        int applies = m == OUTPUT_ALWAYS || (m == OUTPUT_SHARDS && !output_tags) ||
                      (m == OUTPUT_REMOVED && !output_tags && with_removed) || (m == OUTPUT_TAGS && output_tags) ||
                      (m == OUTPUT_SURVEY && survey);
        if (OUTPUTS[i].kind != kind || !applies) continue;
        if (x->count == OPTOUT_MSG_MAX_FILES) return -1;
        int n = snprintf(x->names[x->count], sizeof x->names[x->count], "%s%s%s%s", in, OUTPUTS[i].prefix, o,
                         OUTPUTS[i].suffix);
        if (n < 0 || (size_t)n >= sizeof x->names[x->count]) return -1;
        x->count++;
    }
    return 0;
}

int result_open_parent(int dir_fd, const char *name, const char **base) {
    int fd = dup(dir_fd);
    if (fd < 0) return -1;
    const char *p = name;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) break;
        char part[OPTOUT_MSG_PATH_MAX];
        size_t n = (size_t)(slash - p);
        if (n == 0 || n >= sizeof part) {
            close(fd);
            errno = EINVAL;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(fd);
        if (next < 0) {
            errno = saved;
            return -1;
        }
        fd = next;
        p = slash + 1;
    }
    if (!*p) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    *base = p;
    return fd;
}

int result_check_file(int parent_fd, const char *base, uint64_t size, char *why, size_t cap) {
    /* O_PATH: a FIFO or a device is not opened; O_NOFOLLOW: a link is the link itself */
    int fd = openat(parent_fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int saved = errno;
        optout_set_err(why, cap, "%s", strerror(saved));
        if (fd >= 0) close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISLNK(st.st_mode)   ? "a symbolic link"
                           : S_ISDIR(st.st_mode) ? "a directory"
                                                 : "a special file";
        optout_set_err(why, cap, "not a regular file (%s)", what);
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)st.st_size != size) {
        optout_set_err(why, cap, "%llu bytes, not the %llu declared", (unsigned long long)st.st_size,
                       (unsigned long long)size);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int result_read_counters(const void *buf, size_t len, size_t n, uint64_t *values) {
    msgpack_unpacked u;
    int ok = optout_msgpack_unpack(buf, len, OPTOUT_MSG_MAX_BYTES, &u, NULL, 0) == 0 &&
             u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == n;
    for (size_t i = 0; ok && i < n; i++) {
        const msgpack_object *o = &u.data.via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) ok = 0;
        else values[i] = o->via.u64;
    }
    msgpack_unpacked_destroy(&u);
    return ok ? 0 : -1;
}

int result_check_stats(optout_task_kind kind, size_t agent_count, const void *stats, size_t len,
                       optout_stats *merge_into, optout_stats_policy *policy) {
    uint64_t v[OPTOUT_FETCH_COUNTERS + OPTOUT_RANK_MAP_COUNTERS + OPTOUT_HISTORY_COUNTERS + OPTOUT_WAYBACK_COUNTERS];
    switch (kind) {
    case OPTOUT_TASK_FILTER: {
        if (merge_into) return optout_stats_decode_add_policy(stats, len, agent_count, merge_into, policy);
        optout_stats *scratch = calloc(1, sizeof *scratch);
        optout_stats_policy *ps = policy ? malloc(sizeof *ps) : NULL;
        if (ps) optout_stats_policy_init(ps, policy->chosen, policy->cutoff, policy->missing, policy->max_age);
        int rc = scratch && (!policy || ps) ? optout_stats_decode_add_policy(stats, len, agent_count, scratch, ps) : -1;
        free(ps);
        free(scratch);
        return rc;
    }
    case OPTOUT_TASK_RANK_MAP: return result_read_counters(stats, len, OPTOUT_RANK_MAP_COUNTERS, v);
    case OPTOUT_TASK_RANK_REDUCE: return result_read_counters(stats, len, OPTOUT_RANK_REDUCE_COUNTERS, v);
    case OPTOUT_TASK_FETCH: return result_read_counters(stats, len, OPTOUT_FETCH_COUNTERS, v);
    case OPTOUT_TASK_HISTORY: return result_read_counters(stats, len, OPTOUT_HISTORY_COUNTERS, v);
    case OPTOUT_TASK_WAYBACK:
        if (result_read_counters(stats, len, OPTOUT_WAYBACK_COUNTERS, v) != 0) return -1;
        /* times are Unix seconds, first before last (0: the block asked nothing) */
        return v[OPTOUT_WAYBACK_FIRST_QUERY] > v[OPTOUT_WAYBACK_LAST_QUERY] ? -1 : 0;
    }
    return -1;
}

/* The file list is exactly x's names: as many, each expected one present once. */
static int check_names(const struct result_expect *x, const optout_msg *m, char *err, size_t errlen) {
    char esc[256];
    if (m->file_count != x->count) {
        optout_set_err(err, errlen, "the result lists %zu files; its task produces %zu", m->file_count, x->count);
        return -1;
    }
    for (size_t i = 0; i < m->file_count; i++) {
        size_t found = x->count;
        for (size_t j = 0; j < x->count && found == x->count; j++)
            if (strcmp(m->files[i].name, x->names[j]) == 0) found = j;
        for (size_t k = 0; k < i && found < x->count; k++)
            if (strcmp(m->files[k].name, m->files[i].name) == 0) {
                optout_set_err(err, errlen, "the result lists %s twice",
                               optout_log_escape_str(m->files[i].name, esc, sizeof esc));
                return -1;
            }
        if (found == x->count) {
            optout_set_err(err, errlen, "the result lists %s, which is not an output of its task (expected %s%s)",
                           optout_log_escape_str(m->files[i].name, esc, sizeof esc), x->names[0],
                           x->count > 1 ? " ..." : "");
            return -1;
        }
    }
    return 0;
}

int result_check(int staging_fd, const struct result_expect *x, const optout_msg *m, optout_stats *merge_into,
                 char *err, size_t errlen) {
    if (check_names(x, m, err, errlen) != 0) return -1;
    for (size_t i = 0; i < m->file_count; i++) {
        const char *base;
        char why[128], esc[256];
        int parent = result_open_parent(staging_fd, m->files[i].name, &base);
        if (parent < 0) {
            optout_set_err(err, errlen, "staged %s cannot be reached without following a link: %s",
                           optout_log_escape_str(m->files[i].name, esc, sizeof esc), strerror(errno));
            return -1;
        }
        int rc = result_check_file(parent, base, m->files[i].size, why, sizeof why);
        close(parent);
        if (rc != 0) {
            optout_set_err(err, errlen, "staged %s: %s", optout_log_escape_str(m->files[i].name, esc, sizeof esc), why);
            return -1;
        }
    }
    if (result_check_stats(x->kind, x->agent_count, m->stats, m->stats_len, merge_into, x->policy) != 0) {
        optout_set_err(err, errlen, "statistics that cannot be merged (%zu bytes)", m->stats_len);
        return -1;
    }
    return 0;
}

int result_inputs_outside_outputs(const char *dir, const optout_inputs *inputs, char *err, size_t errlen) {
    /* the directories the filter's outputs are published in: the table's first path components,
     * and the sample's (under which the table's rows are repeated) */
    enum { MAX_DIRS = sizeof OUTPUTS / sizeof *OUTPUTS + 1 };
    char dirs[MAX_DIRS][OPTOUT_MSG_PATH_MAX];
    size_t nd = 0;
    for (size_t i = 0; i <= sizeof OUTPUTS / sizeof *OUTPUTS; i++) {
        const char *prefix = i < sizeof OUTPUTS / sizeof *OUTPUTS ? OUTPUTS[i].prefix : OPTOUT_MSG_SAMPLE_PREFIX;
        if (i < sizeof OUTPUTS / sizeof *OUTPUTS && OUTPUTS[i].kind != OPTOUT_TASK_FILTER) continue;
        size_t len = strcspn(prefix, "/");
        if (!len || prefix[len] != '/') continue;
        snprintf(dirs[nd], sizeof dirs[nd], "%s/%.*s", dir, (int)len, prefix);
        size_t k = 0;
        while (k < nd && strcmp(dirs[k], dirs[nd]) != 0) k++;
        if (k == nd) nd++;
    }
    optout_file_arg *files = calloc(nd + inputs->count, sizeof *files);
    if (!files) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nd; i++) files[i] = (optout_file_arg){"the run's outputs", dirs[i], OPTOUT_FILE_OUTPUT_DIR};
    for (size_t i = 0; i < inputs->count; i++)
        files[nd + i] = (optout_file_arg){"--corpus input", inputs->items[i].path, OPTOUT_FILE_INPUT};
    int rc = optout_files_check(files, nd + inputs->count, err, errlen);
    free(files);
    return rc;
}
