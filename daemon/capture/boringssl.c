/* The BoringSSL locator (boringssl.h). It reads sections with libelf,
 * decodes with capstone, and takes function starts from the FDEs that
 * .eh_frame_hdr's sorted table finds. Bun's executables have FDEs for a
 * few functions only, so a start is otherwise the nearest 16-byte
 * boundary after int3 padding that decodes straight to the reference,
 * confirmed as the target of a direct call with no other call target in
 * between. Each error site is read from a straight decoding of its
 * function: the block holding the reference (ERR_put_error's immediates,
 * in any order), and the branch into it (the field it tests). */
#include "capture/boringssl.h"

#include <capstone/capstone.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR_LIB_SSL     0x10
#define R_NOT_CALLED    0x42 /* ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED */
#define R_BAD_LENGTH    0x6f /* SSL_R_BAD_LENGTH: SSL_write's num < 0 */
#define R_UNINITIALIZED 0xe2 /* SSL_R_UNINITIALIZED: do_handshake unset */
/* "ssl/ssl_lib.cc" backwards: the daemon's own file must not hold the
 * anchor it looks for, or every copy of it would look like BoringSSL */
#define ANCHOR_REVERSED  "cc.bil_lss/lss"
#define ANCHOR_LEN       14
#define MAX_STRINGS      4
#define MAX_REFS         256
#define MAX_SECS         8
#define SEARCH_BACK      65536 /* how far a function start is looked for */
#define LINES_PEEK_WRITE 64    /* SSL_peek ends this close before SSL_write */
#define LINES_SHUTDOWN   160   /* SSL_shutdown begins this close after SSL_write */
#define MAX_HEAD         256   /* a quic check is this close to its entry */
#define MAX_TARGETS      4096
#define CACHE_SLOTS      16

struct sec {
	uint64_t va, off, size;
	const uint8_t *p;
};

struct image {
	Elf *e;
	bool pie;
	struct sec x[MAX_SECS]; /* executable sections */
	unsigned nx;
	struct sec hdr, ehf; /* .eh_frame_hdr, .eh_frame */
	csh cs;
	struct ins *insns; /* MAX_INSNS, for analyze(): one buffer per file */
};

/* One OPENSSL_PUT_ERROR call site. */
struct site {
	uint64_t ref;    /* the instruction loading the file name */
	uint64_t pos;    /* the address of its operand */
	uint64_t branch; /* the jump into its block (the check), 0 = none */
	uint64_t end;    /* the call or jump after it */
	int64_t lib, reason, line;
	uint64_t start; /* its function's entry, 0 = unknown */
	const char *how;
	int64_t quic_disp; /* the field the check before it compares, -1 = none */
};

static const struct sec *sec_of(const struct image *im, uint64_t va)
{
	for (unsigned i = 0; i < im->nx; i++)
		if (va >= im->x[i].va && va < im->x[i].va + im->x[i].size)
			return &im->x[i];
	return NULL;
}

static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	                 (uint32_t)p[3] << 24);
}

/* memmem for the scans over whole sections: glibc's goes byte by byte for
 * short needles; memchr on the first byte is vectorised. */
static const void *find(const void *hay, size_t n, const void *needle, size_t k)
{
	const uint8_t *p = hay, *end = p + n, *nd = needle;
	while (k && (size_t)(end - p) >= k && (p = memchr(p, nd[0], (size_t)(end - p) - k + 1))) {
		if (!memcmp(p + 1, nd + 1, k - 1))
			return p;
		p++;
	}
	return NULL;
}

/* ---- the anchor string ---- */

static unsigned find_strings(Elf *e, uint64_t *out)
{
	char anchor[ANCHOR_LEN + 1]; /* with its NUL: the path ends there */
	for (int i = 0; i < ANCHOR_LEN; i++)
		anchor[i] = ANCHOR_REVERSED[ANCHOR_LEN - 1 - i];
	anchor[ANCHOR_LEN] = '\0';
	unsigned n = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn)) && n < MAX_STRINGS) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC) || (sh.sh_flags & SHF_EXECINSTR))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		const char *base = d->d_buf, *p = base, *end = base + d->d_size;
		while (n < MAX_STRINGS &&
		       (p = find(p, (size_t)(end - p), anchor, sizeof(anchor)))) {
			/* a whole string: the path ends there, begins after a NUL */
			const char *s = p;
			while (s > base && s[-1] && p - s < 4096)
				s--;
			if (s == base || !s[-1])
				out[n++] = sh.sh_addr + (uint64_t)(s - base);
			p += sizeof(anchor);
		}
	}
	return n;
}

