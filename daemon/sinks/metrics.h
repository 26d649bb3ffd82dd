/* A small thread-safe Prometheus registry: counters, gauges and histograms
 * with labels, rendered in text exposition format 0.0.4. Updates come from
 * the capture thread, rendering from HTTP threads; one mutex guards all. */
#ifndef LLMOBS_SINKS_METRICS_H
#define LLMOBS_SINKS_METRICS_H

#include <stddef.h>

#include "core/buf.h"

/* Series per family before new label sets fold into labels "other". */
#define METRIC_MAX_SERIES 500

struct metric;

/* labels: NULL-terminated label names, or NULL. Invalid or duplicate names
 * are programming errors: they abort. */
struct metric *metric_counter(const char *name, const char *help, const char *const *labels);
struct metric *metric_gauge(const char *name, const char *help, const char *const *labels);
struct metric *metric_histogram(const char *name, const char *help, const char *const *labels,
                                const double *bounds, size_t nbounds);
/* values: one per label name (NULL for a label-less family). */
void metric_add(struct metric *m, const char *const *values, double v);
void metric_set(struct metric *m, const char *const *values, double v);
void metric_observe(struct metric *m, const char *const *values, double v);
void metrics_render(struct buf *out);
void metrics_reset(void);

/* OpenTelemetry GenAI bucket advice. */
extern const double METRIC_BUCKETS_DURATION[];
extern const size_t METRIC_NBUCKETS_DURATION;
extern const double METRIC_BUCKETS_TTFT[];
extern const size_t METRIC_NBUCKETS_TTFT;
extern const double METRIC_BUCKETS_TPOT[];
extern const size_t METRIC_NBUCKETS_TPOT;
extern const double METRIC_BUCKETS_TOKENS[];
extern const size_t METRIC_NBUCKETS_TOKENS;

#endif
