/* The JSON shape of a call, as served by the API and --replay --json. */
#ifndef LLMOBS_CALL_CALL_JSON_H
#define LLMOBS_CALL_CALL_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "call/call.h"

struct call_filter {
	const char *state; /* "active" | "recent" | NULL */
	const char *provider;
	const char *model;
	const char *comm; /* the process name */
	long pid;         /* 0 = any */
	long limit;       /* 0 = default */
};

cJSON *call_to_json(const struct llm_call *c, uint64_t now);
/* When its milestones and chunks came, ms after its first request byte:
 * {"request_first_ms", "request_last_ms", "headers_ms", "first_token_ms",
 * "last_token_ms", "end_ms", "chunks_ms": [...], "chunks_not_listed"}. Too
 * long for every event: served with one call, and stored. */
cJSON *call_timeline_json(const struct llm_call *c);
/* One call as /api/v1/calls/{id} serves it: call_to_json, its timeline and
 * its prompt (the text the store keeps, null when none is kept). */
cJSON *call_detail_json(const struct llm_call *c, uint64_t now);
/* {"streams": [...]} newest first. Caller holds the pipeline lock. */
cJSON *calls_to_json(const struct call_filter *f, uint64_t now);

#endif
