#!/usr/bin/env python3
"""A hand-written streaming client that stops reading early (e2e tests).

The way many scripts consume a stream: http.client over the ssl module,
read the body line by line, and `break` at a marker (the terminator, e.g.
`data: [DONE]`), then leave at once without reading the rest of the body.

CLI
  client_break.py --port N --cafile PEM --path P --body JSON --stop-at TEXT
                  [--then exit|close|linger] [--linger S]

  --then exit (default): os._exit(0) right after the marker's line, so the
  process is gone before the rest of the body arrives; close: close the
  response and the connection (close(2), SSL_free), then wait --linger
  seconds before exiting; linger: keep the connection open and idle for
  --linger seconds, then exit.

Output: one JSON line: {"pid", "found", "lines", "ms_to_marker"} where
ms_to_marker runs from the request's send to the marker's line (null if
the body ended first). Printed before leaving.
"""

import argparse
import http.client
import json
import os
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--stop-at", required=True)
    ap.add_argument("--then", choices=["exit", "close", "linger"], default="exit")
    ap.add_argument("--linger", type=float, default=1.0)
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=args.cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection("localhost", args.port, context=ctx, timeout=30)
    marker = args.stop_at.encode()
    t0 = time.monotonic()
    conn.request("POST", args.path, body=args.body,
                 headers={"Content-Type": "application/json",
                          "Authorization": "Bearer sk-test-SECRET-break"})
    resp = conn.getresponse()
    found, lines, ms = False, 0, None
    while True:
        line = resp.readline()
        if not line:
            break
        lines += 1
        if marker in line:
            found, ms = True, (time.monotonic() - t0) * 1e3
            break
    print(json.dumps({"pid": os.getpid(), "found": found, "lines": lines,
                      "ms_to_marker": ms}), flush=True)
    if args.then == "exit":
        os._exit(0)
    if args.then == "close":
        resp.close()
        conn.close()
    time.sleep(args.linger)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
