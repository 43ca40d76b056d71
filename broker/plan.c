/* plan.c — the plan of a run and its progression through the stages.
 *
 * The first start writes DIR/plan (the options that change the result, and the inputs with their
 * sizes and mtimes); every later start compares its options with it (a difference is a usage
 * error: the journal's task ids would name other tasks) and reads the inputs from it, so a run
 * resumes over exactly the inputs it began with. The run configuration every TASK carries is
 * built here once. plan_advance() moves from stage to stage when one has settled, preparing what
 * the next needs (the ranking merge, the Redis store, the domain table) before queueing it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker_internal.h"
#include "result.h"
#include "optout/ccsource.h"
#include "optout/files.h"
#include "optout/history_archive.h"
#include "optout/history_redis.h"
#include "optout/log.h"
#include "optout/policy.h"
#include "optout/rundir.h"
#include "optout/tags.h"
#include "optout/util.h"
#include "optout/verdicts.h"

/* Loads the robots directory into Redis (idempotent; completeness is written last). */
int plan_redis_load(struct broker *b) {
    char err[1024];
    long n;
    if (b->cfg->robots_dir) {
        n = optout_verdicts_load_redis(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password, b->redis_prefix,
                                       b->cfg->robots_dir, err, sizeof err);
    } else { /* the fetch archive is the durable record; Redis a cache rebuilt from it */
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/robots", b->cfg->dir);
        n = optout_verdicts_load_redis_archive(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password,
                                               b->redis_prefix, archive, err, sizeof err);
    }
    if (n < 0) {
        optout_log(LOG_ERR, "loading verdicts into Redis: %s", err);
        return -1;
    }
    optout_log(LOG_INFO, "Redis %s: %ld host records under %s", b->cfg->redis, n, b->redis_prefix);
    if (!plan_judges_history(b)) return 0;
    /* the captures too: the workers read them from Redis (history_redis.h), not from a copy */
    const char *dir = b->cfg->history_dir ? b->cfg->history_dir : b->cfg->dir;
    optout_history_redis_load_stats st = {0};
    n = optout_history_redis_load(b->cfg->redis, b->cfg->redis_user, b->cfg->redis_password, b->redis_prefix, dir, 0,
                                  NULL, NULL, &st, err, sizeof err);
    if (n < 0) {
        optout_log(LOG_ERR, "loading the history archive %s/" OPTOUT_HISTORY_DIR " into Redis: %s", dir, err);
        return -1;
    }
    optout_log(LOG_INFO, "Redis %s: the captures of %ld hosts (%llu versions; %llu records, %llu bodies written) under "
               "%shistory:%s", b->cfg->redis, n, (unsigned long long)st.versions, (unsigned long long)st.hosts_written,
               (unsigned long long)st.bodies_written, b->redis_prefix, st.already_loaded ? " (already loaded)" : "");
    return 0;
}

int plan_redis_incomplete(struct broker *b, char *err, size_t errlen) {
    const struct broker_config *c = b->cfg;
    if (optout_verdicts_redis_complete(c->redis, c->redis_user, c->redis_password, b->redis_prefix, err, errlen) == 0)
        return 1;
    if (!plan_judges_history(b)) return 0;
    char why[900];
    if (optout_history_redis_complete(c->redis, c->redis_user, c->redis_password, b->redis_prefix, why, sizeof why) != 0)
        return 0;
    optout_set_err(err, errlen, "the history store: %s", why);
    return 1;
}

/* Benchmarks: N inputs that exist only in the plan, for workers that answer without reading them. */
static int plan_synthetic(struct broker *b) {
    size_t n = b->cfg->synthetic_tasks;
    b->inputs.items = calloc(n, sizeof *b->inputs.items);
    if (!b->inputs.items) return OPTOUT_EXIT_FAILURE;
    b->inputs.count = n;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "/synthetic/%zu.jsonl", i);
        b->inputs.items[i].path = strdup(name);
        b->inputs.items[i].output_name = strdup(name + 11);
        if (!b->inputs.items[i].path || !b->inputs.items[i].output_name) return OPTOUT_EXIT_FAILURE;
    }
    snprintf(b->redis_prefix, sizeof b->redis_prefix, "optout:synthetic:");
    return OPTOUT_EXIT_OK;
}

/* A rerun: inputs changed since the plan are said at once (a stat each: cheap), since a complete
 * run has nothing left to check them and would otherwise answer with outputs of older content. */
static void warn_changed_inputs(const struct broker *b) {
    size_t changed = 0, first = 0;
    char why[256] = "", first_why[256] = "";
    for (size_t i = 0; i < b->inputs.count; i++)
        if (optout_input_changed(&b->inputs.items[i], why, sizeof why) && changed++ == 0) {
            first = i;
            memcpy(first_why, why, sizeof why);
        }
    if (!changed) return;
    optout_log(LOG_WARNING,
               "%zu of %zu inputs changed since this run was planned (%s: %s): published outputs are of the planned "
               "content and a task whose input changed fails; to filter the new content, start a new run directory "
               "(optout run --out DIR, optout-broker --dir DIR)",
               changed, b->inputs.count, b->inputs.items[first].path, first_why);
}

