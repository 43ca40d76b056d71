/* cmd_status.c — `optout status --broker ENDPOINT | --dir DIR`: a run's state as JSON on stdout.
 *
 * A live broker (its DIR/broker.lock held, or --broker) is asked: tasks per state, workers,
 * counts; exit 1 when it does not answer within 2 s. A run directory without a live broker is
 * read instead: its journal (what was published or failed, read from a copy: status never
 * changes a run directory, not even to cut a torn tail), its report.json and its plan, and the
 * answer says complete, failed or interrupted, with the figures, overall and per stage (the
 * broker's DIR/stages.json maps the journal's task ids to stages; the filter stage's documents are
 * the published tasks' statistics, summed from the journal); exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "optout/curve.h"
#include "optout/journal.h"
#include "optout/log.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/util.h"
#include "records.h" /* the broker's journal records, read with its own decoder */

/* 1 when a broker holds DIR/broker.lock (it lives), 0 when nobody does. */
static int broker_alive(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/broker.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd);
    return busy;
}

/* The broker's stage layout (records.h RECORD_STAGES_FILE): which task ids each stage has. */
#define STATUS_STAGES_MAX 8
struct stage_counts {
    char name[32];
    uint64_t first, tasks;
    size_t published, failed;
};

struct journal_counts {
    size_t published, failed;
    struct stage_counts stages[STATUS_STAGES_MAX];
    size_t stage_count;  /* 0: no stages.json (a run directory of an earlier optout) */
    size_t filter_stage; /* the stage whose statistics are documents ("filter") */
    void **accepted;     /* per task id: the last accepted attempt's statistics, until published */
    size_t *accepted_len;
    uint64_t task_count;
    optout_stats *docs;  /* the published filter tasks' statistics, summed */
};

/* DIR/stages.json into c (nothing when it is missing or malformed: no per-stage figures). */
static void read_stages(const char *dir, struct journal_counts *c) {
    char path[4200];
    size_t len;
    snprintf(path, sizeof path, "%s/" RECORD_STAGES_FILE, dir);
    char *text = optout_read_file(path, (size_t)1 << 20, &len);
    unsigned long long total = 0;
    const char *p = text ? strstr(text, "\"stages\": [") : NULL;
    if (!p || sscanf(text, "{\"tasks\": %llu", &total) != 1 || total > ((uint64_t)1 << 32)) {
        free(text);
        return;
    }
    while (c->stage_count < STATUS_STAGES_MAX && (p = strstr(p, "{\"name\": \"")) != NULL) {
        struct stage_counts *st = &c->stages[c->stage_count];
        unsigned long long first, tasks;
        if (sscanf(p, "{\"name\": \"%31[a-z-]\", \"first\": %llu, \"tasks\": %llu}", st->name, &first, &tasks) != 3 ||
            first + tasks > total) {
            c->stage_count = 0; /* not the broker's file: no per-stage figures rather than wrong ones */
            break;
        }
        st->first = first, st->tasks = tasks;
        if (strcmp(st->name, "filter") == 0) c->filter_stage = c->stage_count;
        c->stage_count++;
        p++;
    }
    free(text);
    c->task_count = c->stage_count ? total : 0;
    if (c->task_count) {
        c->accepted = calloc(c->task_count, sizeof *c->accepted);
        c->accepted_len = calloc(c->task_count, sizeof *c->accepted_len);
        c->docs = malloc(sizeof *c->docs);
        if (!c->accepted || !c->accepted_len || !c->docs) optout_oom("status: the journal's tasks");
        optout_stats_init(c->docs);
    }
}

static void free_counts(struct journal_counts *c) {
    for (uint64_t i = 0; c->accepted && i < c->task_count; i++) free(c->accepted[i]);
    free(c->accepted);
    free(c->accepted_len);
    free(c->docs);
}

static struct stage_counts *stage_of(struct journal_counts *c, uint64_t task) {
    for (size_t s = 0; s < c->stage_count; s++)
        if (task >= c->stages[s].first && task < c->stages[s].first + c->stages[s].tasks) return &c->stages[s];
    return NULL;
}

static int count_record(const void *payload, size_t len, uint64_t offset, void *arg) {
    (void)offset;
    struct journal_counts *c = arg;
    struct record r;
    msgpack_unpacked keep;
    msgpack_unpacked_init(&keep);
    if (record_decode(payload, len, &r, &keep) == 0) {
        struct stage_counts *st = r.kind == RECORD_EPOCH ? NULL : stage_of(c, r.task);
        int filter = st && st == &c->stages[c->filter_stage];
        if (r.kind == RECORD_PUBLISHED) c->published++;
        else if (r.kind == RECORD_FAILED) c->failed++;
        if (st && r.kind == RECORD_PUBLISHED) st->published++;
        if (st && r.kind == RECORD_FAILED) st->failed++;
        if (filter && r.kind == RECORD_ACCEPTED) { /* the last accepted attempt is the one published */
            free(c->accepted[r.task]);
            c->accepted[r.task] = r.stats_len ? malloc(r.stats_len) : NULL;
            c->accepted_len[r.task] = c->accepted[r.task] ? r.stats_len : 0;
            if (c->accepted[r.task]) memcpy(c->accepted[r.task], r.stats, r.stats_len);
        }
        if (filter && r.kind == RECORD_PUBLISHED && c->accepted[r.task]) {
            /* agent indices are not checked against a list here: only the totals are read */
            (void)optout_stats_decode_add(c->accepted[r.task], c->accepted_len[r.task], OPTOUT_AGENTS_MAX, c->docs);
            free(c->accepted[r.task]);
            c->accepted[r.task] = NULL;
        }
    }
    msgpack_unpacked_destroy(&keep);
    return 0;
}

