/* test_agents.c — agent lists and agent tokens (include/optout/agents.h).
 *
 * One test per rule: how a name becomes a token, what the list keeps, how agent files are read,
 * how tokens are looked up, and what the built-in default list is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/agents.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static optout_agents *new_list(void) {
    optout_agents *a = optout_agents_new();
    assert_non_null(a);
    return a;
}

/* Adds `name` and checks it was accepted. */
static void add_ok(optout_agents *a, const char *name) {
    errno = 0;
    assert_int_equal(optout_agents_add(a, name, strlen(name)), 0);
}

/* Adds `name` and checks it was refused with `err`. */
static void add_fails(optout_agents *a, const char *name, int err) {
    size_t before = optout_agents_count(a);
    errno = 0;
    assert_int_equal(optout_agents_add(a, name, strlen(name)), -1);
    assert_int_equal(errno, err);
    assert_int_equal(optout_agents_count(a), before);
}

/* The token of one name added to a fresh list. */
static void expect_token(const char *name, const char *token) {
    optout_agents *a = new_list();
    add_ok(a, name);
    assert_int_equal(optout_agents_count(a), 1);
    assert_int_equal(optout_agents_token_len(a, 0), strlen(token));
    assert_memory_equal(optout_agents_token(a, 0), token, strlen(token));
    optout_agents_free(a);
}

/* The name (as kept) of one name added to a fresh list. */
static void expect_name(const char *given, const char *kept) {
    optout_agents *a = new_list();
    add_ok(a, given);
    assert_string_equal(optout_agents_name(a, 0), kept);
    optout_agents_free(a);
}

/* Source tree root, from this file's path (CMake passes absolute paths to the compiler). */
static int source_root(char *out, size_t cap) {
    const char *suffix = "tests/unit/test_agents.c";
    const char *f = __FILE__;
    size_t n = strlen(f), s = strlen(suffix);
    if (f[0] != '/' || n < s || strcmp(f + n - s, suffix) != 0 || n - s + 1 > cap) return -1;
    memcpy(out, f, n - s);
    out[n - s] = '\0';
    return 0;
}

static const char *const APERTUS[] = {
    "AI2Bot",    "Applebot-Extended", "Bytespider",         "CCBot",           "CCBot/2.0",
    "CCBot/1.0", "ClaudeBot",         "cohere-training-data-crawler", "Diffbot", "Meta-ExternalAgent",
    "Google-Extended", "GPTBot",      "PanguBot",           "*",
};

/* ---- tokens -------------------------------------------------------------------------------- */

static void test_token_cut_at_slash(void **state) {
    (void)state;
    expect_token("CCBot/2.0", "ccbot");
}

static void test_token_cut_at_space(void **state) {
    (void)state;
    expect_token("Kangaroo Bot", "kangaroo");
}

static void test_token_cut_at_tab(void **state) {
    (void)state;
    expect_token("Kangaroo\tBot", "kangaroo");
}

static void test_token_keeps_digits(void **state) {
    (void)state;
    expect_token("AI2Bot", "ai2bot");
}

static void test_token_keeps_hyphens_and_underscores(void **state) {
    (void)state;
    expect_token("Meta-ExternalAgent", "meta-externalagent");
    expect_token("cohere-training-data-crawler", "cohere-training-data-crawler");
    expect_token("Foo_Bar", "foo_bar");
}

static void test_token_is_lower_cased(void **state) {
    (void)state;
    expect_token("GPTBot", "gptbot");
    expect_token("GOOGLE-EXTENDED", "google-extended");
}

static void test_token_of_star_is_star(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "*");
    add_ok(a, "GPTBot");
    assert_int_equal(optout_agents_token_len(a, 0), 1);
    assert_memory_equal(optout_agents_token(a, 0), "*", 1);
    assert_true(optout_agents_is_star(a, 0));
    assert_false(optout_agents_is_star(a, 1));
    optout_agents_free(a);
}

static void test_double_star_is_not_star(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "**");
    assert_false(optout_agents_is_star(a, 0));
    optout_agents_free(a);
}

static void test_agent_token_len_function(void **state) {
    (void)state;
    assert_int_equal(optout_agent_token_len("CCBot/2.0", 9), 5);
    assert_int_equal(optout_agent_token_len("Kangaroo Bot", 12), 8);
    assert_int_equal(optout_agent_token_len("AI2Bot", 6), 6);
    assert_int_equal(optout_agent_token_len("a\tb", 3), 1);
    assert_int_equal(optout_agent_token_len("*", 1), 1);
    assert_int_equal(optout_agent_token_len("/x", 2), 0);
    assert_int_equal(optout_agent_token_len("", 0), 0);
    /* only `len` bytes are looked at */
    assert_int_equal(optout_agent_token_len("GPTBot", 3), 3);
}

