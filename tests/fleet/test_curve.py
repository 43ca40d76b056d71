#!/usr/bin/python3
"""CURVE: a broker started with --curve-secret-file/--curve-allow admits only the allow-list's keys,
on tcp:// and on its ipc:// socket; `optout keygen` writes usable key pairs.

usage: test_curve.py BIN_DIR REPO_ROOT PATH/TO/curve_probe

1. keygen: PREFIX.key (0600) and PREFIX.pub (0644), one line of 40 Z85 characters each, the public
   key printed; an existing pair is never overwritten (exit 1); the broker derives the same public key.
2. bad options: --curve-secret-file without --curve-allow (exit 2), a world-readable secret (exit 1),
   a file that is not a key (exit 1).
3. A CURVE broker on the bundled sample (tcp://127.0.0.1:PORT and ipc), allow-list = worker A's key:
   worker B (unknown key), worker C (plain text, tcp and ipc) and worker E (A's key but another
   server key) run for a while: no task is leased (status: 0 workers, nothing done), the broker's log
   names each refusal. Hand-made clients (curve_probe) with an unknown key or in plain text send
   READY, STATUS_REQUEST and a forged RESULT: their handshake fails and nothing comes back; the same
   probe with an allowed key gets its STATUS (control). `optout status` needs the keys.
4. A key added to the allow-list directory is admitted without a restart.
5. Worker A completes the run alone (the broker's log has only A joining); the report equals the
   sample's expected summary.
"""
import json, os, re, shutil, stat, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, failures, finish, free_port  # noqa: E402

BIN, ROOT, PROBE = sys.argv[1], sys.argv[2], sys.argv[3]
OPTOUT = os.path.join(BIN, "optout")
BROKER = os.path.join(BIN, "optout-broker")
WORKER = os.path.join(BIN, "optout-worker")
SAMPLE = os.path.join(ROOT, "data", "sample")
Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


