/* WebSocket pairing: OpenAI's Responses API and Realtime API over one
 * long-lived connection. A client message "response.create" starts one
 * exchange (one call, its request the message); the server's events, one
 * JSON per message, go to the provider's decoder until the response's
 * terminator (response.completed / .incomplete / .failed, response.done).
 * One response at a time: events belong to the oldest exchange still open.
 * A Realtime server may start a response itself (voice activity
 * detection): response.created with no create waiting starts one too.
 * What an exchange does with its events is call/exchange.c's. */
#include "call/assemble.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/call.h"
#include "call/exchange.h"
#include "core/buf.h"
#include "core/stats.h"
#include "wire/conn.h"

/* More creates than any client queues; past it one is counted, not kept. */
#define WS_PENDING_MAX 64

struct ws_calls {
	struct exchange_queue q; /* its head: the response being streamed */
	char session_model[128]; /* Realtime: session.created / session.updated */
};

static struct ws_calls *state(struct conn *c)
{
	return conn_info(c)->ctx;
}

static void drop_all(struct conn *c, const char *why)
{
	exchange_queue_free(&state(c)->q, why);
}

/* The "type" of a whole JSON message, parsed (only for the few messages
 * outside a response, and for creates). */
static cJSON *typed(const char *p, size_t n, const char **type)
{
	cJSON *j = cJSON_ParseWithLength(p, n);
	*type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "type"));
	if (!*type)
		*type = "";
	return j;
}

/* The request a response belongs to: the upgrade's path and host, as a
 * POST would route. Joined mid-way the path is unknown: the message's
 * shape names the API (Realtime nests its parameters in "response"), and
 * the call's endpoint stays null. */
static struct exchange *open_exchange(struct conn *c, bool realtime_shape)
{
	struct ws_calls *s = state(c);
	const struct http_msg *up = conn_info(c)->upgrade;
	struct http_msg m = {.dir = HTTP_DIR_REQ, .content_length = -1};
	if (up)
		m = *up;
	else
		snprintf(m.path, sizeof(m.path), "%s",
		         realtime_shape ? "/v1/realtime" : "/v1/responses");
	snprintf(m.method, sizeof(m.method), "POST");
	if (s->q.n >= WS_PENDING_MAX) {
		pstats.unparsed[UNPARSED_WS_MESSAGE]++;
		return NULL;
	}
	struct exchange *x = exchange_new(c, &m);
	if (x->call && !up)
		x->call->endpoint[0] = '\0';
	exchange_queue_push(&s->q, x);
	return x;
}

/* A Realtime call's model: the session's, unless its request named one. */
static void session_model(struct ws_calls *s, struct exchange *x)
{
	if (x->call && !x->call->dec.model[0] && s->session_model[0])
		snprintf(x->call->dec.model, sizeof(x->call->dec.model), "%s", s->session_model);
}

static void client_message(struct conn *c, const char *p, size_t n)
{
	/* audio appends and the like never hold the name (base64 has no '.') */
	if (!memmem(p, n, "response.create", 15))
		return;
	const char *type;
	cJSON *j = typed(p, n, &type);
	bool create = !strcmp(type, "response.create");
	bool realtime = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "response"));
	cJSON_Delete(j);
	if (!create)
		return;
	struct exchange *x = open_exchange(c, realtime);
	if (!x)
		return;
	exchange_request_body(x, p, n);
	exchange_request_end(x);
	session_model(state(c), x);
}

/* Realtime: session.created / session.updated name the session's model.
 * Short, and they say so in their first bytes: only those are parsed. */
static void note_session(struct ws_calls *s, const char *p, size_t n)
{
	if (!memmem(p, n < 96 ? n : 96, "\"session.", 9))
		return;
	const char *type;
	cJSON *j = typed(p, n, &type);
	if (!strcmp(type, "session.created") || !strcmp(type, "session.updated")) {
		const cJSON *session = cJSON_GetObjectItemCaseSensitive(j, "session");
		const char *model =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(session, "model"));
		if (model)
			snprintf(s->session_model, sizeof(s->session_model), "%s", model);
	}
	cJSON_Delete(j);
}

/* A message outside any response: a response the server started on its
 * own (response.created with no create waiting), or nothing of a call. */
