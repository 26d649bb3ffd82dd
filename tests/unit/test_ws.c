/* WebSocket reassembly (wire/ws.c): the RFC 6455 §5.7 and RFC 7692 §7.2.3
 * examples byte for byte, a two-way conversation (masked, compressed with
 * context takeover, fragmented around control frames) fed split at every
 * byte, joining a compressed connection mid-way (a reference to unseen
 * history is counted, never guessed), framing errors and the recovery
 * after ws_reset_dir(), the 4 MiB message cap, Sec-WebSocket-Extensions
 * and the sniffer's ws_frames_plausible(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "wire/ws.h"

#define REQ  HTTP_DIR_REQ
#define RESP HTTP_DIR_RESP

/* ---- Events, serialised per direction ---- */

struct rec {
	struct buf out[2];
	unsigned errors[2]; /* on_error calls since the last reset */
};

static void put_escaped(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char hex[8];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			buf_append(b, s + i, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", ch);
			buf_append(b, hex, 4);
		}
	}
}

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void on_message(void *ctx, enum http_dir dir, bool text, const char *p, size_t n)
{
	struct rec *r = ctx;
	char head[64];
	assert_true(n <= WS_MESSAGE_MAX);
	assert_int_equal(p[n], '\0');
	if (n > 200) {
		/* long ones by size and hash */
		snprintf(head, sizeof(head), "%c#%zu:%016llx\n", text ? 'T' : 'B', n,
		         (unsigned long long)fnv(p, n));
		buf_append(&r->out[dir], head, strlen(head));
		return;
	}
	buf_append(&r->out[dir], text ? "T:" : "B:", 2);
	put_escaped(&r->out[dir], p, n);
	buf_append(&r->out[dir], "\n", 1);
}

static void on_unparsed(void *ctx, enum http_dir dir, const char *reason, uint64_t wire)
{
	struct rec *r = ctx;
	char s[160];
	snprintf(s, sizeof(s), "U:%s:%llu\n", reason, (unsigned long long)wire);
	buf_append(&r->out[dir], s, strlen(s));
}

static void on_close(void *ctx, enum http_dir dir, unsigned code, const char *reason, size_t n)
{
	struct rec *r = ctx;
	char s[32];
	assert_int_equal(reason[n], '\0');
	snprintf(s, sizeof(s), "C:%u:", code);
	buf_append(&r->out[dir], s, strlen(s));
	put_escaped(&r->out[dir], reason, n);
	buf_append(&r->out[dir], "\n", 1);
}

static void on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct rec *r = ctx;
	assert_int_equal(r->errors[dir], 0); /* once until ws_reset_dir() */
	r->errors[dir]++;
	buf_append(&r->out[dir], "E:", 2);
	buf_append(&r->out[dir], reason, strlen(reason));
	buf_append(&r->out[dir], "\n", 1);
}

static const struct ws_callbacks cbs = {on_message, on_unparsed, on_close, on_error};

static const struct ws_options PLAIN = {.window_bits = {15, 15}};
static const struct ws_options DEFLATE = {.deflate = true, .window_bits = {15, 15}};

static struct ws_conn *open_conn(struct rec *r, const struct ws_options *o, bool joined)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->out[0], 0);
	buf_init(&r->out[1], 0);
	return ws_conn_new(&cbs, r, o, joined);
}

static void close_conn(struct rec *r, struct ws_conn *c)
{
	ws_conn_free(c);
	buf_free(&r->out[0]);
	buf_free(&r->out[1]);
}

static void reset_dir(struct rec *r, struct ws_conn *c, enum http_dir dir)
{
	ws_reset_dir(c, dir);
	r->errors[dir] = 0;
}

/* dir's events since the last call must be want. */
static void expect(struct rec *r, enum http_dir dir, const char *want)
{
	const char *got = r->out[dir].data ? r->out[dir].data : "";
	if (strcmp(got, want))
		fail_msg("%s events:\n%s\ninstead of\n%s", dir == REQ ? "REQ" : "RESP", got, want);
	buf_reset(&r->out[dir]);
}

static void feed(struct ws_conn *c, enum http_dir dir, const void *p, size_t n)
{
	ws_feed(c, dir, p, n);
}

#define FEED(c, dir, ...)                                                                          \
	do {                                                                                       \
		static const uint8_t bytes_[] = {__VA_ARGS__};                                     \
		feed(c, dir, bytes_, sizeof(bytes_));                                              \
	} while (0)

/* ---- Frames and compressed messages written here ---- */

/* A frame: b0 is FIN|RSV|opcode; key NULL for unmasked. */
static void frame(struct buf *b, unsigned b0, const uint8_t *key, const void *payload, size_t n)
{
	uint8_t h[14];
	size_t hl = 2;
	h[0] = (uint8_t)b0;
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	if (key) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	buf_append(b, h, hl);
	const uint8_t *p = payload;
	for (size_t i = 0; i < n; i++) {
		uint8_t x = key ? p[i] ^ key[i & 3] : p[i];
		buf_append(b, &x, 1);
	}
}