/* ---- names --------------------------------------------------------------------------------- */

static void test_name_kept_verbatim(void **state) {
    (void)state;
    expect_name("CCBot/2.0", "CCBot/2.0");
    expect_name("Kangaroo Bot", "Kangaroo Bot");
    expect_name("cohere-training-data-crawler", "cohere-training-data-crawler");
    expect_name("GPTBot", "GPTBot");
}

static void test_name_trimmed_of_surrounding_white_space(void **state) {
    (void)state;
    expect_name("  GPTBot  ", "GPTBot");
    expect_name("\tKangaroo Bot \r\n", "Kangaroo Bot");
    expect_token("  GPTBot  ", "gptbot");
}

static void test_name_uses_only_len_bytes(void **state) {
    (void)state;
    optout_agents *a = new_list();
    assert_int_equal(optout_agents_add(a, "GPTBotXYZ", 6), 0);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_int_equal(optout_agents_token_len(a, 0), 6);
    optout_agents_free(a);
}

static void test_empty_name_rejected_with_einval(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_fails(a, "", EINVAL);
    add_fails(a, "   ", EINVAL);
    add_fails(a, "\t\r\n", EINVAL);
    assert_int_equal(optout_agents_count(a), 0);
    optout_agents_free(a);
}

static void test_name_with_empty_token_rejected_with_einval(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_fails(a, "/2.0", EINVAL);
    add_fails(a, "  /x", EINVAL);
    optout_agents_free(a);
}

/* A NUL byte inside a name (an agents file is arbitrary bytes): either refused (EINVAL) or kept
 * with a token whose length matches its text. Never a read past the stored token. */
static void test_name_with_nul_byte_is_refused_or_consistent(void **state) {
    (void)state;
    optout_agents *a = new_list();
    errno = 0;
    int rc = optout_agents_add(a, "GPT\0BotBot", 10);
    if (rc != 0) {
        assert_int_equal(errno, EINVAL);
        assert_int_equal(optout_agents_count(a), 0);
    } else {
        assert_int_equal(optout_agents_count(a), 1);
        assert_int_equal(optout_agents_token_len(a, 0), strlen(optout_agents_token(a, 0)));
        assert_true(optout_agents_token_len(a, 0) <= strlen(optout_agents_name(a, 0)));
    }
    optout_agents_free(a);
}

static void test_agents_file_with_nul_byte_is_refused_or_consistent(void **state) {
    (void)state;
    static const char text[] = "GPTBot\nClaude\0Bot\n";
    optout_agents *a = new_list();
    size_t bad = 0;
    int rc = optout_agents_parse(a, text, sizeof text - 1, &bad);
    if (rc != 0) {
        assert_int_equal(bad, 2);
    } else {
        for (size_t i = 0; i < optout_agents_count(a); i++)
            assert_int_equal(optout_agents_token_len(a, i), strlen(optout_agents_token(a, i)));
    }
    optout_agents_free(a);
}

static void test_list_holds_256_agents_then_e2big(void **state) {
    (void)state;
    optout_agents *a = new_list();
    char name[32];
    for (int i = 0; i < OPTOUT_AGENTS_MAX; i++) {
        snprintf(name, sizeof name, "Agent%d", i);
        add_ok(a, name);
    }
    assert_int_equal(optout_agents_count(a), 256);
    add_fails(a, "OneTooMany", E2BIG);
    assert_int_equal(optout_agents_count(a), 256);
    assert_string_equal(optout_agents_name(a, 255), "Agent255");
    optout_agents_free(a);
}

static void test_new_list_is_empty(void **state) {
    (void)state;
    optout_agents *a = new_list();
    assert_int_equal(optout_agents_count(a), 0);
    assert_int_equal(optout_agents_find_token(a, "gptbot", 6), -1);
    optout_agents_free(a);
}

static void test_free_null_is_harmless(void **state) {
    (void)state;
    optout_agents_free(NULL);
}

static void test_agents_keep_insertion_order(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "Zeta");
    add_ok(a, "Alpha");
    add_ok(a, "Mid");
    assert_string_equal(optout_agents_name(a, 0), "Zeta");
    assert_string_equal(optout_agents_name(a, 1), "Alpha");
    assert_string_equal(optout_agents_name(a, 2), "Mid");
    optout_agents_free(a);
}

