/* test_remove_tree.c — optout_remove_tree and optout_now_ms (include/optout/util.h).
 *
 * A tree is built in a private directory: nested directories, files, a link to a file and a link
 * to a directory outside the tree. Removing the tree must delete the links themselves and leave
 * what they point to intact; a missing path is success.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/util.h"

#include "../support/testdir.h"

static int setup(void **state) {
    (void)state;
    return testdir_create("test_remove_tree");
}
static int teardown(void **state) {
    (void)state;
    return testdir_remove();
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
}

static void test_tree_without_following_links(void **state) {
    (void)state;
    assert_int_equal(mkdir(tpath("outside"), 0777), 0);
    touch(tpath("outside/keep"));
    assert_int_equal(mkdir(tpath("tree"), 0777), 0);
    assert_int_equal(mkdir(tpath("tree/a"), 0777), 0);
    assert_int_equal(mkdir(tpath("tree/a/b"), 0777), 0);
    touch(tpath("tree/f"));
    touch(tpath("tree/a/b/g"));
    assert_int_equal(symlink(tpath("outside"), tpath("tree/dirlink")), 0);
    assert_int_equal(symlink(tpath("outside/keep"), tpath("tree/a/filelink")), 0);
    assert_int_equal(optout_remove_tree(tpath("tree")), 0);
    struct stat st;
    assert_int_equal(lstat(tpath("tree"), &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(lstat(tpath("outside/keep"), &st), 0); /* a link's target stays */
    assert_true(S_ISREG(st.st_mode));
}

static void test_link_given_is_removed_not_followed(void **state) {
    (void)state;
    assert_int_equal(mkdir(tpath("target"), 0777), 0);
    touch(tpath("target/keep"));
    assert_int_equal(symlink(tpath("target"), tpath("link")), 0);
    assert_int_equal(optout_remove_tree(tpath("link")), 0);
    struct stat st;
    assert_int_equal(lstat(tpath("link"), &st), -1);
    assert_int_equal(lstat(tpath("target/keep"), &st), 0);
}

static void test_single_file_and_missing_path(void **state) {
    (void)state;
    touch(tpath("file"));
    assert_int_equal(optout_remove_tree(tpath("file")), 0);
    assert_int_equal(access(tpath("file"), F_OK), -1);
    assert_int_equal(optout_remove_tree(tpath("never-existed")), 0);
}

static void test_now_ms_is_monotonic(void **state) {
    (void)state;
    int64_t a = optout_now_ms();
    usleep(20000);
    int64_t b = optout_now_ms();
    assert_true(b - a >= 19 && b - a < 2000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tree_without_following_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_given_is_removed_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_file_and_missing_path, setup, teardown),
        cmocka_unit_test(test_now_ms_is_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
