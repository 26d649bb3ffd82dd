#!/usr/bin/env python3
"""Zero-config coverage with real BPF: the daemon finds OpenSSL wherever a
process has it (node's own binary, a private libssl copy loaded before or
after the daemon starts), attributes calls to cgroups and containers,
filters by process name and cgroup in BPF, ends connections on SSL_shutdown
and close(2), and costs nothing to programs that never use TLS."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
NODE_DIR = os.path.join(e2e.E2E_DIR, "node")
SYSTEM_LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
SCRIPT = {"deltas": ["zero", "-config", " cover", "age"], "first_delay_ms": 50,
          "delay_ms": 20, "usage": {"prompt_tokens": 11, "completion_tokens": 4}}


streams = e2e.streams
finished_streams = e2e.finished_streams


def probes(d):
    status, body = d.get_json("/api/v1/probes")
    assert status == 200, (status, body)
    return body


def probed_file(d, path):
    """The /api/v1/probes entry of path, or None."""
    for f in probes(d)["files"]:
        if f["path"] == path:
            return f
    return None


def mapped_by(path):
    """pids whose maps show path (what the daemon's own scan would find)."""
    st = os.stat(path)
    want = "%x:%02x %d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/maps" % pid) as f:
                if any(want in line for line in f):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def private_libssl():
    """A copy of the system libssl (another inode) and an env that loads it."""
    if not os.path.exists(SYSTEM_LIBSSL):
        raise e2e.Skip("no %s to copy" % SYSTEM_LIBSSL)
    libdir = os.path.join(e2e.tmpdir(), "privlib-" + uuid.uuid4().hex[:8])
    os.makedirs(libdir)
    path = os.path.join(libdir, "libssl.so.3")
    shutil.copy2(SYSTEM_LIBSSL, path)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    return path, env


def assert_maps(pid, path):
    with open("/proc/%d/maps" % pid) as f:
        assert path in f.read(), "pid %d does not map %s" % (pid, path)


def check_stream(s, r):
    assert s["status"] == "completed", s
    assert s["text"] == r["text"] == "".join(SCRIPT["deltas"]), (s["text"], r["text"])
    assert s["usage"]["input_tokens"] == 11 and s["usage"]["output_tokens"] == 4, s["usage"]
    assert s["dropped_bytes"] == 0 and s["error"] is None, s


# ---- node: OpenSSL inside the executable, memory BIOs -------------------

def node_client(srv, requests, stream=True):
    if not shutil.which("node"):
        raise e2e.Skip("node is not installed (make deps)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openai")):
        raise e2e.Skip("npm package openai missing (make deps runs npm ci in %s)" % NODE_DIR)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=srv.cafile)
    argv = ["node", os.path.join(NODE_DIR, "client.mjs"), "--port", str(srv.port),
            "--requests", str(requests)] + ([] if stream else ["--no-stream"])
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=90)
    out = e2e.parse_client_output(proc.stdout.decode())
    assert proc.returncode == 0 and len(out) == requests, \
        "node client exit %d: %s" % (proc.returncode, proc.stderr.decode()[-2000:])
    return out


