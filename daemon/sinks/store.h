/* The history store: every finished call, kept across restarts. A sink
 * (call/sink.h) serialises each finished call under the pipeline lock and
 * queues it; a writer thread of its own commits batches to the backend, so
 * the capture thread never waits on disk. A full queue drops the call,
 * counted. Queries read the backend directly (WAL: readers never wait for
 * the writer). */
#ifndef LLMOBS_SINKS_STORE_H
#define LLMOBS_SINKS_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call/sink.h"
#include "sinks/window.h"

#define STORE_DEFAULT_PATH "/var/lib/llmobs/llmobs.db"
#define STORE_QUEUE_MAX    4096 /* calls waiting for the writer */

/* One call as stored. */
struct store_row {
	uint64_t id;
	int64_t started_ms, ended_ms; /* wall clock, Unix ms */
	char provider[32], model[128], status[16], comm[16], container[65];
	char source[8], tenant[64], endpoint[256];
	uint32_t pid;
	double cost_usd; /* < 0: none */
	char *json;      /* the call as the API serves it */
	char *timeline;  /* its call_timeline_json, served with the call alone */
	char *prompt;    /* searchable text ("" when --content off) */
	char *completion;
	struct window_sample ws; /* what its windows count of it */
	struct store_row *next;  /* the queue */
};

struct store_query {
	int64_t since_ms, until_ms; /* 0: unbounded */
	const char *provider, *model, *status, *comm, *container, *q;
	const char *tenant, *route, *source;
	long pid;   /* 0: any */
	long limit; /* rows at most */
	int64_t before_ms;
	uint64_t before_id; /* keyset cursor: rows older than this (0: none) */
};

struct window_query {
	int64_t step_ms, from_ms, to_ms;
	struct window_key filter; /* "" fields match any */
};
typedef void (*window_row_fn)(void *ctx, int64_t start_ms, const struct window_key *k,
                              const struct window_stats *st);

/* A backend (sqlite today): a struct of function pointers. Each returns 0,
 * or -1 with the reason in err. */
struct store_backend {
	const char *name;
	void *(*open)(const char *path, bool writer, char *err, size_t errlen);
	void (*close)(void *h);
	/* one batch: the calls, and their windows merged into the stored ones */
	int (*put)(void *h, struct store_row *rows, const struct window_batch *wins, char *err,
	           size_t errlen);
	/* rows as {"calls": [...]} (each with "snippet" when q is set) */
	cJSON *(*query)(void *h, const struct store_query *q, char *err, size_t errlen);
	cJSON *(*get)(void *h, uint64_t id); /* one call, or NULL */
	uint64_t (*max_id)(void *h);
	/* deletes calls started before cutoff_ms, then the oldest until the file
	 * is at most max_bytes (0: no bound); returns the count deleted */
	long (*prune)(void *h, int64_t cutoff_ms, uint64_t max_bytes);
	uint64_t (*bytes)(void *h);
	/* deletes windows of step_ms that started before cutoff_ms */
	long (*prune_windows)(void *h, int64_t step_ms, int64_t cutoff_ms);
	/* each stored window of step_ms starting in [from_ms, to_ms) whose key
	 * has the non-empty fields of filter */
	int (*windows)(void *h, const struct window_query *q, window_row_fn fn, void *ctx,
	               char *err, size_t errlen);
};

extern const struct store_backend store_sqlite;

/* Minute windows are kept as long as calls; hour windows at least this long. */
#define STORE_HOUR_WINDOWS_MIN_MS (90ll * 86400000)

struct store_opts {
	const char *path;     /* NULL: the default; "off": no store */
	int64_t retention_ms; /* calls older than this are pruned (0: kept) */
	uint64_t max_bytes;   /* the file's bound (0: none) */
};

/* Frees a list of rows (their strings too). */
void store_rows_free(struct store_row *rows);

/* Opens (creating the directory 0700 and the schema) and starts the
 * writer. -1 with the reason in err: the daemon must not start then. */
int store_start(const struct store_opts *o, char *err, size_t errlen);
/* Commits what is queued and stops the writer. */
void store_stop(void);
bool store_enabled(void);
/* The highest call id stored (new ids continue above it). */
uint64_t store_max_id(void);

/* The sink that queues finished calls. */
extern const struct call_sink store_sink;

/* Queries, from the API threads. NULL with err when the store failed. */
cJSON *store_query(const struct store_query *q, char *err, size_t errlen);
cJSON *store_get(uint64_t id);
/* The stored windows q selects, each handed to fn; -1 with err when the
 * store is off or failed. */
int store_windows(const struct window_query *q, window_row_fn fn, void *ctx, char *err,
                  size_t errlen);

struct store_counts;
void store_stats(struct store_counts *out); /* core/stats.h */

/* "7d", "12h", "30m", "90s" or "0" (keep everything); -1 if bad. */
int64_t store_parse_duration_ms(const char *s);

#endif
