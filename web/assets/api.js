// The daemon's JSON API. Every failure becomes an ApiError with a message
// fit to show: the daemon's own {"error": "..."} text when it sent one.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 0: no answer at all
  }
}

export function isAbort(err) {
  return err && err.name === 'AbortError';
}

// "?a=1&b=x" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function request(path, signal) {
  try {
    return await fetch(path, {signal, cache: 'no-store'});
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, `the daemon cannot be reached (${err.message})`);
  }
}

export async function getJSON(path, {signal} = {}) {
  const res = await request(path, signal);
  let body = null;
  try {
    body = await res.json();
  } catch (err) {
    if (isAbort(err)) throw err;
  }
  if (!res.ok) {
    const why = body && typeof body.error === 'string' ? body.error : res.statusText;
    throw new ApiError(res.status, `${path.split('?')[0]}: ${res.status} ${why}`);
  }
  if (body === null) throw new ApiError(res.status, `${path.split('?')[0]}: not JSON`);
  return body;
}

// For /healthz, which answers text and uses its status to say how it is.
export async function getText(path, {signal} = {}) {
  const res = await request(path, signal);
  return {status: res.status, text: (await res.text()).trim()};
}
