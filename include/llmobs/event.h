/* Capture event ABI shared by bpf/ and daemon/.
 *
 * Every record in the ring buffer (and in a --record file) starts with a
 * fixed struct llmobs_event; payload bytes, if any, follow it directly.
 * Never put metadata after the payload: the payload length varies per
 * record. Bump LLMOBS_ABI_VERSION on any layout change (recordings carry it).
 */
#ifndef LLMOBS_EVENT_H
#define LLMOBS_EVENT_H

#ifdef __BPF__
/* vmlinux.h provides __u8.. __u64 */
#else
#include <linux/types.h>
#endif

#define LLMOBS_ABI_VERSION 2
#define LLMOBS_COMM_LEN    16
/* Largest payload of one record; bigger SSL calls are split into several
 * records with increasing pos. Power of two (the verifier bounds sizes with
 * a mask). */
#define LLMOBS_MAX_DATA 16384
/* Longest single SSL call copied (in LLMOBS_MAX_DATA pieces); the rest is
 * counted as truncated (orig_len > captured) and reported downstream. */
#define LLMOBS_MAX_SEGMENTS 64
/* Plaintext socket connections are keyed by a generation with this bit
 * set, so they never collide with an SSL* in the daemon's table. */
#define LLMOBS_PLAIN_CONN (1ull << 63)
/* ...and this bit marks the server side: a socket accept()ed on a followed
 * port from a non-loopback peer (requests are read, responses written). */
#define LLMOBS_PLAIN_SERVER    (1ull << 62)
#define LLMOBS_MAX_PLAIN_PORTS 64

enum llmobs_event_type {
	LLMOBS_EV_DATA = 1,    /* plaintext of one SSL call (or a piece of it) */
	LLMOBS_EV_CONNECT = 2, /* connect(2) on an AF_INET/AF_INET6 socket */
	/* the connection is gone: SSL_free, SSL_shutdown, or close(2) of its
	 * socket (src says which) */
	LLMOBS_EV_CLOSE = 3,
	LLMOBS_EV_EXIT = 4, /* process exit: all its connections are gone */
	/* a write wrote less than was copied at its entry: discard the rest
	 * (the app writes it again). pos = the call's first byte, orig_len =
	 * the bytes it wrote (0: it failed; ABI 2 recordings always have 0) */
	LLMOBS_EV_WRITE_FAIL = 5,
	/* a process exec'd (src EXEC) or mapped a file executable (src MMAP)
	 * that the daemon has not dismissed: conn = inode number, pos = device
	 * (kernel encoding: major << 20 | minor). Discovery, not pipeline. */
	LLMOBS_EV_MAPPED = 6,
	/* an SSL write that took >= 1 ms (the app blocked on a full socket):
	 * call_id of the write, lag_us = its duration */
	LLMOBS_EV_WRITE_DONE = 7,
	/* the first bytes written on a TCP socket the process connect()ed (not
	 * a followed plaintext port), outside any probed SSL call, were a TLS
	 * ClientHello: fd and the peer as in CONNECT, and the executable as in
	 * MAPPED (conn = inode, pos = device). Blind-spot tracking. */
	LLMOBS_EV_TLS_HELLO = 8,
	LLMOBS_EV__MAX = 9,
};

enum llmobs_dir {
	LLMOBS_DIR_WRITE = 0, /* app -> peer (request) */
	LLMOBS_DIR_READ = 1,  /* peer -> app (response) */
};

/* The other direction: on the server side of a plaintext connection the
 * requests are read and the responses written. */
static inline __u16 llmobs_dir_other(__u16 dir)
{
	return dir == LLMOBS_DIR_WRITE ? LLMOBS_DIR_READ : LLMOBS_DIR_WRITE;
}

enum llmobs_src {
	LLMOBS_SRC_NONE = 0,
	LLMOBS_SRC_SSL_WRITE = 1,
	LLMOBS_SRC_SSL_WRITE_EX = 2,
	LLMOBS_SRC_SSL_READ = 3,
	LLMOBS_SRC_SSL_READ_EX = 4,
	LLMOBS_SRC_SSL_FREE = 5,
	LLMOBS_SRC_CONNECT = 6,
	LLMOBS_SRC_EXIT = 7,
	LLMOBS_SRC_SOCK_WRITE = 8, /* plaintext socket: write/sendto */
	LLMOBS_SRC_SOCK_READ = 9,  /* plaintext socket: read/recvfrom */
	LLMOBS_SRC_ACCEPT = 10,    /* plaintext socket accepted (server side) */
	LLMOBS_SRC_SSL_SHUTDOWN = 11,
	LLMOBS_SRC_CLOSE = 12, /* close(2) of the socket an SSL connection used */
	LLMOBS_SRC_EXEC = 13,
	LLMOBS_SRC_MMAP = 14,
	LLMOBS_SRC_GNUTLS_SEND = 15, /* gnutls_record_send and its variants */
	LLMOBS_SRC_GNUTLS_RECV = 16, /* gnutls_record_recv and its variants */
	LLMOBS_SRC_GNUTLS_BYE = 17,
	LLMOBS_SRC_GNUTLS_DEINIT = 18,
	LLMOBS_SRC_GO_WRITE = 19, /* Go crypto/tls.(*Conn).Write */
	LLMOBS_SRC_GO_READ = 20,  /* Go crypto/tls.(*Conn).Read */
	LLMOBS_SRC_GO_CLOSE = 21, /* Go crypto/tls.(*Conn).Close */
};

