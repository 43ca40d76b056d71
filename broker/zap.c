/* zap.c — the broker's ZAP handler and handshake monitor (broker/zap.h). */
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "optout/curve.h"
#include "optout/log.h"
#include "optout/util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MONITOR_ENDPOINT "inproc://optout-broker-handshakes"
#define RELOAD_MS 1000
#define LOG_EVERY_MS 60000
#define MAX_FRAMES 8

struct allowed {
    char key[OPTOUT_CURVE_KEY_LEN + 1];
    char name[256];
};

struct bad_file { /* a file of the allow-list that is not a key file, as last warned about */
    char name[256];
    int64_t mtime_ns;
};

struct broker_zap {
    pthread_t thread;
    int started;
    atomic_int stop;
    void *zap, *monitor;
    char *allow_dir;
    struct allowed *keys;
    size_t key_count;
    int64_t loaded_at; /* monotonic ms; 0: never */
    struct bad_file *bad;
    size_t bad_count;
    optout_log_limiter limits; /* each refusal reason logged at most once per LOG_EVERY_MS */
};

/* Reads the allow-list directory into z->keys. Files that are not key files are skipped (and
 * warned about once per version of the file). */
static void load_keys(struct broker_zap *z) {
    DIR *d = opendir(z->allow_dir);
    if (!d) {
        unsigned long sup;
        if (optout_log_allow(&z->limits, "allow-dir", &sup))
            optout_log(LOG_ERR, "--curve-allow %s: %s (every client is refused)", z->allow_dir, strerror(errno));
        z->key_count = 0;
        z->loaded_at = optout_now_ms();
        return;
    }
    struct allowed *keys = NULL;
    struct bad_file *bad = NULL;
    size_t n = 0, cap = 0, nbad = 0, capbad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof keys->name) continue;
        char path[4400], err[600], key[OPTOUT_CURVE_KEY_LEN + 1];
        snprintf(path, sizeof path, "%s/%s", z->allow_dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (optout_curve_read_key(path, 0, key, err, sizeof err) != 0) {
            int64_t mt = optout_mtime_ns(&st);
            int known = 0;
            for (size_t i = 0; i < z->bad_count && !known; i++)
                known = strcmp(z->bad[i].name, e->d_name) == 0 && z->bad[i].mtime_ns == mt;
            if (!known) optout_log(LOG_WARNING, "CURVE allow-list: skipping %s", err);
            if (nbad == capbad) {
                struct bad_file *nb = realloc(bad, (capbad = capbad ? 2 * capbad : 8) * sizeof *bad);
                if (!nb) continue;
                bad = nb;
            }
            snprintf(bad[nbad].name, sizeof bad[nbad].name, "%s", e->d_name);
            bad[nbad++].mtime_ns = mt;
            continue;
        }
        if (n == cap) {
            struct allowed *nk = realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof *keys);
            if (!nk) break;
            keys = nk;
        }
        memcpy(keys[n].key, key, sizeof key);
        snprintf(keys[n++].name, sizeof keys->name, "%s", e->d_name);
    }
    closedir(d);
    free(z->keys);
    z->keys = keys;
    z->key_count = n;
    free(z->bad);
    z->bad = bad;
    z->bad_count = nbad;
    z->loaded_at = optout_now_ms();
}

/* The allow-list entry holding `key`, or NULL. */
static const struct allowed *find_key(struct broker_zap *z, const char *key) {
    if (!z->loaded_at || optout_now_ms() - z->loaded_at >= RELOAD_MS) load_keys(z);
    for (size_t i = 0; i < z->key_count; i++)
        if (memcmp(z->keys[i].key, key, OPTOUT_CURVE_KEY_LEN) == 0) return &z->keys[i];
    return NULL;
}

static void send_str(void *s, const char *text, int more) {
    zmq_send(s, text, strlen(text), more ? ZMQ_SNDMORE : 0);
}