/* Whether a whole "…ssl/ssl_lib.cc" string begins at va (a cached
 * location's check: no search of .rodata). */
static bool anchor_at(Elf *e, uint64_t va)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC) || va < sh.sh_addr || va >= sh.sh_addr + sh.sh_size)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size != sh.sh_size)
			return false;
		const char *base = d->d_buf, *p = base + (va - sh.sh_addr);
		size_t left = d->d_size - (va - sh.sh_addr);
		const char *nul = memchr(p, '\0', left < 4096 ? left : 4096);
		if (!nul || (p > base && p[-1]) || nul - p < ANCHOR_LEN)
			return false;
		for (int i = 0; i < ANCHOR_LEN; i++)
			if (nul[-1 - i] != ANCHOR_REVERSED[i])
				return false;
		return true;
	}
	return false;
}

/* ---- references ---- */

static bool is_ref(const cs_insn *in, uint64_t str)
{
	const cs_x86 *x = &in->detail->x86;
	if (x->op_count != 2 || x->operands[0].type != X86_OP_REG)
		return false;
	if (in->id == X86_INS_MOV && x->operands[1].type == X86_OP_IMM)
		return (uint64_t)x->operands[1].imm == str;
	if (in->id == X86_INS_LEA && x->operands[1].type == X86_OP_MEM &&
	    x->operands[1].mem.base == X86_REG_RIP && x->operands[1].mem.index == X86_REG_INVALID)
		return in->address + in->size + (uint64_t)x->operands[1].mem.disp == str;
	return false;
}

/* Whether the 4 bytes at i of s end an instruction loading str. */
static bool loads(struct image *im, const struct sec *s, uint64_t i, uint64_t str, cs_insn *in)
{
	for (unsigned back = 1; back <= 4 && back <= i; back++) {
		const uint8_t *code = s->p + i - back;
		size_t len = back + 4;
		uint64_t at = s->va + i - back;
		if (cs_disasm_iter(im->cs, &code, &len, &at, in) && !len && is_ref(in, str))
			return true;
	}
	return false;
}

static void add_ref(uint64_t *out, unsigned *n, uint64_t va)
{
	for (unsigned k = 0; k < *n; k++)
		if (out[k] == va)
			return;
	if (*n < MAX_REFS)
		out[(*n)++] = va;
}

/* Absolute references: the address's 4 bytes. */
static void imm_refs(struct image *im, const struct sec *s, uint64_t str, cs_insn *in,
                     uint64_t *out, unsigned *n)
{
	const uint8_t pat[4] = {(uint8_t)str, (uint8_t)(str >> 8), (uint8_t)(str >> 16),
	                        (uint8_t)(str >> 24)};
	const uint8_t *p = s->p, *end = s->p + s->size;
	while ((p = find(p, (size_t)(end - p), pat, 4))) {
		uint64_t i = (uint64_t)(p - s->p);
		if (loads(im, s, i, str, in))
			add_ref(out, n, s->va + i);
		p++;
	}
}

/* RIP-relative references: "lea disp32(%rip), %reg" is 8d, a ModRM byte
 * with mod 00 and r/m 101, then the displacement. memchr finds the opcode
 * byte; one pass serves every string. */
static void rip_refs(struct image *im, const struct sec *s, const uint64_t *strs, unsigned nstr,
                     cs_insn *in, uint64_t *out, unsigned *n)
{
	const uint8_t *p = s->p, *end = s->p + s->size;
	while (end - p >= 6 && (p = memchr(p, 0x8d, (size_t)(end - p - 5)))) {
		if ((p[1] & 0xc7) == 0x05) {
			uint64_t at = (uint64_t)(p + 2 - s->p);
			uint64_t target = s->va + at + 4 + (uint64_t)(int64_t)le32(p + 2);
			for (unsigned j = 0; j < nstr; j++)
				if (target == strs[j] && loads(im, s, at, strs[j], in))
					add_ref(out, n, s->va + at);
		}
		p++;
	}
}

