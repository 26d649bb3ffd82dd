/* Zero-config probe placement: finds every file that carries a TLS stack
 * of capture/tls.h (OpenSSL: libssl of any version or path, executables
 * that link it statically such as node) in the processes on the host,
 * attaches the stack's uprobes once per file, keeps track of the processes
 * using each file, and detaches when the last one is gone. Runs on the
 * capture thread; discover_json() from any. */
#ifndef LLMOBS_CAPTURE_DISCOVER_H
#define LLMOBS_CAPTURE_DISCOVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/blind.h"
#include "llmobs/event.h"

struct llmobs_bpf;

struct discover_filter {
	uint32_t pid;            /* 0 = any */
	const char *comm;        /* process name, or NULL */
	const char *cgroup_path; /* cgroup v2 path (relative to the mount), or NULL */
	bool probe_symbols;      /* probe the public symbols only (no placement) */
};

struct discover_stats {
	unsigned files_library, files_executable; /* probed files */
	unsigned uprobes;                         /* uprobes + uretprobes attached */
	uint64_t attach_errors, hits;
};

void discover_init(struct llmobs_bpf *skel, const struct discover_filter *f);
/* Files probed whether or not a process uses them: the system libssl
 * files and --libssl paths. Returns how many files got probes. */
unsigned discover_pinned(const char **extra);
/* Every process's executable mappings (/proc/PID/maps). */
void discover_scan_all(void);
/* Handles reports on a thread of its own from now on (discover_free
 * stops it); until then, or when it cannot start (-1), on the caller's. */
int discover_start(void);
/* A process exec'd or mapped a file (LLMOBS_EV_MAPPED), or exited: queued
 * for the discovery thread, handled in order. */
void discover_mapped(const struct llmobs_event *ev);
void discover_exit(uint32_t tgid);
/* Without the discovery thread, call often: every 30 s, and soon after a
 * file lost its last known user, rescans /proc (users, missed files) and
 * detaches unused files. The thread does it itself. */
void discover_tick(void);
void discover_stats(struct discover_stats *out);
/* The probed files the process is a known user of (blind.h); dev, ino:
 * its executable's key, as BPF reports it. */
void discover_pid_probed(uint32_t pid, uint64_t dev, uint64_t ino, struct blind_probed *out);
/* A report of the process (exec, mmap) is queued or being handled. Any thread. */
bool discover_locating(uint32_t pid);
cJSON *discover_json(void);
void discover_free(void);

#endif
