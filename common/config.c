/* config.c — the configuration file: parser, and the argv a program's own option parsing validates
 * (include/optout/config.h).
 *
 * A program's file entries become "--KEY=VALUE" arguments in front of its command line, so the one
 * getopt_long loop of the program validates both, and the last occurrence of a scalar wins. Which
 * keys the command line overrides is found by a first getopt_long pass over a copy of the command
 * line with the program's own table (abbreviations, "--k v" and "--k=v", short aliases and "--"
 * handled as the real pass will). Each generated argument remembers its FILE:LINE; optout_log()
 * asks where_now() for a prefix, which names the entry whose value getopt's optarg points into
 * (optarg is NULL between options and after the loop, so nothing else gets a prefix).
 *
 * Internal option for `optout config check` (cli/cmd_config.c), consumed here like --config:
 *   --config-section NAME   use [NAME] instead of the program's own section, skip its keys the
 *                           program lacks, and with --check-config print nothing: `optout run`
 *                           hands most of its options to optout-broker, which validates them so.
 */
#include "optout/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/log.h"
#include "optout/options.h"
#include "optout/util.h"

const char *const optout_config_sections[] = {"common", "broker", "worker", "run", "fetch", "filter", "rank", "history", NULL};

struct optout_config {
    char *name;
    optout_config_entry *e;
    size_t n, cap;
};

/* ---- the file ------------------------------------------------------------------------------ */

void optout_config_free(optout_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free((char *)c->e[i].key);
        free((char *)c->e[i].value);
    }
    free(c->e);
    free(c->name);
    free(c);
}

const char *optout_config_name(const optout_config *c) { return c->name; }
size_t optout_config_count(const optout_config *c) { return c->n; }
const optout_config_entry *optout_config_at(const optout_config *c, size_t i) { return i < c->n ? &c->e[i] : NULL; }

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static void trim(const char **s, const char **e) {
    while (*s < *e && is_blank(**s)) (*s)++;
    while (*e > *s && is_blank((*e)[-1])) (*e)--;
}

/* What follows a quoted value or a section header: nothing, or a comment. */
static int only_comment(const char *s, const char *e) {
    trim(&s, &e);
    return s == e || *s == '#' || *s == ';';
}

/* The value in [s, e) unquoted into a new string; NULL with *why on error. */
static char *parse_value(const char *s, const char *e, const char **why) {
    char *out = malloc((size_t)(e - s) + 1), *o = out;
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    trim(&s, &e);
    if (s < e && (*s == '"' || *s == '\'')) {
        char q = *s++;
        for (;; s++) {
            if (s == e) {
                *why = q == '"' ? "unterminated \"quoted\" value" : "unterminated 'quoted' value";
                free(out);
                return NULL;
            }
            if (*s == q) break;
            if (q == '"' && *s == '\\' && s + 1 < e && (s[1] == '"' || s[1] == '\\')) s++;
            *o++ = *s;
        }
        if (!only_comment(s + 1, e)) {
            *why = "text after the quoted value (quote the whole value)";
            free(out);
            return NULL;
        }
    } else {
        const char *end = s;
        while (end < e && !((*end == '#' || *end == ';') && (end == s || is_blank(end[-1])))) end++;
        trim(&s, &end);
        if (s == end) {
            *why = "empty value (write key = \"\" for an empty string)";
            free(out);
            return NULL;
        }
        memcpy(o, s, (size_t)(end - s));
        o += end - s;
    }
    *o = '\0';
    return out;
}

static int key_char(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; }

