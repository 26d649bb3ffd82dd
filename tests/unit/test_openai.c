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
#include "llm/provider.h"
#include "wire/sse.h"

/* What a stream must decode to, read off the file by hand. */
struct expect {
	const char *file;
	const char *text;
	const char *finish; /* "" = none */
	int64_t in, out, cached, reasoning;
	bool done, failed;
	const char *error; /* exact message, or NULL when not failed */
	const char *model; /* response model */
	uint32_t deltas;   /* non-empty content deltas of choice 0 */
	const char *tool;  /* single tool call name, or NULL for none */
	const char *args;  /* its reassembled arguments */
};

static const struct expect wire[] = {
    {"openai_chat_stream.sse",
     "I'm unable to provide real-time weather updates. To get the current weather in San "
     "Francisco, I recommend checking a reliable weather website or a weather app.",
     "stop", 14, 30, -1, 0, true, false, NULL, "gpt-4o-2024-08-06", 30, NULL, NULL},
    /* usage numbers as the dotnet test authors edited them */
    {"openai_chat_stream_include_usage_cached.sse", "Hello! How can I assist you today?", "stop", 8,
     9, 5, 90, true, false, NULL, "gpt-4o-mini-2024-07-18", 9, NULL, NULL},
    {"openai_chat_stream_logprobs.sse", "Foo!", "stop", 9, 2, -1, 0, true, false, NULL,
     "gpt-4o-2024-08-06", 2, NULL, NULL},
    /* n=3: only choice 0 is the completion's text (its 14 pieces) */
    {"openai_chat_stream_n3_multichoice.sse",
     "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}", "stop", 79, 42, -1, 0, true,
     false, NULL, "gpt-4o-2024-08-06", 14, NULL, NULL},
    {"openai_chat_stream_tool_calls.sse", "", "tool_calls", 44, 16, -1, 0, true, false, NULL,
     "gpt-4o-2024-08-06", 0, "get_weather", "{\"city\":\"New York City\"}"},
    {"openai_chat_stream_tool_calls_include_usage.sse", "", "tool_calls", 61, 16, 0, 90, true,
     false, NULL, "gpt-4o-mini-2024-07-18", 0, "GetPersonAge", "{\"personName\":\"Alice\"}"},
    /* the error object ends the stream: no finish, no usage, no [DONE] */
    {"openai_chat_stream_error_midstream.sse", "Hello", "", -1, -1, -1, -1, false, true,
     "The server had an error while processing your request. Sorry about that!",
     "gpt-4o-mini-2024-07-18", 1, NULL, NULL},
};

/* Ours: CRLF, a comment, \u escapes (a surrogate pair among them), raw
 * UTF-8, "usage":null, finish "length". */
static const struct expect own_utf8 = {
    .file = "openai_chat_stream_utf8.sse",
    .text = "caf\xc3\xa9 \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a!",
    .finish = "length",
    .in = 5,
    .out = 4,
    .cached = 2,
    .reasoning = 1,
    .done = true,
    .model = "m-utf8",
    .deltas = 3,
};

static void on_event(void *ctx, const struct sse_event *ev)
{
	openai_decode_event(ctx, ev->data, ev->data_len);
}

static void on_other_line(void *ctx, const char *line, size_t n)
{
	llm_decode_other_line(ctx, line, n);
}

/* Decodes s through the SSE parser, fed in two pieces split at cut, the
 * way the pipeline wires it (other lines kept, finish at the end). */
static int decode_sse(struct llm_decode *d, const char *s, size_t n, size_t cut)
{
	llm_decode_init(d, PROVIDER_OPENAI);
	struct sse_parser *p = sse_new(on_event, d, 0);
	sse_set_other_fn(p, on_other_line);
	sse_feed(p, s, cut);
	sse_feed(p, s + cut, n - cut);
	sse_finish(p);
	sse_free(p);
	return llm_decode_finish(d);
}

