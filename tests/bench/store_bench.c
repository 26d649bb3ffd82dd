/* The history store's benchmark (tests/bench/run.sh, ONLY=store): the
 * SQLite backend (sinks/store_sqlite.c) driven the way the daemon's writer
 * thread drives it (sinks/store.c write_loop: batches of 512 rows, their
 * window samples merged into one window_batch, one put per batch), then
 * searched the way GET /api/v1/calls?q= searches it (backend->query, limit
 * 50).
 *
 * Calls are synthetic and deterministic (a seeded PRNG, no downloads): a
 * call JSON of ~1.5 KB shaped like call_json.c's, a prompt of ~1 KB and a
 * completion of ~400 B of text, 4 models, 3 comms, starts 5 ms apart. The
 * text's words come from a 20,000-word vocabulary of made-up pronounceable
 * words drawn Zipf (s = 1, as prose: the commonest word is ~10% of the
 * text), plus "names", 50,000 other made-up words drawn uniformly, each
 * text word a name with probability 1/75 (~2.7 names a call): the names
 * are the rare words (each in ~50 calls of a million), the vocabulary's
 * ranks around 2,000 the mid-frequency ones (each in ~1% of calls).
 *
 * Usage: store_bench [DIR]: the file is DIR/store.db, left there (without
 * DIR, in a temporary directory removed after). Environment: STORE_CALLS
 * (200000), SEARCH_CALLS (1000000), SEARCHES (200). Prints name=value lines:
 *   store_calls_per_sec   STORE_CALLS calls into a new file, per second of
 *                         the writer's work (window batch + put; making the
 *                         rows, the capture thread's work, is not counted)
 *   store_bytes_per_call  the file (and its WAL) after a checkpoint, per call
 *   store_fill_calls_per_sec  the same from STORE_CALLS to SEARCH_CALLS
 *   search_mix            the searches' words and how many calls have them
 *   search_p50_ms, search_p95_ms  SEARCHES one-word searches over
 *                         SEARCH_CALLS calls: 80% rare words (in 10..100
 *                         calls), 20% mid-frequency (in 0.7..1.4% of calls),
 *                         each checked to find min(50, calls with the word);
 *                         search_rare_p95_ms, search_mid_p95_ms apart
 *   store_file_mib        the file at SEARCH_CALLS */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "sinks/store.h"

#define BATCH      512 /* sinks/store.c BATCH_MAX */
#define VOCAB      20000
#define NAMES      50000
#define NAME_EVERY 75              /* a text word is a name with probability 1/NAME_EVERY */
#define T0_MS      1767225600000ll /* 2026-01-01 */

static const struct store_backend *be = &store_sqlite;

/* splitmix64: deterministic, seeded */
static uint64_t rng_state = 0x6c6c6d6f62656e63ull;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}
static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : def;
}

/* The words: VOCAB vocabulary words (rank order) then NAMES names, all
 * distinct, consonant-vowel syllables. */
static char *words[VOCAB + NAMES];
static size_t word_len[VOCAB + NAMES];
static double zipf_cdf[VOCAB];
/* calls each word is in, and the last call that counted it */
static uint32_t df[VOCAB + NAMES], df_last[VOCAB + NAMES];

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void make_words(void)
{
	static const char cons[] = "bdfghklmnprstvz", vow[] = "aeiou";
	size_t nslots = 1 << 18;
	int *slots = xcalloc(nslots, sizeof(*slots)); /* index + 1 */
	for (int i = 0; i < VOCAB + NAMES;) {
		/* the commonest words short, as in prose; names longer */
		int syl = i < 200     ? 1 + (int)rnd_below(2)
		          : i < VOCAB ? 2 + (int)rnd_below(2)
		                      : 3 + (int)rnd_below(2);
		char w[16];
		int n = 0;
		for (int s = 0; s < syl; s++) {
			w[n++] = cons[rnd_below(sizeof(cons) - 1)];
			w[n++] = vow[rnd_below(sizeof(vow) - 1)];
		}
		w[n] = '\0';
		size_t k = hash_str(w) & (nslots - 1);
		bool dup = false;
		for (; slots[k]; k = (k + 1) & (nslots - 1))
			if (!strcmp(words[slots[k] - 1], w)) {
				dup = true;
				break;
			}
		if (dup)
			continue;
		words[i] = xstrdup(w);
		word_len[i] = (size_t)n;
		slots[k] = i + 1;
		i++;
	}
	free(slots);
	double sum = 0;
	for (int r = 0; r < VOCAB; r++)
		zipf_cdf[r] = (sum += 1.0 / (r + 1));
	for (int r = 0; r < VOCAB; r++)
		zipf_cdf[r] /= sum;
}

