/* cmd_apply_tags.c — `optout apply-tags`: the tags of a tag-mode run (or `optout filter --output
 * tags`) applied to the shards, giving what a full run would have written (include/optout/tags.h).
 *
 * optout apply-tags --tags FILE|DIR --in SHARD --out SHARD [--removed SHARD]
 * optout apply-tags --run RUN_DIR --out DIR [--removed DIR] [--corpus PATH|GLOB...] [--keep-format]
 *   common: [--level N] [--max-line BYTES] [--stats FILE|-]
 * The directory form takes every input of RUN_DIR's plan (or of --corpus), its tags file
 * RUN_DIR/tags/<name>, and writes DIR/<name> (and DIR_R/<name>) with the run's naming: `--out X/shards
 * --removed X/removed` lays them out as a full run would. Exit 0, 1 (a shard failed: the others are
 * still done), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "optout/files.h"
#include "optout/log.h"
#include "optout/options.h"
#include "optout/parse.h"
#include "optout/rundir.h"
#include "optout/tags.h"
#include "optout/util.h"

static void apply_usage(FILE *f) {
    fputs("usage: optout apply-tags --tags FILE|DIR --in SHARD --out SHARD [--removed SHARD]\n"
          "       optout apply-tags --run RUN_DIR --out DIR [--removed DIR] [--corpus PATH|GLOB...] [--keep-format]\n"
          "       common options: [--level N] [--max-line BYTES] [--stats FILE|-] [--jobs N]\n"
          "                       [--output-format same|jsonl|parquet] [--parquet-compression CODEC]\n"
          "\n"
          "options:\n"
          "  --tags FILE|DIR       the tags of one shard, or a directory of tags files (default: none)\n"
          "  --in SHARD            the shard the tags were made from (default: none)\n"
          "  --run RUN_DIR         a tag-mode run: every input of its plan (default: none)\n"
          "  --out SHARD|DIR       the kept documents: a shard, or with --run a directory (default: none)\n"
          "  --removed SHARD|DIR   also write the removed documents there (default: not written)\n"
          "  --corpus PATH|GLOB... with --run: these inputs instead of the plan's (default: the plan's)\n"
          "  --keep-format         with --run: each output in its input's format (default: the run's choice)\n"
          "  --output-format FORMAT same, jsonl or parquet: the outputs' format (default: same; with --run:\n"
          "                        the run's)\n"
          "  --parquet-compression CODEC  zstd, snappy, gzip, lz4 or none: Parquet outputs' codec (default:\n"
          "                        zstd; with --run: the run's)\n"
          "  --level N             compression level of the outputs, checked per codec (default: the codec's;\n"
          "                        with --run: the run's)\n"
          "  --max-line BYTES      the longest line (default: 67108864)\n"
          "  --stats FILE|-        the counts as JSON (default: not written)\n"
          "  --jobs N              shards applied at a time with --run (default: one per core)\n"
          "  -h, --help            this text\n"
          "\n"
          "Removes from a shard exactly the documents its tags name (by id, or by line number for\n"
          "documents without one) and writes the others byte-identical to --out; with --removed the\n"
          "removed ones with the tag's \"disallowed_user_agents\" added, as a full run writes them.\n"
          "--tags DIR takes DIR/<the tags name of the input's file name>. Every tag must match a\n"
          "document, else the shard fails and nothing is written for it.\n"
          "--run RUN_DIR applies a tag-mode run (optout run --output tags) to every input of its plan\n"
          "(or of --corpus, named the same way): RUN_DIR/tags/<name> to the input, kept documents to\n"
          "DIR/<name>, removed ones to the --removed directory, <name> as in a run's shards/.\n"
          "JSON Lines outputs are compressed by their name (.zst, .gz, else plain); a Parquet input (or\n"
          "--output-format parquet) gives Parquet outputs exactly as the filter writes them.\n"
          "--stats writes the counts as JSON.\n"
          "With --run, progress goes to stderr (redrawn on a terminal) and a summary ends it.\n",
          f);
}

static int parse_positive(const char *option, const char *s, unsigned long long max, unsigned long long *out) {
    char err[300];
    uint64_t v;
    if (optout_parse_number(s, 1, max, &v, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s: %s", option, err);
        return -1;
    }
    *out = v;
    return 0;
}

/* --output-format's value (the options table's choices, in their order: same, jsonl, parquet). */
static int output_format_parse(const char *s, int *format) {
    const char *const *names = optout_option_row(OPTOUT_OPT_OUTPUT_FORMAT)->choices;
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *format = i;
            return 0;
        }
    optout_log(LOG_ERR, "--output-format %s: not one of same, jsonl, parquet", s);
    return -1;
}

