/* OpenAI Chat Completions decoding: conformance over the real captures in
 * ../shared/fixtures/wire (expectations written down from each file), the
 * same through the SSE parser split at every byte, and our own bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "provider.h"
#include "sse.h"

struct expect {
	const char *file;
	const char *text;
	const char *finish; /* "" = none */
	int64_t in, out, cached, reasoning;
	bool done, failed;
	const char *error; /* substring, or NULL */
	const char *model;
};

static const struct expect wire[] = {
    {"openai_chat_stream.sse",
     "I'm unable to provide real-time weather updates. To get the current weather in San "
     "Francisco, I recommend checking a reliable weather website or a weather app.",
     "stop", 14, 30, -1, 0, true, false, NULL, "gpt-4o-2024-08-06"},
    {"openai_chat_stream_include_usage_cached.sse", "Hello! How can I assist you today?", "stop", 8,
     9, 5, 90, true, false, NULL, "gpt-4o-mini-2024-07-18"},
    {"openai_chat_stream_logprobs.sse", "Foo!", "stop", 9, 2, -1, 0, true, false, NULL,
     "gpt-4o-2024-08-06"},
    /* n=3: only choice 0 is the completion's text */
    {"openai_chat_stream_n3_multichoice.sse",
     "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}", "stop", 79, 42, -1, 0, true,
     false, NULL, "gpt-4o-2024-08-06"},
    {"openai_chat_stream_tool_calls.sse", "", "tool_calls", 44, 16, -1, 0, true, false, NULL,
     "gpt-4o-2024-08-06"},
    {"openai_chat_stream_tool_calls_include_usage.sse", "", "tool_calls", 61, 16, 0, 90, true,
     false, NULL, "gpt-4o-mini-2024-07-18"},
    {"openai_chat_stream_error_midstream.sse", "Hello", "", -1, -1, -1, -1, false, true,
     "The server had an error while processing your request", "gpt-4o-mini-2024-07-18"},
};

static void on_event(void *ctx, const struct sse_event *ev)
{
	openai_decode_event(ctx, ev->data, ev->data_len);
}

static void decode_sse(struct llm_decode *d, const char *s, size_t n, size_t cut)
{
	llm_decode_init(d, PROVIDER_OPENAI);
	struct sse_parser *p = sse_new(on_event, d, 0);
	sse_feed(p, s, cut);
	sse_feed(p, s + cut, n - cut);
	sse_finish(p);
	sse_free(p);
}

static void check(const struct expect *e, const struct llm_decode *d, size_t cut)
{
	const char *text = d->text.data ? d->text.data : "";
	if (strcmp(text, e->text))
		fail_msg("%s (cut %zu): text '%s'", e->file, cut, text);
	assert_string_equal(d->finish_reason, e->finish);
	assert_int_equal(d->usage.input_tokens, e->in);
	assert_int_equal(d->usage.output_tokens, e->out);
	assert_int_equal(d->usage.cached_input_tokens, e->cached);
	assert_int_equal(d->usage.reasoning_tokens, e->reasoning);
	assert_int_equal(d->done, e->done);
	assert_int_equal(d->failed, e->failed);
	if (e->error)
		assert_non_null(strstr(d->error, e->error));
	assert_string_equal(d->response_model, e->model);
	assert_int_equal(d->malformed, 0);
}

static void test_wire_conformance_every_split(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++) {
		size_t n;
		char *s = fixture_wire(wire[i].file, &n);
		if (!s)
			fail_msg("missing %s", wire[i].file);
		for (size_t cut = 0; cut <= n; cut++) {
			struct llm_decode d = {0};
			decode_sse(&d, s, n, cut);
			check(&wire[i], &d, cut);
			llm_decode_free(&d);
		}
		free(s);
	}
}

/* The OpenAPI doc example omits the "data: " prefixes: not an event stream.
 * It must decode to nothing rather than to garbage. */
