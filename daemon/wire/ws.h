/* WebSocket (RFC 6455) reassembly as a passive observer of both directions
 * of a client connection, after its HTTP/1.1 upgrade: frames split anywhere
 * across reads, several per read; client frames unmasked; fragmented
 * messages joined; control frames (ping, pong, close) interleaved; and
 * permessage-deflate (RFC 7692) inflated with zlib, per direction, with or
 * without context takeover. Whole messages are handed on; a message that
 * cannot be decoded is counted and dropped, never handed on as garbage.
 * Callbacks fire synchronously inside ws_feed(), so the caller knows the
 * timestamp. Direction REQ is what the client writes, RESP what it reads. */
#ifndef LLMOBS_WIRE_WS_H
#define LLMOBS_WIRE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/http.h"

/* A message longer than this (after inflating) is not handed on. */
#define WS_MESSAGE_MAX (4u << 20)

/* What the 101 response's Sec-WebSocket-Extensions negotiated. */
struct ws_options {
	bool deflate;                /* permessage-deflate */
	bool no_context_takeover[2]; /* per sending direction: client_ / server_no_context_takeover
	                              */
	unsigned
	    window_bits[2]; /* per sending direction: client_ / server_max_window_bits (8..15) */
};

struct ws_callbacks {
	/* A whole data message of dir, unmasked and inflated; text is opcode
	 * 1 (else binary). p[n] is '\0'. */
	void (*on_message)(void *ctx, enum http_dir dir, bool text, const char *p, size_t n);
	/* A data message of dir that could not be decoded (its reason, and its
	 * size on the wire): an inflate context unknown after a join or gap,
	 * corrupt compressed data, larger than WS_MESSAGE_MAX. */
	void (*on_unparsed)(void *ctx, enum http_dir dir, const char *reason, uint64_t wire_bytes);
	/* A close frame sent by dir's side: its status code (1005 when it has
	 * none) and reason text. Optional (NULL). */
	void (*on_close)(void *ctx, enum http_dir dir, unsigned code, const char *reason, size_t n);
	/* Unusable framing (a reserved opcode or bit, a bad mask bit, a control
	 * frame longer than 125 bytes or fragmented, a continuation without a
	 * start): dir stops until ws_reset_dir() (counted). */
	void (*on_error)(void *ctx, enum http_dir dir, const char *reason);
};

struct ws_stats {
	uint64_t bytes[2];          /* fed per direction */
	uint64_t frames[2];         /* complete frames per direction */
	uint64_t messages[2];       /* data messages handed on */
	uint64_t unparsed[2];       /* data messages counted, not handed on */
	uint64_t control[2];        /* ping, pong and close frames */
	uint64_t skipped_bytes[2];  /* fed while a direction was stopped */
	uint64_t inflated_bytes[2]; /* bytes out of permessage-deflate */
	uint64_t errors;            /* framing errors */
};

struct ws_conn;

/* Parses a Sec-WebSocket-Extensions value; 0, or -1 when it names an
 * extension other than permessage-deflate (its frames would not decode).
 * NULL or "" is no extension. */
int ws_parse_extensions(const char *value, struct ws_options *o);

/* joined: seen from the middle of the connection (the daemon started, or
 * bytes were lost): parsing starts at the next fed piece, taken as a frame
 * boundary, and the inflate contexts are unknown until a message decodes
 * without them. */
struct ws_conn *ws_conn_new(const struct ws_callbacks *cb, void *ctx, const struct ws_options *o,
                            bool joined);
void ws_conn_free(struct ws_conn *c);
void ws_feed(struct ws_conn *c, enum http_dir dir, const char *p, size_t n);
/* After a gap in dir: parsing resumes at the start of the next fed piece,
 * taken as a frame boundary; dir's inflate context is unknown. */
void ws_reset_dir(struct ws_conn *c, enum http_dir dir);
const struct ws_stats *ws_conn_stats(const struct ws_conn *c);
/* Bytes held for this connection (buffers, inflate windows). */
size_t ws_conn_memory(const struct ws_conn *c);

/* Is p[0..n) a run of plausible frames a client of dir would write (REQ:
 * masked) or read (RESP: unmasked), starting at a frame boundary? At least
 * one whole frame header; every frame that ends inside the piece is
 * followed by another plausible header; the last may run past n. For
 * recognising a WebSocket connection joined mid-way. */
bool ws_frames_plausible(enum http_dir dir, const char *p, size_t n);
/* A close code's meaning ("normal closure"), or "unknown". */
const char *ws_close_name(unsigned code);

#endif
