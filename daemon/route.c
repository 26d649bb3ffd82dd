#include "route.h"

#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

enum provider_id route_match(const struct http_msg *req, char *endpoint, size_t n)
{
	size_t len = strcspn(req->path, "?#");
	snprintf(endpoint, n, "%.*s", (int)len, req->path);
	if (strcmp(req->method, "POST") != 0)
		return PROVIDER_UNKNOWN;
	/* OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, Ollama /v1,
	 * gateways that prefix the path). */
	if (ends_with(req->path, len, "/chat/completions"))
		return PROVIDER_OPENAI;
	return PROVIDER_UNKNOWN;
}
