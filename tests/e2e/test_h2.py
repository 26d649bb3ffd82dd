#!/usr/bin/env python3
"""HTTP/2 end to end with real BPF: a local server offering h2 and http/1.1
in ALPN (tests/e2e/h2_server.py), real clients (curl's default, Python
httpx with http2=True, Node's http2, Go's x/net/http2 over h2c), and the
cases only HTTP/2 has: concurrent streams, RST_STREAM, GOAWAY,
CONTINUATION, flow-control stalls, joining an open connection."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
from e2e_lib import sse, metric, no_secret  # noqa: E402


def chat_delta(text):
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def chat(*texts, model="gpt-4o-2024-08-06"):
    return sse(*[(None, dict(chat_delta(t), model=model)) for t in texts],
               (None, {"model": model, "choices": [{"index": 0, "delta": {},
                                                    "finish_reason": "stop"}]}),
               (None, {"model": model, "choices": [],
                       "usage": {"prompt_tokens": 11, "completion_tokens": len(texts)}})) + [
        "data: [DONE]\n\n"]


RESPONSES = sse(
    ("response.created", {"type": "response.created", "response": {"model": "gpt-5"}}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hel"}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "lo"}),
    ("response.completed", {"type": "response.completed", "response": {
        "model": "gpt-5", "status": "completed",
        "usage": {"input_tokens": 9, "output_tokens": 2}}}))

ANTHROPIC = e2e.anthropic_sse("Bon", "jour")

GEMINI = sse(
    (None, {"candidates": [{"content": {"parts": [{"text": "Hal"}], "role": "model"}}],
            "modelVersion": "gemini-2.5-flash"}),
    (None, {"candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2,
                              "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash"}))


def calls(d, **f):
    return e2e.streams(d, **f)


def finished(d, n, timeout=15, **f):
    def done():
        got = [s for s in calls(d, limit=n + 100, **f) if s["status"] != "streaming"]
        return got if len(got) >= n else None
    return list(reversed(e2e.wait_for(done, timeout, 0.05, "%d finished call(s)" % n)))


def trace_seconds(line):
    h, m, sec = line.split(" ", 1)[0].split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def curl(srv, path, body, extra=()):
    """curl's default (HTTP/2 over TLS by ALPN); its own TTFT from its trace:
    the request body sent -> the first response data received."""
    trace = e2e.tmpfile("curl.trace")
    marker = "\n@@curl@@"
    argv = ["curl", "-sS", "-N", "--cacert", srv.cafile, "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer " + e2e.SECRET, "--data-binary", json.dumps(body),
            "--trace-ascii", trace, "--trace-time", "-w", marker + "%{http_version}",
            *extra, "https://localhost:%d%s" % (srv.port, path)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    text, version = out.stdout.decode().rsplit(marker, 1)
    lines = open(trace, errors="replace").read().splitlines()
    sent = [trace_seconds(x) for x in lines if " => Send data," in x][-1]
    got = [trace_seconds(x) for x in lines if " <= Recv data," in x][0]
    return {"version": version, "body": text, "ttft_ms": (got - sent) * 1e3}


@e2e.test
def curl_default_is_http2_and_captured():
    srv = e2e.H2Server(script={"pieces": chat("Hello", ",", " world"), "first_delay_ms": 60,
                               "delay_ms": 20})
    d = e2e.Daemon()
    r = curl(srv, "/v1/chat/completions", {"model": "gpt-4o", "stream": True})
    assert r["version"] == "2", r
    [s] = finished(d, 1, comm="curl")
    assert s["status"] == "completed" and s["error"] is None, s
    assert s["provider"] == "openai" and s["endpoint"] == "/v1/chat/completions", s
    assert s["text"] == "Hello, world", s
    assert s["model"] == "gpt-4o" and s["protocol"] == "h2", s  # the request's model
    assert s["usage"]["output_tokens"] == 3 and s["usage"]["input_tokens"] == 11, s
    assert s["http_status"] == 200, s
    assert abs(s["ttft_ms"] - r["ttft_ms"]) <= 5, (s["ttft_ms"], r)
    assert metric(d, "llmobs_capture_ignored_bytes_total", 'reason="not_http"') == 0
    no_secret(d)


HTTPX = r"""
import json, sys, time, httpx
port, cafile, path, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with httpx.Client(http2=True, verify=cafile) as c:
    c.get("https://localhost:%s/warm-up" % port).read()  # the connection set up first
    t0 = time.monotonic(); first = None; text = b""
    with c.stream("POST", "https://localhost:%s%s" % (port, path), content=body,
                  headers={"content-type": "application/json",
                           "authorization": "Bearer sk-e2e-secret-never-served"}) as r:
        for chunk in r.iter_raw():
            text += chunk
            if first is None and b"output_text.delta" in text:
                first = time.monotonic()  # the first content delta read
    print(json.dumps({"http_version": r.http_version, "status": r.status_code,
                      "ttft_ms": (first - t0) * 1e3, "body": text.decode()}))
