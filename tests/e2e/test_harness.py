#!/usr/bin/env python3
"""The e2e harness itself: tls_sse_server.py and client_py.py (and curl)
agree on what was scripted. Needs neither root nor the daemon."""

import json
import os
import sys
import time

import e2e_lib as e2e

USAGE = {"prompt_tokens": 21, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 5}}
USAGE_OUT = dict(USAGE, total_tokens=28)


def check(cond, msg, *values):
    if not cond:
        raise AssertionError(msg % values if values else msg)


def expect(result, **want):
    for key, value in want.items():
        check(result.get(key) == value, "%s: got %r, want %r", key, result.get(key), value)


@e2e.test
def stream_text_usage_and_finish():
    deltas = ["The", " quick", " brown", " fox"]
    srv = e2e.TlsServer(script={"deltas": deltas, "usage": USAGE, "finish_reason": "length"})
    [r] = e2e.run_client(srv, include_usage=True, model="gpt-e2e")
    expect(r, status=200, text="".join(deltas), usage=USAGE_OUT, finish_reason="length",
           chunks=4, done=True, complete=True, error=None, transport_error=None)
    check(r["pid"] != os.getpid(), "pid is the client's")
    [req] = srv.requests()
    expect(req, model="gpt-e2e", stream=True, include_usage=True, has_auth=True)


@e2e.test
def usage_chunk_follows_request_or_script():
    srv = e2e.TlsServer(script=[{}, {}, {"include_usage": True}, {"include_usage": False}])
    [r] = e2e.run_client(srv)
    expect(r, usage=None, text="Hello, world!")
    [r] = e2e.run_client(srv, include_usage=True)
    check(r["usage"] and r["usage"]["completion_tokens"] == 4, "usage: %r", r["usage"])
    [r] = e2e.run_client(srv)
    check(r["usage"] is not None, "script include_usage=true forces the usage chunk")
    [r] = e2e.run_client(srv, include_usage=True)
    expect(r, usage=None)


@e2e.test
def non_stream_completion():
    srv = e2e.TlsServer(script={"deltas": ["ab", "cd"], "usage": USAGE})
    [r] = e2e.run_client(srv, stream=False)
    expect(r, status=200, text="abcd", usage=USAGE_OUT, finish_reason="stop", chunks=0,
           ttft_ms=None, done=False, complete=True)
    expect(srv.requests()[0], stream=False)


@e2e.test
def keep_alive_two_requests_one_connection():
    srv = e2e.TlsServer(script=[{"deltas": ["one"]}, {"deltas": ["two", "!"]}])
    r = e2e.run_client(srv, requests=2, keep_alive=True)
    expect(r[0], text="one", chunks=1, status=200)
    expect(r[1], text="two!", chunks=2, status=200)
    check(r[0]["sport"] == r[1]["sport"], "same client port: %r", r)
    reqs = srv.requests()
    check(len(reqs) == 2 and reqs[0]["conn"] == reqs[1]["conn"], "one server conn: %r", reqs)


@e2e.test
def without_keep_alive_each_request_connects():
    srv = e2e.TlsServer()
    r = e2e.run_client(srv, requests=2)
    check(r[0]["sport"] != r[1]["sport"], "two connections: %r", r)
    reqs = srv.requests()
    check(reqs[0]["conn"] != reqs[1]["conn"], "two server conns: %r", reqs)


@e2e.test
def status_429_then_keep_alive_continues():
    srv = e2e.TlsServer(script=[{"status": 429}, {"deltas": ["ok"]}])
    r = e2e.run_client(srv, requests=2, keep_alive=True)
    expect(r[0], status=429, text="", chunks=0, ttft_ms=None, finish_reason=None)
    check(r[0]["error"]["code"] == "rate_limit_exceeded", "error body: %r", r[0]["error"])
    expect(r[1], status=200, text="ok")
    check(r[0]["sport"] == r[1]["sport"], "429 keeps the connection")


@e2e.test
def mid_stream_error_event():
    error = {"message": "boom", "type": "server_error", "param": None, "code": None}
    srv = e2e.TlsServer(script={"deltas": ["a", "b", "c", "d"], "error_after": 2,
                                "error": error})
    [r] = e2e.run_client(srv, include_usage=True)
    expect(r, status=200, text="ab", chunks=2, error=error, finish_reason=None, usage=None,
           done=False, complete=True)


