/* WebSocket reassembly (RFC 6455) with permessage-deflate (RFC 7692): a
 * frame-header state machine per direction, payload unmasked as it streams
 * through, data messages joined (and inflated as their bytes arrive) up to
 * WS_MESSAGE_MAX, control frames gathered whole (at most 125 bytes). */
#define ZLIB_CONST
#include "wire/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/macros.h"
#include "core/buf.h"

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum { B_FIN = 0x80, B_RSV1 = 0x40, B_RSV23 = 0x30, B_OP = 0x0f, B_MASK = 0x80, B_LEN = 0x7f };

#define HEADER_MAX  14
#define CONTROL_MAX 125
#define WINDOW      32768u      /* the decoder's window (15 bits) */
#define ZSTATE      (7u << 10)  /* zlib's inflate state, about */
#define KEEP_MAX    (64u << 10) /* a message buffer larger than this is freed after use */
#define CHUNK       4096

/* Why dir's inflater restarted without the history its sender's compressor
 * may refer to. A fresh inflater fails on such a reference ("too far
 * back"), it never decodes it to wrong bytes. */
enum history { H_WHOLE, H_JOINED, H_GAP, H_CORRUPT };

static const char *const history_lost[] = {
    [H_JOINED] = "deflate context unknown (joined mid-connection)",
    [H_GAP] = "deflate context unknown (after a gap)",
    [H_CORRUPT] = "deflate context unknown (after corrupt data)",
};

#define TOO_LARGE "message larger than 4 MiB"
#define TAIL      "message begun before a join or gap"

struct dir_state {
	/* the frame */
	uint8_t hdr[HEADER_MAX];
	size_t hdr_len;
	bool in_frame;
	uint8_t op;
	bool fin, masked;
	uint8_t mask[4];
	uint64_t len, got;
	struct buf ctl; /* a control frame's payload */
	/* the data message */
	bool in_msg, text, compressed;
	bool tail_ok;     /* a continuation may end a message begun before a join or gap */
	const char *lost; /* why the message will not be handed on */
	uint64_t wire;    /* its bytes so far, frame headers included */
	struct buf msg;
	/* its inflater */
	z_stream z;
	bool z_live;
	bool z_end, z_bad; /* the stream ended (BFINAL) or failed: no more input */
	enum history hist;
	char why[96];
	bool failed;
};

struct ws_conn {
	const struct ws_callbacks *cb;
	void *ctx;
	struct ws_options o;
	struct dir_state d[2];
	struct ws_stats st;
};

static const char *const close_names[] = {
    "normal closure",   "going away",         "protocol error",      "unsupported data",
    "reserved",         "no status received", "abnormal closure",    "invalid frame payload data",
    "policy violation", "message too big",    "mandatory extension", "internal error",
    "service restart",  "try again later",    "bad gateway",         "TLS handshake failure",
};

const char *ws_close_name(unsigned code)
{
	return code >= 1000 && code - 1000 < ARRAY_LEN(close_names) ? close_names[code - 1000]
	                                                            : "unknown";
}

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The header's length, from its first two bytes. */
static size_t header_len(const uint8_t *h)
{
	uint8_t l7 = h[1] & B_LEN;
	return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (h[1] & B_MASK ? 4 : 0);
}

static bool known_opcode(uint8_t op)
{
	return op <= OP_BINARY || (op >= OP_CLOSE && op <= OP_PONG);
}

/* ---- Inflaters ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return xmalloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

static void inflater_start(struct dir_state *d)
{
	memset(&d->z, 0, sizeof(d->z));
	d->z.zalloc = z_alloc;
	d->z.zfree = z_free;
	/* 15 whatever the sender's window: a larger window decodes any smaller one */
	if (inflateInit2(&d->z, -15) != Z_OK) {
		fprintf(stderr, "llmobsd: out of memory (inflater)\n");
		abort();
	}
	d->z_live = true;
}

static void inflater_end(struct dir_state *d)
{
	if (d->z_live)
		inflateEnd(&d->z);
	d->z_live = false;
}

/* After a stream ended with BFINAL, the next message starts a new stream
 * over the same window (context takeover): carry the window across. */
static void inflater_restart_keep(struct dir_state *d)
{
	Bytef *dict = xmalloc(WINDOW);
	uInt n = 0;
	inflateGetDictionary(&d->z, dict, &n);
	inflateReset(&d->z);
	if (n)
		inflateSetDictionary(&d->z, dict, n);
	free(dict);
}

/* ---- Data messages ---- */

