/* filter.c — one shard in, kept and removed shards out, statistics (include/optout/filter.h).
 *
 * Per line: extract the fields (jsonl.c), find the host key (hostkey.c, behind a small cache keyed
 * by the URL's scheme and authority, since libcurl's parser is the most expensive step and hosts
 * repeat), ask the verdict source, check the URL against the compiled rules, count, write.
 */
#include "optout/filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "doc_fields.h"
#include "optout/docsource.h"
#include "optout/jsonl.h"
#include "optout/parquet.h"
#include "optout/policy.h"
#include "optout/robots.h"
#include "optout/strmap.h"
#include "optout/tags.h"
#include "optout/util.h"

/* ---- document facts ----------------------------------------------------------------------- */

optout_class optout_language_class(const char *v, size_t n, int present) {
    if (!present || n == 0) return OPTOUT_CLASS_UNKNOWN;
    if ((n == 2 && memcmp(v, "en", 2) == 0) || (n == 3 && memcmp(v, "eng", 3) == 0) ||
        (n > 4 && memcmp(v, "eng_", 4) == 0))
        return OPTOUT_CLASS_EN;
    return OPTOUT_CLASS_NON_EN;
}

static int four_digits(const char *s, size_t n) {
    if (n < 4) return 0;
    int y = 0;
    for (int i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        y = y * 10 + (s[i] - '0');
    }
    return y;
}

int optout_document_year(const char *dump, size_t dump_len, const char *date, size_t date_len) {
    if (dump && dump_len > 8 && memcmp(dump, "CC-MAIN-", 8) == 0) {
        int y = four_digits(dump + 8, dump_len - 8);
        if (y) return y;
    }
    if (date) return four_digits(date, date_len);
    return 0;
}

/* token_count as a JSON number (or a string holding one); -1 when absent or not a number. */
static long long parse_tokens(const optout_json_value *v) {
    if (!v->present || v->len == 0 || v->len > 19) return -1;
    long long t = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->s[i] < '0' || v->s[i] > '9') return -1;
        t = t * 10 + (v->s[i] - '0');
    }
    return t;
}

static const optout_json_value *first_present(const optout_json_value *a, const optout_json_value *b) {
    return a->present ? a : b;
}

/* ---- host keys, cached by the URL's scheme and authority ------------------------------------ */

/* The part of a URL its host key depends on: up to the end of the authority. 0 when the URL has
 * no "://", an empty authority, or a backslash in it (parsers disagree on those): the whole URL
 * decides then. */
static size_t authority_end(const char *url, size_t len) {
    const char *sep = memmem(url, len, "://", 3);
    if (!sep) return 0;
    const char *p = sep + 3, *end = url + len;
    while (p < end && *p != '/' && *p != '?' && *p != '#' && *p != '\\') p++;
    if (p < end && *p == '\\') return 0;
    if (p == sep + 3) return 0; /* empty authority ("http:///x"): the whole URL says "no host" */
    return (size_t)(p - url);
}

