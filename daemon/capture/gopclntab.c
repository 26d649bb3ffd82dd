/* The .gopclntab reader (gopclntab.h). The layouts, from Go's
 * src/debug/gosym/pclntab.go and src/runtime/symtab.go:
 *
 *   header: magic u32, 0 u16, quantum u8, ptrsize u8, then words:
 *     1.2:   nfunc, then the function table itself
 *     1.16:  nfunc, nfiles, funcnames, cus, files, pcs, functab (offsets)
 *     1.18+: nfunc, nfiles, text start, funcnames, cus, files, pcs, functab
 *   function table: nfunc + 1 (entry, offset of the _func) pairs sorted by
 *     entry, words before 1.18 and u32 (entry relative to text) since; the
 *     last entry is the end of the last function
 *   _func: its entry, then its name's offset (i32) in the names table (the
 *     whole table before 1.16)
 *
 * Every offset read is checked against the section: the file is not ours. */
#include "capture/gopclntab.h"

#include <fcntl.h>
#include <stdio.h>
#include <gelf.h>
#include <string.h>
#include <unistd.h>

struct pcln {
	const uint8_t *p;
	size_t len;
	uint32_t magic;
	unsigned ptr; /* 4 or 8 */
	uint64_t nfunc, text, names, functab;
};

static bool rd(const struct pcln *t, uint64_t off, unsigned size, uint64_t *v)
{
	if (off > t->len || size > t->len - off)
		return false;
	uint64_t x = 0;
	memcpy(&x, t->p + off, size); /* little-endian: x86-64 only */
	*v = x;
	return true;
}

static bool word(const struct pcln *t, unsigned i, uint64_t *v)
{
	return rd(t, 8 + (uint64_t)i * t->ptr, t->ptr, v);
}

static bool parse_header(struct pcln *t, uint64_t text)
{
	uint64_t m;
	if (!rd(t, 0, 4, &m) || t->len < 16 || t->p[4] || t->p[5])
		return false;
	t->magic = (uint32_t)m;
	t->ptr = t->p[7];
	if (t->ptr != 4 && t->ptr != 8)
		return false;
	if (!word(t, 0, &t->nfunc))
		return false;
	switch (t->magic) {
	case GO_PCLN_12:
		t->names = 0;
		t->functab = 8 + t->ptr;
		return true;
	case GO_PCLN_116:
		return word(t, 2, &t->names) && word(t, 6, &t->functab);
	case GO_PCLN_118:
	case GO_PCLN_120:
		if (!word(t, 2, &t->text) || !word(t, 3, &t->names) || !word(t, 7, &t->functab))
			return false;
		if (!t->text) /* position-independent: relocated at load */
			t->text = text;
		return true;
	default:
		return false;
	}
}

/* Entry i of the function table: the function's address and where its
 * _func is. */
static bool functab(const struct pcln *t, uint64_t i, uint64_t *entry, uint64_t *func)
{
	bool u32 = t->magic == GO_PCLN_118 || t->magic == GO_PCLN_120;
	unsigned size = u32 ? 4 : t->ptr;
	uint64_t at = t->functab + i * 2 * size;
	if (!rd(t, at, size, entry) || !rd(t, at + size, size, func))
		return false;
	if (u32)
		*entry += t->text;
	/* the _func offset is from the function table (1.16+), or the table */
	*func += t->magic == GO_PCLN_12 ? 0 : t->functab;
	return true;
}

static const char *func_name(const struct pcln *t, uint64_t func)
{
	bool u32 = t->magic == GO_PCLN_118 || t->magic == GO_PCLN_120;
	uint64_t off;
	if (!rd(t, func + (u32 ? 4 : t->ptr), 4, &off))
		return NULL;
	off = t->names + (uint64_t)(int64_t)(int32_t)off;
	if (off >= t->len || !memchr(t->p + off, '\0', t->len - off))
		return NULL;
	return (const char *)t->p + off;
}

int go_pcln_lookup(const uint8_t *tab, size_t len, uint64_t text, const char *const *names,
                   size_t n, uint64_t *start, uint64_t *end)
{
	struct pcln t = {.p = tab, .len = len};
	memset(start, 0, n * sizeof(*start));
	memset(end, 0, n * sizeof(*end));
	if (!parse_header(&t, text) || t.nfunc > len)
		return -1;
	int found = 0;
	for (uint64_t i = 0; i < t.nfunc && (size_t)found < n; i++) {
		uint64_t entry, func, next, unused;
		if (!functab(&t, i, &entry, &func) || !functab(&t, i + 1, &next, &unused))
			break;
		const char *name = func_name(&t, func);
		if (!name)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (start[k] || strcmp(name, names[k]) != 0 || next <= entry)
				continue;
			start[k] = entry;
			end[k] = next;
			found++;
		}
	}
	return found;
}

/* A varint-prefixed string at *p (Go's encoding/binary.Uvarint). */
static bool uvarint_string(const uint8_t *p, size_t len, char *out, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	for (unsigned shift = 0; i < len && i < 10; shift += 7) {
		v |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			break;
	}
	if (!v || v >= n || v > len - i)
		return false;
	memcpy(out, p + i, v);
	out[v] = '\0';
	return true;
}

