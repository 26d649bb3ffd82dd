/* The capture-event pipeline: conn -> http -> sse -> provider -> stream.
 * Fed by the BPF ring buffer or by a recording; never depends on BPF. One
 * thread feeds it; API threads read call records under pipeline_lock(). */
#ifndef LLMOBS_CALL_PIPELINE_H
#define LLMOBS_CALL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llmobs/event.h"

enum ignore_reason {
	IGNORE_NOT_HTTP = 0, /* TLS payload that is not HTTP/1.x (e.g. HTTP/2) */
	IGNORE_SERVER_SIDE,  /* the process is the HTTP server on this connection */
	IGNORE_RESYNC,       /* skipped while looking for the next message after a gap/error */
	IGNORE_UNMATCHED,    /* response with no captured request */
	IGNORE_ENCODING,     /* body in a Content-Encoding we cannot decode */
	IGNORE_AFTER_END,    /* body bytes after the call ended (terminator, error) */
	IGNORE_DECODE_LIMIT, /* compressed body bytes past the decompression limit */
	IGNORE__MAX,
};

struct pipeline_stats {
	uint64_t events[8];         /* by llmobs_event type */
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
};

extern struct pipeline_stats pstats;

void pipeline_init(unsigned keep_recent);
void pipeline_free(void);
/* One capture record: header + ev->len payload bytes, size bytes in all. */
void pipeline_event(const struct llmobs_event *ev, size_t size);
/* Periodic housekeeping (flushes held writes); now = clock_now(). */
void pipeline_tick(void);
void pipeline_lock(void);
void pipeline_unlock(void);
/* For readers (API threads): false when the lock was not free within ms,
 * so a stuck stage cannot hang them too. */
bool pipeline_lock_timed(unsigned ms);

/* Liveness of the loop that feeds the pipeline: it beats after each pass;
 * the stall is the time since the last beat (0 before the first). */
void pipeline_heartbeat(void);
uint64_t pipeline_stall_ns(void);
#define PIPELINE_STALL_NS (5ull * 1000 * 1000 * 1000) /* /healthz says 503 past this */

#endif
