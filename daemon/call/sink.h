/* The one seam between the call layer and everything that presents calls:
 * the call layer emits what happens to an LLM call, sinks subscribe
 * (main.c registers the Prometheus and live-event sinks; a history store
 * or an exporter is one more registration). Emitted under the pipeline
 * lock, on the thread that feeds the pipeline; a sink must not block. */
#ifndef LLMOBS_CALL_SINK_H
#define LLMOBS_CALL_SINK_H

#include <stdbool.h>
#include <stdint.h>

struct llm_call;
struct guard_hit;

/* Any member may be NULL. */
struct call_sink {
	const char *name;
	void (*start)(const struct llm_call *c); /* the response began */
	void (*chunk)(const struct llm_call *c); /* one stream event decoded */
	void (*end)(const struct llm_call *c);   /* finished, whatever the status */
	void (*dropped)(const struct llm_call *c, uint64_t bytes); /* capture lost bytes */
	/* the read lag first reached the alert threshold (once per call) */
	void (*backpressure)(const struct llm_call *c, uint32_t lag_us, uint32_t unread);
	/* a guardrail rule matched; enforced: the connection was cut, else
	 * error says why a block was not enforced ("" otherwise) */
	void (*guard_hit)(const struct llm_call *c, const struct guard_hit *h, bool enforced,
	                  const char *error);
	void (*guard_scan)(double seconds); /* time of one sampled scan */
};

#define CALL_SINKS_MAX 8

/* Register a sink for the life of the process (s must outlive it); false
 * when CALL_SINKS_MAX are registered already. */
bool call_sink_register(const struct call_sink *s);
void call_sinks_clear(void);

/* Emitters, for the call layer. */
void sink_start(const struct llm_call *c);
void sink_chunk(const struct llm_call *c);
void sink_end(const struct llm_call *c);
void sink_dropped(const struct llm_call *c, uint64_t bytes);
void sink_backpressure(const struct llm_call *c, uint32_t lag_us, uint32_t unread);
void sink_guard_hit(const struct llm_call *c, const struct guard_hit *h, bool enforced,
                    const char *error);
void sink_guard_scan(double seconds);

#endif
