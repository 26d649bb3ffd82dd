/* Where each OpenSSL probe goes in a file (tls_openssl.c's .place). A
 * uprobe on an instruction the kernel emulates (push, call, jmp, nop) costs
 * ~5 us here; one it must single-step (sub, mov, test...) ~18 us. OpenSSL
 * 3's SSL_read_ex and SSL_write_ex begin "sub $8,%rsp; call internal", and
 * the internal functions begin with a push and take the same arguments, so
 * probing them is cheaper at the same hit count; SSL_read and SSL_write
 * reach the same internal functions by their first call and need no probe
 * of their own. */
#ifndef LLMOBS_CAPTURE_PLACEMENT_H
#define LLMOBS_CAPTURE_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/elfsym.h"
#include "capture/tls_openssl.h"

enum place_kind {
	PLACE_NONE = 0, /* the file does not have the function */
	PLACE_PUBLIC,   /* the symbol itself */
	PLACE_CALLEE,   /* the function the entry calls, args passed through */
	PLACE_COVERED,  /* no probe: reaches another function's probe */
};

/* RET instructions probed per function, at most (tls_func.ret_sites). */
#define PLACE_MAX_RETS 32

struct placement {
	enum place_kind kind;
	uint64_t symbol;     /* file offset of the public symbol */
	uint64_t at;         /* file offset of the probe */
	bool emulated;       /* the probed instruction is emulated, not stepped */
	unsigned covered_by; /* the function (of the stack) whose probe sees it */
	char insn[48];       /* the probed (or, if covered, the entry) instruction */
	char why[160];
	uint64_t rets[PLACE_MAX_RETS]; /* file offsets of its RET instructions */
	unsigned nrets;
};

/* Chooses placements for every function with offsets[f] != 0 in path.
 * redirect=false keeps every public symbol (for comparison). */
void place_probes(const char *path, const struct elf_info *info, const uint64_t offsets[F__N],
                  bool redirect, struct placement out[F__N]);
/* Every function at its public symbol (stacks without placement rules):
 * out[f] for f < n with offsets[f] != 0. */
void place_symbols(const char *path, const uint64_t *offsets, unsigned n, const char *why,
                   struct placement *out);
const char *place_kind_name(enum place_kind k);

#endif
