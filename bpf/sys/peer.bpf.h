/* connect(2)/accept(2): the peer of a socket (CONNECT), and plaintext sockets to follow. */
#pragma once

#define EINPROGRESS 115

struct connect_args {
	__u64 addr;
	__s32 fd;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, __u64);
	__type(value, struct connect_args);
} connecting SEC(".maps");

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

/* A connect(2) to addr went through (or is in progress): the peer, and
 * the socket followed when the port is, else watched for a ClientHello. */
static __always_inline void connected(__u32 tgid, __s32 fd, __u64 addr)
{
	__u16 family = 0;
	bpf_probe_read_user(&family, sizeof(family), (void *)addr);
	if (family != AF_INET && family != AF_INET6)
		return;
	/* sin_port and sin6_port sit at the same offset */
	__u16 nport = 0;
	bpf_probe_read_user(&nport, sizeof(nport), (void *)(addr + 2));
	__u16 hport = (__u16)((nport >> 8) | (nport << 8));
	bool plain = bpf_map_lookup_elem(&plain_ports, &hport);
	if (plain)
		follow_plain(tgid, fd, 0);
	__u8 peer[16] = {};
	if (family == AF_INET)
		bpf_probe_read_user(peer, 4, (void *)(addr + 4)); /* sin_addr */
	else
		bpf_probe_read_user(peer, 16, (void *)(addr + 8)); /* sin6_addr */
	emit_peer(fd, LLMOBS_SRC_CONNECT, family, nport, peer);
	if (!plain) /* loopback too: a local TLS server is as blind as a remote one */
		hello_watch_socket(tgid, fd, family, nport, peer);
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
	if (ret == 0 || ret == -EINPROGRESS)
		connected(id >> 32, fd, addr);
	return 0;
}

/* accept(2) on a followed port: the server side of a plaintext connection.
 * Loopback peers are skipped: a local client is followed from its side. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PENDING);
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

/* The peer of an accepted socket, into addr: its family, or 0 when the
 * peer is local (loopback, v4-mapped included) or not IP. */
static __always_inline __u16 remote_peer(struct sock *sk, __u8 (*addr)[16])
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		if ((a & 0xff) == 127)
			return 0;
		__builtin_memcpy(*addr, &a, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(addr, sk, __sk_common.skc_v6_daddr);
		__u32 w[4];
		__builtin_memcpy(w, *addr, 16);
		bool v4mapped = w[0] == 0 && w[1] == 0 && w[2] == 0xffff0000;
		if ((w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0x01000000) ||
		    (v4mapped && (w[3] & 0xff) == 127))
			return 0;
	} else {
		return 0;
	}
	return family;
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
	__u8 addr[16] = {};
	__u16 family = remote_peer(sk, &addr);
	if (!family)
		return 0;
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