const struct optout_hostkey_entry *optout_hostkey_cached(struct optout_hostkey_entry *cache, optout_hostkey_mode mode,
                                                         const char *url, size_t len,
                                                         struct optout_hostkey_entry *scratch) {
    /* Scheme and authority alone decide the key: it is always computed on them, so that a URL's
     * key does not depend on whether it was cached. */
    size_t pre = authority_end(url, len);
    if (pre == 0) pre = len;
    struct optout_hostkey_entry *e = scratch;
    if (pre < OPTOUT_HOSTKEY_PREFIX_MAX) {
        e = &cache[optout_hash_bytes(url, pre) % OPTOUT_HOSTKEY_CACHE];
        if (e->prefix_len == pre && memcmp(e->prefix, url, pre) == 0) return e;
        memcpy(e->prefix, url, pre);
        e->prefix_len = pre;
    }
    e->status = optout_hostkey(url, pre, mode, e->key, &e->key_len, &e->bad_idna);
    return e;
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* With a verdict source or a history source that can prefetch (Redis), documents are decided in
 * chunks whose hosts are asked for in one pipelined round trip (one per source) instead of one
 * round trip each; JSON Lines lines are then read in blocks of PREFETCH_DOCS (the source copies
 * them), else one at a time. */
#define PREFETCH_DOCS 256

struct prefetch {
    char keys[PREFETCH_DOCS][OPTOUT_HOSTKEY_MAX];
    const char *key_ptrs[PREFETCH_DOCS];
    size_t key_lens[PREFETCH_DOCS];
};

struct filter_run {
    const optout_filter_config *cfg;
    struct prefetch *prefetch; /* NULL: neither the verdict source nor the history source prefetches */
    const char *in;
    int parquet;
    optout_shard_writer *tags; /* tag mode: the tags file */
    optout_stats *stats;
    struct optout_hostkey_entry *cache;
    char *url_buf;
    size_t url_cap;
    char *id_buf; /* the sample's key, unescaped */
    size_t id_cap;
    char *tag_buf, *agents_buf;
    size_t tag_cap, agents_cap;
    uint64_t line_no; /* lines read so far (tag mode) */
    uint64_t docs, docs_with_url; /* for a shard in which no document has a URL */
    optout_doc_decision *decisions;
    optout_agentset *sets;
    size_t decisions_cap;
    optout_strmap *losses; /* host key -> struct host_loss, for the shard's top hosts */
    /* historical mode: each policy's top hosts, and the document's verdict under each policy */
    optout_strmap *policy_losses[OPTOUT_ROBOTS_TIME_COUNT];
    size_t ccbot;  /* CCBot's index in the agent list, or SIZE_MAX */
    int judged;    /* the document was judged under each policy (else all four decided alike) */
    optout_policy_verdict verdicts[OPTOUT_ROBOTS_TIME_COUNT];
    char host[OPTOUT_HOSTKEY_MAX]; /* the document's host key, for the policies' top hosts */
    size_t host_len;
};

struct host_loss {
    uint64_t docs, tokens;
};

/* A removed document of `host`: counted for the shard's top hosts by removed tokens. */
static int note_loss(optout_strmap *losses, const char *host, size_t len, uint64_t tokens) {
    struct host_loss *l = optout_strmap_get(losses, host, len);
    if (!l) {
        if (len >= OPTOUT_TOP_HOST_MAX || !(l = calloc(1, sizeof *l))) return len >= OPTOUT_TOP_HOST_MAX ? 0 : -1;
        if (optout_strmap_put(losses, host, len, l, NULL) != 0) {
            free(l);
            return -1;
        }
    }
    l->docs++;
    l->tokens += tokens;
    return 0;
}

struct loss_list {
    optout_host_loss *items;
    size_t count;
};

static int collect_loss(const char *key, size_t len, void *value, void *arg) {
    struct loss_list *list = arg;
    optout_host_loss *h = &list->items[list->count++];
    const struct host_loss *l = value;
    memset(h->host, 0, sizeof h->host);
    memcpy(h->host, key, len);
    h->docs_removed = l->docs;
    h->tokens_removed = l->tokens;
    return 0;
}

/* The shard's OPTOUT_TOP_HOSTS_PER_SHARD hosts with the most removed tokens, into the stats. */
static int add_top_losses(optout_strmap *losses, optout_stats *stats) {
    struct loss_list list = {.items = malloc((optout_strmap_count(losses) + 1) * sizeof *list.items)};
    if (!list.items) return -1;
    optout_strmap_each(losses, collect_loss, &list);
    qsort(list.items, list.count, sizeof *list.items, optout_host_loss_cmp);
    size_t n = list.count < OPTOUT_TOP_HOSTS_PER_SHARD ? list.count : OPTOUT_TOP_HOSTS_PER_SHARD;
    optout_stats_add_host_losses(stats, list.items, n);
    free(list.items);
    return 0;
}

/* The document's URL, unescaped (into *buf when it has escapes); 0 when it has none. */
int optout_doc_url(const optout_json_value *v, const char **u, size_t *ulen, char **buf, size_t *cap) {
    const optout_json_value *url = first_present(&v[F_URL], &v[F_META_URL]);
    if (!url->present || !url->is_string || url->len == 0) return 0;
    *u = url->s;
    *ulen = url->len;
    if (url->has_escapes) {
        if (*ulen > *cap) {
            free(*buf);
            *cap = *ulen * 2;
            *buf = optout_malloc(*cap);
        }
        *ulen = optout_json_unescape(*u, *ulen, *buf);
        *u = *buf;
    }
    return 1;
}

static int url_of(struct filter_run *run, const optout_json_value *v, const char **u, size_t *ulen) {
    return optout_doc_url(v, u, ulen, &run->url_buf, &run->url_cap);
}

/* policy.h "Sample": 1 when the document is in the sample. v is NULL for a line that is not JSON. */
static int in_sample(struct filter_run *run, const optout_json_value *v, const char *line, size_t len) {
    const char *k = line;
    size_t kn = len;
    if (v) {
        const optout_json_value *id = first_present(&v[F_ID], &v[F_META_ID]);
        int null = !id->is_string && id->len == 4 && memcmp(id->s, "null", 4) == 0;
        if (id->present && id->len > 0 && !null) {
            k = id->s;
            kn = id->len;
            if (id->is_string && id->has_escapes) {
                if (kn > run->id_cap) {
                    free(run->id_buf);
                    run->id_cap = kn * 2;
                    run->id_buf = optout_malloc(run->id_cap);
                }
                kn = optout_json_unescape(id->s, id->len, run->id_buf);
                k = run->id_buf;
            }
        } else if (!optout_doc_url(v, &k, &kn, &run->id_buf, &run->id_cap)) {
            /* neither id nor URL: the shard's name up to its first '.' and the line (Parquet: row)
             * number, which the JSON Lines and the Parquet copy of a shard share (the raw line is
             * JSON Lines' alone) */
            const char *base = strrchr(run->in, '/');
            base = base ? base + 1 : run->in;
            size_t stem = strcspn(base, ".");
            if (run->id_cap < stem + 32) {
                free(run->id_buf);
                run->id_cap = stem + 32;
                run->id_buf = optout_malloc(run->id_cap);
            }
            kn = (size_t)snprintf(run->id_buf, run->id_cap, "%.*s\n%llu", (int)stem, base,
                                  (unsigned long long)run->line_no);
            k = run->id_buf;
        }
    }
    return optout_sample_in(optout_sample_hash(k, kn), run->cfg->policy->sample_ppm);
}

/* The document goes (for the agents in *set, maybe none): facts and the shard's host losses. */
static int mark_removed(struct filter_run *run, const struct optout_hostkey_entry *hk, optout_doc_facts *facts,
                        optout_agentset *set, char *err, size_t errlen) {
    facts->removed = 1;
    facts->disallowed = set;
    memcpy(run->host, hk->key, hk->key_len + 1);
    run->host_len = hk->key_len;
    if (note_loss(run->losses, hk->key, hk->key_len, facts->tokens) != 0) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Historical mode (filter.h): the document under every policy, from today's disallowed agents in
 * *set; *set and *removed receive the chosen policy's verdict. */
static int judge_history(struct filter_run *run, const optout_json_value *v, const struct optout_hostkey_entry *hk,
                         const char *u, size_t ulen, optout_agentset *set, const optout_doc_facts *facts, int *removed,
                         char *err, size_t errlen) {
    const optout_filter_history *h = run->cfg->history;
    const optout_json_value *dump = first_present(&v[F_DUMP], &v[F_META_DUMP]);
    const optout_json_value *date = first_present(&v[F_DATE], &v[F_META_DATE]);
    optout_doc_time t;
    optout_history_doc_time(dump->present && dump->is_string ? dump->s : NULL, dump->len,
                            date->present && date->is_string ? date->s : NULL, date->len, &t);
    optout_history_pick pick;
    optout_agentset then;
    int judged = optout_history_judge_doc(h->judge, hk->key, hk->key_len, u, ulen, &t, &pick, &then, err, errlen);
    if (judged < 0) return -1;
    size_t agent_count = optout_agents_count(run->cfg->agents);
    int64_t cutoff = optout_robots_time_cutoff_day(&h->time, h->report_cutoff);
    optout_history_combine(set, judged ? &then : NULL, &t, cutoff, h->missing, agent_count, run->verdicts);
    const optout_policy_verdict *chosen = &run->verdicts[h->time.policy];
    *set = chosen->agents;
    *removed = chosen->removed;
    run->judged = 1;
    memcpy(run->host, hk->key, hk->key_len + 1);
    run->host_len = hk->key_len;
    int same = pick.coverage == OPTOUT_COVERAGE_SAME_CRAWL;
    optout_policy_doc d = {.coverage = pick.coverage, .removed_crawl = run->verdicts[OPTOUT_ROBOTS_TIME_CRAWL].removed,
                           .time = &t, .same_crawl = same ? &then : NULL,
                           .ccbot = same && run->ccbot != SIZE_MAX && optout_agentset_has(&then, run->ccbot),
                           .wayback = pick.capture && pick.capture->origin == OPTOUT_HISTORY_WAYBACK};
    optout_stats_policy_add_judged(h->stats, agent_count, facts, &d);
    return 0;
}

/* Historical mode: the document into every policy's statistics and top hosts (decided alike under
 * every policy unless it was judged). */
static int count_policies(struct filter_run *run, const optout_doc_facts *facts, const char *host, size_t host_len) {
    size_t agent_count = optout_agents_count(run->cfg->agents);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        optout_doc_facts f = *facts;
        if (run->judged) {
            f.removed = run->verdicts[p].removed;
            f.disallowed = f.removed ? &run->verdicts[p].agents : NULL;
        }
        optout_stats_add_doc(&run->cfg->history->stats->policy[p], agent_count, &f);
        if (f.removed && host && note_loss(run->policy_losses[p], host, host_len, f.tokens) != 0) return -1;
    }
    return 0;
}

/* Historical mode: the counters the filter keeps outside the buckets (today's outcomes, bad input,
 * estimates, the sample) are the same under every policy: what the shard added to the run's
 * statistics since `before` is added to each policy's. */
static void copy_counters(optout_stats_policy *bp, const optout_stats *now, const optout_stats *before) {
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) {
        optout_stats *s = &bp->policy[p];
        for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++) s->docs_by_outcome[o] += now->docs_by_outcome[o] - before->docs_by_outcome[o];
        s->bad_json += now->bad_json - before->bad_json;
        s->no_url += now->no_url - before->no_url;
        s->bad_url += now->bad_url - before->bad_url;
        s->no_host += now->no_host - before->no_host;
        s->bad_idna += now->bad_idna - before->bad_idna;
        s->line_too_long += now->line_too_long - before->line_too_long;
        s->tokens_estimated_docs += now->tokens_estimated_docs - before->tokens_estimated_docs;
        s->docs_not_sampled += now->docs_not_sampled - before->docs_not_sampled;
        s->sample_ppm = now->sample_ppm;
    }
}

