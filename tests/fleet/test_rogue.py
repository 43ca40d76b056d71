#!/usr/bin/python3
"""A rogue client against optout-broker: an admitted worker that is buggy (or hostile) must never
stop the broker, publish what its task did not produce, or forge its log.

usage: test_rogue.py BIN_DIR REPO_ROOT

The client speaks the fleet protocol itself (include/optout/msg.h, docs/fleet-protocol.md: one
msgpack map per ZeroMQ frame) over the run directory's ipc socket, and stages files by hand in the
attempt's staging directory. Each RESULT case below is one entry of CASES, in the style of libcurl's
test data: what the client stages and sends, and what must follow:
  "refused"   a failed attempt: nothing published, the log says why and names the worker, the
              broker goes on (the task is leased again);
  "accepted"  published: exactly the staged files appear under the run directory.
Then, each its own broker:
  restart     an `accepted` journaled (broker killed by --crash-after-accept) whose staged file is
              gone, or whose statistics cannot be merged: the restarted broker reports it and runs
              the task again (never exits 1);
  big frame   a 200 MiB frame: refused at the transport (the broker's peak memory does not grow by
              it) and the broker still answers; and the same from a rogue broker to a worker (the
              worker's socket has the limit too: its peak memory stays, it goes on);
  log forgery a worker name with a newline and terminal escapes, and a flood of malformed frames
              from a peer whose identity holds a newline: escaped, and the flood rate-limited;
  rerun       a task failed permanently is leased again by the next invocation on the directory,
              and the report says what failed before;
  fast fails  a worker failing every task at once is benched (no more tasks, logged once) before
              it burns the tasks' retries; an honest worker then completes the run.
"""
import hashlib, json, os, re, shutil, signal, struct, subprocess, sys, tempfile, time, zlib

