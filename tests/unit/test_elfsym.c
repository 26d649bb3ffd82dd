/* ELF symbol → uprobe file offset, checked against where the loader really
 * put each function (/proc/self/maps), for a shared library's .dynsym and
 * for an executable's .symtab (the static-OpenSSL case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/elfsym.h"
#include "capture/placement.h"
#include "capture/tls_gnutls.h"
#include "capture/tls_openssl.h"

/* Stands in for an OpenSSL built into the executable: in .symtab only. */
__attribute__((noinline, used)) int SSL_write(void *s, const void *b, int n)
{
	(void)s;
	(void)b;
	return n + 1;
}

/* File offset of a loaded code address, from this process's mappings. */
static uint64_t file_offset_of(const void *addr, char *path, size_t n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[4096];
	uint64_t off = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, moff;
		char p[4096] = "";
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095s", &start, &end, &moff, p) < 3)
			continue;
		if ((uintptr_t)addr >= start && (uintptr_t)addr < end) {
			off = (uintptr_t)addr - start + moff;
			snprintf(path, n, "%s", p);
			break;
		}
	}
	fclose(f);
	return off;
}

static void test_shared_library_dynsym(void **state)
{
	(void)state;
	void *h = dlopen("libssl.so.3", RTLD_NOW);
	if (!h)
		skip(); /* no OpenSSL 3 on this machine */
	const char *names[] = {"SSL_read", "SSL_write_ex", "SSL_no_such_function"};
	char path[4096];
	uint64_t want_read = file_offset_of(dlsym(h, "SSL_read"), path, sizeof(path));
	uint64_t want_write_ex = file_offset_of(dlsym(h, "SSL_write_ex"), path, sizeof(path));
	uint64_t off[3];
	struct elf_info info;
	assert_int_equal(elf_func_offsets(path, names, 3, off, &info), 2);
	assert_int_equal(off[0], want_read);
	assert_int_equal(off[1], want_write_ex);
	assert_int_equal(off[2], 0);
	assert_false(info.executable);
	assert_true(info.openssl3);
	assert_string_equal(info.soname, "libssl.so.3");
	dlclose(h);
}

/* libgnutls.so.30: the GnuTLS table's functions where the loader put
 * them, the file usable by that stack only, every probe at its symbol. */
static void test_gnutls_library(void **state)
{
	(void)state;
	void *h = dlopen("libgnutls.so.30", RTLD_NOW);
	if (!h)
		skip(); /* no GnuTLS 3.x on this machine */
	char path[4096];
	uint64_t want[G__N];
	for (unsigned f = 0; f < G__N; f++) {
		void *sym = dlsym(h, tls_gnutls.symbols[f]);
		assert_non_null(sym);
		want[f] = file_offset_of(sym, path, sizeof(path));
		assert_true(want[f] > 0);
	}
	uint64_t off[G__N], ssl[F__N];
	struct elf_info info;
	assert_int_equal(elf_func_offsets(path, tls_gnutls.symbols, G__N, off, &info), G__N);
	for (unsigned f = 0; f < G__N; f++)
		assert_int_equal(off[f], want[f]);
	assert_true(tls_usable(&tls_gnutls, off));
	assert_string_equal(info.soname, "libgnutls.so.30");
	assert_string_equal(tls_gnutls.version(&info, off), "3.4+");
	assert_int_equal(elf_func_offsets(path, ssl_func_names, F__N, ssl, NULL), 0);
	assert_false(tls_usable(&tls_openssl, ssl));

	/* Debian 12's gnutls_record_send is "xor %r8d,%r8d; xor %ecx,%ecx;
	 * jmp gnutls_record_send2@plt": covered by send2's probe */
	uint8_t code[3] = {0};
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, code, 3, (off_t)off[G_SEND]), 3);
	close(fd);
	bool tail_call = code[0] == 0x45 && code[1] == 0x31 && code[2] == 0xc0;
	char plt[64];
	assert_false(elf_plt_target(path, off[G_RECV], plt, sizeof(plt))); /* not a stub */
	struct placement pl[G__N];
	tls_gnutls.place(path, &info, off, true, pl);
	for (unsigned f = 0; f < G__N; f++) {
		if (f == G_SEND && tail_call) {
			assert_int_equal(pl[f].kind, PLACE_COVERED);
			assert_int_equal(pl[f].covered_by, G_SEND2);
			assert_non_null(strstr(pl[f].why, "jumps to it"));
			continue;
		}
		assert_int_equal(pl[f].kind, PLACE_PUBLIC);
		assert_int_equal(pl[f].at, off[f]);
		assert_string_not_equal(pl[f].insn, "");
	}
	/* --probe-at symbol: every function at its symbol */
	tls_gnutls.place(path, &info, off, false, pl);
	assert_int_equal(pl[G_SEND].kind, PLACE_PUBLIC);
	dlclose(h);
}

/* libgnutls-openssl's SSL_* wrap GnuTLS, probed itself: not OpenSSL. */
static void test_gnutls_openssl_wrapper_is_not_openssl(void **state)
{
	(void)state;
	void *h = dlopen("libgnutls-openssl.so.27", RTLD_NOW);
	if (!h)
		skip(); /* libgnutls-openssl27 not installed */
	char path[4096];
	assert_true(file_offset_of(dlsym(h, "SSL_read"), path, sizeof(path)) > 0);
	uint64_t off[F__N];
	struct elf_info info;
	assert_true(elf_func_offsets(path, ssl_func_names, F__N, off, &info) >= 2);
	assert_true(tls_usable(&tls_openssl, off));       /* it has the names... */
	assert_true(tls_is_wrapper(&tls_openssl, &info)); /* ...as wrappers */
	assert_false(tls_is_wrapper(&tls_gnutls, &info));
	struct elf_info libssl = {.soname = "libssl.so.3"};
	assert_false(tls_is_wrapper(&tls_openssl, &libssl));
	dlclose(h);
}

static void test_executable_symtab(void **state)
{
	(void)state;
	const char *names[] = {"SSL_write", "SSL_read"};
	char path[4096];
	int (*volatile fn)(void *, const void *, int) = SSL_write;
	uint64_t want = file_offset_of((const void *)fn, path, sizeof(path));
	uint64_t off[2];
	struct elf_info info;
	assert_int_equal(elf_func_offsets("/proc/self/exe", names, 2, off, &info), 1);
	assert_int_equal(off[0], want);
	assert_int_equal(off[1], 0);
	assert_true(info.executable);
	assert_false(info.openssl3);
	assert_string_equal(info.soname, "");
	assert_int_equal(SSL_write(NULL, NULL, 1), 2);
}

static void test_not_elf(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/llmobs-elfsym-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	close(fd);
	const char *names[] = {"SSL_read"};
	uint64_t off[1];
	assert_int_equal(elf_func_offsets(tmpl, names, 1, off, NULL), -1);
	assert_int_equal(elf_func_offsets("/nonexistent/file", names, 1, off, NULL), -1);
	/* truncated ELF: the header only */
	fd = open(tmpl, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd,
	                       "\x7f"
	                       "ELF\x02\x01\x01",
	                       7),
	                 7);
	close(fd);
	assert_int_equal(elf_func_offsets(tmpl, names, 1, off, NULL), -1);
	unlink(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shared_library_dynsym),
	    cmocka_unit_test(test_gnutls_library),
	    cmocka_unit_test(test_gnutls_openssl_wrapper_is_not_openssl),
	    cmocka_unit_test(test_executable_symtab),
	    cmocka_unit_test(test_not_elf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
