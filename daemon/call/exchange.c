/* Calls from exchanges: a request's headers decide whether it is an LLM
 * call; its body is decoded for the model and scanned; the response's
 * body goes Content-Encoding -> SSE / NDJSON -> the provider's decoder,
 * and the call ends when its terminator is read or its body ends. The
 * transport (HTTP/1.1, HTTP/2) only pairs and delivers. */
#include "call/exchange.h"

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
#include "wire/ndjson.h"
#include "wire/peer.h"
#include "wire/sse.h"

static void settle_response(struct exchange *x);

/* ---- Stream events (SSE and NDJSON), at conn_info(x->conn)->ts ---- */

/* One SSE event's data, one NDJSON line (Ollama) or one WebSocket
 * message: a provider event. Returns the decoder's flags. */
static int stream_event(struct exchange *x, const char *type, const char *data, size_t n)
{
	const struct conn_info *ci = conn_info(x->conn);
	struct llm_call *call = x->call;
	if (call->end_read) { /* more events in the piece that held the terminator */
		pstats.ignored_bytes[IGNORE_AFTER_END] += n;
		return DEC_NONE;
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
		return flags; /* the terminator is not a chunk */
	call_on_chunk(call, ci->ts, flags);
	sink_chunk(call);
	return flags;
}

static void sse_on_event(void *ctx, const struct sse_event *ev)
{
	stream_event(ctx, ev->type, ev->data, ev->data_len);
}

static void sse_on_other(void *ctx, const char *line, size_t n)
{
	struct exchange *x = ctx;
	llm_decode_other_line(&x->call->dec, line, n);
}

static void ndjson_on_line(void *ctx, const char *p, size_t n)
{
	stream_event(ctx, NULL, p, n);
}

/* ---- Request ---- */

struct exchange *exchange_new(struct conn *c, const struct http_msg *m)
{
	const struct conn_info *ci = conn_info(c);
	struct exchange *x = xcalloc(1, sizeof(*x));
	x->conn = c;
	struct route r;
	route_match(m, &r);
	if (r.api == PROVIDER_UNKNOWN)
		return x;
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
		snprintf(call->container_id, sizeof(call->container_id), "%s", cg->container_id);
	}
	call->t_req_first = ci->ts;
	call->protocol = conn_proto_name(ci->proto);
	call->server_side = ci->server_side;
	call->fd = ci->fd;
	x->call = call;
	pstats.calls_total++;
	sink_start(call);
	return x;
}

void exchange_request_body(struct exchange *x, const char *p, size_t n)
{
	if (!x->call)
		return;
	x->call->req_bytes += n;
	buf_append(&x->call->body, p, n);
}

void exchange_request_end(struct exchange *x)
{
	x->req_done = true;
	struct llm_call *call = x->call;
	if (!call)
		return;
	call->t_req_last = conn_info(x->conn)->ts;
	if (call->body.len) {
		int flags = llm_decode_request(&call->dec, call->body.data, call->body.len);
		if (flags & DEC_ERROR)
			pstats.parse_errors_json++;
		call_guard_request(call, call->body.data, call->body.len);
		if (call_keep_prompts)
			llm_prompt_extract(&call->prompt, call->dec.provider, call->body.data,
			                   call->body.len);
	}
	buf_reset(&call->body);
}

/* ---- Response ---- */

void exchange_response_headers(struct exchange *x, const struct http_msg *m)
{
	const struct conn_info *ci = conn_info(x->conn);
	x->resp_started = true;
	struct llm_call *call = x->call;
	if (!call || call->finished)
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
		call->sse = sse_new(sse_on_event, x, 0);
		sse_set_other_fn(call->sse, sse_on_other);
	} else if (strstr(m->content_type, "application/x-ndjson") && m->status < 300) {
		call->is_ndjson = true;
	}
}

/* Response body bytes after de-chunking and decompression. */
static void response_bytes(void *ctx, const char *p, size_t n)
{
	struct exchange *x = ctx;
	struct llm_call *call = x->call;
	if (call->finished)
		return;
	if (call->end_read) { /* the rest of a decoded piece, after the terminator */
		pstats.ignored_bytes[IGNORE_AFTER_END] += n;
		return;
	}
	if (call->sse)
		sse_feed(call->sse, p, n);
	else if (call->is_ndjson)
		ndjson_feed(&call->body, p, n, ndjson_on_line, x);
	else
		buf_append(&call->body, p, n);
}

void exchange_response_body(struct exchange *x, const char *p, size_t n)
{
	struct llm_call *call = x->call;
	if (!call)
		return;
	uint64_t ts = conn_info(x->conn)->ts;
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
		response_bytes(x, p, n);
	else
		rc = body_decode(call->encoding, p, n, response_bytes, x);
	/* Ended by what was just read: the call is over now, whatever the rest
	 * of the body does or whoever closes first. Its parsers return first:
	 * finishing frees them. */
	if (call->end_read && !call->finished) {
		settle_response(x);
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
		call_finish(call, CALL_TRUNCATED, ts, why);
	} else if (rc != 0 && !call->finished) {
		char why[96];
		snprintf(why, sizeof(why), "corrupt %s response body", call->content_encoding);
		pstats.parse_errors_body++;
		call_finish(call, CALL_ERROR, ts, why);
	}
}

