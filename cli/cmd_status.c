/* cmd_status.c — `optout status --broker ENDPOINT | --dir DIR`: a running broker's tasks per state,
 * workers and counts, as JSON on stdout. Exit 1 when the broker does not answer within 2 s. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "optout/curve.h"
#include "optout/log.h"

int cmd_status(int argc, char **argv) {
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'}, {"dir", required_argument, NULL, 'd'},
        {"curve-secret-file", required_argument, NULL, 'K'}, {"curve-server-key", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    char endpoint[4200] = "";
    const char *curve_secret = NULL, *curve_server = NULL;
    optout_curve_client curve;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'b': snprintf(endpoint, sizeof endpoint, "%s", optarg); break;
        case 'd': snprintf(endpoint, sizeof endpoint, "ipc://%s/broker.sock", optarg); break;
        case 'K': curve_secret = optarg; break;
        case 'S': curve_server = optarg; break;
        case 'h':
            puts("usage: optout status --broker ENDPOINT | --dir RUN_DIR\n"
                 "                     [--curve-secret-file FILE --curve-server-key FILE|KEY]\n"
                 "Prints the broker's status as JSON: epoch, tasks per state, workers, documents.\n"
                 "A CURVE broker answers only a client whose key pair (--curve-secret-file) is in its\n"
                 "allow-list; --curve-server-key is the broker's public key (a file or the key).");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("status", opt, argv);
        }
    }
    if (!endpoint[0] || optind < argc) {
        optout_log(LOG_ERR, "status: --broker ENDPOINT or --dir RUN_DIR is required");
        return OPTOUT_EXIT_USAGE;
    }
    if (curve_secret || curve_server) {
        char err[600];
        if (optout_curve_client_load(curve_secret, curve_server, &curve, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "status: %s", err);
            return curve_secret && curve_server ? OPTOUT_EXIT_FAILURE : OPTOUT_EXIT_USAGE;
        }
    }
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int zero = 0, rc = OPTOUT_EXIT_FAILURE;
    char text[4096];
    if (sock && zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
        (!curve_secret || optout_curve_client_setup(sock, &curve) == 0) && zmq_connect(sock, endpoint) == 0 &&
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
