#include "attach.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "llmobs.skel.h"
#include "log.h"

#define TRACEFS       "/sys/kernel/tracing"
#define TRACEFS_MAGIC 0x74726163

int tracefs_ensure(void)
{
	struct statfs st;
	if (statfs(TRACEFS, &st) == 0 && st.f_type == TRACEFS_MAGIC)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) != 0) {
		log_error("tracefs is not mounted and mounting it at %s failed: %s", TRACEFS,
		          strerror(errno));
		return -1;
	}
	log_info("mounted tracefs at %s", TRACEFS);
	return 0;
}

static void add_link(struct attach_set *set, struct bpf_link *l)
{
	if (set->nlinks < ATTACH_MAX_LINKS)
		set->links[set->nlinks++] = l;
	else
		bpf_link__destroy(l); /* unreachable with the limits we attach */
}

struct ssl_func {
	const char *name;
	struct bpf_program *entry;
	bool ret; /* also a uretprobe */
	bool required;
};

static bool attach_one(struct attach_set *set, struct bpf_program *prog, const char *path,
                       const char *func, bool retprobe, bool required)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = retprobe);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
	if (!l) {
		int err = errno;
		set->uprobes_failed++;
		if (required)
			log_warn("%s: cannot attach %s to %s: %s", path,
			         retprobe ? "uretprobe" : "uprobe", func, strerror(err));
		else
			log_debug("%s: no %s (%s)", path, func, strerror(err));
		return false;
	}
	add_link(set, l);
	set->uprobes_ok++;
	return true;
}

static int attach_file(struct llmobs_bpf *skel, const char *path, struct attach_set *set)
{
	struct ssl_func funcs[] = {
	    {"SSL_write", skel->progs.ssl_write_enter, true, true},
	    {"SSL_write_ex", skel->progs.ssl_write_ex_enter, true, false},
	    {"SSL_read", skel->progs.ssl_read_enter, true, true},
	    {"SSL_read_ex", skel->progs.ssl_read_ex_enter, true, false},
	    {"SSL_free", skel->progs.ssl_free_enter, false, false},
	};
	unsigned ok = 0;
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		if (!attach_one(set, funcs[i].entry, path, funcs[i].name, false, funcs[i].required))
			continue;
		ok++;
		/* The return probe is what copies reads and learns the fd; without
		 * it the entry probe would leave stale state, so detach both. */
		if (funcs[i].ret &&
		    !attach_one(set, skel->progs.ssl_exit_ret, path, funcs[i].name, true, true)) {
			bpf_link__destroy(set->links[--set->nlinks]);
			set->uprobes_ok--;
			ok--;
		}
	}
	if (ok) {
		set->libs++;
		log_info("attached %u SSL probes to %s", ok, path);
	}
	return ok ? 0 : -1;
}

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
static const char *const lib_names[] = {"libssl.so.3", "libssl.so.1.1", NULL};

struct seen {
	dev_t dev;
	ino_t ino;
};

static bool seen_before(struct seen *seen, unsigned *n, unsigned max, const struct stat *st)
{
	for (unsigned i = 0; i < *n; i++)
		if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino)
			return true;
	if (*n < max)
		seen[(*n)++] = (struct seen){st->st_dev, st->st_ino};
	return false;
}

int attach_libssl(struct llmobs_bpf *skel, const char **extra, struct attach_set *set)
{
	struct seen seen[64];
	unsigned nseen = 0;
	char path[PATH_MAX], real[PATH_MAX];
	struct stat st;

	for (int i = 0; extra && extra[i]; i++) {
		if (!realpath(extra[i], real) || stat(real, &st) != 0) {
			log_error("--libssl %s: %s", extra[i], strerror(errno));
			continue;
		}
		if (!seen_before(seen, &nseen, 64, &st))
			attach_file(skel, real, set);
	}
	/* One attach per distinct file: /lib and /usr/lib are often the same. */
	for (int d = 0; lib_dirs[d]; d++) {
		for (int n = 0; lib_names[n]; n++) {
			snprintf(path, sizeof(path), "%s/%s", lib_dirs[d], lib_names[n]);
			if (!realpath(path, real) || stat(real, &st) != 0)
				continue;
			if (!seen_before(seen, &nseen, 64, &st))
				attach_file(skel, real, set);
		}
	}
	if (!set->libs) {
		log_error("no libssl found to attach to (looked for libssl.so.3 and libssl.so.1.1 "
		          "in the system library directories; use --libssl PATH)");
		return -1;
	}
	return 0;
}

