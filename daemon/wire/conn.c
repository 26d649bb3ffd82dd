/* Connections: continuity of each direction's byte stream (positions from
 * BPF), held writes, sniffing who is the client and which protocol it
 * speaks (HTTP/1.x, HTTP/2, WebSocket after an HTTP/1.1 upgrade), and
 * handing each direction to that protocol's parser (struct wire_proto,
 * conn_protos.c).
 * What the messages mean (pairing, calls) is the layer above's, through
 * struct conn_ops. A connection that is not parsed says so: listed with
 * its reason (conn_foreach), logged once per process and reason. */
#include "wire/conn.h"
#include "wire/conn_int.h"

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

bool starts_with_method(const char *p, size_t n)
{
	return sniff(p, n) == SNIFF_REQUEST;
}

bool starts_with_status(const char *p, size_t n)
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
	/* BPF rolled its position back to the end of what the call wrote (none
	 * of it when it failed); the app will write the rest again. */
	uint64_t end = ev->pos + ev->orig_len;
	size_t keep = 0;
	if (ev->orig_len && end > c->held_pos)
		keep = end - c->held_pos < c->held.len ? (size_t)(end - c->held_pos) : c->held.len;
	pstats.write_retry_bytes += c->held.len - keep;
	c->next_pos[LLMOBS_DIR_WRITE] = c->held_pos + keep;
	buf_truncate(&c->held, keep);
	if (keep) {
		flush_held(c);
		return;
	}
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