"""


@e2e.test
def httpx_http2_responses_api():
    srv = e2e.H2Server(script={"pieces": RESPONSES, "first_delay_ms": 80, "delay_ms": 20})
    d = e2e.Daemon()
    out = subprocess.run([e2e.DEBIAN_PYTHON, "-c", HTTPX, str(srv.port), srv.cafile,
                          "/v1/responses", json.dumps({"model": "gpt-5", "stream": True})],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    r = json.loads(out.stdout)
    assert r["http_version"] == "HTTP/2", r
    [s] = finished(d, 1)
    assert s["status"] == "completed", s
    assert s["provider"] == "openai" and s["endpoint"] == "/v1/responses", s
    assert s["text"] == "Hello" and s["model"] == "gpt-5", s
    assert s["usage"]["input_tokens"] == 9 and s["usage"]["output_tokens"] == 2, s
    # the client's clock starts before its request is written: ours after
    assert abs(s["ttft_ms"] - r["ttft_ms"]) <= 5, (s["ttft_ms"], r["ttft_ms"])
    no_secret(d)


NODE = r"""
const http2 = require('http2'), fs = require('fs');
const [port, cafile, path, body] = process.argv.slice(1);  // node -e: argv[1] is ours
const c = http2.connect('https://localhost:' + port, {ca: fs.readFileSync(cafile)});
c.on('connect', () => {  // TLS set up first: the clock starts at the request
  let first = null, text = '';
  const req = c.request({':method': 'POST', ':path': path, 'content-type': 'application/json',
                         'x-api-key': 'sk-e2e-secret-never-served'});
  req.setEncoding('utf8');
  req.on('data', (d) => {
    text += d;
    if (first === null && text.includes('text_delta')) first = performance.now();
  });
  req.on('end', () => { console.log(JSON.stringify({ttft_ms: first - t0, body: text})); c.close(); });
  const t0 = performance.now();
  req.end(body);
});
"""


@e2e.test
def node_http2_anthropic():
    srv = e2e.H2Server(script={"pieces": ANTHROPIC, "first_delay_ms": 60, "delay_ms": 15})
    d = e2e.Daemon()
    out = subprocess.run(["node", "-e", NODE, str(srv.port), srv.cafile, "/v1/messages",
                          json.dumps({"model": "claude-sonnet-4-5", "stream": True,
                                      "max_tokens": 64})],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    r = json.loads(out.stdout)
    [s] = finished(d, 1, comm="node")
    assert s["status"] == "completed", s
    assert s["provider"] == "anthropic" and s["text"] == "Bonjour", s
    assert s["model"] == "claude-sonnet-4-5" and s["finish_reason"] == "end_turn", s
    assert s["usage"]["input_tokens"] == 12 and s["usage"]["output_tokens"] == 3, s
    # node's clock starts before its write goes out and stops after its
    # event loop handled the read the daemon timed: the daemon's is never
    # more, and a busy machine adds a few ms between the two (7 ms seen)
    assert r["ttft_ms"] - 12 <= s["ttft_ms"] <= r["ttft_ms"] + 1, (s["ttft_ms"], r["ttft_ms"])
    no_secret(d)


GO_CLIENT = r"""
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/http2"
)

