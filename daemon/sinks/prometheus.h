/* Bridges pipeline facts to the Prometheus registry (metric names per
 * OpenTelemetry GenAI conventions, plus llmobs_* self-metrics). */
#ifndef LLMOBS_SINKS_PROMETHEUS_H
#define LLMOBS_SINKS_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"

struct llm_call;

void telemetry_init(void);
void telemetry_call_started(const struct llm_call *c);
void telemetry_call_finished(const struct llm_call *c);
void telemetry_dropped_bytes(const struct llm_call *c, uint64_t n);
struct guard_rule;
void telemetry_guardrail_match(const struct guard_rule *r);
void telemetry_guardrail_scan(double seconds);

/* Copies the self-metric rows (stats.h) into the registry, right before
 * rendering. */
void telemetry_sync(const struct stats_view *v);

/* Every family /metrics can serve: the per-call ones here and the rows of
 * stats.h, once each (for the README check). */
struct family_info {
	const char *name, *type;
};
size_t telemetry_families(struct family_info *out, size_t cap);

#endif
