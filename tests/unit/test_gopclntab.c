/* Go functions through .gopclntab, checked on a real Go program built here
 * (tests/go/tls_client.go) with and without symbols (-ldflags=-s -w):
 * the table must give the addresses the symbol table gives, the RET
 * instructions the decoder finds must be the ones GNU objdump finds, and
 * a damaged table must be refused, not read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/disasm.h"
#include "capture/gopclntab.h"
#include "capture/placement.h"
#include "capture/tls_go.h"

static const char *const names[] = {
    "crypto/tls.(*Conn).Write",
    "crypto/tls.(*Conn).Read",
    "crypto/tls.(*Conn).Close",
};
#define NNAMES 3

struct built {
	char dir[64];
	char full[128];     /* with symbols */
	char stripped[128]; /* -ldflags=-s -w */
	char pie[128];      /* -buildmode=pie, stripped: .data.rel.ro.gopclntab */
	char go_version[32];
};

static int sh(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t got = out ? fread(out, 1, n - 1, p) : 0;
	if (out)
		out[got] = '\0';
	else
		while (fgetc(p) != EOF)
			;
	return pclose(p);
}

/* Builds the program twice; skips everything when there is no Go. */
static int setup(void **state)
{
	static struct built b;
	char cmd[4096], cwd[512];
	*state = NULL;
	if (!getcwd(cwd, sizeof(cwd))) /* the repository: tests run from its root */
		return -1;
	if (sh("command -v go >/dev/null 2>&1", NULL, 0) != 0)
		return 0;
	snprintf(b.dir, sizeof(b.dir), "/tmp/llmobs-gopcln-XXXXXX");
	if (!mkdtemp(b.dir))
		return -1;
	snprintf(b.full, sizeof(b.full), "%s/full", b.dir);
	snprintf(b.stripped, sizeof(b.stripped), "%s/stripped", b.dir);
	snprintf(b.pie, sizeof(b.pie), "%s/pie", b.dir);
	/* Go's build cache outlives the run (build/gocache-tests): the
	 * programs are linked anew each time, the standard library compiled
	 * once (the second, no-wire pass of make test took 37 s for it) */
	snprintf(cmd, sizeof(cmd),
	         "cd %s && export GOCACHE=%s/build/gocache-tests HOME=%s GO111MODULE=off "
	         "CGO_ENABLED=0 && "
	         "go build -o full %s/tests/go/tls_client.go && "
	         "go build -ldflags='-s -w' -o stripped %s/tests/go/tls_client.go && "
	         "go build -buildmode=pie -ldflags='-s -w' -o pie %s/tests/go/tls_client.go 2>&1",
	         b.dir, cwd, b.dir, cwd, cwd, cwd);
	char out[4096];
	if (sh(cmd, out, sizeof(out)) != 0) {
		fprintf(stderr, "go build failed: %s\n", out);
		return -1;
	}
	/* "go1.19.8" */
	if (sh("go env GOVERSION", b.go_version, sizeof(b.go_version)) != 0)
		return -1;
	b.go_version[strcspn(b.go_version, "\n")] = '\0';
	*state = &b;
	return 0;
}

static int teardown(void **state)
{
	struct built *b = *state;
	char cmd[256];
	if (b) {
		snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", b->dir, b->dir);
		sh(cmd, NULL, 0);
	}
	return 0;
}

#define NEED_GO(state)                                                                             \
	do {                                                                                       \
		if (!*(state))                                                                     \
			skip(); /* no Go toolchain (make deps: golang-go) */                       \
	} while (0)

/* The file offset of a function from the ELF symbol table (libelf). */
static uint64_t symtab_offset(const char *path, const char *name)
{
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	uint64_t vaddr = 0, off = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	while (!vaddr && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;
			if (gelf_getsym(d, (int)i, &s) &&
			    (n = elf_strptr(e, shdr.sh_link, s.st_name)) && strcmp(n, name) == 0)
				vaddr = s.st_value;
		}
	}
	assert_true(vaddr != 0);
	assert_true(elf_vaddr_to_offset(e, vaddr, &off));
	elf_end(e);
	close(fd);
	return off;
}

