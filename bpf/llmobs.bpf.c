// SPDX-License-Identifier: GPL-2.0
/* llmobs capture: plaintext of OpenSSL and GnuTLS calls, the socket they use, and the
 * peers they connect to, pushed through one ring buffer (include/llmobs/event.h).
 *
 * One BPF object, built from the headers below by concern. The order
 * matters: each header uses only what the ones above it define. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "llmobs/event.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 targ_tgid = 0; /* 0: every process */
const volatile __u32 self_tgid = 0; /* never trace the daemon itself */
const volatile bool filter_comm = false;
const volatile char targ_comm[LLMOBS_COMM_LEN] = {}; /* process name (group leader) */
const volatile bool filter_cgroup = false;           /* cgroup_filter[0] and below */
/* Data records wake the consumer only past this much unread data; it polls
 * every few ms anyway. One wakeup per record would cost more than the
 * record (set by the loader: a quarter of the ring). */
const volatile __u64 wakeup_bytes = 1 << 20;

#include "lib/maps.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/emit.bpf.h"
#include "lib/sock.bpf.h"
#include "tls/openssl.bpf.h"
#include "tls/gnutls.bpf.h"
#include "tls/go.bpf.h"
#include "sys/hello.bpf.h"
#include "sys/plain.bpf.h"
#include "sys/peer.bpf.h"
#include "sys/proc.bpf.h"
#include "sys/backpressure.bpf.h"
