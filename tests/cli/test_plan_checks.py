#!/usr/bin/python3
"""Plan checks say what to do: a rerun whose options differ from DIR/plan names what the user typed
and the remedy; a rerun of a complete run whose inputs changed warns; `optout verify --inputs`
prints times as UTC ISO 8601 dates.

usage: test_plan_checks.py BIN_DIR REPO_ROOT

1. optout run over a copy of the bundled sample completes.
2. The same command with --mode protego: exit 2, "--mode was rfc9309, now protego", the remedy
   (give --mode rfc9309 as planned, or a new run directory with --out); nothing changed.
3. The same command with --connect-to instead of --robots-dir: exit 2; the message names
   --connect-to (the option typed), which implies --allow-private, never "--allow-private was ..."
   alone.
4. The input touched, the same command again: exit 0, a warning that names the input, its mtime
   and the planned one as dates, and the remedy.
5. optout verify --inputs: exit 1, the mismatch's times as dates, no raw nanosecond counts.
"""
import os, re, shutil, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, runner  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
optout = runner(os.path.join(BIN, "optout"), timeout=300)
SAMPLE = os.path.join(ROOT, "data", "sample")
ROBOTS = os.path.join(SAMPLE, "robots")
DATE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{9})?Z"

tmp = tempfile.mkdtemp(prefix="optout-plan-checks-")
try:
    corpus = os.path.join(tmp, "corpus.jsonl.zst")
    shutil.copy(os.path.join(SAMPLE, "corpus.jsonl.zst"), corpus)
    out = os.path.join(tmp, "run")
    base = ["run", "--corpus", corpus, "--out", out, "--workers", "1"]

    # 1. the run
    r = optout(base + ["--robots-dir", ROBOTS])
    check(r.returncode == 0, "the run completes (%s)" % r.stderr.strip()[-300:])
    plan = open(os.path.join(out, "plan")).read()

    # 2. another value of an option the user typed
    r = optout(base + ["--robots-dir", ROBOTS, "--mode", "protego"])
    err = r.stderr
    check(r.returncode == 2, "a changed --mode: exit 2 (%d)" % r.returncode)
    check("--mode was rfc9309, now protego" in err, "the change is named (%s)" % err.strip()[-400:])
    check("give --mode rfc9309 as planned" in err, "the remedy to resume: the planned value")
    check("new run directory (optout run --out DIR" in err, "the remedy to keep both: a new --out")
    check(open(os.path.join(out, "plan")).read() == plan, "the plan is unchanged")

    # 3. an option implied by another: name the one the user typed
    r = optout(base + ["--connect-to", "127.0.0.1:9"])
    err = r.stderr
    check(r.returncode == 2, "--connect-to on a run planned with --robots-dir: exit 2 (%d)" % r.returncode)
    check("(implied by --connect-to)" in err, "the message names --connect-to, the option typed (%s)"
          % err.strip()[-400:])
    check("--allow-private was" not in err, "never '--allow-private was ...' alone: the user did not type it")
    check("new run directory" in err, "with the remedy")

    # 4. a complete run whose input changed
    st = os.stat(corpus)
    os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))
    r = optout(base + ["--robots-dir", ROBOTS])
    err = r.stderr
    check(r.returncode == 0, "the rerun of the complete run: exit 0 (%d)" % r.returncode)
    m = re.search(r"1 of 1 inputs changed since this run was planned \(([^:]+): mtime (%s), planned (%s)\)"
                  % (DATE, DATE), err)
    check(m and m.group(1) == corpus, "a warning names the changed input and both times as dates (%s)"
          % err.strip()[-500:])
    check("start a new run directory" in err, "the warning says what to do")

    # 5. verify --inputs: dates, not nanoseconds
    r = optout(["verify", out, "--inputs"])
    text = r.stdout + r.stderr
    check(r.returncode == 1, "verify --inputs fails on the touched input (%d)" % r.returncode)
    check(re.search(r"mtime %s, manifest says %s" % (DATE, DATE), text), "verify prints the times as dates (%s)"
          % text.strip()[-400:])
    check(not re.search(r"\d{15,}", text), "no raw nanosecond counts")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish("cli_plan_checks")