/* Appends the files each crawl of `list` (comma-separated ids) has in its robotstxt.paths.gz under
 * --cc-base, in list order after --cc-robots' files, as optout history reads them; entries that
 * are not plain relative paths are refused and counted (ccsource.h). tolerant (--cc-crawls auto,
 * whose crawls come from the documents): a crawl whose list cannot be read is said and skipped
 * (Common Crawl publishes robots.txt captures since CC-MAIN-2016-36 only). */
static int plan_history_crawls(struct broker *b, const char *list, int tolerant) {
    const struct broker_config *c = b->cfg;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    optout_cc_crawls crawls;
    if (optout_cc_crawls_parse(list, &crawls, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "--cc-crawls: %s", err);
        return OPTOUT_EXIT_USAGE;
    }
    optout_cc_stream_options so = {0};
    int rc = OPTOUT_EXIT_OK;
    for (size_t k = 0; k < crawls.count && rc == OPTOUT_EXIT_OK; k++) {
        optout_cc_list l;
        size_t refused = 0;
        char example[256];
        if (optout_cc_paths(c->cc_base, crawls.ids[k], &so, &l, &refused, example, sizeof example, err, sizeof err) != 0) {
            if (tolerant) {
                optout_log(LOG_WARNING, "--cc-crawls auto: %s has no readable capture list, skipped: %s", crawls.ids[k],
                           err);
                continue;
            }
            optout_log(LOG_ERR, "--cc-crawls: %s", err);
            rc = OPTOUT_EXIT_FAILURE;
            break;
        }
        if (refused)
            optout_log(LOG_WARNING, "%s/crawl-data/%s/robotstxt.paths.gz: %zu entr%s not followed (only relative paths "
                       "are), e.g. '%s'", c->cc_base, crawls.ids[k], refused, refused == 1 ? "y" : "ies", example);
        optout_input *items = realloc(b->history_files.items, (b->history_files.count + l.count + 1) * sizeof *items);
        if (!items) rc = OPTOUT_EXIT_FAILURE;
        else b->history_files.items = items;
        for (size_t i = 0; i < l.count && rc == OPTOUT_EXIT_OK; i++) {
            struct stat st = {0};
            int url = optout_cc_is_url(l.items[i]), missing = !url && stat(l.items[i], &st) != 0;
            if (missing || (!url && !S_ISREG(st.st_mode))) {
                optout_log(LOG_ERR, "--cc-crawls %s: %s: %s", crawls.ids[k], l.items[i],
                           missing ? strerror(errno) : "not a regular file");
                rc = OPTOUT_EXIT_FAILURE;
                break;
            }
            optout_input *in = &b->history_files.items[b->history_files.count];
            memset(in, 0, sizeof *in);
            in->path = strdup(l.items[i]);
            in->output_name = strdup(l.items[i]);
            in->size = (uint64_t)st.st_size;
            in->mtime_ns = optout_mtime_ns(&st);
            if (!in->path || !in->output_name) {
                free(in->path), free(in->output_name);
                rc = OPTOUT_EXIT_FAILURE;
                break;
            }
            b->history_files.count++;
        }
        optout_cc_list_free(&l);
    }
    optout_cc_crawls_free(&crawls);
    return rc;
}

/* YYYY-MM-DD of a Unix time (UTC). */
static void plan_day(int64_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%d", &tm)) snprintf(out, cap, "?");
}

/* The run's filter judges by captures: the history and Wayback stages build DIR/history/ (from
 * --cc-robots or --cc-crawls, even when they name no file: the archive is then empty, and from
 * --wayback), or --history gives one. */
int plan_judges_history(const struct broker *b) {
    const struct broker_config *c = b->cfg;
    return c->history_dir != NULL || c->cc_robots_count > 0 || c->cc_crawls != NULL || c->wayback;
}

/* "current", "crawl", "strictest" or "cutoff:YYYY-MM-DD": the --robots-time text of a policy. */
void plan_robots_time_text(const optout_robots_time_spec *t, char *out, size_t cap) {
    char day[16];
    plan_day(t->cutoff, day, sizeof day);
    if (t->policy == OPTOUT_ROBOTS_TIME_CUTOFF) snprintf(out, cap, "cutoff:%s", day);
    else snprintf(out, cap, "%s", optout_robots_time_name(t->policy));
}

/* URLs within the TASK's limits (msg.h) and local paths absolute (workers get absolute paths), for
 * history_files[from..). An exit code. */
