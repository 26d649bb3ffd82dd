/* Finds the files that carry a TLS stack (tls.h: OpenSSL today) and places
 * its probes on them.
 *
 * A uprobe belongs to a file (inode), not to a process: one attach covers
 * every process that maps the file, now or later. So the unit here is the
 * file, keyed by (device, inode) as /proc/PID/maps and the BPF side report
 * it. Files come from three places: the system library directories and
 * --libssl (pinned: probed even with no user, so a new process is covered
 * from its first call), a scan of every /proc/PID/maps at start, and BPF
 * reports of exec() and mmap(PROT_EXEC) of files not yet dismissed. */
#include "capture/discover.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "capture/attach.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/cgroup.h"
#include "capture/elfsym.h"
#include "capture/placement.h"
#include "capture/tls.h"
#include "capture/tls_boringssl.h"
#include "capture/tls_gnutls.h"
#include "capture/tls_go.h"
#include "llmobs.skel.h"
#include "core/log.h"
#include "core/macros.h"

/* an entry and a return probe per function, and one function's RET sites */
#define MAX_PROBES (2 * TLS_MAX_FUNCS + PLACE_MAX_RETS)
/* A file whose last user exited is detached only after a /proc check
 * confirms it (forked children map it without any exec or mmap). */
#define RECHECK_NS    (1000ull * 1000 * 1000)
#define REFRESH_NS    (30ull * 1000 * 1000 * 1000)
#define MAX_DISMISSED 65536

struct file_key {
	uint64_t dev; /* kernel encoding: major << 20 | minor */
	uint64_t ino;
};

struct probe {
	unsigned func; /* of the file's stack */
	bool ret;
	bool site;   /* ret on a RET instruction (tls_func.ret_sites) */
	bool shared; /* its counter is an earlier probe's (the function's first RET site) */
	uint64_t offset;
	uint32_t cookie;
	struct bpf_link *link;
};

struct target {
	struct file_key key;
	unsigned slot;
	char path[PATH_MAX]; /* as the first process that mapped it names it */
	const struct tls_stack *stack;
	struct elf_info info;
	bool pinned;
	uint32_t first_pid;
	time_t attached_at;
	uint64_t attached_ns; /* CLOCK_MONOTONIC, for blind spots */
	struct probe probes[MAX_PROBES];
	unsigned nprobes;
	struct placement place[TLS_MAX_FUNCS];
	uint32_t *users;
	unsigned nusers, cap;
	UT_hash_handle hh;
};

struct dismissed {
	struct file_key key;
	UT_hash_handle hh;
};

static struct llmobs_bpf *skel;
static struct discover_filter filter;
static bool redirect = true; /* placement.h; --probe-at symbol turns it off */
static struct target *targets;
static struct dismissed *dismissed;
static unsigned ndismissed;
static uint8_t slots_used[LLMOBS_MAX_PROBE_FILES];
static uint64_t attach_errors;
static uint64_t hits_retired;             /* of detached files: counters never go down */
static uint64_t last_refresh, recheck_at; /* CLOCK_MONOTONIC ns; 0 = none */
static uint64_t mapped_at;                /* the exec/mmap being handled (for the log) */
/* A process's report is being handled: locating may leave the lock (the
 * discovery thread is the only writer). */
static bool handling_report;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t kdev_of(dev_t d)
{
	return ((uint64_t)major(d) << 20) | minor(d);
}

void discover_init(struct llmobs_bpf *s, const struct discover_filter *f)
{
	skel = s;
	filter = *f;
	redirect = !f->probe_symbols;
}

/* ---- the BPF "files" map: what to report again ---- */

static void bpf_mark(const struct file_key *k, uint8_t state)
{
	struct llmobs_file_key bk = {.ino = k->ino, .dev = (uint32_t)k->dev};
	int fd = bpf_map__fd(skel->maps.files);
	if (state)
		bpf_map_update_elem(fd, &bk, &state, BPF_ANY);
	else
		bpf_map_delete_elem(fd, &bk);
}

static void dismiss(const struct file_key *k)
{
	struct dismissed *d;
	HASH_FIND(hh, dismissed, k, sizeof(*k), d);
	if (!d) {
		if (ndismissed >= MAX_DISMISSED) { /* a build host: forget and relearn */
			struct dismissed *tmp;
			HASH_ITER(hh, dismissed, d, tmp)
			{
				HASH_DEL(dismissed, d);
				free(d);
			}
			ndismissed = 0;
		}
		d = xcalloc(1, sizeof(*d));
		d->key = *k;
		HASH_ADD(hh, dismissed, key, sizeof(d->key), d);
		ndismissed++;
	}
	bpf_mark(k, LLMOBS_FILE_IGNORED);
}

/* ---- users ---- */

