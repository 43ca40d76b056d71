/* test_survey.c — the survey per host and crawl (include/optout/survey.h): rows summed and sorted,
 * parts merged and summarised (counted by hand below), the distinct hosts written as a host list
 * (a link at its name replaced, not written through), and bad part lines refused by line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/survey.h"
#include "../support/testdir.h"

static void test_write_and_merge(void **state) {
    (void)state;
    optout_survey *a = optout_survey_new(), *b = optout_survey_new();
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(optout_survey_add(a, "b.example", 9, "CC-MAIN-2020-05", 1, 10), 0);
    assert_int_equal(optout_survey_add(a, "a.example", 9, NULL, 1, 3), 0);
    assert_int_equal(optout_survey_add(a, "b.example", 9, "CC-MAIN-2020-05", 1, 5), 0);
    assert_int_equal(optout_survey_add(a, "a.example", 9, "CC-MAIN-2019-35", 2, 7), 0);
    assert_int_equal(optout_survey_add(b, "a.example", 9, "CC-MAIN-2019-35", 1, 1), 0);
    assert_int_equal(optout_survey_add(b, "c.example", 9, "", 1, 4), 0);
    char err[256];
    const char *pa = tpath("a.tsv"), *pb = tpath("b.tsv");
    assert_int_equal(optout_survey_write(a, pa, err, sizeof err), 0);
    assert_int_equal(optout_survey_write(b, pb, err, sizeof err), 0);
    assert_true(tfile_is(pa, "# host\tcrawl\tdocs\ttokens\n"
                             "a.example\t-\t1\t3\n"
                             "a.example\tCC-MAIN-2019-35\t2\t7\n"
                             "b.example\tCC-MAIN-2020-05\t2\t15\n"));
    const char *parts[] = {pa, pb};
    optout_survey_summary sum;
    const char *out = tpath("all.tsv"), *hosts = tpath("hosts.txt"), *victim = twrite("victim", "kept\n");
    /* a link where the host list goes is replaced, never written through */
    assert_int_equal(symlink(victim, hosts), 0);
    assert_int_equal(optout_survey_merge(parts, 2, out, hosts, &sum, err, sizeof err), 0);
    assert_true(tfile_is(hosts, "a.example\nb.example\nc.example\n"));
    assert_true(tfile_is(victim, "kept\n"));
    struct stat st;
    assert_int_equal(lstat(hosts, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(tfile_is(out, "# host\tcrawl\tdocs\ttokens\n"
                              "a.example\t-\t1\t3\n"
                              "a.example\tCC-MAIN-2019-35\t3\t8\n"
                              "b.example\tCC-MAIN-2020-05\t2\t15\n"
                              "c.example\t-\t1\t4\n"));
    assert_int_equal(sum.hosts, 3);
    assert_int_equal(sum.docs, 7);
    assert_int_equal(sum.tokens, 30);
    assert_int_equal(sum.crawl_count, 3); /* by id, "-" last */
    assert_string_equal(sum.crawls[0].crawl, "CC-MAIN-2019-35");
    assert_int_equal(sum.crawls[0].docs, 3);
    assert_int_equal(sum.crawls[0].hosts, 1);
    assert_string_equal(sum.crawls[1].crawl, "CC-MAIN-2020-05");
    assert_int_equal(sum.crawls[1].tokens, 15);
    assert_string_equal(sum.crawls[2].crawl, "-");
    assert_int_equal(sum.crawls[2].docs, 2);
    assert_int_equal(sum.crawls[2].hosts, 2);
    optout_survey_summary_free(&sum);
    optout_survey_free(a);
    optout_survey_free(b);
}

/* A part is read as hostile: each bad line is refused, naming the file's line. */
static void test_bad_parts(void **state) {
    (void)state;
    static const char *const bad[] = {
        "x.example\tCC-MAIN-2020-99\t1\t1\n", /* no such week */
        "x.example\tCC-MAIN-2020-05x\t1\t1\n", "x.example\t-\t1\n", "x.example\t-\t1\t-1\n",
        "\t-\t1\t1\n", "x.example\t-\t1\t99999999999999999999999\n", "x.example\t-\t1\t1", /* no newline */
        "x.example\t-\t1\t1\textra\n",
    };
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256];
        snprintf(text, sizeof text, "# host\tcrawl\tdocs\ttokens\ny.example\t-\t1\t1\n%s", bad[i]);
        const char *p = twrite("bad.tsv", text);
        optout_survey_summary sum;
        assert_int_equal(optout_survey_merge(&p, 1, NULL, NULL, &sum, err, sizeof err), -1);
        assert_non_null(strstr(err, "line 3"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_merge),
        cmocka_unit_test(test_bad_parts),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
