/* main.c — optout-worker: runs the tasks a broker leases to it (docs/fleet.md, worker/worker.h).
 *
 * optout-worker --connect ENDPOINT [--slots N] [--root NAME=PATH]... [--name ID]
 *               [--redis-password-file FILE] [--curve-secret-file FILE --curve-server-key FILE|KEY]
 *               [--verbose]
 * Exit status: 0 after SIGTERM/SIGINT once running tasks have finished (queued ones are handed
 * back), 1 when the worker could not start, 2 on usage errors.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/config.h"
#include "optout/log.h"
#include "optout/memory.h"
#include "optout/options.h"
#include "optout/util.h"
#include "worker.h"

static const optout_program_spec WORKER_SPEC = {
    .program = OPTOUT_PROG_WORKER,
    .section = "worker",
    .version = "optout-worker",
    .usage = "usage: optout-worker --connect ENDPOINT [options]\n",
    .about =
        "Connects to an optout-broker (ENDPOINT: tcp://HOST:PORT or ipc:///PATH) and runs the tasks it\n"
        "hands out, N at a time (default 1). Task paths are (root name, relative path): --root maps a\n"
        "root name to a local directory (the broker's run directory is the root \"run\"). --name is the\n"
        "worker id the broker reports (default HOST.PID). The Redis password, when the run's verdicts\n"
        "are in Redis, is read from FILE (never from the command line); --redis-user NAME logs in as\n"
        "that Redis ACL user. Every option may also be set in the configuration file (--config FILE,\n"
        "default /etc/optout/optout.conf, sections [common] and [worker]); flags win.\n"
        "CURVE (a broker started with --curve-secret-file): --curve-secret-file is this worker's Z85\n"
        "secret key (`optout keygen`; its public key must be in the broker's --curve-allow directory),\n"
        "--curve-server-key the broker's public key (a file, or the 40 characters themselves).\n"
        "--max-memory BYTES (K, M, G suffixes) keeps caches and buffers under BYTES (docs/policy.md\n"
        "\"Memory\"), or refuses to start (exit 2) when even the minimum does not fit;\n"
        "--check-memory prints the plan and exits.\n"
        "Capture files over HTTP(S) (history tasks): at most --download-slots N at a time on the node, by\n"
        "all its workers together: each takes an flock()ed slot file in --download-dir DIR (default: the\n"
        "systemd unit's RuntimeDirectory, $RUNTIME_DIRECTORY; without either, no bound across workers).\n"
        "SIGTERM or SIGINT: queued tasks are handed back, running tasks finish, then the worker exits 0.\n",
};

/* One --root NAME=PATH (its form checked by the option table) into roots. 0, or -1 after a message. */
static int parse_root(const char *arg, worker_root *roots, size_t *count) {
    const char *eq = strchr(arg, '=');
    size_t n = (size_t)(eq - arg);
    if (*count == WORKER_MAX_ROOTS) {
        optout_log(LOG_ERR, "--root: at most %d roots", WORKER_MAX_ROOTS);
        return -1;
    }
    for (size_t i = 0; i < *count; i++)
        if (strlen(roots[i].name) == n && memcmp(roots[i].name, arg, n) == 0) {
            optout_log(LOG_ERR, "--root: root '%.*s' given twice", (int)n, arg);
            return -1;
        }
    worker_root *r = &roots[(*count)++];
    memcpy(r->name, arg, n);
    r->name[n] = '\0';
    snprintf(r->path, sizeof r->path, "%s", eq + 1);
    struct stat st;
    if (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode))
        optout_log(LOG_WARNING, "--root %s: %s is not a directory (yet); tasks under it will fail", r->name,
                   r->path);
    return 0;
}

/* The password: the file's first line. NULL (logged) when unreadable or empty. */
static char *read_password(const char *path) {
    char *pw = optout_read_secret_file(path);
    if (!pw)
        optout_log(LOG_ERR, "--redis-password-file %s: %s", path,
                   errno == EINVAL   ? "empty"
                   : errno == EPERM ? "readable by every user (chmod o-rwx)"
                                    : strerror(errno));
    return pw;
}

/* The worker's options from the checked values (options.h). Returns -1 to go on, else the exit
 * status. */