static void add_user(struct target *t, uint32_t pid)
{
	for (unsigned i = 0; i < t->nusers; i++)
		if (t->users[i] == pid)
			return;
	if (t->nusers == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->users = xrealloc(t->users, t->cap * sizeof(*t->users));
	}
	t->users[t->nusers++] = pid;
}

static bool remove_user(struct target *t, uint32_t pid)
{
	for (unsigned i = 0; i < t->nusers; i++) {
		if (t->users[i] == pid) {
			t->users[i] = t->users[--t->nusers];
			return true;
		}
	}
	return false;
}

/* ---- attach / detach ---- */

static void zero_hits(uint32_t cookie)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *zeros = xcalloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(uint64_t));
	bpf_map_update_elem(bpf_map__fd(skel->maps.probe_hits), &cookie, zeros, BPF_ANY);
	free(zeros);
}

static uint64_t read_hits(uint32_t cookie)
{
	return attach_percpu_sum(bpf_map__fd(skel->maps.probe_hits), cookie);
}

static bool attach_probe(struct target *t, const char *open_path, unsigned f, uint64_t off,
                         bool ret)
{
	const struct tls_func *fn = &t->stack->funcs[f];
	struct bpf_program *prog = attach_prog_named(skel, ret ? fn->ret : fn->entry);
	if (!prog || !bpf_program__autoload(prog) || t->nprobes == MAX_PROBES)
		return false; /* optional program that did not load, or no room */
	bool site = ret && fn->ret_sites;
	uint32_t cookie = llmobs_probe_cookie(t->slot, f, ret);
	/* a function's RET sites share its return counter */
	bool shared = site && t->nprobes && t->probes[t->nprobes - 1].site &&
	              t->probes[t->nprobes - 1].func == f;
	if (!shared)
		zero_hits(cookie);
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret && !site, .bpf_cookie = cookie);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, open_path, off, &opts);
	if (!l) {
		attach_errors++;
		log_warn("%s: cannot attach %s to %s+0x%llx: %s", t->path,
		         site  ? "ret-site uprobe"
		         : ret ? "uretprobe"
		               : "uprobe",
		         t->stack->symbols[f], (unsigned long long)off, strerror(errno));
		return false;
	}
	t->probes[t->nprobes++] = (struct probe){f, ret, site, shared, off, cookie, l};
	return true;
}

static void detach_probes(struct target *t)
{
	struct bpf_link *links[MAX_PROBES];
	for (unsigned i = 0; i < t->nprobes; i++)
		links[i] = t->probes[i].link;
	links_destroy(links, t->nprobes);
	t->nprobes = 0;
}

/* Entry and return probe of a read/write function: both or neither (the
 * return probe copies reads and learns the fd; alone, the entry probe would
 * leave stale per-thread state). */
static bool attach_pair(struct target *t, const char *open_path, unsigned f, uint64_t off)
{
	if (!attach_probe(t, open_path, f, off, false))
		return false;
	if (attach_probe(t, open_path, f, off, true))
		return true;
	bpf_link__destroy(t->probes[--t->nprobes].link);
	return false;
}

/* Entry and every RET site of a function whose returns cannot have a
 * uretprobe (Go): all or none, as a pair above. */
static bool attach_ret_sites(struct target *t, const char *open_path, unsigned f,
                             const struct placement *pl)
{
	unsigned first = t->nprobes;
	bool ok = attach_probe(t, open_path, f, pl->at, false);
	for (unsigned i = 0; ok && i < pl->nrets; i++)
		ok = attach_probe(t, open_path, f, pl->rets[i], true);
	if (ok)
		return true;
	while (t->nprobes > first)
		bpf_link__destroy(t->probes[--t->nprobes].link);
	return false;
}

static int alloc_slot(void)
{
	for (int i = 0; i < LLMOBS_MAX_PROBE_FILES; i++)
		if (!slots_used[i]) {
			slots_used[i] = 1;
			return i;
		}
	return -1;
}

/* The first stack whose write and read functions the file has, with
 * their offsets (off[f], 0 when absent); NULL when none. One pass over
 * the file's symbols looks for every symbol stack's names; stacks located
 * by other means (tls_stack.find: Go's .gopclntab, BoringSSL's anchors) are
 * tried after it. A stack that refuses the file is *refused, with why. */
