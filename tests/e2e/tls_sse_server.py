#!/usr/bin/env python3
"""Scripted TLS server speaking the OpenAI Chat Completions API (e2e tests).

Stdlib only. One thread per connection, HTTP/1.1 keep-alive (many requests
per connection), self-signed certificate generated with openssl at start-up
unless --cert/--key are given.

CLI
  tls_sse_server.py [--host 127.0.0.1] [--port 0] [--cert PEM --key PEM]
                    [--script FILE] [--max-requests N] [--timeout S]
                    [--log FILE] [--rcvbuf BYTES] [--read-delay-ms MS]

  stdout: "CERT <path>" (the PEM a client must trust; it is its own CA,
  CN=localhost, SAN DNS:localhost,IP:127.0.0.1) then "PORT <n>", flushed;
  nothing else. The server then serves until killed, until N responses have
  been completed (--max-requests) or S seconds have passed (--timeout).
  --log FILE appends one JSON line per request served (see log_request()),
  and for a streamed completion or raw pieces a "timing_of" line: when its
  request was read and its first content delta (or each piece) was sent
  (CLOCK_MONOTONIC ns).
  --rcvbuf and --read-delay-ms make a slow reader: a small receive buffer,
  and a pause after each request's head before its body is read, so a
  large body fills the client's socket (its non-blocking writes see EAGAIN).

Endpoint
  POST /v1/chat/completions   JSON body; "stream": true → SSE, else one
                              chat.completion JSON object.
  anything else               404 JSON error.

Script: what the response looks like. All keys optional; defaults in
DEFAULT_SCRIPT. Sources, later ones override earlier ones key by key:
  1. --script FILE: a JSON object used for every request, or a list of
     objects: the i-th request the server receives (0-based, across all
     connections) uses item min(i, len-1).
  2. the request body's "metadata": {"e2e_script": "<JSON object as a
     string>"} (OpenAI metadata values are strings).

  status          HTTP status; != 200 sends {"error": error} as JSON.
  deltas          list of content strings, one chat.completion.chunk each.
  first_delay_ms  wait after the request is read, before the first write.
  hold_until      a path: after first_delay_ms, wait (up to 60 s) until it
                  exists before the first write (a test releases a
                  response at the moment it chooses, not after a guess).
  delay_ms        wait before each later delta's write.
  finish_reason   sent in a final chunk with an empty delta; null: no chunk.
  usage           {prompt_tokens, completion_tokens,
                   prompt_tokens_details: {cached_tokens}}; total_tokens is
                  added. Always in non-streaming bodies.
  include_usage   null: follow the request's stream_options.include_usage;
                  true/false: force the usage chunk ("choices": [] + usage).
  framing         "chunked" | "length" (Content-Length) | "close"
                  (close-delimited body, Connection: close).
  done            end the stream with "data: [DONE]".
  error_after     k: after k deltas send data: {"error": error} and end the
                  body (no finish, usage or [DONE]).
  error           the error object for error_after and status != 200.
  abort_after     k: after k deltas reset the TCP connection (truncated).
  model           response "model"; default: the request's model.
  headers         extra response headers {name: value}.
  raw             {"content_type": str, "pieces": [str, ...], "delay_ms": n,
                   "encoding": null | "gzip" | "deflate",
                   "framing": "chunked" | "length", "tail": str,
                   "tail_delay_ms": n}: answer ANY POST
                  path with these body bytes (UTF-8), the headers and the
                  first piece in one write, each later piece in its own
                  write after delay_ms; with an encoding the joined body is
                  compressed and the compressed bytes cut into as many
                  pieces (other providers' wire formats, compression).
                  The end of the body (chunked: "0\r\n\r\n"; length: the
                  tail's bytes, counted in Content-Length) goes out
                  tail_delay_ms after the last piece, in its own write.
                  "pieces_b64": [base64, ...] instead of pieces: bytes as
                  they are; "content_encoding": a Content-Encoding header
                  for pieces already encoded (or not: hostile input).

Timing (what TTFT tests rely on): the response headers, the role chunk and
the first content delta go out in ONE write after first_delay_ms, so the
first response byte a client reads carries the first content delta. Every
later event is its own write after its delay (finish, usage and [DONE]
follow the last delta without delay). TCP_NODELAY is set so no write waits.
"""

