/* OpenAI Responses API: typed events (response.output_text.delta, ...),
 * usage and final status on response.completed / failed / incomplete. */
#include <stdio.h>

#include "core/json_arena.h"
#include "llm/json.h"

static int take_response(struct llm_decode *d, const cJSON *r)
{
	int flags = DEC_NONE;
	pj_set_str(d->response_model, sizeof(d->response_model), pj_get(r, "model"));
	const cJSON *u = pj_get(r, "usage");
	if (cJSON_IsObject(u)) {
		pj_take_tokens(d, &d->usage.input_tokens, pj_get(u, "input_tokens"));
		pj_take_tokens(d, &d->usage.output_tokens, pj_get(u, "output_tokens"));
		pj_take_tokens(d, &d->usage.cached_input_tokens,
		               pj_get(pj_get(u, "input_tokens_details"), "cached_tokens"));
		pj_take_tokens(d, &d->usage.reasoning_tokens,
		               pj_get(pj_get(u, "output_tokens_details"), "reasoning_tokens"));
		flags |= DEC_USAGE;
	}
	const cJSON *status = pj_get(r, "status");
	if (cJSON_IsString(status) && strcmp(status->valuestring, "in_progress") &&
	    strcmp(status->valuestring, "queued"))
		flags |= pj_finish(d, status);
	return flags;
}

/* Text of a whole response object: output[].content[] output_text parts. */
static int take_output_text(struct llm_decode *d, const cJSON *r)
{
	int flags = DEC_NONE;
	const cJSON *item, *part;
	cJSON_ArrayForEach(item, pj_get(r, "output"))
	{
		cJSON_ArrayForEach(part, pj_get(item, "content"))
		{
			const char *t = cJSON_GetStringValue(pj_get(part, "type"));
			if (t && !strcmp(t, "output_text"))
				flags |= pj_text(d, pj_get(part, "text"));
		}
	}
	return flags;
}

int responses_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	cJSON *j = pj_event(d, data, n);
	if (!j)
		return DEC_ERROR;
	int flags = DEC_NONE;
	const char *type = pj_type(j);
	const cJSON *r = pj_get(j, "response");
	const cJSON *oi = pj_get(j, "output_index");
	int key = cJSON_IsNumber(oi) ? oi->valueint : 0;
	if (!strcmp(type, "response.output_text.delta")) {
		flags |= pj_text(d, pj_get(j, "delta"));
	} else if (!strcmp(type, "response.output_item.added")) {
		const cJSON *item = pj_get(j, "item");
		const char *it = cJSON_GetStringValue(pj_get(item, "type"));
		if (it && !strcmp(it, "function_call"))
			pj_tool(d, key, pj_get(item, "name"), NULL);
	} else if (!strcmp(type, "response.function_call_arguments.delta")) {
		pj_tool(d, key, NULL, pj_get(j, "delta"));
	} else if (!strcmp(type, "response.created") || !strcmp(type, "response.in_progress")) {
		pj_set_str(d->response_model, sizeof(d->response_model), pj_get(r, "model"));
	} else if (!strcmp(type, "response.completed")) {
		flags |= take_response(d, r) | DEC_DONE;
		d->done = true;
	} else if (!strcmp(type, "response.incomplete")) {
		flags |= take_response(d, r) | DEC_DONE;
		const char *why =
		    cJSON_GetStringValue(pj_get(pj_get(r, "incomplete_details"), "reason"));
		if (why)
			snprintf(d->finish_reason, sizeof(d->finish_reason), "%s", why);
		d->done = true;
	} else if (!strcmp(type, "response.failed")) {
		flags |= take_response(d, r) | DEC_ERROR | DEC_END;
		const char *msg = cJSON_GetStringValue(pj_get(pj_get(r, "error"), "message"));
		pj_fail(d, msg ? msg : "response failed");
	} else if (!strcmp(type, "error")) {
		const char *msg = cJSON_GetStringValue(pj_get(j, "message"));
		if (!msg)
			pj_take_error(d, j);
		pj_fail(d, msg ? msg : "provider returned an error");
		flags |= DEC_ERROR; /* response.failed follows, with the usage */
	}
	json_release(j);
	return flags;
}

int responses_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = pj_body(d, body, n);
	if (!j)
		return DEC_ERROR;
	int flags = take_output_text(d, j) | take_response(d, j);
	d->done = true;
	json_release(j);
	return flags;
}
