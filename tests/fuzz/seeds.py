#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into OUT/<target>/, in each
harness's input format (tests/fuzz/fuzz_*.c), from tests/fixtures and a few
payloads of each provider written here; with --regress, the inputs of the
defects found once (committed in tests/fuzz/regress/, in the same formats).

Usage: seeds.py OUT
       seeds.py --regress tests/fuzz/regress"""

import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def pieces(data, size):
    """[length - 1][bytes] records, as fin_piece() reads them."""
    out = b""
    for off in range(0, len(data), size):
        part = data[off:off + size]
        out += bytes([len(part) - 1]) + part
    return out


def chunked(body, size=40):
    out = b""
    for off in range(0, len(body), size):
        part = body[off:off + size]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def request(path, body, host=b"api.openai.com", extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-secret\r\n%s"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path, host, extra, len(body), body))


def sse_response(body, encoding=None):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    if encoding == "gzip":
        body = gzip.compress(body)
        head += b"Content-Encoding: gzip\r\n"
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)


CHAT_REQ = (b'{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},'
            b'"messages":[{"role":"user","content":"my card is 4111 1111 1111 1111"}]}')
CHAT_SSE = (b'data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":'
            b'{"content":"Hello"}}]}\n\n'
            b'data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
            b'"id":"t1","function":{"name":"f","arguments":"{\\"a\\":"}}]}}]}\n\n'
            b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,'
            b'"prompt_tokens_details":{"cached_tokens":1}}}\n\n'
            b"data: [DONE]\n\n")
RESP_REQ = b'{"model":"gpt-4.1","stream":true,"input":"hi"}'
RESP_SSE = (b'event: response.created\ndata: {"type":"response.created","response":'
            b'{"id":"r1","model":"gpt-4.1"}}\n\n'
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            b'"delta":"Hi"}\n\n'
            b'event: response.completed\ndata: {"type":"response.completed","response":'
            b'{"status":"completed","usage":{"input_tokens":3,"output_tokens":1,'
            b'"output_tokens_details":{"reasoning_tokens":0}}}}\n\n')
ANTH_REQ = b'{"model":"claude-sonnet-4","stream":true,"max_tokens":64,"messages":[]}'
ANTH_SSE = (b'event: message_start\ndata: {"type":"message_start","message":{"model":'
            b'"claude-sonnet-4","usage":{"input_tokens":5,"cache_read_input_tokens":2}}}\n\n'
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
            b'"end_turn"},"usage":{"output_tokens":1}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
GEM_SSE = (b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n'
           b'data: {"candidates": [{"content": {"parts": [{"text": "!"}]},"finishReason":'
           b'"STOP"}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 2}}'
           b'\r\n\r\n')
OLLAMA_LINES = (b'{"model":"llama3","message":{"role":"assistant","content":"Hi"},"done":false}\n'
                b'{"model":"llama3","done":true,"done_reason":"stop","prompt_eval_count":4,'
                b'"eval_count":2,"eval_duration":1000000}\n')
ERROR_JSON = fixture("openai_error_429.json")

PROVIDER_STREAMS = [
    (1, CHAT_REQ, CHAT_SSE), (2, RESP_REQ, RESP_SSE), (3, ANTH_REQ, ANTH_SSE),
    (4, b'{"contents":[]}', GEM_SSE), (5, b'{"model":"llama3","messages":[]}', OLLAMA_LINES),
]


def sse_datas(stream):
    """The data fields of an SSE text (one per event)."""
    out = []
    for block in stream.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                out.append(line[6:])
    return out


def seeds_http():
    yield pieces(b"", 1)
    for req, resp in (("http_keepalive_requests.bin", "http_keepalive_responses.bin"),
                      ("http_request_secrets.bin", "http_sse_chunked_response.bin"),
                      ("http_request_secrets.bin", "http_json_response.bin"),
                      ("http_request_secrets.bin", "http_429_response.bin"),
                      ("http_request_secrets.bin", "http_close_delimited_response.bin")):
        out = b""
        for ctl, data in ((0, fixture(req)), (1 | 2, fixture(resp))):
            for off in range(0, len(data), 200):
                part = data[off:off + 200]
                out += bytes([ctl if off + 200 >= len(data) else ctl & 1, len(part) - 1]) + part
        yield out


def seeds_body():
    text = CHAT_SSE + fixture("openai_chat_stream_utf8.sse")
    yield bytes([0]) + pieces(gzip.compress(text), 100)
    yield bytes([1]) + pieces(zlib.compress(text), 100)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield bytes([1]) + pieces(raw.compress(text) + raw.flush(), 100)
    yield bytes([3]) + pieces(text, 100)
    yield bytes([1]) + pieces(b"\x07\x00", 2)


def seeds_sse():
    for name in ("openai_chat_stream_utf8.sse", "sse_cr_only_utf8.sse", "sse_done_and_fields.sse",
                 "sse_openai_crlf_comments.sse"):
        yield bytes([64, 1]) + pieces(fixture(name), 50)
    yield bytes([0, 0]) + pieces(ANTH_SSE, 33)


def seeds_ndjson():
    yield bytes([4]) + pieces(OLLAMA_LINES, 30)
    yield bytes([0]) + pieces(b'{"a":1}\r\n\n{"b"' + b"x" * 300 + b"}\n", 30)


def seeds_provider():
    for prov, req, stream in PROVIDER_STREAMS:
        datas = stream.strip().split(b"\n") if prov == 5 else sse_datas(stream)
        yield bytes([0x80 | prov]) + req + b"\0" + b"".join(b"\0" + d + b"\0" for d in datas)
        yield bytes([prov]) + b"\2" + ERROR_JSON + b"\0"
    yield bytes([1]) + b"\2" + fixture("openai_chat_completion.json") + b"\0"
    yield bytes([4]) + b"\3" + b'{"error": {"code": 503, "message": "overloaded"}}' + b"\0"


def seeds_route():
    yield (b'{"routes": [{"path": "/gw/claude", "api": "anthropic", "provider": "aws.bedrock",'
           b' "host": "gw.internal"}, {"path": "/llm/", "match": "prefix", "api": "openai"}]}'
           b"\0/gw/claude\0gw.internal\0/llm/v1/chat\0x\0/v1beta/models/gemini-2.5:"
           b"streamGenerateContent\0generativelanguage.googleapis.com\0")
    yield b'{"routes": []}\0/v1/messages\0api.anthropic.com\0'


def seeds_price():
    usage = bytes([200, 10, 20, 8, 10, 4, 30, 2, 255, 0, 5, 1])
    with open(os.path.join(HERE, "..", "..", "daemon", "llm", "prices.json"), "rb") as f:
        yield (f.read() + b"\0\1claude-sonnet-4-5-20250929\0" + usage
               + b"\0gpt-4o-mini\0" + usage + b"\2gemini-2.5-pro\0" + bytes([255] * 12))
    yield (b'{"version": 1, "prices": [{"provider": "ollama", "models": ["*"], "input": 0,'
           b' "output": 0}, {"provider": "anthropic", "models": ["m-*", "m"], "input": 1,'
           b' "output": 2, "cache_write_5m": 1.25, "long_context": {"above_input_tokens": 10,'
           b' "input": 2}}]}\0\3llama\0' + usage + b"\1m-1\0" + usage)


def seeds_prompt():
    yield b"\1" + json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "tool", "content": "42"}]}).encode()
    yield b"\2" + json.dumps({"instructions": "sys", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "function_call_output", "output": "o"}]}).encode()
    yield b"\3" + json.dumps({"system": [{"type": "text", "text": "s"}], "messages": [
        {"role": "user", "content": [{"type": "tool_result", "content": [
            {"type": "text", "text": "r"}]}, {"type": "text", "text": "t"}]}]}).encode()
    yield b"\4" + json.dumps({"systemInstruction": {"parts": [{"text": "s"}]}, "contents": [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b", "thought": True}]}]}).encode()
    yield b"\5" + json.dumps({"system": "s", "prompt": "p \u00e9"}).encode()


def seeds_ingest():
    rq = {"request_id": "r1", "tenant_id": "acme", "route": "/chat?key=x", "model": "gpt-4o",
          "prompt_tokens": 10,
          "user_id_hash": "u", "metadata": {"a": [1, {"api_key": "k"}], "Cookie": "c"}}
    rs = {"request_id": "r1", "latency_ms": 120.5, "ttft_ms": 20, "completion_tokens": 3,
          "finish_reason": "stop", "error": None}
    yield json.dumps(rq).encode() + b"\0" + json.dumps(rs).encode()
    rs2 = dict(rs, error={"type": "rate_limit", "message": "slow"},
               timestamp="2026-12-06T10:00:00.250+01:00")
    yield b"{}\0" + json.dumps(rs2).encode()
    yield json.dumps(dict(rq, request_id="r2", model="claude-x")).encode() + b"\0\0"


def seeds_window():
    yield b"0:1 7:2 127:9\0pii.email:3 secret.aws-key:1 *:2"
    yield b"4:4294967295\0a:1 a:2 b:1000000000000000"
    yield b"\0" + b" ".join(b"rule.%d:%d" % (i, i) for i in range(30))


def seeds_policy():
    yield (b'{"rules": [{"id": "pii.email", "description": "email address", "patterns": '
           b'["[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\\\.[A-Za-z0-9-]+)*\\\\.[A-Za-z]{2,}"], '
           b'"applies": "both", "severity": "medium", "action": "redact"}, {"id": "words.banned",'
           b' "literals": ["project aurora"], "caseless": true, "applies": "response", '
           b'"severity": "high", "action": "block"}, {"id": "card", "patterns": ["[0-9 ]{13,19}"],'
           b' "validate": "luhn", "applies": "request", "severity": "low", "action": "alert"}]}')


def seeds_guard():
    text = (b"my key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 and card 4111 1111 1111 "
            b"1111, IBAN DE89 3704 0044 0532 0130 00, mail alice@example.com, AKIAIOSFODNN7EXAMPLE")
    yield b"\0" + pieces(text, 17)
    yield b"\1" + pieces(text, 5)


EVENT_FMT = "<QQQQIIIiIIIHH16s16sHH16sI"  # include/llmobs/event.h, ABI 2


def event(ts, conn, pos, typ, direction, src, payload=b"", tgid=100):
    return struct.pack(EVENT_FMT, ts, conn, pos, 1, typ, tgid, tgid, 5, len(payload),
                       len(payload), 0, direction, src, b"python3", b"worker", 0, 0, b"",
                       0) + payload


def seeds_record():
    req = request(b"/v1/chat/completions", CHAT_REQ)
    resp = sse_response(CHAT_SSE)
    recs = [event(1000, 7, 0, 1, 0, 2, req), event(2000, 7, 0, 1, 1, 4, resp),
            event(3000, 7, 0, 3, 0, 5)]
    body = b"".join(struct.pack("<I", len(r)) + r for r in recs)
    yield gzip.compress(b"LLMOBSR1" + struct.pack("<IIq", 2, 0, 0) + body)
    yield b"LLMOBSR1" + struct.pack("<IIq", 2, 0, 0) + body


def seeds_elf():
    src = b"""
