#include "core/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t wall_offset;
static int event_time;
static uint64_t last_event_ts;

uint64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t clock_measure_wall_offset(void)
{
	/* Bracket the realtime read with two monotonic reads to halve the error. */
	uint64_t a = clock_mono_ns();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t b = clock_mono_ns();
	int64_t wall = (int64_t)rt.tv_sec * 1000000000ll + rt.tv_nsec;
	return wall - (int64_t)(a + (b - a) / 2);
}

void clock_set_wall_offset(int64_t off)
{
	wall_offset = off;
}

int64_t clock_wall_offset(void)
{
	return wall_offset;
}

void clock_format_unix_ms(int64_t ms, char *out, size_t n)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void clock_format_rfc3339(uint64_t mono_ns, char *out, size_t n)
{
	clock_format_unix_ms(((int64_t)mono_ns + wall_offset) / 1000000ll, out, n);
}

int64_t clock_wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

int64_t clock_parse_rfc3339(const char *s, const char **zone)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t ms = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; digit(*p); p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (zone)
		*zone = p;
	int64_t off = 0;
	if ((*p == '+' || *p == '-') && digit(p[1]) && digit(p[2]) && p[3] == ':' && digit(p[4]) &&
	    digit(p[5]) && !p[6]) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
		off *= (*p == '-' ? -60000 : 60000);
	} else if (strcmp(p, "Z") && strcmp(p, "z")) {
		return -1;
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return (int64_t)t * 1000 + ms - off;
}

void clock_use_event_time(int on)
{
	event_time = on;
}

void clock_reset_event_time(void)
{
	last_event_ts = 0;
}

void clock_note_event(uint64_t ts)
{
	if (ts > last_event_ts)
		last_event_ts = ts;
}

uint64_t clock_now(void)
{
	return event_time ? last_event_ts : clock_mono_ns();
}

struct timespec clock_deadline_ms(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

int64_t clock_wall_ms(uint64_t mono_ns)
{
	return mono_ns ? (int64_t)((mono_ns + (uint64_t)clock_wall_offset()) / 1000000) : 0;
}
