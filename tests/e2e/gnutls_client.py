#!/usr/bin/env python3
"""A GnuTLS client on a non-blocking socket for the e2e tests: Debian's
libgnutls.so.30 driven through ctypes, so a write can return
GNUTLS_E_AGAIN with its record buffered, and be retried the two ways
gnutls_record_send(3) allows: the same data again, or NULL and 0.

  gnutls_client.py --port N --cafile PEM --body-bytes N [--retry same|null]
                   [--max-record N] [--model M]...

Sends one streaming Chat Completions request per --model on one
connection (the first carries a user message of --body-bytes bytes; with
--max-record, records are at most N bytes, so each 16 KiB write is a
partial one), reads
each SSE response to its [DONE] and the end of its chunked body, and
prints one JSON line: {"pid", "eagain", "partial", "responses": [text...]}.
"""

import argparse
import ctypes
import json
import os
import select
import socket
import sys

GNUTLS_CLIENT = 2
GNUTLS_CRD_CERTIFICATE = 1
GNUTLS_X509_FMT_PEM = 1
GNUTLS_NAME_DNS = 1
GNUTLS_SHUT_RDWR = 0
GNUTLS_E_AGAIN = -28
GNUTLS_E_INTERRUPTED = -52


def load():
    g = ctypes.CDLL("libgnutls.so.30")
    vp, sz, cp = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
    g.gnutls_record_send.argtypes = [vp, vp, sz]
    g.gnutls_record_send.restype = ctypes.c_ssize_t
    g.gnutls_record_recv.argtypes = [vp, vp, sz]
    g.gnutls_record_recv.restype = ctypes.c_ssize_t
    g.gnutls_init.argtypes = [ctypes.POINTER(vp), ctypes.c_uint]
    g.gnutls_certificate_allocate_credentials.argtypes = [ctypes.POINTER(vp)]
    g.gnutls_certificate_set_x509_trust_file.argtypes = [vp, cp, ctypes.c_int]
    g.gnutls_credentials_set.argtypes = [vp, ctypes.c_int, vp]
    g.gnutls_server_name_set.argtypes = [vp, ctypes.c_int, cp, sz]
    g.gnutls_set_default_priority.argtypes = [vp]
    g.gnutls_session_set_verify_cert.argtypes = [vp, cp, ctypes.c_uint]
    g.gnutls_transport_set_int2.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    g.gnutls_handshake.argtypes = [vp]
    g.gnutls_bye.argtypes = [vp, ctypes.c_int]
    g.gnutls_deinit.argtypes = [vp]
    g.gnutls_record_set_max_size.argtypes = [vp, sz]
    g.gnutls_record_set_max_size.restype = ctypes.c_ssize_t
    g.gnutls_strerror.argtypes = [ctypes.c_int]
    g.gnutls_strerror.restype = cp
    return g


def check(g, rc, what):
    if rc < 0:
        raise SystemExit("%s: %s" % (what, g.gnutls_strerror(rc).decode()))


def request(model, content):
    body = json.dumps({"model": model, "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": content}]}).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--body-bytes", type=int, default=0)
    ap.add_argument("--retry", choices=["same", "null"], default="same")
    ap.add_argument("--max-record", type=int, default=0)
    ap.add_argument("--model", action="append", required=True)
    args = ap.parse_args()

    g = load()
    cred, sess = ctypes.c_void_p(), ctypes.c_void_p()
    check(g, g.gnutls_certificate_allocate_credentials(ctypes.byref(cred)), "credentials")
    check(g, g.gnutls_certificate_set_x509_trust_file(cred, args.cafile.encode(),
                                                      GNUTLS_X509_FMT_PEM), "trust file")
    check(g, g.gnutls_init(ctypes.byref(sess), GNUTLS_CLIENT), "init")
    check(g, g.gnutls_server_name_set(sess, GNUTLS_NAME_DNS, b"localhost", 9), "SNI")
    check(g, g.gnutls_set_default_priority(sess), "priority")
    check(g, g.gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred), "credentials set")
    g.gnutls_session_set_verify_cert(sess, b"localhost", 0)
    if args.max_record:
        check(g, g.gnutls_record_set_max_size(sess, args.max_record), "max record size")
    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    g.gnutls_transport_set_int2(sess, sock.fileno(), sock.fileno())
    check(g, g.gnutls_handshake(sess), "handshake")
    sock.setblocking(False)  # from now on a full socket is GNUTLS_E_AGAIN

    eagain = partial = 0

    def send_all(data):
        nonlocal eagain, partial
        buf = ctypes.create_string_buffer(data, len(data))
        off, retrying = 0, False
        while off < len(data):
            if retrying and args.retry == "null":
                rc = g.gnutls_record_send(sess, None, 0)
            else:
                rc = g.gnutls_record_send(sess, ctypes.byref(buf, off), len(data) - off)
            if rc in (GNUTLS_E_AGAIN, GNUTLS_E_INTERRUPTED):
                eagain += 1
                retrying = True
                select.select([], [sock], [], 10)
                continue
            check(g, rc, "send")
            partial += rc < min(len(data) - off, 16384)
            off += rc
            retrying = False

    def read_response():
        got = b""
        buf = ctypes.create_string_buffer(65536)
        while not (b"data: [DONE]" in got and got.endswith(b"0\r\n\r\n")):
            rc = g.gnutls_record_recv(sess, buf, len(buf))
            if rc in (GNUTLS_E_AGAIN, GNUTLS_E_INTERRUPTED):
                select.select([sock], [], [], 10)
                continue
            check(g, rc, "recv")
            if rc == 0:
                break
            got += buf.raw[:rc]
        text = ""
        for line in got.split(b"\n"):
            if line.startswith(b"data: {"):
                ev = json.loads(line[6:])
                for c in ev.get("choices") or []:
                    text += (c.get("delta") or {}).get("content") or ""
        return text

    texts = []
    for i, model in enumerate(args.model):
        send_all(request(model, "x" * (args.body_bytes if i == 0 else 2)))
        texts.append(read_response())
    g.gnutls_bye(sess, GNUTLS_SHUT_RDWR)
    g.gnutls_deinit(sess)
    sock.close()
    print(json.dumps({"pid": os.getpid(), "eagain": eagain, "partial": partial,
                      "responses": texts}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
