/* test_worker.c — the real optout-worker against a minimal broker written here (libzmq + msg.h).
 *
 * usage: test_worker PATH/TO/optout-worker    (exit 0: pass, 1: fail; about 12 s)
 *
 * A ROUTER bound on ipc:// in a temporary directory plays the broker:
 *  1. READY arrives with the worker's id and its credit;
 *  2. a TASK for a small generated shard (JSON lines + a robots directory) gives an ok RESULT whose
 *     staged files exist with the reported size and SHA-256, with the right kept/removed split and
 *     statistics, followed by CREDIT c=1; then ACK;
 *  3. failures come back as ok=0 with a clear error: an input changed since planning, an unknown
 *     root, a truncated gzip input (the error names the file and the byte offset);
 *  3b. paths stay in their roots: an input that is a symbolic link (or under a linked directory)
 *     leading out of its root fails with a message, a link inside the root works, and a TASK whose
 *     path has a '..' component is rejected as a whole (no RESULT, a warning in the worker's log);
 *  4. heartbeats arrive while the worker is idle;
 *  5. a broker silent for more than 5 s makes the worker reconnect (a new READY, new routing id);
 *  6. a heartbeat of a newer epoch makes the worker say READY again with that epoch; a TASK of a
 *     newer epoch is simply run (the broker has registered the worker);
 *  7. SIGTERM while one task runs (its input is a FIFO the test holds) and one is queued: HANDBACK
 *     of the queued one, heartbeats continue while the running one finishes, its RESULT, BYE,
 *     exit status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "optout/msg.h"
#include "optout/rundir.h"
#include "optout/stats.h"
#include "optout/util.h"

#define EPOCH 7

static char tmp[256];
static pid_t child = -1;
static void *router;

/* The worker's current routing id. */
static char peer[256];
static size_t peer_len;

/* What the worker sent, counted by type. */
static unsigned seen[OPTOUT_MSG_STATUS + 1];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void) {
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (tmp[0]) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void dump_log(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/worker.log", tmp);
    size_t len;
    char *text = optout_read_file(path, 1 << 20, &len);
    if (text) {
        fprintf(stderr, "---- worker log ----\n%s---- end of worker log ----\n", text);
        free(text);
    }
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    dump_log();
    cleanup();
    exit(1);
}

#define CHECK(cond, ...)                                                                                           \
    do {                                                                                                           \
        if (!(cond)) fail(__VA_ARGS__);                                                                            \
    } while (0)

static void write_file(const char *rel, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    CHECK(optout_make_parent_dirs(path) == 0, "mkdir for %s: %s", path, strerror(errno));
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0, "writing %s", path);
}

static char *read_text(const char *rel, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    char *t = optout_read_file(path, 1 << 20, len);
    CHECK(t, "reading %s: %s", path, strerror(errno));
    return t;
}

/* ---- the fake broker ----------------------------------------------------------------------- */

static int64_t last_sent_any; /* when the test last sent the worker anything */

static void send_to(const optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    CHECK(optout_msg_encode(m, &buf, &len, err) == 0, "encoding %s: %s", optout_msg_type_name(m->type), err);
    CHECK(zmq_send(router, peer, peer_len, ZMQ_SNDMORE) >= 0 && zmq_send(router, buf, len, 0) >= 0,
          "sending %s: %s", optout_msg_type_name(m->type), zmq_strerror(zmq_errno()));
    free(buf);
    last_sent_any = optout_now_ms();
}

static void send_simple(optout_msg_type type, uint64_t epoch) {
    static optout_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.epoch = epoch;
    send_to(&m);
}

/* A received message: the decoded form points into `frame`. */
typedef struct {
    optout_msg m;
    char frame[1 << 20]; /* the worker's messages are small */
    char id[256];
    size_t id_len;
} received;

static received rx;
static int64_t last_hb_sent;
static uint64_t hb_epoch = EPOCH;

/* Receives one message within timeout_ms (1: got it into rx; 0: timeout). With keepalive, sends
 * the worker a heartbeat every second meanwhile. */
