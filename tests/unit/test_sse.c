/* SSE parser: every fixture split at every byte boundary gives the same
 * events and stats as parsing it whole; hand-written expectations from the
 * WHATWG rules and the spec's own examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fixture.h"
#include "wire/sse.h"

/* Appends s escaped so that events can be compared as one string and a
 * mismatch prints readably: \n, \r, \0, | and \ are escaped. */
static void put_escaped(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '\n':
			buf_append(out, "\\n", 2);
			break;
		case '\r':
			buf_append(out, "\\r", 2);
			break;
		case '\0':
			buf_append(out, "\\0", 2);
			break;
		case '|':
			buf_append(out, "\\|", 2);
			break;
		case '\\':
			buf_append(out, "\\\\", 2);
			break;
		default:
			buf_append(out, s + i, 1);
		}
	}
}

/* Events serialised as "type|data|id\n". */
static void collect(void *ctx, const struct sse_event *ev)
{
	struct buf *out = ctx;
	put_escaped(out, ev->type, strlen(ev->type));
	buf_append(out, "|", 1);
	put_escaped(out, ev->data, ev->data_len);
	assert_int_equal(ev->data[ev->data_len], '\0'); /* promised by sse.h */
	buf_append(out, "|", 1);
	put_escaped(out, ev->id, strlen(ev->id));
	buf_append(out, "\n", 1);
}

struct result {
	char *events; /* serialised events, "" when none */
	struct sse_stats st;
};

/* Parses s fed in pieces ending at cuts[0..ncuts-1] (ascending). */
static struct result parse_cuts(const char *s, size_t n, const size_t *cuts, size_t ncuts,
                                size_t max)
{
	struct buf out;
	buf_init(&out, 0);
	struct sse_parser *p = sse_new(collect, &out, max);
	size_t at = 0;
	for (size_t i = 0; i < ncuts; i++) {
		sse_feed(p, s + at, cuts[i] - at);
		at = cuts[i];
	}
	sse_feed(p, s + at, n - at);
	sse_finish(p);
	struct result r = {.events = out.data ? out.data : xstrdup(""), .st = *sse_stats(p)};
	sse_free(p);
	return r;
}

static struct result parse_whole(const char *s, size_t n)
{
	return parse_cuts(s, n, NULL, 0, 0);
}

/* Fails unless r has the same events and counters as ref; frees r. */
static void expect_same(const char *name, const struct result *ref, struct result *r,
                        const char *how)
{
	if (strcmp(ref->events, r->events))
		fail_msg("%s: %s gives\n%s\ninstead of\n%s", name, how, r->events, ref->events);
	if (memcmp(&ref->st, &r->st, sizeof(ref->st)))
		fail_msg("%s: %s gives stats events=%llu comments=%llu lines=%llu cut=%llu "
		         "unterminated=%llu invalid_utf8=%llu, whole gives %llu %llu %llu %llu "
		         "%llu %llu",
		         name, how, (unsigned long long)r->st.events,
		         (unsigned long long)r->st.comments, (unsigned long long)r->st.lines,
		         (unsigned long long)r->st.cut_bytes,
		         (unsigned long long)r->st.unterminated_bytes,
		         (unsigned long long)r->st.invalid_utf8, (unsigned long long)ref->st.events,
		         (unsigned long long)ref->st.comments, (unsigned long long)ref->st.lines,
		         (unsigned long long)ref->st.cut_bytes,
		         (unsigned long long)ref->st.unterminated_bytes,
		         (unsigned long long)ref->st.invalid_utf8);
	free(r->events);
}

/* Whole vs every 2-piece split vs byte-by-byte vs 100 random multi-splits,
 * all with the given max_event_bytes. */
