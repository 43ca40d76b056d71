/* cmd_robots.c — `optout robots check`: one robots.txt, many URLs, every agent of a list.
 *
 * Output contract (the CLI tests and the conformance suites rely on it): one line per
 * (URL, agent), URL-major in input order, agents in list order, each printed as given:
 *   allowed<TAB>AGENT<TAB>URL   or   disallowed<TAB>AGENT<TAB>URL
 * --explain appends a fourth column saying which group and rule decided.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "optout/agents.h"
#include "optout/hostkey.h"
#include "optout/log.h"
#include "optout/robots.h"
#include "optout/util.h"

/* Large enough for any robots.txt we will meet; only the first 500 KiB are parsed anyway. */
#define ROBOTS_FILE_MAX ((size_t)1 << 30)
#define URLS_FILE_MAX ((size_t)1 << 34)

static void check_usage(FILE *f) {
    fputs("usage: optout robots check [--mode rfc9309|protego] [--agent NAME]... [--agents-file FILE]\n"
          "                           [--explain] --robots FILE [--urls FILE|-] [URL...]\n"
          "\n"
          "Prints one line per URL and agent: allowed|disallowed<TAB>AGENT<TAB>URL.\n"
          "A URL is absolute or a path starting with '/' (a malformed absolute URL is a usage\n"
          "error; one without a scheme is read as HOST/PATH, with a warning).\n"
          "Without --agent/--agents-file the Apertus list is used (data/agents/apertus-paper.txt).\n"
          "--explain adds the deciding group and rule.\n"
          "\n"
          "options:\n"
          "  --robots FILE            the robots.txt to read (default: none, required)\n"
          "  --mode rfc9309|protego   how robots.txt is read (default: rfc9309)\n"
          "  --agent NAME             an agent (repeat; after the file's) (default: none)\n"
          "  --agents-file FILE       the agents, one a line (default: the built-in Apertus list)\n"
          "  --urls FILE|-            one URL per line, after the URL arguments (default: none)\n"
          "  --explain                add the deciding group and rule (default: off)\n"
          "  -h, --help               this text\n",
          f);
}

static void print_explanation(FILE *out, const optout_robots_explanation *e) {
    switch (e->why) {
    case OPTOUT_WHY_ROBOTS_TXT: fputs("/robots.txt is always allowed", out); return;
    case OPTOUT_WHY_UNPARSABLE: fputs("Protego cannot parse this robots.txt: everything allowed", out); return;
    case OPTOUT_WHY_BAD_URL: fputs("Protego cannot parse this URL: allowed", out); return;
    case OPTOUT_WHY_NO_GROUP: fputs("no group for this agent and no User-agent: * group", out); return;
    case OPTOUT_WHY_NO_MATCH:
        fputs(e->via_star ? "no group of its own; no rule of the * group matches" : "no rule matches", out);
        return;
    case OPTOUT_WHY_RULE:
        fprintf(out, "%sgroup at line %u, line %u: %s: %.*s", e->via_star ? "no group of its own; * " : "",
                e->group_line, e->rule_line, e->rule_allow ? "Allow" : "Disallow", (int)e->rule_pattern_len,
                e->rule_pattern);
        return;
    }
}

static void check_url(FILE *out, const optout_robots *robots, const optout_agents *agents, const char *url,
                      size_t len, int explain) {
    optout_agentset disallowed;
    optout_robots_check(robots, url, len, &disallowed);
    for (size_t a = 0; a < optout_agents_count(agents); a++) {
        fprintf(out, "%s\t%s\t%.*s", optout_agentset_has(&disallowed, a) ? "disallowed" : "allowed",
                optout_agents_name(agents, a), (int)len, url);
        if (explain) {
            optout_robots_explanation e;
            optout_robots_explain(robots, a, url, len, &e);
            fputc('\t', out);
            print_explanation(out, &e);
        }
        fputc('\n', out);
    }
}

static int check_url_list(FILE *out, const optout_robots *robots, const optout_agents *agents,
                          const char *path, int explain) {
    size_t len;
    char *text = strcmp(path, "-") == 0 ? optout_read_fd(0, URLS_FILE_MAX, &len)
                                        : optout_read_file(path, URLS_FILE_MAX, &len);
    if (!text) {
        optout_log(LOG_ERR, "cannot read URL list %s: %s", strcmp(path, "-") == 0 ? "(stdin)" : path,
                   strerror(errno));
        return -1;
    }
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (n > 0) check_url(out, robots, agents, p, n, explain);
        p = nl ? nl + 1 : end;
    }
    free(text);
    return 0;
}

/* A URL argument is a path starting with '/', or an absolute URL with a host that libcurl's URL
 * parser accepts (the parser the filter keys hosts with): one it refuses ("http://[::1",
 * "http:///x") is a usage error. Without a scheme, an argument is read as Google's reference reads
 * it, HOST[/PATH] ("relative" is host "relative", path "/"; "" is "/"), which the conformance
 * suites check: accepted, with a warning saying so, since a user may have meant a path. 0, or -1
 * with a message. */
