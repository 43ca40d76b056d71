"""test_parquet_report_diff.py — `optout report --diff --json` on runs whose removed/ shards are
Parquet: it lists the documents one run removed only, exactly as for the JSON Lines copy of the
same corpus (the bundled sample and its Parquet twin, data/sample/corpus.parquet, written by DuckDB).

Runs per copy: --granularity url and --granularity domain, both with --removed. The domain run
removes a superset; the diff of each pair must name the same ids and hosts, all from run B.

usage: test_parquet_report_diff.py OPTOUT_BINARY SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pq_support import check, finish  # noqa: E402

optout, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
env = dict(os.environ, OPTOUT_CONFIG="")


def run(*args):
    return subprocess.run([optout] + list(args), capture_output=True, text=True, env=env, timeout=300)


def diff_of(work, corpus, label):
    dirs = []
    for gran in ("url", "domain"):
        d = os.path.join(work, "%s-%s" % (label, gran))
        p = run("run", "--corpus", corpus, "--robots-dir", os.path.join(sample, "robots"), "--removed",
                "--granularity", gran, "--workers", "1", "--out", d)
        check(p.returncode == 0, "%s run --granularity %s exits 0 (%s)" % (label, gran, p.stderr[-400:]))
        dirs.append(d)
    p = run("report", "--diff", "--json", *dirs)
    check(p.returncode == 0, "%s: report --diff --json exits 0 (%s)" % (label, p.stderr[-400:]))
    return [json.loads(x) for x in p.stdout.splitlines()]


with tempfile.TemporaryDirectory(prefix="optout-pq-diff.") as work:
    jl = diff_of(work, os.path.join(sample, "corpus.jsonl.zst"), "jsonl")
    pq = diff_of(work, os.path.join(sample, "corpus.parquet"), "parquet")
    check(len(jl) > 0, "the JSON Lines pair differs (%d documents)" % len(jl))
    check(all(x["run"] == "B" and x["shard"].startswith("removed/") for x in pq),
          "every Parquet line names run B and a removed/ shard")
    key = lambda x: (x["id"], x["url"], x["host"])
    check(sorted(map(key, pq)) == sorted(map(key, jl)),
          "the Parquet pair lists the same documents as the JSON Lines pair (%d and %d)" % (len(pq), len(jl)))
    check(all(x["shard"].endswith(".parquet") for x in pq), "the Parquet lines name the .parquet shards")
finish("parquet_report_diff")
