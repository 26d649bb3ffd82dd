#include "llm/route.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/macros.h"
#include "core/buf.h"

#define ROUTE_FILE_MAX (1u << 20) /* a --routes file */

/* Routes from --routes FILE, tried before the built-in ones. */
enum match { MATCH_SUFFIX, MATCH_PREFIX, MATCH_EXACT };

struct custom_route {
	char path[256];
	enum match match;
	char host[256]; /* "" = any host */
	enum provider_id api;
	char provider[32];
};

static struct custom_route *custom;
static size_t ncustom;

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

static bool custom_matches(const struct custom_route *c, const struct http_msg *req, size_t len)
{
	size_t m = strlen(c->path);
	bool path_ok = c->match == MATCH_SUFFIX   ? ends_with(req->path, len, c->path)
	               : c->match == MATCH_PREFIX ? len >= m && !memcmp(req->path, c->path, m)
	                                          : len == m && !memcmp(req->path, c->path, m);
	if (!path_ok)
		return false;
	if (!c->host[0])
		return true;
	/* "host" matches the Host header with or without its port */
	size_t hl = strlen(c->host);
	return !strncasecmp(req->host, c->host, hl) && (!req->host[hl] || req->host[hl] == ':');
}

void route_match(const struct http_msg *req, struct route *r)
{
	const char *path = req->path;
	size_t len = strcspn(path, "?#");
	memset(r, 0, sizeof(*r));
	snprintf(r->endpoint, sizeof(r->endpoint), "%.*s", (int)len, path);
	if (strcmp(req->method, "POST") != 0)
		return;
	for (size_t i = 0; i < ncustom; i++) {
		if (!custom_matches(&custom[i], req, len))
			continue;
		r->api = custom[i].api;
		snprintf(r->provider, sizeof(r->provider), "%s", custom[i].provider);
		if (r->api == PROVIDER_GEMINI)
			gemini_model(path, len, r->model, sizeof(r->model));
		return;
	}
	if (ends_with(path, len, "/chat/completions")) {
		/* OpenAI and every compatible server (vLLM, llama.cpp, gateways) */
		r->api = PROVIDER_OPENAI;
		if (strstr(req->host, ":11434"))
			snprintf(r->provider, sizeof(r->provider), "ollama");
	} else if (ends_with(path, len, "/v1/responses") ||
	           ends_with(path, len, "/openai/responses")) {
		r->api = PROVIDER_OPENAI_RESPONSES;
	} else if (ends_with(path, len, "/v1/realtime") ||
	           ends_with(path, len, "/openai/realtime")) {
		r->api =
		    PROVIDER_OPENAI_REALTIME; /* its WebSocket's messages (call/assemble_ws.c) */
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

static const struct {
	const char *name;
	enum provider_id api;
} api_names[] = {
    {"openai", PROVIDER_OPENAI},       {"openai_responses", PROVIDER_OPENAI_RESPONSES},
    {"anthropic", PROVIDER_ANTHROPIC}, {"gemini", PROVIDER_GEMINI},
    {"ollama", PROVIDER_OLLAMA},       {"openai_realtime", PROVIDER_OPENAI_REALTIME},
};

static int route_error(char *err, size_t n, const char *file, int i, const char *what)
{
	if (i < 0)
		snprintf(err, n, "%s: %s", file, what);
	else
		snprintf(err, n, "%s: route %d: %s", file, i + 1, what);
	return -1;
}

/* Parses one route object; 0 or -1 with err naming the route. */
static int parse_route(const cJSON *o, struct custom_route *c, const char *file, int i, char *err,
                       size_t n)
{
	char msg[300];
	if (!cJSON_IsObject(o))
		return route_error(err, n, file, i, "must be an object");
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path"));
	const char *api = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "api"));
	const cJSON *match = cJSON_GetObjectItemCaseSensitive(o, "match");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(o, "host");
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(o, "provider");
	if (!path || path[0] != '/' || strlen(path) >= sizeof(c->path))
		return route_error(err, n, file, i, "\"path\" must be a string starting with '/'");
	if (!api)
		return route_error(err, n, file, i, "\"api\" is missing");
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->api = PROVIDER_UNKNOWN;
	for (size_t k = 0; k < ARRAY_LEN(api_names); k++)
		if (!strcmp(api, api_names[k].name))
			c->api = api_names[k].api;
	if (c->api == PROVIDER_UNKNOWN) {
		snprintf(msg, sizeof(msg),
		         "unknown api '%s' (expected openai, openai_responses, openai_realtime, "
		         "anthropic, gemini or ollama)",
		         api);
		return route_error(err, n, file, i, msg);
	}
	if (match) {
		const char *m = cJSON_GetStringValue(match);
		if (m && !strcmp(m, "suffix"))
			c->match = MATCH_SUFFIX;
		else if (m && !strcmp(m, "prefix"))
			c->match = MATCH_PREFIX;
		else if (m && !strcmp(m, "exact"))
			c->match = MATCH_EXACT;
		else
			return route_error(err, n, file, i,
			                   "\"match\" must be \"suffix\", \"prefix\" or \"exact\"");
	}
	if (host && (!cJSON_IsString(host) || strlen(host->valuestring) >= sizeof(c->host)))
		return route_error(err, n, file, i, "\"host\" must be a host name");
	if (host)
		snprintf(c->host, sizeof(c->host), "%s", host->valuestring);
	if (prov && (!cJSON_IsString(prov) || strlen(prov->valuestring) >= sizeof(c->provider)))
		return route_error(err, n, file, i, "\"provider\" must be a short string");
	if (prov)
		snprintf(c->provider, sizeof(c->provider), "%s", prov->valuestring);
	return 0;
}

int route_load(const char *file, char *err, size_t n)
{
	struct buf text;
	buf_init(&text, ROUTE_FILE_MAX);
	if (buf_read_file(&text, file) != 0) {
		snprintf(err, n, "%s: cannot open: %m", file);
		return -1;
	}
	if (text.cut) {
		char what[32];
		buf_free(&text);
		snprintf(what, sizeof(what), "larger than %u MiB", ROUTE_FILE_MAX >> 20);
		return route_error(err, n, file, -1, what);
	}
	cJSON *j = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
	buf_free(&text);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "routes");
	if (!j)
		return route_error(err, n, file, -1, "not valid JSON");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(j);
		return route_error(
		    err, n, file, -1,
		    "expected a JSON object {\"routes\": [{\"path\": ..., \"api\": ...}]}");
	}
	size_t count = (size_t)cJSON_GetArraySize(arr);
	struct custom_route *list = xcalloc(count ? count : 1, sizeof(*list));
	int i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		if (parse_route(o, &list[i], file, i, err, n)) {
			free(list);
			cJSON_Delete(j);
			return -1;
		}
		i++;
	}
	cJSON_Delete(j);
	route_free();
	custom = list;
	ncustom = count;
	return 0;
}

void route_free(void)
{
	free(custom);
	custom = NULL;
	ncustom = 0;
}
