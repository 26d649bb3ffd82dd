/* Guardrail policy files (JSON, patterns compiled by vectorscan): loading
 * never crashes, a refusal says why, and what loads can scan. */
#include <string.h>

#include "fuzz.h"
#include "guard/scan.h"

static void on_hit(void *ctx, const struct guard_hit *h)
{
	(void)h;
	(*(unsigned *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	err[0] = '\0';
	struct guard_policy *p = guard_policy_load((const char *)data, size, err, sizeof(err));
	if (!p) {
		if (!err[0])
			abort();
		return 0;
	}
	for (unsigned i = 0; i < guard_policy_rules(p); i++)
		if (!guard_policy_rule(p, i))
			abort();
	static const char text[] =
	    "my key is sk-abcdefghijklmnopqrstuvwxyz0123 and 4111 1111 1111 1111"
	    " call me at alice@example.com DE89370400440532013000";
	unsigned hits = 0;
	for (int w = GUARD_REQUEST; w <= GUARD_RESPONSE; w++) {
		struct guard_stream *s = guard_stream_new(p, (enum guard_where)w);
		guard_scan(s, text, sizeof(text) - 1, on_hit, &hits);
		guard_stream_close(s, on_hit, &hits);
	}
	guard_policy_unref(p);
	return 0;
}
