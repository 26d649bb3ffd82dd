/* The streamed OpenAI chat completion most pipeline tests replay: its
 * request (with an API key that must never be served) and its SSE
 * response, "Hello, world", each event its own HTTP chunk. */
#ifndef LLMOBS_TEST_CHAT_STREAM_H
#define LLMOBS_TEST_CHAT_STREAM_H

#include <stdio.h>
#include <string.h>

static const char REQ_BODY[] =
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static inline char *request(const char *extra_headers)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf),
	         "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
	         "Authorization: Bearer sk-SECRET-123\r\n%sContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         extra_headers, strlen(REQ_BODY), REQ_BODY);
	return buf;
}

#define CHUNK(s)                                                                                   \
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" s                             \
	"\"},\"finish_reason\":null}]}\n\n"
static const char *const SSE_EVENTS[] = {
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    CHUNK("Hello"),
    CHUNK(", wor"),
    CHUNK("ld"),
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,"
    "\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
    "data: [DONE]\n\n",
};
#define NEVENTS (sizeof(SSE_EVENTS) / sizeof(SSE_EVENTS[0]))

/* The SSE body as one chunked HTTP response, each event its own chunk. */
static inline size_t response(char *out, size_t cap, const char *status_line)
{
	size_t n =
	    (size_t)snprintf(out, cap,
	                     "%s\r\nContent-Type: text/event-stream\r\n"
	                     "Transfer-Encoding: chunked\r\nSet-Cookie: sess=SECRETCOOKIE\r\n\r\n",
	                     status_line);
	for (size_t i = 0; i < NEVENTS; i++)
		n += (size_t)snprintf(out + n, cap - n, "%zx\r\n%s\r\n", strlen(SSE_EVENTS[i]),
		                      SSE_EVENTS[i]);
	n += (size_t)snprintf(out + n, cap - n, "0\r\n\r\n");
	return n;
}

#endif
