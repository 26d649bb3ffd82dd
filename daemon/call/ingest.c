#include "call/ingest.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "call/call.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/macros.h"
#include "core/stats.h"
#include "llm/price.h"

struct ingest_half {
	enum ingest_kind kind;
	char request_id[128];
	char tenant[64], route[256], model[128], provider[32], user_id_hash[128];
	char finish_reason[32], error[256];
	char *metadata;                  /* JSON text, credentials masked */
	int64_t ts_ms;                   /* its timestamp, or when it came (Unix ms) */
	bool ts_given;                   /* the report carried a timestamp */
	int64_t tokens;                  /* prompt (request) or completion (response) tokens; -1 */
	int64_t prompt_tokens_late;      /* a response's prompt_tokens, when it has them */
	double latency_ms, ttft_ms;      /* response; < 0 when absent */
	bool failed;                     /* response: error was set */
	uint64_t came_ns;                /* capture clock when it came (the TTL's start) */
	struct ingest_half *next, *prev; /* arrival order (expiry) */
	struct ingest_half *hnext;       /* hash chain */
};

#define NBUCKETS 4096

static struct ingest_half *buckets[2][NBUCKETS]; /* [kind] */
static struct ingest_half *oldest, *newest;
static int64_t ttl_ms = INGEST_TTL_DEFAULT_MS;
/* atomics: a bad body is counted by the API thread that parsed it */
static struct {
	_Atomic uint64_t requests, responses, rejected, joined, expired, pending;
} n;

/* ---- parsing ---- */

static bool bad(char *err, size_t errlen, const char *fmt, const char *key)
{
	snprintf(err, errlen, fmt, key);
	return false;
}

/* An optional string field into out (cut at its size: counted as bad when
 * longer, so an id is never silently shortened). */
static bool get_str(const cJSON *o, const char *key, char *out, size_t n, bool required, char *err,
                    size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return !required || bad(err, errlen, "%s is required", key);
	if (!cJSON_IsString(v))
		return bad(err, errlen, "%s must be a string", key);
	size_t len = strlen(v->valuestring);
	if (len >= n) {
		snprintf(err, errlen, "%s is longer than %zu bytes", key, n - 1);
		return false;
	}
	if (required && !len)
		return bad(err, errlen, "%s must not be empty", key);
	memcpy(out, v->valuestring, len + 1);
	return true;
}

static bool get_num(const cJSON *o, const char *key, double max, double *out, char *err,
                    size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > max)
		return bad(err, errlen, "%s must be a number from 0 up", key);
	*out = v->valuedouble;
	return true;
}

static bool get_tokens(const cJSON *o, const char *key, int64_t *out, char *err, size_t errlen)
{
	double v = -1;
	if (!get_num(o, key, 1e12, &v, err, errlen))
		return false;
	if (v >= 0 && v != floor(v))
		return bad(err, errlen, "%s must be a whole number", key);
	*out = v >= 0 ? (int64_t)v : -1;
	return true;
}

/* timestamp: RFC 3339, or a number of Unix seconds (a fraction allowed)
 * or, past year 5138 in seconds, Unix ms. */
static bool get_time(const cJSON *o, int64_t now_ms, int64_t *out, bool *given, char *err,
                     size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
	if (!v || cJSON_IsNull(v))
		return true;
	int64_t ms = -1;
	if (cJSON_IsString(v))
		ms = clock_parse_rfc3339(v->valuestring, NULL);
	else if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0 &&
	         v->valuedouble < 1e15)
		ms = v->valuedouble < 1e11 ? (int64_t)(v->valuedouble * 1000.0)
		                           : (int64_t)v->valuedouble;
	if (ms <= 0)
		return bad(err, errlen,
		           "%s must be an RFC 3339 time (2026-12-06T10:00:00Z) or Unix seconds "
		           "or milliseconds",
		           "timestamp");
	/* a day ahead at most (clock skew: more is a unit mistake); not before
	 * this boot, where the capture clock the calls are kept on starts */
	int64_t boot_ms = clock_wall_offset() / 1000000 + 1;
	if (ms > now_ms + 86400000 || ms < boot_ms) {
		char boot[32];
		clock_format_unix_ms(boot_ms, boot, sizeof(boot));
		snprintf(err, errlen,
		         "timestamp is not between this host's boot (%s) and a day from now", boot);
		return false;
	}
	*out = ms;
	*given = true;
	return true;
}

/* Credentials never kept: metadata keys that name one get their value
 * replaced, at any depth. */
