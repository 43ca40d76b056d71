/* curve.h — CURVE key files and socket set-up for the fleet's ZeroMQ sockets (docs/fleet.md,
 * "Security").
 *
 * Contract
 * - A key is 40 characters of Z85 (ZeroMQ's RFC 32 encoding) for 32 bytes; a key file holds one
 *   key on a line of its own, optionally with blank lines and lines starting with '#' around it
 *   (comments, e.g. whose key it is). Anything else (two keys, a short key, a character outside
 *   Z85) makes the file invalid.
 * - Secret key files are refused when others (not owner or group) may read them; optout_curve_keygen
 *   writes the secret with mode 0600 and never overwrites an existing file.
 * - Sockets: a server (the broker's ROUTER) gets ZMQ_CURVE_SERVER and its secret key; a client
 *   (worker DEALER, `optout status`) gets its own key pair and the server's public key. Set them
 *   before bind/connect. Who may connect is decided by the broker's ZAP handler (broker/zap.c),
 *   not here.
 * - Functions returning int give 0, or -1 with a message in err (never containing a secret key).
 */
#ifndef OPTOUT_CURVE_H
#define OPTOUT_CURVE_H

#include <stddef.h>

#define OPTOUT_CURVE_KEY_LEN 40 /* Z85 characters of a 32-byte key */

/* A client's keys: its own pair and the server's public key (NUL-terminated Z85). */
typedef struct {
    char public_key[OPTOUT_CURVE_KEY_LEN + 1];
    char secret_key[OPTOUT_CURVE_KEY_LEN + 1];
    char server_key[OPTOUT_CURVE_KEY_LEN + 1];
} optout_curve_client;

/* 1 when `text` is exactly 40 Z85 characters (then it decodes to 32 bytes), else 0. */
int optout_curve_key_valid(const char *text);

/* Reads the key of a key file into key (41 bytes). With secret, refuses a file others may read. */
int optout_curve_read_key(const char *path, int secret, char *key, char *err, size_t errlen);

/* A secret key file: the secret into secret (41 bytes) and its public key (zmq_curve_public) into
 * public_key (41 bytes, may be NULL). */
int optout_curve_read_secret(const char *path, char *secret, char *public_key, char *err, size_t errlen);

/* --curve-server-key FILE|KEY: a valid 40-character key is the key itself, anything else a file. */
int optout_curve_key_arg(const char *arg, char *key, char *err, size_t errlen);

/* The client options in one go: --curve-secret-file and --curve-server-key. */
int optout_curve_client_load(const char *secret_file, const char *server_key_arg, optout_curve_client *c, char *err,
                             size_t errlen);

/* A fresh key pair (libzmq with libsodium) written to PREFIX.key (0600) and PREFIX.pub (0644),
 * each the key and a newline; fails when either exists. public_key (41 bytes) receives the key. */
int optout_curve_keygen(const char *prefix, char *public_key, char *err, size_t errlen);

/* Socket options. The server's: ZMQ_CURVE_SERVER and the secret key. The client's: its key pair,
 * the server key, and a reconnect backoff up to 5 s (a refused client does not retry 10 times a
 * second). 0 or -1 (zmq_errno()). */
int optout_curve_server_setup(void *socket, const char *secret_key);
int optout_curve_client_setup(void *socket, const optout_curve_client *c);

/* 1 when this libzmq supports CURVE (zmq_has("curve")). */
int optout_curve_available(void);

#endif
