/* The Prometheus sink: call events into the registry (metrics.h) (metric names per
 * OpenTelemetry GenAI conventions, plus llmobs_* self-metrics). */
#ifndef LLMOBS_SINKS_PROMETHEUS_H
#define LLMOBS_SINKS_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#include "call/sink.h"
#include "core/stats.h"

/* Registers the families (and resets them: tests start from zero). */
void prometheus_init(void);
/* Per-call figures: main.c registers this with call_sink_register(). */
extern const struct call_sink prometheus_sink;

/* Copies the self-metric rows (stats.h) into the registry, right before
 * rendering. */
void prometheus_sync(const struct stats_view *v);

/* Every family /metrics can serve: the per-call ones here and the rows of
 * stats.h, once each (for the README check). */
struct family_info {
	const char *name, *type;
};
size_t prometheus_families(struct family_info *out, size_t cap);

#endif
