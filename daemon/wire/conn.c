/* Connections: continuity of each direction's byte stream (positions from
 * BPF), HTTP reassembly, and pairing requests with responses into calls. */
#include "wire/conn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "wire/body.h"
#include "call/backpressure.h"
#include "core/buf.h"
#include "call/sink.h"
#include "core/cgroup.h"
#include "core/clock.h"
#include "wire/http.h"
#include "wire/ndjson.h"
#include "call/pipeline.h"
#include "llm/provider.h"
#include "llm/route.h"
#include "wire/sse.h"
#include "call/call.h"

enum conn_role { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_SERVER, ROLE_NOT_HTTP };

/* One request awaiting (or receiving) its response. call is NULL for
 * requests that are not LLM calls: they still take their turn in pairing. */
struct exchange {
	struct llm_call *call;
	struct exchange *next;
};

struct conn_key {
	uint64_t ssl;
	uint32_t tgid;
	uint32_t pad;
};

struct conn {
	struct conn_key key;
	UT_hash_handle hh;
	int fd;
	uint32_t tid;
	char comm[LLMOBS_COMM_LEN];   /* process name */
	char thread[LLMOBS_COMM_LEN]; /* the thread that first used it */
	enum conn_role role;
	bool swap; /* server side of a plaintext connection */
	uint64_t next_pos[2];
	bool broken[2]; /* parser stopped after an error or gap; resync pending */
	struct http_conn *http;
	struct exchange *req;              /* request being parsed */
	struct exchange *fifo, *fifo_tail; /* requests awaiting responses */
	struct exchange *resp;             /* response being parsed */
	bool resp_unmatched;               /* current response has no request */
	uint64_t ts;                       /* time of the record being fed */

	/* A write is copied at SSL_write entry; it is held until we know the
	 * call succeeded (any later record) or failed (WRITE_FAIL). */
	struct buf held;
	uint64_t held_call, held_pos, held_ts;
	bool held_valid;
	struct buf sniffed; /* first bytes, until the role is known */
};

#define SNIFF_MAX 16

static struct conn *conns;
static unsigned n_held; /* connections holding a write (see struct conn) */

static void http_on_headers(void *ctx, const struct http_msg *m);
static void http_on_body(void *ctx, enum http_dir dir, const char *p, size_t n);
static void http_on_complete(void *ctx, enum http_dir dir);
static void http_on_error(void *ctx, enum http_dir dir, const char *reason);
static void settle_response(struct conn *c, struct llm_call *call);

static const struct http_callbacks http_cbs = {
    .on_headers = http_on_headers,
    .on_body = http_on_body,
    .on_complete = http_on_complete,
    .on_error = http_on_error,
};

