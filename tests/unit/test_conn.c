/* Connections (wire/conn.c) driven by synthetic capture records, as BPF
 * would emit them: continuity of each direction's byte stream (gaps,
 * retries, records split in pieces, bad records), held writes, sniffing
 * which side is the HTTP client, and how a connection's end ends its call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_stream.h"
#include "records.h"

static void test_ring_gap_truncates(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, strlen(req));
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	size_t a = 200, b = 300;
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, a);
	ssl_call_on(SSL1, TGID, LLMOBS_DIR_READ, 6 * MS, resp + a, b - a, 0); /* dropped */
	ssl_call(LLMOBS_DIR_READ, 7 * MS, resp + b, n - b);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_TRUNCATED);
	assert_int_equal(c->dropped_bytes, b - a);
	assert_int_equal(pstats.lost_bytes, b - a);
	assert_int_equal(pstats.gaps, 1);
	assert_non_null(strstr(c->error, "lost 100 bytes"));

	/* the connection recovers at the next response */
	ssl_call(LLMOBS_DIR_WRITE, 8 * MS, req, strlen(req));
	ssl_call(LLMOBS_DIR_READ, 9 * MS, resp, n);
	struct call_filter f = {.state = "recent"};
	cJSON *j = calls_to_json(&f, clock_now());
	cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "streams"), 0);
	assert_string_equal(cJSON_GetObjectItem(first, "status")->valuestring, "completed");
	assert_string_equal(cJSON_GetObjectItem(first, "text")->valuestring, "Hello, world");
	cJSON_Delete(j);
}

static void test_write_retry_not_duplicated(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	size_t rl = strlen(req);
	/* first attempt fails (WANT_WRITE), BPF rolls its position back */
	uint64_t failed_call = call_seq;
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, rl);
	pos[LLMOBS_DIR_WRITE] -= rl;
	ctl(LLMOBS_EV_WRITE_FAIL, 1 * MS, failed_call);
	ssl_call(LLMOBS_DIR_WRITE, 3 * MS, req, rl);
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 10 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_int_equal(pstats.write_retry_bytes, rl);
	assert_int_equal(pstats.parse_errors_http, 0);
	assert_true(call_ttft_ms(c) > 6.999 && call_ttft_ms(c) < 7.001);
}

/* A partial write (GnuTLS writes one record per call; OpenSSL with partial
 * writes on): the head it wrote is kept, the tail is written again by the
 * next call, and the stream stays exact. */
static void test_partial_write_keeps_its_head(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	size_t rl = strlen(req), head = 40;
	uint64_t partial_call = call_seq, start = pos[LLMOBS_DIR_WRITE];
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, rl); /* copied whole at entry */
	pos[LLMOBS_DIR_WRITE] = start + head;        /* BPF keeps what it wrote */
	struct llmobs_event ev = {.type = LLMOBS_EV_WRITE_FAIL,
	                          .ts_ns = 1 * MS,
	                          .conn = SSL1,
	                          .tgid = TGID,
	                          .call_id = partial_call,
	                          .pos = start,
	                          .orig_len = (uint32_t)head,
	                          .fd = 5};
	pipeline_event(&ev, sizeof(ev));
	ssl_call(LLMOBS_DIR_WRITE, 2 * MS, req + head, rl - head);
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 10 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_int_equal(pstats.write_retry_bytes, rl - head);
	assert_int_equal(pstats.duplicate_bytes, 0);
	assert_int_equal(pstats.gaps, 0);
	assert_int_equal(pstats.parse_errors_http, 0);
}

static void test_close_mid_stream_aborts(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, strlen(req));
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, n / 2);
	assert_int_equal(only_call()->status, CALL_STREAMING);
	assert_int_equal(call_active_count(), 1);
	ctl(LLMOBS_EV_CLOSE, 9 * MS, 0);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_ABORTED);
	assert_int_equal(call_active_count(), 0);
	assert_int_equal(pstats.conns_active, 0);
}

