/* Where the probes go: tracefs, the libssl files on the host, and the
 * uprobes/uretprobes on their SSL_* functions. */
#ifndef LLMOBS_ATTACH_H
#define LLMOBS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llmobs_bpf;
struct bpf_link;

#define ATTACH_MAX_LINKS 256

struct attach_set {
	struct bpf_link *links[ATTACH_MAX_LINKS];
	unsigned nlinks;
	unsigned uprobes_ok, uprobes_failed; /* per function entry/return */
	unsigned libs;                       /* libssl files with >= 1 probe */
};

/* Mounts tracefs at /sys/kernel/tracing when it is not mounted. */
int tracefs_ensure(void);
/* Attaches the SSL probes to every system libssl and to extra paths. */
int attach_libssl(struct llmobs_bpf *skel, const char **extra, struct attach_set *set);
/* Attaches the syscall/sched tracepoints whose programs were loaded. */
void attach_tracepoints(struct llmobs_bpf *skel, struct attach_set *set);
/* Turns the optional programs' loading on or off (before load). */
void attach_set_optional(struct llmobs_bpf *skel, bool load);
/* Plaintext HTTP is followed on sockets connected to these ports. */
int attach_plain_ports(struct llmobs_bpf *skel, const uint16_t *ports, size_t n);
void attach_destroy(struct attach_set *set);

#endif
