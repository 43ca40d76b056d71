/* test_rundir.c — run directory lock, input expansion, plan and SHA-256 (include/optout/rundir.h).
 *
 * Each test works in a private directory under /tmp (removed at the end). The lock is tested
 * against a forked child holding it; input trees are built here file by file; plan files are
 * checked byte for byte against text written out in the test, with SHA-256 known-answer vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "optout/rundir.h"
#include "optout/util.h"

#include "../support/testdir.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static char cwd_before[4096];

static int setup_dir(void **state) {
    (void)state;
    if (!getcwd(cwd_before, sizeof cwd_before)) return -1;
    return testdir_create("test_rundir");
}

static int remove_dir(void **state) {
    (void)state;
    if (chdir(cwd_before) != 0) return -1;
    return testdir_remove();
}


/* Creates a file (and its directories) under the test directory with `content`. */
static void mkfile(const char *rel, const char *content) {
    const char *path = tpath("%s", rel);
    assert_int_equal(optout_make_parent_dirs(path), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path) {
    size_t len;
    char *s = optout_read_file(path, 1 << 20, &len);
    assert_non_null(s);
    return s;
}

static int dir_entries(const char *dir) {
    int n = testdir_entries(dir);
    assert_true(n >= 0);
    return n;
}

/* Expands patterns; on success checks that the result is "path=>name" lines joined by ' '. */
static int expand(const char *const *patterns, size_t n, const char *want, char *err) {
    optout_inputs in;
    int rc = optout_inputs_expand(patterns, n, &in, err, OPTOUT_RUNDIR_ERR_LEN);
    if (rc != 0) {
        assert_null(in.items);
        assert_int_equal(in.count, 0);
        return rc;
    }
    char got[8192] = "";
    for (size_t k = 0; k < in.count; k++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s=>%s", k ? " " : "", in.items[k].path,
                 in.items[k].output_name);
    }
    if (strcmp(got, want) != 0) fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
    assert_string_equal(got, want);
    optout_inputs_free(&in);
    assert_null(in.items);
    assert_int_equal(in.count, 0);
    return 0;
}

#define EXPAND_OK(want, ...)                                                                       \
    do {                                                                                           \
        const char *pats_[] = {__VA_ARGS__};                                                       \
        char err_[OPTOUT_RUNDIR_ERR_LEN] = "";                                                     \
        if (expand(pats_, sizeof pats_ / sizeof *pats_, want, err_) != 0)                          \
            fail_msg("expansion failed: %s", err_);                                                \
    } while (0)

/* The test tree, under DIR/data (and DIR/other). */
static void make_tree(void) {
    mkfile("data/a.jsonl", "a\n");
    mkfile("data/B.jsonl", "bb\n");
    mkfile("data/b.jsonl.gz", "gz");
    mkfile("data/.hidden.jsonl", "h\n");
    mkfile("data/notes.txt", "n\n");
    mkfile("data/sub/c.jsonl", "c\n");
    mkfile("data/sub/deep/d.jsonl", "d\n");
    mkfile("data/sub/.x/f.jsonl", "f\n");
    mkfile("data/.hdir/e.jsonl", "e\n");
    mkfile("data/[x].jsonl", "x\n");
    mkfile("other/a.jsonl", "other\n");
    mkfile("other/z/c.jsonl", "otherc\n");
    assert_int_equal(mkdir(tpath("data/empty"), 0755), 0);
    assert_int_equal(mkdir(tpath("data/sub.jsonl"), 0755), 0); /* a directory that matches *.jsonl */
}

/* ---- lock ---------------------------------------------------------------------------------- */

/* The lock creates the directory (and parents) and writes the holder's pid. A second broker (a
 * forked child holding the lock) makes it fail naming that pid; once the child is gone, it works. */
