/* Incremental Server-Sent Events parser (WHATWG HTML "event stream
 * interpretation"). Feed it response body bytes split anywhere; it calls
 * back once per dispatched event. Knows nothing of providers or [DONE]. */
#ifndef LLMOBS_WIRE_SSE_H
#define LLMOBS_WIRE_SSE_H

#include <stddef.h>
#include <stdint.h>

struct sse_event {
	const char *type; /* "message" when no event: field was given */
	const char *data; /* data buffer, trailing LF removed, NUL-terminated */
	size_t data_len;
	const char *id; /* last event ID (may be "") */
};

typedef void (*sse_event_fn)(void *ctx, const struct sse_event *ev);

struct sse_stats {
	uint64_t events;   /* dispatched */
	uint64_t comments; /* lines starting with ':' */
	uint64_t lines;
	uint64_t bytes;              /* fed */
	uint64_t cut_bytes;          /* dropped because a line/event exceeded max */
	uint64_t unterminated_bytes; /* pending at sse_finish (discarded per spec) */
	uint64_t invalid_utf8;       /* byte sequences replaced with U+FFFD */
};

struct sse_parser;

/* max_event_bytes bounds the data buffer and any single line (0 = 1 MiB). */
struct sse_parser *sse_new(sse_event_fn fn, void *ctx, size_t max_event_bytes);
void sse_free(struct sse_parser *p);
void sse_feed(struct sse_parser *p, const char *buf, size_t len);
/* Lines that are neither comments nor known fields (ignored by the spec)
 * can be seen by the caller, e.g. errors a server writes outside events. */
typedef void (*sse_line_fn)(void *ctx, const char *line, size_t len);
void sse_set_other_fn(struct sse_parser *p, sse_line_fn fn);
/* End of stream: an incomplete event is discarded (counted), per spec. */
void sse_finish(struct sse_parser *p);
const struct sse_stats *sse_stats(const struct sse_parser *p);
/* Retry time from the last valid retry: field, or -1. */
int64_t sse_retry_ms(const struct sse_parser *p);

#endif
