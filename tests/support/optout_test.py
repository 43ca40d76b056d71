"""optout_test — what the Python tests share: checks, shard readers, processes.

A test script imports it after putting tests/support on its path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    from optout_test import check, failures, finish  # noqa: E402

Conventions (every script under tests/ follows them):
- check(cond, what) records one check and prints "ok: WHAT" or "FAIL: WHAT"; `failures` lists the
  failed ones; finish(name) prints the summary and exits 1 when any check failed.
- Exit codes: 0 all checks passed, 1 a check failed, 77 skipped (data or a tool missing: say which).
Runs under Debian's /usr/bin/python3 (python3-zmq, python3-msgpack); zstd data goes through the
zstd command (Debian's Python has no zstd module).
"""
import gzip
import os
import shutil
import socket
import subprocess
import sys

failures = []
_quiet = False

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"


def quiet(on=True):
    """Print only failed checks (for scripts that check thousands of hosts one by one)."""
    global _quiet
    _quiet = on


def check(cond, what):
    """Records one check; returns its truth so that callers can go on only when it held."""
    ok = bool(cond)
    if not ok:
        failures.append(what)
    if not ok or not _quiet:
        print(("ok: " if ok else "FAIL: ") + what, flush=True)
    return ok


def finish(name):
    """Prints the summary line and exits: 0 when every check passed, 1 otherwise."""
    if failures:
        print("%s: %d check(s) failed:" % (name, len(failures)), flush=True)
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("%s: all checks passed" % name, flush=True)
    sys.exit(0)


def remove_workdir(path):
    """Deletes a test's work directory, or keeps it (saying where) when OPTOUT_CHECK_KEEP is set."""
    if os.environ.get("OPTOUT_CHECK_KEEP"):
        print("kept " + path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def skip(why):
    """Exits 77 (ctest's SKIP_RETURN_CODE for these tests), saying why."""
    print("skipped: " + why, flush=True)
    sys.exit(77)


# ---- what a test needs -------------------------------------------------------------------------

def shared_dir(root, index):
    """The shared data folder (conformance suites, real robots.txt): the script's argument at
    sys.argv[index] (tests/CMakeLists.txt passes OPTOUT_SHARED_DIR there), else the environment's
    OPTOUT_SHARED_DIR, else the folder beside the checkout root (a script run by hand)."""
    if len(sys.argv) > index and sys.argv[index]:
        return sys.argv[index]
    return os.environ.get("OPTOUT_SHARED_DIR") or os.path.join(root, "..", "shared")


def real_bodies(shared, required=True):
    """SHARED/data/robots-top10k, the real robots.txt bodies. Without it: skips (77) when required,
    else None (the scenarios that need it are left out)."""
    path = os.path.join(shared, "data", "robots-top10k")
    if os.path.isdir(path):
        return path
    if required:
        skip("no %s (the real robots.txt bodies)" % path)
    return None


def skip_or_fail(name, why):
    """A missing prerequisite of test `name`: skips (77) saying why, except under CI (the
    environment variable CI set), where deploy/deps.sh installs every tool and package and its
    absence is a failure of the test."""
    if os.environ.get("CI"):
        check(False, why)
        finish(name)
    skip(why)


def require_tool(name, purpose):
    """The path of the command `name`; skips (77) without it, saying what it is needed for."""
    path = shutil.which(name)
    if not path:
        skip("no %s command %s" % (name, purpose))
    return path


# ---- history archives (docs/history.md "Archive") ----------------------------------------------

def history_archive(d):
    """DIR/history as (index rows without the body's offset, every body by SHA-256), each body checked
    against its SHA-256 (a check): two builds are the same archive when these are equal, wherever
    their bodies sit in bodies.zst."""
    import hashlib
    h = os.path.join(d, "history")
    rows, bodies, bad = [], {}, []
    data = open(os.path.join(h, "bodies.zst"), "rb").read()
    for line in open(os.path.join(h, "index.tsv"), encoding="utf-8"):
        if line.startswith("#"):
            continue
        col = line.rstrip("\n").split("\t")
        rows.append(tuple(col[:14] + col[15:]))
        if col[11] != "-" and col[11] not in bodies:
            off, ln = int(col[14]), int(col[15])
            body = decompress(data[off:off + ln], "frame of %s" % col[11])
            if hashlib.sha256(body).hexdigest() != col[11]:
                bad.append(col[11][:12])
            bodies[col[11]] = body
    check(not bad, "%s: every body matches its SHA-256 (%d bodies; wrong: %s)" % (d, len(bodies), bad[:5]))
    return rows, bodies


def history_sources(d):
    """DIR/history/sources.tsv as lists of columns (its header included)."""
    return [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "history", "sources.tsv"), encoding="utf-8")]


