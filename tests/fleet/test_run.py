#!/usr/bin/python3
"""The fleet end to end: `optout run` (a real optout-broker and optout-worker processes) against
single-process `optout filter` runs over the same shards, undisturbed and under faults.

usage: test_run.py BIN_DIR REPO_ROOT

Each scenario says what it does and what must hold. The corpus is generated from the bundled
sample robots directory (data/sample/robots), so the test needs nothing from ../shared.
"""
import glob, json, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, runner, tree_outputs as outputs, zcat  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
OPTOUT = os.path.join(BIN, "optout")
run = runner(OPTOUT, timeout=None)
ROBOTS = os.path.join(ROOT, "data", "sample", "robots")


BUCKET = ["docs_in", "docs_removed", "bytes_in", "bytes_removed", "chars_in", "chars_removed", "tokens_in",
          "tokens_removed"]


def summary(stats):
    """The numbers a report must get right, from a stats/report JSON object."""
    s = {k: stats[k] for k in BUCKET + ["bad_json", "no_url", "bad_url", "tokens_estimated_docs"]}
    for group in ("by_class", "by_year", "by_agent"):
        for key, b in stats[group].items():
            if b["docs_in"]:
                s.update({"%s.%s.%s" % (group, key, k): b[k] for k in BUCKET})
    return s


def add(total, part):
    for k, v in part.items():
        total[k] = total.get(k, 0) + v
    return total