/* Code that loads the string's address: "mov $str, %reg" (absolute, not
 * PIE) or "lea str(%rip), %reg". Byte patterns first, kept when some
 * instruction ending with them loads the string; out[] are the addresses
 * of those 4 bytes. Which instruction really holds them is told later,
 * by decoding from the function's entry. */
static unsigned find_refs(struct image *im, const uint64_t *strs, unsigned nstr, uint64_t *out)
{
	unsigned n = 0;
	cs_insn *in = cs_malloc(im->cs);
	for (unsigned k = 0; k < im->nx; k++) {
		for (unsigned j = 0; j < nstr; j++)
			if (!im->pie && strs[j] <= UINT32_MAX)
				imm_refs(im, &im->x[k], strs[j], in, out, &n);
		rip_refs(im, &im->x[k], strs, nstr, in, out, &n);
	}
	cs_free(in, 1);
	return n;
}

/* ---- call sites ---- */

#define MAX_INSNS 16384 /* decoded from an entry to a site, at most */

/* What the analysis keeps of an instruction. */
struct ins {
	uint64_t addr;
	unsigned size;
	uint64_t target; /* of a direct jump, 0 otherwise */
	unsigned id;
	bool jump, ends;  /* a jump (jmp or jcc); ends a block (jump, ret, call, int3) */
	x86_reg dst, src; /* register operands, X86_REG_INVALID otherwise */
	bool imm, mem;    /* the source is an immediate / memory */
	int64_t val;      /* that immediate, or the memory operand's displacement */
	bool mem_dst;     /* the destination is memory (cmp $imm, d(%reg)) */
};

static void keep(csh cs, const cs_insn *in, struct ins *o)
{
	const cs_x86 *x = &in->detail->x86;
	memset(o, 0, sizeof(*o));
	o->addr = in->address;
	o->size = in->size;
	o->id = in->id;
	o->jump = cs_insn_group(cs, in, X86_GRP_JUMP);
	o->ends = o->jump || cs_insn_group(cs, in, X86_GRP_RET) ||
	          cs_insn_group(cs, in, X86_GRP_CALL) || in->id == X86_INS_INT3;
	o->dst = o->src = X86_REG_INVALID;
	if (o->jump && x->op_count == 1 && x->operands[0].type == X86_OP_IMM)
		o->target = (uint64_t)x->operands[0].imm;
	if (x->op_count != 2)
		return;
	const cs_x86_op *d = &x->operands[0], *s = &x->operands[1];
	if (d->type == X86_OP_REG)
		o->dst = d->reg;
	o->mem_dst = d->type == X86_OP_MEM;
	if (o->mem_dst)
		o->val = d->mem.disp;
	if (s->type == X86_OP_REG)
		o->src = s->reg;
	if (s->type == X86_OP_IMM) {
		o->imm = true;
		if (!o->mem_dst)
			o->val = s->imm;
		else if (s->imm != 0)
			o->mem_dst = false; /* only "cmp $0, d(%reg)" is kept */
	}
	if (s->type == X86_OP_MEM && d->type == X86_OP_REG && d->size == 8) {
		o->mem = true;
		o->val = s->mem.disp;
	}
}

/* Whether the instruction i ends with the 4 operand bytes at pos. */
static bool holds(uint64_t addr, unsigned size, uint64_t pos)
{
	return addr < pos && addr + size == pos + 4;
}

/* Decodes from start until the first call or jump after the instruction
 * holding the operand at ref. Returns how many instructions (0 when no
 * instruction of the straight decoding ends with it). */
static unsigned decode(struct image *im, uint64_t start, uint64_t ref, struct ins *out)
{
	const struct sec *s = sec_of(im, start);
	if (!s || ref < start || ref - start > SEARCH_BACK)
		return 0;
	const uint8_t *code = s->p + (start - s->va);
	size_t len = s->size - (start - s->va);
	uint64_t at = start;
	cs_insn *in = cs_malloc(im->cs);
	unsigned n = 0, after = 0;
	bool hit = false;
	while (n < MAX_INSNS && cs_disasm_iter(im->cs, &code, &len, &at, in)) {
		if (in->address > ref && !hit)
			break;
		keep(im->cs, in, &out[n]);
		hit |= holds(in->address, in->size, ref);
		n++;
		if (hit &&
		    (out[n - 1].id == X86_INS_CALL || out[n - 1].id == X86_INS_JMP || ++after > 10))
			break;
	}
	cs_free(in, 1);
	return hit ? n : 0;
}

