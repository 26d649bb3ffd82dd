/* Which HTTP requests are LLM calls, and of which provider. */
#ifndef LLMOBS_ROUTE_H
#define LLMOBS_ROUTE_H

#include <stddef.h>

#include "http.h"
#include "provider.h"

/* PROVIDER_UNKNOWN when the request is not an LLM call. endpoint gets the
 * path without its query string. */
enum provider_id route_match(const struct http_msg *req, char *endpoint, size_t n);

#endif
