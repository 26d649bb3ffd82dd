#!/usr/bin/env python3
"""Every provider wire format end to end with real BPF: a local TLS server
streams Anthropic, Gemini, OpenAI Responses and Ollama NDJSON bodies (and
compressed OpenAI SSE) to curl; the daemon must decode each exactly."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
from e2e_lib import sse  # noqa: E402


def curl(srv, path, body, extra=()):
    argv = ["curl", "-sS", "--http1.1", "-N", "--cacert", srv.cafile,
            "-H", "Content-Type: application/json", "-H", "x-api-key: " + e2e.SECRET,
            "--data-binary", json.dumps(body), *extra,
            "https://localhost:%d%s" % (srv.port, path)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def one_stream(d, timeout=15):
    def done():
        st = d.get_json("/api/v1/streams")[1]["streams"]
        got = [s for s in st if s["comm"] == "curl" and s["status"] != "streaming"]
        return got[0] if got else None
    return e2e.wait_for(done, timeout, 0.05, "a finished curl stream")


ANTHROPIC = sse(
    ("message_start", {"type": "message_start", "message": {
        "model": "claude-sonnet-4-5", "usage": {"input_tokens": 12, "cache_read_input_tokens": 4608,
                                                "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Bon"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "jour ☀"}}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"output_tokens": 7}}),
    ("message_stop", {"type": "message_stop"}))


@e2e.test
def anthropic_messages_stream():
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream; charset=utf-8",
                                        "pieces": ANTHROPIC, "delay_ms": 30}})
    d = e2e.Daemon()
    curl(srv, "/v1/messages", {"model": "claude-sonnet-4-5", "stream": True, "max_tokens": 64})
    s = one_stream(d)
    assert s["provider"] == "anthropic" and s["status"] == "completed", s
    assert s["text"] == "Bonjour ☀" and s["finish_reason"] == "end_turn", s
    assert s["usage"]["input_tokens"] == 4620 and s["usage"]["cached_input_tokens"] == 4608, s
    assert s["usage"]["output_tokens"] == 7 and s["model"] == "claude-sonnet-4-5", s
    assert s["ttft_ms"] >= 25, s  # the first text delta is the third piece


@e2e.test
def gemini_stream_model_from_path():
    pieces = ['data: {"candidates": [{"content": {"parts": [{"text": "Chey"}],"role": "model"}}],'
              '"modelVersion": "gemini-2.5-flash"}\r\n\r\n',
              'data: {"candidates": [{"content": {"parts": [{"text": "enne"}],"role": "model"},'
              '"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 6,'
              '"candidatesTokenCount": 2,"thoughtsTokenCount": 5}}\r\n\r\n']
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream", "pieces": pieces}})
    d = e2e.Daemon()
    curl(srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
         {"contents": [{"parts": [{"text": "capital of Wyoming?"}]}]})
    s = one_stream(d)
    assert s["provider"] == "gcp.gemini" and s["model"] == "gemini-2.5-flash", s
    assert s["status"] == "completed" and s["text"] == "Cheyenne", s
    assert s["usage"]["output_tokens"] == 7 and s["usage"]["reasoning_tokens"] == 5, s
    assert s["endpoint"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent", s


@e2e.test
def openai_responses_stream():
    pieces = sse((None, {"type": "response.created", "response": {"model": "gpt-4.1"}}),
                 (None, {"type": "response.output_text.delta", "delta": "Hel"}),
                 (None, {"type": "response.output_text.delta", "delta": "lo"}),
                 (None, {"type": "response.completed", "response": {
                     "model": "gpt-4.1", "status": "completed",
                     "usage": {"input_tokens": 9, "output_tokens": 2,
                               "input_tokens_details": {"cached_tokens": 4}}}}))
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream", "pieces": pieces}})
    d = e2e.Daemon()
    curl(srv, "/v1/responses", {"model": "gpt-4.1", "input": "hi", "stream": True})
    s = one_stream(d)
    assert s["provider"] == "openai" and s["status"] == "completed" and s["text"] == "Hello", s
    assert s["usage"]["cached_input_tokens"] == 4 and s["model"] == "gpt-4.1", s


@e2e.test
def ollama_ndjson_over_tls():
    lines = [json.dumps({"model": "llama3.2", "message": {"role": "assistant", "content": c},
                         "done": False}) + "\n" for c in ("The", " sky", " is")]
    lines.append(json.dumps({"model": "llama3.2", "message": {"role": "assistant", "content": ""},
                             "done": True, "done_reason": "stop", "prompt_eval_count": 26,
                             "eval_count": 3, "total_duration": 61500000,
                             "eval_duration": 42000000}) + "\n")
    srv = e2e.TlsServer(script={"raw": {"content_type": "application/x-ndjson", "pieces": lines,
                                        "delay_ms": 20}})
    d = e2e.Daemon()
    curl(srv, "/api/chat", {"model": "llama3.2", "messages": []})
    s = one_stream(d)
    assert s["provider"] == "ollama" and s["status"] == "completed", s
    assert s["text"] == "The sky is" and s["usage"]["output_tokens"] == 3, s
    assert s["chunks"] == 4 and s["inter_chunk_ms"]["max"] >= 15, s
    assert s["server_timings"] == {"total_ms": 61.5, "load_ms": None, "prompt_ms": None,
                                   "generation_ms": 42.0}, s


@e2e.test
def compressed_bodies():
    body = "".join(sse(*[(None, {"choices": [{"index": 0, "delta": {"content": w}}]})
                         for w in ("com", "pressed", "!")]))
    body += "data: [DONE]\n\n"
    for enc in ("gzip", "deflate"):
        srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream",
                                            "pieces": [body[:40], body[40:90], body[90:]],
                                            "encoding": enc}})
        d = e2e.Daemon()
        curl(srv, "/v1/chat/completions", {"model": "gpt-4o", "stream": True})
        s = one_stream(d)
        assert s["status"] == "completed" and s["text"] == "compressed!", (enc, s)
        d.stop()
        srv.stop()


@e2e.test
def keep_alive_plain_then_streaming():
    srv = e2e.TlsServer(script=[{"deltas": ["plain answer"]}, {"deltas": ["stre", "amed"]}])
    d = e2e.Daemon()
    base = "https://localhost:%d/v1/chat/completions" % srv.port
    out = subprocess.run(
        ["curl", "-sS", "--http1.1", "--cacert", srv.cafile, "-H", "Content-Type: application/json",
         "--data-binary", json.dumps({"model": "m1"}), base, "--next", "--http1.1", "--cacert",
         srv.cafile, "-H", "Content-Type: application/json", "-N", "--data-binary",
         json.dumps({"model": "m2", "stream": True}), base],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr
    conns = {r["conn"] for r in srv.requests()}
    assert len(conns) == 1, "curl did not reuse the connection: %r" % srv.requests()
    def both_done():
        st = [x for x in d.get_json("/api/v1/streams")[1]["streams"] if x["comm"] == "curl"]
        return st if len(st) == 2 and all(x["status"] != "streaming" for x in st) else None
    got = e2e.wait_for(both_done, 15, 0.05, "two curl calls")
    plain, streamed = sorted(got, key=lambda x: int(x["id"]))
    assert plain["text"] == "plain answer" and plain["model"] == "m1", plain
    assert plain["status"] == "completed" and plain["ttft_ms"] is not None, plain
    assert streamed["text"] == "streamed" and streamed["model"] == "m2", streamed


@e2e.test
def tool_call_arguments_reassembled():
    def tc(args, name=None):
        fn = {"arguments": args}
        if name:
            fn["name"] = name
        return (None, {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "type": "function", "function": fn}]}}]})
    pieces = sse(tc("", "get_weather"), tc('{"ci'), tc('ty":"Par'), tc('is"}'),
                 (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
    pieces.append("data: [DONE]\n\n")
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream", "pieces": pieces,
                                        "delay_ms": 10}})
    d = e2e.Daemon()
    curl(srv, "/v1/chat/completions", {"model": "gpt-4o", "stream": True, "tools": []})
    s = one_stream(d)
    assert s["status"] == "completed" and s["finish_reason"] == "tool_calls", s
    assert s["tool_calls"] == [{"name": "get_weather", "arguments": '{"city":"Paris"}'}], s


class PlainServer(e2e.Managed):
    def __init__(self, host="127.0.0.1"):
        super().__init__("plain_http_server",
                         [sys.executable, os.path.join(e2e.E2E_DIR, "plain_http_server.py"),
                          "--host", host],
                         e2e.tmpfile("plain.log"), stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT "), line + self.log_tail()
        self.port = int(line.split()[1])


@e2e.test
def plaintext_ndjson_to_local_server():
    srv = PlainServer()
    d = e2e.Daemon("--plain-port", str(srv.port))
    url = "http://127.0.0.1:%d/api/chat" % srv.port
    # a real Python client (urllib: send/recv syscalls) and curl
    py = subprocess.run([sys.executable, "-c",
                         "import urllib.request,sys;r=urllib.request.urlopen(urllib.request."
                         "Request(sys.argv[1],data=b'{\"model\":\"llama3.2\"}',headers="
                         "{'Authorization':'Bearer %s'}));print(len(r.read()))" % e2e.SECRET, url],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert py.returncode == 0, py.stderr
    subprocess.run(["curl", "-sS", "--http1.1", "-N", url, "-d", '{"model":"llama3.2"}'],
                   stdout=subprocess.DEVNULL, check=True, timeout=30)

    def both():
        st = [x for x in d.get_json("/api/v1/streams")[1]["streams"] if x["status"] != "streaming"]
        return st if len(st) >= 2 else None
    got = e2e.wait_for(both, 15, 0.05, "two plaintext streams")
    assert {x["comm"] for x in got} >= {"curl"}, got
    for s in got:
        assert s["provider"] == "ollama" and s["status"] == "completed", s
        assert s["text"] == "The sky is blue" and s["usage"]["output_tokens"] == 4, s
        assert s["peer"] == "127.0.0.1:%d" % srv.port, s
        assert s["inter_chunk_ms"]["max"] >= 20, s
    status, _, body = d.get("/api/v1/streams")
    assert e2e.SECRET.encode() not in body


VECTORED_CLIENT = r"""
import os, socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
body = b'{"model":"llama3.2"}'
head = b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
s = socket.create_connection(("127.0.0.1", port))
if mode == "msg":
    s.sendmsg([head, body])          # sendmsg with two iovecs
