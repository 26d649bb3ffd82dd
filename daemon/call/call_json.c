#include "call/call_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"

#define DEFAULT_LIMIT 100

static void add_num_or_null(cJSON *o, const char *k, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, v);
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void add_int_or_null(cJSON *o, const char *k, int64_t v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, (double)v);
}

/* cost_usd, the price entry it came from, and why a finished call has none */
static void add_cost(cJSON *o, const struct llm_call *c)
{
	const struct call_cost *k = &c->cost;
	bool priced = c->finished && k->why == PRICE_OK;
	add_num_or_null(o, "cost_usd", priced ? k->usd : -1);
	if (c->finished && k->price) {
		cJSON *p = cJSON_AddObjectToObject(o, "price");
		cJSON_AddStringToObject(p, "id", k->price->id);
		add_str_or_null(p, "source", k->price->source[0] ? k->price->source : NULL);
		add_str_or_null(p, "as_of", k->price->as_of[0] ? k->price->as_of : NULL);
		cJSON_AddBoolToObject(p, "long_context", k->long_context);
		cJSON_AddBoolToObject(p, "user", k->price->user);
	} else {
		cJSON_AddNullToObject(o, "price");
	}
	add_str_or_null(o, "unpriced", c->finished && !priced ? price_unpriced_name(k->why) : NULL);
}

/* Where the call comes from: captured, or reported (call/ingest.h). */
static void add_ingest(cJSON *o, const struct llm_call *c)
{
	const struct call_ingest *in = c->ingest;
	cJSON_AddStringToObject(o, "source", call_source(c));
	add_str_or_null(o, "request_id", in ? in->request_id : NULL);
	add_str_or_null(o, "tenant_id", in ? in->tenant : NULL);
	add_str_or_null(o, "user_id_hash", in ? in->user_id_hash : NULL);
	cJSON *meta = in && in->metadata ? cJSON_Parse(in->metadata) : NULL;
	if (meta)
		cJSON_AddItemToObject(o, "metadata", meta);
	else
		cJSON_AddNullToObject(o, "metadata");
}

cJSON *call_to_json(const struct llm_call *c, uint64_t now)
{
	char tmp[64];
	cJSON *o = cJSON_CreateObject();
	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)c->id);
	cJSON_AddStringToObject(o, "id", tmp);
	cJSON_AddNumberToObject(o, "pid", c->pid);
	cJSON_AddNumberToObject(o, "tid", c->tid);
	cJSON_AddStringToObject(o, "comm", c->comm);
	cJSON_AddStringToObject(o, "thread", c->thread);
	cJSON_AddStringToObject(o, "provider", llm_provider(&c->dec));
	add_str_or_null(o, "model", call_model(c));
	add_str_or_null(o, "endpoint", c->endpoint);
	add_str_or_null(o, "host", c->host);
	add_str_or_null(o, "peer", c->peer);
	cJSON_AddItemToObject(o, "backpressure", bp_to_json(&c->bp));
	cJSON_AddItemToObject(o, "guardrail", call_guard_hits_json(c));
	add_str_or_null(o, "cgroup", c->cgroup);
	add_str_or_null(o, "container_id", c->container_id);
	cJSON_AddStringToObject(o, "side", c->server_side ? "server" : "client");
	add_str_or_null(o, "protocol", c->protocol);
	cJSON_AddStringToObject(o, "status", call_status_name(c->status));
	add_int_or_null(o, "http_status", c->http_status ? c->http_status : -1);
	add_str_or_null(o, "finish_reason", c->dec.finish_reason);
	uint64_t start = call_start_ns(c);
	if (start) {
		clock_format_rfc3339(start, tmp, sizeof(tmp));
		cJSON_AddStringToObject(o, "started_at", tmp);
		add_num_or_null(o, "age_ms", now > start ? (double)(now - start) / 1e6 : 0);
	} else {
		cJSON_AddNullToObject(o, "started_at");
		cJSON_AddNullToObject(o, "age_ms");
	}
	add_num_or_null(o, "ttft_ms", call_ttft_ms(c));
	add_num_or_null(o, "duration_ms", call_duration_ms(c, now));
	cJSON_AddNumberToObject(o, "chunks", (double)c->chunks);
	cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
	if (call_guard_content == CONTENT_OFF) {
		cJSON_AddNullToObject(o, "text");
	} else {
		size_t n = call_guard_servable(c);
		char *t = xmalloc(n + 1);
		if (n)
			memcpy(t, c->dec.text.data, n);
		t[n] = '\0';
		cJSON_AddStringToObject(o, "text", t);
		free(t);
	}
	cJSON *u = cJSON_AddObjectToObject(o, "usage");
	add_int_or_null(u, "input_tokens", c->dec.usage.input_tokens);
	add_int_or_null(u, "output_tokens", c->dec.usage.output_tokens);
	add_int_or_null(u, "cached_input_tokens", c->dec.usage.cached_input_tokens);
	add_int_or_null(u, "cache_creation_input_tokens", c->dec.usage.cache_creation_input_tokens);
	add_int_or_null(u, "cache_write_1h_input_tokens", c->dec.usage.cache_write_1h_tokens);
	add_int_or_null(u, "reasoning_tokens", c->dec.usage.reasoning_tokens);
	add_cost(o, c);
	const struct llm_server_timings *st = &c->dec.server_timings;
	if (st->total_ms < 0 && st->load_ms < 0 && st->prompt_ms < 0 && st->generation_ms < 0) {
		cJSON_AddNullToObject(o, "server_timings");
	} else {
		cJSON *t = cJSON_AddObjectToObject(o, "server_timings");
		add_num_or_null(t, "total_ms", st->total_ms);
		add_num_or_null(t, "load_ms", st->load_ms);
		add_num_or_null(t, "prompt_ms", st->prompt_ms);
		add_num_or_null(t, "generation_ms", st->generation_ms);
	}
	if (c->dec.audio_deltas) { /* Realtime audio: counted, never kept */
		cJSON *a = cJSON_AddObjectToObject(o, "audio");
		cJSON_AddNumberToObject(a, "deltas", c->dec.audio_deltas);
		cJSON_AddNumberToObject(a, "bytes", (double)c->dec.audio_bytes);
	} else {
		cJSON_AddNullToObject(o, "audio");
	}
	cJSON *tools = cJSON_AddArrayToObject(o, "tool_calls");
	for (uint32_t i = 0; i < c->dec.ntools; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", c->dec.tools[i].name);
		if (call_guard_content == CONTENT_OFF)
			cJSON_AddNullToObject(t, "arguments");
		else
			cJSON_AddStringToObject(
			    t, "arguments",
			    c->dec.tools[i].args.data ? c->dec.tools[i].args.data : "");
		cJSON_AddItemToArray(tools, t);
	}
	add_num_or_null(o, "tokens_per_second", call_tokens_per_second(c));
	double p50, p95, max;
	call_gap_percentiles(c, &p50, &p95, &max);
	cJSON *g = cJSON_AddObjectToObject(o, "inter_chunk_ms");
	add_num_or_null(g, "p50", p50);
	add_num_or_null(g, "p95", p95);
	add_num_or_null(g, "max", max);
	cJSON_AddNumberToObject(o, "dropped_bytes", (double)(c->dropped_bytes + c->dec.text.cut));
	add_str_or_null(o, "error", c->error[0] ? c->error : NULL);
	/* the oldest prompt text the store did not keep (LLM_PROMPT_KEEP); 0
	 * when none is kept: the shape does not depend on --store */
	cJSON_AddNumberToObject(o, "prompt_bytes_cut", (double)c->prompt.cut);
	add_ingest(o, c);
	return o;
}

