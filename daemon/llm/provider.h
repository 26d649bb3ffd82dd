/* Provider decoders: turn request bodies, SSE event payloads and plain JSON
 * response bodies of one LLM call into normalised facts (model, content
 * deltas, finish reason, usage, error). No timing here: the caller stamps
 * each call's return flags with the capture timestamp. */
#ifndef LLMOBS_LLM_PROVIDER_H
#define LLMOBS_LLM_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The wire API a call speaks; provider_name() gives the OTel
 * gen_ai.provider.name it implies (a route may override it). */
enum provider_id {
	PROVIDER_UNKNOWN = 0,
	PROVIDER_OPENAI = 1,           /* Chat Completions and compatible servers */
	PROVIDER_OPENAI_RESPONSES = 2, /* /v1/responses */
	PROVIDER_ANTHROPIC = 3,        /* /v1/messages */
	PROVIDER_GEMINI = 4,           /* :streamGenerateContent / :generateContent */
	PROVIDER_OLLAMA = 5,           /* /api/chat, /api/generate (NDJSON) */
	PROVIDER_OPENAI_REALTIME = 6,  /* /v1/realtime (WebSocket events) */
};

const char *provider_name(enum provider_id id);
/* OTel operation name: "chat", "generate_content", "text_completion" */
const char *provider_operation(enum provider_id id);

/* Usage normalised to one meaning; -1 = not reported. input_tokens
 * includes cached input. */
struct llm_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cached_input_tokens;
	int64_t cache_creation_input_tokens;
	int64_t cache_write_1h_tokens; /* of those, written with a 1-hour TTL (Anthropic) */
	int64_t reasoning_tokens;      /* part of output_tokens */
};

#define LLM_TEXT_LIMIT      (1u << 20) /* reassembled completion text cap */
#define LLM_MAX_TOOL_CALLS  16
#define LLM_TOOL_ARGS_LIMIT (64u * 1024)

/* A tool (function) call the model made; arguments as JSON text. */
struct llm_tool_call {
	int key; /* the provider's index for it (choice tool index, content block, ...) */
	char name[128];
	struct buf args;
};

/* What the server says it spent (Ollama durations, llama.cpp timings),
 * milliseconds; -1 = not reported. */
struct llm_server_timings {
	double total_ms, load_ms, prompt_ms, generation_ms;
};

struct llm_decode {
	enum provider_id provider;
	char provider_override[32]; /* e.g. "ollama" for its OpenAI-compatible /v1 */
	char model[128];            /* from the request body; response model if absent */
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
	struct buf other;   /* non-event lines of an SSE body (Gemini's bare JSON errors) */
	struct llm_server_timings server_timings;
	struct llm_tool_call *tools; /* LLM_MAX_TOOL_CALLS, allocated on the first */
	uint32_t ntools;
	uint32_t tools_dropped; /* calls beyond LLM_MAX_TOOL_CALLS */
	bool finished_ok;       /* Gemini: a candidate carried a finishReason */
	uint32_t audio_deltas;  /* Realtime: audio deltas (counted, never kept) */
	uint64_t audio_bytes;   /* ... and their decoded size */
};

/* Flags returned by the decode calls. */
enum {
	DEC_NONE = 0,
	DEC_CONTENT = 1 << 0, /* this payload carried a (non-empty) content delta */
	DEC_DONE = 1 << 1,    /* terminator: the stream is complete */
	DEC_ERROR = 1 << 2,   /* provider error object, or malformed payload */
	DEC_USAGE = 1 << 3,   /* usage figures updated */
	DEC_FINISH = 1 << 4,  /* finish reason set */
	/* the provider ended the stream with an error (an error event or
	 * response.failed): like DEC_DONE, nothing of this call follows */
	DEC_END = 1 << 5,
};

/* d must be zeroed or previously initialised (its buffers are freed). */
void llm_decode_init(struct llm_decode *d, enum provider_id p);
void llm_decode_free(struct llm_decode *d);
/* gen_ai.provider.name of this call */
const char *llm_provider(const struct llm_decode *d);

/* Dispatch on d->provider. event_type is the SSE event name (or NULL for
 * an NDJSON line). */
int llm_decode_request(struct llm_decode *d, const char *body, size_t n);
int llm_decode_event(struct llm_decode *d, const char *event_type, const char *data, size_t n);
int llm_decode_response(struct llm_decode *d, const char *body, size_t n);
/* A line of the event stream that is not an event field (kept, bounded). */
void llm_decode_other_line(struct llm_decode *d, const char *line, size_t n);
/* The response body ended: returns DEC_DONE when that completes the stream
 * (APIs without a terminator), DEC_ERROR for an error left in other lines. */
int llm_decode_finish(struct llm_decode *d);

/* OpenAI Chat Completions (and OpenAI-compatible servers) */
int openai_decode_request(struct llm_decode *d, const char *body, size_t n);
/* one SSE event's data field (may be "[DONE]") */
int openai_decode_event(struct llm_decode *d, const char *data, size_t n);
/* a whole non-streaming JSON response body, or an error body */
int openai_decode_response(struct llm_decode *d, const char *body, size_t n);

int responses_decode_event(struct llm_decode *d, const char *data, size_t n);
int responses_decode_response(struct llm_decode *d, const char *body, size_t n);
int anthropic_decode_event(struct llm_decode *d, const char *data, size_t n);
int anthropic_decode_response(struct llm_decode *d, const char *body, size_t n);
int gemini_decode_event(struct llm_decode *d, const char *data, size_t n);
int gemini_decode_response(struct llm_decode *d, const char *body, size_t n);
int realtime_decode_event(struct llm_decode *d, const char *data, size_t n);
int realtime_decode_response(struct llm_decode *d, const char *body, size_t n);
int ollama_decode_line(struct llm_decode *d, const char *line, size_t n);
int ollama_decode_response(struct llm_decode *d, const char *body, size_t n);

#endif