/* Decides one parsed document; fills facts->disallowed (into *set) and the stats counters. */
static int decide(struct filter_run *run, const optout_json_value *v, optout_stats *stats, optout_agentset *set,
                  optout_doc_facts *facts, char *err, size_t errlen) {
    const optout_filter_config *cfg = run->cfg;
    const char *u;
    size_t ulen;
    if (!url_of(run, v, &u, &ulen)) {
        stats->no_url++;
        return 0;
    }
    struct optout_hostkey_entry scratch;
    const struct optout_hostkey_entry *hk = optout_hostkey_cached(run->cache, cfg->host_key, u, ulen, &scratch);
    if (hk->status == OPTOUT_HOSTKEY_BAD_URL) {
        stats->bad_url++;
        return 0;
    }
    if (hk->status == OPTOUT_HOSTKEY_NO_HOST) {
        stats->no_host++;
        return 0;
    }
    if (hk->bad_idna) stats->bad_idna++;
    /* policy.h: overrides first, without a verdict lookup */
    const optout_policy *pol = cfg->policy;
    optout_override ov = pol ? optout_overrides_match(pol->overrides, hk->key, hk->key_len, NULL) : OPTOUT_OVERRIDE_NONE;
    if (ov != OPTOUT_OVERRIDE_NONE) {
        facts->override = (int)ov;
        /* removed for no agent: "disallowed_user_agents": [] */
        return ov == OPTOUT_OVERRIDE_REMOVE ? mark_removed(run, hk, facts, set, err, errlen) : 0;
    }
    optout_verdict verdict;
    int found = optout_verdicts_lookup(cfg->verdicts, hk->key, hk->key_len, &verdict, err, errlen);
    if (found < 0) return -1;
    if (found == 0) {
        optout_set_err(err, errlen, "no robots.txt record for host %s (a missing verdict is never a keep)", hk->key);
        return -1;
    }
    stats->docs_by_outcome[verdict.outcome]++;
    size_t n = 0;
    if (verdict.outcome == OPTOUT_OUTCOME_OK) {
        n = optout_robots_check(verdict.rules, u, ulen, set);
    } else if (verdict.outcome == OPTOUT_OUTCOME_UNREACHABLE && cfg->unreachable_disallows) {
        for (size_t a = 0; a < optout_agents_count(cfg->agents); a++) optout_agentset_add(set, a);
        n = optout_agents_count(cfg->agents);
    }
    if (pol && pol->granularity != OPTOUT_GRANULARITY_URL)
        n = optout_policy_extend(pol, hk->key, hk->key_len, verdict.outcome == OPTOUT_OUTCOME_OK ? verdict.rules : NULL,
                                 optout_agents_count(cfg->agents), set, NULL);
    if (cfg->history && verdict.outcome != OPTOUT_OUTCOME_NOT_RANKED) { /* the chosen policy decides */
        int removed;
        if (judge_history(run, v, hk, u, ulen, set, facts, &removed, err, errlen) != 0) return -1;
        return removed ? mark_removed(run, hk, facts, set, err, errlen) : 0;
    }
    return n > 0 ? mark_removed(run, hk, facts, set, err, errlen) : 0;
}

