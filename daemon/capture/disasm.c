/* Capstone-based decoding (disasm.h). A handle per call: discovery decodes
 * a few functions per Go file, the setup is noise next to opening it. */
#include "capture/disasm.h"

#include <capstone/capstone.h>
#include <stdio.h>

/* Stack-check instructions at most before the jbe (lea, cmp; larger frames
 * add a mov, sub and jb). */
#define CHECK_MAX_INSNS 6

static bool open_x86(csh *h, bool detail)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
		return false;
	if (detail)
		cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return true;
}

int disasm_ret_sites(const uint8_t *code, size_t n, uint64_t at, uint64_t *out, unsigned max)
{
	csh h;
	if (!open_x86(&h, false))
		return -1;
	cs_insn *insn = cs_malloc(h);
	const uint8_t *p = code;
	size_t left = n;
	uint64_t addr = at;
	int count = 0;
	while (left && cs_disasm_iter(h, &p, &left, &addr, insn)) {
		switch (insn->id) {
		case X86_INS_RET:
			if ((unsigned)count < max)
				out[count] = insn->address;
			count++;
			break;
		case X86_INS_RETF:
		case X86_INS_RETFQ:
		case X86_INS_IRET:
		case X86_INS_IRETD:
		case X86_INS_IRETQ:
			count = -1;
			left = 0;
			break;
		default:
			break;
		}
	}
	if (left) /* stopped on bytes that do not decode */
		count = -1;
	cs_free(insn, 1);
	cs_close(&h);
	return count;
}

static bool mem_based_on(const cs_insn *insn, x86_reg base)
{
	const cs_x86 *x = &insn->detail->x86;
	for (unsigned i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == base)
			return true;
	return false;
}

uint64_t disasm_go_stack_check(const uint8_t *code, size_t n, uint64_t at)
{
	csh h;
	if (!open_x86(&h, true))
		return 0;
	cs_insn *insn = cs_malloc(h);
	const uint8_t *p = code;
	size_t left = n;
	uint64_t addr = at, jbe = 0;
	bool compared = false; /* the last instruction compared with g's stack guard */
	for (int i = 0; i < CHECK_MAX_INSNS && cs_disasm_iter(h, &p, &left, &addr, insn); i++) {
		if (insn->id == X86_INS_JBE && compared) {
			jbe = insn->address;
			break;
		}
		compared = insn->id == X86_INS_CMP && mem_based_on(insn, X86_REG_R14);
		if (cs_insn_group(h, insn, CS_GRP_RET) || cs_insn_group(h, insn, CS_GRP_CALL) ||
		    insn->id == X86_INS_JMP)
			break;
	}
	cs_free(insn, 1);
	cs_close(&h);
	return jbe;
}

void disasm_describe(const uint8_t *code, size_t n, char *out, size_t len)
{
	csh h;
	cs_insn *insn = NULL;
	snprintf(out, len, "unknown");
	if (!open_x86(&h, false))
		return;
	if (cs_disasm(h, code, n, 0, 1, &insn) == 1)
		snprintf(out, len, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "",
		         insn->op_str);
	if (insn)
		cs_free(insn, 1);
	cs_close(&h);
}
