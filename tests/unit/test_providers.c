/* Conformance of every provider decoder over the real captures in
 * ../shared/fixtures/wire: expectations written down from each file; SSE
 * captures also fed through the SSE parser split at every byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "llm/provider.h"
#include "wire/ndjson.h"
#include "wire/sse.h"

#define NA (-1)

struct expect {
	const char *file;
	enum provider_id api;
	const char *text_prefix;
	size_t text_len;
	const char *finish;
	int64_t in, out, cached, creation, reasoning;
	bool done, failed;
	const char *error; /* substring, or NULL */
	const char *model;
};

static const struct expect cases[] = {
    /* Anthropic: input = input + cache reads + cache writes */
    {"anthropic_messages_stream_cache_usage.sse", PROVIDER_ANTHROPIC, "Hi", 2, "end_turn", 4620, 5,
     4608, 0, NA, true, false, NULL, "claude-sonnet-4-5-20250929"},
    {"anthropic_messages_stream_docs_basic.sse", PROVIDER_ANTHROPIC, "Hello!", 6, "end_turn", 25,
     15, NA, NA, NA, true, false, NULL, "claude-sonnet-4-5-20250929"},
    /* thinking deltas are not the completion text */
    {"anthropic_messages_stream_docs_thinking.sse", PROVIDER_ANTHROPIC, "27 * 453 = 12,231", 17,
     "end_turn", NA, NA, NA, NA, NA, true, false, NULL, "claude-sonnet-4-5-20250929"},
    {"anthropic_messages_stream_error_event.sse", PROVIDER_ANTHROPIC, "", 0, "", NA, NA, NA, NA, NA,
     false, true, "Overloaded", ""},
    {"anthropic_messages_stream_recorded_text.sse", PROVIDER_ANTHROPIC, "[12345,67890]", 13,
     "end_turn", 135, 10, 0, 0, NA, true, false, NULL, "claude-sonnet-4-5-20250929"},
    {"anthropic_messages_stream_recorded_tool_use.sse", PROVIDER_ANTHROPIC, "", 0, "tool_use", 656,
     74, 0, 0, NA, true, false, NULL, "claude-haiku-4-5-20251001"},
    {"anthropic_messages_stream_thinking_refusal.sse", PROVIDER_ANTHROPIC, "Hi", 2, "refusal", 28,
     106, 0, 0, NA, true, false, NULL, "claude-fable-5"},
    /* these SDK fixtures end without the blank line after message_stop: per
     * the SSE rules that last event is never dispatched */
    {"anthropic_messages_stream_basic.sse", PROVIDER_ANTHROPIC, "Hello there!", 12, "end_turn", 11,
     6, NA, NA, NA, false, false, NULL, "claude-3-opus-latest"},
    {"anthropic_messages_stream_tool_use.sse", PROVIDER_ANTHROPIC,
     "I'll check the current weather in Paris for you.", 48, "tool_use", 377, 65, 0, 0, NA, false,
     false, NULL, "claude-sonnet-4-20250514"},
    {"anthropic_messages_stream_max_tokens_padded_json.sse", PROVIDER_ANTHROPIC,
     "I'll create a comprehensive tax guide", 135, "max_tokens", 450, 124, 0, 0, NA, false, false,
     NULL, "claude-3-7-sonnet-20250219"},
    /* Gemini: no terminator; output includes thinking tokens */
    {"gemini_stream.sse", PROVIDER_GEMINI, "The capital of Wyoming is **Cheyenne**.\n", 40, "STOP",
     7, 10, NA, NA, NA, true, false, NULL, "gemini-2.0-flash"},
    {"gemini_stream_thinking.sse", PROVIDER_GEMINI, "The sky is blue because", 263, "STOP", 10, 588,
     NA, NA, 540, true, false, NULL, "gemini-2.5-flash"},
    {"gemini_vertex_stream.sse", PROVIDER_GEMINI, "Cheyenne", 8, "STOP", 6, 4, NA, NA, NA, true,
     false, NULL, ""},
    /* this capture ends with one CRLF, no blank line: per the SSE rules its
     * only event is never dispatched (the pipeline reports "truncated") */
    {"gemini_stream_prompt_blocked.sse", PROVIDER_GEMINI, "", 0, "", NA, NA, NA, NA, NA, false,
     false, NULL, ""},
    /* the error arrives as bare JSON lines after a data event */
    {"gemini_stream_error_midstream.txt", PROVIDER_GEMINI, "The", 3, "", 7, NA, NA, NA, NA, false,
     true, "The model is overloaded", "gemini-2.0-flash"},
    /* OpenAI Responses */
    {"openai_responses_stream_basic.sse", PROVIDER_OPENAI_RESPONSES,
     "Hello! How can I assist you today?", 34, "completed", 26, 10, 0, NA, 0, true, false, NULL,
     "gpt-4o-mini-2024-07-18"},
    {"openai_responses_stream_reasoning.sse", PROVIDER_OPENAI_RESPONSES,
     "The sum of the first 5 positive integers is 15.", 47, "completed", 17, 122, 0, NA, 64, true,
     false, NULL, "o4-mini-2025-04-16"},
    {"openai_responses_stream_openapi_doc_example.sse", PROVIDER_OPENAI_RESPONSES, "Hi", 2,
     "completed", 37, 11, NA, NA, 0, true, false, NULL, "gpt-5.4"},
    {"openai_responses_stream_error.sse", PROVIDER_OPENAI_RESPONSES, "", 0, "failed", NA, NA, NA,
     NA, NA, false, true, "", "gpt-4o-mini-2024-07-18"},
    /* OpenAI-compatible servers through the Chat Completions decoder */
    {"ollama_openai_compat_stream.sse", PROVIDER_OPENAI, "The sky", 7, "stop", 26, 282, NA, NA, NA,
     true, false, NULL, "llama3.2"},
    {"vllm_chat_stream_continuous_usage.sse", PROVIDER_OPENAI, "Hello!", 6, "stop", 12, 2, 0, NA,
     NA, true, false, NULL, "meta-llama/Llama-3.1-8B-Instruct"},
    {"llamacpp_chat_stream.sse", PROVIDER_OPENAI, "Hello", 5, "stop", 1085, 247, NA, NA, NA, true,
     false, NULL, "gpt-oss:20b"},
    /* vLLM still sends [DONE] after the error event: the error decides */
    {"vllm_chat_stream_error_midstream.sse", PROVIDER_OPENAI, "", 0, "", NA, NA, NA, NA, NA, true,
     true, "", NULL},
    {"llamacpp_chat_stream_error_midstream.sse", PROVIDER_OPENAI, "", 0, "", NA, NA, NA, NA, NA,
     false, true, "", NULL},
    /* Ollama NDJSON */
    {"ollama_chat.ndjson", PROVIDER_OLLAMA, "The sky", 7, "stop", 26, 282, NA, NA, NA, true, false,
     NULL, "llama3.2"},
    {"ollama_chat_tool_call.ndjson", PROVIDER_OLLAMA, "", 0, "stop", 169, 15, NA, NA, NA, true,
     false, NULL, "llama3.2"},
    {"ollama_generate.ndjson", PROVIDER_OLLAMA, "The", 3, "stop", 26, 259, NA, NA, NA, true, false,
     NULL, "llama3.2"},
    {"ollama_generate_docs_example.ndjson", PROVIDER_OLLAMA, "That's a fantastic question!", 28,
     "stop", NA, NA, NA, NA, NA, true, false, NULL, "gemma4"},
    {"ollama_generate_error_midstream_docs_example.ndjson", PROVIDER_OLLAMA, " Yes.Ican", 9, "", NA,
     NA, NA, NA, NA, false, true, "an error was encountered while running the model", "gemma4"},
};