/* A dump value that is not a crawl id but holds one (a Common Crawl path, as Dolma's
 * metadata.cc_segment) counts as that crawl in the report's dumps and years, so that they agree
 * with the crawl that judges the document (history.h); other values stay as they are. */
static void document_dump(const char **dump, size_t *len) {
    char crawl[OPTOUT_HISTORY_CRAWL_MAX];
    if (!*dump || (*len >= 8 && memcmp(*dump, "CC-MAIN-", 8) == 0) || !optout_history_find_crawl(*dump, *len, crawl))
        return;
    const char *at = memmem(*dump, *len, crawl, strlen(crawl));
    if (at) *dump = at, *len = strlen(crawl);
}

/* The facts of the values v, the text's size given (sized) or from v[F_TEXT]. */
static int facts(const optout_json_value *v, int sized, int text_present, uint64_t bytes, uint64_t chars,
                 optout_doc_facts *f) {
    const optout_json_value *lang = first_present(&v[F_LANG], &v[F_META_LANG]);
    const optout_json_value *dump = first_present(&v[F_DUMP], &v[F_META_DUMP]);
    const optout_json_value *date = first_present(&v[F_DATE], &v[F_META_DATE]);
    const optout_json_value *tokens = first_present(&v[F_TOKENS], &v[F_META_TOKENS]);
    f->cls = optout_language_class(lang->s, lang->len, lang->present && lang->is_string);
    f->dump = dump->present && dump->is_string ? dump->s : NULL;
    f->dump_len = f->dump ? dump->len : 0;
    document_dump(&f->dump, &f->dump_len);
    f->year = optout_document_year(f->dump, f->dump_len, date->present && date->is_string ? date->s : NULL, date->len);
    if (sized) {
        if (text_present) {
            f->bytes = bytes;
            f->chars = chars;
        }
    } else if (v[F_TEXT].present && v[F_TEXT].is_string) {
        if (v[F_TEXT].has_escapes) {
            optout_json_text_size(v[F_TEXT].s, v[F_TEXT].len, &f->bytes, &f->chars);
        } else { /* the bytes as they are (a Parquet string may hold a backslash) */
            uint64_t c = 0;
            for (size_t i = 0; i < v[F_TEXT].len; i++) c += ((unsigned char)v[F_TEXT].s[i] & 0xC0) != 0x80;
            f->bytes = v[F_TEXT].len;
            f->chars = c;
        }
    }
    long long t = parse_tokens(tokens);
    if (t >= 0) {
        f->tokens = (uint64_t)t;
        return 0;
    }
    f->tokens = (f->bytes + 3) / 4;
    return 1;
}