static int reg_slot(x86_reg r)
{
	switch (r) {
	case X86_REG_EDI:
	case X86_REG_RDI:
		return 0;
	case X86_REG_ESI:
	case X86_REG_RSI:
		return 1;
	case X86_REG_EDX:
	case X86_REG_RDX:
		return 2;
	case X86_REG_R8D:
	case X86_REG_R8:
		return 3;
	default:
		return -1;
	}
}

/* The field the compare before the jump at j tests against zero
 * ("cmpq $0, d(%reg)", or "mov d(%reg),%r; test %r,%r"), -1 if none. */
static int64_t tested_field(const struct ins *in, unsigned j)
{
	for (unsigned k = j; k-- > 0 && j - k <= 3 && !in[k].ends;) {
		if (in[k].id == X86_INS_CMP && in[k].mem_dst)
			return in[k].val;
		if (in[k].id == X86_INS_TEST && in[k].dst != X86_REG_INVALID &&
		    in[k].dst == in[k].src) {
			for (unsigned m = k; m-- > 0 && k - m <= 3 && !in[m].ends;)
				if (in[m].id == X86_INS_MOV && in[m].mem && in[m].dst == in[k].dst)
					return in[m].val;
			return -1;
		}
	}
	return -1;
}

/* The error site of the reference at ref in the function at start: the
 * immediates its block passes to ERR_put_error(lib, 0, reason, file,
 * line), and the field tested by the branch that enters the block. False
 * when ref is no instruction of that function's straight decoding, or
 * the block is no such call. */
static bool analyze(struct image *im, uint64_t start, uint64_t ref, struct site *st)
{
	if (!im->insns)
		im->insns = malloc(MAX_INSNS * sizeof(*im->insns));
	struct ins *in = im->insns;
	unsigned n = in ? decode(im, start, ref, in) : 0, r = 0;
	while (r < n && !holds(in[r].addr, in[r].size, ref))
		r++;
	if (r == n || (in[r].id != X86_INS_MOV && in[r].id != X86_INS_LEA))
		return false;
	unsigned b = r; /* the block: after the last transfer, past any padding */
	while (b > 0 && !in[b - 1].ends)
		b--;
	while (b < r && in[b].id == X86_INS_NOP)
		b++;
	int64_t v[4] = {-1, -1, -1, -1};
	bool called = false;
	for (unsigned k = b; k < n; k++) {
		if (k > r && (in[k].id == X86_INS_CALL || in[k].id == X86_INS_JMP)) {
			called = true;
			break;
		}
		int slot = reg_slot(in[k].dst);
		if (slot < 0)
			continue;
		if (in[k].id == X86_INS_MOV && in[k].imm)
			v[slot] = in[k].val;
		else if (in[k].id == X86_INS_XOR && in[k].src == in[k].dst)
			v[slot] = 0;
		else
			v[slot] = -1; /* something else lands there */
	}
	/* the branch into the block: a jump to it, else the jump it follows */
	int64_t field = -1;
	unsigned j = n;
	for (unsigned k = 0; k < n && j == n; k++)
		if (in[k].jump && in[k].id != X86_INS_JMP && in[k].target == in[b].addr)
			j = k;
	if (j == n && b > 0 && in[b - 1].jump && in[b - 1].id != X86_INS_JMP)
		j = b - 1;
	if (j < n)
		field = tested_field(in, j);
	st->branch = j < n ? in[j].addr : 0;
	st->ref = in[r].addr;
	st->pos = ref;
	st->start = start;
	st->lib = v[0];
	st->reason = v[2];
	st->line = v[3];
	st->quic_disp = field;
	return called && v[0] == ERR_LIB_SSL && v[1] == 0 && v[2] > 0 && v[3] > 0;
}

/* ---- function starts ---- */

/* Whether straight decoding from start reaches an instruction ending with
 * the operand at pos. */
