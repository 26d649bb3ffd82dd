/* The history store's queue, writer thread and sink (see store.h). */
#include "sinks/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "call/call.h"
#include "call/call_guard.h"
#include "call/call_json.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"

#define BATCH_MAX      512 /* calls per transaction */
#define BATCH_WAIT_MS  100 /* a lone call waits at most this long for company */
#define PRUNE_EVERY_MS 60000

static const struct store_backend *backend = &store_sqlite;
static void *writer_h, *reader_h;
static pthread_mutex_t reader_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static struct store_row *qhead, *qtail;
static size_t qlen;
static bool running, quit;
static pthread_t writer;
static struct store_opts opts;
static _Atomic uint64_t n_stored, n_dropped, n_pruned, n_errors, n_bytes, n_prompt_cut;

bool store_enabled(void)
{
	return running;
}

int64_t store_parse_duration_ms(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"", 1000}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit)) {
			if (v > INT64_MAX / units[i].ms)
				return -1;
			return v * units[i].ms;
		}
	return -1;
}

void store_rows_free(struct store_row *r)
{
	while (r) {
		struct store_row *next = r->next;
		free(r->json);
		free(r->timeline);
		free((void *)r->ws.read_lag_hist); /* both histograms: one block */
		free(r->prompt);
		free(r->completion);
		free(r);
		r = next;
	}
}

/* mkdir -p for the store's directory, 0700: it holds prompts. */
static int make_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	return -1;
}

static void prune(void)
{
	int64_t cutoff = 0, now = clock_wall_now_ms();
	if (opts.retention_ms > 0)
		cutoff = now - opts.retention_ms;
	long n = backend->prune(writer_h, cutoff, opts.max_bytes);
	if (cutoff) { /* windows are small: hours outlive the calls */
		int64_t hours = opts.retention_ms > STORE_HOUR_WINDOWS_MIN_MS
		                    ? opts.retention_ms
		                    : STORE_HOUR_WINDOWS_MIN_MS;
		backend->prune_windows(writer_h, WINDOW_MINUTE_MS, cutoff);
		backend->prune_windows(writer_h, WINDOW_HOUR_MS, now - hours);
	}
	if (n > 0) {
		atomic_fetch_add(&n_pruned, (uint64_t)n);
		log_info("store: pruned %ld calls (retention, size bound)", n);
	}
	atomic_store(&n_bytes, backend->bytes(writer_h));
}

static void *write_loop(void *arg)
{
	(void)arg;
	uint64_t last_prune = clock_mono_ns();
	pthread_mutex_lock(&qlock);
	for (;;) {
		while (!qhead && !quit) {
			struct timespec until = clock_deadline_ms(1000);
			pthread_cond_timedwait(&qcond, &qlock, &until);
			if (clock_mono_ns() - last_prune > PRUNE_EVERY_MS * 1000000ull)
				break;
		}
		if (qhead && qlen < BATCH_MAX && !quit) { /* let a batch gather */
			struct timespec until = clock_deadline_ms(BATCH_WAIT_MS);
			pthread_cond_timedwait(&qcond, &qlock, &until);
		}
		struct store_row *batch = qhead, **cut = &qhead;
		size_t n = 0;
		while (*cut && n < BATCH_MAX) {
			cut = &(*cut)->next;
			n++;
		}
		qhead = *cut;
		*cut = NULL;
		if (!qhead)
			qtail = NULL;
		qlen -= n;
		bool done = quit && !qhead;
		pthread_mutex_unlock(&qlock);
		if (batch) {
			char err[256];
			struct window_batch wins = {0};
			for (struct store_row *r = batch; r; r = r->next)
				window_batch_add(&wins, &r->ws);
			int rc = backend->put(writer_h, batch, &wins, err, sizeof(err));
			window_batch_free(&wins);
			if (rc) {
				atomic_fetch_add(&n_errors, n);
				log_error("store: %zu calls not written: %s", n, err);
			} else {
				atomic_fetch_add(&n_stored, n);
			}
			store_rows_free(batch);
		}
		if (clock_mono_ns() - last_prune > PRUNE_EVERY_MS * 1000000ull) {
			prune();
			last_prune = clock_mono_ns();
		}
		pthread_mutex_lock(&qlock);
		if (done && !qhead)
			break;
	}
	pthread_mutex_unlock(&qlock);
	return NULL;
}

