/* The x86-64 instruction decoder behind probe placement: lengths stay in
 * bounds and every description is a terminated string; the whole-function
 * decoding of Go functions (capstone) returns sites inside the code. */
#include <string.h>

#include "fuzz.h"
#include "capture/disasm.h"
#include "capture/insn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = insn_len(data, size);
	if (len > size || len > 15)
		abort();
	(void)insn_emulated(data, size);
	const char *d = insn_describe(data, size);
	if (d && strlen(d) > 256)
		abort();
	uint64_t callee;
	(void)insn_stack_adjust_then_call(data, size, 0x1000, &callee);
	(void)insn_first_call(data, size, 0x1000, &callee);
	uint64_t rets[8];
	int n = disasm_ret_sites(data, size, 0x1000, rets, 8);
	for (int i = 0; i < n && i < 8; i++)
		if (rets[i] < 0x1000 || rets[i] >= 0x1000 + size)
			abort();
	uint64_t jbe = disasm_go_stack_check(data, size, 0x1000);
	if (jbe && (jbe < 0x1000 || jbe >= 0x1000 + size))
		abort();
	char text[48];
	disasm_describe(data, size, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
	return 0;
}