static const struct tls_stack *find_stack(const char *path, uint64_t *off, struct elf_info *info,
                                          const struct tls_stack **refused, char *why, size_t nwhy)
{
	const char *names[TLS_MAX_STACKS * TLS_MAX_FUNCS];
	uint64_t all[TLS_MAX_STACKS * TLS_MAX_FUNCS];
	size_t n = 0;
	*refused = NULL;
	for (const struct tls_stack *const *s = tls_stacks; *s; s++)
		for (unsigned f = 0; !(*s)->find && f < (*s)->nfuncs; f++)
			names[n++] = (*s)->symbols[f];
	int found = elf_func_offsets(path, names, n, all, info);
	if (found < 0)
		return NULL; /* not an ELF file */
	n = 0;
	for (const struct tls_stack *const *s = tls_stacks; *s && found > 0; s++) {
		if ((*s)->find)
			continue;
		if (tls_usable(*s, all + n) && !tls_is_wrapper(*s, info)) {
			memcpy(off, all + n, (*s)->nfuncs * sizeof(*off));
			return *s;
		}
		n += (*s)->nfuncs;
	}
	for (const struct tls_stack *const *s = tls_stacks; *s; s++) {
		if (!(*s)->find)
			continue;
		memset(off, 0, (*s)->nfuncs * sizeof(*off));
		struct elf_info own = *info;
		enum tls_found r = (*s)->find(path, off, &own, why, nwhy);
		if (r == TLS_FOUND && tls_usable(*s, off)) {
			*info = own;
			return *s;
		}
		if (r == TLS_REFUSED && !*refused)
			*refused = *s;
	}
	return NULL;
}

/* Files a stack recognised but would not probe (tls_found), each path
 * once with its latest reason: /api/v1/probes lists them. */
#define MAX_REFUSED 32
static struct refused {
	struct file_key key;
	char path[PATH_MAX];
	const char *stack;
	char why[256];
	time_t at;
} refused_files[MAX_REFUSED];
static unsigned nrefused;

static void note_refused(const struct file_key *k, const char *path, const struct tls_stack *s,
                         const char *why)
{
	struct refused *r = NULL;
	for (unsigned i = 0; i < MAX_REFUSED && i < nrefused && !r; i++)
		if (strcmp(refused_files[i].path, path) == 0)
			r = &refused_files[i];
	bool again = r && r->stack == s->name && strcmp(r->why, why) == 0;
	if (!r)
		r = &refused_files[nrefused++ % MAX_REFUSED];
	r->key = *k;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->stack = s->name;
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->at = time(NULL);
	if (!again) /* looked at again on each new user: said once */
		log_warn("%s: %s inside, but not probed: %s", path, s->name, why);
}
static struct target *new_target(const struct file_key *k, unsigned slot,
                                 const struct tls_stack *stack, const struct elf_info *info,
                                 const char *shown_path, uint32_t pid, bool pinned)
{
	struct target *t = xcalloc(1, sizeof(*t));
	t->key = *k;
	t->slot = slot;
	t->stack = stack;
	t->info = *info;
	t->pinned = pinned;
	t->first_pid = pid;
	t->attached_at = time(NULL);
	t->attached_ns = clock_mono_ns();
	snprintf(t->path, sizeof(t->path), "%s", shown_path);
	return t;
}

/* Attaches each placed function's probes; returns how many read/write
 * functions got theirs (counting all and the emulated ones too). */
static unsigned attach_placed(struct target *t, const char *open_path, unsigned *probed,
                              unsigned *emulated)
{
	unsigned io = 0;
	for (unsigned f = 0; f < t->stack->nfuncs; f++) {
		const struct tls_func *fn = &t->stack->funcs[f];
		const struct placement *pl = &t->place[f];
		if (pl->kind != PLACE_PUBLIC && pl->kind != PLACE_CALLEE)
			continue;
		bool ok = fn->ret_sites ? attach_ret_sites(t, open_path, f, pl)
		          : fn->ret     ? attach_pair(t, open_path, f, pl->at)
		                        : attach_probe(t, open_path, f, pl->at, false);
		if (ok && tls_is_io(fn))
			io++;
		*probed += ok;
		*emulated += ok && pl->emulated;
		log_debug("%s: %s at 0x%llx (%s, %s): %s", t->path, t->stack->symbols[f],
		          (unsigned long long)pl->at, pl->insn,
		          pl->emulated ? "emulated" : "single-stepped", pl->why);
	}
	return io;
}

static void log_attached(const struct target *t, const uint64_t *off, uint64_t t0, uint64_t t1,
                         unsigned probed, unsigned emulated)
{
	char who[96] = "";
	uint32_t pid = t->first_pid;
	log_debug("%s: symbols %.2f ms, attach %.2f ms, handling began %.2f ms after the mapping",
	          t->path, (double)(t1 - t0) / 1e6, (double)(clock_mono_ns() - t1) / 1e6,
	          mapped_at ? (double)(t0 - mapped_at) / 1e6 : -1.0);
	if (pid && mapped_at)
		snprintf(who, sizeof(who), ", first used by pid %u, %.1f ms after it mapped it",
		         pid, (double)(clock_mono_ns() - mapped_at) / 1e6);
	else if (pid)
		snprintf(who, sizeof(who), ", first used by pid %u", pid);
	log_info("attached %u probes to %s (%s, %s %s; %u of %u functions on emulated "
	         "instructions%s)",
	         t->nprobes, t->path, t->info.executable ? "executable" : "library", t->stack->name,
	         t->stack->version(&t->info, off), emulated, probed, who);
}

