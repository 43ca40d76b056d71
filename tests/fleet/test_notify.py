#!/usr/bin/python3
"""The daemons speak to systemd as the units will run them: with NOTIFY_SOCKET pointing at a test
socket, optout-broker and optout-worker send READY=1, STATUS= lines and WATCHDOG=1 pings, and
STOPPING=1 when they stop.
usage: test_notify.py BIN_DIR REPO_ROOT"""
import os, shutil, socket, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
tmp = tempfile.mkdtemp(prefix="optout-notify-")


def listen(name):
    path = os.path.join(tmp, name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.1)
    return s, path


def drain(s, into):
    while True:
        try:
            into.append(s.recv(4096).decode())
        except socket.timeout:
            return


bsock, bpath = listen("broker.notify")
wsock, wpath = listen("worker.notify")
run = os.path.join(tmp, "run")
env = dict(os.environ, OPTOUT_LOG_LEVEL="warning")
# a worker that connects first, then a broker with a slow enough run to see watchdog pings
worker = subprocess.Popen([os.path.join(bin_dir, "optout-worker"), "--connect", "ipc://%s/broker.sock" % run,
                           "--root", "fs=/"], env=dict(env, NOTIFY_SOCKET=wpath, WATCHDOG_USEC="2000000"))
broker = subprocess.Popen([os.path.join(bin_dir, "optout-broker"), "--dir", run, "--corpus",
                           os.path.join(sample, "corpus.jsonl.zst"), "--robots-dir", os.path.join(sample, "robots")],
                          env=dict(env, NOTIFY_SOCKET=bpath, WATCHDOG_USEC="2000000"))
bmsgs, wmsgs = [], []
deadline = time.time() + 30
while broker.poll() is None and time.time() < deadline:
    drain(bsock, bmsgs)
    drain(wsock, wmsgs)
time.sleep(1.5)  # worker heartbeat/watchdog ticks after the run
drain(wsock, wmsgs)
worker.terminate()
worker.wait(timeout=30)
drain(bsock, bmsgs)
drain(wsock, wmsgs)
for who, msgs in (("broker", bmsgs), ("worker", wmsgs)):
    text = "\n".join(msgs)
    for want in ("READY=1", "STATUS=", "WATCHDOG=1", "STOPPING=1"):
        check(want in text, "%s sends %s" % (who, want))
check(broker.returncode == 0 and worker.returncode == 0,
      "both exit 0 (broker %s, worker %s)" % (broker.returncode, worker.returncode))
shutil.rmtree(tmp, ignore_errors=True)
finish("notify")
