/* The command line (options.h). Each row of `options` names an option,
 * documents it for --help and says how its value is checked and stored;
 * getopt_long's tables are built from the same rows. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "call/backpressure.h"
#include "call/call_guard.h"
#include "call/ingest.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/macros.h"
#include "llm/route.h"
#include "sinks/store.h"

#define LLMOBS_VERSION      "0.1.0"
#define DEFAULT_RINGBUF_MIB 8
#define DEFAULT_RINGBUF     (DEFAULT_RINGBUF_MIB << 20)
#define BP_LAG_MS_MAX       3600000 /* an hour */
#define DEFAULT_KEEP        1000
#define DEFAULT_RETENTION   "7d"
#define DEFAULT_STORE_MIB   1024
#define STORE_MIB_MAX       1048576

/* Local model servers: Ollama, vLLM, llama.cpp and most dev servers. */
static const uint16_t default_plain_ports[] = {11434, 8000, 8080};

struct opt;
/* Checks and stores one value (arg is NULL for a flag): 0, or -1 after
 * a message on stderr. */
typedef int (*opt_set)(const struct opt *d, const char *arg, struct options *o);

struct opt {
	const char *name;  /* --name */
	char short_name;   /* -c, or 0 */
	const char *arg;   /* the value's name in --help; NULL: a flag */
	const char *help;  /* a '\n' continues it at the help column */
	opt_set set;       /* checks and stores the value */
	size_t field;      /* set_str, set_flag, set_u32: offsetof(struct options, ...) */
	uint32_t max;      /* numbers: the largest value (the smallest is 1) */
	const char *wrong; /* numbers: what the message says of a rejected value */
};

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

/* ---- the setters the table names ---- */

static void *field_of(const struct opt *d, struct options *o)
{
	return (char *)o + d->field;
}

static int set_str(const struct opt *d, const char *arg, struct options *o)
{
	*(const char **)field_of(d, o) = arg;
	return 0;
}

static int set_flag(const struct opt *d, const char *arg, struct options *o)
{
	(void)arg;
	*(bool *)field_of(d, o) = true;
	return 0;
}

/* A number from 1 to d->max. */
static int number(const struct opt *d, const char *arg, uint32_t *v)
{
	if (parse_u32(arg, v) || *v > d->max) {
		fprintf(stderr, "llmobsd: --%s: '%s' %s\n", d->name, arg, d->wrong);
		return -1;
	}
	return 0;
}

static int set_u32(const struct opt *d, const char *arg, struct options *o)
{
	return number(d, arg, field_of(d, o));
}

static int set_comm(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	if (!arg[0] || strlen(arg) >= LLMOBS_COMM_LEN) {
		fprintf(stderr,
		        "llmobsd: --comm: '%s' must be 1 to %d characters (the kernel keeps %d)\n",
		        arg, LLMOBS_COMM_LEN - 1, LLMOBS_COMM_LEN - 1);
		return -1;
	}
	o->comm = arg;
	return 0;
}

static int set_cgroup(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	return resolve_cgroup(arg, o);
}

static int set_probe_at(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	if (strcmp(arg, "auto") && strcmp(arg, "symbol")) {
		fprintf(stderr, "llmobsd: --probe-at: 'auto' or 'symbol', not '%s'\n", arg);
		return -1;
	}
	o->probe_symbols = !strcmp(arg, "symbol");
	return 0;
}

static int set_libssl(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	o->libssl[o->nlibssl++] = arg;
	return 0;
}

static int set_routes(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	(void)o;
	char err[512];
	if (route_load(arg, err, sizeof(err))) {
		fprintf(stderr, "llmobsd: --routes %s\n", err);
		return -1;
	}
	return 0;
}

static int set_enforce(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)arg, (void)o;
	call_guard_enforce = true;
	return 0;
}

static int set_content(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)o;
	static const struct {
		const char *name;
		enum content_mode mode;
	} modes[] = {{"full", CONTENT_FULL}, {"redacted", CONTENT_REDACTED}, {"off", CONTENT_OFF}};
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		if (!strcmp(arg, modes[i].name)) {
			call_guard_content = modes[i].mode;
			return 0;
		}
	}
	fprintf(stderr, "llmobsd: --content: full, redacted or off, not '%s'\n", arg);
	return -1;
}