static void msg_release(struct dir_state *d)
{
	buf_free(&d->msg);
	buf_init(&d->msg, WS_MESSAGE_MAX);
}

/* Message bytes (plain, or out of the inflater) kept to WS_MESSAGE_MAX. */
static void keep(struct dir_state *d, const void *p, size_t n)
{
	if (d->lost || !n)
		return;
	if (n > WS_MESSAGE_MAX - d->msg.len) {
		d->lost = TOO_LARGE;
		msg_release(d);
		return;
	}
	buf_append(&d->msg, p, n);
}

static void inflate_failed(struct dir_state *d)
{
	bool far = d->z.msg && !strcmp(d->z.msg, "invalid distance too far back");
	d->z_bad = true;
	if (far && d->hist != H_WHOLE) {
		/* a reference to history the inflater never saw */
		if (!d->lost) {
			d->lost = history_lost[d->hist];
			msg_release(d);
		}
		return;
	}
	d->hist = H_CORRUPT;
	if (!d->lost) {
		snprintf(d->why, sizeof(d->why), "corrupt permessage-deflate data: %s",
		         d->z.msg ? d->z.msg : "error");
		d->lost = d->why;
		msg_release(d);
	}
}

/* Does dir's message still feed its inflater? A message dropped for its
 * size still does with context takeover: the next one may refer to it. */
static bool inflating(const struct ws_conn *c, enum http_dir dir)
{
	const struct dir_state *d = &c->d[dir];
	return d->compressed && !d->z_end && !d->z_bad &&
	       !(d->lost && c->o.no_context_takeover[dir]);
}

static void inflate_bytes(struct ws_conn *c, enum http_dir dir, const uint8_t *p, size_t n)
{
	struct dir_state *d = &c->d[dir];
	uint8_t out[4 * CHUNK];
	d->z.next_in = p;
	d->z.avail_in = (uInt)n;
	for (;;) {
		d->z.next_out = out;
		d->z.avail_out = sizeof(out);
		int rv = inflate(&d->z, Z_SYNC_FLUSH);
		size_t got = sizeof(out) - d->z.avail_out;
		c->st.inflated_bytes[dir] += got;
		keep(d, out, got);
		if (rv == Z_STREAM_END) {
			d->z_end = true; /* what follows (the appended 00 00 ff ff) is ignored */
			return;
		}
		if (rv != Z_OK && rv != Z_BUF_ERROR) {
			inflate_failed(d);
			return;
		}
		/* room left: all input taken and all output out */
		if (d->z.avail_out || !inflating(c, dir))
			return;
	}
}

static void message_start(struct ws_conn *c, enum http_dir dir, bool rsv1)
{
	struct dir_state *d = &c->d[dir];
	d->in_msg = true;
	d->text = d->op == OP_TEXT;
	d->compressed = rsv1;
	d->lost = NULL;
	d->wire = 0;
	if (!rsv1)
		return;
	if (!d->z_live)
		inflater_start(d);
	d->z_end = d->z_bad = false;
}

static void message_clear(struct dir_state *d)
{
	d->in_msg = d->compressed = false;
	d->lost = NULL;
	d->wire = 0;
	if (d->msg.cap > KEEP_MAX)
		msg_release(d);
	else
		buf_reset(&d->msg);
}

static void message_end(struct ws_conn *c, enum http_dir dir)
{
	static const uint8_t flush[4] = {0x00, 0x00, 0xff, 0xff}; /* RFC 7692 7.2.2 */
	struct dir_state *d = &c->d[dir];
	if (inflating(c, dir))
		inflate_bytes(c, dir, flush, sizeof(flush));
	if (d->compressed) {
		if (d->z_bad || c->o.no_context_takeover[dir]) {
			inflater_end(d); /* restarts empty */
			if (c->o.no_context_takeover[dir])
				d->hist = H_WHOLE;
		} else if (d->z_end) {
			inflater_restart_keep(d);
		}
	}
	if (d->lost) {
		c->st.unparsed[dir]++;
		c->cb->on_unparsed(c->ctx, dir, d->lost, d->wire);
	} else {
		c->st.messages[dir]++;
		c->cb->on_message(c->ctx, dir, d->text, d->msg.data ? d->msg.data : "", d->msg.len);
	}
	message_clear(d);
}

/* Payload bytes of dir's data frame, unmasked. */
static void data_bytes(struct ws_conn *c, enum http_dir dir, const uint8_t *p, size_t n)
{
	struct dir_state *d = &c->d[dir];
	d->wire += n;
	if (inflating(c, dir))
		inflate_bytes(c, dir, p, n);
	else if (!d->compressed)
		keep(d, p, n);
}

