/* Go crypto/tls uprobes (Go 1.17+ on x86-64: the register ABI). Write is
 * copied at its entry; Read saves its buffer at entry, keyed by goroutine
 * (a goroutine parks in Read and resumes on any thread), and copies what
 * it returned at each RET instruction: a uretprobe replaces the return
 * address on the goroutine stack, which the runtime moves and checks.
 * Close ends the connection. The connection is the *tls.Conn.
 *
 * Registers (ABIInternal): receiver rax, slice b = (rbx, rcx, rdi);
 * results n = rax, err = (rbx, rcx); the current g in r14.
 *
 * The entry probes sit on the prologue's stack check, "cmp ..,0x10(r14);
 * jbe morestack", at the jbe: the kernel emulates it (a probe there costs
 * a fraction of a single-stepped one) and the arguments are untouched. */
#pragma once

#ifdef __TARGET_ARCH_x86

#define X86_CF 0x01
#define X86_ZF 0x40

/* The jbe will be taken (CF or ZF): the stack grows, and the runtime
 * re-enters the function from its start. Only the next pass is the call. */
static __always_inline bool go_stack_grows(const struct pt_regs *regs)
{
	return regs->flags & (X86_CF | X86_ZF);
}

struct go_call_key {
	__u64 g; /* the goroutine's runtime.g */
	__u32 tgid;
	__u32 pad;
};

/* A Read in flight, and the end of its goroutine's stack at entry when
 * the buffer is on that stack (0: elsewhere). */
struct go_read {
	struct ssl_call call;
	__u64 stack_hi;
};

/* Reads in flight per goroutine. LRU: a goroutine that died inside Read
 * (a panic) leaves its entry behind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_INFLIGHT);
	__type(key, struct go_call_key);
	__type(value, struct go_read);
} go_active SEC(".maps");

/* The goroutine's stack: runtime.g begins with stack{lo, hi}. */
static __always_inline bool go_stack(__u64 g, __u64 *lo, __u64 *hi)
{
	__u64 st[2];
	if (bpf_probe_read_user(st, sizeof(st), (void *)g))
		return false;
	*lo = st[0];
	*hi = st[1];
	return true;
}

/* A buffer on the goroutine stack (a slice that does not escape) moves
 * when the stack grows inside Read: the runtime copies the stack and
 * shifts every pointer into it by new hi - old hi; so does this. */
static __always_inline void go_follow_stack(struct go_read *r, __u64 g)
{
	__u64 lo, hi;
	if (r->stack_hi && go_stack(g, &lo, &hi) && hi != r->stack_hi)
		r->call.buf += hi - r->stack_hi;
}

/* The socket under a *tls.Conn: its conn field (net.Conn, first) holds a
 * *net.TCPConn, whose first word is its *netFD; netFD.pfd.Sysfd follows
 * the 16-byte fdMutex. Trusted only when it names a TCP socket of the
 * process: another net.Conn under TLS reads as -1, or at worst as an
 * unrelated socket's fd (the peer shown would be wrong). */
static __always_inline __s32 go_conn_fd(__u64 conn)
{
	__u64 tcp = 0, nfd = 0;
	__s64 fd = -1;
	if (bpf_probe_read_user(&tcp, sizeof(tcp), (void *)(conn + 8)) || !tcp ||
	    bpf_probe_read_user(&nfd, sizeof(nfd), (void *)tcp) || !nfd ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(nfd + 16)))
		return -1;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (fd < 0 || fd >= max)
		return -1;
	return fd_tcp_sock(fd) ? fd : -1;
}

/* The connection's state with its fd learned (for the peer, close(2) and
 * backpressure), or NULL. */
static __always_inline struct conn_state *go_conn(struct ssl_call *call, __u32 tgid)
{
	struct conn_state *st = conn_get(call->ssl, tgid);
	if (st && st->fd < 0) {
		call->fd = go_conn_fd(call->ssl);
		learn_fd(call, st, tgid);
	}
	return st;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u64 conn, __u64 buf, __u64 len, __u64 g,
                                    __u16 src, __u16 dir)
{
	count_hit(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (go_stack_grows(ctx) || !traced(tgid))
		return 0;
	stat_add(LLMOBS_STAT_HITS, 1);
	if (is_muted(conn, tgid))
		return 0;
	struct go_read r = {.call = {
	                        .ssl = conn,
	                        .buf = buf,
	                        .ts = bpf_ktime_get_ns(),
	                        .num = len > 0x7fffffff ? 0x7fffffff : len,
	                        .fd = -1,
	                        .src = src,
	                        .dir = dir,
	                    }};
	if (!go_conn(&r.call, tgid))
		return 0;
	if (dir == LLMOBS_DIR_WRITE) { /* copied now: nothing moves it */
		if (r.call.num)
			enter_write(&r.call, tgid);
		return 0;
	}
	__u64 lo, hi;
	if (go_stack(g, &lo, &hi) && buf >= lo && buf < hi)
		r.stack_hi = hi;
	sample_socket(conn, tgid, &r.call);
	struct go_call_key k = {.g = g, .tgid = tgid};
	bpf_map_update_elem(&go_active, &k, &r, BPF_ANY);
	return 0;
}

/* At a RET of Read: n bytes are in the saved buffer (err may be set too). */
static __always_inline int go_read_return(void *ctx, __u64 g, long n)
{
	count_hit(ctx);
	struct go_call_key k = {.g = g, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct go_read *r = bpf_map_lookup_elem(&go_active, &k);
	if (!r)
		return 0;
	go_follow_stack(r, g);
	struct conn_state *st = conn_get(r->call.ssl, k.tgid);
	if (st)
		exit_read(&r->call, st, n > 0 ? n : 0);
	bpf_map_delete_elem(&go_active, &k);
	return 0;
}

/* ---- Programs: thin wrappers around the helpers above ---- */

/* func (c *Conn) Write(b []byte) (int, error), at its stack check */
SEC("uprobe")
int BPF_KPROBE(go_tls_write_enter)
{
	return go_enter(ctx, ctx->ax, ctx->bx, ctx->cx, ctx->r14, LLMOBS_SRC_GO_WRITE,
	                LLMOBS_DIR_WRITE);
}

/* func (c *Conn) Read(b []byte) (int, error), at its stack check */
SEC("uprobe")
int BPF_KPROBE(go_tls_read_enter)
{
	return go_enter(ctx, ctx->ax, ctx->bx, ctx->cx, ctx->r14, LLMOBS_SRC_GO_READ,
	                LLMOBS_DIR_READ);
}

/* Each RET instruction of Read: n in rax. */
SEC("uprobe")
int BPF_KPROBE(go_tls_read_ret)
{
	return go_read_return(ctx, ctx->r14, (long)ctx->ax);
}

/* func (c *Conn) Close() error, at its stack check */
SEC("uprobe")
int BPF_KPROBE(go_tls_close_enter)
{
	if (go_stack_grows(ctx)) {
		count_hit(ctx);
		return 0;
	}
	return ssl_end(ctx, ctx->ax, LLMOBS_SRC_GO_CLOSE);
}

#else
/* Go's registers are read on x86-64 only: tls_go.c probes no other file,
 * and the programs the table names only count. */

SEC("uprobe")
int BPF_KPROBE(go_tls_write_enter)
{
	count_hit(ctx);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_tls_read_enter)
{
	count_hit(ctx);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_tls_read_ret)
{
	count_hit(ctx);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_tls_close_enter)
{
	count_hit(ctx);
	return 0;
}

#endif
