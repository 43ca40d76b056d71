/* fuzz_result.c — libFuzzer target for the broker's result checking (broker/result.c) against a
 * real staging directory.
 *
 * Set-up (once): a staging directory holding what a buggy worker may leave behind, next to a file
 * outside it:
 *   shards/a.jsonl.zst        regular, 5 bytes        removed/a.jsonl.zst      regular, 3 bytes
 *   tags -> shards            a directory link        ranking/map/000001.bin   regular, 0 bytes
 *   ranking/map/000001.survey.tsv   regular, 1 byte
 *   ranking/map/000001.idx -> ../../../outside        a file link leaving the staging directory
 *   ranking/top/0003.tsv      a directory             robots/000002.tsv        a FIFO
 *   robots/000002.bodies.zst  regular, 7 bytes
 *   history-parts/000005/history/{index.tsv,bodies.zst,sources.tsv}   regular, 4, 0 and 2 bytes
 *   history-parts/000006 -> 000005                                    a directory link
 *   sample/shards/a.jsonl.zst regular, 5 bytes        sample/removed -> ../removed   a directory link
 * Input: byte 0 chooses the task: kind = (b & 3) + 1, or when b & 0x10 a history archive part,
 * history (wayback when b & 1; output name "history-parts/000006" when b & 0x20, else
 * "history-parts/000005"); --removed = b & 4, tag mode = b & 8; the survey (a rank map's
 * .survey.tsv too) = b & 0x20 for the other kinds; the sample mode (b >> 6): none, estimates,
 * sample shards (3: none); the other
 * output names "a.jsonl.zst", "ranking/map/000001", "ranking/top/0003.tsv", "robots/000002". The
 * rest is a RESULT frame as a worker would send it (optout_msg_decode; other frames end there).
 *
 * Invariants (abort on violation):
 * - result_check accepts exactly when an independent oracle does: the file list names each file
 *   the task must produce (result_expect_files) once and nothing else, each reached by lstat()
 *   through directories that are no links, a regular file of the declared size; and the
 *   statistics are what the kind sends (result_check_stats)
 * - a refusal says why, in one line of printable text (peer names escaped)
 * - checking changes nothing: the tree, the FIFO and the file outside stay as they were
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_target.h"
#include "optout/msg.h"
#include "optout/util.h"
#include "result.h"

#define AGENTS 14

static char root[64];        /* the temporary directory */
static char staging[128];    /* root/staging */
static int staging_fd = -1;

static void cleanup(void) {
    if (staging_fd >= 0) close(staging_fd);
    if (root[0]) optout_remove_tree(root);
}

static void put(const char *rel, size_t size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", staging, rel);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    for (size_t i = 0; i < size; i++) fputc('x', f);
    CHECK(fclose(f) == 0);
}

static void dir(const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", staging, rel);
    CHECK(mkdir(path, 0700) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/fuzz_result.XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    CHECK(mkdtemp(root) != NULL);
    atexit(cleanup);
    snprintf(staging, sizeof staging, "%s/staging", root);
    char path[512];
    CHECK(mkdir(staging, 0700) == 0);
    snprintf(path, sizeof path, "%s/outside", root);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs("outside\n", f) >= 0 && fclose(f) == 0);
    dir("shards"), dir("removed"), dir("ranking"), dir("ranking/map"), dir("ranking/top"), dir("robots");
    dir("history-parts"), dir("history-parts/000005"), dir("history-parts/000005/history");
    dir("sample"), dir("sample/shards");
    put("history-parts/000005/history/index.tsv", 4);
    put("history-parts/000005/history/bodies.zst", 0);
    put("history-parts/000005/history/sources.tsv", 2);
    put("sample/shards/a.jsonl.zst", 5);
    snprintf(path, sizeof path, "%s/history-parts/000006", staging);
    CHECK(symlink("000005", path) == 0);
    snprintf(path, sizeof path, "%s/sample/removed", staging);
    CHECK(symlink("../removed", path) == 0);
    put("shards/a.jsonl.zst", 5);
    put("removed/a.jsonl.zst", 3);
    put("ranking/map/000001.bin", 0);
    put("ranking/map/000001.survey.tsv", 1);
    put("robots/000002.bodies.zst", 7);
    dir("ranking/top/0003.tsv");
    snprintf(path, sizeof path, "%s/tags", staging);
    CHECK(symlink("shards", path) == 0);
    snprintf(path, sizeof path, "%s/ranking/map/000001.idx", staging);
    CHECK(symlink("../../../outside", path) == 0);
    snprintf(path, sizeof path, "%s/robots/000002.tsv", staging);
    CHECK(mkfifo(path, 0600) == 0);
    staging_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(staging_fd >= 0);
    return 0;
}

