/* fuzz_msg.c — libFuzzer target for the fleet's wire formats (common/msg.c, common/stats_msgpack.c).
 *
 * Every input is decoded three ways: as a message, as a run configuration and as statistics (for
 * 256 and for 14 agents). Invariants:
 * - a rejected input leaves the output untouched and says why;
 * - a message's byte fields (config, stats, text) lie inside the input;
 * - what decodes re-encodes, the re-encoding decodes to the same struct, and encoding that struct
 *   again gives the same bytes (the encoding is canonical);
 * - stats: decode_add into zeroed stats, encode, decode again: the same stats and the same bytes;
 *   likewise with the policies' statistics ("bp", stats_policy.h) of one fixed configuration, which
 *   a reader without them refuses;
 * - the input also builds a message and a configuration field by field (any bytes, any lengths up
 *   to and past the limits): when the encoder accepts one, the decoder accepts its frame and
 *   re-encoding gives the same bytes (the encoder refuses exactly what the decoder would).
 *
 * Seeds: with FUZZ_MSG_WRITE_SEEDS=DIR set, the program writes one valid frame per message type,
 * a run configuration and statistics into DIR and exits (e.g. to fill tests/fuzz/corpus/fuzz_msg/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "optout/msg.h"
#include "optout/stats_policy.h"
#include "optout/stats.h"

#define POISON 0x5a

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_msg: invariant violated: %s\n", what);
        abort();
    }
}

/* Both decoded structs are zero-filled outside their strings (the decoder starts from calloc),
 * so they compare bytewise once the pointers (into different frames) are compared by content. */
static int msg_equal(const optout_msg *a, const optout_msg *b) {
    if (a->config_len != b->config_len || a->stats_len != b->stats_len || a->text_len != b->text_len) return 0;
    if (a->config_len && memcmp(a->config, b->config, a->config_len)) return 0;
    if (a->stats_len && memcmp(a->stats, b->stats, a->stats_len)) return 0;
    if (a->text_len && memcmp(a->text, b->text, a->text_len)) return 0;
    static optout_msg x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    x.config = y.config = NULL, x.stats = y.stats = NULL, x.text = y.text = NULL;
    return memcmp(&x, &y, sizeof x) == 0;
}

static int inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    return n == 0 || ((const uint8_t *)p >= data && (const uint8_t *)p + n <= data + size);
}

static void fuzz_message(const uint8_t *data, size_t size) {
    static optout_msg m1, m2, before;
    char err[OPTOUT_MSG_ERR_LEN] = "";
    memset(&m1, POISON, sizeof m1);
    memcpy(&before, &m1, sizeof m1);
    if (optout_msg_decode(data, size, &m1, err) != 0) {
        check(memcmp(&m1, &before, sizeof m1) == 0, "a rejected message changed the output");
        check(err[0] != '\0', "a rejected message without an error");
        return;
    }
    check(inside(m1.config, m1.config_len, data, size) && inside(m1.stats, m1.stats_len, data, size) &&
              inside(m1.text, m1.text_len, data, size),
          "a byte field outside the frame");
    void *f2, *f3;
    size_t l2, l3;
    check(optout_msg_encode(&m1, &f2, &l2, err) == 0, "a decoded message does not encode");
    check(l2 <= size, "re-encoding is larger than the frame");
    check(optout_msg_decode(f2, l2, &m2, err) == 0, "a re-encoded message does not decode");
    check(msg_equal(&m1, &m2), "a message changed in a round trip");
    check(optout_msg_encode(&m2, &f3, &l3, err) == 0, "a message does not encode twice");
    check(l2 == l3 && memcmp(f2, f3, l2) == 0, "encoding is not canonical");
    free(f2);
    free(f3);
}

