/* Prometheus registry: exact exposition text, escaping, the series limit,
 * and exact totals under concurrent updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/metrics.h"

static char *render(void)
{
	struct buf out;
	buf_init(&out, 0);
	metrics_render(&out);
	return out.data ? out.data : xstrdup("");
}

static int reset(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void test_exposition_text(void **state)
{
	(void)state;
	static const char *const lab[] = {"provider", "status", NULL};
	static const double bounds[] = {0.1, 0.5, 1};
	struct metric *c = metric_counter("calls_total", "Calls.", lab);
	struct metric *g = metric_gauge("active", "Active \\ now\nsecond line.", NULL);
	struct metric *h = metric_histogram("latency_seconds", "Latency.", NULL, bounds, 3);
	const char *v1[] = {"openai", "completed"}, *v2[] = {"a\"b\\c\nd", "error"};
	metric_add(c, v1, 2);
	metric_add(c, v1, 1);
	metric_add(c, v2, 1);
	metric_set(g, NULL, 2.5);
	metric_observe(h, NULL, 0.1); /* le is inclusive */
	metric_observe(h, NULL, 0.5);
	metric_observe(h, NULL, 0.75);
	metric_observe(h, NULL, 7);
	char *t = render();
	assert_string_equal(t, "# HELP calls_total Calls.\n"
	                       "# TYPE calls_total counter\n"
	                       "calls_total{provider=\"openai\",status=\"completed\"} 3\n"
	                       "calls_total{provider=\"a\\\"b\\\\c\\nd\",status=\"error\"} 1\n"
	                       "# HELP active Active \\\\ now\\nsecond line.\n"
	                       "# TYPE active gauge\n"
	                       "active 2.5\n"
	                       "# HELP latency_seconds Latency.\n"
	                       "# TYPE latency_seconds histogram\n"
	                       "latency_seconds_bucket{le=\"0.1\"} 1\n"
	                       "latency_seconds_bucket{le=\"0.5\"} 2\n"
	                       "latency_seconds_bucket{le=\"1\"} 3\n"
	                       "latency_seconds_bucket{le=\"+Inf\"} 4\n"
	                       "latency_seconds_sum 8.35\n"
	                       "latency_seconds_count 4\n");
	free(t);
}

static void test_defaults_before_updates(void **state)
{
	(void)state;
	static const char *const lab[] = {"reason", NULL};
	metric_counter("plain_total", "Plain.", NULL);
	metric_counter("labelled_total", "Labelled.", lab);
	char *t = render();
	assert_string_equal(t,
	                    "# HELP plain_total Plain.\n# TYPE plain_total counter\nplain_total 0\n"
	                    "# HELP labelled_total Labelled.\n# TYPE labelled_total counter\n");
	free(t);
}

static void test_series_limit_folds_into_other(void **state)
{
	(void)state;
	static const char *const lab[] = {"model", NULL};
	struct metric *c = metric_counter("by_model_total", "By model.", lab);
	char name[32];
	for (int i = 0; i < METRIC_MAX_SERIES + 2; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		const char *v[] = {name};
		metric_add(c, v, 1);
	}
	char *t = render();
	assert_non_null(strstr(t, "by_model_total{model=\"m499\"} 1\n"));
	assert_null(strstr(t, "model=\"m500\""));
	assert_non_null(strstr(t, "by_model_total{model=\"other\"} 2\n"));
	assert_non_null(strstr(t, "llmobs_metrics_series_overflow_total 2\n"));
	free(t);
}

static struct metric *shared;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		metric_add(shared, NULL, 1);
	return NULL;
}

static void test_concurrent_adds_exact(void **state)
{
	(void)state;
	shared = metric_counter("race_total", "Race.", NULL);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, adder, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char *s = render();
	assert_non_null(strstr(s, "race_total 400000\n"));
	free(s);
}

static void test_otel_buckets(void **state)
{
	(void)state;
	assert_int_equal(METRIC_NBUCKETS_DURATION, 14);
	assert_true(METRIC_BUCKETS_DURATION[13] == 81.92);
	assert_int_equal(METRIC_NBUCKETS_TTFT, 16);
	assert_true(METRIC_BUCKETS_TTFT[0] == 0.001 && METRIC_BUCKETS_TTFT[15] == 10.0);
	assert_int_equal(METRIC_NBUCKETS_TPOT, 13);
	assert_true(METRIC_BUCKETS_TOKENS[13] == 67108864);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_exposition_text, reset),
	    cmocka_unit_test_setup(test_defaults_before_updates, reset),
	    cmocka_unit_test_setup(test_series_limit_folds_into_other, reset),
	    cmocka_unit_test_setup(test_concurrent_adds_exact, reset),
	    cmocka_unit_test_setup(test_otel_buckets, reset),
	};
	int rc = cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
	metrics_reset();
	return rc;
}
