/* Google Gemini generateContent / streamGenerateContent (alt=sse): one
 * GenerateContentResponse per event, cumulative usageMetadata (the last
 * wins), no terminator. Output tokens include thinking tokens. */
#include "core/json_arena.h"
#include "llm/json.h"

static int take_usage(struct llm_decode *d, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return DEC_NONE;
	int64_t in = pj_tokens(d, pj_get(u, "promptTokenCount"));
	int64_t cand = pj_tokens(d, pj_get(u, "candidatesTokenCount"));
	int64_t think = pj_tokens(d, pj_get(u, "thoughtsTokenCount"));
	int64_t cached = pj_tokens(d, pj_get(u, "cachedContentTokenCount"));
	if (in >= 0)
		d->usage.input_tokens = in;
	if (cand >= 0 || think >= 0)
		d->usage.output_tokens = (cand > 0 ? cand : 0) + (think > 0 ? think : 0);
	if (think >= 0)
		d->usage.reasoning_tokens = think;
	if (cached >= 0)
		d->usage.cached_input_tokens = cached;
	return DEC_USAGE;
}

static int decode_object(struct llm_decode *d, cJSON *j)
{
	int flags = DEC_NONE;
	if (pj_take_error(d, j)) {
		json_release(j);
		return DEC_ERROR | DEC_END;
	}
	pj_set_str(d->response_model, sizeof(d->response_model), pj_get(j, "modelVersion"));
	const cJSON *block = pj_get(pj_get(j, "promptFeedback"), "blockReason");
	if (cJSON_IsString(block)) {
		char why[128];
		snprintf(why, sizeof(why), "prompt blocked: %s", block->valuestring);
		pj_fail(d, why);
		flags |= DEC_ERROR | DEC_END; /* no candidate follows */
	}
	const cJSON *cand = cJSON_GetArrayItem(pj_get(j, "candidates"), 0);
	const cJSON *part;
	cJSON_ArrayForEach(part, pj_get(pj_get(cand, "content"), "parts"))
	{
		if (!cJSON_IsTrue(pj_get(part, "thought"))) /* thought summaries are not text */
			flags |= pj_text(d, pj_get(part, "text"));
		const cJSON *fc = pj_get(part, "functionCall");
		if (cJSON_IsObject(fc)) /* whole calls, never split across events */
			pj_tool(d, (int)d->ntools, pj_get(fc, "name"), pj_get(fc, "args"));
	}
	if (pj_finish(d, pj_get(cand, "finishReason"))) {
		d->finished_ok = true;
		flags |= DEC_FINISH;
	}
	flags |= take_usage(d, pj_get(j, "usageMetadata"));
	/* No terminator: the candidate that finishes carries the final usage,
	 * and nothing follows it. */
	if ((flags & (DEC_FINISH | DEC_USAGE)) == (DEC_FINISH | DEC_USAGE) && !d->failed) {
		d->done = true;
		flags |= DEC_DONE;
	}
	json_release(j);
	return flags;
}

int gemini_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	cJSON *j = pj_event(d, data, n);
	if (!j)
		return DEC_ERROR;
	return decode_object(d, j);
}

int gemini_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	/* A non-SSE streamGenerateContent answer is a JSON array of responses. */
	cJSON *j = cJSON_ParseWithLength(body, n);
	if (cJSON_IsArray(j)) {
		int flags = DEC_NONE;
		cJSON *item;
		cJSON_ArrayForEach(item, j)
		{
			if (cJSON_IsObject(item))
				flags |= decode_object(d, cJSON_Duplicate(item, 1));
		}
		json_release(j);
		d->done = !d->failed;
		return flags;
	}
	if (!cJSON_IsObject(j)) {
		json_release(j);
		d->malformed++;
		pj_fail(d, n ? "malformed JSON response body" : "empty response body");
		return DEC_ERROR;
	}
	int flags = decode_object(d, j);
	d->done = !d->failed;
	return flags;
}