tmp = tempfile.mkdtemp(prefix="optout-fleet-")
try:
    corpus = os.path.join(tmp, "corpus")
    gen = [os.path.join(ROOT, "tools", "gen-corpus"), "--robots-dir", ROBOTS, "--seed", "11", "--hosts", "8",
           "--bad-rate", "0.01"]
    subprocess.run(gen + ["--docs", "1600", "--shards", "4", "--format", "zst", "--out", os.path.join(corpus, "a")],
                   check=True, capture_output=True)
    subprocess.run(gen + ["--docs", "400", "--shards", "2", "--format", "gz", "--out", os.path.join(corpus, "b", "c"),
                          "--style", "dolma", "--seed", "12"], check=True, capture_output=True)
    subprocess.run(gen + ["--docs", "200", "--shards", "1", "--format", "jsonl", "--out", os.path.join(corpus, "b"),
                          "--prefix", "plain", "--seed", "13"], check=True, capture_output=True)
    for meta in glob.glob(os.path.join(corpus, "**", "_meta"), recursive=True):
        shutil.rmtree(meta)
    inputs = sorted(p for p in glob.glob(os.path.join(corpus, "**", "*.jsonl*"), recursive=True))
    check(len(inputs) == 7, "7 generated input shards")

    # reference: one optout filter per shard
    ref_dir = os.path.join(tmp, "ref")
    expected, ref_stats = {}, {}
    for p in inputs:
        rel = os.path.relpath(p, corpus)
        name = rel[:-3] + ".zst" if rel.endswith(".gz") else rel if rel.endswith(".zst") else rel + ".zst"
        out, rem, st = (os.path.join(ref_dir, x, name) for x in ("shards", "removed", "stats"))
        r = run(["filter", "--robots-dir", ROBOTS, "--in", p, "--out", out, "--removed", rem, "--stats", st + ".json"])
        check(r.returncode == 0, "reference filter of %s (%s)" % (rel, r.stderr.strip()))
        expected["shards/" + name] = zcat(out)
        expected["removed/" + name] = zcat(rem)
        add(ref_stats, summary(json.load(open(st + ".json"))))
    check(ref_stats["docs_removed"] > 0 and ref_stats["docs_removed"] < ref_stats["docs_in"],
          "the corpus has kept and removed documents")

    pattern = os.path.join(corpus, "**", "*.jsonl*")
    base = ["run", "--corpus", pattern, "--robots-dir", ROBOTS, "--removed", "--workers", "2"]

    def same_result(run_dir, what):
        rep = os.path.join(run_dir, "report.json")
        check(os.path.exists(rep), what + ": report.json written")
        if not os.path.exists(rep):
            return
        report = json.load(open(rep))
        got = outputs(run_dir)
        check(got == expected, what + ": kept and removed shards identical to single-process filter runs")
        check(summary(report) == ref_stats, what + ": report statistics equal the sum of the filters' statistics")
        check(not os.path.exists(os.path.join(run_dir, ".staging")) or not os.listdir(os.path.join(run_dir, ".staging")),
              what + ": nothing left in .staging")

    # 1. undisturbed
    d1 = os.path.join(tmp, "run1")
    r = run(base + ["--out", d1], timeout=300)
    check(r.returncode == 0, "undisturbed run exits 0 (%s)" % r.stderr.strip()[-400:])
    same_result(d1, "undisturbed run")

    # 2. rerun of a complete run: exit 0, nothing changes
    # (not the locks, taken again by every start, nor the journal and the Redis log, appended to)
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(d1, "**", "*"), recursive=True)
              if os.path.isfile(p) and not p.endswith(".lock") and "journal" not in p and "redis" not in p}
    r = run(base + ["--out", d1], timeout=120)
    check(r.returncode == 0, "rerun of a complete run exits 0")
    after = {p: os.stat(p).st_mtime_ns for p in before}
    check(before == after, "rerun of a complete run changes no output")

    # 3. a different configuration on the same directory: exit 2 naming the option
    r = run(base + ["--out", d1, "--mode", "protego"], timeout=60)
    check(r.returncode == 2 and "mode" in r.stderr, "different --mode on the same run directory: exit 2 naming it")

    # 4. kill -9 a worker mid-run, twice: the run completes with the same result
    d4 = os.path.join(tmp, "run4")
    # Every task takes at least 400 ms (a test-only worker delay), so that the 7 tasks keep the two
    # workers busy for over a second and the kills below land mid-task on any machine.
    slow = dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS="400")
    p = subprocess.Popen([OPTOUT] + base + ["--out", d4], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=slow)
    killed = 0
    deadline = time.time() + 60
    while killed < 2 and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
        ps = subprocess.run(["pgrep", "-f", "optout-worker --connect ipc://" + d4], capture_output=True, text=True)
        pids = [int(x) for x in ps.stdout.split()]
        if pids:
            time.sleep(0.3)  # the worker takes a task meanwhile (which lasts at least 400 ms)
            try:
                os.kill(pids[0], signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    out, err = p.communicate(timeout=300)
    check(killed >= 1, "killed %d worker(s) mid-run" % killed)
    check("its worker died" in err, "a killed worker's task was retried (the broker said its worker died)")
    check(p.returncode == 0, "run with killed workers exits 0 (%s)" % err.strip()[-400:])
    same_result(d4, "run with killed workers")

    # 5. kill -9 the broker mid-run, rerun: same result, no shard published twice
    # a corpus large enough that the broker is surely mid-run when it is killed
    big = os.path.join(tmp, "big5")
    subprocess.run(gen + ["--docs", "150000", "--shards", "12", "--format", "zst", "--out", big, "--jobs", "2"],
                   check=True, capture_output=True)
    shutil.rmtree(os.path.join(big, "_meta"))
    d5 = os.path.join(tmp, "run5")
    args5 = ["run", "--corpus", os.path.join(big, "*.zst"), "--robots-dir", ROBOTS, "--removed", "--workers", "2"]
    p = subprocess.Popen([OPTOUT] + args5 + ["--out", d5], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    broker_killed = False
    while p.poll() is None and time.time() < deadline:
        time.sleep(0.2)
        ps = subprocess.run(["pgrep", "-f", "optout-broker .*" + d5], capture_output=True, text=True)
        pids = [int(x) for x in ps.stdout.split()]
        if pids and os.path.exists(os.path.join(d5, "journal")) and os.path.getsize(os.path.join(d5, "journal")) > 60:
            os.kill(pids[0], signal.SIGKILL)
            broker_killed = True
            break
    t0 = time.time()
    _, err5 = p.communicate(timeout=60)
    took = time.time() - t0
    if broker_killed:
        check(p.returncode != 0 and took < 15, "optout run exits nonzero promptly when its broker dies (status %s "
              "after %.1f s: %s)" % (p.returncode, took, err5.strip()[-300:]))
    else:
        print("NOTE: the run finished before the broker could be killed; resume checked anyway")
    r = run(args5 + ["--out", d5], timeout=300)
    check(r.returncode == 0, "rerun after the broker was killed completes (%s)" % r.stderr.strip()[-400:])
    check(len(glob.glob(os.path.join(d5, "shards", "*.zst"))) == 12, "the resumed run published every shard")
    ref5 = os.path.join(tmp, "run5ref")
    r = run(args5 + ["--out", ref5], timeout=300)
    check(r.returncode == 0 and outputs(d5) == outputs(ref5),
          "run resumed after a killed broker%s: the same outputs as an undisturbed run"
          % ("" if broker_killed else " (broker finished first)"))
    rep5, ref = (json.load(open(os.path.join(d, "report.json"))) for d in (d5, ref5))
    check(all(rep5[k] == ref[k] for k in BUCKET + ["by_class", "by_agent", "by_year"]),
          "the resumed run's report counts every document once")

    # 6. crash between journaling `accepted` and publishing (fault injection), then resume
    d6 = os.path.join(tmp, "run6")
    broker = os.path.join(BIN, "optout-broker")
    bp = subprocess.Popen([broker, "--dir", d6, "--corpus", pattern, "--robots-dir", ROBOTS, "--removed",
                           "--crash-after-accept"], stderr=subprocess.PIPE, text=True)
    sock = os.path.join(d6, "broker.sock")
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.05)
    wp = subprocess.Popen([os.path.join(BIN, "optout-worker"), "--connect", "ipc://" + sock, "--root", "fs=/"],
                          stderr=subprocess.PIPE)
    bp.wait(timeout=60)
    wp.kill()
    wp.wait()
    check(bp.returncode == 99, "fault injection: the broker died after journaling accepted")
    r = run(base + ["--out", d6], timeout=300)
    check(r.returncode == 0, "resume after a crash between accepted and published (%s)" % r.stderr.strip()[-300:])
    same_result(d6, "run resumed after a crash between accepted and published")

    # 6b. roots: the broker names paths by --root mounts, a worker maps them to its own (here
    # symlinks elsewhere) and has no "fs" root at all, so a path sent any other way would fail
    d6b = os.path.join(tmp, "run6b")
    os.makedirs(d6b)
    node = os.path.join(tmp, "node")
    os.makedirs(node)
    for name, target in (("corpus", corpus), ("run", d6b), ("robots", ROBOTS)):
        os.symlink(os.path.abspath(target), os.path.join(node, name))
    bp = subprocess.Popen([broker, "--dir", d6b, "--corpus", pattern, "--robots-dir", ROBOTS, "--removed",
                           "--root", "corpus=" + os.path.abspath(corpus), "--root", "run=" + os.path.abspath(d6b),
                           "--root", "robots=" + os.path.abspath(ROBOTS)], stderr=subprocess.PIPE, text=True)
    sock = os.path.join(d6b, "broker.sock")
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.05)
    wp = subprocess.Popen([os.path.join(BIN, "optout-worker"), "--connect", "ipc://" + sock, "--slots", "2"] +
                          sum((["--root", "%s=%s" % (n, os.path.join(node, n))] for n in ("corpus", "run", "robots")),
                              []), stderr=subprocess.PIPE)
    try:
        bp.wait(timeout=120)
    finally:
        wp.terminate()
        wp.wait()
    check(bp.returncode == 0, "a worker with its own mounts (--root) runs the whole run")
    same_result(d6b, "run through --root mounts")

    # 7. a corrupt shard: listed in failed_tasks after the retry cap, everything else completes, exit 1
    bad_corpus = os.path.join(tmp, "badcorpus")
    shutil.copytree(corpus, bad_corpus)
    victim = sorted(glob.glob(os.path.join(bad_corpus, "a", "*.zst")))[0]
    data = open(victim, "rb").read()
    open(victim, "wb").write(data[: len(data) // 2])
    d7 = os.path.join(tmp, "run7")
    r = run(["run", "--corpus", os.path.join(bad_corpus, "**", "*.jsonl*"), "--robots-dir", ROBOTS, "--workers", "2",
             "--out", d7], timeout=300)
    check(r.returncode == 1, "a corrupt shard makes the run exit 1")
    report = json.load(open(os.path.join(d7, "report.json")))
    failed = report.get("failed_tasks", [])
    check(len(failed) == 1 and failed[0]["input"].endswith(os.path.relpath(victim, bad_corpus)),
          "the corrupt shard is the one listed in failed_tasks")
    check(len(glob.glob(os.path.join(d7, "shards", "**", "*.zst"), recursive=True)) == 6,
          "every other shard was published")

    # 9. Redis flushed, then killed mid-run (optout run restarts it, the broker reloads it): same result
    many = os.path.join(tmp, "many")
    subprocess.run(gen + ["--docs", "3000", "--shards", "30", "--format", "zst", "--out", many], check=True,
                   capture_output=True)
    shutil.rmtree(os.path.join(many, "_meta"))
    d9r = os.path.join(tmp, "run9ref")
    r = run(["run", "--corpus", os.path.join(many, "*.zst"), "--robots-dir", ROBOTS, "--workers", "1", "--out", d9r],
            timeout=300)
    check(r.returncode == 0, "reference run over 30 shards")
    d9 = os.path.join(tmp, "run9")
    p = subprocess.Popen([OPTOUT, "run", "--corpus", os.path.join(many, "*.zst"), "--robots-dir", ROBOTS,
                          "--workers", "1", "--out", d9], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS="100"))  # 30 tasks: 3 s at least
    sock = os.path.join(d9, "redis.sock")
    flushed = killed_redis = status_ok = False
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline and not killed_redis:
        time.sleep(0.05)
        if not status_ok and os.path.exists(os.path.join(d9, "broker.sock")):
            st = run(["status", "--dir", d9], timeout=10)
            status_ok = st.returncode == 0 and json.loads(st.stdout)["tasks"]["total"] == 30
        shards_done = len(glob.glob(os.path.join(d9, "shards", "*")))
        if not flushed and shards_done >= 3 and os.path.exists(sock):
            flushed = subprocess.run(["redis-cli", "-s", sock, "flushall"], capture_output=True).returncode == 0
        elif flushed and shards_done >= 10:
            ps = subprocess.run(["pgrep", "-f", "redis-server.*" + d9], capture_output=True, text=True)
            for pid in ps.stdout.split():
                os.kill(int(pid), signal.SIGKILL)
                killed_redis = True
    out, err = p.communicate(timeout=300)
    check(status_ok, "optout status answers with the broker's tasks while it runs")
    check(flushed and killed_redis, "Redis was flushed and killed mid-run")
    check(p.returncode == 0, "run with Redis flushed and killed exits 0 (%s)" % err.strip()[-300:])
    check(outputs(d9) == outputs(d9r) and summary(json.load(open(os.path.join(d9, "report.json")))) ==
          summary(json.load(open(os.path.join(d9r, "report.json")))), "same result with Redis flushed and killed")

    # 10. a worker that dies on one particular task every time: a poison task, not retried forever
    d10 = os.path.join(tmp, "run10")
    poison = sorted(glob.glob(os.path.join(corpus, "a", "*.zst")))[1]
    env = dict(os.environ, OPTOUT_FAULT_CRASH_ON=os.path.basename(poison))
    r = subprocess.run([OPTOUT, "run", "--corpus", pattern, "--robots-dir", ROBOTS, "--workers", "2", "--out", d10],
                       capture_output=True, text=True, timeout=300, env=env)
    check(r.returncode == 1, "a task that kills its worker every time makes the run exit 1")
    report = json.load(open(os.path.join(d10, "report.json")))
    failed = report.get("failed_tasks", [])
    check(len(failed) == 1 and failed[0]["input"] == poison and "3 attempts" in failed[0]["error"],
          "the poison task is listed in failed_tasks after 3 attempts (%s)" % failed)
    check(len(glob.glob(os.path.join(d10, "shards", "**", "*.zst"), recursive=True)) == 6,
          "every other shard was published despite the poison task")

    # 8. a second broker on a directory in use: exit 1 with a message
    d8 = os.path.join(tmp, "run8")
    bp = subprocess.Popen([broker, "--dir", d8, "--corpus", pattern, "--robots-dir", ROBOTS],
                          stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(d8, "broker.sock")) and time.time() < deadline:
        time.sleep(0.05)
    r2 = subprocess.run([broker, "--dir", d8, "--corpus", pattern, "--robots-dir", ROBOTS], capture_output=True,
                        text=True, timeout=30)
    bp.terminate()
    bp.wait(timeout=30)
    check(r2.returncode == 1 and "lock" in r2.stderr.lower(), "a second broker on the same directory exits 1 (%s)"
          % r2.stderr.strip())
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish("fleet")
