#!/usr/bin/env python3
"""test_gen_corpus.py — tools/gen-corpus works in a fresh clone and says where it writes.

A copy of the tool placed as in a clone with nothing beside it (no ../shared): without
--robots-dir it draws from the repository's data/sample/robots, exits 0, writes the shard, and its
first line on stderr names the absolute output directory and the robots directory; a missing
--robots-dir is named.

usage: test_gen_corpus.py BIN_DIR REPO_ROOT
"""
import os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402


def main():
    root = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        clone = os.path.join(tmp, "clone")
        os.makedirs(os.path.join(clone, "tools"))
        shutil.copy(os.path.join(root, "tools", "gen-corpus"), os.path.join(clone, "tools"))
        shutil.copytree(os.path.join(root, "data", "sample", "robots"), os.path.join(clone, "data", "sample", "robots"))
        env = {k: v for k, v in os.environ.items() if k != "OPTOUT_SHARED_DIR"}
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        p = subprocess.run(["/usr/bin/python3", os.path.join(clone, "tools", "gen-corpus"), "--docs", "40", "--hosts", "4",
                            "--format", "jsonl"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "gen-corpus in a fresh clone: exit 0 (%s)" % p.stderr.strip()[-300:])
        out = os.path.join(work, "corpus")
        check(os.path.exists(os.path.join(out, "part-00000.jsonl")), "gen-corpus: the shard in ./corpus")
        first = p.stderr.splitlines()[0] if p.stderr else ""
        check(out in first and os.path.join(clone, "data", "sample", "robots") in first,
              "gen-corpus: first says where it writes and which robots directory it reads: %r" % first)
        p = subprocess.run(["/usr/bin/python3", os.path.join(clone, "tools", "gen-corpus"), "--docs", "4",
                            "--robots-dir", "nowhere"], cwd=work, env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode != 0 and "nowhere" in p.stderr, "gen-corpus: a missing --robots-dir is named")
    finish("test_gen_corpus")


main()
