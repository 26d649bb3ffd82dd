/* The ingestion API's reports: what a body must be (and the reason a bad
 * one gets), the join by request_id in either order, duplicates, the
 * bound on waiting reports, and a report whose partner never comes made a
 * call at the TTL. Each joined call is checked as the sinks see it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call/call.h"
#include "call/call_json.h"
#include "call/ingest.h"
#include "call/pipeline.h"
#include "call/sink.h"
#include "core/clock.h"
#include "core/stats.h"
#include "llm/price.h"

static cJSON *ended[16];
static int nended, total_ends;

static void on_end(const struct llm_call *c)
{
	total_ends++;
	if (nended < 16)
		ended[nended++] = call_to_json(c, c->t_end);
}

static const struct call_sink test_sink = {.name = "test", .end = on_end};

static int setup_each(void **state)
{
	(void)state;
	pipeline_free();
	pipeline_init(100);
	for (int i = 0; i < nended; i++)
		cJSON_Delete(ended[i]);
	nended = 0;
	ingest_set_ttl_ms(0);
	return 0;
}

static int setup(void **state)
{
	call_sinks_clear();
	call_sink_register(&test_sink);
	clock_set_wall_offset(clock_measure_wall_offset());
	return setup_each(state);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int submit(enum ingest_kind k, const char *body, char *msg, size_t n)
{
	char err[256];
	struct ingest_half *h = ingest_parse(k, body, strlen(body), now_ms(), err, sizeof(err));
	if (!h)
		fail_msg("refused: %s (%s)", err, body);
	uint64_t id = 0;
	return ingest_submit(h, &id, msg, n);
}

static const cJSON *get(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v)
		fail_msg("no \"%s\"", k);
	return v;
}

static void test_bad_bodies_get_their_reason(void **state)
{
	(void)state;
	static const struct {
		enum ingest_kind kind;
		const char *body, *reason;
	} cases[] = {
	    {INGEST_REQUEST, "", "not a JSON object"},
	    {INGEST_REQUEST, "[1,2]", "not a JSON object"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\"", "not a JSON object"},
	    {INGEST_REQUEST, "{}", "request_id is required"},
	    {INGEST_REQUEST, "{\"request_id\":\"\"}", "request_id must not be empty"},
	    {INGEST_REQUEST, "{\"request_id\":7}", "request_id must be a string"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"prompt_tokens\":-3}",
	     "prompt_tokens must be"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"prompt_tokens\":1.5}", "whole number"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"metadata\":[1]}",
	     "metadata must be an object"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"timestamp\":\"yesterday\"}", "timestamp"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"timestamp\":\"2026-12-06T10:00:00\"}",
	     "timestamp"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"timestamp\":\"3026-12-06T10:00:00Z\"}",
	     "not between this host's boot"},
	    {INGEST_REQUEST, "{\"request_id\":\"a\",\"timestamp\":86400}",
	     "not between this host's boot"},
	    {INGEST_RESPONSE, "{\"request_id\":\"a\",\"latency_ms\":\"9\"}", "latency_ms must be"},
	    {INGEST_RESPONSE, "{\"request_id\":\"a\",\"error\":12}", "error must be"},
	    {INGEST_RESPONSE, "{\"request_id\":\"a\",\"latency_ms\":10,\"ttft_ms\":20}",
	     "ttft_ms is longer than latency_ms"},
	    {INGEST_REQUEST,
	     "{\"request_id\":"
	     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	     "request_id is longer than 127 bytes"},
	};
	struct ingest_counts before, after;
	ingest_stats(&before);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		struct ingest_half *h =
		    ingest_parse(cases[i].kind, cases[i].body, strlen(cases[i].body), now_ms(), err,
		                 sizeof(err));
		if (h)
			fail_msg("taken: %s", cases[i].body);
		if (!strstr(err, cases[i].reason))
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].body, err, cases[i].reason);
	}
	ingest_stats(&after);
	assert_int_equal(after.rejected - before.rejected, sizeof(cases) / sizeof(cases[0]));
}

/* request, then response: one call with everything reported, priced; the
 * credential in metadata and the route's query never kept */
