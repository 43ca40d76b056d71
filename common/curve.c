/* curve.c — CURVE key files and socket options (include/optout/curve.h). */
#include "optout/curve.h"
#include "optout/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEY_FILE_MAX 4096

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    optout_set_errv(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int optout_curve_key_valid(const char *text) {
    /* Z85's alphabet (ZeroMQ RFC 32) */
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    size_t n = strlen(text);
    if (n != OPTOUT_CURVE_KEY_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(z85, text[i])) return 0;
    uint8_t raw[32];
    return zmq_z85_decode(raw, text) != NULL; /* also rejects 5-character groups above 2^32 - 1 */
}

int optout_curve_read_key(const char *path, int secret, char *key, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, "%s: not a regular file", path);
    }
    if (secret && (st.st_mode & 0007)) {
        close(fd);
        return fail(err, errlen, "%s: a secret key file others may read (mode %04o): chmod 600 it", path,
                    (unsigned)(st.st_mode & 07777));
    }
    char buf[KEY_FILE_MAX + 1];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return fail(err, errlen, "%s: %s", path, strerror(e));
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    int rc = -1;
    size_t keys = 0;
    if (len == sizeof buf - 1) {
        fail(err, errlen, "%s: longer than %d bytes: not a key file", path, KEY_FILE_MAX);
        goto out;
    }
    if (memchr(buf, '\0', len)) {
        fail(err, errlen, "%s: holds a NUL byte: not a key file", path);
        goto out;
    }
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) line[--l] = '\0';
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        if (!optout_curve_key_valid(line)) {
            fail(err, errlen, "%s: not a Z85 CURVE key (expected 40 characters of Z85, got %zu characters)", path,
                 strlen(line));
            goto out;
        }
        if (keys++) {
            fail(err, errlen, "%s: more than one key", path);
            goto out;
        }
        memcpy(key, line, OPTOUT_CURVE_KEY_LEN + 1);
    }
    if (!keys) fail(err, errlen, "%s: no key in the file", path);
    else rc = 0;
out:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

int optout_curve_read_secret(const char *path, char *secret, char *public_key, char *err, size_t errlen) {
    if (optout_curve_read_key(path, 1, secret, err, errlen) != 0) return -1;
    char pub[OPTOUT_CURVE_KEY_LEN + 1];
    if (zmq_curve_public(pub, secret) != 0) {
        explicit_bzero(secret, OPTOUT_CURVE_KEY_LEN + 1);
        return fail(err, errlen, "%s: cannot derive the public key: %s", path, zmq_strerror(zmq_errno()));
    }
    if (public_key) memcpy(public_key, pub, sizeof pub);
    return 0;
}

int optout_curve_key_arg(const char *arg, char *key, char *err, size_t errlen) {
    if (optout_curve_key_valid(arg)) {
        memcpy(key, arg, OPTOUT_CURVE_KEY_LEN + 1);
        return 0;
    }
    return optout_curve_read_key(arg, 0, key, err, errlen);
}

int optout_curve_client_load(const char *secret_file, const char *server_key_arg, optout_curve_client *c, char *err,
                             size_t errlen) {
    if (!secret_file || !server_key_arg)
        return fail(err, errlen, "CURVE needs both --curve-secret-file and --curve-server-key");
    if (optout_curve_read_secret(secret_file, c->secret_key, c->public_key, err, errlen) != 0) return -1;
    char e[512];
    if (optout_curve_key_arg(server_key_arg, c->server_key, e, sizeof e) != 0)
        return fail(err, errlen, "--curve-server-key: %s", e);
    return 0;
}

static int write_key(const char *path, const char *key, mode_t mode, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return fail(err, errlen, "%s: %s", path, strerror(errno));
    char line[OPTOUT_CURVE_KEY_LEN + 2];
    memcpy(line, key, OPTOUT_CURVE_KEY_LEN);
    line[OPTOUT_CURVE_KEY_LEN] = '\n';
    /* the umask may have taken bits away, never added any: set exactly the mode asked for */
    int ok = fchmod(fd, mode) == 0 && write(fd, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) && fsync(fd) == 0;
    int e = errno;
    explicit_bzero(line, sizeof line);
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(path);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    return 0;
}

int optout_curve_keygen(const char *prefix, char *public_key, char *err, size_t errlen) {
    char pub[OPTOUT_CURVE_KEY_LEN + 1], sec[OPTOUT_CURVE_KEY_LEN + 1];
    char pub_path[4200], sec_path[4200];
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", prefix) >= (int)sizeof pub_path ||
        snprintf(sec_path, sizeof sec_path, "%s.key", prefix) >= (int)sizeof sec_path)
        return fail(err, errlen, "%s: path too long", prefix);
    if (zmq_curve_keypair(pub, sec) != 0)
        return fail(err, errlen, "cannot make a CURVE key pair: %s (libzmq without CURVE?)", zmq_strerror(zmq_errno()));
    if (access(pub_path, F_OK) == 0) return fail(err, errlen, "%s exists: not overwriting it", pub_path);
    int rc = write_key(sec_path, sec, 0600, err, errlen);
    explicit_bzero(sec, sizeof sec);
    if (rc != 0) return -1;
    if (write_key(pub_path, pub, 0644, err, errlen) != 0) {
        unlink(sec_path);
        return -1;
    }
    memcpy(public_key, pub, sizeof pub);
    return 0;
}

int optout_curve_server_setup(void *socket, const char *secret_key) {
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0) return -1;
    return zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, OPTOUT_CURVE_KEY_LEN);
}

int optout_curve_client_setup(void *socket, const optout_curve_client *c) {
    int backoff_max = 5000;
    if (zmq_setsockopt(socket, ZMQ_RECONNECT_IVL_MAX, &backoff_max, sizeof backoff_max) != 0) return -1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, c->server_key, OPTOUT_CURVE_KEY_LEN) != 0) return -1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, c->public_key, OPTOUT_CURVE_KEY_LEN) != 0) return -1;
    return zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_key, OPTOUT_CURVE_KEY_LEN);
}

int optout_curve_available(void) { return zmq_has("curve"); }
