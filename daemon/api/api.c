#include "api/api.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "api/assets.h"
#include "api/history.h"
#include "api/limits.h"
#include "api/windows.h"
#include "call/ingest.h"
#include "core/buf.h"
#include "sinks/events.h"
#include "core/clock.h"
#include "sinks/live.h"
#include "core/log.h"
#include "core/macros.h"
#include "sinks/metrics.h"
#include "call/pipeline.h"
#include "core/stats.h"
#include "call/call_json.h"
#include "call/conn_json.h"
#include "sinks/prometheus.h"

struct api {
	struct MHD_Daemon *d;
	struct api_hooks hooks;
};

static atomic_bool stopping; /* ends live event streams on shutdown */

int api_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (*h == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || end == colon + 1)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

/* Queues r (headers set) and lets it go: libmicrohttpd holds it until sent. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                 char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return queue(conn, status, r);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		return MHD_NO;
	return send_text(conn, status, "application/json", s, strlen(s));
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	return send_json(conn, status, j);
}

/* An error that also ends the connection: its request body (if any) is
 * never read. */
static enum MHD_Result send_refusal(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Connection", "close");
	return queue(conn, status, r);
}

static const char *arg(struct MHD_Connection *conn, const char *k)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, k);
	return v && *v ? v : NULL;
}

static bool parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0)
		return false;
	*out = v;
	return true;
}

/* How long an API reader waits for the pipeline before it says so. */
#define API_LOCK_MS 2000

static enum MHD_Result send_stalled(struct MHD_Connection *conn)
{
	char why[160];
	snprintf(why, sizeof(why),
	         "the pipeline is busy or stuck (its loop last finished a pass %.1f s ago); "
	         "try again",
	         (double)pipeline_stall_ns() / 1e9);
	return send_error(conn, 503, why);
}

static enum MHD_Result h_streams(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	struct call_filter f = {
	    .state = arg(conn, "state"),
	    .provider = arg(conn, "provider"),
	    .model = arg(conn, "model"),
	    .comm = arg(conn, "comm"),
	};
	const char *pid = arg(conn, "pid"), *limit = arg(conn, "limit");
	if (f.state && strcmp(f.state, "active") && strcmp(f.state, "recent"))
		return send_error(conn, 400, "state must be 'active' or 'recent'");
	if (pid && !parse_long(pid, &f.pid))
		return send_error(conn, 400, "pid must be a non-negative integer");
	if (limit && (!parse_long(limit, &f.limit) || f.limit == 0))
		return send_error(conn, 400, "limit must be a positive integer");
	if (!pipeline_lock_timed(API_LOCK_MS))
		return send_stalled(conn);
	cJSON *j = calls_to_json(&f, clock_now());
	pipeline_unlock();
	return send_json(conn, 200, j);
}

static enum MHD_Result h_connections(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	const char *state = arg(conn, "state"), *limit = arg(conn, "limit");
	long n = 0;
	if (state && !conn_state_known(state))
		return send_error(conn, 400,
		                  "state must be 'unparsed', 'parsed', 'server' or 'pending'");
	if (limit && (!parse_long(limit, &n) || n == 0))
		return send_error(conn, 400, "limit must be a positive integer");
	if (!pipeline_lock_timed(API_LOCK_MS))
		return send_stalled(conn);
	cJSON *j = conns_to_json(state, n);
	pipeline_unlock();
	return send_json(conn, 200, j);
}

static enum MHD_Result h_stream(struct api *a, struct MHD_Connection *conn, const char *id)
{
	(void)a;
	long v;
	if (!parse_long(id, &v))
		return send_error(conn, 400, "stream id must be a number");
	if (!pipeline_lock_timed(API_LOCK_MS))
		return send_stalled(conn);
	const struct llm_call *c = call_find((uint64_t)v);
	cJSON *j = c ? call_detail_json(c, clock_now()) : NULL;
	pipeline_unlock();
	if (!j)
		return send_error(conn, 404,
		                  "no such stream (it may have aged out of the recent list)");
	return send_json(conn, 200, j);
}

/* A time filter of /api/v1/calls: false (and a 400 sent) when bad. */
static bool time_arg(struct MHD_Connection *conn, const char *k, int64_t *out)
{
	const char *v = arg(conn, k);
	if (!v)
		return true;
	long long t = history_parse_time(v);
	if (t < 0)
		return false;
	*out = t;
	return true;
}

