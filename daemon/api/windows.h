/* GET /api/v1/metrics: the stored windows (sinks/window.h) regrouped by
 * step and group_by, with filters on the key's fields. */
#ifndef LLMOBS_API_WINDOWS_H
#define LLMOBS_API_WINDOWS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* A query argument by name (NULL when absent). */
typedef const char *(*api_arg_fn)(void *ctx, const char *key);

#define WINDOWS_MAX_STEPS 10000 /* windows of one answer at most (before grouping) */

/* The answer, or NULL with *status (400, 503, 500) and the reason in err. */
cJSON *windows_get(api_arg_fn arg, void *ctx, unsigned *status, char *err, size_t errlen);

#endif
