/* Windowed aggregates of finished calls: 1-minute tumbling windows (by the
 * call's start, as /api/v1/calls' since/until), rolled up to 1 hour, per
 * (provider, model, operation, endpoint, comm, container, tenant). Counts
 * and sums add; percentiles come from log-linear histograms (core/loghist.h)
 * that merge bucket by bucket, so a rollup or any regrouping is exact to
 * bucket precision. Pure functions over caller-owned structs: the store
 * (sinks/store.h) keeps the windows, the API regroups them. */
#ifndef LLMOBS_SINKS_WINDOW_H
#define LLMOBS_SINKS_WINDOW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loghist.h"

#define WINDOW_MINUTE_MS 60000
#define WINDOW_HOUR_MS   3600000

struct window_key {
	char provider[32], model[128], operation[32], endpoint[128], comm[16], container[65],
	    tenant[64];
};

/* The key's fields, by name (group_by, filters, JSON, columns). */
enum window_field {
	WF_PROVIDER,
	WF_MODEL,
	WF_OPERATION,
	WF_ENDPOINT,
	WF_COMM,
	WF_CONTAINER,
	WF_TENANT,
	WF_N
};
extern const char *const window_field_names[WF_N];
const char *window_key_field(const struct window_key *k, enum window_field f);
char *window_key_field_mut(struct window_key *k, enum window_field f, size_t *cap);
/* "provider" .. "tenant" (and "route" for endpoint, "tenant_id" for
 * tenant); -1 when unknown */
int window_field_parse(const char *name);

/* Counters and sums of a window (columns of the store's windows table). */
enum window_count {
	WC_REQUESTS,
	WC_ERRORS,
	WC_ERR_ERROR, /* errors by type: the call's status */
	WC_ERR_TRUNCATED,
	WC_ERR_ABORTED,
	WC_ERR_BLOCKED,
	WC_TOK_INPUT, /* tokens, as normalised (input includes cache reads/writes) */
	WC_TOK_OUTPUT,
	WC_TOK_CACHED,
	WC_TOK_CACHE_WRITE,
	WC_TOK_REASONING,
	WC_WITH_USAGE, /* calls that reported usage: the token averages' divisor */
	WC_PRICED,
	WC_UNPRICED,
	WC_DUR_SUM_US, /* the mean duration's sum and count */
	WC_DUR_N,
	WC_BP_CALLS, /* calls whose socket reads were sampled (backpressure) */
	WC_BP_ZERO_WINDOW,
	WC_BP_RCVQ_FULL,
	WC_BP_H2_STALLS,
	WC_GUARD_MATCHES, /* guardrail matches, every rule */
	WC_N
};
extern const char *const window_count_names[WC_N];

/* Histograms: per call, microseconds (TTFT, duration, time per output
 * token); per sampled socket read, the read lag (us) and the bytes left
 * unread (backpressure, call/backpressure.h). */
enum window_hist { WH_TTFT, WH_DURATION, WH_TPOT, WH_READ_LAG, WH_UNREAD, WH_N };
extern const char *const window_hist_names[WH_N];

/* Guardrail matches by rule: the first WINDOW_RULES rules a window saw,
 * the others together (a policy has a dozen or so). */
#define WINDOW_RULES 24
struct window_rule {
	char id[64];
	int64_t n;
};
struct window_rules {
	struct window_rule v[WINDOW_RULES];
	unsigned n;
	int64_t other;
};
void window_rules_add(struct window_rules *r, const char *id, int64_t n);
/* As text, "id:n id:n" ("*" for the others), and back: -1 when bad. */
void window_rules_format(const struct window_rules *r, struct buf *out);
int window_rules_parse(const char *s, struct window_rules *r);

struct window_stats {
	int64_t n[WC_N];
	double cost_usd; /* of the priced calls */
	uint32_t h[WH_N][LOGHIST_BUCKETS];
	struct window_rules rules;
};

enum window_outcome { WO_OK, WO_ERROR, WO_TRUNCATED, WO_ABORTED, WO_BLOCKED };

/* What a window needs of one finished call. */
struct window_sample {
	struct window_key key;
	int64_t started_ms; /* Unix ms */
	enum window_outcome outcome;
	int64_t ttft_us, duration_us, tpot_us;                 /* < 0: unknown */
	int64_t input, output, cached, cache_write, reasoning; /* < 0: not reported */
	double cost_usd;                                       /* < 0: unpriced */
	/* backpressure: the call's per-read histograms (NULL: not sampled;
	 * owned by whoever made the sample) and its socket's counts */
	const uint32_t *read_lag_hist, *unread_hist;
	int64_t zero_window, rcvq_full, h2_stalls;
	struct window_rules rules; /* its guardrail matches */
};

static inline int64_t window_floor(int64_t t_ms, int64_t step_ms)
{
	return t_ms - ((t_ms % step_ms) + step_ms) % step_ms;
}

void window_add(struct window_stats *w, const struct window_sample *s);
void window_merge(struct window_stats *into, const struct window_stats *from);

/* A histogram as text, sparse: "bucket:count bucket:count". */
#define WINDOW_HIST_TEXT_MAX (LOGHIST_BUCKETS * 16 + 1)
void window_hist_format(const uint32_t *h, char *out, size_t cap);
/* Adds the text's counts into h; -1 (h partly added) when it is bad. */
int window_hist_parse(const char *s, uint32_t *h);

/* Windows of one batch of calls, grouped by (step, start, key): what the
 * store merges into its rows. */
struct window_group {
	int64_t step_ms, start_ms;
	struct window_key key;
	struct window_stats st;
};
struct window_batch {
	struct window_group *v;
	size_t n, cap;
	uint32_t *slots; /* open addressing over v (index + 1; 0: empty) */
	size_t nslots;
};
/* Adds s to its minute and its hour window. */
void window_batch_add(struct window_batch *b, const struct window_sample *s);
void window_batch_free(struct window_batch *b);

/* A query's answer: stored windows regrouped into steps of step_ms (0: one
 * window over [from, to)) and by the group_by fields (a bit per field). */
struct window_series {
	int64_t from_ms, to_ms, step_ms;
	unsigned group_by;
	struct window_group *v;
	size_t n, cap;
};
void window_series_add(struct window_series *s, int64_t start_ms, const struct window_key *k,
                       const struct window_stats *st);
/* Sorts and merges what was added; {"from_ms", "to_ms", "step_ms",
 * "group_by", "windows": [...]} */
cJSON *window_series_json(struct window_series *s);
void window_series_free(struct window_series *s);

/* The figures of one window as the API serves them (adds to o). */
void window_stats_json(const struct window_stats *w, cJSON *o);

#endif
