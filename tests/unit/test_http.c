/* HTTP/1.1 reassembly: fixtures parsed whole, split at every byte boundary,
 * in 3 pieces and byte by byte all give the same callbacks; hand-written
 * expectations; credentials never reach a kept field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fixture.h"
#include "http.h"

/* Everything the callbacks saw, as text. */
struct log {
	struct buf text;
	struct buf body[2];
	int complete[2];
	int errors[2];
	struct http_msg last[2];
};

static void on_headers(void *ctx, const struct http_msg *m)
{
	struct log *l = ctx;
	char line[1400];
	snprintf(line, sizeof(line), "H%d %s %s %d host=%s ct=%s ce=%s ua=%s cl=%lld ch=%d ka=%d\n",
	         m->dir, m->method, m->path, m->status, m->host, m->content_type,
	         m->content_encoding, m->user_agent, (long long)m->content_length, m->chunked,
	         m->keep_alive);
	buf_append(&l->text, line, strlen(line));
	l->last[m->dir] = *m;
}

static void on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct log *l = ctx;
	buf_append(&l->body[dir], p, n);
}

static void on_complete(void *ctx, enum http_dir dir)
{
	struct log *l = ctx;
	char line[64];
	/* the body so far belongs to this message */
	snprintf(line, sizeof(line), "C%d %zu\n", dir, l->body[dir].len);
	buf_append(&l->text, line, strlen(line));
	l->complete[dir]++;
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct log *l = ctx;
	(void)reason;
	char line[32];
	snprintf(line, sizeof(line), "E%d\n", dir);
	buf_append(&l->text, line, strlen(line));
	l->errors[dir]++;
}

static const struct http_callbacks cbs = {on_headers, on_body, on_complete, on_error};

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->text, 0);
	buf_init(&l->body[0], 0);
	buf_init(&l->body[1], 0);
}

static void log_free(struct log *l)
{
	buf_free(&l->text);
	buf_free(&l->body[0]);
	buf_free(&l->body[1]);
}

/* Serialised outcome of feeding s in pieces ending at cuts. */
static char *run(enum http_dir dir, const char *s, size_t n, const size_t *cuts, size_t ncuts,
                 bool eof)
{
	struct log l;
	log_init(&l);
	struct http_conn *c = http_conn_new(&cbs, &l);
	size_t at = 0;
	for (size_t i = 0; i < ncuts; i++) {
		http_feed(c, dir, s + at, cuts[i] - at);
		at = cuts[i];
	}
	http_feed(c, dir, s + at, n - at);
	if (eof)
		http_eof(c, dir);
	http_conn_free(c);
	buf_append(&l.text, "B:", 2);
	buf_append(&l.text, l.body[dir].data ? l.body[dir].data : "", l.body[dir].len);
	char *out = xstrdup(l.text.data);
	log_free(&l);
	return out;
}

static void check_splits(const char *name, enum http_dir dir, const char *s, size_t n, bool eof)
{
	char *ref = run(dir, s, n, NULL, 0, eof);
	assert_null(strstr(ref, "\nE")); /* fixtures are valid */
	for (size_t cut = 1; cut < n; cut++) {
		char *got = run(dir, s, n, &cut, 1, eof);
		if (strcmp(ref, got))
			fail_msg("%s split at %zu:\n%s\nvs whole:\n%s", name, cut, got, ref);
		free(got);
	}
	for (size_t a = 1; a + 7 < n; a += 7) {
		size_t cuts[2] = {a, a + 1 + (n - a) / 2};
		char *got = run(dir, s, n, cuts, 2, eof);
		if (strcmp(ref, got))
			fail_msg("%s split at %zu and %zu differs", name, cuts[0], cuts[1]);
		free(got);
	}
	size_t *cuts = malloc(n * sizeof(*cuts));
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	char *got = run(dir, s, n, cuts, n - 1, eof);
	if (strcmp(ref, got))
		fail_msg("%s byte-by-byte differs", name);
	free(got);
	free(cuts);
	free(ref);
}

static char *own(const char *name, size_t *n)
{
	char *s = fixture_own(name, n);
	if (!s)
		fail_msg("missing tests/fixtures/%s", name);
	return s;
}

