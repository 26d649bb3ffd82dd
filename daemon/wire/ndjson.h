/* Newline-delimited JSON framing (Ollama's native streaming): bytes split
 * anywhere in, one callback per complete non-blank line out. */
#ifndef LLMOBS_WIRE_NDJSON_H
#define LLMOBS_WIRE_NDJSON_H

#include <stddef.h>

#include "core/buf.h"

typedef void (*ndjson_line_fn)(void *ctx, const char *line, size_t n);

/* partial holds a line that spans feeds (its limit bounds a line; bytes past
 * it are counted in partial->cut). */
void ndjson_feed(struct buf *partial, const char *p, size_t n, ndjson_line_fn fn, void *ctx);
/* End of body: a last line without its newline still counts. */
void ndjson_finish(struct buf *partial, ndjson_line_fn fn, void *ctx);

#endif