static void test_request_then_response_is_one_call(void **state)
{
	(void)state;
	char msg[256], body[512], local[40], utc[40];
	/* a second ago, written in +01:00 */
	time_t t = (time_t)(now_ms() / 1000) - 1, shifted = t + 3600;
	struct tm tm;
	strftime(local, sizeof(local), "%Y-%m-%dT%H:%M:%S.250+01:00", gmtime_r(&shifted, &tm));
	strftime(utc, sizeof(utc), "%Y-%m-%dT%H:%M:%S.250Z", gmtime_r(&t, &tm));
	snprintf(body, sizeof(body),
	         "{\"request_id\":\"r-1\",\"tenant_id\":\"acme\",\"route\":\"/chat?key=sk-1\","
	         "\"model\":\"gpt-4o-mini\",\"timestamp\":\"%s\","
	         "\"prompt_tokens\":1000,\"user_id_hash\":\"u9\",\"metadata\":{\"team\":\"ml\","
	         "\"nested\":{\"X-Api-Key\":\"sk-2\",\"Authorization\":\"Bearer x\"},"
	         "\"client_secret\":\"s\",\"client_secret\":\"t\"}}",
	         local);
	pipeline_lock();
	assert_int_equal(submit(INGEST_REQUEST, body, msg, sizeof(msg)), 202);
	assert_int_equal(nended, 0);
	assert_int_equal(submit(INGEST_RESPONSE,
	                        "{\"request_id\":\"r-1\",\"latency_ms\":1500,\"ttft_ms\":400,"
	                        "\"completion_tokens\":200,\"finish_reason\":\"stop\"}",
	                        msg, sizeof(msg)),
	                 200);
	pipeline_unlock();
	assert_int_equal(nended, 1);
	const cJSON *c = ended[0];
	assert_string_equal(get(c, "source")->valuestring, "ingest");
	assert_string_equal(get(c, "request_id")->valuestring, "r-1");
	assert_string_equal(get(c, "tenant_id")->valuestring, "acme");
	assert_string_equal(get(c, "user_id_hash")->valuestring, "u9");
	assert_string_equal(get(c, "endpoint")->valuestring, "/chat");
	assert_string_equal(get(c, "provider")->valuestring, "openai"); /* from the price table */
	assert_string_equal(get(c, "model")->valuestring, "gpt-4o-mini");
	assert_string_equal(get(c, "status")->valuestring, "completed");
	assert_string_equal(get(c, "finish_reason")->valuestring, "stop");
	assert_string_equal(get(c, "started_at")->valuestring, utc);
	assert_true(get(c, "duration_ms")->valuedouble == 1500);
	assert_true(get(c, "ttft_ms")->valuedouble == 400);
	assert_int_equal(get(get(c, "usage"), "input_tokens")->valueint, 1000);
	assert_int_equal(get(get(c, "usage"), "output_tokens")->valueint, 200);
	/* gpt-4o-mini: $0.15 in, $0.60 out per million */
	assert_true(fabs(get(c, "cost_usd")->valuedouble - (1000 * 0.15 + 200 * 0.60) / 1e6) <
	            1e-12);
	char *meta = cJSON_PrintUnformatted(get(c, "metadata"));
	assert_string_equal(meta,
	                    "{\"team\":\"ml\",\"nested\":{\"X-Api-Key\":\"[removed]\","
	                    "\"Authorization\":\"[removed]\"},\"client_secret\":\"[removed]\","
	                    "\"client_secret\":\"[removed]\"}");
	free(meta);
	char *all = cJSON_PrintUnformatted(c);
	assert_null(strstr(all, "sk-"));
	free(all);
}

/* response first, then the request; an error reported makes the call an
 * error with its message; a provider given is kept */
