/* x86-64 prologue decoding and probe placement: the byte patterns of
 * OpenSSL 3's entry points, every fallback to the public symbol, and a
 * placement run over a file laid out like libssl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/insn.h"
#include "capture/placement.h"

/* Debian 12 libssl.so.3 (objdump), at their file offsets. */
static const uint8_t READ_EX[] = {0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff,
                                  0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f, 0x48, 0xc2};
static const uint8_t READ[] = {
    0x48, 0x83, 0xec, 0x18,                               /* sub $0x18,%rsp */
    0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, /* mov %fs:0x28,%rax */
    0x48, 0x89, 0x44, 0x24, 0x08,                         /* mov %rax,0x8(%rsp) */
    0x31, 0xc0,                                           /* xor %eax,%eax */
    0x85, 0xd2,                                           /* test %edx,%edx */
    0x78, 0x2f,                                           /* js */
    0x48, 0x89, 0xe1,                                     /* mov %rsp,%rcx */
    0x48, 0x63, 0xd2,                                     /* movslq %edx,%rdx */
    0xe8, 0x3d, 0xfe, 0xff, 0xff,                         /* call 0x35290 */
};
static const uint8_t INTERNAL[] = {0x41, 0x55, 0x41, 0x54, 0x55}; /* push %r13; push %r12 */
static const uint8_t FREE[] = {0x48, 0x85, 0xff, 0x0f, 0x84, 0x97, 0x03, 0x00, 0x00};

static void test_lengths(void **state)
{
	(void)state;
	assert_int_equal(insn_len(READ, sizeof(READ)), 4);
	assert_int_equal(insn_len(READ + 4, sizeof(READ) - 4),
	                 9); /* fs + REX + modrm + SIB + disp32 */
	assert_int_equal(insn_len(READ + 13, 5), 5);
	assert_int_equal(insn_len(READ + 18, 2), 2);
	assert_int_equal(insn_len(READ + 22, 2), 2);
	assert_int_equal(insn_len(READ + 30, 5), 5);
	assert_int_equal(insn_len(FREE + 3, 6), 6); /* je rel32 */
	assert_int_equal(insn_len(INTERNAL, 2), 2);
	const uint8_t endbr[] = {0xf3, 0x0f, 0x1e, 0xfa};
	assert_int_equal(insn_len(endbr, 4), 4);
	const uint8_t movabs[] = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(insn_len(movabs, 10), 10);
	const uint8_t sse[] = {0x0f, 0x28, 0xc1}; /* movaps: outside the set */
	assert_int_equal(insn_len(sse, 3), 0);
	assert_int_equal(insn_len(READ, 3), 0); /* cut short */
}

static void test_emulated(void **state)
{
	(void)state;
	assert_true(insn_emulated(INTERNAL, 2)); /* push %r13 */
	assert_true(insn_emulated((const uint8_t[]){0x55}, 1));
	assert_true(insn_emulated(READ_EX + 4, 5)); /* call */
	assert_false(insn_emulated(READ_EX, 4));    /* sub */
	assert_false(insn_emulated(FREE, 3));       /* test */
	assert_string_equal(insn_describe(READ_EX, 4), "sub $0x8,%rsp");
	assert_string_equal(insn_describe(INTERNAL, 2), "push %r13");
}

static void test_patterns(void **state)
{
	(void)state;
	uint64_t callee = 0;
	assert_true(insn_stack_adjust_then_call(READ_EX, sizeof(READ_EX), 0x354c0, &callee));
	assert_int_equal(callee, 0x35290);
	assert_false(insn_stack_adjust_then_call(READ, sizeof(READ), 0x35430, &callee));
	/* "add $-8,%rsp; call" does the same but is not the pattern: no guess */
	const uint8_t add[] = {0x48, 0x83, 0xc4, 0xf8, 0xe8, 0, 0, 0, 0};
	assert_false(insn_stack_adjust_then_call(add, sizeof(add), 0, &callee));
	/* SSL_read reaches the same callee by its first call */
	assert_true(insn_first_call(READ, sizeof(READ), 0x35430, &callee));
	assert_int_equal(callee, 0x35290);
	/* a ret or an unknown instruction before any call: no answer */
	const uint8_t ret[] = {0x31, 0xc0, 0xc3, 0xe8, 0, 0, 0, 0};
	assert_false(insn_first_call(ret, sizeof(ret), 0, &callee));
	const uint8_t unk[] = {0x0f, 0x28, 0xc1, 0xe8, 0, 0, 0, 0};
	assert_false(insn_first_call(unk, sizeof(unk), 0, &callee));
	const uint8_t icall[] = {0xff, 0xd0, 0xe8, 0, 0, 0, 0}; /* call *%rax first */
	assert_false(insn_first_call(icall, sizeof(icall), 0, &callee));
}

