/* How a call ends: at the provider's terminator (whatever happens to the
 * rest of the body or the connection afterwards), aborted when the
 * connection goes first, and who owns a finished call that a connection
 * still points at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "records.h"

/* One provider's stream: where to POST, the SSE/NDJSON body, and what the
 * call must show once its terminator was read. */
struct wire_case {
	const char *name, *path, *req, *ctype, *body;
	const char *text;
	enum call_status status;
};

#define RESP_CREATED                                                                               \
	"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":"   \
	"\"gpt-5\",\"status\":\"in_progress\"}}\n\n"                                               \
	"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","       \
	"\"delta\":\"Hi\"}\n\n"

static const struct wire_case cases[] = {
    {"openai chat", "/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"stream\":true}",
     "text/event-stream",
     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
     "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
     "data: [DONE]\n\n",
     "Hi", CALL_COMPLETED},
    {"responses completed", "/v1/responses", "{\"model\":\"gpt-5\",\"stream\":true}",
     "text/event-stream",
     RESP_CREATED "event: response.completed\ndata: {\"type\":\"response.completed\","
                  "\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":3,"
                  "\"output_tokens\":1}}}\n\n",
     "Hi", CALL_COMPLETED},
    {"responses incomplete", "/v1/responses", "{\"model\":\"gpt-5\",\"stream\":true}",
     "text/event-stream",
     RESP_CREATED "event: response.incomplete\ndata: {\"type\":\"response.incomplete\","
                  "\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
                  "\"max_output_tokens\"}}}\n\n",
     "Hi", CALL_COMPLETED},
    {"responses failed", "/v1/responses", "{\"model\":\"gpt-5\",\"stream\":true}",
     "text/event-stream",
     RESP_CREATED "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":"
                  "{\"status\":\"failed\",\"error\":{\"message\":\"overloaded\"}}}\n\n",
     "Hi", CALL_ERROR},
    {"anthropic", "/v1/messages", "{\"model\":\"claude-x\",\"stream\":true}", "text/event-stream",
     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
     "\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
     "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
     "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
     "\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n"
     "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
     "Hi", CALL_COMPLETED},
    {"anthropic error event", "/v1/messages", "{\"model\":\"claude-x\",\"stream\":true}",
     "text/event-stream",
     "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
     "\"message\":\"Overloaded\"}}\n\n",
     NULL, CALL_ERROR},
    {"ollama", "/api/chat", "{\"model\":\"llama3.2\"}", "application/x-ndjson",
     "{\"model\":\"llama3.2\",\"message\":{\"content\":\"Hi\"},\"done\":false}\n"
     "{\"model\":\"llama3.2\",\"message\":{\"content\":\"\"},\"done\":true,"
     "\"done_reason\":\"stop\",\"prompt_eval_count\":3,\"eval_count\":1}\n",
     "Hi", CALL_COMPLETED},
    {"gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "{}",
     "text/event-stream",
     "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]}}],"
     "\"usageMetadata\": {\"promptTokenCount\": 6}}\r\n\r\n"
     "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}]},"
     "\"finishReason\": \"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 6,"
     "\"candidatesTokenCount\": 2}}\r\n\r\n",
     "Hi!", CALL_COMPLETED},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

enum ending { END_EXIT, END_CLOSE, END_SSL_FREE, END_REST_OF_BODY };

static void end_connection(enum ending how, uint64_t ts, const char *rest, size_t nrest)
{
	struct llmobs_event ev = {.ts_ns = ts, .conn = SSL1, .tgid = TGID, .fd = -1};
	switch (how) {
	case END_EXIT:
		ev.type = LLMOBS_EV_EXIT;
		pipeline_event(&ev, sizeof(ev));
		break;
	case END_CLOSE:
		ev.type = LLMOBS_EV_CLOSE;
		ev.src = LLMOBS_SRC_CLOSE;
		pipeline_event(&ev, sizeof(ev));
		break;
	case END_SSL_FREE:
		ev.type = LLMOBS_EV_CLOSE;
		ev.src = LLMOBS_SRC_SSL_FREE;
		pipeline_event(&ev, sizeof(ev));
		break;
	case END_REST_OF_BODY:
		ssl_call(LLMOBS_DIR_READ, ts, rest, nrest);
		break;
	}
}

static void check_case(const struct wire_case *k, const struct llm_call *c, const char *how)
{
	if (c->status != k->status)
		fail_msg("%s, %s: status %s (%s), want %s", k->name, how,
		         call_status_name(c->status), c->error, call_status_name(k->status));
	if (k->text && (!c->dec.text.data || strcmp(c->dec.text.data, k->text)))
		fail_msg("%s, %s: text '%s'", k->name, how, c->dec.text.data);
	/* it ended when the terminator was read (+40 ms), not at the close */
	double d = call_duration_ms(c, 0);
	if (d < 38.999 || d > 39.001)
		fail_msg("%s, %s: duration %.3f ms, want 39", k->name, how, d);
}

/* Chunked: the body's last chunk "0\r\n\r\n" arrives 200 ms after the
 * terminator, or never (the client exited, closed or freed first). */
static void test_terminator_ends_call_chunked(void **state)
{
	(void)state;
	static const char *const hows[] = {"exit", "close", "SSL_free", "rest of body"};
	char hdr[128], resp[8192];
	for (size_t i = 0; i < NCASES; i++) {
		const struct wire_case *k = &cases[i];
		snprintf(hdr, sizeof(hdr), "Content-Type: %s\r\n", k->ctype);
		size_t n = chunked_response(resp, sizeof(resp), hdr, k->body, strlen(k->body));
		size_t last = n - 5; /* "0\r\n\r\n" */
		for (int how = END_EXIT; how <= END_REST_OF_BODY; how++) {
			reset();
			post(k->path, "h", k->req, 1 * MS);
			ssl_call(LLMOBS_DIR_READ, 40 * MS, resp, last);
			const struct llm_call *c = only_call();
			if (!c->finished)
				fail_msg("%s: not finished once its terminator was read", k->name);
			end_connection((enum ending)how, 240 * MS, resp + last, n - last);
			check_case(k, only_call(), hows[how]);
			assert_int_equal(call_active_count(), 0);
		}
	}
}

/* Content-Length: bytes after the terminator (a comment) never arrive, or
 * arrive and are counted, not parsed. */
static void test_terminator_ends_call_length(void **state)
{
	(void)state;
	static const char tail[] = ": trailing comment\n\n";
	char resp[8192];
	for (size_t i = 0; i < NCASES; i++) {
		const struct wire_case *k = &cases[i];
		size_t blen = strlen(k->body) + strlen(tail);
		int n =
		    snprintf(resp, sizeof(resp),
		             "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n"
		             "%s%s",
		             k->ctype, blen, k->body, tail);
		size_t head = (size_t)n - strlen(tail);
		reset();
		post(k->path, "h", k->req, 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 40 * MS, resp, head);
		end_connection(END_EXIT, 300 * MS, NULL, 0);
		check_case(k, only_call(), "exit");

		reset();
		post(k->path, "h", k->req, 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 40 * MS, resp, head);
		ssl_call(LLMOBS_DIR_READ, 300 * MS, resp + head, strlen(tail));
		check_case(k, only_call(), "rest of body");
		assert_int_equal(pstats.ignored_bytes[IGNORE_AFTER_END], strlen(tail));
		/* the connection goes on: the next call pairs normally */
		post(k->path, "h", k->req, 400 * MS);
		ssl_call(LLMOBS_DIR_READ, 440 * MS, resp, (size_t)n);
		assert_int_equal(pstats.calls_total, 2);
		assert_int_equal(call_active_count(), 0);
	}
}

/* The same stream read in two pieces cut at every byte: the status never
 * depends on where the read that carried the terminator ended. */
static void test_terminator_every_split_then_exit(void **state)
{
	(void)state;
	char resp[8192];
	const struct wire_case *k = &cases[0];
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
	                 strlen(k->body), k->body);
	const char *done = strstr(resp, "[DONE]");
	/* reads that stop anywhere at or after the event's blank line */
	size_t ends = (size_t)(done - resp) + 6 + 2;
	for (size_t cut = 1; cut < (size_t)n; cut++) {
		reset();
		post(k->path, "h", k->req, 1 * MS);
		ssl_call(LLMOBS_DIR_READ, 20 * MS, resp, cut);
		if (cut < ends)
			ssl_call(LLMOBS_DIR_READ, 40 * MS, resp + cut, ends - cut);
		end_connection(END_EXIT, 300 * MS, NULL, 0);
		const struct llm_call *c = only_call();
		if (c->status != CALL_COMPLETED)
			fail_msg("cut %zu: %s (%s)", cut, call_status_name(c->status), c->error);
	}
}

