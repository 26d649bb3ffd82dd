/* Guardrails in the pipeline (see call_guard.h). */
#include "call/call_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "call/sink.h"
#include "guard/enforce.h"
#include "core/log.h"
#include "call/pipeline.h"
#include "call/call.h"

static struct guard_policy *current;
enum content_mode call_guard_content = CONTENT_REDACTED;
bool call_guard_enforce;

/* A match settles within guard.c's SETTLE bytes of its end and is scanned
 * in RESP_BATCH pieces; text older than this is final. */
#define UNSETTLED 1024

volatile sig_atomic_t call_guard_reload_requested;
#define GUARD_POLICY_FILE_MAX (4u << 20)

static char policy_path[4096]; /* "" = the default policy */

/* Reads and compiles a policy (NULL path: the default); no lock needed. */
static struct guard_policy *compile(const char *path, char *err, size_t errlen)
{
	struct guard_policy *p;
	if (!path) {
		p = guard_policy_default(err, errlen);
	} else {
		struct buf b;
		buf_init(&b, GUARD_POLICY_FILE_MAX);
		if (buf_read_file(&b, path) != 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			buf_free(&b);
			return NULL;
		}
		if (b.cut)
			snprintf(err, errlen, "larger than %u MiB", GUARD_POLICY_FILE_MAX >> 20);
		p = b.cut ? NULL : guard_policy_load(b.data ? b.data : "", b.len, err, errlen);
		buf_free(&b);
	}
	return p;
}

int call_guard_load(const char *path_arg, char *err, size_t errlen)
{
	char path[sizeof(policy_path)] = ""; /* path_arg may be policy_path itself */
	if (path_arg)
		snprintf(path, sizeof(path), "%s", path_arg);
	struct guard_policy *p = compile(path_arg ? path : NULL, err, errlen);
	if (!p)
		return -1;
	call_guard_set_policy(p);
	guard_policy_unref(p);
	snprintf(policy_path, sizeof(policy_path), "%s", path);
	log_info("guardrail policy: %s, %u rules", path[0] ? path : "default",
	         guard_policy_rules(p));
	return 0;
}

/* A reload compiles on its own thread (a large policy takes seconds) and
 * swaps the policy in under the pipeline lock: capture never waits. */
static atomic_bool reloading;

static void *reload_thread(void *arg)
{
	(void)arg;
	char err[512], path[sizeof(policy_path)];
	pipeline_lock();
	snprintf(path, sizeof(path), "%s", policy_path);
	pipeline_unlock();
	uint64_t t0 = clock_mono_ns();
	struct guard_policy *p = compile(path[0] ? path : NULL, err, sizeof(err));
	if (!p) {
		log_error("SIGHUP: policy %s not reloaded, the current one stays: %s",
		          path[0] ? path : "default", err);
	} else {
		unsigned rules = guard_policy_rules(p);
		pipeline_lock();
		call_guard_set_policy(p);
		guard_policy_unref(p);
		pipeline_unlock();
		/* Same words as the start-up line, so one grep finds both. */
		log_info("guardrail policy: %s, %u rules (reloaded on SIGHUP, compiled in %.0f ms)",
		         path[0] ? path : "default", rules, (double)(clock_mono_ns() - t0) / 1e6);
	}
	atomic_store(&reloading, false);
	return NULL;
}

