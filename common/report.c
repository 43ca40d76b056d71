/* report.c — report.md, report.json and report.msgpack from the merged statistics, written
 * atomically; report.msgpack read back (include/optout/report.h). The chart is report_svg.c. */
#include "optout/report.h"

#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/files.h"
#include "optout/json.h"
#include "optout/msgpack_bounded.h"
#include "optout/util.h"

#define REPORT_FORMAT "optout-report"
#define REPORT_VERSION 1
#define REPORT_MAX_BYTES ((size_t)256 << 20)

static const char *const CLASS_LABEL[OPTOUT_CLASS_COUNT] = {"English", "non-English", "unknown language"};

/* ---- Markdown helpers ------------------------------------------------------------------------- */

const char *optout_report_num(uint64_t v, char *out) {
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

static void put_num(FILE *f, uint64_t v) {
    char out[OPTOUT_REPORT_NUM_LEN];
    fputs(optout_report_num(v, out), f);
}

static void put_pct(FILE *f, uint64_t part, uint64_t whole) {
    if (whole) fprintf(f, "%.2f%%", 100.0 * (double)part / (double)whole);
    else fputs("–", f);
}

static void cell_num(FILE *f, uint64_t v) {
    fputs(" | ", f);
    put_num(f, v);
}
static void cell_pct(FILE *f, uint64_t part, uint64_t whole) {
    fputs(" | ", f);
    put_pct(f, part, whole);
}

void optout_report_put_text(FILE *f, const char *s) {
    if (!s) {
        fputs("–", f);
        return;
    }
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

void optout_report_put_code(FILE *f, const char *s) {
    int tick = strchr(s, '`') != NULL;
    fputs(tick ? "`` " : "`", f);
    optout_report_put_text(f, s);
    fputs(tick ? " ``" : "`", f);
}

static int year_has_docs(const optout_stats *s, int slot) { return s->by_year[slot].docs_in != 0; }

/* ---- the settings (report.h optout_report_setting) -------------------------------------------- */

static const struct {
    const char *key, *label;
} SETTINGS[OPTOUT_SET_COUNT] = {
    [OPTOUT_SET_GRANULARITY] = {"granularity", "granularity"},
    [OPTOUT_SET_ROBOTS_TIME] = {"robots_time", "robots.txt time"},
    [OPTOUT_SET_KEEP_HOSTS] = {"keep_hosts", "--keep-hosts"},
    [OPTOUT_SET_KEEP_HOSTS_SHA256] = {"keep_hosts_sha256", "--keep-hosts SHA-256"},
    [OPTOUT_SET_REMOVE_HOSTS] = {"remove_hosts", "--remove-hosts"},
    [OPTOUT_SET_REMOVE_HOSTS_SHA256] = {"remove_hosts_sha256", "--remove-hosts SHA-256"},
    [OPTOUT_SET_SAMPLE] = {"sample", "sample"},
    [OPTOUT_SET_SAMPLE_SHARDS] = {"sample_shards", "sampled documents written (sample/)"},
    [OPTOUT_SET_OUTPUT] = {"output", "output"},
    [OPTOUT_SET_REMOVED] = {"removed", "removed documents written"},
    [OPTOUT_SET_OUTPUT_FORMAT] = {"output_format", "output format"},
    [OPTOUT_SET_MISSING_URL] = {"missing_url", "shard without URLs (--missing-url)"},
};

const char *optout_report_setting_key(optout_report_setting id) { return SETTINGS[id].key; }
const char *optout_report_setting_label(optout_report_setting id) { return SETTINGS[id].label; }

/* Which robots.txt decided, in the headline's words, per robots_time value. A value without a row
 * is named as it is. */
static const struct {
    const char *value, *words;
} ROBOTS_TIMES[] = {
    {"current", "current robots.txt"},
    {"crawl", "robots.txt as it was at crawl time"},
    {"cutoff:", "robots.txt as it was before the cutoff day, current from it"}, /* cutoff:DAY */
    {"strictest", "current or crawl-time robots.txt (the stricter)"},
};

static void put_robots_time(FILE *f, const char *value) {
    if (!value) value = "current";
    for (size_t i = 0; i < sizeof ROBOTS_TIMES / sizeof *ROBOTS_TIMES; i++) {
        const char *v = ROBOTS_TIMES[i].value;
        size_t n = strlen(v);
        /* a value ending in ':' is a prefix (cutoff:DAY): the day is said after the words */
        if (v[n - 1] == ':' ? strncmp(value, v, n) == 0 : strcmp(value, v) == 0) {
            fputs(ROBOTS_TIMES[i].words, f);
            if (v[n - 1] == ':') {
                fputs(" (", f);
                optout_report_put_code(f, value + n);
                fputs(")", f);
            }
            return;
        }
    }
    fputs("robots.txt (robots time ", f);
    optout_report_put_code(f, value);
    fputs(")", f);
}

static int setting_is(const optout_report_info *info, optout_report_setting id, const char *value) {
    return info->settings[id] && strcmp(info->settings[id], value) == 0;
}

static int setting_given(const optout_report_info *info, optout_report_setting id) {
    return info->settings[id] && strcmp(info->settings[id], "none") != 0;
}

/* ---- report.md -------------------------------------------------------------------------------- */

static void md_headline(FILE *f, const optout_stats *s, const optout_agents *agents, const optout_report_info *info,
                        int incomplete) {
    const optout_bucket *t = &s->total, *en = &s->by_class[OPTOUT_CLASS_EN], *non = &s->by_class[OPTOUT_CLASS_NON_EN];
    fputs("# optout report\n\n**", f);
    if (en->docs_in) {
        put_pct(f, en->tokens_removed, en->tokens_in);
        fputs(" of English tokens", f);
    } else {
        fputs("no English documents", f);
    }
    fputs(non->docs_in ? " and " : "; ", f);
    if (non->docs_in) {
        put_pct(f, non->tokens_removed, non->tokens_in);
        fputs(" of non-English tokens removed.**", f);
    } else {
        fputs("no non-English documents.**", f);
    }
    fputs(" Overall ", f);
    put_pct(f, t->tokens_removed, t->tokens_in);
    fputs(" of tokens removed: ", f);
    put_num(f, t->docs_removed);
    fputs(" of ", f);
    put_num(f, t->docs_in);
    fputs(" documents (", f);
    put_pct(f, t->docs_removed, t->docs_in);
    fputs("), because ", f);
    const char *rt = info->settings[OPTOUT_SET_ROBOTS_TIME];
    if (setting_is(info, OPTOUT_SET_GRANULARITY, "domain")) {
        fputs("their registrable domain's ", f);
        put_robots_time(f, rt);
        fprintf(f, " (on any host of the domain) disallows something to at least one of the %zu agents below "
                   "(`--granularity domain`).",
                optout_agents_count(agents));
    } else if (setting_is(info, OPTOUT_SET_GRANULARITY, "host")) {
        fputs("their host's ", f);
        put_robots_time(f, rt);
        fprintf(f, " disallows something to at least one of the %zu agents below (`--granularity host`).",
                optout_agents_count(agents));
    } else {
        fputs("their site's ", f);
        put_robots_time(f, rt);
        fprintf(f, " disallows at least one of the %zu agents below.", optout_agents_count(agents));
    }
    if (setting_given(info, OPTOUT_SET_KEEP_HOSTS) || setting_given(info, OPTOUT_SET_REMOVE_HOSTS))
        fprintf(f, " Before robots.txt, %s decided their hosts' documents (Overrides below).",
                !setting_given(info, OPTOUT_SET_REMOVE_HOSTS) ? "`--keep-hosts`"
                : !setting_given(info, OPTOUT_SET_KEEP_HOSTS) ? "`--remove-hosts`"
                                                              : "`--keep-hosts` and `--remove-hosts`");
    if (s->sample_ppm)
        fprintf(f, " These figures are over a sample of %.4g%% of the documents; the whole corpus's loss is "
                   "estimated in Sample below.",
                (double)s->sample_ppm / 1e4);
    fputs(" For reference, the Apertus tech report (§3.1.1) found about 8% of English and 4% of multilingual "
          "tokens.\n\n",
          f);
    if (info->failed) {
        fprintf(f, "**Incomplete: %zu of %zu tasks failed (listed below); the figures cover the rest.**\n\n",
                info->failed, info->tasks);
    } else if (incomplete) {
        fputs("**Incomplete: the run has not finished; the figures cover the tasks done so far.**\n\n", f);
    }
}

static void md_totals(FILE *f, const optout_stats *s) {
    const optout_bucket *t = &s->total;
    if (!t->docs_in) return;
    fputs("## Totals\n\n|  | in | removed | % removed |\n|---|---:|---:|---:|\n", f);
    static const char *const ROW[4] = {"documents", "bytes of text (UTF-8)", "characters (code points)", "tokens"};
    const uint64_t in[4] = {t->docs_in, t->bytes_in, t->chars_in, t->tokens_in};
    const uint64_t rm[4] = {t->docs_removed, t->bytes_removed, t->chars_removed, t->tokens_removed};
    for (int i = 0; i < 4; i++) {
        fprintf(f, "| %s", ROW[i]);
        cell_num(f, in[i]);
        cell_num(f, rm[i]);
        cell_pct(f, rm[i], in[i]);
        fputs(" |\n", f);
    }
    fputs("\nTokens are each document's `token_count`, else ⌈bytes / 4⌉", f);
    if (s->tokens_estimated_docs) {
        fputs(" (estimated for ", f);
        put_num(f, s->tokens_estimated_docs);
        fputs(" documents)", f);
    }
    fputs(".\n\n", f);
}

static void md_classes(FILE *f, const optout_stats *s) {
    if (!s->total.docs_in) return;
    fputs("## By language\n\n"
          "| class | documents in | removed | % | characters in | removed | % | tokens in | removed | % |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          f);
    for (int c = 0; c < OPTOUT_CLASS_COUNT; c++) {
        const optout_bucket *b = &s->by_class[c];
        if (!b->docs_in) continue;
        fprintf(f, "| %s", CLASS_LABEL[c]);
        cell_num(f, b->docs_in);
        cell_num(f, b->docs_removed);
        cell_pct(f, b->docs_removed, b->docs_in);
        cell_num(f, b->chars_in);
        cell_num(f, b->chars_removed);
        cell_pct(f, b->chars_removed, b->chars_in);
        cell_num(f, b->tokens_in);
        cell_num(f, b->tokens_removed);
        cell_pct(f, b->tokens_removed, b->tokens_in);
        fputs(" |\n", f);
    }
    fputs("\nEnglish is `language` \"en\", \"eng\" or \"eng_*\"; unknown is a document without `language`.\n\n", f);
}

static void year_row(FILE *f, const char *name, const optout_bucket *b) {
    fprintf(f, "| %s", name);
    cell_num(f, b->docs_in);
    cell_num(f, b->docs_removed);
    cell_pct(f, b->docs_removed, b->docs_in);
    cell_num(f, b->tokens_in);
    cell_num(f, b->tokens_removed);
    cell_pct(f, b->tokens_removed, b->tokens_in);
    fputs(" |\n", f);
}

static void md_years(FILE *f, const optout_stats *s) {
    if (!s->total.docs_in) return;
    int lo = 2013 - OPTOUT_YEAR_MIN, hi = 2024 - OPTOUT_YEAR_MIN;
    for (int y = 0; y < OPTOUT_YEARS - 1; y++)
        if (year_has_docs(s, y)) {
            if (y < lo) lo = y;
            if (y > hi) hi = y;
        }
    fputs("## Loss per year\n\n![Token loss per year](loss-by-year.svg)\n\n"
          "| year | documents in | removed | % | tokens in | removed | % |\n|---|---:|---:|---:|---:|---:|---:|\n",
          f);
    for (int y = lo; y <= hi; y++) {
        char name[16];
        snprintf(name, sizeof name, "%d", OPTOUT_YEAR_MIN + y);
        year_row(f, name, &s->by_year[y]);
    }
    if (year_has_docs(s, OPTOUT_YEARS - 1)) year_row(f, "unknown", &s->by_year[OPTOUT_YEARS - 1]);
    fputs("\nThe year is the crawl's (`dump` CC-MAIN-YYYY-WW), else the document's `date`. One robots.txt "
          "snapshot applies to every year (retroactive opt-out). The chart shows each year's English and "
          "non-English token loss; its dashed lines are the loss over all years.\n\n",
          f);
}

/* Per dump: Common Crawl dumps in name order (which is time order for CC-MAIN-YYYY-WW). */
static int by_name(const void *a, const void *b) {
    return strcmp(((const optout_dump_bucket *)a)->name, ((const optout_dump_bucket *)b)->name);
}

static void md_dumps(FILE *f, const optout_stats *s) {
    if (!s->dump_count) return;
    optout_dump_bucket *d = malloc(s->dump_count * sizeof *d);
    if (!d) return;
    memcpy(d, s->by_dump, s->dump_count * sizeof *d);
    qsort(d, s->dump_count, sizeof *d, by_name);
    fputs("## Loss per dump\n\n"
          "| dump | documents in | removed | % | tokens in | removed | % |\n|---|---:|---:|---:|---:|---:|---:|\n",
          f);
    for (size_t i = 0; i < s->dump_count; i++) {
        char name[OPTOUT_DUMP_NAME_MAX + 2];
        snprintf(name, sizeof name, "`%s`", d[i].name);
        year_row(f, name, &d[i].b);
    }
    if (s->dump_other.docs_in) year_row(f, "other or none", &s->dump_other);
    fputs("\n", f);
    free(d);
}

#define REPORT_TOP_HOSTS 20

static void md_top_hosts(FILE *f, const optout_stats *s) {
    if (!s->top_host_count) return;
    optout_host_loss *h = malloc(s->top_host_count * sizeof *h);
    if (!h) return;
    memcpy(h, s->top_hosts, s->top_host_count * sizeof *h);
    qsort(h, s->top_host_count, sizeof *h, optout_host_loss_cmp);
    size_t n = s->top_host_count < REPORT_TOP_HOSTS ? s->top_host_count : REPORT_TOP_HOSTS;
    fputs("## Hosts that cost the most\n\n| host | documents removed | tokens removed | % of all tokens removed |\n"
          "|---|---:|---:|---:|\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs("| ", f);
        optout_report_put_code(f, h[i].host);
        cell_num(f, h[i].docs_removed);
        cell_num(f, h[i].tokens_removed);
        cell_pct(f, h[i].tokens_removed, s->total.tokens_removed);
        fputs(" |\n", f);
    }
    fputs("\nEach shard reports its 100 hosts with the most removed tokens and the run sums them; a host's "
          "figure is exact when it was among the top of every shard it appears in, else a lower bound.\n\n",
          f);
    free(h);
}

int optout_report_agent_unnamed(const optout_agents *agents, const optout_report_info *info, size_t i) {
    return info->agent_named && info->robots_parsed && i < optout_agents_count(agents) && !info->agent_named[i] &&
           !optout_agents_is_star(agents, i);
}

/* The agents no robots.txt names, after the agent table (nothing when there are none). */
static void md_unnamed(FILE *f, const optout_agents *agents, const optout_report_info *info) {
    int first = 1;
    for (size_t a = 0; a < optout_agents_count(agents); a++) {
        if (!optout_report_agent_unnamed(agents, info, a)) continue;
        fputs(first ? "**No robots.txt of the snapshot names " : ", ", f);
        optout_report_put_code(f, optout_agents_name(agents, a));
        first = 0;
    }
    if (first) return;
    fputs("** (", f);
    put_num(f, info->robots_parsed);
    fputs(" robots.txt files read): a misspelt name? Such an agent is decided by the `*` groups alone.\n\n", f);
}

static void md_agents(FILE *f, const optout_stats *s, const optout_agents *agents) {
    size_t n = optout_agents_count(agents);
    if (!n && !s->any_agent.docs_in) return;
    fputs("## Per agent (as Table A.1 of the Apertus tech report)\n\n"
          "| agent | documents removed | % of documents | characters removed | % of characters |\n"
          "|---|---:|---:|---:|---:|\n",
          f);
    for (size_t a = 0; a <= n; a++) {
        const optout_bucket *b = a < n ? &s->by_agent[a] : &s->any_agent;
        fputs("| ", f);
        if (a < n) optout_report_put_code(f, optout_agents_name(agents, a));
        else fputs("**any**", f);
        cell_num(f, b->docs_removed);
        cell_pct(f, b->docs_removed, b->docs_in);
        cell_num(f, b->chars_removed);
        cell_pct(f, b->chars_removed, b->chars_in);
        fputs(" |\n", f);
    }
    fputs("\nA document counts for every agent its site disallows; **any** counts each removed document "
          "once. `*` stands for the robots.txt `User-agent: *` groups.\n\n",
          f);
}

static void md_outcomes(FILE *f, const optout_stats *s, const optout_report_info *info) {
    uint64_t docs = 0, hosts = 0;
    for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++) {
        docs += s->docs_by_outcome[o];
        hosts += info->hosts_by_outcome ? info->hosts_by_outcome[o] : 0;
    }
    if (!docs && !hosts && !info->hosts_planned) return;
    fputs("## robots.txt outcomes\n\n", f);
    if (info->hosts_planned) {
        put_num(f, info->hosts_planned);
        fputs(" hosts planned.\n\n", f);
    }
    fputs(info->hosts_by_outcome ? "| outcome | hosts | documents of those hosts |\n|---|---:|---:|\n"
                                 : "| outcome | documents of hosts with it |\n|---|---:|\n",
          f);
    static const char *const WHAT[OPTOUT_OUTCOME_COUNT] = {
        "robots.txt fetched: its rules decide",
        "no file in the robots directory: everything allowed",
        "4xx or too many redirects: everything allowed",
        "5xx, 429, timeout, refused, TLS: kept by the opt-out policy, removed with `--unreachable disallow`",
        "NXDOMAIN: everything allowed",
        "outside the ranked top N: never fetched, kept",
    };
    for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++) {
        fprintf(f, "| `%s` (%s)", optout_outcome_name((optout_outcome)o), WHAT[o]);
        if (info->hosts_by_outcome) cell_num(f, info->hosts_by_outcome[o]);
        cell_num(f, s->docs_by_outcome[o]);
        fputs(" |\n", f);
    }
    fputs("\n", f);
}

static void md_bad_input(FILE *f, const optout_stats *s) {
    const uint64_t v[6] = {s->bad_json, s->no_url, s->bad_url, s->no_host, s->bad_idna, s->line_too_long};
    static const char *const NAME[6] = {
        "not one JSON object (`bad_json`)",        "no URL (`no_url`)",
        "URL libcurl cannot parse (`bad_url`)",    "URL without host (`no_host`)",
        "IDNA failed, raw host used (`bad_idna`)", "line over --max-line, passed through (`line_too_long`)",
    };
    int any = 0;
    for (int i = 0; i < 6; i++) any |= v[i] != 0;
    if (!any) return;
    fputs("## Bad input (kept and counted, never dropped)\n\n| counter | lines |\n|---|---:|\n", f);
    for (int i = 0; i < 6; i++) {
        if (!v[i]) continue;
        fprintf(f, "| %s", NAME[i]);
        cell_num(f, v[i]);
        fputs(" |\n", f);
    }
    fputs("\n", f);
}

/* A report.md section listing tasks with an error each (nothing when there are none). */
static void md_tasks(FILE *f, const char *title, size_t n, const char *const *inputs, const char *const *errors) {
    if (!n) return;
    fprintf(f, "## %s\n\n", title);
    for (size_t i = 0; i < n; i++) {
        fputs("- ", f);
        optout_report_put_code(f, inputs && inputs[i] ? inputs[i] : "?");
        fputs(": ", f);
        optout_report_put_text(f, errors && errors[i] ? errors[i] : "");
        fputs("\n", f);
    }
    fputs("\n", f);
}

static const char *robots_source(const optout_report_info *info) {
    return info->robots_source ? info->robots_source : info->robots_dir;
}

static void md_config(FILE *f, const optout_agents *agents, const optout_report_info *info) {
    fputs("## Configuration\n\n", f);
    if (info->mode) {
        fputs("- matching: ", f);
        optout_report_put_code(f, info->mode);
        fputs(strcmp(info->mode, "protego") == 0 ? " (Protego 0.4, as Apertus)\n" : "\n", f);
    }
    fputs("- agents: ", f);
    if (info->agents_name) {
        optout_report_put_text(f, info->agents_name);
        if (info->agents_sha256) {
            fputs(" (SHA-256 ", f);
            optout_report_put_code(f, info->agents_sha256);
            fputs(")", f);
        }
        fputs(", ", f);
    }
    fprintf(f, "%zu agents: ", optout_agents_count(agents));
    for (size_t a = 0; a < optout_agents_count(agents); a++) {
        if (a) fputs(", ", f);
        optout_report_put_code(f, optout_agents_name(agents, a));
    }
    fputs("\n", f);
    if (info->host_key) {
        fputs("- host key: ", f);
        optout_report_put_code(f, info->host_key);
        fputs("\n", f);
    }
    if (info->unreachable) {
        fputs("- unreachable robots.txt: ", f);
        optout_report_put_code(f, info->unreachable);
        fputs(strcmp(info->unreachable, "keep") == 0 ? " (opt-out policy: the documents are kept)\n"
                                                     : " (RFC-strict: disallows everything)\n",
              f);
    }
    const char *src = robots_source(info);
    if (src || info->robots_from || info->robots_to) {
        fputs("- robots.txt: ", f);
        if (!src) fputs("snapshot", f);
        else if (strcmp(src, "fetched") == 0) fputs("fetched by this run", f);
        else {
            fputs("directory ", f);
            optout_report_put_code(f, src);
        }
        if (info->robots_from || info->robots_to) {
            fputs(", snapshot fetched between ", f);
            optout_report_put_text(f, info->robots_from ? info->robots_from : "?");
            fputs(" and ", f);
            optout_report_put_text(f, info->robots_to ? info->robots_to : "?");
        }
        fputs("\n", f);
    }
    if (info->top_en || info->top_non_en) {
        fputs("- ranking: top ", f);
        put_num(f, info->top_en);
        fputs(" English and top ", f);
        put_num(f, info->top_non_en);
        fputs(" non-English hosts", f);
        if (info->metric) {
            fputs(" by ", f);
            optout_report_put_text(f, info->metric);
        }
        fputs("\n", f);
    } else {
        fputs("- ranking: none (every host of the corpus was decided)\n", f);
    }
    for (int i = 0; i < OPTOUT_SET_COUNT; i++) {
        if (!info->settings[i]) continue;
        fprintf(f, "- %s: ", SETTINGS[i].label);
        optout_report_put_code(f, info->settings[i]);
        fputs("\n", f);
    }
    fprintf(f, "- tasks: %zu (%zu failed)\n", info->tasks, info->failed);
}

/* --sample (policy.h): what the sample estimates, with its intervals (optout_stats_sample_estimate). */
static void md_sample(FILE *f, const optout_stats *s) {
    if (!s->sample_ppm) return;
    fprintf(f,
            "## Sample\n\nThis run decided a deterministic sample of %.4g%% of the documents (by a hash of their "
            "`id`): ",
            (double)s->sample_ppm / 1e4);
    put_num(f, s->total.docs_in);
    fputs(" documents sampled, ", f);
    put_num(f, s->docs_not_sampled);
    fputs(" left out. Every figure of this report is over the sample; the loss of the whole corpus is "
          "estimated below with 95% intervals (tokens: the ratio estimator's normal approximation over "
          "documents, with the finite-population correction; documents: Wilson score interval).\n\n"
          "| class | documents sampled | estimated token loss | 95% interval | estimated document loss | 95% interval |\n"
          "|---|---:|---:|---:|---:|---:|\n", f);
    static const char *const NAME[] = {"all", "English", "non-English", "unknown language"};
    for (int c = -1; c < OPTOUT_CLASS_COUNT; c++) {
        optout_sample_estimate e;
        optout_stats_sample_estimate(s, c, &e);
        if (c >= 0 && e.docs == 0) continue;
        fprintf(f, "| %s", NAME[c + 1]);
        cell_num(f, e.docs);
        fprintf(f, " | %.2f%% | %.2f%% – %.2f%% | %.2f%% | %.2f%% – %.2f%% |\n", 100 * e.tokens_loss,
                100 * e.tokens_low, 100 * e.tokens_high, 100 * e.docs_loss, 100 * e.docs_low, 100 * e.docs_high);
    }
    fputs("\n", f);
}

/* --keep-hosts / --remove-hosts (policy.h): what the overrides decided before robots.txt. */
static void md_overrides(FILE *f, const optout_stats *s) {
    if (!s->docs_kept_by_override && !s->docs_removed_by_override) return;
    fputs("## Overrides\n\n| decided by | documents | tokens | % of all tokens |\n|---|---:|---:|---:|\n", f);
    fputs("| `--keep-hosts`: kept whatever robots.txt says", f);
    cell_num(f, s->docs_kept_by_override);
    cell_num(f, s->tokens_kept_by_override);
    cell_pct(f, s->tokens_kept_by_override, s->total.tokens_in);
    fputs(" |\n| `--remove-hosts`: removed for no agent", f);
    cell_num(f, s->docs_removed_by_override);
    cell_num(f, s->tokens_removed_by_override);
    cell_pct(f, s->tokens_removed_by_override, s->total.tokens_in);
    fputs(" |\n\nDocuments removed by `--remove-hosts` count in the removed totals and in `any`, in no "
          "agent's row.\n\n", f);
}

static int render_md(FILE *f, const optout_stats *s, const optout_agents *agents, const optout_report_info *info,
                     int incomplete) {
    md_headline(f, s, agents, info, incomplete);
    md_sample(f, s);
    md_totals(f, s);
    md_overrides(f, s);
    md_classes(f, s);
    md_years(f, s);
    md_dumps(f, s);
    md_agents(f, s, agents);
    if (info->by_policy && optout_stats_policy_write_md(f, info->by_policy, agents) != 0) return -1;
    md_unnamed(f, agents, info);
    md_top_hosts(f, s);
    md_outcomes(f, s, info);
    md_bad_input(f, s);
    md_tasks(f, "Failed tasks", info->failed, info->failed_inputs, info->failed_errors);
    md_tasks(f, "Tasks retried after failing in an earlier invocation", info->retried, info->retried_inputs,
             info->retried_errors);
    md_config(f, agents, info);
    return ferror(f) ? -1 : 0;
}

int optout_report_write_md(FILE *f, const optout_stats *s, const optout_agents *agents, const optout_report_info *info) {
    return render_md(f, s, agents, info, info->failed > 0);
}

/* ---- report.json ------------------------------------------------------------------------------ */

/* n tasks as {"input": ..., "error": ...} objects, comma-separated. */
static void json_tasks(FILE *m, size_t n, const char *const *inputs, const char *const *errors) {
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {\"input\": " : "{\"input\": ", m);
        optout_json_put_string(m, inputs && inputs[i] ? inputs[i] : "");
        fputs(", \"error\": ", m);
        optout_json_put_string(m, errors && errors[i] ? errors[i] : "");
        fputs("}", m);
    }
}

