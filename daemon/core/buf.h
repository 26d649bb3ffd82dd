/* Growable byte buffer with a hard cap: bytes past the cap are counted,
 * never silently lost. */
#ifndef LLMOBS_CORE_BUF_H
#define LLMOBS_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;   /* allocated */
	size_t limit; /* max len; 0 = unlimited */
	uint64_t cut; /* bytes refused because of limit */
};

void buf_init(struct buf *b, size_t limit);
/* Appends up to the limit; returns bytes appended (the rest is added to cut).
 * Aborts on out-of-memory (the daemon cannot do anything useful then). */
size_t buf_append(struct buf *b, const void *p, size_t n);
/* printf-style append, the same limit; returns bytes appended. */
size_t buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);                /* len = 0, keeps memory and cut */
void buf_truncate(struct buf *b, size_t len); /* len = min(len, b->len) */
void buf_free(struct buf *b);
/* Appends a whole file (up to the limit; b->cut counts the rest).
 * 0, or -1 with errno when it cannot be opened. */
int buf_read_file(struct buf *b, const char *path);

/* xmalloc & co: abort with a message on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
