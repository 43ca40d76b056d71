#!/usr/bin/python3
"""The report's counts, recomputed independently from what the run wrote: `optout run --removed` on
a generated corpus, then every bucket of report.json (total, by class, by year, by year and class,
by dump, by agent, top hosts) is counted again from the kept shards (DIR/shards) and the removed
shards (DIR/removed, whose lines carry "disallowed_user_agents"), with the document rules written
in Python (tests/filter/test_filter.py). Nothing is taken from the run's statistics.
usage: test_counts.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import glob, json, os, shutil, subprocess, sys, tempfile

bin_dir, root = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "tests", "filter"))
sys.path.insert(0, os.path.join(root, "tests", "support"))
import test_filter as ref  # noqa: E402  (field, lang_class, doc_year, year_key, dump_key, buckets)
from optout_test import real_bodies, shared_dir  # noqa: E402
from optout_test import check, finish, split_lines, zcat  # noqa: E402  (on the path since test_filter)



def lines(path):
    return [l for l in split_lines(zcat(path)) if l not in (b"", b"\r")]


def keys_by_id(corpus_dirs):
    """Document id -> host key, from the generator's own record (_meta/<shard>.lines.tsv), which
    knows the key of every URL spelling (userinfo, Unicode hosts, explicit ports...)."""
    keys = {}
    for d in corpus_dirs:
        manifest = json.load(open(os.path.join(d, "_meta", "manifest.json"), encoding="utf-8"))
        for sh in manifest["shards"]:
            rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "_meta", sh["file"] + ".lines.tsv"),
                                                             encoding="utf-8")]
            for raw, row in zip(ref.split_lines(zcat(os.path.join(d, sh["file"]))), rows):
                try:
                    obj = json.loads(ref.strip_nl(raw).decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(obj, dict) and "id" in obj:
                    keys[obj["id"]] = row[1]
    return keys


def recount(run_dir, agents, keys):
    s = ref.new_stats(agents)
    losses = {}  # what the run must list: every shard's top 100 (ref.top_hosts), summed
    for sub, removed in (("shards", False), ("removed", True)):
        for path in sorted(glob.glob(os.path.join(run_dir, sub, "**", "*.zst"), recursive=True)):
            shard_losses = {}
            for raw in lines(path):
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    obj = None
                if not isinstance(obj, dict):
                    obj = None
                dis = obj.pop("disallowed_user_agents", []) if (obj is not None and removed) else []
                if obj is None:
                    cls, year, nbytes, chars, tokens = "unknown", 0, 0, 0, 0
                else:
                    cls, year = ref.lang_class(ref.field(obj, "language")), ref.doc_year(obj)
                    text = obj.get("text")
                    nbytes, chars = (len(text.encode("utf-8")), len(text)) if isinstance(text, str) else (0, 0)
                    tc = ref.field(obj, "token_count")
                    tokens = tc if isinstance(tc, int) and not isinstance(tc, bool) and 0 <= tc < 10 ** 19 \
                        else (nbytes + 3) // 4
                ref.bucket_add(s, nbytes, chars, tokens, removed)
                ref.bucket_add(s["by_class"][cls], nbytes, chars, tokens, removed)
                yk = ref.year_key(year)
                ref.bucket_add(s["by_year"].setdefault(yk, ref.new_bucket()), nbytes, chars, tokens, removed)
                yc = s["by_year_class"].setdefault(yk, {k: ref.new_bucket() for k in ("en", "non_en", "unknown")})
                ref.bucket_add(yc[cls], nbytes, chars, tokens, removed)
                ref.bucket_add(s["by_dump"].setdefault(ref.dump_key(obj), ref.new_bucket()), nbytes, chars, tokens,
                               removed)
                ref.bucket_add(s["by_agent"]["any"], nbytes, chars, tokens, removed)
                for a in agents:
                    ref.bucket_add(s["by_agent"][a], nbytes, chars, tokens, a in dis)
                if removed:
                    host = keys[obj["id"]]
                    n, t = shard_losses.get(host, (0, 0))
                    shard_losses[host] = (n + 1, t + tokens)
            for h in ref.top_hosts(shard_losses):
                n, t = losses.get(h["host"], (0, 0))
                losses[h["host"]] = (n + h["docs_removed"], t + h["tokens_removed"])
    return s, losses


tmp = tempfile.mkdtemp(prefix="optout-counts-")
try:
    corpus = os.path.join(tmp, "corpus")
    # the real robots.txt files when ../shared is there (many hosts with removals), else the sample
    robots = real_bodies(shared_dir(root, 3), required=False) or os.path.join(root, "data", "sample", "robots")
    gen = [os.path.join(root, "tools", "gen-corpus"), "--robots-dir", robots, "--bad-rate", "0.01"]
    subprocess.run(gen + ["--seed", "21", "--docs", "4000", "--shards", "5", "--format", "zst", "--out",
                          os.path.join(corpus, "fw")], check=True, capture_output=True)
    subprocess.run(gen + ["--seed", "22", "--docs", "1500", "--shards", "2", "--format", "gz", "--style", "dolma",
                          "--out", os.path.join(corpus, "dolma")], check=True, capture_output=True)
    meta = os.path.join(tmp, "meta")  # out of the corpus glob's way, read for host keys
    for name in ("fw", "dolma"):
        os.makedirs(os.path.join(meta, name))
        shutil.move(os.path.join(corpus, name, "_meta"), os.path.join(meta, name, "_meta"))
        for f in os.listdir(os.path.join(corpus, name)):
            os.symlink(os.path.join(corpus, name, f), os.path.join(meta, name, f))
    out = os.path.join(tmp, "run")
    r = subprocess.run([os.path.join(bin_dir, "optout"), "run", "--corpus", os.path.join(corpus, "**", "*.jsonl*"),
                        "--robots-dir", robots, "--out", out, "--removed", "--workers", "2"],
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "optout run exits 0 (%d: %s)" % (r.returncode, r.stderr[-300:]))
    report = json.load(open(os.path.join(out, "report.json")))
    agents = [a for a in report["by_agent"] if a != "any"]
    got, losses = recount(out, agents, keys_by_id([os.path.join(meta, n) for n in ("fw", "dolma")]))
    check(got["docs_in"] == 5500 and got["docs_removed"] > 0, "recounted %d documents, %d removed"
          % (got["docs_in"], got["docs_removed"]))
    for key in ("docs_in", "docs_removed", "bytes_in", "bytes_removed", "chars_in", "chars_removed", "tokens_in",
                "tokens_removed", "by_class", "by_year", "by_year_class", "by_dump", "by_agent"):
        check(report[key] == got[key], "report.json %s equals the count from the output shards%s"
              % (key, "" if report[key] == got[key] else ": " + "; ".join(ref.diff(got[key], report[key])[:5])))
    # top hosts: every shard's 100 largest, summed, the 1,000 largest kept (docs/report.md)
    listed = {h["host"]: (h["docs_removed"], h["tokens_removed"]) for h in report["top_hosts"]}
    want = dict(sorted(losses.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0].encode()))[:1000])
    check(len(want) >= 2 and listed == want, "top hosts: the %d hosts listed and their removed documents and "
          "tokens equal the recount" % len(want))
    order = [(-t, -n, h.encode()) for h, (n, t) in ((h["host"], (h["docs_removed"], h["tokens_removed"]))
                                                     for h in report["top_hosts"])]
    check(order == sorted(order), "top hosts are in order of removed tokens")
    md = open(os.path.join(out, "report.md")).read()
    check("## Loss per dump" in md and "## Hosts that cost the most" in md, "report.md has the dump and host tables")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish("report counts")
