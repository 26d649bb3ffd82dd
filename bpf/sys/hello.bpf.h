/* TLS from stacks without probes: a TCP socket a process connect()ed whose
 * first bytes, written outside any probed SSL call, are a ClientHello
 * (TLS_HELLO). The daemon then waits for an SSL call on it; none means a
 * blind spot (Go's crypto/tls, rustls, BoringSSL without symbols).
 * Only writes look here, once per watched socket: reads pay nothing. */
#pragma once

#define MAX_WATCH 4096 /* sockets connect()ed and not written to yet */

struct hello_watch {
	__u16 family;
	__u16 port; /* network order */
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WATCH);
	__type(key, struct plain_key);
	__type(value, struct hello_watch);
} hello_watch SEC(".maps");

/* A TCP socket was connect()ed to a port not followed as plaintext. */
static __always_inline void hello_watch_socket(__u32 tgid, __s32 fd, __u16 family, __u16 nport,
                                               const __u8 *addr)
{
	if (!fd_tcp_sock(fd))
		return;
	struct plain_key k = {.tgid = tgid, .fd = fd};
	struct hello_watch w = {.family = family, .port = nport};
	__builtin_memcpy(w.addr, addr, 16);
	bpf_map_update_elem(&hello_watch, &k, &w, BPF_ANY);
}

/* A TLS record header (handshake, 3.x) carrying a ClientHello. */
static __always_inline bool is_client_hello(__u64 buf)
{
	__u8 h[6] = {};
	if (!buf || bpf_probe_read_user(h, sizeof(h), (void *)buf))
		return false;
	return h[0] == 0x16 && h[1] == 0x03 && h[2] <= 0x04 && h[5] == 0x01;
}

/* The first write on a watched socket decides: a ClientHello is reported,
 * anything else (plain HTTP, SSH, a database) is not TLS. */
static __always_inline void hello_check(__u32 tgid, __s32 fd, __u64 buf, __u64 iov)
{
	struct plain_key k = {.tgid = tgid, .fd = fd};
	struct hello_watch *w = bpf_map_lookup_elem(&hello_watch, &k);
	if (!w)
		return;
	struct hello_watch cur = *w;
	bpf_map_delete_elem(&hello_watch, &k);
	if (!buf && iov) {
		struct iovec v = {};
		if (bpf_probe_read_user(&v, sizeof(v), (void *)iov))
			return;
		buf = (__u64)v.iov_base;
	}
	if (!is_client_hello(buf))
		return;
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_TLS_HELLO, LLMOBS_SRC_CONNECT, fd);
	if (!e)
		return;
	e->family = cur.family;
	e->port = cur.port;
	__builtin_memcpy(e->addr, cur.addr, 16);
	/* the executable, in case the process is gone when the daemon looks */
	struct task_struct *t = bpf_get_current_task_btf();
	struct inode *exe = BPF_CORE_READ(t, mm, exe_file, f_inode);
	if (exe) {
		e->conn = BPF_CORE_READ(exe, i_ino);
		e->pos = BPF_CORE_READ(exe, i_sb, s_dev);
	}
	ctl_submit(e, 0);
}
