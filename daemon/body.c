#include "body.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "buf.h"

enum codec { CODEC_ZLIB, CODEC_BROTLI };

struct body_decoder {
	enum codec codec;
	z_stream z;
	BrotliDecoderState *br;
	bool failed, done;
	uint64_t out_bytes;
};

/* "gzip", "x-gzip", "deflate", "br"; a list ("gzip, identity") uses the
 * first real coding, which is what servers send for LLM APIs. */
struct body_decoder *body_decoder_new(const char *enc, bool *unsupported)
{
	*unsupported = false;
	while (*enc == ' ')
		enc++;
	size_t len = strcspn(enc, " ,;");
	if (!len || (len == 8 && !strncasecmp(enc, "identity", 8)))
		return NULL;
	struct body_decoder *b = xcalloc(1, sizeof(*b));
	if ((len == 4 && !strncasecmp(enc, "gzip", 4)) ||
	    (len == 6 && !strncasecmp(enc, "x-gzip", 6)) ||
	    (len == 7 && !strncasecmp(enc, "deflate", 7))) {
		b->codec = CODEC_ZLIB;
		/* 15+32: zlib or gzip header, detected; "deflate" is zlib-wrapped per
		 * RFC 9110, but raw deflate is retried below */
		if (inflateInit2(&b->z, 15 + 32) != Z_OK)
			abort();
	} else if (len == 2 && !strncasecmp(enc, "br", 2)) {
		b->codec = CODEC_BROTLI;
		b->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		if (!b->br)
			abort();
	} else {
		free(b);
		*unsupported = true;
		return NULL;
	}
	return b;
}

static int zlib_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out, void *ctx)
{
	char tmp[16384];
	b->z.next_in = (Bytef *)p;
	b->z.avail_in = (uInt)n;
	while (b->z.avail_in && !b->done) {
		b->z.next_out = (Bytef *)tmp;
		b->z.avail_out = sizeof(tmp);
		int rc = inflate(&b->z, Z_NO_FLUSH);
		if (rc == Z_DATA_ERROR && b->z.total_out == 0 && b->z.total_in <= 2) {
			/* raw deflate sent as "deflate": restart without a header */
			inflateEnd(&b->z);
			memset(&b->z, 0, sizeof(b->z));
			if (inflateInit2(&b->z, -15) != Z_OK)
				abort();
			b->z.next_in = (Bytef *)p;
			b->z.avail_in = (uInt)n;
			continue;
		}
		size_t got = sizeof(tmp) - b->z.avail_out;
		if (got) {
			b->out_bytes += got;
			out(ctx, tmp, got);
		}
		if (rc == Z_STREAM_END)
			b->done = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -1;
		else if (rc == Z_BUF_ERROR && !got)
			break;
	}
	return 0;
}

static int brotli_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out,
                         void *ctx)
{
	const uint8_t *in = (const uint8_t *)p;
	size_t avail_in = n;
	for (;;) {
		uint8_t tmp[16384], *next_out = tmp;
		size_t avail_out = sizeof(tmp);
		BrotliDecoderResult rc = BrotliDecoderDecompressStream(b->br, &avail_in, &in,
		                                                       &avail_out, &next_out, NULL);
		size_t got = sizeof(tmp) - avail_out;
		if (got) {
			b->out_bytes += got;
			out(ctx, (const char *)tmp, got);
		}
		if (rc == BROTLI_DECODER_RESULT_ERROR)
			return -1;
		if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
			return 0;
	}
}

int body_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out, void *ctx)
{
	if (b->failed)
		return -1;
	int rc = b->codec == CODEC_ZLIB ? zlib_decode(b, p, n, out, ctx)
	                                : brotli_decode(b, p, n, out, ctx);
	if (rc)
		b->failed = true;
	return rc;
}

uint64_t body_decoded_bytes(const struct body_decoder *b)
{
	return b->out_bytes;
}

void body_decoder_free(struct body_decoder *b)
{
	if (!b)
		return;
	if (b->codec == CODEC_ZLIB)
		inflateEnd(&b->z);
	else
		BrotliDecoderDestroyInstance(b->br);
	free(b);
}
