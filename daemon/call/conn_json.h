/* The JSON shape of the connections the daemon tracks, as served by
 * GET /api/v1/connections: what each is (parsed, unparsed and why, server
 * side, not decided yet), its process, peer and bytes. */
#ifndef LLMOBS_CALL_CONN_JSON_H
#define LLMOBS_CALL_CONN_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* state: a conn_state name ("unparsed", ...) or NULL for all; false when
 * it names none. */
bool conn_state_known(const char *state);
/* {"connections": [...], "unparsed": N} (at most limit rows, 0 = 1000).
 * Caller holds the pipeline lock. */
cJSON *conns_to_json(const char *state, long limit);

#endif
