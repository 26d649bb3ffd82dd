#include "api/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/call.h"
#include "call/call_json.h"
#include "call/pipeline.h"
#include "core/buf.h"
#include "core/clock.h"

struct entry {
	long long started_ms;
	unsigned long long id;
	cJSON *call;
};

struct live {
	const struct store_query *q;
	struct entry *v;
	size_t n, cap;
};

static long long started_ms(const struct llm_call *c)
{
	return clock_wall_ms(call_start_ns(c));
}

static bool differs(const char *want, const char *have)
{
	return want && strcmp(want, have);
}

static bool live_matches(const struct store_query *q, const struct llm_call *c, long long t)
{
	const char *model = call_model(c);
	if (q->q || (q->since_ms && t < q->since_ms) || (q->until_ms && t >= q->until_ms))
		return false;
	if (differs(q->tenant, call_tenant(c)) || differs(q->route, c->endpoint) ||
	    differs(q->source, call_source(c)))
		return false;
	if (differs(q->provider, call_provider(c)) || differs(q->model, model) ||
	    differs(q->status, call_status_name(c->status)) || differs(q->comm, c->comm) ||
	    differs(q->container, c->container_id))
		return false;
	if (q->pid && (long)c->pid != q->pid)
		return false;
	return !q->before_ms || t < q->before_ms ||
	       (t == q->before_ms && c->id < (unsigned long long)q->before_id);
}

static void push(struct live *l, struct entry e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = e;
}

static bool collect(const struct llm_call *c, void *ctx)
{
	struct live *l = ctx;
	long long t = started_ms(c);
	if (live_matches(l->q, c, t))
		push(l, (struct entry){t, c->id, call_to_json(c, clock_now())});
	return true;
}

static int newest_first(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->started_ms != y->started_ms)
		return x->started_ms < y->started_ms ? 1 : -1;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

cJSON *history_calls(const struct store_query *q, unsigned lock_ms, bool *stalled, char *err,
                     size_t errlen)
{
	struct store_query sq = *q;
	sq.limit = q->limit + 1; /* one more: is there a next page? */
	cJSON *stored = NULL;
	if (store_enabled() && !(stored = store_query(&sq, err, errlen)))
		return NULL;
	struct live l = {.q = q};
	*stalled = !pipeline_lock_timed(lock_ms);
	if (*stalled) {
		cJSON_Delete(stored);
		return NULL;
	}
	call_foreach(collect, &l);
	pipeline_unlock();
	size_t nlive = l.n;
	cJSON *r;
	cJSON_ArrayForEach(r, stored)
	{
		unsigned long long id =
		    (unsigned long long)cJSON_GetObjectItem(r, "id")->valuedouble;
		bool dup = false; /* a finished call is in memory and stored: the same record */
		for (size_t i = 0; i < nlive && !dup; i++)
			dup = l.v[i].id == id;
		if (!dup)
			push(&l, (struct entry){
			             (long long)cJSON_GetObjectItem(r, "started_ms")->valuedouble,
			             id, cJSON_DetachItemFromObject(r, "call")});
	}
	cJSON_Delete(stored);
	qsort(l.v, l.n, sizeof(*l.v), newest_first);
	cJSON *out = cJSON_CreateObject();
	cJSON *calls = cJSON_AddArrayToObject(out, "calls");
	size_t keep = l.n < (size_t)q->limit ? l.n : (size_t)q->limit;
	for (size_t i = 0; i < l.n; i++) {
		if (i < keep)
			cJSON_AddItemToArray(calls, l.v[i].call);
		else
			cJSON_Delete(l.v[i].call);
	}
	if (l.n > keep) {
		char cur[64];
		snprintf(cur, sizeof(cur), "%lld:%llu", l.v[keep - 1].started_ms, l.v[keep - 1].id);
		cJSON_AddStringToObject(out, "next_cursor", cur);
	} else {
		cJSON_AddNullToObject(out, "next_cursor");
	}
	cJSON_AddBoolToObject(out, "store", store_enabled());
	free(l.v);
	return out;
}

cJSON *history_call(unsigned long long id, unsigned lock_ms, bool *stalled)
{
	*stalled = !pipeline_lock_timed(lock_ms);
	if (*stalled)
		return NULL;
	const struct llm_call *c = call_find(id);
	cJSON *j = c ? call_detail_json(c, clock_now()) : NULL;
	pipeline_unlock();
	return j ? j : store_get(id);
}

long long history_parse_time(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end != s && !*end && v >= 0)
		return v; /* Unix ms */
	int64_t ago = store_parse_duration_ms(s);
	if (ago >= 0 && end != s && *end)
		return clock_wall_now_ms() - ago;
	const char *zone;
	long long ms = clock_parse_rfc3339(s, &zone);
	if (ms < 0 || (strcmp(zone, "Z") && strcmp(zone, "+00:00")))
		return -1; /* UTC only: the API serves UTC */
	return ms;
}

int history_parse_cursor(const char *s, struct store_query *q)
{
	long long t;
	unsigned long long id;
	char tail;
	if (sscanf(s, "%lld:%llu%c", &t, &id, &tail) != 2 || t <= 0)
		return -1;
	q->before_ms = t;
	q->before_id = id;
	return 0;
}
