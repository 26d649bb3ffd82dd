/* HTTP/1.1 reassembly on Debian's http-parser: one parser per direction,
 * a fixed set of header fields kept (never credentials), bodies passed on
 * de-chunked. */
#include "wire/http.h"

#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/macros.h"

#define MAX_HEADER_KIB   64
#define MAX_HEADER_BYTES (MAX_HEADER_KIB * 1024u)

enum kept { KEEP_NONE = 0, KEEP_HOST, KEEP_CTYPE, KEEP_CENC, KEEP_UA, KEEP_UPGRADE, KEEP_WSEXT };

struct dir_state {
	http_parser p;
	struct http_conn *c;
	enum http_dir dir;
	struct http_msg msg;
	char field[32]; /* header name being read (only short names matter) */
	size_t flen;
	bool field_long;
	bool in_value;
	enum kept target;
	size_t target_len;
	size_t hdr_bytes;
	bool in_body; /* headers done: errors now are the body's */
	bool failed;
	bool in_query; /* past the '?' of the request target */
	const char *fail_reason;
};

struct http_conn {
	const struct http_callbacks *cb;
	void *ctx;
	struct dir_state d[2];
	uint64_t head_queue; /* one bit per request awaiting a response: was HEAD */
	unsigned head_count;
	struct http_stats st;
};

static char *kept_field(struct http_msg *m, enum kept k, size_t *cap)
{
	switch (k) {
	case KEEP_HOST:
		*cap = sizeof(m->host);
		return m->host;
	case KEEP_CTYPE:
		*cap = sizeof(m->content_type);
		return m->content_type;
	case KEEP_CENC:
		*cap = sizeof(m->content_encoding);
		return m->content_encoding;
	case KEEP_UA:
		*cap = sizeof(m->user_agent);
		return m->user_agent;
	case KEEP_UPGRADE:
		*cap = sizeof(m->upgrade);
		return m->upgrade;
	case KEEP_WSEXT:
		*cap = sizeof(m->ws_extensions);
		return m->ws_extensions;
	default:
		*cap = 0;
		return NULL;
	}
}

static enum kept classify(const struct dir_state *s)
{
	if (s->field_long)
		return KEEP_NONE;
	static const struct {
		const char *name;
		enum kept k;
	} names[] = {{"host", KEEP_HOST},
	             {"content-type", KEEP_CTYPE},
	             {"content-encoding", KEEP_CENC},
	             {"user-agent", KEEP_UA},
	             {"upgrade", KEEP_UPGRADE},
	             {"sec-websocket-extensions", KEEP_WSEXT}};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strlen(names[i].name) == s->flen &&
		    !strncasecmp(names[i].name, s->field, s->flen))
			return names[i].k;
	return KEEP_NONE;
}

static struct dir_state *state(http_parser *p)
{
	return p->data;
}

