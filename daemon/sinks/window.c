#include "sinks/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/macros.h"

const char *const window_field_names[WF_N] = {
    "provider", "model", "operation", "endpoint", "comm", "container", "tenant",
};

const char *const window_count_names[WC_N] = {
    "requests",         "errors",       "errors_error",   "errors_truncated", "errors_aborted",
    "errors_blocked",   "tokens_input", "tokens_output",  "tokens_cached",    "tokens_cache_write",
    "tokens_reasoning", "with_usage",   "priced",         "unpriced",         "duration_sum_us",
    "duration_n",       "bp_calls",     "bp_zero_window", "bp_rcvq_full",     "bp_h2_stalls",
    "guard_matches",
};

const char *const window_hist_names[WH_N] = {"h_ttft", "h_duration", "h_tpot", "h_read_lag",
                                             "h_unread"};

void window_rules_add(struct window_rules *r, const char *id, int64_t n)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].id, id)) {
			r->v[i].n += n;
			return;
		}
	if (r->n == WINDOW_RULES || !*id || strlen(id) >= sizeof(r->v[0].id) || !strcmp(id, "*")) {
		r->other += n;
		return;
	}
	snprintf(r->v[r->n].id, sizeof(r->v[r->n].id), "%s", id);
	r->v[r->n++].n = n;
}

static void rules_merge(struct window_rules *into, const struct window_rules *from)
{
	for (unsigned i = 0; i < from->n; i++)
		window_rules_add(into, from->v[i].id, from->v[i].n);
	into->other += from->other;
}

void window_rules_format(const struct window_rules *r, struct buf *out)
{
	for (unsigned i = 0; i < r->n; i++)
		buf_printf(out, "%s%s:%lld", i ? " " : "", r->v[i].id, (long long)r->v[i].n);
	if (r->other)
		buf_printf(out, "%s*:%lld", r->n ? " " : "", (long long)r->other);
}

int window_rules_parse(const char *s, struct window_rules *r)
{
	while (*s) {
		const char *colon = strchr(s, ':');
		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(r->v[0].id))
			return -1;
		char id[sizeof(r->v[0].id)];
		snprintf(id, sizeof(id), "%.*s", (int)(colon - s), s);
		char *end;
		long long n = strtoll(colon + 1, &end, 10);
		/* a count no window reaches bounds the sums of a damaged file */
		if (end == colon + 1 || n < 0 || n > 1000000000000000ll || (*end && *end != ' '))
			return -1;
		if (!strcmp(id, "*"))
			r->other += n;
		else
			window_rules_add(r, id, n);
		s = *end ? end + 1 : end;
	}
	return 0;
}

char *window_key_field_mut(struct window_key *k, enum window_field f, size_t *cap)
{
	struct {
		char *p;
		size_t n;
	} v[WF_N] = {
	    {k->provider, sizeof(k->provider)},   {k->model, sizeof(k->model)},
	    {k->operation, sizeof(k->operation)}, {k->endpoint, sizeof(k->endpoint)},
	    {k->comm, sizeof(k->comm)},           {k->container, sizeof(k->container)},
	    {k->tenant, sizeof(k->tenant)},
	};
	if (cap)
		*cap = v[f].n;
	return v[f].p;
}

const char *window_key_field(const struct window_key *k, enum window_field f)
{
	return window_key_field_mut((struct window_key *)k, f, NULL);
}

int window_field_parse(const char *name)
{
	for (int f = 0; f < WF_N; f++)
		if (!strcmp(name, window_field_names[f]))
			return f;
	if (!strcmp(name, "route"))
		return WF_ENDPOINT;
	if (!strcmp(name, "tenant_id"))
		return WF_TENANT;
	return -1;
}

static void add_tokens(struct window_stats *w, enum window_count c, int64_t v)
{
	if (v > 0)
		w->n[c] += v;
}

