/* survey.c — per host key and crawl, the documents and tokens of a corpus (include/optout/survey.h). */
#include "optout/survey.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/files.h"
#include "optout/hostkey.h"
#include "optout/strmap.h"
#include "optout/util.h"

#define SURVEY_HEADER "# host\tcrawl\tdocs\ttokens\n"
#define NO_CRAWL "-"

struct counts {
    uint64_t docs, tokens;
};

struct optout_survey {
    optout_strmap *rows; /* "host \t crawl" -> struct counts */
};

optout_survey *optout_survey_new(void) {
    optout_survey *s = calloc(1, sizeof *s);
    if (s && !(s->rows = optout_strmap_new())) {
        free(s);
        return NULL;
    }
    return s;
}

void optout_survey_free(optout_survey *s) {
    if (!s) return;
    optout_strmap_free(s->rows, free);
    free(s);
}

int optout_survey_add(optout_survey *s, const char *host, size_t len, const char *crawl, uint64_t docs,
                      uint64_t tokens) {
    char key[OPTOUT_HOSTKEY_MAX + OPTOUT_HISTORY_CRAWL_MAX + 2];
    const char *c = crawl && crawl[0] ? crawl : NO_CRAWL;
    size_t clen = strlen(c);
    if (len + clen + 1 > sizeof key) {
        errno = EINVAL;
        return -1;
    }
    memcpy(key, host, len);
    key[len] = '\t';
    memcpy(key + len + 1, c, clen);
    struct counts *n = optout_strmap_get(s->rows, key, len + 1 + clen);
    if (!n) {
        if (!(n = calloc(1, sizeof *n)) || optout_strmap_put(s->rows, key, len + 1 + clen, n, NULL) != 0) {
            free(n);
            return -1;
        }
    }
    n->docs += docs;
    n->tokens += tokens;
    return 0;
}

/* The rows in key order: (host, crawl), since '\t' sorts below every byte of a host key. */
struct row {
    const char *key;
    size_t len;
    const struct counts *n;
};

struct collect {
    struct row *rows;
    size_t n;
};

static int collect_row(const char *key, size_t len, void *value, void *arg) {
    struct collect *c = arg;
    c->rows[c->n++] = (struct row){key, len, value};
    return 0;
}

static int row_cmp(const void *a, const void *b) {
    const struct row *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static struct row *sorted_rows(const optout_survey *s, size_t *n) {
    struct collect c = {malloc((optout_strmap_count(s->rows) + 1) * sizeof *c.rows), 0};
    if (!c.rows) return NULL;
    optout_strmap_each(s->rows, collect_row, &c);
    qsort(c.rows, c.n, sizeof *c.rows, row_cmp);
    *n = c.n;
    return c.rows;
}

/* What a file holds: the rows (with their counts), or the distinct hosts. */
enum survey_form { FORM_ROWS, FORM_HOSTS };

/* Writes the sorted rows in the form to path, published whole (files.h). 0, or -1 with err. */
static int write_form(const struct row *rows, size_t n, enum survey_form form, const char *path, char *err,
                      size_t errlen) {
    optout_publish pub = {0};
    FILE *f = optout_publish_open(&pub, path, 0644, err, errlen);
    if (!f) return -1;
    if (form == FORM_ROWS) fputs(SURVEY_HEADER, f);
    for (size_t i = 0; i < n; i++) {
        size_t hl = (size_t)((const char *)memchr(rows[i].key, '\t', rows[i].len) - rows[i].key);
        if (form == FORM_ROWS)
            fprintf(f, "%.*s\t%" PRIu64 "\t%" PRIu64 "\n", (int)rows[i].len, rows[i].key, rows[i].n->docs,
                    rows[i].n->tokens);
        else if (i == 0 || hl != (size_t)((const char *)memchr(rows[i - 1].key, '\t', rows[i - 1].len) - rows[i - 1].key) ||
                 memcmp(rows[i].key, rows[i - 1].key, hl) != 0) /* sorted: a host's rows are together */
            fprintf(f, "%.*s\n", (int)hl, rows[i].key);
    }
    return optout_publish_commit(&pub, err, errlen);
}

int optout_survey_write(const optout_survey *s, const char *path, char *err, size_t errlen) {
    size_t n = 0;
    struct row *rows = sorted_rows(s, &n);
    if (!rows) {
        optout_set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = write_form(rows, n, FORM_ROWS, path, err, errlen);
    free(rows);
    return rc;
}

/* A decimal count of the whole field. */
static int parse_count(const char *s, size_t len, uint64_t *v) {
    if (len == 0 || len > 20) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int optout_survey_read(const char *path, optout_survey_row_fn fn, void *arg, char *err, size_t errlen) {
    FILE *f = fopen(path, "re");
    if (!f) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[0] == '#') continue;
        if (line[got - 1] != '\n') {
            rc = -1;
            break;
        }
        char *field[4], *p = line;
        size_t len[4];
        int k = 0;
        for (; k < 4; k++) {
            field[k] = p;
            char *end = k < 3 ? memchr(p, '\t', (size_t)(line + got - 1 - p)) : line + got - 1;
            if (!end) break;
            len[k] = (size_t)(end - p);
            p = end + 1;
        }
        char crawl[OPTOUT_HISTORY_CRAWL_MAX];
        uint64_t docs, tokens;
        int crawl_ok = k == 4 && ((len[1] == 1 && field[1][0] == '-') ||
                                  (len[1] == OPTOUT_HISTORY_CRAWL_MAX - 1 &&
                                   optout_history_find_crawl(field[1], len[1], crawl) &&
                                   memcmp(crawl, field[1], len[1]) == 0));
        if (!crawl_ok || len[0] == 0 || len[0] >= OPTOUT_HOSTKEY_MAX || memchr(field[0], '\t', len[0]) ||
            parse_count(field[2], len[2], &docs) != 0 || parse_count(field[3], len[3], &tokens) != 0) {
            rc = -1;
            break;
        }
        field[0][len[0]] = '\0';
        field[1][len[1]] = '\0';
        if (fn(field[0], len[0], field[1], docs, tokens, arg) != 0) {
            optout_set_err(err, errlen, "out of memory reading %s", path);
            rc = -2;
        }
    }
    if (rc == 0 && ferror(f)) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        rc = -2;
    }
    if (rc == -1) optout_set_err(err, errlen, "%s line %zu: not a survey row (host, crawl, docs, tokens)", path, lineno);
    fclose(f);
    free(line);
    return rc ? -1 : 0;
}

