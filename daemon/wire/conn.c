/* Connections: continuity of each direction's byte stream (positions from
 * BPF), held writes, sniffing who is the client and which protocol it
 * speaks (HTTP/1.x, HTTP/2, WebSocket after an HTTP/1.1 upgrade), and
 * handing each direction to that protocol's parser (struct wire_proto).
 * What the messages mean (pairing, calls) is the layer above's, through
 * struct conn_ops. A connection that is not parsed says so: listed with
 * its reason (conn_foreach), logged once per process and reason. */
#include "wire/conn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "core/buf.h"
#include "core/cgroup.h"
#include "core/log.h"
#include "core/macros.h"
#include "core/stats.h"
#include "wire/h2.h"
#include "wire/http.h"
#include "wire/peer.h"
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

#define SNIFF_MAX         16
#define MUTE_WAIT_RECORDS 4           /* records an unparsed TLS connection is copied for its fd */
#define UPGRADE_MAX       (64u << 10) /* bytes the client writes before the 101 */

static struct conn *conns;
static struct conn *last_conn; /* the one conn_lookup found last */
static unsigned n_held;        /* connections holding a write (see struct conn) */
static const struct conn_ops *proto_ops[CONN_PROTO__MAX];

void conn_set_ops(enum conn_proto proto, const struct conn_ops *o)
{
	proto_ops[proto] = o;
}

struct conn_info *conn_info(struct conn *c)
{
	return &c->info;
}

static enum http_dir http_dir_of(int dir)
{
	return dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP;
}

static int llmobs_dir_of(enum http_dir dir)
{
	return dir == HTTP_DIR_REQ ? LLMOBS_DIR_WRITE : LLMOBS_DIR_READ;
}

/* ---- HTTP/1.x: handed to the protocol layer as they are ---- */

static void http_on_headers(void *ctx, const struct http_msg *m)
{
	struct conn *c = ctx;
	if (m->dir == HTTP_DIR_REQ && m->upgrade[0]) {
		if (!c->upgrade_req)
			c->upgrade_req = xmalloc(sizeof(*c->upgrade_req));
		*c->upgrade_req = *m;
	} else if (m->dir == HTTP_DIR_RESP && m->status == 101) {
		snprintf(c->resp_upgrade, sizeof(c->resp_upgrade), "%s", m->upgrade);
		c->ws_ext_ok = ws_parse_extensions(m->ws_extensions, &c->ws_opts) == 0;
	}
	c->ops->headers(c, 0, m);
}

static void http_on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->body(c, dir, 0, p, n);
}

static void http_on_complete(void *ctx, enum http_dir dir)
{
	struct conn *c = ctx;
	c->ops->complete(c, dir, 0);
	/* the answer to an upgrade request refused it: HTTP goes on */
	if (dir == HTTP_DIR_RESP && c->req_upgraded && !c->switch_pending)
		c->switch_pending = true; /* (back to HTTP/1.1: see switch_protocol) */
}

static void http_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_http++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

/* The HTTP parser of dir stopped at an upgrade; what follows in this piece
 * is the new protocol's. Acted on once the parser has returned. */
static void http_on_upgrade(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct conn *c = ctx;
	if (dir == HTTP_DIR_REQ) {
		c->req_upgraded = true;
		buf_append(&c->upgrade_held, p, n);
		return;
	}
	c->switch_pending = c->resp_upgraded = true;
	buf_append(&c->switch_rest, p, n);
}

static const struct http_callbacks http_cbs = {
    .on_headers = http_on_headers,
    .on_body = http_on_body,
    .on_complete = http_on_complete,
    .on_error = http_on_error,
    .on_upgrade = http_on_upgrade,
};

static bool starts_with_method(const char *p, size_t n);
static bool starts_with_status(const char *p, size_t n);

static void *http1_open(struct conn *c, bool from_start)
{
	(void)from_start;
	return http_conn_new(&http_cbs, c);
}

static void http1_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	http_feed(p, dir, data, n);
}

static bool http1_can_resume(enum http_dir dir, const char *p, size_t n)
{
	return dir == HTTP_DIR_REQ ? starts_with_method(p, n) : starts_with_status(p, n);
}

