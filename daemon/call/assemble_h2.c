/* HTTP/2 pairing: every stream is one exchange, found by its id, any
 * number in flight on one connection. Streams end with END_STREAM, a
 * RST_STREAM, a GOAWAY that leaves them out, a new preface or the
 * connection's end. What an exchange does with its bytes is
 * call/exchange.c's, as for HTTP/1.1. */
#include "call/assemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "call/call.h"
#include "call/exchange.h"
#include "core/buf.h"
#include "core/stats.h"
#include "wire/conn.h"
#include "wire/h2.h"

/* More streams than any client keeps open (servers advertise 100-1000);
 * past it a request is counted, not tracked. */
#define H2_STREAMS_MAX 2048

struct h2_stream {
	uint32_t sid;
	struct exchange *x;   /* NULL when its request headers were not decoded */
	bool headers_unknown; /* counted once as unparsed */
	bool window_closed;   /* the stream's own send window is <= 0 */
	UT_hash_handle hh;
};

struct h2_calls {
	struct h2_stream *streams;
	unsigned n;
	bool window_closed; /* the connection's send window is <= 0 */
};

static struct h2_calls *state(struct conn *c)
{
	return conn_info(c)->ctx;
}

static struct h2_stream *find(struct conn *c, uint32_t sid)
{
	struct h2_stream *st;
	HASH_FIND(hh, state(c)->streams, &sid, sizeof(sid), st);
	return st;
}

static struct h2_stream *add(struct conn *c, uint32_t sid)
{
	struct h2_calls *s = state(c);
	if (s->n >= H2_STREAMS_MAX) {
		pstats.unparsed[UNPARSED_H2_STREAMS]++;
		return NULL;
	}
	struct h2_stream *st = xcalloc(1, sizeof(*st));
	st->sid = sid;
	HASH_ADD(hh, s->streams, sid, sizeof(sid), st);
	s->n++;
	return st;
}

/* The stream is over; a call still in flight ends with why (NULL: it
 * finished). */
static void drop(struct conn *c, struct h2_stream *st, const char *why)
{
	struct h2_calls *s = state(c);
	HASH_DEL(s->streams, st);
	s->n--;
	exchange_free(st->x, why);
	free(st);
}

static void drop_all(struct conn *c, const char *why)
{
	struct h2_stream *st, *tmp;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		drop(c, st, why);
	}
}

static void on_headers(struct conn *c, uint32_t sid, const struct http_msg *m)
{
	struct h2_stream *st = find(c, sid);
	if (m->dir == HTTP_DIR_REQ) {
		if (!strncmp(m->content_type, "application/grpc", 16)) {
			/* a gRPC channel: protobuf messages, not parsed (yet) */
			conn_set_unparsed(c, "grpc",
			                  "gRPC over HTTP/2: its messages are not decoded");
			return;
		}
		if (st) /* a stream id is never reused: the old one is gone */
			drop(c, st, "HTTP/2 stream id reused");
		st = add(c, sid);
		if (st)
			st->x = exchange_new(c, m);
		return;
	}
	if (m->status >= 100 && m->status < 200)
		return; /* interim response: the final one follows */
	if (st && st->x && !st->x->resp_started)
		exchange_response_headers(st->x, m);
}

static void on_body(struct conn *c, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct h2_stream *st = find(c, sid);
	if (!st || !st->x) {
		if (dir == HTTP_DIR_RESP)
			pstats.ignored_bytes[st ? IGNORE_HPACK_STATE : IGNORE_UNMATCHED] += n;
		return;
	}
	if (dir == HTTP_DIR_REQ)
		exchange_request_body(st->x, p, n);
	else if (st->x->resp_started)
		exchange_response_body(st->x, p, n);
	else
		pstats.ignored_bytes[IGNORE_HPACK_STATE] += n; /* its headers were lost */
}

static void on_complete(struct conn *c, enum http_dir dir, uint32_t sid)
{
	struct h2_stream *st = find(c, sid);
	if (!st)
		return;
	if (dir == HTTP_DIR_REQ) {
		if (st->x)
			exchange_request_end(st->x);
		return;
	}
	if (st->x && st->x->resp_started)
		exchange_response_end(st->x);
	else if (st->x)
		exchange_fail(st->x, CALL_TRUNCATED,
		              "HTTP/2 response headers could not be decoded (HPACK state unknown)");
	drop(c, st, NULL);
}