/* ---- Frames ---- */

/* Bytes of dir consumed and neither handed on nor counted: the message in
 * progress, and the frame in progress unless it is part of that message. */
static uint64_t pending_bytes(const struct dir_state *d)
{
	uint64_t n = d->in_msg ? d->wire : 0;
	if (!d->in_frame)
		return n + d->hdr_len;
	return d->op & 8 ? n + d->hdr_len + d->got : n;
}

static void dir_init(struct ws_conn *c, enum http_dir dir, enum history hist)
{
	struct dir_state *d = &c->d[dir];
	inflater_end(d);
	buf_free(&d->msg);
	buf_free(&d->ctl);
	memset(d, 0, sizeof(*d));
	buf_init(&d->msg, WS_MESSAGE_MAX);
	buf_init(&d->ctl, CONTROL_MAX);
	d->hist = c->o.no_context_takeover[dir] ? H_WHOLE : hist;
	d->tail_ok = hist != H_WHOLE;
}

/* dir stops until ws_reset_dir(); what it held is counted as skipped. */
static void fail(struct ws_conn *c, enum http_dir dir, const char *why)
{
	c->st.skipped_bytes[dir] += pending_bytes(&c->d[dir]);
	dir_init(c, dir, H_GAP);
	c->d[dir].failed = true;
	c->st.errors++;
	c->cb->on_error(c->ctx, dir, why);
}

/* Why dir's frame in d->hdr cannot be followed, or NULL. */
static const char *frame_error(const struct ws_conn *c, enum http_dir dir, bool rsv1)
{
	const struct dir_state *d = &c->d[dir];
	if (d->hdr[0] & B_RSV23)
		return "reserved bit RSV2 or RSV3 set";
	if (!known_opcode(d->op))
		return "reserved opcode";
	if (d->masked != (dir == HTTP_DIR_REQ))
		return dir == HTTP_DIR_REQ ? "unmasked client frame" : "masked server frame";
	if (d->len >> 63)
		return "64-bit length with the top bit set";
	if (d->op & 8) {
		if (!d->fin)
			return "fragmented control frame";
		if (d->len > CONTROL_MAX)
			return "control frame longer than 125 bytes";
		return rsv1 ? "RSV1 set on a control frame" : NULL;
	}
	if (rsv1 && !c->o.deflate)
		return "RSV1 set without permessage-deflate";
	if (rsv1 && d->op == OP_CONT)
		return "RSV1 set on a continuation frame";
	if (d->op == OP_CONT && !d->in_msg && !d->tail_ok)
		return "continuation frame without a message start";
	if (d->op != OP_CONT && d->in_msg)
		return "data frame inside a fragmented message";
	return NULL;
}

/* The whole header of dir's next frame is in d->hdr: check and start it. */
static bool frame_begin(struct ws_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *h = d->hdr;
	uint8_t l7 = h[1] & B_LEN;
	size_t at = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
	bool rsv1 = h[0] & B_RSV1;
	d->fin = h[0] & B_FIN;
	d->op = h[0] & B_OP;
	d->masked = h[1] & B_MASK;
	d->len = at > 2 ? be(h + 2, at - 2) : l7;
	if (d->masked)
		memcpy(d->mask, h + at, 4);
	d->got = 0;
	const char *why = frame_error(c, dir, rsv1);
	if (why) {
		fail(c, dir, why);
		return false;
	}
	d->in_frame = true;
	if (d->op & 8) {
		buf_reset(&d->ctl);
		return true;
	}
	if (d->op != OP_CONT) {
		message_start(c, dir, rsv1);
	} else if (!d->in_msg) {
		/* the end of a message whose start was not seen */
		d->in_msg = true;
		d->lost = TAIL;
	}
	/* a plain frame's length tells at once when the message will not fit */
	if (!d->compressed && !d->lost && d->len > WS_MESSAGE_MAX - d->msg.len) {
		d->lost = TOO_LARGE;
		msg_release(d);
	}
	d->tail_ok = false;
	d->wire += d->hdr_len;
	return true;
}

static void control_done(struct ws_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *p = (const uint8_t *)d->ctl.data;
	size_t n = d->ctl.len;
	if (d->op == OP_CLOSE && n == 1) {
		fail(c, dir, "close frame with a 1-byte payload");
		return;
	}
	c->st.frames[dir]++;
	c->st.control[dir]++;
	if (d->op == OP_CLOSE && c->cb->on_close) {
		unsigned code = n ? (unsigned)p[0] << 8 | p[1] : 1005;
		c->cb->on_close(c->ctx, dir, code, n ? d->ctl.data + 2 : "", n ? n - 2 : 0);
	}
}