static void http1_resume(void *p, enum http_dir dir)
{
	http_reset_dir(p, dir);
}

static void http1_eof(void *p)
{
	http_eof(p, HTTP_DIR_RESP); /* ends read-until-close bodies */
}

static void http1_free(void *p)
{
	http_conn_free(p);
}

static const struct wire_proto http1_wire = {
    http1_open, http1_feed, http1_can_resume, http1_resume, http1_eof, http1_free,
};

/* ---- HTTP/2 ---- */

static void h2_on_headers(void *ctx, uint32_t sid, const struct http_msg *m, bool trailers)
{
	struct conn *c = ctx;
	if (!trailers) /* trailers carry nothing a call keeps */
		c->ops->headers(c, sid, m);
}

static void h2_on_data(void *ctx, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->body(c, dir, sid, p, n);
}

static void h2_on_end(void *ctx, enum http_dir dir, uint32_t sid)
{
	struct conn *c = ctx;
	c->ops->complete(c, dir, sid);
}

static const char *side(enum http_dir dir)
{
	return dir == HTTP_DIR_REQ ? "client" : "server";
}

static void h2_on_reset(void *ctx, enum http_dir dir, uint32_t sid, uint32_t code)
{
	struct conn *c = ctx;
	char why[96];
	snprintf(why, sizeof(why), "RST_STREAM %s from the %s before the response completed",
	         h2_error_name(code), side(dir));
	c->ops->reset(c, dir, sid, why);
}

static void h2_on_goaway(void *ctx, enum http_dir dir, uint32_t last_sid, uint32_t code)
{
	struct conn *c = ctx;
	char why[128];
	snprintf(why, sizeof(why), "GOAWAY %s from the %s (last stream %u) left the stream out",
	         h2_error_name(code), side(dir), last_sid);
	c->ops->goaway(c, dir, last_sid, why);
}

static void h2_on_headers_lost(void *ctx, enum http_dir dir, uint32_t sid, const char *reason)
{
	struct conn *c = ctx;
	pstats.h2_headers_lost++;
	c->ops->headers_lost(c, dir, sid, reason);
}

static void h2_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_h2++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

static void h2_on_window(void *ctx, uint32_t sid, bool stalled)
{
	struct conn *c = ctx;
	c->ops->window(c, sid, stalled);
}

static void h2_on_preface(void *ctx)
{
	struct conn *c = ctx;
	c->ops->restart(c);
}

static const struct h2_callbacks h2_cbs = {
    .on_headers = h2_on_headers,
    .on_data = h2_on_data,
    .on_end = h2_on_end,
    .on_reset = h2_on_reset,
    .on_goaway = h2_on_goaway,
    .on_headers_lost = h2_on_headers_lost,
    .on_error = h2_on_error,
    .on_window = h2_on_window,
    .on_preface = h2_on_preface,
};

static void *h2_open(struct conn *c, bool from_start)
{
	return h2_conn_new(&h2_cbs, c, from_start);
}

static void h2w_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	h2_feed(p, dir, data, n);
}

static bool h2_can_resume(enum http_dir dir, const char *p, size_t n)
{
	return (dir == HTTP_DIR_REQ && n >= H2_PREFACE_LEN &&
	        !memcmp(p, H2_PREFACE, H2_PREFACE_LEN)) ||
	       h2_frames_plausible(dir, p, n);
}

static void h2_resume(void *p, enum http_dir dir)
{
	h2_reset_dir(p, dir);
}

static void h2_eof(void *p)
{
	(void)p; /* every HTTP/2 (and WebSocket) message ends explicitly */
}

static void h2w_free(void *p)
{
	h2_conn_free(p);
}

static const struct wire_proto h2_wire = {
    h2_open, h2w_feed, h2_can_resume, h2_resume, h2_eof, h2w_free,
};

/* ---- WebSocket ---- */

static void ws_on_message(void *ctx, enum http_dir dir, bool text, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->message(c, dir, text, p, n);
}

static void ws_on_unparsed(void *ctx, enum http_dir dir, const char *reason, uint64_t bytes)
{
	struct conn *c = ctx;
	pstats.ws_unparsed_messages++;
	pstats.ignored_bytes[IGNORE_WS_UNPARSED] += bytes;
	c->ops->message_lost(c, dir, reason, bytes);
}

