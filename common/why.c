/* why.c — `optout why` from a run directory alone (include/optout/why.h).
 *
 * Decisions go through the very code the filter runs: optout_hostkey_cached() for the host key,
 * the directory or archive verdict source for outcome and compiled rules, optout_robots_check() for
 * the disallowed agents. Only the descriptive part (the fetch record's fields, the rule that
 * decided) is read here: archive index lines through optout_archive_scan(), a robots directory's
 * file names through robots_dir_scan() and its index.tsv line by line.
 */
#include "optout/why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "doc_fields.h"
#include "optout/archive.h"
#include "optout/docsource.h"
#include "optout/jsonl.h"
#include "optout/shard.h"
#include "optout/strmap.h"
#include "optout/util.h"
#include "optout/verdicts.h"
#include "robots_dir_scan.h"

_Static_assert(F_URL == 0 && F_META_URL == 1, "optout_doc_url reads the first two values");

struct record {
    optout_why_record pub;
    char *where, *file, *fetched_at, *sha256, *final_url, *error;
    int loaded; /* looked for in the snapshot (found or not) */
};

struct optout_why {
    optout_why_config cfg;
    char *dir, *robots_dir, *archive, *top_en, *top_intl, *hosts, *unknown;
    optout_agents *agents;
    optout_inputs inputs;
    optout_verdicts *verdicts;
    optout_strmap *dir_files; /* robots directory: host key -> struct robots_dir_host */
    optout_strmap *records;   /* host key -> struct record, for the hosts met so far */
    struct optout_hostkey_entry *cache;
    optout_robots_explanation explain[OPTOUT_AGENTS_MAX];
    char *keep_hosts, *remove_hosts;
    char *hist[5]; /* history, robots-time, history-max-age, history-missing, report-cutoff (plan order) */
    char *fields[2]; /* dump-field, date-field: where the filter read a document's crawl and date */
    int read_captures; /* the plan names --cc-robots, --cc-crawls or --wayback: the run's own DIR/history/ */
    optout_policy policy; /* its overrides and domains are owned here */
    char domain[OPTOUT_HOSTKEY_MAX];
};

static void record_free(void *p) {
    struct record *r = p;
    if (!r) return;
    free(r->where);
    free(r->file);
    free(r->fetched_at);
    free(r->sha256);
    free(r->final_url);
    free(r->error);
    free(r);
}

void optout_why_close(optout_why *w) {
    if (!w) return;
    optout_verdicts_free(w->verdicts);
    if (w->dir_files) optout_strmap_free(w->dir_files, robots_dir_host_free);
    if (w->records) optout_strmap_free(w->records, record_free);
    optout_agents_free(w->agents);
    optout_inputs_free(&w->inputs);
    free(w->cache);
    free(w->dir);
    free(w->robots_dir);
    free(w->archive);
    free(w->top_en);
    free(w->top_intl);
    free(w->hosts);
    free(w->unknown);
    free(w->keep_hosts);
    free(w->remove_hosts);
    for (int i = 0; i < 5; i++) free(w->hist[i]);
    for (int i = 0; i < 2; i++) free(w->fields[i]);
    optout_overrides_free((optout_overrides *)w->policy.overrides);
    optout_domains_free((optout_domains *)w->policy.domains);
    free(w);
}

const optout_why_config *optout_why_config_of(const optout_why *w) {
    return &w->cfg;
}

/* ---- the plan ------------------------------------------------------------------------------ */

/* Options the broker plans that do not change a URL's decision, or whose value is a default that
 * leaves the per-URL decision as modelled here. */
static int known_option(const char *name, const char *value) {
    static const char *const neutral[] = {"allow-private", "connect-to", "corpus", "fetch-tasks", "keep-format",
                                          "level", "metric", "missing-url", "output", "output-format", "parquet-compression",
                                          "partitions", "removed", "scheme", "user-agent"};
    for (size_t i = 0; i < sizeof neutral / sizeof *neutral; i++)
        if (strcmp(name, neutral[i]) == 0) return 1;
    if (strcmp(name, "robots-time") == 0 && strcmp(value, "current") == 0) return 1; /* today's robots.txt */
    static const char *const defaults[] = {"", "no", "0", "url", "keep", "shards"};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (strcmp(value, defaults[i]) == 0) return 1;
    return 0;
}