/* The call's status from what was decoded, at the connection's ts: when
 * the body ended, or when the provider's last event was read. */
static void settle_response(struct exchange *x)
{
	struct llm_call *call = x->call;
	uint64_t ts = conn_info(x->conn)->ts;
	if (call->sse) {
		const struct sse_stats *st = sse_stats(call->sse);
		if (st->cut_bytes)
			call_add_dropped(call, st->cut_bytes);
		llm_decode_finish(&call->dec);
	}
	if (call->body.cut)
		call_add_dropped(call, call->body.cut);
	exchange_window(x, false); /* a stall open at the end ends with it */

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
	} else if ((call->is_sse || call->is_ndjson || call->is_ws) && !call->dec.done) {
		call_finish(call, CALL_TRUNCATED, ts, "stream ended without its terminator");
	} else {
		call_finish(call, CALL_COMPLETED, ts, NULL);
	}
}

void exchange_response_end(struct exchange *x)
{
	struct llm_call *call = x->call;
	if (!call || call->finished)
		return;
	if (call->sse) {
		sse_finish(call->sse);
	} else if (call->is_ndjson) {
		ndjson_finish(&call->body, ndjson_on_line, x);
	} else if (call->body.len || call->http_status >= 400) {
		int flags = llm_decode_response(&call->dec, call->body.data ? call->body.data : "",
		                                call->body.len);
		if (flags & DEC_ERROR && call->dec.malformed)
			pstats.parse_errors_json++;
		call_guard_response(call);
		/* a plain JSON answer's first token arrives with its first byte */
		call_on_chunk(call,
		              call->t_resp_headers ? call->t_resp_headers : conn_info(x->conn)->ts,
		              flags);
	}
	if (!call->finished)
		settle_response(x);
}

void exchange_response_events(struct exchange *x)
{
	x->resp_started = true;
	struct llm_call *call = x->call;
	if (!call || call->finished)
		return;
	call->is_ws = true;
	call->t_resp_headers = conn_info(x->conn)->ts;
}

int exchange_response_event(struct exchange *x, const char *p, size_t n)
{
	struct llm_call *call = x->call;
	if (!call || call->finished)
		return DEC_NONE;
	call->bytes += n;
	int flags = stream_event(x, NULL, p, n);
	if (call->end_read && !call->finished)
		settle_response(x);
	return flags;
}

/* ---- The call's fate and figures ---- */

void exchange_fail(struct exchange *x, int st, const char *why)
{
	if (x->call)
		call_finish(x->call, (enum call_status)st, conn_info(x->conn)->ts, why);
}

void exchange_lost(struct exchange *x, uint64_t n, const char *what)
{
	if (!x->call)
		return;
	char why[128];
	call_add_dropped(x->call, n);
	snprintf(why, sizeof(why), "capture lost %llu bytes (%s)", (unsigned long long)n, what);
	call_finish(x->call, CALL_TRUNCATED, conn_info(x->conn)->ts, why);
}

/* The first lag past the threshold is the call's one backpressure event. */
void exchange_read_sample(struct exchange *x, const struct llmobs_event *ev)
{
	struct llm_call *call = x->call;
	if (!call || call->finished)
		return;
	bp_add_read(&call->bp, ev);
	if (!call->bp_alerted && ev->lag_us >= bp_alert_lag_us) {
		call->bp_alerted = true;
		sink_backpressure(call, ev->lag_us, ev->unread);
	}
}

void exchange_write_blocked(struct exchange *x, uint32_t lag_us)
{
	if (x->call)
		bp_add_write_blocked(&x->call->bp, lag_us);
}

void exchange_window(struct exchange *x, bool stalled)
{
	uint64_t ts = conn_info(x->conn)->ts;
	if (stalled) {
		if (!x->stall_since)
			x->stall_since = ts ? ts : 1;
		return;
	}
	if (!x->stall_since)
		return;
	if (x->call && !x->call->finished)
		bp_add_window_stall(&x->call->bp, ts > x->stall_since ? ts - x->stall_since : 0);
	x->stall_since = 0;
}

void exchange_free(struct exchange *x, const char *why)
{
	if (!x)
		return;
	if (x->call) {
		if (why)
			call_finish(x->call, CALL_ABORTED, conn_info(x->conn)->ts, why);
		call_release(x->call);
	}
	free(x);
}

/* ---- Queues ---- */

void exchange_queue_push(struct exchange_queue *q, struct exchange *x)
{
	x->next = NULL;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	q->n++;
}

struct exchange *exchange_queue_pop(struct exchange_queue *q)
{
	struct exchange *x = q->head;
	if (!x)
		return NULL;
	q->head = x->next;
	if (!q->head)
		q->tail = NULL;
	x->next = NULL;
	q->n--;
	return x;
}

void exchange_queue_free(struct exchange_queue *q, const char *why)
{
	struct exchange *x;
	while ((x = exchange_queue_pop(q)))
		exchange_free(x, why);
}
