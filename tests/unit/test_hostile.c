/* Hostile responses: bodies, headers and numbers chosen to break the
 * pipeline. Each test is a defect found once (fuzzing, abuse); each call
 * must end marked with the reason, in bounded time, and the connection
 * must go on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire/body.h"
#include "llm/provider.h"
#include "records.h"

static void sink(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
}

/* "deflate" with a bad header is retried as raw deflate once: `07 00` used
 * to restart forever (with the pipeline lock held). */
static void test_deflate_retry_is_bounded(void **state)
{
	(void)state;
	static const char *const bodies[] = {"\x07\x00", "\x07", "\xff\xff\xff", "\x78\x9c\xff"};
	static const size_t lens[] = {2, 1, 3, 3};
	for (size_t i = 0; i < 4; i++) {
		bool unsupported;
		struct body_decoder *b = body_decoder_new("deflate", &unsupported);
		uint64_t out = 0;
		int rc = body_decode(b, bodies[i], lens[i], sink, &out);
		rc |= body_decode(b, bodies[i], lens[i], sink, &out);
		assert_int_equal(rc, -1); /* corrupt, not a loop */
		assert_false(body_over_limit(b));
		body_decoder_free(b);
	}
}

static void feed_response(const char *headers, const char *body, size_t blen, uint64_t ts)
{
	char head[512];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n%sContent-Length: %zu\r\n\r\n",
	                 headers, blen);
	ssl_call(LLMOBS_DIR_READ, ts, head, (size_t)h);
	for (size_t off = 0; off < blen; off += LLMOBS_MAX_DATA) {
		size_t k = blen - off < LLMOBS_MAX_DATA ? blen - off : LLMOBS_MAX_DATA;
		ssl_call(LLMOBS_DIR_READ, ts + 1 + off, body + off, k);
	}
}

/* A call on SSL1 whose SSE answer is plain[0..n) gzip'd (cap bytes at most). */
static const struct llm_call *gzip_sse_call(const char *plain, size_t n, size_t cap)
{
	char *z = malloc(cap);
	size_t zn = gzip_of(plain, n, z, cap);
	reset();
	post("/v1/chat/completions", "h", "{\"model\":\"m\",\"stream\":true}", 1 * MS);
	feed_response("Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\n", z, zn,
	              10 * MS);
	free(z);
	return only_call();
}

/* A small gzip body that inflates to 96 MiB of SSE: decoding stops at the
 * limit, the call is truncated with the reason, the rest is counted, and
 * the connection's next call is parsed. */
