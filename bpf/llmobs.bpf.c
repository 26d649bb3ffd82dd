// SPDX-License-Identifier: GPL-2.0
/* llmobs capture: plaintext of OpenSSL calls, the socket they use, and the
 * peers they connect to, pushed through one ring buffer (include/llmobs/event.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "llmobs/event.h"

#define AF_INET     2
#define IPPROTO_TCP 6
#define AF_INET6    10
#define EINPROGRESS 115
#define PROT_EXEC   4

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 targ_tgid = 0; /* 0: every process */
const volatile __u32 self_tgid = 0; /* never trace the daemon itself */
const volatile bool filter_comm = false;
const volatile char targ_comm[LLMOBS_COMM_LEN] = {}; /* process name (group leader) */
const volatile bool filter_cgroup = false;           /* cgroup_filter[0] and below */
/* Data records wake the consumer only past this much unread data; it polls
 * every few ms anyway. One wakeup per record would cost more than the
 * record (set by the loader: a quarter of the ring). */
const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by --ringbuf-size */
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LLMOBS_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Hits per probe, indexed by its cookie (llmobs_probe_cookie()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LLMOBS_PROBE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

/* Executable files the daemon has looked at (enum llmobs_file_state). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct llmobs_file_key);
	__type(value, __u8);
} files SEC(".maps");

/* mmap(PROT_EXEC) in flight per thread: the file, reported if it succeeds. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct llmobs_file_key);
} mmapping SEC(".maps");

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

/* An SSL call in flight on a thread (entry -> return). */
struct ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 len_ptr; /* size_t * of the _ex forms */
	__u64 ts;      /* entry time; doubles as the call id */
	__u32 num;
	__s32 fd; /* learned from a syscall made inside the call */
	__u16 src;
	__u16 dir;
	__u32 depth;  /* probed functions nested inside this call */
	__u32 unread; /* reads: bytes waiting in the socket at entry */
	__u64 oldest; /* reads: when the oldest of them arrived (0: none) */
	__u32 bp_valid;
	__u32 pad;
};

/* An SSL function probed inside another one's call (SSL_read probed at its
 * symbol calling an internal function probed for SSL_read_ex) is the same
 * call: the outer one owns it. Entries older than this are stale. */
#define NESTED_WINDOW_NS 1000000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ssl_call);
} active SEC(".maps");

struct conn_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct conn_state {
	__u64 pos[2]; /* bytes seen per direction */
	__u64 sk;     /* struct sock * of fd, for backpressure (0: unknown) */
	__s32 fd;
	__u32 pad;
};

/* Backpressure per socket of an SSL connection: arrivals (sk_data_ready),
 * receive-queue-full drops and zero-window segments. */
struct bp_sock {
	__u64 oldest; /* arrival of the oldest unread data (0: drained) */
	__u64 last;   /* the latest arrival */
	__u32 rcvq_full;
	__u32 zero_window;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct bp_sock);
} bp_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* Connections the daemon has no use for (the server side of a local TLS
 * server, not HTTP/1): their calls are not copied any more. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, __u8);
} muted SEC(".maps");

struct connect_args {
	__u64 addr;
	__s32 fd;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct connect_args);
} connecting SEC(".maps");

/* Plaintext HTTP to local model servers: ports to follow (host order), the
 * sockets connected to them, and the syscall in flight per thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LLMOBS_MAX_PLAIN_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} plain_ports SEC(".maps");

struct plain_key {
	__u32 tgid;
	__s32 fd;
};

struct plain_state {
	__u64 gen; /* connection key: LLMOBS_PLAIN_CONN | connect time */
	__u64 pos[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct plain_key);
	__type(value, struct plain_state);
} plain_fds SEC(".maps");

/* Processes that own followed sockets (so exit only scans for those). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} plain_procs SEC(".maps");

struct plain_io {
	__u64 buf; /* read/write/recvfrom/sendto: the buffer */
	__u64 iov; /* readv/writev/recvmsg/sendmsg: the struct iovec array */
	__u64 iovcnt;
	__s32 fd;
	__u16 dir;
	__u16 pad;
};

/* iovecs copied per vectored call; the rest is counted as truncated and
 * shows downstream as a position gap. */
