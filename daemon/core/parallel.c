#include "core/parallel.h"

#include <pthread.h>

/* Enough threads for the waits to overlap; few enough that a large n does
 * not spawn a thread per item. */
#define PARALLEL_THREADS 32

struct slice {
	void (*fn)(size_t i, void *ctx);
	void *ctx;
	size_t n, first, step;
};

static void *run_slice(void *arg)
{
	const struct slice *s = arg;
	for (size_t i = s->first; i < s->n; i += s->step)
		s->fn(i, s->ctx);
	return NULL;
}

void parallel_for(size_t n, void (*fn)(size_t i, void *ctx), void *ctx)
{
	size_t nthreads = n < PARALLEL_THREADS ? n : PARALLEL_THREADS;
	pthread_t tids[PARALLEL_THREADS];
	struct slice slices[PARALLEL_THREADS];
	for (size_t t = 0; t < nthreads; t++)
		slices[t] = (struct slice){fn, ctx, n, t, nthreads};
	/* slice 0, and those no thread could be made for, run on this one */
	size_t spawned = 1;
	while (spawned < nthreads &&
	       pthread_create(&tids[spawned], NULL, run_slice, &slices[spawned]) == 0)
		spawned++;
	for (size_t t = spawned; t < nthreads; t++)
		run_slice(&slices[t]);
	if (nthreads > 0)
		run_slice(&slices[0]);
	for (size_t t = 1; t < spawned; t++)
		pthread_join(tids[t], NULL);
}
