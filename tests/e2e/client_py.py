#!/usr/bin/env python3
"""Raw Python `ssl` client for OpenAI Chat Completions (e2e tests).

No HTTP library: the request goes out with one sock.sendall() and the
response is read with a sock.recv() loop (SSL_write_ex / SSL_read_ex in
OpenSSL for Python >= 3.10), the way SDKs on top of the ssl module do.

CLI
  client_py.py --port N [--host 127.0.0.1] [--sni localhost] [--cafile PEM]
               [--model M] [--stream | --no-stream] [--include-usage]
               [--requests N] [--keep-alive] [--interval S]
               [--wait-before-start S] [--script JSON] [--prompt TEXT]
               [--api-key KEY] [--path P] [--timeout S] [--comm NAME]
               [--end-after K --end-how shutdown|close [--linger S]]
               [--read-delay S] [--thread-name NAME]

  --keep-alive sends all requests on one connection (reconnecting only if
  the server closes it); without it every request gets its own connection.
  --script is placed in the request's metadata.e2e_script (see
  tls_sse_server.py).
  --comm renames the process (prctl PR_SET_NAME) before connecting.
  --thread-name makes the requests from a second thread with this name
  (as Bun's "HTTP Client" or tokio's "tokio-rt-worker" threads do).
  --end-after K stops reading after K content deltas and ends the TLS
  connection while the process lives on for --linger seconds: "shutdown"
  calls SSL_shutdown (ssl unwrap()); "close" closes the socket fd with
  close(2) but keeps the SSL object (no SSL_free) until exit.

Output: one JSON line per request, in order:
  text           reassembled content (non-streaming: message.content)
  usage          the usage object, or null
  finish_reason  last finish_reason seen, or null
  status         HTTP status, or null when no response arrived
  error          the "error" object of an error body or mid-stream error
                 event, or null
  done           whether "data: [DONE]" arrived
  complete       whether the body ended where its framing says it ends
  transport_error  socket/TLS error text, or null
  ttft_ms        sendall() of the whole request returned → first non-empty
                 content delta parsed; null without one
  headers_ms     sendall() returned → response headers parsed
  duration_ms    start of sendall() → last response byte read
  chunks         number of non-empty content deltas
  request        0-based request number; sport: the client's TCP port
  pid            this process's pid
Exit status: 0, or 1 when any request hit a transport error.
"""

import argparse
import json
import os
import platform
import socket
import ssl
import sys
import time
import zlib

DEFAULT_API_KEY = "sk-test-SECRET-e2e-5f3c9a1d7b2e4f60a8c1"
MAX_HEAD = 64 * 1024


class Truncated(Exception):
    """The connection ended before the body did."""


class EndedByClient(Exception):
    """--end-after reached."""


def set_comm(name):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, name.encode()[:15], 0, 0, 0) != 0:  # PR_SET_NAME
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def now_ns():
    return time.monotonic_ns()


def ms_between(start_ns, end_ns):
    return None if end_ns is None else round((end_ns - start_ns) / 1e6, 3)


class Reader:
    """Buffered reads from one socket; remembers bytes past a response."""

    read_delay = 0.0  # --read-delay: a deliberately slow reader

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        if self.read_delay:
            time.sleep(self.read_delay)
        data = self.sock.recv(65536)
        if not data:
            raise Truncated("connection closed before the end of the response")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, limit):
        """Up to limit buffered bytes (reads once if none are buffered)."""
        if not self.buf:
            self.fill()
        data, self.buf = self.buf[:limit], self.buf[limit:]
        return data


def read_head(reader):
    """Status and lower-cased headers of the next final (non-1xx) response."""
    while True:
        status_line = reader.line().decode("latin-1")
        headers = {}
        while True:
            line = reader.line().decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ", 2)[1])
        if not 100 <= status < 200:
            return status, headers