static void check(const struct expect *e, const struct llm_decode *d, size_t cut)
{
	const char *text = d->text.data ? d->text.data : "";
	if (strcmp(text, e->text))
		fail_msg("%s (cut %zu): text '%s'", e->file, cut, text);
	assert_int_equal(d->text.cut, 0);
	assert_string_equal(d->finish_reason, e->finish);
	assert_int_equal(d->usage.input_tokens, e->in);
	assert_int_equal(d->usage.output_tokens, e->out);
	assert_int_equal(d->usage.cached_input_tokens, e->cached);
	assert_int_equal(d->usage.reasoning_tokens, e->reasoning);
	assert_int_equal(d->usage.cache_creation_input_tokens, -1);
	assert_int_equal(d->done, e->done);
	assert_int_equal(d->failed, e->failed);
	assert_string_equal(d->error, e->error ? e->error : "");
	assert_string_equal(d->response_model, e->model);
	assert_int_equal(d->malformed, 0);
	assert_int_equal(d->deltas, e->deltas);
	assert_int_equal(d->ntools, e->tool ? 1 : 0);
	assert_int_equal(d->tools_dropped, 0);
	if (e->tool) {
		assert_int_equal(d->tools[0].key, 0);
		assert_string_equal(d->tools[0].name, e->tool);
		assert_string_equal(d->tools[0].args.data, e->args);
	}
}

/* Every split of the file through sse_feed decodes to e. */
static void check_every_split(const struct expect *e, const char *s, size_t n)
{
	for (size_t cut = 0; cut <= n; cut++) {
		struct llm_decode d = {0};
		decode_sse(&d, s, n, cut);
		check(e, &d, cut);
		llm_decode_free(&d);
	}
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
		check_every_split(&wire[i], s, n);
		free(s);
	}
}

static void test_own_utf8_stream_every_split(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own(own_utf8.file, &n);
	assert_non_null(s);
	check_every_split(&own_utf8, s, n);
	free(s);
}

/* The OpenAPI doc example omits the "data: " prefixes: to an SSE parser
 * its lines are unknown fields, so no event, no text, no terminator and no
 * failure; the lines are only kept as other lines. */
static void test_wire_doc_example_without_prefixes(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = fixture_wire("openai_chat_stream_openapi_doc_example.txt", &n);
	assert_non_null(s);
	for (size_t cut = 0; cut <= n; cut++) {
		struct llm_decode d = {0};
		int f = decode_sse(&d, s, n, cut);
		assert_int_equal(f & DEC_ERROR, 0);
		assert_int_equal(d.events, 0);
		assert_int_equal(d.deltas, 0);
		assert_int_equal(d.text.len, 0);
		assert_false(d.done);
		assert_false(d.failed);
		assert_string_equal(d.finish_reason, "");
		assert_int_equal(d.usage.output_tokens, -1);
		/* 3 JSON lines and the "...." line */
		assert_non_null(d.other.data);
		assert_non_null(strstr(d.other.data, "\n....\n"));
		llm_decode_free(&d);
	}
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
	assert_false(d.failed);
	llm_decode_free(&d);
	free(s);
}

static void test_request_without_stream(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	/* "stream": "true" is a string, not true; include_usage needs both */
	const char body[] = "{\"model\":\"gpt-4.1\",\"stream\":\"true\","
	                    "\"stream_options\":{\"include_usage\":1}}";
	assert_int_equal(openai_decode_request(&d, body, sizeof(body) - 1), DEC_NONE);
	assert_string_equal(d.model, "gpt-4.1");
	assert_false(d.stream_requested);
	assert_false(d.include_usage);
	/* an unreadable request body does not fail the call */
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_request(&d, "{nope", 5), DEC_ERROR);
	assert_false(d.failed);
	assert_string_equal(d.model, "");
	llm_decode_free(&d);
}

static void test_non_streaming_completion(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("openai_chat_completion.json", &n);
	assert_non_null(s);
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	int f = openai_decode_response(&d, s, n);
	assert_int_equal(f, DEC_CONTENT | DEC_FINISH | DEC_USAGE);
	assert_string_equal(d.text.data, "Paris is the capital of France.");
	assert_string_equal(d.finish_reason, "stop");
	assert_string_equal(d.response_model, "gpt-4o-2024-08-06");
	assert_int_equal(d.usage.input_tokens, 12);
	assert_int_equal(d.usage.output_tokens, 7);
	assert_int_equal(d.usage.cached_input_tokens, 0);
	assert_int_equal(d.usage.reasoning_tokens, 0);
	assert_true(d.done);
	assert_false(d.failed);
	assert_int_equal(d.deltas, 1);
	llm_decode_free(&d);
	free(s);
}