/* Probes one file through open_path. Returns the target, or NULL when it
 * carries no usable TLS functions (dismissed) or attaching failed. */
static struct target *probe_path(const struct file_key *k, const char *open_path,
                                 const char *shown_path, uint32_t pid, bool pinned)
{
	uint64_t off[TLS_MAX_FUNCS];
	struct elf_info info;
	uint64_t t0 = clock_mono_ns();
	const struct tls_stack *refused;
	char why[256] = "";
	if (handling_report)
		pthread_mutex_unlock(&lock);
	const struct tls_stack *stack =
	    find_stack(open_path, off, &info, &refused, why, sizeof(why));
	if (handling_report)
		pthread_mutex_lock(&lock);
	uint64_t t1 = clock_mono_ns();
	if (!stack && refused)
		note_refused(k, shown_path, refused, why);
	if (!stack) {
		char needs[192];
		tls_needs(needs, sizeof(needs));
		if (pinned && !refused)
			log_warn("%s: no %s; not probed", shown_path, needs);
		/* a refused file is looked at again by its next user: what it was
		 * refused for is rare, and must not outlive its cause */
		if (!refused)
			dismiss(k);
		log_debug("%s: no TLS stack to probe%s%s (looked %.2f ms)", shown_path,
		          refused ? ": " : "", refused ? why : "", (double)(t1 - t0) / 1e6);
		return NULL;
	}
	int slot = alloc_slot();
	if (slot < 0) {
		attach_errors++;
		log_error("%s: more than %d files to probe; not probed", shown_path,
		          LLMOBS_MAX_PROBE_FILES);
		return NULL;
	}
	struct target *t = new_target(k, (unsigned)slot, stack, &info, shown_path, pid, pinned);
	stack->place(open_path, &info, off, redirect, t->place);
	unsigned probed = 0, emulated = 0;
	if (!attach_placed(t, open_path, &probed, &emulated)) {
		detach_probes(t);
		slots_used[slot] = 0;
		free(t);
		return NULL;
	}
	HASH_ADD(hh, targets, key, sizeof(t->key), t);
	bpf_mark(k, LLMOBS_FILE_PROBED);
	log_attached(t, off, t0, t1, probed, emulated);
	return t;
}

/* probe_path through an fd opened first: locating and attaching take a
 * while (BoringSSL's first location about 0.5 s), and a short-lived
 * process's /proc/PID/root path is gone by then, while the file is not. */
static struct target *probe_file(const struct file_key *k, const char *open_path,
                                 const char *shown_path, uint32_t pid, bool pinned)
{
	char held[64];
	int fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		snprintf(held, sizeof(held), "/proc/self/fd/%d", fd);
	struct target *t = probe_path(k, fd >= 0 ? held : open_path, shown_path, pid, pinned);
	if (fd >= 0)
		close(fd);
	return t;
}

static void detach_target(struct target *t, const char *why)
{
	for (unsigned i = 0; i < t->nprobes; i++)
		if (!t->probes[i].shared)
			hits_retired += read_hits(t->probes[i].cookie);
	log_info("detached %u probes from %s (%s)", t->nprobes, t->path, why);
	HASH_DEL(targets, t);
	detach_probes(t);
	bpf_mark(&t->key, 0); /* a later user is reported as new again */
	slots_used[t->slot] = 0;
	free(t->users);
	free(t);
}

/* ---- processes ---- */

static bool pid_selected(uint32_t pid)
{
	if (filter.pid && pid != filter.pid)
		return false;
	if (filter.comm) {
		char fn[64], comm[32] = "";
		snprintf(fn, sizeof(fn), "/proc/%u/comm", pid);
		FILE *f = fopen(fn, "re");
		if (!f)
			return false;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, filter.comm) != 0)
			return false;
	}
	if (filter.cgroup_path) {
		char text[4096];
		if (!cgroup_read_proc(pid, text, sizeof(text)))
			return false;
		const char *v2 = cgroup_v2_path(text);
		size_t len = strlen(filter.cgroup_path);
		if (!v2)
			return false;
		if (strncmp(v2, filter.cgroup_path, len) != 0 ||
		    (v2[len] != '\n' && v2[len] != '/' && v2[len] != '\0' &&
		     strcmp(filter.cgroup_path, "/") != 0))
			return false;
	}
	return true;
}

/* The path to open a file mapped by pid: through its root (containers), or
 * the mapping itself when that path names another file (deleted/replaced). */
static bool open_path_of(uint32_t pid, const char *range, const char *path,
                         const struct file_key *k, char *out, size_t n)
{
	struct stat st;
	snprintf(out, n, "/proc/%u/root%s", pid, path);
	if (stat(out, &st) == 0 && kdev_of(st.st_dev) == k->dev && st.st_ino == k->ino)
		return true;
	snprintf(out, n, "/proc/%u/map_files/%s", pid, range);
	return stat(out, &st) == 0;
}