tmp = tempfile.mkdtemp(prefix="optout-curve-")
procs = []
try:
    def keygen(name):
        r = subprocess.run([OPTOUT, "keygen", "--out", os.path.join(tmp, name)], capture_output=True, text=True)
        return r

    # 1. keygen
    r = keygen("broker")
    pub = r.stdout.strip()
    check(r.returncode == 0 and Z85.match(pub) and r.stdout == pub + "\n", "keygen prints one Z85 public key (%r)" % r.stdout)
    kst, pst = os.stat(os.path.join(tmp, "broker.key")), os.stat(os.path.join(tmp, "broker.pub"))
    check(stat.S_IMODE(kst.st_mode) == 0o600, "the secret key file has mode 0600 (%o)" % stat.S_IMODE(kst.st_mode))
    check(stat.S_IMODE(pst.st_mode) == 0o644, "the public key file has mode 0644 (%o)" % stat.S_IMODE(pst.st_mode))
    secret_text = open(os.path.join(tmp, "broker.key")).read()
    check(open(os.path.join(tmp, "broker.pub")).read() == pub + "\n", "PREFIX.pub holds the printed key and a newline")
    check(Z85.match(secret_text.rstrip("\n")) and secret_text.endswith("\n") and secret_text.strip() != pub,
          "PREFIX.key holds another Z85 key and a newline")
    r2 = keygen("broker")
    check(r2.returncode == 1 and "exists" in r2.stderr and open(os.path.join(tmp, "broker.pub")).read() == pub + "\n",
          "keygen never overwrites a key pair (%s)" % r2.stderr.strip())
    keys = {}
    for name in ("a", "b", "d"):
        r = keygen(name)
        check(r.returncode == 0, "keygen %s" % name)
        keys[name] = r.stdout.strip()
    check(len(set(keys.values()) | {pub}) == 4, "every key pair is new")
    broker_key = os.path.join(tmp, "broker.key")
    allow = os.path.join(tmp, "allow")
    os.makedirs(allow)
    with open(os.path.join(allow, "worker-a"), "w") as f:  # comments are allowed around the key
        f.write("# worker A, node1\n%s\n" % keys["a"])
    with open(os.path.join(allow, "junk"), "w") as f:
        f.write("not a key\n")

    corpus, robots = os.path.join(SAMPLE, "corpus.jsonl.zst"), os.path.join(SAMPLE, "robots")
    base = [BROKER, "--corpus", corpus, "--robots-dir", robots]

    # 2. bad options
    r = subprocess.run(base + ["--dir", os.path.join(tmp, "x1"), "--curve-secret-file", broker_key],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--curve-allow" in r.stderr, "--curve-secret-file without --curve-allow: exit 2")
    loose = os.path.join(tmp, "loose.key")
    shutil.copy(broker_key, loose)
    os.chmod(loose, 0o644)
    r = subprocess.run(base + ["--dir", os.path.join(tmp, "x2"), "--curve-secret-file", loose, "--curve-allow", allow],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "chmod 600" in r.stderr, "a world-readable secret key is refused (%s)" % r.stderr.strip())
    junk = os.path.join(tmp, "junk.key")
    shutil.copy(os.path.join(allow, "junk"), junk)
    os.chmod(junk, 0o600)
    r = subprocess.run(base + ["--dir", os.path.join(tmp, "x3"), "--curve-secret-file", junk, "--curve-allow", allow],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "Z85" in r.stderr, "a file that is not a key is refused (%s)" % r.stderr.strip())

    # 3. the CURVE broker and the clients it must refuse
    run_dir = os.path.join(tmp, "run")
    port = free_port()
    tcp = "tcp://127.0.0.1:%d" % port
    ipc = "ipc://" + os.path.join(run_dir, "broker.sock")
    broker_log = open(os.path.join(tmp, "broker.log"), "w+")
    bp = subprocess.Popen(base + ["--dir", run_dir, "--removed", "--bind", tcp, "--curve-secret-file", broker_key,
                                  "--curve-allow", allow], stderr=broker_log)
    procs.append(bp)
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(run_dir, "broker.sock")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)

    def worker(name, endpoint, *extra):
        log = open(os.path.join(tmp, name + ".log"), "w")
        p = subprocess.Popen([WORKER, "--connect", endpoint, "--root", "fs=/", "--name", name] + list(extra),
                             stderr=log)
        procs.append(p)
        return p

    client_b = ["--curve-secret-file", os.path.join(tmp, "b.key"), "--curve-server-key", os.path.join(tmp, "broker.pub")]
    client_a = ["--curve-secret-file", os.path.join(tmp, "a.key"), "--curve-server-key", pub]
    bad = [worker("worker-b", tcp, *client_b), worker("worker-c", tcp), worker("worker-c-ipc", ipc),
           worker("worker-e", tcp, "--curve-secret-file", os.path.join(tmp, "a.key"), "--curve-server-key",
                  os.path.join(tmp, "b.pub"))]

    def probe(endpoint, *args):
        r = subprocess.run([PROBE, endpoint] + list(args), capture_output=True, text=True, timeout=30)
        return r.stdout

    b_probe = ["--secret", os.path.join(tmp, "b.key"), "--server-key", pub]
    for what, endpoint, args in (("unknown key over tcp", tcp, b_probe), ("unknown key over ipc", ipc, b_probe),
                                 ("plain text over tcp", tcp, []), ("plain text over ipc", ipc, [])):
        out = probe(endpoint, "--ready", "--status", "--result", "0", "--wait", "2500", *args)
        # the forged RESULT is either queued before the refusal or refused at send once the broker has
        # dropped the connection (EAGAIN): which one is a race; what matters is that nothing comes back
        check(("sent result" in out or "send result failed" in out) and "handshake failed" in out
              and "received" not in out,
              "a client with %s sends READY, STATUS_REQUEST and a forged RESULT: handshake refused, nothing "
              "comes back (%s)" % (what, " / ".join(out.split("\n"))))
    out = probe(tcp, "--status", "--result", "0", "--wait", "1500", "--secret", os.path.join(tmp, "a.key"),
                "--server-key", pub)
    check("handshake ok" in out and "received status" in out and "received hb" in out,
          "control: the same probe with an allowed key gets STATUS (and a HEARTBEAT for its unregistered RESULT) "
          "(%s)" % " / ".join(out.split("\n")))

    r = subprocess.run([OPTOUT, "status", "--broker", tcp], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1, "optout status without keys gets no answer from a CURVE broker")
    r = subprocess.run([OPTOUT, "status", "--broker", tcp] + client_a, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "optout status with an allowed key pair answers (%s)" % r.stderr.strip())
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    check(st.get("workers") == 0 and st.get("tasks", {}).get("done") == 0 and st.get("tasks", {}).get("leased") == 0,
          "after ~4 s of refused workers and probes: no worker registered, no task leased or done (%s)" % r.stdout.strip())
    check(all(p.poll() is None for p in bad), "refused workers keep running (they retry with backoff)")
    for name in ("worker-b", "worker-c"):
        size = os.path.getsize(os.path.join(tmp, name + ".log"))
        check(size < 4096, "%s's log stays small while refused (%d bytes)" % (name, size))

    # 4. a key added to the allow-list is admitted without a restart
    client_d = ["--curve-secret-file", os.path.join(tmp, "d.key"), "--curve-server-key", pub]
    r = subprocess.run([OPTOUT, "status", "--broker", ipc] + client_d, capture_output=True, text=True, timeout=30)
    check(r.returncode == 1, "a key not in the allow-list: optout status gets no answer")
    shutil.copy(os.path.join(tmp, "d.pub"), os.path.join(allow, "status-d"))
    time.sleep(1.2)
    r = subprocess.run([OPTOUT, "status", "--broker", ipc] + client_d, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "the same key after adding it to the allow-list: answered without a restart")

    # 5. worker A runs everything
    wa = worker("worker-a", ipc, *client_a)
    try:
        bp.wait(timeout=60)
    except subprocess.TimeoutExpired:
        bp.kill()
    check(bp.returncode == 0, "the run completes with worker A (exit %s)" % bp.returncode)
    broker_log.seek(0)
    log = broker_log.read()
    joined = re.findall(r"worker[= ]\S*?(worker-[a-z-]+)\S* joined|worker (\S+) joined", log)
    names = sorted(set(a or b for a, b in joined))
    check(names == ["worker-a"], "only worker A joined (%s)" % names)
    check("public key is " + pub in log, "the broker derives the public key keygen printed")
    check(("refused CURVE key " + keys["b"]) in log, "the broker's log names worker B's refused key")
    check("refused a plain-text (not CURVE) client on " + tcp in log, "the broker's log says it refused a plain-text client on tcp")
    check("refused a client that does not have this broker's public key" in log,
          "the broker's log says it refused a client with another server key")
    check("skipping" in log and "junk" in log, "an allow-list file that is not a key is skipped with a warning")
    report = json.load(open(os.path.join(run_dir, "report.json")))
    want = json.load(open(os.path.join(SAMPLE, "expected-summary.json")))
    got = {k: report[k] for k in want if not isinstance(want[k], dict)}
    check(got == {k: want[k] for k in got} and report.get("complete") is True,
          "report.json equals the sample's expected summary")
    check(not os.path.exists(os.path.join(run_dir, "shards", "forged.jsonl.zst")), "no forged output was published")
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if failures:
        for name in sorted(os.listdir(tmp)):
            if name.endswith(".log"):
                print("---- %s ----\n%s" % (name, open(os.path.join(tmp, name)).read()[-3000:]))
    shutil.rmtree(tmp, ignore_errors=True)

finish("curve")
