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

/* The wire protocols a client connection can speak. */
enum conn_proto { CONN_HTTP1 = 0, CONN_H2, CONN_WS, CONN_PROTO__MAX };
/* "http/1.1", "h2", "websocket" */
const char *conn_proto_name(enum conn_proto p);

/* What the protocol layer may read of a connection. */
struct conn_info {
	uint32_t tgid, tid;
	int fd;                       /* -1 until learnt (memory BIOs: never) */
	bool server_side;             /* the process is the server (plaintext) */
	enum conn_proto proto;        /* once the role is known */
	uint64_t ts;                  /* time of the record being parsed */
	char comm[LLMOBS_COMM_LEN];   /* process name */
	char thread[LLMOBS_COMM_LEN]; /* the thread writing requests */
	/* WebSocket: the HTTP request that upgraded the connection (path,
	 * host; never credentials), NULL when joined mid-way */
	const struct http_msg *upgrade;
	void *ctx; /* the protocol layer's state (ops->open) */
};

/* One table per protocol: pairing requests with responses differs (HTTP/1.1
 * FIFO per connection; HTTP/2 by stream id; WebSocket by message). All are
 * called for client connections only, with info->ts set; sid is the HTTP/2
 * stream (0 for HTTP/1.1). Members after close may be NULL. */
struct conn_ops {
	void *(*open)(struct conn *c); /* the connection is an HTTP client's */
	void (*headers)(struct conn *c, uint32_t sid, const struct http_msg *m);
	void (*body)(struct conn *c, enum http_dir dir, uint32_t sid, const char *p, size_t n);
	void (*complete)(struct conn *c, enum http_dir dir, uint32_t sid);
	/* a parse error (counted here); the direction resyncs later */
	void (*error)(struct conn *c, enum http_dir dir, const char *reason);
	/* n bytes of direction dir (LLMOBS_DIR_*) will never be seen */
	void (*lost)(struct conn *c, int dir, uint64_t n, const char *what);
	/* parsing of dir restarts at a new message after an error or gap */
	void (*resync)(struct conn *c, int dir);
	void (*read_sample)(struct conn *c, const struct llmobs_event *ev); /* socket state */
	void (*write_done)(struct conn *c, const struct llmobs_event *ev);  /* a write blocked */
	void (*close)(struct conn *c, const char *why); /* before the connection is freed */
	/* HTTP/2: the stream was reset by dir's side, or ended by GOAWAY */
	void (*reset)(struct conn *c, enum http_dir dir, uint32_t sid, const char *why);
	/* HTTP/2: streams above last_sid will not be answered */
	void (*goaway)(struct conn *c, enum http_dir dir, uint32_t last_sid, const char *why);
	/* HTTP/2: the stream's headers of dir could not be decoded */
	void (*headers_lost)(struct conn *c, enum http_dir dir, uint32_t sid, const char *why);
	/* HTTP/2: the sender's window for sid (0: every stream) closed/opened */
	void (*window)(struct conn *c, uint32_t sid, bool stalled);
	/* HTTP/2: a new client preface; every stream in flight is gone */
	void (*restart)(struct conn *c);
	/* WebSocket: a whole data message of dir (text: opcode 1), inflated */
	void (*message)(struct conn *c, enum http_dir dir, bool text, const char *p, size_t n);
	/* WebSocket: a data message of dir that could not be decoded */
	void (*message_lost)(struct conn *c, enum http_dir dir, const char *why, uint64_t bytes);
	/* WebSocket: dir's side closed the connection (a close frame) */
	void (*closing)(struct conn *c, enum http_dir dir, const char *why);
};

void conn_set_ops(enum conn_proto proto, const struct conn_ops *ops);
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

/* ---- What the daemon makes of each connection (the API's view) ---- */

enum conn_state {
	CONN_PENDING = 0, /* no byte has told what it is yet */
	CONN_PARSED,      /* an HTTP client's: its calls are parsed */
	CONN_UNPARSED,    /* seen, not parsed: a blind spot, with its reason */
	CONN_SERVER,      /* the server side of a local connection: its client is seen */
};

struct conn_view {
	uint32_t pid;
	const char *comm;
	int fd;           /* -1 when unknown */
	const char *peer; /* "ip:port", or NULL */
	bool tls;         /* read through a TLS library's probes (else a socket) */
	enum conn_state state;
	const char *protocol; /* parsed: "http/1.1", "h2", "websocket"; else a guess */
	const char *reason;   /* unparsed: why */
	uint64_t bytes[2];    /* seen, by LLMOBS_DIR_* */
	uint64_t since;       /* first record, monotonic ns */
};

const char *conn_state_name(enum conn_state s);
typedef bool (*conn_visit_fn)(const struct conn_view *v, void *ctx); /* false stops */
void conn_foreach(conn_visit_fn fn, void *ctx);
/* The protocol layer cannot parse what the client connection carries
 * (gRPC over HTTP/2, ...): it is listed, logged once per process and
 * reason, and its bytes are counted as reason's from now on. */
void conn_set_unparsed(struct conn *c, const char *guess, const char *reason);

#endif