int SSL_write(void *s, const void *b, int n) { return n + (s != 0); }
int SSL_read(void *s, void *b, int n) { return SSL_write(s, b, n); }
int SSL_read_ex(void *s, void *b, unsigned long n, unsigned long *r) { *r = n; return s != b; }
int SSL_write_ex(void *s, const void *b, unsigned long n, unsigned long *w) { *w = n; return 1; }
void SSL_free(void *s) { (void)s; }
"""
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "ssl.c")
        with open(c, "wb") as f:
            f.write(src)
        for flags in (["-shared", "-fPIC", "-Os"], ["-shared", "-fPIC", "-O0", "-s"]):
            so = os.path.join(d, "libssl.so")
            subprocess.run(["cc", *flags, "-Wl,-soname,libssl.so.3", "-o", so, c], check=True)
            with open(so, "rb") as f:
                yield f.read()
    # BoringSSL's error sites without symbols (the locator's test executable)
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit",
                           "bssl_fixture.c")
    with tempfile.TemporaryDirectory() as d:
        for flags in (["-O2", "-no-pie", "-fno-pie", "-s"], ["-O1", "-fpie", "-pie", "-s"]):
            exe = os.path.join(d, "bssl")
            subprocess.run(["cc", *flags, "-o", exe, fixture], check=True)
            with open(exe, "rb") as f:
                yield f.read()
    yield from seeds_elf_gnutls()


GNUTLS_SRC = b"""
long gnutls_record_send2(void *s, const void *d, unsigned long n, unsigned long pad, unsigned f)
{ return (long)n + (s != d) + (long)pad + f; }
long gnutls_record_send(void *s, const void *d, unsigned long n)
{ return gnutls_record_send2(s, d, n, 0, 0); }
long gnutls_record_recv(void *s, void *d, unsigned long n) { return (long)n - (s == d); }
void gnutls_deinit(void *s) { (void)s; }
"""


def seeds_elf_gnutls():
    """A GnuTLS-shaped library whose gnutls_record_send tail-calls send2
    through its PLT stub (-fPIC, default visibility), as Debian's does."""
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "gnutls.c")
        with open(c, "wb") as f:
            f.write(GNUTLS_SRC)
        so = os.path.join(d, "libgnutls.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wl,-soname,libgnutls.so.30", "-o", so,
                        c], check=True)
        with open(so, "rb") as f:
            yield f.read()


