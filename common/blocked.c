/* blocked.c — DIR/blocked_hosts.tsv (include/optout/blocked.h: format and definitions there).
 *
 * The decision reads the compiled rule lists (robots_internal.h) rather than probing URLs: "has a
 * Disallow" and "a Disallow matches every path and nothing is allowed" are properties of a rule
 * list, exact and cheap, where probing could only sample. Entries (host key + two agent bit sets
 * cut to the list's length) are collected while streaming, sorted, then written.
 */
#include "optout/blocked.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "optout/archive.h"
#include "optout/files.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "robots_dir_scan.h"
#include "robots_internal.h"


/* ---- the decision ------------------------------------------------------------------------------ */

/* A Disallow pattern that matches every path: optional leading '/', then only '*', no final '$'. */
static int matches_every_path(const struct rule *r, const char *pool) {
    if (r->kind == RULE_EXACT) return 0;
    const char *p = pool + r->pat_off;
    size_t n = r->pat_len;
    if (n == 0 || p[n - 1] == '$') return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '*' && !(i == 0 && p[i] == '/')) return 0;
    return 1;
}

/* A pattern that can match the URL of a document at all: a URL path starts with '/', so a pattern
 * must start with '/' or '*' ("Disallow: uk/file/" never matches anything); in protego mode a URL
 * without a path is matched as "?query" or "#fragment" (docs/protego-mode.md 3.3). */
static int can_match(const struct rule *r, const char *pool, optout_robots_mode mode) {
    if (r->pat_len == 0) return 0;
    char c = pool[r->pat_off];
    return c == '/' || c == '*' || (mode == OPTOUT_MODE_PROTEGO && (c == '?' || c == '#'));
}

int optout_blocked_decide(const optout_robots *r, optout_agentset *something, optout_agentset *whole) {
    optout_agentset_clear(something);
    optout_agentset_clear(whole);
    if (r->unparsable || !r->has_disallow) return 0;
    int any = 0;
    for (size_t s = 0; s < r->set_count; s++) {
        const struct ruleset *set = &r->sets[s];
        if (!set->has_disallow) continue;
        int some = 0, all = 0, allow = 0;
        for (size_t i = 0; i < set->count; i++) {
            if (set->rules[i].allow) allow = 1;
            else if (can_match(&set->rules[i], r->pool, r->mode)) {
                some = 1;
                if (matches_every_path(&set->rules[i], r->pool)) all = 1;
            }
        }
        if (!some) continue;
        for (size_t w = 0; w < OPTOUT_AGENTS_MAX / 64; w++) {
            something->words[w] |= set->members.words[w];
            if (all && !allow) whole->words[w] |= set->members.words[w];
        }
        any = 1;
    }
    return any;
}

/* ---- collecting -------------------------------------------------------------------------------- */

struct entry {
    char *host;
    uint64_t bits[]; /* words something, then words whole */
};

struct collect {
    const optout_agents *agents;
    optout_robots_mode mode;
    size_t nagents, words;
    struct entry **items;
    size_t count, cap;
    optout_blocked_counts *c;
    char *err;
    size_t errlen;
    int failed;
};

static int bad_host(const char *h, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] < 0x20 || h[i] == 0x7f) return 1;
    return n == 0;
}

/* One ok host's body: compile, decide, keep an entry when it blocks. 0, or -1 with err. */
static int consider(struct collect *k, const char *host, size_t hlen, const char *body, size_t blen) {
    k->c->hosts_ok++;
    optout_robots *r = optout_robots_compile(body, blen, k->agents, k->mode);
    if (!r) {
        optout_set_err(k->err, k->errlen, "robots.txt of %.*s: %s", (int)hlen, host, strerror(errno));
        return -1;
    }
    for (size_t a = 0; a < k->nagents; a++) k->c->agent_named[a] += (uint64_t)optout_robots_names_agent(r, a);
    optout_agentset some, whole;
    int blocks = optout_blocked_decide(r, &some, &whole);
    optout_robots_free(r);
    if (!blocks) return 0;
    if (k->count == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1024;
        struct entry **n = realloc(k->items, cap * sizeof *n);
        if (!n) goto oom;
        k->items = n;
        k->cap = cap;
    }
    struct entry *e = malloc(sizeof *e + 2 * k->words * sizeof(uint64_t));
    if (!e) goto oom;
    if (!(e->host = strndup(host, hlen))) {
        free(e);
        goto oom;
    }
    for (size_t w = 0; w < k->words; w++) {
        e->bits[w] = some.words[w];
        e->bits[k->words + w] = whole.words[w];
    }
    k->items[k->count++] = e;
    return 0;
oom:
    optout_set_err(k->err, k->errlen, "out of memory collecting blocking hosts");
    return -1;
}

static int visit_record(const optout_archive_record *rec, void *arg) {
    struct collect *k = arg;
    const optout_fetch_result *r = &rec->r;
    k->c->hosts++;
    if (r->fetched_at) {
        if (!k->c->fetched_from || r->fetched_at < k->c->fetched_from) k->c->fetched_from = r->fetched_at;
        if (r->fetched_at > k->c->fetched_to) k->c->fetched_to = r->fetched_at;
    }
    if (r->outcome != OPTOUT_OUTCOME_OK) return 0;
    size_t hlen = strlen(r->host);
    if (bad_host(r->host, hlen)) {
        k->c->bad_hosts++;
        return 0;
    }
    if (consider(k, r->host, hlen, r->body ? r->body : "", r->body ? r->body_len : 0) != 0) {
        k->failed = 1;
        return 1;
    }
    return 0;
}

