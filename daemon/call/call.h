/* LLM calls ("streams" when the response is SSE): the record the API
 * serves, its timings and derived figures, and the registry of active and
 * recent calls. All functions here run under the pipeline lock. */
#ifndef LLMOBS_CALL_CALL_H
#define LLMOBS_CALL_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "call/backpressure.h"
#include "call/call_guard.h"
#include "llm/price.h"
#include "llm/prompt.h"
#include "llm/provider.h"

/* Bytes of a request or a plain response body kept for decoding; the rest
 * is counted as cut (buf.h). */
#define CALL_BODY_MAX (4u << 20)

enum call_status {
	CALL_STREAMING = 0, /* in flight (request sent, response not finished) */
	CALL_COMPLETED,
	CALL_ERROR,
	CALL_TRUNCATED,
	CALL_ABORTED,
	CALL_BLOCKED, /* a guardrail rule cut its connection (--enforce) */
};

const char *call_status_name(enum call_status s);
bool call_status_known(const char *name);
/* gen_ai.provider.name and the model (as requested, else as served) */
const char *call_provider(const struct llm_call *c);
const char *call_model(const struct llm_call *c);
/* "capture", or "ingest" for a call an application reported */
const char *call_source(const struct llm_call *c);
/* the reported tenant_id ("" for captured calls) */
const char *call_tenant(const struct llm_call *c);
/* capture clock of its first request byte (0: none yet) */
uint64_t call_start_ns(const struct llm_call *c);

struct sse_parser;

/* What an application reported of a call through the ingestion API
 * (call/ingest.h); NULL for captured calls. */
struct call_ingest {
	char request_id[128];
	char tenant[64];
	char user_id_hash[128];
	char *metadata; /* a JSON object's text, credentials removed (NULL: none) */
};

struct llm_call {
	uint64_t id;
	uint32_t pid, tid;
	int fd;          /* its socket in pid, when known (-1); for guardrail blocks */
	char comm[16];   /* the process's name (its thread-group leader's) */
	char thread[16]; /* the name of the thread that made the call */
	char endpoint[256];
	char host[256];
	char peer[64];         /* "ip:port" when connect() was seen */
	char cgroup[256];      /* "" when unknown (replay) */
	char container_id[65]; /* "" when not in a container */
	enum call_status status;
	bool finished;
	bool server_side; /* seen from the server (accepted plaintext socket) */
	bool is_sse;
	bool is_ndjson;
	bool is_ws;           /* the response came as WebSocket messages */
	const char *protocol; /* "http/1.1", "h2", "websocket" (static) */
	int http_status;      /* 0 until response headers */
	struct llm_decode dec;
	char error[256]; /* why it is error/truncated/aborted */

	/* CLOCK_MONOTONIC ns; 0 = not yet */
	uint64_t t_req_first;     /* first request byte written */
	uint64_t t_req_last;      /* last request byte written */
	uint64_t t_resp_headers;  /* response headers read */
	uint64_t t_first_content; /* first content delta read */
	uint64_t t_last_content;
	uint64_t t_last_chunk;
	uint64_t t_end; /* last response byte / end of the call */

	uint64_t chunks;        /* SSE events (or 1 for a JSON body) */
	uint64_t bytes;         /* response body bytes (de-chunked) */
	uint64_t req_bytes;     /* request body bytes */
	uint64_t dropped_bytes; /* bytes of this call lost in capture/parsing */

	struct call_cost cost;    /* set when it finishes */
	struct llm_prompt prompt; /* its request's messages, when call_keep_prompts */
	struct backpressure bp;
	struct call_guard guard;
	bool bp_alerted; /* a "backpressure" live event was raised */

	/* inter-chunk gaps, us: a log-linear histogram (loghist.h), so a
	 * call's memory does not grow with its length; the max is exact */
	uint32_t *gap_hist;
	uint32_t ngaps, max_gap_us;
	/* when each chunk was read, us after call_start_ns, for the timeline
	 * (call_timeline_json): the first CALL_TIMELINE_CHUNKS only */
	uint32_t *chunk_at_us;
	uint32_t nchunk_at, chunk_at_cap;

	/* pipeline-private */
	struct buf body; /* request body, then non-SSE response body (CALL_BODY_MAX) */
	struct sse_parser *sse;
	struct body_decoder *encoding; /* Content-Encoding of the response */
	bool unsupported_encoding;
	bool end_read;     /* the provider's last event was read: finish once parsed */
	bool decode_limit; /* its body inflated past the limit (body.h) */
	char content_encoding[32];
	/* Ownership: the registry owns every call, but a connection's exchange
	 * may still point at a finished one (its response arrives later, or
	 * the body goes on past the terminator). Such a call is never freed
	 * while attached; one trimmed meanwhile is freed on release. */
	bool attached; /* an exchange of a connection points at it */
	bool trimmed;  /* aged out of the recent list while attached */
	struct llm_call *next_recent;
	struct call_ingest *ingest; /* reported, not captured (owned) */
};

/* A call's timeline lists its first 512 chunks (2 KiB at most); the rest
 * are counted. */
#define CALL_TIMELINE_CHUNKS 512

/* The request's messages are kept as text (for the history store's search)
 * when set: the store is on and --content is not off. */
extern bool call_keep_prompts;

/* Registry */
void call_registry_init(unsigned keep_recent);
void call_registry_free(void);
/* New calls get ids from here on (ids stay unique across the stored runs). */
void call_registry_set_next_id(uint64_t id);
/* A new call, attached to the connection exchange that creates it. */
struct llm_call *call_new(uint32_t pid, uint32_t tid, const char *comm, const char *thread);
/* The connection no longer points at c (its exchange is gone). */
void call_release(struct llm_call *c);
/* Marks the call finished with a status (idempotent: first status wins),
 * records metrics, and moves it to the recent list. */
void call_finish(struct llm_call *c, enum call_status st, uint64_t ts, const char *why);
void call_on_chunk(struct llm_call *c, uint64_t ts, int dec_flags);
void call_add_dropped(struct llm_call *c, uint64_t n);

/* Derived figures (for JSON and metrics); negative = unknown. */
double call_ttft_ms(const struct llm_call *c);
double call_duration_ms(const struct llm_call *c, uint64_t now);
double call_tokens_per_second(const struct llm_call *c);
void call_gap_percentiles(const struct llm_call *c, double *p50, double *p95, double *max);

/* Iteration for the API: active first then recent, newest first. */
typedef bool (*call_visit_fn)(const struct llm_call *c, void *ctx); /* false stops */
void call_foreach(call_visit_fn fn, void *ctx);
const struct llm_call *call_find(uint64_t id);
unsigned call_active_count(void);

#endif
