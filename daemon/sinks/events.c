/* The live event ring (see events.h). Events are formatted once, when
 * published, and copied out to each follower. */
#include "sinks/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char *ring[EVENTS_RING];
static uint64_t head; /* sequence number of the next event published */
static atomic_int followers;

bool events_followed(void)
{
	return atomic_load(&followers) > 0;
}

static char *format(const char *type, uint64_t seq, cJSON *data)
{
	cJSON_AddStringToObject(data, "type", type);
	char *json = cJSON_PrintUnformatted(data);
	size_t n = strlen(json) + strlen(type) + 64;
	char *s = xmalloc(n);
	snprintf(s, n, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)seq, type, json);
	free(json);
	return s;
}

void events_publish(const char *type, cJSON *data)
{
	if (!events_followed()) {
		cJSON_Delete(data);
		return;
	}
	pthread_mutex_lock(&lock);
	char *s = format(type, head, data);
	free(ring[head % EVENTS_RING]);
	ring[head % EVENTS_RING] = s;
	head++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	cJSON_Delete(data);
}

void events_follow(struct events_follower *f)
{
	pthread_mutex_lock(&lock);
	f->next = head;
	atomic_fetch_add(&followers, 1);
	pthread_mutex_unlock(&lock);
}

void events_unfollow(struct events_follower *f)
{
	(void)f;
	atomic_fetch_sub(&followers, 1);
}

char *events_next(struct events_follower *f, int timeout_ms)
{
	struct timespec until = clock_deadline_ms(timeout_ms > 0 ? (unsigned)timeout_ms : 0);
	pthread_mutex_lock(&lock);
	while (f->next == head) {
		if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT && f->next == head) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
	}
	char *out;
	uint64_t oldest = head > EVENTS_RING ? head - EVENTS_RING : 0;
	if (f->next < oldest) { /* overwritten before this follower read them */
		uint64_t lost = oldest - f->next;
		f->next += lost;
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "lost", (double)lost);
		out = format("events_lost", f->next, d);
		cJSON_Delete(d);
	} else {
		out = xstrdup(ring[f->next % EVENTS_RING]);
		f->next++;
	}
	pthread_mutex_unlock(&lock);
	return out;
}

uint64_t events_published(void)
{
	pthread_mutex_lock(&lock);
	uint64_t n = head;
	pthread_mutex_unlock(&lock);
	return n;
}

void events_reset(void)
{
	pthread_mutex_lock(&lock);
	/* Slots past head were never used (slot = sequence % EVENTS_RING). */
	for (size_t i = 0; i < EVENTS_RING && i < head; i++) {
		free(ring[i]);
		ring[i] = NULL;
	}
	head = 0;
	pthread_mutex_unlock(&lock);
}
