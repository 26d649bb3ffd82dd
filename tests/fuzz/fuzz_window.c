/* The windows' stored text (sinks/window.c): a histogram's "bucket:count"
 * and the guardrail matches' "rule:n" columns, read back from a file that
 * may have been changed or damaged. The input is histogram text, a NUL,
 * rules text: each is parsed and, when taken, must come back the same
 * through format. */
#include <string.h>

#include "fuzz.h"
#include "sinks/window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	const char *rules_text = text + strlen(text) + (strlen(text) < size);

	uint32_t h[LOGHIST_BUCKETS] = {0}, back[LOGHIST_BUCKETS] = {0};
	if (window_hist_parse(text, h) == 0) {
		char out[WINDOW_HIST_TEXT_MAX];
		window_hist_format(h, out, sizeof(out));
		if (window_hist_parse(out, back) || memcmp(h, back, sizeof(h)))
			abort();
	}
	struct window_rules r = {0}, r_back = {0};
	if (window_rules_parse(rules_text, &r) == 0) {
		struct buf out;
		buf_init(&out, 0);
		window_rules_format(&r, &out);
		if (window_rules_parse(out.len ? out.data : "", &r_back) ||
		    memcmp(&r, &r_back, sizeof(r)))
			abort();
		buf_free(&out);
	}
	free(text);
	return 0;
}