/* Each way a connection can end names itself in the stream's error. */
static void test_close_reasons(void **state)
{
	(void)state;
	static const struct {
		uint16_t src;
		const char *why;
	} ends[] = {
	    {LLMOBS_SRC_SSL_SHUTDOWN, "SSL_shutdown"},
	    {LLMOBS_SRC_CLOSE, "socket closed"},
	    {LLMOBS_SRC_SSL_FREE, "SSL_free"},
	};
	char resp[8192];
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		reset();
		const char *req = request("");
		ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, strlen(req));
		size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
		ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, n / 2);
		struct llmobs_event ev = {.type = LLMOBS_EV_CLOSE,
		                          .ts_ns = 9 * MS,
		                          .conn = SSL1,
		                          .tgid = TGID,
		                          .src = ends[i].src,
		                          .fd = -1};
		pipeline_event(&ev, sizeof(ev));
		const struct llm_call *c = only_call();
		assert_int_equal(c->status, CALL_ABORTED);
		assert_non_null(strstr(c->error, ends[i].why));
	}
	/* discovery records pass through the pipeline untouched, not as bad */
	struct llmobs_event m = {.type = LLMOBS_EV_MAPPED,
	                         .ts_ns = 10 * MS,
	                         .tgid = TGID,
	                         .conn = 1234,
	                         .pos = 0xfe00000};
	pipeline_event(&m, sizeof(m));
	assert_int_equal(pstats.bad_events, 0);
	assert_int_equal(pstats.events[LLMOBS_EV_MAPPED], 1);
}

/* Probes attached while a connection was mid-exchange (a library loaded
 * just before its first call): the response of the missed request is
 * counted as unmatched, and the next exchange on the connection is a call. */
static void test_connection_seen_mid_exchange(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 1 * MS, resp, n); /* its request was never seen */
	assert_int_equal(pstats.calls_total, 0);
	const char *req = request("");
	ssl_call(LLMOBS_DIR_WRITE, 2 * MS, req, strlen(req));
	ssl_call(LLMOBS_DIR_READ, 3 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.text.data, "Hello, world");
	assert_true(pstats.ignored_bytes[IGNORE_UNMATCHED] > 0);

	/* joined inside a response body: those reads are skipped, the
	 * connection is not written off as "not HTTP" */
	reset();
	pos[0] = 1000, pos[1] = 5000;
	ssl_call(LLMOBS_DIR_READ, 1 * MS, resp + n / 2, n - n / 2);
	assert_int_equal(pstats.ignored_bytes[IGNORE_RESYNC], n - n / 2);
	ssl_call(LLMOBS_DIR_WRITE, 2 * MS, req, strlen(req));
	ssl_call(LLMOBS_DIR_READ, 3 * MS, resp, n);
	c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.text.data, "Hello, world");
	assert_int_equal(pstats.ignored_bytes[IGNORE_NOT_HTTP], 0);
}

static void test_exit_mid_stream_aborts(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, strlen(req));
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 5 * MS, resp, n - 10);
	ctl(LLMOBS_EV_EXIT, 9 * MS, 0);
	assert_int_equal(only_call()->status, CALL_ABORTED);
}

static void test_server_side_ignored(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	const char *req = request("");
	ssl_call(LLMOBS_DIR_READ, 1 * MS, req, strlen(req));
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_WRITE, 2 * MS, resp, n);
	ssl_call(LLMOBS_DIR_READ, 3 * MS, "x", 1);
	struct call_filter f = {0};
	cJSON *j = calls_to_json(&f, clock_now());
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "streams")), 0);
	cJSON_Delete(j);
	assert_int_equal(pstats.ignored_bytes[IGNORE_SERVER_SIDE], strlen(req) + n + 1);
}

/* A request body bigger than one record arrives in several pieces. */
static void test_large_request_split_into_pieces(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	size_t pad = 3 * LLMOBS_MAX_DATA + 123;
	char *body = malloc(pad + 200);
	int bl = sprintf(body, "{\"model\":\"big-model\",\"stream\":true,\"messages\":[{\"role\":"
	                       "\"user\",\"content\":\"");
	memset(body + bl, 'x', pad);
	strcpy(body + bl + pad, "\"}]}");
	size_t blen = strlen(body);
	char *req = malloc(blen + 512);
	int hl = sprintf(req,
	                 "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 blen);
	memcpy(req + hl, body, blen);
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, req, (size_t)hl + blen);
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call(LLMOBS_DIR_READ, 4 * MS, resp, n);
	const struct llm_call *c = only_call();
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.model, "big-model");
	assert_int_equal(c->req_bytes, blen);
	free(body);
	free(req);
}

