/* Live events for GET /api/v1/events: the pipeline publishes, HTTP threads
 * follow. A bounded ring of the latest events; a follower that falls behind
 * is told how many it missed (an "events_lost" event), never silently. */
#ifndef LLMOBS_SINKS_EVENTS_H
#define LLMOBS_SINKS_EVENTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING 4096

/* Takes ownership of data (a JSON object). Cheap when nobody follows. */
void events_publish(const char *type, cJSON *data);
/* Whether anyone follows: publishers skip building costly payloads. */
bool events_followed(void);

struct events_follower {
	uint64_t next; /* sequence number of the next event to deliver */
};

void events_follow(struct events_follower *f);
void events_unfollow(struct events_follower *f);
/* The next event as SSE text ("event: T\ndata: {...}\n\n", malloc'd), or
 * NULL after timeout_ms without one. */
char *events_next(struct events_follower *f, int timeout_ms);
uint64_t events_published(void);
void events_reset(void);

#endif