struct conn *conn_lookup(uint32_t tgid, uint64_t ssl, int create, const struct llmobs_event *ev)
{
	struct conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn *c;
	HASH_FIND(hh, conns, &k, sizeof(k), c);
	if (c || !create)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->key = k;
	c->fd = -1;
	c->swap = (ssl & LLMOBS_PLAIN_CONN) && (ssl & LLMOBS_PLAIN_SERVER);
	c->tid = ev->tid;
	memcpy(c->comm, ev->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	memcpy(c->thread, ev->thread, sizeof(c->thread));
	c->thread[sizeof(c->thread) - 1] = '\0';
	buf_init(&c->held, 0);
	buf_init(&c->sniffed, 0);
	HASH_ADD(hh, conns, key, sizeof(k), c);
	pstats.conns_active++;
	pstats.conns_total++;
	return c;
}

enum sniff { SNIFF_NO = 0, SNIFF_MAYBE, SNIFF_REQUEST, SNIFF_RESPONSE };

/* Does p start an HTTP/1.x request or status line? MAYBE while too short. */
static enum sniff sniff(const char *p, size_t n)
{
	static const char *const starts[] = {"GET ",  "POST ",    "PUT ",    "DELETE ", "PATCH ",
	                                     "HEAD ", "OPTIONS ", "HTTP/1.", NULL};
	bool maybe = false;
	for (int i = 0; starts[i]; i++) {
		size_t m = strlen(starts[i]);
		if (n >= m && !memcmp(p, starts[i], m))
			return starts[i][0] == 'H' && starts[i][1] == 'T' ? SNIFF_RESPONSE
			                                                  : SNIFF_REQUEST;
		if (n < m && !memcmp(p, starts[i], n))
			maybe = true;
	}
	return maybe ? SNIFF_MAYBE : SNIFF_NO;
}

static bool starts_with_method(const char *p, size_t n)
{
	return sniff(p, n) == SNIFF_REQUEST;
}

static bool starts_with_status(const char *p, size_t n)
{
	return sniff(p, n) == SNIFF_RESPONSE;
}

/* Decides from the first payload bytes whether we are the HTTP/1.x client.
 * Returns false while the bytes seen so far could still go either way. */
static bool detect_role(struct conn *c, int dir, const char *p, size_t n)
{
	enum sniff k = sniff(p, n);
	if (k == SNIFF_MAYBE)
		return false;
	if ((dir == LLMOBS_DIR_WRITE && k == SNIFF_REQUEST) ||
	    (dir == LLMOBS_DIR_READ && k == SNIFF_RESPONSE))
		c->role = ROLE_CLIENT;
	else if (k != SNIFF_NO)
		c->role = ROLE_SERVER;
	else
		c->role = ROLE_NOT_HTTP;
	if (c->role == ROLE_CLIENT)
		c->http = http_conn_new(&http_cbs, c);
	return true;
}

static struct llm_call *dir_call(struct conn *c, int dir)
{
	struct exchange *x = dir == LLMOBS_DIR_WRITE ? c->req : c->resp;
	return x ? x->call : NULL;
}

/* Bytes of this direction that we will never see: the call they belonged
 * to cannot be trusted any more. */
static void lose_bytes(struct conn *c, int dir, uint64_t n, const char *what)
{
	pstats.lost_bytes += n;
	struct llm_call *call = dir_call(c, dir);
	if (call) {
		char why[128];
		call_add_dropped(call, n);
		snprintf(why, sizeof(why), "capture lost %llu bytes (%s)", (unsigned long long)n,
		         what);
		call_finish(call, CALL_TRUNCATED, c->ts, why);
	}
	if (c->http)
		c->broken[dir] = true;
}

static void exchange_free(struct exchange *x)
{
	if (x && x->call)
		call_release(x->call);
	free(x);
}

/* After an error or gap, parsing resumes only where a new message starts. */
static bool try_resync(struct conn *c, int dir, const char *p, size_t n)
{
	bool start = dir == LLMOBS_DIR_WRITE ? starts_with_method(p, n) : starts_with_status(p, n);
	if (!start)
		return false;
	if (dir == LLMOBS_DIR_WRITE) {
		c->req = NULL; /* its exchange stays queued; the response pairs with it */
	} else if (c->resp) {
		exchange_free(c->resp);
		c->resp = NULL;
	}
	http_reset_dir(c->http, dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP);
	c->broken[dir] = false;
	return true;
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n);

conn_mute_fn conn_mute_hook;

/* A TLS connection we will never parse (the server side of a local TLS
 * server, or not HTTP/1): ask the capture side to stop copying it. */
static void mute_if_useless(struct conn *c)
{
	if ((c->role != ROLE_SERVER && c->role != ROLE_NOT_HTTP) ||
	    (c->key.ssl & LLMOBS_PLAIN_CONN) || !conn_mute_hook)
		return;
	conn_mute_hook(c->key.tgid, c->key.ssl);
	pstats.conns_muted++;
}

static void feed(struct conn *c, int dir, uint64_t ts, const char *p, size_t n)
{
	c->ts = ts;
	if (c->role == ROLE_UNKNOWN) {
		/* Joined mid-exchange (probes attached while the connection was
		 * in use): reads that do not start a message say nothing about
		 * the connection. Skip them until a write or a message start. */
		if (dir == LLMOBS_DIR_READ && !c->sniffed.len && sniff(p, n) == SNIFF_NO) {
			pstats.ignored_bytes[IGNORE_RESYNC] += n;
			return;
		}
		/* A first write as short as "P" cannot be classified yet: keep
		 * the bytes until it can (any later byte decides). */
		buf_append(&c->sniffed, p, n);
		if (!detect_role(c, dir, c->sniffed.data, c->sniffed.len) &&
		    c->sniffed.len < SNIFF_MAX)
			return;
		if (c->role == ROLE_UNKNOWN)
			c->role = ROLE_NOT_HTTP;
		mute_if_useless(c);
		feed_decided(c, dir, c->sniffed.data, c->sniffed.len);
		buf_free(&c->sniffed);
		return;
	}
	feed_decided(c, dir, p, n);
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n)
{
	if (c->role == ROLE_NOT_HTTP) {
		pstats.ignored_bytes[IGNORE_NOT_HTTP] += n;
		return;
	}
	if (c->role == ROLE_SERVER) {
		pstats.ignored_bytes[IGNORE_SERVER_SIDE] += n;
		return;
	}
	if (c->broken[dir] && !try_resync(c, dir, p, n)) {
		pstats.ignored_bytes[IGNORE_RESYNC] += n;
		return;
	}
	http_feed(c->http, dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP, p, n);
}

static void flush_held(struct conn *c)
{
	if (!c->held_valid)
		return;
	c->held_valid = false;
	n_held--;
	feed(c, LLMOBS_DIR_WRITE, c->held_ts, c->held.data, c->held.len);
	buf_reset(&c->held);
}

/* Checks the record against the expected position; returns the number of
 * leading payload bytes to skip (already seen), or -1 to drop it whole. */
static long continuity(struct conn *c, const struct llmobs_event *ev)
{
	int dir = ev->dir, side = c->swap ? !dir : dir;
	uint64_t expect = c->next_pos[dir];
	uint64_t piece = ev->orig_len - ev->offset;
	if (piece > LLMOBS_MAX_DATA)
		piece = LLMOBS_MAX_DATA;
	uint64_t end = ev->pos + piece;
	long skip = 0;

	if (ev->pos > expect) {
		pstats.gaps++;
		c->ts = ev->ts_ns;
		lose_bytes(c, side, ev->pos - expect, "ring buffer drop");
	} else if (end <= expect && piece) {
		pstats.duplicate_bytes += ev->len;
		return -1;
	} else if (ev->pos < expect) {
		skip = (long)(expect - ev->pos);
		pstats.duplicate_bytes += (uint64_t)skip;
	}
	c->next_pos[dir] = end;
	if (ev->len < piece) /* the kernel could not read the user buffer */
		lose_bytes(c, side, piece - ev->len, "unreadable user memory");
	/* The last piece BPF copies; the rest of a huge call never arrives. */
	uint64_t cap = (uint64_t)LLMOBS_MAX_DATA * LLMOBS_MAX_SEGMENTS;
	if (ev->offset + piece == cap && ev->orig_len > cap) {
		lose_bytes(c, side, ev->orig_len - cap, "call larger than the copy limit");
		c->next_pos[dir] = ev->pos + piece + (ev->orig_len - cap);
	}
	return skip < (long)ev->len ? skip : -1;
}

void conn_data(struct conn *c, const struct llmobs_event *ev, const char *data)
{
	if (ev->fd >= 0)
		c->fd = ev->fd;
	/* the thread writing the request is the one the call belongs to */
	if (ev->dir == LLMOBS_DIR_WRITE && ev->thread[0]) {
		c->tid = ev->tid;
		memcpy(c->thread, ev->thread, sizeof(c->thread));
		c->thread[sizeof(c->thread) - 1] = '\0';
	}
	if (c->held_valid && !(ev->dir == LLMOBS_DIR_WRITE && ev->call_id == c->held_call))
		flush_held(c);
	long skip = continuity(c, ev);
	if (skip < 0)
		return;
	const char *p = data + skip;
	size_t n = ev->len - (size_t)skip;
	/* Plaintext is copied once the syscall moved it: nothing to hold. The
	 * server side of a plaintext connection reads requests and writes
	 * responses: its directions swap. */
	if (c->key.ssl & LLMOBS_PLAIN_CONN) {
		feed(c, c->swap ? !ev->dir : ev->dir, ev->ts_ns, p, n);
		return;
	}
	if (ev->dir == LLMOBS_DIR_WRITE) {
		if (!c->held_valid) {
			c->held_valid = true;
			n_held++;
			c->held_call = ev->call_id;
			c->held_pos = ev->pos + (uint64_t)skip;
			c->held_ts = ev->ts_ns;
		}
		buf_append(&c->held, p, n);
		return;
	}
	/* the socket as this read found it belongs to the response being read
	 * (or about to be) */
	struct exchange *x = c->resp ? c->resp : c->fifo;
	if (ev->bp_valid && ev->offset == 0 && x && x->call && !x->call->finished) {
		bp_add_read(&x->call->bp, ev);
		if (!x->call->bp_alerted && ev->lag_us >= bp_alert_lag_us) {
			x->call->bp_alerted = true; /* one event per call */
			sink_backpressure(x->call, ev->lag_us, ev->unread);
		}
	}
	feed(c, ev->dir, ev->ts_ns, p, n);
}

void conn_write_done(struct conn *c, const struct llmobs_event *ev)
{
	/* the write succeeded: what it held can be parsed now */
	if (c->held_valid && c->held_call == ev->call_id)
		flush_held(c);
	/* the request being written, or the last one written */
	struct exchange *x = c->req ? c->req : c->fifo_tail;
	if (x && x->call)
		bp_add_write_blocked(&x->call->bp, ev->lag_us);
}

void conn_write_failed(struct conn *c, const struct llmobs_event *ev)
{
	if (!c->held_valid || c->held_call != ev->call_id)
		return;
	/* BPF rolled its position back; the app will write these bytes again. */
	pstats.write_retry_bytes += c->held.len;
	c->next_pos[LLMOBS_DIR_WRITE] = c->held_pos;
	c->held_valid = false;
	n_held--;
	buf_reset(&c->held);
}

void conn_flush_held(uint64_t now, uint64_t older_than_ns)
{
	struct conn *c, *tmp;
	if (!n_held) /* the usual case: runs after every ring-buffer batch */
		return;
	HASH_ITER(hh, conns, c, tmp)
	{
		if (c->held_valid && now > c->held_ts && now - c->held_ts > older_than_ns)
			flush_held(c);
	}
}

static void exchange_abort(struct exchange *x, uint64_t ts, const char *why)
{
	if (x && x->call)
		call_finish(x->call, CALL_ABORTED, ts, why);
	exchange_free(x);
}

void conn_close(struct conn *c, uint64_t ts, const char *why)
{
	flush_held(c);
	c->ts = ts;
	if (c->http && !c->broken[LLMOBS_DIR_READ])
		http_eof(c->http, HTTP_DIR_RESP); /* ends read-until-close bodies */
	if (c->resp)
		exchange_abort(c->resp, ts, why);
	while (c->fifo) {
		struct exchange *x = c->fifo;
		c->fifo = x->next;
		exchange_abort(x, ts, why);
	}
	if (c->http)
		http_conn_free(c->http);
	buf_free(&c->held);
	buf_free(&c->sniffed);
	HASH_DEL(conns, c);
	free(c);
	pstats.conns_active--;
}

void conn_close_process(uint32_t tgid, uint64_t ts)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		if (c->key.tgid == tgid)
			conn_close(c, ts, "process exited before the response completed");
	}
	peer_forget_process(tgid);
	cgroup_forget(tgid);
}

