/* Container attribution. Runtimes put the container id, 64 hex digits, in
 * the cgroup path: /docker/ID, docker-ID.scope, cri-containerd-ID.scope,
 * crio-ID.scope, libpod-ID.scope, .../kubepods/.../ID. */
#include "core/cgroup.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "core/buf.h"

#define CID_LEN 64

struct entry {
	uint32_t tgid;
	struct cgroup_attr attr;
	UT_hash_handle hh;
};

static struct entry *cache;
static bool enabled;

void cgroup_lookup_enable(bool on)
{
	enabled = on;
}

bool cgroup_container_id(const char *path, char *id, size_t n)
{
	/* the last run of exactly 64 hex digits wins: nested runtimes put the
	 * innermost container last */
	const char *best = NULL;
	for (const char *p = path; *p;) {
		if (!isxdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		const char *s = p;
		while (isxdigit((unsigned char)*p))
			p++;
		if (p - s == CID_LEN)
			best = s;
	}
	if (!best || n <= CID_LEN)
		return false;
	for (int i = 0; i < CID_LEN; i++)
		id[i] = (char)tolower((unsigned char)best[i]);
	id[CID_LEN] = '\0';
	return true;
}

void cgroup_parse(const char *text, struct cgroup_attr *out)
{
	memset(out, 0, sizeof(*out));
	char v1[sizeof(out->path)] = "";
	char cid[CID_LEN + 1] = "";
	/* lines: "hierarchy-id:controllers:path"; "0::path" is cgroup v2 */
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		if (c2) {
			const char *path = c2 + 1;
			int plen = (int)(len - (size_t)(path - line));
			bool v2 = c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
			char tmp[sizeof(out->path)];
			snprintf(tmp, sizeof(tmp), "%.*s", plen, path);
			if (v2 && strcmp(tmp, "/") != 0)
				snprintf(out->path, sizeof(out->path), "%s", tmp);
			else if (!v2 && !v1[0] && strcmp(tmp, "/") != 0)
				snprintf(v1, sizeof(v1), "%s", tmp);
			if (!cid[0] || v2)
				cgroup_container_id(tmp, cid, sizeof(cid));
		}
		line = eol ? eol + 1 : NULL;
	}
	if (!out->path[0])
		snprintf(out->path, sizeof(out->path), "%s", v1[0] ? v1 : "/");
	snprintf(out->container_id, sizeof(out->container_id), "%s", cid);
}

bool cgroup_read_proc(uint32_t tgid, char *text, size_t cap)
{
	char fn[64];
	snprintf(fn, sizeof(fn), "/proc/%u/cgroup", tgid);
	FILE *f = fopen(fn, "re");
	if (!f)
		return false;
	size_t n = fread(text, 1, cap - 1, f);
	fclose(f);
	text[n] = '\0';
	return true;
}

const char *cgroup_v2_path(const char *text)
{
	const char *v2 = strstr(text, "0::");
	while (v2 && v2 != text && v2[-1] != '\n')
		v2 = strstr(v2 + 1, "0::");
	return v2 ? v2 + 3 : NULL;
}

const struct cgroup_attr *cgroup_of(uint32_t tgid)
{
	if (!enabled)
		return NULL;
	struct entry *e;
	HASH_FIND(hh, cache, &tgid, sizeof(tgid), e);
	if (e)
		return &e->attr;
	char text[4096];
	if (!cgroup_read_proc(tgid, text, sizeof(text)))
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->tgid = tgid;
	cgroup_parse(text, &e->attr);
	HASH_ADD(hh, cache, tgid, sizeof(tgid), e);
	return &e->attr;
}

void cgroup_forget(uint32_t tgid)
{
	struct entry *e;
	HASH_FIND(hh, cache, &tgid, sizeof(tgid), e);
	if (!e)
		return;
	HASH_DEL(cache, e);
	free(e);
}

void cgroup_forget_all(void)
{
	struct entry *e, *tmp;
	HASH_ITER(hh, cache, e, tmp)
	{
		HASH_DEL(cache, e);
		free(e);
	}
}