#define PLAIN_MAX_IOV 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct plain_io);
} plain_inflight SEC(".maps");

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

/* Every probe execution is counted, traced or not: it is what it costs. */
static __always_inline void count_hit(void *ctx)
{
	__u32 slot = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *p = bpf_map_lookup_elem(&probe_hits, &slot);
	if (p)
		*p += 1;
}

static __always_inline struct conn_state *conn_get(__u64 ssl, __u32 tgid)
{
	struct conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn_state *st = bpf_map_lookup_elem(&conns, &k);
	if (st)
		return st;
	struct conn_state init = {.fd = -1};
	bpf_map_update_elem(&conns, &k, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, &k);
}

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
	r->ev.type = LLMOBS_EV_DATA;
	r->ev.ts_ns = c->ts;
	r->ev.conn = c->ssl;
	r->ev.pos = c->pos + off;
	r->ev.call_id = c->call_id;
	__u64 id = bpf_get_current_pid_tgid();
	r->ev.tgid = id >> 32;
	r->ev.tid = (__u32)id;
	r->ev.fd = c->fd;
	r->ev.len = n;
	r->ev.orig_len = c->total;
	r->ev.offset = off;
	r->ev.dir = c->dir;
	r->ev.src = c->src;
	task_names(r->ev.comm, r->ev.thread);
	__builtin_memset(r->ev.addr, 0, sizeof(r->ev.addr));
	r->ev.family = 0;
	r->ev.port = 0;
	if (c->bp_valid && i == 0) { /* the socket's state, once per read */
		r->ev.unread = c->unread;
		r->ev.lag_us = c->lag_us;
		r->ev.rcvq_full = c->rcvq_full;
		r->ev.zero_window = c->zero_window;
		r->ev.bp_valid = 1;
	}

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

/* Small control records (no payload). */
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

/* The struct sock behind an fd of the current task. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline __u32 tcp_unread(__u64 sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	return BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
}

/* At a read's entry: what waits in the socket and since when. */
static __always_inline void sample_socket(__u64 ssl, __u32 tgid, struct ssl_call *call)
{
	struct conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn_state *st = bpf_map_lookup_elem(&conns, &k);
	if (!st || !st->sk)
		return;
	struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &st->sk);
	if (!b)
		return;
	call->unread = tcp_unread(st->sk);
	call->oldest = call->unread ? b->oldest : 0;
	call->bp_valid = 1;
}

