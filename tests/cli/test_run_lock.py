#!/usr/bin/env python3
"""test_run_lock.py — `optout run` and a busy run directory, and `optout run` under SIGINT.

A run is kept busy for as long as the test needs by a robots.txt fetch that never gets an answer
(--connect-to a local socket that accepts and says nothing). Checks:
- a second `optout run` on the busy directory exits 1 naming the other run, changes nothing (the
  first run's broker.sock and redis.sock are the same files afterwards), prints no figures, and
  the first run goes on;
- `optout status --dir` asks the busy run's broker, and after SIGINT reads the directory
  ("interrupted", exit 0);
- SIGINT stops a run with exit status 130 and says how to resume;
- two runs started at the same instant on a fresh directory: exactly one proceeds.

usage: test_run_lock.py BIN_DIR REPO_ROOT
"""
import os, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check as check_, finish  # noqa: E402


def check(ok, what, detail=""):
    """optout_test's check, with what was seen instead when it fails."""
    return check_(ok, what if ok else "%s -- %s" % (what, detail))


def silent_server():
    """A TCP server that accepts connections and never answers; its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held = []

    def loop():
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return srv, srv.getsockname()[1]


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def identity(path):
    try:
        st = os.lstat(path)
        return (st.st_dev, st.st_ino)
    except FileNotFoundError:
        return None


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    bindir, root = sys.argv[1], sys.argv[2]
    optout = os.path.join(bindir, "optout")
    sample = os.path.join(root, "data", "sample")
    srv, port = silent_server()
    env = dict(os.environ, OPTOUT_CONFIG="")
    with tempfile.TemporaryDirectory(prefix="optout-run-lock.") as work:
        hosts = os.path.join(work, "hosts.txt")
        with open(hosts, "w") as f:
            f.write("slow.example\n")

        def start(out):
            cmd = [optout, "run", "--corpus", os.path.join(sample, "corpus.jsonl.zst"), "--out", out, "--workers", "1",
                   "--hosts", hosts, "--connect-to", "127.0.0.1:%d" % port, "--timeout", "120",
                   "--connect-timeout", "5", "--fetch-retries", "0"]
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                    start_new_session=True)

        def stop(p):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.communicate()

        # ---- a second run on a busy directory ----
        busy = os.path.join(work, "busy")
        first = start(busy)
        sockets = [os.path.join(busy, "broker.sock"), os.path.join(busy, "redis.sock")]
        up = wait_for(lambda: all(identity(s) for s in sockets) or first.poll() is not None, 30)
        check(up and first.poll() is None, "the first run is busy", "exit %s" % first.poll())
        before = [identity(s) for s in sockets]
        time.sleep(1)  # the fetch has started: the run is mid-stage
        second = subprocess.run([optout, "run", "--corpus", os.path.join(sample, "corpus.jsonl.zst"), "--out", busy,
                                 "--workers", "1", "--robots-dir", os.path.join(sample, "robots")],
                                capture_output=True, text=True, env=env, timeout=60)
        check(second.returncode == 1, "a second run on a busy directory exits 1", "exit %d" % second.returncode)
        check("in use" in second.stderr and str(first.pid) in second.stderr,
              "the second run names the run holding the directory", second.stderr[-500:])
        after = [identity(s) for s in sockets]
        check(before == after, "the second run left broker.sock and redis.sock alone", "%s -> %s" % (before, after))
        check("documents removed" not in second.stderr and second.stdout == "",
              "the second run prints no figures", second.stderr[-500:])
        check(first.poll() is None, "the first run goes on", "exit %s" % first.poll())
        live = subprocess.run([optout, "status", "--dir", busy], capture_output=True, text=True, env=env, timeout=30)
        check(live.returncode == 0 and '"epoch"' in live.stdout and '"stage": "fetch"' in live.stdout,
              "status --dir asks the live broker", live.stdout + live.stderr)

        # ---- SIGINT: 130, and how to resume ----
        os.kill(first.pid, signal.SIGINT)
        try:
            _, err = first.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stop(first)
            err = b""
        check(first.returncode == 130, "optout run interrupted by SIGINT exits 130", "exit %s" % first.returncode)
        check(b"rerun" in err, "the interrupted run says how to resume", err.decode()[-500:])
        after = subprocess.run([optout, "status", "--dir", busy], capture_output=True, text=True, env=env, timeout=30)
        check(after.returncode == 0 and '"state": "interrupted"' in after.stdout and "resume" in after.stderr,
              "status --dir of the interrupted run reads the directory: interrupted, exit 0",
              "exit %d: %s" % (after.returncode, after.stdout + after.stderr))

        # ---- two runs at the same instant ----
        fresh = os.path.join(work, "fresh")
        pair = [start(fresh), start(fresh)]
        wait_for(lambda: any(p.poll() is not None for p in pair), 30)
        time.sleep(2)
        codes = [p.poll() for p in pair]
        refused = [p for p in pair if p.poll() == 1]
        running = [p for p in pair if p.poll() is None]
        check(len(refused) == 1 and len(running) == 1, "two runs started at once: exactly one proceeds",
              "exit statuses %s" % codes)
        if refused:
            err = refused[0].communicate()[1].decode()
            check("in use" in err, "the other is refused as busy", err[-500:])
        left = [s for s in ("broker.sock", "redis.sock") if not identity(os.path.join(fresh, s))]
        check(not left, "the run that proceeded keeps its sockets", "missing: %s" % left)
        for p in running:
            os.kill(p.pid, signal.SIGINT)
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            check(p.returncode == 130, "the one that proceeded stops on SIGINT with 130", "exit %s" % p.returncode)
        for p in pair:
            stop(p)
    srv.close()
    finish("run lock")


if __name__ == "__main__":
    main()