static void deflater(z_stream *z)
{
	memset(z, 0, sizeof(*z));
	assert_int_equal(deflateInit2(z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
}

/* A message as permessage-deflate sends it: Z_SYNC_FLUSH, its 00 00 ff ff
 * tail removed (RFC 7692 §7.2.1). */
static void compress_msg(z_stream *z, const void *p, size_t n, struct buf *out)
{
	static uint8_t tmp[1 << 16];
	buf_init(out, 0);
	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = tmp;
		z->avail_out = sizeof(tmp);
		assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
		buf_append(out, tmp, sizeof(tmp) - z->avail_out);
	} while (z->avail_out == 0);
	assert_true(out->len >= 4);
	assert_memory_equal(out->data + out->len - 4, "\x00\x00\xff\xff", 4);
	out->len -= 4;
}

/* A compressed message as one frame (RSV1 | text). */
static void compressed_frame(struct buf *b, z_stream *z, const uint8_t *key, const char *s)
{
	struct buf m;
	compress_msg(z, s, strlen(s), &m);
	frame(b, 0xc1, key, m.data, m.len);
	buf_free(&m);
}

/* ---- Feeding split every way ---- */

struct outcome {
	char *out[2];
	struct ws_stats st;
};

/* Feeds req and resp in pieces: cuts[] are the piece ends (ascending, the
 * same offsets in both directions), alternating REQ and RESP. */
static struct outcome run_cuts(const struct ws_options *o, bool joined, const struct buf *req,
                               const struct buf *resp, const size_t *cuts, size_t ncuts)
{
	struct rec r;
	struct ws_conn *c = open_conn(&r, o, joined);
	const struct buf *s[2] = {req, resp};
	size_t at[2] = {0, 0};
	for (size_t i = 0; i <= ncuts; i++) {
		for (int d = 0; d < 2; d++) {
			size_t end = i < ncuts && cuts[i] < s[d]->len ? cuts[i] : s[d]->len;
			if (end > at[d])
				ws_feed(c, (enum http_dir)d, s[d]->data + at[d], end - at[d]);
			at[d] = end > at[d] ? end : at[d];
		}
	}
	struct outcome out = {.st = *ws_conn_stats(c)};
	for (int d = 0; d < 2; d++)
		out.out[d] = xstrdup(r.out[d].data ? r.out[d].data : "");
	close_conn(&r, c);
	return out;
}

static void same(const struct outcome *ref, struct outcome *o, const char *how)
{
	for (int d = 0; d < 2; d++)
		if (strcmp(ref->out[d], o->out[d]))
			fail_msg("%s, %s: got\n%s\ninstead of\n%s", how, d ? "RESP" : "REQ",
			         o->out[d], ref->out[d]);
	if (memcmp(&ref->st, &o->st, sizeof(o->st)))
		fail_msg("%s: stats differ", how);
	free(o->out[0]);
	free(o->out[1]);
}

/* Whole; split in two at every offset; 1-byte pieces; random pieces. The
 * outcome of feeding whole is returned (the caller frees it). */
static struct outcome check_splits(const struct ws_options *o, bool joined, const struct buf *req,
                                   const struct buf *resp)
{
	struct outcome ref = run_cuts(o, joined, req, resp, NULL, 0), got;
	size_t n = req->len > resp->len ? req->len : resp->len;
	char how[64];
	for (size_t cut = 1; cut < n; cut++) {
		got = run_cuts(o, joined, req, resp, &cut, 1);
		snprintf(how, sizeof(how), "split at %zu", cut);
		same(&ref, &got, how);
	}
	size_t *cuts = xmalloc((n + 1) * sizeof(*cuts));
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	got = run_cuts(o, joined, req, resp, cuts, n);
	same(&ref, &got, "1-byte pieces");
	for (unsigned seed = 1; seed <= 50; seed++) {
		size_t k = 0, at = 0;
		srand(seed);
		while ((at += 1 + (size_t)rand() % 23) < n)
			cuts[k++] = at;
		got = run_cuts(o, joined, req, resp, cuts, k);
		snprintf(how, sizeof(how), "random pieces, seed %u", seed);
		same(&ref, &got, how);
	}
	free(cuts);
	return ref;
}

static void outcome_free(struct outcome *o)
{
	free(o->out[0]);
	free(o->out[1]);
}

static struct buf bytes_of(const void *p, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	buf_append(&b, p, n);
	return b;
}

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- RFC 6455 §5.7 ---- */

static void test_rfc6455_examples(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &PLAIN, false);
	/* a single-frame unmasked text message */
	FEED(c, RESP, 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
	expect(&r, RESP, "T:Hello\n");
	/* a single-frame masked text message */
	FEED(c, REQ, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
	expect(&r, REQ, "T:Hello\n");
	/* a fragmented unmasked text message */
	FEED(c, RESP, 0x01, 0x03, 0x48, 0x65, 0x6c);
	expect(&r, RESP, "");
	FEED(c, RESP, 0x80, 0x02, 0x6c, 0x6f);
	expect(&r, RESP, "T:Hello\n");
	/* unmasked ping, masked pong */
	FEED(c, RESP, 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
	FEED(c, REQ, 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
	expect(&r, RESP, "");
	expect(&r, REQ, "");
	const struct ws_stats *st = ws_conn_stats(c);
	assert_int_equal(st->control[REQ], 1);
	assert_int_equal(st->control[RESP], 1);
	/* 256 bytes binary in a single unmasked frame: 16-bit length */
	uint8_t *big = xmalloc(65536 + 10);
	for (size_t i = 0; i < 65536; i++)
		big[10 + i] = (uint8_t)(i * 7 + 3);
	big[6] = 0x82;
	big[7] = 0x7e;
	big[8] = 0x01;
	big[9] = 0x00;
	feed(c, RESP, big + 6, 4 + 256);
	char want[80];
	snprintf(want, sizeof(want), "B#256:%016llx\n",
	         (unsigned long long)fnv((char *)big + 10, 256));
	expect(&r, RESP, want);
	/* 64 KiB binary in a single unmasked frame: 64-bit length */
	static const uint8_t h64[10] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
	memcpy(big, h64, 10);
	feed(c, RESP, big, 10 + 65536);
	snprintf(want, sizeof(want), "B#65536:%016llx\n",
	         (unsigned long long)fnv((char *)big + 10, 65536));
	expect(&r, RESP, want);
	free(big);
	assert_int_equal(st->messages[RESP], 4);
	assert_int_equal(st->messages[REQ], 1);
	assert_int_equal(st->frames[RESP], 6);
	assert_int_equal(st->errors, 0);
	assert_int_equal(st->skipped_bytes[RESP] + st->skipped_bytes[REQ], 0);
	close_conn(&r, c);
}

/* ---- RFC 7692 §7.2.3 ---- */

static void test_rfc7692_examples(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &DEFLATE, false);
	/* 7.2.3.1: "Hello" in one compressed frame, then fragmented */
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	expect(&r, RESP, "T:Hello\n");
	close_conn(&r, c);
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0x41, 0x03, 0xf2, 0x48, 0xcd);
	FEED(c, RESP, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00);
	expect(&r, RESP, "T:Hello\n");
	close_conn(&r, c);
	/* 7.2.3.2: with context takeover, the second "Hello" refers back */
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "T:Hello\nT:Hello\n");
	assert_int_equal(ws_conn_stats(c)->inflated_bytes[RESP], 10);
	close_conn(&r, c);
	/* 7.2.3.3: a block with BFINAL set; the window carries on to the next
	 * message all the same */
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "T:Hello\nT:Hello\n");
	close_conn(&r, c);
	/* 7.2.3.4: two DEFLATE blocks in one message; 7.2.3.5: stored */
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9,
	     0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00);
	expect(&r, RESP, "T:Hello\nT:Hello\n");
	close_conn(&r, c);
	/* server_no_context_takeover: each message alone; the back-reference
	 * of 7.2.3.2 then has nothing to refer to */
	struct ws_options o = DEFLATE;
	o.no_context_takeover[RESP] = true;
	c = open_conn(&r, &o, false);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	expect(&r, RESP,
	       "T:Hello\nT:Hello\nU:corrupt permessage-deflate data: invalid distance too far "
	       "back:7\nT:Hello\n");
	/* and its inflater does not outlive a message */
	assert_true(ws_conn_memory(c) < 16384);
	close_conn(&r, c);
}