/* Counts DIR/journal's records, replayed from a private copy (optout_journal_open cuts a torn
 * tail: that is the broker's job on its next start, not ours). 0, or -1 after a message. */
static int journal_counts(const char *dir, struct journal_counts *c) {
    char path[4200], copy[] = "/tmp/optout-status-journal.XXXXXX", err[OPTOUT_JOURNAL_ERR_LEN];
    snprintf(path, sizeof path, "%s/journal", dir);
    size_t len;
    char *data = optout_read_file(path, (size_t)1 << 34, &len);
    if (!data) {
        if (errno == ENOENT) return 0; /* planned, nothing journaled yet */
        optout_log(LOG_ERR, "status: %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = mkstemp(copy), rc = -1;
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        optout_log(LOG_ERR, "status: a copy of %s: %s", path, strerror(errno));
    } else {
        optout_journal *j = optout_journal_open(copy, count_record, c, NULL, err, sizeof err);
        if (!j) optout_log(LOG_ERR, "status: %s: %s", path, err);
        else rc = 0;
        if (j) optout_journal_close(j);
    }
    if (fd >= 0) {
        close(fd);
        unlink(copy);
    }
    free(data);
    return rc;
}

/* "stages": per stage the tasks, those published and failed (the journal's), and for the filter
 * stage the documents of its published tasks (text 0: the JSON member on stdout; text 1: a line
 * per stage on stderr). */
static void print_stages(const struct journal_counts *c, int text) {
    if (!c->stage_count) return;
    if (!text) fputs(", \"stages\": {", stdout);
    for (size_t s = 0; s < c->stage_count; s++) {
        const struct stage_counts *st = &c->stages[s];
        int filter = s == c->filter_stage && c->docs;
        const optout_bucket *t = filter ? &c->docs->total : NULL;
        if (!text) {
            printf("%s\"%s\": {\"tasks\": %llu, \"published\": %zu, \"failed\": %zu", s ? ", " : "", st->name,
                   (unsigned long long)st->tasks, st->published, st->failed);
            if (t)
                printf(", \"docs_in\": %llu, \"docs_removed\": %llu, \"docs_removed_share\": %.6f",
                       (unsigned long long)t->docs_in, (unsigned long long)t->docs_removed,
                       t->docs_in ? (double)t->docs_removed / (double)t->docs_in : 0.0);
            fputs("}", stdout);
            continue;
        }
        if (!st->tasks) {
            fprintf(stderr, "  %-12s skipped\n", st->name);
            continue;
        }
        fprintf(stderr, "  %-12s %zu/%llu tasks done, %zu failed", st->name, st->published,
                (unsigned long long)st->tasks, st->failed);
        if (t)
            fprintf(stderr, "; %llu documents, %llu removed (%.2f%%)", (unsigned long long)t->docs_in,
                    (unsigned long long)t->docs_removed,
                    t->docs_in ? 100.0 * (double)t->docs_removed / (double)t->docs_in : 0.0);
        fputc('\n', stderr);
    }
    if (!text) fputs("}", stdout);
}

/* A run directory without a live broker. */
static int status_of_dir(const char *dir) {
    char path[4200], err[1024];
    size_t len;
    optout_inputs inputs; /* the plan's inputs: how many filter tasks the run has */
    if (optout_plan_read_inputs(dir, &inputs, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "status: %s is not a run directory (%s), and no broker runs there", dir, err);
        return OPTOUT_EXIT_USAGE;
    }
    size_t ninputs = inputs.count;
    optout_inputs_free(&inputs);
    struct journal_counts jc = {0};
    read_stages(dir, &jc);
    if (journal_counts(dir, &jc) != 0) {
        free_counts(&jc);
        return OPTOUT_EXIT_FAILURE;
    }
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *report = optout_read_file(path, (size_t)64 << 20, &len);
    int complete = report && strstr(report, "\"complete\": true") != NULL;
    const char *failed_list = report ? strstr(report, "\"failed_tasks\": [") : NULL;
    int failed = report && !complete && failed_list && failed_list[17] != ']';
    const char *state = complete ? "complete" : failed ? "failed" : "interrupted";
    unsigned long long docs = cli_json_u64(report, "docs_in"), removed = cli_json_u64(report, "docs_removed"),
                       tokens = cli_json_u64(report, "tokens_in"), tremoved = cli_json_u64(report, "tokens_removed"),
                       tasks = cli_json_u64(report, "tasks");
    printf("{\"state\": \"%s\", \"broker\": null, \"inputs\": %zu, \"tasks\": %llu, \"published\": %zu, "
           "\"failed\": %zu, \"report\": %s",
           state, ninputs, tasks, jc.published, jc.failed, report ? "true" : "false");
    if (report)
        printf(", \"docs_in\": %llu, \"docs_removed\": %llu, \"docs_removed_share\": %.6f, \"tokens_in\": %llu, "
               "\"tokens_removed\": %llu, \"tokens_removed_share\": %.6f",
               docs, removed, docs ? (double)removed / (double)docs : 0.0, tokens, tremoved,
               tokens ? (double)tremoved / (double)tokens : 0.0);
    print_stages(&jc, 0);
    puts("}");
    if (report && (complete || failed))
        fprintf(stderr, "optout: %s: %s: %zu tasks published, %zu failed; %llu of %llu documents removed (%.2f%%)%s\n",
                dir, state, jc.published, jc.failed, removed, docs, docs ? 100.0 * (double)removed / (double)docs : 0.0,
                failed ? "; rerun the same command to retry the failed tasks" : "");
    else
        fprintf(stderr,
                "optout: %s: interrupted (no broker runs, the run is not complete): %zu tasks published, "
                "%zu failed so far; rerun the same command to resume\n",
                dir, jc.published, jc.failed);
    print_stages(&jc, 1);
    free_counts(&jc);
    free(report);
    return OPTOUT_EXIT_OK;
}

int cmd_status(int argc, char **argv) {
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"dir", required_argument, NULL, 'd'},
        {"curve-secret-file", required_argument, NULL, 'K'},
        {"curve-server-key", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char endpoint[4200] = "";
    const char *curve_secret = NULL, *curve_server = NULL, *dir = NULL;
    optout_curve_client curve;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'b': snprintf(endpoint, sizeof endpoint, "%s", optarg); break;
        case 'd':
            dir = optarg;
            snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", optarg);
            break;
        case 'K': curve_secret = optarg; break;
        case 'S': curve_server = optarg; break;
        case 'h':
            puts(
                "usage: optout status --broker ENDPOINT | --dir RUN_DIR\n"
                "                     [--curve-secret-file FILE --curve-server-key FILE|KEY]\n"
                "\n"
                "options:\n"
                "  --broker ENDPOINT                  ask the broker at tcp://HOST:PORT or ipc:///PATH (default: "
                "none)\n"
                "  --dir RUN_DIR                      the run directory: its broker when one runs, else the directory\n"
                "                                     itself (default: none)\n"
                "  --curve-secret-file FILE           this client's CURVE secret key (default: none, no CURVE)\n"
                "  --curve-server-key FILE|KEY        the broker's CURVE public key, a file or the key (default: "
                "none)\n"
                "  -h, --help                         this text\n"
                "\n"
                "Prints the run's state as JSON on stdout. A live broker answers: epoch, tasks per state,\n"
                "workers, documents. Without one, --dir reads the run directory (journal, report.json,\n"
                "plan) and says \"complete\", \"failed\" (some task failed: rerun to retry) or \"interrupted\"\n"
                "(rerun to resume), with the tasks published and failed and the documents removed, and per\n"
                "stage its tasks done and failed (the filter's documents from the journal); lines for\n"
                "people on stderr. A CURVE broker answers only a client whose key pair is in its\n"
                "allow-list. Exit status: 0 answered, 1 the broker did not answer within 2 s, 2 usage\n"
                "error (also: RUN_DIR is missing or not a run directory).");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("status", opt, argv);
        }
    }
    if (!endpoint[0] || optind < argc) {
        optout_log(LOG_ERR, "status: --broker ENDPOINT or --dir RUN_DIR is required");
        return OPTOUT_EXIT_USAGE;
    }
    if (dir) {
        struct stat st;
        int found = stat(dir, &st) == 0;
        if (!found || !S_ISDIR(st.st_mode)) {
            optout_log(LOG_ERR, "status: --dir %s: %s", dir, found ? "not a directory" : strerror(errno));
            return OPTOUT_EXIT_USAGE;
        }
        if (!broker_alive(dir)) return status_of_dir(dir);
    }
    if (curve_secret || curve_server) {
        char err[600];
        if (optout_curve_client_load(curve_secret, curve_server, &curve, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "status: %s", err);
            return curve_secret && curve_server ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_USAGE;
        }
    }
    void *ctx = zmq_ctx_new(), *sock = cli_status_socket(ctx);
    int rc = OPTOUT_EXIT_FAILURE;
    char text[4096];
    if (sock && (!curve_secret || optout_curve_client_setup(sock, &curve) == 0) && zmq_connect(sock, endpoint) == 0 &&
        cli_broker_status(sock, 2000, text, sizeof text) == 0) {
        puts(text);
        rc = OPTOUT_EXIT_OK;
    } else {
        optout_log(LOG_ERR, "no answer from a broker at %s%s", endpoint,
                   curve_secret ? " (with CURVE: is this key in its allow-list, and the server key its?)"
                                : " (if it uses CURVE: --curve-secret-file and --curve-server-key)");
    }
    if (sock) zmq_close(sock);
    if (ctx) zmq_ctx_term(ctx);
    return rc;
}
