/* Inside wire/: a connection's state, shared by conn.c (continuity,
 * sniffing, upgrades) and conn_protos.c (each protocol parser's callbacks
 * turned into the layer above's struct conn_ops). */
#ifndef LLMOBS_WIRE_CONN_INT_H
#define LLMOBS_WIRE_CONN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "core/buf.h"
#include "core/stats.h"
#include "wire/conn.h"
#include "wire/http.h"
#include "wire/ws.h"

enum conn_role { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_SERVER, ROLE_UNPARSED };

/* A protocol's parser of both directions (dir is HTTP_DIR_*). */
struct wire_proto {
	/* from_start: the connection is seen from its first byte */
	void *(*open)(struct conn *c, bool from_start);
	void (*feed)(void *p, enum http_dir dir, const char *data, size_t n);
	/* may parsing of dir resume at p after an error or gap? */
	bool (*can_resume)(enum http_dir dir, const char *p, size_t n);
	void (*resume)(void *p, enum http_dir dir);
	void (*eof)(void *p); /* the connection ended */
	void (*free)(void *p);
};

struct conn {
	struct conn_info info;      /* first: conn_info() is a cast */
	struct llmobs_conn_key key; /* as BPF keys it */
	UT_hash_handle hh;
	enum conn_role role;
	uint64_t next_pos[2];
	bool broken[2];              /* parser stopped after an error or gap; resync pending */
	const struct wire_proto *wp; /* set with the client role */
	const struct conn_ops *ops;
	void *parser;

	/* A write is copied at SSL_write entry; it is held until we know the
	 * call succeeded (any later record) or failed (WRITE_FAIL). */
	struct buf held;
	uint64_t held_call, held_pos, held_ts;
	bool held_valid;
	struct buf sniffed; /* first bytes, until the role is known */
	unsigned mute_wait; /* records until muted, waiting for the fd (0: none) */

	/* ROLE_UNPARSED: a guess at what it is, why it is not parsed, and the
	 * counter its bytes go to */
	const char *guess, *reason;
	enum ignore_reason ignored_as;
	uint64_t bytes[2], since;

	/* HTTP/1.1 Upgrade: the request asking for it; what the client writes
	 * after it while the answer is awaited; the answer's first bytes of
	 * the new protocol, switched to once the HTTP parser has returned. */
	struct http_msg *upgrade_req;
	bool req_upgraded, resp_upgraded, switch_pending;
	struct buf upgrade_held, switch_rest;
	char resp_upgrade[32]; /* the 101's Upgrade: what it switched to */
	struct ws_options ws_opts;
	bool ws_ext_ok; /* its extensions are ones we decode */
};

/* The parsers of each protocol (conn_protos.c). */
extern const struct wire_proto http1_wire, h2_wire, ws_wire;

/* Does p start an HTTP/1.x request line / status line? (conn.c) */
bool starts_with_method(const char *p, size_t n);
bool starts_with_status(const char *p, size_t n);

static inline enum http_dir http_dir_of(int dir)
{
	return dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP;
}

static inline int llmobs_dir_of(enum http_dir dir)
{
	return dir == HTTP_DIR_REQ ? LLMOBS_DIR_WRITE : LLMOBS_DIR_READ;
}

#endif
