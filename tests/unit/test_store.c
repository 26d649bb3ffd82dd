/* The history store's SQLite backend on a real file: batches in, filters,
 * full-text search with snippets, the keyset cursor, reopening, pruning
 * by age and by size, and files that are not ours refused untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/loghist.h"
#include "sinks/store.h"

static const struct store_backend *be = &store_sqlite;
static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/llmobs-test-store-XXXXXX");
	int fd = mkstemp(path);
	close(fd);
	unlink(path); /* a new file each test */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char p[96];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	return 0;
}

static struct store_row *row(uint64_t id, int64_t t, const char *model, const char *comm,
                             const char *prompt, const char *completion)
{
	struct store_row *r = xcalloc(1, sizeof(*r));
	r->id = id;
	r->started_ms = t;
	r->ended_ms = t + 500;
	snprintf(r->provider, sizeof(r->provider), "%s",
	         !strncmp(model, "claude", 6) ? "anthropic" : "openai");
	snprintf(r->model, sizeof(r->model), "%s", model);
	snprintf(r->status, sizeof(r->status), "completed");
	snprintf(r->comm, sizeof(r->comm), "%s", comm);
	r->pid = (uint32_t)(1000 + id % 3);
	r->cost_usd = (double)id / 1000;
	char json[256];
	snprintf(json, sizeof(json), "{\"id\":\"%llu\",\"model\":\"%s\",\"comm\":\"%s\"}",
	         (unsigned long long)id, model, comm);
	r->json = xstrdup(json);
	r->prompt = xstrdup(prompt);
	r->completion = xstrdup(completion);
	return r;
}

static void *open_w(void)
{
	char err[512] = "";
	void *h = be->open(path, true, err, sizeof(err));
	if (!h)
		fail_msg("open: %s", err);
	return h;
}

/* Ten calls, 1 s apart from t = 1,000,000 ms; "needle" only in call 4's
 * prompt, "haystack" in every completion. */
static void put_ten(void *h)
{
	struct store_row *head = NULL, **tail = &head;
	for (uint64_t i = 1; i <= 10; i++) {
		char prompt[64];
		snprintf(prompt, sizeof(prompt), "user: question %s number %llu",
		         i == 4 ? "needle" : "plain", (unsigned long long)i);
		*tail = row(i, 1000000 + (int64_t)i * 1000, i % 2 ? "gpt-4o" : "claude-sonnet-4-5",
		            i <= 5 ? "python3" : "curl", prompt, "the haystack answer");
		tail = &(*tail)->next;
	}
	char err[256];
	assert_int_equal(be->put(h, head, NULL, err, sizeof(err)), 0);
	store_rows_free(head);
}

static int ids(cJSON *rows, uint64_t *out, int cap)
{
	int n = 0;
	cJSON *r;
	cJSON_ArrayForEach(r, rows)
	{
		if (n < cap)
			out[n] = (uint64_t)cJSON_GetObjectItem(r, "id")->valuedouble;
		n++;
	}
	return n;
}

static cJSON *query(void *h, struct store_query q)
{
	char err[256];
	if (!q.limit)
		q.limit = 100;
	cJSON *j = be->query(h, &q, err, sizeof(err));
	if (!j)
		fail_msg("query: %s", err);
	return j;
}

static void test_filters_newest_first(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	uint64_t got[16];
	cJSON *j = query(h, (struct store_query){0});
	assert_int_equal(ids(j, got, 16), 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(got[i], 10 - i);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.model = "gpt-4o", .comm = "python3"});
	assert_int_equal(ids(j, got, 16), 3); /* 5, 3, 1 */
	assert_int_equal(got[0], 5);
	assert_int_equal(got[2], 1);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.since_ms = 1003000, .until_ms = 1006000});
	assert_int_equal(ids(j, got, 16), 3); /* started 1003000 .. 1005000 */
	assert_int_equal(got[0], 5);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.provider = "anthropic", .pid = 1001});
	assert_int_equal(ids(j, got, 16), 2); /* even ids with id % 3 == 1: 4, 10 */
	cJSON_Delete(j);
	j = query(h, (struct store_query){.status = "error"});
	assert_int_equal(ids(j, got, 16), 0);
	cJSON_Delete(j);
	/* the stored record comes back whole */
	cJSON *one = be->get(h, 7);
	assert_non_null(one);
	assert_string_equal(cJSON_GetObjectItem(one, "model")->valuestring, "gpt-4o");
	cJSON_Delete(one);
	assert_null(be->get(h, 99));
	assert_int_equal(be->max_id(h), 10);
	be->close(h);
}

