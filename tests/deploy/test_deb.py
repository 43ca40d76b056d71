#!/usr/bin/env python3
"""test_deb.py — the Debian package: `cpack -G DEB` over the build tree, unpacked into a fresh root.

Checks: one .deb; its control file depends on the Debian packages of the libraries the binaries
link (libzmq5, libcurl4, libhiredis, libmsgpackc, libzstd1) and recommends redis-server; it holds
the three programs, both systemd units (ExecStart in /usr/bin), the sysusers.d file, the example
configuration, the agent lists and the docs; `dpkg -x` into a temporary root, `ldd` finds every
library of each binary (no "not found"), and --help of each program and command exits 0 with
LD_LIBRARY_PATH unset. Skips (77) without dpkg-deb or dpkg-shlibdeps.

usage: test_deb.py BIN_DIR REPO_ROOT BUILD_DIR CMAKE_COMMAND
"""
import glob, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, skip  # noqa: E402


def main():
    build, cmake = os.path.abspath(sys.argv[3]), sys.argv[4]
    cpack = os.path.join(os.path.dirname(cmake), "cpack")
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "ldd"):
        if not shutil.which(tool):
            skip("%s not found" % tool)
    if not os.path.exists(cpack):
        skip("cpack not found next to %s" % cmake)
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    with tempfile.TemporaryDirectory(prefix="optout-deb.") as tmp:
        p = subprocess.run([cpack, "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"), "-B", tmp],
                           capture_output=True, text=True, env=env, timeout=600)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if not check(p.returncode == 0 and len(debs) == 1, "cpack -G DEB: one package (%s)" % (p.stdout + p.stderr)[-500:]):
            finish("test_deb")
        deb = debs[0]
        info = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, env=env).stdout
        fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
        depends = fields.get("Depends", "")
        for lib in ("libzmq5", "libcurl4", "libhiredis", "libmsgpackc", "libzstd1", "libc6"):
            check(lib in depends, "Depends names %s: %s" % (lib, depends))
        check("redis-server" in fields.get("Recommends", ""), "Recommends redis-server")
        root = os.path.join(tmp, "root")
        check(subprocess.run(["dpkg-deb", "-x", deb, root], env=env).returncode == 0, "dpkg -x into a fresh root")
        for f in ("usr/bin/optout", "usr/bin/optout-broker", "usr/bin/optout-worker",
                  "usr/lib/systemd/system/optout-broker.service", "usr/lib/systemd/system/optout-worker@.service",
                  "usr/lib/sysusers.d/optout.conf", "usr/share/optout/optout.conf.example",
                  "usr/share/optout/agents/apertus-paper.txt", "usr/share/optout/slurm/optout.sbatch",
                  "usr/share/doc/optout/README.md", "usr/share/doc/optout/cli.md"):
            check(os.path.isfile(os.path.join(root, f)), "the package holds /%s" % f)
        for unit in ("optout-broker.service", "optout-worker@.service"):
            path = os.path.join(root, "usr/lib/systemd/system", unit)
            text = open(path).read() if os.path.exists(path) else ""
            check("ExecStart=/usr/bin/optout-" in text, "%s starts /usr/bin's program" % unit)
        progs = [os.path.join(root, "usr/bin", n) for n in ("optout", "optout-broker", "optout-worker")]
        for prog in progs:
            l = subprocess.run(["ldd", prog], capture_output=True, text=True, env=env)
            check(l.returncode == 0 and "not found" not in l.stdout, "ldd %s: every library found" % os.path.basename(prog))
        helps = [[progs[1]], [progs[2]]] + [[progs[0], c] for c in (
            "run", "filter", "rank", "fetch", "why", "report", "verify", "apply-tags", "status", "config", "keygen")]
        helps.append([progs[0], "robots", "check"])
        for cmd in helps:
            h = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=dict(env, OPTOUT_CONFIG=""), timeout=30)
            check(h.returncode == 0 and h.stdout.startswith("usage:"),
                  "%s --help from the package: exit 0" % " ".join([os.path.basename(cmd[0])] + cmd[1:]))
    finish("test_deb")


main()