int optout_report_write_json(FILE *f, const optout_stats *s, const optout_agents *agents,
                             const optout_report_info *info) {
    char *extra = NULL;
    size_t extra_len = 0;
    FILE *m = open_memstream(&extra, &extra_len);
    if (!m) return -1;
    fprintf(m, "\"complete\": %s, \"tasks\": %zu, \"failed_tasks\": [", info->complete ? "true" : "false",
            info->tasks);
    json_tasks(m, info->failed, info->failed_inputs, info->failed_errors);
    if (info->retried) {
        fputs("], \"retried_tasks\": [", m);
        json_tasks(m, info->retried, info->retried_inputs, info->retried_errors);
    }
    fputs("],\n  \"config\": {\"mode\": ", m);
    optout_json_put_string(m, info->mode);
    fputs(", \"agents_name\": ", m);
    optout_json_put_string(m, info->agents_name);
    fputs(", \"agents_sha256\": ", m);
    optout_json_put_string(m, info->agents_sha256);
    fputs(", \"agents\": [", m);
    for (size_t a = 0; a < optout_agents_count(agents); a++) {
        if (a) fputs(", ", m);
        optout_json_put_string(m, optout_agents_name(agents, a));
    }
    fputs("],\n    \"host_key\": ", m);
    optout_json_put_string(m, info->host_key);
    fputs(", \"unreachable\": ", m);
    optout_json_put_string(m, info->unreachable);
    fputs(", \"robots_source\": ", m);
    optout_json_put_string(m, robots_source(info));
    fputs(", \"robots_from\": ", m);
    optout_json_put_string(m, info->robots_from);
    fputs(", \"robots_to\": ", m);
    optout_json_put_string(m, info->robots_to);
    fprintf(m, ",\n    \"top_en\": %llu, \"top_non_en\": %llu, \"metric\": ", (unsigned long long)info->top_en,
            (unsigned long long)info->top_non_en);
    optout_json_put_string(m, info->metric);
    for (int i = 0; i < OPTOUT_SET_COUNT; i++) {
        fputs(i % 4 ? ", " : ",\n    ", m);
        optout_json_put_string(m, SETTINGS[i].key);
        fputs(": ", m);
        optout_json_put_string(m, info->settings[i]);
    }
    fputs(",\n    \"agents_unnamed\": ", m);
    if (info->agent_named && info->robots_parsed) {
        fputc('[', m);
        for (size_t a = 0, n = 0; a < optout_agents_count(agents); a++)
            if (optout_report_agent_unnamed(agents, info, a)) {
                if (n++) fputs(", ", m);
                optout_json_put_string(m, optout_agents_name(agents, a));
            }
        fputc(']', m);
    } else {
        fputs("null", m);
    }
    fprintf(m, "},\n  \"fetch\": {\"hosts_planned\": %llu, \"hosts_by_outcome\": ",
            (unsigned long long)info->hosts_planned);
    if (info->hosts_by_outcome) {
        fputc('{', m);
        for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++)
            fprintf(m, "%s\"%s\": %llu", o ? ", " : "", optout_outcome_name((optout_outcome)o),
                    (unsigned long long)info->hosts_by_outcome[o]);
        fputc('}', m);
    } else {
        fputs("null", m);
    }
    fputs("}", m);
    if (info->by_policy) {
        fputs(",\n  ", m);
        (void)optout_stats_policy_write_json(m, info->by_policy, agents); /* ferror(m) says */
    }
    int bad = ferror(m) != 0;
    bad |= fclose(m) != 0;
    if (!bad) bad = optout_stats_write_json(f, s, agents, extra) != 0;
    free(extra);
    return bad || ferror(f) ? -1 : 0;
}

