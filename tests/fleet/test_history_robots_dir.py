#!/usr/bin/python3
"""The history stage of a run with --robots-dir: no host list is given and none is ranked, so the
captures kept are those of every host of the corpus, which the survey finds. Real broker, worker
and redis-server processes; the captures are tools/gen-ccrobots' WARC files built from the real
bodies of SHARED_DIR/data/robots-top10k (skipped, 77, without them), today's robots.txt the same
real bodies (--robots-dir).

The corpus holds documents of hosts the generator lists, of hosts it captures without listing
them, and of hosts it never captures; and the captures of its hosts redirect to hosts outside the
corpus (a second pass reads those).

Checks
1. --robots-time crawl: DIR/survey-hosts.txt is every host key of the corpus (computed here from
   the documents' URLs); DIR/history is what `optout history --hosts <those hosts>` builds over the
   same files (versions and bodies, sources.tsv); report.json by_policy equals `optout filter
   --history` over the whole corpus judged by that reference archive and the same robots directory.
2. --robots-time current (the rank maps then survey for the host list alone): the same archive,
   and by_policy again the single filter's.
3. The broker killed mid-history; the same command again completes with the same archive and
   by_policy.
4. --host-key netloc is a usage error (the survey's hosts would not be canonical host keys).
5. --stop-after survey under --robots-time current stops after the survey with its host list.
usage: test_history_robots_dir.py BIN_DIR REPO_ROOT [SHARED_DIR]"""
import glob, json, os, random, re, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, history_archive, history_sources, kill_broker_after, real_bodies, runner, \
    shared_dir  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
top10k = real_bodies(shared_dir(root, 3))
run = runner(optout, "run")

