#!/usr/bin/python3
"""The fleet's filter stage judges by robots.txt as it was: `optout run --history DIR --robots-time P`
over a corpus split into shards gives what `optout filter --history` gives over the whole corpus,
and both what the independent checker (tests/history/policy_check.py) reckons for every document.
Real broker, worker and redis-server processes; the captures are tools/gen-ccrobots' WARC files
built from the real bodies of SHARED_DIR/data/robots-top10k (skipped, 77, without them), today's
robots.txt the same real bodies (--robots-dir).

Checks
0. --stop-after survey: the rank maps survey the corpus (a historical run always does, even with
   --robots-dir): DIR/survey.tsv holds per host and crawl the documents and tokens the checker
   counts, dry-run.json the per-crawl totals, and nothing is filtered; the broker killed
   (SIGKILL) mid-survey, the same command again gives the same survey; without a historical
   policy --stop-after survey is a usage error.
1. For every policy (and --history-missing keep / remove): report.json by_policy equals the single
   filter's by_policy (the workers reading the captures from the run's Redis, where the broker
   loaded them, and, without redis-server on the PATH, from the archive itself); the run's removed documents and their agents, every policy's counts, the
   coverage, the tokens per crawl, the chart (policy-by-crawl.svg) and the CCBot count are the
   checker's (test_policy_filter.compare over the run's outputs); report.json config robots_time
   is the policy; report.md has the section with the chosen policy marked.
2. --output tags: the tags are the chosen policy's decisions (the single filter's tags).
3. `optout why --run DIR --id ID` on a historical run names the capture that decided (its SHA-256
   and crawl) and the chosen policy, with no --history given; on a run over Dolma-shaped documents
   (--dump-field metadata.cc_segment, --date-field metadata.timestamp, --history-max-age 200,
   --history-missing remove) it reads every document's crawl and date where the filter did and
   says removed for exactly the documents the run removed.
4. A historical run killed (broker SIGKILL) mid-filter resumes to the same by_policy.
5. A usage error for a historical policy without captures, and for --history with --cc-robots.
usage: test_history_policy_run.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import glob, json, os, signal, subprocess, sys, tempfile, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "history"))
from optout_test import check, finish, kill_broker_after, remove_workdir, runner  # noqa: E402
import policy_check as pc  # noqa: E402
import test_policy_filter as tpf  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
shared = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, "..", "shared")
optout = os.path.join(bin_dir, "optout")
run = runner(optout, "run")
REPORT_ONLY = ("complete", "tasks", "failed_tasks", "retried_tasks", "config", "fetch", "by_policy")


def said(r, n):
    """A failed process's last n characters of stderr, for a check's message."""
    return ": " + r.stderr[-n:] if r.returncode else ""


def zstd_lines(path):
    data = open(path, "rb").read()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        data = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    return data.decode().splitlines(keepends=True)


def gather(pattern, into):
    """The lines of every file matching pattern, in name order, into one file."""
    with open(into, "w") as f:
        for p in sorted(glob.glob(pattern)):
            f.write("".join(zstd_lines(p)))
    return into


tmp = tempfile.mkdtemp(prefix="optout-hpolicy-run-")
try:
    scenario = tpf.ccrobots_scenario(optout, root, shared, tmp)
    if scenario is None:
        finish("test_history_policy_run")
    ctx, merged, archive, shard, top10k = scenario
    corpus = os.path.join(tmp, "corpus")
    os.makedirs(corpus)
    lines = open(shard).readlines()
    for i in range(4):  # four shards, every fourth document
        with open(os.path.join(corpus, "part%d.jsonl" % i), "w") as f:
            f.write("".join(lines[i::4]))
    base = ["--corpus", os.path.join(corpus, "*.jsonl"), "--robots-dir", top10k, "--history", archive,
            "--report-cutoff", tpf.REPORT_CUTOFF, "--keep-format", "--workers", "2"]

    def single(policy, missing, extra=()):
        out, stats = (os.path.join(tmp, x) for x in ("single.jsonl", "single.json"))
        p = subprocess.run([optout, "filter", "--history", archive, "--robots-dir", top10k, "--in", shard, "--out", out,
                            "--stats", stats, "--robots-time", policy, "--history-missing", missing,
                            "--report-cutoff", tpf.REPORT_CUTOFF] + list(extra), capture_output=True, timeout=300)
        check(p.returncode == 0, "optout filter --history %s: exit %d" % (policy, p.returncode))
        return out, json.load(open(stats))

    # 0. the survey
    want_rows = {}
    for line in lines:
        doc = json.loads(line)
        crawl = pc.doc_time(doc.get("dump"), doc.get("date"))[0] or "-"
        row = want_rows.setdefault((tpf.host_of(doc["url"]).lower(), crawl), [0, 0])
        row[0] += 1
        row[1] += doc["token_count"]
    d = os.path.join(tmp, "survey")
    r = run(base + ["--out", d, "--robots-time", "crawl", "--stop-after", "survey"])
    answer = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
    if check(r.returncode == 0 and "survey" in answer, "--stop-after survey answers (%d%s)"
             % (r.returncode, said(r, 300))):
        got_rows = {}
        for l in open(os.path.join(d, "survey.tsv")):
            if not l.startswith("#"):
                host, crawl, docs, tokens = l.rstrip("\n").split("\t")
                got_rows[(host, crawl)] = [int(docs), int(tokens)]
        check(got_rows == want_rows, "DIR/survey.tsv: documents and tokens per host and crawl (%d rows)" % len(want_rows))
        per_crawl = {}
        for (host, crawl), (docs, tokens) in want_rows.items():
            c = per_crawl.setdefault(crawl, {"docs": 0, "tokens": 0, "hosts": 0})
            c["docs"] += docs
            c["tokens"] += tokens
            c["hosts"] += 1
        check(answer["survey"]["crawls"] == per_crawl and answer["survey"]["docs"] == len(lines),
              "the dry run's survey: documents, tokens and hosts per crawl")
        check(not glob.glob(os.path.join(d, "shards", "*")), "the dry run filtered nothing")
        # the broker killed mid-survey: the same command again gives the same survey
        k = os.path.join(tmp, "survey-kill")
        args = base + ["--out", k, "--robots-time", "crawl", "--stop-after", "survey"]
        parts = os.path.join(k, "ranking", "map", "*.survey.tsv")
        broker = kill_broker_after(optout, args, parts, 1, 700)
        done = len(glob.glob(parts))
        check(len(broker) == 1 and 0 < done < 4 and not os.path.exists(os.path.join(k, "survey.tsv")),
              "the broker died mid-survey (%d of 4 survey parts)" % done)
        r = run(args)
        again = json.loads(r.stdout) if r.returncode == 0 and r.stdout.startswith("{") else {}
        check(r.returncode == 0 and again.get("survey") == answer["survey"] and
              open(os.path.join(k, "survey.tsv")).read() == open(os.path.join(d, "survey.tsv")).read(),
              "after the kill, the rerun's survey.tsv and dry-run survey are the uninterrupted run's (%d%s)"
              % (r.returncode, said(r, 300)))
    r = run(base + ["--out", os.path.join(tmp, "u0"), "--stop-after", "survey"])
    check(r.returncode == 2 and "survey" in r.stderr, "--stop-after survey without a historical policy: exit 2")

    # 1. every policy
    for policy, missing in [("current", "current"), ("crawl", "current"), ("cutoff:2021-01-01", "keep"),
                            ("strictest", "remove"), ("crawl", "keep")]:
        name = "fleet, %s missing=%s" % (policy, missing)
        d = os.path.join(tmp, "run-" + policy.replace(":", "-") + "-" + missing)
        r = run(base + ["--out", d, "--removed", "--robots-time", policy, "--history-missing", missing])
        if not check(r.returncode == 0, "%s: optout run exits 0 (%d%s)" % (name, r.returncode, said(r, 400))):
            continue
        rep = json.load(open(os.path.join(d, "report.json")))
        _, want = single(policy, missing)
        check(rep.get("by_policy") == want["by_policy"], "%s: report.json by_policy is optout filter's" % name)
        check(rep["config"]["robots_time"] == policy, "%s: the report's robots_time (%s)" % (name, rep["config"]["robots_time"]))
        stats = os.path.join(tmp, "stats.json")
        with open(stats, "w") as f:
            json.dump({k: v for k, v in rep.items() if k not in REPORT_ONLY or k == "by_policy"}, f)
        out = gather(os.path.join(d, "shards", "*"), os.path.join(tmp, "out.jsonl"))
        rem = gather(os.path.join(d, "removed", "*"), os.path.join(tmp, "rem.jsonl"))
        tpf.compare(ctx, name, merged, policy, missing, 365, "keep", out, rem, stats, os.path.join(d, "report.md"),
                    os.path.join(d, "policy-by-crawl.svg"))
        files = ("report.json", "report.md", "report.msgpack", "policy-by-crawl.svg")
        before = [open(os.path.join(d, f), "rb").read() for f in files]
        for f in files[:2] + files[3:]:  # report.msgpack is what they are rendered from
            os.unlink(os.path.join(d, f))
        r = subprocess.run([optout, "report", d], capture_output=True, timeout=60)
        check(r.returncode == 0 and [open(os.path.join(d, f), "rb").read() for f in files] == before,
              "%s: optout report DIR renders the same files again from report.msgpack" % name)
    check({"same_crawl", "earlier", "none", "no_time"} <= ctx["seen"], "every coverage case occurs (%s)"
          % sorted(ctx["seen"]))
    # without redis-server on the PATH: no Redis, the workers open the archive
    nopath = os.path.join(tmp, "no-path")
    os.makedirs(nopath)
    d = os.path.join(tmp, "no-redis")
    r = run(base + ["--out", d, "--robots-time", "strictest", "--history-missing", "remove"],
            env=dict(os.environ, PATH=nopath, OPTOUT_LOG_LEVEL="info"))
    _, want = single("strictest", "remove")
    check(r.returncode == 0 and "the captures of" not in r.stderr and not os.path.exists(os.path.join(d, "redis.sock")) and
          json.load(open(os.path.join(d, "report.json"))).get("by_policy") == want["by_policy"],
          "without Redis the workers judge by the archive: the same by_policy (%d%s)" % (r.returncode, said(r, 300)))
    r = run(base + ["--out", os.path.join(tmp, "with-redis"), "--robots-time", "strictest", "--history-missing",
                    "remove"], env=dict(os.environ, OPTOUT_LOG_LEVEL="info"))
    check(r.returncode == 0 and "the captures of" in r.stderr, "with Redis the broker loads the captures into it")

    # 2. tags record the chosen policy's decisions
    d = os.path.join(tmp, "tags")
    r = run(base + ["--out", d, "--output", "tags", "--robots-time", "strictest"])
    if check(r.returncode == 0, "tag mode: optout run exits 0 (%d%s)" % (r.returncode, said(r, 300))):
        got = sorted(json.loads(l)["id"] + " " + ",".join(json.loads(l)["disallowed_user_agents"])
                     for p in glob.glob(os.path.join(d, "tags", "*")) for l in zstd_lines(p))
        out, _ = single("strictest", "current", ["--output", "tags"])
        want = sorted(json.loads(l)["id"] + " " + ",".join(json.loads(l)["disallowed_user_agents"])
                      for l in zstd_lines(out))
        check(got == want and len(got) > 10, "tag mode: the tags are the strictest policy's (%d of %d)"
              % (len(got), len(want)))

    # 3. optout why on the historical run directory names the deciding capture
    d = os.path.join(tmp, "run-crawl-current")
    docs = {json.loads(l)["id"]: json.loads(l) for l in lines}
    same = [i for i, doc in sorted(docs.items()) if doc.get("dump") and doc.get("date")]
    asked = same[:40]
    r = subprocess.run([optout, "why", "--run", d, "--json"] + sum([["--id", i] for i in asked], []),
                       capture_output=True, text=True, timeout=300)
    if check(r.returncode == 0, "why on the run directory exits 0 (%d%s)" % (r.returncode, said(r, 300))):
        answers = [json.loads(l) for l in r.stdout.splitlines()]
        decided = [a for a in answers if (a.get("history") or {}).get("capture")]
        check(len(answers) >= len(asked) and len(decided) > 0 and
              all(a["history"].get("chosen") == "crawl" for a in answers if a.get("history")),
              "why names the chosen policy and, for %d of %d documents, the deciding capture" % (len(decided), len(answers)))
        check(all(len(a["history"]["capture"].get("sha256") or "") in (0, 64) and a["history"]["capture"].get("crawl")
                  for a in decided), "each deciding capture with its crawl and SHA-256")

    # 3b. Dolma-shaped documents: optout why reads the documents' time where the run's filter did, and
    # judges with the plan's policy values
    dolma = os.path.join(tmp, "dolma")
    os.makedirs(dolma)
    want_crawl = {}
    for i in range(2):
        with open(os.path.join(dolma, "part%d.jsonl" % i), "w") as f:
            for line in lines[i::2]:
                doc = json.loads(line)
                meta = {"url": doc["url"], "token_count": doc["token_count"]}
                if "dump" in doc:
                    meta["cc_segment"] = "crawl-data/%s/segments/1.2/warc/x.warc.gz" % doc["dump"]
                if "date" in doc:
                    meta["timestamp"] = doc["date"]
                want_crawl[doc["id"]] = pc.doc_time(doc.get("dump"), doc.get("date"))[0] or None
                f.write(json.dumps({"id": doc["id"], "text": doc["text"], "metadata": meta}) + "\n")
    d = os.path.join(tmp, "run-dolma")
    r = run(["--corpus", os.path.join(dolma, "*.jsonl"), "--robots-dir", top10k, "--history", archive,
             "--report-cutoff", tpf.REPORT_CUTOFF, "--keep-format", "--workers", "2", "--out", d, "--removed",
             "--robots-time", "crawl", "--history-missing", "remove", "--history-max-age", "200",
             "--dump-field", "metadata.cc_segment", "--date-field", "metadata.timestamp"])
    if check(r.returncode == 0, "Dolma run: optout run exits 0 (%d%s)" % (r.returncode, said(r, 300))):
        removed_ids = {json.loads(l)["id"] for l in open(gather(os.path.join(d, "removed", "*"),
                                                                 os.path.join(tmp, "d-rem.jsonl")))}
        r = subprocess.run([optout, "why", "--run", d, "--json"] + sum([["--id", i] for i in sorted(want_crawl)], []),
                           capture_output=True, text=True, timeout=300)
        if check(r.returncode == 0, "why on the Dolma run exits 0 (%d%s)" % (r.returncode, said(r, 300))):
            check("does not model" not in r.stderr, "why models the plan's --dump-field and --date-field (%s)"
                  % r.stderr.strip()[-200:])
            answers = {a["id"]: a for a in map(json.loads, r.stdout.splitlines())}
            said_removed = {i for i, a in answers.items() if (a.get("history") or {}).get("removed", a["removed"])}
            check(set(answers) == set(want_crawl) and said_removed == removed_ids and
                  0 < len(removed_ids) < len(want_crawl),
                  "why --id on every Dolma document says what the run decided (%d removed by the run, %d by why, "
                  "%d differ)" % (len(removed_ids), len(said_removed), len(said_removed ^ removed_ids)))
            check(all((a.get("history") or {}).get("crawl") == want_crawl[i] for i, a in answers.items()
                      if a.get("history")), "why reads each document's crawl from metadata.cc_segment")
        # the archive named here: still the run's policy, maximum age and missing rule
        r = subprocess.run([optout, "why", "--run", d, "--json", "--history", archive] +
                           sum([["--id", i] for i in sorted(want_crawl)], []), capture_output=True, text=True, timeout=300)
        answers = [json.loads(l) for l in r.stdout.splitlines()] if r.returncode == 0 else []
        check({a["id"] for a in answers if (a.get("history") or {}).get("removed", a["removed"])} == removed_ids and
              all(a["history"]["chosen"] == "crawl" for a in answers if a.get("history")),
              "why --history DIR on the Dolma run judges with the plan's policy values (%d%s)" % (r.returncode, said(r, 300)))

    # 4. kill the broker mid-filter, rerun: the same by_policy
    d = os.path.join(tmp, "crash")
    args = base + ["--out", d, "--robots-time", "cutoff:2021-01-01", "--history-missing", "keep"]
    env = dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS="700")
    p = subprocess.Popen([optout, "run"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(os.path.join(d, "shards", "*"))) < 1:
        time.sleep(0.02)
    broker = subprocess.run(["pgrep", "-P", str(p.pid), "-f", "optout-broker"], capture_output=True, text=True).stdout.split()
    check(len(broker) == 1, "found the broker to kill")
    published = len(glob.glob(os.path.join(d, "shards", "*")))
    for pid in broker:
        os.kill(int(pid), signal.SIGKILL)
    check(p.wait(timeout=60) == 1, "optout run exits 1 when its broker dies")
    check(0 < published < 4 and not os.path.exists(os.path.join(d, "report.json")),
          "the broker died mid-filter (%d of 4 shards published)" % published)
    r = run(args)
    check(r.returncode == 0, "the rerun completes (%d%s)" % (r.returncode, said(r, 300)))
    if r.returncode == 0:
        _, want = single("cutoff:2021-01-01", "keep")
        rep = json.load(open(os.path.join(d, "report.json")))
        check(rep.get("by_policy") == want["by_policy"], "after the kill, by_policy is optout filter's")
        rem = [k for k in rep if k not in REPORT_ONLY]
        check(all(rep[k] == want[k] for k in rem), "and so are the run's own statistics")

    # 5. usage errors
    r = run(["--corpus", os.path.join(corpus, "*.jsonl"), "--robots-dir", top10k, "--out", os.path.join(tmp, "u1"),
             "--robots-time", "crawl"])
    check(r.returncode == 2 and "need the captures" in r.stderr, "a historical policy without captures: exit 2")
    r = run(base + ["--out", os.path.join(tmp, "u2"), "--cc-robots", shard])
    check(r.returncode == 2 and "--history" in r.stderr, "--history with --cc-robots: exit 2")
finally:
    remove_workdir(tmp)
finish("test_history_policy_run")
