#!/usr/bin/python3
"""Runs the Protego 0.4 decision cases (tests/protego/cases.jsonl, one JSON object per line:
robots, agent, url, protego04 = expected "allowed", why) through
`optout robots check --mode protego`. Each case is a data file entry, like libcurl's tests.
usage: test_cases.py OPTOUT_BINARY [CASES_FILE]"""
import json, os, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, quiet, run  # noqa: E402

optout = sys.argv[1]
cases_file = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "cases.jsonl")
quiet()  # one check per case: only the disagreements are printed
total = 0
with tempfile.TemporaryDirectory() as tmp:
    for n, line in enumerate(open(cases_file, encoding="utf-8"), 1):
        case = json.loads(line)
        total += 1
        path = os.path.join(tmp, "robots%d.txt" % n)
        with open(path, "wb") as f:
            f.write(case["robots"].encode("utf-8"))
        p = run([optout, "robots", "check", "--mode", "protego", "--agent", case["agent"], "--robots", path,
                 case["url"]])
        got = p.stdout.split("\t")[0] if p.returncode == 0 else "exit %d: %s" % (p.returncode, p.stderr.strip())
        want = "allowed" if case["protego04"] else "disallowed"
        check(got == want, "case %d: robots=%r agent=%r url=%r: want %s, got %s (%s)"
              % (n, case["robots"], case["agent"], case["url"], want, got, case["why"]))
check(total > 0, "%s holds cases (%d)" % (cases_file, total))
finish("protego cases (%d)" % total)
