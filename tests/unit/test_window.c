/* Windows: histograms as text and back, a batch's grouping into minute and
 * hour windows, and the API's regrouping by step and group_by, whose
 * percentiles must stay within a bucket of the exact ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "sinks/window.h"

#define T0 1796000400000ll /* a whole hour, Unix ms */

static struct window_sample sample(int64_t t, const char *model, int64_t ttft_ms, int64_t out,
                                   enum window_outcome o)
{
	struct window_sample s = {.started_ms = t,
	                          .outcome = o,
	                          .ttft_us = ttft_ms * 1000,
	                          .duration_us = ttft_ms * 3000,
	                          .tpot_us = 20000,
	                          .input = 1000,
	                          .output = out,
	                          .cached = 250,
	                          .cache_write = 0,
	                          .reasoning = -1,
	                          .cost_usd = model[0] == 'x' ? -1 : 0.01};
	snprintf(s.key.provider, sizeof(s.key.provider), "openai");
	snprintf(s.key.model, sizeof(s.key.model), "%s", model);
	snprintf(s.key.comm, sizeof(s.key.comm), "python3");
	return s;
}

static void test_histogram_text_round_trip(void **state)
{
	(void)state;
	uint32_t h[LOGHIST_BUCKETS] = {0}, back[LOGHIST_BUCKETS] = {0};
	h[0] = 1;
	h[7] = 123456;
	h[LOGHIST_BUCKETS - 1] = UINT32_MAX;
	char text[WINDOW_HIST_TEXT_MAX];
	window_hist_format(h, text, sizeof(text));
	assert_string_equal(text, "0:1 7:123456 127:4294967295");
	assert_int_equal(window_hist_parse(text, back), 0);
	assert_memory_equal(h, back, sizeof(h));
	assert_int_equal(window_hist_parse("", back), 0); /* empty: nothing */
	/* every bucket full still fits the text's bound */
	for (int i = 0; i < LOGHIST_BUCKETS; i++)
		h[i] = UINT32_MAX;
	window_hist_format(h, text, sizeof(text));
	memset(back, 0, sizeof(back));
	assert_int_equal(window_hist_parse(text, back), 0);
	assert_memory_equal(h, back, sizeof(h));
	static const char *const bad[] = {"5",  "128:1", "1:-1",    "1:2x",        "a:b",
	                                  "1:", ":1",    "1:1,2:2", "1:4294967296"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(back, 0, sizeof(back));
		if (window_hist_parse(bad[i], back) == 0)
			fail_msg("\"%s\" was taken", bad[i]);
	}
}

/* A batch has a group per (step, start, key): a minute and an hour each;
 * many keys (past the first table size) stay apart. */
static void test_batch_groups_minutes_and_hours(void **state)
{
	(void)state;
	struct window_batch b = {0};
	for (int i = 0; i < 300; i++) {
		char model[32];
		snprintf(model, sizeof(model), "m%d", i % 100);
		struct window_sample s = sample(T0 + (i / 100) * 60000 + i, model, 100, 10, WO_OK);
		window_batch_add(&b, &s);
	}
	/* 100 models x 3 minutes, 100 models x 1 hour */
	assert_int_equal(b.n, 400);
	int64_t minutes = 0, hours = 0;
	for (size_t i = 0; i < b.n; i++) {
		assert_int_equal(b.v[i].st.n[WC_REQUESTS],
		                 b.v[i].step_ms == WINDOW_HOUR_MS ? 3 : 1);
		assert_int_equal(b.v[i].start_ms % b.v[i].step_ms, 0);
		*(b.v[i].step_ms == WINDOW_HOUR_MS ? &hours : &minutes) += 1;
	}
	assert_int_equal(minutes, 300);
	assert_int_equal(hours, 100);
	window_batch_free(&b);
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t exact_rank(int64_t *v, size_t n, unsigned p)
{
	qsort(v, n, sizeof(*v), by_value);
	size_t k = (n * p + 99) / 100;
	return v[k ? k - 1 : 0];
}

static const cJSON *field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v)
		fail_msg("no \"%s\"", k);
	return v;
}

