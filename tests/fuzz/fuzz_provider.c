/* Every provider decoder: the first byte picks the provider (and whether
 * the request body comes first); the rest is NUL-separated payloads, each
 * led by a byte that says what it is (stream event, whole response, other
 * line). Usage must stay in range whatever the numbers. */
#include <string.h>

#include "fuzz.h"
#include "llm/provider.h"

static void check(const struct llm_decode *d)
{
	const int64_t *u = &d->usage.input_tokens;
	for (size_t i = 0; i < sizeof(d->usage) / sizeof(*u); i++)
		if (u[i] < -1 || u[i] > 1000000000000ll * 4) /* -1: not reported */
			abort();
	if (strnlen(d->model, sizeof(d->model)) == sizeof(d->model) ||
	    strnlen(d->error, sizeof(d->error)) == sizeof(d->error) ||
	    strnlen(d->finish_reason, sizeof(d->finish_reason)) == sizeof(d->finish_reason))
		abort();
	if (d->text.len > LLM_TEXT_LIMIT || d->ntools > LLM_MAX_TOOL_CALLS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	uint8_t sel = fin_u8(&f);
	struct llm_decode d;
	memset(&d, 0, sizeof(d));
	llm_decode_init(&d, (enum provider_id)(sel % 6));
	const uint8_t *p;
	size_t n;
	if (sel & 0x80) {
		n = fin_until(&f, 0, &p);
		llm_decode_request(&d, (const char *)p, n);
	}
	while (f.n) {
		uint8_t kind = fin_u8(&f);
		n = fin_until(&f, 0, &p);
		switch (kind % 4) {
		case 0:
		case 1:
			llm_decode_event(&d, kind & 4 ? "message" : NULL, (const char *)p, n);
			break;
		case 2:
			llm_decode_response(&d, (const char *)p, n);
			break;
		default:
			llm_decode_other_line(&d, (const char *)p, n);
		}
		check(&d);
	}
	llm_decode_finish(&d);
	check(&d);
	(void)llm_provider(&d);
	llm_decode_free(&d);
	return 0;
}
