/* Request bodies -> prompt text (llm/prompt.c): the first byte picks the
 * wire API, the rest is the body. The text kept is bounded, NUL-terminated
 * and accounts with the cut for everything collected. */
#include <string.h>

#include "fuzz.h"
#include "llm/prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	enum provider_id api = (enum provider_id)(fin_u8(&f) % 7);
	struct llm_prompt p;
	llm_prompt_init(&p);
	int rc = llm_prompt_extract(&p, api, (const char *)f.p, f.n);
	if (p.text.len > LLM_PROMPT_KEEP || strlen(p.text.data) > p.text.len)
		abort();
	if (rc && (p.text.len || p.cut))
		abort(); /* a refused body leaves nothing */
	/* a second body replaces the first (the chat shape: OpenAI and unknown) */
	llm_prompt_extract(&p, api, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 46);
	if ((api == PROVIDER_OPENAI || api == PROVIDER_UNKNOWN) && strcmp(p.text.data, "user: x\n"))
		abort();
	llm_prompt_free(&p);
	return 0;
}
