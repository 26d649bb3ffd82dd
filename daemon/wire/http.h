/* HTTP/1.1 reassembly for one connection: a request parser fed with the
 * app's writes and a response parser fed with its reads (Debian's
 * http-parser underneath). Bodies are delivered de-chunked. Callbacks fire
 * synchronously inside http_feed(), so the caller knows the timestamp. */
#ifndef LLMOBS_WIRE_HTTP_H
#define LLMOBS_WIRE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_dir { HTTP_DIR_REQ = 0, HTTP_DIR_RESP = 1 };

/* Only these headers are kept; credentials (Authorization, x-api-key,
 * api-key, x-goog-api-key, Cookie, Set-Cookie, ...) are never copied. */
struct http_msg {
	enum http_dir dir;
	char method[16]; /* request */
	char path[512];  /* request path; the query is never kept (it may hold a key) */
	int status;      /* response */
	char host[256];
	char content_type[128];
	char content_encoding[32];
	char user_agent[128];
	char upgrade[32];        /* Upgrade: the protocol asked for or switched to */
	char ws_extensions[128]; /* Sec-WebSocket-Extensions (what was offered or agreed) */
	int64_t content_length;  /* -1 when absent */
	bool chunked;
	bool keep_alive;
	unsigned http_major, http_minor;
};

struct http_callbacks {
	/* headers complete */
	void (*on_headers)(void *ctx, const struct http_msg *m);
	/* de-chunked body bytes */
	void (*on_body)(void *ctx, enum http_dir dir, const char *p, size_t n);
	/* message complete (last body byte seen) */
	void (*on_complete)(void *ctx, enum http_dir dir);
	/* unparseable input; the direction stops parsing until http_reset_dir() */
	void (*on_error)(void *ctx, enum http_dir dir, const char *reason);
	/* The message just completed switches dir to another protocol (an
	 * Upgrade request, or a 101 response): p[0..n) of this piece are its
	 * first bytes. The direction stops, as after an error, until
	 * http_reset_dir(); called last in http_feed(), so the callee may free
	 * the connection once http_feed() returns. Optional (NULL: an error). */
	void (*on_upgrade)(void *ctx, enum http_dir dir, const char *p, size_t n);
};

struct http_stats {
	uint64_t bytes[2];         /* fed per direction */
	uint64_t messages[2];      /* completed per direction */
	uint64_t header_cut_bytes; /* header values longer than their field */
	uint64_t skipped_bytes[2]; /* fed while in error state */
	uint64_t errors;
};

struct http_conn;

struct http_conn *http_conn_new(const struct http_callbacks *cb, void *ctx);
void http_conn_free(struct http_conn *c);
void http_feed(struct http_conn *c, enum http_dir dir, const char *p, size_t n);
/* EOF on a direction: completes a read-until-close response body. Returns
 * -1 when a message was cut short (never delivered as complete), else 0. */
int http_eof(struct http_conn *c, enum http_dir dir);
/* Resume parsing a direction at a message boundary after an error/gap. */
void http_reset_dir(struct http_conn *c, enum http_dir dir);
const struct http_stats *http_conn_stats(const struct http_conn *c);

#endif