static void test_search_finds_a_word_of_one_prompt(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	uint64_t got[16];
	cJSON *j = query(h, (struct store_query){.q = "needle"});
	assert_int_equal(ids(j, got, 16), 1);
	assert_int_equal(got[0], 4);
	const char *snip =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "call"), "snippet")
	        ->valuestring;
	assert_non_null(strstr(snip, "[needle]"));
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = "haystack", .model = "claude-sonnet-4-5"});
	assert_int_equal(ids(j, got, 16), 5);
	cJSON_Delete(j);
	/* words, not FTS syntax: operators and quotes are searched as text */
	j = query(h, (struct store_query){.q = "needle OR \"plain"});
	assert_int_equal(ids(j, got, 16), 0);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = "NEEDLE question"});
	assert_int_equal(ids(j, got, 16), 1);
	cJSON_Delete(j);
	/* punctuation cuts words as in the text: "needle-question" is both */
	j = query(h, (struct store_query){.q = "needle-question"});
	assert_int_equal(ids(j, got, 16), 1);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = " -- "}); /* no word at all */
	assert_non_null(j);
	assert_int_equal(ids(j, got, 16), 0);
	cJSON_Delete(j);
	be->close(h);
}

/* A call stored again (same id) is found by its new text only: the index
 * drops the old words while they are still in the row. */
static void test_call_stored_again_is_found_by_its_new_text(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	char err[256];
	struct store_row *r = row(4, 1004000, "gpt-4o", "python3", "user: a thimble", "done");
	assert_int_equal(be->put(h, r, NULL, err, sizeof(err)), 0);
	store_rows_free(r);
	uint64_t got[16];
	cJSON *j = query(h, (struct store_query){.q = "needle"});
	assert_int_equal(ids(j, got, 16), 0);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = "thimble"});
	assert_int_equal(ids(j, got, 16), 1);
	assert_int_equal(got[0], 4);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = "haystack"}); /* the others' words stay */
	assert_int_equal(ids(j, got, 16), 9);
	cJSON_Delete(j);
	be->close(h);
}

static void test_cursor_pages_through_everything_once(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	uint64_t seen = 0, got[4];
	struct store_query q = {.limit = 3};
	for (int page = 0; page < 5; page++) {
		cJSON *j = query(h, q);
		int n = ids(j, got, 4);
		for (int i = 0; i < n; i++) {
			assert_false(seen & (1u << got[i]));
			seen |= 1u << got[i];
		}
		if (n) {
			cJSON *last = cJSON_GetArrayItem(j, n - 1);
			q.before_ms = (int64_t)cJSON_GetObjectItem(last, "started_ms")->valuedouble;
			q.before_id = (uint64_t)cJSON_GetObjectItem(last, "id")->valuedouble;
		}
		cJSON_Delete(j);
	}
	assert_int_equal(seen, 0x7fe); /* ids 1..10 */
	be->close(h);
}