int optout_doc_facts_of(const optout_json_value *v, optout_doc_facts *f) { return facts(v, 0, 0, 0, 0, f); }

int optout_doc_facts_of_doc(const optout_doc *d, optout_doc_facts *f) {
    return facts(d->v, d->text_sized, d->text_present, d->text_bytes, d->text_chars, f);
}

static void document_facts(const optout_doc *d, optout_stats *stats, optout_doc_facts *f) {
    if (optout_doc_facts_of_doc(d, f)) stats->tokens_estimated_docs++;
}

void optout_doc_field_paths(const char *url_field, const char *language_field, const char *tokens_field,
                            const char *dump_field, const char *date_field, const char *text_field,
                            const char **paths) {
    /* a configured path replaces both defaults (top level and metadata) */
    const char *p[F_COUNT] = {
        url_field ? url_field : "url",           url_field ? url_field : "metadata.url",
        language_field ? language_field : "language",
        language_field ? language_field : "metadata.language",
        tokens_field ? tokens_field : "token_count",
        tokens_field ? tokens_field : "metadata.token_count",
        dump_field ? dump_field : "dump",        dump_field ? dump_field : "metadata.dump",
        date_field ? date_field : "date",        date_field ? date_field : "metadata.date",
        text_field ? text_field : "text",
        "id",                                    "metadata.id",
    };
    memcpy(paths, p, sizeof p);
}

optout_json_fields *optout_doc_fields_new(const char *url_field, const char *language_field, const char *tokens_field,
                                          const char *dump_field, const char *date_field, const char *text_field) {
    const char *paths[F_COUNT];
    optout_doc_field_paths(url_field, language_field, tokens_field, dump_field, date_field, text_field, paths);
    return optout_json_fields_new(paths, F_COUNT);
}