static void test_lock(void **state) {
    (void)state;
    const char *dir = tpath("runs/r1");
    int p2c[2], c2p[2];
    assert_int_equal(pipe(p2c), 0);
    assert_int_equal(pipe(c2p), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char err[OPTOUT_RUNDIR_ERR_LEN];
        int fd;
        char ok = optout_rundir_lock(dir, &fd, err, sizeof err) == 0 ? 'y' : 'n';
        if (write(c2p[1], &ok, 1) != 1) _exit(2);
        char c;
        if (read(p2c[0], &c, 1) < 0) _exit(2); /* hold the lock until told (or the pipe closes) */
        _exit(0);
    }
    char ok;
    assert_int_equal(read(c2p[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');

    char *content = slurp(tpath("runs/r1/broker.lock"));
    char want[32];
    snprintf(want, sizeof want, "%ld\n", (long)child);
    assert_string_equal(content, want);
    free(content);

    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    int fd = 12345;
    assert_int_equal(optout_rundir_lock(dir, &fd, err, sizeof err), -1);
    assert_int_equal(fd, -1);
    snprintf(want, sizeof want, "pid %ld", (long)child);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, dir));

    assert_int_equal(write(p2c[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    assert_int_equal(optout_rundir_lock(dir, &fd, err, sizeof err), 0);
    assert_true(fd >= 0);
    content = slurp(tpath("runs/r1/broker.lock"));
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    assert_string_equal(content, want); /* the child's longer or shorter pid is gone */
    free(content);
    /* flock() locks belong to the open file: a second open in this process conflicts too. */
    int fd2;
    assert_int_equal(optout_rundir_lock(dir, &fd2, err, sizeof err), -1);
    snprintf(want, sizeof want, "pid %ld", (long)getpid());
    assert_non_null(strstr(err, want));
    close(fd);
    assert_int_equal(optout_rundir_lock(dir, &fd2, err, sizeof err), 0);
    close(fd2);
    close(p2c[0]), close(p2c[1]), close(c2p[0]), close(c2p[1]);
}

/* A directory that cannot be created: the message names it. */
static void test_lock_error(void **state) {
    (void)state;
    mkfile("plainfile", "x");
    const char *dir = tpath("plainfile/run");
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    int fd;
    assert_int_equal(optout_rundir_lock(dir, &fd, err, sizeof err), -1);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err, dir));
}

/* ---- inputs -------------------------------------------------------------------------------- */

static void test_expand_star(void **state) {
    (void)state;
    make_tree();
    char want[4096];
    const char *d = tpath("data");
    /* hidden files excluded, directories matching the pattern excluded, bytewise order */
    snprintf(want, sizeof want, "%s/B.jsonl=>B.jsonl %s/[x].jsonl=>[x].jsonl %s/a.jsonl=>a.jsonl", d,
             d, d);
    EXPAND_OK(want, tpath("data/*.jsonl"));
    /* a pattern component starting with '.' matches hidden names */
    snprintf(want, sizeof want, "%s/.hidden.jsonl=>.hidden.jsonl", d);
    EXPAND_OK(want, tpath("data/.*.jsonl"));
    /* ?, [...], and a wildcard in a directory component: names relative to the prefix */
    snprintf(want, sizeof want, "%s/B.jsonl=>B.jsonl %s/a.jsonl=>a.jsonl %s/sub/c.jsonl=>sub/c.jsonl",
             d, d, d);
    EXPAND_OK(want, tpath("data/?.jsonl"), tpath("data/s[tu]b/[a-c].jsonl"));
    /* a backslash quotes a wildcard */
    snprintf(want, sizeof want, "%s/[x].jsonl=>[x].jsonl", d);
    EXPAND_OK(want, tpath("data/\\[x\\].json*"));
    /* a wildcard in the first component below the test directory: names include "data/" */
    snprintf(want, sizeof want, "%s/data/a.jsonl=>data/a.jsonl %s/other/a.jsonl=>other/a.jsonl",
             tmpdir, tmpdir);
    EXPAND_OK(want, tpath("*/a.jsonl"));
}

static void test_expand_globstar(void **state) {
    (void)state;
    make_tree();
    char want[4096];
    const char *d = tpath("data");
    /* "**" matches zero or more directories, not hidden ones */
    snprintf(want, sizeof want,
             "%s/B.jsonl=>B.jsonl %s/[x].jsonl=>[x].jsonl %s/a.jsonl=>a.jsonl "
             "%s/sub/c.jsonl=>sub/c.jsonl %s/sub/deep/d.jsonl=>sub/deep/d.jsonl",
             d, d, d, d, d);
    EXPAND_OK(want, tpath("data/**/*.jsonl"));
    /* "**" last: every non-hidden regular file below */
    snprintf(want, sizeof want,
             "%s/B.jsonl=>B.jsonl %s/[x].jsonl=>[x].jsonl %s/a.jsonl=>a.jsonl "
             "%s/b.jsonl.gz=>b.jsonl.gz %s/notes.txt=>notes.txt "
             "%s/sub/c.jsonl=>sub/c.jsonl %s/sub/deep/d.jsonl=>sub/deep/d.jsonl",
             d, d, d, d, d, d, d);
    EXPAND_OK(want, tpath("data/**"));
    /* "**" in the middle, then literal components; "**" repeated finds each file once */
    snprintf(want, sizeof want, "%s/sub/deep/d.jsonl=>sub/deep/d.jsonl", d);
    EXPAND_OK(want, tpath("data/**/deep/d.jsonl"));
    EXPAND_OK(want, tpath("data/**/**/d.jsonl"));
    /* hidden directories only when named */
    snprintf(want, sizeof want, "%s/.hdir/e.jsonl=>.hdir/e.jsonl %s/sub/.x/f.jsonl=>sub/.x/f.jsonl",
             d, d);
    EXPAND_OK(want, tpath("data/**/.*/*.jsonl"));
}

/* Symbolic links: a link to a file is an input; "**" does not descend into links to directories
 * (a link cycle cannot loop), an explicit component does. */
static void test_expand_symlinks(void **state) {
    (void)state;
    make_tree();
    assert_int_equal(symlink("sub", tpath("data/linkdir")), 0);
    assert_int_equal(symlink("a.jsonl", tpath("data/sub/deep/alink.jsonl")), 0);
    assert_int_equal(symlink("..", tpath("data/sub/loop")), 0);
    char want[4096];
    const char *d = tpath("data");
    snprintf(want, sizeof want,
             "%s/B.jsonl=>B.jsonl %s/[x].jsonl=>[x].jsonl %s/a.jsonl=>a.jsonl "
             "%s/sub/c.jsonl=>sub/c.jsonl %s/sub/deep/d.jsonl=>sub/deep/d.jsonl",
             d, d, d, d, d); /* alink.jsonl dangles (points to sub/deep/a.jsonl): not a file */
    EXPAND_OK(want, tpath("data/**/*.jsonl"));
    assert_int_equal(symlink("../../a.jsonl", tpath("data/sub/deep/good.jsonl")), 0);
    snprintf(want, sizeof want, "%s/linkdir/c.jsonl=>linkdir/c.jsonl", d);
    EXPAND_OK(want, tpath("data/link*/c.jsonl"));
    snprintf(want, sizeof want, "%s/sub/deep/good.jsonl=>sub/deep/good.jsonl", d);
    EXPAND_OK(want, tpath("data/**/good.jsonl"));
}

/* Plain paths: output name = base name; sizes and mtimes come from stat(). */
static void test_expand_plain_and_stat(void **state) {
    (void)state;
    make_tree();
    struct timespec ts[2] = {{1700000000, 123456789}, {1600000000, 987654321}};
    assert_int_equal(utimensat(AT_FDCWD, tpath("data/B.jsonl"), ts, 0), 0);
    const char *pats[] = {tpath("data/sub/c.jsonl"), tpath("data/B.jsonl")};
    optout_inputs in;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    assert_int_equal(optout_inputs_expand(pats, 2, &in, err, sizeof err), 0);
    assert_int_equal(in.count, 2);
    assert_string_equal(in.items[0].path, tpath("data/B.jsonl"));
    assert_string_equal(in.items[0].output_name, "B.jsonl");
    assert_int_equal(in.items[0].size, 3);
    assert_int_equal(in.items[0].mtime_ns, (int64_t)1600000000 * 1000000000 + 987654321);
    assert_string_equal(in.items[1].path, tpath("data/sub/c.jsonl"));
    assert_string_equal(in.items[1].output_name, "c.jsonl");
    assert_int_equal(in.items[1].size, 2);
    optout_inputs_free(&in);
    /* no patterns: an empty list */
    assert_int_equal(optout_inputs_expand(pats, 0, &in, err, sizeof err), 0);
    assert_int_equal(in.count, 0);
    optout_inputs_free(&in);
}

/* Relative patterns give relative paths, as written (no "./" added). */
static void test_expand_relative(void **state) {
    (void)state;
    make_tree();
    assert_int_equal(chdir(tmpdir), 0);
    EXPAND_OK("data/sub/c.jsonl=>c.jsonl data/sub/deep/d.jsonl=>deep/d.jsonl", "data/sub/**/*.jsonl");
    assert_int_equal(chdir("data"), 0);
    EXPAND_OK("notes.txt=>notes.txt", "*.txt");
    EXPAND_OK("./notes.txt=>notes.txt", "./*.txt");
    EXPAND_OK("sub/c.jsonl=>c.jsonl", "sub/c.jsonl");
    EXPAND_OK("sub//c.jsonl=>c.jsonl", "sub//c.jsonl");
    EXPAND_OK("sub/c.jsonl=>c.jsonl", "sub//*.jsonl");
}

/* The same file from several patterns is listed once. */
static void test_expand_duplicates(void **state) {
    (void)state;
    make_tree();
    char want[4096];
    const char *d = tpath("data");
    snprintf(want, sizeof want, "%s/B.jsonl=>B.jsonl %s/a.jsonl=>a.jsonl", d, d);
    EXPAND_OK(want, tpath("data/a.jsonl"), tpath("data/[aB].jsonl"), tpath("data/a.*"),
              tpath("data/a.jsonl"));
}

static void expect_error(const char *const *pats, size_t n, const char *const *needles, size_t nn) {
    optout_inputs in;
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    if (optout_inputs_expand(pats, n, &in, err, sizeof err) != -1) fail_msg("'%s' did not fail", pats[n - 1]);
    assert_null(in.items);
    assert_int_equal(in.count, 0);
    for (size_t k = 0; k < nn; k++) {
        if (!strstr(err, needles[k])) fail_msg("\"%s\" not in \"%s\"", needles[k], err);
    }
}

#define EXPECT_ERROR(pats, ...)                                                                    \
    do {                                                                                           \
        const char *needles_[] = {__VA_ARGS__};                                                    \
        expect_error(pats, sizeof pats / sizeof *pats, needles_, sizeof needles_ / sizeof *needles_); \
    } while (0)

static void test_expand_errors(void **state) {
    (void)state;
    make_tree();
    {   /* nothing matched: the pattern is named (after other patterns matched) */
        const char *pats[] = {tpath("data/*.jsonl"), tpath("data/*.parquet")};
        EXPECT_ERROR(pats, tpath("data/*.parquet"), "matches no file");
    }
    {   /* a missing plain path, a missing prefix directory, an empty directory */
        const char *p1[] = {tpath("data/nope.jsonl")};
        EXPECT_ERROR(p1, tpath("data/nope.jsonl"), strerror(ENOENT));
        const char *p2[] = {tpath("nodir/**/*.jsonl")};
        EXPECT_ERROR(p2, tpath("nodir/**/*.jsonl"));
        const char *p3[] = {tpath("data/empty/**")};
        EXPECT_ERROR(p3, tpath("data/empty/**"));
    }
    {   /* a directory given as a plain path */
        const char *pats[] = {tpath("data/sub")};
        EXPECT_ERROR(pats, tpath("data/sub"), "directory", "/**");
    }
    {   /* two inputs for one output name: both named */
        const char *pats[] = {tpath("data/a.jsonl"), tpath("other/a.jsonl")};
        EXPECT_ERROR(pats, tpath("data/a.jsonl"), tpath("other/a.jsonl"), "a.jsonl");
        const char *p2[] = {tpath("data/sub/*.jsonl"), tpath("other/z/*.jsonl")};
        EXPECT_ERROR(p2, tpath("data/sub/c.jsonl"), tpath("other/z/c.jsonl"));
    }
    {   /* one file under two output names */
        const char *pats[] = {tpath("data/**/*.jsonl"), tpath("data/sub/*.jsonl")};
        EXPECT_ERROR(pats, tpath("data/sub/c.jsonl"), "sub/c.jsonl");
    }
    {   /* a file name with a tab or a newline */
        mkfile("tabs/a\tb.jsonl", "x");
        const char *pats[] = {tpath("tabs/*")};
        EXPECT_ERROR(pats, "tab or newline", tpath("tabs/*"));
    }
    {   /* ".." after a wildcard would leave the output tree */
        const char *pats[] = {tpath("data/*/../a.jsonl")};
        EXPECT_ERROR(pats, "..");
    }
    {   /* a pattern ending in '/' names directories */
        const char *pats[] = {tpath("data/*/")};
        EXPECT_ERROR(pats, tpath("data/*/"));
    }
}

/* A directory that exists but cannot be listed is an error naming it, not a hole in the list. As
 * root, the expansion runs in a child that has switched to the "nobody" user (uid 65534). */
static void test_expand_unreadable_dir(void **state) {
    (void)state;
    make_tree();
    assert_int_equal(chmod(tmpdir, 0755), 0);
    assert_int_equal(chmod(tpath("data/sub"), 0311), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        const char *pats[] = {tpath("data/**/*.jsonl")};
        optout_inputs in;
        char err[OPTOUT_RUNDIR_ERR_LEN] = "";
        int rc = optout_inputs_expand(pats, 1, &in, err, sizeof err);
        if (write(pfd[1], err, strlen(err) + 1) < 0) _exit(4);
        _exit(rc == -1 ? 0 : 1);
    }
    close(pfd[1]);
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    ssize_t n = read(pfd[0], err, sizeof err - 1);
    close(pfd[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(chmod(tpath("data/sub"), 0755), 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3) skip(); /* cannot switch users */
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(n > 0);
    assert_non_null(strstr(err, tpath("data/sub")));
    assert_non_null(strstr(err, strerror(EACCES)));
}

/* A literal directory component that cannot be opened for another reason than absence (here a
 * symbolic link loop) is an error too. */
static void test_expand_loop_dir(void **state) {
    (void)state;
    make_tree();
    assert_int_equal(symlink("loop", tpath("data/loop")), 0);
    const char *pats[] = {tpath("data/loop/*.jsonl")};
    EXPECT_ERROR(pats, tpath("data/loop"), strerror(ELOOP));
}

/* ---- SHA-256 ------------------------------------------------------------------------------- */

static void test_sha256(void **state) {
    (void)state;
    char hex[65];
    optout_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    optout_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    mkfile("abc", "abc");
    assert_int_equal(optout_sha256_file(tpath("abc"), hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mkfile("empty", "");
    assert_int_equal(optout_sha256_file(tpath("empty"), hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* a file larger than the read buffer */
    size_t n = (3u << 20) + 12345;
    char *big = malloc(n + 1);
    for (size_t k = 0; k < n; k++) big[k] = (char)('a' + (k * 7 + k / 1000) % 26);
    big[n] = '\0';
    mkfile("big", big);
    char want[65];
    optout_sha256_hex(big, n, want);
    assert_int_equal(optout_sha256_file(tpath("big"), hex), 0);
    assert_string_equal(hex, want);
    free(big);

    errno = 0;
    assert_int_equal(optout_sha256_file(tpath("missing"), hex), -1);
    assert_int_equal(errno, ENOENT);
}

/* ---- plan ---------------------------------------------------------------------------------- */

static const optout_plan_option OPTS[] = {
    {"mode", "rfc9309", NULL},
    {"agents-file", "agents.txt 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", NULL},
    {"corpus", "/data/**/*.jsonl.gz", NULL},
    {"empty", "", NULL},
};
#define NOPTS (sizeof OPTS / sizeof *OPTS)

static const char OPTION_LINES[] =
    "option agents-file agents.txt 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    "option corpus /data/**/*.jsonl.gz\n"
    "option empty \n"
    "option mode rfc9309\n";

static optout_input INPUTS[] = {
    {"/data/x y/a.jsonl.gz", "x y/a.jsonl.gz", 12345, 1700000000123456789},
    {"/data/z.jsonl.gz", "z.jsonl.gz", 0, -5},
};

/* The file is exactly as documented: header, sorted option lines, config hash (SHA-256 of the
 * option lines), tab-separated input lines; no temporary file is left behind. */
static void test_plan_write_format(void **state) {
    (void)state;
    const char *dir = tpath("run");
    optout_inputs inputs = {INPUTS, 2};
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), 0);

    char hash[65];
    optout_sha256_hex(OPTION_LINES, strlen(OPTION_LINES), hash);
    char hash2[65];
    optout_plan_config_hash(OPTS, NOPTS, hash2);
    assert_string_equal(hash, hash2);
    char want[4096];
    snprintf(want, sizeof want,
             "optout-plan 1\n%sconfig %s\n"
             "input\t12345\t1700000000123456789\tx y/a.jsonl.gz\t/data/x y/a.jsonl.gz\n"
             "input\t0\t-5\tz.jsonl.gz\t/data/z.jsonl.gz\n",
             OPTION_LINES, hash);
    char *got = slurp(tpath("run/plan"));
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(dir_entries(dir), 1);
    struct stat st;
    assert_int_equal(stat(tpath("run/plan"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* rewriting replaces it */
    inputs.count = 1;
    assert_int_equal(optout_plan_write(dir, OPTS, 1, &inputs, err, sizeof err), 0);
    got = slurp(tpath("run/plan"));
    assert_non_null(strstr(got, "option mode rfc9309\nconfig "));
    assert_null(strstr(got, "z.jsonl.gz"));
    free(got);
    assert_int_equal(dir_entries(dir), 1);
}

/* The config hash does not depend on the order options are given in. */
static void test_config_hash_order(void **state) {
    (void)state;
    optout_plan_option rev[NOPTS];
    for (size_t k = 0; k < NOPTS; k++) rev[k] = OPTS[NOPTS - 1 - k];
    char a[65], b[65], c[65];
    optout_plan_config_hash(OPTS, NOPTS, a);
    optout_plan_config_hash(rev, NOPTS, b);
    assert_string_equal(a, b);
    rev[0].value = "other";
    optout_plan_config_hash(rev, NOPTS, c);
    assert_string_not_equal(a, c);
    optout_plan_config_hash(OPTS, 0, c);
    assert_string_equal(c, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Paths with tabs or newlines, option values with newlines, names with blanks, a name given twice:
 * refused, and no file is left. */
static void test_plan_write_rejects(void **state) {
    (void)state;
    const char *dir = tpath("run");
    char err[OPTOUT_RUNDIR_ERR_LEN];
    optout_input bad[] = {{"/data/a\tb", "a\tb", 1, 1}};
    optout_inputs inputs = {bad, 1};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), -1);
    assert_non_null(strstr(err, "tab or newline"));
    assert_non_null(strstr(err, "run/plan"));
    bad[0] = (optout_input){"/data/a\nb", "ab", 1, 1};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), -1);
    bad[0] = (optout_input){"/data/ab", "a\nb", 1, 1};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), -1);

    inputs.count = 0;
    optout_plan_option o1[] = {{"mode", "a\nb", NULL}};
    assert_int_equal(optout_plan_write(dir, o1, 1, &inputs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--mode"));
    optout_plan_option o2[] = {{"my mode", "x", NULL}};
    assert_int_equal(optout_plan_write(dir, o2, 1, &inputs, err, sizeof err), -1);
    optout_plan_option o3[] = {{"mode", "x", NULL}, {"level", "1", NULL}, {"mode", "y", NULL}};
    assert_int_equal(optout_plan_write(dir, o3, 3, &inputs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--mode given twice"));
    struct stat st;
    assert_int_equal(stat(tpath("run/plan"), &st), -1);

    /* an unwritable directory: the error names the plan, nothing is left */
    if (geteuid() != 0) {
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(chmod(dir, 0555), 0);
        assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), -1);
        assert_non_null(strstr(err, "run/plan"));
        assert_int_equal(chmod(dir, 0755), 0);
        assert_int_equal(dir_entries(dir), 0);
    }
}

static void test_plan_compare(void **state) {
    (void)state;
    const char *dir = tpath("run");
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    int exists = 7, differs = 7;
    /* no plan yet */
    assert_int_equal(optout_plan_compare(dir, OPTS, NOPTS, &exists, &differs, err, sizeof err), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(differs, 0);

    optout_inputs inputs = {INPUTS, 2};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), 0);
    /* the same options, in another order */
    optout_plan_option o[NOPTS];
    for (size_t k = 0; k < NOPTS; k++) o[k] = OPTS[NOPTS - 1 - k];
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(differs, 0);

    /* one value differs (o is in reverse order: empty, corpus, agents-file, mode) */
    o[3].value = "protego"; /* mode */
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), -1);
    assert_int_equal(exists, 1);
    assert_int_equal(differs, 1);
    assert_non_null(strstr(err, "--mode was rfc9309, now protego"));
    assert_non_null(strstr(err, "run/plan"));
    /* with the remedy: the planned value to resume, or a new run directory */
    assert_non_null(strstr(err, "to resume this run, give --mode rfc9309 as planned"));
    assert_non_null(strstr(err, "new run directory (optout run --out DIR, optout-broker --dir DIR)"));

    /* an option the user did not type is named by its label, never as --NAME alone */
    o[3].label = "--mode (implied by --other)";
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--mode (implied by --other) was rfc9309, now protego"));
    assert_non_null(strstr(err, "give the options it was planned with"));
    assert_null(strstr(err, "give --mode"));
    o[3].label = NULL;

    /* the first difference (by name) is the one named */
    o[1].value = "/other/*.jsonl"; /* corpus */
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--corpus was /data/**/*.jsonl.gz, now /other/*.jsonl"));
    o[1].value = OPTS[2].value;
    o[3].value = OPTS[0].value;
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), 0);

    /* an empty value is shown as "" */
    o[0].value = "x";
    assert_int_equal(optout_plan_compare(dir, o, NOPTS, &exists, &differs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--empty was \"\", now x"));
    o[0].value = "";

    /* an option on one side only */
    optout_plan_option more[NOPTS + 1];
    memcpy(more, OPTS, sizeof OPTS);
    more[NOPTS] = (optout_plan_option){"level", "3", NULL};
    assert_int_equal(optout_plan_compare(dir, more, NOPTS + 1, &exists, &differs, err, sizeof err), -1);
    assert_int_equal(differs, 1);
    assert_non_null(strstr(err, "--level was not given, now 3"));
    assert_non_null(strstr(err, "to resume this run, leave it out"));
    assert_int_equal(optout_plan_compare(dir, OPTS, NOPTS - 1, &exists, &differs, err, sizeof err), -1);
    assert_int_equal(differs, 1);
    assert_non_null(strstr(err, "--empty was \"\", now not given"));
    assert_int_equal(optout_plan_compare(dir, OPTS + 1, NOPTS - 1, &exists, &differs, err, sizeof err), -1);
    assert_non_null(strstr(err, "--mode was rfc9309, now not given"));
    assert_non_null(strstr(err, "to resume this run, give --mode rfc9309 again"));
}

/* Damaged or foreign plans are read errors (differs = 0), naming the file. */
static void test_plan_damaged(void **state) {
    (void)state;
    const char *dir = tpath("run");
    const char *plan = tpath("run/plan");
    char err[OPTOUT_RUNDIR_ERR_LEN];
    int exists, differs;
    optout_inputs inputs = {INPUTS, 2};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), 0);
    char *good = slurp(plan);

    struct {
        const char *from, *to; /* replace the first `from` in the good plan with `to` */
        const char *needle;
        int compare_fails; /* the damage is before the config line */
    } cases[] = {
        {"option mode rfc9309", "option mode protego", "config hash", 1}, /* edited by hand */
        {"optout-plan 1", "optout-plan 2", "unsupported plan version", 1},
        {"optout-plan 1", "hello", "not an optout plan", 1},
        {"option corpus", "optionX corpus", ":3: unexpected line", 1},
        {"input\t0\t-5", "input\tx\t-5", ":8: malformed input line", 0},
        {"input\t0\t-5", "input\t0\t-5x", ":8: malformed input line", 0},
        {"\tz.jsonl.gz\t", "\t", ":8: malformed input line", 0},
        {"input\t12345", "inpt\t12345", ":7: malformed input line", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char text[4096];
        const char *at = strstr(good, cases[k].from);
        assert_non_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, cases[k].to,
                 at + strlen(cases[k].from));
        FILE *f = fopen(plan, "w");
        fputs(text, f);
        fclose(f);
        err[0] = '\0';
        int rc = optout_plan_compare(dir, OPTS, NOPTS, &exists, &differs, err, sizeof err);
        assert_int_equal(differs, 0);
        if (cases[k].compare_fails) {
            assert_int_equal(rc, -1);
            if (!strstr(err, cases[k].needle)) fail_msg("case %zu: %s", k, err);
            assert_non_null(strstr(err, plan));
        } else {
            assert_int_equal(rc, 0);
        }
        optout_inputs in;
        err[0] = '\0';
        assert_int_equal(optout_plan_read_inputs(dir, &in, err, sizeof err), -1);
        assert_null(in.items);
        if (!strstr(err, cases[k].needle)) fail_msg("case %zu: %s", k, err);
        assert_non_null(strstr(err, plan));
    }

    /* a truncated plan: the last line has no newline; or the config line is missing */
    FILE *f = fopen(plan, "w");
    fwrite(good, 1, strlen(good) - 1, f);
    fclose(f);
    optout_inputs in;
    assert_int_equal(optout_plan_read_inputs(dir, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "incomplete last line"));
    f = fopen(plan, "w");
    fputs("optout-plan 1\noption mode x\n", f);
    fclose(f);
    assert_int_equal(optout_plan_compare(dir, OPTS, NOPTS, &exists, &differs, err, sizeof err), -1);
    assert_int_equal(differs, 0);
    assert_non_null(strstr(err, "config line"));
    free(good);

    /* no plan at all: read_inputs fails naming it */
    unlink(plan);
    assert_int_equal(optout_plan_read_inputs(dir, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, plan));
}

/* The inputs read back are the ones written, in order, with their paths, names, sizes, mtimes. */
static void test_plan_read_inputs(void **state) {
    (void)state;
    make_tree();
    const char *dir = tpath("run");
    const char *pats[] = {tpath("data/**")};
    optout_inputs in, back;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    assert_int_equal(optout_inputs_expand(pats, 1, &in, err, sizeof err), 0);
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &in, err, sizeof err), 0);
    assert_int_equal(optout_plan_read_inputs(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.count, in.count);
    for (size_t k = 0; k < in.count; k++) {
        assert_string_equal(back.items[k].path, in.items[k].path);
        assert_string_equal(back.items[k].output_name, in.items[k].output_name);
        assert_int_equal(back.items[k].size, in.items[k].size);
        assert_int_equal(back.items[k].mtime_ns, in.items[k].mtime_ns);
    }
    optout_inputs_free(&back);

    optout_inputs fixed = {INPUTS, 2};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &fixed, err, sizeof err), 0);
    assert_int_equal(optout_plan_read_inputs(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.count, 2);
    assert_string_equal(back.items[0].path, "/data/x y/a.jsonl.gz");
    assert_string_equal(back.items[0].output_name, "x y/a.jsonl.gz");
    assert_int_equal(back.items[0].size, 12345);
    assert_int_equal(back.items[0].mtime_ns, 1700000000123456789);
    assert_int_equal(back.items[1].mtime_ns, -5);
    optout_inputs_free(&back);

    /* no inputs at all */
    optout_inputs none = {NULL, 0};
    assert_int_equal(optout_plan_write(dir, OPTS, 0, &none, err, sizeof err), 0);
    assert_int_equal(optout_plan_read_inputs(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.count, 0);
    optout_inputs_free(&back);
    optout_inputs_free(&in);
}

/* The whole plan read back: options in file order (sorted by name), the config hash, the inputs;
 * optout_plan_get() finds an option by name; a damaged header is refused. */
static void test_plan_read(void **state) {
    (void)state;
    const char *dir = tpath("run");
    char err[OPTOUT_RUNDIR_ERR_LEN] = "";
    optout_inputs inputs = {INPUTS, 2};
    assert_int_equal(optout_plan_write(dir, OPTS, NOPTS, &inputs, err, sizeof err), 0);
    optout_plan p;
    assert_int_equal(optout_plan_read(dir, &p, err, sizeof err), 0);
    assert_int_equal(p.option_count, NOPTS);
    assert_string_equal(p.options[0].name, "agents-file");
    assert_string_equal(p.options[3].name, "mode");
    char hash[65];
    optout_plan_config_hash(OPTS, NOPTS, hash);
    assert_string_equal(p.config, hash);
    assert_string_equal(optout_plan_get(&p, "mode"), "rfc9309");
    assert_string_equal(optout_plan_get(&p, "empty"), "");
    assert_null(optout_plan_get(&p, "level"));
    assert_null(optout_plan_get(&p, "mod"));
    assert_int_equal(p.inputs.count, 2);
    assert_string_equal(p.inputs.items[1].output_name, "z.jsonl.gz");
    optout_plan_free(&p);
    assert_int_equal(p.option_count, 0);

    FILE *f = fopen(tpath("run/plan"), "w");
    fputs("option output tags\n", f);
    fclose(f);
    assert_int_equal(optout_plan_read(dir, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an optout plan"));
    assert_int_equal(p.option_count, 0);
    assert_null(p.inputs.items);
    optout_plan_free(&p); /* harmless after a failure */
}

/* util.h's one strict digit parser (plan sizes, rank and archive fields): digits only, at least
 * one, no overflow past max. */
static void test_parse_u64(void **state) {
    (void)state;
    uint64_t v = 7;
    assert_int_equal(optout_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(optout_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -1);
    assert_int_equal(optout_parse_u64("0042", 4, 999, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(optout_parse_u64("1000", 4, 999, &v), -1);
    assert_int_equal(optout_parse_u64("999", 3, 999, &v), 0);
    assert_int_equal(optout_parse_u64("12x", 2, 999, &v), 0); /* only len bytes count */
    assert_int_equal(v, 12);
    v = 5;
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "0x1", "1.0"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_int_equal(optout_parse_u64(bad[k], strlen(bad[k]), UINT64_MAX, &v), -1);
    assert_int_equal(v, 5);
    assert_int_equal(optout_parse_u64("1", 1, 0, &v), -1);
    assert_int_equal(optout_parse_u64("0", 1, 0, &v), 0);
    assert_int_equal(v, 0);
}

/* docs/parquet.md's naming table: input name, keep-format, output format -> the shards/ name. */
static void test_shards_name(void **state) {
    (void)state;
    static const struct {
        const char *in;
        int keep, format;
        const char *out;
    } cases[] = {
        {"a/x.jsonl", 0, 0, "a/x.jsonl.zst"},       {"x.jsonl.gz", 0, 0, "x.jsonl.zst"},
        {"x.jsonl.zst", 0, 0, "x.jsonl.zst"},       {"x.jsonl.gz", 1, 0, "x.jsonl.gz"},
        {"x.parquet", 0, 0, "x.parquet"},           {"x.parquet", 0, 1, "x.jsonl.zst"},
        {"x.jsonl", 0, 1, "x.jsonl.zst"},           {"x.jsonl.gz", 0, 2, "x.parquet"},
        {"d/x.jsonl.zst", 1, 2, "d/x.parquet"},     {"x.json", 0, 2, "x.parquet"},
        {"x.txt", 0, 2, "x.txt.parquet"},           {"x.parquet", 0, 2, "x.parquet"},
        {"x.gz", 0, 2, "x.parquet"},                {"data", 0, 0, "data.zst"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        optout_shards_name(cases[i].in, cases[i].keep, cases[i].format, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0) fail_msg("%s (%d, %d): %s, not %s", cases[i].in, cases[i].keep,
                                                    cases[i].format, out, cases[i].out);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, remove_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_lock),
        cmocka_unit_test(test_shards_name),
        T(test_lock_error),
        T(test_expand_star),
        T(test_expand_globstar),
        T(test_expand_symlinks),
        T(test_expand_plain_and_stat),
        T(test_expand_relative),
        T(test_expand_duplicates),
        T(test_expand_errors),
        T(test_expand_unreadable_dir),
        T(test_expand_loop_dir),
        T(test_sha256),
        T(test_plan_write_format),
        T(test_config_hash_order),
        T(test_plan_write_rejects),
        T(test_plan_compare),
        T(test_plan_damaged),
        T(test_plan_read_inputs),
        T(test_plan_read),
        T(test_parse_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
