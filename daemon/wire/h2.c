/* HTTP/2 reassembly as a passive observer of both directions (RFC 9113):
 * a frame-header state machine per direction, DATA streamed out as it
 * arrives, header blocks gathered to END_HEADERS and inflated with
 * libnghttp2's standalone HPACK decoder (never nghttp2_session: it
 * rejects streams it did not see opened). The client's receive windows
 * are followed to see when the server had nothing left to send with. */
#include "wire/h2.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "core/macros.h"
#include "core/buf.h"

enum {
	T_DATA = 0,
	T_HEADERS,
	T_PRIORITY,
	T_RST_STREAM,
	T_SETTINGS,
	T_PUSH_PROMISE,
	T_PING,
	T_GOAWAY,
	T_WINDOW_UPDATE,
	T_CONTINUATION,
	T_KNOWN,
};
enum { F_END_STREAM = 0x1, F_ACK = 0x1, F_END_HEADERS = 0x4, F_PADDED = 0x8, F_PRIORITY = 0x20 };
enum { S_HEADER_TABLE_SIZE = 1, S_INITIAL_WINDOW_SIZE = 4 };

#define FRAME_HEADER   9
#define BLOCK_MAX      (256u << 10) /* a header block past this is not decoded */
#define CTL_MAX        2048u        /* control payload kept (SETTINGS, GOAWAY head) */
#define STREAMS_MAX    1024u        /* streams whose state is kept per connection */
#define TABLE_DEFAULT  4096u        /* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define TABLE_JOINED   65536u       /* table size allowed when the settings were missed */
#define TABLE_CAP      65536u       /* the most a table is allowed here (Chrome's size) */
#define WINDOW_DEFAULT 65535

struct h2_stream {
	uint32_t sid;
	bool final_headers[2]; /* a non-1xx header block was seen in that direction */
	bool ended[2];
	bool stalled;
	int64_t window; /* the server's send window, as the client granted it */
	UT_hash_handle hh;
};

struct dir_state {
	nghttp2_hd_inflater *hd;
	size_t table_max; /* the largest table size its encoder may use */
	uint8_t hdr[FRAME_HEADER];
	size_t hdr_len;
	bool in_frame;
	uint32_t len, sid, got; /* the frame in progress, and its bytes consumed */
	uint8_t type, flags;
	uint32_t pad;     /* padding at the payload's end */
	uint32_t skip;    /* payload head before the content (pad length, priority, promise) */
	struct buf ctl;   /* control frame payload */
	struct buf block; /* header block being gathered */
	uint32_t block_sid;
	bool in_block; /* a CONTINUATION must follow */
	bool block_end_stream, block_push;
	bool failed;
	size_t preface_got;  /* REQ: bytes of a client preface matched */
	bool preface_is_new; /* ... at a frame boundary of a running connection */
	bool preface_first;  /* REQ: the connection's first bytes must be one */
};

struct h2_conn {
	const struct h2_callbacks *cb;
	void *ctx;
	struct dir_state d[2];
	struct h2_stream *streams;
	unsigned nstreams;
	bool joined;         /* seen from the middle: windows and settings unknown */
	int64_t conn_window; /* the connection's send window of the server */
	bool conn_stalled;
	int64_t init_window; /* the client's SETTINGS_INITIAL_WINDOW_SIZE */
	struct h2_stats st;
};

static const char *const error_names[] = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

const char *h2_error_name(uint32_t code)
{
	return code < ARRAY_LEN(error_names) ? error_names[code] : "UNKNOWN";
}

static uint32_t u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- HPACK decoders ---- */

/* Feeds d's decoder a dynamic table size update to max, as its encoder
 * would send one at the start of a block. */
static void table_resize(struct dir_state *d, size_t max)
{
	uint8_t upd[8]; /* the update, an HPACK integer of a 5-bit prefix */
	size_t n = 0;
	if (max < 31) {
		upd[n++] = (uint8_t)(0x20 | max);
	} else {
		upd[n++] = 0x3f;
		size_t v = max - 31;
		for (; v >= 128 && n < sizeof(upd) - 1; v >>= 7)
			upd[n++] = (uint8_t)(0x80 | (v & 0x7f));
		upd[n++] = (uint8_t)v;
	}
	nghttp2_nv nv;
	int flags = 0;
	if (nghttp2_hd_inflate_hd2(d->hd, &nv, &flags, upd, n, 1) >= 0)
		nghttp2_hd_inflate_end_headers(d->hd);
}

