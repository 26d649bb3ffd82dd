/* --prices files, then matching models against what loaded and pricing
 * usage: the input is the file up to a NUL, then records of a provider
 * byte, a model name up to a NUL and six token counts (a byte each, scaled
 * by a shift byte). A cost is never negative, NaN or infinite. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "llm/price.h"

static const char *const providers[] = {"openai", "anthropic", "gcp.gemini", "ollama"};

static int64_t count(struct fin *f)
{
	uint8_t v = fin_u8(f), shift = fin_u8(f) % 40;
	return v == 255 ? -1 : (int64_t)v << shift;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	const uint8_t *p;
	size_t n = fin_until(&f, 0, &p);
	struct price_table t = {0};
	char err[512] = "";
	if (price_table_add(&t, (const char *)p, n, true, err, sizeof(err)) != 0 && !err[0])
		abort(); /* a refusal always says why */
	while (f.n) {
		const char *prov = providers[fin_u8(&f) % 4];
		char model[130];
		n = fin_until(&f, 0, &p);
		snprintf(model, sizeof(model), "%.*s", (int)(n < 129 ? n : 129), (const char *)p);
		struct llm_usage u = {count(&f), count(&f), count(&f),
		                      count(&f), count(&f), count(&f)};
		const struct price *pr = price_table_match(&t, prov, model);
		struct call_cost c;
		price_cost(pr, &u, &c);
		if (c.why == PRICE_OK && !(c.usd >= 0 && isfinite(c.usd)))
			abort();
		if (pr && strcmp(pr->provider, prov))
			abort();
	}
	price_table_free(&t);
	return 0;
}