static void check_binary(const struct built *b, const char *path)
{
	uint64_t start[NNAMES], end[NNAMES];
	struct go_info gi;
	struct elf_info info;
	assert_int_equal(go_func_ranges(path, names, NNAMES, start, end, &gi, &info), NNAMES);
	for (int i = 0; i < NNAMES; i++) {
		assert_true(start[i] > 0);
		assert_true(end[i] > start[i] && end[i] - start[i] < 16384);
		assert_true(start[i] >= info.text_start[0] && end[i] <= info.text_end[0]);
	}
	assert_true(gi.magic == GO_PCLN_118 || gi.magic == GO_PCLN_120);
	assert_string_equal(gi.version, b->go_version);
	assert_true(gi.regabi);
	assert_true(info.executable); /* static: ET_EXEC, no PT_INTERP */
}

static void test_finds_functions_unstripped(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	check_binary(b, b->full);
	/* the table agrees with the symbol table */
	uint64_t start[NNAMES], end[NNAMES];
	go_func_ranges(b->full, names, NNAMES, start, end, NULL, NULL);
	for (int i = 0; i < NNAMES; i++)
		assert_int_equal(start[i], symtab_offset(b->full, names[i]));
}

static void test_finds_functions_stripped(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	char out[4096];
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "readelf -S %s", b->stripped);
	assert_int_equal(sh(cmd, out, sizeof(out)), 0);
	assert_null(strstr(out, ".symtab")); /* really stripped */
	check_binary(b, b->stripped);
}

static void test_finds_functions_pie(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	check_binary(b, b->pie);
}

static void test_absent_names_and_non_go_files(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	const char *other[] = {"crypto/tls.(*Conn).NoSuchMethod", "main.main"};
	uint64_t start[NNAMES], end[NNAMES];
	assert_int_equal(go_func_ranges(b->stripped, other, 2, start, end, NULL, NULL), 1);
	assert_int_equal(start[0], 0);
	assert_true(start[1] > 0);
	/* this test binary is C: no table */
	assert_int_equal(go_func_ranges("/proc/self/exe", names, NNAMES, start, end, NULL, NULL),
	                 -1);
	assert_int_equal(go_func_ranges("/nonexistent", names, NNAMES, start, end, NULL, NULL), -1);
}

/* The section's bytes of a file, malloc'd. */
static uint8_t *section(const char *path, const char *name, size_t *len, uint64_t *addr)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstr;
	assert_int_equal(elf_getshdrstrndx(e, &shstr), 0);
	uint8_t *copy = NULL;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while (!copy && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || strcmp(elf_strptr(e, shstr, sh.sh_name), name) != 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		copy = malloc(d->d_size);
		memcpy(copy, d->d_buf, d->d_size);
		*len = d->d_size;
		*addr = sh.sh_addr;
	}
	elf_end(e);
	close(fd);
	assert_non_null(copy);
	return copy;
}

/* Every truncation and a damaged header or name offset: refused or read
 * within bounds (ASan watches). */