/* The statistics to PATH, published whole (files.h; its directory created), or to stdout for "-".
 * 0, or -1 (logged). */
static int write_stats(const char *path, const optout_apply_stats *s, size_t shards, size_t failed) {
    char err[4400] = "";
    optout_publish pub = {0};
    FILE *f = strcmp(path, "-") == 0 ? stdout : NULL;
    if (!f && optout_make_parent_dirs(path) != 0) {
        optout_log(LOG_ERR, "writing statistics to %s: %s", path, strerror(errno));
        return -1;
    }
    if (!f && !(f = optout_publish_open(&pub, path, 0644, err, sizeof err))) {
        optout_log(LOG_ERR, "writing statistics: %s", err);
        return -1;
    }
    fprintf(f,
            "{\"shards\": %zu, \"failed_shards\": %zu, \"tags\": %llu, \"lines\": %llu, \"docs_in\": %llu, "
            "\"docs_removed\": %llu, \"docs_kept\": %llu, \"duplicate_matches\": %llu}\n",
            shards, failed, (unsigned long long)s->tags, (unsigned long long)s->lines, (unsigned long long)s->docs_in,
            (unsigned long long)s->docs_removed, (unsigned long long)(s->docs_in - s->docs_removed),
            (unsigned long long)s->duplicate_matches);
    if (f == stdout) {
        if (fflush(f) == 0) return 0;
        optout_log(LOG_ERR, "writing statistics to %s: %s", path, strerror(errno));
        return -1;
    }
    if (optout_publish_commit(&pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "writing statistics: %s", err);
        return -1;
    }
    return 0;
}

static void add_stats(optout_apply_stats *to, const optout_apply_stats *s) {
    to->tags += s->tags, to->lines += s->lines, to->docs_in += s->docs_in, to->docs_removed += s->docs_removed;
    to->duplicate_matches += s->duplicate_matches;
}