static void on_reset(struct conn *c, enum http_dir dir, uint32_t sid, const char *why)
{
	(void)dir;
	struct h2_stream *st = find(c, sid);
	if (st)
		drop(c, st, why);
}

static void on_goaway(struct conn *c, enum http_dir dir, uint32_t last_sid, const char *why)
{
	(void)dir;
	struct h2_stream *st, *tmp;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		if (st->sid > last_sid)
			drop(c, st, why);
	}
}

static void on_headers_lost(struct conn *c, enum http_dir dir, uint32_t sid, const char *why)
{
	struct h2_stream *st = find(c, sid);
	if (dir == HTTP_DIR_REQ) {
		/* an exchange we cannot name: never a guessed model or path */
		if (st)
			drop(c, st, "HTTP/2 stream id reused");
		st = add(c, sid);
		if (st) {
			st->headers_unknown = true;
			pstats.unparsed[UNPARSED_HPACK_STATE]++;
		}
		return;
	}
	if (st && st->x && !st->x->resp_started) {
		char msg[200];
		snprintf(msg, sizeof(msg), "HTTP/2 response headers lost: %s", why);
		exchange_fail(st->x, CALL_TRUNCATED, msg);
	}
}

/* Framing lost in one direction: every exchange that needs it is gone. */
static void on_error(struct conn *c, enum http_dir dir, const char *reason)
{
	char why[200];
	snprintf(why, sizeof(why), "HTTP/2 framing error: %s", reason);
	struct h2_stream *st, *tmp;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		if (st->x && (dir == HTTP_DIR_RESP || !st->x->req_done))
			exchange_fail(st->x, CALL_ERROR, why);
	}
}

/* Lost bytes may be any stream's: every exchange still using that
 * direction cannot be trusted. */
static void on_lost(struct conn *c, int dir, uint64_t n, const char *what)
{
	struct h2_stream *st, *tmp;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		if (st->x && (dir == LLMOBS_DIR_READ || !st->x->req_done))
			exchange_lost(st->x, n, what);
	}
}

static void on_resync(struct conn *c, int dir)
{
	(void)c;
	(void)dir; /* the framer restarted; streams still in flight go on */
}

/* One socket carries every stream: its state belongs to each response
 * being waited for. */
static void on_read_sample(struct conn *c, const struct llmobs_event *ev)
{
	struct h2_stream *st, *tmp;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		if (st->x && st->x->req_done)
			exchange_read_sample(st->x, ev);
	}
}

/* A blocked write: the newest request still being written, else the
 * newest. */
static void on_write_done(struct conn *c, const struct llmobs_event *ev)
{
	struct h2_stream *st, *tmp, *pick = NULL;
	HASH_ITER(hh, state(c)->streams, st, tmp)
	{
		if (st->x && (!pick || (!st->x->req_done && pick->x->req_done) ||
		              (st->x->req_done == pick->x->req_done && st->sid > pick->sid)))
			pick = st;
	}
	if (pick)
		exchange_write_blocked(pick->x, ev->lag_us);
}

/* A response's sender is stalled while its stream's window or the
 * connection's is closed. */
static void on_window(struct conn *c, uint32_t sid, bool stalled)
{
	struct h2_calls *s = state(c);
	struct h2_stream *st, *tmp;
	if (sid) {
		st = find(c, sid);
		if (!st)
			return;
		st->window_closed = stalled;
		if (st->x)
			exchange_window(st->x, stalled || s->window_closed);
		return;
	}
	s->window_closed = stalled;
	HASH_ITER(hh, s->streams, st, tmp)
	{
		if (st->x && st->x->resp_started)
			exchange_window(st->x, stalled || st->window_closed);
	}
}

static void on_restart(struct conn *c)
{
	drop_all(c, "a new HTTP/2 connection began on the same TLS session");
}

static void *on_open(struct conn *c)
{
	(void)c;
	return xcalloc(1, sizeof(struct h2_calls));
}

static void on_close(struct conn *c, const char *why)
{
	drop_all(c, why);
	free(state(c));
	conn_info(c)->ctx = NULL;
}

const struct conn_ops h2_calls = {
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
    .reset = on_reset,
    .goaway = on_goaway,
    .headers_lost = on_headers_lost,
    .window = on_window,
    .restart = on_restart,
};
