/* --routes files, then matching requests against what loaded: the input
 * is the file, up to a NUL, then request paths and hosts NUL-separated. */
#include <string.h>

#include "fuzz.h"
#include "wire/http.h"
#include "llm/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	const uint8_t *p;
	size_t n = fin_until(&f, 0, &p);
	char path[64], err[512];
	int fd = fin_file(p, n, path, sizeof(path));
	err[0] = '\0';
	if (route_load(path, err, sizeof(err)) != 0 && !err[0])
		abort(); /* a refusal always says why */
	close(fd);
	while (f.n) {
		struct http_msg m = {.dir = HTTP_DIR_REQ, .content_length = -1};
		n = fin_until(&f, 0, &p);
		snprintf(m.path, sizeof(m.path), "%.*s", (int)n, (const char *)p);
		n = fin_until(&f, 0, &p);
		snprintf(m.host, sizeof(m.host), "%.*s", (int)n, (const char *)p);
		snprintf(m.method, sizeof(m.method), "POST");
		struct route r;
		route_match(&m, &r);
		if (strnlen(r.model, sizeof(r.model)) == sizeof(r.model))
			abort();
	}
	route_free();
	return 0;
}
