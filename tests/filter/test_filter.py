#!/usr/bin/python3
"""End-to-end check of `optout filter` on synthetic corpora, against independent expectations.

usage: test_filter.py OPTOUT_BINARY REPO_ROOT [SHARED_DIR]

SHARED_DIR defaults to REPO_ROOT/../shared; without SHARED_DIR/data/robots-top10k: exit 77.
See tests/filter/README.md. Set OPTOUT_CHECK_KEEP=1 to keep the work directory.

The expectations never come from the filter: host -> robots file from the generator's sidecar
(tools/gen-corpus writes _meta/<shard>.lines.tsv), verdicts from `optout robots check` (one call
per robots file, all its URLs), everything else (kept/removed lines, statistics) recomputed here
from the input bytes with Python's json module.
Exit: 0 when every check passes, 1 otherwise, 77 when the shared data is absent.
"""
import concurrent.futures
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, real_bodies, shared_dir, zcat  # noqa: E402

TIMEOUT = 300

# Extra robots files, added to a symlink copy of the shared directory: an IDN host (punycode file
# name), a port written host_PORT with an upper-case name, a default port written _80.
EXTRA_ROBOTS = {
    "xn--mnchen-3ya.de": "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\nAllow: /private/ok$\n",
    "xn--e1afmkfd.xn--p1ai": "User-agent: CCBot\nUser-agent: anthropic-ai\nDisallow: /\n",
    "Shop.Example-Store.ORG_8080": "User-agent: ClaudeBot\nDisallow: /*.pdf$\nDisallow: /cart\n\nUser-agent: *\nDisallow: /admin\n",
    "www.example-news.net_80": "User-agent: Google-Extended\nDisallow: /news/\n\nUser-agent: *\nAllow: /\n",
    "10.20.30.40_8443": "User-agent: *\nDisallow: /\n",
}

# (name, generator arguments): both styles, the three formats, multi-frame / multi-member shards.
CORPORA = [
    ("fw-zst", ["--style", "fineweb", "--format", "zst", "--docs", "1600", "--shards", "2", "--seed", "11",
                "--frame-docs", "300"]),
    ("dolma-gz", ["--style", "dolma", "--format", "gz", "--docs", "1200", "--shards", "2", "--seed", "12",
                  "--frame-docs", "250"]),
    ("fw-plain", ["--style", "fineweb", "--format", "jsonl", "--docs", "600", "--shards", "1", "--seed", "13"]),
    ("dolma-plain", ["--style", "dolma", "--format", "jsonl", "--docs", "600", "--shards", "1", "--seed", "14"]),
]
COMMON_GEN = ["--hosts", "400", "--bad-rate", "0.02"]


def fail(name, msg):
    check(False, "%s: %s" % (name, msg))


def ok(name, msg=""):
    check(True, name + (": " + msg if msg else ""))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT, **kw)


