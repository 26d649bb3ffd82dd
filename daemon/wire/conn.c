/* Connections: continuity of each direction's byte stream (positions from
 * BPF), held writes, sniffing who is the HTTP/1.x client, and the HTTP
 * reassembly of each direction. What the messages mean (pairing, calls) is
 * the layer above's, through struct conn_ops. */
#include "wire/conn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "core/buf.h"
#include "core/cgroup.h"
#include "core/stats.h"
#include "wire/http.h"
#include "wire/peer.h"

enum conn_role { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_SERVER, ROLE_NOT_HTTP };

struct conn {
	struct conn_info info;      /* first: conn_info() is a cast */
	struct llmobs_conn_key key; /* as BPF keys it */
	UT_hash_handle hh;
	enum conn_role role;
	uint64_t next_pos[2];
	bool broken[2]; /* parser stopped after an error or gap; resync pending */
	struct http_conn *http;

	/* A write is copied at SSL_write entry; it is held until we know the
	 * call succeeded (any later record) or failed (WRITE_FAIL). */
	struct buf held;
	uint64_t held_call, held_pos, held_ts;
	bool held_valid;
	struct buf sniffed; /* first bytes, until the role is known */
};

#define SNIFF_MAX 16

static struct conn *conns;
static unsigned n_held; /* connections holding a write (see struct conn) */
static const struct conn_ops *ops;

void conn_set_ops(const struct conn_ops *o)
{
	ops = o;
}

struct conn_info *conn_info(struct conn *c)
{
	return &c->info;
}

/* ---- HTTP callbacks: handed to the protocol layer as they are ---- */

static void http_on_headers(void *ctx, const struct http_msg *m)
{
	ops->headers(ctx, m);
}

static void http_on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	ops->body(ctx, dir, p, n);
}

static void http_on_complete(void *ctx, enum http_dir dir)
{
	ops->complete(ctx, dir);
}

static void http_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_http++;
	c->broken[dir == HTTP_DIR_REQ ? LLMOBS_DIR_WRITE : LLMOBS_DIR_READ] = true;
	ops->error(c, dir, reason);
}

static const struct http_callbacks http_cbs = {
    .on_headers = http_on_headers,
    .on_body = http_on_body,
    .on_complete = http_on_complete,
    .on_error = http_on_error,
};

struct conn *conn_lookup(uint32_t tgid, uint64_t ssl, int create, const struct llmobs_event *ev)
{
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn *c;
	HASH_FIND(hh, conns, &k, sizeof(k), c);
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
	HASH_ADD(hh, conns, key, sizeof(k), c);
	pstats.conns_active++;
	pstats.conns_total++;
	return c;
}

enum sniff { SNIFF_NO = 0, SNIFF_MAYBE, SNIFF_REQUEST, SNIFF_RESPONSE };

