/* test_ccsource.c — Common Crawl sources (include/optout/ccsource.h): crawl lists and paths lists
 * read from a local --cc-base (the HTTP side is tests/history/test_history.py's).
 *
 * A paths list holds good entries and every kind of entry that must not be followed (absolute
 * URLs, a leading '/', empty, "." and ".." segments, a backslash, a blank or '%' inside, a
 * control character), with CRLF and blank lines; read gzip'd and plain, the good entries come back
 * joined to the base in order and the others are counted, the first one named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "optout/ccsource.h"

#include "../support/testdir.h"

static void test_crawls(void **state) {
    (void)state;
    optout_cc_crawls c;
    char err[256];
    assert_int_equal(optout_cc_crawls_parse("CC-MAIN-2019-35, CC-MAIN-2021-04 ,CC-MAIN-2019-35", &c, err, sizeof err), 0);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.ids[0], "CC-MAIN-2019-35");
    assert_string_equal(c.ids[1], "CC-MAIN-2021-04");
    optout_cc_crawls_free(&c);
    static const char *const bad[] = {"", "CC-MAIN-2019", "CC-MAIN-2019-355", "CC-MAIN-2019-60", "x,CC-MAIN-2019-35",
                                      "CC-MAIN-2019-35,", "crawl-data/CC-MAIN-2019-35"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (optout_cc_crawls_parse(bad[i], NULL, err, sizeof err) != -1) fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(err, "expected CC-MAIN-YYYY-WW"));
    }
    assert_int_equal(optout_cc_is_url("HTTPS://x"), 1);
    assert_int_equal(optout_cc_is_url("/data/x"), 0);
    assert_int_equal(optout_cc_is_url("ftp://x"), 0);
}

static const char LIST[] =
    "crawl-data/CC-MAIN-2019-35/segments/1.2/robotstxt/a.warc.gz\r\n"
    "\n"
    "https://elsewhere.example/crawl-data/x.warc.gz\n"
    "/etc/passwd\n"
    "crawl-data//x.warc.gz\n"
    "crawl-data/./x.warc.gz\n"
    "crawl-data/CC-MAIN-2019-35/../../x.warc.gz\n"
    "crawl-data\\x.warc.gz\n"
    "crawl-data/a b.warc.gz\n"
    "crawl-data/a%2e.warc.gz\n"
    "crawl-data/a\001.warc.gz\n"
    "crawl-data/CC-MAIN-2019-35/segments/1.2/robotstxt/b.warc.gz   \n"
    "crawl-data/CC-MAIN-2019-35/segments/1.3/robotstxt/c_d-e~f.warc.gz";

static void write_list(const char *crawl, int gz) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/base/crawl-data/%s", tmpdir, crawl);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/robotstxt.paths.gz", dir);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, LIST, (unsigned)strlen(LIST)), (int)strlen(LIST));
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fputs(LIST, f);
        fclose(f);
    }
}

static void test_paths(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        write_list("CC-MAIN-2019-35", gz);
        optout_cc_list l;
        size_t refused;
        char example[256], err[512];
        const char *base = tpath("base/");
        assert_int_equal(optout_cc_paths(base, "CC-MAIN-2019-35", NULL, &l, &refused, example, sizeof example, err,
                                         sizeof err), 0);
        assert_int_equal(refused, 9);
        assert_string_equal(example, "https://elsewhere.example/crawl-data/x.warc.gz");
        assert_int_equal(l.count, 3);
        char want[600];
        snprintf(want, sizeof want, "%s/base/crawl-data/CC-MAIN-2019-35/segments/1.2/robotstxt/a.warc.gz", tmpdir);
        assert_string_equal(l.items[0], want);
        assert_non_null(strstr(l.items[1], "/base/crawl-data/CC-MAIN-2019-35/segments/1.2/robotstxt/b.warc.gz"));
        assert_non_null(strstr(l.items[2], "c_d-e~f.warc.gz"));
        optout_cc_list_free(&l);
    }
    optout_cc_list l;
    size_t refused;
    char err[512];
    assert_int_equal(optout_cc_paths(tpath("base"), "CC-MAIN-2020-05", NULL, &l, &refused, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "crawl-data/CC-MAIN-2020-05/robotstxt.paths.gz"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crawls),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
