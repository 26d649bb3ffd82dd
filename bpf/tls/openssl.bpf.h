/* SSL_* uprobes: the plaintext of each call at its connection's position, and its end. */
#pragma once

/* An SSL function probed inside another one's call (SSL_read probed at its
 * symbol calling an internal function probed for SSL_read_ex;
 * gnutls_record_send tail-calling gnutls_record_send2) is the same call:
 * the outer one owns it. Entries older than this are stale... */
#define NESTED_WINDOW_NS 1000000
/* ...unless the inner call has the outer one's buffer and size: the thread
 * may have been preempted between the two entries, and copying the data
 * twice would duplicate it in the stream. */
#define NESTED_SAME_ARGS_NS 1000000000ull
/* A write that took this long blocked on a full socket: WRITE_DONE says so. */
#define WRITE_BLOCKED_NS 1000000

/* Hits per probe, indexed by its cookie (llmobs_probe_cookie()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LLMOBS_PROBE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

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
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn_state *st = bpf_map_lookup_elem(&conns, &k);
	if (st)
		return st;
	struct conn_state init = {.fd = -1};
	bpf_map_update_elem(&conns, &k, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, &k);
}

/* ---- Entry ---- */

static __always_inline bool is_muted(__u64 ssl, __u32 tgid)
{
	struct llmobs_conn_key mk = {.ssl = ssl, .tgid = tgid};
	if (!bpf_map_lookup_elem(&muted, &mk))
		return false;
	stat_add(LLMOBS_STAT_MUTED, 1);
	return true;
}

/* A probed function inside the thread's call in flight: counted as nested,
 * the outer call owns it. */
static __always_inline bool nested(__u64 id, const struct ssl_call *call)
{
	struct ssl_call *outer = bpf_map_lookup_elem(&active, &id);
	if (!outer || outer->ssl != call->ssl || outer->dir != call->dir)
		return false;
	__u64 age = call->ts - outer->ts;
	bool same_args = outer->buf == call->buf && outer->num == call->num;
	if (age < NESTED_WINDOW_NS || (same_args && age < NESTED_SAME_ARGS_NS)) {
		outer->depth++;
		return true;
	}
	return false;
}

/* Writes are copied at entry: the data is all there. Position advances
 * now; a failed write (retried by the app) emits WRITE_FAIL at return and
 * rolls it back. False: no connection state (the call is not tracked). */
static __always_inline bool enter_write(struct ssl_call *call, __u32 tgid)
{
	struct conn_state *st = conn_get(call->ssl, tgid);
	if (!st)
		return false;
	if (st->send_pending) { /* a GnuTLS retry: its data was copied the first time */
		call->num = 0;
		return true;
	}
	struct emit_ctx c = {
	    .ssl = call->ssl,
	    .buf = call->buf,
	    .pos = st->pos[LLMOBS_DIR_WRITE],
	    .call_id = call->ts,
	    .ts = call->ts,
	    .total = call->num,
	    .fd = st->fd,
	    .dir = LLMOBS_DIR_WRITE,
	    .src = call->src,
	};
	st->pos[LLMOBS_DIR_WRITE] += call->num;
	emit_data(&c);
	return true;
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
	if (is_muted(ssl, tgid))
		return 0;
	struct ssl_call call = {
	    .ssl = ssl,
	    .buf = buf,
	    .len_ptr = len_ptr,
	    .ts = bpf_ktime_get_ns(),
	    .num = num,
	    .fd = -1,
	    .src = src,
	    .dir = dir,
	};
	if (nested(id, &call))
		return 0;
	if (dir == LLMOBS_DIR_READ)
		sample_socket(ssl, tgid, &call);
	if (dir == LLMOBS_DIR_WRITE && num > 0 && !enter_write(&call, tgid))
		return 0;
	bpf_map_update_elem(&active, &id, &call, BPF_ANY);
	return 0;
}

/* ---- Return ---- */

/* The first socket syscall made inside a call names the connection's fd:
 * close(2) of it ends the connection (ssl_fds), and its TCP socket is
 * watched for backpressure (bp_socks). */
static __always_inline void learn_fd(const struct ssl_call *call, struct conn_state *st, __u32 tgid)
{
	if (call->fd < 0 || st->fd == call->fd)
		return;
	struct plain_key fk = {.tgid = tgid, .fd = call->fd};
	st->fd = call->fd;
	bpf_map_update_elem(&ssl_fds, &fk, &call->ssl, BPF_ANY);
	struct sock *sk = fd_tcp_sock(call->fd);
	if (sk) {
		struct bp_sock fresh = {};
		st->sk = (__u64)sk;
		bpf_map_update_elem(&bp_socks, &st->sk, &fresh, BPF_ANY);
	}
}

