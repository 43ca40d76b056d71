#!/usr/bin/env python3
"""test_agent_typos.py — agent lists with likely typos are pointed out.

An agent name with white space ("Google Extended": only "Google" is matched) or a colon
("User-agent: CCBot": a robots.txt line) is warned about when the run starts; agents that no
robots.txt of the snapshot names in a group of their own (ClaudBot, and the two above) are listed in
the run summary, report.md and report.json's config "agents_unnamed"; correctly written agents
(GPTBot, named by one file; `*`, never a typo) are not. `optout report DIR` renders the same list
from report.msgpack. `optout filter` warns about the names as well.

usage: test_agent_typos.py BIN_DIR REPO_ROOT
"""
import json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402

TYPOS = ["ClaudBot", "Google Extended", "User-agent: CCBot"]


def main():
    optout = os.path.join(os.path.abspath(sys.argv[1]), "optout")
    env = dict(os.environ, OPTOUT_CONFIG="")

    def run(*args):
        return subprocess.run([optout] + list(args), cwd=tmp, env=env, capture_output=True, text=True, timeout=120)

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "part-0.jsonl"), "w") as f:
            for k in range(40):
                f.write(json.dumps({"id": "d%d" % k, "url": "http://h%d.example/p/%d" % (k % 4, k), "text": "t"}) + "\n")
        os.mkdir(os.path.join(tmp, "robots"))
        with open(os.path.join(tmp, "robots", "h1.example"), "w") as f:
            f.write("User-agent: GPTBot\nDisallow: /\n")
        with open(os.path.join(tmp, "robots", "h2.example"), "w") as f:
            f.write("User-agent: Google-Extended\nUser-agent: *\nDisallow: /p/1\n")
        with open(os.path.join(tmp, "agents.txt"), "w") as f:
            f.write("GPTBot\nClaudBot\nGoogle Extended\nUser-agent: CCBot\n*\n")
        p = run("run", "--corpus", "part-0.jsonl", "--out", "r", "--robots-dir", "robots", "--agents-file",
                "agents.txt", "--workers", "1")
        check(p.returncode == 0, "the run (exit %d): %s" % (p.returncode, p.stderr[-800:]))
        err = p.stderr
        check('"Google Extended" has white space' in err and '"Google-Extended"?' in err,
              "a warning for the name with white space: %r" % err)
        check('"User-agent: CCBot" has a colon' in err and '("CCBot"?)' in err, "a warning for the name with a colon: %r" % err)
        check("GPTBot\" has" not in err and "ClaudBot\" has" not in err, "no warning for plain names: %r" % err)
        summary = [l for l in err.splitlines() if "no robots.txt of the snapshot names" in l]
        check(len(summary) == 1 and all('"%s"' % t in summary[0] for t in TYPOS) and '"GPTBot"' not in summary[0]
              and '"*"' not in summary[0], "the summary lists the unnamed agents: %r" % summary)
        rep = json.load(open(os.path.join(tmp, "r", "report.json")))
        check(rep["config"].get("agents_unnamed") == TYPOS, "report.json agents_unnamed: %r" % rep["config"].get("agents_unnamed"))
        md = open(os.path.join(tmp, "r", "report.md")).read()
        line = "**No robots.txt of the snapshot names `ClaudBot`, `Google Extended`, `User-agent: CCBot`** (2 robots.txt"
        check(line in md, "report.md names the unnamed agents")
        os.unlink(os.path.join(tmp, "r", "report.md"))
        p = run("report", "r")
        check(p.returncode == 0 and line in open(os.path.join(tmp, "r", "report.md")).read(),
              "optout report renders the list again from report.msgpack")

        # optout filter warns too, for --agent and --agents-file alike
        p = run("filter", "--robots-dir", "robots", "--in", "part-0.jsonl", "--out", "f.jsonl", "--agent",
                "Google Extended", "--agents-file", "agents.txt")
        check(p.returncode == 0 and p.stderr.count('"Google Extended" has white space') == 2
              and '"User-agent: CCBot" has a colon' in p.stderr, "optout filter warns: %r" % p.stderr[-600:])
        # a list without typos: nothing said
        with open(os.path.join(tmp, "good.txt"), "w") as f:
            f.write("GPTBot\nGoogle-Extended\n*\n")
        p = run("run", "--corpus", "part-0.jsonl", "--out", "g", "--robots-dir", "robots", "--agents-file",
                "good.txt", "--workers", "1")
        check(p.returncode == 0 and "names the agents" not in p.stderr and "has white space" not in p.stderr,
              "a correct list: no warning (exit %d): %r" % (p.returncode, p.stderr[-500:]))
        check(json.load(open(os.path.join(tmp, "g", "report.json")))["config"].get("agents_unnamed") == [],
              "a correct list: agents_unnamed empty")
        check("No robots.txt of the snapshot names" not in open(os.path.join(tmp, "g", "report.md")).read(),
              "a correct list: nothing in report.md")
    finish("test_agent_typos")


main()
