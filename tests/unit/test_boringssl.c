/* The BoringSSL locator (capture/boringssl.h): on small executables built
 * for the test from bssl_fixture.c (gcc, with FDEs, PIE and not, and one
 * whose checks disagree), and on the real Bun and Claude Code executables
 * of tests/e2e/node (skipped loudly when `make deps` has not installed
 * them): where it finds SSL_read and SSL_write, and that a patched copy is
 * refused with its reason, never probed at a guess. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/boringssl.h"

#define NODE_MODULES "tests/e2e/node/node_modules/"
#define BUN          NODE_MODULES "bun/bin/bun.exe"
#define CLAUDE       NODE_MODULES "@anthropic-ai/claude-code/bin/claude.exe"

static char fixture_dir[PATH_MAX];

static void fixture(const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", fixture_dir, name);
	if (access(out, X_OK) != 0)
		fail_msg("%s missing: make unit builds it", out);
}

/* What the fixture says of itself: its functions' run-time addresses. */
static void fixture_addrs(const char *path, uint64_t *read, uint64_t *write, uint64_t *shutdown)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "%s addr", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	unsigned long long r = 0, w = 0, sh = 0;
	assert_int_equal(fscanf(p, "read=%llx write=%llx shutdown=%llx", &r, &w, &sh), 3);
	pclose(p);
	*read = r;
	*write = w;
	*shutdown = sh;
}

static void test_fixture(void **state)
{
	(void)state;
	char path[PATH_MAX];
	uint64_t r, w, sh;
	fixture("bssl_nopie", path, sizeof(path));
	fixture_addrs(path, &r, &w, &sh);
	struct bssl_found f;
	assert_int_equal(bssl_locate(path, &f), 0);
	assert_true(f.anchored);
	if (!f.ok)
		fail_msg("refused: %s", f.reason);
	assert_int_equal(f.read.vaddr, r);
	assert_int_equal(f.write.vaddr, w);
	assert_string_equal(f.read.how, "FDE");
	assert_int_equal(f.read.line, 933); /* #line 930 + 3 */
	assert_int_equal(f.write.line, 959);
	assert_int_equal(f.quic_disp, 0x98);
	assert_int_equal(f.shutdown.vaddr, sh);
	assert_int_equal(f.shutdown.line, 1020); /* #line 1017 + 3 */
	assert_int_equal(f.handshake_disp, 0xa0);
	/* non-PIE: offset = vaddr - 0x400000 */
	assert_int_equal(f.read.offset, r - 0x400000);
}

static void test_fixture_pie(void **state)
{
	(void)state;
	char path[PATH_MAX];
	uint64_t r, w, sh;
	fixture("bssl_pie", path, sizeof(path));
	fixture_addrs(path, &r, &w, &sh);
	struct bssl_found f;
	assert_int_equal(bssl_locate(path, &f), 0);
	if (!f.ok)
		fail_msg("refused: %s", f.reason);
	/* loaded at a random base: the same page offsets and distance */
	assert_int_equal(f.read.vaddr & 0xfff, r & 0xfff);
	assert_int_equal(f.write.vaddr - f.read.vaddr, w - r);
	assert_int_equal(f.shutdown.vaddr - f.read.vaddr, sh - r);
	assert_int_equal(f.read.offset, f.read.vaddr);
}

static void test_fixture_disagree(void **state)
{
	(void)state;
	char path[PATH_MAX];
	fixture("bssl_disagree", path, sizeof(path));
	struct bssl_found f;
	assert_int_equal(bssl_locate(path, &f), 0);
	assert_true(f.anchored);
	assert_false(f.ok);
	assert_non_null(strstr(f.reason, "quic_method checks disagree"));
	assert_int_equal(f.read.offset, 0);
	assert_int_equal(f.write.offset, 0);
}

static void test_not_boringssl(void **state)
{
	(void)state;
	struct bssl_found f;
	/* this test holds the locator itself, which must not find itself */
	assert_int_equal(bssl_locate("/proc/self/exe", &f), 0);
	assert_false(f.anchored);
	assert_false(f.ok);
	assert_int_equal(bssl_locate("/bin/true", &f), 0);
	assert_false(f.anchored);
	assert_int_equal(bssl_locate("/etc/hostname", &f), -1);
	assert_int_equal(bssl_locate("/nonexistent", &f), -1);
}

static bool real(const char *path)
{
	if (access(path, R_OK) == 0)
		return true;
	printf("SKIP %s absent (make deps installs it): the real binary is not checked\n", path);
	return false;
}

