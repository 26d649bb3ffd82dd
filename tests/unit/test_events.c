/* The live event ring: delivery in order, type-tagged SSE text, nothing
 * built when nobody follows, and a follower that falls behind told how
 * many events it lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/events.h"

static cJSON *num(int i)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "i", i);
	return o;
}

static void test_order_and_format(void **state)
{
	(void)state;
	events_reset();
	events_publish("chunk", num(-1)); /* nobody follows: dropped, not stored */
	assert_false(events_followed());
	assert_int_equal(events_published(), 0);
	struct events_follower f;
	events_follow(&f);
	assert_true(events_followed());
	assert_null(events_next(&f, 10)); /* nothing yet: times out */
	events_publish("stream_start", num(1));
	events_publish("stream_end", num(2));
	char *a = events_next(&f, 10), *b = events_next(&f, 10);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(
	    a, "id: 0\nevent: stream_start\ndata: {\"i\":1,\"type\":\"stream_start\"}\n\n");
	assert_non_null(strstr(b, "event: stream_end\n"));
	free(a);
	free(b);
	events_unfollow(&f);
	assert_false(events_followed());
}

static void test_slow_follower_told_of_losses(void **state)
{
	(void)state;
	events_reset();
	struct events_follower f;
	events_follow(&f);
	for (int i = 0; i < EVENTS_RING + 10; i++)
		events_publish("chunk", num(i));
	char *e = events_next(&f, 10);
	assert_non_null(strstr(e, "event: events_lost\n"));
	assert_non_null(strstr(e, "\"lost\":10"));
	free(e);
	e = events_next(&f, 10); /* then the oldest still kept */
	assert_non_null(strstr(e, "\"i\":10,"));
	free(e);
	events_unfollow(&f);
	events_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_format),
	    cmocka_unit_test(test_slow_follower_told_of_losses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