static enum MHD_Result h_calls(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	struct store_query q = {
	    .provider = arg(conn, "provider"),
	    .model = arg(conn, "model"),
	    .status = arg(conn, "status"),
	    .comm = arg(conn, "comm"),
	    .container = arg(conn, "container"),
	    .q = arg(conn, "q"),
	    .tenant = arg(conn, "tenant"),
	    .route = arg(conn, "route"),
	    .source = arg(conn, "source"),
	    .limit = HISTORY_LIMIT_DEFAULT,
	};
	const char *pid = arg(conn, "pid"), *limit = arg(conn, "limit"), *cur = arg(conn, "cursor");
	if (!time_arg(conn, "since", &q.since_ms) || !time_arg(conn, "until", &q.until_ms))
		return send_error(conn, 400,
		                  "since and until are Unix ms, RFC 3339 UTC times "
		                  "(2026-12-05T10:00:00Z) or durations before now (90m, 24h, 7d)");
	if (pid && !parse_long(pid, &q.pid))
		return send_error(conn, 400, "pid must be a non-negative integer");
	if (limit && (!parse_long(limit, &q.limit) || q.limit == 0 || q.limit > HISTORY_LIMIT_MAX))
		return send_error(conn, 400, "limit must be 1 to " STR(HISTORY_LIMIT_MAX));
	if (cur && history_parse_cursor(cur, &q))
		return send_error(conn, 400, "cursor must be a next_cursor this API returned");
	if (q.source && strcmp(q.source, "capture") && strcmp(q.source, "ingest"))
		return send_error(conn, 400, "source must be capture or ingest");
	if (q.status && !call_status_known(q.status))
		return send_error(
		    conn, 400,
		    "status must be streaming, completed, error, truncated, aborted or "
		    "blocked");
	char err[256];
	bool stalled = false;
	cJSON *j = history_calls(&q, API_LOCK_MS, &stalled, err, sizeof(err));
	if (stalled)
		return send_stalled(conn);
	if (!j)
		return send_error(conn, 500, err);
	return send_json(conn, 200, j);
}

static enum MHD_Result h_call(struct api *a, struct MHD_Connection *conn, const char *id)
{
	(void)a;
	long v;
	if (!parse_long(id, &v))
		return send_error(conn, 400, "call id must be a number");
	bool stalled = false;
	cJSON *j = history_call((unsigned long long)v, API_LOCK_MS, &stalled);
	if (stalled)
		return send_stalled(conn);
	if (!j)
		return send_error(conn, 404, "no such call (in memory or stored)");
	return send_json(conn, 200, j);
}

static const char *conn_arg(void *conn, const char *k)
{
	return arg(conn, k);
}

static enum MHD_Result h_windows(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	char err[256];
	unsigned status;
	cJSON *j = windows_get(conn_arg, conn, &status, err, sizeof(err));
	return j ? send_json(conn, status, j) : send_error(conn, status, err);
}

/* POST /v1/llm/request and /v1/llm/response (call/ingest.h). */
static enum MHD_Result ingest_post(struct MHD_Connection *conn, enum ingest_kind kind,
                                   const struct buf *body)
{
	char err[256];
	if (body->cut) {
		ingest_note_rejected();
		return send_error(conn, 413, "the body is larger than 64 KiB");
	}
	struct ingest_half *h = ingest_parse(kind, body->data ? body->data : "", body->len,
	                                     clock_wall_now_ms(), err, sizeof(err));
	if (!h)
		return send_error(conn, 400, err);
	if (!pipeline_lock_timed(API_LOCK_MS)) {
		ingest_half_free(h);
		return send_stalled(conn);
	}
	uint64_t id = 0;
	int status = ingest_submit(h, &id, err, sizeof(err));
	pipeline_unlock();
	if (status >= 400)
		return send_error(conn, (unsigned)status, err);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "status", status == 200 ? "joined" : "waiting");
	if (status == 200) {
		char ids[32];
		snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
		cJSON_AddStringToObject(j, "call_id", ids);
	}
	cJSON_AddStringToObject(j, "message", err);
	return send_json(conn, (unsigned)status, j);
}

static enum MHD_Result h_ingest_request(struct api *a, struct MHD_Connection *conn,
                                        const struct buf *body)
{
	(void)a;
	return ingest_post(conn, INGEST_REQUEST, body);
}

static enum MHD_Result h_ingest_response(struct api *a, struct MHD_Connection *conn,
                                         const struct buf *body)
{
	(void)a;
	return ingest_post(conn, INGEST_RESPONSE, body);
}

