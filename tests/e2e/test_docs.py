#!/usr/bin/env python3
"""The README says what the program does (no BPF needed): its first commands
work for root without sudo and for other users through sudo, its options
block is `llmobsd --help`'s, and its metrics tables list exactly the
families a running daemon serves; the dashboard's page preloads exactly the
modules it has."""

import ast
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

README = os.path.join(e2e.REPO, "README.md")
NOBODY = 65534


def readme():
    with open(README) as f:
        return f.read()


def first_commands():
    """The commands of the README's first ```sh block."""
    text = readme()
    block = text[text.index("```sh\n") + 6:]
    block = block[:block.index("```")]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def dry_run(target, as_user=None):
    """`make -n TARGET` from the repository, as root or as another user."""
    argv = ["make", "--no-print-directory", "-n", "-C", e2e.REPO, target]
    if as_user is not None:
        argv = ["setpriv", "--reuid=%d" % as_user, "--regid=%d" % as_user,
                "--clear-groups", "--"] + argv
    env = dict(os.environ, HOME="/tmp")
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         timeout=120)
    return out.returncode, out.stdout.decode()


@e2e.test
def readme_starts_with_two_commands_that_need_no_sudo():
    cmds = first_commands()
    assert cmds == ["./bootstrap run", "./bootstrap test"], cmds
    assert not any("sudo" in c for c in cmds), cmds
    with open(os.path.join(e2e.REPO, ".ci", "run")) as f:
        ci = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    assert ci[-1] == cmds[1], ("CI must run exactly the README's test command", ci)
    assert os.access(os.path.join(e2e.REPO, "bootstrap"), os.X_OK)


@e2e.test
def make_uses_sudo_only_when_not_root():
    if os.geteuid() != 0:
        raise e2e.Skip("needs root to compare root's and another user's plan")
    for target, privileged in (("run", "build/llmobsd"), ("test", "tests/run.sh")):
        rc, out = dry_run(target)
        assert rc == 0, out
        steps = [l.strip() for l in out.splitlines()]
        assert not any(l.startswith("sudo ") or "sudo apt-get" in l for l in steps), out
        assert any(privileged in l and not l.startswith("sudo") for l in steps), out
        if not os.path.exists("/usr/bin/setpriv"):
            continue
        rc, out = dry_run(target, as_user=NOBODY)
        # a user without sudo is told what to do; with it, root steps use it
        lines = out.splitlines()
        assert any(re.match(r"sudo (env .*)?%s" % re.escape(privileged), l.strip())
                   for l in lines), (target, out)
        assert any("sudo apt-get" in l for l in lines), out
        # the build itself is never run as root for another user
        assert not any(re.match(r"sudo .*(cc|gcc|clang) ", l.strip()) for l in lines), out



def deps_packages():
    """DEPS_PKGS of the Makefile: the Debian packages `make deps` installs."""
    with open(os.path.join(e2e.REPO, "Makefile")) as f:
        text = f.read()
    m = re.search(r"^DEPS_PKGS\s*:=((?:.*\\\n)*.*)$", text, re.M)
    return set(m.group(1).replace("\\\n", " ").split())


