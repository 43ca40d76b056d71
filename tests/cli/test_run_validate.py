#!/usr/bin/env python3
"""test_run_validate.py — `optout run` refuses a bad command before it creates anything, and takes
several corpus paths after one --corpus (an unquoted glob the shell expanded).

Checks, for each mistake (a bad --mode, --granularity or --sample, a pattern that matches nothing,
a missing --robots-dir, --agents-file, --hosts or --keep-hosts, options that do not go together
such as --stop-after rank with --robots-dir): exit 2, the message in optout's own
name (never the broker's), and no run directory (so no Redis was started in it). Then
`--corpus a b` plans both inputs in run, and a stray word after another option is named with
"repeat the option"; optout rank and optout-broker take several corpus paths the same way and
exit 2 on a missing file; so does every other command given a path that does not exist.

usage: test_run_validate.py BIN_DIR REPO_ROOT
"""
import json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OPTOUT_CONFIG=""))


def main():
    bindir = os.path.abspath(sys.argv[1])
    optout, broker = os.path.join(bindir, "optout"), os.path.join(bindir, "optout-broker")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("part-0000.jsonl", "part-0001.jsonl"):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(json.dumps({"id": name, "url": "http://a.example/" + name, "text": "x"}) + "\n")
        os.mkdir(os.path.join(tmp, "robots"))
        base = [optout, "run", "--corpus", "part-0000.jsonl", "--out", "out", "--robots-dir", "robots"]
        mistakes = {
            "--mode protgo": ["--mode", "protgo"],
            "--granularity domian": ["--granularity", "domian"],
            "--sample 10": ["--sample", "10"],
            "--agents-file missing": ["--agents-file", "missing.txt"],
            "--keep-hosts missing": ["--keep-hosts", "missing.txt"],
            "--remove-hosts missing": ["--remove-hosts", "missing.txt"],
        }
        for what, extra in mistakes.items():
            p = run(base + extra, tmp)
            check(p.returncode == 2, "run %s: exit 2 (got %d)" % (what, p.returncode))
            check(p.stderr.startswith("optout:") and "optout-broker" not in p.stderr,
                  "run %s: said by optout itself: %r" % (what, p.stderr[:200]))
            check(not os.path.exists(os.path.join(tmp, "out")), "run %s: no run directory created" % what)
        for what, args in {
            "a pattern that matches nothing": [optout, "run", "--corpus", "nomatch-*.jsonl", "--out", "out",
                                               "--robots-dir", "robots"],
            "a missing --robots-dir": [optout, "run", "--corpus", "part-0000.jsonl", "--out", "out",
                                       "--robots-dir", "missing"],
            "a missing --hosts": [optout, "run", "--corpus", "part-0000.jsonl", "--out", "out", "--hosts", "missing"],
            "--stop-after rank with --robots-dir": base + ["--stop-after", "rank"],
            "--output tags with --removed": base + ["--output", "tags", "--removed"],
        }.items():
            p = run(args, tmp)
            check(p.returncode == 2, "run with %s: exit 2 (got %d: %s)" % (what, p.returncode, p.stderr.strip()))
            check(p.stderr.startswith("optout:") and "optout-broker" not in p.stderr,
                  "run with %s: said by optout itself: %r" % (what, p.stderr[:300]))
            check(not os.path.exists(os.path.join(tmp, "out")), "run with %s: no run directory created" % what)

        # several paths after one --corpus: what the shell makes of --corpus part-000*.jsonl
        p = run([optout, "run", "--corpus", "part-0000.jsonl", "part-0001.jsonl", "--out", "out",
                 "--robots-dir", "robots", "--workers", "1"], tmp)
        check(p.returncode == 0, "run --corpus A B: exit 0 (got %d: %s)" % (p.returncode, p.stderr.strip()))
        plan = open(os.path.join(tmp, "out", "plan")).read() if os.path.exists(os.path.join(tmp, "out", "plan")) else ""
        check(plan.count("\ninput\t") == 2, "run --corpus A B: both inputs planned")
        check(sorted(os.listdir(os.path.join(tmp, "out", "shards"))) == ["part-0000.jsonl.zst", "part-0001.jsonl.zst"]
              if os.path.isdir(os.path.join(tmp, "out", "shards")) else False, "run --corpus A B: two output shards")
        p = run([optout, "run", "--corpus", "part-0000.jsonl", "--out", "out2", "stray"], tmp)
        check(p.returncode == 2 and "'stray'" in p.stderr and "repeat the option" in p.stderr,
              "a word after --out is named, with 'repeat the option': %s" % p.stderr.strip())
        check(not os.path.exists(os.path.join(tmp, "out2")), "... and nothing was created")
        p = run([optout, "rank", "--corpus", "part-0000.jsonl", "part-0001.jsonl", "--out", "ranked", "--all-hosts"], tmp)
        check(p.returncode == 0, "rank --corpus A B: exit 0 (got %d: %s)" % (p.returncode, p.stderr.strip()))
        p = run([broker, "--dir", "bdir", "--corpus", "part-0000.jsonl", "part-0001.jsonl", "--robots-dir", "robots",
                 "--check-config"], tmp)
        check(p.returncode == 0, "optout-broker --corpus A B: accepted (got %d: %s)" % (p.returncode, p.stderr.strip()))
        p = run([broker, "--dir", "bdir", "--corpus", "part-0000.jsonl", "--robots-dir", "missing"], tmp)
        check(p.returncode == 2 and not os.path.exists(os.path.join(tmp, "bdir")),
              "optout-broker --robots-dir missing: exit 2, nothing created (got %d)" % p.returncode)
        # every command: an argument naming a file or directory that does not exist is a usage error
        for args in (["filter", "--in", "part-0000.jsonl", "--out", "f.jsonl", "--archive", "missing"],
                     ["filter", "--in", "missing.jsonl", "--out", "f.jsonl", "--robots-dir", "robots"],
                     ["why", "--run", "missing", "http://a.example/"],
                     ["why", "--run", "out", "--urls", "missing.txt"],
                     ["verify", "missing"], ["report", "missing"], ["report", "--diff", "out", "missing"],
                     ["apply-tags", "--run", "missing", "--out", "applied"],
                     ["apply-tags", "--tags", "missing", "--in", "part-0000.jsonl", "--out", "a.jsonl"],
                     ["robots", "check", "--robots", "missing.txt", "/x"],
                     ["robots", "check", "--agents-file", "missing.txt", "--robots", "part-0000.jsonl", "/x"],
                     ["fetch", "--hosts", "missing.txt", "--out", "fetched"],
                     ["rank", "--corpus", "missing.jsonl", "--out", "ranked2"],
                     ["status", "--dir", "missing"]):
            p = run([optout] + args, tmp)
            check(p.returncode == 2 and "missing" in p.stderr,
                  "optout %s: exit 2 naming the path (got %d: %s)" % (" ".join(args), p.returncode, p.stderr.strip()))
    finish("test_run_validate")


main()
