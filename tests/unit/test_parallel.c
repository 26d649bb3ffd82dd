/* parallel_for: each index exactly once, on more than one thread when
 * there is more than one index, done when it returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/parallel.h"

struct seen {
	atomic_int *count;
	pthread_t *by;
	atomic_int waiting; /* calls inside fn at once, at most */
	atomic_int most;
};

static void note(size_t i, void *ctx)
{
	struct seen *s = ctx;
	int now = atomic_fetch_add(&s->waiting, 1) + 1;
	int most = atomic_load(&s->most);
	while (now > most && !atomic_compare_exchange_weak(&s->most, &most, now)) {
	}
	/* a call that waits, as a link's detach does */
	nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
	s->by[i] = pthread_self();
	atomic_fetch_add(&s->count[i], 1);
	atomic_fetch_sub(&s->waiting, 1);
}

static void run(size_t n, struct seen *s)
{
	s->count = calloc(n + 1, sizeof(*s->count));
	s->by = calloc(n + 1, sizeof(*s->by));
	atomic_init(&s->waiting, 0);
	atomic_init(&s->most, 0);
	parallel_for(n, note, s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(atomic_load(&s->count[i]), 1);
	assert_int_equal(atomic_load(&s->count[n]), 0); /* nothing past the end */
	assert_int_equal(atomic_load(&s->waiting), 0);  /* all done on return */
}

static void test_each_index_once(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 31, 32, 33, 200};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct seen s;
		run(sizes[k], &s);
		free(s.count);
		free(s.by);
	}
}

static void test_waits_overlap(void **state)
{
	(void)state;
	struct seen s;
	run(64, &s);
	assert_true(atomic_load(&s.most) > 1);
	size_t others = 0;
	for (size_t i = 0; i < 64; i++)
		others += !pthread_equal(s.by[i], pthread_self());
	assert_true(others > 0);
	free(s.count);
	free(s.by);
}

static void test_one_index_stays_on_the_caller(void **state)
{
	(void)state;
	struct seen s;
	run(1, &s);
	assert_true(pthread_equal(s.by[0], pthread_self()));
	free(s.count);
	free(s.by);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_index_once),
	    cmocka_unit_test(test_waits_overlap),
	    cmocka_unit_test(test_one_index_stays_on_the_caller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
