/* cmd_why.c — `optout why --run DIR (URL... | --id DOC_ID | --urls FILE)`: why a run kept or
 * removed a URL, from the run directory alone (include/optout/why.h does the deciding).
 *
 * Output contract (tests/why/test_why.py relies on it)
 * - Human (default): one block per URL, in input order (command-line URLs, then --urls lines, then
 *   the documents found by --id), blocks separated by a blank line:
 *     URL
 *       document    id "ID": SHARD line N                   (with --id only)
 *       host key    KEY                                      (or why there is none)
 *       robots.txt  OUTCOME: details (record WHERE)
 *       AGENT       allowed|disallowed  EXPLANATION          (one line per agent, list order)
 *       removed: disallowed for A, B (2 of 14 agents)   or   kept: REASON
 *   The last line of a block starts with "removed:" or "kept:".
 * - --json: one JSON object per URL per line (keys: docs/why.md, and the usage text below).
 * - Exit: 0 answered; 1 the run directory lacks what is needed (message says what), an unreadable
 *   --urls file, an --id found nowhere; 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"
#include "optout/json.h"
#include "optout/log.h"
#include "optout/parse.h"
#include "optout/util.h"
#include "optout/why.h"
#include "why_history.h"

#define URLS_FILE_MAX ((size_t)1 << 34)

static void usage(FILE *f) {
    fputs("usage: optout why --run DIR [--json] [--first] (URL... | --urls FILE|- | --id DOC_ID...)\n"
          "                  [--history DIR [--robots-time POLICY] [--history-max-age DAYS]\n"
          "                   [--history-missing current|keep|remove] [--report-cutoff YYYY-MM-DD]\n"
          "                   [--crawl CC-MAIN-YYYY-WW] [--time YYYY-MM-DD[THH:MM:SSZ]]]\n"
          "\n"
          "Explains, from the run directory alone (its plan and its robots snapshot: the fetch\n"
          "archive DIR/robots/ or the robots directory the run used), why each URL was kept or\n"
          "removed: its host key, the host's robots.txt record (outcome, HTTP status, final URL,\n"
          "fetch time, size, SHA-256) and, for every agent of the run, the verdict with the deciding\n"
          "group, line and rule, or why nothing applied. The last line of each answer is\n"
          "\"removed: ...\" or \"kept: ...\", exactly the filter's decision.\n"
          "\n"
          "options:\n"
          "  --run DIR      the run directory (optout run --out DIR) (default: none, required)\n"
          "  --urls FILE    one URL per line ('-': standard input); URL arguments come first\n"
          "                 (default: none)\n"
          "  --id DOC_ID    finds the document in the run's inputs (top-level id, else metadata.id)\n"
          "                 and explains its URL; may be repeated; every occurrence is reported\n"
          "                 (default: none)\n"
          "  --first        with --id: stop reading inputs once every id was found (default: off)\n"
          "  --json         one JSON object per URL and line: url, host_key, url_status, bad_idna,\n"
          "                 outcome, robots {source, found, record, file, status, fetched_at, sha256,\n"
          "                 size, truncated, attempts, time_ms, final_url, error, parsed_truncated},\n"
          "                 mode, unreachable, agents [{agent, verdict, reason, via_star, group_line,\n"
          "                 rule_line, rule, pattern, explanation}], removed, disallowed_user_agents;\n"
          "                 with --id also id, shard, output_name, line, input_changed (default: off, text)\n"
          "  --history DIR  robots.txt as it was (docs/history.md): also the capture that judges the\n"
          "                 document at its time (an --id document's dump and date, else --crawl and\n"
          "                 --time) and its verdict under current, crawl, cutoff and strictest\n"
          "                 (default: none)\n"
          "  --robots-time, --history-max-age, --history-missing, --report-cutoff: as for\n"
          "                 optout filter (defaults: the run's plan, else current, 365, current,\n"
          "                 2023-08-07)\n"
          "  --crawl ID     the document's crawl, for URL arguments (or any text holding the id)\n"
          "                 (default: none)\n"
          "  --time DATE    the document's time (ISO 8601, UTC without a zone), for URL arguments\n"
          "                 (default: none)\n"
          "  -h, --help     this text\n"
          "\n"
          "Exit status: 0 answered, 1 the run directory lacks what is needed (or an id was not\n"
          "found, or --urls cannot be read), 2 usage error.\n",
          f);
}

/* ---- items ----------------------------------------------------------------------------------- */

struct item {
    const char *url; /* NULL: a document without URL */
    size_t len;
    int doc;         /* found by --id */
    const char *id;
    const char *shard, *output_name;
    unsigned long long line;
    int changed;
    optout_doc_time time; /* --history: the document's time */
};

