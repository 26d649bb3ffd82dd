/* Recordings of capture events (gzip): every ring-buffer record is written
 * before the pipeline sees it, so a replay reproduces the same streams.
 * Format: "LLMOBSR1" | u32 abi | u32 0 | i64 wall_offset_ns, then per
 * record: u32 size | size bytes (struct llmobs_event + payload). */
#ifndef LLMOBS_CAPTURE_RECORD_H
#define LLMOBS_CAPTURE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "llmobs/event.h"

struct recorder;

struct recorder *record_open(const char *path, int64_t wall_offset, char *err, size_t errlen);
/* Returns 0, or -1 on a write error (counted; recording stops). */
int record_write(struct recorder *r, const void *rec, size_t size);
uint64_t record_count(const struct recorder *r);
int record_close(struct recorder *r);

typedef void (*replay_fn)(const struct llmobs_event *ev, size_t size, void *ctx);
/* Feeds every record to fn. Returns records replayed, or -1 with err set.
 * A truncated tail is reported in err but the records before it count. */
long replay_file(const char *path, replay_fn fn, void *ctx, int64_t *wall_offset, char *err,
                 size_t errlen);

#endif