/* A whole frame of dir was consumed. */
static void frame_done(struct ws_conn *c, enum http_dir dir)
{
	struct dir_state *d = &c->d[dir];
	if (d->op & 8) {
		control_done(c, dir);
	} else {
		c->st.frames[dir]++;
		if (d->fin)
			message_end(c, dir);
	}
	d->in_frame = false;
	d->hdr_len = 0;
}

/* Payload bytes p[0..n) of dir's frame, at offset d->got. */
static void payload(struct ws_conn *c, enum http_dir dir, const uint8_t *p, size_t n)
{
	struct dir_state *d = &c->d[dir];
	uint8_t plain[CHUNK];
	while (n) {
		size_t k = n < CHUNK ? n : CHUNK;
		const uint8_t *q = p;
		if (d->masked) {
			for (size_t i = 0; i < k; i++)
				plain[i] = p[i] ^ d->mask[(d->got + i) & 3];
			q = plain;
		}
		if (d->op & 8)
			buf_append(&d->ctl, q, k);
		else
			data_bytes(c, dir, q, k);
		d->got += k;
		p += k;
		n -= k;
	}
}

void ws_feed(struct ws_conn *c, enum http_dir dir, const char *data, size_t n)
{
	struct dir_state *d = &c->d[dir];
	const uint8_t *p = (const uint8_t *)data;
	c->st.bytes[dir] += n;
	while (n) {
		if (d->failed) {
			c->st.skipped_bytes[dir] += n;
			return;
		}
		if (!d->in_frame) {
			/* 2 bytes, then as many as they say (lengths, mask key) */
			size_t need = d->hdr_len < 2 ? 2 : header_len(d->hdr);
			size_t k = need - d->hdr_len < n ? need - d->hdr_len : n;
			memcpy(d->hdr + d->hdr_len, p, k);
			d->hdr_len += k;
			p += k;
			n -= k;
			if (d->hdr_len < 2 || d->hdr_len < header_len(d->hdr))
				continue;
			if (frame_begin(c, dir) && d->len == 0)
				frame_done(c, dir);
			continue;
		}
		size_t k = d->len - d->got < n ? (size_t)(d->len - d->got) : n;
		payload(c, dir, p, k);
		p += k;
		n -= k;
		if (d->got == d->len)
			frame_done(c, dir);
	}
}

/* ---- Connection ---- */

struct ws_conn *ws_conn_new(const struct ws_callbacks *cb, void *ctx, const struct ws_options *o,
                            bool joined)
{
	struct ws_conn *c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->ctx = ctx;
	if (o)
		c->o = *o;
	else
		c->o.window_bits[0] = c->o.window_bits[1] = 15;
	for (int i = 0; i < 2; i++)
		dir_init(c, (enum http_dir)i, joined ? H_JOINED : H_WHOLE);
	return c;
}

void ws_conn_free(struct ws_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		inflater_end(&c->d[i]);
		buf_free(&c->d[i].msg);
		buf_free(&c->d[i].ctl);
	}
	free(c);
}

void ws_reset_dir(struct ws_conn *c, enum http_dir dir)
{
	c->st.skipped_bytes[dir] += pending_bytes(&c->d[dir]);
	dir_init(c, dir, H_GAP);
}

const struct ws_stats *ws_conn_stats(const struct ws_conn *c)
{
	return &c->st;
}

size_t ws_conn_memory(const struct ws_conn *c)
{
	size_t n = sizeof(*c);
	for (int i = 0; i < 2; i++)
		n += c->d[i].msg.cap + c->d[i].ctl.cap + (c->d[i].z_live ? WINDOW + ZSTATE : 0);
	return n;
}

/* ---- Sec-WebSocket-Extensions ---- */

static bool tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void ows(const char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
}

static size_t token(const char **s)
{
	const char *b = *s;
	while (tchar(**s))
		(*s)++;
	return (size_t)(*s - b);
}

static bool named(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && !strncasecmp(p, name, n);
}

/* A parameter's value, a token or a quoted string, into v (cap bytes);
 * -1 when malformed or longer. */
