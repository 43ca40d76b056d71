/* cli_common.c — option handling shared by the subcommands (cli.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "cli.h"
#include "optout/log.h"
#include "optout/msg.h"

static int ensure(optout_agents **agents) {
    if (!*agents && !(*agents = optout_agents_new())) {
        optout_log(LOG_ERR, "out of memory");
        return OPTOUT_EXIT_FAILURE;
    }
    return OPTOUT_EXIT_OK;
}

int cli_add_agent(optout_agents **agents, const char *name) {
    int rc = ensure(agents);
    if (rc) return rc;
    size_t from = optout_agents_count(*agents);
    if (optout_agents_add(*agents, name, strlen(name)) != 0) {
        optout_log(LOG_ERR, "--agent '%s': %s", name, errno == EINVAL ? "empty agent name" : optout_agents_strerror(errno));
        return errno == ENOMEM ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_USAGE;
    }
    optout_agents_log_warnings(*agents, from);
    return OPTOUT_EXIT_OK;
}

int cli_add_agents_file(optout_agents **agents, const char *path) {
    int rc = ensure(agents);
    if (rc) return rc;
    size_t bad_line = 0, from = optout_agents_count(*agents);
    if (optout_agents_load(*agents, path, &bad_line) != 0) {
        if (bad_line) {
            optout_log(LOG_ERR, "%s:%zu: bad agent line: %s", path, bad_line, optout_agents_strerror(errno));
            return OPTOUT_EXIT_USAGE;
        }
        optout_log(LOG_ERR, "cannot read agents file %s: %s", path, strerror(errno));
        return errno == ENOENT ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_FAILURE; /* a path that does not exist: usage */
    }
    optout_agents_log_warnings(*agents, from);
    return OPTOUT_EXIT_OK;
}

optout_agents *cli_agents_or_default(optout_agents **agents) {
    optout_agents *a = *agents;
    *agents = NULL;
    if (a && optout_agents_count(a) > 0) return a;
    optout_agents_free(a);
    a = optout_agents_new_default();
    if (!a) optout_log(LOG_ERR, "out of memory");
    return a;
}

int cli_require_path(const char *command, const char *what, const char *path, int allow_stdin) {
    struct stat st;
    if ((allow_stdin && strcmp(path, "-") == 0) || stat(path, &st) == 0) return OPTOUT_EXIT_OK;
    optout_log(LOG_ERR, "%s: %s%s%s: %s", command, what, what[0] ? " " : "", path, strerror(errno));
    return OPTOUT_EXIT_USAGE;
}

int cli_parse_mode(const char *name, optout_robots_mode *mode) {
    if (optout_robots_mode_parse(name, mode) != 0) {
        optout_log(LOG_ERR, "--mode: unknown mode '%s' (rfc9309 or protego)", name);
        return OPTOUT_EXIT_USAGE;
    }
    return OPTOUT_EXIT_OK;
}

int cli_option_error(const char *command, int opt, char **argv) {
    if (opt == ':') optout_log(LOG_ERR, "%s: option '%s' needs a value", command, argv[optind - 1]);
    else optout_log(LOG_ERR, "%s: unknown option '%s' (see optout %s --help)", command, argv[optind - 1], command);
    return OPTOUT_EXIT_USAGE;
}

/* The text after "KEY": (NULL: absent). */
static const char *json_value(const char *json, const char *key) {
    char pattern[64];
    int n = snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    if (!json || n < 0 || (size_t)n >= sizeof pattern) return NULL;
    const char *p = strstr(json, pattern);
    return p ? p + n : NULL;
}

unsigned long long cli_json_u64(const char *json, const char *key) {
    const char *v = json_value(json, key);
    return v ? strtoull(v, NULL, 10) : 0;
}

double cli_json_double(const char *json, const char *key) {
    const char *v = json_value(json, key);
    return v ? strtod(v, NULL) : 0.0;
}

void *cli_status_socket(void *zctx) {
    void *sock = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    int64_t max_frame = (int64_t)OPTOUT_MSG_MAX_BYTES;
    if (sock && (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
                 zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame) != 0)) {
        zmq_close(sock);
        sock = NULL;
    }
    return sock;
}

int cli_broker_status(void *sock, long timeout_ms, char *out, size_t cap) {
    optout_msg req = {.type = OPTOUT_MSG_STATUS_REQUEST};
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(&req, &buf, &len, err) != 0) return -1;
    int rc = zmq_send(sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    if (rc < 0) return -1;
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return -1;
    /* every answer waiting is read and the newest kept: requests sent before the broker was up
     * (or that timed out) are answered late, and must not leave each later poll one answer behind */
    rc = -1;
    for (int flags = 0;; flags = ZMQ_DONTWAIT) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, flags) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        optout_msg m;
        if (optout_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m, err) == 0 && m.type == OPTOUT_MSG_STATUS) {
            snprintf(out, cap, "%.*s", (int)m.text_len, m.text);
            rc = 0;
        }
        zmq_msg_close(&msg);
    }
    return rc;
}