int store_start(const struct store_opts *o, char *err, size_t errlen)
{
	opts = *o;
	if (!opts.path)
		opts.path = STORE_DEFAULT_PATH;
	if (!strcmp(opts.path, "off"))
		return 0;
	if (make_dir(opts.path, err, errlen))
		return -1;
	writer_h = backend->open(opts.path, true, err, errlen);
	if (!writer_h)
		return -1;
	reader_h = backend->open(opts.path, false, err, errlen);
	if (!reader_h) {
		backend->close(writer_h);
		writer_h = NULL;
		return -1;
	}
	prune();
	quit = false;
	if (pthread_create(&writer, NULL, write_loop, NULL)) {
		snprintf(err, errlen, "cannot start its writer thread");
		backend->close(reader_h);
		backend->close(writer_h);
		reader_h = writer_h = NULL;
		return -1;
	}
	running = true;
	log_info("store: %s (%.1f MiB of calls; retention %lld s, bound %llu MiB)", opts.path,
	         (double)atomic_load(&n_bytes) / 1048576.0, (long long)(opts.retention_ms / 1000),
	         (unsigned long long)(opts.max_bytes >> 20));
	return 0;
}

void store_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&qlock);
	quit = true;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
	pthread_join(writer, NULL);
	running = false;
	pthread_mutex_lock(&reader_lock);
	backend->close(reader_h);
	reader_h = NULL;
	pthread_mutex_unlock(&reader_lock);
	backend->close(writer_h);
	writer_h = NULL;
}

uint64_t store_max_id(void)
{
	if (!running)
		return 0;
	pthread_mutex_lock(&reader_lock);
	uint64_t id = backend->max_id(reader_h);
	pthread_mutex_unlock(&reader_lock);
	return id;
}

cJSON *store_query(const struct store_query *q, char *err, size_t errlen)
{
	if (!running) {
		snprintf(err, errlen, "the store is off");
		return NULL;
	}
	pthread_mutex_lock(&reader_lock);
	cJSON *j = backend->query(reader_h, q, err, errlen);
	pthread_mutex_unlock(&reader_lock);
	return j;
}

cJSON *store_get(uint64_t id)
{
	if (!running)
		return NULL;
	pthread_mutex_lock(&reader_lock);
	cJSON *j = backend->get(reader_h, id);
	pthread_mutex_unlock(&reader_lock);
	return j;
}

int store_windows(const struct window_query *q, window_row_fn fn, void *ctx, char *err,
                  size_t errlen)
{
	if (!running) {
		snprintf(err, errlen, "the store is off (--store off): windows are kept in it");
		return -1;
	}
	pthread_mutex_lock(&reader_lock);
	int rc = backend->windows(reader_h, q, fn, ctx, err, errlen);
	pthread_mutex_unlock(&reader_lock);
	return rc;
}

void store_stats(struct store_counts *out)
{
	out->stored = atomic_load(&n_stored);
	out->dropped = atomic_load(&n_dropped);
	out->pruned = atomic_load(&n_pruned);
	out->failed = atomic_load(&n_errors);
	out->bytes = atomic_load(&n_bytes);
	out->prompt_cut = atomic_load(&n_prompt_cut);
	pthread_mutex_lock(&qlock);
	out->queued = qlen;
	pthread_mutex_unlock(&qlock);
}

static enum window_outcome outcome_of(enum call_status st)
{
	switch (st) {
	case CALL_COMPLETED:
	case CALL_STREAMING:
		return WO_OK;
	case CALL_TRUNCATED:
		return WO_TRUNCATED;
	case CALL_ABORTED:
		return WO_ABORTED;
	case CALL_BLOCKED:
		return WO_BLOCKED;
	default:
		return WO_ERROR;
	}
}

static int64_t us_or_unknown(double ms)
{
	return ms >= 0 ? (int64_t)(ms * 1000.0 + 0.5) : -1;
}