/* client_no_context_takeover: the client's messages alone, the server's
 * with takeover; generated here with zlib. */
static void test_no_context_takeover_per_direction(void **state)
{
	(void)state;
	struct ws_options o = DEFLATE;
	o.no_context_takeover[REQ] = true;
	z_stream cli, srv;
	deflater(&cli);
	deflater(&srv);
	const char *m = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"AAAA\"}";
	struct buf req, resp;
	buf_init(&req, 0);
	buf_init(&resp, 0);
	for (int i = 0; i < 3; i++) {
		compressed_frame(&req, &cli, KEY, m);
		assert_int_equal(deflateReset(&cli), Z_OK); /* what the option makes it do */
		compressed_frame(&resp, &srv, NULL, m);
	}
	struct outcome out = check_splits(&o, false, &req, &resp);
	char want[256];
	snprintf(want, sizeof(want), "T:%s\nT:%s\nT:%s\n", m, m, m);
	assert_string_equal(out.out[REQ], want);
	assert_string_equal(out.out[RESP], want);
	outcome_free(&out);
	/* the same client bytes read with takeover still decode: a reset
	 * compressor refers to nothing earlier */
	out = check_splits(&DEFLATE, false, &req, &resp);
	assert_string_equal(out.out[REQ], want);
	outcome_free(&out);
	deflateEnd(&cli);
	deflateEnd(&srv);
	buf_free(&req);
	buf_free(&resp);
}

/* ---- A conversation, split every way ---- */