tmp = tempfile.mkdtemp(prefix="optout-history-robots-dir-")
try:
    cc = os.path.join(tmp, "cc")
    g = subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc, "--seed", "7", "--robots-dir", top10k,
                        "--hosts", "30", "--extra-hosts", "20", "--files", "2"], capture_output=True, text=True)
    if not check(g.returncode == 0, "gen-ccrobots ran (%s)" % g.stderr.strip()):
        finish("test_history_robots_dir")
    truth = json.load(open(os.path.join(cc, "truth.json")))
    warcs = os.path.join(cc, "crawl-data", "**", "*.warc.gz")
    captured = sorted(set(c["host"] for c in truth["captures"]))
    unlisted = sorted(set(captured) - set(truth["listed"]))
    targets = set(c["redirect"] for c in truth["captures"] if c.get("redirect"))
    # the corpus: most listed hosts, some captured but unlisted ones, two never captured; every
    # redirect target outside it is read by a later pass
    rnd = random.Random(7)
    hosts = sorted(set(truth["listed"][:24] + unlisted[:6] + ["nocapture-a.example", "nocapture-b.example"]))
    outside = sorted(targets - set(hosts))
    check(len(unlisted) >= 6 and outside, "the corpus holds unlisted captured hosts (%d) and its hosts' captures "
          "redirect outside it (%d targets)" % (len(unlisted), len(outside)))
    crawls = truth["crawls"] + ["CC-MAIN-2018-22"]
    corpus = os.path.join(tmp, "corpus")
    os.makedirs(corpus)
    paths = ["/", "/search?q=x", "/admin/", "/private/a", "/api/v1/x", "/news/today"]
    for k in range(4):
        with open(os.path.join(corpus, "part%d.jsonl" % k), "w") as f:
            for i in range(150):
                h = rnd.choice(hosts)
                d = {"id": "d%d-%d" % (k, i), "url": "%s://%s%s" % (rnd.choice(["http", "https"]), h, rnd.choice(paths)),
                     "text": "w" * rnd.randrange(1, 300)}
                if i % 7:
                    d["dump"] = rnd.choice(crawls)
                if i % 3 == 0:
                    d["date"] = "%s-0%d-1%dT10:00:00Z" % (d.get("dump", "CC-MAIN-2021-04")[8:12], rnd.randrange(1, 9),
                                                         rnd.randrange(0, 9))
                f.write(json.dumps(d) + "\n")
    hosts_file = os.path.join(tmp, "corpus-hosts.txt")
    with open(hosts_file, "w") as f:
        f.write("\n".join(hosts) + "\n")
    ref = os.path.join(tmp, "ref")
    r = subprocess.run([optout, "history", "--cc-robots", warcs, "--hosts", hosts_file, "--out", ref],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) passes", r.stderr)
    check(r.returncode == 0 and m and int(m.group(1)) >= 2,
          "optout history over the corpus's hosts reads the files again for the targets (%s)" % r.stderr[-300:])
    want = history_archive(ref)
    whole = os.path.join(tmp, "whole.jsonl")
    with open(whole, "w") as f:
        for k in range(4):
            f.write(open(os.path.join(corpus, "part%d.jsonl" % k)).read())

    def single_by_policy(policy):
        stats = os.path.join(tmp, "single.json")
        q = subprocess.run([optout, "filter", "--robots-dir", top10k, "--history", ref, "--robots-time", policy,
                            "--in", whole, "--out", os.path.join(tmp, "single.out.jsonl"), "--stats", stats],
                           capture_output=True, text=True)
        check(q.returncode == 0, "optout filter --history %s (%s)" % (policy, q.stderr[-200:]))
        return json.load(open(stats)).get("by_policy") if q.returncode == 0 else None

    base = ["--corpus", os.path.join(corpus, "*.jsonl"), "--robots-dir", top10k, "--cc-robots", warcs, "--workers", "2"]
    for policy in ("crawl", "current"):
        out = os.path.join(tmp, "run-" + policy)
        r = run(base + ["--out", out, "--robots-time", policy])
        if not check(r.returncode == 0, "--robots-dir --cc-robots --robots-time %s: exit 0 (%d: %s)"
                     % (policy, r.returncode, r.stderr[-400:])):
            continue
        listed = open(os.path.join(out, "survey-hosts.txt")).read().split("\n")
        check(listed == hosts + [""], "%s: survey-hosts.txt is every host of the corpus (%d of %d)"
              % (policy, len(listed) - 1, len(hosts)))
        check(history_archive(out) == want and history_sources(out) == history_sources(ref),
              "%s: the archive is optout history's over the corpus's hosts" % policy)
        got = json.load(open(os.path.join(out, "report.json"))).get("by_policy")
        check(got is not None and got == single_by_policy(policy) and got["chosen"] == policy and
              got["coverage"]["same_crawl"]["docs_in"] > 0,
              "%s: by_policy is optout filter --history's over the reference archive, with same-crawl captures" % policy)

    # 3. the broker killed mid-history resumes to the same archive
    crash = os.path.join(tmp, "crash")
    args = base + ["--out", crash, "--robots-time", "crawl"]
    parts = os.path.join(crash, "history-parts", "*", "history", "index.tsv")
    broker = kill_broker_after(optout, args, parts, 2, 300)
    check(len(broker) == 1 and not os.path.exists(os.path.join(crash, "history", "index.tsv")),
          "the broker died mid-history (%d parts published)" % len(glob.glob(parts)))
    r = run(args)
    check(r.returncode == 0 and history_archive(crash) == want and
          json.load(open(os.path.join(crash, "report.json"))).get("by_policy") == single_by_policy("crawl"),
          "the rerun completes with the same archive and by_policy (%d: %s)" % (r.returncode, r.stderr[-300:]))

    # 5. --stop-after survey under --robots-time current: such a run surveys too (its history's hosts)
    dry = os.path.join(tmp, "dry-survey")
    r = run(base + ["--out", dry, "--stop-after", "survey"])
    check(r.returncode == 0 and open(os.path.join(dry, "survey-hosts.txt")).read().split("\n") == hosts + [""] and
          not os.path.exists(os.path.join(dry, "history")),
          "--stop-after survey with --robots-dir and captures: exit 0, the survey's hosts, no history yet (%d: %s)"
          % (r.returncode, r.stderr.strip()[-300:]))

    # 4. the survey's hosts must be canonical host keys, as an archive's are
    r = run(base + ["--out", os.path.join(tmp, "netloc"), "--host-key", "netloc"])
    check(r.returncode == 2 and "netloc" in r.stderr, "--host-key netloc: a usage error (%d: %s)"
          % (r.returncode, r.stderr.strip()[-200:]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish("test_history_robots_dir")
