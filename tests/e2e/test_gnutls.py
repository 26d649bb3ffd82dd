#!/usr/bin/env python3
"""GnuTLS end to end with real BPF: the system libgnutls.so.30 probed with
no flags, and real GnuTLS clients with no symbols added: wget, gnutls-cli
(keep-alive, a response cut by a reset), libcurl3-gnutls (HTTP/1.1 and
HTTP/2 through ALPN) and libgnutls itself on a non-blocking socket (writes
that return GNUTLS_E_AGAIN, retried both ways, and partial writes), the
last two driven through ctypes."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
from e2e_lib import metric, no_secret  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
CURL_GNUTLS = os.path.join(e2e.E2E_DIR, "curl_gnutls_client.py")
ANTHROPIC = e2e.anthropic_sse("Bon", "jour")
BODY = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}]}


def require(tool):
    for path in ("/usr/bin/" + tool,):
        if os.access(path, os.X_OK):
            return path
    raise AssertionError("%s not installed (make deps installs it)" % tool)


def gnutls_file(d):
    """The probed libgnutls in /api/v1/probes, or None."""
    status, body = d.get_json("/api/v1/probes")
    assert status == 200, body
    return next((f for f in body["files"] if f.get("stack") == "GnuTLS"), None)


def one(d, timeout=15, **f):
    def done():
        got = [s for s in e2e.streams(d, **f) if s["status"] != "streaming"]
        return got[0] if got else None
    return e2e.wait_for(done, timeout, 0.05, "a finished call %s" % f)


def libcurl(srv, path, body, http2):
    out = subprocess.run([sys.executable, CURL_GNUTLS, "--cafile", srv.cafile,
                          "--url", "https://localhost:%d%s" % (srv.port, path),
                          "--body", json.dumps(body), "--header",
                          "Authorization: Bearer " + e2e.SECRET] + (["--http2"] if http2 else []),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert out.returncode == 0, (out.stdout, out.stderr.decode()[-2000:])
    r = json.loads(out.stdout)
    # libcurl's own TTFT: the request sent -> the first response byte
    r["ttft_ms"] = r["starttransfer_ms"] - r["pretransfer_ms"]
    return r


@e2e.test
def wget_stream_is_captured_from_the_system_libgnutls():
    wget = require("wget")
    srv = e2e.TlsServer(script={"deltas": ["gnu", "tls", " ok"], "first_delay_ms": 150,
                                "delay_ms": 20})
    d = e2e.Daemon()
    f = gnutls_file(d)
    assert f and f["origin"] == "pinned" and f["kind"] == "library", f
    assert f["version"] == "3.4+" and f["gnutls"] == "libgnutls.so.30", f
    fns = {(p["function"], p["type"]) for p in f["probes"]}
    assert {("gnutls_record_recv", "uprobe"), ("gnutls_record_recv", "uretprobe"),
            ("gnutls_record_send2", "uprobe"), ("gnutls_deinit", "uprobe")} <= fns, fns
    # gnutls_record_send tail-calls send2 through its PLT stub: one probe for both
    place = {fn["function"]: fn for fn in f["functions"]}
    send = place["gnutls_record_send"]
    assert send["placement"] == "covered", send
    assert send["covered_by"] == "gnutls_record_send2", send
    assert not any(p["function"] == "gnutls_record_send" for p in f["probes"]), f["probes"]
    out = subprocess.run([wget, "-q", "-O-", "--ca-certificate", srv.cafile,
                          "--header", "Content-Type: application/json",
                          "--header", "Authorization: Bearer " + e2e.SECRET,
                          "--post-data", json.dumps(BODY),
                          "https://localhost:%d/v1/chat/completions" % srv.port],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0 and b"data: [DONE]" in out.stdout, out
    s = one(d, comm="wget")
    assert s["status"] == "completed" and s["error"] is None, s
    assert s["text"] == "gnutls ok" and s["model"] == "gpt-4o", s
    assert s["protocol"] == "http/1.1" and s["http_status"] == 200, s
    assert s["usage"]["input_tokens"] == 11 and s["usage"]["output_tokens"] == 4, s
    assert s["peer"] == "127.0.0.1:%d" % srv.port, s
    # the server waits 150 ms before its first delta: that is the TTFT
    assert 150 <= s["ttft_ms"] <= 150 + 60, s["ttft_ms"]
    f = gnutls_file(d)
    assert f["hits"] > 0, f
    cli = subprocess.run([CLI, "--server", d.base, "probes"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=10)
    assert cli.returncode == 0 and "GnuTLS 3.4+" in cli.stdout.decode(), cli
    assert f["path"] in cli.stdout.decode(), cli
    no_secret(d)


@e2e.test
def libcurl_gnutls_http1_and_http2():
    srv1 = e2e.TlsServer(script={"deltas": ["one", " dot", " one"], "first_delay_ms": 80})
    srv2 = e2e.H2Server(script={"pieces": ANTHROPIC, "first_delay_ms": 80, "delay_ms": 20})
    d = e2e.Daemon()
    r1 = libcurl(srv1, "/v1/chat/completions", BODY, http2=False)
    assert r1["status"] == 200 and r1["http_version"] == "1.1", r1
    s1 = one(d, pid=r1["pid"])
    assert s1["protocol"] == "http/1.1" and s1["status"] == "completed", s1
    assert s1["text"] == "one dot one" and s1["model"] == "gpt-4o", s1
    assert s1["usage"]["output_tokens"] == 4, s1
    assert abs(s1["ttft_ms"] - r1["ttft_ms"]) <= 5, (s1["ttft_ms"], r1["ttft_ms"])
    body = {"model": "claude-sonnet-4-5", "stream": True, "max_tokens": 64,
            "messages": [{"role": "user", "content": "salut"}]}
    r2 = libcurl(srv2, "/v1/messages", body, http2=True)
    assert r2["status"] == 200 and r2["http_version"] == "2", r2
    s2 = one(d, pid=r2["pid"])
    assert s2["protocol"] == "h2" and s2["provider"] == "anthropic", s2
    assert s2["status"] == "completed" and s2["text"] == "Bonjour", s2
    assert s2["model"] == "claude-sonnet-4-5", s2
    assert s2["usage"]["input_tokens"] == 12 and s2["usage"]["output_tokens"] == 3, s2
    # libcurl's start-transfer time over HTTP/2 is its first frame (SETTINGS), not
    # the response: the server's schedule bounds it instead (80 ms to the headers
    # and message_start, 20 ms more to the first text delta)
    assert 100 <= s2["ttft_ms"] <= 100 + 60, s2["ttft_ms"]
    assert metric(d, "llmobs_capture_ignored_bytes_total", 'reason="not_http"') == 0
    no_secret(d)


def request(body):
    raw = json.dumps(body).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer " + e2e.SECRET.encode() +
            b"\r\nContent-Length: %d\r\n\r\n" % len(raw) + raw)


def read_until(stream, marker, timeout=10):
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert time.monotonic() < deadline, got[-300:]
        piece = os.read(stream.fileno(), 65536)
        if not piece:
            break
        got += piece
    return got


@e2e.test
def gnutls_cli_keep_alive_then_a_cut_response():
    tool = require("gnutls-cli")
    srv = e2e.TlsServer(script=[{"deltas": ["first"]},
                                {"deltas": ["cut", " here", " never"], "abort_after": 2,
                                 "delay_ms": 30}])
    d = e2e.Daemon()
    p = e2e.Managed("gnutls-cli", [tool, "--logfile", e2e.tmpfile("gnutls-cli.info"),
                                   "--x509cafile", srv.cafile, "-p", str(srv.port),
                                   "localhost"], e2e.tmpfile("gnutls-cli.log"),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.proc.stdin.write(request(BODY))
    p.proc.stdin.flush()
    first = read_until(p.proc.stdout, b"data: [DONE]")
    assert b"first" in first, first
    p.proc.stdin.write(request(dict(BODY, model="gpt-4o-mini")))
    p.proc.stdin.flush()
    read_until(p.proc.stdout, b"\x00never\x00")  # the reset ends it first
    p.proc.wait(10)
    got = e2e.finished_streams(d, p.proc.pid, n=2)
    assert [s["comm"] for s in got] == ["gnutls-cli"] * 2, got
    assert got[0]["status"] == "completed" and got[0]["text"] == "first", got[0]
    assert got[1]["status"] == "aborted" and got[1]["text"] == "cut here", got[1]
    assert got[1]["model"] == "gpt-4o-mini", got[1]
    assert got[1]["error"].endswith("before the response completed"), got[1]
    no_secret(d)


GNUTLS_CLIENT = os.path.join(e2e.E2E_DIR, "gnutls_client.py")


@e2e.test
def nonblocking_writes_retried_and_partial_keep_the_stream_exact():
    # a slow reader with a small buffer: a 3 MB request fills the socket
    srv = e2e.TlsServer(args=["--rcvbuf", "65536", "--read-delay-ms", "300"])
    d = e2e.Daemon()
    runs = [("same", 0), ("null", 0), ("null", 4096)]
    for retry, max_record in runs:
        out = subprocess.run([sys.executable, GNUTLS_CLIENT, "--port", str(srv.port),
                              "--cafile", srv.cafile, "--body-bytes", "3000000",
                              "--retry", retry, "--max-record", str(max_record),
                              "--model", "gpt-4o", "--model", "gpt-4o-mini"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert out.returncode == 0, out.stderr.decode()[-2000:]
        r = json.loads(out.stdout)
        assert r["eagain"] > 0, r  # the retries this test is about happened
        assert (r["partial"] > 0) == (max_record > 0), r
        got = e2e.finished_streams(d, r["pid"], n=2)
        # a copy made twice, or a tail lost, would misalign the second request
        assert [s["model"] for s in got] == ["gpt-4o", "gpt-4o-mini"], (retry, got)
        assert all(s["status"] == "completed" and s["text"] == "Hello, world!"
                   for s in got), (retry, got)
        assert all(s["error"] is None for s in got), got
    assert metric(d, "llmobs_capture_duplicate_bytes_total") == 0
    assert metric(d, "llmobs_capture_gaps_total") == 0
    assert metric(d, "llmobs_capture_lost_bytes_total") == 0
    # the tails of the partial writes were copied and taken back, counted
    assert metric(d, "llmobs_capture_write_retry_bytes_total") > 0


e2e.main()
