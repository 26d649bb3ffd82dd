#!/usr/bin/env python3
"""The history store with real BPF and real clients: calls survive SIGTERM
and SIGKILL and are served again with the same fields; a word only in one
call's prompt finds it; --content off and redaction keep words out of the
search; retention prunes; a file that is not the daemon's is refused and
left untouched; /api/v1/calls pages with its cursor."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402


def calls(d, **params):
    path = "/api/v1/calls"
    if params:
        path += "?" + urllib.parse.urlencode(params)
    code, body = d.get_json(path)
    assert code == 200, (code, body)
    return body


def stat(d, key):
    return d.get_json("/api/v1/stats")[1]["store"][key]


def stored(d, n):
    """Waits until the writer has committed n calls (in this run)."""
    return e2e.wait_for(lambda: stat(d, "stored") >= n, 15, 0.05, "%d calls stored" % n)


def finished(d, n):
    return e2e.wait_for(lambda: [s for s in e2e.streams(d) if s["status"] != "streaming"]
                        if len([s for s in e2e.streams(d) if s["status"] != "streaming"]) >= n
                        else None, 20, 0.05, "%d finished calls" % n)


def same(a, b):
    """The fields of a call that do not move once it is finished."""
    skip = {"age_ms", "snippet", "timeline", "prompt"}  # the last two: served alone
    return {k: v for k, v in a.items() if k not in skip} == \
        {k: v for k, v in b.items() if k not in skip}


@e2e.test(timeout=120)
def calls_survive_sigterm_and_sigkill():
    db = e2e.tmpfile("store.db")
    srv = e2e.TlsServer(script={"deltas": ["Bon", "jour"], "usage": {
        "prompt_tokens": 9, "completion_tokens": 2}, "include_usage": True})
    d = e2e.Daemon("--store", db)
    e2e.run_client(srv, prompt="tell me about the okapi please")
    e2e.run_client(srv, prompt="and now the narwhal")
    before = finished(d, 2)
    stored(d, 2)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(15) == 0

    d = e2e.Daemon("--store", db)
    got = calls(d)
    assert len(got["calls"]) == 2 and got["store"] is True, got
    by_id = {c["id"]: c for c in got["calls"]}
    for b in before:
        assert same(by_id[b["id"]], b), (by_id[b["id"]], b)
        one = d.get_json("/api/v1/calls/" + b["id"])[1]
        assert same(one, b), (one, b)
        # llmobs-cli show finds a call of an earlier run too
        out = subprocess.run([os.path.join(e2e.REPO, "build", "llmobs-cli"), "--server", d.base,
                              "show", b["id"], "--json"], stdout=subprocess.PIPE, timeout=20)
        assert out.returncode == 0 and same(json.loads(out.stdout), b), out
        # alone, a stored call has the prompt it was made with and its timeline
        assert one["prompt"] in ("user: tell me about the okapi please\n",
                                 "user: and now the narwhal\n"), one["prompt"]
        t = one["timeline"]
        assert len(t["chunks_ms"]) == b["chunks"] and t["chunks_not_listed"] == 0, t
        assert t["chunks_ms"] == sorted(t["chunks_ms"]) and t["request_first_ms"] == 0, t
        assert abs(t["end_ms"] - b["duration_ms"]) < 0.01, (t, b)
        assert abs(t["first_token_ms"] - t["request_last_ms"] - b["ttft_ms"]) < 0.01, (t, b)
        assert t["request_last_ms"] <= t["headers_ms"] <= t["first_token_ms"] \
            <= t["last_token_ms"] <= t["end_ms"], t
    found = calls(d, q="okapi")["calls"]
    assert len(found) == 1 and found[0]["id"] in by_id, found
    assert "[okapi]" in found[0]["snippet"], found
    narwhal = calls(d, q="narwhal")["calls"]
    assert len(narwhal) == 1 and narwhal[0]["id"] != found[0]["id"], narwhal
    assert calls(d, q="platypus")["calls"] == []

    # a call made now gets an id above the stored ones; SIGKILL after its commit
    e2e.run_client(srv, prompt="the pangolin this time")
    [third] = [s for s in finished(d, 1)]
    assert int(third["id"]) > max(int(b["id"]) for b in before), (third, before)
    stored(d, 1)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(15)
    d = e2e.Daemon("--store", db)
    ids = [c["id"] for c in calls(d)["calls"]]
    assert ids[0] == third["id"] and len(ids) == 3, ids
    assert calls(d, q="pangolin")["calls"][0]["id"] == third["id"]


@e2e.test(timeout=90)
def content_off_and_redaction_keep_words_out_of_search():
    srv = e2e.TlsServer(script={"deltas": ["ok"]})
    d = e2e.Daemon("--store", e2e.tmpfile("off.db"), "--content", "off")
    e2e.run_client(srv, prompt="the quokka is secret")
    finished(d, 1)
    stored(d, 1)
    assert calls(d, q="quokka")["calls"] == []
    [c] = calls(d)["calls"]
    assert c["text"] is None, c
    d.stop()

    d = e2e.Daemon("--store", e2e.tmpfile("redacted.db"))  # --content redacted (default)
    e2e.run_client(srv, prompt="write to alice.wombat@example.com about the quokka")
    finished(d, 1)
    stored(d, 1)
    assert len(calls(d, q="quokka")["calls"]) == 1
    assert calls(d, q="wombat")["calls"] == []  # the e-mail address is masked


@e2e.test(timeout=90)
def retention_prunes_old_calls_at_start():
    db = e2e.tmpfile("retention.db")
    srv = e2e.TlsServer(script={"deltas": ["ok"]})
    d = e2e.Daemon("--store", db)
    e2e.run_client(srv, prompt="first")
    finished(d, 1)
    stored(d, 1)
    d.stop()
    time.sleep(2.2)
    d = e2e.Daemon("--store", db, "--retention", "2s")
    assert calls(d)["calls"] == []
    assert stat(d, "pruned") == 1
    metrics = d.get("/metrics")[2].decode()
    assert "llmobs_store_pruned_calls_total 1" in metrics, metrics[-2000:]


@e2e.test(timeout=60)
def a_file_not_the_daemons_is_refused_untouched():
    path = e2e.tmpfile("notes.txt")
    with open(path, "w") as f:
        f.write("my notes, not a database\n" * 200)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    out = subprocess.run([e2e.DAEMON, "--listen", "127.0.0.1:%d" % e2e.free_port(),
                          "--store", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30)
    err = out.stderr.decode()
    assert out.returncode == 2, (out.returncode, err)
    assert "--store: %s is not a SQLite database" % path in err, err
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
    out = subprocess.run([e2e.DAEMON, "--listen", "127.0.0.1:%d" % e2e.free_port(),
                          "--store", "/proc/llmobs/x.db"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 2 and "cannot create /proc/llmobs" in out.stderr.decode(), out


@e2e.test(timeout=90)
def calls_api_filters_and_pages():
    srv = e2e.TlsServer(script={"deltas": ["ok"]})
    d = e2e.Daemon()
    for model in ("gpt-4o-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4.1", "gpt-4o-mini"):
        e2e.run_client(srv, model=model)
    finished(d, 5)
    stored(d, 5)
    mini = calls(d, model="gpt-4o-mini")["calls"]
    assert len(mini) == 3 and all(c["model"] == "gpt-4o-mini" for c in mini), mini
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = calls(d, **params)
        seen += [c["id"] for c in page["calls"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and len(set(seen)) == 5, seen
    assert seen == sorted(seen, key=int, reverse=True), seen
    assert calls(d, since="1h")["calls"] and not calls(d, until="1h")["calls"]
    for bad in ({"since": "yesterday"}, {"limit": "0"}, {"status": "done"},
                {"cursor": "x"}, {"pid": "-1"}):
        code, body = d.get_json("/api/v1/calls?" + urllib.parse.urlencode(bad))
        assert code == 400 and body["error"], (bad, code, body)
    assert d.get_json("/api/v1/calls/999999")[0] == 404


@e2e.test(timeout=60)
def long_prompts_are_cut_and_counted():
    srv = e2e.TlsServer()
    d = e2e.Daemon()
    e2e.run_client(srv, prompt="tapir", prompt_bytes=40000)
    [c] = finished(d, 1)
    stored(d, 1)
    assert 0 < c["prompt_bytes_cut"] < 40000 - 32768 + 4096, c
    assert e2e.metric(d, "llmobs_store_prompt_bytes_cut_total") == c["prompt_bytes_cut"]
    assert stat(d, "prompt_bytes_cut") == c["prompt_bytes_cut"]


e2e.main()
