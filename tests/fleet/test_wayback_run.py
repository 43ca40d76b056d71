#!/usr/bin/python3
"""The Wayback stage in the fleet: `optout run --wayback` asks a local CDX and replay server
(tests/history/wayback_server.py) for the plan's hosts, one task per block of hosts and one task at
a time in the whole run, and the broker merges the parts into DIR/history/. Real broker, worker
and redis-server processes; robots.txt fetched from a closed port (the fetch stage is not what is
tested here).

Checks
1. The run's DIR/history holds the versions and bodies `optout history --wayback` builds over the
   same hosts and options; sources.tsv has one Wayback line per block with hosts (the queries'
   time and the answers' hash), their rows summing to the reference's; the manifest lists the
   archive; an estimate of the time is printed first, then (at OPTOUT_LOG_LEVEL=info) the progress
   with an ETA after each task, 1/N to N/N.
2. One task at a time and the rate: with two workers, no two requests of the whole run (every
   task's) are closer than 1/rate (less a jitter); every request names the tool.
3. Kill and resume: the broker killed (SIGKILL) after some blocks are published; the same command
   again completes without asking again for the hosts of the published blocks (the blocks are
   recomputed here from DIR/wayback-hosts.txt by the documented rule), with the same archive.
5. A ranked run asks for the --wayback-hosts hosts with the most tokens (the ranking's files).
6. With --robots-time crawl the filter judges by the archive, Wayback captures included: the
   report's coverage counts the documents a Wayback capture decided (report.json, report.md), and
   `optout why --run` (no --history) names the Wayback capture that decided each of them.
7. A host group whose answer was not CDX JSON is asked again by a restarted run, and only it
   (--stop-after wayback, then the same run once the server answers, at another --wayback-rate);
   its captures join the archive; each block's sources.tsv line records its rate.
8. Which hosts: DIR/wayback-hosts.txt (written by a dry run stopping before the Wayback, the same
   on a restart) is the --wayback-hosts hosts with the most tokens in documents no same-crawl
   Common Crawl capture covers (recomputed from gen-ccrobots' ground truth with policy_check's
   selection); without Common Crawl's captures every token counts; dry-run.json holds the plan
   (hosts, queries, blocks, requests, seconds at the rate).
4. Usage: --wayback-rate without --wayback, --wayback with --robots-dir and --host-key netloc:
   exit 2.
9. With --robots-dir (no ranking) the Wayback's hosts are the corpus's, from the survey, by tokens.
usage: test_wayback_run.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import glob, json, os, re, shutil, signal, subprocess, sys, tempfile, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "history"))
from optout_test import check, finish, real_bodies, runner, shared_dir  # noqa: E402
from wayback_server import WaybackServer, group_of  # noqa: E402
import policy_check as pc  # noqa: E402
import test_policy_filter as tpf  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
top10k = real_bodies(shared_dir(root, 3))
optout = os.path.join(bin_dir, "optout")
run = runner(optout, "run")

NAMES = sorted(n for n in os.listdir(top10k) if not n[0].isdigit())[:14]
REAL = {n: open(os.path.join(top10k, n), "rb").read() for n in NAMES}
CAPS = []
for k, n in enumerate(NAMES):
    if k % 5 == 4:
        continue  # nothing in the archive for this one
    body = REAL[n]
    CAPS.append({"timestamp": "2010%02d01120000" % (k % 12 + 1), "original": "http://%s/robots.txt" % n,
                 "status": 200, "body": body})
    CAPS.append({"timestamp": "2012%02d01120000" % (k % 12 + 1), "original": "https://%s/robots.txt" % n,
                 "status": 200, "body": body + b"\n# changed\n"})
    if k % 3 == 0:
        CAPS.append({"timestamp": "2013%02d01000000" % (k % 12 + 1), "original": "http://www.%s/robots.txt" % n,
                     "status": 404, "body": None})
LISTED = NAMES + ["www." + n for k, n in enumerate(NAMES) if k % 3 == 0]
RATE, BLOCK = 20.0, 2
FAULTS = {"cdx_status": {group_of(NAMES[1]): [503]},  # one Retry-After: 1 on the way
          "malformed": {group_of(NAMES[2])}}  # a host whose answer is not CDX JSON: counted, warned


def index(d):
    """index.tsv rows without the body's offset and length, and every body's SHA-256 checked."""
    h = os.path.join(d, "history")
    rows, bad = [], 0
    for line in open(os.path.join(h, "index.tsv")):
        if line.startswith("#"):
            continue
        col = line.rstrip("\n").split("\t")
        rows.append(tuple(col[:14]))
    return rows, bad


def sources(d):
    return [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "history", "sources.tsv"))][1:]


def base_of(h):
    return h[4:] if h.startswith("www.") and len(h) > 4 else h


def blocks_of(hosts):
    """The documented split: hosts by group (stable: the list's order within one), BLOCK groups a block."""
    order = sorted(hosts, key=lambda h: base_of(h).encode())
    out, groups = [], []
    for h in order:
        g = base_of(h)
        if not groups or groups[-1] != g:
            if not out or len(set(base_of(x) for x in out[-1])) == BLOCK:
                out.append([])
            groups.append(g)
        out[-1].append(h)
    return out


tmp = tempfile.mkdtemp(prefix="optout-wayback-run-")
srv = None
try:
    hosts_file = os.path.join(tmp, "hosts.txt")
    with open(hosts_file, "w") as f:
        f.write("\n".join(LISTED) + "\n")
    env = dict(os.environ, OPTOUT_WAYBACK_TEST_TIMING="100,1500")
    srv = WaybackServer([dict(c) for c in CAPS], FAULTS)
    wb = ["--wayback", "--wayback-base", srv.base, "--wayback-from", "2008", "--wayback-to", "2016",
          "--wayback-rate", str(RATE), "--wayback-block-hosts", str(BLOCK)]
    ref = os.path.join(tmp, "ref")
    r = subprocess.run([optout, "history", "--hosts", hosts_file, "--out", ref] + wb, capture_output=True, text=True,
                       env=env, timeout=300)
    check(r.returncode == 0, "optout history --wayback builds the reference (%s)" % r.stderr[-300:])
    want_rows, _ = index(ref)
    want_src = sources(ref)
    check(len(want_rows) >= 15 and len(want_src) == 1, "the reference has %d versions, one source line" % len(want_rows))

    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(root, "tools", "gen-corpus"), "--robots-dir", os.path.join(root, "data", "sample", "robots"),
                    "--seed", "5", "--docs", "200", "--shards", "2", "--format", "zst", "--out", corpus],
                   check=True, capture_output=True)
    base = ["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--hosts", hosts_file, "--connect-to", "127.0.0.1:1",
            "--timeout", "2", "--connect-timeout", "1", "--fetch-tasks", "2"] + wb

    # 1. the fleet's archive is optout history's
    full = os.path.join(tmp, "full")
    n0 = len(srv.requests())
    # the broker's progress lines are info: optout run shows them at OPTOUT_LOG_LEVEL=info (else its bar)
    r = run(base + ["--workers", "2", "--out", full], env=dict(env, OPTOUT_LOG_LEVEL="info"))
    check(r.returncode == 0, "the run with --wayback exits 0 (%d: %s)" % (r.returncode, r.stderr[-800:]))
    log = srv.requests()[n0:]
    rows, _ = index(full) if r.returncode == 0 else ([], 0)
    check(rows == want_rows, "the run's DIR/history has optout history --wayback's versions (%d of %d)"
          % (len(rows), len(want_rows)))
    src = sources(full) if r.returncode == 0 else []
    nblocks = len(blocks_of(LISTED))
    check(len(src) == nblocks and all(s[0].startswith("wayback %s/cdx/search/cdx years 2008-2016 queried " % srv.base)
                                      and "answers sha256 " in s[0] for s in src),
          "sources.tsv: one Wayback line per block (%d of %d), with the queries' time and answers' hash"
          % (len(src), nblocks))
    check(sum(int(s[3]) for s in src) == int(want_src[0][3]) and sum(int(s[5]) for s in src) == int(want_src[0][5]),
          "the blocks' rows and captures add up to the reference's")
    check("wayback:" in r.stderr and "at least" in r.stderr, "an estimate of the time is printed first")
    progress = re.findall(r"wayback: (\d+)/(\d+) blocks, .*, ETA \d+ s", r.stderr)
    ntasks = int(progress[0][1]) if progress else 0  # in blocks (the empty tasks past them say nothing)
    check(0 <= r.stderr.find("at least") < r.stderr.find("wayback: 1/") and ntasks == nblocks and
          [(int(x[0]), int(x[1])) for x in progress] == [(k, ntasks) for k in range(1, ntasks + 1)],
          "then the progress after each task with an ETA, 1/%d to %d/%d (%s)" % (ntasks, ntasks, ntasks, progress))
    check("1 host group answered what is not CDX JSON" in r.stderr, "the host whose answer was not CDX JSON is warned of")
    if r.returncode == 0:
        listed = set(o["path"] for o in json.load(open(os.path.join(full, "manifest.json"))).get("outputs", []))
        check({"history/index.tsv", "history/bodies.zst", "history/sources.tsv"} <= listed,
              "the manifest lists the archive (its sources.tsv holds the queries' time and answers' hash)")
        v = subprocess.run([optout, "verify", full], capture_output=True, text=True)
        check(v.returncode == 0, "optout verify accepts the run (%s)" % v.stderr.strip()[-200:])

    # 2. one task at a time, at the rate, across the whole run
    JITTER = 0.15
    worst = min([(log[j][0] - log[i][0]) - (j - i) / RATE for i in range(len(log)) for j in range(i + 1, len(log))]
                or [0])
    check(len(log) >= 20 and worst >= -JITTER,
          "any k requests of the run span at least k/rate s, less %.2f s (worst %.3f s, %d requests)"
          % (JITTER, worst, len(log)))
    check(all(ua.startswith("optout/") for (_, _, _, ua) in log), "every request names the tool (User-Agent)")

    # 3. the broker killed after some blocks; the rerun asks only for the others
    crash = os.path.join(tmp, "crash")
    args = base + ["--workers", "2", "--out", crash]
    slow = dict(env, OPTOUT_FAULT_TASK_DELAY_MS="300")  # every task slow: the kill lands mid-stage
    n0 = len(srv.requests())
    p = subprocess.Popen([optout, "run"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=slow)
    parts = os.path.join(crash, "history-parts", "wayback-*", "history", "index.tsv")
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(parts)) < 2 and p.poll() is None:
        time.sleep(0.02)
    broker = subprocess.run(["pgrep", "-P", str(p.pid), "-f", "optout-broker"], capture_output=True, text=True).stdout.split()
    check(len(broker) == 1, "found the broker to kill")
    for pid in broker:
        os.kill(int(pid), signal.SIGKILL)
    p.wait(timeout=60)
    published = sorted(int(x.split(os.sep)[-3][len("wayback-"):]) for x in glob.glob(parts))
    check(0 < len(published) < nblocks and not os.path.exists(os.path.join(crash, "history", "index.tsv")),
          "the broker died mid-stage (%d of %d blocks published, no archive yet)" % (len(published), nblocks))
    wl = open(os.path.join(crash, "wayback-hosts.txt")).read().split()
    check(wl == LISTED, "DIR/wayback-hosts.txt is the plan's host list (the first --wayback-hosts)")
    blocks = blocks_of(wl)
    done_groups = set(base_of(h) for i in published for h in blocks[i])
    n1 = len(srv.requests())
    r = run(args, env=env)
    check(r.returncode == 0, "the rerun completes (%d: %s)" % (r.returncode, r.stderr[-500:]))
    again = set(group_of(x[1].split("url=")[1].split("/")[0]) for x in srv.requests()[n1:] if x[1].startswith("/cdx/"))
    check(again and not (again & (done_groups - FAULTS["malformed"])),
          "the rerun does not ask again for the published blocks' hosts but a failed group (%s done, %s asked)"
          % (sorted(done_groups), sorted(again)))
    rows, _ = index(crash) if r.returncode == 0 else ([], 0)
    check(rows == want_rows, "after the kill the archive is optout history's (%d of %d)" % (len(rows), len(want_rows)))

    # 5. a ranked run: the Wayback asks for the --wayback-hosts hosts with the most tokens (every
    # class; ties by host key), computed here from the ranking's files
    ranked = os.path.join(tmp, "ranked")
    args = [a for a in base if a not in ("--hosts", hosts_file)]
    args = [a if a != str(BLOCK) else "2" for a in args] + ["--wayback-hosts", "3", "--workers", "2", "--out", ranked]
    r = run(args, env=env)
    check(r.returncode == 0, "a ranked run with --wayback exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    tokens = {}
    for name in ("en.tsv", "non_en.tsv"):
        p_ = os.path.join(ranked, "ranking", name)
        for line in (open(p_) if os.path.exists(p_) else []):
            if not line.startswith("#") and line.strip():
                col = line.rstrip("\n").split("\t")
                tokens[col[0]] = tokens.get(col[0], 0) + int(col[3])
    every = open(os.path.join(ranked, "ranking", "hosts.txt")).read().split() if r.returncode == 0 else []
    want = sorted(every, key=lambda h: (-tokens.get(h, 0), h.encode()))[:3]
    got = open(os.path.join(ranked, "wayback-hosts.txt")).read().split() if r.returncode == 0 else None
    check(len(every) > 3 and got == want, "the ranked run asks for the 3 hosts with the most tokens (%s; want %s)"
          % (got, want))

    # 6. a run deciding by robots.txt as it was: the filter judges by DIR/history, Wayback captures
    # included, and the report's coverage names the source of each document's deciding capture. A
    # document of 2012-12-15 of each listed host: its https capture of 2012 is at most 365 days
    # older; the hosts without captures and the one whose answer was not CDX JSON have none.
    docs = os.path.join(tmp, "judged")
    os.makedirs(docs)
    with open(os.path.join(docs, "part.jsonl"), "w") as fh:
        for k, n in enumerate(NAMES):
            fh.write(json.dumps({"id": str(k), "url": "https://%s/page" % n, "date": "2012-12-15",
                                 "text": "word " * 20}) + "\n")
    want_wb = sum(1 for k in range(len(NAMES)) if k % 5 != 4 and k != 2)
    judged = os.path.join(tmp, "judged-run")
    args = [os.path.join(docs, "*.jsonl") if a.endswith("*.jsonl.zst") else a for a in base]
    r = run(args + ["--robots-time", "crawl", "--workers", "2", "--out", judged], env=env)
    check(r.returncode == 0, "a run with --wayback and --robots-time crawl exits 0 (%d: %s)"
          % (r.returncode, r.stderr[-500:]))
    cov = (json.load(open(os.path.join(judged, "report.json"))).get("by_policy") or {}).get("coverage", {}) \
        if r.returncode == 0 else {}
    check(cov.get("earlier", {}).get("wayback", {}).get("docs_in") == want_wb
          and cov.get("earlier", {}).get("docs_in") == want_wb and cov.get("none", {}).get("docs_in") == len(NAMES) - want_wb,
          "the filter judged by the Wayback's captures: the coverage's Wayback part (%d wanted: %s)"
          % (want_wb, {k: (v.get("docs_in"), v.get("wayback", {}).get("docs_in")) for k, v in cov.items()}))
    md = open(os.path.join(judged, "report.md")).read() if r.returncode == 0 else ""
    check("| Wayback Machine | %d |" % want_wb in md, "report.md's coverage table names the Wayback Machine as a source")
    # optout why on that run: its own archive, no --history, and the Wayback capture that decided
    w = subprocess.run([optout, "why", "--run", judged, "--json"] + sum([["--id", str(k)] for k in range(len(NAMES))], []),
                       capture_output=True, text=True, timeout=120) if r.returncode == 0 else None
    answers = [json.loads(l) for l in w.stdout.splitlines()] if w and w.returncode == 0 else []
    check(w is not None and w.returncode == 0 and "does not model" not in w.stderr and
          sum(1 for a in answers if ((a.get("history") or {}).get("capture") or {}).get("origin") == "wayback") == want_wb,
          "optout why --run on the Wayback run names the Wayback capture of %d documents (%s)"
          % (want_wb, w.stderr[-300:] if w else "no run"))

    # 7. a failed host group is asked again by a restarted run, and only it: --stop-after wayback
    # while the archive answers what is not CDX JSON for one group, then the same run again (at a
    # lower --wayback-rate: politeness, which a resume may change) once the archive answers
    srv2 = WaybackServer([dict(c) for c in CAPS], {"malformed": set(FAULTS["malformed"])})
    heal = os.path.join(tmp, "heal")
    wb2 = ["--wayback", "--wayback-base", srv2.base, "--wayback-from", "2008", "--wayback-to", "2016",
           "--wayback-block-hosts", str(BLOCK)]
    args = base[:-len(wb)] + wb2 + ["--workers", "2", "--out", heal]
    r = run(args + ["--wayback-rate", str(RATE), "--stop-after", "wayback"], env=env)
    dry = json.load(open(os.path.join(heal, "dry-run.json"))) if r.returncode == 0 else {}
    check(r.returncode == 0 and dry.get("stopped_after") == "wayback" and not glob.glob(os.path.join(heal, "shards", "*")),
          "--stop-after wayback stops once the archive is built (%d: %s)" % (r.returncode, r.stderr[-300:]))
    check(dry.get("wayback", {}).get("blocks") == nblocks and dry["wayback"].get("hosts") == len(LISTED),
          "dry-run.json: the Wayback's plan (%s)" % dry.get("wayback"))
    bad = FAULTS["malformed"]
    check(not any(group_of(row[0]) in bad for row in index(heal)[0]) if r.returncode == 0 else False,
          "the group whose answer was not CDX JSON has no capture yet")
    srv2.faults = {}
    n0 = len(srv2.requests())
    # first a broker that dies once the block asked again is journaled `accepted`, not published:
    # the next start must publish that attempt (the block was published before), not keep the old part
    bp = subprocess.Popen([os.path.join(bin_dir, "optout-broker"), "--dir", heal] + base[:-len(wb)] + wb2 +
                          ["--wayback-rate", "10", "--crash-after-accept"], stderr=subprocess.PIPE, text=True, env=env)
    sock = os.path.join(heal, "broker.sock")
    deadline = time.time() + 30
    while not os.path.exists(sock) and time.time() < deadline and bp.poll() is None:
        time.sleep(0.05)
    wp = subprocess.Popen([os.path.join(bin_dir, "optout-worker"), "--connect", "ipc://" + sock, "--root", "fs=/"],
                          stderr=subprocess.DEVNULL, env=env)
    try:
        berr = bp.communicate(timeout=120)[1]
    finally:
        wp.kill()
        wp.wait()
    check(bp.returncode == 99 and "asked again (those groups only)" in berr,
          "the restarted broker asks again and dies after journaling the block's attempt (%s: %s)"
          % (bp.returncode, berr[-400:]))
    r = run(args + ["--wayback-rate", "10"], env=env)
    check(r.returncode == 0, "the restarted run (another --wayback-rate) completes (%d: %s)"
          % (r.returncode, r.stderr[-400:]))
    asked = srv2.requests()[n0:]
    cdx_again = set(group_of(x[1].split("url=")[1].split("/")[0]) for x in asked if x[1].startswith("/cdx/"))
    bodies_again = set(group_of(x[1].split("id_/")[1]) for x in asked if x[1].startswith("/web/"))
    check(cdx_again == bad and sum(1 for x in asked if x[1].startswith("/cdx/")) == 1 and bodies_again == bad,
          "it asks again for the failed group only: its query and its bodies (%s)" % [x[1][:70] for x in asked])
    srv3 = WaybackServer([dict(c) for c in CAPS], {})
    healed = os.path.join(tmp, "healed-ref")
    h = subprocess.run([optout, "history", "--hosts", hosts_file, "--out", healed, "--wayback", "--wayback-base", srv3.base,
                        "--wayback-from", "2008", "--wayback-to", "2016", "--wayback-rate", str(RATE),
                        "--wayback-block-hosts", str(BLOCK)], capture_output=True, text=True, env=env, timeout=300)
    srv3.close()
    check(h.returncode == 0 and r.returncode == 0 and index(heal)[0] == index(healed)[0] and
          any(group_of(row[0]) in bad for row in index(heal)[0]),
          "its captures are merged: the archive is optout history's over an archive that answers every group")
    src = sources(heal) if r.returncode == 0 else []
    rates = sorted(s_[0].rsplit(" rate ", 1)[-1] for s_ in src)
    check(len(src) == nblocks and rates == sorted(["10"] + ["%g" % RATE] * (nblocks - 1)),
          "sources.tsv: each block's line records the rate it was asked at (%s)" % rates)
    srv2.close()

    # 8. which hosts: the --wayback-hosts hosts with the most tokens in documents that no Common
    # Crawl capture of their crawl covers (documents without a crawl count as uncovered), ties by
    # host key, recomputed here from gen-ccrobots' ground truth and the documents themselves
    # (tests/history/policy_check.py's selection); written to DIR/wayback-hosts.txt by a dry run
    # that stops before the Wayback, with the plan's estimate in dry-run.json
    work = os.path.join(tmp, "which")
    os.makedirs(work)
    scenario = tpf.ccrobots_scenario(optout, root, shared_dir(root, 3), work)
    if scenario is not None:
        ctx, merged, _archive, shard, _ = scenario
        listed = set(open(os.path.join(work, "cc", "hosts.txt")).read().split())
        kept = merged  # the plan's hosts and, through the history stage's passes, their redirect targets
        uncovered, total = {}, {}
        for d in ctx["docs"]:
            h_ = tpf.host_of(d["url"]).lower()
            crawl = pc.doc_time(d.get("dump"), d.get("date"))[0]
            total[h_] = total.get(h_, 0) + d["token_count"]
            if not crawl or kept.select(h_, "https", crawl, pc.crawl_monday(crawl), 365 * 86400)[0] != "same_crawl":
                uncovered[h_] = uncovered.get(h_, 0) + d["token_count"]
        ranked = lambda t: sorted((h_ for h_ in listed if t.get(h_, 0) > 0), key=lambda h_: (-t[h_], h_.encode()))
        check(sum(uncovered.values()) < sum(total.values()) and ranked(uncovered)[:7] != ranked(total)[:7],
              "the scenario has covered documents that change the order")
        cdir = os.path.join(work, "corpus")
        os.makedirs(cdir)
        lines = open(shard).readlines()
        for i in range(2):
            with open(os.path.join(cdir, "part%d.jsonl" % i), "w") as f:
                f.write("".join(lines[i::2]))
        warcs = os.path.join(work, "cc", "crawl-data", "*", "segments", "*", "robotstxt", "*.warc.gz")
        which = ["--corpus", os.path.join(cdir, "*.jsonl"), "--hosts", os.path.join(work, "cc", "hosts.txt"),
                 "--connect-to", "127.0.0.1:1", "--timeout", "2", "--connect-timeout", "1", "--fetch-tasks", "2",
                 "--robots-time", "crawl", "--wayback", "--wayback-base", "http://127.0.0.1:1", "--wayback-rate", "0.5",
                 "--wayback-block-hosts", str(BLOCK), "--workers", "2"]
        for name, extra, n, want_from in [("cc", ["--cc-robots", warcs, "--stop-after", "history"], 7, uncovered),
                                          ("cc-all", ["--cc-robots", warcs, "--stop-after", "history"], 1000, uncovered),
                                          ("no-cc", ["--stop-after", "fetch"], 7, total)]:
            d = os.path.join(work, "run-" + name)
            want = ranked(want_from)[:n]
            for attempt in (1, 2):  # a restart writes the same list
                r = run(which + extra + ["--wayback-hosts", str(n), "--out", d], env=env)
                got = open(os.path.join(d, "wayback-hosts.txt")).read().split() if r.returncode == 0 else None
                check(got == want, "%s (start %d): DIR/wayback-hosts.txt is the %d hosts with the most uncovered "
                      "tokens (%d: got %s, want %s)" % (name, attempt, n, r.returncode, (got or [])[:8], want[:8]))
            plan = json.loads(r.stdout).get("wayback", {}) if r.returncode == 0 and r.stdout.startswith("{") else {}
            groups = len(set(base_of(h_) for h_ in want))
            check(plan == {"hosts": len(want), "queries": groups, "blocks": len(blocks_of(want)), "blocks_done": 0,
                           "requests_at_least": groups, "rate": 0.5, "seconds_at_least": groups * 2},
                  "%s: the dry run's answer has the Wayback's plan and time at --wayback-rate (%s)" % (name, plan))

    # 4. usage
    r = run(base[:-len(wb)] + ["--wayback-rate", "2", "--out", os.path.join(tmp, "u1")])
    check(r.returncode == 2, "--wayback-rate without --wayback exits 2 (%d)" % r.returncode)
    r = run(["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--robots-dir", os.path.join(root, "data", "sample", "robots"),
             "--wayback", "--host-key", "netloc", "--out", os.path.join(tmp, "u2")])
    check(r.returncode == 2 and "netloc" in r.stderr,
          "--wayback with --robots-dir and --host-key netloc exits 2 (%d: %s)" % (r.returncode, r.stderr[-200:]))

    # 9. --robots-dir: no ranking, so the Wayback's hosts are the corpus's (the survey's), by their
    # tokens (no Common Crawl source: every token is uncovered), recomputed here from the documents
    tokens = {}
    for shard in sorted(glob.glob(os.path.join(corpus, "*.jsonl.zst"))):
        text = subprocess.run(["zstd", "-dc", shard], capture_output=True, check=True).stdout.decode()
        for line in text.split("\n"):
            if not line:
                continue
            d = json.loads(line)
            h_ = ".".join(l if l.isascii() else l.encode("idna").decode() for l in tpf.host_of(d["url"]).lower().split("."))
            n = d.get("token_count")  # else the estimate: ceil(UTF-8 bytes of the text / 4)
            n = n if isinstance(n, int) else (len(d.get("text", "").encode("utf-8", "surrogatepass")) + 3) // 4
            tokens[h_] = tokens.get(h_, 0) + n
    want = sorted((h_ for h_ in tokens if tokens[h_] > 0), key=lambda h_: (-tokens[h_], h_.encode()))[:5]
    d = os.path.join(tmp, "robots-dir")
    r = run(["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--robots-dir", os.path.join(root, "data", "sample", "robots"),
             "--robots-time", "crawl", "--wayback", "--wayback-base", "http://127.0.0.1:1", "--wayback-hosts", "5",
             "--workers", "2", "--stop-after", "survey", "--out", d], env=env)
    got = open(os.path.join(d, "wayback-hosts.txt")).read().split() if r.returncode == 0 else None
    check(r.returncode == 0 and got == want,
          "--robots-dir: DIR/wayback-hosts.txt is the corpus's 5 hosts with the most tokens (%d: got %s, want %s; %s)"
          % (r.returncode, got, want, r.stderr[-300:]))
    plan = json.loads(r.stdout).get("wayback", {}) if r.returncode == 0 and r.stdout.startswith("{") else {}
    check(plan.get("hosts") == len(want), "--robots-dir: the dry run's Wayback plan has those hosts (%s)" % plan)
finally:
    if srv:
        srv.close()
    if not os.environ.get("OPTOUT_KEEP_TMP"):
        shutil.rmtree(tmp, ignore_errors=True)
finish("test_wayback_run")
