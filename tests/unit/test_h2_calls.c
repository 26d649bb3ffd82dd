/* HTTP/2 streams become calls (call/assemble_h2.c over wire/h2.c), driven
 * by synthetic capture records: concurrent streams paired by id with
 * interleaved DATA, every split point, RST_STREAM, GOAWAY, a new preface,
 * joining an open connection (HPACK state unknown: counted, never
 * guessed), flow-control stalls, gzip DATA, secrets never served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_stream.h"
#include "h2_frames.h"
#include "records.h"

static nghttp2_hd_deflater *cli, *srv; /* the client's and the server's encoders */

static void encoders(void)
{
	if (cli)
		nghttp2_hd_deflate_del(cli);
	if (srv)
		nghttp2_hd_deflate_del(srv);
	assert_int_equal(nghttp2_hd_deflate_new(&cli, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&srv, 4096), 0);
}

static const char *const REQ_HEADERS[] = {":method",
                                          "POST",
                                          ":path",
                                          "/v1/chat/completions?api-key=QSECRET",
                                          ":scheme",
                                          "https",
                                          ":authority",
                                          "api.openai.com",
                                          "authorization",
                                          "Bearer sk-SECRET-123",
                                          "content-type",
                                          "application/json",
                                          NULL};
static const char *const RESP_HEADERS[] = {
    ":status", "200", "content-type", "text/event-stream", "set-cookie", "sess=SECRETCOOKIE", NULL};

/* Client preface + SETTINGS, and the server's SETTINGS. */
static void open_connection(uint64_t ts, uint32_t window)
{
	struct h2_out w = {0}, r = {0};
	encoders();
	h2_preface(&w);
	h2_settings(&w, window ? 4 : 0, window); /* 4: SETTINGS_INITIAL_WINDOW_SIZE */
	ssl_call(LLMOBS_DIR_WRITE, ts, w.data, w.len);
	h2_settings(&r, 0, 0);
	ssl_call(LLMOBS_DIR_READ, ts, r.data, r.len);
}

static void request_on(uint32_t sid, uint64_t ts)
{
	struct h2_out w = {0};
	h2_headers(&w, cli, sid, 0, REQ_HEADERS);
	h2_data(&w, sid, 1, REQ_BODY, strlen(REQ_BODY));
	ssl_call(LLMOBS_DIR_WRITE, ts, w.data, w.len);
}

/* The whole SSE stream of chat_stream.h on stream sid, one event per DATA
 * frame, the response headers first. */
static size_t response_frames(struct h2_out *o, uint32_t sid)
{
	h2_headers(o, srv, sid, 0, RESP_HEADERS);
	for (size_t i = 0; i < NEVENTS; i++)
		h2_data(o, sid, i == NEVENTS - 1, SSE_EVENTS[i], strlen(SSE_EVENTS[i]));
	return o->len;
}

static cJSON *all_calls(void)
{
	struct call_filter f = {0};
	cJSON *j = calls_to_json(&f, clock_now());
	return j;
}

static void check_hello(const struct llm_call *c)
{
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.text.data, "Hello, world");
	assert_string_equal(c->dec.model, "gpt-4o-mini");
	assert_int_equal(c->dec.usage.input_tokens, 11);
	assert_int_equal(c->dec.usage.output_tokens, 3);
	assert_int_equal(c->http_status, 200);
	assert_string_equal(c->endpoint, "/v1/chat/completions");
	assert_string_equal(c->host, "api.openai.com");
}

static void test_one_stream(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	response_frames(&r, 1);
	ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, r.len);
	const struct llm_call *c = only_call();
	check_hello(c);
	assert_true(call_ttft_ms(c) > 249.999 && call_ttft_ms(c) < 250.001);
	assert_int_equal(pstats.ignored_bytes[IGNORE_NOT_HTTP], 0);
	assert_int_equal(pstats.parse_errors_h2, 0);
	/* nothing secret is served */
	cJSON *j = all_calls();
	char *s = cJSON_PrintUnformatted(j);
	assert_null(strstr(s, "SECRET"));
	free(s);
	cJSON_Delete(j);
}

/* The same exchange with the response split at every byte. */
static void test_every_split(void **state)
{
	(void)state;
	struct h2_out r = {0};
	for (size_t cut = 1;; cut++) {
		reset();
		open_connection(900 * MS, 0);
		request_on(1, 1000 * MS);
		memset(&r, 0, sizeof(r));
		response_frames(&r, 1);
		if (cut >= r.len)
			break;
		ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, cut);
		ssl_call(LLMOBS_DIR_READ, 1260 * MS, r.data + cut, r.len - cut);
		check_hello(only_call());
	}
}

