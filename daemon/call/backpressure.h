/* How far the application falls behind the network on one LLM call, from
 * the socket state the BPF side samples at each SSL read (bytes waiting,
 * how long the oldest waited, receive-queue-full drops, zero windows) and
 * from SSL writes that blocked. */
#ifndef LLMOBS_CALL_BACKPRESSURE_H
#define LLMOBS_CALL_BACKPRESSURE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct llmobs_event;

struct backpressure {
	bool seen; /* at least one sampled read */
	/* per sampled read, as log-linear histograms (loghist.h): percentiles
	 * at most 25% high, a fixed 1 KiB per call however long it streams */
	uint32_t *unread_hist, *lag_hist;
	uint32_t n;
	uint32_t max_unread, max_lag_us;
	/* the socket's counters are cumulative: counted from the first sample */
	uint32_t rcvq_base, zwin_base, rcvq_full, zero_window;
	uint64_t write_blocked_us;
	uint32_t writes_blocked;
	/* HTTP/2 flow control: the sender had a zero window (as the client
	 * granted it), how often and for how long in all */
	uint32_t h2_window_stalls;
	uint64_t h2_window_stalled_ns;
};

/* Read lag that raises the call's one backpressure event (call/sink.h);
 * --backpressure-lag-ms sets it. */
#define BP_ALERT_LAG_MS 500 /* the default */
extern uint32_t bp_alert_lag_us;

/* A read record's socket sample (ev->bp_valid). */
void bp_add_read(struct backpressure *b, const struct llmobs_event *ev);
void bp_add_write_blocked(struct backpressure *b, uint32_t us);
void bp_add_window_stall(struct backpressure *b, uint64_t ns);
void bp_free(struct backpressure *b);
double bp_lag_p95_ms(const struct backpressure *b); /* -1 without samples */
/* The stream JSON "backpressure" object, or JSON null when never sampled. */
cJSON *bp_to_json(const struct backpressure *b);

#endif