static bool names_credential(const char *k)
{
	static const char *const exact[] = {
	    "authorization", "proxy-authorization", "cookie",        "set-cookie",
	    "api-key",       "x-api-key",           "x-goog-api-key"};
	static const char *const parts[] = {
	    "apikey",       "api_key",       "secret", "password",   "passwd",     "token_value",
	    "access_token", "refresh_token", "bearer", "credential", "private_key"};
	char low[128];
	size_t i = 0;
	for (; k[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)(k[i] == '_' && i ? '-' : tolower((unsigned char)k[i]));
	low[i] = '\0';
	for (size_t e = 0; e < ARRAY_LEN(exact); e++)
		if (!strcmp(low, exact[e]))
			return true;
	for (i = 0; k[i] && i + 1 < sizeof(low); i++) /* the parts: '_' as written */
		low[i] = (char)tolower((unsigned char)k[i]);
	low[i] = '\0';
	for (size_t p = 0; p < ARRAY_LEN(parts); p++)
		if (strstr(low, parts[p]))
			return true;
	return false;
}

static void mask_credentials(cJSON *o)
{
	for (cJSON *c = o->child; c; c = c->next) {
		if (c->string && names_credential(c->string)) {
			/* this very item (a key may repeat), freed; masked takes its
			 * place and its key */
			cJSON *masked = cJSON_CreateString("[removed]");
			masked->string = xstrdup(c->string);
			cJSON_ReplaceItemViaPointer(o, c, masked);
			c = masked;
		} else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			mask_credentials(c);
		}
	}
}

static bool get_metadata(const cJSON *o, char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsObject(v))
		return bad(err, errlen, "%s must be an object", "metadata");
	cJSON *copy = cJSON_Duplicate(v, true);
	mask_credentials(copy);
	char *text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (text && strlen(text) > INGEST_METADATA_MAX) {
		free(text);
		snprintf(err, errlen, "metadata is larger than %u bytes as JSON",
		         INGEST_METADATA_MAX);
		return false;
	}
	*out = text;
	return true;
}

/* error: a string, or an object with "message" (and "type"), or false/null. */
static bool get_error(const cJSON *o, struct ingest_half *h, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "error");
	if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return true;
	const char *msg = NULL, *type = NULL;
	if (cJSON_IsString(v)) {
		msg = v->valuestring;
	} else if (cJSON_IsTrue(v)) {
		msg = "";
	} else if (cJSON_IsObject(v)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "message");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
		msg = cJSON_IsString(m) ? m->valuestring : "";
		type = cJSON_IsString(t) ? t->valuestring : NULL;
	} else {
		return bad(err, errlen, "%s must be a string, an object or false", "error");
	}
	h->failed = true;
	snprintf(h->error, sizeof(h->error), "%s%s%s", type ? type : "", type && *msg ? ": " : "",
	         *msg || type ? msg : "reported as failed");
	return true;
}

struct ingest_half *ingest_parse(enum ingest_kind kind, const char *body, size_t len,
                                 int64_t now_wall_ms, char *err, size_t errlen)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	if (!o || !cJSON_IsObject(o)) {
		n.rejected++;
		snprintf(err, errlen, "the body is not a JSON object");
		cJSON_Delete(o);
		return NULL;
	}
	struct ingest_half *h = xcalloc(1, sizeof(*h));
	h->kind = kind;
	h->ts_ms = now_wall_ms;
	h->tokens = h->prompt_tokens_late = -1;
	h->latency_ms = h->ttft_ms = -1;
	bool ok =
	    get_str(o, "request_id", h->request_id, sizeof(h->request_id), true, err, errlen) &&
	    get_str(o, "model", h->model, sizeof(h->model), false, err, errlen) &&
	    get_str(o, "provider", h->provider, sizeof(h->provider), false, err, errlen) &&
	    get_time(o, now_wall_ms, &h->ts_ms, &h->ts_given, err, errlen);
	if (ok && kind == INGEST_REQUEST)
		ok = get_str(o, "tenant_id", h->tenant, sizeof(h->tenant), false, err, errlen) &&
		     get_str(o, "route", h->route, sizeof(h->route), false, err, errlen) &&
		     get_str(o, "user_id_hash", h->user_id_hash, sizeof(h->user_id_hash), false,
		             err, errlen) &&
		     get_tokens(o, "prompt_tokens", &h->tokens, err, errlen) &&
		     get_metadata(o, &h->metadata, err, errlen);
	if (ok && kind == INGEST_RESPONSE)
		ok = get_tokens(o, "completion_tokens", &h->tokens, err, errlen) &&
		     get_tokens(o, "prompt_tokens", &h->prompt_tokens_late, err, errlen) &&
		     get_num(o, "latency_ms", 864e5, &h->latency_ms, err, errlen) &&
		     get_num(o, "ttft_ms", 864e5, &h->ttft_ms, err, errlen) &&
		     get_str(o, "finish_reason", h->finish_reason, sizeof(h->finish_reason), false,
		             err, errlen) &&
		     get_error(o, h, err, errlen);
	cJSON_Delete(o);
	if (ok && h->ttft_ms >= 0 && h->latency_ms >= 0 && h->ttft_ms > h->latency_ms)
		ok = bad(err, errlen, "%s is longer than latency_ms", "ttft_ms");
	h->route[strcspn(h->route, "?")] = '\0'; /* a query string may carry a key */
	if (!ok) {
		n.rejected++;
		ingest_half_free(h);
		return NULL;
	}
	return h;
}

