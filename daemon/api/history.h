/* GET /api/v1/calls: the calls in memory (in flight and recent) and the
 * stored ones in one list, newest first, with a keyset cursor. */
#ifndef LLMOBS_API_HISTORY_H
#define LLMOBS_API_HISTORY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "sinks/store.h"

#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX     1000

/* {"calls": [...], "next_cursor": "started_ms:id" | null, "store": bool}.
 * Takes the pipeline lock itself (up to lock_ms; NULL with *stalled set
 * when it is not free); NULL with err on a store error. q searches the
 * stored calls only (a call is stored once it finishes). */
cJSON *history_calls(const struct store_query *q, unsigned lock_ms, bool *stalled, char *err,
                     size_t errlen);
/* One call by id, in memory or stored; NULL when neither has it. */
cJSON *history_call(unsigned long long id, unsigned lock_ms, bool *stalled);

/* Times in query strings: Unix ms, RFC 3339 ("2026-12-05T10:00:00Z"), or a
 * duration before now ("90m", "24h", "7d"). -1 when bad. */
long long history_parse_time(const char *s);
/* "started_ms:id" -> the cursor fields of q; -1 when bad. */
int history_parse_cursor(const char *s, struct store_query *q);

#endif
