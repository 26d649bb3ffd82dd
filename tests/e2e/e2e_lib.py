"""Helpers and a tiny runner for the end-to-end tests (stdlib only).

A test file:

    import e2e_lib as e2e

    @e2e.test
    def streams_are_seen():
        e2e.require_bpf()                      # SKIP (FAIL when CI=true)
        srv = e2e.TlsServer(script={"deltas": ["a", "b"]})
        d = e2e.Daemon()                       # require_bpf(), then waits for /healthz
        [r] = e2e.run_client(srv, include_usage=True)
        e2e.wait_for(lambda: d.get_json("/api/v1/streams")[1], what="streams")

    e2e.main()

Every process started through this module during a test (daemon, TLS
server, spawned clients) is stopped when the test ends, pass or fail, and
dies with the runner (setpriv --pdeathsig) if the runner is killed; start
them from the test's own (main) thread. Test output: "PASS name",
"FAIL name: reason" (+ traceback and log tails), "SKIP name: reason", then
"N passed, N failed" (", N skipped" when any); exit 1 on any failure.
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import client_py
import tls_sse_server

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(E2E_DIR))
# LLMOBS_DAEMON=build/llmobsd-asan runs every test against the sanitizer build.
DAEMON = os.path.join(REPO, os.environ.get("LLMOBS_DAEMON") or os.path.join("build", "llmobsd"))
SECRET = client_py.DEFAULT_API_KEY  # the API key clients send; never served
CI = os.environ.get("CI", "").lower() == "true"

_tests = []
_live = []  # processes to stop when the current test ends
_tmp = None
_cert = None


class Skip(Exception):
    pass


class TestTimeout(Exception):
    pass


# ---- environment -------------------------------------------------------

def tmpdir():
    """This run's scratch directory (kept when a test failed)."""
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix="llmobs-e2e.")
    return _tmp


def tmpfile(name):
    """A fresh path in tmpdir() starting with name."""
    fd, path = tempfile.mkstemp(prefix=name + ".", dir=tmpdir())
    os.close(fd)
    return path


def cert():
    """(cert, key) of a self-signed localhost certificate, made once per run."""
    global _cert
    if _cert is None:
        _cert = tls_sse_server.generate_cert(tmpdir())
    return _cert


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bpf_unavailable():
    """Why the BPF daemon cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root (BPF needs root; run: sudo make test)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "no /sys/kernel/btf/vmlinux (kernel without BTF)"
    return None


def require_bpf():
    reason = bpf_unavailable()
    if reason:
        raise Skip(reason)
    if not os.access(DAEMON, os.X_OK):
        raise Skip("%s not built (run: make)" % os.path.relpath(DAEMON, REPO))


# ---- polling and HTTP --------------------------------------------------

def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate() until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except (OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def http_get(url, timeout=5.0):
    """(status, headers, body bytes); HTTP error statuses are returned too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url, timeout=5.0):
    """(status, parsed JSON body); ValueError if the body is not JSON."""
    status, _headers, body = http_get(url, timeout)
    return status, json.loads(body)


# ---- managed processes -------------------------------------------------

def _spawn(argv, **kw):
    """Popen that dies with this process even if it is SIGKILLed."""
    if shutil.which("setpriv"):
        argv = ["setpriv", "--pdeathsig", "TERM", "--"] + list(argv)
    return subprocess.Popen(argv, **kw)


