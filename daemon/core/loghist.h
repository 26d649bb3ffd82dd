/* Log-linear histogram buckets: exact below 4, then 4 buckets per power
 * of two (each at most 25% wide). 128 buckets cover 0 .. 2^33. */
#ifndef LLMOBS_CORE_LOGHIST_H
#define LLMOBS_CORE_LOGHIST_H

#include <stdint.h>

#define LOGHIST_BUCKETS 128

static inline unsigned loghist_bucket(uint64_t v)
{
	if (v < 4)
		return (unsigned)v;
	unsigned e = 63 - (unsigned)__builtin_clzll(v);
	unsigned i = 4 + (e - 2) * 4 + (unsigned)((v >> (e - 2)) & 3);
	return i < LOGHIST_BUCKETS ? i : LOGHIST_BUCKETS - 1;
}

/* The largest value that falls in bucket i. */
static inline uint64_t loghist_top(unsigned i)
{
	if (i < 4)
		return i;
	unsigned e = (i - 4) / 4 + 2, m = (i - 4) % 4;
	return ((4ull + m + 1) << (e - 2)) - 1;
}

/* Nearest-rank percentile p (0-100) of counts[] holding total values. */
static inline uint64_t loghist_percentile(const uint32_t *counts, uint64_t total, unsigned p)
{
	uint64_t acc = 0;
	for (unsigned i = 0; i < LOGHIST_BUCKETS && total; i++) {
		acc += counts[i];
		if (acc * 100 >= total * p)
			return loghist_top(i);
	}
	return 0;
}

/* The same percentile as the middle of its bucket (values are integers:
 * the bucket holds loghist_top(i - 1) + 1 .. loghist_top(i)). */
static inline double loghist_percentile_mid(const uint32_t *counts, uint64_t total, unsigned p)
{
	uint64_t top = loghist_percentile(counts, total, p);
	unsigned i = loghist_bucket(top);
	uint64_t low = i ? loghist_top(i - 1) + 1 : 0;
	return ((double)low + (double)top) / 2.0;
}

#endif