def split_lines(data):
    """Lines with their terminators ('\\n' only); a last line without one is a line too."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def strip_nl(line):
    return line[:-1] if line.endswith(b"\n") else line


# ------------------------------------------------------------------------- expectations --

def field(obj, name):
    """Default field path of the filter: top level, then under "metadata"."""
    if name in obj:
        return obj[name]
    meta = obj.get("metadata")
    if isinstance(meta, dict) and name in meta:
        return meta[name]
    return None


def lang_class(v):
    if not isinstance(v, str) or v == "":
        return "unknown"
    if v in ("en", "eng") or (v.startswith("eng_") and len(v) > 4):
        return "en"
    return "non_en"


def four_digits(s):
    if len(s) >= 4 and s[:4].isascii() and s[:4].isdigit():
        return int(s[:4])
    return 0


def doc_year(obj):
    dump, date = field(obj, "dump"), field(obj, "date")
    if isinstance(dump, str) and len(dump) > 8 and dump.startswith("CC-MAIN-") and four_digits(dump[8:]):
        return four_digits(dump[8:])
    if isinstance(date, str):
        return four_digits(date)
    return 0


def year_key(y):
    return str(y) if 1990 <= y <= 2100 else "unknown"


def new_bucket():
    return {k: 0 for k in ("docs_in", "docs_removed", "bytes_in", "bytes_removed", "chars_in", "chars_removed",
                           "tokens_in", "tokens_removed")}


def bucket_add(b, nbytes, chars, tokens, removed):
    b["docs_in"] += 1
    b["bytes_in"] += nbytes
    b["chars_in"] += chars
    b["tokens_in"] += tokens
    if removed:
        b["docs_removed"] += 1
        b["bytes_removed"] += nbytes
        b["chars_removed"] += chars
        b["tokens_removed"] += tokens


def new_stats(agents):
    s = new_bucket()
    s.update({"tokens_estimated_docs": 0, "bad_json": 0, "no_url": 0, "bad_url": 0, "no_host": 0, "bad_idna": 0,
              "line_too_long": 0,
              "docs_by_outcome": {k: 0 for k in ("ok", "no_robots", "unavailable", "unreachable", "no_such_host",
                                                 "not_ranked")},
              "by_class": {k: new_bucket() for k in ("en", "non_en", "unknown")},
              "by_year": {}, "by_year_class": {}, "by_dump": {}, "top_hosts": [],
              "by_agent": {a: new_bucket() for a in agents + ["any"]}})
    return s


DUMP_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def dump_key(obj):
    """The by_dump key: a dump name of 1..31 characters of [A-Za-z0-9._-], else "other"."""
    dump = field(obj, "dump") if obj is not None else None
    if isinstance(dump, str) and 0 < len(dump) < 32 and set(dump) <= DUMP_CHARS:
        return dump
    return "other"


def top_hosts(losses):
    """A shard's 100 hosts with the most removed tokens (ties: documents, then host), in that order."""
    rows = sorted(losses.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0].encode()))
    return [{"host": h, "docs_removed": n, "tokens_removed": t} for h, (n, t) in rows[:100]]


class Doc:
    """One input line: what the filter should do with it."""
    __slots__ = ("raw", "blank", "obj", "kind", "key", "file", "url", "agents", "facts")


def analyse_shard(data, rows):
    """Parses the input lines; rows are the sidecar rows (kind, host key, robots file)."""
    lines = split_lines(data)
    if len(lines) != len(rows):
        raise ValueError("%d input lines but %d sidecar rows" % (len(lines), len(rows)))
    docs = []
    for raw, (kind, key, file) in zip(lines, rows):
        d = Doc()
        d.raw, d.kind, d.key, d.file, d.url, d.agents, d.obj = raw, kind, key, file, None, [], None
        body = strip_nl(raw)
        d.blank = body in (b"", b"\r")
        if d.blank:
            if kind != "blank":
                raise ValueError("blank line where the sidecar says %s" % kind)
            docs.append(d)
            continue
        try:
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            obj = None
        if not isinstance(obj, dict):
            if kind != "bad_json":
                raise ValueError("line is not a JSON object but the sidecar says %s: %r" % (kind, body[:80]))
            d.kind = "bad_json"
            docs.append(d)
            continue
        d.obj = obj
        url = field(obj, "url")
        if not isinstance(url, str) or url == "":
            if kind != "no_url":
                raise ValueError("document without URL but the sidecar says %s" % kind)
        elif kind in ("no_url", "bad_json", "blank"):
            raise ValueError("document with URL %r but the sidecar says %s" % (url, kind))
        else:
            d.url = url
        docs.append(d)
    return docs


