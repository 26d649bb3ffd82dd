#!/usr/bin/env python3
"""Probe placement with real BPF: OpenSSL 3's SSL_read_ex/SSL_write_ex are
probed at the internal functions they call (whose first instruction the
kernel emulates), SSL_read/SSL_write are covered there, and every client
is still captured exactly; an entry that does not match the pattern falls
back to the public symbol; --probe-at symbol turns placement off."""

import os
import re
import shutil
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

SYSTEM_LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
SCRIPT = {"deltas": ["plac", "ement", " works"], "first_delay_ms": 30, "delay_ms": 10,
          "usage": {"prompt_tokens": 7, "completion_tokens": 3}}


def probed(d, path):
    status, body = d.get_json("/api/v1/probes")
    assert status == 200, body
    for f in body["files"]:
        if f["path"] == path:
            return f
    raise AssertionError("%s not probed: %s" % (path, [f["path"] for f in body["files"]]))


def functions(f):
    return {fn["function"]: fn for fn in f["functions"]}


def symbol_offset(path, name):
    """File offset of a dynamic symbol, from nm and the executable segment."""
    nm = subprocess.run(["nm", "-D", "--defined-only", path], stdout=subprocess.PIPE,
                        check=True).stdout.decode()
    m = re.search(r"^([0-9a-f]+) T %s(@@\S+)?$" % re.escape(name), nm, re.M)
    assert m, "%s has no %s" % (path, name)
    vaddr = int(m.group(1), 16)
    segs = subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE,
                          check=True).stdout.decode()
    for line in segs.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD" and "E" in parts[6:-1]:
            off, va, filesz = int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)
            if va <= vaddr < va + filesz:
                return vaddr - va + off
    raise AssertionError("no executable segment holds %s" % name)


def check(s, r):
    assert s["status"] == "completed", s
    assert s["text"] == r["text"] == "".join(SCRIPT["deltas"]), (s["text"], r["text"])
    assert s["dropped_bytes"] == 0 and s["error"] is None, s


def require_pattern():
    """The system libssl must start SSL_read_ex with "sub $8,%rsp; call"."""
    if not os.path.exists(SYSTEM_LIBSSL):
        raise e2e.Skip("no %s" % SYSTEM_LIBSSL)
    with open(SYSTEM_LIBSSL, "rb") as f:
        f.seek(symbol_offset(SYSTEM_LIBSSL, "SSL_read_ex"))
        head = f.read(5)
    if head[:3] != b"\x48\x83\xec" or head[4] != 0xe8:
        raise e2e.Skip("this libssl's SSL_read_ex does not begin sub/call: %s" % head.hex())


@e2e.test
def internal_targets_are_probed_and_every_client_is_captured():
    require_pattern()
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon()
    fns = functions(probed(d, SYSTEM_LIBSSL))
    for name in ("SSL_read_ex", "SSL_write_ex"):
        fn = fns[name]
        assert fn["placement"] == "callee" and fn["hit_cost"] == "emulated", fn
        assert fn["probe_offset"] != fn["symbol_offset"], fn
        assert fn["first_instruction"].startswith("push"), fn
    assert fns["SSL_read"]["placement"] == "covered", fns["SSL_read"]
    assert fns["SSL_read"]["covered_by"] == "SSL_read_ex"
    assert fns["SSL_write"]["covered_by"] == "SSL_write_ex"
    # Python ssl: SSL_read_ex / SSL_write_ex
    [r] = e2e.run_client(srv, include_usage=True)
    [s] = e2e.finished_streams(d, r["pid"])
    check(s, r)
    # curl: SSL_read / SSL_write, seen through the internal probes
    body = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "curl"}]}
    c = e2e.run_curl(srv, body)
    assert c["exit"] == 0 and c["status"] == 200, c
    got = e2e.wait_for(lambda: [x for x in e2e.streams(d) if x["comm"] == "curl"
                                and x["status"] != "streaming"], 10, 0.05, "curl's stream")
    assert got[0]["text"] == "".join(SCRIPT["deltas"]), got[0]
    # each call hit the internal probes once: no double counting
    f = probed(d, SYSTEM_LIBSSL)
    hits = {(p["function"], p["type"]): p["hits"] for p in f["probes"]}
    assert hits[("SSL_read_ex", "uprobe")] == hits[("SSL_read_ex", "uretprobe")], hits


def patched_copy():
    """A libssl copy whose SSL_read_ex/SSL_write_ex begin "add $-8,%rsp":
    the same effect, but not the pattern, so they must stay on the symbol."""
    require_pattern()
    libdir = os.path.join(e2e.tmpdir(), "patched-" + uuid.uuid4().hex[:8])
    os.makedirs(libdir)
    path = os.path.join(libdir, "libssl.so.3")
    shutil.copy2(SYSTEM_LIBSSL, path)
    with open(path, "r+b") as f:
        for name in ("SSL_read_ex", "SSL_write_ex"):
            off = symbol_offset(path, name)
            f.seek(off)
            assert f.read(4) == b"\x48\x83\xec\x08", name
            f.seek(off)
            f.write(b"\x48\x83\xc4\xf8")  # add $-8,%rsp
    return path, dict(os.environ, LD_LIBRARY_PATH=libdir)


@e2e.test
def an_entry_that_does_not_match_falls_back_to_the_symbol():
    path, env = patched_copy()
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon("--libssl", path)
    fns = functions(probed(d, path))
    for name in ("SSL_read_ex", "SSL_write_ex"):
        fn = fns[name]
        assert fn["placement"] == "symbol" and fn["hit_cost"] == "single-stepped", fn
        assert fn["probe_offset"] == fn["symbol_offset"], fn
        assert "not \"sub" in fn["why"], fn
    assert fns["SSL_read"]["placement"] == "symbol", fns["SSL_read"]
    c = e2e.Client(srv, env=env, include_usage=True)
    [r] = c.results()
    [s] = e2e.finished_streams(d, r["pid"])
    check(s, r)
    assert probed(d, path)["hits"] > 0


@e2e.test
def probe_at_symbol_keeps_public_symbols():
    require_pattern()
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon("--probe-at", "symbol")
    fns = functions(probed(d, SYSTEM_LIBSSL))
    assert all(fn["placement"] == "symbol" for fn in fns.values()), fns
    [r] = e2e.run_client(srv, include_usage=True)
    [s] = e2e.finished_streams(d, r["pid"])
    check(s, r)
    bad = subprocess.run([e2e.DAEMON, "--probe-at", "elsewhere"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=10)
    assert bad.returncode == 2 and b"--probe-at" in bad.stderr, bad


e2e.main()