static int set_plain_port(const struct opt *d, const char *arg, struct options *o)
{
	uint32_t v;
	if (number(d, arg, &v))
		return -1;
	if (o->nplain == LLMOBS_MAX_PLAIN_PORTS) {
		fprintf(stderr, "llmobsd: at most %d plaintext ports\n", LLMOBS_MAX_PLAIN_PORTS);
		return -1;
	}
	o->plain_ports[o->nplain++] = (uint16_t)v;
	return 0;
}

static int set_ringbuf(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	if (parse_size(arg, &o->ringbuf)) {
		fprintf(stderr,
		        "llmobsd: --ringbuf-size: '%s' must be a power of two between 4K and 1G "
		        "(suffixes K, M)\n",
		        arg);
		return -1;
	}
	return 0;
}

static int set_bp_lag(const struct opt *d, const char *arg, struct options *o)
{
	(void)o;
	uint32_t v;
	if (number(d, arg, &v))
		return -1;
	bp_alert_lag_us = v * 1000;
	return 0;
}

static int set_retention(const struct opt *d, const char *arg, struct options *o)
{
	(void)d;
	int64_t ms = store_parse_duration_ms(arg);
	if (ms < 0) {
		fprintf(
		    stderr,
		    "llmobsd: --retention: '%s' is not a duration (7d, 12h, 90m, 3600s; 0 keeps "
		    "everything)\n",
		    arg);
		return -1;
	}
	o->retention_ms = ms;
	return 0;
}

static int set_ingest_ttl(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)o;
	int64_t ms = store_parse_duration_ms(arg);
	if (ms <= 0 || ms > 86400000) {
		fprintf(stderr,
		        "llmobsd: --ingest-ttl: '%s' is not a duration from 1s to 1d (90s, 5m)\n",
		        arg);
		return -1;
	}
	ingest_set_ttl_ms(ms);
	return 0;
}

static int set_verbose(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)arg, (void)o;
	log_verbose = true;
	return 0;
}

static void usage(FILE *f);

static int show_help(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)arg, (void)o;
	usage(stdout);
	exit(0);
}

static int show_version(const struct opt *d, const char *arg, struct options *o)
{
	(void)d, (void)arg, (void)o;
	printf("llmobsd %s (event ABI %d)\n", LLMOBS_VERSION, LLMOBS_ABI_VERSION);
	exit(0);
}

/* ---- the table: --help lists the options in this order ---- */

#define FIELD(f) offsetof(struct options, f)

