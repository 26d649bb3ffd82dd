/* Content-Encoding of response bodies on the live pipeline (wire/body.c):
 * gzip and brotli split at every byte, corrupt and unsupported encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>

#include "chat_stream.h"
#include "records.h"

static const char SSE_BODY[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"zip\"}}]}\n\n"
    "data: "
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ped!\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static void check_encoded_every_split(const char *enc, const char *body, size_t blen)
{
	char resp[8192], hdr[128];
	snprintf(hdr, sizeof(hdr), "Content-Type: text/event-stream\r\nContent-Encoding: %s\r\n",
	         enc);
	size_t n = chunked_response(resp, sizeof(resp), hdr, body, blen);
	for (size_t cut = 1; cut < n; cut++) {
		reset();
		post("/v1/chat/completions", "api.openai.com", REQ_BODY, 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, cut);
		ssl_call(LLMOBS_DIR_READ, 6 * MS, resp + cut, n - cut);
		const struct llm_call *c = only_call();
		if (c->status != CALL_COMPLETED || strcmp(c->dec.text.data, "zipped!"))
			fail_msg("%s split at %zu: status %d text '%s' error '%s'", enc, cut,
			         c->status, c->dec.text.data ? c->dec.text.data : "", c->error);
	}
}

static void test_gzip_and_brotli_bodies(void **state)
{
	(void)state;
	char z[4096];
	size_t zn = gzip_of(SSE_BODY, strlen(SSE_BODY), z, sizeof(z));
	check_encoded_every_split("gzip", z, zn);
	uint8_t br[4096];
	size_t brn = sizeof(br);
	assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, strlen(SSE_BODY),
	                                  (const uint8_t *)SSE_BODY, &brn, br));
	check_encoded_every_split("br", (const char *)br, brn);
}

static void test_bad_encodings_are_errors(void **state)
{
	(void)state;
	char resp[4096];
	reset();
	post("/v1/chat/completions", "h", REQ_BODY, 1 * MS);
	size_t n = chunked_response(resp, sizeof(resp),
	                            "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\n",
	                            "this is not gzip at all", 23);
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_ERROR);
	assert_string_equal(c->error, "corrupt gzip response body");
	assert_int_equal(pstats.parse_errors_body, 1);

	reset();
	post("/v1/chat/completions", "h", REQ_BODY, 1 * MS);
	n = chunked_response(resp, sizeof(resp),
	                     "Content-Type: text/event-stream\r\nContent-Encoding: zstd\r\n",
	                     "0123456789", 10);
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, n);
	c = only_call();
	assert_int_equal(c->status, CALL_ERROR);
	assert_string_equal(c->error, "unsupported Content-Encoding: zstd");
	assert_int_equal(pstats.ignored_bytes[IGNORE_ENCODING], 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_gzip_and_brotli_bodies),
	    PIPELINE_TEST(test_bad_encodings_are_errors),
	};
	return cmocka_run_group_tests_name("compression", tests, setup, NULL);
}
