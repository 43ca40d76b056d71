#!/usr/bin/python3
"""The README's first Quick-start command, checked: `optout run` on the bundled sample
(data/sample: 80 documents, a robots directory) gives the expected report, with nonzero English
and non-English loss (data/sample/expected-summary.json); so does its Parquet twin
(data/sample/corpus.parquet, the same documents written by DuckDB), whose outputs are Parquet.
usage: test_sample_report.py BIN_DIR REPO_ROOT"""
import json, os, shutil, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, run  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
tmp = tempfile.mkdtemp(prefix="optout-sample-")
try:
    for corpus in ("corpus.jsonl.zst", "corpus.parquet"):
        out = os.path.join(tmp, "run-" + corpus)
        r = run([os.path.join(bin_dir, "optout"), "run", "--corpus", os.path.join(sample, corpus),
                 "--robots-dir", os.path.join(sample, "robots"), "--out", out, "--removed"])
        if not check(r.returncode == 0, "%s: optout run on the sample exits 0 (%d: %s)" % (corpus, r.returncode, r.stderr)):
            finish("sample report")
        report = json.load(open(os.path.join(out, "report.json")))
        want = json.load(open(os.path.join(sample, "expected-summary.json")))
        keys = [k for k in want if not isinstance(want[k], dict)]
        got = {k: report[k] for k in keys}
        got["by_class"] = {c: {k: report["by_class"][c][k] for k in want["by_class"][c]} for c in want["by_class"]}
        got["by_agent_docs_removed"] = {a: report["by_agent"][a]["docs_removed"] for a in want["by_agent_docs_removed"]}
        for k in want:
            check(got.get(k) == want[k], "%s: %s: got %s, want %s" % (corpus, k, got.get(k), want[k]))
        en, non_en = report["by_class"]["en"]["tokens_removed"], report["by_class"]["non_en"]["tokens_removed"]
        check(en > 0 and non_en > 0, "English and non-English loss both nonzero (en %d, non_en %d)" % (en, non_en))
        md = open(os.path.join(out, "report.md")).read()
        for needle in ("# optout report", "of tokens removed", "| English |", "| `CCBot/2.0` |", "| **any** |"):
            check(needle in md, "%s: report.md has %r" % (corpus, needle))
        if corpus.endswith(".parquet"):
            for d in ("shards", "removed"):
                with open(os.path.join(out, d, corpus), "rb") as f:
                    check(f.read(4) == b"PAR1", "%s/%s is Parquet" % (d, corpus))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish("sample report")
