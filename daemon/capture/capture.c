/* Loads the BPF object, attaches it, and drains the ring buffer. */
#include "capture/capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/attach.h"
#include "capture/blind.h"
#include "capture/proc_exe.h"
#include "core/buf.h"
#include "core/clock.h"
#include "capture/discover.h"
#include "core/loghist.h"
#include "llmobs.skel.h"
#include "core/log.h"

#define DELAY_BUCKETS LOGHIST_BUCKETS

struct capture {
	struct llmobs_bpf *skel;
	struct ring_buffer *rb;
	struct attach_set links;
	struct recorder *rec;
	const struct capture_hooks *hooks;
	uint32_t ringbuf_bytes;
	uint64_t record_errors;
	/* The ring's consumer and producer positions (read-only mappings of
	 * the map's first two pages), for the fill level. */
	const volatile unsigned long *cons_pos, *prod_pos;
	_Atomic uint64_t fill_now, fill_max; /* bytes, sampled before each drain */
	uint64_t drops_seen, drop_bytes_seen, drops_checked_ns;
	/* capture -> pipeline delay of data records: when what a program read
	 * or wrote became visible in the API. Log-linear buckets of us. */
	_Atomic uint64_t delay_hist[DELAY_BUCKETS];
	_Atomic uint64_t delay_max_us;
};

#define POLL_MS 4

static atomic_bool running;
static struct capture *muting; /* for capture_mute */

void capture_mute(uint32_t tgid, uint64_t ssl)
{
	struct llmobs_conn_key k = {.ssl = ssl, .tgid = tgid};
	uint8_t one = 1;
	if (muting)
		bpf_map__update_elem(muting->skel->maps.muted, &k, sizeof(k), &one, sizeof(one),
		                     BPF_ANY);
}

bool capture_running(void)
{
	return atomic_load(&running);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct llmobs_event *ev = data;
	if (c->rec && record_write(c->rec, data, size) < 0 && !c->record_errors++)
		log_error("writing the recording failed; recording stopped");
	if (size >= sizeof(*ev) && ev->type == LLMOBS_EV_DATA) {
		uint64_t now = clock_mono_ns();
		uint64_t us = now > ev->ts_ns ? (now - ev->ts_ns) / 1000 : 0;
		atomic_fetch_add(&c->delay_hist[loghist_bucket(us)], 1);
		if (us > atomic_load(&c->delay_max_us))
			atomic_store(&c->delay_max_us, us);
	}
	/* Discovery and blind spots happen here, outside the BPF-free pipeline. */
	if (size >= sizeof(*ev)) {
		switch (ev->type) {
		case LLMOBS_EV_DATA:
		case LLMOBS_EV_CLOSE: /* SSL_free, SSL_shutdown: after a failed handshake too */
			if (!(ev->conn & LLMOBS_PLAIN_CONN))
				blind_ssl_data(ev->tgid, ev->fd);
			break;
		case LLMOBS_EV_TLS_HELLO:
			blind_hello(ev);
			break;
		case LLMOBS_EV_MAPPED:
			discover_mapped(ev);
			break;
		case LLMOBS_EV_EXIT:
			blind_exit(ev->tgid);
			discover_exit(ev->tgid);
			break;
		}
	}
	c->hooks->record(data, size);
	return 0;
}

static uint64_t stat_sum(struct capture *c, uint32_t k)
{
	return attach_percpu_sum(bpf_map__fd(c->skel->maps.stats), k);
}

/* A "buffer_full" live event when the ring rejected records (checked at
 * most every 100 ms). */
static void check_drops(struct capture *c)
{
	uint64_t now = clock_mono_ns();
	if (now - c->drops_checked_ns < 100000000ull)
		return;
	c->drops_checked_ns = now;
	uint64_t drops = stat_sum(c, LLMOBS_STAT_RB_DROPS);
	if (drops == c->drops_seen)
		return;
	uint64_t bytes = stat_sum(c, LLMOBS_STAT_RB_DROP_BYTES);
	c->hooks->ring_drops(drops - c->drops_seen, bytes - c->drop_bytes_seen, drops);
	c->drops_seen = drops;
	c->drop_bytes_seen = bytes;
}

