#!/usr/bin/env python3
"""OpenAI's Codex CLI (npm @openai/codex: a stripped static-pie musl Rust
binary, rustls inside) with real BPF: its TLS cannot be read, so it must
show up as a blind spot naming rustls and the binary, counted and logged,
never as silence. `codex exec` is pointed at a local Responses server."""

import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

NODE = os.path.join(e2e.E2E_DIR, "node", "node_modules")


def codex_binary():
    found = glob.glob(os.path.join(NODE, "@openai", "codex-linux-x64", "vendor", "*", "bin",
                                   "codex"))
    if not found:
        raise e2e.Skip("@openai/codex is not installed in tests/e2e/node (make deps)")
    return os.path.realpath(found[0])


@e2e.test(timeout=120)
def codex_exec_is_a_rustls_blind_spot():
    exe = codex_binary()
    srv = e2e.TlsServer()
    d = e2e.Daemon()
    home = os.path.join(e2e.tmpdir(), "codex-home")
    os.makedirs(home, exist_ok=True)
    provider = ('model_providers.local={name="local",base_url="https://127.0.0.1:%d/v1",'
                'env_key="OPENAI_API_KEY",wire_api="responses"}' % srv.port)
    env = dict(os.environ, CODEX_HOME=home, OPENAI_API_KEY=e2e.SECRET,
               SSL_CERT_FILE=srv.cafile)
    cl = e2e.Managed("codex", [exe, "exec", "--skip-git-repo-check", "-c",
                               "model_provider=local", "-c", provider, "say hi"],
                     e2e.tmpfile("codex.log"), env=env)

    def listed():
        status, body = d.get_json("/api/v1/blind")
        assert status == 200, body
        return [p for p in body["processes"] if p["pid"] == cl.proc.pid] or None
    [p] = e2e.wait_for(listed, 30, 0.2, "codex listed as a blind spot")
    assert p["exe"] == exe and p["comm"] == "codex", p
    assert p["stack"] == "rustls" and p["reason_code"] == "rustls_unsupported", p
    assert p["reason"] == "rustls: unsupported", p
    assert "127.0.0.1:%d" % srv.port in p["peers"], p
    assert e2e.metric(d, "llmobs_unobserved_connections_total", 'reason="rustls_unsupported"') >= 1
    e2e.wait_for(lambda: re.search(r"TLS of %s \(pid %d, codex; TLS stack: rustls\) is not seen"
                                   % (re.escape(exe), cl.proc.pid), d.log_tail(200)),
                 5, 0.1, "the blind spot logged")
    cl.stop()
    assert not e2e.streams(d), e2e.streams(d)  # nothing made up from its ciphertext
    e2e.no_secret(d)


e2e.main()
