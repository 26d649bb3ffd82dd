#!/usr/bin/env python3
"""Nothing unparsed is silent, with real BPF: connections the daemon sees
but cannot parse are listed by GET /api/v1/connections?state=unparsed (and
llmobs-cli connections, and top's footer) with a guess and a reason, logged
once per process and reason, and counted; parsed ones say their protocol.
Cases: a TLS client speaking a binary protocol, gRPC over HTTP/2, and TLS
ciphertext on a followed plaintext port from a TLS stack without probes
(a ClientHello written straight to the socket)."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")

# A TLS echo server, and a client with two connections that speak a binary
# protocol and stay open until a file appears.
ECHO_SERVER = r"""
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(8)
print("PORT %d" % ls.getsockname()[1], flush=True)
def serve(c):
    with ctx.wrap_socket(c, server_side=True) as s:
        while True:
            d = s.recv(4096)
            if not d:
                return
            s.sendall(d)
while True:
    threading.Thread(target=serve, args=(ls.accept()[0],), daemon=True).start()
"""

BINARY_CLIENT = r"""
import os, socket, ssl, sys, time
port, cafile, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
conns = []
for i in range(2):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    msg = b"\x00\x01\x02\x03binary-protocol\xff\xfe" + bytes([i])
    s.sendall(msg)
    assert s.recv(4096) == msg
    conns.append(s)
print("READY", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(flag) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


def unparsed(d, pid=None):
    status, body = d.get_json("/api/v1/connections?state=unparsed")
    assert status == 200, body
    return [c for c in body["connections"] if pid is None or c["pid"] == pid], body["unparsed"]


def start(name, src, *args, stdout=subprocess.PIPE):
    return e2e.Managed(name, [e2e.DEBIAN_PYTHON, "-c", src, *map(str, args)],
                       e2e.tmpfile(name + ".log"), stdout=stdout)


def read_line(proc, prefix, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.proc.stdout.readline().decode()
        if line.startswith(prefix):
            return line.strip()
        if not line and not proc.alive():
            break
    raise AssertionError("%s never said %s:\n%s" % (proc.name, prefix, proc.log_tail()))


def cli(d, *args):
    out = subprocess.run([CLI, "--server", d.base, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


@e2e.test
def tls_binary_protocol_is_listed_logged_once_and_counted():
    crt, key = e2e.cert()
    srv = start("echo_server", ECHO_SERVER, crt, key)
    port = int(read_line(srv, "PORT ").split()[1])
    d = e2e.Daemon()
    flag = e2e.tmpfile("release")
    os.unlink(flag)
    cl = start("binary_client", BINARY_CLIENT, port, crt, flag)
    read_line(cl, "READY")
    pid = cl.proc.pid

    def listed():
        got, _ = unparsed(d, pid)
        return got if len(got) == 2 else None
    conns = e2e.wait_for(listed, 10, 0.05, "the client's two connections listed")
    for c in conns:
        assert c["state"] == "unparsed" and c["transport"] == "tls", c
        assert c["protocol"] == "binary" and c["comm"] == "python3", c
        assert c["reason"] == "not HTTP/1.x, HTTP/2 or WebSocket", c
        assert c["bytes_written"] == 22 and c["peer"] == "127.0.0.1:%d" % port, c
        assert c["since"].endswith("Z"), c
    _, total = unparsed(d)
    status, _, body = d.get("/metrics")
    gauge = [line for line in body.decode().splitlines()
             if line.startswith("llmobs_connections_unparsed ")]
    assert gauge == ["llmobs_connections_unparsed %d" % total], (gauge, total)
    assert total >= 2, total  # the echo server's side is a blind spot too
    # once per process and reason, however many connections
    log = open(d.log_path, errors="replace").read()
    lines = [x for x in log.splitlines() if "pid %d (python3)" % pid in x]
    assert len(lines) == 1, lines
    assert "is not parsed: not HTTP/1.x, HTTP/2 or WebSocket (looks like binary)" in lines[0]
    # the CLI says so too
    table = cli(d, "connections")
    assert sum(1 for x in table.splitlines() if x.startswith("%-7d" % pid)) == 2, table
    assert "not parsed" in table.splitlines()[-1], table
    # (the host's other blind spots may come and go meanwhile: at least ours)
    top = cli(d, "top", "--once")
    foot = re.search(r"^(\d+) connection\(s\) seen but not parsed: llmobs-cli connections$",
                     top, re.M)
    assert foot and int(foot.group(1)) >= 2, top
    assert json.loads(cli(d, "connections", "--json"))["unparsed"] >= 2
    # bad filters say why
    status, body = d.get_json("/api/v1/connections?state=bogus")
    assert status == 400 and "state must be" in body["error"], body
    # gone with the client
    open(flag, "w").close()
    cl.proc.wait(10)
    e2e.wait_for(lambda: not unparsed(d, pid)[0], 10, 0.05, "the connections closed")


@e2e.test
def grpc_over_http2_is_listed_not_parsed():
    srv = e2e.H2Server(script={"pieces": ["x"], "content_type": "application/grpc"})
    d = e2e.Daemon()
    flag = e2e.tmpfile("round")
    argv = [e2e.DEBIAN_PYTHON, os.path.join(e2e.E2E_DIR, "h2_client.py"), "--port",
            str(srv.port), "--cafile", srv.cafile, "--rounds", "2", "--wait-file", flag,
            "--path", "/google.cloud.aiplatform.v1.PredictionService/StreamGenerateContent",
            "--content-type", "application/grpc"]
    cl = e2e.Managed("h2_client", argv, e2e.tmpfile("grpc.log"))
    e2e.wait_for(lambda: len(srv.requests()) >= 1, 10, 0.05, "the first request served")

    def listed():
        got, _ = unparsed(d, cl.proc.pid)
        return got or None
    [c] = e2e.wait_for(listed, 10, 0.05, "the gRPC connection listed")
    assert c["protocol"] == "grpc" and c["transport"] == "tls", c
    assert c["reason"] == "gRPC over HTTP/2: its messages are not decoded", c
    open(flag + ".1", "w").close()
    cl.proc.wait(10)
    assert not e2e.streams(d), e2e.streams(d)  # not a call, and not a wrong one
    # the plain HTTP/2 calls of the other tests are listed as parsed while open


# A TLS client with no library the daemon probes: its ClientHello, written
# straight to the socket, then the connection held open until released.
RAW_TLS_CLIENT = r"""
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
print("SENT", flush=True)
for _ in range(3000):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.02)
"""


@e2e.test(timeout=120)
def tls_ciphertext_on_a_followed_port_names_the_blind_spot():
    """TLS from a stack without probes on a followed plaintext port is
    ciphertext to the socket tracepoints: listed, never parsed."""
    crt, key = e2e.cert()
    srv = start("echo_server", ECHO_SERVER, crt, key)
    port = int(read_line(srv, "PORT ").split()[1])
    d = e2e.Daemon("--plain-port", str(port))
    flag = e2e.tmpfile("release")
    os.unlink(flag)
    cl = start("raw_tls_client", RAW_TLS_CLIENT, port, e2e.client_hello(), flag)
    read_line(cl, "SENT")

    def listed():
        got, _ = unparsed(d, cl.proc.pid)
        return got or None
    [c] = e2e.wait_for(listed, 10, 0.05, "the raw TLS client's connection listed")
    assert c["transport"] == "tcp" and c["protocol"] == "tls", c
    assert "TLS ciphertext on a followed socket" in c["reason"], c
    assert not e2e.streams(d)
    open(flag, "w").close()
    cl.proc.wait(10)


e2e.main()