static int one_shard(const optout_apply_config *cfg, const char *tags, const char *in, const char *out,
                     const char *removed, optout_apply_stats *stats) {
    char err[2048];
    const char *outputs[] = {out, removed};
    for (int i = 0; i < 2; i++)
        if (outputs[i] && optout_make_parent_dirs(outputs[i]) != 0) {
            optout_log(LOG_ERR, "cannot create the directory of %s: %s", outputs[i], strerror(errno));
            return -1;
        }
    optout_apply_stats before = *stats;
    if (optout_apply_tags(cfg, tags, in, out, optout_shard_format_of_name(out), removed, stats, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return -1;
    }
    if (stats->duplicate_matches > before.duplicate_matches)
        optout_log(LOG_WARNING, "%s: %llu documents removed by an id tagged fewer times (duplicate ids in the shard)",
                   in, (unsigned long long)(stats->duplicate_matches - before.duplicate_matches));
    return 0;
}

/* Every input against every shard this run of apply-tags writes, by identity (files.h): an --out
 * that is the corpus directory with --keep-format would overwrite the inputs. 0, or -1 after a
 * message (nothing written yet). */
static int check_outputs(const optout_inputs *list, const char *out, const char *removed, int keep_format,
                         int output_format) {
    optout_file_arg *files = calloc(3 * list->count + 1, sizeof *files);
    char **paths = calloc(2 * list->count + 1, sizeof *paths);
    int rc = -1;
    size_t n = 0;
    if (!files || !paths) {
        optout_log(LOG_ERR, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < list->count; i++) {
        const optout_input *x = &list->items[i];
        char name[4096];
        optout_shards_name(x->output_name, keep_format, output_format, name, sizeof name);
        files[n++] = (optout_file_arg){"input", x->path, 0};
        if (asprintf(&paths[2 * i], "%s/%s", out, name) < 0 ||
            (removed && asprintf(&paths[2 * i + 1], "%s/%s", removed, name) < 0)) {
            paths[2 * i] = paths[2 * i + 1] = NULL;
            optout_log(LOG_ERR, "out of memory");
            goto out;
        }
        files[n++] = (optout_file_arg){"--out", paths[2 * i], 1};
        if (removed) files[n++] = (optout_file_arg){"--removed", paths[2 * i + 1], 1};
    }
    char err[8800];
    if (optout_files_check(files, n, err, sizeof err) != 0) optout_log(LOG_ERR, "apply-tags: %s", err);
    else rc = 0;
out:
    for (size_t i = 0; paths && i < 2 * list->count; i++) free(paths[i]);
    free(paths);
    free(files);
    return rc;
}

/* `--run`: every input of the list, `jobs` at a time, with progress and a summary on stderr. */
struct apply_job {
    const optout_apply_config *cfg;
    const optout_inputs *list;
    const char *run, *out, *removed;
    int keep_format, from_corpus, tty;
    pthread_mutex_t lock;
    size_t next, done, failed;
    optout_apply_stats stats;
    struct timespec started;
};

static double seconds_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One input: 0, or -1 after a message. */
static int apply_input(const struct apply_job *j, const optout_input *x, optout_apply_stats *stats) {
    char name[4096], tags_path[8400], out_path[8400], removed_path[8400];
    optout_tags_name(x->output_name, name, sizeof name);
    snprintf(tags_path, sizeof tags_path, "%s/tags/%s", j->run, name);
    optout_shards_name(x->output_name, j->keep_format, j->cfg->output_format, name, sizeof name);
    snprintf(out_path, sizeof out_path, "%s/%s", j->out, name);
    snprintf(removed_path, sizeof removed_path, "%s/%s", j->removed ? j->removed : "", name);
    struct stat st;
    if (!j->from_corpus && (stat(x->path, &st) != 0 || (uint64_t)st.st_size != x->size ||
                            optout_mtime_ns(&st) != x->mtime_ns)) {
        optout_log(LOG_ERR, "%s: %s since the tag run", x->path, errno == ENOENT ? "gone" : "changed");
        return -1;
    }
    if (access(tags_path, F_OK) != 0) {
        optout_log(LOG_ERR, "%s: no tags file %s (is the tag run complete?)", x->path, tags_path);
        return -1;
    }
    return one_shard(j->cfg, tags_path, x->path, j->out ? out_path : NULL, j->removed ? removed_path : NULL, stats);
}

static void show_apply_progress(struct apply_job *j) {
    if (!j->tty) return;
    const optout_apply_stats *s = &j->stats;
    fprintf(stderr, "\r\033[Kapply-tags %zu/%zu shards%s, %llu docs, %llu removed, %.1fs", j->done, j->list->count,
            j->failed ? " (some failed)" : "", (unsigned long long)s->docs_in, (unsigned long long)s->docs_removed,
            seconds_since(&j->started));
    fflush(stderr);
}

static void *apply_thread(void *arg) {
    struct apply_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->list->count) return NULL;
        optout_apply_stats mine = {0};
        int bad = apply_input(j, &j->list->items[i], &mine) != 0;
        pthread_mutex_lock(&j->lock);
        add_stats(&j->stats, &mine);
        j->done++;
        j->failed += (size_t)bad;
        show_apply_progress(j);
        pthread_mutex_unlock(&j->lock);
    }
}

/* The number of inputs that failed; the counts into *stats. */
static size_t apply_all(struct apply_job *j, unsigned jobs, optout_apply_stats *stats) {
    pthread_t threads[256];
    unsigned n = 0;
    if (jobs > j->list->count) jobs = j->list->count ? (unsigned)j->list->count : 1;
    pthread_mutex_init(&j->lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &j->started);
    for (unsigned t = 1; t < jobs && t < 256; t++)
        if (pthread_create(&threads[n], NULL, apply_thread, j) == 0) n++;
    apply_thread(j); /* this thread too: with one job, or when no thread could start, all alone */
    for (unsigned t = 0; t < n; t++) pthread_join(threads[t], NULL);
    pthread_mutex_destroy(&j->lock);
    if (j->tty) fputs("\r\033[K", stderr);
    const optout_apply_stats *s = &j->stats;
    fprintf(stderr, "optout: apply-tags: %zu of %zu shards applied%s, %llu of %llu documents removed (%.2f%%), %.1fs\n",
            j->done - j->failed, j->list->count, j->failed ? " (see the errors above)" : "",
            (unsigned long long)s->docs_removed, (unsigned long long)s->docs_in,
            s->docs_in ? 100.0 * (double)s->docs_removed / (double)s->docs_in : 0.0, seconds_since(&j->started));
    add_stats(stats, s);
    return j->failed;
}