/* What the call's windows count of it. */
static void sample_of(const struct llm_call *c, const struct store_row *r, struct window_sample *s)
{
	struct window_key *k = &s->key;
	snprintf(k->provider, sizeof(k->provider), "%s", r->provider);
	snprintf(k->model, sizeof(k->model), "%s", r->model);
	snprintf(k->operation, sizeof(k->operation), "%s", provider_operation(c->dec.provider));
	/* a path only (HTTP/1.1, HTTP/2 and ingested routes drop the query),
	 * cut to the key's size */
	snprintf(k->endpoint, sizeof(k->endpoint), "%.*s", (int)sizeof(k->endpoint) - 1,
	         r->endpoint);
	snprintf(k->comm, sizeof(k->comm), "%s", r->comm);
	snprintf(k->container, sizeof(k->container), "%s", r->container);
	snprintf(k->tenant, sizeof(k->tenant), "%s", r->tenant);
	s->started_ms = r->started_ms;
	s->outcome = outcome_of(c->status);
	s->ttft_us = us_or_unknown(call_ttft_ms(c));
	s->duration_us = us_or_unknown(call_duration_ms(c, c->t_end));
	double tps = call_tokens_per_second(c);
	s->tpot_us = tps > 0 ? (int64_t)(1e6 / tps + 0.5) : -1;
	const struct llm_usage *u = &c->dec.usage;
	s->input = u->input_tokens;
	s->output = u->output_tokens;
	s->cached = u->cached_input_tokens;
	s->cache_write = u->cache_creation_input_tokens;
	s->reasoning = u->reasoning_tokens;
	s->cost_usd = r->cost_usd;
	const struct backpressure *bp = &c->bp;
	if (bp->seen && bp->lag_hist && bp->unread_hist) { /* copies: the call goes first */
		uint32_t *h = xmalloc(2 * LOGHIST_BUCKETS * sizeof(uint32_t));
		memcpy(h, bp->lag_hist, LOGHIST_BUCKETS * sizeof(uint32_t));
		memcpy(h + LOGHIST_BUCKETS, bp->unread_hist, LOGHIST_BUCKETS * sizeof(uint32_t));
		s->read_lag_hist = h;
		s->unread_hist = h + LOGHIST_BUCKETS;
	}
	s->zero_window = bp->zero_window;
	s->rcvq_full = bp->rcvq_full;
	s->h2_stalls = bp->h2_window_stalls;
	for (unsigned i = 0; i < c->guard.nhits; i++)
		window_rules_add(&s->rules, c->guard.hits[i].rule->id, 1);
	s->rules.other += c->guard.hits_dropped;
}

/* Under the pipeline lock: serialise and queue, never wait. */
static void on_end(const struct llm_call *c)
{
	if (!running)
		return;
	pthread_mutex_lock(&qlock);
	bool full = qlen >= STORE_QUEUE_MAX;
	pthread_mutex_unlock(&qlock);
	if (full) {
		if (atomic_fetch_add(&n_dropped, 1) == 0)
			log_warn("store: the writer is behind (%d calls queued); calls are dropped "
			         "from the store (llmobs_store_dropped_calls_total)",
			         STORE_QUEUE_MAX);
		return;
	}
	struct store_row *r = xcalloc(1, sizeof(*r));
	r->id = c->id;
	r->started_ms = clock_wall_ms(call_start_ns(c));
	r->ended_ms = clock_wall_ms(c->t_end);
	cJSON *j = call_to_json(c, c->t_end);
	cJSON_DeleteItemFromObjectCaseSensitive(j, "age_ms"); /* stale once stored */
	r->json = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	j = call_timeline_json(c);
	r->timeline = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	snprintf(r->provider, sizeof(r->provider), "%s", call_provider(c));
	snprintf(r->model, sizeof(r->model), "%s", call_model(c));
	snprintf(r->status, sizeof(r->status), "%s", call_status_name(c->status));
	snprintf(r->comm, sizeof(r->comm), "%s", c->comm);
	snprintf(r->container, sizeof(r->container), "%s", c->container_id);
	r->pid = c->pid;
	r->cost_usd = c->cost.why == PRICE_OK ? c->cost.usd : -1;
	snprintf(r->source, sizeof(r->source), "%s", call_source(c));
	snprintf(r->tenant, sizeof(r->tenant), "%s", call_tenant(c));
	snprintf(r->endpoint, sizeof(r->endpoint), "%s", c->endpoint);
	sample_of(c, r, &r->ws);
	if (call_guard_content == CONTENT_OFF) {
		r->prompt = xstrdup("");
		r->completion = xstrdup("");
	} else {
		r->prompt = xstrdup(c->prompt.text.data ? c->prompt.text.data : "");
		atomic_fetch_add(&n_prompt_cut, c->prompt.cut);
		r->completion =
		    xstrndup(c->dec.text.data ? c->dec.text.data : "", call_guard_servable(c));
	}
	pthread_mutex_lock(&qlock);
	if (qtail)
		qtail->next = r;
	else
		qhead = r;
	qtail = r;
	qlen++;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
}

const struct call_sink store_sink = {
    .name = "store",
    .end = on_end,
};
