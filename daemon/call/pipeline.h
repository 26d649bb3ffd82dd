/* The capture-event pipeline: conn -> http -> sse -> provider -> stream.
 * Fed by the BPF ring buffer or by a recording; never depends on BPF. One
 * thread feeds it; API threads read call records under pipeline_lock(). */
#ifndef LLMOBS_CALL_PIPELINE_H
#define LLMOBS_CALL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "llmobs/event.h"

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
