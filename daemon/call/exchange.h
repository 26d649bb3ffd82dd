/* One request and its response, whatever carries them (an HTTP/1.1
 * connection in turn, an HTTP/2 stream): requests that are LLM calls
 * (llm/route.h) get a call record, whose response body goes through
 * Content-Encoding, then SSE or NDJSON framing, then the provider's
 * decoder. Pairing is the protocol's (call/assemble*.c). */
#ifndef LLMOBS_CALL_EXCHANGE_H
#define LLMOBS_CALL_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/conn.h"
#include "wire/http.h"

struct llm_call;

struct exchange {
	struct llm_call *call; /* NULL for requests that are not LLM calls */
	struct conn *conn;
	struct exchange *next; /* in a queue (HTTP/1.1, WebSocket: answered in order) */
	bool req_done;         /* the request's last byte was written */
	bool resp_started;     /* final response headers seen */
	uint64_t stall_since;  /* HTTP/2: the sender's window closed at (0: open) */
};

/* A request's headers, at conn_info(c)->ts: a call when it is an LLM one. */
struct exchange *exchange_new(struct conn *c, const struct http_msg *m);
void exchange_request_body(struct exchange *x, const char *p, size_t n);
void exchange_request_end(struct exchange *x);
/* The final (non-1xx) response headers. */
void exchange_response_headers(struct exchange *x, const struct http_msg *m);
/* Response body bytes as the transport delivers them (before decoding). */
void exchange_response_body(struct exchange *x, const char *p, size_t n);
/* The response body ended. */
void exchange_response_end(struct exchange *x);
/* WebSocket: the response is a run of whole provider events (no headers,
 * no body framing), from now on. */
void exchange_response_events(struct exchange *x);
/* One event of such a response: the decoder's flags (DEC_*); the call has
 * ended when x->call->finished. */
int exchange_response_event(struct exchange *x, const char *p, size_t n);
/* The call cannot be trusted any more, for a reason: status st. */
void exchange_fail(struct exchange *x, int st, const char *why);
/* n bytes of the call were lost by the capture: truncated. */
void exchange_lost(struct exchange *x, uint64_t n, const char *what);
void exchange_read_sample(struct exchange *x, const struct llmobs_event *ev);
void exchange_write_blocked(struct exchange *x, uint32_t lag_us);
/* A flow-control stall of the response's sender began or ended. */
void exchange_window(struct exchange *x, bool stalled);
/* Frees x; a call still in flight ends aborted with why (NULL: just
 * released, as for one that finished). */
void exchange_free(struct exchange *x, const char *why);

/* Exchanges answered in the order they were made: HTTP/1.1's requests on a
 * connection, WebSocket's responses. */
struct exchange_queue {
	struct exchange *head, *tail;
	unsigned n;
};
void exchange_queue_push(struct exchange_queue *q, struct exchange *x);
/* The oldest, taken out; NULL when empty. */
struct exchange *exchange_queue_pop(struct exchange_queue *q);
/* Frees every exchange queued, as exchange_free(x, why). */
void exchange_queue_free(struct exchange_queue *q, const char *why);

#endif