static void check_all_splits(const char *name, const char *s, size_t n, size_t max)
{
	struct result ref = parse_cuts(s, n, NULL, 0, max);
	struct result r;
	char how[64];
	for (size_t cut = 1; cut < n; cut++) {
		r = parse_cuts(s, n, &cut, 1, max);
		snprintf(how, sizeof(how), "split at %zu", cut);
		expect_same(name, &ref, &r, how);
	}
	size_t *cuts = xmalloc((n + 1) * sizeof(*cuts));
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	r = parse_cuts(s, n, cuts, n > 1 ? n - 1 : 0, max);
	expect_same(name, &ref, &r, "byte-by-byte feeding");
	for (unsigned seed = 1; seed <= 100 && n > 2; seed++) {
		size_t k = 0, at = 0;
		srand(seed);
		for (;;) {
			at += 1 + (size_t)rand() % 9;
			if (at >= n)
				break;
			cuts[k++] = at;
		}
		r = parse_cuts(s, n, cuts, k, max);
		snprintf(how, sizeof(how), "random splits, seed %u", seed);
		expect_same(name, &ref, &r, how);
	}
	free(cuts);
	free(ref.events);
}

/* Runs check_all_splits over every dir/PREFIX*.sse; returns the count. */
static int check_dir(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int files = 0;
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
		check_all_splits(e->d_name, s, n, 0);
		free(s);
		files++;
	}
	closedir(d);
	return files;
}

static void test_wire_fixtures_every_split(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	/* 37 .sse captures today; fail loudly if the directory empties out */
	assert_true(check_dir(wire_dir(), "") >= 30);
}

static void test_own_fixtures_every_split(void **state)
{
	(void)state;
	assert_int_equal(check_dir("tests/fixtures", "sse_"), 3);
}

/* Parses a wire fixture whole; fails if it is missing. */
static struct result parse_wire(const char *name)
{
	size_t n;
	char *s = fixture_wire(name, &n);
	if (!s)
		fail_msg("missing wire fixture %s", name);
	struct result r = parse_whole(s, n);
	free(s);
	return r;
}

/* The spec's own examples, outcomes as §9.2.6 states them. */
static void test_spec_vector1_multiline_data(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_spec_vector1_multiline_data.sse");
	assert_string_equal(r.events, "message|YHOO\\n+2\\n10|\n");
	assert_int_equal(r.st.events, 1);
	assert_int_equal(r.st.lines, 4);
	assert_int_equal(r.st.unterminated_bytes, 0);
	free(r.events);
}

static void test_spec_vector2_comment_id_space(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_spec_vector2_comment_id_space.sse");
	/* a bare "id" resets the last event ID; only one leading space goes */
	assert_string_equal(r.events, "message|first event|1\n"
	                              "message|second event|\n"
	                              "message| third event|\n");
	assert_int_equal(r.st.comments, 1);
	assert_int_equal(r.st.events, 3);
	free(r.events);
}

static void test_spec_vector3_empty_data_and_unterminated(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_spec_vector3_empty_data_and_unterminated.sse");
	/* "data" alone appends "" + LF; two of them give "\n" */
	assert_string_equal(r.events, "message||\nmessage|\\n|\n");
	assert_int_equal(r.st.events, 2);
	/* the trailing "data:" (5 bytes, no line ending) is discarded */
	assert_int_equal(r.st.unterminated_bytes, 5);
	free(r.events);
}

static void test_spec_vector4_optional_space(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_spec_vector4_optional_space.sse");
	assert_string_equal(r.events, "message|test|\nmessage|test|\n");
	free(r.events);
}

static void test_vector_bom_crlf(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_vector_bom_crlf.sse");
	assert_string_equal(r.events, "message|bom-prefixed|\n");
	assert_int_equal(r.st.lines, 2); /* CRLF is one line ending */
	assert_int_equal(r.st.invalid_utf8, 0);
	assert_int_equal(r.st.bytes, 25);
	free(r.events);
}

/* openai-python's test_mixed_endings_utf8_and_eof: ("известни","one"),
 * ("two","one"); the unterminated "data:unfinished" is dropped. */
