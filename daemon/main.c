/* llmobsd: host-level observability for LLM API traffic. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "capture/blind.h"
#include "capture/capture.h"
#include "core/cgroup.h"
#include "capture/discover.h"
#include "call/call.h"
#include "call/call_guard.h"
#include "call/sink.h"
#include "sinks/live.h"
#include "sinks/store.h"
#include "core/clock.h"
#include "wire/conn.h"
#include "core/log.h"
#include "core/macros.h"
#include "core/parallel.h"
#include "call/pipeline.h"
#include "capture/record.h"
#include "llm/price.h"
#include "llm/route.h"
#include "call/call_json.h"
#include "sinks/prometheus.h"
#include "options.h"

static volatile sig_atomic_t stop;

/* The guardrail policy, checked before anything starts: a broken file is
 * a clear error and exit status 2. */
static int load_policy(const char *arg)
{
	char err[512];
	if (arg && !strcmp(arg, "off"))
		return 0;
	if (call_guard_load(arg && strcmp(arg, "default") ? arg : NULL, err, sizeof(err))) {
		fprintf(stderr, "llmobsd: --policy %s: %s\n", arg ? arg : "default", err);
		return -1;
	}
	return 0;
}

/* SIGINT/SIGTERM stop the daemon within a bounded time even when a stage
 * is stuck (holding the pipeline lock, say): past this after the signal,
 * it exits at once; the kernel detaches its probes with its fds. */
#define STOP_GRACE_S 5
#define STOP_MESSAGE                                                                               \
	"llmobsd: a stage did not stop within " STR(STOP_GRACE_S) " s of the signal; exiting "     \
	                                                          "now\n"
static atomic_bool stopped_cleanly;

static void close_fd(size_t i, void *fds)
{
	close(((const int *)fds)[i]);
}

/* Every descriptor above stderr closed side by side: at exit the kernel
 * would close them one after the other, and each BPF link waits for a
 * grace period (about 3 s for the tracepoints and a few files' probes).
 * Raw getdents64 and a static array: a stuck thread may hold malloc's lock. */
