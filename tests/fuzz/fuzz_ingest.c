/* The ingestion API's bodies (call/ingest.c). The input is a request body,
 * a NUL, a response body (what follows another NUL is not read): both are
 * parsed and submitted (the seeds share a request_id, so mutations join, refuse or
 * leave halves waiting), then every waiting half becomes a call. */
#include <string.h>

#include "call/call.h"
#include "call/ingest.h"
#include "call/pipeline.h"
#include "core/clock.h"
#include "fuzz.h"

static size_t part(const uint8_t **p, size_t *n, char **out)
{
	const uint8_t *nul = memchr(*p, 0, *n);
	size_t len = nul ? (size_t)(nul - *p) : *n;
	*out = malloc(len + 1);
	memcpy(*out, *p, len);
	(*out)[len] = '\0';
	*p += nul ? len + 1 : len;
	*n -= nul ? len + 1 : len;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static int64_t now_ms;
	if (!ready) {
		pipeline_init(16);
		clock_set_wall_offset(clock_measure_wall_offset());
		now_ms = (clock_wall_offset() + (int64_t)clock_mono_ns()) / 1000000;
		ready = true;
	}
	const uint8_t *p = data;
	size_t n = size;
	char *body[2];
	size_t len[2];
	len[0] = part(&p, &n, &body[0]);
	len[1] = part(&p, &n, &body[1]);
	pipeline_lock();
	for (int k = 0; k < 2; k++) {
		char err[256];
		struct ingest_half *h = ingest_parse(k ? INGEST_RESPONSE : INGEST_REQUEST, body[k],
		                                     len[k], now_ms, err, sizeof(err));
		if (!h && !err[0])
			abort(); /* a refusal always says why */
		uint64_t id;
		char msg[256];
		if (h && ingest_submit(h, &id, msg, sizeof(msg)) >= 400 && !msg[0])
			abort();
	}
	ingest_flush();
	pipeline_unlock();

	free(body[0]);
	free(body[1]);
	return 0;
}