/* Three minutes of calls of two models, stored as minute windows and
 * regrouped: per minute, per model, per 5 minutes, and one window. */
static void test_series_regroups_by_step_and_fields(void **state)
{
	(void)state;
	struct window_batch b = {0};
	int64_t ttfts[64];
	size_t nt = 0;
	for (int m = 0; m < 3; m++)
		for (int i = 0; i < 10; i++) {
			int64_t ttft = 50 + 37 * i + 100 * m;
			const char *model = i % 3 ? "gpt-4o" : "xmodel";
			struct window_sample s =
			    sample(T0 + m * 60000 + i * 1000, model, ttft, 10 + i,
			           i == 9   ? WO_TRUNCATED
			           : i == 8 ? WO_ERROR
			                    : WO_OK);
			window_batch_add(&b, &s);
			if (!strcmp(model, "gpt-4o"))
				ttfts[nt++] = ttft * 1000;
		}
	struct window_series s = {
	    .from_ms = T0, .to_ms = T0 + 3 * 60000, .step_ms = WINDOW_MINUTE_MS};
	for (size_t i = 0; i < b.n; i++)
		if (b.v[i].step_ms == WINDOW_MINUTE_MS)
			window_series_add(&s, b.v[i].start_ms, &b.v[i].key, &b.v[i].st);
	cJSON *j = window_series_json(&s);
	const cJSON *ws = field(j, "windows");
	assert_int_equal(cJSON_GetArraySize(ws), 3); /* no group_by: one per minute */
	const cJSON *w0 = cJSON_GetArrayItem(ws, 0);
	assert_string_equal(field(w0, "window_start")->valuestring, "2026-11-30T01:00:00.000Z");
	assert_int_equal(field(w0, "window_end_ms")->valuedouble, T0 + 60000);
	assert_int_equal(field(w0, "requests")->valueint, 10);
	assert_int_equal(field(w0, "errors")->valueint, 2);
	assert_int_equal(field(field(w0, "errors_by_type"), "truncated")->valueint, 1);
	assert_int_equal(field(field(w0, "tokens"), "output")->valueint, 10 * 10 + 45);
	assert_true(fabs(field(w0, "cache_hit_ratio")->valuedouble - 0.25) < 1e-9);
	assert_true(fabs(field(w0, "avg_prompt_tokens")->valuedouble - 1000) < 1e-9);
	assert_int_equal(field(w0, "unpriced_requests")->valueint, 4); /* xmodel: i 0,3,6,9 */
	assert_true(fabs(field(w0, "estimated_cost_usd")->valuedouble - 0.06) < 1e-9);
	cJSON_Delete(j);
	window_series_free(&s);

	/* one window over the range, per model: p95 TTFT within a bucket */
	s = (struct window_series){
	    .from_ms = T0, .to_ms = T0 + 3 * 60000, .step_ms = 0, .group_by = 1u << WF_MODEL};
	for (size_t i = 0; i < b.n; i++)
		if (b.v[i].step_ms == WINDOW_MINUTE_MS)
			window_series_add(&s, b.v[i].start_ms, &b.v[i].key, &b.v[i].st);
	j = window_series_json(&s);
	ws = field(j, "windows");
	assert_int_equal(cJSON_GetArraySize(ws), 2);
	const cJSON *g = cJSON_GetArrayItem(ws, 0);
	assert_string_equal(field(g, "model")->valuestring, "gpt-4o");
	assert_null(cJSON_GetObjectItem(g, "comm")); /* not grouped by */
	assert_int_equal(field(g, "requests")->valueint, (int)nt);
	int64_t want = exact_rank(ttfts, nt, 95);
	double got = field(g, "p95_ttft_ms")->valuedouble * 1000;
	assert_int_equal(loghist_bucket((uint64_t)got), loghist_bucket((uint64_t)want));
	assert_int_equal(field(g, "window_start_ms")->valuedouble, T0);
	assert_int_equal(field(g, "window_end_ms")->valuedouble, T0 + 3 * 60000);
	cJSON_Delete(j);
	window_series_free(&s);

	/* 5-minute steps fold the three minutes into one */
	s = (struct window_series){.from_ms = T0, .to_ms = T0 + 300000, .step_ms = 300000};
	for (size_t i = 0; i < b.n; i++)
		if (b.v[i].step_ms == WINDOW_MINUTE_MS)
			window_series_add(&s, b.v[i].start_ms, &b.v[i].key, &b.v[i].st);
	j = window_series_json(&s);
	assert_int_equal(cJSON_GetArraySize(field(j, "windows")), 1);
	assert_int_equal(field(cJSON_GetArrayItem(field(j, "windows"), 0), "requests")->valueint,
	                 30);
	cJSON_Delete(j);
	window_series_free(&s);
	window_batch_free(&b);
}

