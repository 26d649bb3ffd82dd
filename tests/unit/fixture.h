/* Helpers shared by the cmocka unit tests: fixture loading, the shared
 * wire-capture directory, and split-at-every-boundary drivers. */
#ifndef LLMOBS_TEST_FIXTURE_H
#define LLMOBS_TEST_FIXTURE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a whole file; returns NULL if absent. *len gets its size. The
 * buffer is NUL-terminated (not counted in *len). */
static inline char *fixture_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		fclose(f);
		return NULL;
	}
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Our own fixtures: tests/fixtures/NAME (tests run from the repo root). */
static inline char *fixture_own(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	return fixture_read(path, len);
}

/* LLMOBS_WIRE_DIR=none: run as in a user's clone, which has no ../shared
 * (tests/run.sh does so on every run: the captures may not hide a bug). */
static inline bool wire_hidden(void)
{
	const char *env = getenv("LLMOBS_WIRE_DIR");
	return env && !strcmp(env, "none");
}

/* The shared real wire captures: $LLMOBS_WIRE_DIR or ../shared/fixtures/wire.
 * Returns NULL (and the caller skips loudly) when absent. */
static inline const char *wire_dir(void)
{
	static char dir[512];
	const char *env = getenv("LLMOBS_WIRE_DIR");
	struct stat st;
	if (wire_hidden())
		return NULL;
	snprintf(dir, sizeof(dir), "%s", env && *env ? env : "../shared/fixtures/wire");
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return dir;
}

static inline char *fixture_wire(const char *name, size_t *len)
{
	const char *dir = wire_dir();
	char path[1024];
	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fixture_read(path, len);
}

/* Prints the loud skip line every conformance test uses when the shared
 * captures are missing. Under CI=true a missing directory is a failure. */
#define WIRE_REQUIRED_OR_SKIP()                                                                    \
	do {                                                                                       \
		if (!wire_dir()) {                                                                 \
			const char *ci = getenv("CI");                                             \
			if (ci && !strcmp(ci, "true") && !wire_hidden())                           \
				fail_msg("CI=true but ../shared/fixtures/wire is missing");        \
			fprintf(stderr,                                                            \
			        "SKIP: %s: ../shared/fixtures/wire not found "                     \
			        "(set LLMOBS_WIRE_DIR); conformance not run\n",                    \
			        __func__);                                                         \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

#endif
