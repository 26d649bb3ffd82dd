#!/usr/bin/env python3
"""Writes a synthetic capture recording (the --record format) for replay
benchmarks: CONNS connections, each making CALLS streamed OpenAI chat
completions of EVENTS SSE events, interleaved across connections the way
concurrent streams arrive, one record per SSE event (one SSL_read each).
--proto h2: the same over HTTP/2 (a preface and SETTINGS per connection,
each call a new stream: HPACK request and response headers, one DATA frame
per SSE event). --idle N: instead, N connections that each make one request
that is no LLM call (GET /v1/models) and then stay open, for the memory an
idle connection holds.

Usage: make_recording.py OUT.gz [--conns N] [--calls N] [--events N]
                         [--proto http1|h2] [--idle N]
Prints the number of SSE events written ("sse_events=N")."""

import argparse
import gzip
import struct

EVENT_FMT = "<QQQQIIIiIIIHH16s16sHH16sI"  # include/llmobs/event.h, ABI 2
ABI = 2
DATA, CONNECT, CLOSE = 1, 2, 3
WRITE, READ = 0, 1
SRC_WRITE_EX, SRC_READ_EX = 2, 4
MS = 1000000


def file_header(wall_offset_ns=0):
    """The recording's header (capture/record.h): magic, ABI, wall offset."""
    return b"LLMOBSR1" + struct.pack("<IIq", ABI, 0, wall_offset_ns)


def record(ts, conn, pos, call_id, typ, tgid, direction, src, payload=b"", comm=b"bench",
           fd=7, family=0, port=0, addr=b""):
    """One size-prefixed record; family/port/addr are a CONNECT's peer (port
    in host order, addr the packed IP)."""
    port_be = int.from_bytes(port.to_bytes(2, "big"), "little")  # network byte order
    head = struct.pack(EVENT_FMT, ts, conn, pos, call_id, typ, tgid, tgid, fd, len(payload),
                       len(payload), 0, direction, src, comm, comm, family, port_be, addr, 0)
    body = head + payload
    return struct.pack("<I", len(body)) + body


def h2_frame(ftype, flags, sid, payload):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags, sid) + payload


