/* HTTP/2 reassembly (wire/h2.c) alone, at the wire level: the RFC 7541
 * Appendix C vectors through real HEADERS frames (C.3-C.6, the response
 * decoder limited to 256 bytes by the client's SETTINGS), a two-way
 * conversation of every frame type fed whole, split at every byte and
 * byte by byte, framing errors and the recovery after h2_reset_dir(),
 * HPACK state unknown after joining (lost, never guessed) and table size
 * changes, a new client preface, flow-control windows, and the sniffer's
 * h2_frames_side(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "wire/h2.h"

#define REQ  HTTP_DIR_REQ
#define RESP HTTP_DIR_RESP

enum {
	T_DATA = 0,
	T_HEADERS = 1,
	T_PRIORITY = 2,
	T_RST = 3,
	T_SETTINGS = 4,
	T_PUSH = 5,
	T_PING = 6,
	T_GOAWAY = 7,
	T_WINDOW = 8,
	T_CONT = 9,
};
enum { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIO = 0x20 };
enum { S_TABLE = 1, S_PUSH = 2, S_STREAMS = 3, S_WINDOW = 4 };

static const char *dname(enum http_dir d)
{
	return d == REQ ? "REQ" : "RESP";
}

/* ---- Frames ---- */

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
	uint8_t h[9] = {(uint8_t)(n >> 16),
	                (uint8_t)(n >> 8),
	                (uint8_t)n,
	                type,
	                flags,
	                (uint8_t)(sid >> 24 & 0x7f),
	                (uint8_t)(sid >> 16),
	                (uint8_t)(sid >> 8),
	                (uint8_t)sid};
	buf_append(b, h, sizeof(h));
	if (n)
		buf_append(b, p, n);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void settings1(struct buf *b, uint16_t id, uint32_t v)
{
	uint8_t p[6] = {(uint8_t)(id >> 8), (uint8_t)id};
	be32(p + 2, v);
	frame(b, T_SETTINGS, 0, 0, p, sizeof(p));
}

static void window(struct buf *b, uint32_t sid, uint32_t inc)
{
	uint8_t p[4];
	be32(p, inc);
	frame(b, T_WINDOW, 0, sid, p, 4);
}

static void data(struct buf *b, uint32_t sid, uint8_t flags, const char *s)
{
	frame(b, T_DATA, flags, sid, s, strlen(s));
}

/* DATA of n filler bytes. */
static void data_n(struct buf *b, uint32_t sid, size_t n)
{
	char *p = malloc(n ? n : 1);
	memset(p, 'x', n);
	frame(b, T_DATA, 0, sid, p, n);
	free(p);
}

static void preface(struct buf *b)
{
	buf_append(b, H2_PREFACE, H2_PREFACE_LEN);
}

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	for (; *h; h++) {
		if (*h == ' ')
			continue;
		unsigned v;
		assert_int_equal(sscanf(h, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		h++;
	}
	return n;
}

/* HEADERS with END_HEADERS (and flags) carrying a block given in hex. */
static void headers_hex(struct buf *b, uint32_t sid, uint8_t flags, const char *hex)
{
	uint8_t block[512];
	size_t n = unhex(hex, block);
	frame(b, T_HEADERS, END_HEADERS | flags, sid, block, n);
}

/* A header block from an nghttp2 encoder (its table carries across calls). */
static size_t hpack_block(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, const char *const *kv)
{
	nghttp2_nv nv[32];
	size_t n = 0;
	for (; kv[2 * n]; n++) {
		nv[n] =
		    (nghttp2_nv){(uint8_t *)kv[2 * n], (uint8_t *)kv[2 * n + 1], strlen(kv[2 * n]),
		                 strlen(kv[2 * n + 1]), NGHTTP2_NV_FLAG_NONE};
	}
	ssize_t len = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
	assert_true(len > 0);
	return (size_t)len;
}

/* ---- Events, one text line each ---- */

struct rec {
	struct buf log;
	bool data_open; /* DATA pieces of one stream in a row make one line */
	enum http_dir data_dir;
	uint32_t data_sid;
	unsigned errors[2];
	const char *const *forbidden; /* never in a kept field */
};

static void close_data(struct rec *r)
{
	if (r->data_open)
		buf_append(&r->log, "\n", 1);
	r->data_open = false;
}

static void line(struct rec *r, const char *fmt, ...)
{
	char l[2048];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(l, sizeof(l), fmt, ap);
	va_end(ap);
	assert_true(k > 0 && (size_t)k < sizeof(l) - 1);
	close_data(r);
	l[k++] = '\n';
	buf_append(&r->log, l, (size_t)k);
}

#define TERMINATED(field) assert_non_null(memchr((field), '\0', sizeof(field)))

static void on_headers(void *ctx, uint32_t sid, const struct http_msg *m, bool trailers)
{
	struct rec *r = ctx;
	TERMINATED(m->method);
	TERMINATED(m->path);
	TERMINATED(m->host);
	TERMINATED(m->content_type);
	TERMINATED(m->content_encoding);
	TERMINATED(m->user_agent);
	TERMINATED(m->upgrade);
	TERMINATED(m->ws_extensions);
	assert_true(m->dir == REQ || m->dir == RESP);
	assert_int_equal(m->http_major, 2);
	assert_true(sid > 0 && sid <= 0x7fffffff);
	for (const char *const *f = r->forbidden; f && *f; f++)
		assert_null(memmem(m, sizeof(*m), *f, strlen(*f)));
	char l[1800];
	int k = snprintf(l, sizeof(l), "%s %s %u", trailers ? "trailers" : "headers", dname(m->dir),
	                 sid);
	const struct {
		const char *name, *v;
	} f[] = {{"method", m->method},   {"path", m->path},           {"host", m->host},
	         {"ct", m->content_type}, {"ce", m->content_encoding}, {"ua", m->user_agent},
	         {"upgrade", m->upgrade}, {"wsx", m->ws_extensions}};
	if (m->status)
		k += snprintf(l + k, sizeof(l) - (size_t)k, " status=%d", m->status);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v[0])
			k += snprintf(l + k, sizeof(l) - (size_t)k, " %s=%s", f[i].name, f[i].v);
	if (m->content_length >= 0)
		k += snprintf(l + k, sizeof(l) - (size_t)k, " cl=%lld",
		              (long long)m->content_length);
	line(r, "%s", l);
}

static void on_data(void *ctx, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct rec *r = ctx;
	assert_true(n > 0);
	if (!r->data_open || r->data_dir != dir || r->data_sid != sid) {
		char head[64];
		close_data(r);
		int k = snprintf(head, sizeof(head), "data %s %u ", dname(dir), sid);
		buf_append(&r->log, head, (size_t)k);
		r->data_open = true;
		r->data_dir = dir;
		r->data_sid = sid;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		char hex[8];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			buf_append(&r->log, p + i, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", ch);
			buf_append(&r->log, hex, 4);
		}
	}
}

static void on_end(void *ctx, enum http_dir dir, uint32_t sid)
{
	line(ctx, "end %s %u", dname(dir), sid);
}

static void on_reset(void *ctx, enum http_dir dir, uint32_t sid, uint32_t code)
{
	line(ctx, "reset %s %u %s", dname(dir), sid, h2_error_name(code));
}