/* A file with the functions at their libssl offsets. */
static char *fake_libssl(bool patch_entry)
{
	static char path[] = "/tmp/llmobs-insn-XXXXXX";
	strcpy(path, "/tmp/llmobs-insn-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0x40000), 0);
	uint8_t rex[sizeof(READ_EX)];
	memcpy(rex, READ_EX, sizeof(rex));
	if (patch_entry)
		memcpy(rex, (const uint8_t[]){0x48, 0x83, 0xc4, 0xf8}, 4);
	assert_int_equal(pwrite(fd, rex, sizeof(rex), 0x354c0), (ssize_t)sizeof(rex));
	assert_int_equal(pwrite(fd, READ, sizeof(READ), 0x35430), (ssize_t)sizeof(READ));
	assert_int_equal(pwrite(fd, INTERNAL, sizeof(INTERNAL), 0x35290),
	                 (ssize_t)sizeof(INTERNAL));
	assert_int_equal(pwrite(fd, FREE, sizeof(FREE), 0x3b350), (ssize_t)sizeof(FREE));
	close(fd);
	return path;
}

static void test_placement(void **state)
{
	(void)state;
	struct elf_info info = {.ntext = 1, .text_start = {0x1f000}, .text_end = {0x7c000}};
	uint64_t off[F__N] = {0};
	off[F_READ_EX] = 0x354c0;
	off[F_READ] = 0x35430;
	off[F_FREE] = 0x3b350;
	struct placement pl[F__N];

	char *path = fake_libssl(false);
	place_probes(path, &info, off, true, pl);
	assert_int_equal(pl[F_READ_EX].kind, PLACE_CALLEE);
	assert_int_equal(pl[F_READ_EX].at, 0x35290);
	assert_true(pl[F_READ_EX].emulated);
	assert_int_equal(pl[F_READ].kind, PLACE_COVERED);
	assert_int_equal(pl[F_READ].covered_by, F_READ_EX);
	assert_int_equal(pl[F_FREE].kind, PLACE_PUBLIC);
	assert_false(pl[F_FREE].emulated);
	assert_int_equal(pl[F_WRITE].kind, PLACE_NONE);

	/* the same file with placement off: every symbol */
	place_probes(path, &info, off, false, pl);
	assert_int_equal(pl[F_READ_EX].kind, PLACE_PUBLIC);
	assert_int_equal(pl[F_READ_EX].at, 0x354c0);
	assert_int_equal(pl[F_READ].kind, PLACE_PUBLIC);

	/* a callee outside the text segment: public symbol */
	struct elf_info small = {.ntext = 1, .text_start = {0x35400}, .text_end = {0x7c000}};
	place_probes(path, &small, off, true, pl);
	assert_int_equal(pl[F_READ_EX].kind, PLACE_PUBLIC);
	unlink(path);

	/* an entry that does not match the pattern: public, and SSL_read too */
	path = fake_libssl(true);
	place_probes(path, &info, off, true, pl);
	assert_int_equal(pl[F_READ_EX].kind, PLACE_PUBLIC);
	assert_int_equal(pl[F_READ_EX].at, 0x354c0);
	assert_false(pl[F_READ_EX].emulated);
	assert_int_equal(pl[F_READ].kind, PLACE_PUBLIC);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_emulated),
	    cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_placement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
