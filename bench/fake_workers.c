/* fake_workers.c — simulated workers for the broker benchmark: K DEALER sockets in one process
 * that answer every task at once with an empty successful result (no files, empty statistics),
 * so that what is measured is the broker: dispatch, journal group commit, publication, ack.
 * usage: fake_workers ENDPOINT K EXPECTED_ACKS      prints "acks N" when done */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "optout/msg.h"
#include "optout/stats.h"
#include "optout/util.h"

static int send_msg(void *sock, const optout_msg *m) {
    void *buf;
    size_t len;
    char err[OPTOUT_MSG_ERR_LEN];
    if (optout_msg_encode(m, &buf, &len, err) != 0) {
        fprintf(stderr, "fake_workers: encode: %s\n", err);
        exit(1);
    }
    int rc = zmq_send(sock, buf, len, 0);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: fake_workers ENDPOINT K EXPECTED_ACKS\n");
        return 2;
    }
    int k = atoi(argv[2]);
    long expected = atol(argv[3]);
    void *ctx = zmq_ctx_new();
    void **socks = calloc((size_t)k, sizeof *socks);
    zmq_pollitem_t *items = calloc((size_t)k, sizeof *items);
    optout_stats *empty = calloc(1, sizeof *empty);
    void *stats;
    size_t stats_len;
    if (!ctx || !socks || !items || !empty || optout_stats_encode(empty, 14, &stats, &stats_len) != 0) return 1;
    for (int i = 0; i < k; i++) {
        socks[i] = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(socks[i], argv[1]) != 0) return 1;
        optout_msg ready = {.type = OPTOUT_MSG_READY, .credit = 4};
        snprintf(ready.worker, sizeof ready.worker, "fake-%d", i);
        send_msg(socks[i], &ready);
        items[i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
    }
    long acks = 0;
    int64_t last_hb = optout_now_ms(), last_msg = optout_now_ms();
    while (acks < expected && optout_now_ms() - last_msg < 3000) {
        if (zmq_poll(items, k, 100) < 0) break;
        for (int i = 0; i < k; i++) {
            while (items[i].revents & ZMQ_POLLIN) {
                zmq_msg_t z;
                zmq_msg_init(&z);
                if (zmq_msg_recv(&z, socks[i], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&z);
                    break;
                }
                optout_msg m;
                char err[OPTOUT_MSG_ERR_LEN];
                last_msg = optout_now_ms();
                if (optout_msg_decode(zmq_msg_data(&z), zmq_msg_size(&z), &m, err) == 0) {
                    if (m.type == OPTOUT_MSG_TASK) {
                        optout_msg r = {.type = OPTOUT_MSG_RESULT, .epoch = m.epoch, .task = m.task,
                                        .attempt = m.attempt, .ok = 1, .stats = stats, .stats_len = stats_len};
                        send_msg(socks[i], &r);
                        optout_msg c = {.type = OPTOUT_MSG_CREDIT, .epoch = m.epoch, .credit = 1};
                        send_msg(socks[i], &c);
                    } else if (m.type == OPTOUT_MSG_ACK) {
                        acks++;
                    }
                }
                zmq_msg_close(&z);
            }
        }
        if (optout_now_ms() - last_hb >= 1000) {
            last_hb = optout_now_ms();
            for (int i = 0; i < k; i++) {
                optout_msg hb = {.type = OPTOUT_MSG_HEARTBEAT};
                send_msg(socks[i], &hb);
            }
        }
    }
    printf("acks %ld\n", acks);
    for (int i = 0; i < k; i++) zmq_close(socks[i]);
    zmq_ctx_term(ctx);
    return 0;
}