static int count_header(struct dir_state *s, size_t n)
{
	s->hdr_bytes += n;
	if (s->hdr_bytes > MAX_HEADER_BYTES) {
		s->fail_reason = "header section larger than " STR(MAX_HEADER_KIB) " KiB";
		return -1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct dir_state *s = state(p);
	enum http_dir dir = s->dir;
	memset(&s->msg, 0, sizeof(s->msg));
	s->in_query = false;
	s->msg.dir = dir;
	s->msg.content_length = -1;
	s->flen = 0;
	s->field_long = false;
	s->in_value = false;
	s->target = KEEP_NONE;
	s->hdr_bytes = 0;
	s->in_body = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct dir_state *s = state(p);
	int rc = count_header(s, n);
	/* The query is never kept: it can carry an API key (Gemini's ?key=). */
	if (s->in_query)
		return rc;
	const char *q = memchr(at, '?', n);
	if (q) {
		s->in_query = true;
		n = (size_t)(q - at);
	}
	size_t have = strlen(s->msg.path), room = sizeof(s->msg.path) - 1 - have;
	size_t take = n < room ? n : room;
	memcpy(s->msg.path + have, at, take);
	s->msg.path[have + take] = '\0';
	s->c->st.header_cut_bytes += n - take;
	return rc;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct dir_state *s = state(p);
	if (s->in_value) { /* a new header starts */
		s->in_value = false;
		s->flen = 0;
		s->field_long = false;
	}
	if (s->flen + n >= sizeof(s->field)) {
		s->field_long = true;
	} else {
		memcpy(s->field + s->flen, at, n);
		s->flen += n;
	}
	return count_header(s, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct dir_state *s = state(p);
	if (!s->in_value) {
		s->in_value = true;
		s->target = classify(s);
		s->target_len = 0;
	}
	size_t cap;
	char *dst = kept_field(&s->msg, s->target, &cap);
	if (dst) {
		size_t room = cap - 1 - s->target_len, take = n < room ? n : room;
		memcpy(dst + s->target_len, at, take);
		s->target_len += take;
		dst[s->target_len] = '\0';
		s->c->st.header_cut_bytes += n - take;
	}
	/* Other values, credentials among them, are not copied anywhere. */
	return count_header(s, n);
}

static int on_headers_complete(http_parser *p)
{
	struct dir_state *s = state(p);
	struct http_conn *c = s->c;
	struct http_msg *m = &s->msg;
	m->http_major = p->http_major;
	m->http_minor = p->http_minor;
	m->keep_alive = http_should_keep_alive(p);
	m->chunked = (p->flags & F_CHUNKED) != 0;
	if (p->content_length != ULLONG_MAX && p->content_length <= INT64_MAX)
		m->content_length = (int64_t)p->content_length;
	int skip_body = 0;
	s->in_body = true;
	if (s->dir == HTTP_DIR_REQ) {
		snprintf(m->method, sizeof(m->method), "%s", http_method_str(p->method));
		bool head = p->method == HTTP_HEAD;
		/* Clients do not pipeline 64 deep; past that HEAD is not tracked. */
		if (c->head_count < 64) {
			c->head_queue |= (uint64_t)head << c->head_count;
			c->head_count++;
		}
	} else {
		m->status = p->status_code;
		if (m->status >= 200 && c->head_count) {
			skip_body = c->head_queue & 1;
			c->head_queue >>= 1;
			c->head_count--;
		}
	}
	if (c->cb->on_headers)
		c->cb->on_headers(c->ctx, m);
	return skip_body;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct dir_state *s = state(p);
	if (s->c->cb->on_body)
		s->c->cb->on_body(s->c->ctx, s->dir, at, n);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct dir_state *s = state(p);
	s->c->st.messages[s->dir]++;
	if (s->c->cb->on_complete)
		s->c->cb->on_complete(s->c->ctx, s->dir);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void dir_init(struct http_conn *c, enum http_dir dir)
{
	struct dir_state *s = &c->d[dir];
	memset(s, 0, sizeof(*s));
	http_parser_init(&s->p, dir == HTTP_DIR_REQ ? HTTP_REQUEST : HTTP_RESPONSE);
	s->p.data = s;
	s->c = c;
	s->dir = dir;
}

struct http_conn *http_conn_new(const struct http_callbacks *cb, void *ctx)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->ctx = ctx;
	dir_init(c, HTTP_DIR_REQ);
	dir_init(c, HTTP_DIR_RESP);
	return c;
}

void http_conn_free(struct http_conn *c)
{
	free(c);
}

static void fail(struct http_conn *c, struct dir_state *s, const char *reason, size_t skipped)
{
	s->failed = true;
	c->st.errors++;
	c->st.skipped_bytes[s->dir] += skipped;
	if (c->cb->on_error)
		c->cb->on_error(c->ctx, s->dir, reason);
}

/* Reports a parser error: our own reason when a callback refused the
 * input (header bound), else http-parser's name and description. */
static void fail_parse(struct http_conn *c, struct dir_state *s, enum http_errno e, size_t skipped)
{
	char reason[192];
	if (s->fail_reason)
		snprintf(reason, sizeof(reason), "%s", s->fail_reason);
	else if (e == HPE_INVALID_CONTENT_LENGTH && s->in_body && (s->p.flags & F_CHUNKED))
		/* http-parser reports a chunk size overflow as a Content-Length error */
		snprintf(reason, sizeof(reason), "invalid chunk size (too large, or not hex)");
	else
		snprintf(reason, sizeof(reason), "%s: %s", http_errno_name(e),
		         http_errno_description(e));
	s->fail_reason = NULL;
	fail(c, s, reason, skipped);
}

void http_feed(struct http_conn *c, enum http_dir dir, const char *p, size_t n)
{
	struct dir_state *s = &c->d[dir];
	c->st.bytes[dir] += n;
	if (s->failed) {
		c->st.skipped_bytes[dir] += n;
		return;
	}
	size_t done = http_parser_execute(&s->p, &settings, p, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&s->p);
	if (e != HPE_OK) {
		fail_parse(c, s, e, n - done);
	} else if (s->p.upgrade && c->cb->on_upgrade) {
		s->failed = true; /* this parser is done with the direction */
		c->cb->on_upgrade(c->ctx, dir, p + done, n - done);
	} else if (s->p.upgrade) {
		fail(c, s, "connection upgraded to another protocol", n - done);
	}
}

int http_eof(struct http_conn *c, enum http_dir dir)
{
	struct dir_state *s = &c->d[dir];
	if (s->failed)
		return 0;
	/* Completes a body delimited by the connection closing. A message cut
	 * short (mid-headers, short Content-Length or chunked body) is not
	 * malformed input: the peer went away, and the caller decides what
	 * that means for the call. */
	http_parser_execute(&s->p, &settings, NULL, 0);
	if (HTTP_PARSER_ERRNO(&s->p) == HPE_OK)
		return 0;
	s->failed = true;
	return -1;
}

void http_reset_dir(struct http_conn *c, enum http_dir dir)
{
	if (dir == HTTP_DIR_RESP) {
		/* The responses we lost answered requests we will never pair. */
		c->head_queue = 0;
		c->head_count = 0;
	}
	dir_init(c, dir);
}

const struct http_stats *http_conn_stats(const struct http_conn *c)
{
	return &c->st;
}
