/* test_stats.c — the statistics of a filter (include/optout/stats.h).
 *
 * Expectations are counted by hand from the documents each test adds (a few, chosen so that every
 * bucket gets a different figure), and the sample's intervals are worked out here from the
 * formulas the header states, not taken from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/json.h"
#include "optout/stats.h"
#include "optout/stats_policy.h"

#define UNKNOWN_YEAR (OPTOUT_YEARS - 1)

static optout_stats *new_stats(void) {
    optout_stats *s = malloc(sizeof *s);
    assert_non_null(s);
    optout_stats_init(s);
    return s;
}

static optout_doc_facts doc(optout_class cls, int year, const char *dump, uint64_t tokens, int removed,
                            const optout_agentset *disallowed) {
    optout_doc_facts d = {.cls = cls, .year = year, .dump = dump, .dump_len = dump ? strlen(dump) : 0,
                          .bytes = tokens * 4, .chars = tokens * 3, .tokens = tokens, .removed = removed,
                          .disallowed = disallowed};
    return d;
}

static void assert_bucket(const optout_bucket *b, uint64_t docs_in, uint64_t docs_removed, uint64_t tokens_in,
                          uint64_t tokens_removed) {
    assert_int_equal(b->docs_in, docs_in);
    assert_int_equal(b->docs_removed, docs_removed);
    assert_int_equal(b->tokens_in, tokens_in);
    assert_int_equal(b->tokens_removed, tokens_removed);
    assert_int_equal(b->bytes_in, tokens_in * 4);
    assert_int_equal(b->bytes_removed, tokens_removed * 4);
    assert_int_equal(b->chars_in, tokens_in * 3);
    assert_int_equal(b->chars_removed, tokens_removed * 3);
}

/* Three documents: en 2019 removed for agents 0 and 2, non_en 2019 kept, unknown no-year removed
 * for agent 2. */
static void add_three(optout_stats *s) {
    optout_agentset a02, a2;
    optout_agentset_clear(&a02);
    optout_agentset_add(&a02, 0);
    optout_agentset_add(&a02, 2);
    optout_agentset_clear(&a2);
    optout_agentset_add(&a2, 2);
    optout_doc_facts d1 = doc(OPTOUT_CLASS_EN, 2019, "CC-MAIN-2019-35", 10, 1, &a02);
    optout_doc_facts d2 = doc(OPTOUT_CLASS_NON_EN, 2019, "CC-MAIN-2019-35", 100, 0, NULL);
    optout_doc_facts d3 = doc(OPTOUT_CLASS_UNKNOWN, 0, NULL, 1000, 1, &a2);
    optout_stats_add_doc(s, 3, &d1);
    optout_stats_add_doc(s, 3, &d2);
    optout_stats_add_doc(s, 3, &d3);
}

static void check_three(const optout_stats *s, uint64_t k) {
    size_t y2019 = optout_stats_year_slot(2019);
    assert_bucket(&s->total, 3 * k, 2 * k, 1110 * k, 1010 * k);
    assert_bucket(&s->by_class[OPTOUT_CLASS_EN], k, k, 10 * k, 10 * k);
    assert_bucket(&s->by_class[OPTOUT_CLASS_NON_EN], k, 0, 100 * k, 0);
    assert_bucket(&s->by_class[OPTOUT_CLASS_UNKNOWN], k, k, 1000 * k, 1000 * k);
    assert_bucket(&s->by_year[y2019], 2 * k, k, 110 * k, 10 * k);
    assert_bucket(&s->by_year[UNKNOWN_YEAR], k, k, 1000 * k, 1000 * k);
    assert_bucket(&s->by_year_class[y2019][OPTOUT_CLASS_NON_EN], k, 0, 100 * k, 0);
    assert_bucket(&s->by_year_class[y2019][OPTOUT_CLASS_UNKNOWN], 0, 0, 0, 0);
    assert_int_equal(s->dump_count, 1);
    assert_string_equal(s->by_dump[0].name, "CC-MAIN-2019-35");
    assert_bucket(&s->by_dump[0].b, 2 * k, k, 110 * k, 10 * k);
    assert_bucket(&s->dump_other, k, k, 1000 * k, 1000 * k);
    /* every agent's bucket counts every document in, and as removed those it is disallowed */
    assert_bucket(&s->by_agent[0], 3 * k, k, 1110 * k, 10 * k);
    assert_bucket(&s->by_agent[1], 3 * k, 0, 1110 * k, 0);
    assert_bucket(&s->by_agent[2], 3 * k, 2 * k, 1110 * k, 1010 * k);
    assert_bucket(&s->any_agent, 3 * k, 2 * k, 1110 * k, 1010 * k);
}

