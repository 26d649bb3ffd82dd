// Drives Debian's Chromium (headless) through puppeteer-core for the
// dashboard tests (tests/e2e/test_dashboard.py): reads a list of steps as
// JSON on stdin, runs them in one page, and prints one JSON object: each
// step's result, and everything the page said on the way (console
// messages, page errors, failed requests, dialogs). Assertions are the
// caller's: this only looks.
//
// Steps: {"goto": URL}, {"wait": SELECTOR, "timeout": MS}, {"eval": JS}
// (an expression; its JSON value is the result), {"click": SELECTOR},
// {"type": SELECTOR, "text": T}, {"press": KEY}, {"viewport": [W, H]},
// {"screenshot": PATH}, {"sleep": MS}, {"touch": PATH} (creates the file: tells
// the caller the page got there); a step with "as": NAME also puts its
// result under that name in "named".
import {writeFileSync} from 'node:fs';
import puppeteer from 'puppeteer-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function readStdin() {
  const parts = [];
  for await (const chunk of process.stdin) parts.push(chunk);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

async function run(page, step) {
  if (step.goto) {
    const r = await page.goto(step.goto, {waitUntil: 'load'});
    return r && {status: r.status(), headers: r.headers()}; // null: the same page, a new hash
  }
  if (step.wait) {
    await page.waitForSelector(step.wait, {timeout: step.timeout || 10000});
    return true;
  }
  if (step.eval) return await page.evaluate(step.eval);
  if (step.click) return await page.click(step.click);
  if (step.type) return await page.type(step.type, step.text);
  if (step.press) return await page.keyboard.press(step.press);
  if (step.viewport) {
    const [width, height] = step.viewport;
    return await page.setViewport({width, height});
  }
  if (step.screenshot) return await page.screenshot({path: step.screenshot, fullPage: true});
  if (step.sleep) return await new Promise((r) => setTimeout(r, step.sleep));
  if (step.touch) return writeFileSync(step.touch, '');
  throw new Error('unknown step ' + JSON.stringify(step));
}

const steps = await readStdin();
const out = {
  named: {}, console: [], errors: [], failed: [], http_errors: [], dialogs: [], step_error: null,
};
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({width: 1280, height: 800});
  // when each view first said it was ready, ms after navigation started
  await page.evaluateOnNewDocument(() => {
    window.__readyAt = {};
    new MutationObserver(() => {
      const v = document.getElementById('view');
      if (v && v.dataset.ready === '1' && !(v.dataset.view in window.__readyAt)) {
        window.__readyAt[v.dataset.view] = performance.now();
      }
    }).observe(document, {subtree: true, attributes: true, childList: true});
  });
  page.on('console', (m) => out.console.push({type: m.type(), text: m.text()}));
  page.on('pageerror', (e) => out.errors.push(String(e)));
  page.on('requestfailed', (r) => out.failed.push(r.url() + ' ' + r.failure().errorText));
  page.on('response', (r) => {
    if (r.status() >= 400) out.http_errors.push([r.status(), new URL(r.url()).pathname]);
  });
  page.on('dialog', async (d) => {
    out.dialogs.push(d.message());
    await d.dismiss();
  });
  for (const step of steps) {
    try {
      const result = await run(page, step);
      if (step.as) out.named[step.as] = result === undefined ? null : result;
    } catch (e) {
      out.step_error = {step, error: String(e)};
      break;
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
