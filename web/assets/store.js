// Whether the daemon keeps a history store. Asked before requests only a
// store answers: /api/v1/metrics is a 503 without one, and the browser
// logs every failed request in its console.

import {getJSON} from './api.js';

export async function storeEnabled({signal} = {}) {
  const page = await getJSON('/api/v1/calls?limit=1', {signal});
  return page.store === true;
}
