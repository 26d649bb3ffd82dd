/* Calls from HTTP/1.1 exchanges: each request a client writes on a
 * connection waits in a FIFO for its response (HTTP/1.1 answers in order);
 * requests that are LLM calls (llm/route.h) get a call record, whose
 * response body goes through Content-Encoding, then SSE or NDJSON framing,
 * then the provider's decoder. The byte-level work is wire/conn.c's; this
 * is its conn_ops table for HTTP/1.1 (HTTP/2 pairs by stream id). */
#include "call/assemble.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/call.h"
#include "call/sink.h"
#include "core/buf.h"
#include "core/cgroup.h"
#include "core/stats.h"
#include "llm/provider.h"
#include "llm/route.h"
#include "wire/body.h"
#include "wire/conn.h"
#include "wire/http.h"
#include "wire/ndjson.h"
#include "wire/peer.h"
#include "wire/sse.h"

/* One request awaiting (or receiving) its response. call is NULL for
 * requests that are not LLM calls: they still take their turn in pairing. */
struct exchange {
	struct llm_call *call;
	struct exchange *next;
};

/* A connection's pairing state (conn_info(c)->ctx). */
struct http1 {
	struct exchange *req;              /* request being parsed */
	struct exchange *fifo, *fifo_tail; /* requests awaiting responses */
	struct exchange *resp;             /* response being parsed */
	bool resp_unmatched;               /* current response has no request */
};

static void settle_response(struct conn *c, struct llm_call *call);

static struct llm_call *dir_call(struct conn *c, int dir)
{
	struct http1 *s = conn_info(c)->ctx;
	struct exchange *x = dir == LLMOBS_DIR_WRITE ? s->req : s->resp;
	return x ? x->call : NULL;
}

static void exchange_free(struct exchange *x)
{
	if (x && x->call)
		call_release(x->call);
	free(x);
}

static void exchange_abort(struct exchange *x, uint64_t ts, const char *why)
{
	if (x && x->call)
		call_finish(x->call, CALL_ABORTED, ts, why);
	exchange_free(x);
}

/* ---- Stream events (SSE and NDJSON), at conn_info(c)->ts ---- */

/* One SSE event's data or one NDJSON line (Ollama): a provider event. */
static void stream_event(struct conn *c, const char *type, const char *data, size_t n)
{
	const struct conn_info *ci = conn_info(c);
	struct llm_call *call = dir_call(c, LLMOBS_DIR_READ);
	if (!call)
		return;
	if (call->end_read) { /* more events in the piece that held the terminator */
		pstats.ignored_bytes[IGNORE_AFTER_END] += n;
		return;
	}
	if (ci->fd >= 0)
		call->fd = ci->fd; /* learnt by now: a guardrail block needs it */
	int flags = llm_decode_event(&call->dec, type, data, n);
	if ((flags & DEC_ERROR) && call->dec.malformed)
		pstats.parse_errors_json++;
	if (flags & DEC_CONTENT)
		call_guard_response(call);
	if (flags & (DEC_DONE | DEC_END))
		call->end_read = true;
	if (flags == DEC_DONE)
		return; /* the terminator is not a chunk */
	call_on_chunk(call, ci->ts, flags);
	sink_chunk(call);
}

static void sse_on_event(void *ctx, const struct sse_event *ev)
{
	stream_event(ctx, ev->type, ev->data, ev->data_len);
}

static void sse_on_other(void *ctx, const char *line, size_t n)
{
	struct llm_call *call = dir_call(ctx, LLMOBS_DIR_READ);
	if (call)
		llm_decode_other_line(&call->dec, line, n);
}

static void ndjson_on_line(void *ctx, const char *p, size_t n)
{
	stream_event(ctx, NULL, p, n);
}

/* ---- HTTP messages ---- */

