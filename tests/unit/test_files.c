/* test_files.c — a command's inputs and outputs by identity (include/optout/files.h): spellings,
 * links (symbolic and hard), new files under one directory reached two ways, outputs that are not
 * regular files, "-" and NULL skipped, directories given whole (no output inside an input
 * directory, no input inside an output directory, at any depth, however reached), and the
 * writability probe; publishing a file whole (a buffer, a stream): links at the name and at the
 * temporary name never followed, a failure leaving the old file and no temporary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/testdir.h"
#include "optout/files.h"

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
}

/* files_check on two files: the input `in` and the output `out`. */
static int pair(const char *in, const char *out, char *err, size_t errlen) {
    const optout_file_arg f[] = {{"--in", in, 0}, {"--out", out, 1}};
    return optout_files_check(f, 2, err, errlen);
}

static void test_same_file(void **state) {
    (void)state;
    char err[1024];
    touch(tpath("in"));
    assert_int_equal(symlink(tpath("in"), tpath("link-in")), 0);
    assert_int_equal(link(tpath("in"), tpath("hard-in")), 0);
    assert_int_equal(mkdir(tpath("d"), 0755), 0);
    assert_int_equal(symlink(tmpdir, tpath("d/up")), 0);
    assert_int_equal(pair(tpath("in"), tpath("in"), err, sizeof err), -1);
    assert_non_null(strstr(err, "are the same file"));
    assert_int_equal(pair(tpath("in"), tpath("d/../in"), err, sizeof err), -1);
    assert_int_equal(pair(tpath("in"), tpath("hard-in"), err, sizeof err), -1);
    assert_int_equal(pair(tpath("link-in"), tpath("in"), err, sizeof err), -1); /* the input through a link */
    assert_int_equal(pair(tpath("in"), tpath("d/up/in"), err, sizeof err), -1); /* a directory link */
    assert_int_equal(pair(tpath("in"), tpath("new"), err, sizeof err), 0);
    /* two new outputs, one directory reached two ways */
    const optout_file_arg two[] = {{"--out", tpath("new"), 1}, {"--removed", tpath("d/up/new"), 1}};
    assert_int_equal(optout_files_check(two, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "--out"));
    assert_non_null(strstr(err, "--removed"));
    /* two inputs may be one file; "-" and NULL are no files */
    const optout_file_arg ins[] = {{"--in", tpath("in"), 0}, {"--agents-file", tpath("hard-in"), 0},
                                   {"--stats", "-", 1},      {"--removed", NULL, 1},
                                   {"--out", "-", 1}};
    assert_int_equal(optout_files_check(ins, 5, err, sizeof err), 0);
}