/* The largest table d's encoder may use is now max (at most TABLE_CAP: a
 * larger table's far entries are then lost, counted, never misread).
 * Below its current limit, nghttp2 then rejects any block that does not
 * start with a table size update; but an encoder whose table already fits
 * need not send one (RFC 9113 4.3.1), and a restarted decoder's never gets
 * one. When the table fits, the update is applied here. */
static void table_limit(struct dir_state *d, size_t max)
{
	if (max > TABLE_CAP)
		max = TABLE_CAP;
	size_t used = nghttp2_hd_inflate_get_dynamic_table_size(d->hd);
	size_t cur = nghttp2_hd_inflate_get_max_dynamic_table_size(d->hd);
	d->table_max = max;
	nghttp2_hd_inflate_change_table_size(d->hd, max);
	if (max < cur && used <= max)
		table_resize(d, max);
}

static void inflater_restart(struct dir_state *d)
{
	if (d->hd)
		nghttp2_hd_inflate_del(d->hd);
	if (nghttp2_hd_inflate_new(&d->hd) != 0) {
		fprintf(stderr, "llmobsd: out of memory (HPACK decoder)\n");
		abort();
	}
	table_limit(d, d->table_max);
}

/* ---- Streams ---- */

static struct h2_stream *stream_find(struct h2_conn *c, uint32_t sid)
{
	struct h2_stream *s;
	HASH_FIND(hh, c->streams, &sid, sizeof(sid), s);
	return s;
}

static struct h2_stream *stream_get(struct h2_conn *c, uint32_t sid)
{
	struct h2_stream *s = stream_find(c, sid);
	if (s || c->nstreams >= STREAMS_MAX)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->sid = sid;
	s->window = c->init_window;
	HASH_ADD(hh, c->streams, sid, sizeof(sid), s);
	c->nstreams++;
	return s;
}

static void stream_free(struct h2_conn *c, struct h2_stream *s)
{
	HASH_DEL(c->streams, s);
	c->nstreams--;
	free(s);
}

static void streams_free(struct h2_conn *c)
{
	struct h2_stream *s, *tmp;
	HASH_ITER(hh, c->streams, s, tmp)
	{
		stream_free(c, s);
	}
}

/* A window moved by delta: report when the server's sending stops or resumes. */
static void window_move(struct h2_conn *c, uint32_t sid, int64_t *w, bool *stalled, int64_t delta)
{
	*w += delta;
	bool now = *w <= 0;
	if (now == *stalled)
		return;
	*stalled = now;
	if (!c->joined && c->cb->on_window)
		c->cb->on_window(c->ctx, sid, now);
}

static void end_stream(struct h2_conn *c, enum http_dir dir, uint32_t sid)
{
	c->cb->on_end(c->ctx, dir, sid);
	struct h2_stream *s = stream_find(c, sid);
	if (!s)
		return;
	s->ended[dir] = true;
	if (s->ended[HTTP_DIR_REQ] && s->ended[HTTP_DIR_RESP])
		stream_free(c, s);
}

/* ---- Header fields kept (never credentials) ---- */

static void keep(struct h2_conn *c, char *field, size_t cap, const uint8_t *v, size_t n)
{
	size_t k = n < cap - 1 ? n : cap - 1;
	if (k < n)
		c->st.header_cut_bytes += n - k;
	memcpy(field, v, k);
	field[k] = '\0';
}

static bool named(const nghttp2_nv *nv, const char *name)
{
	return nv->namelen == strlen(name) && !memcmp(nv->name, name, nv->namelen);
}

