/* test_dlslots.c — the node's download slots (include/optout/dlslots.h): N holders at most, across
 * processes (a forked child holds slots), a slot freed by its holder's death, a full set waited on
 * until *stop, slot files that are links refused, a directory that is a link refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "optout/dlslots.h"
#include "optout/util.h"

#include "../support/testdir.h"

/* A child that takes `n` of the slots of dir, tells the parent through a pipe, then waits to be
 * killed. Its pid. */
static pid_t child_holding(const char *dir, unsigned slots, unsigned n) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        char err[256];
        for (unsigned i = 0; i < n; i++)
            if (optout_dlslots_take(dir, slots, NULL, NULL, err, sizeof err) < 0) _exit(3);
        if (write(p[1], "x", 1) != 1) _exit(4);
        for (;;) pause();
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void test_bound_across_processes(void **state) {
    (void)state;
    const char *dir = tpath("slots");
    char err[256];
    volatile sig_atomic_t stop = 1; /* one round over the slots, then -2 when none is free */
    pid_t child = child_holding(dir, 3, 2);
    unsigned k = 99;
    int fd = optout_dlslots_take(dir, 3, &stop, &k, err, sizeof err);
    assert_true(fd >= 0);
    assert_true(k < 3);
    /* three held (two by the child): a fourth taker gets none */
    assert_int_equal(optout_dlslots_take(dir, 3, &stop, NULL, err, sizeof err), -2);
    optout_dlslots_release(fd);
    int again = optout_dlslots_take(dir, 3, &stop, &k, err, sizeof err);
    assert_true(again >= 0);
    assert_int_equal(optout_dlslots_take(dir, 3, &stop, NULL, err, sizeof err), -2);
    /* the holder dies: the kernel frees its two slots */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    int a = optout_dlslots_take(dir, 3, &stop, NULL, err, sizeof err);
    int b = optout_dlslots_take(dir, 3, &stop, NULL, err, sizeof err);
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(optout_dlslots_take(dir, 3, &stop, NULL, err, sizeof err), -2);
    optout_dlslots_release(a);
    optout_dlslots_release(b);
    optout_dlslots_release(again);
    assert_int_equal(testdir_entries(dir), 3);
}

static void test_waits_for_a_free_slot(void **state) {
    (void)state;
    const char *dir = tpath("wait");
    char err[256];
    pid_t child = child_holding(dir, 1, 1);
    pid_t killer = fork();
    if (killer == 0) { /* frees the slot after 300 ms */
        optout_sleep_ms(300);
        kill(child, SIGKILL);
        _exit(0);
    }
    int64_t t0 = optout_now_ms();
    int fd = optout_dlslots_take(dir, 1, NULL, NULL, err, sizeof err);
    int64_t waited = optout_now_ms() - t0;
    assert_true(fd >= 0);
    assert_true(waited >= 250);
    optout_dlslots_release(fd);
    waitpid(child, NULL, 0);
    waitpid(killer, NULL, 0);
}

static void test_links_refused(void **state) {
    (void)state;
    char err[256];
    const char *dir = tpath("links");
    assert_int_equal(mkdir(dir, 0700), 0);
    /* a slot file that is a symbolic link: never opened through */
    assert_non_null(twrite("target", "x"));
    assert_int_equal(symlink(tpath("target"), tpath("links/" OPTOUT_DLSLOTS_PREFIX "0")), 0);
    assert_int_equal(optout_dlslots_take(dir, 1, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "symbolic link"));
    assert_non_null(strstr(err, OPTOUT_DLSLOTS_PREFIX "0"));
    /* a slot that is a directory */
    assert_int_equal(unlink(tpath("links/" OPTOUT_DLSLOTS_PREFIX "0")), 0);
    assert_int_equal(mkdir(tpath("links/" OPTOUT_DLSLOTS_PREFIX "0"), 0700), 0);
    assert_int_equal(optout_dlslots_take(dir, 1, NULL, NULL, err, sizeof err), -1);
    /* the directory itself a link */
    assert_int_equal(mkdir(tpath("real"), 0700), 0);
    assert_int_equal(symlink(tpath("real"), tpath("dirlink")), 0);
    assert_int_equal(optout_dlslots_take(tpath("dirlink"), 1, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "dirlink"));
    assert_int_equal(testdir_entries(tpath("real")), 0);
    /* no slot at all */
    assert_int_equal(optout_dlslots_take(tpath("real"), 0, NULL, NULL, err, sizeof err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_across_processes),
        cmocka_unit_test(test_waits_for_a_free_slot),
        cmocka_unit_test(test_links_refused),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
