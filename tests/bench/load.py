#!/usr/bin/env python3
"""make bench, part 2: the real daemon under load and its accuracy.

load_*: LOAD_STREAMS concurrent TLS streams (default 1000) at LOAD_RATE SSE
events/s (20) for LOAD_SECONDS (60) from build/bench/loadgen on 127.0.0.1,
with llmobsd attached: events the clients got, records the ring rejected,
the daemon's CPU (% of one core, over the run), and the p99 delay from an
SSL call to its data being visible in the API.
rss_per_stream_kib: the daemon's peak RSS during the run minus its idle RSS,
per concurrently active stream; idle_rss_mib: RSS after start-up.
ttft_abs_err_ms_p99: |daemon ttft_ms - the client's own TTFT| over
TTFT_STREAMS (200) Python ssl streams with a 50 ms first token.

Prints name=value lines. Needs root; uses the e2e helpers."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import e2e_lib as e2e  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
STREAMS = int(os.environ.get("LOAD_STREAMS", "1000"))
RATE = int(os.environ.get("LOAD_RATE", "20"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
TTFT_STREAMS = int(os.environ.get("TTFT_STREAMS", "200"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def out(name, value):
    print("%s=%s" % (name, value), flush=True)


def load():
    cert, key = e2e.cert()
    d = e2e.Daemon("--keep", str(STREAMS + 100))
    pid = d.proc.pid
    time.sleep(1.0)
    idle = rss_kib(pid)
    out("idle_rss_mib", "%.1f" % (idle / 1024))
    hz = os.sysconf("SC_CLK_TCK")
    err_path = tempfile.mktemp(prefix="loadgen.", dir=e2e.tmpdir())
    with open(err_path, "w") as err:
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        gen = subprocess.Popen([os.path.join(BUILD, "bench", "loadgen"), cert, key,
                                "--streams", str(STREAMS), "--rate", str(RATE),
                                "--seconds", str(SECONDS)],
                               stdout=subprocess.PIPE, stderr=err)
        peak, active_max = idle, 0
        while gen.poll() is None:
            time.sleep(1.0)
            peak = max(peak, rss_kib(pid))
            status, st = d.get_json("/api/v1/stats")
            active_max = max(active_max, st["pipeline"]["streams_active"])
        t1, c1 = time.monotonic(), cpu_ticks(pid)
    res = dict(line.split("=", 1) for line in gen.stdout.read().decode().split())
    status, st = d.get_json("/api/v1/stats")
    cap = st["capture"]
    out("load_streams", res["load_streams"])
    out("load_streams_active_max", active_max)
    out("load_events", res["load_events"])
    out("load_client_errors", res["load_client_errors"])
    out("load_calls_seen", st["pipeline"]["calls_total"])
    out("load_dropped_events", cap["dropped_events"])
    out("load_daemon_cpu_pct", "%.1f" % (100.0 * (c1 - c0) / hz / (t1 - t0)))
    out("load_p99_visible_ms", "%.3f" % cap["visibility_delay_ms"]["p99"])
    out("load_p50_visible_ms", "%.3f" % cap["visibility_delay_ms"]["p50"])
    out("rss_per_stream_kib", "%.1f" % ((peak - idle) / max(active_max, 1)))
    d.stop()


def ttft():
    srv = e2e.TlsServer(script={"deltas": ["a", "b", "c"], "first_delay_ms": 50})
    d = e2e.Daemon("--keep", str(TTFT_STREAMS + 50))
    results = e2e.run_client(srv, requests=TTFT_STREAMS, keep_alive=True, timeout=300)
    got = e2e.finished_streams(d, results[0]["pid"], TTFT_STREAMS, timeout=60)
    errs = sorted(abs(s["ttft_ms"] - r["ttft_ms"]) for s, r in zip(got, results))
    out("ttft_streams", len(errs))
    out("ttft_abs_err_ms_p50", "%.3f" % errs[len(errs) // 2])
    out("ttft_abs_err_ms_p99", "%.3f" % errs[min(len(errs) - 1, (len(errs) * 99 + 99) // 100 - 1)])
    out("ttft_abs_err_ms_max", "%.3f" % errs[-1])
    d.stop()
    srv.stop()


if __name__ == "__main__":
    try:
        load()
        ttft()
    finally:
        e2e._stop_all()
