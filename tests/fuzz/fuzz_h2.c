/* HTTP/2 framing and HPACK (wire/h2.c), both directions of one connection,
 * seen from its start or joined mid-way. Input: an options byte (bit 0: the
 * client preface is expected first; else the connection is joined), then
 * records of [control][length - 1][bytes]: control bit 0 is the direction,
 * bits 1-3 all set an h2_reset_dir() after the bytes, bit 4 an
 * h2_frames_side() of them. The callbacks check what h2.h promises, and a
 * second connection fed the same bytes one at a time must see the same
 * callbacks with the same arguments (DATA pieces of a stream in a row taken
 * as one) and end with the same counters. */
#include <string.h>

#include "fuzz.h"
#include "wire/h2.h"

struct seen {
	uint64_t hash;
	uint64_t fed[2], data[2];
	enum http_dir feeding;
	bool stopped[2]; /* on_error until h2_reset_dir() or a new preface */
	bool joined;     /* no window is known */
	bool conn_stalled;
	bool in_data; /* the last callback was DATA of data_dir, data_sid */
	enum http_dir data_dir;
	uint32_t data_sid;
};

static void mix(struct seen *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 1099511628211ull;
}

static void mix_u64(struct seen *s, uint64_t v)
{
	mix(s, &v, sizeof(v));
}

/* A callback of dir about stream sid (0: the connection's). */
static void event(struct seen *s, unsigned kind, enum http_dir dir, uint32_t sid)
{
	if ((dir != HTTP_DIR_REQ && dir != HTTP_DIR_RESP) || dir != s->feeding || s->stopped[dir] ||
	    sid > 0x7fffffff)
		abort();
	s->in_data = false;
	mix_u64(s, kind << 1 | dir);
	mix_u64(s, sid);
}

static void string(struct seen *s, const char *field, size_t cap)
{
	const char *end = memchr(field, '\0', cap);
	if (!end)
		abort();
	mix(s, field, (size_t)(end - field) + 1);
}

static void on_headers(void *ctx, uint32_t sid, const struct http_msg *m, bool trailers)
{
	struct seen *s = ctx;
	event(s, 1, m->dir, sid);
	if (!sid || m->http_major != 2 || m->status < 0 || m->status > 999 ||
	    m->content_length < -1 || memchr(m->path, '?', sizeof(m->path)))
		abort();
	string(s, m->method, sizeof(m->method));
	string(s, m->path, sizeof(m->path));
	string(s, m->host, sizeof(m->host));
	string(s, m->content_type, sizeof(m->content_type));
	string(s, m->content_encoding, sizeof(m->content_encoding));
	string(s, m->user_agent, sizeof(m->user_agent));
	string(s, m->upgrade, sizeof(m->upgrade));
	string(s, m->ws_extensions, sizeof(m->ws_extensions));
	mix_u64(s, (uint64_t)m->status);
	mix_u64(s, (uint64_t)m->content_length);
	mix_u64(s, trailers);
}

static void on_data(void *ctx, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct seen *s = ctx;
	if (!n || !p || !sid)
		abort();
	/* pieces of one run of DATA hash as one */
	if (!(s->in_data && s->data_dir == dir && s->data_sid == sid)) {
		event(s, 2, dir, sid);
		s->in_data = true;
		s->data_dir = dir;
		s->data_sid = sid;
	} else if (dir != s->feeding || s->stopped[dir]) {
		abort();
	}
	s->data[dir] += n;
	if (s->data[dir] > s->fed[dir])
		abort();
	mix(s, p, n);
}

static void on_end(void *ctx, enum http_dir dir, uint32_t sid)
{
	struct seen *s = ctx;
	event(s, 3, dir, sid);
	if (!sid)
		abort();
}

static void on_reset(void *ctx, enum http_dir dir, uint32_t sid, uint32_t code)
{
	struct seen *s = ctx;
	event(s, 4, dir, sid);
	if (!sid || !h2_error_name(code)[0])
		abort();
	mix_u64(s, code);
}

