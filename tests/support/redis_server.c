/* redis_server.c — a private redis-server for a test program (redis_server.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"
#include "testdir.h"

static char redis_bin[4096];
static int server_seq;

int test_server_find(void) {
    const char *env = getenv("OPTOUT_REDIS_SERVER");
    if (env && *env) {
        snprintf(redis_bin, sizeof redis_bin, "%s", env);
        return access(redis_bin, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char buf[8192];
    snprintf(buf, sizeof buf, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(redis_bin, sizeof redis_bin, "%s/redis-server", dir);
        if (access(redis_bin, X_OK) == 0) return 1;
    }
    redis_bin[0] = '\0';
    return 0;
}

void test_server_start(struct test_server *s, long delay_ms) {
    char conf[320], logf[320];
    snprintf(conf, sizeof conf, "%s/redis.conf", s->dir);
    snprintf(logf, sizeof logf, "%s/redis.log", s->dir);
    FILE *f = fopen(conf, "w"); /* the password in a file, not on a command line */
    assert_non_null(f);
    if (s->user) fprintf(f, "user %s on >%s ~optout:* +@all\nuser default off\n", s->user, s->password);
    else if (s->password) fprintf(f, "requirepass \"%s\"\n", s->password);
    assert_int_equal(fclose(f), 0);
    unlink(s->sock);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        if (delay_ms > 0) {
            struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        execl(redis_bin, redis_bin, conf, "--port", "0", "--unixsocket", s->sock, "--unixsocketperm", "700", "--save",
              "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", s->dir, "--logfile", logf,
              "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    if (delay_ms > 0) return;
    for (int i = 0; i < 1000; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            fail_msg("redis-server exited (see %s)", logf);
        }
        redisContext *c = redisConnectUnix(s->sock);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int up = r != NULL;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (up) return;
        } else if (c) {
            redisFree(c);
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("redis-server did not come up on %s", s->sock);
}

void test_server_stop(struct test_server *s, int sig) {
    if (s->pid > 0) {
        kill(s->pid, sig);
        int status;
        waitpid(s->pid, &status, 0);
    }
    s->pid = 0;
    unlink(s->sock);
}

int test_server_setup(struct test_server *s, const char *user, const char *password) {
    memset(s, 0, sizeof *s);
    s->user = user;
    s->password = password;
    snprintf(s->dir, sizeof s->dir, "%s/redis%d", tmpdir, ++server_seq);
    snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
    snprintf(s->endpoint, sizeof s->endpoint, "unix:%s", s->sock);
    if (mkdir(s->dir, 0700) != 0) return -1;
    test_server_start(s, 0);
    return 0;
}

/* AUTH on a test connection, as the server wants it. */
redisReply *test_server_auth(const struct test_server *s, redisContext *c) {
    return s->user ? redisCommand(c, "AUTH %s %s", s->user, s->password) : redisCommand(c, "AUTH %s", s->password);
}

redisReply *test_server_vcommand(const struct test_server *s, const char *fmt, va_list ap) {
    redisContext *c = redisConnectUnix(s->sock);
    assert_non_null(c);
    if (c->err) fail_msg("connect %s: %s", s->sock, c->errstr);
    if (s->password) {
        redisReply *a = test_server_auth(s, c);
        assert_non_null(a);
        assert_int_not_equal(a->type, REDIS_REPLY_ERROR);
        freeReplyObject(a);
    }
    redisReply *r = redisvCommand(c, fmt, ap);
    assert_non_null(r);
    redisFree(c);
    return r;
}

redisReply *test_server_command(const struct test_server *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = test_server_vcommand(s, fmt, ap);
    va_end(ap);
    return r;
}
