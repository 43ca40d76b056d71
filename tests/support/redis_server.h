/* redis_server.h — a private redis-server for a test program (tests only).
 * test_server_find() looks for the binary ($OPTOUT_REDIS_SERVER, else redis-server on PATH, /usr/bin,
 * /usr/sbin, /usr/local/bin): 1 found, 0 not (the caller skips its Redis tests).
 * test_server_setup(s, user, password) starts one in a fresh directory under tmpdir (testdir.h):
 * unix socket only, `--port 0 --save '' --appendonly no --maxmemory-policy noeviction`, a password
 * (requirepass) or an ACL user (the default user then off) written to its configuration file, never
 * on a command line; it is killed if the test process dies (PR_SET_PDEATHSIG).
 * test_server_start(s, delay_ms) (re)starts it: after delay_ms when given (the child sleeps before
 * exec, the caller carries on at once), else waits until it answers PING. test_server_stop(s, sig).
 * test_server_command(s, fmt, ...) runs one command on a connection of its own (authenticated as the
 * server wants) and returns the reply (freeReplyObject), failing the test when it cannot. */
#ifndef OPTOUT_TESTS_REDIS_SERVER_H
#define OPTOUT_TESTS_REDIS_SERVER_H

#include <stdarg.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct test_server {
    pid_t pid;
    char dir[256], sock[300], endpoint[310];
    const char *user; /* an ACL user (the default user is then off), or NULL */
    const char *password;
};

int test_server_find(void);
int test_server_setup(struct test_server *s, const char *user, const char *password);
void test_server_start(struct test_server *s, long delay_ms);
void test_server_stop(struct test_server *s, int sig);
redisReply *test_server_auth(const struct test_server *s, redisContext *c);
redisReply *test_server_vcommand(const struct test_server *s, const char *fmt, va_list ap);
redisReply *test_server_command(const struct test_server *s, const char *fmt, ...);

#endif
