#!/usr/bin/env python3
"""What calls cost, end to end with real BPF: calls of real clients to a
local TLS server, priced from the shipped table (daemon/llm/prices.json)
and a --prices file; each call's cost_usd and llmobs_cost_usd_total equal
the bill computed here by hand from the provider's rules; a model without
a price is counted, never guessed."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
from e2e_lib import sse  # noqa: E402

PRICES = os.path.join(e2e.REPO, "daemon", "llm", "prices.json")


def price(provider, model):
    """The shipped entry whose models list holds this exact name."""
    with open(PRICES) as f:
        for p in json.load(f)["prices"]:
            if p["provider"] == provider and model in p["models"]:
                return p
    raise AssertionError("no shipped price for %s/%s" % (provider, model))


def curl(srv, path, body):
    argv = ["curl", "-sS", "--http1.1", "-N", "--cacert", srv.cafile,
            "-H", "Content-Type: application/json", "-H", "x-api-key: " + e2e.SECRET,
            "--data-binary", json.dumps(body), "https://localhost:%d%s" % (srv.port, path)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 0, out.stderr.decode()


def finished(d, n, comm=None):
    def done():
        st = d.get_json("/api/v1/streams")[1]["streams"]
        got = [s for s in st if s["status"] != "streaming" and (comm is None or s["comm"] == comm)]
        return got if len(got) >= n else None
    return e2e.wait_for(done, 20, 0.05, "%d finished calls" % n)


def metric(d, name, **labels):
    """The sample of `name` whose labels include these, or None."""
    for line in d.get("/metrics")[2].decode().splitlines():
        if not line.startswith(name + "{"):
            continue
        have = dict(kv.split("=", 1) for kv in line[len(name) + 1:line.rindex("}")].split(","))
        if all(have.get(k) == '"%s"' % v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def close(a, b):
    return abs(a - b) < 1e-9


@e2e.test
def openai_call_from_python_costs_its_bill():
    """Python's ssl client, a streamed gpt-4o-mini completion with cached
    input: prompt_tokens include cached_tokens, billed once at the cached rate."""
    usage = {"prompt_tokens": 12000, "completion_tokens": 345,
             "prompt_tokens_details": {"cached_tokens": 2000}}
    srv = e2e.TlsServer(script={"deltas": ["Hel", "lo"], "usage": usage, "include_usage": True,
                                "model": "gpt-4o-mini-2024-07-18"})
    d = e2e.Daemon()
    e2e.run_client(srv, model="gpt-4o-mini")
    [s] = finished(d, 1)
    p = price("openai", "gpt-4o-mini")
    bill = (10000 * p["input"] + 2000 * p["cached_input"] + 345 * p["output"]) / 1e6
    assert s["status"] == "completed" and s["usage"]["cached_input_tokens"] == 2000, s
    assert s["price"]["id"] == "openai/gpt-4o-mini" and not s["price"]["user"], s
    assert s["price"]["source"] == p["source"] and s["price"]["as_of"] == p["as_of"], s
    assert close(s["cost_usd"], bill), (s["cost_usd"], bill)
    assert s["unpriced"] is None, s
    got = metric(d, "llmobs_cost_usd_total", gen_ai_provider_name="openai",
                 gen_ai_request_model="gpt-4o-mini")
    assert got is not None and close(got, bill), (got, bill)


ANTHROPIC = sse(
    ("message_start", {"type": "message_start", "message": {
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 100, "cache_read_input_tokens": 20000,
                  "cache_creation_input_tokens": 5000,
                  "cache_creation": {"ephemeral_5m_input_tokens": 3000,
                                     "ephemeral_1h_input_tokens": 2000},
                  "output_tokens": 1}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "ok"}}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"output_tokens": 800}}),
    ("message_stop", {"type": "message_stop"}))


@e2e.test
def anthropic_cache_reads_and_writes_at_their_rates_and_sums_add_up():
    """curl, two Anthropic calls with cache reads and 5-minute and 1-hour
    cache writes: each at its own rate; the counter is the sum."""
    srv = e2e.TlsServer(script={"raw": {"content_type": "text/event-stream",
                                        "pieces": ANTHROPIC}})
    d = e2e.Daemon()
    for _ in range(2):
        curl(srv, "/v1/messages", {"model": "claude-sonnet-4-5", "stream": True,
                                   "max_tokens": 900})
    calls = finished(d, 2, comm="curl")
    p = price("anthropic", "claude-sonnet-4-5")
    bill = (100 * p["input"] + 20000 * p["cached_input"] + 3000 * p["cache_write_5m"]
            + 2000 * p["cache_write_1h"] + 800 * p["output"]) / 1e6
    for s in calls:
        assert s["usage"]["cache_write_1h_input_tokens"] == 2000, s
        assert s["price"]["id"] == "anthropic/claude-sonnet-4-5", s
        assert not s["price"]["long_context"], s
        assert close(s["cost_usd"], bill), (s["cost_usd"], bill)
    got = metric(d, "llmobs_cost_usd_total", gen_ai_provider_name="anthropic",
                 gen_ai_request_model="claude-sonnet-4-5")
    assert got is not None and close(got, 2 * bill), (got, 2 * bill)


@e2e.test
def unknown_models_are_counted_and_a_prices_file_prices_them():
    """A model the table does not name: cost_usd null, unpriced no_price,
    counted by reason; with --prices naming it, priced from that entry."""
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    srv = e2e.TlsServer(script={"deltas": ["a"], "usage": usage, "include_usage": True})
    d = e2e.Daemon()
    e2e.run_client(srv, model="house-model-7b")
    [s] = finished(d, 1)
    assert s["cost_usd"] is None and s["price"] is None and s["unpriced"] == "no_price", s
    assert metric(d, "llmobs_cost_unpriced_calls_total", gen_ai_request_model="house-model-7b",
                  reason="no_price") == 1
    d.stop()

    path = e2e.tmpfile("prices.json")
    with open(path, "w") as f:
        json.dump({"version": 1, "prices": [
            {"provider": "openai", "models": ["house-model-*"], "input": 0.5, "output": 1.5,
             "note": "what our GPUs cost"}]}, f)
    d = e2e.Daemon("--prices", path)
    e2e.run_client(srv, model="house-model-7b")
    [s] = finished(d, 1)
    assert s["price"]["id"] == "openai/house-model-*" and s["price"]["user"], s
    assert s["price"]["source"] is None, s
    assert close(s["cost_usd"], (1000 * 0.5 + 100 * 1.5) / 1e6), s
    assert metric(d, "llmobs_cost_unpriced_calls_total", reason="no_price") is None


@e2e.test
def a_bad_prices_file_stops_the_daemon_naming_the_entry():
    path = e2e.tmpfile("bad-prices.json")
    with open(path, "w") as f:
        json.dump({"prices": [{"provider": "openai", "models": ["a"], "input": 1, "output": 2},
                              {"provider": "openai", "models": ["b"], "input": 1,
                               "outptu": 2}]}, f)
    out = subprocess.run([e2e.DAEMON, "--replay", "/dev/null", "--prices", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = out.stderr.decode()
    assert out.returncode == 2, (out.returncode, err)
    assert "--prices %s: price entry #2 (openai/b): unknown key \"outptu\"" % path in err, err
    out = subprocess.run([e2e.DAEMON, "--replay", "/dev/null", "--prices", "/nonexistent.json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode == 2 and "No such file" in out.stderr.decode(), out.stderr


e2e.main()