static int64_t number(const uint8_t *v, size_t n)
{
	int64_t x = 0;
	if (!n || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static void keep_field(struct h2_conn *c, struct http_msg *m, const nghttp2_nv *nv)
{
	if (named(nv, ":method")) {
		keep(c, m->method, sizeof(m->method), nv->value, nv->valuelen);
	} else if (named(nv, ":path")) {
		/* the query may carry a key: never kept */
		const uint8_t *q = memchr(nv->value, '?', nv->valuelen);
		keep(c, m->path, sizeof(m->path), nv->value,
		     q ? (size_t)(q - nv->value) : nv->valuelen);
	} else if (named(nv, ":authority") || (named(nv, "host") && !m->host[0])) {
		keep(c, m->host, sizeof(m->host), nv->value, nv->valuelen);
	} else if (named(nv, ":status")) {
		int64_t s = number(nv->value, nv->valuelen);
		m->status = s >= 0 && s < 1000 ? (int)s : 0;
	} else if (named(nv, "content-type")) {
		keep(c, m->content_type, sizeof(m->content_type), nv->value, nv->valuelen);
	} else if (named(nv, "content-encoding")) {
		keep(c, m->content_encoding, sizeof(m->content_encoding), nv->value, nv->valuelen);
	} else if (named(nv, "user-agent")) {
		keep(c, m->user_agent, sizeof(m->user_agent), nv->value, nv->valuelen);
	} else if (named(nv, "content-length")) {
		m->content_length = number(nv->value, nv->valuelen);
	}
}

/* The gathered block of dir, at END_HEADERS. */
static void decode_block(struct h2_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	uint32_t sid = d->block_sid;
	bool push = d->block_push, end = d->block_end_stream;
	struct http_msg m = {.dir = dir, .content_length = -1, .keep_alive = true, .http_major = 2};
	const char *lost = NULL;
	if (d->block.cut) {
		lost = "header block larger than 256 KiB";
	} else {
		/* an empty block was never allocated: no offset on NULL */
		const uint8_t *in = (const uint8_t *)(d->block.data ? d->block.data : "");
		size_t inlen = d->block.len;
		for (;;) {
			nghttp2_nv nv;
			int flags = 0;
			ssize_t rv = nghttp2_hd_inflate_hd2(d->hd, &nv, &flags, in, inlen, 1);
			if (rv < 0) {
				lost = "HPACK state unknown or corrupt block";
				break;
			}
			in += rv;
			inlen -= (size_t)rv;
			if (flags & NGHTTP2_HD_INFLATE_EMIT)
				keep_field(c, &m, &nv);
			if (flags & NGHTTP2_HD_INFLATE_FINAL) {
				nghttp2_hd_inflate_end_headers(d->hd);
				break;
			}
			if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0) {
				lost = "header block ended inside a field";
				break;
			}
		}
	}
	buf_free(&d->block);
	buf_init(&d->block, BLOCK_MAX);
	d->in_block = false;
	if (lost) {
		/* a fresh table can only fail on what it never saw, never mislead */
		c->st.headers_lost++;
		inflater_restart(d);
		if (!push)
			c->cb->on_headers_lost(c->ctx, dir, sid, lost);
		if (end && !push)
			end_stream(c, dir, sid);
		return;
	}
	c->st.header_blocks[dir]++;
	if (push)
		return; /* kept the table right; pushed streams are not calls */
	struct h2_stream *s = stream_get(c, sid);
	bool trailers = s && s->final_headers[dir];
	bool interim = dir == HTTP_DIR_RESP && m.status >= 100 && m.status < 200;
	if (s && !interim)
		s->final_headers[dir] = true;
	c->cb->on_headers(c->ctx, sid, &m, trailers);
	if (end)
		end_stream(c, dir, sid);
}

/* ---- Frames ---- */

static void fail(struct h2_conn *c, enum http_dir dir, const char *why)
{
	struct dir_state *d = &c->d[dir];
	d->failed = true;
	c->st.errors++;
	c->cb->on_error(c->ctx, dir, why);
}

static void reset_all(struct h2_conn *c);

static void apply_settings(struct h2_conn *c, enum http_dir dir, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i += 6) {
		uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
		uint32_t v = u32(p + i + 2);
		if (id == S_HEADER_TABLE_SIZE) {
			/* limits the table of the encoder on the other side: the
			 * decoder of the other direction */
			if (c->joined && v < TABLE_JOINED)
				v = TABLE_JOINED;
			table_limit(&c->d[!dir], v);
		} else if (id == S_INITIAL_WINDOW_SIZE && dir == HTTP_DIR_REQ && v <= 0x7fffffff) {
			int64_t delta = (int64_t)v - c->init_window;
			c->init_window = v;
			struct h2_stream *s, *tmp;
			HASH_ITER(hh, c->streams, s, tmp)
			{
				window_move(c, s->sid, &s->window, &s->stalled, delta);
			}
		}
	}
}

