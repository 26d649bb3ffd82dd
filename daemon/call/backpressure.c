/* Per-call backpressure figures (see backpressure.h). */
#include "call/backpressure.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "llmobs/event.h"
#include "core/loghist.h"

uint32_t bp_alert_lag_us = BP_ALERT_LAG_MS * 1000;

void bp_add_read(struct backpressure *b, const struct llmobs_event *ev)
{
	if (!ev->bp_valid)
		return;
	if (!b->seen) {
		b->seen = true;
		b->rcvq_base = ev->rcvq_full;
		b->zwin_base = ev->zero_window;
	}
	b->rcvq_full = ev->rcvq_full - b->rcvq_base;
	b->zero_window = ev->zero_window - b->zwin_base;
	if (!b->unread_hist) {
		b->unread_hist = xcalloc(LOGHIST_BUCKETS, sizeof(uint32_t));
		b->lag_hist = xcalloc(LOGHIST_BUCKETS, sizeof(uint32_t));
	}
	b->unread_hist[loghist_bucket(ev->unread)]++;
	b->lag_hist[loghist_bucket(ev->lag_us)]++;
	b->n++;
	if (ev->unread > b->max_unread)
		b->max_unread = ev->unread;
	if (ev->lag_us > b->max_lag_us)
		b->max_lag_us = ev->lag_us;
}

void bp_add_write_blocked(struct backpressure *b, uint32_t us)
{
	b->write_blocked_us += us;
	b->writes_blocked++;
}

void bp_add_window_stall(struct backpressure *b, uint64_t ns)
{
	b->h2_window_stalls++;
	b->h2_window_stalled_ns += ns;
}

void bp_free(struct backpressure *b)
{
	free(b->unread_hist);
	free(b->lag_hist);
	memset(b, 0, sizeof(*b));
}

/* A percentile from the histogram, never above the exact maximum. */
static uint32_t pct(const uint32_t *hist, uint32_t n, unsigned p, uint32_t max)
{
	uint64_t v = loghist_percentile(hist, n, p);
	return v > max ? max : (uint32_t)v;
}

double bp_lag_p95_ms(const struct backpressure *b)
{
	return b->n ? pct(b->lag_hist, b->n, 95, b->max_lag_us) / 1e3 : -1;
}

cJSON *bp_to_json(const struct backpressure *b)
{
	if (!b->seen && !b->writes_blocked && !b->h2_window_stalls)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	if (b->n) {
		cJSON_AddNumberToObject(o, "max_unread_bytes", b->max_unread);
		cJSON_AddNumberToObject(o, "unread_bytes_p95",
		                        pct(b->unread_hist, b->n, 95, b->max_unread));
		cJSON_AddNumberToObject(o, "read_lag_ms_p50",
		                        pct(b->lag_hist, b->n, 50, b->max_lag_us) / 1e3);
		cJSON_AddNumberToObject(o, "read_lag_ms_p95",
		                        pct(b->lag_hist, b->n, 95, b->max_lag_us) / 1e3);
		cJSON_AddNumberToObject(o, "read_lag_ms_max", b->max_lag_us / 1e3);
	} else {
		cJSON_AddNullToObject(o, "max_unread_bytes");
		cJSON_AddNullToObject(o, "unread_bytes_p95");
		cJSON_AddNullToObject(o, "read_lag_ms_p50");
		cJSON_AddNullToObject(o, "read_lag_ms_p95");
		cJSON_AddNullToObject(o, "read_lag_ms_max");
	}
	cJSON_AddNumberToObject(o, "zero_window_events", b->zero_window);
	cJSON_AddNumberToObject(o, "rcvq_full_events", b->rcvq_full);
	cJSON_AddNumberToObject(o, "reads_sampled", b->n);
	cJSON_AddNumberToObject(o, "write_blocked_ms", (double)b->write_blocked_us / 1e3);
	if (b->h2_window_stalls) {
		cJSON_AddNumberToObject(o, "h2_window_stalls", b->h2_window_stalls);
		cJSON_AddNumberToObject(o, "h2_window_stalled_ms",
		                        (double)b->h2_window_stalled_ns / 1e6);
	}
	return o;
}
