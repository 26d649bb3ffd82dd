/* The README and the program's own tables agree: every metric family
 * /metrics can serve is in the README's metrics table with its type (and
 * nothing else is), every live event type is in the events row, and every
 * self-metric row has its own key in /api/v1/stats with its value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "sinks/live.h"
#include "core/stats.h"
#include "sinks/prometheus.h"

static char *readme, *sec_buf;

static int load(void **state)
{
	(void)state;
	size_t n;
	readme = fixture_read("README.md", &n);
	return readme ? 0 : -1;
}

static int unload(void **state)
{
	(void)state;
	free(readme);
	free(sec_buf);
	return 0;
}

/* The text of the section that starts at heading `h` (to the next "## "). */
static char *section(const char *h)
{
	const char *p = strstr(readme, h);
	if (!p)
		fail_msg("README has no heading '%s'", h);
	const char *e = strstr(p + strlen(h), "\n## ");
	size_t n = e ? (size_t)(e - p) : strlen(p);
	char *s = realloc(sec_buf, n + 1);
	sec_buf = s;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The names in backticks in the first cell of the metrics table's rows,
 * and that row's type cell. */
struct doc_family {
	char name[96], type[16];
};

static size_t doc_families(const char *sec, struct doc_family *out, size_t cap)
{
	size_t n = 0;
	for (const char *line = sec; line && *line; line = strchr(line, '\n'), line += !!line) {
		if (strncmp(line, "| `", 3))
			continue;
		const char *end = strchr(line + 1, '|');
		const char *tend = end ? strchr(end + 1, '|') : NULL;
		if (!end || !tend)
			continue;
		char type[16] = "";
		const char *t = end + 1;
		while (*t == ' ')
			t++;
		size_t tl = strcspn(t, " |");
		snprintf(type, sizeof(type), "%.*s", (int)tl, t);
		for (const char *q = line + 2; q < end;) {
			const char *a = memchr(q, '`', (size_t)(end - q));
			if (!a)
				break;
			const char *b = memchr(a + 1, '`', (size_t)(end - a - 1));
			if (!b)
				break;
			if (n < cap) {
				snprintf(out[n].name, sizeof(out[n].name), "%.*s", (int)(b - a - 1),
				         a + 1);
				snprintf(out[n].type, sizeof(out[n].type), "%s", type);
				n++;
			}
			q = b + 1;
		}
	}
	return n;
}

static void test_readme_lists_every_metric_family(void **state)
{
	(void)state;
	struct family_info fam[128];
	size_t nf = prometheus_families(fam, 128);
	assert_true(nf > 30 && nf < 128);
	char *sec = section("\n## Metrics");
	struct doc_family doc[128];
	size_t nd = doc_families(sec, doc, 128);
	for (size_t i = 0; i < nf; i++) {
		bool found = false;
		for (size_t k = 0; k < nd; k++) {
			if (strcmp(doc[k].name, fam[i].name))
				continue;
			found = true;
			if (strcmp(doc[k].type, fam[i].type))
				fail_msg("README lists %s as a %s, /metrics serves a %s",
				         fam[i].name, doc[k].type, fam[i].type);
		}
		if (!found)
			fail_msg("README's metrics table lacks %s (%s)", fam[i].name, fam[i].type);
	}
	for (size_t k = 0; k < nd; k++) {
		bool found = false;
		for (size_t i = 0; i < nf && !found; i++)
			found = !strcmp(doc[k].name, fam[i].name);
		if (!found)
			fail_msg("README's metrics table lists %s, which /metrics does not serve",
			         doc[k].name);
	}
}

static void test_readme_lists_every_live_event(void **state)
{
	(void)state;
	const char *row = strstr(readme, "| `GET /api/v1/events` |");
	assert_non_null(row);
	size_t n = strcspn(row, "\n");
	for (int i = 0; i < LIVE__N; i++) {
		char want[64];
		snprintf(want, sizeof(want), "`%s`", live_event_names[i]);
		const char *hit = strstr(row, want);
		if (!hit || hit > row + n)
			fail_msg("README's /api/v1/events row lacks %s", want);
	}
	assert_true(live_event_known("chunk", 5));
	assert_false(live_event_known("chunks", 6));
	assert_false(live_event_known("guardrail_", 10));
}

/* Every row has its own stats key, and serves its own value. */
static void test_stats_json_has_every_row(void **state)
{
	(void)state;
	struct stats_view v;
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < stat_nrows; i++) {
		uint64_t *p = (uint64_t *)((char *)&v + stat_rows[i].off);
		assert_int_equal(*p, 0); /* two rows reading one field */
		*p = 1000 + i;
	}
	cJSON *j = stats_to_json(&v);
	static const char *const sections[] = {"capture", "pipeline", "api", "store", "ingest"};
	for (size_t i = 0; i < stat_nrows; i++) {
		const struct stat_row *r = &stat_rows[i];
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, sections[r->section]);
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, r->key);
		if (!cJSON_IsNumber(x) || x->valuedouble != 1000.0 + (double)i)
			fail_msg("/api/v1/stats %s.%s does not serve %s", sections[r->section],
			         r->key, r->family);
		for (size_t k = 0; k < i; k++)
			if (stat_rows[k].section == r->section && !strcmp(stat_rows[k].key, r->key))
				fail_msg("two rows serve %s", r->key);
		/* one family, one kind, one label name; help on its first row */
		bool first = true;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(stat_rows[k].family, r->family))
				continue;
			first = false;
			const char *a = stat_rows[k].label, *b = r->label;
			assert_int_equal(stat_rows[k].kind, r->kind);
			assert_true(a == b || (a && b && !strcmp(a, b)));
		}
		if (first && !r->help)
			fail_msg("%s has no help text", r->family);
	}
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readme_lists_every_metric_family),
	    cmocka_unit_test(test_readme_lists_every_live_event),
	    cmocka_unit_test(test_stats_json_has_every_row),
	};
	return cmocka_run_group_tests_name("docs", tests, load, unload);
}
