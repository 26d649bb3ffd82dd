/* The daemon's own counters (capture, pipeline, connections) described once:
 * one row per series gives its Prometheus family, labels and help, and its
 * key in GET /api/v1/stats, so /metrics, the stats JSON and the README's
 * metrics table (checked by a test) cannot drift apart. */
#ifndef LLMOBS_CORE_STATS_H
#define LLMOBS_CORE_STATS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pipeline counters: written by the stages (capture thread only), read
 * under the pipeline lock. A leaf, so every stage can count without
 * depending on the pipeline. */
enum ignore_reason {
	IGNORE_NOT_HTTP = 0, /* a payload that is neither HTTP/1.x, HTTP/2 nor WebSocket */
	IGNORE_SERVER_SIDE,  /* the process is the HTTP server on this connection */
	IGNORE_RESYNC,       /* skipped while looking for the next message after a gap/error */
	IGNORE_UNMATCHED,    /* response with no captured request */
	IGNORE_ENCODING,     /* body in a Content-Encoding we cannot decode */
	IGNORE_AFTER_END,    /* body bytes after the call ended (terminator, error) */
	IGNORE_DECODE_LIMIT, /* compressed body bytes past the decompression limit */
	IGNORE_HPACK_STATE,  /* HTTP/2 stream whose headers could not be decoded */
	IGNORE_OTHER_PROTO,  /* HTTP carrying a protocol not parsed (gRPC, an h2c upgrade) */
	IGNORE_WS_UNPARSED,  /* WebSocket messages that could not be decoded */
	IGNORE_WS_UNMATCHED, /* WebSocket server messages outside any response */
	IGNORE__MAX,
};

/* Exchanges (requests) seen but not parsed, by reason. */
enum unparsed_reason {
	UNPARSED_HPACK_STATE = 0, /* HTTP/2 request headers not decodable (joined mid-way) */
	UNPARSED_H2_STREAMS,      /* more concurrent HTTP/2 streams than tracked */
	UNPARSED_WS_MESSAGE,      /* a WebSocket message of the client's not decodable */
	UNPARSED__MAX,
};

/* TLS connections no probe saw, by why (capture/blind.c). */
enum unobserved_reason {
	UNOBS_NO_TLS_LIBRARY = 0, /* no TLS stack in the executable, none probed mapped */
	UNOBS_BORINGSSL,          /* BoringSSL built in, its SSL_read not located */
	UNOBS_RUSTLS,             /* rustls: no probes for it */
	UNOBS_GO,                 /* Go's crypto/tls: no probes for it */
	UNOBS_OPENSSL_NO_SYMBOLS, /* OpenSSL built in, SSL_read/SSL_write not located */
	UNOBS_PROBED_NO_CALL,     /* a probed library is mapped, but no call on this socket */
	UNOBS_OTHER_LIBRARY,      /* GnuTLS, NSS, wolfSSL or mbedTLS mapped: no probes for them */
	UNOBS_UNKNOWN_STACK,      /* the executable could not be read */
	UNOBS_BEFORE_PROBED,      /* connected before its TLS library was probed */
	UNOBS__MAX,
};

struct pipeline_stats {
	uint64_t events[16];        /* by llmobs_event type */
	uint64_t bad_events;        /* malformed records (size/type) */
	uint64_t data_bytes[2];     /* payload bytes per direction */
	uint64_t lost_bytes;        /* bytes the capture missed (gaps, faults, cuts) */
	uint64_t gaps;              /* sequence gaps detected */
	uint64_t duplicate_bytes;   /* bytes seen twice (overlapping records) */
	uint64_t write_retry_bytes; /* writes the app retried (discarded, not lost) */
	uint64_t ignored_bytes[IGNORE__MAX];
	uint64_t parse_errors_http;
	uint64_t parse_errors_json;
	uint64_t parse_errors_body;  /* corrupt compressed bodies */
	uint64_t decode_limit_calls; /* calls whose body inflated past the limit */
	uint64_t conns_active;
	uint64_t conns_total;
	uint64_t conns_muted; /* TLS connections no longer copied (server side, not HTTP/1) */
	uint64_t calls_total;
	uint64_t unparsed[UNPARSED__MAX]; /* exchanges not parsed, by reason */
	uint64_t parse_errors_h2;         /* HTTP/2 framing errors */
	uint64_t parse_errors_ws;         /* WebSocket framing errors */
	uint64_t ws_unparsed_messages;    /* WebSocket messages not decoded (both directions) */
	uint64_t conns_unparsed;          /* connections now in state unparsed (gauge) */
	uint64_t h2_headers_lost;         /* header blocks not decoded (HPACK state) */
};