/* Two streams, their DATA frames interleaved on the wire. */
static void test_concurrent_streams_interleaved(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	request_on(3, 1010 * MS);
	struct h2_out a = {0}, hb = {0};
	h2_headers(&hb, srv, 3, 0, RESP_HEADERS);
	h2_headers(&hb, srv, 1, 0, RESP_HEADERS);
	ssl_call(LLMOBS_DIR_READ, 1100 * MS, hb.data, hb.len);
	for (size_t i = 0; i < NEVENTS; i++) {
		memset(&a, 0, sizeof(a));
		h2_data(&a, 3, i == NEVENTS - 1, SSE_EVENTS[i], strlen(SSE_EVENTS[i]));
		h2_data(&a, 1, i == NEVENTS - 1, SSE_EVENTS[i], strlen(SSE_EVENTS[i]));
		ssl_call(LLMOBS_DIR_READ, (1200 + 10 * i) * MS, a.data, a.len);
	}
	cJSON *j = all_calls();
	cJSON *arr = cJSON_GetObjectItem(j, "streams");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	for (int k = 0; k < 2; k++) {
		long id = atol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, k), "id")->valuestring);
		const struct llm_call *c = call_find((uint64_t)id);
		check_hello(c);
		/* TTFT per stream: its own request's end -> its first delta */
		double want = c->t_req_first == 1000 * MS ? 210 : 200;
		assert_true(call_ttft_ms(c) > want - 0.001 && call_ttft_ms(c) < want + 0.001);
	}
	cJSON_Delete(j);
}

static void test_rst_stream_aborts(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	h2_headers(&r, srv, 1, 0, RESP_HEADERS);
	h2_data(&r, 1, 0, SSE_EVENTS[1], strlen(SSE_EVENTS[1]));
	h2_rst(&r, 1, 8);
	ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, r.len);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_ABORTED);
	assert_string_equal(c->error,
	                    "RST_STREAM CANCEL from the server before the response completed");
	assert_string_equal(c->dec.text.data, "Hello");
}

/* A reset after the terminator was read changes nothing. */
static void test_rst_after_terminator_is_completed(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	h2_headers(&r, srv, 1, 0, RESP_HEADERS);
	for (size_t i = 0; i < NEVENTS; i++)
		h2_data(&r, 1, 0, SSE_EVENTS[i], strlen(SSE_EVENTS[i]));
	ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, r.len);
	struct h2_out w = {0};
	h2_rst(&w, 1, 8);
	ssl_call(LLMOBS_DIR_WRITE, 1300 * MS, w.data, w.len);
	check_hello(only_call());
}

static void test_goaway_ends_streams_beyond_last(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	request_on(3, 1001 * MS);
	struct h2_out r = {0};
	h2_goaway(&r, 1, 0);
	ssl_call(LLMOBS_DIR_READ, 1100 * MS, r.data, r.len);
	memset(&r, 0, sizeof(r));
	response_frames(&r, 1);
	ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, r.len);
	cJSON *j = all_calls();
	cJSON *arr = cJSON_GetObjectItem(j, "streams");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	int aborted = 0, completed = 0;
	for (int k = 0; k < 2; k++) {
		long id = atol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, k), "id")->valuestring);
		const struct llm_call *c = call_find((uint64_t)id);
		if (c->status == CALL_ABORTED) {
			aborted++;
			assert_non_null(strstr(c->error, "GOAWAY NO_ERROR from the server"));
		} else {
			completed++;
			check_hello(c);
		}
	}
	assert_int_equal(aborted, 1);
	assert_int_equal(completed, 1);
	cJSON_Delete(j);
}

/* A new client preface on the same SSL*: streams in flight are gone. */
static void test_new_preface_resets(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	open_connection(1100 * MS, 0);
	request_on(1, 1200 * MS);
	struct h2_out r = {0};
	response_frames(&r, 1);
	ssl_call(LLMOBS_DIR_READ, 1300 * MS, r.data, r.len);
	cJSON *j = all_calls();
	cJSON *arr = cJSON_GetObjectItem(j, "streams");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	long id0 = atol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "id")->valuestring);
	long id1 = atol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "id")->valuestring);
	assert_int_equal(call_find((uint64_t)id0)->status, CALL_ABORTED);
	check_hello(call_find((uint64_t)id1));
	cJSON_Delete(j);
}

/* Joined mid-connection: the first request's headers refer to table
 * entries the daemon never saw. Counted, not guessed; a later block that
 * only uses what it has seen is decoded. */
