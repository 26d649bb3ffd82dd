/* The JSON helpers every provider decoder uses (json.h). */
#include "llm/json.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/json_arena.h"

struct llm_tool_call *llm_tool(struct llm_decode *d, int key)
{
	for (uint32_t i = 0; i < d->ntools; i++)
		if (d->tools[i].key == key)
			return &d->tools[i];
	if (d->ntools == LLM_MAX_TOOL_CALLS) {
		d->tools_dropped++;
		return NULL;
	}
	if (!d->tools) /* most calls make none: 3 KiB saved per call */
		d->tools = xcalloc(LLM_MAX_TOOL_CALLS, sizeof(*d->tools));
	struct llm_tool_call *t = &d->tools[d->ntools++];
	memset(t, 0, sizeof(*t));
	t->key = key;
	buf_init(&t->args, LLM_TOOL_ARGS_LIMIT);
	return t;
}

void pj_tool(struct llm_decode *d, int key, const cJSON *name, const cJSON *args)
{
	struct llm_tool_call *t = llm_tool(d, key);
	if (!t)
		return;
	if (cJSON_IsString(name) && name->valuestring[0])
		snprintf(t->name, sizeof(t->name), "%s", name->valuestring);
	if (cJSON_IsString(args)) {
		buf_append(&t->args, args->valuestring, strlen(args->valuestring));
	} else if (args && !cJSON_IsNull(args)) {
		char *s = cJSON_PrintUnformatted(args); /* an object: Gemini, Ollama */
		if (s)
			buf_append(&t->args, s, strlen(s));
		cJSON_free(s);
	}
}

void pj_set_str(char *dst, size_t cap, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring)
		snprintf(dst, cap, "%s", v->valuestring);
}

void pj_ms(double *dst, const cJSON *v, double scale)
{
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		*dst = v->valuedouble * scale;
}

/* No call reports more; far below where int64 sums could overflow. */
#define TOKENS_MAX 1e12

int64_t pj_tokens(struct llm_decode *d, const cJSON *v)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double x = v->valuedouble;
	if (!(x >= 0 && x <= TOKENS_MAX) || x != (double)(int64_t)x) {
		char why[96];
		snprintf(why, sizeof(why), "usage: token count %.17g out of range", x);
		pj_fail(d, why);
		return -1;
	}
	return (int64_t)x;
}

bool pj_take_tokens(struct llm_decode *d, int64_t *dst, const cJSON *v)
{
	int64_t t = pj_tokens(d, v);
	if (t < 0)
		return false;
	*dst = t;
	return true;
}

int pj_finish(struct llm_decode *d, const cJSON *v)
{
	if (!cJSON_IsString(v))
		return DEC_NONE;
	pj_set_str(d->finish_reason, sizeof(d->finish_reason), v);
	return DEC_FINISH;
}

void pj_fail(struct llm_decode *d, const char *why)
{
	d->failed = true;
	if (!d->error[0])
		snprintf(d->error, sizeof(d->error), "%s", why);
}

cJSON *pj_parse(struct llm_decode *d, const char *s, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(s, n);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		d->malformed++;
		return NULL;
	}
	return j;
}

cJSON *pj_event(struct llm_decode *d, const char *s, size_t n)
{
	d->events++;
	cJSON *j = pj_parse(d, s, n);
	if (!j)
		pj_fail(d, "malformed JSON in a stream event");
	return j;
}

cJSON *pj_body(struct llm_decode *d, const char *s, size_t n)
{
	cJSON *j = pj_parse(d, s, n);
	if (!j) {
		pj_fail(d, n ? "malformed JSON response body" : "empty response body");
		return NULL;
	}
	if (pj_take_error(d, j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

bool pj_take_error(struct llm_decode *d, const cJSON *j)
{
	const cJSON *e = pj_get(j, "error");
	if (!e || cJSON_IsNull(e))
		return false;
	const char *msg = NULL;
	if (cJSON_IsString(e)) {
		msg = e->valuestring;
	} else if (cJSON_IsObject(e)) {
		static const char *const keys[] = {"message", "type", "status", "code"};
		for (size_t i = 0; i < 4 && !msg; i++) {
			const cJSON *v = pj_get(e, keys[i]);
			if (cJSON_IsString(v) && v->valuestring[0])
				msg = v->valuestring;
		}
		/* llama.cpp and vLLM send a numeric code: better than nothing */
		const cJSON *code = pj_get(e, "code");
		if (!msg && cJSON_IsNumber(code)) {
			char why[48];
			snprintf(why, sizeof(why), "provider error code %.0f", code->valuedouble);
			pj_fail(d, why);
			return true;
		}
	}
	pj_fail(d, msg ? msg : "provider returned an error");
	return true;
}

/* Appends up to the text cap, cutting on a UTF-8 character boundary so the
 * kept text stays valid; once anything was cut, later deltas are counted
 * too rather than kept, so the text never has a hole in it. */
static void text_append(struct buf *b, const char *s, size_t n)
{
	size_t room = !b->limit ? SIZE_MAX : b->len < b->limit ? b->limit - b->len : 0;
	if (b->cut) {
		b->cut += n;
		return;
	}
	if (n > room) {
		size_t keep = room;
		while (keep && ((unsigned char)s[keep] & 0xC0) == 0x80) /* continuation */
			keep--;
		b->cut += n - keep;
		n = keep;
	}
	buf_append(b, s, n);
}

int pj_text(struct llm_decode *d, const cJSON *v)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return DEC_NONE;
	text_append(&d->text, v->valuestring, strlen(v->valuestring));
	d->deltas++;
	return DEC_CONTENT;
}