extern struct pipeline_stats pstats; /* core/stats.c */

/* Connections the HTTP API closed or refused (api/limits.c). */
struct api_limit_stats {
	uint64_t header_timeouts; /* connections closed: headers too slow */
	uint64_t pending_evicted; /* the oldest half-open one, for a new one */
	uint64_t address_refused; /* a peer over its per-address cap */
	uint64_t followers_refused;
};

/* Capture-side counters read from BPF maps by the loader. */
struct capture_stats {
	uint64_t events, rb_drops, rb_drop_bytes, trunc_bytes, read_faults, hits;
	uint64_t muted_calls;      /* SSL calls on connections muted as useless */
	uint64_t ringbuf_bytes;    /* ring size */
	uint64_t ringbuf_used;     /* bytes waiting to be consumed, now */
	uint64_t ringbuf_used_max; /* the most seen before a drain */
	/* capture -> API delay of data records (bucketed: <= 25% high) */
	uint64_t delay_samples, delay_p50_us, delay_p99_us, delay_max_us;
	uint64_t probes_attached; /* uprobes + uretprobes */
	uint64_t probe_files[2];  /* probed files: libraries, executables */
	uint64_t attach_errors;
	uint64_t unobserved[UNOBS__MAX]; /* TLS connections no probe saw */
};

/* The history store's counters (sinks/store.c); zero when it is off. */
struct store_counts {
	uint64_t stored, dropped, failed, pruned, bytes, queued;
	uint64_t prompt_cut; /* bytes of prompt text not kept (the oldest of long prompts) */
};

/* The ingestion API's counters (call/ingest.c). */
struct ingest_counts {
	uint64_t requests, responses, rejected, joined, expired, pending;
};

/* Everything a row can read, copied at once (under the pipeline lock). */
struct stats_view {
	struct pipeline_stats p;
	struct capture_stats c;
	struct api_limit_stats api;
	struct store_counts store;
	struct ingest_counts ingest;
	bool have_capture;  /* false when replaying: no BPF side */
	bool have_pipeline; /* false when the pipeline lock was not free in time */
	uint64_t streams_active;
	uint64_t stall_ms; /* since the capture loop's last pass */
};

enum stat_kind { STAT_COUNTER, STAT_GAUGE };
enum stat_section { STAT_CAPTURE, STAT_PIPELINE, STAT_API, STAT_STORE, STAT_INGEST };

struct stat_row {
	const char *family;      /* Prometheus family name */
	enum stat_kind kind;     /* counters only grow */
	const char *label;       /* one label name, or NULL */
	const char *label_value; /* this row's value of it */
	enum stat_section section;
	const char *key; /* its key in /api/v1/stats[section] */
	size_t off;      /* a uint64_t in struct stats_view */
	const char *help;
	double scale; /* /metrics serves value * scale (0: 1), e.g. ms as seconds */
};

extern const struct stat_row stat_rows[];
extern const size_t stat_nrows;

static inline uint64_t stat_value(const struct stat_row *r, const struct stats_view *v)
{
	return *(const uint64_t *)((const char *)v + r->off);
}

/* {"capture": {...}, "pipeline": {...}, "api": {...}} from the table. */
cJSON *stats_to_json(const struct stats_view *v);

#endif
