#!/usr/bin/env python3
"""TLS server for the stack part of `make bench`: on each connection it
reads the request, then sends N SSE records, one TLS record each, INTERVAL_US apart, so a reader
that keeps up gets one record per read call; then it closes.

  paced_server.py CERT KEY N INTERVAL_US    stdout: "PORT <n>", flushed
"""

import socket
import ssl
import sys
import threading
import time

RECORD = (b'data: {"id":"b","object":"chat.completion.chunk","choices":[{"index":0,'
          b'"delta":{"content":"tok"},"finish_reason":null}]}\n\n')


def serve(conn, n, interval):
    try:
        conn.recv(4096)  # the reader's request
        next_at = time.monotonic()
        for _ in range(n):
            conn.sendall(RECORD)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    cert, key, n, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) / 1e6
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("PORT %d" % ls.getsockname()[1], flush=True)
    while True:
        raw, _ = ls.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        threading.Thread(target=serve, args=(conn, n, interval), daemon=True).start()


if __name__ == "__main__":
    main()