static void test_add_doc_buckets(void **state) {
    (void)state;
    optout_stats *s = new_stats();
    assert_int_equal(s->total.docs_in, 0);
    add_three(s);
    check_three(s, 1);
    free(s);
}

static void test_merge_is_addition(void **state) {
    (void)state;
    optout_stats *a = new_stats(), *b = new_stats();
    add_three(a);
    add_three(b);
    add_three(b);
    optout_stats_merge(a, b);
    check_three(a, 3);
    /* merging an empty stats changes nothing */
    optout_stats *empty = new_stats();
    optout_stats_merge(a, empty);
    check_three(a, 3);
    free(a), free(b), free(empty);
}

static void test_year_slot(void **state) {
    (void)state;
    assert_int_equal(optout_stats_year_slot(OPTOUT_YEAR_MIN), 0);
    assert_int_equal(optout_stats_year_slot(OPTOUT_YEAR_MAX), OPTOUT_YEAR_MAX - OPTOUT_YEAR_MIN);
    assert_int_equal(optout_stats_year_slot(2019), 2019 - OPTOUT_YEAR_MIN);
    assert_int_equal(optout_stats_year_slot(OPTOUT_YEAR_MIN - 1), UNKNOWN_YEAR);
    assert_int_equal(optout_stats_year_slot(OPTOUT_YEAR_MAX + 1), UNKNOWN_YEAR);
    assert_int_equal(optout_stats_year_slot(0), UNKNOWN_YEAR);
    assert_int_equal(optout_stats_year_slot(-2019), UNKNOWN_YEAR);
}

/* The first OPTOUT_DUMPS_MAX names get buckets; documents of later names go to dump_other. */
static void test_dump_overflow(void **state) {
    (void)state;
    optout_stats *s = new_stats();
    char name[32];
    for (int i = 0; i < OPTOUT_DUMPS_MAX + 5; i++) {
        snprintf(name, sizeof name, "CC-MAIN-%04d", i);
        optout_doc_facts d = doc(OPTOUT_CLASS_EN, 0, name, 1, 0, NULL);
        optout_stats_add_doc(s, 1, &d);
    }
    /* a known name again still goes to its bucket */
    optout_doc_facts again = doc(OPTOUT_CLASS_EN, 0, "CC-MAIN-0000", 7, 0, NULL);
    optout_stats_add_doc(s, 1, &again);
    assert_int_equal(s->dump_count, OPTOUT_DUMPS_MAX);
    assert_int_equal(s->dump_other.docs_in, 5);
    int found = 0;
    for (size_t i = 0; i < s->dump_count; i++) {
        if (strcmp(s->by_dump[i].name, "CC-MAIN-0000") == 0) {
            found = 1;
            assert_int_equal(s->by_dump[i].b.docs_in, 2);
            assert_int_equal(s->by_dump[i].b.tokens_in, 8);
        }
        assert_string_not_equal(s->by_dump[i].name, "CC-MAIN-0256");
    }
    assert_true(found);
    free(s);
}

