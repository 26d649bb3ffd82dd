/* WHATWG "interpreting an event stream", incrementally. Lines are found
 * with memchr and completed in a line buffer only when they span feeds;
 * UTF-8 is validated per completed line (a line can only end at CR/LF,
 * which never occur inside a multi-byte sequence). */
#include "wire/sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

#define DEFAULT_MAX (1u << 20)

struct sse_parser {
	sse_event_fn fn;
	sse_line_fn other_fn;
	void *ctx;
	size_t max;
	struct buf line;    /* partial line carried across feeds */
	bool line_cut;      /* the current line exceeded max: rest is dropped */
	struct buf data;    /* data buffer of the event being built */
	struct buf type;    /* event type buffer */
	struct buf last_id; /* last event ID buffer */
	struct buf utf8;    /* scratch for lines that needed U+FFFD */
	size_t pending;     /* bytes of the event being built (for finish) */
	bool bom_checked;
	size_t bom_seen; /* BOM bytes matched so far at stream start */
	bool after_cr;   /* last feed ended in CR: a leading LF belongs to it */
	int64_t retry;
	struct sse_stats st;
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

struct sse_parser *sse_new(sse_event_fn fn, void *ctx, size_t max)
{
	struct sse_parser *p = xcalloc(1, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
	p->max = max ? max : DEFAULT_MAX;
	buf_init(&p->line, 0);
	buf_init(&p->data, 0);
	buf_init(&p->type, 256);
	buf_init(&p->last_id, 1024);
	buf_init(&p->utf8, 0);
	p->retry = -1;
	return p;
}

void sse_free(struct sse_parser *p)
{
	if (!p)
		return;
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->type);
	buf_free(&p->last_id);
	buf_free(&p->utf8);
	free(p);
}

void sse_set_other_fn(struct sse_parser *p, sse_line_fn fn)
{
	p->other_fn = fn;
}

const struct sse_stats *sse_stats(const struct sse_parser *p)
{
	return &p->st;
}

int64_t sse_retry_ms(const struct sse_parser *p)
{
	return p->retry;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* Returns the line with invalid sequences replaced by U+FFFD (the maximal
 * subpart rule is approximated per byte: each bad byte becomes one U+FFFD). */
static const char *utf8_clean(struct sse_parser *p, const char *s, size_t n, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	/* ASCII, 8 bytes at a time: most SSE lines are all ASCII JSON */
	for (uint64_t w; i + 8 <= n; i += 8) {
		memcpy(&w, u + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq(u + i, n - i);
		if (!l)
			break;
		i += l;
	}
	if (i == n) {
		*out_len = n;
		return s;
	}
	buf_reset(&p->utf8);
	buf_append(&p->utf8, s, i);
	while (i < n) {
		size_t l = u[i] < 0x80 ? 1 : utf8_seq(u + i, n - i);
		if (l) {
			buf_append(&p->utf8, s + i, l);
			i += l;
		} else {
			buf_append(&p->utf8, "\xEF\xBF\xBD", 3);
			p->st.invalid_utf8++;
			i++;
		}
	}
	*out_len = p->utf8.len;
	return p->utf8.data;
}

static void dispatch(struct sse_parser *p)
{
	p->pending = 0;
	if (p->data.len == 0) {
		buf_reset(&p->type);
		return;
	}
	p->data.len--; /* the trailing LF */
	p->data.data[p->data.len] = '\0';
	struct sse_event ev = {
	    .type = p->type.len ? p->type.data : "message",
	    .data = p->data.data,
	    .data_len = p->data.len,
	    .id = p->last_id.len ? p->last_id.data : "",
	};
	p->st.events++;
	p->fn(p->ctx, &ev);
	buf_reset(&p->data);
	buf_reset(&p->type);
}

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void process_line(struct sse_parser *p, const char *raw, size_t rawlen)
{
	p->st.lines++;
	if (rawlen == 0) {
		dispatch(p);
		return;
	}
	if (rawlen > p->max) { /* a field cut short would be a lie: drop the line */
		p->st.cut_bytes += rawlen;
		return;
	}
	p->pending += rawlen + 1;
	if (raw[0] == ':') {
		p->st.comments++;
		return;
	}
	size_t n;
	const char *s = utf8_clean(p, raw, rawlen, &n);
	const char *colon = memchr(s, ':', n);
	size_t flen = colon ? (size_t)(colon - s) : n;
	const char *v = colon ? colon + 1 : s + n;
	size_t vlen = colon ? n - flen - 1 : 0;
	if (vlen && *v == ' ')
		v++, vlen--;

	if (flen == 4 && !memcmp(s, "data", 4)) {
		if (p->data.len + vlen + 1 > p->max) {
			p->st.cut_bytes += vlen + 1;
			return;
		}
		buf_append(&p->data, v, vlen);
		buf_append(&p->data, "\n", 1);
	} else if (flen == 5 && !memcmp(s, "event", 5)) {
		buf_reset(&p->type);
		buf_append(&p->type, v, vlen);
		p->st.cut_bytes += p->type.cut;
		p->type.cut = 0;
	} else if (flen == 2 && !memcmp(s, "id", 2)) {
		if (!memchr(v, '\0', vlen)) {
			buf_reset(&p->last_id);
			buf_append(&p->last_id, v, vlen);
			p->st.cut_bytes += p->last_id.cut;
			p->last_id.cut = 0;
		}
	} else if (flen == 5 && !memcmp(s, "retry", 5)) {
		if (all_digits(v, vlen) && vlen < 18)
			p->retry = strtoll(v, NULL, 10);
	} else if (p->other_fn) {
		p->other_fn(p->ctx, s, n); /* other fields are ignored by the spec */
	}
}

/* Bytes of a line that spans feeds go to the line buffer, up to max. */
static void hold(struct sse_parser *p, const char *s, size_t n)
{
	if (p->line_cut) {
		p->st.cut_bytes += n;
		return;
	}
	size_t room = p->max > p->line.len ? p->max - p->line.len : 0;
	if (n > room) {
		buf_append(&p->line, s, room);
		p->st.cut_bytes += n - room;
		p->line_cut = true;
		return;
	}
	buf_append(&p->line, s, n);
}

static void end_line(struct sse_parser *p, const char *s, size_t n)
{
	if (p->line.len || p->line_cut) {
		hold(p, s, n);
		if (p->line_cut) { /* over-long: dropped whole, as when fed in one piece */
			p->st.lines++;
			p->st.cut_bytes += p->line.len;
		} else
			process_line(p, p->line.data ? p->line.data : "", p->line.len);
		buf_reset(&p->line);
		p->line_cut = false;
	} else {
		process_line(p, s, n);
	}
}

/* Strips a BOM at the very start of the stream, even split across feeds. */
static size_t skip_bom(struct sse_parser *p, const char *s, size_t n)
{
	size_t i = 0;
	while (!p->bom_checked && i < n) {
		if ((unsigned char)s[i] != BOM[p->bom_seen]) {
			p->bom_checked = true;
			/* a partial BOM was real data: give it back */
			if (p->bom_seen)
				hold(p, (const char *)BOM, p->bom_seen);
			return i;
		}
		i++;
		if (++p->bom_seen == 3)
			p->bom_checked = true;
	}
	return i;
}

void sse_feed(struct sse_parser *p, const char *s, size_t n)
{
	p->st.bytes += n;
	size_t i = skip_bom(p, s, n);
	if (p->after_cr && i < n) {
		p->after_cr = false;
		if (s[i] == '\n')
			i++;
	}
	while (i < n) {
		const char *start = s + i;
		size_t left = n - i;
		/* next CR or LF */
		const char *lf = memchr(start, '\n', left);
		size_t span = lf ? (size_t)(lf - start) : left;
		const char *cr = memchr(start, '\r', span);
		if (cr)
			span = (size_t)(cr - start);
		else if (!lf) {
			hold(p, start, left);
			return;
		}
		end_line(p, start, span);
		i += span + 1;
		if (cr) {
			if (i < n) {
				if (s[i] == '\n')
					i++;
			} else {
				p->after_cr = true;
			}
		}
	}
}

void sse_finish(struct sse_parser *p)
{
	/* Per spec, an event not followed by a blank line is discarded. */
	p->st.unterminated_bytes += p->pending + p->line.len;
	p->pending = 0;
	buf_reset(&p->line);
	buf_reset(&p->data);
	buf_reset(&p->type);
	p->line_cut = false;
	if (!p->bom_checked && p->bom_seen)
		p->st.unterminated_bytes += p->bom_seen;
}
