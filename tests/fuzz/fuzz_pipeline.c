/* The whole pipeline, as the capture thread drives it: sequences of
 * capture records over four connections of two processes, both
 * directions, with gaps, retried writes, closes, exits and raw (possibly
 * malformed) records, so conn -> http -> body -> sse/ndjson -> provider ->
 * call -> guard -> JSON -> sinks run together (HTTP/1.1, and HTTP/2 and
 * WebSocket, which the sniffer finds in the same bytes). After each input
 * every call and connection is served as JSON, the stats and /metrics are
 * rendered, the live events
 * drained, and the pipeline freed (leaks show at once).
 * FUZZ_PIPELINE_PRINT=1 prints the calls of each input (as the API would).
 *
 * Input: operations, each an opcode byte and its operands:
 *   op & 7 in 0..2  one SSL call: conn (op>>3)&3, dir (op>>5)&1, a plaintext
 *                   socket when op & 0x40; a write with op & 0x80 is
 *                   copied only halfway (a fault), a read with it carries
 *                   a backpressure sample; then a length byte and the bytes
 *   3  gap: the next byte + 1 bytes of that direction are never captured
 *   4  close of the connection (SSL_free, shutdown or close(2) by op>>6)
 *   5  exit of the connection's process
 *   6  connect / the last write failed / it returned (op>>6), or a tick
 *   7  a raw record: header bytes as given, then a payload */
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/cgroup.h"
#include "sinks/events.h"
#include "fuzz.h"
#include "guard/scan.h"
#include "call/call_guard.h"
#include "sinks/metrics.h"
#include "call/pipeline.h"
#include "core/stats.h"
#include "call/call.h"
#include "call/call_json.h"
#include "call/conn_json.h"
#include "sinks/live.h"
#include "sinks/prometheus.h"

#define NCONN 4
#define MS    1000000ull

static struct {
	uint64_t pos[2];
	uint64_t write_call; /* the last SSL_write, for its end */
} conns[NCONN];
static uint64_t ts, call_id;
static _Alignas(8) uint8_t rec[sizeof(struct llmobs_event) + 4096];

static void init_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	log_quiet = true; /* one line per unparsed connection, per input */
	call_sink_register(&prometheus_sink);
	call_sink_register(&live_sink);
	cgroup_lookup_enable(false);
	char err[256];
	struct guard_policy *p = guard_policy_default(err, sizeof(err));
	if (!p)
		abort();
	call_guard_set_policy(p);
	guard_policy_unref(p);
}

static struct llmobs_event *header(unsigned conn, uint32_t type, uint64_t id)
{
	struct llmobs_event *ev = (struct llmobs_event *)rec;
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts_ns = ts;
	ev->conn = 0x5000 + conn;
	ev->tgid = conn < 2 ? 100 : 200;
	ev->tid = ev->tgid + conn;
	ev->fd = 3 + (int)conn;
	ev->call_id = id ? id : ++call_id;
	strcpy(ev->comm, conn < 2 ? "python3" : "node");
	strcpy(ev->thread, "worker");
	return ev;
}

static void record_data(unsigned conn, unsigned dir, bool sock, uint64_t id, const uint8_t *p,
                        size_t n, size_t off, size_t total, uint8_t op)
{
	struct llmobs_event *ev = header(conn, LLMOBS_EV_DATA, id);
	ev->dir = (uint16_t)dir;
	ev->src = sock ? (dir ? LLMOBS_SRC_SOCK_READ : LLMOBS_SRC_SOCK_WRITE)
	               : (dir ? LLMOBS_SRC_SSL_READ_EX : LLMOBS_SRC_SSL_WRITE_EX);
	ev->pos = conns[conn].pos[dir] + off;
	ev->len = (uint32_t)n;
	ev->orig_len = (uint32_t)total;
	ev->offset = (uint32_t)off;
	if (dir && (op & 0x80)) { /* a backpressure sample */
		ev->bp_valid = 1;
		ev->unread = (uint32_t)total * 3;
		ev->lag_us = (uint32_t)total * 7;
	}
	memcpy(ev + 1, p, n);
	pipeline_event(ev, sizeof(*ev) + n);
}

/* One SSL call (or socket read/write); with op & 0x80 a write's copy
 * stops halfway, as when BPF cannot read the user's buffer. */
static void data(struct fin *f, uint8_t op)
{
	unsigned conn = (op >> 3) & 3, dir = (op >> 5) & 1;
	bool sock = op & 0x40;
	const uint8_t *p;
	size_t n = fin_piece(f, 256, &p);
	if (!n)
		return;
	uint64_t id = ++call_id;
	size_t copied = !dir && (op & 0x80) ? n / 2 : n;
	record_data(conn, dir, sock, id, p, copied, 0, n, op);
	conns[conn].pos[dir] += n;
	if (!dir)
		conns[conn].write_call = id;
}

/* written: for WRITE_FAIL, the bytes the write did write (a partial one),
 * counted from a start at or before the connection's write position */