static void ws_on_close(void *ctx, enum http_dir dir, unsigned code, const char *reason, size_t n)
{
	struct conn *c = ctx;
	char why[200];
	snprintf(why, sizeof(why),
	         "WebSocket closed by the %s (%u %s%s%.*s) before the response "
	         "completed",
	         side(dir), code, ws_close_name(code), n ? ": " : "", (int)(n > 80 ? 80 : n),
	         reason);
	c->ops->closing(c, dir, why);
}

static void ws_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_ws++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

static const struct ws_callbacks ws_cbs = {
    .on_message = ws_on_message,
    .on_unparsed = ws_on_unparsed,
    .on_close = ws_on_close,
    .on_error = ws_on_error,
};

static void *ws_open(struct conn *c, bool from_start)
{
	if (!from_start) /* joined: whatever was agreed, frames tell (RSV1) */
		c->ws_opts = (struct ws_options){.deflate = true, .window_bits = {15, 15}};
	return ws_conn_new(&ws_cbs, c, &c->ws_opts, !from_start);
}

static void wsw_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	ws_feed(p, dir, data, n);
}

static void ws_resume(void *p, enum http_dir dir)
{
	ws_reset_dir(p, dir);
}

static void wsw_free(void *p)
{
	ws_conn_free(p);
}

static const struct wire_proto ws_wire = {
    ws_open, wsw_feed, ws_frames_plausible, ws_resume, h2_eof, wsw_free,
};

static const struct wire_proto *const wires[CONN_PROTO__MAX] = {
    [CONN_HTTP1] = &http1_wire,
    [CONN_H2] = &h2_wire,
    [CONN_WS] = &ws_wire,
};

const char *conn_proto_name(enum conn_proto p)
{
	static const char *const names[CONN_PROTO__MAX] = {
	    [CONN_HTTP1] = "http/1.1", [CONN_H2] = "h2", [CONN_WS] = "websocket"};
	return (unsigned)p < CONN_PROTO__MAX ? names[p] : "unknown";
}

struct conn *conn_lookup(uint32_t tgid, uint64_t ssl, int create, const struct llmobs_event *ev)
{
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn *c = last_conn;
	/* a connection's records come in runs: skip the hash for a repeat */
	if (c && c->key.ssl == ssl && c->key.tgid == tgid)
		return c;
	HASH_FIND(hh, conns, &k, sizeof(k), c);
	if (c)
		last_conn = c;
	if (c || !create)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->key = k;
	struct conn_info *i = &c->info;
	i->tgid = tgid;
	i->fd = -1;
	i->server_side = (ssl & LLMOBS_PLAIN_CONN) && (ssl & LLMOBS_PLAIN_SERVER);
	i->tid = ev->tid;
	memcpy(i->comm, ev->comm, sizeof(i->comm));
	i->comm[sizeof(i->comm) - 1] = '\0';
	memcpy(i->thread, ev->thread, sizeof(i->thread));
	i->thread[sizeof(i->thread) - 1] = '\0';
	buf_init(&c->held, 0);
	buf_init(&c->sniffed, 0);
	buf_init(&c->upgrade_held, UPGRADE_MAX);
	buf_init(&c->switch_rest, UPGRADE_MAX);
	HASH_ADD(hh, conns, key, sizeof(k), c);
	last_conn = c;
	pstats.conns_active++;
	pstats.conns_total++;
	return c;
}

enum sniff { SNIFF_NO = 0, SNIFF_MAYBE, SNIFF_REQUEST, SNIFF_RESPONSE, SNIFF_H2 };

/* Does p start an HTTP/1.x request or status line, or the HTTP/2 client
 * preface? MAYBE while too short to tell. */