@e2e.test
def node_openai_sdk_is_captured_from_the_node_binary():
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon()
    node = os.path.realpath(shutil.which("node") or "node")
    results = node_client(srv, 3)
    got = finished_streams(d, results[0]["pid"], 3)
    # three requests on one keep-alive connection: paired in order, exact text
    for s, r in zip(got, results):
        check_stream(s, r)
        assert s["comm"] == "node" and s["pid"] == r["pid"], s
        assert s["provider"] == "openai" and s["model"] == "gpt-4o-mini", s
    f = probed_file(d, node)
    assert f, probes(d)
    assert f["kind"] == "executable" and f["origin"] == "discovered", f
    fns = {(p["function"], p["type"]) for p in f["probes"]}
    assert {("SSL_read", "uprobe"), ("SSL_read", "uretprobe"), ("SSL_write", "uprobe"),
            ("SSL_shutdown", "uprobe")} <= fns, fns
    assert f["hits"] >= 6, f
    # /metrics and the CLI show it too
    status, _, text = d.get("/metrics")
    assert 'llmobs_probed_files{kind="executable"} 1' in text.decode(), text
    assert "llmobs_probe_attach_errors_total 0" in text.decode()
    cli = subprocess.run([CLI, "--server", d.base, "probes"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=10)
    assert cli.returncode == 0 and node in cli.stdout.decode(), cli
    # the last node process is gone: its probes go (unless another node runs)
    if not mapped_by(node):
        e2e.wait_for(lambda: probed_file(d, node) is None, 10, 0.2, "node detached")
        e2e.wait_for(lambda: re.search(r"detached \d+ probes from %s " % re.escape(node),
                                       d.log_tail(200)), 5, 0.1, "the detach logged")


# ---- libssl copies the system directories do not have --------------------

@e2e.test
def client_started_before_the_daemon_is_found_by_the_proc_scan():
    srv = e2e.TlsServer(script=SCRIPT)
    lib, env = private_libssl()
    c = e2e.Client(srv, env=env, wait_before_start=4, include_usage=True)
    e2e.wait_for(lambda: lib in open("/proc/%d/maps" % c.proc.pid).read(), 10, 0.05,
                 "the client to load its libssl")
    d = e2e.Daemon()
    f = probed_file(d, lib)
    assert f and f["origin"] == "discovered" and c.proc.pid in f["pids"], probes(d)
    assert f["kind"] == "library" and f["openssl"] == "3.x", f
    [r] = c.results()
    [s] = finished_streams(d, r["pid"])
    check_stream(s, r)
    assert probed_file(d, lib)["hits"] > 0


@e2e.test
def client_started_after_the_daemon_loading_a_private_libssl():
    srv = e2e.TlsServer(script=SCRIPT)
    lib, env = private_libssl()
    d = e2e.Daemon()
    assert probed_file(d, lib) is None
    # Attaching to a new file takes ~20 ms here (the first uprobe on an
    # inode waits for an RCU grace period): a real client spends longer than
    # that between loading libssl and its first request (SDK set-up); this
    # one waits 300 ms after `import ssl`. A faster one is covered from its
    # next request (see daemon_started_mid_connection...).
    c = e2e.Client(srv, env=env, include_usage=True, requests=2, keep_alive=True,
                   wait_before_start=0.3)
    results = c.results()
    f = probed_file(d, lib)
    assert f and f["origin"] == "discovered" and f["kind"] == "library", probes(d)
    got = finished_streams(d, r_pid(results), 2)
    for s, r in zip(got, results):
        check_stream(s, r)
    assert re.search(r"attached \d+ probes to %s " % re.escape(lib), d.log_tail(100)), \
        d.log_tail(100)


@e2e.test
def daemon_started_mid_connection_picks_up_the_next_request():
    # the server holds response 0 until the daemon is up, however long
    # the daemon takes to start
    release = os.path.join(e2e.tmpdir(), "release-response-0")
    script = [dict(SCRIPT, hold_until=release), SCRIPT]
    srv = e2e.TlsServer(script=script)
    lib, env = private_libssl()
    c = e2e.Client(srv, env=env, include_usage=True, requests=2, keep_alive=True,
                   interval=0.5)
    e2e.wait_for(lambda: lib in open("/proc/%d/maps" % c.proc.pid).read(), 10, 0.05,
                 "the client to load its libssl")
    e2e.wait_for(lambda: srv.requests(), 10, 0.05, "request 0 to reach the server")
    d = e2e.Daemon()
    assert os.path.getsize(c.out_path) == 0, "request 0 finished before the daemon started"
    open(release, "w").close()
    r0, r1 = c.results()
    [s] = finished_streams(d, r1["pid"])
    check_stream(s, r1)
    time.sleep(0.3)
    assert len(streams(d, pid=r1["pid"])) == 1, streams(d)
    # the response to the request sent before the probes existed is
    # counted, not parsed as something else
    status, stats = d.get_json("/api/v1/stats")
    p = stats["pipeline"]
    assert p["ignored_unmatched_bytes"] + p["ignored_resync_bytes"] > 0, p
    assert p["ignored_not_http_bytes"] == 0, p


def r_pid(results):
    return results[0]["pid"]


NO_TLS_PROGRAM = r"""
import http.client, http.server, ssl, sys, threading  # ssl: libssl is mapped
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1])
for _ in range(int(sys.argv[1])):
    conn.request("GET", "/"); assert conn.getresponse().read() == b"ok"
print("done", flush=True)
sys.stdin.read()  # stays alive until the test is done looking
"""


@e2e.test
def a_program_that_never_uses_tls_costs_no_probe_hits():
    lib, env = private_libssl()
    d = e2e.Daemon()
    prog = subprocess.Popen([sys.executable, "-c", NO_TLS_PROGRAM, "300"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert prog.stdout.readline().strip() == b"done"
        assert_maps(prog.pid, lib)
        # it maps the probed library and made 300 HTTP exchanges: zero hits
        f = e2e.wait_for(lambda: probed_file(d, lib), 10, 0.1, "the copy probed")
        assert prog.pid in f["pids"], f
        assert f["hits"] == 0, f
    finally:
        prog.stdin.close()
        prog.wait(10)
    # control: a TLS client on the same copy does hit it
    srv = e2e.TlsServer(script=SCRIPT)
    c = e2e.Client(srv, env=env)
    [r] = c.results()
    e2e.wait_for(lambda: (probed_file(d, lib) or {}).get("hits", 0) >= 4, 10, 0.1,
                 "TLS calls counted on the copy")



def entry_return_balance(d, path):
    """{function: (entry hits, return hits)} of path's probes that have both."""
    f = probed_file(d, path)
    if not f:
        return None
    by = {}
    for p in f["probes"]:
        by.setdefault(p["function"], {})[p["type"]] = p["hits"]
    return {fn: (h["uprobe"], h["uretprobe"]) for fn, h in by.items()
            if "uprobe" in h and "uretprobe" in h}


@e2e.test
def probe_hit_counters_of_two_files_stay_apart():
    """Two probed files used by different processes (the server on the system
    libssl, the client on a copy): each file counts its own hits, every
    return probe as often as its entry; attaching a third file clears
    nothing of theirs."""
    lib, env = private_libssl()
    d = e2e.Daemon("--libssl", lib)
    srv = e2e.TlsServer(script=SCRIPT)
    c = e2e.Client(srv, env=env, requests=3, keep_alive=True)
    assert len(c.results()) == 3

    def balanced():
        out = {}
        for path in (SYSTEM_LIBSSL, lib):
            b = entry_return_balance(d, path)
            if not b or any(e != r for e, r in b.values()) or sum(e for e, _ in b.values()) < 6:
                return None
            out[path] = b
        return out
    before = e2e.wait_for(balanced, 10, 0.2, "entry == return hits on both files")
    # a third file: another copy, probed when a process maps it
    lib3, env3 = private_libssl()
    holder = subprocess.Popen([sys.executable, "-c", "import ssl, sys; sys.stdin.read()"],
                              env=env3, stdin=subprocess.PIPE)
    try:
        e2e.wait_for(lambda: probed_file(d, lib3), 10, 0.1, "the third file probed")
        after = e2e.wait_for(balanced, 10, 0.2, "both files still balanced")
        for path in (SYSTEM_LIBSSL, lib):
            for fn, (e, _r) in before[path].items():
                assert after[path][fn][0] >= e, (path, fn, before[path], after[path])
        assert all(p["hits"] == 0 for p in probed_file(d, lib3)["probes"]), probed_file(d, lib3)
    finally:
        holder.stdin.close()
        holder.wait(10)


# ---- connection end: SSL_shutdown, close(2) ------------------------------

def ended_early(how):
    script = dict(SCRIPT, deltas=["a", "b", "c", "d", "e", "f"], delay_ms=300)
    srv = e2e.TlsServer(script=script)
    d = e2e.Daemon()
    c = e2e.Client(srv, end_after=2, end_how=how, linger=6)
    # the client is still alive, the SSL object not freed: only the
    # SSL_shutdown / close(2) probe can end the stream
    pid = c.proc.pid
    [s] = finished_streams(d, pid, timeout=4)
    assert c.alive(), "the client exited before the stream ended"
    assert s["status"] == "aborted", s
    assert s["text"].startswith("ab"), s
    return s


@e2e.test
def ssl_shutdown_ends_the_stream():
    s = ended_early("shutdown")
    assert "SSL_shutdown" in s["error"], s


@e2e.test
def closing_the_socket_ends_the_stream():
    s = ended_early("close")
    assert "socket closed" in s["error"], s


# ---- filters and attribution ----------------------------------------------

@e2e.test
def comm_filter_selects_processes_in_bpf():
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon("--comm", "e2e-wanted")
    a = e2e.Client(srv, comm="e2e-wanted", include_usage=True)
    b = e2e.Client(srv, comm="e2e-other")
    [ra], [rb] = a.results(), b.results()
    [s] = finished_streams(d, ra["pid"])
    check_stream(s, ra)
    assert s["comm"] == "e2e-wanted", s
    time.sleep(0.5)
    assert streams(d, pid=rb["pid"]) == [], streams(d)
    status, stats = d.get_json("/api/v1/stats")
    # the other client's calls were never copied: no data events for it
    assert stats["pipeline"]["connections_total"] == 1, stats



@e2e.test
def comm_is_the_process_thread_is_the_thread():
    """A request made from a named worker thread (Bun's "HTTP Client",
    tokio's "tokio-rt-worker"): comm is the process, thread the thread, and
    --comm and the API's ?comm= match the process."""
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon("--comm", "e2e-proc")
    c = e2e.Client(srv, comm="e2e-proc", thread_name="HTTP Client", include_usage=True)
    [r] = c.results()
    [s] = finished_streams(d, r["pid"])
    check_stream(s, r)
    assert s["comm"] == "e2e-proc" and s["thread"] == "HTTP Client", s
    assert s["tid"] != s["pid"], s
    assert [x["id"] for x in streams(d, comm="e2e-proc")] == [s["id"]]
    assert streams(d, comm="HTTP%20Client") == []
    out = subprocess.run([CLI, "--server", d.base, "streams", "--comm", "e2e-proc"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    assert out.returncode == 0 and "e2e-proc" in out.stdout.decode(), out
    assert "HTTP Client" not in out.stdout.decode(), out.stdout.decode()


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.startswith("cgroup2 "):
                return pre.split()[4]
    raise e2e.Skip("no cgroup2 file system mounted")


class Cgroup:
    """A cgroup v2 directory under the mount, removed at the end."""

    def __init__(self, rel):
        self.rel = rel
        self.path = os.path.join(cgroup2_mount(), rel.lstrip("/"))
        os.makedirs(self.path)

    def wrap(self):
        """argv prefix: join this cgroup, then exec the rest."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.path]

    def remove(self):
        for d in sorted((r for r, _, _ in os.walk(self.path)), key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


@e2e.test
def streams_carry_cgroup_and_container_id_and_cgroup_filter_works():
    cid = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits, like docker's
    top = "/llmobs-e2e-%s.slice" % uuid.uuid4().hex[:8]
    inner = Cgroup(top + "/docker-%s.scope" % cid)
    outer = Cgroup(top.replace("e2e-", "e2e-out-"))
    try:
        srv = e2e.TlsServer(script=SCRIPT)
        d = e2e.Daemon()
        c = e2e.Client(srv, prefix=inner.wrap(), include_usage=True)
        [r] = c.results()
        [s] = finished_streams(d, r["pid"])
        check_stream(s, r)
        assert s["cgroup"] == inner.rel, s
        assert s["container_id"] == cid, s
        d.stop()
        # --cgroup: only processes at or below the slice are traced
        d = e2e.Daemon("--cgroup", top)
        a = e2e.Client(srv, prefix=inner.wrap())
        b = e2e.Client(srv, prefix=outer.wrap())
        [ra], [rb] = a.results(), b.results()
        [s] = finished_streams(d, ra["pid"])
        assert s["container_id"] == cid, s
        time.sleep(0.5)
        assert streams(d, pid=rb["pid"]) == [], streams(d)
        # a cgroup that does not exist is a clear error
        bad = subprocess.run([e2e.DAEMON, "--cgroup", "/no-such-cgroup-llmobs"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        assert bad.returncode == 2 and b"not a cgroup v2 directory" in bad.stderr, bad
    finally:
        for p in list(e2e._live):
            if isinstance(p, e2e.Client):
                p.stop()
        inner.remove()
        outer.remove()


e2e.main()
