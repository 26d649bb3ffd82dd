/* See prompt.h. Each API's request shape is walked for its text pieces
 * (images, audio, documents and the model's own tool calls are not text a
 * search would look for); the pieces go to a scratch buffer capped at
 * PROMPT_COLLECT, whose tail is then kept. */
#include "llm/prompt.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

#include "llm/json.h"

/* Past this much text a request is not worth reading further (agents'
 * prompts are a few hundred KiB); the rest is only counted. */
#define PROMPT_COLLECT (4u << 20)

/* Leaves b's data non-NULL, so the text is always a C string. */
static void hold_string(struct buf *b)
{
	if (!b->data) {
		buf_append(b, "", 1);
		buf_truncate(b, 0);
	}
}

void llm_prompt_init(struct llm_prompt *p)
{
	buf_init(&p->text, LLM_PROMPT_KEEP);
	hold_string(&p->text);
	p->cut = 0;
}

void llm_prompt_free(struct llm_prompt *p)
{
	buf_free(&p->text);
	p->cut = 0;
}

/* One "role: text\n" line; empty text is no piece. */
static void piece(struct buf *all, const char *role, const char *text)
{
	if (!text || !*text)
		return;
	buf_append(all, role, strlen(role));
	buf_append(all, ": ", 2);
	buf_append(all, text, strlen(text));
	buf_append(all, "\n", 1);
}

static const char *role_of(const cJSON *msg, const char *fallback)
{
	const char *r = cJSON_GetStringValue(pj_get(msg, "role"));
	return r && *r ? r : fallback;
}

/* The part types that carry text: Chat and Anthropic "text", the
 * Responses API's "input_text" / "output_text". */
static bool text_part(const char *type)
{
	return !strcmp(type, "text") || !strcmp(type, "input_text") || !strcmp(type, "output_text");
}

/* A content value: a string, or an array of parts of which the text ones
 * count. With `results`, Anthropic tool_result blocks count too, as role
 * "tool" (their own content is not searched for further results). */
static void content(struct buf *all, const char *role, const cJSON *c, bool results)
{
	if (cJSON_IsString(c)) {
		piece(all, role, c->valuestring);
		return;
	}
	if (!cJSON_IsArray(c))
		return; /* null (an assistant turn of only tool calls), or unknown */
	const cJSON *part;
	cJSON_ArrayForEach(part, c)
	{
		const char *type = pj_type(part);
		if (text_part(type))
			piece(all, role, cJSON_GetStringValue(pj_get(part, "text")));
		else if (results && !strcmp(type, "tool_result"))
			content(all, "tool", pj_get(part, "content"), false);
	}
}

/* messages[] of {role, content}: Chat Completions, Anthropic, Ollama /api/chat */
static void messages(struct buf *all, const cJSON *msgs)
{
	const cJSON *m;
	if (!cJSON_IsArray(msgs))
		return;
	cJSON_ArrayForEach(m, msgs)
	{
		if (cJSON_IsObject(m))
			content(all, role_of(m, "user"), pj_get(m, "content"), true);
	}
}

/* Legacy completions and Ollama /api/generate: a string, or (OpenAI) an
 * array of strings; token-id arrays are not text. */
static void prompt_field(struct buf *all, const cJSON *v)
{
	const cJSON *s;
	if (cJSON_IsString(v)) {
		piece(all, "user", v->valuestring);
		return;
	}
	if (!cJSON_IsArray(v))
		return;
	cJSON_ArrayForEach(s, v)
	{
		piece(all, "user", cJSON_GetStringValue(s));
	}
}

static void chat(struct buf *all, const cJSON *j)
{
	messages(all, pj_get(j, "messages"));
	prompt_field(all, pj_get(j, "prompt"));
}

/* input: a string, or items: messages, and tool outputs; the model's
 * function calls and reasoning items are skipped. */
static void responses(struct buf *all, const cJSON *j)
{
	content(all, "system", pj_get(j, "instructions"), false);
	const cJSON *input = pj_get(j, "input");
	const cJSON *it;
	if (cJSON_IsString(input)) {
		piece(all, "user", input->valuestring);
		return;
	}
	if (!cJSON_IsArray(input))
		return;
	cJSON_ArrayForEach(it, input)
	{
		if (!strcmp(pj_type(it), "function_call_output"))
			content(all, "tool", pj_get(it, "output"), false);
		else if (cJSON_IsString(pj_get(it, "role")))
			content(all, role_of(it, "user"), pj_get(it, "content"), false);
	}
}

