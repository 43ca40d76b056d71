#!/usr/bin/python3
"""The loss report: the writer on hand-built statistics (report_fixture), `optout report DIR` and
`optout report --diff A B`.
usage: test_report.py OPTOUT REPORT_FIXTURE"""
import filecmp, gzip, json, os, shutil, subprocess, sys, tempfile
import xml.etree.ElementTree as ET
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, quiet  # noqa: E402

optout, fixture = sys.argv[1], sys.argv[2]
quiet()  # cell-by-cell checks: only the failures are printed


def run(*args, code=0):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    check(r.returncode == code, "%s exited %d, want %d: %s" % (" ".join(args), r.returncode, code, r.stderr.strip()))
    return r


def bucket(di, dr, bi, br, ci, cr, ti, tr):
    return {"docs_in": di, "docs_removed": dr, "bytes_in": bi, "bytes_removed": br,
            "chars_in": ci, "chars_removed": cr, "tokens_in": ti, "tokens_removed": tr}


ZERO = bucket(0, 0, 0, 0, 0, 0, 0, 0)
OUTCOMES = ["ok", "no_robots", "unavailable", "unreachable", "no_such_host", "not_ranked"]

# What variant a of report_fixture must give, written out independently of the C code.
EXPECT_A = dict(bucket(1500, 100, 600000, 40000, 540000, 37000, 150000, 10000))
EXPECT_A.update({
    "tokens_estimated_docs": 5, "bad_json": 3, "no_url": 0, "bad_url": 0, "no_host": 0, "bad_idna": 0,
    "line_too_long": 1,
    "docs_kept_by_override": 0, "tokens_kept_by_override": 0, "docs_removed_by_override": 0,
    "tokens_removed_by_override": 0,
    "docs_by_outcome": dict(zip(OUTCOMES, [900, 600, 0, 0, 0, 0])),
    "by_class": {"en": bucket(1000, 80, 400000, 32000, 390000, 31000, 100000, 8000),
                 "non_en": bucket(500, 20, 200000, 8000, 150000, 6000, 50000, 2000), "unknown": ZERO},
    "by_year": {"2015": bucket(700, 40, 280000, 16000, 250000, 15000, 70000, 3500),
                "2019": bucket(800, 60, 320000, 24000, 290000, 22000, 80000, 6500)},
    "by_year_class": {"2015": {"en": bucket(500, 30, 200000, 12000, 180000, 11000, 50000, 3000),
                               "non_en": bucket(200, 10, 80000, 4000, 70000, 4000, 20000, 500), "unknown": ZERO},
                      "2019": {"en": bucket(500, 50, 200000, 20000, 210000, 20000, 50000, 5000),
                               "non_en": bucket(300, 10, 120000, 4000, 80000, 2000, 30000, 1500), "unknown": ZERO}},
    "by_dump": {"CC-MAIN-2019-35": bucket(800, 60, 320000, 24000, 290000, 22000, 80000, 6500),
                "CC-MAIN-2015-14": bucket(700, 40, 280000, 16000, 250000, 15000, 70000, 3500)},
    "top_hosts": [{"host": "b.example", "docs_removed": 30, "tokens_removed": 6000},
                  {"host": "a.example", "docs_removed": 60, "tokens_removed": 4000}],
    "by_agent": {"GPTBot": bucket(1500, 90, 600000, 36000, 540000, 33000, 150000, 9000),
                 "CCBot/2.0": bucket(1500, 50, 600000, 22000, 540000, 20000, 150000, 5000),
                 "*": bucket(1500, 10, 600000, 4400, 540000, 4000, 150000, 1000),
                 "any": bucket(1500, 100, 600000, 40000, 540000, 37000, 150000, 10000)},
    "complete": False, "tasks": 4,
    "failed_tasks": [{"input": "shards/x.jsonl.gz", "error": "corrupt \"gzip\" data at byte 12\n| next"}],
    "config": {"mode": "rfc9309", "agents_name": "test-agents.txt", "agents_sha256": "0123456789abcdef" * 4,
               "agents": ["GPTBot", "CCBot/2.0", "*"], "host_key": "canonical", "unreachable": "keep",
               "robots_source": "fetched", "robots_from": "2025-01-01T00:00:00Z", "robots_to": "2025-01-02T12:00:00Z",
               "top_en": 1000000, "top_non_en": 1000000, "metric": "tokens",
               "granularity": "url", "robots_time": "current", "keep_hosts": "/lists/keep.txt",
               "keep_hosts_sha256": "ab12", "remove_hosts": "none", "remove_hosts_sha256": None, "sample": "none",
               "sample_shards": None,
               "output": "shards", "removed": "yes", "output_format": "same", "missing_url": "fail",
               "agents_unnamed": ["CCBot/2.0"]},
    "fetch": {"hosts_planned": 11, "hosts_by_outcome": dict(zip(OUTCOMES, [5, 3, 1, 0, 2, 0]))},
})

