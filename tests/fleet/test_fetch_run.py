#!/usr/bin/python3
"""The whole pipeline with fetching: `optout run` without --robots-dir ranks the corpus's hosts,
fetches their robots.txt from a local test server (tools/robots-server, every request routed there
with --connect-to), and filters. Real broker, worker and redis-server processes.

Checks
1. A fetch run keeps and removes exactly what a run over the same bodies given as --robots-dir
   does (hosts without a body: 404 -> unavailable vs no file -> no_robots; both keep).
2. The archive (DIR/robots) holds every host of the plan (DIR/ranking/hosts.txt) exactly once.
3. kill -9 of the broker during the fetch stage, then the same command again: the same shards, each
   host in the archive once, no host fetched twice after its pack was published.
4. --top-en 3 --top-intl 3: only the top hosts are fetched; the others' documents are kept and
   counted as not_ranked; what is removed is a subset of the full run's removals.
   (3 also covers --hosts FILE: exactly that list is fetched.)
5. --stop-after rank, then fetch (dry runs: counts, blocked_hosts.tsv, no shard), then the whole
   run; its manifest verifies, and a changed output byte does not.
usage: test_fetch_run.py BIN_DIR REPO_ROOT"""
import glob, json, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, robots_server, runner, stop, tree_outputs as outputs  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
robots = os.path.join(root, "data", "sample", "robots")
run = runner(optout, "run")


def archive_hosts(run):
    hosts = []
    for p in sorted(glob.glob(os.path.join(run, "robots", "*.tsv"))):
        for line in open(p, encoding="utf-8"):
            if line.startswith("#"):
                continue
            hosts.append(line.split("\t")[0])
    return hosts