/* A whole frame of dir was consumed. */
static void frame_done(struct h2_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *p = (const uint8_t *)d->ctl.data;
	size_t n = d->ctl.len;
	c->st.frames[dir]++;
	switch (d->type) {
	case T_DATA:
		if (dir == HTTP_DIR_RESP) {
			struct h2_stream *s = stream_find(c, d->sid);
			if (s)
				window_move(c, d->sid, &s->window, &s->stalled, -(int64_t)d->len);
			window_move(c, 0, &c->conn_window, &c->conn_stalled, -(int64_t)d->len);
		}
		if (d->flags & F_END_STREAM)
			end_stream(c, dir, d->sid);
		break;
	case T_HEADERS:
	case T_PUSH_PROMISE:
		d->block_sid = d->sid;
		d->block_end_stream = d->type == T_HEADERS && (d->flags & F_END_STREAM);
		d->block_push = d->type == T_PUSH_PROMISE;
		/* fall through */
	case T_CONTINUATION:
		if (d->flags & F_END_HEADERS)
			decode_block(c, dir);
		else
			d->in_block = true;
		break;
	case T_RST_STREAM:
		if (n >= 4) {
			c->cb->on_reset(c->ctx, dir, d->sid, u32(p));
			struct h2_stream *s = stream_find(c, d->sid);
			if (s)
				stream_free(c, s);
		}
		break;
	case T_SETTINGS:
		if (!(d->flags & F_ACK))
			apply_settings(c, dir, p, n);
		break;
	case T_GOAWAY:
		if (n >= 8)
			c->cb->on_goaway(c->ctx, dir, u32(p) & 0x7fffffff, u32(p + 4));
		break;
	case T_WINDOW_UPDATE:
		if (n >= 4 && dir == HTTP_DIR_REQ) { /* the client grants the server more */
			uint32_t inc = u32(p) & 0x7fffffff;
			struct h2_stream *s = d->sid ? stream_find(c, d->sid) : NULL;
			if (!d->sid)
				window_move(c, 0, &c->conn_window, &c->conn_stalled, inc);
			else if (s)
				window_move(c, d->sid, &s->window, &s->stalled, inc);
		}
		break;
	default: /* PRIORITY, PING, unknown types: nothing a call needs */
		break;
	}
	d->in_frame = false;
	d->hdr_len = 0;
	buf_reset(&d->ctl);
}

/* Frames that belong to a stream (WINDOW_UPDATE may, or be the
 * connection's on stream 0). */
static bool stream_frame(uint8_t type)
{
	return type == T_DATA || type == T_HEADERS || type == T_PRIORITY || type == T_RST_STREAM ||
	       type == T_PUSH_PROMISE || type == T_CONTINUATION;
}

/* The 9 header bytes of dir's next frame are in d->hdr: check and start it. */
static bool frame_begin(struct h2_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *h = d->hdr;
	d->len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	d->type = h[3];
	d->flags = h[4];
	d->sid = u32(h + 5) & 0x7fffffff;
	d->got = 0;
	d->pad = 0;
	d->skip = 0;
	if (d->in_block && (d->type != T_CONTINUATION || d->sid != d->block_sid)) {
		fail(c, dir, "a header block was not continued by CONTINUATION");
		return false;
	}
	if (!d->in_block && d->type == T_CONTINUATION) {
		fail(c, dir, "CONTINUATION without a header block");
		return false;
	}
	if (d->type < T_KNOWN && d->type != T_WINDOW_UPDATE &&
	    stream_frame(d->type) != (d->sid != 0)) {
		fail(c, dir, d->sid ? "connection frame on a stream" : "stream frame on stream 0");
		return false;
	}
	if ((d->type == T_SETTINGS && d->len % 6) || (d->type == T_WINDOW_UPDATE && d->len != 4) ||
	    (d->type == T_RST_STREAM && d->len != 4) || (d->type == T_PING && d->len != 8) ||
	    (d->type == T_PRIORITY && d->len != 5) || (d->type == T_GOAWAY && d->len < 8)) {
		fail(c, dir, "control frame of a wrong length");
		return false;
	}
	bool padded = (d->type == T_DATA || d->type == T_HEADERS || d->type == T_PUSH_PROMISE) &&
	              (d->flags & F_PADDED);
	d->skip = padded ? 1 : 0;
	if (d->type == T_HEADERS && (d->flags & F_PRIORITY))
		d->skip += 5;
	if (d->type == T_PUSH_PROMISE)
		d->skip += 4;
	if (d->skip > d->len) {
		fail(c, dir, "frame shorter than its padding and priority fields");
		return false;
	}
	d->in_frame = true;
	return true;
}

