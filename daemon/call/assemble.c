/* HTTP/1.1 pairing: each request a client writes on a connection waits in
 * a FIFO for its response (HTTP/1.1 answers in order). What an exchange
 * does with its bytes is call/exchange.c's; this is the conn_ops table
 * wire/conn.c drives for HTTP/1.1 (HTTP/2 pairs by stream: assemble_h2.c). */
#include "call/assemble.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "call/call.h"
#include "call/exchange.h"
#include "core/buf.h"
#include "core/stats.h"
#include "wire/conn.h"
#include "wire/http.h"

/* A connection's pairing state (conn_info(c)->ctx). */
struct http1 {
	struct exchange *req;       /* request being parsed */
	struct exchange_queue fifo; /* requests awaiting responses */
	struct exchange *resp;      /* response being parsed */
	bool resp_unmatched;        /* current response has no request */
};

static struct http1 *state(struct conn *c)
{
	return conn_info(c)->ctx;
}

/* The oldest request becomes the response's. */
static struct exchange *pop_oldest(struct http1 *s)
{
	struct exchange *x = exchange_queue_pop(&s->fifo);
	if (x && s->req == x)
		s->req = NULL; /* answered before the request finished (e.g. 413) */
	return x;
}

static void on_headers(struct conn *c, uint32_t sid, const struct http_msg *m)
{
	struct http1 *s = state(c);
	(void)sid;
	if (m->dir == HTTP_DIR_REQ) {
		struct exchange *x = exchange_new(c, m);
		s->req = x;
		exchange_queue_push(&s->fifo, x);
		return;
	}
	if (m->status >= 100 && m->status < 200)
		return; /* interim response: the final one follows */
	struct exchange *x = pop_oldest(s);
	if (!x) {
		s->resp_unmatched = true;
		return;
	}
	s->resp = x;
	s->resp_unmatched = false;
	exchange_response_headers(x, m);
}

static void on_body(struct conn *c, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct http1 *s = state(c);
	(void)sid;
	if (dir == HTTP_DIR_REQ) {
		if (s->req)
			exchange_request_body(s->req, p, n);
		return;
	}
	if (s->resp_unmatched) {
		pstats.ignored_bytes[IGNORE_UNMATCHED] += n;
		return;
	}
	if (s->resp)
		exchange_response_body(s->resp, p, n);
}

static void on_complete(struct conn *c, enum http_dir dir, uint32_t sid)
{
	struct http1 *s = state(c);
	(void)sid;
	if (dir == HTTP_DIR_REQ) {
		struct exchange *x = s->req;
		s->req = NULL;
		if (x)
			exchange_request_end(x);
		return;
	}
	if (s->resp_unmatched) {
		s->resp_unmatched = false;
		return;
	}
	struct exchange *x = s->resp;
	s->resp = NULL;
	if (x)
		exchange_response_end(x);
	exchange_free(x, NULL);
}

static void on_error(struct conn *c, enum http_dir dir, const char *reason)
{
	struct http1 *s = state(c);
	/* A response that fails before its headers are complete still answers
	 * the oldest request: the error is that call's, not a later close. */
	if (dir == HTTP_DIR_RESP && !s->resp && !s->resp_unmatched && s->fifo.head)
		s->resp = pop_oldest(s);
	struct exchange *x = dir == HTTP_DIR_REQ ? s->req : s->resp;
	if (x) {
		char why[200];
		snprintf(why, sizeof(why), "HTTP parse error: %s", reason);
		exchange_fail(x, CALL_ERROR, why);
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
	struct http1 *s = state(c);
	struct exchange *x = dir == LLMOBS_DIR_WRITE ? s->req : s->resp;
	if (x)
		exchange_lost(x, n, what);
}

static void on_resync(struct conn *c, int dir)
{
	struct http1 *s = state(c);
	if (dir == LLMOBS_DIR_WRITE) {
		s->req = NULL; /* its exchange stays queued; the response pairs with it */
	} else if (s->resp) {
		exchange_free(s->resp, NULL);
		s->resp = NULL;
	}
}

/* The socket as a read found it belongs to the response being read (or
 * about to be). */
static void on_read_sample(struct conn *c, const struct llmobs_event *ev)
{
	struct http1 *s = state(c);
	struct exchange *x = s->resp ? s->resp : s->fifo.head;
	if (x)
		exchange_read_sample(x, ev);
}

/* A write that blocked: the request being written, or the last written. */
static void on_write_done(struct conn *c, const struct llmobs_event *ev)
{
	struct http1 *s = state(c);
	struct exchange *x = s->req ? s->req : s->fifo.tail;
	if (x)
		exchange_write_blocked(x, ev->lag_us);
}

static void on_close(struct conn *c, const char *why)
{
	struct http1 *s = state(c);
	exchange_free(s->resp, why);
	exchange_queue_free(&s->fifo, why);
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