/* A malformed record never crashes the pipeline and is counted. */
static void test_bad_records_counted(void **state)
{
	(void)state;
	reset();
	struct llmobs_event ev = {.type = LLMOBS_EV_DATA, .len = 100};
	pipeline_event(&ev, sizeof(ev)); /* claims payload it does not carry */
	ev.type = 99;
	ev.len = 0;
	pipeline_event(&ev, sizeof(ev));
	pipeline_event(&ev, 3);
	assert_int_equal(pstats.bad_events, 3);
}

/* The server side of a plaintext connection reads the request and writes
 * the response; timings are the server's. */
static void test_plaintext_server_side(void **state)
{
	(void)state;
	char resp[8192];
	reset();
	uint64_t conn = LLMOBS_PLAIN_CONN | LLMOBS_PLAIN_SERVER | 77;
	const char *req = request("");
	ssl_call_on(conn, TGID, LLMOBS_DIR_READ, 10 * MS, req, strlen(req), -1);
	size_t n = response(resp, sizeof(resp), "HTTP/1.1 200 OK");
	ssl_call_on(conn, TGID, LLMOBS_DIR_WRITE, 35 * MS, resp, n / 2, -1);
	ssl_call_on(conn, TGID, LLMOBS_DIR_WRITE, 45 * MS, resp + n / 2, n - n / 2, -1);
	const struct llm_call *c = only_call();
	assert_true(c->server_side);
	assert_int_equal(c->status, CALL_COMPLETED);
	assert_string_equal(c->dec.text.data, "Hello, world");
	assert_true(call_ttft_ms(c) > 24.999 && call_ttft_ms(c) < 25.001);
	assert_int_equal(pstats.ignored_bytes[IGNORE_SERVER_SIDE], 0);
}

/* A held write is flushed by the periodic tick once it is old enough, so a
 * call shows up while it waits for its first response byte. */
static void test_tick_flushes_held_write(void **state)
{
	(void)state;
	/* the event clock starts at 0 for every test (setup_each) */
	const uint64_t t0 = 1000 * MS;
	reset();
	const char *req = request("");
	ssl_call(LLMOBS_DIR_WRITE, t0, req, strlen(req));
	pipeline_tick();
	assert_int_equal(pstats.calls_total, 0); /* still held: the write may be retried */
	/* time passes (another connection's record), then the tick */
	ssl_call_on(SSL1 + 1, TGID, LLMOBS_DIR_READ, t0 + 500 * MS, "x", 1, -1);
	pipeline_tick();
	assert_int_equal(pstats.calls_total, 1);
	assert_int_equal(only_call()->status, CALL_STREAMING);
	/* nothing held any more: the next tick has nothing to do */
	pipeline_tick();
	assert_int_equal(pstats.calls_total, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_ring_gap_truncates),
	    PIPELINE_TEST(test_write_retry_not_duplicated),
	    PIPELINE_TEST(test_partial_write_keeps_its_head),
	    PIPELINE_TEST(test_close_mid_stream_aborts),
	    PIPELINE_TEST(test_close_reasons),
	    PIPELINE_TEST(test_connection_seen_mid_exchange),
	    PIPELINE_TEST(test_exit_mid_stream_aborts),
	    PIPELINE_TEST(test_server_side_ignored),
	    PIPELINE_TEST(test_large_request_split_into_pieces),
	    PIPELINE_TEST(test_bad_records_counted),
	    PIPELINE_TEST(test_plaintext_server_side),
	    PIPELINE_TEST(test_tick_flushes_held_write),
	};
	return cmocka_run_group_tests_name("conn", tests, setup, NULL);
}