static void on_goaway(void *ctx, enum http_dir dir, uint32_t last_sid, uint32_t code)
{
	line(ctx, "goaway %s %u %s", dname(dir), last_sid, h2_error_name(code));
}

static void on_headers_lost(void *ctx, enum http_dir dir, uint32_t sid, const char *reason)
{
	assert_non_null(reason);
	line(ctx, "lost %s %u %s", dname(dir), sid, reason);
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct rec *r = ctx;
	assert_non_null(reason);
	r->errors[dir]++;
	line(ctx, "error %s %s", dname(dir), reason);
}

static void on_window(void *ctx, uint32_t sid, bool stalled)
{
	line(ctx, "window %u %s", sid, stalled ? "stalled" : "open");
}

static void on_preface(void *ctx)
{
	line(ctx, "preface");
}

static const struct h2_callbacks CB = {on_headers,      on_data,  on_end,    on_reset,  on_goaway,
                                       on_headers_lost, on_error, on_window, on_preface};

struct t {
	struct h2_conn *c;
	struct rec r;
};

static struct t *t_new(bool with_preface)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	buf_init(&t->r.log, 0);
	t->c = h2_conn_new(&CB, &t->r, with_preface);
	return t;
}

static void t_free(struct t *t)
{
	h2_conn_free(t->c);
	buf_free(&t->r.log);
	free(t);
}

static void feed(struct t *t, enum http_dir dir, const void *p, size_t n)
{
	h2_feed(t->c, dir, p, n);
}

static void feed_buf(struct t *t, enum http_dir dir, struct buf *b)
{
	feed(t, dir, b->data, b->len);
	buf_reset(b);
}

/* The events so far, and forgets them. */
static char *events(struct t *t)
{
	static char out[1 << 20];
	close_data(&t->r);
	size_t n = t->r.log.len < sizeof(out) - 1 ? t->r.log.len : sizeof(out) - 1;
	memcpy(out, t->r.log.data ? t->r.log.data : "", n);
	out[n] = '\0';
	buf_reset(&t->r.log);
	return out;
}

/* ---- RFC 7541 Appendix C ---- */

/* C.3 (C.4 with Huffman): three requests on one connection, the dynamic
 * table carried from block to block. */
static void rfc_requests(const char *const hex[3])
{
	static const char *const forbidden[] = {"no-cache", "custom-key", "custom-value", "http",
	                                        NULL};
	struct t *t = t_new(true);
	t->r.forbidden = forbidden;
	struct buf b;
	buf_init(&b, 0);
	preface(&b);
	frame(&b, T_SETTINGS, 0, 0, NULL, 0);
	for (uint32_t i = 0; i < 3; i++)
		headers_hex(&b, 2 * i + 1, END_STREAM, hex[i]);
	feed_buf(t, REQ, &b);
	assert_string_equal(events(t),
	                    "headers REQ 1 method=GET path=/ host=www.example.com\n"
	                    "end REQ 1\n"
	                    "headers REQ 3 method=GET path=/ host=www.example.com\n"
	                    "end REQ 3\n"
	                    "headers REQ 5 method=GET path=/index.html host=www.example.com\n"
	                    "end REQ 5\n");
	const struct h2_stats *st = h2_conn_stats(t->c);
	assert_int_equal(st->header_blocks[REQ], 3);
	assert_int_equal(st->headers_lost, 0);
	assert_int_equal(st->errors, 0);
	/* the table is the RFC's after C.3.3: [62] custom-key, [63]
	 * cache-control, [64] :authority, nothing at 65 */
	headers_hex(&b, 7, 0, "82 86 84 be bf c0");
	headers_hex(&b, 9, 0, "82 86 84 c1");
	feed_buf(t, REQ, &b);
	assert_string_equal(events(t), "headers REQ 7 method=GET path=/ host=www.example.com\n"
	                               "lost REQ 9 HPACK state unknown or corrupt block\n");
	buf_free(&b);
	t_free(t);
}

static void test_rfc7541_c3_requests(void **state)
{
	(void)state;
	static const char *const c3[3] = {
	    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
	    "8286 84be 5808 6e6f 2d63 6163 6865",
	    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
	};
	rfc_requests(c3);
}

static void test_rfc7541_c4_requests_huffman(void **state)
{
	(void)state;
	static const char *const c4[3] = {
	    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
	    "8286 84be 5886 a8eb 1064 9cbf",
	    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
	};
	rfc_requests(c4);
}

/* C.5 (C.6 with Huffman): three responses with the decoder's table limited
 * to 256 bytes, which the client announced in its SETTINGS; evictions as
 * the RFC lists them. */
static void rfc_responses(const char *const hex[3])
{
	static const char *const forbidden[] = {"private", "Mon, 21", "https://", "ASDJKH",
	                                        "max-age", "foo=",    NULL};
	struct t *t = t_new(true);
	t->r.forbidden = forbidden;
	struct buf b;
	buf_init(&b, 0);
	preface(&b);
	settings1(&b, S_TABLE, 256);
	for (uint32_t i = 0; i < 3; i++)
		headers_hex(&b, 2 * i + 1, END_STREAM, "82 87 84");
	feed_buf(t, REQ, &b);
	frame(&b, T_SETTINGS, 0, 0, NULL, 0);
	frame(&b, T_SETTINGS, ACK, 0, NULL, 0);
	for (uint32_t i = 0; i < 3; i++)
		headers_hex(&b, 2 * i + 1, 0, hex[i]);
	events(t);
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 1 status=302\n"
	                               "headers RESP 3 status=307\n"
	                               "headers RESP 5 status=200 ce=gzip\n");
	/* after C.5.3 the table holds exactly [62] set-cookie, [63]
	 * content-encoding, [64] date (215 bytes): the rest was evicted */
	headers_hex(&b, 1, END_STREAM, "88 bf");
	headers_hex(&b, 3, END_STREAM, "88 c1");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "trailers RESP 1 status=200 ce=gzip\n"
	                               "end RESP 1\n"
	                               "lost RESP 3 HPACK state unknown or corrupt block\n"
	                               "end RESP 3\n");
	const struct h2_stats *st = h2_conn_stats(t->c);
	assert_int_equal(st->header_blocks[RESP], 4);
	assert_int_equal(st->headers_lost, 1);
	assert_int_equal(st->errors, 0);
	/* the restarted decoder keeps the 256-byte limit and decodes blocks
	 * that refer to nothing it lost */
	headers_hex(&b, 5, END_STREAM, "88 5a 04 677a 6970 be");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "trailers RESP 5 status=200 ce=gzip\nend RESP 5\n");
	buf_free(&b);
	t_free(t);
}

static void test_rfc7541_c5_responses(void **state)
{
	(void)state;
	static const char *const c5[3] = {
	    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 "
	    "303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 "
	    "6f6d",
	    "4803 3330 37c1 c0bf",
	    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 "
	    "5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 "
	    "5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
	};
	rfc_responses(c5);
}

static void test_rfc7541_c6_responses_huffman(void **state)
{
	(void)state;
	static const char *const c6[3] = {
	    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b "
	    "ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
	    "4883 640e ffc1 c0bf",
	    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad "
	    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 "
	    "65c0 03ed 4ee5 b106 3d50 07",
	};
	rfc_responses(c6);
}