static void test_outcome_names(void **state) {
    (void)state;
    const char *names[OPTOUT_OUTCOME_COUNT] = {"ok", "no_robots", "unavailable", "unreachable", "no_such_host",
                                               "not_ranked"};
    for (int i = 0; i < OPTOUT_OUTCOME_COUNT; i++) {
        optout_outcome o = OPTOUT_OUTCOME_COUNT;
        assert_string_equal(optout_outcome_name((optout_outcome)i), names[i]);
        assert_int_equal(optout_outcome_parse(names[i], &o), 0);
        assert_int_equal(o, i);
    }
    optout_outcome o;
    assert_int_equal(optout_outcome_parse("OK", &o), -1);
    assert_int_equal(optout_outcome_parse("", &o), -1);
    assert_int_equal(optout_outcome_parse("no_robots ", &o), -1);
}

static optout_host_loss loss(const char *host, uint64_t docs, uint64_t tokens) {
    optout_host_loss l;
    memset(&l, 0, sizeof l);
    snprintf(l.host, sizeof l.host, "%s", host);
    l.docs_removed = docs;
    l.tokens_removed = tokens;
    return l;
}

static void test_host_loss_order(void **state) {
    (void)state;
    optout_host_loss a = loss("a.example", 1, 50), b = loss("b.example", 9, 50), c = loss("c.example", 1, 60),
                     a2 = loss("b.example", 1, 50);
    assert_true(optout_host_loss_cmp(&c, &a) < 0); /* more tokens first */
    assert_true(optout_host_loss_cmp(&b, &a) < 0); /* same tokens: more documents first */
    assert_true(optout_host_loss_cmp(&a, &a2) < 0); /* then host bytewise */
    assert_int_equal(optout_host_loss_cmp(&a, &a), 0);
}

/* Summed by host across calls, the largest OPTOUT_TOP_HOSTS kept, sorted by host key. */
static void test_top_hosts(void **state) {
    (void)state;
    optout_stats *s = new_stats();
    size_t n = OPTOUT_TOP_HOSTS + 10;
    optout_host_loss *l = calloc(n, sizeof *l);
    assert_non_null(l);
    /* host h%05zu loses i+1 tokens: h00000..h00009 are the smallest and drop out */
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%05zu", n - 1 - i);
        l[i] = loss(name, 1, n - i);
    }
    optout_stats_add_host_losses(s, l, n);
    assert_int_equal(s->top_host_count, OPTOUT_TOP_HOSTS);
    assert_string_equal(s->top_hosts[0].host, "h00010");
    for (size_t i = 1; i < s->top_host_count; i++)
        assert_true(strcmp(s->top_hosts[i - 1].host, s->top_hosts[i].host) < 0);
    /* h00000 comes back with a large loss: summed with nothing (it was dropped), now the largest;
     * h00500 gets more: summed */
    optout_host_loss more[2] = {loss("h00000", 2, 100000), loss("h00500", 3, 7)};
    optout_stats_add_host_losses(s, more, 2);
    assert_int_equal(s->top_host_count, OPTOUT_TOP_HOSTS);
    assert_string_equal(s->top_hosts[0].host, "h00000");
    assert_int_equal(s->top_hosts[0].tokens_removed, 100000);
    int seen500 = 0;
    for (size_t i = 0; i < s->top_host_count; i++) {
        assert_string_not_equal(s->top_hosts[i].host, "h00010"); /* now the smallest: out */
        if (strcmp(s->top_hosts[i].host, "h00500") == 0) {
            seen500 = 1;
            assert_int_equal(s->top_hosts[i].tokens_removed, (n - (n - 1 - 500)) + 7);
            assert_int_equal(s->top_hosts[i].docs_removed, 4);
        }
    }
    assert_true(seen500);
    free(l);
    free(s);
}

