/* OpenAI Chat Completions (and OpenAI-compatible servers: vLLM, llama.cpp,
 * Ollama /v1, gateways): request bodies, chat.completion.chunk events, and
 * plain chat.completion / error bodies. */
#include <string.h>

#include "core/json_arena.h"
#include "llm/json.h"

static int take_usage(struct llm_decode *d, const cJSON *j)
{
	const cJSON *u = pj_get(j, "usage");
	if (!cJSON_IsObject(u))
		return DEC_NONE; /* absent, or "usage": null on ordinary chunks */
	/* vLLM's continuous usage repeats running totals: the last one wins */
	bool got = false;
	got |= pj_take_tokens(d, &d->usage.input_tokens, pj_get(u, "prompt_tokens"));
	got |= pj_take_tokens(d, &d->usage.output_tokens, pj_get(u, "completion_tokens"));
	got |= pj_take_tokens(d, &d->usage.cached_input_tokens,
	                      pj_get(pj_get(u, "prompt_tokens_details"), "cached_tokens"));
	got |= pj_take_tokens(d, &d->usage.reasoning_tokens,
	                      pj_get(pj_get(u, "completion_tokens_details"), "reasoning_tokens"));
	return got ? DEC_USAGE : DEC_NONE;
}

/* Choice 0 only: n > 1 streams interleave their choices by index. */
static const cJSON *first_choice(const cJSON *j)
{
	const cJSON *choices = pj_get(j, "choices");
	const cJSON *c;
	if (!cJSON_IsArray(choices))
		return NULL;
	cJSON_ArrayForEach(c, choices)
	{
		const cJSON *idx = pj_get(c, "index");
		if (cJSON_IsObject(c) && (!idx || (cJSON_IsNumber(idx) && idx->valuedouble == 0)))
			return c;
	}
	return NULL;
}

int openai_decode_request(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = pj_parse(d, body, n);
	if (!j)
		return DEC_ERROR; /* an unreadable request does not fail the call */
	pj_set_str(d->model, sizeof(d->model), pj_get(j, "model"));
	d->stream_requested = cJSON_IsTrue(pj_get(j, "stream"));
	d->include_usage = cJSON_IsTrue(pj_get(pj_get(j, "stream_options"), "include_usage"));
	json_release(j);
	return DEC_NONE;
}

/* Streams name each call by its "index" (fragments of one call share it);
 * a whole message lists them in order without one. */
static void take_tool_calls(struct llm_decode *d, const cJSON *calls)
{
	const cJSON *tc;
	int i = 0;
	if (!cJSON_IsArray(calls))
		return;
	cJSON_ArrayForEach(tc, calls)
	{
		const cJSON *idx = pj_get(tc, "index");
		const cJSON *fn = pj_get(tc, "function");
		if (cJSON_IsObject(tc))
			pj_tool(d, cJSON_IsNumber(idx) ? idx->valueint : i, pj_get(fn, "name"),
			        pj_get(fn, "arguments"));
		i++;
	}
}

static bool is_done(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n == 6 && !memcmp(s, "[DONE]", 6);
}

/* A chunk ("delta") or a whole completion ("message"): same shape otherwise. */
static int decode_object(struct llm_decode *d, cJSON *j, const char *part)
{
	if (pj_take_error(d, j)) {
		json_release(j);
		return DEC_ERROR | DEC_END;
	}
	int flags = DEC_NONE;
	pj_set_str(d->response_model, sizeof(d->response_model), pj_get(j, "model"));
	/* Self-hosted servers behind the same API show themselves by shape. */
	if (!d->provider_override[0]) {
		const char *fp = cJSON_GetStringValue(pj_get(j, "system_fingerprint"));
		if (fp && !strcmp(fp, "fp_ollama"))
			snprintf(d->provider_override, sizeof(d->provider_override), "ollama");
		else if (cJSON_IsObject(pj_get(j, "timings")))
			snprintf(d->provider_override, sizeof(d->provider_override), "llama.cpp");
	}
	const cJSON *timings = pj_get(j, "timings"); /* llama.cpp, milliseconds */
	pj_ms(&d->server_timings.prompt_ms, pj_get(timings, "prompt_ms"), 1);
	pj_ms(&d->server_timings.generation_ms, pj_get(timings, "predicted_ms"), 1);
	const cJSON *choice = first_choice(j);
	if (choice) {
		const cJSON *p = pj_get(choice, part);
		flags |= pj_text(d, pj_get(p, "content"));
		flags |= pj_text(d, pj_get(p, "refusal"));
		take_tool_calls(d, pj_get(p, "tool_calls"));
		const cJSON *f = pj_get(choice, "finish_reason");
		if (cJSON_IsString(f) && f->valuestring[0])
			flags |= pj_finish(d, f);
	}
	flags |= take_usage(d, j);
	json_release(j);
	return flags;
}

int openai_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	if (is_done(data, n)) {
		d->events++;
		d->done = true;
		return DEC_DONE;
	}
	cJSON *j = pj_event(d, data, n);
	if (!j)
		return DEC_ERROR;
	return decode_object(d, j, "delta");
}

int openai_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = pj_body(d, body, n);
	if (!j)
		return DEC_ERROR;
	d->done = true;
	return decode_object(d, j, "message");
}