/* Looks at every executable file mapping of pid. Returns false when the
 * process is gone. */
static bool scan_pid(uint32_t pid)
{
	char fn[64], line[PATH_MAX + 128];
	snprintf(fn, sizeof(fn), "/proc/%u/maps", pid);
	FILE *f = fopen(fn, "re");
	if (!f)
		return false;
	struct file_key last = {0, 0};
	while (fgets(line, sizeof(line), f)) {
		char range[64], perms[8], path[PATH_MAX];
		unsigned maj, min;
		unsigned long long ino, off;
		path[0] = '\0';
		if (sscanf(line, "%63s %7s %llx %x:%x %llu %4095[^\n]", range, perms, &off, &maj,
		           &min, &ino, path) < 6)
			continue;
		if (perms[2] != 'x' || !ino || path[0] != '/')
			continue;
		struct file_key k = {((uint64_t)maj << 20) | min, ino};
		if (k.dev == last.dev && k.ino == last.ino)
			continue; /* the same file's next segment */
		last = k;
		struct target *t;
		HASH_FIND(hh, targets, &k, sizeof(k), t);
		if (t) {
			add_user(t, pid);
			continue;
		}
		struct dismissed *d;
		HASH_FIND(hh, dismissed, &k, sizeof(k), d);
		if (d)
			continue;
		char *del = strstr(path, " (deleted)");
		if (del && del[10] == '\0')
			*del = '\0';
		char open_path[PATH_MAX + 64];
		if (!open_path_of(pid, range, path, &k, open_path, sizeof(open_path))) {
			log_debug("pid %u: cannot open %s", pid, path);
			continue;
		}
		t = probe_file(&k, open_path, path, pid, false);
		if (t)
			add_user(t, pid);
	}
	fclose(f);
	return true;
}

static void scan_all(void)
{
	DIR *d = opendir("/proc");
	if (!d) {
		log_error("cannot read /proc: %s", strerror(errno));
		return;
	}
	uint32_t self = (uint32_t)getpid();
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		uint32_t pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		if (pid != self && pid_selected(pid))
			scan_pid(pid);
	}
	closedir(d);
}

void discover_scan_all(void)
{
	pthread_mutex_lock(&lock);
	scan_all();
	last_refresh = clock_mono_ns();
	unsigned n = HASH_COUNT(targets);
	pthread_mutex_unlock(&lock);
	log_info("discovery: %u file(s) probed, %u dismissed", n, ndismissed);
}

/* ---- pinned files ---- */

/* Library directories of Debian/Ubuntu, Fedora/RHEL, Alpine and /usr/local. */
static const char *const lib_dirs[] = {
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/local/ssl/lib",
    NULL,
};

static unsigned pin(const char *path, bool explicit)
{
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(path, real) || stat(real, &st) != 0) {
		if (explicit)
			log_error("--libssl %s: %s", path, strerror(errno));
		return 0;
	}
	struct file_key k = {kdev_of(st.st_dev), st.st_ino};
	struct target *t;
	HASH_FIND(hh, targets, &k, sizeof(k), t);
	if (t)
		return 0; /* /lib and /usr/lib are often the same directory */
	return probe_file(&k, real, real, 0, true) ? 1 : 0;
}

/* The stacks' library files in one directory. */
static unsigned pin_dir(const char *dir)
{
	unsigned n = 0;
	char path[PATH_MAX];
	for (const struct tls_stack *const *s = tls_stacks; *s; s++) {
		for (int j = 0; (*s)->pinned[j]; j++) {
			snprintf(path, sizeof(path), "%s/%s", dir, (*s)->pinned[j]);
			if (access(path, F_OK) == 0)
				n += pin(path, false);
		}
	}
	return n;
}

unsigned discover_pinned(const char **extra)
{
	unsigned n = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; extra && extra[i]; i++)
		n += pin(extra[i], true);
	for (int d = 0; lib_dirs[d]; d++)
		n += pin_dir(lib_dirs[d]);
	pthread_mutex_unlock(&lock);
	return n;
}

/* ---- events ---- */

static void handle_mapped(uint32_t tgid, struct file_key k, uint64_t ts)
{
	struct target *t;
	pthread_mutex_lock(&lock);
	HASH_FIND(hh, targets, &k, sizeof(k), t);
	if (t) {
		add_user(t, tgid);
		pthread_mutex_unlock(&lock);
		return;
	}
	struct dismissed *d;
	HASH_FIND(hh, dismissed, &k, sizeof(k), d);
	mapped_at = ts;
	handling_report = true;
	bool alive = !d && scan_pid(tgid);
	handling_report = false;
	mapped_at = 0;
	if (alive) {
		HASH_FIND(hh, targets, &k, sizeof(k), t);
		HASH_FIND(hh, dismissed, &k, sizeof(k), d);
	}
	/* Known by now, or a key /proc/PID/maps does not show (overlayfs maps
	 * the lower file): the scan above probed what the process maps, and
	 * the periodic refresh keeps its users right. A process that is gone
	 * before its report is handled (a short script while a file was being
	 * located) tells nothing of the file: its next user is looked at. */
	if (!t && alive)
		dismiss(&k);
	pthread_mutex_unlock(&lock);
}

