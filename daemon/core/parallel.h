/* Running slow, independent kernel calls side by side. */
#ifndef LLMOBS_CORE_PARALLEL_H
#define LLMOBS_CORE_PARALLEL_H

#include <stddef.h>

/* Calls fn(i, ctx) once for each i in [0, n), spread over up to 32
 * threads (on this one as well, and on this one alone if no thread can be
 * made); returns when all are done. For calls that mostly wait, such as
 * detaching BPF links, each of which waits for an RCU grace period. */
void parallel_for(size_t n, void (*fn)(size_t i, void *ctx), void *ctx);

#endif
