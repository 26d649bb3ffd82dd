#include "capture/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "capture/tls.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/macros.h"
#include "core/parallel.h"
#include "llmobs.skel.h"

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

/* A program's place in the skeleton: the table below is checked by the
 * compiler and needs no copy of the skeleton's pointers. */
#define PROG(name) offsetof(struct llmobs_bpf, progs.name)

/* Programs that enrich the capture; the daemon runs without any of them.
 * (The TLS stacks' optional uprobes are in their tables, tls_*.c.) */
static const struct optional_prog {
	size_t prog; /* PROG(name) */
	const char *what;
} optional_progs[] = {
    {PROG(tp_enter_read), "fd learning and plaintext (read)"},
    {PROG(tp_enter_write), "fd learning and plaintext (write)"},
    {PROG(tp_enter_recvfrom), "fd learning and plaintext (recvfrom)"},
    {PROG(tp_enter_sendto), "fd learning and plaintext (sendto)"},
    {PROG(tp_exit_read), "plaintext (read)"},
    {PROG(tp_exit_write), "plaintext (write)"},
    {PROG(tp_exit_recvfrom), "plaintext (recvfrom)"},
    {PROG(tp_exit_sendto), "plaintext (sendto)"},
    {PROG(tp_enter_accept4), "plaintext server side (accept4)"},
    {PROG(tp_exit_accept4), "plaintext server side (accept4)"},
    {PROG(tp_enter_accept), "plaintext server side (accept)"},
    {PROG(tp_exit_accept), "plaintext server side (accept)"},
    {PROG(tp_enter_writev), "plaintext (writev)"},
    {PROG(tp_exit_writev), "plaintext (writev)"},
    {PROG(tp_enter_readv), "plaintext (readv)"},
    {PROG(tp_exit_readv), "plaintext (readv)"},
    {PROG(tp_enter_sendmsg), "plaintext (sendmsg)"},
    {PROG(tp_exit_sendmsg), "plaintext (sendmsg)"},
    {PROG(tp_enter_recvmsg), "plaintext (recvmsg)"},
    {PROG(tp_exit_recvmsg), "plaintext (recvmsg)"},
    {PROG(tp_enter_connect), "peer addresses (connect)"},
    {PROG(tp_exit_connect), "peer addresses (connect)"},
    {PROG(tp_process_exit), "process exit"},
    {PROG(tp_process_exec), "discovery of new processes (exec)"},
    {PROG(tp_enter_mmap), "discovery of loaded libraries (mmap)"},
    {PROG(tp_exit_mmap), "discovery of loaded libraries (mmap)"},
    {PROG(tp_enter_close), "connection end on close(2)"},
    {PROG(tp_sk_data_ready), "backpressure (arrivals)"},
    {PROG(tp_tcp_probe), "backpressure (zero window)"},
    {PROG(raw_rcvqueue_full), "backpressure (receive queue full)"},
};

static struct bpf_program *prog_at(struct llmobs_bpf *skel, size_t prog)
{
	return *(struct bpf_program **)((char *)skel + prog);
}

struct bpf_program *attach_prog_named(struct llmobs_bpf *skel, const char *name)
{
	return name ? bpf_object__find_program_by_name(skel->obj, name) : NULL;
}

/* The programs of one TLS function (tls.h): each must exist (the tables
 * name them, the compiler cannot check), the optional ones load or not. */
static int set_tls_progs(struct llmobs_bpf *skel, const struct tls_stack *s, unsigned f, bool load)
{
	const char *names[] = {s->funcs[f].entry, s->funcs[f].ret};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (!names[i])
			continue;
		struct bpf_program *p = attach_prog_named(skel, names[i]);
		if (!p) {
			log_error("the BPF object has no program %s (for %s's %s)", names[i],
			          s->name, s->symbols[f]);
			return -1;
		}
		if (s->funcs[f].optional)
			bpf_program__set_autoload(p, load);
	}
	return 0;
}

int attach_set_optional(struct llmobs_bpf *skel, bool load)
{
	for (size_t i = 0; i < ARRAY_LEN(optional_progs); i++)
		bpf_program__set_autoload(prog_at(skel, optional_progs[i].prog), load);
	for (const struct tls_stack *const *s = tls_stacks; *s; s++)
		for (unsigned f = 0; f < (*s)->nfuncs; f++)
			if (set_tls_progs(skel, *s, f, load))
				return -1;
	return 0;
}

void attach_tracepoints(struct llmobs_bpf *skel, struct attach_set *set)
{
	for (size_t i = 0; i < ARRAY_LEN(optional_progs); i++) {
		const struct optional_prog *op = &optional_progs[i];
		struct bpf_program *prog = prog_at(skel, op->prog);
		if (!bpf_program__autoload(prog) ||
		    (bpf_program__type(prog) != BPF_PROG_TYPE_TRACEPOINT &&
		     bpf_program__type(prog) != BPF_PROG_TYPE_RAW_TRACEPOINT))
			continue;
		struct bpf_link *l = bpf_program__attach(prog);
		if (!l) {
			log_warn("tracepoint for %s unavailable (%s): running without it", op->what,
			         strerror(errno));
			set->tracepoints_failed++;
			continue;
		}
		if (prog == skel->progs.tp_process_exec)
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

static void destroy_one(size_t i, void *links)
{
	struct bpf_link **l = links;
	bpf_link__destroy(l[i]);
	l[i] = NULL;
}

void links_destroy(struct bpf_link **links, size_t n)
{
	parallel_for(n, destroy_one, links);
}

void attach_destroy(struct attach_set *set)
{
	links_destroy(set->links, set->nlinks);
	set->nlinks = 0;
}