void call_guard_reload_wait(void)
{
	while (atomic_load(&reloading)) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void call_guard_reload_if_requested(void)
{
	if (!call_guard_reload_requested || atomic_load(&reloading))
		return; /* one reload at a time; a later SIGHUP waits its turn */
	call_guard_reload_requested = 0;
	pipeline_lock();
	bool off = !current;
	pipeline_unlock();
	if (off) {
		log_warn("SIGHUP: guardrails are off (--policy off): nothing to reload");
		return;
	}
	atomic_store(&reloading, true);
	pthread_t t;
	if (pthread_create(&t, NULL, reload_thread, NULL)) {
		atomic_store(&reloading, false);
		log_error("SIGHUP: cannot start the reload: %s", strerror(errno));
		return;
	}
	pthread_detach(t);
}

void call_guard_set_policy(struct guard_policy *p)
{
	if (p)
		guard_policy_ref(p);
	guard_policy_unref(current);
	current = p;
}

struct hit_ctx {
	struct llm_call *call;
	struct buf *target; /* what a response hit's offsets point into */
};

static void on_hit(void *ctx, const struct guard_hit *h)
{
	struct llm_call *c = ((struct hit_ctx *)ctx)->call;
	struct call_guard *g = &c->guard;
	if (g->nhits == GUARD_MAX_HITS) {
		g->hits_dropped++;
	} else {
		if (!g->hits)
			g->hits = xcalloc(GUARD_MAX_HITS, sizeof(*g->hits));
		g->hits[g->nhits++] =
		    (struct call_guard_hit){h->rule, h->where, h->from, h->to - h->from};
	}
	/* redact: the response text (or tool arguments) is kept and served masked */
	struct buf *t = ((struct hit_ctx *)ctx)->target;
	if (call_guard_content == CONTENT_REDACTED && h->rule->action == GUARD_REDACT &&
	    h->where == GUARD_RESPONSE && t && h->to <= t->len)
		memset(t->data + h->from, '*', (size_t)(h->to - h->from));
	bool enforced = false;
	char err[256] = "";
	if (h->rule->action == GUARD_BLOCK && call_guard_enforce && !c->guard.blocked_by) {
		if (c->fd < 0) {
			snprintf(err, sizeof(err),
			         "the connection's socket is not known (memory BIO)");
		} else if (sock_destroy(c->pid, c->fd, err, sizeof(err)) == 0) {
			enforced = true;
			c->guard.blocked_by = h->rule;
			log_info("blocked call %llu of pid %u (rule %s): connection cut",
			         (unsigned long long)c->id, c->pid, h->rule->id);
		}
		if (!enforced)
			log_warn("rule %s: cannot cut call %llu of pid %u: %s", h->rule->id,
			         (unsigned long long)c->id, c->pid, err);
	}
	sink_guard_hit(c, h, enforced, err);
}

/* A call scans with the policy current at its first scan, to its end. */
static struct guard_policy *call_policy(struct call_guard *g)
{
	if (!g->policy && current) {
		g->policy = current;
		guard_policy_ref(current);
	}
	return g->policy;
}

static void scan(struct llm_call *c, struct guard_stream **s, enum guard_where w, const char *p,
                 size_t n)
{
	struct call_guard *g = &c->guard;
	/* after its end a call's scan is settled: a stream opened now (a
	 * request that ends after its call, as HTTP/2 may) would outlive it */
	if (g->closed || !call_policy(g))
		return;
	if (!*s && !(*s = guard_stream_new(g->policy, w)))
		return;
	struct hit_ctx hc = {c, w == GUARD_RESPONSE ? &c->dec.text : NULL};
	/* the clock costs as much as a small scan: time one scan in 16 */
	static unsigned sampled;
	if (sampled++ % 16) {
		guard_scan(*s, p, n, on_hit, &hc);
		return;
	}
	uint64_t t0 = clock_mono_ns();
	guard_scan(*s, p, n, on_hit, &hc);
	sink_guard_scan((double)(clock_mono_ns() - t0) / 1e9);
}

/* Every string value of the request JSON (messages, system prompt, tool
 * results...), one per line: decoded text, not JSON escapes. */
static void scan_strings(struct llm_call *c, const cJSON *j)
{
	for (const cJSON *e = j; e; e = e->next) {
		if (cJSON_IsString(e) && e->valuestring && e->valuestring[0]) {
			scan(c, &c->guard.req, GUARD_REQUEST, e->valuestring,
			     strlen(e->valuestring));
			scan(c, &c->guard.req, GUARD_REQUEST, "\n", 1);
		}
		if (e->child)
			scan_strings(c, e->child);
	}
}

void call_guard_request(struct llm_call *c, const char *body, size_t n)
{
	if (!current || !n)
		return;
	cJSON *j = cJSON_ParseWithLength(body, n);
	if (j)
		scan_strings(c, j);
	else
		scan(c, &c->guard.req, GUARD_REQUEST, body, n); /* not JSON: as is */
	cJSON_Delete(j);
}

/* Response text is scanned in batches of this many bytes (and at the end
 * of the call): one scan per 4-byte delta would cost more than the rest of
 * the pipeline, and a match settles only later anyway (guard.c). */
#define RESP_BATCH 256

static void scan_response(struct llm_call *c, size_t batch)
{
	struct call_guard *g = &c->guard;
	const struct buf *t = &c->dec.text;
	if (t->len < g->resp_scanned + batch || t->len == g->resp_scanned)
		return;
	scan(c, &g->resp, GUARD_RESPONSE, t->data + g->resp_scanned, t->len - g->resp_scanned);
	g->resp_scanned = t->len;
}

void call_guard_response(struct llm_call *c)
{
	/* with --enforce every delta is scanned at once: a block must not
	 * wait for a batch */
	if (current || c->guard.policy)
		scan_response(c, call_guard_enforce ? 0 : RESP_BATCH);
}

/* Tool-call arguments, complete at the end of the call: each its own
 * stream, hits masked in that argument text. */
static void scan_tool_args(struct llm_call *c)
{
	struct call_guard *g = &c->guard;
	for (uint32_t i = 0; i < c->dec.ntools && call_policy(g); i++) {
		struct buf *args = &c->dec.tools[i].args;
		struct guard_stream *s;
		if (!args->len || !(s = guard_stream_new(g->policy, GUARD_RESPONSE)))
			continue;
		struct hit_ctx hc = {c, args};
		guard_scan(s, args->data, args->len, on_hit, &hc);
		guard_stream_close(s, on_hit, &hc);
	}
}

/* Redact hits masked in the kept prompt text; they were reported when the
 * request was scanned, so only the masking happens here. */
static void on_mask(void *ctx, const struct guard_hit *h)
{
	struct buf *t = ctx;
	if (h->rule->action == GUARD_REDACT && h->to <= t->len)
		memset(t->data + h->from, '*', (size_t)(h->to - h->from));
}

static void mask_prompt(struct llm_call *c)
{
	struct buf *t = &c->prompt.text;
	struct guard_stream *s;
	if (call_guard_content != CONTENT_REDACTED || !t->len || !c->guard.policy ||
	    !(s = guard_stream_new(c->guard.policy, GUARD_REQUEST)))
		return;
	guard_scan(s, t->data, t->len, on_mask, t);
	guard_stream_close(s, on_mask, t);
}

void call_guard_end(struct llm_call *c)
{
	struct call_guard *g = &c->guard;
	if (g->ended)
		return;
	g->ended = true;
	scan_response(c, 0);
	struct hit_ctx req = {c, NULL}, resp = {c, &c->dec.text};
	guard_stream_close(g->req, on_hit, &req);
	guard_stream_close(g->resp, on_hit, &resp);
	g->req = g->resp = NULL;
	scan_tool_args(c);
	mask_prompt(c);
	g->closed = true;
}

void call_guard_free(struct llm_call *c)
{
	call_guard_end(c);
	free(c->guard.hits);
	guard_policy_unref(c->guard.policy);
	memset(&c->guard, 0, sizeof(c->guard));
}

size_t call_guard_servable(const struct llm_call *c)
{
	size_t len = c->dec.text.len;
	if (call_guard_content == CONTENT_OFF)
		return 0;
	if (call_guard_content == CONTENT_FULL || c->finished || (!c->guard.policy && !current))
		return len;
	size_t scanned = c->guard.resp_scanned;
	return scanned > UNSETTLED ? scanned - UNSETTLED : 0;
}

cJSON *call_guard_hits_json(const struct llm_call *c)
{
	cJSON *a = cJSON_CreateArray();
	for (unsigned i = 0; i < c->guard.nhits; i++) {
		const struct call_guard_hit *h = &c->guard.hits[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rule", h->rule->id);
		cJSON_AddStringToObject(o, "action", guard_action_name(h->rule->action));
		cJSON_AddStringToObject(o, "where", guard_where_name(h->where));
		cJSON_AddNumberToObject(o, "offset", (double)h->offset);
		cJSON_AddNumberToObject(o, "length", (double)h->length);
		cJSON_AddStringToObject(o, "severity", h->rule->severity);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}