static int recv_one(long timeout_ms, int keepalive) {
    int64_t deadline = optout_now_ms() + timeout_ms;
    for (;;) {
        int64_t now = optout_now_ms();
        if (keepalive && peer_len && now - last_hb_sent >= 1000) {
            send_simple(OPTOUT_MSG_HEARTBEAT, hb_epoch);
            last_hb_sent = now;
        }
        if (now >= deadline) return 0;
        long wait = (long)(deadline - now);
        if (keepalive && wait > 200) wait = 200;
        zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, wait);
        CHECK(n >= 0 || zmq_errno() == EINTR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        if (n <= 0) continue;
        int idn = zmq_recv(router, rx.id, sizeof rx.id, 0);
        int more;
        size_t ms = sizeof more;
        zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ms);
        CHECK(idn > 0 && more, "expected a routing id frame, then the message");
        int len = zmq_recv(router, rx.frame, sizeof rx.frame, 0);
        CHECK(len >= 0 && (size_t)len <= sizeof rx.frame, "frame too large or receive error");
        zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ms);
        CHECK(!more, "the worker sent a multi-frame message");
        rx.id_len = (size_t)idn;
        char err[OPTOUT_MSG_ERR_LEN];
        CHECK(optout_msg_decode(rx.frame, (size_t)len, &rx.m, err) == 0, "the worker sent a bad frame: %s", err);
        seen[rx.m.type]++;
        return 1;
    }
}

/* Receives until `ms` have passed, failing on anything but heartbeats. */
static void only_heartbeats_for(long ms, const char *when) {
    int64_t deadline = optout_now_ms() + ms;
    for (long left; (left = (long)(deadline - optout_now_ms())) > 0;)
        if (recv_one(left, 1))
            CHECK(rx.m.type == OPTOUT_MSG_HEARTBEAT, "%s the worker sent %s", when, optout_msg_type_name(rx.m.type));
}

/* Waits for a message of `type`, skipping heartbeats and credits (counted in seen[]). */
static optout_msg *expect(optout_msg_type type, long timeout_ms, int keepalive) {
    int64_t deadline = optout_now_ms() + timeout_ms;
    for (;;) {
        long left = (long)(deadline - optout_now_ms());
        CHECK(left > 0 && recv_one(left, keepalive), "timed out waiting for %s", optout_msg_type_name(type));
        if (rx.m.type == type) return &rx.m;
        CHECK(rx.m.type == OPTOUT_MSG_HEARTBEAT || rx.m.type == OPTOUT_MSG_CREDIT,
              "expected %s, got %s", optout_msg_type_name(type), optout_msg_type_name(rx.m.type));
    }
}

static void adopt_peer(void) {
    memcpy(peer, rx.id, rx.id_len);
    peer_len = rx.id_len;
}

/* ---- tasks --------------------------------------------------------------------------------- */

static void *config_buf;
static size_t config_len;

static void make_config(void) {
    static optout_run_config c;
    c.mode = OPTOUT_MODE_RFC9309;
    c.host_key = OPTOUT_HOSTKEY_CANONICAL;
    snprintf(c.agents[0], sizeof c.agents[0], "GPTBot");
    c.agent_count = 1;
    snprintf(c.robots_dir.root, sizeof c.robots_dir.root, "data");
    snprintf(c.robots_dir.rel, sizeof c.robots_dir.rel, "robots");
    char err[OPTOUT_MSG_ERR_LEN];
    CHECK(optout_run_config_encode(&c, &config_buf, &config_len, err) == 0, "encoding the config: %s", err);
}

