/* Blind spots: processes whose TLS connections no probe reads. BPF reports
 * a ClientHello written outside any probed SSL call on a socket the
 * process connect()ed (LLMOBS_EV_TLS_HELLO); if no SSL call shows up on
 * that socket within BLIND_WINDOW_NS (or before the process exits), the
 * connection is counted by reason and its process listed with the TLS
 * stack its executable carries. Free of BPF: capture.c feeds it records
 * and supplies the process lookups; tests feed it synthetic ones.
 * Records arrive on the capture thread; blind_json() from any. */
#ifndef LLMOBS_CAPTURE_BLIND_H
#define LLMOBS_CAPTURE_BLIND_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/stack_guess.h"
#include "core/stats.h"
#include "llmobs/event.h"

#define BLIND_WINDOW_NS (3ull * 1000 * 1000 * 1000)
#define BLIND_MAX_PROCS 256  /* processes listed; the oldest is evicted */
#define BLIND_MAX_PEERS 4    /* peers listed per process */
#define BLIND_MAX_WAIT  1024 /* connections waiting for their verdict */
/* A verdict waits for discovery to finish with the process (a large
 * executable being located) at most this long after the ClientHello. */
#define BLIND_DEFER_NS (20ull * 1000 * 1000 * 1000)

struct blind_exe {
	char path[256];
	uint64_t dev, ino; /* 0, 0: unknown */
	enum stack_guess stack;
};

/* What the probes cover of a process. */
struct blind_probed {
	bool any;              /* it maps a file with probes attached */
	bool exe;              /* its executable is one (Go, BoringSSL built in) */
	bool locating;         /* discovery has a report of it queued or in hand */
	bool located;          /* discovery is done with its executable: probed,
	                          refused, or found to carry no stack it probes */
	uint64_t last_ns;      /* when the latest of them was attached (CLOCK_MONOTONIC) */
	struct blind_exe file; /* the executable's path and stack, when exe */
	char refused[192];     /* why its executable was not probed, when it was refused */
};

/* How the tracker learns about a process; called when its ClientHello is
 * reported, while the process still runs (or, after a long location, its
 * exit is not handled yet). */
struct blind_env {
	/* its executable and that file's stack; false when it is gone and
	 * the file (dev, ino: as BPF saw it, 0 when unknown) was never read */
	bool (*exe)(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_exe *out);
	/* the probed files it maps; dev, ino: its executable, as BPF saw it */
	void (*probed)(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_probed *out);
	/* discovery has a report of it queued or in hand (NULL: never) */
	bool (*locating)(uint32_t tgid);
};

void blind_init(const struct blind_env *env);
/* A TLS_HELLO record: a connection starts waiting for an SSL call. */
void blind_hello(const struct llmobs_event *ev);
/* An SSL call's data record of tgid on fd (-1: unknown, as with memory
 * BIOs: then every connection tgid has waiting counts as seen). Cheap
 * when nothing waits. */
void blind_ssl_data(uint32_t tgid, int32_t fd);
/* The process exited: its waiting connections get their verdict now, or
 * once discovery is done with it. */
void blind_exit(uint32_t tgid);
/* Connections that waited BLIND_WINDOW_NS by now (CLOCK_MONOTONIC) are
 * blind, judged once discovery is done with their process (BLIND_DEFER_NS
 * at most). */
void blind_tick(uint64_t now_ns);
/* Blind connections so far, by reason. Any thread. */
void blind_counts(uint64_t out[UNOBS__MAX]);
/* {"processes": [...], "evicted", "window_ms", "waiting"}, newest first. Any thread. */
cJSON *blind_json(void);
void blind_free(void);

/* The reason as a metric label ("go_not_probed") and as text. */
const char *blind_reason_label(enum unobserved_reason r);
const char *blind_reason_text(enum unobserved_reason r);

#endif