static void on_goaway(void *ctx, enum http_dir dir, uint32_t last_sid, uint32_t code)
{
	struct seen *s = ctx;
	event(s, 5, dir, last_sid);
	if (!h2_error_name(code)[0])
		abort();
	mix_u64(s, code);
}

static void on_headers_lost(void *ctx, enum http_dir dir, uint32_t sid, const char *reason)
{
	struct seen *s = ctx;
	event(s, 6, dir, sid);
	if (!sid || !reason || !reason[0])
		abort();
	mix(s, reason, strlen(reason));
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct seen *s = ctx;
	/* once until h2_reset_dir() */
	event(s, 7, dir, 0);
	if (!reason || !reason[0])
		abort();
	s->stopped[dir] = true;
	mix(s, reason, strlen(reason));
}

static void on_window(void *ctx, uint32_t sid, bool stalled)
{
	struct seen *s = ctx;
	/* the client's SETTINGS and WINDOW_UPDATE, or the server's DATA */
	event(s, 8, s->feeding, sid);
	if (s->joined || (!sid && stalled == s->conn_stalled))
		abort();
	if (!sid)
		s->conn_stalled = stalled;
	mix_u64(s, stalled);
}

static void on_preface(void *ctx)
{
	struct seen *s = ctx;
	event(s, 9, HTTP_DIR_REQ, 0);
	/* all state is new: windows known, both directions parsing */
	s->joined = false;
	s->conn_stalled = false;
	s->stopped[HTTP_DIR_RESP] = false;
}

static const struct h2_callbacks cb = {on_headers,      on_data,  on_end,    on_reset,  on_goaway,
                                       on_headers_lost, on_error, on_window, on_preface};

static void feed(struct h2_conn *c, struct seen *s, enum http_dir dir, const uint8_t *p, size_t n)
{
	s->feeding = dir;
	s->fed[dir] += n;
	h2_feed(c, dir, (const char *)p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	bool with_preface = fin_u8(&f) & 1;
	struct seen a = {.joined = !with_preface}, b = a;
	struct h2_conn *ca = h2_conn_new(&cb, &a, with_preface);
	struct h2_conn *cb1 = h2_conn_new(&cb, &b, with_preface);
	while (f.n) {
		uint8_t ctl = fin_u8(&f);
		const uint8_t *p;
		size_t n = fin_piece(&f, 256, &p);
		enum http_dir dir = ctl & 1 ? HTTP_DIR_RESP : HTTP_DIR_REQ;
		feed(ca, &a, dir, p, n);
		for (size_t i = 0; i < n; i++)
			feed(cb1, &b, dir, p + i, 1);
		if ((ctl & 0x0e) == 0x0e) {
			h2_reset_dir(ca, dir);
			h2_reset_dir(cb1, dir);
			a.stopped[dir] = b.stopped[dir] = false;
			a.in_data = b.in_data = false;
		}
		if (ctl & 0x10) {
			enum h2_side side = h2_frames_side(dir, (const char *)p, n);
			if (side > H2_SIDE_SERVER || h2_frames_plausible(dir, (const char *)p, n) !=
			                                 (side == H2_SIDE_CLIENT))
				abort();
		}
		if (a.hash != b.hash || h2_conn_memory(ca) > (8u << 20))
			abort();
	}
	const struct h2_stats *sa = h2_conn_stats(ca), *sb = h2_conn_stats(cb1);
	if (memcmp(sa, sb, sizeof(*sa)) || sa->bytes[0] != a.fed[0] || sa->bytes[1] != a.fed[1] ||
	    sa->skipped_bytes[0] > sa->bytes[0] || sa->skipped_bytes[1] > sa->bytes[1] ||
	    sa->frames[0] * 9 > sa->bytes[0] || sa->frames[1] * 9 > sa->bytes[1])
		abort();
	h2_conn_free(ca);
	h2_conn_free(cb1);
	return 0;
}
