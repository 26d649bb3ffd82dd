/* Which requests are LLM calls: built-in routes, --routes files (with
 * errors that name the route), and providers recognised by response shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "llm/provider.h"
#include "llm/route.h"

static struct route match(const char *method, const char *path, const char *host)
{
	struct http_msg m = {.dir = HTTP_DIR_REQ};
	snprintf(m.method, sizeof(m.method), "%s", method);
	snprintf(m.path, sizeof(m.path), "%s", path);
	snprintf(m.host, sizeof(m.host), "%s", host);
	struct route r;
	route_match(&m, &r);
	return r;
}

static void test_builtin_routes(void **state)
{
	(void)state;
	struct route r = match("POST", "/v1/chat/completions?x=1", "api.openai.com");
	assert_int_equal(r.api, PROVIDER_OPENAI);
	assert_string_equal(r.endpoint, "/v1/chat/completions");
	assert_int_equal(match("GET", "/v1/chat/completions", "h").api, PROVIDER_UNKNOWN);
	assert_int_equal(match("POST", "/v1/models", "h").api, PROVIDER_UNKNOWN);
	assert_string_equal(match("POST", "/v1/chat/completions", "localhost:11434").provider,
	                    "ollama");
	assert_int_equal(match("POST", "/v1/responses", "h").api, PROVIDER_OPENAI_RESPONSES);
	assert_int_equal(match("POST", "/v1/messages", "api.anthropic.com").api,
	                 PROVIDER_ANTHROPIC);
	assert_int_equal(match("POST", "/api/generate", "h").api, PROVIDER_OLLAMA);
	r = match("POST", "/v1beta/models/gemini-2.0-flash:generateContent", "h");
	assert_int_equal(r.api, PROVIDER_GEMINI);
	assert_string_equal(r.model, "gemini-2.0-flash");
	r = match("POST",
	          "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:"
	          "streamGenerateContent?alt=sse",
	          "aiplatform.googleapis.com");
	assert_string_equal(r.model, "gemini-2.5-pro");
}

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/llmobs-routes-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_custom_routes(void **state)
{
	(void)state;
	char err[512];
	char *p = write_tmp("{\"routes\": ["
	                    "{\"path\": \"/gw/claude\", \"api\": \"anthropic\", \"provider\": "
	                    "\"aws.bedrock\", \"host\": \"gw.internal\"},"
	                    "{\"path\": \"/llm/\", \"match\": \"prefix\", \"api\": \"openai\"}]}");
	assert_int_equal(route_load(p, err, sizeof(err)), 0);
	unlink(p);
	struct route r = match("POST", "/gw/claude", "gw.internal:8443");
	assert_int_equal(r.api, PROVIDER_ANTHROPIC);
	assert_string_equal(r.provider, "aws.bedrock");
	assert_int_equal(match("POST", "/gw/claude", "gw.internalx").api, PROVIDER_UNKNOWN);
	assert_int_equal(match("POST", "/llm/anything", "h").api, PROVIDER_OPENAI);
	/* built-ins still apply */
	assert_int_equal(match("POST", "/v1/messages", "h").api, PROVIDER_ANTHROPIC);
	route_free();
	assert_int_equal(match("POST", "/llm/anything", "h").api, PROVIDER_UNKNOWN);
}

static void expect_error(const char *json, const char *what)
{
	char err[512];
	char *p = write_tmp(json);
	assert_int_equal(route_load(p, err, sizeof(err)), -1);
	unlink(p);
	if (!strstr(err, what))
		fail_msg("error '%s' lacks '%s'", err, what);
}

static void test_bad_route_files(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(route_load("/nonexistent/routes.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	expect_error("not json", "not valid JSON");
	expect_error("[{\"path\": \"/a\"}]", "expected a JSON object");
	expect_error(
	    "{\"routes\": [{\"path\": \"/a\", \"api\": \"openai\"}, {\"api\": \"openai\"}]}",
	    "route 2: \"path\"");
	expect_error("{\"routes\": [{\"path\": \"/a\", \"api\": \"gpt\"}]}",
	             "route 1: unknown api 'gpt'");
	expect_error(
	    "{\"routes\": [{\"path\": \"/a\", \"api\": \"ollama\", \"match\": \"regex\"}]}",
	    "\"match\" must be");
}

static void test_provider_from_response_shape(void **state)
{
	(void)state;
	struct llm_decode d = {0};
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char ev[] = "{\"system_fingerprint\":\"fp_ollama\",\"choices\":[]}";
	openai_decode_event(&d, ev, sizeof(ev) - 1);
	assert_string_equal(llm_provider(&d), "ollama");
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char lc[] = "{\"choices\":[],\"timings\":{\"predicted_n\":3}}";
	openai_decode_event(&d, lc, sizeof(lc) - 1);
	assert_string_equal(llm_provider(&d), "llama.cpp");
	llm_decode_init(&d, PROVIDER_OPENAI);
	const char oa[] = "{\"system_fingerprint\":\"fp_f85bea6784\",\"choices\":[]}";
	openai_decode_event(&d, oa, sizeof(oa) - 1);
	assert_string_equal(llm_provider(&d), "openai");
	llm_decode_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_routes),
	    cmocka_unit_test(test_custom_routes),
	    cmocka_unit_test(test_bad_route_files),
	    cmocka_unit_test(test_provider_from_response_shape),
	};
	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
