/* The history store on SQLite (WAL, FTS5): schema, migrations, batched
 * inserts, queries and pruning. A file that is not ours is refused, never
 * written to. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "sinks/store.h"

#define APP_ID 0x6c6c6d6f /* "llmo": PRAGMA application_id of our files */

/* Schema versions: migrations[v] takes a file from version v to v + 1. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE calls ("
    " id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, ended_ms INTEGER,"
    " provider TEXT, model TEXT, status TEXT, pid INTEGER, comm TEXT, container TEXT,"
    " cost_usd REAL, json TEXT NOT NULL);"
    "CREATE INDEX calls_by_start ON calls (started_ms, id);"
    "CREATE VIRTUAL TABLE calls_text USING fts5 (prompt, completion, tokenize = 'unicode61');",
    /* 1 -> 2: ingested calls (source, tenant, route) and the windows
     * (sinks/window.h: counts and sums as columns, histograms as text) */
    "ALTER TABLE calls ADD COLUMN source TEXT;"
    "ALTER TABLE calls ADD COLUMN tenant TEXT;"
    "ALTER TABLE calls ADD COLUMN endpoint TEXT;"
    "CREATE TABLE windows ("
    " step_ms INTEGER NOT NULL, start_ms INTEGER NOT NULL, provider TEXT NOT NULL,"
    " model TEXT NOT NULL, operation TEXT NOT NULL, endpoint TEXT NOT NULL,"
    " comm TEXT NOT NULL, container TEXT NOT NULL, tenant TEXT NOT NULL,"
    " requests INTEGER NOT NULL, errors INTEGER NOT NULL, errors_error INTEGER NOT NULL,"
    " errors_truncated INTEGER NOT NULL, errors_aborted INTEGER NOT NULL,"
    " errors_blocked INTEGER NOT NULL, tokens_input INTEGER NOT NULL,"
    " tokens_output INTEGER NOT NULL, tokens_cached INTEGER NOT NULL,"
    " tokens_cache_write INTEGER NOT NULL, tokens_reasoning INTEGER NOT NULL,"
    " with_usage INTEGER NOT NULL, priced INTEGER NOT NULL, unpriced INTEGER NOT NULL,"
    " duration_sum_us INTEGER NOT NULL, duration_n INTEGER NOT NULL,"
    " cost_usd REAL NOT NULL, h_ttft TEXT NOT NULL, h_duration TEXT NOT NULL,"
    " h_tpot TEXT NOT NULL,"
    " PRIMARY KEY (step_ms, start_ms, provider, model, operation, endpoint, comm,"
    " container, tenant)) WITHOUT ROWID;",
    /* 2 -> 3: a search sorts its matches by start from this index alone,
     * not from each match's row (1.3 s for a word in 1% of 1 M calls) */
    "CREATE INDEX calls_id_start ON calls (id, started_ms);",
    /* 3 -> 4: the text moves into calls and the index keeps no positions
     * nor a copy of it (detail=none, external content): 3.2x the inserts a
     * second and ~1.1 KB a call less; a search is on words, not phrases */
    "ALTER TABLE calls ADD COLUMN prompt TEXT;"
    "ALTER TABLE calls ADD COLUMN completion TEXT;"
    "ALTER TABLE calls ADD COLUMN timeline TEXT;"
    "UPDATE calls SET prompt = t.prompt, completion = t.completion"
    " FROM calls_text t WHERE t.rowid = calls.id;"
    "DROP TABLE calls_text;"
    "CREATE VIRTUAL TABLE calls_text USING fts5 (prompt, completion, content = 'calls',"
    " content_rowid = 'id', detail = none, tokenize = 'unicode61');"
    "INSERT INTO calls_text (calls_text) VALUES ('rebuild');"
    /* fewer, larger merges: +15% inserts, searches as fast */
    "INSERT INTO calls_text (calls_text, rank) VALUES ('automerge', 16);",
    /* 4 -> 5: windows count backpressure (per-read histograms of read lag
     * and unread bytes, the socket's counts) and guardrail matches by rule */
    "ALTER TABLE windows ADD COLUMN bp_calls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE windows ADD COLUMN bp_zero_window INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE windows ADD COLUMN bp_rcvq_full INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE windows ADD COLUMN bp_h2_stalls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE windows ADD COLUMN guard_matches INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE windows ADD COLUMN h_read_lag TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE windows ADD COLUMN h_unread TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE windows ADD COLUMN guard_rules TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

