#!/usr/bin/python3
"""HTTP/2 client for the e2e tests, on Debian's python3-h2 over Python's ssl
(OpenSSL: the daemon's probes see it), or cleartext h2c (--plain).

  h2_client.py --port N [--cafile PEM] [--plain] [--path P] [--body JSON]
               [--streams K] [--rounds R] [--wait-file F] [--window W]
               [--ack-delay-ms D] [--header-bytes B] [--content-type T]

Each round opens K concurrent streams on ONE connection (POST path with the
JSON body, "n" added to metadata as e2e_n), reads every response to its end
and prints one JSON line per stream: {"round", "sid", "status", "body",
"ttft_ms" (request end -> first DATA), "reset" (error code or null)}.
--wait-file F: before each round after the first, wait until F.<round>
exists (a test decides when, e.g. after starting the daemon).
--window W: the client's SETTINGS_INITIAL_WINDOW_SIZE (and it grants the
connection window only as it reads); --ack-delay-ms D: an application that
consumes one DATA frame per D ms: the socket is read at once, but each
frame's window goes back to the server D ms after the one before (the
server stalls on flow control, not on the socket).
--header-bytes B: a request header of B bytes (CONTINUATION frames).
--content-type T: the requests' content-type (application/json).
"""

import argparse
import json
import os
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--body", default='{"model":"gpt-4o","stream":true}')
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--wait-file")
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--ack-delay-ms", type=float, default=0)
    ap.add_argument("--header-bytes", type=int, default=0)
    ap.add_argument("--content-type", default="application/json")
    a = ap.parse_args()

    sock = socket.create_connection(("127.0.0.1", a.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not a.plain:
        ctx = ssl.create_default_context(cafile=a.cafile)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    if a.window:
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: a.window})
    sock.sendall(conn.data_to_send())

    for rnd in range(a.rounds):
        if rnd and a.wait_file:
            flag = "%s.%d" % (a.wait_file, rnd)
            deadline = time.monotonic() + 60
            while not os.path.exists(flag) and time.monotonic() < deadline:
                time.sleep(0.02)
        state = {}
        for k in range(a.streams):
            sid = conn.get_next_available_stream_id()
            body = json.loads(a.body)
            body.setdefault("metadata", {})["e2e_n"] = "%d.%d" % (rnd, k)
            data = json.dumps(body).encode()
            headers = [(":method", "POST"), (":path", a.path), (":scheme", "https"),
                       (":authority", "localhost"), ("content-type", a.content_type),
                       ("authorization", "Bearer sk-e2e-secret-never-served"),
                       ("user-agent", "h2-client-e2e")]
            if a.header_bytes:
                headers.append(("x-pad", "p" * a.header_bytes))
            conn.send_headers(sid, headers)
            conn.send_data(sid, data, end_stream=True)
            sock.sendall(conn.data_to_send())
            state[sid] = {"round": rnd, "sid": sid, "status": None, "body": b"",
                          "sent": time.monotonic(), "first": None, "reset": None,
                          "done": False}
        acks, last_due = [], 0.0  # (due, length, sid): consumed later
        while not all(s["done"] for s in state.values()):
            wait = max(0.0, acks[0][0] - time.monotonic()) if acks else None
            readable = (not a.plain and sock.pending()) or select.select([sock], [], [], wait)[0]
            while acks and acks[0][0] <= time.monotonic():
                _, length, sid = acks.pop(0)
                conn.acknowledge_received_data(length, sid)
            sock.sendall(conn.data_to_send())
            if not readable:
                continue
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                s = state.get(getattr(ev, "stream_id", 0))
                if isinstance(ev, h2.events.ResponseReceived) and s:
                    s["status"] = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and s:
                    if s["first"] is None and ev.data:
                        s["first"] = time.monotonic()
                    s["body"] += ev.data
                    if a.ack_delay_ms:
                        last_due = max(last_due, time.monotonic()) + a.ack_delay_ms / 1e3
                        acks.append((last_due, ev.flow_controlled_length, ev.stream_id))
                    else:
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and s:
                    s["done"] = True
                elif isinstance(ev, h2.events.StreamReset) and s:
                    s["reset"] = ev.error_code
                    s["done"] = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    for st in state.values():
                        if not st["done"] and st["sid"] > ev.last_stream_id:
                            st["reset"] = "goaway"
                            st["done"] = True
            sock.sendall(conn.data_to_send())
        for s in state.values():
            print(json.dumps({"round": s["round"], "sid": s["sid"], "status": s["status"],
                              "body": s["body"].decode("utf-8", "replace"),
                              "ttft_ms": (s["first"] - s["sent"]) * 1e3 if s["first"] else None,
                              "reset": int(s["reset"]) if isinstance(s["reset"], int)
                              else s["reset"]}), flush=True)
    try:
        conn.close_connection()
        sock.sendall(conn.data_to_send())
    except Exception:
        pass
    sock.close()


if __name__ == "__main__":
    sys.exit(main())