static struct exchange *between_responses(struct conn *c, const char *p, size_t n)
{
	const char *type;
	cJSON *j = typed(p, n, &type);
	struct exchange *x = NULL;
	if (!strcmp(type, "response.created")) {
		x = open_exchange(c, true);
		if (x) {
			exchange_request_end(x); /* no request: TTFT from here */
			session_model(state(c), x);
		}
	}
	cJSON_Delete(j);
	if (!x)
		pstats.ignored_bytes[IGNORE_WS_UNMATCHED] += n;
	return x;
}

static void server_message(struct conn *c, const char *p, size_t n)
{
	struct ws_calls *s = state(c);
	note_session(s, p, n);
	struct exchange *x = s->q.head ? s->q.head : between_responses(c, p, n);
	if (!x)
		return;
	if (!x->resp_started)
		exchange_response_events(x);
	int flags = exchange_response_event(x, p, n);
	struct llm_call *call = x->call;
	/* an error before the response began (a bad create, a limit): no
	 * response follows it */
	if (call && !call->finished && (flags & DEC_ERROR) && call->dec.events == 1)
		exchange_fail(x, CALL_ERROR,
		              call->dec.error[0] ? call->dec.error : "provider error");
	if (!call || call->finished)
		exchange_free(exchange_queue_pop(&s->q), NULL);
}

static void on_message(struct conn *c, enum http_dir dir, bool text, const char *p, size_t n)
{
	if (!text) { /* the APIs speak JSON text; binary frames carry nothing of a call */
		if (dir == HTTP_DIR_RESP)
			pstats.ignored_bytes[IGNORE_WS_UNMATCHED] += n;
		return;
	}
	if (dir == HTTP_DIR_REQ)
		client_message(c, p, n);
	else
		server_message(c, p, n);
}

static void on_message_lost(struct conn *c, enum http_dir dir, const char *why, uint64_t bytes)
{
	struct ws_calls *s = state(c);
	if (dir == HTTP_DIR_REQ) {
		pstats.unparsed[UNPARSED_WS_MESSAGE]++; /* perhaps a create: counted */
		return;
	}
	if (s->q.head)
		exchange_lost(s->q.head, bytes, why);
}

static void on_closing(struct conn *c, enum http_dir dir, const char *why)
{
	(void)dir;
	drop_all(c, why);
}

/* Framing lost: the response being read cannot be trusted. */
static void on_error(struct conn *c, enum http_dir dir, const char *reason)
{
	struct ws_calls *s = state(c);
	if (dir != HTTP_DIR_RESP || !s->q.head)
		return;
	char why[200];
	snprintf(why, sizeof(why), "WebSocket framing error: %s", reason);
	exchange_fail(s->q.head, CALL_ERROR, why);
}

static void on_lost(struct conn *c, int dir, uint64_t n, const char *what)
{
	struct ws_calls *s = state(c);
	if (dir == LLMOBS_DIR_READ && s->q.head)
		exchange_lost(s->q.head, n, what);
}

static void on_resync(struct conn *c, int dir)
{
	(void)c, (void)dir; /* the framer restarted; the session goes on */
}

static void on_read_sample(struct conn *c, const struct llmobs_event *ev)
{
	struct ws_calls *s = state(c);
	if (s->q.head)
		exchange_read_sample(s->q.head, ev);
}

static void on_write_done(struct conn *c, const struct llmobs_event *ev)
{
	struct ws_calls *s = state(c);
	if (s->q.tail)
		exchange_write_blocked(s->q.tail, ev->lag_us);
}

static void *on_open(struct conn *c)
{
	(void)c;
	return xcalloc(1, sizeof(struct ws_calls));
}

static void on_close(struct conn *c, const char *why)
{
	drop_all(c, why);
	free(state(c));
	conn_info(c)->ctx = NULL;
}

const struct conn_ops ws_calls = {
    .open = on_open,
    .error = on_error,
    .lost = on_lost,
    .resync = on_resync,
    .read_sample = on_read_sample,
    .write_done = on_write_done,
    .close = on_close,
    .message = on_message,
    .message_lost = on_message_lost,
    .closing = on_closing,
};
