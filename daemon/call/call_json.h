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
/* {"streams": [...]} newest first. Caller holds the pipeline lock. */
cJSON *calls_to_json(const struct call_filter *f, uint64_t now);

#endif