struct items {
    struct item *v;
    size_t n, cap;
};

static struct item *push(struct items *s) {
    s->v = optout_grow(s->v, s->n, &s->cap, sizeof *s->v, 256, "the list of documents asked about");
    struct item *it = &s->v[s->n++];
    memset(it, 0, sizeof *it);
    return it;
}

struct found_ctx {
    struct items *items;
    const optout_doc_time *given; /* --crawl / --time, which replace a document's own (NULL: none) */
    const char *const *ids;
    char **owned; /* URLs copied (the reader's buffer moves on) */
    size_t owned_n, owned_cap;
};

static int on_doc(const optout_why_doc *d, void *arg) {
    struct found_ctx *c = arg;
    struct item *it = push(c->items);
    it->doc = 1;
    it->id = c->ids[d->id_index];
    it->shard = d->input->path;
    it->output_name = d->input->output_name;
    it->line = (unsigned long long)d->line;
    it->changed = d->changed;
    if (c->given) it->time = *c->given;
    else optout_history_doc_time(d->dump, d->dump_len, d->date, d->date_len, &it->time);
    if (d->url) {
        char *copy = optout_malloc(d->url_len + 1);
        memcpy(copy, d->url, d->url_len);
        copy[d->url_len] = '\0';
        c->owned = optout_grow(c->owned, c->owned_n, &c->owned_cap, sizeof *c->owned, 16, "the URLs asked about");
        c->owned[c->owned_n++] = copy;
        it->url = copy;
        it->len = d->url_len;
    }
    return 0;
}

/* ---- text ------------------------------------------------------------------------------------ */

static void json_cstr(FILE *out, const char *s) {
    if (s && *s) optout_json_put_stringn(out, s, strlen(s));
    else fputs("null", out);
}

/* Human text: control characters shown as '?' so that one answer stays one block of lines. */
static void text_str(FILE *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], out);
}

/* ---- reasons --------------------------------------------------------------------------------- */

static const char *rule_reason(optout_robots_why why) {
    switch (why) {
    case OPTOUT_WHY_RULE: return "rule";
    case OPTOUT_WHY_NO_MATCH: return "no_match";
    case OPTOUT_WHY_NO_GROUP: return "no_group";
    case OPTOUT_WHY_ROBOTS_TXT: return "robots_txt";
    case OPTOUT_WHY_UNPARSABLE: return "protego_unparsable";
    case OPTOUT_WHY_BAD_URL: return "protego_bad_url";
    }
    return "?";
}

/* The explanation of a rules verdict, as `optout robots check --explain` prints it. */
static void rule_text(char *buf, size_t cap, const optout_robots_explanation *e) {
    switch (e->why) {
    case OPTOUT_WHY_ROBOTS_TXT: snprintf(buf, cap, "/robots.txt is always allowed"); return;
    case OPTOUT_WHY_UNPARSABLE: snprintf(buf, cap, "Protego cannot parse this robots.txt: everything allowed"); return;
    case OPTOUT_WHY_BAD_URL: snprintf(buf, cap, "Protego cannot parse this URL: allowed"); return;
    case OPTOUT_WHY_NO_GROUP: snprintf(buf, cap, "no group for this agent and no User-agent: * group"); return;
    case OPTOUT_WHY_NO_MATCH:
        snprintf(buf, cap, "%s", e->via_star ? "no group of its own; no rule of the * group matches" : "no rule matches");
        return;
    case OPTOUT_WHY_RULE:
        snprintf(buf, cap, "%sgroup at line %u, line %u: %s: %.*s", e->via_star ? "no group of its own; * " : "",
                 e->group_line, e->rule_line, e->rule_allow ? "Allow" : "Disallow", (int)e->rule_pattern_len,
                 e->rule_pattern);
        return;
    }
    snprintf(buf, cap, "?");
}