/* One consistent copy of every self-metric (capture counters first: they
 * are read from BPF maps without the pipeline lock). */
static void stats_snapshot(struct api *a, struct stats_view *v)
{
	memset(v, 0, sizeof(*v));
	if (a->hooks.capture_stats) {
		a->hooks.capture_stats(a->hooks.ctx, &v->c);
		v->have_capture = true;
	}
	api_limits_stats(&v->api);
	store_stats(&v->store);
	ingest_stats(&v->ingest);
	v->stall_ms = pipeline_stall_ns() / 1000000;
	if (!pipeline_lock_timed(API_LOCK_MS))
		return; /* stuck: the capture and API figures still are served */
	v->have_pipeline = true;
	v->p = pstats;
	v->streams_active = call_active_count();
	pipeline_unlock();
}

static enum MHD_Result h_metrics(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	struct buf out;
	struct stats_view v;
	buf_init(&out, 0);
	stats_snapshot(a, &v);
	prometheus_sync(&v);
	metrics_render(&out);
	char *body = out.data ? out.data : xstrdup("");
	return send_text(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body, out.len);
}

static enum MHD_Result h_stats(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	struct stats_view v;
	stats_snapshot(a, &v);
	return send_json(conn, 200, stats_to_json(&v));
}

static enum MHD_Result h_probes(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	cJSON *j = a->hooks.probes ? a->hooks.probes(a->hooks.ctx) : NULL;
	if (!j)
		return send_error(conn, 503, "no probes: replaying a recording, or still starting");
	return send_json(conn, 200, j);
}

static enum MHD_Result h_blind(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	cJSON *j = a->hooks.blind ? a->hooks.blind(a->hooks.ctx) : NULL;
	if (!j)
		return send_error(
		    conn, 503, "no blind-spot tracking: replaying a recording, or still starting");
	return send_json(conn, 200, j);
}

/* ---- GET /api/v1/events: Server-Sent Events ---- */

#define EVENTS_KEEPALIVE_S 15

struct follow {
	struct events_follower f;
	char *pending;
	size_t off, len;
	char types[512]; /* ",a,b," or "" for all */
	int idle_s;
};

static bool wanted(const struct follow *fw, const char *ev)
{
	if (!fw->types[0])
		return true;
	const char *t = strstr(ev, "\nevent: ");
	if (!t)
		return true; /* comments and unexpected shapes pass */
	t += 8;
	size_t n = strcspn(t, "\n");
	char key[80];
	if (n + 3 > sizeof(key))
		return false;
	snprintf(key, sizeof(key), ",%.*s,", (int)n, t);
	return strstr(fw->types, key) != NULL;
}

static ssize_t events_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct follow *fw = cls;
	(void)pos;
	while (!fw->pending) {
		if (atomic_load(&stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		char *e = events_next(&fw->f, 1000);
		if (!e) {
			if (++fw->idle_s < EVENTS_KEEPALIVE_S)
				continue;
			e = xstrdup(": keep-alive\n\n");
		}
		fw->idle_s = 0;
		if (!wanted(fw, e)) {
			free(e);
			continue;
		}
		fw->pending = e;
		fw->len = strlen(e);
		fw->off = 0;
	}
	size_t n = fw->len - fw->off < max ? fw->len - fw->off : max;
	memcpy(buf, fw->pending + fw->off, n);
	fw->off += n;
	if (fw->off == fw->len) {
		free(fw->pending);
		fw->pending = NULL;
	}
	return (ssize_t)n;
}

static void events_done(void *cls)
{
	struct follow *fw = cls;
	api_limits_unfollow();
	events_unfollow(&fw->f);
	free(fw->pending);
	free(fw);
}

static enum MHD_Result h_events(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	if (!api_limits_follow()) {
		char why[96];
		snprintf(why, sizeof(why), "too many live event followers (%d): try again later",
		         API_MAX_FOLLOWERS);
		return send_error(conn, 503, why);
	}
	struct follow *fw = xcalloc(1, sizeof(*fw));
	const char *types = arg(conn, "types");
	if (types && *types) {
		if (strlen(types) > sizeof(fw->types) - 3) {
			free(fw);
			api_limits_unfollow();
			return send_error(conn, 400, "types: too long");
		}
		snprintf(fw->types, sizeof(fw->types), ",%s,", types);
		/* a misspelt type would follow nothing, silently */
		for (const char *p = types; *p;) {
			size_t n = strcspn(p, ",");
			if (n && !live_event_known(p, n)) {
				char why[160];
				snprintf(why, sizeof(why), "types: unknown event type '%.*s'",
				         (int)(n > 64 ? 64 : n), p);
				free(fw);
				api_limits_unfollow();
				return send_error(conn, 400, why);
			}
			p += n + (p[n] == ',');
		}
	}
	events_follow(&fw->f);
	/* a comment first: the client sees the headers at once */
	fw->pending = xstrdup(": llmobs live events\n\n");
	fw->len = strlen(fw->pending);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
	                                                           events_reader, fw, events_done);
	if (!r) {
		events_done(fw);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return queue(conn, 200, r);
}

/* 200 "ok" once ready, unless the capture loop has stopped making
 * progress: then 503 with how long, so a stuck daemon is not "healthy". */
static enum MHD_Result h_healthz(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)rest;
	char body[160];
	unsigned status = 200;
	uint64_t stall = pipeline_stall_ns();
	if (!a->hooks.ready(a->hooks.ctx)) {
		status = 503;
		snprintf(body, sizeof(body), "starting: probes not attached\n");
	} else if (stall > PIPELINE_STALL_NS) {
		status = 503;
		snprintf(body, sizeof(body),
		         "stalled: the capture loop last finished a pass %.1f s ago\n",
		         (double)stall / 1e9);
	} else {
		snprintf(body, sizeof(body), "ok\n");
	}
	return send_text(conn, status, "text/plain", xstrdup(body), strlen(body));
}