static void test_error_429_body(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("openai_error_429.json", &n);
	assert_non_null(s);
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_response(&d, s, n), DEC_ERROR);
	assert_true(d.failed);
	assert_int_equal(d.malformed, 0);
	assert_string_equal(d.error,
	                    "Rate limit reached for gpt-4o in organization org-x on tokens "
	                    "per min");
	assert_int_equal(d.text.len, 0);
	llm_decode_free(&d);
	free(s);
}

static void test_malformed_event_fails(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char ok[] = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}";
	assert_int_equal(openai_decode_event(&d, ok, sizeof(ok) - 1), DEC_CONTENT);
	/* cut off mid-object */
	const char bad[] = "{\"choices\":[{\"delta\":{\"content\":\"x\"";
	assert_int_equal(openai_decode_event(&d, bad, sizeof(bad) - 1), DEC_ERROR);
	assert_true(d.failed);
	assert_int_equal(d.malformed, 1);
	assert_string_equal(d.error, "malformed JSON in a stream event");
	assert_string_equal(d.text.data, "a"); /* what came before is kept */
	assert_int_equal(d.events, 2);
	/* JSON that is not an object is malformed too */
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_event(&d, "[1,2,3]", 7), DEC_ERROR);
	assert_true(d.failed);
	assert_int_equal(d.malformed, 1);
	llm_decode_free(&d);
}

static void test_wrong_types_neither_crash_nor_fail(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	static const char *const odd[] = {
	    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":42}}]}",
	    "{\"choices\":{\"index\":0,\"delta\":{\"content\":\"obj\"}}}",
	    /* an object's members are not choices */
	    "{\"choices\":{\"a\":{\"index\":0,\"delta\":{\"content\":\"sneaky\"}}}}",
	    "{\"choices\":[7,null,\"x\",[]],\"usage\":\"lots\"}",
	    "{\"choices\":[{\"index\":\"0\",\"delta\":\"text\",\"finish_reason\":5}]}",
	    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"tool_calls\":\"no\"}}]}",
	    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[5,{\"function\":7}]}}]}",
	    "{\"usage\":{\"prompt_tokens\":\"12\",\"completion_tokens\":null,"
	    "\"prompt_tokens_details\":[],\"completion_tokens_details\":\"x\"}}",
	    "{\"model\":7,\"error\":null,\"choices\":[],\"usage\":[]}",
	    "{}",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		int f = openai_decode_event(&d, odd[i], strlen(odd[i]));
		assert_int_equal(f & (DEC_ERROR | DEC_CONTENT | DEC_FINISH | DEC_DONE), 0);
	}
	assert_false(d.failed);
	assert_int_equal(d.malformed, 0);
	assert_string_equal(d.error, "");
	assert_int_equal(d.text.len, 0);
	assert_int_equal(d.deltas, 0);
	assert_string_equal(d.finish_reason, "");
	assert_string_equal(d.response_model, "");
	assert_int_equal(d.usage.input_tokens, -1);
	assert_int_equal(d.usage.output_tokens, -1);
	assert_int_equal(d.usage.cached_input_tokens, -1);
	assert_int_equal(d.usage.reasoning_tokens, -1);
	assert_int_equal(d.events, sizeof(odd) / sizeof(odd[0]));
	llm_decode_free(&d);
}

static void test_done_terminator_variants(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_event(&d, "[DONE]", 6), DEC_DONE);
	assert_true(d.done);
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_event(&d, " [DONE]\r\n", 9), DEC_DONE);
	assert_true(d.done);
	/* not the terminator: a string that merely contains it */
	llm_decode_init(&d, PROVIDER_OPENAI);
	assert_int_equal(openai_decode_event(&d, "[DONE]x", 7), DEC_ERROR);
	assert_false(d.done);
	llm_decode_free(&d);
}

