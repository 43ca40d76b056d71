/* audit_tool.c — drives the artefact writers the broker calls (blocked_hosts.tsv, manifest.json)
 * for tests and measurements, without a broker:
 *   audit_tool blocked (--robots-dir D | --archive D) --out DIR [--mode M] [--agents-file F]
 *       writes DIR/blocked_hosts.tsv; prints the counts as one JSON object and the elapsed time
 *   audit_tool manifest DIR [--agents-file F] [--agents-name N] [--agents-sha256 H]
 *                           [--from UNIX] [--to UNIX] [--hash-limit BYTES] [--jobs N]
 *       writes DIR/manifest.json; prints the summary
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optout/agents.h"
#include "optout/blocked.h"
#include "optout/manifest.h"
#include "optout/robots.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int blocked(int argc, char **argv) {
    const char *dir = NULL, *source = NULL, *agents_file = NULL;
    optout_robots_source_kind kind = OPTOUT_ROBOTS_SOURCE_DIR;
    optout_robots_mode mode = OPTOUT_MODE_RFC9309;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--robots-dir") == 0) source = argv[i + 1], kind = OPTOUT_ROBOTS_SOURCE_DIR;
        else if (strcmp(argv[i], "--archive") == 0) source = argv[i + 1], kind = OPTOUT_ROBOTS_SOURCE_ARCHIVE;
        else if (strcmp(argv[i], "--out") == 0) dir = argv[i + 1];
        else if (strcmp(argv[i], "--agents-file") == 0) agents_file = argv[i + 1];
        else if (strcmp(argv[i], "--mode") == 0) {
            if (optout_robots_mode_parse(argv[i + 1], &mode) != 0) return 2;
        } else return 2;
    }
    if (!dir || !source) return 2;
    optout_agents *agents = agents_file ? optout_agents_new() : optout_agents_new_default();
    if (!agents || (agents_file && optout_agents_load(agents, agents_file, NULL) != 0)) {
        fprintf(stderr, "audit_tool: cannot load agents\n");
        return 1;
    }
    static optout_blocked_counts c;
    char err[1024];
    double t0 = now();
    int rc = optout_blocked_write(dir, source, kind, agents, mode, &c, err, sizeof err);
    double t = now() - t0;
    if (rc != 0) {
        fprintf(stderr, "audit_tool: %s\n", err);
        optout_agents_free(agents);
        return 1;
    }
    printf("{\"hosts\": %llu, \"hosts_ok\": %llu, \"hosts_blocking\": %llu, \"hosts_whole_site\": %llu, "
           "\"bad_hosts\": %llu, \"fetched_from\": %lld, \"fetched_to\": %lld, \"seconds\": %.3f, \"agents\": {",
           (unsigned long long)c.hosts, (unsigned long long)c.hosts_ok, (unsigned long long)c.hosts_blocking,
           (unsigned long long)c.hosts_whole_site, (unsigned long long)c.bad_hosts, (long long)c.fetched_from,
           (long long)c.fetched_to, t);
    for (size_t i = 0; i < optout_agents_count(agents); i++)
        printf("%s\"%s\": [%llu, %llu]", i ? ", " : "", optout_agents_name(agents, i),
               (unsigned long long)c.agent_blocking[i], (unsigned long long)c.agent_whole_site[i]);
    printf("}}\n");
    optout_agents_free(agents);
    return 0;
}

static int manifest(int argc, char **argv) {
    if (argc < 3) return 2;
    optout_manifest_info info = {0};
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--agents-file") == 0) info.agents_file = argv[i + 1];
        else if (strcmp(argv[i], "--agents-name") == 0) info.agents_name = argv[i + 1];
        else if (strcmp(argv[i], "--agents-sha256") == 0) info.agents_sha256 = argv[i + 1];
        else if (strcmp(argv[i], "--from") == 0) info.robots_from = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--to") == 0) info.robots_to = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--hash-limit") == 0) info.input_hash_limit = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--jobs") == 0) info.jobs = (unsigned)atoi(argv[i + 1]);
        else return 2;
    }
    optout_manifest_summary s;
    char err[1024];
    double t0 = now();
    if (optout_manifest_write(argv[2], &info, &s, err, sizeof err) != 0) {
        fprintf(stderr, "audit_tool: %s\n", err);
        return 1;
    }
    printf("{\"inputs\": %zu, \"outputs\": %zu, \"output_bytes\": %llu, \"hashed_bytes\": %llu, \"seconds\": %.3f}\n",
           s.inputs, s.outputs, (unsigned long long)s.output_bytes, (unsigned long long)s.hashed_bytes, now() - t0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "blocked") == 0) return blocked(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "manifest") == 0) return manifest(argc, argv);
    fprintf(stderr, "usage: audit_tool blocked|manifest ...\n");
    return 2;
}