static void on_request_headers(struct conn *c, const struct http_msg *m)
{
	struct http1 *s = conn_info(c)->ctx;
	const struct conn_info *ci = conn_info(c);
	struct exchange *x = xcalloc(1, sizeof(*x));
	struct route r;
	route_match(m, &r);
	if (r.api != PROVIDER_UNKNOWN) {
		struct llm_call *call = call_new(ci->tgid, ci->tid, ci->comm, ci->thread);
		llm_decode_init(&call->dec, r.api);
		snprintf(call->dec.provider_override, sizeof(call->dec.provider_override), "%s",
		         r.provider);
		snprintf(call->dec.model, sizeof(call->dec.model), "%s", r.model);
		snprintf(call->endpoint, sizeof(call->endpoint), "%s", r.endpoint);
		snprintf(call->host, sizeof(call->host), "%s", m->host);
		const char *peer = peer_lookup(ci->tgid, ci->fd);
		if (peer)
			snprintf(call->peer, sizeof(call->peer), "%s", peer);
		const struct cgroup_attr *cg = cgroup_of(ci->tgid);
		if (cg) {
			snprintf(call->cgroup, sizeof(call->cgroup), "%s", cg->path);
			snprintf(call->container_id, sizeof(call->container_id), "%s",
			         cg->container_id);
		}
		call->t_req_first = ci->ts;
		call->server_side = ci->server_side;
		call->fd = ci->fd;
		x->call = call;
		pstats.calls_total++;
		sink_start(call);
	}
	s->req = x;
	if (s->fifo_tail)
		s->fifo_tail->next = x;
	else
		s->fifo = x;
	s->fifo_tail = x;
}

static void on_response_headers(struct conn *c, const struct http_msg *m)
{
	struct http1 *s = conn_info(c)->ctx;
	const struct conn_info *ci = conn_info(c);
	if (m->status >= 100 && m->status < 200)
		return; /* interim response: the final one follows */
	struct exchange *x = s->fifo;
	if (!x) {
		s->resp_unmatched = true;
		return;
	}
	s->fifo = x->next;
	if (!s->fifo)
		s->fifo_tail = NULL;
	x->next = NULL;
	if (s->req == x)
		s->req = NULL; /* answered before the request finished (e.g. 413) */
	s->resp = x;
	s->resp_unmatched = false;
	struct llm_call *call = x->call;
	if (!call)
		return;
	call->http_status = m->status;
	call->t_resp_headers = ci->ts;
	if (!call->peer[0]) { /* the fd is often learnt only on the first read */
		const char *peer = peer_lookup(ci->tgid, ci->fd);
		if (peer)
			snprintf(call->peer, sizeof(call->peer), "%s", peer);
	}
	if (m->content_encoding[0]) {
		bool unsupported;
		snprintf(call->content_encoding, sizeof(call->content_encoding), "%s",
		         m->content_encoding);
		call->encoding = body_decoder_new(m->content_encoding, &unsupported);
		call->unsupported_encoding = unsupported;
	}
	if (strstr(m->content_type, "text/event-stream")) {
		call->is_sse = true;
		call->sse = sse_new(sse_on_event, c, 0);
		sse_set_other_fn(call->sse, sse_on_other);
	} else if (strstr(m->content_type, "application/x-ndjson") && m->status < 300) {
		call->is_ndjson = true;
	}
}

static void on_headers(struct conn *c, const struct http_msg *m)
{
	if (m->dir == HTTP_DIR_REQ)
		on_request_headers(c, m);
	else
		on_response_headers(c, m);
}

/* Response body bytes after de-chunking and decompression. */
static void response_bytes(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	struct llm_call *call = dir_call(c, LLMOBS_DIR_READ);
	if (!call || call->finished)
		return;
	if (call->end_read) { /* the rest of a decoded piece, after the terminator */
		pstats.ignored_bytes[IGNORE_AFTER_END] += n;
		return;
	}
	if (call->sse)
		sse_feed(call->sse, p, n);
	else if (call->is_ndjson)
		ndjson_feed(&call->body, p, n, ndjson_on_line, c);
	else
		buf_append(&call->body, p, n);
}

