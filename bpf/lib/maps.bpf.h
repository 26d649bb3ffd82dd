/* Maps more than one concern uses (SSL connection state), and every map size, named once. */
#pragma once

#define RINGBUF_SIZE (8 << 20) /* the default; resized by --ringbuf-size */
#define MAX_CONNS    65536     /* SSL connections, and their sockets' fds */
#define MAX_MUTED    16384     /* SSL connections muted by the daemon */
#define MAX_SOCKS    16384     /* sockets watched for backpressure; plaintext ones followed */
#define MAX_INFLIGHT 16384     /* SSL calls and plaintext syscalls in flight, per thread */
#define MAX_PENDING  4096      /* connect, accept and mmap in flight, per thread */
#define MAX_PROCS    4096      /* processes owning followed plaintext sockets */
#define MAX_FILES    16384     /* executable files the daemon has looked at */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_SIZE);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LLMOBS_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_INFLIGHT);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ssl_call);
} active SEC(".maps");

struct conn_state {
	__u64 pos[2]; /* bytes seen per direction */
	__u64 sk;     /* struct sock * of fd, for backpressure (0: unknown) */
	__s32 fd;
	/* GnuTLS: a write returned E_AGAIN or E_INTERRUPTED with its record
	 * buffered (its data is in the stream); the retry sends that record,
	 * whatever data it passes */
	__u32 send_pending;
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
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct bp_sock);
} bp_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_CONNS);
	__type(key, struct llmobs_conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* Connections the daemon has no use for (the server side of a local TLS
 * server, not HTTP/1): their calls are not copied any more. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_MUTED);
	__type(key, struct llmobs_conn_key);
	__type(value, __u8);
} muted SEC(".maps");

/* A socket of a process: the key of ssl_fds and of plain_fds. */
struct plain_key {
	__u32 tgid;
	__s32 fd;
};

/* Closing an SSL connection's socket ends it: fd -> SSL*. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_CONNS);
	__type(key, struct plain_key);
	__type(value, __u64);
} ssl_fds SEC(".maps");
