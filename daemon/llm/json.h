/* cJSON helpers shared by the provider decoders (private to them). */
#ifndef LLMOBS_LLM_JSON_H
#define LLMOBS_LLM_JSON_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "llm/provider.h"

/* cJSON_GetObjectItemCaseSensitive, minus a strcmp call per key that
 * cannot match (the hot path looks up a dozen keys per stream event). */
static inline const cJSON *pj_get(const cJSON *o, const char *k)
{
	if (!o)
		return NULL;
	for (const cJSON *c = o->child; c; c = c->next)
		if (c->string && c->string[0] == k[0] && strcmp(c->string, k) == 0)
			return c;
	return NULL;
}

/* An event's "type", or "" */
static inline const char *pj_type(const cJSON *j)
{
	const char *t = cJSON_GetStringValue(pj_get(j, "type"));
	return t ? t : "";
}

void pj_set_str(char *dst, size_t cap, const cJSON *v);
/* *dst = v * scale when v is a non-negative number */
void pj_ms(double *dst, const cJSON *v, double scale);
/* *dst = the token count in v when v reports one; true if it did */
bool pj_take_tokens(struct llm_decode *d, int64_t *dst, const cJSON *v);
/* finish_reason = v when v is a string: DEC_FINISH, else DEC_NONE */
int pj_finish(struct llm_decode *d, const cJSON *v);
/* a token count (0 to 1e12, whole), or -1 when absent; a number out of
 * that range fails the call with the reason and gives -1 */
int64_t pj_tokens(struct llm_decode *d, const cJSON *v);
/* marks the call failed; the first reason wins */
void pj_fail(struct llm_decode *d, const char *why);
/* parses a JSON object (counting malformed input), or NULL */
cJSON *pj_parse(struct llm_decode *d, const char *s, size_t n);
/* An SSE data payload or NDJSON line: counted, parsed; NULL (the call
 * failed, counted as malformed) when it is not a JSON object. */
cJSON *pj_event(struct llm_decode *d, const char *s, size_t n);
/* A whole response body: NULL when malformed or an error object (the call
 * failed with the reason or the provider's message). */
cJSON *pj_body(struct llm_decode *d, const char *s, size_t n);
/* {"error": {message|type|code}} or {"error": "text"}: fails the call */
bool pj_take_error(struct llm_decode *d, const cJSON *j);
/* names and/or extends the tool call `key`: args is a JSON text fragment
 * (string) or a whole JSON value (printed) */
/* The tool call with this key, created on first use; NULL past the cap
 * (counted in tools_dropped). */
struct llm_tool_call *llm_tool(struct llm_decode *d, int key);
void pj_tool(struct llm_decode *d, int key, const cJSON *name, const cJSON *args);
/* appends a non-empty string to the completion text: DEC_CONTENT */
int pj_text(struct llm_decode *d, const cJSON *v);

#endif