static void handle_exit(uint32_t tgid)
{
	struct target *t, *tmp;
	pthread_mutex_lock(&lock);
	HASH_ITER(hh, targets, t, tmp)
	{
		/* exits that come together are checked together */
		if (remove_user(t, tgid) && !t->nusers && !t->pinned && !recheck_at)
			recheck_at = clock_mono_ns() + RECHECK_NS;
	}
	pthread_mutex_unlock(&lock);
}

/* A full rescan: finds users of every probed file (forked children map
 * files without an exec or mmap), probes files whose reports were lost,
 * and detaches files nobody maps any more. */
static void refresh(void)
{
	uint64_t now = clock_mono_ns();
	if (now - last_refresh < REFRESH_NS && !(recheck_at && now >= recheck_at))
		return;
	recheck_at = 0;
	last_refresh = now;
	pthread_mutex_lock(&lock);
	struct target *t, *tmp;
	HASH_ITER(hh, targets, t, tmp)
	{
		t->nusers = 0;
	}
	scan_all();
	HASH_ITER(hh, targets, t, tmp)
	{
		if (!t->nusers && !t->pinned)
			detach_target(t, "no process uses it any more");
	}
	pthread_mutex_unlock(&lock);
}

/* ---- reporting ---- */

/* ---- the discovery thread ----
 * Locating a TLS stack in a large executable takes a while (BoringSSL in
 * Claude Code about 0.4 s); on the capture thread it would hold up the
 * ring buffer's consumer that long. Reports are queued here and handled
 * in order on a thread of their own, which also runs the refresh. */

#define QUEUE_LEN  4096
#define WAKE_EVERY 100 /* ms: the refresh's clock */

struct job {
	bool exit;
	uint32_t tgid;
	struct file_key key;
	uint64_t ts;
};

static struct job queue[QUEUE_LEN];
static unsigned qhead, qlen;
static bool qlost; /* reports dropped when full: a full rescan finds their files */
static bool qstop, qrunning;
static pthread_t qthread;
static uint32_t job_pid; /* the process whose report is being handled */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;

static void enqueue(const struct job *j)
{
	pthread_mutex_lock(&qlock);
	if (qlen == QUEUE_LEN) {
		qlost = true;
	} else {
		queue[(qhead + qlen) % QUEUE_LEN] = *j;
		qlen++;
		pthread_cond_signal(&qcond);
	}
	pthread_mutex_unlock(&qlock);
}

static void run_job(const struct job *j)
{
	if (j->exit)
		handle_exit(j->tgid);
	else
		handle_mapped(j->tgid, j->key, j->ts);
}

bool discover_locating(uint32_t pid)
{
	pthread_mutex_lock(&qlock);
	bool pending = job_pid == pid;
	for (unsigned i = 0; i < qlen && !pending; i++) {
		const struct job *j = &queue[(qhead + i) % QUEUE_LEN];
		pending = !j->exit && j->tgid == pid;
	}
	pthread_mutex_unlock(&qlock);
	return pending;
}

/* One job at a time off the queue: a report taken off is named by
 * job_pid until it is handled, so a process's report is always either
 * queued or named (discover_locating). */
static void *discovery_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	while (!qstop) {
		if (!qlen) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += WAKE_EVERY * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&qcond, &qlock, &ts);
		}
		for (unsigned n = 0; qlen && !qstop && n < 64; n++) { /* then a refresh */
			struct job j = queue[qhead];
			qhead = (qhead + 1) % QUEUE_LEN;
			qlen--;
			job_pid = j.exit ? 0 : j.tgid;
			pthread_mutex_unlock(&qlock);
			run_job(&j);
			pthread_mutex_lock(&qlock);
			job_pid = 0;
		}
		bool lost = qlost;
		qlost = false;
		pthread_mutex_unlock(&qlock);
		if (lost) {
			log_warn(
			    "discovery: more than %d process reports at once; rescanning /proc",
			    QUEUE_LEN);
			recheck_at = 1;
		}
		refresh();
		pthread_mutex_lock(&qlock);
	}
	pthread_mutex_unlock(&qlock);
	return NULL;
}

int discover_start(void)
{
	qstop = false;
	int err = pthread_create(&qthread, NULL, discovery_main, NULL);
	if (err) {
		log_warn("discovery thread: %s; discovering on the capture thread", strerror(err));
		return -1;
	}
	qrunning = true;
	return 0;
}