/* Reason name and text when the outcome (or the lack of a host key) decided for every agent. */
static void outcome_reason(const optout_why_config *cfg, const optout_why_answer *a, int no_url, const char **name,
                           char *buf, size_t cap) {
    if (no_url) {
        *name = "no_url";
        snprintf(buf, cap, "the document has no URL: the filter keeps it (no_url)");
        return;
    }
    if (a->key_status == OPTOUT_HOSTKEY_BAD_URL) {
        *name = "bad_url";
        snprintf(buf, cap, "libcurl cannot parse the URL: no host key, the filter keeps it (bad_url)");
        return;
    }
    if (a->key_status == OPTOUT_HOSTKEY_NO_HOST) {
        *name = "no_host";
        snprintf(buf, cap, "the URL has no host: no host key, the filter keeps it (no_host)");
        return;
    }
    *name = optout_outcome_name(a->outcome);
    switch (a->outcome) {
    case OPTOUT_OUTCOME_NOT_RANKED:
        snprintf(buf, cap, "not ranked: the host was never fetched, its documents are kept");
        return;
    case OPTOUT_OUTCOME_NO_ROBOTS: snprintf(buf, cap, "no robots.txt: everything allowed"); return;
    case OPTOUT_OUTCOME_UNAVAILABLE: snprintf(buf, cap, "robots.txt unavailable (4xx or redirects): everything allowed"); return;
    case OPTOUT_OUTCOME_UNREACHABLE:
        if (cfg->unreachable_disallows)
            snprintf(buf, cap, "robots.txt unreachable: disallowed under the RFC-strict policy (--unreachable disallow)");
        else
            snprintf(buf, cap, "robots.txt unreachable: allowed under the opt-out policy (--unreachable keep)");
        return;
    case OPTOUT_OUTCOME_NO_SUCH_HOST: snprintf(buf, cap, "no such host (NXDOMAIN): allowed"); return;
    default: snprintf(buf, cap, "%s", *name); return;
    }
}

/* What the robots.txt line says after the outcome. */
static void record_text(FILE *out, const optout_why_config *cfg, const optout_why_answer *a) {
    const optout_why_record *r = a->record;
    fputs(optout_outcome_name(a->outcome), out);
    if (!r->found) {
        if (a->outcome == OPTOUT_OUTCOME_NOT_RANKED) {
            if (cfg->hosts[0])
                fprintf(out, ": no record in the fetch archive %s (not in the run's host list %s: never fetched)",
                        cfg->archive, cfg->hosts);
            else
                fprintf(out, ": no record in the fetch archive %s (outside the run's top hosts, top-en %s, "
                             "top-intl %s: never fetched)",
                        cfg->archive, cfg->top_en[0] ? cfg->top_en : "-", cfg->top_intl[0] ? cfg->top_intl : "-");
        } else if (a->outcome == OPTOUT_OUTCOME_NO_ROBOTS) {
            fprintf(out, ": the robots directory %s has no file for this host", cfg->robots_dir);
        }
        fputc('\n', out);
        return;
    }
    const char *sep = " (";
#define SEP() (fputs(sep, out), sep = ", ")
    if (r->status > 0) SEP(), fprintf(out, "HTTP %ld", r->status);
    else if (r->status == 0) SEP(), fputs("no HTTP response", out);
    if (r->fetched_at[0]) SEP(), fprintf(out, "fetched %s", r->fetched_at);
    if (r->size >= 0 && (a->outcome == OPTOUT_OUTCOME_OK || r->size > 0)) SEP(), fprintf(out, "%lld bytes", r->size);
    if (r->sha256[0]) SEP(), fprintf(out, "sha256 %s", r->sha256);
    if (r->truncated == 1) SEP(), fputs("truncated by the fetch at 500 KiB", out);
    if (a->parsed_truncated) SEP(), fputs("only the first 500 KiB parsed", out);
    if (r->final_url[0]) SEP(), fputs("final URL ", out), text_str(out, r->final_url, strlen(r->final_url));
    if (r->attempts > 1) SEP(), fprintf(out, "%ld attempts", r->attempts);
    if (r->error[0]) SEP(), fputs("error \"", out), text_str(out, r->error, strlen(r->error)), fputc('"', out);
    SEP(), fprintf(out, "record %s", r->where);
#undef SEP
    fputs(")\n", out);
}

/* ---- printing -------------------------------------------------------------------------------- */

struct printer {
    const optout_why_config *cfg;
    int json;
    int first;
    size_t width; /* agent column */
    struct item *items;
    size_t *map; /* explained URL index -> item index */
    size_t next; /* next item to print */
    why_history *hist; /* --history, else NULL */
    int failed;        /* the history archive could not be read */
};

/* The "robots" member of a JSON answer: the record the verdict came from. */
static void json_record(FILE *out, const optout_why_config *cfg, const optout_why_answer *a) {
    const optout_why_record *r = a->record;
    fprintf(out, "{\"source\": \"%s\", \"found\": %s, \"record\": ", cfg->robots_dir[0] ? "robots-dir" : "archive",
            r->found ? "true" : "false");
    json_cstr(out, r->found ? r->where : NULL);
    fputs(", \"file\": ", out);
    json_cstr(out, r->file);
    if (r->status >= 0) fprintf(out, ", \"status\": %ld", r->status);
    else fputs(", \"status\": null", out);
    fputs(", \"fetched_at\": ", out);
    json_cstr(out, r->fetched_at);
    fputs(", \"sha256\": ", out);
    json_cstr(out, r->sha256);
    if (r->size >= 0) fprintf(out, ", \"size\": %lld", r->size);
    else fputs(", \"size\": null", out);
    fprintf(out, ", \"truncated\": %s", r->truncated < 0 ? "null" : r->truncated ? "true" : "false");
    if (r->attempts >= 0) fprintf(out, ", \"attempts\": %ld, \"time_ms\": %ld", r->attempts, r->time_ms);
    else fputs(", \"attempts\": null, \"time_ms\": null", out);
    fputs(", \"final_url\": ", out);
    json_cstr(out, r->final_url);
    fputs(", \"error\": ", out);
    json_cstr(out, r->error);
    fprintf(out, ", \"parsed_truncated\": %s}", a->parsed_truncated ? "true" : "false");
}

