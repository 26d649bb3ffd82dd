/* Each wire protocol's parser, as conn.c drives it (struct wire_proto),
 * and its callbacks handed to the layer above (struct conn_ops): HTTP/1.x
 * as it is, with the upgrade request and its 101 kept for the switch;
 * HTTP/2 per stream, with resets and GOAWAY told as reasons; WebSocket
 * per message, with close codes named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macros.h"
#include "wire/conn_int.h"
#include "wire/h2.h"

/* ---- HTTP/1.x: handed to the protocol layer as they are ---- */

static void http_on_headers(void *ctx, const struct http_msg *m)
{
	struct conn *c = ctx;
	if (m->dir == HTTP_DIR_REQ && m->upgrade[0]) {
		if (!c->upgrade_req)
			c->upgrade_req = xmalloc(sizeof(*c->upgrade_req));
		*c->upgrade_req = *m;
	} else if (m->dir == HTTP_DIR_RESP && m->status == 101) {
		snprintf(c->resp_upgrade, sizeof(c->resp_upgrade), "%s", m->upgrade);
		c->ws_ext_ok = ws_parse_extensions(m->ws_extensions, &c->ws_opts) == 0;
	}
	c->ops->headers(c, 0, m);
}

static void http_on_body(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->body(c, dir, 0, p, n);
}

static void http_on_complete(void *ctx, enum http_dir dir)
{
	struct conn *c = ctx;
	c->ops->complete(c, dir, 0);
	/* the answer to an upgrade request refused it: HTTP goes on */
	if (dir == HTTP_DIR_RESP && c->req_upgraded && !c->switch_pending)
		c->switch_pending = true; /* (back to HTTP/1.1: see switch_protocol) */
}

static void http_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_http++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

/* The HTTP parser of dir stopped at an upgrade; what follows in this piece
 * is the new protocol's. Acted on once the parser has returned. */
static void http_on_upgrade(void *ctx, enum http_dir dir, const char *p, size_t n)
{
	struct conn *c = ctx;
	if (dir == HTTP_DIR_REQ) {
		c->req_upgraded = true;
		buf_append(&c->upgrade_held, p, n);
		return;
	}
	c->switch_pending = c->resp_upgraded = true;
	buf_append(&c->switch_rest, p, n);
}

static const struct http_callbacks http_cbs = {
    .on_headers = http_on_headers,
    .on_body = http_on_body,
    .on_complete = http_on_complete,
    .on_error = http_on_error,
    .on_upgrade = http_on_upgrade,
};

static void *http1_open(struct conn *c, bool from_start)
{
	(void)from_start;
	return http_conn_new(&http_cbs, c);
}

static void http1_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	http_feed(p, dir, data, n);
}

static bool http1_can_resume(enum http_dir dir, const char *p, size_t n)
{
	return dir == HTTP_DIR_REQ ? starts_with_method(p, n) : starts_with_status(p, n);
}

static void http1_resume(void *p, enum http_dir dir)
{
	http_reset_dir(p, dir);
}

static void http1_eof(void *p)
{
	http_eof(p, HTTP_DIR_RESP); /* ends read-until-close bodies */
}

static void http1_free(void *p)
{
	http_conn_free(p);
}

const struct wire_proto http1_wire = {
    http1_open, http1_feed, http1_can_resume, http1_resume, http1_eof, http1_free,
};

/* ---- HTTP/2 ---- */

static void h2_on_headers(void *ctx, uint32_t sid, const struct http_msg *m, bool trailers)
{
	struct conn *c = ctx;
	if (!trailers) /* trailers carry nothing a call keeps */
		c->ops->headers(c, sid, m);
}

static void h2_on_data(void *ctx, enum http_dir dir, uint32_t sid, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->body(c, dir, sid, p, n);
}

static void h2_on_end(void *ctx, enum http_dir dir, uint32_t sid)
{
	struct conn *c = ctx;
	c->ops->complete(c, dir, sid);
}

static const char *side(enum http_dir dir)
{
	return dir == HTTP_DIR_REQ ? "client" : "server";
}

static void h2_on_reset(void *ctx, enum http_dir dir, uint32_t sid, uint32_t code)
{
	struct conn *c = ctx;
	char why[96];
	snprintf(why, sizeof(why), "RST_STREAM %s from the %s before the response completed",
	         h2_error_name(code), side(dir));
	c->ops->reset(c, dir, sid, why);
}

