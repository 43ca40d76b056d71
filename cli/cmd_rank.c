/* cmd_rank.c — `optout rank`: the ranking stage alone, on this machine (include/optout/rank.h).
 *
 * optout rank --corpus GLOB... --out DIR [--top-en N] [--top-intl N] [--metric tokens|bytes|docs]
 *             [--partitions P] [--all-hosts] [--host-key canonical|netloc] [--url-field F ...]
 *             [--jobs N]
 * Expands the inputs as `optout run` does, maps every shard (--jobs threads), reduces every
 * partition, merges into DIR/ranking/ (en.tsv, non_en.tsv, hosts.txt). Intermediates live in a
 * temporary directory DIR/.rank-XXXXXX, removed at the end (also on failure).
 * Hidden, for bench/rank.sh: --mem-report prints the peak RSS (VmHWM) of the map phase, the reduce
 * phase and the merge on stderr, resetting the peak between phases (/proc/self/clear_refs); with
 * --jobs 1 these are the peaks of a single map and a single reduce.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "optout/config.h"
#include "optout/log.h"
#include "optout/rank.h"
#include "optout/rundir.h"
#include "optout/util.h"

#define RANK_DEFAULT_TOP 1000000
#define RANK_DEFAULT_PARTITIONS 16

static void rank_usage(FILE *f) {
    fputs("usage: optout rank --corpus PATH|GLOB... --out DIR [--top-en N] [--top-intl N]\n"
          "                   [--metric tokens|bytes|docs] [--partitions P] [--all-hosts]\n"
          "                   [--host-key canonical|netloc] [--url-field PATH] [--language-field PATH]\n"
          "                   [--tokens-field PATH] [--text-field PATH] [--max-line BYTES] [--jobs N]\n"
          "\n"
          "Counts documents, bytes and tokens per host key and class (English / non-English / unknown)\n"
          "and writes DIR/ranking/en.tsv and non_en.tsv (host, docs, bytes, tokens, rank: the top N by\n"
          "the metric, ties by documents then host bytewise) and hosts.txt (their union: the fetch\n"
          "plan). Default N: 1000000 per class; --all-hosts lists every host (also those with only\n"
          "documents of unknown language). --corpus may be repeated; quote glob patterns.\n",
          f);
}

static int parse_count(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

struct job {
    /* shared, read-only */
    const optout_rank_map_config *map_cfg;
    const optout_rank_reduce_config *red_cfg;
    const optout_inputs *inputs;
    const char *tmp;
    char **maps, **indexes, **tops;
    unsigned partitions;
    size_t items;
    int reduce; /* 0: map phase, 1: reduce phase */
    /* shared, guarded */
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    optout_rank_map_stats stats;
    uint64_t hosts;
    char err[1024];
};

static void *worker(void *arg) {
    struct job *j = arg;
    char err[1024];
    for (;;) {
        if (atomic_load(&j->failed)) break;
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->items) break;
        int bad;
        if (!j->reduce) {
            optout_rank_map_stats st = {0};
            bad = optout_rank_map(j->map_cfg, j->inputs->items[i].path, j->maps[i], j->indexes[i], &st, err,
                                  sizeof err) != 0;
            if (!bad) {
                pthread_mutex_lock(&j->lock);
                j->stats.docs += st.docs;
                j->stats.hosts += st.hosts;
                j->stats.bad_json += st.bad_json;
                j->stats.no_url += st.no_url;
                j->stats.bad_url += st.bad_url;
                j->stats.no_host += st.no_host;
                j->stats.line_too_long += st.line_too_long;
                pthread_mutex_unlock(&j->lock);
            }
        } else {
            long n = optout_rank_reduce(j->red_cfg, (const char *const *)j->maps, (const char *const *)j->indexes,
                                        j->inputs->count, (unsigned)i, j->tops[i], err, sizeof err);
            bad = n < 0;
            if (!bad) {
                pthread_mutex_lock(&j->lock);
                j->hosts += (uint64_t)n;
                pthread_mutex_unlock(&j->lock);
            }
        }
        if (bad) {
            pthread_mutex_lock(&j->lock);
            if (!atomic_load(&j->failed)) snprintf(j->err, sizeof j->err, "%s", err);
            atomic_store(&j->failed, 1);
            pthread_mutex_unlock(&j->lock);
            break;
        }
    }
    return NULL;
}

/* Runs the phase on `threads` threads (the calling one among them). 0, or -1 with j->err. */
static int run_phase(struct job *j, long threads) {
    atomic_store(&j->next, 0);
    if ((size_t)threads > j->items) threads = (long)j->items;
    pthread_t *t = calloc((size_t)(threads > 1 ? threads : 1), sizeof *t);
    long started = 0;
    for (long i = 1; t && i < threads; i++, started++)
        if (pthread_create(&t[i - 1], NULL, worker, j) != 0) break;
    worker(j);
    for (long i = 0; i < started; i++) pthread_join(t[i], NULL);
    free(t);
    return atomic_load(&j->failed) ? -1 : 0;
}

static long peak_rss_kb_reset(void) {
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
        fclose(f);
    }
    malloc_trim(0);
    f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f); /* resets VmHWM to the current RSS */
        fclose(f);
    }
    return kb;
}

