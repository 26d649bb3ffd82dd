/* Provider decoders: turn request bodies, SSE event payloads and plain JSON
 * response bodies of one LLM call into normalised facts (model, content
 * deltas, finish reason, usage, error). No timing here: the caller stamps
 * each call's return flags with the capture timestamp. */
#ifndef LLMOBS_PROVIDER_H
#define LLMOBS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum provider_id {
	PROVIDER_UNKNOWN = 0,
	PROVIDER_OPENAI = 1,
};

/* OTel gen_ai.provider.name value */
const char *provider_name(enum provider_id id);

/* Usage normalised to one meaning; -1 = not reported. input_tokens
 * includes cached input. */
struct llm_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cached_input_tokens;
	int64_t reasoning_tokens;
};

#define LLM_TEXT_LIMIT (1u << 20) /* reassembled completion text cap */

struct llm_decode {
	enum provider_id provider;
	char model[128]; /* from the request body; response model if absent */
	char response_model[128];
	char finish_reason[32];
	char error[256];       /* provider error message, or decode failure reason */
	bool stream_requested; /* request body "stream": true */
	bool include_usage;    /* stream_options.include_usage */
	bool done;             /* terminator seen ([DONE]) */
	bool failed;           /* error event/body or malformed payload */
	struct llm_usage usage;
	struct buf text;    /* content deltas (choice 0), capped at LLM_TEXT_LIMIT */
	uint32_t deltas;    /* content deltas seen */
	uint32_t events;    /* payloads decoded */
	uint32_t malformed; /* payloads that were not valid JSON */
};

/* Flags returned by the decode calls. */
enum {
	DEC_NONE = 0,
	DEC_CONTENT = 1 << 0, /* this payload carried a (non-empty) content delta */
	DEC_DONE = 1 << 1,    /* terminator: the stream is complete */
	DEC_ERROR = 1 << 2,   /* provider error object, or malformed payload */
	DEC_USAGE = 1 << 3,   /* usage figures updated */
	DEC_FINISH = 1 << 4,  /* finish reason set */
};

void llm_decode_init(struct llm_decode *d, enum provider_id p);
void llm_decode_free(struct llm_decode *d);

/* OpenAI Chat Completions (and OpenAI-compatible servers) */
int openai_decode_request(struct llm_decode *d, const char *body, size_t n);
/* one SSE event's data field (may be "[DONE]") */
int openai_decode_event(struct llm_decode *d, const char *data, size_t n);
/* a whole non-streaming JSON response body, or an error body */
int openai_decode_response(struct llm_decode *d, const char *body, size_t n);

#endif