void ingest_half_free(struct ingest_half *h)
{
	if (!h)
		return;
	free(h->metadata);
	free(h);
}

/* ---- the join ---- */

static size_t bucket_of(const char *id)
{
	return fnv1a_str(FNV1A_INIT, id) % NBUCKETS;
}

static struct ingest_half **find(enum ingest_kind kind, const char *id)
{
	struct ingest_half **pp = &buckets[kind][bucket_of(id)];
	while (*pp && strcmp((*pp)->request_id, id))
		pp = &(*pp)->hnext;
	return pp;
}

static void unlink_half(struct ingest_half *h)
{
	struct ingest_half **pp = find(h->kind, h->request_id);
	if (*pp == h)
		*pp = h->hnext;
	if (h->prev)
		h->prev->next = h->next;
	else
		oldest = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		newest = h->prev;
	n.pending--;
}

/* Unix ms -> the capture clock (0 when before this boot: not representable) */
static uint64_t mono_of(int64_t wall_ms)
{
	int64_t ns = wall_ms * 1000000 - clock_wall_offset();
	return ns > 0 ? (uint64_t)ns : 1;
}

/* One call from a request and a response (either may be NULL: expired). */
static uint64_t make_call(const struct ingest_half *rq, const struct ingest_half *rs,
                          uint64_t now_ns, const char *when)
{
	const struct ingest_half *any = rq ? rq : rs;
	struct llm_call *c = call_new(0, 0, "", "");
	struct call_ingest *in = c->ingest = xcalloc(1, sizeof(*in));
	snprintf(in->request_id, sizeof(in->request_id), "%s", any->request_id);
	if (rq) {
		snprintf(in->tenant, sizeof(in->tenant), "%s", rq->tenant);
		snprintf(in->user_id_hash, sizeof(in->user_id_hash), "%s", rq->user_id_hash);
		in->metadata = rq->metadata ? xstrdup(rq->metadata) : NULL;
		snprintf(c->endpoint, sizeof(c->endpoint), "%s", rq->route);
	}
	const char *provider = rq && rq->provider[0] ? rq->provider : rs ? rs->provider : "";
	struct llm_decode *d = &c->dec;
	if (*provider)
		snprintf(d->provider_override, sizeof(d->provider_override), "%s", provider);
	snprintf(d->model, sizeof(d->model), "%s", rq ? rq->model : "");
	snprintf(d->response_model, sizeof(d->response_model), "%s", rs ? rs->model : "");
	if (!*provider &&
	    !prices_provider_of(call_model(c), d->provider_override, sizeof(d->provider_override)))
		snprintf(d->provider_override, sizeof(d->provider_override), "unknown");
	d->usage.input_tokens = rq && rq->tokens >= 0 ? rq->tokens
	                        : rs                  ? rs->prompt_tokens_late
	                                              : -1;
	d->usage.output_tokens = rs ? rs->tokens : -1;
	if (rs)
		snprintf(d->finish_reason, sizeof(d->finish_reason), "%s", rs->finish_reason);

	/* times: the request's timestamp (else when it came); the end from
	 * latency_ms, else the response's timestamp, else when it came */
	int64_t start_ms = rq ? rq->ts_ms : rs->ts_ms;
	uint64_t start = mono_of(start_ms), end = start;
	if (rs && rs->latency_ms >= 0)
		end = start + (uint64_t)(rs->latency_ms * 1e6);
	else if (rs && rq)
		end = mono_of(rs->ts_ms) > start ? mono_of(rs->ts_ms) : start;
	else if (rq)
		end = now_ns > start ? now_ns : start;
	c->t_req_first = c->t_req_last = start;
	if (rs && rs->ttft_ms >= 0) {
		c->t_first_content = start + (uint64_t)(rs->ttft_ms * 1e6);
		c->t_last_content = end;
	}
	c->t_end = end;
	enum call_status st = CALL_COMPLETED;
	char why[512] = "";
	if (!rs) {
		st = CALL_ABORTED;
		snprintf(why, sizeof(why), "ingest: no response for this request_id %s", when);
	} else if (!rq) {
		st = CALL_ERROR;
		snprintf(why, sizeof(why), "ingest: no request for this request_id %s%s%s", when,
		         rs->failed ? "; reported: " : "", rs->failed ? rs->error : "");
	} else if (rs->failed) {
		st = CALL_ERROR;
		snprintf(why, sizeof(why), "%s", rs->error);
	}
	if (st == CALL_ERROR)
		d->failed = true;
	uint64_t id = c->id;
	call_finish(c, st, end, why);
	call_release(c);
	return id;
}

