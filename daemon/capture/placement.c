/* Probe placement (see placement.h). Every decision rests on decoded bytes
 * of this very file; anything unexpected keeps the public symbol. */
#include "capture/placement.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/insn.h"

#define CODE_BYTES 96 /* enough for a prologue and its argument checks */

const char *place_kind_name(enum place_kind k)
{
	switch (k) {
	case PLACE_PUBLIC:
		return "symbol";
	case PLACE_CALLEE:
		return "callee";
	case PLACE_COVERED:
		return "covered";
	default:
		return "none";
	}
}

static bool in_text(const struct elf_info *info, uint64_t off)
{
	for (unsigned i = 0; i < info->ntext; i++)
		if (off >= info->text_start[i] && off < info->text_end[i])
			return true;
	return false;
}

static size_t read_code(int fd, uint64_t off, uint8_t *buf)
{
	ssize_t n = pread(fd, buf, CODE_BYTES, (off_t)off);
	return n > 0 ? (size_t)n : 0;
}

static void public(struct placement *p, const uint8_t *code, size_t n, const char *why)
{
	p->kind = PLACE_PUBLIC;
	p->at = p->symbol;
	p->emulated = insn_emulated(code, n);
	snprintf(p->insn, sizeof(p->insn), "%s", insn_describe(code, n));
	snprintf(p->why, sizeof(p->why), "%s", why);
}

void place_symbols(const char *path, const uint64_t *offsets, unsigned n, const char *why,
                   struct placement *out)
{
	memset(out, 0, n * sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	for (unsigned f = 0; f < n; f++) {
		uint8_t code[CODE_BYTES];
		size_t len = offsets[f] && fd >= 0 ? read_code(fd, offsets[f], code) : 0;
		out[f].symbol = offsets[f];
		if (offsets[f])
		public(&out[f], code, len, len ? why : "code unreadable: public symbol");
	}
	if (fd >= 0)
		close(fd);
}

void place_probes(const char *path, const struct elf_info *info, const uint64_t offsets[F__N],
                  bool redirect, struct placement out[F__N])
{
	memset(out, 0, F__N * sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t code[F__N][CODE_BYTES];
	size_t len[F__N] = {0};
	for (int f = 0; f < F__N; f++) {
		out[f].symbol = offsets[f];
		if (offsets[f] && fd >= 0)
			len[f] = read_code(fd, offsets[f], code[f]);
	}
	/* 1. entries that adjust the stack and call: probe the callee */
	for (int f = 0; f < F__N; f++) {
		struct placement *p = &out[f];
		if (!offsets[f])
			continue;
		uint64_t callee;
		uint8_t cc[CODE_BYTES];
		size_t cn;
		if (!len[f]) {
			public(p, code[f], 0, "code unreadable: public symbol");
			continue;
		}
		if (insn_emulated(code[f], len[f])) {
			public(p, code[f], len[f], "entry already emulated");
			continue;
		}
		if (!redirect) {
			public(p, code[f], len[f], "placement disabled (--probe-at symbol)");
			continue;
		}
		if (!insn_stack_adjust_then_call(code[f], len[f], offsets[f], &callee)) {
			public(p, code[f], len[f],
			       "entry is not \"sub $N,%rsp; call\": public symbol");
			continue;
		}
		if (!in_text(info, callee) || !(cn = read_code(fd, callee, cc)) ||
		    !insn_emulated(cc, cn)) {
			public(p, code[f], len[f], "callee outside the text or not emulated");
			continue;
		}
		p->kind = PLACE_CALLEE;
		p->at = callee;
		p->emulated = true;
		snprintf(p->insn, sizeof(p->insn), "%s", insn_describe(cc, cn));
		snprintf(p->why, sizeof(p->why),
		         "%s begins \"%s; call 0x%llx\"; the callee begins with an emulated "
		         "instruction and gets the same arguments",
		         ssl_func_names[f], insn_describe(code[f], len[f]),
		         (unsigned long long)callee);
	}
	/* 2. SSL_read/SSL_write whose first call reaches the _ex forms' callee
	 * go through its probe already */
	static const int pairs[][2] = {{F_READ, F_READ_EX}, {F_WRITE, F_WRITE_EX}};
	for (size_t i = 0; i < 2; i++) {
		struct placement *p = &out[pairs[i][0]], *ex = &out[pairs[i][1]];
		uint64_t callee;
		if (!offsets[pairs[i][0]] || ex->kind != PLACE_CALLEE || !len[pairs[i][0]] ||
		    !insn_first_call(code[pairs[i][0]], len[pairs[i][0]], p->symbol, &callee) ||
		    callee != ex->at)
			continue;
		p->kind = PLACE_COVERED;
		p->at = 0;
		p->covered_by = (unsigned)pairs[i][1];
		p->emulated = false;
		snprintf(p->insn, sizeof(p->insn), "%s",
		         insn_describe(code[pairs[i][0]], len[pairs[i][0]]));
		snprintf(p->why, sizeof(p->why),
		         "its first call is to 0x%llx, probed for %s: every call is seen there",
		         (unsigned long long)callee, ssl_func_names[pairs[i][1]]);
	}
	/* 3. two functions whose probes landed on the same address: one probe */
	for (int f = 0; f < F__N; f++)
		for (int g = f + 1; g < F__N; g++)
			if (out[f].kind == PLACE_CALLEE && out[g].kind == PLACE_CALLEE &&
			    out[f].at == out[g].at) {
				int keep = (g == F_READ_EX || g == F_WRITE_EX) ? g : f;
				int drop = keep == g ? f : g;
				out[drop].kind = PLACE_COVERED;
				out[drop].covered_by = (unsigned)keep;
				snprintf(out[drop].why, sizeof(out[drop].why),
				         "calls the same function as %s: one probe there",
				         ssl_func_names[keep]);
			}
	if (fd >= 0)
		close(fd);
}
