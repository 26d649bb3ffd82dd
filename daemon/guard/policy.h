/* Guardrail policies: rules (regular expressions or literals, applied to
 * requests, responses or both, each with an action and an optional
 * validator) loaded from JSON and compiled into one vectorscan (Hyperscan
 * API) streaming database. Scanning text against it is scan.h. */
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
/* The shipped default policy (default_policy.c). */
struct guard_policy *guard_policy_default(char *err, size_t errlen);
extern const char guard_default_policy_json[];
void guard_policy_ref(struct guard_policy *p);
void guard_policy_unref(struct guard_policy *p);
unsigned guard_policy_rules(const struct guard_policy *p);
const struct guard_rule *guard_policy_rule(const struct guard_policy *p, unsigned i);

const char *guard_action_name(enum guard_action a);
const char *guard_where_name(enum guard_where w);

#endif