/* ---- report.msgpack --------------------------------------------------------------------------- */

static int pk_str(msgpack_packer *pk, const char *s) {
    if (!s) return msgpack_pack_nil(pk);
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

int optout_report_encode(const optout_stats *s, const optout_agents *agents, const optout_report_info *info,
                         void **buf, size_t *len) {
    void *st = NULL;
    size_t st_len = 0;
    size_t n = optout_agents_count(agents);
    const optout_stats_policy *bp = info->by_policy;
    if (optout_stats_encode_policy(s, bp, n, &st, &st_len) != 0) return -1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pkr, *pk = &pkr;
    msgpack_packer_init(pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(pk, bp ? 6 : 5);
    if (bp) { /* the policies' configuration, which decoding "bp" in "stats" checks */
        bad |= pk_str(pk, "policy") | msgpack_pack_array(pk, 4) | msgpack_pack_uint32(pk, (uint32_t)bp->chosen);
        bad |= msgpack_pack_int64(pk, bp->cutoff) | msgpack_pack_uint32(pk, (uint32_t)bp->missing);
        bad |= msgpack_pack_int64(pk, bp->max_age);
    }
    bad |= pk_str(pk, "format") | pk_str(pk, REPORT_FORMAT);
    bad |= pk_str(pk, "version") | msgpack_pack_uint32(pk, REPORT_VERSION);
    bad |= pk_str(pk, "stats") | msgpack_pack_bin(pk, st_len) | msgpack_pack_bin_body(pk, st, st_len);
    free(st);
    bad |= pk_str(pk, "agents") | msgpack_pack_array(pk, n);
    for (size_t a = 0; a < n; a++) bad |= pk_str(pk, optout_agents_name(agents, a));
    bad |= pk_str(pk, "info") | msgpack_pack_map(pk, 18 + OPTOUT_SET_COUNT);
    const struct {
        const char *key, *val;
    } strs[] = {
        {"mode", info->mode},
        {"agents_name", info->agents_name},
        {"agents_sha256", info->agents_sha256},
        {"host_key", info->host_key},
        {"unreachable", info->unreachable},
        {"robots_source", robots_source(info)},
        {"robots_from", info->robots_from},
        {"robots_to", info->robots_to},
        {"metric", info->metric},
    }; /* 9 + 7 below = 16, then the settings */
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) bad |= pk_str(pk, strs[i].key) | pk_str(pk, strs[i].val);
    for (int i = 0; i < OPTOUT_SET_COUNT; i++) bad |= pk_str(pk, SETTINGS[i].key) | pk_str(pk, info->settings[i]);
    bad |= pk_str(pk, "tasks") | msgpack_pack_uint64(pk, info->tasks);
    bad |= pk_str(pk, "failed") | msgpack_pack_array(pk, info->failed);
    for (size_t i = 0; i < info->failed; i++) {
        bad |= msgpack_pack_array(pk, 2);
        bad |= pk_str(pk, info->failed_inputs && info->failed_inputs[i] ? info->failed_inputs[i] : "");
        bad |= pk_str(pk, info->failed_errors && info->failed_errors[i] ? info->failed_errors[i] : "");
    }
    bad |= pk_str(pk, "top_en") | msgpack_pack_uint64(pk, info->top_en);
    bad |= pk_str(pk, "top_non_en") | msgpack_pack_uint64(pk, info->top_non_en);
    bad |= pk_str(pk, "hosts_planned") | msgpack_pack_uint64(pk, info->hosts_planned);
    bad |= pk_str(pk, "hosts_by_outcome");
    if (info->hosts_by_outcome) {
        bad |= msgpack_pack_map(pk, OPTOUT_OUTCOME_COUNT);
        for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++)
            bad |= pk_str(pk, optout_outcome_name((optout_outcome)o)) | msgpack_pack_uint64(pk, info->hosts_by_outcome[o]);
    } else {
        bad |= msgpack_pack_nil(pk);
    }
    bad |= pk_str(pk, "complete") | (info->complete ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    bad |= pk_str(pk, "robots_parsed") | msgpack_pack_uint64(pk, info->robots_parsed);
    bad |= pk_str(pk, "agent_named");
    if (info->agent_named) {
        bad |= msgpack_pack_array(pk, n);
        for (size_t a = 0; a < n; a++) bad |= msgpack_pack_uint64(pk, info->agent_named[a]);
    } else {
        bad |= msgpack_pack_nil(pk);
    }
    if (bad) {
        msgpack_sbuffer_destroy(&sb);
        errno = ENOMEM;
        return -1;
    }
    *len = sb.size;
    *buf = msgpack_sbuffer_release(&sb);
    return 0;
}

struct optout_report_keep {
    char **strs;
    size_t n, cap;
    const char **failed_inputs, **failed_errors;
    uint64_t hosts[OPTOUT_OUTCOME_COUNT];
    uint64_t named[OPTOUT_AGENTS_MAX];
};

static int key_is(const msgpack_object *k, const char *name) {
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* A str (or nil, when nil_ok) object copied into keep; *out NULL for nil. -1 on a wrong type. */
static int keep_str(optout_report_keep *k, const msgpack_object *o, int nil_ok, const char **out) {
    if (o->type == MSGPACK_OBJECT_NIL && nil_ok) {
        *out = NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR || memchr(o->via.str.ptr, 0, o->via.str.size)) return -1;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 32;
        char **p = realloc(k->strs, cap * sizeof *p);
        if (!p) return -1;
        k->strs = p;
        k->cap = cap;
    }
    char *s = strndup(o->via.str.ptr, o->via.str.size);
    if (!s) return -1;
    k->strs[k->n++] = s;
    *out = s;
    return 0;
}

static int dec_u64(const msgpack_object *o, uint64_t *v) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *v = o->via.u64;
    return 0;
}