static void control(unsigned conn, uint32_t type, uint16_t src, uint8_t written)
{
	bool ends_write = type == LLMOBS_EV_WRITE_FAIL || type == LLMOBS_EV_WRITE_DONE;
	struct llmobs_event *ev = header(conn, type, ends_write ? conns[conn].write_call : 0);
	ev->src = src;
	if (type == LLMOBS_EV_WRITE_FAIL && written) {
		uint64_t at = conns[conn].pos[LLMOBS_DIR_WRITE];
		ev->pos = at > written ? at - written : 0;
		ev->orig_len = written & 0x7f;
	}
	if (type == LLMOBS_EV_CONNECT) {
		ev->family = 2;
		ev->port = (uint16_t)(443 + conn);
		ev->addr[0] = 127;
		ev->addr[3] = 1;
	}
	pipeline_event(ev, sizeof(*ev));
	if (type == LLMOBS_EV_CLOSE || type == LLMOBS_EV_EXIT)
		for (unsigned i = 0; i < NCONN; i++)
			if (i == conn || (type == LLMOBS_EV_EXIT && (i < 2) == (conn < 2)))
				memset(&conns[i], 0, sizeof(conns[i]));
}

static void raw(struct fin *f)
{
	size_t h = f->n < sizeof(struct llmobs_event) ? f->n : sizeof(struct llmobs_event);
	memset(rec, 0, sizeof(struct llmobs_event));
	memcpy(rec, f->p, h);
	f->p += h;
	f->n -= h;
	const uint8_t *p;
	size_t n = fin_piece(f, 4096, &p);
	memcpy(rec + sizeof(struct llmobs_event), p, n);
	/* The size a ring buffer record would have; the header may lie. */
	pipeline_event((struct llmobs_event *)rec,
	               h == sizeof(struct llmobs_event) ? sizeof(struct llmobs_event) + n : h);
}

static bool serve_one(const struct llm_call *c, void *ctx)
{
	cJSON *j = call_to_json(c, *(uint64_t *)ctx);
	char *s = cJSON_PrintUnformatted(j);
	if (!s)
		abort();
	free(s);
	cJSON_Delete(j);
	return true;
}

static void serve_everything(struct events_follower *fw, bool render)
{
	uint64_t now = clock_now();
	struct call_filter all = {0};
	cJSON *j = calls_to_json(&all, now);
	char *s = cJSON_PrintUnformatted(j);
	if (getenv("FUZZ_PIPELINE_PRINT")) /* to see what an input did */
		fprintf(stderr, "%s\n", s);
	free(s);
	cJSON_Delete(j);
	call_foreach(serve_one, &now);
	/* the connections as /api/v1/connections shows them, before the end */
	j = conns_to_json(NULL, 0);
	if (getenv("FUZZ_PIPELINE_PRINT")) {
		s = cJSON_PrintUnformatted(j);
		fprintf(stderr, "%s\n", s);
		free(s);
	}
	cJSON_Delete(j);

	struct stats_view v = {
	    .p = pstats, .have_pipeline = true, .streams_active = call_active_count()};
	j = stats_to_json(&v);
	if (getenv("FUZZ_PIPELINE_PRINT")) {
		s = cJSON_PrintUnformatted(j);
		fprintf(stderr, "%s\n", s);
		free(s);
	}
	cJSON_Delete(j);
	for (char *ev; (ev = events_next(fw, 0));)
		free(ev);
	if (!render) /* /metrics text (every series so far) is costly: one input in 8 */
		return;
	prometheus_sync(&v);
	struct buf m;
	buf_init(&m, 64u << 20);
	metrics_render(&m);
	buf_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	init_once();
	/* Series persist across inputs (and fold at METRIC_MAX_SERIES); a fresh
	 * set now and then keeps rendering them cheap. */
	static unsigned inputs;
	if (inputs++ % 64 == 0)
		prometheus_init();
	struct fin f = {buf, size};
	clock_use_event_time(1);
	uint8_t sel = fin_u8(&f);
	pipeline_init(2 + sel % 4);
	struct events_follower fw;
	events_follow(&fw);
	memset(conns, 0, sizeof(conns));
	ts = 1000 * MS;
	call_id = 0;
	while (f.n) {
		uint8_t op = fin_u8(&f);
		unsigned conn = (op >> 3) & 3;
		ts += (uint64_t)(op & 0xf0) * MS / 4;
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			data(&f, op);
			break;
		case 3:
			conns[conn].pos[(op >> 5) & 1] += (uint64_t)fin_u8(&f) + 1;
			break;
		case 4: {
			static const uint16_t srcs[] = {LLMOBS_SRC_SSL_FREE,
			                                LLMOBS_SRC_SSL_SHUTDOWN, LLMOBS_SRC_CLOSE,
			                                LLMOBS_SRC_SSL_FREE};
			control(conn, LLMOBS_EV_CLOSE, srcs[op >> 6], 0);
			break;
		}
		case 5:
			control(conn, LLMOBS_EV_EXIT, LLMOBS_SRC_EXIT, 0);
			break;
		case 6:
			switch (op >> 6) {
			case 0:
				control(conn, LLMOBS_EV_CONNECT, LLMOBS_SRC_CONNECT, 0);
				break;
			case 1:
				control(conn, LLMOBS_EV_WRITE_FAIL, LLMOBS_SRC_SSL_WRITE_EX, fin_u8(&f));
				break;
			case 2:
				control(conn, LLMOBS_EV_WRITE_DONE, LLMOBS_SRC_SSL_WRITE_EX, 0);
				break;
			default:
				ts += 200 * MS;
				pipeline_tick();
			}
			break;
		default:
			raw(&f);
		}
	}
	serve_everything(&fw, (sel & 0xe0) == 0xe0);
	events_unfollow(&fw);
	pipeline_free();
	events_reset();
	return 0;
}
