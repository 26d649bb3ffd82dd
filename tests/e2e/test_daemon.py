#!/usr/bin/env python3
"""llmobsd end to end with real BPF: real TLS clients (Python ssl, curl) stream
from a local TLS server; the API, /metrics and the CLI must report what the
clients themselves saw."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
TTFT_TOLERANCE_MS = 5.0


streams = e2e.streams
finished_streams = e2e.finished_streams


def check_against_client(s, r, script):
    assert s["provider"] == "openai", s
    assert s["endpoint"] == "/v1/chat/completions", s
    assert s["status"] == "completed", s
    assert s["http_status"] == 200, s
    assert s["text"] == r["text"] == "".join(script["deltas"]), (s["text"], r["text"])
    assert s["finish_reason"] == r["finish_reason"] == "stop", s
    assert s["error"] is None and s["dropped_bytes"] == 0, s
    assert abs(s["ttft_ms"] - r["ttft_ms"]) <= TTFT_TOLERANCE_MS, \
        "daemon ttft %.3f ms vs client %.3f ms" % (s["ttft_ms"], r["ttft_ms"])
    assert s["duration_ms"] >= s["ttft_ms"], s
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", s["started_at"]), s


STREAM_SCRIPT = {"deltas": ["The", " quick", " brown", " fox", " — ", "jumps 🦊"],
                 "first_delay_ms": 300, "delay_ms": 40,
                 "usage": {"prompt_tokens": 17, "completion_tokens": 6,
                           "prompt_tokens_details": {"cached_tokens": 5}}}


@e2e.test
def python_ssl_stream_matches_client():
    srv = e2e.TlsServer(script=STREAM_SCRIPT)
    d = e2e.Daemon()
    [r] = e2e.run_client(srv, include_usage=True, model="gpt-4o-mini")
    [s] = finished_streams(d, r["pid"])
    check_against_client(s, r, STREAM_SCRIPT)
    assert s["comm"].startswith("python"), s
    assert s["model"] == "gpt-4o-mini", s
    assert s["usage"] == {"input_tokens": 17, "output_tokens": 6, "cached_input_tokens": 5,
                          "cache_creation_input_tokens": None, "cache_write_1h_input_tokens": None,
                          "reasoning_tokens": None}, s["usage"]
    assert s["chunks"] >= len(STREAM_SCRIPT["deltas"]), s
    assert s["peer"] == "127.0.0.1:%d" % srv.port, s
    # five 40 ms gaps between six deltas; tokens/s from usage over the stream
    assert 30 <= s["inter_chunk_ms"]["p50"] <= 80, s["inter_chunk_ms"]
    assert s["tokens_per_second"] and 10 < s["tokens_per_second"] < 40, s
    # the one-stream view is the same record
    status, one = d.get_json("/api/v1/streams/" + s["id"])
    assert status == 200 and one["text"] == s["text"] and one["id"] == s["id"], one
    # the test server's own SSL calls are server side: not a second stream
    assert len(streams(d)) == 1, streams(d)


@e2e.test
def curl_stream_matches_client():
    script = {"deltas": ["curl", " says", " hi"], "first_delay_ms": 250, "delay_ms": 30}
    srv = e2e.TlsServer(script=script)
    d = e2e.Daemon()
    c = e2e.run_curl(srv, {"model": "gpt-4.1", "stream": True,
                           "messages": [{"role": "user", "content": "hi"}]})
    assert c["status"] == 200 and "data: [DONE]" in c["body"], c
    s = e2e.wait_for(lambda: next((x for x in streams(d) if x["comm"] == "curl"
                                   and x["status"] != "streaming"), None), 15, 0.05, "curl stream")
    assert s["status"] == "completed" and s["text"] == "curl says hi", s
    assert s["model"] == "gpt-4.1", s
    # curl: first response byte (which carries the first delta) minus request sent
    curl_ttft = c["starttransfer_ms"] - c["pretransfer_ms"]
    assert abs(s["ttft_ms"] - curl_ttft) <= TTFT_TOLERANCE_MS, (s["ttft_ms"], curl_ttft)


@e2e.test
def keep_alive_calls_pair_in_order():
    script = [{"deltas": ["first"], "first_delay_ms": 20},
              {"deltas": ["second", " call"], "first_delay_ms": 20, "status": 200}]
    srv = e2e.TlsServer(script=script)
    d = e2e.Daemon()
    rs = e2e.run_client(srv, requests=2, keep_alive=True)
    assert rs[0]["sport"] == rs[1]["sport"], "client did not reuse its connection"
    got = finished_streams(d, rs[0]["pid"], n=2)
    assert [s["text"] for s in got] == ["first", "second call"], got
    assert all(s["status"] == "completed" for s in got), got


@e2e.test
def http_error_and_midstream_error():
    script = [{"status": 429, "error": {"message": "Rate limit reached for gpt-4o",
                                        "type": "requests", "code": "rate_limit_exceeded"}},
              {"deltas": ["partial", " answer", "x"], "error_after": 2,
               "error": {"message": "The server had an error", "type": "server_error"}}]
    srv = e2e.TlsServer(script=script)
    d = e2e.Daemon()
    rs = e2e.run_client(srv, requests=2, keep_alive=True)
    got = finished_streams(d, rs[0]["pid"], n=2)
    assert got[0]["status"] == "error" and got[0]["http_status"] == 429, got[0]
    assert "Rate limit reached" in got[0]["error"], got[0]
    assert got[1]["status"] == "error" and "server had an error" in got[1]["error"], got[1]
    assert got[1]["text"] == "partial answer", got[1]


@e2e.test
def aborted_connection_is_reported():
    srv = e2e.TlsServer(script={"deltas": ["a", "b", "c", "d"], "delay_ms": 20,
                                "abort_after": 2})
    d = e2e.Daemon()
    [r] = e2e.run_client(srv)
    [s] = finished_streams(d, r["pid"])
    assert s["status"] in ("aborted", "truncated"), s
    assert s["error"], s
    assert s["text"] == "ab", s


@e2e.test
def secrets_are_never_served():
    srv = e2e.TlsServer()
    d = e2e.Daemon()
    [r] = e2e.run_client(srv)
    finished_streams(d, r["pid"])
    for path in ("/api/v1/streams", "/metrics", "/api/v1/stats"):
        status, _, body = d.get(path)
        body = body.decode()
        assert status == 200, (path, status)
        assert e2e.SECRET not in body and "Bearer" not in body, path
    assert e2e.SECRET not in open(d.log_path).read()


def metric_value(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name) and labels in line and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return None


@e2e.test
def metrics_count_streams():
    srv = e2e.TlsServer(script={"deltas": ["m"], "first_delay_ms": 50})
    d = e2e.Daemon()
    assert d.get("/metrics")[0] == 200
    rs = e2e.run_client(srv, requests=3, include_usage=True)
    finished_streams(d, rs[0]["pid"], n=3)
    text = d.get("/metrics")[2].decode()
    for family in ("gen_ai_server_time_to_first_token_seconds",
                   "gen_ai_client_operation_duration_seconds", "gen_ai_client_token_usage",
                   "llmobs_streams_active", "llmobs_capture_events_total",
                   "llmobs_capture_dropped_events_total"):
        assert "# TYPE %s " % family in text, family
    assert metric_value(text, "gen_ai_server_time_to_first_token_seconds_count",
                        'gen_ai_provider_name="openai"') == 3, text
    assert metric_value(text, "llmobs_calls_total", 'status="completed"') == 3
    assert metric_value(text, "llmobs_streams_active") == 0
    assert metric_value(text, "llmobs_capture_events_total") > 0
    assert metric_value(text, "llmobs_capture_dropped_events_total") == 0
    # TTFT histogram: three ~50 ms observations land in the 0.08 s bucket, not 0.04
    assert metric_value(text, "gen_ai_server_time_to_first_token_seconds_bucket",
                        'le="0.08"') == 3, text
    assert metric_value(text, "gen_ai_server_time_to_first_token_seconds_bucket",
                        'le="0.04"') == 0, text
    # the exposition is valid for Prometheus' own checker
    check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert check.returncode == 0, check.stdout.decode()


@e2e.test
def pid_filter_is_applied_in_bpf():
    srv = e2e.TlsServer(script={"deltas": ["only", " me"]})
    watched = e2e.Client(srv, wait_before_start=3)
    d = e2e.Daemon("--pid", str(watched.proc.pid))
    [other] = e2e.run_client(srv)
    [r] = watched.results(timeout=30)
    [s] = finished_streams(d, r["pid"])
    assert s["text"] == "only me", s
    assert all(x["pid"] == r["pid"] for x in streams(d)), streams(d)
    assert other["pid"] != r["pid"]


@e2e.test
def record_then_replay_reproduces_streams():
    rec = e2e.tmpfile("capture.rec.gz")
    srv = e2e.TlsServer(script=[STREAM_SCRIPT, {"deltas": ["two"], "first_delay_ms": 30}])
    d = e2e.Daemon("--record", rec, "--content", "full")  # recordings are raw
    rs = e2e.run_client(srv, requests=2, keep_alive=True, include_usage=True)
    live = finished_streams(d, rs[0]["pid"], n=2)
    live_all = streams(d)
    d.stop()
    out = subprocess.run([e2e.DAEMON, "--replay", rec, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    replayed = json.loads(out.stdout)["streams"]
    assert len(replayed) == len(live_all), (len(replayed), len(live_all))
    keys = ("pid", "comm", "provider", "model", "endpoint", "status", "http_status",
            "finish_reason", "started_at", "ttft_ms", "duration_ms", "chunks", "bytes", "text",
            "usage", "tokens_per_second", "inter_chunk_ms", "dropped_bytes", "error")
    mine = [s for s in replayed if s["pid"] == rs[0]["pid"]]
    for a, b in zip(live, reversed(mine)):
        for k in keys:
            assert a[k] == b[k], "%s: live %r, replay %r" % (k, a[k], b[k])


@e2e.test
def cli_shows_the_stream():
    srv = e2e.TlsServer(script={"deltas": ["cli", " row"], "first_delay_ms": 20})
    d = e2e.Daemon()
    [r] = e2e.run_client(srv)
    [s] = finished_streams(d, r["pid"])
    out = subprocess.run([CLI, "--server", d.base, "streams"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    assert out.returncode == 0, out.stderr
    row = next((l for l in out.stdout.decode().splitlines() if str(r["pid"]) in l), None)
    assert row and "openai" in row and "completed" in row and "python" in row, out.stdout
    top = subprocess.run([CLI, "--server", d.base, "top", "--once"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    assert top.returncode == 0 and str(r["pid"]) in top.stdout.decode(), top.stdout
    show = subprocess.run([CLI, "--server", d.base, "show", s["id"]], stdout=subprocess.PIPE,
                          timeout=20)
    assert show.returncode == 0 and b"cli row" in show.stdout, show.stdout


@e2e.test
def cli_top_live_under_tmux():
    srv = e2e.TlsServer(script={"deltas": ["t"] * 40, "delay_ms": 100})
    d = e2e.Daemon()
    client = e2e.Client(srv)
    session = "llmobs-top-%d" % os.getpid()
    tmux = ["tmux", "-L", session]
    subprocess.run(tmux + ["new-session", "-d", "-s", session, "-x", "160", "-y", "30",
                           "%s --server %s top --interval 0.2" % (CLI, d.base)], check=True)
    try:
        def screen():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", session],
                                  stdout=subprocess.PIPE, check=True).stdout.decode()
        pid = str(client.proc.pid)
        shown = e2e.wait_for(lambda: (lambda s: s if pid in s and "streaming" in s else None)(
            screen()), 15, 0.1, "top showing the live stream")
        assert "TTFT" in shown and "TOK/S" in shown and "active 1" in shown, shown
        subprocess.run(tmux + ["send-keys", "-t", session, "s"], check=True)
        e2e.wait_for(lambda: "sort ID" in screen(), 5, 0.1, "sort column change")
        subprocess.run(tmux + ["send-keys", "-t", session, "q"], check=True)
        e2e.wait_for(lambda: subprocess.run(tmux + ["has-session", "-t", session],
                                            stderr=subprocess.DEVNULL).returncode != 0,
                     5, 0.1, "top to exit on q")
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)


def tracefs_mounted():
    with open("/proc/self/mounts") as f:
        return any(line.split()[1:3] == ["/sys/kernel/tracing", "tracefs"] for line in f)


@e2e.test
def daemon_mounts_tracefs_when_absent():
    unmounted = subprocess.run(["umount", "/sys/kernel/tracing"],
                               stderr=subprocess.DEVNULL).returncode == 0
    if unmounted:
        assert not tracefs_mounted()
    d = e2e.Daemon()
    assert tracefs_mounted()
    if unmounted:
        assert "mounted tracefs" in open(d.log_path).read()


@e2e.test
def healthz_and_api_errors():
    d = e2e.Daemon()
    assert d.get("/healthz")[0] == 200
    status, body = d.get_json("/api/v1/streams/999999")
    assert status == 404 and "error" in body, (status, body)
    status, body = d.get_json("/api/v1/streams?state=bogus")
    assert status == 400 and "error" in body, (status, body)
    status, body = d.get_json("/nope")
    assert status == 404 and "error" in body, (status, body)


e2e.main()