/* The dashboard's page and files (web/, built in). Captured text is shown
 * as text by the page; the policy forbids any script or style not among
 * these files, so a prompt that carries markup cannot run. */
#define DASHBOARD_CSP                                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "               \
	"frame-ancestors 'none'"

static enum MHD_Result send_asset(struct MHD_Connection *conn, const char *url)
{
	const struct web_asset *w = web_asset_find(url);
	if (!w)
		return send_error(conn, 404, "not found (the dashboard is at /)");
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(w->len, (void *)w->data, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", w->content_type);
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "Content-Security-Policy", DASHBOARD_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	return queue(conn, 200, r);
}

static enum MHD_Result h_index(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a, (void)rest;
	return send_asset(conn, "/");
}

static enum MHD_Result h_asset(struct api *a, struct MHD_Connection *conn, const char *rest)
{
	(void)a;
	char url[256];
	if (snprintf(url, sizeof(url), "/assets/%s", rest) >= (int)sizeof(url))
		return send_error(conn, 404, "not found (the dashboard is at /)");
	return send_asset(conn, url);
}

/* ---- routing ---- */

enum { M_GET = 1, M_HEAD = 2, M_POST = 4 };
#define M_READ (M_GET | M_HEAD)

struct api_route {
	const char *path;
	bool prefix;      /* path is a prefix; the handler gets the rest */
	unsigned methods; /* M_* */
	enum MHD_Result (*handler)(struct api *a, struct MHD_Connection *conn, const char *rest);
	/* M_POST: the body, read whole first (up to INGEST_BODY_MAX; cut counts the rest) */
	enum MHD_Result (*post)(struct api *a, struct MHD_Connection *conn, const struct buf *body);
};

/* The first row that matches answers. */
/* clang-format off */
static const struct api_route routes[] = {
    {"/",                 false, M_READ, h_index, NULL},    /* the dashboard */
    {"/index.html",       false, M_READ, h_index, NULL},
    {"/assets/",          true,  M_READ, h_asset, NULL},
    {"/healthz",          false, M_READ, h_healthz, NULL},
    {"/metrics",          false, M_READ, h_metrics, NULL},
    {"/api/v1/streams",   false, M_READ, h_streams, NULL},
    {"/api/v1/streams/",  false, M_READ, h_streams, NULL},
    {"/api/v1/streams/",  true,  M_READ, h_stream, NULL}, /* /api/v1/streams/{id} */
    {"/api/v1/calls",     false, M_READ, h_calls, NULL},
    {"/api/v1/calls/",    false, M_READ, h_calls, NULL},
    {"/api/v1/calls/",    true,  M_READ, h_call, NULL}, /* /api/v1/calls/{id} */
    {"/api/v1/stats",     false, M_READ, h_stats, NULL},
    {"/api/v1/connections", false, M_READ, h_connections, NULL},
    {"/api/v1/probes",    false, M_READ, h_probes, NULL},
    {"/api/v1/blind",     false, M_READ, h_blind, NULL},
    {"/api/v1/events",    false, M_READ, h_events, NULL},
    {"/api/v1/metrics",   false, M_READ, h_windows, NULL},
    {"/v1/llm/request",   false, M_POST, NULL, h_ingest_request},
    {"/v1/llm/response",  false, M_POST, NULL, h_ingest_response},
};
/* clang-format on */

static const struct api_route *find_route(const char *url)
{
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		const struct api_route *r = &routes[i];
		size_t n = strlen(r->path);
		if (r->prefix ? !strncmp(url, r->path, n) : !strcmp(url, r->path))
			return r;
	}
	return NULL;
}