static void test_not_regular(void **state) {
    (void)state;
    char err[1024];
    touch(tpath("target"));
    assert_int_equal(symlink(tpath("target"), tpath("sym")), 0);
    assert_int_equal(mkfifo(tpath("fifo"), 0600), 0);
    assert_int_equal(mkdir(tpath("dir"), 0755), 0);
    static const struct {
        const char *name, *kind;
    } cases[] = {{"sym", "a symbolic link"}, {"fifo", "a FIFO"}, {"dir", "a directory"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pair(NULL, tpath("%s", cases[i].name), err, sizeof err), -1);
        if (!strstr(err, cases[i].kind)) fail_msg("%s: %s", cases[i].name, err);
    }
    assert_int_equal(pair(NULL, "/dev/null", err, sizeof err), -1);
    assert_non_null(strstr(err, "a character device"));
    assert_int_equal(pair(tpath("sym"), tpath("other"), err, sizeof err), 0); /* an input may be a link */
    struct stat st;
    assert_int_equal(lstat(tpath("sym"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_dirs(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(mkdir(tpath("ro"), 0755), 0); /* read whole, e.g. a robots directory */
    assert_int_equal(mkdir(tpath("ro/sub"), 0755), 0);
    assert_int_equal(mkdir(tpath("pub"), 0755), 0); /* published into, e.g. a run's shards/ */
    assert_int_equal(mkdir(tpath("elsewhere"), 0755), 0);
    touch(tpath("ro/sub/old"));
    touch(tpath("pub/in"));
    touch(tpath("elsewhere/in"));
    assert_int_equal(symlink(tpath("ro/sub"), tpath("to-sub")), 0);
    assert_int_equal(symlink(tpath("pub/in"), tpath("link-to-pub-in")), 0);
    static const struct {
        const char *path; /* under tmpdir */
        int kind;         /* OPTOUT_FILE_INPUT or _OUTPUT */
        int refused;
    } cases[] = {
        {"ro/new", OPTOUT_FILE_OUTPUT, 1},          {"ro/sub/old", OPTOUT_FILE_OUTPUT, 1},
        {"ro/sub/a/b/new", OPTOUT_FILE_OUTPUT, 1},  {"ro/../ro/./sub//new", OPTOUT_FILE_OUTPUT, 1},
        {"to-sub/new", OPTOUT_FILE_OUTPUT, 1},      {"ro/sub/old", OPTOUT_FILE_INPUT, 0},
        {"elsewhere/new", OPTOUT_FILE_OUTPUT, 0},   {"pub/in", OPTOUT_FILE_INPUT, 1},
        {"link-to-pub-in", OPTOUT_FILE_INPUT, 1},   {"elsewhere/in", OPTOUT_FILE_INPUT, 0},
        {"pub/new", OPTOUT_FILE_OUTPUT, 0},         {"ro-new-dir/new", OPTOUT_FILE_OUTPUT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", tpath("%s", cases[i].path));
        const optout_file_arg f[] = {{"--robots-dir", tpath("ro"), OPTOUT_FILE_INPUT_DIR},
                                     {"--outputs", tpath("pub"), OPTOUT_FILE_OUTPUT_DIR},
                                     {"--absent", tpath("absent"), OPTOUT_FILE_OUTPUT_DIR},
                                     {"--file", path, cases[i].kind}};
        err[0] = '\0';
        int rc = optout_files_check(f, 4, err, sizeof err);
        if (rc != (cases[i].refused ? -1 : 0)) fail_msg("%s (%d): rc %d: %s", cases[i].path, cases[i].kind, rc, err);
        if (cases[i].refused && (!strstr(err, "is inside") || !strstr(err, cases[i].kind ? "--robots-dir" : "--outputs")))
            fail_msg("%s: %s", cases[i].path, err);
    }
}

static void test_writable(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(optout_files_writable("--stats", tpath("stats.json"), err, sizeof err), 0);
    assert_int_equal(optout_files_writable("--stats", tpath("a/b/stats.json"), err, sizeof err), 0);
    assert_int_equal(access(tpath("stats.json.probe.%ld", (long)getpid()), F_OK), -1); /* the probe is gone */
    assert_int_equal(optout_files_writable("--stats", "/proc/optout-stats.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "--stats /proc/optout-stats.json"));
    touch(tpath("file"));
    assert_int_equal(optout_files_writable("--stats", tpath("file/stats.json"), err, sizeof err), -1);
}

/* The temporary name a publication of tpath("DIR/NAME") by this thread uses (the contract's). */
static const char *tmp_of(const char *dir, const char *name) {
    return tpath("%s/.%s.tmp.%ld.%ld", dir, name, (long)getpid(), (long)gettid());
}

static void test_publish(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(mkdir(tpath("publ"), 0755), 0);
    assert_int_equal(optout_publish_bytes(tpath("publ/a"), "one\n", 4, 0600, err, sizeof err), 0);
    assert_true(tfile_is(tpath("publ/a"), "one\n"));
    struct stat st;
    assert_int_equal(stat(tpath("publ/a"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600 & ~(unsigned)umask(022));
    assert_int_equal(optout_publish_bytes(tpath("publ/a"), "", 0, 0644, err, sizeof err), 0); /* replaced, empty */
    assert_true(tfile_is(tpath("publ/a"), ""));
    /* A stream, replacing a link at the name (the file it points to is never written). */
    twrite("victim", "victim\n");
    assert_int_equal(symlink(tpath("victim"), tpath("publ/b")), 0);
    optout_publish p = {0};
    FILE *f = optout_publish_open(&p, tpath("publ/b"), 0644, err, sizeof err);
    assert_non_null(f);
    fprintf(f, "two %d\n", 2);
    assert_int_equal(optout_publish_commit(&p, err, sizeof err), 0);
    assert_true(tfile_is(tpath("publ/b"), "two 2\n"));
    assert_int_equal(lstat(tpath("publ/b"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(tfile_is(tpath("victim"), "victim\n"));
    /* Aborted: the old file stays, the temporary goes; a second abort is nothing. */
    f = optout_publish_open(&p, tpath("publ/b"), 0644, err, sizeof err);
    assert_non_null(f);
    fputs("half", f);
    optout_publish_abort(&p);
    optout_publish_abort(&p);
    assert_true(tfile_is(tpath("publ/b"), "two 2\n"));
    assert_int_equal(testdir_entries(tpath("publ")), 2);
}

/* A link left at the temporary name (a dead writer's, or planted) is removed, never written through. */
static void test_publish_tmp_link(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(mkdir(tpath("tmpl"), 0755), 0);
    twrite("tmpl-victim", "victim\n");
    assert_int_equal(symlink(tpath("tmpl-victim"), tmp_of("tmpl", "a")), 0);
    assert_int_equal(optout_publish_bytes(tpath("tmpl/a"), "new\n", 4, 0644, err, sizeof err), 0);
    assert_true(tfile_is(tpath("tmpl/a"), "new\n"));
    assert_true(tfile_is(tpath("tmpl-victim"), "victim\n"));
    assert_int_equal(access(tmp_of("tmpl", "a"), F_OK), -1);
    /* A dangling link there is not followed to create its target either. */
    assert_int_equal(symlink(tpath("tmpl-created"), tmp_of("tmpl", "a")), 0);
    assert_int_equal(optout_publish_bytes(tpath("tmpl/a"), "again\n", 6, 0644, err, sizeof err), 0);
    assert_true(tfile_is(tpath("tmpl/a"), "again\n"));
    assert_int_equal(access(tpath("tmpl-created"), F_OK), -1);
    assert_int_equal(testdir_entries(tpath("tmpl")), 1);
}

/* Failures: the old file is left as it was, no temporary remains, err names the file. */
static void test_publish_failures(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(mkdir(tpath("pfail"), 0755), 0);
    twrite("pfail/old", "old content\n");
    /* Writing fails (a file size limit: EFBIG) while the data is written. */
    struct rlimit saved, small = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    size_t big = 1 << 20;
    char *data = calloc(1, big);
    assert_non_null(data);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = optout_publish_bytes(tpath("pfail/old"), data, big, 0644, err, sizeof err);
    optout_publish p = {0};
    FILE *f = optout_publish_open(&p, tpath("pfail/old"), 0644, err, sizeof err);
    assert_non_null(f);
    fwrite(data, 1, big, f);
    int rc2 = optout_publish_commit(&p, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);
    free(data);
    assert_int_equal(rc, -1);
    assert_int_equal(rc2, -1);
    assert_non_null(strstr(err, tpath("pfail/old")));
    assert_true(tfile_is(tpath("pfail/old"), "old content\n"));
    assert_int_equal(testdir_entries(tpath("pfail")), 1);
    /* The rename fails (a non-empty directory at the name): it stays, no temporary. */
    assert_int_equal(mkdir(tpath("pfail/dir"), 0755), 0);
    twrite("pfail/dir/inside", "x");
    assert_int_equal(optout_publish_bytes(tpath("pfail/dir"), "y", 1, 0644, err, sizeof err), -1);
    assert_non_null(strstr(err, tpath("pfail/dir")));
    assert_true(tfile_is(tpath("pfail/dir/inside"), "x"));
    assert_int_equal(testdir_entries(tpath("pfail")), 2);
    /* The temporary cannot be created (no such directory): the message names it. */
    assert_int_equal(optout_publish_bytes(tpath("pfail/none/x"), "y", 1, 0644, err, sizeof err), -1);
    assert_non_null(strstr(err, tpath("pfail/none/")));
    /* Committing a handle never opened is an error, not a crash. */
    optout_publish never = {0};
    assert_int_equal(optout_publish_commit(&never, err, sizeof err), -1);
    optout_publish_abort(&never);
}

int main(void) {
    if (testdir_create("test_files") != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_file),
        cmocka_unit_test(test_not_regular),
        cmocka_unit_test(test_dirs),
        cmocka_unit_test(test_writable),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_publish_tmp_link),
        cmocka_unit_test(test_publish_failures),
    };
    int failed = cmocka_run_group_tests_name("files", tests, NULL, NULL);
    testdir_remove();
    return failed ? 1 : 0;
}