static enum sniff sniff(const char *p, size_t n)
{
	static const struct {
		const char *start;
		enum sniff kind;
	} starts[] = {
	    {"GET ", SNIFF_REQUEST},          {"POST ", SNIFF_REQUEST},
	    {"PUT ", SNIFF_REQUEST},          {"DELETE ", SNIFF_REQUEST},
	    {"PATCH ", SNIFF_REQUEST},        {"HEAD ", SNIFF_REQUEST},
	    {"OPTIONS ", SNIFF_REQUEST},      {"HTTP/1.", SNIFF_RESPONSE},
	    {"PRI * HTTP/2.0\r\n", SNIFF_H2},
	};
	bool maybe = false;
	for (size_t i = 0; i < ARRAY_LEN(starts); i++) {
		size_t m = strlen(starts[i].start);
		if (n >= m && !memcmp(p, starts[i].start, m))
			return starts[i].kind;
		if (n < m && !memcmp(p, starts[i].start, n))
			maybe = true;
	}
	return maybe ? SNIFF_MAYBE : SNIFF_NO;
}

static bool starts_with_method(const char *p, size_t n)
{
	return sniff(p, n) == SNIFF_REQUEST;
}

static bool starts_with_status(const char *p, size_t n)
{
	return sniff(p, n) == SNIFF_RESPONSE;
}

static void become_client(struct conn *c, enum conn_proto proto, bool from_start)
{
	c->role = ROLE_CLIENT;
	c->info.proto = proto;
	c->wp = wires[proto];
	c->ops = proto_ops[proto];
	c->parser = c->wp->open(c, from_start);
	c->info.ctx = c->ops->open(c);
}

/* ---- Connections not parsed: listed, logged once per process and reason ---- */

#define LOGGED_MAX 4096

struct logged {
	struct {
		uint32_t tgid;
		char reason[96];
	} key;
	UT_hash_handle hh;
};

static struct logged *logged;
static unsigned nlogged;

static void log_unparsed_once(struct conn *c)
{
	struct logged k = {0}, *l;
	k.key.tgid = c->key.tgid;
	snprintf(k.key.reason, sizeof(k.key.reason), "%s", c->reason);
	HASH_FIND(hh, logged, &k.key, sizeof(k.key), l);
	if (l || nlogged >= LOGGED_MAX)
		return;
	l = xmalloc(sizeof(*l));
	*l = k;
	HASH_ADD(hh, logged, key, sizeof(l->key), l);
	nlogged++;
	const char *peer = peer_lookup(c->key.tgid, c->info.fd);
	log_info("pid %u (%s): a %s connection%s%s is not parsed: %s (looks like %s); "
	         "GET /api/v1/connections?state=unparsed lists such connections",
	         c->key.tgid, c->info.comm, (c->key.ssl & LLMOBS_PLAIN_CONN) ? "TCP" : "TLS",
	         peer ? " to " : "", peer ? peer : "", c->reason, c->guess);
}

static void forget_logged(uint32_t tgid)
{
	struct logged *l, *tmp;
	HASH_ITER(hh, logged, l, tmp)
	{
		if (l->key.tgid != tgid)
			continue;
		HASH_DEL(logged, l);
		free(l);
		nlogged--;
	}
}

/* What the first bytes of a connection that is not HTTP look like. */
static const char *guess_of(int dir, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	if (n >= 3 && u[0] == 0x16 && u[1] == 0x03 && u[2] <= 0x04)
		return "tls"; /* a handshake: TLS by a library without probes */
	if (h2_frames_side(http_dir_of(dir), p, n))
		return "h2";
	if (ws_frames_plausible(HTTP_DIR_REQ, p, n) || ws_frames_plausible(HTTP_DIR_RESP, p, n))
		return "websocket";
	for (size_t i = 0; i < n; i++)
		if (u[i] < 0x20 && u[i] != '\r' && u[i] != '\n' && u[i] != '\t')
			return "binary";
	return "text";
}

static void unparsed(struct conn *c, const char *guess, const char *reason, enum ignore_reason as)
{
	if (c->role != ROLE_UNPARSED)
		pstats.conns_unparsed++;
	c->role = ROLE_UNPARSED;
	c->guess = guess;
	c->reason = reason;
	c->ignored_as = as;
	log_unparsed_once(c);
}

static void mute_if_useless(struct conn *c);

void conn_set_unparsed(struct conn *c, const char *guess, const char *reason)
{
	unparsed(c, guess, reason, IGNORE_OTHER_PROTO);
	mute_if_useless(c);
}

