/* test_parse.c — strict option-value parsing (include/optout/parse.h): what is a number, what is a
 * byte count, and every way a text is refused (sign, space, overflow, range, unit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "optout/parse.h"

static void test_number(void **state) {
    (void)state;
    uint64_t v = 0;
    char err[256];
    assert_int_equal(optout_parse_number("19", 1, 19, &v, err, sizeof err), 0);
    assert_true(v == 19);
    static const char *const bad[] = {"-1", "+1", " 1", "1 ", "", "0x10", "1e3", "20", "0", "3.0",
                                      "18446744073709551616", NULL};
    for (size_t i = 0; bad[i]; i++) {
        err[0] = '\0';
        if (optout_parse_number(bad[i], 1, 19, &v, err, sizeof err) == 0) fail_msg("'%s' accepted", bad[i]);
        char want[64];
        snprintf(want, sizeof want, "expected 1..19, got '%s'", bad[i]);
        assert_string_equal(err, want);
    }
    assert_int_equal(optout_parse_number("18446744073709551615", 0, UINT64_MAX, &v, err, sizeof err), 0);
    assert_true(v == UINT64_MAX);
}

static void test_bytes(void **state) {
    (void)state;
    uint64_t v = 0;
    char err[256];
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {{"1000000", 1000000},      {"64k", 65536},          {"64K", 65536},
                {"512M", 512ull << 20},    {"512MB", 512ull << 20}, {"4GiB", 4ull << 30},
                {"4Gi", 4ull << 30},       {"2T", 2ull << 40},      {"16777215T", 16777215ull << 40}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (optout_parse_bytes(good[i].text, 1, UINT64_MAX, &v, err, sizeof err) != 0)
            fail_msg("'%s' refused: %s", good[i].text, err);
        assert_true(v == good[i].bytes);
    }
    static const char *const bad[] = {"-1", "-1G", "", "G", "1B", "1X", "1Gb", "1 G", " 1G", "1GiBx",
                                      "16777216T", "0", "0K", "18446744073709551616", NULL};
    for (size_t i = 0; bad[i]; i++) {
        err[0] = '\0';
        if (optout_parse_bytes(bad[i], 1, UINT64_MAX, &v, err, sizeof err) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err, "number of bytes"));
        assert_non_null(strstr(err, bad[i]));
    }
    /* the range applies to the bytes, after the unit */
    assert_int_equal(optout_parse_bytes("1K", 1, 1023, &v, err, sizeof err), -1);
    assert_int_equal(optout_parse_bytes("1K", 1, 1024, &v, err, sizeof err), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL) ? 1 : 0;
}