/* The plan's options of robots.txt as it was: their index in optout_why's hist[], else -1. */
static int history_option(const char *name) {
    static const char *const names[5] = {"history", "robots-time", "history-max-age", "history-missing",
                                         "report-cutoff"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

/* The options of DIR/plan (read and checked by optout_plan_read()). */
static int read_options(optout_why *w, const optout_plan *p, const char *plan, char *agents, size_t agents_cap,
                        char *err, size_t errlen) {
    int have_agents = 0, rc = 0;
    char mode[32] = "rfc9309", host_key[32] = "canonical", unreachable[32] = "keep";
    for (size_t k = 0; k < p->option_count; k++) {
        const char *name = p->options[k].name, *value = p->options[k].value;
        if (strcmp(name, "agents") == 0) {
            snprintf(agents, agents_cap, "%s", value);
            have_agents = 1;
        } else if (strcmp(name, "mode") == 0) {
            snprintf(mode, sizeof mode, "%s", value);
        } else if (strcmp(name, "host-key") == 0) {
            snprintf(host_key, sizeof host_key, "%s", value);
        } else if (strcmp(name, "unreachable") == 0) {
            snprintf(unreachable, sizeof unreachable, "%s", value);
        } else if (strcmp(name, "robots-dir") == 0) {
            free(w->robots_dir);
            w->robots_dir = optout_strdup(value);
        } else if (strcmp(name, "top-en") == 0) {
            free(w->top_en);
            w->top_en = optout_strdup(value);
        } else if (strcmp(name, "top-intl") == 0) {
            free(w->top_intl);
            w->top_intl = optout_strdup(value);
        } else if (strcmp(name, "hosts") == 0) {
            free(w->hosts);
            w->hosts = optout_strdup(value);
        } else if (strcmp(name, "granularity") == 0) {
            optout_granularity g;
            if (optout_granularity_parse(value, &g) != 0) {
                optout_set_err(err, errlen, "%s: unknown granularity \"%s\"", plan, value);
                rc = -1;
                break;
            }
            w->policy.granularity = g;
        } else if (strcmp(name, "keep-hosts") == 0) {
            free(w->keep_hosts);
            w->keep_hosts = optout_strdup(value);
        } else if (strcmp(name, "remove-hosts") == 0) {
            free(w->remove_hosts);
            w->remove_hosts = optout_strdup(value);
        } else if (strcmp(name, "overrides-sha256") == 0) {
            continue; /* the lists' content, checked by the broker on resume */
        } else if (history_option(name) >= 0) { /* robots.txt as it was: handed to optout why --history */
            int i = history_option(name);
            free(w->hist[i]);
            w->hist[i] = optout_strdup(value);
        } else if (strcmp(name, "dump-field") == 0 || strcmp(name, "date-field") == 0) {
            int i = strcmp(name, "dump-field") == 0 ? 0 : 1; /* the documents' time, as the filter read it */
            free(w->fields[i]);
            w->fields[i] = optout_strdup(value);
        } else if ((strcmp(name, "cc-robots") == 0 || strcmp(name, "cc-crawls") == 0 || strcmp(name, "wayback") == 0) &&
                   value[0]) {
            w->read_captures = 1;
        } else if (strcmp(name, "cc-base") == 0 || strcmp(name, "cc-robots-files") == 0 ||
                   strncmp(name, "wayback-", 8) == 0) {
            continue; /* which captures the run's archive holds: the archive itself is read */
        } else if (!known_option(name, value)) {
            size_t have = strlen(w->unknown), need = have + strlen(name) + strlen(value) + 6;
            char *u = optout_malloc(need);
            snprintf(u, need, "%s%s--%s %s", w->unknown, have ? ", " : "", name, value);
            free(w->unknown);
            w->unknown = u;
        }
    }
    if (!have_agents || !agents[0]) {
        optout_set_err(err, errlen,
                       "%s records no agent list (option agents): cannot say which agents the run decided for", plan);
        return -1;
    }
    if (optout_robots_mode_parse(mode, &w->cfg.mode) != 0) {
        optout_set_err(err, errlen, "%s: unknown mode \"%s\"", plan, mode);
        rc = -1;
    } else if (optout_hostkey_mode_parse(host_key, &w->cfg.host_key) != 0) {
        optout_set_err(err, errlen, "%s: unknown host-key \"%s\"", plan, host_key);
        rc = -1;
    } else if (strcmp(unreachable, "keep") != 0 && strcmp(unreachable, "disallow") != 0) {
        optout_set_err(err, errlen, "%s: unknown unreachable policy \"%s\"", plan, unreachable);
        rc = -1;
    }
    w->cfg.unreachable_disallows = strcmp(unreachable, "disallow") == 0;
    return rc;
}

/* The plan writes the agents joined by ','. */
static int parse_agents(optout_why *w, const char *plan, const char *list, char *err, size_t errlen) {
    if (!(w->agents = optout_agents_new())) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (optout_agents_add(w->agents, p, n) != 0) {
            optout_set_err(err, errlen, "%s: agent \"%.*s\" of the plan's agent list: %s", plan, (int)n, p,
                           strerror(errno));
            return -1;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

optout_why *optout_why_open(const char *dir, char *err, size_t errlen) {
    optout_why *w = calloc(1, sizeof *w);
    if (!w) {
        optout_set_err(err, errlen, "out of memory");
        return NULL;
    }
    w->dir = optout_strdup(dir);
    w->robots_dir = optout_strdup("");
    w->archive = optout_strdup("");
    w->top_en = optout_strdup("");
    w->top_intl = optout_strdup("");
    w->hosts = optout_strdup("");
    w->unknown = optout_strdup("");
    for (int i = 0; i < 5; i++) w->hist[i] = optout_strdup("");
    for (int i = 0; i < 2; i++) w->fields[i] = optout_strdup("");
    w->keep_hosts = optout_strdup("");
    w->remove_hosts = optout_strdup("");
    char plan[4200];
    char *agents = optout_malloc(16384);
    snprintf(plan, sizeof plan, "%s/plan", dir);
    struct stat st;
    if (stat(dir, &st) != 0) {
        optout_set_err(err, errlen, "run directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        optout_set_err(err, errlen, "run directory %s: not a directory", dir);
        goto fail;
    }
    if (stat(plan, &st) != 0) {
        optout_set_err(err, errlen, "%s has no plan (%s: %s): not a run directory, or a run that never started", dir,
                       plan, strerror(errno));
        goto fail;
    }
    optout_plan p;
    if (optout_plan_read(dir, &p, err, errlen) != 0) goto fail;
    int orc = read_options(w, &p, plan, agents, 16384, err, errlen);
    w->inputs = p.inputs; /* the inputs move into w */
    p.inputs = (optout_inputs){0};
    optout_plan_free(&p);
    if (orc != 0 || parse_agents(w, plan, agents, err, errlen) != 0) goto fail;
    if (!(w->records = optout_strmap_new()) ||
        !(w->cache = calloc(OPTOUT_HOSTKEY_CACHE, sizeof *w->cache))) {
        optout_set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (w->robots_dir[0]) {
        int missing = stat(w->robots_dir, &st) != 0;
        if (missing || !S_ISDIR(st.st_mode)) {
            optout_set_err(err, errlen,
                           "the robots directory the run used (%s, option robots-dir of %s) is missing: %s",
                           w->robots_dir, plan, missing ? strerror(errno) : "not a directory");
            goto fail;
        }
        if (!(w->dir_files = optout_strmap_new())) {
            optout_set_err(err, errlen, "out of memory");
            goto fail;
        }
        if (robots_dir_scan(w->robots_dir, w->dir_files, sizeof(struct robots_dir_host), err, errlen) < 0) goto fail;
        w->verdicts = optout_verdicts_open_dir(w->robots_dir, w->agents, w->cfg.mode, 0, err, errlen);
    } else {
        free(w->archive);
        w->archive = optout_malloc(strlen(dir) + 8);
        sprintf(w->archive, "%s/robots", dir);
        if (stat(w->archive, &st) != 0 || !S_ISDIR(st.st_mode)) {
            optout_set_err(err, errlen,
                           "%s: no fetch archive (the plan has no robots-dir, so the run fetched robots.txt into it; "
                           "has its fetch stage run?)",
                           w->archive);
            goto fail;
        }
        w->verdicts = optout_verdicts_open_archive(w->archive, w->agents, w->cfg.mode, 0, err, errlen);
    }
    if (!w->verdicts) goto fail;
    if ((w->keep_hosts[0] || w->remove_hosts[0]) &&
        !(w->policy.overrides = optout_overrides_load(w->keep_hosts[0] ? w->keep_hosts : NULL,
                                                      w->remove_hosts[0] ? w->remove_hosts : NULL, w->cfg.host_key, err,
                                                      errlen)))
        goto fail;
    if (w->policy.granularity == OPTOUT_GRANULARITY_DOMAIN) {
        char table[4200];
        snprintf(table, sizeof table, "%s/" OPTOUT_DOMAINS_FILE, dir);
        if (!(w->policy.domains = optout_domains_load(table, w->agents, err, errlen))) goto fail;
    }
    w->cfg.granularity = w->policy.granularity;
    w->cfg.keep_hosts = w->keep_hosts;
    w->cfg.remove_hosts = w->remove_hosts;
    free(agents);
    w->cfg.dir = w->dir;
    w->cfg.agents = w->agents;
    w->cfg.robots_dir = w->robots_dir;
    w->cfg.archive = w->archive;
    w->cfg.top_en = w->top_en;
    w->cfg.top_intl = w->top_intl;
    w->cfg.hosts = w->hosts;
    w->cfg.inputs = &w->inputs;
    w->cfg.unknown_options = w->unknown;
    if (!w->hist[0][0] && w->read_captures) { /* the run's history stage built DIR/history/ */
        free(w->hist[0]);
        w->hist[0] = optout_strdup(dir);
    }
    w->cfg.history = w->hist[0];
    w->cfg.robots_time = w->hist[1];
    w->cfg.history_max_age = w->hist[2];
    w->cfg.history_missing = w->hist[3];
    w->cfg.report_cutoff = w->hist[4];
    w->cfg.dump_field = w->fields[0];
    w->cfg.date_field = w->fields[1];
    return w;
fail:
    free(agents);
    optout_why_close(w);
    return NULL;
}

/* ---- records ------------------------------------------------------------------------------- */

struct archive_load {
    optout_why *w;
    size_t pending; /* hosts still to be found */
};

static int visit_archive(const optout_archive_record *rec, void *arg) {
    struct archive_load *l = arg;
    const optout_fetch_result *r = &rec->r;
    struct record *x = optout_strmap_get(l->w->records, r->host, strlen(r->host));
    if (!x || x->pub.found) return 0;
    char where[512], when[32] = "";
    snprintf(where, sizeof where, "robots/%s.tsv:%zu", rec->pack, rec->line);
    time_t t = (time_t)r->fetched_at;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    free(x->where);
    free(x->fetched_at);
    free(x->sha256);
    free(x->final_url);
    free(x->error);
    x->where = optout_strdup(where);
    x->fetched_at = optout_strdup(when);
    x->sha256 = optout_strdup(r->sha256);
    x->final_url = optout_strdup(r->final_url);
    x->error = optout_strdup(r->error);
    x->pub.found = 1;
    x->pub.status = r->status;
    x->pub.size = (long long)r->body_len;
    x->pub.truncated = r->truncated;
    x->pub.attempts = (long)r->attempts;
    x->pub.time_ms = (long)r->time_ms;
    return --l->pending == 0 ? 1 : 0; /* all found: stop early */
}

/* index.tsv of a robots directory: the lines of hosts still pending. */
static int load_dir_index(optout_why *w, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/index.tsv", w->robots_dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) return 0;
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        char *col[5] = {line, NULL, NULL, NULL, NULL};
        size_t nc = 1;
        for (char *p = line; nc < 5 && (p = strchr(p, '\t')); nc++) {
            *p++ = '\0';
            col[nc] = p;
        }
        char *tab = nc == 5 ? strchr(col[4], '\t') : NULL;
        if (tab) *tab = '\0';
        char key[ROBOTS_DIR_KEY_MAX];
        size_t klen = robots_dir_key(col[0], key, sizeof key);
        if (klen == 0) continue;
        struct record *x = optout_strmap_get(w->records, key, klen);
        if (!x || x->loaded) continue;
        char where[4300];
        snprintf(where, sizeof where, "%s:%zu", path, lineno);
        if (!x->where || !x->where[0]) {
            free(x->where);
            x->where = optout_strdup(where);
        } else { /* a file too: both places */
            char both[8700];
            snprintf(both, sizeof both, "%s (outcome from %s)", x->where, where);
            free(x->where);
            x->where = optout_strdup(both);
        }
        x->pub.found = 1;
        if (nc > 2 && col[2][0] && strcmp(col[2], "-") != 0) x->pub.status = strtol(col[2], NULL, 10);
        if (nc > 3 && strcmp(col[3], "-") != 0) {
            free(x->fetched_at);
            x->fetched_at = optout_strdup(col[3]);
        }
        if (nc > 4 && strcmp(col[4], "-") != 0 && !x->sha256[0]) {
            free(x->sha256);
            x->sha256 = optout_strdup(col[4]);
        }
        x->loaded = 2; /* index line read */
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    if (bad) {
        optout_set_err(err, errlen, "%s: read error", path);
        return -1;
    }
    return 0;
}

/* Creates the records of hosts not met before and reads what the snapshot says about them. */
static int load_records(optout_why *w, const char *const *hosts, const size_t *lens, size_t count, char *err,
                        size_t errlen) {
    size_t fresh = 0;
    for (size_t i = 0; i < count; i++) {
        if (!hosts[i] || optout_strmap_get(w->records, hosts[i], lens[i])) continue;
        struct record *x = calloc(1, sizeof *x);
        if (!x || optout_strmap_put(w->records, hosts[i], lens[i], x, NULL) != 0) {
            free(x);
            optout_set_err(err, errlen, "out of memory");
            return -1;
        }
        x->pub.status = -1;
        x->pub.size = -1;
        x->pub.truncated = -1;
        x->pub.attempts = -1;
        x->pub.time_ms = -1;
        x->fetched_at = optout_strdup("");
        x->sha256 = optout_strdup("");
        x->final_url = optout_strdup("");
        x->error = optout_strdup("");
        x->file = optout_strdup("");
        x->where = optout_strdup("");
        if (w->dir_files) { /* the body's file: size and SHA-256 of what the run read */
            struct robots_dir_host *h = optout_strmap_get(w->dir_files, hosts[i], lens[i]);
            if (h && h->file) {
                char path[4200], hex[65];
                snprintf(path, sizeof path, "%s/%s", w->robots_dir, h->file);
                struct stat st;
                if (stat(path, &st) != 0 || optout_sha256_file(path, hex) != 0) {
                    optout_set_err(err, errlen, "robots.txt of %.*s: %s: %s", (int)lens[i], hosts[i], path,
                                   strerror(errno));
                    return -1;
                }
                free(x->file);
                free(x->where);
                free(x->sha256);
                x->file = optout_strdup(path);
                x->where = optout_strdup(path);
                x->sha256 = optout_strdup(hex);
                x->pub.size = (long long)st.st_size;
                x->pub.truncated = 0; /* a file is what it is: no fetch cap applied here */
                x->pub.found = 1;
            }
        }
        fresh++;
    }
    if (fresh == 0) return 0;
    if (w->dir_files) {
        if (load_dir_index(w, err, errlen) != 0) return -1;
    } else {
        struct archive_load l = {w, fresh};
        char aerr[1024];
        long got = optout_archive_scan(w->archive, 0, visit_archive, &l, NULL, aerr, sizeof aerr);
        if (got < 0 && l.pending != 0) {
            optout_set_err(err, errlen, "%s", aerr);
            return -1;
        }
    }
    for (size_t i = 0; i < count; i++) {
        struct record *x = hosts[i] ? optout_strmap_get(w->records, hosts[i], lens[i]) : NULL;
        if (x && !x->loaded) x->loaded = 1;
    }
    return 0;
}

static void publish(struct record *x) {
    x->pub.where = x->where;
    x->pub.file = x->file;
    x->pub.fetched_at = x->fetched_at;
    x->pub.sha256 = x->sha256;
    x->pub.final_url = x->final_url;
    x->pub.error = x->error;
}

/* ---- explaining ---------------------------------------------------------------------------- */

#define WHY_CHUNK 65536

struct url_key {
    optout_hostkey_status status;
    int bad_idna;
    size_t len;
    char key[OPTOUT_HOSTKEY_MAX];
};

static int explain_chunk(optout_why *w, const char *const *urls, const size_t *lens, size_t count, size_t base,
                         struct url_key *keys, const char **hosts, size_t *hlens, optout_why_answer_fn fn, void *arg,
                         char *err, size_t errlen) {
    for (size_t i = 0; i < count; i++) {
        struct optout_hostkey_entry scratch;
        const struct optout_hostkey_entry *e = optout_hostkey_cached(w->cache, w->cfg.host_key, urls[i], lens[i], &scratch);
        keys[i].status = e->status;
        keys[i].bad_idna = e->bad_idna;
        keys[i].len = e->status == OPTOUT_HOSTKEY_OK ? e->key_len : 0;
        memcpy(keys[i].key, e->key, keys[i].len);
        keys[i].key[keys[i].len] = '\0';
        hosts[i] = e->status == OPTOUT_HOSTKEY_OK ? keys[i].key : NULL;
        hlens[i] = keys[i].len;
    }
    if (load_records(w, hosts, hlens, count, err, errlen) != 0) return -1;
    static const optout_why_record none = {.where = "", .file = "", .status = -1, .fetched_at = "", .sha256 = "",
                                           .size = -1, .truncated = -1, .attempts = -1, .time_ms = -1,
                                           .final_url = "", .error = ""};
    size_t nagents = optout_agents_count(w->agents);
    for (size_t i = 0; i < count; i++) {
        optout_why_answer a = {.url = urls[i], .url_len = lens[i], .key_status = keys[i].status, .host = "",
                               .bad_idna = keys[i].bad_idna, .outcome = OPTOUT_OUTCOME_COUNT, .record = &none,
                               .kind = OPTOUT_WHY_AGENT_UNDECIDED};
        optout_agentset_clear(&a.disallowed);
        optout_agentset_clear(&a.coarse);
        a.override_entry = "";
        a.domain = "";
        if (keys[i].status == OPTOUT_HOSTKEY_OK) {
            a.host = keys[i].key;
            struct record *x = optout_strmap_get(w->records, keys[i].key, keys[i].len);
            if (x) {
                publish(x);
                a.record = &x->pub;
            }
            optout_verdict v;
            int found = optout_verdicts_lookup(w->verdicts, keys[i].key, keys[i].len, &v, err, errlen);
            if (found < 0) return -1;
            if (found == 0) { /* directory and archive sources answer every host */
                optout_set_err(err, errlen, "no robots.txt record for host %s", keys[i].key);
                return -1;
            }
            a.outcome = v.outcome;
            a.kind = OPTOUT_WHY_AGENT_OUTCOME;
            if (v.outcome == OPTOUT_OUTCOME_OK) {
                a.kind = OPTOUT_WHY_AGENT_RULES;
                a.disallowed_count = optout_robots_check(v.rules, urls[i], lens[i], &a.disallowed);
                a.parsed_truncated = optout_robots_truncated(v.rules);
                for (size_t k = 0; k < nagents; k++) optout_robots_explain(v.rules, k, urls[i], lens[i], &w->explain[k]);
                a.explanation = w->explain;
            } else if (v.outcome == OPTOUT_OUTCOME_UNREACHABLE && w->cfg.unreachable_disallows) {
                for (size_t k = 0; k < nagents; k++) optout_agentset_add(&a.disallowed, k);
                a.disallowed_count = nagents;
            }
            /* policy.h, in the filter's order: an override decides before robots.txt; else the
             * granularity adds what the host or its domain disallows something */
            a.override = optout_overrides_match(w->policy.overrides, keys[i].key, keys[i].len, &a.override_entry);
            if (a.override != OPTOUT_OVERRIDE_NONE) {
                optout_agentset_clear(&a.disallowed);
                a.disallowed_count = 0;
            } else if (w->policy.granularity != OPTOUT_GRANULARITY_URL) {
                optout_agentset url = a.disallowed;
                a.disallowed_count =
                    optout_policy_extend(&w->policy, keys[i].key, keys[i].len,
                                         v.outcome == OPTOUT_OUTCOME_OK ? v.rules : NULL, nagents, &a.disallowed, w->domain);
                for (size_t k = 0; k < OPTOUT_AGENTS_MAX / 64; k++) a.coarse.words[k] = a.disallowed.words[k] & ~url.words[k];
                a.domain = w->domain;
            }
        }
        a.removed = a.disallowed_count > 0 || a.override == OPTOUT_OVERRIDE_REMOVE;
        if (fn(&a, base + i, arg) != 0) {
            optout_set_err(err, errlen, "stopped");
            return -1;
        }
    }
    return 0;
}

int optout_why_explain(optout_why *w, const char *const *urls, const size_t *lens, size_t count,
                       optout_why_answer_fn fn, void *arg, char *err, size_t errlen) {
    size_t chunk = count < WHY_CHUNK ? count : WHY_CHUNK;
    if (chunk == 0) return 0;
    struct url_key *keys = malloc(chunk * sizeof *keys);
    const char **hosts = malloc(chunk * sizeof *hosts);
    size_t *hlens = malloc(chunk * sizeof *hlens);
    int rc = 0;
    if (!keys || !hosts || !hlens) {
        optout_set_err(err, errlen, "out of memory");
        rc = -1;
    }
    for (size_t at = 0; rc == 0 && at < count; at += chunk) {
        size_t n = count - at < chunk ? count - at : chunk;
        rc = explain_chunk(w, urls + at, lens + at, n, at, keys, hosts, hlens, fn, arg, err, errlen);
    }
    free(keys);
    free(hosts);
    free(hlens);
    return rc;
}

/* ---- finding documents by id ----------------------------------------------------------------- */

/* The longest run of characters no JSON writer escapes, to skip lines without a memmem hit. */
static void id_needle(const char *id, const char **needle, size_t *len) {
    *needle = NULL;
    *len = 0;
    for (const char *p = id; *p;) {
        const char *s = p;
        while (*p && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                      *p == '_' || *p == '.' || *p == ':'))
            p++;
        if ((size_t)(p - s) > *len) {
            *needle = s;
            *len = (size_t)(p - s);
        }
        if (*p) p++;
    }
}

#define PREFILTER_MAX_IDS 8

int optout_why_find_ids(optout_why *w, const char *const *ids, size_t count, int first_only, optout_why_doc_fn fn,
                        void *arg, size_t *found, char *err, size_t errlen) {
    if (found)
        for (size_t i = 0; i < count; i++) found[i] = 0;
    if (count == 0) return 0;
    optout_strmap *want = optout_strmap_new();
    size_t *seen = calloc(count, sizeof *seen);
    const char **needles = calloc(count, sizeof *needles);
    size_t *nlens = calloc(count, sizeof *nlens);
    char *url_buf = NULL, *id_buf = NULL;
    size_t url_cap = 0, id_cap = 0, remaining = 0;
    int rc = -1, prefilter = count <= PREFILTER_MAX_IDS;
    if (!want || !seen || !needles || !nlens) {
        optout_set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(ids[i]);
        if (optout_strmap_get(want, ids[i], n)) continue; /* asked twice: answered once */
        if (optout_strmap_put(want, ids[i], n, (void *)(uintptr_t)(i + 1), NULL) != 0) {
            optout_set_err(err, errlen, "out of memory");
            goto out;
        }
        remaining++;
        id_needle(ids[i], &needles[i], &nlens[i]);
        if (nlens[i] < 4) prefilter = 0;
    }
    rc = 0;
    for (size_t k = 0; k < w->inputs.count && rc == 0 && !(first_only && remaining == 0); k++) {
        const optout_input *in = &w->inputs.items[k];
        char how[256];
        int changed = optout_input_changed(in, how, sizeof how);
        char serr[OPTOUT_SHARD_ERR_LEN];
        optout_docsource_opts so = {.need = 1u << F_URL | 1u << F_META_URL | 1u << F_ID | 1u << F_META_ID |
                                            1u << F_DUMP | 1u << F_META_DUMP | 1u << F_DATE | 1u << F_META_DATE,
                                    .dump_field = w->fields[0][0] ? w->fields[0] : NULL,
                                    .date_field = w->fields[1][0] ? w->fields[1] : NULL,
                                    .prefilter = prefilter ? needles : NULL, .prefilter_lens = nlens,
                                    .prefilter_count = prefilter ? count : 0};
        optout_docsource *src = optout_docsource_open(in->path, &so, serr, sizeof serr);
        if (!src) {
            optout_set_err(err, errlen, "input %s of the run: %s", in->path, serr);
            rc = -1;
            break;
        }
        optout_doc_batch b;
        uint64_t lineno = 0;
        int got = 0, stop = 0;
        while (!stop && (got = optout_docsource_next(src, &b, serr, sizeof serr)) > 0) {
            for (size_t j = 0; j < b.count && !stop; j++) {
                const optout_doc *doc = &b.docs[j];
                if (doc->kind == OPTOUT_DOC_PIECE && !doc->last_piece) continue;
                lineno++; /* a JSON Lines line, or a Parquet row */
                if (doc->kind != OPTOUT_DOC_OK) continue; /* over-long lines pass undecided */
                const optout_json_value *v = doc->v;
                const optout_json_value *idv = v[F_ID].present ? &v[F_ID] : &v[F_META_ID];
                if (!idv->present) continue;
                const char *idtext = idv->s;
                size_t idlen = idv->len;
                if (idv->is_string && idv->has_escapes) {
                    if (idlen + 1 > id_cap) {
                        free(id_buf);
                        id_cap = idlen * 2 + 1;
                        id_buf = optout_malloc(id_cap);
                    }
                    idlen = optout_json_unescape(idv->s, idv->len, id_buf);
                    idtext = id_buf;
                }
                void *hit = optout_strmap_get(want, idtext, idlen);
                if (!hit) continue;
                size_t i = (size_t)(uintptr_t)hit - 1;
                if (first_only && seen[i]) continue;
                optout_why_doc d = {.id_index = i, .input = in, .changed = changed, .line = lineno, .offset = doc->offset};
                if (!optout_doc_url(v, &d.url, &d.url_len, &url_buf, &url_cap)) {
                    d.url = NULL;
                    d.url_len = 0;
                }
                const optout_json_value *dump = v[F_DUMP].present ? &v[F_DUMP] : &v[F_META_DUMP];
                const optout_json_value *date = v[F_DATE].present ? &v[F_DATE] : &v[F_META_DATE];
                if (dump->present && dump->is_string) d.dump = dump->s, d.dump_len = dump->len;
                if (date->present && date->is_string) d.date = date->s, d.date_len = date->len;
                if (seen[i]++ == 0) remaining--;
                if (fn(&d, arg) != 0) {
                    optout_set_err(err, errlen, "stopped");
                    rc = -1;
                    stop = 1;
                }
                if (first_only && remaining == 0) stop = 1;
            }
        }
        if (!stop && got < 0 && rc == 0) {
            optout_set_err(err, errlen, "input %s of the run: %s", in->path, serr);
            rc = -1;
        }
        optout_docsource_close(src);
    }
    if (found)
        for (size_t i = 0; i < count; i++) {
            void *first = optout_strmap_get(want, ids[i], strlen(ids[i]));
            found[i] = seen[first ? (size_t)(uintptr_t)first - 1 : i];
        }
out:
    free(url_buf);
    free(id_buf);
    free(nlens);
    free(needles);
    free(seen);
    if (want) optout_strmap_free(want, NULL);
    return rc;
}