static void anthropic(struct buf *all, const cJSON *j)
{
	content(all, "system", pj_get(j, "system"), false);
	messages(all, pj_get(j, "messages"));
}

/* parts[].text; thought parts are the model's reasoning, not the prompt */
static void gemini_parts(struct buf *all, const char *role, const cJSON *parts)
{
	const cJSON *part;
	if (!cJSON_IsArray(parts))
		return;
	cJSON_ArrayForEach(part, parts)
	{
		if (!cJSON_IsTrue(pj_get(part, "thought")))
			piece(all, role, cJSON_GetStringValue(pj_get(part, "text")));
	}
}

static void gemini(struct buf *all, const cJSON *j)
{
	/* the REST API takes snake_case field names as well */
	const cJSON *sys = pj_get(j, "systemInstruction");
	const cJSON *c;
	if (!sys)
		sys = pj_get(j, "system_instruction");
	gemini_parts(all, "system", pj_get(sys, "parts"));
	const cJSON *contents = pj_get(j, "contents");
	if (!cJSON_IsArray(contents))
		return;
	cJSON_ArrayForEach(c, contents)
	{
		/* a single-turn request may leave the role out: it is the user's */
		gemini_parts(all, role_of(c, "user"), pj_get(c, "parts"));
	}
}

/* /api/generate has system and prompt, /api/chat messages */
static void ollama(struct buf *all, const cJSON *j)
{
	piece(all, "system", cJSON_GetStringValue(pj_get(j, "system")));
	messages(all, pj_get(j, "messages"));
	piece(all, "user", cJSON_GetStringValue(pj_get(j, "prompt")));
}

/* len without a trailing character the collection cap split in two */
static size_t whole_chars(const char *s, size_t len)
{
	for (size_t back = 1; back <= 4 && back <= len; back++) {
		unsigned char c = (unsigned char)s[len - back];
		if ((c & 0xC0) == 0x80)
			continue; /* a continuation byte: its lead is further back */
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len; /* not UTF-8 there: as is */
}

/* p = the last LLM_PROMPT_KEEP bytes of all, from a character boundary;
 * everything else of it is counted in cut. */
static void keep_tail(struct llm_prompt *p, const struct buf *all)
{
	size_t len = all->len ? whole_chars(all->data, all->len) : 0;
	size_t from = len > LLM_PROMPT_KEEP ? len - LLM_PROMPT_KEEP : 0;
	/* at most 3: a run of stray continuation bytes (invalid UTF-8 in the
	 * body) is text as is, not a character to step over */
	for (int i = 0; from && i < 3 && from < len; i++) {
		if (((unsigned char)all->data[from] & 0xC0) != 0x80)
			break;
		from++;
	}
	if (len)
		buf_append(&p->text, all->data + from, len - from);
	p->cut = all->cut + (all->len - len) + from;
}

int llm_prompt_extract(struct llm_prompt *p, enum provider_id api, const char *body, size_t n)
{
	buf_reset(&p->text);
	hold_string(&p->text);
	p->text.cut = 0;
	p->cut = 0;
	/* Realtime prompts arrive as WebSocket events, not in a request body */
	if (api == PROVIDER_OPENAI_REALTIME)
		return 0;
	cJSON *j = cJSON_ParseWithLength(body, n);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -1;
	}
	struct buf all;
	buf_init(&all, PROMPT_COLLECT);
	switch (api) {
	case PROVIDER_OPENAI_RESPONSES:
		responses(&all, j);
		break;
	case PROVIDER_ANTHROPIC:
		anthropic(&all, j);
		break;
	case PROVIDER_GEMINI:
		gemini(&all, j);
		break;
	case PROVIDER_OLLAMA:
		ollama(&all, j);
		break;
	default: /* OpenAI, compatible servers, and a body of an unknown API */
		chat(&all, j);
		break;
	}
	cJSON_Delete(j);
	keep_tail(p, &all);
	buf_free(&all);
	return 0;
}