static void test_damaged_tables(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	size_t len, text_len;
	uint64_t addr, text_addr, start[NNAMES], end[NNAMES];
	free(section(b->stripped, ".text", &text_len, &text_addr));
	uint8_t *tab = section(b->stripped, ".gopclntab", &len, &addr);
	assert_int_equal(go_pcln_lookup(tab, len, text_addr, names, NNAMES, start, end), NNAMES);
	for (size_t cut = 0; cut < len; cut += cut < 256 ? 1 : 4093) {
		uint8_t *t = malloc(cut ? cut : 1);
		memcpy(t, tab, cut);
		int n = go_pcln_lookup(t, cut, text_addr, names, NNAMES, start, end);
		assert_true(n <= NNAMES);
		free(t);
	}
	uint8_t *bad = malloc(len);
	memcpy(bad, tab, len);
	bad[0] ^= 0xff; /* unknown magic */
	assert_int_equal(go_pcln_lookup(bad, len, text_addr, names, NNAMES, start, end), -1);
	memcpy(bad, tab, len);
	bad[7] = 3; /* pointer size */
	assert_int_equal(go_pcln_lookup(bad, len, text_addr, names, NNAMES, start, end), -1);
	memcpy(bad, tab, len);
	memset(bad + 8 + 3 * 8, 0xff, 8); /* names table far past the end */
	assert_int_equal(go_pcln_lookup(bad, len, text_addr, names, NNAMES, start, end), 0);
	memcpy(bad, tab, len);
	memset(bad + 8 + 7 * 8, 0x7f, 8); /* function table far past the end */
	assert_true(go_pcln_lookup(bad, len, text_addr, names, NNAMES, start, end) <= 0);
	free(bad);
	free(tab);
}

static void test_buildinfo(void **state)
{
	(void)state;
	uint8_t bi[64] = "\xff Go buildinf:";
	char v[24];
	bi[14] = 8;
	bi[15] = 2; /* inline strings (Go 1.18+) */
	bi[32] = 8;
	memcpy(bi + 33, "go1.21.0", 8);
	assert_true(go_buildinfo_version(bi, sizeof(bi), v, sizeof(v)));
	assert_string_equal(v, "go1.21.0");
	assert_false(go_buildinfo_version(bi, 40, v, sizeof(v))); /* cut in the string */
	bi[32] = 100;                                             /* longer than the output */
	assert_false(go_buildinfo_version(bi, sizeof(bi), v, sizeof(v)));
	bi[32] = 8;
	bi[15] = 0; /* pointer form: not from these bytes alone */
	assert_false(go_buildinfo_version(bi, sizeof(bi), v, sizeof(v)));
	bi[15] = 2;
	bi[1] = 'X';
	assert_false(go_buildinfo_version(bi, sizeof(bi), v, sizeof(v)));
}

/* RET sites against GNU objdump's decoding of the same bytes. */
static void test_ret_sites_match_objdump(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	uint64_t start[NNAMES], end[NNAMES];
	struct elf_info info;
	assert_int_equal(go_func_ranges(b->stripped, names, NNAMES, start, end, NULL, &info),
	                 NNAMES);
	/* the text segment maps file offsets to addresses by a constant */
	int fd = open(b->stripped, O_RDONLY);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	uint64_t base = 0;
	size_t nph;
	elf_getphdrnum(e, &nph);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
			base = ph.p_vaddr - ph.p_offset;
	}
	elf_end(e);
	for (int f = 0; f < NNAMES; f++) {
		size_t n = end[f] - start[f];
		uint8_t *code = malloc(n);
		assert_int_equal(pread(fd, code, n, (off_t)start[f]), (ssize_t)n);
		uint64_t rets[64];
		int got = disasm_ret_sites(code, n, start[f], rets, 64);
		free(code);
		assert_true(got > 0 && got < 64);
		char cmd[512], out[65536];
		snprintf(cmd, sizeof(cmd),
		         "objdump -d --no-show-raw-insn --start-address=0x%llx "
		         "--stop-address=0x%llx %s | awk '$2 == \"ret\" || $2 == \"retq\" "
		         "{ sub(\":\", \"\", $1); print $1 }'",
		         (unsigned long long)(start[f] + base), (unsigned long long)(end[f] + base),
		         b->stripped);
		assert_int_equal(sh(cmd, out, sizeof(out)), 0);
		int want = 0;
		for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), want++) {
			assert_true(want < got);
			assert_int_equal(strtoull(line, NULL, 16), rets[want] + base);
		}
		assert_int_equal(want, got);
		if (f == 1) /* Read returns from several places (7 in Go 1.19) */
			assert_true(got >= 2);
	}
	close(fd);
}