static void send_task(uint64_t id, const char *root, const char *rel, const char *output, int with_removed,
                      int64_t size_delta) {
    static optout_msg m;
    memset(&m, 0, sizeof m);
    char path[512];
    snprintf(path, sizeof path, "%s/data/%s", tmp, rel);
    struct stat st;
    if (stat(path, &st) != 0) memset(&st, 0, sizeof st);
    m.type = OPTOUT_MSG_TASK;
    m.epoch = hb_epoch;
    m.task = id;
    m.attempt = 1;
    m.kind = OPTOUT_TASK_FILTER;
    snprintf(m.input.root, sizeof m.input.root, "%s", root);
    snprintf(m.input.rel, sizeof m.input.rel, "%s", rel);
    m.input_size = (uint64_t)((int64_t)st.st_size + size_delta);
    m.input_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    snprintf(m.staging.root, sizeof m.staging.root, "run");
    snprintf(m.staging.rel, sizeof m.staging.rel, ".staging/%llu.%llu.1", (unsigned long long)id,
             (unsigned long long)hb_epoch);
    snprintf(m.output_name, sizeof m.output_name, "%s", output);
    m.with_removed = (uint8_t)with_removed;
    m.config = config_buf;
    m.config_len = config_len;
    send_to(&m);
}

static void check_file(uint64_t task, const optout_msg_file *f, const char *expect_name) {
    CHECK(strcmp(f->name, expect_name) == 0, "task %llu: file %s, expected %s", (unsigned long long)task, f->name,
          expect_name);
    char path[OPTOUT_MSG_PATH_MAX + 512], sha[65];
    snprintf(path, sizeof path, "%s/run/.staging/%llu.%d.1/%s", tmp, (unsigned long long)task, EPOCH, f->name);
    struct stat st;
    CHECK(stat(path, &st) == 0, "staged file %s: %s", path, strerror(errno));
    CHECK((uint64_t)st.st_size == f->size, "%s: size %lld, reported %llu", path, (long long)st.st_size,
          (unsigned long long)f->size);
    CHECK(optout_sha256_file(path, sha) == 0 && strcmp(sha, f->sha256) == 0, "%s: SHA-256 %s, reported %s", path,
          sha, f->sha256);
}

static const char *const LINES[] = {
    "{\"url\":\"https://a.example/private/doc1\",\"text\":\"secret one\",\"language\":\"en\"}",
    "{\"url\":\"https://a.example/public/doc2\",\"text\":\"hello\",\"language\":\"en\"}",
    "{\"url\":\"https://b.example/x\",\"text\":\"no robots here\",\"language\":\"de\"}",
    "this line is not JSON",
    "{\"url\":\"https://A.Example/private/doc3\",\"text\":\"secret two\"}",
};
static const int REMOVED[] = {1, 0, 0, 0, 1};

static void make_inputs(void) {
    char shard[2048] = "";
    for (size_t i = 0; i < sizeof LINES / sizeof *LINES; i++) {
        strcat(shard, LINES[i]);
        strcat(shard, "\n");
    }
    write_file("data/shard.jsonl", shard, strlen(shard));
    const char *robots = "User-agent: GPTBot\nDisallow: /private\n\nUser-agent: *\nAllow: /\n";
    write_file("data/robots/a.example", robots, strlen(robots));
    static const unsigned char gz_header[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}; /* and no deflate data */
    write_file("data/bad.jsonl.gz", gz_header, sizeof gz_header);
    char path[512];
    snprintf(path, sizeof path, "%s/run", tmp);
    CHECK(mkdir(path, 0777) == 0, "mkdir %s", path);
}

static void start_worker(const char *binary, const char *endpoint) {
    char log[512], data[512], run[512];
    snprintf(log, sizeof log, "%s/worker.log", tmp);
    snprintf(data, sizeof data, "data=%s/data", tmp);
    snprintf(run, sizeof run, "run=%s/run", tmp);
    child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 2);
        execl(binary, binary, "--connect", endpoint, "--slots", "1", "--name", "test-worker", "--root", data,
              "--root", run, "--verbose", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
}

/* ---- the phases ---------------------------------------------------------------------------- */