static int pick_word(void)
{
	if (rnd_below(NAME_EVERY) == 0)
		return VOCAB + (int)rnd_below(NAMES);
	double u = rnd01();
	int lo = 0, hi = VOCAB - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* About `size` bytes of text into b; counts the words of call `call`. */
static void make_text(struct buf *b, size_t size, uint32_t call)
{
	buf_reset(b);
	while (b->len < size) {
		int w = pick_word();
		if (b->len)
			buf_append(b, " ", 1);
		buf_append(b, words[w], word_len[w]);
		if (df_last[w] != call + 1) {
			df_last[w] = call + 1;
			df[w]++;
		}
	}
}

static const struct {
	const char *provider, *model, *endpoint, *operation;
} models[] = {
    {"openai", "gpt-4o-mini", "/v1/chat/completions", "chat"},
    {"openai", "gpt-4.1", "/v1/chat/completions", "chat"},
    {"anthropic", "claude-sonnet-4-5", "/v1/messages", "messages"},
    {"anthropic", "claude-haiku-4-5", "/v1/messages", "messages"},
};
static const struct {
	const char *comm, *container;
	uint32_t pid;
} comms[] = {
    {"python3", "", 4242},
    {"node", "3f9a1c2e7b6d4058a1e2c3b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8", 5150},
    {"agent", "c0ffee00d15ea5e5b16b00b5deadbeef0123456789abcdef0123456789abcdef", 6061},
};

/* Call number i (id i + 1), as the store's sink makes it (sinks/store.c). */
static struct store_row *make_row(uint64_t i, struct buf *prompt, struct buf *completion,
                                  struct buf *json)
{
	struct store_row *r = xcalloc(1, sizeof(*r));
	int m = (int)rnd_below(4), c = (int)rnd_below(3);
	bool ok = rnd_below(50) != 0;
	int64_t ttft_us = 150000 + rnd_below(900000),
	        dur_us = ttft_us + 500000 + rnd_below(9000000);
	long in = 200 + rnd_below(4000), out = ok ? 80 + rnd_below(600) : 0;
	double cost = (double)in * 2.5e-6 + (double)out * 1e-5;
	r->id = i + 1;
	r->started_ms = T0_MS + (int64_t)i * 5;
	r->ended_ms = r->started_ms + dur_us / 1000;
	snprintf(r->provider, sizeof(r->provider), "%s", models[m].provider);
	snprintf(r->model, sizeof(r->model), "%s", models[m].model);
	snprintf(r->status, sizeof(r->status), "%s", ok ? "completed" : "error");
	snprintf(r->comm, sizeof(r->comm), "%s", comms[c].comm);
	snprintf(r->container, sizeof(r->container), "%s", comms[c].container);
	snprintf(r->source, sizeof(r->source), "capture");
	snprintf(r->endpoint, sizeof(r->endpoint), "%s", models[m].endpoint);
	r->pid = comms[c].pid;
	r->cost_usd = cost;
	make_text(prompt, 1000, (uint32_t)i);
	make_text(completion, ok ? 400 : 0, (uint32_t)i);
	r->prompt = xstrdup(prompt->data ? prompt->data : "");
	r->completion = xstrdup(completion->data && ok ? completion->data : "");
	time_t secs = (time_t)(r->started_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_reset(json);
	buf_printf(
	    json,
	    "{\"id\":\"%llu\",\"pid\":%u,\"tid\":%u,\"comm\":\"%s\",\"thread\":\"%s\","
	    "\"provider\":\"%s\",\"model\":\"%s\",\"endpoint\":\"%s\",\"host\":\"api.%s.com\","
	    "\"peer\":\"162.159.140.%u:443\",\"backpressure\":null,\"guardrail\":[],"
	    "\"cgroup\":\"/system.slice/%s.service\",\"container_id\":%s%s%s,\"side\":\"client\","
	    "\"protocol\":\"http/1.1\",\"status\":\"%s\",\"http_status\":%d,"
	    "\"finish_reason\":%s,\"started_at\":\"%s.%03dZ\",\"ttft_ms\":%.2f,"
	    "\"duration_ms\":%.2f,\"chunks\":%ld,\"bytes\":%ld,\"text\":\"%s\","
	    "\"usage\":{\"input_tokens\":%ld,\"output_tokens\":%ld,\"cached_input_tokens\":%ld,"
	    "\"cache_creation_input_tokens\":null,\"cache_write_1h_input_tokens\":null,"
	    "\"reasoning_tokens\":null},\"cost_usd\":%.6g,\"price\":{\"id\":\"%s/%s\","
	    "\"source\":\"https://example.com/pricing\",\"as_of\":\"2026-10-03\","
	    "\"long_context\":false,\"user\":false},\"unpriced\":null,\"server_timings\":null,"
	    "\"audio\":null,\"tool_calls\":[],\"tokens_per_second\":%.1f,"
	    "\"inter_chunk_ms\":{\"p50\":%.2f,\"p95\":%.2f,\"max\":%.2f},\"dropped_bytes\":0,"
	    "\"error\":%s,\"source\":\"capture\",\"request_id\":\"req_%016llx\","
	    "\"tenant_id\":null,\"user_id_hash\":null,\"metadata\":null}",
	    (unsigned long long)r->id, r->pid, r->pid + (uint32_t)c, r->comm, r->comm, r->provider,
	    r->model, r->endpoint, r->provider, (unsigned)rnd_below(256), r->comm, c ? "\"" : "",
	    c ? r->container : "null", c ? "\"" : "", r->status, ok ? 200 : 529,
	    ok ? "\"stop\"" : "null", when, (int)(r->started_ms % 1000), ttft_us / 1000.0,
	    dur_us / 1000.0, out + 2, 600 + out * 9, r->completion, in, out, in / 4, cost,
	    r->provider, r->model, dur_us > ttft_us ? out * 1e6 / (double)(dur_us - ttft_us) : 0.0,
	    8.5 + rnd_below(100) / 10.0, 30.0 + rnd_below(400) / 10.0, 80.0 + rnd_below(900) / 10.0,
	    ok ? "null" : "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}",
	    (unsigned long long)rnd());
	r->json = xstrdup(json->data);
	struct window_sample *s = &r->ws;
	snprintf(s->key.provider, sizeof(s->key.provider), "%s", models[m].provider);
	snprintf(s->key.model, sizeof(s->key.model), "%s", models[m].model);
	snprintf(s->key.operation, sizeof(s->key.operation), "%s", models[m].operation);
	snprintf(s->key.endpoint, sizeof(s->key.endpoint), "%s", models[m].endpoint);
	snprintf(s->key.comm, sizeof(s->key.comm), "%s", comms[c].comm);
	snprintf(s->key.container, sizeof(s->key.container), "%s", comms[c].container);
	s->started_ms = r->started_ms;
	s->outcome = ok ? WO_OK : WO_ERROR;
	s->ttft_us = ok ? ttft_us : -1;
	s->duration_us = dur_us;
	s->tpot_us = ok && out ? (dur_us - ttft_us) / out : -1;
	s->input = in;
	s->output = out;
	s->cached = in / 4;
	s->cache_write = -1;
	s->reasoning = -1;
	s->cost_usd = cost;
	return r;
}

/* Calls [from, to) in batches; returns the seconds of the writer's work. */
static double fill(void *h, uint64_t from, uint64_t to)
{
	struct buf prompt, completion, json;
	buf_init(&prompt, 0);
	buf_init(&completion, 0);
	buf_init(&json, 0);
	double busy = 0;
	for (uint64_t i = from; i < to;) {
		struct store_row *head = NULL, **tail = &head;
		for (int k = 0; k < BATCH && i < to; k++, i++) {
			*tail = make_row(i, &prompt, &completion, &json);
			tail = &(*tail)->next;
		}
		/* what write_loop does with a batch */
		double t = now_s();
		char err[256];
		struct window_batch wins = {0};
		for (struct store_row *r = head; r; r = r->next)
			window_batch_add(&wins, &r->ws);
		int rc = be->put(h, head, &wins, err, sizeof(err));
		window_batch_free(&wins);
		busy += now_s() - t;
		store_rows_free(head);
		if (rc) {
			fprintf(stderr, "store_bench: put: %s\n", err);
			exit(1);
		}
	}
	buf_free(&prompt);
	buf_free(&completion);
	buf_free(&json);
	return busy;
}

static const char *file_of(const char *dir, const char *suffix)
{
	static char p[3][4096];
	static int k;
	k = (k + 1) % 3;
	snprintf(p[k], sizeof(p[k]), "%s/store.db%s", dir, suffix);
	return p[k];
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

static void *open_or_die(const char *path, bool writer)
{
	char err[512] = "";
	void *h = be->open(path, writer, err, sizeof(err));
	if (!h) {
		fprintf(stderr, "store_bench: %s\n", err);
		exit(1);
	}
	return h;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* nearest rank */
static double pct(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t k = (size_t)ceil(p * (double)n);
	return v[k ? k - 1 : 0];
}

int main(int argc, char **argv)
{
	long calls = env_long("STORE_CALLS", 200000);
	long total = env_long("SEARCH_CALLS", 1000000);
	long searches = env_long("SEARCHES", 200);
	if (calls <= 0 || total < calls || searches <= 0) {
		fprintf(stderr, "store_bench: STORE_CALLS > 0, SEARCH_CALLS >= STORE_CALLS\n");
		return 2;
	}
	char tmpdir[] = "/tmp/llmobs-store-bench.XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpdir);
	if (!dir) {
		perror("store_bench: mkdtemp");
		return 1;
	}
	char db[4096];
	snprintf(db, sizeof(db), "%s", file_of(dir, ""));
	unlink(db);
	unlink(file_of(dir, "-wal"));
	unlink(file_of(dir, "-shm"));
	make_words();

	/* 1. throughput into a new file */
	void *h = open_or_die(db, true);
	double busy = fill(h, 0, (uint64_t)calls);
	be->close(h); /* the last connection: checkpoints and removes the WAL */
	printf("store_calls=%ld\n", calls);
	printf("store_calls_per_sec=%.0f\n", (double)calls / busy);
	/* 2. size: WAL checkpointed into the file */
	h = open_or_die(db, true);
	uint64_t bytes = file_size(db) + file_size(file_of(dir, "-wal"));
	printf("store_bytes_per_call=%.0f\n", (double)bytes / (double)calls);
	fflush(stdout);

	/* 3. filled up, then searched */
	if (total > calls) {
		busy = fill(h, (uint64_t)calls, (uint64_t)total);
		printf("store_fill_calls_per_sec=%.0f\n", (double)(total - calls) / busy);
	}
	static uint64_t rare[VOCAB + NAMES], mid[VOCAB + NAMES];
	size_t nrare = 0, nmid = 0;
	for (int w = 0; w < VOCAB + NAMES; w++) {
		if (df[w] >= 10 && df[w] <= 100)
			rare[nrare++] = (uint64_t)w;
		if (df[w] >= 0.007 * (double)total && df[w] <= 0.014 * (double)total)
			mid[nmid++] = (uint64_t)w;
	}
	if (!nrare || !nmid) {
		fprintf(stderr, "store_bench: no rare (%zu) or mid-frequency (%zu) words\n", nrare,
		        nmid);
		return 1;
	}
	void *rh = open_or_die(db, false); /* the daemon's reader, beside its writer */
	double *all = xcalloc((size_t)searches, sizeof(double));
	double *by[2] = {xcalloc((size_t)searches, sizeof(double)),
	                 xcalloc((size_t)searches, sizeof(double))};
	size_t nby[2] = {0, 0};
	double df_sum[2] = {0, 0};
	for (long i = 0; i < searches; i++) {
		int kind = i % 5 == 4; /* 0 rare, 1 mid */
		int w =
		    (int)(kind ? mid[rnd_below((uint32_t)nmid)] : rare[rnd_below((uint32_t)nrare)]);
		struct store_query q = {.q = words[w], .limit = 50};
		char err[256] = "";
		double t = now_s();
		cJSON *res = be->query(rh, &q, err, sizeof(err));
		double ms = (now_s() - t) * 1000;
		if (!res) {
			fprintf(stderr, "store_bench: query %s: %s\n", words[w], err);
			return 1;
		}
		cJSON *arr = cJSON_IsArray(res) ? res : cJSON_GetObjectItem(res, "calls");
		int got = cJSON_GetArraySize(arr);
		int want = df[w] < 50 ? (int)df[w] : 50;
		cJSON_Delete(res);
		if (got != want) {
			fprintf(stderr, "store_bench: query %s: %d calls, expected %d\n", words[w],
			        got, want);
			return 1;
		}
		all[i] = ms;
		by[kind][nby[kind]++] = ms;
		df_sum[kind] += df[w];
	}
	be->close(rh);
	be->close(h);
	printf("search_calls=%ld\n", total);
	printf("search_mix=%zu rare (in %.0f calls on average) + %zu mid-frequency (in %.0f)\n",
	       nby[0], df_sum[0] / (double)nby[0], nby[1], df_sum[1] / (double)nby[1]);
	printf("search_p50_ms=%.2f\n", pct(all, (size_t)searches, 0.50));
	printf("search_p95_ms=%.2f\n", pct(all, (size_t)searches, 0.95));
	printf("search_rare_p95_ms=%.2f\n", pct(by[0], nby[0], 0.95));
	printf("search_mid_p95_ms=%.2f\n", pct(by[1], nby[1], 0.95));
	printf("store_file_mib=%.0f\n", (double)file_size(db) / 1048576.0);
	free(all);
	free(by[0]);
	free(by[1]);
	if (argc <= 1) {
		unlink(db);
		unlink(file_of(dir, "-wal"));
		unlink(file_of(dir, "-shm"));
		rmdir(dir);
	}
	return 0;
}