/* Probe hit counters ("probe_hits" per-CPU array): each uprobe carries a
 * BPF cookie indexing its counter. A file slot owns LLMOBS_PROBE_PER_FILE
 * counters: its entry probes, then its return probes, one per function. */
#define LLMOBS_PROBE_FUNCS     8 /* functions probed per file, at most */
#define LLMOBS_PROBE_PER_FILE  (2 * LLMOBS_PROBE_FUNCS)
#define LLMOBS_MAX_PROBE_FILES 256
#define LLMOBS_PROBE_SLOTS     (LLMOBS_PROBE_PER_FILE * LLMOBS_MAX_PROBE_FILES)

static inline __u32 llmobs_probe_cookie(__u32 slot, __u32 func, int ret)
{
	return slot * LLMOBS_PROBE_PER_FILE + (ret ? LLMOBS_PROBE_FUNCS : 0) + func;
}

/* State of an executable file in the "files" map (set by the daemon). */
enum llmobs_file_state {
	LLMOBS_FILE_IGNORED = 1, /* no SSL functions: never report it again */
	LLMOBS_FILE_PROBED = 2,  /* probed: report new users (exec/mmap) */
};

/* A connection as BPF keys it ("conns", "muted") and the daemon's table
 * does: the SSL* (or a plaintext generation, LLMOBS_PLAIN_CONN) in a process. */
struct llmobs_conn_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad; /* 0: the key is hashed whole */
};
_Static_assert(sizeof(struct llmobs_conn_key) == 16, "llmobs_conn_key: 16 bytes, no holes");

struct llmobs_file_key {
	__u64 ino;
	__u32 dev; /* kernel encoding */
	__u32 pad;
};

struct llmobs_event {
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 conn;    /* SSL* of the connection (0 for CONNECT/EXIT) */
	__u64 pos;     /* offset of data[0] in this direction's byte stream */
	__u64 call_id; /* per-CPU-unique id of the SSL call (pieces share it) */
	__u32 type;    /* enum llmobs_event_type */
	__u32 tgid;
	__u32 tid;
	__s32 fd;                     /* socket fd when known, else -1 */
	__u32 len;                    /* payload bytes in this record */
	__u32 orig_len;               /* bytes the SSL call moved in total */
	__u32 offset;                 /* offset of data[0] within the call */
	__u16 dir;                    /* enum llmobs_dir */
	__u16 src;                    /* enum llmobs_src */
	char comm[LLMOBS_COMM_LEN];   /* the process: its thread-group leader's name */
	char thread[LLMOBS_COMM_LEN]; /* the thread that made the call (ABI 2) */
	union {
		struct {              /* CONNECT, TLS_HELLO: peer address (network order) */
			__u16 family; /* AF_INET or AF_INET6 */
			__u16 port;
			__u8 addr[16];
		};
		struct {                   /* DATA, dir READ: the socket when the read began
			                    * (bp_valid = 0: unknown, e.g. memory BIOs) */
			__u32 unread;      /* bytes received, not yet read by the app */
			__u32 lag_us;      /* since the oldest of them arrived */
			__u32 rcvq_full;   /* receive-queue-full drops on this socket, so far */
			__u32 zero_window; /* segments that found our window at 0, so far */
			__u16 bp_valid;
			__u16 bp_pad;
		};
		/* WRITE_DONE: how long the SSL_write blocked, in lag_us */
	};
	__u32 _pad;
	/* payload (len bytes) follows */
};

/* Index of the per-CPU counters in the "stats" array map. */
enum llmobs_stat {
	LLMOBS_STAT_EVENTS = 0,        /* records submitted */
	LLMOBS_STAT_RB_DROPS = 1,      /* records the ring buffer rejected */
	LLMOBS_STAT_RB_DROP_BYTES = 2, /* payload bytes in those records */
	LLMOBS_STAT_TRUNC_BYTES = 3,   /* bytes past LLMOBS_MAX_SEGMENTS pieces */
	LLMOBS_STAT_READ_FAULTS = 4,   /* bpf_probe_read_user failures */
	LLMOBS_STAT_HITS = 5,          /* SSL probe hits (all kinds) */
	LLMOBS_STAT_MUTED = 6,         /* SSL calls on muted connections, not copied */
	LLMOBS_STAT__MAX = 8,
};

#endif