static void on_event(void *ctx, const struct sse_event *ev)
{
	llm_decode_event(ctx, ev->type, ev->data, ev->data_len);
}

static void on_line(void *ctx, const char *line, size_t n)
{
	llm_decode_event(ctx, NULL, line, n);
}

static void on_other(void *ctx, const char *line, size_t n)
{
	llm_decode_other_line(ctx, line, n);
}

static void decode(struct llm_decode *d, enum provider_id api, const char *s, size_t n, size_t cut,
                   bool ndjson)
{
	llm_decode_init(d, api);
	if (ndjson) {
		struct buf partial;
		buf_init(&partial, 0);
		ndjson_feed(&partial, s, cut, on_line, d);
		ndjson_feed(&partial, s + cut, n - cut, on_line, d);
		ndjson_finish(&partial, on_line, d);
		buf_free(&partial);
		return;
	}
	struct sse_parser *p = sse_new(on_event, d, 0);
	sse_set_other_fn(p, on_other);
	sse_feed(p, s, cut);
	sse_feed(p, s + cut, n - cut);
	sse_finish(p);
	sse_free(p);
	llm_decode_finish(d);
}

static void check(const struct expect *e, const struct llm_decode *d, size_t cut)
{
	const char *text = d->text.data ? d->text.data : "";
	if (e->text_prefix &&
	    (strncmp(text, e->text_prefix, strlen(e->text_prefix)) || d->text.len != e->text_len))
		fail_msg("%s (cut %zu): text '%s' (%zu bytes)", e->file, cut, text, d->text.len);
	if (e->finish && strcmp(d->finish_reason, e->finish))
		fail_msg("%s: finish '%s'", e->file, d->finish_reason);
	if (d->usage.input_tokens != e->in || d->usage.output_tokens != e->out ||
	    d->usage.cached_input_tokens != e->cached ||
	    d->usage.cache_creation_input_tokens != e->creation ||
	    d->usage.reasoning_tokens != e->reasoning)
		fail_msg("%s: usage in %lld out %lld cached %lld creation %lld reasoning %lld",
		         e->file, (long long)d->usage.input_tokens,
		         (long long)d->usage.output_tokens, (long long)d->usage.cached_input_tokens,
		         (long long)d->usage.cache_creation_input_tokens,
		         (long long)d->usage.reasoning_tokens);
	if (d->done != e->done || d->failed != e->failed)
		fail_msg("%s: done %d failed %d (%s)", e->file, d->done, d->failed, d->error);
	if (e->error && (!d->error[0] || !strstr(d->error, e->error)))
		fail_msg("%s: error '%s'", e->file, d->error);
	if (e->model && strcmp(d->response_model, e->model))
		fail_msg("%s: model '%s'", e->file, d->response_model);
}

