/* llmobsd: host-level observability for LLM API traffic. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/buf.h"
#include "capture/capture.h"
#include "core/cgroup.h"
#include "capture/discover.h"
#include "call/call_guard.h"
#include "call/sink.h"
#include "sinks/live.h"
#include "core/clock.h"
#include "wire/conn.h"
#include "core/log.h"
#include "call/pipeline.h"
#include "capture/record.h"
#include "llm/route.h"
#include "call/call_json.h"
#include "sinks/prometheus.h"

#define LLMOBS_VERSION  "0.1.0"
#define DEFAULT_RINGBUF (8u << 20)
#define DEFAULT_KEEP    1000

static volatile sig_atomic_t stop;

struct options {
	const char *listen;
	uint32_t pid;
	const char *comm;
	const char *policy; /* FILE, "default" or "off" */
	bool probe_symbols;
	char cgroup_dir[4096];  /* absolute, under the cgroup2 mount */
	char cgroup_path[4096]; /* the same, relative to the mount ("/a/b") */
	uint32_t ringbuf;
	const char *record;
	const char *replay;
	bool replay_json;
	bool replay_serve;
	unsigned keep;
	const char **libssl;
	int nlibssl;
	uint16_t plain_ports[LLMOBS_MAX_PLAIN_PORTS];
	size_t nplain;
};

/* Local model servers: Ollama, vLLM, llama.cpp and most dev servers. */
static const uint16_t default_plain_ports[] = {11434, 8000, 8080};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: llmobsd [OPTIONS]\n"
	    "Observe LLM API calls made over OpenSSL on this host (eBPF uprobes) and serve\n"
	    "per-stream metrics over HTTP. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN).\n"
	    "Every libssl and every executable with OpenSSL built in (node) that a process\n"
	    "maps is found and probed, including processes started later and containers.\n\n"
	    "  -l, --listen ADDR:PORT   API address (default %s)\n"
	    "  -p, --pid PID            capture only this process\n"
	    "      --comm NAME          capture only processes with this name (the process's\n"
	    "                           comm, /proc/PID/comm, whichever thread calls)\n"
	    "      --cgroup PATH        capture only processes in this cgroup v2 and below\n"
	    "                           (a path under the cgroup2 mount, or relative to it)\n"
	    "      --libssl PATH        also probe this file up front (repeatable)\n"
	    "      --probe-at WHERE     auto (default): move probes to cheaper instructions\n"
	    "                           where the code allows; symbol: public symbols only\n"
	    "      --routes FILE        extra LLM routes for gateways and custom paths (JSON)\n"
	    "      --policy FILE|default|off  guardrail policy (JSON; default: the shipped one);\n"
	    "                           SIGHUP reloads a FILE\n"
	    "      --enforce            \"block\" rules cut the offending TCP connection\n"
	    "                           (SOCK_DESTROY); without it they only alert\n"
	    "      --content MODE       what is kept and served of prompts and completions:\n"
	    "                           redacted (default), full, or off (metadata only)\n"
	    "      --plain-port PORT    also follow plaintext HTTP to PORT (repeatable;\n"
	    "                           11434, 8000 and 8080 are always followed)\n"
	    "      --ringbuf-size SIZE  BPF ring buffer size, power of two (default 8M)\n"
	    "      --backpressure-lag-ms MS  read lag that raises a live \"backpressure\"\n"
	    "                           event (default 500)\n"
	    "      --record FILE        also write every capture event to FILE (gzip)\n"
	    "      --replay FILE        feed a recording through the pipeline instead of BPF\n"
	    "      --json               with --replay: print the streams as JSON and exit\n"
	    "      --serve              with --replay: keep serving the API afterwards\n"
	    "      --keep N             finished calls kept for the API (default %u)\n"
	    "  -v, --verbose            debug logging (libbpf too)\n"
	    "  -h, --help               this help\n"
	    "      --version            print the version\n\n"
	    "Endpoints: /healthz /metrics /api/v1/streams /api/v1/streams/{id} /api/v1/stats\n"
	    "           /api/v1/probes /api/v1/events (live, Server-Sent Events)\n",
	    API_DEFAULT_LISTEN, DEFAULT_KEEP);
}

