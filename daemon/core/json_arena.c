/* See json_arena.h. */
#include "core/json_arena.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_SIZE (64 * 1024)

static _Thread_local struct {
	char *base;
	size_t used;
	int depth;
	bool spilled; /* an allocation in scope fell back to malloc */
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
		arena.spilled = true;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	if (arena.base && (char *)p >= arena.base && (char *)p < arena.base + ARENA_SIZE)
		return;
	free(p);
}

static bool installed; /* the hooks are cJSON's allocator */

void json_arena_init(void)
{
	if (installed)
		return;
	installed = true;
	cJSON_Hooks h = {.malloc_fn = arena_malloc, .free_fn = arena_free};
	cJSON_InitHooks(&h);
}

void json_arena_begin(void)
{
	if (!installed)
		return; /* cJSON allocates with plain malloc: nothing to scope */
	if (!arena.base) {
		arena.base = malloc(ARENA_SIZE);
		if (!arena.base)
			return; /* depth stays 0: plain malloc */
	}
	arena.depth++;
}

void json_arena_end(void)
{
	if (arena.depth && --arena.depth == 0) {
		arena.used = 0;
		arena.spilled = false;
	}
}

void json_release(cJSON *j)
{
	if (arena.depth && !arena.spilled)
		return;
	cJSON_Delete(j);
}