def seeds_insn():
    yield b"\xf3\x0f\x1e\xfa\x55\x48\x89\xe5"             # endbr64; push rbp; mov rbp,rsp
    yield b"\x48\x83\xec\x08\xe8\x10\x00\x00\x00\x48\x83\xc4\x08\xc3"  # sub; call; add; ret
    yield b"\x41\x57\x41\x56\x48\x85\xff\x74\x05\xe9\x00\x01\x00\x00"  # push; test; je; jmp
    yield b"\x66\x0f\x1f\x44\x00\x00\x48\x8b\x05\x00\x00\x00\x00"      # nopw; mov rip-rel


def seeds_cgroup():
    yield b"0::/system.slice/docker-" + b"a" * 64 + b".scope\n"
    yield (b"12:memory:/kubepods/burstable/pod1/" + b"0123456789abcdef" * 4 +
           b"\n1:name=systemd:/\n")


def pipe_data(conn, direction, data, sock=False, size=256):
    """fuzz_pipeline operations: SSL calls (or socket reads/writes) of up
    to 256 bytes carrying data; each write followed by its WRITE_DONE."""
    out = b""
    for off in range(0, len(data), size):
        part = data[off:off + size]
        op = 0 | (conn << 3) | (direction << 5) | (0x40 if sock else 0)
        out += bytes([op, len(part) - 1]) + part
        if not direction:
            out += bytes([6 | (conn << 3) | 0x80])
    return out


