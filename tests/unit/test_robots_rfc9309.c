/* test_robots_rfc9309.c — the robots.txt engine in RFC 9309 mode (include/optout/robots.h).
 *
 * One small test per rule of the matching contract (docs/robots.md, robots.h): group formation,
 * the `*` fallback, agent tokens, longest match, wildcards, normalisation, the parser's leniency,
 * the 500 KiB limit, hostile bodies, the multi-agent verdict, fast paths, explanations, URL
 * slicing, and concurrent checks.
 *
 * Most tests use verdicts(body, "A|B|C", url): it compiles `body` for the agent list A, B, C and
 * returns one letter per agent, 'A' (allowed) or 'D' (disallowed), e.g. "ADD". Along the way it
 * checks that optout_robots_check's count matches its set and that optout_robots_explain agrees.
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
#include <threads.h>

#include "optout/agents.h"
#include "optout/robots.h"

/* ---- helpers ------------------------------------------------------------------------------- */

/* An agent list from names separated by '|'. */
static optout_agents *agents_of(const char *list) {
    optout_agents *a = optout_agents_new();
    assert_non_null(a);
    const char *p = list;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        assert_int_equal(optout_agents_add(a, p, n), 0);
        if (!bar) break;
        p = bar + 1;
    }
    return a;
}

static optout_robots *compile_n(const char *body, size_t len, const optout_agents *a) {
    optout_robots *r = optout_robots_compile(body, len, a, OPTOUT_MODE_RFC9309);
    assert_non_null(r);
    return r;
}

static optout_robots *compile_s(const char *body, const optout_agents *a) {
    return compile_n(body, strlen(body), a);
}

/* 'A'/'D' per agent of `a` for `url`, written into out (NUL-terminated). Checks the count against
 * the set, that no bit beyond the list is set, and that explain agrees agent by agent. */
static void decide(const optout_robots *r, const optout_agents *a, const char *url, char *out) {
    optout_agentset s;
    memset(&s, 0xA5, sizeof s); /* the check must clear it */
    size_t count = optout_robots_check(r, url, strlen(url), &s);
    size_t n = optout_agents_count(a), seen = 0;
    for (size_t i = 0; i < n; i++) {
        int dis = optout_agentset_has(&s, i);
        out[i] = dis ? 'D' : 'A';
        seen += (size_t)dis;
        optout_robots_explanation e;
        assert_int_equal(optout_robots_explain(r, i, url, strlen(url), &e), 0);
        if (e.allowed != !dis) fail_msg("explain disagrees with check: agent %s url %s", optout_agents_name(a, i), url);
    }
    for (size_t i = n; i < OPTOUT_AGENTS_MAX; i++)
        if (optout_agentset_has(&s, i)) fail_msg("bit %zu set beyond the %zu agents", i, n);
    out[n] = '\0';
    assert_int_equal(count, seen);
}

static char verdict_buf[OPTOUT_AGENTS_MAX + 1];

static const char *verdicts_n(const char *body, size_t len, const char *list, const char *url) {
    optout_agents *a = agents_of(list);
    optout_robots *r = compile_n(body, len, a);
    decide(r, a, url, verdict_buf);
    optout_robots_free(r);
    optout_agents_free(a);
    return verdict_buf;
}

static const char *verdicts(const char *body, const char *list, const char *url) {
    return verdicts_n(body, strlen(body), list, url);
}

/* Verdicts for the built-in Apertus list (14 agents, "*" last). */
static const char *default_verdicts(const char *body, const char *url) {
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    optout_robots *r = compile_n(body, strlen(body), a);
    decide(r, a, url, verdict_buf);
    optout_robots_free(r);
    optout_agents_free(a);
    return verdict_buf;
}

/* 1 when the single agent `agent` may fetch `url`. */
static int allowed_n(const char *body, size_t len, const char *agent, const char *url) {
    return verdicts_n(body, len, agent, url)[0] == 'A';
}
static int allowed(const char *body, const char *agent, const char *url) {
    return allowed_n(body, strlen(body), agent, url);
}

static optout_robots_explanation explain(const char *body, const char *list, size_t agent, const char *url) {
    optout_agents *a = agents_of(list);
    optout_robots *r = compile_n(body, strlen(body), a);
    optout_robots_explanation e;
    assert_int_equal(optout_robots_explain(r, agent, url, strlen(url), &e), 0);
    /* rule_pattern points into the compiled set: copy it before freeing */
    static char pattern[256];
    if (e.rule_pattern) {
        assert_true(e.rule_pattern_len < sizeof pattern);
        memcpy(pattern, e.rule_pattern, e.rule_pattern_len);
        pattern[e.rule_pattern_len] = '\0';
        e.rule_pattern = pattern;
    }
    optout_robots_free(r);
    optout_agents_free(a);
    return e;
}

static int allows_everything(const char *body, const char *list) {
    optout_agents *a = agents_of(list);
    optout_robots *r = compile_n(body, strlen(body), a);
    int v = optout_robots_allows_everything(r);
    optout_robots_free(r);
    optout_agents_free(a);
    return v;
}

/* ---- modes ------------------------------------------------------------------------------------ */

static void test_mode_names_round_trip(void **state) {
    (void)state;
    optout_robots_mode m = OPTOUT_MODE_PROTEGO;
    assert_int_equal(optout_robots_mode_parse("rfc9309", &m), 0);
    assert_int_equal(m, OPTOUT_MODE_RFC9309);
    assert_string_equal(optout_robots_mode_name(OPTOUT_MODE_RFC9309), "rfc9309");
    assert_int_equal(optout_robots_mode_parse("protego", &m), 0);
    assert_int_equal(m, OPTOUT_MODE_PROTEGO);
    assert_string_equal(optout_robots_mode_name(OPTOUT_MODE_PROTEGO), "protego");
    assert_int_equal(optout_robots_mode_parse("google", &m), -1);
    assert_int_equal(optout_robots_mode_parse("", &m), -1);
}

/* ---- groups ------------------------------------------------------------------------------------ */

static void test_group_rules_apply_to_named_agent(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /private\n";
    assert_false(allowed(body, "GPTBot", "/private/x"));
    assert_true(allowed(body, "GPTBot", "/public"));
}

static void test_group_of_other_agent_does_not_apply(void **state) {
    (void)state;
    assert_true(allowed("User-agent: ClaudeBot\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_consecutive_user_agent_lines_share_one_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nUser-agent: ClaudeBot\nDisallow: /x\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|Other", "/x"), "DDA");
}

static void test_user_agent_after_rule_starts_new_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\nUser-agent: ClaudeBot\nDisallow: /b\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/a"), "DA");
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/b"), "AD");
}

static void test_groups_for_one_agent_are_merged(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\n\n"
                       "User-agent: ClaudeBot\nDisallow: /b\n\n"
                       "User-agent: GPTBot\nDisallow: /c\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_true(allowed(body, "GPTBot", "/b"));
    assert_false(allowed(body, "GPTBot", "/c"));
}

static void test_merged_groups_decide_by_longest_match_across_groups(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\n\n"
                       "User-agent: ClaudeBot\nAllow: /\n\n"
                       "User-agent: GPTBot\nAllow: /a/b\n";
    assert_false(allowed(body, "GPTBot", "/a/x"));
    assert_true(allowed(body, "GPTBot", "/a/b/c"));
}

static void test_groups_merged_when_named_by_different_versions(void **state) {
    (void)state;
    const char *body = "User-agent: CCBot/1.0\nDisallow: /x\n\nUser-agent: ccbot\nDisallow: /y\n";
    assert_string_equal(verdicts(body, "CCBot", "/x"), "D");
    assert_string_equal(verdicts(body, "CCBot", "/y"), "D");
    assert_string_equal(verdicts(body, "CCBot", "/z"), "A");
}

/* ---- the `*` fallback ----------------------------------------------------------------------------- */

static void test_star_group_applies_to_agent_without_group(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /x\n", "GPTBot", "/x/1"));
}

static void test_star_group_ignored_when_agent_has_own_group(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /private\n";
    assert_true(allowed(body, "GPTBot", "/public"));
    assert_false(allowed(body, "GPTBot", "/private"));
    assert_false(allowed(body, "ClaudeBot", "/public"));
}

static void test_agent_named_in_group_without_rules_does_not_fall_back(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|*", "/x"), "ADD");
}

static void test_agent_with_empty_disallow_does_not_fall_back(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow:\n\nUser-agent: *\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|*", "/x"), "ADD");
}

static void test_star_disallow_hits_star_agent_even_when_gptbot_allowed(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nAllow: /\n\nUser-agent: *\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|*", "/page"), "ADD");
}

static void test_star_agent_uses_only_star_groups(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n";
    assert_string_equal(verdicts(body, "*", "/a"), "A");
    assert_string_equal(verdicts(body, "*", "/b"), "D");
}

static void test_star_agent_allowed_without_star_group(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: GPTBot\nDisallow: /\n", "GPTBot|*", "/x"), "DA");
}

static void test_no_own_group_and_no_star_group_allows(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: Other\nDisallow: /\n", "GPTBot|*", "/x"), "AA");
}

static void test_star_and_named_agent_in_one_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nUser-agent: *\nDisallow: /x\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|*", "/x"), "DDD");
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot|*", "/y"), "AAA");
}

static void test_star_groups_are_merged(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a\n\nUser-agent: GPTBot\nDisallow: /\n\n"
                       "User-agent: *\nDisallow: /b\n";
    assert_string_equal(verdicts(body, "ClaudeBot|*", "/a"), "DD");
    assert_string_equal(verdicts(body, "ClaudeBot|*", "/b"), "DD");
    assert_string_equal(verdicts(body, "ClaudeBot|*", "/c"), "AA");
}

static void test_star_with_trailing_text_is_star(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: * everyone\nDisallow: /\n", "GPTBot|*", "/x"), "DD");
    assert_string_equal(verdicts("User-agent: *   \nDisallow: /\n", "GPTBot|*", "/x"), "DD");
}

static void test_star_prefixed_name_is_not_star(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: *bot\nDisallow: /\n", "GPTBot|*", "/x"), "AA");
}

/* ---- agent tokens --------------------------------------------------------------------------------- */

static void test_user_agent_value_with_version_matches_agent(void **state) {
    (void)state;
    assert_false(allowed("User-agent: CCBot/2.0\nDisallow: /\n", "CCBot", "/x"));
}

static void test_agent_with_version_matches_user_agent_without(void **state) {
    (void)state;
    assert_false(allowed("User-agent: CCBot\nDisallow: /\n", "CCBot/2.0", "/x"));
}

static void test_agent_with_version_matches_other_version(void **state) {
    (void)state;
    assert_false(allowed("User-agent: CCBot/1.0\nDisallow: /\n", "CCBot/2.0", "/x"));
}