static void phase_ready(void) {
    optout_msg *m = expect(OPTOUT_MSG_READY, 5000, 0);
    CHECK(strcmp(m->worker, "test-worker") == 0, "READY from '%s', expected test-worker", m->worker);
    CHECK(m->credit == 1, "READY with credit %u, expected 1 (one slot)", m->credit);
    CHECK(m->epoch == 0, "READY with epoch %llu before the worker saw any", (unsigned long long)m->epoch);
    adopt_peer();
    printf("ok: READY (credit %u)\n", m->credit);
}

static void phase_filter(void) {
    send_task(1, "data", "shard.jsonl", "shard.jsonl", 1, 0);
    optout_msg *m = expect(OPTOUT_MSG_RESULT, 10000, 1);
    CHECK(m->task == 1 && m->attempt == 1 && m->epoch == EPOCH, "RESULT for %llu/%llu epoch %llu",
          (unsigned long long)m->task, (unsigned long long)m->attempt, (unsigned long long)m->epoch);
    CHECK(m->ok, "task 1 failed: %s", m->error);
    CHECK(m->file_count == 2, "task 1: %zu files, expected 2", m->file_count);
    check_file(1, &m->files[0], "shards/shard.jsonl");
    check_file(1, &m->files[1], "removed/shard.jsonl");

    optout_stats *stats = calloc(1, sizeof *stats);
    CHECK(stats, "out of memory");
    optout_stats_init(stats);
    CHECK(optout_stats_decode_add(m->stats, m->stats_len, 1, stats) == 0, "task 1: bad stats");
    CHECK(stats->total.docs_in == 5 && stats->total.docs_removed == 2 && stats->bad_json == 1 &&
              stats->by_agent[0].docs_removed == 2,
          "task 1 stats: docs_in %llu removed %llu bad_json %llu GPTBot %llu",
          (unsigned long long)stats->total.docs_in, (unsigned long long)stats->total.docs_removed,
          (unsigned long long)stats->bad_json, (unsigned long long)stats->by_agent[0].docs_removed);
    free(stats);

    /* Kept lines byte-identical, removed ones annotated. */
    char kept_expect[2048] = "";
    for (size_t i = 0; i < sizeof LINES / sizeof *LINES; i++)
        if (!REMOVED[i]) {
            strcat(kept_expect, LINES[i]);
            strcat(kept_expect, "\n");
        }
    size_t len;
    char rel[256];
    snprintf(rel, sizeof rel, "run/.staging/1.%d.1/shards/shard.jsonl", EPOCH);
    char *kept = read_text(rel, &len);
    CHECK(strcmp(kept, kept_expect) == 0, "kept shard:\n%s\nexpected:\n%s", kept, kept_expect);
    free(kept);
    snprintf(rel, sizeof rel, "run/.staging/1.%d.1/removed/shard.jsonl", EPOCH);
    char *removed = read_text(rel, &len);
    CHECK(strstr(removed, "a.example/private/doc1") && strstr(removed, "A.Example/private/doc3") &&
              !strstr(removed, "public") && strstr(removed, "\"disallowed_user_agents\"") &&
              strstr(removed, "GPTBot"),
          "removed shard:\n%s", removed);
    free(removed);

    optout_msg *c = expect(OPTOUT_MSG_CREDIT, 3000, 1);
    CHECK(c->credit == 1 && c->epoch == EPOCH, "CREDIT %u epoch %llu after a RESULT", c->credit,
          (unsigned long long)c->epoch);
    static optout_msg ack;
    memset(&ack, 0, sizeof ack);
    ack.type = OPTOUT_MSG_ACK;
    ack.epoch = EPOCH;
    ack.task = 1;
    ack.attempt = 1;
    send_to(&ack);
    printf("ok: RESULT of task 1 (staged files, SHA-256, sizes, kept/removed split, stats), CREDIT, ACK\n");
}

