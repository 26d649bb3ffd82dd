// Rates over the last minute of calls: the Live view's tiles. Live events
// add to it as they come; the first snapshot of /api/v1/streams fills in
// the minute before the page connected, as far as that snapshot reaches
// (covered_ms says over how long the rates are).

export class SlidingWindow {
  constructor(spanMs) {
    this.span = spanMs;
    this.since = Date.now();
    this.starts = []; // {at, id}, oldest first
    this.ends = []; // {at, id, failed, tokens, cost}, oldest first
  }

  start(at, id) {
    this.starts.push({at, id});
  }

  end(at, stream) {
    this.ends.push({
      at,
      id: stream.id,
      failed: stream.status !== 'completed',
      tokens: (stream.usage && stream.usage.output_tokens) || 0,
      cost: stream.cost_usd || 0,
    });
  }

  // streams: [{s, started, ended}] known from a snapshot taken at `now`;
  // complete back to `since`. Those already counted from events are not
  // counted twice.
  seed(streams, since) {
    const started = new Set(this.starts.map((e) => e.id));
    const ended = new Set(this.ends.map((e) => e.id));
    const byTime = (a, b) => a.at - b.at;
    for (const rec of streams) {
      if (rec.started >= since && !started.has(rec.s.id)) this.starts.push({at: rec.started, id: rec.s.id});
      if (rec.ended !== null && rec.ended >= since && !ended.has(rec.s.id)) this.end(rec.ended, rec.s);
    }
    this.starts.sort(byTime);
    this.ends.sort(byTime);
    this.since = Math.min(this.since, since);
  }

  prune(now) {
    const cutoff = now - this.span;
    while (this.starts.length && this.starts[0].at < cutoff) this.starts.shift();
    while (this.ends.length && this.ends[0].at < cutoff) this.ends.shift();
  }

  rates(now) {
    this.prune(now);
    const covered = Math.max(1000, Math.min(this.span, now - this.since));
    const perSecond = 1000 / covered;
    let failed = 0, tokens = 0, cost = 0;
    for (const e of this.ends) {
      failed += e.failed;
      tokens += e.tokens;
      cost += e.cost;
    }
    return {
      covered_ms: covered,
      rps: this.starts.length * perSecond,
      error_rate: this.ends.length ? failed / this.ends.length : null,
      tokens_per_sec: tokens * perSecond,
      cost_per_hour: cost * perSecond * 3600,
    };
  }
}