/* The oracle for one file: every directory on the way is one (lstat: no link), the file is
 * regular and of `size` bytes. */
static int reachable_regular(const char *name, uint64_t size) {
    char path[OPTOUT_MSG_PATH_MAX + 256];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", staging, name) >= (int)sizeof path) return 0;
    for (char *p = path + strlen(staging) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int ok = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        *p = '/';
        if (!ok) return 0;
    }
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

static int oracle(const struct result_expect *x, const optout_msg *m) {
    if (m->file_count != x->count) return 0;
    for (size_t j = 0; j < x->count; j++) {
        size_t seen = 0;
        for (size_t i = 0; i < m->file_count; i++) seen += strcmp(m->files[i].name, x->names[j]) == 0;
        if (seen != 1) return 0;
    }
    for (size_t i = 0; i < m->file_count; i++)
        if (!reachable_regular(m->files[i].name, m->files[i].size)) return 0;
    return result_check_stats(x->kind, x->agent_count, m->stats, m->stats_len, NULL, NULL) == 0;
}

/* The tree is as set up: checking never changes anything. */
static void tree_intact(void) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/outside", root);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
    snprintf(path, sizeof path, "%s/robots/000002.tsv", staging);
    CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    snprintf(path, sizeof path, "%s/tags", staging);
    CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    snprintf(path, sizeof path, "%s/shards/a.jsonl.zst", staging);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5);
    snprintf(path, sizeof path, "%s/history-parts/000006", staging);
    CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    snprintf(path, sizeof path, "%s/history-parts/000005/history/index.tsv", staging);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (staging_fd < 0) LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1) return 0;
    static const char *const names[] = {"a.jsonl.zst", "ranking/map/000001", "ranking/top/0003.tsv", "robots/000002",
                                        "history-parts/000005", "history-parts/000006"};
    int part = (data[0] & 0x10) != 0; /* a history archive part: HISTORY, or WAYBACK when b & 1 */
    optout_task_kind kind = part ? (data[0] & 1 ? OPTOUT_TASK_WAYBACK : OPTOUT_TASK_HISTORY)
                                 : (optout_task_kind)((data[0] & 3) + 1);
    const char *name = part ? names[4 + ((data[0] & 0x20) != 0)] : names[kind - 1];
    int sample = (data[0] >> 6) == 3 ? RESULT_SAMPLE_NONE : data[0] >> 6;
    int survey = !part && (data[0] & 0x20) != 0; /* a historical run's rank map stages its survey part too */
    struct result_expect x;
    CHECK(result_expect_files(kind, name, (data[0] & 4) != 0, (data[0] & 8) != 0, sample, survey, 0, AGENTS, &x) ==
          0);
    /* only a sample's estimates stage nothing */
    CHECK(x.count <= OPTOUT_MSG_MAX_FILES &&
          (x.count >= 1) != (kind == OPTOUT_TASK_FILTER && sample == RESULT_SAMPLE_ESTIMATES));
    static optout_msg m; /* about 47 KB: not on the stack */
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_decode(data + 1, size - 1, &m, err) != 0) return 0;
    char why[512];
    why[0] = '\0';
    static optout_stats *merged; /* the broker's pending statistics: only ever added to */
    if (!merged) CHECK((merged = calloc(1, sizeof *merged)) != NULL);
    int rc = result_check(staging_fd, &x, &m, merged, why, sizeof why);
    CHECK(rc == 0 || rc == -1);
    CHECK((rc == 0) == oracle(&x, &m));
    if (rc != 0) {
        CHECK(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
        for (const char *p = why; *p; p++) CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
    tree_intact();
    return 0;
}