tmp = tempfile.mkdtemp(prefix="optout-fetch-run-")
server = None
try:
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(root, "tools", "gen-corpus"), "--robots-dir", robots, "--seed", "7", "--docs", "3000",
                    "--shards", "4", "--format", "zst", "--out", corpus], check=True, capture_output=True)
    log = os.path.join(tmp, "server.log")
    server, port = robots_server(root, robots, "--log", log)
    fetch = ["--connect-to", "127.0.0.1:" + port, "--timeout", "10", "--connect-timeout", "5"]
    base = ["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--removed", "--workers", "2"]

    # 1. fetched vs given as a directory
    r = run(base + ["--robots-dir", robots, "--out", os.path.join(tmp, "dir")])
    check(r.returncode == 0, "run over --robots-dir exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    full = os.path.join(tmp, "fetched")
    r = run(base + fetch + ["--out", full, "--fetch-tasks", "5", "--partitions", "3"])
    check(r.returncode == 0, "fetch run exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    want = outputs(os.path.join(tmp, "dir"))
    got = outputs(full)
    check(want.keys() == got.keys() and all(want[k] == got[k] for k in want),
          "fetch run writes the same kept and removed documents as the robots-directory run")
    rep = json.load(open(os.path.join(full, "report.json")))
    check(rep["docs_removed"] > 0 and rep["docs_by_outcome"]["ok"] > 0, "the fetch run removed documents of ok hosts")

    # 2. the archive holds the plan, each host once
    plan = [l.strip() for l in open(os.path.join(full, "ranking", "hosts.txt")) if l.strip()]
    hosts = archive_hosts(full)
    check(sorted(hosts) == sorted(set(plan)) and len(hosts) == len(set(hosts)),
          "the archive has every planned host exactly once (%d hosts)" % len(plan))

    # 3. kill -9 the broker during the fetch stage; the slow hosts keep that stage busy
    hosts_file = os.path.join(tmp, "hosts.txt")
    slow = ["slowhead2-%d.test" % i for i in range(12)]
    with open(hosts_file, "w") as f:
        f.write("\n".join(plan + slow) + "\n")
    crash = os.path.join(tmp, "crash")
    args = base + fetch + ["--out", crash, "--hosts", hosts_file, "--fetch-tasks", "12", "--concurrency", "1"]
    p = subprocess.Popen([optout, "run"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(glob.glob(os.path.join(crash, "robots", "*.tsv"))) < 2:
        time.sleep(0.05)
    broker = subprocess.run(["pgrep", "-f", "optout-broker .*--dir " + crash + "( |$)"], capture_output=True, text=True).stdout.split()
    check(len(broker) == 1, "found the broker to kill")
    published_before = set(archive_hosts(crash))
    for pid in broker:
        os.kill(int(pid), signal.SIGKILL)
    rc = p.wait(timeout=60)
    check(rc == 1, "optout run exits 1 when its broker dies (got %d)" % rc)
    check(0 < len(published_before) < len(plan) + len(slow), "the broker died mid-fetch (%d hosts archived)"
          % len(published_before))
    mark = sum(1 for _ in open(log))
    r = run(args)
    check(r.returncode == 0, "the rerun completes (%d: %s)" % (r.returncode, r.stderr[-500:]))
    hosts = archive_hosts(crash)
    check(sorted(hosts) == sorted(set(plan + slow)), "after the crash the archive has every host exactly once")
    again = set(l.split("\t")[0] for l in list(open(log))[mark:])  # host keys, ":port" included
    twice = again & published_before
    if twice:
        print("fetched again:", sorted(twice)[:10])
    check(not twice,
          "no host published before the crash was fetched again")
    crashed = outputs(crash)
    check(crashed.keys() == got.keys() and all(crashed[k] == got[k] for k in got),
          "the crashed and resumed run has the same outputs as the undisturbed one")

    # 5. dry runs: --stop-after rank, then --stop-after fetch, then the whole run goes on from there
    dry = os.path.join(tmp, "dry")
    args = base + fetch + ["--out", dry, "--fetch-tasks", "5", "--partitions", "3"]
    r = run(args + ["--stop-after", "rank"])
    answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    check(r.returncode == 0 and answer.get("stopped_after") == "rank" and answer.get("hosts_planned") == len(plan),
          "--stop-after rank says how many hosts would be fetched (%s)" % answer.get("hosts_planned"))
    check(not os.path.exists(os.path.join(dry, "robots")) and not os.path.exists(os.path.join(dry, "shards")),
          "--stop-after rank fetches nothing and writes no shard")
    r = run(args + ["--stop-after", "fetch"])
    answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    blocked = [l.split("\t") for l in open(os.path.join(dry, "blocked_hosts.tsv")) if not l.startswith("#")] \
        if os.path.exists(os.path.join(dry, "blocked_hosts.tsv")) else []
    check(answer.get("stopped_after") == "fetch" and sum(answer.get("hosts_by_outcome", {}).values()) == len(plan)
          and answer.get("hosts_blocking") == len(blocked) > 0,
          "--stop-after fetch says how many hosts block agents (%s of %d)" % (answer.get("hosts_blocking"), len(plan)))
    gpt = [h for h in blocked if "GPTBot" in h[1].split(",")]
    check(answer.get("by_agent", {}).get("GPTBot", {}).get("hosts_blocking") == len(gpt),
          "the dry run's per-agent counts are blocked_hosts.tsv's")
    check(not os.path.exists(os.path.join(dry, "shards")), "--stop-after fetch writes no shard")
    r = run(args)
    check(r.returncode == 0 and outputs(dry) == got, "the run after the dry runs has the undisturbed run's outputs")
    check(not os.path.exists(os.path.join(dry, "dry-run.json")), "the dry run's answer is gone once the run is done")
    r = subprocess.run([os.path.join(bin_dir, "optout"), "verify", dry], capture_output=True, text=True)
    check(r.returncode == 0, "optout verify accepts the run's manifest (%s)" % r.stderr.strip()[-200:])
    victim = sorted(glob.glob(os.path.join(dry, "shards", "*.zst")))[0]
    data = bytearray(open(victim, "rb").read())
    data[len(data) // 2] ^= 1
    open(victim, "wb").write(bytes(data))
    r = subprocess.run([os.path.join(bin_dir, "optout"), "verify", dry], capture_output=True, text=True)
    check(r.returncode == 1 and os.path.relpath(victim, dry) in r.stdout + r.stderr,
          "optout verify names a changed output byte")

    # 4. top N: fewer hosts fetched, the rest not_ranked and kept
    top = os.path.join(tmp, "top")
    r = run(base + fetch + ["--out", top, "--top-en", "3", "--top-intl", "3", "--fetch-tasks", "3"])
    check(r.returncode == 0, "top-N run exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    tplan = [l.strip() for l in open(os.path.join(top, "ranking", "hosts.txt")) if l.strip()]
    check(3 <= len(tplan) <= 6 and sorted(archive_hosts(top)) == sorted(tplan), "only the top hosts were fetched")
    trep = json.load(open(os.path.join(top, "report.json")))
    check(trep["docs_by_outcome"]["not_ranked"] > 0, "documents of unranked hosts are counted as not_ranked")
    check(trep["docs_removed"] <= rep["docs_removed"], "the top-N run removes a subset (%d of %d)"
          % (trep["docs_removed"], rep["docs_removed"]))
    full_removed = b"".join(v for k, v in got.items() if k.startswith("removed/"))
    top_removed = [l for k, v in outputs(top).items() if k.startswith("removed/") for l in v.splitlines()]
    check(all(l in full_removed for l in top_removed), "every document the top-N run removed, the full run removed")
finally:
    stop(server)
    shutil.rmtree(tmp, ignore_errors=True)
finish("fetch run")
