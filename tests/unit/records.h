/* Synthetic capture records for the pipeline tests, as BPF would emit
 * them: SSL calls split into pieces with stream positions, control records,
 * and a few request/response builders. */
#ifndef LLMOBS_TEST_RECORDS_H
#define LLMOBS_TEST_RECORDS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/clock.h"
#include "call/pipeline.h"
#include "call/call.h"
#include "call/call_json.h"
#include "sinks/live.h"
#include "sinks/prometheus.h"

#define TGID 4242
#define SSL1 0x55550000ull
#define MS   1000000ull

/* Stream positions of SSL1 (tests adjust them to fake retries and joins),
 * and of up to 8 other connections. */
static uint64_t pos[2];
static struct {
	uint64_t ssl, pos[2];
} other_pos[8];
static uint64_t call_seq = 1;

static inline uint64_t *pos_of(uint64_t ssl)
{
	if (ssl == SSL1)
		return pos;
	for (size_t i = 0; i < 8; i++) {
		if (other_pos[i].ssl == ssl || !other_pos[i].ssl) {
			other_pos[i].ssl = ssl;
			return other_pos[i].pos;
		}
	}
	abort();
}

/* A fresh pipeline keeping `keep` finished calls. */
static inline void reset_keep(unsigned keep)
{
	pipeline_free();
	pipeline_init(keep);
	clock_use_event_time(1);
	pos[0] = pos[1] = 0;
	memset(other_pos, 0, sizeof(other_pos));
}

static inline void reset(void)
{
	reset_keep(100);
}

static inline int setup(void **state)
{
	(void)state;
	prometheus_init();
	call_sinks_clear(); /* the sinks main.c registers */
	call_sink_register(&prometheus_sink);
	call_sink_register(&live_sink);
	reset();
	return 0;
}

/* Before each test: a fresh pipeline, and the event clock back at 0 (event
 * time only moves forward, so a test would otherwise start at the latest
 * time an earlier test reached). */
static inline int setup_each(void **state)
{
	(void)state;
	clock_reset_event_time();
	reset();
	return 0;
}

/* A test of the pipeline, registered with its per-test setup. */
#define PIPELINE_TEST(f) cmocka_unit_test_setup(f, setup_each)

/* One SSL call, split into pieces like BPF does. */
static inline void ssl_call_on(uint64_t ssl, uint32_t tgid, int dir, uint64_t ts, const char *p,
                               size_t n, int skip_piece)
{
	uint64_t id = call_seq++, *p0 = pos_of(ssl);
	size_t off = 0;
	do {
		size_t len = n - off < LLMOBS_MAX_DATA ? n - off : LLMOBS_MAX_DATA;
		size_t size = sizeof(struct llmobs_event) + len;
		struct llmobs_event *ev = calloc(1, size);
		ev->type = LLMOBS_EV_DATA;
		ev->ts_ns = ts;
		ev->conn = ssl;
		ev->pos = p0[dir] + off;
		ev->call_id = id;
		ev->tgid = tgid;
		ev->tid = tgid;
		ev->fd = 5;
		ev->len = len;
		ev->orig_len = n;
		ev->offset = off;
		ev->dir = dir;
		ev->src = dir ? LLMOBS_SRC_SSL_READ_EX : LLMOBS_SRC_SSL_WRITE_EX;
		strcpy(ev->comm, "client");
		memcpy(ev + 1, p + off, len);
		if (skip_piece-- != 0)
			pipeline_event(ev, size);
		free(ev);
		off += len;
	} while (off < n);
	p0[dir] += n;
}

static inline void ssl_call(int dir, uint64_t ts, const char *p, size_t n)
{
	ssl_call_on(SSL1, TGID, dir, ts, p, n, -1);
}

static inline void ctl(uint32_t type, uint64_t ts, uint64_t call_id)
{
	struct llmobs_event ev = {
	    .type = type, .ts_ns = ts, .conn = SSL1, .tgid = TGID, .call_id = call_id, .fd = 5};
	pipeline_event(&ev, sizeof(ev));
}

static inline const struct llm_call *only_call(void)
{
	struct call_filter f = {0};
	cJSON *j = calls_to_json(&f, clock_now());
	cJSON *arr = cJSON_GetObjectItem(j, "streams");
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	long id = atol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "id")->valuestring);
	cJSON_Delete(j);
	return call_find((uint64_t)id);
}

static inline void post(const char *path, const char *host, const char *body, uint64_t ts)
{
	char req[4096];
	int n = snprintf(req, sizeof(req),
	                 "POST %s HTTP/1.1\r\nHost: %s\r\nx-api-key: SECRET\r\n"
	                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                 path, host, strlen(body), body);
	ssl_call(LLMOBS_DIR_WRITE, ts, req, (size_t)n);
}

/* A chunked response: headers, then body in 7-byte chunks. */
static inline size_t chunked_response(char *out, size_t cap, const char *headers, const char *body,
                                      size_t blen)
{
	size_t n = (size_t)snprintf(
	    out, cap, "HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n", headers);
	for (size_t off = 0; off < blen; off += 7) {
		size_t k = blen - off < 7 ? blen - off : 7;
		n += (size_t)snprintf(out + n, cap - n, "%zx\r\n", k);
		memcpy(out + n, body + off, k);
		n += k;
		n += (size_t)snprintf(out + n, cap - n, "\r\n");
	}
	n += (size_t)snprintf(out + n, cap - n, "0\r\n\r\n");
	return n;
}

/* gzip of in[0..n) into out (cap bytes); returns its length. */
static inline size_t gzip_of(const char *in, size_t n, char *out, size_t cap)
{
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t got = z.total_out;
	deflateEnd(&z);
	return got;
}

#endif
