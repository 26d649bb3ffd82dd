/* What the pipeline tells live followers (GET /api/v1/events): the event
 * vocabulary and payloads. Each call is a no-op when nobody follows. */
#ifndef LLMOBS_SINKS_LIVE_H
#define LLMOBS_SINKS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call/sink.h"

struct llm_call;

/* The vocabulary, in one table (the README and ?types= are checked
 * against it). events_lost is raised by the event ring itself. */
enum live_type {
	LIVE_STREAM_START,
	LIVE_CHUNK,
	LIVE_STREAM_END,
	LIVE_STREAM_ERROR,
	LIVE_BACKPRESSURE,
	LIVE_GUARDRAIL_CHECK,
	LIVE_GUARDRAIL_MODIFY,
	LIVE_GUARDRAIL_BLOCK,
	LIVE_BUFFER_FULL,
	LIVE_EVENTS_LOST,
	LIVE__N,
};
extern const char *const live_event_names[LIVE__N];
/* Is name one of live_event_names? */
bool live_event_known(const char *name, size_t n);

/* stream_start, chunk, stream_end or stream_error, backpressure, and
 * guardrail_check (alert), guardrail_modify (redact), guardrail_block:
 * main.c registers this with call_sink_register(). */
extern const struct call_sink live_sink;

/* The ring buffer rejected records since the last report. */
void live_buffer_full(uint64_t events, uint64_t bytes, uint64_t total_events);

#endif