static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v < 4096 || v > (1ull << 30) || (v & (v - 1)))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The cgroup2 mount point (hybrid hosts mount it at .../unified). */
static bool cgroup2_mount(char *out, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER */
		char mnt[4096];
		const char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(out, n, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static int resolve_cgroup(const char *arg, struct options *o)
{
	char mnt[4096];
	if (!cgroup2_mount(mnt, sizeof(mnt))) {
		fprintf(stderr, "llmobsd: --cgroup: no cgroup2 file system is mounted\n");
		return -1;
	}
	size_t ml = strlen(mnt);
	const char *rel = arg;
	if (!strncmp(arg, mnt, ml) && (arg[ml] == '/' || !arg[ml]))
		rel = arg + ml;
	while (*rel == '/')
		rel++;
	snprintf(o->cgroup_dir, sizeof(o->cgroup_dir), "%.1024s/%.2048s", mnt, rel);
	snprintf(o->cgroup_path, sizeof(o->cgroup_path), "/%.2048s", rel);
	size_t rl = strlen(o->cgroup_path);
	while (rl > 1 && o->cgroup_path[rl - 1] == '/')
		o->cgroup_path[--rl] = '\0';
	struct stat st;
	if (stat(o->cgroup_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "llmobsd: --cgroup %s: %s is not a cgroup v2 directory\n", arg,
		        o->cgroup_dir);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_ROUTES = 254,
		OPT_PLAIN_PORT = 255,
		OPT_LIBSSL = 256,
		OPT_RINGBUF,
		OPT_RECORD,
		OPT_REPLAY,
		OPT_JSON,
		OPT_SERVE,
		OPT_KEEP,
		OPT_VERSION,
		OPT_COMM,
		OPT_CGROUP,
		OPT_PROBE_AT,
		OPT_BP_LAG,
		OPT_POLICY,
		OPT_CONTENT,
		OPT_ENFORCE,
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"pid", required_argument, NULL, 'p'},
	    {"comm", required_argument, NULL, OPT_COMM},
	    {"cgroup", required_argument, NULL, OPT_CGROUP},
	    {"probe-at", required_argument, NULL, OPT_PROBE_AT},
	    {"backpressure-lag-ms", required_argument, NULL, OPT_BP_LAG},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"content", required_argument, NULL, OPT_CONTENT},
	    {"enforce", no_argument, NULL, OPT_ENFORCE},
	    {"libssl", required_argument, NULL, OPT_LIBSSL},
	    {"plain-port", required_argument, NULL, OPT_PLAIN_PORT},
	    {"routes", required_argument, NULL, OPT_ROUTES},
	    {"ringbuf-size", required_argument, NULL, OPT_RINGBUF},
	    {"record", required_argument, NULL, OPT_RECORD},
	    {"replay", required_argument, NULL, OPT_REPLAY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"serve", no_argument, NULL, OPT_SERVE},
	    {"keep", required_argument, NULL, OPT_KEEP},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	o->listen = API_DEFAULT_LISTEN;
	for (size_t i = 0; i < sizeof(default_plain_ports) / sizeof(default_plain_ports[0]); i++)
		o->plain_ports[o->nplain++] = default_plain_ports[i];
	o->ringbuf = DEFAULT_RINGBUF;
	o->keep = DEFAULT_KEEP;
	o->libssl = xcalloc((size_t)argc + 1, sizeof(*o->libssl));
	int c;
	uint32_t v;
	while ((c = getopt_long(argc, argv, "l:p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'p':
			if (parse_u32(optarg, &o->pid)) {
				fprintf(stderr, "llmobsd: --pid: '%s' is not a process id\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_COMM:
			if (!optarg[0] || strlen(optarg) >= LLMOBS_COMM_LEN) {
				fprintf(
				    stderr,
				    "llmobsd: --comm: '%s' must be 1 to %d characters (the kernel "
				    "keeps %d)\n",
				    optarg, LLMOBS_COMM_LEN - 1, LLMOBS_COMM_LEN - 1);
				return 2;
			}
			o->comm = optarg;
			break;
		case OPT_POLICY:
			o->policy = optarg;
			break;
		case OPT_ENFORCE:
			call_guard_enforce = true;
			break;
		case OPT_CONTENT:
			if (!strcmp(optarg, "full"))
				call_guard_content = CONTENT_FULL;
			else if (!strcmp(optarg, "redacted"))
				call_guard_content = CONTENT_REDACTED;
			else if (!strcmp(optarg, "off"))
				call_guard_content = CONTENT_OFF;
			else {
				fprintf(stderr,
				        "llmobsd: --content: full, redacted or off, not '%s'\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_BP_LAG:
			if (parse_u32(optarg, &v) || v > 3600000) {
				fprintf(
				    stderr,
				    "llmobsd: --backpressure-lag-ms: '%s' must be 1 to 3600000\n",
				    optarg);
				return 2;
			}
			bp_alert_lag_us = v * 1000;
			break;
		case OPT_PROBE_AT:
			if (strcmp(optarg, "auto") && strcmp(optarg, "symbol")) {
				fprintf(stderr,
				        "llmobsd: --probe-at: 'auto' or 'symbol', not '%s'\n",
				        optarg);
				return 2;
			}
			o->probe_symbols = !strcmp(optarg, "symbol");
			break;
		case OPT_CGROUP:
			if (resolve_cgroup(optarg, o))
				return 2;
			break;
		case OPT_ROUTES: {
			char err[512];
			if (route_load(optarg, err, sizeof(err))) {
				fprintf(stderr, "llmobsd: --routes %s\n", err);
				return 2;
			}
			break;
		}
		case OPT_PLAIN_PORT:
			if (parse_u32(optarg, &v) || v > 65535) {
				fprintf(stderr, "llmobsd: --plain-port: '%s' is not a port\n",
				        optarg);
				return 2;
			}
			if (o->nplain == LLMOBS_MAX_PLAIN_PORTS) {
				fprintf(stderr, "llmobsd: at most %d plaintext ports\n",
				        LLMOBS_MAX_PLAIN_PORTS);
				return 2;
			}
			o->plain_ports[o->nplain++] = (uint16_t)v;
			break;
		case OPT_LIBSSL:
			o->libssl[o->nlibssl++] = optarg;
			break;
		case OPT_RINGBUF:
			if (parse_size(optarg, &o->ringbuf)) {
				fprintf(
				    stderr,
				    "llmobsd: --ringbuf-size: '%s' must be a power of two between "
				    "4K and 1G (suffixes K, M)\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_JSON:
			o->replay_json = true;
			break;
		case OPT_SERVE:
			o->replay_serve = true;
			break;
		case OPT_KEEP:
			if (parse_u32(optarg, &v)) {
				fprintf(stderr, "llmobsd: --keep: '%s' must be a positive number\n",
				        optarg);
				return 2;
			}
			o->keep = v;
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("llmobsd %s (event ABI %d)\n", LLMOBS_VERSION, LLMOBS_ABI_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'llmobsd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmobsd: unexpected argument '%s'\nTry 'llmobsd --help'.\n",
		        argv[optind]);
		return 2;
	}
	char host[128];
	unsigned port;
	if (api_parse_listen(o->listen, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "llmobsd: --listen %s: expected ADDR:PORT, e.g. 127.0.0.1:9477\n",
		        o->listen);
		return 2;
	}
	if ((o->replay_json || o->replay_serve) && !o->replay) {
		fprintf(stderr, "llmobsd: --json and --serve go with --replay\n");
		return 2;
	}
	if (o->record && call_guard_content != CONTENT_FULL) {
		fprintf(stderr, "llmobsd: --record writes raw plaintext (before any redaction): "
		                "it needs --content full\n");
		return 2;
	}
	if (o->replay && o->record) {
		fprintf(stderr, "llmobsd: --record and --replay cannot be combined\n");
		return 2;
	}
	return 0;
}

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
static atomic_bool stopped_cleanly;

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
	static const char msg[] = "llmobsd: a stage did not stop within 5 s of the signal; "
	                          "exiting now\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
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

static int run_replay(const struct options *o)
{
	char err[512];
	int64_t off = 0;
	clock_use_event_time(1);
	uint64_t t0 = clock_mono_ns();
	struct timespec cpu_start;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
	double cpu0 = (double)cpu_start.tv_sec + (double)cpu_start.tv_nsec / 1e9;
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
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	double cpu_s = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9 - cpu0;
	log_info("replayed %ld records in %.3f s, %.3f s of CPU (%.0f records/s)%s%s", n, secs,
	         cpu_s, secs > 0 ? (double)n / secs : 0.0, err[0] ? "; " : "", err);
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
	struct api_hooks hooks = {
	    .ready = ready_capture, .capture_stats = stats_capture, .probes = probes_capture};
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
	int rc = parse_args(argc, argv, &o);
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
	rc = o.replay ? run_replay(&o) : run_live(&o);
	call_guard_reload_wait();
	atomic_store(&stopped_cleanly, true);
	pipeline_free();
	call_guard_set_policy(NULL);
	route_free();
	free(o.libssl);
	return rc;
}