/* Payload bytes p[0..n) of dir's frame, at offset d->got. */
static void payload(struct h2_conn *c, enum http_dir dir, const uint8_t *p, size_t n)
{
	struct dir_state *d = &c->d[dir];
	bool padded = (d->type == T_DATA || d->type == T_HEADERS || d->type == T_PUSH_PROMISE) &&
	              (d->flags & F_PADDED);
	if (padded && d->got == 0 && n) {
		d->pad = p[0];
		if (d->pad > d->len - d->skip) {
			fail(c, dir, "padding longer than the frame");
			return;
		}
	}
	/* content lies in [skip, len - pad) */
	uint32_t lo = d->skip, hi = d->len - d->pad;
	uint32_t from = d->got, to = d->got + (uint32_t)n;
	uint32_t a = from > lo ? from : lo, b = to < hi ? to : hi;
	const uint8_t *content = a < b ? p + (a - from) : NULL;
	size_t clen = a < b ? b - a : 0;
	switch (d->type) {
	case T_DATA:
		if (clen)
			c->cb->on_data(c->ctx, dir, d->sid, (const char *)content, clen);
		break;
	case T_HEADERS:
	case T_PUSH_PROMISE:
	case T_CONTINUATION:
		if (clen)
			buf_append(&d->block, content, clen);
		break;
	default:
		if (d->ctl.len < CTL_MAX)
			buf_append(&d->ctl, p, n < CTL_MAX - d->ctl.len ? n : CTL_MAX - d->ctl.len);
		break;
	}
}

/* REQ at a frame boundary may begin a client preface: matched byte by
 * byte; returns bytes consumed (0: not a preface). */
static size_t preface(struct h2_conn *c, const uint8_t *p, size_t n)
{
	struct dir_state *d = &c->d[HTTP_DIR_REQ];
	size_t k = 0;
	while (k < n && d->preface_got < H2_PREFACE_LEN) {
		if (p[k] != (uint8_t)H2_PREFACE[d->preface_got]) {
			d->preface_got = 0;
			fail(c, HTTP_DIR_REQ, "not the HTTP/2 client preface");
			return k; /* the rest is skipped (counted) */
		}
		d->preface_got++;
		k++;
	}
	if (d->preface_got == H2_PREFACE_LEN) {
		d->preface_got = 0;
		if (d->preface_is_new) {
			d->preface_is_new = false;
			reset_all(c);
			if (c->cb->on_preface)
				c->cb->on_preface(c->ctx);
		}
	}
	return k;
}

void h2_feed(struct h2_conn *c, enum http_dir dir, const char *data, size_t n)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *p = (const uint8_t *)data;
	c->st.bytes[dir] += n;
	while (n) {
		if (d->failed) {
			c->st.skipped_bytes[dir] += n;
			return;
		}
		if (d->preface_got) {
			size_t k = preface(c, p, n);
			p += k;
			n -= k;
			continue;
		}
		if (!d->in_frame) {
			size_t k = FRAME_HEADER - d->hdr_len < n ? FRAME_HEADER - d->hdr_len : n;
			memcpy(d->hdr + d->hdr_len, p, k);
			d->hdr_len += k;
			p += k;
			n -= k;
			if (d->hdr_len < FRAME_HEADER)
				continue;
			/* "PRI * HTT" is no frame a client sends: a (new) connection */
			if (dir == HTTP_DIR_REQ && !memcmp(d->hdr, H2_PREFACE, FRAME_HEADER)) {
				d->hdr_len = 0;
				d->preface_got = FRAME_HEADER;
				d->preface_is_new = !d->preface_first;
				d->preface_first = false;
				continue;
			}
			if (d->preface_first) {
				fail(c, dir, "not the HTTP/2 client preface");
				continue;
			}
			if (frame_begin(c, dir) && d->len == 0)
				frame_done(c, dir);
			continue;
		}
		size_t k = d->len - d->got < n ? d->len - d->got : n;
		payload(c, dir, p, k);
		if (d->failed)
			continue;
		d->got += (uint32_t)k;
		p += k;
		n -= k;
		if (d->got == d->len)
			frame_done(c, dir);
	}
}

