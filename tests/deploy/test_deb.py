#!/usr/bin/env python3
"""test_deb.py — the Debian package: `cpack -G DEB` over the build tree, unpacked into a fresh root.

Checks: one .deb; its control file depends on the Debian packages of the libraries the binaries
link (libzmq5, libcurl4, libhiredis, libmsgpackc, libzstd1) and recommends redis-server; it holds
the three programs, both systemd units (ExecStart in /usr/bin), the sysusers.d file, the example
configuration, the agent lists and the docs; `dpkg -x` into a temporary root, `ldd` finds every
library of each binary (no "not found"), and --help of each program and command exits 0 with
LD_LIBRARY_PATH unset. Debian's expectations: /usr/share/doc/optout/copyright in the
machine-readable format (Format, a Files: * paragraph, every License defined); maintainer scripts
postinst, prerm and postrm (`dpkg-deb -I`), executable, valid sh (shellcheck when installed), and
run for real in the throwaway root (DPKG_ROOT): postinst configure creates the optout user and
group with systemd-sysusers and /etc/optout (0750, group optout), twice without harm; prerm remove
succeeds; postrm purge removes an empty /etc/optout and keeps one an administrator filled.
Skips (77) without dpkg-deb or dpkg-shlibdeps.

usage: test_deb.py BIN_DIR REPO_ROOT BUILD_DIR CMAKE_COMMAND
"""
import glob, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, skip  # noqa: E402


def copyright_checks(root):
    path = os.path.join(root, "usr/share/doc/optout/copyright")
    if not check(os.path.isfile(path), "the package holds /usr/share/doc/optout/copyright"):
        return
    paras = [p for p in open(path).read().split("\n\n") if p.strip()]
    fields = [dict(l.split(": ", 1) for l in p.splitlines() if ": " in l and not l.startswith(" ")) for p in paras]
    check(fields[0].get("Format", "").startswith("https://www.debian.org/doc/packaging-manuals/copyright-format/1.0"),
          "copyright: the machine-readable format's header")
    files = [f for f in fields if "Files" in f]
    check(files and files[0]["Files"] == "*" and all("Copyright" in f and "License" in f for f in files),
          "copyright: a Files: * paragraph first, each with Copyright and License")
    # a license named without text in its Files paragraph needs a stand-alone License paragraph
    defined = {f["License"] for f in fields if "Files" not in f and "License" in f}
    for p, f in zip(paras, fields):
        if "Files" in f:
            has_text = any(l.startswith(" ") for l in p.split("License: ", 1)[1].splitlines()[1:])
            check(has_text or f["License"] in defined, "copyright: license %s of %s is defined" % (f["License"], f["Files"]))
            check(f["Files"] == "*" or os.path.exists(os.path.join(root, f["Files"])),
                  "copyright: %s is a file of the package" % f["Files"])


def maintainer_scripts(deb, root, tmp, env):
    info = subprocess.run(["dpkg-deb", "-I", deb], capture_output=True, text=True, env=env).stdout
    ctrl = os.path.join(tmp, "control")
    subprocess.run(["dpkg-deb", "-e", deb, ctrl], env=env, check=True)
    for name in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctrl, name)
        check(name in info and os.path.isfile(path) and os.access(path, os.X_OK), "dpkg-deb -I lists %s, executable" % name)
        check(subprocess.run(["sh", "-n", path]).returncode == 0, "%s is valid sh" % name)
        if shutil.which("shellcheck"):
            sc = subprocess.run(["shellcheck", "-s", "sh", path], capture_output=True, text=True)
            check(sc.returncode == 0, "shellcheck %s: %s" % (name, sc.stdout[-400:]))
    copyright_checks(root)
    if not shutil.which("systemd-sysusers"):
        print("note: systemd-sysusers not found: the maintainer scripts are not run")
        return
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)  # what base-files gives a real root
    run_env = dict(env, DPKG_ROOT=root)

    def script(name, arg):
        return subprocess.run(["sh", os.path.join(ctrl, name), arg], capture_output=True, text=True, env=run_env,
                              timeout=60)

    for attempt in (1, 2):
        p = script("postinst", "configure")
        check(p.returncode == 0, "postinst configure (run %d) in the throwaway root: %s" % (attempt, p.stderr[-300:]))
    passwd = open(os.path.join(root, "etc/passwd")).read() if os.path.exists(os.path.join(root, "etc/passwd")) else ""
    user = [l.split(":") for l in passwd.splitlines() if l.startswith("optout:")]
    check(len(user) == 1 and user[0][5] == "/var/lib/optout", "postinst: the optout user, home /var/lib/optout: %r" % user)
    group = open(os.path.join(root, "etc/group")).read() if os.path.exists(os.path.join(root, "etc/group")) else ""
    gid = [l.split(":")[2] for l in group.splitlines() if l.startswith("optout:")]
    st = os.stat(os.path.join(root, "etc/optout")) if os.path.isdir(os.path.join(root, "etc/optout")) else None
    check(st is not None and (st.st_mode & 0o777) == 0o750 and gid and str(st.st_gid) == gid[0],
          "postinst: /etc/optout, mode 0750, group optout")
    check(script("prerm", "remove").returncode == 0, "prerm remove")
    kept = os.path.join(root, "etc/optout/optout.conf")
    open(kept, "w").write("[broker]\n")
    check(script("postrm", "purge").returncode == 0 and os.path.exists(kept), "postrm purge keeps a filled /etc/optout")
    os.unlink(kept)
    check(script("postrm", "purge").returncode == 0 and not os.path.exists(os.path.join(root, "etc/optout")),
          "postrm purge removes an empty /etc/optout")
    check(script("postinst", "no-such-action").returncode != 0, "postinst refuses an unknown action")


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
        maintainer_scripts(deb, root, tmp, env)
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