static void test_conversation_every_split(void **state)
{
	(void)state;
	static const uint8_t k1[4] = {1, 2, 3, 4}, k2[4] = {0xde, 0xad, 0xbe, 0xef};
	static const char *const session =
	    "{\"type\":\"session.created\",\"session\":{\"model\":\"gpt-4o-realtime\","
	    "\"modalities\":[\"text\"]}}";
	static const char *const delta = "{\"type\":\"response.text.delta\",\"delta\":\"Hello, ";
	static const char *const create =
	    "{\"type\":\"response.create\",\"response\":{\"instructions\":\"say hi\"}}";
	z_stream cli, srv;
	deflater(&cli);
	deflater(&srv);
	struct buf req, resp, m;
	buf_init(&req, 0);
	buf_init(&resp, 0);
	/* the client: plain text, two compressed messages (the second refers
	 * to the first), a ping, 300 bytes of binary, a close */
	frame(&req, 0x81, k1, "Hello server", 12);
	compressed_frame(&req, &cli, k2, create);
	compressed_frame(&req, &cli, KEY, create);
	frame(&req, 0x89, k1, "", 0);
	uint8_t bin[300];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i ^ 0x5a);
	frame(&req, 0x82, k2, bin, sizeof(bin));
	frame(&req, 0x88, KEY,
	      "\x03\xe8"
	      "bye",
	      5);
	/* the server: a compressed message; a compressed one in three frames
	 * with a ping between; a plain one in two with a pong between; the
	 * first again (a back-reference); a close */
	compressed_frame(&resp, &srv, NULL, session);
	char two[200];
	snprintf(two, sizeof(two), "%s%s\"}", delta, "world");
	compress_msg(&srv, two, strlen(two), &m);
	size_t a = m.len / 3, b = 2 * m.len / 3;
	frame(&resp, 0x41, NULL, m.data, a);
	frame(&resp, 0x89, NULL, "p", 1);
	frame(&resp, 0x00, NULL, m.data + a, b - a);
	frame(&resp, 0x80, NULL, m.data + b, m.len - b);
	buf_free(&m);
	frame(&resp, 0x01, NULL, "Hel", 3);
	frame(&resp, 0x8a, NULL, "", 0);
	frame(&resp, 0x80, NULL, "lo", 2);
	compressed_frame(&resp, &srv, NULL, session);
	frame(&resp, 0x88, NULL,
	      "\x03\xe9"
	      "going",
	      7);

	struct outcome out = check_splits(&DEFLATE, false, &req, &resp);
	struct buf want;
	buf_init(&want, 0);
	char line[512];
	snprintf(line, sizeof(line), "T:Hello server\nT:%s\nT:%s\n", create, create);
	buf_append(&want, line, strlen(line));
	snprintf(line, sizeof(line), "B#300:%016llx\nC:1000:bye\n",
	         (unsigned long long)fnv((char *)bin, sizeof(bin)));
	buf_append(&want, line, strlen(line));
	assert_string_equal(out.out[REQ], want.data);
	snprintf(line, sizeof(line), "T:%s\nT:%s\nT:Hello\nT:%s\nC:1001:going\n", session, two,
	         session);
	assert_string_equal(out.out[RESP], line);
	assert_int_equal(out.st.messages[REQ], 4);
	assert_int_equal(out.st.messages[RESP], 4);
	assert_int_equal(out.st.control[REQ], 2);
	assert_int_equal(out.st.control[RESP], 3);
	assert_int_equal(out.st.frames[RESP], 10);
	assert_int_equal(out.st.inflated_bytes[REQ], 2 * strlen(create));
	assert_int_equal(out.st.inflated_bytes[RESP], 2 * strlen(session) + strlen(two));
	assert_int_equal(out.st.errors + out.st.unparsed[0] + out.st.unparsed[1], 0);
	assert_int_equal(out.st.bytes[REQ], req.len);
	assert_int_equal(out.st.bytes[RESP], resp.len);
	outcome_free(&out);
	buf_free(&want);
	buf_free(&req);
	buf_free(&resp);
	deflateEnd(&cli);
	deflateEnd(&srv);
}

/* ---- Joining a compressed connection ---- */

static const char *const LONG_TEXT =
    "{\"type\":\"response.output_text.delta\",\"delta\":\"The quick brown fox jumps over the "
    "lazy dog while the five boxing wizards jump quickly.\"}";

static void test_join_with_context_takeover(void **state)
{
	(void)state;
	z_stream srv;
	deflater(&srv);
	struct buf before, resp, none;
	buf_init(&before, 0);
	buf_init(&resp, 0);
	buf_init(&none, 0);
	/* sent before the daemon looked */
	compressed_frame(&before, &srv, NULL, LONG_TEXT);
	/* seen: a message that refers to the one missed */
	compressed_frame(&resp, &srv, NULL, LONG_TEXT);
	size_t first = resp.len;
	/* the server's compressor restarts: what follows refers only to what
	 * was seen (the last one to the two before it), and decodes */
	assert_int_equal(deflateReset(&srv), Z_OK);
	compressed_frame(&resp, &srv, NULL, "{\"type\":\"response.done\"}");
	compressed_frame(&resp, &srv, NULL, "{\"type\":\"response.done\"}");
	compressed_frame(&resp, &srv, NULL, LONG_TEXT);
	struct outcome out = check_splits(&DEFLATE, true, &none, &resp);
	char want[512];
	snprintf(want, sizeof(want),
	         "U:deflate context unknown (joined mid-connection):%zu\n"
	         "T:{\"type\":\"response.done\"}\nT:{\"type\":\"response.done\"}\nT:%s\n",
	         first, LONG_TEXT);
	assert_string_equal(out.out[RESP], want);
	assert_int_equal(out.st.unparsed[RESP], 1);
	assert_int_equal(out.st.messages[RESP], 3);
	assert_int_equal(out.st.errors, 0);
	outcome_free(&out);

	/* the connection seen whole decodes everything */
	struct rec r;
	struct ws_conn *c = open_conn(&r, &DEFLATE, false);
	feed(c, RESP, before.data, before.len);
	feed(c, RESP, resp.data, first);
	snprintf(want, sizeof(want), "T:%s\nT:%s\n", LONG_TEXT, LONG_TEXT);
	expect(&r, RESP, want);
	close_conn(&r, c);
	buf_free(&before);
	buf_free(&resp);
	buf_free(&none);
	deflateEnd(&srv);
}

