/* Guardrail scanning: one small stream state per LLM call and direction
 * scans the decoded text as it arrives against a compiled policy, so a
 * match split across SSE events is still one match. Post-match validators
 * (Luhn for card numbers, the IBAN checksum) drop false positives. */
#ifndef LLMOBS_GUARD_SCAN_H
#define LLMOBS_GUARD_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/policy.h"

struct guard_hit {
	const struct guard_rule *rule;
	enum guard_where where;
	uint64_t from, to; /* byte offsets of the match in that direction's text */
};

typedef void (*guard_hit_fn)(void *ctx, const struct guard_hit *hit);

struct guard_stream;

/* A stream over one direction of one call; keeps a reference to p. */
struct guard_stream *guard_stream_new(struct guard_policy *p, enum guard_where where);
/* Scans the next bytes. Hits are reported once each, when no later byte
 * can extend them (or at close). */
void guard_scan(struct guard_stream *s, const char *data, size_t len, guard_hit_fn fn, void *ctx);
/* Reports what is pending and frees the stream. */
void guard_stream_close(struct guard_stream *s, guard_hit_fn fn, void *ctx);

/* Validators (exposed for tests). */
bool guard_luhn(const char *s, size_t n);
bool guard_iban(const char *s, size_t n);

#endif
