#!/usr/bin/env python3
"""llmobs-cli history, search and report with real BPF and real clients:
three calls (two models, a word of its own in each prompt) are listed by
history (JSON and table, filters, cursor pages), found one by one by search,
and counted per model by report (GET /api/v1/metrics) with a TOTAL line
that adds up; a usage error exits 2 with one line and the --help hint; a
server error or a stopped daemon exits 1 with the reason."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

CLI = os.path.join(e2e.REPO, "build", "llmobs-cli")
COMM = "e2e-clihist"  # the clients' process name, to tell their calls apart
# (model, prompt word): the word is in no other call
CALLS = [("gpt-4o-mini", "okapi"), ("gpt-4o-mini", "narwhal"), ("gpt-4.1", "pangolin")]
SCRIPT = {"deltas": ["Bon", "jour"], "usage": {"prompt_tokens": 9, "completion_tokens": 2},
          "include_usage": True}


def require_cli():
    if not os.access(CLI, os.X_OK):
        raise e2e.Skip("build/llmobs-cli not built (run: make)")


def cli(d, *args, code=0):
    """Runs llmobs-cli against d (a Daemon or a URL); (stdout, stderr) when
    it exits with code."""
    base = d if isinstance(d, str) else d.base
    out = subprocess.run([CLI, "--server", base, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    stdout, stderr = out.stdout.decode(), out.stderr.decode()
    assert out.returncode == code, (args, out.returncode, stdout, stderr)
    return stdout, stderr


def cli_json(d, *args):
    return json.loads(cli(d, *args, "--json")[0])


def stored(d, n):
    """Waits until the store's writer has committed n calls."""
    return e2e.wait_for(lambda: d.get_json("/api/v1/stats")[1]["store"]["stored"] >= n, 15,
                        0.05, "%d calls stored" % n)


def footer(table):
    return table.rstrip("\n").splitlines()[-1]


def data_rows(table):
    """The rows of a history or search table: not its header, count or hint."""
    return [l for l in table.splitlines()[1:]
            if not re.match(r"\d+ calls?$", l) and not l.startswith("more: ")]


def listed(table):
    """The IDs of the table's rows, in order."""
    return [l.split()[0] for l in data_rows(table)]


def rows(table, ids):
    """The table's row of each id (rows start with the ID column)."""
    got = {}
    for i in ids:
        match = [l for l in data_rows(table) if l.split()[0] == i]
        assert len(match) == 1, (i, table)
        got[i] = match[0]
    return got


