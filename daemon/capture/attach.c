#include "capture/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/buf.h"
#include "llmobs.skel.h"
#include "core/log.h"

#define TRACEFS       "/sys/kernel/tracing"
#define TRACEFS_MAGIC 0x74726163

int tracefs_ensure(void)
{
	struct statfs st;
	if (statfs(TRACEFS, &st) == 0 && st.f_type == TRACEFS_MAGIC)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) != 0) {
		log_error("tracefs is not mounted and mounting it at %s failed: %s", TRACEFS,
		          strerror(errno));
		return -1;
	}
	log_info("mounted tracefs at %s", TRACEFS);
	return 0;
}

static void add_link(struct attach_set *set, struct bpf_link *l)
{
	if (set->nlinks < ATTACH_MAX_LINKS)
		set->links[set->nlinks++] = l;
	else
		bpf_link__destroy(l); /* unreachable with the limits we attach */
}

struct optional_prog {
	struct bpf_program *prog;
	const char *what;
};

/* Programs that enrich the capture; the daemon runs without any of them. */
static size_t optional_progs(struct llmobs_bpf *skel, struct optional_prog *out)
{
	const struct optional_prog all[] = {
	    {skel->progs.tp_enter_read, "fd learning and plaintext (read)"},
	    {skel->progs.tp_enter_write, "fd learning and plaintext (write)"},
	    {skel->progs.tp_enter_recvfrom, "fd learning and plaintext (recvfrom)"},
	    {skel->progs.tp_enter_sendto, "fd learning and plaintext (sendto)"},
	    {skel->progs.tp_exit_read, "plaintext (read)"},
	    {skel->progs.tp_exit_write, "plaintext (write)"},
	    {skel->progs.tp_exit_recvfrom, "plaintext (recvfrom)"},
	    {skel->progs.tp_exit_sendto, "plaintext (sendto)"},
	    {skel->progs.tp_enter_accept4, "plaintext server side (accept4)"},
	    {skel->progs.tp_exit_accept4, "plaintext server side (accept4)"},
	    {skel->progs.tp_enter_accept, "plaintext server side (accept)"},
	    {skel->progs.tp_exit_accept, "plaintext server side (accept)"},
	    {skel->progs.tp_enter_writev, "plaintext (writev)"},
	    {skel->progs.tp_exit_writev, "plaintext (writev)"},
	    {skel->progs.tp_enter_readv, "plaintext (readv)"},
	    {skel->progs.tp_exit_readv, "plaintext (readv)"},
	    {skel->progs.tp_enter_sendmsg, "plaintext (sendmsg)"},
	    {skel->progs.tp_exit_sendmsg, "plaintext (sendmsg)"},
	    {skel->progs.tp_enter_recvmsg, "plaintext (recvmsg)"},
	    {skel->progs.tp_exit_recvmsg, "plaintext (recvmsg)"},
	    {skel->progs.tp_enter_connect, "peer addresses (connect)"},
	    {skel->progs.tp_exit_connect, "peer addresses (connect)"},
	    {skel->progs.tp_process_exit, "process exit"},
	    {skel->progs.tp_process_exec, "discovery of new processes (exec)"},
	    {skel->progs.tp_enter_mmap, "discovery of loaded libraries (mmap)"},
	    {skel->progs.tp_exit_mmap, "discovery of loaded libraries (mmap)"},
	    {skel->progs.tp_enter_close, "connection end on close(2)"},
	    {skel->progs.tp_sk_data_ready, "backpressure (arrivals)"},
	    {skel->progs.tp_tcp_probe, "backpressure (zero window)"},
	    {skel->progs.raw_rcvqueue_full, "backpressure (receive queue full)"},
	    {skel->progs.ssl_free_enter, "SSL_free"},
	    {skel->progs.ssl_shutdown_enter, "SSL_shutdown"},
	};
	memcpy(out, all, sizeof(all));
	return sizeof(all) / sizeof(all[0]);
}

void attach_set_optional(struct llmobs_bpf *skel, bool load)
{
	struct optional_prog progs[48];
	size_t n = optional_progs(skel, progs);
	for (size_t i = 0; i < n; i++)
		bpf_program__set_autoload(progs[i].prog, load);
}

void attach_tracepoints(struct llmobs_bpf *skel, struct attach_set *set)
{
	struct optional_prog tps[48];
	size_t n = optional_progs(skel, tps);
	for (size_t i = 0; i < n; i++) {
		/* uprobes attach per file (discover.c) */
		if (!bpf_program__autoload(tps[i].prog) ||
		    (bpf_program__type(tps[i].prog) != BPF_PROG_TYPE_TRACEPOINT &&
		     bpf_program__type(tps[i].prog) != BPF_PROG_TYPE_RAW_TRACEPOINT))
			continue;
		struct bpf_link *l = bpf_program__attach(tps[i].prog);
		if (!l) {
			log_warn("tracepoint for %s unavailable (%s): running without it",
			         tps[i].what, strerror(errno));
			set->tracepoints_failed++;
			continue;
		}
		if (tps[i].prog == skel->progs.tp_process_exec)
			set->exec_watch = true;
		add_link(set, l);
	}
}

int attach_plain_ports(struct llmobs_bpf *skel, const uint16_t *ports, size_t n)
{
	uint8_t one = 1;
	for (size_t i = 0; i < n; i++) {
		if (bpf_map__update_elem(skel->maps.plain_ports, &ports[i], sizeof(ports[i]), &one,
		                         sizeof(one), BPF_ANY)) {
			log_error("cannot follow plaintext port %u: %s", ports[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

int attach_cgroup_filter(struct llmobs_bpf *skel, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_error("--cgroup %s: %s", dir, strerror(errno));
		return -1;
	}
	uint32_t zero = 0, v = (uint32_t)fd;
	int err = bpf_map__update_elem(skel->maps.cgroup_filter, &zero, sizeof(zero), &v, sizeof(v),
	                               BPF_ANY);
	int saved = errno;
	close(fd); /* the map holds its own reference */
	if (err) {
		log_error("--cgroup %s: not a cgroup v2 directory? (%s)", dir, strerror(saved));
		return -1;
	}
	return 0;
}

uint64_t attach_percpu_sum(int map_fd, uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = xcalloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(uint64_t)), sum = 0;
	if (bpf_map_lookup_elem(map_fd, &key, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

void attach_destroy(struct attach_set *set)
{
	for (unsigned i = 0; i < set->nlinks; i++)
		bpf_link__destroy(set->links[i]);
	set->nlinks = 0;
}
