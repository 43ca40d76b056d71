/* test_config.c — the configuration file (include/optout/config.h): the parser, one test per rule,
 * and the argv a program's option parsing gets (precedence: defaults, [common], the program's
 * section, the command line; lists replaced whole).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/testdir.h"
#include "optout/config.h"
#include "optout/log.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static optout_config *parse_ok(const char *text) {
    char err[512] = "";
    optout_config *c = optout_config_parse("t.conf", text, strlen(text), err, sizeof err);
    if (!c) fail_msg("parse failed: %s", err);
    return c;
}

/* Parsing must fail with exactly `expect` (the message, "t.conf:LINE: ..." included) as prefix. */
static void parse_fails(const char *text, size_t len, const char *expect) {
    char err[512] = "";
    optout_config *c = optout_config_parse("t.conf", text, len, err, sizeof err);
    if (c) {
        optout_config_free(c);
        fail_msg("parse succeeded, expected '%s'", expect);
    }
    if (strncmp(err, expect, strlen(expect)) != 0) fail_msg("'%s' does not start with '%s'", err, expect);
}

static void entry_is(const optout_config *c, size_t i, const char *section, const char *key, const char *value,
                     unsigned line) {
    const optout_config_entry *e = optout_config_at(c, i);
    assert_non_null(e);
    assert_string_equal(e->section, section);
    assert_string_equal(e->key, key);
    assert_string_equal(e->value, value);
    assert_int_equal(e->line, line);
}

/* ---- the parser ---------------------------------------------------------------------------- */

static void test_comments_and_whitespace(void **state) {
    (void)state;
    optout_config *c = parse_ok("# a comment\n"
                                "; another\n"
                                "\n"
                                "   [ broker ]   # after a header\n"
                                "\tdir\t=\t/srv/run   \n"
                                "  level=5\n"
                                "   # indented comment\n"
                                "mode = protego # inline comment\n"
                                "user-agent = a#b;c   ; inline\n");
    assert_int_equal(optout_config_count(c), 4);
    entry_is(c, 0, "broker", "dir", "/srv/run", 5);
    entry_is(c, 1, "broker", "level", "5", 6);
    entry_is(c, 2, "broker", "mode", "protego", 8);
    entry_is(c, 3, "broker", "user-agent", "a#b;c", 9);
    optout_config_free(c);
}

static void test_quoting(void **state) {
    (void)state;
    optout_config *c = parse_ok("[run]\n"
                                "corpus = \"/data/a # b.jsonl\"\n"
                                "agent = \"say \\\"hi\\\" \\\\ \\n\"  # escapes: \\\" and \\\\ only\n"
                                "user-agent = '  spaced \"x\" \\ ' ; literal\n"
                                "hosts = \"\"\n");
    assert_int_equal(optout_config_count(c), 4);
    entry_is(c, 0, "run", "corpus", "/data/a # b.jsonl", 2);
    entry_is(c, 1, "run", "agent", "say \"hi\" \\ \\n", 3);
    entry_is(c, 2, "run", "user-agent", "  spaced \"x\" \\ ", 4);
    entry_is(c, 3, "run", "hosts", "", 5); /* an empty value, quoted: allowed */
    optout_config_free(c);
    const char *t;
    t = "[run]\nagent = \"open\n";
    parse_fails(t, strlen(t), "t.conf:2: unterminated \"quoted\" value");
    t = "[run]\nagent = 'open\n";
    parse_fails(t, strlen(t), "t.conf:2: unterminated 'quoted' value");
    t = "[run]\nagent = \"a\" b\n";
    parse_fails(t, strlen(t), "t.conf:2: text after the quoted value");
    t = "[run]\nagent = 'it''s'\n";
    parse_fails(t, strlen(t), "t.conf:2: text after the quoted value");
}

static void test_repeated_keys_and_sections(void **state) {
    (void)state;
    optout_config *c = parse_ok("[common]\nagent = GPTBot\n[broker]\ncorpus = /a\ncorpus = /b\n"
                                "[common]\nagent = CCBot\n[broker]\ncorpus = /c\n");
    assert_int_equal(optout_config_count(c), 5);
    entry_is(c, 0, "common", "agent", "GPTBot", 2);
    entry_is(c, 1, "broker", "corpus", "/a", 4);
    entry_is(c, 2, "broker", "corpus", "/b", 5);
    entry_is(c, 3, "common", "agent", "CCBot", 7);
    entry_is(c, 4, "broker", "corpus", "/c", 9);
    optout_config_free(c);
}