static int normalize_history_files(struct broker *b, size_t from) {
    for (size_t i = from; i < b->history_files.count; i++) {
        optout_input *in = &b->history_files.items[i];
        if (optout_cc_is_url(in->path)) { /* a worker reads it as given */
            size_t n = strlen(in->path);
            if (n >= OPTOUT_MSG_PATH_MAX || strstr(in->path, "/../") || (n >= 3 && !strcmp(in->path + n - 3, "/.."))) {
                optout_log(LOG_ERR, "--cc-robots %.200s: a URL longer than %d bytes or with a '..' segment",
                           in->path, OPTOUT_MSG_PATH_MAX - 1);
                return OPTOUT_EXIT_USAGE;
            }
        } else if (in->path[0] != '/') {
            char *abs = realpath(in->path, NULL);
            if (!abs) {
                optout_log(LOG_ERR, "--cc-robots %s: %s", in->path, strerror(errno));
                return OPTOUT_EXIT_FAILURE;
            }
            free(in->path);
            in->path = abs;
        }
    }
    return OPTOUT_EXIT_OK;
}

int plan_cc_auto(const struct broker_config *c) { return c->cc_crawls && strcmp(c->cc_crawls, "auto") == 0; }

/* DIR/PLAN_HISTORY_FILES: the files --cc-crawls auto resolved after the survey ("path \t size \t
 * mtime_ns" a line), so that every later start plans the same history tasks. */
#define PLAN_HISTORY_FILES "history-files.tsv"

/* --cc-crawls auto on a start: the recorded files appended to history_files, or none yet
 * (b->history_deferred: resolved when the survey ends). An exit code. */
static int plan_history_auto_read(struct broker *b) {
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/" PLAN_HISTORY_FILES, b->cfg->dir);
    size_t len = 0;
    char *text = optout_read_file(path, (size_t)1 << 30, &len);
    if (!text) {
        if (errno != ENOENT) {
            optout_log(LOG_ERR, "%s: %s", path, strerror(errno));
            return OPTOUT_EXIT_FAILURE;
        }
        b->history_deferred = 1;
        return OPTOUT_EXIT_OK;
    }
    size_t lines = 0, lineno = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    optout_input *items = realloc(b->history_files.items, (b->history_files.count + lines + 1) * sizeof *items);
    int rc = items ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
    if (items) b->history_files.items = items;
    for (char *line = text, *nl; rc == OPTOUT_EXIT_OK && (nl = memchr(line, '\n', len - (size_t)(line - text)));
         line = nl + 1) {
        *nl = '\0';
        lineno++;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *end1, *end2;
        if (!t2) goto bad;
        *t1 = *t2 = '\0';
        errno = 0;
        unsigned long long size = strtoull(t1 + 1, &end1, 10);
        long long mtime = strtoll(t2 + 1, &end2, 10);
        if (!line[0] || *end1 || *end2 || errno) goto bad;
        optout_input *in = &b->history_files.items[b->history_files.count];
        memset(in, 0, sizeof *in);
        if (!(in->path = strdup(line)) || !(in->output_name = strdup(line))) {
            free(in->path);
            rc = OPTOUT_EXIT_FAILURE;
            break;
        }
        in->size = size, in->mtime_ns = mtime;
        b->history_files.count++;
        continue;
    bad:
        snprintf(err, sizeof err, "line %zu is not \"path \\t size \\t mtime\"", lineno);
        optout_log(LOG_ERR, "%s: %s (written by this run after its survey; remove the run directory to start again)",
                   path, err);
        rc = OPTOUT_EXIT_FAILURE;
    }
    free(text);
    return rc;
}

