/* Backpressure on SSL sockets: arrivals, receive-queue-full drops, zero-window segments. */
#pragma once

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
