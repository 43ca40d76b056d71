#!/usr/bin/python3
"""Downloads of capture files are bounded per node, not per worker: `optout run --cc-robots URL...`
with 3 workers and --download-slots 2 never has more than 2 transfers open at once on the local
HTTP server that serves the files (slowly, counting the transfers in progress), and the archive is
the one `optout history` builds from the same files. With --download-slots 3 the same server sees 3
at once: the count can tell the bound from its absence. Real broker and worker processes; the
captures are tools/gen-ccrobots' WARC files built from the real bodies of SHARED_DIR/data/robots-top10k
(skipped, 77, without them).
usage: test_download_slots.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import functools, glob, http.server, json, os, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, real_bodies, remove_workdir, runner, shared_dir  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
top10k = real_bodies(shared_dir(root, 3))
run = runner(optout, "run")


class Counting(http.server.SimpleHTTPRequestHandler):
    """Serves the directory; a WARC file is sent in slices 50 ms apart, so that transfers overlap,
    and counted while it is being sent (from the request to its last byte, no longer: the client
    may start the next transfer as soon as it has that byte)."""
    lock = threading.Lock()
    active = 0
    peak = 0
    served = 0

    def log_message(self, *a):
        pass

    def do_GET(self):
        if not self.path.endswith(".warc.gz"):
            return super().do_GET()
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            return self.send_error(404)
        data = open(path, "rb").read()
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = max(1, len(data) // 8)
            for i in range(0, len(data), step):
                if i:
                    time.sleep(0.05)
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
        finally:
            with cls.lock:
                cls.active -= 1
                cls.served += 1


def versions(d):
    """DIR/history/index.tsv's rows without the body's offset (where a merge puts a body may differ)."""
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "history", "index.tsv"), encoding="utf-8")
            if not l.startswith("#")]
    return [tuple(c[:14] + c[15:]) for c in rows]


tmp = tempfile.mkdtemp(prefix="optout-dlslots-")
try:
    cc = os.path.join(tmp, "cc")
    g = subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc, "--seed", "7", "--robots-dir", top10k,
                        "--files", "3"], capture_output=True, text=True)
    if not check(g.returncode == 0, "gen-ccrobots ran (%s)" % g.stderr.strip()[-300:]):
        finish("test_download_slots")
    truth = json.load(open(os.path.join(cc, "truth.json")))
    nfiles = len(truth["files"])
    check(nfiles >= 6, "the generator wrote %d WARC files" % nfiles)
    hosts = sorted(set(c["host"] for c in truth["captures"]) | set(c["redirect"] for c in truth["captures"]
                                                                    if c.get("redirect")))
    hosts_file = os.path.join(tmp, "hosts.txt")
    with open(hosts_file, "w") as f:
        f.write("\n".join(hosts) + "\n")
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(root, "tools", "gen-corpus"), "--robots-dir", os.path.join(root, "data", "sample", "robots"),
                    "--seed", "5", "--docs", "60", "--shards", "2", "--format", "zst", "--out", corpus],
                   check=True, capture_output=True)
    ref = os.path.join(tmp, "ref")
    r = subprocess.run([optout, "history", "--cc-robots", os.path.join(cc, "crawl-data", "**", "*.warc.gz"), "--hosts",
                        hosts_file, "--out", ref], capture_output=True, text=True)
    check(r.returncode == 0, "optout history builds the reference (%s)" % r.stderr[-300:])

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=cc))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % httpd.server_address[1]
    urls = [url + "/" + f["path"] for f in truth["files"]]
    base = ["--corpus", os.path.join(corpus, "*.jsonl.zst"), "--hosts", hosts_file, "--connect-to", "127.0.0.1:1",
            "--timeout", "2", "--connect-timeout", "1", "--fetch-tasks", "2", "--workers", "3", "--cc-robots"] + urls
    try:
        for slots in (2, 3):
            Counting.peak = Counting.served = 0
            d = os.path.join(tmp, "run%d" % slots)
            r = run(base + ["--out", d, "--download-slots", str(slots)])
            if not check(r.returncode == 0, "3 workers, --download-slots %d: the run exits 0 (%d: %s)"
                         % (slots, r.returncode, r.stderr[-400:])):
                continue
            check(Counting.served == nfiles, "every file downloaded once (%d of %d)" % (Counting.served, nfiles))
            check(Counting.peak == slots, "3 workers, --download-slots %d: at most %d transfers at once, and %d "
                  "happen (the server saw %d)" % (slots, slots, slots, Counting.peak))
            check(versions(d) == versions(ref) and len(versions(ref)) > 20,
                  "the run's archive has optout history's versions (%d)" % len(versions(ref)))
            slot_files = sorted(os.listdir(os.path.join(d, "download-slots")))
            check(slot_files == ["download-slot.%d" % k for k in range(slots)],
                  "the workers shared DIR/download-slots/ (%s)" % slot_files)
    finally:
        httpd.shutdown()
finally:
    remove_workdir(tmp)
finish("test_download_slots")