static void test_crlf_bom_and_last_line(void **state) {
    (void)state;
    optout_config *c = parse_ok("\xEF\xBB\xBF[worker]\r\nconnect = tcp://b:5555\r\n\r\nslots = 4"); /* no final \n */
    assert_int_equal(optout_config_count(c), 2);
    entry_is(c, 0, "worker", "connect", "tcp://b:5555", 2);
    entry_is(c, 1, "worker", "slots", "4", 4);
    optout_config_free(c);
    c = parse_ok("");
    assert_int_equal(optout_config_count(c), 0);
    optout_config_free(c);
}

static void test_errors(void **state) {
    (void)state;
    const char *t;
    t = "[broker]\ndir /srv/run\n";
    parse_fails(t, strlen(t), "t.conf:2: expected 'key = value' (no '=')");
    t = "[broker]\n= x\n";
    parse_fails(t, strlen(t), "t.conf:2: no key before '='");
    t = "# c\n[brokers]\ndir = x\n";
    parse_fails(t, strlen(t), "t.conf:2: unknown section [brokers]");
    t = "[broker\n";
    parse_fails(t, strlen(t), "t.conf:1: expected a section header '[name]'");
    t = "[broker] x\n";
    parse_fails(t, strlen(t), "t.conf:1: expected a section header '[name]'");
    t = "dir = /x\n";
    parse_fails(t, strlen(t), "t.conf:1: 'dir' before any section");
    t = "[broker]\ndir =\n";
    parse_fails(t, strlen(t), "t.conf:2: empty value (write key = \"\" for an empty string)");
    t = "[broker]\ndir =    # only a comment\n";
    parse_fails(t, strlen(t), "t.conf:2: empty value");
    t = "[broker]\nDir = x\n";
    parse_fails(t, strlen(t), "t.conf:2: bad key 'Dir'");
    t = "[broker]\nmy key = x\n";
    parse_fails(t, strlen(t), "t.conf:2: bad key 'my key'");
    static const char nul[] = "[broker]\ndir = a\0b\n";
    parse_fails(nul, sizeof nul - 1, "t.conf:2: NUL byte in the line");
}

static void test_line_too_long(void **state) {
    (void)state;
    size_t n = OPTOUT_CONFIG_LINE_MAX + 100;
    char *t = malloc(n + 64);
    assert_non_null(t);
    int at = snprintf(t, 64, "[broker]\n# fine\ndir = ");
    memset(t + at, 'x', n);
    strcpy(t + at + n, "\n");
    parse_fails(t, strlen(t), "t.conf:3: line longer than 4096 bytes");
    /* exactly at the limit is fine */
    memset(t + at, 'x', n);
    t[OPTOUT_CONFIG_LINE_MAX + strlen("[broker]\n# fine\n")] = '\0';
    optout_config *c = parse_ok(t);
    assert_int_equal(strlen(optout_config_at(c, 0)->value), OPTOUT_CONFIG_LINE_MAX - strlen("dir = "));
    optout_config_free(c);
    free(t);
}

static void test_load(void **state) {
    (void)state;
    char err[512];
    assert_null(optout_config_load(tpath("missing.conf"), err, sizeof err));
    assert_non_null(strstr(err, "missing.conf: No such file or directory"));
    FILE *f = fopen(tpath("a.conf"), "w");
    assert_non_null(f);
    fputs("[rank]\njobs = 2\n[nope]\n", f);
    fclose(f);
    assert_null(optout_config_load(tpath("a.conf"), err, sizeof err));
    char expect[300];
    snprintf(expect, sizeof expect, "%s:3: unknown section [nope]", tpath("a.conf"));
    assert_non_null(strstr(err, expect));
}

static void test_settable(void **state) {
    (void)state;
    assert_true(optout_config_settable("corpus"));
    assert_true(optout_config_settable("redis-password-file"));
    assert_false(optout_config_settable("help"));
    assert_false(optout_config_settable("version"));
    assert_false(optout_config_settable("config"));
    assert_false(optout_config_settable("crash-after-accept"));
}

/* ---- a program's argv ---------------------------------------------------------------------- */