static bool lands_on(struct image *im, uint64_t start, uint64_t pos)
{
	const struct sec *s = sec_of(im, start);
	if (!s || pos + 4 > s->va + s->size || pos <= start)
		return false;
	const uint8_t *code = s->p + (start - s->va);
	size_t len = pos + 4 - start;
	uint64_t at = start;
	cs_insn *in = cs_malloc(im->cs);
	bool ok = false;
	while (len && cs_disasm_iter(im->cs, &code, &len, &at, in))
		ok = holds(in->address, in->size, pos);
	cs_free(in, 1);
	return ok && !len;
}

/* The FDE covering ref, through .eh_frame_hdr's sorted table (the
 * datarel sdata4 form every x86-64 linker writes); the FDE's own pc_begin
 * must agree with the table. */
static bool fde_start(struct image *im, uint64_t ref, uint64_t *start)
{
	const uint8_t *h = im->hdr.p;
	if (!h || im->hdr.size < 12 || h[0] != 1 || h[2] != 0x03 || h[3] != 0x3b ||
	    (h[1] & 0x0f) != 0x0b)
		return false;
	uint64_t count = (uint32_t)le32(h + 8);
	if (12 + count * 8 > im->hdr.size)
		return false;
	uint64_t lo = 0, hi = count; /* the last entry starting at or before ref */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (im->hdr.va + (uint64_t)(int64_t)le32(h + 12 + mid * 8) <= ref)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	const uint8_t *e = h + 12 + (lo - 1) * 8;
	uint64_t pc = im->hdr.va + (uint64_t)(int64_t)le32(e);
	uint64_t fde = im->hdr.va + (uint64_t)(int64_t)le32(e + 4);
	if (fde < im->ehf.va || fde + 16 > im->ehf.va + im->ehf.size)
		return false;
	const uint8_t *f = im->ehf.p + (fde - im->ehf.va);
	uint64_t begin = fde + 8 + (uint64_t)(int64_t)le32(f + 8); /* pcrel sdata4 */
	uint64_t range = (uint32_t)le32(f + 12);
	if ((uint32_t)le32(f) == 0xffffffff || begin != pc || ref < pc || ref >= pc + range)
		return false;
	*start = pc;
	return true;
}

