/* BPF side of the daemon: load the CO-RE object, attach probes, drain the
 * ring buffer into the pipeline (and an optional recording). */
#ifndef LLMOBS_CAPTURE_CAPTURE_H
#define LLMOBS_CAPTURE_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/record.h"
#include "core/stats.h"

/* Where the capture loop hands things on; main.c wires these to the
 * pipeline, as --replay does. Each pass: batch_begin, record per ring-buffer
 * record, batch_end, then after_pass outside the batch. */
struct capture_hooks {
	void (*batch_begin)(void);
	void (*record)(const void *data, size_t size);
	void (*batch_end)(void);
	void (*after_pass)(void);
	/* the ring rejected records since the last report (every <= 100 ms) */
	void (*ring_drops)(uint64_t events, uint64_t bytes, uint64_t total_events);
};

struct capture_opts {
	const struct capture_hooks *hooks;
	uint32_t pid;                /* 0 = all */
	const char *comm;            /* process name, or NULL */
	const char *cgroup_dir;      /* cgroup v2 directory (absolute), or NULL */
	const char *cgroup_path;     /* the same, relative to the cgroup2 mount */
	bool probe_symbols;          /* --probe-at symbol: no cheaper placement */
	uint32_t ringbuf_bytes;      /* power of two, >= page size */
	const char **libssl;         /* extra libssl paths (NULL-terminated) */
	struct recorder *rec;        /* may be NULL */
	const uint16_t *plain_ports; /* plaintext HTTP followed to these ports */
	size_t nplain_ports;
};

struct capture;

/* NULL on failure with a message already logged. */
struct capture *capture_start(const struct capture_opts *o);
/* Drains until *stop; returns 0 or -1. */
int capture_run(struct capture *c, volatile sig_atomic_t *stop);
void capture_stats(struct capture *c, struct capture_stats *out);
void capture_stop(struct capture *c);

/* Stop copying one TLS connection's data (the pipeline will never parse
 * it); a no-op when capture is not running. Capture thread only. */
void capture_mute(uint32_t tgid, uint64_t ssl);

/* True once probes and discovery are up (for /healthz); any thread. */
bool capture_running(void);

#endif
