/* FNV-1a: the hash of the daemon's own tables (metric series, window
 * groups, ingestion joins). Not for anything an attacker must not steer:
 * every table it indexes is bounded. */
#ifndef LLMOBS_CORE_HASH_H
#define LLMOBS_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT 1469598103934665603ull

static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	for (const unsigned char *c = p; n--; c++)
		h = (h ^ *c) * 1099511628211ull;
	return h;
}

/* A NUL-terminated string (without its NUL). */
static inline uint64_t fnv1a_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

#endif
