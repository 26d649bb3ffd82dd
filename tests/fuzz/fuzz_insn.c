/* The x86-64 instruction decoder behind probe placement: lengths stay in
 * bounds and every description is a terminated string. */
#include <string.h>

#include "fuzz.h"
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
	return 0;
}