FILES = ["report.msgpack", "report.json", "report.md", "loss-by-year.svg"]


def svg_bars(path):
    root = ET.parse(path).getroot()  # raises on invalid XML
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", "%s: root is %s" % (path, root.tag))
    bars = [e for e in root.iter(ns + "rect") if e.get("class") == "bar"]
    return root, ns, bars


tmp = tempfile.mkdtemp(prefix="optout-report-")
try:
    run(fixture, "roundtrip")

    # --- variant a: everything present ---------------------------------------------------------
    a = os.path.join(tmp, "a")
    run(fixture, "write", a, "a")
    for name in FILES:
        check(os.path.exists(os.path.join(a, name)), "a/%s missing" % name)
    check(not [n for n in os.listdir(a) if ".tmp." in n], "temporary files left in a/")
    got = json.load(open(os.path.join(a, "report.json")))
    check(got == EXPECT_A, "report.json of variant a differs: %s" %
          {k: (got.get(k), EXPECT_A.get(k)) for k in set(got) | set(EXPECT_A) if got.get(k) != EXPECT_A.get(k)})
    check(list(got)[:8] == ["docs_in", "docs_removed", "bytes_in", "bytes_removed", "chars_in", "chars_removed",
                            "tokens_in", "tokens_removed"], "report.json does not start with the top-level bucket")
    md = open(os.path.join(a, "report.md")).read()
    for needle in ["# optout report",
                   "**8.00% of English tokens and 4.00% of non-English tokens removed.**",
                   "Overall 6.67% of tokens removed: 100 of 1,500 documents (6.67%)",
                   "about 8% of English and 4% of multilingual tokens",
                   "**Incomplete: 1 of 4 tasks failed",
                   "| documents | 1,500 | 100 | 6.67% |",
                   "| bytes of text (UTF-8) | 600,000 | 40,000 | 6.67% |",
                   "| characters (code points) | 540,000 | 37,000 | 6.85% |",
                   "| tokens | 150,000 | 10,000 | 6.67% |",
                   "(estimated for 5 documents)",
                   "| English | 1,000 | 80 | 8.00% | 390,000 | 31,000 | 7.95% | 100,000 | 8,000 | 8.00% |",
                   "| non-English | 500 | 20 | 4.00% |",
                   "![Token loss per year](loss-by-year.svg)",
                   "| 2013 | 0 | 0 | – | 0 | 0 | – |",
                   "| 2015 | 700 | 40 | 5.71% | 70,000 | 3,500 | 5.00% |",
                   "| 2019 | 800 | 60 | 7.50% | 80,000 | 6,500 | 8.12% |",
                   "| 2024 | 0 |",
                   "## Loss per dump",
                   "| `CC-MAIN-2015-14` | 700 | 40 | 5.71% | 70,000 | 3,500 | 5.00% |\n| `CC-MAIN-2019-35` | 800 |",
                   "## Hosts that cost the most",
                   "| `b.example` | 30 | 6,000 | 60.00% |\n| `a.example` | 60 | 4,000 | 40.00% |",
                   "| `GPTBot` | 90 | 6.00% | 33,000 | 6.11% |",
                   "| `CCBot/2.0` | 50 | 3.33% | 20,000 | 3.70% |",
                   "| `*` | 10 | 0.67% | 4,000 | 0.74% |",
                   "| **any** | 100 | 6.67% | 37,000 | 6.85% |",
                   "11 hosts planned.",
                   "| outcome | hosts | documents of those hosts |",
                   "| `ok` (robots.txt fetched: its rules decide) | 5 | 900 |",
                   "| `no_such_host` (NXDOMAIN: everything allowed) | 2 | 0 |",
                   "| not one JSON object (`bad_json`) | 3 |",
                   "| line over --max-line, passed through (`line_too_long`) | 1 |",
                   "## Failed tasks",
                   "- `shards/x.jsonl.gz`: corrupt \"gzip\" data at byte 12 \\| next",
                   "- matching: `rfc9309`",
                   "- agents: test-agents.txt (SHA-256 `" + "0123456789abcdef" * 4 + "`), 3 agents: `GPTBot`, `CCBot/2.0`, `*`",
                   "- host key: `canonical`",
                   "- unreachable robots.txt: `keep` (opt-out policy",
                   "- robots.txt: fetched by this run, snapshot fetched between 2025-01-01T00:00:00Z and 2025-01-02T12:00:00Z",
                   "- ranking: top 1,000,000 English and top 1,000,000 non-English hosts by tokens",
                   "because their site's current robots.txt disallows at least one of the 3 agents below.",
                   "Before robots.txt, `--keep-hosts` decided their hosts' documents",
                   "- granularity: `url`\n- robots.txt time: `current`\n- --keep-hosts: `/lists/keep.txt`\n"
                   "- --keep-hosts SHA-256: `ab12`\n- --remove-hosts: `none`\n- sample: `none`\n- output: `shards`\n"
                   "- removed documents written: `yes`\n- output format: `same`\n",
                   "**No robots.txt of the snapshot names `CCBot/2.0`** (5 robots.txt files read)",
                   "- tasks: 4 (1 failed)"]:
        check(needle in md, "report.md (a) lacks %r" % needle)
    check("unknown language" not in md, "report.md (a) shows an empty unknown-language row")
    check("no URL" not in md, "report.md (a) shows a zero bad-input counter")
    check("| 2012 |" not in md and "| 2025 |" not in md and "| unknown |" not in md, "report.md (a): years outside 2013-2024")

    root, ns, bars = svg_bars(os.path.join(a, "loss-by-year.svg"))
    check(len(bars) == 4, "svg (a): %d bars, want 4" % len(bars))
    check([(b.get("data-year"), b.get("data-class")) for b in bars] ==
          [("2015", "en"), ("2015", "non_en"), ("2019", "en"), ("2019", "non_en")],
          "svg (a): bar years and classes %s" % [(b.get("data-year"), b.get("data-class")) for b in bars])
    check([round(float(b.get("data-loss")), 2) for b in bars] == [6.0, 2.5, 10.0, 5.0], "svg (a): bar values")
    heights = [float(b.get("height")) for b in bars]
    check(heights[2] > heights[0] > heights[3] > heights[1] > 0, "svg (a): bar heights %s" % heights)
    check(len([e for e in root.iter(ns + "line") if e.get("class") in ("ref-en", "ref-non-en")]) == 2,
          "svg (a): the English and non-English lines")
    texts = ["".join(e.itertext()) for e in root.iter(ns + "text")]
    check(sum(1 for t in texts if t.isdigit() and 2013 <= int(t) <= 2024) == 12, "svg (a): 12 year labels")
    check(any(t.endswith("%") and t[0].isdigit() for t in texts), "svg (a): y tick labels")
    check(any("Token loss" in t for t in texts), "svg (a): title")
    check(any("English, all years: 8.00%" in t for t in texts), "svg (a): legend")

    # --- variant b: no ranking, no host counts, a year outside 2013-2024 and unknown -------------
    b = os.path.join(tmp, "b")
    run(fixture, "write", b, "b")
    jb = json.load(open(os.path.join(b, "report.json")))
    check(jb["complete"] is True and jb["failed_tasks"] == [] and jb["fetch"] == {"hosts_planned": 0, "hosts_by_outcome": None},
          "report.json (b): complete / fetch")
    check(jb["config"]["robots_source"] == "/data/robots" and jb["config"]["agents_sha256"] is None
          and jb["config"]["metric"] is None and jb["config"]["agents_unnamed"] is None,
          "report.json (b): config %s" % jb["config"])
    mdb = open(os.path.join(b, "report.md")).read()
    for needle in ["| unknown language | 10 |", "| unknown | 10 | 0 | 0.00% | 250 | 0 | 0.00% |",
                   "| 2024 | 1,500 |", "| outcome | documents of hosts with it |",
                   "- robots.txt: directory `/data/robots`", "- ranking: none",
                   "- matching: `protego` (Protego 0.4, as Apertus)", "(RFC-strict: disallows everything)",
                   "because their registrable domain's current robots.txt (on any host of the domain) disallows "
                   "something to at least one of the 2 agents below (`--granularity domain`).",
                   "- granularity: `domain`", "- sample: `0.1`", "- output: `tags`"]:
        check(needle in mdb, "report.md (b) lacks %r" % needle)
    for absent in ["Incomplete", "## Bad input", "## Failed tasks", "hosts planned", "SHA-256", "estimated for",
                   "Before robots.txt", "their site's", "No robots.txt of the snapshot names"]:
        check(absent not in mdb, "report.md (b) has %r" % absent)
    _, _, bars = svg_bars(os.path.join(b, "loss-by-year.svg"))
    check(len(bars) == 1, "svg (b): %d bars, want 1" % len(bars))

    # --- empty statistics: sections left out, files still valid ----------------------------------
    e = os.path.join(tmp, "empty")
    run(fixture, "write", e, "empty")
    mde = open(os.path.join(e, "report.md")).read()
    for absent in ["## Totals", "## By language", "## Loss per year", "## robots.txt outcomes", "## Bad input"]:
        check(absent not in mde, "report.md (empty) has %r" % absent)
    check("no English documents; no non-English documents." in mde, "report.md (empty): headline")
    check("| **any** | 0 | – | 0 | – |" in mde, "report.md (empty): agent table")
    je = json.load(open(os.path.join(e, "report.json")))
    check(je["by_year"] == {} and je["docs_in"] == 0 and len(je["by_agent"]) == 15, "report.json (empty)")
    _, _, bars = svg_bars(os.path.join(e, "loss-by-year.svg"))
    check(len(bars) == 0, "svg (empty): bars")

    # --- optout report DIR: identical files again -------------------------------------------------
    for d in (a, b, e):
        keep = d + ".orig"
        shutil.copytree(d, keep)
        for name in FILES[1:]:
            os.unlink(os.path.join(d, name))
        run(optout, "report", d)
        for name in FILES:
            check(filecmp.cmp(os.path.join(d, name), os.path.join(keep, name), shallow=False),
                  "optout report %s: %s differs" % (os.path.basename(d), name))
    missing = os.path.join(tmp, "nothing")
    os.mkdir(missing)
    r = run(optout, "report", missing, code=1)
    check("no report.msgpack" in r.stderr, "optout report on a directory without report.msgpack: %r" % r.stderr)
    open(os.path.join(missing, "report.msgpack"), "wb").write(b"\x92\x01\x02")
    r = run(optout, "report", missing, code=1)
    check("report.msgpack" in r.stderr, "optout report on a bad report.msgpack: %r" % r.stderr)
    run(optout, "report", code=2)
    run(optout, "report", "--diff", a, code=2)

    # --- optout report --diff A B ----------------------------------------------------------------
    r = run(optout, "report", "--diff", a, b)
    out = r.stdout
    for needle in ["# optout runs compared", "| matching mode | rfc9309 | protego |",
                   "| agent list | test-agents.txt | apertus-paper (built in) |",
                   "| agents | 3 | 2 |", "| top N English | 1,000,000 | none |", "| complete | no | yes |",
                   "Agents only in A: `CCBot/2.0`, `*`", "Agents only in B: `ClaudeBot`",
                   "| documents removed | 100 | 95 | -5 |", "| tokens removed | 10,000 | 9,500 | -500 |",
                   "| English | 80 | 70 | -10 | 8,000 | 7,000 | -1,000 | 8.00% | 7.00% | -1.00 pp |",
                   "| non-English | 20 | 25 | +5 | 2,000 | 2,500 | +500 | 4.00% | 5.00% | +1.00 pp |",
                   "| `GPTBot` | 90 | 60 | -30 | 33,000 | 23,000 | -10,000 |",
                   "| `CCBot/2.0` | 50 | – | – | 20,000 | – | – |",
                   "| `ClaudeBot` | – | 80 | – | – | 30,000 | – |",
                   "| **any** | 100 | 95 | -5 | 37,000 | 34,500 | -2,500 |",
                   "Not compared: neither run has `removed/` shards",
                   "| granularity | url | domain |", "| --keep-hosts | /lists/keep.txt | none |",
                   "| --keep-hosts SHA-256 | ab12 | – |", "| sample | none | 0.1 |", "| output | shards | tags |",
                   "| removed documents written | yes | no |"]:
        check(needle in out, "--diff lacks %r" % needle)
    r = run(optout, "report", "--diff", a, a)
    check("Same configuration." in r.stdout and "| documents removed | 100 | 100 | 0 |" in r.stdout, "--diff A A")
    check("| missing" not in out and "| robots.txt time" not in out, "--diff lists a setting both runs share")

    # removed/ shards: ids d1..d10 (+ a duplicate, a URL-only document, an unkeyed line, a temp file) in A,
    # d5..d14 (+ the URL-only document) in B, gzip and plain, nested directories
    def doc(i):
        return json.dumps({"text": "t", "id": "d%d" % i, "url": "https://h/%d" % i, "disallowed_user_agents": ["GPTBot"]})
    os.makedirs(os.path.join(a, "removed", "sub"))
    os.makedirs(os.path.join(b, "removed"))
    with open(os.path.join(a, "removed", "p1.jsonl"), "w") as f:
        f.write("\n".join(doc(i) for i in range(1, 6)) + "\n" + doc(5) + "\nnot json\n")
    with gzip.open(os.path.join(a, "removed", "sub", "p2.jsonl.gz"), "wt") as f:
        f.write("\n".join(doc(i) for i in range(6, 11)) + "\n" + json.dumps({"metadata": {"url": "https://u/1"}}) + "\n")
    with open(os.path.join(a, "removed", "p3.jsonl.tmp.123"), "w") as f:
        f.write(doc(99) + "\n")
    with gzip.open(os.path.join(b, "removed", "all.jsonl.gz"), "wt") as f:
        f.write("\n".join(doc(i) for i in range(5, 15)) + "\n" + json.dumps({"url": "https://u/1"}) + "\n")
    r = run(optout, "report", "--diff", a, b)
    for needle in ["| removed by A only | 4 |", "| removed by B only | 4 |", "| removed by both | 7 |",
                   "(13 lines in A, 11 in B)", "(URL for 2 lines)", "not compared: 1 in A, 0 in B."]:
        check(needle in r.stdout, "--diff with removed/ lacks %r" % needle)
    # --diff --json: one line per document removed by one run only, with its id, URL and host
    r = run(optout, "report", "--diff", "--json", a, b)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    check(sorted((x["run"], x["id"]) for x in lines) == sorted([("A", "d%d" % i) for i in range(1, 5)] +
                                                             [("B", "d%d" % i) for i in range(11, 15)]),
          "--diff --json: documents %s" % [(x["run"], x["id"]) for x in lines])
    one = [x for x in lines if x["id"] == "d3"]
    check(one and one[0] == {"run": "A", "shard": "removed/p1.jsonl", "id": "d3", "url": "https://h/3", "host": "h"},
          "--diff --json: a line %s" % one)
    check("A only: 4, by B only: 4, by both: 7" in r.stderr, "--diff --json: counts %r" % r.stderr)
    run(optout, "report", "--json", a, b, code=2)
    # tags on one side: compared by id, a tag without id by its line
    saved = os.path.join(tmp, "b-removed")
    shutil.move(os.path.join(b, "removed"), saved)
    os.makedirs(os.path.join(b, "tags"))
    with open(os.path.join(b, "tags", "x.jsonl"), "w") as f:
        f.write('{"id": "d1", "disallowed_user_agents": ["GPTBot"]}\n{"id": "d2", "disallowed_user_agents": []}\n'
                '{"line": 7, "disallowed_user_agents": ["*"]}\n')
    r = run(optout, "report", "--diff", "--json", a, b)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    only_b = [x for x in lines if x["run"] == "B"]
    check(only_b == [{"run": "B", "shard": "tags/x.jsonl", "line": 7, "url": None, "host": None}],
          "--diff --json with tags: B only %s" % only_b)
    check(sorted(x["id"] or x["url"] for x in lines if x["run"] == "A") ==
          sorted(["d%d" % i for i in range(3, 11)] + ["https://u/1"]), "--diff --json with tags: A only %s" % lines)
    shutil.rmtree(os.path.join(b, "tags"))
    r = run(optout, "report", "--diff", "--json", a, b, code=2)
    check("neither removed/ shards nor tags/" in r.stderr and r.stdout == "", "--diff --json without B's removed/: %r" % r.stderr)
    shutil.move(saved, os.path.join(b, "removed"))
    shutil.rmtree(os.path.join(b, "removed"))
    r = run(optout, "report", "--diff", a, b)
    check("Not compared: B has no `removed/` shards" in r.stdout, "--diff without B's removed/")
    with open(os.path.join(a, "removed", "bad.jsonl.gz"), "wb") as f:
        f.write(b"\x1f\x8b\x08\x00garbage")
    os.makedirs(os.path.join(b, "removed"))
    r = run(optout, "report", "--diff", a, b, code=1)
    check("bad.jsonl.gz" in r.stderr, "--diff with a corrupt removed shard names it: %r" % r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish("report")
