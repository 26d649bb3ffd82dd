#!/usr/bin/env python3
"""The JSON API, /metrics and llmobs-cli against `llmobsd --replay FILE
--serve`: no BPF and no root. The recording is written here, record by
record (the --record format, tests/bench/make_recording.py's records):
two processes make six LLM calls that end every way a call can end, and
every expected value below is derived from what was put in it."""

import datetime
import gzip
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

sys.path.insert(0, os.path.join(e2e.REPO, "tests", "bench"))
import make_recording as rec  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
MS = rec.MS
SECRET = "sk-replay-SECRET-4a7c91"  # the API key and session cookie: never served
EMAIL = "ops.lead@example.com"  # in a completion: served redacted
SRC_CONNECT, SRC_SSL_SHUTDOWN = 6, 11  # include/llmobs/event.h
NO_SUCH_TYPE = 99
# The recording's first record happened at this wall time.
T0_MS = 10000
WALL_T0 = datetime.datetime(2026, 3, 4, 5, 6, 7, 250000, tzinfo=datetime.timezone.utc)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
WALL_T0_NS = (WALL_T0 - EPOCH) // datetime.timedelta(microseconds=1) * 1000


def rfc3339(t_ms):
    """The wall time of monotonic t_ms, as the API writes it."""
    t = WALL_T0 + datetime.timedelta(milliseconds=t_ms - T0_MS)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Conn:
    def __init__(self, pid, comm, ssl, fd):
        self.pid, self.comm, self.ssl, self.fd = pid, comm, ssl, fd


class Recording:
    """Capture records as BPF emits them: per connection and direction the
    byte positions continue; a lost record leaves a hole in them."""

    def __init__(self):
        self.recs = []  # (ts_ms, order, bytes)
        self.pos = {}
        self.call_id = 0
        self.data_records = 0
        self.data_bytes = [0, 0]  # [write, read] bytes the pipeline is given
        self.lost = []  # sizes of the records left out
        self.bad = 0
        self.last_ms = 0

    def _add(self, ts_ms, raw, counts_time=True):
        self.recs.append((ts_ms, len(self.recs), raw))
        if counts_time:
            self.last_ms = max(self.last_ms, ts_ms)

    def data(self, ts_ms, c, direction, payload, lost=False):
        key = (c.pid, c.ssl, direction)
        pos = self.pos.get(key, 0)
        self.pos[key] = pos + len(payload)
        self.call_id += 1
        if lost:
            self.lost.append(len(payload))
            return
        self.data_records += 1
        self.data_bytes[direction] += len(payload)
        src = rec.SRC_READ_EX if direction == rec.READ else rec.SRC_WRITE_EX
        self._add(ts_ms, rec.record(ts_ms * MS, c.ssl, pos, self.call_id, rec.DATA, c.pid,
                                    direction, src, payload, comm=c.comm.encode(), fd=c.fd))

    def connect(self, ts_ms, c, ip, port):
        self._add(ts_ms, rec.record(ts_ms * MS, 0, 0, 0, rec.CONNECT, c.pid, 0, SRC_CONNECT,
                                    comm=c.comm.encode(), fd=c.fd, family=socket.AF_INET,
                                    port=port, addr=socket.inet_aton(ip)))

    def close(self, ts_ms, c, src):
        self._add(ts_ms, rec.record(ts_ms * MS, c.ssl, 0, 0, rec.CLOSE, c.pid, 0, src,
                                    comm=c.comm.encode(), fd=c.fd))

    def bad_record(self, ts_ms):
        """A record of an unknown type: counted as bad, its time not taken."""
        self.bad += 1
        self._add(ts_ms, rec.record(ts_ms * MS, 1, 0, 0, NO_SUCH_TYPE, 1, 0, 0), counts_time=False)

    def write(self, path, cut_tail=0):
        """Writes the records in time order; cut_tail drops that many bytes
        off the end (a recording whose last record is incomplete)."""
        raw = rec.file_header(WALL_T0_NS - T0_MS * MS)
        raw += b"".join(r for _t, _o, r in sorted(self.recs))
        with gzip.open(path, "wb") as f:
            f.write(raw[:len(raw) - cut_tail])



