/* A per-thread bump allocator for cJSON: the hot path parses one small
 * JSON document per stream event and frees it right away, and malloc/free
 * of its nodes was a fifth of the pipeline's time. Inside
 * json_arena_begin()..json_arena_end() cJSON allocates from the arena
 * (falling back to malloc when it is full) and frees are no-ops; nothing
 * allocated there may outlive the scope. Other threads are unaffected. */
#ifndef LLMOBS_CORE_JSON_ARENA_H
#define LLMOBS_CORE_JSON_ARENA_H

#include <cjson/cJSON.h>

/* Installs the cJSON hooks (once, before any thread uses cJSON). */
void json_arena_init(void);
void json_arena_begin(void);
void json_arena_end(void);
/* cJSON_Delete, skipped when every node of j is in the arena (the scope's
 * end frees them all at once). */
void json_release(cJSON *j);

#endif