int optout_filter_parquet_codec(const optout_filter_config *cfg, int *codec, int *level, char *err, size_t errlen) {
    const char *name = cfg->parquet_compression ? cfg->parquet_compression : "zstd";
    if (optout_pq_codec_parse(name, codec) != 0) {
        optout_set_err(err, errlen, "--parquet-compression %s: not one of zstd, snappy, gzip, lz4, none", name);
        return -1;
    }
    return optout_pq_codec_level(*codec, cfg->parquet_level ? &cfg->parquet_level : NULL, level, err, errlen);
}

/* Tag mode: the removed document's tag line (by id, else by line number). */
static int write_tag(struct filter_run *run, const optout_doc *d, const optout_agentset *disallowed, char *err,
                     size_t errlen) {
    size_t alen = optout_tags_agents_json(run->cfg->agents, disallowed, &run->agents_buf, &run->agents_cap);
    const optout_json_value *id = d->v[F_ID].present ? &d->v[F_ID] : &d->v[F_META_ID];
    size_t n = optout_tags_line(id, run->line_no, run->agents_buf, alen, &run->tag_buf, &run->tag_cap);
    return optout_shard_write_line(run->tags, run->tag_buf, n, 1, err, errlen);
}

static void where(struct filter_run *run, const optout_doc *d, char *err, size_t errlen) {
    size_t off = strlen(err);
    snprintf(err + off, errlen - off, " (%s, %s %llu)", run->in, run->parquet ? "row" : "line at byte",
             (unsigned long long)d->offset);
}

/* One document: decided and counted; *dec says where it goes (set holds its agents). */
static int process_doc(struct filter_run *run, const optout_doc *d, optout_doc_decision *dec, optout_agentset *set,
                       char *err, size_t errlen) {
    const optout_filter_config *cfg = run->cfg;
    size_t agent_count = optout_agents_count(cfg->agents);
    optout_doc_facts facts = {.cls = OPTOUT_CLASS_UNKNOWN};
    optout_agentset_clear(set);
    *dec = (optout_doc_decision){.written = 1, .agents = set};
    run->judged = 0;
    run->host_len = 0;
    run->line_no += d->kind != OPTOUT_DOC_PIECE || d->last_piece;
    if (d->kind == OPTOUT_DOC_PIECE) { /* too long to decide: kept whole (piece by piece) and counted once */
        if (d->last_piece) {
            run->stats->line_too_long++;
            optout_stats_add_doc(run->stats, agent_count, &facts);
            if (cfg->history && count_policies(run, &facts, NULL, 0) != 0) goto oom;
        }
        return 0;
    }
    if (d->kind == OPTOUT_DOC_BLANK) return 0; /* passed through */
    int bad_json = d->kind == OPTOUT_DOC_BAD;
    if (!bad_json) {
        const optout_json_value *url = first_present(&d->v[F_URL], &d->v[F_META_URL]);
        run->docs++;
        run->docs_with_url += url->present && url->is_string && url->len > 0;
    }
    if (cfg->policy && cfg->policy->sample_ppm && !in_sample(run, bad_json ? NULL : d->v, d->raw, d->raw_len)) {
        run->stats->docs_not_sampled++; /* outside the sample: neither decided, counted nor written */
        dec->written = 0;
        return 0;
    }
    if (bad_json) {
        run->stats->bad_json++;
    } else {
        document_facts(d, run->stats, &facts);
        if (decide(run, d->v, run->stats, set, &facts, err, errlen) != 0) {
            where(run, d, err, errlen);
            return -1;
        }
    }
    optout_stats_add_doc(run->stats, agent_count, &facts);
    if (cfg->history && count_policies(run, &facts, run->host_len ? run->host : NULL, run->host_len) != 0) goto oom;
    dec->removed = (uint8_t)facts.removed;
    if (run->tags && facts.removed && write_tag(run, d, set, err, errlen) != 0) return -1;
    return 0;
oom:
    optout_set_err(err, errlen, "out of memory");
    return -1;
}