/* After a join, a message compressed by a fresh compressor (or one whose
 * references stay inside itself) decodes; once decoded, the ones that
 * refer to it do too. A gap is the same; corrupt data is told apart. */
static void test_join_fresh_message_and_gap(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &DEFLATE, true);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "T:Hello\nT:Hello\n");
	/* a gap: the reference to "Hello" now points at nothing */
	reset_dir(&r, c, RESP);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "U:deflate context unknown (after a gap):7\n");
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "T:Hello\nT:Hello\n");
	close_conn(&r, c);

	/* seen from the start: an invalid block is corruption, and what
	 * refers to history lost with it is told as such */
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	FEED(c, RESP, 0xc1, 0x01, 0xff);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	expect(&r, RESP,
	       "T:Hello\nU:corrupt permessage-deflate data: invalid block type:3\n"
	       "U:deflate context unknown (after corrupt data):7\nT:Hello\n");
	close_conn(&r, c);

	/* a reference too far back from the very start is corruption */
	c = open_conn(&r, &DEFLATE, false);
	FEED(c, RESP, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
	expect(&r, RESP, "U:corrupt permessage-deflate data: invalid distance too far back:7\n");
	close_conn(&r, c);
}

/* Joined inside a fragmented message: its tail is counted, the next
 * message is whole. Without a join, a lone continuation is an error. */
static void test_join_inside_a_message(void **state)
{
	(void)state;
	struct buf resp;
	buf_init(&resp, 0);
	frame(&resp, 0x00, NULL, "tail, ", 6);
	frame(&resp, 0x89, NULL, "", 0);
	frame(&resp, 0x80, NULL, "end", 3);
	frame(&resp, 0x81, NULL, "Hello", 5);
	struct buf req = bytes_of("", 0);
	struct outcome out = check_splits(&DEFLATE, true, &req, &resp);
	assert_string_equal(out.out[RESP], "U:message begun before a join or gap:13\nT:Hello\n");
	outcome_free(&out);
	out = check_splits(&DEFLATE, false, &req, &resp);
	assert_string_equal(out.out[RESP], "E:continuation frame without a message start\n");
	assert_int_equal(out.st.skipped_bytes[RESP], resp.len);
	outcome_free(&out);
	buf_free(&resp);
	buf_free(&req);
}

/* ---- Framing errors ---- */

struct bad {
	enum http_dir dir;
	bool deflate;
	const char *bytes;
	size_t n;
	const char *reason;
};

#define BAD(dir, deflate, s, reason)                                                               \
	{                                                                                          \
		dir, deflate, s, sizeof(s) - 1, reason                                             \
	}

