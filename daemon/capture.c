/* Loads the BPF object, attaches it, and drains the ring buffer. */
#include "capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "buf.h"
#include "clock.h"
#include "llmobs.skel.h"
#include "log.h"
#include "pipeline.h"

struct capture {
	struct llmobs_bpf *skel;
	struct ring_buffer *rb;
	struct attach_set links;
	struct recorder *rec;
	uint32_t ringbuf_bytes;
	uint64_t record_errors;
};

static atomic_uint uprobes_attached;

unsigned capture_uprobes_attached(void)
{
	return atomic_load(&uprobes_attached);
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
	if (c->rec && record_write(c->rec, data, size) < 0 && !c->record_errors++)
		log_error("writing the recording failed; recording stopped");
	pipeline_event(data, size);
	return 0;
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
	bpf_map__set_max_entries(skel->maps.rb, o->ringbuf_bytes);
	attach_set_optional(skel, optional);
	int err = llmobs_bpf__load(skel);
	if (err) {
		log_error("loading the BPF programs failed: %s%s", strerror(-err),
		          optional ? " (retrying without the optional ones)" : "");
		llmobs_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

struct capture *capture_start(const struct capture_opts *o)
{
	libbpf_set_print(libbpf_log);
	if (tracefs_ensure() != 0)
		log_warn("continuing without tracefs: tracepoints may fail to attach");

	struct capture *c = xcalloc(1, sizeof(*c));
	c->rec = o->rec;
	c->ringbuf_bytes = o->ringbuf_bytes;
	c->skel = open_and_load(o, true);
	if (!c->skel)
		c->skel = open_and_load(o, false);
	if (!c->skel)
		goto fail;
	if (attach_plain_ports(c->skel, o->plain_ports, o->nplain_ports) != 0)
		goto fail;
	if (attach_libssl(c->skel, o->libssl, &c->links) != 0)
		goto fail;
	attach_tracepoints(c->skel, &c->links);
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.rb), on_record, c, NULL);
	if (!c->rb) {
		log_error("cannot set up the ring buffer consumer: %s", strerror(errno));
		goto fail;
	}
	atomic_store(&uprobes_attached, c->links.uprobes_ok);
	log_info("capturing: %u probes on %u libssl file(s), ring buffer %u KiB%s",
	         c->links.uprobes_ok, c->links.libs, o->ringbuf_bytes >> 10,
	         o->pid ? " (one pid)" : "");
	return c;
fail:
	capture_stop(c);
	return NULL;
}

int capture_run(struct capture *c, volatile sig_atomic_t *stop)
{
	struct pollfd pfd = {.fd = ring_buffer__epoll_fd(c->rb), .events = POLLIN};
	while (!*stop) {
		/* Finite timeout: held writes are flushed even when idle. */
		int n = poll(&pfd, 1, 100);
		if (n < 0 && errno != EINTR) {
			log_error("poll on the ring buffer failed: %s", strerror(errno));
			return -1;
		}
		pipeline_lock();
		int got = ring_buffer__consume(c->rb);
		pipeline_tick();
		pipeline_unlock();
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
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals = xcalloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(uint64_t));
	uint64_t sums[LLMOBS_STAT__MAX] = {0};
	for (uint32_t k = 0; k < LLMOBS_STAT__MAX; k++) {
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &k, vals) != 0)
			continue;
		for (int i = 0; i < ncpu; i++)
			sums[k] += vals[i];
	}
	free(vals);
	out->events = sums[LLMOBS_STAT_EVENTS];
	out->rb_drops = sums[LLMOBS_STAT_RB_DROPS];
	out->rb_drop_bytes = sums[LLMOBS_STAT_RB_DROP_BYTES];
	out->trunc_bytes = sums[LLMOBS_STAT_TRUNC_BYTES];
	out->read_faults = sums[LLMOBS_STAT_READ_FAULTS];
	out->hits = sums[LLMOBS_STAT_HITS];
	out->ringbuf_bytes = c->ringbuf_bytes;
	out->probes_attached = c->links.uprobes_ok;
	out->probes_failed = c->links.uprobes_failed;
}

void capture_stop(struct capture *c)
{
	if (!c)
		return;
	atomic_store(&uprobes_attached, 0);
	ring_buffer__free(c->rb);
	attach_destroy(&c->links);
	llmobs_bpf__destroy(c->skel);
	free(c);
}
