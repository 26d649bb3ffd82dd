#include "capture/record.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"

#define MAGIC      "LLMOBSR1"
#define MAX_RECORD (sizeof(struct llmobs_event) + LLMOBS_MAX_DATA)

/* ABI 1 had no thread name: its comm was the thread's. Its header is the
 * ABI 2 one without `thread`; recordings made with it still replay. */
#define V1_THREAD_AT offsetof(struct llmobs_event, thread)
#define V1_HEADER    (sizeof(struct llmobs_event) - LLMOBS_COMM_LEN)

static size_t v1_to_v2(const char *in, size_t n, char *out)
{
	struct llmobs_event *ev = (struct llmobs_event *)out;
	memcpy(out, in, V1_THREAD_AT);
	memcpy(out + V1_THREAD_AT + LLMOBS_COMM_LEN, in + V1_THREAD_AT, n - V1_THREAD_AT);
	memcpy(ev->thread, ev->comm, LLMOBS_COMM_LEN);
	return n + LLMOBS_COMM_LEN;
}

struct recorder {
	gzFile gz;
	uint64_t count;
	int failed;
};

struct file_header {
	char magic[8];
	uint32_t abi;
	uint32_t reserved;
	int64_t wall_offset;
};

struct recorder *record_open(const char *path, int64_t wall_offset, char *err, size_t errlen)
{
	/* Level 1: recording must keep up with the ring buffer. */
	gzFile gz = gzopen(path, "wb1");
	if (!gz) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	struct file_header h = {.abi = LLMOBS_ABI_VERSION, .wall_offset = wall_offset};
	memcpy(h.magic, MAGIC, 8);
	if (gzwrite(gz, &h, sizeof(h)) != (int)sizeof(h)) {
		snprintf(err, errlen, "cannot write %s", path);
		gzclose(gz);
		return NULL;
	}
	struct recorder *r = xcalloc(1, sizeof(*r));
	r->gz = gz;
	return r;
}

int record_write(struct recorder *r, const void *rec, size_t size)
{
	if (r->failed)
		return -1;
	uint32_t n = (uint32_t)size;
	if (gzwrite(r->gz, &n, sizeof(n)) != (int)sizeof(n) || gzwrite(r->gz, rec, n) != (int)n) {
		r->failed = 1;
		return -1;
	}
	r->count++;
	return 0;
}

uint64_t record_count(const struct recorder *r)
{
	return r->count;
}

int record_close(struct recorder *r)
{
	if (!r)
		return 0;
	int rc = gzclose(r->gz) == Z_OK && !r->failed ? 0 : -1;
	free(r);
	return rc;
}

long replay_file(const char *path, replay_fn fn, void *ctx, int64_t *wall_offset, char *err,
                 size_t errlen)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	gzbuffer(gz, 1 << 17);
	struct file_header h;
	if (gzread(gz, &h, sizeof(h)) != (int)sizeof(h) || memcmp(h.magic, MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s is not an llmobs recording", path);
		gzclose(gz);
		return -1;
	}
	if (h.abi != LLMOBS_ABI_VERSION && h.abi != 1) {
		snprintf(err, errlen, "%s has event ABI %u, this llmobsd reads 1 to %u", path,
		         h.abi, LLMOBS_ABI_VERSION);
		gzclose(gz);
		return -1;
	}
	*wall_offset = h.wall_offset;
	size_t min = h.abi == 1 ? V1_HEADER : sizeof(struct llmobs_event);
	size_t max = min + LLMOBS_MAX_DATA;

	/* 8-byte aligned so the record can be read as struct llmobs_event. */
	uint64_t *rec = xmalloc(MAX_RECORD + 8),
	         *conv = h.abi == 1 ? xmalloc(MAX_RECORD + 8) : NULL;
	long count = 0;
	err[0] = '\0';
	for (;;) {
		uint32_t n;
		int got = gzread(gz, &n, sizeof(n));
		if (got == 0)
			break;
		if (got != (int)sizeof(n) || n < min || n > max) {
			snprintf(err, errlen, "%s: corrupt record header after %ld records", path,
			         count);
			break;
		}
		if (gzread(gz, rec, n) != (int)n) {
			snprintf(err, errlen, "%s: truncated after %ld records", path, count);
			break;
		}
		if (conv)
			fn((const struct llmobs_event *)conv,
			   v1_to_v2((char *)rec, n, (char *)conv), ctx);
		else
			fn((const struct llmobs_event *)rec, n, ctx);
		count++;
	}
	free(conv);
	free(rec);
	gzclose(gz);
	return count;
}
