/* hostlist.c — the host-list file reader (include/optout/hostlist.h). */
#include "optout/hostlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/files.h"
#include "optout/strmap.h"
#include "optout/util.h"

struct optout_hostlist {
    char **hosts;
    size_t count, cap;
};

size_t optout_hostlist_count(const optout_hostlist *l) { return l->count; }
const char *const *optout_hostlist_hosts(const optout_hostlist *l) { return (const char *const *)l->hosts; }

void optout_hostlist_free(optout_hostlist *l) {
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) free(l->hosts[i]);
    free(l->hosts);
    free(l);
}

/* The key of one line (trimmed, not empty, not a comment) into key; 0, or -1 with err. */
static int line_key(const char *s, size_t len, optout_hostkey_mode mode, char key[OPTOUT_HOSTKEY_MAX], size_t *klen,
                    const char *path, size_t lineno, char *err, size_t errlen) {
    char url[OPTOUT_HOSTKEY_MAX + 16];
    int bad_idna = 0;
    int ok = len < OPTOUT_HOSTKEY_MAX && !memchr(s, '/', len) && !memchr(s, '?', len) && !memchr(s, '#', len) &&
             !memchr(s, '\0', len) && (mode == OPTOUT_HOSTKEY_NETLOC || !memchr(s, '@', len));
    if (ok) {
        snprintf(url, sizeof url, "http://%.*s/", (int)len, s);
        ok = optout_hostkey(url, strlen(url), mode, key, klen, &bad_idna) == OPTOUT_HOSTKEY_OK;
    }
    if (!ok) {
        optout_set_err(err, errlen, "%s:%zu: '%.*s' is not a host key", path, lineno, (int)(len > 200 ? 200 : len), s);
        return -1;
    }
    if (*klen != len || !optout_equal_nocase(key, s, len) || (mode == OPTOUT_HOSTKEY_CANONICAL && bad_idna)) {
        optout_set_err(err, errlen, "%s:%zu: '%.*s' is not a %s host key (its key is '%s')", path, lineno, (int)len, s,
                       mode == OPTOUT_HOSTKEY_CANONICAL ? "canonical" : "netloc", key);
        return -1;
    }
    return 0;
}

optout_hostlist *optout_hostlist_read(const char *path, optout_hostkey_mode mode,
                                      int (*keep)(const char *key, size_t len, void *arg), void *arg, char *err,
                                      size_t errlen) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        int saved = errno;
        optout_set_err(err, errlen, "%s: %s", path, strerror(saved));
        errno = saved;
        return NULL;
    }
    optout_hostlist *l = calloc(1, sizeof *l);
    optout_strmap *seen = optout_strmap_new();
    char *line = NULL;
    size_t lcap = 0, lineno = 0;
    ssize_t n;
    int failed = !l || !seen, why = ENOMEM;
    if (failed) optout_set_err(err, errlen, "%s: out of memory", path);
    while (!failed && (n = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        char *s = line, *e = line + n;
        while (s < e && optout_is_space(*s)) s++;
        while (e > s && optout_is_space(e[-1])) e--;
        if (s == e || *s == '#') continue;
        char key[OPTOUT_HOSTKEY_MAX];
        size_t klen;
        if (line_key(s, (size_t)(e - s), mode, key, &klen, path, lineno, err, errlen) != 0) {
            failed = 1, why = EINVAL;
            break;
        }
        if (optout_strmap_get(seen, key, klen)) continue;
        if (optout_strmap_put(seen, key, klen, (void *)1, NULL) != 0) goto oom;
        if (keep && !keep(key, klen, arg)) continue;
        if (l->count == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 1024;
            char **h = realloc(l->hosts, cap * sizeof *h);
            if (!h) goto oom;
            l->hosts = h, l->cap = cap;
        }
        if (!(l->hosts[l->count] = strdup(key))) goto oom;
        l->count++;
        continue;
    oom:
        optout_set_err(err, errlen, "%s: out of memory", path);
        failed = 1;
    }
    if (!failed && ferror(f)) {
        why = errno ? errno : EIO;
        optout_set_err(err, errlen, "%s: read error: %s", path, strerror(why));
        failed = 1;
    }
    free(line);
    optout_strmap_free(seen, NULL);
    if (f != stdin) fclose(f);
    if (failed) {
        optout_hostlist_free(l);
        errno = why;
        return NULL;
    }
    return l;
}

int optout_hostlist_write(const char *path, const char *const *hosts, size_t n, char *err, size_t errlen) {
    optout_publish p = {0};
    FILE *f = optout_publish_open(&p, path, 0644, err, errlen);
    if (!f) return -1;
    for (size_t i = 0; i < n; i++) {
        fputs(hosts[i], f);
        fputc('\n', f);
    }
    return optout_publish_commit(&p, err, errlen); /* a write error shows in the stream, reported here */
}
