/* Which processes are traced (--pid/--comm/--cgroup): checked before anything is copied. */
#pragma once

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

static __always_inline bool comm_matches(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	char comm[LLMOBS_COMM_LEN] = {};
	BPF_CORE_READ_STR_INTO(&comm, t, group_leader, comm);
#pragma unroll
	for (int i = 0; i < LLMOBS_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* The --pid/--comm/--cgroup filters, checked before anything is copied. */
static __always_inline bool traced(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (filter_comm && !comm_matches())
		return false;
	return true;
}
