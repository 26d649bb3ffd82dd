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

static void free_rows(struct store_row *r)
{
	while (r) {
		struct store_row *n = r->next;
		free(r->json);
		free(r->prompt);
		free(r->completion);
		free(r);
		r = n;
	}
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
	assert_int_equal(be->put(h, head, err, sizeof(err)), 0);
	free_rows(head);
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
	assert_int_equal(be->put(h, head, err, sizeof(err)), 0);
	free_rows(head);
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
	    cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
