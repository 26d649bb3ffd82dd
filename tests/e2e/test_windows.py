#!/usr/bin/env python3
"""Windowed aggregates and the ingestion API with real BPF and real clients:
a run of a little over two minutes gives per-minute windows whose counts
and token sums equal the calls made and whose p95 TTFT agrees with the
calls' own within a histogram bucket; the hour rollup holds them all; the
windows are the same after a restart. A request/response pair reported
over POST /v1/llm/request and /response shows up in the calls, the windows
(by tenant) and the cost; bad reports get 400/405/409/413 with reasons, a
lone request becomes an aborted call at --ingest-ttl, and a credential in
the metadata is never stored."""

import json
import math
import os
import signal
import sqlite3
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

COMM = "e2e-windows"
MODELS = ("gpt-4o-mini", "gpt-4.1-mini")


def loghist_bucket(v):
    """daemon/core/loghist.h: exact below 4, then 4 buckets per power of two."""
    v = int(v)
    if v < 4:
        return v
    e = v.bit_length() - 1
    return min(4 + (e - 2) * 4 + ((v >> (e - 2)) & 3), 127)


def nearest_rank(values, p):
    values = sorted(values)
    return values[max(math.ceil(len(values) * p / 100), 1) - 1]


def unix_ms(rfc3339):
    return int(time.mktime(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")) -
               time.timezone) * 1000 + int(rfc3339[20:23])


api = e2e.api_ok


def stored(d, n):
    return e2e.wait_for(lambda: d.get_json("/api/v1/stats")[1]["store"]["stored"] >= n, 15,
                        0.05, "%d calls stored" % n)


@e2e.test(timeout=300)
def minute_windows_equal_the_calls_made_and_survive_a_restart():
    db = e2e.tmpfile("windows.db")
    srv = e2e.TlsServer(script={"deltas": ["a", "b", "c"], "include_usage": True})
    d = e2e.Daemon("--store", db)
    begin = time.time()
    n = 0
    # a call every ~9 s for 125 s: three minute boundaries or more are crossed
    while time.time() - begin < 125:
        script = {"first_delay_ms": 15 + 23 * (n % 6),
                  "usage": {"prompt_tokens": 100 + n, "completion_tokens": 5 + n % 4}}
        # every third prompt has an address in it: a guardrail match
        prompt = "write to ops%d@example.com" % n if n % 3 == 0 else "hello"
        e2e.run_client(srv, model=MODELS[n % 2], comm=COMM, script=script, prompt=prompt)
        n += 1
        time.sleep(max(0.0, begin + 9 * n - time.time()))
    stored(d, n)
    calls = api(d, "/api/v1/calls", comm=COMM, limit=1000)["calls"]
    assert len(calls) == n, (len(calls), n)

    want = {}  # (minute, model) -> the calls in it
    for c in calls:
        assert c["status"] == "completed" and c["ttft_ms"] is not None, c
        minute = unix_ms(c["started_at"]) // 60000 * 60000
        want.setdefault((minute, c["model"]), []).append(c)
    assert len({m for m, _ in want}) >= 3, sorted(want)

    frm, to = int(begin * 1000) - 60000, int(time.time() * 1000) + 60000
    got = api(d, "/api/v1/metrics", **{"from": frm, "to": to, "step": "1m",
                                       "group_by": "model", "comm": COMM})
    assert got["step_ms"] == 60000 and got["group_by"] == ["model"], got
    windows = {(w["window_start_ms"], w["model"]): w for w in got["windows"]}
    assert set(windows) == set(want), (sorted(windows), sorted(want))
    for key, cs in want.items():
        w = windows[key]
        assert w["window_end_ms"] == key[0] + 60000, w
        assert w["requests"] == len(cs) and w["errors"] == 0, (w, cs)
        assert w["tokens"]["input"] == sum(c["usage"]["input_tokens"] for c in cs), w
        assert w["tokens"]["output"] == sum(c["usage"]["output_tokens"] for c in cs), w
        assert abs(w["estimated_cost_usd"] - sum(c["cost_usd"] for c in cs)) < 1e-12, w
        exact = nearest_rank([round(c["ttft_ms"] * 1000) for c in cs], 95)
        assert loghist_bucket(w["p95_ttft_ms"] * 1000) == loghist_bucket(exact), (w, exact)
        exact = nearest_rank([round(c["duration_ms"] * 1000) for c in cs], 95)
        assert loghist_bucket(w["p95_latency_ms"] * 1000) == loghist_bucket(exact), (w, exact)
        assert abs(w["avg_prompt_tokens"] - w["tokens"]["input"] / len(cs)) < 1e-9, w
        hits = [h["rule"] for c in cs for h in c["guardrail"]]
        assert w["guardrail_matches"] == len(hits), (w, hits)
        assert w["guardrail_matches_by_rule"] == {r: hits.count(r) for r in set(hits)}, w
        bp, sampled = w["backpressure"], [c for c in cs if c["backpressure"]]
        assert bp["calls_sampled"] == len(sampled), (bp, cs)
        assert bp["zero_window_events"] == sum(c["backpressure"]["zero_window_events"]
                                               for c in sampled), bp
        assert (bp["read_lag_ms_p95"] is None) == (not sampled), bp
    assert sum(w["guardrail_matches_by_rule"].get("pii.email", 0)
               for w in windows.values()) == (n + 2) // 3, windows

    # the hour rollup and a single window over the run hold every call
    hours = api(d, "/api/v1/metrics", **{"from": frm, "to": to, "step": "1h", "comm": COMM})
    assert sum(w["requests"] for w in hours["windows"]) == n, hours
    one = api(d, "/api/v1/metrics", **{"from": frm, "to": to, "step": "all",
                                       "group_by": "provider,model"})
    by_model = {w["model"]: w["requests"] for w in one["windows"] if w["model"] in MODELS}
    assert by_model == {m: sum(1 for c in calls if c["model"] == m) for m in MODELS}, one
    assert {w["provider"] for w in one["windows"]} == {"openai"}, one

    # a restart (SIGTERM) serves the same windows from the file
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(15) == 0
    d = e2e.Daemon("--store", db)
    again = api(d, "/api/v1/metrics", **{"from": frm, "to": to, "step": "1m",
                                         "group_by": "model", "comm": COMM})
    assert again == got, (again, got)


def post(d, path, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(d.url(path), data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@e2e.test(timeout=90)
def ingested_calls_are_joined_priced_stored_and_windowed():
    db = e2e.tmpfile("ingest.db")
    d = e2e.Daemon("--store", db, "--ingest-ttl", "2s")
    rq = {"request_id": "req-42", "tenant_id": "acme", "route": "/v1/support?token=abc",
          "model": "gpt-4o", "prompt_tokens": 1200, "user_id_hash": "9f2c",
          "metadata": {"team": "support", "headers": {"Authorization": "Bearer sk-e2e-SECRET"}}}
    code, body = post(d, "/v1/llm/request", rq)
    assert code == 202 and body["status"] == "waiting", body
    assert post(d, "/v1/llm/request", rq)[0] == 409
    code, body = post(d, "/v1/llm/response", {"request_id": "req-42", "latency_ms": 850,
                                              "ttft_ms": 120, "completion_tokens": 300,
                                              "finish_reason": "stop"})
    assert code == 200 and body["status"] == "joined", body
    cid = body["call_id"]

    got = api(d, "/api/v1/calls", source="ingest", tenant="acme")["calls"]
    assert [c["id"] for c in got] == [cid], got
    c = got[0]
    assert c["source"] == "ingest" and c["request_id"] == "req-42", c
    assert c["endpoint"] == "/v1/support" and c["provider"] == "openai", c
    assert c["duration_ms"] == 850 and c["ttft_ms"] == 120, c
    # gpt-4o: $2.50 in, $10.00 out per million (daemon/llm/prices.json)
    cost = (1200 * 2.50 + 300 * 10.00) / 1e6
    assert abs(c["cost_usd"] - cost) < 1e-12, c
    assert c["metadata"]["headers"]["Authorization"] == "[removed]", c
    assert api(d, "/api/v1/calls", route="/v1/support")["calls"][0]["id"] == cid

    stored(d, 1)
    win = api(d, "/api/v1/metrics", **{"from": "10m", "step": "all", "group_by": "tenant"})
    acme = [w for w in win["windows"] if w["tenant"] == "acme"]
    assert len(acme) == 1 and acme[0]["requests"] == 1, win
    assert acme[0]["tokens"]["input"] == 1200 and acme[0]["tokens"]["output"] == 300, acme
    assert abs(acme[0]["estimated_cost_usd"] - cost) < 1e-12, acme
    assert e2e.metric(d, "llmobs_ingest_joined_calls_total") == 1
    assert e2e.metric(d, "llmobs_cost_usd_total", 'model="gpt-4o"') == cost

    # bad reports: reasons, methods, size
    code, body = post(d, "/v1/llm/response", None, raw=b'{"request_id": 5}')
    assert code == 400 and "request_id must be a string" in body["error"], body
    code, body = post(d, "/v1/llm/request", None, raw=b"not json")
    assert code == 400 and "not a JSON object" in body["error"], body
    code, body = post(d, "/v1/llm/request", None, raw=b'{"request_id":"x","pad":"' +
                      b"a" * (70 << 10) + b'"}')
    assert code == 413, (code, body)
    assert d.get("/v1/llm/request")[0] == 405
    assert e2e.metric(d, "llmobs_ingest_rejected_reports_total") == 4  # with the 409

    # a request without its response: an aborted call after the TTL, counted
    assert post(d, "/v1/llm/request", {"request_id": "lonely", "model": "gpt-4o"})[0] == 202
    lone = e2e.wait_for(lambda: api(d, "/api/v1/calls", source="ingest",
                                    status="aborted")["calls"], 10, 0.2, "the lone request")
    assert "no response for this request_id within 2 s" in lone[0]["error"], lone
    assert e2e.metric(d, "llmobs_ingest_expired_calls_total") == 1

    # nothing secret reached the file
    stored(d, 2)
    d.stop()
    raw = b""
    for suffix in ("", "-wal"):
        if os.path.exists(db + suffix):
            raw += open(db + suffix, "rb").read()
    assert b"sk-e2e-SECRET" not in raw and b"token=abc" not in raw
    assert sqlite3.connect(db).execute(
        "SELECT count(*) FROM calls WHERE source = 'ingest' AND tenant = 'acme'").fetchone() == (1,)


e2e.main()