static void test_reopened_file_keeps_calls(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	be->close(h);
	h = open_w();
	assert_int_equal(be->max_id(h), 10);
	uint64_t got[16];
	cJSON *j = query(h, (struct store_query){.q = "needle"});
	assert_int_equal(ids(j, got, 16), 1);
	cJSON_Delete(j);
	/* a reader alongside the writer */
	char err[256];
	void *r = be->open(path, false, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(be->max_id(r), 10);
	be->close(r);
	be->close(h);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
}

static void test_prune_by_age_then_size(void **state)
{
	(void)state;
	void *h = open_w();
	put_ten(h);
	assert_int_equal(be->prune(h, 1004500, 0), 4); /* started before: 1..4 */
	uint64_t got[16];
	cJSON *j = query(h, (struct store_query){0});
	assert_int_equal(ids(j, got, 16), 6);
	assert_int_equal(got[5], 5);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.q = "needle"}); /* its text went with it */
	assert_int_equal(ids(j, got, 16), 0);
	cJSON_Delete(j);
	/* many big calls, then a bound below their size: the oldest go first */
	struct store_row *head = NULL, **tail = &head;
	char *big = xmalloc(20001);
	memset(big, 'x', 20000);
	big[20000] = '\0';
	for (uint64_t i = 11; i <= 210; i++) {
		*tail = row(i, 2000000 + (int64_t)i, "gpt-4o", "curl", "p", big);
		tail = &(*tail)->next;
	}
	free(big);
	char err[256];
	assert_int_equal(be->put(h, head, NULL, err, sizeof(err)), 0);
	store_rows_free(head);
	uint64_t before = be->bytes(h);
	assert_true(before > 2000000);
	long n = be->prune(h, 0, before / 2);
	assert_true(n > 0);
	assert_true(be->bytes(h) <= before / 2);
	j = query(h, (struct store_query){.limit = 1000});
	int left = ids(j, got, 1);
	assert_int_equal(got[0], 210); /* the newest stays */
	assert_int_equal(left, 206 - n);
	cJSON_Delete(j);
	be->close(h);
}

static void refused(const char *want)
{
	char err[512] = "";
	struct stat before, after;
	assert_int_equal(stat(path, &before), 0);
	assert_null(be->open(path, true, err, sizeof(err)));
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtime, after.st_mtime);
}

