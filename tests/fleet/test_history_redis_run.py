#!/usr/bin/python3
"""The fleet's history store in Redis survives losing its keys: a run judging by robots.txt as it was
reads the captures from the run's Redis, where the broker loaded them before the filter stage.
Real broker, worker and redis-server processes; the captures are tools/gen-ccrobots' WARC files
built from the real bodies of SHARED_DIR/data/robots-top10k (skipped, 77, without them or without
redis-server), today's robots.txt the same real bodies (--robots-dir).

Checks
1. Mid-filter, every key of the history store is deleted (the verdict store kept, as after an
   eviction or a partial flush) and the worker killed: the restarted worker finds the store
   incomplete, the broker loads it again (not counting the attempt against the task) and the run
   completes with optout filter --history's by_policy.
2. The broker killed mid-filter, the run's Redis (an external one, kept between the two broker runs)
   FLUSHed, the broker restarted: it loads the verdicts and the captures again before the filter
   stage goes on, and the run completes with the same by_policy.
usage: test_history_redis_run.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import glob, json, os, shutil, signal, subprocess, sys, tempfile, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "history"))
from optout_test import check, finish, remove_workdir, skip, stop  # noqa: E402
import test_policy_filter as tpf  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
shared = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, "..", "shared")
optout = os.path.join(bin_dir, "optout")
SHARDS = 12
POLICY = "crawl"


def said(code, text, n=400):
    """A failed process's last n characters of stderr, for a check's message."""
    return ": " + text[-n:] if code and text else ""


def redis_cli(sock, *args):
    return subprocess.run(["redis-cli", "-s", sock] + list(args), capture_output=True, text=True, timeout=30)


def delete_history_keys(sock):
    """Every key of a history store under any prefix, deleted; how many."""
    keys = [k for k in redis_cli(sock, "--scan", "--pattern", "*history:*").stdout.split() if k]
    if keys:
        redis_cli(sock, "unlink", *keys)
    left = [k for k in redis_cli(sock, "--scan", "--pattern", "*history:*").stdout.split() if k]
    return len(keys) if not left else -1


def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def published(d):
    return len(glob.glob(os.path.join(d, "shards", "*")))


if not shutil.which("redis-server") or not shutil.which("redis-cli"):
    skip("redis-server or redis-cli is not installed")
tmp = tempfile.mkdtemp(prefix="optout-hredis-run-")
try:
    scenario = tpf.ccrobots_scenario(optout, root, shared, tmp)
    if scenario is None:
        finish("test_history_redis_run")
    ctx, merged, archive, shard, top10k = scenario
    corpus = os.path.join(tmp, "corpus")
    os.makedirs(corpus)
    lines = open(shard).readlines()
    for i in range(SHARDS):
        with open(os.path.join(corpus, "part%02d.jsonl" % i), "w") as f:
            f.write("".join(lines[i::SHARDS]))
    judge = ["--robots-dir", top10k, "--history", archive, "--robots-time", POLICY, "--report-cutoff",
             tpf.REPORT_CUTOFF]
    stats = os.path.join(tmp, "single.json")
    p = subprocess.run([optout, "filter", "--in", shard, "--out", os.path.join(tmp, "single.jsonl"), "--stats", stats]
                       + judge, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "optout filter --history (%d%s)" % (p.returncode, said(p.returncode, p.stderr)))
    want = json.load(open(stats)).get("by_policy") if p.returncode == 0 else None
    slow = dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS="400", OPTOUT_LOG_LEVEL="info")

    # 1. the history keys lost mid-filter, the worker killed: the broker loads the captures again
    d = os.path.join(tmp, "lost")
    run = subprocess.Popen([optout, "run", "--corpus", os.path.join(corpus, "*.jsonl"), "--out", d, "--workers", "1",
                            "--keep-format"] + judge, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=slow)
    sock = os.path.join(d, "redis.sock")
    started = wait_for(lambda: published(d) >= 2 or run.poll() is not None, 240)
    deleted = delete_history_keys(sock) if started and run.poll() is None else 0
    workers = subprocess.run(["pgrep", "-f", "optout-worker --connect ipc://" + d], capture_output=True,
                             text=True).stdout.split()
    for pid in workers:
        os.kill(int(pid), signal.SIGKILL)
    at = published(d)
    check(deleted > 0 and len(workers) == 1 and at < SHARDS,
          "mid-filter (%d of %d shards published): %d history keys deleted, the worker killed" % (at, SHARDS, deleted))
    try:
        _, err = run.communicate(timeout=300)
    except subprocess.TimeoutExpired:  # stopped as a user would (optout run stops its broker, workers, Redis)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    check(run.returncode == 0, "the run completes (%s%s)" % (run.returncode, said(run.returncode, err)))
    check("history store" in err and "reloading it" in err, "the broker said it reloads the incomplete history store")
    if run.returncode == 0:
        rep = json.load(open(os.path.join(d, "report.json")))
        check(rep.get("by_policy") == want, "by_policy is optout filter's")
        check(not rep.get("failed_tasks"), "no task failed")

    # 2. the broker killed mid-filter, its (external) Redis flushed, the broker restarted
    d = os.path.join(tmp, "flushed")
    os.makedirs(d)
    rsock = os.path.join(tmp, "ext-redis.sock")
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", rsock, "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(rsock), 20)
    bsock = os.path.join(d, "broker.sock")
    broker_args = [os.path.join(bin_dir, "optout-broker"), "--dir", d, "--corpus", os.path.join(corpus, "*.jsonl"),
                   "--redis", "unix:" + rsock, "--keep-format"] + judge
    broker = subprocess.Popen(broker_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=slow)
    wait_for(lambda: os.path.exists(bsock), 20)
    worker = subprocess.Popen([os.path.join(bin_dir, "optout-worker"), "--connect", "ipc://" + bsock, "--root", "fs=/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=slow)
    try:
        wait_for(lambda: published(d) >= 2 or broker.poll() is not None, 240)
        broker.kill()
        broker.communicate()
        at = published(d)
        flushed = redis_cli(rsock, "flushall").returncode == 0 and redis_cli(rsock, "dbsize").stdout.strip() == "0"
        check(0 < at < SHARDS and flushed, "the broker killed mid-filter (%d of %d shards), Redis flushed" % (at, SHARDS))
        broker = subprocess.Popen(broker_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, OPTOUT_LOG_LEVEL="info"))
        try:
            _, err = broker.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            broker.terminate()
            _, err = broker.communicate(timeout=60)
        check(broker.returncode == 0, "the restarted broker completes the run (%s%s)"
              % (broker.returncode, said(broker.returncode, err)))
        check("the captures of" in err and "(already loaded)" not in err,
              "the restarted broker loaded the captures again")
        if broker.returncode == 0:
            check(json.load(open(os.path.join(d, "report.json"))).get("by_policy") == want,
                  "after the flush, by_policy is optout filter's")
    finally:
        stop(worker)
        stop(redis)
finally:
    remove_workdir(tmp)
finish("test_history_redis_run")
