/* Ring-buffer output: data records in LLMOBS_MAX_DATA pieces, control records, stats. */
#pragma once

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&stats, &idx);
	if (p)
		*p += v;
}

static __always_inline __u64 data_wakeup(void)
{
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > wakeup_bytes ? BPF_RB_FORCE_WAKEUP
	                                                                : BPF_RB_NO_WAKEUP;
}

/* The process name (what --comm matches and users filter on) and the
 * calling thread's: a Bun or tokio worker thread is "HTTP Client" or
 * "tokio-rt-worker", its process "claude" or "codex". */
static __always_inline void task_names(char *comm, char *thread)
{
	struct task_struct *t = bpf_get_current_task_btf();
	bpf_get_current_comm(thread, LLMOBS_COMM_LEN);
	if (t->pid == t->tgid)
		__builtin_memcpy(comm, thread, LLMOBS_COMM_LEN);
	else
		bpf_probe_read_kernel_str(comm, LLMOBS_COMM_LEN, t->group_leader->comm);
}

struct record {
	struct llmobs_event ev;
	__u8 data[LLMOBS_MAX_DATA];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record);
} scratch SEC(".maps");

struct emit_ctx {
	__u64 ssl;
	__u64 buf;
	__u64 pos;
	__u64 call_id;
	__u64 ts;
	__u32 total;
	__s32 fd;
	__u16 dir;
	__u16 src;
	__u32 unread, lag_us, rcvq_full, zero_window;
	__u16 bp_valid;
};

/* The header of piece `i` (at `off` in the call, `n` bytes copied). The
 * scratch record is reused: the union is cleared unless the piece carries
 * the socket's state. */
static __always_inline void data_header(struct llmobs_event *ev, const struct emit_ctx *c, __u32 i,
                                        __u64 off, __u64 n)
{
	ev->type = LLMOBS_EV_DATA;
	ev->ts_ns = c->ts;
	ev->conn = c->ssl;
	ev->pos = c->pos + off;
	ev->call_id = c->call_id;
	__u64 id = bpf_get_current_pid_tgid();
	ev->tgid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = c->fd;
	ev->len = n;
	ev->orig_len = c->total;
	ev->offset = off;
	ev->dir = c->dir;
	ev->src = c->src;
	task_names(ev->comm, ev->thread);
	__builtin_memset(ev->addr, 0, sizeof(ev->addr));
	ev->family = 0;
	ev->port = 0;
	if (c->bp_valid && i == 0) { /* the socket's state, once per read */
		ev->unread = c->unread;
		ev->lag_us = c->lag_us;
		ev->rcvq_full = c->rcvq_full;
		ev->zero_window = c->zero_window;
		ev->bp_valid = 1;
	}
}

/* One bpf_loop step: copy piece `i` of the call into the ring buffer. */
static long emit_piece(__u32 i, void *arg)
{
	struct emit_ctx *c = arg;
	__u32 zero = 0;
	__u64 off = (__u64)i * LLMOBS_MAX_DATA;
	if (off >= c->total)
		return 1;
	__u64 n = c->total - off;
	if (n > LLMOBS_MAX_DATA)
		n = LLMOBS_MAX_DATA;
	/* Keep the verifier on the bounded 64-bit copy of n. */
	asm volatile("" : "+r"(n));
	if (n > LLMOBS_MAX_DATA)
		return 1;

	struct record *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 1;
	if (bpf_probe_read_user(r->data, n, (void *)(c->buf + off))) {
		stat_add(LLMOBS_STAT_READ_FAULTS, 1);
		n = 0; /* still emit the header: the gap is reported downstream */
	}
	data_header(&r->ev, c, i, off, n);

	if (bpf_ringbuf_output(&rb, r, sizeof(r->ev) + n, data_wakeup())) {
		stat_add(LLMOBS_STAT_RB_DROPS, 1);
		stat_add(LLMOBS_STAT_RB_DROP_BYTES, n);
	} else {
		stat_add(LLMOBS_STAT_EVENTS, 1);
	}
	return 0;
}

static __always_inline void emit_data(struct emit_ctx *c)
{
	__u32 max = (__u32)LLMOBS_MAX_DATA * LLMOBS_MAX_SEGMENTS;
	__u32 pieces;
	if (c->total > max) {
		stat_add(LLMOBS_STAT_TRUNC_BYTES, c->total - max);
		pieces = LLMOBS_MAX_SEGMENTS;
	} else {
		pieces = (c->total + LLMOBS_MAX_DATA - 1) / LLMOBS_MAX_DATA;
	}
	bpf_loop(pieces, emit_piece, c, 0);
}

/* A payload-less record with the common header filled in (type, time,
 * task, fd, src); NULL, counted as a drop, when the ring is full. The
 * caller fills the rest and calls ctl_submit(). */
static __always_inline struct llmobs_event *ctl_reserve(__u32 type, __u16 src, __s32 fd)
{
	struct llmobs_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		stat_add(LLMOBS_STAT_RB_DROPS, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	__u64 id = bpf_get_current_pid_tgid();
	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->src = src;
	task_names(e->comm, e->thread);
	return e;
}

static __always_inline void ctl_submit(struct llmobs_event *e, __u64 flags)
{
	bpf_ringbuf_submit(e, flags);
	stat_add(LLMOBS_STAT_EVENTS, 1);
}

static __always_inline void emit_ctl(__u32 type, __u64 ssl, __u64 call_id, __u16 src, __s32 fd)
{
	struct llmobs_event *e = ctl_reserve(type, src, fd);
	if (!e)
		return;
	e->conn = ssl;
	e->call_id = call_id;
	ctl_submit(e, 0);
}