static __always_inline int ssl_enter(void *ctx, __u64 ssl, __u64 buf, __u32 num, __u64 len_ptr,
                                     __u16 src, __u16 dir)
{
	count_hit(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!traced(tgid))
		return 0;
	stat_add(LLMOBS_STAT_HITS, 1);

	struct conn_key mk = {.ssl = ssl, .tgid = tgid};
	if (bpf_map_lookup_elem(&muted, &mk)) {
		stat_add(LLMOBS_STAT_MUTED, 1);
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	struct ssl_call *outer = bpf_map_lookup_elem(&active, &id);
	if (outer && outer->ssl == ssl && outer->dir == dir && now - outer->ts < NESTED_WINDOW_NS) {
		outer->depth++;
		return 0;
	}
	struct ssl_call call = {
	    .ssl = ssl,
	    .buf = buf,
	    .len_ptr = len_ptr,
	    .ts = now,
	    .num = num,
	    .fd = -1,
	    .src = src,
	    .dir = dir,
	};
	if (dir == LLMOBS_DIR_READ)
		sample_socket(ssl, tgid, &call);
	if (dir == LLMOBS_DIR_WRITE && num > 0) {
		/* Writes are copied at entry: the data is all there. Position
		 * advances now; a failed write (retried by the app) emits
		 * WRITE_FAIL at return and rolls it back. */
		struct conn_state *st = conn_get(ssl, tgid);
		if (!st)
			return 0;
		struct emit_ctx c = {
		    .ssl = ssl,
		    .buf = buf,
		    .pos = st->pos[LLMOBS_DIR_WRITE],
		    .call_id = call.ts,
		    .ts = call.ts,
		    .total = num,
		    .fd = st->fd,
		    .dir = dir,
		    .src = src,
		};
		st->pos[LLMOBS_DIR_WRITE] += num;
		emit_data(&c);
	}
	bpf_map_update_elem(&active, &id, &call, BPF_ANY);
	return 0;
}

/* Closing an SSL connection's socket ends it: fd -> SSL*. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct plain_key);
	__type(value, __u64);
} ssl_fds SEC(".maps");

#define WRITE_BLOCKED_NS 1000000

static __always_inline void emit_write_done(struct ssl_call *call, __s32 fd)
{
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_WRITE_DONE, call->src, fd);
	if (!e)
		return;
	e->conn = call->ssl;
	e->call_id = call->ts;
	e->lag_us = (e->ts_ns - call->ts) / 1000;
	ctl_submit(e, 0);
}

static __always_inline int ssl_exit(void *ctx, long ret)
{
	count_hit(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(&active, &id);
	if (!call)
		return 0;
	if (call->depth) { /* a nested probed function returned */
		call->depth--;
		return 0;
	}
	__u32 tgid = id >> 32;
	struct conn_state *st = conn_get(call->ssl, tgid);
	if (!st)
		goto out;
	if (call->fd >= 0 && st->fd != call->fd) {
		struct plain_key fk = {.tgid = tgid, .fd = call->fd};
		st->fd = call->fd;
		bpf_map_update_elem(&ssl_fds, &fk, &call->ssl, BPF_ANY);
		struct sock *sk = fd_sock(call->fd);
		__u16 fam = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
		if ((fam == AF_INET || fam == AF_INET6) &&
		    BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP) {
			struct bp_sock fresh = {};
			st->sk = (__u64)sk;
			bpf_map_update_elem(&bp_socks, &st->sk, &fresh, BPF_ANY);
		}
	}

	bool ex = call->src == LLMOBS_SRC_SSL_READ_EX || call->src == LLMOBS_SRC_SSL_WRITE_EX;
	__u64 moved = 0;
	if (ex) {
		/* 1 from SSL_*_ex; internal functions probed for them return > 0 */
		if (ret > 0 && call->len_ptr)
			bpf_probe_read_user(&moved, sizeof(moved), (void *)call->len_ptr);
	} else if (ret > 0) {
		moved = ret;
	}

	if (call->dir == LLMOBS_DIR_WRITE) {
		if (moved == 0 && call->num > 0) {
			st->pos[LLMOBS_DIR_WRITE] -= call->num;
			emit_ctl(LLMOBS_EV_WRITE_FAIL, call->ssl, call->ts, call->src, st->fd);
		} else if (bpf_ktime_get_ns() - call->ts >= WRITE_BLOCKED_NS) {
			emit_write_done(call, st->fd);
		}
		goto out;
	}
	if (moved == 0)
		goto out;
	if (moved > call->num) /* never trust a length beyond the buffer */
		moved = call->num;
	__u64 now = bpf_ktime_get_ns();
	struct emit_ctx c = {
	    .ssl = call->ssl,
	    .buf = call->buf,
	    .pos = st->pos[LLMOBS_DIR_READ],
	    .call_id = call->ts,
	    .ts = now,
	    .total = moved,
	    .fd = st->fd,
	    .dir = LLMOBS_DIR_READ,
	    .src = call->src,
	};
	if (call->bp_valid && st->sk) {
		struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &st->sk);
		if (b) {
			c.bp_valid = 1;
			c.unread = call->unread;
			c.lag_us =
			    call->oldest && now > call->oldest ? (now - call->oldest) / 1000 : 0;
			c.rcvq_full = b->rcvq_full;
			c.zero_window = b->zero_window;
			/* what is left arrived by the latest arrival at the latest */
			b->oldest = tcp_unread(st->sk) ? b->last : 0;
		}
	}
	st->pos[LLMOBS_DIR_READ] += moved;
	emit_data(&c);