else:
    os.writev(s.fileno(), [head[:10], head[10:], body])
got = b""
while not got.endswith(b"0\r\n\r\n"):
    a, b = bytearray(7), bytearray(4096)
    if mode == "msg":
        n = s.recvmsg_into([a, b])[0]    # recvmsg, two iovecs
    else:
        n = os.readv(s.fileno(), [a, b])
    if not n:
        break
    got += (bytes(a) + bytes(b))[:n]
s.close()
print(len(got))
"""


@e2e.test
def plaintext_vectored_syscalls():
    srv = PlainServer()
    d = e2e.Daemon("--plain-port", str(srv.port))
    for mode in ("msg", "vec"):
        out = subprocess.run([sys.executable, "-c", VECTORED_CLIENT, str(srv.port), mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert out.returncode == 0, out.stderr

    def both():
        st = [x for x in d.get_json("/api/v1/streams")[1]["streams"] if x["status"] != "streaming"]
        return st if len(st) >= 2 else None
    for s in e2e.wait_for(both, 15, 0.05, "two vectored streams"):
        assert s["status"] == "completed" and s["text"] == "The sky is blue", s
        assert s["dropped_bytes"] == 0, s


def followed_sockets_of(tgid):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "name", "plain_fds"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout or b"[]")
    return [e for e in entries if (e.get("formatted") or {}).get("key", {}).get("tgid") == tgid]


@e2e.test
def exiting_process_leaves_no_followed_sockets():
    srv = PlainServer()
    d = e2e.Daemon("--plain-port", str(srv.port))
    # reads its answer, then exits without closing: the kernel closes the fd
    code = ("import os,socket,sys;s=socket.create_connection(('127.0.0.1',%d));"
            "s.sendall(b'POST /api/chat HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2"
            "\\r\\n\\r\\n{}');d=b''\n"
            "while not d.endswith(b'0\\r\\n\\r\\n'): d+=s.recv(65536)\n"
            "print(os.getpid(),flush=True);os._exit(0)" % srv.port)
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    s = e2e.wait_for(lambda: next((x for x in d.get_json("/api/v1/streams")[1]["streams"]
                                   if x["pid"] == pid and x["status"] != "streaming"), None),
                     15, 0.05, "the stream of the exiting client")
    assert s["status"] == "completed" and s["text"] == "The sky is blue", s
    assert followed_sockets_of(pid) == [], followed_sockets_of(pid)


class TestHost:
    """A network namespace joined to this host by a veth pair: a remote client."""

    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.ns, self.veth = "llmobs-t" + tag, "llmobs-h" + tag
        self.host_ip, self.peer_ip = "10.203.%d.1" % (os.getpid() % 250), "10.203.%d.2" % (
            os.getpid() % 250)
        for cmd in (["ip", "netns", "add", self.ns],
                    ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
                     "netns", self.ns],
                    ["ip", "addr", "add", self.host_ip + "/30", "dev", self.veth],
                    ["ip", "link", "set", self.veth, "up"],
                    ["ip", "-n", self.ns, "addr", "add", self.peer_ip + "/30", "dev", "eth0"],
                    ["ip", "-n", self.ns, "link", "set", "eth0", "up"],
                    ["ip", "-n", self.ns, "link", "set", "lo", "up"]):
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if out.returncode:
                self.close()
                raise AssertionError("%s: %s" % (" ".join(cmd), out.stdout.decode()))

    def run(self, argv, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns] + argv, **kw)

    def close(self):
        subprocess.run(["ip", "link", "del", self.veth], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


@e2e.test
def plaintext_server_side_sees_remote_clients():
    host = TestHost()
    try:
        srv = PlainServer(host="0.0.0.0")
        d = e2e.Daemon("--plain-port", str(srv.port))
        out = host.run(["curl", "-sS", "--http1.1", "-N", "-d", '{"model":"llama3.2"}',
                        "http://%s:%d/api/chat" % (host.host_ip, srv.port)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert out.returncode == 0, out.stderr

        def both():
            st = [x for x in d.get_json("/api/v1/streams")[1]["streams"]
                  if x["status"] != "streaming"]
            return st if len(st) >= 2 else None
        got = {x["side"]: x for x in e2e.wait_for(both, 15, 0.05, "client and server side")}
        server, client = got["server"], got["client"]
        assert server["pid"] == srv.proc.pid and server["comm"].startswith("python"), server
        assert server["peer"].startswith(host.peer_ip + ":"), server
        assert client["comm"] == "curl" and client["peer"] == "%s:%d" % (host.host_ip, srv.port)
        for s in (server, client):
            assert s["status"] == "completed" and s["text"] == "The sky is blue", s
        # the server answers its first line at once: its TTFT is its own processing time
        assert server["ttft_ms"] < client["ttft_ms"] + 1, (server["ttft_ms"], client["ttft_ms"])
    finally:
        host.close()


@e2e.test
def tls_on_a_followed_port_is_counted_once():
    srv = e2e.TlsServer(script={"deltas": ["once"]})
    d = e2e.Daemon("--plain-port", str(srv.port))
    [r] = e2e.run_client(srv)

    def done():
        st = d.get_json("/api/v1/streams")[1]["streams"]
        return st if st and all(x["status"] != "streaming" for x in st) else None
    st = e2e.wait_for(done, 15, 0.05, "the TLS stream")
    assert len(st) == 1 and st[0]["text"] == "once" and st[0]["pid"] == r["pid"], st
    stats = d.get_json("/api/v1/stats")[1]["pipeline"]
    assert stats["ignored_not_http_bytes"] > 0, stats  # the handshake, seen as plain bytes


e2e.main()
