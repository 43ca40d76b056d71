#!/usr/bin/python3
"""Tag mode (docs/tags.md) against a full run, on a generated corpus (FineWeb-style zstd shards, a
Dolma-style gzip shard in a subdirectory, bad lines) plus a hand-made plain shard whose documents
have no id, a null id, a numeric id, an id with escapes, a metadata.id and duplicate ids:

- `optout run --output tags` gives the same report.json statistics as `optout run --removed`;
- its tags are exactly the full run's removed documents, in order: same id (or line number for
  documents without one), same agents, the agents array byte for byte;
- `optout apply-tags --run` (and the one-shard form, --tags FILE and --tags DIR) on the inputs
  reproduces the full run's shards/ and removed/ byte for byte (decompressed);
- `optout filter --output tags` gives the same --stats as a full filter;
- errors: a corrupt tags file names file and line, a truncated one its file, a tag matching no
  document fails the shard and publishes nothing, usage errors (--removed with tags, a changed
  --output on a run directory, --run on a run that was not a tag run) exit 2.
usage: test_tags.py BIN_DIR REPO_ROOT"""
import glob, json, os, re, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, lines_of, runner, zcat  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
robots = os.path.realpath(os.path.join(root, "data", "sample", "robots"))
cmd = runner(optout)



def outputs_aside(report):
    """report.json without the settings that name the outputs (a tag run and a full run differ there only)."""
    config = {k: v for k, v in report["config"].items() if k not in ("output", "removed")}
    return dict(report, config=config)

def doc_id(line):
    """The id a tag would carry (parsed), or None."""
    try:
        d = json.loads(line)
    except ValueError:
        return None
    if not isinstance(d, dict):
        return None
    if "id" in d:
        return d["id"]
    m = d.get("metadata")
    return m.get("id") if isinstance(m, dict) else None


def split_removed(line):
    """(original line, raw agents array) of a removed/ line."""
    k = line.rfind(b'"disallowed_user_agents": [')
    start = k - 2 if line[k - 2:k] == b", " else k
    end = line.index(b"]", k) + 1
    return line[:start] + line[end:], line[k + len(b'"disallowed_user_agents": '):end]