/* Bytes no HTTP client sends or reads first. */
static void not_http(struct conn *c, int dir, const char *p, size_t n)
{
	const char *g = guess_of(dir, p, n);
	unparsed(c, g,
	         !strcmp(g, "tls") ? "TLS ciphertext on a followed socket: its TLS library is "
	                             "not probed"
	                           : "not HTTP/1.x, HTTP/2 or WebSocket",
	         IGNORE_NOT_HTTP);
}

/* ---- Sniffing ---- */

/* Frames of an HTTP/2 or WebSocket connection the daemon joined mid-way
 * (probes attached, or the daemon started, while it was in use): the
 * client's end (else NONE or SERVER: a server's end, e.g. a local server
 * that wrote its SETTINGS first). */
static enum h2_side joined_h2(int dir, const char *p, size_t n)
{
	return h2_frames_side(http_dir_of(dir), p, n);
}

/* WebSocket: a client masks what it writes, a server never does. */
static enum h2_side joined_ws(int dir, const char *p, size_t n)
{
	if (ws_frames_plausible(http_dir_of(dir), p, n))
		return H2_SIDE_CLIENT;
	if (ws_frames_plausible(!http_dir_of(dir), p, n))
		return H2_SIDE_SERVER;
	return H2_SIDE_NONE;
}

/* Decides from the first payload bytes whether we are an HTTP client, and
 * of which protocol. Returns false while the bytes seen so far could still
 * go either way. */
static bool detect_role(struct conn *c, int dir, const char *p, size_t n)
{
	enum sniff k = sniff(p, n);
	if (k == SNIFF_MAYBE)
		return false;
	if ((dir == LLMOBS_DIR_WRITE && k == SNIFF_REQUEST) ||
	    (dir == LLMOBS_DIR_READ && k == SNIFF_RESPONSE))
		become_client(c, CONN_HTTP1, true);
	else if (dir == LLMOBS_DIR_WRITE && k == SNIFF_H2)
		become_client(c, CONN_H2, true);
	else if (k != SNIFF_NO)
		c->role = ROLE_SERVER;
	else if (joined_h2(dir, p, n) == H2_SIDE_CLIENT)
		become_client(c, CONN_H2, false);
	else if (joined_ws(dir, p, n) == H2_SIDE_CLIENT)
		become_client(c, CONN_WS, false);
	else if (joined_h2(dir, p, n) || joined_ws(dir, p, n))
		c->role = ROLE_SERVER;
	else
		not_http(c, dir, p, n);
	return true;
}

/* Bytes of this direction that we will never see: the call they belonged
 * to cannot be trusted any more. */
static void lose_bytes(struct conn *c, int dir, uint64_t n, const char *what)
{
	pstats.lost_bytes += n;
	if (c->parser) {
		c->ops->lost(c, dir, n, what);
		c->broken[dir] = true;
	}
}

/* After an error or gap, parsing resumes only where a new message starts. */
static bool try_resync(struct conn *c, int dir, const char *p, size_t n)
{
	if (!c->wp->can_resume(http_dir_of(dir), p, n))
		return false;
	c->ops->resync(c, dir);
	c->wp->resume(c->parser, http_dir_of(dir));
	c->broken[dir] = false;
	return true;
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n);

conn_mute_fn conn_mute_hook;

/* A TLS connection we will never parse (the server side of a local TLS
 * server, or not HTTP): ask the capture side to stop copying it. */
static void mute_now(struct conn *c)
{
	c->mute_wait = 0;
	conn_mute_hook(c->key.tgid, c->key.ssl);
	pstats.conns_muted++;
}

static void mute_if_useless(struct conn *c)
{
	if ((c->role != ROLE_SERVER && c->role != ROLE_UNPARSED) ||
	    (c->key.ssl & LLMOBS_PLAIN_CONN) || !conn_mute_hook)
		return;
	/* An unparsed connection is listed with its peer: its socket is
	 * learnt in the SSL call's syscalls, so a few more records first
	 * (memory BIOs never tell). */
	if (c->role == ROLE_UNPARSED && c->info.fd < 0)
		c->mute_wait = MUTE_WAIT_RECORDS;
	else
		mute_now(c);
}

