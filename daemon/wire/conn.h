/* Connections keyed by (tgid, SSL* or socket): byte-stream continuity of
 * each direction, held writes, sniffing, and the HTTP/1.x reassembly of a
 * client connection. The protocol layer above (call/assemble.c) gets each
 * message through struct conn_ops and keeps its own per-connection state
 * in conn_info()->ctx. */
#ifndef LLMOBS_WIRE_CONN_H
#define LLMOBS_WIRE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "llmobs/event.h"
#include "wire/http.h"

struct conn;

/* What the protocol layer may read of a connection. */
struct conn_info {
	uint32_t tgid, tid;
	int fd;                       /* -1 until learnt (memory BIOs: never) */
	bool server_side;             /* the process is the server (plaintext) */
	uint64_t ts;                  /* time of the record being parsed */
	char comm[LLMOBS_COMM_LEN];   /* process name */
	char thread[LLMOBS_COMM_LEN]; /* the thread writing requests */
	void *ctx;                    /* the protocol layer's state (ops->open) */
};

/* One table per protocol: pairing requests with responses differs (HTTP/1.1
 * FIFO per connection; HTTP/2 by stream id; WebSocket by message). All are
 * called for client connections only, with info->ts set. */
struct conn_ops {
	void *(*open)(struct conn *c); /* the connection is an HTTP client's */
	void (*headers)(struct conn *c, const struct http_msg *m);
	void (*body)(struct conn *c, enum http_dir dir, const char *p, size_t n);
	void (*complete)(struct conn *c, enum http_dir dir);
	/* a parse error (counted here); the direction resyncs later */
	void (*error)(struct conn *c, enum http_dir dir, const char *reason);
	/* n bytes of direction dir (LLMOBS_DIR_*) will never be seen */
	void (*lost)(struct conn *c, int dir, uint64_t n, const char *what);
	/* parsing of dir restarts at a new message after an error or gap */
	void (*resync)(struct conn *c, int dir);
	void (*read_sample)(struct conn *c, const struct llmobs_event *ev); /* socket state */
	void (*write_done)(struct conn *c, const struct llmobs_event *ev);  /* a write blocked */
	void (*close)(struct conn *c, const char *why); /* before the connection is freed */
};

void conn_set_ops(const struct conn_ops *ops);
struct conn_info *conn_info(struct conn *c);

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

#endif