static struct llmobs_bpf *open_and_load(const struct capture_opts *o, bool optional)
{
	struct llmobs_bpf *skel = llmobs_bpf__open();
	if (!skel) {
		log_error("cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->targ_tgid = o->pid;
	skel->rodata->self_tgid = (uint32_t)getpid();
	if (o->comm) {
		skel->rodata->filter_comm = true;
		strncpy((char *)skel->rodata->targ_comm, o->comm,
		        sizeof(skel->rodata->targ_comm) - 1);
	}
	skel->rodata->filter_cgroup = o->cgroup_dir != NULL;
	skel->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	bpf_map__set_max_entries(skel->maps.rb, o->ringbuf_bytes);
	if (attach_set_optional(skel, optional)) {
		llmobs_bpf__destroy(skel);
		return NULL;
	}
	int err = llmobs_bpf__load(skel);
	if (err) {
		log_error("loading the BPF programs failed: %s%s", strerror(-err),
		          optional ? " (retrying without the optional ones)" : "");
		llmobs_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static void map_positions(struct capture *c)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = bpf_map__fd(c->skel->maps.rb);
	void *cons = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	void *prod = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, page);
	if (cons == MAP_FAILED || prod == MAP_FAILED) {
		log_warn("ring buffer fill level unavailable: %s", strerror(errno));
		if (cons != MAP_FAILED)
			munmap(cons, (size_t)page);
		if (prod != MAP_FAILED)
			munmap(prod, (size_t)page);
		return;
	}
	c->cons_pos = cons;
	c->prod_pos = prod;
}

/* Bytes written by BPF and not yet consumed. */
static uint64_t ring_fill(struct capture *c)
{
	if (!c->prod_pos)
		return 0;
	unsigned long p = __atomic_load_n(c->prod_pos, __ATOMIC_ACQUIRE);
	unsigned long q = __atomic_load_n(c->cons_pos, __ATOMIC_ACQUIRE);
	return p > q ? p - q : 0;
}

struct capture *capture_start(const struct capture_opts *o)
{
	libbpf_set_print(libbpf_log);
	if (tracefs_ensure() != 0)
		log_warn("continuing without tracefs: tracepoints may fail to attach");

	struct capture *c = xcalloc(1, sizeof(*c));
	c->rec = o->rec;
	c->hooks = o->hooks;
	c->ringbuf_bytes = o->ringbuf_bytes;
	c->skel = open_and_load(o, true);
	if (!c->skel)
		c->skel = open_and_load(o, false);
	if (!c->skel)
		goto fail;
	if (attach_plain_ports(c->skel, o->plain_ports, o->nplain_ports) != 0)
		goto fail;
	if (o->cgroup_dir && attach_cgroup_filter(c->skel, o->cgroup_dir) != 0)
		goto fail;
	/* Tracepoints first: a process that starts while we scan is reported. */
	attach_tracepoints(c->skel, &c->links);
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.rb), on_record, c, NULL);
	if (!c->rb) {
		log_error("cannot set up the ring buffer consumer: %s", strerror(errno));
		goto fail;
	}
	map_positions(c);
	struct discover_filter df = {o->pid, o->comm, o->cgroup_path, o->probe_symbols};
	discover_init(c->skel, &df);
	struct blind_env be = {
	    .exe = proc_exe_lookup, .probed = discover_pid_probed, .locating = discover_locating};
	blind_init(&be);
	unsigned pinned = discover_pinned(o->libssl);
	discover_scan_all();
	discover_start();
	struct discover_stats ds;
	discover_stats(&ds);
	if (!ds.uprobes && !c->links.exec_watch) {
		log_error("no file with OpenSSL to probe, and new processes cannot be watched "
		          "(sched_process_exec): nothing to capture");
		goto fail;
	}
	if (!ds.uprobes)
		log_warn("no process uses OpenSSL yet; probes attach as processes load it");
	muting = c;
	atomic_store(&running, true);
	log_info("capturing: %u probes on %u file(s) (%u pinned), ring buffer %u KiB%s%s",
	         ds.uprobes, ds.files_library + ds.files_executable, pinned, o->ringbuf_bytes >> 10,
	         c->links.exec_watch ? ", watching new processes" : "",
	         o->pid || o->comm || o->cgroup_dir ? " (filtered)" : "");
	return c;
fail:
	capture_stop(c);
	return NULL;
}