/* Wire form: decode_add of encode adds exactly the same counts; malformed input is refused. */
static void test_msgpack_round_trip(void **state) {
    (void)state;
    optout_stats *a = new_stats(), *b = new_stats();
    add_three(a);
    a->bad_json = 4, a->no_url = 5, a->docs_by_outcome[OPTOUT_OUTCOME_UNREACHABLE] = 6;
    optout_host_loss l = loss("x.example", 2, 30);
    optout_stats_add_host_losses(a, &l, 1);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(optout_stats_encode(a, 3, &buf, &len), 0);
    assert_int_equal(optout_stats_decode_add(buf, len, 3, b), 0);
    check_three(b, 1);
    assert_int_equal(b->bad_json, 4);
    assert_int_equal(b->no_url, 5);
    assert_int_equal(b->docs_by_outcome[OPTOUT_OUTCOME_UNREACHABLE], 6);
    assert_int_equal(b->top_host_count, 1);
    assert_string_equal(b->top_hosts[0].host, "x.example");
    /* decoding adds: twice gives twice the counts */
    assert_int_equal(optout_stats_decode_add(buf, len, 3, b), 0);
    check_three(b, 2);
    /* agent 2 has counts: a peer that thinks there are only 2 agents is refused */
    optout_stats *c = new_stats();
    assert_int_equal(optout_stats_decode_add(buf, len, 2, c), -1);
    /* trailing bytes and truncation are refused */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0xc0;
    assert_int_equal(optout_stats_decode_add(longer, len + 1, 3, c), -1);
    assert_int_equal(optout_stats_decode_add(buf, len - 1, 3, c), -1);
    assert_int_equal(optout_stats_decode_add("\x01", 1, 3, c), -1); /* not a map */
    free(longer);
    free(buf);
    free(a), free(b), free(c);
}

/* Replaces the first occurrence of `from` in buf[0..len) by `to` (same length); 1 when found. */
static int patch(void *buf, size_t len, const char *from, const char *to, size_t n) {
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp((char *)buf + i, from, n) == 0) {
            memcpy((char *)buf + i, to, n);
            return 1;
        }
    return 0;
}

/* The policies' statistics on the wire ("bp"): a round trip, and every way a peer's may not fit
 * the reader (no reader for them, another configuration, another form version, a bad crawl id,
 * missing where expected) refused without touching the target. */
