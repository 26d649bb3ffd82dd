/* Ollama native API: /api/chat and /api/generate, one JSON object per line
 * (NDJSON), "done": true on the last with counts; {"error": "..."} lines. */
#include "core/json_arena.h"
#include "llm/json.h"

static int decode_object(struct llm_decode *d, cJSON *j)
{
	int flags = DEC_NONE;
	if (pj_take_error(d, j)) {
		json_release(j);
		return DEC_ERROR | DEC_END;
	}
	pj_set_str(d->response_model, sizeof(d->response_model), pj_get(j, "model"));
	flags |= pj_text(d, pj_get(pj_get(j, "message"), "content")); /* /api/chat */
	flags |= pj_text(d, pj_get(j, "response"));                   /* /api/generate */
	const cJSON *tc;
	cJSON_ArrayForEach(tc, pj_get(pj_get(j, "message"), "tool_calls"))
	{
		const cJSON *fn = pj_get(tc, "function");
		pj_tool(d, (int)d->ntools, pj_get(fn, "name"), pj_get(fn, "arguments"));
	}
	if (cJSON_IsTrue(pj_get(j, "done"))) {
		pj_take_tokens(d, &d->usage.input_tokens, pj_get(j, "prompt_eval_count"));
		pj_take_tokens(d, &d->usage.output_tokens, pj_get(j, "eval_count"));
		pj_set_str(d->finish_reason, sizeof(d->finish_reason), pj_get(j, "done_reason"));
		/* durations are nanoseconds */
		pj_ms(&d->server_timings.total_ms, pj_get(j, "total_duration"), 1e-6);
		pj_ms(&d->server_timings.load_ms, pj_get(j, "load_duration"), 1e-6);
		pj_ms(&d->server_timings.prompt_ms, pj_get(j, "prompt_eval_duration"), 1e-6);
		pj_ms(&d->server_timings.generation_ms, pj_get(j, "eval_duration"), 1e-6);
		d->done = true;
		flags |= DEC_DONE | DEC_USAGE | DEC_FINISH;
	}
	json_release(j);
	return flags;
}

int ollama_decode_line(struct llm_decode *d, const char *line, size_t n)
{
	cJSON *j = pj_event(d, line, n);
	if (!j)
		return DEC_ERROR;
	return decode_object(d, j);
}

int ollama_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = pj_body(d, body, n);
	if (!j)
		return DEC_ERROR;
	return decode_object(d, j);
}