/* ---- HTTP/1.1 Upgrade ---- */

static void drop_protocol(struct conn *c, const char *why)
{
	c->ops->close(c, why);
	c->wp->free(c->parser);
	c->parser = NULL;
	c->broken[0] = c->broken[1] = false;
}

/* Acts on an upgrade once the HTTP parser has returned: a 101 switches to
 * WebSocket (or to a protocol we do not parse: listed as unparsed); any
 * other answer refused it, and HTTP/1.1 goes on with what the client wrote
 * meanwhile. */
static void switch_protocol(struct conn *c)
{
	c->switch_pending = false;
	if (!c->resp_upgraded) {
		if (!c->req_upgraded)
			return;
		c->req_upgraded = false;
		http_reset_dir(c->parser, HTTP_DIR_REQ);
		struct buf held = c->upgrade_held;
		buf_init(&c->upgrade_held, UPGRADE_MAX);
		if (held.len)
			feed_decided(c, LLMOBS_DIR_WRITE, held.data, held.len);
		buf_free(&held);
		return;
	}
	bool ws = !strcasecmp(c->resp_upgrade, "websocket");
	if (!ws || !c->ws_ext_ok) {
		drop_protocol(c, "the connection switched to a protocol that is not parsed");
		unparsed(c, ws ? "websocket" : (c->resp_upgrade[0] ? c->resp_upgrade : "unknown"),
		         ws ? "WebSocket with an extension other than permessage-deflate"
		            : "upgraded to a protocol other than WebSocket",
		         IGNORE_OTHER_PROTO);
		mute_if_useless(c);
		return;
	}
	drop_protocol(c, "the connection switched to WebSocket before the response completed");
	c->info.upgrade = c->upgrade_req;
	become_client(c, CONN_WS, true);
	struct buf req = c->upgrade_held, resp = c->switch_rest;
	buf_init(&c->upgrade_held, UPGRADE_MAX);
	buf_init(&c->switch_rest, UPGRADE_MAX);
	c->req_upgraded = c->resp_upgraded = false;
	if (req.len)
		c->wp->feed(c->parser, HTTP_DIR_REQ, req.data, req.len);
	if (resp.len)
		c->wp->feed(c->parser, HTTP_DIR_RESP, resp.data, resp.len);
	buf_free(&req);
	buf_free(&resp);
}

static void feed(struct conn *c, int dir, uint64_t ts, const char *p, size_t n)
{
	c->info.ts = ts;
	if (!c->since)
		c->since = ts;
	c->bytes[dir] += n;
	if (c->role == ROLE_UNKNOWN) {
		/* Joined mid-exchange (probes attached while the connection was
		 * in use): reads that do not start a message say nothing about
		 * the connection. Skip them until a write or a message start. */
		if (dir == LLMOBS_DIR_READ && !c->sniffed.len && sniff(p, n) == SNIFF_NO &&
		    joined_h2(dir, p, n) != H2_SIDE_CLIENT &&
		    joined_ws(dir, p, n) != H2_SIDE_CLIENT) {
			pstats.ignored_bytes[IGNORE_RESYNC] += n;
			return;
		}
		/* A first write as short as "P" cannot be classified yet: keep
		 * the bytes until it can (any later byte decides). */
		buf_append(&c->sniffed, p, n);
		if (!detect_role(c, dir, c->sniffed.data, c->sniffed.len) &&
		    c->sniffed.len < SNIFF_MAX)
			return;
		if (c->role == ROLE_UNKNOWN)
			not_http(c, dir, c->sniffed.data, c->sniffed.len);
		mute_if_useless(c);
		feed_decided(c, dir, c->sniffed.data, c->sniffed.len);
		buf_free(&c->sniffed);
		return;
	}
	feed_decided(c, dir, p, n);
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n)
{
	if (c->role == ROLE_UNPARSED) {
		pstats.ignored_bytes[c->ignored_as] += n;
		return;
	}
	if (c->role == ROLE_SERVER) {
		pstats.ignored_bytes[IGNORE_SERVER_SIDE] += n;
		return;
	}
	if (dir == LLMOBS_DIR_WRITE && c->req_upgraded) {
		/* the new protocol's first bytes, or HTTP again if refused */
		size_t room = UPGRADE_MAX - c->upgrade_held.len;
		if (n > room)
			pstats.ignored_bytes[IGNORE_OTHER_PROTO] += n - room;
		buf_append(&c->upgrade_held, p, n < room ? n : room);
		return;
	}
	if (c->broken[dir] && !try_resync(c, dir, p, n)) {
		pstats.ignored_bytes[IGNORE_RESYNC] += n;
		return;
	}
	c->wp->feed(c->parser, http_dir_of(dir), p, n);
	if (c->switch_pending)
		switch_protocol(c);
}

