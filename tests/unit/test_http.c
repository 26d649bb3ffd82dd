/* HTTP/1.1 reassembly: fixtures parsed whole, split at every byte boundary,
 * in 3-piece stride splits and byte by byte all give the same callbacks;
 * hand-written expectations; credentials never reach a delivered field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fixture.h"
#include "wire/http.h"

/* Substrings of credential values in the fixtures; none may be delivered. */
static const char *const secrets[] = {"SECRET", "sk-REDACTED"};

/* Everything the callbacks saw. */
struct rec {
	struct buf text;    /* one line per on_headers/on_complete/on_error */
	struct buf body[2]; /* concatenated body per direction */
	int headers[2], complete[2], errors[2];
	bool in_msg[2];       /* between on_headers and on_complete */
	int body_outside_msg; /* body bytes delivered outside a message */
	int secret_hits;      /* credentials found in a delivered http_msg */
	struct http_msg last[2];
	char last_reason[192];
};

/* True if any secret occurs anywhere in the n bytes at p. */
static bool has_secret(const void *p, size_t n)
{
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (memmem(p, n, secrets[i], strlen(secrets[i])))
			return true;
	return false;
}

/* Scans every char array of m, bytes past the NUL included. */
static bool msg_has_secret(const struct http_msg *m)
{
	return has_secret(m->method, sizeof(m->method)) || has_secret(m->path, sizeof(m->path)) ||
	       has_secret(m->host, sizeof(m->host)) ||
	       has_secret(m->content_type, sizeof(m->content_type)) ||
	       has_secret(m->content_encoding, sizeof(m->content_encoding)) ||
	       has_secret(m->user_agent, sizeof(m->user_agent)) || has_secret(m, sizeof(*m));
}

static void rec_printf(struct rec *r, const char *fmt, ...)
{
	char line[1400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	buf_append(&r->text, line, (size_t)n);
}

static void on_headers(void *ctx, const struct http_msg *m)
{
	struct rec *r = ctx;
	rec_printf(r, "H%d %s %s %d host=%s ct=%s ce=%s ua=%s cl=%lld ch=%d ka=%d v=%u.%u\n",
	           m->dir, m->method, m->path, m->status, m->host, m->content_type,
	           m->content_encoding, m->user_agent, (long long)m->content_length, m->chunked,
	           m->keep_alive, m->http_major, m->http_minor);
	if (msg_has_secret(m))
		r->secret_hits++;
	r->headers[m->dir]++;
	r->in_msg[m->dir] = true;
	r->last[m->dir] = *m;
}

static void on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct rec *r = ctx;
	if (!r->in_msg[dir])
		r->body_outside_msg++;
	buf_append(&r->body[dir], p, n);
}

static void on_complete(void *ctx, enum http_dir dir)
{
	struct rec *r = ctx;
	/* the body length so far tells which bytes belong to this message */
	rec_printf(r, "C%d %zu\n", dir, r->body[dir].len);
	r->complete[dir]++;
	r->in_msg[dir] = false;
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct rec *r = ctx;
	assert_non_null(reason);
	assert_true(reason[0] != '\0');
	snprintf(r->last_reason, sizeof(r->last_reason), "%s", reason);
	rec_printf(r, "E%d\n", dir);
	r->errors[dir]++;
}

/* The new protocol's first bytes, recorded as they come. */
static void on_upgrade(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct rec *r = ctx;
	rec_printf(r, "U%d %zu %.*s\n", dir, n, (int)n, p);
}

static const struct http_callbacks cbs = {on_headers, on_body, on_complete, on_error, on_upgrade};

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, 0);
	buf_init(&r->body[0], 0);
	buf_init(&r->body[1], 0);
}

static void rec_free(struct rec *r)
{
	buf_free(&r->text);
	buf_free(&r->body[0]);
	buf_free(&r->body[1]);
}

static const char *text(const struct rec *r)
{
	return r->text.data ? r->text.data : "";
}

/* Feeds s to one direction in pieces ending at cuts, then EOF if asked. */
static void feed_cuts(struct http_conn *c, enum http_dir dir, const char *s, size_t n,
                      const size_t *cuts, size_t ncuts)
{
	size_t at = 0;
	for (size_t i = 0; i < ncuts; i++) {
		http_feed(c, dir, s + at, cuts[i] - at);
		at = cuts[i];
	}
	http_feed(c, dir, s + at, n - at);
}