out:
	bpf_map_delete_elem(&active, &id);
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
	return ssl_enter(ctx, (__u64)ssl, (__u64)buf, num < 0 ? 0 : num, 0, LLMOBS_SRC_SSL_WRITE,
	                 LLMOBS_DIR_WRITE);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	__u32 n = num > 0x7fffffff ? 0x7fffffff : num;
	return ssl_enter(ctx, (__u64)ssl, (__u64)buf, n, (__u64)written, LLMOBS_SRC_SSL_WRITE_EX,
	                 LLMOBS_DIR_WRITE);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return ssl_enter(ctx, (__u64)ssl, (__u64)buf, num < 0 ? 0 : num, 0, LLMOBS_SRC_SSL_READ,
	                 LLMOBS_DIR_READ);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	__u32 n = num > 0x7fffffff ? 0x7fffffff : num;
	return ssl_enter(ctx, (__u64)ssl, (__u64)buf, n, (__u64)readbytes, LLMOBS_SRC_SSL_READ_EX,
	                 LLMOBS_DIR_READ);
}

/* Every probed function returns int: only eax is defined (node's -1 comes
 * back as 0x00000000ffffffff in rax). */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_exit_ret, long ret)
{
	return ssl_exit(ctx, (int)ret);
}

static __always_inline int ssl_end(void *ctx, __u64 ssl, __u16 src)
{
	count_hit(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!traced(tgid))
		return 0;
	struct conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn_state *st = bpf_map_lookup_elem(&conns, &k);
	if (!st)
		return 0; /* never carried data we saw */
	emit_ctl(LLMOBS_EV_CLOSE, ssl, 0, src, st->fd);
	bpf_map_delete_elem(&muted, &k);
	if (st->fd >= 0) {
		struct plain_key fk = {.tgid = tgid, .fd = st->fd};
		bpf_map_delete_elem(&ssl_fds, &fk);
	}
	bpf_map_delete_elem(&conns, &k);
	return 0;
}

/* void SSL_free(SSL *ssl): the connection is gone. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	return ssl_end(ctx, (__u64)ssl, LLMOBS_SRC_SSL_FREE);
}

/* int SSL_shutdown(SSL *s): the app is done with the connection (Node
 * frees its SSL objects only on garbage collection). */
SEC("uprobe")
int BPF_KPROBE(ssl_shutdown_enter, void *ssl)
{
	return ssl_end(ctx, (__u64)ssl, LLMOBS_SRC_SSL_SHUTDOWN);
}

/* A socket syscall: names the fd of an SSL call in flight, or, on a
 * followed plaintext socket, starts a copy finished at syscall exit. Data
 * moved inside an SSL call is ciphertext: never copied here. */
static __always_inline int sock_enter_io(long fd, __u64 buf, __u64 iov, __u64 iovcnt, __u16 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(&active, &id);
	if (call) {
		if (call->fd < 0)
			call->fd = fd;
		return 0;
	}
	struct plain_key k = {.tgid = id >> 32, .fd = fd};
	if (!bpf_map_lookup_elem(&plain_fds, &k))
		return 0;
	struct plain_io io = {.buf = buf, .iov = iov, .iovcnt = iovcnt, .fd = fd, .dir = dir};
	bpf_map_update_elem(&plain_inflight, &id, &io, BPF_ANY);
	return 0;
}

static __always_inline int sock_enter(long fd, __u64 buf, __u16 dir)
{
	return sock_enter_io(fd, buf, 0, 0, dir);
}

static __always_inline int sock_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct plain_io *io = bpf_map_lookup_elem(&plain_inflight, &id);
	if (!io)
		return 0;
	struct plain_io cur = *io;
	bpf_map_delete_elem(&plain_inflight, &id);
	if (ret <= 0)
		return 0;
	struct plain_key k = {.tgid = id >> 32, .fd = cur.fd};
	struct plain_state *st = bpf_map_lookup_elem(&plain_fds, &k);
	if (!st)
		return 0;
	__u16 dir = cur.dir ? LLMOBS_DIR_READ : LLMOBS_DIR_WRITE;
	__u64 now = bpf_ktime_get_ns();
	stat_add(LLMOBS_STAT_HITS, 1);
	__u32 total = ret > 0x7fffffff ? 0x7fffffff : ret;
	struct emit_ctx c = {
	    .ssl = st->gen,
	    .buf = cur.buf,
	    .pos = st->pos[dir],
	    .call_id = now,
	    .ts = now,
	    .total = total,
	    .fd = cur.fd,
	    .dir = dir,
	    .src = dir ? LLMOBS_SRC_SOCK_READ : LLMOBS_SRC_SOCK_WRITE,
	};
	st->pos[dir] += total;
	if (!cur.iov) {
		emit_data(&c);
		return 0;
	}
	/* Vectored: the bytes moved fill the iovecs in order. */
	__u32 left = total;