optout_config *optout_config_parse(const char *name, const char *text, size_t len, char *err, size_t errlen) {
    optout_config *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        optout_set_err(err, errlen, "%s: out of memory", name);
        optout_config_free(c);
        return NULL;
    }
    const char *p = text, *end = text + len, *section = NULL;
    unsigned line = 0;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = eol ? eol : end;
        p = eol ? eol + 1 : end;
        line++;
        const char *why = NULL;
        char whybuf[300];
        if (e - s > OPTOUT_CONFIG_LINE_MAX) {
            snprintf(whybuf, sizeof whybuf, "line longer than %d bytes", OPTOUT_CONFIG_LINE_MAX);
            why = whybuf;
            goto fail;
        }
        if (e > s && e[-1] == '\r') e--;
        if (memchr(s, '\0', (size_t)(e - s))) {
            why = "NUL byte in the line";
            goto fail;
        }
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close || !only_comment(close + 1, e)) {
                why = "expected a section header '[name]'";
                goto fail;
            }
            const char *ns = s + 1, *ne = close;
            trim(&ns, &ne);
            section = NULL;
            for (size_t i = 0; optout_config_sections[i]; i++)
                if (strlen(optout_config_sections[i]) == (size_t)(ne - ns) &&
                    memcmp(optout_config_sections[i], ns, (size_t)(ne - ns)) == 0)
                    section = optout_config_sections[i];
            if (!section) {
                snprintf(whybuf, sizeof whybuf,
                         "unknown section [%.*s] (sections: [common], [broker], [worker], [run], [fetch], [filter], "
                         "[rank], [history])",
                         (int)(ne - ns > 64 ? 64 : ne - ns), ns);
                why = whybuf;
                goto fail;
            }
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            why = "expected 'key = value' (no '=')";
            goto fail;
        }
        const char *ks = s, *ke = eq;
        trim(&ks, &ke);
        if (ks == ke) {
            why = "no key before '='";
            goto fail;
        }
        for (const char *k = ks; k < ke; k++)
            if (!key_char(*k)) {
                snprintf(whybuf, sizeof whybuf, "bad key '%.*s' (keys are option names: lower case, digits, '-')",
                         (int)(ke - ks > 64 ? 64 : ke - ks), ks);
                why = whybuf;
                goto fail;
            }
        if (!section) {
            snprintf(whybuf, sizeof whybuf, "'%.*s' before any section (start with [common] or a program's section)",
                     (int)(ke - ks > 64 ? 64 : ke - ks), ks);
            why = whybuf;
            goto fail;
        }
        char *value = parse_value(eq + 1, e, &why);
        if (!value) goto fail;
        char *key = strndup(ks, (size_t)(ke - ks));
        if (!key || (c->n == c->cap && !(c->e = realloc(c->e, (c->cap = c->cap ? c->cap * 2 : 16) * sizeof *c->e)))) {
            free(key);
            free(value);
            why = "out of memory";
            goto fail;
        }
        c->e[c->n++] = (optout_config_entry){.section = section, .key = key, .value = value, .line = line};
        continue;
    fail:
        optout_set_err(err, errlen, "%s:%u: %s", name, line, why);
        optout_config_free(c);
        return NULL;
    }
    return c;
}

optout_config *optout_config_load(const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = optout_read_file(path, (size_t)16 << 20, &len);
    if (!text) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    optout_config *c = optout_config_parse(path, text, len, err, errlen);
    free(text);
    return c;
}

int optout_config_settable(const char *key) {
    /* one-shot actions, and the hooks of tests and benchmarks: never configuration */
    static const char *const not_settable[] = {"help",           "version",     "config", "check-config",
                                               "config-section", NULL};
    for (size_t i = 0; not_settable[i]; i++)
        if (strcmp(key, not_settable[i]) == 0) return 0;
    for (const optout_option *o = optout_option_table; o->name; o++)
        if (o->hidden && strcmp(o->name, key) == 0) return 0;
    return 1;
}

/* ---- a program's arguments ----------------------------------------------------------------- */

/* One value of the effective configuration: an argument made from the file, or from the command
 * line (line 0), or a false boolean of the file (arg NULL: no argument made). */
struct value {
    size_t opt; /* index in the program's table */
    const char *text;
    unsigned line;
    char *arg; /* the generated "--KEY=VALUE"; optarg points into it while it is parsed */
    size_t arg_len;
};

static struct {
    const char *section, *file;
    const struct option *options;
    struct value *v;
    size_t nv;
    int checking, quiet;
    optout_config *cfg; /* kept: the values point into it */
    char **argv;        /* the new argv, kept until exit */
    char where[4200];
} S;

static const char *where_now(void) {
    const char *a = optarg;
    if (!a) return NULL;
    for (size_t i = 0; i < S.nv; i++)
        if (S.v[i].arg && a >= S.v[i].arg && a <= S.v[i].arg + S.v[i].arg_len) {
            snprintf(S.where, sizeof S.where, "%s:%u", S.file, S.v[i].line);
            return S.where;
        }
    return NULL;
}

