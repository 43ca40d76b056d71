#!/usr/bin/python3
"""The history stage in the fleet: `optout run --cc-robots ...` reads Common Crawl-style robotstxt
WARC files (tools/gen-ccrobots) with one task per file, any worker, and the broker merges the parts
into DIR/history/. Real broker, worker and redis-server processes; robots.txt fetched from a closed
port (every host unreachable: the fetch stage is not what is tested here).

Checks
1. --stop-after fetch with --cc-robots: the dry run's answer says what history would read (files,
   bytes, crawls) and nothing is read.
2. A run's DIR/history holds the same versions (every column but the body's offset) and the same
   bodies as `optout history` over the same files and host list; sources.tsv lists every file in
   the same order with the same counts; the manifest lists the archive and verifies.
   Over the generator's listed hosts, whose captures redirect to hosts outside the list, the run
   reads the files again for those targets (pass 2, and more for chains) and its archive is again
   optout history's over that list, judged by as optout filter --history judges; with chains of
   unlisted hosts, a third pass, as optout history makes; a chain longer than 1 + 5 passes stops
   where optout history stops, and the run says which target is left unresolved.
   The filter stage judges by the archive: report.json by_policy equals `optout filter --history`
   over the same documents (DIR/robots and DIR/history).
3. A worker killed (SIGKILL) and then the broker killed mid-history of a run deciding by
   --robots-time crawl; the same command again completes, its archive is again the same as
   `optout history`'s, and its by_policy (chosen: crawl) is `optout filter --history`'s.
   --cc-crawls with a local --cc-base reads the files the crawls' robotstxt.paths.gz list: the
   same archive again; so do --cc-crawls under a URL --cc-base (a local HTTP server) and
   --cc-robots URLs, downloaded by the workers.
4. A changed WARC file (another size) after planning: the rerun is refused (exit 2, plan differs).
   3b. The same over a host list whose captures redirect outside it, the broker killed mid-pass 2:
   the rerun keeps the pass's published parts and builds optout history's archive.
5. --cc-crawls auto (with --robots-time crawl): --stop-after survey says which crawls the
   documents name and which files of them history would read (a crawl without a capture list is
   skipped); the same command without --stop-after resumes that run and builds the archive
   `optout history --cc-crawls` builds for those crawls, judged by as optout filter --history
   judges; a rerun of the complete run changes nothing; auto without a historical policy is a usage
   error.
usage: test_history_run.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import functools, glob, http.server, json, os, shutil, signal, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, history_archive as archive, history_sources as sources, kill_broker_after, \
    real_bodies, require_tool, runner, shared_dir  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
top10k = real_bodies(shared_dir(root, 3))
require_tool("zstd", "to check the bodies file")
run = runner(optout, "run")


def single_by_policy(d, policy):
    """by_policy of one `optout filter --history` over the whole corpus, judged by d's robots/ and history/."""
    whole = os.path.join(tmp, "whole.jsonl")
    with open(whole, "wb") as f:
        for p in sorted(glob.glob(os.path.join(corpus, "*.jsonl.zst"))):
            f.write(subprocess.run(["zstd", "-dc", p], capture_output=True, check=True).stdout)
    stats = os.path.join(tmp, "single.json")
    r = subprocess.run([optout, "filter", "--archive", os.path.join(d, "robots"), "--history", d, "--robots-time", policy,
                        "--in", whole, "--out", os.path.join(tmp, "single.out.jsonl"), "--stats", stats],
                       capture_output=True, text=True)
    check(r.returncode == 0, "optout filter --history over %s (%s)" % (d, r.stderr[-200:]))
    return json.load(open(stats)).get("by_policy") if r.returncode == 0 else None