static int check_url_argument(const char *url) {
    if (url[0] == '/') return 0;
    if (!strstr(url, "://")) {
        size_t hlen = strcspn(url, "/?#");
        const char *rest = url + hlen;
        optout_log(LOG_WARNING, "robots check: URL '%s' has no scheme: read as host '%.*s' and path '%s%.*s' "
                   "(as Google's reference reads it); a path starts with '/'", url, (int)hlen, url,
                   *rest == '/' ? "" : "/", (int)strcspn(rest, "#"), rest);
        return 0;
    }
    char key[OPTOUT_HOSTKEY_MAX];
    size_t klen;
    int bad_idna;
    optout_hostkey_status st = optout_hostkey(url, strlen(url), OPTOUT_HOSTKEY_CANONICAL, key, &klen, &bad_idna);
    if (st == OPTOUT_HOSTKEY_OK) return 0;
    optout_log(LOG_ERR, "robots check: URL '%s' is malformed: %s", url,
               st == OPTOUT_HOSTKEY_NO_HOST ? "it has no host" : "libcurl's URL parser refuses it");
    return -1;
}

static int robots_check(int argc, char **argv) {
    static const struct option options[] = {
        {"mode", required_argument, NULL, 'm'},   {"agent", required_argument, NULL, 'a'},
        {"agents-file", required_argument, NULL, 'f'}, {"robots", required_argument, NULL, 'r'},
        {"urls", required_argument, NULL, 'u'},   {"explain", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    optout_robots_mode mode = OPTOUT_MODE_RFC9309;
    const char *robots_path = NULL, *urls_path = NULL;
    int explain = 0, rc = OPTOUT_EXIT_OK;
    optout_agents *agents = NULL;
    optout_robots *robots = NULL;
    char *body = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': rc = cli_parse_mode(optarg, &mode); break;
        case 'a': rc = cli_add_agent(&agents, optarg); break;
        case 'f': rc = cli_add_agents_file(&agents, optarg); break;
        case 'r': robots_path = optarg; break;
        case 'u': urls_path = optarg; break;
        case 'x': explain = 1; break;
        case 'h':
            check_usage(stdout);
            rc = OPTOUT_EXIT_OK;
            goto out;
        default: rc = cli_option_error("robots check", opt, argv); goto out;
        }
        if (rc != OPTOUT_EXIT_OK) goto out;
    }
    rc = OPTOUT_EXIT_USAGE;
    if (!robots_path) {
        optout_log(LOG_ERR, "robots check: --robots FILE is required");
        check_usage(stderr);
        goto out;
    }
    if (cli_require_path("robots check", "--robots", robots_path, 0) != OPTOUT_EXIT_OK ||
        (urls_path && cli_require_path("robots check", "--urls", urls_path, 1) != OPTOUT_EXIT_OK))
        goto out;
    if (!urls_path && optind == argc) {
        optout_log(LOG_ERR, "robots check: no URL given (arguments or --urls FILE)");
        goto out;
    }
    for (int i = optind; i < argc; i++)
        if (check_url_argument(argv[i]) != 0) goto out;
    if (!(agents = cli_agents_or_default(&agents))) {
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    rc = OPTOUT_EXIT_FAILURE;
    size_t len;
    body = optout_read_file(robots_path, ROBOTS_FILE_MAX, &len);
    if (!body) {
        optout_log(LOG_ERR, "cannot read robots.txt %s: %s", robots_path, strerror(errno));
        goto out;
    }
    robots = optout_robots_compile(body, len, agents, mode);
    if (!robots) {
        optout_log(LOG_ERR, "%s: %s", robots_path, strerror(errno));
        goto out;
    }
    if (optout_robots_looks_utf16(body, len)) optout_log(LOG_WARNING, "%s %s", robots_path, OPTOUT_ROBOTS_UTF16_WARNING);
    if (optout_robots_truncated(robots))
        optout_log(LOG_WARNING, "%s: longer than %u bytes; only the first %u bytes were parsed", robots_path,
                   OPTOUT_ROBOTS_MAX_BYTES, OPTOUT_ROBOTS_MAX_BYTES);
    for (int i = optind; i < argc; i++) check_url(stdout, robots, agents, argv[i], strlen(argv[i]), explain);
    if (urls_path && check_url_list(stdout, robots, agents, urls_path, explain) != 0) goto out;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        optout_log(LOG_ERR, "writing results: %s", strerror(errno));
        goto out;
    }
    rc = OPTOUT_EXIT_OK;
out:
    optout_robots_free(robots);
    free(body);
    optout_agents_free(agents);
    return rc;
}

int cmd_robots(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        check_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? OPTOUT_EXIT_USAGE : OPTOUT_EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0) return robots_check(argc - 1, argv + 1);
    optout_log(LOG_ERR, "unknown command 'robots %s' (try: optout robots check --help)", argv[1]);
    return OPTOUT_EXIT_USAGE;
}
