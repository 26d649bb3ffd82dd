#!/usr/bin/env node
// Official OpenAI Node SDK client (e2e tests). Node links OpenSSL into its
// own binary and talks TLS through memory BIOs: the daemon must find the
// SSL functions inside /usr/bin/node and key connections without an fd.
//
// Usage: node client.mjs --port N [--requests N] [--model M]
//                             [--no-stream] [--wait-before-start S]
// Trust: NODE_EXTRA_CA_CERTS=<the test server's PEM>.
// Output: one JSON line per request: text, usage, finish_reason, ttft_ms
// (create() called -> first content delta), pid. Requests share one
// keep-alive connection (the SDK's default agent).
import OpenAI from 'openai';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt('port'));
const requests = Number(opt('requests', '1'));
const model = opt('model', 'gpt-4o-mini');
const stream = !args.includes('--no-stream');
const wait = Number(opt('wait-before-start', '0'));
if (!port) {
  console.error('client.mjs: --port is required');
  process.exit(2);
}

const client = new OpenAI({
  baseURL: `https://localhost:${port}/v1`,
  apiKey: 'sk-test-SECRET-e2e-5f3c9a1d7b2e4f60a8c1',
  maxRetries: 0,
  timeout: 30000,
});

if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));

for (let i = 0; i < requests; i++) {
  const t0 = performance.now();
  const out = { request: i, text: '', usage: null, finish_reason: null, ttft_ms: null,
                pid: process.pid };
  const body = { model, messages: [{ role: 'user', content: `node request ${i}` }] };
  if (stream) {
    const s = await client.chat.completions.create({
      ...body, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of s) {
      const choice = chunk.choices && chunk.choices[0];
      const d = choice && choice.delta && choice.delta.content;
      if (d) {
        if (out.ttft_ms === null) out.ttft_ms = performance.now() - t0;
        out.text += d;
      }
      if (choice && choice.finish_reason) out.finish_reason = choice.finish_reason;
      if (chunk.usage) out.usage = chunk.usage;
    }
  } else {
    const r = await client.chat.completions.create(body);
    out.text = r.choices[0].message.content;
    out.finish_reason = r.choices[0].finish_reason;
    out.usage = r.usage;
  }
  console.log(JSON.stringify(out));
}