static void test_wire_doc_example_without_prefixes(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = fixture_wire("openai_chat_stream_openapi_doc_example.txt", &n);
	assert_non_null(s);
	struct llm_decode d = {0};
	decode_sse(&d, s, n, n / 2);
	assert_int_equal(d.events, 0);
	assert_int_equal(d.text.len, 0);
	assert_false(d.done);
	llm_decode_free(&d);
	free(s);
}

static void test_wire_request(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = fixture_wire("openai_chat_request_include_usage.json", &n);
	assert_non_null(s);
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_request(&d, s, n), DEC_NONE);
	assert_string_equal(d.model, "gpt-4o-mini");
	assert_true(d.stream_requested);
	assert_true(d.include_usage);
	llm_decode_free(&d);
	free(s);
}

static void test_plain_bodies(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("openai_chat_completion.json", &n);
	assert_non_null(s);
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	int f = openai_decode_response(&d, s, n);
	assert_true(f & DEC_CONTENT);
	assert_true(f & DEC_USAGE);
	assert_string_equal(d.text.data, "Paris is the capital of France.");
	assert_string_equal(d.finish_reason, "stop");
	assert_int_equal(d.usage.input_tokens, 12);
	assert_int_equal(d.usage.output_tokens, 7);
	assert_false(d.failed);
	free(s);
	llm_decode_init(&d, PROVIDER_OPENAI);
	s = fixture_own("openai_error_429.json", &n);
	assert_int_equal(openai_decode_response(&d, s, n), DEC_ERROR);
	assert_true(d.failed);
	assert_string_equal(d.error,
	                    "Rate limit reached for gpt-4o in organization org-x on tokens "
	                    "per min");
	free(s);
	llm_decode_free(&d);
}

static void test_malformed_and_wrong_types(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	static const char *const odd[] = {
	    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":42}}]}",
	    "{\"choices\":{\"index\":0}}",
	    "{\"choices\":[7,null,\"x\"],\"usage\":\"lots\"}",
	    "{\"usage\":{\"prompt_tokens\":\"12\",\"completion_tokens\":-3}}",
	    "[1,2,3]",
	    "{\"error\":null,\"choices\":[]}",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		openai_decode_event(&d, odd[i], strlen(odd[i]));
	assert_int_equal(d.text.len, 0);
	assert_int_equal(d.usage.input_tokens, -1);
	assert_int_equal(d.usage.output_tokens, -1);
	assert_int_equal(d.malformed, 1); /* the array is not an object */
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char bad[] = "{\"choices\":[{\"delta\":{\"content\":\"x\"";
	assert_int_equal(openai_decode_event(&d, bad, sizeof(bad) - 1), DEC_ERROR);
	assert_true(d.failed);
	assert_int_equal(d.malformed, 1);
	assert_string_equal(d.error, "malformed JSON in a stream event");
	/* an unreadable request body does not fail the call */
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_request(&d, "{nope", 5), DEC_ERROR);
	assert_false(d.failed);
	assert_int_equal(openai_decode_event(&d, " [DONE]\r\n", 9), DEC_DONE);
	llm_decode_free(&d);
}

static void test_text_cap_counts_the_cut(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	char ev[1200];
	char chunk[1025];
	memset(chunk, 'y', 1024);
	chunk[1024] = '\0';
	snprintf(ev, sizeof(ev), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}",
	         chunk);
	const size_t events = 2048; /* 2 MiB of text */
	for (size_t i = 0; i < events; i++)
		assert_int_equal(openai_decode_event(&d, ev, strlen(ev)), DEC_CONTENT);
	assert_int_equal(d.text.len, LLM_TEXT_LIMIT);
	assert_int_equal(d.text.cut, events * 1024 - LLM_TEXT_LIMIT);
	assert_int_equal(d.deltas, events);
	llm_decode_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_conformance_every_split),
	    cmocka_unit_test(test_wire_doc_example_without_prefixes),
	    cmocka_unit_test(test_wire_request),
	    cmocka_unit_test(test_plain_bodies),
	    cmocka_unit_test(test_malformed_and_wrong_types),
	    cmocka_unit_test(test_text_cap_counts_the_cut),
	};
	return cmocka_run_group_tests_name("openai", tests, NULL, NULL);
}
