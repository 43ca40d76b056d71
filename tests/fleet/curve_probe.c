/* curve_probe.c — a hand-made fleet client for tests/fleet/test_curve.py: connects one DEALER to a
 * broker (plain text, or CURVE with the given keys), sends what it is told to (READY, a
 * STATUS_REQUEST, a crafted RESULT claiming a task is done), and reports what happened:
 *
 *   handshake ok | handshake failed auth STATUS | handshake failed protocol 0xVALUE |
 *   handshake failed 0xVALUE | handshake none
 *   received TYPE          (one line per message from the broker, by type name)
 *
 * usage: curve_probe ENDPOINT [--secret FILE --server-key FILE|KEY] [--ready] [--status]
 *                    [--result TASK] [--wait MS]
 * Exit status: 0 (the test judges the output), 2 on usage errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "optout/curve.h"
#include "optout/msg.h"
#include "optout/util.h"

static void send_msg(void *s, optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(m, &buf, &len, err) != 0) {
        fprintf(stderr, "curve_probe: encoding %s: %s\n", optout_msg_type_name(m->type), err);
        exit(2);
    }
    if (zmq_send(s, buf, len, ZMQ_DONTWAIT) < 0) printf("send %s failed: %s\n", optout_msg_type_name(m->type),
                                                      zmq_strerror(zmq_errno()));
    else printf("sent %s\n", optout_msg_type_name(m->type));
    free(buf);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: curve_probe ENDPOINT [--secret FILE --server-key KEY] [--ready] [--status] "
                        "[--result TASK] [--wait MS]\n");
        return 2;
    }
    const char *endpoint = argv[1], *secret = NULL, *server = NULL;
    int ready = 0, status = 0;
    long long result = -1;
    long wait = 3000;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--secret") && i + 1 < argc) secret = argv[++i];
        else if (!strcmp(argv[i], "--server-key") && i + 1 < argc) server = argv[++i];
        else if (!strcmp(argv[i], "--ready")) ready = 1;
        else if (!strcmp(argv[i], "--status")) status = 1;
        else if (!strcmp(argv[i], "--result") && i + 1 < argc) result = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--wait") && i + 1 < argc) wait = atol(argv[++i]);
        else {
            fprintf(stderr, "curve_probe: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER), *mon = zmq_socket(ctx, ZMQ_PAIR);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
    if (secret) {
        optout_curve_client c;
        char err[600];
        if (optout_curve_client_load(secret, server, &c, err, sizeof err) != 0 || optout_curve_client_setup(s, &c) != 0) {
            fprintf(stderr, "curve_probe: %s\n", err);
            return 2;
        }
    }
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(s, "inproc://probe-monitor", events) != 0 || zmq_connect(mon, "inproc://probe-monitor") != 0 ||
        zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "curve_probe: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 2;
    }
    /* Send at once: with a refused handshake these stay queued and are never delivered. */
    static optout_msg m;
    if (ready) {
        memset(&m, 0, sizeof m);
        m.type = OPTOUT_MSG_READY;
        snprintf(m.worker, sizeof m.worker, "probe");
        m.credit = 1;
        send_msg(s, &m);
    }
    if (status) {
        memset(&m, 0, sizeof m);
        m.type = OPTOUT_MSG_STATUS_REQUEST;
        send_msg(s, &m);
    }
    if (result >= 0) { /* "task TASK of epoch 1, attempt 1 is done": a forged claim */
        memset(&m, 0, sizeof m);
        m.type = OPTOUT_MSG_RESULT;
        m.epoch = 1;
        m.task = (uint64_t)result;
        m.attempt = 1;
        m.ok = 1;
        m.file_count = 1;
        snprintf(m.files[0].name, sizeof m.files[0].name, "shards/forged.jsonl.zst");
        snprintf(m.files[0].sha256, sizeof m.files[0].sha256, "%064d", 0);
        m.stats = "\x80";
        m.stats_len = 1;
        send_msg(s, &m);
    }
    int handshake_reported = 0;
    int64_t deadline = optout_now_ms() + wait;
    for (long left; (left = (long)(deadline - optout_now_ms())) > 0;) {
        zmq_pollitem_t items[2] = {{.socket = s, .events = ZMQ_POLLIN}, {.socket = mon, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, left) <= 0) continue;
        if (items[0].revents & ZMQ_POLLIN) {
            char buf[1 << 16];
            int n = zmq_recv(s, buf, sizeof buf, 0);
            optout_msg in;
            char err[OPTOUT_MSG_ERR_LEN];
            if (n >= 0 && (size_t)n <= sizeof buf && optout_msg_decode(buf, (size_t)n, &in, err) == 0)
                printf("received %s\n", optout_msg_type_name(in.type));
            else printf("received something undecodable\n");
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmq_msg_t head, addr;
            zmq_msg_init(&head);
            zmq_msg_init(&addr);
            if (zmq_msg_recv(&head, mon, 0) == 6 && zmq_msg_recv(&addr, mon, 0) >= 0 && !handshake_reported) {
                uint16_t ev;
                uint32_t value;
                memcpy(&ev, zmq_msg_data(&head), 2);
                memcpy(&value, (char *)zmq_msg_data(&head) + 2, 4);
                handshake_reported = 1; /* the first outcome; a refused client keeps retrying */
                if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) printf("handshake ok\n");
                else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) printf("handshake failed auth %u\n", value);
                else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) printf("handshake failed protocol 0x%x\n", value);
                else printf("handshake failed 0x%x\n", value);
            }
            zmq_msg_close(&head);
            zmq_msg_close(&addr);
        }
    }
    if (!handshake_reported) printf("handshake none\n");
    zmq_close(s);
    zmq_close(mon);
    zmq_ctx_term(ctx);
    return 0;
}
