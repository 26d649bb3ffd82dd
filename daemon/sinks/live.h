/* What the pipeline tells live followers (GET /api/v1/events): the event
 * vocabulary and payloads. Each call is a no-op when nobody follows. */
#ifndef LLMOBS_SINKS_LIVE_H
#define LLMOBS_SINKS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Read lag that raises a "backpressure" event (once per call). */
extern uint32_t live_backpressure_lag_us;

void live_stream_start(const struct llm_call *c);
void live_stream_end(const struct llm_call *c); /* stream_end or stream_error */
void live_chunk(const struct llm_call *c);
/* After a read sample; raises "backpressure" the first time the call's
 * read lag reaches the threshold. */
void live_backpressure(struct llm_call *c, uint32_t lag_us, uint32_t unread);
/* The ring buffer rejected records since the last report. */
struct guard_hit;
/* guardrail_check (alert), guardrail_modify (redact), guardrail_block. */
void live_guardrail(const struct llm_call *c, const struct guard_hit *h, bool enforced,
                    const char *error);
void live_buffer_full(uint64_t events, uint64_t bytes, uint64_t total_events);

#endif