def seeds_pipeline():
    calls = [
        (b"/v1/chat/completions", b"api.openai.com", CHAT_REQ, sse_response(CHAT_SSE)),
        (b"/v1/responses", b"api.openai.com", RESP_REQ, sse_response(RESP_SSE)),
        (b"/v1/messages", b"api.anthropic.com", ANTH_REQ, sse_response(ANTH_SSE, "gzip")),
        (b"/v1beta/models/gemini-2.5-flash:streamGenerateContent", b"generativelanguage."
         b"googleapis.com", b'{"contents":[]}', sse_response(GEM_SSE)),
        (b"/api/chat", b"localhost:11434", b'{"model":"llama3","messages":[]}',
         b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: "
         b"chunked\r\n\r\n" + chunked(OLLAMA_LINES)),
    ]
    for i, (path, host, req, resp) in enumerate(calls):
        conn = i % 4
        yield bytes([1]) + pipe_data(conn, 0, request(path, req, host), sock=(i == 4)) + \
            pipe_data(conn, 1, resp, sock=(i == 4)) + bytes([4 | (conn << 3)])
    # two connections interleaved, a gap in one, an exit
    a = request(b"/v1/chat/completions", CHAT_REQ)
    b = sse_response(CHAT_SSE)
    yield (bytes([0]) + pipe_data(0, 0, a) + pipe_data(1, 0, a) + pipe_data(0, 1, b[:150]) +
           bytes([3 | (1 << 5) | (1 << 3), 20]) + pipe_data(1, 1, b) + pipe_data(0, 1, b[150:]) +
           bytes([5]))
    # keep-alive: two calls on one connection, a non-streamed JSON answer
    j = fixture("http_json_response.bin")
    yield bytes([2]) + pipe_data(0, 0, a) + pipe_data(0, 1, j) + pipe_data(0, 0, a) + \
        pipe_data(0, 1, b) + bytes([0xc6])
    yield from seeds_pipeline_h2_ws()


def seeds_pipeline_h2_ws():
    """HTTP/2 and WebSocket through the whole pipeline: the sniffer, the
    upgrade, the pairing (call/assemble_h2.c, call/assemble_ws.c)."""
    cli, srv = Hpack(), Hpack()
    req = H2_PREFACE + h2_settings((4, 65535)) + h2_headers(1, cli.block(H2_REQ)) + \
        h2_data(1, CHAT_REQ, end_stream=True)
    resp = h2_settings() + h2_headers(1, srv.block(H2_RESP)) + h2_data(1, CHAT_SSE) + \
        h2_u32(8, 0, 65535) + h2_data(1, b"", end_stream=True)
    yield bytes([3]) + pipe_data(0, 0, req) + pipe_data(0, 1, resp) + bytes([4])
    # two streams interleaved, one reset by the client
    req2 = h2_headers(3, cli.block(H2_REQ)) + h2_data(3, CHAT_REQ, end_stream=True) + \
        h2_headers(5, cli.block(H2_REQ)) + h2_data(5, CHAT_REQ, end_stream=True)
    half = len(CHAT_SSE) // 2
    resp2 = h2_headers(3, srv.block(H2_RESP)) + h2_headers(5, srv.block(H2_RESP)) + \
        h2_data(3, CHAT_SSE[:half]) + h2_data(5, CHAT_SSE) + h2_data(3, CHAT_SSE[half:], True)
    yield bytes([4]) + pipe_data(0, 0, req + req2) + pipe_data(0, 1, resp + resp2) + \
        pipe_data(0, 0, h2_u32(3, 5, 8)) + bytes([5])
    # Responses over WebSocket with permessage-deflate, then the Realtime API
    for path, creates, events in (
            (b"/v1/responses", [b'{"type":"response.create","model":"gpt-5","input":"hi"}'],
             [b'{"type":"response.created","response":{"model":"gpt-5"}}',
              b'{"type":"response.output_text.delta","output_index":0,"delta":"Hel"}',
              b'{"type":"response.output_text.delta","output_index":0,"delta":"lo"}',
              b'{"type":"response.completed","response":{"model":"gpt-5","status":"completed",'
              b'"usage":{"input_tokens":5,"output_tokens":2}}}']),
            (b"/v1/realtime", [b'{"type":"response.create","response":{}}'],
             REALTIME_EVENTS)):
        up = (b"GET " + path + b" HTTP/1.1\r\nHost: api.openai.com\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
              b"Authorization: Bearer sk-secret\r\n\r\n")
        ok = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
              b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
              b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        cz = zlib.compressobj(wbits=-15)
        sz = zlib.compressobj(wbits=-15)
        out = bytes([6]) + pipe_data(1, 0, up) + pipe_data(1, 1, ok)
        for c in creates:
            out += pipe_data(1, 0, ws_frame(0xc1, ws_deflate(cz, c), key=b"\x12\x34\x56\x78"))
        out += pipe_data(1, 1, b"".join(ws_frame(0xc1, ws_deflate(sz, e)) for e in events))
        yield out + pipe_data(1, 1, ws_frame(0x88, b"\x03\xe8bye")) + bytes([4 | (1 << 3)])


def ws_frame(b0, payload, key=None):
    """A WebSocket frame (RFC 6455 5.2): b0 is FIN|RSV|opcode; masked with key."""
    n = len(payload)
    if n < 126:
        head = bytes([b0, n])
    elif n < 65536:
        head = bytes([b0, 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 127]) + struct.pack(">Q", n)
    if key is None:
        return head + payload
    head = bytes([head[0], head[1] | 0x80]) + head[2:]
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def ws_deflate(comp, message):
    """A message as permessage-deflate sends it (RFC 7692 7.2.1)."""
    data = comp.compress(message) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\0\0\xff\xff")
    return data[:-4]