/* One answer as one JSON object (docs/why.md). */
static void print_answer_json(const optout_why_config *cfg, const struct item *it, const optout_why_answer *a,
                              int no_url, const char *oname, const char *otext) {
    FILE *out = stdout;
    const optout_agents *agents = cfg->agents;
    size_t n = optout_agents_count(agents);
    char rtext[1200];
    fputs("{\"url\": ", out);
    if (no_url) fputs("null", out);
    else optout_json_put_stringn(out, a->url, a->url_len);
    if (it->doc) {
        fputs(", \"id\": ", out);
        optout_json_put_stringn(out, it->id, strlen(it->id));
        fputs(", \"shard\": ", out);
        json_cstr(out, it->shard);
        fputs(", \"output_name\": ", out);
        json_cstr(out, it->output_name);
        fprintf(out, ", \"line\": %llu, \"input_changed\": %s", it->line, it->changed ? "true" : "false");
    }
    int keyed = !no_url && a->key_status == OPTOUT_HOSTKEY_OK;
    fputs(", \"host_key\": ", out);
    if (keyed) optout_json_put_stringn(out, a->host, strlen(a->host));
    else fputs("null", out);
    fprintf(out, ", \"url_status\": \"%s\", \"bad_idna\": %s, \"outcome\": ",
            no_url ? "no_url" : a->key_status == OPTOUT_HOSTKEY_OK ? "ok"
                              : a->key_status == OPTOUT_HOSTKEY_BAD_URL ? "bad_url" : "no_host",
            a->bad_idna ? "true" : "false");
    if (keyed) fprintf(out, "\"%s\"", optout_outcome_name(a->outcome));
    else fputs("null", out);
    fputs(", \"robots\": ", out);
    if (keyed) json_record(out, cfg, a);
    else fputs("null", out);
    fprintf(out, ", \"mode\": \"%s\", \"unreachable\": \"%s\", \"agents\": [", optout_robots_mode_name(cfg->mode),
            cfg->unreachable_disallows ? "disallow" : "keep");
    for (size_t k = 0; k < n; k++) {
        int dis = optout_agentset_has(&a->disallowed, k);
        fputs(k ? ", {\"agent\": " : "{\"agent\": ", out);
        json_cstr(out, optout_agents_name(agents, k));
        fprintf(out, ", \"verdict\": \"%s\", \"reason\": ", dis ? "disallowed" : "allowed");
        if (a->kind == OPTOUT_WHY_AGENT_RULES) {
            const optout_robots_explanation *e = &a->explanation[k];
            rule_text(rtext, sizeof rtext, e);
            fprintf(out, "\"%s\", \"via_star\": %s", rule_reason(e->why), e->via_star ? "true" : "false");
            if (e->why == OPTOUT_WHY_RULE) {
                fprintf(out, ", \"group_line\": %u, \"rule_line\": %u, \"rule\": \"%s\", \"pattern\": ", e->group_line,
                        e->rule_line, e->rule_allow ? "Allow" : "Disallow");
                optout_json_put_stringn(out, e->rule_pattern, e->rule_pattern_len);
            } else {
                fputs(", \"group_line\": null, \"rule_line\": null, \"rule\": null, \"pattern\": null", out);
            }
            fputs(", \"explanation\": ", out);
            json_cstr(out, rtext);
        } else {
            fprintf(out, "\"%s\", \"via_star\": false, \"group_line\": null, \"rule_line\": null, \"rule\": null, "
                         "\"pattern\": null, \"explanation\": ",
                    oname);
            json_cstr(out, otext);
        }
        fputc('}', out);
    }
    fprintf(out, "], \"override\": %s", a->override == OPTOUT_OVERRIDE_KEEP     ? "\"keep\""
                                        : a->override == OPTOUT_OVERRIDE_REMOVE ? "\"remove\""
                                                                                : "null");
    if (a->override) fputs(", \"override_entry\": ", out), json_cstr(out, a->override_entry);
    fprintf(out, ", \"granularity\": \"%s\"", optout_granularity_name(cfg->granularity));
    if (a->domain && a->domain[0]) fputs(", \"domain\": ", out), json_cstr(out, a->domain);
    fputs(", \"granularity_agents\": [", out);
    for (size_t k = 0, f1 = 1; k < n; k++)
        if (optout_agentset_has(&a->coarse, k)) {
            if (!f1) fputs(", ", out);
            f1 = 0;
            json_cstr(out, optout_agents_name(agents, k));
        }
    fprintf(out, "], \"removed\": %s, \"disallowed_user_agents\": [", a->removed ? "true" : "false");
    int first = 1;
    for (size_t k = 0; k < n; k++)
        if (optout_agentset_has(&a->disallowed, k)) {
            if (!first) fputs(", ", out);
            first = 0;
            json_cstr(out, optout_agents_name(agents, k));
        }
    fputs("]", out); /* the caller closes the object (after the history member) */
}