def expected_stats(docs, agents):
    s = new_stats(agents)
    losses = {}
    for d in docs:
        if d.blank:
            continue
        removed = bool(d.agents)
        if d.obj is None:  # not JSON: one document, nothing known about it
            cls, year, nbytes, chars, tokens = "unknown", 0, 0, 0, 0
            s["bad_json"] += 1
        else:
            o = d.obj
            cls, year = lang_class(field(o, "language")), doc_year(o)
            text = o.get("text")
            nbytes, chars = (len(text.encode("utf-8")), len(text)) if isinstance(text, str) else (0, 0)
            tc = field(o, "token_count")
            if isinstance(tc, int) and not isinstance(tc, bool) and 0 <= tc < 10 ** 19:
                tokens = tc
            else:
                tokens = (nbytes + 3) // 4  # ceil(bytes / 4)
                s["tokens_estimated_docs"] += 1
            if d.url is None:
                s["no_url"] += 1
            elif d.kind in ("bad_url", "no_host"):
                s[d.kind] += 1
            else:
                s["docs_by_outcome"]["ok" if d.file else "no_robots"] += 1
        bucket_add(s, nbytes, chars, tokens, removed)
        bucket_add(s["by_class"][cls], nbytes, chars, tokens, removed)
        yk = year_key(year)
        if yk not in s["by_year"]:
            s["by_year"][yk] = new_bucket()
        bucket_add(s["by_year"][yk], nbytes, chars, tokens, removed)
        yc = s["by_year_class"].setdefault(yk, {k: new_bucket() for k in ("en", "non_en", "unknown")})
        bucket_add(yc[cls], nbytes, chars, tokens, removed)
        bucket_add(s["by_dump"].setdefault(dump_key(d.obj), new_bucket()), nbytes, chars, tokens, removed)
        if removed:
            n, t = losses.get(d.key, (0, 0))
            losses[d.key] = (n + 1, t + tokens)
        bucket_add(s["by_agent"]["any"], nbytes, chars, tokens, removed)
        for a in agents:
            bucket_add(s["by_agent"][a], nbytes, chars, tokens, a in d.agents)
    s["top_hosts"] = top_hosts(losses)
    return s


def diff(expected, got, path=""):
    """List of 'path: expected X, got Y' differences (got may have extra keys: reported too)."""
    out = []
    if isinstance(expected, dict) and isinstance(got, dict):
        for k in expected:
            if k not in got:
                out.append("%s%s: missing" % (path, k))
            else:
                out += diff(expected[k], got[k], path + k + ".")
        for k in got:
            if k not in expected and not (path == "" and k not in ("by_class", "by_year", "by_agent", "by_year_class",
                                                                   "by_dump", "top_hosts")
                                          and isinstance(got[k], int) and got[k] == 0):
                out.append("%s%s: unexpected (%r)" % (path, k, got[k]))
        return out
    if expected != got:
        out.append("%s: expected %r, got %r" % (path.rstrip("."), expected, got))
    return out


# --------------------------------------------------------------------------------- verdicts --

def agent_names(optout, agents_file):
    cmd = [optout, "robots", "check", "--robots", os.devnull, "/"]
    if agents_file:
        cmd[3:3] = ["--agents-file", agents_file]
    p = run(cmd)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    return [line.split("\t")[1] for line in p.stdout.decode("utf-8").splitlines()]


def verdicts_for(optout, robots_dir, mode, agents_file, agents, file, urls, lst):
    """{url: [disallowed agents in list order]} from one `optout robots check` call (lst: a
    scratch file for the URL list)."""
    with open(lst, "wb") as f:
        for u in urls:
            f.write(u.encode("utf-8") + b"\n")
    cmd = [optout, "robots", "check", "--mode", mode, "--robots", os.path.join(robots_dir, file), "--urls", lst]
    if agents_file:
        cmd += ["--agents-file", agents_file]
    p = run(cmd)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    out = p.stdout.split(b"\n")
    if out and out[-1] == b"":
        out.pop()
    if len(out) != len(urls) * len(agents):
        raise RuntimeError("%s: %d lines for %d URLs x %d agents" % (" ".join(cmd), len(out), len(urls), len(agents)))
    res = {}
    for i, u in enumerate(urls):
        dis = []
        for j, a in enumerate(agents):
            verdict, agent, url = out[i * len(agents) + j].split(b"\t", 2)
            if agent.decode() != a or url != u.encode("utf-8") or verdict not in (b"allowed", b"disallowed"):
                raise RuntimeError("%s: unexpected line %r" % (" ".join(cmd), out[i * len(agents) + j]))
            if verdict == b"disallowed":
                dis.append(a)
        res[u] = dis
    return res


# ---------------------------------------------------------------------------------- checks --

REMOVED_RE = re.compile(rb'^\s*,\s*"disallowed_user_agents"\s*:\s*(\[.*\])\s*$', re.S)


