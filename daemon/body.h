/* Content-Encoding decoding of HTTP bodies, streaming: gzip and deflate
 * (zlib) and br (libbrotli). Output is handed on as it is produced. */
#ifndef LLMOBS_BODY_H
#define LLMOBS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*body_out_fn)(void *ctx, const char *p, size_t n);

struct body_decoder;

/* NULL for identity/absent encodings. *unsupported is set for an encoding
 * we cannot decode (the body is then not parsed; the caller says so). */
struct body_decoder *body_decoder_new(const char *content_encoding, bool *unsupported);
/* Returns 0, or -1 once the input is corrupt (further input is ignored). */
int body_decode(struct body_decoder *b, const char *p, size_t n, body_out_fn out, void *ctx);
/* Bytes decoded out of bytes in, for stats. */
uint64_t body_decoded_bytes(const struct body_decoder *b);
void body_decoder_free(struct body_decoder *b);

#endif