func main() {
	tr := &http2.Transport{AllowHTTP: true,
		DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		}}
	c := &http.Client{Transport: tr}
	t0 := time.Now()
	resp, err := c.Post("http://127.0.0.1:"+os.Args[1]+os.Args[2], "application/json",
		bytes.NewBufferString(os.Args[3]))
	if err != nil {
		panic(err)
	}
	var first time.Duration
	var body []byte
	buf := make([]byte, 65536)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && first == 0 {
			first = time.Since(t0)
		}
		body = append(body, buf[:n]...)
		if err == io.EOF {
			break
		} else if err != nil {
			panic(err)
		}
	}
	out, _ := json.Marshal(map[string]interface{}{"proto": resp.Proto,
		"ttft_ms": float64(first.Microseconds()) / 1e3, "body": string(body)})
	fmt.Println(string(out))
}
"""


def build_go(src, name):
    """A Go program against Debian's golang-golang-x-net-dev (GOPATH mode)."""
    if not os.path.exists("/usr/share/gocode/src/golang.org/x/net/http2"):
        raise e2e.Skip("golang-golang-x-net-dev not installed (make deps)")
    work = e2e.tmpdir()
    path = os.path.join(work, name + ".go")
    with open(path, "w") as f:
        f.write(src)
    exe = os.path.join(work, name)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.path.join(work, "gocache"), GOFLAGS="")
    out = subprocess.run(["go", "build", "-o", exe, path], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=300)
    assert out.returncode == 0, out.stdout.decode()
    return exe


