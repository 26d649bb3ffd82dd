/* Bridges pipeline facts to the Prometheus registry (metric names per
 * OpenTelemetry GenAI conventions, plus llmobs_* self-metrics). */
#ifndef LLMOBS_TELEMETRY_H
#define LLMOBS_TELEMETRY_H

#include <stdint.h>

struct llm_call;

void telemetry_init(void);
void telemetry_call_started(const struct llm_call *c);
void telemetry_call_finished(const struct llm_call *c);
void telemetry_dropped_bytes(const struct llm_call *c, uint64_t n);
struct guard_rule;
void telemetry_guardrail_match(const struct guard_rule *r);
void telemetry_guardrail_scan(double seconds);

/* Capture-side counters read from BPF maps by the loader. */
struct capture_stats {
	uint64_t events, rb_drops, rb_drop_bytes, trunc_bytes, read_faults, hits;
	uint64_t muted_calls;      /* SSL calls on connections muted as useless */
	uint64_t ringbuf_bytes;    /* ring size */
	uint64_t ringbuf_used;     /* bytes waiting to be consumed, now */
	uint64_t ringbuf_used_max; /* the most seen before a drain */
	/* capture -> API delay of data records (bucketed: <= 25% high) */
	uint64_t delay_samples, delay_p50_us, delay_p99_us, delay_max_us;
	unsigned probes_attached; /* uprobes + uretprobes */
	unsigned probe_files[2];  /* probed files: libraries, executables */
	uint64_t attach_errors;
};
/* Copies pipeline and capture counters into the registry; call under the
 * pipeline lock right before rendering. */
void telemetry_sync(const struct capture_stats *cs);

#endif