static int dec_info(const msgpack_object *m, optout_report_loaded *out, char *err, size_t errlen) {
    optout_report_keep *k = out->keep;
    optout_report_info *info = &out->info;
    if (m->type != MSGPACK_OBJECT_MAP) return -1;
    static const char *const STR_KEYS[] = {"mode",          "agents_name", "agents_sha256", "host_key", "unreachable",
                                           "robots_source", "robots_from", "robots_to",     "metric"};
    const char **str_fields[] = {&info->mode,          &info->agents_name, &info->agents_sha256,
                                 &info->host_key,      &info->unreachable, &info->robots_source,
                                 &info->robots_from,   &info->robots_to,   &info->metric};
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *key = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
        int done = 0, rc = 0;
        for (size_t j = 0; j < sizeof STR_KEYS / sizeof *STR_KEYS && !done; j++)
            if (key_is(key, STR_KEYS[j])) {
                rc = keep_str(k, v, 1, str_fields[j]);
                done = 1;
            }
        for (int j = 0; j < OPTOUT_SET_COUNT && !done; j++)
            if (key_is(key, SETTINGS[j].key)) {
                rc = keep_str(k, v, 1, &info->settings[j]);
                done = 1;
            }
        if (done) {
        } else if (key_is(key, "tasks")) {
            uint64_t t = 0;
            rc = dec_u64(v, &t);
            info->tasks = (size_t)t;
        } else if (key_is(key, "top_en")) {
            rc = dec_u64(v, &info->top_en);
        } else if (key_is(key, "top_non_en")) {
            rc = dec_u64(v, &info->top_non_en);
        } else if (key_is(key, "robots_parsed")) {
            rc = dec_u64(v, &info->robots_parsed);
        } else if (key_is(key, "agent_named")) {
            if (v->type == MSGPACK_OBJECT_NIL) {
                info->agent_named = NULL;
            } else if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != optout_agents_count(out->agents)) {
                rc = -1;
            } else {
                for (uint32_t j = 0; j < v->via.array.size && rc == 0; j++) rc = dec_u64(&v->via.array.ptr[j], &k->named[j]);
                info->agent_named = k->named;
            }
        } else if (key_is(key, "hosts_planned")) {
            rc = dec_u64(v, &info->hosts_planned);
        } else if (key_is(key, "complete")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) rc = -1;
            else info->complete = v->via.boolean;
        } else if (key_is(key, "hosts_by_outcome")) {
            if (v->type == MSGPACK_OBJECT_NIL) {
                info->hosts_by_outcome = NULL;
            } else if (v->type != MSGPACK_OBJECT_MAP) {
                rc = -1;
            } else {
                for (uint32_t j = 0; j < v->via.map.size && rc == 0; j++) {
                    const msgpack_object *ok = &v->via.map.ptr[j].key;
                    for (int o = 0; o < OPTOUT_OUTCOME_COUNT; o++)
                        if (key_is(ok, optout_outcome_name((optout_outcome)o)))
                            rc = dec_u64(&v->via.map.ptr[j].val, &k->hosts[o]);
                }
                info->hosts_by_outcome = k->hosts;
            }
        } else if (key_is(key, "failed")) {
            if (v->type != MSGPACK_OBJECT_ARRAY) {
                rc = -1;
            } else {
                size_t n = v->via.array.size;
                k->failed_inputs = calloc(n + 1, sizeof *k->failed_inputs);
                k->failed_errors = calloc(n + 1, sizeof *k->failed_errors);
                if (!k->failed_inputs || !k->failed_errors) rc = -1;
                for (size_t j = 0; j < n && rc == 0; j++) {
                    const msgpack_object *e = &v->via.array.ptr[j];
                    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
                        keep_str(k, &e->via.array.ptr[0], 0, &k->failed_inputs[j]) != 0 ||
                        keep_str(k, &e->via.array.ptr[1], 0, &k->failed_errors[j]) != 0)
                        rc = -1;
                }
                info->failed = n;
                info->failed_inputs = k->failed_inputs;
                info->failed_errors = k->failed_errors;
            }
        } /* other keys: written by a later version, ignored */
        if (rc != 0) {
            optout_set_err(err, errlen, "report.msgpack: bad info member %.*s", key->type == MSGPACK_OBJECT_STR ? (int)key->via.str.size : 1,
                     key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : "?");
            return -1;
        }
    }
    info->robots_dir = info->robots_source;
    return 0;
}