/* ---- Connection ---- */

static void dir_init(struct dir_state *d, size_t table_max)
{
	d->table_max = table_max;
	inflater_restart(d);
	d->hdr_len = 0;
	d->in_frame = false;
	d->in_block = false;
	d->failed = false;
	d->preface_got = 0;
	d->preface_is_new = false;
	d->preface_first = false;
	buf_free(&d->ctl);
	buf_free(&d->block);
	buf_init(&d->ctl, CTL_MAX);
	buf_init(&d->block, BLOCK_MAX);
}

static void reset_all(struct h2_conn *c)
{
	streams_free(c);
	c->joined = false;
	c->conn_window = WINDOW_DEFAULT;
	c->conn_stalled = false;
	c->init_window = WINDOW_DEFAULT;
	for (int i = 0; i < 2; i++)
		dir_init(&c->d[i], TABLE_DEFAULT);
}

struct h2_conn *h2_conn_new(const struct h2_callbacks *cb, void *ctx, bool with_preface)
{
	struct h2_conn *c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->ctx = ctx;
	reset_all(c);
	c->d[HTTP_DIR_REQ].preface_first = with_preface;
	if (!with_preface) {
		/* Joining: the table sizes were negotiated before us. A decoder
		 * allowed more than its encoder uses keeps entries the encoder
		 * evicted, which the encoder never refers to again; the entries
		 * both have are the newest, in the same order. So more is safe. */
		c->joined = true;
		for (int i = 0; i < 2; i++) { /* and hold that much, not 4096 */
			table_limit(&c->d[i], TABLE_JOINED);
			table_resize(&c->d[i], TABLE_JOINED);
		}
	}
	return c;
}

void h2_conn_free(struct h2_conn *c)
{
	if (!c)
		return;
	streams_free(c);
	for (int i = 0; i < 2; i++) {
		nghttp2_hd_inflate_del(c->d[i].hd);
		buf_free(&c->d[i].ctl);
		buf_free(&c->d[i].block);
	}
	free(c);
}

void h2_reset_dir(struct h2_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	size_t table = d->table_max;
	dir_init(d, table);
}

const struct h2_stats *h2_conn_stats(const struct h2_conn *c)
{
	return &c->st;
}

size_t h2_conn_memory(const struct h2_conn *c)
{
	size_t n = sizeof(*c) + c->nstreams * sizeof(struct h2_stream);
	for (int i = 0; i < 2; i++)
		n += c->d[i].ctl.cap + c->d[i].block.cap +
		     nghttp2_hd_inflate_get_dynamic_table_size(c->d[i].hd);
	return n;
}

/* ---- Recognising frames of a connection joined mid-way ---- */

static bool plausible_frame(enum http_dir dir, uint8_t type, uint8_t flags, uint32_t sid,
                            uint32_t len)
{
	static const uint8_t allowed[T_KNOWN] = {
	    [T_DATA] = F_END_STREAM | F_PADDED,
	    [T_HEADERS] = F_END_STREAM | F_END_HEADERS | F_PADDED | F_PRIORITY,
	    [T_SETTINGS] = F_ACK,
	    [T_PUSH_PROMISE] = F_END_HEADERS | F_PADDED,
	    [T_PING] = F_ACK,
	    [T_CONTINUATION] = F_END_HEADERS,
	};
	if (type >= T_KNOWN || (flags & ~allowed[type]) ||
	    (type != T_WINDOW_UPDATE && stream_frame(type) != (sid != 0)))
		return false;
	switch (type) {
	case T_HEADERS:
		return dir == HTTP_DIR_RESP || (sid & 1); /* clients open odd streams */
	case T_PRIORITY:
		return len == 5;
	case T_RST_STREAM:
	case T_WINDOW_UPDATE:
		return len == 4;
	case T_SETTINGS:
		return len % 6 == 0 && (!(flags & F_ACK) || len == 0);
	case T_PUSH_PROMISE:
		return dir == HTTP_DIR_RESP && len >= 4;
	case T_PING:
		return len == 8;
	case T_GOAWAY:
		return len >= 8;
	default:
		return true;
	}
}