static void test_files_not_ours_are_left_alone(void **state)
{
	(void)state;
	FILE *f = fopen(path, "w");
	fputs("this is somebody's notes, not a database at all, and long enough to matter\n", f);
	for (int i = 0; i < 100; i++)
		fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	refused("not a SQLite database");
	unlink(path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE invoices (n INTEGER)", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	refused("another program's SQLite database");
	unlink(path);
	void *h = open_w();
	be->close(h);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	refused("newer than this llmobsd's");
}

/* One call's sample for the windows (a minute from t_ms). */
static struct window_sample sample(int64_t t_ms, const char *model, int64_t ttft_ms, int64_t out,
                                   bool failed)
{
	struct window_sample s = {.started_ms = t_ms,
	                          .ttft_us = ttft_ms * 1000,
	                          .duration_us = ttft_ms * 2000,
	                          .tpot_us = -1,
	                          .input = 100,
	                          .output = out,
	                          .cached = 10,
	                          .cache_write = -1,
	                          .reasoning = -1,
	                          .cost_usd = 0.001,
	                          .outcome = failed ? WO_ERROR : WO_OK};
	snprintf(s.key.provider, sizeof(s.key.provider), "openai");
	snprintf(s.key.model, sizeof(s.key.model), "%s", model);
	snprintf(s.key.comm, sizeof(s.key.comm), "python3");
	return s;
}

static void count_row(void *ctx, int64_t start_ms, const struct window_key *k,
                      const struct window_stats *st)
{
	(void)start_ms, (void)k;
	window_merge(ctx, st);
}

static struct window_stats *read_windows(void *h, int64_t step, const char *model)
{
	struct window_query q = {.step_ms = step, .from_ms = 0, .to_ms = INT64_MAX};
	if (model)
		snprintf(q.filter.model, sizeof(q.filter.model), "%s", model);
	struct window_stats *w = calloc(1, sizeof(*w));
	char err[256];
	assert_int_equal(be->windows(h, &q, count_row, w, err, sizeof(err)), 0);
	return w;
}

/* Windows of two batches of the same minute merge into one stored row
 * (counts add, histograms merge); another model stays apart; the hour
 * rollup holds them all; they survive a reopen; pruning takes minutes. */
static void test_windows_merge_across_batches(void **state)
{
	(void)state;
	void *h = open_w();
	char err[256];
	int64_t t0 = 1796000400000; /* a whole hour */
	for (int b = 0; b < 2; b++) {
		struct window_batch wins = {0};
		for (int i = 0; i < 5; i++) {
			struct window_sample s =
			    sample(t0 + 1000 * i + b, "gpt-4o", 100 * (i + 1), 7, i == 0 && b == 1);
			window_batch_add(&wins, &s);
		}
		struct window_sample other = sample(t0 + 90000, "gpt-4o-mini", 50, 3, false);
		/* backpressure: reads that waited 2 ms with 4 KiB unread, a stall */
		uint32_t lag[LOGHIST_BUCKETS] = {0}, unread[LOGHIST_BUCKETS] = {0};
		lag[loghist_bucket(2000)] = 3;
		unread[loghist_bucket(4096)] = 3;
		other.read_lag_hist = lag;
		other.unread_hist = unread;
		other.h2_stalls = 1;
		window_rules_add(&other.rules, "pii.email", 2);
		window_rules_add(&other.rules, b ? "secret.aws" : "pii.email", 1);
		window_batch_add(&wins, &other);
		assert_int_equal(wins.n, 4); /* two minutes and, for each model, its hour */
		assert_int_equal(be->put(h, NULL, &wins, err, sizeof(err)), 0);
		window_batch_free(&wins);
	}
	be->close(h);
	h = open_w();
	struct window_stats *m = read_windows(h, WINDOW_MINUTE_MS, "gpt-4o");
	assert_int_equal(m->n[WC_REQUESTS], 10);
	assert_int_equal(m->n[WC_ERRORS], 1);
	assert_int_equal(m->n[WC_ERR_ERROR], 1);
	assert_int_equal(m->n[WC_TOK_OUTPUT], 70);
	assert_int_equal(m->n[WC_TOK_INPUT], 1000);
	assert_int_equal(m->n[WC_TOK_CACHED], 100);
	assert_int_equal(m->n[WC_PRICED], 10);
	assert_true(m->cost_usd > 0.0099 && m->cost_usd < 0.0101);
	uint64_t total = 0;
	for (int i = 0; i < LOGHIST_BUCKETS; i++)
		total += m->h[WH_TTFT][i];
	assert_int_equal(total, 10);
	/* p95 of 100..500 ms twice: 500 ms, in its bucket */
	assert_int_equal(loghist_bucket(loghist_percentile(m->h[WH_TTFT], total, 95)),
	                 loghist_bucket(500000));
	struct window_stats *hr = read_windows(h, WINDOW_HOUR_MS, NULL);
	assert_int_equal(hr->n[WC_REQUESTS], 12);
	assert_int_equal(hr->n[WC_TOK_OUTPUT], 76);
	/* backpressure and guardrail matches survive the file, merged */
	assert_int_equal(hr->n[WC_BP_CALLS], 2);
	assert_int_equal(hr->n[WC_BP_H2_STALLS], 2);
	assert_int_equal(hr->h[WH_READ_LAG][loghist_bucket(2000)], 6);
	assert_int_equal(hr->h[WH_UNREAD][loghist_bucket(4096)], 6);
	assert_int_equal(hr->n[WC_GUARD_MATCHES], 6);
	assert_int_equal(hr->rules.n, 2);
	assert_string_equal(hr->rules.v[0].id, "pii.email");
	assert_int_equal(hr->rules.v[0].n, 5);
	assert_string_equal(hr->rules.v[1].id, "secret.aws");
	assert_int_equal(hr->rules.v[1].n, 1);
	free(m);
	free(hr);
	/* minute windows before the cutoff go, hour windows are another step */
	assert_int_equal(be->prune_windows(h, WINDOW_MINUTE_MS, t0 + 60000), 1);
	m = read_windows(h, WINDOW_MINUTE_MS, NULL);
	assert_int_equal(m->n[WC_REQUESTS], 2); /* gpt-4o-mini's minute is left */
	free(m);
	hr = read_windows(h, WINDOW_HOUR_MS, NULL);
	assert_int_equal(hr->n[WC_REQUESTS], 12);
	free(hr);
	/* a damaged histogram loses its counts (logged), not the window */
	assert_int_equal(sqlite3_exec(h,
	                              "UPDATE windows SET h_ttft = '3:x' WHERE step_ms = 3600000",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	hr = read_windows(h, WINDOW_HOUR_MS, NULL);
	assert_int_equal(hr->n[WC_REQUESTS], 12);
	for (int i = 0; i < LOGHIST_BUCKETS; i++)
		assert_int_equal(hr->h[WH_TTFT][i], 0);
	assert_true(hr->h[WH_DURATION][loghist_bucket(200000)] > 0);
	free(hr);
	be->close(h);
}

/* A file of schema 1 (before windows) is migrated in place: its calls
 * stay, the windows table appears, and new calls carry source and tenant. */
static void test_schema_1_file_is_migrated(void **state)
{
	(void)state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	const char *v1 =
	    "CREATE TABLE calls ("
	    " id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, ended_ms INTEGER,"
	    " provider TEXT, model TEXT, status TEXT, pid INTEGER, comm TEXT, container TEXT,"
	    " cost_usd REAL, json TEXT NOT NULL);"
	    "CREATE INDEX calls_by_start ON calls (started_ms, id);"
	    "CREATE VIRTUAL TABLE calls_text USING fts5 (prompt, completion);"
	    "INSERT INTO calls (id, started_ms, json) VALUES (7, 1000, '{\"id\":\"7\"}');"
	    "INSERT INTO calls_text (rowid, prompt, completion) VALUES (7, 'a legacy prompt',"
	    " 'an old answer');"
	    "PRAGMA application_id = 1819045231; PRAGMA user_version = 1;";
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	void *h = open_w();
	cJSON *one = be->get(h, 7);
	assert_non_null(one);
	cJSON_Delete(one);
	struct store_row *r = row(8, 2000, "gpt-4o", "curl", "p", "c");
	snprintf(r->source, sizeof(r->source), "ingest");
	snprintf(r->tenant, sizeof(r->tenant), "acme");
	char err[256];
	assert_int_equal(be->put(h, r, NULL, err, sizeof(err)), 0);
	store_rows_free(r);
	uint64_t got[4];
	cJSON *j = query(h, (struct store_query){.tenant = "acme"});
	assert_int_equal(ids(j, got, 4), 1);
	assert_int_equal(got[0], 8);
	cJSON_Delete(j);
	j = query(h, (struct store_query){.source = "capture"}); /* schema-1 rows: captured */
	assert_int_equal(ids(j, got, 4), 1);
	assert_int_equal(got[0], 7);
	cJSON_Delete(j);
	/* the text moved into calls (schema 4) and is found as before */
	j = query(h, (struct store_query){.q = "legacy answer"});
	assert_int_equal(ids(j, got, 4), 1);
	assert_int_equal(got[0], 7);
	assert_non_null(strstr(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "call"), "snippet")
	        ->valuestring,
	    "[legacy]"));
	cJSON_Delete(j);
	struct window_stats *w = read_windows(h, WINDOW_MINUTE_MS, NULL);
	assert_int_equal(w->n[WC_REQUESTS], 0);
	free(w);
	be->close(h);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 5);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(store_parse_duration_ms("7d"), 7 * 86400000LL);
	assert_int_equal(store_parse_duration_ms("12h"), 12 * 3600000LL);
	assert_int_equal(store_parse_duration_ms("90m"), 90 * 60000LL);
	assert_int_equal(store_parse_duration_ms("30s"), 30000);
	assert_int_equal(store_parse_duration_ms("0"), 0);
	assert_int_equal(store_parse_duration_ms("7 days"), -1);
	assert_int_equal(store_parse_duration_ms("-1d"), -1);
	assert_int_equal(store_parse_duration_ms(""), -1);
	assert_int_equal(store_parse_duration_ms("99999999999999999d"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_filters_newest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_finds_a_word_of_one_prompt, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_cursor_pages_through_everything_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_reopened_file_keeps_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_by_age_then_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files_not_ours_are_left_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_windows_merge_across_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_1_file_is_migrated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_stored_again_is_found_by_its_new_text, setup,
	                                    teardown),
	    cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