static int param_value(const char **s, char *v, size_t cap)
{
	size_t n = 0;
	if (**s != '"') {
		const char *b = *s;
		n = token(s);
		if (!n || n >= cap)
			return -1;
		memcpy(v, b, n);
		v[n] = '\0';
		return 0;
	}
	for ((*s)++; **s != '"'; (*s)++) {
		if (**s == '\\')
			(*s)++;
		if (!**s || n + 1 >= cap)
			return -1;
		v[n++] = **s;
	}
	(*s)++;
	v[n] = '\0';
	return 0;
}

/* 8..15, no sign or leading zero */
static int window_bits(const char *v)
{
	size_t n = strlen(v);
	if (!n || n > 2 || v[0] < '1' || v[0] > '9' || (n == 2 && (v[1] < '0' || v[1] > '9')))
		return -1;
	int bits = n == 2 ? (v[0] - '0') * 10 + (v[1] - '0') : v[0] - '0';
	return bits >= 8 && bits <= 15 ? bits : -1;
}

/* One "; name[=value]" of permessage-deflate (the ';' consumed). */
static int deflate_param(const char **s, struct ws_options *o)
{
	char v[16];
	bool has = false;
	ows(s);
	const char *name = *s;
	size_t n = token(s);
	ows(s);
	if (**s == '=') {
		(*s)++;
		ows(s);
		if (param_value(s, v, sizeof(v)) < 0)
			return -1;
		has = true;
	}
	bool server = n > 7 && !strncasecmp(name, "server_", 7);
	enum http_dir dir = server ? HTTP_DIR_RESP : HTTP_DIR_REQ;
	if (named(name, n, "server_no_context_takeover") ||
	    named(name, n, "client_no_context_takeover")) {
		o->no_context_takeover[dir] = true;
		return has ? -1 : 0;
	}
	if (named(name, n, "server_max_window_bits") || named(name, n, "client_max_window_bits")) {
		/* an offer's client_max_window_bits may go without: "I can take any" */
		if (!has)
			return server ? -1 : 0;
		int bits = window_bits(v);
		if (bits < 0)
			return -1;
		o->window_bits[dir] = (unsigned)bits;
		return 0;
	}
	return -1;
}

int ws_parse_extensions(const char *value, struct ws_options *o)
{
	static const struct ws_options none = {.window_bits = {15, 15}};
	const char *s = value ? value : "";
	*o = none;
	for (bool first = true;; first = false) {
		struct ws_options cur = {.deflate = true, .window_bits = {15, 15}};
		ows(&s);
		if (first && !*s)
			return 0;
		const char *name = s;
		if (!named(name, token(&s), "permessage-deflate"))
			goto bad;
		for (ows(&s); *s == ';'; ows(&s)) {
			s++;
			if (deflate_param(&s, &cur) < 0)
				goto bad;
		}
		/* several offers of permessage-deflate: the first is taken */
		if (first)
			*o = cur;
		if (!*s)
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	*o = none;
	return -1;
}

/* ---- Recognising frames of a connection joined mid-way ---- */

bool ws_frames_plausible(enum http_dir dir, const char *data, size_t n)
{
	const uint8_t *p = (const uint8_t *)data;
	int in_msg = -1; /* unknown before the piece's first data frame */
	size_t off = 0;
	if (n < 2)
		return false;
	while (off < n) {
		const uint8_t *h = p + off;
		size_t avail = n - off;
		uint8_t op = h[0] & B_OP;
		bool fin = h[0] & B_FIN, control = op & 8;
		if ((h[0] & B_RSV23) || !known_opcode(op) ||
		    ((control || op == OP_CONT) && (h[0] & B_RSV1)) || (control && !fin))
			return false;
		if (!control) {
			if ((op == OP_CONT && in_msg == 0) || (op != OP_CONT && in_msg == 1))
				return false;
			in_msg = !fin;
		}
		/* a header cut by the piece's end: what is there must fit */
		if (avail < 2)
			return off > 0;
		uint8_t l7 = h[1] & B_LEN;
		if ((bool)(h[1] & B_MASK) != (dir == HTTP_DIR_REQ) || (control && l7 > CONTROL_MAX))
			return false;
		uint64_t len = l7;
		size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
		if (avail < 2 + ext)
			return off > 0;
		if (ext)
			len = be(h + 2, ext);
		/* the shortest length form, as every implementation writes */
		if ((l7 == 126 && len < 126) || (l7 == 127 && (len < 65536 || len >> 63)))
			return false;
		size_t hl = header_len(h);
		if (avail < hl)
			return off > 0;
		if (len >= avail - hl)
			return true; /* ends at the piece's end, or runs past it */
		off += hl + (size_t)len;
	}
	return true;
}
