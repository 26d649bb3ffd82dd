/* OpenAI Realtime API (over WebSocket): the server events of one response,
 * response.created .. response.done. Text and audio transcripts are the
 * completion; audio deltas are counted, never kept. GA and beta event
 * names both (response.output_text.delta / response.text.delta, ...). */
#include <stdio.h>

#include "core/json_arena.h"
#include "llm/json.h"

static bool is(const char *type, const char *ga, const char *beta)
{
	return !strcmp(type, ga) || !strcmp(type, beta);
}

static int take_usage(struct llm_decode *d, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return DEC_NONE;
	pj_take_tokens(d, &d->usage.input_tokens, pj_get(u, "input_tokens"));
	pj_take_tokens(d, &d->usage.output_tokens, pj_get(u, "output_tokens"));
	pj_take_tokens(d, &d->usage.cached_input_tokens,
	               pj_get(pj_get(u, "input_token_details"), "cached_tokens"));
	return DEC_USAGE;
}

/* response.done: its status says how the response ended (completed,
 * incomplete, cancelled by the client or a turn, failed). */
static int take_done(struct llm_decode *d, const cJSON *r)
{
	int flags = take_usage(d, pj_get(r, "usage"));
	const cJSON *details = pj_get(r, "status_details");
	const char *status = cJSON_GetStringValue(pj_get(r, "status"));
	d->done = true;
	if (status && !strcmp(status, "failed")) {
		const char *msg = cJSON_GetStringValue(pj_get(pj_get(details, "error"), "message"));
		d->error[0] = '\0'; /* an earlier error event may have been another's */
		pj_fail(d, msg ? msg : "response failed");
		return flags | DEC_ERROR | DEC_END;
	}
	const char *why = cJSON_GetStringValue(pj_get(details, "reason"));
	if (status && strcmp(status, "completed") && why)
		snprintf(d->finish_reason, sizeof(d->finish_reason), "%s", why);
	else
		flags |= pj_finish(d, pj_get(r, "status"));
	return flags | DEC_FINISH | DEC_DONE;
}

int realtime_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	cJSON *j = pj_event(d, data, n);
	if (!j)
		return DEC_ERROR;
	int flags = DEC_NONE;
	const char *type = pj_type(j);
	const cJSON *oi = pj_get(j, "output_index");
	int key = cJSON_IsNumber(oi) ? oi->valueint : 0;
	if (is(type, "response.output_text.delta", "response.text.delta") ||
	    is(type, "response.output_audio_transcript.delta", "response.audio_transcript.delta")) {
		flags |= pj_text(d, pj_get(j, "delta"));
	} else if (is(type, "response.output_audio.delta", "response.audio.delta")) {
		const char *b64 = cJSON_GetStringValue(pj_get(j, "delta"));
		if (b64 && *b64) {
			d->audio_deltas++;
			d->audio_bytes += strlen(b64) / 4 * 3;
			flags |= DEC_CONTENT; /* the first sound is the first token */
		}
	} else if (!strcmp(type, "response.output_item.added")) {
		const cJSON *item = pj_get(j, "item");
		const char *it = cJSON_GetStringValue(pj_get(item, "type"));
		if (it && !strcmp(it, "function_call"))
			pj_tool(d, key, pj_get(item, "name"), NULL);
	} else if (!strcmp(type, "response.function_call_arguments.delta")) {
		pj_tool(d, key, NULL, pj_get(j, "delta"));
	} else if (!strcmp(type, "session.created") || !strcmp(type, "session.updated")) {
		pj_set_str(d->response_model, sizeof(d->response_model),
		           pj_get(pj_get(j, "session"), "model"));
	} else if (!strcmp(type, "response.done")) {
		flags |= take_done(d, pj_get(j, "response"));
	} else if (!strcmp(type, "error")) {
		/* Most errors are about a client event, not the response, and the
		 * session goes on: kept, not failing the call (response.done says
		 * failed when it was the response's). */
		const char *msg = cJSON_GetStringValue(pj_get(pj_get(j, "error"), "message"));
		if (!d->error[0])
			snprintf(d->error, sizeof(d->error), "%s", msg ? msg : "provider error");
		flags |= DEC_ERROR;
	}
	json_release(j);
	return flags;
}

/* Realtime has no plain HTTP answer; an error body decodes as OpenAI's. */
int realtime_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	return openai_decode_response(d, body, n);
}