/* One answer as text: a block of lines for people. */
static void print_answer_text(struct printer *p, const struct item *it, const optout_why_answer *a, int no_url,
                              const char *otext) {
    FILE *out = stdout;
    const optout_why_config *cfg = p->cfg;
    const optout_agents *agents = cfg->agents;
    size_t n = optout_agents_count(agents);
    char rtext[1200];

    if (!p->first) fputc('\n', out);
    p->first = 0;
    if (no_url) fputs("(no URL)\n", out);
    else text_str(out, a->url, a->url_len), fputc('\n', out);
    int w = (int)p->width;
    if (it->doc) {
        fprintf(out, "  %-*s  id \"", w, "document");
        text_str(out, it->id, strlen(it->id));
        fprintf(out, "\": %s line %llu (output %s)%s\n", it->shard, it->line, it->output_name,
                it->changed ? " [the input changed since the run: size or mtime differ from the plan]" : "");
    }
    if (no_url) {
        fprintf(out, "  kept: %s\n", otext);
        return;
    }
    if (a->key_status != OPTOUT_HOSTKEY_OK) {
        fprintf(out, "  %-*s  none: %s\n", w, "host key", otext);
        fprintf(out, "  kept: %s\n", a->key_status == OPTOUT_HOSTKEY_BAD_URL ? "bad URL (bad_url)" : "no host (no_host)");
        return;
    }
    fprintf(out, "  %-*s  %s%s%s\n", w, "host key", a->host,
            cfg->host_key == OPTOUT_HOSTKEY_NETLOC ? " (netloc)" : "",
            a->bad_idna ? " (IDNA conversion failed: the raw host is used)" : "");
    fprintf(out, "  %-*s  ", w, "robots.txt");
    record_text(out, cfg, a);
    if (a->override) { /* policy.h: decided before robots.txt */
        fprintf(out, "  %-*s  %s by --%s entry %s: robots.txt is not consulted\n", w, "override",
                a->override == OPTOUT_OVERRIDE_KEEP ? "kept" : "removed",
                a->override == OPTOUT_OVERRIDE_KEEP ? "keep-hosts" : "remove-hosts", a->override_entry);
        if (a->override == OPTOUT_OVERRIDE_KEEP) fprintf(out, "  kept: the host is in --keep-hosts (%s)\n", a->override_entry);
        else fprintf(out, "  removed: the host is in --remove-hosts (%s), for no agent\n", a->override_entry);
        return;
    }
    if (cfg->granularity != OPTOUT_GRANULARITY_URL)
        fprintf(out, "  %-*s  %s%s%s\n", w, "granularity", optout_granularity_name(cfg->granularity),
                cfg->granularity == OPTOUT_GRANULARITY_DOMAIN ? ": registrable domain " : "",
                cfg->granularity == OPTOUT_GRANULARITY_DOMAIN ? a->domain : "");
    for (size_t k = 0; k < n; k++) {
        int dis = optout_agentset_has(&a->disallowed, k);
        const char *text = otext;
        if (a->kind == OPTOUT_WHY_AGENT_RULES) {
            rule_text(rtext, sizeof rtext, &a->explanation[k]);
            text = rtext;
        }
        char ctext[1400];
        if (optout_agentset_has(&a->coarse, k)) { /* the URL itself is allowed: the granularity removes it */
            snprintf(ctext, sizeof ctext, "%s; but the %s disallows this agent something (--granularity %s)", text,
                     cfg->granularity == OPTOUT_GRANULARITY_DOMAIN ? "domain (one of its hosts)" : "host's robots.txt",
                     optout_granularity_name(cfg->granularity));
            text = ctext;
        }
        fprintf(out, "  %-*s  %-10s  ", w, optout_agents_name(agents, k), dis ? "disallowed" : "allowed");
        text_str(out, text, strlen(text));
        fputc('\n', out);
    }
    if (a->removed) {
        fputs("  removed: disallowed for ", out);
        int first = 1;
        for (size_t k = 0; k < n; k++)
            if (optout_agentset_has(&a->disallowed, k)) {
                fputs(first ? "" : ", ", out);
                first = 0;
                fputs(optout_agents_name(agents, k), out);
            }
        fprintf(out, " (%zu of %zu agents)\n", a->disallowed_count, n);
    } else if (a->kind == OPTOUT_WHY_AGENT_RULES) {
        fprintf(out, "  kept: no agent of the run's %zu is disallowed\n", n);
    } else {
        fprintf(out, "  kept: %s\n", otext);
    }
}

