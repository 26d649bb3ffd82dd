/* Newline-delimited JSON framing: lines split anywhere, a bounded partial
 * line picked by the input. */
#include "core/buf.h"
#include "fuzz.h"
#include "wire/ndjson.h"

static void on_line(void *ctx, const char *line, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n')
			abort(); /* a line never holds its terminator */
	*(size_t *)ctx += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	struct buf partial;
	buf_init(&partial, 8 + (size_t)fin_u8(&f) * 16);
	size_t got = 0;
	while (f.n) {
		const uint8_t *b;
		size_t n = fin_piece(&f, 64, &b);
		ndjson_feed(&partial, (const char *)b, n, on_line, &got);
	}
	ndjson_finish(&partial, on_line, &got);
	buf_free(&partial);
	return 0;
}
