#!/usr/bin/python3
"""The history archive in Redis on a generated Common Crawl history.

usage: test_history_redis.py BIN_DIR REPO_ROOT SHARED_DIR

tools/gen-ccrobots writes Common Crawl-style robotstxt WARC files (several crawls, real bodies of
SHARED_DIR/data/robots-top10k changing between crawls, both schemes, redirects, 4xx, 429, 5xx,
truncated records), `optout history` builds the archive, and test_history_redis (tests/unit) loads
it into a private redis-server and checks, for every document of its generated set, that the
selection and the verdicts through the Redis source equal the archive's. Skipped (77) without the
real bodies or without redis-server.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, skip  # noqa: E402


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    bindir, root, shared = sys.argv[1:]
    top10k = os.path.join(shared, "data", "robots-top10k")
    if not os.path.isdir(top10k):
        skip("no %s (the real robots.txt bodies)" % top10k)
    with tempfile.TemporaryDirectory(prefix="test_history_redis.") as work:
        cc = os.path.join(work, "cc")
        p = subprocess.run([os.path.join(root, "tools", "gen-ccrobots"), "--out", cc, "--seed", "11", "--robots-dir",
                            top10k, "--hosts", "60", "--extra-hosts", "15"], capture_output=True,
                           timeout=300)
        if not check(p.returncode == 0, "gen-ccrobots %s" % p.stderr.decode(errors="replace").strip()[-300:]):
            finish("history_redis")
        archive = os.path.join(work, "archive")
        glob = os.path.join(cc, "crawl-data", "*", "segments", "*", "robotstxt", "*.warc.gz")
        p = subprocess.run([os.path.join(bindir, "optout"), "history", "--cc-robots", glob, "--hosts",
                            os.path.join(cc, "hosts.txt"), "--out", archive, "--quiet"], capture_output=True,
                           timeout=300)
        if not check(p.returncode == 0, "optout history %s" % p.stderr.decode(errors="replace")[-300:]):
            finish("history_redis")
        p = subprocess.run([os.path.join(bindir, "test_history_redis"), archive], capture_output=True, timeout=600)
        out = (p.stdout + p.stderr).decode(errors="replace")
        print(out[-3000:])
        if "redis-server is not installed" in out:
            skip("redis-server is not installed")
        check(p.returncode == 0, "the Redis source gives the archive's selections and verdicts")
        check("[  SKIPPED ] test_given_archive" not in out and "test_given_archive" in out,
              "the generated archive was compared")
    finish("history_redis")


main()
