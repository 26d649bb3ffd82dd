/* HTTP/1.x parsing, both directions of one connection, bytes split at any
 * point. Input: records of [control][length][bytes]; control bit 0 is the
 * direction, bit 1 an EOF after the bytes, bit 2 a reset of the direction. */
#include <string.h>

#include "fuzz.h"
#include "wire/http.h"

struct seen {
	size_t bytes, headers;
};

static void on_headers(void *ctx, const struct http_msg *m)
{
	struct seen *s = ctx;
	/* Every field must be a terminated string inside its array. */
	s->headers += strlen(m->method) + strlen(m->path) + strlen(m->host) +
	              strlen(m->content_type) + strlen(m->content_encoding) + strlen(m->user_agent);
	if (m->content_length < -1)
		abort();
}

static void on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct seen *s = ctx;
	(void)dir;
	for (size_t i = 0; i < n; i++)
		s->bytes += (unsigned char)p[i] != 0;
}

static void on_complete(void *ctx, enum http_dir dir)
{
	(void)ctx;
	(void)dir;
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	(void)ctx;
	(void)dir;
	if (!reason || !reason[0])
		abort();
}

static void on_upgrade(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	(void)ctx;
	(void)dir;
	if (n && !p)
		abort();
}

static const struct http_callbacks cb = {on_headers, on_body, on_complete, on_error, on_upgrade};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = {0};
	struct fin f = {data, size};
	struct http_conn *c = http_conn_new(&cb, &s);
	while (f.n) {
		uint8_t ctl = fin_u8(&f);
		const uint8_t *p;
		size_t n = fin_piece(&f, 256, &p);
		enum http_dir dir = ctl & 1 ? HTTP_DIR_RESP : HTTP_DIR_REQ;
		http_feed(c, dir, (const char *)p, n);
		if (ctl & 2)
			http_eof(c, dir);
		if (ctl & 4)
			http_reset_dir(c, dir);
	}
	http_eof(c, HTTP_DIR_REQ);
	http_eof(c, HTTP_DIR_RESP);
	const struct http_stats *st = http_conn_stats(c);
	if (st->bytes[0] + st->bytes[1] > size)
		abort();
	http_conn_free(c);
	return 0;
}
