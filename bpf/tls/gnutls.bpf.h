/* GnuTLS uprobes: gnutls_record_* carry the plaintext, keyed by the
 * gnutls_session_t as OpenSSL's calls are by SSL* (the helpers of
 * openssl.bpf.h do the work). */
#pragma once

/* The largest plaintext of a TLS record: gnutls_record_send writes no more
 * per call and returns how much it wrote (a partial write). */
#define GNUTLS_MAX_RECORD 16384

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t size);
 * gnutls_record_send2 and gnutls_record_send_range take the same first
 * three (gnutls_record_send tail-calls send2: the nested-call check keeps
 * one copy). */
SEC("uprobe")
int BPF_KPROBE(gnutls_send_enter, void *session, const void *data, size_t size)
{
	/* one call sends at most one record: copy no more than that */
	__u32 n = size > GNUTLS_MAX_RECORD ? GNUTLS_MAX_RECORD : size;
	return ssl_enter(ctx, (__u64)session, (__u64)data, n, 0, LLMOBS_SRC_GNUTLS_SEND,
	                 LLMOBS_DIR_WRITE);
}

/* ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t size);
 * gnutls_record_recv_seq takes the same first three. */
SEC("uprobe")
int BPF_KPROBE(gnutls_recv_enter, void *session, void *data, size_t size)
{
	__u32 n = size > 0x7fffffff ? 0x7fffffff : size;
	return ssl_enter(ctx, (__u64)session, (__u64)data, n, 0, LLMOBS_SRC_GNUTLS_RECV,
	                 LLMOBS_DIR_READ);
}

/* They return ssize_t: bytes moved, or a negative GNUTLS_E_* code
 * (GNUTLS_E_AGAIN, GNUTLS_E_INTERRUPTED, GNUTLS_E_REHANDSHAKE...). */
SEC("uretprobe")
int BPF_KRETPROBE(gnutls_exit_ret, long ret)
{
	return ssl_exit(ctx, ret);
}

/* int gnutls_bye(gnutls_session_t session, gnutls_close_request_t how) */
SEC("uprobe")
int BPF_KPROBE(gnutls_bye_enter, void *session)
{
	return ssl_end(ctx, (__u64)session, LLMOBS_SRC_GNUTLS_BYE);
}

/* void gnutls_deinit(gnutls_session_t session) */
SEC("uprobe")
int BPF_KPROBE(gnutls_deinit_enter, void *session)
{
	return ssl_end(ctx, (__u64)session, LLMOBS_SRC_GNUTLS_DEINIT);
}