void conn_free_all(void)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		conn_close(c, c->ts, "daemon stopped");
	}
}

/* ---- HTTP callbacks: c->ts is the time of the record being parsed ---- */

static void sse_on_event(void *ctx, const struct sse_event *ev)
{
	struct conn *c = ctx;
	struct llm_call *call = dir_call(c, LLMOBS_DIR_READ);
	if (!call)
		return;
	if (call->end_read) { /* more events in the piece that held the terminator */
		pstats.ignored_bytes[IGNORE_AFTER_END] += ev->data_len;
		return;
	}
	if (c->fd >= 0)
		call->fd = c->fd; /* learnt by now: a guardrail block needs it */
	int flags = llm_decode_event(&call->dec, ev->type, ev->data, ev->data_len);
	if ((flags & DEC_ERROR) && call->dec.malformed)
		pstats.parse_errors_json++;
	if (flags & DEC_CONTENT)
		guardrail_response(call);
	if (flags & (DEC_DONE | DEC_END))
		call->end_read = true;
	if (flags == DEC_DONE)
		return; /* the terminator is not a chunk */
	call_on_chunk(call, c->ts, flags);
	sink_chunk(call);
}

static void sse_on_other(void *ctx, const char *line, size_t n)
{
	struct llm_call *call = dir_call(ctx, LLMOBS_DIR_READ);
	if (call)
		llm_decode_other_line(&call->dec, line, n);
}

