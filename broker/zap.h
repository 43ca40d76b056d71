/* zap.h — the broker's ZAP handler: who may talk to a CURVE broker (docs/fleet.md, "Security").
 *
 * Contract
 * - broker_zap_start() binds inproc://zeromq.zap.01 in ctx (before the ROUTER binds anything, so
 *   no handshake is ever decided without it: libzmq admits every CURVE client when no handler is
 *   bound) and serves ZAP 1.0 from a thread of its own.
 * - A CURVE client is admitted (200) when its public key is the key of a file in allow_dir (one
 *   file per client; names starting with '.' are skipped; key file format in curve.h); anything
 *   else is refused (400): unknown keys, other mechanisms. The directory is read again when the
 *   cached copy is older than 1 s at a handshake, so keys are added and removed without a restart
 *   (a connection already admitted stays until it breaks).
 * - The handler also watches `router`'s handshakes (a zmq_socket_monitor) and logs, at most once a
 *   minute per key or kind of failure, every refusal: unknown keys (with the key and address),
 *   plain-text clients (mechanism mismatch), clients with another server key (cryptographic error).
 * - broker_zap_stop() ends the thread and closes its sockets; call it before zmq_ctx_term, after
 *   closing the router. NULL is accepted.
 */
#ifndef OPTOUT_BROKER_ZAP_H
#define OPTOUT_BROKER_ZAP_H

struct broker_zap;

/* NULL after a message when the handler cannot be set up (the broker must not start then). */
struct broker_zap *broker_zap_start(void *ctx, void *router, const char *allow_dir);
void broker_zap_stop(struct broker_zap *z);

#endif
