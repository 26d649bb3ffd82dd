/* See json_arena.h. */
#include "json_arena.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_SIZE (64 * 1024)

static _Thread_local struct {
	char *base;
	size_t used;
	int depth;
} arena;

static void *arena_malloc(size_t n)
{
	if (arena.depth) {
		size_t need = (n + 15) & ~(size_t)15;
		if (arena.used + need <= ARENA_SIZE) {
			void *p = arena.base + arena.used;
			arena.used += need;
			return p;
		}
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	if (arena.base && (char *)p >= arena.base && (char *)p < arena.base + ARENA_SIZE)
		return;
	free(p);
}

void json_arena_init(void)
{
	static int done;
	if (done++)
		return;
	cJSON_Hooks h = {.malloc_fn = arena_malloc, .free_fn = arena_free};
	cJSON_InitHooks(&h);
}

void json_arena_begin(void)
{
	if (!arena.base) {
		arena.base = malloc(ARENA_SIZE);
		if (!arena.base)
			return; /* depth stays 0: plain malloc */
	}
	arena.depth++;
}

void json_arena_end(void)
{
	if (arena.depth && --arena.depth == 0)
		arena.used = 0;
}