static void test_vector_openai_python_mixed_endings(void **state)
{
	(void)state;
	WIRE_REQUIRED_OR_SKIP();
	struct result r = parse_wire("sse_vector_openai_python_mixed_endings_utf8_eof.sse");
	assert_string_equal(
	    r.events,
	    "message|\xd0\xb8\xd0\xb7\xd0\xb2\xd0\xb5\xd1\x81\xd1\x82\xd0\xbd\xd0\xb8|one\n"
	    "message|two|one\n");
	assert_int_equal(r.st.unterminated_bytes, strlen("data:unfinished"));
	assert_int_equal(r.st.invalid_utf8, 0);
	free(r.events);
}

static void test_own_fixture_values(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("sse_openai_crlf_comments.sse", &n);
	assert_non_null(s);
	struct result r = parse_whole(s, n);
	/* the type resets after each dispatch, the last event ID does not */
	assert_string_equal(r.events,
	                    "delta|{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9\"}}]}|7\n"
	                    "message|line one\\nline two|7\n"
	                    "message|{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}|7\n"
	                    "message|[DONE]|7\n");
	assert_int_equal(r.st.comments, 1);
	assert_int_equal(r.st.events, 4);
	assert_int_equal(r.st.unterminated_bytes, 0);
	free(r.events);
	free(s);

	s = fixture_own("sse_cr_only_utf8.sse", &n);
	assert_non_null(s);
	r = parse_whole(s, n);
	/* CR alone ends lines; CR CR is a blank line */
	assert_string_equal(r.events, "message|\xf0\x9f\xa6\x8a fox \xe4\xb8\x96\xe7\x95\x8c"
	                              "\\nsecond line|\n"
	                              "custom|x|\n");
	free(r.events);
	free(s);

	s = fixture_own("sse_done_and_fields.sse", &n);
	assert_non_null(s);
	r = parse_whole(s, n);
	/* unknown fields and a field with no colon are ignored; "Data" is not
	 * "data" (no case folding); [DONE] is plain data to this layer */
	assert_string_equal(r.events, "message|{\"a\":1}|\n"
	                              "message|[DONE]|\n");
	assert_int_equal(r.st.comments, 2);
	assert_int_equal(r.st.unterminated_bytes, 0);
	free(r.events);
	free(s);
}

static void test_retry_from_own_fixture(void **state)
{
	(void)state;
	size_t n;
	char *s = fixture_own("sse_openai_crlf_comments.sse", &n);
	assert_non_null(s);
	struct buf out;
	buf_init(&out, 0);
	struct sse_parser *p = sse_new(collect, &out, 0);
	assert_int_equal(sse_retry_ms(p), -1); /* none seen yet */
	sse_feed(p, s, n);
	assert_int_equal(sse_retry_ms(p), 2500);
	sse_free(p);
	buf_free(&out);
	free(s);
}

static void test_cr_then_lf_across_feeds_is_one_ending(void **state)
{
	(void)state;
	const char s[] = "data: a\r\ndata: b\r\n\r\n";
	size_t cuts[] = {8, 17, 19}; /* right after each CR */
	struct result r = parse_cuts(s, sizeof(s) - 1, cuts, 3, 0);
	/* had any LF counted as a blank line, "a" would dispatch alone */
	assert_string_equal(r.events, "message|a\\nb|\n");
	assert_int_equal(r.st.events, 1);
	assert_int_equal(r.st.lines, 3);
	free(r.events);

	/* an empty feed between the CR and the LF changes nothing */
	struct buf out;
	buf_init(&out, 0);
	struct sse_parser *p = sse_new(collect, &out, 0);
	sse_feed(p, "data: a\r", 8);
	sse_feed(p, "", 0);
	sse_feed(p, "\ndata: b\n\n", 10);
	sse_finish(p);
	assert_string_equal(out.data, "message|a\\nb|\n");
	sse_free(p);
	buf_free(&out);
}