static void test_msgpack_policy(void **state) {
    (void)state;
    const int64_t day = 86400, cutoff = 18262 * 86400; /* 2020-01-01 */
    optout_stats_policy *p = malloc(sizeof *p), *q = malloc(sizeof *q), *fresh = malloc(sizeof *fresh);
    assert_non_null(p), assert_non_null(q), assert_non_null(fresh);
    optout_stats_policy_init(p, OPTOUT_ROBOTS_TIME_CRAWL, cutoff, OPTOUT_MISSING_KEEP, 30 * day);
    optout_agentset set;
    optout_agentset_clear(&set);
    optout_agentset_add(&set, 1);
    optout_doc_facts d = doc(OPTOUT_CLASS_EN, 2020, "CC-MAIN-2020-05", 10, 1, &set);
    optout_stats_add_doc(&p->policy[OPTOUT_ROBOTS_TIME_CRAWL], 3, &d);
    optout_doc_time t = {.crawl = "CC-MAIN-2020-05", .has_time = 1, .time = cutoff + 30 * day};
    optout_policy_doc pd = {.coverage = OPTOUT_COVERAGE_SAME_CRAWL, .removed_crawl = 1, .time = &t,
                            .same_crawl = &set, .ccbot = 1};
    optout_stats_policy_add_judged(p, 3, &d, &pd);
    d.removed = 0, d.disallowed = NULL;
    optout_stats_add_doc(&p->policy[OPTOUT_ROBOTS_TIME_CURRENT], 3, &d);
    optout_stats *a = new_stats(), *b = new_stats(), *zero = new_stats();
    optout_stats_add_doc(a, 3, &d);
    void *buf = NULL, *plain = NULL;
    size_t len = 0, plain_len = 0;
    assert_int_equal(optout_stats_encode_policy(a, p, 3, &buf, &len), 0);
    assert_int_equal(optout_stats_encode(a, 3, &plain, &plain_len), 0);
    optout_stats_policy_init(q, OPTOUT_ROBOTS_TIME_CRAWL, cutoff, OPTOUT_MISSING_KEEP, 30 * day);
    memcpy(fresh, q, sizeof *q);
    /* refused: no policies expected, or none sent where expected; and another configuration */
    assert_int_equal(optout_stats_decode_add(buf, len, 3, b), -1);
    assert_int_equal(optout_stats_decode_add_policy(plain, plain_len, 3, b, q), -1);
    q->max_age = 31 * day;
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), -1);
    q->max_age = 30 * day, q->chosen = OPTOUT_ROBOTS_TIME_STRICTEST;
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), -1);
    q->chosen = OPTOUT_ROBOTS_TIME_CRAWL;
    assert_memory_equal(q, fresh, sizeof *q);
    assert_memory_equal(b, zero, sizeof *b);
    /* accepted: what was counted arrives, twice when decoded twice */
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), 0);
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), 0);
    assert_int_equal(b->total.docs_in, 2);
    assert_bucket(&q->policy[OPTOUT_ROBOTS_TIME_CRAWL].total, 2, 2, 20, 20);
    assert_bucket(&q->policy[OPTOUT_ROBOTS_TIME_CURRENT].total, 2, 0, 20, 0);
    assert_bucket(&q->coverage[OPTOUT_COVERAGE_SAME_CRAWL], 2, 2, 20, 20);
    assert_int_equal(q->crawl_count, 1);
    assert_string_equal(q->crawls[0].name, "CC-MAIN-2020-05");
    assert_int_equal(q->crawls[0].tokens_same_crawl, 20);
    assert_int_equal(q->crawls[0].tokens_disallowed[1], 20);
    assert_int_equal(q->crawls[0].tokens_disallowed_any, 20);
    assert_int_equal(q->ccbot_docs, 2);
    assert_int_equal(q->ccbot_tokens, 20);
    /* another form version, a crawl id that is none (week 99): refused, nothing added */
    memcpy(q, fresh, sizeof *q);
    optout_stats_init(b);
    assert_true(patch(buf, len, "\xa1v\x02", "\xa1v\x03", 3));
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), -1);
    assert_true(patch(buf, len, "\xa1v\x03", "\xa1v\x02", 3));
    assert_true(patch(buf, len, "CC-MAIN-2020-05\x01", "CC-MAIN-2020-99\x01", 16));
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), -1);
    assert_memory_equal(q, fresh, sizeof *q);
    assert_memory_equal(b, zero, sizeof *b);
    free(buf), free(plain);
    /* the part of a coverage step decided by a Wayback capture: carried, and never more than the whole */
    pd.wayback = 1, pd.coverage = OPTOUT_COVERAGE_EARLIER;
    optout_stats_policy_add_judged(p, 3, &d, &pd);
    assert_int_equal(optout_stats_encode_policy(a, p, 3, &buf, &len), 0);
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), 0);
    assert_bucket(&q->coverage_wayback[OPTOUT_COVERAGE_EARLIER], 1, 1, 10, 10);
    assert_int_equal(q->coverage_wayback[OPTOUT_COVERAGE_SAME_CRAWL].docs_in, 0);
    free(buf);
    memcpy(q, fresh, sizeof *q);
    optout_stats_init(b);
    p->coverage_wayback[OPTOUT_COVERAGE_NONE].docs_in = p->coverage[OPTOUT_COVERAGE_NONE].docs_in + 1;
    assert_int_equal(optout_stats_encode_policy(a, p, 3, &buf, &len), 0);
    assert_int_equal(optout_stats_decode_add_policy(buf, len, 3, b, q), -1);
    assert_memory_equal(q, fresh, sizeof *q);
    assert_memory_equal(b, zero, sizeof *b);
    free(buf);
    free(p), free(q), free(fresh), free(a), free(b), free(zero);
}

static char *json_string(const char *s) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    optout_json_put_string(f, s);
    assert_int_equal(fclose(f), 0);
    return out;
}

