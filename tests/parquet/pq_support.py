"""pq_support.py — what the Parquet command tests share: the npm oracles' location and presence,
DuckDB queries and the oracles' canonical rows (duckdb_sql.mjs, dump.mjs), and running optout.

A test calls require(name, packages) first: it skips (or, under CI, where deploy/deps.sh installs
the oracles, fails) when node or a package is missing.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, run, skip_or_fail, zcat  # noqa: E402,F401  (check, finish: for the tests)

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.environ.get("OPTOUT_NODE_MODULES", os.path.join(HERE, "node_modules"))
ENV = dict(os.environ, OPTOUT_NODE_MODULES=MODULES)


def require(name, packages=(os.path.join("@duckdb", "node-api"),)):
    why = None
    if not shutil.which("node"):
        why = "node is not installed (deploy/deps.sh installs it)"
    for pkg in packages:
        if not why and not os.path.isdir(os.path.join(MODULES, pkg)):
            why = "%s is not in %s (deploy/deps.sh installs it)" % (pkg, MODULES)
    if why:
        skip_or_fail(name, why)


def duck(*sql):
    """The last statement's rows (DuckDB's JSON rendering); one thread, so that rows come in file order."""
    p = subprocess.run(["node", os.path.join(HERE, "duckdb_sql.mjs"), "SET threads=1"] + list(sql),
                       capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        raise RuntimeError("duckdb: %s" % p.stderr.strip()[-2000:])
    return [json.loads(line) for line in p.stdout.split("\n") if line]


def read(reader, path):
    """Rows of a Parquet file as one of the oracles (duckdb, hyparquet) renders them (oracle.mjs)."""
    p = subprocess.run(["node", os.path.join(HERE, "dump.mjs"), "--reader", reader, path], capture_output=True,
                       text=True, env=ENV)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (reader, p.stderr.strip()[-2000:]))
    return [json.loads(line) for line in p.stdout.split("\n") if line]


def q(path):
    """A path as a DuckDB string literal."""
    return "'" + path.replace("'", "''") + "'"


def runner(optout):
    """run(*args): optout ARGS; `optout run` finds optout-broker and optout-worker beside it."""
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(optout)) + os.pathsep + os.environ.get("PATH", ""))
    return lambda *args: run([optout] + list(args), timeout=None, env=env)


def jsonl(path):
    """The documents of a JSON Lines file, compressed or not (split on newlines only: U+2028 is text)."""
    data = zcat(path)
    return [json.loads(line) for line in data.decode().split("\n") if line.strip()]
