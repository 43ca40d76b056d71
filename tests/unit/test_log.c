/* test_log.c — escaping of peer-supplied text and rate limiting (include/optout/log.h).
 *
 * Escapes are checked byte for byte against strings written out here: printable ASCII passes,
 * a backslash doubles, newline/CR/tab get their C escapes, every other byte (ESC, NUL inside the
 * buffer, DEL, UTF-8) is \xHH; truncation ends in "..." within the buffer. The limiter lets the first
 * message of a key through, counts the repeats, and lets the key through again after its interval.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "optout/log.h"

static void test_escape_bytes(void **state) {
    (void)state;
    char out[128];
    assert_string_equal(optout_log_escape_str("node1/0", out, sizeof out), "node1/0");
    assert_string_equal(optout_log_escape_str("a\\b", out, sizeof out), "a\\\\b");
    assert_string_equal(optout_log_escape_str("evil\noptout: forged\r\t", out, sizeof out),
                        "evil\\noptout: forged\\r\\t");
    assert_string_equal(optout_log_escape_str("\x1b[2J\x07\x7f", out, sizeof out), "\\x1b[2J\\x07\\x7f");
    assert_string_equal(optout_log_escape_str("caf\xc3\xa9", out, sizeof out), "caf\\xc3\\xa9");
    const char id[] = {'p', 0, 'q'};
    assert_string_equal(optout_log_escape(id, sizeof id, out, sizeof out), "p\\x00q");
    assert_string_equal(optout_log_escape("", 0, out, sizeof out), "");
}

static void test_escape_truncates_within_the_buffer(void **state) {
    (void)state;
    char out[12];
    memset(out, '#', sizeof out);
    optout_log_escape_str("0123456789abcdef", out, sizeof out);
    assert_string_equal(out, "01234567...");
    optout_log_escape_str("\x01\x02\x03\x04", out, sizeof out); /* escapes are not split past the end */
    assert_true(strlen(out) < sizeof out);
    assert_string_equal(out + strlen(out) - 3, "...");
    optout_log_escape_str("0123456789a", out, sizeof out); /* exactly fits */
    assert_string_equal(out, "0123456789a");
}

static void test_limiter(void **state) {
    (void)state;
    static optout_log_limiter l = {.every_ms = 200};
    unsigned long suppressed = 99;
    assert_int_equal(optout_log_allow(&l, "peer-a", &suppressed), 1);
    assert_int_equal(suppressed, 0);
    for (int i = 0; i < 5; i++) assert_int_equal(optout_log_allow(&l, "peer-a", &suppressed), 0);
    assert_int_equal(optout_log_allow(&l, "peer-b", &suppressed), 1); /* another key: its own budget */
    usleep(250 * 1000);
    assert_int_equal(optout_log_allow(&l, "peer-a", &suppressed), 1);
    assert_int_equal(suppressed, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_bytes),
        cmocka_unit_test(test_escape_truncates_within_the_buffer),
        cmocka_unit_test(test_limiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
