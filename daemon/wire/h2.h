/* HTTP/2 reassembly for one connection (RFC 9113), as a passive observer
 * of both directions: frames split anywhere across reads, several per
 * read; HPACK per direction on libnghttp2's standalone inflater. Headers
 * arrive as struct http_msg (the same kept fields as HTTP/1.1; never
 * credentials), DATA without padding. Callbacks fire synchronously inside
 * h2_feed(), so the caller knows the timestamp. Direction REQ is what the
 * client writes, RESP what it reads. */
#ifndef LLMOBS_WIRE_H2_H
#define LLMOBS_WIRE_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/http.h"

#define H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

struct h2_callbacks {
	/* A decoded header block of stream sid: request headers (m->dir REQ),
	 * response headers (RESP, 1xx interim ones too), or trailers
	 * (trailers true; only the kept fields, usually none). A block with
	 * END_STREAM is followed by on_end. */
	void (*on_headers)(void *ctx, uint32_t sid, const struct http_msg *m, bool trailers);
	/* DATA payload of stream sid, padding removed; never empty. */
	void (*on_data)(void *ctx, enum http_dir dir, uint32_t sid, const char *p, size_t n);
	/* END_STREAM on dir's side of stream sid. */
	void (*on_end)(void *ctx, enum http_dir dir, uint32_t sid);
	/* RST_STREAM sent by dir's side; code is the RFC 9113 error code. */
	void (*on_reset)(void *ctx, enum http_dir dir, uint32_t sid, uint32_t code);
	/* GOAWAY sent by dir's side: streams above last_sid are not processed. */
	void (*on_goaway)(void *ctx, enum http_dir dir, uint32_t last_sid, uint32_t code);
	/* A header block of stream sid could not be decoded (HPACK state
	 * unknown after a join or gap, or a decode error): its headers are
	 * unknown. The decoder restarts empty, which can only fail again,
	 * never decode wrongly. */
	void (*on_headers_lost)(void *ctx, enum http_dir dir, uint32_t sid, const char *reason);
	/* Unusable framing: dir stops until h2_reset_dir() (counted). */
	void (*on_error)(void *ctx, enum http_dir dir, const char *reason);
	/* Flow control as the client grants it: the server's send window of
	 * stream sid (0: the connection's) reached <= 0 (stalled) or opened
	 * again. Optional (NULL). */
	void (*on_window)(void *ctx, uint32_t sid, bool stalled);
	/* A new client preface on this connection: all state was reset.
	 * Optional (NULL). */
	void (*on_preface)(void *ctx);
};

struct h2_stats {
	uint64_t bytes[2];         /* fed per direction */
	uint64_t frames[2];        /* complete frames per direction */
	uint64_t header_blocks[2]; /* decoded */
	uint64_t headers_lost;     /* blocks that could not be decoded */
	uint64_t header_cut_bytes; /* kept header values longer than their field */
	uint64_t skipped_bytes[2]; /* fed while a direction was stopped */
	uint64_t errors;           /* framing errors */
};

struct h2_conn;

/* preface: the client preface is expected first in REQ (a connection seen
 * from its start); false when joining an open connection at a frame
 * boundary. */
struct h2_conn *h2_conn_new(const struct h2_callbacks *cb, void *ctx, bool preface);
void h2_conn_free(struct h2_conn *c);
void h2_feed(struct h2_conn *c, enum http_dir dir, const char *p, size_t n);
/* After a gap in dir: parsing resumes at the start of the next fed piece,
 * taken as a frame boundary, with dir's HPACK decoder restarted empty. */
void h2_reset_dir(struct h2_conn *c, enum http_dir dir);
const struct h2_stats *h2_conn_stats(const struct h2_conn *c);
/* Bytes held for this connection (buffers, HPACK tables, streams). */
size_t h2_conn_memory(const struct h2_conn *c);

/* Is p[0..n) a whole number of plausible frames, and whose: a client's
 * that writes (dir REQ) or reads (RESP) them, or a server's? For
 * recognising an HTTP/2 connection joined mid-way, and which end we see:
 * known types, sane lengths and stream ids; a server's SETTINGS first;
 * header blocks that start with request or response pseudo-headers. */
enum h2_side { H2_SIDE_NONE = 0, H2_SIDE_CLIENT, H2_SIDE_SERVER };
enum h2_side h2_frames_side(enum http_dir dir, const char *p, size_t n);
/* h2_frames_side() is H2_SIDE_CLIENT. */
bool h2_frames_plausible(enum http_dir dir, const char *p, size_t n);
/* The RFC 9113 name of an error code ("CANCEL"), or "UNKNOWN". */
const char *h2_error_name(uint32_t code);

#endif