#pragma unroll
	for (int i = 0; i < PLAIN_MAX_IOV; i++) {
		struct iovec v = {};
		if (!left || i >= cur.iovcnt ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(cur.iov + i * sizeof(v))))
			break;
		__u32 n = v.iov_len < left ? v.iov_len : left;
		c.buf = (__u64)v.iov_base;
		c.total = n;
		emit_data(&c);
		c.pos += n;
		left -= n;
	}
	if (left)
		stat_add(LLMOBS_STAT_TRUNC_BYTES, left);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int tp_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 1);
}

SEC("tracepoint/syscalls/sys_enter_write")
int tp_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int tp_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 1);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_read")
int tp_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_write")
int tp_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int tp_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int tp_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int tp_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter_io(ctx->args[0], 0, ctx->args[1], ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int tp_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter_io(ctx->args[0], 0, ctx->args[1], ctx->args[2], 1);
}

static __always_inline int msg_enter(struct trace_event_raw_sys_enter *ctx, __u16 dir)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)ctx->args[1]))
		return 0;
	return sock_enter_io(ctx->args[0], 0, (__u64)m.msg_iov, m.msg_iovlen, dir);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, 0);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int tp_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, 1);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int tp_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int tp_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int tp_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int tp_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sock_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct plain_key k = {.tgid = id >> 32, .fd = ctx->args[0]};
	struct plain_state *st = bpf_map_lookup_elem(&plain_fds, &k);
	if (st) {
		emit_ctl(LLMOBS_EV_CLOSE, st->gen, 0, LLMOBS_SRC_SOCK_READ, k.fd);
		bpf_map_delete_elem(&plain_fds, &k);
		return 0;
	}
	__u64 *ssl = bpf_map_lookup_elem(&ssl_fds, &k);
	if (!ssl)
		return 0;
	struct conn_key ck = {.ssl = *ssl, .tgid = k.tgid};
	if (bpf_map_lookup_elem(&conns, &ck)) {
		emit_ctl(LLMOBS_EV_CLOSE, ck.ssl, 0, LLMOBS_SRC_CLOSE, k.fd);
		bpf_map_delete_elem(&conns, &ck);
		bpf_map_delete_elem(&muted, &ck);
	}
	bpf_map_delete_elem(&ssl_fds, &k);
	return 0;
}

/* Starts following a plaintext socket of the current process. */
static __always_inline void follow_plain(__u32 tgid, __s32 fd, __u64 side)
{
	struct plain_key k = {.tgid = tgid, .fd = fd};
	struct plain_state st = {.gen = LLMOBS_PLAIN_CONN | side | bpf_ktime_get_ns()};
	__u8 one = 1;
	bpf_map_update_elem(&plain_fds, &k, &st, BPF_ANY);
	bpf_map_update_elem(&plain_procs, &tgid, &one, BPF_ANY);
}

/* A CONNECT record: the peer of fd (port and address in network order). */
static __always_inline void emit_peer(__s32 fd, __u16 src, __u16 family, __u16 nport,
                                      const __u8 *addr)
{
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_CONNECT, src, fd);
	if (!e)
		return;
	e->family = family;
	e->port = nport;
	__builtin_memcpy(e->addr, addr, 16);
	ctl_submit(e, 0);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	struct connect_args a = {.addr = ctx->args[1], .fd = ctx->args[0]};
	bpf_map_update_elem(&connecting, &id, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct connect_args *a = bpf_map_lookup_elem(&connecting, &id);
	if (!a)
		return 0;
	long ret = ctx->ret;
	__u64 addr = a->addr;
	__s32 fd = a->fd;
	bpf_map_delete_elem(&connecting, &id);
	if (ret != 0 && ret != -EINPROGRESS)
		return 0;

	__u16 family = 0;
	bpf_probe_read_user(&family, sizeof(family), (void *)addr);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* sin_port and sin6_port sit at the same offset */
	__u16 nport = 0;
	bpf_probe_read_user(&nport, sizeof(nport), (void *)(addr + 2));
	__u16 hport = (__u16)((nport >> 8) | (nport << 8));
	if (bpf_map_lookup_elem(&plain_ports, &hport))
		follow_plain(id >> 32, fd, 0);
	__u8 peer[16] = {};
	if (family == AF_INET)
		bpf_probe_read_user(peer, 4, (void *)(addr + 4)); /* sin_addr */
	else
		bpf_probe_read_user(peer, 16, (void *)(addr + 8)); /* sin6_addr */
	emit_peer(fd, LLMOBS_SRC_CONNECT, family, nport, peer);
	return 0;
}