/* "policy": [chosen, cutoff, missing, max_age], the configuration of the policies in "stats". */
static int dec_policy_config(const msgpack_object *o, optout_report_loaded *out) {
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4) return -1;
    const msgpack_object *a = o->via.array.ptr;
    int64_t t[4];
    for (int i = 0; i < 4; i++) {
        if (a[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[i].via.u64 <= INT64_MAX) t[i] = (int64_t)a[i].via.u64;
        else if (a[i].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) t[i] = a[i].via.i64;
        else return -1;
    }
    if (t[0] < 0 || t[0] >= OPTOUT_ROBOTS_TIME_COUNT || t[2] < 0 || t[2] > OPTOUT_MISSING_REMOVE) return -1;
    if (!(out->by_policy = malloc(sizeof *out->by_policy))) return -1;
    optout_stats_policy_init(out->by_policy, (optout_robots_time)t[0], t[1], (optout_history_missing)t[2], t[3]);
    return 0;
}

void optout_report_loaded_free(optout_report_loaded *l) {
    if (!l) return;
    free(l->stats);
    free(l->by_policy);
    optout_agents_free(l->agents);
    if (l->keep) {
        for (size_t i = 0; i < l->keep->n; i++) free(l->keep->strs[i]);
        free(l->keep->strs);
        free(l->keep->failed_inputs);
        free(l->keep->failed_errors);
        free(l->keep);
    }
    memset(l, 0, sizeof *l);
}