void window_add(struct window_stats *w, const struct window_sample *s)
{
	static const enum window_count err_of[] = {
	    [WO_ERROR] = WC_ERR_ERROR,
	    [WO_TRUNCATED] = WC_ERR_TRUNCATED,
	    [WO_ABORTED] = WC_ERR_ABORTED,
	    [WO_BLOCKED] = WC_ERR_BLOCKED,
	};
	w->n[WC_REQUESTS]++;
	if (s->outcome != WO_OK) {
		w->n[WC_ERRORS]++;
		w->n[err_of[s->outcome]]++;
	}
	if (s->input >= 0 || s->output >= 0)
		w->n[WC_WITH_USAGE]++;
	add_tokens(w, WC_TOK_INPUT, s->input);
	add_tokens(w, WC_TOK_OUTPUT, s->output);
	add_tokens(w, WC_TOK_CACHED, s->cached);
	add_tokens(w, WC_TOK_CACHE_WRITE, s->cache_write);
	add_tokens(w, WC_TOK_REASONING, s->reasoning);
	if (s->cost_usd >= 0) {
		w->n[WC_PRICED]++;
		w->cost_usd += s->cost_usd;
	} else {
		w->n[WC_UNPRICED]++;
	}
	if (s->duration_us >= 0) {
		w->n[WC_DUR_SUM_US] += s->duration_us;
		w->n[WC_DUR_N]++;
		w->h[WH_DURATION][loghist_bucket((uint64_t)s->duration_us)]++;
	}
	if (s->ttft_us >= 0)
		w->h[WH_TTFT][loghist_bucket((uint64_t)s->ttft_us)]++;
	if (s->tpot_us >= 0)
		w->h[WH_TPOT][loghist_bucket((uint64_t)s->tpot_us)]++;
	if (s->read_lag_hist && s->unread_hist) {
		w->n[WC_BP_CALLS]++;
		for (int i = 0; i < LOGHIST_BUCKETS; i++) {
			w->h[WH_READ_LAG][i] += s->read_lag_hist[i];
			w->h[WH_UNREAD][i] += s->unread_hist[i];
		}
	}
	w->n[WC_BP_ZERO_WINDOW] += s->zero_window;
	w->n[WC_BP_RCVQ_FULL] += s->rcvq_full;
	w->n[WC_BP_H2_STALLS] += s->h2_stalls;
	for (unsigned i = 0; i < s->rules.n; i++)
		w->n[WC_GUARD_MATCHES] += s->rules.v[i].n;
	w->n[WC_GUARD_MATCHES] += s->rules.other;
	rules_merge(&w->rules, &s->rules);
}

void window_merge(struct window_stats *into, const struct window_stats *from)
{
	for (int i = 0; i < WC_N; i++)
		into->n[i] += from->n[i];
	into->cost_usd += from->cost_usd;
	for (int h = 0; h < WH_N; h++)
		for (int i = 0; i < LOGHIST_BUCKETS; i++)
			into->h[h][i] += from->h[h][i];
	rules_merge(&into->rules, &from->rules);
}

void window_hist_format(const uint32_t *h, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < LOGHIST_BUCKETS && len < cap; i++)
		if (h[i])
			len += (size_t)snprintf(out + len, cap - len, "%s%u:%u", len ? " " : "", i,
			                        h[i]);
}

int window_hist_parse(const char *s, uint32_t *h)
{
	while (*s) {
		char *end;
		unsigned long i = strtoul(s, &end, 10);
		if (end == s || *end != ':' || i >= LOGHIST_BUCKETS)
			return -1;
		s = end + 1;
		unsigned long c = strtoul(s, &end, 10);
		if (end == s || c > UINT32_MAX || (*end && *end != ' ') || *s == '-')
			return -1;
		h[i] += (uint32_t)c;
		s = *end ? end + 1 : end;
	}
	return 0;
}

/* The group's identity, hashed. */
static uint64_t group_hash(int64_t step, int64_t start, const struct window_key *k)
{
	uint64_t x = fnv1a(fnv1a(FNV1A_INIT, &step, sizeof(step)), &start, sizeof(start));
	for (int f = 0; f < WF_N; f++)
		x = fnv1a_str(x, window_key_field(k, f));
	return x;
}

static bool same_key(const struct window_key *a, const struct window_key *b)
{
	for (int f = 0; f < WF_N; f++)
		if (strcmp(window_key_field(a, f), window_key_field(b, f)))
			return false;
	return true;
}

static void batch_rehash(struct window_batch *b)
{
	free(b->slots);
	b->nslots = b->nslots ? b->nslots * 2 : 64;
	b->slots = xcalloc(b->nslots, sizeof(*b->slots));
	for (size_t i = 0; i < b->n; i++) {
		const struct window_group *g = &b->v[i];
		size_t s = group_hash(g->step_ms, g->start_ms, &g->key) & (b->nslots - 1);
		while (b->slots[s])
			s = (s + 1) & (b->nslots - 1);
		b->slots[s] = (uint32_t)i + 1;
	}
}