static int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "1", NULL}, *const no[] = {"false", "no", "off", "0", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
    for (size_t i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
    return -1;
}

static int add_value(size_t opt, const char *text, unsigned line) {
    struct value *nv = realloc(S.v, (S.nv + 1) * sizeof *S.v);
    if (!nv) return -1;
    S.v = nv;
    S.v[S.nv++] = (struct value){.opt = opt, .text = text, .line = line};
    return 0;
}

/* The default of an option, for --check-config: documentation, not behaviour, from the option
 * table (options.h). NULL: none worth printing (unset). */
static const char *default_of(const char *section, const char *key) { return optout_option_default(section, key); }

/* Prints a value so that the output reads back as the same value. */
static void print_value(FILE *f, const char *v) {
    size_t n = strlen(v);
    int quote = n == 0 || is_blank(v[0]) || is_blank(v[n - 1]) || v[0] == '"' || v[0] == '\'' || strpbrk(v, "#;");
    if (!quote) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void print_effective(FILE *f) {
    fprintf(f, "[%s]\n", S.section);
    for (size_t j = 0; S.options[j].name; j++) {
        const char *key = S.options[j].name;
        if (!optout_config_settable(key)) continue;
        int any = 0;
        for (size_t i = 0; i < S.nv; i++) {
            if (S.v[i].opt != j) continue;
            any = 1;
            fprintf(f, "%s = ", key);
            print_value(f, S.v[i].text);
            if (S.v[i].line) fprintf(f, "  # %s:%u\n", S.file, S.v[i].line);
            else fputs("  # command line\n", f);
        }
        if (any) continue;
        const char *d = default_of(S.section, key);
        if (!d && S.options[j].has_arg == no_argument) d = "false";
        if (d) fprintf(f, "# %s = %s  (default)\n", key, d);
        else fprintf(f, "# %s  (default: not set)\n", key);
    }
}

/* The file's entries that apply, in order: [common], then the section, each as a value with its
 * "--KEY=VALUE" argument (a key the command line gives is left out). 0, or OPTOUT_EXIT_USAGE after
 * a message naming FILE:LINE. */
static int file_values(const char *path, const struct option *options, size_t nopt, const unsigned char *given,
                       int other_section) {
    char err[4400];
    optout_config *c = NULL;
    unsigned char *in_section = NULL;
    size_t *entry_opt = NULL;
    int rc = OPTOUT_EXIT_USAGE;
    if (path && !(c = optout_config_load(path, err, sizeof err))) {
        optout_log(LOG_ERR, "%s", err);
        goto out;
    }
    size_t n = c ? optout_config_count(c) : 0;
    in_section = calloc(nopt + 1, 1);
    entry_opt = calloc(n + 1, sizeof *entry_opt);
    if (!in_section || !entry_opt) exit(OPTOUT_EXIT_FAILURE);
    S.file = path;
    for (size_t i = 0; i < n; i++) {
        const optout_config_entry *e = optout_config_at(c, i);
        entry_opt[i] = nopt;
        int mine = strcmp(e->section, S.section) == 0;
        if (!mine && strcmp(e->section, "common") != 0) continue;
        size_t j = 0;
        while (j < nopt && !(optout_config_settable(e->key) && strcmp(options[j].name, e->key) == 0)) j++;
        if (j == nopt) {
            if (!mine || other_section) continue;
            if (strcmp(e->key, "redis-password") == 0)
                optout_log(LOG_ERR, "%s:%u: redis-password: secrets are never in the configuration: put the "
                                    "password alone in a file only the service can read, and give "
                                    "redis-password-file = FILE", path, e->line);
            else
                optout_log(LOG_ERR, "%s:%u: unknown key '%s' in [%s] (not an option of %s%s)", path, e->line, e->key,
                           S.section, strcmp(S.section, "broker") == 0 || strcmp(S.section, "worker") == 0
                                          ? "optout-" : "optout ", S.section);
            goto out;
        }
        entry_opt[i] = j;
        if (mine) in_section[j] = 1;
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            const optout_config_entry *e = optout_config_at(c, i);
            size_t j = entry_opt[i];
            if (j == nopt || given[j] || (strcmp(e->section, "common") == 0) != (pass == 0)) continue;
            if (pass == 0 && in_section[j]) continue; /* the section's values replace [common]'s */
            int on = 1;
            if (options[j].has_arg == no_argument && parse_bool(e->value, &on) != 0) {
                optout_log(LOG_ERR, "%s:%u: %s: expected true or false, got '%s'", path, e->line, e->key, e->value);
                goto out;
            }
            if (add_value(j, e->value, e->line) != 0) exit(OPTOUT_EXIT_FAILURE);
            if (!on) continue;
            struct value *v = &S.v[S.nv - 1];
            size_t len = strlen(e->key) + strlen(e->value) + 4;
            if (!(v->arg = malloc(len))) exit(OPTOUT_EXIT_FAILURE);
            if (options[j].has_arg == no_argument) snprintf(v->arg, len, "--%s", e->key);
            else snprintf(v->arg, len, "--%s=%s", e->key, e->value);
            v->arg_len = strlen(v->arg);
        }
    S.cfg = c; /* the values print as the file gave them: its strings live until exit */
    c = NULL;
    rc = 0;
out:
    optout_config_free(c);
    free(in_section);
    free(entry_opt);
    return rc;
}

int optout_config_args(const char *section, const struct option *options, const char *shortopts, int *argcp,
                       char ***argvp) {
    int argc = *argcp;
    char **argv = *argvp;
    size_t nopt = 0;
    while (options[nopt].name) nopt++;
    enum { X_CONFIG, X_CHECK, X_SECTION, X_COUNT };
    struct option *ext = calloc(nopt + X_COUNT + 1, sizeof *ext);
    char **tmp = calloc((size_t)argc + 1, sizeof *tmp);
    char **drop = calloc((size_t)argc + 1, sizeof *drop);
    unsigned char *given = calloc(nopt + 1, 1);
    if (!ext || !tmp || !drop || !given) {
        optout_log(LOG_ERR, "out of memory");
        exit(OPTOUT_EXIT_FAILURE);
    }
    memcpy(ext, options, nopt * sizeof *ext);
    ext[nopt + X_CONFIG] = (struct option){"config", required_argument, NULL, 0};
    ext[nopt + X_CHECK] = (struct option){"check-config", no_argument, NULL, 0};
    ext[nopt + X_SECTION] = (struct option){"config-section", required_argument, NULL, 0};
    memcpy(tmp, argv, (size_t)argc * sizeof *tmp);

    /* pass 1 over a copy of the command line: what it sets, and where the file is */
    const char *path = NULL, *other_section = NULL;
    int ndrop = 0, opt, li;
    for (size_t i = 0; i < S.nv; i++) free(S.v[i].arg); /* a second call (tests): the first one's */
    free(S.v);
    free(S.argv);
    optout_config_free(S.cfg);
    S = (typeof(S)){.section = section, .options = options};
    opterr = 0;
    optind = 0;
    for (li = -1; (opt = getopt_long(argc, tmp, shortopts, ext, &li)) != -1; li = -1) {
        if (opt == '?' || opt == ':') continue;
        size_t j = nopt;
        if (li >= 0 && (size_t)li < nopt) j = (size_t)li;
        else if (li < 0)
            for (size_t k = 0; k < nopt && j == nopt; k++)
                if (!options[k].flag && options[k].val == opt) j = k;
        if (j < nopt) {
            given[j] = 1;
            if (add_value(j, options[j].has_arg && optarg ? optarg : "true", 0) != 0) exit(OPTOUT_EXIT_FAILURE);
            continue;
        }
        if (li < 0) continue;
        drop[ndrop++] = tmp[optind - 1];
        if (optarg && optarg == tmp[optind - 1]) drop[ndrop++] = tmp[optind - 2];
        switch ((size_t)li - nopt) {
        case X_CONFIG: path = optarg; break;
        case X_CHECK: S.checking = 1; break;
        case X_SECTION: other_section = optarg; break;
        }
    }
    optind = 0; /* the program's own pass starts afresh */
    free(tmp);
    if (other_section) {
        S.section = other_section;
        S.quiet = 1;
    }
    if (!path) {
        const char *env = getenv("OPTOUT_CONFIG");
        struct stat st;
        if (env) path = *env ? env : NULL;
        else if (stat(OPTOUT_CONFIG_DEFAULT, &st) == 0) path = OPTOUT_CONFIG_DEFAULT;
    }

    /* the file's entries that apply */
    size_t first_file_value = S.nv;
    int rc = file_values(path, options, nopt, given, other_section != NULL);
    if (rc != 0) goto out;

    /* argv[0], the file's arguments, then the command line without the consumed options */
    char **nargv = calloc((size_t)argc + (S.nv - first_file_value) + 1, sizeof *nargv);
    if (!nargv) exit(OPTOUT_EXIT_FAILURE);
    int m = 0;
    nargv[m++] = argv[0];
    for (size_t i = first_file_value; i < S.nv; i++)
        if (S.v[i].arg) nargv[m++] = S.v[i].arg;
    for (int i = 1; i < argc; i++) {
        int dropped = 0;
        for (int k = 0; k < ndrop && !dropped; k++) dropped = argv[i] == drop[k];
        if (!dropped) nargv[m++] = argv[i];
    }
    nargv[m] = NULL;
    *argcp = m;
    *argvp = S.argv = nargv;
    optout_log_set_where(where_now);
out:
    free(given);
    free(ext);
    free(drop);
    return rc;
}

void optout_config_done(void) {
    optout_log_set_where(NULL);
    if (!S.checking) return;
    if (!S.quiet) print_effective(stdout);
    fflush(stdout);
    _exit(OPTOUT_EXIT_OK);
}
