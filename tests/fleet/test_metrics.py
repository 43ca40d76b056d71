#!/usr/bin/python3
"""Observability: the broker's Prometheus endpoint and its log lines.

A broker started by hand with --metrics-listen 127.0.0.1:0 (the port it bound is in its log) and
--metrics-linger, a worker started after it, five input shards (four generated, the bundled sample).
Every scrape is parsed strictly as the text exposition format 0.0.4 (HELP and TYPE before the
samples of a family, valid names, labels and values, no duplicate series, one family's samples
together). Scraped before the worker joins (tasks pending, no worker), while the run goes on
(counters never go down) and during the linger after it (every task done, documents and bytes as in
report.json, one worker alive). Also: 404 and 405, a bad address (exit 2), a port in use (exit 1),
and the log convention: every broker line after planning carries run=<12 hex> and a published
task's line carries task=N shard=PATH.

usage: test_metrics.py BIN_DIR REPO_ROOT"""
import glob, hashlib, json, math, os, re, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
SAMPLE = os.path.join(ROOT, "data", "sample")
ROBOTS = os.path.join(SAMPLE, "robots")


# ---- a strict parser of the text exposition format (version 0.0.4) ------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s=%s)(?:,%s=%s)*,?)?\})? (\S+)(?: (-?\d+))?$" %
                       (NAME, LABEL, LABEL_VALUE, LABEL, LABEL_VALUE))
LABEL_RE = re.compile(r"(%s)=(%s)" % (LABEL, LABEL_VALUE))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParseError(Exception):
    pass


def parse_value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ParseError("bad value %r" % text)
    return float(text)


