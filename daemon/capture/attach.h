/* Kernel-side plumbing: tracefs, the tracepoints, optional programs, the
 * plaintext ports and the cgroup filter. (Uprobes: discover.c, from the
 * TLS tables of tls.h.) */
#ifndef LLMOBS_CAPTURE_ATTACH_H
#define LLMOBS_CAPTURE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llmobs_bpf;
struct bpf_link;
struct bpf_program;

#define ATTACH_MAX_LINKS 256

struct attach_set {
	struct bpf_link *links[ATTACH_MAX_LINKS];
	unsigned nlinks;
	unsigned tracepoints_failed;
	bool exec_watch; /* new processes are seen (sched_process_exec) */
};

/* Mounts tracefs at /sys/kernel/tracing when it is not mounted. */
int tracefs_ensure(void);
/* Attaches the syscall/sched tracepoints whose programs were loaded. */
void attach_tracepoints(struct llmobs_bpf *skel, struct attach_set *set);
/* Turns the optional programs' loading on or off (before load): the
 * tracepoints' and the TLS stacks' optional uprobes. -1 (logged) when the
 * object lacks a program a TLS table (tls.h) names. */
int attach_set_optional(struct llmobs_bpf *skel, bool load);
/* The program of that name (tls.h names them), or NULL. */
struct bpf_program *attach_prog_named(struct llmobs_bpf *skel, const char *name);
/* Plaintext HTTP is followed on sockets connected to these ports. */
int attach_plain_ports(struct llmobs_bpf *skel, const uint16_t *ports, size_t n);
/* Only processes in this cgroup v2 directory (and below) are traced. */
int attach_cgroup_filter(struct llmobs_bpf *skel, const char *dir);
void attach_destroy(struct attach_set *set);
/* Destroys links[0..n) (NULLs skipped), setting them to NULL. Each detach of
 * a tracepoint or uprobe waits for an RCU grace period (~85 ms on these VMs:
 * 45 links took 2.9 s one after the other); side by side they share them. */
void links_destroy(struct bpf_link **links, size_t n);
/* The sum over CPUs of one value of a per-CPU array map (0 if absent). */
uint64_t attach_percpu_sum(int map_fd, uint32_t key);

#endif
