/* robots_dir_scan.c — a robots directory's host keys and outcomes (robots_dir_scan.h). */
#include "robots_dir_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

size_t robots_dir_key(const char *name, char *key, size_t cap) {
    size_t n = strlen(name);
    if (n + 1 > cap) return 0;
    for (size_t i = 0; i < n; i++) key[i] = (char)tolower((unsigned char)name[i]);
    key[n] = '\0';
    char *us = strrchr(key, '_');
    if (us && us[1]) {
        char *p = us + 1;
        while (*p >= '0' && *p <= '9') p++;
        if (*p == '\0' && p - us - 1 <= 5) {
            if (strcmp(us + 1, "80") == 0 || strcmp(us + 1, "443") == 0) *us = '\0';
            else *us = ':';
        }
    }
    return strlen(key);
}

static int load_index(const char *dir, optout_strmap *hosts, size_t entry_size, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[8192];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        char *outcome = tab ? tab + 1 : NULL;
        char *end = outcome ? strchr(outcome, '\t') : NULL;
        if (end) *end = '\0';
        optout_outcome o;
        if (!tab || optout_outcome_parse(outcome, &o) != 0) {
            optout_set_err(err, errlen,
                           "%s:%zu: expected HOST<TAB>OUTCOME (ok, unavailable, unreachable, no_such_host, ...)", path,
                           lineno);
            fclose(f);
            return -1;
        }
        *tab = '\0';
        char key[ROBOTS_DIR_KEY_MAX];
        size_t klen = robots_dir_key(line, key, sizeof key);
        if (klen == 0) {
            optout_set_err(err, errlen, "%s:%zu: empty or overlong host", path, lineno);
            fclose(f);
            return -1;
        }
        struct robots_dir_host *h = optout_strmap_get(hosts, key, klen);
        if (!h) {
            if (o == OPTOUT_OUTCOME_OK) {
                optout_set_err(err, errlen, "%s:%zu: %s is 'ok' but has no robots.txt file in %s", path, lineno, line,
                               dir);
                fclose(f);
                return -1;
            }
            h = calloc(1, entry_size);
            if (!h || optout_strmap_put(hosts, key, klen, h, NULL) != 0) {
                free(h);
                optout_set_err(err, errlen, "out of memory");
                fclose(f);
                return -1;
            }
        }
        h->outcome = o;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        optout_set_err(err, errlen, "%s: read error", path);
        return -1;
    }
    return 0;
}

long robots_dir_scan(const char *dir, optout_strmap *hosts, size_t entry_size, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        optout_set_err(err, errlen, "robots directory %s: %s", dir, strerror(errno));
        return -1;
    }
    long files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "index.tsv") == 0) continue;
        if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
        char key[ROBOTS_DIR_KEY_MAX];
        size_t klen = robots_dir_key(e->d_name, key, sizeof key);
        if (klen == 0) continue;
        struct robots_dir_host *old = optout_strmap_get(hosts, key, klen);
        if (old) {
            optout_set_err(err, errlen, "robots directory %s: files '%s' and '%s' are both for host %s", dir,
                           old->file ? old->file : "?", e->d_name, key);
            closedir(d);
            return -1;
        }
        struct robots_dir_host *h = calloc(1, entry_size);
        if (!h || !(h->file = strdup(e->d_name)) || optout_strmap_put(hosts, key, klen, h, NULL) != 0) {
            if (h) free(h->file);
            free(h);
            optout_set_err(err, errlen, "out of memory");
            closedir(d);
            return -1;
        }
        h->outcome = OPTOUT_OUTCOME_OK;
        files++;
    }
    closedir(d);
    if (load_index(dir, hosts, entry_size, err, errlen) != 0) return -1;
    return files;
}

void robots_dir_host_free(void *entry) {
    struct robots_dir_host *h = entry;
    if (h) free(h->file);
    free(h);
}