int plan_history_auto_resolve(struct broker *b, const optout_survey_summary *survey) {
    const struct broker_config *c = b->cfg;
    size_t cap = 1, from = b->history_files.count;
    for (size_t i = 0; i < survey->crawl_count; i++) cap += strlen(survey->crawls[i].crawl) + 1;
    char *list = calloc(1, cap);
    if (!list) return OPTOUT_EXIT_FAILURE;
    for (size_t i = 0; i < survey->crawl_count; i++)
        if (strcmp(survey->crawls[i].crawl, "-") != 0)
            snprintf(list + strlen(list), cap - strlen(list), "%s%s", list[0] ? "," : "", survey->crawls[i].crawl);
    int rc = list[0] ? plan_history_crawls(b, list, 1) : OPTOUT_EXIT_OK;
    if (!list[0]) optout_log(LOG_WARNING, "--cc-crawls auto: the survey found no crawl id in the documents");
    free(list);
    if (rc == OPTOUT_EXIT_OK) rc = normalize_history_files(b, from);
    if (rc != OPTOUT_EXIT_OK) return rc;
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/" PLAN_HISTORY_FILES, c->dir);
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, sizeof err);
    if (!f) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    int bad = 0;
    for (size_t i = from; i < b->history_files.count; i++) {
        const optout_input *in = &b->history_files.items[i];
        if (strpbrk(in->path, "\t\n")) { /* a list's entry cannot be a line of the record */
            optout_log(LOG_ERR, "--cc-crawls auto: %.200s: a path with a tab or a line break", in->path);
            bad = 1;
            break;
        }
        fprintf(f, "%s\t%llu\t%lld\n", in->path, (unsigned long long)in->size, (long long)in->mtime_ns);
    }
    if (bad) {
        optout_publish_abort(&pub);
        return OPTOUT_EXIT_FAILURE;
    }
    if (optout_publish_commit(&pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    b->history_deferred = 0;
    optout_log(LOG_INFO, "--cc-crawls auto: %zu files of the crawls the survey found (%s)",
               b->history_files.count - from, path);
    return OPTOUT_EXIT_OK;
}

/* --cc-robots expanded into b->history_files (absolute paths, in the order optout history reads
 * them), and what the plan records of them: the patterns, and a SHA-256 of every file's path,
 * size and mtime, so that a rerun over other files is refused like one over other options. */
static int plan_history_files(struct broker *b, char *patterns, size_t pcap, char files_hash[65]) {
    const struct broker_config *c = b->cfg;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    patterns[0] = files_hash[0] = '\0';
    if (!c->cc_robots_count && !c->cc_crawls) return OPTOUT_EXIT_OK;
    for (size_t i = 0; i < c->cc_robots_count; i++)
        snprintf(patterns + strlen(patterns), pcap - strlen(patterns), "%s%s", i ? " " : "", c->cc_robots[i]);
    /* URLs as given (read by the workers over HTTP(S)), then the local patterns expanded */
    const char **local = calloc(c->cc_robots_count + 1, sizeof *local);
    size_t nlocal = 0, nurl = 0;
    if (!local) return OPTOUT_EXIT_FAILURE;
    for (size_t i = 0; i < c->cc_robots_count; i++)
        if (!optout_cc_is_url(c->cc_robots[i])) local[nlocal++] = c->cc_robots[i];
    optout_inputs expanded = {0};
    if (nlocal && optout_inputs_expand(local, nlocal, &expanded, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "--cc-robots: %s", err);
        free(local);
        return OPTOUT_EXIT_USAGE;
    }
    free(local);
    for (size_t i = 0; i < c->cc_robots_count; i++) nurl += optout_cc_is_url(c->cc_robots[i]);
    b->history_files.items = calloc(nurl + expanded.count + 1, sizeof *b->history_files.items);
    if (!b->history_files.items) {
        optout_inputs_free(&expanded);
        return OPTOUT_EXIT_FAILURE;
    }
    for (size_t i = 0; i < c->cc_robots_count; i++)
        if (optout_cc_is_url(c->cc_robots[i])) {
            optout_input *in = &b->history_files.items[b->history_files.count++];
            in->path = strdup(c->cc_robots[i]);
            in->output_name = strdup(c->cc_robots[i]);
            if (!in->path || !in->output_name) {
                optout_inputs_free(&expanded);
                return OPTOUT_EXIT_FAILURE;
            }
        }
    if (expanded.count) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(b->history_files.items + b->history_files.count, expanded.items, expanded.count * sizeof *expanded.items);
    b->history_files.count += expanded.count;
    free(expanded.items); /* the items' strings now belong to history_files */
    if (c->cc_crawls && !plan_cc_auto(c)) {
        int rc = plan_history_crawls(b, c->cc_crawls, 0);
        if (rc != OPTOUT_EXIT_OK) return rc;
    }
    int rc = normalize_history_files(b, 0);
    if (rc != OPTOUT_EXIT_OK) return rc;
    size_t cap = 256, len = 0;
    char *list = malloc(cap);
    if (!list) return OPTOUT_EXIT_FAILURE;
    for (size_t i = 0; i < b->history_files.count; i++) {
        optout_input *in = &b->history_files.items[i];
        size_t need = strlen(in->path) + 64;
        if (len + need > cap) {
            while (len + need > cap) cap *= 2;
            char *q = realloc(list, cap);
            if (!q) {
                free(list);
                return OPTOUT_EXIT_FAILURE;
            }
            list = q;
        }
        len += (size_t)snprintf(list + len, cap - len, "%s\t%llu\t%lld\n", in->path, (unsigned long long)in->size,
                                (long long)in->mtime_ns);
    }
    optout_sha256_hex(list, len, files_hash);
    free(list);
    /* --cc-crawls auto: the files its survey resolved (recorded then), else none until it has run */
    return plan_cc_auto(c) ? plan_history_auto_read(b) : OPTOUT_EXIT_OK;
}

/* A new run: the corpus expanded (absolute paths: workers get them), checked to lie outside the
 * run's outputs, and the plan written with `options`. An exit status (logged). */
static int plan_write_new(struct broker *b, const optout_plan_option *options, size_t count) {
    const struct broker_config *c = b->cfg;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    if (optout_inputs_expand(c->corpus, c->corpus_count, &b->inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_USAGE;
    }
    for (size_t i = 0; i < b->inputs.count; i++) /* workers get absolute paths */
        if (b->inputs.items[i].path[0] != '/') {
            char *abs = realpath(b->inputs.items[i].path, NULL);
            if (!abs) {
                optout_log(LOG_ERR, "%s: %s", b->inputs.items[i].path, strerror(errno));
                return OPTOUT_EXIT_FAILURE;
            }
            free(b->inputs.items[i].path);
            b->inputs.items[i].path = abs;
        }
    if (result_inputs_outside_outputs(c->dir, &b->inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_USAGE;
    }
    if (optout_plan_write(c->dir, options, count, &b->inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    return OPTOUT_EXIT_OK;
}

int plan_run(struct broker *b) {
    const struct broker_config *c = b->cfg;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    /* the run id: in every log line from here on, and in the Redis prefix */
    char run_hash[65], context[32];
    optout_sha256_hex(c->dir, strlen(c->dir), run_hash);
    snprintf(b->run_id, sizeof b->run_id, "%.12s", run_hash);
    snprintf(context, sizeof context, "run=%s", b->run_id);
    optout_log_set_context(context);
    if (c->synthetic_tasks) return plan_synthetic(b);
    char corpus[8192] = "", agents[8192] = "", level[16], retries[16], top_en[24], top_non_en[24], parts[16],
         fetch_tasks[16], scheme[8];
    for (size_t i = 0; i < c->corpus_count; i++)
        snprintf(corpus + strlen(corpus), sizeof corpus - strlen(corpus), "%s%s", i ? " " : "", c->corpus[i]);
    for (size_t i = 0; i < optout_agents_count(b->agents); i++)
        snprintf(agents + strlen(agents), sizeof agents - strlen(agents), "%s%s", i ? "," : "",
                 optout_agents_name(b->agents, i));
    snprintf(level, sizeof level, "%d", c->level ? c->level : 3);
    snprintf(retries, sizeof retries, "%u", c->retries);
    snprintf(top_en, sizeof top_en, "%llu", (unsigned long long)c->top_en);
    snprintf(top_non_en, sizeof top_non_en, "%llu", (unsigned long long)c->top_non_en);
    snprintf(parts, sizeof parts, "%u", c->partitions);
    snprintf(fetch_tasks, sizeof fetch_tasks, "%u", c->fetch_tasks);
    static const char *const schemes[] = {"auto", "https", "http"};
    snprintf(scheme, sizeof scheme, "%s", schemes[c->fetch.scheme % 3]);
    char wb_block[24], wb_from[16], wb_to[16], wb_hosts[24];
    snprintf(wb_block, sizeof wb_block, "%zu", c->wayback_block_hosts);
    snprintf(wb_from, sizeof wb_from, "%d", c->wayback_from);
    snprintf(wb_to, sizeof wb_to, "%d", c->wayback_to);
    snprintf(wb_hosts, sizeof wb_hosts, "%llu", (unsigned long long)c->wayback_hosts);
    char sample[32] = ""; /* the fraction, e.g. "0.01"; "" when every document is filtered */
    if (c->sample_ppm) snprintf(sample, sizeof sample, "%.6g", (double)c->sample_ppm / 1e6);
    int fetching = !c->robots_dir;
    char cc_robots[8192], cc_files[65];
    int hr = plan_history_files(b, cc_robots, sizeof cc_robots, cc_files);
    if (hr != OPTOUT_EXIT_OK) return hr;
    /* robots.txt as it was: the policy, and what judges by captures (unused without an archive) */
    int judged = plan_judges_history(b);
    char robots_time[48], max_age[24], report_cutoff[16];
    plan_robots_time_text(&c->robots_time, robots_time, sizeof robots_time);
    snprintf(max_age, sizeof max_age, "%lld", (long long)(c->history_max_age / 86400));
    plan_day(c->report_cutoff, report_cutoff, sizeof report_cutoff);
    const char *no_captures = "(unused without --cc-robots, --cc-crawls or --history)";
    char l_age[96], l_missing[96], l_cutoff[96];
    snprintf(l_age, sizeof l_age, "--history-max-age %s", no_captures);
    snprintf(l_missing, sizeof l_missing, "--history-missing %s", no_captures);
    snprintf(l_cutoff, sizeof l_cutoff, "--report-cutoff %s", no_captures);
    /* A mismatch names what the user typed: values that follow from other options say which
     * (rundir.h's labels); the fetch's options are empty with --robots-dir. */
    int unused = !fetching;
    const char *allow_private_label = unused                ? "--allow-private (unused with --robots-dir)"
                                      : c->fetch.connect_to ? "--allow-private (implied by --connect-to)"
                                                            : NULL;
    /* options that change the result; the fetch's tuning (timeouts, concurrency) does not */
    const optout_plan_option options[] = {
        {"agents", agents, "the agent list (--agents-file, then --agent; the built-in list without either)"},
        {"allow-private", fetching && c->fetch.allow_private ? "yes" : "no", allow_private_label},
        {"connect-to", fetching && c->fetch.connect_to ? c->fetch.connect_to : "",
         unused ? "--connect-to (unused with --robots-dir)" : NULL},
        {"cc-base", c->cc_crawls ? c->cc_base : "", c->cc_crawls ? NULL : "--cc-base (unused without --cc-crawls)"},
        {"cc-crawls", c->cc_crawls ? c->cc_crawls : "", NULL},
        {"cc-robots", cc_robots, NULL},
        {"cc-robots-files", cc_files,
         "the files --cc-robots and --cc-crawls name (their paths, sizes and mtimes, SHA-256)"},
        {"corpus", corpus, NULL},
        {"fetch-tasks", fetching ? fetch_tasks : "", unused ? "--fetch-tasks (unused with --robots-dir)" : NULL},
        {"date-field", c->date_field ? c->date_field : "", NULL},
        {"dump-field", c->dump_field ? c->dump_field : "", NULL},
        {"granularity", optout_granularity_name((optout_granularity)c->granularity), NULL},
        {"history", c->history_dir ? c->history_dir : "", NULL},
        {"history-max-age", judged ? max_age : "", judged ? NULL : l_age},
        {"history-missing", judged ? optout_history_missing_name(c->history_missing) : "", judged ? NULL : l_missing},
        {"report-cutoff", judged ? report_cutoff : "", judged ? NULL : l_cutoff},
        {"hosts", c->hosts_file ? c->hosts_file : "", NULL},
        {"host-key", c->host_key == OPTOUT_HOSTKEY_NETLOC ? "netloc" : "canonical", NULL},
        {"keep-format", c->keep_format ? "yes" : "no", NULL},
        {"output", c->output_tags ? "tags" : "shards", NULL},
        {"keep-hosts", c->keep_hosts ? c->keep_hosts : "", NULL},
        {"level", level, NULL},
        {"metric", c->top_en || c->top_non_en ? optout_rank_metric_name(c->metric) : "",
         c->top_en || c->top_non_en ? NULL : "--metric (unused without --top-en / --top-intl)"},
        {"missing-url", c->missing_url_keep ? "keep" : "fail", NULL},
        {"mode", optout_robots_mode_name(c->mode), NULL},
        {"output-format", c->output_format == 1 ? "jsonl" : c->output_format == 2 ? "parquet" : "same", NULL},
        {"parquet-compression", c->parquet_compression ? c->parquet_compression : "zstd", NULL},
        {"partitions", fetching && !c->hosts_file ? parts : "",
         unused ? "--partitions (unused with --robots-dir)" : c->hosts_file ? "--partitions (unused with --hosts)" : NULL},
        {"overrides-sha256", c->keep_hosts || c->remove_hosts ? c->overrides_sha256 : "",
         "the content of the --keep-hosts / --remove-hosts files (SHA-256)"},
        {"remove-hosts", c->remove_hosts ? c->remove_hosts : "", NULL},
        {"removed", c->with_removed ? "yes" : "no", NULL},
        {"robots-dir", c->robots_dir ? c->robots_dir : "", NULL},
        {"robots-time", robots_time, NULL},
        {"sample", sample, NULL},
        {"sample-shards", c->sample_shards ? "yes" : "no", NULL},
        {"scheme", fetching ? scheme : "", unused ? "--scheme (unused with --robots-dir)" : NULL},
        {"top-en", top_en, NULL},
        {"top-intl", top_non_en, NULL},
        {"unreachable", c->unreachable_disallows ? "disallow" : "keep", NULL},
        {"user-agent", fetching && c->fetch.user_agent ? c->fetch.user_agent : "",
         unused ? "--user-agent (unused with --robots-dir)" : NULL},
        /* the Wayback's last, and only with --wayback: the plans of runs without it stay as they were.
         * --wayback-rate is politeness, not a result: a resume may lower it (each block's sources.tsv
         * line records the rate it was asked at) */
        {"wayback", "yes", NULL},
        {"wayback-base", c->wayback_base ? c->wayback_base : "", NULL},
        {"wayback-block-hosts", wb_block, NULL},
        {"wayback-from", wb_from, NULL},
        {"wayback-hosts", wb_hosts, NULL},
        {"wayback-hosts-file", c->wayback_hosts_file ? c->wayback_hosts_file : "", NULL},
        {"wayback-hosts-sha256", c->wayback_hosts_sha256, "the content of the --wayback-hosts-file file (SHA-256)"},
        {"wayback-to", wb_to, NULL},
    };
    size_t count = sizeof options / sizeof *options - (c->wayback ? 0 : 8);
    /* Redis keys: optout:<run>:<config-hash>: (the run is named by its directory) */
    char config_hash[65];
    optout_plan_config_hash(options, count, config_hash);
    snprintf(b->redis_prefix, sizeof b->redis_prefix, "optout:%s:%.16s:", b->run_id, config_hash);
    int exists, differs;
    if (optout_plan_compare(c->dir, options, count, &exists, &differs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s: %s", c->dir, err);
        return differs ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE;
    }
    if (exists) {
        if (optout_plan_read_inputs(c->dir, &b->inputs, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "%s", err);
            return OPTOUT_EXIT_FAILURE;
        }
        warn_changed_inputs(b);
        return OPTOUT_EXIT_OK;
    }
    return plan_write_new(b, options, count);
}

int plan_policy_stats(struct broker *b) {
    const struct broker_config *c = b->cfg;
    if (!plan_judges_history(b)) return 0;
    if (!(b->by_policy = malloc(sizeof *b->by_policy)) || !(b->pending_policy = malloc(sizeof *b->pending_policy)))
        return -1;
    optout_stats_policy_init_run(b->by_policy, &c->robots_time, c->report_cutoff, c->history_missing,
                                 c->history_max_age);
    optout_stats_policy_init_run(b->pending_policy, &c->robots_time, c->report_cutoff, c->history_missing,
                                 c->history_max_age);
    return 0;
}

int plan_config_blob(struct broker *b) {
    optout_run_config *rc = calloc(1, sizeof *rc);
    if (!rc) return -1;
    rc->mode = b->cfg->mode;
    rc->host_key = b->cfg->host_key;
    rc->unreachable_disallows = (uint8_t)b->cfg->unreachable_disallows;
    rc->level = b->cfg->level;
    rc->missing_url_keep = (uint8_t)b->cfg->missing_url_keep;
    rc->output_format = (uint32_t)b->cfg->output_format;
    snprintf(rc->parquet_compression, sizeof rc->parquet_compression, "%s",
             b->cfg->parquet_compression ? b->cfg->parquet_compression : "zstd");
    rc->agent_count = optout_agents_count(b->agents);
    for (size_t i = 0; i < rc->agent_count; i++)
        snprintf(rc->agents[i], sizeof rc->agents[i], "%s", optout_agents_name(b->agents, i));
    const struct broker_config *c = b->cfg;
    if (c->redis) {
        snprintf(rc->redis, sizeof rc->redis, "%s", c->redis);
        snprintf(rc->redis_prefix, sizeof rc->redis_prefix, "%s", b->redis_prefix);
    } else if (c->robots_dir) {
        broker_path(b, c->robots_dir, &rc->robots_dir);
    } else { /* workers read the fetch archive itself */
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/robots", c->dir);
        broker_path(b, archive, &rc->robots_dir);
        rc->robots_archive = 1;
    }
    optout_rank_reduce_config rank;
    stages_rank_config(c, &rank);
    rc->rank_partitions = c->partitions;
    rc->rank_metric = (uint32_t)rank.metric;
    rc->top_en = rank.top_en;
    rc->top_non_en = rank.top_non_en;
    rc->all_hosts = (uint8_t)rank.all_hosts;
    rc->fetch_scheme = (uint32_t)c->fetch.scheme;
    rc->fetch_concurrency = c->fetch.concurrency;
    rc->fetch_connect_timeout_ms = c->fetch.connect_timeout_ms;
    rc->fetch_timeout_ms = c->fetch.timeout_ms;
    rc->fetch_retries = c->fetch.retries;
    rc->fetch_allow_private = (uint8_t)c->fetch.allow_private;
    snprintf(rc->fetch_user_agent, sizeof rc->fetch_user_agent, "%s", c->fetch.user_agent ? c->fetch.user_agent : "");
    snprintf(rc->fetch_connect_to, sizeof rc->fetch_connect_to, "%s", c->fetch.connect_to ? c->fetch.connect_to : "");
    rc->granularity = (uint32_t)c->granularity;
    if (c->keep_hosts) broker_path(b, c->keep_hosts, &rc->keep_hosts);
    if (c->remove_hosts) broker_path(b, c->remove_hosts, &rc->remove_hosts);
    rc->sample_ppm = c->sample_ppm;
    rc->sample_shards = (uint8_t)c->sample_shards;
    if (c->granularity == OPTOUT_GRANULARITY_DOMAIN) {
        char domains[4200];
        snprintf(domains, sizeof domains, "%s/" OPTOUT_DOMAINS_FILE, c->dir);
        broker_path(b, domains, &rc->blocked_domains);
    }
    rc->output_tags = (uint8_t)c->output_tags;
    rc->survey = (uint8_t)stages_surveying(c);
    if (b->stage_count[STAGE_HISTORY]) { /* the pass running's (the passes run one after another) */
        char hosts[4200];
        stages_history_hosts(b, hosts, sizeof hosts);
        broker_path(b, hosts, &rc->history_hosts);
    }
    snprintf(rc->dump_field, sizeof rc->dump_field, "%s", c->dump_field ? c->dump_field : "");
    snprintf(rc->date_field, sizeof rc->date_field, "%s", c->date_field ? c->date_field : "");
    rc->robots_time = (uint32_t)c->robots_time.policy;
    rc->robots_cutoff = c->robots_time.policy == OPTOUT_ROBOTS_TIME_CUTOFF ? c->robots_time.cutoff : 0;
    rc->report_cutoff = c->report_cutoff;
    rc->history_max_age = c->history_max_age;
    rc->history_missing = (uint32_t)c->history_missing;
    if (plan_judges_history(b)) /* the directory holding history/: --history's, else the run's own */
        broker_path(b, c->history_dir ? c->history_dir : c->dir, &rc->history);
    if (c->wayback) {
        snprintf(rc->wayback_base, sizeof rc->wayback_base, "%s", c->wayback_base);
        rc->wayback_from = (uint32_t)c->wayback_from;
        rc->wayback_to = (uint32_t)c->wayback_to;
        double micro = c->wayback_rate * 1e6;
        rc->wayback_rate_micro = micro < 1 ? 1 : micro > OPTOUT_WAYBACK_RATE_MICRO_MAX ? OPTOUT_WAYBACK_RATE_MICRO_MAX
                                                                                         : (uint32_t)micro;
    }
    char err[OPTOUT_MSG_ERR_LEN];
    int r = optout_run_config_encode(rc, &b->config_blob, &b->config_len, err);
    if (r != 0) optout_log(LOG_ERR, "run configuration: %s", err);
    free(rc);
    return r;
}

/* Loading Redis and the domain table happen before the filter stage is queued, the ranking merge
 * and blocked_hosts.tsv when their stage has finished (stages_finish). */
int plan_advance(struct broker *b) {
    while (b->stage < STAGE_COUNT) {
        enum stage s = b->stage;
        size_t first = b->stage_first[s], n = b->stage_count[s];
        if (s == STAGE_WAYBACK && !b->stage_queued && stages_wayback_reopen(b) != 0) return -1;
        if (b->settled[s] < n) {
            if (b->stage_queued) return 0;
            if (s == STAGE_WAYBACK && stages_wayback_prepare(b) != 0) return -1;
            if (s == STAGE_FILTER && b->cfg->redis && plan_redis_load(b) != 0) return -1;
            if (s == STAGE_FILTER && b->cfg->granularity == OPTOUT_GRANULARITY_DOMAIN && artefacts_write_domains(b) != 0)
                return -1;
            for (size_t i = first; i < first + n; i++)
                if (b->tasks[i].state == TASK_PENDING) broker_queue_push(b, i);
            b->stage_queued = 1;
            b->recovered = 1; /* tasks will run: the report changes */
            optout_log(LOG_INFO, "stage %s: %zu tasks, %zu to run", stage_name(s), n, b->queue_len);
            return 0;
        }
        size_t failed = 0;
        for (size_t i = first; i < first + n; i++) failed += b->tasks[i].state == TASK_FAILED;
        if (failed && s != STAGE_FILTER) {
            optout_log(LOG_ERR, "stage %s: %zu of %zu tasks failed permanently; the later stages cannot run",
                       stage_name(s), failed, n);
            return 1;
        }
        int finished = n || s == STAGE_HISTORY ? stages_finish(b, s) : 0;
        if (finished < 0) return -1;
        if (finished > 0) { /* the stage grew (another history pass): queue its new tasks */
            b->stage_queued = 0;
            continue;
        }
        b->stage++;
        b->stage_queued = 0;
        const char *stop = b->cfg->stop_after;
        if (stop && ((strcmp(stop, "rank") == 0 && s == STAGE_RANK_REDUCE) || (strcmp(stop, "fetch") == 0 && s == STAGE_FETCH) ||
                     (strcmp(stop, "history") == 0 && s == STAGE_HISTORY) || (strcmp(stop, "survey") == 0 && s == STAGE_RANK_MAP) ||
                     (strcmp(stop, "wayback") == 0 && s == STAGE_WAYBACK)))
            return stages_wayback_dry_run(b) != 0 ? -1 : 2; /* a dry run ends here, with the Wayback's plan when known */
    }
    return 0;
}

int plan_output_names(struct broker *b) {
    for (size_t i = b->stage_first[STAGE_FILTER]; i < b->task_count; i++) {
        char name[OPTOUT_MSG_PATH_MAX];
        /* tag mode: the task's name is the tags file's, tags/<name> (tags.h: always .zst) */
        if (b->cfg->output_tags) optout_tags_name(b->tasks[i].input->output_name, name, sizeof name);
        else optout_shards_name(b->tasks[i].input->output_name, b->cfg->keep_format, b->cfg->output_format, name,
                                sizeof name);
        if (!(b->tasks[i].output_name = strdup(name))) return -1;
    }
    return 0;
}
