/* Log-linear histogram buckets (gaps, backpressure, capture delay): every
 * value lands in a bucket whose top is at most 25% above it, buckets are
 * ordered, and percentiles are nearest-rank over them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/loghist.h"

static void test_buckets_bound_their_values(void **state)
{
	(void)state;
	unsigned prev = 0;
	for (uint64_t v = 0; v < (1ull << 32); v = v < 64 ? v + 1 : v + v / 7 + 1) {
		unsigned b = loghist_bucket(v);
		assert_true(b >= prev); /* monotonic */
		prev = b;
		uint64_t top = loghist_top(b);
		assert_true(top >= v);
		if (v >= 4)
			assert_true(top * 4 <= v * 5); /* <= 25% high */
		if (b > 0)
			assert_true(loghist_top(b - 1) < v); /* the previous bucket ends below v */
	}
	assert_int_equal(loghist_bucket(UINT64_MAX), LOGHIST_BUCKETS - 1);
}

static void test_percentiles(void **state)
{
	(void)state;
	uint32_t h[LOGHIST_BUCKETS];
	memset(h, 0, sizeof(h));
	for (uint64_t v = 1; v <= 100; v++)
		h[loghist_bucket(v * 1000)]++;
	uint64_t p50 = loghist_percentile(h, 100, 50), p95 = loghist_percentile(h, 100, 95);
	assert_true(p50 >= 50000 && p50 <= 62500);
	assert_true(p95 >= 95000 && p95 <= 118750);
	assert_int_equal(loghist_percentile(h, 0, 50), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets_bound_their_values),
	    cmocka_unit_test(test_percentiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