static void test_ret_sites_decode(void **state)
{
	(void)state;
	uint64_t rets[4];
	/* mov eax, 0xc3c3c3c3; ret; ret 8; int3: RET bytes inside an
	 * immediate are no RET */
	const uint8_t code[] = {0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc2, 0x08, 0x00, 0xcc};
	assert_int_equal(disasm_ret_sites(code, sizeof(code), 0x1000, rets, 4), 2);
	assert_int_equal(rets[0], 0x1005);
	assert_int_equal(rets[1], 0x1006);
	/* more than max: counted, max stored */
	const uint8_t many[] = {0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3};
	assert_int_equal(disasm_ret_sites(many, sizeof(many), 0, rets, 4), 6);
	assert_int_equal(rets[3], 3);
	/* push es does not exist in 64-bit mode: nothing can be trusted */
	const uint8_t invalid[] = {0xc3, 0x06, 0xc3};
	assert_int_equal(disasm_ret_sites(invalid, sizeof(invalid), 0, rets, 4), -1);
	/* an instruction cut at the end */
	const uint8_t cut[] = {0xc3, 0x48, 0x81};
	assert_int_equal(disasm_ret_sites(cut, sizeof(cut), 0, rets, 4), -1);
	/* a far return is not a Go function's */
	const uint8_t far[] = {0xcb};
	assert_int_equal(disasm_ret_sites(far, sizeof(far), 0, rets, 4), -1);
}

static void test_go_stack_check(void **state)
{
	(void)state;
	/* lea -0x68(%rsp),%r12; cmp 0x10(%r14),%r12; jbe rel32; sub $0xe8,%rsp */
	const uint8_t big[] = {0x4c, 0x8d, 0x64, 0x24, 0x98, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86,
	                       0x64, 0x07, 0x00, 0x00, 0x48, 0x81, 0xec, 0xe8, 0x00, 0x00, 0x00};
	assert_int_equal(disasm_go_stack_check(big, sizeof(big), 0x400), 0x400 + 9);
	char d[48];
	disasm_describe(big + 9, sizeof(big) - 9, d, sizeof(d));
	assert_string_equal(d, "jbe 0x76a");
	/* cmp 0x10(%r14),%rsp; jbe rel8; push %rbp */
	const uint8_t small[] = {0x49, 0x3b, 0x66, 0x10, 0x76, 0x20, 0x55};
	assert_int_equal(disasm_go_stack_check(small, sizeof(small), 0), 4);
	/* a C prologue: push %rbp; mov %rsp,%rbp; ... no check */
	const uint8_t c[] = {0x55, 0x48, 0x89, 0xe5, 0x76, 0x20, 0xc3};
	assert_int_equal(disasm_go_stack_check(c, sizeof(c), 0), 0);
	/* a jbe after another comparison is no stack check */
	const uint8_t other[] = {0x48, 0x39, 0xc3, 0x76, 0x20, 0xc3};
	assert_int_equal(disasm_go_stack_check(other, sizeof(other), 0), 0);
	disasm_describe((const uint8_t *)"\x06", 1, d, sizeof(d));
	assert_string_equal(d, "unknown");
}

/* Damaged real programs through the file path too: a copy with its table
 * cut short. */
static void test_truncated_file(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	char path[160], cmd[512];
	snprintf(path, sizeof(path), "%s/cut", b->dir);
	snprintf(cmd, sizeof(cmd), "head -c 200000 %s > %s", b->stripped, path);
	assert_int_equal(sh(cmd, NULL, 0), 0);
	uint64_t start[NNAMES], end[NNAMES];
	assert_true(go_func_ranges(path, names, NNAMES, start, end, NULL, NULL) <= 0);
}

/* The Go table as discovery uses it: found, placed on each stack check's
 * jbe (emulated), Read's RETs listed. */
