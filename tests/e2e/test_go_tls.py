#!/usr/bin/env python3
"""Go's crypto/tls with real BPF: a stripped Go client (tests/go/
tls_client.go, net/http only) built here with `go build -ldflags=-s -w`,
found by discovery with no flags (.gopclntab, not symbols), streaming an
OpenAI chat completion over HTTP/1.1 and over HTTP/2 (ALPN h2). The
captured call must carry exactly what the server sent."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

SOURCE = os.path.join(e2e.REPO, "tests", "go", "tls_client.go")
CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
COMM = "go_tls_e2e"  # the binary's name: the process's comm
DELTAS = ["Go", " says", " hel", "lo"]
FIRST_DELAY_MS = 40
# within 1.3 ms on a quiet machine; the rest is scheduling on a busy
# 2-vCPU one
TTFT_TOLERANCE_MS = 10
REQUEST = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
           "messages": [{"role": "user", "content": "hi"}]}

_binary = None


def go_client():
    """The client, built once per run, stripped of symbols and DWARF."""
    global _binary
    if _binary:
        return _binary
    if not shutil.which("go"):
        raise e2e.Skip("go is not installed (make deps: golang-go)")
    out = os.path.join(e2e.tmpdir(), COMM)
    env = dict(os.environ, GOCACHE=os.path.join(e2e.tmpdir(), "gocache"), GO111MODULE="off",
               CGO_ENABLED="0", HOME=e2e.tmpdir())
    proc = subprocess.run(["go", "build", "-ldflags=-s -w", "-o", out, SOURCE],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout.decode()
    syms = subprocess.run(["readelf", "-S", out], stdout=subprocess.PIPE).stdout.decode()
    assert ".symtab" not in syms and ".gopclntab" in syms, "not stripped:\n" + syms
    _binary = out
    return out


def probed(d, path):
    status, body = d.get_json("/api/v1/probes")
    assert status == 200, (status, body)
    return next((f for f in body["files"] if f["path"] == path), None)


def run(d, url, cafile, mode, before_exit=None):
    """Starts the client, waits until discovery probed it, lets it post;
    returns its JSON result, pid and /api/v1/probes entry. before_exit(f,
    pid) runs while the client (in grow mode) still holds its probes."""
    binary = go_client()
    log = e2e.tmpfile("go_client.log")
    with open(log, "wb") as err:
        proc = subprocess.Popen([binary, url, cafile, mode, json.dumps(REQUEST)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    try:
        f = e2e.wait_for(lambda: (lambda f: f if f and proc.pid in f["pids"] else None)(
            probed(d, binary)), 15, 0.05, "the Go client probed")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, "the Go client printed nothing:\n" + open(log).read()
        if before_exit:
            before_exit(probed(d, binary), proc.pid)
        proc.stdin.close()
        assert proc.wait(30) == 0, open(log).read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return json.loads(line.decode()), proc.pid, f


def check_probes(f):
    assert f["stack"] == "Go crypto/tls" and f["version"].startswith("go1."), f
    assert f["kind"] == "executable" and f["origin"] == "discovered", f
    types = {(p["function"], p["type"]) for p in f["probes"]}
    assert {("crypto/tls.(*Conn).Write", "uprobe"), ("crypto/tls.(*Conn).Read", "uprobe"),
            ("crypto/tls.(*Conn).Read", "ret-site uprobe"),
            ("crypto/tls.(*Conn).Close", "uprobe")} <= types, types
    assert not any(p["type"] == "uretprobe" for p in f["probes"]), f["probes"]


def check_call(d, pid, r, protocol):
    [s] = e2e.finished_streams(d, pid, 1)
    assert r["status"] == 200 and r["body"].endswith("data: [DONE]\n\n"), r
    assert s["comm"] == COMM and s["pid"] == pid, s
    assert s["status"] == "completed" and s["error"] is None, s
    assert s["provider"] == "openai" and s["endpoint"] == "/v1/chat/completions", s
    assert s["protocol"] == protocol, s
    assert s["text"] == "".join(DELTAS), s
    assert s["model"] == "gpt-4o-mini", s
    assert s["usage"]["input_tokens"] == 11 and s["usage"]["output_tokens"] == 4, s["usage"]
    assert s["http_status"] == 200, s
    # TTFT as the client itself measured it (request written -> the read
    # that brought the first delta: the daemon sees that read first, the
    # client's goroutine a scheduling delay later), never below the
    # server's wait
    assert r["ttft_ms"] - TTFT_TOLERANCE_MS <= s["ttft_ms"] <= r["ttft_ms"] + 1, \
        (s["ttft_ms"], r["ttft_ms"])
    assert s["ttft_ms"] >= FIRST_DELAY_MS, s["ttft_ms"]
    assert s["dropped_bytes"] == 0, s


@e2e.test(timeout=300)
def stripped_go_client_over_http1_is_captured():
    srv = e2e.TlsServer(script={"deltas": DELTAS, "first_delay_ms": FIRST_DELAY_MS, "delay_ms": 10,
                                "usage": {"prompt_tokens": 11, "completion_tokens": 4}})
    d = e2e.Daemon()
    r, pid, f = run(d, "https://localhost:%d/v1/chat/completions" % srv.port, srv.cafile, "h1")
    assert r["proto"] == "HTTP/1.1", r
    check_probes(f)
    check_call(d, pid, r, "http/1.1")
    # and as the server measured it: its request read -> first delta sent
    [s] = e2e.finished_streams(d, pid, 1)
    gap = srv.first_delta_gap_ms(0)
    assert gap - 1 <= s["ttft_ms"] <= gap + TTFT_TOLERANCE_MS, (s["ttft_ms"], gap)


@e2e.test(timeout=300)
def stripped_go_client_over_http2_is_captured():
    model = "gpt-4o-mini"

    def sse(obj):
        return "data: %s\n\n" % json.dumps(obj)

    def delta(text):
        return sse({"model": model, "choices": [{"index": 0, "delta": {"content": text},
                                                 "finish_reason": None}]})
    pieces = [delta(t) for t in DELTAS] + [
        sse({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        sse({"model": model, "choices": [], "usage": {"prompt_tokens": 11,
                                                      "completion_tokens": 4}}),
        "data: [DONE]\n\n"]
    srv = e2e.H2Server(script={"pieces": pieces, "first_delay_ms": FIRST_DELAY_MS, "delay_ms": 10})
    d = e2e.Daemon()
    r, pid, f = run(d, "https://localhost:%d/v1/chat/completions" % srv.port, srv.cafile, "h2")
    assert r["proto"] == "HTTP/2.0", r
    check_probes(f)
    check_call(d, pid, r, "h2")


@e2e.test(timeout=300)
def goroutine_stack_growth_in_write_and_read():
    """The entry probes sit on the stack check's jbe; a Write whose
    prologue grows the goroutine stack runs it twice, and only the second
    pass is the call: the request (a byte per Write, at many stack depths)
    must come out whole, not with bytes twice. The response is read the
    same way into a buffer on the goroutine stack, which moves when a Read
    grows the stack: it must be copied from where it is at the RET."""
    srv = e2e.TlsServer(script={"deltas": DELTAS, "first_delay_ms": FIRST_DELAY_MS, "delay_ms": 10,
                                "usage": {"prompt_tokens": 11, "completion_tokens": 4}})
    d = e2e.Daemon()
    seen = {}

    def write_hits(f, pid):
        seen["hits"] = sum(p["hits"] for p in f["probes"]
                           if p["function"] == "crypto/tls.(*Conn).Write")
        seen["close"] = sum(p["hits"] for p in f["probes"]
                            if p["function"] == "crypto/tls.(*Conn).Close")
        # the client closed its tls.Conn before printing: Close ends the connection
        e2e.wait_for(lambda: not [c for c in d.get_json("/api/v1/connections")[1]["connections"]
                                  if c["pid"] == pid], 5, 0.05, "the connection ended")
        cli = subprocess.run([CLI, "--server", d.base, "probes"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=10)
        seen["cli"] = cli.stdout.decode()
    r, pid, f = run(d, "https://localhost:%d/v1/chat/completions" % srv.port, srv.cafile,
                    "grow", before_exit=write_hits)
    # more hits than writes: some Write did run its prologue twice
    assert seen["hits"] > r["writes"], (seen, r["writes"])
    assert seen["close"] >= 1, seen
    # the CLI names the stack and the Go version of the file
    [row] = [x for x in seen["cli"].splitlines() if x.endswith(go_client())]
    assert row.split()[:3] == ["executable", "Go", f["version"]], row
    check_call(d, pid, r, "http/1.1")


e2e.main()