/* clang-format off */
static const struct opt options[] = {
    {.name = "listen", .short_name = 'l', .arg = "ADDR:PORT", .set = set_str, .field = FIELD(listen),
     .help = "API address (default " API_DEFAULT_LISTEN ")"},
    {.name = "pid", .short_name = 'p', .arg = "PID", .set = set_u32, .field = FIELD(pid),
     .max = UINT32_MAX, .wrong = "is not a process id",
     .help = "capture only this process"},
    {.name = "comm", .arg = "NAME", .set = set_comm,
     .help = "capture only processes with this name (the process's\n"
             "comm, /proc/PID/comm, whichever thread calls)"},
    {.name = "cgroup", .arg = "PATH", .set = set_cgroup,
     .help = "capture only processes in this cgroup v2 and below\n"
             "(a path under the cgroup2 mount, or relative to it)"},
    {.name = "libssl", .arg = "PATH", .set = set_libssl,
     .help = "also probe this file up front (repeatable)"},
    {.name = "probe-at", .arg = "WHERE", .set = set_probe_at,
     .help = "auto (default): move probes to cheaper instructions\n"
             "where the code allows; symbol: public symbols only"},
    {.name = "routes", .arg = "FILE", .set = set_routes,
     .help = "extra LLM routes for gateways and custom paths (JSON)"},
    {.name = "policy", .arg = "FILE|default|off", .set = set_str, .field = FIELD(policy),
     .help = "guardrail policy (JSON; default: the shipped one);\n"
             "SIGHUP reloads a FILE"},
    {.name = "prices", .arg = "FILE", .set = set_str, .field = FIELD(prices),
     .help = "prices added to or overriding the shipped table\n"
             "(JSON, as daemon/llm/prices.json)"},
    {.name = "enforce", .set = set_enforce,
     .help = "\"block\" rules cut the offending TCP connection\n"
             "(SOCK_DESTROY); without it they only alert"},
    {.name = "content", .arg = "MODE", .set = set_content,
     .help = "what is kept and served of prompts and completions:\n"
             "redacted (default), full, or off (metadata only)"},
    {.name = "plain-port", .arg = "PORT", .set = set_plain_port,
     .max = 65535, .wrong = "is not a port",
     .help = "also follow plaintext HTTP to PORT (repeatable;\n"
             "11434, 8000 and 8080 are always followed)"},
    {.name = "ringbuf-size", .arg = "SIZE", .set = set_ringbuf,
     .help = "BPF ring buffer size, power of two (default " STR(DEFAULT_RINGBUF_MIB) "M)"},
    {.name = "backpressure-lag-ms", .arg = "MS", .set = set_bp_lag,
     .max = BP_LAG_MS_MAX, .wrong = "must be 1 to " STR(BP_LAG_MS_MAX),
     .help = "read lag that raises a live \"backpressure\"\n"
             "event (default " STR(BP_ALERT_LAG_MS) ")"},
    {.name = "record", .arg = "FILE", .set = set_str, .field = FIELD(record),
     .help = "also write every capture event to FILE (gzip)"},
    {.name = "replay", .arg = "FILE", .set = set_str, .field = FIELD(replay),
     .help = "feed a recording through the pipeline instead of BPF"},
    {.name = "json", .set = set_flag, .field = FIELD(replay_json),
     .help = "with --replay: print the streams as JSON and exit"},
    {.name = "serve", .set = set_flag, .field = FIELD(replay_serve),
     .help = "with --replay: keep serving the API afterwards"},
    {.name = "store", .arg = "FILE|off", .set = set_str, .field = FIELD(store),
     .help = "history store, SQLite (default " STORE_DEFAULT_PATH ")"},
    {.name = "retention", .arg = "AGE", .set = set_retention,
     .help = "stored calls and minute windows older than this are\n"
             "pruned (default " DEFAULT_RETENTION "; 7d, 12h, 90m; 0 keeps them);\n"
             "hour windows are kept 90d at least"},
    {.name = "store-max-mib", .arg = "N", .set = set_u32, .field = FIELD(store_max_mib),
     .max = STORE_MIB_MAX, .wrong = "must be 1 to " STR(STORE_MIB_MAX),
     .help = "the store's bound; the oldest calls are pruned past it\n"
             "(default " STR(DEFAULT_STORE_MIB) ")"},
    {.name = "ingest-ttl", .arg = "AGE", .set = set_ingest_ttl,
     .help = "a reported request waits this long for its response\n"
             "(and a response for its request) before it is stored\n"
             "alone, marked (default 5m)"},
    {.name = "keep", .arg = "N", .set = set_u32, .field = FIELD(keep),
     .max = UINT32_MAX, .wrong = "must be a positive number",
     .help = "finished calls kept for the API (default " STR(DEFAULT_KEEP) ")"},
    {.name = "verbose", .short_name = 'v', .set = set_verbose,
     .help = "debug logging (libbpf too)"},
    {.name = "help", .short_name = 'h', .set = show_help,
     .help = "this help"},
    {.name = "version", .set = show_version,
     .help = "print the version"},
};
/* clang-format on */

#define NOPTIONS ARRAY_LEN(options)
/* getopt_long's value for an option without a short name: its row plus
 * this, past every character a short option can be. */
#define LONG_ONLY   256
#define HELP_COLUMN 27 /* where the help texts begin */