def family_of(name, types):
    """The family a sample belongs to (histogram and summary samples have suffixes)."""
    if name in types:
        return name
    for suffix in ("_bucket", "_count", "_sum"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_exposition(text):
    """{(name, frozenset(labels)): value}, {family: type}; raises ParseError on anything off."""
    if not text.endswith("\n"):
        raise ParseError("the body does not end with a newline")
    helps, types, samples, seen_families, current = {}, {}, {}, set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d (%r)" % (n, line)
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    raise ParseError("malformed %s" % where)
                continue  # a plain comment
            kind, name, rest = m.groups()
            if name in seen_families:
                raise ParseError("%s comes after samples of %s" % (where, name))
            if kind == "HELP":
                if name in helps:
                    raise ParseError("second HELP for %s at %s" % (name, where))
                if not rest.strip():
                    raise ParseError("empty HELP at %s" % where)
                helps[name] = rest
            else:
                if name in types:
                    raise ParseError("second TYPE for %s at %s" % (name, where))
                if rest not in TYPES:
                    raise ParseError("unknown type at %s" % where)
                types[name] = rest
            continue
        if not line:
            raise ParseError("empty %s" % where)
        m = SAMPLE_RE.match(line)
        if not m:
            raise ParseError("malformed sample at %s" % where)
        name, labels_text, value, _ts = m.groups()
        labels = LABEL_RE.findall(labels_text or "")
        keys = [k for k, _ in labels]
        if len(set(keys)) != len(keys):
            raise ParseError("repeated label at %s" % where)
        fam = family_of(name, types)
        if fam not in types or fam not in helps:
            raise ParseError("sample of %s before its HELP and TYPE (%s)" % (fam, where))
        if fam != current:
            if fam in seen_families:
                raise ParseError("samples of %s are not together (%s)" % (fam, where))
            seen_families.add(fam)
            current = fam
        if types[fam] == "counter" and not name.endswith("_total"):
            raise ParseError("counter %s does not end in _total" % name)
        key = (name, frozenset((k, v[1:-1]) for k, v in labels))
        if key in samples:
            raise ParseError("duplicate series at %s" % where)
        v = parse_value(value)
        if types[fam] == "counter" and not v >= 0:
            raise ParseError("negative counter at %s" % where)
        samples[key] = v
    for fam in set(helps) | set(types):
        if fam not in seen_families:
            raise ParseError("family %s has no samples" % fam)
    return samples, types


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def total(samples, name, **labels):
    """Sum over the series of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        ctype = r.headers.get("Content-Type", "")
        body = r.read().decode("utf-8")
    if not ctype.startswith("text/plain") or "version=0.0.4" not in ctype:
        raise ParseError("Content-Type %r" % ctype)
    return parse_exposition(body)


def status_of(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method == "POST" else None),
                                    timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


# ---- the parser itself rejects what it must ---------------------------------------------------

for bad in ["optout_x 1\n",                                              # no HELP/TYPE
            "# HELP a h\n# TYPE a gauge\na 1",                            # no final newline
            "# HELP a h\n# TYPE a gauge\na{l=\"x} 1\n",                   # unterminated label
            "# HELP a h\n# TYPE a gauge\na 1\na 2\n",                     # duplicate series
            "# HELP a h\n# TYPE a counter\na 1\n",                        # counter without _total
            "# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 2\n",  # split family
            "# HELP 1a h\n# TYPE 1a gauge\n1a 1\n",                       # bad name
            "# HELP a h\n# TYPE a gauge\na one\n"]:                       # bad value
    try:
        parse_exposition(bad)
        check(False, "the parser rejects %r" % bad)
    except ParseError:
        pass
check(parse_exposition('# HELP a h\n# TYPE a gauge\na{x="q\\"\\\\"} 1.5e3\n')[0][("a", frozenset({("x", 'q\\"\\\\')}))]
      == 1500, "the parser reads escapes and exponents")

# ---- a run with the endpoint ---------------------------------------------------------------------

tmp = tempfile.mkdtemp(prefix="optout-metrics-")
broker = worker = None
try:
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(ROOT, "tools", "gen-corpus"), "--robots-dir", ROBOTS, "--seed", "5", "--hosts", "8",
                    "--docs", "2000", "--shards", "4", "--format", "zst", "--out", corpus], check=True,
                   capture_output=True)
    shutil.rmtree(os.path.join(corpus, "_meta"), ignore_errors=True)
    inputs = sorted(glob.glob(os.path.join(corpus, "**", "*.jsonl*"), recursive=True)) + \
        [os.path.join(SAMPLE, "corpus.jsonl.zst")]
    check(len(inputs) == 5, "5 input shards")
    run = os.path.join(tmp, "run")
    env = dict(os.environ, OPTOUT_LOG_LEVEL="info")
    env.pop("JOURNAL_STREAM", None)
    blog_path = os.path.join(tmp, "broker.log")
    blog = open(blog_path, "w")
    args = [os.path.join(BIN, "optout-broker"), "--dir", run, "--robots-dir", ROBOTS]
    for p in inputs:
        args += ["--corpus", p]
    broker = subprocess.Popen(args + ["--metrics-listen", "127.0.0.1:0", "--metrics-linger", "60"], env=env,
                              stderr=blog)
    url, deadline = None, time.time() + 20
    while url is None and time.time() < deadline and broker.poll() is None:
        m = re.search(r"metrics at (http://127\.0\.0\.1:(\d+)/metrics)", open(blog_path).read())
        url = m.group(1) if m else None
        time.sleep(0.05)
    check(url is not None, "the broker logs the metrics URL with the port it bound (%s)" % url)
    if url is None:
        raise SystemExit(1)
    run_id = hashlib.sha256(os.path.realpath(run).encode()).hexdigest()[:12]

    # before any worker: the plan is there, nothing runs
    s, types = None, None
    for _ in range(50):  # the first snapshot is published when the loop starts
        try:
            s, types = scrape(url)
            break
        except urllib.error.HTTPError as e:
            if e.code != 503:
                raise
            time.sleep(0.05)
    check(s is not None, "the endpoint answers a parseable exposition")
    info = [ls for (n, ls), v in s.items() if n == "optout_info" and v == 1]
    check(len(info) == 1 and ("run", run_id) in info[0], "optout_info carries run=%s (%s)" % (run_id, info))
    check(total(s, "optout_tasks", stage="filter") == 5, "tasks of the filter stage = 5 input shards (%s)"
          % total(s, "optout_tasks", stage="filter"))
    check(total(s, "optout_tasks") == 5, "no other stage has tasks with --robots-dir")
    check(get(s, "optout_tasks", stage="filter", state="pending") == 5, "all 5 pending before a worker joins")
    check(get(s, "optout_workers_alive") == 0 and get(s, "optout_queue_depth") == 5,
          "no worker alive, 5 queued (%s, %s)" % (get(s, "optout_workers_alive"), get(s, "optout_queue_depth")))
    check(get(s, "optout_stage", stage="filter") == 1 and total(s, "optout_stage") == 1,
          "the stage gauge: filter is 1, the others 0")
    check(get(s, "optout_tasks_done_total") == 0 and get(s, "optout_epoch") == 1, "nothing done, epoch 1")
    check(types.get("optout_tasks_done_total") == "counter" and types.get("optout_tasks") == "gauge",
          "types: done is a counter, tasks by state a gauge")
    want = ["optout_documents_processed_total", "optout_documents_removed_total", "optout_bytes_processed_total",
            "optout_bytes_removed_total", "optout_tokens_processed_total", "optout_tokens_removed_total",
            "optout_hosts_fetched_total", "optout_journal_fsyncs_total", "optout_group_commits_total",
            "optout_group_commit_tasks_total", "optout_start_time_seconds", "optout_snapshot_time_seconds",
            "optout_tasks_failed_total"]
    check(all(w in types for w in want), "every documented family is there (%s)" % [w for w in want if w not in types])
    check(status_of(url.replace("/metrics", "/nope")) == 404, "other paths: 404")
    check(status_of(url, "POST") == 405, "POST: 405")

    # while the run goes on: counters never go down
    worker = subprocess.Popen([os.path.join(BIN, "optout-worker"), "--connect", "ipc://%s/broker.sock" % run,
                               "--root", "fs=/", "--slots", "1"], env=env, stderr=subprocess.DEVNULL)
    scrapes, deadline = [], time.time() + 60
    while time.time() < deadline:
        s, _ = scrape(url)
        scrapes.append(s)
        if get(s, "optout_stage", stage="done") == 1:
            break
        time.sleep(0.02)
    check(get(s, "optout_stage", stage="done") == 1, "the stage gauge reaches done (%d scrapes)" % len(scrapes))
    counters = [n for n, t in types.items() if t == "counter"]
    monotonic = all(total(b, c) >= total(a, c) for a, b in zip(scrapes, scrapes[1:]) for c in counters)
    check(monotonic, "counters never go down across %d scrapes" % len(scrapes))
    check(any(get(x, "optout_workers_alive") == 1 for x in scrapes), "a scrape while running sees 1 worker alive")

    # after: the linger serves the final values
    report = json.load(open(os.path.join(run, "report.json")))
    check(get(s, "optout_tasks_done_total") == 5 and get(s, "optout_tasks", stage="filter", state="done") == 5,
          "done reaches 5 (%s)" % get(s, "optout_tasks_done_total"))
    check(get(s, "optout_tasks_failed_total") == 0, "none failed")
    for metric, key in (("optout_documents_processed_total", "docs_in"),
                        ("optout_documents_removed_total", "docs_removed"),
                        ("optout_bytes_processed_total", "bytes_in"), ("optout_bytes_removed_total", "bytes_removed"),
                        ("optout_tokens_processed_total", "tokens_in"),
                        ("optout_tokens_removed_total", "tokens_removed")):
        check(get(s, metric) == report[key], "%s = report.json %s (%s, %s)" % (metric, key, get(s, metric),
                                                                               report[key]))
    check(report["docs_in"] > 80, "the run read the generated shards too (%d documents)" % report["docs_in"])
    check(get(s, "optout_workers_alive") == 1 and get(s, "optout_queue_depth") == 0, "1 worker alive, queue empty")
    check(get(s, "optout_group_commit_tasks_total") == 5 and
          get(s, "optout_journal_fsyncs_total") >= get(s, "optout_group_commits_total") >= 1,
          "group commits published 5 tasks, each with a journal fsync")
    check(0 < get(s, "optout_snapshot_time_seconds") - get(s, "optout_start_time_seconds") < 120,
          "start and snapshot times are Unix times, in order")
    broker.send_signal(signal.SIGTERM)
    try:
        rc = broker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM ends the linger, exit 0 (%s)" % rc)
    broker = None

    # the log convention
    lines = open(blog_path).read().splitlines()
    planned = [l for l in lines if l.startswith("optout-broker: ")]
    tagged = [l for l in planned if l.startswith("optout-broker: run=%s " % run_id)]
    check(len(planned) > 5 and tagged == planned, "every broker line carries run=%s (%d of %d)" %
          (run_id, len(tagged), len(planned)))
    published = [l for l in lines
                 if re.fullmatch(r"optout-broker: run=%s task=\d+ shard=/\S+: published" % run_id, l)]
    shards = sorted(re.search(r"shard=(\S+):", l).group(1) for l in published)
    check(shards == sorted(os.path.realpath(p) for p in inputs),
          "one 'run=.. task=N shard=PATH: published' line per input (%d)" % len(published))
    check(any(re.search(r"run=%s worker=\S+: joined" % run_id, l) for l in lines), "worker events carry worker=")

    # bad values
    # (usage errors return from main() before its option arrays are freed, as for every option:
    # not a leak worth failing a sanitizer run on)
    r = subprocess.run(args + ["--metrics-listen", "nowhere"], capture_output=True, text=True,
                       env=dict(env, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"))
    check(r.returncode == 2 and "--metrics-listen" in r.stderr, "--metrics-listen without a port: exit 2")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    r = subprocess.run(args[:2] + [os.path.join(tmp, "run2")] + args[3:] +
                       ["--metrics-listen", "127.0.0.1:%d" % busy.getsockname()[1]],
                       env=env, capture_output=True, text=True, timeout=30)
    busy.close()
    check(r.returncode == 1 and "in use" in r.stderr, "a port in use: exit 1 saying so (%d: %s)"
          % (r.returncode, r.stderr.strip()[-200:]))
finally:
    for p in (broker, worker):
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
finish("metrics")