def imported_modules(path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


@e2e.test
def make_deps_installs_what_the_e2e_scripts_import():
    """Every module outside the standard library that a script of tests/e2e/
    imports comes from a Debian package `make deps` installs (the e2e servers
    and clients run on Debian's Python), so a fresh machine has it."""
    local = {f[:-3] for _d, _s, files in os.walk(os.path.join(e2e.REPO, "tests"))
             for f in files if f.endswith(".py")}
    wanted = {}
    for f in sorted(os.listdir(e2e.E2E_DIR)):
        if f.endswith(".py"):
            for mod in imported_modules(os.path.join(e2e.E2E_DIR, f)):
                if mod not in sys.stdlib_module_names and mod not in local:
                    wanted.setdefault(mod, f)
    assert "websockets" in wanted and "h2" in wanted, wanted  # the check sees imports
    pkgs = deps_packages()
    assert "python3-h2" in pkgs, sorted(pkgs)
    for mod, user in sorted(wanted.items()):
        out = subprocess.run([e2e.DEBIAN_PYTHON, "-c",
                              "import importlib.util as u; s = u.find_spec(%r); "
                              "print(s.origin if s else '')" % mod],
                             stdout=subprocess.PIPE, text=True, timeout=30).stdout.strip()
        assert out, "%s imports %s: not installed for %s; add its package to DEPS_PKGS" % (
            user, mod, e2e.DEBIAN_PYTHON)
        owner = subprocess.run(["dpkg-query", "-S", out], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True).stdout
        pkg = owner.split(":")[0].strip()
        assert pkg in pkgs, "%s imports %s (%s, package %r): not in DEPS_PKGS" % (
            user, mod, out, pkg)


@e2e.test
def dashboard_preloads_every_module():
    web = os.path.join(e2e.REPO, "web")
    have = {"/" + os.path.relpath(os.path.join(d, f), web)
            for d, _, fs in os.walk(os.path.join(web, "assets")) for f in fs if f.endswith(".js")}
    with open(os.path.join(web, "index.html")) as f:
        page = f.read()
    preload = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', page))
    entry = set(re.findall(r'<script type="module" src="([^"]+)">', page))
    assert entry == {"/assets/app.js"} and preload | entry == have and not preload & entry, \
        (sorted(have - preload - entry), sorted(preload - have))


@e2e.test
def readme_headings_are_whole_and_unique():
    heads = [l for l in readme().splitlines() if l.startswith("#")]
    assert all(l.count("#") == len(l) - len(l.lstrip("#")) for l in heads), (
        "a heading runs into another: %s" % [l for l in heads if l.count("#") > 3])
    dup = sorted({l for l in heads if heads.count(l) > 1})
    assert not dup, "headings printed twice: %s" % dup

def help_options():
    out = subprocess.run([e2e.DAEMON, "--help"], stdout=subprocess.PIPE, timeout=10)
    assert out.returncode == 0
    lines = out.stdout.decode().split("\n")
    start = lines.index("") + 1
    opts = []
    for line in lines[start:]:
        if not line:
            break
        opts.append(line)
    return opts


@e2e.test
def readme_options_block_is_the_help():
    if not os.access(e2e.DAEMON, os.X_OK):
        raise e2e.Skip("build/llmobsd not built")
    text = readme()
    block = text[text.index("```\nllmobsd [OPTIONS]\n") + len("```\nllmobsd [OPTIONS]\n"):]
    block = block[:block.index("```")].rstrip("\n").split("\n")
    opts = help_options()
    assert any("--probe-at" in l for l in opts) and any("--version" in l for l in opts)
    assert block == opts, "README options block differs from llmobsd --help:\n%s" % "\n".join(
        "- %s\n+ %s" % (a, b) for a, b in zip(block + [""] * len(opts), opts) if a != b)


def readme_families():
    text = readme()
    sec = text[text.index("\n## Metrics\n"):]
    sec = sec[:sec.index("\n## ", 5)]
    fams = {}
    for line in sec.splitlines():
        if not line.startswith("| `"):
            continue
        cells = line.split("|")
        for name in re.findall(r"`([a-z][a-z0-9_]*)`", cells[1]):
            fams[name] = cells[2].strip()
    return fams


def served_families(d):
    status, _h, body = d.get("/metrics")
    assert status == 200
    fams = {}
    for line in body.decode().splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            fams[m.group(1)] = m.group(2)
    return fams


@e2e.test
def readme_metrics_are_what_metrics_serves():
    if not os.access(e2e.DAEMON, os.X_OK):
        raise e2e.Skip("build/llmobsd not built")
    rec = e2e.tmpfile("rec.gz")
    subprocess.run([sys.executable, os.path.join(e2e.REPO, "tests", "bench", "make_recording.py"),
                    rec, "--conns", "2", "--calls", "1", "--events", "3"], check=True,
                   stdout=subprocess.DEVNULL, timeout=30)
    d = e2e.Daemon("--replay", rec, "--serve")  # no BPF: a replay
    served = served_families(d)
    doc = readme_families()
    _status, stats = d.get_json("/api/v1/stats")
    assert not set(served) - set(doc), "README lacks %s" % sorted(set(served) - set(doc))
    assert not set(doc) - set(served), "README lists %s, not served" % sorted(
        set(doc) - set(served))
    for name, typ in served.items():
        assert doc[name] == typ, (name, doc[name], typ)
    # the calls replayed show in the stats and in /metrics alike
    assert stats["pipeline"]["calls_total"] == 2, stats
    body = d.get("/metrics")[2].decode()
    assert "llmobs_calls_started_total 2" in body, body


e2e.main()