def ws_recs(frames, size=256):
    """fuzz_ws records: (direction, bytes) in order, pieces of up to size."""
    out = b""
    for direction, data in frames:
        for off in range(0, len(data), size):
            part = data[off:off + size]
            out += bytes([direction, len(part) - 1]) + part
    return out


REALTIME_EVENTS = [
    b'{"type":"session.created","session":{"model":"gpt-4o-realtime-preview","modalities":'
    b'["text","audio"],"voice":"alloy"}}',
    b'{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}',
    b'{"type":"response.text.delta","response_id":"resp_1","delta":"Hello"}',
    b'{"type":"response.text.delta","response_id":"resp_1","delta":" there"}',
    b'{"type":"response.done","response":{"id":"resp_1","status":"completed","usage":'
    b'{"total_tokens":30,"input_tokens":12,"output_tokens":18}}}',
]
REALTIME_CREATE = (b'{"type":"response.create","response":{"modalities":["text"],'
                   b'"instructions":"Say hello"}}')


def seeds_ws():
    key = b"\x37\xfa\x21\x3d"
    # RFC 6455 5.7, plain: masked client text, fragmented server text, ping
    # and pong, 256 bytes of binary (16-bit length), closes both ways
    yield bytes([0]) + ws_recs([
        (0, ws_frame(0x81, b"Hello", key)),
        (1, ws_frame(0x01, b"Hel") + ws_frame(0x89, b"Hello") + ws_frame(0x80, b"lo")),
        (0, ws_frame(0x8a, b"Hello", key)),
        (1, ws_frame(0x82, bytes(range(256)))),
        (0, ws_frame(0x88, b"\x03\xe8bye", key)),
        (1, ws_frame(0x88, b"\x03\xe8")),
    ])
    # permessage-deflate with context takeover both ways (the Realtime
    # API's events), one message fragmented around a ping
    cli, srv = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.compressobj(6, zlib.DEFLATED, -15)
    frames = [(0, ws_frame(0xc1, ws_deflate(cli, REALTIME_CREATE), key))]
    for i, ev in enumerate(REALTIME_EVENTS):
        data = ws_deflate(srv, ev)
        if i == 2:
            half = len(data) // 2
            frames.append((1, ws_frame(0x41, data[:half]) + ws_frame(0x89, b"") +
                           ws_frame(0x80, data[half:])))
        else:
            frames.append((1, ws_frame(0xc1, data)))
    frames.append((0, ws_frame(0xc1, ws_deflate(cli, REALTIME_CREATE), key)))
    yield bytes([1]) + ws_recs(frames, 64)
    # the RFC 7692 7.2.3 examples, negotiated through the extension header
    yield (bytes([16]) + b"permessage-deflate; client_max_window_bits=10; "
           b"server_no_context_takeover\0" + ws_recs([
               (1, bytes.fromhex("c107f248cdc9c90700")),
               (1, bytes.fromhex("c107f248cdc9c90700")),
               (1, bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")),
               (1, bytes.fromhex("c10df24805000000ffffcac9c90700")),
               (1, bytes.fromhex("c10b000500faff48656c6c6f00")),
           ]))
    yield bytes([1]) + ws_recs([(1, bytes.fromhex("c107f248cdc9c90700")),
                                (1, bytes.fromhex("c105f200110000")),
                                (1, bytes.fromhex("c108f348cdc9c9070000")),
                                (1, bytes.fromhex("c105f200110000"))])
    # joined mid-connection: a message's tail, then messages whose
    # compressor refers to history never seen, then a reset compressor
    srv = zlib.compressobj(6, zlib.DEFLATED, -15)
    ws_deflate(srv, REALTIME_EVENTS[0])
    frames = [(1, ws_frame(0x80, b"...tail")),
              (1, ws_frame(0xc1, ws_deflate(srv, REALTIME_EVENTS[0])))]
    srv = zlib.compressobj(6, zlib.DEFLATED, -15)
    frames += [(1, ws_frame(0xc1, ws_deflate(srv, ev))) for ev in REALTIME_EVENTS]
    yield bytes([1 | 8]) + ws_recs(frames)
    # framing errors, each followed by a reset of its direction
    out = bytes([0])
    for direction, bad in ((0, b"\x81\x02hi"), (1, b"\xa1\x00"), (1, b"\x89\x7e\x00\x7e"),
                           (1, b"\x80\x01x"), (0, ws_frame(0x88, b"\x03", key))):
        out += bytes([direction | 2, len(bad) - 1]) + bad
        good = ws_frame(0x81, b"ok", key if direction == 0 else None)
        out += bytes([direction | 4, len(good) - 1]) + good
    yield out


H2_STATIC = [(n.encode(), v.encode()) for n, v in (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""))]