def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse(obj):
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def sse_event(typ, obj):
    return b"event: " + typ.encode() + b"\n" + sse(obj)


def post(path, host, body):
    """A request's headers and body, apart (the body is written later)."""
    data = json.dumps(body).encode()
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (path, host, SECRET, len(data))).encode()
    return head, data


STREAM_HEAD = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               "Transfer-Encoding: chunked\r\nSet-Cookie: session=%s\r\n\r\n" % SECRET).encode()


def openai_events(deltas, usage):
    """The SSE events of a streamed chat completion: role, deltas, finish,
    usage; [DONE] is the terminator, not a chunk."""
    first = [sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    content = [sse({"choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]})
               for d in deltas]
    end = [sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
           sse({"choices": [], "usage": {"prompt_tokens": usage[0],
                                         "completion_tokens": usage[1],
                                         "prompt_tokens_details": {"cached_tokens": usage[2]}}})]
    return first, content, end, b"data: [DONE]\n\n"


def stream_call(r, c, t_ms, model, deltas, first_ms, gap_ms, usage=(12, 3, 4), lose=None,
                end="done"):
    """An OpenAI streamed chat completion on c: headers at t_ms, body 5 ms
    later, the first content delta first_ms after that, then one read per
    delta gap_ms apart, then the end. lose: index of a delta read that the
    capture loses; end: "done" (finish, usage, [DONE]), "close" (SSL_shutdown
    gap_ms after the last delta) or None (still streaming). Returns what the
    API must show."""
    head, body = post("/v1/chat/completions", "api.openai.com",
                      {"model": model, "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "hi"}]})
    r.data(t_ms, c, rec.WRITE, head)
    r.data(t_ms + 5, c, rec.WRITE, body)
    first, content, tail, done = openai_events(deltas, usage)
    t_first = t_ms + 5 + first_ms
    t_last = t_first + gap_ms * (len(deltas) - 1)
    for i, ev in enumerate(content):
        payload = chunk(ev) if i else STREAM_HEAD + chunk(first[0]) + chunk(ev)
        r.data(t_first + i * gap_ms, c, rec.READ, payload, lost=i == lose)
    want = {"pid": c.pid, "comm": c.comm, "provider": "openai", "model": model,
            "endpoint": "/v1/chat/completions", "host": "api.openai.com", "side": "client",
            "http_status": 200, "started_at": rfc3339(t_ms), "t_start": t_ms,
            "ttft_ms": first_ms}
    if lose is not None:
        lost = r.lost[-1]
        want.update(status="truncated", text="".join(deltas[:lose]), dropped_bytes=lost,
                    error="lost %d bytes" % lost)
    else:
        want.update(text="".join(deltas), dropped_bytes=0)
    t_end = t_last + gap_ms
    if end == "done":
        r.data(t_end, c, rec.READ, b"".join(chunk(e) for e in tail) + chunk(done) + b"0\r\n\r\n")
        if lose is None:
            body_bytes = b"".join(first + content + tail) + done
            want.update(status="completed", finish_reason="stop", error=None,
                        usage={"input_tokens": usage[0], "output_tokens": usage[1],
                               "cached_input_tokens": usage[2],
                               "cache_creation_input_tokens": None,
                               "cache_write_1h_input_tokens": None, "reasoning_tokens": None},
                        duration_ms=t_end - t_ms, chunks=len(first + content + tail),
                        bytes=len(body_bytes), gap_ms=gap_ms,
                        tokens_per_second=(usage[1] - 1) / ((t_last - t_first) / 1000))
            # ms after the first request byte; the first read carries the
            # role-only event and the first delta, the last the finish and usage
            at = [t - t_ms for t in [t_first] + [t_first + i * gap_ms
                                                 for i in range(len(deltas))] + [t_end] * 2]
            want["timeline"] = {"request_first_ms": 0, "request_last_ms": 5,
                                "headers_ms": at[0], "first_token_ms": at[0],
                                "last_token_ms": t_last - t_ms, "end_ms": t_end - t_ms,
                                "chunks_ms": at, "chunks_not_listed": 0}
    elif end == "close":
        r.close(t_end, c, SRC_SSL_SHUTDOWN)
        want.update(status="aborted", error="SSL_shutdown", duration_ms=t_end - t_ms)
    else:
        # in flight, only the text the guardrails have settled on is served
        # (README: about 1 KiB behind), none of this short one
        want.update(status="streaming", error=None, text="", full_text=want["text"])
    return want


def anthropic_call(r, c, t_ms, model, deltas, first_ms, gap_ms, usage=(7, 2)):
    """An Anthropic Messages stream on c, as stream_call."""
    head, body = post("/v1/messages", "api.anthropic.com",
                      {"model": model, "stream": True, "max_tokens": 64,
                       "messages": [{"role": "user", "content": "hi"}]})
    r.data(t_ms, c, rec.WRITE, head + body)
    start = sse_event("message_start", {"type": "message_start", "message": {
        "model": model, "usage": {"input_tokens": usage[0], "output_tokens": 1}}})
    content = [sse_event("content_block_delta", {
        "type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}})
        for d in deltas]
    end = (sse_event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": "end_turn"},
                                       "usage": {"output_tokens": usage[1]}})
           + sse_event("message_stop", {"type": "message_stop"}))
    t_first = t_ms + first_ms
    for i, ev in enumerate(content):
        payload = chunk(ev) if i else STREAM_HEAD + chunk(start) + chunk(ev)
        r.data(t_first + i * gap_ms, c, rec.READ, payload)
    t_end = t_first + gap_ms * len(deltas)
    r.data(t_end, c, rec.READ, chunk(end) + b"0\r\n\r\n")
    text = "".join(deltas)
    return {"pid": c.pid, "comm": c.comm, "provider": "anthropic", "model": model,
            "endpoint": "/v1/messages", "host": "api.anthropic.com", "status": "completed",
            "http_status": 200, "finish_reason": "end_turn", "started_at": rfc3339(t_ms),
            "t_start": t_ms, "ttft_ms": first_ms, "duration_ms": t_end - t_ms,
            "text": text.replace(EMAIL, "*" * len(EMAIL)), "email_at": text.index(EMAIL),
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                      "cached_input_tokens": None, "cache_creation_input_tokens": None,
                      "cache_write_1h_input_tokens": None, "reasoning_tokens": None},
            "error": None, "dropped_bytes": 0}


def error_call(r, c, t_ms, model, message, after_ms):
    """A request answered with 429 and a JSON error body."""
    head, body = post("/v1/chat/completions", "api.openai.com",
                      {"model": model, "stream": True, "messages": []})
    r.data(t_ms, c, rec.WRITE, head + body)
    err = json.dumps({"error": {"message": message, "type": "requests"}}).encode()
    r.data(t_ms + after_ms, c, rec.READ,
           b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(err), err))
    return {"pid": c.pid, "comm": c.comm, "provider": "openai", "model": model,
            "status": "error", "http_status": 429, "error": message,
            "started_at": rfc3339(t_ms), "t_start": t_ms, "duration_ms": after_ms}


class World:
    """The recording and, per call, what the API must show (newest first)."""

    def __init__(self):
        r = self.rec = Recording()
        a = [Conn(4101, "agent-a", 0xA1000 + i, 11 + i) for i in range(3)]
        b = [Conn(4202, "agent-b", 0xB2000 + i, 21 + i) for i in range(3)]
        self.peer = ("10.20.30.40", 443)
        r.connect(T0_MS, a[0], *self.peer)
        r.bad_record(T0_MS + 1)
        # a request that is no LLM call takes its turn on the connection first
        models = b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n"
        r.data(T0_MS + 10, a[0], rec.WRITE, models)
        r.data(T0_MS + 30, a[0], rec.READ,
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2\r\n\r\n{}")
        calls = [
            stream_call(r, a[0], T0_MS + 100, "gpt-4o-mini", ["Hel", "lo, ", "replay"], 250, 20),
            anthropic_call(r, b[0], T0_MS + 200, "claude-sonnet-4",
                           ["Write to ", EMAIL, " today"], 120, 15),
            error_call(r, a[1], T0_MS + 300, "gpt-4o-mini", "Rate limit reached for gpt-4o-mini",
                       40),
            stream_call(r, b[1], T0_MS + 400, "gpt-4.1", ["cut ", "short"], 100, 30,
                        end="close"),
            stream_call(r, a[2], T0_MS + 500, "gpt-4o", ["one ", "two ", "three"], 80, 20,
                        lose=1),
            stream_call(r, b[2], T0_MS + 700, "gpt-4o-mini", ["still"], 90, 10, end=None),
        ]
        # only the connection whose connect() was recorded names its peer
        for i, c in enumerate(calls):
            c["peer"] = "%s:%d" % self.peer if i == 0 else None
        self.calls = sorted(calls, key=lambda w: -w["t_start"])
        self.conns = a + b
        self.path = e2e.tmpfile("replay.rec.gz")
        r.write(self.path)

    def by_status(self, status):
        [w] = [w for w in self.calls if w["status"] == status]
        return w


_world = None


def world():
    """The recording, written once per run."""
    global _world
    if _world is None:
        _world = World()
    return _world


def serve(*args, path=None):
    """llmobsd replaying the recording (or path), serving on a free port."""
    return e2e.Daemon("--replay", path or world().path, "--serve", *args)


def cli(d, *args, timeout=20):
    return subprocess.run([CLI, "--server", d.base] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


TIMES = ("ttft_ms", "duration_ms", "tokens_per_second")


def matching(s, w):
    """The fields of stream s that differ from the expectation w (times to
    a nanosecond, error as a substring)."""
    keys = [k for k in w if k in s and k not in TIMES + ("error",)]
    bad = {k: (s[k], w[k]) for k in keys if s[k] != w[k]}
    for k in TIMES:
        if k in w and abs(s[k] - w[k]) > 1e-6:
            bad[k] = (s[k], w[k])
    if "error" in w and (w["error"] is None) != (s["error"] is None):
        bad["error"] = (s["error"], w["error"])
    elif w.get("error") and w["error"] not in s["error"]:
        bad["error"] = (s["error"], w["error"])
    return bad


# ---- the JSON API --------------------------------------------------------

@e2e.test
def streams_are_the_recorded_calls_newest_first():
    w = world()
    d = serve()
    got = e2e.streams(d)
    assert len(got) == len(w.calls), [s["started_at"] for s in got]
    assert [s["started_at"] for s in got] == [c["started_at"] for c in w.calls], got
    for s, want in zip(got, w.calls):
        bad = matching(s, want)
        assert not bad, "stream %s: %r" % (s["id"], bad)
    ids = [int(s["id"]) for s in got]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), ids
    # each stream by its id is the same record as in the list, with its
    # timeline and its prompt (kept: the test's daemon has a store)
    for s in got:
        status, one = d.get_json("/api/v1/streams/" + s["id"])
        timeline, prompt = one.pop("timeline"), one.pop("prompt")
        want = [c for c in w.calls if c["started_at"] == s["started_at"]][0]
        assert status == 200 and one == s, (status, one, s)
        assert prompt == ("" if want["status"] == "error" else "user: hi\n"), prompt
        assert timeline["request_first_ms"] == 0 and len(timeline["chunks_ms"]) == s["chunks"]
        assert timeline == want.get("timeline", timeline), (timeline, want)
    assert sum("timeline" in c for c in w.calls) == 1


@e2e.test
def timings_follow_the_recorded_times():
    w = world()
    d = serve()
    got = {s["started_at"]: s for s in e2e.streams(d)}
    done = w.calls[-1]  # the first call: a complete stream
    s = got[done["started_at"]]
    # ttft from the last request byte (the body, 5 ms after the headers),
    # duration from the first; deltas gap_ms apart
    assert abs(s["ttft_ms"] - done["ttft_ms"]) < 1e-6, s
    assert abs(s["duration_ms"] - done["duration_ms"]) < 1e-6, s
    assert s["inter_chunk_ms"] == {"p50": done["gap_ms"], "p95": done["gap_ms"],
                                   "max": done["gap_ms"]}, s["inter_chunk_ms"]
    assert abs(s["tokens_per_second"] - done["tokens_per_second"]) < 1e-6, s
    assert s["chunks"] == done["chunks"] and s["bytes"] == done["bytes"], s
    # replaying, "now" is the last record's time: every age, and the
    # duration of the call still streaming, run up to it
    live = w.by_status("streaming")
    s = got[live["started_at"]]
    assert s["status"] == "streaming", s
    assert abs(s["duration_ms"] - (w.rec.last_ms - live["t_start"])) < 1e-6, s
    for want in w.calls:
        age = got[want["started_at"]]["age_ms"]
        assert abs(age - (w.rec.last_ms - want["t_start"])) < 1e-6, (want, age)


@e2e.test
def losses_and_endings_say_why():
    w = world()
    d = serve()
    got = {s["started_at"]: s for s in e2e.streams(d)}
    for status in ("truncated", "aborted", "error"):
        want = w.by_status(status)
        s = got[want["started_at"]]
        bad = matching(s, want)
        assert not bad, "%s: %r" % (status, bad)
    lost = w.by_status("truncated")
    assert got[lost["started_at"]]["dropped_bytes"] == sum(w.rec.lost), got
    # the stats count the same hole
    _status, st = d.get_json("/api/v1/stats")
    assert st["pipeline"]["lost_bytes"] == sum(w.rec.lost), st["pipeline"]
    assert st["pipeline"]["gaps"] == len(w.rec.lost), st["pipeline"]


@e2e.test
def secrets_are_never_served_and_pii_is_redacted():
    w = world()
    with gzip.open(w.path) as f:
        raw = f.read()
    assert SECRET.encode() in raw and EMAIL.encode() in raw  # what must not come out
    d = serve()
    served = [d.get(p)[2] for p in ("/api/v1/streams", "/api/v1/stats", "/metrics")]
    streams = e2e.streams(d)
    served += [d.get("/api/v1/streams/" + s["id"])[2] for s in streams]
    served += [cli(d, "streams", "--json").stdout] + [cli(d, "show", s["id"]).stdout
                                                      for s in streams]
    for body in served:
        assert SECRET.encode() not in body and EMAIL.encode() not in body, body[:2000]
    msg = next(c for c in w.calls if c["provider"] == "anthropic")
    [s] = [s for s in streams if s["provider"] == "anthropic"]
    assert s["text"] == msg["text"], s["text"]
    hits = [{k: h[k] for k in ("rule", "action", "where", "offset", "length")}
            for h in s["guardrail"]]
    assert hits == [{"rule": "pii.email", "action": "redact", "where": "response",
                     "offset": msg["email_at"], "length": len(EMAIL)}], s["guardrail"]
    assert all(x["guardrail"] == [] for x in streams if x is not s), streams


@e2e.test
def filters_select_streams_and_bad_values_are_400():
    w = world()
    d = serve()
    every = e2e.streams(d)

    def starts(**q):
        return [s["started_at"] for s in e2e.streams(d, **q)]

    def want(pred):
        return [c["started_at"] for c in w.calls if pred(c)]

    assert starts(state="active") == want(lambda c: c["status"] == "streaming")
    assert starts(state="recent") == want(lambda c: c["status"] != "streaming")
    assert starts(provider="anthropic") == want(lambda c: c["provider"] == "anthropic")
    assert starts(model="gpt-4o-mini") == want(lambda c: c["model"] == "gpt-4o-mini")
    for conn in (w.conns[0], w.conns[-1]):
        assert starts(comm=conn.comm) == want(lambda c: c["comm"] == conn.comm)
        assert starts(pid=conn.pid) == want(lambda c: c["pid"] == conn.pid)
    assert starts(comm="nobody-here") == [] and starts(pid=1) == []
    assert starts(limit=2) == [s["started_at"] for s in every[:2]]
    assert starts(provider="openai", state="recent", comm="agent-a") == want(
        lambda c: c["provider"] == "openai" and c["status"] != "streaming"
        and c["comm"] == "agent-a")
    for q, why in (("state=done", "state must be"), ("pid=-1", "pid must be"),
                   ("pid=x", "pid must be"), ("limit=0", "limit must be"),
                   ("limit=many", "limit must be")):
        status, body = d.get_json("/api/v1/streams?" + q)
        assert status == 400 and why in body["error"], (q, status, body)


@e2e.test
def unknown_streams_and_paths_are_json_errors():
    d = serve()
    ids = [int(s["id"]) for s in e2e.streams(d)]
    for path, code, why in (("/api/v1/streams/%d" % (max(ids) + 1000), 404, "no such stream"),
                            ("/api/v1/streams/abc", 400, "must be a number"),
                            ("/api/v1/streams/-1", 400, "must be a number"),
                            ("/api/v1/nothing", 404, "not found"),
                            ("/api/v1/probes", 503, "replaying a recording")):
        status, body = d.get_json(path)
        assert status == code and why in body["error"], (path, status, body)
    # nothing takes a body or another method
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    sock.sendall(b"DELETE /api/v1/streams HTTP/1.1\r\nHost: x\r\n\r\n")
    head = sock.recv(4096)
    sock.close()
    assert head.startswith(b"HTTP/1.1 405") and b"only GET" in head, head


@e2e.test
def stats_count_what_the_recording_holds():
    w = world()
    d = serve()
    status, st = d.get_json("/api/v1/stats")
    assert status == 200, st
    p = st["pipeline"]
    r = w.rec
    assert p["data_events"] == r.data_records, p
    assert p["bad_events"] == r.bad, p
    assert (p["write_bytes"], p["read_bytes"]) == tuple(r.data_bytes), p
    assert p["calls_total"] == len(w.calls), p  # GET /v1/models is no call
    assert p["streams_active"] == sum(c["status"] == "streaming" for c in w.calls), p
    closed = sum(c["status"] == "aborted" for c in w.calls)
    assert p["connections_total"] == len(w.conns), p
    assert p["connections_active"] == len(w.conns) - closed, p
    # no capture ran: its counters are all zero
    assert st["capture"]["events"] == 0 and st["capture"]["probes_attached"] == 0, st


def metric_samples(body):
    """{'name{labels}': value} of a Prometheus text page."""
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@e2e.test
def metrics_agree_with_the_recording():
    w = world()
    d = serve()
    status, headers, body = d.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), headers
    m = metric_samples(body)
    r = w.rec
    assert m["llmobs_calls_started_total"] == len(w.calls), m
    assert m["llmobs_streams_active"] == sum(c["status"] == "streaming" for c in w.calls)
    assert m['llmobs_capture_bytes_total{direction="write"}'] == r.data_bytes[0], m
    assert m['llmobs_capture_bytes_total{direction="read"}'] == r.data_bytes[1], m
    assert m["llmobs_capture_lost_bytes_total"] == sum(r.lost), m
    assert m["llmobs_capture_gaps_total"] == len(r.lost), m
    assert m["llmobs_pipeline_data_records_total"] == r.data_records, m
    assert m["llmobs_pipeline_bad_records_total"] == r.bad, m
    # one calls_total sample per provider, model and final status
    want = {}
    for c in w.calls:
        if c["status"] != "streaming":
            key = 'llmobs_calls_total{gen_ai_provider_name="%s",gen_ai_request_model="%s",' \
                  'status="%s"}' % (c["provider"], c["model"], c["status"])
            want[key] = want.get(key, 0) + 1
    got = {k: v for k, v in m.items() if k.startswith("llmobs_calls_total{")}
    assert got == want, (got, want)
    # token usage of the completed streams, per provider and model
    for c in w.calls:
        if c["status"] == "completed":
            key = 'gen_ai_client_token_usage_sum{gen_ai_provider_name="%s",' \
                  'gen_ai_request_model="%s",gen_ai_operation_name="chat",' \
                  'gen_ai_token_type="output"}' % (c["provider"], c["model"])
            assert m[key] == c["usage"]["output_tokens"], (key, m.get(key))
    email = [v for k, v in m.items() if k.startswith("llmobs_guardrail_matches_total{")
             and 'rule="pii.email"' in k]
    assert email == [1], email


@e2e.test
def healthz_and_the_live_event_stream():
    d = serve()
    status, headers, body = d.get("/healthz")
    assert (status, body) == (200, b"ok\n"), (status, body)
    # a replay has no live events left to send, but the stream opens (its
    # comment first) and a misspelt type is refused
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    sock.sendall(b"GET /api/v1/events?types=stream_start,stream_end HTTP/1.1\r\n"
                 b"Host: x\r\n\r\n")
    got = b""
    while b": llmobs live events" not in got:
        data = sock.recv(4096)
        assert data, got
        got += data
    sock.close()
    assert got.startswith(b"HTTP/1.1 200") and b"text/event-stream" in got, got
    status, body = d.get_json("/api/v1/events?types=stream_start,strem_end")
    assert status == 400 and "unknown event type 'strem_end'" in body["error"], body
    out = cli(d, "tail", "--types", "bogus")
    assert out.returncode == 1 and b"400" in out.stderr, out


@e2e.test
def content_modes_decide_what_text_is_served():
    w = world()
    live = w.by_status("streaming")
    msg = next(c for c in w.calls if c["provider"] == "anthropic")
    full = {s["started_at"]: s for s in e2e.streams(serve("--content", "full"))}
    assert full[live["started_at"]]["text"] == live["full_text"], full[live["started_at"]]
    s = full[msg["started_at"]]
    assert EMAIL in s["text"] and s["guardrail"][0]["rule"] == "pii.email", s  # still found
    off = e2e.streams(serve("--content", "off"))
    assert len(off) == len(w.calls), off
    assert [s["text"] for s in off] == [None] * len(off), [s["text"] for s in off]
    # metadata stays
    assert [s["usage"] for s in off] == [full[s["started_at"]]["usage"] for s in off], off


# ---- llmobs-cli ----------------------------------------------------------

@e2e.test
def cli_streams_table_and_json_match_the_api():
    w = world()
    d = serve()
    api = e2e.streams(d)
    out = cli(d, "streams", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["streams"] == api  # replayed time stands still
    out = cli(d, "streams")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "PID", "COMM", "PROVIDER", "MODEL", "STATUS", "AGE",
                                "TTFT", "TOK/S", "CHUNKS", "BYTES"], lines[0]
    assert len(lines) == 1 + len(w.calls), lines
    for line, s in zip(lines[1:], api):
        cells = line.split()
        assert cells[:6] == [s["id"], str(s["pid"]), s["comm"], s["provider"], s["model"],
                             s["status"]], (line, s)
        assert cells[9] == str(s["chunks"]), (line, s)
    # the filters are the API's
    out = cli(d, "streams", "--json", "--provider", "anthropic", "--state", "recent")
    got = json.loads(out.stdout)["streams"]
    assert got == [s for s in api if s["provider"] == "anthropic"], got
    out = cli(d, "streams", "--state", "done")
    assert out.returncode == 1 and b"server error 400" in out.stderr, out
    out = cli(d, "top", "--once")
    assert out.returncode == 0, out.stderr
    assert all(s["id"] in out.stdout.decode() for s in api), out.stdout


@e2e.test
def cli_show_health_probes_and_errors():
    w = world()
    d = serve()
    done = w.calls[-1]
    [s] = [s for s in e2e.streams(d) if s["started_at"] == done["started_at"]]
    out = cli(d, "show", s["id"])
    assert out.returncode == 0, out.stderr
    head, _, text = out.stdout.decode().partition("\n\n")
    fields = dict(line.split(None, 1) for line in head.splitlines())
    assert fields["id"] == s["id"] and fields["status"] == "completed", fields
    assert fields["model"] == done["model"] and fields["comm"] == done["comm"], fields
    assert fields["output_tokens"] == str(done["usage"]["output_tokens"]), fields
    assert text == done["text"] + "\n", text
    out = cli(d, "show", s["id"], "--json")
    one = json.loads(out.stdout)
    assert out.returncode == 0 and one.pop("timeline") and one.pop("prompt") and one == s, one
    out = cli(d, "show", str(int(s["id"]) + 1000))
    assert out.returncode == 1 and b"server error 404" in out.stderr, out
    out = cli(d, "health")
    assert out.returncode == 0 and out.stdout == b"ok\n", out
    out = cli(d, "probes")  # a replay attached no probes
    assert out.returncode == 1 and b"503" in out.stderr and b"replaying" in out.stderr, out
    out = cli(d, "streams", "--bogus")
    assert out.returncode == 2, out
    # nobody listening: exit 1, not a hang or a crash
    nobody = e2e.free_port()
    out = subprocess.run([CLI, "--server", "http://127.0.0.1:%d" % nobody, "streams"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert out.returncode == 1 and out.stderr, out


# ---- recordings ------------------------------------------------------------

@e2e.test
def truncated_recording_serves_the_records_before_the_cut():
    w = world()
    path = e2e.tmpfile("cut.rec.gz")
    w.rec.write(path, cut_tail=10)  # the last record loses its end
    whole = len(w.rec.recs)
    out = subprocess.run([e2e.DAEMON, "--replay", path, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 1, out  # the replay says it was incomplete
    assert b"truncated after %d records" % (whole - 1) in out.stderr, out.stderr
    d = serve(path=path)
    # the streams of the full replay, but the last call lacks its last read
    cut = {s["started_at"]: s for s in json.loads(out.stdout)["streams"]}
    full = {s["started_at"]: s for s in e2e.streams(serve())}
    assert set(cut) == set(full), (sorted(cut), sorted(full))
    _status, st = d.get_json("/api/v1/stats")
    assert st["pipeline"]["data_events"] == w.rec.data_records - 1, st["pipeline"]
    served = {s["started_at"]: s for s in e2e.streams(d)}
    assert served == cut, (served, cut)
    # the last record is the first read of the call still streaming
    keys = ("status", "text", "ttft_ms", "chunks", "bytes", "usage", "http_status")
    changed = [k for k in full if any(full[k][x] != cut[k][x] for x in keys)]
    assert changed == [w.calls[0]["started_at"]], changed
    s = cut[w.calls[0]["started_at"]]
    assert s["ttft_ms"] is None and s["chunks"] == 0 and s["http_status"] is None, s


e2e.main()