static void test_joined_connection_never_guesses(void **state)
{
	(void)state;
	encoders();
	struct h2_out w = {0}, r = {0};
	/* what happened before the daemon: fills both encoders' tables */
	h2_headers(&w, cli, 1, 0, REQ_HEADERS);
	h2_headers(&r, srv, 1, 0, RESP_HEADERS);
	memset(&w, 0, sizeof(w));
	memset(&r, 0, sizeof(r));
	request_on(3, 1000 * MS); /* first bytes the daemon sees */
	response_frames(&r, 3);
	ssl_call(LLMOBS_DIR_READ, 1100 * MS, r.data, r.len);
	struct call_filter f = {0};
	cJSON *j = calls_to_json(&f, clock_now());
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "streams")), 0);
	cJSON_Delete(j);
	assert_int_equal(pstats.unparsed[UNPARSED_HPACK_STATE], 1);
	assert_true(pstats.ignored_bytes[IGNORE_HPACK_STATE] > 0);
	assert_true(pstats.h2_headers_lost >= 1);
	assert_int_equal(pstats.ignored_bytes[IGNORE_NOT_HTTP], 0);

	/* fresh encoders stand for a peer that cleared its table (size 0 then
	 * back): literals only, decodable */
	encoders();
	request_on(5, 1200 * MS);
	memset(&r, 0, sizeof(r));
	response_frames(&r, 5);
	ssl_call(LLMOBS_DIR_READ, 1300 * MS, r.data, r.len);
	check_hello(only_call());
}

/* The client grants a 100-byte window: the server stalls until it grants
 * more 40 ms later. */
static void test_flow_control_stall(void **state)
{
	(void)state;
	open_connection(900 * MS, 100);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	h2_headers(&r, srv, 1, 0, RESP_HEADERS);
	char pad[100];
	memset(pad, ':', sizeof(pad)); /* SSE comment lines */
	pad[99] = '\n';
	h2_data(&r, 1, 0, pad, sizeof(pad));
	ssl_call(LLMOBS_DIR_READ, 1100 * MS, r.data, r.len);
	struct h2_out w = {0};
	h2_window(&w, 1, 65535);
	h2_window(&w, 0, 65535);
	ssl_call(LLMOBS_DIR_WRITE, 1140 * MS, w.data, w.len);
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < NEVENTS; i++)
		h2_data(&r, 1, i == NEVENTS - 1, SSE_EVENTS[i], strlen(SSE_EVENTS[i]));
	ssl_call(LLMOBS_DIR_READ, 1150 * MS, r.data, r.len);
	const struct llm_call *c = only_call();
	check_hello(c);
	assert_int_equal(c->bp.h2_window_stalls, 1);
	assert_int_equal(c->bp.h2_window_stalled_ns, 40 * MS);
}

static void test_gzip_data(void **state)
{
	(void)state;
	static const char *const GZ_HEADERS[] = {
	    ":status", "200", "content-type", "text/event-stream", "content-encoding",
	    "gzip",    NULL};
	char body[4096], gz[4096];
	size_t n = 0;
	for (size_t i = 0; i < NEVENTS; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s", SSE_EVENTS[i]);
	size_t zn = gzip_of(body, n, gz, sizeof(gz));
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	h2_headers(&r, srv, 1, 0, GZ_HEADERS);
	h2_data(&r, 1, 0, gz, zn / 2);
	h2_data(&r, 1, 1, gz + zn / 2, zn - zn / 2);
	ssl_call(LLMOBS_DIR_READ, 1250 * MS, r.data, r.len);
	check_hello(only_call());
}

/* Lost bytes in the read direction truncate every stream being read. */
static void test_gap_truncates_and_resumes(void **state)
{
	(void)state;
	open_connection(900 * MS, 0);
	request_on(1, 1000 * MS);
	struct h2_out r = {0};
	h2_headers(&r, srv, 1, 0, RESP_HEADERS);
	ssl_call(LLMOBS_DIR_READ, 1100 * MS, r.data, r.len);
	pos[LLMOBS_DIR_READ] += 500; /* the ring lost 500 bytes */
	memset(&r, 0, sizeof(r));
	h2_data(&r, 1, 1, SSE_EVENTS[1], strlen(SSE_EVENTS[1]));
	ssl_call(LLMOBS_DIR_READ, 1200 * MS, r.data, r.len);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_TRUNCATED);
	assert_non_null(strstr(c->error, "capture lost 500 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_one_stream),
	    PIPELINE_TEST(test_every_split),
	    PIPELINE_TEST(test_concurrent_streams_interleaved),
	    PIPELINE_TEST(test_rst_stream_aborts),
	    PIPELINE_TEST(test_rst_after_terminator_is_completed),
	    PIPELINE_TEST(test_goaway_ends_streams_beyond_last),
	    PIPELINE_TEST(test_new_preface_resets),
	    PIPELINE_TEST(test_joined_connection_never_guesses),
	    PIPELINE_TEST(test_flow_control_stall),
	    PIPELINE_TEST(test_gzip_data),
	    PIPELINE_TEST(test_gap_truncates_and_resumes),
	};
	int rc = cmocka_run_group_tests_name("h2_calls", tests, setup, NULL);
	nghttp2_hd_deflate_del(cli);
	nghttp2_hd_deflate_del(srv);
	return rc;
}
