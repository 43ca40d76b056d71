/* test_util.c — util.h's small helpers: the array growth keeps the elements, doubles from the first
 * capacity and reallocates only when full; the error setter writes like snprintf and accepts no
 * buffer at all; optout_strdup never gives NULL; optout_mtime_ns is stat's time in nanoseconds;
 * optout_nap_ms sleeps, and stops at once when asked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

static void test_grow(void **state) {
    (void)state;
    int *v = NULL;
    size_t n = 0, cap = 0, grew = 0, last_cap = 0;
    for (int i = 0; i < 1000; i++) {
        v = optout_grow(v, n, &cap, sizeof *v, 4, "test");
        assert_true(cap > n);
        if (cap != last_cap) grew++, last_cap = cap;
        v[n++] = i;
    }
    assert_int_equal(cap, 1024); /* 4, 8, ..., 1024 */
    assert_int_equal(grew, 9);
    for (int i = 0; i < 1000; i++) assert_int_equal(v[i], i);
    /* room left: the same block, the same capacity */
    int *same = optout_grow(v, 1000, &cap, sizeof *v, 4, "test");
    assert_ptr_equal(same, v);
    assert_int_equal(cap, 1024);
    free(v);
}

static void test_set_err(void **state) {
    (void)state;
    char err[8];
    optout_set_err(err, sizeof err, "%s:%d", "abcdef", 42);
    assert_string_equal(err, "abcdef:"); /* cut to the buffer, always terminated */
    optout_set_err(NULL, 0, "nothing %d", 1); /* no buffer: nothing written, no crash */
    memset(err, 'x', sizeof err);
    optout_set_err(err, 0, "none");
    assert_int_equal(err[0], 'x');
}

static void test_strdup_mtime(void **state) {
    (void)state;
    char *a = optout_strdup("abc"), *b = optout_strdup(NULL);
    assert_string_equal(a, "abc");
    assert_string_equal(b, ""); /* NULL gives an empty string, never NULL */
    free(a);
    free(b);
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 123456789;
    assert_true(optout_mtime_ns(&st) == INT64_C(1700000000123456789));
    st.st_mtim.tv_sec = -1; /* before the epoch */
    st.st_mtim.tv_nsec = 500000000;
    assert_true(optout_mtime_ns(&st) == INT64_C(-500000000));
}

static void test_nap(void **state) {
    (void)state;
    volatile sig_atomic_t stop = 0;
    int64_t t0 = optout_now_ms();
    assert_int_equal(optout_nap_ms(30, &stop), 0);
    assert_true(optout_now_ms() - t0 >= 30);
    assert_int_equal(optout_nap_ms(0, NULL), 0);
    stop = 1;
    t0 = optout_now_ms();
    assert_int_equal(optout_nap_ms(60000, &stop), 1); /* stopped: at once, not after a minute */
    assert_true(optout_now_ms() - t0 < 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_set_err),
        cmocka_unit_test(test_strdup_mtime),
        cmocka_unit_test(test_nap),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL) ? 1 : 0;
}