/* ---- One conversation, every split ---- */

static const char *const REQ1[] = {":method",
                                   "POST",
                                   ":scheme",
                                   "https",
                                   ":path",
                                   "/v1/chat/completions?key=QSECRET",
                                   ":authority",
                                   "api.openai.com",
                                   "authorization",
                                   "Bearer sk-SECRET",
                                   "content-type",
                                   "application/json",
                                   "user-agent",
                                   "test/1.0",
                                   "content-length",
                                   "13",
                                   NULL};
static const char *const REQ3[] = {
    ":method",    "GET",        ":scheme",        "https",         ":path",
    "/v1/models", ":authority", "api.openai.com", "authorization", "Bearer sk-SECRET",
    NULL};
static const char *const RESP1[] = {
    ":status", "200", "content-type", "text/event-stream", "set-cookie", "s=SECRETCOOKIE", NULL};
static const char *const TRAILERS1[] = {"grpc-status", "0", "x-secret", "SECRET-trailer", NULL};
static const char *const CONV_FORBIDDEN[] = {"SECRET", "key=", NULL};

struct seg {
	enum http_dir dir;
	struct buf b;
};

/* Both directions of a connection, in the order they were captured. */
static size_t conversation(struct seg *s)
{
	nghttp2_hd_deflater *cli, *srv;
	assert_int_equal(nghttp2_hd_deflate_new(&cli, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&srv, 4096), 0);
	uint8_t blk[1024], p[1024];
	size_t n = 0, len;
	for (size_t i = 0; i < 8; i++)
		buf_init(&s[i].b, 0);
	/* the client's preface and settings, a connection window */
	s[n].dir = REQ;
	preface(&s[n].b);
	uint8_t set[18] = {0, S_PUSH, 0,   0, 0,       0, 0, S_WINDOW, 0,
	                   0, 0,      100, 0, S_TABLE, 0, 0, 16,       0};
	frame(&s[n].b, T_SETTINGS, 0, 0, set, sizeof(set));
	window(&s[n].b, 0, 1 << 20);
	n++;
	/* the server's settings and ack */
	s[n].dir = RESP;
	settings1(&s[n].b, S_STREAMS, 100);
	frame(&s[n].b, T_SETTINGS, ACK, 0, NULL, 0);
	n++;
	/* the request: HEADERS (padded, priority) + 2 CONTINUATION, padded
	 * DATA, an empty DATA ending the stream, a PING */
	s[n].dir = REQ;
	frame(&s[n].b, T_SETTINGS, ACK, 0, NULL, 0);
	len = hpack_block(cli, blk, sizeof(blk), REQ1);
	assert_true(len > 10);
	p[0] = 3;                                 /* pad length */
	memcpy(p + 1, "\x80\x00\x00\x00\x0f", 5); /* exclusive on 0, weight 16 */
	memcpy(p + 6, blk, 4);
	memset(p + 10, 0, 3);
	frame(&s[n].b, T_HEADERS, PADDED | PRIO, 1, p, 13);
	frame(&s[n].b, T_CONT, 0, 1, blk + 4, 5);
	frame(&s[n].b, T_CONT, END_HEADERS, 1, blk + 9, len - 9);
	p[0] = 4;
	memcpy(p + 1, "{\"model\":\"x\"}", 13);
	memset(p + 14, 0, 4);
	frame(&s[n].b, T_DATA, PADDED, 1, p, 18);
	frame(&s[n].b, T_DATA, END_STREAM, 1, NULL, 0);
	frame(&s[n].b, T_PING, 0, 0, "pingpong", 8);
	n++;
	/* the response: headers, DATA past the 100-byte window (padding
	 * counts), DATA of padding only */
	s[n].dir = RESP;
	frame(&s[n].b, T_PING, ACK, 0, "pingpong", 8);
	len = hpack_block(srv, blk, sizeof(blk), RESP1);
	p[0] = 2;
	memcpy(p + 1, blk, len);
	memset(p + 1 + len, 0, 2);
	frame(&s[n].b, T_HEADERS, PADDED | END_HEADERS, 1, p, len + 3);
	data(&s[n].b, 1, 0, "data: {\"delta\":\"Hello\"}\n\n");
	p[0] = 70;
	memcpy(p + 1, "data: {\"delta\":\", world\"}\n\n", 27);
	memset(p + 28, 0, 70);
	frame(&s[n].b, T_DATA, PADDED, 1, p, 98);
	p[0] = 5;
	memset(p + 1, 0, 5);
	frame(&s[n].b, T_DATA, PADDED, 1, p, 6);
	n++;
	/* the client opens the window again */
	s[n].dir = REQ;
	window(&s[n].b, 1, 1000);
	n++;
	/* trailers end the response */
	s[n].dir = RESP;
	data(&s[n].b, 1, 0, "data: [DONE]\n\n");
	len = hpack_block(srv, blk, sizeof(blk), TRAILERS1);
	frame(&s[n].b, T_HEADERS, END_HEADERS | END_STREAM, 1, blk, len);
	n++;
	/* a second request, cancelled; PRIORITY, an unknown frame type, GOAWAY */
	s[n].dir = REQ;
	len = hpack_block(cli, blk, sizeof(blk), REQ3);
	frame(&s[n].b, T_HEADERS, END_HEADERS | END_STREAM, 3, blk, len);
	be32(p, 8);
	frame(&s[n].b, T_RST, 0, 3, p, 4);
	frame(&s[n].b, T_PRIORITY, 0, 5, "\x00\x00\x00\x03\x10", 5);
	frame(&s[n].b, 0xfa, 0x3, 0, "xyz", 3);
	be32(p, 0);
	be32(p + 4, 0);
	memcpy(p + 8, "bye", 3);
	frame(&s[n].b, T_GOAWAY, 0, 0, p, 11);
	n++;
	s[n].dir = RESP;
	be32(p, 3);
	be32(p + 4, 0xb);
	frame(&s[n].b, T_GOAWAY, 0, 0, p, 8);
	n++;
	nghttp2_hd_deflate_del(cli);
	nghttp2_hd_deflate_del(srv);
	return n;
}

static const char CONV_EVENTS[] =
    "headers REQ 1 method=POST path=/v1/chat/completions host=api.openai.com "
    "ct=application/json ua=test/1.0 cl=13\n"
    "data REQ 1 {\"model\":\"x\"}\n"
    "end REQ 1\n"
    "headers RESP 1 status=200 ct=text/event-stream\n"
    "data RESP 1 data: {\"delta\":\"Hello\"}\\x0a\\x0adata: {\"delta\":\", world\"}\\x0a\\x0a\n"
    "window 1 stalled\n"
    "window 1 open\n"
    "data RESP 1 data: [DONE]\\x0a\\x0a\n"
    "trailers RESP 1\n"
    "end RESP 1\n"
    "headers REQ 3 method=GET path=/v1/models host=api.openai.com\n"
    "end REQ 3\n"
    "reset REQ 3 CANCEL\n"
    "goaway REQ 0 NO_ERROR\n"
    "goaway RESP 3 ENHANCE_YOUR_CALM\n";