/* One integer from a statement, or def. */
static int64_t one_int(sqlite3 *db, const char *sql, int64_t def, int *rc)
{
	sqlite3_stmt *st;
	int64_t v = def;
	*rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (*rc != SQLITE_OK)
		return def;
	*rc = sqlite3_step(st);
	if (*rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(st, 0);
		*rc = SQLITE_OK;
	} else if (*rc == SQLITE_DONE) {
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return v;
}

static int check_and_migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int rc;
	int64_t objects = one_int(db, "SELECT count(*) FROM sqlite_master", 0, &rc);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen,
		         "%s is not a SQLite database the daemon can use (%s); it is left "
		         "as it is: move it away or choose another --store",
		         path, sqlite3_errmsg(db));
		return -1;
	}
	int64_t app = one_int(db, "PRAGMA application_id", 0, &rc);
	int64_t version = one_int(db, "PRAGMA user_version", 0, &rc);
	if (app != APP_ID && !(app == 0 && objects == 0)) {
		snprintf(err, errlen,
		         "%s is another program's SQLite database (application_id %lld, "
		         "%lld objects); it is left as it is: choose another --store",
		         path, (long long)app, (long long)objects);
		return -1;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s has schema version %lld, newer than this llmobsd's (%d): "
		         "upgrade llmobsd or choose another --store",
		         path, (long long)version, SCHEMA_VERSION);
		return -1;
	}
	char *msg = NULL;
	const char *check = "PRAGMA quick_check";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, check, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
			snprintf(err, errlen,
			         "%s is damaged (%s); it is left as it is: move it away", path,
			         (const char *)sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
	}
	for (int64_t v = version; v < SCHEMA_VERSION; v++) {
		char sql[128];
		snprintf(sql, sizeof(sql),
		         "PRAGMA application_id = %d; PRAGMA user_version = %lld;", APP_ID,
		         (long long)v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "%s: migrating to schema %lld: %s", path,
			         (long long)v + 1, msg ? msg : "?");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

static void *sq_open(const char *path, bool writer, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		fail(db, err, errlen, path);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	if (writer && (check_and_migrate(db, path, err, errlen) ||
	               sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
	                            NULL, NULL, NULL) != SQLITE_OK)) {
		if (!err[0])
			fail(db, err, errlen, path);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void sq_close(void *h)
{
	sqlite3_close(h);
}

/* "a, b, c" of the window columns after the key (counts, cost, histograms) */
static void window_columns(struct buf *b, const char *prefix)
{
	for (int i = 0; i < WC_N; i++) {
		buf_append(b, prefix, strlen(prefix));
		buf_append(b, window_count_names[i], strlen(window_count_names[i]));
		buf_append(b, ", ", 2);
	}
	buf_append(b, prefix, strlen(prefix));
	buf_append(b, "cost_usd", 8);
	for (int i = 0; i < WH_N; i++) {
		buf_append(b, ", ", 2);
		buf_append(b, prefix, strlen(prefix));
		buf_append(b, window_hist_names[i], strlen(window_hist_names[i]));
	}
	buf_printf(b, ", %sguard_rules", prefix);
}

/* Said once: a stored window's text column did not parse (its counts are
 * left out, not the window). */
static void damaged(const char *column)
{
	static atomic_bool said;
	if (!atomic_exchange(&said, true))
		log_warn("store: a stored window's %s is damaged; it is left out (the file was "
		         "changed outside llmobsd?)",
		         column);
}

/* The window columns of a row from column `first` on, into st. */
static void window_read(sqlite3_stmt *st, int first, struct window_stats *w)
{
	for (int i = 0; i < WC_N; i++)
		w->n[i] = sqlite3_column_int64(st, first + i);
	w->cost_usd = sqlite3_column_double(st, first + WC_N);
	for (int i = 0; i < WH_N; i++) {
		const char *t = (const char *)sqlite3_column_text(st, first + WC_N + 1 + i);
		if (t && window_hist_parse(t, w->h[i])) {
			memset(w->h[i], 0, sizeof(w->h[i]));
			damaged(window_hist_names[i]);
		}
	}
	const char *t = (const char *)sqlite3_column_text(st, first + WC_N + 1 + WH_N);
	if (t && window_rules_parse(t, &w->rules)) {
		memset(&w->rules, 0, sizeof(w->rules));
		damaged("guard_rules");
	}
}

static void bind_key(sqlite3_stmt *st, int first, int64_t step, int64_t start,
                     const struct window_key *k)
{
	sqlite3_bind_int64(st, first, step);
	sqlite3_bind_int64(st, first + 1, start);
	for (int f = 0; f < WF_N; f++)
		sqlite3_bind_text(st, first + 2 + f, window_key_field(k, f), -1, SQLITE_STATIC);
}

#define KEY_COLUMNS                                                                                \
	"step_ms, start_ms, provider, model, operation, endpoint, comm, container, tenant"
#define KEY_MATCH                                                                                  \
	"step_ms = ? AND start_ms = ? AND provider = ? AND model = ? AND operation = ? AND "       \
	"endpoint = ? AND comm = ? AND container = ? AND tenant = ?"

/* Merges each window of the batch into its stored row. */
static int put_windows(sqlite3 *db, const struct window_batch *wins)
{
	struct buf sel, ins;
	buf_init(&sel, 0);
	buf_init(&ins, 0);
	buf_printf(&sel, "SELECT ");
	window_columns(&sel, "");
	buf_printf(&sel, " FROM windows WHERE " KEY_MATCH);
	buf_printf(&ins, "INSERT OR REPLACE INTO windows (" KEY_COLUMNS ", ");
	window_columns(&ins, "");
	buf_printf(&ins, ") VALUES (?");
	for (int i = 1; i < 2 + WF_N + WC_N + 1 + WH_N + 1; i++)
		buf_printf(&ins, ",?");
	buf_printf(&ins, ")");
	sqlite3_stmt *get = NULL, *put = NULL;
	int rc = sqlite3_prepare_v2(db, sel.data, -1, &get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, ins.data, -1, &put, NULL);
	buf_free(&sel);
	buf_free(&ins);
	struct window_stats *w = xmalloc(sizeof(*w));
	char hist[WINDOW_HIST_TEXT_MAX];
	struct buf rules;
	buf_init(&rules, 0);
	for (size_t i = 0; wins && i < wins->n && rc == SQLITE_OK; i++) {
		const struct window_group *g = &wins->v[i];
		*w = g->st;
		bind_key(get, 1, g->step_ms, g->start_ms, &g->key);
		if (sqlite3_step(get) == SQLITE_ROW) {
			struct window_stats *old = xcalloc(1, sizeof(*old));
			window_read(get, 0, old);
			window_merge(w, old);
			free(old);
		}
		sqlite3_reset(get);
		bind_key(put, 1, g->step_ms, g->start_ms, &g->key);
		int k = 2 + WF_N + 1;
		for (int c = 0; c < WC_N; c++)
			sqlite3_bind_int64(put, k++, w->n[c]);
		sqlite3_bind_double(put, k++, w->cost_usd);
		for (int h = 0; h < WH_N; h++) {
			window_hist_format(w->h[h], hist, sizeof(hist));
			sqlite3_bind_text(put, k++, hist, -1, SQLITE_TRANSIENT);
		}
		buf_reset(&rules);
		window_rules_format(&w->rules, &rules);
		sqlite3_bind_text(put, k++, rules.len ? rules.data : "", -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(put) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(put);
	}
	free(w);
	buf_free(&rules);
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	return rc;
}

/* One statement over every row; stops at the first error. */
static int put_each(sqlite3 *db, const char *sql, struct store_row *rows,
                    void (*bind)(sqlite3_stmt *, const struct store_row *))
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	for (struct store_row *r = rows; r && rc == SQLITE_OK; r = r->next) {
		bind(st, r);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static void bind_id(sqlite3_stmt *st, const struct store_row *r)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
}

static void bind_call(sqlite3_stmt *st, const struct store_row *r)
{
	bind_id(st, r);
	sqlite3_bind_int64(st, 2, r->started_ms);
	sqlite3_bind_int64(st, 3, r->ended_ms);
	sqlite3_bind_text(st, 4, r->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->pid);
	sqlite3_bind_text(st, 8, r->comm, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->container, -1, SQLITE_STATIC);
	if (r->cost_usd >= 0)
		sqlite3_bind_double(st, 10, r->cost_usd);
	else
		sqlite3_bind_null(st, 10);
	sqlite3_bind_text(st, 11, r->json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, r->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, r->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, r->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, r->prompt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, r->completion, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 17, r->timeline, -1, SQLITE_STATIC);
}

static void bind_text(sqlite3_stmt *st, const struct store_row *r)
{
	bind_id(st, r);
	sqlite3_bind_text(st, 2, r->prompt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->completion, -1, SQLITE_STATIC);
}

/* The index's entries for a call already stored are taken out while its
 * old text is still in calls; all the text is indexed after all the rows,
 * since a statement that opens a savepoint (INSERT OR REPLACE) makes FTS5
 * write out the words it holds: indexed between rows, each call became a
 * segment of its own to merge (3.6k calls/s instead of 10k+). */
static int sq_put(void *h, struct store_row *rows, const struct window_batch *wins, char *err,
                  size_t errlen)
{
	sqlite3 *db = h;
	int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = put_each(db, "DELETE FROM calls_text WHERE rowid = ?", rows, bind_id);
	if (rc == SQLITE_OK)
		rc =
		    put_each(db,
		             "INSERT OR REPLACE INTO calls (id, started_ms, ended_ms, provider, "
		             "model, status, pid, comm, container, cost_usd, json, source, tenant, "
		             "endpoint, prompt, completion, timeline)"
		             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		             rows, bind_call);
	if (rc == SQLITE_OK)
		rc = put_each(db,
		              "INSERT INTO calls_text (rowid, prompt, completion) VALUES (?,?,?)",
		              rows, bind_text);
	if (rc == SQLITE_OK)
		rc = put_windows(db, wins);
	if (rc != SQLITE_OK)
		fail(db, err, errlen, "insert");
	if (rc == SQLITE_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail(db, err, errlen, "commit");
	if (rc != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* The FTS5 interface of a connection (sqlite.org/fts5.html#extending_fts5). */
static fts5_api *fts5_of(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return api;
}

static int add_token(void *ctx, int flags, const char *tok, int n, int start, int end)
{
	(void)flags, (void)start, (void)end;
	struct buf *b = ctx;
	buf_append(b, b->len ? " \"" : "\"", b->len ? 2 : 1);
	for (int i = 0; i < n; i++)
		buf_append(b, tok[i] == '"' ? "\"\"" : &tok[i], tok[i] == '"' ? 2 : 1);
	buf_append(b, "\"", 1);
	return SQLITE_OK;
}

/* q as an FTS5 query: its words as the index's tokenizer cuts them, each
 * quoted (no operators), all of them required. The index keeps no
 * positions, so "foo-bar" finds the calls with both foo and bar. NULL
 * when q has no word. */
static char *fts_query(sqlite3 *db, const char *q)
{
	fts5_api *api = fts5_of(db);
	fts5_tokenizer tk;
	void *ud;
	Fts5Tokenizer *t = NULL;
	struct buf b;
	buf_init(&b, 0);
	if (api && api->xFindTokenizer(api, "unicode61", &ud, &tk) == SQLITE_OK &&
	    tk.xCreate(ud, NULL, 0, &t) == SQLITE_OK) {
		tk.xTokenize(t, &b, FTS5_TOKENIZE_QUERY, q, (int)strlen(q), add_token);
		tk.xDelete(t);
	}
	return b.data;
}

static cJSON *sq_query(void *h, const struct store_query *q, char *err, size_t errlen)
{
	sqlite3 *db = h;
	struct buf sql;
	buf_init(&sql, 0);
	/* A search in two steps: the newest matches by (id, started_ms) alone,
	 * then the JSON and the snippet of those only; CROSS JOIN keeps the
	 * order of the loops as written. */
	const char *head = q->q ? "WITH hits AS MATERIALIZED (SELECT c.id, c.started_ms"
	                          " FROM calls_text t CROSS JOIN calls c INDEXED BY calls_id_start"
	                          " WHERE calls_text MATCH ?1 AND c.id = t.rowid"
	                        : "SELECT c.id, c.started_ms, c.json, NULL FROM calls c WHERE 1";
	buf_append(&sql, head, strlen(head));
	struct {
		const char *cond, *text;
		int64_t num;
		bool on;
	} w[] = {
	    {" AND c.started_ms >= ?", NULL, q->since_ms, q->since_ms > 0},
	    {" AND c.started_ms < ?", NULL, q->until_ms, q->until_ms > 0},
	    {" AND c.provider = ?", q->provider, 0, q->provider != NULL},
	    {" AND c.model = ?", q->model, 0, q->model != NULL},
	    {" AND c.status = ?", q->status, 0, q->status != NULL},
	    {" AND c.comm = ?", q->comm, 0, q->comm != NULL},
	    {" AND c.container = ?", q->container, 0, q->container != NULL},
	    {" AND c.tenant = ?", q->tenant, 0, q->tenant != NULL},
	    {" AND c.endpoint = ?", q->route, 0, q->route != NULL},
	    {" AND coalesce(c.source, 'capture') = ?", q->source, 0, q->source != NULL},
	    {" AND c.pid = ?", NULL, q->pid, q->pid > 0},
	    {" AND (c.started_ms < ?", NULL, q->before_ms, q->before_ms > 0},
	    {" OR (c.started_ms = ?", NULL, q->before_ms, q->before_ms > 0},
	    {" AND c.id < ?))", NULL, (int64_t)q->before_id, q->before_ms > 0},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].on)
			buf_append(&sql, w[i].cond, strlen(w[i].cond));
	const char *tail =
	    q->q ? " ORDER BY c.started_ms DESC, c.id DESC LIMIT ?)"
	           " SELECT h.id, h.started_ms, c.json, snippet(calls_text, -1, '[', ']', '…', 16)"
	           " FROM hits h CROSS JOIN calls_text CROSS JOIN calls c"
	           " WHERE calls_text MATCH ?1 AND calls_text.rowid = h.id AND c.id = h.id"
	           " ORDER BY h.started_ms DESC, h.id DESC"
	         : " ORDER BY c.started_ms DESC, c.id DESC LIMIT ?";
	buf_append(&sql, tail, strlen(tail));
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		fail(db, err, errlen, "query");
		buf_free(&sql);
		return NULL;
	}
	buf_free(&sql);
	int k = 1;
	char *match = q->q ? fts_query(db, q->q) : NULL;
	if (q->q && !match) { /* no word: nothing matches */
		sqlite3_finalize(st);
		return cJSON_CreateArray();
	}
	if (match)
		sqlite3_bind_text(st, k++, match, -1, SQLITE_TRANSIENT);
	free(match);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (!w[i].on)
			continue;
		if (w[i].text)
			sqlite3_bind_text(st, k++, w[i].text, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, k++, w[i].num);
	}
	sqlite3_bind_int64(st, k, q->limit > 0 ? q->limit : 100);
	cJSON *rows = cJSON_CreateArray();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *call = cJSON_Parse((const char *)sqlite3_column_text(st, 2));
		if (!call)
			continue;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddNumberToObject(r, "started_ms", (double)sqlite3_column_int64(st, 1));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			cJSON_AddStringToObject(call, "snippet",
			                        (const char *)sqlite3_column_text(st, 3));
		cJSON_AddItemToObject(r, "call", call);
		cJSON_AddItemToArray(rows, r);
	}
	if (rc != SQLITE_DONE) {
		fail(db, err, errlen, "query");
		cJSON_Delete(rows);
		rows = NULL;
	}
	sqlite3_finalize(st);
	return rows;
}

/* One call with what is served with it alone: its timeline, and its prompt
 * as the store kept it (none when the text was not kept: --content off,
 * where the completion is null too). */
static cJSON *sq_get(void *h, uint64_t id)
{
	sqlite3_stmt *st;
	cJSON *j = NULL;
	if (sqlite3_prepare_v2(h, "SELECT json, prompt, timeline FROM calls WHERE id = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
	if (j) {
		const char *prompt = (const char *)sqlite3_column_text(st, 1);
		const char *tl = (const char *)sqlite3_column_text(st, 2);
		cJSON *t = tl ? cJSON_Parse(tl) : NULL; /* none before schema 4 */
		cJSON_AddItemToObject(j, "timeline", t ? t : cJSON_CreateNull());
		if (prompt && cJSON_IsString(cJSON_GetObjectItem(j, "text")))
			cJSON_AddStringToObject(j, "prompt", prompt);
		else
			cJSON_AddNullToObject(j, "prompt");
	}
	sqlite3_finalize(st);
	return j;
}

static uint64_t sq_max_id(void *h)
{
	int rc;
	int64_t v = one_int(h, "SELECT max(id) FROM calls", 0, &rc);
	return v > 0 ? (uint64_t)v : 0;
}

static uint64_t sq_bytes(void *h)
{
	int rc;
	int64_t pages = one_int(h, "PRAGMA page_count", 0, &rc);
	int64_t free_pages = one_int(h, "PRAGMA freelist_count", 0, &rc);
	int64_t size = one_int(h, "PRAGMA page_size", 0, &rc);
	return pages > free_pages ? (uint64_t)((pages - free_pages) * size) : 0;
}

/* Deletes the calls (and their text) that `where` selects. */
static long delete_where(sqlite3 *db, const char *where, int64_t arg)
{
	char sql[256];
	sqlite3_stmt *st;
	long n = 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return 0;
	snprintf(sql, sizeof(sql),
	         "DELETE FROM calls_text WHERE rowid IN (SELECT id FROM calls %s)", where);
	bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(st, 1, arg);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_finalize(st);
	}
	snprintf(sql, sizeof(sql), "DELETE FROM calls WHERE id IN (SELECT id FROM calls %s)",
	         where);
	if (ok && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, arg);
		ok = sqlite3_step(st) == SQLITE_DONE;
		n = ok ? sqlite3_changes(db) : 0;
		sqlite3_finalize(st);
	}
	sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return n;
}

static long sq_prune(void *h, int64_t cutoff_ms, uint64_t max_bytes)
{
	sqlite3 *db = h;
	long n = 0;
	if (cutoff_ms > 0)
		n += delete_where(db, "WHERE started_ms < ?", cutoff_ms);
	while (max_bytes && sq_bytes(db) > max_bytes) {
		int rc;
		int64_t count = one_int(db, "SELECT count(*) FROM calls", 0, &rc);
		if (count == 0)
			break;
		/* the oldest tenth at a time (at least 16 calls) */
		long got = delete_where(db, "ORDER BY started_ms, id LIMIT ?",
		                        count / 10 > 16 ? count / 10 : 16);
		if (got <= 0)
			break;
		n += got;
	}
	return n;
}

static long sq_prune_windows(void *h, int64_t step_ms, int64_t cutoff_ms)
{
	sqlite3_stmt *st;
	long n = 0;
	if (sqlite3_prepare_v2(h, "DELETE FROM windows WHERE step_ms = ? AND start_ms < ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, step_ms);
	sqlite3_bind_int64(st, 2, cutoff_ms);
	if (sqlite3_step(st) == SQLITE_DONE)
		n = sqlite3_changes(h);
	sqlite3_finalize(st);
	return n;
}

static int sq_windows(void *h, const struct window_query *q, window_row_fn fn, void *ctx, char *err,
                      size_t errlen)
{
	sqlite3 *db = h;
	struct buf sql;
	buf_init(&sql, 0);
	buf_printf(&sql, "SELECT start_ms");
	for (int f = 0; f < WF_N; f++)
		buf_printf(&sql, ", %s", window_field_names[f]);
	buf_printf(&sql, ", ");
	window_columns(&sql, "");
	buf_printf(&sql, " FROM windows WHERE step_ms = ? AND start_ms >= ? AND start_ms < ?");
	for (int f = 0; f < WF_N; f++)
		if (window_key_field(&q->filter, f)[0])
			buf_printf(&sql, " AND %s = ?", window_field_names[f]);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
	buf_free(&sql);
	if (rc != SQLITE_OK)
		return fail(db, err, errlen, "windows");
	int k = 1;
	sqlite3_bind_int64(st, k++, q->step_ms);
	sqlite3_bind_int64(st, k++, q->from_ms);
	sqlite3_bind_int64(st, k++, q->to_ms);
	for (int f = 0; f < WF_N; f++)
		if (window_key_field(&q->filter, f)[0])
			sqlite3_bind_text(st, k++, window_key_field(&q->filter, f), -1,
			                  SQLITE_STATIC);
	struct window_key key;
	struct window_stats *w = xmalloc(sizeof(*w));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&key, 0, sizeof(key));
		for (int f = 0; f < WF_N; f++) {
			size_t cap;
			const char *v = (const char *)sqlite3_column_text(st, 1 + f);
			char *dst = window_key_field_mut(&key, f, &cap);
			snprintf(dst, cap, "%s", v ? v : "");
		}
		memset(w, 0, sizeof(*w));
		window_read(st, 1 + WF_N, w);
		fn(ctx, sqlite3_column_int64(st, 0), &key, w);
	}
	free(w);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(db, err, errlen, "windows");
}

const struct store_backend store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .put = sq_put,
    .query = sq_query,
    .get = sq_get,
    .max_id = sq_max_id,
    .prune = sq_prune,
    .bytes = sq_bytes,
    .prune_windows = sq_prune_windows,
    .windows = sq_windows,
};
