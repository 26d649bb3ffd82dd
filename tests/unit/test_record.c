/* Recordings: what is written replays byte for byte, and a recording made
 * with the previous event ABI (1: no thread name) still replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "capture/record.h"

struct seen {
	int n;
	struct llmobs_event ev[4];
	char data[4][64];
	size_t size[4];
};

static void collect(const struct llmobs_event *ev, size_t size, void *ctx)
{
	struct seen *s = ctx;
	if (s->n == 4)
		return;
	s->ev[s->n] = *ev;
	s->size[s->n] = size;
	memcpy(s->data[s->n], ev + 1, ev->len < 64 ? ev->len : 64);
	s->n++;
}

static void tmp_path(char *out, size_t n)
{
	snprintf(out, n, "/tmp/llmobs-test-record.%d.gz", (int)getpid());
}

static void test_round_trip(void **state)
{
	(void)state;
	char path[128], err[256];
	tmp_path(path, sizeof(path));
	struct recorder *r = record_open(path, 1234, err, sizeof(err));
	assert_non_null(r);
	char buf[sizeof(struct llmobs_event) + 5];
	struct llmobs_event *ev = (struct llmobs_event *)buf;
	memset(buf, 0, sizeof(buf));
	ev->type = LLMOBS_EV_DATA;
	ev->tgid = 7;
	ev->len = ev->orig_len = 5;
	strcpy(ev->comm, "claude");
	strcpy(ev->thread, "HTTP Client");
	memcpy(ev + 1, "hello", 5);
	assert_int_equal(record_write(r, buf, sizeof(buf)), 0);
	assert_int_equal(record_close(r), 0);

	struct seen s = {0};
	int64_t wall = 0;
	assert_int_equal(replay_file(path, collect, &s, &wall, err, sizeof(err)), 1);
	assert_int_equal(wall, 1234);
	assert_string_equal(s.ev[0].comm, "claude");
	assert_string_equal(s.ev[0].thread, "HTTP Client");
	assert_memory_equal(s.data[0], "hello", 5);
	unlink(path);
}

/* The ABI 1 header: the ABI 2 one without `thread`. */
struct v1_event {
	uint64_t ts_ns, conn, pos, call_id;
	uint32_t type, tgid, tid;
	int32_t fd;
	uint32_t len, orig_len, offset;
	uint16_t dir, src;
	char comm[16];
	uint16_t family, port;
	uint8_t addr[16];
	uint32_t pad;
};

static void test_abi1_recording_replays(void **state)
{
	(void)state;
	char path[128], err[256];
	tmp_path(path, sizeof(path));
	gzFile gz = gzopen(path, "wb");
	assert_non_null(gz);
	struct {
		char magic[8];
		uint32_t abi, reserved;
		int64_t wall;
	} h = {{'L', 'L', 'M', 'O', 'B', 'S', 'R', '1'}, 1, 0, 99};
	gzwrite(gz, &h, sizeof(h));
	struct v1_event a = {
	    .ts_ns = 5, .type = LLMOBS_EV_DATA, .tgid = 9, .len = 3, .orig_len = 3};
	strcpy(a.comm, "python3");
	uint32_t n = sizeof(a) + 3;
	gzwrite(gz, &n, sizeof(n));
	gzwrite(gz, &a, sizeof(a));
	gzwrite(gz, "abc", 3);
	struct v1_event b = {
	    .ts_ns = 6, .type = LLMOBS_EV_CONNECT, .tgid = 9, .family = 2, .port = 0x5000};
	b.addr[0] = 127;
	n = sizeof(b);
	gzwrite(gz, &n, sizeof(n));
	gzwrite(gz, &b, sizeof(b));
	gzclose(gz);

	struct seen s = {0};
	int64_t wall = 0;
	assert_int_equal(replay_file(path, collect, &s, &wall, err, sizeof(err)), 2);
	assert_int_equal(s.size[0], sizeof(struct llmobs_event) + 3);
	assert_int_equal(s.ev[0].ts_ns, 5);
	assert_int_equal(s.ev[0].len, 3);
	assert_string_equal(s.ev[0].comm, "python3");
	assert_string_equal(s.ev[0].thread, "python3"); /* ABI 1 knew one name */
	assert_memory_equal(s.data[0], "abc", 3);
	assert_int_equal(s.ev[1].family, 2);
	assert_int_equal(s.ev[1].port, 0x5000);
	assert_int_equal(s.ev[1].addr[0], 127);

	/* an ABI this build does not know is refused with a message */
	gz = gzopen(path, "wb");
	h.abi = 77;
	gzwrite(gz, &h, sizeof(h));
	gzclose(gz);
	assert_int_equal(replay_file(path, collect, &s, &wall, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "event ABI 77"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_abi1_recording_replays),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