/* Feeds the conversation, segment `split` cut at `at` (0: whole; SIZE_MAX:
 * every segment byte by byte); returns the events and checks the stats. */
static char *run_conversation(struct seg *s, size_t nseg, size_t split, size_t at)
{
	struct t *t = t_new(true);
	t->r.forbidden = CONV_FORBIDDEN;
	size_t total[2] = {0, 0};
	for (size_t i = 0; i < nseg; i++) {
		const char *p = s[i].b.data;
		size_t n = s[i].b.len;
		total[s[i].dir] += n;
		if (at == SIZE_MAX) {
			for (size_t k = 0; k < n; k++)
				feed(t, s[i].dir, p + k, 1);
		} else if (i == split && at) {
			feed(t, s[i].dir, p, at);
			feed(t, s[i].dir, p + at, n - at);
		} else {
			feed(t, s[i].dir, p, n);
		}
	}
	const struct h2_stats *st = h2_conn_stats(t->c);
	assert_int_equal(st->bytes[REQ], total[REQ]);
	assert_int_equal(st->bytes[RESP], total[RESP]);
	assert_int_equal(st->frames[REQ], 15);
	assert_int_equal(st->frames[RESP], 10);
	assert_int_equal(st->header_blocks[REQ], 2);
	assert_int_equal(st->header_blocks[RESP], 2);
	assert_int_equal(st->headers_lost, 0);
	assert_int_equal(st->errors, 0);
	assert_int_equal(st->skipped_bytes[REQ] + st->skipped_bytes[RESP], 0);
	char *ev = events(t);
	t_free(t);
	return ev;
}

static void test_conversation_every_split(void **state)
{
	(void)state;
	struct seg s[8];
	size_t nseg = conversation(s);
	assert_string_equal(run_conversation(s, nseg, 0, 0), CONV_EVENTS);
	assert_string_equal(run_conversation(s, nseg, 0, SIZE_MAX), CONV_EVENTS);
	size_t splits = 0;
	for (size_t i = 0; i < nseg; i++) {
		for (size_t at = 1; at < s[i].b.len; at++) {
			assert_string_equal(run_conversation(s, nseg, i, at), CONV_EVENTS);
			splits++;
		}
	}
	assert_true(splits > 500);
	for (size_t i = 0; i < 8; i++)
		buf_free(&s[i].b);
}

/* ---- Framing errors ---- */

/* bad[0..n) stops dir after `consumed` of its bytes, with one on_error;
 * everything after is skipped (counted) until h2_reset_dir(), the other
 * direction goes on. */
static void check_error(bool with_preface, enum http_dir dir, struct buf *bad, size_t consumed,
                        const char *reason)
{
	struct t *t = t_new(with_preface);
	struct buf b;
	buf_init(&b, 0);
	buf_append(bad, "JUNKJUNK", 8);
	feed(t, dir, bad->data, bad->len);
	char want[512];
	snprintf(want, sizeof(want), "error %s %s\n", dname(dir), reason);
	assert_string_equal(events(t), want);
	feed(t, dir, "0123456789", 10);
	data(&b, 1, 0, "more");
	feed_buf(t, dir, &b);
	assert_string_equal(events(t), "");
	const struct h2_stats *st = h2_conn_stats(t->c);
	assert_int_equal(st->errors, 1);
	assert_int_equal(t->r.errors[dir], 1);
	assert_int_equal(st->skipped_bytes[dir], bad->len - consumed + 10 + 13);
	assert_int_equal(st->skipped_bytes[!dir], 0);
	/* the other direction is unaffected */
	data(&b, 1, 0, "other");
	feed_buf(t, !dir, &b);
	snprintf(want, sizeof(want), "data %s 1 other\n", dname(!dir));
	assert_string_equal(events(t), want);
	/* parsing resumes at the next piece after a reset */
	h2_reset_dir(t->c, dir);
	data(&b, 1, END_STREAM, "again");
	feed_buf(t, dir, &b);
	snprintf(want, sizeof(want), "data %s 1 again\nend %s 1\n", dname(dir), dname(dir));
	assert_string_equal(events(t), want);
	assert_int_equal(st->errors, 1);
	assert_int_equal(st->skipped_bytes[dir], bad->len - consumed + 23);
	buf_free(&b);
	buf_reset(bad);
	t_free(t);
}

static void test_framing_errors(void **state)
{
	(void)state;
	static const char *const not_continued = "a header block was not continued by CONTINUATION";
	static const char *const length = "control frame of a wrong length";
	struct buf b;
	buf_init(&b, 0);
	for (int dir = REQ; dir <= RESP; dir++) {
		frame(&b, T_CONT, END_HEADERS, 1, "\x82", 1);
		check_error(false, dir, &b, 9, "CONTINUATION without a header block");

		frame(&b, T_HEADERS, 0, 1, "\x82", 1);
		frame(&b, T_DATA, 0, 1, "x", 1);
		check_error(false, dir, &b, 19, not_continued);
		frame(&b, T_HEADERS, PADDED, 1, "\x01\x82\x00", 3);
		frame(&b, T_CONT, 0, 1, "\x86", 1);
		frame(&b, T_PING, 0, 0, "12345678", 8);
		check_error(false, dir, &b, 31, not_continued);
		frame(&b, T_HEADERS, 0, 1, "\x82", 1);
		frame(&b, T_CONT, END_HEADERS, 3, "\x86", 1);
		check_error(false, dir, &b, 19, not_continued);

		frame(&b, T_SETTINGS, 0, 0, "\0\1\0\0\0", 5);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_SETTINGS, ACK, 0, "\0\4\0\0\0\0\0", 7);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_WINDOW, 0, 0, "\0\0\1", 3);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_WINDOW, 0, 1, "\0\0\0\1\0", 5);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_RST, 0, 1, "\0\0\0\0\0", 5);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_PING, 0, 0, "1234567", 7);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_PRIORITY, 0, 1, "\0\0\0", 4);
		check_error(false, dir, &b, 9, length);
		frame(&b, T_GOAWAY, 0, 0, "\0\0\0\0\0\0\0", 7);
		check_error(false, dir, &b, 9, length);

		frame(&b, T_DATA, PADDED, 1, "\x05xy", 3);
		check_error(false, dir, &b, 9, "padding longer than the frame");
		frame(&b, T_HEADERS, PADDED | PRIO | END_HEADERS, 1, "\x01\0\0\0\0\x10", 6);
		check_error(false, dir, &b, 9, "padding longer than the frame");
		frame(&b, T_DATA, PADDED, 1, NULL, 0);
		check_error(false, dir, &b, 9,
		            "frame shorter than its padding and priority fields");
		frame(&b, T_HEADERS, PRIO | END_HEADERS, 1, "\0\0\0", 3);
		check_error(false, dir, &b, 9,
		            "frame shorter than its padding and priority fields");

		frame(&b, T_DATA, 0, 0, "x", 1);
		check_error(false, dir, &b, 9, "stream frame on stream 0");
		frame(&b, T_HEADERS, END_HEADERS, 0, "\x82", 1);
		check_error(false, dir, &b, 9, "stream frame on stream 0");
		frame(&b, T_RST, 0, 0, "\0\0\0\x08", 4);
		check_error(false, dir, &b, 9, "stream frame on stream 0");
		frame(&b, T_SETTINGS, 0, 1, NULL, 0);
		check_error(false, dir, &b, 9, "connection frame on a stream");
		frame(&b, T_PING, 0, 3, "12345678", 8);
		check_error(false, dir, &b, 9, "connection frame on a stream");
	}
	/* a connection seen from its start must begin with the preface */
	buf_append(&b, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
	check_error(true, REQ, &b, 9, "not the HTTP/2 client preface");
	buf_append(&b, "PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n", 24);
	check_error(true, REQ, &b, 18, "not the HTTP/2 client preface");
	settings1(&b, S_WINDOW, 100);
	check_error(true, REQ, &b, 9, "not the HTTP/2 client preface");
	buf_free(&b);
}