static void print_answer(struct printer *p, const struct item *it, const optout_why_answer *a, int no_url) {
    const char *oname = NULL;
    char otext[256] = "";
    if (a->kind != OPTOUT_WHY_AGENT_RULES) outcome_reason(p->cfg, a, no_url, &oname, otext, sizeof otext);
    if (p->json) print_answer_json(p->cfg, it, a, no_url, oname, otext);
    else print_answer_text(p, it, a, no_url, otext);
    char err[1024];
    if (p->hist && !no_url && a->key_status == OPTOUT_HOSTKEY_OK &&
        why_history_explain(p->hist, a, &it->time, stdout, p->json, (int)p->width, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "why: %s", err);
        p->failed = 1;
    }
    if (p->json) fputs("}\n", stdout);
}

static void print_no_url(struct printer *p, const struct item *it) {
    optout_why_answer a;
    memset(&a, 0, sizeof a);
    a.kind = OPTOUT_WHY_AGENT_UNDECIDED;
    a.host = "";
    print_answer(p, it, &a, 1);
}

/* Items without URL are printed in their place, between the explained ones. */
static void flush_no_url(struct printer *p, size_t upto) {
    for (; p->next < upto; p->next++) print_no_url(p, &p->items[p->next]);
}

static int on_answer(const optout_why_answer *a, size_t index, void *arg) {
    struct printer *p = arg;
    size_t item = p->map[index];
    flush_no_url(p, item);
    print_answer(p, &p->items[item], a, 0);
    p->next = item + 1;
    return ferror(stdout) || p->failed ? -1 : 0;
}

/* ---- the command ----------------------------------------------------------------------------- */

/* Reads --urls FILE (or - for stdin), one URL a line (CRLF accepted, blank lines skipped), appending an
 * item per URL that points into the returned buffer (the caller frees it after the items). NULL, logged,
 * when the file cannot be read. */
static char *read_url_list(const char *path, struct items *items) {
    size_t len;
    int stdin_ = strcmp(path, "-") == 0;
    char *text = stdin_ ? optout_read_fd(0, URLS_FILE_MAX, &len) : optout_read_file(path, URLS_FILE_MAX, &len);
    if (!text) {
        optout_log(LOG_ERR, "why: cannot read URL list %s: %s", stdin_ ? "(stdin)" : path, strerror(errno));
        return NULL;
    }
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (n > 0) {
            struct item *it = push(items);
            it->url = p;
            it->len = n;
        }
        p = nl ? nl + 1 : end;
    }
    return text;
}

/* The --history options as given (NULL: not given). */
struct history_opts {
    const char *dir, *policy, *max_age, *missing, *cutoff, *crawl, *time;
};

/* Checks the --history options; with --history, opens the archive into *out and puts the time
 * given by --crawl / --time in *given (*has_given). -1 to go on, else the exit status (logged). */
