#!/usr/bin/env python3
"""Nothing is lost silently, with real BPF: a ring buffer made too small on
purpose rejects records; the drops are counted globally, the stream they
belong to is truncated with a reason and its dropped bytes, the ring fill
is visible, and the daemon goes on capturing other streams."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


@e2e.test
def a_tiny_ring_buffer_drops_are_counted_and_streams_truncated():
    # 16 KiB ring: a 16 KiB TLS record read in one SSL_read_ex (payload plus
    # header) can never fit; small SSE records do.
    big = "x" * 40000
    script = {"deltas": ["before ", big, " after"], "delay_ms": 50,
              "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
    srv = e2e.TlsServer(script=[script, {"deltas": ["small", " one"]}])
    d = e2e.Daemon("--ringbuf-size", "16K")
    ev = e2e.Events(d, types=["buffer_full", "stream_error"])
    [r] = e2e.run_client(srv, include_usage=True)
    assert r["text"] == "before " + big + " after", "the client itself lost data"
    [s] = e2e.finished_streams(d, r["pid"])
    assert s["status"] == "truncated", s
    assert s["dropped_bytes"] >= 16000, s
    assert "lost" in s["error"], s
    status, stats = d.get_json("/api/v1/stats")
    cap = stats["capture"]
    assert cap["dropped_events"] >= 1 and cap["dropped_bytes"] >= 16000, cap
    assert cap["ringbuf_bytes"] == 16384, cap
    assert 0 < cap["ringbuf_used_max_bytes"] <= 16384, cap
    _, _, text = d.get("/metrics")
    text = text.decode()
    assert metric(text, "llmobs_capture_dropped_events_total") >= 1
    assert metric(text, "llmobs_ringbuf_size_bytes") == 16384
    assert metric(text, "llmobs_capture_lost_bytes_total") >= 16000
    # followers are told, live
    [(_, full)] = ev.wait("a buffer_full event", lambda t, x: t == "buffer_full")[:1]
    assert full["dropped_events"] >= 1 and full["dropped_bytes"] >= 16000, full
    [(_, err)] = ev.wait("the stream's stream_error",
                         lambda t, x: t == "stream_error" and x["id"] == s["id"])
    assert err["status"] == "truncated", err
    ev.close()
    # the daemon keeps serving and capturing
    [r2] = e2e.run_client(srv)
    [s2] = e2e.finished_streams(d, r2["pid"])
    assert s2["status"] == "completed" and s2["text"] == "small one", s2
    assert d.get("/healthz")[0] == 200


e2e.main()
