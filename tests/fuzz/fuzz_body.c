/* Content-Encoding decoding (gzip, deflate, br, and what is unsupported):
 * the first byte picks the encoding, the rest is the body in pieces. The
 * decoder must stop within its limits and never loop. */
#include "wire/body.h"
#include "fuzz.h"

static const char *const encodings[] = {
    "gzip", "deflate", "br", "identity", "x-gzip", "GZIP", "gzip, br", "zstd", "", "deflate, gzip",
};

static void out(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	const char *enc = encodings[fin_u8(&f) % (sizeof(encodings) / sizeof(*encodings))];
	bool unsupported = false;
	struct body_decoder *b = body_decoder_new(enc, &unsupported);
	if (!b)
		return 0;
	uint64_t decoded = 0;
	while (f.n) {
		const uint8_t *p;
		size_t n = fin_piece(&f, 128, &p);
		if (body_decode(b, (const char *)p, n, out, &decoded) != 0)
			break;
	}
	if (decoded != body_decoded_bytes(b) || decoded > BODY_DECODED_MAX + (1u << 20))
		abort();
	body_decoder_free(b);
	return 0;
}