static void fuzz_config(const uint8_t *data, size_t size) {
    static optout_run_config c1, c2, before;
    char err[OPTOUT_MSG_ERR_LEN] = "";
    memset(&c1, POISON, sizeof c1);
    memcpy(&before, &c1, sizeof c1);
    if (optout_run_config_decode(data, size, &c1, err) != 0) {
        check(memcmp(&c1, &before, sizeof c1) == 0, "a rejected configuration changed the output");
        check(err[0] != '\0', "a rejected configuration without an error");
        return;
    }
    void *b2, *b3;
    size_t l2, l3;
    check(optout_run_config_encode(&c1, &b2, &l2, err) == 0, "a decoded configuration does not encode");
    check(optout_run_config_decode(b2, l2, &c2, err) == 0, "a re-encoded configuration does not decode");
    check(memcmp(&c1, &c2, sizeof c1) == 0, "a configuration changed in a round trip");
    check(optout_run_config_encode(&c2, &b3, &l3, err) == 0, "a configuration does not encode twice");
    check(l2 == l3 && memcmp(b2, b3, l2) == 0, "configuration encoding is not canonical");
    free(b2);
    free(b3);
}

static void fuzz_stats(const uint8_t *data, size_t size, size_t agents) {
    static optout_stats s1, s2, before;
    static int have_before;
    if (!have_before) { /* a valid, nonzero target (merging into garbage would index out of bounds) */
        optout_doc_facts d = {.cls = OPTOUT_CLASS_NON_EN, .year = 2019, .bytes = 7, .chars = 5, .tokens = 2,
                              .dump = "CC-MAIN-2019-35", .dump_len = 15};
        optout_stats_add_doc(&before, 0, &d);
        optout_host_loss h = {.host = "x.example", .docs_removed = 1, .tokens_removed = 2};
        optout_stats_add_host_losses(&before, &h, 1);
        before.bad_json = 5;
        have_before = 1;
    }
    memcpy(&s1, &before, sizeof s1);
    if (optout_stats_decode_add(data, size, agents, &s1) != 0) {
        check(memcmp(&s1, &before, sizeof s1) == 0, "rejected stats changed the target");
        return;
    }
    optout_stats_init(&s1);
    check(optout_stats_decode_add(data, size, agents, &s1) == 0, "stats decode is not deterministic");
    void *b2, *b3;
    size_t l2, l3;
    check(optout_stats_encode(&s1, agents, &b2, &l2) == 0, "decoded stats do not encode");
    optout_stats_init(&s2);
    check(optout_stats_decode_add(b2, l2, agents, &s2) == 0, "re-encoded stats do not decode");
    check(memcmp(&s1, &s2, sizeof s1) == 0, "stats changed in a round trip");
    check(optout_stats_encode(&s2, agents, &b3, &l3) == 0, "stats do not encode twice");
    check(l2 == l3 && memcmp(b2, b3, l2) == 0, "stats encoding is not canonical");
    free(b2);
    free(b3);
}

/* The policies' configuration of the "bp" seeds and checks. */
static void policy_init(optout_stats_policy *p) {
    optout_stats_policy_init(p, OPTOUT_ROBOTS_TIME_CRAWL, 1596240000, OPTOUT_MISSING_KEEP, 365 * 86400);
}

/* Statistics with the policies': the same invariants, both structures. */
static void fuzz_stats_policy(const uint8_t *data, size_t size, size_t agents) {
    static optout_stats s1, s2, plain;
    static optout_stats_policy p1, p2;
    optout_stats_init(&s1);
    policy_init(&p1);
    if (optout_stats_decode_add_policy(data, size, agents, &s1, &p1) != 0) {
        static optout_stats_policy fresh;
        policy_init(&fresh);
        check(memcmp(&p1, &fresh, sizeof p1) == 0, "rejected policy stats changed the target");
        return;
    }
    optout_stats_init(&plain);
    check(optout_stats_decode_add(data, size, agents, &plain) != 0, "a reader without policies took \"bp\"");
    void *b2, *b3;
    size_t l2, l3;
    check(optout_stats_encode_policy(&s1, &p1, agents, &b2, &l2) == 0, "decoded policy stats do not encode");
    optout_stats_init(&s2);
    policy_init(&p2);
    check(optout_stats_decode_add_policy(b2, l2, agents, &s2, &p2) == 0, "re-encoded policy stats do not decode");
    check(memcmp(&s1, &s2, sizeof s1) == 0 && memcmp(&p1, &p2, sizeof p1) == 0, "policy stats changed in a round trip");
    check(optout_stats_encode_policy(&s2, &p2, agents, &b3, &l3) == 0, "policy stats do not encode twice");
    check(l2 == l3 && memcmp(b2, b3, l2) == 0, "policy stats encoding is not canonical");
    free(b2);
    free(b3);
}