def kill_broker_after(optout, args, pattern, count, delay_ms):
    """Runs `optout run ARGS` with every task delayed by delay_ms, SIGKILLs its broker once `count`
    files match the glob pattern (published outputs: the kill lands mid-stage), and waits for the
    run to end. The broker pids killed (one when it went as planned)."""
    import glob, signal, time
    env = dict(os.environ, OPTOUT_FAULT_TASK_DELAY_MS=str(delay_ms))
    p = subprocess.Popen([optout, "run"] + list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(pattern)) < count:
        time.sleep(0.02)
    broker = subprocess.run(["pgrep", "-P", str(p.pid), "-f", "optout-broker"], capture_output=True,
                            text=True).stdout.split()
    for pid in broker:
        os.kill(int(pid), signal.SIGKILL)
    p.wait(timeout=60)
    return broker


# ---- shards -------------------------------------------------------------------------------------

def decompress(data, what="data"):
    """Bytes of a zstd, gzip or plain JSON Lines shard, told apart by their magic, not by a name."""
    if data[:4] == ZSTD_MAGIC:
        p = subprocess.run(["zstd", "-q", "-d", "-c"], input=data, capture_output=True)
        if p.returncode != 0:
            raise ValueError("zstd -d %s: %s" % (what, p.stderr.decode(errors="replace").strip()))
        return p.stdout
    if data[:2] == GZIP_MAGIC:
        return gzip.decompress(data)
    return data


def zcat(path):
    """The decompressed content of the file at path (zstd, gzip or plain)."""
    with open(path, "rb") as f:
        return decompress(f.read(), path)


def split_lines(data):
    """Lines of a JSON Lines text, without their '\\n'; a final newline makes no empty last line."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def lines_of(path):
    """The lines of the shard at path (split_lines of zcat)."""
    return split_lines(zcat(path))


def tree_outputs(run_dir, subdirs=("shards", "removed")):
    """{path relative to run_dir: decompressed bytes} of every file under the given subdirectories."""
    out = {}
    for sub in subdirs:
        top = os.path.join(run_dir, sub)
        for dirpath, _, names in os.walk(top):
            for n in names:
                p = os.path.join(dirpath, n)
                out[os.path.relpath(p, run_dir)] = zcat(p)
    return out


# ---- processes ----------------------------------------------------------------------------------

def run(cmd, timeout=300, **kw):
    """Runs cmd (a list) to completion: a CompletedProcess with text stdout and stderr."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def runner(*prefix, timeout=300):
    """A function of an argument list that run()s prefix + that list: runner(optout, "run")."""
    def run_with(args, timeout=timeout, **kw):
        return run(list(prefix) + list(args), timeout=timeout, **kw)
    return run_with


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, timeout=10):
    """Terminates a Popen (SIGTERM, then SIGKILL after timeout seconds) and reaps it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def robots_server(root, bodies, *args):
    """Starts tools/robots-server on a free port serving the robots.txt files of directory `bodies`
    (extra arguments after them, e.g. "--log", path); returns (process, port as a string). Stop it
    with stop(process)."""
    server = subprocess.Popen([os.path.join(root, "tools", "robots-server"), "--port", "0", "--bodies", bodies]
                              + list(args), stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if ":" not in line:
        stop(server)
        raise RuntimeError("robots-server did not start: %r" % line)
    return server, line.rsplit(":", 1)[1]