int ingest_submit(struct ingest_half *h, uint64_t *call_id, char *msg, size_t msglen)
{
	ingest_expire(); /* a replay's API has no capture loop to do it */
	h->came_ns = clock_mono_ns();
	if (h->kind == INGEST_REQUEST)
		n.requests++;
	else
		n.responses++;
	enum ingest_kind other = h->kind == INGEST_REQUEST ? INGEST_RESPONSE : INGEST_REQUEST;
	struct ingest_half **pp = find(other, h->request_id);
	if (*pp) {
		struct ingest_half *partner = *pp;
		unlink_half(partner);
		const struct ingest_half *rq = h->kind == INGEST_REQUEST ? h : partner;
		const struct ingest_half *rs = h->kind == INGEST_REQUEST ? partner : h;
		*call_id = make_call(rq, rs, h->came_ns, "");
		n.joined++;
		ingest_half_free(partner);
		ingest_half_free(h);
		snprintf(msg, msglen, "joined");
		return 200;
	}
	if (*find(h->kind, h->request_id)) {
		n.rejected++;
		snprintf(msg, msglen, "a %s with this request_id is already waiting for its %s",
		         h->kind == INGEST_REQUEST ? "request" : "response",
		         h->kind == INGEST_REQUEST ? "response" : "request");
		ingest_half_free(h);
		return 409;
	}
	if (n.pending >= INGEST_PENDING_MAX) {
		n.rejected++;
		snprintf(msg, msglen, "%d reports are waiting for their partners: try again later",
		         INGEST_PENDING_MAX);
		ingest_half_free(h);
		return 429;
	}
	struct ingest_half **slot = find(h->kind, h->request_id);
	*slot = h;
	h->prev = newest;
	if (newest)
		newest->next = h;
	else
		oldest = h;
	newest = h;
	n.pending++;
	snprintf(msg, msglen, "waiting for the %s (up to %d s)",
	         h->kind == INGEST_REQUEST ? "response" : "request", (int)(ttl_ms / 1000));
	return 202;
}

/* The oldest waiting halves, those that came before `before`, become calls. */
static void expire(uint64_t before, const char *when)
{
	uint64_t now = clock_mono_ns();
	while (oldest && oldest->came_ns < before) {
		struct ingest_half *h = oldest;
		unlink_half(h);
		make_call(h->kind == INGEST_REQUEST ? h : NULL,
		          h->kind == INGEST_RESPONSE ? h : NULL, now, when);
		n.expired++;
		ingest_half_free(h);
	}
}

void ingest_expire(void)
{
	char when[48];
	uint64_t now = clock_mono_ns(), ttl = (uint64_t)ttl_ms * 1000000;
	if (!oldest || now - oldest->came_ns <= ttl)
		return;
	snprintf(when, sizeof(when), "within %lld s", (long long)(ttl_ms / 1000));
	expire(now - ttl, when); /* halves are stamped live, replay or not */
}

void ingest_set_ttl_ms(int64_t ms)
{
	ttl_ms = ms > 0 ? ms : INGEST_TTL_DEFAULT_MS;
}

void ingest_flush(void)
{
	expire(UINT64_MAX, "before the daemon stopped");
}

void ingest_note_rejected(void)
{
	n.rejected++;
}

void ingest_stats(struct ingest_counts *out)
{
	out->requests = n.requests;
	out->responses = n.responses;
	out->rejected = n.rejected;
	out->joined = n.joined;
	out->expired = n.expired;
	out->pending = n.pending;
}