static void expect_failure(uint64_t id, const char *root, const char *rel, const char *output, int64_t delta,
                           const char *want1, const char *want2) {
    send_task(id, root, rel, output, 0, delta);
    optout_msg *m = expect(OPTOUT_MSG_RESULT, 10000, 1);
    CHECK(m->task == id, "RESULT for task %llu, expected %llu", (unsigned long long)m->task, (unsigned long long)id);
    CHECK(!m->ok && m->file_count == 0, "task %llu should fail", (unsigned long long)id);
    CHECK(strstr(m->error, want1) && (!want2 || strstr(m->error, want2)), "task %llu error: '%s' (wanted '%s'%s%s)",
          (unsigned long long)id, m->error, want1, want2 ? " and " : "", want2 ? want2 : "");
    printf("ok: task %llu fails: %s\n", (unsigned long long)id, m->error);
    optout_msg *c = expect(OPTOUT_MSG_CREDIT, 3000, 1);
    CHECK(c->credit == 1, "CREDIT %u after a failed RESULT", c->credit);
}

static void phase_failures(void) {
    expect_failure(2, "data", "shard.jsonl", "changed.jsonl", 1, "input changed since planning", "shard.jsonl");
    expect_failure(3, "nope", "shard.jsonl", "x.jsonl", 0, "unknown root 'nope'", NULL);
    expect_failure(4, "data", "bad.jsonl.gz", "bad.jsonl.gz", 0, "bad.jsonl.gz", "byte 10");
}

static void phase_confinement(void) {
    char outside[512], link[512], target[512];
    snprintf(outside, sizeof outside, "%s/outside/secret.jsonl", tmp);
    CHECK(optout_make_parent_dirs(outside) == 0, "mkdir for %s", outside);
    write_file("outside/secret.jsonl", LINES[0], strlen(LINES[0]));
    snprintf(link, sizeof link, "%s/data/escape.jsonl", tmp);
    CHECK(symlink(outside, link) == 0, "symlink %s: %s", link, strerror(errno));
    snprintf(link, sizeof link, "%s/data/linkdir", tmp);
    snprintf(target, sizeof target, "%s/outside", tmp);
    CHECK(symlink(target, link) == 0, "symlink %s: %s", link, strerror(errno));
    snprintf(link, sizeof link, "%s/data/inside.jsonl", tmp);
    CHECK(symlink("shard.jsonl", link) == 0, "symlink %s: %s", link, strerror(errno));
    expect_failure(20, "data", "escape.jsonl", "escape.jsonl", 0, "outside its root", "escape.jsonl");
    expect_failure(21, "data", "linkdir/secret.jsonl", "secret.jsonl", 0, "outside its root", "linkdir/secret.jsonl");
    send_task(22, "data", "inside.jsonl", "inside.jsonl", 0, 0);
    optout_msg *m = expect(OPTOUT_MSG_RESULT, 10000, 1);
    CHECK(m->task == 22 && m->ok, "task 22 (a link inside its root) failed: %s", m->error);
    expect(OPTOUT_MSG_CREDIT, 3000, 1);
    printf("ok: a symbolic link inside the root is followed\n");

    /* '..': msg.h's encoder refuses it, so the TASK is patched after encoding */
    static optout_msg t;
    memset(&t, 0, sizeof t);
    t.type = OPTOUT_MSG_TASK;
    t.epoch = hb_epoch;
    t.task = 23;
    t.attempt = 1;
    t.kind = OPTOUT_TASK_FILTER;
    snprintf(t.input.root, sizeof t.input.root, "data");
    snprintf(t.input.rel, sizeof t.input.rel, "zz/outside/secret.jsonl");
    snprintf(t.staging.root, sizeof t.staging.root, "run");
    snprintf(t.staging.rel, sizeof t.staging.rel, ".staging/23.%llu.1", (unsigned long long)hb_epoch);
    snprintf(t.output_name, sizeof t.output_name, "secret.jsonl");
    t.config = config_buf;
    t.config_len = config_len;
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    CHECK(optout_msg_encode(&t, &buf, &len, err) == 0, "encoding task 23: %s", err);
    char *at = memmem(buf, len, "zz/outside", 10);
    CHECK(at, "task 23: the path is not in the frame");
    memcpy(at, "..", 2);
    CHECK(zmq_send(router, peer, peer_len, ZMQ_SNDMORE) >= 0 && zmq_send(router, buf, len, 0) >= 0, "sending task 23");
    free(buf);
    only_heartbeats_for(1500, "after a TASK with a '..' path,");
    size_t loglen;
    char *log = read_text("worker.log", &loglen);
    CHECK(strstr(log, "'..'"), "the worker's log does not say why the '..' TASK was rejected");
    free(log);
    char staged[512];
    snprintf(staged, sizeof staged, "%s/run/.staging/23.%llu.1", tmp, (unsigned long long)hb_epoch);
    CHECK(access(staged, F_OK) != 0, "task 23 staged something");
    printf("ok: inputs linked out of their root fail (%s); a '..' TASK is rejected unrun\n", "outside its root");
}

