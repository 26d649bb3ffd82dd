/* WebSocket reassembly, both directions of one connection, with or without
 * permessage-deflate and context takeover, joined or from the start. Input:
 * an options byte (bit 0 deflate, bits 1-2 no context takeover for REQ and
 * RESP, bit 3 joined, bit 4 a Sec-WebSocket-Extensions value up to a NUL
 * follows and decides the first three when it parses), then records of
 * [control][length - 1][bytes]: control bit 0 is the direction, bit 1 a
 * ws_reset_dir() after the bytes, bit 2 a ws_frames_plausible() of them.
 * A second connection is fed the same bytes one at a time: whatever the
 * split, the same callbacks must fire with the same arguments. */
#include <string.h>

#include "fuzz.h"
#include "wire/ws.h"

struct seen {
	uint64_t hash;
	uint64_t fed[2];
	bool stopped[2];
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

static void on_message(void *ctx, enum http_dir dir, bool text, const char *p, size_t n)
{
	struct seen *s = ctx;
	if (n > WS_MESSAGE_MAX || p[n] != '\0' || s->stopped[dir])
		abort();
	mix_u64(s, 1 + dir * 16 + text);
	mix_u64(s, n);
	mix(s, p, n);
}

static void on_unparsed(void *ctx, enum http_dir dir, const char *reason, uint64_t wire_bytes)
{
	struct seen *s = ctx;
	if (!reason || !reason[0] || wire_bytes < 2 || wire_bytes > s->fed[dir] || s->stopped[dir])
		abort();
	mix_u64(s, 2 + dir * 16);
	mix(s, reason, strlen(reason));
	mix_u64(s, wire_bytes);
}

static void on_close(void *ctx, enum http_dir dir, unsigned code, const char *reason, size_t n)
{
	struct seen *s = ctx;
	if (n > 123 || reason[n] != '\0' || code > 0xffff || s->stopped[dir] ||
	    !ws_close_name(code)[0])
		abort();
	mix_u64(s, 3 + dir * 16);
	mix_u64(s, code);
	mix(s, reason, n);
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct seen *s = ctx;
	/* once until ws_reset_dir() */
	if (!reason || !reason[0] || s->stopped[dir])
		abort();
	s->stopped[dir] = true;
	mix_u64(s, 4 + dir * 16);
	mix(s, reason, strlen(reason));
}

static const struct ws_callbacks cb = {on_message, on_unparsed, on_close, on_error};

static void options(struct fin *f, struct ws_options *o, bool *joined)
{
	uint8_t b = fin_u8(f);
	*o = (struct ws_options){
	    .deflate = b & 1, .no_context_takeover = {b & 2, b & 4}, .window_bits = {15, 15}};
	*joined = b & 8;
	if (!(b & 16))
		return;
	const uint8_t *v;
	size_t n = fin_until(f, 0, &v);
	char text[256];
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, v, n);
	text[n] = '\0';
	struct ws_options parsed;
	int rc = ws_parse_extensions(text, &parsed);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && parsed.deflate)
		abort();
	for (int d = 0; d < 2; d++)
		if (parsed.window_bits[d] < 8 || parsed.window_bits[d] > 15)
			abort();
	if (rc == 0)
		*o = parsed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = {data, size};
	struct ws_options o;
	bool joined;
	options(&f, &o, &joined);
	struct seen sa = {0}, sb = {0};
	struct ws_conn *a = ws_conn_new(&cb, &sa, &o, joined);
	struct ws_conn *b = ws_conn_new(&cb, &sb, &o, joined);
	while (f.n) {
		uint8_t ctl = fin_u8(&f);
		const uint8_t *p;
		size_t n = fin_piece(&f, 256, &p);
		enum http_dir dir = ctl & 1 ? HTTP_DIR_RESP : HTTP_DIR_REQ;
		if (ctl & 4)
			(void)ws_frames_plausible(dir, (const char *)p, n);
		sa.fed[dir] += n;
		ws_feed(a, dir, (const char *)p, n);
		for (size_t i = 0; i < n; i++) {
			sb.fed[dir]++;
			ws_feed(b, dir, (const char *)p + i, 1);
		}
		if (ctl & 2) {
			ws_reset_dir(a, dir);
			ws_reset_dir(b, dir);
			sa.stopped[dir] = sb.stopped[dir] = false;
		}
		if (ws_conn_memory(a) > (16u << 20) || ws_conn_memory(b) > (16u << 20))
			abort();
	}
	const struct ws_stats *x = ws_conn_stats(a), *y = ws_conn_stats(b);
	if (sa.hash != sb.hash)
		abort();
	for (int d = 0; d < 2; d++) {
		/* inflated_bytes may differ: a message past the cap without
		 * context takeover stops inflating wherever its piece ends */
		if (x->bytes[d] != sa.fed[d] || x->skipped_bytes[d] > x->bytes[d] ||
		    x->frames[d] != y->frames[d] || x->messages[d] != y->messages[d] ||
		    x->unparsed[d] != y->unparsed[d] || x->control[d] != y->control[d] ||
		    x->skipped_bytes[d] != y->skipped_bytes[d] || x->bytes[d] != y->bytes[d])
			abort();
	}
	if (x->errors != y->errors)
		abort();
	ws_conn_free(a);
	ws_conn_free(b);
	return 0;
}
