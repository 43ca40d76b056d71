#!/usr/bin/env python3
"""test_progress.py — what `optout run` shows while it runs, on a terminal and off one.

On a pseudo-terminal (pty): every stage's last frame is its final line (N/N tasks, elapsed time;
the filter's with documents, docs/s and MB/s), skipped stages get a "skipped" line, no frame says
"ETA 0s" while no task has settled, and the run ends with "total time". Off a terminal (a pipe):
exactly one line per stage, no carriage return, and the same final lines. A dry run
(--stop-after rank): the stages after it say "not run".

usage: test_progress.py BIN_DIR REPO_ROOT
"""
import json, os, pty, re, select, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402

STAGES = ["rank", "rank-reduce", "fetch", "filter"]


def on_pty(args, cwd, env):
    """Runs args with stderr (and stdout) on a pseudo-terminal; (exit status, everything written)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        out += data
    os.close(master)
    return p.wait(timeout=60), out.decode(errors="replace")


def last_frames(text):
    """Per stage, the last thing drawn for it (frames separated by \\r or a line end)."""
    frames = {}
    for frame in re.split(r"\r\n|\r|\n", text.replace("\x1b[K", "")):
        m = re.match(r"^(\S+)\s", frame)
        if m and m.group(1) in STAGES:
            frames[m.group(1)] = frame
    return frames


def main():
    bindir = os.path.abspath(sys.argv[1])
    optout = os.path.join(bindir, "optout")
    env = dict(os.environ, OPTOUT_CONFIG="")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(6):
            with open(os.path.join(tmp, "part-%04d.jsonl" % i), "w") as f:
                for k in range(2000):
                    f.write(json.dumps({"id": "%d-%d" % (i, k), "url": "http://h%d.example/%d" % (k % 50, k),
                                        "text": "some text " * 20}) + "\n")
        os.mkdir(os.path.join(tmp, "robots"))
        with open(os.path.join(tmp, "robots", "h1.example"), "w") as f:
            f.write("User-agent: GPTBot\nDisallow: /\n")
        args = [optout, "run", "--corpus", "part-*.jsonl", "--robots-dir", "robots", "--workers", "1"]

        rc, text = on_pty(args + ["--out", "tty"], tmp, env)
        check(rc == 0, "run on a terminal: exit 0 (got %d)" % rc)
        frames = last_frames(text)
        check(frames.get("filter", "").startswith("filter") and " 6/6 tasks, " in frames.get("filter", ""),
              "terminal: the filter's last frame is its final line: %r" % frames.get("filter"))
        f = frames.get("filter", "")
        check(re.search(r", \d+(\.\d+)?(s|m\d\ds), 12000 docs, \d+ docs/s, .*, \d+\.\d MB/s$", f.rstrip()) is not None,
              "terminal: the final line has time, documents, docs/s and MB/s: %r" % f)
        for st in ("rank", "rank-reduce", "fetch"):
            check(frames.get(st, "").split()[1:2] == ["skipped"], "terminal: %s says skipped: %r" % (st, frames.get(st)))
        check("ETA 0s" not in text, "terminal: no 'ETA 0s'")
        check(re.search(r"optout: total time \d", text) is not None, "terminal: the summary gives the total time")

        p = subprocess.run(args + ["--out", "pipe"], cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "run off a terminal: exit 0 (got %d: %s)" % (p.returncode, p.stderr[-800:]))
        check("\r" not in p.stderr, "off a terminal: no carriage return")
        lines = [l for l in p.stderr.splitlines() if l.split()[:1] and l.split()[0] in STAGES]
        check([l.split()[0] for l in lines] == STAGES, "off a terminal: one line per stage, in order: %r" % lines)
        check(any(" 6/6 tasks, " in l and "MB/s" in l for l in lines if l.startswith("filter")),
              "off a terminal: the filter's line is final")
        check("total time" in p.stderr, "off a terminal: the total time")
        # a complete run rerun: nothing to do, the figures and the total time all the same
        p = subprocess.run(args + ["--out", "pipe"], cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
        check(p.returncode == 0 and "total time" in p.stderr and "optout: complete: 240 of 12000" in p.stderr,
              "a rerun of a complete run: total time and figures: %r" % p.stderr)
        # a dry run: the stages after --stop-after's say they did not run (not "N/N tasks")
        p = subprocess.run([optout, "run", "--corpus", "part-*.jsonl", "--workers", "1", "--stop-after", "rank",
                            "--out", "dry"], cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
        lines = {l.split()[0]: l for l in p.stderr.splitlines() if l.split()[:1] and l.split()[0] in STAGES}
        check(p.returncode == 0 and " 6/6 tasks, " in lines.get("rank", "") and "tasks" in lines.get("rank-reduce", ""),
              "--stop-after rank: the ranking's stages end (%d: %r)" % (p.returncode, lines))
        check(all(lines.get(st, "").split()[1:3] == ["not", "run"] for st in ("fetch", "filter")),
              "--stop-after rank: fetch and filter say they did not run: %r" % lines)
    finish("test_progress")


main()