/* The command line, parsed and checked. */
struct apply_args {
    const char *tags, *in, *out, *removed, *run, *stats_path;
    const char **corpus; /* --corpus values (argc slots; freed by the caller) */
    size_t corpus_count;
    int keep_format, format_given, level_given;
    unsigned jobs;
    optout_apply_config cfg;
};

/* Parses and checks the command line into *a. -1 to go on, else the exit status (logged). */
static int parse_args(int argc, char **argv, struct apply_args *a) {
    enum { O_TAGS = 256, O_IN, O_OUT, O_REMOVED, O_RUN, O_CORPUS, O_KEEP, O_LEVEL, O_MAXLINE, O_STATS, O_JOBS,
           O_FORMAT, O_CODEC };
    static const struct option options[] = {
        {"tags", required_argument, NULL, O_TAGS},       {"in", required_argument, NULL, O_IN},
        {"out", required_argument, NULL, O_OUT},         {"removed", required_argument, NULL, O_REMOVED},
        {"run", required_argument, NULL, O_RUN},         {"corpus", required_argument, NULL, O_CORPUS},
        {"keep-format", no_argument, NULL, O_KEEP},      {"level", required_argument, NULL, O_LEVEL},
        {"max-line", required_argument, NULL, O_MAXLINE}, {"stats", required_argument, NULL, O_STATS},
        {"jobs", required_argument, NULL, O_JOBS},
        {"output-format", required_argument, NULL, O_FORMAT}, {"parquet-compression", required_argument, NULL, O_CODEC},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
    };
    int opt;
    unsigned long long number;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case O_TAGS: a->tags = optarg; break;
        case O_IN: a->in = optarg; break;
        case O_OUT: a->out = optarg; break;
        case O_REMOVED: a->removed = optarg; break;
        case O_RUN: a->run = optarg; break;
        case O_CORPUS: a->corpus[a->corpus_count++] = optarg; break;
        case O_KEEP: a->keep_format = 1; break;
        case O_STATS: a->stats_path = optarg; break;
        case O_LEVEL:
            if (parse_positive("--level", optarg, 19, &number) != 0) return OPTOUT_EXIT_USAGE;
            a->cfg.level = (int)number;
            a->level_given = 1;
            break;
        case O_FORMAT:
            if (output_format_parse(optarg, &a->cfg.output_format) != 0) return OPTOUT_EXIT_USAGE;
            a->format_given = 1;
            break;
        case O_CODEC: a->cfg.parquet_compression = optarg; break;
        case O_MAXLINE:
            if (parse_positive("--max-line", optarg, (unsigned long long)SIZE_MAX / 2, &number) != 0)
                return OPTOUT_EXIT_USAGE;
            a->cfg.max_line = (size_t)number;
            break;
        case O_JOBS:
            if (parse_positive("--jobs", optarg, 256, &number) != 0) return OPTOUT_EXIT_USAGE;
            a->jobs = (unsigned)number;
            break;
        case 'h': apply_usage(stdout); return OPTOUT_EXIT_OK;
        default: return cli_option_error("apply-tags", opt, argv);
        }
    }
    if (optind < argc) {
        optout_log(LOG_ERR, "apply-tags: unexpected argument '%s'", argv[optind]);
        return OPTOUT_EXIT_USAGE;
    }
    if (!a->out || !a->run == !a->tags || (a->tags && (!a->in || a->corpus_count || a->keep_format)) ||
        (a->run && a->in)) {
        optout_log(LOG_ERR, "apply-tags: either --tags, --in and --out, or --run and --out");
        apply_usage(stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if ((a->run && cli_require_path("apply-tags", "--run", a->run, 0)) ||
        (a->tags && (cli_require_path("apply-tags", "--tags", a->tags, 0) ||
                     cli_require_path("apply-tags", "--in", a->in, 0))))
        return OPTOUT_EXIT_USAGE;
    return -1;
}

/* --tags FILE|DIR --in SHARD: one shard. An exit status. */
static int apply_shard(struct apply_args *a) {
    optout_apply_stats stats = {0};
    const char *tags = a->tags;
    char path[4200];
    struct stat st;
    if (stat(tags, &st) == 0 && S_ISDIR(st.st_mode)) {
        const char *base = strrchr(a->in, '/');
        char name[4096];
        optout_tags_name(base ? base + 1 : a->in, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", tags, name);
        tags = path;
    }
    const optout_file_arg files[] = {{"--tags", tags, 0},         {"--in", a->in, 0}, {"--out", a->out, 1},
                                     {"--removed", a->removed, 1}, {"--stats", a->stats_path, 1}};
    char ferr[8800];
    if (optout_files_check(files, sizeof files / sizeof *files, ferr, sizeof ferr) != 0) {
        optout_log(LOG_ERR, "apply-tags: %s", ferr);
        return OPTOUT_EXIT_USAGE;
    }
    int rc = one_shard(&a->cfg, tags, a->in, a->out, a->removed, &stats) == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
    if (a->stats_path && write_stats(a->stats_path, &stats, 1, rc != OPTOUT_EXIT_OK) != 0) {
        rc = OPTOUT_EXIT_FAILURE;
    }
    return rc;
}

/* --run DIR: every shard of a tag-mode run (its plan says it was one and lists the inputs, unless
 * --corpus names them). An exit status. */
static int apply_run(struct apply_args *a) {
    optout_apply_stats stats = {0};
    optout_inputs inputs = {0};
    optout_plan plan = {0};
    unsigned long long number;
    int rc = OPTOUT_EXIT_USAGE;
    char err[OPTOUT_RUNDIR_ERR_LEN];
    if (optout_plan_read(a->run, &plan, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    const char *output = optout_plan_get(&plan, "output"), *keep = optout_plan_get(&plan, "keep-format");
    if (!output || strcmp(output, "tags") != 0) {
        optout_log(LOG_ERR, "%s is not a tag-mode run (its plan has no 'option output tags'): nothing to apply",
                   a->run);
        goto done;
    }
    if (keep && strcmp(keep, "yes") == 0) a->keep_format = 1;
    /* the run's output format, codec and level: the outputs are what its full run would write */
    const char *format = optout_plan_get(&plan, "output-format"), *codec = optout_plan_get(&plan, "parquet-compression");
    const char *level = optout_plan_get(&plan, "level");
    if (!a->format_given && format && output_format_parse(format, &a->cfg.output_format) != 0) goto done;
    if (!a->cfg.parquet_compression && codec && codec[0]) a->cfg.parquet_compression = codec;
    if (!a->level_given && level && level[0] && parse_positive("the run's level", level, 19, &number) == 0)
        a->cfg.level = (int)number;
    if (a->removed && strcmp(a->removed, a->out) == 0) {
        optout_log(LOG_ERR, "apply-tags: --out and --removed must be different directories");
        goto done;
    }
    if (a->corpus_count && optout_inputs_expand(a->corpus, a->corpus_count, &inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "%s", err);
        goto done;
    }
    const optout_inputs *list = a->corpus_count ? &inputs : &plan.inputs;
    if (check_outputs(list, a->out, a->removed, a->keep_format, a->cfg.output_format) != 0) goto done;
    struct apply_job job = {.cfg = &a->cfg, .list = list, .run = a->run, .out = a->out, .removed = a->removed,
                            .keep_format = a->keep_format, .from_corpus = a->corpus_count > 0, .tty = isatty(2)};
    size_t failed = apply_all(&job, a->jobs, &stats);
    rc = failed ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_OK;
    if (failed) optout_log(LOG_ERR, "apply-tags: %zu of %zu shards failed", failed, list->count);
    if (a->stats_path && write_stats(a->stats_path, &stats, list->count, failed) != 0) {
        rc = OPTOUT_EXIT_FAILURE;
    }
done:
    optout_inputs_free(&inputs);
    optout_plan_free(&plan);
    return rc;
}

int cmd_apply_tags(int argc, char **argv) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct apply_args a = {.jobs = cores < 1 ? 1 : cores > 256 ? 256 : (unsigned)cores};
    a.corpus = calloc((size_t)argc + 1, sizeof *a.corpus);
    if (!a.corpus) return OPTOUT_EXIT_FAILURE;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) rc = a.tags ? apply_shard(&a) : apply_run(&a);
    free(a.corpus);
    return rc;
}