static void test_json_put_string(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"a\"b", "\"a\\\"b\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"\x01", "\"\\u0001\""},
        {"\x1f", "\"\\u001f\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""}, /* other bytes as they are */
        {"/", "\"/\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = json_string(cases[i].in);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    /* newline and tab are control characters: escaped one way or another, never raw */
    char *got = json_string("a\nb\tc");
    assert_null(strchr(got, '\n'));
    assert_null(strchr(got, '\t'));
    free(got);
}

/* The sample's estimate on two documents, worked out by hand:
 * x = (10, 30) tokens, the first removed: R = 10/40 = 0.25; sum (y - R x)^2 = 7.5^2 + 7.5^2 = 112.5;
 * P = 0.5, n = 2: SE = sqrt(0.5 * 2/1 * 112.5) / 40 = 0.2651650; 1.96 SE = 0.5197235, so the interval
 * is [0 (clamped), 0.7697235]. Documents: p = 0.5, n = 2, Wilson z = 1.96: centre 0.5, half
 * 1.96 / (1 + 1.96^2/2) * sqrt(0.25/2 + 1.96^2/16) = 0.4054... */
static void test_sample_estimate(void **state) {
    (void)state;
    optout_stats *s = new_stats();
    s->sample_ppm = 500000;
    optout_agentset a0;
    optout_agentset_clear(&a0);
    optout_agentset_add(&a0, 0);
    optout_doc_facts d1 = doc(OPTOUT_CLASS_EN, 2020, NULL, 10, 1, &a0);
    optout_doc_facts d2 = doc(OPTOUT_CLASS_EN, 2020, NULL, 30, 0, NULL);
    optout_stats_add_doc(s, 1, &d1);
    optout_stats_add_doc(s, 1, &d2);
    optout_sample_estimate e;
    optout_stats_sample_estimate(s, -1, &e);
    assert_true(fabs(e.fraction - 0.5) < 1e-12);
    assert_int_equal(e.docs, 2);
    assert_int_equal(e.docs_removed, 1);
    assert_int_equal(e.tokens_in, 40);
    assert_int_equal(e.tokens_removed, 10);
    assert_true(fabs(e.tokens_loss - 0.25) < 1e-12);
    assert_true(e.tokens_low == 0.0);
    assert_true(fabs(e.tokens_high - (0.25 + 1.96 * sqrt(112.5) / 40)) < 1e-4);
    double z = 1.96, half = z / (1 + z * z / 2) * sqrt(0.25 / 2 + z * z / 16);
    assert_true(fabs(e.docs_loss - 0.5) < 1e-12);
    assert_true(fabs(e.docs_low - (0.5 - half)) < 1e-4);
    assert_true(fabs(e.docs_high - (0.5 + half)) < 1e-4);
    /* per class: the English class is everything here; the unknown class has no document */
    optout_sample_estimate en, unk;
    optout_stats_sample_estimate(s, OPTOUT_CLASS_EN, &en);
    assert_true(fabs(en.tokens_high - e.tokens_high) < 1e-12);
    optout_stats_sample_estimate(s, OPTOUT_CLASS_UNKNOWN, &unk);
    assert_int_equal(unk.docs, 0);
    assert_true(unk.tokens_low == 0.0 && unk.tokens_high == 1.0);
    free(s);
}

/* Fewer than two documents: nothing to estimate a variance from, the interval is [0, 1]. */
static void test_sample_estimate_one_doc(void **state) {
    (void)state;
    optout_stats *s = new_stats();
    s->sample_ppm = 10000;
    optout_doc_facts d = doc(OPTOUT_CLASS_NON_EN, 2020, NULL, 10, 0, NULL);
    optout_stats_add_doc(s, 1, &d);
    optout_sample_estimate e;
    optout_stats_sample_estimate(s, -1, &e);
    assert_true(e.tokens_loss == 0.0);
    assert_true(e.tokens_low == 0.0 && e.tokens_high == 1.0);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_doc_buckets),   cmocka_unit_test(test_merge_is_addition),
        cmocka_unit_test(test_year_slot),         cmocka_unit_test(test_dump_overflow),
        cmocka_unit_test(test_outcome_names),     cmocka_unit_test(test_host_loss_order),
        cmocka_unit_test(test_top_hosts),         cmocka_unit_test(test_msgpack_round_trip),
        cmocka_unit_test(test_json_put_string),   cmocka_unit_test(test_sample_estimate),
        cmocka_unit_test(test_sample_estimate_one_doc), cmocka_unit_test(test_msgpack_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
