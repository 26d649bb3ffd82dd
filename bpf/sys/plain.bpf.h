/* Plaintext sockets followed (copied at syscall exit), close(2), and fds of SSL calls. */
#pragma once

/* Ports to follow (host order; set by the daemon), the sockets connected
 * to them, and the syscall in flight per thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LLMOBS_MAX_PLAIN_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} plain_ports SEC(".maps");

struct plain_state {
	__u64 gen; /* connection key: LLMOBS_PLAIN_CONN | connect time */
	__u64 pos[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, struct plain_key);
	__type(value, struct plain_state);
} plain_fds SEC(".maps");

/* Processes that own followed sockets (so exit only scans for those). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PROCS);
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
	__uint(max_entries, MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct plain_io);
} plain_inflight SEC(".maps");

/* A socket syscall: names the fd of an SSL call in flight, or, on a
 * followed plaintext socket, starts a copy finished at syscall exit; a
 * write elsewhere may be a ClientHello (hello.bpf.h). Data moved inside an
 * SSL call is ciphertext: never copied here. */
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
	if (!bpf_map_lookup_elem(&plain_fds, &k)) {
		if (dir == LLMOBS_DIR_WRITE)
			hello_check(k.tgid, fd, buf, iov);
		return 0;
	}
	struct plain_io io = {.buf = buf, .iov = iov, .iovcnt = iovcnt, .fd = fd, .dir = dir};
	bpf_map_update_elem(&plain_inflight, &id, &io, BPF_ANY);
	return 0;
}

static __always_inline int sock_enter(long fd, __u64 buf, __u16 dir)
{
	return sock_enter_io(fd, buf, 0, 0, dir);
}

/* Vectored: the bytes moved fill the iovecs in order. */
static __always_inline void emit_iovecs(struct emit_ctx *c, const struct plain_io *io)
{
	__u32 left = c->total;
#pragma unroll
	for (int i = 0; i < PLAIN_MAX_IOV; i++) {
		struct iovec v = {};
		if (!left || i >= io->iovcnt ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(io->iov + i * sizeof(v))))
			break;
		__u32 n = v.iov_len < left ? v.iov_len : left;
		c->buf = (__u64)v.iov_base;
		c->total = n;
		emit_data(c);
		c->pos += n;
		left -= n;
	}
	if (left)
		stat_add(LLMOBS_STAT_TRUNC_BYTES, left);
}

/* A followed socket's syscall returned: copy what it moved. */
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
	/* one of the two, as the verifier sees it (it indexes pos[]) */
	__u16 dir = cur.dir == LLMOBS_DIR_READ ? LLMOBS_DIR_READ : LLMOBS_DIR_WRITE;
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
	    .src = dir == LLMOBS_DIR_READ ? LLMOBS_SRC_SOCK_READ : LLMOBS_SRC_SOCK_WRITE,
	};
	st->pos[dir] += total;
	if (cur.iov)
		emit_iovecs(&c, &cur);
	else
		emit_data(&c);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int tp_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], LLMOBS_DIR_READ);
}

SEC("tracepoint/syscalls/sys_enter_write")
int tp_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], LLMOBS_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int tp_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], LLMOBS_DIR_READ);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter(ctx->args[0], ctx->args[1], LLMOBS_DIR_WRITE);
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
	return sock_enter_io(ctx->args[0], 0, ctx->args[1], ctx->args[2], LLMOBS_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int tp_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return sock_enter_io(ctx->args[0], 0, ctx->args[1], ctx->args[2], LLMOBS_DIR_READ);
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
	return msg_enter(ctx, LLMOBS_DIR_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int tp_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, LLMOBS_DIR_READ);
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

/* close(2) of a followed plaintext socket: its connection ends. */
static __always_inline bool close_plain(struct plain_key *k)
{
	struct plain_state *st = bpf_map_lookup_elem(&plain_fds, k);
	if (!st)
		return false;
	emit_ctl(LLMOBS_EV_CLOSE, st->gen, 0, LLMOBS_SRC_SOCK_READ, k->fd);
	bpf_map_delete_elem(&plain_fds, k);
	return true;
}

/* close(2) of the socket an SSL connection used: the connection ends. */
static __always_inline void close_ssl(struct plain_key *k)
{
	__u64 *ssl = bpf_map_lookup_elem(&ssl_fds, k);
	if (!ssl)
		return;
	struct llmobs_conn_key ck = {.ssl = *ssl, .tgid = k->tgid};
	if (bpf_map_lookup_elem(&conns, &ck)) {
		emit_ctl(LLMOBS_EV_CLOSE, ck.ssl, 0, LLMOBS_SRC_CLOSE, k->fd);
		bpf_map_delete_elem(&conns, &ck);
		bpf_map_delete_elem(&muted, &ck);
	}
	bpf_map_delete_elem(&ssl_fds, k);
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct plain_key k = {.tgid = id >> 32, .fd = ctx->args[0]};
	if (!close_plain(&k))
		close_ssl(&k);
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

static __always_inline void forget_plain_proc(__u32 tgid)
{
	if (bpf_map_lookup_elem(&plain_procs, &tgid)) {
		bpf_for_each_map_elem(&plain_fds, forget_plain, &tgid, 0);
		bpf_map_delete_elem(&plain_procs, &tgid);
	}
}