static const struct option OPTIONS[] = {
    {"corpus", required_argument, NULL, 'c'}, {"mode", required_argument, NULL, 'm'},
    {"agent", required_argument, NULL, 'a'},  {"removed", no_argument, NULL, 'r'},
    {"level", required_argument, NULL, 'l'},  {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* optout_config_args for [filter] on FILE and the command line `args` (NULL-terminated); the
 * resulting argv joined by spaces, without argv[0]. */
static const char *args_for(const char *file_text, const char *const *args) {
    static char joined[2048];
    FILE *f = fopen(tpath("p.conf"), "w");
    assert_non_null(f);
    fputs(file_text, f);
    fclose(f);
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "prog";
    argv[argc++] = "--config";
    argv[argc++] = (char *)tpath("p.conf");
    for (; *args; args++) argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    char **av = argv;
    assert_int_equal(optout_config_args("filter", OPTIONS, ":m:h", &argc, &av), 0);
    optout_config_done();
    joined[0] = '\0';
    for (int i = 1; i < argc; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i > 1 ? " " : "", av[i]);
    assert_null(av[argc]);
    return joined;
}

static void test_args_precedence(void **state) {
    (void)state;
    const char *file = "[common]\nmode = protego\nagent = A\nagent = B\nlevel = 4\nunknown-to-filter = x\n"
                       "[filter]\nlevel = 5\nremoved = yes\n[broker]\nmode = rfc9309\n";
    /* [common] first, the section's keys replace [common]'s; other sections ignored */
    assert_string_equal(args_for(file, (const char *[]){NULL}),
                        "--mode=protego --agent=A --agent=B --level=5 --removed");
    /* the command line replaces a list whole, and wins for scalars (also short and abbreviated) */
    assert_string_equal(args_for(file, (const char *[]){"--agent", "X", "x.jsonl", NULL}),
                        "--mode=protego --level=5 --removed --agent X x.jsonl");
    assert_string_equal(args_for(file, (const char *[]){"-m", "rfc9309", "--lev=7", NULL}),
                        "--agent=A --agent=B --removed -m rfc9309 --lev=7");
    /* false in the section cancels [common]'s true; "--" ends the options */
    assert_string_equal(args_for("[common]\nremoved = true\n[filter]\nremoved = off\n",
                                 (const char *[]){"--", "--agent", NULL}),
                        "-- --agent");
    /* --config=FILE and --check-config are consumed */
    FILE *f = fopen(tpath("q.conf"), "w");
    assert_non_null(f);
    fputs("[filter]\nlevel = 2\n", f);
    fclose(f);
    char cfgarg[300];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s", tpath("q.conf"));
    char *argv[] = {"prog", cfgarg, "--mode", "protego", NULL};
    int argc = 4;
    char **av = argv;
    assert_int_equal(optout_config_args("filter", OPTIONS, ":m:h", &argc, &av), 0);
    optout_config_done();
    assert_int_equal(argc, 4);
    assert_string_equal(av[1], "--level=2");
    assert_string_equal(av[2], "--mode");
}

static void test_args_errors(void **state) {
    (void)state;
    const char *bad[] = {"[filter]\ncorpuss = x\n", "[filter]\nremoved = maybe\n", "[filter]\nhelp = yes\n",
                         "[filter]\nredis-password = hunter2\n", "[filter\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(tpath("bad.conf"), "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        char *argv[] = {"prog", "--config", (char *)tpath("bad.conf"), NULL};
        int argc = 3;
        char **av = argv;
        assert_int_equal(optout_config_args("filter", OPTIONS, ":h", &argc, &av), OPTOUT_EXIT_USAGE);
    }
    /* a [common] key the program lacks is not an error for it */
    assert_string_equal(args_for("[common]\nbind = tcp://*:5555\n", (const char *[]){NULL}), "");
}

int main(void) {
    if (testdir_create("test_config") != 0) return 1;
    setenv("OPTOUT_CONFIG", "", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comments_and_whitespace),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_repeated_keys_and_sections),
        cmocka_unit_test(test_crlf_bom_and_last_line),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_settable),
        cmocka_unit_test(test_args_precedence),
        cmocka_unit_test(test_args_errors),
    };
    int failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
    testdir_remove();
    return failed ? 1 : 0;
}