static void discover_stop(void)
{
	if (!qrunning)
		return;
	pthread_mutex_lock(&qlock);
	qstop = true;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
	pthread_join(qthread, NULL);
	qrunning = false;
	qhead = qlen = 0;
}

void discover_mapped(const struct llmobs_event *ev)
{
	struct job j = {.tgid = ev->tgid, .key = {ev->pos, ev->conn}, .ts = ev->ts_ns};
	if (qrunning)
		enqueue(&j);
	else
		run_job(&j);
}

void discover_exit(uint32_t tgid)
{
	struct job j = {.exit = true, .tgid = tgid};
	if (qrunning)
		enqueue(&j);
	else
		run_job(&j);
}

void discover_tick(void)
{
	if (!qrunning)
		refresh();
}

void discover_stats(struct discover_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lock);
	struct target *t, *tmp;
	HASH_ITER(hh, targets, t, tmp)
	{
		if (t->info.executable)
			out->files_executable++;
		else
			out->files_library++;
		out->uprobes += t->nprobes;
		for (unsigned i = 0; i < t->nprobes; i++)
			if (!t->probes[i].shared)
				out->hits += read_hits(t->probes[i].cookie);
	}
	out->attach_errors = attach_errors;
	out->hits += hits_retired;
	pthread_mutex_unlock(&lock);
}

static cJSON *target_json(const struct target *t)
{
	char tmp[64];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", t->path);
	snprintf(tmp, sizeof(tmp), "%llx:%02llx", (unsigned long long)(t->key.dev >> 20),
	         (unsigned long long)(t->key.dev & 0xfffff));
	cJSON_AddStringToObject(o, "device", tmp);
	cJSON_AddNumberToObject(o, "inode", (double)t->key.ino);
	cJSON_AddStringToObject(o, "kind", t->info.executable ? "executable" : "library");
	uint64_t off[TLS_MAX_FUNCS] = {0};
	for (unsigned f = 0; f < t->stack->nfuncs; f++)
		off[f] = t->place[f].symbol;
	cJSON_AddStringToObject(o, "stack", t->stack->name);
	cJSON_AddStringToObject(o, "version", t->stack->version(&t->info, off));
	t->stack->to_json(o, &t->info);
	if (t->info.soname[0])
		cJSON_AddStringToObject(o, "soname", t->info.soname);
	cJSON_AddStringToObject(o, "origin", t->pinned ? "pinned" : "discovered");
	struct tm tm;
	gmtime_r(&t->attached_at, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, "attached_at", tmp);
	cJSON *users = cJSON_AddArrayToObject(o, "pids");
	for (unsigned i = 0; i < t->nusers && i < 256; i++)
		cJSON_AddItemToArray(users, cJSON_CreateNumber(t->users[i]));
	cJSON_AddNumberToObject(o, "processes", t->nusers);
	cJSON *probes = cJSON_AddArrayToObject(o, "probes");
	uint64_t total = 0;
	for (unsigned i = 0; i < t->nprobes; i++) {
		const struct probe *p = &t->probes[i];
		cJSON *po = cJSON_CreateObject();
		cJSON_AddStringToObject(po, "function", t->stack->symbols[p->func]);
		cJSON_AddStringToObject(po, "type",
		                        p->site  ? "ret-site uprobe"
		                        : p->ret ? "uretprobe"
		                                 : "uprobe");
		snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)p->offset);
		cJSON_AddStringToObject(po, "offset", tmp);
		uint64_t h = read_hits(p->cookie);
		total += p->shared ? 0 : h; /* shown on each RET site, counted once */
		cJSON_AddNumberToObject(po, "hits", (double)h);
		cJSON_AddItemToArray(probes, po);
	}
	cJSON_AddNumberToObject(o, "hits", (double)total);
	cJSON *fns = cJSON_AddArrayToObject(o, "functions");
	for (unsigned f = 0; f < t->stack->nfuncs; f++) {
		const struct placement *pl = &t->place[f];
		if (pl->kind == PLACE_NONE)
			continue;
		cJSON *fo = cJSON_CreateObject();
		cJSON_AddStringToObject(fo, "function", t->stack->symbols[f]);
		snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)pl->symbol);
		cJSON_AddStringToObject(fo, "symbol_offset", tmp);
		cJSON_AddStringToObject(fo, "placement", place_kind_name(pl->kind));
		if (pl->kind == PLACE_COVERED) {
			cJSON_AddNullToObject(fo, "probe_offset");
			cJSON_AddStringToObject(fo, "covered_by",
			                        t->stack->symbols[pl->covered_by]);
		} else {
			snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)pl->at);
			cJSON_AddStringToObject(fo, "probe_offset", tmp);
			cJSON_AddStringToObject(fo, "hit_cost",
			                        pl->emulated ? "emulated" : "single-stepped");
		}
		cJSON_AddStringToObject(fo, "first_instruction", pl->insn);
		if (pl->nrets) {
			cJSON *rets = cJSON_AddArrayToObject(fo, "ret_sites");
			for (unsigned i = 0; i < pl->nrets; i++) {
				snprintf(tmp, sizeof(tmp), "0x%llx",
				         (unsigned long long)pl->rets[i]);
				cJSON_AddItemToArray(rets, cJSON_CreateString(tmp));
			}
		}
		cJSON_AddStringToObject(fo, "why", pl->why);
		cJSON_AddItemToArray(fns, fo);
	}
	return o;
}

