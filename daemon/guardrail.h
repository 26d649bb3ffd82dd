/* Guardrails in the pipeline: each LLM call's request (its decoded string
 * values) and response text (as content deltas arrive) go through the
 * current policy's streams (guard.c). Hits are kept on the call, counted in
 * /metrics and published as live events; "redact" masks the matched text in
 * what the daemon keeps and serves. */
#ifndef LLMOBS_GUARDRAIL_H
#define LLMOBS_GUARDRAIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "guard.h"

struct llm_call;

#define GUARD_MAX_HITS 64

struct call_guard_hit {
	const struct guard_rule *rule; /* valid while the call holds its policy */
	enum guard_where where;
	uint64_t offset, length;
};

struct call_guard {
	struct guard_policy *policy; /* the policy at the call's start (reloads wait) */
	struct guard_stream *req, *resp;
	size_t resp_scanned; /* bytes of the response text already scanned */
	struct call_guard_hit *hits;
	unsigned nhits, hits_dropped;
};

/* The policy new calls use (NULL: guardrails off). Takes a reference. */
void guardrail_set_policy(struct guard_policy *p);
struct guard_policy *guardrail_policy(void);

void guardrail_request(struct llm_call *c, const char *body, size_t n);
/* Scans the response text added since the last call. */
void guardrail_response(struct llm_call *c);
/* At the end of the call: pending matches are reported, streams freed. */
void guardrail_call_end(struct llm_call *c);
void guardrail_call_free(struct llm_call *c);
cJSON *guardrail_hits_json(const struct llm_call *c);

#endif