def hpack(fields, index=False):
    """A header block of literals (RFC 7541 6.2), names from the static
    table where it has them: without indexing (valid for any decoder
    state), or with incremental indexing (index=True: the decoder's dynamic
    table fills as a real client's does)."""
    static = {":authority": 1, ":method": 2, ":path": 4, ":scheme": 6, ":status": 8,
              "content-type": 31, "user-agent": 58}
    def integer(v, bits, first=0):
        """RFC 7541 5.1: v with a bits-bit prefix, the first byte's high bits first."""
        top = (1 << bits) - 1
        if v < top:
            return bytes([first | v])
        out, v = bytes([first | top]), v - top
        while v >= 128:
            out, v = out + bytes([v & 0x7f | 0x80]), v >> 7
        return out + bytes([v])

    out = b""
    for name, value in fields:
        v = value.encode()
        bits, first = (6, 0x40) if index else (4, 0)
        if name in static:
            out += integer(static[name], bits, first)  # an indexed name
        else:
            out += bytes([first]) + integer(len(name), 7) + name.encode()
        out += integer(len(v), 7) + v
    return out


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA_F, HEADERS_F, SETTINGS_F = 0, 1, 4
END_STREAM, END_HEADERS = 1, 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--proto", choices=("http1", "h2"), default="http1")
    ap.add_argument("--idle", type=int, default=-1)
    args = ap.parse_args()
    h2 = args.proto == "h2"

    body = (b'{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},'
            b'"messages":[{"role":"user","content":"benchmark"}]}')
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")

    def chunk(data):
        return b"%x\r\n%s\r\n" % (len(data), data)

    delta = chunk(b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini",'
                  b'"choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}\n\n')
    usage = chunk(b'data: {"id":"c","object":"chat.completion.chunk","choices":[],'
                  b'"usage":{"prompt_tokens":9,"completion_tokens":%d}}\n\n' % args.events)
    done = chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"

    sse = lambda chunked: chunked.split(b"\r\n", 1)[1][:-2]  # noqa: E731 (de-chunked)
    if h2:
        req_head = [(":method", "POST"), (":scheme", "https"), (":authority", "api.openai.com"),
                    (":path", "/v1/chat/completions"), ("content-type", "application/json")]
        settings = h2_frame(SETTINGS_F, 0, 0, b"")

        def request_on(sid):
            return (h2_frame(HEADERS_F, END_HEADERS, sid, hpack(req_head)) +
                    h2_frame(DATA_F, END_STREAM, sid, body))

        def head_on(sid):
            return h2_frame(HEADERS_F, END_HEADERS, sid,
                            hpack([(":status", "200"), ("content-type", "text/event-stream")]))

        def delta_on(sid):
            return h2_frame(DATA_F, 0, sid, sse(delta))

        def end_on(sid):
            return h2_frame(DATA_F, END_STREAM, sid, sse(usage) + b"data: [DONE]\n\n")
    else:
        request_on = lambda sid: request  # noqa: E731
        head_on = lambda sid: head  # noqa: E731
        delta_on = lambda sid: delta  # noqa: E731
        end_on = lambda sid: usage + done  # noqa: E731

    ts = 1000 * MS
    call_id = 1
    pos = {}
    sse_events = 0
    with gzip.open(args.out, "wb", compresslevel=1) as f:
        f.write(file_header())

        def emit(conn, direction, data):
            nonlocal ts, call_id
            ts += 20000  # 20 us apart
            key = (conn, direction)
            p = pos.get(key, 0)
            f.write(record(ts, conn, p, call_id, DATA, 1000 + conn % 50, direction,
                           SRC_READ_EX if direction else SRC_WRITE_EX, data))
            pos[key] = p + len(data)
            call_id += 1

        if args.idle >= 0:
            # what an SDK sends and a server answers: both dynamic tables fill
            get = hpack([(":method", "GET"), (":scheme", "https"),
                         (":authority", "api.openai.com"), (":path", "/v1/models"),
                         ("user-agent", "OpenAI/Python 1.99.9"), ("accept", "application/json"),
                         ("x-stainless-lang", "python"), ("x-stainless-runtime", "CPython"),
                         ("x-stainless-runtime-version", "3.11.7"),
                         ("openai-organization", "org-benchmark")], index=True)
            got = hpack([(":status", "200"), ("content-type", "application/json"),
                         ("openai-processing-ms", "12"), ("x-request-id", "req_0123456789abcdef"),
                         ("openai-version", "2020-10-01"), ("cf-ray", "8f1e2d3c4b5a6978-AMS"),
                         ("server", "cloudflare")], index=True)
            for c in range(args.idle):
                if h2:
                    emit(0x10000 + c, WRITE, H2_PREFACE + settings +
                         h2_frame(HEADERS_F, END_HEADERS | END_STREAM, 1, get))
                    emit(0x10000 + c, READ, settings + h2_frame(HEADERS_F, END_HEADERS, 1, got) +
                         h2_frame(DATA_F, END_STREAM, 1, b'{"data":[]}'))
                else:
                    emit(0x10000 + c, WRITE, b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com"
                         b"\r\n\r\n")
                    emit(0x10000 + c, READ, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
                         b'{"data":[]}')
            print("sse_events=0")
            return

        if h2:
            for c in range(args.conns):
                emit(0x10000 + c, WRITE, H2_PREFACE + settings)
                emit(0x10000 + c, READ, settings)
        for k in range(args.calls):
            sid = 2 * k + 1
            for c in range(args.conns):
                emit(0x10000 + c, WRITE, request_on(sid))
                emit(0x10000 + c, READ, head_on(sid))
            for _ in range(args.events):
                for c in range(args.conns):
                    emit(0x10000 + c, READ, delta_on(sid))
                    sse_events += 1
            for c in range(args.conns):
                emit(0x10000 + c, READ, end_on(sid))
                sse_events += 2
    print("sse_events=%d" % sse_events)


if __name__ == "__main__":
    main()
