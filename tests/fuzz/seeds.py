#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into OUT/<target>/, in each
harness's input format (tests/fuzz/fuzz_*.c), from tests/fixtures and a few
payloads of each provider written here; with --regress, the inputs of the
defects found once (committed in tests/fuzz/regress/, in the same formats).

Usage: seeds.py OUT
       seeds.py --regress tests/fuzz/regress"""

import gzip
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


TARGETS = {
    "http": seeds_http, "body": seeds_body, "sse": seeds_sse, "ndjson": seeds_ndjson,
    "provider": seeds_provider, "route": seeds_route, "policy": seeds_policy,
    "guard": seeds_guard, "record": seeds_record, "elf": seeds_elf, "insn": seeds_insn,
    "cgroup": seeds_cgroup, "pipeline": seeds_pipeline, "ws": seeds_ws,
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
