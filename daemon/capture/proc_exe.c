/* /proc/PID/exe, opened (not only read as a link) so that the file read is
 * the process's own, in a container or after the path was replaced. */
#include "capture/proc_exe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <uthash.h>

#include "core/buf.h"

#define MAX_CACHED 4096

struct cached {
	struct {
		uint64_t dev, ino;
	} key;
	enum stack_guess stack;
	char path[256];
	UT_hash_handle hh;
};

static struct cached *cache;
static unsigned ncached;

void proc_exe_free(void)
{
	struct cached *c, *tmp;
	HASH_ITER(hh, cache, c, tmp)
	{
		HASH_DEL(cache, c);
		free(c);
	}
	ncached = 0;
}

static struct cached *find(uint64_t dev, uint64_t ino)
{
	struct cached *c, probe = {.key = {dev, ino}};
	HASH_FIND(hh, cache, &probe.key, sizeof(probe.key), c);
	return c;
}

static enum stack_guess guess_cached(int fd, const struct blind_exe *exe)
{
	struct cached *c = find(exe->dev, exe->ino);
	if (c)
		return c->stack;
	enum stack_guess g = stack_guess_fd(fd);
	if (g == GUESS_UNREAD)
		return g;
	if (ncached >= MAX_CACHED) /* a build host: forget and relearn */
		proc_exe_free();
	c = xcalloc(1, sizeof(*c));
	c->key.dev = exe->dev;
	c->key.ino = exe->ino;
	c->stack = g;
	memcpy(c->path, exe->path, sizeof(c->path));
	HASH_ADD(hh, cache, key, sizeof(c->key), c);
	ncached++;
	return g;
}

/* The TLS library among the files the process maps; OpenSSL's libssl
 * wins over the others, which may come along as a dependency (curl maps
 * GnuTLS through librtmp but talks through OpenSSL). */
static enum stack_guess mapped_library(uint32_t tgid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	FILE *f = fopen(path, "re");
	if (!f)
		return GUESS_NONE;
	enum stack_guess g = GUESS_NONE;
	while (g != GUESS_OPENSSL && fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		if (!file)
			continue;
		file[strcspn(file, "\n")] = 0;
		enum stack_guess lib = stack_guess_library(file);
		if (lib != GUESS_NONE)
			g = lib;
	}
	fclose(f);
	return g;
}

bool proc_exe_lookup(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_exe *out)
{
	char link[64];
	memset(out, 0, sizeof(*out));
	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	int fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0) { /* gone: what an earlier run of the same file said */
		const struct cached *c = ino ? find(dev, ino) : NULL;
		if (!c)
			return false;
		memcpy(out->path, c->path, sizeof(out->path));
		out->dev = dev;
		out->ino = ino;
		out->stack = c->stack;
		return true;
	}
	ssize_t n = readlink(link, out->path, sizeof(out->path) - 1);
	out->path[n > 0 ? n : 0] = 0;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		out->dev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
		out->ino = st.st_ino;
		out->stack = guess_cached(fd, out);
	}
	close(fd);
	/* a stack built into the executable wins; else a library it maps
	 * (wget names OpenSSL in its text but talks through GnuTLS) */
	if (out->stack != GUESS_GO && out->stack != GUESS_RUSTLS && out->stack != GUESS_BORINGSSL) {
		enum stack_guess lib = mapped_library(tgid);
		if (lib != GUESS_NONE)
			out->stack = lib;
	}
	return true;
}
