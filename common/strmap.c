/* strmap.c — open-addressing hash map with copied string keys (include/optout/strmap.h). */
#include "optout/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    void *value;
};

struct optout_strmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

uint64_t optout_hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

optout_strmap *optout_strmap_new(void) {
    optout_strmap *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

static struct slot *find(const optout_strmap *m, const char *key, size_t len, uint64_t h) {
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)) return s;
    }
}

static int grow(optout_strmap *m) {
    size_t cap = m->cap * 2;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    struct slot *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
    return 0;
}

int optout_strmap_put(optout_strmap *m, const char *key, size_t len, void *value, void **old) {
    if (old) *old = NULL;
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0) return -1;
    uint64_t h = optout_hash_bytes(key, len);
    struct slot *s = find(m, key, len, h);
    if (s->key) {
        if (old) *old = s->value;
        s->value = value;
        return 0;
    }
    s->key = malloc(len + 1);
    if (!s->key) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return 0;
}

void *optout_strmap_get(const optout_strmap *m, const char *key, size_t len) {
    struct slot *s = find(m, key, len, optout_hash_bytes(key, len));
    return s->key ? s->value : NULL;
}

size_t optout_strmap_count(const optout_strmap *m) { return m->count; }

void optout_strmap_each(const optout_strmap *m, int (*fn)(const char *, size_t, void *, void *), void *arg) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && fn(m->slots[i].key, m->slots[i].len, m->slots[i].value, arg)) return;
}

void optout_strmap_free(optout_strmap *m, void (*free_value)(void *)) {
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            if (free_value) free_value(m->slots[i].value);
            free(m->slots[i].key);
        }
    free(m->slots);
    free(m);
}