/* Serialised outcome (callbacks, bodies, counters) of feeding s in pieces. */
static char *run(enum http_dir dir, const char *s, size_t n, const size_t *cuts, size_t ncuts,
                 bool eof)
{
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	feed_cuts(c, dir, s, n, cuts, ncuts);
	if (eof)
		http_eof(c, dir);
	const struct http_stats *st = http_conn_stats(c);
	rec_printf(&r, "stats bytes=%llu msgs=%llu cut=%llu skipped=%llu errors=%llu\n",
	           (unsigned long long)st->bytes[dir], (unsigned long long)st->messages[dir],
	           (unsigned long long)st->header_cut_bytes,
	           (unsigned long long)st->skipped_bytes[dir], (unsigned long long)st->errors);
	rec_printf(&r, "outside=%d secrets=%d\nB:", r.body_outside_msg, r.secret_hits);
	buf_append(&r.text, r.body[dir].data ? r.body[dir].data : "", r.body[dir].len);
	http_conn_free(c);
	char *out = xstrdup(r.text.data);
	rec_free(&r);
	return out;
}

static void expect_same(const char *name, const char *ref, char *got, const char *how)
{
	if (strcmp(ref, got))
		fail_msg("%s %s gives:\n%s\ninstead of (whole):\n%s", name, how, got, ref);
	free(got);
}

