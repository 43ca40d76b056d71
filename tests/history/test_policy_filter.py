#!/usr/bin/python3
"""The four robots.txt policies end to end through the filter, against an independent reckoning.

usage: test_policy_filter.py OPTOUT FILTER_MEM
       test_policy_filter.py --ccrobots OPTOUT REPO_ROOT SHARED_DIR

A seeded scenario: hosts with today's robots.txt (a robots directory), captures of their past
robots.txt over five crawls and the Wayback Machine (both schemes, several versions per crawl,
unavailable and unreachable answers, redirects across hosts and schemes, unresolved ones, a chain
of six hops and a loop), and documents with every kind of time (dump and date, dump alone, a bad
date, a date alone, a Common Crawl path as dump, neither). FILTER_MEM (tests/history/filter_mem.c)
runs the filter over captures held in memory under each policy and each --history-missing; every
document's verdict under every policy is recomputed by policy_check.py from the rules, robots.txt
verdicts by `optout robots check`. Checked: the removed documents and their agents (the chosen
policy), the statistics of each policy in by_policy, the coverage, the chart's tokens per crawl,
the CCBot count, and that the chosen policy's statistics are the run's own.

--ccrobots: the same reckoning on the archive's whole path: tools/gen-ccrobots writes Common
Crawl-style WARC files from the real bodies of SHARED_DIR/data/robots-top10k (skipped, 77, without
them), `optout history` builds the archive, documents of the listed hosts are judged by `optout
filter --history` under every policy with the built-in agent list and today's robots.txt from
the same real bodies; the checker reads the captures from the generator's truth.json and their
bodies from the WARC files themselves (every SHA-256 checked).
Set OPTOUT_CHECK_KEEP=1 to keep the work directory. Exit 0 or 1.
"""
import datetime
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from optout_test import check, finish, real_bodies, remove_workdir  # noqa: E402
import policy_check as pc  # noqa: E402

AGENTS = ["GPTBot", "CCBot", "ClaudeBot", "Google-Extended"]
BODIES = [
    "User-agent: GPTBot\nDisallow: /\n",
    "User-agent: *\nDisallow: /private\n",
    "User-agent: CCBot\nDisallow: /\n\nUser-agent: GPTBot\nDisallow: /news\n",
    "User-agent: *\nAllow: /\n",
    "User-agent: ClaudeBot\nUser-agent: Google-Extended\nDisallow: /\n",
    "",
    "User-agent: *\nDisallow: /\n",
    "User-agent: *\nDisallow: /news/\nAllow: /news/ok\n",
]
CRAWLS = ["CC-MAIN-2019-35", "CC-MAIN-2020-05", "CC-MAIN-2021-04", "CC-MAIN-2022-21", "CC-MAIN-2023-40"]
PATHS = ["/", "/private/a", "/news/b", "/news/ok", "/public/c"]
DAY = 86400
REPORT_CUTOFF = "2020-06-01"
RUN_CUTOFF = "2021-01-01"


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc)