/* The hosts of docs[from, to) that will need a verdict, asked for in one round trip. */
static int prefetch_docs(struct filter_run *run, const optout_doc *docs, size_t from, size_t to, char *err,
                         size_t errlen) {
    struct prefetch *p = run->prefetch;
    size_t nkeys = 0;
    for (size_t i = from; i < to; i++) {
        const optout_doc *d = &docs[i];
        const char *u;
        size_t ulen;
        if (d->kind != OPTOUT_DOC_OK || !url_of(run, d->v, &u, &ulen)) continue;
        struct optout_hostkey_entry scratch;
        const struct optout_hostkey_entry *hk = optout_hostkey_cached(run->cache, run->cfg->host_key, u, ulen, &scratch);
        if (hk->status != OPTOUT_HOSTKEY_OK) continue;
        const optout_policy *pol = run->cfg->policy; /* no lookup outside the sample or for an override */
        if (pol && ((pol->sample_ppm && !in_sample(run, d->v, d->raw, d->raw_len)) ||
                    optout_overrides_match(pol->overrides, hk->key, hk->key_len, NULL) != OPTOUT_OVERRIDE_NONE))
            continue;
        memcpy(p->keys[nkeys], hk->key, hk->key_len + 1); /* the cache entry may be reused below */
        p->key_ptrs[nkeys] = p->keys[nkeys];
        p->key_lens[nkeys] = hk->key_len;
        nkeys++;
    }
    const optout_filter_history *h = run->cfg->history;
    if (nkeys && (optout_verdicts_prefetch(run->cfg->verdicts, p->key_ptrs, p->key_lens, nkeys, err, errlen) != 0 ||
                  (h && optout_history_judge_prefetch(h->judge, p->key_ptrs, p->key_lens, nkeys, err, errlen) != 0))) {
        where(run, &docs[from], err, errlen);
        return -1;
    }
    return 0;
}

/* Decides a batch (in prefetch chunks when a source can prefetch), then hands it to the sink. */
static int process_batch(struct filter_run *run, const optout_doc_batch *b, optout_docsink *sink, char *err,
                         size_t errlen) {
    if (b->count > run->decisions_cap) {
        free(run->decisions);
        free(run->sets);
        run->decisions = malloc(b->count * sizeof *run->decisions);
        run->sets = malloc(b->count * sizeof *run->sets);
        run->decisions_cap = run->decisions && run->sets ? b->count : 0;
        if (!run->decisions_cap) {
            optout_set_err(err, errlen, "out of memory deciding a batch of %zu documents of %s", b->count, run->in);
            return -1;
        }
    }
    for (size_t from = 0; from < b->count; from += PREFETCH_DOCS) {
        size_t to = from + PREFETCH_DOCS < b->count ? from + PREFETCH_DOCS : b->count;
        if (run->prefetch && prefetch_docs(run, b->docs, from, to, err, errlen) != 0) return -1;
        for (size_t i = from; i < to; i++)
            if (process_doc(run, &b->docs[i], &run->decisions[i], &run->sets[i], err, errlen) != 0) return -1;
    }
    return sink ? optout_docsink_put(sink, b, run->decisions, err, errlen) : 0;
}