/* The preface split anywhere is still the preface; the responses are never
 * held to it. */
static void test_preface_split(void **state)
{
	(void)state;
	for (size_t at = 1; at < H2_PREFACE_LEN; at++) {
		struct t *t = t_new(true);
		struct buf b;
		buf_init(&b, 0);
		data(&b, 1, 0, "early");
		feed_buf(t, RESP, &b);
		feed(t, REQ, H2_PREFACE, at);
		feed(t, REQ, H2_PREFACE + at, H2_PREFACE_LEN - at);
		data(&b, 1, 0, "body");
		feed_buf(t, REQ, &b);
		assert_string_equal(events(t), "data RESP 1 early\ndata REQ 1 body\n");
		assert_int_equal(h2_conn_stats(t->c)->errors, 0);
		buf_free(&b);
		t_free(t);
	}
}

/* ---- HPACK state ---- */

/* Joined mid-way: a block that refers to table entries never seen is lost,
 * never decoded from a wrong table; blocks of static entries and literals
 * decode, and the entries they add are found again. */
static void test_joined_hpack_unknown(void **state)
{
	(void)state;
	static const char *const forbidden[] = {"SECRET", NULL};
	nghttp2_hd_deflater *cli, *srv;
	assert_int_equal(nghttp2_hd_deflate_new(&cli, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&srv, 4096), 0);
	uint8_t blk[1024];
	struct buf b;
	buf_init(&b, 0);
	/* before the join: both encoders fill their tables */
	hpack_block(cli, blk, sizeof(blk), REQ1);
	hpack_block(srv, blk, sizeof(blk), RESP1);
	struct t *t = t_new(false);
	t->r.forbidden = forbidden;
	size_t len = hpack_block(cli, blk, sizeof(blk), REQ1);
	frame(&b, T_HEADERS, END_HEADERS | END_STREAM, 3, blk, len);
	feed_buf(t, REQ, &b);
	len = hpack_block(srv, blk, sizeof(blk), RESP1);
	frame(&b, T_HEADERS, END_HEADERS, 3, blk, len);
	data(&b, 3, END_STREAM, "payload");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "lost REQ 3 HPACK state unknown or corrupt block\n"
	                               "end REQ 3\n"
	                               "lost RESP 3 HPACK state unknown or corrupt block\n"
	                               "data RESP 3 payload\n"
	                               "end RESP 3\n");
	assert_int_equal(h2_conn_stats(t->c)->headers_lost, 2);
	assert_int_equal(h2_conn_stats(t->c)->header_blocks[REQ], 0);
	/* static entries and literals (two added to the table), then those two
	 * by index */
	headers_hex(&b, 5, 0,
	            "83 87 44 14 2f76 312f 6368 6174 2f63 6f6d 706c 6574 696f 6e73"
	            " 41 0e 6170 692e 6f70 656e 6169 2e63 6f6d");
	headers_hex(&b, 7, 0, "83 87 bf be 0f 2b 04 7465 7374");
	feed_buf(t, REQ, &b);
	headers_hex(&b, 5, 0, "88 5f 11 7465 7874 2f65 7665 6e74 2d73 7472 6561 6d");
	headers_hex(&b, 7, 0, "8d be");
	feed_buf(t, RESP, &b);
	assert_string_equal(
	    events(t), "headers REQ 5 method=POST path=/v1/chat/completions host=api.openai.com\n"
	               "headers REQ 7 method=POST path=/v1/chat/completions host=api.openai.com "
	               "ua=test\n"
	               "headers RESP 5 status=200 ct=text/event-stream\n"
	               "headers RESP 7 status=404 ct=text/event-stream\n");
	/* joined: windows are unknown, never reported */
	data_n(&b, 5, 70000);
	feed_buf(t, RESP, &b);
	events(t);
	window(&b, 0, 100000);
	feed_buf(t, REQ, &b);
	assert_string_equal(events(t), "");
	nghttp2_hd_deflate_del(cli);
	nghttp2_hd_deflate_del(srv);
	buf_free(&b);
	t_free(t);
}

