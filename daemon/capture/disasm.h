/* Whole-function x86-64 decoding with a real decoder (capstone), for what
 * insn.c's prologue subset cannot promise: every instruction of a body.
 * Go functions are probed at each RET (uretprobes would corrupt goroutine
 * stacks, which the runtime moves) and after their stack check. */
#ifndef LLMOBS_CAPTURE_DISASM_H
#define LLMOBS_CAPTURE_DISASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes code[0..n) (at file offset `at`) linearly and stores the offset
 * of each near RET in out[0..max). Returns how many there are (more than
 * max: only max stored), or -1 when a byte does not decode or the code
 * leaves by a far return: then no return site can be trusted. */
int disasm_ret_sites(const uint8_t *code, size_t n, uint64_t at, uint64_t *out, unsigned max);

/* The Go prologue's stack check ("cmp rsp|r12, 0x10(r14); jbe morestack",
 * with a "lea -X(rsp), r12" first for bigger frames): the offset of its
 * jbe, or 0 when the code does not start with one. A probe there is
 * emulated (cheap), sees the arguments in their registers, and tells by
 * the flags (CF or ZF: taken) the pass that grows the stack, after which
 * the runtime re-enters the function from its first byte. */
uint64_t disasm_go_stack_check(const uint8_t *code, size_t n, uint64_t at);

/* "push rbp" or "sub rsp, 0xe8": the instruction at code[0], or
 * "unknown". */
void disasm_describe(const uint8_t *code, size_t n, char *out, size_t len);

#endif