/* One NDJSON line (Ollama): an event like an SSE data payload. */
static void ndjson_line(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	struct llm_call *call = dir_call(c, LLMOBS_DIR_READ);
	if (!call)
		return;
	if (call->end_read) {
		pstats.ignored_bytes[IGNORE_AFTER_END] += n;
		return;
	}
	if (c->fd >= 0)
		call->fd = c->fd;
	int flags = llm_decode_event(&call->dec, NULL, p, n);
	if ((flags & DEC_ERROR) && call->dec.malformed)
		pstats.parse_errors_json++;
	if (flags & DEC_CONTENT)
		guardrail_response(call);
	if (flags & (DEC_DONE | DEC_END))
		call->end_read = true;
	call_on_chunk(call, c->ts, flags);
	sink_chunk(call);
}

static void on_request_headers(struct conn *c, const struct http_msg *m)
{
	struct exchange *x = xcalloc(1, sizeof(*x));
	struct route r;
	route_match(m, &r);
	if (r.api != PROVIDER_UNKNOWN) {
		struct llm_call *call = call_new(c->key.tgid, c->tid, c->comm, c->thread);
		llm_decode_init(&call->dec, r.api);
		snprintf(call->dec.provider_override, sizeof(call->dec.provider_override), "%s",
		         r.provider);
		snprintf(call->dec.model, sizeof(call->dec.model), "%s", r.model);
		snprintf(call->endpoint, sizeof(call->endpoint), "%s", r.endpoint);
		snprintf(call->host, sizeof(call->host), "%s", m->host);
		const char *peer = peer_lookup(c->key.tgid, c->fd);
		if (peer)
			snprintf(call->peer, sizeof(call->peer), "%s", peer);
		const struct cgroup_attr *cg = cgroup_of(c->key.tgid);
		if (cg) {
			snprintf(call->cgroup, sizeof(call->cgroup), "%s", cg->path);
			snprintf(call->container_id, sizeof(call->container_id), "%s",
			         cg->container_id);
		}
		call->t_req_first = c->ts;
		call->server_side = c->swap;
		call->fd = c->fd;
		x->call = call;
		pstats.calls_total++;
		sink_start(call);
	}
	c->req = x;
	if (c->fifo_tail)
		c->fifo_tail->next = x;
	else
		c->fifo = x;
	c->fifo_tail = x;
}