static void test_ai2bot_group_matches_ai2bot(void **state) {
    (void)state;
    assert_false(allowed("User-agent: AI2Bot\nDisallow: /\n", "AI2Bot", "/x"));
}

static void test_ai2bot_group_does_not_match_agent_ai(void **state) {
    (void)state;
    assert_true(allowed("User-agent: AI2Bot\nDisallow: /\n", "AI", "/x"));
}

static void test_ai_group_does_not_match_ai2bot(void **state) {
    (void)state;
    assert_true(allowed("User-agent: AI\nDisallow: /\n", "AI2Bot", "/x"));
}

static void test_user_agent_with_space_matches_agent_with_space(void **state) {
    (void)state;
    assert_false(allowed("User-agent: Kangaroo Bot\nDisallow: /\n", "Kangaroo Bot", "/x"));
}

static void test_user_agent_with_space_compared_by_first_word(void **state) {
    (void)state;
    const char *body = "User-agent: Kangaroo Bot\nDisallow: /\n";
    assert_false(allowed(body, "Kangaroo", "/x"));
    assert_true(allowed(body, "Bot", "/x"));
    assert_false(allowed("User-agent: Kangaroo\nDisallow: /\n", "Kangaroo Bot", "/x"));
}

static void test_agent_match_is_case_insensitive(void **state) {
    (void)state;
    assert_false(allowed("User-agent: gptbot\nDisallow: /\n", "GPTBot", "/x"));
    assert_false(allowed("User-agent: GPTBOT\nDisallow: /\n", "gptbot", "/x"));
    assert_false(allowed("USER-AGENT: GpTbOt\nDISALLOW: /\n", "GPTBot", "/x"));
}

static void test_agent_match_is_not_substring(void **state) {
    (void)state;
    assert_true(allowed("User-agent: bot\nDisallow: /\n", "GPTBot", "/x"));
    assert_true(allowed("User-agent: GPT\nDisallow: /\n", "GPTBot", "/x"));
    assert_true(allowed("User-agent: GPTBot-Extra\nDisallow: /\n", "GPTBot", "/x"));
    assert_true(allowed("User-agent: Google\nDisallow: /\n", "Google-Extended", "/x"));
}

static void test_every_agent_sharing_a_token_gets_the_group(void **state) {
    (void)state;
    /* The default list holds CCBot, CCBot/2.0 and CCBot/1.0: one token, three agents. */
    const char *list = "CCBot|CCBot/2.0|CCBot/1.0|*";
    assert_string_equal(verdicts("User-agent: CCBot\nDisallow: /\n", list, "/x"), "DDDA");
    assert_string_equal(verdicts("User-agent: CCBot/2.0\nDisallow: /\n", list, "/x"), "DDDA");
}

static void test_every_agent_sharing_a_token_skips_star_fallback(void **state) {
    (void)state;
    const char *body = "User-agent: CCBot\nAllow: /\n\nUser-agent: *\nDisallow: /\n";
    assert_string_equal(verdicts(body, "CCBot|CCBot/2.0|CCBot/1.0|*", "/x"), "AAAD");
}

static void test_default_list_ccbot_group_hits_all_ccbot_entries(void **state) {
    (void)state;
    /* AI2Bot Applebot-Extended Bytespider CCBot CCBot/2.0 CCBot/1.0 ClaudeBot cohere Diffbot Meta
     * Google-Extended GPTBot PanguBot * */
    assert_string_equal(default_verdicts("User-agent: CCBot\nDisallow: /\n", "/x"), "AAADDDAAAAAAAA");
}

/* ---- longest match ----------------------------------------------------------------------------- */

static void test_longer_disallow_beats_shorter_allow(void **state) {
    (void)state;
    const char *body = "User-agent: *\nAllow: /a\nDisallow: /a/b\n";
    assert_false(allowed(body, "GPTBot", "/a/b/c"));
    assert_true(allowed(body, "GPTBot", "/a/c"));
}

static void test_longer_allow_beats_shorter_disallow(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a\nAllow: /a/b\n";
    assert_true(allowed(body, "GPTBot", "/a/b/c"));
    assert_false(allowed(body, "GPTBot", "/a/c"));
}

static void test_allow_wins_tie(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\nDisallow: /a\nAllow: /a\n", "GPTBot", "/a"));
    assert_true(allowed("User-agent: *\nAllow: /a\nDisallow: /a\n", "GPTBot", "/a"));
}

static void test_allow_wins_tie_between_wildcard_patterns_of_equal_length(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*.x\nAllow: /a*x\n";
    assert_true(allowed(body, "GPTBot", "/a.x"));
}

static void test_longest_match_counts_pattern_length_with_wildcards(void **state) {
    (void)state;
    const char *body = "User-agent: *\nAllow: /page\nDisallow: /*.html\n";
    assert_false(allowed(body, "GPTBot", "/page.html"));
    assert_true(allowed(body, "GPTBot", "/page"));
}

static void test_end_anchored_allow_beats_root_disallow(void **state) {
    (void)state;
    const char *body = "User-agent: *\nAllow: /$\nDisallow: /\n";
    assert_true(allowed(body, "GPTBot", "/"));
    assert_true(allowed(body, "GPTBot", "http://example.com"));
    assert_false(allowed(body, "GPTBot", "/page"));
}

static void test_no_matching_rule_allows(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\nDisallow: /a\nDisallow: /b\n", "GPTBot", "/c"));
}

static void test_longest_match_compares_normalised_patterns(void **state) {
    (void)state;
    /* "/%61" is "/a": 2 octets, shorter than "/ab" although written with 4 */
    const char *body = "User-agent: *\nAllow: /ab\nDisallow: /%61\n";
    assert_true(allowed(body, "GPTBot", "/abc"));
    assert_false(allowed(body, "GPTBot", "/ax"));
}

static void test_equal_after_normalisation_is_a_tie(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\nDisallow: /a\nAllow: /%61\n", "GPTBot", "/a"));
    assert_true(allowed("User-agent: *\nDisallow: /%61\nAllow: /a\n", "GPTBot", "/a"));
}

/* ---- wildcards and the end anchor ------------------------------------------------------------------ */

static void test_wildcard_matches_any_run(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a*z\n";
    assert_false(allowed(body, "GPTBot", "/abcz"));
    assert_false(allowed(body, "GPTBot", "/a/b/c/z"));
    assert_true(allowed(body, "GPTBot", "/abc"));
}

static void test_wildcard_matches_empty_run(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a*z\n", "GPTBot", "/az"));
}