static const struct bad BADS[] = {
    BAD(REQ, false, "\x81\x05Hello", "unmasked client frame"),
    BAD(RESP, false, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", "masked server frame"),
    BAD(RESP, false, "\xa1\x02hi", "reserved bit RSV2 or RSV3 set"),
    BAD(RESP, true, "\x91\x02hi", "reserved bit RSV2 or RSV3 set"),
    BAD(RESP, false, "\x83\x00", "reserved opcode"),
    BAD(RESP, false, "\x8b\x00", "reserved opcode"),
    BAD(RESP, false, "\x89\x7e\x00\x7e", "control frame longer than 125 bytes"),
    BAD(RESP, false, "\x09\x00", "fragmented control frame"),
    BAD(RESP, true, "\xc9\x00", "RSV1 set on a control frame"),
    BAD(RESP, false, "\x80\x02lo", "continuation frame without a message start"),
    BAD(REQ, false, "\x88\x81\x01\x02\x03\x04\x02", "close frame with a 1-byte payload"),
    BAD(RESP, false, "\xc1\x02hi", "RSV1 set without permessage-deflate"),
    BAD(RESP, true, "\x41\x01x\xc0\x01y", "RSV1 set on a continuation frame"),
    BAD(RESP, false, "\x01\x01x\x81\x01y", "data frame inside a fragmented message"),
    BAD(RESP, false, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01x",
        "64-bit length with the top bit set"),
};

/* Each error stops its direction, counting what it held and what follows
 * as skipped; the other direction goes on; ws_reset_dir() resumes. */
static void test_errors_stop_until_reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(BADS) / sizeof(BADS[0]); i++) {
		const struct bad *b = &BADS[i];
		enum http_dir d = b->dir, o = !b->dir;
		const uint8_t *key = d == REQ ? KEY : NULL;
		struct buf ok, other, s[2];
		buf_init(&ok, 0);
		buf_init(&other, 0);
		frame(&ok, 0x81, key, "fine", 4);
		frame(&other, 0x81, o == REQ ? KEY : NULL, "other", 5);
		/* the bad bytes then a good frame, in one piece and split every way */
		buf_init(&s[d], 0);
		buf_append(&s[d], b->bytes, b->n);
		buf_append(&s[d], ok.data, ok.len);
		s[o] = bytes_of(other.data, other.len);
		struct outcome out =
		    check_splits(b->deflate ? &DEFLATE : &PLAIN, false, &s[0], &s[1]);
		char want[128];
		snprintf(want, sizeof(want), "E:%s\n", b->reason);
		if (strcmp(out.out[d], want))
			fail_msg("case %zu: %s instead of %s", i, out.out[d], want);
		assert_string_equal(out.out[o], "T:other\n");
		assert_int_equal(out.st.errors, 1);
		assert_int_equal(out.st.skipped_bytes[d], s[d].len);
		assert_int_equal(out.st.skipped_bytes[o], 0);
		outcome_free(&out);

		struct rec r;
		struct ws_conn *c = open_conn(&r, b->deflate ? &DEFLATE : &PLAIN, false);
		feed(c, d, s[d].data, s[d].len);
		feed(c, d, ok.data, ok.len); /* still stopped */
		expect(&r, d, want);
		assert_int_equal(ws_conn_stats(c)->skipped_bytes[d], s[d].len + ok.len);
		reset_dir(&r, c, d);
		feed(c, d, ok.data, ok.len);
		expect(&r, d, "T:fine\n");
		assert_int_equal(ws_conn_stats(c)->messages[d], 1);
		close_conn(&r, c);
		buf_free(&ok);
		buf_free(&other);
		buf_free(&s[0]);
		buf_free(&s[1]);
	}
}

/* A gap inside a message: what it held is skipped; the next piece starts
 * a frame; a continuation then ends a message begun before the gap. */
static void test_reset_inside_a_message(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &PLAIN, false);
	FEED(c, RESP, 0x01, 0x03, 'H', 'e', 'l', 0x80, 0x05, 'l'); /* 8 bytes, cut */
	reset_dir(&r, c, RESP);
	assert_int_equal(ws_conn_stats(c)->skipped_bytes[RESP], 8);
	FEED(c, RESP, 0x80, 0x01, '!', 0x81, 0x02, 'o', 'k');
	expect(&r, RESP, "U:message begun before a join or gap:3\nT:ok\n");
	close_conn(&r, c);
}

/* ---- The message cap ---- */

