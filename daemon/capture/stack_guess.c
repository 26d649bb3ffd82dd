/* Guesses an executable's TLS stack from its bytes (see stack_guess.h).
 * Runs once per file (callers cache by device and inode); the scan is
 * limited to .rodata when the file has section headers, a few ms even for
 * a 100 MB Bun. */
#include "capture/stack_guess.h"

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const char *const names[GUESS__N] = {
    [GUESS_UNREAD] = "unknown",
    [GUESS_NONE] = "none",
    [GUESS_GO] = "Go",
    [GUESS_RUSTLS] = "rustls",
    [GUESS_BORINGSSL] = "BoringSSL",
    [GUESS_OPENSSL] = "OpenSSL",
    [GUESS_GNUTLS] = "GnuTLS",
    [GUESS_NSS] = "NSS",
    [GUESS_WOLFSSL] = "wolfSSL",
    [GUESS_MBEDTLS] = "mbedTLS",
};

const char *stack_guess_name(enum stack_guess g)
{
	return (unsigned)g < GUESS__N ? names[g] : "unknown";
}

static const char go_magic[] = "\xff Go buildinf:";

struct span {
	const uint8_t *p;
	size_t n;
};

static bool has(struct span s, const char *needle, size_t len)
{
	return s.n >= len && memmem(s.p, s.n, needle, len) != NULL;
}
#define HAS(s, lit) has(s, lit, sizeof(lit) - 1)

/* From the strings a stack leaves in read-only data: rustls's source paths
 * in panic messages, BoringSSL's version text (which also says OpenSSL, so
 * it is checked first). */
static enum stack_guess by_strings(struct span s)
{
	if (HAS(s, go_magic))
		return GUESS_GO;
	if (HAS(s, "rustls"))
		return GUESS_RUSTLS;
	if (HAS(s, "BoringSSL") || HAS(s, "boringssl"))
		return GUESS_BORINGSSL;
	if (HAS(s, "OpenSSL"))
		return GUESS_OPENSSL;
	return GUESS_NONE;
}

/* The .rodata section of a 64-bit ELF file, and whether it has Go's own
 * sections; false when the file is no such ELF or has no section headers. */
static bool elf_rodata(struct span f, struct span *ro, bool *go)
{
	if (f.n < sizeof(Elf64_Ehdr) || memcmp(f.p, ELFMAG, SELFMAG) || f.p[EI_CLASS] != ELFCLASS64)
		return false;
	const Elf64_Ehdr *eh = (const void *)f.p;
	if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shstrndx >= eh->e_shnum || eh->e_shoff > f.n ||
	    (f.n - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return false;
	const Elf64_Shdr *sh = (const void *)(f.p + eh->e_shoff);
	const Elf64_Shdr *strs = &sh[eh->e_shstrndx];
	if (strs->sh_offset > f.n || strs->sh_size > f.n - strs->sh_offset)
		return false;
	const char *names_p = (const char *)f.p + strs->sh_offset;
	bool found = false;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_name >= strs->sh_size)
			continue;
		const char *name = names_p + sh[i].sh_name;
		size_t room = strs->sh_size - sh[i].sh_name;
		if (!strncmp(name, ".go.buildinfo", room) || !strncmp(name, ".gopclntab", room))
			*go = true;
		if (!strncmp(name, ".rodata", room) && sh[i].sh_type == SHT_PROGBITS &&
		    sh[i].sh_offset <= f.n && sh[i].sh_size <= f.n - sh[i].sh_offset) {
			ro->p = f.p + sh[i].sh_offset;
			ro->n = sh[i].sh_size;
			found = true;
		}
	}
	return found || *go;
}

enum stack_guess stack_guess_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return GUESS_UNREAD;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return GUESS_UNREAD;
	struct span f = {m, (size_t)st.st_size}, ro = {0};
	bool go = false;
	enum stack_guess g;
	if (elf_rodata(f, &ro, &go))
		g = go ? GUESS_GO : by_strings(ro);
	else
		g = by_strings(f);
	munmap(m, (size_t)st.st_size);
	return g;
}

enum stack_guess stack_guess_library(const char *path)
{
	static const struct {
		const char *prefix;
		enum stack_guess g;
	} libs[] = {
	    {"libssl.so", GUESS_OPENSSL},     {"libgnutls.so", GUESS_GNUTLS},
	    {"libssl3.so", GUESS_NSS},        {"libnss3.so", GUESS_NSS},
	    {"libwolfssl.so", GUESS_WOLFSSL}, {"libmbedtls.so", GUESS_MBEDTLS},
	};
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		if (!strncmp(base, libs[i].prefix, strlen(libs[i].prefix)))
			return libs[i].g;
	return GUESS_NONE;
}