static void test_wire_conformance(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct expect *e = &cases[i];
		size_t n;
		char *s = fixture_wire(e->file, &n);
		if (!s)
			fail_msg("missing %s", e->file);
		bool ndjson = strstr(e->file, ".ndjson") != NULL;
		for (size_t cut = 0; cut <= n; cut++) {
			struct llm_decode d = {0};
			decode(&d, e->api, s, n, cut, ndjson);
			check(e, &d, cut);
			llm_decode_free(&d);
		}
		free(s);
	}
}

/* Tool calls, reassembled from their argument fragments. */
static void test_wire_tool_calls(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	static const struct {
		const char *file;
		enum provider_id api;
		const char *name, *args;
	} calls[] = {
	    {"openai_chat_stream_tool_calls.sse", PROVIDER_OPENAI, "get_weather",
	     "{\"city\":\"New York City\"}"},
	    {"openai_chat_stream_tool_calls_include_usage.sse", PROVIDER_OPENAI, "GetPersonAge",
	     "{\"personName\":\"Alice\"}"},
	    {"anthropic_messages_stream_recorded_tool_use.sse", PROVIDER_ANTHROPIC, "get_weather",
	     "{\"location\": \"San Francisco, CA\", \"units\": \"f\"}"},
	    {"anthropic_messages_stream_tool_use.sse", PROVIDER_ANTHROPIC, "get_weather",
	     "{\"location\": \"Paris\"}"},
	    {"ollama_chat_tool_call.ndjson", PROVIDER_OLLAMA, "get_weather",
	     "{\"city\":\"Tokyo\"}"},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		size_t n;
		char *s = fixture_wire(calls[i].file, &n);
		assert_non_null(s);
		for (size_t cut = 0; cut <= n; cut += 13) {
			struct llm_decode d = {0};
			decode(&d, calls[i].api, s, n, cut,
			       strstr(calls[i].file, ".ndjson") != NULL);
			if (d.ntools != 1 || strcmp(d.tools[0].name, calls[i].name) ||
			    strcmp(d.tools[0].args.data ? d.tools[0].args.data : "", calls[i].args))
				fail_msg("%s cut %zu: %u tools, first '%s' '%s'", calls[i].file,
				         cut, d.ntools, d.ntools ? d.tools[0].name : "",
				         d.ntools && d.tools[0].args.data ? d.tools[0].args.data
				                                          : "");
			llm_decode_free(&d);
		}
		free(s);
	}
	/* Gemini and Responses (own bodies) */
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_GEMINI);
	const char g[] = "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":"
	                 "\"lookup\",\"args\":{\"q\":\"x\"}}}]},\"finishReason\":\"STOP\"}]}";
	gemini_decode_event(&d, g, sizeof(g) - 1);
	assert_int_equal(d.ntools, 1);
	assert_string_equal(d.tools[0].name, "lookup");
	assert_string_equal(d.tools[0].args.data, "{\"q\":\"x\"}");
	llm_decode_init(&d, PROVIDER_OPENAI_RESPONSES);
	const char r1[] = "{\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":"
	                  "{\"type\":\"function_call\",\"name\":\"sum\"}}";
	const char r2[] = "{\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,"
	                  "\"delta\":\"{\\\"a\\\":\"}";
	const char r3[] = "{\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,"
	                  "\"delta\":\"1}\"}";
	responses_decode_event(&d, r1, sizeof(r1) - 1);
	responses_decode_event(&d, r2, sizeof(r2) - 1);
	responses_decode_event(&d, r3, sizeof(r3) - 1);
	assert_int_equal(d.ntools, 1);
	assert_string_equal(d.tools[0].name, "sum");
	assert_string_equal(d.tools[0].args.data, "{\"a\":1}");
	llm_decode_free(&d);
}