def check_removed_line(inp, out, agents):
    """None when out is inp with exactly "disallowed_user_agents": agents added, else why not."""
    body = strip_nl(inp)
    term = inp[len(body):]
    if not out.endswith(term) or (term == b"" and out.endswith(b"\n")):
        return "line terminator changed"
    obody = out[: len(out) - len(term)] if term else out
    core = body.rstrip(b" \t\r")
    close = len(core) - 1
    if not obody.startswith(body[:close]) or not obody.endswith(body[close:]):
        return "original bytes not preserved around the insertion"
    middle = obody[close: len(obody) - (len(body) - close)]
    m = REMOVED_RE.match(middle)
    if not m:
        return "inserted text is %r" % middle[:200]
    try:
        lst = json.loads(m.group(1).decode("utf-8"))
    except ValueError:
        return "inserted list is not JSON: %r" % m.group(1)[:200]
    if lst != agents:
        return "disallowed_user_agents %r, expected %r" % (lst, agents)
    try:
        whole = json.loads(obody.decode("utf-8"))
    except ValueError as e:
        return "removed line is not JSON: %s" % e
    expect = json.loads(body.decode("utf-8"))
    expect["disallowed_user_agents"] = agents
    if whole != expect:
        return "removed line does not decode to the document plus the list"
    return None


def check_run(label, optout, robots_dir, mode, agents_file, agents, shard_path, docs, verdicts, outdir):
    for d in docs:
        d.agents = verdicts[(d.file, d.url)] if (d.kind == "doc" and d.file and d.url is not None) else []
    out = os.path.join(outdir, "kept.jsonl.zst")
    removed = os.path.join(outdir, "removed.jsonl.zst")
    stats = os.path.join(outdir, "stats.json")
    cmd = [optout, "filter", "--robots-dir", robots_dir, "--mode", mode, "--in", shard_path, "--out", out,
           "--removed", removed, "--stats", stats]
    if agents_file:
        cmd += ["--agents-file", agents_file]
    p = run(cmd)
    if p.returncode != 0:
        fail(label, "exit %d: %s\n  reproduce: %s" % (p.returncode, p.stderr.decode(errors="replace").strip(),
                                                     " ".join(cmd)))
        return
    problems = []
    # (b) kept lines: the input lines of kept documents, byte-identical, in order (blank lines too)
    exp_kept = b"".join(d.raw for d in docs if not d.agents)
    got_kept = zcat(out)
    if got_kept != exp_kept:
        el, gl = split_lines(exp_kept), split_lines(got_kept)
        i = next((i for i in range(min(len(el), len(gl))) if el[i] != gl[i]), min(len(el), len(gl)))
        problems.append("(b) kept output differs: %d lines expected, %d written; first difference at kept line %d:"
                        "\n    expected %r\n    got      %r" % (len(el), len(gl), i + 1,
                                                                el[i][:160] if i < len(el) else None,
                                                                gl[i][:160] if i < len(gl) else None))
    # (c) removed lines: the input lines of removed documents plus the agents
    exp_rm = [d for d in docs if d.agents]
    got_rm = split_lines(zcat(removed))
    if len(got_rm) != len(exp_rm):
        problems.append("(c) %d removed lines expected, %d written" % (len(exp_rm), len(got_rm)))
    bad_rm = 0
    for d, line in zip(exp_rm, got_rm):
        why = check_removed_line(d.raw, line, d.agents)
        if why:
            bad_rm += 1
            if bad_rm <= 3:
                problems.append("(c) removed line for %s: %s" % (d.url, why))
    if bad_rm > 3:
        problems.append("(c) ... %d removed lines wrong in all" % bad_rm)
    # (d) statistics
    with open(stats, encoding="utf-8") as f:
        got = json.load(f)
    exp = expected_stats(docs, agents)
    dd = diff(exp, got)
    if dd:
        problems.append("(d) statistics differ:\n    " + "\n    ".join(dd[:25]) +
                        ("\n    ... %d differences" % len(dd) if len(dd) > 25 else ""))
    if problems:
        fail(label, "\n  ".join(problems) + "\n  reproduce: " + " ".join(cmd))
    else:
        ok(label, "%d lines, %d removed, %d kept" % (len(docs), len(exp_rm), len(docs) - len(exp_rm)))
    for name in (out, removed, stats):
        os.unlink(name)


