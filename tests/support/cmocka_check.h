/* cmocka_check.h — CHECK(cond, fmt, ...) for cmocka tests (tests only): when cond is false, prints
 * the message (printf-style) and fails the test naming the condition. Include after <cmocka.h>. */
#ifndef OPTOUT_TEST_CMOCKA_CHECK_H
#define OPTOUT_TEST_CMOCKA_CHECK_H

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            print_error(__VA_ARGS__);                                                                                  \
            print_error("\n");                                                                                         \
            fail_msg("%s", #cond);                                                                                     \
        }                                                                                                              \
    } while (0)

#endif
