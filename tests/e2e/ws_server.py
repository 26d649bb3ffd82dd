#!/usr/bin/python3
"""Scripted WebSocket server for the e2e tests (Debian's python3-websockets),
speaking OpenAI's Responses API over WebSocket (path /v1/responses) and the
Realtime API (path /v1/realtime), over TLS on 127.0.0.1, permessage-deflate
on by default.

CLI
  ws_server.py --cert PEM --key PEM [--script FILE] [--timeout S] [--log FILE]
               [--no-context-takeover] [--no-compression]
  stdout: "PORT <n>", flushed. Serves until killed or S seconds passed.
  --log FILE: one JSON line per response.create: {"n", "path", "conn",
  "extensions" (what the handshake agreed, e.g. ["permessage-deflate"])}.

Script (JSON object; every response uses it; "{n}" in a delta becomes the
response's number across the server, "{tag}" the create's metadata.e2e_tag):
  deltas         text deltas (["Hel", "lo"])
  first_delay_ms before the first delta
  delay_ms       between deltas
  audio          Realtime: this many audio deltas (base64) before the text
  model          the model the server reports ("gpt-realtime" / "gpt-5")
  input_tokens, output_tokens  usage in the terminator
  close_after    k: after k deltas close the connection (code 1011)
  error_first    answer every create with an "error" event only
Realtime sends session.created on connect; its text deltas are
response.output_audio_transcript.delta when audio > 0, else
response.output_text.delta; its terminator is response.done. Responses
sends response.created, response.output_text.delta ..., response.completed.
"""

import argparse
import asyncio
import base64
import json
import ssl
import sys
import time

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

DEFAULTS = {"deltas": ["Hel", "lo"], "first_delay_ms": 0, "delay_ms": 0, "audio": 0,
            "model": None, "input_tokens": 9, "output_tokens": 2, "close_after": None,
            "error_first": False}


class Server:
    def __init__(self, args):
        self.script = dict(DEFAULTS)
        if args.script:
            with open(args.script) as f:
                self.script.update(json.load(f))
        self.n = 0
        self.conns = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    async def handle(self, ws, path=None):
        path = getattr(ws, "path", path) or ""
        self.conns += 1
        conn = self.conns
        realtime = path.startswith("/v1/realtime")
        s = self.script
        if realtime:
            await ws.send(json.dumps({"type": "session.created", "event_id": "ev_s",
                                      "session": {"model": s["model"] or "gpt-realtime",
                                                  "type": "realtime"}}))
        try:
            async for msg in ws:
                ev = json.loads(msg)
                if ev.get("type") != "response.create":
                    continue
                n = self.n
                self.n += 1
                if self.log:
                    self.log.write(json.dumps({"n": n, "path": path, "conn": conn, "extensions": [
                        e.name for e in ws.extensions]}) + "\n")
                tag = ((ev.get("metadata") or ev.get("response", {}).get("metadata") or {})
                       .get("e2e_tag", ""))
                if realtime:
                    await self.realtime(ws, s, n, tag)
                else:
                    await self.responses(ws, s, n, tag)
        except websockets.ConnectionClosed:
            pass

    async def deltas(self, ws, s, n, tag, make):
        if s["first_delay_ms"]:
            await asyncio.sleep(s["first_delay_ms"] / 1e3)
        for i, d in enumerate(s["deltas"]):
            if s["close_after"] is not None and i == s["close_after"]:
                await ws.close(code=1011, reason="scripted failure")
                return False
            if i and s["delay_ms"]:
                await asyncio.sleep(s["delay_ms"] / 1e3)
            await ws.send(json.dumps(make(d.replace("{n}", str(n)).replace("{tag}", tag))))
        return True

    async def responses(self, ws, s, n, tag):
        model = s["model"] or "gpt-5"
        if s["error_first"]:
            await ws.send(json.dumps({"type": "error", "status": 400, "error": {
                "type": "invalid_request_error", "code": "previous_response_not_found",
                "message": "Previous response with id 'resp_x' not found."}}))
            return
        rid = "resp_%d" % n
        await ws.send(json.dumps({"type": "response.created", "response": {
            "id": rid, "model": model, "status": "in_progress"}}))
        ok = await self.deltas(ws, s, n, tag, lambda d: {
            "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": d})
        if ok:
            await ws.send(json.dumps({"type": "response.completed", "response": {
                "id": rid, "model": model, "status": "completed",
                "usage": {"input_tokens": s["input_tokens"], "output_tokens": s["output_tokens"],
                          "input_tokens_details": {"cached_tokens": 0}}}}))

    async def realtime(self, ws, s, n, tag):
        rid = "resp_%d" % n
        await ws.send(json.dumps({"type": "response.created", "event_id": "ev_%d" % n,
                                  "response": {"id": rid, "status": "in_progress"}}))
        for i in range(s["audio"]):
            pcm = bytes((i * 7 + k) & 0xff for k in range(480))
            await ws.send(json.dumps({"type": "response.output_audio.delta", "response_id": rid,
                                      "delta": base64.b64encode(pcm).decode()}))
        kind = ("response.output_audio_transcript.delta" if s["audio"]
                else "response.output_text.delta")
        ok = await self.deltas(ws, s, n, tag, lambda d: {
            "type": kind, "response_id": rid, "output_index": 0, "delta": d})
        if ok:
            await ws.send(json.dumps({"type": "response.done", "event_id": "ev_d%d" % n,
                                      "response": {
                "id": rid, "status": "completed", "status_details": None,
                "usage": {"total_tokens": s["input_tokens"] + s["output_tokens"],
                          "input_tokens": s["input_tokens"],
                          "output_tokens": s["output_tokens"],
                          "input_token_details": {"cached_tokens": 0, "text_tokens": 5},
                          "output_token_details": {"text_tokens": 2, "audio_tokens": 0}}}}))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--script")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--log")
    ap.add_argument("--no-context-takeover", action="store_true")
    ap.add_argument("--no-compression", action="store_true")
    args = ap.parse_args()
    srv = Server(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    kw = {}
    if args.no_compression:
        kw["compression"] = None
    elif args.no_context_takeover:
        kw["extensions"] = [ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True)]
        kw["compression"] = None
    async with websockets.serve(srv.handle, "127.0.0.1", 0, ssl=ctx, max_size=None,
                                ping_interval=None, **kw) as server:
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.exit(0)