/* One ZAP request (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials. Answers 200 for an allowed CURVE key, else 400. */
static void serve_request(struct broker_zap *z) {
    zmq_msg_t frames[MAX_FRAMES];
    size_t count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, z->zap, 0) < 0) {
            zmq_msg_close(&f);
            break;
        }
        more = zmq_msg_more(&f);
        if (count < MAX_FRAMES) frames[count++] = f;
        else zmq_msg_close(&f);
    }
    if (count < 6) { /* not a ZAP request; REP still needs an answer to go on */
        for (size_t i = 0; i < count; i++) zmq_msg_close(&frames[i]);
        send_str(z->zap, "", 0);
        return;
    }
    char version[8] = "", mechanism[16] = "", address[128] = "";
    snprintf(version, sizeof version, "%.*s", (int)zmq_msg_size(&frames[0]), (const char *)zmq_msg_data(&frames[0]));
    snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&frames[3]), (const char *)zmq_msg_data(&frames[3]));
    snprintf(mechanism, sizeof mechanism, "%.*s", (int)zmq_msg_size(&frames[5]),
             (const char *)zmq_msg_data(&frames[5]));
    const char *status = "400", *text = "not allowed", *user = "";
    char key[OPTOUT_CURVE_KEY_LEN + 1] = "";
    unsigned long sup = 0;
    if (strcmp(version, "1.0") != 0) {
        text = "unsupported ZAP version";
    } else if (strcmp(mechanism, "CURVE") != 0 || count < 7 || zmq_msg_size(&frames[6]) != 32) {
        char what[64];
        snprintf(what, sizeof what, "mechanism %s", mechanism);
        if (optout_log_allow(&z->limits, what, &sup))
            optout_log(LOG_WARNING, "refused a %s client%s%s: only CURVE clients are admitted%s", mechanism,
                       address[0] ? " from " : "", address, sup ? " (and more since the last message)" : "");
        text = "CURVE only";
    } else {
        zmq_z85_encode(key, zmq_msg_data(&frames[6]), 32);
        const struct allowed *a = find_key(z, key);
        if (a) {
            status = "200";
            text = "OK";
            user = a->name;
            optout_log(LOG_DEBUG, "admitted CURVE key %s (%s)%s%s", key, a->name, address[0] ? " from " : "", address);
        } else {
            char what[64];
            snprintf(what, sizeof what, "key %s", key);
            if (optout_log_allow(&z->limits, what, &sup))
                optout_log(LOG_WARNING, "refused CURVE key %s%s%s: not in the allow-list %s%s", key,
                           address[0] ? " from " : "", address, z->allow_dir,
                           sup ? " (and more since the last message)" : "");
            text = "key not allowed";
        }
    }
    /* reply: version, request id, status code, status text, user id, metadata */
    send_str(z->zap, "1.0", 1);
    zmq_send(z->zap, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
    send_str(z->zap, status, 1);
    send_str(z->zap, text, 1);
    send_str(z->zap, user, 1);
    send_str(z->zap, "", 0);
    for (size_t i = 0; i < count; i++) zmq_msg_close(&frames[i]);
}

/* One monitor event: 6 bytes (uint16 event, uint32 value), then the endpoint. */
static void serve_event(struct broker_zap *z) {
    zmq_msg_t head, addr;
    zmq_msg_init(&head);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&head, z->monitor, 0) < 0) goto out;
    if (!zmq_msg_more(&head) || zmq_msg_recv(&addr, z->monitor, 0) < 0 || zmq_msg_size(&head) != 6) goto out;
    uint16_t event;
    uint32_t value;
    memcpy(&event, zmq_msg_data(&head), 2);
    memcpy(&value, (const char *)zmq_msg_data(&head) + 2, 4);
    const char *why;
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: why = "a plain-text (not CURVE) client"; break;
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: why = "a client that does not have this broker's public key"; break;
    default: why = event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? "a client whose handshake broke off (plain text?)"
                                                                   : "a client that broke the CURVE handshake";
    }
    char what[96];
    snprintf(what, sizeof what, "event %u %u %.40s", (unsigned)event, (unsigned)value,
             (const char *)zmq_msg_data(&addr));
    unsigned long sup = 0;
    if (optout_log_allow(&z->limits, what, &sup))
        optout_log(LOG_WARNING, "refused %s on %.*s (handshake error 0x%x)%s", why, (int)zmq_msg_size(&addr),
                   (const char *)zmq_msg_data(&addr), value,
                   sup ? " (and more since the last message)" : "");
out:
    zmq_msg_close(&head);
    zmq_msg_close(&addr);
}

static void *zap_main(void *arg) {
    struct broker_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t items[2] = {{.socket = z->zap, .events = ZMQ_POLLIN},
                                   {.socket = z->monitor, .events = ZMQ_POLLIN}};
        int n = zmq_poll(items, 2, 200);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            optout_log(LOG_ERR, "ZAP handler: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) serve_request(z);
        if (items[1].revents & ZMQ_POLLIN) serve_event(z);
    }
    return NULL;
}

struct broker_zap *broker_zap_start(void *ctx, void *router, const char *allow_dir) {
    struct broker_zap *z = calloc(1, sizeof *z);
    if (!z || !(z->allow_dir = strdup(allow_dir))) {
        optout_log(LOG_ERR, "ZAP handler: out of memory");
        broker_zap_stop(z);
        return NULL;
    }
    z->limits.every_ms = LOG_EVERY_MS;
    int zero = 0;
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (!(z->zap = zmq_socket(ctx, ZMQ_REP)) || zmq_setsockopt(z->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(z->zap, ZAP_ENDPOINT) != 0 || zmq_socket_monitor(router, MONITOR_ENDPOINT, events) != 0 ||
        !(z->monitor = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(z->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(z->monitor, MONITOR_ENDPOINT) != 0) {
        optout_log(LOG_ERR, "ZAP handler: %s", zmq_strerror(zmq_errno()));
        broker_zap_stop(z);
        return NULL;
    }
    load_keys(z);
    optout_log(LOG_INFO, "CURVE: %zu client key%s allowed in %s", z->key_count, z->key_count == 1 ? "" : "s",
               allow_dir);
    /* the sockets move to the thread: pthread_create is the full barrier libzmq asks for */
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        optout_log(LOG_ERR, "ZAP handler: cannot start its thread");
        broker_zap_stop(z);
        return NULL;
    }
    z->started = 1;
    return z;
}

void broker_zap_stop(struct broker_zap *z) {
    if (!z) return;
    if (z->started) {
        atomic_store(&z->stop, 1);
        pthread_join(z->thread, NULL);
    }
    if (z->zap) zmq_close(z->zap);
    if (z->monitor) zmq_close(z->monitor);
    free(z->allow_dir);
    free(z->keys);
    free(z->bad);
    free(z);
}