static void flush_held(struct conn *c)
{
	if (!c->held_valid)
		return;
	c->held_valid = false;
	n_held--;
	feed(c, LLMOBS_DIR_WRITE, c->held_ts, c->held.data, c->held.len);
	buf_reset(&c->held);
}

/* Checks the record against the expected position; returns the number of
 * leading payload bytes to skip (already seen), or -1 to drop it whole. */
static long continuity(struct conn *c, const struct llmobs_event *ev)
{
	int dir = ev->dir, side = c->info.server_side ? llmobs_dir_other(dir) : dir;
	uint64_t expect = c->next_pos[dir];
	uint64_t piece = ev->orig_len - ev->offset;
	if (piece > LLMOBS_MAX_DATA)
		piece = LLMOBS_MAX_DATA;
	uint64_t end = ev->pos + piece;
	long skip = 0;

	if (ev->pos > expect) {
		pstats.gaps++;
		c->info.ts = ev->ts_ns;
		lose_bytes(c, side, ev->pos - expect, "ring buffer drop");
	} else if (end <= expect && piece) {
		pstats.duplicate_bytes += ev->len;
		return -1;
	} else if (ev->pos < expect) {
		skip = (long)(expect - ev->pos);
		pstats.duplicate_bytes += (uint64_t)skip;
	}
	c->next_pos[dir] = end;
	if (ev->len < piece) /* the kernel could not read the user buffer */
		lose_bytes(c, side, piece - ev->len, "unreadable user memory");
	/* The last piece BPF copies; the rest of a huge call never arrives. */
	uint64_t cap = (uint64_t)LLMOBS_MAX_DATA * LLMOBS_MAX_SEGMENTS;
	if (ev->offset + piece == cap && ev->orig_len > cap) {
		lose_bytes(c, side, ev->orig_len - cap, "call larger than the copy limit");
		c->next_pos[dir] = ev->pos + piece + (ev->orig_len - cap);
	}
	return skip < (long)ev->len ? skip : -1;
}

void conn_data(struct conn *c, const struct llmobs_event *ev, const char *data)
{
	struct conn_info *i = &c->info;
	if (ev->fd >= 0)
		i->fd = ev->fd;
	if (c->mute_wait && (i->fd >= 0 || --c->mute_wait == 0))
		mute_now(c);
	/* the thread writing the request is the one the call belongs to */
	if (ev->dir == LLMOBS_DIR_WRITE && ev->thread[0]) {
		i->tid = ev->tid;
		memcpy(i->thread, ev->thread, sizeof(i->thread));
		i->thread[sizeof(i->thread) - 1] = '\0';
	}
	if (c->held_valid && !(ev->dir == LLMOBS_DIR_WRITE && ev->call_id == c->held_call))
		flush_held(c);
	long skip = continuity(c, ev);
	if (skip < 0)
		return;
	const char *p = data + skip;
	size_t n = ev->len - (size_t)skip;
	/* Plaintext is copied once the syscall moved it: nothing to hold. The
	 * server side of a plaintext connection reads requests and writes
	 * responses: its directions swap. */
	if (c->key.ssl & LLMOBS_PLAIN_CONN) {
		feed(c, i->server_side ? llmobs_dir_other(ev->dir) : ev->dir, ev->ts_ns, p, n);
		return;
	}
	if (ev->dir == LLMOBS_DIR_WRITE) {
		if (!c->held_valid) {
			c->held_valid = true;
			n_held++;
			c->held_call = ev->call_id;
			c->held_pos = ev->pos + (uint64_t)skip;
			c->held_ts = ev->ts_ns;
		}
		buf_append(&c->held, p, n);
		return;
	}
	/* the socket as this read found it (once per SSL read) */
	if (ev->bp_valid && ev->offset == 0 && c->parser)
		c->ops->read_sample(c, ev);
	feed(c, ev->dir, ev->ts_ns, p, n);
}