/* The static-table index of the first field of a header block (HPACK
 * indexed or literal with an indexed name), 0 when it has none: 1-7 are
 * the request pseudo-headers, 8-14 :status. */
static unsigned first_field_index(uint8_t type, uint8_t flags, const uint8_t *p, uint32_t len)
{
	uint32_t skip = (flags & F_PADDED) ? 1 : 0;
	if (type == T_HEADERS && (flags & F_PRIORITY))
		skip += 5;
	if (skip >= len)
		return 0;
	uint8_t b = p[skip];
	if (b & 0x80)
		return b & 0x7f;
	if (b & 0x40)
		return b & 0x3f;
	if ((b & 0xe0) == 0x20)
		return 0; /* a dynamic table size update: look no further */
	return b & 0x0f;
}

/* Whole frames, each plausible for a client of dir. */
static bool frames_ok(enum http_dir dir, const uint8_t *p, size_t n)
{
	size_t off = 0;
	if (n < FRAME_HEADER)
		return false;
	while (off < n) {
		if (n - off < FRAME_HEADER || (p[off + 5] & 0x80))
			return false;
		uint32_t len = (uint32_t)p[off] << 16 | (uint32_t)p[off + 1] << 8 | p[off + 2];
		if (!plausible_frame(dir, p[off + 3], p[off + 4], u32(p + off + 5) & 0x7fffffff,
		                     len))
			return false;
		if (len > n - off - FRAME_HEADER)
			return false;
		off += FRAME_HEADER + len;
	}
	return true;
}

/* Which end writes (dir REQ) or reads (RESP) these frames: a server sends
 * its SETTINGS first on a new connection, and each end's header blocks
 * start with its own pseudo-headers. +1 a client, -1 a server, 0 no sign. */
static int side_hint(enum http_dir dir, const uint8_t *p, size_t n)
{
	int sign = dir == HTTP_DIR_REQ ? 1 : -1; /* written by us: our own kind */
	uint32_t first_len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	if (p[3] == T_SETTINGS && !(p[4] & F_ACK) && first_len)
		return -sign;
	for (size_t off = 0; off + FRAME_HEADER <= n;) {
		uint32_t len = (uint32_t)p[off] << 16 | (uint32_t)p[off + 1] << 8 | p[off + 2];
		if (p[off + 3] == T_HEADERS) {
			unsigned i =
			    first_field_index(p[off + 3], p[off + 4], p + off + FRAME_HEADER, len);
			if (i >= 1 && i <= 7)
				return sign; /* a request */
			if (i >= 8 && i <= 14)
				return -sign; /* a response */
		}
		off += FRAME_HEADER + len;
	}
	return 0;
}

enum h2_side h2_frames_side(enum http_dir dir, const char *data, size_t n)
{
	const uint8_t *p = (const uint8_t *)data;
	bool client = frames_ok(dir, p, n), server = frames_ok(!dir, p, n);
	if (!client && !server)
		return H2_SIDE_NONE;
	int hint = side_hint(dir, p, n);
	if (hint < 0)
		return server ? H2_SIDE_SERVER : H2_SIDE_NONE;
	if (hint > 0)
		return client ? H2_SIDE_CLIENT : H2_SIDE_NONE;
	return client ? H2_SIDE_CLIENT : H2_SIDE_SERVER;
}

bool h2_frames_plausible(enum http_dir dir, const char *data, size_t n)
{
	return h2_frames_side(dir, data, n) == H2_SIDE_CLIENT;
}
