/* Calls the probes cannot see, reported by the applications that make them
 * (POST /v1/llm/request and /v1/llm/response): a request and a response
 * joined by request_id within a TTL (--ingest-ttl) become one call like a captured
 * one (source "ingest"): priced, stored, counted in the windows and in
 * /metrics. A half whose partner never comes is not dropped: at the TTL it
 * becomes a call marked aborted (no response) or error (no request). */
#ifndef LLMOBS_CALL_INGEST_H
#define LLMOBS_CALL_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_BODY_MAX       (64u << 10) /* bytes of one POST body */
#define INGEST_TTL_DEFAULT_MS 300000      /* a half waits this long for its partner */
#define INGEST_PENDING_MAX    10000       /* halves waiting at most */
#define INGEST_METADATA_MAX   4096        /* bytes of metadata kept per call */

enum ingest_kind { INGEST_REQUEST, INGEST_RESPONSE };

struct ingest_half;

/* Parses a POST body (no lock needed). NULL with the reason in err (the
 * 400's message) when it is not a valid report. now_wall_ms stamps a
 * report without a timestamp. */
struct ingest_half *ingest_parse(enum ingest_kind kind, const char *body, size_t n,
                                 int64_t now_wall_ms, char *err, size_t errlen);
void ingest_half_free(struct ingest_half *h);

/* Under the pipeline lock: joins h with its waiting partner (the call is
 * finished then, its id in *call_id) or keeps it waiting. Takes h. Returns
 * the HTTP status: 200 joined, 202 waiting, 409 a half of that kind is
 * already waiting, 429 too many waiting; msg says which. */
int ingest_submit(struct ingest_half *h, uint64_t *call_id, char *msg, size_t msglen);

/* Under the pipeline lock (pipeline_tick): halves past the TTL become
 * calls. */
void ingest_expire(void);
/* How long a half waits for its partner (ms > 0). */
void ingest_set_ttl_ms(int64_t ms);
/* Under the pipeline lock: every waiting half becomes a call now, marked
 * (shutdown: nothing reported is lost). */
void ingest_flush(void);

/* A report refused before it was parsed (its body too large). */
void ingest_note_rejected(void);

struct ingest_counts;
void ingest_stats(struct ingest_counts *out); /* core/stats.h */

#endif