static struct window_group *batch_group(struct window_batch *b, int64_t step, int64_t start,
                                        const struct window_key *k)
{
	if (2 * (b->n + 1) > b->nslots)
		batch_rehash(b);
	size_t s = group_hash(step, start, k) & (b->nslots - 1);
	for (; b->slots[s]; s = (s + 1) & (b->nslots - 1)) {
		struct window_group *g = &b->v[b->slots[s] - 1];
		if (g->step_ms == step && g->start_ms == start && same_key(&g->key, k))
			return g;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	struct window_group *g = &b->v[b->n];
	memset(g, 0, sizeof(*g));
	g->step_ms = step;
	g->start_ms = start;
	g->key = *k;
	b->slots[s] = (uint32_t)++b->n;
	return g;
}

void window_batch_add(struct window_batch *b, const struct window_sample *s)
{
	static const int64_t steps[] = {WINDOW_MINUTE_MS, WINDOW_HOUR_MS};
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		struct window_group *g =
		    batch_group(b, steps[i], window_floor(s->started_ms, steps[i]), &s->key);
		window_add(&g->st, s);
	}
}

void window_batch_free(struct window_batch *b)
{
	free(b->v);
	free(b->slots);
	memset(b, 0, sizeof(*b));
}

void window_series_add(struct window_series *s, int64_t start_ms, const struct window_key *k,
                       const struct window_stats *st)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct window_group *g = &s->v[s->n++];
	memset(&g->key, 0, sizeof(g->key));
	for (int f = 0; f < WF_N; f++) {
		if (!(s->group_by & (1u << f)))
			continue;
		size_t cap;
		char *dst = window_key_field_mut(&g->key, f, &cap);
		snprintf(dst, cap, "%s", window_key_field(k, f));
	}
	g->step_ms = s->step_ms;
	g->start_ms = s->step_ms ? window_floor(start_ms, s->step_ms) : s->from_ms;
	g->st = *st;
}

static int by_start_key(const void *a, const void *b)
{
	const struct window_group *x = a, *y = b;
	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	for (int f = 0; f < WF_N; f++) {
		int c = strcmp(window_key_field(&x->key, f), window_key_field(&y->key, f));
		if (c)
			return c;
	}
	return 0;
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char iso[40], key[40];
	clock_format_unix_ms(ms, iso, sizeof(iso));
	cJSON_AddStringToObject(o, name, iso);
	snprintf(key, sizeof(key), "%s_ms", name);
	cJSON_AddNumberToObject(o, key, (double)ms);
}

static void add_ratio(cJSON *o, const char *k, double num, double den)
{
	if (den > 0)
		cJSON_AddNumberToObject(o, k, num / den);
	else
		cJSON_AddNullToObject(o, k);
}

/* The p-th percentile of h, divided by unit (1000: us to ms). */
static void add_pct(cJSON *o, const char *k, const uint32_t *h, unsigned p, double unit)
{
	uint64_t total = 0;
	for (int i = 0; i < LOGHIST_BUCKETS; i++)
		total += h[i];
	if (total) /* the middle of the bucket it falls in: off by 12.5% at most */
		cJSON_AddNumberToObject(o, k, loghist_percentile_mid(h, total, p) / unit);
	else
		cJSON_AddNullToObject(o, k);
}