static void test_message_max(void **state)
{
	(void)state;
	size_t big = WS_MESSAGE_MAX + (1u << 20);
	char *text = xmalloc(big + 1);
	memset(text, 'a', big);
	text[big] = '\0';
	for (int takeover = 1; takeover >= 0; takeover--) {
		struct ws_options o = DEFLATE;
		o.no_context_takeover[RESP] = !takeover;
		z_stream srv;
		deflater(&srv);
		struct buf resp, m;
		buf_init(&resp, 0);
		compress_msg(&srv, text, big, &m);
		assert_true(m.len < 16384); /* 5 MiB out of a few KiB */
		frame(&resp, 0xc1, NULL, m.data, m.len);
		size_t wire = resp.len;
		buf_free(&m);
		if (!takeover)
			assert_int_equal(deflateReset(&srv), Z_OK);
		/* refers back into the dropped message when it may */
		compressed_frame(&resp, &srv, NULL, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa then more");
		struct rec r;
		struct ws_conn *c = open_conn(&r, &o, false);
		feed(c, RESP, resp.data, resp.len);
		char want[160];
		snprintf(want, sizeof(want),
		         "U:message larger than 4 MiB:%zu\n"
		         "T:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa then more\n",
		         wire);
		expect(&r, RESP, want);
		const struct ws_stats *st = ws_conn_stats(c);
		assert_int_equal(st->unparsed[RESP], 1);
		assert_int_equal(st->messages[RESP], 1);
		/* with takeover the whole message went through the inflater (its
		 * window is needed); without, it stopped at the cap */
		if (takeover)
			assert_int_equal(st->inflated_bytes[RESP], big + 42);
		else
			assert_true(st->inflated_bytes[RESP] < big);
		/* the 4 MiB buffer was not kept */
		assert_true(ws_conn_memory(c) < 128u << 10);
		close_conn(&r, c);
		buf_free(&resp);
		deflateEnd(&srv);
	}

	/* plain: WS_MESSAGE_MAX bytes are handed on, one more are not */
	struct rec r;
	struct ws_conn *c = open_conn(&r, &PLAIN, false);
	struct buf resp;
	buf_init(&resp, 0);
	frame(&resp, 0x01, NULL, text, WS_MESSAGE_MAX / 2);
	frame(&resp, 0x80, NULL, text, WS_MESSAGE_MAX / 2);
	feed(c, RESP, resp.data, resp.len);
	char want[160];
	snprintf(want, sizeof(want), "T#%u:%016llx\n", WS_MESSAGE_MAX,
	         (unsigned long long)fnv(text, WS_MESSAGE_MAX));
	expect(&r, RESP, want);
	buf_reset(&resp);
	frame(&resp, 0x02, NULL, text, WS_MESSAGE_MAX / 2);
	frame(&resp, 0x80, NULL, text, WS_MESSAGE_MAX / 2 + 1);
	size_t wire = resp.len;
	frame(&resp, 0x81, NULL, "ok", 2);
	for (size_t at = 0; at < resp.len; at += 100000)
		feed(c, RESP, resp.data + at, resp.len - at < 100000 ? resp.len - at : 100000);
	snprintf(want, sizeof(want), "U:message larger than 4 MiB:%zu\nT:ok\n", wire);
	expect(&r, RESP, want);
	assert_true(ws_conn_memory(c) < 128u << 10);
	close_conn(&r, c);
	buf_free(&resp);
	free(text);
}

/* ---- Close frames ---- */

static void test_close_frames(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &PLAIN, false);
	FEED(c, RESP, 0x88, 0x00);
	FEED(c, RESP, 0x88, 0x02, 0x03, 0xf3);
	FEED(c, REQ, 0x88, 0x82, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xa0);
	expect(&r, RESP, "C:1005:\nC:1011:\n");
	expect(&r, REQ, "C:4000:\n");
	/* a close between two fragments */
	FEED(c, RESP, 0x01, 0x01, 'a', 0x88, 0x04, 0x03, 0xe8, 'o', 'k', 0x80, 0x01, 'b');
	expect(&r, RESP, "C:1000:ok\nT:ab\n");
	assert_int_equal(ws_conn_stats(c)->control[RESP], 3);
	close_conn(&r, c);
	assert_string_equal(ws_close_name(1000), "normal closure");
	assert_string_equal(ws_close_name(1001), "going away");
	assert_string_equal(ws_close_name(1002), "protocol error");
	assert_string_equal(ws_close_name(1009), "message too big");
	assert_string_equal(ws_close_name(1011), "internal error");
	assert_string_equal(ws_close_name(1015), "TLS handshake failure");
	assert_string_equal(ws_close_name(999), "unknown");
	assert_string_equal(ws_close_name(1016), "unknown");
	assert_string_equal(ws_close_name(4000), "unknown");
	assert_string_equal(ws_close_name(0), "unknown");
}

/* ---- Memory ---- */