static void test_bom_split_across_feeds_is_skipped(void **state)
{
	(void)state;
	const char s[] = "\xef\xbb\xbf"
	                 "data: x\n\n";
	size_t n = sizeof(s) - 1;
	for (size_t cut = 1; cut <= 3; cut++) {
		struct result r = parse_cuts(s, n, &cut, 1, 0);
		assert_string_equal(r.events, "message|x|\n");
		assert_int_equal(r.st.invalid_utf8, 0);
		free(r.events);
	}
	size_t bytes[] = {1, 2, 3, 4};
	struct result r = parse_cuts(s, n, bytes, 4, 0);
	assert_string_equal(r.events, "message|x|\n");
	free(r.events);
}

static void test_second_bom_is_not_stripped(void **state)
{
	(void)state;
	/* only one leading BOM is stripped: the second makes the field name
	 * "\uFEFFdata", an unknown field, so nothing is dispatched */
	const char s[] = "\xef\xbb\xbf\xef\xbb\xbf"
	                 "data: y\n\n";
	struct result r = parse_whole(s, sizeof(s) - 1);
	assert_string_equal(r.events, "");
	assert_int_equal(r.st.lines, 2);
	free(r.events);
}

struct lines {
	struct buf b; /* each line given to the other-line callback, then \n */
};

static void other_line(void *ctx, const char *line, size_t len)
{
	struct lines *l = ctx;
	buf_append(&l->b, line, len);
	buf_append(&l->b, "\n", 1);
}

