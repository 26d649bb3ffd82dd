/* Provider-independent decoding: names, and dispatch by wire API to the
 * decoders in llm/providers/ (their shared helpers: llm/json.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macros.h"
#include "core/buf.h"
#include "core/json_arena.h"
#include "llm/json.h"

#define OTHER_LINES_LIMIT (64u * 1024)

const char *provider_name(enum provider_id id)
{
	switch (id) {
	case PROVIDER_OPENAI:
	case PROVIDER_OPENAI_RESPONSES:
	case PROVIDER_OPENAI_REALTIME:
		return "openai";
	case PROVIDER_ANTHROPIC:
		return "anthropic";
	case PROVIDER_GEMINI:
		return "gcp.gemini";
	case PROVIDER_OLLAMA:
		return "ollama";
	default:
		return "unknown";
	}
}

const char *provider_operation(enum provider_id id)
{
	switch (id) {
	case PROVIDER_GEMINI:
		return "generate_content";
	default:
		return "chat";
	}
}

const char *llm_provider(const struct llm_decode *d)
{
	return d->provider_override[0] ? d->provider_override : provider_name(d->provider);
}

void llm_decode_init(struct llm_decode *d, enum provider_id p)
{
	llm_decode_free(d);
	memset(d, 0, sizeof(*d));
	d->provider = p;
	d->usage.input_tokens = d->usage.output_tokens = -1;
	d->usage.cached_input_tokens = d->usage.reasoning_tokens = -1;
	d->usage.cache_creation_input_tokens = d->usage.cache_write_1h_tokens = -1;
	d->server_timings.total_ms = d->server_timings.load_ms = -1;
	d->server_timings.prompt_ms = d->server_timings.generation_ms = -1;
	buf_init(&d->text, LLM_TEXT_LIMIT);
	buf_init(&d->other, OTHER_LINES_LIMIT);
}

void llm_decode_free(struct llm_decode *d)
{
	buf_free(&d->text);
	buf_free(&d->other);
	for (uint32_t i = 0; i < d->ntools; i++)
		buf_free(&d->tools[i].args);
	free(d->tools);
	d->tools = NULL;
	d->ntools = 0;
}

int llm_decode_request(struct llm_decode *d, const char *body, size_t n)
{
	/* model / stream / stream_options are named alike by every API that
	 * carries them in the body (Gemini names the model in the path). */
	return openai_decode_request(d, body, n);
}

typedef int (*decode_fn)(struct llm_decode *d, const char *s, size_t n);

/* Per wire API: one stream event (SSE data or NDJSON line), one whole body.
 * Unknown providers decode as OpenAI-compatible. */
static const struct {
	decode_fn event, response;
} decoders[] = {
    [PROVIDER_UNKNOWN] = {openai_decode_event, openai_decode_response},
    [PROVIDER_OPENAI] = {openai_decode_event, openai_decode_response},
    [PROVIDER_OPENAI_RESPONSES] = {responses_decode_event, responses_decode_response},
    [PROVIDER_ANTHROPIC] = {anthropic_decode_event, anthropic_decode_response},
    [PROVIDER_GEMINI] = {gemini_decode_event, gemini_decode_response},
    [PROVIDER_OLLAMA] = {ollama_decode_line, ollama_decode_response},
    [PROVIDER_OPENAI_REALTIME] = {realtime_decode_event, realtime_decode_response},
};

static unsigned decoder_of(const struct llm_decode *d)
{
	return (unsigned)d->provider < ARRAY_LEN(decoders) ? d->provider : PROVIDER_UNKNOWN;
}

int llm_decode_event(struct llm_decode *d, const char *event_type, const char *data, size_t n)
{
	(void)event_type;   /* every API repeats the event name inside its JSON */
	json_arena_begin(); /* the event's JSON lives only during its decoding */
	int r = decoders[decoder_of(d)].event(d, data, n);
	json_arena_end();
	return r;
}

int llm_decode_response(struct llm_decode *d, const char *body, size_t n)
{
	return decoders[decoder_of(d)].response(d, body, n);
}

void llm_decode_other_line(struct llm_decode *d, const char *line, size_t n)
{
	buf_append(&d->other, line, n);
	buf_append(&d->other, "\n", 1);
}

int llm_decode_finish(struct llm_decode *d)
{
	int flags = DEC_NONE;
	/* Gemini sends a mid-stream error as bare JSON lines, not as an event. */
	if (d->other.len) {
		cJSON *j = cJSON_ParseWithLength(d->other.data, d->other.len);
		if (j && pj_take_error(d, j))
			flags |= DEC_ERROR;
		cJSON_Delete(j);
	}
	if (d->provider == PROVIDER_GEMINI && d->finished_ok && !d->failed) {
		d->done = true; /* Gemini has no terminator: the body ending is one */
		flags |= DEC_DONE;
	}
	return flags;
}
