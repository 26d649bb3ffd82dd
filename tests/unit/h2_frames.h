/* HTTP/2 frames for the tests, as a client and a server would write them:
 * header blocks from nghttp2's HPACK deflater (one per direction, so the
 * dynamic table carries across blocks as on a real connection). */
#ifndef LLMOBS_TEST_H2_FRAMES_H
#define LLMOBS_TEST_H2_FRAMES_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { F_DATA = 0, F_HEADERS = 1, F_RST = 3, F_SETTINGS = 4, F_GOAWAY = 7, F_WINDOW = 8 };
enum { FL_END_STREAM = 1, FL_END_HEADERS = 4, FL_PADDED = 8 };

struct h2_out {
	char data[1 << 16];
	size_t len;
};

static inline void h2_frame(struct h2_out *o, uint8_t type, uint8_t flags, uint32_t sid,
                            const void *payload, size_t n)
{
	uint8_t *p = (uint8_t *)o->data + o->len;
	p[0] = (uint8_t)(n >> 16);
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(sid >> 24 & 0x7f);
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
	if (n)
		memcpy(p + 9, payload, n);
	o->len += 9 + n;
}

static inline void h2_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* HEADERS with END_HEADERS from name/value pairs (NULL-terminated). */
static inline void h2_headers(struct h2_out *o, nghttp2_hd_deflater *d, uint32_t sid,
                              int end_stream, const char *const *kv)
{
	nghttp2_nv nv[32];
	size_t n = 0;
	for (; kv[2 * n]; n++) {
		nv[n].name = (uint8_t *)kv[2 * n];
		nv[n].namelen = strlen(kv[2 * n]);
		nv[n].value = (uint8_t *)kv[2 * n + 1];
		nv[n].valuelen = strlen(kv[2 * n + 1]);
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	uint8_t block[8192];
	ssize_t len = nghttp2_hd_deflate_hd(d, block, sizeof(block), nv, n);
	if (len < 0)
		abort();
	h2_frame(o, F_HEADERS, FL_END_HEADERS | (end_stream ? FL_END_STREAM : 0), sid, block,
	         (size_t)len);
}

static inline void h2_data(struct h2_out *o, uint32_t sid, int end_stream, const char *p, size_t n)
{
	h2_frame(o, F_DATA, end_stream ? FL_END_STREAM : 0, sid, p, n);
}

static inline void h2_rst(struct h2_out *o, uint32_t sid, uint32_t code)
{
	uint8_t p[4];
	h2_u32(p, code);
	h2_frame(o, F_RST, 0, sid, p, 4);
}

static inline void h2_goaway(struct h2_out *o, uint32_t last, uint32_t code)
{
	uint8_t p[8];
	h2_u32(p, last);
	h2_u32(p + 4, code);
	h2_frame(o, F_GOAWAY, 0, 0, p, 8);
}

static inline void h2_window(struct h2_out *o, uint32_t sid, uint32_t inc)
{
	uint8_t p[4];
	h2_u32(p, inc);
	h2_frame(o, F_WINDOW, 0, sid, p, 4);
}

/* SETTINGS with one (id, value) pair, or none (id 0). */
static inline void h2_settings(struct h2_out *o, uint16_t id, uint32_t value)
{
	uint8_t p[6] = {(uint8_t)(id >> 8), (uint8_t)id};
	h2_u32(p + 2, value);
	h2_frame(o, F_SETTINGS, 0, 0, p, id ? 6 : 0);
}

static inline void h2_preface(struct h2_out *o)
{
	memcpy(o->data + o->len, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	o->len += 24;
}

#endif
