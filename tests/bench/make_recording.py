#!/usr/bin/env python3
"""Writes a synthetic capture recording (the --record format) for replay
benchmarks: CONNS connections, each making CALLS streamed OpenAI chat
completions of EVENTS SSE events, interleaved across connections the way
concurrent streams arrive, one record per SSE event (one SSL_read each).

Usage: make_recording.py OUT.gz [--conns N] [--calls N] [--events N]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--events", type=int, default=200)
    args = ap.parse_args()

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

        for _ in range(args.calls):
            for c in range(args.conns):
                emit(0x10000 + c, WRITE, request)
                emit(0x10000 + c, READ, head)
            for _ in range(args.events):
                for c in range(args.conns):
                    emit(0x10000 + c, READ, delta)
                    sse_events += 1
            for c in range(args.conns):
                emit(0x10000 + c, READ, usage + done)
                sse_events += 2
    print("sse_events=%d" % sse_events)


if __name__ == "__main__":
    main()
