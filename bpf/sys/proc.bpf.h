/* exec and mmap(PROT_EXEC) report executable files (discovery); exit ends a process. */
#pragma once

#define PROT_EXEC 4

/* Executable files the daemon has looked at (enum llmobs_file_state). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FILES);
	__type(key, struct llmobs_file_key);
	__type(value, __u8);
} files SEC(".maps");

/* mmap(PROT_EXEC) in flight per thread: the file, reported if it succeeds. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, __u64);
	__type(value, struct llmobs_file_key);
} mmapping SEC(".maps");

SEC("tracepoint/sched/sched_process_exit")
int tp_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if ((__u32)id != tgid || !traced(tgid))
		return 0; /* only the whole process ending matters */
	emit_ctl(LLMOBS_EV_EXIT, 0, 0, LLMOBS_SRC_EXIT, -1);
	forget_plain_proc(tgid);
	return 0;
}

/* ---- Discovery: executables and libraries as processes map them ---- */

static __always_inline bool file_key_of(struct file *f, struct llmobs_file_key *k)
{
	if (!f)
		return false;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	if (!ino)
		return false;
	k->ino = BPF_CORE_READ(ino, i_ino);
	k->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	k->pad = 0;
	return true;
}

/* Files the daemon dismissed are never reported again; probed ones are, so
 * the daemon knows every process that uses them. */
static __always_inline bool file_wanted(const struct llmobs_file_key *k)
{
	__u8 *st = bpf_map_lookup_elem(&files, k);
	return !st || *st != LLMOBS_FILE_IGNORED;
}

static __always_inline void emit_mapped(const struct llmobs_file_key *k, __u16 src)
{
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_MAPPED, src, -1);
	if (!e)
		return;
	e->conn = k->ino;
	e->pos = k->dev;
	ctl_submit(e, BPF_RB_FORCE_WAKEUP); /* attach before its first call */
}

SEC("tracepoint/sched/sched_process_exec")
int tp_process_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct llmobs_file_key k;
	if (file_key_of(BPF_CORE_READ(t, mm, exe_file), &k) && file_wanted(&k))
		emit_mapped(&k, LLMOBS_SRC_EXEC);
	return 0;
}

/* mmap(addr, len, prot, flags, fd, off) of a file with PROT_EXEC: how the
 * dynamic loader brings in a library, at start or by dlopen(). */
SEC("tracepoint/syscalls/sys_enter_mmap")
int tp_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	long fd = ctx->args[4];
	if (!(ctx->args[2] & PROT_EXEC) || fd < 0 || fd > 0xffff)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	struct llmobs_file_key k;
	if (file_key_of(fd_file(fd), &k) && file_wanted(&k))
		bpf_map_update_elem(&mmapping, &id, &k, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int tp_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct llmobs_file_key *k = bpf_map_lookup_elem(&mmapping, &id);
	if (!k)
		return 0;
	struct llmobs_file_key cur = *k;
	bpf_map_delete_elem(&mmapping, &id);
	if (ctx->ret < 0 && ctx->ret > -4096)
		return 0;
	emit_mapped(&cur, LLMOBS_SRC_MMAP);
	return 0;
}
