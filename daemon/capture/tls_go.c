/* The Go crypto/tls table (tls_go.h). Go binaries have no ELF symbols to
 * rely on (-ldflags=-s strips them): the functions are found in the
 * runtime's .gopclntab. Write is copied at its entry, Read at each of its
 * RET instructions (never a uretprobe: the runtime moves goroutine
 * stacks), and Close ends the connection. */
#include "capture/tls_go.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/disasm.h"
#include "capture/gopclntab.h"
#include "capture/insn.h"
#include "capture/placement.h"
#include "core/log.h"

_Static_assert(GO__N <= TLS_MAX_FUNCS, "a file's probe counters hold TLS_MAX_FUNCS functions");
_Static_assert(GO__N <= ELF_MAX_FUNCS, "elf_info.func_end holds each function's end");

/* Longest function body decoded for its RET instructions (Read is ~1 KB). */
#define BODY_MAX (64 * 1024)

const char *const go_func_names[GO__N] = {
    "crypto/tls.(*Conn).Write",
    "crypto/tls.(*Conn).Read",
    "crypto/tls.(*Conn).Close",
};

/* clang-format off */
static const struct tls_func funcs[GO__N] = {
    [GO_WRITE] = {.role = TLS_WRITE, .entry = "go_tls_write_enter"},
    [GO_READ]  = {.role = TLS_READ,  .entry = "go_tls_read_enter", .ret = "go_tls_read_ret",
                 .ret_sites = true},
    [GO_CLOSE] = {.role = TLS_END,   .entry = "go_tls_close_enter", .optional = true},
};
/* clang-format on */

static const char *const pinned[] = {NULL};

static enum tls_found find(const char *path, uint64_t *offsets, struct elf_info *info, char *why,
                           size_t nwhy)
{
	uint64_t end[GO__N];
	struct go_info gi;
	if (go_func_ranges(path, go_func_names, GO__N, offsets, end, &gi, info) <= 0)
		return TLS_ABSENT;
	if (!gi.regabi) {
		/* the probes read arguments from registers: stack-ABI Go has none */
		snprintf(why, nwhy,
		         "Go crypto/tls built by %s (before Go 1.17, stack-based calling "
		         "convention): not supported",
		         gi.version[0] ? gi.version : "an old Go");
		memset(offsets, 0, GO__N * sizeof(*offsets));
		return TLS_REFUSED;
	}
	snprintf(info->go_version, sizeof(info->go_version), "%s", gi.version);
	memcpy(info->func_end, end, sizeof(end));
	return TLS_FOUND;
}

static const char *version(const struct elf_info *info, const uint64_t *offsets)
{
	(void)offsets;
	return info->go_version[0] ? info->go_version : "go (version unknown)";
}

static void to_json(cJSON *o, const struct elf_info *info)
{
	cJSON_AddStringToObject(o, "go", version(info, NULL));
}

static uint8_t *read_body(int fd, uint64_t start, uint64_t end, size_t *n)
{
	if (fd < 0 || end <= start || end - start > BODY_MAX)
		return NULL;
	uint8_t *code = malloc(end - start);
	ssize_t got = code ? pread(fd, code, end - start, (off_t)start) : -1;
	if (got != (ssize_t)(end - start)) {
		free(code);
		return NULL;
	}
	*n = (size_t)got;
	return code;
}

/* One function: on its stack check's jbe, and at its RET instructions
 * when the table wants them. */
static void place_one(int fd, const struct elf_info *info, const struct tls_func *fn,
                      uint64_t start, struct placement *p)
{
	size_t n = 0;
	uint8_t *code = read_body(fd, start, info->func_end[fn - funcs], &n);
	p->symbol = start;
	if (!code) {
		snprintf(p->why, sizeof(p->why), "code unreadable or over %d bytes", BODY_MAX);
		return;
	}
	/* without the check the BPF side could not tell a re-entry */
	uint64_t jbe = disasm_go_stack_check(code, n, start);
	if (!jbe) {
		snprintf(p->why, sizeof(p->why), "no Go stack check at the entry");
		free(code);
		return;
	}
	p->at = jbe;
	size_t skip = jbe - start;
	p->emulated = insn_emulated(code + skip, n - skip);
	disasm_describe(code + skip, n - skip, p->insn, sizeof(p->insn));
	snprintf(p->why, sizeof(p->why), "%s",
	         "the stack check's jbe: emulated, and a stack growth's pass is told apart");
	if (fn->ret_sites) {
		int r = disasm_ret_sites(code, n, start, p->rets, PLACE_MAX_RETS);
		if (r <= 0 || r > PLACE_MAX_RETS) {
			snprintf(p->why, sizeof(p->why), "%s",
			         r < 0 ? "body does not decode: its returns are unknown"
			               : "too many or no RET instructions");
			free(code);
			return;
		}
		p->nrets = (unsigned)r;
	}
	p->kind = PLACE_PUBLIC;
	free(code);
}

static void place(const char *path, const struct elf_info *info, const uint64_t *offsets,
                  bool redirect, struct placement *out)
{
	(void)redirect; /* the jbe is chosen for correctness first */
	memset(out, 0, GO__N * sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	for (unsigned f = 0; f < GO__N; f++) {
		if (!offsets[f])
			continue;
		place_one(fd, info, &funcs[f], offsets[f], &out[f]);
		if (out[f].kind == PLACE_NONE)
			log_warn("%s: %s not probed: %s", path, go_func_names[f], out[f].why);
	}
	if (fd >= 0)
		close(fd);
}

const struct tls_stack tls_go = {
    .kind = TLS_GO,
    .name = "Go crypto/tls",
    .symbols = go_func_names,
    .funcs = funcs,
    .nfuncs = GO__N,
    .pinned = pinned,
    .needs = "crypto/tls.(*Conn).Read/Write",
    .find = find,
    .version = version,
    .place = place,
    .to_json = to_json,
};
