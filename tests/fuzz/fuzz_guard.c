/* The guard scanner with the default policy over text split anywhere
 * (matches across pieces, validators such as Luhn and IBAN on what the
 * patterns found). */
#include <string.h>

#include "fuzz.h"
#include "guard/scan.h"

static struct guard_policy *policy;

static void on_hit(void *ctx, const struct guard_hit *h)
{
	(void)h;
	(*(unsigned *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!policy) {
		char err[256];
		policy = guard_policy_default(err, sizeof(err));
		if (!policy)
			abort();
	}
	struct fin f = {data, size};
	enum guard_where w = fin_u8(&f) & 1 ? GUARD_RESPONSE : GUARD_REQUEST;
	struct guard_stream *s = guard_stream_new(policy, w);
	unsigned hits = 0;
	while (f.n) {
		const uint8_t *p;
		size_t n = fin_piece(&f, 200, &p);
		guard_scan(s, (const char *)p, n, on_hit, &hits);
	}
	guard_stream_close(s, on_hit, &hits);
	(void)guard_luhn((const char *)data, size);
	(void)guard_iban((const char *)data, size);
	return 0;
}
