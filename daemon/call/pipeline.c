/* Dispatches capture records to connections (wire/conn.c), whose HTTP/1.1
 * messages become calls (call/assemble.c); owns the pipeline lock. */
#include "call/pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "call/assemble.h"
#include "call/call.h"
#include "call/ingest.h"
#include "core/clock.h"
#include "core/json_arena.h"
#include "wire/conn.h"
#include "wire/peer.h"

/* Writes are held until the SSL call is known to have succeeded; a call
 * that failed reports within microseconds, so this bound is generous. */
#define HELD_WRITE_FLUSH_NS (200ull * 1000 * 1000)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void pipeline_init(unsigned keep_recent)
{
	json_arena_init();
	memset(&pstats, 0, sizeof(pstats));
	call_registry_init(keep_recent);
	conn_set_ops(CONN_HTTP1, &http1_calls);
	conn_set_ops(CONN_H2, &h2_calls);
	conn_set_ops(CONN_WS, &ws_calls);
}

void pipeline_free(void)
{
	conn_free_all();
	ingest_flush(); /* before the registry goes: they become calls */
	call_registry_free();
}

void pipeline_lock(void)
{
	pthread_mutex_lock(&lock);
}

void pipeline_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

bool pipeline_lock_timed(unsigned ms)
{
	struct timespec until = clock_deadline_ms(ms);
	return pthread_mutex_timedlock(&lock, &until) == 0;
}

static _Atomic uint64_t last_beat;

void pipeline_heartbeat(void)
{
	atomic_store(&last_beat, clock_mono_ns());
}

uint64_t pipeline_stall_ns(void)
{
	uint64_t b = atomic_load(&last_beat), now = clock_mono_ns();
	return b && now > b ? now - b : 0;
}

static const char *close_reason(uint16_t src)
{
	switch (src) {
	case LLMOBS_SRC_SSL_SHUTDOWN:
		return "SSL_shutdown before the response completed";
	case LLMOBS_SRC_SSL_FREE:
		return "SSL_free before the response completed";
	case LLMOBS_SRC_GNUTLS_BYE:
		return "gnutls_bye before the response completed";
	case LLMOBS_SRC_GNUTLS_DEINIT:
		return "gnutls_deinit before the response completed";
	case LLMOBS_SRC_CLOSE:
		return "socket closed before the response completed";
	case LLMOBS_SRC_GO_CLOSE:
		return "tls.Conn.Close before the response completed";
	default:
		return "connection closed before the response completed";
	}
}

#ifdef LLMOBS_FAILPOINTS
/* Test builds only (make asan): LLMOBS_FAILPOINT_STALL=TEXT makes the
 * record carrying TEXT hang its stage, lock held, the way a bug would;
 * the e2e tests check that /healthz, the API and SIGTERM still answer. */
static void failpoint_stall(const struct llmobs_event *ev)
{
	const char *want = getenv("LLMOBS_FAILPOINT_STALL");
	if (want && *want && memmem(ev + 1, ev->len, want, strlen(want)))
		for (;;)
			sleep(1);
}
#else
#define failpoint_stall(ev) ((void)0)
#endif

void pipeline_event(const struct llmobs_event *ev, size_t size)
{
	if (size < sizeof(*ev) || ev->len > size - sizeof(*ev) || ev->type >= LLMOBS_EV__MAX ||
	    ev->dir > LLMOBS_DIR_READ) {
		pstats.bad_events++;
		return;
	}
	pstats.events[ev->type]++;
	clock_note_event(ev->ts_ns);
	struct conn *c;

	switch (ev->type) {
	case LLMOBS_EV_DATA:
		failpoint_stall(ev);
		pstats.data_bytes[ev->dir] += ev->len;
		c = conn_lookup(ev->tgid, ev->conn, 1, ev);
		conn_data(c, ev, (const char *)(ev + 1));
		break;
	case LLMOBS_EV_WRITE_FAIL:
		c = conn_lookup(ev->tgid, ev->conn, 0, ev);
		if (c)
			conn_write_failed(c, ev);
		break;
	case LLMOBS_EV_CLOSE:
		c = conn_lookup(ev->tgid, ev->conn, 0, ev);
		if (c)
			conn_close(c, ev->ts_ns, close_reason(ev->src));
		break;
	case LLMOBS_EV_WRITE_DONE:
		c = conn_lookup(ev->tgid, ev->conn, 0, ev);
		if (c)
			conn_write_done(c, ev);
		break;
	case LLMOBS_EV_MAPPED:
		break; /* discovery (capture side) */
	case LLMOBS_EV_TLS_HELLO:
		break; /* blind spots (capture side) */
	case LLMOBS_EV_EXIT:
		conn_close_process(ev->tgid, ev->ts_ns);
		break;
	case LLMOBS_EV_CONNECT:
		peer_note(ev);
		break;
	default:
		pstats.bad_events++;
		break;
	}
}

void pipeline_tick(void)
{
	conn_flush_held(clock_now(), HELD_WRITE_FLUSH_NS);
	ingest_expire();
}
