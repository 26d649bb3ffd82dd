/* Live events (see live.h). */
#include "sinks/live.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include "core/clock.h"
#include "sinks/events.h"
#include "guard/scan.h"
#include "llm/provider.h"
#include "call/backpressure.h"
#include "call/call.h"
#include "call/call_json.h"

#include <string.h>

const char *const live_event_names[LIVE__N] = {
    [LIVE_STREAM_START] = "stream_start",
    [LIVE_CHUNK] = "chunk",
    [LIVE_STREAM_END] = "stream_end",
    [LIVE_STREAM_ERROR] = "stream_error",
    [LIVE_BACKPRESSURE] = "backpressure",
    [LIVE_GUARDRAIL_CHECK] = "guardrail_check",
    [LIVE_GUARDRAIL_MODIFY] = "guardrail_modify",
    [LIVE_GUARDRAIL_BLOCK] = "guardrail_block",
    [LIVE_BUFFER_FULL] = "buffer_full",
    [LIVE_EVENTS_LOST] = "events_lost",
};

bool live_event_known(const char *name, size_t n)
{
	for (int i = 0; i < LIVE__N; i++)
		if (strlen(live_event_names[i]) == n && !memcmp(live_event_names[i], name, n))
			return true;
	return false;
}

static cJSON *brief(const struct llm_call *c)
{
	char id[32];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)c->id);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "pid", c->pid);
	cJSON_AddStringToObject(o, "comm", c->comm);
	cJSON_AddStringToObject(o, "provider", llm_provider(&c->dec));
	const char *model = c->dec.model[0] ? c->dec.model : c->dec.response_model;
	if (model[0])
		cJSON_AddStringToObject(o, "model", model);
	else
		cJSON_AddNullToObject(o, "model");
	return o;
}

static void on_start(const struct llm_call *c)
{
	if (!events_followed())
		return;
	cJSON *o = brief(c);
	cJSON_AddStringToObject(o, "endpoint", c->endpoint);
	events_publish(live_event_names[LIVE_STREAM_START], o);
}

static void on_end(const struct llm_call *c)
{
	if (!events_followed())
		return;
	events_publish(
	    live_event_names[c->status == CALL_COMPLETED ? LIVE_STREAM_END : LIVE_STREAM_ERROR],
	    call_to_json(c, clock_now()));
}

static void on_chunk(const struct llm_call *c)
{
	if (!events_followed())
		return;
	cJSON *o = brief(c);
	cJSON_AddNumberToObject(o, "chunks", (double)c->chunks);
	cJSON_AddNumberToObject(o, "text_bytes", (double)c->dec.text.len);
	events_publish(live_event_names[LIVE_CHUNK], o);
}

static void on_backpressure(const struct llm_call *c, uint32_t lag_us, uint32_t unread)
{
	if (!events_followed())
		return;
	cJSON *o = brief(c);
	cJSON_AddNumberToObject(o, "read_lag_ms", lag_us / 1e3);
	cJSON_AddNumberToObject(o, "unread_bytes", unread);
	cJSON_AddNumberToObject(o, "threshold_ms", bp_alert_lag_us / 1e3);
	events_publish(live_event_names[LIVE_BACKPRESSURE], o);
}

static void on_guard_hit(const struct llm_call *c, const struct guard_hit *h, bool enforced,
                         const char *error)
{
	if (!events_followed())
		return;
	static const enum live_type types[] = {LIVE_GUARDRAIL_CHECK, LIVE_GUARDRAIL_MODIFY,
	                                       LIVE_GUARDRAIL_BLOCK};
	cJSON *o = brief(c);
	cJSON_AddStringToObject(o, "rule", h->rule->id);
	cJSON_AddStringToObject(o, "action", guard_action_name(h->rule->action));
	cJSON_AddStringToObject(o, "where", guard_where_name(h->where));
	cJSON_AddNumberToObject(o, "offset", (double)h->from);
	cJSON_AddNumberToObject(o, "length", (double)(h->to - h->from));
	cJSON_AddStringToObject(o, "severity", h->rule->severity);
	if (h->rule->action == GUARD_BLOCK) {
		cJSON_AddBoolToObject(o, "enforced", enforced);
		if (error && error[0])
			cJSON_AddStringToObject(o, "error", error);
	}
	events_publish(live_event_names[types[h->rule->action]], o);
}

const struct call_sink live_sink = {
    .name = "live",
    .start = on_start,
    .chunk = on_chunk,
    .end = on_end,
    .backpressure = on_backpressure,
    .guard_hit = on_guard_hit,
};

void live_buffer_full(uint64_t events, uint64_t bytes, uint64_t total_events)
{
	if (!events_followed())
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "dropped_events", (double)events);
	cJSON_AddNumberToObject(o, "dropped_bytes", (double)bytes);
	cJSON_AddNumberToObject(o, "dropped_events_total", (double)total_events);
	events_publish(live_event_names[LIVE_BUFFER_FULL], o);
}