int optout_report_decode(const void *buf, size_t len, optout_report_loaded *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    msgpack_unpacked u;
    int rc = -1;
    const msgpack_object *format = NULL, *version = NULL, *stats = NULL, *agents = NULL, *info = NULL, *policy = NULL;
    /* The file's size bounds its objects; the pre-scan bounds what its headers may claim. */
    if (optout_msgpack_unpack_objects(buf, len, len, &u, NULL, 0) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        optout_set_err(err, errlen, "report.msgpack: not one msgpack map");
        goto out;
    }
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;
        if (key_is(k, "format")) format = v;
        else if (key_is(k, "version")) version = v;
        else if (key_is(k, "stats")) stats = v;
        else if (key_is(k, "agents")) agents = v;
        else if (key_is(k, "info")) info = v;
        else if (key_is(k, "policy")) policy = v;
    }
    if (!format || !key_is(format, REPORT_FORMAT)) {
        optout_set_err(err, errlen, "report.msgpack: not an optout report");
        goto out;
    }
    if (!version || version->type != MSGPACK_OBJECT_POSITIVE_INTEGER || version->via.u64 != REPORT_VERSION) {
        optout_set_err(err, errlen, "report.msgpack: version %llu not supported (this optout reads %d)",
                 version && version->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (unsigned long long)version->via.u64 : 0ULL,
                 REPORT_VERSION);
        goto out;
    }
    if (!stats || stats->type != MSGPACK_OBJECT_BIN || !agents || agents->type != MSGPACK_OBJECT_ARRAY || !info) {
        optout_set_err(err, errlen, "report.msgpack: stats, agents or info missing");
        goto out;
    }
    out->keep = calloc(1, sizeof *out->keep);
    out->stats = calloc(1, sizeof *out->stats);
    out->agents = optout_agents_new();
    if (!out->keep || !out->stats || !out->agents) {
        optout_set_err(err, errlen, "out of memory");
        goto out;
    }
    for (uint32_t a = 0; a < agents->via.array.size; a++) {
        const msgpack_object *n = &agents->via.array.ptr[a];
        if (n->type != MSGPACK_OBJECT_STR || optout_agents_add(out->agents, n->via.str.ptr, n->via.str.size) != 0) {
            optout_set_err(err, errlen, "report.msgpack: bad agent name at %u", a);
            goto out;
        }
    }
    optout_stats_init(out->stats);
    if (policy && dec_policy_config(policy, out) != 0) {
        optout_set_err(err, errlen, "report.msgpack: malformed policy configuration");
        goto out;
    }
    if (optout_stats_decode_add_policy(stats->via.bin.ptr, stats->via.bin.size, optout_agents_count(out->agents),
                                       out->stats, out->by_policy) != 0) {
        optout_set_err(err, errlen, "report.msgpack: malformed statistics");
        goto out;
    }
    if (dec_info(info, out, err, errlen) != 0) {
        if (!err[0]) optout_set_err(err, errlen, "report.msgpack: info is not a map");
        goto out;
    }
    out->info.by_policy = out->by_policy;
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        optout_report_loaded_free(out);
        errno = EINVAL;
    }
    return rc;
}

