/* Guardrails in the pipeline: each LLM call's request (its decoded string
 * values) and response text (as content deltas arrive) go through the
 * current policy's streams (guard.c). Hits are kept on the call, counted in
 * /metrics and published as live events; "redact" masks the matched text in
 * what the daemon keeps and serves. */
#ifndef LLMOBS_CALL_CALL_GUARD_H
#define LLMOBS_CALL_CALL_GUARD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/scan.h"

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
	const struct guard_rule *blocked_by; /* a "block" rule matched (and --enforce) */
	bool ended;                          /* call_guard_end() ran */
	bool closed;                         /* ... and closed its scans: none opens again */
};

/* --enforce: "block" rules cut the call's TCP connection. */
extern bool call_guard_enforce;

/* What the daemon keeps and serves of prompts and completions. */
enum content_mode {
	CONTENT_REDACTED = 0, /* default: text with "redact" matches masked; text of a call
	                       * in flight only up to what the scan has settled */
	CONTENT_FULL,         /* text as captured (matches are still reported) */
	CONTENT_OFF,          /* metadata only: no text, no tool arguments */
};
extern enum content_mode call_guard_content;
/* How much of a call's response text may be served now. */
size_t call_guard_servable(const struct llm_call *c);

/* The policy new calls use (NULL: guardrails off). Takes a reference. */
void call_guard_set_policy(struct guard_policy *p);
/* Loads and installs a policy file (NULL: the default policy); remembers
 * the path for reloads. 0, or -1 with err (the current policy stays). */
int call_guard_load(const char *path, char *err, size_t errlen);
/* Set by SIGHUP; call_guard_reload_if_requested() acts on it between
 * batches: calls in flight keep the policy they started with. */
#include <signal.h>
extern volatile sig_atomic_t call_guard_reload_requested;
void call_guard_reload_if_requested(void);
/* Waits for a reload in progress to finish (at exit). */
void call_guard_reload_wait(void);

void call_guard_request(struct llm_call *c, const char *body, size_t n);
/* Scans the response text added since the last call. */
void call_guard_response(struct llm_call *c);
/* At the end of the call: pending matches are reported, streams freed. */
void call_guard_end(struct llm_call *c);
void call_guard_free(struct llm_call *c);
cJSON *call_guard_hits_json(const struct llm_call *c);

#endif
