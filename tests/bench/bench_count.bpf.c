// SPDX-License-Identifier: GPL-2.0
/* The floor for `make bench`: a bare counting uprobe and uretprobe, the
 * least any probe on a function can cost. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *p = bpf_map_lookup_elem(&counts, &k);
	if (p)
		*p += 1;
}

SEC("uprobe")
int BPF_KPROBE(count_entry)
{
	count(0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(count_return)
{
	count(1);
	return 0;
}

/* A return counted on the RET instruction itself (Go: no uretprobes). */
SEC("uprobe")
int BPF_KPROBE(count_ret_site)
{
	count(1);
	return 0;
}
