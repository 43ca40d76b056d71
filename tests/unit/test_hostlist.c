/* test_hostlist.c — the host-list file (include/optout/hostlist.h): one rule set for every reader
 * (optout fetch, the broker's --hosts check, a fetch task's partition): comments, blanks and white
 * space, case, duplicates, what is not a host key (FILE:LINE, EINVAL), and the keep filter; the
 * writer (one key a line, replacing the old list whole; an unwritable path is an error naming it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../support/testdir.h"
#include "optout/hostlist.h"

static const char *write_list(const char *name, const char *text) {
    const char *path = tpath("%s", name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static optout_hostlist *read_ok(const char *path, optout_hostkey_mode mode) {
    char err[512] = "";
    optout_hostlist *l = optout_hostlist_read(path, mode, NULL, NULL, err, sizeof err);
    if (!l) fail_msg("%s: %s", path, err);
    return l;
}

static void test_rules(void **state) {
    (void)state;
    const char *p = write_list("a.txt", "# a comment\n"
                                        "\n"
                                        "example.com\n"
                                        "  Example.ORG \r\n"
                                        "\t# an indented comment\n"
                                        "example.com\n"
                                        "xn--bcher-kva.example\n"
                                        "host.example:8080\n"
                                        "[::1]:8080\n"
                                        "last.example"); /* no final newline */
    optout_hostlist *l = read_ok(p, OPTOUT_HOSTKEY_CANONICAL);
    static const char *const want[] = {"example.com", "example.org", "xn--bcher-kva.example", "host.example:8080",
                                       "[::1]:8080", "last.example"};
    assert_int_equal(optout_hostlist_count(l), sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) assert_string_equal(optout_hostlist_hosts(l)[i], want[i]);
    optout_hostlist_free(l);
}

static void bad(const char *text, optout_hostkey_mode mode, const char *expect) {
    const char *p = write_list("bad.txt", text);
    char err[512] = "";
    errno = 0;
    optout_hostlist *l = optout_hostlist_read(p, mode, NULL, NULL, err, sizeof err);
    if (l) fail_msg("accepted: %s", text);
    assert_int_equal(errno, EINVAL);
    if (!strstr(err, expect)) fail_msg("'%s' not in '%s'", expect, err);
}

static void test_not_host_keys(void **state) {
    (void)state;
    bad("ok.example\nhttp://x.example/\n", OPTOUT_HOSTKEY_CANONICAL, "bad.txt:2: 'http://x.example/' is not a host key");
    bad("a.example/path\n", OPTOUT_HOSTKEY_CANONICAL, "bad.txt:1:");
    bad("user@a.example\n", OPTOUT_HOSTKEY_CANONICAL, "bad.txt:1:");
    bad("a.example?q\n", OPTOUT_HOSTKEY_CANONICAL, "bad.txt:1:");
    bad("\n\nwww.example.com:80\n", OPTOUT_HOSTKEY_CANONICAL, "bad.txt:3: 'www.example.com:80' is not a canonical host key (its key is 'www.example.com')");
    bad("example.com.\n", OPTOUT_HOSTKEY_CANONICAL, "not a canonical host key");
    char longline[400];
    memset(longline, 'a', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    bad(longline, OPTOUT_HOSTKEY_CANONICAL, "bad.txt:1:");
}

static void test_netloc(void **state) {
    (void)state;
    const char *p = write_list("n.txt", "user@Host.Example:80\nhost.example\n");
    optout_hostlist *l = read_ok(p, OPTOUT_HOSTKEY_NETLOC);
    assert_int_equal(optout_hostlist_count(l), 2);
    assert_string_equal(optout_hostlist_hosts(l)[0], "user@Host.Example:80");
    optout_hostlist_free(l);
}

static int odd_only(const char *key, size_t len, void *arg) {
    (*(int *)arg)++;
    return len % 2 == 1 && key[0];
}

static void test_keep_and_errors(void **state) {
    (void)state;
    const char *p = write_list("k.txt", "ab.example\nabc.example\nab.example\nabcd.example\n");
    char err[512];
    int asked = 0;
    optout_hostlist *l = optout_hostlist_read(p, OPTOUT_HOSTKEY_CANONICAL, odd_only, &asked, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(asked, 3); /* the duplicate is dropped before keep is asked */
    assert_int_equal(optout_hostlist_count(l), 1);
    assert_string_equal(optout_hostlist_hosts(l)[0], "abc.example");
    optout_hostlist_free(l);
    errno = 0;
    assert_null(optout_hostlist_read(tpath("missing.txt"), OPTOUT_HOSTKEY_CANONICAL, NULL, NULL, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "missing.txt"));
    l = read_ok(write_list("empty.txt", "# nothing\n\n"), OPTOUT_HOSTKEY_CANONICAL);
    assert_int_equal(optout_hostlist_count(l), 0);
    optout_hostlist_free(l);
}

static void test_write(void **state) {
    (void)state;
    char err[512];
    const char *hosts[] = {"a.example", "b.example", "xn--bcher-kva.example"};
    const char *p = write_list("w.txt", "old.example\nolder.example\nold.example\n");
    assert_int_equal(optout_hostlist_write(p, hosts, 3, err, sizeof err), 0);
    assert_true(tfile_is(p, "a.example\nb.example\nxn--bcher-kva.example\n"));
    optout_hostlist *l = read_ok(p, OPTOUT_HOSTKEY_CANONICAL);
    assert_int_equal(optout_hostlist_count(l), 3);
    assert_string_equal(optout_hostlist_hosts(l)[2], "xn--bcher-kva.example");
    optout_hostlist_free(l);
    assert_int_equal(optout_hostlist_write(p, hosts, 0, err, sizeof err), 0);
    assert_true(tfile_is(p, ""));
    assert_int_equal(optout_hostlist_write(tpath("no-dir/w.txt"), hosts, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "no-dir/"));
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (testdir_create("test_hostlist") != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_not_host_keys),
        cmocka_unit_test(test_netloc),
        cmocka_unit_test(test_keep_and_errors),
        cmocka_unit_test(test_write),
    };
    int failed = cmocka_run_group_tests_name("hostlist", tests, NULL, NULL);
    testdir_remove();
    return failed ? 1 : 0;
}
