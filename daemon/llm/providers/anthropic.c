/* Anthropic Messages: message_start .. message_stop events, and plain
 * message / error bodies. Usage is normalised: input_tokens includes cache
 * reads and cache writes, as the other providers' input counts do. */
#include "core/json_arena.h"
#include "llm/json.h"

static int take_usage(struct llm_decode *d, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return DEC_NONE;
	int64_t in = pj_tokens(d, pj_get(u, "input_tokens"));
	int64_t rd = pj_tokens(d, pj_get(u, "cache_read_input_tokens"));
	int64_t wr = pj_tokens(d, pj_get(u, "cache_creation_input_tokens"));
	int64_t out = pj_tokens(d, pj_get(u, "output_tokens"));
	/* the writes by TTL: 1-hour writes cost more than the default 5-minute */
	int64_t w1h =
	    pj_tokens(d, pj_get(pj_get(u, "cache_creation"), "ephemeral_1h_input_tokens"));
	/* message_delta repeats the counts cumulatively; only update what it has */
	if (in >= 0)
		d->usage.input_tokens = in + (rd > 0 ? rd : 0) + (wr > 0 ? wr : 0);
	if (rd >= 0)
		d->usage.cached_input_tokens = rd;
	if (wr >= 0)
		d->usage.cache_creation_input_tokens = wr;
	if (w1h >= 0)
		d->usage.cache_write_1h_tokens = w1h;
	if (out >= 0)
		d->usage.output_tokens = out;
	return DEC_USAGE;
}

int anthropic_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	cJSON *j = pj_event(d, data, n);
	if (!j)
		return DEC_ERROR;
	int flags = DEC_NONE;
	const char *type = pj_type(j);
	if (pj_take_error(d, j) || !strcmp(type, "error")) {
		pj_fail(d, "provider returned an error"); /* keeps the message, if any */
		flags = DEC_ERROR | DEC_END;
	} else if (!strcmp(type, "message_start")) {
		const cJSON *m = pj_get(j, "message");
		pj_set_str(d->response_model, sizeof(d->response_model), pj_get(m, "model"));
		flags |= take_usage(d, pj_get(m, "usage"));
	} else if (!strcmp(type, "content_block_start")) {
		const cJSON *cb = pj_get(j, "content_block");
		const char *bt = cJSON_GetStringValue(pj_get(cb, "type"));
		const cJSON *idx = pj_get(j, "index");
		if (bt && !strcmp(bt, "tool_use") && cJSON_IsNumber(idx))
			pj_tool(d, idx->valueint, pj_get(cb, "name"), NULL);
	} else if (!strcmp(type, "content_block_delta")) {
		const cJSON *delta = pj_get(j, "delta");
		const char *dt = cJSON_GetStringValue(pj_get(delta, "type"));
		const cJSON *idx = pj_get(j, "index");
		/* thinking deltas are not the completion's text */
		if (dt && !strcmp(dt, "text_delta"))
			flags |= pj_text(d, pj_get(delta, "text"));
		else if (dt && !strcmp(dt, "input_json_delta") && cJSON_IsNumber(idx))
			pj_tool(d, idx->valueint, NULL, pj_get(delta, "partial_json"));
	} else if (!strcmp(type, "message_delta")) {
		flags |= pj_finish(d, pj_get(pj_get(j, "delta"), "stop_reason"));
		flags |= take_usage(d, pj_get(j, "usage"));
	} else if (!strcmp(type, "message_stop")) {
		d->done = true;
		flags |= DEC_DONE;
	}
	/* ping, content_block_start/stop and unknown events carry nothing */
	json_release(j);
	return flags;
}

int anthropic_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = pj_body(d, body, n);
	if (!j)
		return DEC_ERROR;
	int flags = DEC_NONE;
	pj_set_str(d->response_model, sizeof(d->response_model), pj_get(j, "model"));
	const cJSON *block;
	cJSON_ArrayForEach(block, pj_get(j, "content"))
	{
		const char *bt = cJSON_GetStringValue(pj_get(block, "type"));
		if (bt && !strcmp(bt, "text"))
			flags |= pj_text(d, pj_get(block, "text"));
		else if (bt && !strcmp(bt, "tool_use"))
			pj_tool(d, (int)d->ntools, pj_get(block, "name"), pj_get(block, "input"));
	}
	flags |= pj_finish(d, pj_get(j, "stop_reason"));
	flags |= take_usage(d, pj_get(j, "usage"));
	d->done = true;
	json_release(j);
	return flags;
}