@e2e.test
def abort_truncates_the_stream():
    srv = e2e.TlsServer(script={"deltas": ["a", "b", "c"], "abort_after": 1})
    [r] = e2e.run_client(srv)
    expect(r, status=200, text="a", chunks=1, complete=False, done=False)
    check(r["transport_error"], "a transport error is reported")


@e2e.test
def framings_carry_the_same_stream():
    for framing in ("chunked", "length", "close"):
        srv = e2e.TlsServer(script={"deltas": ["x", "é", "世界"], "framing": framing})
        r = e2e.run_client(srv, requests=2, keep_alive=True, include_usage=True)
        for one in r:
            expect(one, text="xé世界", chunks=3, done=True, complete=True, status=200)
        reused = r[0]["sport"] == r[1]["sport"]
        check(reused == (framing != "close"), "%s: connection reuse %s", framing, reused)
        r = e2e.run_client(srv, stream=False)
        expect(r[0], text="xé世界", complete=True)


@e2e.test
def ttft_is_the_scripted_first_delay():
    srv = e2e.TlsServer(script={"first_delay_ms": 300, "delay_ms": 40})
    [r] = e2e.run_client(srv)
    check(300 <= r["ttft_ms"] < 500, "ttft_ms %r", r["ttft_ms"])
    # Headers and the first delta arrive in one write.
    check(r["ttft_ms"] - r["headers_ms"] < 20, "headers %r vs ttft %r", r["headers_ms"],
          r["ttft_ms"])
    check(r["duration_ms"] >= 300 + 3 * 40, "duration_ms %r", r["duration_ms"])


@e2e.test
def curl_gets_the_sse_stream_with_its_timing():
    srv = e2e.TlsServer(script={"deltas": ["c", "u", "r", "l"], "first_delay_ms": 250,
                                "delay_ms": 20, "usage": USAGE})
    out = e2e.run_curl(srv, {"model": "m", "stream": True,
                             "stream_options": {"include_usage": True},
                             "messages": [{"role": "user", "content": "hi"}]})
    check(out["exit"] == 0 and out["status"] == 200, "curl: %r", out)
    events = [line[6:] for line in out["body"].split("\n\n") if line.startswith("data: ")]
    check(events[-1] == "[DONE]", "last event %r", events[-1])
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                   for e in events[:-1] if '"choices":[{' in e)
    check(text == "curl", "text %r", text)
    check('"cached_tokens":5' in events[-2], "usage event %r", events[-2])
    wait = out["starttransfer_ms"] - out["pretransfer_ms"]
    check(250 <= wait < 450, "curl first byte after %.1f ms", wait)


@e2e.test
def connections_are_served_concurrently():
    srv = e2e.TlsServer(script={"first_delay_ms": 600, "deltas": ["z"]})
    started = time.monotonic()
    clients = [e2e.Client(srv) for _ in range(3)]
    results = [c.results() for c in clients]
    elapsed = time.monotonic() - started
    for [r] in results:
        expect(r, text="z", status=200)
    check(elapsed < 1.7, "3 clients of 600 ms took %.2f s", elapsed)


@e2e.test
def unknown_path_is_404():
    srv = e2e.TlsServer()
    [r] = e2e.run_client(srv, path="/v1/nope")
    expect(r, status=404, text="")
    check(r["error"]["type"] == "invalid_request_error", "error %r", r["error"])


@e2e.test
def max_requests_ends_the_server():
    srv = e2e.TlsServer(max_requests=2)
    e2e.run_client(srv, requests=2, keep_alive=True)
    e2e.wait_for(lambda: not srv.alive(), 5, what="server exit")
    check(srv.proc.returncode == 0, "exit code %r", srv.proc.returncode)


@e2e.test
def system_python_runs_both_sides():
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        raise e2e.Skip("no %s" % python)
    srv = e2e.TlsServer(script={"deltas": ["sys", "tem"]}, python=python)
    [r] = e2e.run_client(srv, python=python, include_usage=True)
    expect(r, text="system", status=200, done=True)
    [r] = e2e.run_client(srv, python=sys.executable)
    expect(r, text="system")


@e2e.test
def wait_for_times_out_with_the_last_value():
    try:
        e2e.wait_for(lambda: 0, timeout=0.2, what="zero")
    except AssertionError as e:
        check("zero" in str(e) and "last: 0" in str(e), "message %r", str(e))
    else:
        raise AssertionError("wait_for returned")


e2e.main()