/* SETTINGS_HEADER_TABLE_SIZE and dynamic table size updates. */
static void test_table_size_changes(void **state)
{
	(void)state;
	struct t *t = t_new(true);
	struct buf b;
	buf_init(&b, 0);
	preface(&b);
	frame(&b, T_SETTINGS, 0, 0, NULL, 0);
	feed_buf(t, REQ, &b);
	/* the server's encoder adds an entry */
	headers_hex(&b, 1, 0, "88 5f 10 6170 706c 6963 6174 696f 6e2f 6a73 6f6e");
	headers_hex(&b, 3, 0, "88 be");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 1 status=200 ct=application/json\n"
	                               "headers RESP 3 status=200 ct=application/json\n");
	/* an update to 0 and back at a block's start empties the table */
	headers_hex(&b, 5, 0, "20 3f e1 1f 88");
	headers_hex(&b, 7, 0, "88 be");
	headers_hex(&b, 9, 0, "89");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 5 status=200\n"
	                               "lost RESP 7 HPACK state unknown or corrupt block\n"
	                               "headers RESP 9 status=204\n");
	/* an update after a field is a corrupt block */
	headers_hex(&b, 11, 0, "88 20");
	headers_hex(&b, 13, 0, "8c");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "lost RESP 11 HPACK state unknown or corrupt block\n"
	                               "headers RESP 13 status=400\n");
	/* the client allows 64 bytes: an update above is corrupt; one below
	 * it is fine, and the table then holds no more than that */
	settings1(&b, S_TABLE, 64);
	feed_buf(t, REQ, &b);
	headers_hex(&b, 15, 0, "3f e1 01 88");
	headers_hex(&b, 17, 0, "88");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "lost RESP 15 HPACK state unknown or corrupt block\n"
	                               "headers RESP 17 status=200\n");
	headers_hex(&b, 19, 0, "3f 21 88 5f 10 6170 706c 6963 6174 696f 6e2f 6a73 6f6e");
	headers_hex(&b, 21, 0, "88 be");
	/* 32 + 12 + 16 = 60 bytes: a second entry evicts the first */
	headers_hex(&b, 23, 0, "88 5f 0a 7465 7874 2f70 6c61 696e be");
	headers_hex(&b, 25, 0, "88 bf");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 19 status=200 ct=application/json\n"
	                               "headers RESP 21 status=200 ct=application/json\n"
	                               "headers RESP 23 status=200 ct=text/plain\n"
	                               "lost RESP 25 HPACK state unknown or corrupt block\n");
	/* a limit of 0 with an empty table: literals with indexing add nothing */
	settings1(&b, S_TABLE, 0);
	feed_buf(t, REQ, &b);
	headers_hex(&b, 27, 0, "20 88 5f 0a 7465 7874 2f70 6c61 696e");
	headers_hex(&b, 29, 0, "88 be");
	headers_hex(&b, 31, 0, "88");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 27 status=200 ct=text/plain\n"
	                               "lost RESP 29 HPACK state unknown or corrupt block\n"
	                               "headers RESP 31 status=200\n");
	/* the largest limits: a table past 64 KiB is not held here (a peer's
	 * memory is not the daemon's), so its update loses that block, and
	 * static fields still decode */
	settings1(&b, S_TABLE, 0xffffffffu);
	feed_buf(t, REQ, &b);
	headers_hex(&b, 33, 0, "3f e0 ff ff ff 0f 88");
	feed_buf(t, RESP, &b);
	settings1(&b, S_TABLE, 0xfffffffeu);
	feed_buf(t, REQ, &b);
	headers_hex(&b, 35, 0, "89");
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "lost RESP 33 HPACK state unknown or corrupt block\n"
	                               "headers RESP 35 status=204\n");
	/* the client's encoder is limited by the server's SETTINGS: a table of
	 * 8192 bytes only once they allow it, and then a 5000-byte entry fits */
	uint8_t *big = malloc(5010);
	memcpy(big, "\x3f\xe1\x3f\x82\x87\x84\x7a\x7f\x89\x26", 10);
	memset(big + 10, 'a', 5000);
	frame(&b, T_HEADERS, END_HEADERS, 33, big, 5010);
	feed_buf(t, REQ, &b);
	assert_string_equal(events(t), "lost REQ 33 HPACK state unknown or corrupt block\n");
	settings1(&b, S_TABLE, 8192);
	feed_buf(t, RESP, &b);
	frame(&b, T_HEADERS, END_HEADERS, 35, big, 5010);
	headers_hex(&b, 37, 0, "82 87 84 be");
	feed_buf(t, REQ, &b);
	char want[512], ua[128];
	memset(ua, 'a', 127);
	ua[127] = '\0';
	snprintf(want, sizeof(want),
	         "headers REQ 35 method=GET path=/ ua=%s\nheaders REQ 37 method=GET path=/ ua=%s\n",
	         ua, ua);
	assert_string_equal(events(t), want);
	assert_int_equal(h2_conn_stats(t->c)->errors, 0);
	free(big);
	buf_free(&b);
	t_free(t);
}

/* A header block past 256 KiB is not decoded (lost): the decoder restarts
 * empty, and what refers to the entries it missed is lost too. */
static void test_oversized_block(void **state)
{
	(void)state;
	struct t *t = t_new(false);
	struct buf b;
	buf_init(&b, 0);
	size_t n = (256u << 10) + 100;
	char *blk = malloc(n);
	memset(blk, 0x82, n); /* :method GET, over and over */
	frame(&b, T_HEADERS, 0, 1, blk, 16384);
	for (size_t off = 16384; off < n; off += 16384)
		frame(&b, T_CONT, off + 16384 >= n ? END_HEADERS : 0, 1, blk + off,
		      off + 16384 >= n ? n - off : 16384);
	frame(&b, T_HEADERS, END_HEADERS, 3, "\x82\x84", 2);
	feed_buf(t, REQ, &b);
	assert_string_equal(events(t), "lost REQ 1 header block larger than 256 KiB\n"
	                               "headers REQ 3 method=GET path=/\n");
	assert_int_equal(h2_conn_stats(t->c)->errors, 0);
	free(blk);
	buf_free(&b);
	t_free(t);
}

/* Kept fields: the query never, long values cut and counted, host from
 * :authority before host, 1xx interim headers, PUSH_PROMISE decoded for
 * the table but never reported, an empty header block. */
static void test_kept_fields(void **state)
{
	(void)state;
	static const char *const forbidden[] = {"QSECRET", "sk-", NULL};
	struct t *t = t_new(false);
	t->r.forbidden = forbidden;
	nghttp2_hd_deflater *cli, *srv;
	assert_int_equal(nghttp2_hd_deflate_new(&cli, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&srv, 4096), 0);
	uint8_t blk[4096];
	struct buf b;
	buf_init(&b, 0);
	char longua[300];
	memset(longua, 'u', sizeof(longua) - 1);
	longua[sizeof(longua) - 1] = '\0';
	const char *const req[] = {
	    ":method",   "POST",      ":path",          "/p?QSECRET",  ":authority", "a.example",
	    "host",      "h.example", "authorization",  "Bearer sk-1", "user-agent", longua,
	    "x-api-key", "sk-2",      "content-length", "x12",         NULL};
	const char *const req5[] = {":method", "GET", ":path", "/q", "host", "h.example", NULL};
	size_t len = hpack_block(cli, blk, sizeof(blk), req);
	frame(&b, T_HEADERS, END_HEADERS, 1, blk, len);
	frame(&b, T_HEADERS, END_HEADERS, 3, NULL, 0);
	len = hpack_block(cli, blk, sizeof(blk), req5);
	frame(&b, T_HEADERS, END_HEADERS, 5, blk, len);
	feed_buf(t, REQ, &b);
	char want[1024];
	snprintf(want, sizeof(want),
	         "headers REQ 1 method=POST path=/p host=a.example ua=%.127s\n"
	         "headers REQ 3\n"
	         "headers REQ 5 method=GET path=/q host=h.example\n",
	         longua);
	assert_string_equal(events(t), want);
	assert_int_equal(h2_conn_stats(t->c)->header_cut_bytes, sizeof(longua) - 1 - 127);
	static const char *const cont[] = {":status", "100", NULL};
	static const char *const push[] = {":method",    "GET",          ":path", "/pushed",
	                                   ":authority", "push.example", NULL};
	static const char *const fin[] = {":status", "200", "content-length", "5", NULL};
	static const char *const again[] = {":method", "GET",        ":path",
	                                    "/pushed", ":authority", "push.example",
	                                    ":status", "200",        NULL};
	len = hpack_block(srv, blk, sizeof(blk), cont);
	frame(&b, T_HEADERS, END_HEADERS, 1, blk, len);
	uint8_t pp[256] = {0, 0, 0, 2};
	len = hpack_block(srv, pp + 4, sizeof(pp) - 4, push);
	frame(&b, T_PUSH, END_HEADERS, 1, pp, len + 4);
	len = hpack_block(srv, blk, sizeof(blk), fin);
	frame(&b, T_HEADERS, END_HEADERS, 1, blk, len);
	data(&b, 1, END_STREAM, "hello");
	/* the pushed block's entries are in the table */
	len = hpack_block(srv, blk, sizeof(blk), again);
	frame(&b, T_HEADERS, END_HEADERS, 3, blk, len);
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "headers RESP 1 status=100\n"
	                               "headers RESP 1 status=200 cl=5\n"
	                               "data RESP 1 hello\n"
	                               "end RESP 1\n"
	                               "headers RESP 3 status=200 method=GET path=/pushed "
	                               "host=push.example\n");
	assert_int_equal(h2_conn_stats(t->c)->header_blocks[RESP], 4);
	nghttp2_hd_deflate_del(cli);
	nghttp2_hd_deflate_del(srv);
	buf_free(&b);
	t_free(t);
}