int optout_report_load(const char *dir, optout_report_loaded *out, char *err, size_t errlen) {
    char path[PATH_MAX];
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = '\0';
    if ((size_t)snprintf(path, sizeof path, "%s/report.msgpack", dir) >= sizeof path) {
        optout_set_err(err, errlen, "%s: path too long", dir);
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t len = 0;
    char *buf = optout_read_file(path, REPORT_MAX_BYTES, &len);
    if (!buf) {
        int e = errno;
        optout_set_err(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    char sub[256] = "";
    int rc = optout_report_decode(buf, len, out, sub, sizeof sub);
    if (rc != 0) optout_set_err(err, errlen, "%s: %s", path, sub);
    free(buf);
    if (rc != 0) errno = EINVAL;
    return rc;
}

/* ---- writing the files ------------------------------------------------------------------------ */

typedef struct {
    const optout_stats *stats;
    const optout_agents *agents;
    const optout_report_info *info;
    const void *buf;
    size_t len;
} render_ctx;

enum { R_MSGPACK, R_JSON, R_MD, R_SVG, R_POLICY_SVG };

static int render(FILE *f, int what, const render_ctx *c) {
    switch (what) {
    case R_MSGPACK: return fwrite(c->buf, 1, c->len, f) == c->len ? 0 : -1;
    case R_JSON: return optout_report_write_json(f, c->stats, c->agents, c->info);
    case R_MD: return render_md(f, c->stats, c->agents, c->info, !c->info->complete || c->info->failed);
    case R_POLICY_SVG: return optout_stats_policy_write_svg(f, c->info->by_policy, c->agents);
    default: return optout_report_write_svg(f, c->stats);
    }
}

/* DIR/NAME rendered and published whole (files.h). 0, or -1 with err. */
static int write_atomic(const char *dir, const char *name, int what, const render_ctx *c, char *err, size_t errlen) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        optout_set_err(err, errlen, "%s: path too long", dir);
        return -1;
    }
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, errlen);
    if (!f) return -1;
    errno = 0;
    if (render(f, what, c) != 0) {
        optout_set_err(err, errlen, "writing %s: %s", path, strerror(errno ? errno : EIO));
        optout_publish_abort(&pub);
        return -1;
    }
    return optout_publish_commit(&pub, err, errlen);
}

