/* Recordings (--replay FILE): any file, gzip or not, ABI 1 or 2, cut or
 * corrupt anywhere, is read record by record or refused with a reason. */
#include <string.h>

#include "fuzz.h"
#include "capture/record.h"

static void on_record(const struct llmobs_event *ev, size_t size, void *ctx)
{
	if (size < sizeof(*ev) || size > sizeof(*ev) + LLMOBS_MAX_DATA)
		abort();
	*(size_t *)ctx += ev->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	int fd = fin_file(data, size, path, sizeof(path));
	int64_t wall = 0;
	size_t bytes = 0;
	err[0] = '\0';
	long n = replay_file(path, on_record, &bytes, &wall, err, sizeof(err));
	if (n < 0 && !err[0])
		abort();
	close(fd);
	return 0;
}
