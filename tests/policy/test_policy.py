#!/usr/bin/python3
"""Policy options (docs/policy.md) against an independent Python computation.

usage: test_policy.py BIN_DIR REPO_ROOT

A generated corpus (tools/gen-corpus over data/sample/robots plus a few hosts written here: a host
that allows everything, three hosts of one registrable domain under co.uk, a pattern that can
match no URL) is filtered with --granularity url|host|domain, --keep-hosts / --remove-hosts and
--sample, through `optout filter` (each shard) and `optout run` (broker, workers, Redis). The
expectations never come from the filter's code: host keys and robots files from the generator's
sidecar, per-URL verdicts from `optout robots check`, "disallowed something" from a small robots.txt
group parser written here, registrable domains from the Public Suffix List file parsed here, the
sample from FNV-1a + fmix64 written here, the interval from the formulas of docs/policy.md.
Also: the sample's interval covers the full run's loss; optout-worker --max-memory refuses a
budget too small (exit 2) and accepts a sufficient one. Exit 0 when every check passes, else 1.
"""
import hashlib, json
import math
import os
import shutil
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import optout_test  # noqa: E402
from optout_test import lines_of  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
OPTOUT = os.path.join(BIN, "optout")
T = 300


def check(name, cond, msg=""):
    """optout_test.check with the check's name first and a message said only on failure."""
    optout_test.check(cond, name + (": " + msg if msg and not cond else ""))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T, **kw)


EXTRA = {
    "open.example": "User-agent: *\nAllow: /\n",
    "a.example.co.uk": "User-agent: GPTBot\nDisallow: /private/\n",
    "b.example.co.uk": "User-agent: *\nDisallow:\n",
    "c.example.co.uk": "User-agent: ClaudeBot\nDisallow: *.pdf$\n",
    "odd.example": "User-agent: *\nDisallow: uk/file/\n",
}

# ---- independent expectations ---------------------------------------------------------------


def token(s):
    s = s.strip()
    for i, c in enumerate(s):
        if c == "/" or c.isspace():
            return s[:i].lower()
    return s.lower()


def groups_of(body):
    """RFC 9309 groups: consecutive user-agent lines open a group, rules belong to the last one."""
    groups, cur, in_agents = [], None, False
    for raw in body.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        k, v = [x.strip() for x in line.split(":", 1)]
        k = k.lower()
        if k == "user-agent":
            if cur is None or not in_agents:
                cur = {"agents": [], "rules": []}
                groups.append(cur)
            cur["agents"].append("*" if v.strip() == "*" else token(v))
            in_agents = True
        elif k in ("allow", "disallow"):
            if cur is not None:
                cur["rules"].append((k, v))
            in_agents = False
    return groups


def disallows_something(body, agent):
    gs = groups_of(body)
    t = "*" if agent == "*" else token(agent)
    own = [g for g in gs if t in g["agents"]] if t != "*" else []
    use = own or [g for g in gs if "*" in g["agents"]]
    return any(k == "disallow" and v[:1] in ("/", "*") for g in use for k, v in g["rules"])


