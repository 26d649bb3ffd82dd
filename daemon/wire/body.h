/* Content-Encoding decoding of HTTP bodies, streaming: gzip and deflate
 * (zlib) and br (libbrotli). Output is handed on as it is produced. */
#ifndef LLMOBS_WIRE_BODY_H
#define LLMOBS_WIRE_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*body_out_fn)(void *ctx, const char *p, size_t n);

/* Decoding stops (as an error, body_over_limit() true) past BODY_DECODED_MAX
 * bytes out, or past BODY_RATIO_FLOOR out at more than BODY_RATIO_MAX bytes
 * out per byte in: SSE text compresses about 5-50x, a bomb 1000x. */
#define BODY_DECODED_MAX (32ull << 20)
#define BODY_RATIO_FLOOR (1ull << 20)
#define BODY_RATIO_MAX   200

struct body_decoder;

/* NULL for identity/absent encodings. *unsupported is set for an encoding
 * we cannot decode (the body is then not parsed; the caller says so). */
struct body_decoder *body_decoder_new(const char *content_encoding, bool *unsupported);
/* Returns 0, or -1 once the input is corrupt (further input is ignored). */
int body_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out, void *ctx);
/* The input stopped at a limit (a decompression bomb), not corrupt. */
bool body_over_limit(const struct body_decoder *b);
/* Bytes out, and bytes of input consumed so far. */
uint64_t body_decoded_bytes(const struct body_decoder *b);
uint64_t body_encoded_bytes(const struct body_decoder *b);
void body_decoder_free(struct body_decoder *b);

#endif