int optout_filter_shard(const optout_filter_config *cfg, const char *in, const char *out,
                        optout_shard_format out_format, const char *removed, optout_stats *stats, char *err,
                        size_t errlen) {
    char serr[OPTOUT_SHARD_ERR_LEN];
    struct filter_run run = {.cfg = cfg, .in = in, .stats = stats};
    optout_stats *before = NULL; /* historical mode: the counters before this shard (copy_counters) */
    optout_docsource *src = NULL;
    optout_docsink *sink = NULL;
    int rc = -1;
    run.cache = calloc(OPTOUT_HOSTKEY_CACHE, sizeof *run.cache);
    run.losses = optout_strmap_new();
    int no_memory = !run.cache || !run.losses;
    for (int p = 0; cfg->history && p < OPTOUT_ROBOTS_TIME_COUNT; p++)
        no_memory |= !(run.policy_losses[p] = optout_strmap_new());
    if (cfg->history && !no_memory && (before = malloc(sizeof *before))) *before = *stats;
    if (no_memory || (cfg->history && !before)) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    run.ccbot = SIZE_MAX;
    for (size_t a = 0; a < optout_agents_count(cfg->agents); a++)
        if (strcasecmp(optout_agents_name(cfg->agents, a), "CCBot") == 0) run.ccbot = a;
    if (cfg->history && cfg->policy && cfg->policy->granularity != OPTOUT_GRANULARITY_URL) {
        optout_set_err(err, errlen,
                       "robots.txt as it was is judged per URL: %s granularity is only for today's robots.txt",
                       optout_granularity_name(cfg->policy->granularity));
        goto done;
    }
    if (cfg->output_tags && removed) { /* the tags file takes the outputs' place */
        optout_set_err(err, errlen, "tag mode writes no removed shard");
        goto done;
    }
    if (!out && removed) {
        optout_set_err(err, errlen, "a removed shard without an output");
        goto done;
    }
    if (cfg->policy && cfg->policy->sample_ppm) {
        stats->sample_ppm = cfg->policy->sample_ppm;
        for (int p = 0; cfg->history && p < OPTOUT_ROBOTS_TIME_COUNT; p++) /* each policy's estimate too */
            cfg->history->stats->policy[p].sample_ppm = cfg->policy->sample_ppm;
    }
    if (cfg->policy && cfg->policy->granularity == OPTOUT_GRANULARITY_DOMAIN && !cfg->policy->domains) {
        optout_set_err(err, errlen, "domain granularity without a domain table");
        goto done;
    }
    int can_prefetch = optout_verdicts_can_prefetch(cfg->verdicts) ||
                       (cfg->history && optout_history_judge_can_prefetch(cfg->history->judge));
    if (can_prefetch && !(run.prefetch = malloc(sizeof *run.prefetch))) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    optout_docsource_opts so = {.url_field = cfg->url_field, .language_field = cfg->language_field,
                                .tokens_field = cfg->tokens_field, .dump_field = cfg->dump_field,
                                .date_field = cfg->date_field, .text_field = cfg->text_field,
                                .max_line = cfg->max_line, .batch_docs = run.prefetch ? PREFETCH_DOCS : 1,
                                .max_memory = cfg->max_memory};
    if (!(src = optout_docsource_open(in, &so, err, errlen))) goto done;
    run.parquet = optout_docsource_format(src) == OPTOUT_DOC_PARQUET;
    if (!out) {
        /* statistics only: no sink, nothing written */
    } else if (cfg->output_tags) {
        if (!(run.tags = optout_shard_create(out, out_format, cfg->level, serr, sizeof serr))) {
            optout_set_err(err, errlen, "%s", serr);
            goto done;
        }
    } else {
        optout_docsink_opts ko = {.agents = cfg->agents, .jsonl_format = out_format, .level = cfg->level,
                                  .jsonl = cfg->output_format == 1, .parquet = cfg->output_format == 2,
                                  .max_line = cfg->max_line};
        if ((run.parquet ? !ko.jsonl : ko.parquet) &&
            optout_filter_parquet_codec(cfg, &ko.pq_codec, &ko.pq_level, err, errlen) != 0)
            goto done;
        if (!(sink = optout_docsink_open(src, out, removed, &ko, err, errlen))) goto done;
    }
    optout_doc_batch b;
    int got;
    while ((got = optout_docsource_next(src, &b, err, errlen)) == 1)
        if (process_batch(&run, &b, sink, err, errlen) != 0) goto done;
    if (got < 0) goto done;
    if (run.docs > 0 && run.docs_with_url == 0 && !cfg->missing_url_keep) {
        optout_set_err(err, errlen,
                       "%s: no document has a URL at %s (--url-field); --missing-url keep keeps such shards whole", in,
                       cfg->url_field ? cfg->url_field : "url or metadata.url");
        goto done;
    }
    if (cfg->history) copy_counters(cfg->history->stats, stats, before);
    int lost = add_top_losses(run.losses, run.stats) != 0;
    for (int p = 0; cfg->history && p < OPTOUT_ROBOTS_TIME_COUNT; p++)
        lost |= add_top_losses(run.policy_losses[p], &cfg->history->stats->policy[p]) != 0;
    if (lost) {
        optout_set_err(err, errlen, "out of memory");
        goto done;
    }
    if (sink) {
        int crc = optout_docsink_commit(sink, err, errlen);
        sink = NULL;
        if (crc != 0) goto done;
    }
    if (run.tags) {
        int crc = optout_shard_commit(run.tags, serr, sizeof serr);
        run.tags = NULL;
        if (crc != 0) {
            optout_set_err(err, errlen, "%s", serr);
            goto done;
        }
    }
    rc = 0;
done:
    if (sink) optout_docsink_abort(sink);
    if (run.tags) optout_shard_abort(run.tags);
    optout_docsource_close(src);
    free(run.cache);
    optout_strmap_free(run.losses, free);
    free(before);
    for (int p = 0; p < OPTOUT_ROBOTS_TIME_COUNT; p++) optout_strmap_free(run.policy_losses[p], free);
    free(run.url_buf);
    free(run.id_buf);
    free(run.tag_buf);
    free(run.agents_buf);
    free(run.decisions);
    free(run.sets);
    free(run.prefetch);
    return rc;
}