struct dir_walk {
    struct collect *k;
    const char *dir;
};

static int visit_dir_host(const char *key, size_t len, void *value, void *arg) {
    struct dir_walk *d = arg;
    struct collect *k = d->k;
    struct robots_dir_host *h = value;
    k->c->hosts++;
    if (h->outcome != OPTOUT_OUTCOME_OK || !h->file) return 0;
    if (bad_host(key, len)) {
        k->c->bad_hosts++;
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->dir, h->file);
    size_t blen;
    char *body = optout_read_file(path, ROBOTS_DIR_FILE_MAX, &blen);
    if (!body) {
        optout_set_err(k->err, k->errlen, "robots.txt of %.*s: %s: %s", (int)len, key, path, strerror(errno));
        k->failed = 1;
        return 1;
    }
    int rc = consider(k, key, len, body, blen);
    free(body);
    if (rc != 0) {
        k->failed = 1;
        return 1;
    }
    return 0;
}

/* A robots directory's index.tsv fetched_at column (4th): earliest and latest, when present and
 * in the archive's format. Best effort: the snapshot range is information, not a decision. */
static void index_times(const char *dir, optout_blocked_counts *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *p = line;
        for (int k = 0; k < 3 && p; k++) {
            p = strchr(p, '\t');
            if (p) p++;
        }
        if (!p) continue;
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(p, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || (*end != '\t' && *end != '\n' && *end != '\r' && *end)) continue;
        int64_t t = (int64_t)timegm(&tm);
        if (t <= 0) continue;
        if (!c->fetched_from || t < c->fetched_from) c->fetched_from = t;
        if (t > c->fetched_to) c->fetched_to = t;
    }
    fclose(f);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp((*(struct entry *const *)a)->host, (*(struct entry *const *)b)->host);
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int put_agents(FILE *f, const optout_agents *agents, size_t n, const uint64_t *bits) {
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!((bits[i / 64] >> (i % 64)) & 1u)) continue;
        if (!first) fputc(',', f);
        fputs(optout_agents_name(agents, i), f);
        first = 0;
    }
    if (first) fputc('-', f);
    return first ? 0 : 1;
}

static int write_file(const char *dir, struct collect *k, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, OPTOUT_BLOCKED_FILE);
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, errlen);
    if (!f) return -1;
    fputs("#host\tagents\twhole_site_agents\twhole_site\n", f);
    for (size_t i = 0; i < k->count; i++) {
        const struct entry *e = k->items[i];
        fputs(e->host, f);
        fputc('\t', f);
        put_agents(f, k->agents, k->nagents, e->bits);
        fputc('\t', f);
        int whole = put_agents(f, k->agents, k->nagents, e->bits + k->words);
        fputs(whole ? "\tyes\n" : "\tno\n", f);
        k->c->hosts_blocking++;
        if (whole) k->c->hosts_whole_site++;
        for (size_t a = 0; a < k->nagents; a++) {
            if ((e->bits[a / 64] >> (a % 64)) & 1u) k->c->agent_blocking[a]++;
            if ((e->bits[k->words + a / 64] >> (a % 64)) & 1u) k->c->agent_whole_site[a]++;
        }
    }
    return optout_publish_commit(&pub, err, errlen);
}

int optout_blocked_write(const char *dir, const char *source, optout_robots_source_kind kind,
                         const optout_agents *agents, optout_robots_mode mode, optout_blocked_counts *counts,
                         char *err, size_t errlen) {
    optout_blocked_counts local;
    if (!counts) counts = &local;
    memset(counts, 0, sizeof *counts);
    struct collect k = {.agents = agents, .mode = mode, .nagents = optout_agents_count(agents), .c = counts,
                        .err = err, .errlen = errlen};
    k.words = (k.nagents + 63) / 64;
    if (k.words == 0) k.words = 1;
    int rc = -1;
    if (kind == OPTOUT_ROBOTS_SOURCE_ARCHIVE) {
        char scan_err[1024];
        long n = optout_archive_scan(source, 1, visit_record, &k, NULL, scan_err, sizeof scan_err);
        if (k.failed) goto out;
        if (n < 0) {
            optout_set_err(err, errlen, "robots archive %s: %s", source, scan_err);
            goto out;
        }
    } else {
        optout_strmap *hosts = optout_strmap_new();
        if (!hosts) {
            optout_set_err(err, errlen, "out of memory");
            goto out;
        }
        long files = robots_dir_scan(source, hosts, sizeof(struct robots_dir_host), err, errlen);
        if (files >= 0) {
            struct dir_walk d = {.k = &k, .dir = source};
            optout_strmap_each(hosts, visit_dir_host, &d);
            index_times(source, counts);
        }
        optout_strmap_free(hosts, robots_dir_host_free);
        if (files < 0 || k.failed) goto out;
    }
    if (k.count) qsort(k.items, k.count, sizeof *k.items, cmp_entry); /* qsort(NULL, 0) is undefined */
    for (size_t i = 1; i < k.count; i++)
        if (strcmp(k.items[i - 1]->host, k.items[i]->host) == 0) {
            optout_set_err(err, errlen, "robots archive %s: host %s has two records", source, k.items[i]->host);
            goto out;
        }
    rc = write_file(dir, &k, err, errlen);
out:
    for (size_t i = 0; i < k.count; i++) {
        free(k.items[i]->host);
        free(k.items[i]);
    }
    free(k.items);
    return rc;
}
