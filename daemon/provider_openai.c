/* OpenAI Chat Completions (and OpenAI-compatible servers: vLLM, llama.cpp,
 * Ollama /v1, gateways): request bodies, chat.completion.chunk events, and
 * plain chat.completion / error bodies. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "provider.h"

static void set_str(char *dst, size_t cap, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring)
		snprintf(dst, cap, "%s", v->valuestring);
}

static int64_t tokens(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : -1;
}

static void fail(struct llm_decode *d, const char *why)
{
	d->failed = true;
	if (!d->error[0])
		snprintf(d->error, sizeof(d->error), "%s", why);
}

static cJSON *parse(struct llm_decode *d, const char *s, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(s, n);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		d->malformed++;
		return NULL;
	}
	return j;
}

/* {"error": {"message", "type", "code"}} or {"error": "text"} */
static bool take_error(struct llm_decode *d, const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (!e || cJSON_IsNull(e))
		return false;
	const char *msg = NULL;
	if (cJSON_IsString(e)) {
		msg = e->valuestring;
	} else if (cJSON_IsObject(e)) {
		const char *keys[] = {"message", "type", "code"};
		for (size_t i = 0; i < 3 && !msg; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
			if (cJSON_IsString(v) && v->valuestring[0])
				msg = v->valuestring;
		}
	}
	fail(d, msg ? msg : "provider returned an error");
	return true;
}

static int take_usage(struct llm_decode *d, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	if (!cJSON_IsObject(u))
		return 0;
	int64_t v;
	if ((v = tokens(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens"))) >= 0)
		d->usage.input_tokens = v;
	if ((v = tokens(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens"))) >= 0)
		d->usage.output_tokens = v;
	const cJSON *pd = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
	if ((v = tokens(cJSON_GetObjectItemCaseSensitive(pd, "cached_tokens"))) >= 0)
		d->usage.cached_input_tokens = v;
	const cJSON *cd = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
	if ((v = tokens(cJSON_GetObjectItemCaseSensitive(cd, "reasoning_tokens"))) >= 0)
		d->usage.reasoning_tokens = v;
	return DEC_USAGE;
}

static int take_text(struct llm_decode *d, const cJSON *v)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return 0;
	buf_append(&d->text, v->valuestring, strlen(v->valuestring));
	d->deltas++;
	return DEC_CONTENT;
}

/* Choice 0 only: n > 1 streams interleave their choices by index. */
static const cJSON *first_choice(const cJSON *j)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	const cJSON *c;
	cJSON_ArrayForEach(c, choices)
	{
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
		if (cJSON_IsObject(c) && (!idx || (cJSON_IsNumber(idx) && idx->valuedouble == 0)))
			return c;
	}
	return NULL;
}

static int take_finish(struct llm_decode *d, const cJSON *choice)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
	if (!cJSON_IsString(f))
		return 0;
	set_str(d->finish_reason, sizeof(d->finish_reason), f);
	return DEC_FINISH;
}

static void take_model(struct llm_decode *d, const cJSON *j)
{
	set_str(d->response_model, sizeof(d->response_model),
	        cJSON_GetObjectItemCaseSensitive(j, "model"));
}

int openai_decode_request(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = parse(d, body, n);
	if (!j)
		return DEC_ERROR; /* an unreadable request does not fail the call */
	set_str(d->model, sizeof(d->model), cJSON_GetObjectItemCaseSensitive(j, "model"));
	d->stream_requested = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"));
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
	d->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
	cJSON_Delete(j);
	return DEC_NONE;
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
	if (take_error(d, j)) {
		cJSON_Delete(j);
		return DEC_ERROR;
	}
	int flags = DEC_NONE;
	take_model(d, j);
	const cJSON *choice = first_choice(j);
	if (choice) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(choice, part);
		flags |= take_text(d, cJSON_GetObjectItemCaseSensitive(p, "content"));
		flags |= take_text(d, cJSON_GetObjectItemCaseSensitive(p, "refusal"));
		flags |= take_finish(d, choice);
	}
	flags |= take_usage(d, j);
	cJSON_Delete(j);
	return flags;
}

int openai_decode_event(struct llm_decode *d, const char *data, size_t n)
{
	d->events++;
	if (is_done(data, n)) {
		d->done = true;
		return DEC_DONE;
	}
	cJSON *j = parse(d, data, n);
	if (!j) {
		fail(d, "malformed JSON in an SSE event");
		return DEC_ERROR;
	}
	return decode_object(d, j, "delta");
}

int openai_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	cJSON *j = parse(d, body, n);
	if (!j) {
		fail(d, n ? "malformed JSON response body" : "empty response body");
		return DEC_ERROR;
	}
	d->done = true;
	return decode_object(d, j, "message");
}