/* ---- building from the input: whatever encodes must decode ----------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} src;

static uint8_t take8(src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

static uint64_t take64(src *s) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | take8(s);
    return v;
}

/* A string for char[cap]: a length byte (254: cap - 1 bytes, 255: cap bytes and no NUL), then the
 * bytes from the input (zeros once it runs out). */
static void take_str(src *s, char *dst, size_t cap) {
    size_t len = take8(s);
    if (len == 254) len = cap - 1;
    else if (len == 255) len = cap;
    else if (len >= cap) len = cap - 1;
    size_t k = len < s->n ? len : s->n;
    memcpy(dst, s->p, k);
    memset(dst + k, 'x', len - k);
    s->p += k, s->n -= k;
    if (len < cap) dst[len] = '\0';
}

/* Encode what the input builds; when that succeeds, the frame decodes and re-encodes identically. */
static void fuzz_build(const uint8_t *data, size_t size) {
    static optout_msg m, d;
    static optout_run_config c, dc;
    src s = {data, size};
    char err[OPTOUT_MSG_ERR_LEN];
    void *f1, *f2;
    size_t l1, l2;

    memset(&m, 0, sizeof m);
    m.type = (optout_msg_type)(take8(&s) % 11); /* 0: invalid */
    m.epoch = take64(&s), m.credit = (uint32_t)take64(&s), m.task = take64(&s), m.attempt = take64(&s);
    m.kind = (optout_task_kind)(take8(&s) % 3);
    take_str(&s, m.worker, sizeof m.worker);
    take_str(&s, m.input.root, sizeof m.input.root);
    take_str(&s, m.input.rel, sizeof m.input.rel);
    take_str(&s, m.staging.root, sizeof m.staging.root);
    take_str(&s, m.staging.rel, sizeof m.staging.rel);
    take_str(&s, m.output_name, sizeof m.output_name);
    take_str(&s, m.error, sizeof m.error);
    m.input_size = take64(&s), m.input_mtime_ns = (int64_t)take64(&s);
    m.with_removed = take8(&s), m.ok = take8(&s);
    m.file_count = take8(&s) % 10;
    for (size_t i = 0; i < m.file_count && i < OPTOUT_MSG_MAX_FILES; i++) {
        take_str(&s, m.files[i].name, sizeof m.files[i].name);
        m.files[i].size = take64(&s);
        take_str(&s, m.files[i].sha256, sizeof m.files[i].sha256);
    }
    m.config = s.p, m.config_len = take8(&s);
    m.stats = s.p, m.stats_len = take8(&s);
    m.text = (const char *)s.p, m.text_len = take8(&s);
    if (m.config_len > s.n) m.config_len = s.n;
    if (m.stats_len > s.n) m.stats_len = s.n;
    if (m.text_len > s.n) m.text_len = s.n;
    if (optout_msg_encode(&m, &f1, &l1, err) == 0) {
        check(optout_msg_decode(f1, l1, &d, err) == 0, "an encoded message does not decode");
        check(optout_msg_encode(&d, &f2, &l2, err) == 0, "a decoded message does not encode");
        check(l1 == l2 && memcmp(f1, f2, l1) == 0, "a built message changed in a round trip");
        free(f1);
        free(f2);
    }

    memset(&c, 0, sizeof c);
    c.mode = (optout_robots_mode)(take8(&s) % 3);
    c.host_key = (optout_hostkey_mode)(take8(&s) % 3);
    c.unreachable_disallows = take8(&s);
    c.level = (int32_t)take64(&s);
    c.max_line = take64(&s);
    c.agent_count = take8(&s) % 6;
    if (c.agent_count == 5) c.agent_count = OPTOUT_AGENTS_MAX + (take8(&s) & 1);
    for (size_t i = 0; i < c.agent_count && i < OPTOUT_AGENTS_MAX; i++) take_str(&s, c.agents[i], sizeof c.agents[i]);
    take_str(&s, c.url_field, sizeof c.url_field);
    take_str(&s, c.date_field, sizeof c.date_field);
    take_str(&s, c.robots_dir.root, sizeof c.robots_dir.root);
    take_str(&s, c.robots_dir.rel, sizeof c.robots_dir.rel);
    take_str(&s, c.redis, sizeof c.redis);
    take_str(&s, c.redis_prefix, sizeof c.redis_prefix);
    if (optout_run_config_encode(&c, &f1, &l1, err) == 0) {
        check(optout_run_config_decode(f1, l1, &dc, err) == 0, "an encoded configuration does not decode");
        check(optout_run_config_encode(&dc, &f2, &l2, err) == 0, "a decoded configuration does not encode");
        check(l1 == l2 && memcmp(f1, f2, l1) == 0, "a built configuration changed in a round trip");
        free(f1);
        free(f2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_message(data, size);
    fuzz_config(data, size);
    fuzz_stats(data, size, OPTOUT_AGENTS_MAX);
    fuzz_stats(data, size, 14);
    fuzz_stats_policy(data, size, 14);
    fuzz_build(data, size);
    return 0;
}

/* ---- seeds ----------------------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const void *buf, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    check(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0, "cannot write a seed");
}

static void write_seeds(const char *dir) {
    static const char *const NAMES[] = {"", "ready", "credit", "hb", "task", "result", "handback", "ack", "bye",
                                        "status-request", "status", "done"};
    static optout_run_config c;
    static optout_stats s;
    void *cfg, *st, *out;
    size_t cfg_len, st_len, len;
    char err[OPTOUT_MSG_ERR_LEN];
    c.mode = OPTOUT_MODE_PROTEGO, c.level = 3, c.max_line = 1 << 26, c.agent_count = 2;
    c.robots_time = OPTOUT_ROBOTS_TIME_CUTOFF, c.robots_cutoff = 1609459200, c.report_cutoff = 1691366400;
    c.history_max_age = 365 * 86400, c.history_missing = OPTOUT_MISSING_REMOVE;
    strcpy(c.history.root, "run"), strcpy(c.history.rel, "");
    strcpy(c.agents[0], "GPTBot"), strcpy(c.agents[1], "*");
    strcpy(c.url_field, "metadata.url"), strcpy(c.robots_dir.root, "run"), strcpy(c.robots_dir.rel, "robots");
    strcpy(c.history_hosts.root, "run"), strcpy(c.history_hosts.rel, "ranking/hosts.txt");
    strcpy(c.wayback_base, "https://web.archive.org"), c.wayback_from = 1996, c.wayback_to = 2016;
    c.wayback_rate_micro = 1000000;
    check(optout_run_config_encode(&c, &cfg, &cfg_len, err) == 0, "seed config");
    write_seed(dir, "config", cfg, cfg_len);
    optout_agentset set;
    optout_agentset_clear(&set);
    optout_agentset_add(&set, 1);
    optout_doc_facts d = {.cls = OPTOUT_CLASS_EN, .year = 2024, .bytes = 10, .chars = 9, .tokens = 3, .removed = 1,
                          .disallowed = &set, .dump = "CC-MAIN-2024-10", .dump_len = 15};
    optout_stats_add_doc(&s, 2, &d);
    optout_host_loss loss[2] = {{.host = "a.example", .docs_removed = 1, .tokens_removed = 3},
                                {.host = "b.example:8080", .docs_removed = 2, .tokens_removed = 1}};
    optout_stats_add_host_losses(&s, loss, 2); /* seeds for "yc", "d", "do" and "h" too */
    d.dump = NULL, d.dump_len = 0;
    d.year = 0, d.removed = 0, d.disallowed = NULL, d.cls = OPTOUT_CLASS_UNKNOWN;
    optout_stats_add_doc(&s, 2, &d);
    s.docs_by_outcome[OPTOUT_OUTCOME_OK] = 2, s.bad_json = 1, s.tokens_estimated_docs = 1;
    check(optout_stats_encode(&s, 2, &st, &st_len) == 0, "seed stats");
    write_seed(dir, "stats", st, st_len);
    { /* the policies' statistics of one judged document (policy_init's configuration) */
        static optout_stats_policy p;
        policy_init(&p);
        optout_doc_time t = {.crawl = "CC-MAIN-2020-05", .has_time = 1, .time = 1580688000, .time_from_crawl = 1};
        optout_policy_doc pd = {.coverage = OPTOUT_COVERAGE_SAME_CRAWL, .removed_crawl = 1, .time = &t,
                                .same_crawl = &set, .ccbot = 1};
        d.disallowed = &set, d.removed = 1, d.year = 2020, d.cls = OPTOUT_CLASS_EN;
        for (int q = 0; q < OPTOUT_ROBOTS_TIME_COUNT; q++) optout_stats_add_doc(&p.policy[q], 2, &d);
        optout_stats_policy_add_judged(&p, 2, &d, &pd);
        void *bp;
        size_t bp_len;
        check(optout_stats_encode_policy(&s, &p, 2, &bp, &bp_len) == 0, "seed policy stats");
        write_seed(dir, "stats-policy", bp, bp_len);
        free(bp);
        d.disallowed = NULL, d.removed = 0, d.year = 0, d.cls = OPTOUT_CLASS_UNKNOWN;
    }
    for (int t = OPTOUT_MSG_READY; t <= OPTOUT_MSG_DONE; t++) {
        static optout_msg m;
        memset(&m, 0, sizeof m);
        m.type = (optout_msg_type)t, m.epoch = 3;
        strcpy(m.worker, "node1/0"), m.credit = 2, m.task = 41, m.attempt = 2, m.kind = OPTOUT_TASK_FETCH;
        m.span_start = 3, m.span_count = 64;
        strcpy(m.input.root, "data"), strcpy(m.input.rel, "CC-MAIN-2024-10/000.jsonl.zst");
        m.input_size = 1000, m.input_mtime_ns = 1700000000000000000;
        strcpy(m.staging.root, "run"), strcpy(m.staging.rel, ".staging/41.3.2");
        strcpy(m.output_name, "CC-MAIN-2024-10/000.jsonl.zst"), m.with_removed = 1;
        m.config = cfg, m.config_len = cfg_len, m.ok = 1;
        m.file_count = 2;
        strcpy(m.files[0].name, "shards/CC-MAIN-2024-10/000.jsonl.zst"), m.files[0].size = 800;
        strcpy(m.files[1].name, "removed/CC-MAIN-2024-10/000.jsonl.zst"), m.files[1].size = 200;
        memset(m.files[0].sha256, 'a', 64), memset(m.files[1].sha256, '0', 64);
        m.stats = st, m.stats_len = st_len, m.text = "{\"done\": 1}", m.text_len = 11;
        check(optout_msg_encode(&m, &out, &len, err) == 0, "seed message");
        write_seed(dir, NAMES[t], out, len);
        free(out);
        if (t == OPTOUT_MSG_RESULT) { /* a failed result too */
            m.ok = 0, m.file_count = 0, m.stats_len = 0;
            strcpy(m.error, "input changed since planning");
            check(optout_msg_encode(&m, &out, &len, err) == 0, "seed message");
            write_seed(dir, "result-failed", out, len);
            free(out);
        }
    }
    free(cfg);
    free(st);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *dir = getenv("FUZZ_MSG_WRITE_SEEDS");
    if (dir && *dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
