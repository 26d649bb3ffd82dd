/* Fan-out of call events to the registered sinks (see sink.h). */
#include "call/sink.h"

#include <stddef.h>

static const struct call_sink *sinks[CALL_SINKS_MAX];
static size_t nsinks;

bool call_sink_register(const struct call_sink *s)
{
	if (nsinks == CALL_SINKS_MAX)
		return false;
	sinks[nsinks++] = s;
	return true;
}

void call_sinks_clear(void)
{
	nsinks = 0;
}

#define EMIT(member, ...)                                                                          \
	for (size_t i = 0; i < nsinks; i++)                                                        \
		if (sinks[i]->member)                                                              \
	sinks[i]->member(__VA_ARGS__)

void sink_start(const struct llm_call *c)
{
	EMIT(start, c);
}

void sink_chunk(const struct llm_call *c)
{
	EMIT(chunk, c);
}

void sink_end(const struct llm_call *c)
{
	EMIT(end, c);
}

void sink_dropped(const struct llm_call *c, uint64_t bytes)
{
	EMIT(dropped, c, bytes);
}

void sink_backpressure(const struct llm_call *c, uint32_t lag_us, uint32_t unread)
{
	EMIT(backpressure, c, lag_us, unread);
}

void sink_guard_hit(const struct llm_call *c, const struct guard_hit *h, bool enforced,
                    const char *error)
{
	EMIT(guard_hit, c, h, enforced, error);
}

void sink_guard_scan(double seconds)
{
	EMIT(guard_scan, seconds);
}
