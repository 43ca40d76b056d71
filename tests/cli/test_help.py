#!/usr/bin/env python3
"""test_help.py — every program's and command's --help describes each option on its line and gives
its default.

Checks, for optout-broker, optout-worker and every optout command: --help exits 0 with a usage
line; every option line (a line starting with "  -") but --help, --check-config and --version
says "default" (on the line or on its continuation lines, indented further); run's lists
--config and --metrics-listen; a shared option's line says what it means for the command at hand
(history's --out is the archive's DIR/history/ and --hosts the hosts kept, not a run directory and
hosts to fetch; fetch's --out names DIR/robots/, rank's DIR/ranking/).

usage: test_help.py BIN_DIR REPO_ROOT
"""
import os, re, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402

EXEMPT = ("--help", "--check-config", "--version")


def options(text):
    """(option line with its continuation lines) for each option of a --help text."""
    out, cur = [], None
    for line in text.splitlines():
        if re.match(r"^  -", line):
            cur = [line]
            out.append(cur)
        elif cur is not None and re.match(r"^ {5,}\S", line):
            cur.append(line)
        else:
            cur = None
    return [" ".join(x) for x in out]


def main():
    bindir = os.path.abspath(sys.argv[1])
    optout = os.path.join(bindir, "optout")
    progs = {"optout-broker": [os.path.join(bindir, "optout-broker")],
             "optout-worker": [os.path.join(bindir, "optout-worker")]}
    for c in ("run", "filter", "rank", "fetch", "history", "why", "report", "verify", "apply-tags", "status",
              "config", "keygen"):
        progs["optout " + c] = [optout, c]
    progs["optout robots check"] = [optout, "robots", "check"]
    env = dict(os.environ, OPTOUT_CONFIG="")
    for name, cmd in progs.items():
        p = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env, timeout=30)
        check(p.returncode == 0 and p.stdout.startswith("usage:"), "%s --help: exit 0, usage first" % name)
        opts = options(p.stdout)
        check(len(opts) >= (1 if name == "optout config" else 2), "%s --help: lists its options (%d)" % (name, len(opts)))
        missing = [o.split()[0] for o in opts if "default" not in o and not any(e in o.split()[:2] for e in EXEMPT)]
        check(not missing, "%s --help: every option gives its default (missing: %s)" % (name, missing))
        if name == "optout run":
            check(any("--config FILE" in o for o in opts) and any("--metrics-listen" in o for o in opts),
                  "optout run --help: --config and --metrics-listen")
        # a row several programs share says what the option means in this one
        line = {o.split()[0]: o for o in opts}
        for prog, opt, says, never in (
                ("optout history", "--out", "DIR/history/", "the run directory"),
                ("optout history", "--hosts", "captures are kept", "to fetch"),
                ("optout fetch", "--out", "DIR/robots/", None),
                ("optout rank", "--out", "DIR/ranking/", None),
                ("optout run", "--out", "the run directory", None)):
            if name == prog:
                text = line.get(opt, "")
                check(says in text and (never is None or never not in text),
                      "%s --help: %s says %r%s (%s)" % (name, opt, says, "" if never is None else ", not %r" % never,
                                                        text))
    finish("test_help")


main()
