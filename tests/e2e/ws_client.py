#!/usr/bin/python3
"""WebSocket client for the e2e tests, on Debian's python3-websockets over
Python's ssl (OpenSSL: the daemon's probes see it); permessage-deflate as
the server agrees it.

  ws_client.py --port N --cafile PEM [--path /v1/responses] [--responses K]
               [--wait-file F] [--no-compression]

One connection; K responses one after the other: each sends a
response.create (Responses: the POST body's fields at the top level;
Realtime, path /v1/realtime: nested in "response"), with metadata.e2e_tag
= its number, then reads events to the response's terminator
(response.completed / .incomplete / .failed, response.done, error). One
JSON line per response: {"k", "text", "ttft_ms" (create sent -> first text
delta), "end" (the terminator's type, or "closed <code>")}.
--wait-file F: before each response after the first, wait until F.<k>
exists (a test decides when, e.g. after starting the daemon).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import time

import websockets

TEXT = ("response.output_text.delta", "response.output_audio_transcript.delta")
ENDS = ("response.completed", "response.incomplete", "response.failed", "response.done",
        "error")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--path", default="/v1/responses")
    ap.add_argument("--responses", type=int, default=1)
    ap.add_argument("--wait-file")
    ap.add_argument("--no-compression", action="store_true")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.cafile)
    realtime = a.path.startswith("/v1/realtime")
    uri = "wss://localhost:%d%s" % (a.port, a.path)
    async with websockets.connect(
            uri, ssl=ctx, max_size=None, ping_interval=None,
            compression=None if a.no_compression else "deflate",
            extra_headers={"Authorization": "Bearer sk-e2e-secret-never-served"}) as ws:
        for k in range(a.responses):
            if k and a.wait_file:
                flag = "%s.%d" % (a.wait_file, k)
                deadline = time.monotonic() + 60
                while not os.path.exists(flag) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            meta = {"e2e_tag": str(k)}
            if realtime:
                create = {"type": "response.create",
                          "response": {"instructions": "Be brief.", "metadata": meta}}
            else:
                create = {"type": "response.create", "model": "gpt-5",
                          "input": "Say hello (%d)" % k, "metadata": meta}
            t0 = time.monotonic()
            await ws.send(json.dumps(create))
            first, text, end = None, "", None
            while end is None:
                try:
                    ev = json.loads(await ws.recv())
                except websockets.ConnectionClosed as e:
                    end = "closed %d" % e.code
                    break
                if ev.get("type") in TEXT:
                    if first is None:
                        first = time.monotonic()
                    text += ev["delta"]
                elif ev.get("type") in ENDS:
                    end = ev["type"]
            print(json.dumps({"k": k, "text": text, "end": end,
                              "ttft_ms": (first - t0) * 1e3 if first else None}), flush=True)
            if end.startswith("closed"):
                break


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