bool go_buildinfo_version(const uint8_t *p, size_t len, char *out, size_t n)
{
	static const char magic[] = "\xff Go buildinf:";
	if (len < 32 || memcmp(p, magic, 14) != 0)
		return false;
	if (!(p[15] & 2)) /* pointers to the strings: before Go 1.18 */
		return false;
	return uvarint_string(p + 32, len - 32, out, n) && strncmp(out, "go", 2) == 0;
}

static Elf_Scn *section_named(Elf *e, const char *name, GElf_Shdr *sh)
{
	size_t shstr;
	if (elf_getshdrstrndx(e, &shstr) != 0)
		return NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *s;
		if (gelf_getshdr(scn, sh) && (s = elf_strptr(e, shstr, sh->sh_name)) &&
		    strcmp(s, name) == 0)
			return scn;
	}
	return NULL;
}

static const uint8_t *section_data(Elf *e, const char *name, size_t *len, uint64_t *addr)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section_named(e, name, &sh);
	Elf_Data *d = scn && sh.sh_type == SHT_PROGBITS ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf)
		return NULL;
	*len = d->d_size;
	if (addr)
		*addr = sh.sh_addr;
	return d->d_buf;
}

/* n bytes at a virtual address, from the section holding them. */
static const uint8_t *bytes_at(Elf *e, uint64_t addr, uint64_t n)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || addr < sh.sh_addr ||
		    n > sh.sh_size || addr - sh.sh_addr > sh.sh_size - n)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (d && d->d_buf && d->d_size == sh.sh_size)
			return (const uint8_t *)d->d_buf + (addr - sh.sh_addr);
	}
	return NULL;
}

/* The pointer form of .go.buildinfo (Go 1.13 to 1.17): the address of a
 * string header {data, len} in the file's data. */
static bool old_buildinfo_version(Elf *e, const uint8_t *p, size_t len, char *out, size_t n)
{
	if (len < 32 || memcmp(p, "\xff Go buildinf:", 14) != 0 || p[14] != 8 || (p[15] & 2))
		return false;
	uint64_t hdr, str[2];
	memcpy(&hdr, p + 16, 8);
	const uint8_t *h = bytes_at(e, hdr, sizeof(str));
	if (!h)
		return false;
	memcpy(str, h, sizeof(str));
	const uint8_t *s = str[1] < n ? bytes_at(e, str[0], str[1]) : NULL;
	if (!s)
		return false;
	memcpy(out, s, str[1]);
	out[str[1]] = '\0';
	return strncmp(out, "go", 2) == 0;
}

/* go1.17 and later use the register ABI on amd64; "devel" builds too. */
static bool version_regabi(const char *v)
{
	unsigned major, minor;
	if (sscanf(v, "go%u.%u", &major, &minor) == 2)
		return major > 1 || minor >= 17;
	return strncmp(v, "devel", 5) == 0;
}

static void read_version(Elf *e, struct go_info *info)
{
	size_t len;
	const uint8_t *bi = section_data(e, ".go.buildinfo", &len, NULL);
	if (bi && !go_buildinfo_version(bi, len, info->version, sizeof(info->version)) &&
	    !old_buildinfo_version(e, bi, len, info->version, sizeof(info->version)))
		info->version[0] = '\0';
	if (info->version[0])
		info->regabi = version_regabi(info->version);
	else /* 1.16's layout is 1.17's too: without a version, assume the older */
		info->regabi = info->magic == GO_PCLN_118 || info->magic == GO_PCLN_120;
}

int go_func_ranges(const char *path, const char *const *names, size_t n, uint64_t *start,
                   uint64_t *end, struct go_info *info, struct elf_info *elf)
{
	struct go_info gi = {0};
	memset(start, 0, n * sizeof(*start));
	memset(end, 0, n * sizeof(*end));
	if (elf)
		memset(elf, 0, sizeof(*elf));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int found = -1;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) || eh.e_machine != EM_X86_64)
		goto out;
	size_t len;
	uint64_t text = 0;
	GElf_Shdr tsh;
	if (section_named(e, ".text", &tsh))
		text = tsh.sh_addr;
	/* PIE builds name it for the dynamic linker's relocations */
	const uint8_t *tab = section_data(e, ".gopclntab", &len, NULL);
	if (!tab)
		tab = section_data(e, ".data.rel.ro.gopclntab", &len, NULL);
	if (!tab || len < 8)
		goto out;
	memcpy(&gi.magic, tab, 4);
	uint64_t addr_start[ELF_MAX_FUNCS], addr_end[ELF_MAX_FUNCS];
	if (n > ELF_MAX_FUNCS)
		n = ELF_MAX_FUNCS;
	if (go_pcln_lookup(tab, len, text, names, n, addr_start, addr_end) < 0)
		goto out;
	read_version(e, &gi);
	if (elf)
		elf_read_info(e, elf);
	found = 0;
	for (size_t i = 0; i < n; i++) {
		if (!addr_start[i] || !elf_vaddr_to_offset(e, addr_start[i], &start[i]) ||
		    !elf_vaddr_to_offset(e, addr_end[i] - 1, &end[i])) {
			start[i] = end[i] = 0;
			continue;
		}
		end[i]++;
		found++;
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	if (info)
		*info = gi;
	return found;
}
