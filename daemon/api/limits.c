/* API connection limits (see limits.h). Every connection has a
 * tracker from its start to its close; a reaper thread shuts down the ones
 * whose request headers are late. */
#include "api/limits.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"

struct tracker {
	int fd;
	bool pending;     /* waiting for (the rest of) a request's headers */
	uint64_t since;   /* when it started waiting */
	uint8_t addr[16]; /* peer address (v4 mapped), for the per-address cap */
	bool loopback;
	struct tracker *prev, *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracker *head;
static struct api_limit_stats st;
static atomic_int followers;
static pthread_t reaper;
static atomic_bool reaper_stop;
static bool reaper_running;

static void addr_key(const struct sockaddr *sa, uint8_t out[16], bool *loopback)
{
	memset(out, 0, 16);
	*loopback = false;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		*loopback = out[12] == 127;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(out, &in6->sin6_addr, 16);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		            (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && out[12] == 127);
	}
}

/* Local clients cannot be told apart by address: only remote peers (a
 * non-loopback --listen) get a per-address cap. */
enum MHD_Result api_limits_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)cls;
	(void)len;
	uint8_t key[16];
	bool loopback;
	addr_key(addr, key, &loopback);
	if (loopback)
		return MHD_YES;
	int n = 0;
	pthread_mutex_lock(&lock);
	for (struct tracker *t = head; t; t = t->next)
		n += !memcmp(t->addr, key, 16);
	if (n >= API_MAX_PER_ADDRESS)
		st.address_refused++;
	pthread_mutex_unlock(&lock);
	return n >= API_MAX_PER_ADDRESS ? MHD_NO : MHD_YES;
}

/* Under lock: the oldest connection still sending headers is dropped. */
static void evict_oldest_pending(void)
{
	struct tracker *old = NULL;
	unsigned pending = 0;
	for (struct tracker *t = head; t; t = t->next) {
		if (!t->pending)
			continue;
		pending++;
		if (!old || t->since < old->since)
			old = t;
	}
	if (pending >= API_MAX_PENDING && old) {
		shutdown(old->fd, SHUT_RDWR);
		old->pending = false;
		st.pending_evicted++;
	}
}

void api_limits_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                       enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct tracker *t = xcalloc(1, sizeof(*t));
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		t->fd = fd ? fd->connect_fd : -1;
		addr_key(ad ? ad->client_addr : NULL, t->addr, &t->loopback);
		t->pending = t->fd >= 0;
		t->since = clock_mono_ns();
		pthread_mutex_lock(&lock);
		evict_oldest_pending();
		t->next = head;
		if (head)
			head->prev = t;
		head = t;
		pthread_mutex_unlock(&lock);
		*socket_ctx = t;
		return;
	}
	/* MHD_CONNECTION_NOTIFY_CLOSED: before the socket is closed */
	struct tracker *t = *socket_ctx;
	if (!t)
		return;
	pthread_mutex_lock(&lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&lock);
	free(t);
	*socket_ctx = NULL;
}

static struct tracker *tracker_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

void api_limits_headers_done(struct MHD_Connection *c)
{
	struct tracker *t = tracker_of(c);
	if (!t)
		return;
	pthread_mutex_lock(&lock);
	t->pending = false;
	pthread_mutex_unlock(&lock);
}

/* A keep-alive connection waits for its next request: a new deadline. */
void api_limits_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                          enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)req_ctx;
	(void)code;
	struct tracker *t = tracker_of(c);
	if (!t)
		return;
	pthread_mutex_lock(&lock);
	t->pending = t->fd >= 0;
	t->since = clock_mono_ns();
	pthread_mutex_unlock(&lock);
}

static void *reap(void *arg)
{
	(void)arg;
	while (!atomic_load(&reaper_stop)) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		uint64_t now = clock_mono_ns();
		pthread_mutex_lock(&lock);
		for (struct tracker *t = head; t; t = t->next) {
			if (t->pending && now - t->since > API_HEADER_TIMEOUT_MS * 1000000ull) {
				shutdown(t->fd, SHUT_RDWR); /* its thread sees EOF and closes */
				t->pending = false;
				st.header_timeouts++;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int api_limits_start(void)
{
	atomic_store(&reaper_stop, false);
	if (pthread_create(&reaper, NULL, reap, NULL))
		return -1;
	reaper_running = true;
	return 0;
}

void api_limits_stop(void)
{
	if (!reaper_running)
		return;
	atomic_store(&reaper_stop, true);
	pthread_join(reaper, NULL);
	reaper_running = false;
}

bool api_limits_follow(void)
{
	if (atomic_fetch_add(&followers, 1) < API_MAX_FOLLOWERS)
		return true;
	atomic_fetch_sub(&followers, 1);
	pthread_mutex_lock(&lock);
	st.followers_refused++;
	pthread_mutex_unlock(&lock);
	return false;
}

void api_limits_unfollow(void)
{
	atomic_fetch_sub(&followers, 1);
}

void api_limits_stats(struct api_limit_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = st;
	pthread_mutex_unlock(&lock);
}