/* ---- A new client preface ---- */

static void test_new_preface_resets(void **state)
{
	(void)state;
	struct t *t = t_new(true);
	struct buf b;
	buf_init(&b, 0);
	preface(&b);
	settings1(&b, S_WINDOW, 10);
	headers_hex(&b, 1, 0, "83 87 44 03 2f7631 41 01 61");
	feed_buf(t, REQ, &b);
	headers_hex(&b, 1, 0, "88 5f 0a 7465 7874 2f70 6c61 696e");
	data(&b, 1, 0, "0123456789");
	feed_buf(t, RESP, &b);
	/* a preface inside DATA is data */
	frame(&b, T_DATA, 0, 1, H2_PREFACE, H2_PREFACE_LEN);
	/* and half a frame in the response direction */
	frame(&b, T_DATA, 0, 1, "abcdef", 6);
	feed(t, RESP, b.data, b.len - 3);
	buf_reset(&b);
	assert_string_equal(events(t),
	                    "headers REQ 1 method=POST path=/v1 host=a\n"
	                    "headers RESP 1 status=200 ct=text/plain\n"
	                    "data RESP 1 0123456789\n"
	                    "window 1 stalled\n"
	                    "data RESP 1 PRI * HTTP/2.0\\x0d\\x0a\\x0d\\x0aSM\\x0d\\x0a\\x0d"
	                    "\\x0aabc\n");
	/* the new preface, split: everything restarts */
	feed(t, REQ, H2_PREFACE, 10);
	assert_string_equal(events(t), "");
	feed(t, REQ, H2_PREFACE + 10, H2_PREFACE_LEN - 10);
	assert_string_equal(events(t), "preface\n");
	/* old table entries are gone, new streams have the default window, no
	 * stream is continued */
	headers_hex(&b, 1, 0, "83 87 be");
	headers_hex(&b, 3, 0, "83 87 84 41 01 62");
	feed_buf(t, REQ, &b);
	headers_hex(&b, 1, 0, "88");
	data_n(&b, 3, 100);
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t),
	                    "lost REQ 1 HPACK state unknown or corrupt block\n"
	                    "headers REQ 3 method=POST path=/ host=b\n"
	                    "headers RESP 1 status=200\n"
	                    "data RESP 3 "
	                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	assert_int_equal(h2_conn_stats(t->c)->errors, 0);
	/* a joined connection takes a preface as its start too */
	t_free(t);
	t = t_new(false);
	feed(t, REQ, H2_PREFACE, H2_PREFACE_LEN);
	settings1(&b, S_WINDOW, 10);
	headers_hex(&b, 1, 0, "82 87 84");
	feed_buf(t, REQ, &b);
	data_n(&b, 1, 10);
	feed_buf(t, RESP, &b);
	assert_string_equal(events(t), "preface\n"
	                               "headers REQ 1 method=GET path=/\n"
	                               "data RESP 1 xxxxxxxxxx\n"
	                               "window 1 stalled\n");
	buf_free(&b);
	t_free(t);
}

/* ---- Flow control ---- */

/* The events but DATA. */
static char *without_data(char *ev)
{
	static char out[4096];
	size_t n = 0;
	for (char *l = strtok(ev, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "data ", 5)) {
			assert_true(n + strlen(l) + 2 < sizeof(out));
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s\n", l);
		}
	}
	out[n] = '\0';
	return out;
}

static void test_flow_control(void **state)
{
	(void)state;
	struct t *t = t_new(true);
	struct buf b;
	buf_init(&b, 0);
	preface(&b);
	settings1(&b, S_WINDOW, 100);
	headers_hex(&b, 1, END_STREAM, "82 87 84");
	headers_hex(&b, 3, END_STREAM, "82 87 84");
	feed_buf(t, REQ, &b);
	headers_hex(&b, 1, 0, "88");
	headers_hex(&b, 3, 0, "88");
	data_n(&b, 1, 60);
	feed_buf(t, RESP, &b);
	data_n(&b, 1, 40);
	feed_buf(t, RESP, &b);
	window(&b, 1, 10);
	feed_buf(t, REQ, &b);
	/* the server's settings and window updates are the client's windows */
	settings1(&b, S_WINDOW, 1);
	window(&b, 1, 5);
	window(&b, 0, 5);
	feed_buf(t, RESP, &b);
	/* a smaller initial window moves open streams' windows: 1 to -40, 3 to
	 * 50; a larger one to 110 and 200; out of range is ignored */
	settings1(&b, S_WINDOW, 50);
	settings1(&b, S_WINDOW, 200);
	settings1(&b, S_WINDOW, 0x80000000u);
	window(&b, 99, 1000); /* a stream not known */
	feed_buf(t, REQ, &b);
	data_n(&b, 3, 200);
	feed_buf(t, RESP, &b);
	/* the connection's window: 65535 - 300 left */
	window(&b, 1, 100000);
	feed_buf(t, REQ, &b);
	data_n(&b, 1, 65235);
	feed_buf(t, RESP, &b);
	assert_string_equal(without_data(events(t)), "headers REQ 1 method=GET path=/\n"
	                                             "end REQ 1\n"
	                                             "headers REQ 3 method=GET path=/\n"
	                                             "end REQ 3\n"
	                                             "headers RESP 1 status=200\n"
	                                             "headers RESP 3 status=200\n"
	                                             "window 1 stalled\n"
	                                             "window 1 open\n"
	                                             "window 1 stalled\n"
	                                             "window 1 open\n"
	                                             "window 3 stalled\n"
	                                             "window 0 stalled\n");
	window(&b, 0, 1);
	window(&b, 0, 1);
	feed_buf(t, REQ, &b);
	/* a stream opened now starts at the initial window of 200 */
	headers_hex(&b, 5, END_STREAM, "82 87 84");
	feed_buf(t, REQ, &b);
	headers_hex(&b, 5, 0, "88");
	data_n(&b, 5, 1);
	data_n(&b, 5, 199);
	feed_buf(t, RESP, &b);
	window(&b, 0, 0x7fffffff);
	feed_buf(t, REQ, &b);
	assert_string_equal(without_data(events(t)), "window 0 open\n"
	                                             "headers REQ 5 method=GET path=/\n"
	                                             "end REQ 5\n"
	                                             "headers RESP 5 status=200\n"
	                                             "window 5 stalled\n"
	                                             "window 0 stalled\n"
	                                             "window 0 open\n");
	buf_free(&b);
	t_free(t);
}

/* ---- Recognising frames ---- */

