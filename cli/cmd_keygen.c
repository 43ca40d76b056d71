/* cmd_keygen.c — `optout keygen [--out PREFIX]`: a CURVE key pair for a broker, a worker or a
 * status client (include/optout/curve.h): PREFIX.key (the secret, mode 0600) and PREFIX.pub (the
 * public key), each one line of Z85. Prints the public key. Never overwrites a key file. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "optout/curve.h"
#include "optout/log.h"

int cmd_keygen(int argc, char **argv) {
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *prefix = "optout";
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'o': prefix = optarg; break;
        case 'h':
            puts("usage: optout keygen [--out PREFIX]\n"
                 "Writes a new CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public), each\n"
                 "one line of Z85 (40 characters); PREFIX defaults to ./optout. Prints the public key.\n"
                 "The broker takes its PREFIX.key with --curve-secret-file and gives PREFIX.pub to workers\n"
                 "(--curve-server-key); a worker's PREFIX.pub goes into the broker's --curve-allow\n"
                 "directory. Exits 1 when either file exists.\n"
                 "\n"
                 "options:\n"
                 "  --out PREFIX   where the pair goes: PREFIX.key and PREFIX.pub (default: ./optout)\n"
                 "  -h, --help     this text");
            return OPTOUT_EXIT_OK;
        default: return cli_option_error("keygen", opt, argv);
        }
    }
    if (optind < argc || !prefix[0]) {
        optout_log(LOG_ERR, "keygen: usage: optout keygen [--out PREFIX]");
        return OPTOUT_EXIT_USAGE;
    }
    if (!optout_curve_available()) {
        optout_log(LOG_ERR, "keygen: this libzmq has no CURVE support");
        return OPTOUT_EXIT_FAILURE;
    }
    char pub[OPTOUT_CURVE_KEY_LEN + 1], err[600];
    if (optout_curve_keygen(prefix, pub, err, sizeof err) != 0) {
        optout_log(LOG_ERR, "keygen: %s", err);
        return OPTOUT_EXIT_FAILURE;
    }
    puts(pub);
    return OPTOUT_EXIT_OK;
}
