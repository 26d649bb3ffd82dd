// A streaming chat completion with Bun's own fetch (its TLS is BoringSSL,
// built into the executable): bun bun_fetch.mjs PORT CAFILE [MODEL].
// Prints one JSON line: the text read, the HTTP status, the pid, the
// client's TTFT. With E2E_WAIT_FILE it first waits (up to 30 s) until that
// file exists: the test releases it once the daemon has probed this
// process.
import { existsSync, readFileSync } from "node:fs";

const [port, cafile, model = "gpt-4o-mini"] = process.argv.slice(2);
const wait = process.env.E2E_WAIT_FILE;
for (let i = 0; wait && !existsSync(wait) && i < 3000; i++) await Bun.sleep(10);
const t0 = performance.now();
const res = await fetch(`https://localhost:${port}/v1/chat/completions`, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    authorization: `Bearer ${process.env.E2E_API_KEY || "sk-e2e"}`,
  },
  body: JSON.stringify({
    model,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "hi" }],
  }),
  tls: { ca: readFileSync(cafile, "utf8") },
});
let text = "";
let ttft = null;
let buf = "";
const dec = new TextDecoder();
for await (const chunk of res.body) {
  buf += dec.decode(chunk, { stream: true });
  let i;
  while ((i = buf.indexOf("\n\n")) >= 0) {
    const ev = buf.slice(0, i);
    buf = buf.slice(i + 2);
    const data = ev.replace(/^data: /, "");
    if (data === "[DONE]") continue;
    const c = JSON.parse(data).choices?.[0]?.delta?.content;
    if (c) {
      if (ttft === null) ttft = performance.now() - t0;
      text += c;
    }
  }
}
console.log(JSON.stringify({ status: res.status, text, pid: process.pid, ttft_ms: ttft }));
