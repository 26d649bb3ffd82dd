/* Attaches bare counting uprobes+uretprobes (tests/bench/bench_count.bpf.c) to
 * SSL_read, SSL_read_ex, SSL_write and SSL_write_ex of one file, either at
 * the public symbols or where llmobsd would place them (placement.c), then
 * waits for SIGINT/SIGTERM and prints the hit counts.
 *
 * Usage: count_probes symbol|auto LIBSSL */
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

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "symbol") && strcmp(argv[1], "auto"))) {
		fprintf(stderr, "usage: count_probes symbol|auto LIBSSL\n");
		return 2;
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
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	int fd = bpf_map__fd(skel->maps.counts);
	printf("entries=%llu returns=%llu\n", (unsigned long long)sum(fd, 0),
	       (unsigned long long)sum(fd, 1));
out:
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bench_count_bpf__destroy(skel);
	return rc;
}