static void test_table_finds_and_places(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	uint64_t off[TLS_MAX_FUNCS];
	struct elf_info info;
	char why[256] = "";
	assert_int_equal(tls_go.find(b->stripped, off, &info, why, sizeof(why)), TLS_FOUND);
	assert_true(tls_usable(&tls_go, off));
	assert_string_equal(tls_go.version(&info, off), b->go_version);
	struct placement pl[TLS_MAX_FUNCS];
	tls_go.place(b->stripped, &info, off, true, pl);
	for (int f = 0; f < GO__N; f++) {
		assert_int_equal(pl[f].kind, PLACE_PUBLIC);
		assert_int_equal(pl[f].symbol, off[f]);
		assert_true(pl[f].at > off[f] && pl[f].at < off[f] + 16);
		assert_true(pl[f].emulated);
		assert_non_null(strstr(pl[f].insn, "jbe"));
		if (f != GO_READ) /* only Read's returns are probed */
			assert_int_equal(pl[f].nrets, 0);
	}
	assert_true(pl[GO_READ].nrets >= 2);
	for (unsigned i = 0; i < pl[GO_READ].nrets; i++)
		assert_true(pl[GO_READ].rets[i] > pl[GO_READ].at &&
		            pl[GO_READ].rets[i] < info.func_end[GO_READ]);
}

/* A Go before 1.17 (stack-based arguments) is refused: the same program
 * with its build version rewritten to go1.16. */
