/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): a reader that
 * takes choices and pieces from the fuzz input, so one input both picks the
 * split points and carries the bytes, and a way to hand bytes to code that
 * reads a file path. */
#ifndef LLMOBS_FUZZ_H
#define LLMOBS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fin_u8(struct fin *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

/* Up to max bytes (at least 1 while any are left), the length chosen by
 * the input: splits land anywhere, including inside tokens. */
static inline size_t fin_piece(struct fin *f, size_t max, const uint8_t **out)
{
	size_t want = (size_t)fin_u8(f) % (max ? max : 1) + 1;
	if (want > f->n)
		want = f->n;
	*out = f->p;
	f->p += want;
	f->n -= want;
	return want;
}

/* The rest of the input up to the separator `sep` (not included; consumed). */
static inline size_t fin_until(struct fin *f, uint8_t sep, const uint8_t **out)
{
	size_t i = 0;
	while (i < f->n && f->p[i] != sep)
		i++;
	*out = f->p;
	f->p += i;
	f->n -= i;
	if (f->n) {
		f->p++;
		f->n--;
	}
	return i;
}

/* The bytes as a file: "/proc/self/fd/N" of a memfd, written to path. The
 * caller closes the returned fd. */
static inline int fin_file(const uint8_t *p, size_t n, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, p + off, n - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