static int configure(const optout_option_values *v, worker_options *o, worker_root *roots, size_t *root_count) {
    if (v->given[OPTOUT_OPT_SLOTS]) o->slots = (unsigned)v->num[OPTOUT_OPT_SLOTS];
    o->endpoint = v->text[OPTOUT_OPT_CONNECT];
    o->name = v->text[OPTOUT_OPT_NAME];
    o->exit_when_done = v->given[OPTOUT_OPT_EXIT_WHEN_DONE];
    o->env.redis_user = v->text[OPTOUT_OPT_REDIS_USER];
    /* systemd's RuntimeDirectory= (shared by the node's worker units) names the slots' directory */
    o->env.download_dir = v->text[OPTOUT_OPT_DOWNLOAD_DIR] ? v->text[OPTOUT_OPT_DOWNLOAD_DIR] : getenv("RUNTIME_DIRECTORY");
    if (o->env.download_dir && !o->env.download_dir[0]) o->env.download_dir = NULL;
    o->env.download_slots = (unsigned)v->num[OPTOUT_OPT_DOWNLOAD_SLOTS];
    if (v->given[OPTOUT_OPT_VERBOSE]) optout_log_verbose(1);
    for (size_t i = 0; i < v->count[OPTOUT_OPT_WORKER_ROOT]; i++)
        if (parse_root(v->list[OPTOUT_OPT_WORKER_ROOT][i], roots, root_count) != 0) return OPTOUT_EXIT_USAGE;
    return -1;
}

int main(int argc, char **argv) {
    optout_log_init("optout-worker");
    static worker_root roots[WORKER_MAX_ROOTS];
    static optout_option_values values;
    worker_options o = {.slots = 1};
    size_t root_count = 0;
    static optout_curve_client curve;
    char default_name[OPTOUT_MSG_NAME_MAX];
    int rc = optout_options_parse(&WORKER_SPEC, argc, argv, &values);
    if (rc < 0) rc = configure(&values, &o, roots, &root_count);
    if (rc >= 0) {
        optout_options_free(&values);
        return rc;
    }
    const char *password_file = values.text[OPTOUT_OPT_REDIS_PASSWORD_FILE];
    const char *curve_secret_file = values.text[OPTOUT_OPT_CURVE_SECRET_FILE];
    const char *curve_server_key = values.text[OPTOUT_OPT_CURVE_SERVER_KEY];
    int check_memory = values.given[OPTOUT_OPT_CHECK_MEMORY];
    uint64_t max_memory = values.given[OPTOUT_OPT_MAX_MEMORY] ? values.num[OPTOUT_OPT_MAX_MEMORY] : 0;
    {
        char merr[512];
        if (optout_memory_plan(max_memory, o.slots, &o.env.slot_memory, &o.env.max_cached, merr, sizeof merr) != 0) {
            optout_log(LOG_ERR, "%s", merr);
            return OPTOUT_EXIT_USAGE;
        }
        if (max_memory)
            optout_log(check_memory ? LOG_NOTICE : LOG_INFO,
                       "--max-memory %llu: %llu MiB a slot, up to %zu compiled robots.txt sets cached a slot",
                       (unsigned long long)max_memory, (unsigned long long)(o.env.slot_memory >> 20), o.env.max_cached);
        if (check_memory) return OPTOUT_EXIT_OK;
    }
    if (!o.endpoint) {
        optout_log(LOG_ERR, "--connect ENDPOINT is required");
        optout_options_usage(&WORKER_SPEC, stderr);
        return OPTOUT_EXIT_USAGE;
    }
    if (!o.name) {
        char host[64] = "worker";
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "worker");
        host[sizeof host - 1] = '\0';
        snprintf(default_name, sizeof default_name, "%s.%ld", host, (long)getpid());
        o.name = default_name;
    }
    if (curve_secret_file || curve_server_key) {
        char err[600];
        if (!optout_curve_available()) {
            optout_log(LOG_ERR, "CURVE: this libzmq has no CURVE support");
            return OPTOUT_EXIT_FAILURE;
        }
        if (!curve_secret_file || !curve_server_key) {
            optout_log(LOG_ERR, "--curve-secret-file and --curve-server-key go together");
            return OPTOUT_EXIT_USAGE;
        }
        if (optout_curve_client_load(curve_secret_file, curve_server_key, &curve, err, sizeof err) != 0) {
            optout_log(LOG_ERR, "CURVE: %s", err);
            return OPTOUT_EXIT_FAILURE;
        }
        o.curve = &curve;
        optout_log(LOG_INFO, "CURVE: this worker's public key is %s", curve.public_key);
    }
    char *password = NULL;
    if (password_file && !(password = read_password(password_file))) return OPTOUT_EXIT_FAILURE;
    o.env.roots = roots;
    o.env.root_count = root_count;
    o.env.redis_password = password;

    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: host keys use libcurl's URL API */
    rc = worker_run(&o) == 0 ? OPTOUT_EXIT_OK : OPTOUT_EXIT_FAILURE;
    curl_global_cleanup();
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    optout_options_free(&values);
    return rc;
}