static void test_stack_abi_go_is_refused(void **state)
{
	NEED_GO(state);
	const struct built *b = *state;
	if (strncmp(b->go_version, "go1.", 4) != 0 || strlen(b->go_version) < 6)
		skip();
	char path[160], cmd[512];
	snprintf(path, sizeof(path), "%s/old", b->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", b->stripped, path);
	assert_int_equal(sh(cmd, NULL, 0), 0);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	uint8_t *bytes = malloc((size_t)n);
	rewind(f);
	assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
	uint8_t *bi = memmem(bytes, (size_t)n, "\xff Go buildinf:", 14);
	assert_non_null(bi);
	assert_int_equal(memcmp(bi + 33, b->go_version, strlen(b->go_version)), 0);
	memcpy(bi + 33 + 2, "1.16", 4); /* "go1.19.8" -> "go1.16.8": same length */
	rewind(f);
	assert_int_equal(fwrite(bytes, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(bytes);
	uint64_t start[NNAMES], end[NNAMES], off[TLS_MAX_FUNCS];
	struct go_info gi;
	struct elf_info info;
	assert_int_equal(go_func_ranges(path, names, NNAMES, start, end, &gi, NULL), NNAMES);
	assert_int_equal(strncmp(gi.version, "go1.16", 6), 0);
	assert_false(gi.regabi);
	char why[256] = "";
	assert_int_equal(tls_go.find(path, off, &info, why, sizeof(why)), TLS_REFUSED);
	assert_non_null(strstr(why, "before Go 1.17")); /* refused with its reason */
	assert_false(tls_usable(&tls_go, off));
}

/* A table of each layout built by hand: two functions, "main.a" at 0x401000
 * and Read at 0x401100, ending at 0x401200. */
struct synth {
	uint8_t b[512];
	size_t n;
};

static size_t put(struct synth *t, size_t at, uint64_t v, unsigned size)
{
	memcpy(t->b + at, &v, size);
	return at + size;
}

static void synth_table(struct synth *t, uint32_t magic, uint64_t text_in_header)
{
	memset(t, 0, sizeof(*t));
	static const char names_blob[] = "main.a\0crypto/tls.(*Conn).Read";
	const uint64_t entry[3] = {0x401000, 0x401100, 0x401200};
	put(t, 0, magic, 4);
	t->b[6] = 1; /* quantum */
	t->b[7] = 8; /* pointer size */
	bool u32 = magic == GO_PCLN_118 || magic == GO_PCLN_120;
	size_t names = 128, functab = 192;
	memcpy(t->b + names, names_blob, sizeof(names_blob));
	if (magic == GO_PCLN_12) {
		/* nfunc, then the table at 16; _func offsets and names from 0 */
		put(t, 8, 2, 8);
		functab = 16;
	} else if (magic == GO_PCLN_116) {
		put(t, 8, 2, 8);
		put(t, 8 + 2 * 8, names, 8);
		put(t, 8 + 6 * 8, functab, 8);
	} else {
		put(t, 8, 2, 8);
		put(t, 8 + 2 * 8, text_in_header, 8);
		put(t, 8 + 3 * 8, names, 8);
		put(t, 8 + 7 * 8, functab, 8);
	}
	unsigned w = u32 ? 4 : 8;
	size_t funcs = functab + 3 * 2 * w; /* the _func records follow the table */
	for (int i = 0; i < 3; i++) {
		uint64_t e = u32 ? entry[i] - 0x401000 : entry[i];
		size_t rec = funcs + (size_t)i * 16;
		/* the _func offset: from the function table (1.16+), the table (1.2) */
		uint64_t fo = magic == GO_PCLN_12 ? rec : rec - functab;
		put(t, functab + (size_t)i * 2 * w, e, w);
		put(t, functab + (size_t)i * 2 * w + w, fo, w);
		put(t, rec, e, w);
		int32_t nameoff = i == 1 ? 7 : 0;
		if (magic == GO_PCLN_12)
			nameoff += (int32_t)names;
		put(t, rec + w, (uint32_t)nameoff, 4);
	}
	t->n = funcs + 3 * 16 > names + sizeof(names_blob) ? funcs + 3 * 16
	                                                   : names + sizeof(names_blob);
}

static void test_every_layout(void **state)
{
	(void)state;
	static const uint32_t magics[] = {GO_PCLN_12, GO_PCLN_116, GO_PCLN_118, GO_PCLN_120};
	const char *want[] = {"crypto/tls.(*Conn).Read", "main.a", "main.b"};
	for (size_t m = 0; m < 4; m++) {
		for (int hdr_text = 0; hdr_text < 2; hdr_text++) {
			struct synth t;
			/* 1.18+: the text start from the header, or (PIE) the caller's */
			synth_table(&t, magics[m], hdr_text ? 0x401000 : 0);
			uint64_t start[3], end[3];
			assert_int_equal(go_pcln_lookup(t.b, t.n, 0x401000, want, 3, start, end),
			                 2);
			assert_int_equal(start[0], 0x401100);
			assert_int_equal(end[0], 0x401200);
			assert_int_equal(start[1], 0x401000);
			assert_int_equal(end[1], 0x401100);
			assert_int_equal(start[2], 0);
			/* and cut anywhere: never past the bytes given (ASan) */
			for (size_t cut = 0; cut < t.n; cut++) {
				uint8_t *c = malloc(cut ? cut : 1);
				memcpy(c, t.b, cut);
				assert_true(go_pcln_lookup(c, cut, 0x401000, want, 3, start, end) <=
				            2);
				free(c);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_finds_functions_unstripped),
	    cmocka_unit_test(test_finds_functions_stripped),
	    cmocka_unit_test(test_finds_functions_pie),
	    cmocka_unit_test(test_absent_names_and_non_go_files),
	    cmocka_unit_test(test_damaged_tables),
	    cmocka_unit_test(test_buildinfo),
	    cmocka_unit_test(test_every_layout),
	    cmocka_unit_test(test_ret_sites_match_objdump),
	    cmocka_unit_test(test_ret_sites_decode),
	    cmocka_unit_test(test_go_stack_check),
	    cmocka_unit_test(test_truncated_file),
	    cmocka_unit_test(test_table_finds_and_places),
	    cmocka_unit_test(test_stack_abi_go_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