/* Does p start an HTTP/1.x request or status line? MAYBE while too short. */
static enum sniff sniff(const char *p, size_t n)
{
	static const char *const starts[] = {"GET ",  "POST ",    "PUT ",    "DELETE ", "PATCH ",
	                                     "HEAD ", "OPTIONS ", "HTTP/1.", NULL};
	bool maybe = false;
	for (int i = 0; starts[i]; i++) {
		size_t m = strlen(starts[i]);
		if (n >= m && !memcmp(p, starts[i], m))
			return starts[i][0] == 'H' && starts[i][1] == 'T' ? SNIFF_RESPONSE
			                                                  : SNIFF_REQUEST;
		if (n < m && !memcmp(p, starts[i], n))
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

/* Decides from the first payload bytes whether we are the HTTP/1.x client.
 * Returns false while the bytes seen so far could still go either way. */
static bool detect_role(struct conn *c, int dir, const char *p, size_t n)
{
	enum sniff k = sniff(p, n);
	if (k == SNIFF_MAYBE)
		return false;
	if ((dir == LLMOBS_DIR_WRITE && k == SNIFF_REQUEST) ||
	    (dir == LLMOBS_DIR_READ && k == SNIFF_RESPONSE))
		c->role = ROLE_CLIENT;
	else if (k != SNIFF_NO)
		c->role = ROLE_SERVER;
	else
		c->role = ROLE_NOT_HTTP;
	if (c->role == ROLE_CLIENT) {
		c->http = http_conn_new(&http_cbs, c);
		c->info.ctx = ops->open(c);
	}
	return true;
}

/* Bytes of this direction that we will never see: the call they belonged
 * to cannot be trusted any more. */
static void lose_bytes(struct conn *c, int dir, uint64_t n, const char *what)
{
	pstats.lost_bytes += n;
	if (c->http) {
		ops->lost(c, dir, n, what);
		c->broken[dir] = true;
	}
}

/* After an error or gap, parsing resumes only where a new message starts. */
static bool try_resync(struct conn *c, int dir, const char *p, size_t n)
{
	bool start = dir == LLMOBS_DIR_WRITE ? starts_with_method(p, n) : starts_with_status(p, n);
	if (!start)
		return false;
	ops->resync(c, dir);
	http_reset_dir(c->http, dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP);
	c->broken[dir] = false;
	return true;
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n);

conn_mute_fn conn_mute_hook;

/* A TLS connection we will never parse (the server side of a local TLS
 * server, or not HTTP/1): ask the capture side to stop copying it. */
static void mute_if_useless(struct conn *c)
{
	if ((c->role != ROLE_SERVER && c->role != ROLE_NOT_HTTP) ||
	    (c->key.ssl & LLMOBS_PLAIN_CONN) || !conn_mute_hook)
		return;
	conn_mute_hook(c->key.tgid, c->key.ssl);
	pstats.conns_muted++;
}

static void feed(struct conn *c, int dir, uint64_t ts, const char *p, size_t n)
{
	c->info.ts = ts;
	if (c->role == ROLE_UNKNOWN) {
		/* Joined mid-exchange (probes attached while the connection was
		 * in use): reads that do not start a message say nothing about
		 * the connection. Skip them until a write or a message start. */
		if (dir == LLMOBS_DIR_READ && !c->sniffed.len && sniff(p, n) == SNIFF_NO) {
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
			c->role = ROLE_NOT_HTTP;
		mute_if_useless(c);
		feed_decided(c, dir, c->sniffed.data, c->sniffed.len);
		buf_free(&c->sniffed);
		return;
	}
	feed_decided(c, dir, p, n);
}

static void feed_decided(struct conn *c, int dir, const char *p, size_t n)
{
	if (c->role == ROLE_NOT_HTTP) {
		pstats.ignored_bytes[IGNORE_NOT_HTTP] += n;
		return;
	}
	if (c->role == ROLE_SERVER) {
		pstats.ignored_bytes[IGNORE_SERVER_SIDE] += n;
		return;
	}
	if (c->broken[dir] && !try_resync(c, dir, p, n)) {
		pstats.ignored_bytes[IGNORE_RESYNC] += n;
		return;
	}
	http_feed(c->http, dir == LLMOBS_DIR_WRITE ? HTTP_DIR_REQ : HTTP_DIR_RESP, p, n);
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
	if (ev->bp_valid && ev->offset == 0 && c->http)
		ops->read_sample(c, ev);
	feed(c, ev->dir, ev->ts_ns, p, n);
}

void conn_write_done(struct conn *c, const struct llmobs_event *ev)
{
	/* the write succeeded: what it held can be parsed now */
	if (c->held_valid && c->held_call == ev->call_id)
		flush_held(c);
	if (c->http)
		ops->write_done(c, ev);
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
	if (c->http && !c->broken[LLMOBS_DIR_READ])
		http_eof(c->http, HTTP_DIR_RESP); /* ends read-until-close bodies */
	if (c->http) {
		ops->close(c, why);
		http_conn_free(c->http);
	}
	buf_free(&c->held);
	buf_free(&c->sniffed);
	HASH_DEL(conns, c);
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
}

void conn_free_all(void)
{
	struct conn *c, *tmp;
	HASH_ITER(hh, conns, c, tmp)
	{
		conn_close(c, c->info.ts, "daemon stopped");
	}
}