static void phase_heartbeats(void) {
    unsigned before = seen[OPTOUT_MSG_HEARTBEAT];
    only_heartbeats_for(3000, "idle,");
    unsigned got = seen[OPTOUT_MSG_HEARTBEAT] - before;
    CHECK(got >= 2 && got <= 4, "%u heartbeats in 3 s of idleness (expected about 3)", got);
    printf("ok: %u heartbeats in 3 s while idle\n", got);
}

static void phase_silence(void) {
    int64_t start = last_sent_any;
    char old[256];
    size_t old_len = peer_len;
    memcpy(old, peer, peer_len);
    for (;;) {
        CHECK(recv_one(8000 - (long)(optout_now_ms() - start), 0), "no new READY within 8 s of silence");
        if (rx.m.type == OPTOUT_MSG_READY) break;
        CHECK(rx.m.type == OPTOUT_MSG_HEARTBEAT, "silent broker got %s", optout_msg_type_name(rx.m.type));
    }
    int64_t took = optout_now_ms() - start;
    CHECK(took >= 4900, "the worker reconnected after %lld ms of silence (liveness is 5 s)", (long long)took);
    CHECK(rx.id_len != old_len || memcmp(rx.id, old, old_len) != 0, "the new connection reuses the routing id");
    CHECK(rx.m.credit == 1 && rx.m.epoch == EPOCH, "READY after reconnecting: credit %u epoch %llu", rx.m.credit,
          (unsigned long long)rx.m.epoch);
    adopt_peer();
    printf("ok: reconnected with a new READY after %.1f s of silence\n", (double)took / 1000);
}

static void phase_epoch(void) {
    hb_epoch = EPOCH + 1;
    send_simple(OPTOUT_MSG_HEARTBEAT, hb_epoch);
    last_hb_sent = optout_now_ms();
    optout_msg *m = expect(OPTOUT_MSG_READY, 3000, 1);
    CHECK(m->epoch == EPOCH + 1 && m->credit == 1, "READY after a new epoch: epoch %llu credit %u",
          (unsigned long long)m->epoch, m->credit);
    printf("ok: READY again for the new epoch %llu\n", (unsigned long long)m->epoch);
    /* A TASK of a newer epoch: the broker has registered the worker, so no READY (it would replace
     * the credit while more tasks may be on their way); the result carries the task's epoch. */
    hb_epoch = EPOCH + 2;
    send_task(5, "data", "shard.jsonl", "again.jsonl", 0, 0);
    m = expect(OPTOUT_MSG_RESULT, 5000, 1);
    CHECK(m->task == 5 && m->ok && m->epoch == EPOCH + 2, "RESULT of task 5: ok %d epoch %llu: %s", m->ok,
          (unsigned long long)m->epoch, m->error);
    m = expect(OPTOUT_MSG_CREDIT, 3000, 1);
    CHECK(m->epoch == EPOCH + 2 && m->credit == 1, "CREDIT after task 5: epoch %llu", (unsigned long long)m->epoch);
    printf("ok: a TASK of epoch %d is run without a new READY\n", EPOCH + 2);
}

