/* HTTP GET against the daemon (libcurl). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_server = CLI_DEFAULT_SERVER;

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;
	char *q = realloc(b->p, b->n + n + 1);
	if (!q)
		return 0;
	memcpy(q + b->n, p, n);
	b->p = q;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

long cli_get(const char *path, char **out, char *err, size_t errlen)
{
	/* sized to fit: a long search query must not be cut silently */
	size_t sl = strlen(cli_server);
	while (sl && cli_server[sl - 1] == '/')
		sl--;
	size_t ulen = sl + strlen(path) + 1;
	char *url = malloc(ulen);
	CURL *c = url ? curl_easy_init() : NULL;
	if (!c) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(url);
		return 0;
	}
	snprintf(url, ulen, "%.*s%s", (int)sl, cli_server, path);
	struct body b = {0};
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach %s: %s", url,
		         cerr[0] ? cerr : curl_easy_strerror(rc));
		free(b.p);
		b.p = NULL;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_easy_cleanup(c);
	free(url);
	*out = b.p ? b.p : (status ? strdup("") : NULL);
	return status;
}

cJSON *cli_get_json(const char *path, int *exit_code)
{
	char err[512], *body = NULL;
	long status = cli_get(path, &body, err, sizeof(err));
	*exit_code = EXIT_SERVER;
	if (!status) {
		fprintf(stderr, "llmobs-cli: %s\n", err);
		return NULL;
	}
	cJSON *j = cJSON_Parse(body);
	if (status != 200) {
		const char *msg = json_str(j, "error", body);
		fprintf(stderr, "llmobs-cli: server error %ld: %s\n", status, msg);
		cJSON_Delete(j);
		free(body);
		return NULL;
	}
	if (!j)
		fprintf(stderr, "llmobs-cli: the server did not answer JSON for %s\n", path);
	free(body);
	if (j)
		*exit_code = EXIT_OK;
	return j;
}

void cli_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

int cli_print_json(cJSON *j)
{
	char *s = cJSON_Print(j);
	puts(s ? s : "null");
	free(s);
	cJSON_Delete(j);
	return EXIT_OK;
}
