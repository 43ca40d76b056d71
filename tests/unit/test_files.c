/* test_files.c — a command's inputs and outputs by identity (include/optout/files.h): spellings,
 * links (symbolic and hard), new files under one directory reached two ways, outputs that are not
 * regular files, "-" and NULL skipped, directories given whole (no output inside an input
 * directory, no input inside an output directory, at any depth, however reached), and the
 * writability probe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
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

int main(void) {
    if (testdir_create("test_files") != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_file),
        cmocka_unit_test(test_not_regular),
        cmocka_unit_test(test_dirs),
        cmocka_unit_test(test_writable),
    };
    int failed = cmocka_run_group_tests_name("files", tests, NULL, NULL);
    testdir_remove();
    return failed ? 1 : 0;
}