import msgpack
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, failures, finish  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
BROKER = os.path.join(BIN, "optout-broker")
WORKER = os.path.join(BIN, "optout-worker")
OPTOUT = os.path.join(BIN, "optout")
ROBOTS = os.path.join(ROOT, "data", "sample", "robots")


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Broker:
    """An optout-broker on DIR over the corpus CORPUS, its log in DIR.log."""

    def __init__(self, run_dir, corpus, *extra):
        self.dir = run_dir
        self.log_path = run_dir + ".log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BROKER, "--dir", run_dir, "--corpus", corpus, "--robots-dir", ROBOTS] +
                                     list(extra), stderr=self.log)
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(run_dir, "broker.sock")) and time.time() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)

    def text(self):
        self.log.flush()
        return open(self.log_path, "rb").read().decode("utf-8", "replace")

    def raw(self):
        self.log.flush()
        return open(self.log_path, "rb").read()

    def wait_log(self, pattern, timeout=10, start=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.text()[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                return re.search(pattern, self.text()[start:])
            time.sleep(0.05)
        return None

    def alive(self):
        return self.proc.poll() is None

    def exited(self, timeout=20):
        """Waits for the broker to exit by itself (its returncode is then set), at most timeout s."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class Client:
    """A DEALER speaking the fleet protocol; identity and worker name are the caller's."""

    def __init__(self, ctx, run_dir, name="rogue", identity=None, credit=1):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, identity)
        self.sock.connect("ipc://" + os.path.join(run_dir, "broker.sock"))
        self.epoch = 0
        self.name = name
        self.send({"t": "ready", "w": name, "c": credit})

    def send(self, m):
        m = dict(m)
        m.setdefault("v", 1)
        m.setdefault("e", self.epoch)
        self.sock.send(msgpack.packb(m, use_bin_type=True))

    def recv(self, timeout_ms=5000):
        if not self.sock.poll(timeout_ms):
            return None
        m = msgpack.unpackb(self.sock.recv(), raw=False)
        if m.get("e", 0) > self.epoch:
            self.epoch = m["e"]
        return m

    def task(self, timeout_ms=8000):
        """The next TASK (heartbeats and acks skipped; heartbeats answered), or None."""
        deadline = time.time() + timeout_ms / 1000
        while time.time() < deadline:
            m = self.recv(int(max(1, (deadline - time.time()) * 1000)))
            if m is None:
                return None
            if m["t"] == "task":
                return m
            if m["t"] == "hb":
                self.send({"t": "hb"})
        return None

    def result(self, task, files, stats=b"\x80", ok=True, err=None, credit=True):
        m = {"t": "result", "e": task["e"], "id": task["id"], "a": task["a"], "ok": ok, "f": files, "s": stats}
        if err is not None:
            m["err"] = err
        self.send(m)
        if credit:
            self.send({"t": "credit", "c": 1})

    def close(self):
        self.sock.close()


def staging(task):
    root, rel = task["st"]
    assert root == "fs"
    return "/" + rel


def stage(task, name, data):
    path = os.path.join(staging(task), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return [name, len(data), sha(data)]


def outputs_of(task):
    o = task["o"]
    return ["shards/" + o] + (["removed/" + o] if task["rm"] else [])


# ---- the RESULT cases ---------------------------------------------------------------------------
# Each stages files for a task and returns the RESULT's file list (and, optionally, statistics);
# `outside` is a directory outside the run directory that must never be touched.

def honest(task, outside):
    return [stage(task, n, b"honest output of %d\n" % task["id"]) for n in outputs_of(task)]


def missing_file(task, outside):
    files = honest(task, outside)
    os.unlink(os.path.join(staging(task), files[0][0]))
    return files


def bad_stats(task, outside):
    return honest(task, outside), msgpack.packb({"no_such_statistic": 1})


def empty_list(task, outside):
    honest(task, outside)
    return []


def other_tasks_name(task, outside):
    files = honest(task, outside)
    return [stage(task, "shards/someone-else.jsonl.zst", b"not mine\n")] + files[1:]


def wrong_size(task, outside):
    files = honest(task, outside)
    files[0][1] += 1
    return files


def staged_symlink(task, outside):
    files = honest(task, outside)
    path = os.path.join(staging(task), files[0][0])
    os.unlink(path)
    os.symlink(os.path.join(outside, "secret"), path)
    files[0][1] = os.path.getsize(os.path.join(outside, "secret"))
    return files


def staged_dir_symlink(task, outside):
    files = honest(task, outside)
    shards = os.path.join(staging(task), "shards")
    shutil.rmtree(shards)
    os.makedirs(os.path.join(outside, "linked"), exist_ok=True)
    target = os.path.join(outside, "linked", task["o"])
    with open(target, "wb") as f:
        f.write(b"a file from outside the run directory\n")
    os.symlink(os.path.join(outside, "linked"), shards)
    files[0][1] = os.path.getsize(target)
    return files


def extra_path(task, outside):
    return honest(task, outside) + [stage(task, "removed/extra.jsonl.zst", b"extra\n")]


def duplicate_entry(task, outside):
    files = honest(task, outside)
    return files + [files[0]]


def staged_fifo(task, outside):
    files = honest(task, outside)
    path = os.path.join(staging(task), files[0][0])
    os.unlink(path)
    os.mkfifo(path)
    files[0][1] = 0
    return files


CASES = [
    # (name, stage and describe, expected)
    ("a staged file that does not exist", missing_file, "refused"),
    ("statistics the broker cannot merge", bad_stats, "refused"),
    ("an empty file list", empty_list, "refused"),
    ("another task's output name", other_tasks_name, "refused"),
    ("a size that does not match", wrong_size, "refused"),
    ("a staged symbolic link", staged_symlink, "refused"),
    ("a staged directory that is a symbolic link", staged_dir_symlink, "refused"),
    ("an unexpected extra path", extra_path, "refused"),
    ("a file listed twice", duplicate_entry, "refused"),
    ("a FIFO instead of a file", staged_fifo, "refused"),
    ("an honest result", honest, "accepted"),
    ("an honest result sent twice", honest, "accepted twice"),
]


def finish_honestly(broker, run_dir, outside):
    """An honest client takes every remaining task until the broker exits or leases nothing more."""
    c = Client(ctx, run_dir, name="honest")
    while broker.alive():
        t = c.task(3000)
        if t is None:
            break
        c.result(t, honest(t, outside))
    c.close()


def rewrite_stats(journal, stats):
    """Replaces the statistics of the journal's `accepted` records (framing: u32 length, u32 CRC-32,
    msgpack payload; include/optout/journal.h), as an older build or a disk error could leave them.
    True when one was rewritten."""
    data, out, off, done = open(journal, "rb").read(), b"", 0, False
    while off + 8 <= len(data):
        n, crc = struct.unpack_from("<II", data, off)
        payload = data[off + 8:off + 8 + n]
        off += 8 + n
        rec = msgpack.unpackb(payload, raw=False)
        if rec.get("r") == "accepted":
            rec["s"] = stats
            payload = msgpack.packb(rec, use_bin_type=True)
            done = True
        out += struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
    open(journal, "wb").write(out)
    return done


def make_corpus(path, n):
    os.makedirs(path)
    for i in range(n):
        with open(os.path.join(path, "part-%02d.jsonl" % i), "w") as f:
            f.write('{"url": "https://example.com/%d", "text": "x"}\n' % i)
    return os.path.join(path, "*.jsonl")


def vm_hwm_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def status(ctx, run_dir):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect("ipc://" + os.path.join(run_dir, "broker.sock"))
    s.send(msgpack.packb({"v": 1, "t": "status?", "e": 0}, use_bin_type=True))
    got = s.poll(5000)
    m = msgpack.unpackb(s.recv(), raw=False) if got else None
    s.close()
    return json.loads(m["x"]) if m and m.get("t") == "status" else None


tmp = tempfile.mkdtemp(prefix="optout-rogue-")
ctx = zmq.Context()
brokers = []
try:
    outside = os.path.join(tmp, "outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "secret"), "wb") as f:
        f.write(b"a file outside the run directory\n")
    corpus = make_corpus(os.path.join(tmp, "in"), len(CASES))

    # ---- RESULT cases, one broker ------------------------------------------------------------------
    d1 = os.path.join(tmp, "run1")
    b = Broker(d1, corpus, "--removed", "--retries", "50")
    brokers.append(b)
    check(b.alive(), "the broker starts")
    # one client per case, each taking one task: a worker failing several tasks at once would be
    # benched (the last part of this test), which is not what these cases are about
    for name, fn, expected in CASES:
        c = Client(ctx, d1, name="rogue-1")
        t = c.task()
        if t is None:
            check(False, "%s: a TASK arrives" % name)
            break
        mark = len(b.text())
        got = fn(t, outside)
        files, stats = (got if isinstance(got, tuple) else (got, b"\x80"))
        c.result(t, files, stats, credit=False)
        if expected == "accepted twice":  # a duplicate must not undo the first (e.g. delete its files)
            c.result(t, files, stats, credit=False)
        if expected == "refused":
            m = b.wait_log(r"task=%d [^\n]*worker=rogue-1[^\n]*attempt \d+ failed" % t["id"], start=mark)
            check(m is not None and b.alive(), "%s: refused as a failed attempt, logged with the worker's name" % name)
            published = [n for n in outputs_of(t) if os.path.lexists(os.path.join(d1, n))]
            check(not published, "%s: nothing published (%s)" % (name, published))
        else:
            m = b.wait_log(r"task=%d [^\n]*: published" % t["id"], start=mark)
            ok = m is not None and all(os.path.isfile(os.path.join(d1, n)) and not os.path.islink(os.path.join(d1, n))
                                       for n in outputs_of(t))
            check(ok, "%s: published as regular files" % name)
        check(b.alive(), "%s: the broker goes on" % name)
        c.close()
    check(open(os.path.join(outside, "secret"), "rb").read() == b"a file outside the run directory\n",
          "the file outside the run directory is intact")
    check(not os.path.lexists(os.path.join(d1, "shards", "someone-else.jsonl.zst")),
          "another task's output name was never published")
    check(not any(os.path.islink(os.path.join(dp, f)) for dp, dn, fn in os.walk(d1) for f in fn + dn),
          "no symbolic link anywhere in the run directory")
    # another worker's attempt: neither its RESULT nor its HANDBACK is taken from a third party
    owner = Client(ctx, d1, name="owner")
    t = owner.task()
    intruder = Client(ctx, d1, name="intruder")
    time.sleep(0.3)
    mark = len(b.text())
    files = honest(t, outside)
    intruder.result(t, files, credit=False)
    intruder.send({"t": "handback", "e": t["e"], "id": t["id"], "a": t["a"]})
    time.sleep(0.5)
    check(not re.search(r"task=%d [^\n]*(published|handed back)" % t["id"], b.text()[mark:]) and
          not os.path.exists(os.path.join(d1, "shards", t["o"])),
          "a RESULT or HANDBACK of another worker's attempt is not taken")
    check(all(os.path.exists(os.path.join(staging(t), n)) for n in outputs_of(t)),
          "nor does it delete what the attempt's own worker staged")
    owner.result(t, files, credit=False)
    check(b.wait_log(r"task=%d [^\n]*: published" % t["id"], start=mark) is not None,
          "the attempt's own worker then publishes it")
    owner.close()
    intruder.close()
    # finish the run honestly: the broker completes and exits 0
    finish_honestly(b, d1, outside)
    rc = b.stop()
    check(rc == 0 and os.path.exists(os.path.join(d1, "report.json")),
          "the run completes after every rogue result (exit %s)" % rc)
    expected_shards = sorted("part-%02d.jsonl.zst" % i for i in range(len(CASES)))
    check(sorted(os.listdir(os.path.join(d1, "shards"))) == expected_shards,
          "shards/ holds exactly the tasks' outputs (%s)" % sorted(os.listdir(os.path.join(d1, "shards"))))

    # ---- restart: a journaled result that cannot be applied ----------------------------------------
    d2 = os.path.join(tmp, "run2")
    one = make_corpus(os.path.join(tmp, "in2"), 1)
    b = Broker(d2, one, "--crash-after-accept")
    brokers.append(b)
    c = Client(ctx, d2, name="rogue-2")
    t = c.task()
    files = honest(t, outside)
    c.result(t, files)
    b.exited()
    check(b.proc.returncode == 99, "fault injection: the broker died after journaling accepted (%s)" % b.proc.returncode)
    shutil.rmtree(staging(t))  # the accepted files vanish before publication
    c.close()
    b = Broker(d2, one)
    brokers.append(b)
    time.sleep(1)
    check(b.alive(), "a restart with an accepted result that cannot be applied keeps serving")
    m = b.wait_log(r"task=%d[^\n]*(cannot be applied|cannot be published)" % t["id"])
    check(m is not None, "the restart reports the result it cannot apply")
    c = Client(ctx, d2, name="rogue-2b")
    t2 = c.task()
    check(t2 is not None and t2["id"] == t["id"], "the task is leased again after the restart")
    if t2:
        c.result(t2, honest(t2, outside))
    c.close()
    b.exited()
    check(b.proc.returncode == 0, "the run then completes (exit %s)" % b.proc.returncode)

    # ---- restart: a journaled result whose statistics cannot be merged ------------------------------
    d2s = os.path.join(tmp, "run2s")
    b = Broker(d2s, one, "--crash-after-accept")
    brokers.append(b)
    c = Client(ctx, d2s, name="rogue-2s")
    t = c.task()
    c.result(t, honest(t, outside))
    b.exited()
    c.close()
    check(b.proc.returncode == 99 and rewrite_stats(os.path.join(d2s, "journal"), msgpack.packb({"zz": 1})),
          "fault injection: an accepted record whose statistics cannot be merged is in the journal")
    b = Broker(d2s, one)
    brokers.append(b)
    m = b.wait_log(r"task=%d[^\n]*cannot be applied" % t["id"])
    check(m is not None and b.alive(), "a restart reports the journaled statistics it cannot merge and keeps serving")
    finish_honestly(b, d2s, outside)
    b.exited()
    check(b.proc.returncode == 0, "the task runs again and the run completes (exit %s)" % b.proc.returncode)

    # ---- a frame over the limit --------------------------------------------------------------------
    d3 = os.path.join(tmp, "run3")
    b = Broker(d3, corpus)
    brokers.append(b)
    time.sleep(0.3)
    before = vm_hwm_kb(b.proc.pid)
    big = ctx.socket(zmq.DEALER)
    big.setsockopt(zmq.LINGER, 0)
    big.setsockopt(zmq.SNDHWM, 1)
    big.connect("ipc://" + os.path.join(d3, "broker.sock"))
    big.send(b"\x00" * (200 << 20))
    time.sleep(3)
    big.close()
    after = vm_hwm_kb(b.proc.pid)
    check(b.alive() and status(ctx, d3) is not None, "after a 200 MiB frame the broker still answers")
    check(after - before < 64 << 10, "a 200 MiB frame is refused at the transport (peak memory %d -> %d KiB)"
          % (before, after))
    b.stop()

    # ---- a frame over the limit, from a rogue broker to a worker ---------------------------------------
    d3w = os.path.join(tmp, "run3w")
    os.makedirs(d3w)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDHWM, 1)
    router.bind("ipc://" + os.path.join(d3w, "broker.sock"))
    wlog = open(d3w + ".worker.log", "wb")
    worker = subprocess.Popen([WORKER, "--connect", "ipc://" + os.path.join(d3w, "broker.sock"), "--name", "victim"],
                              stderr=wlog)
    ready = router.poll(10000)
    ident = router.recv_multipart()[0] if ready else None
    check(ident is not None, "the worker says READY to the rogue broker")
    if ident is not None:
        time.sleep(0.3)
        before = vm_hwm_kb(worker.pid)
        router.send_multipart([ident, b"\x00" * (200 << 20)])
        time.sleep(3)
        after = vm_hwm_kb(worker.pid)
        check(worker.poll() is None, "after a 200 MiB frame from its broker the worker goes on")
        check(after - before < 64 << 10, "a 200 MiB frame is refused at the worker's transport (peak memory %d -> %d "
              "KiB)" % (before, after))
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    router.close()

    # ---- a frame over the limit, from a rogue broker to optout status ---------------------------------
    # Refused at the transport, the frame never reaches optout status: its memory does not grow, and
    # it waits out its 2 s for an answer (taken whole, the frame is refused at once as no answer).
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDHWM, 1)
    router.bind("ipc://" + os.path.join(d3w, "status.sock"))
    started = time.time()
    asker = subprocess.Popen([OPTOUT, "status", "--broker", "ipc://" + os.path.join(d3w, "status.sock")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ident = router.recv_multipart()[0] if router.poll(10000) else None
    check(ident is not None, "optout status asks the rogue broker")
    peak = 0
    if ident is not None:
        router.send_multipart([ident, b"\x00" * (200 << 20)])
        while asker.poll() is None:
            try:
                peak = max(peak, vm_hwm_kb(asker.pid))
            except OSError:
                break
            time.sleep(0.005)
    asker.wait(timeout=30)
    waited = time.time() - started
    check(asker.returncode == 1 and peak < 64 << 10 and waited >= 1.9,
          "a 200 MiB status answer is refused at optout status's transport (exit %d, peak memory %d KiB, "
          "%.1f s)" % (asker.returncode, peak, waited))
    router.close()

    # ---- workers that come and go: the broker's worker table stays the size of the fleet -------------
    d3b = os.path.join(tmp, "run3b")
    b = Broker(d3b, corpus)
    brokers.append(b)
    for i in range(60):
        c = Client(ctx, d3b, name="passing-%d" % i, identity=b"passing-%d" % i, credit=0)
        time.sleep(0.01)
        c.send({"t": "bye"})
        time.sleep(0.01)
        c.sock.close()
        # one after another: the next joins once the broker has seen this one leave (a slow broker,
        # e.g. under the sanitizers on a loaded machine, would otherwise see several at once)
        deadline = time.time() + 10
        while time.time() < deadline:
            st = status(ctx, d3b)
            if st is not None and st.get("workers") == 0:
                break
            time.sleep(0.02)
    time.sleep(0.3)
    st = status(ctx, d3b)
    check(st is not None and st.get("worker_entries", 99) <= 2,
          "60 workers that joined and left one after another reuse one entry of the worker table (%s)"
          % (st and st.get("worker_entries")))
    b.stop()

    # ---- log forgery and malformed floods ------------------------------------------------------------
    d4 = os.path.join(tmp, "run4")
    b = Broker(d4, corpus)
    brokers.append(b)
    evil = "evil\noptout-broker: FORGED LINE\x1b[2J\x1b]0;title\x07"
    c = Client(ctx, d4, name=evil)
    t = c.task()
    c.result(t, [], ok=False, err="failed\nFORGED ERROR LINE\x1b[31m")
    time.sleep(0.5)
    flood = ctx.socket(zmq.DEALER)
    flood.setsockopt(zmq.LINGER, 0)
    flood.setsockopt(zmq.IDENTITY, b"flood\npeer")
    flood.connect("ipc://" + os.path.join(d4, "broker.sock"))
    for i in range(500):
        flood.send(b"\xc1 not msgpack %d" % i)
        if i % 10 == 0:
            flood.send_multipart([b"two", b"frames"])
    time.sleep(1.5)
    flood.close()
    c.close()
    raw = b.raw()
    lines = raw.split(b"\n")
    check(b"\x1b" not in raw and b"\x07" not in raw, "no terminal escape sequence reaches the log")
    check(not any(l.startswith(b"optout-broker: FORGED") or l.startswith(b"FORGED") for l in lines),
          "a worker's name or error cannot start a log line of its own")
    check(any(b"worker=evil" in l for l in lines), "the worker's name is in the log, escaped")
    malformed = [l for l in lines if b"malformed" in l]
    check(0 < len(malformed) <= 20, "550 malformed messages are logged rate-limited (%d lines)" % len(malformed))
    check(any(b"flood" in l and b"peer" in l for l in malformed) and not any(l.startswith(b"peer") for l in lines),
          "malformed frames are logged with the peer's identity, escaped")
    check(b.alive(), "the broker goes on after the flood")
    b.stop()

    # ---- rerun: a failed task is retried by the next invocation -----------------------------------
    d5 = os.path.join(tmp, "run5")
    two = make_corpus(os.path.join(tmp, "in5"), 2)
    b = Broker(d5, two, "--retries", "1")
    brokers.append(b)
    c = Client(ctx, d5, name="rogue-5")
    first = c.task()
    c.result(first, [], ok=False, err="input missing (restored later)")
    second = c.task()
    if second:
        c.result(second, honest(second, outside))
    c.close()
    b.exited()
    check(b.proc.returncode == 1, "a run with a failed task exits 1 (%s)" % b.proc.returncode)
    b = Broker(d5, two, "--retries", "1")
    brokers.append(b)
    c = Client(ctx, d5, name="rogue-5b")
    st = status(ctx, d5)
    check(st is not None and st.get("failed_before") == 1, "status says one task failed before (%s)" % st)
    again = c.task()
    check(again is not None and again["id"] == first["id"], "the rerun leases the failed task again")
    if again:
        c.result(again, honest(again, outside))
    c.close()
    b.exited()
    check(b.proc.returncode == 0, "the rerun completes the run (exit %s)" % b.proc.returncode)
    report = json.load(open(os.path.join(d5, "report.json")))
    retried = report.get("retried_tasks", [])
    check(len(retried) == 1 and "restored later" in retried[0].get("error", "") and not report.get("failed_tasks"),
          "the report lists the task that failed before, and no failed task (%s)" % retried)

    # ---- a worker failing everything at once ----------------------------------------------------------
    d6 = os.path.join(tmp, "run6")
    b = Broker(d6, corpus, "--retries", "3")
    brokers.append(b)
    bad = Client(ctx, d6, name="misconfigured", credit=1)
    leased = 0
    while True:
        t = bad.task(2500)
        if t is None:
            break
        leased += 1
        bad.result(t, [], ok=False, err="unknown root 'fs' (give it with --root fs=PATH)")
        if leased > 3 * len(CASES):
            break
    text = b.text()
    check(leased < len(CASES), "a worker failing every task at once is benched after a few (%d tasks leased)" % leased)
    check(len(re.findall(r"worker=misconfigured[^\n]*bench", text)) == 1, "its bench is logged once")
    check("failed permanently" not in text, "no task burned its retries")
    finish_honestly(b, d6, outside)
    bad.close()
    b.exited()
    check(b.proc.returncode == 0, "an honest worker completes the run (exit %s)" % b.proc.returncode)
finally:
    for b in brokers:
        if b.alive():
            b.proc.kill()
            b.proc.wait()
    ctx.destroy(linger=0)
    if failures:
        print("logs kept in", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)

finish("rogue")