static void on_event_ignore(void *ctx, const struct sse_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* Feeds the pieces in order to a parser that records non-field lines. */
static struct lines feed_other(const char *const *pieces, size_t npieces, struct sse_stats *st)
{
	struct lines l;
	buf_init(&l.b, 0);
	struct sse_parser *p = sse_new(on_event_ignore, &l, 0);
	sse_set_other_fn(p, other_line);
	for (size_t i = 0; i < npieces; i++)
		sse_feed(p, pieces[i], strlen(pieces[i]));
	sse_finish(p);
	*st = *sse_stats(p);
	sse_free(p);
	return l;
}

static void test_bom_lookalike_prefix_is_data(void **state)
{
	(void)state;
	struct sse_stats st;
	/* EF BB then 80 is U+FEC0, not a BOM: all three bytes stay in the line */
	const char *valid[] = {"\xef\xbb", "\x80: v\n"};
	struct lines l = feed_other(valid, 2, &st);
	assert_string_equal(l.b.data, "\xef\xbb\x80: v\n");
	assert_int_equal(st.invalid_utf8, 0);
	buf_free(&l.b);

	/* EF BB then "x": the held bytes come back as invalid UTF-8 (U+FFFD),
	 * followed by the x; nothing is dropped */
	const char *bad[] = {"\xef\xbb", "x: v\n"};
	l = feed_other(bad, 2, &st);
	assert_non_null(l.b.data);
	assert_memory_equal(l.b.data, "\xef\xbf\xbd", 3);
	assert_true(l.b.len >= strlen("\xef\xbf\xbdx: v\n"));
	assert_string_equal(l.b.data + l.b.len - 5, "x: v\n");
	assert_true(st.invalid_utf8 >= 1);
	assert_int_equal(st.bytes, 7);
	buf_free(&l.b);

	/* "\xEF\xBB" glued to "data: z" makes an unknown field name, and the
	 * next event still dispatches */
	const char t[] = "\xef\xbb"
	                 "data: z\n\ndata: w\n\n";
	size_t cut = 2;
	struct result r = parse_cuts(t, sizeof(t) - 1, &cut, 1, 0);
	assert_string_equal(r.events, "message|w|\n");
	assert_int_equal(r.st.lines, 4);
	free(r.events);
}

/* Every split of s must deliver the single event want. */
static void expect_every_split(const char *s, const char *want)
{
	size_t n = strlen(s);
	for (size_t cut = 0; cut <= n; cut++) {
		struct result r = parse_cuts(s, n, &cut, 1, 0);
		assert_string_equal(r.events, want);
		assert_int_equal(r.st.invalid_utf8, 0);
		free(r.events);
	}
	size_t *bytes = xmalloc(n * sizeof(*bytes));
	for (size_t i = 0; i + 1 < n; i++)
		bytes[i] = i + 1;
	struct result r = parse_cuts(s, n, bytes, n - 1, 0);
	assert_string_equal(r.events, want);
	free(r.events);
	free(bytes);
}

static void test_utf8_split_at_every_position(void **state)
{
	(void)state;
	/* 2-byte é, 3-byte 世 (E4 B8 96), 4-byte 🦊 (F0 9F A6 8A) */
	expect_every_split("data: \xc3\xa9\n\n", "message|\xc3\xa9|\n");
	expect_every_split("data: \xe4\xb8\x96\n\n", "message|\xe4\xb8\x96|\n");
	expect_every_split("data: \xf0\x9f\xa6\x8a\n\n", "message|\xf0\x9f\xa6\x8a|\n");
	expect_every_split(
	    "event: \xf0\x9f\xa6\x8a\nid: \xe4\xb8\x96\ndata: \xe4\xb8\x96\xf0\x9f\xa6\x8a\n\n",
	    "\xf0\x9f\xa6\x8a|\xe4\xb8\x96\xf0\x9f\xa6\x8a|\xe4\xb8\x96\n");
}

static void test_invalid_utf8_becomes_replacement(void **state)
{
	(void)state;
	/* per the WHATWG UTF-8 decoder each of these bytes is its own error:
	 * FF is never valid; C3 is cut short by the LF; C0 AF is overlong (C0
	 * never starts a sequence, AF is a stray continuation) */
	const char bad[] = "data: a\xff"
	                   "b\xc3\n"
	                   "data: \xc0\xaf\n\n";
	struct result r = parse_whole(bad, sizeof(bad) - 1);
	assert_string_equal(r.events, "message|a\xef\xbf\xbd"
	                              "b\xef\xbf\xbd\\n\xef\xbf\xbd\xef\xbf\xbd|\n");
	assert_int_equal(r.st.invalid_utf8, 4);
	free(r.events);

	/* an encoded surrogate (ED A0 80): ED's second byte must be 80..9F, so
	 * ED, A0 and 80 are three errors */
	const char sur[] = "data: \xed\xa0\x80\n\n";
	r = parse_whole(sur, sizeof(sur) - 1);
	assert_string_equal(r.events, "message|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\n");
	assert_int_equal(r.st.invalid_utf8, 3);
	free(r.events);

	/* invalid bytes in the id are replaced too */
	const char id[] = "id: \xfe\ndata: d\n\n";
	r = parse_whole(id, sizeof(id) - 1);
	assert_string_equal(r.events, "message|d|\xef\xbf\xbd\n");
	assert_int_equal(r.st.invalid_utf8, 1);
	free(r.events);
}

static void test_id_with_nul_is_ignored(void **state)
{
	(void)state;
	const char s[] = "id: good\ndata: 1\n\nid: b\0d\ndata: 2\n\nid\ndata: 3\n\n";
	struct result r = parse_whole(s, sizeof(s) - 1);
	assert_string_equal(r.events, "message|1|good\nmessage|2|good\nmessage|3|\n");
	free(r.events);
}

static void test_retry_digits_only(void **state)
{
	(void)state;
	const char s[] = "retry: 3000\nretry: 12x\nretry: -5\nretry:\nretry: 1 2\n"
	                 "retry:  7\nretry: +9\n\n";
	struct buf out;
	buf_init(&out, 0);
	struct sse_parser *p = sse_new(collect, &out, 0);
	sse_feed(p, s, sizeof(s) - 1);
	assert_int_equal(sse_retry_ms(p), 3000);
	sse_feed(p, "retry:0042\n", 11);
	assert_int_equal(sse_retry_ms(p), 42);
	assert_null(out.data); /* retry alone dispatches nothing */
	sse_free(p);
	buf_free(&out);
}

/* "data: " + 3000 digits, then a normal event. */
static struct buf long_line_stream(void)
{
	struct buf s;
	buf_init(&s, 0);
	buf_append(&s, "data: ", 6);
	for (int i = 0; i < 300; i++)
		buf_append(&s, "0123456789", 10);
	buf_append(&s, "\n\ndata: next\n\n", 14);
	return s;
}

static void test_oversize_line_is_cut_and_recovers(void **state)
{
	(void)state;
	struct buf s = long_line_stream();
	size_t splits[] = {0, 100, 1000, 3005, 3006, 3007};
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		struct result r = parse_cuts(s.data, s.len, &splits[i], 1, 256);
		/* at least the 3006 - 256 bytes past the limit are counted */
		assert_true(r.st.cut_bytes >= 3006 - 256);
		assert_non_null(strstr(r.events, "message|next|\n"));
		/* nothing longer than the limit was delivered */
		assert_true(strlen(r.events) < 256 + 64);
		free(r.events);
	}
	buf_free(&s);
}

