/* Guardrail scanning: a policy of rules (regular expressions or literals,
 * applied to requests, responses or both) compiled into one vectorscan
 * (Hyperscan API) streaming database; one small stream state per LLM call
 * and direction scans the decoded text as it arrives, so a match split
 * across SSE events is still one match. Post-match validators (Luhn for
 * card numbers, the IBAN checksum) drop false positives. */
#ifndef LLMOBS_GUARD_POLICY_H
#define LLMOBS_GUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum guard_action { GUARD_ALERT = 0, GUARD_REDACT, GUARD_BLOCK };
enum guard_where { GUARD_REQUEST = 1, GUARD_RESPONSE = 2, GUARD_BOTH = 3 };
enum guard_validator { GUARD_VALID_NONE = 0, GUARD_VALID_LUHN, GUARD_VALID_IBAN };

struct guard_rule {
	char id[64];
	char description[160];
	enum guard_where applies;
	char severity[16]; /* low | medium | high | critical */
	enum guard_action action;
	enum guard_validator validator;
};

struct guard_policy; /* immutable once compiled; shared by every stream using it */

/* Parses and compiles a policy (JSON text). NULL with err naming the rule
 * and the problem. */
struct guard_policy *guard_policy_load(const char *json, size_t len, char *err, size_t errlen);
/* The shipped default policy (guard_default.c). */
struct guard_policy *guard_policy_default(char *err, size_t errlen);
extern const char guard_default_policy_json[];
void guard_policy_ref(struct guard_policy *p);
void guard_policy_unref(struct guard_policy *p);
unsigned guard_policy_rules(const struct guard_policy *p);
const struct guard_rule *guard_policy_rule(const struct guard_policy *p, unsigned i);

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

const char *guard_action_name(enum guard_action a);
const char *guard_where_name(enum guard_where w);

#endif