static unsigned method_bit(const char *method)
{
	if (!strcmp(method, "GET"))
		return M_GET;
	if (!strcmp(method, "HEAD"))
		return M_HEAD;
	if (!strcmp(method, "POST"))
		return M_POST;
	return 0;
}

/* The methods an unknown path is refused with 405 rather than 404 for:
 * those no route takes. */
static unsigned methods_any_route(void)
{
	unsigned m = 0;
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		m |= routes[i].methods;
	return m;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	struct api *a = cls;
	(void)version;

	api_limits_headers_done(conn);
	const struct api_route *r = find_route(url);
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
	if (!(method_bit(method) & (r ? r->methods : methods_any_route())))
		return send_refusal(conn, 405,
		                    r && r->methods == M_POST ? "only POST is supported here"
		                                              : "only GET is supported here");
	if (method_bit(method) == M_POST) { /* the body first, bounded */
		if (!r)
			return send_refusal(conn, 404,
			                    "not found (POST: /v1/llm/request, /v1/llm/response)");
		struct buf *b = *req_cls;
		if (!b) {
			if (cl && strtoull(cl, NULL, 10) > INGEST_BODY_MAX) {
				ingest_note_rejected();
				return send_refusal(conn, 413, "the body is larger than 64 KiB");
			}
			b = *req_cls = xcalloc(1, sizeof(*b));
			buf_init(b, INGEST_BODY_MAX);
			return MHD_YES;
		}
		if (*upload_data_size) {
			buf_append(b, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		return r->post(a, conn, b);
	}
	/* Nothing else takes a body: refuse it before it is read, and close. */
	if ((cl && strcmp(cl, "0")) || te)
		return send_refusal(conn, 413, "requests take no body");
	if (!r)
		return send_error(
		    conn, 404,
		    "not found (see /api/v1/streams, /api/v1/probes, /metrics, /healthz)");
	return r->handler(a, conn, url + strlen(r->path));
}

/* A request ended: its POST body goes, then the connection's deadline. */
static void request_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                              enum MHD_RequestTerminationCode code)
{
	struct buf *b = *req_ctx;
	if (b) {
		buf_free(b);
		free(b);
		*req_ctx = NULL;
	}
	api_limits_completed(cls, c, req_ctx, code);
}

struct api *api_start(const char *listen, const struct api_hooks *hooks)
{
	char host[128];
	unsigned port;
	struct sockaddr_storage ss = {0};
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	if (api_parse_listen(listen, host, sizeof(host), &port) != 0) {
		log_error("--listen %s: expected ADDR:PORT", listen);
		return NULL;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		log_error("--listen %s: '%s' is not an IP address", listen, host);
		return NULL;
	}
	struct api *a = xcalloc(1, sizeof(*a));
	a->hooks = *hooks;
	if (api_limits_start()) {
		log_error("cannot start the API's connection reaper");
		free(a);
		return NULL;
	}
	a->d = MHD_start_daemon(
	    flags, (uint16_t)port, api_limits_accept, NULL, handle, a, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)API_MAX_CONNECTIONS, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256u << 10),
	    MHD_OPTION_NOTIFY_CONNECTION, api_limits_notify, NULL, MHD_OPTION_NOTIFY_COMPLETED,
	    request_completed, NULL, MHD_OPTION_END);
	if (!a->d) {
		api_limits_stop();
		log_error("cannot listen on %s (in use, or not a local address?)", listen);
		free(a);
		return NULL;
	}
	log_info("API listening on http://%s/ (/metrics, /api/v1/streams, /healthz)", listen);
	return a;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	atomic_store(&stopping, true);
	MHD_stop_daemon(a->d);
	api_limits_stop();
	free(a);
}