/* The outcome of an oversize line must not depend on where the transport
 * split the stream. */
static void test_oversize_line_same_for_every_split(void **state)
{
	(void)state;
	struct buf s = long_line_stream();
	check_all_splits("oversize data line", s.data, s.len, 256);
	/* the over-long line is dropped whole and every byte of it counted */
	struct result r = parse_cuts(s.data, s.len, NULL, 0, 256);
	assert_string_equal(r.events, "message|next|\n");
	assert_int_equal(r.st.cut_bytes, 3006); /* "data: " + 3000 digits */
	free(r.events);
	buf_free(&s);
}

static void test_comments_counted_and_tail_discarded(void **state)
{
	(void)state;
	const char s[] = ": hi\n: there\n:\ndata: done\n\ndata: partial";
	struct result r = parse_whole(s, sizeof(s) - 1);
	assert_string_equal(r.events, "message|done|\n");
	assert_int_equal(r.st.comments, 3);
	assert_int_equal(r.st.unterminated_bytes, strlen("data: partial"));
	free(r.events);
}

static void test_done_is_plain_data(void **state)
{
	(void)state;
	const char s[] = "data: {\"x\":1}\n\ndata: [DONE]\n\n";
	struct result r = parse_whole(s, sizeof(s) - 1);
	assert_string_equal(r.events, "message|{\"x\":1}|\nmessage|[DONE]|\n");
	assert_int_equal(r.st.events, 2);
	free(r.events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_fixtures_every_split),
	    cmocka_unit_test(test_own_fixtures_every_split),
	    cmocka_unit_test(test_spec_vector1_multiline_data),
	    cmocka_unit_test(test_spec_vector2_comment_id_space),
	    cmocka_unit_test(test_spec_vector3_empty_data_and_unterminated),
	    cmocka_unit_test(test_spec_vector4_optional_space),
	    cmocka_unit_test(test_vector_bom_crlf),
	    cmocka_unit_test(test_vector_openai_python_mixed_endings),
	    cmocka_unit_test(test_own_fixture_values),
	    cmocka_unit_test(test_retry_from_own_fixture),
	    cmocka_unit_test(test_cr_then_lf_across_feeds_is_one_ending),
	    cmocka_unit_test(test_bom_split_across_feeds_is_skipped),
	    cmocka_unit_test(test_second_bom_is_not_stripped),
	    cmocka_unit_test(test_bom_lookalike_prefix_is_data),
	    cmocka_unit_test(test_utf8_split_at_every_position),
	    cmocka_unit_test(test_invalid_utf8_becomes_replacement),
	    cmocka_unit_test(test_id_with_nul_is_ignored),
	    cmocka_unit_test(test_retry_digits_only),
	    cmocka_unit_test(test_oversize_line_is_cut_and_recovers),
	    cmocka_unit_test(test_oversize_line_same_for_every_split),
	    cmocka_unit_test(test_comments_counted_and_tail_discarded),
	    cmocka_unit_test(test_done_is_plain_data),
	};
	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