/* Cut before the terminator: aborted, with the reason, ended at the close. */
static void test_cut_before_terminator_aborts(void **state)
{
	(void)state;
	static const char *const why[] = {"process exited", "socket closed", "SSL_free"};
	char hdr[128], resp[8192];
	for (size_t i = 0; i < NCASES; i++) {
		const struct wire_case *k = &cases[i];
		snprintf(hdr, sizeof(hdr), "Content-Type: %s\r\n", k->ctype);
		/* the body without its last event (or line) */
		size_t blen = strlen(k->body) - 2;
		while (blen &&
		       !(k->body[blen - 1] == '\n' &&
		         (k->body[blen - 2] == '\n' || !strcmp(k->ctype, "application/x-ndjson"))))
			blen--;
		if (k->status == CALL_ERROR && !k->text)
			continue; /* a single error event: nothing before it */
		size_t n = chunked_response(resp, sizeof(resp), hdr, k->body, blen);
		for (int how = END_EXIT; how <= END_SSL_FREE; how++) {
			reset();
			post(k->path, "h", k->req, 1 * MS);
			ssl_call(LLMOBS_DIR_READ, 40 * MS, resp, n - 5);
			assert_false(only_call()->finished);
			end_connection((enum ending)how, 240 * MS, NULL, 0);
			const struct llm_call *c = only_call();
			if (c->status != CALL_ABORTED || !strstr(c->error, why[how]))
				fail_msg("%s: %s (%s), want aborted: %s", k->name,
				         call_status_name(c->status), c->error, why[how]);
			double d = call_duration_ms(c, 0);
			assert_true(d > 238.999 && d < 239.001);
		}
	}
}