class Managed:
    """A child process stopped at the end of the test that started it."""

    def __init__(self, name, argv, log_path, stdout=None, env=None, stdin=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = _spawn(argv, stdout=stdout or self.log, stderr=self.log,
                           stdin=stdin or subprocess.DEVNULL, env=env)
        _live.append(self)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, grace=10.0):
        """SIGTERM, then SIGKILL after grace seconds; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe:
                pipe.close()
        self.log.close()
        if self in _live:
            _live.remove(self)
        return self.proc.returncode

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Daemon(Managed):
    """build/llmobsd --listen 127.0.0.1:PORT ARGS, healthy on return."""

    def __init__(self, *args, port=None, wait=True, timeout=30.0, binary=DAEMON, env=None):
        if binary == DAEMON and "--replay" not in args:
            require_bpf()
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        # a store of the test's own unless it names one (never the host's)
        if "--store" not in args:
            args = ("--store", tmpfile("llmobs.db")) + tuple(args)
        argv = [binary, "--listen", "127.0.0.1:%d" % self.port] + list(args)
        super().__init__("llmobsd", argv, tmpfile("llmobsd.log"), env=env)
        if wait:
            self.wait_healthy(timeout)

    def wait_healthy(self, timeout=30.0):
        def healthy():
            if not self.alive():
                raise AssertionError("llmobsd exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            return self.get("/healthz")[0] == 200
        wait_for(healthy, timeout, 0.1, "llmobsd /healthz 200")

    def url(self, path):
        return self.base + path

    def get(self, path, timeout=5.0):
        return http_get(self.url(path), timeout)

    def get_json(self, path, timeout=5.0):
        return get_json(self.url(path), timeout)


class TlsServer(Managed):
    """tests/e2e/tls_sse_server.py on 127.0.0.1, listening on return.

    script: a dict (every request) or a list of dicts (request i uses item
    i, the last one repeating); see tls_sse_server.py."""

    def __init__(self, script=None, max_requests=0, timeout=600, python=None, args=()):
        cert_path, key_path = cert()
        self.cafile = cert_path
        self.request_log = tmpfile("tls_server.requests")
        argv = [python or sys.executable, os.path.join(E2E_DIR, "tls_sse_server.py"),
                "--cert", cert_path, "--key", key_path, "--log", self.request_log,
                "--timeout", str(timeout)]
        if script is not None:
            script_path = tmpfile("tls_server.script")
            with open(script_path, "w") as f:
                json.dump(script, f)
            argv += ["--script", script_path]
        if max_requests:
            argv += ["--max-requests", str(max_requests)]
        argv += list(args)
        super().__init__("tls_sse_server", argv, tmpfile("tls_server.log"),
                         stdout=subprocess.PIPE)
        self.port = self._read_port(10.0)

    def _read_port(self, timeout):
        """The PORT line; the server prints nothing to stdout after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("PORT "):
                return int(line.split()[1])
            if not line and not self.alive():
                break
        raise AssertionError("tls_sse_server did not start:\n" + self.log_tail())

    def log_lines(self):
        with open(self.request_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def requests(self):
        """One dict per request served so far (see the server's --log)."""
        return [r for r in self.log_lines() if "timing_of" not in r]

    def first_delta_gap_ms(self, n=0, piece=None):
        """The server's own time from reading request n to sending its
        first content delta (a streamed chat completion's), or raw piece
        number `piece`."""
        t = next(r for r in self.log_lines() if r.get("timing_of") == n)
        sent = t["t_first_delta_sent_ns"] if piece is None else t["t_pieces_sent_ns"][piece]
        return (sent - t["t_request_read_ns"]) / 1e6


# Debian's own Python: python3-h2 and python3-httpx are installed for it.
DEBIAN_PYTHON = "/usr/bin/python3"


class DebianPyServer(Managed):
    """A scripted TLS server of tests/e2e/ (SCRIPT.py) on Debian's Python,
    listening on 127.0.0.1 on return; script as in SCRIPT.py; its --log
    lines are requests()."""

    def __init__(self, name, script=None, args=(), timeout=600):
        cert_path, key_path = cert()
        self.cafile = cert_path
        self.request_log = tmpfile(name + ".requests")
        argv = [DEBIAN_PYTHON, os.path.join(E2E_DIR, name + ".py"), "--cert", cert_path,
                "--key", key_path, "--log", self.request_log, "--timeout", str(timeout),
                *args]
        if script is not None:
            script_path = tmpfile(name + ".script")
            with open(script_path, "w") as f:
                json.dump(script, f)
            argv += ["--script", script_path]
        super().__init__(name, argv, tmpfile(name + ".log"), stdout=subprocess.PIPE)
        deadline = time.monotonic() + 10
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            line = self.proc.stdout.readline().decode()
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
            elif not line and not self.alive():
                break
        if self.port is None:
            raise AssertionError("%s did not start:\n%s" % (name, self.log_tail()))

    def requests(self):
        with open(self.request_log) as f:
            return [json.loads(line) for line in f if line.strip()]


class H2Server(DebianPyServer):
    """tests/e2e/h2_server.py: TLS with ALPN h2 + http/1.1, or cleartext h2c
    with plain=True."""

    def __init__(self, script=None, plain=False, timeout=600):
        super().__init__("h2_server", script, ["--plain"] if plain else [], timeout)


class WsServer(DebianPyServer):
    """tests/e2e/ws_server.py: the Responses API (/v1/responses) and the
    Realtime API (/v1/realtime) over WebSocket on TLS, permessage-deflate
    with context takeover unless told otherwise."""

    def __init__(self, script=None, no_context_takeover=False, no_compression=False,
                 timeout=600):
        args = (["--no-context-takeover"] if no_context_takeover else []) + (
            ["--no-compression"] if no_compression else [])
        super().__init__("ws_server", script, args, timeout)


def api_ok(d, path, **params):
    """GET path?params from daemon d: its JSON, which must come with 200."""
    if params:
        path += "?" + urllib.parse.urlencode(params)
    code, body = d.get_json(path)
    assert code == 200, (path, code, body)
    return body


def streams(d, **filters):
    """GET /api/v1/streams with filters; the list (asserts 200)."""
    q = "&".join("%s=%s" % kv for kv in filters.items())
    status, body = d.get_json("/api/v1/streams" + ("?" + q if q else ""))
    assert status == 200, (status, body)
    return body["streams"]


def finished_streams(d, pid, n=1, timeout=15):
    """Waits until pid has n finished streams; returns them oldest first."""
    def done():
        got = [s for s in streams(d, pid=pid, limit=n + 100) if s["status"] != "streaming"]
        return got if len(got) >= n else None
    got = wait_for(done, timeout, 0.05, "%d finished stream(s) of pid %d" % (n, pid))
    return list(reversed(got))


class Events:
    """GET /api/v1/events followed in a thread: .events is a list of
    (type, data) in arrival order."""

    def __init__(self, d, types=None):
        import http.client
        import threading
        self.events = []
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
        path = "/api/v1/events" + ("?types=" + ",".join(types) if types else "")
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        assert self.resp.getheader("Content-Type") == "text/event-stream"
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        typ = None
        try:
            for raw in self.resp:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("event: "):
                    typ = line[7:]
                elif line.startswith("data: "):
                    self.events.append((typ, json.loads(line[6:])))
        except (OSError, ValueError):
            pass

    def wait(self, what, pred, timeout=10):
        """Waits for events (type, data) matching pred; returns them."""
        return wait_for(lambda: [e for e in list(self.events) if pred(*e)], timeout, 0.05, what)

    def close(self):
        self.conn.close()


def metric(d, family, label=None):
    """The sum of /metrics samples of family (whose labels contain label)."""
    status, _, body = d.get("/metrics")
    assert status == 200
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(family) and (label is None or label in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def no_secret(d):
    """The clients' API key is served nowhere."""
    for path in ("/api/v1/streams", "/metrics", "/api/v1/stats", "/api/v1/connections"):
        assert SECRET.encode() not in d.get(path)[2], path


def sse(*events):
    """SSE event strings from (event name or None, JSON object) pairs."""
    return ["%sdata: %s\n\n" % ("event: %s\n" % name if name else "", json.dumps(obj))
            for name, obj in events]


def anthropic_sse(*texts, model="claude-sonnet-4-5", input_tokens=12, output_tokens=3):
    """An Anthropic Messages stream: one text delta per text, then the end."""
    return sse(
        ("message_start", {"type": "message_start", "message": {
            "model": model, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
        *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": t}}) for t in texts],
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": output_tokens}}),
        ("message_stop", {"type": "message_stop"}))


def client_hello():
    """A file holding the first flight of a real TLS client (Python's ssl on
    memory BIOs): what a TLS stack without probes writes to its socket."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert hello[0] == 0x16 and hello[5] == 0x01, hello[:8]
    path = tmpfile("client_hello")
    with open(path, "wb") as f:
        f.write(hello)
    return path


# ---- clients -----------------------------------------------------------

def client_argv(port, cafile, python=None, **opts):
    """client_py.py command line; opts are its options with '_' for '-'
    (True: flag, False: --no-FLAG, dict script: JSON)."""
    argv = [python or sys.executable, os.path.join(E2E_DIR, "client_py.py"),
            "--port", str(port), "--cafile", cafile]
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + key.replace("_", "-"))
        elif value is not None:
            argv += [flag, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    return argv


def parse_client_output(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def daemon_joins(argv, served, rounds, pause=0.3):
    """A daemon that joins a connection already in use: the client (argv,
    given --wait-file FLAG) makes round 0 before the daemon starts, then
    waits for FLAG.<k> before each round k; the rounds are released one by
    one, each served (served() counts what the server answered) before the
    next. Returns the daemon and the client's JSON lines."""
    flag = tmpfile("round")
    out_path = tmpfile("join.out")
    with open(out_path, "wb") as out:
        cl = Managed("client", list(argv) + ["--wait-file", flag], tmpfile("join.log"),
                     stdout=out)
        wait_for(lambda: served() >= 1, 10, 0.05, "round 0 served")
        time.sleep(0.3)
        d = Daemon()
        for k in range(1, rounds):
            open("%s.%d" % (flag, k), "w").close()
            wait_for(lambda: served() >= k + 1, 10, 0.05, "round %d served" % k)
            time.sleep(pause)
        cl.proc.wait(30)
    return d, parse_client_output(open(out_path).read())


def run_client(server, timeout=60, **opts):
    """Runs client_py.py against a TlsServer; returns its per-request dicts."""
    argv = client_argv(server.port, server.cafile, **opts)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    results = parse_client_output(proc.stdout.decode())
    want = int(opts.get("requests") or 1)
    if len(results) != want:
        raise AssertionError("client printed %d results, want %d (exit %d): %s"
                             % (len(results), want, proc.returncode,
                                proc.stderr.decode()[-2000:]))
    return results


class Client(Managed):
    """client_py.py running in the background (e.g. with wait_before_start).
    env: its environment; prefix: argv words run before it (a wrapper that
    execs the rest)."""

    def __init__(self, server, env=None, prefix=(), **opts):
        argv = list(prefix) + client_argv(server.port, server.cafile, **opts)
        self.out_path = tmpfile("client.out")
        self.out = open(self.out_path, "wb")
        super().__init__("client_py", argv, tmpfile("client.log"), stdout=self.out, env=env)

    def results(self, timeout=60):
        self.proc.wait(timeout)
        with open(self.out_path) as f:
            return parse_client_output(f.read())

    def stop(self, grace=10.0):
        self.out.close()
        return super().stop(grace)


def run_curl(server, body, timeout=60, extra=()):
    """curl --http1.1 -N POST to the server; returns its output and timings."""
    marker = "\n@@curl@@"
    argv = ["curl", "-sS", "--http1.1", "-N", "--cacert", server.cafile,
            "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer " + SECRET,
            "--data-binary", json.dumps(body),
            "-w", marker + "%{http_code} %{time_pretransfer} %{time_starttransfer} %{time_total}",
            *extra, "https://localhost:%d/v1/chat/completions" % server.port]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    out = proc.stdout.decode("utf-8", "replace")
    if marker not in out:
        raise AssertionError("curl failed (exit %d): %s" % (proc.returncode, proc.stderr))
    body_text, stats = out.rsplit(marker, 1)
    code, pre, start, total = stats.split()
    return {"exit": proc.returncode, "status": int(code), "body": body_text,
            "pretransfer_ms": float(pre) * 1e3, "starttransfer_ms": float(start) * 1e3,
            "total_ms": float(total) * 1e3}


# ---- runner ------------------------------------------------------------

def test(fn=None, timeout=120):
    """Registers a test: @test or @test(timeout=SECONDS)."""
    def register(f):
        _tests.append((f.__name__, f, timeout))
        return f
    return register(fn) if fn else register


def _stop_all():
    for proc in list(_live):
        try:
            proc.stop()
        except OSError:
            pass


def _on_alarm(_sig, _frame):
    raise TestTimeout("test timed out")


def _on_term(sig, _frame):
    raise SystemExit(128 + sig)


def _run_one(name, fn, timeout):
    """Returns ("PASS"|"FAIL"|"SKIP", reason)."""
    signal.alarm(timeout)
    try:
        fn()
        return "PASS", ""
    except Skip as e:
        if CI:
            return "FAIL", "skipped under CI=true: %s" % e
        return "SKIP", str(e)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        detail = traceback.format_exc()
        for proc in _live:
            tail = proc.log_tail()
            if tail:
                detail += "--- %s log (%s):\n%s\n" % (proc.name, proc.log_path, tail)
        return "FAIL", reason + "\n" + "\n".join("    " + l for l in detail.splitlines())
    finally:
        signal.alarm(0)
        _stop_all()


def main():
    """Runs the registered tests (argv: optional name substrings)."""
    atexit.register(_stop_all)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    wanted = sys.argv[1:]
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    finished = False
    try:
        for name, fn, timeout in _tests:
            if wanted and not any(w in name for w in wanted):
                continue
            verdict, reason = _run_one(name, fn, timeout)
            counts[verdict] += 1
            print("%s %s%s" % (verdict, name, ": " + reason if reason else ""), flush=True)
        finished = True
    finally:
        if _tmp and (counts["FAIL"] or not finished):
            print("logs kept in %s" % _tmp, flush=True)
        elif _tmp:
            shutil.rmtree(_tmp, ignore_errors=True)
    summary = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        summary += ", %d skipped" % counts["SKIP"]
    print(summary, flush=True)
    sys.exit(1 if counts["FAIL"] else 0)