/* accept(2) on a followed port: the server side of a plaintext connection.
 * Loopback peers are skipped: a local client is followed from its side. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} accepting SEC(".maps");

static __always_inline int accept_enter(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	__u8 one = 1;
	bpf_map_update_elem(&accepting, &id, &one, BPF_ANY);
	return 0;
}

static __always_inline int accept_exit(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!bpf_map_lookup_elem(&accepting, &id))
		return 0;
	bpf_map_delete_elem(&accepting, &id);
	if (fd < 0 || fd > 0xffff)
		return 0;
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return 0;
	__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&plain_ports, &port))
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 addr[16] = {};
	if (family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		if ((a & 0xff) == 127)
			return 0;
		__builtin_memcpy(addr, &a, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&addr, sk, __sk_common.skc_v6_daddr);
		__u32 w[4];
		__builtin_memcpy(w, addr, 16);
		bool v4mapped = w[0] == 0 && w[1] == 0 && w[2] == 0xffff0000;
		if ((w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0x01000000) ||
		    (v4mapped && (w[3] & 0xff) == 127))
			return 0;
	} else {
		return 0;
	}
	follow_plain(id >> 32, fd, LLMOBS_PLAIN_SERVER);
	emit_peer(fd, LLMOBS_SRC_ACCEPT, family, BPF_CORE_READ(sk, __sk_common.skc_dport), addr);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int tp_enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter();
}

SEC("tracepoint/syscalls/sys_enter_accept")
int tp_enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter();
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

/* The kernel closes an exiting process's fds without close(2): forget its
 * followed sockets, or a reused pid could inherit them. */
static long forget_plain(struct bpf_map *map, struct plain_key *k, struct plain_state *st,
                         __u32 *tgid)
{
	(void)st;
	if (k->tgid == *tgid)
		bpf_map_delete_elem(map, k);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if ((__u32)id != tgid || !traced(tgid))
		return 0; /* only the whole process ending matters */
	emit_ctl(LLMOBS_EV_EXIT, 0, 0, LLMOBS_SRC_EXIT, -1);
	if (bpf_map_lookup_elem(&plain_procs, &tgid)) {
		bpf_for_each_map_elem(&plain_fds, forget_plain, &tgid, 0);
		bpf_map_delete_elem(&plain_procs, &tgid);
	}
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
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return 0;
	struct llmobs_file_key k;
	if (file_key_of(f, &k) && file_wanted(&k))
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

/* ---- Backpressure: the sockets of SSL connections (bp_socks) ---- */

SEC("tracepoint/sock/sk_data_ready")
int tp_sk_data_ready(struct trace_event_raw_sk_data_ready *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &sk);
	if (!b)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (!b->oldest)
		b->oldest = now;
	b->last = now;
	return 0;
}

/* Every received segment; rcv_wnd 0 means we told the peer to stop. */
SEC("tracepoint/tcp/tcp_probe")
int tp_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	if (ctx->rcv_wnd)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &sk);
	if (b)
		b->zero_window++;
	return 0;
}

/* The classic tracepoint has no socket: the raw one's first argument is. */
SEC("raw_tp/sock_rcvqueue_full")
int raw_rcvqueue_full(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 sk = ctx->args[0];
	struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &sk);
	if (b)
		b->rcvq_full++;
	return 0;
}
