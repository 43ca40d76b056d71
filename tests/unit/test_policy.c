/* test_policy.c — granularity, registrable domains, host overrides and the sample
 * (include/optout/policy.h).
 *
 * The sample hash is recomputed here from its definition (FNV-1a 64, then murmur3's fmix64); the
 * override files and blocked_hosts.tsv inputs are written by hand in a private directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/policy.h"

#include "../support/testdir.h"

/* ---- granularity ---------------------------------------------------------------------------- */

static void test_granularity_names(void **state) {
    (void)state;
    const char *names[] = {"url", "host", "domain"};
    for (int i = 0; i < 3; i++) {
        optout_granularity g = (optout_granularity)-1;
        assert_int_equal(optout_granularity_parse(names[i], &g), 0);
        assert_int_equal(g, i);
        assert_string_equal(optout_granularity_name(g), names[i]);
    }
    optout_granularity g;
    assert_int_equal(optout_granularity_parse("URL", &g), -1);
    assert_int_equal(optout_granularity_parse("", &g), -1);
    assert_int_equal(optout_granularity_parse("site", &g), -1);
}

/* ---- the sample ----------------------------------------------------------------------------- */

static uint64_t reference_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static void test_sample_hash(void **state) {
    (void)state;
    const char *keys[] = {"", "a", "doc-1", "<urn:uuid:0d9a1c1e>", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(optout_sample_hash(keys[i], strlen(keys[i])) == reference_hash(keys[i], strlen(keys[i])));
    /* the length, not a NUL, ends the key */
    assert_true(optout_sample_hash("ab\0c", 4) == reference_hash("ab\0c", 4));
    assert_true(optout_sample_hash("ab\0c", 4) != optout_sample_hash("ab", 2));
}

static void test_sample_parse(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int rc;
        uint32_t ppm;
    } cases[] = {
        {"1", 0, 1000000},   {"0.01", 0, 10000}, {"1e-3", 0, 1000}, {"0.5", 0, 500000},
        {"1e-9", 0, 1},      /* rounded, at least 1 */
        {"0.0000015", 0, 2}, /* 1.5 ppm rounds to 2 */
        {"0", -1, 0},        {"-0.5", -1, 0},   {"1.01", -1, 0},  {"2", -1, 0},
        {"", -1, 0},         {"abc", -1, 0},    {"0.5x", -1, 0},  {"nan", -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t ppm = 0;
        int rc = optout_sample_parse(cases[i].text, &ppm);
        if (rc != cases[i].rc) fail_msg("optout_sample_parse(\"%s\") returned %d", cases[i].text, rc);
        if (rc == 0 && ppm != cases[i].ppm)
            fail_msg("optout_sample_parse(\"%s\") gave %u ppm, want %u", cases[i].text, ppm, cases[i].ppm);
    }
}

/* A smaller sample is inside a larger one, and its size is about right. */
static void test_sample_nested(void **state) {
    (void)state;
    size_t in_small = 0, in_large = 0;
    for (int i = 0; i < 20000; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "doc-%d", i);
        uint64_t h = optout_sample_hash(key, (size_t)n);
        int small = optout_sample_in(h, 10000), large = optout_sample_in(h, 100000);
        assert_true(!small || large);
        assert_true(optout_sample_in(h, 0)); /* 0: every document */
        in_small += (size_t)small, in_large += (size_t)large;
    }
    /* 1% and 10% of 20,000: binomial standard deviations 14 and 42; 6 of them is generous */
    assert_in_range(in_small, 200 - 84, 200 + 84);
    assert_in_range(in_large, 2000 - 252, 2000 + 252);
}

/* ---- registrable domains -------------------------------------------------------------------- */

static void test_registrable_domain(void **state) {
    (void)state;
    static const struct {
        const char *host, *domain;
    } cases[] = {
        {"www.example.com", "example.com"},
        {"example.com", "example.com"},
        {"a.b.example.co.uk", "example.co.uk"},
        {"co.uk", "co.uk"},                /* a public suffix is its own domain */
        {"www.example.com:8080", "example.com"}, /* port set aside */
        {"1.2.3.4", "1.2.3.4"},            /* an IP address is its own domain */
        {"foo.blogspot.com", "foo.blogspot.com"}, /* private section: blogspot.com is a suffix */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[OPTOUT_HOSTKEY_MAX];
        size_t n = optout_registrable_domain(cases[i].host, strlen(cases[i].host), out);
        if (n != strlen(cases[i].domain) || memcmp(out, cases[i].domain, n) != 0)
            fail_msg("registrable domain of %s: got %.*s, want %s", cases[i].host, (int)n, out, cases[i].domain);
    }
}