static void on_response_headers(struct conn *c, const struct http_msg *m)
{
	if (m->status >= 100 && m->status < 200)
		return; /* interim response: the final one follows */
	struct exchange *x = c->fifo;
	if (!x) {
		c->resp_unmatched = true;
		return;
	}
	c->fifo = x->next;
	if (!c->fifo)
		c->fifo_tail = NULL;
	x->next = NULL;
	if (c->req == x)
		c->req = NULL; /* answered before the request finished (e.g. 413) */
	c->resp = x;
	c->resp_unmatched = false;
	struct llm_call *call = x->call;
	if (!call)
		return;
	call->http_status = m->status;
	call->t_resp_headers = c->ts;
	if (!call->peer[0]) { /* the fd is often learnt only on the first read */
		const char *peer = peer_lookup(c->key.tgid, c->fd);
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

static void http_on_headers(void *ctx, const struct http_msg *m)
{
	struct conn *c = ctx;
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
		ndjson_feed(&call->body, p, n, ndjson_line, c);
	else
		buf_append(&call->body, p, n);
}

static void http_on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct conn *c = ctx;
	if (dir == HTTP_DIR_REQ) {
		struct llm_call *call = c->req ? c->req->call : NULL;
		if (call) {
			call->req_bytes += n;
			buf_append(&call->body, p, n);
		}
		return;
	}
	if (c->resp_unmatched) {
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
		call_finish(call, CALL_TRUNCATED, c->ts, why);
	} else if (rc != 0 && !call->finished) {
		char why[96];
		snprintf(why, sizeof(why), "corrupt %s response body", call->content_encoding);
		pstats.parse_errors_body++;
		call_finish(call, CALL_ERROR, c->ts, why);
	}
}

/* The call's status from what was decoded, at c->ts: when the body ended,
 * or when the provider's last event was read. */
static void settle_response(struct conn *c, struct llm_call *call)
{
	uint64_t ts = c->ts;
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
		ndjson_finish(&call->body, ndjson_line, c);
	} else if (call->body.len || call->http_status >= 400) {
		int flags = llm_decode_response(&call->dec, call->body.data ? call->body.data : "",
		                                call->body.len);
		if (flags & DEC_ERROR && call->dec.malformed)
			pstats.parse_errors_json++;
		guardrail_response(call);
		/* a plain JSON answer's first token arrives with its first byte */
		call_on_chunk(call, call->t_resp_headers ? call->t_resp_headers : c->ts, flags);
	}
	settle_response(c, call);
}