static void usage(FILE *f)
{
	fputs("Usage: llmobsd [OPTIONS]\n"
	      "Observe LLM API calls made over OpenSSL on this host (eBPF uprobes) and serve\n"
	      "per-stream metrics over HTTP. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN).\n"
	      "Every libssl and every executable with OpenSSL built in (node) that a process\n"
	      "maps is found and probed, including processes started later and containers.\n\n",
	      f);
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct opt *d = &options[i];
		int n = d->short_name ? fprintf(f, "  -%c, --%s", d->short_name, d->name)
		                      : fprintf(f, "      --%s", d->name);
		if (d->arg)
			n += fprintf(f, " %s", d->arg);
		/* at least two spaces before the text, as a long name needs */
		fprintf(f, "%*s", n + 2 <= HELP_COLUMN ? HELP_COLUMN - n : 2, "");
		for (const char *p = d->help; *p;) {
			size_t len = strcspn(p, "\n");
			fprintf(f, "%.*s\n", (int)len, p);
			p += len;
			if (*p && *++p)
				fprintf(f, "%*s", HELP_COLUMN, "");
		}
	}
	fputs(
	    "\nEndpoints: /healthz /metrics /api/v1/streams /api/v1/streams/{id} /api/v1/stats\n"
	    "           /api/v1/probes /api/v1/blind /api/v1/connections\n"
	    "           /api/v1/events (live, Server-Sent Events)\n"
	    "           /api/v1/calls /api/v1/calls/{id} (history) /api/v1/metrics (windows)\n"
	    "           POST /v1/llm/request, /v1/llm/response (calls reported by applications)\n",
	    f);
}

/* getopt_long's tables from the rows: each option's value is its short
 * name, or its row past LONG_ONLY. */
static void getopt_tables(struct option *longopts, char *shortopts)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct opt *d = &options[i];
		int has_arg = d->arg ? required_argument : no_argument;
		int val = d->short_name ? d->short_name : LONG_ONLY + (int)i;
		longopts[i] = (struct option){d->name, has_arg, NULL, val};
		if (d->short_name) {
			*shortopts++ = d->short_name;
			if (d->arg)
				*shortopts++ = ':';
		}
	}
	longopts[NOPTIONS] = (struct option){NULL, 0, NULL, 0};
	*shortopts = '\0';
}

static const struct opt *option_of(int c)
{
	if (c >= LONG_ONLY && (size_t)(c - LONG_ONLY) < NOPTIONS)
		return &options[c - LONG_ONLY];
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].short_name == c)
			return &options[i];
	return NULL; /* '?': getopt_long has said what is wrong */
}

static void defaults(struct options *o, int argc)
{
	o->listen = API_DEFAULT_LISTEN;
	for (size_t i = 0; i < ARRAY_LEN(default_plain_ports); i++)
		o->plain_ports[o->nplain++] = default_plain_ports[i];
	o->ringbuf = DEFAULT_RINGBUF;
	o->keep = DEFAULT_KEEP;
	o->retention_ms = store_parse_duration_ms(DEFAULT_RETENTION);
	o->store_max_mib = DEFAULT_STORE_MIB;
	o->libssl = xcalloc((size_t)argc + 1, sizeof(*o->libssl));
}

/* What no single option can check: its partners and arguments. */
static int check_together(const struct options *o)
{
	char host[128];
	unsigned port;
	if (api_parse_listen(o->listen, host, sizeof(host), &port) != 0) {
		fprintf(stderr,
		        "llmobsd: --listen %s: expected ADDR:PORT, e.g. " API_DEFAULT_LISTEN "\n",
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

int options_parse(int argc, char **argv, struct options *o)
{
	struct option longopts[NOPTIONS + 1];
	char shortopts[2 * NOPTIONS + 1];
	getopt_tables(longopts, shortopts);
	defaults(o, argc);
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt *d = option_of(c);
		if (!d) {
			fprintf(stderr, "Try 'llmobsd --help'.\n");
			return 2;
		}
		if (d->set(d, optarg, o))
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "llmobsd: unexpected argument '%s'\nTry 'llmobsd --help'.\n",
		        argv[optind]);
		return 2;
	}
	return check_together(o);
}

void options_free(struct options *o)
{
	free(o->libssl);
	o->libssl = NULL;
}
