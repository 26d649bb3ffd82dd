/* Which cgroup (and container) a process runs in, read from
 * /proc/PID/cgroup once per process and cached until it exits. */
#ifndef LLMOBS_CORE_CGROUP_H
#define LLMOBS_CORE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cgroup_attr {
	char path[256];        /* cgroup v2 path, else the first non-root v1 path */
	char container_id[65]; /* 64 hex digits, or "" */
};

/* Live mode only: a replayed recording's pids are not this host's. */
void cgroup_lookup_enable(bool on);
/* NULL when disabled or the process is gone. Valid until cgroup_forget(). */
const struct cgroup_attr *cgroup_of(uint32_t tgid);
void cgroup_forget(uint32_t tgid);
void cgroup_forget_all(void);

/* /proc/PID/cgroup into text (NUL-terminated, cut at cap - 1); false when
 * the process is gone. The one reader of that file. */
bool cgroup_read_proc(uint32_t tgid, char *text, size_t cap);
/* The cgroup v2 path ("0::PATH" line) in that text, up to its newline, or
 * NULL. */
const char *cgroup_v2_path(const char *text);

/* Parsers (exposed for tests). */
void cgroup_parse(const char *proc_cgroup_text, struct cgroup_attr *out);
bool cgroup_container_id(const char *path, char *id, size_t n);

#endif