/* ms from start to t, to the us; null when t is not known */
static void add_offset(cJSON *o, const char *k, uint64_t start, uint64_t t)
{
	if (t && t >= start)
		cJSON_AddNumberToObject(o, k, (double)((t - start) / 1000) / 1e3);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *call_timeline_json(const struct llm_call *c)
{
	uint64_t start = call_start_ns(c);
	if (!start)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	add_offset(o, "request_first_ms", start, start);
	add_offset(o, "request_last_ms", start, c->t_req_last);
	add_offset(o, "headers_ms", start, c->t_resp_headers);
	add_offset(o, "first_token_ms", start, c->t_first_content);
	add_offset(o, "last_token_ms", start, c->t_last_content);
	add_offset(o, "end_ms", start, c->finished ? c->t_end : 0);
	cJSON *a = cJSON_AddArrayToObject(o, "chunks_ms");
	for (uint32_t i = 0; i < c->nchunk_at; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->chunk_at_us[i] / 1e3));
	cJSON_AddNumberToObject(o, "chunks_not_listed", (double)(c->chunks - c->nchunk_at));
	return o;
}

cJSON *call_detail_json(const struct llm_call *c, uint64_t now)
{
	cJSON *o = call_to_json(c, now);
	cJSON_AddItemToObject(o, "timeline", call_timeline_json(c));
	if (call_guard_content != CONTENT_OFF && call_keep_prompts)
		cJSON_AddStringToObject(o, "prompt",
		                        c->prompt.text.data ? c->prompt.text.data : "");
	else
		cJSON_AddNullToObject(o, "prompt");
	return o;
}

struct collect {
	const struct call_filter *f;
	const struct llm_call **v;
	size_t n, cap;
};

static bool matches(const struct call_filter *f, const struct llm_call *c)
{
	if (f->state && !strcmp(f->state, "active") && c->finished)
		return false;
	if (f->state && !strcmp(f->state, "recent") && !c->finished)
		return false;
	if (f->provider && strcmp(f->provider, llm_provider(&c->dec)))
		return false;
	if (f->model && strcmp(f->model, c->dec.model) && strcmp(f->model, c->dec.response_model))
		return false;
	if (f->comm && strcmp(f->comm, c->comm))
		return false;
	return !f->pid || (long)c->pid == f->pid;
}

static bool collect_one(const struct llm_call *c, void *ctx)
{
	struct collect *col = ctx;
	if (!matches(col->f, c))
		return true;
	if (col->n == col->cap) {
		col->cap = col->cap ? col->cap * 2 : 64;
		col->v = xrealloc(col->v, col->cap * sizeof(*col->v));
	}
	col->v[col->n++] = c;
	return true;
}

static int newest_first(const void *a, const void *b)
{
	const struct llm_call *x = *(const struct llm_call *const *)a;
	const struct llm_call *y = *(const struct llm_call *const *)b;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

cJSON *calls_to_json(const struct call_filter *f, uint64_t now)
{
	struct collect col = {.f = f};
	call_foreach(collect_one, &col);
	if (col.n)
		qsort(col.v, col.n, sizeof(*col.v), newest_first);
	size_t limit = f->limit > 0 ? (size_t)f->limit : DEFAULT_LIMIT;
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "streams");
	for (size_t i = 0; i < col.n && i < limit; i++)
		cJSON_AddItemToArray(arr, call_to_json(col.v[i], now));
	free(col.v);
	return root;
}
