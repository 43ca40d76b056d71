#!/usr/bin/python3
"""The end of a fleet run started by hand: the broker tells its workers the run is complete (DONE),
and deletes the run's Redis keys.

usage: test_lifecycle.py BIN_DIR REPO_ROOT

A private redis-server (unix socket), an optout-broker over the bundled sample with --redis, and two
optout-workers started by hand: A with --exit-when-done, B without (a systemd worker).
1. The run completes (exit 0); A exits 0 within a few seconds of the broker's completion; B keeps
   running well past the broker's exit and the liveness window, logs "waiting for the next run" once
   and no "broker silent ... reconnecting" warning.
2. Redis holds no key of the run afterwards (the broker deleted its prefix); the broker says so.
3. Another run with --keep-redis-keys (and --metrics-linger, so that the broker stays up after the
   run): its keys are still in Redis afterwards; a worker with --exit-when-done that joins after the
   run is complete (while the broker lingers) is told so at once: it exits 0 without a task.
"""
import os, re, shutil, socket, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, free_port, skip, stop  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
BROKER = os.path.join(BIN, "optout-broker")
WORKER = os.path.join(BIN, "optout-worker")
SAMPLE = os.path.join(ROOT, "data", "sample")
CORPUS, ROBOTS = os.path.join(SAMPLE, "corpus.jsonl.zst"), os.path.join(SAMPLE, "robots")
if not shutil.which("redis-server"):
    skip("redis-server is not installed (deploy/deps.sh)")


def redis_keys(sock, pattern="*"):
    """KEYS pattern over RESP on the unix socket (a private server holding a few hundred keys)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        p = pattern.encode()
        s.sendall(b"*2\r\n$4\r\nKEYS\r\n$%d\r\n%s\r\n" % (len(p), p))
        f = s.makefile("rb")
        head = f.readline()
        if not head.startswith(b"*"):
            raise RuntimeError("KEYS: %r" % head)
        keys = []
        for _ in range(int(head[1:])):
            n = int(f.readline()[1:])
            keys.append(f.read(n + 2)[:-2].decode())
        return keys


def wait_exit(proc, seconds):
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


tmp = tempfile.mkdtemp(prefix="optout-lifecycle-")
procs = []
try:
    sock = os.path.join(tmp, "redis.sock")
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                              "--save", "", "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    procs.append(redis)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    check(os.path.exists(sock), "redis-server listens on %s" % sock)
    env = dict(os.environ, OPTOUT_LOG_LEVEL="info")

    def start(argv, log, extra_env=None):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, log), "w"),
                             env=dict(env, **(extra_env or {})))
        procs.append(p)
        return p

    def log_of(name):
        return open(os.path.join(tmp, name), errors="replace").read()

    def worker(run_dir, name, *extra, extra_env=None):
        return start([WORKER, "--connect", "ipc://%s/broker.sock" % run_dir, "--root", "fs=/", "--name", name]
                     + list(extra), name + ".log", extra_env)

    # 1. a run by hand: A leaves when told, B waits for the next run. A spends 3 s on each task (a
    # test-only delay), so that the run cannot be over before B, started at the same time, has joined
    # it, however loaded the machine.
    run1 = os.path.join(tmp, "run1")
    a = worker(run1, "a", "--exit-when-done", extra_env={"OPTOUT_FAULT_TASK_DELAY_MS": "3000"})
    b = worker(run1, "b")
    broker = start([BROKER, "--dir", run1, "--corpus", CORPUS, "--robots-dir", ROBOTS, "--redis", "unix:" + sock],
                   "broker1.log")
    rc = wait_exit(broker, 120)
    broker_done = time.monotonic()
    check(rc == 0, "the broker completes the run (exit %s)" % rc)
    check(os.path.exists(os.path.join(run1, "report.json")), "report.json written")
    rc_a = wait_exit(a, 5)
    check(rc_a == 0, "worker A (--exit-when-done) exits 0 within 5 s of the broker's exit (%s after %.1f s)"
          % (rc_a, time.monotonic() - broker_done))
    log_a = log_of("a.log")
    check("run is complete" in log_a, "worker A's log says why it leaves")
    time.sleep(max(0.0, broker_done + 8 - time.monotonic()))  # past the 5 s liveness window and a reconnect
    check(b.poll() is None, "worker B (no --exit-when-done) still runs 8 s after the broker's exit")
    log_b = log_of("b.log")
    waits = log_b.count("waiting for the next run")
    check(waits == 1, "worker B logs the wait for the next run once (%d times)" % waits)
    check("broker silent" not in log_b, "worker B logs no 'broker silent ... reconnecting' after the run")
    check(re.search(r"BYE: \d+ tasks done, 0 failed", log_a), "worker A says BYE after DONE")

    # 2. the run's keys are gone
    left = redis_keys(sock, "optout:*")
    check(left == [], "Redis holds no key of the run afterwards (%d left: %s)" % (len(left), left[:3]))
    log1 = log_of("broker1.log")
    m = re.search(r"deleted (\d+) keys under (optout:\S+)", log1)
    check(m and int(m.group(1)) > 3, "the broker logs the deletion (%s)" % (m.group(0) if m else "no line"))

    # 3. --keep-redis-keys, and a worker that joins after the run is complete
    run2 = os.path.join(tmp, "run2")
    c = worker(run2, "c", "--exit-when-done")
    broker2 = start([BROKER, "--dir", run2, "--corpus", CORPUS, "--robots-dir", ROBOTS, "--redis", "unix:" + sock,
                     "--keep-redis-keys", "--metrics-listen", "127.0.0.1:%d" % free_port(), "--metrics-linger", "6"],
                    "broker2.log")
    for _ in range(1200):
        if "run complete" in log_of("broker2.log") or broker2.poll() is not None:
            break
        time.sleep(0.1)
    check("run complete" in log_of("broker2.log"), "the second run completes")
    check(wait_exit(c, 5) == 0, "worker C (--exit-when-done) exits 0")
    late = worker(run2, "late", "--exit-when-done")
    rc_late = wait_exit(late, 4)
    check(broker2.poll() is None, "the broker still lingers (--metrics-linger) when the late worker is done")
    check(rc_late == 0, "a worker joining after the run's completion is told at once and exits 0 (%s)" % rc_late)
    log_late = log_of("late.log")
    check("run is complete" in log_late and "BYE: 0 tasks done, 0 failed" in log_late,
          "the late worker runs no task and says why it leaves")
    check(wait_exit(broker2, 30) == 0, "the second broker exits 0")
    kept = redis_keys(sock, "optout:*")
    check(len(kept) > 3, "with --keep-redis-keys the run's keys stay (%d)" % len(kept))
    check("--keep-redis-keys" in log_of("broker2.log"), "the broker says it keeps them")
finally:
    for p in reversed(procs):
        stop(p)
    shutil.rmtree(tmp, ignore_errors=True)
finish("fleet_lifecycle")
