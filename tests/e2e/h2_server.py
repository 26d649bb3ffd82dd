#!/usr/bin/python3
"""Scripted HTTP/2 server for the e2e tests (Debian's python3-h2).

TLS with ALPN "h2" and "http/1.1" (the HTTP/1.1 fallback answers every
request 505), or cleartext h2c with prior knowledge (--plain). Any number of
concurrent streams per connection, any number of connections.

CLI
  h2_server.py [--port 0] [--plain] --cert PEM --key PEM [--script FILE]
               [--timeout S] [--log FILE]
  stdout: "PORT <n>", flushed. Serves until killed or S seconds passed.
  --log FILE appends one JSON line per request: {"n", "path", "sid",
  "conn", "alpn"}.

Script (JSON object, or a list: the n-th request across all connections
uses item min(n, len-1); the request body's "metadata": {"e2e_script":
"<JSON>"} overrides keys):
  status        response :status (200)
  content_type  ("text/event-stream")
  headers       extra response headers {name: value}
  pieces        body pieces (UTF-8 strings; "{n}" becomes the request's
                metadata.e2e_n); the headers go out with the first piece,
                each later piece in its own DATA frame after delay_ms
  first_delay_ms  before the headers
  delay_ms      between pieces
  encoding      null | "gzip": the joined body is gzipped and cut into as
                many pieces
  rst_after     k: after k pieces send RST_STREAM (code rst_code, 8 CANCEL)
  goaway_after  k: after k pieces send GOAWAY with last_stream_id 0
  frame_max     split each piece into DATA frames of at most this size
  pad           PADDED DATA frames with this many padding bytes
  big_headers   n: add a response header of n bytes (CONTINUATION frames)
  trailers      {name: value} sent as trailers (HEADERS + END_STREAM)
Flow control is the client's: a piece waits until its window allows it.
"""

import argparse
import asyncio
import gzip
import json
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

DEFAULT = {"status": 200, "content_type": "text/event-stream", "headers": {},
           "pieces": ["data: {}\n\n"], "first_delay_ms": 0, "delay_ms": 0,
           "encoding": None, "rst_after": None, "rst_code": 8, "goaway_after": None,
           "frame_max": None, "pad": 0, "big_headers": 0, "trailers": None}


class Server:
    def __init__(self, args):
        self.args = args
        self.n = 0
        self.conns = 0
        scripts = [{}]
        if args.script:
            with open(args.script) as f:
                data = json.load(f)
            scripts = data if isinstance(data, list) else [data]
        self.scripts = scripts
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def script(self, n, body):
        s = dict(DEFAULT)
        s.update(self.scripts[min(n, len(self.scripts) - 1)])
        tag = ""
        try:
            meta = json.loads(body or b"{}").get("metadata") or {}
            if isinstance(meta.get("e2e_script"), str):
                s.update(json.loads(meta["e2e_script"]))
            tag = str(meta.get("e2e_n", ""))
        except (ValueError, AttributeError):
            pass
        s["pieces"] = [p.replace("{n}", tag) for p in s["pieces"]]
        return s


class Conn:
    def __init__(self, server, reader, writer, alpn):
        self.server, self.reader, self.writer, self.alpn = server, reader, writer, alpn
        server.conns += 1
        self.id = server.conns
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.bodies = {}
        self.window = asyncio.Event()
        self.closed = False

    async def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def run(self):
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        await self.flush()
        tasks = []
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            try:
                events = self.h2.receive_data(data)
            except Exception as e:  # a client gone wrong: drop the connection
                print("h2 error: %r" % e, file=sys.stderr)
                break
            for ev in events:
                if isinstance(ev, h2.events.RequestReceived):
                    self.bodies[ev.stream_id] = [dict(ev.headers), b""]
                elif isinstance(ev, h2.events.DataReceived):
                    self.bodies[ev.stream_id][1] += ev.data
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    hdrs, body = self.bodies.pop(ev.stream_id)
                    tasks.append(asyncio.ensure_future(self.respond(ev.stream_id, hdrs, body)))
                elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                    self.window.set()
                elif isinstance(ev, h2.events.StreamReset):
                    self.window.set()
            await self.flush()
        self.closed = True
        self.window.set()
        for t in tasks:
            t.cancel()
        self.writer.close()

    async def send_piece(self, sid, data, s):
        step = s["frame_max"] or 16384
        while data:
            while True:
                if self.closed:
                    raise ConnectionError("closed")
                room = min(self.h2.local_flow_control_window(sid),
                           self.h2.max_outbound_frame_size - (s["pad"] + 1 if s["pad"] else 0),
                           step)
                if room > 0:
                    break
                self.window.clear()
                await self.window.wait()
            chunk, data = data[:room], data[room:]
            self.h2.send_data(sid, chunk, pad_length=s["pad"] or None)
            await self.flush()

    async def respond(self, sid, hdrs, body):
        srv = self.server
        n = srv.n
        srv.n += 1
        s = srv.script(n, body)
        path = hdrs.get(":path", "")
        if srv.log:
            srv.log.write(json.dumps({"n": n, "path": path, "sid": sid, "conn": self.id,
                                      "alpn": self.alpn}) + "\n")
        try:
            if s["first_delay_ms"]:
                await asyncio.sleep(s["first_delay_ms"] / 1e3)
            pieces = [p.encode() for p in s["pieces"]]
            headers = [(":status", str(s["status"])), ("content-type", s["content_type"])]
            if s["encoding"] == "gzip":
                z = gzip.compress(b"".join(pieces))
                k = max(1, len(pieces))
                cut = [len(z) * i // k for i in range(k + 1)]
                pieces = [z[cut[i]:cut[i + 1]] for i in range(k)]
                headers.append(("content-encoding", "gzip"))
            for k, v in s["headers"].items():
                headers.append((k, v))
            if s["big_headers"]:
                headers.append(("x-big", "b" * s["big_headers"]))
            self.h2.send_headers(sid, headers)
            for i, piece in enumerate(pieces):
                if i and s["delay_ms"]:
                    await asyncio.sleep(s["delay_ms"] / 1e3)
                if s["rst_after"] is not None and i == s["rst_after"]:
                    self.h2.reset_stream(sid, error_code=s["rst_code"])
                    await self.flush()
                    return
                if s["goaway_after"] is not None and i == s["goaway_after"]:
                    self.h2.close_connection(last_stream_id=0)
                    await self.flush()
                    return
                await self.send_piece(sid, piece, s)
            if s["trailers"]:
                self.h2.send_headers(sid, list(s["trailers"].items()), end_stream=True)
            else:
                self.h2.end_stream(sid)
            await self.flush()
        except (ConnectionError, h2.exceptions.StreamClosedError, asyncio.CancelledError):
            pass


async def http1_fallback(reader, writer):
    await reader.read(65536)
    writer.write(b"HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-length: 0\r\n"
                 b"connection: close\r\n\r\n")
    await writer.drain()
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--script")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = Server(args)
    ctx = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["h2", "http/1.1"])

    async def handle(reader, writer):
        sslobj = writer.get_extra_info("ssl_object")
        alpn = sslobj.selected_alpn_protocol() if sslobj else "h2c"
        if alpn == "http/1.1":
            await http1_fallback(reader, writer)
            return
        await Conn(srv, reader, writer, alpn).run()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, ssl=ctx)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
