/* SSE parser: every fixture split at every byte boundary gives the same
 * events as parsing it whole; hand-written expectations from the WHATWG
 * rules and the spec's own examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fixture.h"
#include "sse.h"

/* Events serialised as "type|data|id\n" (data with \n escaped as \\n). */
static void collect(void *ctx, const struct sse_event *ev)
{
	struct buf *out = ctx;
	buf_append(out, ev->type, strlen(ev->type));
	buf_append(out, "|", 1);
	for (size_t i = 0; i < ev->data_len; i++) {
		if (ev->data[i] == '\n')
			buf_append(out, "\\n", 2);
		else
			buf_append(out, ev->data + i, 1);
	}
	buf_append(out, "|", 1);
	buf_append(out, ev->id, strlen(ev->id));
	buf_append(out, "\n", 1);
}

struct result {
	struct buf events;
	struct sse_stats st;
};

/* Parses s fed in pieces ending at cuts[0..ncuts-1] (sorted). */
static void parse_cuts(const char *s, size_t n, const size_t *cuts, size_t ncuts, size_t max,
                       struct result *r)
{
	buf_init(&r->events, 0);
	struct sse_parser *p = sse_new(collect, &r->events, max);
	size_t at = 0;
	for (size_t i = 0; i < ncuts; i++) {
		sse_feed(p, s + at, cuts[i] - at);
		at = cuts[i];
	}
	sse_feed(p, s + at, n - at);
	sse_finish(p);
	r->st = *sse_stats(p);
	sse_free(p);
}

static char *parse_whole(const char *s, size_t n)
{
	struct result r;
	parse_cuts(s, n, NULL, 0, 0, &r);
	return r.events.data ? r.events.data : strdup("");
}

static void expect_same(const char *name, const char *ref, struct result *r, const char *how)
{
	const char *got = r->events.data ? r->events.data : "";
	if (strcmp(ref, got))
		fail_msg("%s: %s gives\n%s\ninstead of\n%s", name, how, got, ref);
	buf_free(&r->events);
}

/* Whole vs every 2-piece split vs byte-by-byte vs random multi-splits. */
static void check_all_splits(const char *name, const char *s, size_t n)
{
	char *ref = parse_whole(s, n);
	struct result r;
	char how[64];
	for (size_t cut = 1; cut < n; cut++) {
		parse_cuts(s, n, &cut, 1, 0, &r);
		snprintf(how, sizeof(how), "split at %zu", cut);
		expect_same(name, ref, &r, how);
	}
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	parse_cuts(s, n, cuts, n ? n - 1 : 0, 0, &r);
	expect_same(name, ref, &r, "byte-by-byte feeding");
	srand(1234);
	for (int seed = 0; seed < 100 && n > 2; seed++) {
		size_t k = 0, at = 0;
		while (at < n - 1) {
			at += 1 + (size_t)rand() % 7;
			if (at < n)
				cuts[k++] = at;
		}
		parse_cuts(s, n, cuts, k, 0, &r);
		snprintf(how, sizeof(how), "random splits #%d", seed);
		expect_same(name, ref, &r, how);
	}
	free(cuts);
	free(ref);
}

static void check_dir(const char *dir, const char *prefix, int *files)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".sse") ||
		    strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		char path[1024];
		size_t n;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *s = fixture_read(path, &n);
		assert_non_null(s);
		check_all_splits(e->d_name, s, n);
		free(s);
		(*files)++;
	}
	closedir(d);
}

static void test_wire_fixtures_every_split(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	int files = 0;
	check_dir(wire_dir(), "", &files);
	assert_true(files >= 30); /* every provider's .sse capture */
}

static void test_own_fixtures_every_split(void **state)
{
	(void)state;
	int files = 0;
	check_dir("tests/fixtures", "sse_", &files);
	assert_int_equal(files, 2);
}

static void expect_events(const char *s, size_t n, const char *want)
{
	char *got = parse_whole(s, n);
	assert_string_equal(got, want);
	free(got);
}

static void expect_wire(const char *name, const char *want)
{
	size_t n;
	char *s = fixture_wire(name, &n);
	assert_non_null(s);
	expect_events(s, n, want);
	free(s);
}

/* The spec's own examples, outcomes as the spec text states them. */
static void test_spec_vectors(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	expect_wire("sse_spec_vector1_multiline_data.sse", "message|YHOO\\n+2\\n10|\n");
	expect_wire("sse_spec_vector2_comment_id_space.sse",
	            "message|first event|1\nmessage|second event|\nmessage| third event|\n");
	/* "data" alone appends an empty line; the unterminated "data:" is dropped */
	expect_wire("sse_spec_vector3_empty_data_and_unterminated.sse",
	            "message||\nmessage|\\n|\n");
	expect_wire("sse_spec_vector4_optional_space.sse", "message|test|\nmessage|test|\n");
	expect_wire("sse_vector_bom_crlf.sse", "message|bom-prefixed|\n");
	expect_wire("sse_vector_openai_python_mixed_endings_utf8_eof.sse",
	            "message|\xd0\xb8\xd0\xb7\xd0\xb2\xd0\xb5\xd1\x81\xd1\x82\xd0\xbd\xd0\xb8|one\n"
	            "message|two|one\n");
}