tmp = tempfile.mkdtemp(prefix="optout-tags-")
try:
    corpus = os.path.join(tmp, "corpus")
    gen = os.path.join(root, "tools", "gen-corpus")
    subprocess.run([gen, "--robots-dir", robots, "--docs", "3000", "--shards", "3", "--out", corpus, "--format",
                    "zst", "--bad-rate", "0.02", "--seed", "8", "--hosts", "12"], check=True, capture_output=True)
    subprocess.run([gen, "--robots-dir", robots, "--docs", "800", "--shards", "1", "--out",
                    os.path.join(corpus, "dolma"), "--format", "gz", "--style", "dolma", "--seed", "9", "--hosts", "12",
                    "--prefix", "d"], check=True, capture_output=True)
    # documents without id, null id, numeric id, escaped id, metadata.id, duplicate ids
    hand = [
        {"url": "https://news.example/world/a.html", "text": "no id, removed"},
        {"id": None, "url": "https://news.example/world/b.html", "text": "null id, removed"},
        {"id": 42, "url": "https://news.example/world/c.html", "text": "numeric id"},
        {"id": 42.5e0, "url": "https://wiki.example/x", "text": "kept numeric id"},
        {"id": "caf\u00e9 \"q\"", "url": "https://news.example/world/d.html", "text": "escapes"},
        {"metadata": {"id": "m-1", "url": "https://news.example/world/e.html"}, "text": "meta id"},
        {"id": "dup", "url": "https://news.example/world/f.html", "text": "duplicate 1"},
        {"id": "dup", "url": "https://news.example/world/g.html", "text": "duplicate 2"},
        {"url": "https://news.example/search?q=1", "text": "no id, * disallows /search"},
        {},
    ]
    raw = [json.dumps(d, ensure_ascii=True).encode() for d in hand]
    raw[4] = raw[4].replace(b"\\u00e9", b"\\u00E9")  # an escape, rendered decoded in the tag
    raw.insert(3, b"")  # a blank line counts as a line
    raw.insert(5, b"{not json")
    os.makedirs(os.path.join(corpus, "hand"))
    with open(os.path.join(corpus, "hand", "h.jsonl"), "wb") as f:
        f.write(b"\n".join(raw) + b"\n{}")  # last line without newline
    pattern = [os.path.join(corpus, "**", "*.jsonl*")]
    inputs = sorted(p for p in glob.glob(pattern[0], recursive=True) if "/_meta/" not in p)
    pattern = ["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--corpus", os.path.join(corpus, "**", "*.jsonl.gz"),
               "--corpus", os.path.join(corpus, "**", "*.jsonl")]

    full, tags = os.path.join(tmp, "full"), os.path.join(tmp, "tags")
    r = cmd(["run"] + pattern + ["--out", full, "--robots-dir", robots, "--removed", "--workers", "2"])
    check(r.returncode == 0, "full run: exit 0 (%s)" % r.stderr.strip()[-300:])
    r = cmd(["run"] + pattern + ["--out", tags, "--robots-dir", robots, "--output", "tags", "--workers", "2"])
    check(r.returncode == 0, "tag run: exit 0 (%s)" % r.stderr.strip()[-300:])
    check(not os.path.exists(os.path.join(tags, "shards")) and not os.path.exists(os.path.join(tags, "removed")),
          "tag run: no shards/ and no removed/")
    rep_full = json.load(open(os.path.join(full, "report.json")))
    rep_tags = json.load(open(os.path.join(tags, "report.json")))
    check((rep_full["config"]["output"], rep_full["config"]["removed"], rep_tags["config"]["output"],
           rep_tags["config"]["removed"]) == ("shards", "yes", "tags", "no"), "report.json: each run's output mode")
    check(outputs_aside(rep_full) == outputs_aside(rep_tags), "report.json: identical statistics")
    check(rep_full["docs_removed"] > 100, "the corpus removes documents (%d)" % rep_full["docs_removed"])

    names = sorted(os.path.relpath(p, os.path.join(full, "shards"))
                   for p in glob.glob(os.path.join(full, "shards", "**", "*.zst"), recursive=True))
    tag_names = sorted(os.path.relpath(p, os.path.join(tags, "tags"))
                       for p in glob.glob(os.path.join(tags, "tags", "**", "*"), recursive=True) if os.path.isfile(p))
    check(names == tag_names and "dolma/d-00000.jsonl.zst" in names and "hand/h.jsonl.zst" in names,
          "tags/<name>: the names shards/ has (%s)" % tag_names)

    # tags = the removed documents, in input order
    by_name = {}
    for p in inputs:
        name = os.path.relpath(p, corpus)
        name = name[:-3] + ".zst" if name.endswith(".gz") else name if name.endswith(".zst") else name + ".zst"
        by_name[name] = p
    all_ok, ntags, by_line = True, 0, 0
    for name in names:
        src = lines_of(by_name[name])
        removed = lines_of(os.path.join(full, "removed", name))
        got = lines_of(os.path.join(tags, "tags", name))
        expected, j = [], 0
        for n, line in enumerate(src, 1):
            if j < len(removed):
                orig, arr = split_removed(removed[j])
                if orig == line:
                    expected.append((doc_id(line), n, arr))
                    j += 1
        if j != len(removed) or len(got) != len(expected):
            all_ok = False
            print("  %s: %d removed, %d matched in order, %d tags" % (name, len(removed), j, len(got)))
            continue
        for t, (ident, n, arr) in zip(got, expected):
            d = json.loads(t)
            key_ok = (d.get("id") == ident and "line" not in d) if ident is not None else (d.get("line") == n and "id" not in d)
            by_line += ident is None
            if not key_ok or not t.endswith(b', "disallowed_user_agents": ' + arr + b"}"):
                all_ok = False
                print("  %s: tag %r for line %d (id %r, agents %r)" % (name, t, n, ident, arr))
                break
        ntags += len(got)
    check(all_ok and ntags == rep_full["docs_removed"], "tags: exactly the removed documents (%d, %d by line)" % (ntags, by_line))
    hand_tags = lines_of(os.path.join(tags, "tags", "hand", "h.jsonl.zst"))
    check('{"id": "caf\u00e9 \\"q\\"", '.encode() in b"".join(hand_tags),
          "tags: a string id decoded and written by the one JSON writer (\\u00E9 as UTF-8)")
    check(any(t.startswith(b'{"id": 42, ') for t in hand_tags) and any(t.startswith(b'{"line": 1, ') for t in hand_tags)
          and any(t.startswith(b'{"line": 2, ') for t in hand_tags) and any(t.startswith(b'{"id": "m-1", ') for t in hand_tags),
          "tags: numeric id, metadata.id, and line numbers for no / null id")

    # apply-tags on the run reproduces shards/ and removed/
    out = os.path.join(tmp, "applied")
    r = cmd(["apply-tags", "--run", tags, "--out", os.path.join(out, "shards"), "--removed", os.path.join(out, "removed"),
             "--stats", "-"])
    check(r.returncode == 0, "apply-tags --run: exit 0 (%s)" % r.stderr.strip()[-300:])
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    check(st.get("docs_removed") == rep_full["docs_removed"] and st.get("tags") == ntags and st.get("shards") == len(names)
          and st.get("duplicate_matches") == 0, "apply-tags --stats: counts (%s)" % r.stdout.strip())
    same = True
    for name in names:
        for sub in ("shards", "removed"):
            a, b = os.path.join(full, sub, name), os.path.join(out, sub, name)
            if not os.path.exists(b) or zcat(a) != zcat(b):
                same = False
                print("  differs: %s/%s" % (sub, name))
    check(same, "apply-tags --run: shards/ and removed/ byte-identical to the full run's (decompressed)")
    check(re.search(r"optout: apply-tags: %d of %d shards applied, %d of \d+ documents removed" %
                    (len(names), len(names), rep_full["docs_removed"]), r.stderr) is not None,
          "apply-tags --run: a summary on stderr (%s)" % r.stderr.strip()[-300:])
    out1 = os.path.join(tmp, "applied-j1")
    r = cmd(["apply-tags", "--run", tags, "--out", os.path.join(out1, "shards"), "--jobs", "1", "--stats", "-"])
    st1 = json.loads(r.stdout) if r.returncode == 0 else {}
    check(r.returncode == 0 and st1.get("docs_removed") == st.get("docs_removed") and st1.get("tags") == st.get("tags")
          and all(zcat(os.path.join(out, "shards", n)) == zcat(os.path.join(out1, "shards", n)) for n in names),
          "apply-tags --run --jobs 1: the same outputs and counts as the default jobs (%s)" % r.stderr.strip()[-300:])
    r = cmd(["apply-tags", "--run", tags, "--out", os.path.join(tmp, "applied-j0"), "--jobs", "0"])
    check(r.returncode == 2 and "--jobs" in r.stderr, "apply-tags --jobs 0: a usage error (%s)" % r.stderr.strip())

    # one shard: --tags FILE, --tags DIR (the tags name of the input's base name)
    hin = by_name["hand/h.jsonl.zst"]
    r = cmd(["apply-tags", "--tags", os.path.join(tags, "tags", "hand", "h.jsonl.zst"), "--in", hin,
             "--out", os.path.join(tmp, "one.jsonl"), "--removed", os.path.join(tmp, "one-r.jsonl.gz")])
    check(r.returncode == 0 and zcat(os.path.join(tmp, "one.jsonl")) == zcat(os.path.join(full, "shards", "hand", "h.jsonl.zst"))
          and zcat(os.path.join(tmp, "one-r.jsonl.gz")) == zcat(os.path.join(full, "removed", "hand", "h.jsonl.zst")),
          "apply-tags --tags FILE: plain and gzip outputs identical to the full run's (%s)" % r.stderr.strip())
    r = cmd(["apply-tags", "--tags", os.path.join(tags, "tags", "hand"), "--in", hin, "--out", os.path.join(tmp, "two.jsonl.zst")])
    check(r.returncode == 0 and zcat(os.path.join(tmp, "two.jsonl.zst")) == zcat(os.path.join(full, "shards", "hand", "h.jsonl.zst")),
          "apply-tags --tags DIR: DIR/<tags name of the input>")

    # with a policy: --remove-hosts (tags with "disallowed_user_agents": []) and host granularity
    hosts_file = os.path.join(tmp, "remove-hosts.txt")
    with open(hosts_file, "w") as f:
        f.write("wiki.example\n")
    policy = ["--remove-hosts", hosts_file, "--granularity", "host", "--robots-dir", robots, "--workers", "2"]
    r1 = cmd(["run"] + pattern + ["--out", os.path.join(tmp, "pfull"), "--removed"] + policy)
    r2 = cmd(["run"] + pattern + ["--out", os.path.join(tmp, "ptags"), "--output", "tags"] + policy)
    r3 = cmd(["apply-tags", "--run", os.path.join(tmp, "ptags"), "--out", os.path.join(tmp, "papplied", "shards"),
              "--removed", os.path.join(tmp, "papplied", "removed")])
    ok = r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0
    ok = ok and outputs_aside(json.load(open(os.path.join(tmp, "pfull", "report.json")))) == \
        outputs_aside(json.load(open(os.path.join(tmp, "ptags", "report.json"))))
    for name in names:
        for sub in ("shards", "removed"):
            if ok and zcat(os.path.join(tmp, "pfull", sub, name)) != zcat(os.path.join(tmp, "papplied", sub, name)):
                ok = False
                print("  differs: %s/%s" % (sub, name))
    empty = ok and any(b'"disallowed_user_agents": []}' in t for n in names
                       for t in lines_of(os.path.join(tmp, "ptags", "tags", n)))
    check(ok and empty, "--remove-hosts and --granularity host: same report, apply-tags identical, [] tags (%s)"
          % (r1.stderr + r2.stderr + r3.stderr).strip()[-300:])

    # optout filter: tags vs full, same statistics
    p0 = by_name[names[0]]
    r1 = cmd(["filter", "--robots-dir", robots, "--in", p0, "--out", os.path.join(tmp, "f.jsonl.zst"), "--removed",
              os.path.join(tmp, "fr.jsonl.zst"), "--stats", os.path.join(tmp, "f.json")])
    r2 = cmd(["filter", "--robots-dir", robots, "--in", p0, "--out", os.path.join(tmp, "t.jsonl.zst"), "--output", "tags",
              "--stats", os.path.join(tmp, "t.json")])
    check(r1.returncode == 0 and r2.returncode == 0 and open(os.path.join(tmp, "f.json")).read() == open(os.path.join(tmp, "t.json")).read()
          and zcat(os.path.join(tmp, "t.jsonl.zst")) == zcat(os.path.join(tags, "tags", names[0])),
          "optout filter --output tags: same --stats as a full filter, same tags as the run")

    # errors
    bad = os.path.join(tmp, "bad.jsonl")
    good = lines_of(os.path.join(tags, "tags", "hand", "h.jsonl.zst"))
    cases = [
        (good[:2] + [b'{"id": "x", "disallowed_user_agents": ["GPTBot"]'] + good[2:], "line 3: not one JSON object"),
        (good[:1] + [b'{"id": "x"}'], "line 2: \"disallowed_user_agents\" is not"),
        (good[:1] + [b'{"id": "x", "disallowed_user_agents": {"a": "b"}}'], "line 2: \"disallowed_user_agents\" is not"),
        (good[:1] + [b'{"id": "x", "disallowed_user_agents": [1]}'], "line 2: \"disallowed_user_agents\" is not"),
        (good[:1] + [b'{"disallowed_user_agents": ["A"]}'], "line 2: a tag needs exactly one of"),
        (good[:1] + [b'{"id": 1, "line": 3, "disallowed_user_agents": ["A"]}'], "line 2: a tag needs exactly one of"),
        (good[:1] + [b'{"line": 0, "disallowed_user_agents": ["A"]}'], "line 2: \"line\" is not a positive integer"),
        (good + [b'{"id": "nowhere", "disallowed_user_agents": ["A"]}'], "1 tag matches no document"),
    ]
    for content, message in cases:
        with open(bad, "wb") as f:
            f.write(b"\n".join(content) + b"\n")
        o = os.path.join(tmp, "err-out.jsonl")
        r = cmd(["apply-tags", "--tags", bad, "--in", hin, "--out", o])
        check(r.returncode == 1 and bad in r.stderr and message in r.stderr and not os.path.exists(o),
              "corrupt tags (%s): exit 1 naming the file, nothing written (%s)" % (message, r.stderr.strip()))
    z = open(os.path.join(tags, "tags", names[0]), "rb").read()
    with open(bad + ".zst", "wb") as f:
        f.write(z[: len(z) // 2])
    r = cmd(["apply-tags", "--tags", bad + ".zst", "--in", p0, "--out", os.path.join(tmp, "err-out.jsonl")])
    check(r.returncode == 1 and bad + ".zst" in r.stderr and "line" in r.stderr, "truncated tags: exit 1 naming the file (%s)" % r.stderr.strip())
    r = cmd(["apply-tags", "--tags", os.path.join(tags, "tags", names[0]), "--in", by_name[names[1]], "--out", os.path.join(tmp, "x.jsonl")])
    check(r.returncode == 1 and "match" in r.stderr and not os.path.exists(os.path.join(tmp, "x.jsonl")),
          "another shard's tags: exit 1, nothing written")
    r = cmd(["apply-tags", "--run", full, "--out", os.path.join(tmp, "y")])
    check(r.returncode == 2 and "not a tag-mode run" in r.stderr, "apply-tags --run on a full run: exit 2")
    # a damaged plan (its header gone, its config hash edited away) is refused, never half-read
    fake = os.path.join(tmp, "fake-run")
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(tags, "plan")) as f:
        lines = f.read().split("\n")
    with open(os.path.join(fake, "plan"), "w") as f:
        f.write("\n".join(lines[1:]))
    r = cmd(["apply-tags", "--run", fake, "--out", os.path.join(tmp, "w")])
    check(r.returncode == 1 and "not an optout plan" in r.stderr and not os.path.exists(os.path.join(tmp, "w")),
          "apply-tags --run on a plan without its header: exit 1 naming the plan (%s)" % r.stderr.strip())
    r = cmd(["run"] + pattern + ["--out", os.path.join(tmp, "z"), "--robots-dir", robots, "--output", "tags", "--removed"])
    check(r.returncode == 2 and "--removed" in r.stderr, "run --output tags --removed: exit 2")
    r = cmd(["run"] + pattern + ["--out", tags, "--robots-dir", robots, "--workers", "1"])
    check(r.returncode == 2 and "--output" in r.stderr, "rerun of a tag run without --output tags: exit 2 naming --output")
    r = cmd(["filter", "--robots-dir", robots, "--in", p0, "--out", os.path.join(tmp, "q"), "--output", "tags", "--removed", os.path.join(tmp, "qr")])
    check(r.returncode == 2, "filter --output tags --removed: exit 2")
    r = cmd(["filter", "--robots-dir", robots, "--in", p0, "--out", os.path.join(tmp, "q"), "--output", "both"])
    check(r.returncode == 2 and "--output" in r.stderr, "filter --output both: exit 2")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish("tag mode")