@e2e.test(timeout=400)
def go_h2c_gemini_on_a_followed_plain_port():
    exe = build_go(GO_CLIENT, "h2c_client")
    srv = e2e.H2Server(script={"pieces": GEMINI, "first_delay_ms": 60, "delay_ms": 15},
                       plain=True)
    d = e2e.Daemon("--plain-port", str(srv.port))
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=" + e2e.SECRET
    out = subprocess.run([exe, str(srv.port), path, json.dumps({"contents": []})],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    r = json.loads(out.stdout)
    assert r["proto"] == "HTTP/2.0", r
    [s] = finished(d, 1)
    assert s["status"] == "completed", s
    assert s["provider"] == "gcp.gemini" and s["text"] == "Hallo", s
    assert s["model"] == "gemini-2.5-flash", s
    assert s["usage"]["input_tokens"] == 5 and s["usage"]["output_tokens"] == 2, s
    assert abs(s["ttft_ms"] - r["ttft_ms"]) <= 5, (s["ttft_ms"], r["ttft_ms"])
    no_secret(d)


def h2_client(srv, timeout=60, **opts):
    argv = [e2e.DEBIAN_PYTHON, os.path.join(e2e.E2E_DIR, "h2_client.py"),
            "--port", str(srv.port), "--cafile", srv.cafile]
    for k, v in opts.items():
        argv += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    assert out.returncode == 0, out.stderr.decode()
    return e2e.parse_client_output(out.stdout.decode())


@e2e.test
def concurrent_streams_on_one_connection():
    # every stream's deltas name it, and they interleave on the wire
    pieces = chat("<{n}>", " a{n}", " b{n}", " c{n}")
    srv = e2e.H2Server(script={"pieces": pieces, "delay_ms": 25})
    d = e2e.Daemon()
    for k in (2, 20):
        got = h2_client(srv, streams=k, body=json.dumps({"model": "gpt-4o", "stream": True}))
        assert len(got) == k and all(r["status"] == 200 for r in got), got
    conns = {r["conn"] for r in srv.requests()}
    assert len(conns) == 2, conns  # one connection per client run
    st = finished(d, 22)
    assert len(st) == 22, len(st)
    want = {"<0.%d> a0.%d b0.%d c0.%d" % ((k,) * 4) for k in range(20)}
    texts = [s["text"] for s in st]
    assert all(s["status"] == "completed" for s in st), [s for s in st if s["status"] != "completed"]
    assert want <= set(texts), sorted(set(texts) ^ want)
    assert all(s["usage"]["output_tokens"] == 4 for s in st), st


@e2e.test
def rst_stream_mid_response_is_aborted():
    srv = e2e.H2Server(script={"pieces": chat("one", " two", " three"), "delay_ms": 30,
                               "rst_after": 2})
    d = e2e.Daemon()
    [r] = h2_client(srv)
    assert r["reset"] == 8, r
    [s] = finished(d, 1)
    assert s["status"] == "aborted", s
    assert "RST_STREAM CANCEL from the server" in s["error"], s
    assert s["text"] == "one two", s


@e2e.test
def goaway_ends_streams_beyond_its_last_id():
    srv = e2e.H2Server(script={"pieces": chat("one", " two"), "delay_ms": 30,
                               "goaway_after": 1})
    d = e2e.Daemon()
    [r] = h2_client(srv)
    assert r["reset"] == "goaway", r
    [s] = finished(d, 1)
    assert s["status"] == "aborted" and "GOAWAY" in s["error"], s
    assert s["text"] == "one", s


@e2e.test
def continuation_headers_padding_and_gzip():
    srv = e2e.H2Server(script={"pieces": chat("squeezed", " text"), "delay_ms": 10,
                               "encoding": "gzip", "big_headers": 40000, "pad": 17,
                               "trailers": {"x-trailer": "t"}})
    d = e2e.Daemon()
    [r] = h2_client(srv, header_bytes=30000)
    assert r["status"] == 200, r
    [s] = finished(d, 1)
    assert s["status"] == "completed", s
    assert s["text"] == "squeezed text", s
    assert s["model"] == "gpt-4o", s


@e2e.test
def slow_reader_shows_a_flow_control_stall():
    big = "x" * 3000
    srv = e2e.H2Server(script={"pieces": chat(*[big] * 6), "frame_max": 4096})
    d = e2e.Daemon()
    [r] = h2_client(srv, window=4096, ack_delay_ms=150)
    assert r["status"] == 200, r
    [s] = finished(d, 1, timeout=30)
    assert s["status"] == "completed", s
    bp = s["backpressure"]
    assert bp and bp["h2_window_stalls"] >= 2, bp
    assert bp["h2_window_stalled_ms"] >= 150, bp


@e2e.test
def daemon_joins_an_open_http2_connection():
    srv = e2e.H2Server(script={"pieces": chat("r{n}", " ok"), "delay_ms": 10})
    argv = [e2e.DEBIAN_PYTHON, os.path.join(e2e.E2E_DIR, "h2_client.py"), "--port",
            str(srv.port), "--cafile", srv.cafile, "--rounds", "4"]
    d, got = e2e.daemon_joins(argv, lambda: len(srv.requests()), 4, pause=0.2)
    assert len(got) == 4, got

    def settled():
        st = [s for s in calls(d) if s["status"] != "streaming"]
        unparsed = metric(d, "llmobs_unparsed_exchanges_total", 'reason="hpack_state"')
        return (st, unparsed) if len(st) + unparsed >= 3 else None
    st, unparsed = e2e.wait_for(settled, 10, 0.1, "3 requests captured or counted")
    assert len(st) + unparsed == 3, (st, unparsed)
    for s in st:  # whatever is shown is right, or says why it is not
        assert s["endpoint"] == "/v1/chat/completions", s
        if s["status"] == "completed":
            assert s["text"] in ("r1.0 ok", "r2.0 ok", "r3.0 ok"), s
            assert s["model"] == "gpt-4o", s
        else:
            assert "HPACK" in (s["error"] or "") or "headers" in (s["error"] or ""), s
    assert metric(d, "llmobs_capture_ignored_bytes_total", 'reason="not_http"') == 0


e2e.main()