static void test_own_fixture_values(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("sse_openai_crlf_comments.sse", &n);
	assert_non_null(s);
	struct result r;
	parse_cuts(s, n, NULL, 0, 0, &r);
	assert_string_equal(r.events.data,
	                    "delta|{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9\"}}]}|7\n"
	                    "message|line one\\nline two|7\n"
	                    "message|{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}|7\n"
	                    "message|[DONE]|7\n");
	assert_int_equal(r.st.comments, 1);
	assert_int_equal(r.st.events, 4);
	assert_int_equal(r.st.unterminated_bytes, 0);
	buf_free(&r.events);
	free(s);
	s = fixture_own("sse_cr_only_utf8.sse", &n);
	expect_events(s, n,
	              "message|\xf0\x9f\xa6\x8a fox \xe4\xb8\x96\xe7\x95\x8c\\nsecond line|\n"
	              "custom|x|\n");
	free(s);
}

static void test_cr_then_lf_across_feeds_is_one_ending(void **state)
{
	(void)state;
	const char s[] = "data: a\r\ndata: b\r\n\r\n";
	size_t cuts[] = {8, 17, 19}; /* after each CR */
	struct result r;
	parse_cuts(s, sizeof(s) - 1, cuts, 3, 0, &r);
	assert_string_equal(r.events.data, "message|a\\nb|\n");
	assert_int_equal(r.st.events, 1);
	buf_free(&r.events);
}

static void test_bom_split_and_lookalike(void **state)
{
	(void)state;
	const char s[] = "\xef\xbb\xbf"
	                 "data: x\n\n";
	for (size_t cut = 1; cut <= 3; cut++) {
		struct result r;
		parse_cuts(s, sizeof(s) - 1, &cut, 1, 0, &r);
		assert_string_equal(r.events.data, "message|x|\n");
		buf_free(&r.events);
	}
	/* a BOM only counts at the very start: a second one is data */
	expect_events("\xef\xbb\xbf\xef\xbb\xbf"
	              "data: y\n\n",
	              13, "");
	/* a partial BOM prefix followed by other bytes is kept as line content */
	const char t[] = "\xef\xbb"
	                 "data: z\n\ndata: w\n\n";
	char *got = parse_whole(t, sizeof(t) - 1);
	assert_non_null(strstr(got, "message|w|"));
	free(got);
}

static void test_utf8_split_everywhere_and_invalid(void **state)
{
	(void)state;
	const char s[] = "data: \xe4\xb8\x96\xf0\x9f\xa6\x8a\n\n";
	for (size_t cut = 6; cut < 13; cut++) {
		struct result r;
		parse_cuts(s, sizeof(s) - 1, &cut, 1, 0, &r);
		assert_string_equal(r.events.data, "message|\xe4\xb8\x96\xf0\x9f\xa6\x8a|\n");
		assert_int_equal(r.st.invalid_utf8, 0);
		buf_free(&r.events);
	}
	struct result r;
	const char bad[] = "data: a\xff"
	                   "b\xc3\n\n";
	parse_cuts(bad, sizeof(bad) - 1, NULL, 0, 0, &r);
	assert_string_equal(r.events.data, "message|a\xef\xbf\xbd"
	                                   "b\xef\xbf\xbd|\n");
	assert_int_equal(r.st.invalid_utf8, 2);
	buf_free(&r.events);
}

static void test_id_with_nul_and_retry(void **state)
{
	(void)state;
	const char s[] = "id: good\ndata: 1\n\nid: b\0d\ndata: 2\n\nretry: 3000\nretry: 12x\n\n";
	struct buf out;
	buf_init(&out, 0);
	struct sse_parser *p = sse_new(collect, &out, 0);
	sse_feed(p, s, sizeof(s) - 1);
	assert_string_equal(out.data, "message|1|good\nmessage|2|good\n");
	assert_int_equal(sse_retry_ms(p), 3000);
	sse_free(p);
	buf_free(&out);
}

static void test_oversize_line_is_cut_and_counted(void **state)
{
	(void)state;
	struct buf s;
	buf_init(&s, 0);
	buf_append(&s, "data: ", 6);
	for (int i = 0; i < 300; i++)
		buf_append(&s, "0123456789", 10);
	buf_append(&s, "\n\ndata: next\n\n", 14);
	struct result r;
	size_t cut = 1000;
	parse_cuts(s.data, s.len, &cut, 1, 256, &r);
	assert_true(r.st.cut_bytes > 0);
	assert_non_null(strstr(r.events.data, "message|next|\n"));
	buf_free(&r.events);
	buf_free(&s);
}

static void test_unterminated_counted_and_comments(void **state)
{
	(void)state;
	const char s[] = ": hi\n: there\ndata: done\n\ndata: partial";
	struct result r;
	parse_cuts(s, sizeof(s) - 1, NULL, 0, 0, &r);
	assert_string_equal(r.events.data, "message|done|\n");
	assert_int_equal(r.st.comments, 2);
	assert_int_equal(r.st.unterminated_bytes, strlen("data: partial"));
	buf_free(&r.events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_fixtures_every_split),
	    cmocka_unit_test(test_own_fixtures_every_split),
	    cmocka_unit_test(test_spec_vectors),
	    cmocka_unit_test(test_own_fixture_values),
	    cmocka_unit_test(test_cr_then_lf_across_feeds_is_one_ending),
	    cmocka_unit_test(test_bom_split_and_lookalike),
	    cmocka_unit_test(test_utf8_split_everywhere_and_invalid),
	    cmocka_unit_test(test_id_with_nul_and_retry),
	    cmocka_unit_test(test_oversize_line_is_cut_and_counted),
	    cmocka_unit_test(test_unterminated_counted_and_comments),
	};
	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