/* Matches by rule add up by id, the rules past WINDOW_RULES go together,
 * and the text form reads back the same. */
static void test_rules_merge_and_round_trip(void **state)
{
	(void)state;
	struct window_rules r = {0};
	char id[32];
	for (int i = 0; i < WINDOW_RULES + 3; i++) {
		snprintf(id, sizeof(id), "rule.%d", i);
		window_rules_add(&r, id, i + 1);
	}
	window_rules_add(&r, "rule.0", 10);
	assert_int_equal(r.n, WINDOW_RULES);
	assert_int_equal(r.v[0].n, 11);
	/* the three rules past the table: 25 + 26 + 27 */
	assert_int_equal(r.other, 3 * WINDOW_RULES + 6);
	struct buf b;
	buf_init(&b, 0);
	window_rules_format(&r, &b);
	struct window_rules back = {0};
	assert_int_equal(window_rules_parse(b.data, &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	buf_free(&b);
	/* bad text is refused */
	const char *bad[] = {"x", ":3", "a:", "a:-1", "a:1,b:2", "a:1  b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct window_rules z = {0};
		assert_int_equal(window_rules_parse(bad[i], &z), -1);
	}
	/* into a window: the sample's matches, counted and by rule */
	struct window_stats *w = calloc(1, sizeof(*w));
	struct window_sample s = {.outcome = WO_OK,
	                          .ttft_us = -1,
	                          .duration_us = -1,
	                          .tpot_us = -1,
	                          .input = -1,
	                          .output = -1,
	                          .cached = -1,
	                          .cache_write = -1,
	                          .reasoning = -1,
	                          .cost_usd = -1};
	window_rules_add(&s.rules, "pii.email", 2);
	s.rules.other = 1;
	window_add(w, &s);
	window_add(w, &s);
	assert_int_equal(w->n[WC_GUARD_MATCHES], 6);
	assert_int_equal(w->rules.v[0].n, 4);
	assert_int_equal(w->rules.other, 2);
	assert_int_equal(w->n[WC_BP_CALLS], 0); /* no socket samples */
	cJSON *o = cJSON_CreateObject();
	window_stats_json(w, o);
	cJSON *g = cJSON_GetObjectItem(o, "guardrail_matches_by_rule");
	assert_int_equal(cJSON_GetObjectItem(g, "pii.email")->valueint, 4);
	assert_int_equal(cJSON_GetObjectItem(g, "*")->valueint, 2);
	cJSON *bp = cJSON_GetObjectItem(o, "backpressure");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(bp, "read_lag_ms_p95")));
	cJSON_Delete(o);
	free(w);
}

static void test_field_names(void **state)
{
	(void)state;
	assert_int_equal(window_field_parse("model"), WF_MODEL);
	assert_int_equal(window_field_parse("route"), WF_ENDPOINT);
	assert_int_equal(window_field_parse("tenant_id"), WF_TENANT);
	assert_int_equal(window_field_parse("Model"), -1);
	assert_int_equal(window_floor(T0 + 59999, 60000), T0);
	assert_int_equal(window_floor(-1, 60000), -60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_histogram_text_round_trip),
	    cmocka_unit_test(test_batch_groups_minutes_and_hours),
	    cmocka_unit_test(test_series_regroups_by_step_and_fields),
	    cmocka_unit_test(test_rules_merge_and_round_trip),
	    cmocka_unit_test(test_field_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