static uint64_t data_lines(const char *path) {
    FILE *f = fopen(path, "r");
    uint64_t n = 0;
    int c, bol = 1, comment = 0;
    if (!f) return 0;
    while ((c = getc(f)) != EOF) {
        if (bol) comment = c == '#';
        if (c == '\n' && !comment) n++;
        bol = c == '\n';
    }
    fclose(f);
    return n;
}

int cmd_rank(int argc, char **argv) {
    enum { O_CORPUS = 256, O_OUT, O_TOP_EN, O_TOP_INTL, O_METRIC, O_PARTS, O_ALL, O_HOSTKEY, O_URL, O_LANG,
           O_TOKENS, O_TEXT, O_MAXLINE, O_JOBS, O_MEM };
    static const struct option options[] = {
        {"corpus", required_argument, NULL, O_CORPUS},     {"out", required_argument, NULL, O_OUT},
        {"top-en", required_argument, NULL, O_TOP_EN},     {"top-intl", required_argument, NULL, O_TOP_INTL},
        {"metric", required_argument, NULL, O_METRIC},     {"partitions", required_argument, NULL, O_PARTS},
        {"all-hosts", no_argument, NULL, O_ALL},           {"host-key", required_argument, NULL, O_HOSTKEY},
        {"url-field", required_argument, NULL, O_URL},     {"language-field", required_argument, NULL, O_LANG},
        {"tokens-field", required_argument, NULL, O_TOKENS}, {"text-field", required_argument, NULL, O_TEXT},
        {"max-line", required_argument, NULL, O_MAXLINE},  {"jobs", required_argument, NULL, O_JOBS},
        {"mem-report", no_argument, NULL, O_MEM},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (optout_config_args("rank", options, ":h", &argc, &argv) != 0) return OPTOUT_EXIT_USAGE;
    optout_rank_map_config mc = {.partitions = RANK_DEFAULT_PARTITIONS};
    optout_rank_reduce_config rc_cfg = {.metric = OPTOUT_RANK_TOKENS, .top_en = RANK_DEFAULT_TOP,
                                        .top_non_en = RANK_DEFAULT_TOP};
    const char **patterns = calloc((size_t)argc + 1, sizeof *patterns);
    size_t npatterns = 0;
    const char *out = NULL;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int has_top = 0, mem_report = 0, opt, rc = OPTOUT_EXIT_USAGE;
    uint64_t v;
    optout_inputs inputs = {0};
    struct job j = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char tmp[PATH_MAX] = "", ranking[PATH_MAX];
    if (!patterns) return OPTOUT_EXIT_FAILURE;
    if (jobs < 1) jobs = 1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case O_CORPUS: patterns[npatterns++] = optarg; break;
        case O_OUT: out = optarg; break;
        case O_TOP_EN:
        case O_TOP_INTL:
            if (parse_count(optarg, &v) != 0 || v == 0) {
                optout_log(LOG_ERR, "--%s: expected a positive number, got '%s'",
                           opt == O_TOP_EN ? "top-en" : "top-intl", optarg);
                goto done;
            }
            *(opt == O_TOP_EN ? &rc_cfg.top_en : &rc_cfg.top_non_en) = v;
            has_top = 1;
            break;
        case O_METRIC:
            if (optout_rank_metric_parse(optarg, &rc_cfg.metric) != 0) {
                optout_log(LOG_ERR, "--metric: expected tokens, bytes or docs, got '%s'", optarg);
                goto done;
            }
            break;
        case O_PARTS:
            if (parse_count(optarg, &v) != 0 || v < 1 || v > OPTOUT_RANK_PARTITIONS_MAX) {
                optout_log(LOG_ERR, "--partitions: expected 1..%d, got '%s'", OPTOUT_RANK_PARTITIONS_MAX, optarg);
                goto done;
            }
            mc.partitions = (unsigned)v;
            break;
        case O_ALL: rc_cfg.all_hosts = 1; break;
        case O_HOSTKEY:
            if (optout_hostkey_mode_parse(optarg, &mc.host_key) != 0) {
                optout_log(LOG_ERR, "--host-key: expected canonical or netloc, got '%s'", optarg);
                goto done;
            }
            break;
        case O_URL: mc.url_field = optarg; break;
        case O_LANG: mc.language_field = optarg; break;
        case O_TOKENS: mc.tokens_field = optarg; break;
        case O_TEXT: mc.text_field = optarg; break;
        case O_MAXLINE:
            if (parse_count(optarg, &v) != 0 || v == 0) {
                optout_log(LOG_ERR, "--max-line: expected a positive number of bytes, got '%s'", optarg);
                goto done;
            }
            mc.max_line = (size_t)v;
            break;
        case O_JOBS:
            if (parse_count(optarg, &v) != 0 || v < 1 || v > 1024) {
                optout_log(LOG_ERR, "--jobs: expected 1..1024, got '%s'", optarg);
                goto done;
            }
            jobs = (long)v;
            break;
        case O_MEM: mem_report = 1; break;
        case 'h':
            rank_usage(stdout);
            rc = OPTOUT_EXIT_OK;
            goto done;
        default: rc = cli_option_error("rank", opt, argv); goto done;
        }
    }
    optout_config_done();
    if (optind < argc || !out || npatterns == 0) {
        optout_log(LOG_ERR, "rank: --corpus and --out are required%s", optind < argc ? " (quote glob patterns)" : "");
        rank_usage(stderr);
        goto done;
    }
    if (rc_cfg.all_hosts && has_top) {
        optout_log(LOG_ERR, "rank: --all-hosts lists every host; it does not combine with --top-en/--top-intl");
        goto done;
    }
    if (rc_cfg.all_hosts) rc_cfg.top_en = rc_cfg.top_non_en = UINT64_MAX;
    char err[1024];
    if (optout_inputs_expand(patterns, npatterns, &inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        goto done;
    }
    rc = OPTOUT_EXIT_FAILURE;
    snprintf(ranking, sizeof ranking, "%s/ranking/x", out);
    if (optout_make_parent_dirs(ranking) != 0) {
        optout_log(LOG_ERR, "cannot create %s/ranking: %s", out, strerror(errno));
        goto done;
    }
    ranking[strlen(ranking) - 2] = '\0';
    snprintf(tmp, sizeof tmp, "%s/.rank-XXXXXX", out);
    if (!mkdtemp(tmp)) {
        optout_log(LOG_ERR, "cannot create a temporary directory in %s: %s", out, strerror(errno));
        tmp[0] = '\0';
        goto done;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t n = inputs.count;
    unsigned P = mc.partitions;
    j.map_cfg = &mc;
    j.red_cfg = &rc_cfg;
    j.inputs = &inputs;
    j.partitions = P;
    j.maps = calloc(n, sizeof *j.maps);
    j.indexes = calloc(n, sizeof *j.indexes);
    j.tops = calloc(P, sizeof *j.tops);
    if (!j.maps || !j.indexes || !j.tops) {
        optout_log(LOG_ERR, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (asprintf(&j.maps[i], "%s/map-%zu.zst", tmp, i) < 0 || asprintf(&j.indexes[i], "%s/map-%zu.idx", tmp, i) < 0) {
            optout_log(LOG_ERR, "out of memory");
            goto done;
        }
    for (unsigned p = 0; p < P; p++)
        if (asprintf(&j.tops[p], "%s/top-%u.tsv", tmp, p) < 0) {
            optout_log(LOG_ERR, "out of memory");
            goto done;
        }
    if (mem_report) peak_rss_kb_reset();
    j.items = n;
    j.reduce = 0;
    if (run_phase(&j, jobs) != 0) {
        optout_log(LOG_ERR, "%s", j.err);
        goto done;
    }
    long map_kb = mem_report ? peak_rss_kb_reset() : 0;
    j.items = P;
    j.reduce = 1;
    if (run_phase(&j, jobs) != 0) {
        optout_log(LOG_ERR, "%s", j.err);
        goto done;
    }
    long reduce_kb = mem_report ? peak_rss_kb_reset() : 0;
    long planned = optout_rank_merge(&rc_cfg, (const char *const *)j.tops, P, ranking, err, sizeof err);
    if (planned < 0) {
        optout_log(LOG_ERR, "%s", err);
        goto done;
    }
    if (mem_report) {
        long merge_kb = peak_rss_kb_reset();
        fprintf(stderr, "peak RSS (KiB): map phase %ld, reduce phase %ld, merge %ld (jobs %ld)\n", map_kb, reduce_kb,
                merge_kb, jobs);
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/en.tsv", ranking);
    uint64_t en = data_lines(path);
    snprintf(path, sizeof path, "%s/non_en.tsv", ranking);
    uint64_t non_en = data_lines(path);
    printf("rank: %zu shards, %" PRIu64 " documents counted, %" PRIu64 " distinct hosts, %ld hosts in the plan "
           "(en %" PRIu64 ", non_en %" PRIu64 ", metric %s, %u partitions)\n",
           n, j.stats.docs, j.hosts, planned, en, non_en, optout_rank_metric_name(rc_cfg.metric), P);
    printf("bad input: bad_json %" PRIu64 ", no_url %" PRIu64 ", bad_url %" PRIu64 ", no_host %" PRIu64
           ", line_too_long %" PRIu64 "\n",
           j.stats.bad_json, j.stats.no_url, j.stats.bad_url, j.stats.no_host, j.stats.line_too_long);
    printf("ranking: %s/{en.tsv,non_en.tsv,hosts.txt}\n", ranking);
    rc = fflush(stdout) == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
done:
    if (tmp[0]) optout_remove_tree(tmp);
    if (j.maps)
        for (size_t i = 0; i < inputs.count; i++) free(j.maps[i]);
    if (j.indexes)
        for (size_t i = 0; i < inputs.count; i++) free(j.indexes[i]);
    if (j.tops)
        for (unsigned p = 0; p < j.partitions; p++) free(j.tops[p]);
    free(j.maps);
    free(j.indexes);
    free(j.tops);
    optout_inputs_free(&inputs);
    free(patterns);
    return rc;
}
