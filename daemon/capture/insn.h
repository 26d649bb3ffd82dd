/* Just enough x86-64 decoding to place uprobes well: instruction lengths
 * for the instructions compilers put in function prologues, whether the
 * kernel emulates an instruction when a uprobe hits it (fast) or must
 * single-step it out of line (about 3x slower here), and the two patterns
 * that let a probe move to a cheaper address. Anything outside the known
 * set is "unknown", and callers then keep the public symbol. */
#ifndef LLMOBS_CAPTURE_INSN_H
#define LLMOBS_CAPTURE_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the instruction at p (n bytes available), or 0 if unknown. */
size_t insn_len(const uint8_t *p, size_t n);
/* Whether the kernel emulates the instruction at p on a uprobe hit: push
 * of a register, call/jmp rel, jcc, nop (arch/x86/kernel/uprobes.c). */
bool insn_emulated(const uint8_t *p, size_t n);
/* A one-line description of the instruction at p ("push %rbp",
 * "sub $0x18,%rsp", "call rel32", ... or "unknown"). */
const char *insn_describe(const uint8_t *p, size_t n);

/* "sub $imm,%rsp; call rel32" at the entry: the call passes the argument
 * registers through untouched. Returns true and the callee's address
 * (relative to the entry's address `at`). */
bool insn_stack_adjust_then_call(const uint8_t *p, size_t n, uint64_t at, uint64_t *callee);
/* Decodes straight-line code from the entry up to its first direct call
 * (conditional branches allowed: argument checks that return early).
 * Returns true and the callee if every instruction before it decoded and
 * none was a jmp, ret or indirect transfer. */
bool insn_first_call(const uint8_t *p, size_t n, uint64_t at, uint64_t *callee);

#endif
