#!/usr/bin/env python3
"""A call ends at its terminator, whoever closes first (real BPF).

Clients that `break` at the stream's terminator and exit (or close) before
the end of the HTTP body must give `completed` calls whose duration ends at
the terminator's read, however late the server's last bytes are; a client
that leaves before the terminator gives `aborted` with the reason."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
from e2e_lib import sse  # noqa: E402

TAIL_MS = 400  # the end of the body comes this long after the terminator


def chat_delta(text):
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


CHAT = sse((None, chat_delta("Hello")), (None, chat_delta(" there")),
           (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
           (None, {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}})) + [
    "data: [DONE]\n\n"]

RESPONSES = sse(
    ("response.created", {"type": "response.created", "response": {"model": "gpt-5"}}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hel"}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "lo"}),
    ("response.completed", {"type": "response.completed", "response": {
        "model": "gpt-5", "status": "completed",
        "usage": {"input_tokens": 9, "output_tokens": 2}}}))

ANTHROPIC = sse(
    ("message_start", {"type": "message_start", "message": {
        "model": "claude-sonnet-4-5", "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Bonjour"}}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"output_tokens": 3}}),
    ("message_stop", {"type": "message_stop"}))


def break_client(srv, path, body, stop_at, then="exit"):
    argv = [sys.executable, os.path.join(e2e.E2E_DIR, "client_break.py"),
            "--port", str(srv.port), "--cafile", srv.cafile, "--path", path,
            "--body", json.dumps(body), "--stop-at", stop_at, "--then", then,
            "--linger", "0.2"]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    [r] = e2e.parse_client_output(out.stdout.decode())
    assert r["found"], r
    return r


def one_call(d, pid):
    [s] = e2e.finished_streams(d, pid, 1)
    return s


def check_completed_at_terminator(s, r):
    assert s["status"] == "completed", s
    assert s["error"] is None, s
    # the client measured send -> terminator line; the daemon's duration ends
    # at the terminator's read too, not 400 ms later at the body's end
    assert s["duration_ms"] <= r["ms_to_marker"] + 15, (s["duration_ms"], r)
    assert s["duration_ms"] < TAIL_MS, s


def serve(pieces, **raw):
    return e2e.TlsServer(script={"raw": dict({"content_type": "text/event-stream",
                                              "pieces": pieces, "delay_ms": 10,
                                              "tail_delay_ms": TAIL_MS}, **raw)})


def exits_at_terminator(pieces, path, body, terminator, **raw):
    """The server holds the body's end back TAIL_MS; the client leaves at the
    terminator. Returns the call, checked completed at the terminator."""
    srv = serve(pieces, **raw)
    d = e2e.Daemon()
    r = break_client(srv, path, body, terminator)
    s = one_call(d, r["pid"])
    check_completed_at_terminator(s, r)
    return s


@e2e.test
def openai_chat_client_exits_at_done():
    s = exits_at_terminator(CHAT, "/v1/chat/completions",
                            {"model": "gpt-4o-mini", "stream": True}, "[DONE]")
    assert s["text"] == "Hello there" and s["usage"]["output_tokens"] == 2, s
    assert s["finish_reason"] == "stop", s


@e2e.test
def responses_client_exits_at_completed():
    s = exits_at_terminator(RESPONSES, "/v1/responses",
                            {"model": "gpt-5", "stream": True, "input": "hi"},
                            "response.completed")
    assert s["text"] == "Hello" and s["usage"]["input_tokens"] == 9, s


@e2e.test
def anthropic_client_exits_at_message_stop():
    s = exits_at_terminator(ANTHROPIC, "/v1/messages",
                            {"model": "claude-sonnet-4-5", "stream": True}, "message_stop")
    assert s["text"] == "Bonjour" and s["usage"]["output_tokens"] == 3, s


@e2e.test
def content_length_body_client_closes_at_terminator():
    """Content-Length framing with bytes after the terminator: the client
    closes its connection (close(2), SSL_free) and lives on."""
    srv = serve(RESPONSES, framing="length", tail=": end of stream\n\n")
    d = e2e.Daemon()
    r = break_client(srv, "/v1/responses", {"model": "gpt-5", "stream": True, "input": "hi"},
                     "response.completed", then="close")
    s = one_call(d, r["pid"])
    check_completed_at_terminator(s, r)


@e2e.test
def client_exits_before_terminator_is_aborted():
    # the terminator is the last piece, 1.5 s after the content
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream",
                                        "pieces": ["".join(CHAT[:2]), "".join(CHAT[2:])],
                                        "delay_ms": 1500}})
    d = e2e.Daemon()
    r = break_client(srv, "/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True},
                     " there")
    s = one_call(d, r["pid"])
    assert s["status"] == "aborted", s
    assert s["error"] == "process exited before the response completed", s
    assert s["text"] == "Hello there", s
    assert s["duration_ms"] < 1000, s


e2e.main()