static void on_body(struct conn *c, enum http_dir dir, const char *p, size_t n)
{
	struct http1 *s = conn_info(c)->ctx;
	const struct conn_info *ci = conn_info(c);
	if (dir == HTTP_DIR_REQ) {
		struct llm_call *call = s->req ? s->req->call : NULL;
		if (call) {
			call->req_bytes += n;
			buf_append(&call->body, p, n);
		}
		return;
	}
	if (s->resp_unmatched) {
		pstats.ignored_bytes[IGNORE_UNMATCHED] += n;
		return;
	}
	struct llm_call *call = dir_call(c, LLMOBS_DIR_READ);
	if (!call)
		return;
	if (call->finished) {
		pstats.ignored_bytes[call->decode_limit ? IGNORE_DECODE_LIMIT : IGNORE_AFTER_END] +=
		    n;
		return;
	}
	call->bytes += n;
	if (call->unsupported_encoding) {
		pstats.ignored_bytes[IGNORE_ENCODING] += n;
		return;
	}
	int rc = 0;
	if (!call->encoding)
		response_bytes(c, p, n);
	else
		rc = body_decode(call->encoding, p, n, response_bytes, c);
	/* Ended by what was just read: the call is over now, whatever the rest
	 * of the body does or whoever closes first. Its parsers return first:
	 * finishing frees them. */
	if (call->end_read && !call->finished) {
		settle_response(c, call);
	} else if (rc != 0 && !call->finished && body_over_limit(call->encoding)) {
		char why[160];
		snprintf(why, sizeof(why),
		         "%s response body inflates past the limit (%llu bytes from %llu): "
		         "decoding stopped",
		         call->content_encoding,
		         (unsigned long long)body_decoded_bytes(call->encoding),
		         (unsigned long long)body_encoded_bytes(call->encoding));
		call->decode_limit = true;
		pstats.decode_limit_calls++;
		call_finish(call, CALL_TRUNCATED, ci->ts, why);
	} else if (rc != 0 && !call->finished) {
		char why[96];
		snprintf(why, sizeof(why), "corrupt %s response body", call->content_encoding);
		pstats.parse_errors_body++;
		call_finish(call, CALL_ERROR, ci->ts, why);
	}
}

/* The call's status from what was decoded, at ci->ts: when the body ended,
 * or when the provider's last event was read. */
static void settle_response(struct conn *c, struct llm_call *call)
{
	uint64_t ts = conn_info(c)->ts;
	if (call->sse) {
		const struct sse_stats *st = sse_stats(call->sse);
		if (st->cut_bytes)
			call_add_dropped(call, st->cut_bytes);
		llm_decode_finish(&call->dec);
	}
	if (call->body.cut)
		call_add_dropped(call, call->body.cut);

	char why[300];
	if (call->unsupported_encoding) {
		snprintf(why, sizeof(why), "unsupported Content-Encoding: %s",
		         call->content_encoding);
		call_finish(call, CALL_ERROR, ts, why);
	} else if (call->http_status >= 400) {
		snprintf(why, sizeof(why), "HTTP %d%s%s", call->http_status,
		         call->dec.error[0] ? ": " : "", call->dec.error);
		call_finish(call, CALL_ERROR, ts, why);
	} else if (call->dec.failed) {
		call_finish(call, CALL_ERROR, ts,
		            call->dec.error[0] ? call->dec.error : "decode error");
	} else if ((call->is_sse || call->is_ndjson) && !call->dec.done) {
		call_finish(call, CALL_TRUNCATED, ts, "stream ended without its terminator");
	} else {
		call_finish(call, CALL_COMPLETED, ts, NULL);
	}
}

/* The response body ended: flush what the parsers hold, then settle. */
static void finish_response(struct conn *c, struct llm_call *call)
{
	if (call->sse) {
		sse_finish(call->sse);
	} else if (call->is_ndjson) {
		ndjson_finish(&call->body, ndjson_on_line, c);
	} else if (call->body.len || call->http_status >= 400) {
		int flags = llm_decode_response(&call->dec, call->body.data ? call->body.data : "",
		                                call->body.len);
		if (flags & DEC_ERROR && call->dec.malformed)
			pstats.parse_errors_json++;
		call_guard_response(call);
		/* a plain JSON answer's first token arrives with its first byte */
		call_on_chunk(call, call->t_resp_headers ? call->t_resp_headers : conn_info(c)->ts,
		              flags);
	}
	settle_response(c, call);
}