static void test_memory(void **state)
{
	(void)state;
	struct rec r;
	struct ws_conn *c = open_conn(&r, &DEFLATE, false);
	size_t idle = ws_conn_memory(c);
	assert_true(idle < 4096);
	FEED(c, RESP, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	assert_true(ws_conn_memory(c) >= idle + 39u * 1024); /* the inflater lives on */
	reset_dir(&r, c, RESP);
	assert_true(ws_conn_memory(c) < idle + 4096);
	close_conn(&r, c);
}

/* ---- Sec-WebSocket-Extensions ---- */

static void test_parse_extensions(void **state)
{
	(void)state;
	struct ws_options o;
	assert_int_equal(ws_parse_extensions(NULL, &o), 0);
	assert_false(o.deflate);
	assert_int_equal(o.window_bits[REQ], 15);
	assert_int_equal(ws_parse_extensions("", &o), 0);
	assert_false(o.deflate);
	assert_int_equal(ws_parse_extensions("permessage-deflate", &o), 0);
	assert_true(o.deflate);
	assert_false(o.no_context_takeover[REQ] || o.no_context_takeover[RESP]);
	assert_int_equal(o.window_bits[REQ], 15);
	assert_int_equal(o.window_bits[RESP], 15);
	assert_int_equal(
	    ws_parse_extensions(
	        "permessage-deflate; client_max_window_bits=10; server_no_context_takeover", &o),
	    0);
	assert_true(o.deflate);
	assert_int_equal(o.window_bits[REQ], 10);
	assert_int_equal(o.window_bits[RESP], 15);
	assert_true(o.no_context_takeover[RESP]);
	assert_false(o.no_context_takeover[REQ]);
	assert_int_equal(ws_parse_extensions("Permessage-Deflate;Server_Max_Window_Bits=\"12\" ;  "
	                                     "CLIENT_NO_CONTEXT_TAKEOVER\t",
	                                     &o),
	                 0);
	assert_int_equal(o.window_bits[RESP], 12);
	assert_true(o.no_context_takeover[REQ]);
	assert_false(o.no_context_takeover[RESP]);
	assert_int_equal(
	    ws_parse_extensions(" permessage-deflate ; server_max_window_bits = 8", &o), 0);
	assert_int_equal(o.window_bits[RESP], 8);
	/* an offer: client_max_window_bits without a value; two offers */
	assert_int_equal(ws_parse_extensions("permessage-deflate; client_max_window_bits", &o), 0);
	assert_int_equal(o.window_bits[REQ], 15);
	assert_int_equal(ws_parse_extensions("permessage-deflate; client_max_window_bits=9; "
	                                     "server_no_context_takeover, permessage-deflate",
	                                     &o),
	                 0);
	assert_int_equal(o.window_bits[REQ], 9);
	assert_true(o.no_context_takeover[RESP]);

	static const char *const bad[] = {
	    "x-webkit-deflate-frame",
	    "permessage-deflate, x-custom-ext",
	    "x-custom-ext, permessage-deflate",
	    "permessage-deflate; server_max_window_bits=16",
	    "permessage-deflate; server_max_window_bits=7",
	    "permessage-deflate; client_max_window_bits=08",
	    "permessage-deflate; client_max_window_bits=1x",
	    "permessage-deflate; server_max_window_bits",
	    "permessage-deflate; server_no_context_takeover=1",
	    "permessage-deflate; client_max_window_bits=\"1",
	    "permessage-deflate; mystery_param",
	    "permessage-deflate;",
	    "permessage-deflate garbage",
	    "permessage-deflate,",
	    ";permessage-deflate",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ws_parse_extensions(bad[i], &o) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_false(o.deflate);
	}
}

/* ---- Recognising a connection joined mid-way ---- */

struct piece {
	enum http_dir dir;
	const char *p;
	size_t n;
};
#define PIECE(dir, s)                                                                              \
	{                                                                                          \
		dir, s, sizeof(s) - 1                                                              \
	}

static void test_frames_plausible(void **state)
{
	(void)state;
	static const struct piece yes[] = {
	    PIECE(RESP, "\x81\x05Hello"),
	    PIECE(REQ, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
	    PIECE(RESP, "\x81\x05Hello\x81\x05Hel"),             /* the last runs past */
	    PIECE(RESP, "\x01\x03Hel\x89\x00\x80\x02lo"),        /* fragments around a ping */
	    PIECE(RESP, "\x80\x02lo\x81\x02hi"),                 /* joined inside a message */
	    PIECE(RESP, "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"), /* compressed */
	    PIECE(RESP, "\x82\x7e\x01\x00"
	                "0123456789"),
	    PIECE(RESP, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
	    PIECE(RESP, "\x81\x02hi\x81"),         /* a header cut after a byte */
	    PIECE(RESP, "\x81\x02hi\x82\x7e\x01"), /* ... inside its length */
	    PIECE(REQ, "\x88\x82\x01\x02\x03\x04\x02\xea"),
	};
	static const struct piece no[] = {
	    PIECE(RESP, ""),
	    PIECE(RESP, "\x81"),
	    PIECE(REQ, "\x81\x05Hello"), /* unmasked from a client */
	    PIECE(RESP, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), /* masked to it */
	    PIECE(RESP, "\xa1\x00"),
	    PIECE(RESP, "\x83\x00"),
	    PIECE(RESP, "\x09\x00"),         /* fragmented ping */
	    PIECE(RESP, "\x89\x7e\x00\x7e"), /* long ping */
	    PIECE(RESP, "\xc9\x00"),         /* compressed ping */
	    PIECE(RESP, "\x82\x7e\x00\x05"
	                "01234"), /* not the shortest form */
	    PIECE(RESP, "\x82\x7f\x00\x00\x00\x00\x00\x00\x01\x00"),
	    PIECE(RESP, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01"),
	    PIECE(RESP, "\x82\x7e\x01"), /* the first header cut */
	    PIECE(RESP, "\x81\x05HelloGET / HTTP/1.1"),
	    PIECE(RESP, "\x81\x05Hello\x80\x01x"), /* continuation after FIN */
	    PIECE(RESP, "\x01\x03Hel\x81\x01x"),   /* new message inside one */
	    PIECE(RESP, "\x41\x01x\xc0\x01y"),     /* RSV1 on a continuation */
	    PIECE(RESP, "HTTP/1.1 200 OK\r\n"),
	    PIECE(REQ, "GET /v1/realtime HTTP/1.1\r\n"),
	    PIECE(RESP, "{\"type\":\"x\"}"),
	    PIECE(RESP, "data: {}\n\n"),
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!ws_frames_plausible(yes[i].dir, yes[i].p, yes[i].n))
			fail_msg("not plausible: case %zu", i);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (ws_frames_plausible(no[i].dir, no[i].p, no[i].n))
			fail_msg("plausible: case %zu", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc6455_examples),
	    cmocka_unit_test(test_rfc7692_examples),
	    cmocka_unit_test(test_no_context_takeover_per_direction),
	    cmocka_unit_test(test_conversation_every_split),
	    cmocka_unit_test(test_join_with_context_takeover),
	    cmocka_unit_test(test_join_fresh_message_and_gap),
	    cmocka_unit_test(test_join_inside_a_message),
	    cmocka_unit_test(test_errors_stop_until_reset),
	    cmocka_unit_test(test_reset_inside_a_message),
	    cmocka_unit_test(test_message_max),
	    cmocka_unit_test(test_close_frames),
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test(test_parse_extensions),
	    cmocka_unit_test(test_frames_plausible),
	};
	return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