int capture_run(struct capture *c, volatile sig_atomic_t *stop)
{
	struct pollfd pfd = {.fd = ring_buffer__epoll_fd(c->rb), .events = POLLIN};
	while (!*stop) {
		/* Data records do not wake us (one wakeup per record would cost
		 * more than the record): poll often. Held writes are flushed and
		 * the data is visible within POLL_MS. */
		int n = poll(&pfd, 1, POLL_MS);
		if (n < 0 && errno != EINTR) {
			log_error("poll on the ring buffer failed: %s", strerror(errno));
			return -1;
		}
		uint64_t fill = ring_fill(c);
		atomic_store(&c->fill_now, fill);
		if (fill > atomic_load(&c->fill_max))
			atomic_store(&c->fill_max, fill);
		c->hooks->batch_begin();
		int got = ring_buffer__consume(c->rb);
		c->hooks->batch_end();
		discover_tick();
		blind_tick(clock_mono_ns());
		check_drops(c);
		c->hooks->after_pass();
		if (got < 0 && got != -EINTR) {
			log_error("ring buffer consume failed: %s", strerror(-got));
			return -1;
		}
	}
	return 0;
}

void capture_stats(struct capture *c, struct capture_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t sums[LLMOBS_STAT__MAX];
	for (uint32_t k = 0; k < LLMOBS_STAT__MAX; k++)
		sums[k] = stat_sum(c, k);
	out->events = sums[LLMOBS_STAT_EVENTS];
	out->rb_drops = sums[LLMOBS_STAT_RB_DROPS];
	out->rb_drop_bytes = sums[LLMOBS_STAT_RB_DROP_BYTES];
	out->trunc_bytes = sums[LLMOBS_STAT_TRUNC_BYTES];
	out->read_faults = sums[LLMOBS_STAT_READ_FAULTS];
	out->muted_calls = sums[LLMOBS_STAT_MUTED];
	out->ringbuf_bytes = c->ringbuf_bytes;
	out->ringbuf_used = ring_fill(c);
	out->ringbuf_used_max = atomic_load(&c->fill_max);
	uint64_t total = 0, h[DELAY_BUCKETS];
	for (unsigned i = 0; i < DELAY_BUCKETS; i++)
		total += h[i] = atomic_load(&c->delay_hist[i]);
	out->delay_samples = total;
	out->delay_max_us = atomic_load(&c->delay_max_us);
	uint32_t h32[DELAY_BUCKETS];
	for (unsigned i = 0; i < DELAY_BUCKETS; i++)
		h32[i] = h[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)h[i];
	out->delay_p50_us = loghist_percentile(h32, total, 50);
	out->delay_p99_us = loghist_percentile(h32, total, 99);
	struct discover_stats ds;
	discover_stats(&ds);
	out->hits = ds.hits;
	out->probes_attached = ds.uprobes;
	out->probe_files[0] = ds.files_library;
	out->probe_files[1] = ds.files_executable;
	out->attach_errors = ds.attach_errors;
	blind_counts(out->unobserved);
}

void capture_stop(struct capture *c)
{
	if (!c)
		return;
	atomic_store(&running, false);
	muting = NULL;
	long page = sysconf(_SC_PAGESIZE);
	if (c->cons_pos) {
		munmap((void *)c->cons_pos, (size_t)page);
		munmap((void *)c->prod_pos, (size_t)page);
	}
	ring_buffer__free(c->rb);
	discover_free();
	blind_free();
	proc_exe_free();
	attach_destroy(&c->links);
	llmobs_bpf__destroy(c->skel);
	free(c);
}