static void close_all_fds(void)
{
	static int fds[4096];
	static char dents[16384];
	size_t n = 0;
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return;
	long got;
	while (n < ARRAY_LEN(fds) && (got = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0)
		for (long off = 0; off < got && n < ARRAY_LEN(fds);) {
			const struct dirent64 *d = (const void *)(dents + off);
			int fd = atoi(d->d_name);
			if (fd > 2 && fd != dir)
				fds[n++] = fd;
			off += d->d_reclen;
		}
	close(dir);
	parallel_for(n, close_fd, fds);
}

static void *exit_watchdog(void *arg)
{
	(void)arg;
	struct timespec tick = {0, 100 * 1000 * 1000};
	while (!stop)
		nanosleep(&tick, NULL);
	/* a deadline, not a count of ticks: a loaded host oversleeps each */
	uint64_t deadline = clock_mono_ns() + STOP_GRACE_S * 1000000000ull;
	while (clock_mono_ns() < deadline) {
		nanosleep(&tick, NULL);
		if (atomic_load(&stopped_cleanly))
			return NULL;
	}
	static const char msg[] = STOP_MESSAGE;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	close_all_fds();
	_exit(1);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		call_guard_reload_requested = 1;
		return;
	}
	stop = 1;
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool ready_always(void *ctx)
{
	(void)ctx;
	return true;
}

static bool ready_capture(void *ctx)
{
	(void)ctx;
	return capture_running();
}

static cJSON *probes_capture(void *ctx)
{
	(void)ctx;
	return capture_running() ? discover_json() : NULL;
}

static cJSON *blind_capture(void *ctx)
{
	(void)ctx;
	return capture_running() ? blind_json() : NULL;
}

/* Set once capture is up; the API threads read it. */
static struct capture *_Atomic live_capture;

static void stats_capture(void *ctx, struct capture_stats *out)
{
	(void)ctx;
	struct capture *c = atomic_load(&live_capture);
	if (c)
		capture_stats(c, out);
}

static void replay_one(const struct llmobs_event *ev, size_t size, void *ctx)
{
	(void)ctx;
	pipeline_lock();
	pipeline_event(ev, size);
	pipeline_unlock();
}

static double cpu_seconds(clockid_t which)
{
	struct timespec ts;
	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_replay(const struct options *o)
{
	char err[512];
	int64_t off = 0;
	clock_use_event_time(1);
	uint64_t t0 = clock_mono_ns();
	/* the pipeline's thread (this one) apart from the process: the store's
	 * writer works on a thread of its own */
	double cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
	double proc0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
	long n = replay_file(o->replay, replay_one, NULL, &off, err, sizeof(err));
	if (n < 0) {
		log_error("%s", err);
		return 1;
	}
	clock_set_wall_offset(off);
	pipeline_lock();
	conn_flush_held(clock_now(), 0);
	pipeline_unlock();
	double secs = (double)(clock_mono_ns() - t0) / 1e9;
	double cpu_s = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	double proc_s = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - proc0;
	log_info("replayed %ld records in %.3f s, %.3f s of CPU (the pipeline's thread; %.3f s "
	         "in all threads) (%.0f records/s)%s%s",
	         n, secs, cpu_s, proc_s, secs > 0 ? (double)n / secs : 0.0, err[0] ? "; " : "",
	         err);
	if (o->replay_json) {
		struct call_filter f = {.limit = (long)o->keep};
		pipeline_lock();
		cJSON *j = calls_to_json(&f, clock_now());
		pipeline_unlock();
		char *s = cJSON_Print(j);
		puts(s);
		free(s);
		cJSON_Delete(j);
	}
	if (!o->replay_serve)
		return err[0] ? 1 : 0;
	struct api_hooks hooks = {.ready = ready_always};
	struct api *api = api_start(o->listen, &hooks);
	if (!api)
		return 1;
	while (!stop)
		pause();
	api_stop(api);
	return 0;
}

/* The capture loop's records go to the pipeline, as replay_one's do. */
static void capture_record(const void *data, size_t size)
{
	pipeline_event(data, size);
}

static void capture_batch_end(void)
{
	pipeline_tick();
	pipeline_unlock();
}

static void capture_after_pass(void)
{
	pipeline_heartbeat();
	call_guard_reload_if_requested();
}

static const struct capture_hooks capture_to_pipeline = {
    .batch_begin = pipeline_lock,
    .record = capture_record,
    .batch_end = capture_batch_end,
    .after_pass = capture_after_pass,
    .ring_drops = live_buffer_full,
};

static int run_live(const struct options *o)
{
	struct recorder *rec = NULL;
	struct capture *cap = NULL;
	struct api *api = NULL;
	int rc = 1;
	char err[512];

	if (geteuid() != 0)
		log_warn("not running as root: loading BPF programs will probably fail");
	clock_set_wall_offset(clock_measure_wall_offset());
	if (o->record) {
		rec = record_open(o->record, clock_wall_offset(), err, sizeof(err));
		if (!rec) {
			log_error("%s", err);
			goto out;
		}
	}
	struct capture_opts copts = {
	    .hooks = &capture_to_pipeline,
	    .pid = o->pid,
	    .comm = o->comm,
	    .probe_symbols = o->probe_symbols,
	    .cgroup_dir = o->cgroup_dir[0] ? o->cgroup_dir : NULL,
	    .cgroup_path = o->cgroup_dir[0] ? o->cgroup_path : NULL,
	    .ringbuf_bytes = o->ringbuf,
	    .libssl = o->libssl,
	    .rec = rec,
	    .plain_ports = o->plain_ports,
	    .nplain_ports = o->nplain,
	};
	/* The API comes up first so /healthz answers 503 while attaching. */
	struct api_hooks hooks = {.ready = ready_capture,
	                          .capture_stats = stats_capture,
	                          .probes = probes_capture,
	                          .blind = blind_capture};
	cgroup_lookup_enable(true);
	api = api_start(o->listen, &hooks);
	if (!api)
		goto out;
	cap = capture_start(&copts);
	if (!cap)
		goto out;
	atomic_store(&live_capture, cap);
	conn_mute_hook = capture_mute; /* connections the pipeline will never parse */
	rc = capture_run(cap, &stop) ? 1 : 0;
	log_info("stopping");
out:
	conn_mute_hook = NULL;
	api_stop(api);
	atomic_store(&live_capture, NULL);
	capture_stop(cap);
	if (rec) {
		log_info("recorded %llu events to %s", (unsigned long long)record_count(rec),
		         o->record);
		if (record_close(rec) != 0) {
			log_error("the recording %s is incomplete (write error)", o->record);
			rc = 1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	int rc = options_parse(argc, argv, &o);
	if (rc)
		return rc;
	install_signals();
	pthread_t wd;
	if (pthread_create(&wd, NULL, exit_watchdog, NULL) == 0)
		pthread_detach(wd);
	prometheus_init();
	call_sink_register(&prometheus_sink);
	call_sink_register(&live_sink);
	pipeline_init(o.keep);
	if (load_policy(o.policy))
		return 2;
	char err[512];
	if (prices_load(o.prices, err, sizeof(err))) {
		fprintf(stderr, "llmobsd: --prices %s: %s\n", o.prices, err);
		return 2;
	}
	/* a replay stores nothing unless asked: it would mix a recording's
	 * calls into the host's history */
	struct store_opts so = {o.store    ? o.store
	                        : o.replay ? "off"
	                                   : NULL,
	                        o.retention_ms, (uint64_t)o.store_max_mib << 20};
	if (store_start(&so, err, sizeof(err))) {
		fprintf(stderr, "llmobsd: --store: %s\n", err);
		return 2;
	}
	if (store_enabled()) {
		call_registry_set_next_id(store_max_id() + 1);
		call_sink_register(&store_sink);
		call_keep_prompts = call_guard_content != CONTENT_OFF;
	}
	rc = o.replay ? run_replay(&o) : run_live(&o);
	call_guard_reload_wait();
	atomic_store(&stopped_cleanly, true);
	pipeline_free();
	store_stop(); /* what was queued, and the calls pipeline_free ended, committed */
	call_guard_set_policy(NULL);
	route_free();
	prices_free();
	options_free(&o);
	return rc;
}