/* ---- agent files ----------------------------------------------------------------------------- */

static void test_parse_one_name_per_line(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "GPTBot\nCCBot/2.0\nKangaroo Bot\n";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_int_equal(optout_agents_count(a), 3);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "CCBot/2.0");
    assert_string_equal(optout_agents_name(a, 2), "Kangaroo Bot");
    optout_agents_free(a);
}

static void test_parse_skips_comment_lines(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "# AI crawlers\nGPTBot\n#CCBot\n   # indented comment\nClaudeBot\n";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_int_equal(optout_agents_count(a), 2);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "ClaudeBot");
    optout_agents_free(a);
}

static void test_parse_skips_blank_lines(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "\n\nGPTBot\n   \n\t\nClaudeBot\n\n";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_int_equal(optout_agents_count(a), 2);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "ClaudeBot");
    optout_agents_free(a);
}

static void test_parse_accepts_crlf(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "# list\r\nGPTBot\r\n\r\nCCBot/2.0\r\nKangaroo Bot\r\n";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_int_equal(optout_agents_count(a), 3);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "CCBot/2.0");
    assert_string_equal(optout_agents_name(a, 2), "Kangaroo Bot");
    assert_int_equal(optout_agents_token_len(a, 0), 6);
    optout_agents_free(a);
}

static void test_parse_last_line_without_newline(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "GPTBot\nClaudeBot";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_int_equal(optout_agents_count(a), 2);
    assert_string_equal(optout_agents_name(a, 1), "ClaudeBot");
    optout_agents_free(a);
}

static void test_parse_trims_names(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "   GPTBot   \n\tCCBot/2.0\t\n";
    assert_int_equal(optout_agents_parse(a, text, strlen(text), NULL), 0);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "CCBot/2.0");
    optout_agents_free(a);
}

static void test_parse_empty_text_adds_nothing(void **state) {
    (void)state;
    optout_agents *a = new_list();
    assert_int_equal(optout_agents_parse(a, "", 0, NULL), 0);
    assert_int_equal(optout_agents_count(a), 0);
    optout_agents_free(a);
}

static void test_parse_bad_line_reports_its_number(void **state) {
    (void)state;
    optout_agents *a = new_list();
    const char *text = "# c\nGPTBot\n/2.0\nClaudeBot\n";
    size_t bad = 0;
    errno = 0;
    assert_int_equal(optout_agents_parse(a, text, strlen(text), &bad), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(bad, 3);
    optout_agents_free(a);
}

static void test_parse_more_than_256_names_is_e2big(void **state) {
    (void)state;
    optout_agents *a = new_list();
    size_t cap = 300 * 16, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < 257; i++) n += (size_t)snprintf(text + n, cap - n, "Bot%d\n", i);
    size_t bad = 0;
    errno = 0;
    assert_int_equal(optout_agents_parse(a, text, n, &bad), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(bad, 257);
    /* the message names the limit, not "Argument list too long" */
    const char *why = optout_agents_strerror(errno);
    if (!strstr(why, "at most 256 agents")) fail_msg("%s", why);
    assert_null(strstr(why, "Argument list"));
    assert_non_null(strstr(optout_agents_strerror(EINVAL), "agent name"));
    assert_string_equal(optout_agents_strerror(ENOENT), strerror(ENOENT));
    free(text);
    optout_agents_free(a);
}

static void test_load_reads_a_file(void **state) {
    (void)state;
    char path[] = "/tmp/optout-agents-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# test list\r\n\r\nGPTBot\r\nCCBot/2.0\n*\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    optout_agents *a = new_list();
    assert_int_equal(optout_agents_load(a, path, NULL), 0);
    unlink(path);
    assert_int_equal(optout_agents_count(a), 3);
    assert_string_equal(optout_agents_name(a, 0), "GPTBot");
    assert_string_equal(optout_agents_name(a, 1), "CCBot/2.0");
    assert_true(optout_agents_is_star(a, 2));
    optout_agents_free(a);
}

static void test_load_missing_file_fails_with_errno(void **state) {
    (void)state;
    optout_agents *a = new_list();
    size_t bad = 0;
    errno = 0;
    assert_int_equal(optout_agents_load(a, "/nonexistent/optout/agents.txt", &bad), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(bad, 0); /* not a bad line: the file could not be read */
    optout_agents_free(a);
}

/* ---- lookup by token ------------------------------------------------------------------------- */

static void test_find_token_is_case_insensitive(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "GPTBot");
    add_ok(a, "ClaudeBot");
    assert_int_equal(optout_agents_find_token(a, "gptbot", 6), 0);
    assert_int_equal(optout_agents_find_token(a, "GPTBOT", 6), 0);
    assert_int_equal(optout_agents_find_token(a, "GptBot", 6), 0);
    assert_int_equal(optout_agents_find_token(a, "claudebot", 9), 1);
    optout_agents_free(a);
}

static void test_find_token_matches_whole_token_only(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "GPTBot");
    add_ok(a, "AI2Bot");
    assert_int_equal(optout_agents_find_token(a, "gpt", 3), -1);
    assert_int_equal(optout_agents_find_token(a, "gptbotx", 7), -1);
    assert_int_equal(optout_agents_find_token(a, "bot", 3), -1);
    assert_int_equal(optout_agents_find_token(a, "ai", 2), -1);
    assert_int_equal(optout_agents_find_token(a, "ai2bot", 6), 1);
    optout_agents_free(a);
}

