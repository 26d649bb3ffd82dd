#!/usr/bin/env python3
"""Plaintext HTTP/1.1 server on 127.0.0.1 answering like Ollama's /api/chat:
chunked NDJSON, one line per word with --delay-ms between (e2e tests of
plaintext capture). Prints "PORT n" once listening; stops after --timeout."""

import argparse
import http.server
import json
import socketserver
import sys
import threading
import time

WORDS = ["The", " sky", " is", " blue"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        lines = [{"model": "llama3.2", "message": {"role": "assistant", "content": w},
                  "done": False} for w in WORDS]
        lines.append({"model": "llama3.2", "message": {"role": "assistant", "content": ""},
                      "done": True, "done_reason": "stop", "prompt_eval_count": 9,
                      "eval_count": len(WORDS)})
        for obj in lines:
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(self.server.delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=30)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    srv = Server((args.host, 0), Handler)
    srv.delay = args.delay_ms / 1000
    print("PORT %d" % srv.server_address[1], flush=True)
    threading.Timer(args.timeout, srv.shutdown).start()
    srv.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
