/* A deliberately small x86-64 length decoder (see insn.h). It knows the
 * integer instructions of ordinary prologues and argument checks; SSE,
 * VEX, x87 and rarer forms are unknown on purpose. */
#include "capture/insn.h"

#include <stdio.h>
#include <string.h>

struct dec {
	size_t prefixes; /* legacy prefix bytes, then REX */
	uint8_t rex;
	bool opsize; /* 0x66 */
	size_t op;   /* index of the opcode byte */
};

static size_t prefixes(const uint8_t *p, size_t n, struct dec *d)
{
	size_t i = 0;
	memset(d, 0, sizeof(*d));
	while (i < n && i < 4) {
		uint8_t b = p[i];
		if (b == 0x66)
			d->opsize = true;
		else if (b != 0xf0 && b != 0xf2 && b != 0xf3 && b != 0x2e && b != 0x3e &&
		         b != 0x26 && b != 0x36 && b != 0x64 && b != 0x65)
			break;
		i++;
	}
	if (i < n && (p[i] & 0xf0) == 0x40)
		d->rex = p[i++];
	d->prefixes = i;
	d->op = i;
	return i;
}

/* Bytes of ModRM + SIB + displacement starting at p[0] (the ModRM). */
static size_t modrm_len(const uint8_t *p, size_t n)
{
	if (n < 1)
		return 0;
	uint8_t mod = p[0] >> 6, rm = p[0] & 7;
	size_t len = 1;
	if (mod == 3)
		return len;
	if (rm == 4) {
		if (n < 2)
			return 0;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4; /* SIB with no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		len += 4; /* RIP-relative */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len <= n ? len : 0;
}

/* One-byte opcodes followed by ModRM and nothing else. */
static bool plain_modrm(uint8_t op)
{
	switch (op) {
	case 0x00:
	case 0x01:
	case 0x02:
	case 0x03: /* add */
	case 0x08:
	case 0x09:
	case 0x0a:
	case 0x0b: /* or */
	case 0x20:
	case 0x21:
	case 0x22:
	case 0x23: /* and */
	case 0x28:
	case 0x29:
	case 0x2a:
	case 0x2b: /* sub */
	case 0x30:
	case 0x31:
	case 0x32:
	case 0x33: /* xor */
	case 0x38:
	case 0x39:
	case 0x3a:
	case 0x3b: /* cmp */
	case 0x63: /* movsxd */
	case 0x84:
	case 0x85:
	case 0x86:
	case 0x87: /* test, xchg */
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b: /* mov */
	case 0x8d: /* lea */
	case 0xd1:
	case 0xd3: /* shifts by 1 / cl */
		return true;
	default:
		return false;
	}
}

size_t insn_len(const uint8_t *p, size_t n)
{
	struct dec d;
	size_t i = prefixes(p, n, &d);
	if (i >= n)
		return 0;
	uint8_t op = p[i++];
	size_t imm32 = d.opsize ? 2 : 4, m;
	if (plain_modrm(op))
		return (m = modrm_len(p + i, n - i)) ? i + m : 0;
	switch (op) {
	case 0x50:
	case 0x51:
	case 0x52:
	case 0x53:
	case 0x54:
	case 0x55:
	case 0x56:
	case 0x57:
	case 0x58:
	case 0x59:
	case 0x5a:
	case 0x5b:
	case 0x5c:
	case 0x5d:
	case 0x5e:
	case 0x5f:
	case 0x90:
	case 0xc3:
	case 0xcc:
	case 0xc9: /* push, pop, nop, ret, int3, leave */
		return i;
	case 0x04:
	case 0x0c:
	case 0x24:
	case 0x2c:
	case 0x34:
	case 0x3c:
	case 0xa8:
	case 0x6a: /* op al,imm8 / push imm8 */
		return i + 1 <= n ? i + 1 : 0;
	case 0x05:
	case 0x0d:
	case 0x25:
	case 0x2d:
	case 0x35:
	case 0x3d:
	case 0xa9:
	case 0x68: /* op eax,imm32 / push imm32 */
		return i + imm32 <= n ? i + imm32 : 0;
	case 0x70:
	case 0x71:
	case 0x72:
	case 0x73:
	case 0x74:
	case 0x75:
	case 0x76:
	case 0x77:
	case 0x78:
	case 0x79:
	case 0x7a:
	case 0x7b:
	case 0x7c:
	case 0x7d:
	case 0x7e:
	case 0x7f:
	case 0xeb: /* jcc rel8, jmp rel8 */
		return i + 1 <= n ? i + 1 : 0;
	case 0xe8:
	case 0xe9: /* call/jmp rel32 */
		return i + 4 <= n ? i + 4 : 0;
	case 0xb8:
	case 0xb9:
	case 0xba:
	case 0xbb:
	case 0xbc:
	case 0xbd:
	case 0xbe:
	case 0xbf: {
		size_t imm = (d.rex & 8) ? 8 : imm32; /* movabs with REX.W */
		return i + imm <= n ? i + imm : 0;
	}
	case 0x80:
	case 0x83:
	case 0xc0:
	case 0xc1:
	case 0xc6:
	case 0x6b: /* modrm + imm8 */
		return (m = modrm_len(p + i, n - i)) && i + m + 1 <= n ? i + m + 1 : 0;
	case 0x81:
	case 0xc7:
	case 0x69: /* modrm + imm32 */
		return (m = modrm_len(p + i, n - i)) && i + m + imm32 <= n ? i + m + imm32 : 0;
	case 0xf6:
	case 0xf7: { /* test r/m,imm (/0) or not/neg/mul/div (no imm) */
		if (!(m = modrm_len(p + i, n - i)))
			return 0;
		size_t imm = ((p[i] >> 3) & 7) == 0 ? (op == 0xf6 ? 1 : imm32) : 0;
		return i + m + imm <= n ? i + m + imm : 0;
	}
	case 0xff: /* inc, dec, call/jmp indirect, push r/m */
		return (m = modrm_len(p + i, n - i)) ? i + m : 0;
	case 0x0f:
		break;
	default:
		return 0;
	}
	if (i >= n)
		return 0;
	op = p[i++];
	if (op >= 0x80 && op <= 0x8f) /* jcc rel32 */
		return i + 4 <= n ? i + 4 : 0;
	if (op == 0x1e && i < n && p[i] == 0xfa && d.prefixes && p[0] == 0xf3)
		return i + 1; /* endbr64 */
	if (op == 0x1f || (op >= 0x40 && op <= 0x4f) || (op >= 0x90 && op <= 0x9f) || op == 0xaf ||
	    op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf || op == 0xa3 || op == 0xab ||
	    op == 0xb3 || op == 0xbb)
		return (m = modrm_len(p + i, n - i)) ? i + m : 0; /* nop, cmov, setcc, imul... */
	if (op == 0x05 || op == 0x0b)
		return i; /* syscall, ud2 */
	return 0;
}

bool insn_emulated(const uint8_t *p, size_t n)
{
	if (n >= 1 && ((p[0] >= 0x50 && p[0] <= 0x57) || p[0] == 0x90 || p[0] == 0xe8 ||
	               p[0] == 0xe9 || p[0] == 0xeb || (p[0] >= 0x70 && p[0] <= 0x7f)))
		return true;
	if (n >= 2 && (p[0] == 0x41 || p[0] == 0x40) && p[1] >= 0x50 && p[1] <= 0x57)
		return true; /* push %r8..%r15 */
	return n >= 2 && p[0] == 0x0f && p[1] >= 0x80 && p[1] <= 0x8f;
}

const char *insn_describe(const uint8_t *p, size_t n)
{
	static const char *const regs[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
	static const char *const xregs[] = {"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
	static char out[64];
	if (n >= 1 && p[0] >= 0x50 && p[0] <= 0x57)
		snprintf(out, sizeof(out), "push %%%s", regs[p[0] - 0x50]);
	else if (n >= 2 && p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57)
		snprintf(out, sizeof(out), "push %%%s", xregs[p[1] - 0x50]);
	else if (n >= 4 && p[0] == 0x48 && p[1] == 0x83 && p[2] == 0xec)
		snprintf(out, sizeof(out), "sub $0x%x,%%rsp", p[3]);
	else if (n >= 3 && p[0] == 0x48 && p[1] == 0x81 && p[2] == 0xec)
		snprintf(out, sizeof(out), "sub $imm32,%%rsp");
	else if (n >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		snprintf(out, sizeof(out), "endbr64");
	else if (n >= 1 && p[0] == 0xe8)
		snprintf(out, sizeof(out), "call rel32");
	else if (n >= 1 && (p[0] == 0xe9 || p[0] == 0xeb))
		snprintf(out, sizeof(out), "jmp rel");
	else if (n >= 1 && p[0] == 0x90)
		snprintf(out, sizeof(out), "nop");
	else if (n >= 3 && p[0] == 0x48 && p[1] == 0x85 && (p[2] >> 6) == 3)
		snprintf(out, sizeof(out), "test %%%s,%%%s", regs[p[2] & 7], regs[(p[2] >> 3) & 7]);
	else if (n >= 1)
		snprintf(out, sizeof(out), "opcode 0x%02x (%zu bytes)", p[0], insn_len(p, n));
	else
		snprintf(out, sizeof(out), "unknown");
	return out;
}

static uint64_t rel32_target(const uint8_t *p, size_t at_end)
{
	int32_t rel;
	memcpy(&rel, p, 4);
	return (uint64_t)((int64_t)at_end + rel);
}

bool insn_stack_adjust_then_call(const uint8_t *p, size_t n, uint64_t at, uint64_t *callee)
{
	size_t sub;
	if (n >= 4 && p[0] == 0x48 && p[1] == 0x83 && p[2] == 0xec)
		sub = 4; /* sub $imm8,%rsp */
	else if (n >= 7 && p[0] == 0x48 && p[1] == 0x81 && p[2] == 0xec)
		sub = 7; /* sub $imm32,%rsp */
	else
		return false;
	if (n < sub + 5 || p[sub] != 0xe8)
		return false;
	*callee = rel32_target(p + sub + 1, (size_t)at + sub + 5);
	return true;
}

bool insn_first_call(const uint8_t *p, size_t n, uint64_t at, uint64_t *callee)
{
	size_t off = 0;
	while (off < n) {
		size_t len = insn_len(p + off, n - off);
		if (!len)
			return false;
		struct dec d;
		size_t op = prefixes(p + off, n - off, &d);
		uint8_t b = p[off + op];
		if (b == 0xe8 && len == op + 5) {
			*callee = rel32_target(p + off + op + 1, (size_t)(at + off + len));
			return true;
		}
		if (b == 0xc3 || b == 0xe9 || b == 0xeb || b == 0xcc || b == 0xc9)
			return false; /* the straight line ends before any call */
		if (b == 0xff && op + 1 < n - off) {
			unsigned reg = (p[off + op + 1] >> 3) & 7;
			if (reg >= 2 && reg <= 5)
				return false; /* indirect call/jmp */
		}
		off += len;
	}
	return false;
}