/* ---- overrides ------------------------------------------------------------------------------ */

static optout_overrides *load(const char *keep, const char *remove, char *err, size_t errlen) {
    return optout_overrides_load(keep, remove, OPTOUT_HOSTKEY_CANONICAL, err, errlen);
}

static optout_override match(const optout_overrides *o, const char *host, const char **entry) {
    return optout_overrides_match(o, host, strlen(host), entry);
}

static void test_overrides_most_specific(void **state) {
    (void)state;
    const char *keep = twrite("keep.txt", "# hosts we keep\n\n   WWW.Example.COM.  \nkept.test # trailing\n");
    const char *remove = twrite("remove.txt", "*.example.com\n*.sub.example.com\nother.test:8080\n");
    char err[256] = "";
    optout_overrides *o = load(keep, remove, err, sizeof err);
    if (!o) fail_msg("load: %s", err);
    const char *entry = NULL;
    assert_int_equal(match(o, "www.example.com", &entry), OPTOUT_OVERRIDE_KEEP);
    assert_string_equal(entry, "www.example.com");
    assert_int_equal(match(o, "example.com", &entry), OPTOUT_OVERRIDE_REMOVE);
    assert_string_equal(entry, "*.example.com");
    assert_int_equal(match(o, "a.example.com:8443", &entry), OPTOUT_OVERRIDE_REMOVE); /* any port */
    assert_int_equal(match(o, "x.sub.example.com", &entry), OPTOUT_OVERRIDE_REMOVE);
    assert_string_equal(entry, "*.sub.example.com"); /* the longest domain */
    assert_int_equal(match(o, "other.test:8080", &entry), OPTOUT_OVERRIDE_REMOVE);
    assert_int_equal(match(o, "other.test", NULL), OPTOUT_OVERRIDE_NONE); /* exact: the port counts */
    assert_int_equal(match(o, "notexample.com", NULL), OPTOUT_OVERRIDE_NONE);
    assert_int_equal(match(o, "kept.test", NULL), OPTOUT_OVERRIDE_KEEP);
    assert_int_equal(match(o, "www.example.com.evil", NULL), OPTOUT_OVERRIDE_NONE);
    assert_true(optout_overrides_bytes(o) > 0);
    optout_overrides_free(o);

    /* one list alone */
    o = load(NULL, remove, err, sizeof err);
    assert_non_null(o);
    assert_int_equal(match(o, "www.example.com", NULL), OPTOUT_OVERRIDE_REMOVE);
    optout_overrides_free(o);
}

