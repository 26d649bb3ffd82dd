#include "route.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ".../models/gemini-2.5-flash:streamGenerateContent" -> "gemini-2.5-flash" */
static void gemini_model(const char *path, size_t n, char *out, size_t cap)
{
	const char *colon = memchr(path, ':', n);
	const char *m = NULL;
	for (const char *p = path; p && p < colon; p = strstr(p + 1, "/models/"))
		if (!strncmp(p, "/models/", 8))
			m = p + 8;
	if (m && colon > m)
		snprintf(out, cap, "%.*s", (int)(colon - m), m);
}

void route_match(const struct http_msg *req, struct route *r)
{
	const char *path = req->path;
	size_t len = strcspn(path, "?#");
	memset(r, 0, sizeof(*r));
	snprintf(r->endpoint, sizeof(r->endpoint), "%.*s", (int)len, path);
	if (strcmp(req->method, "POST") != 0)
		return;
	if (ends_with(path, len, "/chat/completions")) {
		/* OpenAI and every compatible server (vLLM, llama.cpp, gateways) */
		r->api = PROVIDER_OPENAI;
		if (strstr(req->host, ":11434"))
			snprintf(r->provider, sizeof(r->provider), "ollama");
	} else if (ends_with(path, len, "/v1/responses") ||
	           ends_with(path, len, "/openai/responses")) {
		r->api = PROVIDER_OPENAI_RESPONSES;
	} else if (ends_with(path, len, "/v1/messages")) {
		r->api = PROVIDER_ANTHROPIC;
	} else if (memmem(path, len, ":streamGenerateContent", 22) ||
	           memmem(path, len, ":generateContent", 16)) {
		r->api = PROVIDER_GEMINI;
		gemini_model(path, len, r->model, sizeof(r->model));
	} else if (ends_with(path, len, "/api/chat") || ends_with(path, len, "/api/generate")) {
		r->api = PROVIDER_OLLAMA;
	}
}
