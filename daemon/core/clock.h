/* Capture timestamps are CLOCK_MONOTONIC ns (bpf_ktime_get_ns). Wall time is
 * derived once, from an offset taken at start (or stored in a recording). */
#ifndef LLMOBS_CORE_CLOCK_H
#define LLMOBS_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ns(void);
/* CLOCK_REALTIME ms from now, for pthread's timed waits. */
struct timespec clock_deadline_ms(unsigned ms);
/* realtime - monotonic, ns, measured now */
int64_t clock_measure_wall_offset(void);
void clock_set_wall_offset(int64_t off);
int64_t clock_wall_offset(void);
/* Unix ms of a capture timestamp (0 stays 0: not yet) */
int64_t clock_wall_ms(uint64_t mono_ns);
/* Unix ms now (CLOCK_REALTIME): for "now" of wall times, which the capture's
 * offset may not be set for yet (start) or belong to a recording (replay) */
int64_t clock_wall_now_ms(void);
/* RFC 3339 UTC with milliseconds: 2026-11-23T05:53:38.123Z */
void clock_format_rfc3339(uint64_t mono_ns, char *out, size_t n);
/* The same of Unix ms */
void clock_format_unix_ms(int64_t ms, char *out, size_t n);
/* RFC 3339 ("2026-12-06T10:00:00.250Z", "+01:00"; a fraction's first 3
 * digits kept) -> Unix ms, or -1. *zone (when not NULL) points at its zone
 * text ("Z", "z" or "+hh:mm"), for callers that take UTC only. */
int64_t clock_parse_rfc3339(const char *s, const char **zone);

/* "Now" for ages/durations of calls still in flight: the monotonic clock
 * when live, the last replayed event's time when replaying. */
void clock_use_event_time(int on);
void clock_note_event(uint64_t ts);
/* Forgets the last event's time: clock_now() is 0 until the next event. */
void clock_reset_event_time(void);
uint64_t clock_now(void);

#endif