static void test_decompression_bomb_is_truncated(void **state)
{
	(void)state;
	const char ev[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
	size_t evn = sizeof(ev) - 1, total = 96u << 20;
	char *plain = malloc(total);
	for (size_t off = 0; off < total; off += evn)
		memcpy(plain + off, ev, off + evn <= total ? evn : total - off);
	const struct llm_call *c = gzip_sse_call(plain, total, total / 100);
	free(plain);
	assert_int_equal(c->status, CALL_TRUNCATED);
	assert_non_null(strstr(c->error, "inflates past the limit"));
	assert_true(c->dec.deltas > 1000);
	assert_true(pstats.ignored_bytes[IGNORE_DECODE_LIMIT] > 0);
	assert_int_equal(pstats.decode_limit_calls, 1);
	/* the connection goes on */
	post("/v1/chat/completions", "h", "{\"model\":\"m\"}", 200 * MS);
	const char ok[] = "{\"choices\":[{\"message\":{\"content\":\"fine\"}}]}";
	feed_response("Content-Type: application/json\r\n", ok, sizeof(ok) - 1, 210 * MS);
	assert_int_equal(pstats.calls_total, 2);
	assert_int_equal(call_active_count(), 0);
}

/* Compressible but honest text (an LLM answer, 5-50x) passes whole. */
static void test_honest_compression_passes(void **state)
{
	(void)state;
	size_t total = 3u << 20;
	char *plain = malloc(total + 64);
	size_t n = 0;
	unsigned seed = 7;
	while (n + 80 < total) {
		char word[16];
		for (int i = 0; i < 6; i++) {
			seed = seed * 1103515245u + 12345u;
			word[i] = (char)('a' + (seed >> 16) % 26);
		}
		word[6] = '\0';
		n += (size_t)sprintf(
		    plain + n,
		    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s \"}}]}\n\n",
		    word);
	}
	n += (size_t)sprintf(plain + n, "data: [DONE]\n\n");
	const struct llm_call *c = gzip_sse_call(plain, n, n);
	assert_int_equal(c->status, CALL_COMPLETED);
	free(plain);
}

/* Token counts out of range: a decode error with the reason, never a
 * garbage or negative count. */
static void test_token_counts_out_of_range(void **state)
{
	(void)state;
	static const struct {
		enum provider_id p;
		const char *ev;
	} cases[] = {
	    {PROVIDER_OPENAI, "{\"choices\":[],\"usage\":{\"prompt_tokens\":1e300,"
	                      "\"completion_tokens\":2}}"},
	    {PROVIDER_OPENAI, "{\"choices\":[],\"usage\":{\"prompt_tokens\":-5}}"},
	    {PROVIDER_OPENAI, "{\"choices\":[],\"usage\":{\"prompt_tokens\":2.5}}"},
	    {PROVIDER_ANTHROPIC, "{\"type\":\"message_delta\",\"usage\":{\"input_tokens\":"
	                         "9223372036854775807,\"cache_read_input_tokens\":"
	                         "9223372036854775807,\"output_tokens\":1}}"},
	    {PROVIDER_GEMINI, "{\"candidates\":[],\"usageMetadata\":{\"candidatesTokenCount\":"
	                      "1e19,\"thoughtsTokenCount\":1e19}}"},
	    {PROVIDER_OLLAMA, "{\"done\":true,\"prompt_eval_count\":-1e30,\"eval_count\":3}"},
	    {PROVIDER_OPENAI_RESPONSES,
	     "{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1e13}}}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_decode d = {0};
		llm_decode_init(&d, cases[i].p);
		llm_decode_event(&d, NULL, cases[i].ev, strlen(cases[i].ev));
		if (!d.failed || !strstr(d.error, "out of range"))
			fail_msg("case %zu: failed=%d error '%s'", i, d.failed, d.error);
		assert_true(d.usage.input_tokens == -1 || d.usage.input_tokens <= 1000000000000);
		assert_true(d.usage.output_tokens == -1 || d.usage.output_tokens <= 2000000000000);
		assert_true(d.usage.input_tokens >= -1 && d.usage.output_tokens >= -1);
		llm_decode_free(&d);
	}
	/* in range still decodes */
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char ok[] = "{\"choices\":[],\"usage\":{\"prompt_tokens\":1000000000000}}";
	llm_decode_event(&d, NULL, ok, sizeof(ok) - 1);
	assert_false(d.failed);
	assert_true(d.usage.input_tokens == 1000000000000);
	llm_decode_free(&d);
}

/* A response whose headers cannot be parsed is that call's error, not an
 * "aborted: SSL_free" at the later close. */
static void test_header_errors_are_the_calls(void **state)
{
	(void)state;
	size_t big = 1u << 20;
	char *resp = malloc(big + 128);
	int n = snprintf(resp, 128, "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(resp + n, 'a', big);
	memcpy(resp + n + big, "\r\n\r\n", 4);
	reset();
	post("/v1/chat/completions", "h", "{\"model\":\"m\"}", 1 * MS);
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, (size_t)n + big + 4);
	ctl(LLMOBS_EV_CLOSE, 9 * MS, 0);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_ERROR);
	assert_non_null(strstr(c->error, "HTTP parse error"));
	free(resp);

	static const char *const heads[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
	};
	static const char *const want[] = {"HPE_INVALID_CONTENT_LENGTH", "invalid chunk size"};
	for (int i = 0; i < 2; i++) {
		reset();
		post("/v1/chat/completions", "h", "{\"model\":\"m\"}", 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 5 * MS, heads[i], strlen(heads[i]));
		ctl(LLMOBS_EV_CLOSE, 9 * MS, 0);
		c = only_call();
		if (c->status != CALL_ERROR || !strstr(c->error, want[i]))
			fail_msg("%d: %s (%s), want error: %s", i, call_status_name(c->status),
			         c->error, want[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_deflate_retry_is_bounded),
	    PIPELINE_TEST(test_decompression_bomb_is_truncated),
	    PIPELINE_TEST(test_honest_compression_passes),
	    PIPELINE_TEST(test_token_counts_out_of_range),
	    PIPELINE_TEST(test_header_errors_are_the_calls),
	};
	return cmocka_run_group_tests_name("hostile", tests, setup, NULL);
}
