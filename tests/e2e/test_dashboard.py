#!/usr/bin/env python3
"""The dashboard (web/, built into llmobsd) in a real browser: Debian's
Chromium, headless, driven by tests/e2e/node/browse.mjs (puppeteer-core).
Each view is loaded over calls captured from real clients (and over a
replay, without BPF), and what the DOM shows is checked against the API:
model names, counts, a call's prompt and completion, its timeline, search,
the live view picking up a new stream; prompts carrying markup render as
text; the page logs no errors; the calls view over 10,000 stored calls
first renders within 500 ms. Screenshots of every view are saved in
build/test-artifacts/dashboard/."""

import gzip
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

BROWSE = os.path.join(e2e.E2E_DIR, "node", "browse.mjs")
SHOTS = os.path.join(e2e.REPO, os.environ.get("BUILD", "build"), "test-artifacts", "dashboard")
XSS_PROMPT = "<script>alert(1)</script> tell me about the axolotl"
XSS_DELTAS = ['"><img src=x onerror=alert(2)>', " and ", "<b>bold</b>"]
FIRST_RENDER_MS = 500


def browse(steps, timeout=90, meanwhile=None):
    """Runs the steps in one headless page; the driver's JSON report.
    meanwhile: called while the page is open (when it is done, the steps
    go on to the end)."""
    path = e2e.tmpfile("steps.json")
    with open(path, "w") as f:
        json.dump(steps, f)
    with open(path) as f:
        proc = subprocess.Popen(["node", BROWSE], stdin=f, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    try:
        if meanwhile:
            meanwhile()
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    out = json.loads(stdout)
    assert out["step_error"] is None, out
    return out


def clean(out, replay=False):
    """No page errors, console errors or warnings, failed requests, HTTP
    errors or dialogs (an alert() would be a prompt's markup run as script).
    Leaving a view closes its event stream (aborted, not failed); a replay's
    probes and blind spots answer 503 by design, which Chromium logs."""
    designed = [e for e in out["http_errors"] if replay and e[0] == 503 and
                e[1] in ("/api/v1/probes", "/api/v1/blind")]
    noisy = [m for m in out["console"] if m["type"] in ("error", "warn", "warning")]
    noisy = noisy[len(designed):] if all(
        "status of 503" in m["text"] for m in noisy[:len(designed)]) else noisy
    failed = [f for f in out["failed"] if not f.endswith("/api/v1/events net::ERR_ABORTED")]
    assert not (out["errors"] or noisy or failed or out["dialogs"] or
                len(out["http_errors"]) > len(designed)), out


def ready(view):
    return {"wait": '#view[data-view="%s"][data-ready="1"]' % view, "timeout": 15000}


def shot(name):
    os.makedirs(SHOTS, exist_ok=True)
    return {"screenshot": os.path.join(SHOTS, name + ".png")}


api = e2e.api_ok


def look(name, js):
    """A step whose JS expression's value is reported under name."""
    return {"eval": js, "as": name}


def texts(name, selector):
    return look(name, "[...document.querySelectorAll(%s)].map(e => e.textContent.trim())"
                % json.dumps(selector))


def count(name, selector):
    return look(name, "document.querySelectorAll(%s).length" % json.dumps(selector))


def attr(name, selector, attribute):
    return look(name, "(e => e && e.getAttribute(%s))(document.querySelector(%s))"
                % (json.dumps(attribute), json.dumps(selector)))


def ids(name, selector, key):
    return look(name, "[...document.querySelectorAll(%s)].map(e => e.dataset.%s)"
                % (json.dumps(selector), key))


def stored(d, n):
    return e2e.wait_for(lambda: d.get_json("/api/v1/stats")[1]["store"]["stored"] >= n, 20,
                        0.05, "%d calls stored" % n)


@e2e.test(timeout=240)
def views_show_what_the_api_serves():
    srv = e2e.TlsServer(script=[
        {"deltas": ["The axolotl ", "regrows ", "limbs."], "delay_ms": 15,
         "usage": {"prompt_tokens": 12, "completion_tokens": 3}, "include_usage": True},
        {"deltas": XSS_DELTAS, "delay_ms": 10,
         "usage": {"prompt_tokens": 20, "completion_tokens": 4}, "include_usage": True},
        {"deltas": ["Write to ", "ops@example.com", " today"], "delay_ms": 10}])
    d = e2e.Daemon()
    e2e.run_client(srv, model="gpt-4o-mini", prompt="what does the axolotl eat?")
    e2e.run_client(srv, model="gpt-4.1", prompt=XSS_PROMPT)
    e2e.run_client(srv, model="gpt-4o", prompt="my address is ops@example.com")
    stored(d, 3)
    calls = api(d, "/api/v1/calls")["calls"]
    assert len(calls) == 3, calls
    by_model = {c["model"]: c for c in calls}
    xss = api(d, "/api/v1/calls/" + by_model["gpt-4.1"]["id"])
    assert xss["prompt"].startswith("user: <script>"), xss["prompt"]

    # the page and its files: CSP and nosniff on each
    with urllib.request.urlopen(d.url("/"), timeout=5) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Content-Type"].startswith("text/html")

    base = d.url("/")
    out = browse([
        {"goto": base + "#/calls"}, ready("calls"), shot("calls"),
        texts("models", "tr[data-call-id] td[data-col=model]"),
        ids("ids", "tr[data-call-id]", "callId"),
        # search: the box, then the rows the API finds
        {"type": "input#q", "text": "axolotl"}, {"press": "Enter"},
        {"wait": '#view[data-ready="1"] [data-col=snippet]'}, ready("calls"),
        ids("found", "tr[data-call-id]", "callId"),
        texts("snippets", "[data-col=snippet]"), look("hash", "location.hash"),
        shot("calls-search"),
        # the call with markup in its prompt and completion
        {"goto": base + "#/call/" + xss["id"]}, ready("call"), shot("call"),
        texts("prompt", "pre[data-role=prompt]"), texts("completion", "pre[data-role=completion]"),
        texts("model", "[data-field=model]"), texts("status", "[data-field=status]"),
        attr("chunks", "svg[data-role=timeline]", "data-chunks"),
        count("chunk_marks", "[data-role=chunk]"),
        count("imgs", "img[src='x'], img[src$='/x']"), count("inline_scripts", "script:not([src])"),
        count("bold", "pre[data-role=completion] b, pre[data-role=prompt] script"),
        # the call with a guardrail match in its completion
        {"goto": base + "#/call/" + by_model["gpt-4o"]["id"]}, ready("call"),
        look("marks", "[...document.querySelectorAll('mark[data-rule]')].map(e => "
                      "[e.dataset.rule, e.textContent])"),
        {"goto": base + "#/trends"}, ready("trends"), shot("trends"),
        {"click": "#theme-toggle"}, look("theme", "document.documentElement.dataset.theme"),
        look("bg", "getComputedStyle(document.documentElement).backgroundColor"),
        shot("trends-other-theme"),
        {"click": "#theme-toggle"},
        look("charts", "Object.fromEntries([...document.querySelectorAll('svg[data-chart]')]"
                       ".map(e => [e.dataset.chart, +e.dataset.points]))"),
        {"goto": base + "#/probes"}, ready("probes"), shot("probes"),
        ids("probes", "tr[data-probe-path]", "probePath"),
        {"goto": base + "#/live"}, ready("live"), shot("live-idle"),
        {"viewport": [420, 800]}, {"goto": base + "#/calls"}, ready("calls"),
        shot("calls-narrow"),
        look("fits", "document.documentElement.scrollWidth <= window.innerWidth + 1"),
    ])
    clean(out)
    r = out["named"]
    # the calls view: the API's calls, newest first, their models
    assert r["models"] == [c["model"] for c in calls], (r["models"], calls)
    assert r["ids"] == [c["id"] for c in calls], r["ids"]
    found = api(d, "/api/v1/calls", q="axolotl")["calls"]
    assert r["found"] == [c["id"] for c in found] and len(found) == 2, (r["found"], found)
    assert all("axolotl" in s.lower() for s in r["snippets"]), r["snippets"]
    assert "q=axolotl" in r["hash"], r["hash"]
    # the call: its text as text, nothing of it run or parsed as markup
    assert r["prompt"] == [xss["prompt"].strip()], (r["prompt"], xss["prompt"])
    assert r["completion"] == ["".join(XSS_DELTAS)], r["completion"]
    assert r["model"] == ["gpt-4.1"] and r["status"] == ["completed"], r
    chunks = len(xss["timeline"]["chunks_ms"])
    assert int(r["chunks"]) == chunks == r["chunk_marks"] > 0, (r, xss["timeline"])
    assert r["imgs"] == 0 and r["inline_scripts"] == 0 and r["bold"] == 0, r
    # the address the guardrail matched, highlighted where it is
    # (served masked: the default policy redacts addresses)
    assert r["marks"] == [["pii.email", "*" * len("ops@example.com")]], r["marks"]
    # the switch turns the page dark (headless Chromium prefers light)
    assert r["theme"] == "dark" and r["bg"] == "rgb(15, 19, 24)", (r["theme"], r["bg"])
    windows = api(d, "/api/v1/metrics", **{"from": "1h", "step": "1m"})["windows"]
    assert windows and r["charts"].get("requests", 0) >= len(windows), (r["charts"], windows)
    paths = {f["path"] for f in api(d, "/api/v1/probes")["files"]}
    assert paths and set(r["probes"]) == paths, (r["probes"], paths)
    assert r["fits"] is True, "the narrow calls view scrolls sideways as a page"


@e2e.test(timeout=120)
def live_view_picks_up_a_new_stream():
    srv = e2e.TlsServer(script={"deltas": ["tick "] * 40, "delay_ms": 150,
                                "usage": {"prompt_tokens": 5, "completion_tokens": 40},
                                "include_usage": True})
    d = e2e.Daemon()
    base = d.url("/")
    # the page shows the live view before the stream starts
    flag, clients = e2e.tmpfile("live") + ".open", []  # made by the page

    def start_client():
        e2e.wait_for(lambda: os.path.exists(flag), 60, 0.05, "the live view open")
        clients.append(e2e.Client(srv, model="gpt-4o-mini", prompt="count slowly"))

    out = browse([
        {"goto": base + "#/live"}, ready("live"), count("before", "tr[data-stream-id]"),
        {"touch": flag},
        {"wait": "tr[data-stream-id] td[data-col=status]", "timeout": 20000},
        texts("model", "tr[data-stream-id] td[data-col=model]"),
        texts("status", "tr[data-stream-id] td[data-col=status]"),
        texts("active", "[data-tile=active]"), shot("live"), {"sleep": 1500},
        texts("chunks", "tr[data-stream-id] td[data-col=chunks]"),
        ids("ids", "tr[data-stream-id]", "streamId"),
    ], timeout=90, meanwhile=start_client)
    clients[0].results(60)
    clean(out)
    r = out["named"]
    assert r["before"] == 0, ("no stream before the client started", r, api(d, "/api/v1/calls"))
    assert r["model"] == ["gpt-4o-mini"] and r["status"] == ["streaming"], r
    assert "1" in r["active"][0], r["active"]
    [s] = api(d, "/api/v1/calls")["calls"]
    assert r["ids"] == [s["id"]], (r["ids"], s)
    assert 0 < int(r["chunks"][0]) <= s["chunks"], (r["chunks"], s["chunks"])


@e2e.test(timeout=120)
def a_replay_is_browsable_without_bpf():
    # the replay tests' recording; their module registers its tests and runs
    # them when imported: neither here
    main, tests = e2e.main, list(e2e._tests)
    e2e.main = lambda: None
    try:
        import test_replay_api as replay
    finally:
        e2e.main, e2e._tests[:] = main, tests
    w = replay.world()
    d = replay.serve()
    streams = e2e.streams(d)
    base = d.url("/")
    out = browse([
        {"goto": base + "#/calls"}, ready("calls"), shot("replay-calls"),
        texts("models", "tr[data-call-id] td[data-col=model]"),
        texts("statuses", "tr[data-call-id] td[data-col=status]"),
        {"goto": base + "#/probes"}, ready("probes"), texts("probes", "#view"),
    ])
    clean(out, replay=True)
    r = out["named"]
    assert r["models"] == [c["model"] for c in w.calls], r["models"]
    assert r["statuses"] == [s["status"] for s in streams], r["statuses"]
    assert "replay" in r["probes"][0].lower(), r["probes"]  # 503 while replaying


@e2e.test(timeout=300)
def calls_view_over_10000_calls_renders_fast():
    tmp = e2e.tmpdir()
    env = dict(os.environ, STORE_CALLS="10000", SEARCH_CALLS="10000", SEARCHES="1")
    bench = os.path.join(e2e.REPO, os.environ.get("BUILD", "build"), "bench", "store_bench")
    subprocess.run([bench, tmp], env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
    rec = e2e.tmpfile("empty.rec.gz")  # a recording of nothing: the calls are stored
    sys.path.insert(0, os.path.join(e2e.REPO, "tests", "bench"))
    import make_recording
    with gzip.open(rec, "wb") as f:
        f.write(make_recording.file_header())
    # the benchmark's calls start on 2026-01-01: kept by a long retention
    d = e2e.Daemon("--replay", rec, "--serve", "--store", os.path.join(tmp, "store.db"),
                   "--retention", "3650d")
    day = api(d, "/api/v1/metrics", **{"from": "2026-01-01T00:00:00Z",
                                       "to": "2026-01-02T00:00:00Z", "step": "all"})
    assert sum(w["requests"] for w in day["windows"]) == 10000, day
    first = api(d, "/api/v1/calls", limit=100)["calls"]
    views, loads = [], []
    for _ in range(3):  # the best of three: a cold first start is the machine's
        out = browse([{"goto": d.url("/") + "#/live"}, ready("live"),
                      look("t0", "performance.now()"), {"click": "a[data-nav=calls]"},
                      ready("calls"), look("at", "window.__readyAt"),
                      ids("ids", "tr[data-call-id]", "callId"), {"goto": "about:blank"}, {"goto": d.url("/") + "#/calls"}, ready("calls"),
                      look("cold", "window.__readyAt.calls")])
        clean(out)
        r = out["named"]
        assert r["ids"] == [c["id"] for c in first], r["ids"][:5]
        views.append(r["at"]["calls"] - r["t0"])
        loads.append(r["cold"])
    print("calls view over 10,000 stored calls: %.0f ms from its tab to its rows (best of %s);"
          " %.0f ms from a cold page load (best of %s)"
          % (min(views), ["%.0f" % t for t in views], min(loads), ["%.0f" % t for t in loads]))
    assert min(views) < FIRST_RENDER_MS, views


e2e.main()