void window_stats_json(const struct window_stats *w, cJSON *o)
{
	const int64_t *n = w->n;
	cJSON_AddNumberToObject(o, "requests", (double)n[WC_REQUESTS]);
	cJSON_AddNumberToObject(o, "errors", (double)n[WC_ERRORS]);
	cJSON *e = cJSON_AddObjectToObject(o, "errors_by_type");
	cJSON_AddNumberToObject(e, "error", (double)n[WC_ERR_ERROR]);
	cJSON_AddNumberToObject(e, "truncated", (double)n[WC_ERR_TRUNCATED]);
	cJSON_AddNumberToObject(e, "aborted", (double)n[WC_ERR_ABORTED]);
	cJSON_AddNumberToObject(e, "blocked", (double)n[WC_ERR_BLOCKED]);
	add_ratio(o, "error_ratio", (double)n[WC_ERRORS], (double)n[WC_REQUESTS]);
	add_ratio(o, "avg_latency_ms", (double)n[WC_DUR_SUM_US] / 1000.0, (double)n[WC_DUR_N]);
	static const struct {
		const char *name;
		enum window_hist h;
		unsigned p;
	} pcts[] = {
	    {"p50_latency_ms", WH_DURATION, 50}, {"p95_latency_ms", WH_DURATION, 95},
	    {"p99_latency_ms", WH_DURATION, 99}, {"p50_ttft_ms", WH_TTFT, 50},
	    {"p95_ttft_ms", WH_TTFT, 95},        {"p99_ttft_ms", WH_TTFT, 99},
	    {"p50_tpot_ms", WH_TPOT, 50},        {"p95_tpot_ms", WH_TPOT, 95},
	    {"p99_tpot_ms", WH_TPOT, 99},
	};
	for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
		add_pct(o, pcts[i].name, w->h[pcts[i].h], pcts[i].p, 1000.0);
	add_ratio(o, "avg_prompt_tokens", (double)n[WC_TOK_INPUT], (double)n[WC_WITH_USAGE]);
	add_ratio(o, "avg_completion_tokens", (double)n[WC_TOK_OUTPUT], (double)n[WC_WITH_USAGE]);
	cJSON *t = cJSON_AddObjectToObject(o, "tokens");
	cJSON_AddNumberToObject(t, "input", (double)n[WC_TOK_INPUT]);
	cJSON_AddNumberToObject(t, "output", (double)n[WC_TOK_OUTPUT]);
	cJSON_AddNumberToObject(t, "cached_input", (double)n[WC_TOK_CACHED]);
	cJSON_AddNumberToObject(t, "cache_write", (double)n[WC_TOK_CACHE_WRITE]);
	cJSON_AddNumberToObject(t, "reasoning", (double)n[WC_TOK_REASONING]);
	add_ratio(o, "cache_hit_ratio", (double)n[WC_TOK_CACHED], (double)n[WC_TOK_INPUT]);
	if (n[WC_PRICED])
		cJSON_AddNumberToObject(o, "estimated_cost_usd", w->cost_usd);
	else
		cJSON_AddNullToObject(o, "estimated_cost_usd");
	cJSON_AddNumberToObject(o, "priced_requests", (double)n[WC_PRICED]);
	cJSON_AddNumberToObject(o, "unpriced_requests", (double)n[WC_UNPRICED]);
	cJSON *b = cJSON_AddObjectToObject(o, "backpressure");
	cJSON_AddNumberToObject(b, "calls_sampled", (double)n[WC_BP_CALLS]);
	add_pct(b, "read_lag_ms_p50", w->h[WH_READ_LAG], 50, 1000.0);
	add_pct(b, "read_lag_ms_p95", w->h[WH_READ_LAG], 95, 1000.0);
	add_pct(b, "read_lag_ms_p99", w->h[WH_READ_LAG], 99, 1000.0);
	add_pct(b, "unread_bytes_p50", w->h[WH_UNREAD], 50, 1.0);
	add_pct(b, "unread_bytes_p95", w->h[WH_UNREAD], 95, 1.0);
	cJSON_AddNumberToObject(b, "zero_window_events", (double)n[WC_BP_ZERO_WINDOW]);
	cJSON_AddNumberToObject(b, "rcvq_full_events", (double)n[WC_BP_RCVQ_FULL]);
	cJSON_AddNumberToObject(b, "h2_window_stalls", (double)n[WC_BP_H2_STALLS]);
	cJSON_AddNumberToObject(o, "guardrail_matches", (double)n[WC_GUARD_MATCHES]);
	cJSON *g = cJSON_AddObjectToObject(o, "guardrail_matches_by_rule");
	for (unsigned i = 0; i < w->rules.n; i++)
		cJSON_AddNumberToObject(g, w->rules.v[i].id, (double)w->rules.v[i].n);
	if (w->rules.other)
		cJSON_AddNumberToObject(g, "*", (double)w->rules.other);
}

cJSON *window_series_json(struct window_series *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), by_start_key);
	size_t out = 0; /* merge runs of the same start and key */
	for (size_t i = 0; i < s->n; i++) {
		if (out && !by_start_key(&s->v[out - 1], &s->v[i]))
			window_merge(&s->v[out - 1].st, &s->v[i].st);
		else
			s->v[out++] = s->v[i];
	}
	s->n = out;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "from_ms", (double)s->from_ms);
	cJSON_AddNumberToObject(j, "to_ms", (double)s->to_ms);
	if (s->step_ms)
		cJSON_AddNumberToObject(j, "step_ms", (double)s->step_ms);
	else
		cJSON_AddNullToObject(j, "step_ms");
	cJSON *gb = cJSON_AddArrayToObject(j, "group_by");
	for (int f = 0; f < WF_N; f++)
		if (s->group_by & (1u << f))
			cJSON_AddItemToArray(gb, cJSON_CreateString(window_field_names[f]));
	cJSON *ws = cJSON_AddArrayToObject(j, "windows");
	for (size_t i = 0; i < s->n; i++) {
		const struct window_group *g = &s->v[i];
		cJSON *w = cJSON_CreateObject();
		int64_t end = s->step_ms ? g->start_ms + s->step_ms : s->to_ms;
		add_time(w, "window_start", g->start_ms);
		add_time(w, "window_end", end);
		for (int f = 0; f < WF_N; f++)
			if (s->group_by & (1u << f))
				cJSON_AddStringToObject(w, window_field_names[f],
				                        window_key_field(&g->key, f));
		window_stats_json(&g->st, w);
		cJSON_AddItemToArray(ws, w);
	}
	return j;
}

void window_series_free(struct window_series *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