static void test_utf8_content_inline(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char ev[] = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
	                  "\"\\u00e9\xe4\xb8\x96\\ud83e\\udd8a\\n\"}}]}";
	assert_int_equal(openai_decode_event(&d, ev, sizeof(ev) - 1), DEC_CONTENT);
	assert_int_equal(d.text.len, 2 + 3 + 4 + 1);
	assert_memory_equal(d.text.data, "\xc3\xa9\xe4\xb8\x96\xf0\x9f\xa6\x8a\n", 10);
	llm_decode_free(&d);
}

static void test_text_cap_counts_the_cut(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	char ev[1200];
	char chunk[1001];
	memset(chunk, 'y', 1000);
	chunk[1000] = '\0';
	snprintf(ev, sizeof(ev), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}",
	         chunk);
	/* 2098 deltas of 1000 bytes: 2,098,000 bytes, just over 2 MiB */
	const size_t events = 2098;
	for (size_t i = 0; i < events; i++)
		assert_int_equal(openai_decode_event(&d, ev, strlen(ev)), DEC_CONTENT);
	assert_int_equal(d.text.len, LLM_TEXT_LIMIT);
	assert_int_equal(d.text.len, 1048576);
	assert_int_equal(d.text.cut, 2098000 - 1048576);
	assert_int_equal(d.deltas, events);
	assert_false(d.failed);
	llm_decode_free(&d);
}

static int delta(struct llm_decode *d, const char *text)
{
	char ev[256];
	snprintf(ev, sizeof(ev), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}",
	         text);
	return openai_decode_event(d, ev, strlen(ev));
}

/* At the cap the text is cut on a character boundary, and once cut, later
 * deltas are counted, never appended: the kept text has no hole. */
static void test_text_cap_whole_characters_no_gap(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	char big[201];
	memset(big, 'a', 200);
	big[200] = '\0';
	while (d.text.len + 200 <= LLM_TEXT_LIMIT - 2)
		delta(&d, big);
	while (d.text.len < LLM_TEXT_LIMIT - 2)
		delta(&d, "a");
	assert_int_equal(d.text.len, LLM_TEXT_LIMIT - 2);
	delta(&d, "\xe2\x82\xac"); /* the euro sign: 3 bytes, 2 would fit */
	assert_int_equal(d.text.len, LLM_TEXT_LIMIT - 2);
	assert_int_equal(d.text.cut, 3);
	delta(&d, "b"); /* would fit, but would leave a hole where the euro was */
	assert_int_equal(d.text.len, LLM_TEXT_LIMIT - 2);
	assert_int_equal(d.text.cut, 4);
	assert_int_equal(d.deltas, (LLM_TEXT_LIMIT - 2 - (LLM_TEXT_LIMIT - 2) % 200) / 200 +
	                               (LLM_TEXT_LIMIT - 2) % 200 + 2);
	llm_decode_free(&d);
}

static void test_numeric_error_code(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char ev[] = "{\"error\":{\"code\":500}}";
	/* an error event ends the stream: nothing of the call follows it */
	assert_int_equal(openai_decode_event(&d, ev, sizeof(ev) - 1), DEC_ERROR | DEC_END);
	assert_true(d.failed);
	assert_string_equal(d.error, "provider error code 500");
	llm_decode_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_conformance_every_split),
	    cmocka_unit_test(test_own_utf8_stream_every_split),
	    cmocka_unit_test(test_wire_doc_example_without_prefixes),
	    cmocka_unit_test(test_wire_request),
	    cmocka_unit_test(test_request_without_stream),
	    cmocka_unit_test(test_non_streaming_completion),
	    cmocka_unit_test(test_error_429_body),
	    cmocka_unit_test(test_malformed_event_fails),
	    cmocka_unit_test(test_wrong_types_neither_crash_nor_fail),
	    cmocka_unit_test(test_done_terminator_variants),
	    cmocka_unit_test(test_utf8_content_inline),
	    cmocka_unit_test(test_text_cap_counts_the_cut),
	    cmocka_unit_test(test_text_cap_whole_characters_no_gap),
	    cmocka_unit_test(test_numeric_error_code),
	};
	return cmocka_run_group_tests_name("openai", tests, NULL, NULL);
}