static void test_own_fixtures_every_split(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum http_dir dir;
		bool eof;
	} fx[] = {
	    {"http_sse_chunked_response.bin", HTTP_DIR_RESP, false},
	    {"http_keepalive_requests.bin", HTTP_DIR_REQ, false},
	    {"http_keepalive_responses.bin", HTTP_DIR_RESP, false},
	    {"http_request_secrets.bin", HTTP_DIR_REQ, false},
	    {"http_429_response.bin", HTTP_DIR_RESP, false},
	    {"http_close_delimited_response.bin", HTTP_DIR_RESP, true},
	};
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		size_t n;
		char *s = own(fx[i].name, &n);
		check_splits(fx[i].name, fx[i].dir, s, n, fx[i].eof);
		free(s);
	}
}

static void test_wire_synthetic_pair(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *req = fixture_wire("synthetic_openai_chat_http11_request.bin", &n);
	assert_non_null(req);
	check_splits("wire request", HTTP_DIR_REQ, req, n, false);
	char *out = run(HTTP_DIR_REQ, req, n, NULL, 0, false);
	assert_non_null(strstr(out, "H0 POST /v1/chat/completions 0 host=api.openai.com "
	                            "ct=application/json"));
	assert_non_null(strstr(out, "\nC0 "));
	assert_non_null(strstr(out, "B:{"));
	free(out);
	free(req);
	char *resp = fixture_wire("synthetic_openai_chat_http11_chunked_response.bin", &n);
	assert_non_null(resp);
	check_splits("wire response", HTTP_DIR_RESP, resp, n, false);
	out = run(HTTP_DIR_RESP, resp, n, NULL, 0, false);
	assert_non_null(strstr(out, "H1   200 host= ct=text/event-stream; charset=utf-8"));
	assert_non_null(strstr(out, " ch=1 ka=1\n"));
	/* de-chunked: the JSON object and the 3-byte character are whole again */
	assert_non_null(strstr(out,
	                       "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\""
	                       ",\"created\":"));
	assert_non_null(strstr(out, "\xe4\xb8\x96")); /* 世 */
	assert_non_null(strstr(out, "data: [DONE]"));
	free(out);
	free(resp);
}

static void test_expected_values(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_sse_chunked_response.bin", &n);
	char *out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_string_equal(out, "H1   200 host= ct=text/event-stream ce= ua= cl=-1 ch=1 ka=1\n"
	                         "C1 55\n"
	                         "B:data: {\"a\":\"first\"}\n\ndata: {\"a\":\"\xe4\xb8\x96x\"}\n\n"
	                         "data: [DONE]\n\n");
	free(out);
	free(s);

	s = own("http_keepalive_requests.bin", &n);
	out = run(HTTP_DIR_REQ, s, n, NULL, 0, false);
	assert_string_equal(out, "H0 POST /v1/chat/completions 0 host=api.example.com "
	                         "ct=application/json ce= ua= cl=15 ch=0 ka=1\n"
	                         "C0 15\n"
	                         "H0 GET /v1/models?x=1 0 host=api.example.com ct= ce= ua=test/1.0 "
	                         "cl=-1 ch=0 ka=1\n"
	                         "C0 15\n"
	                         "B:{\"model\":\"m-1\"}");
	free(out);
	free(s);

	s = own("http_keepalive_responses.bin", &n);
	out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_string_equal(out,
	                    "H1   200 host= ct=application/json ce= ua= cl=11 ch=0 ka=1\n"
	                    "C1 11\n"
	                    "H1   200 host= ct=application/json ce=identity ua= cl=-1 ch=1 ka=1\n"
	                    "C1 21\n"
	                    "B:{\"ok\":true}{\"data\":1}");
	free(out);
	free(s);

	s = own("http_close_delimited_response.bin", &n);
	out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_null(strstr(out, "C1")); /* not complete until the peer closes */
	free(out);
	out = run(HTTP_DIR_RESP, s, n, NULL, 0, true);
	assert_non_null(strstr(out, "C1 19\nB:data: until close\n\n"));
	free(out);
	free(s);
}