static void test_find_token_of_versioned_name(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "Kangaroo Bot");
    add_ok(a, "CCBot/2.0");
    assert_int_equal(optout_agents_find_token(a, "kangaroo", 8), 0);
    assert_int_equal(optout_agents_find_token(a, "CCBot", 5), 1);
    optout_agents_free(a);
}

static void test_find_token_empty_is_not_found(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "GPTBot");
    assert_int_equal(optout_agents_find_token(a, "", 0), -1);
    optout_agents_free(a);
}

static void test_match_token_adds_every_agent_sharing_the_token(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "CCBot");
    add_ok(a, "GPTBot");
    add_ok(a, "CCBot/2.0");
    add_ok(a, "ccbot/1.0");
    optout_agentset s;
    optout_agentset_clear(&s);
    assert_int_equal(optout_agents_match_token(a, "CCBOT", 5, &s), 3);
    assert_true(optout_agentset_has(&s, 0));
    assert_false(optout_agentset_has(&s, 1));
    assert_true(optout_agentset_has(&s, 2));
    assert_true(optout_agentset_has(&s, 3));
    optout_agents_free(a);
}

static void test_match_token_keeps_existing_members(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "GPTBot");
    add_ok(a, "ClaudeBot");
    optout_agentset s;
    optout_agentset_clear(&s);
    optout_agentset_add(&s, 0);
    assert_int_equal(optout_agents_match_token(a, "claudebot", 9, &s), 1);
    assert_true(optout_agentset_has(&s, 0));
    assert_true(optout_agentset_has(&s, 1));
    optout_agents_free(a);
}

static void test_match_token_without_match_adds_nothing(void **state) {
    (void)state;
    optout_agents *a = new_list();
    add_ok(a, "AI2Bot");
    optout_agentset s;
    optout_agentset_clear(&s);
    assert_int_equal(optout_agents_match_token(a, "ai", 2, &s), 0);
    assert_int_equal(optout_agents_match_token(a, "", 0, &s), 0);
    assert_false(optout_agentset_has(&s, 0));
    optout_agents_free(a);
}

/* ---- the default list ------------------------------------------------------------------------ */

static void test_default_list_has_14_entries_in_paper_order(void **state) {
    (void)state;
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    assert_int_equal(optout_agents_count(a), 14);
    for (size_t i = 0; i < 14; i++) assert_string_equal(optout_agents_name(a, i), APERTUS[i]);
    optout_agents_free(a);
}

static void test_default_list_ends_with_star(void **state) {
    (void)state;
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    for (size_t i = 0; i < 13; i++) assert_false(optout_agents_is_star(a, i));
    assert_true(optout_agents_is_star(a, 13));
    optout_agents_free(a);
}

static void test_default_list_tokens(void **state) {
    (void)state;
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    static const char *const tokens[] = {
        "ai2bot",    "applebot-extended", "bytespider", "ccbot",  "ccbot",
        "ccbot",     "claudebot",         "cohere-training-data-crawler", "diffbot",
        "meta-externalagent", "google-extended", "gptbot", "pangubot", "*",
    };
    for (size_t i = 0; i < 14; i++) {
        assert_int_equal(optout_agents_token_len(a, i), strlen(tokens[i]));
        assert_memory_equal(optout_agents_token(a, i), tokens[i], strlen(tokens[i]));
    }
    optout_agents_free(a);
}

