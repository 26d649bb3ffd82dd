#!/usr/bin/env python3
"""Backpressure measured in the kernel, with real BPF: a deliberately slow
reader leaves bytes waiting in its socket and reads them late, a large
request blocks in SSL_write; the stream's "backpressure" object and
/metrics show it, and a fast reader's figures stay small."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
DELTAS = ["word%03d " % i + "y" * 200 for i in range(40)]


@e2e.test
def a_slow_reader_shows_unread_bytes_and_read_lag():
    srv = e2e.TlsServer(script={"deltas": DELTAS, "delay_ms": 0})
    d = e2e.Daemon()
    # 50 ms before each socket read: the whole response waits in the socket
    [slow] = e2e.run_client(srv, read_delay=0.05)
    [s] = e2e.finished_streams(d, slow["pid"])
    assert s["status"] == "completed" and s["text"] == "".join(DELTAS), s
    bp = s["backpressure"]
    assert bp and bp["reads_sampled"] >= 10, bp
    assert bp["max_unread_bytes"] >= 2000, bp
    assert bp["unread_bytes_p95"] <= bp["max_unread_bytes"], bp
    # ~40 reads 50 ms apart: the last bytes waited well over a second
    assert bp["read_lag_ms_max"] >= 1000, bp
    assert bp["read_lag_ms_p50"] <= bp["read_lag_ms_p95"] <= bp["read_lag_ms_max"], bp
    assert bp["zero_window_events"] >= 0 and bp["rcvq_full_events"] >= 0, bp
    # the same response read at full speed
    [fast] = e2e.run_client(srv)
    [f] = e2e.finished_streams(d, fast["pid"])
    assert f["backpressure"]["read_lag_ms_p95"] < bp["read_lag_ms_p50"], (f["backpressure"], bp)
    # the test server's side of each connection is muted once recognised:
    # its later SSL calls are counted, not copied. Those two streams were
    # written at full speed, before the mute could land; a paced one shows
    # it: its 20 writes, 50 ms apart, are all muted but the first few.
    status, st = d.get_json("/api/v1/stats")
    assert st["pipeline"]["connections_muted"] >= 2, st["pipeline"]
    before = st["capture"]["muted_calls"]
    paced = e2e.TlsServer(script={"deltas": ["d%02d " % i for i in range(20)], "delay_ms": 50})
    e2e.run_client(paced)
    status, st = d.get_json("/api/v1/stats")
    assert st["capture"]["muted_calls"] - before >= 15, (before, st["capture"])
    _, _, text = d.get("/metrics")
    text = text.decode()
    assert "llmobs_capture_muted_calls_total" in text
    for name in ("llmobs_backpressure_read_lag_seconds_count",
                 "llmobs_backpressure_unread_bytes_count"):
        line = next(l for l in text.splitlines() if l.startswith(name + "{"))
        assert float(line.split()[-1]) >= 2, line


@e2e.test
def a_backpressure_live_event_when_read_lag_crosses_the_threshold():
    srv = e2e.TlsServer(script={"deltas": DELTAS, "delay_ms": 0})
    d = e2e.Daemon("--backpressure-lag-ms", "200")
    ev = e2e.Events(d, types=["backpressure", "stream_start", "stream_end"])
    cli = subprocess.Popen([CLI, "--server", d.base, "tail", "-n", "3", "--types",
                            "backpressure,stream_end"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    [fast] = e2e.run_client(srv)
    [slow] = e2e.run_client(srv, read_delay=0.05)
    [f] = e2e.finished_streams(d, fast["pid"])
    [s] = e2e.finished_streams(d, slow["pid"])
    [(_, bp)] = ev.wait("a backpressure event",
                        lambda t, x: t == "backpressure" and x["id"] == s["id"])
    assert bp["read_lag_ms"] >= 200 and bp["threshold_ms"] == 200, bp
    assert bp["pid"] == slow["pid"] and bp["provider"] == "openai", bp
    ev.wait("stream_start and stream_end of both",
            lambda t, x: t == "stream_end" and x["id"] == s["id"])
    starts = {x["id"] for t, x in ev.events if t == "stream_start"}
    assert {f["id"], s["id"]} <= starts, ev.events
    # one event per call, and none for the fast reader
    assert [x["id"] for t, x in ev.events if t == "backpressure"] == [s["id"]], ev.events
    # the filter kept other types out
    assert {t for t, _ in ev.events} <= {"backpressure", "stream_start", "stream_end"}
    ev.close()
    # llmobs-cli tail shows the same, one line per event, and stops after 3
    out, err = cli.communicate(timeout=20)
    lines = out.decode().splitlines()
    assert cli.returncode == 0 and len(lines) == 3, (cli.returncode, out, err)
    assert any(" backpressure " in l and "id=%s" % s["id"] in l for l in lines), lines
    assert any(" stream_end " in l and "status=completed" in l for l in lines), lines


@e2e.test
def a_large_request_shows_time_blocked_in_ssl_write():
    srv = e2e.TlsServer(script={"deltas": ["ok"]})
    d = e2e.Daemon()
    [r] = e2e.run_client(srv, prompt_bytes=3000000)
    [s] = e2e.finished_streams(d, r["pid"])
    assert s["status"] == "completed", s
    assert s["backpressure"]["write_blocked_ms"] > 0, s["backpressure"]


e2e.main()