import argparse
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_SCRIPT = {
    "status": 200,
    "deltas": ["Hello", ",", " world", "!"],
    "first_delay_ms": 0,
    "hold_until": None,
    "delay_ms": 0,
    "finish_reason": "stop",
    "usage": {
        "prompt_tokens": 11,
        "completion_tokens": 4,
        "prompt_tokens_details": {"cached_tokens": 0},
    },
    "include_usage": None,
    "framing": "chunked",
    "done": True,
    "error_after": None,
    "error": None,
    "abort_after": None,
    "model": None,
    "headers": {},
    "raw": None,
}

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def generate_cert(directory):
    """Self-signed cert+key for localhost/127.0.0.1; returns (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def default_error(status):
    if status == 429:
        return {"message": "Rate limit reached for requests", "type": "requests",
                "param": None, "code": "rate_limit_exceeded"}
    if status in (400, 404):
        return {"message": "Invalid request", "type": "invalid_request_error",
                "param": None, "code": None}
    return {"message": "The server had an error while processing your request.",
            "type": "server_error", "param": None, "code": None}


class Server:
    def __init__(self, args):
        self.args = args
        self.scripts = self.load_scripts(args.script)
        self.lock = threading.Lock()
        self.received = 0  # requests received, indexes --script lists
        self.completed = 0
        self.conns = 0
        self.done = threading.Event()
        self.log = open(args.log, "a", buffering=1) if args.log else None

    @staticmethod
    def load_scripts(path):
        if not path:
            return [{}]
        with open(path) as f:
            data = json.load(f)
        scripts = data if isinstance(data, list) else [data]
        if not scripts or not all(isinstance(s, dict) for s in scripts):
            raise SystemExit("--script: want a JSON object or a non-empty list of objects")
        return scripts

    def next_request_number(self):
        with self.lock:
            n = self.received
            self.received += 1
            return n

    def request_completed(self):
        with self.lock:
            self.completed += 1
            if self.args.max_requests and self.completed >= self.args.max_requests:
                self.done.set()

    def script_for(self, n, body):
        script = dict(DEFAULT_SCRIPT)
        script.update(self.scripts[min(n, len(self.scripts) - 1)])
        meta = body.get("metadata") if isinstance(body, dict) else None
        inline = meta.get("e2e_script") if isinstance(meta, dict) else None
        if isinstance(inline, str):
            script.update(json.loads(inline))
        return script

    def log_request(self, record):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(record) + "\n")


class ClientGone(Exception):
    pass


class Conn:
    """One accepted TLS connection: read requests, answer them, repeat."""

    def __init__(self, server, sock, conn_id):
        self.server = server
        self.sock = sock
        self.conn_id = conn_id
        self.rbuf = b""
        self.served = 0  # responses sent on this connection

    def recv_more(self):
        data = self.sock.recv(65536)
        if not data:
            raise ClientGone()
        self.rbuf += data

    def read_until(self, sep, limit):
        while sep not in self.rbuf:
            if len(self.rbuf) > limit:
                raise ValueError("header too large")
            self.recv_more()
        line, self.rbuf = self.rbuf.split(sep, 1)
        return line

    def read_exact(self, n):
        while len(self.rbuf) < n:
            self.recv_more()
        data, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return data

    def read_chunked_body(self):
        body = b""
        while True:
            size = int(self.read_until(b"\r\n", MAX_HEAD).split(b";")[0], 16)
            if size == 0:
                while self.read_until(b"\r\n", MAX_HEAD):
                    pass  # trailer fields, up to the empty line
                return body
            if len(body) + size > MAX_BODY:
                raise ValueError("body too large")
            body += self.read_exact(size)
            self.read_exact(2)

    def read_request(self):
        """Returns (method, path, headers{lower: value}, body bytes)."""
        head = self.read_until(b"\r\n\r\n", MAX_HEAD).decode("latin-1")
        lines = head.split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        sleep_ms(self.server.args.read_delay_ms)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self.read_chunked_body()
        else:
            length = int(headers.get("content-length", "0"))
            if length > MAX_BODY:
                raise ValueError("body too large")
            body = self.read_exact(length)
        return method, path, headers, body

    def serve(self):
        try:
            while not self.server.done.is_set():
                method, path, headers, body = self.read_request()
                keep = self.respond(method, path, headers, body)
                self.served += 1
                self.server.request_completed()
                if not keep or headers.get("connection", "").lower() == "close":
                    break
        except (ClientGone, ConnectionError, ssl.SSLError, socket.timeout):
            pass
        except ValueError as e:
            print("tls_sse_server: bad request: %s" % e, file=sys.stderr)
        finally:
            self.sock.close()

    def respond(self, method, path, headers, body_bytes):
        """Answers one request; returns False when the connection must close."""
        t_req = time.monotonic_ns()
        try:
            body = json.loads(body_bytes or b"{}")
        except ValueError:
            body = None
        n = self.server.next_request_number()
        if method == "POST" and isinstance(body, dict):
            raw = self.server.script_for(n, body).get("raw")
            if raw:
                self.server.log_request({"n": n, "conn": self.conn_id, "method": method,
                                         "path": path, "status": 200, "raw": True,
                                         "has_auth": "authorization" in headers})
                return self.send_raw(raw, (n, t_req))
        known = method == "POST" and path.split("?")[0] == "/v1/chat/completions"
        if not known or not isinstance(body, dict):
            status = 404 if isinstance(body, dict) else 400
            payload = json.dumps({"error": default_error(status)}).encode()
            self.send_simple(status, payload, "chunked", {})
            self.server.log_request({"n": n, "conn": self.conn_id, "method": method,
                                     "path": path, "status": status})
            return True
        script = self.server.script_for(n, body)
        stream = body.get("stream") is True
        opts = body.get("stream_options") or {}
        include_usage = script["include_usage"]
        if include_usage is None:
            include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        self.server.log_request({
            "n": n, "conn": self.conn_id, "method": method, "path": path,
            "model": body.get("model"), "stream": stream,
            "include_usage": bool(include_usage), "status": script["status"],
            "has_auth": "authorization" in headers,
            "t_request_read_ns": t_req})
        sleep_ms(script["first_delay_ms"])
        hold_until(script["hold_until"])
        if script["status"] != 200:
            error = script["error"] or default_error(script["status"])
            payload = json.dumps({"error": error}).encode()
            return self.send_simple(script["status"], payload, script["framing"],
                                    script["headers"])
        model = script["model"] or body.get("model") or "gpt-4o-mini"
        rid = "chatcmpl-e2e%d" % n
        if not stream:
            payload = json.dumps(completion_object(rid, model, script)).encode()
            return self.send_simple(200, payload, script["framing"], script["headers"])
        return self.send_stream(rid, model, script, include_usage, (n, t_req))

    def head(self, status, ctype, framing, extra, length=None):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
                 "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                 "Content-Type: " + ctype]
        if framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
        elif framing == "length":
            lines.append("Content-Length: %d" % length)
        lines.append("Connection: " + ("close" if framing == "close" else "keep-alive"))
        lines += ["openai-version: 2020-10-01", "openai-processing-ms: 1",
                  "x-request-id: req_e2e%d_%d" % (self.conn_id, self.served)]
        lines += ["%s: %s" % kv for kv in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_simple(self, status, payload, framing, extra):
        """A whole JSON body in one write."""
        body = chunk(payload) + b"0\r\n\r\n" if framing == "chunked" else payload
        head = self.head(status, "application/json", framing, extra, len(payload))
        self.sock.sendall(head + body)
        if framing == "close":
            self.close_cleanly()
            return False
        return True

    def send_stream(self, rid, model, script, include_usage, timing):
        """SSE events written with the scripted timing; see module docstring.
        timing: (request number, when its request was read): logged with
        when the first content delta was sent (a "timing_of" line)."""
        framing = script["framing"]
        plan = stream_plan(rid, model, script, include_usage)
        frame = chunk if framing == "chunked" else (lambda b: b)
        total = sum(len(payload) for _delay, payload, _abort in plan)
        first = self.head(200, "text/event-stream; charset=utf-8", framing,
                          script["headers"], total)
        for i, (delay_ms, payload, abort) in enumerate(plan):
            if abort:
                self.reset()
                return False
            sleep_ms(delay_ms)
            data = frame(payload)
            if i == 0:
                data = first + data
            if i == len(plan) - 1 and framing == "chunked":
                data += b"0\r\n\r\n"
            self.sock.sendall(data)
            if i == 0:
                self.server.log_request({"timing_of": timing[0], "t_request_read_ns": timing[1],
                                         "t_first_delta_sent_ns": time.monotonic_ns()})
        if framing == "close":
            self.close_cleanly()
            return False
        return True

    def send_raw(self, raw, timing):
        """Given body bytes, chunked or with a length, paced like send_stream
        (see "raw"); logs when each piece was sent (a "timing_of" line)."""
        if "pieces_b64" in raw:
            import base64
            pieces = [base64.b64decode(p) for p in raw["pieces_b64"]]
        else:
            pieces = [p.encode() for p in raw["pieces"]]
        extra = {}
        if raw.get("content_encoding"):
            extra["Content-Encoding"] = raw["content_encoding"]
        encoding = raw.get("encoding")
        if encoding:
            import zlib
            whole = b"".join(pieces)
            z = zlib.compressobj(wbits=31 if encoding == "gzip" else 15)
            packed = z.compress(whole) + z.flush()
            step = max(1, len(packed) // max(1, len(pieces)))
            pieces = [packed[i:i + step] for i in range(0, len(packed), step)]
            extra["Content-Encoding"] = encoding
        framing = raw.get("framing", "chunked")
        tail = raw.get("tail", "").encode()
        tail_delay = raw.get("tail_delay_ms", 0)
        length = sum(len(p) for p in pieces) + len(tail)
        first = self.head(200, raw["content_type"], framing, extra, length)
        frame = chunk if framing == "chunked" else (lambda b: b)
        end = (frame(tail) if tail else b"") + b"0\r\n\r\n" if framing == "chunked" else tail
        sent = []
        for i, payload in enumerate(pieces):
            if i:
                sleep_ms(raw.get("delay_ms", 0))
            data = frame(payload)
            if i == 0:
                data = first + data
            if i == len(pieces) - 1 and not tail_delay:
                data += end
            self.sock.sendall(data)
            sent.append(time.monotonic_ns())
        self.server.log_request({"timing_of": timing[0], "t_request_read_ns": timing[1],
                                 "t_pieces_sent_ns": sent})
        if tail_delay:
            sleep_ms(tail_delay)
            if end:
                self.sock.sendall(end)
        return True

    def close_cleanly(self):
        """close_notify, then close: a close-delimited body ends properly."""
        try:
            self.sock.settimeout(1)
            self.sock = self.sock.unwrap()
        except (OSError, ValueError):
            pass

    def reset(self):
        """TCP RST without close_notify: the client sees a truncated stream."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def hold_until(path, limit_s=60.0):
    deadline = time.monotonic() + limit_s
    while path and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def sleep_ms(ms):
    if ms:
        time.sleep(ms / 1000.0)