def load_psl():
    rules, exceptions, wild = set(), set(), set()
    with open("/usr/share/publicsuffix/public_suffix_list.dat", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            r = line.split()[0]
            if r.startswith("!"):
                exceptions.add(r[1:])
            elif r.startswith("*."):
                wild.add(r[2:])
            else:
                rules.add(r)
    return rules, exceptions, wild


PSL = load_psl()


def registrable(host):
    h = host.split(":")[0].rstrip(".").lower() if not host.startswith("[") else host
    if host.startswith("[") or all(c.isdigit() or c == "." for c in h):
        return h
    labels = h.split(".")
    rules, exceptions, wild = PSL
    suffix_len = 1  # the default rule "*"
    for i in range(len(labels)):
        cand = ".".join(labels[i:])
        if cand in exceptions:
            suffix_len = max(suffix_len, len(labels) - i - 1)
        elif cand in rules:
            suffix_len = max(suffix_len, len(labels) - i)
        elif i + 1 < len(labels) and ".".join(labels[i + 1:]) in wild:
            suffix_len = max(suffix_len, len(labels) - i)
    if suffix_len >= len(labels):
        return h
    return ".".join(labels[-(suffix_len + 1):])


def fnv_fmix(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    return h


def sample_key(line, obj):
    if isinstance(obj, dict):
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        v = obj["id"] if "id" in obj else meta.get("id")
        if isinstance(v, str) and v != "":
            return v.encode("utf-8", "surrogatepass")
        u = obj["url"] if "url" in obj else meta.get("url")
        if isinstance(u, str) and u != "":
            return u.encode("utf-8", "surrogatepass")
    return line


def host_match(host, keep, remove):
    """Most specific entry wins: exact host key, then the longest *.domain pattern."""
    if host in keep:
        return "keep"
    if host in remove:
        return "remove"
    h = host.split(":")[0] if not host.startswith("[") else host
    labels = h.split(".")
    for i in range(len(labels)):
        d = "*." + ".".join(labels[i:])
        if d in keep:
            return "keep"
        if d in remove:
            return "remove"
    return None


def doc_tokens(obj):
    def field(name):
        if name in obj:
            return obj[name]
        m = obj.get("metadata")
        return m.get(name) if isinstance(m, dict) else None
    t = field("token_count")
    if isinstance(t, int) and not isinstance(t, bool) and t >= 0:
        return t
    text = obj.get("text")
    n = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 0
    return (n + 3) // 4


def main():
    work = tempfile.mkdtemp(prefix="optout-policy-")
    try:
        robots = os.path.join(work, "robots")
        shutil.copytree(os.path.join(ROOT, "data/sample/robots"), robots)
        with open(os.path.join(robots, "index.tsv"), "a") as f:
            for h, body in EXTRA.items():
                with open(os.path.join(robots, h), "w") as b:
                    b.write(body)
                f.write("%s\tok\t200\t2025-01-15T10:00:09Z\t-\n" % h)
        corpus = os.path.join(work, "corpus")
        p = run([os.path.join(ROOT, "tools/gen-corpus"), "--robots-dir", robots, "--docs", "3000", "--shards", "2",
                 "--seed", "81", "--out", corpus, "--format", "zst", "--hosts", "60", "--bad-rate", "0.01"])
        if p.returncode != 0:
            print(p.stderr.decode())
            return 1
        shards = sorted(f for f in os.listdir(corpus) if f.endswith(".zst"))
        agents = [l.strip() for l in open(os.path.join(ROOT, "data/agents/apertus-paper.txt"))
                  if l.strip() and not l.startswith("#")]
        # per-URL verdicts from optout robots check, one call per robots file
        docs = {}  # shard -> [(line bytes, obj or None, kind, host, robots file)]
        urls_by_file = {}
        for s in shards:
            raw = lines_of(os.path.join(corpus, s))
            side = [l.split("\t") for l in open(os.path.join(corpus, "_meta", s + ".lines.tsv")).read().splitlines()]
            rows = []
            for line, (kind, host, rfile) in zip(raw, side):
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        obj = None
                except ValueError:
                    obj = None
                rows.append((line, obj, kind, host, rfile))
                if kind == "doc" and rfile:
                    u = obj["url"] if "url" in obj else obj["metadata"]["url"]
                    urls_by_file.setdefault(rfile, set()).add(u)
            docs[s] = rows
        verdict = {}
        for rfile, urls in urls_by_file.items():
            p = run([OPTOUT, "robots", "check", "--robots", os.path.join(robots, rfile), "--urls", "-"],
                    input="\n".join(sorted(urls)).encode() + b"\n")
            for l in p.stdout.decode().splitlines():
                v, agent, url = l.split("\t", 2)
                if v == "disallowed":
                    verdict.setdefault((rfile, url), set()).add(agent)
        something = {rf: {a for a in agents if disallows_something(open(os.path.join(robots, rf)).read(), a)}
                     for rf in os.listdir(robots) if rf != "index.tsv"}
        domain_agents = {}  # every robots file's host (file name "host_PORT" is "host:PORT")
        for rf, ag in something.items():
            domain_agents.setdefault(registrable(rf.replace("_", ":")), set()).update(ag)

        def expect(gran, keep=(), remove=(), ppm=0):
            """(per shard: kept lines, removed [(line, agents)]), totals"""
            out, tot = {}, {"docs_in": 0, "docs_removed": 0, "tokens_in": 0, "tokens_removed": 0,
                            "kept_ov": 0, "removed_ov": 0, "not_sampled": 0, "tok": []}
            tot["by_agent"] = {a: 0 for a in agents}
            for s, rows in docs.items():
                kept, removed = [], []
                for line, obj, kind, host, rfile in rows:
                    if line.strip() == b"":
                        kept.append(line)
                        continue
                    if ppm and fnv_fmix(sample_key(line, obj)) % 1000000 >= ppm:
                        tot["not_sampled"] += 1
                        continue
                    ag, ov = set(), None
                    if kind == "doc":
                        ov = host_match(host, keep, remove)
                        if ov is None and rfile:
                            u = obj["url"] if "url" in obj else obj["metadata"]["url"]
                            ag = set(verdict.get((rfile, u), set()))
                            if gran == "host":
                                ag |= something[rfile]
                        if ov is None and gran == "domain":
                            ag |= domain_agents.get(registrable(host), set())
                    gone = bool(ag) or ov == "remove"
                    tk = doc_tokens(obj) if obj is not None else 0
                    tot["docs_in"] += 1
                    tot["tokens_in"] += tk
                    tot["tok"].append((tk, gone))
                    tot["kept_ov"] += ov == "keep"
                    tot["removed_ov"] += ov == "remove"
                    if gone:
                        tot["docs_removed"] += 1
                        tot["tokens_removed"] += tk
                        for a in ag:
                            tot["by_agent"][a] += 1
                        removed.append((line, [a for a in agents if a in ag]))
                    else:
                        kept.append(line)
                out[s] = (kept, removed)
            return out, tot

        def compare(label, got_dir, exp, stats, name_of=lambda s: s, sub=""):
            per, tot = exp
            for s, (kept, removed) in per.items():
                gk = lines_of(os.path.join(got_dir, sub, "shards", name_of(s)))
                check("%s %s kept lines" % (label, s), gk == kept,
                      "%d lines, expected %d" % (len(gk), len(kept)))
                gr = [json.loads(l) for l in lines_of(os.path.join(got_dir, sub, "removed", name_of(s)))]
                check("%s %s removed agents" % (label, s),
                      [d["disallowed_user_agents"] for d in gr] == [a for _, a in removed],
                      "%d removed, expected %d" % (len(gr), len(removed)))
            check("%s docs" % label, (stats["docs_in"], stats["docs_removed"]) == (tot["docs_in"], tot["docs_removed"]),
                  "%s vs %s" % ((stats["docs_in"], stats["docs_removed"]), (tot["docs_in"], tot["docs_removed"])))
            check("%s tokens" % label, (stats["tokens_in"], stats["tokens_removed"]) ==
                  (tot["tokens_in"], tot["tokens_removed"]))
            check("%s by agent" % label, {a: stats["by_agent"][a]["docs_removed"] for a in agents} == tot["by_agent"]
                  and stats["by_agent"]["any"]["docs_removed"] == tot["docs_removed"])
            check("%s override counters" % label, (stats["docs_kept_by_override"], stats["docs_removed_by_override"]) ==
                  (tot["kept_ov"], tot["removed_ov"]))

        def merged(paths):
            acc = None
            for pth in paths:
                d = json.load(open(pth))
                if acc is None:
                    acc = d
                    continue
                for k in ("docs_in", "docs_removed", "tokens_in", "tokens_removed", "docs_kept_by_override",
                          "docs_removed_by_override"):
                    acc[k] += d[k]
                for a in acc["by_agent"]:
                    acc["by_agent"][a]["docs_removed"] += d["by_agent"][a]["docs_removed"]
            return acc

        keepf, removef = os.path.join(work, "keep.txt"), os.path.join(work, "remove.txt")
        with open(keepf, "w") as f:
            f.write("# kept whatever robots.txt says\nnews.example\n  *.example.co.uk   # a domain\n")
        with open(removef, "w") as f:
            f.write("*.wiki.example\nB.EXAMPLE.CO.UK\nopen.example.\n")
        keep = {"news.example", "*.example.co.uk"}
        remove = {"*.wiki.example", "b.example.co.uk", "open.example"}
        variants = [
            ("url", [], expect("url")),
            ("host", ["--granularity", "host"], expect("host")),
            ("domain", ["--granularity", "domain"], expect("domain")),
            ("overrides", ["--keep-hosts", keepf, "--remove-hosts", removef], expect("url", keep, remove)),
            ("domain+overrides", ["--granularity", "domain", "--keep-hosts", keepf, "--remove-hosts", removef],
             expect("domain", keep, remove)),
            ("sample", ["--sample", "0.25"], expect("url", ppm=250000)),
        ]
        e_url, e_host, e_dom = variants[0][2][1], variants[1][2][1], variants[2][2][1]
        check("granularities differ on this corpus", e_url["docs_removed"] < e_host["docs_removed"] < e_dom["docs_removed"],
              "%d %d %d" % (e_url["docs_removed"], e_host["docs_removed"], e_dom["docs_removed"]))
        check("overrides decide documents", variants[3][2][1]["kept_ov"] > 0 and variants[3][2][1]["removed_ov"] > 0)
        for label, opts, exp in variants:
            d = os.path.join(work, "filter-" + label)
            for s in shards:
                os.makedirs(os.path.join(d, "shards"), exist_ok=True)
                p = run([OPTOUT, "filter", "--robots-dir", robots, "--in", os.path.join(corpus, s), "--out",
                         os.path.join(d, "shards", s), "--removed", os.path.join(d, "removed", s), "--stats",
                         os.path.join(d, s + ".json")] + opts)
                check("filter %s %s exit" % (label, s), p.returncode == 0, p.stderr.decode()[-500:])
            stats = merged([os.path.join(d, s + ".json") for s in shards])
            compare("filter " + label, d, exp, stats)
            rd = os.path.join(work, "run-" + label)
            # a sample run writes its shards only when asked, and then under sample/
            extra = ["--sample-shards"] if label == "sample" else []
            p = run([OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--out", rd,
                     "--removed", "--workers", "2"] + opts + extra)
            check("run %s exit" % label, p.returncode == 0, p.stderr.decode()[-800:])
            if p.returncode == 0:
                rep = json.load(open(os.path.join(rd, "report.json")))
                compare("run " + label, rd, exp, rep, sub="sample" if label == "sample" else "")
                if label == "sample":
                    check("run sample: nothing in shards/ or removed/",
                          not os.path.exists(os.path.join(rd, "shards")) and not os.path.exists(os.path.join(rd, "removed")))
                    sample_only_checks(work, corpus, robots, rep)
                md = open(os.path.join(rd, "report.md")).read()
                if label.endswith("overrides"):
                    check("run %s report.md overrides" % label, "## Overrides" in md)
                if label == "domain":
                    lines = open(os.path.join(rd, "blocked_domains.tsv")).read().splitlines()[1:]
                    want = sorted(dm for dm, ag in domain_agents.items() if ag)
                    check("run domain blocked_domains.tsv", sorted(l.split("\t")[0] for l in lines) == want,
                          "%s vs %s" % (lines, want))
                if label == "sample":
                    sample_checks(rep, md, exp[1], e_url, stats)
                if label in ("host", "domain", "domain+overrides"):
                    why_checks(label, rd, docs, exp)
        report_policy_checks(work, keepf, removef, e_url, e_dom)
        # usage errors: both lists name one entry; a bad sample; a bad granularity
        both = os.path.join(work, "both.txt")
        with open(both, "w") as f:
            f.write("news.example\n")
        for opts in (["--keep-hosts", both, "--remove-hosts", both], ["--sample", "0"], ["--sample", "1.5"],
                     ["--granularity", "site"], ["--keep-hosts", os.path.join(work, "missing.txt")]):
            p = run([OPTOUT, "filter", "--robots-dir", robots, "--in", os.path.join(corpus, shards[0]), "--out",
                     os.path.join(work, "x.jsonl")] + opts)
            check("filter refuses %s" % " ".join(opts[::2]), p.returncode == 2, "exit %d" % p.returncode)
        p = run([OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--out",
                 os.path.join(work, "run-both"), "--keep-hosts", both, "--remove-hosts", both, "--workers", "1"])
        check("run refuses an entry in both lists", p.returncode == 2, "exit %d" % p.returncode)
        # a rerun with another granularity is another configuration
        p = run([OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--out",
                 os.path.join(work, "run-url"), "--removed", "--granularity", "host", "--workers", "1"])
        check("rerun with another granularity: exit 2", p.returncode == 2, "exit %d" % p.returncode)
        memory_checks(work, corpus, shards, robots)
    finally:
        if not os.environ.get("OPTOUT_CHECK_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    optout_test.finish("policy")


def report_policy_checks(work, keepf, removef, e_url, e_dom):
    """report.json / report.md name the policy applied; `report --diff` compares it; `--diff --json`
    lists the documents one run removed only."""
    def cfg(label):
        return json.load(open(os.path.join(work, "run-" + label, "report.json")))["config"]
    sha = lambda path: hashlib.sha256(open(path, "rb").read()).hexdigest()
    c = cfg("url")
    check("report config (url)", c["granularity"] == "url" and c["robots_time"] == "current"
          and c["keep_hosts"] == "none" and c["keep_hosts_sha256"] is None and c["sample"] == "none"
          and c["output"] == "shards" and c["removed"] == "yes" and c["output_format"] == "same"
          and c["missing_url"] == "fail", str(c))
    c = cfg("domain+overrides")
    check("report config (domain+overrides)", c["granularity"] == "domain"
          and c["keep_hosts"] == os.path.realpath(keepf) and c["keep_hosts_sha256"] == sha(keepf)
          and c["remove_hosts"] == os.path.realpath(removef) and c["remove_hosts_sha256"] == sha(removef), str(c))
    check("report config (sample)", cfg("sample")["sample"] == "0.25", str(cfg("sample")))
    md = open(os.path.join(work, "run-domain", "report.md")).read()
    check("report.md headline names the domain granularity", "their registrable domain's current robots.txt" in md)
    a, b = os.path.join(work, "run-url"), os.path.join(work, "run-domain")
    p = run([OPTOUT, "report", "--diff", a, b])
    out = p.stdout.decode()
    check("report --diff url domain", p.returncode == 0 and "| granularity | url | domain |" in out
          and "Same configuration" not in out, out[:600])
    p = run([OPTOUT, "report", "--diff", "--json", a, b])
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    check("report --diff --json url domain: B removed more, A nothing alone", p.returncode == 0
          and not [x for x in lines if x["run"] == "A"]
          and len(lines) == e_dom["docs_removed"] - e_url["docs_removed"]
          and all(x["host"] and x["shard"].startswith("removed/") for x in lines),
          "%d lines, want %d" % (len(lines), e_dom["docs_removed"] - e_url["docs_removed"]))


def sample_only_checks(work, corpus, robots, full_sample):
    """--sample alone writes estimates only: the report (same figures as with --sample-shards), no
    shard anywhere; the summary and the chart say it is a sample; --removed needs --sample-shards,
    --sample-shards needs --sample."""
    rd = os.path.join(work, "run-sample-estimates")
    base = [OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--workers", "2"]
    p = run(base + ["--out", rd, "--sample", "0.25"])
    err = p.stderr.decode()
    check("sample estimates: exit 0", p.returncode == 0, err[-800:])
    if p.returncode != 0:
        return
    for d in ("shards", "removed", "sample", "tags"):
        check("sample estimates: no %s/" % d, not os.path.exists(os.path.join(rd, d)))
    rep = json.load(open(os.path.join(rd, "report.json")))
    check("sample estimates: the same figures as the run with --sample-shards",
          (rep["docs_in"], rep["docs_removed"], rep["sample"]) ==
          (full_sample["docs_in"], full_sample["docs_removed"], full_sample["sample"]))
    check("sample estimates: the summary says it is a sample", "a 25% sample" in err and "estimates only" in err
          and "estimated token loss" in err, err[-600:])
    svg = open(os.path.join(rd, "loss-by-year.svg")).read()
    check("sample estimates: the chart's title says it is a sample", ", a 25% sample</text>" in svg)
    check("sample estimates: report setting", rep["config"]["sample"] == "0.25" and rep["config"]["sample_shards"] == "no")
    p = run(base + ["--out", os.path.join(work, "run-sample-removed"), "--sample", "0.25", "--removed"])
    check("--sample --removed without --sample-shards: exit 2", p.returncode == 2 and b"--sample-shards" in p.stderr,
          p.stderr.decode()[-300:])
    p = run(base + ["--out", os.path.join(work, "run-sample-shards-alone"), "--sample-shards"])
    check("--sample-shards without --sample: exit 2", p.returncode == 2, p.stderr.decode()[-300:])
    check("refused runs create nothing", not os.path.exists(os.path.join(work, "run-sample-removed")))


def sample_checks(rep, md, tot, full, filter_stats):
    s = rep.get("sample")
    check("sample member", s is not None and s["ppm"] == 250000 and s["docs_not_sampled"] == tot["not_sampled"])
    if not s:
        return
    n = tot["docs_in"]
    X = sum(t for t, _ in tot["tok"])
    Y = sum(t for t, g in tot["tok"] if g)
    R = Y / X
    q = sum(((t if g else 0) - R * t) ** 2 for t, g in tot["tok"])
    se = math.sqrt((1 - 0.25) * n / (n - 1) * q) / X
    lo, hi = max(0.0, R - 1.959963984540054 * se), min(1.0, R + 1.959963984540054 * se)
    a = s["all"]
    check("sample estimate and interval", abs(a["tokens_loss"] - R) < 2e-6 and abs(a["tokens_loss_low"] - lo) < 2e-6
          and abs(a["tokens_loss_high"] - hi) < 2e-6, "%s vs %.6f [%.6f, %.6f]" % (a, R, lo, hi))
    k, z = tot["docs_removed"], 1.959963984540054
    ph = k / n
    c = (ph + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    check("sample Wilson interval", abs(a["docs_loss_low"] - (c - h)) < 2e-6 and abs(a["docs_loss_high"] - (c + h)) < 2e-6)
    true_loss = full["tokens_removed"] / full["tokens_in"]
    check("sample interval covers the full run's loss", a["tokens_loss_low"] <= true_loss <= a["tokens_loss_high"],
          "%.4f not in [%.4f, %.4f]" % (true_loss, a["tokens_loss_low"], a["tokens_loss_high"]))
    true_docs = full["docs_removed"] / full["docs_in"]
    check("sample Wilson interval covers the full run's document loss",
          a["docs_loss_low"] <= true_docs <= a["docs_loss_high"])
    check("sample section in report.md", "## Sample" in md and "95% interval" in md)
    check("filter --stats has the sample too", filter_stats.get("sample", {}).get("ppm") == 250000)


def why_checks(label, rd, docs, exp):
    """optout why answers every document's URL as the run decided it (override, granularity)."""
    want = {}
    for s, (kept, removed) in exp[0].items():
        for line in kept:
            if line.strip():
                want[line] = None
        for line, agents in removed:
            want[line] = agents
    urls, expected = [], {}
    for rows in docs.values():
        for line, obj, kind, host, rfile in rows:
            if kind != "doc" or line not in want:
                continue
            u = obj["url"] if "url" in obj else obj["metadata"]["url"]
            if "\n" in u or u in expected:
                continue
            urls.append(u)
            expected[u] = want[line]
    listing = os.path.join(rd, "why-urls.txt")
    with open(listing, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write("".join(u + "\n" for u in urls))
    p = run([OPTOUT, "why", "--run", rd, "--json", "--urls", listing])
    check("why %s exit" % label, p.returncode == 0 and b"may differ" not in p.stderr, p.stderr.decode()[-300:])
    got = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    bad = [(a["url"], a["removed"], a["disallowed_user_agents"], expected.get(a["url"])) for a in got
           if (a["removed"], a["disallowed_user_agents"] if a["removed"] else None) !=
           (expected.get(a["url"]) is not None, expected.get(a["url"]))]
    check("why %s agrees with the run on %d URLs" % (label, len(got)), len(got) == len(urls) and not bad, str(bad[:3]))


def memory_checks(work, corpus, shards, robots):
    worker = os.path.join(BIN, "optout-worker")
    p = run([worker, "--connect", "ipc://" + os.path.join(work, "none.sock"), "--max-memory", "1000000",
             "--check-memory"])
    check("worker --max-memory too small: exit 2", p.returncode == 2 and b"max-memory" in p.stderr,
          "exit %d %s" % (p.returncode, p.stderr.decode()[-300:]))
    p = run([worker, "--connect", "ipc://" + os.path.join(work, "none.sock"), "--max-memory", "4G", "--slots", "2",
             "--check-memory"])
    check("worker --max-memory 4G accepted", p.returncode == 0, "exit %d %s" % (p.returncode, p.stderr.decode()[-300:]))
    p = run([worker, "--connect", "ipc://" + os.path.join(work, "none.sock"), "--max-memory", "lots"])
    check("worker --max-memory bad value: exit 2", p.returncode == 2)
    rd = os.path.join(work, "run-memory")
    p = run([OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--out", rd,
             "--workers", "2", "--max-memory", "256M"])
    check("run --max-memory 256M completes", p.returncode == 0, p.stderr.decode()[-500:])
    p = run([OPTOUT, "run", "--corpus", os.path.join(corpus, "*.zst"), "--robots-dir", robots, "--out",
             os.path.join(work, "run-memory-small"), "--workers", "1", "--max-memory", "1M"])
    check("run --max-memory 1M refused: exit 2", p.returncode == 2, "exit %d" % p.returncode)


if __name__ == "__main__":
    sys.exit(main())
