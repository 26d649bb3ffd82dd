/* Server-sent events: any framing (LF, CR, CRLF), fields, comments, lines
 * split anywhere, and a small event cap picked by the input. */
#include <string.h>

#include "fuzz.h"
#include "wire/sse.h"

static void on_event(void *ctx, const struct sse_event *ev)
{
	size_t *n = ctx;
	if (!ev->type || !ev->id || ev->data[ev->data_len] != '\0')
		abort();
	*n += ev->data_len + strlen(ev->id);
}

static void on_other(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	size_t got = 0;
	struct sse_parser *p = sse_new(on_event, &got, 16 + (size_t)fin_u8(&f) * 64);
	if (fin_u8(&f) & 1)
		sse_set_other_fn(p, on_other);
	while (f.n) {
		const uint8_t *b;
		size_t n = fin_piece(&f, 64, &b);
		sse_feed(p, (const char *)b, n);
	}
	sse_finish(p);
	(void)sse_retry_ms(p);
	(void)sse_stats(p);
	sse_free(p);
	return 0;
}
