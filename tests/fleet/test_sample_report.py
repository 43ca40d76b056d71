#!/usr/bin/python3
"""The README's first Quick-start command, checked: `optout run` on the bundled sample
(data/sample: 80 documents, a robots directory) gives the expected report, with nonzero English
and non-English loss (data/sample/expected-summary.json).
usage: test_sample_report.py BIN_DIR REPO_ROOT"""
import json, os, shutil, subprocess, sys, tempfile

bin_dir, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
tmp = tempfile.mkdtemp(prefix="optout-sample-")
try:
    out = os.path.join(tmp, "run")
    r = subprocess.run([os.path.join(bin_dir, "optout"), "run", "--corpus", os.path.join(sample, "corpus.jsonl.zst"),
                        "--robots-dir", os.path.join(sample, "robots"), "--out", out, "--removed"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        sys.exit("optout run failed (%d): %s" % (r.returncode, r.stderr))
    report = json.load(open(os.path.join(out, "report.json")))
    want = json.load(open(os.path.join(sample, "expected-summary.json")))
    keys = [k for k in want if not isinstance(want[k], dict)]
    got = {k: report[k] for k in keys}
    got["by_class"] = {c: {k: report["by_class"][c][k] for k in want["by_class"][c]} for c in want["by_class"]}
    got["by_agent_docs_removed"] = {a: report["by_agent"][a]["docs_removed"] for a in want["by_agent_docs_removed"]}
    bad = [k for k in want if got.get(k) != want[k]]
    for k in bad:
        print("FAIL: %s: got %s, want %s" % (k, got.get(k), want[k]))
    en, non_en = report["by_class"]["en"]["tokens_removed"], report["by_class"]["non_en"]["tokens_removed"]
    if not (en > 0 and non_en > 0):
        bad.append("loss")
        print("FAIL: English and non-English loss must both be nonzero (en %d, non_en %d)" % (en, non_en))
    md = open(os.path.join(out, "report.md")).read()
    for needle in ("# optout report", "of tokens removed", "| English |", "| `CCBot/2.0` |", "| **any** |"):
        if needle not in md:
            bad.append("report.md")
            print("FAIL: report.md lacks %r" % needle)
    print("sample report: %s (English tokens removed %d, non-English %d)" % ("FAIL" if bad else "as expected", en, non_en))
    sys.exit(1 if bad else 0)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