static void http_on_complete(void *ctx, enum http_dir dir)
{
	struct conn *c = ctx;
	if (dir == HTTP_DIR_REQ) {
		struct exchange *x = c->req;
		c->req = NULL;
		if (!x || !x->call)
			return;
		struct llm_call *call = x->call;
		call->t_req_last = c->ts;
		if (call->body.len) {
			int flags = llm_decode_request(&call->dec, call->body.data, call->body.len);
			if (flags & DEC_ERROR)
				pstats.parse_errors_json++;
			guardrail_request(call, call->body.data, call->body.len);
		}
		buf_reset(&call->body);
		return;
	}
	if (c->resp_unmatched) {
		c->resp_unmatched = false;
		return;
	}
	struct exchange *x = c->resp;
	c->resp = NULL;
	if (x && x->call && !x->call->finished)
		finish_response(c, x->call);
	exchange_free(x);
}

static void http_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	int d = dir == HTTP_DIR_REQ ? LLMOBS_DIR_WRITE : LLMOBS_DIR_READ;
	pstats.parse_errors_http++;
	c->broken[d] = true;
	/* A response that fails before its headers are complete still answers
	 * the oldest request: the error is that call's, not a later close. */
	if (d == LLMOBS_DIR_READ && !c->resp && !c->resp_unmatched && c->fifo) {
		struct exchange *x = c->fifo;
		c->fifo = x->next;
		if (!c->fifo)
			c->fifo_tail = NULL;
		x->next = NULL;
		if (c->req == x)
			c->req = NULL;
		c->resp = x;
	}
	struct llm_call *call = dir_call(c, d);
	if (call) {
		char why[200];
		snprintf(why, sizeof(why), "HTTP parse error: %s", reason);
		call_finish(call, CALL_ERROR, c->ts, why);
	}
}