struct window {
	uint64_t lo, hi; /* [ref - SEARCH_BACK, ref] */
	uint64_t *targets;
	unsigned n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One pass over the code: the targets of direct calls ("call rel32")
 * that fall in each window. */
static void call_targets(struct image *im, struct window *w, unsigned nw)
{
	for (unsigned k = 0; k < im->nx; k++) {
		const struct sec *s = &im->x[k];
		const uint8_t *p = s->p, *end = s->p + s->size;
		for (; end - p >= 5 && (p = memchr(p, 0xe8, (size_t)(end - p - 4))); p++) {
			uint64_t i = (uint64_t)(p - s->p);
			uint64_t t = s->va + i + 5 + (uint64_t)(int64_t)le32(s->p + i + 1);
			for (unsigned j = 0; j < nw; j++)
				if (w[j].targets && t >= w[j].lo && t <= w[j].hi &&
				    w[j].n < MAX_TARGETS)
					w[j].targets[w[j].n++] = t;
		}
	}
	for (unsigned j = 0; j < nw; j++)
		if (w[j].n)
			qsort(w[j].targets, w[j].n, sizeof(uint64_t), cmp_u64);
}

static bool is_target(const struct window *w, uint64_t a)
{
	return w->n && bsearch(&a, w->targets, w->n, sizeof(uint64_t), cmp_u64) != NULL;
}

/* Without an FDE: the nearest 16-byte boundary after an int3 that decodes
 * straight to the reference; it must be a call target, and no call target
 * may lie between it and the reference. */
static bool padded_start(struct image *im, const struct window *w, uint64_t ref, uint64_t *start)
{
	for (uint64_t a = ref & ~15ull; a > w->lo && ref - a < SEARCH_BACK; a -= 16) {
		const struct sec *s = sec_of(im, a);
		if (!s || a == s->va || s->p[a - 1 - s->va] != 0xcc || s->p[a - s->va] == 0xcc)
			continue;
		if (!lands_on(im, a, ref))
			continue;
		if (!is_target(w, a))
			return false;
		for (unsigned i = 0; i < w->n; i++)
			if (w->targets[i] > a && w->targets[i] <= ref)
				return false;
		*start = a;
		return true;
	}
	return false;
}

/* ---- the decision ---- */

__attribute__((format(printf, 2, 3))) static void fail(struct bssl_found *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	f->ok = false;
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
}

static void put(struct image *im, const struct site *st, struct bssl_func *out)
{
	const struct sec *s = sec_of(im, st->start);
	out->vaddr = st->start;
	out->offset = st->start - s->va + s->off;
	out->line = (unsigned)st->line;
	out->site = st->pos;
	out->how = st->how;
}

static bool has_quic_check(const struct site *st, unsigned n, uint64_t start)
{
	for (unsigned i = 0; i < n; i++)
		if (st[i].start == start && st[i].reason == R_NOT_CALLED)
			return true;
	return false;
}

/* SSL_shutdown, after SSL_write in ssl_lib.cc: it begins with the
 * do_handshake check SSL_write makes after its quic check. Optional: when
 * anything is unsure it is left out, with a note. */
static void find_shutdown(struct image *im, const struct site *st, unsigned n, const struct site *w,
                          struct bssl_found *f)
{
	int64_t dh = -1, last = w->line; /* SSL_write's own lines end here */
	for (unsigned i = 0; i < n; i++) {
		if (st[i].start != w->start)
			continue;
		if (st[i].line > last)
			last = st[i].line;
		if (st[i].reason == R_UNINITIALIZED && st[i].line > w->line &&
		    st[i].line - w->line < LINES_PEEK_WRITE)
			dh = st[i].quic_disp;
	}
	if (dh < 0) {
		snprintf(f->shutdown_note, sizeof(f->shutdown_note),
		         "SSL_write's do_handshake check not found");
		return;
	}
	int s = -1;
	for (unsigned i = 0; i < n; i++) {
		if (st[i].reason != R_UNINITIALIZED || st[i].line <= last ||
		    st[i].line - w->line > LINES_SHUTDOWN || st[i].start == w->start ||
		    st[i].start == f->read.vaddr || has_quic_check(st, n, st[i].start))
			continue;
		if (s < 0 || st[i].line < st[s].line)
			s = (int)i;
	}
	if (s < 0 || st[s].quic_disp != dh || !st[s].branch ||
	    st[s].branch - st[s].start > MAX_HEAD) {
		snprintf(f->shutdown_note, sizeof(f->shutdown_note),
		         s < 0 ? "no do_handshake check within %u lines after SSL_write"
		               : "the check after SSL_write tests another field (%u lines)",
		         LINES_SHUTDOWN);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (st[i].reason == R_UNINITIALIZED && st[i].line == st[s].line &&
		    st[i].start != st[s].start) {
			snprintf(f->shutdown_note, sizeof(f->shutdown_note),
			         "ssl_lib.cc:%u is in two functions", (unsigned)st[s].line);
			return;
		}
	put(im, &st[s], &f->shutdown);
	f->handshake_disp = dh;
}

static void decide(struct image *im, struct site *st, unsigned n, struct bssl_found *f)
{
	/* SSL_write: a SHOULD_NOT_HAVE_BEEN_CALLED site whose function also
	 * rejects a negative length a few lines later */
	int w = -1, nw = 0;
	for (unsigned i = 0; i < n; i++) {
		if (st[i].reason != R_NOT_CALLED || !st[i].start)
			continue;
		for (unsigned j = 0; j < n; j++) {
			if (st[j].reason == R_BAD_LENGTH && st[j].start == st[i].start &&
			    st[j].line > st[i].line && st[j].line - st[i].line < LINES_PEEK_WRITE) {
				if (w < 0 || st[w].start != st[i].start)
					nw++;
				w = (int)i;
				f->len_site = st[j].pos;
				break;
			}
		}
	}
	if (nw != 1) {
		fail(f, "SSL_write: %u functions with the quic check and a length check",
		     (unsigned)nw);
		return;
	}
	/* SSL_read (SSL_peek inlined): the SHOULD_NOT_HAVE_BEEN_CALLED line right
	 * before SSL_write's */
	int64_t best = -1;
	for (unsigned i = 0; i < n; i++)
		if (st[i].reason == R_NOT_CALLED && st[i].line < st[w].line && st[i].line > best)
			best = st[i].line;
	if (best < 0 || st[w].line - best >= LINES_PEEK_WRITE) {
		fail(f, "SSL_read: no quic check within %u lines before SSL_write's (line %u)",
		     LINES_PEEK_WRITE, (unsigned)st[w].line);
		return;
	}
	int r = -1;
	for (unsigned i = 0; i < n; i++) {
		if (st[i].reason != R_NOT_CALLED || st[i].line != best)
			continue;
		if (!st[i].start) {
			fail(f, "SSL_read: the function of line %u has no known start",
			     (unsigned)best);
			return;
		}
		if (r >= 0 && st[r].start != st[i].start) {
			fail(f, "SSL_read: line %u is in two functions (SSL_peek not inlined?)",
			     (unsigned)best);
			return;
		}
		r = (int)i;
	}
	if (st[r].start == st[w].start) {
		fail(f, "SSL_read and SSL_write: one function (lines %u, %u)", (unsigned)best,
		     (unsigned)st[w].line);
		return;
	}
	if (!st[r].branch || !st[w].branch || st[r].branch - st[r].start > MAX_HEAD ||
	    st[w].branch - st[w].start > MAX_HEAD) {
		fail(f, "quic checks at +0x%x and +0x%x from their entries: not the first checks",
		     (unsigned)(st[r].branch - st[r].start),
		     (unsigned)(st[w].branch - st[w].start));
		return;
	}
	if (st[r].quic_disp < 0 || st[r].quic_disp != st[w].quic_disp) {
		fail(f,
		     "the quic_method checks disagree (field 0x%x in SSL_read, 0x%x in SSL_write)",
		     (unsigned)st[r].quic_disp, (unsigned)st[w].quic_disp);
		return;
	}
	put(im, &st[r], &f->read);
	put(im, &st[w], &f->write);
	f->quic_disp = st[r].quic_disp;
	f->ok = true;
	find_shutdown(im, st, n, &st[w], f);
}

static void locate(struct image *im, struct bssl_found *f)
{
	uint64_t strs[MAX_STRINGS], refs[MAX_REFS];
	unsigned nstr = find_strings(im->e, strs);
	if (!nstr) {
		fail(f, "no ssl_lib.cc string");
		return;
	}
	f->anchored = true;
	f->anchor = strs[0];
	unsigned nref = find_refs(im, strs, nstr, refs);
	f->refs = nref;
	struct site *st = calloc(nref ? nref : 1, sizeof(*st));
	struct window *w = calloc(nref ? nref : 1, sizeof(*w));
	uint64_t *start = calloc(nref ? nref : 1, sizeof(*start));
	const char **how = calloc(nref ? nref : 1, sizeof(*how));
	unsigned n = 0;
	/* each reference's function: its FDE, else padding and calls */
	for (unsigned i = 0; i < nref; i++) {
		if (fde_start(im, refs[i], &start[i])) {
			how[i] = "FDE";
			continue;
		}
		w[i].lo = refs[i] > SEARCH_BACK ? refs[i] - SEARCH_BACK : 0;
		w[i].hi = refs[i];
		w[i].targets = malloc(MAX_TARGETS * sizeof(uint64_t));
	}
	call_targets(im, w, nref);
	for (unsigned i = 0; i < nref; i++) {
		if (!start[i] && padded_start(im, &w[i], refs[i], &start[i]))
			how[i] = "padding";
		if (!start[i] || !analyze(im, start[i], refs[i], &st[n]))
			continue;
		st[n].how = how[i];
		if (st[n].reason == R_NOT_CALLED || st[n].reason == R_BAD_LENGTH ||
		    st[n].reason == R_UNINITIALIZED)
			n++;
	}
	if (!n)
		fail(f, "%u references to ssl_lib.cc, none an SSL error site", nref);
	else
		decide(im, st, n, f);
	if (!f->ok) { /* what the decision rested on */
		unsigned found = 0;
		for (unsigned i = 0; i < nref; i++)
			found += start[i] != 0;
		size_t len = strlen(f->reason);
		snprintf(f->reason + len, sizeof(f->reason) - len,
		         " (%u error sites; %u references, %u of them in functions found)", n, nref,
		         found);
	}
	for (unsigned k = 0; k < nref; k++)
		free(w[k].targets);
	free(w);
	free(start);
	free(how);
	free(st);
}

/* A cached location holds in this file: the same string, sites and
 * checks where they were found. */
static bool still_holds(struct image *im, const struct bssl_found *f)
{
	if (!anchor_at(im->e, f->anchor))
		return false;
	const struct bssl_func *fn[2] = {&f->read, &f->write};
	for (int k = 0; k < 2; k++) {
		struct site st;
		if (!analyze(im, fn[k]->vaddr, fn[k]->site, &st) || st.reason != R_NOT_CALLED ||
		    st.line != fn[k]->line || st.quic_disp != f->quic_disp)
			return false;
	}
	struct site len, sh;
	if (f->shutdown.vaddr && (!analyze(im, f->shutdown.vaddr, f->shutdown.site, &sh) ||
	                          sh.reason != R_UNINITIALIZED || sh.line != f->shutdown.line ||
	                          sh.quic_disp != f->handshake_disp))
		return false;
	return analyze(im, f->write.vaddr, f->len_site, &len) && len.reason == R_BAD_LENGTH;
}

/* ---- the file, and the cache ---- */

static bool open_image(Elf *e, struct image *im)
{
	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh) || eh.e_machine != EM_X86_64)
		return false;
	im->e = e;
	im->pie = eh.e_type == ET_DYN;
	Elf_Scn *scn = NULL;
	size_t shstr;
	if (elf_getshdrstrndx(e, &shstr) != 0)
		return false;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = elf_strptr(e, shstr, sh.sh_name);
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 16)
			continue;
		struct sec s = {sh.sh_addr, sh.sh_offset, d->d_size, d->d_buf};
		if ((sh.sh_flags & SHF_EXECINSTR) && im->nx < MAX_SECS)
			im->x[im->nx++] = s;
		else if (name && strcmp(name, ".eh_frame_hdr") == 0)
			im->hdr = s;
		else if (name && strcmp(name, ".eh_frame") == 0)
			im->ehf = s;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &im->cs) != CS_ERR_OK)
		return false;
	cs_option(im->cs, CS_OPT_DETAIL, CS_OPT_ON);
	return true;
}