/* Addresses checked with gdb (a breakpoint there during a fetch sees
 * rdi=SSL*, rsi=buffer, edx=length and plaintext HTTP in the buffer) for
 * the versions the lockfile pins: bun 1.4.5, Claude Code 2.1.332. */
static void test_real_bun(void **state)
{
	(void)state;
	if (!real(BUN))
		skip();
	struct bssl_found f;
	assert_int_equal(bssl_locate(BUN, &f), 0);
	if (!f.ok)
		fail_msg("refused: %s", f.reason);
	assert_int_equal(f.read.vaddr, 0x2586500);
	assert_int_equal(f.write.vaddr, 0x2607c30);
	assert_int_equal(f.read.offset, 0x237e500);
	assert_int_equal(f.write.offset, 0x23ffc30);
	assert_int_equal(f.read.line, 931);
	assert_int_equal(f.write.line, 953);
	assert_int_equal(f.quic_disp, 0x98);
	assert_string_equal(f.read.how, "padding");
	assert_int_equal(f.shutdown.vaddr, 0x25b4290);
	assert_int_equal(f.shutdown.line, 1021);
	assert_int_equal(f.handshake_disp, 0x28);
	/* again: from the cache, after checking the sites still hold */
	struct bssl_found g;
	assert_int_equal(bssl_locate(BUN, &g), 0);
	assert_true(g.ok);
	assert_int_equal(g.read.offset, f.read.offset);
	assert_int_equal(g.write.offset, f.write.offset);
}

static void test_real_claude(void **state)
{
	(void)state;
	if (!real(CLAUDE))
		skip();
	struct bssl_found f;
	assert_int_equal(bssl_locate(CLAUDE, &f), 0);
	if (!f.ok)
		fail_msg("refused: %s", f.reason);
	assert_int_equal(f.read.vaddr, 0x35314b0);
	assert_int_equal(f.write.vaddr, 0x3531300);
	assert_int_equal(f.read.line, 933);
	assert_int_equal(f.write.line, 955);
	assert_int_equal(f.shutdown.vaddr, 0x35341f0);
}

/* A copy of bun with one byte changed at off; returns its path. */
static void patched_copy(const char *to, uint64_t off, const uint8_t *bytes, size_t n)
{
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp %s %s", BUN, to);
	assert_int_equal(system(cmd), 0);
	int fd = open(to, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
	close(fd);
}

/* SSL_read's quic check made to test another field: the build-id is the
 * same, the cached location must not be trusted, and the file is refused. */
static void test_real_bun_patched(void **state)
{
	(void)state;
	if (!real(BUN))
		skip();
	struct bssl_found f;
	assert_int_equal(bssl_locate(BUN, &f), 0);
	assert_true(f.ok);
	/* "cmpq $0x0,0x98(%rdi)" at SSL_read+0xa: 48 83 bf <98 00 00 00> 00 */
	uint8_t code[32];
	int fd = open(BUN, O_RDONLY);
	assert_int_equal(pread(fd, code, sizeof(code), (off_t)f.read.offset), sizeof(code));
	close(fd);
	static const uint8_t cmp[] = {0x48, 0x83, 0xbf, 0x98, 0x00, 0x00, 0x00, 0x00};
	assert_memory_equal(code + 0xa, cmp, sizeof(cmp));
	char path[] = "/tmp/llmobs-bun-patched.XXXXXX";
	int tfd = mkstemp(path);
	assert_true(tfd >= 0);
	close(tfd);
	static const uint8_t other = 0x90;
	patched_copy(path, f.read.offset + 0xa + 3, &other, 1);
	struct bssl_found g;
	assert_int_equal(bssl_locate(path, &g), 0);
	assert_true(g.anchored);
	assert_false(g.ok);
	assert_non_null(strstr(g.reason, "quic_method checks disagree"));
	/* the anchor string itself overwritten: no BoringSSL to see at all */
	uint64_t str_off = f.anchor - 0x200000; /* the first PT_LOAD maps offset 0 there */
	static const uint8_t x[] = "xxx/xxx_xxx.xx";
	patched_copy(path, str_off + (uint64_t)strlen("../../vendor/boringssl/"), x, 14);
	assert_int_equal(bssl_locate(path, &g), 0);
	assert_false(g.anchored);
	assert_false(g.ok);
	unlink(path);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/fixtures", dirname(self));
	(void)argv;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixture),          cmocka_unit_test(test_fixture_pie),
	    cmocka_unit_test(test_fixture_disagree), cmocka_unit_test(test_not_boringssl),
	    cmocka_unit_test(test_real_bun),         cmocka_unit_test(test_real_claude),
	    cmocka_unit_test(test_real_bun_patched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
