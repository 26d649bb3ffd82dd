/* Attaches bare counting uprobes+uretprobes (tests/bench/bench_count.bpf.c) to
 * SSL_read, SSL_read_ex, SSL_write and SSL_write_ex of one file, either at
 * the public symbols or where llmobsd would place them (placement.c), or
 * (stack) to the read and write functions of whichever TLS stack llmobsd
 * finds in a file (Go's crypto/tls, BoringSSL in Bun...), at the very
 * addresses it probes, returns included (uretprobes, or Go's RET sites);
 * then waits for SIGINT/SIGTERM and prints the hit counts.
 *
 * Usage: count_probes symbol|auto LIBSSL
 *        count_probes stack FILE */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_count.skel.h"
#include "capture/elfsym.h"
#include "capture/placement.h"
#include "capture/tls.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t sum(int fd, uint32_t k)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[512] = {0}, s = 0;
	if (ncpu > 512 || bpf_map_lookup_elem(fd, &k, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		s += v[i];
	return s;
}

static struct bpf_link *attach(struct bpf_program *prog, const char *path, uint64_t at,
                               bool uretprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = uretprobe);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, path, at, &o);
	if (!l)
		fprintf(stderr, "count_probes: attach at 0x%llx: %s\n", (unsigned long long)at,
		        strerror(errno));
	return l;
}

/* Counting probes on one read/write function where llmobsd probes it: its
 * entry, and its returns (a uretprobe, or each RET site for Go). */
static int count_func(struct bench_count_bpf *skel, const char *path, const struct tls_func *fn,
                      const struct placement *pl, struct bpf_link **links, int *nlinks)
{
	if (!(links[(*nlinks)++] = attach(skel->progs.count_entry, path, pl->at, false)))
		return 1;
	if (!fn->ret)
		return 0;
	if (!fn->ret_sites)
		return !(links[(*nlinks)++] = attach(skel->progs.count_return, path, pl->at, true));
	for (unsigned i = 0; i < pl->nrets; i++)
		if (!(links[(*nlinks)++] =
		          attach(skel->progs.count_ret_site, path, pl->rets[i], false)))
			return 1;
	return 0;
}

/* The file's TLS stack as discovery finds it (symbols, or the stack's own
 * lookup), placed as llmobsd places it; its read/write functions counted. */
static int count_stack(struct bench_count_bpf *skel, const char *path, struct bpf_link **links,
                       int *nlinks)
{
	for (const struct tls_stack *const *s = tls_stacks; *s; s++) {
		uint64_t off[TLS_MAX_FUNCS] = {0};
		struct elf_info info;
		char why[256] = "";
		memset(&info, 0, sizeof(info));
		int n = elf_func_offsets(path, (*s)->symbols, (*s)->nfuncs, off, &info);
		if ((*s)->find && (*s)->find(path, off, &info, why, sizeof(why)) != TLS_FOUND)
			continue;
		if (!(*s)->find && (n <= 0 || tls_is_wrapper(*s, &info)))
			continue;
		if (!tls_usable(*s, off))
			continue;
		struct placement pl[TLS_MAX_FUNCS];
		(*s)->place(path, &info, off, true, pl);
		for (unsigned f = 0; f < (*s)->nfuncs; f++) {
			const struct tls_func *fn = &(*s)->funcs[f];
			if (!tls_is_io(fn) ||
			    (pl[f].kind != PLACE_PUBLIC && pl[f].kind != PLACE_CALLEE))
				continue;
			if (count_func(skel, path, fn, &pl[f], links, nlinks))
				return 1;
			fprintf(stderr, "count_probes: %s %s at 0x%llx (%s, %u RET sites)\n",
			        (*s)->name, (*s)->symbols[f], (unsigned long long)pl[f].at,
			        pl[f].emulated ? "emulated" : "single-stepped", pl[f].nrets);
		}
		return 0;
	}
	fprintf(stderr, "count_probes: %s: no TLS stack found\n", path);
	return 1;
}

static void wait_and_print(struct bench_count_bpf *skel)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	int fd = bpf_map__fd(skel->maps.counts);
	printf("entries=%llu returns=%llu\n", (unsigned long long)sum(fd, 0),
	       (unsigned long long)sum(fd, 1));
}

int main(int argc, char **argv)
{
	if (argc != 3 ||
	    (strcmp(argv[1], "symbol") && strcmp(argv[1], "auto") && strcmp(argv[1], "stack"))) {
		fprintf(stderr,
		        "usage: count_probes symbol|auto LIBSSL, or count_probes stack FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "stack")) {
		struct bench_count_bpf *skel = bench_count_bpf__open_and_load();
		struct bpf_link *links[4 * TLS_MAX_FUNCS * PLACE_MAX_RETS];
		int nlinks = 0, rc = skel ? count_stack(skel, argv[2], links, &nlinks) : 1;
		if (!rc)
			wait_and_print(skel);
		for (int i = 0; i < nlinks; i++)
			bpf_link__destroy(links[i]);
		bench_count_bpf__destroy(skel);
		return rc;
	}
	uint64_t off[F__N];
	struct elf_info info;
	if (elf_func_offsets(argv[2], ssl_func_names, F__N, off, &info) <= 0) {
		fprintf(stderr, "count_probes: %s: no SSL symbols\n", argv[2]);
		return 1;
	}
	struct placement pl[F__N];
	place_probes(argv[2], &info, off, !strcmp(argv[1], "auto"), pl);
	struct bench_count_bpf *skel = bench_count_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "count_probes: loading BPF failed: %s\n", strerror(errno));
		return 1;
	}
	struct bpf_link *links[2 * F__N];
	int nlinks = 0, rc = 0;
	for (int f = F_WRITE; f <= F_READ_EX; f++) {
		if (pl[f].kind != PLACE_PUBLIC && pl[f].kind != PLACE_CALLEE)
			continue;
		for (int ret = 0; ret < 2; ret++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret);
			struct bpf_link *l = bpf_program__attach_uprobe_opts(
			    ret ? skel->progs.count_return : skel->progs.count_entry, -1, argv[2],
			    pl[f].at, &o);
			if (!l) {
				fprintf(stderr, "count_probes: attach %s: %s\n", ssl_func_names[f],
				        strerror(errno));
				rc = 1;
				goto out;
			}
			links[nlinks++] = l;
		}
		fprintf(stderr, "count_probes: %s at 0x%llx (%s, %s)\n", ssl_func_names[f],
		        (unsigned long long)pl[f].at, place_kind_name(pl[f].kind),
		        pl[f].emulated ? "emulated" : "single-stepped");
	}
	wait_and_print(skel);
out:
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bench_count_bpf__destroy(skel);
	return rc;
}