class Hpack:
    """An HPACK encoder (RFC 7541) without Huffman, its dynamic table kept as
    a peer keeps it: indexed fields, literals with incremental indexing,
    credentials never indexed."""

    def __init__(self, size=4096):
        self.size, self.table = size, []  # newest first

    @staticmethod
    def integer(value, prefix, first):
        top = (1 << prefix) - 1
        if value < top:
            return bytes([first | value])
        out = [first | top]
        value -= top
        while value >= 128:
            out.append(0x80 | (value & 0x7f))
            value >>= 7
        return bytes(out + [value])

    def resize(self, size):
        """A dynamic table size update, for the start of a block."""
        self.size = size
        self.evict()
        return self.integer(size, 5, 0x20)

    def evict(self):
        while sum(32 + len(n) + len(v) for n, v in self.table) > self.size:
            self.table.pop()

    def block(self, fields):
        out = b""
        for name, value in fields:
            entries = H2_STATIC + self.table
            if (name, value) in entries:
                out += self.integer(entries.index((name, value)) + 1, 7, 0x80)
                continue
            names = [n for n, _ in entries]
            index = names.index(name) + 1 if name in names else 0
            secret = name in (b"authorization", b"cookie", b"set-cookie", b"x-api-key")
            out += self.integer(index, 4, 0x10) if secret else self.integer(index, 6, 0x40)
            if not index:
                out += self.integer(len(name), 7, 0) + name
            out += self.integer(len(value), 7, 0) + value
            if not secret:
                self.table.insert(0, (name, value))
                self.evict()
        return out


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, sid, payload=b""):
    """An HTTP/2 frame (RFC 9113 4.1)."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def h2_settings(*pairs, ack=False):
    return h2_frame(4, 1 if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def h2_headers(sid, block, end_stream=False, pad=0, priority=False, pieces=1):
    """HEADERS (padded, with priority) and CONTINUATION frames carrying block."""
    cut = [len(block) * i // pieces for i in range(pieces + 1)]
    head = (bytes([pad]) if pad else b"") + (b"\x80\0\0\0\x0f" if priority else b"")
    flags = (1 if end_stream else 0) | (8 if pad else 0) | (0x20 if priority else 0)
    out = b""
    for i in range(pieces):
        last = 4 if i == pieces - 1 else 0
        if i == 0:
            out += h2_frame(1, flags | last, sid, head + block[:cut[1]] + b"\0" * pad)
        else:
            out += h2_frame(9, last, sid, block[cut[i]:cut[i + 1]])
    return out


def h2_data(sid, data, end_stream=False, pad=0):
    if pad:
        return h2_frame(0, 8 | end_stream, sid, bytes([pad]) + data + b"\0" * pad)
    return h2_frame(0, 1 if end_stream else 0, sid, data)


def h2_u32(ftype, sid, *values, flags=0, extra=b""):
    return h2_frame(ftype, flags, sid, b"".join(struct.pack(">I", v) for v in values) + extra)


def h2_recs(opts, segments, size=256):
    """fuzz_h2 input: the options byte, then (control, bytes) in order as
    records of up to size bytes; control bits 1-3 (a reset) on the last."""
    out = bytes([opts])
    for ctl, data in segments:
        for off in range(0, len(data), size):
            part = data[off:off + size]
            c = ctl if off + size >= len(data) else ctl & 0x11
            out += bytes([c, len(part) - 1]) + part
    return out


H2_REQ = [(b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/v1/chat/completions"),
          (b":authority", b"api.openai.com"), (b"authorization", b"Bearer sk-secret"),
          (b"content-type", b"application/json"), (b"user-agent", b"OpenAI/Python 1.54.0"),
          (b"content-length", b"%d" % len(CHAT_REQ))]
H2_RESP = [(b":status", b"200"), (b"content-type", b"text/event-stream; charset=utf-8"),
           (b"date", b"Tue, 01 Apr 2025 12:00:00 GMT"), (b"set-cookie", b"__cf_bm=secret")]
RFC7541_C3 = ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
              "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
RFC7541_C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
              "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
RFC7541_C5 = ["4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a3231"
              "20474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
              "4803333037c1c0bf",
              "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a6970"
              "7738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d61"
              "67653d333630303b2076657273696f6e3d31"]
RFC7541_C6 = ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad"
              "171863c78f0b97c8e9ae82ae43d3",
              "4883640effc1c0bf",
              "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2"
              "e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"]


def seeds_h2():
    # a streamed chat completion: settings, a window the response outgrows,
    # headers padded, prioritised and continued, trailers, PING, a cancelled
    # second stream, PRIORITY, an unknown frame type, GOAWAY both ways
    cli, srv = Hpack(), Hpack()
    sse = [h2_data(1, d + b"\n\n", pad=(7 if i == 1 else 0))
           for i, d in enumerate(b"data: " + x for x in sse_datas(CHAT_SSE))]
    yield h2_recs(1, [
        (0x10, H2_PREFACE + h2_settings((2, 0), (4, 300), (1, 4096)) + h2_u32(8, 0, 1 << 20)),
        (0x11, h2_settings((3, 100), (5, 16384)) + h2_settings(ack=True)),
        (0, h2_settings(ack=True) + h2_headers(1, cli.block(H2_REQ), pad=3, priority=True,
                                               pieces=3) +
         h2_data(1, CHAT_REQ, pad=4) + h2_data(1, b"", end_stream=True) +
         h2_frame(6, 0, 0, b"12345678")),
        (1, h2_frame(6, 1, 0, b"12345678") + h2_headers(1, srv.block(H2_RESP), pad=2) +
         b"".join(sse[:3])),
        (0x10, h2_u32(8, 1, 65536) + h2_u32(8, 0, 65536)),
        (1, b"".join(sse[3:]) + h2_headers(1, srv.block([(b"x-request-id", b"req_1")]),
                                          end_stream=True)),
        (0, h2_headers(3, cli.block(H2_REQ[:4] + [(b":path", b"/v1/models")]), end_stream=True) +
         h2_u32(3, 3, 8) + h2_frame(2, 0, 5, b"\0\0\0\3\x10") + h2_frame(0xfa, 3, 0, b"xyz") +
         h2_u32(7, 0, 0, 0, extra=b"bye")),
        (1, h2_u32(7, 0, 3, 0)),
    ])
    # RFC 7541 C.3 requests and C.5 responses (a 256-byte table), then the
    # same with Huffman (C.4, C.6)
    for reqs, resps in ((RFC7541_C3, RFC7541_C5), (RFC7541_C4, RFC7541_C6)):
        yield h2_recs(1, [
            (0, H2_PREFACE + h2_settings((1, 256)) +
             b"".join(h2_headers(2 * i + 1, bytes.fromhex(h), end_stream=True)
                      for i, h in enumerate(reqs))),
            (1, h2_settings() + h2_settings(ack=True) +
             b"".join(h2_headers(2 * i + 1, bytes.fromhex(h)) + h2_data(2 * i + 1, b"ok", True)
                      for i, h in enumerate(resps))),
        ])
    # two streams interleaved; 100-continue, a PUSH_PROMISE, gzip DATA
    cli, srv = Hpack(), Hpack()
    body = gzip.compress(ANTH_SSE, mtime=0)
    anth = [(b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/v1/messages"),
            (b":authority", b"api.anthropic.com"), (b"x-api-key", b"sk-ant-secret"),
            (b"expect", b"100-continue"), (b"content-type", b"application/json")]
    out = [(0, H2_PREFACE + h2_settings() + h2_headers(1, cli.block(anth)) +
            h2_headers(3, cli.block(anth)))]
    out.append((1, h2_settings((4, 1 << 20)) + h2_headers(1, srv.block([(b":status", b"100")])) +
                h2_frame(5, 4, 3, struct.pack(">I", 2) + srv.block(
                    [(b":method", b"GET"), (b":path", b"/style.css"),
                     (b":authority", b"api.anthropic.com")]))))
    out.append((0, h2_data(1, ANTH_REQ, True) + h2_data(3, ANTH_REQ, True)))
    gz = [(b":status", b"200"), (b"content-type", b"text/event-stream"),
          (b"content-encoding", b"gzip")]
    resp = h2_headers(3, srv.block(gz)) + h2_headers(1, srv.block(gz))
    for off in range(0, len(body), 40):
        last = off + 40 >= len(body)
        resp += h2_data(3, body[off:off + 40], last) + h2_data(1, body[off:off + 40], last)
    out.append((1, resp))
    yield h2_recs(1, out, 100)
    # joined mid-way: header blocks that refer to entries never seen (lost),
    # then blocks of literals and static entries; no preface, no settings
    cli, srv = Hpack(), Hpack()
    cli.block(H2_REQ)
    srv.block(H2_RESP)
    fresh_cli, fresh_srv = Hpack(), Hpack()
    yield h2_recs(0, [
        (0x10, h2_headers(7, cli.block(H2_REQ)) + h2_data(7, CHAT_REQ, True)),
        (0x11, h2_headers(7, srv.block(H2_RESP)) + h2_data(7, b"data: [DONE]\n\n", True)),
        (0, h2_headers(9, fresh_cli.resize(0) + fresh_cli.resize(4096) + fresh_cli.block(H2_REQ),
                       end_stream=True)),
        (1, h2_headers(9, fresh_srv.block(H2_RESP)) + h2_u32(8, 9, 1000) +
         h2_data(9, b"data: [DONE]\n\n", True)),
    ])
    # a new client preface on a running connection, half a frame pending in
    # the other direction; then the table limits of SETTINGS and updates
    cli, srv = Hpack(), Hpack()
    yield h2_recs(1, [
        (0, H2_PREFACE + h2_settings((4, 10)) + h2_headers(1, cli.block(H2_REQ), True)),
        (1, h2_headers(1, srv.block(H2_RESP)) + h2_data(1, b"0123456789" * 3)[:25]),
        (0, H2_PREFACE + h2_settings((1, 64))),
        (1, h2_settings((1, 8192)) + h2_headers(1, Hpack(64).resize(64) + b"\x88")),
        (0, h2_headers(3, Hpack().resize(8192) + Hpack().block(H2_REQ), True)),
    ])
    # framing errors, each followed by a reset of its direction and a frame
    # that parses
    out = []
    for ctl, bad in ((0, h2_frame(9, 4, 1, b"\x82")),
                     (1, h2_frame(1, 0, 1, b"\x88") + h2_data(1, b"x")),
                     (0, h2_frame(4, 0, 0, b"\0\1\0\0\0")),
                     (1, h2_frame(0, 8, 1, b"\x05xy")),
                     (0, h2_data(0, b"x")),
                     (1, h2_frame(6, 0, 3, b"12345678"))):
        out += [(ctl | 0x0e, bad), (ctl, h2_data(1, b"ok"))]
    yield h2_recs(0, out)
    yield h2_recs(1, [(0x0e, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), (0, h2_data(1, b"ok"))])


TARGETS = {
    "http": seeds_http, "body": seeds_body, "sse": seeds_sse, "ndjson": seeds_ndjson,
    "provider": seeds_provider, "route": seeds_route, "policy": seeds_policy, "price": seeds_price,
    "prompt": seeds_prompt, "ingest": seeds_ingest, "window": seeds_window,
    "guard": seeds_guard, "record": seeds_record, "elf": seeds_elf, "insn": seeds_insn,
    "cgroup": seeds_cgroup, "pipeline": seeds_pipeline, "ws": seeds_ws, "h2": seeds_h2,
}


def http_recs(ctl, data):
    """fuzz_http records of one direction (ctl) carrying data."""
    out = b""
    for off in range(0, len(data), 256):
        part = data[off:off + 256]
        out += bytes([ctl, len(part) - 1]) + part
    return out


def regressions():
    """(target, name, input) of each defect found once (tests/fuzz/regress/)."""
    yield "body", "deflate-07-00-loop", bytes([1, 1]) + b"\x07\x00"
    yield "body", "gzip-bomb-64MiB", bytes([0]) + pieces(gzip.compress(b"\0" * (64 << 20)), 128)
    for prov, js in (
            (1, b'{"choices":[],"usage":{"prompt_tokens":1e300,"completion_tokens":-5}}'),
            (2, b'{"type":"response.completed","response":{"usage":{"input_tokens":1e13,'
                b'"output_tokens":9.5}}}'),
            (3, b'{"type":"message_delta","usage":{"output_tokens":9223372036854775807}}'),
            (4, b'{"candidates":[],"usageMetadata":{"candidatesTokenCount":-1e19,'
                b'"promptTokenCount":4e18}}'),
            (5, b'{"done":true,"eval_count":1e30,"prompt_eval_count":-3}')):
        yield "provider", "usage-out-of-range-%d" % prov, bytes([prov, 0]) + js + b"\0"
    # a timestamp in year 3440: its capture-clock time overflowed int64
    yield "ingest", "timestamp-year-3440", (
        b'{"request_id": "r2", "model": "claude-x", "timestamp": '
        b'"3440-12-06T10:00:00.250+01:00", "prompt_tokens": 10}\0\0')
    # a credential key repeated in metadata: masking looped on the first one
    yield "ingest", "metadata-repeated-credential-key", (
        b'{"request_id":"d","metadata":{"api_key":1,"api_key":2,"x":{"Cookie":1,"Cookie":2}}}'
        b'\0\0')
    yield "http", "chunk-size-overflow", (
        http_recs(0, request(b"/v1/chat/completions", b"{}")) +
        http_recs(1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"ffffffffffffffffff\r\nx"))
    yield "http", "content-length-overflow", http_recs(
        1, b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")
    yield "http", "header-block-60k", http_recs(
        1, b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 60000 + b"\r\n\r\n")
    yield "policy", "nul-in-pattern", (b'{"rules":[{"id":"x","patterns":["ab\\u0000cd"],'
                                       b'"applies":"both","severity":"low","action":"alert"}]}')
    # The use-after-free: a call failing early (malformed chunked request
    # body) on conn 0, more calls than --keep on conn 1, then conn 0's late
    # response.
    bad = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n")
    ok_req, ok_resp = request(b"/v1/chat/completions", CHAT_REQ), sse_response(CHAT_SSE)
    late = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 14\r\n"
            b"\r\ndata: [DONE]\n\n")
    seq = bytes([0]) + pipe_data(0, 0, bad)
    for _ in range(8):
        seq += pipe_data(1, 0, ok_req) + pipe_data(1, 1, ok_resp)
    yield "pipeline", "early-call-outlives-keep", seq + pipe_data(0, 1, late) + bytes([4])
    yield "pipeline", "deflate-07-00", (
        bytes([1]) + pipe_data(0, 0, ok_req) +
        pipe_data(0, 1, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"Content-Encoding: deflate\r\nContent-Length: 2\r\n\r\n\x07\x00") +
        pipe_data(0, 0, ok_req) + pipe_data(0, 1, ok_resp))
    # A leaked guard stream: an HTTP/2 call cut short by lost bytes while
    # its request was still being written; the request's end came after
    # the call's and opened a scan that nothing closed.
    cli = Hpack()
    head = H2_PREFACE + h2_settings() + h2_headers(1, cli.block(H2_REQ))
    yield "pipeline", "h2-request-ends-after-its-call", (
        bytes([0]) + pipe_data(0, 0, head) + pipe_data(0, 1, h2_settings()) +
        bytes([3 | (1 << 5), 20]) + pipe_data(0, 1, h2_settings(ack=True)) +
        pipe_data(0, 0, h2_data(1, CHAT_REQ, end_stream=True)) +
        bytes([4]))
    # An empty header block: UBSan's "applying zero offset to null pointer"
    # in h2.c's decode_block.
    yield "h2", "empty-header-block", h2_recs(0, [(0, h2_frame(1, 5, 1))])


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--regress":
        for target, name, data in regressions():
            write(os.path.join(sys.argv[2], target, name), data)
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, gen in TARGETS.items():
        for i, seed in enumerate(gen()):
            write(os.path.join(sys.argv[1], name, "seed-%02d" % i), seed)


if __name__ == "__main__":
    main()