/* The bytes the call moved: its return value, or *len_ptr for the _ex
 * forms (they return 1; internal functions probed for them return > 0). */
static __always_inline __u64 moved_bytes(const struct ssl_call *call, long ret)
{
	__u64 moved = 0;
	if (call->src == LLMOBS_SRC_SSL_READ_EX || call->src == LLMOBS_SRC_SSL_WRITE_EX) {
		if (ret > 0 && call->len_ptr)
			bpf_probe_read_user(&moved, sizeof(moved), (void *)call->len_ptr);
	} else if (ret > 0) {
		moved = ret;
	}
	return moved;
}

static __always_inline void emit_write_done(const struct ssl_call *call, __s32 fd)
{
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_WRITE_DONE, call->src, fd);
	if (!e)
		return;
	e->conn = call->ssl;
	e->call_id = call->ts;
	e->lag_us = (e->ts_ns - call->ts) / 1000;
	ctl_submit(e, 0);
}

/* GnuTLS's "call again": the record is encrypted and buffered, the data
 * consumed (gnutls_record_send(3)). */
#define GNUTLS_E_AGAIN       -28
#define GNUTLS_E_INTERRUPTED -52

/* WRITE_FAIL: the call at `start` wrote `moved` of the bytes copied at
 * its entry; the rest is taken back. */
static __always_inline void emit_write_fail(const struct ssl_call *call, __s32 fd, __u64 start,
                                            __u64 moved)
{
	struct llmobs_event *e = ctl_reserve(LLMOBS_EV_WRITE_FAIL, call->src, fd);
	if (!e)
		return;
	e->conn = call->ssl;
	e->call_id = call->ts;
	e->pos = start;
	e->orig_len = moved;
	ctl_submit(e, 0);
}

/* A write's data went out at entry: what it did not write (all of it when
 * it failed, the tail of a partial write) takes its position back, since
 * the app will write those bytes again, except GnuTLS's buffered retries;
 * a long one says it blocked. */
static __always_inline void exit_write(const struct ssl_call *call, struct conn_state *st,
                                       __u64 moved, long ret)
{
	if (call->src == LLMOBS_SRC_GNUTLS_SEND) {
		st->send_pending = ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED;
		if (st->send_pending)
			return;
	}
	if (moved < call->num) {
		__u64 start = st->pos[LLMOBS_DIR_WRITE] - call->num;
		st->pos[LLMOBS_DIR_WRITE] = start + moved;
		emit_write_fail(call, st->fd, start, moved);
	} else if (bpf_ktime_get_ns() - call->ts >= WRITE_BLOCKED_NS) {
		emit_write_done(call, st->fd);
	}
}

/* A read's data is there at return: copied with the socket's state. */
static __always_inline void exit_read(const struct ssl_call *call, struct conn_state *st,
                                      __u64 moved)
{
	if (moved == 0)
		return;
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
	report_socket(&c, call, st, now);
	st->pos[LLMOBS_DIR_READ] += moved;
	emit_data(&c);
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
	if (st) {
		learn_fd(call, st, tgid);
		__u64 moved = moved_bytes(call, ret);
		if (call->dir == LLMOBS_DIR_WRITE)
			exit_write(call, st, moved, ret);
		else
			exit_read(call, st, moved);
	}
	bpf_map_delete_elem(&active, &id);
	return 0;
}

/* ---- The connection's end ---- */

static __always_inline int ssl_end(void *ctx, __u64 ssl, __u16 src)
{
	count_hit(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!traced(tgid))
		return 0;
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
	struct conn_state *st = bpf_map_lookup_elem(&conns, &k);
	if (!st) {
		/* never carried data we saw (a failed handshake, or already
		 * shut down): still an SSL call of the process, which tells
		 * blind-spot tracking its TLS is probed. Once per connection. */
		emit_ctl(LLMOBS_EV_CLOSE, ssl, 0, src, -1);
		return 0;
	}
	emit_ctl(LLMOBS_EV_CLOSE, ssl, 0, src, st->fd);
	bpf_map_delete_elem(&muted, &k);
	if (st->fd >= 0) {
		struct plain_key fk = {.tgid = tgid, .fd = st->fd};
		bpf_map_delete_elem(&ssl_fds, &fk);
	}
	bpf_map_delete_elem(&conns, &k);
	return 0;
}

/* ---- Programs: thin wrappers around the helpers above ---- */

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