/* Whole vs every 2-piece split vs 3-piece stride splits vs byte by byte. */
static void check_splits(const char *name, enum http_dir dir, const char *s, size_t n, bool eof)
{
	char *ref = run(dir, s, n, NULL, 0, eof);
	char how[64];
	assert_non_null(strstr(ref, " errors=0\n")); /* the fixtures are valid */
	assert_non_null(strstr(ref, "outside=0 secrets=0\n"));
	for (size_t cut = 1; cut < n; cut++) {
		snprintf(how, sizeof(how), "split at %zu", cut);
		expect_same(name, ref, run(dir, s, n, &cut, 1, eof), how);
	}
	static const size_t strides[] = {1, 2, 3, 7, 16, 61};
	for (size_t k = 0; k < sizeof(strides) / sizeof(strides[0]); k++) {
		for (size_t a = 1; a + strides[k] < n; a++) {
			size_t cuts[2] = {a, a + strides[k]};
			snprintf(how, sizeof(how), "split at %zu and %zu", cuts[0], cuts[1]);
			expect_same(name, ref, run(dir, s, n, cuts, 2, eof), how);
		}
	}
	size_t *cuts = xmalloc(n * sizeof(*cuts));
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	expect_same(name, ref, run(dir, s, n, cuts, n - 1, eof), "byte by byte");
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

static char *wire(const char *name, size_t *n)
{
	char *s = fixture_wire(name, n);
	if (!s)
		fail_msg("missing wire fixture %s", name);
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
	    {"http_json_response.bin", HTTP_DIR_RESP, false},
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

static void test_wire_synthetic_every_split(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	size_t n;
	char *s = wire("synthetic_openai_chat_http11_request.bin", &n);
	check_splits("wire request", HTTP_DIR_REQ, s, n, false);
	free(s);
	s = wire("synthetic_openai_chat_http11_chunked_response.bin", &n);
	check_splits("wire response", HTTP_DIR_RESP, s, n, false);
	free(s);
}

/* The 116-byte JSON body of the wire request, copied from the file. */
static const char wire_req_body[] =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";

/* The wire response de-chunked by hand: chunks 0x39, 0x145, 0x3d, 0x277
 * and 0x14 long, 1094 bytes in all. */
static const char wire_resp_body[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\""
    ",\"created\":1727346168,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,"
    "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"h\xc3\xa9llo "
    "\xe4"
    "\xb8\x96\xe7\x95\x8c\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n"
    "\n: keep-alive comment line, ignored by SSE parsers\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,"
    "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,"
    "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,"
    "\"completion_tokens\":4,\"total_tokens\":2010,\"prompt_tokens_details\":{\"cached_tokens\":"
    "1920,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,"
    "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":"
    "0}}}\n\ndata: [DONE]\n\n";

static void test_wire_synthetic_values(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	assert_int_equal(sizeof(wire_req_body) - 1, 116);
	assert_int_equal(sizeof(wire_resp_body) - 1, 0x39 + 0x145 + 0x3d + 0x277 + 0x14);
	size_t nq, ns;
	char *q = wire("synthetic_openai_chat_http11_request.bin", &nq);
	char *s = wire("synthetic_openai_chat_http11_chunked_response.bin", &ns);
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	http_feed(c, HTTP_DIR_REQ, q, nq);
	http_feed(c, HTTP_DIR_RESP, s, ns);
	/* Authorization and Accept are not kept; the token never shows */
	assert_string_equal(text(&r), "H0 POST /v1/chat/completions 0 host=api.openai.com "
	                              "ct=application/json ce= ua= cl=116 ch=0 ka=1 v=1.1\n"
	                              "C0 116\n"
	                              "H1   200 host= ct=text/event-stream; charset=utf-8 ce= ua= "
	                              "cl=-1 ch=1 ka=1 v=1.1\n"
	                              "C1 1094\n");
	assert_int_equal(r.body[0].len, 116);
	assert_memory_equal(r.body[0].data, wire_req_body, 116);
	assert_int_equal(r.body[1].len, 1094);
	assert_memory_equal(r.body[1].data, wire_resp_body, 1094);
	assert_int_equal(r.secret_hits, 0);
	const struct http_stats *st = http_conn_stats(c);
	assert_int_equal(st->bytes[0], nq);
	assert_int_equal(st->bytes[1], ns);
	assert_int_equal(st->messages[0], 1);
	assert_int_equal(st->messages[1], 1);
	assert_int_equal(st->errors, 0);
	http_conn_free(c);
	rec_free(&r);
	free(q);
	free(s);
}

static void test_sse_chunked_response_values(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_sse_chunked_response.bin", &n);
	/* the status line, headers and the whole first chunk in one feed */
	const char *first_chunk_end = strstr(s, "first\"}\n\n\r\n");
	assert_non_null(first_chunk_end);
	size_t cut = (size_t)(first_chunk_end - s) + 11;
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	http_feed(c, HTTP_DIR_RESP, s, cut);
	assert_string_equal(text(&r), "H1   200 host= ct=text/event-stream ce= ua= cl=-1 ch=1 ka=1 "
	                              "v=1.1\n");
	assert_int_equal(r.body[1].len, 21);
	assert_memory_equal(r.body[1].data, "data: {\"a\":\"first\"}\n\n", 21);
	http_feed(c, HTTP_DIR_RESP, s + cut, n - cut);
	/* 0x15 + 0x14 + 0xe bytes: 世 (E4 B8 96) is whole again */
	assert_string_equal(text(&r), "H1   200 host= ct=text/event-stream ce= ua= cl=-1 ch=1 ka=1 "
	                              "v=1.1\nC1 55\n");
	assert_string_equal(r.body[1].data, "data: {\"a\":\"first\"}\n\n"
	                                    "data: {\"a\":\"\xe4\xb8\x96x\"}\n\n"
	                                    "data: [DONE]\n\n");
	http_conn_free(c);
	rec_free(&r);
	free(s);
}

static void test_json_response_values(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_json_response.bin", &n);
	char *out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	/* the Set-Cookie value is not kept */
	assert_string_equal(out,
	                    "H1   200 host= ct=application/json ce= ua= cl=139 ch=0 ka=1 v=1.1\n"
	                    "C1 139\n"
	                    "stats bytes=271 msgs=1 cut=0 skipped=0 errors=0\n"
	                    "outside=0 secrets=0\n"
	                    "B:{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\","
	                    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	                    "\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}");
	free(out);
	free(s);
}

static void test_429_response_values(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_429_response.bin", &n);
	char *out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_string_equal(out,
	                    "H1   429 host= ct=application/json ce= ua= cl=58 ch=0 ka=1 v=1.1\n"
	                    "C1 58\n"
	                    "stats bytes=176 msgs=1 cut=0 skipped=0 errors=0\n"
	                    "outside=0 secrets=0\n"
	                    "B:{\"error\":{\"message\":\"Rate limit reached\","
	                    "\"type\":\"tokens\"}}");
	free(out);
	free(s);
}

/* Two requests and two responses back to back on one connection, fed in
 * the order a client sees them, each direction split at every boundary. */
static void test_keepalive_two_pairs(void **state)
{
	(void)state;
	size_t nq, ns;
	char *q = own("http_keepalive_requests.bin", &nq);
	char *s = own("http_keepalive_responses.bin", &ns);
	/* request 1 ends after its 15-byte body, response 1 after its 11 */
	size_t q1 = (size_t)(strstr(q, "GET ") - q), s1 = (size_t)(strstr(s + 1, "HTTP/1.1") - s);
	const char *want = "H0 POST /v1/chat/completions 0 host=api.example.com "
	                   "ct=application/json ce= ua= cl=15 ch=0 ka=1 v=1.1\n"
	                   "C0 15\n"
	                   "H1   200 host= ct=application/json ce= ua= cl=11 ch=0 ka=1 v=1.1\n"
	                   "C1 11\n"
	                   "H0 GET /v1/models 0 host=api.example.com ct= ce= ua=test/1.0 "
	                   "cl=-1 ch=0 ka=1 v=1.1\n"
	                   "C0 15\n"
	                   "H1   200 host= ct=application/json ce=identity ua= cl=-1 ch=1 ka=1 "
	                   "v=1.1\n"
	                   "C1 21\n";
	for (size_t cut = 0; cut <= ns - s1; cut++) {
		struct rec r;
		rec_init(&r);
		struct http_conn *c = http_conn_new(&cbs, &r);
		size_t qcut = cut % (nq - q1 + 1);
		http_feed(c, HTTP_DIR_REQ, q, q1);
		http_feed(c, HTTP_DIR_RESP, s, s1);
		http_feed(c, HTTP_DIR_REQ, q + q1, qcut);
		http_feed(c, HTTP_DIR_REQ, q + q1 + qcut, nq - q1 - qcut);
		http_feed(c, HTTP_DIR_RESP, s + s1, cut);
		http_feed(c, HTTP_DIR_RESP, s + s1 + cut, ns - s1 - cut);
		assert_string_equal(text(&r), want);
		assert_int_equal(r.body[0].len, 15);
		assert_memory_equal(r.body[0].data, "{\"model\":\"m-1\"}", 15);
		assert_int_equal(r.body[1].len, 21);
		assert_memory_equal(r.body[1].data, "{\"ok\":true}{\"data\":1}", 21);
		assert_int_equal(http_conn_stats(c)->messages[0], 2);
		assert_int_equal(http_conn_stats(c)->messages[1], 2);
		http_conn_free(c);
		rec_free(&r);
	}
	free(q);
	free(s);
}

static void test_credentials_never_delivered(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_request_secrets.bin", &n);
	for (size_t cut = 0; cut <= n; cut++) {
		struct rec r;
		rec_init(&r);
		struct http_conn *c = http_conn_new(&cbs, &r);
		feed_cuts(c, HTTP_DIR_REQ, s, n, &cut, 1);
		assert_int_equal(r.headers[0], 1);
		assert_int_equal(r.complete[0], 1);
		assert_int_equal(r.secret_hits, 0);
		assert_null(strstr(text(&r), "SECRET"));
		assert_string_equal(r.last[0].host, "api.anthropic.com");
		assert_string_equal(r.last[0].path, "/v1/messages");
		assert_string_equal(r.last[0].method, "POST");
		assert_int_equal(r.last[0].content_length, 2);
		/* nothing the conn owns holds a credential value either */
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			assert_null(
			    memmem(c, malloc_usable_size(c), secrets[i], strlen(secrets[i])));
		http_conn_free(c);
		rec_free(&r);
	}
	free(s);
}

static void test_read_until_close_needs_eof(void **state)
{
	(void)state;
	size_t n;
	char *s = own("http_close_delimited_response.bin", &n);
	char *out = run(HTTP_DIR_RESP, s, n, NULL, 0, false);
	assert_null(strstr(out, "C1")); /* not complete until the peer closes */
	free(out);
	out = run(HTTP_DIR_RESP, s, n, NULL, 0, true);
	assert_string_equal(out,
	                    "H1   200 host= ct=text/event-stream ce= ua= cl=-1 ch=0 ka=0 v=1.0\n"
	                    "C1 19\n"
	                    "stats bytes=71 msgs=1 cut=0 skipped=0 errors=0\n"
	                    "outside=0 secrets=0\n"
	                    "B:data: until close\n\n");
	free(out);
	free(s);
}

static void test_short_body_at_eof_is_not_complete(void **state)
{
	(void)state;
	/* the peer went away mid-body: reported to the caller, never delivered
	 * as a complete message, and not a parse error */
	const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	http_feed(c, HTTP_DIR_RESP, s, sizeof(s) - 1);
	assert_int_equal(http_eof(c, HTTP_DIR_RESP), -1);
	assert_int_equal(r.complete[HTTP_DIR_RESP], 0);
	assert_int_equal(r.errors[HTTP_DIR_RESP], 0);
	assert_int_equal(r.body[HTTP_DIR_RESP].len, 5); /* what arrived was delivered */
	http_conn_free(c);
	rec_free(&r);
	/* EOF between messages is nothing */
	const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	rec_init(&r);
	c = http_conn_new(&cbs, &r);
	http_feed(c, HTTP_DIR_RESP, ok, sizeof(ok) - 1);
	assert_int_equal(http_eof(c, HTTP_DIR_RESP), 0);
	assert_int_equal(r.complete[HTTP_DIR_RESP], 1);
	http_conn_free(c);
	rec_free(&r);
}

static void test_garbage_errors_once_then_resets(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	/* a response must start with "HTTP/": nothing here parses */
	http_feed(c, HTTP_DIR_RESP, "junk!", 5);
	http_feed(c, HTTP_DIR_RESP, "more junk", 9);
	http_feed(c, HTTP_DIR_RESP, "HTTP/1.1 200 OK\r\n\r\n", 19);
	assert_int_equal(r.errors[HTTP_DIR_RESP], 1);
	assert_string_equal(r.last_reason, "HPE_INVALID_CONSTANT: invalid constant string");
	assert_int_equal(r.headers[HTTP_DIR_RESP], 0);
	const struct http_stats *st = http_conn_stats(c);
	assert_int_equal(st->errors, 1);
	assert_int_equal(st->skipped_bytes[HTTP_DIR_RESP], 5 + 9 + 19);
	assert_int_equal(st->skipped_bytes[HTTP_DIR_REQ], 0);
	/* the request direction is unaffected */
	http_feed(c, HTTP_DIR_REQ, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_int_equal(r.complete[HTTP_DIR_REQ], 1);
	http_reset_dir(c, HTTP_DIR_RESP);
	const char ok[] = "HTTP/1.1 204 No Content\r\n\r\n";
	http_feed(c, HTTP_DIR_RESP, ok, sizeof(ok) - 1);
	assert_int_equal(r.errors[HTTP_DIR_RESP], 1);
	assert_int_equal(r.complete[HTTP_DIR_RESP], 1);
	assert_int_equal(r.last[HTTP_DIR_RESP].status, 204);
	assert_int_equal(st->skipped_bytes[HTTP_DIR_RESP], 5 + 9 + 19);
	http_conn_free(c);
	rec_free(&r);
}

/* Feeds "GET / HTTP/1.1" then `pads` X-Pad headers of 1096 counted bytes
 * (name 5 + value 1091), fed one header per call. */
static void feed_padded_request(struct http_conn *c, int pads)
{
	const char start[] = "GET / HTTP/1.1\r\n";
	http_feed(c, HTTP_DIR_REQ, start, sizeof(start) - 1);
	char hdr[1100];
	memset(hdr, 'a', sizeof(hdr));
	memcpy(hdr, "X-Pad: ", 7);
	memcpy(hdr + sizeof(hdr) - 2, "\r\n", 2);
	for (int i = 0; i < pads; i++)
		http_feed(c, HTTP_DIR_REQ, hdr, sizeof(hdr));
}

static void test_header_section_over_64k_errors(void **state)
{
	(void)state;
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	/* 59 headers: 1 + 59 * 1096 = 64665 bytes, under 64 KiB: fine */
	feed_padded_request(c, 59);
	http_feed(c, HTTP_DIR_REQ, "\r\n", 2);
	assert_int_equal(r.errors[HTTP_DIR_REQ], 0);
	assert_int_equal(r.complete[HTTP_DIR_REQ], 1);
	http_conn_free(c);
	rec_free(&r);

	rec_init(&r);
	c = http_conn_new(&cbs, &r);
	/* 60 headers: 65761 bytes, over 64 KiB */
	feed_padded_request(c, 60);
	assert_int_equal(r.errors[HTTP_DIR_REQ], 1);
	http_feed(c, HTTP_DIR_REQ, "\r\n", 2);
	assert_int_equal(r.errors[HTTP_DIR_REQ], 1);
	assert_int_equal(r.headers[HTTP_DIR_REQ], 0);
	assert_int_equal(r.complete[HTTP_DIR_REQ], 0);
	assert_true(http_conn_stats(c)->skipped_bytes[HTTP_DIR_REQ] >= 2);
	http_conn_free(c);
	rec_free(&r);
}

/* Requests, then responses split at every boundary: same callbacks. */
static void expect_exchange(const char *reqs, const char *resps, const char *want_text,
                            const char *want_body)
{
	size_t n = strlen(resps);
	for (size_t cut = 0; cut <= n; cut++) {
		struct rec r;
		rec_init(&r);
		struct http_conn *c = http_conn_new(&cbs, &r);
		http_feed(c, HTTP_DIR_REQ, reqs, strlen(reqs));
		feed_cuts(c, HTTP_DIR_RESP, resps, n, &cut, 1);
		if (strcmp(text(&r), want_text))
			fail_msg("split at %zu:\n%s\ninstead of\n%s", cut, text(&r), want_text);
		assert_int_equal(r.body[1].len, strlen(want_body));
		assert_memory_equal(r.body[1].data ? r.body[1].data : "", want_body,
		                    strlen(want_body));
		assert_int_equal(r.errors[1], 0);
		http_conn_free(c);
		rec_free(&r);
	}
}

static void test_head_response_has_no_body(void **state)
{
	(void)state;
	/* the HEAD answer's Content-Length describes a body that is not sent:
	 * the next response must not be eaten as that body */
	expect_exchange("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"
	                "GET /y HTTP/1.1\r\nHost: h\r\n\r\n",
	                "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
	                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	                "H0 HEAD /x 0 host=h ct= ce= ua= cl=-1 ch=0 ka=1 v=1.1\n"
	                "C0 0\n"
	                "H0 GET /y 0 host=h ct= ce= ua= cl=-1 ch=0 ka=1 v=1.1\n"
	                "C0 0\n"
	                "H1   200 host= ct= ce= ua= cl=1234 ch=0 ka=1 v=1.1\n"
	                "C1 0\n"
	                "H1   200 host= ct= ce= ua= cl=5 ch=0 ka=1 v=1.1\n"
	                "C1 5\n",
	                "hello");
}

static void test_100_continue_then_200(void **state)
{
	(void)state;
	expect_exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
	                "Expect: 100-continue\r\n\r\n{}",
	                "HTTP/1.1 100 Continue\r\n\r\n"
	                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	                "H0 POST /v1/chat/completions 0 host=h ct= ce= ua= cl=2 ch=0 ka=1 v=1.1\n"
	                "C0 2\n"
	                "H1   100 host= ct= ce= ua= cl=-1 ch=0 ka=1 v=1.1\n"
	                "C1 0\n"
	                "H1   200 host= ct= ce= ua= cl=5 ch=0 ka=1 v=1.1\n"
	                "C1 5\n",
	                "hello");
}

/* A WebSocket upgrade: each direction stops at the end of its message and
 * hands over the bytes after it, whatever the split; the headers that say
 * what was agreed are kept; no error. */
static void test_websocket_upgrade_hands_over(void **state)
{
	(void)state;
	static const char req[] =
	    "GET /v1/responses HTTP/1.1\r\nHost: api\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate; "
	    "client_max_window_bits\r\nAuthorization: Bearer sk-SECRET\r\n\r\n";
	static const char resp[] =
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"
	    "\r\n\r\nAB";
	for (size_t cut = 1; cut < sizeof(resp) - 1; cut++) {
		struct rec r;
		rec_init(&r);
		struct http_conn *c = http_conn_new(&cbs, &r);
		http_feed(c, HTTP_DIR_REQ, req, sizeof(req) - 1);
		http_feed(c, HTTP_DIR_RESP, resp, cut);
		http_feed(c, HTTP_DIR_RESP, resp + cut, sizeof(resp) - 1 - cut);
		http_feed(c, HTTP_DIR_RESP, "CD", 2); /* after the switch: not HTTP's */
		const char *t = text(&r);
		assert_non_null(strstr(t, "H0 GET /v1/responses 0 host=api"));
		assert_non_null(strstr(t, "U0 0 \n"));
		assert_non_null(strstr(t, "H1   101 "));
		/* the rest of the piece the 101 ended in: the caller's from there */
		size_t head = sizeof(resp) - 1 - 2, rest = cut >= head ? cut - head : 2;
		char want[16];
		snprintf(want, sizeof(want), "U1 %zu %.*s\n", rest, (int)rest, "AB");
		assert_non_null(strstr(t, want));
		assert_null(strstr(t, "CD"));
		assert_int_equal(r.errors[0] + r.errors[1], 0);
		assert_string_equal(r.last[HTTP_DIR_REQ].upgrade, "websocket");
		assert_string_equal(r.last[HTTP_DIR_REQ].ws_extensions,
		                    "permessage-deflate; client_max_window_bits");
		assert_string_equal(r.last[HTTP_DIR_RESP].ws_extensions,
		                    "permessage-deflate; server_no_context_takeover");
		assert_int_equal(r.secret_hits, 0);
		assert_int_equal(http_conn_stats(c)->errors, 0);
		http_conn_free(c);
		rec_free(&r);
	}
}

/* Gemini puts its API key in the query: the parser never keeps a query. */
static void test_query_key_never_kept(void **state)
{
	(void)state;
	const char req[] =
	    "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&"
	    "key=AIzaSECRETKEY HTTP/1.1\r\nHost: generativelanguage.googleapis.com\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	size_t n = sizeof(req) - 1;
	for (size_t cut = 0; cut <= n; cut++) {
		struct rec r;
		rec_init(&r);
		struct http_conn *c = http_conn_new(&cbs, &r);
		feed_cuts(c, HTTP_DIR_REQ, req, n, &cut, 1);
		assert_int_equal(r.complete[0], 1);
		assert_string_equal(r.last[0].path,
		                    "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
		assert_null(memmem(&r.last[0], sizeof(r.last[0]), "SECRET", 6));
		assert_null(memmem(c, malloc_usable_size(c), "SECRET", 6)); /* nor in the parser */
		http_conn_free(c);
		rec_free(&r);
	}
}

static void test_long_values_cut_and_counted(void **state)
{
	(void)state;
	/* a 600-byte target keeps 511 bytes (path[512]), a 200-byte
	 * Content-Type keeps 127: 89 + 73 bytes are counted as cut */
	struct buf s;
	buf_init(&s, 0);
	buf_append(&s, "GET /", 5);
	for (int i = 0; i < 599; i++)
		buf_append(&s, "p", 1);
	buf_append(&s, " HTTP/1.1\r\nContent-Type: ", 25);
	for (int i = 0; i < 200; i++)
		buf_append(&s, "t", 1);
	buf_append(&s, "\r\n\r\n", 4);
	char *ref = run(HTTP_DIR_REQ, s.data, s.len, NULL, 0, false);
	assert_non_null(strstr(ref, "cut=162 "));
	assert_non_null(strstr(ref, "C0 0\n"));
	struct rec r;
	rec_init(&r);
	struct http_conn *c = http_conn_new(&cbs, &r);
	http_feed(c, HTTP_DIR_REQ, s.data, s.len);
	assert_int_equal(strlen(r.last[0].path), 511);
	assert_int_equal(strlen(r.last[0].content_type), 127);
	http_conn_free(c);
	rec_free(&r);
	free(ref);
	check_splits("long values", HTTP_DIR_REQ, s.data, s.len, false);
	buf_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_own_fixtures_every_split),
	    cmocka_unit_test(test_wire_synthetic_every_split),
	    cmocka_unit_test(test_wire_synthetic_values),
	    cmocka_unit_test(test_sse_chunked_response_values),
	    cmocka_unit_test(test_json_response_values),
	    cmocka_unit_test(test_429_response_values),
	    cmocka_unit_test(test_keepalive_two_pairs),
	    cmocka_unit_test(test_credentials_never_delivered),
	    cmocka_unit_test(test_read_until_close_needs_eof),
	    cmocka_unit_test(test_short_body_at_eof_is_not_complete),
	    cmocka_unit_test(test_garbage_errors_once_then_resets),
	    cmocka_unit_test(test_header_section_over_64k_errors),
	    cmocka_unit_test(test_head_response_has_no_body),
	    cmocka_unit_test(test_100_continue_then_200),
	    cmocka_unit_test(test_long_values_cut_and_counted),
	    cmocka_unit_test(test_query_key_never_kept),
	    cmocka_unit_test(test_websocket_upgrade_hands_over),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
