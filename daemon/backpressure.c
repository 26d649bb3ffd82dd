/* Per-call backpressure figures (see backpressure.h). */
#include "backpressure.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "llmobs/event.h"

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
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->unread = xrealloc(b->unread, b->cap * sizeof(*b->unread));
		b->lag_us = xrealloc(b->lag_us, b->cap * sizeof(*b->lag_us));
	}
	b->unread[b->n] = ev->unread;
	b->lag_us[b->n++] = ev->lag_us;
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

void bp_free(struct backpressure *b)
{
	free(b->unread);
	free(b->lag_us);
	memset(b, 0, sizeof(*b));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n values (n > 0). */
static uint32_t percentile(const uint32_t *v, uint32_t n, unsigned p)
{
	uint32_t *s = xmalloc(n * sizeof(*s));
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u32);
	size_t i = ((size_t)n * p + 99) / 100;
	uint32_t r = s[(i ? i : 1) - 1];
	free(s);
	return r;
}

double bp_lag_p95_ms(const struct backpressure *b)
{
	return b->n ? percentile(b->lag_us, b->n, 95) / 1e3 : -1;
}

cJSON *bp_to_json(const struct backpressure *b)
{
	if (!b->seen && !b->writes_blocked)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	if (b->n) {
		cJSON_AddNumberToObject(o, "max_unread_bytes", b->max_unread);
		cJSON_AddNumberToObject(o, "unread_bytes_p95", percentile(b->unread, b->n, 95));
		cJSON_AddNumberToObject(o, "read_lag_ms_p50",
		                        percentile(b->lag_us, b->n, 50) / 1e3);
		cJSON_AddNumberToObject(o, "read_lag_ms_p95",
		                        percentile(b->lag_us, b->n, 95) / 1e3);
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
	return o;
}
