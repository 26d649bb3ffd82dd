/* Connection limits of the HTTP API, so no client can lock others out:
 * a deadline for each request's headers (slowloris), a cap on connections
 * still sending headers (the oldest is dropped for a new one), a per-address
 * cap for non-loopback peers, and a cap on live event followers. Driven by
 * libmicrohttpd's connection notifications. */
#ifndef LLMOBS_API_LIMITS_H
#define LLMOBS_API_LIMITS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/stats.h"

#define API_MAX_CONNECTIONS   512 /* all, including followers */
#define API_HEADER_TIMEOUT_MS 5000
#define API_MAX_PENDING       64 /* connections whose request headers are not complete */
#define API_MAX_PER_ADDRESS   32 /* per non-loopback peer address */
#define API_MAX_FOLLOWERS     32 /* GET /api/v1/events at once */

int api_limits_start(void);
void api_limits_stop(void);

/* libmicrohttpd callbacks (MHD_OPTION_NOTIFY_CONNECTION,
 * MHD_OPTION_NOTIFY_COMPLETED, the accept policy). */
void api_limits_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                       enum MHD_ConnectionNotificationCode code);
void api_limits_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                          enum MHD_RequestTerminationCode code);
enum MHD_Result api_limits_accept(void *cls, const struct sockaddr *addr, socklen_t len);
/* The request's headers are complete (the access handler runs). */
void api_limits_headers_done(struct MHD_Connection *c);

/* A follower slot, or false when all are taken; release it when done. */
bool api_limits_follow(void);
void api_limits_unfollow(void);

void api_limits_stats(struct api_limit_stats *out);

#endif