static void h2_on_goaway(void *ctx, enum http_dir dir, uint32_t last_sid, uint32_t code)
{
	struct conn *c = ctx;
	char why[128];
	snprintf(why, sizeof(why), "GOAWAY %s from the %s (last stream %u) left the stream out",
	         h2_error_name(code), side(dir), last_sid);
	c->ops->goaway(c, dir, last_sid, why);
}

static void h2_on_headers_lost(void *ctx, enum http_dir dir, uint32_t sid, const char *reason)
{
	struct conn *c = ctx;
	pstats.h2_headers_lost++;
	c->ops->headers_lost(c, dir, sid, reason);
}

static void h2_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_h2++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

static void h2_on_window(void *ctx, uint32_t sid, bool stalled)
{
	struct conn *c = ctx;
	c->ops->window(c, sid, stalled);
}

static void h2_on_preface(void *ctx)
{
	struct conn *c = ctx;
	c->ops->restart(c);
}

static const struct h2_callbacks h2_cbs = {
    .on_headers = h2_on_headers,
    .on_data = h2_on_data,
    .on_end = h2_on_end,
    .on_reset = h2_on_reset,
    .on_goaway = h2_on_goaway,
    .on_headers_lost = h2_on_headers_lost,
    .on_error = h2_on_error,
    .on_window = h2_on_window,
    .on_preface = h2_on_preface,
};

static void *h2_open(struct conn *c, bool from_start)
{
	return h2_conn_new(&h2_cbs, c, from_start);
}

static void h2w_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	h2_feed(p, dir, data, n);
}

static bool h2_can_resume(enum http_dir dir, const char *p, size_t n)
{
	return (dir == HTTP_DIR_REQ && n >= H2_PREFACE_LEN &&
	        !memcmp(p, H2_PREFACE, H2_PREFACE_LEN)) ||
	       h2_frames_plausible(dir, p, n);
}

static void h2_resume(void *p, enum http_dir dir)
{
	h2_reset_dir(p, dir);
}

static void h2_eof(void *p)
{
	(void)p; /* every HTTP/2 (and WebSocket) message ends explicitly */
}

static void h2w_free(void *p)
{
	h2_conn_free(p);
}

const struct wire_proto h2_wire = {
    h2_open, h2w_feed, h2_can_resume, h2_resume, h2_eof, h2w_free,
};

/* ---- WebSocket ---- */

static void ws_on_message(void *ctx, enum http_dir dir, bool text, const char *p, size_t n)
{
	struct conn *c = ctx;
	c->ops->message(c, dir, text, p, n);
}

static void ws_on_unparsed(void *ctx, enum http_dir dir, const char *reason, uint64_t bytes)
{
	struct conn *c = ctx;
	pstats.ws_unparsed_messages++;
	pstats.ignored_bytes[IGNORE_WS_UNPARSED] += bytes;
	c->ops->message_lost(c, dir, reason, bytes);
}

static void ws_on_close(void *ctx, enum http_dir dir, unsigned code, const char *reason, size_t n)
{
	struct conn *c = ctx;
	char why[200];
	snprintf(why, sizeof(why),
	         "WebSocket closed by the %s (%u %s%s%.*s) before the response "
	         "completed",
	         side(dir), code, ws_close_name(code), n ? ": " : "", (int)(n > 80 ? 80 : n),
	         reason);
	c->ops->closing(c, dir, why);
}

static void ws_on_error(void *ctx, enum http_dir dir, const char *reason)
{
	struct conn *c = ctx;
	pstats.parse_errors_ws++;
	c->broken[llmobs_dir_of(dir)] = true;
	c->ops->error(c, dir, reason);
}

static const struct ws_callbacks ws_cbs = {
    .on_message = ws_on_message,
    .on_unparsed = ws_on_unparsed,
    .on_close = ws_on_close,
    .on_error = ws_on_error,
};

static void *ws_open(struct conn *c, bool from_start)
{
	if (!from_start) /* joined: whatever was agreed, frames tell (RSV1) */
		c->ws_opts = (struct ws_options){.deflate = true, .window_bits = {15, 15}};
	return ws_conn_new(&ws_cbs, c, &c->ws_opts, !from_start);
}

static void wsw_feed(void *p, enum http_dir dir, const char *data, size_t n)
{
	ws_feed(p, dir, data, n);
}

static void ws_resume(void *p, enum http_dir dir)
{
	ws_reset_dir(p, dir);
}

static void wsw_free(void *p)
{
	ws_conn_free(p);
}

const struct wire_proto ws_wire = {
    ws_open, wsw_feed, ws_frames_plausible, ws_resume, h2_eof, wsw_free,
};