def body_pieces(reader, headers):
    """Yields the body bytes as they arrive, following the framing."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int(reader.line().split(b";")[0], 16)
            if size == 0:
                while reader.line():
                    pass  # trailer fields, up to the empty line
                return
            while size:
                data = reader.take(size)
                size -= len(data)
                yield data
            if reader.line():
                raise ValueError("chunk not followed by CRLF")
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left:
            data = reader.take(left)
            left -= len(data)
            yield data
    else:
        while True:
            try:
                yield reader.take(65536)
            except Truncated:
                return  # close-delimited: EOF is the end


def decoder_for(headers):
    """Content-Encoding decoder (the request offers gzip and deflate)."""
    enc = headers.get("content-encoding", "identity").lower()
    if enc == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if enc == "deflate":
        return zlib.decompressobj().decompress
    return lambda data: data


class SSEParser:
    """WHATWG event-stream parsing, reduced to the data field."""

    def __init__(self):
        self.pending = b""
        self.data = []

    def feed(self, data):
        """Returns the data of every event completed by these bytes."""
        self.pending += data
        events = []
        while True:
            cut = self.line_end()
            if cut is None:
                return events
            end, nxt = cut
            line = self.pending[:end].decode("utf-8", "replace")
            self.pending = self.pending[nxt:]
            if not line:
                if self.data:
                    events.append("\n".join(self.data))
                self.data = []
            elif line.startswith("data"):
                name, _, value = line.partition(":")
                if name == "data":
                    self.data.append(value[1:] if value.startswith(" ") else value)

    def line_end(self):
        """(end of line, start of next) or None if no complete line yet."""
        for i, c in enumerate(self.pending):
            if c == 0x0A:
                return i, i + 1
            if c == 0x0D:
                if i + 1 == len(self.pending):
                    return None  # may be the first half of CRLF
                return i, i + 2 if self.pending[i + 1] == 0x0A else i + 1
        return None


class Result:
    def __init__(self, number):
        self.number = number
        self.text = []
        self.usage = None
        self.finish_reason = None
        self.status = None
        self.error = None
        self.done = False
        self.complete = False
        self.transport_error = None
        self.chunks = 0
        self.t_start = self.t_sent = now_ns()
        self.t_headers = self.t_first = self.t_end = None
        self.sport = None

    def on_event(self, data):
        if data == "[DONE]":
            self.done = True
            return
        try:
            obj = json.loads(data)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        if obj.get("error") is not None:
            self.error = obj["error"]
        if obj.get("usage"):
            self.usage = obj["usage"]
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.t_first is None:
                    self.t_first = now_ns()
                self.text.append(delta["content"])
                self.chunks += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def on_json_body(self, body):
        try:
            obj = json.loads(body)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        self.error = obj.get("error")
        self.usage = obj.get("usage")
        choices = obj.get("choices") or [{}]
        message = choices[0].get("message") or {}
        self.text.append(message.get("content") or "")
        self.finish_reason = choices[0].get("finish_reason")

    def as_dict(self):
        return {"request": self.number, "text": "".join(self.text), "usage": self.usage,
                "finish_reason": self.finish_reason, "status": self.status,
                "error": self.error, "done": self.done, "complete": self.complete,
                "transport_error": self.transport_error,
                "ttft_ms": ms_between(self.t_sent, self.t_first),
                "headers_ms": ms_between(self.t_sent, self.t_headers),
                "duration_ms": ms_between(self.t_start, self.t_end),
                "chunks": self.chunks, "sport": self.sport, "pid": os.getpid()}


def build_request(args):
    body = {"messages": [{"role": "user", "content": args.prompt}], "model": args.model}
    if args.stream:
        body["stream"] = True
        if args.include_usage:
            body["stream_options"] = {"include_usage": True}
    if args.script:
        json.loads(args.script)  # fail early on a malformed script
        body["metadata"] = {"e2e_script": args.script}
    payload = json.dumps(body).encode()
    host = args.sni or args.host
    headers = [
        ("Host", "%s:%d" % (host, args.port)),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
        ("User-Agent", "OpenAI/Python 1.54.0"),
        ("X-Stainless-Lang", "python"),
        ("X-Stainless-Package-Version", "1.54.0"),
        ("X-Stainless-OS", "Linux"),
        ("X-Stainless-Arch", "x64"),
        ("X-Stainless-Runtime", "CPython"),
        ("X-Stainless-Runtime-Version", platform.python_version()),
        ("Authorization", "Bearer " + args.api_key),
        ("X-Stainless-Async", "false"),
        ("x-stainless-retry-count", "0"),
        ("Content-Length", str(len(payload))),
    ]
    head = "POST %s HTTP/1.1\r\n" % args.path
    head += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
    return head.encode("latin-1") + payload


def connect(args, ctx):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if args.rcvbuf:  # before connect: it sets the window scale
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    raw.settimeout(args.timeout)
    try:
        raw.connect((args.host, args.port))
    except BaseException:
        raw.close()
        raise
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return ctx.wrap_socket(raw, server_hostname=args.sni or args.host)
    except BaseException:
        raw.close()
        raise


def exchange(sock, reader, request, result, end_after=0):
    """One request/response; returns whether the connection can be reused."""
    result.sport = sock.getsockname()[1]
    result.t_start = now_ns()
    sock.sendall(request)
    result.t_sent = now_ns()
    result.status, headers = read_head(reader)
    result.t_headers = now_ns()
    decode = decoder_for(headers)
    is_sse = headers.get("content-type", "").startswith("text/event-stream")
    sse = SSEParser()
    body = b""
    for piece in body_pieces(reader, headers):
        piece = decode(piece)
        if is_sse:
            for data in sse.feed(piece):
                result.on_event(data)
                if end_after and result.chunks >= end_after:
                    raise EndedByClient()
        else:
            body += piece
    result.t_end = now_ns()
    result.complete = True
    if not is_sse:
        result.on_json_body(body)
    framed = "chunked" in headers.get("transfer-encoding", "") or \
        "content-length" in headers
    return framed and headers.get("connection", "").lower() != "close"


def end_connection(sock, how):
    if how == "shutdown":
        sock.settimeout(1)
        try:
            sock.unwrap()  # SSL_shutdown; the peer may still be sending
        except (OSError, ValueError):
            pass
    else:
        os.close(sock.fileno())  # close(2) only: the SSLSocket keeps its SSL*
        end_connection.keep = sock


def run(args):
    ctx = ssl.create_default_context(cafile=args.cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    request = build_request(args)
    sock = reader = None
    failed = False
    for number in range(args.requests):
        if number and args.interval:
            time.sleep(args.interval)
        result = Result(number)
        try:
            if sock is None:
                sock = connect(args, ctx)
                reader = Reader(sock)
            reusable = exchange(sock, reader, request, result, args.end_after)
        except EndedByClient:
            result.transport_error = "ended by the client (%s)" % args.end_how
            print(json.dumps(result.as_dict()), flush=True)
            end_connection(sock, args.end_how)
            time.sleep(args.linger)
            os._exit(0)  # no cleanup: the SSL object must outlive the linger
        except (OSError, ValueError, Truncated) as e:
            result.t_end = now_ns()
            result.transport_error = "%s: %s" % (type(e).__name__, e)
            reusable = False
            failed = True
        if not (reusable and args.keep_alive) and sock is not None:
            sock.close()
            sock = None
        print(json.dumps(result.as_dict()), flush=True)
    if sock is not None:
        sock.close()
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--sni", default="localhost", help="TLS server name ('' for none)")
    ap.add_argument("--cafile")
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--include-usage", action="store_true")
    ap.add_argument("--requests", type=int, default=1)
    ap.add_argument("--keep-alive", action="store_true")
    ap.add_argument("--interval", type=float, default=0, help="seconds between requests")
    ap.add_argument("--wait-before-start", type=float, default=0)
    ap.add_argument("--script", help="JSON object sent as metadata.e2e_script")
    ap.add_argument("--prompt", default="Say hello.")
    ap.add_argument("--prompt-bytes", type=int, default=0,
                    help="use a prompt of this many bytes (a large request)")
    ap.add_argument("--api-key", default=DEFAULT_API_KEY)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--timeout", type=float, default=30, help="socket timeout, seconds")
    ap.add_argument("--comm", help="process name to take (prctl)")
    ap.add_argument("--thread-name", help="make the requests from a thread of this name")
    ap.add_argument("--end-after", type=int, default=0)
    ap.add_argument("--end-how", choices=["shutdown", "close"], default="shutdown")
    ap.add_argument("--linger", type=float, default=0)
    ap.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF of the socket")
    ap.add_argument("--read-delay", type=float, default=0,
                    help="seconds to sleep before each socket read (a slow reader)")
    args = ap.parse_args()
    if args.comm:
        set_comm(args.comm)
    Reader.read_delay = args.read_delay
    if args.prompt_bytes:
        args.prompt = "p" * args.prompt_bytes
    if args.wait_before_start:
        time.sleep(args.wait_before_start)
    if args.thread_name:
        import threading
        rc = []

        def worker():
            set_comm(args.thread_name)  # PR_SET_NAME names the calling thread
            rc.append(run(args))
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        sys.exit(rc[0] if rc else 1)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
