/* Provider-independent parts of decoding. */
#include "provider.h"

#include <string.h>

const char *provider_name(enum provider_id id)
{
	switch (id) {
	case PROVIDER_OPENAI:
		return "openai";
	default:
		return "unknown";
	}
}

void llm_decode_init(struct llm_decode *d, enum provider_id p)
{
	llm_decode_free(d);
	memset(d, 0, sizeof(*d));
	d->provider = p;
	d->usage.input_tokens = d->usage.output_tokens = -1;
	d->usage.cached_input_tokens = d->usage.reasoning_tokens = -1;
	buf_init(&d->text, LLM_TEXT_LIMIT);
}

void llm_decode_free(struct llm_decode *d)
{
	buf_free(&d->text);
}