class Scenario:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used = set()
        self.captures = []
        self.hosts = ["h%d.example" % i for i in range(28)]
        self.today = {h: self.r.randrange(len(BODIES)) for h in self.hosts if self.r.random() < 0.8}
        for h in self.hosts:
            self.host_history(h)
        self.specials()

    def unique(self, t):
        while t in self.used:
            t += 1
        self.used.add(t)
        return t

    def cap(self, host, origin, scheme, crawl, first, span, outcome, body=None, redirect=None, rscheme="https"):
        first = self.unique(first)
        last = self.unique(first + span) if span else first
        self.captures.append({"host": host, "origin": origin, "scheme": scheme, "crawl": crawl, "first": first,
                              "last": last, "outcome": outcome, "redirect": redirect, "redirect_scheme": rscheme,
                              "body": body, "sha": hashlib.sha256(BODIES[body].encode()).hexdigest()
                              if body is not None else ""})
        return first, last

    def host_history(self, h):
        r = self.r
        for crawl in CRAWLS:
            if r.random() < 0.35:
                continue
            t = pc.crawl_monday(crawl) + r.randrange(DAY)
            for scheme in r.sample(["http", "https"], r.choice([1, 2])):
                for _ in range(r.choice([1, 1, 2, 3])):
                    t += r.randrange(3600, 2 * DAY)
                    kind = r.random()
                    if kind < 0.12:  # a redirect: to www.HOST, or to the other scheme
                        if r.random() < 0.5:
                            target, rs = "www." + h, r.choice(["http", "https"])
                        else:
                            target, rs = h, "https" if scheme == "http" else "http"
                        f, _ = self.cap(h, "cc", scheme, crawl, t, 0, "ok", redirect=target, rscheme=rs)
                        if target != h:  # the target's capture: after (resolves), or only before (does not)
                            after = r.random() < 0.7
                            self.cap(target, "cc", rs, crawl, f + (r.randrange(1, 600) if after else -DAY), 0, "ok",
                                     body=r.randrange(len(BODIES)))
                        continue
                    outcome = "ok" if kind < 0.75 else "unavailable" if kind < 0.87 else "unreachable"
                    span = r.choice([0, 0, r.randrange(60, DAY)])
                    _, t = self.cap(h, "cc", scheme, crawl, t, span, outcome,
                                    body=r.randrange(len(BODIES)) if outcome == "ok" else None)
        if r.random() < 0.4:  # the Wayback Machine, any time
            for _ in range(r.choice([1, 2, 3])):
                t = pc.parse_time("2018-06-01") + r.randrange(6 * 365 * DAY)
                self.cap(h, "wayback", r.choice(["http", "https"]), "", t, r.choice([0, 30 * DAY]), "ok",
                         body=r.randrange(len(BODIES)))

    def specials(self):
        crawl = CRAWLS[2]
        t = pc.crawl_monday(crawl) + 3 * DAY
        # a chain: c0 -> c1 -> ... -> c6: six hops from c0 (unavailable), five from c1 (c6's body)
        for i in range(6):
            self.cap("c%d.example" % i, "cc", "https", crawl, t + i, 0, "ok", redirect="c%d.example" % (i + 1))
        self.cap("c6.example", "cc", "https", crawl, t + 6, 0, "ok", body=6)
        # a loop
        self.cap("l0.example", "cc", "https", crawl, t, DAY, "ok", redirect="l1.example")
        self.cap("l1.example", "cc", "https", crawl, t, DAY, "ok", redirect="l0.example")
        self.hosts += ["c0.example", "c1.example", "l0.example"]

    def docs(self, n):
        r = self.r
        out = []
        for i in range(n):
            h = r.choice(self.hosts + ["www." + x for x in self.hosts[:6]])
            url = "%s://%s%s" % (r.choice(["http", "https"]), h, r.choice(PATHS))
            d = {"id": "d%04d" % i, "url": url, "text": "x" * r.randrange(1, 400),
                 "token_count": r.randrange(1, 1000)}
            if i % 3 < 2:  # English, another language, none (no draw: the scenario stays as it was)
                d["language"] = ["en", "fr"][i % 3]
            kind = r.randrange(7)
            crawl = r.choice(CRAWLS + ["CC-MAIN-2018-22"])
            near = pc.crawl_monday(crawl) + r.randrange(-3 * DAY, 12 * DAY)
            if kind == 0:
                d["dump"], d["date"] = crawl, iso(near).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif kind == 1:
                d["dump"] = crawl
            elif kind == 2:
                d["dump"], d["date"] = crawl, "not a date"
            elif kind == 3:
                d["date"] = iso(pc.parse_time("2018-01-01") + r.randrange(7 * 365 * DAY)).strftime("%Y-%m-%d")
            elif kind == 4:
                d["dump"] = "s3://commoncrawl/crawl-data/%s/segments/1566027313259.30/warc/x.warc.gz" % crawl
                d["date"] = (iso(near) + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
            elif kind == 5:
                d["dump"] = "news-2019"
            out.append(d)
        for h in self.hosts:  # on the cutoff day's first second: today's robots.txt decides
            for k, date in enumerate([RUN_CUTOFF, "2020-12-31T23:59:59Z"]):
                out.append({"id": "cut-%s-%d" % (h, k), "url": "https://%s/news/b" % h, "text": "y",
                            "date": date, "token_count": 7})
        return out


def robots_verdicts(optout, agents_file, body_path, urls, scratch):
    """{url: set of disallowed agents} from one `optout robots check` (agents_file None: the
    built-in list)."""
    with open(scratch, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    agents = ["--agents-file", agents_file] if agents_file else []
    p = subprocess.run([optout, "robots", "check"] + agents + ["--robots", body_path, "--urls", scratch],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("robots check %s: %s" % (body_path, p.stderr.decode(errors="replace")))
    res = {u: set() for u in urls}
    for line in p.stdout.decode().splitlines():
        verdict, agent, url = line.split("\t", 2)
        if verdict == "disallowed":
            res[url].add(agent)
    return res


def main():
    work = tempfile.mkdtemp(prefix="optout-hpolicy-")
    try:
        if sys.argv[1] == "--ccrobots":
            run_ccrobots(sys.argv[2], sys.argv[3], sys.argv[4], work)
        else:
            run_all(sys.argv[1], sys.argv[2], work)
    finally:
        remove_workdir(work)
    finish("test_policy_filter")


def run_all(optout, filter_mem, work):
    sc = Scenario(16)
    docs = sc.docs(900)
    agents_file = os.path.join(work, "agents.txt")
    with open(agents_file, "w") as f:
        f.write("".join(a + "\n" for a in AGENTS))
    os.makedirs(os.path.join(work, "bodies"))
    for i, b in enumerate(BODIES):
        with open(os.path.join(work, "bodies", "B%d.txt" % i), "w") as f:
            f.write(b)
    robots = os.path.join(work, "robots")
    os.makedirs(robots)
    for h, b in sc.today.items():
        shutil.copy(os.path.join(work, "bodies", "B%d.txt" % b), os.path.join(robots, h))
    # two hosts outside the plan: kept under every policy, their captures never consulted
    not_ranked = sorted(h for h in sc.hosts if h not in sc.today and h.startswith("h"))[:2]
    with open(os.path.join(robots, "index.tsv"), "w") as f:
        f.write("".join("%s\tnot_ranked\n" % h for h in not_ranked))
    check(len(not_ranked) == 2, "hosts outside the plan: %s" % not_ranked)
    with open(os.path.join(work, "captures.tsv"), "w") as f:
        for c in sc.captures:
            f.write("\t".join([c["host"], c["origin"], c["scheme"], c["crawl"] or "-", str(c["first"]),
                               str(c["last"]), str(capture_status(c)),
                               c["outcome"], c["redirect"] or "-", c["redirect_scheme"],
                               "bodies/B%d.txt" % c["body"] if c["body"] is not None else "-"]) + "\n")
    shard = os.path.join(work, "in.jsonl")
    with open(shard, "w") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")
    check(len(sc.captures) > 150, "scenario: %d captures, %d documents" % (len(sc.captures), len(docs)))

    # robots.txt verdicts, body by body (today's files are bodies too)
    urls = sorted({d["url"] for d in docs})
    scratch = os.path.join(work, "urls.txt")
    by_body = {i: robots_verdicts(optout, agents_file, os.path.join(work, "bodies", "B%d.txt" % i), urls, scratch)
               for i in range(len(BODIES))}
    archive = os.path.join(work, "archive")
    p = subprocess.run([filter_mem, "--archive", os.path.join(work, "captures.tsv"), archive], capture_output=True)
    check(p.returncode == 0, "the captures written as a history archive %s" % p.stderr.decode(errors="replace"))
    in_memory = pc.Captures(sc.captures)           # filter_mem holds the captures one by one
    merged = pc.Captures(pc.versions(sc.captures))  # the archive merges consecutive equal ones
    check(len(pc.versions(sc.captures)) < len(sc.captures), "some captures merge into versions")
    ctx = {"docs": docs, "today": {h: by_body[b] for h, b in sc.today.items()}, "by_body": by_body,
           "work": work, "seen": set(), "agents": AGENTS, "not_ranked": set(not_ranked)}
    cases = [(p, m, 365, "keep") for p in ["current", "crawl", "cutoff:" + RUN_CUTOFF, "strictest"]
             for m in ["current", "keep", "remove"]]
    cases += [("crawl", "current", 30, "keep"), ("strictest", "keep", 365, "disallow")]
    for policy, missing, max_age, unreachable in cases:
        name = "%s missing=%s max-age=%d unreachable=%s" % (policy, missing, max_age, unreachable)
        out, rem, stats_path = (os.path.join(work, x) for x in ("out.jsonl", "removed.jsonl", "stats.json"))
        p = subprocess.run([filter_mem, os.path.join(work, "captures.tsv"), robots, shard, out, rem, stats_path,
                            policy, missing, str(max_age), REPORT_CUTOFF, agents_file, unreachable],
                           capture_output=True, timeout=300)
        if check(p.returncode == 0, "in memory, %s: exit %d %s" % (name, p.returncode, p.stderr.decode(errors="replace"))):
            compare(ctx, "in memory, " + name, in_memory, policy, missing, max_age, unreachable, out, rem, stats_path,
                    stats_path + ".md")
        md, svg = os.path.join(work, "policies.md"), os.path.join(work, "chart.svg")
        cmd = [optout, "filter", "--history", archive, "--robots-dir", robots, "--in", shard, "--out", out,
               "--removed", rem, "--stats", stats_path, "--policy-report", md, "--policy-chart", svg,
               "--robots-time", policy,
               "--history-missing", missing, "--history-max-age", str(max_age), "--report-cutoff", REPORT_CUTOFF,
               "--agents-file", agents_file, "--unreachable", unreachable]
        p = subprocess.run(cmd, capture_output=True, timeout=300)
        if check(p.returncode == 0, "optout filter --history, %s: exit %d %s" % (name, p.returncode,
                                                                                 p.stderr.decode(errors="replace"))):
            compare(ctx, "optout filter --history, " + name, merged, policy, missing, max_age, unreachable, out, rem,
                    stats_path, md, svg)
    check(ctx["seen"] == set(pc.COVERAGES) | {"not_ranked"}, "every coverage case occurs, and hosts outside the "
          "plan (%s)" % sorted(ctx["seen"]))
    dolma(optout, work, ctx, merged, robots, agents_file, archive)
    # overrides decide before robots.txt, under every policy
    keep, remove = os.path.join(work, "keep.txt"), os.path.join(work, "remove.txt")
    with open(keep, "w") as f:
        f.write("h1.example\n")
    with open(remove, "w") as f:
        f.write("h2.example\n")
    out, rem, stats, md = (os.path.join(work, x) for x in ("v-out.jsonl", "v-rem.jsonl", "v-stats.json", "v.md"))
    p = subprocess.run([optout, "filter", "--history", archive, "--robots-dir", robots, "--in", shard, "--out", out,
                        "--removed", rem, "--stats", stats, "--policy-report", md, "--robots-time", "cutoff:" + RUN_CUTOFF,
                        "--report-cutoff", REPORT_CUTOFF, "--agents-file", agents_file, "--keep-hosts", keep,
                        "--remove-hosts", remove], capture_output=True, timeout=300)
    if check(p.returncode == 0, "--keep-hosts / --remove-hosts with --history: exit %d" % p.returncode):
        compare(dict(ctx, overrides={"h1.example": "keep", "h2.example": "remove"}), "overrides, cutoff", merged,
                "cutoff:" + RUN_CUTOFF, "current", 365, "keep", out, rem, stats, md)
    # a sample: the chosen policy's statistics, the estimate and its intervals included, are the run's own
    stats = os.path.join(work, "sample-stats.json")
    p = subprocess.run([optout, "filter", "--history", archive, "--robots-dir", robots, "--in", shard, "--out",
                        os.path.join(work, "sample.jsonl"), "--stats", stats, "--robots-time", "strictest",
                        "--agents-file", agents_file, "--sample", "0.5"], capture_output=True, timeout=300)
    if check(p.returncode == 0, "--sample 0.5 with --history: exit %d" % p.returncode):
        with open(stats) as f:
            st = json.load(f)
        top = {k: v for k, v in st.items() if k != "by_policy"}
        mine = st["by_policy"]["policies"]["strictest"]
        check("sample" in top and mine == top, "--sample: the chosen policy's statistics are the run's own%s" % (
            "" if mine == top else " (differ: %s)" % sorted(k for k in top if mine.get(k) != top[k])))
    usage_errors(optout, work, robots, shard, archive)
    why_check(optout, work, ctx, merged, shard, robots, agents_file, archive)


def capture_status(c):
    """The HTTP status a scenario capture is written with: 301 for a redirect, else by its outcome."""
    return 301 if c["redirect"] else {"ok": 200, "unavailable": 404, "unreachable": 503}[c["outcome"]]


def agents_of(v):
    return [a for a in AGENTS if a in v[1]]


def why_check(optout, work, ctx, caps, shard, robots, agents_file, archive):
    """optout why --history: the capture and every policy's verdict, per document, as reckoned."""
    run = os.path.join(work, "run")
    p = subprocess.run([optout, "run", "--out", run, "--corpus", shard, "--robots-dir", robots, "--agents-file",
                        agents_file, "--workers", "1"], capture_output=True, timeout=300)
    if not check(p.returncode == 0, "optout run (for optout why): exit %d%s" % (
            p.returncode, "" if p.returncode == 0 else " " + p.stderr.decode(errors="replace")[-400:])):
        return
    docs = ctx["docs"]
    cutoff = pc.parse_time(REPORT_CUTOFF)
    p = subprocess.run([optout, "why", "--run", run, "--history", archive, "--robots-time", "strictest",
                        "--history-missing", "keep", "--report-cutoff", REPORT_CUTOFF, "--json"] + sum((["--id", d["id"]] for d in docs), []),
                       capture_output=True, timeout=300)
    if not check(p.returncode == 0, "optout why --history --json: exit %d%s" % (
            p.returncode, "" if p.returncode == 0 else " " + p.stderr.decode(errors="replace")[-400:])):
        return
    answers = {}
    for line in p.stdout.decode().splitlines():
        j = json.loads(line)
        answers[j["id"]] = j
    check(len(answers) == len(docs), "optout why answers every document (%d)" % len(answers))
    bad = []
    for d in docs:
        crawl, coverage, capture, then, v = reckon(ctx, caps, d, 365, "keep", "keep", cutoff)
        final = None if capture is None else caps.resolve(capture)[0]
        h = answers.get(d["id"], {}).get("history")
        # the deciding capture: its source, crawl, scheme, time and own HTTP status, then the status
        # and body SHA-256 of the capture its redirects lead to (none when that is still a redirect)
        want = {"coverage": coverage, "crawl": crawl or None,
                "capture": None if capture is None else [capture["origin"], capture["crawl"] or None, capture["scheme"],
                                                         iso(capture["first"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                         capture_status(capture), capture_status(final),
                                                         None if final["redirect"] else final["sha"] or None],
                "capture_disallows": None if then is None else [a for a in AGENTS if a in then],
                "policies": {q: [v[q][0], agents_of(v[q])] for q in pc.POLICIES}, "removed": v["strictest"][0]}
        got = None if h is None else {
            "coverage": h["coverage"], "crawl": h["crawl"],
            "capture": None if h["capture"] is None else [h["capture"][k] for k in
                                                          ("origin", "crawl", "scheme", "first", "status",
                                                           "final_status", "sha256")],
            "capture_disallows": h["capture_disallows"],
            "policies": {q: [h["policies"][q]["removed"], h["policies"][q]["disallowed_user_agents"]]
                         for q in pc.POLICIES}, "removed": h["removed"]}
        if got != want:
            bad.append((d, got, want))
    check(not bad, "optout why --history: capture and policies of every document as reckoned (%d differ)" % len(bad))
    for d, got, want in bad[:3]:
        print("  %s\n    got  %s\n    want %s" % (d, got, want))
    # URL arguments take --crawl and --time; text output names the capture and the decision
    d = next(x for x in docs if x.get("dump") in CRAWLS and x.get("date") and "T" in x["date"]
             and reckon(ctx, caps, x, 365, "keep", "current", cutoff)[2] is not None)
    crawl, coverage, capture, then, v = reckon(ctx, caps, d, 365, "keep", "current", cutoff)
    p = subprocess.run([optout, "why", "--run", run, "--history", archive, "--robots-time", "crawl", "--report-cutoff", REPORT_CUTOFF, "--crawl",
                        d["dump"], "--time", d["date"], d["url"]], capture_output=True, timeout=120)
    out = p.stdout.decode()
    first = iso(capture["first"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    check(p.returncode == 0 and ("captured " + first) in out and (coverage + ": cc") in out
          and ("by crawl: %s" % ("removed" if v["crawl"][0] else "kept")) in out,
          "optout why URL --crawl --time (text): the capture of %s and the decision by crawl" % first)
    p = subprocess.run([optout, "why", "--run", run, "--crawl", crawl, d["url"]], capture_output=True, timeout=60)
    check(p.returncode == 2, "optout why --crawl without --history: usage error")


def dolma(optout, work, ctx, caps, robots, agents_file, archive):
    """Dolma-shaped documents: the crawl inside a Common Crawl path (--dump-field metadata.cc_segment),
    URL, date and tokens under metadata."""
    flat, lines = [], []
    for d in ctx["docs"]:
        meta = {"url": d["url"], "token_count": d["token_count"]}
        if "language" in d:
            meta["language"] = d["language"]
        f = dict(d)
        f.pop("dump", None)
        if "dump" in d:
            meta["cc_segment"] = f["dump"] = "crawl-data/%s/segments/1.2/warc/x.warc.gz" % d["dump"]
        if "date" in d:
            meta["date"] = d["date"]
        flat.append(f)
        lines.append(json.dumps({"id": d["id"], "text": d["text"], "metadata": meta}))
    shard = os.path.join(work, "dolma.jsonl")
    with open(shard, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))
    out, rem, stats, md = (os.path.join(work, x) for x in ("d-out.jsonl", "d-rem.jsonl", "d-stats.json", "d.md"))
    p = subprocess.run([optout, "filter", "--history", archive, "--robots-dir", robots, "--in", shard, "--out", out,
                        "--removed", rem, "--stats", stats, "--policy-report", md, "--robots-time", "crawl",
                        "--report-cutoff", REPORT_CUTOFF, "--agents-file", agents_file,
                        "--dump-field", "metadata.cc_segment"], capture_output=True, timeout=300)
    if check(p.returncode == 0, "Dolma documents, --dump-field metadata.cc_segment: exit %d %s"
             % (p.returncode, p.stderr.decode(errors="replace")[-300:])):
        compare(dict(ctx, docs=flat), "Dolma documents, crawl", caps, "crawl", "current", 365, "keep", out, rem, stats,
                md)


def usage_errors(optout, work, robots, shard, archive):
    """What the options refuse (exit 2), and the fleet's refusal while it cannot judge by captures."""
    base = [optout, "filter", "--robots-dir", robots, "--in", shard, "--out", os.path.join(work, "u.jsonl")]
    for extra, what in [(["--robots-time", "crawl"], "a historical policy without --history"),
                        (["--history-missing", "keep"], "--history-missing without --history"),
                        (["--policy-report", os.path.join(work, "u.md")], "--policy-report without --history"),
                        (["--history", archive, "--robots-time", "yesterday"], "an unknown policy"),
                        (["--history", archive, "--robots-time", "cutoff:2023-02-30"], "a cutoff that is no day"),
                        (["--history", archive, "--report-cutoff", "2023"], "a report cutoff that is no day"),
                        (["--history", archive, "--history-missing", "drop"], "an unknown --history-missing"),
                        (["--history", archive, "--granularity", "host"], "host granularity with --history"),
                        (["--history", archive, "--host-key", "netloc"], "netloc host keys with --history"),
                        (["--history", os.path.join(work, "nowhere")], "a --history directory that does not exist")]:
        p = subprocess.run(base + extra, capture_output=True, timeout=60)
        check(p.returncode == 2, "usage error (exit %d): %s" % (p.returncode, what))
    p = subprocess.run(base + ["--history", robots], capture_output=True, timeout=60)
    check(p.returncode == 1 and b"no history archive" in p.stderr, "a directory without an archive: exit 1, said")
    p = subprocess.run([optout, "run", "--out", os.path.join(work, "run"), "--corpus", shard, "--robots-dir", robots,
                        "--robots-time", "strictest"], capture_output=True, timeout=120)
    check(p.returncode == 2 and b"need the captures" in p.stderr,
          "optout run refuses a historical policy without captures (exit 2)")


def host_of(url):
    return url.split("://", 1)[1].split("/", 1)[0]


def reckon(ctx, caps, d, max_age, unreachable, missing, cutoff):
    """One document: (crawl, coverage, capture, the capture's agents or None, {policy: verdict});
    coverage None for a host outside the plan (kept under every policy, not judged)."""
    today = ctx["today"].get(host_of(d["url"]), {}).get(d["url"], set())
    crawl, t, _ = pc.doc_time(d.get("dump"), d.get("date"))
    if host_of(d["url"]) in ctx.get("not_ranked", ()):
        return crawl, None, None, None, {q: (False, frozenset()) for q in pc.POLICIES}
    override = ctx.get("overrides", {}).get(host_of(d["url"]))
    if override:  # decided before robots.txt, alike under every policy (removed for no agent)
        return crawl, None, None, None, {q: (override == "remove", frozenset()) for q in pc.POLICIES}
    scheme = "https" if d["url"].startswith("https") else "http"
    coverage, capture, final, outcome, hops = caps.select(host_of(d["url"]), scheme, crawl, t, max_age * DAY)
    then = None
    if capture is not None:
        if outcome == "ok":
            then = ctx["by_body"][final["body"]][d["url"]] if final["body"] is not None else set()
        elif outcome == "unreachable" and unreachable == "disallow":
            then = set(ctx["agents"])
        else:
            then = set()
    return crawl, coverage, capture, then, pc.policies(today, then, t is not None, t if t is not None else 0, cutoff,
                                                       missing)


def compare(ctx, name, caps, policy, missing, max_age, unreachable, out, rem, stats_path, md_path, svg_path=None):
    """The filter's outputs against the reckoning of every document under every policy."""
    docs, by_body = ctx["docs"], ctx["by_body"]
    chosen = policy.split(":")[0]
    cutoff = pc.parse_time(RUN_CUTOFF if chosen == "cutoff" else REPORT_CUTOFF)
    want_removed = {}
    want = {q: [0, 0] for q in pc.POLICIES}
    chars = {q: 0 for q in pc.POLICIES}
    years = {q: {} for q in pc.POLICIES}  # per policy, per year: [tokens in, tokens removed]
    classes = {q: {c: [0, 0] for c in ("en", "non_en", "unknown")} for q in pc.POLICIES}  # likewise per class
    removed_by = {q: {} for q in pc.POLICIES}  # per policy, per class and per year: [documents, characters, tokens] removed
    by_host = {q: {} for q in pc.POLICIES}  # per policy, per host: tokens removed
    cov = {c: 0 for c in pc.COVERAGES}
    crawl_tokens = {}
    ccbot = ccbot_tokens = 0
    for d in docs:
        crawl, coverage, capture, then, v = reckon(ctx, caps, d, max_age, unreachable, missing, cutoff)
        if coverage is None:
            ctx["seen"].add("not_ranked")
        else:
            cov[coverage] += 1
            ctx["seen"].add(coverage)
        for q in pc.POLICIES:
            if v[q][0]:
                by_host[q][host_of(d["url"]).lower()] = by_host[q].get(host_of(d["url"]).lower(), 0) + d["token_count"]
            for row in (years[q].setdefault(report_year(d), [0, 0]), classes[q][report_class(d)]):
                row[0] += d["token_count"]
                row[1] += d["token_count"] if v[q][0] else 0
            if v[q][0]:
                want[q][0] += 1
                want[q][1] += d["token_count"]
                chars[q] += len(d["text"])
                for key in (("class", report_class(d)), ("year", report_year(d))):
                    row = removed_by[q].setdefault(key, [0, 0, 0])
                    row[0], row[1], row[2] = row[0] + 1, row[1] + len(d["text"]), row[2] + d["token_count"]
        if v[chosen][0]:
            want_removed[d["id"]] = [a for a in ctx["agents"] if a in v[chosen][1]]
        if crawl and coverage is not None:
            row = crawl_tokens.setdefault(crawl, [0, 0, 0])
            row[0] += d["token_count"]
            if coverage == "same_crawl":
                row[1] += d["token_count"]
                row[2] += d["token_count"] if then else 0
                if any(a.lower() == "ccbot" for a in then):
                    ccbot += 1
                    ccbot_tokens += d["token_count"]
    got_removed = {}
    with open(rem) as f:
        for line in f:
            j = json.loads(line)
            got_removed[j["id"]] = j["disallowed_user_agents"]
    if not check(got_removed == want_removed, "%s: removed documents and their agents (%d)" % (name, len(want_removed))):
        diff = sorted(k for k in set(got_removed) | set(want_removed) if got_removed.get(k) != want_removed.get(k))
        for k in diff[:5]:
            d = next(x for x in docs if x["id"] == k)
            print("  %s: got %s want %s doc %s" % (k, got_removed.get(k), want_removed.get(k), d))
    with open(out) as f:
        kept = [json.loads(line)["id"] for line in f]
    check(sorted(kept + list(got_removed)) == sorted(d["id"] for d in docs), "%s: kept + removed = input" % name)
    with open(stats_path) as f:
        st = json.load(f)
    bp = st["by_policy"]
    check(bp["chosen"] == chosen and bp["history_missing"] == missing and bp["history_max_age_days"] == max_age,
          "%s: by_policy names its configuration" % name)
    check(bp["cutoff"] == (RUN_CUTOFF if chosen == "cutoff" else REPORT_CUTOFF), "%s: the cutoff column" % name)
    for q in pc.POLICIES:
        got = [bp["policies"][q]["docs_removed"], bp["policies"][q]["tokens_removed"]]
        check(got == want[q], "%s: by_policy.%s removes %s documents/tokens (got %s)" % (name, q, want[q], got))
        check(bp["policies"][q]["docs_in"] == len(docs), "%s: by_policy.%s counts every document" % (name, q))
        check(bp["tokens_recovered"][q] == want["current"][1] - want[q][1], "%s: tokens recovered by %s" % (name, q))
        got_years = {y: [b["tokens_in"], b["tokens_removed"]] for y, b in bp["policies"][q]["by_year"].items()}
        check(got_years == years[q], "%s: by_policy.%s per year, tokens in and removed (%s)" % (name, q, years[q]))
        got_classes = {c: [b["tokens_in"], b["tokens_removed"]] for c, b in bp["policies"][q]["by_class"].items()}
        check(got_classes == classes[q], "%s: by_policy.%s per class, tokens in and removed (%s)" % (name, q, classes[q]))
    mine = dict(bp["policies"][chosen])
    top = {k: v for k, v in st.items() if k != "by_policy"}
    check(mine == top, "%s: the chosen policy's statistics are the run's own%s" % (
        name, "" if mine == top else " (differ: %s)" % sorted(k for k in top if mine.get(k) != top[k])))
    got_cov = {c: bp["coverage"][c]["docs_in"] for c in pc.COVERAGES}
    check(got_cov == cov, "%s: coverage %s (got %s)" % (name, cov, got_cov))
    got_crawls = {k: [v["tokens"], v["tokens_same_crawl"], v["tokens_disallowed"]["any"]]
                  for k, v in bp["by_crawl"].items()}
    check(got_crawls == crawl_tokens, "%s: tokens per crawl, with a same-crawl capture, disallowed then" % name)
    if svg_path:
        root = ET.parse(svg_path).getroot()
        series = {g.get("data-agent"): [float(c.get("data-share")) for c in g.iter("{http://www.w3.org/2000/svg}circle")]
                  for g in root.iter("{http://www.w3.org/2000/svg}g")}
        want_any = [round(100.0 * r[2] / r[1], 4) for k, r in sorted(crawl_tokens.items()) if r[1]]
        check(series.get("any agent") == want_any, "%s: the chart's share per crawl, any agent %s (got %s)"
              % (name, want_any, series.get("any agent")))
    check(bp["ccbot_same_crawl"] == {"docs": ccbot, "tokens": ccbot_tokens},
          "%s: same-crawl captures disallowing CCBot: %d documents, %d tokens" % (name, ccbot, ccbot_tokens))
    with open(md_path) as f:
        md = f.read()
    check("## Robots.txt as it was" in md and ("| %s (chosen) |" % chosen) in md, "%s: the Markdown section" % name)
    # the Markdown's figures are the reckoning's: per policy documents, characters and tokens removed,
    # token loss, tokens recovered against current (signed); documents without a time; the CCBot count
    tokens_in = sum(d["token_count"] for d in docs)
    rows = ["| %s%s | %s | %s | %s | %s | %s |" % (q, " (chosen)" if q == chosen else "", num(want[q][0]), num(chars[q]),
                                                   num(want[q][1]), "%.2f%%" % (100.0 * want[q][1] / tokens_in),
                                                   num(want["current"][1] - want[q][1])) for q in pc.POLICIES]
    check(all(r in md for r in rows), "%s: the Markdown's policy table (%s)" % (name, [r for r in rows if r not in md]))
    share = lambda rows: "".join(" | %.2f%%" % (100.0 * rows[q][1] / rows[q][0]) if rows[q][0] else " | –"
                                 for q in pc.POLICIES)
    loss = ["| %s%s |" % (label, share({q: classes[q][c] for q in pc.POLICIES}))
            for c, label in (("en", "English"), ("non_en", "non-English"), ("unknown", "unknown language"))
            if classes["current"][c][0]]
    loss += ["| %s%s |" % (y, share({q: years[q][y] for q in pc.POLICIES})) for y in sorted(years["current"])]
    check(all(r in md for r in loss), "%s: the Markdown's token loss per class and per year under each policy (%s)"
          % (name, [r for r in loss if r not in md]))
    cells = lambda key: "".join(" | %s / %s / %s" % tuple(num(x) for x in removed_by[q].get(key, [0, 0, 0]))
                                for q in pc.POLICIES)
    detail = ["| %s%s |" % (label, cells(("class", c))) for c, label in (("en", "English"), ("non_en", "non-English"),
                                                               ("unknown", "unknown language")) if classes["current"][c][0]]
    detail += ["| %s%s |" % (y, cells(("year", y))) for y in sorted(years["current"])]
    check("(documents / characters / tokens)" in md and all(r in md for r in detail),
          "%s: the Markdown's documents, characters and tokens removed per class and per year (%s)"
          % (name, [r for r in detail if r not in md]))
    # the hosts whose tokens removed differ most between current and crawl (exact here: fewer hosts
    # than the 100 each shard reports), largest change first, then by host
    now, then_ = by_host["current"], by_host["crawl"]
    changed = sorted((h for h in set(now) | set(then_) if now.get(h, 0) != then_.get(h, 0)),
                     key=lambda h: (-abs(then_.get(h, 0) - now.get(h, 0)), h))
    host_rows = "".join("| %s | %s | %s | %s |\n" % (h, num(now.get(h, 0)), num(then_.get(h, 0)),
                                                      num(then_.get(h, 0) - now.get(h, 0))) for h in changed[:20])
    check(changed and ("|---|---:|---:|---:|\n" + host_rows + "\n") in md,
          "%s: the Markdown's hosts changed most between current and crawl (%d hosts, %d shown)"
          % (name, len(changed), min(20, len(changed))))
    no_time = "| no time (neither crawl nor date) | - | %s |" % num(cov["no_time"])
    check(no_time in md, "%s: the Markdown counts the documents without a time (%s)" % (name, no_time))
    ccbot_line = "%s documents (%s tokens) have a capture of their own crawl that disallows CCBot" % (
        num(ccbot), num(ccbot_tokens))
    check(ccbot_line in md, "%s: the Markdown's CCBot count (%s)" % (name, ccbot_line))


def report_year(d):
    """The year the report counts a document in (docs/report.md by_year): its dump's
    CC-MAIN-YYYY-WW (a dump not starting with one: the first crawl id inside it, as in a Common
    Crawl path), else its date's year, else unknown."""
    dump, date = d.get("dump"), d.get("date")
    if isinstance(dump, str) and re.match(r"CC-MAIN-\d{4}", dump):
        return dump[8:12]
    if isinstance(dump, str) and not dump.startswith("CC-MAIN-") and pc.find_crawl(dump):
        return pc.find_crawl(dump)[8:12]
    if isinstance(date, str) and re.match(r"\d{4}", date):
        return date[:4]
    return "unknown"


def report_class(d):
    """The report's language class: en for en, eng or eng_*, unknown without a language."""
    lang = d.get("language")
    if not isinstance(lang, str) or not lang:
        return "unknown"
    return "en" if lang in ("en", "eng") or lang.startswith("eng_") else "non_en"


def num(v):
    """A count as the reports write it: thousands separated by commas, a minus sign for negatives."""
    return ("\u2212" if v < 0 else "") + "{:,}".format(abs(v))


def warc_bodies(root):
    """{sha256: body} of every HTTP 2xx response in the WARC files under root, read here (gzip
    members, WARC headers, Content-Length, the HTTP head) without optout."""
    bodies = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".warc.gz"):
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                data = gzip.decompress(f.read())  # every member, in order
            pos = 0
            while pos < len(data):
                end = data.index(b"\r\n\r\n", pos)
                head = data[pos:end].decode("utf-8", "replace")
                length = int(re.search(r"(?im)^Content-Length:\s*(\d+)", head).group(1))
                block = data[end + 4:end + 4 + length]
                pos = end + 4 + length + 4  # the block, then CRLF CRLF
                if re.search(r"(?im)^WARC-Type:\s*response", head) and b"\r\n\r\n" in block:
                    http_head, body = block.split(b"\r\n\r\n", 1)
                    if re.match(rb"HTTP/1\.[01] 2\d\d", http_head):
                        bodies[hashlib.sha256(body).hexdigest()] = body
    return bodies


def ccrobots_scenario(optout, root, shared, work):
    """gen-ccrobots' WARC files from the real bodies, the archive `optout history` builds of them, a
    shard of documents of the listed hosts (work/real.jsonl) and the reckoning's context: (ctx, the
    captures for policy_check, archive, shard, top10k), or None after a failed check. Exits 77
    without the real bodies. Also used by tests/fleet/test_history_policy_run.py."""
    top10k = real_bodies(shared)
    cc = os.path.join(work, "cc")
    p = subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc, "--seed", "5", "--robots-dir",
                        top10k, "--hosts", "40", "--extra-hosts", "10"], capture_output=True, timeout=300)
    if not check(p.returncode == 0, "gen-ccrobots %s" % p.stderr.decode(errors="replace").strip()):
        return None
    with open(os.path.join(cc, "truth.json")) as f:
        truth = json.load(f)
    archive = os.path.join(work, "archive")
    p = subprocess.run([optout, "history", "--cc-robots", os.path.join(cc, "crawl-data", "*", "segments", "*",
                                                                       "robotstxt", "*.warc.gz"),
                        "--hosts", os.path.join(cc, "hosts.txt"), "--out", archive], capture_output=True, timeout=300)
    if not check(p.returncode == 0, "optout history built the archive %s" % p.stderr.decode(errors="replace")[-300:]):
        return None
    bodies = warc_bodies(os.path.join(cc, "crawl-data"))
    caps = []
    for c in truth["captures"]:
        o = pc.status_outcome(c["status"])
        if c["redirect"]:
            o = "unavailable"  # never used: the target decides
        caps.append({"host": c["host"], "origin": "cc", "scheme": c["scheme"], "crawl": c["crawl"],
                     "first": c["time"], "last": c["time"], "outcome": o, "status": c["status"],
                     "redirect": c["redirect"], "redirect_scheme": c["redirect_scheme"] or "https",
                     "body": c["sha256"] if o == "ok" else None, "sha": c["sha256"] if o == "ok" else "",
                     "truncated": c["truncated"]})
    missing_bodies = {c["body"] for c in caps if c["body"]} - set(bodies)
    check(not missing_bodies, "every captured body read from the WARC files (%d bodies)" % len(bodies))
    # documents of the listed hosts, around their captures
    r = random.Random(5)
    paths = ["/", "/search?q=x", "/admin/", "/private/a", "/api/v1/x", "/wp-admin/", "/news/today", "/about"]
    docs = []
    crawls = truth["crawls"] + ["CC-MAIN-2018-22"]
    for i in range(1200):
        h = r.choice(truth["listed"])
        d = {"id": "r%05d" % i, "url": "%s://%s%s" % (r.choice(["http", "https"]), h, r.choice(paths)),
             "text": "z" * r.randrange(1, 300), "token_count": r.randrange(1, 2000)}
        kind = r.randrange(5)
        crawl = r.choice(crawls)
        near = pc.crawl_monday(crawl) + r.randrange(-2 * DAY, 15 * DAY)
        if kind in (0, 1):
            d["dump"], d["date"] = crawl, iso(near).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind == 2:
            d["dump"] = crawl
        elif kind == 3:
            d["date"] = iso(pc.parse_time("2018-06-01") + r.randrange(6 * 365 * DAY)).strftime("%Y-%m-%d")
        docs.append(d)
    shard = os.path.join(work, "real.jsonl")
    with open(shard, "w") as f:
        f.write("".join(json.dumps(d) + "\n" for d in docs))
    p = subprocess.run([optout, "robots", "check", "--robots", os.devnull, "/"], capture_output=True, timeout=60)
    agents = [line.split("\t")[1] for line in p.stdout.decode().splitlines()]
    check(len(agents) > 5, "the built-in agent list (%d agents)" % len(agents))
    urls = sorted({d["url"] for d in docs})
    scratch = os.path.join(work, "urls.txt")
    body_dir = os.path.join(work, "bodies")
    os.makedirs(body_dir)
    by_body = {}
    for sha in {c["body"] for c in caps if c["body"]}:
        with open(os.path.join(body_dir, sha), "wb") as f:
            f.write(bodies.get(sha, b""))
        by_body[sha] = robots_verdicts(optout, None, os.path.join(body_dir, sha), urls, scratch)
    today = {}
    for h in truth["listed"]:
        if os.path.exists(os.path.join(top10k, h)):
            today[h] = robots_verdicts(optout, None, os.path.join(top10k, h), [u for u in urls if host_of(u) == h],
                                       scratch)
    ctx = {"docs": docs, "today": today, "by_body": by_body, "work": work, "seen": set(), "agents": agents}
    return ctx, pc.Captures(pc.versions(caps)), archive, shard, top10k


def run_ccrobots(optout, root, shared, work):
    scenario = ccrobots_scenario(optout, root, shared, work)
    if scenario is None:
        return
    ctx, merged, archive, shard, top10k = scenario
    for policy, missing in [("current", "current"), ("crawl", "current"), ("cutoff:2021-01-01", "keep"),
                            ("strictest", "remove"), ("crawl", "keep")]:
        name = "real captures, %s missing=%s" % (policy, missing)
        out, rem, stats, md = (os.path.join(work, x) for x in ("out.jsonl", "rem.jsonl", "stats.json", "p.md"))
        p = subprocess.run([optout, "filter", "--history", archive, "--robots-dir", top10k, "--in", shard, "--out",
                            out, "--removed", rem, "--stats", stats, "--policy-report", md, "--robots-time", policy,
                            "--history-missing", missing, "--report-cutoff", REPORT_CUTOFF],
                           capture_output=True, timeout=300)
        if check(p.returncode == 0, "%s: exit %d %s" % (name, p.returncode, p.stderr.decode(errors="replace")[-300:])):
            compare(ctx, name, merged, policy, missing, 365, "keep", out, rem, stats, md)
    check({"same_crawl", "earlier", "none", "no_time"} <= ctx["seen"], "every coverage case occurs (%s)"
          % sorted(ctx["seen"]))


if __name__ == "__main__":
    main()