static void test_default_list_equals_data_file(void **state) {
    (void)state;
    char root[4096], path[4200];
    if (source_root(root, sizeof root) != 0) skip();
    snprintf(path, sizeof path, "%sdata/agents/apertus-paper.txt", root);
    if (access(path, R_OK) != 0) skip();
    optout_agents *file = new_list();
    assert_int_equal(optout_agents_load(file, path, NULL), 0);
    optout_agents *def = optout_agents_new_default();
    assert_non_null(def);
    assert_int_equal(optout_agents_count(file), optout_agents_count(def));
    for (size_t i = 0; i < optout_agents_count(def); i++)
        assert_string_equal(optout_agents_name(file, i), optout_agents_name(def, i));
    optout_agents_free(file);
    optout_agents_free(def);
}

static void test_default_list_name_constant(void **state) {
    (void)state;
    assert_string_equal(OPTOUT_AGENTS_DEFAULT_NAME, "apertus-paper");
}

/* ---- agent sets ------------------------------------------------------------------------------ */

static void test_agentset_add_has_clear(void **state) {
    (void)state;
    optout_agentset s;
    optout_agentset_clear(&s);
    for (size_t i = 0; i < OPTOUT_AGENTS_MAX; i++) assert_false(optout_agentset_has(&s, i));
    optout_agentset_add(&s, 0);
    optout_agentset_add(&s, 63);
    optout_agentset_add(&s, 64);
    optout_agentset_add(&s, 255);
    for (size_t i = 0; i < OPTOUT_AGENTS_MAX; i++)
        assert_int_equal(optout_agentset_has(&s, i), i == 0 || i == 63 || i == 64 || i == 255);
    optout_agentset_clear(&s);
    assert_false(optout_agentset_has(&s, 255));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_cut_at_slash),
        cmocka_unit_test(test_token_cut_at_space),
        cmocka_unit_test(test_token_cut_at_tab),
        cmocka_unit_test(test_token_keeps_digits),
        cmocka_unit_test(test_token_keeps_hyphens_and_underscores),
        cmocka_unit_test(test_token_is_lower_cased),
        cmocka_unit_test(test_token_of_star_is_star),
        cmocka_unit_test(test_double_star_is_not_star),
        cmocka_unit_test(test_agent_token_len_function),
        cmocka_unit_test(test_name_kept_verbatim),
        cmocka_unit_test(test_name_trimmed_of_surrounding_white_space),
        cmocka_unit_test(test_name_uses_only_len_bytes),
        cmocka_unit_test(test_empty_name_rejected_with_einval),
        cmocka_unit_test(test_name_with_empty_token_rejected_with_einval),
        cmocka_unit_test(test_list_holds_256_agents_then_e2big),
        cmocka_unit_test(test_new_list_is_empty),
        cmocka_unit_test(test_free_null_is_harmless),
        cmocka_unit_test(test_agents_keep_insertion_order),
        cmocka_unit_test(test_parse_one_name_per_line),
        cmocka_unit_test(test_parse_skips_comment_lines),
        cmocka_unit_test(test_parse_skips_blank_lines),
        cmocka_unit_test(test_parse_accepts_crlf),
        cmocka_unit_test(test_parse_last_line_without_newline),
        cmocka_unit_test(test_parse_trims_names),
        cmocka_unit_test(test_parse_empty_text_adds_nothing),
        cmocka_unit_test(test_parse_bad_line_reports_its_number),
        cmocka_unit_test(test_parse_more_than_256_names_is_e2big),
        cmocka_unit_test(test_load_reads_a_file),
        cmocka_unit_test(test_load_missing_file_fails_with_errno),
        cmocka_unit_test(test_find_token_is_case_insensitive),
        cmocka_unit_test(test_find_token_matches_whole_token_only),
        cmocka_unit_test(test_find_token_of_versioned_name),
        cmocka_unit_test(test_find_token_empty_is_not_found),
        cmocka_unit_test(test_match_token_adds_every_agent_sharing_the_token),
        cmocka_unit_test(test_match_token_keeps_existing_members),
        cmocka_unit_test(test_match_token_without_match_adds_nothing),
        cmocka_unit_test(test_default_list_has_14_entries_in_paper_order),
        cmocka_unit_test(test_default_list_ends_with_star),
        cmocka_unit_test(test_default_list_tokens),
        cmocka_unit_test(test_default_list_equals_data_file),
        cmocka_unit_test(test_default_list_name_constant),
        cmocka_unit_test(test_agentset_add_has_clear),
        /* last: under AddressSanitizer a failure here aborts the whole program */
        cmocka_unit_test(test_name_with_nul_byte_is_refused_or_consistent),
        cmocka_unit_test(test_agents_file_with_nul_byte_is_refused_or_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
