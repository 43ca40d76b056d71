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
#include "optout/options.h"
#include "optout/rank.h"
#include "optout/rundir.h"
#include "optout/util.h"


static const optout_program_spec RANK_SPEC = {
    .program = OPTOUT_PROG_RANK,
    .section = "rank",
    .usage = "usage: optout rank --corpus PATH|GLOB... --out DIR [options]\n",
    .about = "Counts documents, bytes and tokens per host key and class (English / non-English / unknown)\n"
             "and writes DIR/ranking/en.tsv and non_en.tsv (host, docs, bytes, tokens, rank: the top N by\n"
             "the metric, ties by documents then host bytewise) and hosts.txt (their union: the fetch\n"
             "plan). Default N: 1000000 per class; --all-hosts lists every host (also those with only\n"
             "documents of unknown language). --corpus may be repeated; quote glob patterns.\n",
};

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
                j->stats.bytes_unread += st.bytes_unread;
                j->stats.bytes_read += st.bytes_read;
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
            if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10); /* the kernel's "VmHWM:  N kB" */
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

/* What the command line asks. */
struct rank_args {
    optout_rank_map_config mc;
    optout_rank_reduce_config rc_cfg;
    const char **patterns;
    size_t npatterns;
    const char *out;
    long jobs;
    int mem_report;
};

/* The options (options.h). Returns -1 to go on, else the exit status. */
static int rank_parse(int argc, char **argv, struct rank_args *a, optout_option_values *v) {
    int rc = optout_options_parse(&RANK_SPEC, argc, argv, v);
    if (rc >= 0) return rc;
    a->mc = (optout_rank_map_config){.partitions = (unsigned)v->num[OPTOUT_OPT_RANK_PARTITIONS]};
    a->rc_cfg = (optout_rank_reduce_config){.metric = OPTOUT_RANK_TOKENS, .top_en = OPTOUT_RANK_DEFAULT_TOP,
                                            .top_non_en = OPTOUT_RANK_DEFAULT_TOP};
    if (v->given[OPTOUT_OPT_TOP_EN]) a->rc_cfg.top_en = v->num[OPTOUT_OPT_TOP_EN];
    if (v->given[OPTOUT_OPT_TOP_INTL]) a->rc_cfg.top_non_en = v->num[OPTOUT_OPT_TOP_INTL];
    if (v->given[OPTOUT_OPT_METRIC]) (void)optout_rank_metric_parse(v->text[OPTOUT_OPT_METRIC], &a->rc_cfg.metric);
    if (v->given[OPTOUT_OPT_HOST_KEY]) (void)optout_hostkey_mode_parse(v->text[OPTOUT_OPT_HOST_KEY], &a->mc.host_key);
    a->rc_cfg.all_hosts = v->given[OPTOUT_OPT_ALL_HOSTS];
    a->mc.count_bytes = a->rc_cfg.metric == OPTOUT_RANK_BYTES;
    a->mc.url_field = v->text[OPTOUT_OPT_URL_FIELD];
    a->mc.language_field = v->text[OPTOUT_OPT_LANGUAGE_FIELD];
    a->mc.tokens_field = v->text[OPTOUT_OPT_TOKENS_FIELD];
    a->mc.text_field = v->text[OPTOUT_OPT_TEXT_FIELD];
    if (v->given[OPTOUT_OPT_MAX_LINE]) a->mc.max_line = (size_t)v->num[OPTOUT_OPT_MAX_LINE];
    a->jobs = v->given[OPTOUT_OPT_JOBS] ? (long)v->num[OPTOUT_OPT_JOBS] : sysconf(_SC_NPROCESSORS_ONLN);
    if (a->jobs < 1) a->jobs = 1;
    a->mem_report = v->given[OPTOUT_OPT_MEM_REPORT];
    a->patterns = v->list[OPTOUT_OPT_CORPUS];
    a->npatterns = v->count[OPTOUT_OPT_CORPUS];
    a->out = v->text[OPTOUT_OPT_RUN_OUT];
    if (!a->out || a->npatterns == 0) {
        optout_log(LOG_ERR, "rank: --corpus and --out are required");
        optout_options_usage(&RANK_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (a->rc_cfg.all_hosts && (v->given[OPTOUT_OPT_TOP_EN] || v->given[OPTOUT_OPT_TOP_INTL])) {
        optout_log(LOG_ERR, "rank: --all-hosts lists every host; it does not combine with --top-en/--top-intl");
        return OPTOUT_EXIT_USAGE;
    }
    if (a->rc_cfg.all_hosts) a->rc_cfg.top_en = a->rc_cfg.top_non_en = UINT64_MAX;
    return -1;
}

int cmd_rank(int argc, char **argv) {
    struct rank_args a = {0};
    optout_option_values v;
    int rc = rank_parse(argc, argv, &a, &v);
    if (rc >= 0) {
        optout_options_free(&v);
        return rc;
    }
    rc = OPTOUT_EXIT_USAGE;
    optout_rank_map_config mc = a.mc;
    optout_rank_reduce_config rc_cfg = a.rc_cfg;
    const char **patterns = a.patterns, *out = a.out;
    size_t npatterns = a.npatterns;
    long jobs = a.jobs;
    int mem_report = a.mem_report;
    optout_inputs inputs = {0};
    struct job j = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char tmp[PATH_MAX] = "", ranking[PATH_MAX];
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
        fprintf(stderr, "read from the shards: %" PRIu64 " bytes\n", j.stats.bytes_read);
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
    if (j.stats.bytes_unread)
        printf("bytes: not counted for %" PRIu64 " documents (Parquet row groups in which every document has a "
               "token count: their text column is not read; --metric bytes reads it)\n",
               j.stats.bytes_unread);
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
    optout_options_free(&v);
    return rc;
}
