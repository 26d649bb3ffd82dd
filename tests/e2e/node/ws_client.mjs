// WebSocket clients for the e2e tests: the `ws` package (what the OpenAI
// SDKs use) speaking the Responses API over WebSocket, or the official
// OpenAI SDK's Realtime client (OpenAIRealtimeWS). Node's TLS: its own
// OpenSSL, which the daemon probes. The CA comes from NODE_EXTRA_CA_CERTS.
//
//   node ws_client.mjs responses|realtime PORT [RESPONSES] [plain]
//
// plain: the `ws` client offers no permessage-deflate (its inflating runs
// in libuv's thread pool, which delays what the client measures).
// One connection, RESPONSES (1) responses one after the other; one JSON
// line per response: {"k", "text", "ttft_ms" (create sent -> first text
// delta), "end"}.
import WebSocket from 'ws';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/beta/realtime/ws';

const [mode, port, count = '1', plain] = process.argv.slice(2);
const total = Number(count);
const TEXT = new Set(['response.output_text.delta', 'response.output_audio_transcript.delta',
                      'response.text.delta', 'response.audio_transcript.delta']);
const ENDS = new Set(['response.completed', 'response.incomplete', 'response.failed',
                      'response.done', 'error']);

function driver(send, close) {
  let k = 0, t0 = 0, first = null, text = '';
  const next = () => {
    if (k === total) return close();
    const meta = { e2e_tag: String(k) };
    first = null; text = '';
    t0 = performance.now();
    send(mode === 'realtime'
      ? { type: 'response.create', response: { instructions: 'Be brief.', metadata: meta } }
      : { type: 'response.create', model: 'gpt-5', input: `Say hello (${k})`, metadata: meta });
  };
  const onEvent = (ev) => {
    if (TEXT.has(ev.type)) {
      if (first === null) first = performance.now();
      text += ev.delta;
    } else if (ENDS.has(ev.type)) {
      console.log(JSON.stringify({ k, text, end: ev.type, ttft_ms: first === null ? null : first - t0 }));
      k++;
      next();
    }
  };
  return { next, onEvent };
}

if (mode === 'realtime') {
  const client = new OpenAI({ apiKey: 'sk-e2e-secret-never-served',
                              baseURL: `https://localhost:${port}/v1` });
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);
  const d = driver((e) => rt.send(e), () => rt.close());
  rt.on('event', d.onEvent);
  rt.on('error', () => {}); // an error event ends its response (onEvent)
  rt.socket.on('open', d.next);
} else {
  const ws = new WebSocket(`wss://localhost:${port}/v1/responses`, {
    perMessageDeflate: plain !== 'plain',
    headers: { Authorization: 'Bearer sk-e2e-secret-never-served' },
  });
  const d = driver((e) => ws.send(JSON.stringify(e)), () => ws.close());
  ws.on('message', (m) => d.onEvent(JSON.parse(m.toString())));
  ws.on('open', d.next);
}