/* Durations the servers report about themselves. */
static void test_wire_server_timings(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = fixture_wire("ollama_chat.ndjson", &n);
	struct llm_decode d = {0};
	decode(&d, PROVIDER_OLLAMA, s, n, n / 3, true);
	/* total_duration 4883583458 ns, load 1334875, prompt eval 342546000, eval 4535599000 */
	assert_true(d.server_timings.total_ms > 4883.58 && d.server_timings.total_ms < 4883.59);
	assert_true(d.server_timings.load_ms > 1.33 && d.server_timings.load_ms < 1.34);
	assert_true(d.server_timings.prompt_ms > 342.54 && d.server_timings.prompt_ms < 342.55);
	assert_true(d.server_timings.generation_ms > 4535.59 &&
	            d.server_timings.generation_ms < 4535.6);
	free(s);
	s = fixture_wire("llamacpp_chat_stream.sse", &n);
	decode(&d, PROVIDER_OPENAI, s, n, n / 2, false);
	assert_true(d.server_timings.prompt_ms == 203.378 &&
	            d.server_timings.generation_ms == 933.63);
	assert_true(d.server_timings.total_ms < 0);
	llm_decode_free(&d);
	free(s);
}

/* Plain (non-streaming) bodies of each API. */
static void test_gemini_block_reason(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = fixture_wire("gemini_stream_prompt_blocked.sse", &n);
	assert_non_null(s);
	/* the same bytes with the event terminated, as a live server sends them */
	char *t = malloc(n + 3);
	memcpy(t, s, n);
	memcpy(t + n, "\r\n", 2);
	struct llm_decode d = {0};
	decode(&d, PROVIDER_GEMINI, t, n + 2, n / 2, false);
	assert_true(d.failed);
	assert_string_equal(d.error, "prompt blocked: SAFETY");
	llm_decode_free(&d);
	free(t);
	free(s);
}

static void test_plain_bodies(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	const char anth[] =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\",\"content\":"
	    "[{\"type\":\"thinking\",\"thinking\":\"hmm\"},{\"type\":\"text\",\"text\":"
	    "\"Bonjour\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,"
	    "\"cache_read_input_tokens\":10,\"output_tokens\":2}}";
	llm_decode_init(&d, PROVIDER_ANTHROPIC);
	assert_true(llm_decode_response(&d, anth, sizeof(anth) - 1) & DEC_CONTENT);
	assert_string_equal(d.text.data, "Bonjour");
	assert_int_equal(d.usage.input_tokens, 13);
	assert_int_equal(d.usage.cached_input_tokens, 10);
	assert_string_equal(d.finish_reason, "end_turn");

	const char gem[] =
	    "[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]},"
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":"
	    "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,"
	    "\"candidatesTokenCount\":2}}]";
	llm_decode_init(&d, PROVIDER_GEMINI);
	llm_decode_response(&d, gem, sizeof(gem) - 1);
	assert_string_equal(d.text.data, "ab");
	assert_true(d.done);
	assert_int_equal(d.usage.output_tokens, 2);
	llm_decode_free(&d);
}

/* Whole bodies from the shared captures. */
static void test_wire_plain_bodies(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct llm_decode d = {0};
	size_t n;
	char *s = fixture_wire("gemini_error_404.json", &n);
	llm_decode_init(&d, PROVIDER_GEMINI);
	assert_int_equal(llm_decode_response(&d, s, n), DEC_ERROR | DEC_END);
	assert_true(d.failed && d.error[0]);
	free(s);
	s = fixture_wire("anthropic_error_429_rate_limit.json", &n);
	assert_non_null(s);
	free(s);
	s = fixture_wire("gemini_vertex_unary_implicit_caching.json", &n);
	llm_decode_init(&d, PROVIDER_GEMINI);
	llm_decode_response(&d, s, n);
	assert_false(d.failed);
	assert_true(d.usage.cached_input_tokens > 0);
	assert_true(d.text.len > 0);
	free(s);
	llm_decode_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_conformance), cmocka_unit_test(test_gemini_block_reason),
	    cmocka_unit_test(test_wire_tool_calls),  cmocka_unit_test(test_wire_server_timings),
	    cmocka_unit_test(test_plain_bodies),     cmocka_unit_test(test_wire_plain_bodies),
	};
	return cmocka_run_group_tests_name("providers", tests, NULL, NULL);
}