static void test_multiple_wildcards(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*/private/*.pdf\n";
    assert_false(allowed(body, "GPTBot", "/x/private/y.pdf"));
    assert_false(allowed(body, "GPTBot", "/x/y/private/z/w.pdf?v=1"));
    assert_true(allowed(body, "GPTBot", "/x/public/y.pdf"));
    assert_true(allowed(body, "GPTBot", "/x/private/y.txt"));
}

static void test_leading_wildcard(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: *.pdf\n";
    assert_false(allowed(body, "GPTBot", "/doc.pdf"));
    assert_false(allowed(body, "GPTBot", "/a/b/doc.pdf"));
    assert_true(allowed(body, "GPTBot", "/doc.txt"));
}

static void test_trailing_wildcard_is_a_prefix_match(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a*\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/abc"));
    assert_true(allowed(body, "GPTBot", "/b"));
}

static void test_consecutive_wildcards_act_as_one(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a**z\n";
    assert_false(allowed(body, "GPTBot", "/az"));
    assert_false(allowed(body, "GPTBot", "/a123z"));
    assert_true(allowed(body, "GPTBot", "/a123"));
}

static void test_wildcard_pattern_matches_a_prefix(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a*z\n", "GPTBot", "/axz/more"));
}

static void test_lone_star_pattern_matches_everything(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: *\n";
    assert_false(allowed(body, "GPTBot", "/"));
    assert_false(allowed(body, "GPTBot", "/any/thing?q=1"));
}

static void test_wildcard_backtracks_over_repeated_segment(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*ab*abc$\n";
    assert_false(allowed(body, "GPTBot", "/xabyababc"));
    assert_true(allowed(body, "GPTBot", "/xabc"));
}

static void test_dollar_anchors_the_end(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a$\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_true(allowed(body, "GPTBot", "/ab"));
    assert_true(allowed(body, "GPTBot", "/a/"));
    assert_true(allowed(body, "GPTBot", "/a?x=1"));
}

static void test_dollar_after_wildcard(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*.php$\n";
    assert_false(allowed(body, "GPTBot", "/index.php"));
    assert_false(allowed(body, "GPTBot", "/a.php/b.php"));
    assert_true(allowed(body, "GPTBot", "/index.php?x=1"));
    assert_true(allowed(body, "GPTBot", "/index.phpx"));
}

static void test_dollar_in_the_middle_is_literal(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a$b\n";
    assert_false(allowed(body, "GPTBot", "/a$b"));
    assert_false(allowed(body, "GPTBot", "/a$bc"));
    assert_true(allowed(body, "GPTBot", "/a"));
    assert_true(allowed(body, "GPTBot", "/ab"));
}

static void test_dollar_in_the_middle_of_wildcard_pattern_is_literal(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*$x\n";
    assert_false(allowed(body, "GPTBot", "/price$x"));
    assert_true(allowed(body, "GPTBot", "/pricex"));
    assert_true(allowed(body, "GPTBot", "/price"));
}

static void test_double_dollar_is_literal_then_anchor(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a$$\n";
    assert_false(allowed(body, "GPTBot", "/a$"));
    assert_true(allowed(body, "GPTBot", "/a"));
    assert_true(allowed(body, "GPTBot", "/a$x"));
}

static void test_wildcard_then_dollar_matches_everything_after(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a*$\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/abc?d"));
    assert_true(allowed(body, "GPTBot", "/b"));
}

/* A reference matcher for '*' and a final '$' (RFC 9309 §2.2.3), by plain recursion. */
static int ref_match(const char *p, size_t pl, int anchored, const char *s, size_t sl) {
    if (pl == 0) return !anchored || sl == 0;
    if (p[0] == '*') {
        for (size_t k = 0; k <= sl; k++)
            if (ref_match(p + 1, pl - 1, anchored, s + k, sl - k)) return 1;
        return 0;
    }
    return sl > 0 && p[0] == s[0] && ref_match(p + 1, pl - 1, anchored, s + 1, sl - 1);
}

static uint32_t lcg(uint32_t *x) {
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

/* Random rule sets over a tiny alphabet, decided by the engine and by a reference (longest
 * pattern among the matching rules wins, Allow wins ties). */
static void test_wildcards_agree_with_reference_matcher(void **state) {
    (void)state;
    static const char pat_chars[] = "/ab*$";
    static const char path_chars[] = "/ab$";
    uint32_t seed = 12345;
    optout_agents *a = agents_of("GPTBot");
    for (int iter = 0; iter < 3000; iter++) {
        char body[512], pats[4][8];
        int allow[4];
        size_t nrules = 1 + lcg(&seed) % 4, bl = 0;
        bl += (size_t)snprintf(body + bl, sizeof body - bl, "User-agent: *\n");
        for (size_t i = 0; i < nrules; i++) {
            size_t pl = 1 + lcg(&seed) % 6;
            for (size_t k = 0; k < pl; k++) pats[i][k] = pat_chars[lcg(&seed) % 5];
            pats[i][pl] = '\0';
            allow[i] = (int)(lcg(&seed) % 2);
            bl += (size_t)snprintf(body + bl, sizeof body - bl, "%s: %s\n", allow[i] ? "Allow" : "Disallow", pats[i]);
        }
        optout_robots *r = compile_n(body, bl, a);
        for (int u = 0; u < 8; u++) {
            char path[16];
            size_t sl = 1 + lcg(&seed) % 7;
            path[0] = '/';
            for (size_t k = 1; k < sl; k++) path[k] = path_chars[lcg(&seed) % 4];
            if (sl > 1 && path[1] == '/') path[1] = 'a'; /* "//x" would be an authority */
            path[sl] = '\0';
            size_t best = 0;
            int found = 0, best_allow = 1;
            for (size_t i = 0; i < nrules; i++) {
                size_t pl = strlen(pats[i]);
                int anchored = pats[i][pl - 1] == '$';
                if (!ref_match(pats[i], anchored ? pl - 1 : pl, anchored, path, sl)) continue;
                if (!found || pl > best || (pl == best && allow[i])) {
                    if (!found || pl > best) best_allow = allow[i];
                    else best_allow = best_allow || allow[i];
                    best = pl;
                    found = 1;
                }
            }
            int expect_allowed = !found || best_allow;
            if (!strcmp(path, "/robots.txt")) expect_allowed = 1;
            optout_agentset s;
            optout_robots_check(r, path, sl, &s);
            int got_allowed = !optout_agentset_has(&s, 0);
            if (got_allowed != expect_allowed)
                fail_msg("robots.txt:\n%spath %s: expected %s, got %s", body, path,
                         expect_allowed ? "allowed" : "disallowed", got_allowed ? "allowed" : "disallowed");
        }
        optout_robots_free(r);
    }
    optout_agents_free(a);
}

/* ---- normalisation -------------------------------------------------------------------------------- */

static void test_encoded_unreserved_pattern_matches_plain_url(void **state) {
    (void)state;
    /* RFC 9309 §2.2.2, Figure 4 */
    assert_false(allowed("User-agent: *\nDisallow: /foo/bar/%62%61%7A\n", "GPTBot", "/foo/bar/baz"));
}

static void test_plain_pattern_matches_encoded_unreserved_url(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /foo/bar/baz\n", "GPTBot", "/foo/bar/%62%61%7A"));
    assert_false(allowed("User-agent: *\nDisallow: /~user\n", "GPTBot", "/%7Euser"));
    assert_false(allowed("User-agent: *\nDisallow: /a-b.c_d\n", "GPTBot", "/a%2Db%2Ec%5Fd"));
}

static void test_non_ascii_pattern_matches_encoded_url(void **state) {
    (void)state;
    /* U+30C4 is E3 83 84 in UTF-8 (RFC 9309 Figure 4) */
    assert_false(allowed("User-agent: *\nDisallow: /foo/bar/\xE3\x83\x84\n", "GPTBot", "/foo/bar/%E3%83%84"));
    assert_false(allowed("User-agent: *\nDisallow: /foo/bar/\xE3\x83\x84\n", "GPTBot", "/foo/bar/%e3%83%84"));
}

static void test_encoded_pattern_matches_non_ascii_url(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /foo/bar/%E3%83%84\n", "GPTBot", "/foo/bar/\xE3\x83\x84"));
}

static void test_non_ascii_pattern_matches_non_ascii_url(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /caf\xC3\xA9\n", "GPTBot", "/caf\xC3\xA9/menu"));
    assert_true(allowed("User-agent: *\nDisallow: /caf\xC3\xA9\n", "GPTBot", "/cafe"));
}

static void test_hex_digits_compared_case_insensitively(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a%3c\n", "GPTBot", "/a%3C"));
    assert_false(allowed("User-agent: *\nDisallow: /a%3C\n", "GPTBot", "/a%3c"));
}

static void test_encoded_reserved_character_is_not_decoded(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a%2Fb\n";
    assert_true(allowed(body, "GPTBot", "/a/b"));
    assert_false(allowed(body, "GPTBot", "/a%2fb"));
    assert_true(allowed("User-agent: *\nDisallow: /a/b\n", "GPTBot", "/a%2Fb"));
}

static void test_percent_2a_is_literal_not_wildcard(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a%2Ab\n";
    assert_true(allowed(body, "GPTBot", "/axyzb"));
    assert_true(allowed(body, "GPTBot", "/ab"));
    assert_false(allowed(body, "GPTBot", "/a%2Ab"));
    assert_false(allowed(body, "GPTBot", "/a%2ab"));
}

static void test_percent_24_is_literal_not_anchor(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a%24\n";
    assert_true(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/a%24"));
    assert_false(allowed(body, "GPTBot", "/a%24/more")); /* not an anchor: still a prefix */
}

static void test_malformed_percent_escape_kept_literally(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a%zz\n", "GPTBot", "/a%zz"));
    assert_true(allowed("User-agent: *\nDisallow: /a%zz\n", "GPTBot", "/a"));
    assert_false(allowed("User-agent: *\nDisallow: /100%\n", "GPTBot", "/100%"));
}

/* ---- URLs: query, fragment, /robots.txt ------------------------------------------------------------ */

static void test_query_string_is_matched(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /*?\n";
    assert_false(allowed(body, "GPTBot", "/page?id=1"));
    assert_true(allowed(body, "GPTBot", "/page"));
}

static void test_query_prefix_rule(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /search?q=\n";
    assert_false(allowed(body, "GPTBot", "https://example.com/search?q=cats"));
    assert_true(allowed(body, "GPTBot", "https://example.com/search"));
    assert_true(allowed(body, "GPTBot", "https://example.com/search?lang=en&q=cats"));
}

static void test_root_query_matched(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /?\n", "GPTBot", "https://example.com?x=1"));
}

static void test_fragment_is_ignored(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /page$\n", "GPTBot", "https://example.com/page#top"));
    assert_true(allowed("User-agent: *\nDisallow: /*top\n", "GPTBot", "https://example.com/page#top"));
}

static void test_scheme_userinfo_host_and_port_are_ignored(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a\n";
    assert_false(allowed(body, "GPTBot", "https://user:pw@example.com:8080/a"));
    assert_true(allowed(body, "GPTBot", "https://a.example.com/b"));
}

static void test_path_params_are_matched(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a;jsessionid\n", "GPTBot", "https://e.com/a;jsessionid=1"));
}

static void test_robots_txt_always_allowed(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\n";
    assert_true(allowed(body, "GPTBot", "/robots.txt"));
    assert_true(allowed(body, "GPTBot", "https://example.com/robots.txt"));
    assert_true(allowed(body, "GPTBot", "https://example.com/robots.txt?x=1"));
    assert_true(allowed(body, "GPTBot", "https://example.com/robots.txt#frag"));
}

static void test_robots_txt_allowed_even_when_named(void **state) {
    (void)state;
    assert_true(allowed("User-agent: GPTBot\nDisallow: /robots.txt\n", "GPTBot", "/robots.txt"));
}

static void test_only_the_root_robots_txt_is_special(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\n";
    assert_false(allowed(body, "GPTBot", "/robots.txt.bak"));
    assert_false(allowed(body, "GPTBot", "/a/robots.txt"));
    assert_false(allowed(body, "GPTBot", "/robots.txt/x"));
}

/* ---- syntax: comments, BOM, line ends -------------------------------------------------------------- */

static void test_comment_after_rule_is_ignored(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a # keep out\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/abc"));
}

static void test_comment_without_space_ends_the_value(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a#b\n", "GPTBot", "/ax"));
}

static void test_comment_line_is_ignored(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\n# Disallow: /\n", "GPTBot", "/x"));
    assert_true(allowed("# User-agent: *\n# Disallow: /\n", "GPTBot", "/x"));
}

static void test_comment_after_user_agent_is_ignored(void **state) {
    (void)state;
    assert_false(allowed("User-agent: GPTBot # OpenAI\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_comment_lines_do_not_end_a_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\n# the rules\nUser-agent: ClaudeBot\n# more\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "DD");
}

static void test_full_utf8_bom_is_skipped(void **state) {
    (void)state;
    assert_false(allowed("\xEF\xBB\xBFUser-agent: *\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_partial_utf8_bom_two_bytes_is_skipped(void **state) {
    (void)state;
    assert_false(allowed("\xEF\xBBUser-agent: *\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_partial_utf8_bom_one_byte_is_skipped(void **state) {
    (void)state;
    assert_false(allowed("\xEFUser-agent: *\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_broken_bom_spoils_the_first_line(void **state) {
    (void)state;
    /* google ID_UTF8ByteOrderMarkIsSkipped/kUtf8FileBrokenBOM: the first line is not a key */
    assert_true(allowed("\xEF\x11\xBFUser-agent: *\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_bom_in_the_middle_is_not_skipped(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\n\xEF\xBB\xBF"
                        "Disallow: /\n",
                        "GPTBot", "/x"));
}

static void test_lf_line_ends(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\nUser-agent: *\nDisallow: /b\n";
    assert_string_equal(verdicts(body, "GPTBot|*", "/a"), "DA");
    assert_string_equal(verdicts(body, "GPTBot|*", "/b"), "AD");
}

static void test_cr_line_ends(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\rDisallow: /a\rUser-agent: *\rDisallow: /b\r";
    assert_string_equal(verdicts(body, "GPTBot|*", "/a"), "DA");
    assert_string_equal(verdicts(body, "GPTBot|*", "/b"), "AD");
}

static void test_crlf_line_ends(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\r\nDisallow: /a\r\nUser-agent: *\r\nDisallow: /b\r\n";
    assert_string_equal(verdicts(body, "GPTBot|*", "/a"), "DA");
    assert_string_equal(verdicts(body, "GPTBot|*", "/b"), "AD");
}

static void test_mixed_line_ends(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\r\nUser-agent: *\rDisallow: /b\n\r\nDisallow: /c";
    assert_string_equal(verdicts(body, "GPTBot|*", "/a"), "DA");
    assert_string_equal(verdicts(body, "GPTBot|*", "/b"), "AD");
    assert_string_equal(verdicts(body, "GPTBot|*", "/c"), "AD");
}

static void test_last_line_without_newline(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow: /a", "GPTBot", "/a"));
}

static void test_white_space_around_key_and_value(void **state) {
    (void)state;
    assert_false(allowed("  User-agent  :   GPTBot  \n\tDisallow\t:\t/a\t\n", "GPTBot", "/a"));
}

/* ---- leniency: missing colon and misspelled keys ---------------------------------------------------- */

static void test_missing_colon_accepted_for_two_words(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow /x\n", "GPTBot", "/x"));
    assert_false(allowed("User-agent GPTBot\nDisallow: /x\n", "GPTBot", "/x"));
}

static void test_missing_colon_with_three_words_ignored(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow /x /y\n";
    assert_true(allowed(body, "GPTBot", "/x"));
    assert_true(allowed(body, "GPTBot", "/y"));
    assert_true(allows_everything(body, "GPTBot"));
}

static void test_key_without_value_or_colon_ignored(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\nDisallow\n", "GPTBot", "/x"));
}

static void test_useragent_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("useragent: GPTBot\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_user_agent_with_space_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("user agent: GPTBot\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_dissallow_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndissallow: /x\n", "GPTBot", "/x"));
}

static void test_dissalow_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndissalow: /x\n", "GPTBot", "/x"));
}

static void test_disalow_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndisalow: /x\n", "GPTBot", "/x"));
}

static void test_diasllow_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndiasllow: /x\n", "GPTBot", "/x"));
}

static void test_disallaw_misspelling_accepted(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndisallaw: /x\n", "GPTBot", "/x"));
}

static void test_keys_are_case_insensitive(void **state) {
    (void)state;
    assert_false(allowed("USER-AGENT: *\nDISALLOW: /x\n", "GPTBot", "/x"));
    assert_true(allowed("user-agent: *\ndisallow: /\nALLOW: /x\n", "GPTBot", "/x"));
}

static void test_key_prefix_user_agent_x_is_user_agent(void **state) {
    (void)state;
    assert_false(allowed("user-agentX: GPTBot\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_key_prefix_disallow_x_is_disallow(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\ndisallowX: /x\n", "GPTBot", "/x"));
}

static void test_unrecognised_key_ignored(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\ndis-allow: /x\n", "GPTBot", "/x"));
    assert_true(allowed("agent: GPTBot\nDisallow: /x\n", "GPTBot", "/x"));
}

/* ---- group boundaries ---------------------------------------------------------------------------------- */

static void test_rules_before_any_user_agent_ignored(void **state) {
    (void)state;
    const char *body = "Disallow: /\nAllow: /x\nUser-agent: *\nDisallow: /b\n";
    assert_true(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/b"));
}

static void test_rules_before_any_user_agent_do_not_join_first_group(void **state) {
    (void)state;
    const char *body = "Disallow: /a\nUser-agent: GPTBot\nUser-agent: ClaudeBot\nDisallow: /b\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/a"), "AA");
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/b"), "DD");
}

static void test_sitemap_does_not_end_a_group(void **state) {
    (void)state;
    assert_false(allowed("User-agent: GPTBot\nSitemap: https://e.com/s.xml\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_sitemap_between_user_agents_keeps_one_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nSitemap: https://e.com/s.xml\nUser-agent: ClaudeBot\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "DD");
}

static void test_sitemap_inside_group_rules(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\nSitemap: https://e.com/s.xml\nDisallow: /b\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "/b"));
}

static void test_unknown_line_does_not_end_a_group(void **state) {
    (void)state;
    assert_false(allowed("User-agent: GPTBot\nCrawl-delay: 10\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_unknown_line_between_user_agents_keeps_one_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nCrawl-delay: 5\nUser-agent: ClaudeBot\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "DD");
}

static void test_garbage_line_does_not_end_a_group(void **state) {
    (void)state;
    assert_false(allowed("User-agent: GPTBot\nthis is not a directive\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_blank_line_does_not_end_a_group(void **state) {
    (void)state;
    assert_false(allowed("User-agent: GPTBot\n\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_blank_lines_between_user_agents_keep_one_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\n\n\nUser-agent: ClaudeBot\n\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "DD");
}

static void test_blank_line_inside_rules_keeps_the_group(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\n\nDisallow: /b\n";
    assert_false(allowed(body, "GPTBot", "/b"));
}

static void test_empty_disallow_allows_everything(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow:\n";
    assert_true(allowed(body, "GPTBot", "/"));
    assert_true(allowed(body, "GPTBot", "/anything"));
    assert_true(allows_everything(body, "GPTBot|*"));
}

static void test_empty_disallow_with_comment_allows_everything(void **state) {
    (void)state;
    assert_true(allowed("User-agent: *\nDisallow: # nothing\n", "GPTBot", "/x"));
}

static void test_empty_disallow_does_not_cancel_other_rules(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nDisallow:\nDisallow: /x\n", "GPTBot", "/x"));
}

static void test_empty_disallow_still_ends_the_user_agent_lines(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow:\nUser-agent: ClaudeBot\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "AD");
}

static void test_empty_allow_changes_nothing(void **state) {
    (void)state;
    assert_false(allowed("User-agent: *\nAllow:\nDisallow: /\n", "GPTBot", "/x"));
}

static void test_empty_body_allows_everything(void **state) {
    (void)state;
    assert_string_equal(verdicts_n("", 0, "GPTBot|*", "/x"), "AA");
    assert_true(allows_everything("", "GPTBot|*"));
}

/* ---- the 500 KiB limit -------------------------------------------------------------------------------- */

/* Fills buf[from, to) with comment lines, the last byte a newline. */
static void fill_comments(char *buf, size_t from, size_t to) {
    size_t i = from;
    while (i < to) {
        size_t line = to - i < 80 ? to - i : 80;
        if (to - i - line > 0 && to - i - line < 2) line -= 2; /* never leave a 1-byte tail */
        buf[i] = '#';
        memset(buf + i + 1, 'x', line - 1);
        buf[i + line - 1] = '\n';
        i += line;
    }
}

struct big_body {
    char *buf;
    size_t len;
};

/* head, comment filler up to `at`, then tail: `tail` begins at offset `at`. */
static struct big_body big_body(const char *head, size_t at, const char *tail) {
    struct big_body b;
    size_t hl = strlen(head), tl = strlen(tail);
    assert_true(at >= hl + 2);
    b.len = at + tl;
    b.buf = malloc(b.len + 1);
    assert_non_null(b.buf);
    memcpy(b.buf, head, hl);
    fill_comments(b.buf, hl, at);
    memcpy(b.buf + at, tail, tl);
    b.buf[b.len] = '\0';
    return b;
}

static const char *big_verdicts(struct big_body b, const char *url, int *truncated) {
    optout_agents *a = agents_of("GPTBot");
    optout_robots *r = compile_n(b.buf, b.len, a);
    *truncated = optout_robots_truncated(r);
    decide(r, a, url, verdict_buf);
    optout_robots_free(r);
    optout_agents_free(a);
    return verdict_buf;
}

static void test_rule_after_500_kib_is_ignored(void **state) {
    (void)state;
    struct big_body b = big_body("User-agent: *\nDisallow: /a\n", OPTOUT_ROBOTS_MAX_BYTES + 100, "Disallow: /b\n");
    int t;
    assert_string_equal(big_verdicts(b, "/a", &t), "D");
    assert_string_equal(big_verdicts(b, "/b", &t), "A");
    assert_true(t);
    free(b.buf);
}

static void test_line_straddling_the_limit_is_dropped(void **state) {
    (void)state;
    /* the limit falls just after "Disallow: /": read in part, that line would disallow all */
    const char *tail = "Disallow: /private\n";
    struct big_body b = big_body("User-agent: *\nDisallow: /a\n", OPTOUT_ROBOTS_MAX_BYTES - 11, tail);
    int t;
    assert_string_equal(big_verdicts(b, "/other", &t), "A");
    assert_string_equal(big_verdicts(b, "/private", &t), "A");
    assert_string_equal(big_verdicts(b, "/a", &t), "D");
    assert_true(t);
    free(b.buf);
}

static void test_line_ending_at_the_limit_is_kept(void **state) {
    (void)state;
    const char *tail = "Disallow: /c\nDisallow: /d\n";
    struct big_body b = big_body("User-agent: *\n", OPTOUT_ROBOTS_MAX_BYTES - 13, tail);
    int t;
    assert_string_equal(big_verdicts(b, "/c", &t), "D");
    assert_string_equal(big_verdicts(b, "/d", &t), "A");
    assert_true(t);
    free(b.buf);
}

static void test_body_of_exactly_500_kib_is_not_truncated(void **state) {
    (void)state;
    const char *tail = "Disallow: /e"; /* no final newline: still a complete last line */
    struct big_body b = big_body("User-agent: *\n", OPTOUT_ROBOTS_MAX_BYTES - strlen(tail), tail);
    assert_int_equal(b.len, OPTOUT_ROBOTS_MAX_BYTES);
    int t;
    assert_string_equal(big_verdicts(b, "/e", &t), "D");
    assert_false(t);
    free(b.buf);
}

static void test_body_one_byte_over_500_kib_is_truncated(void **state) {
    (void)state;
    const char *tail = "Disallow: /e\n";
    struct big_body b = big_body("User-agent: *\n", OPTOUT_ROBOTS_MAX_BYTES + 1 - strlen(tail), tail);
    assert_int_equal(b.len, OPTOUT_ROBOTS_MAX_BYTES + 1);
    int t;
    assert_string_equal(big_verdicts(b, "/e", &t), "A");
    assert_true(t);
    free(b.buf);
}

static void test_small_body_is_not_truncated(void **state) {
    (void)state;
    optout_agents *a = agents_of("GPTBot");
    optout_robots *r = compile_s("User-agent: *\nDisallow: /\n", a);
    assert_false(optout_robots_truncated(r));
    optout_robots_free(r);
    optout_agents_free(a);
}

/* ---- encoding ---------------------------------------------------------------------------------------- */

/* UTF-16 (with either byte order mark, or ASCII interleaved with NUL bytes, either byte order) is
 * recognised; UTF-8 (with or without its byte order mark), empty and binary bodies are not. And a
 * UTF-16 body indeed allows everything: that is why it is warned about. */
static void test_utf16_bodies_are_recognised(void **state) {
    (void)state;
    static const char ascii[] = "User-agent: *\nDisallow: /\n";
    char le[2 * sizeof ascii], be[2 * sizeof ascii];
    size_t n = sizeof ascii - 1;
    for (size_t i = 0; i < n; i++) {
        le[2 * i] = ascii[i], le[2 * i + 1] = 0;
        be[2 * i] = 0, be[2 * i + 1] = ascii[i];
    }
    assert_true(optout_robots_looks_utf16(le, 2 * n));
    assert_true(optout_robots_looks_utf16(be, 2 * n));
    assert_true(optout_robots_looks_utf16("\xff\xfe", 2));
    assert_true(optout_robots_looks_utf16("\xfe\xffxyz", 5));
    assert_false(optout_robots_looks_utf16(ascii, n));
    assert_false(optout_robots_looks_utf16("\xef\xbb\xbfUser-agent: *\n", 17));
    assert_false(optout_robots_looks_utf16("", 0));
    assert_false(optout_robots_looks_utf16("a\0b\0", 4)); /* too short to tell */
    static const char binary[] = "\0\0\0\0\x01\x02\0\0\0\0\0\0\x89PNG";
    assert_false(optout_robots_looks_utf16(binary, sizeof binary - 1));
    optout_agents *a = agents_of("GPTBot");
    optout_robots *r = optout_robots_compile(le, 2 * n, a, OPTOUT_MODE_RFC9309);
    assert_non_null(r);
    assert_true(optout_robots_allows_everything(r));
    optout_robots_free(r);
    optout_agents_free(a);
}

/* ---- hostile bodies --------------------------------------------------------------------------------- */

static void test_html_body_allows_everything(void **state) {
    (void)state;
    const char *body = "<!DOCTYPE html>\n<html><head><title>Not Found</title></head>\n"
                       "<body><h1>404</h1><p>User-agent: * Disallow: /</p></body></html>\n";
    assert_string_equal(verdicts(body, "GPTBot|*", "/x"), "AA");
    assert_true(allows_everything(body, "GPTBot|*"));
}

static void test_body_with_nul_bytes_is_parsed_past_them(void **state) {
    (void)state;
    static const char body[] = "User-agent: *\nDisallow: /a\0b\n\0\0\0\nDisallow: /c\n";
    size_t len = sizeof body - 1;
    assert_string_equal(verdicts_n(body, len, "GPTBot|*", "/c"), "DD");
    assert_string_equal(verdicts_n(body, len, "GPTBot|*", "/x"), "AA");
}

static void test_invalid_utf8_in_pattern_is_percent_encoded(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\xFF\xFE\n";
    assert_false(allowed(body, "GPTBot", "/%FF%FE"));
    assert_false(allowed(body, "GPTBot", "/%ff%fe/x"));
    assert_false(allowed(body, "GPTBot", "/\xFF\xFE"));
    assert_true(allowed(body, "GPTBot", "/x"));
}

static void test_invalid_utf8_in_user_agent_line_is_harmless(void **state) {
    (void)state;
    const char *body = "User-agent: \xC3\x28\xFF\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /g\n";
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/x"), "AA");
    assert_string_equal(verdicts(body, "GPTBot|ClaudeBot", "/g"), "DA");
}

static void test_random_binary_bodies_give_consistent_verdicts(void **state) {
    (void)state;
    uint32_t seed = 777;
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    size_t len = 1 << 16;
    char *body = malloc(len);
    assert_non_null(body);
    static const char *const urls[] = {"/", "/a", "/a/b?c", "http://e.com/x%00y", "/\xFF", "/robots.txt"};
    for (int iter = 0; iter < 20; iter++) {
        for (size_t i = 0; i < len; i++) body[i] = (char)(lcg(&seed) & 0xFF);
        optout_robots *r = compile_n(body, len, a);
        char first[OPTOUT_AGENTS_MAX + 1], again[OPTOUT_AGENTS_MAX + 1];
        for (size_t u = 0; u < sizeof urls / sizeof *urls; u++) {
            decide(r, a, urls[u], first);
            decide(r, a, urls[u], again);
            assert_string_equal(first, again);
        }
        optout_robots_free(r);
    }
    free(body);
    optout_agents_free(a);
}

static void test_random_robots_like_bodies_give_consistent_verdicts(void **state) {
    (void)state;
    /* fragments of real syntax shuffled together: exercises every parser branch */
    static const char *const pieces[] = {
        "User-agent: ", "Disallow: ", "Allow: ", "Sitemap: ", "*", "GPTBot", "CCBot/2.0", "/", "/a",
        "$", "%", "%4", "%41", "%2A", "#", "\n", "\r", "\r\n", " ", "\t", "\xEF\xBB\xBF", "\xC3\xA9", ":",
        "useragent", "disalow ", "?q=", "\0",
    };
    static const char *const urls[] = {"/", "/a", "/a$", "/A?q=1", "/%41", "/*", "/robots.txt", "x"};
    uint32_t seed = 99;
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    char body[4096];
    for (int iter = 0; iter < 2000; iter++) {
        size_t bl = 0;
        while (bl < sizeof body - 32) {
            const char *p = pieces[lcg(&seed) % (sizeof pieces / sizeof *pieces)];
            size_t pl = p[0] ? strlen(p) : 1;
            memcpy(body + bl, p, pl);
            bl += pl;
            if (lcg(&seed) % 64 == 0) break;
        }
        optout_robots *r = compile_n(body, bl, a);
        char out[OPTOUT_AGENTS_MAX + 1];
        for (size_t u = 0; u < sizeof urls / sizeof *urls; u++) decide(r, a, urls[u], out);
        optout_robots_free(r);
    }
    optout_agents_free(a);
}

static void test_very_long_line_does_not_crash(void **state) {
    (void)state;
    size_t n = 100000;
    char *body = malloc(n + 32);
    assert_non_null(body);
    strcpy(body, "User-agent: *\nDisallow: /");
    size_t hl = strlen(body);
    memset(body + hl, 'a', n);
    body[hl + n] = '\n';
    char out[4];
    optout_agents *a = agents_of("GPTBot");
    optout_robots *r = compile_n(body, hl + n + 1, a);
    decide(r, a, "/aaa", out);
    decide(r, a, "/b", out);
    assert_string_equal(out, "A");
    optout_robots_free(r);
    optout_agents_free(a);
    free(body);
}

/* "Disallow: /" + n times 'a' + "$": a line of 12 + n bytes. */
static char *long_anchored_rule(size_t n, size_t *len) {
    const char *head = "User-agent: *\nDisallow: /";
    size_t hl = strlen(head);
    char *body = malloc(hl + n + 2);
    assert_non_null(body);
    memcpy(body, head, hl);
    memset(body + hl, 'a', n);
    body[hl + n] = '$';
    body[hl + n + 1] = '\n';
    *len = hl + n + 2;
    return body;
}

/* "/" + n times 'a' */
static char *a_path(size_t n) {
    char *url = malloc(n + 2);
    assert_non_null(url);
    url[0] = '/';
    memset(url + 1, 'a', n);
    url[n + 1] = '\0';
    return url;
}

static void test_line_of_16663_bytes_is_kept_whole(void **state) {
    (void)state;
    size_t len;
    char *body = long_anchored_rule(16651, &len); /* the line is 16,663 bytes: '$' is kept */
    char *exact = a_path(16651), *longer = a_path(16652);
    assert_false(allowed_n(body, len, "GPTBot", exact));
    assert_true(allowed_n(body, len, "GPTBot", longer));
    free(body);
    free(exact);
    free(longer);
}

static void test_line_longer_than_16663_bytes_is_cut(void **state) {
    (void)state;
    size_t len;
    char *body = long_anchored_rule(16652, &len); /* 16,664 bytes: the final '$' is cut off */
    char *longer = a_path(16653);
    assert_false(allowed_n(body, len, "GPTBot", longer));
    free(body);
    free(longer);
}

static void test_very_long_url_is_handled(void **state) {
    (void)state;
    size_t n = 1 + 3 * 7000; /* "/" then "%61" ('a') 7000 times: longer than any stack buffer */
    char *url = malloc(n + 1);
    assert_non_null(url);
    url[0] = '/';
    for (size_t i = 1; i < n; i++) url[i] = "%61"[(i - 1) % 3];
    url[n] = '\0';
    assert_false(allowed("User-agent: *\nDisallow: /aaa\n", "GPTBot", url));
    assert_true(allowed("User-agent: *\nDisallow: /b\n", "GPTBot", url));
    free(url);
}

static void test_compiled_set_keeps_no_pointer_into_body_or_list(void **state) {
    (void)state;
    const char *text = "User-agent: GPTBot\nDisallow: /private\n";
    size_t len = strlen(text);
    char *body = malloc(len);
    assert_non_null(body);
    memcpy(body, text, len);
    optout_agents *a = agents_of("GPTBot|*");
    optout_robots *r = compile_n(body, len, a);
    memset(body, 'Z', len);
    free(body);
    optout_agents_free(a);
    optout_agentset s;
    assert_int_equal(optout_robots_check(r, "/private/1", 10, &s), 1);
    assert_true(optout_agentset_has(&s, 0));
    optout_robots_explanation e;
    assert_int_equal(optout_robots_explain(r, 0, "/private/1", 10, &e), 0);
    assert_int_equal(e.rule_pattern_len, 8);
    assert_memory_equal(e.rule_pattern, "/private", 8);
    assert_int_equal(optout_robots_agent_count(r), 2);
    optout_robots_free(r);
}

/* ---- the multi-agent verdict ---------------------------------------------------------------------------- */

static void test_check_returns_disallowed_set_and_count(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nUser-agent: ClaudeBot\nDisallow: /\n\n"
                       "User-agent: *\nDisallow: /private\n";
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    optout_robots *r = compile_n(body, strlen(body), a);
    optout_agentset s;
    assert_int_equal(optout_robots_check(r, "/x", 2, &s), 2);
    for (size_t i = 0; i < 14; i++) assert_int_equal(optout_agentset_has(&s, i), i == 6 || i == 11);
    assert_int_equal(optout_robots_check(r, "/private", 8, &s), 14);
    for (size_t i = 0; i < 14; i++) assert_true(optout_agentset_has(&s, i));
    optout_robots_free(r);
    optout_agents_free(a);
}

static void test_check_clears_the_set_when_all_allowed(void **state) {
    (void)state;
    optout_agents *a = agents_of("GPTBot|*");
    optout_robots *r = compile_s("User-agent: *\nDisallow: /x\n", a);
    optout_agentset s;
    memset(&s, 0xFF, sizeof s);
    assert_int_equal(optout_robots_check(r, "/y", 2, &s), 0);
    for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) assert_int_equal(s.words[w], 0);
    optout_robots_free(r);
    optout_agents_free(a);
}

static void test_check_with_256_agents_sets_the_right_bits(void **state) {
    (void)state;
    optout_agents *a = optout_agents_new();
    assert_non_null(a);
    char name[32];
    for (int i = 0; i < OPTOUT_AGENTS_MAX - 1; i++) {
        snprintf(name, sizeof name, "Agent%d", i);
        assert_int_equal(optout_agents_add(a, name, strlen(name)), 0);
    }
    assert_int_equal(optout_agents_add(a, "*", 1), 0);
    const char *body = "User-agent: Agent0\nUser-agent: Agent63\nUser-agent: Agent64\nUser-agent: Agent200\n"
                       "Disallow: /x\n\nUser-agent: *\nAllow: /\n";
    optout_robots *r = compile_n(body, strlen(body), a);
    optout_agentset s;
    assert_int_equal(optout_robots_check(r, "/x", 2, &s), 4);
    for (size_t i = 0; i < OPTOUT_AGENTS_MAX; i++)
        assert_int_equal(optout_agentset_has(&s, i), i == 0 || i == 63 || i == 64 || i == 200);
    optout_robots_free(r);
    /* and everyone through the star group */
    r = compile_s("User-agent: *\nDisallow: /\n", a);
    assert_int_equal(optout_robots_check(r, "/x", 2, &s), 256);
    optout_robots_free(r);
    optout_agents_free(a);
}

static void test_check_accepts_absolute_url_and_path(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /a\n";
    assert_false(allowed(body, "GPTBot", "/a"));
    assert_false(allowed(body, "GPTBot", "https://example.com/a"));
    assert_false(allowed(body, "GPTBot", "http://example.com/a?x"));
}

static void test_check_uses_only_len_bytes_of_url(void **state) {
    (void)state;
    optout_agents *a = agents_of("GPTBot");
    optout_robots *r = compile_s("User-agent: *\nDisallow: /a$\n", a);
    optout_agentset s;
    assert_int_equal(optout_robots_check(r, "/abc", 2, &s), 1);
    assert_int_equal(optout_robots_check(r, "/abc", 4, &s), 0);
    optout_robots_free(r);
    optout_agents_free(a);
}

/* ---- fast paths --------------------------------------------------------------------------------- */

static void test_allows_everything_without_disallow(void **state) {
    (void)state;
    assert_true(allows_everything("", "GPTBot|*"));
    assert_true(allows_everything("User-agent: *\nAllow: /\n", "GPTBot|*"));
    assert_true(allows_everything("User-agent: *\nDisallow:\n", "GPTBot|*"));
    assert_true(allows_everything("Disallow: /\n", "GPTBot|*"));
}

static void test_allows_everything_ignores_unlisted_agents(void **state) {
    (void)state;
    assert_true(allows_everything("User-agent: Other\nDisallow: /\n", "GPTBot|*"));
}

static void test_allows_everything_false_with_a_disallow(void **state) {
    (void)state;
    assert_false(allows_everything("User-agent: GPTBot\nDisallow: /x\n", "GPTBot|*"));
    assert_false(allows_everything("User-agent: *\nDisallow: /x\n", "GPTBot"));
    assert_false(allows_everything("User-agent: *\nDisallow: /x\n", "*"));
}

static void test_allows_everything_false_when_only_star_agent_disallowed(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nAllow: /\n\nUser-agent: *\nDisallow: /\n";
    assert_false(allows_everything(body, "GPTBot|*"));
    assert_true(allows_everything(body, "GPTBot"));
}

static void test_disallow_root_disallows_every_url(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\n";
    assert_string_equal(verdicts(body, "GPTBot|*", "/"), "DD");
    assert_string_equal(verdicts(body, "GPTBot|*", "/a/b/c"), "DD");
    assert_string_equal(verdicts(body, "GPTBot|*", "/?q=1"), "DD");
    assert_string_equal(verdicts(body, "GPTBot|*", "https://example.com"), "DD");
    assert_string_equal(verdicts(body, "GPTBot|*", "/robots.txt"), "AA");
}

static void test_disallow_slash_star_disallows_every_url(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: *\nDisallow: /*\n", "GPTBot", "/anything"), "D");
    assert_string_equal(verdicts("User-agent: *\nDisallow: /**\n", "GPTBot", "/"), "D");
}

static void test_disallow_root_with_allow_is_not_disallow_all(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /\nAllow: /public\n";
    assert_true(allowed(body, "GPTBot", "/public/x"));
    assert_false(allowed(body, "GPTBot", "/x"));
}

static void test_disallow_root_end_anchored_is_not_disallow_all(void **state) {
    (void)state;
    const char *body = "User-agent: *\nDisallow: /$\n";
    assert_false(allowed(body, "GPTBot", "/"));
    assert_true(allowed(body, "GPTBot", "/x"));
    assert_false(allowed("User-agent: *\nDisallow: /*$\n", "GPTBot", "/x"));
}

static void test_disallow_root_for_one_agent_only(void **state) {
    (void)state;
    assert_string_equal(verdicts("User-agent: GPTBot\nDisallow: /\n", "GPTBot|ClaudeBot|*", "/x"), "DAA");
}

/* ---- explanations ------------------------------------------------------------------------------------ */

static const char EXPLAIN_BODY[] = "User-agent: GPTBot\n"  /* 1 */
                                   "Disallow: /private\n"  /* 2 */
                                   "\n"                    /* 3 */
                                   "User-agent: *\n"       /* 4 */
                                   "Allow: /private/ok\n"  /* 5 */
                                   "Disallow: /\n";        /* 6 */

static void test_explain_own_group_rule(void **state) {
    (void)state;
    optout_robots_explanation e = explain(EXPLAIN_BODY, "GPTBot|ClaudeBot|*", 0, "/private/x");
    assert_false(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_RULE);
    assert_false(e.via_star);
    assert_int_equal(e.group_line, 1);
    assert_int_equal(e.rule_line, 2);
    assert_false(e.rule_allow);
    assert_string_equal(e.rule_pattern, "/private");
    assert_int_equal(e.rule_pattern_len, 8);
}

static void test_explain_star_fallback_rule(void **state) {
    (void)state;
    optout_robots_explanation e = explain(EXPLAIN_BODY, "GPTBot|ClaudeBot|*", 1, "/private/ok/1");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_RULE);
    assert_true(e.via_star);
    assert_int_equal(e.group_line, 4);
    assert_int_equal(e.rule_line, 5);
    assert_true(e.rule_allow);
    assert_string_equal(e.rule_pattern, "/private/ok");
}

static void test_explain_star_agent_is_not_via_star(void **state) {
    (void)state;
    optout_robots_explanation e = explain(EXPLAIN_BODY, "GPTBot|ClaudeBot|*", 2, "/x");
    assert_false(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_RULE);
    assert_false(e.via_star);
    assert_int_equal(e.group_line, 4);
    assert_int_equal(e.rule_line, 6);
    assert_string_equal(e.rule_pattern, "/");
}

static void test_explain_no_match(void **state) {
    (void)state;
    optout_robots_explanation e = explain(EXPLAIN_BODY, "GPTBot|ClaudeBot|*", 0, "/public");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_NO_MATCH);
    assert_false(e.via_star);
    assert_int_equal(e.rule_line, 0);
}

static void test_explain_no_match_via_star(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: *\nDisallow: /a\n", "ClaudeBot", 0, "/b");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_NO_MATCH);
    assert_true(e.via_star);
}

static void test_explain_own_group_without_rules_is_no_match(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\n", "GPTBot", 0, "/x");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_NO_MATCH);
    assert_false(e.via_star);
}

static void test_explain_no_group(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: Other\nDisallow: /\n", "GPTBot", 0, "/x");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_NO_GROUP);
    assert_false(e.via_star);
    assert_int_equal(e.group_line, 0);
    assert_int_equal(e.rule_line, 0);
}

static void test_explain_star_agent_without_star_group_is_no_group(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: Other\nDisallow: /\n", "GPTBot|*", 1, "/x");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_NO_GROUP);
    assert_false(e.via_star);
}

static void test_explain_robots_txt(void **state) {
    (void)state;
    optout_robots_explanation e = explain(EXPLAIN_BODY, "GPTBot|ClaudeBot|*", 0, "https://e.com/robots.txt");
    assert_true(e.allowed);
    assert_int_equal(e.why, OPTOUT_WHY_ROBOTS_TXT);
}

static void test_explain_group_line_is_first_user_agent_line(void **state) {
    (void)state;
    const char *body = "# header\nUser-agent: ClaudeBot\nUser-agent: GPTBot\nDisallow: /x\n";
    optout_robots_explanation e = explain(body, "GPTBot", 0, "/x");
    assert_int_equal(e.group_line, 2);
    assert_int_equal(e.rule_line, 4);
}

static void test_explain_merged_group_reports_its_own_lines(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /a\n\nUser-agent: Other\nDisallow: /\n\n"
                       "User-agent: GPTBot\nDisallow: /b\n";
    optout_robots_explanation e = explain(body, "GPTBot", 0, "/b");
    assert_int_equal(e.group_line, 7);
    assert_int_equal(e.rule_line, 8);
    e = explain(body, "GPTBot", 0, "/a");
    assert_int_equal(e.group_line, 1);
    assert_int_equal(e.rule_line, 2);
}

static void test_explain_line_numbers_count_cr_and_crlf(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: *\r\rDisallow: /a\r\nDisallow: /b\n", "GPTBot", 0, "/b");
    assert_int_equal(e.group_line, 1);
    assert_int_equal(e.rule_line, 4);
}

static void test_explain_pattern_is_normalised(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: *\nDisallow: /%7efoo/%c3%a9/\xC3\xA9*$\n", "GPTBot", 0,
                                          "/~foo/%C3%A9/%C3%A9x");
    assert_int_equal(e.why, OPTOUT_WHY_RULE);
    assert_string_equal(e.rule_pattern, "/~foo/%C3%A9/%C3%A9*$");
}

static void test_explain_longest_match_tie_reports_allow(void **state) {
    (void)state;
    optout_robots_explanation e = explain("User-agent: *\nDisallow: /a\nAllow: /a\n", "GPTBot", 0, "/a");
    assert_true(e.allowed);
    assert_true(e.rule_allow);
    assert_int_equal(e.rule_line, 3);
}

static void test_explain_bad_index_is_einval(void **state) {
    (void)state;
    optout_agents *a = agents_of("GPTBot|*");
    optout_robots *r = compile_n(EXPLAIN_BODY, strlen(EXPLAIN_BODY), a);
    optout_robots_explanation e;
    errno = 0;
    assert_int_equal(optout_robots_explain(r, 2, "/x", 2, &e), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(optout_robots_explain(r, 1000, "/x", 2, &e), -1);
    optout_robots_free(r);
    optout_agents_free(a);
}

/* ---- URL slicing: optout_url_path_query ---------------------------------------------------------- */

static void expect_path_query(const char *url, const char *expected) {
    const char *start = NULL;
    int slash = -1;
    size_t n = optout_url_path_query(url, strlen(url), &start, &slash);
    char got[512];
    assert_true(slash == 0 || slash == 1);
    assert_true(n + 2 < sizeof got);
    size_t o = 0;
    if (slash) got[o++] = '/';
    memcpy(got + o, start, n);
    got[o + n] = '\0';
    if (strcmp(got, expected) != 0) fail_msg("path of \"%s\": expected \"%s\", got \"%s\"", url, expected, got);
}

/* ../shared/conformance/aux_cases.jsonl, kind path_params_query (google/robotstxt
 * TestGetPathParamsQuery). */
static void test_path_query_conformance_cases(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"", "/"},
        {"http://www.example.com", "/"},
        {"http://www.example.com/", "/"},
        {"http://www.example.com/a", "/a"},
        {"http://www.example.com/a/", "/a/"},
        {"http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"},
        {"http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"},
        {"example.com", "/"},
        {"example.com/", "/"},
        {"example.com/a", "/a"},
        {"example.com/a/", "/a/"},
        {"example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"},
        {"a", "/"},
        {"a/", "/"},
        {"/a", "/a"},
        {"a/b", "/b"},
        {"example.com?a", "/?a"},
        {"example.com/a;b#c", "/a;b"},
        {"//a/b/c", "/b/c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect_path_query(cases[i][0], cases[i][1]);
}

static void test_path_query_drops_fragment_before_path(void **state) {
    (void)state;
    expect_path_query("http://example.com#frag", "/");
    expect_path_query("http://example.com/#frag", "/");
}

static void test_path_query_keeps_port_out(void **state) {
    (void)state;
    expect_path_query("https://user:pw@example.com:8443/a?b", "/a?b");
}

static void test_path_query_of_path_only_with_query(void **state) {
    (void)state;
    expect_path_query("/a?b=c#d", "/a?b=c");
    expect_path_query("/", "/");
}

static void test_path_query_uses_only_len_bytes(void **state) {
    (void)state;
    const char *start;
    int slash;
    size_t n = optout_url_path_query("http://e.com/abc", 14, &start, &slash);
    assert_int_equal(slash, 0);
    assert_int_equal(n, 2);
    assert_memory_equal(start, "/a", 2);
}

/* ---- optout_robots_normalize ------------------------------------------------------------------------------ */

static void expect_normalized(const char *in, const char *expected) {
    size_t len = strlen(in);
    char *out = malloc(3 * len + 1);
    assert_non_null(out);
    size_t n = optout_robots_normalize(in, len, out);
    out[n] = '\0';
    if (strcmp(out, expected) != 0) fail_msg("normalize \"%s\": expected \"%s\", got \"%s\"", in, expected, out);
    free(out);
}

static void test_normalize_leaves_plain_ascii(void **state) {
    (void)state;
    expect_normalized("/a/b?c=d&e=f;g", "/a/b?c=d&e=f;g");
    expect_normalized("", "");
}

static void test_normalize_decodes_unreserved(void **state) {
    (void)state;
    expect_normalized("/foo/bar/%62%61%7A", "/foo/bar/baz");
    expect_normalized("%41%5a%30%39%2D%2E%5F%7E", "AZ09-._~");
}

static void test_normalize_upper_cases_hex(void **state) {
    (void)state;
    expect_normalized("/a%3c%2fb", "/a%3C%2Fb");
    expect_normalized("%aa", "%AA");
}

static void test_normalize_encodes_non_ascii(void **state) {
    (void)state;
    expect_normalized("\xC3\xA1", "%C3%A1");
    expect_normalized("/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84");
    expect_normalized("\xFF", "%FF");
    expect_normalized("\x80", "%80");
}

static void test_normalize_keeps_star_and_dollar_escapes(void **state) {
    (void)state;
    expect_normalized("%2A%24", "%2A%24");
    expect_normalized("%2a%24", "%2A%24");
    expect_normalized("/a*b$", "/a*b$");
}

static void test_normalize_keeps_malformed_escapes(void **state) {
    (void)state;
    expect_normalized("%", "%");
    expect_normalized("%4", "%4");
    expect_normalized("a%zz", "a%zz");
    expect_normalized("%4g", "%4g");
    expect_normalized("%%41", "%A");
}

static void test_normalize_does_not_double_decode(void **state) {
    (void)state;
    expect_normalized("%2541", "%2541"); /* "%25" is '%', reserved: not decoded, so no "%41" */
}

static void test_normalize_is_idempotent(void **state) {
    (void)state;
    static const char *const inputs[] = {"/foo/%62%61%7a", "/caf\xC3\xA9?q=%c3%a9", "%2a%24%7e", "/%zz%"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        char once[64], twice[192];
        size_t n = optout_robots_normalize(inputs[i], strlen(inputs[i]), once);
        size_t m = optout_robots_normalize(once, n, twice);
        assert_int_equal(n, m);
        assert_memory_equal(once, twice, n);
    }
}

/* ---- concurrency ------------------------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 300

static const char *const THREAD_URLS[] = {
    "/", "/a", "/private/x", "/private/ok/1", "https://e.com/search?q=1", "/x.php", "/x.php?y",
    "/caf%C3%A9", "/caf\xC3\xA9", "/robots.txt", "/foo/bar/baz", "/deep/a/b/c/d.pdf", "/%7Euser",
};
#define NURLS (sizeof THREAD_URLS / sizeof *THREAD_URLS)

struct thread_job {
    const optout_robots *robots;
    const optout_agentset *expected;
    size_t expected_counts[NURLS];
    int mismatches;
};

static int check_thread(void *arg) {
    struct thread_job *job = arg;
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t u = 0; u < NURLS; u++) {
            optout_agentset s;
            size_t n = optout_robots_check(job->robots, THREAD_URLS[u], strlen(THREAD_URLS[u]), &s);
            if (n != job->expected_counts[u] || memcmp(&s, &job->expected[u], sizeof s) != 0) job->mismatches++;
            optout_robots_explanation e;
            for (size_t a = 0; a < optout_robots_agent_count(job->robots); a++) {
                if (optout_robots_explain(job->robots, a, THREAD_URLS[u], strlen(THREAD_URLS[u]), &e) != 0 ||
                    e.allowed != !optout_agentset_has(&job->expected[u], a))
                    job->mismatches++;
            }
        }
    }
    return 0;
}

static void test_concurrent_checks_give_the_same_answers(void **state) {
    (void)state;
    const char *body = "User-agent: GPTBot\nDisallow: /private\nAllow: /private/ok\n\n"
                       "User-agent: CCBot\nDisallow: /*.php$\nDisallow: /caf\xC3\xA9\n\n"
                       "User-agent: ClaudeBot\nDisallow: /\n\n"
                       "User-agent: *\nDisallow: /search?\nDisallow: /*.pdf\nDisallow: /foo/bar/%62%61%7A\n"
                       "Disallow: /~user\n";
    optout_agents *a = optout_agents_new_default();
    assert_non_null(a);
    optout_robots *r = compile_n(body, strlen(body), a);
    optout_agentset expected[NURLS];
    struct thread_job jobs[THREADS];
    size_t counts[NURLS];
    for (size_t u = 0; u < NURLS; u++) counts[u] = optout_robots_check(r, THREAD_URLS[u], strlen(THREAD_URLS[u]), &expected[u]);
    /* the answers themselves are worth a glance: GPTBot and ClaudeBot differ on /private/ok/1 */
    assert_false(optout_agentset_has(&expected[3], 11));
    assert_true(optout_agentset_has(&expected[3], 6));
    thrd_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t].robots = r;
        jobs[t].expected = expected;
        memcpy(jobs[t].expected_counts, counts, sizeof counts);
        jobs[t].mismatches = 0;
        assert_int_equal(thrd_create(&threads[t], check_thread, &jobs[t]), thrd_success);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(thrd_join(threads[t], NULL), thrd_success);
        assert_int_equal(jobs[t].mismatches, 0);
    }
    optout_robots_free(r);
    optout_agents_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_names_round_trip),
        /* groups */
        cmocka_unit_test(test_group_rules_apply_to_named_agent),
        cmocka_unit_test(test_group_of_other_agent_does_not_apply),
        cmocka_unit_test(test_consecutive_user_agent_lines_share_one_group),
        cmocka_unit_test(test_user_agent_after_rule_starts_new_group),
        cmocka_unit_test(test_groups_for_one_agent_are_merged),
        cmocka_unit_test(test_merged_groups_decide_by_longest_match_across_groups),
        cmocka_unit_test(test_groups_merged_when_named_by_different_versions),
        /* star fallback */
        cmocka_unit_test(test_star_group_applies_to_agent_without_group),
        cmocka_unit_test(test_star_group_ignored_when_agent_has_own_group),
        cmocka_unit_test(test_agent_named_in_group_without_rules_does_not_fall_back),
        cmocka_unit_test(test_agent_with_empty_disallow_does_not_fall_back),
        cmocka_unit_test(test_star_disallow_hits_star_agent_even_when_gptbot_allowed),
        cmocka_unit_test(test_star_agent_uses_only_star_groups),
        cmocka_unit_test(test_star_agent_allowed_without_star_group),
        cmocka_unit_test(test_no_own_group_and_no_star_group_allows),
        cmocka_unit_test(test_star_and_named_agent_in_one_group),
        cmocka_unit_test(test_star_groups_are_merged),
        cmocka_unit_test(test_star_with_trailing_text_is_star),
        cmocka_unit_test(test_star_prefixed_name_is_not_star),
        /* agent tokens */
        cmocka_unit_test(test_user_agent_value_with_version_matches_agent),
        cmocka_unit_test(test_agent_with_version_matches_user_agent_without),
        cmocka_unit_test(test_agent_with_version_matches_other_version),
        cmocka_unit_test(test_ai2bot_group_matches_ai2bot),
        cmocka_unit_test(test_ai2bot_group_does_not_match_agent_ai),
        cmocka_unit_test(test_ai_group_does_not_match_ai2bot),
        cmocka_unit_test(test_user_agent_with_space_matches_agent_with_space),
        cmocka_unit_test(test_user_agent_with_space_compared_by_first_word),
        cmocka_unit_test(test_agent_match_is_case_insensitive),
        cmocka_unit_test(test_agent_match_is_not_substring),
        cmocka_unit_test(test_every_agent_sharing_a_token_gets_the_group),
        cmocka_unit_test(test_every_agent_sharing_a_token_skips_star_fallback),
        cmocka_unit_test(test_default_list_ccbot_group_hits_all_ccbot_entries),
        /* longest match */
        cmocka_unit_test(test_longer_disallow_beats_shorter_allow),
        cmocka_unit_test(test_longer_allow_beats_shorter_disallow),
        cmocka_unit_test(test_allow_wins_tie),
        cmocka_unit_test(test_allow_wins_tie_between_wildcard_patterns_of_equal_length),
        cmocka_unit_test(test_longest_match_counts_pattern_length_with_wildcards),
        cmocka_unit_test(test_end_anchored_allow_beats_root_disallow),
        cmocka_unit_test(test_no_matching_rule_allows),
        cmocka_unit_test(test_longest_match_compares_normalised_patterns),
        cmocka_unit_test(test_equal_after_normalisation_is_a_tie),
        /* wildcards, $ */
        cmocka_unit_test(test_wildcard_matches_any_run),
        cmocka_unit_test(test_wildcard_matches_empty_run),
        cmocka_unit_test(test_multiple_wildcards),
        cmocka_unit_test(test_leading_wildcard),
        cmocka_unit_test(test_trailing_wildcard_is_a_prefix_match),
        cmocka_unit_test(test_consecutive_wildcards_act_as_one),
        cmocka_unit_test(test_wildcard_pattern_matches_a_prefix),
        cmocka_unit_test(test_lone_star_pattern_matches_everything),
        cmocka_unit_test(test_wildcard_backtracks_over_repeated_segment),
        cmocka_unit_test(test_dollar_anchors_the_end),
        cmocka_unit_test(test_dollar_after_wildcard),
        cmocka_unit_test(test_dollar_in_the_middle_is_literal),
        cmocka_unit_test(test_dollar_in_the_middle_of_wildcard_pattern_is_literal),
        cmocka_unit_test(test_double_dollar_is_literal_then_anchor),
        cmocka_unit_test(test_wildcard_then_dollar_matches_everything_after),
        cmocka_unit_test(test_wildcards_agree_with_reference_matcher),
        /* normalisation */
        cmocka_unit_test(test_encoded_unreserved_pattern_matches_plain_url),
        cmocka_unit_test(test_plain_pattern_matches_encoded_unreserved_url),
        cmocka_unit_test(test_non_ascii_pattern_matches_encoded_url),
        cmocka_unit_test(test_encoded_pattern_matches_non_ascii_url),
        cmocka_unit_test(test_non_ascii_pattern_matches_non_ascii_url),
        cmocka_unit_test(test_hex_digits_compared_case_insensitively),
        cmocka_unit_test(test_encoded_reserved_character_is_not_decoded),
        cmocka_unit_test(test_percent_2a_is_literal_not_wildcard),
        cmocka_unit_test(test_percent_24_is_literal_not_anchor),
        cmocka_unit_test(test_malformed_percent_escape_kept_literally),
        /* URLs */
        cmocka_unit_test(test_query_string_is_matched),
        cmocka_unit_test(test_query_prefix_rule),
        cmocka_unit_test(test_root_query_matched),
        cmocka_unit_test(test_fragment_is_ignored),
        cmocka_unit_test(test_scheme_userinfo_host_and_port_are_ignored),
        cmocka_unit_test(test_path_params_are_matched),
        cmocka_unit_test(test_robots_txt_always_allowed),
        cmocka_unit_test(test_robots_txt_allowed_even_when_named),
        cmocka_unit_test(test_only_the_root_robots_txt_is_special),
        /* syntax */
        cmocka_unit_test(test_comment_after_rule_is_ignored),
        cmocka_unit_test(test_comment_without_space_ends_the_value),
        cmocka_unit_test(test_comment_line_is_ignored),
        cmocka_unit_test(test_comment_after_user_agent_is_ignored),
        cmocka_unit_test(test_comment_lines_do_not_end_a_group),
        cmocka_unit_test(test_full_utf8_bom_is_skipped),
        cmocka_unit_test(test_partial_utf8_bom_two_bytes_is_skipped),
        cmocka_unit_test(test_partial_utf8_bom_one_byte_is_skipped),
        cmocka_unit_test(test_broken_bom_spoils_the_first_line),
        cmocka_unit_test(test_bom_in_the_middle_is_not_skipped),
        cmocka_unit_test(test_lf_line_ends),
        cmocka_unit_test(test_cr_line_ends),
        cmocka_unit_test(test_crlf_line_ends),
        cmocka_unit_test(test_mixed_line_ends),
        cmocka_unit_test(test_last_line_without_newline),
        cmocka_unit_test(test_white_space_around_key_and_value),
        /* leniency */
        cmocka_unit_test(test_missing_colon_accepted_for_two_words),
        cmocka_unit_test(test_missing_colon_with_three_words_ignored),
        cmocka_unit_test(test_key_without_value_or_colon_ignored),
        cmocka_unit_test(test_useragent_misspelling_accepted),
        cmocka_unit_test(test_user_agent_with_space_misspelling_accepted),
        cmocka_unit_test(test_dissallow_misspelling_accepted),
        cmocka_unit_test(test_dissalow_misspelling_accepted),
        cmocka_unit_test(test_disalow_misspelling_accepted),
        cmocka_unit_test(test_diasllow_misspelling_accepted),
        cmocka_unit_test(test_disallaw_misspelling_accepted),
        cmocka_unit_test(test_keys_are_case_insensitive),
        cmocka_unit_test(test_key_prefix_user_agent_x_is_user_agent),
        cmocka_unit_test(test_key_prefix_disallow_x_is_disallow),
        cmocka_unit_test(test_unrecognised_key_ignored),
        /* group boundaries */
        cmocka_unit_test(test_rules_before_any_user_agent_ignored),
        cmocka_unit_test(test_rules_before_any_user_agent_do_not_join_first_group),
        cmocka_unit_test(test_sitemap_does_not_end_a_group),
        cmocka_unit_test(test_sitemap_between_user_agents_keeps_one_group),
        cmocka_unit_test(test_sitemap_inside_group_rules),
        cmocka_unit_test(test_unknown_line_does_not_end_a_group),
        cmocka_unit_test(test_unknown_line_between_user_agents_keeps_one_group),
        cmocka_unit_test(test_garbage_line_does_not_end_a_group),
        cmocka_unit_test(test_blank_line_does_not_end_a_group),
        cmocka_unit_test(test_blank_lines_between_user_agents_keep_one_group),
        cmocka_unit_test(test_blank_line_inside_rules_keeps_the_group),
        cmocka_unit_test(test_empty_disallow_allows_everything),
        cmocka_unit_test(test_empty_disallow_with_comment_allows_everything),
        cmocka_unit_test(test_empty_disallow_does_not_cancel_other_rules),
        cmocka_unit_test(test_empty_disallow_still_ends_the_user_agent_lines),
        cmocka_unit_test(test_empty_allow_changes_nothing),
        cmocka_unit_test(test_empty_body_allows_everything),
        /* 500 KiB */
        cmocka_unit_test(test_rule_after_500_kib_is_ignored),
        cmocka_unit_test(test_line_straddling_the_limit_is_dropped),
        cmocka_unit_test(test_line_ending_at_the_limit_is_kept),
        cmocka_unit_test(test_body_of_exactly_500_kib_is_not_truncated),
        cmocka_unit_test(test_body_one_byte_over_500_kib_is_truncated),
        cmocka_unit_test(test_small_body_is_not_truncated),
        cmocka_unit_test(test_utf16_bodies_are_recognised),
        /* hostile bodies */
        cmocka_unit_test(test_html_body_allows_everything),
        cmocka_unit_test(test_body_with_nul_bytes_is_parsed_past_them),
        cmocka_unit_test(test_invalid_utf8_in_pattern_is_percent_encoded),
        cmocka_unit_test(test_invalid_utf8_in_user_agent_line_is_harmless),
        cmocka_unit_test(test_random_binary_bodies_give_consistent_verdicts),
        cmocka_unit_test(test_random_robots_like_bodies_give_consistent_verdicts),
        cmocka_unit_test(test_very_long_line_does_not_crash),
        cmocka_unit_test(test_line_of_16663_bytes_is_kept_whole),
        cmocka_unit_test(test_line_longer_than_16663_bytes_is_cut),
        cmocka_unit_test(test_very_long_url_is_handled),
        cmocka_unit_test(test_compiled_set_keeps_no_pointer_into_body_or_list),
        /* multi-agent verdict */
        cmocka_unit_test(test_check_returns_disallowed_set_and_count),
        cmocka_unit_test(test_check_clears_the_set_when_all_allowed),
        cmocka_unit_test(test_check_with_256_agents_sets_the_right_bits),
        cmocka_unit_test(test_check_accepts_absolute_url_and_path),
        cmocka_unit_test(test_check_uses_only_len_bytes_of_url),
        /* fast paths */
        cmocka_unit_test(test_allows_everything_without_disallow),
        cmocka_unit_test(test_allows_everything_ignores_unlisted_agents),
        cmocka_unit_test(test_allows_everything_false_with_a_disallow),
        cmocka_unit_test(test_allows_everything_false_when_only_star_agent_disallowed),
        cmocka_unit_test(test_disallow_root_disallows_every_url),
        cmocka_unit_test(test_disallow_slash_star_disallows_every_url),
        cmocka_unit_test(test_disallow_root_with_allow_is_not_disallow_all),
        cmocka_unit_test(test_disallow_root_end_anchored_is_not_disallow_all),
        cmocka_unit_test(test_disallow_root_for_one_agent_only),
        /* explain */
        cmocka_unit_test(test_explain_own_group_rule),
        cmocka_unit_test(test_explain_star_fallback_rule),
        cmocka_unit_test(test_explain_star_agent_is_not_via_star),
        cmocka_unit_test(test_explain_no_match),
        cmocka_unit_test(test_explain_no_match_via_star),
        cmocka_unit_test(test_explain_own_group_without_rules_is_no_match),
        cmocka_unit_test(test_explain_no_group),
        cmocka_unit_test(test_explain_star_agent_without_star_group_is_no_group),
        cmocka_unit_test(test_explain_robots_txt),
        cmocka_unit_test(test_explain_group_line_is_first_user_agent_line),
        cmocka_unit_test(test_explain_merged_group_reports_its_own_lines),
        cmocka_unit_test(test_explain_line_numbers_count_cr_and_crlf),
        cmocka_unit_test(test_explain_pattern_is_normalised),
        cmocka_unit_test(test_explain_longest_match_tie_reports_allow),
        cmocka_unit_test(test_explain_bad_index_is_einval),
        /* URL slicing, normaliser */
        cmocka_unit_test(test_path_query_conformance_cases),
        cmocka_unit_test(test_path_query_drops_fragment_before_path),
        cmocka_unit_test(test_path_query_keeps_port_out),
        cmocka_unit_test(test_path_query_of_path_only_with_query),
        cmocka_unit_test(test_path_query_uses_only_len_bytes),
        cmocka_unit_test(test_normalize_leaves_plain_ascii),
        cmocka_unit_test(test_normalize_decodes_unreserved),
        cmocka_unit_test(test_normalize_upper_cases_hex),
        cmocka_unit_test(test_normalize_encodes_non_ascii),
        cmocka_unit_test(test_normalize_keeps_star_and_dollar_escapes),
        cmocka_unit_test(test_normalize_keeps_malformed_escapes),
        cmocka_unit_test(test_normalize_does_not_double_decode),
        cmocka_unit_test(test_normalize_is_idempotent),
        /* threads */
        cmocka_unit_test(test_concurrent_checks_give_the_same_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
