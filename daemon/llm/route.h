/* Which HTTP requests are LLM calls, of which wire API and provider. */
#ifndef LLMOBS_LLM_ROUTE_H
#define LLMOBS_LLM_ROUTE_H

#include <stddef.h>

#include "wire/http.h"
#include "llm/provider.h"

struct route {
	enum provider_id api; /* PROVIDER_UNKNOWN: not an LLM call */
	char endpoint[256];   /* path without the query string */
	char model[128];      /* when the path names it (Gemini) */
	char provider[32];    /* gen_ai.provider.name override, or "" */
};

void route_match(const struct http_msg *req, struct route *r);
/* Loads --routes FILE (JSON, see README). 0, or -1 with err naming the route
 * and the problem; the previous routes stay in force on error. */
int route_load(const char *file, char *err, size_t errlen);
void route_free(void);

#endif