int optout_report_write(const char *dir, const optout_stats *s, const optout_agents *agents,
                        const optout_report_info *info, char *err, size_t errlen) {
    char probe[PATH_MAX];
    if ((size_t)snprintf(probe, sizeof probe, "%s/report.msgpack", dir) >= sizeof probe ||
        optout_make_parent_dirs(probe) != 0) {
        optout_set_err(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    render_ctx c = {.stats = s, .agents = agents, .info = info};
    void *buf = NULL;
    if (optout_report_encode(s, agents, info, &buf, &c.len) != 0) {
        optout_set_err(err, errlen, "%s/report.msgpack: %s", dir, strerror(errno));
        return -1;
    }
    c.buf = buf;
    int rc = write_atomic(dir, "report.msgpack", R_MSGPACK, &c, err, errlen);
    free(buf);
    if (rc == 0) rc = write_atomic(dir, "report.json", R_JSON, &c, err, errlen);
    if (rc == 0) rc = write_atomic(dir, "report.md", R_MD, &c, err, errlen);
    if (rc == 0) rc = write_atomic(dir, "loss-by-year.svg", R_SVG, &c, err, errlen);
    if (rc == 0 && info->by_policy) rc = write_atomic(dir, "policy-by-crawl.svg", R_POLICY_SVG, &c, err, errlen);
    if (rc == 0 && optout_fsync_dir(dir) != 0) {
        optout_set_err(err, errlen, "fsync %s: %s", dir, strerror(errno));
        rc = -1;
    }
    return rc;
}
