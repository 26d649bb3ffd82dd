/* HTTP API (libmicrohttpd): /healthz, /metrics, /api/v1/streams[/{id}],
 * /api/v1/connections, /api/v1/stats, /api/v1/probes, /api/v1/blind, /api/v1/events,
 * dispatched by one route table (path, methods, exact or prefix). Handlers read call records under
 * the pipeline lock. */
#ifndef LLMOBS_API_API_H
#define LLMOBS_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "sinks/prometheus.h"

#define API_DEFAULT_LISTEN "127.0.0.1:9477"

struct api_hooks {
	/* true once probes are attached (or a replay has run) */
	bool (*ready)(void *ctx);
	/* capture-side counters; may be NULL (replay) */
	void (*capture_stats)(void *ctx, struct capture_stats *out);
	/* {"files": [...]} of /api/v1/probes; NULL hook or result: not live */
	cJSON *(*probes)(void *ctx);
	/* {"processes": [...]} of /api/v1/blind; NULL hook or result: not live */
	cJSON *(*blind)(void *ctx);
	void *ctx;
};

struct api;

/* listen: "ADDR:PORT" or "[v6]:PORT". NULL on failure (message logged). */
struct api *api_start(const char *listen, const struct api_hooks *hooks);
void api_stop(struct api *a);

/* Parses "ADDR:PORT"; exposed for option checking. 0 or -1. */
int api_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port);

#endif