def check_corrupt(label, optout, robots_dir, bad_input, outdir):
    os.makedirs(outdir)
    out, removed, stats = (os.path.join(outdir, n) for n in ("kept.jsonl.zst", "removed.jsonl.zst", "stats.json"))
    cmd = [optout, "filter", "--robots-dir", robots_dir, "--in", bad_input, "--out", out, "--removed", removed,
           "--stats", stats]
    p = run(cmd)
    err = p.stderr.decode(errors="replace").strip()
    problems = []
    if p.returncode != 1:
        problems.append("exit %d, expected 1" % p.returncode)
    if bad_input not in err:
        problems.append("message does not name the file: %r" % err)
    if not re.search(r"(byte|offset)\D{0,20}\d+", err):
        problems.append("message gives no byte offset: %r" % err)
    left = sorted(os.listdir(outdir))
    if left:
        problems.append("files left in the output directory: %s" % ", ".join(left))
    if problems:
        fail(label, "; ".join(problems) + "\n  reproduce: " + " ".join(cmd))
    else:
        ok(label, err.splitlines()[-1] if err else "")


def check_empty(label, optout, robots_dir, empty_input, agents, outdir):
    os.makedirs(outdir)
    out, removed, stats = (os.path.join(outdir, n) for n in ("kept.jsonl.zst", "removed.jsonl.zst", "stats.json"))
    cmd = [optout, "filter", "--robots-dir", robots_dir, "--in", empty_input, "--out", out, "--removed", removed,
           "--stats", stats]
    p = run(cmd)
    problems = []
    if p.returncode != 0:
        problems.append("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()))
    else:
        for name in (out, removed):
            if not os.path.exists(name):
                problems.append("%s not written" % os.path.basename(name))
            elif zcat(name) != b"":
                problems.append("%s not empty" % os.path.basename(name))
        with open(stats, encoding="utf-8") as f:
            dd = diff(expected_stats([], agents), json.load(f))
        if dd:
            problems.append("statistics not zero: " + "; ".join(dd[:10]))
    if problems:
        fail(label, "; ".join(problems) + "\n  reproduce: " + " ".join(cmd))
    else:
        ok(label)


def tree_bytes(top):
    """{relative path: bytes} of every file under top."""
    out = {}
    for dirpath, _, files in os.walk(top):
        for f in files:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, top)] = fh.read()
    return out


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    optout, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shared_robots = os.path.abspath(real_bodies(shared_dir(repo, 3)))
    gen = os.path.join(repo, "tools", "gen-corpus")
    agents_45 = os.path.join(repo, "data", "agents", "ai-robots-txt-2025-01.txt")
    if shutil.which("zstd") is None:
        print("test_filter: the zstd command is needed", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="optout-check-filter.")
    try:
        rc = run_checks(optout, gen, shared_robots, agents_45, work)
    except Exception as e:  # a crash of the checker is a failure, with the work directory kept
        fail("checker", "%s: %s" % (type(e).__name__, e))
        rc = 1
    if rc == 0 and not os.environ.get("OPTOUT_CHECK_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: %s" % work)
    return rc