static int history_setup(const struct history_opts *given_opts, const optout_why_config *cfg, why_history **out,
                         optout_doc_time *given, int *has_given) {
    /* a run that judged by captures: its plan's archive and options, unless given here */
    struct history_opts run_opts = *given_opts;
    const struct history_opts *o = &run_opts;
    if (!run_opts.dir && cfg->history[0]) run_opts.dir = cfg->history;
    if (run_opts.dir) { /* another archive given here is still judged with the run's values */
        if (!run_opts.policy && cfg->robots_time[0]) run_opts.policy = cfg->robots_time;
        if (!run_opts.max_age && cfg->history_max_age[0]) run_opts.max_age = cfg->history_max_age;
        if (!run_opts.missing && cfg->history_missing[0]) run_opts.missing = cfg->history_missing;
        if (!run_opts.cutoff && cfg->report_cutoff[0]) run_opts.cutoff = cfg->report_cutoff;
    }
    optout_robots_time_spec spec = {0};
    optout_history_missing missing = OPTOUT_MISSING_CURRENT;
    uint64_t max_age = OPTOUT_HISTORY_MAX_AGE_DEFAULT_DAYS;
    int64_t cutoff, t;
    const char *day = o->cutoff ? o->cutoff : OPTOUT_HISTORY_REPORT_CUTOFF_DEFAULT;
    char perr[200];
    if (!o->dir) {
        if (!o->policy && !o->max_age && !o->missing && !o->cutoff && !o->crawl && !o->time) return -1;
        optout_log(LOG_ERR, "why: --robots-time, --history-max-age, --history-missing, --report-cutoff, --crawl and "
                            "--time need --history DIR");
        return OPTOUT_EXIT_USAGE;
    }
    const char *bad = o->policy && optout_robots_time_parse(o->policy, &spec) != 0 ? "--robots-time"
                      : o->missing && optout_history_missing_parse(o->missing, &missing) != 0 ? "--history-missing"
                      : o->max_age && optout_parse_number(o->max_age, 0, 36500, &max_age, perr, sizeof perr) != 0
                          ? "--history-max-age"
                      : strlen(day) != 10 || optout_history_parse_time(day, 10, &cutoff) != 0 ? "--report-cutoff"
                      : o->time && optout_history_parse_time(o->time, strlen(o->time), &t) != 0 ? "--time"
                                                                                              : NULL;
    if (bad) {
        optout_log(LOG_ERR, "why: %s: not a valid value (docs/history.md)", bad);
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->host_key == OPTOUT_HOSTKEY_NETLOC) {
        optout_log(LOG_ERR, "why: the run used --host-key netloc; a history archive is keyed by canonical host keys");
        return OPTOUT_EXIT_USAGE;
    }
    if (cfg->granularity != OPTOUT_GRANULARITY_URL) {
        optout_log(LOG_ERR, "why: the run used --granularity %s; robots.txt as it was is judged per URL only",
                   optout_granularity_name(cfg->granularity));
        return OPTOUT_EXIT_USAGE;
    }
    *has_given = o->crawl || o->time;
    optout_history_doc_time(o->crawl, o->crawl ? strlen(o->crawl) : 0, o->time, o->time ? strlen(o->time) : 0, given);
    if (o->crawl && !given->crawl[0]) {
        optout_log(LOG_ERR, "why: --crawl %s names no crawl (CC-MAIN-YYYY-WW)", o->crawl);
        return OPTOUT_EXIT_USAGE;
    }
    if (!(*out = why_history_open(o->dir, &spec, (int64_t)max_age, missing, cutoff, cfg))) return OPTOUT_EXIT_FAILURE;
    return -1;
}

/* The command line, parsed and checked. */
struct why_args {
    const char *run, *urls_path;
    const char **ids; /* --id values (argc slots; freed by the caller) */
    size_t nids;
    int json, first_only;
    struct history_opts ho;
};