@e2e.test(timeout=150)
def history_search_and_report_show_the_calls():
    require_cli()
    srv = e2e.TlsServer(script=SCRIPT)
    d = e2e.Daemon()  # with a store of its own (e2e_lib)
    for model, word in CALLS:
        e2e.run_client(srv, model=model, comm=COMM, prompt="%s facts please" % word)
    stored(d, len(CALLS))

    # history --json: the server's answer as is, newest first
    doc = cli_json(d, "history", "--comm", COMM)
    assert doc["store"] is True and doc["next_cursor"] is None, doc
    calls = doc["calls"]
    assert [c["model"] for c in calls] == [m for m, _ in reversed(CALLS)], calls
    for c in calls:
        assert c["status"] == "completed" and c["comm"] == COMM, c
        assert c["usage"]["input_tokens"] == 9 and c["usage"]["output_tokens"] == 2, c
        assert c["cost_usd"] and c["cost_usd"] > 0, c
    ids = [c["id"] for c in calls]
    by_word = {w: ids[len(CALLS) - 1 - i] for i, (_, w) in enumerate(CALLS)}
    one = cli_json(d, "history", "--model", "gpt-4.1", "--since", "10m")["calls"]
    assert [c["id"] for c in one] == [by_word["pangolin"]], one

    # the table: a row per call with its model, status and tokens, then the count
    table, err = cli(d, "history", "--comm", COMM)
    assert table.splitlines()[0].split()[:3] == ["ID", "STARTED", "PROCESS"], table
    assert err == "", err
    for c, row in zip(calls, rows(table, ids).values()):
        cells = row.split()
        assert c["model"] in cells and "completed" in cells and COMM in cells, row
        assert "9" in cells and "2" in cells and any(x.startswith("$") for x in cells), row
    assert listed(table) == ids and footer(table) == "3 calls", table

    # pages: --limit, then --cursor from the hint; --all follows every cursor
    page, _ = cli(d, "history", "--comm", COMM, "--limit", "2")
    hint = footer(page)
    assert hint.startswith("more: --cursor "), page
    assert listed(page) == ids[:2] and "\n2 calls\n" in page, page
    rest, _ = cli(d, "history", "--comm", COMM, "--cursor", hint.split()[-1])
    assert listed(rest) == ids[2:] and footer(rest) == "1 call", rest
    every = cli_json(d, "history", "--comm", COMM, "--all", "--limit", "1")
    assert [c["id"] for c in every["calls"]] == ids and every["next_cursor"] is None, every
    table, _ = cli(d, "history", "--comm", COMM, "--all", "--limit", "1")
    assert listed(table) == ids and footer(table) == "3 calls", table

    # search: each word finds its own call only, with the word in [brackets]
    for word, cid in by_word.items():
        found = cli_json(d, "search", word)["calls"]
        assert [c["id"] for c in found] == [cid], (word, found)
        assert "[%s]" % word in found[0]["snippet"], found
        table, _ = cli(d, "search", word)
        assert table.splitlines()[0].split()[-1] == "SNIPPET", table
        assert listed(table) == [cid] and "[%s]" % word in rows(table, [cid])[cid], table
        assert footer(table) == "1 call", table
    assert cli_json(d, "search", "okapi", "--model", "gpt-4.1")["calls"] == []
    assert footer(cli(d, "search", "platypus")[0]) == "0 calls"

    # report: requests per model as made, a TOTAL line that adds up
    want = {}
    for model, _ in CALLS:
        want[model] = want.get(model, 0) + 1
    rep = cli_json(d, "report", "--since", "10m", "--by", "model")
    assert rep["group_by"] == ["model"], rep
    got = {w["model"]: w["requests"] for w in rep["windows"]}
    assert got == want, rep
    assert all(w["errors"] == 0 for w in rep["windows"]), rep
    cost = sum(c["cost_usd"] for c in calls)
    assert abs(sum(w["estimated_cost_usd"] for w in rep["windows"]) - cost) < 1e-9, rep
    table, _ = cli(d, "report", "--since", "10m", "--by", "model")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "REQS", "ERRS"], table
    for model, n in want.items():
        [row] = [l for l in lines if l.split()[0] == model]
        assert row.split()[1] == str(n), row
    total = [l for l in lines if l.startswith("TOTAL")]
    assert len(total) == 1, table
    cells = total[0].split()
    assert cells[1:5] == [str(len(CALLS)), "0", "-", "-"], total  # no summed percentiles
    assert cells[5:7] == [str(9 * len(CALLS)), str(2 * len(CALLS))], total
    # per minute, by two fields, filtered: the same calls
    rep = cli_json(d, "report", "--since", "10m", "--step", "1m", "--by", "provider,model",
                   "--comm", COMM)
    assert sum(w["requests"] for w in rep["windows"]) == len(CALLS), rep
    assert {w["provider"] for w in rep["windows"]} == {"openai"}, rep
    table, _ = cli(d, "report", "--since", "10m", "--step", "1m", "--by", "provider,model")
    assert table.splitlines()[0].split()[:3] == ["WINDOW", "PROVIDER", "MODEL"], table
    assert [l.split()[1] for l in table.splitlines() if l.startswith("TOTAL")] == ["3"], table


@e2e.test(timeout=30)
def a_usage_error_exits_2_with_one_line_and_the_help_hint():
    require_cli()
    port = e2e.free_port()  # nothing listens: a usage error is told before any request
    for args in (("history", "--bogus"), ("history", "--limit", "0"), ("history", "extra"),
                 ("history", "--since"), ("search",), ("search", "--pid", "x", "word"),
                 ("report", "--by", "colour"), ("report", "--step", "7"),
                 ("report", "--s", "1h")):
        _out, err = cli("http://127.0.0.1:%d" % port, *args, code=2)
        lines = err.splitlines()
        assert len(lines) == 2 and lines[0].startswith("llmobs-cli %s: " % args[0]), err
        assert lines[1] == "Try 'llmobs-cli %s --help'." % args[0], err
    for cmd in ("history", "search", "report"):
        out, _ = cli("http://127.0.0.1:%d" % port, cmd, "--help")
        assert out.startswith("Usage: llmobs-cli %s" % cmd), out


@e2e.test(timeout=90)
def server_errors_and_a_stopped_daemon_exit_1():
    require_cli()
    d = e2e.Daemon("--store", "off")
    _out, err = cli(d, "history", "--since", "yesterday", code=1)
    assert "server error 400: since and until are" in err, err
    table, err = cli(d, "history")
    assert "history store is off" in err and re.match(r"\d+ calls?$", footer(table)), (
        table, err)
    _out, err = cli(d, "report", code=1)  # no store, no report
    assert "server error 503: " in err, err
    base = d.base
    d.stop()
    for args in (("history",), ("search", "okapi"), ("report", "--json")):
        out, err = cli(base, *args, code=1)
        assert out == "" and err.startswith("llmobs-cli: cannot reach %s" % base), err


e2e.main()