static size_t build_id(Elf *e, uint8_t *out, size_t max)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, name, desc;
		while (d && (off = gelf_getnote(d, off, &nh, &name, &desc)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp((char *)d->d_buf + name, "GNU", 4) == 0 && nh.n_descsz <= max) {
				memcpy(out, (char *)d->d_buf + desc, nh.n_descsz);
				return nh.n_descsz;
			}
		}
	}
	return 0;
}

static struct {
	uint8_t id[32];
	size_t len;
	struct bssl_found f;
} cache[CACHE_SLOTS];
static unsigned cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static bool cache_get(const uint8_t *id, size_t len, struct bssl_found *out)
{
	bool hit = false;
	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_SLOTS && !hit; i++)
		if (len && cache[i].len == len && cache[i].f.ok &&
		    memcmp(cache[i].id, id, len) == 0) {
			*out = cache[i].f;
			hit = true;
		}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_put(const uint8_t *id, size_t len, const struct bssl_found *f)
{
	if (!len)
		return;
	pthread_mutex_lock(&cache_lock);
	unsigned i = cache_next++ % CACHE_SLOTS;
	memcpy(cache[i].id, id, len);
	cache[i].len = len;
	cache[i].f = *f;
	pthread_mutex_unlock(&cache_lock);
}

int bssl_locate(const char *path, struct bssl_found *out)
{
	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(fd);
		return -1;
	}
	uint8_t id[32];
	size_t idlen = build_id(e, id, sizeof(id));
	/* only locations are cached: a refusal is rare and cheap to repeat,
	 * and a patched copy seen first must not refuse the original */
	struct image im = {0};
	bool hit = cache_get(id, idlen, out);
	if (open_image(e, &im)) {
		if (!hit || !still_holds(&im, out)) {
			memset(out, 0, sizeof(*out));
			locate(&im, out);
			if (out->ok)
				cache_put(id, idlen, out);
		}
	} else {
		memset(out, 0, sizeof(*out));
		fail(out, "not an x86-64 ELF file");
	}
	if (im.cs)
		cs_close(&im.cs);
	free(im.insns);
	elf_end(e);
	close(fd);
	return 0;
}
