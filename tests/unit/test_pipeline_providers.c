/* Each provider's stream through the whole pipeline, split across reads:
 * Anthropic SSE, Ollama NDJSON, Gemini (model from the path, no terminator). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

static void test_anthropic_stream(void **state)
{
	(void)state;
	static const char body[] =
	    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
	    "\"claude-x\",\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,"
	    "\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n"
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	    "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Bon\"}}\n\n"
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"jour\"}}\n\n"
	    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	char resp[8192];
	size_t n = chunked_response(resp, sizeof(resp), "Content-Type: text/event-stream\r\n", body,
	                            strlen(body));
	for (size_t cut = 1; cut < n; cut += 3) {
		reset();
		post("/v1/messages", "api.anthropic.com",
		     "{\"model\":\"claude-x\",\"stream\":true,\"max_tokens\":5}", 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 40 * MS, resp, cut);
		ssl_call(LLMOBS_DIR_READ, 50 * MS, resp + cut, n - cut);
		const struct llm_call *c = only_call();
		if (c->status != CALL_COMPLETED || strcmp(c->dec.text.data, "Bonjour"))
			fail_msg("split %zu: status %d text '%s'", cut, c->status,
			         c->dec.text.data);
		assert_string_equal(llm_provider(&c->dec), "anthropic");
		assert_int_equal(c->dec.usage.input_tokens, 125);
		assert_int_equal(c->dec.usage.cached_input_tokens, 100);
		assert_int_equal(c->dec.usage.cache_creation_input_tokens, 20);
		assert_int_equal(c->dec.usage.output_tokens, 9);
		assert_string_equal(c->dec.finish_reason, "end_turn");
	}
}

static void test_ollama_ndjson_every_split(void **state)
{
	(void)state;
	static const char body[] =
	    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},"
	    "\"done\":false}\n"
	    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},"
	    "\"done\":false}\n"
	    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
	    "\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":26,\"eval_count\":2}\n";
	char resp[8192];
	size_t n = chunked_response(resp, sizeof(resp), "Content-Type: application/x-ndjson\r\n",
	                            body, strlen(body));
	for (size_t cut = 1; cut < n; cut++) {
		reset();
		post("/api/chat", "127.0.0.1:11434", "{\"model\":\"llama3.2\"}", 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 30 * MS, resp, cut);
		ssl_call(LLMOBS_DIR_READ, 35 * MS, resp + cut, n - cut);
		const struct llm_call *c = only_call();
		if (c->status != CALL_COMPLETED || strcmp(c->dec.text.data, "The sky") ||
		    c->dec.usage.output_tokens != 2 || c->chunks != 3)
			fail_msg("split %zu: status %d text '%s' chunks %llu", cut, c->status,
			         c->dec.text.data, (unsigned long long)c->chunks);
		assert_string_equal(llm_provider(&c->dec), "ollama");
	}
}

static void test_gemini_model_from_path_and_no_terminator(void **state)
{
	(void)state;
	static const char body[] =
	    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Chey\"}]}}]}\r\n\r\n"
	    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"enne\"}]},"
	    "\"finishReason\": \"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 6,"
	    "\"candidatesTokenCount\": 2}}\r\n\r\n";
	char resp[4096];
	size_t n = chunked_response(resp, sizeof(resp), "Content-Type: text/event-stream\r\n", body,
	                            strlen(body));
	reset();
	post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
	     "generativelanguage.googleapis.com", "{\"contents\":[]}", 1 * MS);
	ssl_call(LLMOBS_DIR_READ, 9 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.model, "gemini-2.5-flash");
	assert_string_equal(c->endpoint, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
	assert_string_equal(llm_provider(&c->dec), "gcp.gemini");
	assert_string_equal(c->dec.text.data, "Cheyenne");
	/* without a finishReason the same stream is truncated */
	char *cut =
	    strstr(body, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"enne");
	n = chunked_response(resp, sizeof(resp), "Content-Type: text/event-stream\r\n", body,
	                     (size_t)(cut - body));
	reset();
	post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "h", "{}", 1 * MS);
	ssl_call(LLMOBS_DIR_READ, 9 * MS, resp, n);
	assert_int_equal(only_call()->status, CALL_TRUNCATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_anthropic_stream),
	    PIPELINE_TEST(test_ollama_ndjson_every_split),
	    PIPELINE_TEST(test_gemini_model_from_path_and_no_terminator),
	};
	return cmocka_run_group_tests_name("pipeline_providers", tests, setup, NULL);
}