/* A call that finished early (a malformed request body) stays referenced by
 * its connection until its response arrives; meanwhile more calls than
 * --keep finish. The late response must not touch freed memory (ASan). */
static void test_finished_call_outlives_keep(void **state)
{
	(void)state;
	const uint64_t SSL2 = SSL1 + 0x100;
	char resp[8192];
	size_t n = chunked_response(resp, sizeof(resp), "Content-Type: text/event-stream\r\n",
	                            cases[0].body, strlen(cases[0].body));
	reset_keep(3);
	static const char bad[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
	                          "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n";
	ssl_call(LLMOBS_DIR_WRITE, 1 * MS, bad, strlen(bad));
	ctl(LLMOBS_EV_WRITE_DONE, 2 * MS, call_seq - 1); /* the write succeeded: parse it */
	const struct llm_call *early = only_call();
	assert_int_equal(early->status, CALL_ERROR);
	uint64_t early_id = early->id;
	for (int i = 0; i < 12; i++) {
		char req[512];
		int rn = snprintf(req, sizeof(req),
		                  "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
		                  "Content-Length: %zu\r\n\r\n%s",
		                  strlen(cases[0].req), cases[0].req);
		ssl_call_on(SSL2, TGID, LLMOBS_DIR_WRITE, (10 + (uint64_t)i) * MS, req, (size_t)rn,
		            -1);
		ssl_call_on(SSL2, TGID, LLMOBS_DIR_READ, (10 + (uint64_t)i) * MS, resp, n, -1);
	}
	assert_null(call_find(early_id)); /* aged out of the API's list */
	assert_int_equal(pstats.calls_total, 13);
	/* the late answer on the first connection, then its end */
	ssl_call(LLMOBS_DIR_READ, 6000 * MS, resp, n);
	ctl(LLMOBS_EV_CLOSE, 6001 * MS, 0);
	assert_int_equal(pstats.conns_active, 1);
	assert_int_equal(call_active_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PIPELINE_TEST(test_terminator_ends_call_chunked),
	    PIPELINE_TEST(test_terminator_ends_call_length),
	    PIPELINE_TEST(test_terminator_every_split_then_exit),
	    PIPELINE_TEST(test_cut_before_terminator_aborts),
	    PIPELINE_TEST(test_finished_call_outlives_keep),
	};
	return cmocka_run_group_tests_name("call_end", tests, setup, NULL);
}
