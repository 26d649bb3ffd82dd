/* fd -> struct sock of the current task, and backpressure samples taken around SSL reads. */
#pragma once

#define AF_INET     2
#define IPPROTO_TCP 6
#define AF_INET6    10

/* The file behind an fd of the current task (NULL: none, or unreadable). */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* The struct sock behind an fd of the current task. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The TCP socket (IPv4 or IPv6) behind an fd: one backpressure can watch. */
static __always_inline struct sock *fd_tcp_sock(int fd)
{
	struct sock *sk = fd_sock(fd);
	__u16 fam = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if ((fam == AF_INET || fam == AF_INET6) && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP)
		return sk;
	return NULL;
}

static __always_inline __u32 tcp_unread(__u64 sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	return BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
}

/* At a read's entry: what waits in the socket and since when. */
static __always_inline void sample_socket(__u64 ssl, __u32 tgid, struct ssl_call *call)
{
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
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

/* At the read's return: the entry sample and the socket's drop counters go
 * into the read's record; what the read left arrived by the latest arrival. */
static __always_inline void report_socket(struct emit_ctx *c, const struct ssl_call *call,
                                          const struct conn_state *st, __u64 now)
{
	if (!call->bp_valid || !st->sk)
		return;
	struct bp_sock *b = bpf_map_lookup_elem(&bp_socks, &st->sk);
	if (!b)
		return;
	c->bp_valid = 1;
	c->unread = call->unread;
	c->lag_us = call->oldest && now > call->oldest ? (now - call->oldest) / 1000 : 0;
	c->rcvq_full = b->rcvq_full;
	c->zero_window = b->zero_window;
	/* what is left arrived by the latest arrival at the latest */
	b->oldest = tcp_unread(st->sk) ? b->last : 0;
}