struct optional_prog {
	struct bpf_program *prog;
	const char *what;
};

/* Programs that enrich the capture; the daemon runs without any of them. */
static size_t optional_progs(struct llmobs_bpf *skel, struct optional_prog *out)
{
	const struct optional_prog all[] = {
	    {skel->progs.tp_enter_read, "fd learning and plaintext (read)"},
	    {skel->progs.tp_enter_write, "fd learning and plaintext (write)"},
	    {skel->progs.tp_enter_recvfrom, "fd learning and plaintext (recvfrom)"},
	    {skel->progs.tp_enter_sendto, "fd learning and plaintext (sendto)"},
	    {skel->progs.tp_exit_read, "plaintext (read)"},
	    {skel->progs.tp_exit_write, "plaintext (write)"},
	    {skel->progs.tp_exit_recvfrom, "plaintext (recvfrom)"},
	    {skel->progs.tp_exit_sendto, "plaintext (sendto)"},
	    {skel->progs.tp_enter_close, "plaintext (close)"},
	    {skel->progs.tp_enter_accept4, "plaintext server side (accept4)"},
	    {skel->progs.tp_exit_accept4, "plaintext server side (accept4)"},
	    {skel->progs.tp_enter_accept, "plaintext server side (accept)"},
	    {skel->progs.tp_exit_accept, "plaintext server side (accept)"},
	    {skel->progs.tp_enter_writev, "plaintext (writev)"},
	    {skel->progs.tp_exit_writev, "plaintext (writev)"},
	    {skel->progs.tp_enter_readv, "plaintext (readv)"},
	    {skel->progs.tp_exit_readv, "plaintext (readv)"},
	    {skel->progs.tp_enter_sendmsg, "plaintext (sendmsg)"},
	    {skel->progs.tp_exit_sendmsg, "plaintext (sendmsg)"},
	    {skel->progs.tp_enter_recvmsg, "plaintext (recvmsg)"},
	    {skel->progs.tp_exit_recvmsg, "plaintext (recvmsg)"},
	    {skel->progs.tp_enter_connect, "peer addresses (connect)"},
	    {skel->progs.tp_exit_connect, "peer addresses (connect)"},
	    {skel->progs.tp_process_exit, "process exit"},
	    {skel->progs.ssl_free_enter, "SSL_free"},
	};
	memcpy(out, all, sizeof(all));
	return sizeof(all) / sizeof(all[0]);
}

void attach_set_optional(struct llmobs_bpf *skel, bool load)
{
	struct optional_prog progs[32];
	size_t n = optional_progs(skel, progs);
	for (size_t i = 0; i < n; i++)
		bpf_program__set_autoload(progs[i].prog, load);
}

void attach_tracepoints(struct llmobs_bpf *skel, struct attach_set *set)
{
	struct optional_prog tps[32];
	size_t n = optional_progs(skel, tps);
	for (size_t i = 0; i < n; i++) {
		/* uprobes (SSL_free) attach per library, in attach_file() */
		if (!bpf_program__autoload(tps[i].prog) ||
		    tps[i].prog == skel->progs.ssl_free_enter)
			continue;
		struct bpf_link *l = bpf_program__attach(tps[i].prog);
		if (!l) {
			log_warn("tracepoint for %s unavailable (%s): running without it",
			         tps[i].what, strerror(errno));
			continue;
		}
		add_link(set, l);
	}
}

int attach_plain_ports(struct llmobs_bpf *skel, const uint16_t *ports, size_t n)
{
	uint8_t one = 1;
	for (size_t i = 0; i < n; i++) {
		if (bpf_map__update_elem(skel->maps.plain_ports, &ports[i], sizeof(ports[i]), &one,
		                         sizeof(one), BPF_ANY)) {
			log_error("cannot follow plaintext port %u: %s", ports[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

void attach_destroy(struct attach_set *set)
{
	for (unsigned i = 0; i < set->nlinks; i++)
		bpf_link__destroy(set->links[i]);
	set->nlinks = 0;
}