static void test_overrides_errors(void **state) {
    (void)state;
    char err[512];
    const char *a = twrite("a.txt", "one.test\ntwo.test\n");
    const char *b = twrite("b.txt", "three.test\nTWO.test\n");
    err[0] = 0;
    assert_null(load(a, b, err, sizeof err)); /* the same host in both lists */
    assert_non_null(strstr(err, "b.txt:2"));

    const char *bad = twrite("bad.txt", "ok.test\n\nhttp://no/path\n");
    err[0] = 0;
    assert_null(load(bad, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad.txt:3"));

    err[0] = 0;
    assert_null(load(tpath("missing.txt"), NULL, err, sizeof err));
    assert_non_null(strstr(err, "missing.txt"));
}

/* ---- domains and the granularity ------------------------------------------------------------ */

static optout_agents *three_agents(void) {
    optout_agents *a = optout_agents_new();
    assert_non_null(a);
    assert_int_equal(optout_agents_add(a, "GPTBot", 6), 0);
    assert_int_equal(optout_agents_add(a, "CCBot", 5), 0);
    assert_int_equal(optout_agents_add(a, "*", 1), 0);
    return a;
}

static void test_domains_from_blocked(void **state) {
    (void)state;
    optout_agents *agents = three_agents();
    const char *tsv = twrite("blocked_hosts.tsv", "#host\tagents\twhole_site_agents\twhole_site\n"
                                                      "a.example.co.uk\tGPTBot\t-\tno\n"
                                                      "b.example.co.uk\tCCBot\tCCBot\tyes\n"
                                                      "www.other.test\t*\t-\tno\n");
    char err[256] = "";
    optout_domains *d = optout_domains_from_blocked(tsv, agents, err, sizeof err);
    if (!d) fail_msg("from_blocked: %s", err);
    assert_int_equal(optout_domains_count(d), 2);
    const optout_agentset *s = optout_domains_get(d, "example.co.uk", strlen("example.co.uk"));
    assert_non_null(s);
    assert_true(optout_agentset_has(s, 0) && optout_agentset_has(s, 1) && !optout_agentset_has(s, 2));
    assert_null(optout_domains_get(d, "co.uk", 5));
    assert_null(optout_domains_get(d, "example.co", 10));

    /* written and read back: the same table */
    const char *path = tpath("%s", OPTOUT_DOMAINS_FILE);
    assert_int_equal(optout_domains_write(d, path, agents, err, sizeof err), 0);
    optout_domains *back = optout_domains_load(path, agents, err, sizeof err);
    if (!back) fail_msg("load: %s", err);
    assert_int_equal(optout_domains_count(back), 2);
    s = optout_domains_get(back, "other.test", strlen("other.test"));
    assert_non_null(s);
    assert_true(optout_agentset_has(s, 2) && !optout_agentset_has(s, 0));

    /* the policy: domain granularity adds the domain's agents to a URL's own */
    optout_policy p = {.granularity = OPTOUT_GRANULARITY_DOMAIN, .domains = back};
    optout_agentset set;
    optout_agentset_clear(&set);
    char domain[OPTOUT_HOSTKEY_MAX] = "junk";
    size_t n = optout_policy_extend(&p, "c.example.co.uk", strlen("c.example.co.uk"), NULL, 3, &set, domain);
    assert_int_equal(n, 2);
    assert_string_equal(domain, "example.co.uk");
    /* url granularity: nothing added */
    optout_policy url = {.granularity = OPTOUT_GRANULARITY_URL};
    optout_agentset one;
    optout_agentset_clear(&one);
    optout_agentset_add(&one, 2);
    assert_int_equal(optout_policy_extend(&url, "c.example.co.uk", 15, NULL, 3, &one, domain), 1);
    assert_string_equal(domain, "");
    optout_domains_free(back);
    optout_domains_free(d);

    /* an agent the list does not have */
    const char *unknown = twrite("unknown.tsv", "#host\tagents\twhole_site_agents\twhole_site\n"
                                                    "a.test\tNoSuchBot\t-\tno\n");
    assert_null(optout_domains_from_blocked(unknown, agents, err, sizeof err));
    optout_agents_free(agents);
}

/* Host granularity: an agent the host's robots.txt disallows anything is added. */
static void test_extend_host(void **state) {
    (void)state;
    optout_agents *agents = three_agents();
    const char *body = "User-agent: CCBot\nDisallow: /private/\n\nUser-agent: *\nAllow: /\n";
    optout_robots *rules = optout_robots_compile(body, strlen(body), agents, OPTOUT_MODE_RFC9309);
    assert_non_null(rules);
    optout_policy p = {.granularity = OPTOUT_GRANULARITY_HOST};
    optout_agentset set;
    optout_agentset_clear(&set);
    assert_int_equal(optout_policy_extend(&p, "h.test", 6, rules, 3, &set, NULL), 1);
    assert_true(optout_agentset_has(&set, 1));
    /* without rules (outcome not ok) nothing is added */
    optout_agentset_clear(&set);
    assert_int_equal(optout_policy_extend(&p, "h.test", 6, NULL, 3, &set, NULL), 0);
    optout_robots_free(rules);
    optout_agents_free(agents);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_granularity_names),
        cmocka_unit_test(test_sample_hash),
        cmocka_unit_test(test_sample_parse),
        cmocka_unit_test(test_sample_nested),
        cmocka_unit_test(test_registrable_domain),
        cmocka_unit_test(test_overrides_most_specific),
        cmocka_unit_test(test_overrides_errors),
        cmocka_unit_test(test_domains_from_blocked),
        cmocka_unit_test(test_extend_host),
    };
    return cmocka_run_group_tests(tests, testdir_setup, testdir_teardown);
}