static void phase_shutdown(void) {
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/data/slow.jsonl", tmp);
    CHECK(mkfifo(fifo, 0644) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    send_task(10, "data", "slow.jsonl", "slow.jsonl.zst", 0, 0); /* runs: blocks reading the FIFO */
    send_task(11, "data", "shard.jsonl", "queued.jsonl", 0, 0);  /* waits for the only slot */
    /* The running task has opened the FIFO once a non-blocking open for writing succeeds. */
    int fd = -1;
    int64_t deadline = optout_now_ms() + 5000;
    while ((fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0) {
        CHECK(errno == ENXIO && optout_now_ms() < deadline, "task 10 never opened its input (%s)", strerror(errno));
        if (recv_one(50, 1)) CHECK(rx.m.type == OPTOUT_MSG_HEARTBEAT, "unexpected %s", optout_msg_type_name(rx.m.type));
    }
    CHECK(kill(child, SIGTERM) == 0, "kill: %s", strerror(errno));
    optout_msg *m = expect(OPTOUT_MSG_HANDBACK, 3000, 1);
    CHECK(m->task == 11 && m->attempt == 1 && m->epoch == EPOCH + 2, "HANDBACK of task %llu",
          (unsigned long long)m->task);
    printf("ok: SIGTERM: queued task 11 handed back\n");
    unsigned before = seen[OPTOUT_MSG_HEARTBEAT];
    only_heartbeats_for(1500, "while finishing its task,");
    CHECK(seen[OPTOUT_MSG_HEARTBEAT] > before, "no heartbeat while a task runs after SIGTERM");
    const char *doc = "{\"url\":\"https://a.example/private/slow\",\"text\":\"x\"}\n"
                      "{\"url\":\"https://a.example/ok\",\"text\":\"y\"}\n";
    CHECK(write(fd, doc, strlen(doc)) == (ssize_t)strlen(doc), "writing the FIFO");
    close(fd);
    unsigned credits = seen[OPTOUT_MSG_CREDIT];
    m = expect(OPTOUT_MSG_RESULT, 5000, 1);
    CHECK(m->task == 10 && m->ok && m->file_count == 1, "RESULT of the running task: task %llu ok %d: %s",
          (unsigned long long)m->task, m->ok, m->error);
    printf("ok: running task 10 finished after SIGTERM (%llu bytes staged)\n", (unsigned long long)m->files[0].size);
    expect(OPTOUT_MSG_BYE, 5000, 1);
    CHECK(seen[OPTOUT_MSG_CREDIT] == credits, "a stopping worker returned credit");
    int status = 0;
    deadline = optout_now_ms() + 5000;
    pid_t w;
    while ((w = waitpid(child, &status, WNOHANG)) == 0 && optout_now_ms() < deadline) usleep(20000);
    CHECK(w == child, "the worker did not exit within 5 s of BYE");
    child = -1;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker exit status %d", status);
    printf("ok: BYE, exit status 0\n");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/optout-worker\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmp, sizeof tmp, "/tmp/optout-test-worker-XXXXXX");
    if (!mkdtemp(tmp)) {
        tmp[0] = '\0';
        fail("mkdtemp: %s", strerror(errno));
    }
    make_inputs();
    make_config();
    char endpoint[512];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", tmp);
    void *ctx = zmq_ctx_new();
    router = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    CHECK(router && zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) == 0 &&
              zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero) == 0 && zmq_bind(router, endpoint) == 0,
          "binding %s: %s", endpoint, zmq_strerror(zmq_errno()));
    int64_t t0 = optout_now_ms();
    start_worker(argv[1], endpoint);

    phase_ready();
    phase_filter();
    phase_failures();
    phase_confinement();
    phase_heartbeats();
    phase_silence();
    phase_epoch();
    phase_shutdown();

    zmq_close(router);
    zmq_ctx_term(ctx);
    free(config_buf);
    cleanup();
    printf("PASS (%.1f s)\n", (double)(optout_now_ms() - t0) / 1000);
    return 0;
}