static void test_credentials_never_kept(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_request_secrets.bin", &n);
	for (size_t cut = 0; cut < n; cut++) {
		struct log l;
		log_init(&l);
		struct http_conn *c = http_conn_new(&cbs, &l);
		http_feed(c, HTTP_DIR_REQ, s, cut);
		http_feed(c, HTTP_DIR_REQ, s + cut, n - cut);
		assert_int_equal(l.complete[HTTP_DIR_REQ], 1);
		/* nothing delivered, and nothing in the parser's own memory */
		assert_null(strstr(l.text.data, "SECRET"));
		const struct http_msg *m = &l.last[HTTP_DIR_REQ];
		assert_string_equal(m->host, "api.anthropic.com");
		assert_null(memmem(m, sizeof(*m), "SECRET", 6));
		assert_null(memmem(c, 2048, "SECRET", 6)); /* struct http_conn is < 2 KiB */
		http_conn_free(c);
		log_free(&l);
	}
	free(s);
	s = own("http_429_response.bin", &n);
	char *out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_null(strstr(out, "SECRET-setcookie"));
	assert_non_null(strstr(out, "H1   429 "));
	assert_non_null(strstr(out, "B:{\"error\":{\"message\":\"Rate limit reached\""));
	free(out);
	free(s);
}

static void test_garbage_errors_once_then_resets(void **state)
{
	(void)state;
	struct log l;
	log_init(&l);
	struct http_conn *c = http_conn_new(&cbs, &l);
	http_feed(c, HTTP_DIR_RESP, "HTTP/1.1 2x0 ???\r\n", 18);
	http_feed(c, HTTP_DIR_RESP, "more junk", 9);
	assert_int_equal(l.errors[HTTP_DIR_RESP], 1);
	assert_true(http_conn_stats(c)->skipped_bytes[HTTP_DIR_RESP] >= 9);
	http_reset_dir(c, HTTP_DIR_RESP);
	const char ok[] = "HTTP/1.1 204 No Content\r\n\r\n";
	http_feed(c, HTTP_DIR_RESP, ok, sizeof(ok) - 1);
	assert_int_equal(l.complete[HTTP_DIR_RESP], 1);
	assert_int_equal(l.last[HTTP_DIR_RESP].status, 204);
	http_conn_free(c);
	log_free(&l);
}

static void test_oversize_headers_error(void **state)
{
	(void)state;
	struct log l;
	log_init(&l);
	struct http_conn *c = http_conn_new(&cbs, &l);
	const char start[] = "GET / HTTP/1.1\r\n";
	http_feed(c, HTTP_DIR_REQ, start, sizeof(start) - 1);
	char hdr[1100];
	memset(hdr, 'a', sizeof(hdr));
	memcpy(hdr, "X-Pad: ", 7);
	memcpy(hdr + sizeof(hdr) - 2, "\r\n", 2);
	for (int i = 0; i < 70 && !l.errors[HTTP_DIR_REQ]; i++)
		http_feed(c, HTTP_DIR_REQ, hdr, sizeof(hdr));
	assert_int_equal(l.errors[HTTP_DIR_REQ], 1);
	assert_int_equal(l.complete[HTTP_DIR_REQ], 0);
	http_conn_free(c);
	log_free(&l);
}

static void test_head_and_100_continue(void **state)
{
	(void)state;
	struct log l;
	log_init(&l);
	struct http_conn *c = http_conn_new(&cbs, &l);
	const char reqs[] = "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"
	                    "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
	                    "Expect: 100-continue\r\n\r\n{}";
	http_feed(c, HTTP_DIR_REQ, reqs, sizeof(reqs) - 1);
	assert_int_equal(l.complete[HTTP_DIR_REQ], 2);
	const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
	                     "HTTP/1.1 100 Continue\r\n\r\n"
	                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	http_feed(c, HTTP_DIR_RESP, resps, sizeof(resps) - 1);
	assert_int_equal(l.errors[HTTP_DIR_RESP], 0);
	/* HEAD answer, the interim 100, and the final answer */
	assert_int_equal(l.complete[HTTP_DIR_RESP], 3);
	assert_int_equal(l.body[HTTP_DIR_RESP].len, 5);
	assert_int_equal(l.last[HTTP_DIR_RESP].status, 200);
	assert_int_equal(l.last[HTTP_DIR_RESP].content_length, 5);
	http_conn_free(c);
	log_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_own_fixtures_every_split),
	    cmocka_unit_test(test_wire_synthetic_pair),
	    cmocka_unit_test(test_expected_values),
	    cmocka_unit_test(test_credentials_never_kept),
	    cmocka_unit_test(test_garbage_errors_once_then_resets),
	    cmocka_unit_test(test_oversize_headers_error),
	    cmocka_unit_test(test_head_and_100_continue),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