static void test_response_then_request_and_errors(void **state)
{
	(void)state;
	char msg[256];
	pipeline_lock();
	assert_int_equal(submit(INGEST_RESPONSE,
	                        "{\"request_id\":\"r-2\",\"latency_ms\":80,\"error\":{\"type\":"
	                        "\"rate_limit\",\"message\":\"slow down\"}}",
	                        msg, sizeof(msg)),
	                 202);
	assert_int_equal(submit(INGEST_REQUEST,
	                        "{\"request_id\":\"r-2\",\"model\":\"my-model\",\"provider\":"
	                        "\"vllm\"}",
	                        msg, sizeof(msg)),
	                 200);
	pipeline_unlock();
	assert_int_equal(nended, 1);
	assert_string_equal(get(ended[0], "status")->valuestring, "error");
	assert_string_equal(get(ended[0], "error")->valuestring, "rate_limit: slow down");
	assert_string_equal(get(ended[0], "provider")->valuestring, "vllm");
	assert_string_equal(get(ended[0], "unpriced")->valuestring, "no_price");
	assert_true(get(ended[0], "cost_usd")->type == cJSON_NULL);
	assert_true(get(ended[0], "duration_ms")->valuedouble == 80);
}

static void test_duplicates_and_the_bound(void **state)
{
	(void)state;
	char msg[256];
	pipeline_lock();
	assert_int_equal(submit(INGEST_REQUEST, "{\"request_id\":\"d\"}", msg, sizeof(msg)), 202);
	assert_int_equal(submit(INGEST_REQUEST, "{\"request_id\":\"d\"}", msg, sizeof(msg)), 409);
	assert_non_null(strstr(msg, "already waiting"));
	struct ingest_counts n;
	ingest_stats(&n);
	assert_int_equal(n.pending, 1);
	int last = 0;
	for (int i = 1; i < INGEST_PENDING_MAX + 5 && last != 429; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"request_id\":\"p%d\"}", i);
		last = submit(INGEST_REQUEST, body, msg, sizeof(msg));
	}
	assert_int_equal(last, 429);
	ingest_stats(&n);
	assert_int_equal(n.pending, INGEST_PENDING_MAX);
	int before = total_ends;
	ingest_flush(); /* shutdown: every waiting report becomes a call */
	ingest_stats(&n);
	assert_int_equal(n.pending, 0);
	pipeline_unlock();
	assert_int_equal(total_ends - before, INGEST_PENDING_MAX);
	assert_non_null(strstr(get(ended[0], "error")->valuestring, "before the daemon stopped"));
}

/* past the TTL: a lone request is an aborted call, a lone response an
 * error call; both counted, neither lost */
static void test_lone_reports_become_calls_at_the_ttl(void **state)
{
	(void)state;
	char msg[256];
	ingest_set_ttl_ms(20);
	struct ingest_counts before, after;
	ingest_stats(&before);
	pipeline_lock();
	assert_int_equal(submit(INGEST_REQUEST,
	                        "{\"request_id\":\"lone-q\",\"model\":\"gpt-4o\","
	                        "\"prompt_tokens\":5}",
	                        msg, sizeof(msg)),
	                 202);
	assert_int_equal(submit(INGEST_RESPONSE,
	                        "{\"request_id\":\"lone-r\",\"completion_tokens\":9}", msg,
	                        sizeof(msg)),
	                 202);
	ingest_expire();
	assert_int_equal(nended, 0); /* not yet */
	pipeline_unlock();
	struct timespec ts = {0, 40 * 1000 * 1000};
	nanosleep(&ts, NULL);
	pipeline_lock();
	ingest_expire();
	pipeline_unlock();
	assert_int_equal(nended, 2);
	assert_string_equal(get(ended[0], "status")->valuestring, "aborted");
	assert_non_null(strstr(get(ended[0], "error")->valuestring, "no response"));
	assert_string_equal(get(ended[1], "status")->valuestring, "error");
	assert_non_null(strstr(get(ended[1], "error")->valuestring, "no request"));
	ingest_stats(&after);
	assert_int_equal(after.expired - before.expired, 2);
	assert_int_equal(after.pending, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_bad_bodies_get_their_reason, setup_each),
	    cmocka_unit_test_setup(test_request_then_response_is_one_call, setup_each),
	    cmocka_unit_test_setup(test_response_then_request_and_errors, setup_each),
	    cmocka_unit_test_setup(test_duplicates_and_the_bound, setup_each),
	    cmocka_unit_test_setup(test_lone_reports_become_calls_at_the_ttl, setup_each),
	};
	int rc = cmocka_run_group_tests(tests, setup, NULL);
	for (int i = 0; i < nended; i++)
		cJSON_Delete(ended[i]);
	pipeline_free();
	prices_free();
	return rc;
}