static void test_frames_side(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
#define SIDE(dir) h2_frames_side((dir), b.data, b.len)
	/* a request, written: a client's */
	headers_hex(&b, 1, END_STREAM, "82 87 84 41 01 61");
	assert_int_equal(SIDE(REQ), H2_SIDE_CLIENT);
	assert_true(h2_frames_plausible(REQ, b.data, b.len));
	/* ... read: what a server reads */
	assert_int_equal(SIDE(RESP), H2_SIDE_SERVER);
	assert_false(h2_frames_plausible(RESP, b.data, b.len));
	buf_reset(&b);
	/* a response with DATA, read by a client */
	headers_hex(&b, 1, 0, "88 5f 0a 7465 7874 2f70 6c61 696e");
	data(&b, 1, PADDED, "\x01hi");
	data(&b, 1, END_STREAM, "");
	assert_int_equal(SIDE(RESP), H2_SIDE_CLIENT);
	assert_true(h2_frames_plausible(RESP, b.data, b.len));
	assert_int_equal(SIDE(REQ), H2_SIDE_SERVER);
	buf_reset(&b);
	/* padded and prioritised request headers: the first field is found */
	frame(&b, T_HEADERS, PADDED | PRIO | END_HEADERS, 1, "\x01\0\0\0\0\x10\x83\0", 8);
	assert_int_equal(SIDE(REQ), H2_SIDE_CLIENT);
	buf_reset(&b);
	/* control frames only: no sign, a client's */
	window(&b, 0, 1000);
	frame(&b, T_PING, 0, 0, "12345678", 8);
	frame(&b, T_SETTINGS, ACK, 0, NULL, 0);
	data(&b, 1, 0, "body");
	frame(&b, T_RST, 0, 1, "\0\0\0\x08", 4);
	frame(&b, T_PRIORITY, 0, 3, "\0\0\0\1\x10", 5);
	frame(&b, T_GOAWAY, 0, 0, "\0\0\0\0\0\0\0\0", 8);
	assert_true(h2_frames_plausible(REQ, b.data, b.len));
	assert_true(h2_frames_plausible(RESP, b.data, b.len));
	buf_reset(&b);
	/* a server's SETTINGS first: written by a server */
	settings1(&b, S_STREAMS, 100);
	assert_int_equal(SIDE(REQ), H2_SIDE_SERVER);
	assert_int_equal(SIDE(RESP), H2_SIDE_CLIENT);
	buf_reset(&b);
	/* a PUSH_PROMISE: only a server sends one */
	frame(&b, T_PUSH, END_HEADERS, 1, "\0\0\0\2\x82", 5);
	assert_int_equal(SIDE(REQ), H2_SIDE_SERVER);
	assert_int_equal(SIDE(RESP), H2_SIDE_CLIENT);
	buf_reset(&b);
	/* request headers on an even stream: nobody's */
	headers_hex(&b, 2, 0, "82 87 84");
	assert_int_equal(SIDE(REQ), H2_SIDE_NONE);
	assert_false(h2_frames_plausible(REQ, b.data, b.len));
	buf_reset(&b);

	/* not frames */
	static const struct {
		const char *what;
		size_t n;
		const char *p;
	} bad[] = {
	    {"short", 8, "\0\0\0\4\0\0\0\0"},
	    {"HTTP/1.1", 18, "GET / HTTP/1.1\r\n\r\n"},
	    {"the preface", 24, H2_PREFACE},
	    {"truncated", 12, "\0\0\4\0\0\0\0\0\1abc"},
	    {"trailing bytes", 13, "\0\0\0\4\1\0\0\0\0abcd"},
	    {"unknown type", 9, "\0\0\0\x0a\0\0\0\0\1"},
	    {"reserved bit", 10, "\0\0\1\0\0\x80\0\0\1x"},
	    {"DATA on stream 0", 10, "\0\0\1\0\0\0\0\0\0x"},
	    {"SETTINGS on a stream", 9, "\0\0\0\4\0\0\0\0\1"},
	    {"SETTINGS ACK with payload", 15, "\0\0\6\4\1\0\0\0\0\0\1\0\0\0\0"},
	    {"SETTINGS of 5", 14, "\0\0\5\4\0\0\0\0\0\0\1\0\0\0"},
	    {"DATA with END_HEADERS", 10, "\0\0\1\0\4\0\0\0\1x"},
	    {"PING of 7", 16, "\0\0\7\6\0\0\0\0\0abcdefg"},
	    {"WINDOW_UPDATE of 3", 12, "\0\0\3\x08\0\0\0\0\0abc"},
	    {"RST_STREAM of 2", 11, "\0\0\2\3\0\0\0\0\1ab"},
	    {"GOAWAY of 4", 13, "\0\0\4\7\0\0\0\0\0abcd"},
	    {"PRIORITY of 4", 13, "\0\0\4\2\0\0\0\0\1abcd"},
	    {"CONTINUATION on 0", 10, "\0\0\1\x09\4\0\0\0\0\x82"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int dir = REQ; dir <= RESP; dir++) {
			if (h2_frames_side(dir, bad[i].p, bad[i].n) != H2_SIDE_NONE)
				fail_msg("%s (%s) taken for frames", bad[i].what, dname(dir));
			assert_false(h2_frames_plausible(dir, bad[i].p, bad[i].n));
		}
	}
	assert_false(h2_frames_plausible(REQ, "", 0));
#undef SIDE
	buf_free(&b);
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(h2_error_name(0), "NO_ERROR");
	assert_string_equal(h2_error_name(1), "PROTOCOL_ERROR");
	assert_string_equal(h2_error_name(3), "FLOW_CONTROL_ERROR");
	assert_string_equal(h2_error_name(7), "REFUSED_STREAM");
	assert_string_equal(h2_error_name(8), "CANCEL");
	assert_string_equal(h2_error_name(0xb), "ENHANCE_YOUR_CALM");
	assert_string_equal(h2_error_name(0xd), "HTTP_1_1_REQUIRED");
	assert_string_equal(h2_error_name(0xe), "UNKNOWN");
	assert_string_equal(h2_error_name(0xffffffffu), "UNKNOWN");
}

/* Memory is accounted and freed (ASan checks the rest). */
static void test_memory(void **state)
{
	(void)state;
	struct t *t = t_new(false);
	size_t base = h2_conn_memory(t->c);
	assert_true(base > 0);
	struct buf b;
	buf_init(&b, 0);
	for (uint32_t sid = 1; sid < 4000; sid += 2)
		headers_hex(&b, sid, 0, "82 87 84");
	feed_buf(t, REQ, &b);
	assert_true(h2_conn_memory(t->c) > base);
	assert_true(h2_conn_memory(t->c) < base + (1u << 20));
	buf_free(&b);
	t_free(t);
	h2_conn_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7541_c3_requests),
	    cmocka_unit_test(test_rfc7541_c4_requests_huffman),
	    cmocka_unit_test(test_rfc7541_c5_responses),
	    cmocka_unit_test(test_rfc7541_c6_responses_huffman),
	    cmocka_unit_test(test_conversation_every_split),
	    cmocka_unit_test(test_framing_errors),
	    cmocka_unit_test(test_preface_split),
	    cmocka_unit_test(test_joined_hpack_unknown),
	    cmocka_unit_test(test_table_size_changes),
	    cmocka_unit_test(test_oversized_block),
	    cmocka_unit_test(test_kept_fields),
	    cmocka_unit_test(test_new_preface_resets),
	    cmocka_unit_test(test_flow_control),
	    cmocka_unit_test(test_frames_side),
	    cmocka_unit_test(test_error_names),
	    cmocka_unit_test(test_memory),
	};
	return cmocka_run_group_tests_name("h2", tests, NULL, NULL);
}