tmp = tempfile.mkdtemp(prefix="optout-history-run-")
try:
    cc = os.path.join(tmp, "cc")
    g = subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc, "--seed", "11", "--robots-dir", top10k,
                        "--files", "3", "--damage"], capture_output=True, text=True)
    if not check(g.returncode == 0, "gen-ccrobots ran (%s)" % g.stderr.strip()):
        finish("test_history_run")
    truth = json.load(open(os.path.join(cc, "truth.json")))
    # every host with a capture and every redirect target: one pass reads everything
    hosts = sorted(set(c["host"] for c in truth["captures"]) | set(c["redirect"] for c in truth["captures"]
                                                                    if c.get("redirect")))
    hosts_file = os.path.join(tmp, "hosts.txt")
    with open(hosts_file, "w") as f:
        f.write("\n".join(hosts) + "\n")
    warcs = os.path.join(cc, "crawl-data", "**", "*.warc.gz")
    nfiles = len(glob.glob(warcs, recursive=True))
    check(nfiles == len(truth["files"]) and nfiles >= 6, "the generator wrote %d WARC files" % nfiles)

    ref = os.path.join(tmp, "ref")
    r = subprocess.run([optout, "history", "--cc-robots", warcs, "--hosts", hosts_file, "--out", ref],
                       capture_output=True, text=True)
    check(r.returncode == 0, "optout history builds the reference (%s)" % r.stderr[-300:])
    want_rows, want_bodies = archive(ref)
    check(len(want_rows) > 50, "the reference has %d versions" % len(want_rows))

    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(root, "tools", "gen-corpus"), "--robots-dir", os.path.join(root, "data", "sample", "robots"),
                    "--seed", "5", "--docs", "300", "--shards", "2", "--format", "zst", "--out", corpus],
                   check=True, capture_output=True)
    base = ["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--hosts", hosts_file, "--connect-to", "127.0.0.1:1",
            "--timeout", "2", "--connect-timeout", "1", "--fetch-tasks", "2", "--cc-robots", warcs]

    # 1. the dry run says what history would read
    dry = os.path.join(tmp, "dry")
    r = run(base + ["--workers", "1", "--out", dry, "--stop-after", "fetch"])
    answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    size = sum(os.path.getsize(p) for p in glob.glob(warcs, recursive=True))
    check(answer.get("history_files") == nfiles and answer.get("history_bytes") == size and
          answer.get("history_crawls") == truth["crawls"],
          "--stop-after fetch says what history would read (%s)" % {k: v for k, v in answer.items() if "hist" in k})
    check(not os.path.exists(os.path.join(dry, "history")) and not os.path.exists(os.path.join(dry, "history-parts")),
          "the dry run read no WARC file")

    # 2. the fleet's archive is optout history's
    full = os.path.join(tmp, "full")
    r = run(base + ["--workers", "2", "--out", full])
    check(r.returncode == 0, "the run with --cc-robots exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    check("outside the plan" not in r.stderr, "a plan holding every redirect target gives no warning about them")
    stages = {s_["name"]: s_["tasks"] for s_ in json.load(open(os.path.join(full, "stages.json")))["stages"]} \
        if r.returncode == 0 else {}
    check(stages.get("history") == nfiles, "one history task per WARC file (%s of %d)" % (stages.get("history"), nfiles))
    rows, bodies = archive(full)
    check(rows == want_rows, "the run's DIR/history has optout history's versions (%d of %d)" % (len(rows), len(want_rows)))
    check(bodies == want_bodies, "and its bodies (%d)" % len(bodies))
    check(sources(full) == sources(ref), "sources.tsv lists the files read as optout history does, with their counts")
    manifest = json.load(open(os.path.join(full, "manifest.json")))
    listed = set(o["path"] for o in manifest.get("outputs", []))
    check({"history/index.tsv", "history/bodies.zst", "history/sources.tsv"} <= listed,
          "the manifest lists the history archive, whose sources.tsv names the crawls and files read")
    r = subprocess.run([optout, "verify", full], capture_output=True, text=True)
    check(r.returncode == 0, "optout verify accepts the run (%s)" % r.stderr.strip()[-200:])
    got = json.load(open(os.path.join(full, "report.json"))).get("by_policy")
    want = single_by_policy(full, "current")
    check(got is not None and got == want,
          "the filter stage judged by the run's captures: by_policy is optout filter --history's")

    # 2a. a plan without the redirect targets: a second pass reads the files again for them, and the
    # archive is what optout history builds over the same list (which makes that pass too)
    listed = os.path.join(cc, "hosts.txt")
    ref_listed = os.path.join(tmp, "ref-listed")
    r = subprocess.run([optout, "history", "--cc-robots", warcs, "--hosts", listed, "--out", ref_listed],
                       capture_output=True, text=True)
    ref_passes = int(r.stderr.split(" pass")[-2].rsplit(" ", 1)[-1]) if " passes (" in r.stderr else 1
    check(r.returncode == 0 and ref_passes >= 2, "optout history over the listed hosts makes %d passes" % ref_passes)
    part = os.path.join(tmp, "partial")
    partial = [listed if a == hosts_file else a for a in base]
    r = run(partial + ["--workers", "2", "--out", part])
    check(r.returncode == 0, "the run over the listed hosts exits 0 (%d: %s)" % (r.returncode, r.stderr[-300:]))
    want_pass2 = sorted(set(row[9] for row in archive(ref_listed)[0] if row[9] != "-") -
                        set(open(listed).read().split()))
    pass_lists = sorted(glob.glob(os.path.join(part, "history-pass*-hosts.txt")))
    check(len(pass_lists) == ref_passes - 1 and "no pass read" not in r.stderr and
          open(os.path.join(part, "history-pass2-hosts.txt")).read().split() == want_pass2,
          "the run makes optout history's %d passes (%s), pass 2 for the %d redirect targets outside the list"
          % (ref_passes, [os.path.basename(p) for p in pass_lists], len(want_pass2)))
    check(archive(part) == archive(ref_listed), "its archive is optout history's over the listed hosts")
    check(sources(part) == sources(ref_listed), "its sources.tsv names each file once, with the first pass's counts")
    check(len(glob.glob(os.path.join(part, "history-parts", "pass2-*", "history", "index.tsv"))) == nfiles,
          "one part per file in pass 2")
    r = subprocess.run([optout, "verify", part], capture_output=True, text=True)
    check(r.returncode == 0, "optout verify accepts the run of two passes (%s)" % r.stderr.strip()[-200:])
    got = json.load(open(os.path.join(part, "report.json"))).get("by_policy")
    check(got is not None and got == single_by_policy(part, "current"),
          "judged by the captures of every pass: by_policy is optout filter --history's")

    # 2a'. chains: unlisted hosts redirecting to other unlisted ones make a third pass
    cc3 = os.path.join(tmp, "cc3")
    subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc3, "--seed", "11", "--robots-dir", top10k,
                    "--files", "2", "--extra-hosts", "30"], capture_output=True, check=True)
    ref3, chain = os.path.join(tmp, "ref-chain"), os.path.join(tmp, "chain")
    warcs3, listed3 = os.path.join(cc3, "crawl-data", "**", "*.warc.gz"), os.path.join(cc3, "hosts.txt")
    r = subprocess.run([optout, "history", "--cc-robots", warcs3, "--hosts", listed3, "--out", ref3],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "3 passes" in r.stderr, "optout history makes 3 passes over the chains (%s)"
          % r.stderr[-300:])
    args = [listed3 if a == hosts_file else warcs3 if a == warcs else a for a in base]
    r = run(args + ["--workers", "2", "--out", chain])
    check(r.returncode == 0 and [os.path.basename(q) for q in sorted(glob.glob(os.path.join(chain, "history-pass*")))]
          == ["history-pass2-hosts.txt", "history-pass3-hosts.txt"] and archive(chain) == archive(ref3) and
          sources(chain) == sources(ref3), "the run makes the same 3 passes: optout history's archive (%d: %s)"
          % (r.returncode, r.stderr[-300:]))

    # 2a''. a chain longer than the passes allow: 1 + 5 passes as optout history, the rest said
    import importlib.machinery, importlib.util, random
    loader = importlib.machinery.SourceFileLoader("gen_ccrobots", os.path.join(root, "tools", "gen-ccrobots"))
    gen = importlib.util.module_from_spec(importlib.util.spec_from_loader("gen_ccrobots", loader))
    loader.exec_module(gen)
    crawl = "CC-MAIN-2021-04"
    rel = os.path.join("crawl-data", crawl, "segments", "1", "robotstxt", "chain.warc.gz")
    w, t = gen.Writer(random.Random(1), crawl, rel), gen.crawl_monday(crawl) + 3600
    w.warcinfo(t)
    chain_hosts = ["chain%d.example" % i for i in range(9)]
    for i, h in enumerate(chain_hosts):  # each redirects to the next, the last answers
        last = i == len(chain_hosts) - 1
        w.capture("https://%s/robots.txt" % h, t + i, gen.http_payload(200 if last else 301, t + i, b"User-agent: *\n"
                  if last else b"", None if last else "https://%s/robots.txt" % chain_hosts[i + 1]))
    long_dir = os.path.join(tmp, "cc-long")
    os.makedirs(os.path.dirname(os.path.join(long_dir, rel)))
    with open(os.path.join(long_dir, rel), "wb") as f:
        f.write(w.out.getvalue())
    long_hosts = os.path.join(tmp, "chain-hosts.txt")
    with open(long_hosts, "w") as f:
        f.write(chain_hosts[0] + "\n")
    long_warcs, ref_long, long_run = os.path.join(long_dir, rel), os.path.join(tmp, "ref-long"), os.path.join(tmp, "long")
    r = subprocess.run([optout, "history", "--cc-robots", long_warcs, "--hosts", long_hosts, "--out", ref_long],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "6 passes" in r.stderr, "optout history stops after 6 passes (%s)" % r.stderr[-200:])
    args = [long_hosts if a == hosts_file else long_warcs if a == warcs else a for a in base]
    r = run(args + ["--workers", "2", "--out", long_run])
    kept = sorted(set(row[0] for row in archive(long_run)[0])) if r.returncode == 0 else []
    check(r.returncode == 0 and archive(long_run) == archive(ref_long) and kept == chain_hosts[:6] and
          len(glob.glob(os.path.join(long_run, "history-pass*-hosts.txt"))) == 5 and
          "after 6 passes, captures still redirect to 1 host no pass read (e.g. chain6.example)" in r.stderr,
          "a chain of 8 hops: the run makes optout history's 6 passes, keeps the same hosts (%s) and says what is "
          "left unresolved (%d: %s)" % (kept, r.returncode, r.stderr[-300:]))

    # 2b. the same files named by --cc-crawls under a local --cc-base (their robotstxt.paths.gz)
    crawled = os.path.join(tmp, "crawled")
    args = [a for a in base if a not in ("--cc-robots", warcs)]
    r = run(args + ["--workers", "2", "--out", crawled, "--cc-crawls", ",".join(truth["crawls"]), "--cc-base", cc])
    check(r.returncode == 0, "the run with --cc-crawls and a local --cc-base exits 0 (%d: %s)"
          % (r.returncode, r.stderr[-500:]))
    if r.returncode == 0:
        rows, bodies = archive(crawled)
        check(rows == want_rows and bodies == want_bodies, "its archive is optout history's")
        check(len(sources(crawled)) == nfiles + 1, "its sources.tsv lists every file of the crawls' lists")

    # 2c. over HTTP: --cc-crawls under a URL --cc-base, and --cc-robots URLs; the workers download
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=cc))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % httpd.server_address[1]
    try:
        over = os.path.join(tmp, "http")
        r = run(args + ["--workers", "2", "--out", over, "--cc-crawls", ",".join(truth["crawls"]), "--cc-base", url])
        check(r.returncode == 0, "the run with --cc-crawls over HTTP exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
        if r.returncode == 0:
            rows, bodies = archive(over)
            check(rows == want_rows and bodies == want_bodies, "its archive is optout history's")
            check([l[0] for l in sources(over)[1:]] == [url + "/" + f["path"] for f in truth["files"]],
                  "its sources.tsv names the URLs read, in the lists' order")
        urls = [url + "/" + f["path"] for f in truth["files"]]
        over2 = os.path.join(tmp, "http2")
        r = run(args + ["--workers", "2", "--out", over2, "--cc-robots"] + urls)
        check(r.returncode == 0 and archive(over2) == (want_rows, want_bodies),
              "--cc-robots URLs: the same archive (%d: %s)" % (r.returncode, r.stderr[-300:]))
    finally:
        httpd.shutdown()

    # 3. kill a worker, then the broker, mid-history; the rerun completes with the same archive
    crash = os.path.join(tmp, "crash")
    args = base + ["--workers", "2", "--out", crash, "--robots-time", "crawl"]
    env = dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS="400")  # every task slow: the kills land mid-stage
    p = subprocess.Popen([optout, "run"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    parts = os.path.join(crash, "history-parts", "*", "history", "index.tsv")
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(parts)) < 1:
        time.sleep(0.02)
    workers = subprocess.run(["pgrep", "-P", str(p.pid), "-f", "optout-worker"], capture_output=True,
                             text=True).stdout.split()
    check(len(workers) >= 1, "found a worker to kill")
    if workers:
        os.kill(int(workers[0]), signal.SIGKILL)
    while time.time() < deadline and len(glob.glob(parts)) < 2:
        time.sleep(0.02)
    broker = subprocess.run(["pgrep", "-P", str(p.pid), "-f", "optout-broker"], capture_output=True, text=True).stdout.split()
    check(len(broker) == 1, "found the broker to kill")
    before = len(glob.glob(parts))
    for pid in broker:
        os.kill(int(pid), signal.SIGKILL)
    rc = p.wait(timeout=60)
    check(rc == 1, "optout run exits 1 when its broker dies (got %d)" % rc)
    check(0 < before < nfiles and not os.path.exists(os.path.join(crash, "history", "index.tsv")),
          "the broker died mid-history (%d of %d parts published, no archive yet)" % (before, nfiles))
    r = run(args)
    check(r.returncode == 0, "the rerun completes (%d: %s)" % (r.returncode, r.stderr[-500:]))
    rows, bodies = archive(crash)
    check(rows == want_rows and bodies == want_bodies, "after the kills the archive is optout history's")
    check(sources(crash) == sources(ref), "and its sources.tsv")
    check(not glob.glob(os.path.join(crash, ".history.staging.*")), "no history staging directory is left")
    rep = json.load(open(os.path.join(crash, "report.json")))
    check(rep["config"]["robots_time"] == "crawl" and rep.get("by_policy", {}).get("chosen") == "crawl" and
          rep["by_policy"] == single_by_policy(crash, "crawl"),
          "the resumed run decided by crawl: its by_policy is optout filter --history's")

    # 3b. the broker killed mid-pass 2: the rerun finishes that pass without redoing its published tasks
    crash2 = os.path.join(tmp, "crash-pass2")
    args = partial + ["--workers", "2", "--out", crash2]
    parts2 = os.path.join(crash2, "history-parts", "pass2-*", "history", "index.tsv")
    broker = kill_broker_after(optout, args, parts2, 2, 400)
    published = {q: os.stat(q).st_ino for q in glob.glob(parts2)}
    check(len(broker) == 1 and 0 < len(published) < nfiles and
          not os.path.exists(os.path.join(crash2, "history", "index.tsv")),
          "the broker died mid-pass 2 (%d of %d parts of it published)" % (len(published), nfiles))
    r = run(args)
    check(r.returncode == 0, "the rerun completes (%d: %s)" % (r.returncode, r.stderr[-500:]))
    check(all(os.path.exists(q) and os.stat(q).st_ino == ino for q, ino in published.items()),
          "the pass-2 parts published before the kill were kept, not redone")
    check(len(glob.glob(parts2)) == nfiles and archive(crash2) == archive(ref_listed) and
          sources(crash2) == sources(ref_listed), "after the kill the archive is optout history's over the listed hosts")

    # 4. a WARC file changed after planning: the plan refuses the rerun
    victim = sorted(glob.glob(warcs, recursive=True))[0]
    with open(victim, "ab") as f:
        f.write(b"\n")
    r = run(base + ["--workers", "1", "--out", full])
    check(r.returncode == 2 and "cc-robots" in r.stderr,
          "a WARC file changed since planning is a usage error naming --cc-robots (%d: %s)"
          % (r.returncode, r.stderr.strip()[-300:]))

    # 5. --cc-crawls auto: the crawls the survey finds
    import random
    rnd = random.Random(3)
    named = truth["crawls"][:2] + ["CC-MAIN-2016-50"]  # the last has no capture list under --cc-base
    auto_corpus = os.path.join(tmp, "auto-corpus")
    os.makedirs(auto_corpus)
    for k in range(2):
        with open(os.path.join(auto_corpus, "part%d.jsonl" % k), "w") as f:
            for i in range(100):
                d = {"id": "a%d-%d" % (k, i), "url": "https://%s/p%d" % (rnd.choice(truth["listed"]), i),
                     "text": "t" * rnd.randrange(1, 200)}
                if i % 5:
                    d["dump"] = rnd.choice(named)
                f.write(json.dumps(d) + "\n")
    auto = os.path.join(tmp, "auto")
    args = [a for a in base if a not in ("--cc-robots", warcs)]
    args = [os.path.join(auto_corpus, "*.jsonl") if a == base[1] else a for a in args]
    args += ["--workers", "2", "--out", auto, "--cc-crawls", "auto", "--cc-base", cc, "--robots-time", "crawl"]
    r = run(args + ["--stop-after", "survey"])
    answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    files = [f for f in truth["files"] if f["crawl"] in named]
    check(answer.get("history_crawls") == truth["crawls"][:2] and answer.get("history_files") == len(files) and
          answer.get("history_bytes") == sum(os.path.getsize(os.path.join(cc, f["path"])) for f in files) and
          set(answer.get("survey", {}).get("crawls", {})) == set(named + ["-"]),
          "--cc-crawls auto, --stop-after survey: the crawls found and the files history would read (%s; want %d files, %d bytes; survey %s)"
          % ({k: v for k, v in answer.items() if k.startswith("history")}, len(files), sum(os.path.getsize(os.path.join(cc, f["path"])) for f in files),
             sorted(answer.get("survey", {}).get("crawls", {}))))
    check("CC-MAIN-2016-50 has no readable capture list" in r.stderr, "a crawl without a capture list is said and skipped")
    r = run(args)
    check(r.returncode == 0, "the same run without --stop-after completes (%d: %s)" % (r.returncode, r.stderr[-400:]))
    ref_auto = os.path.join(tmp, "ref-auto")
    subprocess.run([optout, "history", "--cc-crawls", ",".join(truth["crawls"][:2]), "--cc-base", cc, "--hosts",
                    hosts_file, "--out", ref_auto], capture_output=True, check=True)
    if r.returncode == 0:
        check(archive(auto) == archive(ref_auto), "its archive is optout history's over the crawls found")
        rep = json.load(open(os.path.join(auto, "report.json")))
        whole = os.path.join(tmp, "auto-whole.jsonl")
        with open(whole, "w") as f:
            for k in range(2):
                f.write(open(os.path.join(auto_corpus, "part%d.jsonl" % k)).read())
        stats = os.path.join(tmp, "auto-single.json")
        q = subprocess.run([optout, "filter", "--archive", os.path.join(auto, "robots"), "--history", auto,
                            "--robots-time", "crawl", "--in", whole, "--out", os.path.join(tmp, "auto.out"),
                            "--stats", stats], capture_output=True, text=True)
        check(q.returncode == 0 and rep.get("by_policy") == json.load(open(stats))["by_policy"] and
              rep["by_policy"]["coverage"]["same_crawl"]["docs_in"] > 0,
              "its by_policy is optout filter --history's, with same-crawl captures")
        before = open(os.path.join(auto, "report.json")).read()
        r = run(args)
        check(r.returncode == 0 and open(os.path.join(auto, "report.json")).read() == before,
              "a rerun of the complete run changes nothing (%d)" % r.returncode)
    usage = [os.path.join(tmp, "auto-usage") if a == auto else a for a in args[:-2]]  # without --robots-time crawl
    r = run(usage)
    check(r.returncode == 2 and "auto" in r.stderr and "survey" in r.stderr,
          "--cc-crawls auto without a historical policy: exit 2 (%s)" % r.stderr.strip()[-200:])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish("test_history_run")