static int add_row(const char *host, size_t len, const char *crawl, uint64_t docs, uint64_t tokens, void *arg) {
    return optout_survey_add(arg, host, len, crawl, docs, tokens);
}

static int crawl_cmp(const void *a, const void *b) {
    const optout_survey_crawl *x = a, *y = b;
    int xn = strcmp(x->crawl, NO_CRAWL) == 0, yn = strcmp(y->crawl, NO_CRAWL) == 0;
    return xn != yn ? xn - yn : strcmp(x->crawl, y->crawl);
}

static int copy_crawl(const char *key, size_t len, void *value, void *arg) {
    (void)key, (void)len;
    optout_survey_summary *sum = arg;
    sum->crawls[sum->crawl_count++] = *(const optout_survey_crawl *)value;
    return 0;
}

/* The per-crawl totals and the distinct hosts of the sorted rows. 0, or -1 (out of memory). */
static int summarise(const struct row *rows, size_t n, optout_survey_summary *sum) {
    memset(sum, 0, sizeof *sum);
    optout_strmap *by_crawl = optout_strmap_new();
    if (!by_crawl) return -1;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tab = memchr(rows[i].key, '\t', rows[i].len);
        size_t hl = (size_t)(tab - rows[i].key), cl = rows[i].len - hl - 1;
        if (!prev || prev_len != hl || memcmp(prev, rows[i].key, hl) != 0) sum->hosts++;
        prev = rows[i].key, prev_len = hl;
        optout_survey_crawl *c = optout_strmap_get(by_crawl, tab + 1, cl);
        if (!c) {
            if (!(c = calloc(1, sizeof *c)) || optout_strmap_put(by_crawl, tab + 1, cl, c, NULL) != 0) {
                free(c);
                optout_strmap_free(by_crawl, free);
                return -1;
            }
            memcpy(c->crawl, tab + 1, cl);
        }
        c->docs += rows[i].n->docs;
        c->tokens += rows[i].n->tokens;
        c->hosts++;
        sum->docs += rows[i].n->docs;
        sum->tokens += rows[i].n->tokens;
    }
    if (!(sum->crawls = malloc((optout_strmap_count(by_crawl) + 1) * sizeof *sum->crawls))) {
        optout_strmap_free(by_crawl, free);
        return -1;
    }
    optout_strmap_each(by_crawl, copy_crawl, sum);
    qsort(sum->crawls, sum->crawl_count, sizeof *sum->crawls, crawl_cmp);
    optout_strmap_free(by_crawl, free);
    return 0;
}

int optout_survey_merge(const char *const *parts, size_t count, const char *out, const char *hosts_out,
                        optout_survey_summary *sum, char *err, size_t errlen) {
    memset(sum, 0, sizeof *sum);
    optout_survey *s = optout_survey_new();
    if (!s) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) rc = optout_survey_read(parts[i], add_row, s, err, errlen);
    if (rc == 0 && out) rc = optout_survey_write(s, out, err, errlen);
    size_t n = 0;
    struct row *rows = rc == 0 ? sorted_rows(s, &n) : NULL;
    if (rc == 0 && (!rows || summarise(rows, n, sum) != 0)) {
        optout_set_err(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc == 0 && hosts_out) rc = write_form(rows, n, FORM_HOSTS, hosts_out, err, errlen);
    free(rows);
    optout_survey_free(s);
    return rc;
}

void optout_survey_summary_free(optout_survey_summary *sum) {
    free(sum->crawls);
    memset(sum, 0, sizeof *sum);
}
