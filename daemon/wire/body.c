#include "wire/body.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/buf.h"

enum codec { CODEC_ZLIB, CODEC_BROTLI };

struct body_decoder {
	enum codec codec;
	z_stream z;
	BrotliDecoderState *br;
	bool failed, done;
	bool raw_tried; /* "deflate" restarted as raw deflate once */
	bool over_limit;
	uint64_t in_bytes, out_bytes;
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

/* A body that inflates past these is a decompression bomb, not an LLM
 * answer: decoding stops (body_over_limit()), so one call cannot cost the
 * pipeline more than a bounded amount of work. */
static bool past_limit(struct body_decoder *b)
{
	if (b->out_bytes > BODY_DECODED_MAX ||
	    (b->out_bytes > BODY_RATIO_FLOOR && b->out_bytes / BODY_RATIO_MAX > b->in_bytes))
		b->over_limit = true;
	return b->over_limit;
}

static int zlib_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out, void *ctx)
{
	char tmp[16384];
	b->z.next_in = (Bytef *)p;
	b->z.avail_in = (uInt)n;
	while (b->z.avail_in && !b->done) {
		b->z.next_out = (Bytef *)tmp;
		b->z.avail_out = sizeof(tmp);
		uInt before = b->z.avail_in;
		int rc = inflate(&b->z, Z_NO_FLUSH);
		b->in_bytes += before - b->z.avail_in;
		if (rc == Z_DATA_ERROR && !b->raw_tried && b->z.total_out == 0 &&
		    b->z.total_in <= 2) {
			/* raw deflate sent as "deflate": restart without a header, once */
			b->raw_tried = true;
			b->in_bytes = 0;
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
		if (past_limit(b))
			return -1;
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
		size_t avail_out = sizeof(tmp), before = avail_in;
		BrotliDecoderResult rc = BrotliDecoderDecompressStream(b->br, &avail_in, &in,
		                                                       &avail_out, &next_out, NULL);
		b->in_bytes += before - avail_in;
		size_t got = sizeof(tmp) - avail_out;
		if (got) {
			b->out_bytes += got;
			out(ctx, (const char *)tmp, got);
		}
		if (rc == BROTLI_DECODER_RESULT_ERROR || past_limit(b))
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

bool body_over_limit(const struct body_decoder *b)
{
	return b->over_limit;
}

uint64_t body_decoded_bytes(const struct body_decoder *b)
{
	return b->out_bytes;
}

uint64_t body_encoded_bytes(const struct body_decoder *b)
{
	return b->in_bytes;
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