static enum stack_guess guess_of(const struct tls_stack *s)
{
	if (s == &tls_go)
		return GUESS_GO;
	if (s == &tls_boringssl)
		return GUESS_BORINGSSL;
	if (s == &tls_gnutls)
		return GUESS_GNUTLS;
	return GUESS_OPENSSL;
}

void discover_pid_probed(uint32_t pid, uint64_t dev, uint64_t ino, struct blind_probed *out)
{
	memset(out, 0, sizeof(*out));
	out->locating = discover_locating(pid);
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; ino && i < MAX_REFUSED && i < nrefused; i++) {
		const struct refused *r = &refused_files[i];
		if (r->key.dev == dev && r->key.ino == ino)
			snprintf(out->refused, sizeof(out->refused), "%s", r->why);
	}
	struct file_key k = {dev, ino};
	struct dismissed *d = NULL;
	if (ino)
		HASH_FIND(hh, dismissed, &k, sizeof(k), d);
	out->located = d || out->refused[0];
	struct target *t, *tmp;
	HASH_ITER(hh, targets, t, tmp)
	{
		/* its executable counts after its exit was handled too */
		bool exe = ino && t->key.dev == dev && t->key.ino == ino;
		bool user = exe;
		for (unsigned i = 0; i < t->nusers && !user; i++)
			user = t->users[i] == pid;
		if (!user)
			continue;
		out->any = true;
		if (t->attached_ns > out->last_ns)
			out->last_ns = t->attached_ns;
		if (exe) {
			out->exe = out->located = true;
			/* a longer path is cut: it only names the file */
			size_t n = strnlen(t->path, sizeof(out->file.path) - 1);
			memcpy(out->file.path, t->path, n);
			out->file.path[n] = 0;
			out->file.dev = dev;
			out->file.ino = ino;
			out->file.stack = guess_of(t->stack);
		}
	}
	pthread_mutex_unlock(&lock);
}

cJSON *discover_json(void)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *files = cJSON_AddArrayToObject(j, "files");
	pthread_mutex_lock(&lock);
	struct target *t, *tmp;
	HASH_ITER(hh, targets, t, tmp)
	{
		cJSON_AddItemToArray(files, target_json(t));
	}
	cJSON_AddNumberToObject(j, "files_dismissed", ndismissed);
	cJSON *ref = cJSON_AddArrayToObject(j, "files_refused");
	for (unsigned i = nrefused > MAX_REFUSED ? nrefused - MAX_REFUSED : 0; i < nrefused; i++) {
		const struct refused *r = &refused_files[i % MAX_REFUSED];
		char at[32];
		struct tm tm;
		gmtime_r(&r->at, &tm);
		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", r->path);
		cJSON_AddStringToObject(o, "stack", r->stack);
		cJSON_AddStringToObject(o, "reason", r->why);
		cJSON_AddStringToObject(o, "at", at);
		cJSON_AddItemToArray(ref, o);
	}
	cJSON_AddNumberToObject(j, "attach_errors", (double)attach_errors);
	pthread_mutex_unlock(&lock);
	return j;
}

void discover_free(void)
{
	discover_stop();
	struct target *t, *tmp;
	pthread_mutex_lock(&lock);
	/* every file's probes in one go: detaching waits on the kernel */
	size_t nlinks = 0;
	HASH_ITER(hh, targets, t, tmp)
	nlinks += t->nprobes;
	struct bpf_link **links = xcalloc(nlinks ? nlinks : 1, sizeof(*links));
	nlinks = 0;
	HASH_ITER(hh, targets, t, tmp)
	{
		for (unsigned i = 0; i < t->nprobes; i++)
			links[nlinks++] = t->probes[i].link;
		t->nprobes = 0;
	}
	links_destroy(links, nlinks);
	free(links);
	HASH_ITER(hh, targets, t, tmp)
	{
		HASH_DEL(targets, t);
		slots_used[t->slot] = 0;
		free(t->users);
		free(t);
	}
	struct dismissed *d, *dtmp;
	HASH_ITER(hh, dismissed, d, dtmp)
	{
		HASH_DEL(dismissed, d);
		free(d);
	}
	ndismissed = 0;
	pthread_mutex_unlock(&lock);
}