def chunk(payload):
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def sse(obj):
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def usage_object(script):
    """The script's usage with total_tokens, in OpenAI's key order."""
    given = script["usage"] or {}
    usage = {"prompt_tokens": given.get("prompt_tokens", 0),
             "completion_tokens": given.get("completion_tokens", 0)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    usage.update((k, v) for k, v in given.items() if k not in usage)
    return usage


def stream_plan(rid, model, script, include_usage):
    """List of (delay_ms, event bytes, abort) in send order.

    The role chunk and the first delta share the first entry (one write)."""
    created = int(time.time())

    def chunk_obj(delta, finish=None):
        return {"id": rid, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_e2e",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]}

    deltas = script["deltas"]
    plan = [[0, sse(chunk_obj({"role": "assistant", "content": ""})), False]]
    for i, text in enumerate(deltas):
        if i == script["abort_after"]:
            return plan + [[0, b"", True]]
        if i == script["error_after"]:
            error = script["error"] or default_error(500)
            return plan + [[script["delay_ms"], sse({"error": error}), False]]
        event = sse(chunk_obj({"content": text}))
        if i == 0:
            plan[0][1] += event
        else:
            plan.append([script["delay_ms"], event, False])
    if script["abort_after"] is not None and script["abort_after"] >= len(deltas):
        return plan + [[0, b"", True]]
    if script["error_after"] is not None and script["error_after"] >= len(deltas):
        error = script["error"] or default_error(500)
        return plan + [[script["delay_ms"], sse({"error": error}), False]]
    if script["finish_reason"] is not None:
        plan.append([0, sse(chunk_obj({}, script["finish_reason"])), False])
    if include_usage:
        usage = {"id": rid, "object": "chat.completion.chunk", "created": created,
                 "model": model, "system_fingerprint": "fp_e2e", "choices": [],
                 "usage": usage_object(script)}
        plan.append([0, sse(usage), False])
    if script["done"]:
        plan.append([0, b"data: [DONE]\n\n", False])
    return plan


def completion_object(rid, model, script):
    return {"id": rid, "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": "fp_e2e",
        "choices": [{"index": 0,
                     "message": {"role": "assistant",
                                 "content": "".join(script["deltas"]),
                                 "refusal": None},
                     "logprobs": None, "finish_reason": script["finish_reason"]}],
        "usage": usage_object(script)}


def accept_loop(server, listener, ctx):
    while True:
        raw, _addr = listener.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(60)
        with server.lock:
            server.conns += 1
            conn_id = server.conns
        threading.Thread(target=handshake_and_serve, args=(server, raw, ctx, conn_id),
                         daemon=True).start()


def handshake_and_serve(server, raw, ctx, conn_id):
    try:
        sock = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    Conn(server, sock, conn_id).serve()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--script")
    ap.add_argument("--max-requests", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=0)
    ap.add_argument("--log")
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--read-delay-ms", type=float, default=0)
    args = ap.parse_args()
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    cert, key = args.cert, args.key
    if not cert:
        cert, key = generate_cert(tempfile.mkdtemp(prefix="tls_sse_server."))
    server = Server(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.rcvbuf:  # accepted sockets inherit it
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    listener.bind((args.host, args.port))
    listener.listen(128)
    print("CERT %s" % os.path.abspath(cert))
    print("PORT %d" % listener.getsockname()[1], flush=True)
    threading.Thread(target=accept_loop, args=(server, listener, ctx), daemon=True).start()
    if not server.done.wait(args.timeout or None):
        print("tls_sse_server: --timeout reached", file=sys.stderr)
    # Let the last response's bytes leave before the process goes away.
    time.sleep(0.05)


if __name__ == "__main__":
    main()
