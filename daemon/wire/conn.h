/* TLS connections keyed by (tgid, SSL*): byte-stream continuity, the HTTP
 * reassembly of each direction, and request/response pairing into calls. */
#ifndef LLMOBS_WIRE_CONN_H
#define LLMOBS_WIRE_CONN_H

#include <stdint.h>

#include "llmobs/event.h"

struct conn;

struct conn *conn_lookup(uint32_t tgid, uint64_t key, int create, const struct llmobs_event *ev);
void conn_data(struct conn *c, const struct llmobs_event *ev, const char *data);
/* A write that blocked >= 1 ms (LLMOBS_EV_WRITE_DONE). */
void conn_write_done(struct conn *c, const struct llmobs_event *ev);
/* Set by the capture side: stop copying a connection's data. */
typedef void (*conn_mute_fn)(uint32_t tgid, uint64_t ssl);
extern conn_mute_fn conn_mute_hook;
void conn_write_failed(struct conn *c, const struct llmobs_event *ev);
/* The connection is gone (SSL_free or process exit): flush and free. */
void conn_close(struct conn *c, uint64_t ts, const char *why);
void conn_close_process(uint32_t tgid, uint64_t ts);
void conn_flush_held(uint64_t now, uint64_t older_than_ns);
void conn_free_all(void);

/* Peer addresses learnt from connect(), looked up by (tgid, fd). */
void peer_note(const struct llmobs_event *ev);
const char *peer_lookup(uint32_t tgid, int fd);
void peer_forget_process(uint32_t tgid);

#endif