/* Parses and checks the command line into *a. -1 to go on, else the exit status (logged). */
static int parse_args(int argc, char **argv, struct why_args *a) {
    static const struct option options[] = {
        {"run", required_argument, NULL, 'r'}, {"urls", required_argument, NULL, 'u'},
        {"id", required_argument, NULL, 'i'},  {"json", no_argument, NULL, 'j'},
        {"first", no_argument, NULL, 'f'},     {"help", no_argument, NULL, 'h'},
        {"history", required_argument, NULL, 'H'}, {"robots-time", required_argument, NULL, 'T'},
        {"history-max-age", required_argument, NULL, 'A'}, {"history-missing", required_argument, NULL, 'M'},
        {"report-cutoff", required_argument, NULL, 'C'}, {"crawl", required_argument, NULL, 'c'},
        {"time", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'r': a->run = optarg; break;
        case 'u': a->urls_path = optarg; break;
        case 'i': a->ids[a->nids++] = optarg; break;
        case 'j': a->json = 1; break;
        case 'f': a->first_only = 1; break;
        case 'H': a->ho.dir = optarg; break;
        case 'T': a->ho.policy = optarg; break;
        case 'A': a->ho.max_age = optarg; break;
        case 'M': a->ho.missing = optarg; break;
        case 'C': a->ho.cutoff = optarg; break;
        case 'c': a->ho.crawl = optarg; break;
        case 't': a->ho.time = optarg; break;
        case 'h': usage(stdout); return OPTOUT_EXIT_OK;
        default: return cli_option_error("why", opt, argv);
        }
    }
    if (!a->run) {
        optout_log(LOG_ERR, "why: --run DIR is required");
        usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    int missing = cli_require_path("why", "--run", a->run, 0);
    if (!missing && a->urls_path) missing = cli_require_path("why", "--urls", a->urls_path, 1);
    if (!missing && a->ho.dir) missing = cli_require_path("why", "--history", a->ho.dir, 0);
    if (missing) return missing;
    if (optind == argc && !a->urls_path && a->nids == 0) {
        optout_log(LOG_ERR, "why: no URL to explain (give URLs, --urls FILE or --id DOC_ID)");
        usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    for (size_t i = 0; i < a->nids; i++)
        if (!a->ids[i][0]) {
            optout_log(LOG_ERR, "why: --id needs a non-empty id");
            return OPTOUT_EXIT_USAGE;
        }
    return -1;
}

/* Explains every item that has a URL and prints every item, in order, through *p. An exit status. */
static int explain_items(optout_why *w, struct printer *p, const struct items *items) {
    char err[2048];
    int rc = OPTOUT_EXIT_OK;
    size_t *map = malloc((items->n + 1) * sizeof *map);
    const char **urls = malloc((items->n + 1) * sizeof *urls);
    size_t *lens = malloc((items->n + 1) * sizeof *lens);
    if (!map || !urls || !lens) {
        optout_log(LOG_ERR, "why: out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    size_t nurls = 0;
    for (size_t i = 0; i < items->n; i++)
        if (items->v[i].url) {
            map[nurls] = i;
            urls[nurls] = items->v[i].url;
            lens[nurls++] = items->v[i].len;
        }
    p->map = map;
    if (optout_why_explain(w, urls, lens, nurls, on_answer, p, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "why: %s", err);
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    flush_no_url(p, items->n);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        optout_log(LOG_ERR, "why: writing the answer: %s", strerror(errno));
        rc = OPTOUT_EXIT_FAILURE;
    }
out:
    p->map = NULL;
    free(map);
    free(urls);
    free(lens);
    return rc;
}

/* Opens the run, collects the items (URL arguments, --urls, --id documents) and explains them. */
static int run_why(int argc, char **argv, const struct why_args *a) {
    char err[2048];
    int rc = OPTOUT_EXIT_OK;
    struct items items = {0};
    struct found_ctx fc = {.items = &items, .ids = a->ids};
    char *urls_text = NULL;
    size_t *found = NULL;
    optout_doc_time given;
    int has_given = 0;
    why_history *hist = NULL;
    optout_why *w = optout_why_open(a->run, err, sizeof err);
    if (!w) {
        optout_log(LOG_ERR, "why: %s", err);
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    const optout_why_config *cfg = optout_why_config_of(w);
    if (cfg->unknown_options[0])
        optout_log(LOG_WARNING,
                   "why: the run's plan has options this version of optout why does not model (%s): its answers "
                   "may differ from what the filter decided",
                   cfg->unknown_options);
    if ((rc = history_setup(&a->ho, cfg, &hist, &given, &has_given)) >= 0) goto out;
    rc = OPTOUT_EXIT_OK;
    fc.given = has_given ? &given : NULL;
    for (int i = optind; i < argc; i++) {
        struct item *it = push(&items);
        it->url = argv[i];
        it->len = strlen(argv[i]);
        it->time = given;
    }
    if (a->urls_path && !(urls_text = read_url_list(a->urls_path, &items))) {
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    if (a->nids > 0) {
        found = calloc(a->nids, sizeof *found);
        if (!found ||
            optout_why_find_ids(w, a->ids, a->nids, a->first_only, on_doc, &fc, found, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "why: %s", found ? err : "out of memory");
            rc = OPTOUT_EXIT_FAILURE;
            goto out;
        }
        for (size_t i = 0; i < a->nids; i++)
            if (found[i] == 0) {
                optout_log(LOG_ERR, "why: no document with id \"%s\" in the %zu inputs of the run", a->ids[i],
                           cfg->inputs->count);
                rc = OPTOUT_EXIT_FAILURE;
            }
    }
    struct printer p = {.cfg = cfg, .json = a->json, .first = 1, .width = 10, .items = items.v, .hist = hist};
    for (size_t k = 0; k < optout_agents_count(cfg->agents); k++) {
        size_t l = strlen(optout_agents_name(cfg->agents, k));
        if (l > p.width) p.width = l;
    }
    int erc = explain_items(w, &p, &items);
    if (erc != OPTOUT_EXIT_OK) rc = erc;
out:
    why_history_close(hist);
    optout_why_close(w);
    for (size_t i = 0; i < fc.owned_n; i++) free(fc.owned[i]);
    free(fc.owned);
    free(items.v);
    free(urls_text);
    free(found);
    return rc;
}

int cmd_why(int argc, char **argv) {
    struct why_args a = {0};
    a.ids = calloc((size_t)argc + 1, sizeof *a.ids);
    if (!a.ids) return OPTOUT_EXIT_FAILURE;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = run_why(argc, argv, &a);
        curl_global_cleanup();
    }
    free(a.ids);
    return rc;
}
