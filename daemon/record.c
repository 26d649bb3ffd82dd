#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"

#define MAGIC      "LLMOBSR1"
#define MAX_RECORD (sizeof(struct llmobs_event) + LLMOBS_MAX_DATA)

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
	if (h.abi != LLMOBS_ABI_VERSION) {
		snprintf(err, errlen, "%s has event ABI %u, this llmobsd reads %u", path, h.abi,
		         LLMOBS_ABI_VERSION);
		gzclose(gz);
		return -1;
	}
	*wall_offset = h.wall_offset;

	/* 8-byte aligned so the record can be read as struct llmobs_event. */
	uint64_t *rec = xmalloc(MAX_RECORD + 8);
	long count = 0;
	err[0] = '\0';
	for (;;) {
		uint32_t n;
		int got = gzread(gz, &n, sizeof(n));
		if (got == 0)
			break;
		if (got != (int)sizeof(n) || n < sizeof(struct llmobs_event) || n > MAX_RECORD) {
			snprintf(err, errlen, "%s: corrupt record header after %ld records", path,
			         count);
			break;
		}
		if (gzread(gz, rec, n) != (int)n) {
			snprintf(err, errlen, "%s: truncated after %ld records", path, count);
			break;
		}
		fn((const struct llmobs_event *)rec, n, ctx);
		count++;
	}
	free(rec);
	gzclose(gz);
	return count;
}