def run_checks(optout, gen, shared_robots, agents_45, work):
    # the robots directory: the shared bodies (symlinks) and a few extra hosts
    robots = os.path.join(work, "robots")
    os.makedirs(robots)
    for name in sorted(os.listdir(shared_robots)):
        os.symlink(os.path.join(shared_robots, name), os.path.join(robots, name))
    for name, body in EXTRA_ROBOTS.items():
        with open(os.path.join(robots, name), "w", encoding="utf-8") as f:
            f.write(body)

    # corpora, and the generator's determinism
    shards = []  # (corpus, path, docs)
    for name, args in CORPORA:
        out = os.path.join(work, "corpus", name)
        cmd = [sys.executable, gen, "--robots-dir", robots, "--out", out] + COMMON_GEN + args
        p = run(cmd)
        if p.returncode != 0:
            fail("generate " + name, "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
            return 1
        print("     " + p.stderr.decode(errors="replace").strip())
        with open(os.path.join(out, "_meta", "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        for sh in manifest["shards"]:
            path = os.path.join(out, sh["file"])
            with open(os.path.join(out, "_meta", sh["file"] + ".lines.tsv"), encoding="utf-8") as f:
                rows = [line.rstrip("\n").split("\t") for line in f]
            shards.append((name, path, analyse_shard(zcat(path), rows)))
    name, args = CORPORA[0]
    again = os.path.join(work, "corpus-again")
    p = run([sys.executable, gen, "--robots-dir", robots, "--out", again, "--jobs", "2"] + COMMON_GEN + args)
    first = os.path.join(work, "corpus", name)
    if p.returncode == 0 and tree_bytes(first) == tree_bytes(again):
        ok("generator deterministic", "%s regenerated byte-identical with --jobs 2" % name)
    else:
        fail("generator deterministic", "%s differs when regenerated with --jobs 2" % name)
    kinds = {}
    for _, _, docs in shards:
        for d in docs:
            k = "doc without robots file" if d.kind == "doc" and not d.file else d.kind
            kinds[k] = kinds.get(k, 0) + 1
    print("     input lines by kind: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))

    # (a) expected verdicts, one `robots check` per (configuration, robots file)
    configs = [("rfc9309", None), ("protego", None), ("rfc9309", agents_45)]
    runs = []  # (label, mode, agents_file, shard path, docs)
    for corpus, path, docs in shards:
        for mode, af in configs:
            if af and corpus not in ("fw-zst", "dolma-plain"):
                continue
            runs.append(("filter %s %s%s %s" % (corpus, mode, " ai-robots-45" if af else "", os.path.basename(path)),
                         mode, af, path, docs))
    verdicts = {}
    calls = 0
    for mode, af in configs:
        agents = agent_names(optout, af)
        by_file = {}
        for _, m, a, _, docs in runs:
            if (m, a) != (mode, af):
                continue
            for d in docs:
                if d.kind == "doc" and d.file and d.url is not None:
                    by_file.setdefault(d.file, {})[d.url] = None
        v = {}
        items = sorted(by_file.items())
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
            results = pool.map(lambda it: verdicts_for(optout, robots, mode, af, agents, it[1][0], list(it[1][1]),
                                                       os.path.join(work, "urls.%d.txt" % it[0])),
                               enumerate(items))
            for (file, _), res in zip(items, results):
                calls += 1
                for u, dis in res.items():
                    v[(file, u)] = dis
        verdicts[(mode, af)] = (agents, v)
    ok("expected verdicts", "%d robots check calls, %d (file, URL) pairs" %
       (calls, sum(len(v) for _, v in verdicts.values())))

    # (b)-(d) every shard in every configuration
    outdir = os.path.join(work, "out")
    os.makedirs(outdir)
    removed_total = {}
    for label, mode, af, path, docs in runs:
        agents, v = verdicts[(mode, af)]
        check_run(label, optout, robots, mode, af, agents, path, docs, v, outdir)
        removed_total[(mode, af)] = removed_total.get((mode, af), 0) + sum(1 for d in docs if d.agents)
    if not all(removed_total.values()):
        fail("coverage", "a configuration removed nothing: the corpora do not exercise removal")

    # (e) corrupt inputs: truncated zstd and gzip, a flipped byte in zstd
    zst = next(p for c, p, _ in shards if p.endswith(".zst"))
    gz = next(p for c, p, _ in shards if p.endswith(".gz"))
    corrupt = os.path.join(work, "corrupt")
    os.makedirs(corrupt)
    cases = []
    for src, name in ((zst, "truncated.jsonl.zst"), (gz, "truncated.jsonl.gz")):
        data = open(src, "rb").read()
        cases.append((name, data[: len(data) * 3 // 5]))
    data = bytearray(open(zst, "rb").read())
    data[len(data) // 2] ^= 0x5A
    cases.append(("flipped.jsonl.zst", bytes(data)))
    for name, data in cases:
        path = os.path.join(corrupt, name)
        with open(path, "wb") as f:
            f.write(data)
        check_corrupt("corrupt input " + name, optout, robots, path, os.path.join(work, "out-" + name))

    # (f) empty inputs
    default_agents = verdicts[("rfc9309", None)][0]
    empties = {"empty.jsonl": b"", "empty.jsonl.gz": gzip.compress(b"", mtime=0),
               "empty.jsonl.zst": subprocess.run(["zstd", "-q", "-c"], input=b"", stdout=subprocess.PIPE).stdout}
    for name, data in empties.items():
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        check_empty("empty input " + name, optout, robots, path, default_agents, os.path.join(work, "out-" + name))

    finish("filter")


if __name__ == "__main__":
    sys.exit(main())
