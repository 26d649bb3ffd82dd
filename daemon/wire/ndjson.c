#include "wire/ndjson.h"

#include <string.h>

static void emit(const char *p, size_t n, ndjson_line_fn fn, void *ctx)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n)
		fn(ctx, p, n);
}

void ndjson_feed(struct buf *partial, const char *p, size_t n, ndjson_line_fn fn, void *ctx)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		if (!nl) {
			buf_append(partial, p, n);
			return;
		}
		size_t take = (size_t)(nl - p);
		if (partial->len) {
			buf_append(partial, p, take);
			emit(partial->data, partial->len, fn, ctx);
			buf_reset(partial);
		} else {
			emit(p, take, fn, ctx);
		}
		p += take + 1;
		n -= take + 1;
	}
}

void ndjson_finish(struct buf *partial, ndjson_line_fn fn, void *ctx)
{
	if (partial->len)
		emit(partial->data, partial->len, fn, ctx);
	buf_reset(partial);
}
