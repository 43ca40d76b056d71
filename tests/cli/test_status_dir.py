#!/usr/bin/env python3
"""test_status_dir.py — `optout status --dir` on a run directory that no broker serves.

A complete run: state "complete", every task published, the documents and the removed share of
report.json; exit 0. A run with a corrupt shard: state "failed" with the failed task counted; exit
0. A directory that is not a run directory, or none: exit 2. (The live broker and an interrupted
run: test_run_lock.py.)

usage: test_status_dir.py BIN_DIR REPO_ROOT
"""
import json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402


def main():
    optout = os.path.join(os.path.abspath(sys.argv[1]), "optout")
    env = dict(os.environ, OPTOUT_CONFIG="")

    def run(*args):
        return subprocess.run([optout] + list(args), cwd=tmp, env=env, capture_output=True, text=True, timeout=120)

    def status(d):
        p = run("status", "--dir", d)
        try:
            return p.returncode, json.loads(p.stdout), p.stderr
        except ValueError:
            return p.returncode, {}, p.stdout + p.stderr

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            with open(os.path.join(tmp, "part-%d.jsonl" % i), "w") as f:
                for k in range(100):
                    f.write(json.dumps({"id": "%d-%d" % (i, k), "url": "http://h%d.example/" % (k % 4), "text": "t"}) + "\n")
        os.mkdir(os.path.join(tmp, "robots"))
        with open(os.path.join(tmp, "robots", "h1.example"), "w") as f:
            f.write("User-agent: GPTBot\nDisallow: /\n")
        p = run("run", "--corpus", "part-*.jsonl", "--out", "ok", "--robots-dir", "robots", "--workers", "1")
        check(p.returncode == 0, "a complete run (exit %d)" % p.returncode)
        rc, s, err = status("ok")
        check(rc == 0 and s.get("state") == "complete", "status of a complete run: complete, exit 0: %r" % s)
        check(s.get("published") == 3 and s.get("failed") == 0 and s.get("tasks") == 3,
              "status of a complete run: 3 tasks published, none failed: %r" % s)
        check(s.get("docs_in") == 300 and s.get("docs_removed") == 75 and abs(s.get("docs_removed_share", 0) - 0.25) < 1e-9,
              "status of a complete run: documents and removed share: %r" % s)
        check("complete" in err, "status of a complete run: a line on stderr: %r" % err)
        st = s.get("stages", {})
        check(list(st) == ["rank", "rank-reduce", "fetch", "history", "wayback", "filter"] and st["rank"]["tasks"] == 0
              and st["fetch"]["tasks"] == 0, "status of a complete run: every stage, the skipped ones with 0 tasks: %r" % st)
        check(st.get("filter", {}) == {"tasks": 3, "published": 3, "failed": 0, "docs_in": 300, "docs_removed": 75,
                                       "docs_removed_share": 0.25},
              "status of a complete run: the filter stage's tasks and documents: %r" % st.get("filter"))
        check("filter       3/3 tasks done, 0 failed; 300 documents, 75 removed (25.00%)" in err
              and "fetch        skipped" in err, "status of a complete run: a line per stage: %r" % err)
        # without its report (a run stopped before the end writes none), the figures come from the journal
        os.rename(os.path.join(tmp, "ok", "report.json"), os.path.join(tmp, "ok-report.json"))
        rc, s, err = status("ok")
        check(rc == 0 and s.get("state") == "interrupted" and s.get("stages", {}).get("filter", {}).get("docs_in") == 300
              and s["stages"]["filter"]["docs_removed"] == 75 and "300 documents, 75 removed" in err,
              "status without report.json: the documents from the journal: %r %r" % (s, err))
        os.rename(os.path.join(tmp, "ok-report.json"), os.path.join(tmp, "ok", "report.json"))

        with open(os.path.join(tmp, "part-9.jsonl.zst"), "wb") as f:
            f.write(b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 10)
        p = run("run", "--corpus", "part-*.jsonl*", "--out", "bad", "--robots-dir", "robots", "--workers", "1",
                "--retries", "1")
        check(p.returncode == 1, "a run with a corrupt shard exits 1 (got %d)" % p.returncode)
        rc, s, err = status("bad")
        check(rc == 0 and s.get("state") == "failed" and s.get("failed") == 1 and s.get("published") == 3,
              "status of a failed run: failed, 1 task failed, 3 published: %r" % s)
        check("rerun" in err, "status of a failed run says what to do: %r" % err)
        f = s.get("stages", {}).get("filter", {})
        check(f.get("tasks") == 4 and f.get("published") == 3 and f.get("failed") == 1 and f.get("docs_in") == 300,
              "status of a failed run: the filter stage: %r" % f)

        rc, s, err = status("robots")
        check(rc == 2, "status --dir of a directory that is no run: exit 2 (got %d)" % rc)
        rc, s, err = status("missing")
        check(rc == 2, "status --dir of a missing directory: exit 2 (got %d)" % rc)
    finish("test_status_dir")


main()