static void on_complete(struct conn *c, enum http_dir dir)
{
	struct http1 *s = conn_info(c)->ctx;
	if (dir == HTTP_DIR_REQ) {
		struct exchange *x = s->req;
		s->req = NULL;
		if (!x || !x->call)
			return;
		struct llm_call *call = x->call;
		call->t_req_last = conn_info(c)->ts;
		if (call->body.len) {
			int flags = llm_decode_request(&call->dec, call->body.data, call->body.len);
			if (flags & DEC_ERROR)
				pstats.parse_errors_json++;
			call_guard_request(call, call->body.data, call->body.len);
		}
		buf_reset(&call->body);
		return;
	}
	if (s->resp_unmatched) {
		s->resp_unmatched = false;
		return;
	}
	struct exchange *x = s->resp;
	s->resp = NULL;
	if (x && x->call && !x->call->finished)
		finish_response(c, x->call);
	exchange_free(x);
}

static void on_error(struct conn *c, enum http_dir dir, const char *reason)
{
	struct http1 *s = conn_info(c)->ctx;
	int d = dir == HTTP_DIR_REQ ? LLMOBS_DIR_WRITE : LLMOBS_DIR_READ;
	/* A response that fails before its headers are complete still answers
	 * the oldest request: the error is that call's, not a later close. */
	if (d == LLMOBS_DIR_READ && !s->resp && !s->resp_unmatched && s->fifo) {
		struct exchange *x = s->fifo;
		s->fifo = x->next;
		if (!s->fifo)
			s->fifo_tail = NULL;
		x->next = NULL;
		if (s->req == x)
			s->req = NULL;
		s->resp = x;
	}
	struct llm_call *call = dir_call(c, d);
	if (call) {
		char why[200];
		snprintf(why, sizeof(why), "HTTP parse error: %s", reason);
		call_finish(call, CALL_ERROR, conn_info(c)->ts, why);
	}
}

/* ---- Connection events ---- */

static void *on_open(struct conn *c)
{
	(void)c;
	return xcalloc(1, sizeof(struct http1));
}

/* Bytes the capture missed: the call they belonged to cannot be trusted. */
static void on_lost(struct conn *c, int dir, uint64_t n, const char *what)
{
	struct llm_call *call = dir_call(c, dir);
	if (!call)
		return;
	char why[128];
	call_add_dropped(call, n);
	snprintf(why, sizeof(why), "capture lost %llu bytes (%s)", (unsigned long long)n, what);
	call_finish(call, CALL_TRUNCATED, conn_info(c)->ts, why);
}

static void on_resync(struct conn *c, int dir)
{
	struct http1 *s = conn_info(c)->ctx;
	if (dir == LLMOBS_DIR_WRITE) {
		s->req = NULL; /* its exchange stays queued; the response pairs with it */
	} else if (s->resp) {
		exchange_free(s->resp);
		s->resp = NULL;
	}
}

/* The socket as a read found it belongs to the response being read (or
 * about to be); the first lag past the threshold is the call's one
 * backpressure event. */
static void on_read_sample(struct conn *c, const struct llmobs_event *ev)
{
	struct http1 *s = conn_info(c)->ctx;
	struct exchange *x = s->resp ? s->resp : s->fifo;
	if (!x || !x->call || x->call->finished)
		return;
	bp_add_read(&x->call->bp, ev);
	if (!x->call->bp_alerted && ev->lag_us >= bp_alert_lag_us) {
		x->call->bp_alerted = true;
		sink_backpressure(x->call, ev->lag_us, ev->unread);
	}
}

/* A write that blocked: the request being written, or the last written. */
static void on_write_done(struct conn *c, const struct llmobs_event *ev)
{
	struct http1 *s = conn_info(c)->ctx;
	struct exchange *x = s->req ? s->req : s->fifo_tail;
	if (x && x->call)
		bp_add_write_blocked(&x->call->bp, ev->lag_us);
}

static void on_close(struct conn *c, const char *why)
{
	struct http1 *s = conn_info(c)->ctx;
	uint64_t ts = conn_info(c)->ts;
	if (s->resp)
		exchange_abort(s->resp, ts, why);
	while (s->fifo) {
		struct exchange *x = s->fifo;
		s->fifo = x->next;
		exchange_abort(x, ts, why);
	}
	free(s);
	conn_info(c)->ctx = NULL;
}

const struct conn_ops http1_calls = {
    .open = on_open,
    .headers = on_headers,
    .body = on_body,
    .complete = on_complete,
    .error = on_error,
    .lost = on_lost,
    .resync = on_resync,
    .read_sample = on_read_sample,
    .write_done = on_write_done,
    .close = on_close,
};