void conn_write_done(struct conn *c, const struct llmobs_event *ev)
{
	/* the write succeeded: what it held can be parsed now */
	if (c->held_valid && c->held_call == ev->call_id)
		flush_held(c);
	if (c->parser)
		c->ops->write_done(c, ev);
}

void conn_write_failed(struct conn *c, const struct llmobs_event *ev)
{
	if (!c->held_valid || c->held_call != ev->call_id)
		return;
	/* BPF rolled its position back; the app will write these bytes again. */
	pstats.write_retry_bytes += c->held.len;
	c->next_pos[LLMOBS_DIR_WRITE] = c->held_pos;
	c->held_valid = false;
	n_held--;
	buf_reset(&c->held);
}

void conn_flush_held(uint64_t now, uint64_t older_than_ns)
{
	struct conn *c, *tmp;
	if (!n_held) /* the usual case: runs after every ring-buffer batch */
		return;
	HASH_ITER(hh, conns, c, tmp)
	{
		if (c->held_valid && now > c->held_ts && now - c->held_ts > older_than_ns)
			flush_held(c);
	}
}

void conn_close(struct conn *c, uint64_t ts, const char *why)
{
	flush_held(c);
	c->info.ts = ts;
	if (c->parser && !c->broken[LLMOBS_DIR_READ])
		c->wp->eof(c->parser);
	if (c->parser) {
		c->ops->close(c, why);
		c->wp->free(c->parser);
	}
	buf_free(&c->held);
	buf_free(&c->sniffed);
	buf_free(&c->upgrade_held);
	buf_free(&c->switch_rest);
	free(c->upgrade_req);
	if (c->role == ROLE_UNPARSED)
		pstats.conns_unparsed--;
	HASH_DEL(conns, c);
	if (last_conn == c)
		last_conn = NULL;
	free(c);
	pstats.conns_active--;
}

void conn_close_process(uint32_t tgid, uint64_t ts)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		if (c->key.tgid == tgid)
			conn_close(c, ts, "process exited before the response completed");
	}
	peer_forget_process(tgid);
	cgroup_forget(tgid);
	forget_logged(tgid);
}

void conn_free_all(void)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		conn_close(c, c->info.ts, "daemon stopped");
	}
	struct logged *l, *tmp2;
	HASH_ITER(hh, logged, l, tmp2)
	{
		HASH_DEL(logged, l);
		free(l);
	}
	nlogged = 0;
}

/* ---- The API's view ---- */

const char *conn_state_name(enum conn_state s)
{
	static const char *const names[] = {"pending", "parsed", "unparsed", "server"};
	return (unsigned)s < ARRAY_LEN(names) ? names[s] : "unknown";
}

static void view_of(const struct conn *c, struct conn_view *v)
{
	static const enum conn_state states[] = {
	    [ROLE_UNKNOWN] = CONN_PENDING,
	    [ROLE_CLIENT] = CONN_PARSED,
	    [ROLE_SERVER] = CONN_SERVER,
	    [ROLE_UNPARSED] = CONN_UNPARSED,
	};
	*v = (struct conn_view){
	    .pid = c->key.tgid,
	    .comm = c->info.comm,
	    .fd = c->info.fd,
	    .peer = peer_lookup(c->key.tgid, c->info.fd),
	    .tls = !(c->key.ssl & LLMOBS_PLAIN_CONN),
	    .state = states[c->role],
	    .bytes = {c->bytes[0], c->bytes[1]},
	    .since = c->since,
	};
	if (c->role == ROLE_CLIENT) {
		v->protocol = conn_proto_name(c->info.proto);
	} else if (c->role == ROLE_UNPARSED) {
		v->protocol = c->guess;
		v->reason = c->reason;
	}
}

void conn_foreach(conn_visit_fn fn, void *ctx)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		struct conn_view v;
		view_of(c, &v);
		if (!fn(&v, ctx))
			return;
	}
}
